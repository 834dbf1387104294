//! What the HTTP API asks of the agent beyond reading stores: the binary's side of
//! `baton_server::workflows::WorkflowControl`, built on the same engine calls as the CLI's
//! commands (the stacks' side is `api_stacks.rs`).
//!
//! Must not print.

use baton_backend::Location;
use baton_server::workflows::WorkflowControl;
use baton_state::{StateError, WorkflowStore};
use std::sync::{Arc, Mutex};

/// The directory's workflow run store, opened once it exists.
pub struct Workflows {
    location: Location,
    opened: Mutex<Option<Arc<dyn WorkflowStore>>>,
}

impl Workflows {
    pub fn new(location: Location) -> Workflows {
        Workflows {
            location,
            opened: Mutex::new(None),
        }
    }
}

impl WorkflowControl for Workflows {
    fn store(&self) -> Result<Option<Arc<dyn WorkflowStore>>, StateError> {
        let mut opened = self.opened.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(s) = &*opened {
            return Ok(Some(Arc::clone(s)));
        }
        if let Some(p) = self.location.sqlite_workflows_path() {
            if !p.exists() {
                return Ok(None);
            }
        }
        let store: Arc<dyn WorkflowStore> = Arc::from(self.location.open_workflows()?);
        *opened = Some(Arc::clone(&store));
        Ok(Some(store))
    }
}
