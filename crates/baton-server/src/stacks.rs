//! The stacks area of the API: plans, applies, drift, state objects and versions, services,
//! policies, workers — through [`StackControl`], which the binary implements with the engine.
//!
//! Must not run anything itself: every action goes through [`StackControl`].

use crate::api::{App, Route};
use axum::Router;
use serde_json::Value;

/// What the server needs of the agent's stacks.
pub trait StackControl: Send + Sync + 'static {
    /// The plan run `id` carries, as Terraform's JSON plan (`terraform show -json`) with every
    /// sensitive value replaced; `None` when there is no such run.
    fn run_plan(&self, id: &str) -> Result<Option<Value>, String>;
}

/// This area's routes.
pub const ROUTES: &[Route] = &[];

/// Adds this area's routes to `r` (before authentication is layered on).
pub fn routes(r: Router<App>) -> Router<App> {
    r
}

/// This area's schemas, for the API document.
pub fn schemas() -> serde_json::Map<String, serde_json::Value> {
    serde_json::Map::new()
}
