//! How modtag says what happened to an intake, in the desk's Danish: the sender and how it
//! is known, the reporter, a decision, its recipients, a task's fate, where it was filed.
//! One wording for the item page ("i går 16:05", [`When::Spoken`]) and the journal package,
//! which states every time in full because a record is read years later ([`When::Dated`]).

pub mod assessment;
pub mod letters;

use jiff::Timestamp;
use modtag_router::deadline;
use modtag_storage::records::{
    DecisionRecord, Item, Original, Reporter, RoutedTo, SenderTrust, Task, TaskKind, TaskOutcome,
};

/// How a time is said: seen from now on the desk, or dated in full in a record.
#[derive(Debug, Clone, Copy)]
pub enum When {
    Spoken(Timestamp),
    Dated,
}

impl When {
    pub fn at(self, ts: Timestamp) -> String {
        match self {
            When::Spoken(now) => deadline::spoken(ts, now),
            When::Dated => deadline::dated(ts),
        }
    }
}

pub fn kind_name(kind: modtag_config::Kind) -> &'static str {
    use modtag_config::Kind;
    match kind {
        Kind::Underretning => "Underretning",
        Kind::Lae165 => "LÆ 165",
        Kind::Postfordeling => "Postfordeling",
        Kind::Trivselplus => "TRIVSEL+",
    }
}

/// An intake's state as the queue says it.
pub fn state(state: modtag_storage::records::ItemState) -> &'static str {
    use modtag_storage::records::ItemState;
    match state {
        ItemState::AwaitingAssessment => "afventer vurdering",
        ItemState::AutoLinked => "sendt til sagens rådgiver, afventer vurdering",
        ItemState::Assessed => "vurderet",
        ItemState::Routed => "vurderet og videresendt",
        ItemState::Closed => "lukket",
    }
}

/// How the sender is known, as the desk says it.
pub fn trust(item: &Item, when: When) -> String {
    match (&item.sender_confirmed, item.sender_trust) {
        (_, SenderTrust::MitidErhverv) => match &item.signed_in {
            Some(s) => format!(
                "Logget ind med MitID Erhverv: {}, CVR {}, {} (sikringsniveau {})",
                s.name,
                s.cvr,
                s.organisation,
                if s.level == "High" {
                    "høj"
                } else {
                    "betydelig"
                }
            ),
            None => "Logget ind med MitID Erhverv".into(),
        },
        (_, SenderTrust::Authenticated) => {
            "godkendt: afsenderens domæne står inde for beskeden (DMARC bestået)".into()
        }
        (_, SenderTrust::Partner) => {
            "kendt partner: sendt over TLS fra partnerens egen server".into()
        }
        (Some(c), SenderTrust::Unverified) => {
            format!("bekræftet af {} {}: {}", c.by, when.at(c.at), c.how)
        }
        (None, SenderTrust::Unverified) => "ikke verificeret: afsenderen kan være hvem som helst. \
             Det, der afhænger af afsenderen (sagens rådgiver får den ikke automatisk, en \
             fagpersons tilbagemelding og originalen til institutionen, en deltagerliste), \
             venter, til en person har bekræftet afsenderen."
            .into(),
    }
}

/// The reporter in a line: fagperson, borger or anonym, and what is known of them.
pub fn reporter(r: &Reporter) -> String {
    [
        Some(modtag_config::vocab::reporter_words(r.kind).to_string()),
        r.name.clone(),
        r.organisation.clone(),
        r.email.clone(),
    ]
    .into_iter()
    .flatten()
    .collect::<Vec<_>>()
    .join(", ")
}

/// Where a forwarded intake first came from, in a line.
pub fn original(o: &Original) -> String {
    [
        o.from.as_deref().map(|f| format!("oprindeligt fra {f}")),
        o.date.as_deref().map(|d| format!("dateret {d}")),
        o.forwarded_by
            .as_deref()
            .map(|f| format!("videresendt af {f}")),
    ]
    .into_iter()
    .flatten()
    .collect::<Vec<_>>()
    .join(", ")
}

/// Whom a decision sent it to, in words: the person's name, their role, and the rule's
/// reason (the rule's id only when the tree has changed since).
pub fn recipient(cfg: &modtag_config::Loaded, r: &RoutedTo) -> String {
    let name = (cfg.directory.person(&r.person)).map_or(r.person.as_str(), |p| p.name.as_str());
    let role = modtag_config::roles::role_words(&r.role);
    // A functional mailbox is named as its role ("Modtagelsen"): said once.
    let who = match name.eq_ignore_ascii_case(role) {
        true => name.to_string(),
        false => format!("{name} ({role})"),
    };
    match cfg.tree.rules.iter().find(|rule| rule.id == r.rule) {
        Some(rule) => format!("{who}: {}", rule.reason),
        None => format!("{who} efter reglen {}", r.rule),
    }
}

/// "Trin 3, akut af modt, i går 10:00; Børnefaglig undersøgelse"
pub fn decision(d: &DecisionRecord, when: When) -> String {
    format!(
        "{}{} af {}, {}{}",
        d.trin
            .map_or("Uden trin".to_string(), |t| format!("Trin {t}")),
        if d.akut { ", akut" } else { "" },
        d.actor,
        when.at(d.at),
        d.screening_outcome
            .as_deref()
            .map(|o| format!("; {}", modtag_config::vocab::outcome_words(o)))
            .unwrap_or_default()
    )
}

/// "i eDoc som 2026-004711, registreret af modt i går 10:12" (issue 31).
pub fn filed(j: &modtag_storage::journal::Journalised, when: When) -> String {
    format!(
        "i {} som {}, registreret af {} {}",
        j.system,
        j.document_id,
        j.by,
        when.at(j.at)
    )
}

/// A journal package dropped for the case system, and whether its receipt came.
pub fn dropped(d: &modtag_storage::journal::Dropped, when: When) -> String {
    let receipt = match d.receipt_at {
        Some(at) => format!("kvittering modtaget {}", when.at(at)),
        None => "venter på sagssystemets kvittering".into(),
    };
    format!(
        "Journalpakke sendt til {} {} af {}; {receipt}.",
        d.system,
        when.at(d.at),
        d.by
    )
}

pub fn task_name(kind: TaskKind) -> &'static str {
    match kind {
        TaskKind::IndkaldUnderretningsmoede => "Indkald til underretningsmøde",
        TaskKind::Tilbagemelding => "Tilbagemelding til fagpersonen (§ 137)",
        TaskKind::Kvittering => "Kvittering sendes manuelt",
    }
}

/// "sendt i går 10:00 af modt: ..." once a task is done; `None` while it is open.
pub fn task_done(t: &Task, when: When) -> Option<String> {
    let at = t.done_at?;
    let how = match t.outcome {
        Some(TaskOutcome::Withheld) => "undladt",
        Some(TaskOutcome::Sent) => "sendt",
        _ => "udført",
    };
    Some(format!(
        "{how} {} af {}{}",
        when.at(at),
        t.done_by.as_deref().unwrap_or("?"),
        t.reason
            .as_deref()
            .map(|r| format!(": {r}"))
            .unwrap_or_default()
    ))
}
