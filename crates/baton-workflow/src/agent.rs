//! The agent's decisions (`baton serve`): which `schedule` slots are due and fired by this
//! agent — each slot exactly once, across restarts and across agents sharing a store — how
//! many slots were missed while no agent ran, and which waiting runs have something to do
//! (an approval decided, or timed out).
//!
//! Must not sleep or read the clock: the caller passes `now`, so the logic is tested with any
//! instant. Must not run anything itself: the caller starts or advances the runs.

use crate::cron::{zone, Cron};
use crate::exec::{InputValue, Runner, WfError};
use crate::model::{StepKind, Workflows};
use baton_state::{WfRunStatus, WfStepStatus, WorkflowStore};
use jiff::Timestamp;

/// A schedule slot this agent fired: start a run of `workflow` with `inputs`.
#[derive(Clone, Debug)]
pub struct Fired {
    pub workflow: String,
    pub schedule: String,
    /// The slot's instant (RFC 3339 UTC).
    pub slot: String,
    /// Slots that passed since the schedule last fired without any agent running, not fired
    /// (only the latest is).
    pub missed: u64,
    pub inputs: Vec<(String, InputValue)>,
}

/// A schedule whose inputs could not be evaluated, or whose zone is unknown here.
#[derive(Clone, Debug)]
pub struct ScheduleError {
    pub workflow: String,
    pub schedule: String,
    pub message: String,
}

/// How far back a schedule never fired looks: an agent starting does not fire slots from
/// before it started.
pub struct Agent<'a> {
    pub store: &'a dyn WorkflowStore,
    /// When this agent started: the baseline of schedules that never fired.
    pub started: Timestamp,
}

/// Records the delivery `delivery` of webhook `trigger` of `workflow` as seen: true the first
/// time, false for a delivery seen before (a replay), across restarts and agents sharing the
/// store. Kept with the schedules' firings (a name no schedule can have: schedule names are
/// identifiers), with a fixed slot, so a second record of the same delivery never wins.
pub fn record_delivery(
    store: &dyn WorkflowStore,
    workflow: &str,
    trigger: &str,
    delivery: &str,
) -> Result<bool, WfError> {
    let key = format!("webhook {trigger} delivery {delivery}");
    Ok(store.schedule_fire(workflow, &key, "delivered")?)
}

/// At most this many missed slots are counted.
const MAX_COUNTED: u64 = 10_000;

impl Agent<'_> {
    /// The slots due at `now`, each recorded as fired in the store first (so another agent, or
    /// this one after a restart, never fires it again).
    pub fn fire_due(
        &self,
        wfs: &Workflows,
        now: Timestamp,
    ) -> Result<(Vec<Fired>, Vec<ScheduleError>), WfError> {
        let mut fired = Vec::new();
        let mut errors = Vec::new();
        for w in &wfs.workflows {
            for s in &w.schedules {
                let err = |message: String| ScheduleError {
                    workflow: w.name.clone(),
                    schedule: s.name.clone(),
                    message,
                };
                let cron = match Cron::parse(&s.cron) {
                    Ok(c) => c,
                    Err(e) => {
                        errors.push(err(e.to_string()));
                        continue;
                    }
                };
                let tz = match zone(s.timezone.as_deref().unwrap_or("UTC")) {
                    Ok(z) => z,
                    Err(e) => {
                        errors.push(err(e.to_string()));
                        continue;
                    }
                };
                let last = self
                    .store
                    .schedule_last(&w.name, &s.name)?
                    .and_then(|t| t.parse::<Timestamp>().ok())
                    .unwrap_or(self.started);
                // Every slot after the last firing up to now; the latest fires.
                let mut latest = None;
                let mut count: u64 = 0;
                let mut t = last;
                while let Some(next) = cron.next_after(t, &tz) {
                    if next > now || count >= MAX_COUNTED {
                        break;
                    }
                    latest = Some(next);
                    count += 1;
                    t = next;
                }
                let Some(slot) = latest else { continue };
                let slot_text = slot.strftime("%Y-%m-%dT%H:%M:%SZ").to_string();
                if !self.store.schedule_fire(&w.name, &s.name, &slot_text)? {
                    continue;
                }
                let inputs = match &s.inputs {
                    None => Vec::new(),
                    Some(e) => match baton_engine::vars::eval_const(e, &w.dir) {
                        Ok(v) => match v.as_entries() {
                            Some(entries) => entries
                                .iter()
                                .map(|(k, v)| (k.to_string(), InputValue::Value(v.clone())))
                                .collect(),
                            None => {
                                errors.push(err("inputs must be an object".into()));
                                continue;
                            }
                        },
                        Err(d) => {
                            errors.push(err(format!("inputs: {}", d.detail)));
                            continue;
                        }
                    },
                };
                fired.push(Fired {
                    workflow: w.name.clone(),
                    schedule: s.name.clone(),
                    slot: slot_text,
                    missed: count.saturating_sub(1),
                    inputs,
                });
            }
        }
        Ok((fired, errors))
    }

    /// Waiting runs that can go on: an approval was decided (by someone whose `approve`
    /// could not continue the run), or an approval's timeout passed at `now`.
    pub fn due_runs(&self, runner: &Runner<'_>, now: Timestamp) -> Result<Vec<String>, WfError> {
        let mut out = Vec::new();
        for run in self.store.runs()? {
            if run.status != WfRunStatus::Waiting {
                continue;
            }
            let steps = self.store.steps(&run.id)?;
            // A retry whose backoff has ended.
            let retry_due = steps.iter().any(|s| {
                s.status == WfStepStatus::Waiting
                    && s.next_attempt_at
                        .as_deref()
                        .and_then(|t| t.parse::<Timestamp>().ok())
                        .is_some_and(|t| t <= now)
            });
            if retry_due {
                out.push(run.id.clone());
                continue;
            }
            let waiting: Vec<_> = steps
                .iter()
                .filter(|s| s.status == WfStepStatus::Waiting && s.kind == "approval")
                .collect();
            if waiting.iter().any(|s| s.approval.is_some()) {
                out.push(run.id.clone());
                continue;
            }
            let Ok(wfs) = runner.recorded_workflows(&run) else {
                continue;
            };
            let Some(wf) = wfs.get(&run.workflow) else {
                continue;
            };
            let timed_out = waiting.iter().any(|s| {
                let Some(step) = wf.step(&s.step) else {
                    return false;
                };
                let StepKind::Approval {
                    timeout: Some(t), ..
                } = &step.kind
                else {
                    return false;
                };
                let Some(started) = s
                    .started_at
                    .as_deref()
                    .and_then(|t| t.parse::<Timestamp>().ok())
                else {
                    return false;
                };
                std::time::Duration::try_from(now.duration_since(started))
                    .is_ok_and(|waited| waited >= *t)
            });
            if timed_out {
                out.push(run.id.clone());
            }
        }
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use baton_state::SqliteWorkflowStore;

    #[test]
    fn a_webhook_delivery_is_recorded_once() {
        let dir = tempfile::tempdir().expect("tempdir");
        let store = SqliteWorkflowStore::open(&dir.path().join("w.db")).expect("store");
        assert!(record_delivery(&store, "w", "gh", "d-1").expect("first"));
        assert!(!record_delivery(&store, "w", "gh", "d-1").expect("replay"));
        assert!(record_delivery(&store, "w", "gh", "d-2").expect("another"));
        assert!(record_delivery(&store, "w", "other", "d-1").expect("another trigger"));
    }

    fn workflows(dir: &std::path::Path, cron: &str) -> Workflows {
        let text = format!(
            "workflow \"w\" {{\n  input \"env\" {{\n    type = string\n  }}\n  step \"s\" {{\n    command = \"true\"\n  }}\n  schedule \"tick\" {{\n    cron   = \"{cron}\"\n    inputs = {{ env = \"nightly\" }}\n  }}\n}}\n"
        );
        let (w, d) = crate::load_texts(
            dir,
            &[("w.baton.hcl".to_string(), text)],
            &baton_core::Sources::new(),
        );
        assert!(!d.has_errors(), "{d:?}");
        w
    }

    fn at(s: &str) -> Timestamp {
        s.parse().expect("instant")
    }

    #[test]
    fn each_slot_fires_once_and_missed_ones_are_counted() {
        let dir = tempfile::tempdir().expect("dir");
        let store = SqliteWorkflowStore::open(&dir.path().join("w.db")).expect("store");
        let wfs = workflows(dir.path(), "0 3 * * *");
        let agent = Agent {
            store: &store,
            started: at("2026-12-01T12:00:00Z"),
        };
        // Before the first slot after the agent started: nothing.
        let (f, e) = agent
            .fire_due(&wfs, at("2026-12-02T02:59:59Z"))
            .expect("tick");
        assert!(f.is_empty() && e.is_empty());
        // The slot: fired once, with the schedule's inputs.
        let (f, _) = agent
            .fire_due(&wfs, at("2026-12-02T03:00:00Z"))
            .expect("tick");
        assert_eq!(f.len(), 1);
        assert_eq!(f[0].slot, "2026-12-02T03:00:00Z");
        assert_eq!(f[0].missed, 0);
        assert!(
            matches!(&f[0].inputs[..], [(k, InputValue::Value(v))] if k == "env" && v.as_str() == Some("nightly"))
        );
        // The same instant again, or a second agent on the same store: not again.
        let (f, _) = agent
            .fire_due(&wfs, at("2026-12-02T03:00:05Z"))
            .expect("tick");
        assert!(f.is_empty());
        let restarted = Agent {
            store: &store,
            started: at("2026-12-02T03:00:06Z"),
        };
        let (f, _) = restarted
            .fire_due(&wfs, at("2026-12-02T03:00:07Z"))
            .expect("tick");
        assert!(f.is_empty(), "a restart does not fire a slot twice");
        // Three days without an agent: the latest slot fires, two are reported missed.
        let (f, _) = restarted
            .fire_due(&wfs, at("2026-12-05T04:00:00Z"))
            .expect("tick");
        assert_eq!(f.len(), 1);
        assert_eq!(f[0].slot, "2026-12-05T03:00:00Z");
        assert_eq!(f[0].missed, 2);
    }
}
