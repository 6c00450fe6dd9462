//! A real OpenID provider for the sign-in tests.

use std::net::SocketAddr;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use crate::{free_port, http_get, root, wait_for};

/// panva's `oidc-provider` on loopback (`tests/oidc/provider.mjs`, installed there by
/// `npm ci`), with one client registered.
pub struct OpenIdProvider {
    pub issuer: String,
    child: Child,
}

impl OpenIdProvider {
    pub fn start(client_id: &str, secret: &str, redirect_uri: &str) -> OpenIdProvider {
        let dir = root().join("tests/oidc");
        assert!(
            dir.join("node_modules/oidc-provider").exists(),
            "the OpenID provider is not installed: run `npm ci` in {}",
            dir.display()
        );
        let port = free_port();
        // Its output (warnings about running as a test fixture, and any server error with
        // its stack) goes to a file in the temporary directory, for when a test fails.
        let log = std::env::temp_dir().join(format!("modtag-oidc-provider-{port}.log"));
        let child = Command::new("node")
            .arg(dir.join("provider.mjs"))
            .args([&port.to_string(), client_id, secret, redirect_uri])
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(&log).unwrap())
            .spawn()
            .expect("node runs");
        let issuer = format!("http://127.0.0.1:{port}");
        let addr: SocketAddr = format!("127.0.0.1:{port}").parse().unwrap();
        wait_for("the OpenID provider", Duration::from_secs(30), || {
            http_get(addr, "/.well-known/openid-configuration").filter(|(c, _)| *c == 200)
        });
        OpenIdProvider { issuer, child }
    }

    /// What the token endpoint hands out next (see `provider.mjs`).
    pub fn set_mode(&self, mode: &str) {
        let addr: SocketAddr = self.issuer.trim_start_matches("http://").parse().unwrap();
        let (code, _) = http_get(addr, &format!("/__mode/{mode}")).unwrap();
        assert_eq!(code, 200);
    }
}

impl Drop for OpenIdProvider {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
