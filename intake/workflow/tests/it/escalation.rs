//! Escalation from the store with an injected clock: each stage goes out once, at its hour,
//! to the right people for the time of day; a restart in the middle sends nothing twice,
//! and stages that fell due while modtag was down go out when it is back.

use jiff::{Timestamp, ToSpan};
use modtag_storage::keys::DataKeys;
use modtag_storage::records::{Escalation, Item, ItemState, Kind, Transport};
use modtag_storage::store::Batch;
use modtag_storage::Store;
use modtag_workflow::escalation::{due_stages, tick};

fn item(reference: &str, received: Timestamp) -> Item {
    let mut it = Item::received(
        reference,
        modtag_config::Channel::Underretning,
        modtag_config::Kind::Underretning,
        received,
        received + 24.hours(),
        Transport::default(),
    );
    it.subject = Some("Bekymring for Emil".into());
    it.cprs = vec!["120315-4321".into()];
    it
}

/// Opens the store, also again after a drop in this process: sled's background threads
/// may hold the directory lock for a moment after the last handle is dropped.
fn open(dir: &std::path::Path) -> Store {
    for _ in 0..100 {
        let (keys, _) = DataKeys::init_or_load(dir, None).unwrap();
        let keys = keys.with_auditors(modtag_config::load_embedded().unwrap().auditors);
        match Store::open(dir, keys, Timestamp::now()) {
            Ok(store) => return store,
            Err(modtag_storage::StoreError::Locked) => {
                std::thread::sleep(std::time::Duration::from_millis(50))
            }
            Err(e) => panic!("{e}"),
        }
    }
    panic!("the store stayed locked after it was dropped");
}

fn recipients(store: &Store) -> Vec<String> {
    let mut v: Vec<String> = store
        .outbox()
        .unwrap()
        .into_iter()
        .map(|e| e.email)
        .collect();
    v.sort();
    v
}

#[test]
fn stages_go_out_once_across_a_restart() {
    let cfg = modtag_config::load_embedded().unwrap();
    let dir = tempfile::tempdir().unwrap();
    // Monday 23 November 2026, 21:00 in Copenhagen: the office is closed.
    let t0: Timestamp = "2026-11-23T20:00:00Z".parse().unwrap();
    let store = open(dir.path());
    let mut b = Batch::new();
    b.item(item("MT-2026-000001", t0));
    store.commit(b, t0).unwrap();
    store.flush().unwrap();

    assert_eq!(tick(&store, &cfg, t0 + 11.hours()).unwrap(), 0);
    // 12 h: Tuesday 09:00 local, open: Modtagelsen's mailbox.
    assert_eq!(tick(&store, &cfg, t0 + 12.hours()).unwrap(), 1);
    assert_eq!(recipients(&store), ["modtagelsen@kommune.localhost"]);
    assert_eq!(
        tick(&store, &cfg, t0 + 12.hours() + 5.minutes()).unwrap(),
        0
    );

    // A restart: the sent stage is remembered.
    drop(store);
    let store = open(dir.path());
    assert_eq!(tick(&store, &cfg, t0 + 13.hours()).unwrap(), 0);

    // Down over Modtagelsen's closing (15:30), 18 h and 22 h; back at 23 h (Tuesday 20:00
    // local, closed): its deadline (21:00) falls before Modtagelsen opens, so it is the
    // døgnvagt's now; and both stages go out once, the last to the leader and the døgnvagt.
    drop(store);
    let store = open(dir.path());
    assert_eq!(tick(&store, &cfg, t0 + 23.hours()).unwrap(), 3);
    assert_eq!(tick(&store, &cfg, t0 + 23.hours()).unwrap(), 0);
    let it = store.item("MT-2026-000001").unwrap().unwrap();
    let stages: Vec<u8> = it.escalations.iter().map(|e| e.stage).collect();
    assert_eq!(stages, [1, Escalation::HANDOVER, 2, 3]);
    assert_eq!(
        recipients(&store),
        [
            "doegnvagt@kommune.localhost",
            "doegnvagt@kommune.localhost",
            "lene.holm@kommune.localhost",
            "lene.holm@kommune.localhost",
            "modtagelsen@kommune.localhost",
        ]
    );
    // Notices carry the reference and the deadline, nothing about the case.
    for e in store.outbox().unwrap() {
        assert!(e.message.contains("MT-2026-000001"));
        assert!(!e.message.contains("Emil") && !e.message.contains("120315"));
    }
    assert!(modtag_workflow::escalation::overdue(&it, t0 + 25.hours()));
    assert!(!modtag_workflow::escalation::overdue(&it, t0 + 23.hours()));
}

#[test]
fn assessed_items_are_not_escalated_and_stages_follow_the_office_hours() {
    let cfg = modtag_config::load_embedded().unwrap();
    let t0: Timestamp = "2026-11-23T08:00:00Z".parse().unwrap();
    let mut it = item("MT-2026-000002", t0);
    assert_eq!(due_stages(&cfg, &it, t0 + 19.hours()), [1, 2]);
    // Akut: its own short clock, one stage (the leader) when it runs out.
    it.understanding.akut = vec!["akut".into()];
    assert!(due_stages(&cfg, &it, t0 + 1.hours()).is_empty());
    assert_eq!(due_stages(&cfg, &it, t0 + 2.hours()), [3]);
    it.state = ItemState::Assessed;
    assert!(due_stages(&cfg, &it, t0 + 30.hours()).is_empty());
    use modtag_workflow::escalation::stage_roles;
    let u = Kind::Underretning;
    assert_eq!(stage_roles(u, 0, true), ["modtagelsen"]);
    assert_eq!(stage_roles(u, 0, false), ["modtagelsen", "doegnvagt"]);
    assert_eq!(
        stage_roles(u, 3, true),
        ["modtagelsen", "modtagelsen_leder"]
    );
    assert_eq!(stage_roles(u, 3, false), ["modtagelsen_leder", "doegnvagt"]);
    // Journalen's own intakes remind Journalen, at every stage and hour.
    for stage in 0..=3 {
        for open in [true, false] {
            assert_eq!(stage_roles(Kind::Trivselplus, stage, open), ["journalen"]);
            assert_eq!(stage_roles(Kind::Postfordeling, stage, open), ["journalen"]);
        }
    }
}

/// A TRIVSEL+ from Send sikkert is Journalen's to pass on: its reminders go to Journalen,
/// day and night, never to Modtagelsen or the døgnvagt, and link to the item in the desk.
#[test]
fn journalens_own_intakes_remind_journalen() {
    let cfg = modtag_config::load_embedded().unwrap();
    let dir = tempfile::tempdir().unwrap();
    let t0: Timestamp = "2026-11-23T20:00:00Z".parse().unwrap();
    let store = open(dir.path());
    let mut trivsel = item("MT-2026-000003", t0);
    trivsel.channel = modtag_config::Channel::Trivselplus;
    trivsel.kind = Kind::Trivselplus;
    let mut b = Batch::new();
    b.item(trivsel);
    store.commit(b, t0).unwrap();
    assert_eq!(tick(&store, &cfg, t0 + 23.hours()).unwrap(), 3);
    assert_eq!(
        recipients(&store),
        ["journalen@kommune.localhost"; 3],
        "every stage, also at night"
    );
    let link = format!("{}/koe/MT-2026-000003", cfg.config.http.desk_url());
    for e in store.outbox().unwrap() {
        let body = String::from_utf8_lossy(&base64_body(&e.message)).into_owned();
        assert!(body.contains(&link), "{body}");
    }
}

/// The decoded body of a plain notice (base64 after the header block).
fn base64_body(message: &str) -> Vec<u8> {
    use base64::Engine as _;
    let body = message.split("\r\n\r\n").nth(1).unwrap_or("");
    let joined: String = body.split_whitespace().collect();
    base64::engine::general_purpose::STANDARD
        .decode(joined)
        .unwrap()
}

/// Local time in Copenhagen as an instant.
fn local(at: &str) -> Timestamp {
    at.parse::<jiff::civil::DateTime>()
        .unwrap()
        .in_tz("Europe/Copenhagen")
        .unwrap()
        .timestamp()
}

/// The hand-over notices to the døgnvagt (not its reminders), and what each lists.
fn to_doegnvagt(store: &Store) -> Vec<String> {
    store
        .outbox()
        .unwrap()
        .into_iter()
        .filter(|e| e.email == "doegnvagt@kommune.localhost")
        .map(|e| e.message)
        .filter(|m| plain_text(m).contains("vurderingen er døgnvagtens"))
        .collect()
}

/// Issue 27: when Modtagelsen closes, everything unassessed whose deadline falls before it
/// opens again goes to the døgnvagt at that moment, in one notice; what can wait stays
/// Modtagelsen's, Journalen's stays Journalen's; while closed, a new intake goes at once.
/// Across a Friday's early close, Christmas, and Easter with the change to summer time.
#[test]
fn closing_time_hands_what_cannot_wait_to_the_doegnvagt() {
    let cfg = modtag_config::load_embedded().unwrap();
    let dir = tempfile::tempdir().unwrap();
    let store = open(dir.path());
    let at = |r: &str, received: Timestamp| item(r, received);
    let mut journalens = at("MT-2026-000013", local("2026-12-11T09:00"));
    journalens.channel = modtag_config::Channel::Trivselplus;
    journalens.kind = Kind::Trivselplus;
    let mut b = Batch::new();
    // Thursday 14:00 and Friday 10:00: their deadlines fall on Friday afternoon and
    // Saturday, before Monday 08:00.
    b.item(at("MT-2026-000011", local("2026-12-10T14:00")));
    b.item(at("MT-2026-000012", local("2026-12-11T10:00")));
    b.item(journalens);
    store.commit(b, local("2026-12-11T10:00")).unwrap();

    // (The Thursday one's reminders go out on the way, to Modtagelsen and its leader.)
    tick(&store, &cfg, local("2026-12-11T12:59")).unwrap();
    assert!(to_doegnvagt(&store).is_empty(), "open until 13:00");
    tick(&store, &cfg, local("2026-12-11T13:00")).unwrap();
    let notices = to_doegnvagt(&store);
    assert_eq!(notices.len(), 1, "one notice listing them");
    let text = plain_text(&notices[0]);
    assert!(
        text.contains("MT-2026-000011") && text.contains("MT-2026-000012"),
        "{text}"
    );
    assert!(
        !text.contains("MT-2026-000013"),
        "Journalen's stays Journalen's"
    );
    assert!(!text.contains("Emil") && !text.contains("120315"), "{text}");
    for r in ["MT-2026-000011", "MT-2026-000012"] {
        assert!(store.item(r).unwrap().unwrap().handed_over(), "{r}");
    }
    assert!(!store.item("MT-2026-000013").unwrap().unwrap().handed_over());
    tick(&store, &cfg, local("2026-12-11T13:05")).unwrap();
    assert_eq!(to_doegnvagt(&store).len(), 1, "once");

    // Received on Saturday: the døgnvagt's at once.
    let mut b = Batch::new();
    b.item(at("MT-2026-000014", local("2026-12-12T10:00")));
    store.commit(b, local("2026-12-12T10:00")).unwrap();
    tick(&store, &cfg, local("2026-12-12T10:00")).unwrap();
    assert!(store.item("MT-2026-000014").unwrap().unwrap().handed_over());
    assert_eq!(to_doegnvagt(&store).len(), 2);

    // Tuesday 14:00: the deadline (Wednesday 14:00) is after Wednesday's opening: it stays
    // with Modtagelsen at closing time.
    let mut b = Batch::new();
    b.item(at("MT-2026-000015", local("2026-12-15T14:00")));
    store.commit(b, local("2026-12-15T14:00")).unwrap();
    tick(&store, &cfg, local("2026-12-15T15:30")).unwrap();
    assert!(!store.item("MT-2026-000015").unwrap().unwrap().handed_over());

    // The 23rd after closing: the 24th is closed, then Christmas and a Sunday.
    let mut b = Batch::new();
    b.item(at("MT-2026-000016", local("2026-12-23T16:00")));
    store.commit(b, local("2026-12-23T16:00")).unwrap();
    tick(&store, &cfg, local("2026-12-23T16:00")).unwrap();
    assert!(store.item("MT-2026-000016").unwrap().unwrap().handed_over());

    // Wednesday before Easter 2027, 15:00: at 15:30 Modtagelsen closes until Tuesday 30
    // March (summer time by then); the deadline, Thursday 15:00, falls before.
    let mut b = Batch::new();
    b.item(at("MT-2027-000001", local("2027-03-24T15:00")));
    store.commit(b, local("2027-03-24T15:00")).unwrap();
    tick(&store, &cfg, local("2027-03-24T15:29")).unwrap();
    assert!(!store.item("MT-2027-000001").unwrap().unwrap().handed_over());
    tick(&store, &cfg, local("2027-03-24T15:30")).unwrap();
    assert!(store.item("MT-2027-000001").unwrap().unwrap().handed_over());
}

/// A plain notice's text (its body is base64).
fn plain_text(message: &str) -> String {
    use base64::Engine as _;
    let body = message.split("\r\n\r\n").nth(1).unwrap_or("");
    let joined: String = body.split_whitespace().collect();
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(joined)
        .unwrap_or_default();
    String::from_utf8_lossy(&bytes).into_owned()
}
