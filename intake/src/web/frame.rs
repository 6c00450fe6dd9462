//! The frame around every desk page (issue 29): the kommune's name and logo, the signed-in
//! person with the way out, the links to the person's desks as their roles allow, and a
//! footer with the kommune's contact and the accessibility statement (`/was`).
//!
//! Pages mark where it goes (`base.html`); a layer fills it in after the page is made, from
//! the session, so that every page has the same frame (the item page, a refusal, the
//! sign-in) without each handler building it. The frame is an askama template like the
//! pages; what it says comes from the configuration and the directory, never from the
//! request, and a page's own text is escaped, so the mark cannot come from a page's content.

use std::sync::Arc;

use askama::Template;
use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::header;
use axum::middleware::Next;
use axum::response::{IntoResponse, Redirect, Response};
use modtag_config::Kind;

use super::signin::page;
use crate::access::{desk_kinds, roles_for, Action, Person};
use crate::api::auth::session_person;
use crate::api::state::ApiState;

/// Where the frame's head and foot go in `base.html`.
const TOP: &str = "<!--modtag:frame-top-->";
const BOTTOM: &str = "<!--modtag:frame-bottom-->";

/// A link to one of the person's desks.
pub(super) struct Link {
    pub href: &'static str,
    pub label: &'static str,
    pub current: bool,
}

#[derive(Template)]
#[template(path = "frame/top.html")]
struct Top<'a> {
    kommune: &'a str,
    logo: bool,
    /// The signed-in person's name, and the session's CSRF token for signing out.
    who: Option<(String, &'a str)>,
    links: Vec<Link>,
}

#[derive(Template)]
#[template(path = "frame/bottom.html")]
struct Bottom<'a> {
    kommune: &'a str,
    contact: &'a str,
}

/// The person's desks, in the order of a day's work, as their roles allow.
pub(super) fn links(p: &Person, path: &str, query: &str) -> Vec<Link> {
    let desk = desk_kinds(p);
    let may = |a: Action| p.roles.iter().any(|r| roles_for(a).contains(&r.as_str()));
    let forloeb = query.split('&').any(|q| q == "tilstand=forloeb");
    let candidates = [
        (
            "/koe",
            "Køen",
            !desk.is_empty() || p.has("doegnvagt"),
            path == "/koe" && !forloeb,
        ),
        (
            "/koe?tilstand=forloeb",
            "TRIVSEL+-forløb",
            desk.contains(&Kind::Trivselplus),
            path == "/koe" && forloeb,
        ),
        (
            "/sendt-til-mig",
            "Sendt til mig",
            p.directory_id.is_some(),
            path == "/sendt-til-mig",
        ),
        (
            "/overgang",
            "Overgang til trin 2",
            p.has("raadgiver"),
            path == "/overgang",
        ),
        (
            "/statusmoeder",
            "Statusmøder",
            may(Action::SendInvitations),
            path == "/statusmoeder",
        ),
        (
            "/overblik",
            "Overblik",
            may(Action::ReportSla),
            path == "/overblik",
        ),
        (
            "/fejlede-leverancer",
            "Fejlede leverancer",
            may(Action::OutboxFailed),
            path == "/fejlede-leverancer",
        ),
        ("/konto", "Min konto", true, path == "/konto"),
    ];
    candidates
        .into_iter()
        .filter(|(_, _, shown, _)| *shown)
        .map(|(href, label, _, current)| Link {
            href,
            label,
            current,
        })
        .collect()
}

/// Where a person lands after signing in: their first desk.
pub(super) fn first_desk(p: &Person) -> &'static str {
    links(p, "", "").first().map_or("/konto", |l| l.href)
}

/// The layer: fills in the frame of an HTML page.
pub async fn frame(State(state): State<Arc<ApiState>>, req: Request, next: Next) -> Response {
    let headers = req.headers().clone();
    let (path, query) = (
        req.uri().path().to_string(),
        req.uri().query().unwrap_or("").to_string(),
    );
    let res = next.run(req).await;
    let html = (res.headers().get(header::CONTENT_TYPE))
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("text/html"));
    if !html {
        return res;
    }
    let (mut parts, body) = res.into_parts();
    // A page is made whole in memory by its handler, however large an intake's text makes
    // it (issue 29: a 14 MB message of '<' escapes to 55 MB): it is framed whatever its
    // size, with one copy.
    let Ok(bytes) = axum::body::to_bytes(body, usize::MAX).await else {
        return (parts.status, "siden kunne ikke vises").into_response();
    };
    let Some((at_top, at_bottom)) = marks(&bytes) else {
        return Response::from_parts(parts, Body::from(bytes));
    };
    // After the page: a sign-out has ended the session, a sign-in not begun it yet.
    let who = session_person(&headers, &state).await;
    let cfg = state.app.policy.cfg();
    let k = &cfg.config.kommune;
    let name = |p: &Person, user: &str| {
        (p.directory_id.as_deref())
            .and_then(|id| cfg.directory.person(id))
            .map_or(user.to_string(), |d| d.name.clone())
    };
    let top = Top {
        kommune: &k.name,
        logo: cfg.logo.is_some(),
        links: who
            .as_ref()
            .map(|(_, p)| links(p, &path, &query))
            .unwrap_or_default(),
        who: who
            .as_ref()
            .map(|(s, p)| (name(p, &s.user), s.csrf.as_str())),
    };
    let bottom = Bottom {
        kommune: &k.name,
        contact: &k.contact,
    };
    let (top, bottom) = match (top.render(), bottom.render()) {
        (Ok(top), Ok(bottom)) => (top, bottom),
        (Err(e), _) | (_, Err(e)) => {
            return page(axum::http::StatusCode::INTERNAL_SERVER_ERROR, Err(e))
        }
    };
    let mut framed = Vec::with_capacity(bytes.len() + top.len() + bottom.len());
    framed.extend_from_slice(&bytes[..at_top]);
    framed.extend_from_slice(top.as_bytes());
    framed.extend_from_slice(&bytes[at_top + TOP.len()..at_bottom]);
    framed.extend_from_slice(bottom.as_bytes());
    framed.extend_from_slice(&bytes[at_bottom + BOTTOM.len()..]);
    parts.headers.remove(header::CONTENT_LENGTH);
    Response::from_parts(parts, Body::from(framed))
}

/// Where the frame's marks are in a page: the first top mark (in the head of `base.html`,
/// before any content) and the last bottom mark (after it). A page's own text is escaped,
/// so it holds neither; a page without both is sent as it is.
fn marks(page: &[u8]) -> Option<(usize, usize)> {
    let top = memchr::memmem::find(page, TOP.as_bytes())?;
    let bottom = memchr::memmem::rfind(page, BOTTOM.as_bytes())?;
    (bottom > top).then_some((top, bottom))
}

/// `/static/logo.svg`: the kommune's logo from the configuration.
pub async fn logo(State(state): State<Arc<ApiState>>) -> Response {
    match state.app.policy.cfg().logo.clone() {
        Some(svg) => (
            [
                (header::CONTENT_TYPE, "image/svg+xml"),
                (header::CACHE_CONTROL, "public, max-age=3600"),
            ],
            svg,
        )
            .into_response(),
        None => (axum::http::StatusCode::NOT_FOUND, "intet logo").into_response(),
    }
}

#[derive(Template)]
#[template(path = "was.html")]
struct Was<'a> {
    kommune: &'a str,
    paragraphs: Vec<&'a str>,
    url: Option<&'a str>,
}

/// `/was`: the accessibility statement, from the configuration.
pub async fn was(State(state): State<Arc<ApiState>>) -> Response {
    let cfg = state.app.policy.cfg();
    let k = &cfg.config.kommune;
    let paragraphs = (k.accessibility_statement.split("\n\n"))
        .map(str::trim)
        .filter(|p| !p.is_empty())
        .collect();
    let was = Was {
        kommune: &k.name,
        paragraphs,
        url: k.accessibility_statement_url.as_deref(),
    };
    page(axum::http::StatusCode::OK, was.render())
}

/// `/`: the person's first desk, or the sign-in.
pub async fn home(State(state): State<Arc<ApiState>>, req: Request) -> Response {
    match session_person(req.headers(), &state).await {
        Some((_, p)) => Redirect::to(first_desk(&p)).into_response(),
        None => Redirect::to("/login").into_response(),
    }
}
