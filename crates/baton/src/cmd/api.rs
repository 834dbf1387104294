//! What the HTTP API asks of the agent beyond reading stores: the binary's side of
//! `baton_server::stacks::StackControl` (the workflows' side is `api_workflows.rs`), built
//! on the same engine calls as the CLI's commands.
//!
//! Must not print, and must not hand the server a sensitive value it did not mark: the server
//! redacts what the plan marks sensitive, so plans go over whole, with their marks.

use baton_backend::Location;
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

/// What drawing runs and scraping metrics need of the engines: a workflow run's step
/// dependencies; the queue, the workers and the services.
pub struct Views {
    /// Where the work queue is (the directory's default environment's location).
    pub queue: Location,
    /// The stack's service board.
    pub board: Option<Arc<dyn baton_core::board::ServiceBoard>>,
}

/// A worker is stale after this long without a heartbeat (as `baton workers` says).
const WORKER_LIVENESS: std::time::Duration = std::time::Duration::from_secs(30);

impl baton_server::runs::RunViews for Views {
    fn workflow_edges(&self, run: &baton_state::WfRun) -> Vec<(String, String)> {
        baton_workflow::exec::recorded_edges(run).unwrap_or_default()
    }

    fn agent_metrics(&self) -> baton_server::metrics::AgentObserved {
        let mut o = baton_server::metrics::AgentObserved::default();
        let queue_exists = self.queue.sqlite_queue_path().is_none_or(|p| p.exists());
        if let Some(q) = queue_exists.then(|| self.queue.open_queue().ok()).flatten() {
            if let Ok(c) = q.counts() {
                let n = |v: u64| i64::try_from(v).unwrap_or(i64::MAX);
                o.queue = vec![
                    ("queued".into(), n(c.queued)),
                    ("running".into(), n(c.running)),
                ];
                o.lease_expiries = n(c.reclaims);
            }
            if let Ok(ws) = q.workers(WORKER_LIVENESS) {
                let stale = ws.iter().filter(|w| w.stale).count();
                let n = |v: usize| i64::try_from(v).unwrap_or(i64::MAX);
                o.workers = vec![
                    ("live".into(), n(ws.len() - stale)),
                    ("stale".into(), n(stale)),
                ];
            }
        }
        if let Some(report) = self
            .board
            .clone()
            .map(baton_service::handoff::Handoff::new)
            .and_then(|b| b.read_report().ok().flatten())
        {
            for s in &report.report.services {
                let healthy = s.healthy_count();
                let n = |v: usize| i64::try_from(v).unwrap_or(i64::MAX);
                o.replicas
                    .push((s.name.clone(), "healthy".into(), n(healthy)));
                o.replicas.push((
                    s.name.clone(),
                    "unhealthy".into(),
                    n(s.replicas.len() - healthy),
                ));
                let restarts: u32 = s.slots.values().map(|x| x.restarts).sum();
                o.restarts.push((s.name.clone(), i64::from(restarts)));
            }
        }
        o
    }
}
