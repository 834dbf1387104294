//! The routes: the one table of what is served ([`ROUTES`], with the permission each needs),
//! the router built from it, the authentication and timing middleware, and the handlers.
//!
//! Must not return a token, a stored attribute value (the journal's prior/planned/new values
//! and a run's plan may hold sensitive values: responses carry addresses, actions, statuses,
//! times and errors only), or an internal error's detail beyond the store's own message.

use crate::access::{self, Permission};
pub use crate::http::{
    action_json, run_json, ApiError, App, Caller, Peer, Route, DEFAULT_LIMIT, MAX_LIMIT, RUN_KINDS,
    RUN_STATUSES,
};
use crate::http::{bad_query, blocking, limit, refused_for_failures, state};
use crate::metrics;
use crate::token;
use axum::extract::{MatchedPath, Path, Query, Request, State};
use axum::http::{header, HeaderValue, Method, StatusCode};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Extension, Json, Router};
use baton_state::AuditRecord;
#[cfg(test)]
use baton_state::RunStatus;
use serde::Deserialize;
use serde_json::{json, Value};
use std::sync::Arc;
use std::time::Instant;

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
    Json(crate::openapi::document(routes()))
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

#[derive(Debug, Deserialize)]
struct RunsQuery {
    status: Option<String>,
    kind: Option<String>,
    limit: Option<usize>,
    cursor: Option<String>,
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
/// scrape must stay cheap on a store with years of runs)...
const RECENT_RUNS: usize = 100;
/// ...and at most how many of their actions (or steps): a few runs of 10,000 resources would
/// otherwise make every scrape read a million journal entries.
const RECENT_ENTRIES: usize = 20_000;

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
            if o.action_seconds.len() >= RECENT_ENTRIES {
                break;
            }
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
            if o.step_seconds.len() >= RECENT_ENTRIES {
                break;
            }
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

    #[test]
    fn every_route_is_documented_with_a_described_response_and_every_reference_resolves() {
        let doc = crate::openapi::document(routes());
        for r in routes() {
            let op = &doc["paths"][r.path][r.method.to_ascii_lowercase()];
            assert!(op.is_object(), "{} {} missing", r.method, r.path);
            // 200, or 202 for what goes on in the background (a run started).
            let ok = match &op["responses"]["202"] {
                Value::Null => &op["responses"]["200"],
                accepted => accepted,
            };
            assert!(
                ok.get("content").is_some(),
                "{} {} has no 200 (or 202) content: add it to `operation`",
                r.method,
                r.path
            );
            if r.permission.is_some() {
                assert!(op["responses"]["401"].is_object(), "{} 401", r.path);
            }
        }
        let paths = doc["paths"].as_object().map(|m| m.len()).unwrap_or(0);
        let distinct: std::collections::BTreeSet<_> = routes().map(|r| r.path).collect();
        assert_eq!(
            paths,
            distinct.len(),
            "the document lists only served paths"
        );
        // Every $ref points at something.
        let text = doc.to_string();
        for part in text.split("\"$ref\":\"#/").skip(1) {
            let target = part.split('"').next().unwrap_or_default();
            let pointer = format!("/{target}");
            assert!(doc.pointer(&pointer).is_some(), "dangling $ref #/{target}");
        }
        let ids: std::collections::BTreeSet<String> = routes()
            .map(|r| crate::openapi::operation_id(r.method, r.path))
            .collect();
        assert_eq!(
            ids.len(),
            routes().count(),
            "operation ids are unique: {ids:?}"
        );
    }
}
