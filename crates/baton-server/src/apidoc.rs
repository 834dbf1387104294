//! The pieces every route's OpenAPI operation is made of: a JSON response of a component
//! schema, an error response, the refusals of a guarded route, a path parameter. Shared by the
//! core document (`openapi.rs`) and the areas' own operations.
//!
//! Must not know any route: it builds fragments, the routes choose them.

use serde_json::{json, Value};

/// A response of `{"error": …}` described by `description` (the areas' documents use it too).
pub(crate) fn error_response(description: &str) -> Value {
    json!({
        "description": description,
        "content": { "application/json": { "schema": { "$ref": "#/components/schemas/Error" } } }
    })
}

/// A 200 response whose body is the component schema `schema`.
pub(crate) fn json_ok(schema: &str) -> Value {
    json!({
        "description": "OK",
        "content": { "application/json": { "schema": { "$ref": format!("#/components/schemas/{schema}") } } }
    })
}

/// `responses` with the refusals every guarded route may answer (401, 403, 429).
pub(crate) fn guarded(mut responses: Value) -> Value {
    responses["401"] = json!({ "$ref": "#/components/responses/Unauthorized" });
    responses["403"] = json!({ "$ref": "#/components/responses/Forbidden" });
    responses["429"] = json!({ "$ref": "#/components/responses/TooManyRequests" });
    responses
}

/// A required path parameter `name` (a string).
pub(crate) fn path_param(name: &str) -> Value {
    json!({ "name": name, "in": "path", "required": true, "schema": { "type": "string" } })
}
