//! What the journal package's PDF says about an intake (issue 31), as headed sections of
//! fields and text, in the desk's words with every time dated in full ([`When::Dated`]):
//! the intake, the sender and how it is known, the reading, the full text, each assessment
//! (replaced ones too), who received what, the tasks, the TRIVSEL+ forløb, the desk's
//! notes, and the intake's own trail of what happened. Nothing here is drawn: `pdf.rs`
//! lays it out.

use modtag_config::Loaded;
use modtag_storage::records::Item;

use crate::words::{self, When};

/// A record in sections, in reading order.
pub struct Record {
    pub title: String,
    pub sections: Vec<Section>,
}

pub struct Section {
    pub heading: &'static str,
    pub blocks: Vec<Block>,
}

pub enum Block {
    /// A label and its value, side by side.
    Field(&'static str, String),
    /// Text as written, its line breaks kept.
    Text(String),
    /// One line of a list.
    Line(String),
}

/// An attachment as the package holds it: its file name in the package and its hash.
pub struct Filed {
    pub path: String,
    pub media_type: String,
    pub size: usize,
    pub sha256: String,
    pub flagged: Option<String>,
}

const WHEN: When = When::Dated;

fn field(label: &'static str, value: impl Into<String>) -> Block {
    Block::Field(label, value.into())
}

fn optional(label: &'static str, value: Option<impl Into<String>>) -> Option<Block> {
    value.map(|v| field(label, v))
}

pub fn build(cfg: &Loaded, item: &Item, text: Option<&str>, files: &[Filed]) -> Record {
    let sections = vec![
        intake(cfg, item),
        sender(item),
        reading(item, files),
        Section {
            heading: "Henvendelsens tekst",
            blocks: vec![Block::Text(match text {
                Some(t) if !t.trim().is_empty() => t.to_string(),
                _ => "(ingen tekst)".into(),
            })],
        },
        assessments(item),
        routing(cfg, item),
        tasks(item),
        forloeb(item),
        Section {
            heading: "Modtagelsens noter",
            blocks: (item.staff_notes.iter())
                .map(|n| Block::Line(format!("{}, {}: {}", n.by, WHEN.at(n.at), n.text)))
                .collect(),
        },
        trail(item),
    ];
    Record {
        title: format!("{} {}", words::kind_name(item.kind), item.reference),
        sections: sections
            .into_iter()
            .filter(|s| !s.blocks.is_empty())
            .collect(),
    }
}

fn intake(cfg: &Loaded, item: &Item) -> Section {
    let kle = cfg.config.journal.kle.get(item.kind.as_str());
    let blocks = [
        Some(field("Reference", &item.reference)),
        Some(field("Modtaget", WHEN.at(item.received_at))),
        Some(field("Frist for vurdering", WHEN.at(item.deadline))),
        Some(field(
            "Kom ind",
            match item.transport.helo == "webformular" {
                true => format!("med webformularen til {}", item.channel.as_str()),
                false => format!("med e-mail til {}", item.channel.as_str()),
            },
        )),
        Some(field("Art", words::kind_name(item.kind))),
        Some(field("Tilstand", words::state(item.state))),
        Some(field(
            "CPR-nummer",
            match item.cprs.is_empty() {
                true => "intet fundet".to_string(),
                false => item.cprs.join(", "),
            },
        )),
        optional(
            "Barnets navn",
            (!item.child_names.is_empty()).then(|| item.child_names.join(", ")),
        ),
        optional("Sagsnummer", item.case_number.clone()),
        optional("KLE-emne", kle.cloned()),
        optional(
            "Journaliseret",
            item.journalised.as_ref().map(|j| words::filed(j, WHEN)),
        ),
        (item.repeated).then(|| field("Bemærk", "Gentagne underretninger om barnet")),
    ];
    Section {
        heading: "Henvendelsen",
        blocks: blocks.into_iter().flatten().collect(),
    }
}

fn sender(item: &Item) -> Section {
    let u = &item.understanding;
    let blocks = [
        Some(field("Underretter", words::reporter(&u.reporter))),
        Some(field("Afsenderens identitet", words::trust(item, WHEN))),
        optional("Fra", item.from.clone()),
        optional("Emne", item.subject.clone()),
        optional(
            "Oprindelig afsender",
            u.original.as_ref().map(words::original),
        ),
        optional(
            "Forbindelse",
            match item.transport.tls.as_str() {
                "" => None,
                "none" => Some("uden TLS".to_string()),
                tls => Some(format!("TLS ({tls})")),
            },
        ),
    ];
    Section {
        heading: "Afsender",
        blocks: blocks.into_iter().flatten().collect(),
    }
}

fn reading(item: &Item, files: &[Filed]) -> Section {
    let u = &item.understanding;
    let mut blocks = vec![field("Art bestemt ud fra", &u.kind_reason)];
    if !u.akut.is_empty() {
        blocks.push(field("Tegn på akut", u.akut.join(", ")));
    }
    blocks.extend(u.notes.iter().map(|n| Block::Line(n.clone())));
    if let Some(e) = &item.parse_error {
        blocks.push(field("Kunne ikke læses", e));
    }
    for f in files {
        blocks.push(Block::Line(format!(
            "Bilag {}: {}, {} byte, SHA-256 {}{}",
            f.path,
            f.media_type,
            f.size,
            f.sha256,
            f.flagged
                .as_deref()
                .map(|w| format!(" (markeret: {w})"))
                .unwrap_or_default()
        )));
    }
    Section {
        heading: "Læsning og bilag",
        blocks,
    }
}

fn assessments(item: &Item) -> Section {
    let mut blocks = Vec::new();
    let replaced = item.earlier_decisions.iter().map(|e| {
        let why = format!(
            "Erstattet {} af {}: {}",
            WHEN.at(e.replaced_at),
            e.replaced_by,
            e.reason
        );
        (&e.decision, Some(why))
    });
    for (d, replaced) in replaced.chain(item.decision.iter().map(|d| (d, None))) {
        let a = words::assessment::of(d, WHEN);
        blocks.push(field("Vurderet", a.decided));
        blocks.extend(optional("Trin", a.trin));
        blocks.extend(optional("Udfald", a.outcome));
        blocks.extend(optional("Anbefaling", a.recommendation));
        blocks.push(field(
            "Samtykke",
            a.consent
                .unwrap_or_else(|| "intet samtykke registreret".into()),
        ));
        blocks.push(field(
            "Screening",
            match a.screening.is_empty() {
                true => "ingen skrevet".to_string(),
                false => a.screening,
            },
        ));
        blocks.extend(optional("Status", replaced));
    }
    Section {
        heading: "Vurdering",
        blocks,
    }
}

fn routing(cfg: &Loaded, item: &Item) -> Section {
    let mut blocks = Vec::new();
    if let Some(d) = &item.decision {
        let what = match d.attach_original {
            true => "kopi med originalen",
            false => "kopi",
        };
        blocks.extend(
            (d.recipients.iter())
                .map(|r| Block::Line(format!("{what} til {}", words::recipient(cfg, r)))),
        );
        blocks.extend(optional("Ikke sendt", d.refused.clone()));
    }
    blocks.extend((item.taken_over.iter()).map(|t| {
        Block::Line(format!(
            "Modtaget af {} ({}) {}",
            t.person,
            t.user,
            WHEN.at(t.at)
        ))
    }));
    blocks.extend(
        (item.letters.iter())
            .map(|l| Block::Line(format!("Brev {}", words::letters::words(l, WHEN)))),
    );
    if let Some(k) = &item.kvittering {
        let sent = match (k.sent_at, &k.sent_by) {
            (Some(at), Some(by)) => format!("sendt {} af {by}", WHEN.at(at)),
            _ => format!("skal sendes senest {}", k.due),
        };
        blocks.push(field("Kvittering", sent));
    }
    Section {
        heading: "Fordeling",
        blocks,
    }
}

fn tasks(item: &Item) -> Section {
    let mut blocks = Vec::new();
    for t in &item.tasks {
        let state = words::task_done(t, WHEN).unwrap_or_else(|| match t.due {
            Some(due) => format!("åben, frist {}", WHEN.at(due)),
            None => "åben".into(),
        });
        blocks.push(field(words::task_name(t.kind), state));
        if let Some(letter) = &t.letter {
            blocks.push(Block::Text(letter.clone()));
        }
    }
    Section {
        heading: "Opgaver",
        blocks,
    }
}

fn forloeb(item: &Item) -> Section {
    let mut blocks = Vec::new();
    if let Some(f) = &item.forloeb {
        for a in &f.answers {
            let staff: Vec<&str> = a.staff.iter().map(|p| p.name.as_str()).collect();
            blocks.push(Block::Line(format!(
                "Lederens svar fra {} {}: {}",
                a.person,
                WHEN.at(a.at),
                staff.join(", ")
            )));
        }
        for l in &f.lists {
            blocks.push(Block::Line(format!(
                "Deltagerliste {} ({} deltagere), knyttet af {} {}",
                l.reference,
                l.participants.len(),
                l.linked_by,
                WHEN.at(l.at)
            )));
        }
        if let Some(m) = &f.meeting {
            let names: Vec<&str> = m.participants.iter().map(|p| p.name.as_str()).collect();
            blocks.push(Block::Line(format!(
                "Møde {} til {}, {}, booket af {} {}: {}",
                m.start,
                m.end,
                m.place,
                m.booked_by,
                WHEN.at(m.booked_at),
                names.join(", ")
            )));
            if let Some(c) = &m.cancelled {
                blocks.push(Block::Line(format!(
                    "Aflyst af {} {}: {}",
                    c.by,
                    WHEN.at(c.at),
                    c.reason
                )));
            }
        }
        for r in &f.reminders {
            blocks.push(Block::Line(format!(
                "Påmindelse om {} {}",
                r.step,
                WHEN.at(r.at)
            )));
        }
    }
    Section {
        heading: "TRIVSEL+ forløb",
        blocks,
    }
}

/// What happened to the intake in modtag, oldest first: its state changes and deadline
/// notices. Every read and change is also in modtag's audit log, which only the auditors'
/// key opens; the metadata names the log's head when the package was made.
fn trail(item: &Item) -> Section {
    let mut lines: Vec<(jiff::Timestamp, String)> = Vec::new();
    lines.push((item.received_at, "modtaget og gemt krypteret".into()));
    for t in &item.history {
        let note = match t.note.is_empty() {
            true => String::new(),
            false => format!(": {}", t.note),
        };
        lines.push((t.at, format!("{} af {}{note}", words::state(t.to), t.actor)));
    }
    for e in &item.escalations {
        lines.push((
            e.at,
            format!("fristpåmindelse (trin {}) til {}", e.stage, e.to.join(", ")),
        ));
    }
    if let Some(c) = &item.sender_confirmed {
        lines.push((c.at, format!("afsender bekræftet af {}", c.by)));
    }
    if let Some(j) = &item.journalised {
        lines.push((
            j.at,
            format!(
                "journaliseret af {} i {} som {}",
                j.by, j.system, j.document_id
            ),
        ));
    }
    lines.sort_by_key(|(at, _)| *at);
    Section {
        heading: "Forløb i modtag",
        blocks: (lines.into_iter())
            .map(|(at, what)| Block::Line(format!("{}: {what}", WHEN.at(at))))
            .collect(),
    }
}
