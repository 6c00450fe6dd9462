//! The shape checks that stand between a response and what modtag reads of it. The
//! signatures themselves are checked by `xmlsec1` against a real IdP in `tests/e2e/mitid.rs`.

use super::{check_signature_shape, isolate, read, Expected, Refusal};

const SAMLP: &str = "urn:oasis:names:tc:SAML:2.0:protocol";
const SAML: &str = "urn:oasis:names:tc:SAML:2.0:assertion";

fn signature(reference: &str, extra_transform: &str) -> String {
    format!(
        "<ds:Signature xmlns:ds=\"http://www.w3.org/2000/09/xmldsig#\"><ds:SignedInfo>\
         <ds:CanonicalizationMethod Algorithm=\"http://www.w3.org/2001/10/xml-exc-c14n#\"/>\
         <ds:SignatureMethod Algorithm=\"http://www.w3.org/2001/04/xmldsig-more#rsa-sha256\"/>\
         <ds:Reference URI=\"{reference}\"><ds:Transforms>\
         <ds:Transform Algorithm=\"http://www.w3.org/2000/09/xmldsig#enveloped-signature\"/>\
         <ds:Transform Algorithm=\"http://www.w3.org/2001/10/xml-exc-c14n#\"/>{extra_transform}\
         </ds:Transforms><ds:DigestMethod Algorithm=\"http://www.w3.org/2001/04/xmlenc#sha256\"/>\
         <ds:DigestValue>AA==</ds:DigestValue></ds:Reference></ds:SignedInfo>\
         <ds:SignatureValue>AA==</ds:SignatureValue><ds:KeyInfo><ds:KeyValue>attacker's key\
         </ds:KeyValue></ds:KeyInfo></ds:Signature>"
    )
}

fn attribute(name: &str, value: &str) -> String {
    format!(
        "<saml:Attribute Name=\"https://data.gov.dk/{name}\"><saml:AttributeValue>{value}\
         </saml:AttributeValue></saml:Attribute>"
    )
}

fn assertion(id: &str, sig: &str, audience: &str, not_after: &str, loa: &str) -> String {
    format!(
        "<saml:Assertion ID=\"{id}\" Version=\"2.0\"><saml:Issuer>https://idp</saml:Issuer>{sig}\
         <saml:Subject><saml:SubjectConfirmation Method=\"urn:oasis:names:tc:SAML:2.0:cm:bearer\">\
         <saml:SubjectConfirmationData Recipient=\"https://sp/saml/acs\" InResponseTo=\"_req\" \
         NotOnOrAfter=\"{not_after}\"/></saml:SubjectConfirmation></saml:Subject>\
         <saml:Conditions NotBefore=\"2026-12-06T09:59:00Z\" NotOnOrAfter=\"{not_after}\">\
         <saml:AudienceRestriction><saml:Audience>{audience}</saml:Audience>\
         </saml:AudienceRestriction></saml:Conditions>\
         <saml:AuthnStatement AuthnInstant=\"2026-12-06T09:59:00Z\"/><saml:AttributeStatement>\
         {}{}{}{}{}</saml:AttributeStatement></saml:Assertion>",
        attribute("concept/core/nsis/loa", loa),
        attribute("model/core/eid/fullName", "Susanne Møller"),
        attribute("model/core/eid/professional/cvr", "13585628"),
        attribute("model/core/eid/professional/orgName", "Friskolen"),
        attribute("model/core/specVersion", "OIO-SAML-3.0"),
    )
}

fn response(inner: &str) -> String {
    format!(
        "<samlp:Response xmlns:samlp=\"{SAMLP}\" xmlns:saml=\"{SAML}\" ID=\"_r\" Version=\"2.0\" \
         InResponseTo=\"_req\"><saml:EncryptedAssertion>{inner}</saml:EncryptedAssertion>\
         </samlp:Response>"
    )
}

fn want() -> Expected<'static> {
    Expected {
        request_id: "_req",
        acs: "https://sp/saml/acs",
        audience: "https://sp/saml/metadata",
        idp: "https://idp",
        now: "2026-12-06T10:00:00Z".parse().unwrap(),
        skew: jiff::SignedDuration::from_secs(180),
    }
}

fn good(id: &str) -> String {
    assertion(
        id,
        &signature(&format!("#{id}"), ""),
        "https://sp/saml/metadata",
        "2026-12-06T10:05:00Z",
        "Substantial",
    )
}

#[test]
fn the_assertion_stands_alone_with_its_namespaces_and_without_key_info() {
    let isolated = isolate(&response(&good("_a"))).unwrap();
    assert!(
        isolated.contains(&format!("xmlns:saml=\"{SAML}\"")),
        "{isolated}"
    );
    assert!(!isolated.contains("KeyInfo") && !isolated.contains("attacker"));
    check_signature_shape(&isolated).unwrap();
    let person = read(&isolated, &want()).unwrap();
    assert_eq!(
        (
            person.name.as_str(),
            person.cvr.as_str(),
            person.organisation.as_str()
        ),
        ("Susanne Møller", "13585628", "Friskolen")
    );
    assert_eq!(person.level, "Substantial");
}

#[test]
fn wrapped_and_reshaped_signatures_are_refused() {
    // A second assertion beside the signed one (signature wrapping).
    let two = response(&format!("{}{}", good("_a"), good("_b")));
    assert_eq!(isolate(&two), Err(Refusal::NotEncrypted));
    // An assertion outside the encrypted one.
    let outside = format!(
        "<samlp:Response xmlns:samlp=\"{SAMLP}\" xmlns:saml=\"{SAML}\">{}</samlp:Response>",
        good("_a")
    );
    assert_eq!(isolate(&outside), Err(Refusal::NotEncrypted));
    // A reference to something else than the assertion.
    let elsewhere = response(&assertion(
        "_a",
        &signature("#_other", ""),
        "https://sp/saml/metadata",
        "2026-12-06T10:05:00Z",
        "Substantial",
    ));
    assert_eq!(
        check_signature_shape(&isolate(&elsewhere).unwrap()),
        Err(Refusal::NotSigned)
    );
    // A transform beyond the two (XSLT, XPath) is never run.
    let xslt = response(&assertion(
        "_a",
        &signature(
            "#_a",
            "<ds:Transform Algorithm=\"http://www.w3.org/TR/1999/REC-xslt-19991116\"/>",
        ),
        "https://sp/saml/metadata",
        "2026-12-06T10:05:00Z",
        "Substantial",
    ));
    assert_eq!(
        check_signature_shape(&isolate(&xslt).unwrap()),
        Err(Refusal::NotSigned)
    );
    // No signature at all.
    let unsigned = response(&assertion(
        "_a",
        "",
        "https://sp/saml/metadata",
        "2026-12-06T10:05:00Z",
        "Substantial",
    ));
    assert_eq!(
        check_signature_shape(&isolate(&unsigned).unwrap()),
        Err(Refusal::NotSigned)
    );
    // A DTD (entity expansion) is not read at all.
    let dtd = format!("<!DOCTYPE r [<!ENTITY x \"y\">]>{}", response(&good("_a")));
    assert_eq!(isolate(&dtd), Err(Refusal::Malformed));
}

#[test]
fn audience_time_and_level_are_checked() {
    let with = |audience: &str, until: &str, loa: &str| {
        let a = assertion("_a", &signature("#_a", ""), audience, until, loa);
        read(&isolate(&response(&a)).unwrap(), &want())
    };
    let ok = "2026-12-06T10:05:00Z";
    assert!(with("https://sp/saml/metadata", ok, "High").is_ok());
    assert_eq!(
        with("https://other", ok, "Substantial"),
        Err(Refusal::NotOurs)
    );
    assert_eq!(
        with(
            "https://sp/saml/metadata",
            "2026-12-06T09:50:00Z",
            "Substantial"
        ),
        Err(Refusal::Expired)
    );
    // Within the clock skew it still counts.
    assert!(with(
        "https://sp/saml/metadata",
        "2026-12-06T09:58:00Z",
        "Substantial"
    )
    .is_ok());
    assert_eq!(
        with("https://sp/saml/metadata", ok, "Low"),
        Err(Refusal::LowLevel)
    );
    let mut other_request = want();
    other_request.request_id = "_another";
    let a = isolate(&response(&good("_a"))).unwrap();
    assert_eq!(read(&a, &other_request), Err(Refusal::NotOurs));
}

#[test]
fn a_comment_in_a_signed_value_is_refused() {
    // Exclusive canonicalisation without comments does not sign them: a holder of a signed
    // assertion could otherwise change what a value reads as.
    let a = good("_a").replace(
        "Friskolen</saml:AttributeValue>",
        "Friskolen<!-- og en anden skole --></saml:AttributeValue>",
    );
    assert!(a.contains("<!--"));
    let isolated = isolate(&response(&a)).unwrap();
    assert_eq!(check_signature_shape(&isolated), Err(Refusal::NotSigned));
}
