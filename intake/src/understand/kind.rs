//! The kind of an intake, and the reason in plain words. Any concern counts: when nothing
//! else fits, an intake is a possible underretning, never dropped.

use modtag_config::{Channel, Kind};
use modtag_storage::records::{Original, TrivselNames};

pub struct Signals<'a> {
    pub channel: Channel,
    pub forwarded: Option<&'a Original>,
    /// The sender is Journalen (a directory person with that role).
    pub from_journal: bool,
    pub trivsel: Option<&'a TrivselNames>,
    /// The original's subject for a forward, else the message's own.
    pub subject: &'a str,
    pub attachment_names: &'a [&'a str],
    /// Subject and text, folded (lower case, æøå transliterated, spaces collapsed).
    pub folded_text: &'a str,
}

/// The kind when a message cannot be read at all.
pub fn fallback(channel: Channel) -> Kind {
    match channel {
        Channel::Postfordeling => Kind::Postfordeling,
        _ => Kind::Underretning,
    }
}

/// The reason given with [`fallback`].
pub fn unreadable_reason(channel: Channel) -> String {
    format!(
        "could not be read; sent to the {} mailbox, so a possible underretning for a person to read (the raw message is kept)",
        channel.as_str()
    )
}

/// Where an LÆ 165 shows: `None` if nowhere.
fn lae165(s: &Signals) -> Option<&'static str> {
    let mentions = |folded: &str| {
        [
            "lae 165",
            "lae165",
            "lae-165",
            "lae nr 165",
            "laegeerklaering 165",
        ]
        .iter()
        .any(|m| folded.contains(m))
    };
    let fold = modtag_router::names::fold;
    if mentions(&fold(s.subject)) {
        Some("the subject names the form LÆ 165")
    } else if s.attachment_names.iter().any(|n| mentions(&fold(n))) {
        Some("an attachment is named as the form LÆ 165")
    } else if mentions(s.folded_text) {
        Some("the text is the form LÆ 165")
    } else {
        None
    }
}

pub fn decide(s: &Signals) -> (Kind, String) {
    let lae = lae165(s);
    let inner = match (s.trivsel.is_some(), lae) {
        (true, _) => "; the original is a Trivsel+ submission",
        (false, Some(_)) => "; the original is a GP's LÆ 165",
        _ => "",
    };
    if s.channel == Channel::Postfordeling || (s.from_journal && s.forwarded.is_some()) {
        let how = match s.forwarded {
            Some(o) => format!(
                "forwarded by journal staff; original from {} found as {}",
                if o.from.is_some() {
                    "its sender"
                } else {
                    "an unknown sender"
                },
                o.style
            ),
            None => "sent to the postfordeling mailbox (no forwarded original found)".into(),
        };
        return (Kind::Postfordeling, format!("{how}{inner}"));
    }
    if let Some(t) = s.trivsel {
        let names = if t.unmatched.is_empty() {
            format!("{} name(s) matched", t.matched.len())
        } else {
            format!(
                "{} name(s) matched, {} left for Journalen",
                t.matched.len(),
                t.unmatched.len()
            )
        };
        return (
            Kind::Trivselplus,
            format!("the subject starts with Trivsel+; {names}"),
        );
    }
    if let Some(where_) = lae {
        return (
            Kind::Lae165,
            format!("{where_}: a GP's proposal for social-medical help, not proof of a case"),
        );
    }
    let reason = match s.channel {
        Channel::Trivselplus => {
            "came through Send sikkert without a Trivsel+ subject: a possible underretning (any concern counts)"
        }
        _ => "sent to Modtagelsen's mailbox",
    };
    (Kind::Underretning, reason.into())
}
