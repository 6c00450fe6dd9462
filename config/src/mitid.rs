//! `[public.mitid_erhverv]`: the public forms' sign-in with MitID Erhverv through NemLog-in
//! (OIOSAML 3, issue 30). modtag is a SAML service provider: NemLog-in's metadata is a file
//! the kommune downloads from NemLog-in's administration portal, and the service provider's
//! two key pairs (signing the request, decrypting the assertion) are the kommune's OCES3
//! certificates, their secret halves files only modtag reads (0600) or systemd credentials.
//! Named here, read by `modtag-intake` at start; this crate never opens them.

use serde::Deserialize;

#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MitIdErhverv {
    /// NemLog-in's IdP metadata (XML), relative to the configuration file.
    pub idp_metadata: String,
    /// This service provider's entity id as registered with NemLog-in. Left out: the forms'
    /// address followed by `/saml/metadata` (where modtag serves its metadata).
    #[serde(default)]
    pub entity_id: Option<String>,
    /// The key that signs the `AuthnRequest` (PEM, RSA): `credential:NAME` or a path, 0600.
    pub signing_key: String,
    /// Its certificate (PEM), published in the metadata.
    pub signing_certificate: String,
    /// The key NemLog-in encrypts the assertion to, likewise.
    pub encryption_key: String,
    pub encryption_certificate: String,
    /// Send sikkert: `required` (the form asks for the sign-in first, and the institution
    /// is the one MitID Erhverv names) or `offered` (typed details stay possible, and say so).
    #[serde(default = "required")]
    pub send_sikkert: Use,
    /// The underretning form: `offered` to professionals (a citizen has no MitID Erhverv),
    /// or `off`, the default.
    #[serde(default = "off")]
    pub underretning: Offer,
    /// Seconds the IdP's clock and modtag's may differ when an assertion's validity is
    /// checked.
    #[serde(default = "default_skew")]
    pub max_clock_skew_secs: u64,
    /// Minutes a sign-in lasts for the forms, at most (NemLog-in's session may end sooner).
    #[serde(default = "default_minutes")]
    pub session_minutes: u64,
    /// The `xmlsec1` program (Debian's `xmlsec1`) that checks signatures and decrypts.
    #[serde(default = "default_xmlsec1")]
    pub xmlsec1: String,
}

/// Whether Send sikkert asks for the sign-in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Use {
    Required,
    Offered,
}

/// Whether the underretning form offers the sign-in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Offer {
    Offered,
    Off,
}

fn off() -> Offer {
    Offer::Off
}

fn required() -> Use {
    Use::Required
}
fn default_skew() -> u64 {
    180
}
fn default_minutes() -> u64 {
    60
}
fn default_xmlsec1() -> String {
    "xmlsec1".into()
}
