//! Reading a message for triage: what it is (its kind, and why), who sent it, which child
//! it concerns, what is attached, and what could not be read.
//!
//! Reading never decides whether a message is kept: the raw message is stored whatever
//! happens here. The work per message is bounded (header size, MIME parts, nesting depth,
//! from `[classify]`), and a bug in a parser cannot take the intake down with it.
//!
//! - `attach.rs`: attachment names, sniffed types, the allow-list, winmail.dat.
//! - `forward.rs`: inline forward blocks (Outlook, Thunderbird, Gmail).
//! - `openpgp.rs`: mail encrypted to the kommune's key.
//! - `kind.rs`: the kind and its reason; `reporter.rs`: who reported, and how.

pub mod attach;
mod child;
pub mod forward;
mod kind;
pub mod openpgp;
mod reporter;
pub use reporter::{address_of, reporter_is_sender};
mod walk;

use std::borrow::Cow;

use mail_parser::{Message, MessageParser, MimeHeaders, PartType};
use modtag_config::{Channel, Classify, Directory, Loaded};
use modtag_router::{cpr, cvr, names};
use modtag_storage::records::{
    Attachment, CvrFound, NameMatch, NameMiss, OpenPgpInfo, Original, TrivselNames, Understanding,
};
use sequoia_openpgp::Cert;
use walk::{address, header_text, walk, windows_1252, Scan};

/// What a message turned out to be. Personal data: lives only in memory and in the
/// encrypted item.
#[derive(Debug, Default, Clone)]
pub struct Reading {
    pub kind: modtag_config::Kind,
    /// The message's own subject and sender (for a forward: the forwarder's).
    pub subject: Option<String>,
    pub from: Option<String>,
    pub cprs: Vec<cpr::Cpr>,
    pub attachments: Vec<Attachment>,
    /// The text for display: `text/plain` preferred, HTML turned into text, never rendered.
    pub text: String,
    pub understanding: Understanding,
    /// Set when the message could not be read at all; the raw message is kept regardless.
    pub error: Option<String>,
    /// The bytes of the attachment asked for by [`Reader::attachment`] (never otherwise).
    pub attachment_bytes: Option<Vec<u8>>,
}

/// The note on a TRIVSEL+ about a child on its way to school ("Børn på vej i skole").
pub const SCHOOL_STARTER: &str =
    "Børn på vej i skole: den private institution kontakter selv lederen af den kommende skole";

/// Reads messages with the kommune's settings, directory and (optional) decryption key.
#[derive(Clone)]
pub struct Reader {
    classify: Classify,
    directory: Directory,
    key: Option<Cert>,
    /// The most a decrypted message may unpack to: the largest message modtag takes.
    max_plain: usize,
    /// The akut phrases, folded once, with their configured spelling.
    akut: Vec<(memchr::memmem::Finder<'static>, String)>,
}

impl Reader {
    /// From the loaded configuration; reads the decryption key file if one is configured
    /// (it must be 0600, like every secret).
    pub fn new(cfg: &Loaded) -> anyhow::Result<Reader> {
        let key = match &cfg.config.classify.decryption_key_file {
            None => None,
            Some(file) => {
                let path = cfg
                    .config
                    .secret_path(file)
                    .map_err(|e| anyhow::anyhow!("[classify] decryption_key_file: {e}"))?;
                let bytes = modtag_storage::keys::read_secret(&path)
                    .map_err(|e| anyhow::anyhow!("[classify] decryption_key_file: {e}"))?;
                let cert = modtag_storage::crypto::parse_cert(&bytes)
                    .map_err(|e| anyhow::anyhow!("{}: {e}", path.display()))?;
                if !cert.is_tsk() {
                    anyhow::bail!(
                        "{}: holds no secret key; [classify] decryption_key_file must be the kommune's secret key",
                        path.display()
                    );
                }
                Some(cert)
            }
        };
        Ok(Reader::with_key(cfg, key))
    }

    pub fn with_key(cfg: &Loaded, key: Option<Cert>) -> Reader {
        let akut = cfg
            .config
            .classify
            .akut_words
            .iter()
            .map(|w| names::fold(w))
            .filter(|f| !f.is_empty())
            .map(|f| memchr::memmem::Finder::new(f.as_bytes()).into_owned())
            .zip(cfg.config.classify.akut_words.iter().cloned())
            .collect();
        Reader {
            classify: cfg.config.classify.clone(),
            directory: cfg.directory.clone(),
            key,
            max_plain: cfg.config.smtp.max_message_size,
            akut,
        }
    }

    /// Reads `raw`, which arrived through `channel`.
    pub fn read(&self, raw: &[u8], channel: Channel) -> Reading {
        self.read_wanting(raw, channel, None)
    }

    /// The `index`th attachment of `raw` as [`Reader::read`] lists it (mail inside mail,
    /// files from a winmail.dat and from decrypted content included): its description and
    /// its bytes.
    pub fn attachment(
        &self,
        raw: &[u8],
        channel: Channel,
        index: usize,
    ) -> Option<(Attachment, Vec<u8>)> {
        let mut r = self.read_wanting(raw, channel, Some(index));
        let bytes = r.attachment_bytes.take()?;
        (index < r.attachments.len()).then(|| (r.attachments.swap_remove(index), bytes))
    }

    fn read_wanting(&self, raw: &[u8], channel: Channel, want: Option<usize>) -> Reading {
        match std::panic::catch_unwind(|| self.read_inner(raw, channel, want)) {
            Ok(r) => r,
            Err(_) => Reading {
                kind: kind::fallback(channel),
                error: Some(
                    "the MIME parser failed on this message; the raw message is kept".into(),
                ),
                understanding: Understanding {
                    kind_reason: kind::unreadable_reason(channel),
                    reporter: no_sender(),
                    ..Understanding::default()
                },
                ..Reading::default()
            },
        }
    }

    fn read_inner(&self, raw: &[u8], channel: Channel, want: Option<usize>) -> Reading {
        let mut notes = Vec::new();
        let raw = self.bound_header(raw, &mut notes);
        let Some(msg) = MessageParser::default().parse(raw.as_ref()) else {
            // No headers at all: if it is text, show it and look for CPR in it.
            let text = if attach::sniff(&raw) == "text/plain" {
                match std::str::from_utf8(&raw) {
                    Ok(t) => t.to_string(),
                    Err(_) => windows_1252(&raw),
                }
            } else {
                String::new()
            };
            return Reading {
                kind: kind::fallback(channel),
                cprs: cpr::find_all(&text),
                text,
                error: Some(
                    "not a readable e-mail message (no headers); the raw message is kept".into(),
                ),
                understanding: Understanding {
                    kind_reason: kind::unreadable_reason(channel),
                    reporter: no_sender(),
                    notes,
                    ..Understanding::default()
                },
                ..Reading::default()
            };
        };
        // Encrypted to us: read the decrypted message instead, with the outer headers. The
        // payload is found once (finding an inline block reads the whole text).
        let payload = encrypted_payload(&msg);
        let decrypted = payload
            .as_ref()
            .and_then(|(ciphertext, inline)| self.decrypt(&msg, ciphertext, *inline, &mut notes));
        if let Some((inner, info)) = decrypted {
            if let Some(inner_msg) = MessageParser::default().parse(&inner) {
                let mut r = self.read_message(&inner_msg, channel, notes, want);
                r.understanding.openpgp = Some(info);
                return r;
            }
            notes.push("det dekrypterede indhold er ikke en læsbar besked".into());
        }
        let encrypted = payload.is_some();
        let mut r = self.read_message(&msg, channel, notes, want);
        if encrypted && r.understanding.openpgp.is_none() {
            r.understanding.openpgp = Some(OpenPgpInfo {
                decrypted: false,
                signature: "none".into(),
                signer: None,
            });
        }
        r
    }

    /// Cuts a header block beyond `max_header_bytes` (at a line break), keeping the body.
    fn bound_header<'a>(&self, raw: &'a [u8], notes: &mut Vec<String>) -> Cow<'a, [u8]> {
        let limit = self.classify.max_header_bytes;
        let end = memchr::memmem::find(raw, b"\r\n\r\n")
            .map(|p| p + 2)
            .or_else(|| memchr::memmem::find(raw, b"\n\n").map(|p| p + 1))
            .unwrap_or(raw.len());
        if end <= limit {
            return Cow::Borrowed(raw);
        }
        notes.push(format!(
            "brevhovedet er større end {limit} bytes; kun de første blev læst (grænsen max_header_bytes)"
        ));
        let cut = raw[..limit]
            .iter()
            .rposition(|&b| b == b'\n')
            .map_or(0, |p| p + 1);
        let mut bounded = raw[..cut].to_vec();
        bounded.extend_from_slice(&raw[end..]);
        Cow::Owned(bounded)
    }

    /// The decrypted inner message (with the outer headers put back), if `ciphertext` (the
    /// payload of `msg`) is encrypted to a key we hold.
    fn decrypt(
        &self,
        msg: &Message,
        ciphertext: &[u8],
        inline: bool,
        notes: &mut Vec<String>,
    ) -> Option<(Vec<u8>, OpenPgpInfo)> {
        let Some(key) = &self.key else {
            notes.push("krypteret med OpenPGP; ingen dekrypteringsnøgle er sat op ([classify] decryption_key_file): gemt krypteret".into());
            return None;
        };
        match openpgp::decrypt(key, &self.directory, ciphertext, self.max_plain) {
            Ok((plain, info)) => {
                // Outer headers that describe the message, then the decrypted entity.
                let mut inner = Vec::new();
                for (name, value) in msg.headers_raw() {
                    let lower = name.to_ascii_lowercase();
                    if !lower.starts_with("content-") && lower != "mime-version" {
                        inner.extend_from_slice(name.as_bytes());
                        inner.extend_from_slice(b":");
                        inner.extend_from_slice(value.as_bytes());
                    }
                }
                inner.extend_from_slice(b"MIME-Version: 1.0\r\n");
                if inline {
                    inner.extend_from_slice(b"Content-Type: text/plain; charset=utf-8\r\n\r\n");
                }
                inner.extend_from_slice(&plain);
                Some((inner, info))
            }
            Err(e) => {
                notes.push(format!(
                    "krypteret med OpenPGP og kunne ikke dekrypteres: {e}"
                ));
                None
            }
        }
    }

    /// Reads a parsed message: its text and attachments, the numbers in it, the words that
    /// decide its kind, and who reported.
    fn read_message(
        &self,
        msg: &Message,
        channel: Channel,
        mut notes: Vec<String>,
        want: Option<usize>,
    ) -> Reading {
        let subject = header_text(msg, "Subject");
        let from = address(msg);
        let mut scan = self.scan(msg, want, &mut notes);
        let text = &scan.body;

        // The original of a forward: an attached message, or an inline block.
        let forward = find_original(text, &scan);
        let outer_from_journal = from.as_deref().is_some_and(|f| self.is_journal(f));
        let original = forward.as_ref().map(|o| Original {
            forwarded_by: from.clone(),
            ..o.clone()
        });

        // Subject, body and the text of attachments and nested mail, searched piece by
        // piece: a 50 MiB message is not copied again to be searched.
        let pieces = [
            subject.as_deref().unwrap_or(""),
            text.as_str(),
            scan.extra.as_str(),
        ];
        let (cprs, cvrs) = self.numbers(&pieces, &mut notes);

        // Words and phrases (akut signals, LÆ 165, anonymity) are looked for in the first
        // FOLD_LIMIT bytes: that is where a person writes them, and the work stays bounded.
        let folded_text = names::fold(&bounded_join(&pieces, FOLD_LIMIT));
        let akut: Vec<String> = self
            .akut
            .iter()
            .filter(|(finder, _)| contains_phrase(&folded_text, finder))
            .map(|(_, word)| word.clone())
            .collect();

        let subject_for_kind = original
            .as_ref()
            .and_then(|o| o.subject.clone())
            .or_else(|| subject.clone())
            .unwrap_or_default();
        let trivsel = names::trivsel_subject(subject.as_deref().unwrap_or(""))
            .or_else(|| names::trivsel_subject(&subject_for_kind))
            .map(|n| self.trivsel_names(n));
        let (kind, kind_reason) = kind::decide(&kind::Signals {
            channel,
            forwarded: original.as_ref(),
            from_journal: outer_from_journal,
            trivsel: trivsel.as_ref(),
            subject: &subject_for_kind,
            attachment_names: &scan
                .attachments
                .iter()
                .map(|a| a.name.as_str())
                .collect::<Vec<_>>(),
            folded_text: &folded_text,
            akut: !akut.is_empty(),
        });
        // Who reported: the original's sender for a forward.
        let reporter_from = original
            .as_ref()
            .and_then(|o| o.from.clone())
            .or_else(|| from.clone());
        let reporter = reporter::classify(
            kind.as_str(),
            reporter_from.as_deref(),
            text,
            &folded_text,
            &cvrs,
            &self.directory,
            &self.classify.professional_domains,
        );

        flow_notes(kind, channel, &folded_text, original.is_some(), &mut notes);
        let child_name = child::name(text);
        Reading {
            kind,
            subject,
            from,
            cprs,
            text: std::mem::take(&mut scan.body),
            attachments: scan.attachments,
            attachment_bytes: scan.captured,
            understanding: Understanding {
                kind_reason,
                original,
                cvrs,
                reporter,
                akut,
                trivsel,
                child_name,
                openpgp: None,
                notes: {
                    notes.extend(scan.notes);
                    notes
                },
            },
            error: None,
        }
    }

    /// Walks the message's MIME tree. When the structure gave no body, the text found in
    /// its parts is shown as the body.
    fn scan(&self, msg: &Message, want: Option<usize>, notes: &mut Vec<String>) -> Scan {
        let mut scan = Scan {
            want,
            ..Scan::default()
        };
        walk(&self.classify, msg, 0, "", &mut scan, notes);
        if scan.body.trim().is_empty() && !scan.extra.trim().is_empty() {
            // Broken structure (a multipart without a usable boundary, say): show the text
            // that was found rather than nothing.
            notes.push("ingen brødtekst: teksten fra beskedens dele vises i stedet".into());
            scan.body = std::mem::take(&mut scan.extra).trim_start().to_string();
        }
        scan
    }

    /// The CPR and CVR numbers in `pieces`, each once, in the order found, with a note for
    /// each CPR without modulus 11 and each CVR with wrong check digits. A CVR of one of
    /// the directory's institutions names it.
    fn numbers(&self, pieces: &[&str], notes: &mut Vec<String>) -> (Vec<cpr::Cpr>, Vec<CvrFound>) {
        let mut cprs: Vec<cpr::Cpr> = Vec::new();
        let mut cvr_numbers: Vec<String> = Vec::new();
        for piece in pieces {
            for c in cpr::find_all(piece) {
                if !cprs.contains(&c) {
                    cprs.push(c);
                }
            }
            for c in cvr::find_all(piece) {
                if !cvr_numbers.contains(&c) {
                    cvr_numbers.push(c);
                }
            }
        }
        for c in &cprs {
            if !c.mod11 {
                notes.push(format!(
                    "CPR {} består ikke modulus 11-kontrollen: gyldigt alligevel (udstedes uden siden 2007)",
                    c.masked()
                ));
            }
        }
        let cvrs: Vec<CvrFound> = cvr_numbers
            .into_iter()
            .map(|number| CvrFound {
                valid: cvr::valid(&number),
                institution: self
                    .directory
                    .institutions
                    .values()
                    .find(|i| i.cvr.as_deref() == Some(number.as_str()))
                    .map(|i| i.name.clone()),
                number,
            })
            .collect();
        for c in cvrs.iter().filter(|c| !c.valid) {
            notes.push(format!("CVR {} har forkerte kontrolcifre", c.number));
        }
        (cprs, cvrs)
    }

    fn is_journal(&self, from: &str) -> bool {
        let addr = reporter::address_of(from).to_ascii_lowercase();
        self.directory.people.values().any(|p| {
            p.email.eq_ignore_ascii_case(&addr) && p.roles.iter().any(|r| r == "journalen")
        })
    }

    fn trivsel_names(&self, text: &str) -> TrivselNames {
        let mut t = TrivselNames::default();
        for r in names::match_names(text, &self.directory) {
            match r {
                names::NameResult::Matched(written, person, name) => t.matched.push(NameMatch {
                    written,
                    person,
                    name,
                }),
                names::NameResult::Unmatched(written, suggestion) => t.unmatched.push(NameMiss {
                    written,
                    suggestion,
                }),
            }
        }
        t
    }
}

/// Notes that tell the desk what to do: DOMAIN.md flow 2, for a child moving from a private
/// dagtilbud to school, where the private institution contacts the coming school's leader
/// itself; and a message to postfordeling that forwards no original.
fn flow_notes(
    kind: modtag_config::Kind,
    channel: Channel,
    folded_text: &str,
    forwards: bool,
    notes: &mut Vec<String>,
) {
    if kind == modtag_config::Kind::Trivselplus
        && folded_text.contains(&names::fold("på vej i skole"))
    {
        notes.push(SCHOOL_STARTER.into());
    }
    if channel == Channel::Postfordeling && !forwards {
        notes.push("ingen videresendt original fundet: beskeden selv læses som originalen".into());
    }
}

fn no_sender() -> modtag_storage::records::Reporter {
    modtag_storage::records::Reporter {
        kind: modtag_config::ReporterKind::Anonymous,
        reason: "no sender could be read: no kvittering".into(),
        ..Default::default()
    }
}

/// How much text (bytes) is folded and searched for words and phrases.
const FOLD_LIMIT: usize = 64 * 1024;

/// The pieces joined by newlines, cut at `limit` bytes (on a character boundary).
fn bounded_join(pieces: &[&str], limit: usize) -> String {
    let mut out = String::with_capacity(limit.min(pieces.iter().map(|p| p.len() + 1).sum()));
    for piece in pieces {
        let room = limit.saturating_sub(out.len());
        if room == 0 {
            break;
        }
        let mut cut = piece.len().min(room);
        while !piece.is_char_boundary(cut) {
            cut -= 1;
        }
        out.push_str(&piece[..cut]);
        out.push('\n');
    }
    out
}

fn find_original(text: &str, scan: &Scan) -> Option<Original> {
    if let Some(n) = &scan.nested {
        return Some(n.clone());
    }
    forward::find_inline(text).map(|f| Original {
        from: f.from,
        date: f.date,
        subject: f.subject,
        forwarded_by: None,
        style: f.style.into(),
    })
}

/// The OpenPGP ciphertext of a PGP/MIME message, or of an inline armored block (`true`).
fn encrypted_payload(msg: &Message) -> Option<(Vec<u8>, bool)> {
    let root = msg.root_part();
    if let Some(ct) = root.content_type() {
        let is_pgp_mime = ct.ctype().eq_ignore_ascii_case("multipart")
            && ct
                .subtype()
                .is_some_and(|s| s.eq_ignore_ascii_case("encrypted"))
            && ct
                .attribute("protocol")
                .is_some_and(|p| p.eq_ignore_ascii_case("application/pgp-encrypted"));
        if is_pgp_mime {
            // RFC 3156 §4: the second part holds the ciphertext.
            if let PartType::Multipart(subs) = &root.body {
                if let Some(id) = subs.get(1) {
                    return Some((msg.parts.get(*id as usize)?.contents().to_vec(), false));
                }
            }
        }
    }
    let first = msg.body_text(0)?;
    openpgp::inline_block(&first).map(|b| (b.as_bytes().to_vec(), true))
}

/// A folded phrase in folded text, as whole words.
fn contains_phrase(text: &str, finder: &memchr::memmem::Finder) -> bool {
    let t = text.as_bytes();
    let n = finder.needle().len();
    finder.find_iter(t).any(|start| {
        let end = start + n;
        // Folded text separates words by single spaces.
        (start == 0 || t[start - 1] == b' ') && (end == t.len() || t[end] == b' ')
    })
}
