//! What the HTTP API asks of the agent for drawing runs and for `/metrics`: the binary's side
//! of `baton_server::runs::RunViews` (the workflows' side of the API is `api_workflows.rs`,
//! the stacks' `api_stacks.rs`), built on the same engine calls as the CLI's commands.
//!
//! Must not print.

use baton_backend::Location;
use std::sync::Arc;

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
