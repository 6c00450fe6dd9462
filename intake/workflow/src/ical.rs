//! iCalendar invitations (RFC 5545, iTIP RFC 5546) that Outlook and Thunderbird accept:
//! `METHOD:REQUEST` (or `CANCEL`), the Europe/Copenhagen `VTIMEZONE` the times refer to,
//! one `ORGANIZER`, an `ATTENDEE` each, a stable `UID` and a `SEQUENCE` that grows with
//! each change. Lines end in CRLF and are folded at 75 octets; text is escaped.

use jiff::civil::DateTime;
use jiff::Timestamp;

/// Who is invited, or invites.
pub struct Person<'a> {
    pub name: &'a str,
    pub email: &'a str,
}

/// One event to send.
pub struct Invitation<'a> {
    /// Stable across changes of the same meeting (its series, team and planned day).
    pub uid: &'a str,
    /// 0 at first; one more with each change, and for the cancellation.
    pub sequence: u32,
    pub cancel: bool,
    pub summary: &'a str,
    pub description: &'a str,
    pub start: DateTime,
    pub end: DateTime,
    pub organizer: Person<'a>,
    pub attendees: &'a [Person<'a>],
    pub stamp: Timestamp,
}

/// The Danish time zone as Outlook wants it spelt out (CET/CEST since 1996's rules).
const VTIMEZONE: &str = "BEGIN:VTIMEZONE\r\n\
TZID:Europe/Copenhagen\r\n\
BEGIN:DAYLIGHT\r\n\
TZOFFSETFROM:+0100\r\n\
TZOFFSETTO:+0200\r\n\
TZNAME:CEST\r\n\
DTSTART:19700329T020000\r\n\
RRULE:FREQ=YEARLY;BYMONTH=3;BYDAY=-1SU\r\n\
END:DAYLIGHT\r\n\
BEGIN:STANDARD\r\n\
TZOFFSETFROM:+0200\r\n\
TZOFFSETTO:+0100\r\n\
TZNAME:CET\r\n\
DTSTART:19701025T030000\r\n\
RRULE:FREQ=YEARLY;BYMONTH=10;BYDAY=-1SU\r\n\
END:STANDARD\r\n\
END:VTIMEZONE\r\n";

/// TEXT values: backslash, semicolon, comma and newlines escaped (RFC 5545 3.3.11).
fn text(s: &str) -> String {
    s.replace('\\', "\\\\")
        .replace(';', "\\;")
        .replace(',', "\\,")
        .replace("\r\n", "\\n")
        .replace('\n', "\\n")
        .chars()
        .filter(|c| !c.is_control())
        .collect()
}

/// A parameter value: quoted (without quotes or controls inside) when it holds `:;,`.
fn param(s: &str) -> String {
    let clean: String = s.chars().filter(|c| !c.is_control() && *c != '"').collect();
    if clean.contains([':', ';', ',']) {
        format!("\"{clean}\"")
    } else {
        clean
    }
}

/// A content line folded at 75 octets, on character boundaries, ending in CRLF.
fn line(out: &mut String, content: &str) {
    let mut width = 0;
    for c in content.chars() {
        let n = c.len_utf8();
        if width + n > 75 {
            out.push_str("\r\n ");
            width = 1;
        }
        out.push(c);
        width += n;
    }
    out.push_str("\r\n");
}

fn local(t: DateTime) -> String {
    t.strftime("%Y%m%dT%H%M%S").to_string()
}

/// The whole `VCALENDAR` for one invitation (or its cancellation).
pub fn calendar(i: &Invitation) -> String {
    let mut out = String::new();
    for l in [
        "BEGIN:VCALENDAR",
        "VERSION:2.0",
        "PRODID:-//modtag//statusmoeder//DA",
        "CALSCALE:GREGORIAN",
        if i.cancel {
            "METHOD:CANCEL"
        } else {
            "METHOD:REQUEST"
        },
    ] {
        line(&mut out, l);
    }
    out.push_str(VTIMEZONE);
    line(&mut out, "BEGIN:VEVENT");
    line(&mut out, &format!("UID:{}", text(i.uid)));
    line(
        &mut out,
        &format!("DTSTAMP:{}", i.stamp.strftime("%Y%m%dT%H%M%SZ")),
    );
    line(&mut out, &format!("SEQUENCE:{}", i.sequence));
    line(
        &mut out,
        &format!("DTSTART;TZID=Europe/Copenhagen:{}", local(i.start)),
    );
    line(
        &mut out,
        &format!("DTEND;TZID=Europe/Copenhagen:{}", local(i.end)),
    );
    line(&mut out, &format!("SUMMARY:{}", text(i.summary)));
    line(&mut out, &format!("DESCRIPTION:{}", text(i.description)));
    line(
        &mut out,
        &format!(
            "ORGANIZER;CN={}:mailto:{}",
            param(i.organizer.name),
            i.organizer.email
        ),
    );
    for a in i.attendees {
        line(
            &mut out,
            &format!(
                "ATTENDEE;CN={};CUTYPE=INDIVIDUAL;ROLE=REQ-PARTICIPANT;PARTSTAT=NEEDS-ACTION;RSVP=TRUE:mailto:{}",
                param(a.name),
                a.email
            ),
        );
    }
    line(
        &mut out,
        if i.cancel {
            "STATUS:CANCELLED"
        } else {
            "STATUS:CONFIRMED"
        },
    );
    line(&mut out, "TRANSP:OPAQUE");
    line(&mut out, "END:VEVENT");
    line(&mut out, "END:VCALENDAR");
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn invitation(attendees: &[Person<'_>], cancel: bool, sequence: u32) -> String {
        calendar(&Invitation {
            uid: "statusmoede-skoler-20270817@modtag.localhost",
            sequence,
            cancel,
            summary: "Statusmøde: Skoler; trin 2, lederteam",
            description: "Indkaldt af lederen af PPR.\nTo timer.",
            start: "2027-08-17T10:00:00".parse().unwrap(),
            end: "2027-08-17T12:00:00".parse().unwrap(),
            organizer: Person {
                name: "Karen Poulsen",
                email: "leder.ppr@kommune.localhost",
            },
            attendees,
            stamp: "2026-12-01T10:00:00Z".parse().unwrap(),
        })
    }

    /// A real iCalendar parser reads what modtag writes, field by field.
    #[test]
    fn a_real_parser_reads_the_invitation() {
        use icalendar::{Calendar, CalendarComponent, Component};
        let people = [
            Person {
                name: "Henrik Sørensen, distriktsskoleleder",
                email: "distriktsskoleleder@kommune.localhost",
            },
            Person {
                name: "Camilla Berg",
                email: "leder.bsr@kommune.localhost",
            },
        ];
        let ics = invitation(&people, false, 0);
        assert!(ics.lines().all(|l| l.len() <= 75), "{ics}");
        assert!(ics.contains("METHOD:REQUEST\r\n") && ics.contains("TZID:Europe/Copenhagen"));
        let parsed: Calendar = ics.parse().expect("icalendar parses it");
        let events: Vec<_> = parsed
            .components
            .iter()
            .filter_map(|c| match c {
                CalendarComponent::Event(e) => Some(e),
                _ => None,
            })
            .collect();
        assert_eq!(events.len(), 1);
        let e = events[0];
        assert_eq!(
            e.get_summary(),
            Some("Statusmøde: Skoler; trin 2, lederteam")
        );
        assert_eq!(
            e.get_uid(),
            Some("statusmoede-skoler-20270817@modtag.localhost")
        );
        assert_eq!(e.property_value("SEQUENCE"), Some("0"));
        assert_eq!(
            e.get_description(),
            Some("Indkaldt af lederen af PPR.\nTo timer.")
        );
        let start = e.properties().get("DTSTART").unwrap();
        assert_eq!(start.value(), "20270817T100000");
        assert_eq!(
            start.params().get("TZID").map(|p| p.value()),
            Some("Europe/Copenhagen")
        );
        let attendees = e.multi_properties().get("ATTENDEE").expect("attendees");
        assert_eq!(attendees.len(), 2);
        assert_eq!(
            attendees[0].params().get("CN").map(|p| p.value()),
            Some("Henrik Sørensen, distriktsskoleleder")
        );
        assert_eq!(attendees[1].value(), "mailto:leder.bsr@kommune.localhost");

        let cancel = invitation(&people, true, 1);
        let parsed: Calendar = cancel.parse().expect("icalendar parses the cancellation");
        assert!(cancel.contains("METHOD:CANCEL\r\n") && cancel.contains("STATUS:CANCELLED"));
        assert_eq!(parsed.components.len(), 2, "the time zone and the event");
    }
}
