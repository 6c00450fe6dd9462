//! What the desk's lists and the reports need of an intake, without personal data: kept in
//! clear beside the encrypted item (the store's `item_state` tree), so that counting, the
//! SLA report, the overview and finding, filtering, sorting and paging the queue decrypt
//! nothing; only the page's rows are decrypted.

use jiff::Timestamp;
use serde::{Deserialize, Serialize};

use crate::records::{Channel, Item, ItemState, Kind};

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ItemSummary {
    pub state: ItemState,
    pub kind: Kind,
    pub received_at: Timestamp,
    pub deadline: Timestamp,
    /// The first assessment (a later one does not change when the 24 hours were met).
    pub first_assessed_at: Option<Timestamp>,
    /// The kvittering's local due date (`YYYY-MM-DD`) and when it was sent, if one is owed.
    pub kvittering_due: Option<String>,
    pub kvittering_sent_at: Option<Timestamp>,
    /// The mailbox it came in on. Summaries written before it was kept have none until the
    /// store re-summarises them at open.
    #[serde(default)]
    pub channel: Option<Channel>,
    /// When a TRIVSEL+ forløb's open step reminds its owner next.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub step_due: Option<Timestamp>,
    /// The start-meeting slot a forløb holds (local `YYYY-MM-DDTHH:MM`), so no other is
    /// booked into it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub slot: Option<String>,
    /// Akut: it leads the queues (issue 27).
    #[serde(default)]
    pub akut: bool,
    /// The døgnvagt was given it (`Item::with_doegnvagt`): on its queue while it awaits
    /// assessment.
    #[serde(default)]
    pub doegnvagt: bool,
    /// A person recorded where it was filed (issue 31); summaries from before say no.
    #[serde(default)]
    pub journalised: bool,
}

impl ItemSummary {
    pub fn of(item: &Item) -> ItemSummary {
        let first = item
            .earlier_decisions
            .first()
            .map(|e| &e.decision)
            .or(item.decision.as_ref());
        ItemSummary {
            state: item.state,
            kind: item.kind,
            received_at: item.received_at,
            deadline: item.deadline,
            first_assessed_at: first.map(|d| d.at),
            kvittering_due: item.kvittering.as_ref().map(|k| k.due.clone()),
            kvittering_sent_at: item.kvittering.as_ref().and_then(|k| k.sent_at),
            channel: Some(item.channel),
            step_due: item.forloeb.as_ref().and_then(|f| f.step_due),
            slot: item
                .forloeb
                .as_ref()
                .and_then(|f| f.meeting.as_ref())
                .filter(|m| m.cancelled.is_none())
                .map(|m| m.start.clone()),
            akut: item.akut(),
            doegnvagt: item.with_doegnvagt(),
            journalised: item.journalised.is_some(),
        }
    }
}
