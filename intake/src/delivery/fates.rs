//! What became of an outbox entry, as its intake records it: a kvittering delivered or
//! owed by hand, a Digital Post letter sent or refused (the outbox worker applies these to
//! the intake in the commit that records the delivery).

use jiff::Timestamp;
use modtag_storage::records::{Item, Task, TaskKind, TaskOutcome};
use modtag_storage::summary::ItemSummary;

/// A letter sent (its transmission id), or refused for good (why, and whether a mail went
/// instead).
pub type LetterFate = Result<String, (String, bool)>;

/// Records on the intake what became of its Digital Post letter `id`; true when it changed.
pub fn letter_outcome(item: &mut Item, id: u64, fate: &LetterFate, now: Timestamp) -> bool {
    let Some(letter) = item.letters.iter_mut().find(|l| l.outbox_id == id) else {
        return false;
    };
    match fate {
        Ok(transmission) => letter.sent = Some((now, transmission.clone())),
        Err((why, by_mail)) => {
            letter.failed = Some((now, why.clone()));
            letter.by_mail = *by_mail;
        }
    }
    true
}

/// Records on the intake what became of its kvittering; true when the item changed. Refused
/// for good, it is owed by hand (a task with the kvittering's due date, as for a reporter
/// without an address); delivered later (after `outbox retry`), that task is done.
pub fn kvittering_outcome(item: &mut Item, delivered: bool, now: Timestamp) -> bool {
    let Some(k) = item.kvittering.as_mut() else {
        return false;
    };
    let open_task = item
        .tasks
        .iter_mut()
        .find(|t| t.kind == TaskKind::Kvittering && t.done_at.is_none());
    match (delivered, open_task) {
        (false, Some(_)) => false,
        (false, None) => {
            k.sent_at = None;
            k.sent_by = None;
            k.manual = true;
            let due = k.due.parse::<jiff::civil::Date>().ok();
            item.tasks.push(Task {
                kind: TaskKind::Kvittering,
                created: now,
                due: due.map(modtag_router::calendar::end_of_day),
                done_at: None,
                done_by: None,
                outcome: None,
                letter: None,
                reason: Some(
                    "the reporter's address refused the kvittering for good: send it by hand"
                        .into(),
                ),
            });
            true
        }
        (true, Some(task)) if k.manual && k.sent_at.is_none() => {
            k.sent_at = Some(now);
            k.sent_by = Some("system".into());
            task.done_at = Some(now);
            task.done_by = Some("system".into());
            task.outcome = Some(TaskOutcome::Sent);
            true
        }
        (true, _) => false,
    }
}

/// Whether a delivered kvittering can change its intake, judged by the intake's clear
/// summary alone: only a kvittering no longer recorded as sent (owed by hand after a
/// refusal for good, by this entry or by a letter it stands in for) can. An intake without
/// a summary is read to find out.
pub fn kvittering_settled(summary: Option<&ItemSummary>) -> bool {
    summary.is_some_and(|s| s.kvittering_sent_at.is_some())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_refused_kvittering_is_owed_by_hand_until_it_goes_out() {
        let now = Timestamp::now();
        let mut item = Item::received(
            "MT-2026-000007",
            modtag_config::Channel::Underretning,
            modtag_config::Kind::Underretning,
            now,
            now,
            Default::default(),
        );
        item.kvittering = Some(modtag_storage::records::Kvittering {
            due: "2026-12-01".into(),
            sent_at: Some(now),
            sent_by: Some("system".into()),
            manual: false,
            to: None,
        });
        // Sent at once: its delivery changes nothing, and the summary says so.
        assert!(kvittering_settled(Some(&ItemSummary::of(&item))));
        assert!(!kvittering_outcome(&mut item.clone(), true, now));
        assert!(kvittering_outcome(&mut item, false, now));
        // Owed by hand: a delivery (a retry, or the mail in place of a refused letter)
        // changes it, and the summary says so.
        assert!(!kvittering_settled(Some(&ItemSummary::of(&item))));
        assert!(!kvittering_settled(None));
        let k = item.kvittering.clone().unwrap();
        assert!(k.manual && k.sent_at.is_none());
        let task = &item.tasks[0];
        assert_eq!(task.kind, TaskKind::Kvittering);
        assert_eq!(
            task.due.unwrap().to_string(),
            "2026-12-01T22:59:59Z",
            "end of the local day"
        );
        // Refused again after a retry: still one task.
        assert!(!kvittering_outcome(&mut item, false, now));
        assert_eq!(item.tasks.len(), 1);
        // Delivered after all: sent, and the task done by the system.
        assert!(kvittering_outcome(&mut item, true, now));
        assert_eq!(
            item.kvittering.as_ref().unwrap().sent_by.as_deref(),
            Some("system")
        );
        assert_eq!(item.tasks[0].outcome, Some(TaskOutcome::Sent));
        assert!(!kvittering_outcome(&mut item, true, now));
    }
}
