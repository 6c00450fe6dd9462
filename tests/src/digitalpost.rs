//! A fake of KOMBIT Serviceplatformen's SF1601 (`tests/digitalpost/serviceplatform.py`):
//! mutual TLS, the token service, the access token, KombiPostAfsend, each request checked
//! as the service's documentation describes it, and each MeMo message against the MeMo
//! schema (`tests/data/memo/`).

use std::net::SocketAddr;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use serde_json::Value;

use crate::{free_port, http_get, root, wait_for};

pub struct ServicePlatform {
    /// The HTTPS services (client certificate required).
    pub addr: SocketAddr,
    /// Plain HTTP on loopback: what was received, and the mode.
    control: SocketAddr,
    /// Where it pushes receipts: modtag's receipts listener.
    receipts: std::sync::Mutex<Option<String>>,
    child: Child,
}

impl ServicePlatform {
    pub fn start() -> ServicePlatform {
        let (port, control) = (free_port(), free_port());
        let log = std::env::temp_dir().join(format!("modtag-serviceplatform-{port}.log"));
        let child = Command::new("python3")
            .arg(root().join("tests/digitalpost/serviceplatform.py"))
            .args([port.to_string(), control.to_string()])
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(&log).unwrap())
            .spawn()
            .expect("python3 runs");
        let control: SocketAddr = format!("127.0.0.1:{control}").parse().unwrap();
        wait_for("the Serviceplatform fake", Duration::from_secs(20), || {
            http_get(control, "/__requests").filter(|(c, _)| *c == 200)
        });
        ServicePlatform {
            addr: format!("127.0.0.1:{port}").parse().unwrap(),
            control,
            receipts: std::sync::Mutex::default(),
            child,
        }
    }

    /// The letters it took, each with `memo` (the MeMo message), `recipient_id`,
    /// `transmission_id`.
    pub fn received(&self) -> Vec<Value> {
        self.list("/__received")
    }

    /// Why it refused requests (empty when modtag asked as documented).
    pub fn errors(&self) -> Vec<Value> {
        self.list("/__errors")
    }

    fn list(&self, path: &str) -> Vec<Value> {
        let (_, body) = http_get(self.control, path).unwrap();
        serde_json::from_str::<Value>(&body)
            .unwrap()
            .as_array()
            .cloned()
            .unwrap_or_default()
    }

    /// What each push of a receipt to modtag got back (`status_code`, `body`,
    /// `transaktions_status`).
    pub fn pushes(&self) -> Vec<Value> {
        self.list("/__pushes")
    }

    /// One hostile push to modtag's receipts listener (`garbage`, `unknown`, `doctype`):
    /// what modtag answered.
    pub fn push_raw(&self, what: &str) -> Value {
        let to = self.receipts_url();
        let (_, body) = http_get(
            self.control,
            &format!("/__push_raw?to={}&what={what}", crate::form_encode(&to)),
        )
        .unwrap();
        serde_json::from_str(&body).unwrap()
    }

    /// modtag's receipts listener, as the fake pushes to it.
    pub fn receipts_url(&self) -> String {
        let to = self.receipts.lock().unwrap().clone();
        to.expect("section() sets where receipts go")
    }

    /// One receipt pushed to modtag as the Beskedfordeler would (its client certificate),
    /// for the letter `message_uuid` with `status` ("Fejlet" with an error code): modtag's
    /// HTTP status. For receipts the broker delivers again.
    pub fn push_receipt(&self, message_uuid: &str, status: &str) -> u16 {
        self.push_receipt_as("beskedfordeler", message_uuid, status)
    }

    /// [`ServicePlatform::push_receipt`] from the client certificate `certs/{client}.crt`
    /// (`client`: the kommune's own, from the same authority as KOMBIT's); 0 when the
    /// listener refused the connection.
    pub fn push_receipt_as(&self, client: &str, message_uuid: &str, status: &str) -> u16 {
        let certs = root().join("tests/digitalpost/certs");
        let inner = format!(
            "<PKO_PostStatus xmlns=\"http://serviceplatformen.dk/xml/print/PKO_PostStatus/1/types\">\
             <MessageUUID>{message_uuid}</MessageUUID><KanalKode>Digital Post</KanalKode>\
             <TransaktionsStatusKode>{status}</TransaktionsStatusKode><FejlDetaljer>\
             <FejlKode>modtager.ukendt</FejlKode></FejlDetaljer></PKO_PostStatus>"
        );
        let b64 = {
            use base64::Engine as _;
            base64::engine::general_purpose::STANDARD.encode(inner)
        };
        let envelope = format!(
            "<ns4:ModtagBeskedInput xmlns:ns4=\"urn:oio:sts:1.0.0\" xmlns:ns2=\"urn:oio:besked:kuvert:1.0\">\
             <ns2:Haendelsesbesked><ns2:Beskeddata><Base64 xmlns=\"urn:besked:kuvert:1.0\">{b64}</Base64>\
             </ns2:Beskeddata></ns2:Haendelsesbesked></ns4:ModtagBeskedInput>"
        );
        let out = Command::new("python3")
            .arg("-c")
            .arg(format!(
                "import ssl,sys,urllib.request,urllib.error\n\
                 c=ssl.create_default_context(cafile={ca:?})\n\
                 c.load_cert_chain({crt:?},{key:?})\n\
                 try:\n  print(urllib.request.urlopen(urllib.request.Request({url:?}, data=sys.stdin.buffer.read()), context=c, timeout=10).status)\n\
                 except urllib.error.HTTPError as e: print(e.code)\n\
                 except (OSError, ssl.SSLError): print(0)",
                ca = certs.join("ca.crt"),
                crt = certs.join(format!("{client}.crt")),
                key = certs.join(format!("{client}.key")),
                url = self.receipts_url(),
            ))
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()
            .and_then(|mut child| {
                use std::io::Write as _;
                child.stdin.take().unwrap().write_all(envelope.as_bytes())?;
                child.wait_with_output()
            })
            .unwrap();
        String::from_utf8_lossy(&out.stdout)
            .trim()
            .parse()
            .unwrap_or(0)
    }

    /// normal, reject (every letter refused for good), down (503), fail-later (taken, then a
    /// receipt says it failed).
    pub fn set_mode(&self, mode: &str) {
        let (code, _) = http_get(self.control, &format!("/__mode/{mode}")).unwrap();
        assert_eq!(code, 200);
    }

    /// `[digital_post]` for modtag, its key copied into `dir` (0600), appended to the demo
    /// configuration's `[kommune]` section's neighbour: an edit that puts it before
    /// `[public.privacy]`.
    pub fn section(&self, dir: &Path) -> (String, String) {
        use std::os::unix::fs::PermissionsExt as _;
        let certs = root().join("tests/digitalpost/certs");
        let key = dir.join("oces3.key");
        std::fs::copy(certs.join("client.key"), &key).unwrap();
        std::fs::set_permissions(&key, std::fs::Permissions::from_mode(0o600)).unwrap();
        let base = format!("https://127.0.0.1:{}", self.addr.port());
        // Receipts come back (as KOMBIT's Beskedfordeler pushes them) to a listener of
        // modtag's own that takes only the test CA's client certificates.
        let receipts = free_port();
        let to = format!("https://127.0.0.1:{receipts}/beskedfordeler");
        let (code, _) = http_get(
            self.control,
            &format!("/__receipts?to={}", crate::form_encode(&to)),
        )
        .unwrap();
        assert_eq!(code, 200);
        *self.receipts.lock().unwrap() = Some(to);
        let server_key = dir.join("receipts.key");
        std::fs::copy(certs.join("server.key"), &server_key).unwrap();
        std::fs::set_permissions(&server_key, std::fs::Permissions::from_mode(0o600)).unwrap();
        let text = format!(
            "[digital_post]\n\
             sender_cvr = \"69116418\"\n\
             sender_label = \"Fredericia Kommune\"\n\
             sts_url = \"{base}/runtime/api/rest/wstrust/v1/issue\"\n\
             token_url = \"{base}/service/AccessTokenService_1/token\"\n\
             service_url = \"{base}/service/KombiPostAfsend_1/kombi\"\n\
             certificate = {:?}\n\
             key = {:?}\n\
             ca_file = {:?}\n\n\
             [digital_post.receipts]\n\
             listen = \"127.0.0.1:{receipts}\"\n\
             client_ca_file = {:?}\n\
             client_certificates = [\"{BESKEDFORDELER_SHA256}\"]\n\
             tls = {{ cert_file = {:?}, key_file = {:?} }}\n\n\
             [public.privacy]",
            certs.join("client.crt"),
            key,
            certs.join("ca.crt"),
            certs.join("ca.crt"),
            certs.join("server.crt"),
            server_key,
        );
        ("[public.privacy]".to_string(), text)
    }
}

/// `certs/beskedfordeler.crt`'s fingerprint as `openssl x509 -noout -fingerprint -sha256`
/// writes it: what an operator copies into `client_certificates`.
pub const BESKEDFORDELER_SHA256: &str =
    "A8:11:46:30:F1:03:78:79:15:35:06:D8:01:62:74:B0:7C:0F:94:83:D5:FA:E5:B9:E1:DC:62:8E:F9:F4:0E:83";

impl Drop for ServicePlatform {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
