//! The public forms as issue 29 found them wanting: the underretning form asks for what
//! Modtagelsen asks next (the child's address, school or dagtilbud, the reporter's phone),
//! both forms carry the kommune's privacy notice (GDPR art. 13) from `[public.privacy]`, and
//! the allowed file types are named in words. Over HTTP for what reaches the desk, and in
//! Chromium for what a citizen sees.

use modtag_tests::browser::Browser;
use modtag_tests::forms::{form, post, reference_on};
use modtag_tests::*;

/// A professional's underretning with every field the form has; `phone` as typed.
pub(crate) fn underretning_fields<'a>(csrf: &'a str, phone: &'a str) -> Vec<(&'a str, &'a str)> {
    vec![
        ("csrf", csrf),
        ("barn_navn", "Sofie Hansen"),
        ("barn_cpr", "120315-4321"),
        ("barn_adresse", "Vestergade 12, 7000 Fredericia"),
        ("barn_institution", "Bakkeskolen, 3.b"),
        ("foraeldre", "Mette og Jens Hansen"),
        ("bekymring", "Sofie kommer sulten i skole."),
        ("gjort", "Talt med Sofie."),
        ("foraeldre_ved", "nej"),
        ("indberetter", "fagperson"),
        ("navn", "Lærer Jensen"),
        ("arbejdsplads", "Bakkeskolen"),
        ("email", "jensen@bakkeskolen.dk"),
        ("telefon", phone),
    ]
}

/// The child's address and school and the reporter's phone reach Modtagelsen's item page,
/// in the intake's text beside the other fields. A phone number that is not one is refused
/// in Danish without repeating it, and the form comes back with everything typed.
#[test]
fn modtagelsen_reads_the_childs_address_school_and_the_reporters_phone() {
    let d = Daemon::start(Options::default());
    let before = d.intakes();

    let (csrf, cookie) = form(d.public, "/underretning");
    let typed = underretning_fields(&csrf, "20 30 40 50 (mor)");
    let (code, _, page) = post(d.public, "/underretning", &cookie, &typed, &[]);
    assert_eq!(code, 422, "{page}");
    let summary = page
        .split("id=\"fejl\"")
        .nth(1)
        .and_then(|t| t.split("</div>").next())
        .expect("the error summary");
    assert!(
        summary.contains("href=\"#telefon\">Skriv telefonnummeret med cifre"),
        "{summary}"
    );
    assert!(
        !summary.contains("20 30 40 50"),
        "the value is not repeated: {summary}"
    );
    for (name, value) in &typed[1..] {
        let kept = match *name {
            "bekymring" | "gjort" => format!(">{value}</textarea>"),
            "foraeldre_ved" | "indberetter" => {
                format!("name=\"{name}\" value=\"{value}\" checked")
            }
            _ => format!("name=\"{name}\" type="),
        };
        assert!(page.contains(&kept), "{name} kept: {page}");
        assert!(page.contains(value), "{name}'s {value:?} kept: {page}");
    }
    assert_eq!(d.intakes(), before, "nothing refused is stored");

    let (csrf, cookie) = form(d.public, "/underretning");
    let (code, _, body) = post(
        d.public,
        "/underretning",
        &cookie,
        &underretning_fields(&csrf, "+45 20 30 40 50"),
        &[],
    );
    assert_eq!(code, 200, "{body}");
    let r = reference_on(&body);
    let uri = d.add_user("modt", "modtagelsen@kommune.localhost", "modtagelsen");
    let modt = d.sign_in("modt", &uri);
    let (status, item) = modt.get(&d, &format!("/koe/{r}"));
    assert_eq!(status, 200, "{item}");
    for line in [
        "Barnets navn: Sofie Hansen",
        "Barnets adresse: Vestergade 12, 7000 Fredericia",
        "Skole eller dagtilbud: Bakkeskolen, 3.b",
        "Arbejdsplads: Bakkeskolen",
        "E-mail: jensen@bakkeskolen.dk",
        "Telefon: +45 20 30 40 50",
    ] {
        assert!(item.contains(line), "{line:?} on the item page: {item}");
    }

    // Left empty, each says so rather than vanishing.
    let (csrf, cookie) = form(d.public, "/underretning");
    let mut fields = underretning_fields(&csrf, "");
    fields.retain(|(name, _)| !["barn_adresse", "barn_institution"].contains(name));
    let (code, _, body) = post(d.public, "/underretning", &cookie, &fields, &[]);
    assert_eq!(code, 200, "{body}");
    let item = d.cli_json(&["triage", "show", &reference_on(&body), "--json"]);
    let text = item["text"].as_str().unwrap();
    for line in [
        "Barnets adresse: ikke oplyst",
        "Skole eller dagtilbud: ikke oplyst",
        "Telefon: ikke oplyst",
    ] {
        assert!(text.contains(line), "{line:?}: {text}");
    }
}

/// Both forms carry the privacy notice the configuration gives (here with another DPO
/// address than the demo's), and name the allowed file types in words.
#[test]
fn both_forms_carry_the_configured_privacy_notice_and_types_in_words() {
    let d = Daemon::start(Options {
        edits: vec![(
            "dpo@fredericia.dk".into(),
            "persondata@test.kommune.dk".into(),
        )],
        ..Options::default()
    });
    for path in ["/underretning", "/sendsikkert"] {
        let (code, _, page) = http_request(d.public, "GET", path, &[], b"").unwrap();
        assert_eq!(code, 200, "{page}");
        for says in [
            "href=\"#persondata\">hvordan kommunen behandler dine oplysninger</a>",
            "<details class=\"details privacy\" id=\"persondata\">",
            "Sådan behandler kommunen dine oplysninger",
            "Fredericia Kommune, Gothersgade 20, 7000 Fredericia. CVR-nr. 69116418.",
            "barnets lov §§ 133–135",
            "Datatilsynet",
            "Du har ret til indsigt",
            "persondata@test.kommune.dk",
            "Tilladte typer: PDF, Word, Excel, PowerPoint, OpenDocument (ODT, ODS), \
             billeder (PNG, JPEG, GIF, TIFF, HEIC), tekstfiler, CSV og RTF.",
        ] {
            assert!(page.contains(says), "{path}: {says:?} in {page}");
        }
        assert!(!page.contains("dpo@fredericia.dk"), "{path}");
        assert!(!page.contains("MSWORD"), "{path}");
        // The notice comes before the button that sends.
        let notice = page.find("id=\"persondata\"").unwrap();
        assert!(notice < page.find("type=\"submit\"").unwrap(), "{path}");
    }
}

/// Both forms in Chromium: axe-core clean with the notice closed and open, the new fields
/// labelled, no JavaScript; a refused phone number keeps what was typed; the notice read at
/// a phone's width. The screenshots are for a person to look at.
#[test]
fn both_forms_in_chromium_with_the_notice_and_the_new_fields() {
    let d = Daemon::start(Options::default());
    let base = format!("http://{}", d.public);
    let b = Browser::start();
    let labelled = |id: &str| {
        b.eval(&format!(
            "const f = document.getElementById('{id}');
             return f.labels.length === 1 ? f.labels[0].textContent.trim() : null;"
        ))
    };
    for (path, shot) in [
        ("/underretning", "public-underretning"),
        ("/sendsikkert", "public-sendsikkert"),
    ] {
        b.goto(&format!("{base}{path}"));
        assert_eq!(b.eval("return document.scripts.length;"), 0, "{path}");
        assert_eq!(b.accessibility_violations(), Vec::<String>::new(), "{path}");
        assert_eq!(
            b.eval("return document.querySelector('#persondata summary').textContent.trim();"),
            "Sådan behandler kommunen dine oplysninger"
        );
        assert_eq!(
            b.eval("return document.querySelector('#persondata').open;"),
            false
        );
        b.eval("document.querySelector('#persondata').scrollIntoView(); return null;");
        b.screenshot(&format!("{shot}-closed"));
        // Opened as a person would, by its summary: no script of the page's needed.
        b.click("#persondata summary");
        assert_eq!(
            b.eval("return document.querySelector('#persondata').open;"),
            true
        );
        assert!(b.text().contains("dpo@fredericia.dk"), "{path}");
        assert_eq!(
            b.accessibility_violations(),
            Vec::<String>::new(),
            "{path} with the notice open"
        );
        b.eval("document.querySelector('#persondata').scrollIntoView(); return null;");
        b.screenshot(&format!("{shot}-notice"));
        b.eval("document.querySelector('#persondata .details-text > :last-child').scrollIntoView(false); return null;");
        b.screenshot(&format!("{shot}-notice-end"));
    }

    b.goto(&format!("{base}/underretning"));
    for (id, label) in [
        ("barn_adresse", "Barnets adresse (hvis du kender den)"),
        (
            "barn_institution",
            "Barnets skole eller dagtilbud (hvis du kender det)",
        ),
        ("telefon", "Dit telefonnummer"),
    ] {
        assert_eq!(labelled(id), label, "#{id}");
    }
    b.screenshot("public-underretning-top");
    b.fill("barn_navn", "Sofie Hansen");
    b.fill("barn_adresse", "Vestergade 12, 7000 Fredericia");
    b.fill("barn_institution", "Bakkeskolen, 3.b");
    b.fill("bekymring", "Sofie kommer sulten i skole.");
    b.click("#indberetter-borger");
    b.fill("navn", "Nabo Hansen");
    b.fill("telefon", "tlf. 20304050");
    b.follow("form button[type=submit]");
    assert!(
        b.text().contains("Formularen kan ikke sendes endnu"),
        "{}",
        b.text()
    );
    assert_eq!(
        b.eval("return document.querySelector('#fejl a').getAttribute('href');"),
        "#telefon"
    );
    for (id, value) in [
        ("barn_adresse", "Vestergade 12, 7000 Fredericia"),
        ("barn_institution", "Bakkeskolen, 3.b"),
        ("telefon", "tlf. 20304050"),
        ("navn", "Nabo Hansen"),
    ] {
        assert_eq!(
            b.eval(&format!("return document.getElementById('{id}').value;")),
            value
        );
    }
    assert_eq!(
        b.accessibility_violations(),
        Vec::<String>::new(),
        "the refused form"
    );
    b.screenshot("public-underretning-refused");

    // At a phone's width the notice still reads as text, not a wall.
    b.rt.block_on(b.client.set_window_size(390, 844)).unwrap();
    b.goto(&format!("{base}/underretning"));
    b.click("#persondata summary");
    b.eval("document.querySelector('#persondata').scrollIntoView(); return null;");
    assert_eq!(
        b.eval("return document.documentElement.scrollWidth <= window.innerWidth;"),
        true,
        "nothing runs off a phone's screen"
    );
    b.screenshot("public-underretning-notice-phone");
}
