//! The kind of an intake, and the reason in plain words. Any concern counts: when nothing
//! else fits, an intake is a possible underretning, never dropped.
//!
//! The mailbox decides whose desk an intake is on (issue 26): Modtagelsen's `underretning@`
//! gives an underretning (or an LÆ 165), whatever its subject says; Journalen's mailboxes
//! give a TRIVSEL+ (a Trivsel+ subject, Journalen's own forward of one included) or
//! postfordeling. What a sender writes in the subject or text only adds to the reading, with
//! one exception that can only move an intake towards the 24-hour clock: akut signals put it
//! on Modtagelsen's desk from any mailbox.

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
    /// Akut words or phrases were found.
    pub akut: bool,
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
    let by_journal = s.from_journal && s.forwarded.is_some();
    if s.akut && s.channel != Channel::Underretning {
        return (
            Kind::Underretning,
            format!(
                "akut-signaler: en akut henvendelse er altid Modtagelsens, også når den kommer \
                 til postkassen {}",
                s.channel.as_str()
            ),
        );
    }
    match s.channel {
        Channel::Underretning => {
            let mut reason = match lae {
                Some(where_) => format!(
                    "{where_}: en læges forslag om social-medicinsk hjælp, ikke bevis for en sag"
                ),
                None => "sendt til Modtagelsens postkasse".into(),
            };
            if by_journal {
                reason.push_str("; videresendt af Journalen");
            }
            if s.trivsel.is_some() {
                reason.push_str(
                    "; emnet nævner Trivsel+ (det flytter den ikke: postkassen afgør, hvis bord den er på)",
                );
            }
            let kind = if lae.is_some() {
                Kind::Lae165
            } else {
                Kind::Underretning
            };
            (kind, reason)
        }
        Channel::Deltagerliste => (
            Kind::Postfordeling,
            "sendt til postkassen for deltagerlister (TRIVSEL+-forløb): Journalen knytter den til forløbet".into(),
        ),
        Channel::Trivselplus | Channel::Postfordeling => {
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
                let how = if by_journal || s.channel == Channel::Postfordeling {
                    "en Trivsel+-henvendelse videresendt til Journalens postkasse"
                } else {
                    "emnet begynder med Trivsel+"
                };
                return (Kind::Trivselplus, format!("{how}; {names}"));
            }
            let lae_note = if lae.is_some() {
                "; nævner blanketten LÆ 165 (er den en underretning, retter Journalen arten, og den går til Modtagelsen)"
            } else {
                ""
            };
            let how = match (s.channel, s.forwarded) {
                (Channel::Trivselplus, _) => {
                    "kom gennem Send sikkert uden et Trivsel+-emne: Journalen ser den igennem (er den en underretning, retter Journalen arten, og den går til Modtagelsen)".to_string()
                }
                (_, Some(o)) => format!(
                    "videresendt af Journalen; originalen fra {} fundet som {}",
                    if o.from.is_some() {
                        "dens afsender"
                    } else {
                        "en ukendt afsender"
                    },
                    o.style
                ),
                (_, None) => {
                    "sendt til postkassen postfordeling (ingen videresendt original fundet)".into()
                }
            };
            (Kind::Postfordeling, format!("{how}{lae_note}"))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn signals<'a>(channel: Channel, trivsel: Option<&'a TrivselNames>, akut: bool) -> Signals<'a> {
        Signals {
            channel,
            forwarded: None,
            from_journal: false,
            trivsel,
            subject: "",
            attachment_names: &[],
            folded_text: "",
            akut,
        }
    }

    /// The mailbox, not the subject, decides the desk (issue 26); akut goes to Modtagelsen.
    #[test]
    fn the_mailbox_decides_the_desk() {
        let t = TrivselNames::default();
        let rows = [
            (Channel::Underretning, Some(&t), false, Kind::Underretning),
            (Channel::Underretning, Some(&t), true, Kind::Underretning),
            (Channel::Trivselplus, Some(&t), false, Kind::Trivselplus),
            (Channel::Trivselplus, None, false, Kind::Postfordeling),
            (Channel::Trivselplus, Some(&t), true, Kind::Underretning),
            (Channel::Postfordeling, Some(&t), false, Kind::Trivselplus),
            (Channel::Postfordeling, None, false, Kind::Postfordeling),
            (Channel::Postfordeling, None, true, Kind::Underretning),
            (Channel::Deltagerliste, None, false, Kind::Postfordeling),
            (Channel::Deltagerliste, None, true, Kind::Underretning),
        ];
        for (channel, trivsel, akut, want) in rows {
            let (kind, why) = decide(&signals(channel, trivsel, akut));
            assert_eq!(
                kind,
                want,
                "{channel:?} trivsel {} akut {akut}: {why}",
                trivsel.is_some()
            );
        }
    }
}
