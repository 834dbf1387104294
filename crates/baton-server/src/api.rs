//! The routes: the one table of what is served ([`ROUTES`], with the permission each needs),
//! the router built from it, the authentication and timing middleware, and the handlers.
//!
//! Must not return a token, a stored attribute value (the journal's prior/planned/new values
//! and a run's plan may hold sensitive values: responses carry addresses, actions, statuses,
//! times and errors only), or an internal error's detail beyond the store's own message.

use crate::access::{self, Permission};
use crate::limiter::Limiter;
use crate::metrics::{self, Metrics};
use crate::{token, Stores};
use axum::extract::{MatchedPath, Path, Query, Request, State};
use axum::http::{header, HeaderValue, Method, StatusCode};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Extension, Json, Router};
#[cfg(test)]
use baton_state::RunStatus;
use baton_state::{AuditRecord, JournalEntry, Role, RunRecord, StateStore};
use serde::Deserialize;
use serde_json::{json, Value};
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Instant;

/// One route the server serves.
#[derive(Clone, Copy, Debug)]
pub struct Route {
    pub method: &'static str,
    /// The pattern, with `{name}` for a path parameter (as axum and OpenAPI write it).
    pub path: &'static str,
    /// `None`: served without a token (the UI's pages, and the webhooks: signed instead).
    pub permission: Option<Permission>,
    pub summary: &'static str,
    /// The route's OpenAPI operation (parameters and responses); `None`: the core routes',
    /// described in `openapi.rs`.
    pub doc: Option<fn() -> Value>,
}

/// The core routes (this module's), in the order the API document lists them; the areas add
/// theirs ([`routes`]).
pub const ROUTES: &[Route] = &[
    Route {
        method: "GET",
        path: "/api/v1/openapi.json",
        permission: Some(Permission::Read),
        summary: "This API's OpenAPI 3 document",
        doc: None,
    },
    Route {
        method: "GET",
        path: "/api/v1/whoami",
        permission: Some(Permission::Read),
        summary: "The token's name, role and permissions",
        doc: None,
    },
    Route {
        method: "GET",
        path: "/api/v1/runs",
        permission: Some(Permission::Read),
        summary: "The stack's runs, newest first (filters: status, kind; paging: limit, cursor)",
        doc: None,
    },
    Route {
        method: "GET",
        path: "/api/v1/runs/{id}",
        permission: Some(Permission::Read),
        summary: "One run and its journal (actions, without their values)",
        doc: None,
    },
    Route {
        method: "GET",
        path: "/api/v1/audit",
        permission: Some(Permission::Read),
        summary: "Audit records, oldest first (paging: limit, after)",
        doc: None,
    },
    Route {
        method: "GET",
        path: "/api/v1/audit/verify",
        permission: Some(Permission::Read),
        summary: "Verify the audit log's hash chain",
        doc: None,
    },
    Route {
        method: "GET",
        path: "/api/v1/tokens",
        permission: Some(Permission::Admin),
        summary: "The API tokens: name, role, creation time (never a token or its hash)",
        doc: None,
    },
    Route {
        method: "GET",
        path: "/metrics",
        permission: Some(Permission::Read),
        summary: "Prometheus metrics (OpenMetrics text)",
        doc: None,
    },
];

/// Every route served: the core routes, then each area's (workflows, stacks, the UI's
/// assets).
pub fn routes() -> impl Iterator<Item = &'static Route> {
    ROUTES
        .iter()
        .chain(crate::workflows::ROUTES)
        .chain(crate::stacks::ROUTES)
        .chain(crate::ui::ROUTES)
}

/// The route of `method` and `pattern`, if served.
pub fn route(method: &str, pattern: &str) -> Option<&'static Route> {
    routes().find(|r| r.method == method && r.path == pattern)
}

/// The client's address, set on every request by the connection loop.
#[derive(Clone, Copy, Debug)]
pub struct Peer(pub SocketAddr);

/// Who is calling: the token's name and role (set by the authentication middleware).
#[derive(Clone, Debug)]
pub struct Caller {
    pub name: String,
    pub role: Role,
}

/// The server's shared state.
#[derive(Clone)]
pub struct App(pub(crate) Arc<Inner>);

pub(crate) struct Inner {
    pub(crate) stores: Stores,
    pub(crate) limiter: Limiter,
    pub(crate) metrics: Metrics,
}

impl App {
    pub fn new(stores: Stores) -> App {
        App(Arc::new(Inner {
            stores,
            limiter: Limiter::default(),
            metrics: Metrics::new(),
        }))
    }
}

/// The router: every route of [`ROUTES`], authentication on all but the page, timing on all.
pub fn router(app: App) -> Router {
    let guarded = Router::new()
        .route("/api/v1/openapi.json", get(openapi))
        .route("/api/v1/whoami", get(whoami))
        .route("/api/v1/runs", get(runs))
        .route("/api/v1/runs/{id}", get(run))
        .route("/api/v1/audit", get(audit))
        .route("/api/v1/audit/verify", get(audit_verify))
        .route("/api/v1/tokens", get(tokens))
        .route("/metrics", get(metrics_text));
    let guarded = crate::stacks::routes(crate::workflows::routes(guarded))
        .route_layer(middleware::from_fn_with_state(app.clone(), authenticate));
    crate::workflows::open_routes(crate::ui::routes(Router::new()))
        .merge(guarded)
        .fallback(not_found)
        .layer(middleware::from_fn_with_state(app.clone(), timed))
        .with_state(app)
}

/// An error response: `{"error": message}` with its status.
#[derive(Debug)]
pub struct ApiError {
    pub status: StatusCode,
    pub message: String,
}

impl ApiError {
    pub(crate) fn new(status: StatusCode, message: impl Into<String>) -> ApiError {
        ApiError {
            status,
            message: message.into(),
        }
    }

    pub(crate) fn internal(message: impl std::fmt::Display) -> ApiError {
        ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, message.to_string())
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        (self.status, Json(json!({ "error": self.message }))).into_response()
    }
}

/// Runs a blocking store call off the async threads.
pub(crate) async fn blocking<T: Send + 'static>(
    f: impl FnOnce() -> Result<T, ApiError> + Send + 'static,
) -> Result<T, ApiError> {
    tokio::task::spawn_blocking(f)
        .await
        .map_err(|e| ApiError::internal(format!("the request's worker failed: {e}")))?
}

/// Records every request's latency by its route pattern (`unmatched` for a 404).
async fn timed(State(app): State<App>, req: Request, next: Next) -> Response {
    let started = Instant::now();
    let method = req.method().to_string();
    let route = req
        .extensions()
        .get::<MatchedPath>()
        .map(|m| m.as_str().to_string())
        .unwrap_or_else(|| "unmatched".to_string());
    let resp = next.run(req).await;
    app.0.metrics.observe_request(
        &route,
        &method,
        resp.status().as_u16(),
        started.elapsed().as_secs_f64(),
    );
    resp
}

/// Checks the bearer token and the route's permission; refuses a client that failed too often.
async fn authenticate(
    State(app): State<App>,
    mut req: Request,
    next: Next,
) -> Result<Response, Response> {
    let now = Instant::now();
    let ip = req.extensions().get::<Peer>().map(|p| p.0.ip());
    if let Some(wait) = ip.and_then(|ip| app.0.limiter.blocked(ip, now)) {
        app.0.metrics.rate_limited();
        let secs = wait.as_secs().max(1);
        let mut resp = ApiError::new(
            StatusCode::TOO_MANY_REQUESTS,
            format!("too many failed logins from this address; try again in {secs} s"),
        )
        .into_response();
        resp.headers_mut()
            .insert(header::RETRY_AFTER, HeaderValue::from(secs));
        return Err(resp);
    }
    let unauthorized = |message: &str| {
        let mut resp = ApiError::new(StatusCode::UNAUTHORIZED, message).into_response();
        resp.headers_mut().insert(
            header::WWW_AUTHENTICATE,
            HeaderValue::from_static("Bearer realm=\"baton\""),
        );
        resp
    };
    let presented = match req.headers().get(header::AUTHORIZATION) {
        None => {
            app.0.metrics.auth_failed();
            return Err(unauthorized(
                "this call needs a token: send `Authorization: Bearer TOKEN` (`baton token create` makes one)",
            ));
        }
        Some(v) => v.to_str().ok().and_then(bearer).map(str::to_string),
    };
    let digest = presented.as_deref().map(token::digest);
    let tokens = Arc::clone(&app.0.stores.tokens);
    let lookup = digest.clone();
    let found = blocking(move || match lookup {
        Some(d) => tokens.find(&d).map_err(ApiError::internal),
        None => Ok(None),
    })
    .await
    .map_err(IntoResponse::into_response)?;
    let caller = match (found, digest) {
        (Some(rec), Some(d)) if token::same_digest(&rec.hash, &d) => Caller {
            name: rec.name,
            role: rec.role,
        },
        _ => {
            app.0.metrics.auth_failed();
            if let Some(ip) = ip {
                app.0.limiter.failed(ip, now);
            }
            return Err(unauthorized(
                "the token is not valid (revoked, or never issued)",
            ));
        }
    };
    let pattern = req
        .extensions()
        .get::<MatchedPath>()
        .map(|m| m.as_str().to_string())
        .unwrap_or_default();
    let needed = route(req.method().as_str(), &pattern).and_then(|r| r.permission);
    match needed {
        Some(p) if !access::allows(caller.role, p) => {
            return Err(ApiError::new(
                StatusCode::FORBIDDEN,
                format!(
                    "the role {} of token {} may not {} (it needs the {} permission)",
                    caller.role,
                    caller.name,
                    if req.method() == Method::GET {
                        "read this"
                    } else {
                        "do this"
                    },
                    p.as_str()
                ),
            )
            .into_response());
        }
        // A guarded route missing from the table: refuse rather than guess.
        None => {
            return Err(ApiError::internal(format!(
                "{} {pattern} has no permission in the route table",
                req.method()
            ))
            .into_response())
        }
        Some(_) => {}
    }
    req.extensions_mut().insert(caller);
    Ok(next.run(req).await)
}

/// The token of an `Authorization: Bearer TOKEN` value (the scheme is case-insensitive, as
/// RFC 9110 says).
fn bearer(value: &str) -> Option<&str> {
    let (scheme, token) = value.trim().split_once(' ')?;
    let token = token.trim();
    (scheme.eq_ignore_ascii_case("bearer") && !token.is_empty()).then_some(token)
}

async fn not_found() -> ApiError {
    ApiError::new(
        StatusCode::NOT_FOUND,
        "no such route (see /api/v1/openapi.json)",
    )
}

async fn openapi() -> Json<Value> {
    Json(crate::openapi::document())
}

async fn whoami(Extension(caller): Extension<Caller>) -> Json<Value> {
    Json(json!({
        "name": caller.name,
        "role": caller.role.as_str(),
        "permissions": access::permissions(caller.role).iter().map(|p| p.as_str()).collect::<Vec<_>>(),
    }))
}

async fn tokens(State(app): State<App>) -> Result<Json<Value>, ApiError> {
    let store = Arc::clone(&app.0.stores.tokens);
    blocking(move || {
        let list = store.list().map_err(ApiError::internal)?;
        Ok(Json(json!({
            "tokens": list.iter().map(|t| json!({
                "name": t.name, "role": t.role.as_str(), "created_at": t.created_at,
            })).collect::<Vec<_>>(),
        })))
    })
    .await
}

/// The stack's store, `None` while there is no state yet.
pub(crate) fn state(app: &App) -> Result<Option<Arc<dyn StateStore>>, ApiError> {
    app.0.stores.state.state().map_err(ApiError::internal)
}

/// A run as the API shows it (never its plan).
pub fn run_json(r: &RunRecord) -> Value {
    json!({
        "id": r.id, "kind": r.kind, "status": r.status.as_str(), "who": r.who, "host": r.host,
        "pid": r.pid, "started_at": r.started_at, "finished_at": r.finished_at,
        "serial": r.serial, "summary": r.summary, "parent": r.parent, "on_failure": r.on_failure,
    })
}

/// A journal entry as the API shows it (never the values before, planned or after).
pub fn action_json(e: &JournalEntry) -> Value {
    json!({
        "seq": e.seq, "phase": e.phase, "action": e.action, "address": e.addr,
        "deposed": if e.deposed.is_empty() { None } else { Some(&e.deposed) },
        "status": e.status.as_str(), "attempts": e.attempts,
        "started_at": e.started_at, "duration_ms": e.duration_ms, "error": e.error,
    })
}

/// Every run status's name, for the `status` filter.
pub const RUN_STATUSES: &[&str] = &[
    "running",
    "completed",
    "failed",
    "interrupted",
    "rolled_back",
    "rollback_failed",
    "stopped",
    "resumed",
];

/// Every stack run kind, for the `kind` filter.
pub const RUN_KINDS: &[&str] = &["apply", "destroy", "resume", "rollback"];

/// The largest `limit`.
pub const MAX_LIMIT: usize = 500;
/// `limit` when none is given.
pub const DEFAULT_LIMIT: usize = 50;

#[derive(Debug, Deserialize)]
struct RunsQuery {
    status: Option<String>,
    kind: Option<String>,
    limit: Option<usize>,
    cursor: Option<String>,
}

pub(crate) fn bad_query(e: impl std::fmt::Display) -> ApiError {
    ApiError::new(StatusCode::BAD_REQUEST, format!("bad query: {e}"))
}

pub(crate) fn limit(l: Option<usize>) -> Result<usize, ApiError> {
    match l {
        None => Ok(DEFAULT_LIMIT),
        Some(n) if (1..=MAX_LIMIT).contains(&n) => Ok(n),
        Some(n) => Err(bad_query(format!(
            "limit {n}: give a number from 1 to {MAX_LIMIT}"
        ))),
    }
}

async fn runs(
    State(app): State<App>,
    q: Result<Query<RunsQuery>, axum::extract::rejection::QueryRejection>,
) -> Result<Json<Value>, ApiError> {
    let Query(q) = q.map_err(bad_query)?;
    let limit = limit(q.limit)?;
    if let Some(s) = q.status.as_deref().filter(|s| !RUN_STATUSES.contains(s)) {
        return Err(bad_query(format!(
            "status {s:?}: one of {}",
            RUN_STATUSES.join(", ")
        )));
    }
    if let Some(k) = q.kind.as_deref().filter(|k| !RUN_KINDS.contains(k)) {
        return Err(bad_query(format!(
            "kind {k:?}: one of {}",
            RUN_KINDS.join(", ")
        )));
    }
    blocking(move || {
        let Some(store) = state(&app)? else {
            return Ok(Json(json!({ "runs": [], "next_cursor": null })));
        };
        let mut all = store.runs().map_err(ApiError::internal)?;
        // Ids sort by creation: newest first.
        all.sort_by(|a, b| b.id.cmp(&a.id));
        let mut picked = all.into_iter().filter(|r| {
            q.status.as_deref().is_none_or(|s| r.status.as_str() == s)
                && q.kind.as_deref().is_none_or(|k| r.kind == k)
                && q.cursor.as_deref().is_none_or(|c| r.id.as_str() < c)
        });
        let page: Vec<RunRecord> = picked.by_ref().take(limit).collect();
        let more = picked.next().is_some();
        let next = if more {
            page.last().map(|r| r.id.clone())
        } else {
            None
        };
        Ok(Json(json!({
            "runs": page.iter().map(run_json).collect::<Vec<_>>(),
            "next_cursor": next,
        })))
    })
    .await
}

async fn run(State(app): State<App>, Path(id): Path<String>) -> Result<Json<Value>, ApiError> {
    blocking(move || {
        let missing = || ApiError::new(StatusCode::NOT_FOUND, format!("there is no run {id}"));
        let Some(store) = state(&app)? else {
            return Err(missing());
        };
        let Some(r) = store.run(&id).map_err(ApiError::internal)? else {
            return Err(missing());
        };
        let entries = store.journal(&id).map_err(ApiError::internal)?;
        let mut v = run_json(&r);
        v["actions"] = Value::Array(entries.iter().map(action_json).collect());
        Ok(Json(v))
    })
    .await
}

#[derive(Debug, Deserialize)]
struct AuditQuery {
    limit: Option<usize>,
    after: Option<u64>,
}

fn audit_json(r: &AuditRecord) -> Value {
    // Arguments were redacted when the record was written; the record is shown whole, as
    // `baton audit show --json` shows it, so its hash can be checked.
    serde_json::to_value(r).unwrap_or_else(|_| json!({ "id": r.id }))
}

async fn audit(
    State(app): State<App>,
    q: Result<Query<AuditQuery>, axum::extract::rejection::QueryRejection>,
) -> Result<Json<Value>, ApiError> {
    let Query(q) = q.map_err(bad_query)?;
    let limit = limit(q.limit)?;
    blocking(move || {
        let Some(store) = state(&app)? else {
            return Ok(Json(json!({ "records": [], "next_after": null })));
        };
        let all = store.audit_records().map_err(ApiError::internal)?;
        let after = q.after.unwrap_or(0);
        let mut picked = all.into_iter().filter(|r| r.id > after);
        let page: Vec<AuditRecord> = picked.by_ref().take(limit).collect();
        let more = picked.next().is_some();
        Ok(Json(json!({
            "records": page.iter().map(audit_json).collect::<Vec<_>>(),
            "next_after": if more { page.last().map(|r| r.id) } else { None },
        })))
    })
    .await
}

async fn audit_verify(State(app): State<App>) -> Result<Json<Value>, ApiError> {
    blocking(move || {
        let Some(store) = state(&app)? else {
            return Ok(Json(json!({ "ok": true, "checked": 0, "first_bad": null })));
        };
        let report = store.audit_verify().map_err(ApiError::internal)?;
        Ok(Json(json!({
            "ok": report.ok,
            "checked": report.checked,
            "first_bad": report.first_bad.map(|(id, problem)| json!({ "id": id, "problem": problem })),
        })))
    })
    .await
}

async fn metrics_text(State(app): State<App>) -> Result<Response, ApiError> {
    let reader = app.clone();
    let counts = blocking(move || {
        let Some(store) = state(&reader)? else {
            return Ok(Vec::new());
        };
        let mut counts = std::collections::BTreeMap::<(String, String), i64>::new();
        for r in store.runs().map_err(ApiError::internal)? {
            *counts
                .entry((r.kind.clone(), r.status.as_str().to_string()))
                .or_default() += 1;
        }
        Ok(counts
            .into_iter()
            .map(|((k, s), n)| (k, s, n))
            .collect::<Vec<_>>())
    })
    .await?;
    let text = app.0.metrics.encode(&counts).map_err(ApiError::internal)?;
    Ok(([(header::CONTENT_TYPE, metrics::CONTENT_TYPE)], text).into_response())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_status_filter_names_the_stores_statuses() {
        for s in RUN_STATUSES {
            let parsed: RunStatus = serde_json::from_value(json!(s)).expect("a run status");
            assert_eq!(parsed.as_str(), *s);
        }
    }

    #[test]
    fn the_bearer_scheme_is_case_insensitive_and_needs_a_token() {
        assert_eq!(bearer("Bearer abc"), Some("abc"));
        assert_eq!(bearer("bearer  abc "), Some("abc"));
        assert_eq!(bearer("Basic abc"), None);
        assert_eq!(bearer("Bearer "), None);
        assert_eq!(bearer("Bearerabc"), None);
    }

    /// Open routes: the UI's pages and assets (they hold no data), and the webhooks, whose
    /// senders sign each delivery with a shared secret instead of sending a token.
    #[test]
    fn every_route_but_the_pages_and_the_webhooks_needs_a_permission() {
        for r in routes() {
            assert_eq!(
                r.permission.is_none(),
                r.path == "/" || r.path.starts_with("/ui/") || r.path.starts_with("/api/v1/hooks/"),
                "{} {}",
                r.method,
                r.path
            );
        }
    }
}
