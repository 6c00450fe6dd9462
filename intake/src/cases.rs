//! The case registry import: CSV from the kommune's case system, checked line by line.
//! Errors name the line and the column, never the value (it may be a CPR or a name).

use modtag_config::Loaded;
use modtag_router::cpr::Cpr;
use modtag_storage::records::Case;
use serde::Serialize;

#[derive(Debug, Clone, Serialize)]
pub struct LineError {
    pub line: u64,
    pub message: String,
}

pub const HEADER: &[&str] = &[
    "case_number",
    "cpr",
    "child_name",
    "raadgiver",
    "area",
    "institution",
    "status",
];

/// Parses and checks a CSV file of cases. All or nothing: any error, and no case is taken.
pub fn parse_csv(text: &str, cfg: &Loaded) -> Result<Vec<Case>, Vec<LineError>> {
    let mut rdr = csv::ReaderBuilder::new()
        .flexible(true)
        .from_reader(text.as_bytes());
    let mut errors = Vec::new();
    let header: Vec<String> = match rdr.headers() {
        Ok(h) => h.iter().map(|s| s.trim().to_ascii_lowercase()).collect(),
        Err(e) => {
            return Err(vec![LineError {
                line: 1,
                message: format!("cannot read the header: {e}"),
            }]);
        }
    };
    if header != HEADER {
        return Err(vec![LineError {
            line: 1,
            message: format!("the header must be exactly: {}", HEADER.join(",")),
        }]);
    }
    let mut cases: Vec<Case> = Vec::new();
    for record in rdr.records() {
        let record = match record {
            Ok(r) => r,
            Err(e) => {
                let line = e.position().map_or(0, |p| p.line());
                errors.push(LineError {
                    line,
                    message: "malformed CSV line".into(),
                });
                continue;
            }
        };
        let line = record.position().map_or(0, |p| p.line());
        if record.len() != HEADER.len() {
            errors.push(LineError {
                line,
                message: format!("expected {} columns, found {}", HEADER.len(), record.len()),
            });
            continue;
        }
        let fields: Vec<String> = record.iter().map(|v| v.trim().to_string()).collect();
        check_row(&fields, line, cfg, &mut cases, &mut errors);
    }
    if errors.is_empty() {
        Ok(cases)
    } else {
        Err(errors)
    }
}

/// Checks one case (fields in [`HEADER`] order) and adds it, or the reasons it is refused.
fn check_row(
    fields: &[String],
    line: u64,
    cfg: &Loaded,
    cases: &mut Vec<Case>,
    errors: &mut Vec<LineError>,
) {
    let mut err = |message: String| errors.push(LineError { line, message });
    let f = |i: usize| fields.get(i).cloned().unwrap_or_default();
    let case_number = f(0);
    if case_number.is_empty() {
        err("case_number is empty".into());
        return;
    }
    let Some(cpr) = Cpr::parse(&f(1)) else {
        err("cpr is not a valid CPR number (DDMMYY-SSSS with a real date)".into());
        return;
    };
    let raadgiver = f(3);
    match cfg.directory.person(&raadgiver) {
        Some(p) if p.roles.iter().any(|r| r == "raadgiver") => {}
        Some(_) => {
            err(format!(
                "raadgiver {raadgiver:?} does not have the role raadgiver in the directory"
            ));
            return;
        }
        None => {
            err(format!("raadgiver {raadgiver:?} is not in the directory"));
            return;
        }
    }
    let area = Some(f(4)).filter(|s| !s.is_empty());
    if let Some(a) = &area {
        if !modtag_config::roles::is_area(a) {
            err(format!(
                "unknown area {a:?}: use one of {}",
                modtag_config::roles::AREAS.join(", ")
            ));
            return;
        }
    }
    let institution = Some(f(5)).filter(|s| !s.is_empty());
    if let Some(i) = &institution {
        if cfg.directory.institution(i).is_none() {
            err(format!("institution {i:?} is not in the directory"));
            return;
        }
    }
    let open = match f(6).to_ascii_lowercase().as_str() {
        "open" | "åben" | "aaben" => true,
        "closed" | "lukket" => false,
        _ => {
            err("status must be open or closed".into());
            return;
        }
    };
    if cases.iter().any(|c| c.case_number == case_number) {
        err(format!("case {case_number} appears twice"));
        return;
    }
    cases.push(Case {
        case_number,
        cpr: cpr.formatted(),
        child_name: f(2),
        raadgiver,
        area,
        institution,
        open,
        overgang: None,
    });
}

/// Parses and checks a JSON array of cases with the CSV's column names as keys. Errors name
/// the line where the case starts.
pub fn parse_json(text: &str, cfg: &Loaded) -> Result<Vec<Case>, Vec<LineError>> {
    let values: Vec<serde_json::Value> = match serde_json::from_str(text) {
        Ok(serde_json::Value::Array(v)) => v,
        Ok(_) => {
            return Err(vec![LineError {
                line: 1,
                message: "the JSON must be an array of cases".into(),
            }])
        }
        Err(e) => {
            return Err(vec![LineError {
                line: e.line() as u64,
                message: format!("not valid JSON at column {}", e.column()),
            }])
        }
    };
    let lines = element_lines(text);
    let mut errors = Vec::new();
    let mut cases = Vec::new();
    for (i, v) in values.iter().enumerate() {
        let line = lines.get(i).copied().unwrap_or(1);
        let Some(obj) = v.as_object() else {
            errors.push(LineError {
                line,
                message: "a case must be an object".into(),
            });
            continue;
        };
        if let Some(k) = obj.keys().find(|k| !HEADER.contains(&k.as_str())) {
            errors.push(LineError {
                line,
                message: format!("unknown key {k:?}: use {}", HEADER.join(", ")),
            });
            continue;
        }
        let fields: Vec<String> = HEADER
            .iter()
            .map(|k| match obj.get(*k) {
                Some(serde_json::Value::String(s)) => s.trim().to_string(),
                Some(serde_json::Value::Null) | None => String::new(),
                Some(other) => other.to_string(),
            })
            .collect();
        check_row(&fields, line, cfg, &mut cases, &mut errors);
    }
    if errors.is_empty() {
        Ok(cases)
    } else {
        Err(errors)
    }
}

/// The line on which each element of the top-level JSON array starts.
fn element_lines(text: &str) -> Vec<u64> {
    let (mut line, mut depth, mut in_string, mut escaped) = (1u64, 0usize, false, false);
    // At depth 1, after `[` or `,`: the next non-space character starts an element.
    let mut expecting = false;
    let mut starts = Vec::new();
    for c in text.chars() {
        if in_string {
            match (escaped, c) {
                (true, _) => escaped = false,
                (false, '\\') => escaped = true,
                (false, '"') => in_string = false,
                _ => {}
            }
        } else {
            if depth == 1 && expecting && !c.is_whitespace() && c != ']' {
                starts.push(line);
                expecting = false;
            }
            match c {
                '"' => in_string = true,
                '{' | '[' => {
                    depth += 1;
                    expecting = depth == 1;
                }
                '}' | ']' => depth = depth.saturating_sub(1),
                ',' if depth == 1 => expecting = true,
                _ => {}
            }
        }
        if c == '\n' {
            line += 1;
        }
    }
    starts
}

/// Cases as CSV with the import's header, so an export imports again unchanged.
pub fn to_csv(cases: &[Case]) -> String {
    let mut w = csv::Writer::from_writer(Vec::new());
    let _ = w.write_record(HEADER);
    for c in cases {
        let _ = w.write_record([
            c.case_number.as_str(),
            c.cpr.as_str(),
            c.child_name.as_str(),
            c.raadgiver.as_str(),
            c.area.as_deref().unwrap_or(""),
            c.institution.as_deref().unwrap_or(""),
            if c.open { "open" } else { "closed" },
        ]);
    }
    String::from_utf8(w.into_inner().unwrap_or_default()).unwrap_or_default()
}
