//! Whether a string is an e-mail address modtag could send to, by the same rules as the
//! outbox's SMTP client (lettre's `Address`): a valid local part, `@`, and a domain that is a
//! host name (also an internationalised one), or an IP literal. Kept here so the workflow
//! decides without the SMTP client; a test holds it to lettre's answer.

use std::net::IpAddr;

use email_address::EmailAddress;

/// `true` when `s` parses as lettre would parse it.
pub fn valid(s: &str) -> bool {
    let Some(at) = s.rfind('@') else {
        return false;
    };
    let (user, domain) = (&s[..at], &s[at + 1..]);
    EmailAddress::is_valid_local_part(user)
        && (ascii_domain(domain) || idna::domain_to_ascii(domain).is_ok_and(|d| ascii_domain(&d)))
}

fn ascii_domain(domain: &str) -> bool {
    if EmailAddress::is_valid_domain(domain) {
        return true;
    }
    let ip = domain
        .strip_prefix('[')
        .and_then(|ip| ip.strip_suffix(']'))
        .unwrap_or(domain);
    ip.parse::<IpAddr>().is_ok()
}

#[cfg(test)]
mod tests {
    /// The same answer as the SMTP client's parser, on ordinary and hostile input.
    #[test]
    fn valid_agrees_with_lettre() {
        for s in [
            "a@b.dk",
            "leder@friskolen.dk",
            "Leder+tag@Friskolen.DK",
            "\"quoted name\"@example.org",
            "x@[192.0.2.1]",
            "x@192.0.2.1",
            "x@[::1]",
            "børn@kommune.dk",
            "a@børnehave.dk",
            "a@b@c.dk",
            "@b.dk",
            "a@",
            "a",
            "",
            "a b@c.dk",
            "a@b..dk",
            "a@-b.dk",
            "<a@b.dk>",
            "a@b.dk\r\nBcc: x@y.dk",
            "a.@b.dk",
            ".a@b.dk",
            "a@b_c.dk",
        ] {
            assert_eq!(
                super::valid(s),
                s.parse::<lettre::Address>().is_ok(),
                "{s:?}"
            );
        }
    }
}
