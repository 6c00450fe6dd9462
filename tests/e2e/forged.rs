//! What a sender can forge must not steer (issue 26): the mailbox, not the subject, decides
//! the desk; a claim in the text forwards nothing to a caseworker; a participant list joins a
//! forløb only from its institution, authenticated; no sender writes inside modtag's signed
//! copy; a letter about a child goes only where it is proven; and no client address of the
//! public forms stands next to a reference in the log.

use modtag_tests::*;

/// An underretning through the public form by someone who says they are a professional,
/// with the address they typed; its reference.
fn as_fagperson(d: &Daemon, name: &str, workplace: &str, email: &str) -> String {
    use modtag_tests::forms::{form, post, reference_on};
    let (csrf, cookie) = form(d.public, "/underretning");
    let (code, _, body) = post(
        d.public,
        "/underretning",
        &cookie,
        &[
            ("csrf", &csrf),
            ("barn_navn", "Emil"),
            ("barn_cpr", "120315-4321"),
            ("bekymring", "Emil kommer sulten i skole."),
            ("indberetter", "fagperson"),
            ("navn", name),
            ("arbejdsplads", workplace),
            ("email", email),
        ],
        &[],
    );
    assert_eq!(code, 200, "{body}");
    reference_on(&body)
}

/// Attack 1: an akut underretning whose subject starts "Trivsel+" stays on Modtagelsen's
/// desk (it moved to Journalen's); a TRIVSEL+ that Journalen forwards to its own mailbox
/// stays a TRIVSEL+ on its desk.
#[test]
fn the_mailbox_decides_the_desk_not_the_subject() {
    let d = Daemon::start(Options::default());
    let r = d.mail(
        "underretning@localhost",
        "nabo@example.org",
        "Trivsel+ Karen Poulsen",
        "Drengen blev slaaet i gaar og er bange for at komme hjem. Han er i akut fare.",
    );
    let r = queued_as(&r).unwrap();
    let item = d.cli_json(&["triage", "show", &r, "--json"]);
    assert_eq!(item["kind"], "underretning", "{item}");
    assert_eq!(item["akut"], true, "{item}");
    let why = item["understanding"]["kind_reason"].as_str().unwrap();
    assert!(
        why.contains("Modtagelsens postkasse") && why.contains("Trivsel+"),
        "{why}"
    );

    let modt = d.add_user("modt", "modtagelsen@kommune.localhost", "modtagelsen");
    let journal = d.add_user("journal", "journalen@kommune.localhost", "journalen");
    let modt = d.sign_in("modt", &modt);
    let journal = d.sign_in("journal", &journal);
    assert!(modt.get(&d, "/api/v1/triage").1.contains(&r));
    assert!(!journal.get(&d, "/api/v1/triage").1.contains(&r));

    // Journalen forwards a TRIVSEL+ to its own postfordeling mailbox: still a TRIVSEL+.
    let fwd = d.mail("postfordeling@localhost", "journalen@kommune.localhost", "Fwd: Trivsel+ Karen Poulsen", "Se nedenfor.\n\n-------- Videresendt meddelelse --------\nFra: Susanne Møller <leder@friskolen.dk>\nEmne: Trivsel+ Karen Poulsen\n\nCVR 13585628. Vi ønsker et forløb for en elev.");
    let fwd = queued_as(&fwd).unwrap();
    let item = d.cli_json(&["triage", "show", &fwd, "--json"]);
    assert_eq!(item["kind"], "trivselplus", "{item}");
    assert!(journal.get(&d, "/api/v1/triage").1.contains(&fwd));
}

/// Attack 2 on the desk: the trust of every sender is shown in words, and a person who knows
/// who an unverified sender is confirms it there, named in the audit log with how they know.
#[test]
fn a_person_confirms_an_unverified_sender_on_the_item_page() {
    let mut d = Daemon::start(Options::default());
    let r = d.send(
        "Bekymring",
        "Som fagperson skriver jeg om Emil 120315-4321, som kom sulten i skole.",
    );
    let modt = d.add_user("modt", "modtagelsen@kommune.localhost", "modtagelsen");
    let b = modtag_tests::browser::Browser::start();
    b.sign_in(d.http, "modt", &modt);
    b.goto(&format!("http://{}/koe/{r}", d.http));
    assert!(b.text().contains("ikke verificeret"), "{}", b.text());
    assert_eq!(b.accessibility_violations(), Vec::<String>::new(), "item");
    b.fill("afsender-hvordan", "ringet tilbage til Bakkeskolens kontor");
    b.follow("form[action$='/afsender'] button");
    let page = b.text();
    assert!(
        page.contains("bekræftet af modt") && page.contains("ringet tilbage"),
        "{page}"
    );
    assert!(!page.contains("Bekræft afsender"), "once: {page}");
    b.screenshot("sender-confirmed");
    assert!(d.stop().success());
    let confirmed = d.audit_text("sender_confirmed");
    assert!(
        confirmed.contains("\"actor\":\"modt\"") && confirmed.contains(&r),
        "{confirmed}"
    );
}

/// Attack 5: a case outcome went in clear to an address someone typed into the public form
/// as "fagperson". The letter is not sent to a typed address (the task says why): it needs
/// the professional's right (a person confirms the sender) and a proven address (the
/// reporter's one-time link); then it goes, and only over TLS: never in plain SMTP.
#[test]
fn an_outcome_goes_only_to_a_proven_address_and_never_in_clear() {
    let d = Daemon::start(Options::default());
    let sink = Sink::start(d.opts.relay_port);
    let r = as_fagperson(&d, "Angriber", "Bakkeskolen", "angriber@evil.example");
    d.decide(
        &r,
        &["--trin", "3", "--outcome", "boernefaglig_undersoegelse"],
    );
    let modt = d.add_user("modt", "modtagelsen@kommune.localhost", "modtagelsen");
    let modt = d.sign_in("modt", &modt);
    let letter = [("brev", "Vi har iværksat en børnefaglig undersøgelse.")];
    let tilbagemelding = format!("/koe/{r}/tilbagemelding");
    let (_, page) = modt.get(&d, &format!("/koe/{r}"));
    assert!(page.contains("Afsenderen er ikke verificeret"), "{page}");
    assert!(!page.contains("id=\"brev\""), "no letter offered: {page}");
    let (status, page) = modt.post_form(&d, &tilbagemelding, &letter);
    assert_eq!(status, 422, "{page}");
    assert!(page.contains("ikke sendt"), "{page}");

    // Confirmed (Modtagelsen called the school: the teacher did report): the right is
    // there, the typed address is still only typed.
    assert!(d
        .cli(&["triage", "confirm-sender", &r, "--how", "ringet til skolen"])
        .status
        .success());
    let (status, page) = modt.post_form(&d, &tilbagemelding, &letter);
    assert_eq!(status, 422, "{page}");
    assert!(page.contains("engangslinket"), "{page}");

    // The teacher proves the address by the kvittering's link: the letter goes, only over
    // TLS. This relay speaks no TLS, so it never arrives in clear.
    let kvittering = sink
        .wait(1)
        .into_iter()
        .find(|m| rcpt_of(m) == "angriber@evil.example")
        .map(|m| plain_body(&m))
        .expect("a kvittering to the typed address");
    let path = kvittering
        .lines()
        .find_map(|l| l.trim().split_once("/bekraeft/"))
        .map(|(_, token)| format!("/bekraeft/{token}"))
        .unwrap_or_else(|| panic!("a link in {kvittering}"));
    let (code, _, done) = http_request(d.public, "POST", &path, &[], b"").unwrap();
    assert_eq!(code, 200, "{done}");
    let (status, page) = modt.approve_letter(&d, &r, letter[0].1);
    assert_eq!(status, 303, "{page}");
    wait_for(
        "the letter to wait for TLS",
        std::time::Duration::from_secs(30),
        || (d.metric("modtag_outbox_deferred") >= 1).then_some(()),
    );
    let in_clear = sink
        .wait(0)
        .iter()
        .any(|m| rcpt_of(m) == "angriber@evil.example" && plain_body(m).contains("undersøgelse"));
    assert!(!in_clear, "the outcome never goes in plain SMTP");
}

/// Attack 3: a mail to `bornogunge@` from a stranger with a forløb's reference in its subject
/// was joined to the forløb and closed, and the invitations went to the stranger's addresses.
/// Now it waits on Journalen's desk, the forløb stays without a list, and a booking with an
/// address outside the directory and the institution is refused until Journalen confirms it.
#[test]
fn a_strangers_participant_list_joins_nothing_and_invites_no_one() {
    let d = Daemon::start(Options::default());
    let (code, _, body) =
        modtag_tests::forms::friskolen_send_sikkert(d.public, "", "Et forløb for en elev.");
    assert_eq!(code, 200, "{body}");
    let r = modtag_tests::forms::reference_on(&body);
    d.decide(
        &r,
        &["--institution", "friskolen", "--area", "privat_skole"],
    );
    let t = d.mail(
        "bornogunge@localhost",
        "attacker@evil.example",
        &format!("Deltagere til {r}"),
        "Deltagere:\nAngriber Et <a1@evil.example>\nAngriber To <a2@evil.example>",
    );
    let list = queued_as(&t).unwrap();
    let held = d.cli_json(&["triage", "show", &list, "--json"]);
    assert_eq!(held["state"], "awaiting_assessment", "{held}");
    assert!(
        held["understanding"]["notes"]
            .to_string()
            .contains("afsender ikke bekræftet"),
        "{held}"
    );
    // Confirming who the stranger is does not make them the institution.
    let confirmed = d.cli(&[
        "triage",
        "confirm-sender",
        &list,
        "--how",
        "afsenderen er attacker@evil.example",
    ]);
    assert!(confirmed.status.success(), "{confirmed:?}");
    let held = d.cli_json(&["triage", "show", &list, "--json"]);
    assert_eq!(held["state"], "awaiting_assessment", "{held}");
    let forloeb = d.cli_json(&["triage", "show", &r, "--json"]);
    assert!(
        !forloeb.to_string().contains("evil.example"),
        "nothing of the stranger in the forløb: {forloeb}"
    );

    // Journalen books; an address typed in that is neither the directory's nor the
    // institution's is refused until confirmed.
    let journal = d.add_user("journal", "journalen@kommune.localhost", "journalen");
    let journal = d.sign_in("journal", &journal);
    let (_, page) = journal.get(&d, &format!("/koe/{r}/moede"));
    assert!(!page.contains("evil.example"), "{page}");
    let slot = modtag_tests::forms::first_slot(&page);
    let people = "Lise Holm <lise.holm@friskolen.dk>\nAngriber Et <a1@evil.example>";
    let (status, page) = journal.post_form(
        &d,
        &format!("/koe/{r}/moede"),
        &[("tid", &slot), ("deltagere", people)],
    );
    assert_eq!(status, 422, "{page}");
    assert!(
        page.contains("a1@evil.example") && page.contains("bekræftet"),
        "{page}"
    );
    // Another private institution's leader is in the directory: their domain is not the
    // kommune's, and not this forløb's institution's.
    let people = "Lise Holm <lise.holm@friskolen.dk>\nMallory <mallory@mariehoenen.localhost>";
    let (status, page) = journal.post_form(
        &d,
        &format!("/koe/{r}/moede"),
        &[("tid", &slot), ("deltagere", people)],
    );
    assert_eq!(status, 422, "{page}");
    assert!(page.contains("mallory@mariehoenen.localhost"), "{page}");
    let (_, page) = journal.get(&d, &format!("/koe/{r}"));
    assert!(
        page.contains("Første møde") && !page.contains("booket af"),
        "not booked: {page}"
    );
}

/// Attack 4: a sender wrote inside modtag's signed copy. The inner boundary was the receive
/// time: a mail that closed the part and added a "Rutenote … Besluttet af: Lene Holm" had it
/// shown inside Modtagelsen's decrypted copy as modtag's own. Decrypted with gpg now, the
/// copy has modtag's two parts, and the forgery is only inside the attached original.
#[test]
fn no_sender_writes_inside_modtags_copy() {
    let d = Daemon::start(Options::default());
    let sink = Sink::start(d.opts.relay_port);
    let now = jiff::Timestamp::now().as_second();
    // Every boundary the old rule would have given for a receive time near now.
    let guesses: String = (now - 30..now + 30)
        .map(|t| {
            format!(
                "--=_modtag_inner_{t:016x}\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n\
                 Rutenote: sendt til dig af modtag.\r\nBesluttet af: Lene Holm\r\n\
                 --=_modtag_inner_{t:016x}--\r\n"
            )
        })
        .collect();
    let eml = format!(
        "From: Skolen <kontor@bakkeskolen.dk>\r\nTo: underretning@localhost\r\n\
         Subject: Bekymring\r\nMIME-Version: 1.0\r\n\
         Content-Type: multipart/mixed; boundary=\"yderst\"\r\n\r\n\
         --yderst\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n\
         Emil 120315-4321 er trist.\r\n{guesses}\
         --yderst\r\nContent-Type: multipart/alternative; boundary=\"indre\"\r\n\r\n\
         --indre\r\nContent-Type: text/html\r\n\r\n<p>Rutenote: Besluttet af: Lene Holm</p>\r\n\
         --indre--\r\n--yderst--\r\n"
    );
    let file = d.dir.path().join("forged.eml");
    std::fs::write(&file, eml).unwrap();
    let r = d.send_file("underretning@localhost", &file);
    d.decide(&r, &["--trin", "3"]);
    d.wait_outbox_idle();
    let copy = sink
        .wait(1)
        .into_iter()
        .find(|m| rcpt_of(m) == "modtagelsen@kommune.localhost" && m.contains(&r))
        .expect("Modtagelsen's copy");
    let plain = Gpg::with_demo_keys(&["modtagelsen"])
        .decrypt(&armored_block(&copy))
        .unwrap();
    // modtag's own boundary, from its own header: 128 random bits, no receive time.
    let boundary = plain
        .split("boundary=\"")
        .nth(1)
        .and_then(|b| b.split('"').next())
        .expect("a multipart copy")
        .to_string();
    assert!(
        boundary.starts_with("=_modtag_inner_") && boundary.len() >= 15 + 32,
        "{boundary}"
    );
    let parts: Vec<&str> = plain
        .split(&format!("--{boundary}"))
        .skip(1)
        .filter(|p| !p.starts_with("--"))
        .collect();
    assert_eq!(parts.len(), 2, "the route note and the original: {plain}");
    assert!(
        !parts[0].contains("Lene Holm") && parts[0].contains(&format!("Reference: {r}")),
        "modtag's own note: {}",
        parts[0]
    );
    assert!(
        parts[1].contains("message/rfc822") && parts[1].contains("Besluttet af: Lene Holm"),
        "the forgery stays inside the attached original"
    );
}

/// Attack 6: an anonymous reporter's client address was logged next to the reference. Now
/// it is in no log line at any level (the suite's daemons log at debug), nor on the intake;
/// the rate limit counts a salted hash of it.
#[test]
fn an_anonymous_reporter_leaves_no_address() {
    use modtag_tests::forms::{form, multipart, reference_on};
    let d = Daemon::start(Options {
        edits: vec![
            (
                "# trusted_proxies = [\"127.0.0.1/32\"]\n# The forms'".into(),
                "trusted_proxies = [\"127.0.0.1/32\"]\n# The forms'".into(),
            ),
            (
                "max_connections = 256\nrequest_timeout_secs = 60\n# [public.tls]".into(),
                // Two: a form's connection may hold its place a moment after it closed.
                "max_connections = 2\nrequest_timeout_secs = 60\n# [public.tls]".into(),
            ),
        ],
        ..Options::default()
    });
    let (csrf, cookie) = form(d.public, "/underretning");
    let (kind, body) = multipart(
        &[
            ("csrf", &csrf),
            ("barn_navn", "Emil"),
            ("barn_cpr", "010120-1234"),
            ("bekymring", "Der er råb og skrig hver aften."),
            ("indberetter", "borger"),
            ("anonymous", "ja"),
        ],
        &[],
    );
    let (code, _, page) = http_request(
        d.public,
        "POST",
        "/underretning",
        &[
            ("Content-Type", &kind),
            ("Cookie", &cookie),
            ("X-Forwarded-For", "198.51.100.77"),
        ],
        &body,
    )
    .unwrap();
    assert_eq!(code, 200, "{page}");
    let r = reference_on(&page);
    let item = d.cli_json(&["triage", "show", &r, "--json"]);
    assert!(!item.to_string().contains("198.51.100.77"), "{item}");
    // Nor by the listener: over the connection cap, and a connection that breaks off.
    use std::io::Write as _;
    let idle = [d.public, d.public].map(|a| std::net::TcpStream::connect(a).unwrap());
    let mut refused = std::net::TcpStream::connect(d.public).unwrap();
    let mut answer = String::new();
    std::io::Read::read_to_string(&mut refused, &mut answer).unwrap();
    assert!(answer.starts_with("HTTP/1.1 503"), "{answer}");
    drop(idle);
    let log = wait_for(
        "the listener's lines",
        std::time::Duration::from_secs(10),
        || {
            // Again until one is served (the idle ones' places free a moment after they
            // close): it breaks off with a request that is not HTTP.
            let mut broken = std::net::TcpStream::connect(d.public).unwrap();
            let _ = broken.write_all(b"\x16\x03\x01 not http\r\n\r\n");
            drop(broken);
            let log =
                d.stderr() + &std::fs::read_to_string(d.dir.path().join("stdout.log")).unwrap();
            (log.contains("connection limit reached") && log.contains("ended with an error"))
                .then_some(log)
        },
    );
    assert!(log.contains(&r), "the reference is logged");
    assert!(!log.contains("198.51.100.77"), "{log}");
    assert!(
        !log.contains("peer=127.0.0.1") && log.contains("a public client"),
        "{log}"
    );
}

/// Issue 26: kvitteringer to an address someone typed are neutral and a few a day at most:
/// no one can make the kommune flood another's mailbox through the public form.
#[test]
fn a_typed_address_gets_a_few_kvitteringer_a_day() {
    use modtag_tests::forms::{form, post, reference_on};
    let d = Daemon::start(Options::default());
    let sink = Sink::start(d.opts.relay_port);
    let mut refs = Vec::new();
    // Case and a `+tag` reach the same mailbox: they make no new count.
    let spellings = [
        "offer@example.org",
        "Offer@Example.ORG",
        "offer+a@example.org",
        "offer+b@example.org",
    ];
    for (n, email) in spellings.into_iter().enumerate() {
        let (csrf, cookie) = form(d.public, "/underretning");
        let text = format!("Bekymring nummer {n}.");
        let (code, _, body) = post(
            d.public,
            "/underretning",
            &cookie,
            &[
                ("csrf", &csrf),
                ("barn_navn", "Emil"),
                ("barn_cpr", "010120-1234"),
                ("bekymring", &text),
                ("indberetter", "borger"),
                ("navn", "Offer"),
                ("email", email),
            ],
            &[],
        );
        assert_eq!(code, 200, "{body}");
        refs.push(reference_on(&body));
    }
    d.wait_outbox_idle();
    let to_victim: Vec<String> = sink
        .wait(3)
        .into_iter()
        .filter(|m| rcpt_of(m).to_lowercase().starts_with("offer"))
        .collect();
    assert_eq!(to_victim.len(), 3, "three a day");
    for m in &to_victim {
        let body = plain_body(m);
        assert!(
            !body.contains("Bekymring") && !body.contains("Emil"),
            "neutral: {body}"
        );
    }
    let last = d.cli_json(&["triage", "show", &refs[3], "--json"]);
    assert_eq!(last["kvittering"]["manual"], true, "{last}");
}

/// Issue 26: a professional who typed their address into the form proves it by the one-time
/// link in their kvittering. Opening the link changes nothing (mail scanners open links); the
/// button does, once; a used or made-up link gets the same answer as any dead one. The link
/// proves the address, not the professional: that still takes a person.
#[test]
fn a_reporter_proves_their_address_by_the_kvitterings_link() {
    let d = Daemon::start(Options::default());
    let sink = Sink::start(d.opts.relay_port);
    let r = as_fagperson(
        &d,
        "Lærer Hansen",
        "Bakkeskolen",
        "laerer@bakkeskolen.example",
    );
    let kvittering = plain_body(&sink.wait(1)[0]);
    assert!(!kvittering.contains("Emil"), "neutral: {kvittering}");
    let prefix = format!("http://{}/bekraeft/", d.public);
    let link = kvittering
        .lines()
        .find_map(|l| l.trim().strip_prefix(&prefix))
        .unwrap_or_else(|| panic!("a link in {kvittering}"))
        .to_string();
    let path = format!("/bekraeft/{link}");

    d.decide(
        &r,
        &["--trin", "3", "--outcome", "boernefaglig_undersoegelse"],
    );
    let modt = d.add_user("modt", "modtagelsen@kommune.localhost", "modtagelsen");
    let modt = d.sign_in("modt", &modt);
    let letter = [("brev", "Vi har iværksat en børnefaglig undersøgelse.")];
    let tilbagemelding = format!("/koe/{r}/tilbagemelding");
    let (_, page) = modt.get(&d, &format!("/koe/{r}"));
    assert!(page.contains("ikke brugt endnu"), "{page}");

    // A scanner opens the link: a page with a button, nothing proven.
    let (code, _, shown) = http_request(d.public, "GET", &path, &[], b"").unwrap();
    assert_eq!(code, 200, "{shown}");
    assert!(shown.contains("Bekræft min e-mailadresse"), "{shown}");
    assert!(!shown.contains(&r) && !shown.contains("laerer@"), "{shown}");
    assert_eq!(modt.post_form(&d, &tilbagemelding, &letter).0, 422);

    // A made-up link, then the reporter's button, then the same link again.
    let forged = format!("/bekraeft/{}", "A".repeat(43));
    let (code, _, dead) = http_request(d.public, "POST", &forged, &[], b"").unwrap();
    assert_eq!(code, 404, "{dead}");
    let b = modtag_tests::browser::Browser::start();
    b.goto(&format!("{prefix}{link}"));
    assert_eq!(b.accessibility_violations(), Vec::<String>::new(), "link");
    b.screenshot("address-link");
    b.follow("form[action^='/bekraeft/'] button");
    assert!(
        b.text().contains("e-mailadresse er bekræftet"),
        "{}",
        b.text()
    );
    assert_eq!(b.accessibility_violations(), Vec::<String>::new(), "done");
    let (code, _, again) = http_request(d.public, "POST", &path, &[], b"").unwrap();
    assert_eq!(code, 404, "once: {again}");
    assert_eq!(again.replace(&path, ""), dead.replace(&forged, ""), "alike");

    // The address is the reporter's now; that they are a professional is still only what
    // the form says: no letter until a person confirms the sender.
    let (_, page) = modt.get(&d, &format!("/koe/{r}"));
    assert!(page.contains("bekræftet af underretteren"), "{page}");
    let (status, page) = modt.post_form(&d, &tilbagemelding, &letter);
    assert_eq!(status, 422, "{page}");
    assert!(page.contains("Afsenderen er ikke verificeret"), "{page}");
    let item = d.cli_json(&["triage", "show", &r, "--json"]);
    assert!(item["address_confirmed_at"].is_string(), "{item}");
    let mut d = d;
    assert!(d.stop().success());
    let audit = d.audit_text("address_confirmed");
    assert!(
        audit.contains(&r) && audit.contains("engangslink"),
        "{audit}"
    );
}

/// Issue 26: confirming the school that forwarded a mail vouches for the school, not for
/// whoever the forwarded text says wrote it; and a directory address typed into the form
/// does not make its owner the reporter. Neither gets the outcome by mail.
#[test]
fn a_confirmed_forwarder_vouches_for_no_one_inside() {
    let d = Daemon::start(Options::default());
    let fwd = d.mail("underretning@localhost", "kontor@bakkeskolen.dk", "Fwd: Bekymring", "Se nedenfor.\n\n---------- Forwarded message ---------\nFrom: Politibetjent Jensen <attacker@evil.example>\nSubject: Bekymring\n\nJeg underretter som fagperson om 120315-4321, der kom sulten i skole.");
    let fwd = queued_as(&fwd).unwrap();
    let item = d.cli_json(&["triage", "show", &fwd, "--json"]);
    assert_eq!(
        item["understanding"]["reporter"]["email"], "attacker@evil.example",
        "{item}"
    );
    assert!(d
        .cli(&[
            "triage",
            "confirm-sender",
            &fwd,
            "--how",
            "ringet til Bakkeskolens kontor"
        ])
        .status
        .success());

    let typed = as_fagperson(
        &d,
        "Susanne Møller. Ring straks på https://evil.example/svar",
        "Friskolen",
        "leder@friskolen.localhost",
    );

    let modt = d.add_user("modt", "modtagelsen@kommune.localhost", "modtagelsen");
    let modt = d.sign_in("modt", &modt);
    let letter = [("brev", "Vi har iværksat en børnefaglig undersøgelse.")];
    for (r, why) in [(&fwd, "videresendt"), (&typed, "ikke verificeret")] {
        d.decide(
            r,
            &["--trin", "3", "--outcome", "boernefaglig_undersoegelse"],
        );
        let (_, page) = modt.get(&d, &format!("/koe/{r}"));
        assert!(!page.contains("id=\"brev\""), "no letter offered: {page}");
        assert!(page.contains(why), "{page}");
        let (status, page) = modt.post_form(&d, &format!("/koe/{r}/tilbagemelding"), &letter);
        assert_eq!(status, 422, "{r}: {page}");
    }
}
