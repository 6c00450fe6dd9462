//! A Digital Post letter's fate as the desk says it (issue 30): queued, taken by
//! Serviceplatformen (with its transmission id, for KOMBIT's support), delivered to the
//! recipient's mailbox (KOMBIT's receipt), or refused: at once (then sent by mail instead)
//! or later by a receipt (then Modtagelsen is told).

use modtag_storage::records::DigitalPostLetter;

/// "sendt til institutionens Digital Post (CVR ...) ...".
pub fn words(l: &DigitalPostLetter, when: super::When) -> String {
    let to = format!("til Digital Post ({} {})", l.id_type, l.id);
    match (&l.sent, &l.failed) {
        // Refused by a later receipt: the letter had gone; Modtagelsen sees to it.
        (Some(_), Some((at, why))) => format!(
            "{to}: fejlet i Digital Post {} ({why}); Modtagelsen har fået besked",
            when.at(*at)
        ),
        (None, Some((at, why))) => format!(
            "{to}: afvist {} ({why}); {}",
            when.at(*at),
            if l.by_mail {
                "sendt med mail i stedet, og Modtagelsen har fået besked"
            } else {
                "Modtagelsen har fået besked og giver svaret på anden vis"
            }
        ),
        (Some((at, transmission)), None) => match l.delivered {
            Some(delivered) => format!(
                "{to}: afleveret i modtagerens digitale postkasse {}",
                when.at(delivered)
            ),
            None => format!(
                "{to}: modtaget af Serviceplatformen {} (forsendelse {transmission})",
                when.at(*at)
            ),
        },
        (None, None) => format!("{to}: venter på at blive sendt"),
    }
}
