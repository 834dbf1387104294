//! The PostgreSQL state store: [`baton_state::StateStore`] over one schema of a database.
//!
//! Placeholder until the store lands: opening one is an error.

use crate::location::PgTarget;
use baton_state::{StateError, StateStore};

/// Opens the state store in `target`'s schema, creating or migrating its tables.
pub fn open(target: &PgTarget) -> Result<Box<dyn StateStore>, StateError> {
    Err(StateError::Corrupt {
        path: target.describe(),
        message: "the PostgreSQL state store is not built yet".to_string(),
    })
}
