//! The `AuthnRequest` and its HTTP-Redirect binding (SAML bindings §3.4): the request,
//! DEFLATE-compressed and base64-encoded in the query, the query signed with the service
//! provider's key (RSA-SHA256), as OIOSAML 3 requires. It asks for a professional identity
//! (MitID Erhverv) at NSIS level "Substantial" at least.

use std::io::Write as _;

use base64::Engine as _;
use rsa::signature::{SignatureEncoding as _, Signer as _};

use super::metadata::{xml_attr, ASSERTION, POST, PROTOCOL};

pub const SIG_ALG: &str = "http://www.w3.org/2001/04/xmldsig-more#rsa-sha256";
/// OIOSAML 3's authentication context class references for the identity type and level.
pub const PROFESSIONAL: &str = "https://data.gov.dk/eid/Professional";
pub const SUBSTANTIAL: &str = "https://data.gov.dk/concept/core/nsis/loa/Substantial";

/// The request's XML.
pub fn authn_request(
    id: &str,
    now: jiff::Timestamp,
    issuer: &str,
    acs: &str,
    destination: &str,
) -> String {
    format!(
        "<samlp:AuthnRequest xmlns:samlp=\"{PROTOCOL}\" xmlns:saml=\"{ASSERTION}\" ID=\"{id}\" \
         Version=\"2.0\" IssueInstant=\"{now}\" Destination=\"{destination}\" \
         AssertionConsumerServiceURL=\"{acs}\" ProtocolBinding=\"{POST}\">\
         <saml:Issuer>{issuer}</saml:Issuer>\
         <samlp:RequestedAuthnContext Comparison=\"minimum\">\
         <saml:AuthnContextClassRef>{SUBSTANTIAL}</saml:AuthnContextClassRef>\
         <saml:AuthnContextClassRef>{PROFESSIONAL}</saml:AuthnContextClassRef>\
         </samlp:RequestedAuthnContext></samlp:AuthnRequest>",
        now = now.strftime("%Y-%m-%dT%H:%M:%SZ"),
        destination = xml_attr(destination),
        acs = xml_attr(acs),
        issuer = xml_attr(issuer),
    )
}

/// The address the browser is sent to: the IdP's, with the request, the relay state, the
/// algorithm and the signature over exactly those three as they stand in the query.
pub fn redirect(sso: &str, request: &str, relay_state: &str, key: &rsa::RsaPrivateKey) -> String {
    let mut deflate = flate2::write::DeflateEncoder::new(Vec::new(), flate2::Compression::best());
    deflate
        .write_all(request.as_bytes())
        .expect("writing to memory");
    let compressed = deflate.finish().expect("writing to memory");
    let encoded = base64::engine::general_purpose::STANDARD.encode(compressed);
    let signed = format!(
        "SAMLRequest={}&RelayState={}&SigAlg={}",
        percent(&encoded),
        percent(relay_state),
        percent(SIG_ALG)
    );
    let signer = rsa::pkcs1v15::SigningKey::<sha2::Sha256>::new(key.clone());
    let signature = signer.sign(signed.as_bytes()).to_vec();
    let signature = base64::engine::general_purpose::STANDARD.encode(signature);
    let join = if sso.contains('?') { '&' } else { '?' };
    format!("{sso}{join}{signed}&Signature={}", percent(&signature))
}

/// Percent-encoding of everything but RFC 3986's unreserved characters.
fn percent(s: &str) -> String {
    let mut out = String::with_capacity(s.len() * 3 / 2);
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || b"-._~".contains(&b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use base64::Engine as _;
    use rsa::signature::Verifier as _;

    #[test]
    fn the_redirect_carries_a_signature_over_the_query_as_sent() {
        let key = rsa::RsaPrivateKey::new(&mut rand::thread_rng(), 1024).unwrap();
        let xml = super::authn_request(
            "_abc",
            "2026-12-06T10:00:00Z".parse().unwrap(),
            "https://sp/saml/metadata",
            "https://sp/saml/acs",
            "https://idp/sso",
        );
        let url = super::redirect("https://idp/sso", &xml, "r+1", &key);
        let query = url.strip_prefix("https://idp/sso?").unwrap();
        let (signed, signature) = query.split_once("&Signature=").unwrap();
        assert!(signed.contains("&RelayState=r%2B1&SigAlg=http%3A%2F%2F"));
        let signature = signature
            .replace("%2B", "+")
            .replace("%2F", "/")
            .replace("%3D", "=");
        let signature = base64::engine::general_purpose::STANDARD
            .decode(signature)
            .unwrap();
        let verifier = rsa::pkcs1v15::VerifyingKey::<sha2::Sha256>::new(key.to_public_key());
        let signature = rsa::pkcs1v15::Signature::try_from(signature.as_slice()).unwrap();
        verifier.verify(signed.as_bytes(), &signature).unwrap();
        assert!(xml.contains(super::PROFESSIONAL) && xml.contains(super::SUBSTANTIAL));
    }
}
