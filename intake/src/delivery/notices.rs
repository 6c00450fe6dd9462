//! The notices that tell Modtagelsen and its leader a copy did not arrive (a relay's
//! permanent refusal, Digital Post's refusal or a later failed receipt): what did not
//! arrive, to whom by role, and what to do; nothing about the case.

use jiff::Timestamp;
use modtag_storage::records::OutboxEntry;
use modtag_storage::store::Batch;

use super::compose;
use crate::app::App;

/// Queues a notice to Modtagelsen and its leader that `failed` will not arrive.
/// The notice names the intake, the recipient's role and id and the reply code; nothing
/// about the case.
pub(crate) fn tell_modtagelsen(
    app: &App,
    reference: &str,
    body: &str,
    batch: &mut Batch,
    now: Timestamp,
) {
    let cfg = app.policy.cfg();
    let subject = format!("Levering mislykkedes: {reference}");
    // Modtagelsen and its leader: when the copy that failed was Modtagelsen's own, its
    // address may be the wrong one, and the leader still hears of it.
    let mut told: Vec<&str> = Vec::new();
    let people = ["modtagelsen", "modtagelsen_leder"]
        .into_iter()
        .flat_map(|role| {
            cfg.directory
                .with_role(role)
                .into_iter()
                .map(move |p| (role, p))
        });
    for (role, person) in people {
        if told.contains(&person.id.as_str()) {
            continue;
        }
        let to = compose::PlainTo {
            role,
            person: &person.id,
            email: &person.email,
        };
        match compose::plain_entry(&app.store, &cfg, reference, to, &subject, body, now) {
            Ok(mut notice) => {
                notice.failure_notice = true;
                batch.outbox(notice);
                told.push(&person.id);
            }
            Err(e) => tracing::error!(error = %e, "cannot queue the failure notice"),
        }
    }
    if told.is_empty() {
        tracing::error!(%reference, "no one has the modtagelsen role to tell of a failed delivery");
    }
}

/// The text of a failure notice: what did not arrive, to whom by role, and what to do.
pub(crate) fn failure_notice_text(failed: &OutboxEntry, why: &str) -> String {
    let reference = &failed.reference;
    if let Some(letter) = failed
        .digital_post
        .as_ref()
        .filter(|_| failed.email.is_empty())
    {
        return letter_failed_text(
            reference,
            &format!("{} {}", letter.id_type, letter.id),
            &format!("afvist: {why}"),
        );
    }
    if let Some(letter) = &failed.digital_post {
        return format!(
            "Et brev til Digital Post ({} {}) om henvendelse {reference} blev afvist for godt              ({why}). Svaret er sendt med mail til modtageren i stedet; se under Breve i              Digital Post på henvendelsen, om det kom frem.
             Se henvendelsen i modtag: modtag triage show {reference}
",
            letter.id_type, letter.id
        );
    }
    let (what, todo) = match failed.role.as_str() {
        "reporter" => (
            "Kvitteringen til indberetteren".to_string(),
            format!(
                "Send kvitteringen på anden vis, og registrér den med\n  \
                 modtag triage task {reference} kvittering --done"
            ),
        ),
        "auditor" => (
            "Checkpointet af auditloggen til revisor".to_string(),
            "Giv IT-driften besked; checkpointet kan hentes med modtag audit checkpoint."
                .to_string(),
        ),
        // The role only: who the recipient is stays in modtag (under Fejlede leverancer),
        // since a plain notice must not tie a person to a case.
        role => (
            format!("Kopien til en modtager med rollen {role}"),
            "Se under Fejlede leverancer i modtag, hvem den var til; sørg for, at modtageren \
             får henvendelsen på anden vis, og ret adressen i kataloget, hvis den er forkert."
                .to_string(),
        ),
    };
    format!(
        "{what} om henvendelse {reference} kunne ikke leveres: mailserveren afviste den \
         permanent ({why}). Den bliver ikke forsøgt igen.\n{todo}\n\n\
         Når fejlen er rettet, kan den sendes igen: modtag outbox retry {id}\n\
         Se henvendelsen i modtag: modtag triage show {reference}\n",
        id = failed.id,
    )
}

/// The failure notice for a letter Digital Post took and a receipt later said failed: the
/// outbox has nothing left to retry, so a person gives the answer another way.
pub(crate) fn letter_failed_text(reference: &str, recipient: &str, why: &str) -> String {
    format!(
        "Et brev til Digital Post ({recipient}) om henvendelse {reference} kom ikke frem:          Digital Post meldte fejl, efter brevet var sendt ({why}).
         Giv modtageren svaret på anden vis (telefon eller mail), og skriv det på          henvendelsen; brevet står under Breve i Digital Post.
         Se henvendelsen i modtag: modtag triage show {reference}
"
    )
}
