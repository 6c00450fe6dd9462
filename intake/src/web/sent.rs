//! The item page of a recipient who is not the intake's desk (a lokal leder, the
//! Børneskolerådgivere, a leader a TRIVSEL+ went to, the døgnvagt an akut decision named):
//! what the decision sent them, as `access::view` cut it. The reference and dates, the trin in
//! the barometer's words, the screening and its recommendation, the outcome, the consent,
//! whom else it went to by role, and the original only when their copy carried it.

use askama::Template;
use axum::response::Response;
use jiff::Timestamp;
use modtag_config::roles::role_words;
use modtag_router::deadline;
use modtag_storage::records::{Attachment, Item};

use super::queue::{row, Row};
use super::signin::page;

/// An attachment as the item pages list it (downloads only).
pub(super) struct AttachmentRow {
    pub index: usize,
    pub name: String,
    pub content_type: String,
    pub size: String,
    pub flagged: Option<String>,
}

/// Bytes as a person reads a size.
fn size(bytes: usize) -> String {
    match bytes {
        b if b < 1024 => format!("{b} B"),
        b if b < 1024 * 1024 => format!("{:.0} kB", b as f64 / 1024.0),
        b => format!("{:.1} MB", b as f64 / (1024.0 * 1024.0)),
    }
}

pub(super) fn attachment_rows(attachments: &[Attachment]) -> Vec<AttachmentRow> {
    attachments
        .iter()
        .enumerate()
        .map(|(index, a)| AttachmentRow {
            index,
            name: a.name.clone(),
            content_type: a.sniffed_type.clone(),
            size: size(a.size),
            flagged: a.flagged.clone(),
        })
        .collect()
}

/// The original, when the copy carried it.
struct Original<'a> {
    subject: &'a str,
    from: &'a str,
    reporter: String,
    text: &'a str,
    attachments: Vec<AttachmentRow>,
}

#[derive(Template)]
#[template(path = "item_sent.html")]
struct SentPage<'a> {
    /// A refused answer's reason and text (the forløb's answer form).
    kept: &'a super::kept::Kept,
    csrf: &'a str,
    summary: Row,
    /// "den lokale leder".
    role: &'a str,
    akut: bool,
    received: String,
    decided: Option<String>,
    trin: Option<String>,
    outcome: Option<String>,
    screening: String,
    recommendation: Option<&'static str>,
    consent: Option<String>,
    others: Vec<&'a str>,
    cprs: String,
    original: Option<Original<'a>>,
    may_take_over: bool,
    taken: Option<String>,
    forloeb: Option<super::forloeb::View>,
}

/// What a recipient in `role` reads of `item` (already cut to what was sent to them).
pub(super) fn render(
    csrf: &str,
    item: &Item,
    role: &str,
    text: Option<&str>,
    (forloeb, kept): (Option<super::forloeb::View>, super::kept::Kept),
    now: Timestamp,
) -> Response {
    let d = item.decision.as_ref();
    let assessed = d.map(|d| crate::words::assessment::of(d, crate::words::When::Spoken(now)));
    let taken = item.taken_over.first();
    let original = text.map(|text| {
        let r = &item.understanding.reporter;
        Original {
            subject: item.subject.as_deref().unwrap_or("(intet emne)"),
            from: item.from.as_deref().unwrap_or("(ukendt)"),
            reporter: [r.name.clone(), r.role.clone(), r.organisation.clone()]
                .into_iter()
                .flatten()
                .collect::<Vec<_>>()
                .join(", "),
            text,
            attachments: attachment_rows(&item.attachments),
        }
    });
    page(
        kept.status,
        SentPage {
            kept: &kept,
            csrf,
            summary: row(item, now),
            role: role_words(role),
            akut: d.is_some_and(|d| d.akut),
            received: deadline::spoken(item.received_at, now),
            decided: assessed.as_ref().map(|a| a.decided.clone()),
            trin: assessed.as_ref().and_then(|a| a.trin.clone()),
            outcome: assessed.as_ref().and_then(|a| a.outcome.clone()),
            screening: assessed
                .as_ref()
                .map_or(String::new(), |a| a.screening.clone()),
            recommendation: assessed.as_ref().and_then(|a| a.recommendation),
            consent: assessed.as_ref().and_then(|a| a.consent.clone()),
            others: d
                .map(|d| {
                    d.recipients
                        .iter()
                        .filter(|r| r.role != role)
                        .map(|r| role_words(&r.role))
                        .collect()
                })
                .unwrap_or_default(),
            cprs: item.cprs.join(", "),
            original,
            may_take_over: taken.is_none(),
            taken: taken.map(|t| deadline::spoken(t.at, now)),
            forloeb,
        }
        .render(),
    )
}
