//! The statusmøde series of a school year against the demo tree and directory: every
//! team's list, the 8-week rhythm, no meeting on a Danish public holiday or a closed day.

use jiff::civil::Date;
use jiff::ToSpan;
use modtag_router::calendar;
use modtag_router::meetings::{first_day, open_from, school_year, teams};

#[test]
fn a_school_years_statusmoeder_for_every_lederteam() {
    let loaded = modtag_config::load_embedded().expect("embedded default loads");
    let teams = teams(&loaded.tree, &loaded.directory);
    let lists: Vec<(&str, Vec<&str>)> = teams
        .iter()
        .map(|t| {
            let ids = t.members.iter().map(|m| m.id.as_str()).collect();
            (t.name.as_str(), ids)
        })
        .collect();
    assert_eq!(
        lists,
        [
            (
                "Dagplejen",
                vec!["karen.poulsen", "hanne.andersen", "birgitte.hansen"]
            ),
            (
                "Dagtilbud",
                vec![
                    "karen.poulsen",
                    "jens.pedersen",
                    "birgitte.hansen",
                    "louise.rasmussen"
                ]
            ),
            (
                "Skoler",
                vec![
                    "karen.poulsen",
                    "henrik.soerensen",
                    "birgitte.hansen",
                    "camilla.berg"
                ]
            ),
            (
                "Friskolen",
                vec!["susanne.moeller", "henrik.soerensen", "birgitte.hansen"]
            ),
        ],
        "DOMAIN.md flow 3, from the tree"
    );
    // The leader of PPR calls the kommune's teams; a private school's leader her own, and
    // the leader of the Børneskolerådgivere is not summoned there.
    let organizers: Vec<&str> = (teams.iter())
        .map(|t| t.organizer.as_ref().map_or("", |o| o.id.as_str()))
        .collect();
    assert_eq!(
        organizers,
        [
            "karen.poulsen",
            "karen.poulsen",
            "karen.poulsen",
            "susanne.moeller"
        ]
    );
    assert!(!lists[3].1.contains(&"camilla.berg"));
    // The leaders of UU and fritid: only for a forløb about a pupil in udskoling, at a
    // school's meeting (public or private), never at Dagplejen's or Dagtilbud's.
    let udskoling: Vec<Vec<&str>> = (teams.iter())
        .map(|t| t.udskoling.iter().map(|m| m.id.as_str()).collect())
        .collect();
    assert_eq!(
        udskoling,
        [
            vec![],
            vec![],
            vec!["martin.olsen", "sofie.thomsen"],
            vec!["martin.olsen", "sofie.thomsen"]
        ]
    );

    let cal = &loaded.directory.calendar;
    // Whatever the year brings, no meeting is on a closed day.
    for year in [2026, 2027, 2028] {
        let series = school_year(year, &teams, cal);
        let days: Vec<Date> = {
            let mut d: Vec<Date> = series.iter().map(|m| m.start.date()).collect();
            d.dedup();
            d
        };
        assert_eq!(days[0], first_day(year));
        assert!(days.len() >= 5, "{year}: {days:?}");
        for d in &days {
            assert!(!calendar::closed(*d, cal), "{year}: {d} is closed");
            assert!(
                *d >= Date::new(year, 8, 15).unwrap() && *d < Date::new(year + 1, 7, 1).unwrap()
            );
        }
        // The rhythm: planned 56 days apart; a date moved off a closed day is at most a
        // few days late and the next one is planned from the rhythm, not from the move.
        for (n, d) in days.iter().enumerate() {
            let planned = first_day(year).checked_add((56 * n as i64).days()).unwrap();
            let late = (*d - planned).get_days();
            assert!(
                (0..=4).contains(&late),
                "{year}: meeting {n} on {d}, planned {planned}"
            );
        }
        // Each day: every team once, two hours each, one after the other from 08:00.
        for d in &days {
            let that_day: Vec<_> = series.iter().filter(|m| m.start.date() == *d).collect();
            assert_eq!(that_day.len(), teams.len());
            for (i, m) in that_day.iter().enumerate() {
                assert_eq!(m.start.hour(), 8 + 2 * i as i8);
                assert_eq!((m.end - m.start).get_hours(), 2);
            }
        }
    }
}

/// Planned on Tuesdays, the rhythm meets no Easter holiday; should a planned day be closed
/// (a changed weekday, a Christmas Tuesday), the meeting goes to the next open day.
#[test]
fn a_planned_date_on_a_closed_day_moves_to_the_next_open_day() {
    let loaded = modtag_config::load_embedded().unwrap();
    let cal = &loaded.directory.calendar;
    let d = |y, m, day| Date::new(y, m, day).unwrap();
    // 2. påskedag 2027 is Monday 29 March.
    assert_eq!(open_from(d(2027, 3, 29), cal), d(2027, 3, 30));
    // Skærtorsdag, Langfredag, the weekend and 2. påskedag 2027.
    assert_eq!(open_from(d(2027, 3, 25), cal), d(2027, 3, 30));
    // Christmas 2029: Tuesday 25 and Wednesday 26 December.
    assert_eq!(open_from(d(2029, 12, 25), cal), d(2029, 12, 27));
    assert_eq!(
        open_from(d(2027, 3, 30), cal),
        d(2027, 3, 30),
        "an open day stays"
    );
}
