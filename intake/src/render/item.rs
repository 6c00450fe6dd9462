//! The item page and the queue, for a terminal: what staff see first, then the message's
//! text, then the transport. Message text is printed as it was written, except that no
//! control or bidi character a sender wrote reaches the terminal (`text::safe`); everything
//! else is modtag's own reading.

use modtag_intake::api::types::{ItemList, ItemView};

use super::text::{or_dash, safe, safe_line};

/// `Some` values joined, the rest left out.
fn present(parts: &[&Option<String>]) -> String {
    parts
        .iter()
        .filter_map(|p| p.as_deref())
        .collect::<Vec<_>>()
        .join(", ")
}

fn line(k: &str, val: String) {
    println!("{k:>14}: {}", safe_line(&val));
}

/// What a recipient who is not the desk was sent (`access` "sent"), or that a new assessment
/// no longer sends it to them ("ended").
fn as_recipient(v: &ItemView) {
    line("reference", v.reference.clone());
    if v.access == "ended" {
        line(
            "access",
            format!(
                "no longer sent to you: a new assessment at {} did not send it to you again",
                or_dash(&v.ended_at)
            ),
        );
        return;
    }
    line("sent to you as", or_dash(&v.role));
    line("received", v.received_at.clone());
    if let Some(d) = &v.decision {
        line("assessed", format!("{} by {}", d.at, d.actor));
        if let Some(t) = d.trin {
            let words = modtag_config::vocab::trin_words(t).unwrap_or_default();
            line("trin", format!("{t} ({words})"));
        }
        if let Some(o) = &d.screening_outcome {
            line(
                "outcome",
                modtag_config::vocab::outcome_words(o).to_string(),
            );
        }
        if d.actions.iter().any(|a| a == "recommend_trivselplus") {
            line("recommended", "a TRIVSEL+ forløb".into());
        }
        if let Some(c) = &d.consent_record {
            line(
                "consent",
                format!("{}, {}, {}, to {}", c.given_by, c.how, c.at, c.scope),
            );
        }
        let others: Vec<&str> = d.recipients.iter().map(|r| r.role.as_str()).collect();
        line("routed to", others.join(", "));
        println!("\nScreening:\n{}", safe(d.note.trim()));
    }
    line("CPR", v.cpr.join(", "));
    match &v.text {
        Some(text) => {
            line("subject", or_dash(&v.subject));
            line("from", or_dash(&v.from));
            for a in &v.attachment_list {
                line("attachment", format!("{} ({} bytes)", a.name, a.size));
            }
            println!("\n{}", safe(text));
        }
        None => println!("\n(the original was not sent to you: you have the screening)"),
    }
}

pub fn item(v: &ItemView) {
    if v.access != "full" {
        return as_recipient(v);
    }
    history(v);
    sender(v);
    reading(v);
    transport(v);
    println!();
    println!("{}", safe(v.text.as_deref().unwrap_or("(no text)")));
}

/// What happened to it: state, deadline, earlier intakes and decisions, notices, tasks.
fn history(v: &ItemView) {
    let u = &v.understanding;
    line("reference", v.reference.clone());
    line("kind", format!("{} ({})", v.kind, u.kind_reason));
    line("state", v.state.clone());
    line(
        "deadline",
        format!(
            "{}{}",
            v.deadline_local,
            if v.overdue {
                "  OVERDUE: not assessed within the deadline"
            } else {
                ""
            }
        ),
    );
    if v.repeated {
        line("GENTAGNE", "gentagne underretninger om samme barn".into());
    }
    for e in &v.earlier_intakes {
        line(
            "earlier intake",
            format!("{} {} ({})", e.reference, e.received_at, e.kind),
        );
    }
    if let Some(k) = &v.kvittering {
        line(
            "kvittering",
            match k.sent_at {
                Some(at) => format!("sent {at} by {} (due {})", or_dash(&k.sent_by), k.due),
                None => format!("TO SEND BY HAND by {}", k.due),
            },
        );
    }
    for e in &v.earlier_decisions {
        line(
            "replaced",
            format!(
                "trin {} by {} at {}, replaced by {} at {}: {}",
                or_dash(&e.decision.trin),
                e.decision.actor,
                e.decision.at,
                e.replaced_by,
                e.replaced_at,
                e.reason
            ),
        );
    }
    for e in &v.escalations {
        line(
            "notified",
            format!(
                "stage {} at {} to {}",
                e.stage,
                e.at,
                serde_json::to_string(&e.to).unwrap_or_default()
            ),
        );
    }
    for t in &v.tasks {
        line(
            "task",
            format!(
                "{} {}",
                t.kind,
                match t.outcome {
                    Some(o) => format!("{o} by {}", or_dash(&t.done_by)),
                    None => "open".into(),
                }
            ),
        );
    }
    for n in &v.staff_notes {
        line(
            "desk note",
            format!("{} at {}: {}", n.by, n.at, safe(&n.text)),
        );
    }
}

/// Who sent it and about whom: akut signals, the sender and how it is known, the reporter,
/// CPR and CVR numbers.
fn sender(v: &ItemView) {
    let u = &v.understanding;
    if !u.akut.is_empty() {
        line("AKUT signals", u.akut.join(", "));
    }
    line("subject", or_dash(&v.subject));
    line("from", or_dash(&v.from));
    line(
        "sender known",
        match (&v.sender_confirmed, v.sender_trust.as_deref()) {
            (_, Some("authenticated")) => "authenticated (DMARC pass)".into(),
            (_, Some("partner")) => "a known partner, over TLS".into(),
            (_, Some("mitid_erhverv")) => "signed in with MitID Erhverv (NemLog-in)".into(),
            (Some(c), _) => format!("confirmed by {} at {}: {}", c.by, c.at, c.how),
            _ => "UNVERIFIED: anyone could have written this From (triage confirm-sender)".into(),
        },
    );
    if let Some(j) = &v.journalised {
        line(
            "journalised",
            format!(
                "in {} as {} by {} at {}",
                j.system, j.document_id, j.by, j.at
            ),
        );
    }
    if let Some(at) = v.address_confirmed_at {
        line(
            "reporter addr.",
            format!("confirmed by the reporter's one-time link at {at}"),
        );
    }
    if let Some(o) = &u.original {
        line("original from", or_dash(&o.from));
        line("original date", or_dash(&o.date));
        line("orig. subject", or_dash(&o.subject));
        line(
            "forwarded by",
            format!("{} (found as {})", or_dash(&o.forwarded_by), o.style),
        );
    }
    let r = &u.reporter;
    line(
        "reporter",
        format!(
            "{}: {} ({})",
            r.kind,
            present(&[&r.name, &r.role, &r.organisation, &r.email]),
            r.reason
        ),
    );
    line("CPR", v.cpr_full.join(", "));
    for c in &u.cvrs {
        line(
            "CVR",
            format!(
                "{} ({}{})",
                c.number,
                if c.valid { "valid" } else { "INVALID" },
                c.institution
                    .as_deref()
                    .map(|i| format!(", {i}"))
                    .unwrap_or_default()
            ),
        );
    }
}

/// What reading found: TRIVSEL+ names, OpenPGP, attachments, notes.
fn reading(v: &ItemView) {
    let u = &v.understanding;
    if let Some(t) = &u.trivsel {
        for m in &t.matched {
            line("Trivsel+ name", format!("{} → {}", m.written, m.name));
        }
        for m in &t.unmatched {
            line(
                "NOT MATCHED",
                format!(
                    "{} (for Journalen{})",
                    m.written,
                    m.suggestion
                        .as_deref()
                        .map(|s| format!("; perhaps {s}?"))
                        .unwrap_or_default()
                ),
            );
        }
    }
    if let Some(p) = &u.openpgp {
        line(
            "OpenPGP",
            format!(
                "{}, signature {}{}",
                if p.decrypted {
                    "decrypted"
                } else {
                    "NOT decrypted"
                },
                p.signature,
                p.signer
                    .as_deref()
                    .map(|s| format!(" by {s}"))
                    .unwrap_or_default()
            ),
        );
    }
    for a in &v.attachment_list {
        line(
            "attachment",
            format!(
                "{} ({}, {} bytes{}{})",
                a.name,
                a.sniffed_type,
                a.size,
                if a.inside.is_empty() {
                    String::new()
                } else {
                    format!(", inside {}", a.inside)
                },
                a.flagged
                    .as_deref()
                    .map(|f| format!("; FLAGGED: {f}, not shown inline"))
                    .unwrap_or_default()
            ),
        );
    }
    for n in &u.notes {
        line("note", n.clone());
    }
    if let Some(e) = &v.parse_error {
        line("could not read", e.clone());
    }
}

/// The case it is linked to and how it came.
fn transport(v: &ItemView) {
    line("case", or_dash(&v.case_number));
    let t = &v.transport;
    line(
        "transport",
        format!(
            "from {} (HELO {}), TLS {}, {} bytes",
            t.peer, t.helo, t.tls, t.size
        ),
    );
    if let Some(a) = &t.sender_auth {
        line(
            "sender auth",
            format!("SPF {}, DKIM {}, DMARC {}", a.spf, a.dkim, a.dmarc),
        );
    }
}

pub fn item_list(list: &ItemList) {
    if list.items.is_empty() {
        println!("no open intakes");
        return;
    }
    println!(
        "{:<9} {:<16} {:<14} {:<13} {:<22} {:<22} {:<20} CPR",
        "", "REFERENCE", "CHANNEL", "KIND", "RECEIVED (UTC)", "DEADLINE (local)", "STATE"
    );
    for i in &list.items {
        // Akut signals and flagged attachments are highlighted, never decided on.
        let marks = format!(
            "{}{}{}",
            if i.overdue { "LATE" } else { "" },
            if i.akut { "AKUT" } else { "" },
            if i.flagged_attachments > 0 { "!" } else { "" }
        );
        println!(
            "{:<9} {:<16} {:<14} {:<13} {:<22} {:<22} {:<20} {}",
            marks,
            i.reference,
            i.channel.as_str(),
            i.kind.as_str(),
            i.received_at,
            i.deadline_local,
            i.state,
            if i.cpr.is_empty() {
                "-".into()
            } else {
                i.cpr.join(" ")
            }
        );
    }
}
