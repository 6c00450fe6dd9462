//! The crates' promises, checked where a reviewer would look: the pure crates name no IO
//! library in their `Cargo.toml`, and no crate depends on or imports one above it. The
//! layers, bottom up: config, router, storage, smtp, workflow, intake (ARCHITECTURE.md).

use std::path::{Path, PathBuf};

/// (folder, package), bottom layer first: each may use only those before it.
const LAYERS: [(&str, &str); 6] = [
    ("config", "modtag-config"),
    ("router", "modtag-router"),
    ("storage", "modtag-storage"),
    ("intake/smtp", "modtag-smtp"),
    ("intake/workflow", "modtag-workflow"),
    ("intake", "modtag-intake"),
];

/// The session is sans-IO: the protocol crate and the configuration, nothing else.
const SMTP_MAY_USE: [&str; 3] = ["modtag-config", "smtp-proto", "memchr"];

/// The workflow does no IO of its own: no runtime, no listener, no client, no database.
const WORKFLOW_MUST_NOT_USE: [&str; 13] = [
    "tokio",
    "tokio-rustls",
    "axum",
    "hyper",
    "hyper-util",
    "http-body",
    "http-body-util",
    "lettre",
    "reqwest",
    "openidconnect",
    "askama",
    "rustls",
    "sled",
];

fn workspace() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .unwrap()
        .to_path_buf()
}

/// The package names under `[dependencies]` (not dev- or build-dependencies).
fn dependencies(manifest: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut inside = false;
    for line in manifest.lines() {
        let l = line.trim();
        if l.starts_with('[') {
            inside = l == "[dependencies]";
            continue;
        }
        if !inside || l.is_empty() || l.starts_with('#') {
            continue;
        }
        let name = l.split(['=', '.']).next().unwrap_or("").trim();
        if !name.is_empty() {
            out.push(name.trim_matches('"').to_string());
        }
    }
    out
}

/// The Rust files under a crate's `src`.
fn sources(src: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(src).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            sources(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

/// What a crate at `layer` names above itself: dependencies in its manifest and paths in its
/// source (comments aside).
fn upward(layer: usize, manifest: &str, files: &[(String, String)]) -> Vec<String> {
    let deps = dependencies(manifest);
    let mut found = Vec::new();
    for (_, package) in &LAYERS[layer + 1..] {
        if deps.iter().any(|d| d == package) {
            found.push(format!("Cargo.toml depends on {package}"));
        }
        let ident = package.replace('-', "_");
        for (name, text) in files {
            let code: String = text
                .lines()
                .map(|l| l.split("//").next().unwrap_or(""))
                .collect::<Vec<_>>()
                .join("\n");
            if code.contains(&format!("{ident}::")) || code.contains(&format!("use {ident}")) {
                found.push(format!("{name} imports {ident}"));
            }
        }
    }
    found
}

fn forbidden(manifest: &str, may: Option<&[&str]>, must_not: &[&str]) -> Vec<String> {
    dependencies(manifest)
        .into_iter()
        .filter(|d| may.is_some_and(|m| !m.contains(&d.as_str())) || must_not.contains(&d.as_str()))
        .collect()
}

fn manifest(folder: &str) -> String {
    std::fs::read_to_string(workspace().join(folder).join("Cargo.toml")).unwrap()
}

#[test]
fn the_pure_crates_name_no_io_library() {
    let smtp = forbidden(&manifest("intake/smtp"), Some(&SMTP_MAY_USE), &[]);
    assert!(
        smtp.is_empty(),
        "modtag-smtp may use only {SMTP_MAY_USE:?}: {smtp:?}"
    );
    let workflow = forbidden(&manifest("intake/workflow"), None, &WORKFLOW_MUST_NOT_USE);
    assert!(
        workflow.is_empty(),
        "modtag-workflow does no IO: {workflow:?}"
    );
}

#[test]
fn no_crate_depends_on_or_imports_one_above_it() {
    let mut found = Vec::new();
    for (layer, (folder, package)) in LAYERS.iter().enumerate() {
        let mut paths = Vec::new();
        sources(&workspace().join(folder).join("src"), &mut paths);
        let files: Vec<(String, String)> = paths
            .iter()
            .map(|p| (p.display().to_string(), std::fs::read_to_string(p).unwrap()))
            .collect();
        for f in upward(layer, &manifest(folder), &files) {
            found.push(format!("{package}: {f}"));
        }
    }
    assert!(found.is_empty(), "upward:\n{}", found.join("\n"));
}

#[test]
fn the_checks_find_a_forbidden_library_and_an_upward_import() {
    let manifest = "[package]\nname = \"x\"\n\n[dependencies]\nmodtag-config.workspace = true\n\
                    tokio = { version = \"1\" }\nsled.workspace = true\n\n[dev-dependencies]\n\
                    lettre.workspace = true\n";
    assert_eq!(
        forbidden(manifest, None, &WORKFLOW_MUST_NOT_USE),
        ["tokio", "sled"]
    );
    assert_eq!(
        forbidden(manifest, Some(&SMTP_MAY_USE), &[]),
        ["tokio", "sled"]
    );
    let files = [
        (
            "a.rs".to_string(),
            "use modtag_intake::app::App;\n".to_string(),
        ),
        (
            "b.rs".to_string(),
            "// modtag_intake::app is above us\n".to_string(),
        ),
        (
            "c.rs".to_string(),
            "fn f() { modtag_smtp::session::x(); }\n".to_string(),
        ),
    ];
    // The workflow (layer 4) may use the session (3), not the IO crate (5).
    assert_eq!(upward(4, manifest, &files), ["a.rs imports modtag_intake"]);
    // Storage (layer 2) may use neither.
    assert_eq!(
        upward(
            2,
            "[dependencies]\nmodtag-workflow.workspace = true\n",
            &files
        ),
        [
            "c.rs imports modtag_smtp",
            "Cargo.toml depends on modtag-workflow",
            "a.rs imports modtag_intake"
        ]
    );
}

/// Comparisons of text against a literal that is prose (a space or a Danish letter in it):
/// `starts_with`, `ends_with`, `contains`, `==` and `!=`. Test modules and comments aside.
fn prose_comparisons(name: &str, text: &str) -> Vec<String> {
    let mut found = Vec::new();
    for (n, code) in crate::layout::code(text).lines().enumerate() {
        for op in [
            ".starts_with(\"",
            ".ends_with(\"",
            ".contains(\"",
            "== \"",
            "!= \"",
        ] {
            let mut rest = code;
            while let Some(i) = rest.find(op) {
                let after = &rest[i + op.len()..];
                let literal = after.split('"').next().unwrap_or("");
                if literal.contains(' ') || !literal.is_ascii() {
                    found.push(format!("{name}:{}: {}", n + 1, code.trim()));
                }
                rest = after;
            }
        }
    }
    found
}

#[test]
fn no_rule_decides_on_a_sentence() {
    let mut found = Vec::new();
    for folder in ["router", "intake/workflow"] {
        let mut paths = Vec::new();
        sources(&workspace().join(folder).join("src"), &mut paths);
        for p in paths.iter().filter(|p| !p.ends_with("tests.rs")) {
            let text = std::fs::read_to_string(p).unwrap();
            found.extend(prose_comparisons(&p.display().to_string(), &text));
        }
    }
    assert!(
        found.is_empty(),
        "decide on a value, not on its words:\n{}",
        found.join("\n")
    );
}

#[test]
fn the_sentence_check_finds_one() {
    let text = "fn f(w: &W) -> bool {\n    w.why.starts_with(\"samtykke til\") || w.kind == \"professional\"\n}\n\
                // w.why == \"a comment\"\n#[cfg(test)]\nmod tests { fn t() { x.contains(\"in a test\"); } }\n";
    assert_eq!(
        prose_comparisons("r.rs", text),
        ["r.rs:2: w.why.starts_with(\"samtykke til\") || w.kind == \"professional\""]
    );
    assert!(prose_comparisons("r.rs", "if n.contains(\"måske\") {}").len() == 1);
}

/// Reads of the wall clock outside tests and comments, by file and line.
fn clock_reads(name: &str, text: &str) -> Vec<String> {
    (crate::layout::code(text).lines().enumerate())
        .filter(|(_, code)| {
            ["Timestamp::now()", "Zoned::now()", "SystemTime::now()"]
                .iter()
                .any(|c| code.contains(c))
        })
        .map(|(n, _)| format!("{name}:{}", n + 1))
        .collect()
}

/// The time is a value handed in: only the daemon's clock (`intake/src/clock.rs`, which
/// tests move) reads the wall clock, so every deadline can be tested at a fixed time.
#[test]
fn only_the_clock_reads_the_time() {
    let mut found = Vec::new();
    for (folder, _) in LAYERS {
        let mut paths = Vec::new();
        sources(&workspace().join(folder).join("src"), &mut paths);
        for p in paths
            .iter()
            .filter(|p| !p.ends_with("clock.rs") && !p.ends_with("tests.rs"))
        {
            let text = std::fs::read_to_string(p).unwrap();
            found.extend(clock_reads(&p.display().to_string(), &text));
        }
    }
    assert!(found.is_empty(), "ask the Clock:\n{}", found.join("\n"));
    let sample =
        "fn f() {\n    let now = jiff::Timestamp::now();\n}\n// Timestamp::now() in a comment\n\
                  #[cfg(test)]\nmod tests { fn t() { Timestamp::now(); } }\n";
    assert_eq!(clock_reads("x.rs", sample), ["x.rs:2"]);
}
