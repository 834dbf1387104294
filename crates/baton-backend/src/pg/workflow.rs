//! The PostgreSQL workflow run store: [`baton_state::WorkflowStore`] over one schema of a
//! database (its tables are prefixed `wf_`, beside the state store's).
//!
//! Placeholder until the store lands: opening one is an error.

use crate::location::PgTarget;
use baton_state::{StateError, WorkflowStore};

/// Opens the workflow run store in `target`'s schema, creating or migrating its tables.
pub fn open(target: &PgTarget) -> Result<Box<dyn WorkflowStore>, StateError> {
    Err(StateError::Corrupt {
        path: target.describe(),
        message: "the PostgreSQL workflow store is not built yet".to_string(),
    })
}
