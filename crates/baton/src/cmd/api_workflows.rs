//! The binary's side of `baton_server::workflows::WorkflowControl`: the HTTP API's workflow
//! calls (list, start a run, approvals and their decisions, logs, webhook deliveries) done
//! with the same workflow runner as `baton workflow run` and `baton approve`, as the token's
//! name (`api:NAME`) or the trigger (`webhook:WORKFLOW/TRIGGER`). Runs started or continued
//! here go on in a thread of the agent after the HTTP response.
//!
//! Must not print a secret, a token or a sensitive input, and must not hand one to the
//! server: a sensitive input's default is never listed, a webhook secret goes to the server
//! only to check a signature.

use super::Env;
use baton_backend::Location;
use baton_engine::audit::Actor;
use baton_server::api::Caller;
use baton_server::workflows::{ControlError, Decision, WorkflowControl};
use baton_state::{StateError, WfRunStatus, WfStepStatus, WorkflowStore};
use baton_workflow::exec::{InputValue, Quiet, Runner, WfError};
use baton_workflow::model::ApprovalRules;
use baton_workflow::{StepKind, Workflows as Files};
use serde_json::{json, Map, Value};
use std::sync::{Arc, Mutex};

/// The directory's workflows and their run store (opened once it exists).
pub struct Workflows {
    env: Env,
    location: Location,
    opened: Mutex<Option<Arc<dyn WorkflowStore>>>,
}

impl Workflows {
    pub fn new(env: Env, location: Location) -> Workflows {
        Workflows {
            env,
            location,
            opened: Mutex::new(None),
        }
    }

    fn load(&self) -> Result<Files, ControlError> {
        let sources = baton_core::Sources::new();
        let (wfs, d) = baton_workflow::load_dir(&self.env.dir, &sources);
        if d.has_errors() {
            let first: Vec<String> = d
                .errors()
                .take(3)
                .map(|e| match e.subject.and_then(|s| sources.location(s)) {
                    Some(at) => format!("{at}: {}: {}", e.summary, e.detail),
                    None => format!("{}: {}", e.summary, e.detail),
                })
                .collect();
            return Err(ControlError::Internal(format!(
                "the workflow files have errors: {}",
                first.join("; ")
            )));
        }
        Ok(wfs)
    }

    fn existing(&self) -> Result<Option<Arc<dyn WorkflowStore>>, ControlError> {
        self.store().map_err(internal)
    }

    /// Records a run of `name` as `actor`, then advances it in a thread of its own.
    fn create_and_go(
        &self,
        actor: Actor,
        name: &str,
        inputs: &[(String, InputValue)],
    ) -> Result<Value, ControlError> {
        let id = with_runner(&self.env, actor.clone(), |r| r.create(name, inputs))?;
        let env = self.env.clone();
        let run = id.clone();
        std::thread::spawn(move || {
            if let Err(e) = with_runner(&env, actor, |r| r.advance(&run)) {
                eprintln!("Error: workflow run {run}: {e}");
            }
        });
        self.run_json(&id)
    }

    fn run_json(&self, id: &str) -> Result<Value, ControlError> {
        let store = self
            .existing()?
            .ok_or_else(|| ControlError::NotFound(format!("there is no workflow run {id}")))?;
        let run = store
            .run(id)
            .map_err(internal)?
            .ok_or_else(|| ControlError::NotFound(format!("there is no workflow run {id}")))?;
        Ok(super::workflow::run_json(&run))
    }

    fn trigger<'a>(
        wfs: &'a Files,
        workflow: &str,
        trigger: &str,
    ) -> Result<&'a baton_workflow::Trigger, ControlError> {
        wfs.get(workflow)
            .and_then(|w| w.triggers.iter().find(|t| t.name == trigger))
            .ok_or_else(|| {
                ControlError::NotFound(format!(
                    "workflow {workflow} has no webhook trigger {trigger}"
                ))
            })
    }
}

fn internal(e: impl std::fmt::Display) -> ControlError {
    ControlError::Internal(e.to_string())
}

/// How a runner's error reaches the HTTP client.
fn control_error(e: WfError) -> ControlError {
    match e {
        WfError::NoSuchWorkflow(_) | WfError::NoSuchRun(_) => ControlError::NotFound(e.to_string()),
        WfError::BadInput { .. } => ControlError::BadRequest(e.to_string()),
        WfError::NotApprovable { .. } | WfError::Finished { .. } => {
            ControlError::Conflict(e.to_string())
        }
        WfError::State(StateError::NotWaiting { .. }) => ControlError::Conflict(e.to_string()),
        other => ControlError::Internal(other.to_string()),
    }
}

/// Runs `f` with a runner of the directory acting as `actor`, with store handles of its own.
fn with_runner<T>(
    env: &Env,
    actor: Actor,
    f: impl FnOnce(&Runner<'_>) -> Result<T, WfError>,
) -> Result<T, ControlError> {
    super::workflow::as_actor(env, actor, f)
        .map_err(|e| ControlError::Internal(format!("{e:#}")))?
        .map_err(control_error)
}

fn api_actor(caller: &Caller, what: &str) -> Actor {
    Actor {
        who: format!("api:{}", caller.name),
        args: vec!["api".to_string(), what.to_string()],
    }
}

/// Inputs given as JSON, as the runner takes them (converted to each input's type there).
fn json_inputs(inputs: &Map<String, Value>) -> Vec<(String, InputValue)> {
    inputs
        .iter()
        .map(|(k, v)| {
            (
                k.clone(),
                InputValue::Value(baton_eval::Value::from_json_implied(v)),
            )
        })
        .collect()
}

/// The rules of the approval step a waiting record belongs to (a policy's approval has the
/// defaults).
fn rules_of(step: Option<&baton_workflow::Step>) -> ApprovalRules {
    match step.map(|s| &s.kind) {
        Some(StepKind::Approval { rules, .. }) => rules.clone(),
        _ => ApprovalRules::default(),
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

    fn list(&self) -> Result<Value, ControlError> {
        let wfs = self.load()?;
        let list: Vec<Value> = wfs
            .workflows
            .iter()
            .map(|w| {
                json!({
                    "name": w.name,
                    "inputs": w.inputs.iter().map(|i| {
                        let default = match (&i.default, i.sensitive) {
                            (Some(e), false) => baton_engine::vars::eval_const(e, &w.dir)
                                .ok()
                                .filter(|v| !v.contains_sensitive())
                                .map(|v| v.to_json()),
                            _ => None,
                        };
                        json!({
                            "name": i.name,
                            "type": i.type_.as_ref().map(|t| t.ty.friendly_name()),
                            "default": default,
                            "description": i.description,
                            "sensitive": i.sensitive,
                        })
                    }).collect::<Vec<_>>(),
                    "steps": w.steps.iter().map(|s| json!({
                        "name": s.name,
                        "kind": s.kind.as_str(),
                        "depends_on": baton_workflow::graph::dependencies(s)
                            .into_iter().map(|(d, _)| d).collect::<Vec<_>>(),
                    })).collect::<Vec<_>>(),
                    "schedules": w.schedules.iter().map(|s| json!({
                        "name": s.name, "cron": s.cron, "timezone": s.timezone,
                    })).collect::<Vec<_>>(),
                    "triggers": w.triggers.iter().map(|t| json!({
                        "type": "webhook", "name": t.name,
                    })).collect::<Vec<_>>(),
                })
            })
            .collect();
        Ok(json!({ "workflows": list }))
    }

    fn start(
        &self,
        caller: &Caller,
        workflow: &str,
        inputs: &Map<String, Value>,
    ) -> Result<Value, ControlError> {
        let wfs = self.load()?;
        let wf = wfs
            .get(workflow)
            .ok_or_else(|| control_error(WfError::NoSuchWorkflow(workflow.to_string())))?;
        let inputs = json_inputs(inputs);
        baton_workflow::exec::check_inputs(wf, &inputs).map_err(control_error)?;
        self.create_and_go(
            api_actor(caller, &format!("workflow run {workflow}")),
            workflow,
            &inputs,
        )
    }

    fn approvals(&self, caller: &Caller) -> Result<Vec<Value>, ControlError> {
        let Some(store) = self.existing()? else {
            return Ok(Vec::new());
        };
        let may_approve =
            baton_server::access::allows(caller.role, baton_server::access::Permission::Approve);
        let reader = Runner::new(store.as_ref(), &self.env.dir, &Quiet);
        let mut out = Vec::new();
        for run in store.runs().map_err(internal)? {
            if run.status != WfRunStatus::Waiting {
                continue;
            }
            let steps = store.steps(&run.id).map_err(internal)?;
            let waiting: Vec<_> = steps
                .iter()
                .filter(|s| {
                    s.kind == "approval"
                        && s.status == WfStepStatus::Waiting
                        && s.approval.is_none()
                })
                .collect();
            if waiting.is_empty() {
                continue;
            }
            let wfs = reader.recorded_workflows(&run).ok();
            for s in waiting {
                let model = wfs
                    .as_ref()
                    .and_then(|w| w.get(&run.workflow))
                    .and_then(|w| w.step(&s.step));
                let message = s
                    .inputs
                    .as_deref()
                    .and_then(|i| serde_json::from_str::<Value>(i).ok())
                    .and_then(|i| i.get("message").and_then(Value::as_str).map(str::to_string));
                let may_decide = may_approve
                    && rules_of(model)
                        .check(&caller.name, caller.role, &run.who)
                        .is_ok();
                out.push(json!({
                    "run": run.id, "workflow": run.workflow, "step": s.key,
                    "message": message, "waiting_since": s.started_at,
                    "may_decide": may_decide,
                }));
            }
        }
        Ok(out)
    }

    fn decide(&self, caller: &Caller, run: &str, d: &Decision) -> Result<Value, ControlError> {
        let verb = if d.approved { "approve" } else { "reject" };
        let actor = api_actor(caller, &format!("{verb} {run} {}", d.step));
        let (name, role) = (caller.name.clone(), caller.role);
        let decided = with_runner(&self.env, actor.clone(), |r| {
            let (wf_run, _, model) = r.waiting_approval(run, &d.step)?;
            if let Err(why) = rules_of(model.as_ref()).check(&name, role, &wf_run.who) {
                return Ok(Err(why));
            }
            r.record_decision(run, &d.step, d.approved, d.reason.as_deref())
                .map(Ok)
        })?;
        let decided = decided.map_err(|why| {
            ControlError::Forbidden(format!(
                "{} may not {verb} step {}: {why}",
                caller.name, d.step
            ))
        })?;
        let env = self.env.clone();
        std::thread::spawn(move || {
            let id = decided.id.clone();
            if let Err(e) = with_runner(&env, actor, |r| r.continue_decided(&decided)) {
                eprintln!("Error: workflow run {id}: {e}");
            }
        });
        self.run_json(run)
    }

    fn cancel(&self, caller: &Caller, run: &str) -> Result<Option<Value>, ControlError> {
        let Some(store) = self.existing()? else {
            return Ok(None);
        };
        let Some(r) = store.run(run).map_err(internal)? else {
            return Ok(None);
        };
        if r.status != baton_state::WfRunStatus::Waiting {
            return Err(ControlError::Conflict(format!(
                "workflow run {run} is {}: only a run waiting for a person is cancelled over the API (a running one is stopped where it runs, with Ctrl-C; `baton rollback {run}` undoes one that finished)",
                r.status.as_str()
            )));
        }
        let waiting: Vec<String> = store
            .steps(run)
            .map_err(internal)?
            .into_iter()
            .filter(|s| s.kind == "approval" && s.status == baton_state::WfStepStatus::Waiting)
            .map(|s| s.key)
            .collect();
        if waiting.is_empty() {
            return Err(ControlError::Conflict(format!(
                "workflow run {run} waits for no approval (a retry or a child run): it goes on by itself"
            )));
        }
        let actor = api_actor(caller, &format!("cancel {run}"));
        let reason = format!("cancelled by api:{}", caller.name);
        let mut last = None;
        for key in &waiting {
            let decided = with_runner(&self.env, actor.clone(), |r| {
                r.record_decision(run, key, false, Some(&reason))
            })?;
            last = Some(decided);
        }
        if let Some(decided) = last {
            let env = self.env.clone();
            std::thread::spawn(move || {
                let id = decided.id.clone();
                if let Err(e) = with_runner(&env, actor, |r| r.continue_decided(&decided)) {
                    eprintln!("Error: workflow run {id}: {e}");
                }
            });
        }
        Ok(Some(
            json!({ "id": run, "kind": "workflow", "status": "cancelling" }),
        ))
    }

    fn logs(&self, run: &str, node: Option<&str>) -> Result<Option<String>, ControlError> {
        let Some(store) = self.existing()? else {
            return Ok(None);
        };
        if store.run(run).map_err(internal)?.is_none() {
            return Ok(None);
        }
        let steps = store.steps(run).map_err(internal)?;
        let mut text = String::new();
        let mut shown = 0;
        for s in &steps {
            if node.is_some_and(|n| n != s.key) {
                continue;
            }
            shown += 1;
            if node.is_none() {
                text.push_str(&format!(
                    "== step.{} ({}, {})\n",
                    s.key,
                    s.kind,
                    s.status.as_str()
                ));
            }
            text.push_str(s.stdout.as_deref().unwrap_or(""));
            text.push_str(s.stderr.as_deref().unwrap_or(""));
            if let Some(e) = &s.error {
                if node.is_some() {
                    text.push_str(&format!("error: {e}\n"));
                }
            }
        }
        if shown == 0 {
            if let Some(n) = node {
                return Err(ControlError::NotFound(format!(
                    "workflow run {run} has no step {n}"
                )));
            }
        }
        Ok(Some(text))
    }

    fn webhook_secret(&self, workflow: &str, trigger: &str) -> Result<Vec<u8>, ControlError> {
        let wfs = self.load()?;
        let t = Self::trigger(&wfs, workflow, trigger)?;
        match std::env::var_os(&t.secret_env) {
            Some(v) if !v.is_empty() => Ok(v.into_encoded_bytes()),
            _ => Err(ControlError::Unavailable(format!(
                "webhook trigger {trigger} of workflow {workflow} has no secret: set the environment variable {} of the agent (deliveries are never accepted unsigned)",
                t.secret_env
            ))),
        }
    }

    fn webhook_run(
        &self,
        workflow: &str,
        trigger: &str,
        delivery: &str,
        body: &Value,
    ) -> Result<Value, ControlError> {
        let wfs = self.load()?;
        let t = Self::trigger(&wfs, workflow, trigger)?;
        let wf = wfs
            .get(workflow)
            .ok_or_else(|| control_error(WfError::NoSuchWorkflow(workflow.to_string())))?;
        let mut inputs: Vec<(String, InputValue)> = Vec::new();
        if let Some(e) = &t.inputs {
            let v = baton_engine::vars::eval_const(e, &wf.dir).map_err(|d| {
                ControlError::Internal(format!("trigger {trigger}'s inputs: {}", d.detail))
            })?;
            let Some(entries) = v.as_entries() else {
                return Err(ControlError::Internal(format!(
                    "trigger {trigger}'s inputs must be an object"
                )));
            };
            for (k, v) in entries.iter() {
                inputs.push((k.to_string(), InputValue::Value(v.clone())));
            }
        }
        for (name, pointer) in &t.input_paths {
            let Some(v) = body.pointer(pointer) else {
                return Err(ControlError::BadRequest(format!(
                    "input {name:?}: the delivery's body has nothing at {pointer}"
                )));
            };
            inputs.push((
                name.clone(),
                InputValue::Value(baton_eval::Value::from_json_implied(v)),
            ));
        }
        baton_workflow::exec::check_inputs(wf, &inputs).map_err(control_error)?;
        let store = match self.existing()? {
            Some(s) => s,
            None => Arc::from(self.location.open_workflows().map_err(internal)?),
        };
        let first =
            baton_workflow::agent::record_delivery(store.as_ref(), workflow, trigger, delivery)
                .map_err(internal)?;
        if !first {
            return Err(ControlError::Conflict(format!(
                "delivery {delivery} of trigger {trigger} was received before; a replay starts nothing"
            )));
        }
        let actor = Actor {
            who: format!("webhook:{workflow}/{trigger}"),
            args: vec!["webhook".to_string(), format!("delivery {delivery}")],
        };
        self.create_and_go(actor, workflow, &inputs)
    }
}
