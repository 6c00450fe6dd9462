//! The SMTP listener on the wire: never a relay, smuggling refused, transcripts as a
//! mail-server engineer would read them.

use modtag_tests::*;

#[test]
fn unknown_mailboxes_are_refused_whatever_the_domain() {
    let d = Daemon::start(Options::default());
    let mut c = Smtp::connect(d.smtp);
    assert!(c.greeting.starts_with("220 "), "{}", c.greeting);
    let ehlo = c.cmd("EHLO client.example");
    assert!(
        ehlo.contains("250-PIPELINING") && ehlo.contains("250-SIZE 52428800"),
        "{ehlo}"
    );
    assert!(c.cmd("MAIL FROM:<a@b.example>").starts_with("250 "));
    for rcpt in [
        "nobody@localhost",
        "someone@example.com",
        "underretning@elsewhere.example",
    ] {
        let r = c.cmd(&format!("RCPT TO:<{rcpt}>"));
        assert!(r.starts_with("550 5.1.1 "), "{rcpt}: {r}");
    }
    assert!(
        c.cmd("DATA").starts_with("554 5.5.1"),
        "no valid recipients, no DATA"
    );
    assert!(c
        .cmd("RCPT TO:<Underretning@LOCALHOST>")
        .starts_with("250 2.1.5"));
    assert!(c.cmd("VRFY underretning").starts_with("252 "));
    assert!(c.cmd("QUIT").starts_with("221 "));
}

#[test]
fn a_smuggled_message_is_refused_and_nothing_is_stored() {
    let d = Daemon::start(Options::default());
    let mut c = Smtp::in_data(d.smtp, "client.example");
    c.send_raw(b"Subject: x\r\n\r\nhello\n.\nMAIL FROM:<evil@x>\r\nRCPT TO:<underretning@localhost>\r\nDATA\r\nsmuggled\r\n.\r\n");
    let r = c.reply();
    assert!(r.starts_with("550 5.5.2"), "{r}");
    // The session is still in step: the smuggled commands were message text.
    assert!(c.cmd("NOOP").starts_with("250"));
    let list = d.cli_json(&["triage", "list", "--json"]);
    assert_eq!(list["items"].as_array().unwrap().len(), 0);
}

#[test]
fn pipelined_transactions_get_their_replies_in_order() {
    let d = Daemon::start(Options::default());
    let mut c = Smtp::connect(d.smtp);
    c.cmd("EHLO client.example");
    c.send_raw(b"MAIL FROM:<a@b.example>\r\nRCPT TO:<underretning@localhost>\r\nDATA\r\n");
    assert!(c.reply().starts_with("250"));
    assert!(c.reply().starts_with("250"));
    assert!(c.reply().starts_with("354"));
    c.send_raw(b"Subject: 1\r\n\r\none\r\n.\r\nMAIL FROM:<a@b.example>\r\nRCPT TO:<trivselplus@localhost>\r\nDATA\r\n");
    let first = c.reply();
    assert!(first.starts_with("250 2.0.0 Ok: queued as MT-"), "{first}");
    assert!(c.reply().starts_with("250"));
    assert!(c.reply().starts_with("250"));
    assert!(c.reply().starts_with("354"));
    c.send_raw(b"Subject: Trivsel+ Karen Poulsen\r\n\r\ntwo\r\n.\r\n");
    assert!(c.reply().starts_with("250 2.0.0 Ok: queued as MT-"));
    let list = d.cli_json(&["triage", "list", "--channel", "trivselplus", "--json"]);
    let items = list["items"].as_array().unwrap();
    assert_eq!(items.len(), 1);
    assert_eq!(items[0]["kind"], "trivselplus");
}

#[test]
fn oversized_messages_get_552() {
    let d = Daemon::start(Options {
        max_message_size: 4096,
        ..Options::default()
    });
    let mut c = Smtp::connect(d.smtp);
    c.cmd("EHLO client.example");
    assert!(c
        .cmd("MAIL FROM:<a@b.example> SIZE=100000")
        .starts_with("552 5.3.4"));
    c.cmd("MAIL FROM:<a@b.example>");
    c.cmd("RCPT TO:<underretning@localhost>");
    c.cmd("DATA");
    c.send_raw(&vec![b'x'; 10_000]);
    c.send_raw(b"\r\n.\r\n");
    assert!(c.reply().starts_with("552 5.3.4"));
    assert!(c.cmd("NOOP").starts_with("250"));
}

#[test]
fn bdat_chunks_over_the_wire_make_one_message() {
    let d = Daemon::start(Options::default());
    let mut c = Smtp::connect(d.smtp);
    assert!(c.cmd("EHLO client.example").contains("250-CHUNKING"));
    c.cmd("MAIL FROM:<a@b.example>");
    c.cmd("RCPT TO:<underretning@localhost>");
    // A chunk boundary in the middle of a header and of a CPR number; a line starting with
    // a dot is not stuffed in BDAT and must arrive as it was sent.
    let message = b"Subject: Bekymring via BDAT\r\n\r\nBarnet har CPR 120315-4321.\r\n.punktum\r\n";
    let (a, rest) = message.split_at(12);
    let (b, last) = rest.split_at(31);
    for chunk in [a, b] {
        c.send_raw(format!("BDAT {}\r\n", chunk.len()).as_bytes());
        c.send_raw(chunk);
        let r = c.reply();
        assert!(r.starts_with("250 2.0.0"), "{r}");
    }
    c.send_raw(format!("BDAT {} LAST\r\n", last.len()).as_bytes());
    c.send_raw(last);
    let r = c.reply();
    let reference = queued_as(&r).unwrap_or_else(|| panic!("{r}"));
    let item = d.cli_json(&["triage", "show", &reference, "--json"]);
    assert_eq!(item["subject"], "Bekymring via BDAT", "{item}");
    assert_eq!(item["cpr_full"][0], "120315-4321", "{item}");
    assert_eq!(
        item["transport"]["size"],
        message.len(),
        "nothing added or removed"
    );

    // The smuggling rules hold in BDAT too, and the session stays usable.
    c.cmd("MAIL FROM:<a@b.example>");
    c.cmd("RCPT TO:<underretning@localhost>");
    let evil = b"Subject: x\r\n\r\nhej\n.\nMAIL FROM:<evil@x>\r\n";
    c.send_raw(format!("BDAT {} LAST\r\n", evil.len()).as_bytes());
    c.send_raw(evil);
    assert!(c.reply().starts_with("550 5.5.2"));
    assert!(c.cmd("NOOP").starts_with("250"));
    let list = d.cli_json(&["triage", "list", "--json"]);
    assert_eq!(list["items"].as_array().unwrap().len(), 1);
}

/// IT operations see what the listener does in `/metrics`: sessions, messages accepted, and
/// every refusal by its reply code; never an address or a client IP.
#[test]
fn metrics_count_sessions_messages_and_refusals_by_code() {
    let d = Daemon::start(Options::default());
    d.send("Bekymring", "tekst");
    let mut c = Smtp::connect(d.smtp);
    c.cmd("EHLO client.example");
    c.cmd("MAIL FROM:<lærer@skole.example>");
    for rcpt in ["nobody@localhost", "someone@example.com"] {
        assert!(c.cmd(&format!("RCPT TO:<{rcpt}>")).starts_with("550 5.1.1"));
    }
    assert!(c.cmd("RCPT TO:<underretning@localhost>").starts_with("250"));
    assert!(c.cmd("DATA").starts_with("354"));
    c.send_raw(b"Subject: x\r\n\r\nhello\nworld\r\n.\r\n");
    assert!(c.reply().starts_with("550 5.5.2"));
    assert!(c.cmd("QUIT").starts_with("221"));
    drop(c);
    let m = wait_for(
        "the sessions to close",
        std::time::Duration::from_secs(10),
        || {
            let m = http_get(d.http, "/metrics").unwrap().1;
            m.contains("\nmodtag_smtp_sessions_open 0\n").then_some(m)
        },
    );
    for line in [
        "modtag_smtp_sessions_total 2",
        "modtag_smtp_messages_accepted_total 1",
        "modtag_smtp_refusals_total{code=\"550\",enhanced=\"5.1.1\"} 2",
        "modtag_smtp_refusals_total{code=\"550\",enhanced=\"5.5.2\"} 1",
        "modtag_smtp_connections_refused_total 0",
    ] {
        assert!(m.contains(&format!("\n{line}\n")), "{line} missing:\n{m}");
    }
    assert!(
        !m.contains("127.0.0.1") && !m.contains("skole") && !m.contains("example"),
        "{m}"
    );
}
