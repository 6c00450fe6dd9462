//! A real headless Chromium for the pages, driven over WebDriver: Debian's `chromium` and
//! `chromium-driver` (`.ci/run` installs them), `fantoccini` as the client, and axe-core
//! (`tests/browser/`, `npm ci`) injected into pages to check accessibility.

use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use fantoccini::{Client, ClientBuilder};
use serde_json::{json, Value};

use crate::{free_port, root, wait_for};

/// A chromedriver with one headless Chromium session, and the runtime that drives it.
pub struct Browser {
    pub rt: tokio::runtime::Runtime,
    pub client: Client,
    driver: Child,
    _profile: tempfile::TempDir,
}

impl Browser {
    pub fn start() -> Browser {
        // Another test may have installed it already.
        let _ = rustls::crypto::ring::default_provider().install_default();
        let port = free_port();
        let driver = Command::new("chromedriver")
            .arg(format!("--port={port}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("chromedriver is installed (Debian's chromium-driver; .ci/run installs it)");
        let addr: std::net::SocketAddr = format!("127.0.0.1:{port}").parse().unwrap();
        // It keeps connections open whatever the request says: a connection is the sign.
        wait_for("chromedriver", Duration::from_secs(30), || {
            std::net::TcpStream::connect(addr).ok()
        });
        let profile = tempfile::tempdir().unwrap();
        // The flags the machine needs: no sandbox as root, and nothing that reaches for the
        // closed network (Chromium's background connections would be refused at every start).
        let args = [
            "--headless=new".to_string(),
            "--no-sandbox".into(),
            "--disable-gpu".into(),
            "--disable-dev-shm-usage".into(),
            "--disable-background-networking".into(),
            "--disable-component-update".into(),
            "--disable-sync".into(),
            "--disable-quic".into(),
            "--no-first-run".into(),
            "--window-size=1280,900".into(),
            format!("--user-data-dir={}", profile.path().display()),
        ];
        let mut caps = serde_json::Map::new();
        caps.insert(
            "goog:chromeOptions".into(),
            json!({ "binary": "/usr/bin/chromium", "args": args }),
        );
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        let client = rt
            .block_on(
                ClientBuilder::rustls()
                    .unwrap()
                    .capabilities(caps)
                    .connect(&format!("http://127.0.0.1:{port}")),
            )
            .expect("a Chromium session");
        Browser {
            rt,
            client,
            driver,
            _profile: profile,
        }
    }

    pub fn goto(&self, url: &str) {
        self.rt.block_on(self.client.goto(url)).unwrap();
    }

    /// Types `text` into the field with id `id`.
    pub fn fill(&self, id: &str, text: &str) {
        self.rt.block_on(async {
            let field = self
                .client
                .find(fantoccini::Locator::Id(id))
                .await
                .unwrap_or_else(|e| panic!("no field #{id}: {e}"));
            field.send_keys(text).await.unwrap();
        });
    }

    /// Clicks a link or submit button and waits for the next page: the old document is
    /// marked first, so the wait ends only when a new one has loaded.
    pub fn follow(&self, css: &str) {
        self.eval("window.__modtagOld = true; return null;");
        self.click(css);
        self.rt.block_on(async {
            for _ in 0..100 {
                let settled = self
                    .client
                    .execute(
                        "return window.__modtagOld === undefined && document.readyState === 'complete';",
                        vec![],
                    )
                    .await
                    .is_ok_and(|v| v == true);
                if settled {
                    return;
                }
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
            panic!("clicking {css} led to no new page within 10 s");
        });
    }

    /// Clicks the first element `css` selects (a checkbox, a radio button; for what leads
    /// to another page, [`Browser::follow`]).
    pub fn click(&self, css: &str) {
        self.rt.block_on(async {
            let e = self
                .client
                .find(fantoccini::Locator::Css(css))
                .await
                .unwrap_or_else(|e| panic!("nothing matches {css}: {e}"));
            e.click().await.unwrap();
        });
    }

    /// The page's visible text, once the page has loaded (a click that submits a form may
    /// return while the next page is still on its way: the old body then goes stale).
    pub fn text(&self) -> String {
        self.rt.block_on(async {
            let mut tries = 0;
            loop {
                let loaded = self
                    .client
                    .execute("return document.readyState;", vec![])
                    .await
                    .is_ok_and(|s| s == "complete");
                let body = self.client.find(fantoccini::Locator::Css("body")).await;
                if let (true, Ok(body)) = (loaded, body) {
                    if let Ok(text) = body.text().await {
                        return text;
                    }
                }
                tries += 1;
                assert!(tries < 100, "the page did not settle within 10 s");
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
        })
    }

    pub fn url(&self) -> String {
        self.rt
            .block_on(self.client.current_url())
            .unwrap()
            .to_string()
    }

    /// Runs axe-core on the page (WCAG 2.0/2.1 A and AA rules) and returns the violations
    /// whose impact is serious or critical, as `rule: what (where)` lines.
    pub fn accessibility_violations(&self) -> Vec<String> {
        let axe = root().join("tests/browser/node_modules/axe-core/axe.min.js");
        let source = std::fs::read_to_string(&axe).unwrap_or_else(|_| {
            panic!(
                "axe-core is not installed: run `npm ci` in {}",
                root().join("tests/browser").display()
            )
        });
        self.rt.block_on(async {
            self.client.execute(&source, vec![]).await.unwrap();
            let result = self
                .client
                .execute_async(
                    "const done = arguments[arguments.length - 1];
                     axe.run(document, { runOnly: { type: 'tag',
                         values: ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa'] } })
                       .then(r => done(r.violations), e => done([{ id: 'axe-error',
                         impact: 'critical', help: String(e), nodes: [] }]));",
                    vec![],
                )
                .await
                .unwrap();
            result
                .as_array()
                .cloned()
                .unwrap_or_default()
                .iter()
                .filter(|v| matches!(v["impact"].as_str(), Some("serious" | "critical")))
                .map(|v| {
                    let targets: Vec<String> = v["nodes"]
                        .as_array()
                        .map(|n| n.iter().map(|n| n["target"].to_string()).collect())
                        .unwrap_or_default();
                    format!("{}: {} ({})", v["id"], v["help"], targets.join(", "))
                })
                .collect()
        })
    }

    /// Saves a screenshot of the page as `target/screenshots/NAME.png` (a test artifact to
    /// look at), and returns where.
    pub fn screenshot(&self, name: &str) -> PathBuf {
        let png = self.rt.block_on(self.client.screenshot()).unwrap();
        let dir = root().join("target/screenshots");
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join(format!("{name}.png"));
        std::fs::write(&path, png).unwrap();
        path
    }

    /// Sets the window's size: 390 × 844 is a phone's (issue 29: the tables must fit it).
    pub fn set_size(&self, width: u32, height: u32) {
        self.rt
            .block_on(self.client.set_window_size(width, height))
            .unwrap();
    }

    /// How wide the page is against the window, in CSS pixels: (scroll width, window width).
    /// A page that runs off a phone's screen is wider than its window.
    pub fn widths(&self) -> (u64, u64) {
        let v = self.eval("return [document.documentElement.scrollWidth, window.innerWidth];");
        (v[0].as_u64().unwrap(), v[1].as_u64().unwrap())
    }

    /// The page as Chromium prints it (the print stylesheet), as text: `pdftotext` of the
    /// PDF the browser makes.
    pub fn printed_text(&self) -> String {
        let config = fantoccini::wd::PrintConfiguration::builder()
            .build()
            .unwrap();
        let pdf = self.rt.block_on(self.client.print(config)).unwrap();
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("page.pdf");
        std::fs::write(&path, pdf).unwrap();
        let out = Command::new("pdftotext")
            .args(["-layout", path.to_str().unwrap(), "-"])
            .output()
            .expect("pdftotext is installed (Debian's poppler-utils; tests/run installs it)");
        assert!(out.status.success(), "{out:?}");
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    /// Evaluates `script` (which must `return` a value) in the page.
    /// Signs `id` in with the sign-in form of the daemon at `http` (password and the TOTP
    /// code from the enrolment `uri`).
    pub fn sign_in(&self, http: std::net::SocketAddr, id: &str, uri: &str) {
        self.sign_in_with_step(http, id, uri, 0);
    }

    /// Signs in a second time: a code is taken only once, so the next step's (within the
    /// one step of clock skew the server allows).
    pub fn sign_in_again(&self, http: std::net::SocketAddr, id: &str, uri: &str) {
        self.sign_in_with_step(http, id, uri, 1);
    }

    /// Signs `id` in to `d`, whose clock may be moved (`Options::faketime`): the code is
    /// its time's.
    pub fn sign_in_to(&self, d: &crate::Daemon, id: &str, uri: &str) {
        self.sign_in_code(d.http, id, &d.totp(uri, 0));
    }

    fn sign_in_with_step(&self, http: std::net::SocketAddr, id: &str, uri: &str, steps: i64) {
        self.sign_in_code(http, id, &crate::totp_code(uri, steps));
    }

    fn sign_in_code(&self, http: std::net::SocketAddr, id: &str, code: &str) {
        self.goto(&format!("http://{http}/login"));
        self.fill("username", id);
        self.fill("password", crate::TEST_PASSWORD);
        self.fill("totp", code);
        self.follow("button[type=submit]");
        assert!(self.text().contains("Logget ind som"), "{}", self.text());
    }

    pub fn eval(&self, script: &str) -> Value {
        self.rt
            .block_on(self.client.execute(script, vec![]))
            .unwrap()
    }
}

impl Drop for Browser {
    fn drop(&mut self) {
        let client = self.client.clone();
        let _ = self.rt.block_on(client.close());
        let _ = self.driver.kill();
        let _ = self.driver.wait();
    }
}
