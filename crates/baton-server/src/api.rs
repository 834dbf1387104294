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
        path: "/api/v1/runs/{id}/events",
        permission: Some(Permission::Read),
        summary: "The run, again each time it changes, as server-sent events (`event: run`), until it is over",
        doc: Some(|| {
            json!({
                "parameters": [{ "name": "id", "in": "path", "required": true, "schema": { "type": "string" } }],
                "responses": {
                    // Each event's data is a RunDetail as JSON; the stream itself is text.
                    "200": { "description": "OK", "content": { "text/event-stream": { "schema": {} } } },
                    "401": { "$ref": "#/components/responses/Unauthorized" },
                    "403": { "$ref": "#/components/responses/Forbidden" },
                    "404": { "$ref": "#/components/responses/NotFound" },
                    "429": { "$ref": "#/components/responses/TooManyRequests" },
                }
            })
        }),
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
    pub(crate) details: crate::runs::DetailCache,
    pub(crate) limiter: Limiter,
    pub(crate) metrics: Metrics,
}

impl App {
    pub fn new(stores: Stores) -> App {
        App::with_limit(stores, crate::limiter::MAX_FAILURES)
    }

    /// An app refusing a client after `login_failures` bad tokens within a minute.
    pub fn with_limit(stores: Stores, login_failures: usize) -> App {
        App(Arc::new(Inner {
            stores,
            details: crate::runs::DetailCache::default(),
            limiter: Limiter::new(login_failures),
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
        .route("/api/v1/runs/{id}/events", get(crate::runs::events))
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
    if let Some(resp) = refused_for_failures(&app, ip, now) {
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
        // A path served with other methods: 405, naming them.
        None if routes().any(|r| r.path == pattern) => {
            let allow: Vec<&str> = routes()
                .filter(|r| r.path == pattern)
                .map(|r| r.method)
                .collect();
            let mut resp = ApiError::new(
                StatusCode::METHOD_NOT_ALLOWED,
                format!(
                    "{} is not served at {pattern}: {}",
                    req.method(),
                    allow.join(", ")
                ),
            )
            .into_response();
            if let Ok(v) = HeaderValue::from_str(&allow.join(", ")) {
                resp.headers_mut().insert(header::ALLOW, v);
            }
            return Err(resp);
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

/// The 429 (with `Retry-After`) for a client that failed to log in too often, if `ip` is one:
/// for a bad token as for a bad webhook signature.
pub(crate) fn refused_for_failures(
    app: &App,
    ip: Option<std::net::IpAddr>,
    now: Instant,
) -> Option<Response> {
    let wait = ip.and_then(|ip| app.0.limiter.blocked(ip, now))?;
    app.0.metrics.rate_limited();
    let secs = wait.as_secs().max(1);
    let mut resp = ApiError::new(
        StatusCode::TOO_MANY_REQUESTS,
        format!("too many failed logins from this address; try again in {secs} s"),
    )
    .into_response();
    resp.headers_mut()
        .insert(header::RETRY_AFTER, HeaderValue::from(secs));
    Some(resp)
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
        "id": r.id, "kind": r.kind, "name": null, "status": r.status.as_str(), "who": r.who, "host": r.host,
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

/// Every run status's name (a stack run's and a workflow run's), for the `status` filter.
pub const RUN_STATUSES: &[&str] = &[
    "queued",
    "running",
    "waiting",
    "completed",
    "succeeded",
    "failed",
    "interrupted",
    "rolled_back",
    "rollback_failed",
    "stopped",
    "resumed",
    "cancelled",
];

/// Every run kind (a stack run's, or `workflow`), for the `kind` filter.
pub const RUN_KINDS: &[&str] = &["apply", "destroy", "resume", "rollback", "workflow"];

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
        // Both stores' runs, as one list: (id, the run's JSON).
        let mut all: Vec<(String, Value)> = Vec::new();
        if let Some(store) = state(&app)? {
            for r in store.runs().map_err(ApiError::internal)? {
                all.push((r.id.clone(), run_json(&r)));
            }
        }
        if let Some(store) = app.0.stores.workflows.store().map_err(ApiError::internal)? {
            for r in store.runs().map_err(ApiError::internal)? {
                all.push((r.id.clone(), crate::runs::workflow_run_json(&r)));
            }
        }
        // Ids sort by creation: newest first.
        all.sort_by(|a, b| b.0.cmp(&a.0));
        let mut picked = all.into_iter().filter(|(id, r)| {
            q.status.as_deref().is_none_or(|s| r["status"] == s)
                && q.kind.as_deref().is_none_or(|k| r["kind"] == k)
                && q.cursor.as_deref().is_none_or(|c| id.as_str() < c)
        });
        let page: Vec<(String, Value)> = picked.by_ref().take(limit).collect();
        let more = picked.next().is_some();
        let next = if more {
            page.last().map(|(id, _)| id.clone())
        } else {
            None
        };
        Ok(Json(json!({
            "runs": page.into_iter().map(|(_, v)| v).collect::<Vec<_>>(),
            "next_cursor": next,
        })))
    })
    .await
}

async fn run(State(app): State<App>, Path(id): Path<String>) -> Result<Json<Value>, ApiError> {
    blocking(move || match crate::runs::detail(&app, &id)? {
        Some(v) => Ok(Json(v)),
        None => Err(ApiError::new(
            StatusCode::NOT_FOUND,
            format!("there is no run {id}"),
        )),
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
    if let Some(a) = q.after.filter(|a| i64::try_from(*a).is_err()) {
        return Err(bad_query(format!("after {a}: give a record id")));
    }
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
    let observed = blocking(move || observe(&reader)).await?;
    let text = app
        .0
        .metrics
        .encode(&observed)
        .map_err(ApiError::internal)?;
    Ok(([(header::CONTENT_TYPE, metrics::CONTENT_TYPE)], text).into_response())
}

/// How many recent runs of each kind the duration histograms and retry counts look at (a
/// scrape must stay cheap on a store with years of runs).
const RECENT_RUNS: usize = 100;

/// What a scrape reports, read from the stores and the agent.
fn observe(app: &App) -> Result<metrics::Observed, ApiError> {
    use std::collections::BTreeMap;
    let mut o = metrics::Observed::default();
    let mut runs = BTreeMap::<(String, String), i64>::new();
    let mut retries = BTreeMap::<String, i64>::new();
    let mut rollbacks = BTreeMap::<String, i64>::new();
    if let Some(store) = state(app)? {
        let mut all = store.runs().map_err(ApiError::internal)?;
        for r in &all {
            *runs
                .entry((r.kind.clone(), r.status.as_str().to_string()))
                .or_default() += 1;
            if r.status.as_str() == "rolled_back" {
                *rollbacks.entry("stack".into()).or_default() += 1;
            }
        }
        all.sort_by(|a, b| b.id.cmp(&a.id));
        for r in all.iter().take(RECENT_RUNS) {
            for e in store.journal(&r.id).map_err(ApiError::internal)? {
                if let Some(ms) = e.duration_ms {
                    o.action_seconds.push((e.phase.clone(), ms as f64 / 1000.0));
                }
                *retries.entry("action".into()).or_default() +=
                    i64::from(e.attempts.saturating_sub(1));
            }
        }
        let mut policy = BTreeMap::<String, i64>::new();
        let mut drift = BTreeMap::<String, i64>::new();
        for a in store.audit_records().map_err(ApiError::internal)? {
            if let Some(outcome) = a.policy.get("outcome").and_then(Value::as_str) {
                *policy.entry(outcome.to_string()).or_default() += 1;
            }
            if a.command == "reconcile" {
                let word = a.outcome.split(':').next().unwrap_or_default().trim();
                match word {
                    "drift-found" => *drift.entry("detected".into()).or_default() += 1,
                    "repaired" => {
                        *drift.entry("detected".into()).or_default() += 1;
                        *drift.entry("repaired".into()).or_default() += 1;
                    }
                    _ => {}
                }
            }
        }
        o.policy = policy.into_iter().collect();
        o.drift = drift.into_iter().collect();
    }
    if let Some(store) = app.0.stores.workflows.store().map_err(ApiError::internal)? {
        let mut all = store.runs().map_err(ApiError::internal)?;
        for r in &all {
            *runs
                .entry(("workflow".into(), r.status.as_str().to_string()))
                .or_default() += 1;
            if r.status.as_str() == "rolled_back" {
                *rollbacks.entry("workflow".into()).or_default() += 1;
            }
        }
        all.sort_by(|a, b| b.id.cmp(&a.id));
        for r in all.iter().take(RECENT_RUNS) {
            for s in store.steps(&r.id).map_err(ApiError::internal)? {
                if let Some(ms) = s.duration_ms {
                    o.step_seconds.push((s.kind.clone(), ms as f64 / 1000.0));
                }
                *retries.entry("step".into()).or_default() +=
                    i64::from(s.attempts.saturating_sub(1));
            }
        }
    }
    o.runs = runs.into_iter().map(|((k, s), n)| (k, s, n)).collect();
    o.retries = retries.into_iter().collect();
    o.rollbacks = rollbacks.into_iter().collect();
    o.agent = app.0.stores.views.agent_metrics();
    Ok(o)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_status_filter_names_the_stores_statuses() {
        // Every status of either store can be filtered on, and nothing else.
        for s in RUN_STATUSES {
            let stack = serde_json::from_value::<RunStatus>(json!(s)).ok();
            let workflow = baton_state::WfRunStatus::parse(s);
            assert!(
                stack.is_some() || workflow.is_some(),
                "{s} is no run status"
            );
            if let Some(p) = stack {
                assert_eq!(p.as_str(), *s);
            }
        }
        for s in [
            baton_state::WfRunStatus::Queued,
            baton_state::WfRunStatus::Waiting,
            baton_state::WfRunStatus::Succeeded,
            baton_state::WfRunStatus::Cancelled,
        ] {
            assert!(RUN_STATUSES.contains(&s.as_str()), "{}", s.as_str());
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
