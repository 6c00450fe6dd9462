//! A Digital Post letter's fate as the desk says it (issue 30): queued, taken by
//! Serviceplatformen (with its transmission id, for KOMBIT's support), delivered to the
//! recipient's mailbox (KOMBIT's receipt), or refused: at once (then sent by mail instead)
//! or later by a receipt (then Modtagelsen is told).

use modtag_router::deadline;
use modtag_storage::records::DigitalPostLetter;

/// "sendt til institutionens Digital Post (CVR ...) ...".
pub fn words(l: &DigitalPostLetter, now: jiff::Timestamp) -> String {
    let to = format!("til Digital Post ({} {})", l.id_type, l.id);
    match (&l.sent, &l.failed) {
        // Refused by a later receipt: the letter had gone; Modtagelsen sees to it.
        (Some(_), Some((at, why))) => format!(
            "{to}: fejlet i Digital Post {} ({why}); Modtagelsen har fået besked",
            deadline::spoken(*at, now)
        ),
        (None, Some((at, why))) => format!(
            "{to}: afvist {} ({why}); {}",
            deadline::spoken(*at, now),
            if l.by_mail {
                "sendt med mail i stedet, og Modtagelsen har fået besked"
            } else {
                "Modtagelsen har fået besked og giver svaret på anden vis"
            }
        ),
        (Some((at, transmission)), None) => match l.delivered {
            Some(delivered) => format!(
                "{to}: afleveret i modtagerens digitale postkasse {}",
                deadline::spoken(delivered, now)
            ),
            None => format!(
                "{to}: modtaget af Serviceplatformen {} (forsendelse {transmission})",
                deadline::spoken(*at, now)
            ),
        },
        (None, None) => format!("{to}: venter på at blive sendt"),
    }
}
