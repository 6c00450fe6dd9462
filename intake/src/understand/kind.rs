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
        Channel::Postfordeling | Channel::Deltagerliste => Kind::Postfordeling,
        _ => Kind::Underretning,
    }
}

/// The reason given with [`fallback`].
pub fn unreadable_reason(channel: Channel) -> String {
    format!(
        "kunne ikke læses; sendt til postkassen {}, så en mulig underretning, som en person skal læse (den oprindelige besked er gemt)",
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
        Some("emnet nævner blanketten LÆ 165")
    } else if s.attachment_names.iter().any(|n| mentions(&fold(n))) {
        Some("et bilag hedder som blanketten LÆ 165")
    } else if mentions(s.folded_text) {
        Some("teksten er blanketten LÆ 165")
    } else {
        None
    }
}

pub fn decide(s: &Signals) -> (Kind, String) {
    let lae = lae165(s);
    let inner = match (s.trivsel.is_some(), lae) {
        (true, _) => "; originalen er en Trivsel+-henvendelse",
        (false, Some(_)) => "; originalen er en læges LÆ 165",
        _ => "",
    };
    if s.channel == Channel::Deltagerliste {
        return (
            Kind::Postfordeling,
            "sendt til postkassen for deltagerlister (TRIVSEL+-forløb): Journalen knytter den til forløbet".into(),
        );
    }
    if s.channel == Channel::Postfordeling || (s.from_journal && s.forwarded.is_some()) {
        let how = match s.forwarded {
            Some(o) => format!(
                "videresendt af Journalen; originalen fra {} fundet som {}",
                if o.from.is_some() {
                    "dens afsender"
                } else {
                    "en ukendt afsender"
                },
                o.style
            ),
            None => "sendt til postkassen postfordeling (ingen videresendt original fundet)".into(),
        };
        return (Kind::Postfordeling, format!("{how}{inner}"));
    }
    if let Some(t) = s.trivsel {
        let names = if t.unmatched.is_empty() {
            format!("{} navn(e) genkendt", t.matched.len())
        } else {
            format!(
                "{} navn(e) genkendt, {} overladt til Journalen",
                t.matched.len(),
                t.unmatched.len()
            )
        };
        return (
            Kind::Trivselplus,
            format!("emnet begynder med Trivsel+; {names}"),
        );
    }
    if let Some(where_) = lae {
        return (
            Kind::Lae165,
            format!("{where_}: en læges forslag om social-medicinsk hjælp, ikke bevis for en sag"),
        );
    }
    let reason = match s.channel {
        Channel::Trivselplus => {
            "kom gennem Send sikkert uden et Trivsel+-emne: en mulig underretning (enhver bekymring tæller)"
        }
        _ => "sendt til Modtagelsens postkasse",
    };
    (Kind::Underretning, reason.into())
}
