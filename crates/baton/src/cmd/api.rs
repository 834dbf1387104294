//! What the HTTP API asks of the agent beyond reading stores: the binary's side of
//! `baton_server::workflows::WorkflowControl` and `baton_server::stacks::StackControl`, built
//! on the same engine calls as the CLI's commands.
//!
//! Must not print, and must not hand the server a sensitive value it did not mark: the server
//! redacts what the plan marks sensitive, so plans go over whole, with their marks.

use baton_backend::Location;
use baton_server::stacks::StackControl;
use baton_server::workflows::WorkflowControl;
use baton_state::{StateError, StateStore, WorkflowStore};
use serde_json::Value;
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

/// The directory's stack, for the API.
pub struct Stacks {
    state: Arc<dyn baton_server::StateSource>,
}

impl Stacks {
    pub fn new(state: Arc<dyn baton_server::StateSource>) -> Stacks {
        Stacks { state }
    }

    fn store(&self) -> Result<Option<Arc<dyn StateStore>>, String> {
        self.state.state().map_err(|e| e.to_string())
    }
}

impl StackControl for Stacks {
    fn run_plan(&self, id: &str) -> Result<Option<Value>, String> {
        let Some(store) = self.store()? else {
            return Ok(None);
        };
        let Some(run) = store.run(id).map_err(|e| e.to_string())? else {
            return Ok(None);
        };
        let doc = run
            .plan
            .parse()
            .map_err(|e| format!("run {id}'s plan: {e}"))?;
        if doc.is_null() {
            return Ok(None);
        }
        let plan = baton_engine::planfile::from_json(&doc)?;
        Ok(Some(baton_engine::planjson::plan_json(
            None,
            &plan,
            &baton_state::Snapshot::default(),
            baton_engine::planjson::JsonOpts::default(),
        )))
    }
}

/// The step dependencies of a workflow run's recorded definition, for its graph.
pub struct Views;

impl baton_server::runs::RunViews for Views {
    fn workflow_edges(&self, run: &baton_state::WfRun) -> Vec<(String, String)> {
        baton_workflow::exec::recorded_edges(run).unwrap_or_default()
    }
}
