//! Reading a form's `multipart/form-data` body within limits, as it streams in: the CSRF
//! token must come first (the form puts it there), each field and attachment is counted
//! chunk by chunk against the form's limits and the daemon's memory budget (`[smtp]
//! max_memory_bytes`), and the first limit crossed ends the reading. Everything stays in
//! memory: nothing of a submission is written anywhere until the accepted message is
//! encrypted into the spool, so a refused upload leaves nothing behind.

use std::collections::HashMap;

use axum::extract::Multipart;

/// One uploaded file, as the browser named and typed it.
pub struct Upload {
    pub name: String,
    pub declared: String,
    pub bytes: Vec<u8>,
}

/// The fields of a form (each name's values in order) and its files.
#[derive(Default)]
pub struct Submission {
    pub fields: HashMap<String, Vec<String>>,
    pub uploads: Vec<Upload>,
}

impl Submission {
    /// A field's first value, trimmed; "" when absent.
    pub fn field(&self, name: &str) -> &str {
        self.fields
            .get(name)
            .and_then(|v| v.first())
            .map_or("", |s| s.trim())
    }

    /// Every value of a repeated field (checkboxes), trimmed, without empty ones.
    pub fn values(&self, name: &str) -> Vec<&str> {
        self.fields
            .get(name)
            .map(|v| {
                v.iter()
                    .map(|s| s.trim())
                    .filter(|s| !s.is_empty())
                    .collect()
            })
            .unwrap_or_default()
    }

    /// Whether a checkbox was ticked.
    pub fn ticked(&self, name: &str) -> bool {
        !self.field(name).is_empty()
    }
}

/// Why a body was refused, for the person (in Danish) and the status it gets.
#[derive(Debug, PartialEq)]
pub enum Refused {
    /// No token first, or not the one the form was given with (403).
    Csrf,
    /// The whole submission is over `max_request_bytes` (413).
    TooLarge,
    /// One attachment is over `max_attachment_bytes` (413). Without its file name: the
    /// refusal is logged, and a name ("Sofie_bekymring.pdf") may be personal data.
    AttachmentTooLarge,
    /// More files than `max_attachments` (413).
    TooManyAttachments,
    /// Not a form body, or broken (400).
    Malformed,
    /// Not all there by the request's deadline (408).
    Late,
    /// The memory budget has no room for more now (503: try again shortly).
    Busy,
}

/// What may be read.
pub struct Limits {
    pub max_request_bytes: usize,
    pub max_attachment_bytes: usize,
    pub max_attachments: usize,
}

/// A form's CSRF token is 43 characters; more is no token.
const MAX_TOKEN_BYTES: usize = 1024;

/// Text fields are short: a field over this is refused as malformed (the text of a report
/// fits many times over).
const MAX_FIELD_BYTES: usize = 200 * 1024;

/// Reads the body; `csrf` is the token the form was given with (from its cookie); `lease`
/// grows with what is read, and the reading stops when the budget has no more room.
pub async fn read(
    mut body: Multipart,
    csrf: Option<&str>,
    limits: &Limits,
    lease: &mut crate::memory::Lease,
) -> Result<Submission, Refused> {
    let mut out = Submission::default();
    let mut total = 0usize;
    let mut first = true;
    while let Some(mut field) = body.next_field().await.map_err(|e| map(&e))? {
        let name = field.name().unwrap_or("").to_string();
        if first {
            first = false;
            // The token is checked before anything else is read, and read only as far as a
            // token goes: a first part of megabytes is refused at its first kilobyte, never
            // held (issue 25: chunked bodies held 25 MB each before the check).
            if name != "csrf" {
                return Err(Refused::Csrf);
            }
            let mut token = Vec::new();
            while let Some(chunk) = field.chunk().await.map_err(|e| map(&e))? {
                total += chunk.len();
                if token.len() + chunk.len() > MAX_TOKEN_BYTES {
                    return Err(Refused::Csrf);
                }
                if !lease.grow_to(total) {
                    return Err(Refused::Busy);
                }
                token.extend_from_slice(&chunk);
            }
            let token = String::from_utf8_lossy(&token);
            let ok = csrf.is_some_and(|c| {
                !c.is_empty()
                    && crate::identity::constant_time_eq(c.as_bytes(), token.trim().as_bytes())
            });
            if !ok {
                return Err(Refused::Csrf);
            }
            continue;
        }
        let file = field.file_name().map(str::to_string);
        let declared = field
            .content_type()
            .unwrap_or("application/octet-stream")
            .to_string();
        let cap = if file.is_some() {
            limits.max_attachment_bytes
        } else {
            MAX_FIELD_BYTES
        };
        let mut bytes = Vec::new();
        while let Some(chunk) = field.chunk().await.map_err(|e| map(&e))? {
            total += chunk.len();
            if total > limits.max_request_bytes {
                return Err(Refused::TooLarge);
            }
            if !lease.grow_to(total) {
                return Err(Refused::Busy);
            }
            if bytes.len() + chunk.len() > cap {
                return Err(match &file {
                    Some(_) => Refused::AttachmentTooLarge,
                    None => Refused::Malformed,
                });
            }
            bytes.extend_from_slice(&chunk);
        }
        match file {
            // A file input left empty sends a part with no name and no bytes.
            Some(f) if f.is_empty() && bytes.is_empty() => {}
            Some(f) => {
                if out.uploads.len() == limits.max_attachments {
                    return Err(Refused::TooManyAttachments);
                }
                out.uploads.push(Upload {
                    name: f,
                    declared,
                    bytes,
                });
            }
            None => {
                let text = String::from_utf8(bytes).map_err(|_| Refused::Malformed)?;
                out.fields.entry(name).or_default().push(text);
            }
        }
    }
    if first {
        return Err(Refused::Csrf);
    }
    Ok(out)
}

fn map(e: &axum::extract::multipart::MultipartError) -> Refused {
    // The listener cut the body off (its limit, its deadline): said as such.
    let mut source = std::error::Error::source(e);
    while let Some(s) = source {
        match s.downcast_ref::<crate::api::server::BodyCut>() {
            Some(crate::api::server::BodyCut::TooLarge) => return Refused::TooLarge,
            Some(crate::api::server::BodyCut::Late) => return Refused::Late,
            None => source = s.source(),
        }
    }
    if e.status() == axum::http::StatusCode::PAYLOAD_TOO_LARGE {
        Refused::TooLarge
    } else {
        Refused::Malformed
    }
}
