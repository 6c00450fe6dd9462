//! Reading what smtp-proto 0.2 does not read right, or takes silently: sizes too long to
//! count, and `MAIL FROM` parameters of extensions modtag does not offer.

#[derive(Debug, PartialEq)]
pub(super) enum Verb {
    Mail,
    Bdat,
}

/// smtp-proto 0.2 reads a number too long for `usize` by saturating and then starting over,
/// so `SIZE=99999999999999999999999` came out as a small size. Look at the digits first: a
/// `MAIL ... SIZE=` or `BDAT` size that does not fit a `u64` is answered as too big.
pub(super) fn oversized_number(line: &[u8]) -> Option<Verb> {
    let upper = line.to_ascii_uppercase();
    let (verb, digits) = if upper.starts_with(b"MAIL ") {
        let at = upper.windows(6).position(|w| w == b" SIZE=")?;
        (Verb::Mail, &upper[at + 6..])
    } else if upper.starts_with(b"BDAT ") {
        let rest = &upper[5..];
        let start = rest.iter().position(|b| *b != b' ')?;
        (Verb::Bdat, &rest[start..])
    } else {
        return None;
    };
    let n = digits.iter().take_while(|b| b.is_ascii_digit()).count();
    let fits = std::str::from_utf8(&digits[..n])
        .ok()
        .and_then(|d| d.parse::<u64>().ok())
        .is_some_and(|v| usize::try_from(v).is_ok());
    (n > 0 && !fits).then_some(verb)
}

/// A `MAIL FROM` parameter of an extension modtag does not offer, which RFC 5321 4.1.1.11
/// answers with 555 (as Postfix does): the client must not believe it was honoured, e.g.
/// REQUIRETLS for the onward delivery or a DSN it will never get.
pub(super) fn unoffered_mail_parameter(
    from: &smtp_proto::MailFrom<std::borrow::Cow<'_, str>>,
) -> Option<&'static str> {
    use smtp_proto::*;
    let flags = [
        (MAIL_BODY_BINARYMIME, "BODY=BINARYMIME"),
        (MAIL_RET_FULL | MAIL_RET_HDRS, "RET"),
        (MAIL_REQUIRETLS, "REQUIRETLS"),
        (MAIL_CONPERM, "CONPERM"),
        (MAIL_BY_NOTIFY | MAIL_BY_RETURN | MAIL_BY_TRACE, "BY"),
    ];
    if let Some((_, name)) = flags.iter().find(|(bit, _)| from.flags & bit != 0) {
        return Some(name);
    }
    [
        (from.env_id.is_some(), "ENVID"),
        (from.auth.is_some(), "AUTH"),
        (from.by != 0, "BY"),
        (from.trans_id.is_some(), "TRANSID"),
        (from.solicit.is_some(), "SOLICIT"),
        (from.mtrk.is_some(), "MTRK"),
        (
            from.hold_for != 0 || from.hold_until != 0,
            "HOLDFOR/HOLDUNTIL",
        ),
        (from.mt_priority != 0, "MT-PRIORITY"),
    ]
    .into_iter()
    .find_map(|(set, name)| set.then_some(name))
}
