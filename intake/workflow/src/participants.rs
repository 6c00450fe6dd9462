//! A participant list for a TRIVSEL+ forløb (issue 16, flow 2 step 4): the people in a
//! form's lines or in the private leader's mail, and the forløb a mail to the
//! participant-list mailbox belongs to (the reference in its subject, or the sender's
//! institution and the names).

use modtag_config::{Kind, Loaded};
use modtag_storage::forloeb::Participant;
use modtag_storage::records::Item;
use modtag_storage::{Store, StoreError};

use super::forloeb::known_participants;
use crate::understand::Reading;

/// The forløb a participant list belongs to: the reference in its subject, else the one
/// open forløb of the sender's institution (by a CVR in the text, the sender's domain or
/// leader's address) still without a list, the list's names deciding between several.
pub fn find_forloeb(
    store: &Store,
    cfg: &Loaded,
    reading: &Reading,
) -> Result<Option<(String, &'static str)>, StoreError> {
    if let Some(r) = reading.subject.as_deref().and_then(reference_in) {
        if store.item(&r)?.is_some_and(|i| i.forloeb.is_some()) {
            return Ok(Some((r, "reference")));
        }
    }
    let sender = reading
        .from
        .as_deref()
        .and_then(participant_address)
        .unwrap_or_default();
    let domain = sender.rsplit_once('@').map_or("", |(_, d)| d);
    let by_cvr = reading
        .understanding
        .cvrs
        .iter()
        .find_map(|c| c.institution.clone());
    let by_sender = cfg.directory.institutions.values().find(|i| {
        i.domains
            .iter()
            .any(|d| domain.eq_ignore_ascii_case(d) || domain.ends_with(&format!(".{d}")))
            || cfg
                .directory
                .person(&i.leader)
                .is_some_and(|p| !sender.is_empty() && p.email.eq_ignore_ascii_case(&sender))
    });
    let Some(institution) = by_cvr.or_else(|| by_sender.map(|i| i.id.clone())) else {
        return Ok(None);
    };
    // Only open forløb wait for a step: their clear summaries say so, nothing else is read.
    let refs: Vec<String> = store
        .summaries_by_reference()?
        .into_iter()
        .filter(|(_, s)| s.kind == Kind::Trivselplus && s.state.is_open() && s.step_due.is_some())
        .map(|(r, _)| r)
        .collect();
    let items = store.items_by_reference(&refs)?;
    let waiting: Vec<&Item> = items
        .iter()
        .filter(|i| {
            i.decision.as_ref().and_then(|d| d.institution.as_deref()) == Some(&institution)
                && i.forloeb.as_ref().is_some_and(|f| f.lists.is_empty())
        })
        .collect();
    if let [one] = waiting.as_slice() {
        return Ok(Some((one.reference.clone(), "cvr")));
    }
    let text = reading.text.to_lowercase();
    let named: Vec<&&Item> = waiting
        .iter()
        .filter(|i| {
            let known = i
                .forloeb
                .as_ref()
                .map(known_participants)
                .unwrap_or_default();
            !known.is_empty() && known.iter().all(|p| text.contains(&p.email.to_lowercase()))
        })
        .collect();
    Ok(match named.as_slice() {
        [one] => Some((one.reference.clone(), "cvr og navne")),
        _ => None,
    })
}

/// Whether a participant list for the forløb on `forloeb` comes from its institution: the
/// institution leader's address, or one of its registered domains (issue 26; anyone could
/// put a forløb's reference in a subject).
pub fn from_institution(cfg: &Loaded, forloeb: &Item, reading: &Reading) -> bool {
    let Some(sender) = reading.from.as_deref().and_then(participant_address) else {
        return false;
    };
    let domain = sender.rsplit_once('@').map_or("", |(_, d)| d);
    let Some(institution) = forloeb
        .decision
        .as_ref()
        .and_then(|d| d.institution.as_deref())
        .and_then(|i| cfg.directory.institution(i))
    else {
        return false;
    };
    institution.domains.iter().any(|d| {
        domain.eq_ignore_ascii_case(d) || domain.to_ascii_lowercase().ends_with(&format!(".{d}"))
    }) || cfg
        .directory
        .person(&institution.leader)
        .is_some_and(|p| p.email.eq_ignore_ascii_case(&sender))
}

/// A participant list held for Journalen (its sender unproven or not the institution's),
/// joined to its forløb once a person has confirmed the sender: found and joined as at
/// intake, in one batch under both intakes' locks. `Ok(None)` when there is no forløb to
/// join (it stays on Journalen's desk).
pub fn join_confirmed(
    store: &Store,
    cfg: &Loaded,
    reader: &crate::understand::Reader,
    reference: &str,
    actor: &str,
    now: jiff::Timestamp,
) -> Result<Option<String>, StoreError> {
    let held = |list: &modtag_storage::records::Item| {
        list.channel == modtag_config::Channel::Deltagerliste
            && list.kind == Kind::Postfordeling
            && list.state.awaits_assessment()
            && list.sender_known()
    };
    // Which forløb, read before locking: then both intakes are locked together (two locks
    // one after the other could wait on each other, or on themselves when they share a
    // stripe) and read again.
    let Some(list) = store.item(reference)?.filter(held) else {
        return Ok(None);
    };
    let Some(raw) = store.message(reference)? else {
        return Ok(None);
    };
    let reading = reader.read(&raw, list.channel);
    let Some((forloeb_ref, _)) = find_forloeb(store, cfg, &reading)? else {
        return Ok(None);
    };
    let _held = store.lock_items(&[reference, &forloeb_ref]);
    let (Some(mut list), Some(mut forloeb)) = (
        store.item(reference)?.filter(held),
        store.item(&forloeb_ref)?,
    ) else {
        return Ok(None);
    };
    // Confirming who sent it does not make a stranger the institution: only its own list
    // joins, as at intake.
    if !from_institution(cfg, &forloeb, &reading) {
        return Ok(None);
    }
    let people = find_participants(&reading.text);
    let mut batch = modtag_storage::store::Batch::new();
    super::forloeb::link_list(cfg, &mut forloeb, reference, actor, people, &mut batch, now);
    let note = format!(
        "deltagerliste knyttet til TRIVSEL+ {forloeb_ref} af {actor}, da afsenderen var bekræftet"
    );
    list.transition(
        modtag_storage::records::ItemState::Assessed,
        actor,
        now,
        &note,
    );
    list.transition(
        modtag_storage::records::ItemState::Closed,
        actor,
        now,
        &note,
    );
    batch.item(forloeb);
    batch.item(list);
    store.commit(batch, now)?;
    Ok(Some(forloeb_ref))
}

/// An intake reference (`MT-2026-000123`) in a subject.
fn reference_in(subject: &str) -> Option<String> {
    let b = subject.as_bytes();
    (0..b.len().saturating_sub(13)).find_map(|i| {
        let w = &b[i..i + 14];
        let digits = |r: std::ops::Range<usize>| w[r].iter().all(u8::is_ascii_digit);
        (w[..3].eq_ignore_ascii_case(b"MT-") && digits(3..7) && w[7] == b'-' && digits(8..14))
            .then(|| String::from_utf8_lossy(w).to_ascii_uppercase())
    })
}

fn participant_address(from: &str) -> Option<String> {
    let word = from
        .split(|c: char| c.is_whitespace() || matches!(c, '<' | '>' | ',' | ';' | '(' | ')'))
        .find(|w| w.contains('@'))?;
    crate::address::valid(word).then(|| word.to_string())
}

/// Lines of `Navn <e-post>` (or `Navn, e-post`), one person each, as a person types them in
/// a form; an error names the line and what is wrong.
pub fn parse_participants(text: &str) -> Result<Vec<Participant>, String> {
    let mut out: Vec<Participant> = Vec::new();
    for (n, line) in text.lines().enumerate() {
        let line = line.trim();
        if line.is_empty() {
            continue;
        }
        let p = participant(line).ok_or_else(|| {
            format!(
                "Linje {}: skriv navn og e-postadresse, fx \"Anne Jensen <anne.jensen@kommune.dk>\".",
                n + 1
            )
        })?;
        if !out.iter().any(|o| o.email.eq_ignore_ascii_case(&p.email)) {
            out.push(p);
        }
    }
    if out.is_empty() {
        return Err("Skriv mindst én deltager med navn og e-postadresse.".into());
    }
    Ok(out)
}

/// Every line of a mail that holds a name and an address: the private leader's list.
pub fn find_participants(text: &str) -> Vec<Participant> {
    let mut out: Vec<Participant> = Vec::new();
    for line in text.lines().filter_map(|l| participant(l.trim())) {
        if !out
            .iter()
            .any(|o| o.email.eq_ignore_ascii_case(&line.email))
        {
            out.push(line);
        }
    }
    out
}

fn participant(line: &str) -> Option<Participant> {
    let line = line.trim_start_matches(['-', '*', '•', ' ']);
    let word = line
        .split(|c: char| c.is_whitespace() || matches!(c, '<' | '>' | ',' | ';' | '(' | ')'))
        .find(|w| w.contains('@'))?;
    let email = participant_address(word.trim_matches(['.', ':']))?;
    let name: String = line
        .replace(word, " ")
        .chars()
        .filter(|c| !matches!(c, '<' | '>' | ',' | ';' | '(' | ')' | ':') && !c.is_control())
        .collect::<String>()
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ");
    (!name.is_empty() && name.chars().count() <= 200).then_some(Participant { name, email })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn participants_from_a_form_and_from_a_mail() {
        let typed = "Anne Jensen <anne.jensen@kommune.dk>\n\n  Bo Ås, bo.aas@kommune.dk\n";
        let got = parse_participants(typed).unwrap();
        assert_eq!(
            got,
            vec![
                Participant {
                    name: "Anne Jensen".into(),
                    email: "anne.jensen@kommune.dk".into()
                },
                Participant {
                    name: "Bo Ås".into(),
                    email: "bo.aas@kommune.dk".into()
                },
            ]
        );
        let e = parse_participants("Anne Jensen <anne.jensen@kommune.dk>\nBo uden adresse")
            .unwrap_err();
        assert!(e.starts_with("Linje 2"), "{e}");
        assert!(parse_participants(" \n").is_err());
        assert!(
            parse_participants("<anne@kommune.dk>").is_err(),
            "a name is needed"
        );

        let mail = "Hej\r\n\r\nHer er deltagerne:\r\n- Anne Jensen (anne.jensen@kommune.dk)\r\n\
                    * Ole Krog: leder@mariehoenen.dk\r\nVenlig hilsen\r\nOle\r\n";
        let found = find_participants(mail);
        assert_eq!(found.len(), 2, "{found:?}");
        assert_eq!(found[1].name, "Ole Krog");
    }

    #[test]
    fn a_reference_is_found_in_a_subject() {
        assert_eq!(
            reference_in("Sv: Deltagere til mt-2026-000123, tak").as_deref(),
            Some("MT-2026-000123")
        );
        assert_eq!(reference_in("MT-2026-00012"), None);
        assert_eq!(reference_in("Deltagere"), None);
    }
}
