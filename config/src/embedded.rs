//! The demo configuration compiled into the binary, so that `modtag serve` runs on a fresh
//! machine with no file written first. The files themselves live in `deploy/demo/`, where
//! an administrator can copy them as a starting point (`modtag config template`).

macro_rules! embedded_files {
    ($($name:literal),* $(,)?) => {
        /// The embedded file at `name` (a path relative to `deploy/demo/`), if any.
        pub fn file(name: &str) -> Option<&'static str> {
            match name {
                $($name => Some(include_str!(concat!("../../deploy/demo/", $name))),)*
                _ => None,
            }
        }
    };
}

embedded_files![
    "modtag.toml",
    "logo.svg",
    "directory.toml",
    "beslutningstrae.toml",
    "keys/modtagelsen.cert.asc",
    "keys/modtagelsen-leder.cert.asc",
    "keys/doegnvagt.cert.asc",
    "keys/journalen.cert.asc",
    "keys/raadgiver-anna.cert.asc",
    "keys/raadgiver-bo.cert.asc",
    "keys/leder-solsikken.cert.asc",
    "keys/leder-bakkeskolen.cert.asc",
    "keys/leder-friskolen.cert.asc",
    "keys/boerneskoleraadgivere.cert.asc",
    "keys/leder-ppr.cert.asc",
    "keys/leder-dagpleje.cert.asc",
    "keys/leder-sundhedspleje.cert.asc",
    "keys/distriktsinstitutionsleder.cert.asc",
    "keys/leder-paedagogiske-vejledere.cert.asc",
    "keys/distriktsskoleleder.cert.asc",
    "keys/leder-boerneskoleraadgivere.cert.asc",
    "keys/leder-uu.cert.asc",
    "keys/leder-fritid.cert.asc",
    "keys/leder-dagplejen-nord.cert.asc",
    "keys/auditor.cert.asc",
    "keys/leder-mariehoenen.cert.asc",
];

/// The embedded main configuration.
pub fn main_config() -> &'static str {
    file("modtag.toml").expect("modtag.toml is embedded")
}

/// What the relay line of the embedded default says, and what a template says instead.
const DEMO_RELAY_TLS: &str = "tls = \"none\"\n";
const TEMPLATE_RELAY_TLS: &str =
    "tls = \"starttls\"   # required for any relay off this machine (the embedded demo's loopback relay uses \"none\")\n";

/// The starting point for an administrator's own configuration (`modtag config template`):
/// the embedded default, with STARTTLS required of the relay.
pub fn template() -> String {
    main_config().replacen(DEMO_RELAY_TLS, TEMPLATE_RELAY_TLS, 1)
}
