//! A TRIVSEL+ forløb at fixed times (issue 16, flow 2): each step left too long reminds its
//! owner once per period (the leader who has not answered, the private leader for the list,
//! Journalen for the booking), from the same pass as the 24-hour escalation; a list mailed
//! without the reference finds its forløb by the sender's institution; the booking keeps
//! the 14-day and 5-day rules; once booked nothing more is reminded.

use jiff::{Timestamp, ToSpan};
use modtag_config::Channel;
use modtag_storage::forloeb::Participant;
use modtag_storage::keys::DataKeys;
use modtag_storage::records::{DecisionRecord, Item, ItemState, Kind, RoutedTo, Transport};
use modtag_storage::store::Batch;
use modtag_storage::Store;
use modtag_workflow::escalation::tick;
use modtag_workflow::understand::Reader;
use modtag_workflow::{booking, forloeb, participants};

const R: &str = "MT-2026-000010";

/// Friskolen's TRIVSEL+, forwarded by Journalen to the leader of PPR at `at`.
fn forwarded(cfg: &modtag_config::Loaded, at: Timestamp) -> Item {
    let mut item = Item::received(
        R,
        Channel::Trivselplus,
        Kind::Trivselplus,
        at,
        at + 24.hours(),
        Transport::default(),
    );
    item.decision = Some(DecisionRecord {
        at,
        actor: "journal".into(),
        existing_case: false,
        case_number: None,
        trin: None,
        consent: false,
        area: Some("privat_skole".into()),
        institution: Some("friskolen".into()),
        akut: false,
        out_of_hours: false,
        udskoling: false,
        note: String::new(),
        consent_record: None,
        tree_hash: String::new(),
        recipients: vec![RoutedTo {
            role: "leder_ppr".into(),
            person: "karen.poulsen".into(),
            rule: modtag_router::route::NAMES_RULE.into(),
        }],
        actions: Vec::new(),
        refused: None,
        screening_outcome: None,
        attach_original: false,
        names_added: Vec::new(),
    });
    item.transition(ItemState::Assessed, "journal", at, "");
    item.transition(ItemState::Routed, "journal", at, "routed");
    forloeb::begin(cfg, &mut item, at);
    item
}

/// Reminders in the outbox: (role, address), in the order queued.
fn reminders(store: &Store) -> Vec<(String, String)> {
    let mut out: Vec<_> = store.outbox().unwrap();
    out.sort_by_key(|e| e.id);
    out.into_iter()
        .filter(|e| ["svar", "deltagerliste", "booking"].contains(&e.role.as_str()))
        .map(|e| (e.role, e.email))
        .collect()
}

fn change(store: &Store, at: Timestamp, f: impl FnOnce(&mut Item, &mut Batch)) {
    let mut item = store.item(R).unwrap().unwrap();
    let mut b = Batch::new();
    f(&mut item, &mut b);
    b.item(item);
    store.commit(b, at).unwrap();
}

#[test]
fn each_step_left_too_long_reminds_its_owner_until_the_meeting_is_booked() {
    let mut cfg = modtag_config::load_embedded().unwrap();
    cfg.config.trivsel.remind_after_days = 2;
    let dir = tempfile::tempdir().unwrap();
    let (keys, _) = DataKeys::init_or_load(dir.path(), None).unwrap();
    let store = Store::open(
        dir.path(),
        keys.with_auditors(cfg.auditors.clone()),
        Timestamp::now(),
    )
    .unwrap();
    // Tuesday 1 December 2026, 10:00 in Copenhagen.
    let t0: Timestamp = "2026-12-01T09:00:00Z".parse().unwrap();
    let mut b = Batch::new();
    b.item(forwarded(&cfg, t0));
    store.commit(b, t0).unwrap();

    // The leader has not answered within two days: she is reminded, once.
    assert_eq!(tick(&store, &cfg, t0 + 47.hours()).unwrap(), 0);
    assert_eq!(tick(&store, &cfg, t0 + 48.hours()).unwrap(), 1);
    assert_eq!(tick(&store, &cfg, t0 + 49.hours()).unwrap(), 0);
    let staff = vec![Participant {
        name: "Anne Jensen".into(),
        email: "anne.jensen@kommune.localhost".into(),
    }];
    let t1 = t0 + 50.hours();
    change(&store, t1, |item, b| {
        forloeb::answer(
            &store,
            &cfg,
            item,
            "karen.poulsen",
            "karen",
            staff,
            "",
            b,
            t1,
        )
        .unwrap()
        .unwrap();
    });
    // Now the private leader owes the list: her reminder says where to send it.
    assert_eq!(tick(&store, &cfg, t1 + 47.hours()).unwrap(), 0);
    assert_eq!(tick(&store, &cfg, t1 + 48.hours()).unwrap(), 1);
    let institution = store
        .outbox()
        .unwrap()
        .into_iter()
        .find(|e| e.role == "deltagerliste")
        .expect("the reminder to the private leader");
    assert!(
        !institution.message.contains("Anne"),
        "a reference and dates only"
    );

    // The list comes without the reference: the sender's institution finds the forløb.
    let raw = "From: Susanne =?utf-8?q?M=C3=B8ller?= <leder@friskolen.dk>\r\n\
               To: bornogunge@localhost\r\nSubject: Deltagere\r\n\r\n\
               Anne Jensen <anne.jensen@kommune.localhost>\r\nLise Holm <lise.holm@friskolen.dk>\r\n";
    let reading = Reader::with_key(&cfg, None).read(raw.as_bytes(), Channel::Deltagerliste);
    let found = participants::find_forloeb(&store, &cfg, &reading).unwrap();
    assert_eq!(found, Some((R.to_string(), "cvr")));
    let people = participants::find_participants(&reading.text);
    assert_eq!(people.len(), 2, "{people:?}");
    let t2 = t1 + 49.hours(); // Sunday 6 December
    change(&store, t2, |item, b| {
        forloeb::link_list(&cfg, item, "MT-2026-000011", "cvr", people.clone(), b, t2)
    });

    // Journalen owes the booking: reminded; the booking keeps both rules.
    assert_eq!(tick(&store, &cfg, t2 + 48.hours()).unwrap(), 1);
    let t3 = t2 + 49.hours(); // Tuesday 8 December
    change(&store, t3, |item, b| {
        let early = booking::book(
            &store,
            &cfg,
            item,
            ("2026-12-10T13:00".parse().unwrap(), &[], &[]),
            (people.clone(), booking::Confirmed::default()),
            "journal",
            b,
            t3,
        )
        .unwrap();
        assert!(early.unwrap_err().contains("varsel"));
        // An address outside the directory and the institution: only once Journalen
        // confirms it (issue 26).
        let mut stranger = people.clone();
        stranger.push(modtag_storage::forloeb::Participant {
            name: "Angriber".into(),
            email: "angriber@evil.example".into(),
        });
        let refused = booking::book(
            &store,
            &cfg,
            item,
            ("2026-12-15T09:00".parse().unwrap(), &[], &[]),
            (stranger, booking::Confirmed::default()),
            "journal",
            b,
            t3,
        )
        .unwrap();
        assert!(refused.unwrap_err().contains("angriber@evil.example"));
        // A participant with a statusmøde then (issue 29): said first, booked only when
        // Journalen says it does not matter.
        let busy = [booking::Busy {
            email: people[0].email.to_uppercase(),
            what: "statusmøde (Skoler)".into(),
            start: "2026-12-15T08:00".parse().unwrap(),
            end: "2026-12-15T10:00".parse().unwrap(),
        }];
        let clash = booking::book(
            &store,
            &cfg,
            item,
            ("2026-12-15T09:00".parse().unwrap(), &[], &busy),
            (people.clone(), booking::Confirmed::default()),
            "journal",
            b,
            t3,
        )
        .unwrap()
        .unwrap_err();
        assert!(
            clash.contains(&format!(
                "{} har statusmøde (Skoler) kl. 08:00-10:00",
                people[0].name
            )),
            "{clash}"
        );
        booking::book(
            &store,
            &cfg,
            item,
            ("2026-12-15T09:00".parse().unwrap(), &[], &busy),
            (
                people.clone(),
                booking::Confirmed {
                    clashes: true,
                    ..Default::default()
                },
            ),
            "journal",
            b,
            t3,
        )
        .unwrap()
        .unwrap();
    });
    assert_eq!(tick(&store, &cfg, t3 + 720.hours()).unwrap(), 0, "booked");
    // The slot it holds is in the clear summary, so no other forløb is booked into it.
    let summaries = store.summaries_by_reference().unwrap();
    assert_eq!(summaries[0].1.slot.as_deref(), Some("2026-12-15T09:00"));
    assert_eq!(
        reminders(&store),
        [
            ("svar".into(), "leder.ppr@kommune.localhost".into()),
            ("deltagerliste".into(), "leder@friskolen.localhost".into()),
            ("booking".into(), "journalen@kommune.localhost".into()),
        ]
    );
    let item = store.item(R).unwrap().unwrap();
    let f = item.forloeb.unwrap();
    assert_eq!(f.reminders.len(), 3);
    assert_eq!(f.step_due, None);
    assert_eq!(f.meeting.unwrap().start, "2026-12-15T09:00");

    // Booked again with one participant fewer (issue 29): she gets the cancellation, so it
    // leaves her calendar; everyone still in it gets the update, and no one both.
    let t4 = t3 + 1.hours();
    let before = store.outbox().unwrap().len();
    change(&store, t4, |item, b| {
        booking::book(
            &store,
            &cfg,
            item,
            ("2026-12-15T09:00".parse().unwrap(), &[], &[]),
            (people[..1].to_vec(), booking::Confirmed::default()),
            "journal",
            b,
            t4,
        )
        .unwrap()
        .unwrap();
    });
    let sent: Vec<_> = store.outbox().unwrap().into_iter().skip(before).collect();
    let dropped = &people[1].email;
    let to_dropped: Vec<_> = sent.iter().filter(|e| &e.email == dropped).collect();
    assert_eq!(to_dropped.len(), 1, "{sent:?}");
    assert!(to_dropped[0].message.contains("method=CANCEL"));
    let rest: Vec<_> = sent.iter().filter(|e| &e.email != dropped).collect();
    assert!(!rest.is_empty() && rest.iter().all(|e| e.message.contains("method=REQUEST")));
}

/// The booking's check reads the statusmøder sent for the day's school year: everyone
/// invited to a meeting not cancelled, on that day only (issue 29).
#[test]
fn the_statusmoeder_of_a_day_are_what_a_booking_checks_against() {
    let cfg = modtag_config::load_embedded().unwrap();
    let dir = tempfile::tempdir().unwrap();
    let (keys, _) = DataKeys::init_or_load(dir.path(), None).unwrap();
    let store = Store::open(
        dir.path(),
        keys.with_auditors(cfg.auditors.clone()),
        Timestamp::now(),
    )
    .unwrap();
    let at: Timestamp = "2027-08-01T08:00:00Z".parse().unwrap();
    let invites = modtag_workflow::meetings::statusmoeder(&cfg, 2027, &[]).unwrap();
    let mut plan =
        modtag_workflow::meetings::sending(&cfg.directory, 2027, &invites, None, (None, None), at)
            .unwrap();
    // Dagtilbud's first meeting cancelled: no one is busy with it.
    plan.series.meetings[1].cancelled = true;
    let mut b = Batch::new();
    b.series(plan.series);
    store.commit(b, at).unwrap();

    let day = invites[0].start.date();
    let busy = booking::busy_on(&store, &cfg, day).unwrap();
    let karen: Vec<String> = (busy.iter())
        .filter(|b| b.email == "leder.ppr@kommune.localhost")
        .map(|b| b.what.clone())
        .collect();
    assert_eq!(
        karen,
        ["statusmøde (Dagplejen)", "statusmøde (Skoler)"],
        "not the cancelled one, not Friskolen's"
    );
    assert!(booking::busy_on(&store, &cfg, day.tomorrow().unwrap())
        .unwrap()
        .is_empty());
    // A day in the spring belongs to the school year that began the August before.
    let spring = invites.last().unwrap().start.date();
    assert!(!booking::busy_on(&store, &cfg, spring).unwrap().is_empty());
}
