//! The OpenAPI 3.1 document served at `/api/v1/openapi.json`, built in this one module as a
//! JSON value: every route of [`crate::api::routes`] (a route's own `doc`, else the core
//! routes' below) with its parameters, responses and
//! schemas, and the bearer-token security scheme.
//!
//! Must not describe a route the router does not serve, nor leave one out (a test walks the
//! route table); must not reveal anything about the deployment (no server URL, no names).

use crate::apidoc::{error_response, guarded, json_ok};
use crate::http::{self as api, Route};
use serde_json::{json, Value};

/// The API's version, as the document states it.
pub const API_VERSION: &str = "1.0.0";

/// The document of the routes `routes` (the server's whole table).
pub fn document<'a>(routes: impl Iterator<Item = &'a Route>) -> Value {
    let mut paths = serde_json::Map::new();
    for r in routes {
        let mut op = r.doc.map_or_else(|| operation(r.path), |f| f());
        op["summary"] = json!(r.summary);
        op["operationId"] = json!(operation_id(r.method, r.path));
        match r.permission {
            None => op["security"] = json!([]),
            Some(p) => op["x-baton-permission"] = json!(p.as_str()),
        }
        let entry = paths.entry(r.path.to_string()).or_insert_with(|| json!({}));
        entry[r.method.to_ascii_lowercase()] = op;
    }
    json!({
        "openapi": "3.1.0",
        "info": {
            "title": "Baton agent API",
            "version": API_VERSION,
            "description": "The runs and audit log of the stack the agent serves. Every call \
                needs `Authorization: Bearer TOKEN` (`baton token create`); what a token may do \
                depends on its role (viewer, operator, approver, admin)."
        },
        "security": [{ "bearer": [] }],
        "paths": Value::Object(paths),
        "components": {
            "securitySchemes": {
                "bearer": { "type": "http", "scheme": "bearer" }
            },
            "responses": {
                "Unauthorized": error_response("No token, or one that is not valid"),
                "Forbidden": error_response("The token's role may not do this"),
                "TooManyRequests": error_response("Too many failed logins from this address"),
                "BadRequest": error_response("A query parameter is not valid"),
                "NotFound": error_response("No such object"),
            },
            "schemas": all_schemas(),
        }
    })
}

/// The core schemas and every area's.
fn all_schemas() -> Value {
    let mut all = match schemas() {
        Value::Object(m) => m,
        _ => serde_json::Map::new(),
    };
    all.extend(crate::workflows::schemas());
    all.extend(crate::stacks::schemas());
    Value::Object(all)
}

/// The operation's id: the method and the path's words (`get_runs_id`).
pub(crate) fn operation_id(method: &str, path: &str) -> String {
    let mut id = method.to_ascii_lowercase();
    for part in path
        .split('/')
        .filter(|p| !p.is_empty() && *p != "api" && *p != "v1")
    {
        id.push('_');
        id.extend(
            part.chars()
                .map(|c| if c.is_ascii_alphanumeric() { c } else { '_' })
                .filter(|c| *c != '_' || !part.starts_with('{')),
        );
    }
    if path == "/" {
        id.push_str("_index");
    }
    id
}

fn query(name: &str, description: &str, schema: Value) -> Value {
    json!({ "name": name, "in": "query", "required": false, "description": description, "schema": schema })
}

fn limit_param() -> Value {
    query(
        "limit",
        "How many to return",
        json!({ "type": "integer", "minimum": 1, "maximum": api::MAX_LIMIT, "default": api::DEFAULT_LIMIT }),
    )
}

/// The operation (parameters and responses) of the route at `path`.
fn operation(path: &str) -> Value {
    match path {
        "/api/v1/openapi.json" => json!({
            "responses": guarded(json!({ "200": {
                "description": "OK",
                "content": { "application/json": { "schema": { "type": "object" } } }
            }}))
        }),
        "/api/v1/whoami" => json!({ "responses": guarded(json!({ "200": json_ok("Whoami") })) }),
        "/api/v1/runs" => json!({
            "parameters": [
                query("status", "Only runs with this status", json!({ "type": "string", "enum": api::RUN_STATUSES })),
                query("kind", "Only runs of this kind", json!({ "type": "string", "enum": api::RUN_KINDS })),
                limit_param(),
                query("cursor", "The `next_cursor` of the previous page: runs older than this id", json!({ "type": "string" })),
            ],
            "responses": guarded(json!({
                "200": json_ok("RunPage"),
                "400": { "$ref": "#/components/responses/BadRequest" },
            }))
        }),
        "/api/v1/runs/{id}" => json!({
            "parameters": [{ "name": "id", "in": "path", "required": true, "schema": { "type": "string" } }],
            "responses": guarded(json!({
                "200": json_ok("RunDetail"),
                "404": { "$ref": "#/components/responses/NotFound" },
            }))
        }),
        "/api/v1/audit" => json!({
            "parameters": [
                limit_param(),
                query("after", "The `next_after` of the previous page: records after this id", json!({ "type": "integer", "minimum": 0, "maximum": i64::MAX })),
            ],
            "responses": guarded(json!({
                "200": json_ok("AuditPage"),
                "400": { "$ref": "#/components/responses/BadRequest" },
            }))
        }),
        "/api/v1/audit/verify" => {
            json!({ "responses": guarded(json!({ "200": json_ok("VerifyReport") })) })
        }
        "/api/v1/tokens" => json!({ "responses": guarded(json!({ "200": json_ok("TokenList") })) }),
        "/metrics" => json!({
            "responses": guarded(json!({ "200": {
                "description": "OK",
                "content": { "application/openmetrics-text": { "schema": { "type": "string" } } }
            }}))
        }),
        // A route without a description here still appears, with an empty object response;
        // the test of this module refuses that.
        _ => json!({ "responses": { "200": { "description": "OK" } } }),
    }
}

fn schemas() -> Value {
    let nullable_string = json!({ "type": ["string", "null"] });
    json!({
        "Error": {
            "type": "object", "required": ["error"],
            "properties": { "error": { "type": "string" } }
        },
        "Whoami": {
            "type": "object", "required": ["name", "role", "permissions"],
            "properties": {
                "name": { "type": "string" },
                "role": { "type": "string", "enum": ["viewer", "operator", "approver", "admin"] },
                "permissions": { "type": "array", "items": { "type": "string", "enum": ["read", "run", "approve", "admin"] } }
            }
        },
        "TokenList": {
            "type": "object", "required": ["tokens"],
            "properties": {
                "tokens": {
                    "type": "array",
                    "items": {
                        "type": "object", "required": ["name", "role", "created_at"],
                        "properties": {
                            "name": { "type": "string" },
                            "role": { "type": "string", "enum": ["viewer", "operator", "approver", "admin"] },
                            "created_at": { "type": "string" }
                        }
                    }
                }
            }
        },
        "Run": {
            "type": "object",
            "required": ["id", "kind", "name", "status", "who", "host", "pid", "started_at", "finished_at", "serial", "summary", "parent", "on_failure"],
            "properties": {
                "id": { "type": "string" },
                "kind": { "type": "string", "enum": api::RUN_KINDS },
                "name": { "type": ["string", "null"], "description": "A workflow run's workflow" },
                "status": { "type": "string", "enum": api::RUN_STATUSES },
                "who": { "type": "string" },
                "host": { "type": "string" },
                "pid": { "type": "integer", "minimum": 0 },
                "started_at": { "type": "string" },
                "finished_at": nullable_string,
                "serial": { "type": "integer", "minimum": 0 },
                "summary": { "type": "string" },
                "parent": nullable_string,
                "on_failure": { "type": "string" }
            }
        },
        "Action": {
            "type": "object",
            "required": ["seq", "phase", "action", "address", "deposed", "status", "attempts", "started_at", "duration_ms", "error"],
            "properties": {
                "seq": { "type": "integer", "minimum": 0 },
                "phase": { "type": "string" },
                "action": { "type": "string" },
                "address": { "type": "string" },
                "deposed": nullable_string,
                "status": { "type": "string" },
                "attempts": { "type": "integer", "minimum": 0 },
                "started_at": { "type": "string" },
                "duration_ms": { "type": ["integer", "null"], "minimum": 0 },
                "error": nullable_string
            }
        },
        "RunDetail": {
            "allOf": [
                { "$ref": "#/components/schemas/Run" },
                {
                    "type": "object", "required": ["actions", "graph"],
                    "properties": {
                        "actions": { "type": "array", "items": { "$ref": "#/components/schemas/Action" } },
                        "graph": { "$ref": "#/components/schemas/RunGraph" }
                    }
                }
            ]
        },
        "RunGraph": {
            "type": "object", "required": ["nodes", "edges"],
            "properties": {
                "nodes": { "type": "array", "items": {
                    "type": "object", "required": ["id", "label", "kind", "status", "attempts", "started_at", "duration_ms", "error", "message"],
                    "properties": {
                        "id": { "type": "string" },
                        "label": { "type": "string" },
                        "kind": { "type": ["string", "null"] },
                        "status": { "type": "string" },
                        "attempts": { "type": ["integer", "null"], "minimum": 0 },
                        "started_at": { "type": ["string", "null"] },
                        "duration_ms": { "type": ["integer", "null"], "minimum": 0 },
                        "error": { "type": ["string", "null"] },
                        "message": { "type": ["string", "null"] }
                    }
                } },
                "edges": { "type": "array", "items": {
                    "type": "object", "required": ["from", "to"],
                    "properties": { "from": { "type": "string" }, "to": { "type": "string" } }
                } }
            }
        },
        "RunPage": {
            "type": "object", "required": ["runs", "next_cursor"],
            "properties": {
                "runs": { "type": "array", "items": { "$ref": "#/components/schemas/Run" } },
                "next_cursor": nullable_string
            }
        },
        "AuditRecord": {
            "type": "object",
            "required": ["id", "time", "actor", "command", "args", "environment", "run_id", "plan_digest", "policy", "outcome", "changes", "prev_hash", "hash"],
            "properties": {
                "id": { "type": "integer", "minimum": 1 },
                "time": { "type": "string" },
                "actor": { "type": "string" },
                "command": { "type": "string" },
                "args": { "type": "array", "items": { "type": "string" } },
                "environment": { "type": "string" },
                "run_id": nullable_string,
                "plan_digest": nullable_string,
                "policy": {},
                "outcome": { "type": "string" },
                "changes": {
                    "type": "array",
                    "items": {
                        "type": "object", "required": ["address", "actions"],
                        "properties": {
                            "address": { "type": "string" },
                            "actions": { "type": "array", "items": { "type": "string" } }
                        }
                    }
                },
                "prev_hash": { "type": "string" },
                "hash": { "type": "string" }
            }
        },
        "AuditPage": {
            "type": "object", "required": ["records", "next_after"],
            "properties": {
                "records": { "type": "array", "items": { "$ref": "#/components/schemas/AuditRecord" } },
                "next_after": { "type": ["integer", "null"] }
            }
        },
        "VerifyReport": {
            "type": "object", "required": ["ok", "checked", "first_bad"],
            "properties": {
                "ok": { "type": "boolean" },
                "checked": { "type": "integer", "minimum": 0 },
                "first_bad": {
                    "oneOf": [
                        { "type": "null" },
                        {
                            "type": "object", "required": ["id", "problem"],
                            "properties": { "id": { "type": "integer" }, "problem": { "type": "string" } }
                        }
                    ]
                }
            }
        }
    })
}
