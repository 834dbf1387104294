//! The workflows area of the API: what the agent's workflows are, starting runs with inputs,
//! the approvals waiting and their decisions, a run's logs, and webhook triggers (a signed
//! request starts a run) — through [`WorkflowControl`], which the binary implements with the
//! workflow engine. The HMAC check of a webhook's signature is here: it is HTTP's business.
//!
//! Must not run anything itself: every action goes through [`WorkflowControl`]. Must not
//! return a secret, a token or a sensitive input, and must never start a run from a webhook
//! request whose signature was not checked against a configured secret.

use crate::access::Permission;
use crate::apidoc::{error_response as err, guarded, json_ok, path_param};
use crate::http::{self, blocking, ApiError, App, Caller, Peer, Route};
use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Extension, Json, Router};
use baton_state::{StateError, WorkflowStore};
use hmac::{Hmac, KeyInit, Mac};
use serde::Deserialize;
use serde_json::{json, Map, Value};
use std::sync::Arc;
use std::time::Instant;

/// Why the binary refused or failed a workflow call; each maps to one HTTP status.
#[derive(Debug, thiserror::Error)]
pub enum ControlError {
    /// 400: bad inputs, a malformed request.
    #[error("{0}")]
    BadRequest(String),
    /// 403: the caller may not do this (an approval's rules).
    #[error("{0}")]
    Forbidden(String),
    /// 404: no such workflow, run, step or trigger.
    #[error("{0}")]
    NotFound(String),
    /// 409: the state does not allow it (a step not waiting, a replayed delivery).
    #[error("{0}")]
    Conflict(String),
    /// 503: the agent is not set up for it (a webhook's secret is not set).
    #[error("{0}")]
    Unavailable(String),
    /// 500.
    #[error("{0}")]
    Internal(String),
}

impl From<ControlError> for ApiError {
    fn from(e: ControlError) -> ApiError {
        let status = match &e {
            ControlError::BadRequest(_) => StatusCode::BAD_REQUEST,
            ControlError::Forbidden(_) => StatusCode::FORBIDDEN,
            ControlError::NotFound(_) => StatusCode::NOT_FOUND,
            ControlError::Conflict(_) => StatusCode::CONFLICT,
            ControlError::Unavailable(_) => StatusCode::SERVICE_UNAVAILABLE,
            ControlError::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        };
        ApiError::new(status, e.to_string())
    }
}

/// An approval decision as the API receives it.
#[derive(Clone, Debug, Deserialize)]
pub struct Decision {
    /// The waiting step's key.
    pub step: String,
    #[serde(default)]
    pub reason: Option<String>,
    /// Set from the route: approve or reject.
    #[serde(skip)]
    pub approved: bool,
}

/// What the server needs of the agent's workflows.
pub trait WorkflowControl: Send + Sync + 'static {
    /// The workflow run store, `None` while there is none yet (it is never created for a
    /// read).
    fn store(&self) -> Result<Option<Arc<dyn WorkflowStore>>, StateError>;

    /// The workflows of the directory: `{"workflows": [...]}` (schema `WorkflowList`); a
    /// sensitive input's default is `null`.
    fn list(&self) -> Result<Value, ControlError>;

    /// Records a run of `workflow` started by `caller` with `inputs` (JSON values) and
    /// advances it in the background; returns the run (`id`, `workflow`, `status`). Bad
    /// inputs: `BadRequest` naming the input.
    fn start(
        &self,
        caller: &Caller,
        workflow: &str,
        inputs: &Map<String, Value>,
    ) -> Result<Value, ControlError>;

    /// The approval steps waiting, each `{run, workflow, step, message, waiting_since,
    /// may_decide}` (`may_decide`: whether `caller` may decide it).
    fn approvals(&self, caller: &Caller) -> Result<Vec<Value>, ControlError>;

    /// Decides a waiting approval step as `caller` (checked against the step's rules), audits
    /// it, and continues the run in the background; returns the run.
    fn decide(&self, caller: &Caller, run: &str, d: &Decision) -> Result<Value, ControlError>;

    /// What step `node` of workflow run `run` printed (every step's, headed, without a node);
    /// `Ok(None)` when there is no such workflow run.
    fn logs(&self, run: &str, node: Option<&str>) -> Result<Option<String>, ControlError>;

    /// The secret webhook `trigger` of `workflow` is signed with: `NotFound` without such a
    /// trigger, `Unavailable` when its environment variable is not set (or empty).
    fn webhook_secret(&self, workflow: &str, trigger: &str) -> Result<Vec<u8>, ControlError>;

    /// Starts a run for a delivery whose signature was checked: refuses (`Conflict`) a
    /// delivery id seen before, durably; the run's inputs are the trigger's constants and the
    /// values at its JSON pointers in `body`. Returns the run.
    fn webhook_run(
        &self,
        workflow: &str,
        trigger: &str,
        delivery: &str,
        body: &Value,
    ) -> Result<Value, ControlError>;

    /// Cancels workflow run `run` for `caller`: a run waiting for a person has its waiting
    /// approvals rejected (the reason: cancelled, by whom) and ends as a rejection does
    /// (cancelled, or rolled back); a run that is running elsewhere is a `Conflict`. `Ok(None)`
    /// when `run` is not a workflow run (the stacks area then looks for it).
    fn cancel(&self, _caller: &Caller, _run: &str) -> Result<Option<Value>, ControlError> {
        Ok(None)
    }
}

/// This area's routes.
pub const ROUTES: &[Route] = &[
    Route {
        method: "GET",
        path: "/api/v1/workflows",
        permission: Some(Permission::Read),
        summary: "The workflows: inputs, steps, schedules, triggers",
        doc: Some(doc_list),
    },
    Route {
        method: "POST",
        path: "/api/v1/workflows/{name}/runs",
        permission: Some(Permission::Run),
        summary: "Start a run of a workflow with inputs; it goes on in the background",
        doc: Some(doc_start),
    },
    Route {
        method: "GET",
        path: "/api/v1/approvals",
        permission: Some(Permission::Read),
        summary: "The approval steps waiting, and whether this token may decide each",
        doc: Some(doc_approvals),
    },
    Route {
        method: "POST",
        path: "/api/v1/runs/{id}/approve",
        permission: Some(Permission::Approve),
        summary: "Approve a waiting approval step",
        doc: Some(doc_decide),
    },
    Route {
        method: "POST",
        path: "/api/v1/runs/{id}/reject",
        permission: Some(Permission::Approve),
        summary: "Reject a waiting approval step (the run fails and rolls back, or halts)",
        doc: Some(doc_decide),
    },
    Route {
        method: "GET",
        path: "/api/v1/runs/{id}/logs",
        permission: Some(Permission::Read),
        summary: "What a workflow step printed, or a stack action's error and attempts",
        doc: Some(doc_logs),
    },
    // No bearer token: a webhook sender (GitHub) signs the body with a shared secret
    // instead; a bad signature counts as a failed login.
    Route {
        method: "POST",
        path: "/api/v1/hooks/{workflow}/{trigger}",
        permission: None,
        summary: "A webhook delivery, signed with X-Hub-Signature-256: starts a run",
        doc: Some(doc_hook),
    },
];

/// Adds this area's routes to `r` (before authentication is layered on).
pub fn routes(r: Router<App>) -> Router<App> {
    r.route("/api/v1/workflows", get(list))
        .route("/api/v1/workflows/{name}/runs", post(start))
        .route("/api/v1/approvals", get(approvals))
        .route("/api/v1/runs/{id}/approve", post(approve))
        .route("/api/v1/runs/{id}/reject", post(reject))
        .route("/api/v1/runs/{id}/logs", get(logs))
}

/// This area's routes served without a bearer token (the webhooks: signed instead).
pub fn open_routes(r: Router<App>) -> Router<App> {
    r.route("/api/v1/hooks/{workflow}/{trigger}", post(hook))
}

fn control(app: &App) -> Arc<dyn WorkflowControl> {
    Arc::clone(&app.0.stores.workflows)
}

async fn list(State(app): State<App>) -> Result<Json<Value>, ApiError> {
    let c = control(&app);
    blocking(move || Ok(Json(c.list()?))).await
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct StartBody {
    #[serde(default)]
    inputs: Map<String, Value>,
}

/// The JSON body, or a 400 saying what is wrong with it.
fn body<T: serde::de::DeserializeOwned + Default>(bytes: &[u8]) -> Result<T, ApiError> {
    if bytes.iter().all(u8::is_ascii_whitespace) {
        return Ok(T::default());
    }
    serde_json::from_slice(bytes)
        .map_err(|e| ApiError::new(StatusCode::BAD_REQUEST, format!("bad request body: {e}")))
}

async fn start(
    State(app): State<App>,
    Extension(caller): Extension<Caller>,
    Path(name): Path<String>,
    raw: Bytes,
) -> Result<Response, ApiError> {
    let b: StartBody = body(&raw)?;
    let c = control(&app);
    let run = blocking(move || Ok(c.start(&caller, &name, &b.inputs)?)).await?;
    Ok((StatusCode::ACCEPTED, Json(json!({ "run": run }))).into_response())
}

async fn approvals(
    State(app): State<App>,
    Extension(caller): Extension<Caller>,
) -> Result<Json<Value>, ApiError> {
    let c = control(&app);
    blocking(move || Ok(Json(json!({ "approvals": c.approvals(&caller)? })))).await
}

#[derive(Debug, Default, Deserialize)]
struct DecideBody {
    step: Option<String>,
    reason: Option<String>,
}

async fn decide(
    app: App,
    caller: Caller,
    id: String,
    raw: Bytes,
    approved: bool,
) -> Result<Json<Value>, ApiError> {
    let b: DecideBody = body(&raw)?;
    let Some(step) = b.step.filter(|s| !s.is_empty()) else {
        return Err(ApiError::new(
            StatusCode::BAD_REQUEST,
            "the body needs step: the key of the waiting approval step",
        ));
    };
    let d = Decision {
        step,
        reason: b.reason.filter(|r| !r.is_empty()),
        approved,
    };
    let c = control(&app);
    blocking(move || Ok(Json(json!({ "run": c.decide(&caller, &id, &d)? })))).await
}

async fn approve(
    State(app): State<App>,
    Extension(caller): Extension<Caller>,
    Path(id): Path<String>,
    raw: Bytes,
) -> Result<Json<Value>, ApiError> {
    decide(app, caller, id, raw, true).await
}

async fn reject(
    State(app): State<App>,
    Extension(caller): Extension<Caller>,
    Path(id): Path<String>,
    raw: Bytes,
) -> Result<Json<Value>, ApiError> {
    decide(app, caller, id, raw, false).await
}

#[derive(Debug, Deserialize)]
struct LogsQuery {
    node: Option<String>,
}

async fn logs(
    State(app): State<App>,
    Path(id): Path<String>,
    q: Result<Query<LogsQuery>, axum::extract::rejection::QueryRejection>,
) -> Result<Json<Value>, ApiError> {
    let Query(q) = q.map_err(http::bad_query)?;
    let c = control(&app);
    blocking(move || {
        let node = q.node.as_deref().filter(|n| !n.is_empty());
        if let Some(text) = c.logs(&id, node)? {
            return Ok(Json(json!({ "text": text })));
        }
        // A stack run: the action's error and attempts (its values are never shown).
        let missing = || ApiError::new(StatusCode::NOT_FOUND, format!("there is no run {id}"));
        let store = http::state(&app)?.ok_or_else(missing)?;
        store
            .run(&id)
            .map_err(ApiError::internal)?
            .ok_or_else(missing)?;
        let entries = store.journal(&id).map_err(ApiError::internal)?;
        let picked: Vec<_> = entries
            .iter()
            .filter(|e| node.is_none_or(|n| e.addr == n))
            .collect();
        if picked.is_empty() {
            if let Some(n) = node {
                return Err(ApiError::new(
                    StatusCode::NOT_FOUND,
                    format!("run {id} has no action on {n}"),
                ));
            }
        }
        let mut text = String::new();
        for e in picked {
            text.push_str(&format!(
                "{} {} ({}): {}, {} attempt(s){}\n",
                e.action,
                e.addr,
                e.phase,
                e.status.as_str(),
                e.attempts,
                e.duration_ms
                    .map(|d| format!(", {d} ms"))
                    .unwrap_or_default()
            ));
            if let Some(err) = &e.error {
                text.push_str(err);
                text.push('\n');
            }
        }
        Ok(Json(json!({ "text": text })))
    })
    .await
}

/// The header GitHub signs a delivery in.
pub const SIGNATURE_HEADER: &str = "x-hub-signature-256";
/// The headers naming a delivery (GitHub's, or any sender's).
pub const DELIVERY_HEADERS: [&str; 2] = ["x-github-delivery", "x-baton-delivery"];

/// The `X-Hub-Signature-256` value of `body` signed with `secret`: `sha256=HEX` (what a
/// sender computes; tests and clients use it).
pub fn sign(secret: &[u8], body: &[u8]) -> String {
    match <Hmac<sha2::Sha256> as KeyInit>::new_from_slice(secret) {
        Ok(mut mac) => {
            mac.update(body);
            format!("sha256={}", hex::encode(mac.finalize().into_bytes()))
        }
        // HMAC takes a key of any length.
        Err(_) => String::new(),
    }
}

/// Whether `header` (`sha256=HEX`) is the HMAC-SHA256 of `body` under `secret`, compared in
/// constant time.
pub fn signature_ok(secret: &[u8], body: &[u8], header: Option<&str>) -> bool {
    let Some(hex_sig) = header.and_then(|h| h.trim().strip_prefix("sha256=")) else {
        return false;
    };
    let Ok(given) = hex::decode(hex_sig) else {
        return false;
    };
    let Ok(mut mac) = <Hmac<sha2::Sha256> as KeyInit>::new_from_slice(secret) else {
        return false;
    };
    mac.update(body);
    mac.verify_slice(&given).is_ok()
}

async fn hook(
    State(app): State<App>,
    Path((workflow, trigger)): Path<(String, String)>,
    peer: Option<Extension<Peer>>,
    headers: HeaderMap,
    raw: Bytes,
) -> Result<Response, ApiError> {
    let now = Instant::now();
    let ip = peer.map(|p| p.0 .0.ip());
    if let Some(resp) = crate::http::refused_for_failures(&app, ip, now) {
        return Ok(resp);
    }
    let c = control(&app);
    let (w, t) = (workflow.clone(), trigger.clone());
    let secret = blocking(move || Ok(c.webhook_secret(&w, &t)?)).await?;
    let sig = headers.get(SIGNATURE_HEADER).and_then(|v| v.to_str().ok());
    if !signature_ok(&secret, &raw, sig) {
        app.0.metrics.auth_failed();
        if let Some(ip) = ip {
            app.0.limiter.failed(ip, now);
        }
        return Err(ApiError::new(
            StatusCode::UNAUTHORIZED,
            format!(
                "the delivery is not signed with the secret of trigger {trigger}: send X-Hub-Signature-256: sha256=HMAC-SHA256(secret, body) in hex"
            ),
        ));
    }
    let delivery = DELIVERY_HEADERS
        .iter()
        .find_map(|h| headers.get(*h).and_then(|v| v.to_str().ok()))
        .map(str::trim)
        .filter(|d| !d.is_empty() && d.len() <= 200)
        .map(str::to_string);
    let Some(delivery) = delivery else {
        return Err(ApiError::new(
            StatusCode::BAD_REQUEST,
            "the delivery needs an id: X-GitHub-Delivery or X-Baton-Delivery (1 to 200 characters), so a replay can be refused",
        ));
    };
    let doc: Value = if raw.iter().all(u8::is_ascii_whitespace) {
        Value::Null
    } else {
        serde_json::from_slice(&raw).map_err(|e| {
            ApiError::new(
                StatusCode::BAD_REQUEST,
                format!("the body is not JSON: {e}"),
            )
        })?
    };
    let c = control(&app);
    let run = blocking(move || Ok(c.webhook_run(&workflow, &trigger, &delivery, &doc)?)).await?;
    Ok((StatusCode::ACCEPTED, Json(json!({ "run": run }))).into_response())
}

/// This area's schemas, for the API document.
pub fn schemas() -> Map<String, Value> {
    let s = json!({
        "WorkflowList": {
            "type": "object", "required": ["workflows"],
            "properties": { "workflows": { "type": "array", "items": { "$ref": "#/components/schemas/Workflow" } } }
        },
        "Workflow": {
            "type": "object", "required": ["name", "inputs", "steps", "schedules", "triggers"],
            "properties": {
                "name": { "type": "string" },
                "inputs": { "type": "array", "items": {
                    "type": "object", "required": ["name", "sensitive"],
                    "properties": {
                        "name": { "type": "string" },
                        "type": { "type": ["string", "null"] },
                        "default": { "description": "The default value; null for a sensitive input or none" },
                        "description": { "type": ["string", "null"] },
                        "sensitive": { "type": "boolean" }
                    }
                } },
                "steps": { "type": "array", "items": {
                    "type": "object", "required": ["name", "kind", "depends_on"],
                    "properties": {
                        "name": { "type": "string" }, "kind": { "type": "string" },
                        "depends_on": { "type": "array", "items": { "type": "string" } }
                    }
                } },
                "schedules": { "type": "array", "items": {
                    "type": "object", "required": ["name", "cron"],
                    "properties": {
                        "name": { "type": "string" }, "cron": { "type": "string" },
                        "timezone": { "type": ["string", "null"] }
                    }
                } },
                "triggers": { "type": "array", "items": {
                    "type": "object", "required": ["type", "name"],
                    "properties": { "type": { "type": "string", "enum": ["webhook"] }, "name": { "type": "string" } }
                } }
            }
        },
        "WorkflowRun": {
            "type": "object", "required": ["run"],
            "properties": { "run": {
                "type": "object", "required": ["id", "workflow", "status"],
                "properties": {
                    "id": { "type": "string" }, "workflow": { "type": "string" },
                    "status": { "type": "string" }, "who": { "type": "string" }
                }
            } }
        },
        "StartRun": {
            "type": "object",
            "additionalProperties": false,
            "properties": { "inputs": { "type": "object", "description": "Input values by name" } }
        },
        "Decision": {
            "type": "object", "required": ["step"],
            "additionalProperties": false,
            "properties": { "step": { "type": "string", "minLength": 1 }, "reason": { "type": ["string", "null"] } }
        },
        "ApprovalList": {
            "type": "object", "required": ["approvals"],
            "properties": { "approvals": { "type": "array", "items": {
                "type": "object", "required": ["run", "workflow", "step", "may_decide"],
                "properties": {
                    "run": { "type": "string" }, "workflow": { "type": "string" },
                    "step": { "type": "string" }, "message": { "type": ["string", "null"] },
                    "waiting_since": { "type": ["string", "null"] },
                    "may_decide": { "type": "boolean" }
                }
            } } }
        },
        "Logs": {
            "type": "object", "required": ["text"],
            "properties": { "text": { "type": "string" } }
        }
    });
    match s {
        Value::Object(m) => m,
        _ => Map::new(),
    }
}

fn ok(schema: &str, status: &str) -> Value {
    json!({ status: json_ok(schema) })
}

fn request(schema: &str, required: bool) -> Value {
    json!({ "required": required, "content": { "application/json": {
        "schema": { "$ref": format!("#/components/schemas/{schema}") }
    } } })
}

fn doc_list() -> Value {
    json!({ "responses": guarded(ok("WorkflowList", "200")) })
}

fn doc_start() -> Value {
    let mut r = guarded(ok("WorkflowRun", "202"));
    r["400"] = err("An input is unknown, missing or of the wrong type (the message names it)");
    r["404"] = err("No such workflow");
    json!({ "parameters": [path_param("name")], "requestBody": request("StartRun", false), "responses": r })
}

fn doc_approvals() -> Value {
    json!({ "responses": guarded(ok("ApprovalList", "200")) })
}

fn doc_decide() -> Value {
    let mut r = guarded(ok("WorkflowRun", "200"));
    r["400"] = err("The body names no step");
    r["403"] = err("The token's role may not approve, or the step's rules refuse this token (named approvers, a required role, self-approval)");
    r["404"] = err("No such run or step");
    r["409"] = err("The step is not waiting for a decision");
    json!({ "parameters": [path_param("id")], "requestBody": request("Decision", true), "responses": r })
}

fn doc_logs() -> Value {
    let mut r = guarded(ok("Logs", "200"));
    r["404"] = err("No such run, step or action");
    json!({
        "parameters": [path_param("id"), {
            "name": "node", "in": "query", "required": false,
            "description": "A workflow step's key, or a stack run's resource address",
            "schema": { "type": "string" }
        }],
        "responses": r
    })
}

fn doc_hook() -> Value {
    let mut r = ok("WorkflowRun", "202");
    r["400"] = err("No delivery id header, or a body that is not JSON, or inputs that do not fit");
    r["401"] = err("A missing or bad X-Hub-Signature-256 (counts as a failed login)");
    r["404"] = err("No such workflow or trigger");
    r["409"] = err("This delivery id was seen before (a replay)");
    r["429"] = json!({ "$ref": "#/components/responses/TooManyRequests" });
    r["503"] = err("The trigger's secret environment variable is not set on the agent");
    json!({
        "parameters": [path_param("workflow"), path_param("trigger"),
            { "name": "X-Hub-Signature-256", "in": "header", "required": true,
              "description": "sha256=HEX: HMAC-SHA256 of the raw body with the trigger's secret",
              "schema": { "type": "string" } },
            { "name": "X-GitHub-Delivery", "in": "header", "required": false,
              "description": "The delivery's id (or X-Baton-Delivery); one of them is required",
              "schema": { "type": "string" } }],
        "requestBody": { "required": false, "content": { "application/json": { "schema": {} } } },
        "responses": r
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn githubs_example_signature_is_accepted() {
        // GitHub's documented example: secret "It's a Secret to Everybody", body "Hello, World!".
        let header = "sha256=757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17";
        assert!(signature_ok(
            b"It's a Secret to Everybody",
            b"Hello, World!",
            Some(header)
        ));
    }

    #[test]
    fn a_bad_missing_or_malformed_signature_is_refused() {
        let body = br#"{"ref":"main"}"#;
        let good = sign(b"s3cret", body);
        assert!(signature_ok(b"s3cret", body, Some(&good)));
        assert!(!signature_ok(b"other", body, Some(&good)), "wrong secret");
        assert!(!signature_ok(b"s3cret", b"{}", Some(&good)), "other body");
        assert!(!signature_ok(b"s3cret", body, None), "missing");
        assert!(
            !signature_ok(b"s3cret", body, Some("sha1=abc")),
            "other scheme"
        );
        assert!(!signature_ok(b"s3cret", body, Some("sha256=zz")), "not hex");
        assert!(
            !signature_ok(b"s3cret", body, Some(&good[..good.len() - 2])),
            "short"
        );
    }
}
