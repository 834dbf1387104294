//! Resource actions on workers: what a resource task carries through the queue (the provider
//! call with its inputs in the typed JSON encoding, which keeps unknowns and sensitive marks;
//! the provider's settings; the run's directory and id), how a worker performs one
//! ([`run_resource_task`]: the same perform step as in-process, with the worker's providers),
//! and how the walk hands an action to the queue and waits for it.
//!
//! Must not touch the state store, the journal or the evaluation state: the walk records the
//! outcome as it does for an action performed in-process. Provisioners and probes after a
//! crash stay in the coordinating process.

use super::opts::{RetryPolicy, Workers};
use super::perform::{perform, perform_call, probe_call, Performed, Worker};
use super::prepare::{Call, Prepared};
use super::walk::Runner;
use crate::providers::ProviderConfigs;
use baton_core::InstanceAddr;
use baton_eval::Value;
use baton_provider::{ErrorKind, ProviderCtx, ProviderError, Registry};
use baton_state::queue::{NewTask, TaskOutcome};
use serde::{Deserialize, Serialize};
use serde_json::Value as Json;
use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

/// The queue task kind of a resource action.
pub const RESOURCE_TASK: &str = "resource";

/// How many times a resource task is claimed before the action fails.
const MAX_CLAIMS: u32 = 5;

#[derive(Serialize, Deserialize)]
struct ResourceTask {
    addr: String,
    call: TaskCall,
    timeout_ms: Option<u64>,
    retry: (u32, u64, u64),
    /// The provider's settings (typed JSON), by provider name.
    provider: Option<(String, Json)>,
    cwd: PathBuf,
    run_id: String,
}

#[derive(Serialize, Deserialize)]
#[serde(tag = "call", rename_all = "snake_case")]
enum TaskCall {
    Apply {
        prior: Option<Json>,
        planned: Json,
        config: Json,
    },
    Delete {
        prior: Json,
    },
    Read {
        config: Json,
    },
}

#[derive(Serialize, Deserialize, Default)]
struct ResourceResult {
    object: Option<Json>,
    error: Option<TaskError>,
    attempts: u32,
}

#[derive(Serialize, Deserialize)]
struct TaskError {
    retryable: bool,
    summary: String,
    detail: String,
    attr: Option<String>,
}

fn decode(j: &Json) -> Result<Value, String> {
    Value::from_typed_json(j)
}

/// Performs a resource task with `providers` and returns the result as JSON. A task that
/// cannot be read fails with a permanent error saying so. A task claimed before (`claims` >
/// 1: its earlier worker stopped mid-call) first asks the provider whether that attempt took
/// effect — the object a create made, a delete's object gone — and acts only if not.
pub fn run_resource_task(payload: &str, providers: Arc<Registry>, claims: u32) -> String {
    let result = match perform_task(payload, providers, claims > 1) {
        Ok(p) => ResourceResult {
            attempts: p.attempts,
            object: match &p.result {
                Ok(Some(v)) => Some(v.to_typed_json()),
                _ => None,
            },
            error: p.result.err().map(|e| TaskError {
                retryable: e.kind == ErrorKind::Retryable,
                summary: e.summary,
                detail: e.detail,
                attr: e.attr,
            }),
        },
        Err(e) => ResourceResult {
            error: Some(TaskError {
                retryable: false,
                summary: "Unreadable task".to_string(),
                detail: format!("The worker could not read the task: {e}"),
                attr: None,
            }),
            ..ResourceResult::default()
        },
    };
    serde_json::to_string(&result).unwrap_or_else(|_| "{}".to_string())
}

fn perform_task(
    payload: &str,
    providers: Arc<Registry>,
    reclaimed: bool,
) -> Result<Performed, String> {
    let t: ResourceTask = serde_json::from_str(payload).map_err(|e| e.to_string())?;
    let addr = InstanceAddr::parse(&t.addr).map_err(|e| format!("{e:?}"))?;
    let data = matches!(t.call, TaskCall::Read { .. });
    let providers = providers_for(providers, &addr, data, &t.cwd);
    let call = match &t.call {
        TaskCall::Apply {
            prior,
            planned,
            config,
        } => Call::Apply {
            prior: prior.as_ref().map(decode).transpose()?,
            planned: decode(planned)?,
            config: decode(config)?,
        },
        TaskCall::Delete { prior } => Call::Delete {
            prior: decode(prior)?,
        },
        TaskCall::Read { config } => Call::Read {
            config: decode(config)?,
        },
    };
    let mut configs = BTreeMap::new();
    if let Some((name, j)) = &t.provider {
        configs.insert(name.clone(), decode(j)?);
    }
    let w = Worker {
        registry: providers,
        configs: ProviderConfigs::from_map(configs),
        ctx: ProviderCtx {
            run_id: Some(t.run_id.clone()),
            ..ProviderCtx::new(t.cwd.clone())
        },
        stop: baton_graph::StopHandle::new(),
    };
    let retry = RetryPolicy {
        attempts: t.retry.0,
        base: Duration::from_millis(t.retry.1),
        cap: Duration::from_millis(t.retry.2),
    };
    let timeout = t.timeout_ms.map(Duration::from_millis);
    if reclaimed {
        match (&call, probe_call(&addr, &call, timeout, &w)) {
            // The earlier attempt made the object: that is the outcome.
            (Call::Apply { prior: None, .. }, Ok(Some(found))) if found.is_wholly_known() => {
                return Ok(Performed {
                    result: Ok(Some(found)),
                    attempts: 1,
                })
            }
            // The earlier attempt deleted it.
            (Call::Delete { .. }, Ok(None)) => {
                return Ok(Performed {
                    result: Ok(None),
                    attempts: 1,
                })
            }
            _ => {}
        }
    }
    Ok(perform_call(&addr, &call, timeout, retry, &w))
}

fn millis(d: Duration) -> u64 {
    u64::try_from(d.as_millis()).unwrap_or(u64::MAX)
}

/// What an action handed to a worker came to, as the perform step reports it.
fn outcome(waited: Result<TaskOutcome, String>) -> Performed {
    let failed = |detail: String| Performed {
        result: Err(ProviderError::permanent("Worker failure", detail)),
        attempts: 1,
    };
    match waited {
        Ok(TaskOutcome::Done { worker, result }) => {
            let r: ResourceResult = match serde_json::from_str(&result) {
                Ok(r) => r,
                Err(e) => {
                    return failed(format!("worker {worker} returned an unreadable result: {e}"))
                }
            };
            let result = match (r.error, r.object) {
                (Some(e), _) => Err(ProviderError {
                    kind: if e.retryable {
                        ErrorKind::Retryable
                    } else {
                        ErrorKind::Permanent
                    },
                    summary: e.summary,
                    detail: format!("{} (on worker {worker})", e.detail),
                    attr: e.attr,
                }),
                (None, Some(j)) => match decode(&j) {
                    Ok(v) => Ok(Some(v)),
                    Err(e) => {
                        return failed(format!("worker {worker} returned an unreadable object: {e}"))
                    }
                },
                (None, None) => Ok(None),
            };
            Performed {
                result,
                attempts: r.attempts.max(1),
            }
        }
        Ok(TaskOutcome::Abandoned { claims }) => failed(format!(
            "the action was claimed by workers {claims} times and never finished (each worker stopped before completing it)"
        )),
        Err(e) => failed(e),
    }
}

impl Runner<'_> {
    /// The queue key of `p` within its run: phase, address, action (and deposed key).
    fn task_key(&self, p: &Prepared) -> String {
        match &p.deposed {
            Some(d) => format!("{} {} {} deposed {d}", self.phase, p.addr, p.verb),
            None => format!("{} {} {}", self.phase, p.addr, p.verb),
        }
    }

    /// For a run that continues an interrupted one on workers: what a worker made of `p` for
    /// the interrupted run, when it was handed out there (waiting for it if a worker still
    /// has it). `None` when it was not handed out or never finished: then the provider is
    /// asked, as after any crash.
    pub(super) fn outcome_from_parent(&self, p: &Prepared) -> Option<Performed> {
        let w = self.opts.workers.as_ref()?;
        let parent = self.opts.parent.as_ref()?;
        let id = w.queue.find_task(parent, &self.task_key(p)).ok()??;
        let stop = self.worker.ctx.cancel.clone();
        match w.queue.outcomes(&[id]) {
            Ok(done)
                if done
                    .iter()
                    .any(|(_, o)| matches!(o, TaskOutcome::Abandoned { .. })) =>
            {
                None
            }
            _ => Some(outcome(self.waiter.wait(&*w.queue, id, &stop))),
        }
    }

    /// Performs `p`: in this process, or on a worker when the run executes on workers.
    pub(super) fn perform(&self, p: &Prepared) -> Performed {
        match &self.opts.workers {
            None => perform(p, &self.worker),
            Some(w) => self.perform_on_worker(w, p),
        }
    }

    fn perform_on_worker(&self, w: &Workers, p: &Prepared) -> Performed {
        let reg = &self.worker.registry;
        let info = match &p.call {
            Call::Read { .. } => reg.data_source(&p.addr.resource.type_).map(|(i, _)| i),
            _ => reg.resource_type(&p.addr.resource.type_).map(|(i, _)| i),
        };
        // The settings of the configuration this object uses (an aliased one too), handed
        // over as the provider's only, default, configuration.
        let provider = info.and_then(|i| {
            let configs = &self.worker.configs;
            let key = crate::providers::config_key(i.name, configs.alias_of(&p.addr));
            configs
                .get(&key)
                .map(|v| (i.name.to_string(), v.to_typed_json()))
        });
        let call = match &p.call {
            Call::Apply {
                prior,
                planned,
                config,
            } => TaskCall::Apply {
                prior: prior.as_ref().map(Value::to_typed_json),
                planned: planned.to_typed_json(),
                config: config.to_typed_json(),
            },
            Call::Delete { prior } => TaskCall::Delete {
                prior: prior.to_typed_json(),
            },
            Call::Read { config } => TaskCall::Read {
                config: config.to_typed_json(),
            },
        };
        let task = ResourceTask {
            addr: p.addr.to_string(),
            call,
            timeout_ms: p.timeout.map(millis),
            retry: (p.retry.attempts, millis(p.retry.base), millis(p.retry.cap)),
            provider,
            cwd: self.worker.ctx.cwd.clone(),
            run_id: self.opts.run_id.clone(),
        };
        let failed = |detail: String| Performed {
            result: Err(ProviderError::permanent("Worker failure", detail)),
            attempts: 1,
        };
        let payload = match serde_json::to_string(&task) {
            Ok(s) => s,
            Err(e) => return failed(format!("cannot encode the action: {e}")),
        };
        let key = self.task_key(p);
        let new = NewTask {
            run_id: self.opts.run_id.clone(),
            key,
            kind: RESOURCE_TASK.to_string(),
            payload,
            run_on: w.run_on.clone(),
            max_claims: MAX_CLAIMS,
        };
        let stop = self.worker.ctx.cancel.clone();
        outcome(self.waiter.run(&*w.queue, &new, &stop))
    }
}

type Sets = std::sync::Mutex<std::collections::HashMap<PathBuf, Arc<Registry>>>;

/// The provider sets of stack directories a worker's tasks needed (see [`providers_for`]).
static TASK_SETS: std::sync::OnceLock<Sets> = std::sync::OnceLock::new();

/// Lets go of the provider sets resource tasks loaded, stopping their plugin processes: a
/// worker calls it when it stops, so no plugin outlives it.
pub fn release_task_providers() {
    let taken = TASK_SETS
        .get()
        .and_then(|m| m.lock().ok().map(|mut m| std::mem::take(&mut *m)));
    drop(taken);
}

/// The provider set a task's type is in: the worker's own (`given`) when it has the type;
/// else the stack's, as loading the stack's directory `dir` resolves it (its provider plugins,
/// through the process's resolver), loaded once per directory and kept for the worker's life.
fn providers_for(
    given: Arc<Registry>,
    addr: &InstanceAddr,
    data: bool,
    dir: &std::path::Path,
) -> Arc<Registry> {
    let type_ = &addr.resource.type_;
    let has = |r: &Registry| {
        if data {
            r.data_source(type_).is_some()
        } else {
            r.resource_type(type_).is_some()
        }
    };
    if has(&given) {
        return given;
    }
    let sets = TASK_SETS.get_or_init(Default::default);
    if let Some(r) = sets.lock().ok().and_then(|m| m.get(dir).cloned()) {
        if has(&r) {
            return r;
        }
    }
    let (ctx, _) = crate::load(dir, "default", &baton_core::Sources::new());
    match ctx {
        Some(c) if has(&c.providers) => {
            if let Ok(mut m) = sets.lock() {
                m.insert(dir.to_path_buf(), c.providers.clone());
            }
            c.providers.clone()
        }
        _ => given,
    }
}
