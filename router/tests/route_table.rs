//! Routing by table, against the demo beslutningstræ and directory that ship as the
//! embedded default: facts → the role ids that receive a copy, and what is withheld.

use modtag_router::{route, Facts};

fn facts(kind: &str) -> Facts {
    Facts {
        kind: kind.into(),
        ..Facts::default()
    }
}

#[test]
fn demo_tree_routes_the_flows() {
    let loaded = modtag_config::load_embedded().expect("embedded default loads");
    struct Row {
        name: &'static str,
        facts: Facts,
        to: &'static [&'static str],
        withheld: &'static [&'static str],
    }
    let rows = [
        Row {
            name: "existing case goes to the case's rådgiver",
            facts: Facts {
                existing_case: true,
                raadgiver: Some("anna.kristensen".into()),
                trin: Some(3),
                ..facts("underretning")
            },
            to: &["anna.kristensen"],
            withheld: &[],
        },
        Row {
            name: "new case on trin 4 goes to Modtagelsen for an underretningsmøde",
            facts: Facts {
                trin: Some(4),
                ..facts("underretning")
            },
            to: &["modtagelsen"],
            withheld: &[],
        },
        Row {
            name: "akut out of hours adds the leader and døgnvagt",
            facts: Facts {
                trin: Some(4),
                akut: true,
                out_of_hours: true,
                ..facts("underretning")
            },
            to: &["modtagelsen", "lene.holm", "doegnvagten"],
            withheld: &[],
        },
        Row {
            name: "trin 2 in a dagtilbud with consent goes to the lokal leder",
            facts: Facts {
                trin: Some(2),
                consent: true,
                area: Some("dagtilbud".into()),
                institution: Some("solsikken".into()),
                ..facts("underretning")
            },
            to: &["mette.joergensen"],
            withheld: &[],
        },
        Row {
            name: "trin 2 without consent sends nothing to the lokal leder",
            facts: Facts {
                trin: Some(2),
                area: Some("dagtilbud".into()),
                institution: Some("solsikken".into()),
                ..facts("underretning")
            },
            to: &[],
            withheld: &["lokal_leder"],
        },
        Row {
            name: "folkeskole goes to the Børneskolerådgivere, not the lokal leder",
            facts: Facts {
                trin: Some(1),
                consent: true,
                area: Some("skole".into()),
                institution: Some("bakkeskolen".into()),
                ..facts("underretning")
            },
            to: &["boerneskoleraadgiverne"],
            withheld: &[],
        },
        Row {
            name: "an existing case with an unknown rådgiver falls back to Modtagelsen",
            facts: Facts {
                existing_case: true,
                ..facts("underretning")
            },
            to: &["modtagelsen"],
            withheld: &["raadgiver"],
        },
        Row {
            name: "Trivsel+ goes to Journalen",
            facts: facts("trivselplus"),
            to: &["journalen"],
            withheld: &[],
        },
        Row {
            name: "status meeting for a private school leaves out the Børneskolerådgivere's leader",
            facts: Facts {
                area: Some("privat_skole".into()),
                institution: Some("friskolen".into()),
                udskoling: true,
                ..facts("statusmoede")
            },
            to: &[
                "martin.olsen",
                "sofie.thomsen",
                "susanne.moeller",
                "henrik.soerensen",
                "birgitte.hansen",
            ],
            withheld: &[],
        },
    ];
    for row in rows {
        let d = route(&row.facts, &loaded.tree, &loaded.directory);
        let to: Vec<&str> = d.recipients.iter().map(|r| r.person.as_str()).collect();
        assert_eq!(to, row.to, "{}", row.name);
        let withheld: Vec<&str> = d.withheld.iter().map(|w| w.role.as_str()).collect();
        assert_eq!(withheld, row.withheld, "{}", row.name);
        assert_eq!(d.tree_hash, loaded.tree.hash, "{}", row.name);
        assert_eq!(
            d.refused.is_some(),
            !row.withheld.is_empty(),
            "{}",
            row.name
        );
    }
}

#[test]
fn trivsel_names_match_the_directory_tolerantly() {
    use modtag_router::names::{match_names, trivsel_subject, NameResult};
    let loaded = modtag_config::load_embedded().expect("embedded default loads");
    let run = |subject: &str| -> Vec<String> {
        let names = trivsel_subject(subject).expect("a Trivsel+ subject");
        match_names(names, &loaded.directory)
            .into_iter()
            .map(|r| match r {
                NameResult::Matched(_, id, _) => id,
                NameResult::Unmatched(w, Some(s)) => format!("?{w} (~{s})"),
                NameResult::Unmatched(w, None) => format!("?{w}"),
            })
            .collect()
    };
    let table: &[(&str, &[&str])] = &[
        (
            "Trivsel+ Karen Poulsen Henrik Sørensen",
            &["karen.poulsen", "henrik.soerensen"],
        ),
        ("TRIVSEL + poulsen karen", &["karen.poulsen"]),
        (
            "SV: Trivsel+: Henrik Sorensen, Camilla  Berg",
            &["henrik.soerensen", "camilla.berg"],
        ),
        (
            "Trivsel plus Karen Poulsen og Ukendt Person",
            &["karen.poulsen", "?Ukendt Person"],
        ),
        (
            "Trivsel+ Karin Poulsen",
            &["?Karin Poulsen (~Karen Poulsen)"],
        ),
        (
            "Trivsel+ Birgitte Hansen Jens Pedersen Louise Rasmussen",
            &["birgitte.hansen", "jens.pedersen", "louise.rasmussen"],
        ),
        ("Trivsel+ Karen", &["?Karen"]),
        ("Trivsel+ Børneskolerådgiverne", &["boerneskoleraadgiverne"]),
    ];
    for (subject, want) in table {
        assert_eq!(&run(subject), want, "{subject}");
    }
}
