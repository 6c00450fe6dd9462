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
        let mut err = |message: String| errors.push(LineError { line, message });
        if record.len() != HEADER.len() {
            err(format!(
                "expected {} columns, found {}",
                HEADER.len(),
                record.len()
            ));
            continue;
        }
        let f = |i: usize| record.get(i).unwrap_or("").trim().to_string();
        let case_number = f(0);
        if case_number.is_empty() {
            err("case_number is empty".into());
            continue;
        }
        let Some(cpr) = Cpr::parse(&f(1)) else {
            err("cpr is not a valid CPR number (DDMMYY-SSSS with a real date)".into());
            continue;
        };
        let raadgiver = f(3);
        match cfg.directory.person(&raadgiver) {
            Some(p) if p.roles.iter().any(|r| r == "raadgiver") => {}
            Some(_) => {
                err(format!(
                    "raadgiver {raadgiver:?} does not have the role raadgiver in the directory"
                ));
                continue;
            }
            None => {
                err(format!("raadgiver {raadgiver:?} is not in the directory"));
                continue;
            }
        }
        let area = Some(f(4)).filter(|s| !s.is_empty());
        if let Some(a) = &area {
            if !modtag_config::roles::is_area(a) {
                err(format!(
                    "unknown area {a:?}: use one of {}",
                    modtag_config::roles::AREAS.join(", ")
                ));
                continue;
            }
        }
        let institution = Some(f(5)).filter(|s| !s.is_empty());
        if let Some(i) = &institution {
            if cfg.directory.institution(i).is_none() {
                err(format!("institution {i:?} is not in the directory"));
                continue;
            }
        }
        let open = match f(6).to_ascii_lowercase().as_str() {
            "open" | "åben" | "aaben" => true,
            "closed" | "lukket" => false,
            _ => {
                err("status must be open or closed".into());
                continue;
            }
        };
        if cases.iter().any(|c| c.case_number == case_number) {
            err(format!("case {case_number} appears twice"));
            continue;
        }
        cases.push(Case {
            case_number,
            cpr: cpr.formatted(),
            child_name: f(2),
            raadgiver,
            area,
            institution,
            open,
        });
    }
    if errors.is_empty() {
        Ok(cases)
    } else {
        Err(errors)
    }
}
