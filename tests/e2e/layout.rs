//! The shape of the source, checked the way a reviewer would: no import loops between the
//! files of any crate, and no source file over 600 lines (tests and generated code aside).
//! ARCHITECTURE.md promises both; this keeps the promise from rotting.
//!
//! Imports are read from the source text: every `use` line and every `crate::`/`super::`/
//! `self::` path, resolved to the file of the longest module prefix it names. A parent
//! declaring `mod child;` is not an import; a parent that also uses its child, while the
//! child uses the parent, is a loop. Inline `#[cfg(test)]` modules are left out (a test
//! module sees its whole file by design).

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

const CRATES: [&str; 6] = [
    "config",
    "router",
    "storage",
    "intake/smtp",
    "intake/workflow",
    "intake",
];
const MAX_LINES: usize = 600;

fn workspace() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .unwrap()
        .to_path_buf()
}

/// A crate's module tree: module path (`["workflow", "accept"]`) → file.
fn modules(root: &Path) -> BTreeMap<Vec<String>, PathBuf> {
    let mut out = BTreeMap::new();
    let mut todo = vec![(Vec::<String>::new(), root.to_path_buf())];
    while let Some((path, file)) = todo.pop() {
        let text = std::fs::read_to_string(&file).unwrap();
        let dir = match file.file_name().and_then(|n| n.to_str()) {
            Some("mod.rs" | "lib.rs" | "main.rs") => file.parent().unwrap().to_path_buf(),
            _ => file.with_extension(""),
        };
        for line in code(&text).lines() {
            let l = line.trim();
            let l = l
                .strip_prefix("pub(crate) ")
                .or_else(|| l.strip_prefix("pub(super) "))
                .or_else(|| l.strip_prefix("pub "))
                .unwrap_or(l);
            let Some(name) = l.strip_prefix("mod ").and_then(|r| r.strip_suffix(';')) else {
                continue;
            };
            let child = [
                dir.join(format!("{name}.rs")),
                dir.join(name).join("mod.rs"),
            ]
            .into_iter()
            .find(|p| p.exists())
            .unwrap_or_else(|| panic!("{}: mod {name} has no file", file.display()));
            let mut p = path.clone();
            p.push(name.to_string());
            todo.push((p, child));
        }
        out.insert(path, file);
    }
    out
}

/// The text without the inline test module and without comments (line for line).
pub(crate) fn code(text: &str) -> String {
    let end = text.find("#[cfg(test)]").unwrap_or(text.len());
    text[..end]
        .lines()
        .map(|l| match l.find("//") {
            Some(i) => &l[..i],
            None => l,
        })
        .collect::<Vec<_>>()
        .join("\n")
}

/// The `use` statements that start with one of `prefixes` (they start a line in formatted
/// code), each without its keyword and up to its `;`.
fn use_statements(text: &str, prefixes: &[&str]) -> Vec<String> {
    let lines: Vec<&str> = text.lines().collect();
    let mut out = Vec::new();
    for (i, line) in lines.iter().enumerate() {
        let l = line.trim_start();
        let Some(at) = prefixes.iter().find_map(|p| l.strip_prefix(p)) else {
            continue;
        };
        let statement: String = std::iter::once(at)
            .chain(lines[i + 1..].iter().copied())
            .collect::<Vec<_>>()
            .join(" ");
        let end = statement.find(';').unwrap_or(statement.len());
        out.push(statement[..end].to_string());
    }
    out
}

/// Every path a file names: `a::b::{c, d::e}` expands to `a::b::c` and `a::b::d::e`.
fn paths(text: &str) -> Vec<Vec<String>> {
    let mut out = Vec::new();
    // `use` statements, braces expanded.
    for statement in use_statements(
        text,
        &["use ", "pub use ", "pub(crate) use ", "pub(super) use "],
    ) {
        let mut found = Vec::new();
        expand(&statement, &mut found);
        // `X as Y` names X.
        out.extend(found.into_iter().map(|mut p| {
            if let Some(last) = p.last_mut() {
                *last = last.split(" as ").next().unwrap_or("").trim().to_string();
            }
            p
        }));
    }
    // Paths in code: `crate::x::y(...)`, `super::x`.
    for start in ["crate::", "super::", "self::"] {
        let mut rest = text;
        while let Some(i) = rest.find(start) {
            let tail = &rest[i..];
            let len = tail
                .find(|c: char| !(c.is_alphanumeric() || c == '_' || c == ':'))
                .unwrap_or(tail.len());
            let path: Vec<String> = tail[..len]
                .split("::")
                .filter(|s| !s.is_empty())
                .map(str::to_string)
                .collect();
            // `crate::{a, b}` alone names nothing: the `use` reading expands it.
            if path.len() > 1 {
                out.push(path);
            }
            rest = &rest[i + start.len()..];
        }
    }
    out
}

fn expand(tree: &str, out: &mut Vec<Vec<String>>) {
    match tree.find('{') {
        None => out.push(
            tree.split("::")
                .map(str::trim)
                .filter(|s| !s.is_empty() && *s != "*")
                .map(str::to_string)
                .collect(),
        ),
        Some(open) => {
            let prefix = &tree[..open];
            let inner = &tree[open + 1..tree.rfind('}').unwrap_or(tree.len())];
            let mut depth = 0;
            let mut piece = String::new();
            for c in inner.chars().chain(std::iter::once(',')) {
                match c {
                    '{' => depth += 1,
                    '}' => depth -= 1,
                    ',' if depth == 0 => {
                        if !piece.is_empty() {
                            expand(&format!("{prefix}{piece}"), out);
                        }
                        piece.clear();
                        continue;
                    }
                    _ => {}
                }
                piece.push(c);
            }
        }
    }
}

/// What a module re-exports (`pub use x::Name` or `pub use x::{A, B as C}`): name → path.
fn reexports(text: &str) -> BTreeMap<String, Vec<String>> {
    let mut out = BTreeMap::new();
    for statement in use_statements(text, &["pub use "]) {
        let mut paths = Vec::new();
        expand(&statement, &mut paths);
        for p in paths {
            let joined = p.join("::");
            let (path, alias) = match joined.split_once(" as ") {
                Some((p, a)) => (p.trim().to_string(), Some(a.trim().to_string())),
                None => (joined.trim().to_string(), None),
            };
            let segs: Vec<String> = path
                .split("::")
                .map(|s| s.trim().to_string())
                .filter(|s| !s.is_empty())
                .collect();
            if let Some(name) = alias.or_else(|| segs.last().cloned()) {
                out.insert(name, segs);
            }
        }
    }
    out
}

type Exports = BTreeMap<Vec<String>, BTreeMap<String, Vec<String>>>;

/// The module a path from `from` lands in: its longest prefix that is a module, followed
/// through re-exports (`crate::StoreError` is the file that defines it, not the crate root
/// that re-exports it).
fn resolve(
    from: &[String],
    path: &[String],
    mods: &BTreeMap<Vec<String>, PathBuf>,
    exports: &Exports,
) -> Option<Vec<String>> {
    resolve_depth(from, path, mods, exports, 0)
}

fn resolve_depth(
    from: &[String],
    path: &[String],
    mods: &BTreeMap<Vec<String>, PathBuf>,
    exports: &Exports,
    depth: usize,
) -> Option<Vec<String>> {
    let mut abs: Vec<String> = match path.first().map(String::as_str) {
        Some("crate") => Vec::new(),
        Some("self") => from.to_vec(),
        Some("super") => from.to_vec(),
        // `use child::X` names a child module of the file itself (Rust 2018 paths).
        Some(first) if mods.contains_key(&[from, &[first.to_string()]].concat()) => from.to_vec(),
        _ => return None, // another crate, std, or a name in scope
    };
    for seg in path {
        match seg.as_str() {
            "crate" | "self" => {}
            "super" => {
                abs.pop();
            }
            s => abs.push(s.to_string()),
        }
    }
    let mut rest = Vec::new();
    while !abs.is_empty() && !mods.contains_key(&abs) {
        rest.insert(0, abs.pop().unwrap());
    }
    if !mods.contains_key(&abs) {
        return None;
    }
    // A name the module only re-exports lives where the re-export points.
    if let Some(target) = rest.first().and_then(|n| exports.get(&abs)?.get(n)) {
        if depth < 8 {
            let mut p = target.clone();
            p.extend(rest[1..].iter().cloned());
            if let Some(t) = resolve_depth(&abs, &p, mods, exports, depth + 1) {
                return Some(t);
            }
        }
    }
    Some(abs)
}

fn show(m: &[String]) -> String {
    if m.is_empty() {
        "crate root".into()
    } else {
        m.join("::")
    }
}

fn loops_in(root: &Path) -> Vec<String> {
    let mods = modules(root);
    let exports: Exports = mods
        .iter()
        .map(|(m, f)| {
            (
                m.clone(),
                reexports(&code(&std::fs::read_to_string(f).unwrap())),
            )
        })
        .collect();
    let mut edges: BTreeMap<Vec<String>, BTreeSet<Vec<String>>> = BTreeMap::new();
    for (m, file) in &mods {
        let text = code(&std::fs::read_to_string(file).unwrap());
        for p in paths(&text) {
            if let Some(t) = resolve(m, &p, &mods, &exports) {
                if &t != m {
                    edges.entry(m.clone()).or_default().insert(t);
                }
            }
        }
    }
    // Depth-first search for a back edge; each loop is reported once, as its path.
    let mut found = Vec::new();
    let mut state: BTreeMap<Vec<String>, u8> = BTreeMap::new(); // 1 on stack, 2 done
    fn visit(
        m: &Vec<String>,
        edges: &BTreeMap<Vec<String>, BTreeSet<Vec<String>>>,
        state: &mut BTreeMap<Vec<String>, u8>,
        stack: &mut Vec<Vec<String>>,
        found: &mut Vec<String>,
    ) {
        state.insert(m.clone(), 1);
        stack.push(m.clone());
        for t in edges.get(m).into_iter().flatten() {
            match state.get(t) {
                Some(1) => {
                    // Written from its first module in order, so each loop reads one way.
                    let at = stack.iter().position(|s| s == t).unwrap();
                    let mut cycle: Vec<&Vec<String>> = stack[at..].iter().collect();
                    let first = (0..cycle.len()).min_by_key(|i| cycle[*i]).unwrap();
                    cycle.rotate_left(first);
                    cycle.push(cycle[0]);
                    let names: Vec<String> = cycle.iter().map(|s| show(s)).collect();
                    found.push(names.join(" -> "));
                }
                Some(_) => {}
                None => visit(t, edges, state, stack, found),
            }
        }
        stack.pop();
        state.insert(m.clone(), 2);
    }
    for m in mods.keys() {
        if !state.contains_key(m) {
            visit(m, &edges, &mut state, &mut Vec::new(), &mut found);
        }
    }
    found
}

fn roots() -> Vec<PathBuf> {
    let ws = workspace();
    CRATES
        .iter()
        .flat_map(|c| ["lib.rs", "main.rs"].map(|f| ws.join(c).join("src").join(f)))
        .filter(|p| p.exists())
        .collect()
}

#[test]
fn no_crate_has_an_import_loop() {
    let mut loops = Vec::new();
    for root in roots() {
        for l in loops_in(&root) {
            loops.push(format!("{}: {l}", root.display()));
        }
    }
    assert!(loops.is_empty(), "import loops:\n{}", loops.join("\n"));
}

#[test]
fn the_loop_check_finds_a_loop() {
    // The check itself, on a crate made for it: a parent and child that use each other.
    let dir = tempfile::tempdir().unwrap();
    let src = dir.path();
    std::fs::create_dir(src.join("a")).unwrap();
    std::fs::write(src.join("lib.rs"), "mod a;\nmod b;\nuse crate::b::Thing;\n").unwrap();
    std::fs::write(src.join("a/mod.rs"), "mod child;\npub use child::X;\n").unwrap();
    std::fs::write(src.join("a/child.rs"), "use super::{Y, Z};\n").unwrap();
    std::fs::write(src.join("b.rs"), "pub fn f() { crate::a::child::g(); }\n").unwrap();
    let loops = loops_in(&src.join("lib.rs"));
    assert_eq!(loops, ["a -> a::child -> a"], "{loops:?}");
}

#[test]
fn no_source_file_is_over_600_lines() {
    let mut long = Vec::new();
    for root in roots() {
        for file in modules(&root).values() {
            let n = std::fs::read_to_string(file).unwrap().lines().count();
            if n > MAX_LINES {
                long.push(format!("{} ({n} lines)", file.display()));
            }
        }
    }
    long.sort();
    long.dedup();
    assert!(
        long.is_empty(),
        "split these by concern (at most {MAX_LINES} lines):\n{}",
        long.join("\n")
    );
}

const MAX_FUNCTION_LINES: usize = 120;

/// Functions of `text` (test modules aside) longer than `max` lines, from `fn` to its
/// closing brace: `name (n lines)`.
fn long_functions(text: &str, max: usize) -> Vec<String> {
    let end = text.find("#[cfg(test)]").unwrap_or(text.len());
    let lines: Vec<&str> = text[..end].lines().collect();
    let mut found = Vec::new();
    let mut i = 0;
    while i < lines.len() {
        let code = lines[i].split("//").next().unwrap_or("");
        let Some(name) = fn_name(code) else {
            i += 1;
            continue;
        };
        let (mut depth, mut opened, mut j) = (0i32, false, i);
        while j < lines.len() {
            let code = without_literals(lines[j]);
            for c in code.chars() {
                match c {
                    '{' => (depth, opened) = (depth + 1, true),
                    '}' => depth -= 1,
                    _ => {}
                }
            }
            if (opened && depth <= 0) || (!opened && code.trim_end().ends_with(';')) {
                break;
            }
            j += 1;
        }
        let n = j - i + 1;
        if opened && n > max {
            found.push(format!("{name} ({n} lines)"));
        }
        i = if opened { j + 1 } else { i + 1 };
    }
    found
}

/// A line of code without its comment and without what its string and character literals
/// hold (a `"{"` is not a brace).
fn without_literals(line: &str) -> String {
    let (mut out, mut in_str, mut escaped) = (String::new(), false, false);
    let chars: Vec<char> = line.chars().collect();
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        if in_str {
            match (escaped, c) {
                (true, _) => escaped = false,
                (false, '\\') => escaped = true,
                (false, '"') => in_str = false,
                _ => {}
            }
        } else if c == '"' {
            in_str = true;
        } else if c == '/' && chars.get(i + 1) == Some(&'/') {
            break;
        } else if c == '\'' && chars.get(i + 2) == Some(&'\'') {
            i += 2; // '{' or '}'
        } else {
            out.push(c);
        }
        i += 1;
    }
    out
}

/// The name a line declares a function by (`pub async fn name(`), if it does.
fn fn_name(code: &str) -> Option<&str> {
    let words: Vec<&str> = code.split_whitespace().collect();
    let at = words.iter().position(|w| *w == "fn")?;
    let modifiers = [
        "pub",
        "pub(crate)",
        "pub(super)",
        "async",
        "const",
        "unsafe",
    ];
    if !words[..at].iter().all(|w| modifiers.contains(w)) {
        return None;
    }
    let name = words.get(at + 1)?;
    Some(name.split(['(', '<']).next().unwrap_or(name))
}

#[test]
fn no_function_is_over_120_lines() {
    let mut long = Vec::new();
    for root in roots() {
        for file in modules(&root).values() {
            if file.ends_with("tests.rs") {
                continue;
            }
            let text = std::fs::read_to_string(file).unwrap();
            for f in long_functions(&text, MAX_FUNCTION_LINES) {
                long.push(format!("{}: {f}", file.display()));
            }
        }
    }
    long.sort();
    long.dedup();
    assert!(
        long.is_empty(),
        "split these by concern (at most {MAX_FUNCTION_LINES} lines a function):\n{}",
        long.join("\n")
    );
    // The check itself: a long function is found, a short one and a test are not.
    let body = "    x();\n".repeat(5);
    let sample = format!(
        "pub async fn long(a: u8) {{\n{body}}}\nfn short() {{ y(); }}\n\
         // fn not_code() {{\n#[cfg(test)]\nmod tests {{ fn t() {{\n{body}}} }}\n"
    );
    assert_eq!(long_functions(&sample, 4), ["long (7 lines)"]);
    // Braces in literals are not the function's.
    let literals = "fn f() {\n    let a = \"{{\";\n    let b = '}';\n}\nfn g() {\n    x();\n}\n";
    assert!(long_functions(literals, 4).is_empty(), "{literals}");
}
