//! The TRIVSEL+ forløb's rough edges in the desk (issue 29): a leader answers that none of
//! their staff join, a refused answer keeps what was typed, and Journalen's queue shows a
//! forløb that waits for a step without being asked for it.

use modtag_tests::forms::reference_on;
use modtag_tests::*;

#[test]
fn a_leader_answers_no_staff_and_journalen_sees_the_forloeb_waiting() {
    let d = Daemon::start(Options::default());
    let sink = Sink::start(d.opts.relay_port);
    let (code, _, body) = modtag_tests::forms::friskolen_send_sikkert(
        d.public,
        "",
        "Vi ønsker et TRIVSEL+-forløb for en elev i 2. klasse.",
    );
    assert_eq!(code, 200, "{body}");
    let r = reference_on(&body);
    let journal = d.add_user("journal", "journalen@kommune.localhost", "journalen");
    let journal = d.sign_in("journal", &journal);
    let (status, page) = journal.post_form(&d, &format!("/koe/{r}/videresend"), &[]);
    assert_eq!(status, 303, "{page}");

    let karen = d.add_user("karen", "leder.ppr@kommune.localhost", "leder_ppr");
    let karen = d.sign_in("karen", &karen);
    let svar = format!("/koe/{r}/svar");
    // A line without an address is refused, on the page, with everything typed kept.
    let typed = "Anne Jensen uden adresse";
    let note = "Vi kan først deltage efter jul.";
    let (status, page) = karen.post_form(&d, &svar, &[("deltagere", typed), ("besked", note)]);
    assert_eq!(status, 422, "{page}");
    assert!(
        page.contains("id=\"fejl\"")
            && page.contains("Linje 1: skriv navn og e-postadresse")
            && page.contains(&format!("svar-error\">{typed}</textarea>"))
            && page.contains(&format!(">{note}</textarea>")),
        "{page}"
    );
    // None of hers join: that is an answer too, and it goes to the institution.
    let (status, page) = karen.post_form(&d, &svar, &[("ingen", "ja"), ("besked", note)]);
    assert_eq!(status, 303, "{page}");
    let (_, page) = karen.get(&d, &format!("/koe/{r}"));
    assert!(
        page.contains("Karen Poulsen svarede") && page.contains("ingen medarbejdere"),
        "{page}"
    );
    d.wait_outbox_idle();
    let answer = sink
        .wait(1)
        .into_iter()
        .find(|m| rcpt_of(m) == "leder@friskolen.localhost")
        .expect("the answer to Friskolen's leader");
    let plain = Gpg::with_demo_keys(&["leder-friskolen"])
        .decrypt(&armored_block(&answer))
        .unwrap();
    assert!(
        plain.contains("Ingen medarbejdere fra Karen Poulsen deltager") && plain.contains(note),
        "{plain}"
    );

    // Journalen's queue, as it opens, shows the forløb waiting for the list.
    let (_, queue) = journal.get(&d, "/koe");
    assert!(
        queue.contains(&r) && queue.contains("TRIVSEL+-forløb: venter på deltagerlisten"),
        "{queue}"
    );
    assert!(
        queue.contains("afventer vurdering eller et trin i et forløb"),
        "{queue}"
    );
}
