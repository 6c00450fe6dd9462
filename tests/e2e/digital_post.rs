//! Digital Post to a private institution's CVR (issue 30): a leader's answer to a TRIVSEL+
//! leaves as a MeMo message through SF1601 (the fake in `tests/digitalpost/` checks the
//! token flow, the headers and the message against the MeMo schema), to the CVR MitID
//! Erhverv signed in; refused for good, it reaches a person and goes by mail instead.

use base64::Engine as _;
use modtag_tests::forms::{post, reference_on};
use modtag_tests::*;

/// A TRIVSEL+ sent by Friskolen's leader signed in with MitID Erhverv, passed on by
/// Journalen: its reference, and Karen Poulsen (leder PPR) signed in to answer it.
fn forloeb_to_answer(d: &Daemon, idp: &SamlIdp) -> (String, Signed) {
    let signed_in = mitid_sign_in(d.public, idp);
    let (_, csrf, cookies) = signed_in_form(d.public, &signed_in);
    let fields = [
        ("csrf", csrf.as_str()),
        ("leder", "karen.poulsen"),
        (
            "text",
            "Vi ønsker et TRIVSEL+-forløb for en elev i 3. klasse.",
        ),
    ];
    let (code, _, receipt) = post(d.public, "/sendsikkert", &cookies, &fields, &[]);
    assert_eq!(code, 200, "{receipt}");
    let r = reference_on(&receipt);
    let journal = d.add_user("journal", "journalen@kommune.localhost", "journalen");
    let journal = d.sign_in("journal", &journal);
    let (status, page) = journal.post_form(d, &format!("/koe/{r}/videresend"), &[]);
    assert_eq!(status, 303, "{page}");
    let karen = d.add_user("karen", "leder.ppr@kommune.localhost", "leder_ppr");
    (r, d.sign_in("karen", &karen))
}

/// The text of the failure notice about `r` among the relay's mails.
fn failure_notice(mails: &[String], r: &str) -> String {
    mails
        .iter()
        .find(|m| m.contains(&format!("Levering mislykkedes: {r}")))
        .map(|m| plain_body(m))
        .expect("Modtagelsen is told")
}

fn with_both() -> (Daemon, SamlIdp, ServicePlatform, tempfile::TempDir) {
    let files = tempfile::tempdir().unwrap();
    let mut opts = Options::default();
    let idp = SamlIdp::start(files.path(), opts.public_port);
    let platform = ServicePlatform::start();
    opts.edits.push(idp.section(files.path(), "required"));
    opts.edits.push(platform.section(files.path()));
    (Daemon::start(opts), idp, platform, files)
}

#[test]
fn a_leaders_answer_leaves_as_memo_to_the_cvr_mitid_erhverv_named() {
    let (d, idp, platform, _files) = with_both();
    let (r, karen) = forloeb_to_answer(&d, &idp);
    let note = "Vi kan deltage fra uge 3.";
    let (status, page) = karen.post_form(
        &d,
        &format!("/koe/{r}/svar"),
        &[
            ("deltagere", "Anne Jensen <anne.jensen@kommune.localhost>"),
            ("besked", note),
        ],
    );
    assert_eq!(status, 303, "{page}");
    let letter = wait_for(
        "the letter at Serviceplatformen",
        std::time::Duration::from_secs(30),
        || platform.received().into_iter().next(),
    );
    assert_eq!(platform.errors(), Vec::<serde_json::Value>::new());
    assert_eq!(
        letter["recipient_id"], "13585628",
        "the assertion's CVR: {letter}"
    );
    let memo = letter["memo"].as_str().unwrap();
    assert!(
        memo.contains("<memo:senderID>69116418</memo:senderID>"),
        "{memo}"
    );
    assert!(memo.contains(&format!("Svar på TRIVSEL+ {r}")), "{memo}");
    let content = memo
        .split("<memo:content>")
        .nth(1)
        .and_then(|c| c.split("</memo:content>").next())
        .unwrap();
    let text = String::from_utf8(
        base64::engine::general_purpose::STANDARD
            .decode(content)
            .unwrap(),
    )
    .unwrap();
    assert!(
        text.contains("Anne Jensen") && text.contains(note),
        "{text}"
    );
    // The item says where it went and that Serviceplatformen took it.
    let transmission = letter["transmission_id"].as_str().unwrap();
    wait_for(
        "the receipt on the item",
        std::time::Duration::from_secs(20),
        || {
            let (_, page) = karen.get(&d, &format!("/koe/{r}"));
            page.contains(&format!("forsendelse {transmission}"))
                .then_some(())
        },
    );
    let (_, page) = karen.get(&d, &format!("/koe/{r}"));
    assert!(page.contains("til Digital Post (CVR 13585628)"), "{page}");
    // KOMBIT's receipts come back through the Beskedfordeler: delivered to the mailbox.
    wait_for(
        "the delivery receipt on the item",
        std::time::Duration::from_secs(30),
        || {
            let (_, page) = karen.get(&d, &format!("/koe/{r}"));
            page.contains("afleveret i modtagerens digitale postkasse")
                .then_some(())
        },
    );
    let pushes = platform.pushes();
    assert!(
        pushes.iter().all(|p| p["status_code"] == 200
            && p["body"]
                .as_str()
                .unwrap_or("")
                .contains("<StatusKode>20</StatusKode>")),
        "{pushes:?}"
    );
}

/// The receipts listener takes KOMBIT's pushes only, and answers hostile ones sensibly:
/// garbage and a DTD refused (40), a receipt for no letter of ours acknowledged (20), and a
/// client without the authority's certificate never gets a word in.
#[test]
fn the_receipts_listener_refuses_what_is_not_a_receipt() {
    let (d, _idp, platform, _files) = with_both();
    for (what, code, status) in [
        ("garbage", 400, "40"),
        ("doctype", 400, "40"),
        ("unknown", 200, "20"),
    ] {
        let got = platform.push_raw(what);
        assert_eq!(got["status_code"], code, "{what}: {got}");
        assert!(
            got["body"]
                .as_str()
                .unwrap_or("")
                .contains(&format!("<StatusKode>{status}</StatusKode>")),
            "{what}: {got}"
        );
    }
    // The authority certifies every organisation's systems: another one's certificate
    // from it (here the kommune's own OCES3 system certificate) is refused at the
    // handshake, even for a receipt that would change nothing; KOMBIT's is answered.
    let nobody = "6f1c7a52-0000-4000-8000-000000000000";
    for _ in 0..2 {
        assert_eq!(platform.push_receipt_as("client", nobody, "Fejlet"), 0);
    }
    assert_eq!(platform.push_receipt(nobody, "Fejlet"), 200);
    let log = d.stderr();
    assert!(
        log.matches("not one of client_certificates").count() == 1
            && !log.contains(&BESKEDFORDELER_SHA256.replace(':', "").to_lowercase()),
        "the refused certificate named in the log once, KOMBIT's not: {log}"
    );
    // Nesting deep enough to overflow a recursive parser, from a client with the
    // authority's certificate: refused (40), and the daemon lives on.
    let url = platform.receipts_url();
    let certs = root().join("tests/digitalpost/certs");
    let deep = std::process::Command::new("python3")
        .arg("-c")
        .arg(format!(
            "import ssl,urllib.request,urllib.error\n\
             c=ssl.create_default_context(cafile={ca:?})\n\
             c.load_cert_chain({crt:?},{key:?})\n\
             body=b'<x>'*30000+b'</x>'*30000\n\
             try:\n  r=urllib.request.urlopen(urllib.request.Request('{url}', data=body), context=c, timeout=10); print(r.status, r.read().decode())\n\
             except urllib.error.HTTPError as e: print(e.code, e.read().decode())",
            ca = certs.join("ca.crt"),
            crt = certs.join("beskedfordeler.crt"),
            key = certs.join("beskedfordeler.key"),
        ))
        .output()
        .unwrap();
    let said = String::from_utf8_lossy(&deep.stdout);
    assert!(
        said.starts_with("400") && said.contains("<StatusKode>40</StatusKode>"),
        "{said}"
    );
    assert_eq!(
        platform.push_raw("unknown")["status_code"],
        200,
        "still answering"
    );
    // Without a client certificate: the handshake fails, nothing is read.
    let out = std::process::Command::new("python3")
        .arg("-c")
        .arg(format!(
            "import ssl,urllib.request\n\
             c=ssl.create_default_context(cafile={:?})\n\
             try:\n  urllib.request.urlopen(urllib.request.Request('{}', data=b'<x/>'), context=c, timeout=5); print('answered')\n\
             except Exception as e: print('refused', type(e).__name__)",
            root().join("tests/digitalpost/certs/ca.crt"),
            url,
        ))
        .output()
        .unwrap();
    let said = String::from_utf8_lossy(&out.stdout);
    assert!(said.starts_with("refused"), "{said}");
}

/// A letter Serviceplatformen took and Digital Post later failed: the receipt reaches a
/// person (Modtagelsen is told) and the item says so.
#[test]
fn a_letter_that_fails_later_reaches_a_person() {
    let (d, idp, platform, _files) = with_both();
    let sink = Sink::start(d.opts.relay_port);
    platform.set_mode("fail-later");
    let (r, karen) = forloeb_to_answer(&d, &idp);
    let (status, page) = karen.post_form(
        &d,
        &format!("/koe/{r}/svar"),
        &[("ingen", "ja"), ("besked", "Ingen fra PPR.")],
    );
    assert_eq!(status, 303, "{page}");
    wait_for(
        "the failure on the item",
        std::time::Duration::from_secs(30),
        || {
            let (_, page) = karen.get(&d, &format!("/koe/{r}"));
            page.contains("fejlet i Digital Post").then_some(())
        },
    );
    let (_, page) = karen.get(&d, &format!("/koe/{r}"));
    assert!(
        page.contains("modtager.ukendt") && page.contains("Modtagelsen har fået besked"),
        "{page}"
    );
    d.wait_outbox_idle();
    let mails = sink.wait(1);
    let notice = failure_notice(&mails, &r);
    // What happened and what to do: no relay refused anything, nothing is left to retry.
    assert!(
        notice.contains("kom ikke frem") && notice.contains("modtager.ukendt"),
        "{notice}"
    );
    assert!(
        !notice.contains("outbox retry") && !notice.contains("mailserveren"),
        "{notice}"
    );
    // The broker delivers at least once: the same failure again, and a late "delivered",
    // change nothing and tell no one again.
    let uuid = platform.received()[0]["message_uuid"]
        .as_str()
        .unwrap()
        .to_string();
    for status in ["Fejlet", "Fejlet", "Afleveret Digital Post"] {
        assert_eq!(platform.push_receipt(&uuid, status), 200);
    }
    d.wait_outbox_idle();
    let notices = sink
        .wait(0)
        .iter()
        .filter(|m| m.contains(&format!("Levering mislykkedes: {r}")))
        .count();
    assert_eq!(notices, 2, "Modtagelsen and its leader, once");
    let (_, page) = karen.get(&d, &format!("/koe/{r}"));
    assert!(
        page.contains("fejlet i Digital Post") && !page.contains("afleveret i"),
        "{page}"
    );
}

#[test]
fn a_letter_refused_for_good_reaches_a_person_and_goes_by_mail() {
    let (d, idp, platform, _files) = with_both();
    let sink = Sink::start(d.opts.relay_port);
    platform.set_mode("reject");
    let (r, karen) = forloeb_to_answer(&d, &idp);
    let (status, page) = karen.post_form(
        &d,
        &format!("/koe/{r}/svar"),
        &[("ingen", "ja"), ("besked", "Ingen fra PPR denne gang.")],
    );
    assert_eq!(status, 303, "{page}");
    d.wait_outbox_idle();
    let mails = sink.wait(2);
    assert!(
        mails
            .iter()
            .any(|m| rcpt_of(m) == "leder@friskolen.localhost"),
        "the answer by mail instead"
    );
    let notice = failure_notice(&mails, &r);
    assert!(
        notice.contains("sendt med mail til modtageren i stedet"),
        "{notice}"
    );
    let (_, page) = karen.get(&d, &format!("/koe/{r}"));
    assert!(
        page.contains("afvist") && page.contains("sendt med mail i stedet"),
        "{page}"
    );
    // While Serviceplatformen is down, a letter waits and is tried again; nothing is lost.
    platform.set_mode("down");
    let (status, _) = karen.post_form(
        &d,
        &format!("/koe/{r}/svar"),
        &[("ingen", "ja"), ("besked", "Rettelse: ingen fra PPR.")],
    );
    assert_eq!(status, 303);
    wait_for(
        "a try while it is down",
        std::time::Duration::from_secs(20),
        || {
            let (_, page) = karen.get(&d, &format!("/koe/{r}"));
            page.contains("venter på at blive sendt").then_some(())
        },
    );
    assert!(platform.received().is_empty());
    platform.set_mode("normal");
    let letter = wait_for(
        "the letter once it is up",
        std::time::Duration::from_secs(30),
        || platform.received().into_iter().next(),
    );
    assert_eq!(letter["recipient_id"], "13585628");
}

/// A professional who signed in with MitID Erhverv on the underretning form gets the
/// kvittering and the tilbagemelding in their organisation's Digital Post (the CVR NemLog-in named), not by
/// mail; the desk says where it goes before it is approved, and shows the letter after.
#[test]
fn a_tilbagemelding_goes_to_the_signed_in_professionals_organisation() {
    let (d, idp, platform, _files) = with_both();
    let (_, csrf, cookies) = underretning_signed_in(d.public, &idp, "leder@friskolen.dk");
    let fields = [
        ("csrf", csrf.as_str()),
        ("barn_navn", "Emil Hansen"),
        ("barn_cpr", "120315-4321"),
        ("bekymring", "Emil kommer sulten i skole."),
        ("foraeldre_ved", "nej"),
    ];
    let (code, _, receipt) = post(d.public, "/underretning", &cookies, &fields, &[]);
    assert_eq!(code, 200, "{receipt}");
    let r = reference_on(&receipt);
    // The kvittering goes there too, at once.
    let kvittering = wait_for(
        "the kvittering at Serviceplatformen",
        std::time::Duration::from_secs(30),
        || platform.received().into_iter().next(),
    );
    assert_eq!(kvittering["recipient_id"], "13585628");
    assert!(
        kvittering["memo"].as_str().unwrap().contains(&r),
        "{kvittering}"
    );
    d.decide(
        &r,
        &["--trin", "3", "--outcome", "boernefaglig_undersoegelse"],
    );
    let modt = d.add_user("modt", "modtagelsen@kommune.localhost", "modtagelsen");
    let modt = d.sign_in("modt", &modt);
    let (_, page) = modt.get(&d, &format!("/koe/{r}"));
    assert!(
        page.contains("til Friskolens digitale postkasse (CVR 13585628) med Digital Post"),
        "{page}"
    );
    let text = "Vi har iværksat en børnefaglig undersøgelse.";
    let (status, page) = modt.approve_letter(&d, &r, text);
    assert_eq!(status, 303, "{page}");
    let letter = wait_for(
        "the tilbagemelding at Serviceplatformen",
        std::time::Duration::from_secs(30),
        || platform.received().into_iter().nth(1),
    );
    assert_eq!(letter["recipient_id"], "13585628");
    assert!(letter["memo"]
        .as_str()
        .unwrap()
        .contains(&format!("Tilbagemelding på din underretning {r}")));
    wait_for(
        "the letter on the item",
        std::time::Duration::from_secs(30),
        || {
            let (_, page) = modt.get(&d, &format!("/koe/{r}"));
            (page.contains("Breve i Digital Post") && page.contains("afleveret i modtagerens"))
                .then_some(())
        },
    );
}

/// A letter refused for good with no proven address beside it (signed in without an e-mail
/// from NemLog-in, one typed): no mail goes to the typed address instead, Modtagelsen is
/// told, and the item says a person gives the answer another way.
#[test]
fn a_refused_letter_without_a_proven_address_goes_to_a_person() {
    let (d, idp, platform, _files) = with_both();
    let sink = Sink::start(d.opts.relay_port);
    platform.set_mode("reject");
    let (_, csrf, cookies) = underretning_signed_in(d.public, &idp, "");
    let fields = [
        ("csrf", csrf.as_str()),
        ("barn_navn", "Emil Hansen"),
        ("bekymring", "Emil kommer sulten i skole."),
        ("foraeldre_ved", "nej"),
        ("email", "nogen@example.dk"),
    ];
    let (code, _, receipt) = post(d.public, "/underretning", &cookies, &fields, &[]);
    assert_eq!(code, 200, "{receipt}");
    let r = reference_on(&receipt);
    d.decide(
        &r,
        &["--trin", "3", "--outcome", "boernefaglig_undersoegelse"],
    );
    let modt = d.add_user("modt", "modtagelsen@kommune.localhost", "modtagelsen");
    let modt = d.sign_in("modt", &modt);
    let (status, page) = modt.approve_letter(&d, &r, "Vi har iværksat en undersøgelse.");
    assert_eq!(status, 303, "{page}");
    wait_for(
        "both letters refused on the item",
        std::time::Duration::from_secs(30),
        || {
            let (_, page) = modt.get(&d, &format!("/koe/{r}"));
            (page.matches("giver svaret på anden vis").count() == 2).then_some(())
        },
    );
    d.wait_outbox_idle();
    let mails = sink.wait(1);
    assert!(
        !mails.iter().any(|m| rcpt_of(m) == "nogen@example.dk"),
        "nothing to the typed address"
    );
    let notice = failure_notice(&mails, &r);
    assert!(
        notice.contains("Giv modtageren svaret på anden vis"),
        "{notice}"
    );
}
