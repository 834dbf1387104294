//! The workflows area of the API: what the agent's workflows are and their runs (the store
//! the run views read), and — through [`WorkflowControl`], which the binary implements with
//! the workflow engine — starting runs and deciding approvals.
//!
//! Must not run anything itself: every action goes through [`WorkflowControl`].

use crate::api::{App, Route};
use axum::Router;
use baton_state::{StateError, WorkflowStore};
use std::sync::Arc;

/// What the server needs of the agent's workflows.
pub trait WorkflowControl: Send + Sync + 'static {
    /// The workflow run store, `None` while there is none yet (it is never created for a
    /// read).
    fn store(&self) -> Result<Option<Arc<dyn WorkflowStore>>, StateError>;
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
