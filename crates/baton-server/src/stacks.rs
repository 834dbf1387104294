//! The stacks area of the API: a run's plan, cancelling, resuming and rolling back runs,
//! plans, applies, drift, state objects and versions, services, policies, workers and the
//! audit export — through [`StackControl`], which the binary implements with the engine.
//!
//! Must not run anything itself: every action goes through [`StackControl`]. Must not let a
//! sensitive value out: plans and state objects pass through [`crate::redact`] here, whatever
//! the binary handed over.

use crate::access::Permission;
use crate::apidoc::{error_response as error, guarded, json_ok as ok, path_param};
use crate::http::{blocking, state, ApiError, App, Caller, Route};
use crate::redact;
use axum::extract::{Path, Query, State};
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Extension, Json, Router};
use serde::Deserialize;
use serde_json::{json, Value};
use std::sync::Arc;

/// Who asks for an action: the token's name (the binary records `api:NAME` as the actor).
#[derive(Clone, Debug)]
pub struct Actor {
    pub name: String,
    /// What was asked, e.g. `POST /api/v1/stacks/apply` (for the audit record's arguments).
    pub request: String,
}

/// Why an action was refused or failed.
#[derive(Debug, thiserror::Error)]
pub enum ControlError {
    /// No such run, service, …: 404.
    #[error("{0}")]
    NotFound(String),
    /// The action cannot be done now (a run that cannot be resumed, one that is not
    /// running, …): 409 with the reason.
    #[error("{0}")]
    Conflict(String),
    /// The agent could not do it (a store failed, …): 500.
    #[error("{0}")]
    Failed(String),
}

impl From<ControlError> for ApiError {
    fn from(e: ControlError) -> ApiError {
        let status = match &e {
            ControlError::NotFound(_) => StatusCode::NOT_FOUND,
            ControlError::Conflict(_) => StatusCode::CONFLICT,
            ControlError::Failed(_) => StatusCode::INTERNAL_SERVER_ERROR,
        };
        ApiError::new(status, e.to_string())
    }
}

/// A run started (or acted on) by a call: its id and what it is.
#[derive(Clone, Debug)]
pub struct Started {
    pub id: String,
    /// `apply`, `resume`, `rollback`, `workflow`.
    pub kind: String,
    /// `running`, `denied`, `stopping`, `cancelling`
    pub status: String,
}

/// A plan made now: Terraform's JSON plan (with its sensitive marks; the server redacts) and
/// the errors that stopped it, as text.
#[derive(Clone, Debug, Default)]
pub struct PlanNow {
    pub plan: Option<Value>,
    pub errors: Vec<String>,
}

/// What the server needs of the agent's stacks.
pub trait StackControl: Send + Sync + 'static {
    /// The plan run `id` carries, as Terraform's JSON plan (`terraform show -json`) with every
    /// sensitive value replaced; `None` when there is no such run.
    fn run_plan(&self, id: &str) -> Result<Option<Value>, String>;
    /// Plans the agent's stack now, changing nothing.
    fn plan(&self) -> Result<PlanNow, ControlError>;
    /// Starts an apply of the agent's stack in the background (the engine's run lifecycle,
    /// policy gate included), approved.
    fn apply(&self, actor: &Actor) -> Result<Started, ControlError>;
    /// Stops run `id` (a stack run this agent carries out): the first call stops scheduling
    /// (`stopping`: running actions finish), a second kills running actions (`cancelling`).
    fn cancel(&self, id: &str, actor: &Actor) -> Result<Started, ControlError>;
    /// Finishes run `id` in the background; refused (`Conflict`) when it cannot be resumed.
    fn resume(&self, id: &str, actor: &Actor) -> Result<Started, ControlError>;
    /// Undoes run `id` in the background; refused (`Conflict`) when it cannot be.
    fn rollback(&self, id: &str, actor: &Actor) -> Result<Started, ControlError>;
    /// The last drift records: `{"stacks": [{stack, time, outcome, drifted, repaired}]}`.
    fn drift(&self) -> Result<Value, ControlError>;
    /// Checks the stack for drift now (recorded, repairing nothing) and returns what
    /// [`StackControl::drift`] then says.
    fn check_drift(&self, actor: &Actor) -> Result<Value, ControlError>;
    /// The state: `(serial, values)` with `values` Terraform's JSON state values (with
    /// `sensitive_values` marks); `None` while there is no state.
    fn state(&self) -> Result<Option<(u64, Value)>, ControlError>;
    /// `baton status --json`'s services: `{agent_pid, agent_host, services: [...]}`.
    fn services(&self) -> Result<Value, ControlError>;
    /// Asks the agent for a rolling restart of service `name`'s replicas.
    fn restart_service(&self, name: &str, actor: &Actor) -> Result<Value, ControlError>;
    /// The configured policy sets and the last decisions:
    /// `{policies: [{name, enforcement, file}], decisions: [{time, command, decision, messages}]}`.
    fn policies(&self) -> Result<Value, ControlError>;
    /// What `baton policy test` reports, as JSON.
    fn policy_test(&self) -> Result<Value, ControlError>;
    /// The work queue's workers and the agent itself: `{workers: [...], agent: {...}}`.
    fn workers(&self) -> Result<Value, ControlError>;

    /// The stacks the agent serves: `{"stacks": [{name, dir, environment, store, primary}]}`
    /// (`store` described without credentials; `primary`: the agent's own directory, which the
    /// plan, apply and state routes act on).
    fn stacks(&self) -> Result<Value, ControlError>;
}

fn read_doc(schema: &str) -> Value {
    json!({ "responses": guarded(json!({ "200": ok(schema) })) })
}

fn run_action_doc() -> Value {
    json!({
        "parameters": [path_param("id")],
        "responses": guarded(json!({
            "200": ok("StartedRun"),
            "202": ok("StartedRun"),
            "404": { "$ref": "#/components/responses/NotFound" },
            "409": error("The run cannot be acted on now (the reason is the message)"),
        }))
    })
}

/// This area's routes.
pub const ROUTES: &[Route] = &[
    Route {
        method: "GET",
        path: "/api/v1/runs/{id}/plan",
        permission: Some(Permission::Read),
        summary: "A stack run's plan as a diff, sensitive values redacted",
        doc: Some(|| {
            json!({
                "parameters": [path_param("id")],
                "responses": guarded(json!({
                    "200": ok("PlanView"),
                    "404": { "$ref": "#/components/responses/NotFound" },
                }))
            })
        }),
    },
    Route {
        method: "POST",
        path: "/api/v1/runs/{id}/cancel",
        permission: Some(Permission::Run),
        summary: "Stop a run this agent carries out (again: kill its running actions)",
        doc: Some(run_action_doc),
    },
    Route {
        method: "POST",
        path: "/api/v1/runs/{id}/resume",
        permission: Some(Permission::Run),
        summary: "Finish an interrupted or failed run, in the background",
        doc: Some(run_action_doc),
    },
    Route {
        method: "POST",
        path: "/api/v1/runs/{id}/rollback",
        permission: Some(Permission::Run),
        summary: "Undo a run, in the background",
        doc: Some(run_action_doc),
    },
    Route {
        method: "GET",
        path: "/api/v1/stacks",
        permission: Some(Permission::Read),
        summary: "The stacks the agent serves: its directory's and each `--stack DIR`",
        doc: Some(|| read_doc("StackList")),
    },
    Route {
        method: "POST",
        path: "/api/v1/stacks/plan",
        permission: Some(Permission::Run),
        summary: "Plan the agent's stack now (changes nothing)",
        doc: Some(|| read_doc("StackPlan")),
    },
    Route {
        method: "POST",
        path: "/api/v1/stacks/apply",
        permission: Some(Permission::Run),
        summary: "Apply the agent's stack in the background (policy gate included)",
        doc: Some(|| {
            json!({
                "responses": guarded(json!({
                    "200": ok("StartedRun"),
                    "202": ok("StartedRun"),
                    "409": error("The apply cannot start (the reason is the message)"),
                }))
            })
        }),
    },
    Route {
        method: "GET",
        path: "/api/v1/stacks/drift",
        permission: Some(Permission::Read),
        summary: "The last drift check or reconciliation of each stack",
        doc: Some(|| read_doc("Drift")),
    },
    Route {
        method: "POST",
        path: "/api/v1/stacks/drift",
        permission: Some(Permission::Run),
        summary: "Check the stack for drift now (recorded; repairs nothing)",
        doc: Some(|| read_doc("Drift")),
    },
    Route {
        method: "GET",
        path: "/api/v1/drift",
        permission: Some(Permission::Read),
        summary: "The same as GET /api/v1/stacks/drift (the web UI's name)",
        doc: Some(|| read_doc("Drift")),
    },
    Route {
        method: "GET",
        path: "/api/v1/stacks/state",
        permission: Some(Permission::Read),
        summary: "The stack's state objects, sensitive attributes redacted",
        doc: Some(|| read_doc("StateObjects")),
    },
    Route {
        method: "GET",
        path: "/api/v1/stacks/state/versions",
        permission: Some(Permission::Read),
        summary: "The stack's state versions, oldest first",
        doc: Some(|| read_doc("StateVersions")),
    },
    Route {
        method: "GET",
        path: "/api/v1/services",
        permission: Some(Permission::Read),
        summary: "The services the agent supervises (`baton status --json`'s)",
        doc: Some(|| read_doc("Services")),
    },
    Route {
        method: "POST",
        path: "/api/v1/services/{name}/restart",
        permission: Some(Permission::Run),
        summary: "Restart a service's replicas one by one",
        doc: Some(|| {
            json!({
                "parameters": [{ "name": "name", "in": "path", "required": true, "schema": { "type": "string" } }],
                "responses": guarded(json!({
                    "200": ok("Object"),
                    "202": ok("Object"),
                    "404": { "$ref": "#/components/responses/NotFound" },
                    "409": error("The service cannot be restarted now"),
                }))
            })
        }),
    },
    Route {
        method: "GET",
        path: "/api/v1/policies",
        permission: Some(Permission::Read),
        summary: "The policy sets and the last policy decisions",
        doc: Some(|| read_doc("Policies")),
    },
    Route {
        method: "POST",
        path: "/api/v1/policies/test",
        permission: Some(Permission::Run),
        summary: "Run the policies' tests (`baton policy test`)",
        doc: Some(|| {
            json!({ "responses": guarded(json!({
                "200": ok("Object"),
                "409": error("The stack has no policies to test (the reason is the message)"),
            })) })
        }),
    },
    Route {
        method: "GET",
        path: "/api/v1/workers",
        permission: Some(Permission::Read),
        summary: "The work queue's workers and the agent",
        doc: Some(|| read_doc("Object")),
    },
    Route {
        method: "GET",
        path: "/api/v1/audit/export",
        permission: Some(Permission::Read),
        summary: "Every audit record, whole with its hashes (format=json or jsonl)",
        doc: Some(|| {
            json!({
                "parameters": [{ "name": "format", "in": "query", "required": false,
                    "schema": { "type": "string", "enum": ["json", "jsonl"], "default": "json" } }],
                "responses": guarded(json!({
                    "200": {
                        "description": "OK",
                        "content": {
                            "application/json": { "schema": { "$ref": "#/components/schemas/AuditExport" } },
                            "application/jsonl": { "schema": { "type": "string" } }
                        }
                    },
                    "400": { "$ref": "#/components/responses/BadRequest" },
                }))
            })
        }),
    },
];

/// Adds this area's routes to `r` (before authentication is layered on).
pub fn routes(r: Router<App>) -> Router<App> {
    r.route("/api/v1/runs/{id}/plan", get(run_plan))
        .route("/api/v1/runs/{id}/cancel", post(cancel))
        .route("/api/v1/runs/{id}/resume", post(resume))
        .route("/api/v1/runs/{id}/rollback", post(rollback))
        .route("/api/v1/stacks/plan", post(plan))
        .route("/api/v1/stacks/apply", post(apply))
        .route("/api/v1/stacks", get(list_stacks))
        .route("/api/v1/stacks/drift", get(drift).post(check_drift))
        .route("/api/v1/drift", get(drift))
        .route("/api/v1/stacks/state", get(state_objects))
        .route("/api/v1/stacks/state/versions", get(state_versions))
        .route("/api/v1/services", get(services))
        .route("/api/v1/services/{name}/restart", post(restart))
        .route("/api/v1/policies", get(policies))
        .route("/api/v1/policies/test", post(policy_test))
        .route("/api/v1/workers", get(workers))
        .route("/api/v1/audit/export", get(audit_export))
}

/// This area's schemas, for the API document.
pub fn schemas() -> serde_json::Map<String, serde_json::Value> {
    let change = json!({
        "type": "object", "required": ["address", "actions", "reason", "before", "after"],
        "properties": {
            "address": { "type": "string" },
            "actions": { "type": "array", "items": { "type": "string" } },
            "reason": { "type": ["string", "null"] },
            "before": {}, "after": {}
        }
    });
    let v = json!({
        "Object": { "type": "object" },
        "PlanChange": change,
        "PlanView": {
            "type": "object", "required": ["summary", "changes"],
            "properties": {
                "summary": { "type": "string" },
                "changes": { "type": "array", "items": { "$ref": "#/components/schemas/PlanChange" } }
            }
        },
        "StackList": {
            "type": "object", "required": ["stacks"],
            "properties": { "stacks": { "type": "array", "items": {
                "type": "object", "required": ["name", "dir", "environment", "store", "primary"],
                "properties": {
                    "name": { "type": "string" }, "dir": { "type": "string" },
                    "environment": { "type": "string" }, "store": { "type": "string" },
                    "primary": { "type": "boolean" }
                }
            } } }
        },
        "StackPlan": {
            "type": "object", "required": ["summary", "changes", "errors"],
            "properties": {
                "summary": { "type": "string" },
                "changes": { "type": "array", "items": { "$ref": "#/components/schemas/PlanChange" } },
                "errors": { "type": "array", "items": { "type": "string" } }
            }
        },
        "StartedRun": {
            "type": "object", "required": ["run"],
            "properties": { "run": {
                "type": "object", "required": ["id", "kind", "status"],
                "properties": {
                    "id": { "type": "string" }, "kind": { "type": "string" }, "status": { "type": "string" }
                }
            }}
        },
        "Drift": {
            "type": "object", "required": ["stacks"],
            "properties": { "stacks": { "type": "array", "items": {
                "type": "object", "required": ["stack", "time", "outcome", "drifted", "repaired"],
                "properties": {
                    "stack": { "type": "string" },
                    "time": { "type": ["string", "null"] },
                    "outcome": { "type": ["string", "null"] },
                    "drifted": { "type": "array", "items": { "type": "string" } },
                    "repaired": { "type": "array", "items": { "type": "string" } }
                }
            }}}
        },
        "StateObjects": {
            "type": "object", "required": ["serial", "objects"],
            "properties": {
                "serial": { "type": ["integer", "null"] },
                "objects": { "type": "array", "items": {
                    "type": "object", "required": ["address", "mode", "type", "attributes"],
                    "properties": {
                        "address": { "type": "string" }, "mode": { "type": "string" },
                        "type": { "type": "string" }, "attributes": {}
                    }
                }}
            }
        },
        "StateVersions": {
            "type": "object", "required": ["versions"],
            "properties": { "versions": { "type": "array", "items": {
                "type": "object", "required": ["serial", "run_id", "command", "created_at", "status"],
                "properties": {
                    "serial": { "type": "integer" }, "run_id": { "type": ["string", "null"] },
                    "command": { "type": "string" }, "created_at": { "type": "string" },
                    "status": { "type": "string" }, "changes": { "type": "integer" }
                }
            }}}
        },
        "Services": {
            "type": "object", "required": ["services"],
            "properties": {
                "agent_pid": { "type": ["integer", "null"] },
                "agent_host": { "type": ["string", "null"] },
                "services": { "type": "array", "items": { "type": "object" } }
            }
        },
        "Policies": {
            "type": "object", "required": ["policies", "decisions"],
            "properties": {
                "policies": { "type": "array", "items": {
                    "type": "object", "required": ["name", "enforcement", "file"],
                    "properties": {
                        "name": { "type": "string" }, "enforcement": { "type": "string" },
                        "file": { "type": "string" }
                    }
                }},
                "decisions": { "type": "array", "items": {
                    "type": "object", "required": ["time", "command", "decision", "messages"],
                    "properties": {
                        "time": { "type": "string" }, "command": { "type": "string" },
                        "decision": { "type": "string" },
                        "messages": { "type": "array", "items": { "type": "string" } }
                    }
                }}
            }
        },
        "AuditExport": {
            "type": "object", "required": ["records"],
            "properties": { "records": { "type": "array", "items": { "$ref": "#/components/schemas/AuditRecord" } } }
        }
    });
    match v {
        Value::Object(m) => m,
        _ => serde_json::Map::new(),
    }
}

fn actor(caller: &Caller, request: &str) -> Actor {
    Actor {
        name: caller.name.clone(),
        request: request.to_string(),
    }
}

fn started(s: Started) -> Response {
    // A run started (or refused by the policies, which its outcome and audit record say) is
    // accepted; a cancel is done when it answers.
    let status = if s.status == "cancelling" || s.status == "stopping" {
        StatusCode::OK
    } else {
        StatusCode::ACCEPTED
    };
    (
        status,
        Json(json!({ "run": { "id": s.id, "kind": s.kind, "status": s.status } })),
    )
        .into_response()
}

fn control(app: &App) -> Arc<dyn StackControl> {
    Arc::clone(&app.0.stores.stacks)
}

async fn run_plan(State(app): State<App>, Path(id): Path<String>) -> Result<Json<Value>, ApiError> {
    blocking(move || {
        let plan = control(&app)
            .run_plan(&id)
            .map_err(ApiError::internal)?;
        match plan {
            Some(p) => Ok(Json(redact::plan_view(&p))),
            None => {
                let workflow = app
                    .0
                    .stores
                    .workflows
                    .store()
                    .ok()
                    .flatten()
                    .and_then(|s| s.run(&id).ok().flatten())
                    .is_some();
                // A run that never started (denied by the policies, …) left only its audit
                // record.
                let audited = match state(&app)? {
                    Some(store) => store
                        .audit_records()
                        .map_err(ApiError::internal)?
                        .into_iter()
                        .find(|r| r.run_id.as_deref() == Some(id.as_str())),
                    None => None,
                };
                let message = match (workflow, audited) {
                    (true, _) => format!("run {id} is a workflow run: it has no plan of its own (its stack steps' runs have)"),
                    (false, Some(r)) => format!(
                        "run {id} never started ({}; audit record {}): no plan was recorded",
                        r.outcome, r.id
                    ),
                    (false, None) => format!("there is no run {id}"),
                };
                Err(ApiError::new(StatusCode::NOT_FOUND, message))
            }
        }
    })
    .await
}

async fn cancel(
    State(app): State<App>,
    Extension(caller): Extension<Caller>,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    let a = actor(&caller, &format!("POST /api/v1/runs/{id}/cancel"));
    blocking(move || {
        // A workflow run waiting for a person is the workflows area's to cancel.
        if let Some(run) = app.0.stores.workflows.cancel(&caller, &id)? {
            return Ok((StatusCode::OK, Json(json!({ "run": run }))).into_response());
        }
        Ok(started(control(&app).cancel(&id, &a)?))
    })
    .await
}

async fn resume(
    State(app): State<App>,
    Extension(caller): Extension<Caller>,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    let a = actor(&caller, &format!("POST /api/v1/runs/{id}/resume"));
    blocking(move || Ok(started(control(&app).resume(&id, &a)?))).await
}

async fn rollback(
    State(app): State<App>,
    Extension(caller): Extension<Caller>,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    let a = actor(&caller, &format!("POST /api/v1/runs/{id}/rollback"));
    blocking(move || Ok(started(control(&app).rollback(&id, &a)?))).await
}

async fn plan(State(app): State<App>) -> Result<Json<Value>, ApiError> {
    blocking(move || {
        let p = control(&app).plan()?;
        let mut v = match &p.plan {
            Some(plan) => redact::plan_view(plan),
            None => json!({ "summary": "", "changes": [] }),
        };
        v["errors"] = json!(p.errors);
        Ok(Json(v))
    })
    .await
}

async fn apply(
    State(app): State<App>,
    Extension(caller): Extension<Caller>,
) -> Result<Response, ApiError> {
    let a = actor(&caller, "POST /api/v1/stacks/apply");
    blocking(move || Ok(started(control(&app).apply(&a)?))).await
}

async fn list_stacks(State(app): State<App>) -> Result<Json<Value>, ApiError> {
    blocking(move || Ok(Json(control(&app).stacks()?))).await
}

async fn drift(State(app): State<App>) -> Result<Json<Value>, ApiError> {
    blocking(move || Ok(Json(control(&app).drift()?))).await
}

async fn check_drift(
    State(app): State<App>,
    Extension(caller): Extension<Caller>,
) -> Result<Json<Value>, ApiError> {
    let a = actor(&caller, "POST /api/v1/stacks/drift");
    blocking(move || Ok(Json(control(&app).check_drift(&a)?))).await
}

async fn state_objects(State(app): State<App>) -> Result<Json<Value>, ApiError> {
    blocking(move || {
        Ok(Json(match control(&app).state()? {
            Some((serial, values)) => {
                json!({ "serial": serial, "objects": redact::state_objects(&values) })
            }
            None => json!({ "serial": null, "objects": [] }),
        }))
    })
    .await
}

async fn state_versions(State(app): State<App>) -> Result<Json<Value>, ApiError> {
    blocking(move || {
        let Some(store) = state(&app)? else {
            return Ok(Json(json!({ "versions": [] })));
        };
        let history = store.history().map_err(ApiError::internal)?;
        Ok(Json(json!({
            "versions": history.iter().map(|v| json!({
                "serial": v.serial,
                "run_id": if v.run_id.is_empty() { None } else { Some(&v.run_id) },
                "command": v.command,
                "created_at": v.created_at,
                "status": v.status,
                "changes": v.changes,
            })).collect::<Vec<_>>(),
        })))
    })
    .await
}

async fn services(State(app): State<App>) -> Result<Json<Value>, ApiError> {
    blocking(move || Ok(Json(control(&app).services()?))).await
}

async fn restart(
    State(app): State<App>,
    Extension(caller): Extension<Caller>,
    Path(name): Path<String>,
) -> Result<Response, ApiError> {
    let a = actor(&caller, &format!("POST /api/v1/services/{name}/restart"));
    blocking(move || {
        let v = control(&app).restart_service(&name, &a)?;
        Ok((StatusCode::ACCEPTED, Json(v)).into_response())
    })
    .await
}

async fn policies(State(app): State<App>) -> Result<Json<Value>, ApiError> {
    blocking(move || Ok(Json(control(&app).policies()?))).await
}

async fn policy_test(State(app): State<App>) -> Result<Json<Value>, ApiError> {
    blocking(move || Ok(Json(control(&app).policy_test()?))).await
}

async fn workers(State(app): State<App>) -> Result<Json<Value>, ApiError> {
    blocking(move || Ok(Json(control(&app).workers()?))).await
}

#[derive(Debug, Deserialize)]
struct ExportQuery {
    format: Option<String>,
}

async fn audit_export(
    State(app): State<App>,
    q: Result<Query<ExportQuery>, axum::extract::rejection::QueryRejection>,
) -> Result<Response, ApiError> {
    let Query(q) = q.map_err(crate::http::bad_query)?;
    let lines = match q.format.as_deref() {
        None | Some("json") => false,
        Some("jsonl") => true,
        Some(other) => {
            return Err(crate::http::bad_query(format!(
                "format {other:?}: json or jsonl"
            )))
        }
    };
    blocking(move || {
        let records = match state(&app)? {
            Some(store) => store.audit_records().map_err(ApiError::internal)?,
            None => Vec::new(),
        };
        // Whole records, as `baton audit export` writes them: their arguments were redacted
        // when written, and the hashes can be checked.
        let values = records
            .iter()
            .map(serde_json::to_value)
            .collect::<Result<Vec<_>, _>>()
            .map_err(ApiError::internal)?;
        if lines {
            let mut text = String::new();
            for v in &values {
                text.push_str(&v.to_string());
                text.push('\n');
            }
            Ok(([(header::CONTENT_TYPE, "application/jsonl")], text).into_response())
        } else {
            Ok(Json(json!({ "records": values })).into_response())
        }
    })
    .await
}
