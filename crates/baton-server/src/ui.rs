//! The web UI's files, embedded in the binary (`assets/`: one page, one script, one
//! stylesheet; no external resources, no build step): `/` and `/ui/*`. They hold no data and
//! need no token; every call the page makes to the API carries the user's token.
//!
//! Must not serve anything but these files, and must not let a page of another origin frame
//! or script them (strict headers on every response).

use crate::access::Permission;
use crate::http::{App, Route};
use axum::http::{header, HeaderValue};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use serde_json::{json, Value};

const INDEX: &str = include_str!("../assets/index.html");
const APP_JS: &str = include_str!("../assets/app.js");
const APP_CSS: &str = include_str!("../assets/app.css");

fn doc(content_type: &str) -> Value {
    json!({
        "security": [],
        "responses": { "200": {
            "description": "OK",
            "content": { content_type: { "schema": { "type": "string" } } }
        }}
    })
}

/// The UI's routes: no permission (they hold no data).
pub const ROUTES: &[Route] = &[
    Route {
        method: "GET",
        path: "/",
        permission: None::<Permission>,
        summary: "The web UI",
        doc: Some(|| doc("text/html")),
    },
    Route {
        method: "GET",
        path: "/ui/app.js",
        permission: None,
        summary: "The web UI's script",
        doc: Some(|| doc("text/javascript")),
    },
    Route {
        method: "GET",
        path: "/ui/app.css",
        permission: None,
        summary: "The web UI's stylesheet",
        doc: Some(|| doc("text/css")),
    },
];

/// The page's Content-Security-Policy: its own script and style only, API calls to its own
/// origin, never framed.
const CSP: &str = "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; \
img-src 'self' data:; base-uri 'none'; form-action 'self'; frame-ancestors 'none'";

fn asset(content_type: &'static str, body: &'static str) -> Response {
    let mut r = body.into_response();
    let h = r.headers_mut();
    h.insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    h.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(CSP),
    );
    h.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    h.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    h.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    r
}

/// Adds the UI's routes to `r`.
pub fn routes(r: Router<App>) -> Router<App> {
    r.route(
        "/",
        get(|| async { asset("text/html; charset=utf-8", INDEX) }),
    )
    .route(
        "/ui/app.js",
        get(|| async { asset("text/javascript; charset=utf-8", APP_JS) }),
    )
    .route(
        "/ui/app.css",
        get(|| async { asset("text/css; charset=utf-8", APP_CSS) }),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_page_loads_nothing_from_elsewhere() {
        for text in [INDEX, APP_JS, APP_CSS] {
            assert!(
                !text.contains("http://"),
                "an absolute http URL in an asset"
            );
            assert!(
                !text.contains("https://"),
                "an absolute https URL in an asset"
            );
            assert!(!text.contains("@import"), "an imported stylesheet");
        }
        assert!(INDEX.contains("/ui/app.js") && INDEX.contains("/ui/app.css"));
    }
}
