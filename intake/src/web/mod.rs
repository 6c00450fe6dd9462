//! The pages people use in a browser: server-rendered HTML in Danish, templates checked at
//! compile time (askama, `intake/templates/`), one stylesheet of our own, no script: the
//! sign-in, the queue, the item page and its decision, "Sendt til mig", the leaders'
//! overview and the failed deliveries. Every response carries strict security headers; nothing with personal data
//! is cached.

mod account;
mod answer;
mod changes;
mod decide;
mod deliveries;
mod enrol;
mod forloeb;
mod forward;
mod frame;
mod history;
mod item;
mod journal;
mod kept;
mod mine;
mod names;
mod oidc;
mod overgang;
mod overview;
mod queue;
mod sent;
mod session;
mod signin;
mod statusmoeder;

use std::sync::Arc;

use axum::http::{header, HeaderValue};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;

use crate::api::state::ApiState;

const CSS: &str = include_str!("../../static/modtag.css");

/// Det Fælles Designsystem, vendored in `intake/static/dkfds/` and embedded by `build.rs`.
mod dkfds {
    include!(concat!(env!("OUT_DIR"), "/dkfds.rs"));
}

fn router(state: Arc<ApiState>) -> Router {
    Router::new()
        .route("/", get(frame::home))
        .route("/was", get(frame::was))
        .route("/static/logo.svg", get(frame::logo))
        .route("/login", get(signin::form).post(signin::sign_in))
        .route("/logout", axum::routing::post(signin::sign_out))
        .route("/tilmeld/{token}", get(enrol::show).post(enrol::submit))
        .route("/konto", get(account::show).post(account::change))
        .route("/koe", get(queue::queue).post(queue::search))
        .route("/koe/{reference}", get(item::item))
        .route(
            "/koe/{reference}/modtaget",
            axum::routing::post(mine::taken_over),
        )
        .route("/sendt-til-mig", get(mine::mine))
        .route("/koe/{reference}/art", axum::routing::post(changes::kind))
        .route(
            "/koe/{reference}/opgave",
            axum::routing::post(changes::task),
        )
        .route("/koe/{reference}/luk", axum::routing::post(changes::close))
        .route("/koe/{reference}/notat", axum::routing::post(changes::note))
        .route(
            "/koe/{reference}/navn",
            axum::routing::post(changes::resolve_name),
        )
        .route(
            "/koe/{reference}/afsender",
            axum::routing::post(changes::sender),
        )
        .route(
            "/koe/{reference}/journaliseret",
            axum::routing::post(changes::journalised),
        )
        .route("/koe/{reference}/journal", get(journal::download))
        .route(
            "/koe/{reference}/journal/send",
            axum::routing::post(journal::send),
        )
        .route(
            "/koe/{reference}/tilbagemelding",
            axum::routing::post(changes::feedback),
        )
        .route(
            "/koe/{reference}/videresend",
            get(forward::preview).post(forward::forward),
        )
        .route(
            "/koe/{reference}/vurdering",
            get(decide::form).post(decide::submit),
        )
        .route("/koe/{reference}/svar", axum::routing::post(answer::answer))
        .route(
            "/koe/{reference}/moede",
            get(forloeb::booking).post(forloeb::book),
        )
        .route(
            "/koe/{reference}/moede/aflys",
            axum::routing::post(forloeb::cancel),
        )
        .route("/overblik", get(overview::overview))
        .route("/overgang", get(overgang::form).post(overgang::submit))
        .route("/statusmoeder", get(statusmoeder::year))
        .route(
            "/statusmoeder/flyt",
            axum::routing::post(statusmoeder::move_meeting),
        )
        .route(
            "/statusmoeder/send",
            axum::routing::post(statusmoeder::send),
        )
        .route(
            "/statusmoeder/udskoling",
            axum::routing::post(statusmoeder::udskoling),
        )
        .route(
            "/statusmoeder/aflys",
            get(statusmoeder::confirm_cancel).post(statusmoeder::cancel),
        )
        .route("/fejlede-leverancer", get(deliveries::list))
        .route(
            "/fejlede-leverancer/{id}/igen",
            axum::routing::post(deliveries::retry),
        )
        .route("/login/oidc", get(oidc::begin))
        .route("/login/oidc/callback", get(oidc::callback))
        .route("/static/modtag.css", get(stylesheet))
        .route("/static/dkfds/{*path}", get(design_system))
        .layer(axum::middleware::from_fn_with_state(
            state.clone(),
            frame::frame,
        ))
        .with_state(state)
}

/// The desk's listener: the API and the pages, every answer with the security headers
/// (the API's JSON too: never stored, never framed, no script; issue 25).
pub fn desk(state: Arc<ApiState>) -> Router {
    crate::api::router(state.clone())
        .merge(router(state.clone()))
        .layer(axum::middleware::map_response_with_state(
            state,
            security_headers,
        ))
}

pub(crate) async fn stylesheet() -> Response {
    (
        [
            (header::CONTENT_TYPE, "text/css; charset=utf-8"),
            (header::CACHE_CONTROL, "public, max-age=3600"),
        ],
        CSS,
    )
        .into_response()
}

/// A file of the design system: its stylesheet, fonts and icons (no personal data, so they
/// may be cached).
pub(crate) async fn design_system(
    axum::extract::Path(path): axum::extract::Path<String>,
) -> Response {
    let Some((_, bytes)) = dkfds::FILES.iter().find(|(p, _)| *p == path) else {
        return (axum::http::StatusCode::NOT_FOUND, "findes ikke").into_response();
    };
    let kind = match path.rsplit('.').next() {
        Some("css") => "text/css; charset=utf-8",
        Some("woff2") => "font/woff2",
        Some("svg") => "image/svg+xml",
        _ => "text/plain; charset=utf-8",
    };
    (
        [
            (header::CONTENT_TYPE, kind),
            (header::CACHE_CONTROL, "public, max-age=86400"),
        ],
        *bytes,
    )
        .into_response()
}

/// No script at all, styles and images only from us, forms only to us, never in a frame;
/// no referrer leaves; pages are never stored (they may hold personal data).
async fn security_headers(
    axum::extract::State(state): axum::extract::State<Arc<ApiState>>,
    mut res: Response,
) -> Response {
    // Over TLS (modtag's own certificate, or a proxy that terminates it), browsers are told
    // never to come back over plain HTTP.
    let tls = {
        let cfg = state.app.policy.cfg();
        cfg.config.http.tls.is_some() || !cfg.config.http.trusted_proxies.is_empty()
    };
    protect(res.headers_mut(), tls);
    res
}

/// The headers every page gets, the desk's and the public forms' alike.
pub(crate) fn protect(h: &mut axum::http::HeaderMap, tls: bool) {
    if tls {
        h.insert(
            header::STRICT_TRANSPORT_SECURITY,
            HeaderValue::from_static("max-age=31536000"),
        );
    }
    let set = |h: &mut axum::http::HeaderMap, name, value: &'static str| {
        h.insert(name, HeaderValue::from_static(value));
    };
    set(
        h,
        header::CONTENT_SECURITY_POLICY,
        "default-src 'none'; style-src 'self'; img-src 'self'; font-src 'self'; \
         form-action 'self'; frame-ancestors 'none'; base-uri 'none'",
    );
    set(h, header::REFERRER_POLICY, "no-referrer");
    set(h, header::X_CONTENT_TYPE_OPTIONS, "nosniff");
    set(h, header::X_FRAME_OPTIONS, "DENY");
    if !h.contains_key(header::CACHE_CONTROL) {
        set(h, header::CACHE_CONTROL, "no-store");
    }
}
