//! SAML metadata: NemLog-in's, read from the file the kommune downloads (who signs, where
//! to send the person), and modtag's own, served at `/saml/metadata` for NemLog-in's
//! administration portal (OIOSAML 3: signed requests, signed and encrypted assertions,
//! the professional attributes it asks for).

pub const PROTOCOL: &str = "urn:oasis:names:tc:SAML:2.0:protocol";
pub const ASSERTION: &str = "urn:oasis:names:tc:SAML:2.0:assertion";
pub const METADATA: &str = "urn:oasis:names:tc:SAML:2.0:metadata";
pub const DSIG: &str = "http://www.w3.org/2000/09/xmldsig#";
pub const REDIRECT: &str = "urn:oasis:names:tc:SAML:2.0:bindings:HTTP-Redirect";
pub const POST: &str = "urn:oasis:names:tc:SAML:2.0:bindings:HTTP-POST";

/// Text for an XML attribute value (or element content).
pub fn xml_attr(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

/// What modtag needs of the identity provider.
#[derive(Debug, Clone)]
pub struct Idp {
    pub entity_id: String,
    /// Where the `AuthnRequest` goes (HTTP-Redirect binding).
    pub sso: String,
    /// The certificates (base64 DER) an assertion may be signed with (two during a
    /// rollover).
    pub signing_certificates: Vec<String>,
}

/// Reads NemLog-in's metadata: the first entity with an `IDPSSODescriptor`.
pub fn idp(xml: &str) -> Result<Idp, String> {
    let doc = crate::xml::parse(xml, 4 << 20)
        .ok_or("not XML metadata (well-formed, no DTD, at most 4 MiB)")?;
    let entity = doc
        .descendants()
        .find(|n| {
            n.has_tag_name((METADATA, "EntityDescriptor"))
                && n.children()
                    .any(|c| c.has_tag_name((METADATA, "IDPSSODescriptor")))
        })
        .ok_or("no EntityDescriptor with an IDPSSODescriptor")?;
    let entity_id = entity
        .attribute("entityID")
        .filter(|e| !e.is_empty())
        .ok_or("the EntityDescriptor has no entityID")?;
    let sso_descriptor = entity
        .children()
        .find(|c| c.has_tag_name((METADATA, "IDPSSODescriptor")))
        .expect("found above");
    let sso = sso_descriptor
        .children()
        .find(|c| {
            c.has_tag_name((METADATA, "SingleSignOnService"))
                && c.attribute("Binding") == Some(REDIRECT)
        })
        .and_then(|c| c.attribute("Location"))
        .ok_or("no SingleSignOnService with the HTTP-Redirect binding")?;
    let signing_certificates: Vec<String> = sso_descriptor
        .children()
        .filter(|c| {
            c.has_tag_name((METADATA, "KeyDescriptor"))
                && c.attribute("use").is_none_or(|u| u == "signing")
        })
        .flat_map(|k| k.descendants())
        .filter(|n| n.has_tag_name((DSIG, "X509Certificate")))
        .filter_map(|n| n.text())
        .map(|t| t.chars().filter(|c| !c.is_whitespace()).collect::<String>())
        .filter(|t| !t.is_empty())
        .collect();
    if signing_certificates.is_empty() {
        return Err("no signing certificate (KeyDescriptor use=\"signing\")".into());
    }
    if !(sso.starts_with("https://") || sso.starts_with("http://127.0.0.1")) {
        return Err(format!(
            "the SingleSignOnService location {sso:?} is not an https:// address"
        ));
    }
    Ok(Idp {
        entity_id: entity_id.to_string(),
        sso: sso.to_string(),
        signing_certificates,
    })
}

/// The OIOSAML 3 attributes modtag asks for and reads.
pub mod attribute {
    pub const SPEC_VERSION: &str = "https://data.gov.dk/model/core/specVersion";
    pub const LOA: &str = "https://data.gov.dk/concept/core/nsis/loa";
    pub const FULL_NAME: &str = "https://data.gov.dk/model/core/eid/fullName";
    pub const FIRST_NAME: &str = "https://data.gov.dk/model/core/eid/firstName";
    pub const LAST_NAME: &str = "https://data.gov.dk/model/core/eid/lastName";
    pub const EMAIL: &str = "https://data.gov.dk/model/core/eid/email";
    pub const CVR: &str = "https://data.gov.dk/model/core/eid/professional/cvr";
    pub const ORG_NAME: &str = "https://data.gov.dk/model/core/eid/professional/orgName";
}

/// modtag's service provider metadata.
pub fn service_provider(entity_id: &str, acs: &str, signing: &str, encryption: &str) -> String {
    use attribute::*;
    let key = |usage: &str, cert: &str, method: &str| {
        format!(
            "<md:KeyDescriptor use=\"{usage}\"><ds:KeyInfo><ds:X509Data><ds:X509Certificate>{cert}\
             </ds:X509Certificate></ds:X509Data></ds:KeyInfo>{method}</md:KeyDescriptor>"
        )
    };
    let requested: String = [
        (SPEC_VERSION, true),
        (LOA, true),
        (FULL_NAME, true),
        (CVR, true),
        (ORG_NAME, true),
        (EMAIL, false),
    ]
    .iter()
    .map(|(name, required)| {
        format!(
            "<md:RequestedAttribute Name=\"{name}\" \
             NameFormat=\"urn:oasis:names:tc:SAML:2.0:attrname-format:uri\" isRequired=\"{required}\"/>"
        )
    })
    .collect();
    format!(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n\
         <md:EntityDescriptor xmlns:md=\"{METADATA}\" xmlns:ds=\"{DSIG}\" entityID=\"{entity}\">\
         <md:SPSSODescriptor AuthnRequestsSigned=\"true\" WantAssertionsSigned=\"true\" \
         protocolSupportEnumeration=\"{PROTOCOL}\">{signing}{encryption}\
         <md:NameIDFormat>urn:oasis:names:tc:SAML:2.0:nameid-format:persistent</md:NameIDFormat>\
         <md:AssertionConsumerService Binding=\"{POST}\" Location=\"{acs}\" index=\"0\" isDefault=\"true\"/>\
         <md:AttributeConsumingService index=\"0\" isDefault=\"true\">\
         <md:ServiceName xml:lang=\"da\">modtag: Send sikkert og underretninger</md:ServiceName>\
         {requested}</md:AttributeConsumingService>\
         </md:SPSSODescriptor></md:EntityDescriptor>\n",
        entity = xml_attr(entity_id),
        acs = xml_attr(acs),
        signing = key("signing", signing, ""),
        encryption = key(
            "encryption",
            encryption,
            "<md:EncryptionMethod Algorithm=\"http://www.w3.org/2009/xmlenc11#aes256-gcm\"/>"
        ),
    )
}

#[cfg(test)]
mod tests {
    #[test]
    fn reads_the_idp_and_refuses_what_is_missing() {
        let meta = |sso: &str, keys: &str| {
            format!(
                "<EntityDescriptor xmlns=\"urn:oasis:names:tc:SAML:2.0:metadata\" \
                 xmlns:ds=\"http://www.w3.org/2000/09/xmldsig#\" entityID=\"https://idp\">\
                 <IDPSSODescriptor protocolSupportEnumeration=\"urn:oasis:names:tc:SAML:2.0:protocol\">\
                 {keys}<SingleSignOnService Binding=\"urn:oasis:names:tc:SAML:2.0:bindings:HTTP-Redirect\" \
                 Location=\"{sso}\"/></IDPSSODescriptor></EntityDescriptor>"
            )
        };
        let key = |usage: &str| {
            format!(
                "<KeyDescriptor use=\"{usage}\"><ds:KeyInfo><ds:X509Data><ds:X509Certificate>\n\
                 QUJD\nREVG\n</ds:X509Certificate></ds:X509Data></ds:KeyInfo></KeyDescriptor>"
            )
        };
        let idp = super::idp(&meta("https://idp/sso", &key("signing"))).unwrap();
        assert_eq!(idp.entity_id, "https://idp");
        assert_eq!(idp.sso, "https://idp/sso");
        assert_eq!(idp.signing_certificates, vec!["QUJDREVG".to_string()]);
        let only_encryption = super::idp(&meta("https://idp/sso", &key("encryption")));
        assert!(only_encryption.unwrap_err().contains("signing certificate"));
        let plain = super::idp(&meta("http://idp.example/sso", &key("signing")));
        assert!(plain.unwrap_err().contains("https://"));
        let dtd = "<!DOCTYPE x [<!ENTITY a \"b\">]><x>&a;</x>";
        assert!(super::idp(dtd).is_err());
    }
}
