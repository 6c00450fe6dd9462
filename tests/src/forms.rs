//! The public forms over raw HTTP, as the tests and the `form-load` benchmark send them:
//! the form's token with its cookie, and a `multipart/form-data` body.

use std::net::SocketAddr;

use crate::{csrf_field, http_request, set_cookie};

/// The form page's CSRF token and the cookie it is paired with.
pub fn form(public: SocketAddr, path: &str) -> (String, String) {
    let (code, head, body) = http_request(public, "GET", path, &[], b"").unwrap();
    assert_eq!(code, 200, "{head}");
    let cookie = set_cookie(&head, "modtag_formular")
        .expect("the form's cookie")
        .split(';')
        .next()
        .unwrap()
        .to_string();
    (csrf_field(&body).expect("the form's token"), cookie)
}

/// A `multipart/form-data` body: fields in order, then files (name, type, bytes).
pub fn multipart(fields: &[(&str, &str)], files: &[(&str, &str, &[u8])]) -> (String, Vec<u8>) {
    let b = "----modtagtestgrænse".replace('æ', "ae");
    let mut body = Vec::new();
    for (name, value) in fields {
        body.extend_from_slice(
            format!("--{b}\r\nContent-Disposition: form-data; name=\"{name}\"\r\n\r\n{value}\r\n")
                .as_bytes(),
        );
    }
    for (file, kind, bytes) in files {
        body.extend_from_slice(
            format!(
                "--{b}\r\nContent-Disposition: form-data; name=\"attachment\"; filename=\"{file}\"\r\nContent-Type: {kind}\r\n\r\n"
            )
            .as_bytes(),
        );
        body.extend_from_slice(bytes);
        body.extend_from_slice(b"\r\n");
    }
    body.extend_from_slice(format!("--{b}--\r\n").as_bytes());
    (format!("multipart/form-data; boundary={b}"), body)
}

pub fn post(
    public: SocketAddr,
    path: &str,
    cookie: &str,
    fields: &[(&str, &str)],
    files: &[(&str, &str, &[u8])],
) -> (u16, String, String) {
    let (kind, body) = multipart(fields, files);
    http_request(
        public,
        "POST",
        path,
        &[("Content-Type", &kind), ("Cookie", cookie)],
        &body,
    )
    .expect("the public listener answers")
}

/// The reference a receipt page shows.
pub fn reference_on(receipt: &str) -> String {
    receipt
        .split("class=\"reference\">")
        .nth(1)
        .and_then(|t| t.split('<').next())
        .expect("a receipt with a reference")
        .to_string()
}

/// The first slot Journalen's booking page offers (the value of its first `tid` choice).
pub fn first_slot(booking_page: &str) -> String {
    booking_page
        .split("name=\"tid\" value=\"")
        .nth(1)
        .and_then(|v| v.split('"').next())
        .expect("a bookable slot")
        .to_string()
}

/// Friskolen's Send sikkert (CVR 13585628, its leader Susanne Møller) naming the leader of
/// PPR, with `subject` and `text`: the form fetched for its token, then posted.
/// `(status, headers, body)`.
pub fn friskolen_send_sikkert(
    public: SocketAddr,
    subject: &str,
    text: &str,
) -> (u16, String, String) {
    let (csrf, cookie) = form(public, "/sendsikkert");
    post(
        public,
        "/sendsikkert",
        &cookie,
        &[
            ("csrf", &csrf),
            ("cvr", "13585628"),
            ("name", "Susanne Møller"),
            ("email", "leder@friskolen.dk"),
            ("leder", "karen.poulsen"),
            ("subject", subject),
            ("text", text),
        ],
        &[],
    )
}
