//! The journal package's metadata (issue 31), as JSON and as XML with the same content,
//! for the case system's import: the intake's reference, dates, kind, CPR, case number,
//! KLE emne, the assessment's outcome, and the name, size and SHA-256 of every other file
//! in the package. Their schemas are `deploy/journal/journalpakke.schema.json` and
//! `deploy/journal/journalpakke.xsd`; `tests/e2e/journal_package.rs` validates both.

use modtag_router::deadline::rfc3339;
use modtag_storage::records::{Item, ItemState};
use serde::Serialize;

/// The format's name and version, in both files.
pub const FORMAT: &str = "modtag-journalpakke/1";

#[derive(Debug, Serialize)]
pub struct Metadata {
    pub format: &'static str,
    pub package_id: String,
    pub created: String,
    pub created_by: String,
    pub reference: String,
    pub kind: &'static str,
    pub channel: &'static str,
    pub received: String,
    pub assessment_deadline: String,
    pub assessed: Option<String>,
    pub closed: Option<String>,
    pub state: &'static str,
    pub cpr: Vec<String>,
    pub case_number: Option<String>,
    pub kle: Option<String>,
    pub trin: Option<u8>,
    pub akut: bool,
    pub outcome: Option<String>,
    pub journalised: Option<Filed>,
    /// The audit log's head when the package was made: its entries about this intake
    /// (every read and change) precede it, and the auditors can verify them against it.
    pub audit_head: AuditHead,
    pub files: Vec<File>,
}

#[derive(Debug, Serialize)]
pub struct Filed {
    pub system: String,
    pub document_id: String,
}

#[derive(Debug, Serialize)]
pub struct AuditHead {
    pub sequence: u64,
    pub sha256: String,
}

#[derive(Debug, Clone, Serialize)]
pub struct File {
    pub name: String,
    /// `record` (the PDF) or `attachment`.
    pub role: &'static str,
    pub media_type: String,
    pub size: usize,
    pub sha256: String,
}

impl Metadata {
    pub fn new(
        item: &Item,
        kle: Option<&String>,
        (package_id, created, created_by): (&str, jiff::Timestamp, &str),
        audit_head: AuditHead,
        files: Vec<File>,
    ) -> Metadata {
        let decided = item.decision.as_ref();
        let closed = (item.state == ItemState::Closed)
            .then(|| {
                item.history
                    .iter()
                    .rev()
                    .find(|t| t.to == ItemState::Closed)
            })
            .flatten();
        Metadata {
            format: FORMAT,
            package_id: package_id.to_string(),
            created: rfc3339(created),
            created_by: created_by.to_string(),
            reference: item.reference.clone(),
            kind: item.kind.as_str(),
            channel: item.channel.as_str(),
            received: rfc3339(item.received_at),
            assessment_deadline: rfc3339(item.deadline),
            assessed: decided.map(|d| rfc3339(d.at)),
            closed: closed.map(|t| rfc3339(t.at)),
            state: item.state.as_str(),
            cpr: item.cprs.clone(),
            case_number: item.case_number.clone(),
            kle: kle.cloned(),
            trin: decided.and_then(|d| d.trin),
            akut: item.akut(),
            outcome: decided.and_then(|d| d.screening_outcome.clone()),
            journalised: item.journalised.as_ref().map(|j| Filed {
                system: j.system.clone(),
                document_id: j.document_id.clone(),
            }),
            audit_head,
            files,
        }
    }

    pub fn json(&self) -> Vec<u8> {
        let mut out = serde_json::to_vec_pretty(self).unwrap_or_default();
        out.push(b'\n');
        out
    }

    /// The same content as XML in the namespace `urn:modtag:journalpakke:1`: one element
    /// per field in the JSON's order, absent when the JSON has `null`.
    pub fn xml(&self) -> Vec<u8> {
        let mut x = Xml(String::from(
            "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n\
             <journalpakke xmlns=\"urn:modtag:journalpakke:1\">\n",
        ));
        x.el("format", Some(self.format));
        x.el("package_id", Some(&self.package_id));
        x.el("created", Some(&self.created));
        x.el("created_by", Some(&self.created_by));
        x.el("reference", Some(&self.reference));
        x.el("kind", Some(self.kind));
        x.el("channel", Some(self.channel));
        x.el("received", Some(&self.received));
        x.el("assessment_deadline", Some(&self.assessment_deadline));
        x.el("assessed", self.assessed.as_deref());
        x.el("closed", self.closed.as_deref());
        x.el("state", Some(self.state));
        for cpr in &self.cpr {
            x.el("cpr", Some(cpr));
        }
        x.el("case_number", self.case_number.as_deref());
        x.el("kle", self.kle.as_deref());
        x.el("trin", self.trin.map(|t| t.to_string()).as_deref());
        x.el("akut", Some(if self.akut { "true" } else { "false" }));
        x.el("outcome", self.outcome.as_deref());
        if let Some(j) = &self.journalised {
            x.0.push_str("  <journalised>\n");
            x.el("system", Some(&j.system));
            x.el("document_id", Some(&j.document_id));
            x.0.push_str("  </journalised>\n");
        }
        x.0.push_str("  <audit_head>\n");
        x.el("sequence", Some(&self.audit_head.sequence.to_string()));
        x.el("sha256", Some(&self.audit_head.sha256));
        x.0.push_str("  </audit_head>\n  <files>\n");
        for f in &self.files {
            x.0.push_str("  <file>\n");
            x.el("name", Some(&f.name));
            x.el("role", Some(f.role));
            x.el("media_type", Some(&f.media_type));
            x.el("size", Some(&f.size.to_string()));
            x.el("sha256", Some(&f.sha256));
            x.0.push_str("  </file>\n");
        }
        x.0.push_str("  </files>\n</journalpakke>\n");
        x.0.into_bytes()
    }
}

struct Xml(String);

impl Xml {
    fn el(&mut self, name: &str, value: Option<&str>) {
        let Some(value) = value else { return };
        self.0
            .push_str(&format!("  <{name}>{}</{name}>\n", escape(value)));
    }
}

/// Text as XML character data: markup escaped, and characters XML 1.0 cannot hold at all
/// (most control characters) left out.
fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\t' | '\n' | '\r' => out.push(c),
            c if (c as u32) < 0x20 || c == '\u{FFFE}' || c == '\u{FFFF}' => {}
            c => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    #[test]
    fn markup_and_control_characters_do_not_reach_the_xml() {
        assert_eq!(
            super::escape("a<b>&\"c\u{1}\u{FFFF}æ"),
            "a&lt;b&gt;&amp;&quot;cæ"
        );
    }
}
