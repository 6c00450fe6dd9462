//! A Digital Post letter's fate as the desk says it (issue 30): queued, taken by
//! Serviceplatformen (with its transmission id, for KOMBIT's support), or refused for good,
//! and then sent by mail instead.

use modtag_router::deadline;
use modtag_storage::records::DigitalPostLetter;

/// "sendt til institutionens Digital Post (CVR ...) ...".
pub fn words(l: &DigitalPostLetter, now: jiff::Timestamp) -> String {
    let to = format!("til Digital Post ({} {})", l.id_type, l.id);
    match (&l.sent, &l.failed) {
        (_, Some((at, why))) => format!(
            "{to}: afvist {} ({why}); sendt med mail i stedet, og Modtagelsen har fået besked",
            deadline::spoken(*at, now)
        ),
        (Some((at, transmission)), None) => format!(
            "{to}: modtaget af Serviceplatformen {} (forsendelse {transmission})",
            deadline::spoken(*at, now)
        ),
        (None, None) => format!("{to}: venter på at blive sendt"),
    }
}
