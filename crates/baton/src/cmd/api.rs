//! What the HTTP API asks of the agent beyond reading stores: the binary's side of
//! `baton_server::stacks::StackControl` (the workflows' side is `api_workflows.rs`), built
//! on the same engine calls as the CLI's commands.
//!
//! Must not print, and must not hand the server a sensitive value it did not mark: the server
//! redacts what the plan marks sensitive, so plans go over whole, with their marks.

use baton_server::stacks::StackControl;
use baton_state::StateStore;
use serde_json::Value;
use std::sync::Arc;

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
