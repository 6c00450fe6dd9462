//! The ACS's check of a SAML response (OIOSAML 3, SAML core §§2–3, profiles §4.1.4.3):
//! only a signed assertion from the configured IdP, encrypted to modtag, for this service
//! provider, answering the request this browser started, within its validity, once, at
//! NSIS level "Substantial" or "High", for a professional identity (a CVR).
//!
//! Against signature wrapping: the assertion is taken out of the decrypted response into a
//! document of its own (its namespaces kept, its `KeyInfo` removed), that document is the
//! one `xmlsec1` verifies, and every value is read from that same document afterwards. The
//! document has one assertion, one signature as the assertion's child, one reference to the
//! assertion's `ID` (which nothing else in it carries), and only the transforms exclusive
//! canonicalisation and enveloped-signature.

use jiff::{SignedDuration, Timestamp};
use roxmltree::{Document, Node};

use super::metadata::{attribute, xml_attr, ASSERTION, DSIG, PROTOCOL};

/// The most a response may be, decoded (NemLog-in's are a few kilobytes).
pub const MAX_RESPONSE: usize = 256 * 1024;

/// Why a response was refused: for the log (no personal data) and, in Danish, for the page.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refusal {
    /// Not base64, not XML, a DTD, too large, or not a SAML response.
    Malformed,
    /// The IdP answered with another status than success (the person cancelled, say).
    NotSuccess,
    /// The response or assertion is for another request, service provider or address.
    NotOurs,
    /// The assertion was not encrypted to modtag, or could not be decrypted.
    NotEncrypted,
    /// No signature, another signer than the IdP's metadata names, or a signature that
    /// does not cover what it must.
    NotSigned,
    /// Outside its validity window.
    Expired,
    /// Its id was used before.
    Replayed,
    /// Below NSIS "Substantial".
    LowLevel,
    /// Not a professional identity: no CVR or organisation.
    NotProfessional,
    /// `xmlsec1` could not run.
    Unavailable,
}

impl Refusal {
    /// For the log.
    pub fn code(self) -> &'static str {
        match self {
            Refusal::Malformed => "malformed",
            Refusal::NotSuccess => "not_success",
            Refusal::NotOurs => "not_ours",
            Refusal::NotEncrypted => "not_encrypted",
            Refusal::NotSigned => "not_signed",
            Refusal::Expired => "expired",
            Refusal::Replayed => "replayed",
            Refusal::LowLevel => "low_level",
            Refusal::NotProfessional => "not_professional",
            Refusal::Unavailable => "unavailable",
        }
    }

    /// What the person is told.
    pub fn words(self) -> &'static str {
        match self {
            Refusal::NotSuccess => "Log-ind blev afbrudt. Prøv igen, når du er klar.",
            Refusal::Expired | Refusal::Replayed => {
                "Log-ind var udløbet eller allerede brugt. Log ind igen."
            }
            Refusal::LowLevel => {
                "Log-ind skal være på sikringsniveau betydelig. Log ind igen med MitID Erhverv."
            }
            Refusal::NotProfessional => {
                "Log ind med MitID Erhverv som medarbejder i institutionen, ikke med dit private MitID."
            }
            Refusal::Unavailable => "Log-ind kan ikke tjekkes lige nu. Prøv igen om lidt.",
            _ => "Log-ind kunne ikke godkendes. Log ind igen.",
        }
    }
}

/// What the response must answer.
pub struct Expected<'a> {
    pub request_id: &'a str,
    pub acs: &'a str,
    pub audience: &'a str,
    pub idp: &'a str,
    pub now: Timestamp,
    pub skew: SignedDuration,
}

/// A professional NemLog-in signed in.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Professional {
    pub name: String,
    pub cvr: String,
    pub organisation: String,
    pub email: Option<String>,
    pub level: String,
    pub assertion_id: String,
    /// Until when the assertion may be used at all (its id is remembered until then).
    pub valid_until: Timestamp,
}

impl Professional {
    /// Who signed in, as the intake keeps it (a form submitted at `at`).
    pub fn signed_in(self, at: Timestamp) -> modtag_storage::records::SignedIn {
        modtag_storage::records::SignedIn {
            name: self.name,
            cvr: self.cvr,
            organisation: self.organisation,
            email: self.email,
            level: self.level,
            at,
        }
    }
}

/// The response's outer checks: success, for this request and address, from the IdP.
/// Returns whether its assertion is encrypted.
pub fn check_outer(doc: &Document, want: &Expected) -> Result<(), Refusal> {
    let root = doc.root_element();
    if !root.has_tag_name((PROTOCOL, "Response")) || root.attribute("Version") != Some("2.0") {
        return Err(Refusal::Malformed);
    }
    if root.attribute("InResponseTo") != Some(want.request_id)
        || root.attribute("Destination").is_some_and(|d| d != want.acs)
    {
        return Err(Refusal::NotOurs);
    }
    if let Some(issuer) = child(root, ASSERTION, "Issuer") {
        if issuer.text().map(str::trim) != Some(want.idp) {
            return Err(Refusal::NotOurs);
        }
    }
    let status = child(root, PROTOCOL, "Status")
        .and_then(|s| child(s, PROTOCOL, "StatusCode"))
        .and_then(|c| c.attribute("Value"));
    if status != Some("urn:oasis:names:tc:SAML:2.0:status:Success") {
        return Err(Refusal::NotSuccess);
    }
    // OIOSAML 3: the assertion is always encrypted; a clear one is refused.
    let assertions = root.children().filter(|c| c.is_element()).filter(|c| {
        c.has_tag_name((ASSERTION, "Assertion"))
            || c.has_tag_name((ASSERTION, "EncryptedAssertion"))
    });
    let encrypted: Vec<_> = assertions.collect();
    match encrypted.as_slice() {
        [one] if one.has_tag_name((ASSERTION, "EncryptedAssertion")) => Ok(()),
        _ => Err(Refusal::NotEncrypted),
    }
}

/// From the decrypted response, the one assertion as a document of its own (see the
/// module's comment), ready for `xmlsec1` and then for [`read`].
pub fn isolate(decrypted: &str) -> Result<String, Refusal> {
    let doc = parse(decrypted)?;
    let mut assertions = doc
        .descendants()
        .filter(|n| n.has_tag_name((ASSERTION, "Assertion")));
    let (Some(assertion), None) = (assertions.next(), assertions.next()) else {
        return Err(Refusal::NotEncrypted);
    };
    let parent = assertion.parent_element().ok_or(Refusal::Malformed)?;
    if !parent.has_tag_name((ASSERTION, "EncryptedAssertion"))
        || parent.parent_element() != Some(doc.root_element())
    {
        return Err(Refusal::NotEncrypted);
    }
    let range = assertion.range();
    let mut text = decrypted[range.clone()].to_string();
    // The KeyInfo is outside what is signed: removed, the key is the metadata's alone.
    let key_infos: Vec<_> = assertion
        .descendants()
        .filter(|n| n.has_tag_name((DSIG, "KeyInfo")))
        .map(|n| n.range())
        .collect();
    for r in key_infos.iter().rev() {
        text.replace_range(r.start - range.start..r.end - range.start, "");
    }
    let declarations: String = parent
        .namespaces()
        .filter(|ns| ns.name() != Some("xml"))
        .map(|ns| match ns.name() {
            Some(prefix) => format!(" xmlns:{prefix}=\"{}\"", xml_attr(ns.uri())),
            None => format!(" xmlns=\"{}\"", xml_attr(ns.uri())),
        })
        .collect();
    Ok(format!(
        "<modtag:assertion xmlns:modtag=\"urn:modtag:saml\"{declarations}>{text}</modtag:assertion>"
    ))
}

/// The signature's shape in the isolated document: one, the assertion's child, over the
/// assertion by its unique `ID`, with only the expected algorithms.
pub fn check_signature_shape(isolated: &str) -> Result<(), Refusal> {
    let doc = parse(isolated)?;
    // A comment is outside what exclusive canonicalisation signs: inside a signed value it
    // would change what is read without breaking the signature. None is taken.
    if doc.descendants().any(|n| n.is_comment() || n.is_pi()) {
        return Err(Refusal::NotSigned);
    }
    let assertion = child(doc.root_element(), ASSERTION, "Assertion").ok_or(Refusal::Malformed)?;
    let id = assertion.attribute("ID").ok_or(Refusal::Malformed)?;
    let carrying_id = doc
        .descendants()
        .flat_map(|n| n.attributes())
        .filter(|a| a.name().eq_ignore_ascii_case("id") && a.value() == id)
        .count();
    let signatures: Vec<_> = doc
        .descendants()
        .filter(|n| n.has_tag_name((DSIG, "Signature")))
        .collect();
    let [signature] = signatures.as_slice() else {
        return Err(Refusal::NotSigned);
    };
    if carrying_id != 1 || signature.parent_element() != Some(assertion) {
        return Err(Refusal::NotSigned);
    }
    let info = child(*signature, DSIG, "SignedInfo").ok_or(Refusal::NotSigned)?;
    fn algorithm<'a>(n: Option<Node<'a, '_>>) -> Option<&'a str> {
        n.and_then(|n| n.attribute("Algorithm"))
    }
    const EXC_C14N: &str = "http://www.w3.org/2001/10/xml-exc-c14n#";
    const ENVELOPED: &str = "http://www.w3.org/2000/09/xmldsig#enveloped-signature";
    let c14n = algorithm(child(info, DSIG, "CanonicalizationMethod"));
    let method = algorithm(child(info, DSIG, "SignatureMethod"));
    let references: Vec<_> = info
        .children()
        .filter(|c| c.has_tag_name((DSIG, "Reference")))
        .collect();
    let [reference] = references.as_slice() else {
        return Err(Refusal::NotSigned);
    };
    let transforms: Vec<_> = child(*reference, DSIG, "Transforms")
        .map(|t| {
            t.children()
                .filter(|c| c.is_element())
                .map(|c| c.attribute("Algorithm").unwrap_or(""))
                .collect()
        })
        .unwrap_or_default();
    let digest = algorithm(child(*reference, DSIG, "DigestMethod"));
    let shape = c14n == Some(EXC_C14N)
        && method.is_some_and(|m| {
            [
                "http://www.w3.org/2001/04/xmldsig-more#rsa-sha256",
                "http://www.w3.org/2001/04/xmldsig-more#rsa-sha384",
                "http://www.w3.org/2001/04/xmldsig-more#rsa-sha512",
            ]
            .contains(&m)
        })
        && reference.attribute("URI") == Some(&format!("#{id}"))
        && transforms.contains(&ENVELOPED)
        && transforms.iter().all(|t| *t == ENVELOPED || *t == EXC_C14N)
        && digest.is_some_and(|d| {
            [
                "http://www.w3.org/2001/04/xmlenc#sha256",
                "http://www.w3.org/2001/04/xmldsig-more#sha384",
                "http://www.w3.org/2001/04/xmlenc#sha512",
            ]
            .contains(&d)
        });
    if shape {
        Ok(())
    } else {
        Err(Refusal::NotSigned)
    }
}

/// The assertion's conditions and attributes, read from the isolated document once its
/// signature verified.
pub fn read(isolated: &str, want: &Expected) -> Result<Professional, Refusal> {
    let doc = parse(isolated)?;
    let a = child(doc.root_element(), ASSERTION, "Assertion").ok_or(Refusal::Malformed)?;
    fn text<'a>(n: Option<Node<'a, '_>>) -> &'a str {
        n.and_then(|n| n.text()).map(str::trim).unwrap_or("")
    }
    if text(child(a, ASSERTION, "Issuer")) != want.idp {
        return Err(Refusal::NotOurs);
    }
    let time = |n: Node, name: &str| n.attribute(name).map(|t| t.parse::<Timestamp>());
    let (early, late) = (want.now + want.skew, want.now - want.skew);
    // The bearer confirmation: for this address and request, not yet expired.
    let confirmed = child(a, ASSERTION, "Subject")
        .into_iter()
        .flat_map(|s| s.children())
        .filter(|c| c.has_tag_name((ASSERTION, "SubjectConfirmation")))
        .filter(|c| c.attribute("Method") == Some("urn:oasis:names:tc:SAML:2.0:cm:bearer"))
        .filter_map(|c| child(c, ASSERTION, "SubjectConfirmationData"))
        .find(|d| {
            d.attribute("Recipient") == Some(want.acs)
                && d.attribute("InResponseTo")
                    .is_none_or(|r| r == want.request_id)
        })
        .ok_or(Refusal::NotOurs)?;
    let conditions = child(a, ASSERTION, "Conditions").ok_or(Refusal::NotOurs)?;
    let audiences_ok = conditions
        .children()
        .filter(|c| c.has_tag_name((ASSERTION, "AudienceRestriction")))
        .all(|r| {
            r.children()
                .filter(|c| c.has_tag_name((ASSERTION, "Audience")))
                .any(|c| text(Some(c)) == want.audience)
        });
    let restricted = conditions
        .children()
        .any(|c| c.has_tag_name((ASSERTION, "AudienceRestriction")));
    if !audiences_ok || !restricted {
        return Err(Refusal::NotOurs);
    }
    let mut valid_until = None;
    for (node, must) in [(conditions, true), (confirmed, true)] {
        match time(node, "NotOnOrAfter") {
            Some(Ok(t)) if t > late => valid_until = valid_until.min(Some(t)).or(Some(t)),
            None if !must => {}
            _ => return Err(Refusal::Expired),
        }
        match time(node, "NotBefore") {
            Some(Ok(t)) if t > early => return Err(Refusal::Expired),
            Some(Err(_)) => return Err(Refusal::Malformed),
            _ => {}
        }
    }
    let authn = child(a, ASSERTION, "AuthnStatement").ok_or(Refusal::NotOurs)?;
    if let Some(Ok(t)) = time(authn, "SessionNotOnOrAfter") {
        if t <= late {
            return Err(Refusal::Expired);
        }
    }
    let attributes = attributes(a);
    let value = |name: &str| {
        attributes
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
            .filter(|v| !v.is_empty())
    };
    if value(attribute::SPEC_VERSION).is_some_and(|v| v != "OIO-SAML-3.0") {
        return Err(Refusal::Malformed);
    }
    let level = value(attribute::LOA).unwrap_or("");
    if !["Substantial", "High"].contains(&level) {
        return Err(Refusal::LowLevel);
    }
    let cvr = value(attribute::CVR).unwrap_or("");
    let organisation = value(attribute::ORG_NAME).unwrap_or("");
    if !(cvr.len() == 8 && modtag_router::cvr::valid(cvr)) || organisation.is_empty() {
        return Err(Refusal::NotProfessional);
    }
    let name = match value(attribute::FULL_NAME) {
        Some(full) => full.to_string(),
        None => [value(attribute::FIRST_NAME), value(attribute::LAST_NAME)]
            .into_iter()
            .flatten()
            .collect::<Vec<_>>()
            .join(" "),
    };
    if name.is_empty() {
        return Err(Refusal::NotProfessional);
    }
    Ok(Professional {
        name,
        cvr: cvr.to_string(),
        organisation: organisation.to_string(),
        email: value(attribute::EMAIL)
            .filter(|e| e.contains('@') && e.len() <= 254)
            .map(str::to_string),
        level: level.to_string(),
        assertion_id: a.attribute("ID").unwrap_or_default().to_string(),
        valid_until: valid_until.ok_or(Refusal::Expired)?,
    })
}

/// Each attribute's name with its first value, from the assertion's attribute statements.
fn attributes(assertion: Node) -> Vec<(String, String)> {
    assertion
        .children()
        .filter(|c| c.has_tag_name((ASSERTION, "AttributeStatement")))
        .flat_map(|s| s.children())
        .filter(|c| c.has_tag_name((ASSERTION, "Attribute")))
        .filter_map(|attr| {
            let value = child(attr, ASSERTION, "AttributeValue")?;
            // Text only: a value with elements in it is not one modtag reads.
            if value.children().any(|c| !c.is_text()) {
                return None;
            }
            let text: String = value.children().filter_map(|t| t.text()).collect();
            Some((attr.attribute("Name")?.to_string(), text.trim().to_string()))
        })
        .collect()
}

fn child<'a, 'i>(n: Node<'a, 'i>, ns: &str, name: &str) -> Option<Node<'a, 'i>> {
    n.children().find(|c| c.has_tag_name((ns, name)))
}

/// XML without a DTD, within the size and depth a response may have (`crate::xml`).
pub fn parse(text: &str) -> Result<Document<'_>, Refusal> {
    crate::xml::parse(text, MAX_RESPONSE).ok_or(Refusal::Malformed)
}

#[cfg(test)]
mod tests;
