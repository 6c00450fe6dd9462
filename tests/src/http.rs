//! HTTP as a test speaks it: raw requests on a socket (so a test can send what a client
//! library would refuse), and the cookies and CSRF fields of pages.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::Duration;

/// A minimal HTTP GET: `(status, body)`, or `None` if nothing answers.
pub fn http_get(addr: SocketAddr, path: &str) -> Option<(u16, String)> {
    http_get_with(addr, path, None).map(|(code, _, body)| (code, body))
}

/// An HTTP GET with an optional bearer token: `(status, header block, body)`.
pub fn http_get_with(
    addr: SocketAddr,
    path: &str,
    token: Option<&str>,
) -> Option<(u16, String, String)> {
    let auth = token.map(|t| format!("Bearer {t}"));
    let headers: Vec<(&str, &str)> = auth.iter().map(|a| ("Authorization", a.as_str())).collect();
    http_get_headers(addr, path, &headers)
}

/// An HTTP GET with these request headers: `(status, header block, body)`.
pub fn http_get_headers(
    addr: SocketAddr,
    path: &str,
    headers: &[(&str, &str)],
) -> Option<(u16, String, String)> {
    http_request(addr, "GET", path, headers, b"")
}

/// Any HTTP request, raw: `(status, header block, body)`. The path is sent as given (so a
/// test can send bytes a client library would refuse).
pub fn http_request(
    addr: SocketAddr,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: &[u8],
) -> Option<(u16, String, String)> {
    http_request_within(addr, method, path, headers, body, Duration::from_secs(5))
}

/// [`http_request`], waiting up to `wait` for the answer (for requests that queue on purpose,
/// as a flood of sign-ins does for Argon2).
pub fn http_request_within(
    addr: SocketAddr,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: &[u8],
    wait: Duration,
) -> Option<(u16, String, String)> {
    let mut s = TcpStream::connect_timeout(&addr, Duration::from_secs(2)).ok()?;
    s.set_read_timeout(Some(wait)).ok()?;
    let extra: String = headers
        .iter()
        .map(|(k, v)| format!("{k}: {v}\r\n"))
        .collect();
    let length = if body.is_empty() {
        String::new()
    } else {
        format!("Content-Length: {}\r\n", body.len())
    };
    write!(
        s,
        "{method} {path} HTTP/1.1\r\nHost: localhost\r\n{extra}{length}Connection: close\r\n\r\n"
    )
    .ok()?;
    // The server may answer before reading a refused body; a failed write is not an error.
    let _ = s.write_all(body);
    // A download (a zip) is not UTF-8: read as bytes, shown lossily.
    let mut bytes = Vec::new();
    s.read_to_end(&mut bytes).ok()?;
    let buf = String::from_utf8_lossy(&bytes);
    let code = buf.split_whitespace().nth(1)?.parse().ok()?;
    let (head, body) = buf.split_once("\r\n\r\n").unwrap_or((&buf, ""));
    Some((code, head.to_string(), body.to_string()))
}

/// The whole `Set-Cookie` value for cookie `name` in a response's header block.
pub fn set_cookie<'a>(head: &'a str, name: &str) -> Option<&'a str> {
    head.lines().find_map(|l| {
        let (k, v) = l.split_once(':')?;
        let v = v.trim();
        (k.eq_ignore_ascii_case("set-cookie") && v.starts_with(&format!("{name}="))).then_some(v)
    })
}

/// The value of a page's hidden `csrf` field.
pub fn csrf_field(page: &str) -> Option<String> {
    page.split("name=\"csrf\" value=\"")
        .nth(1)
        .and_then(|r| r.split('"').next())
        .map(str::to_string)
}
