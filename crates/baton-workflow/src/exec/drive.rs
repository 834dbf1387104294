//! Driving a claimed run: find the step instances whose dependencies are done, prepare each
//! (evaluate its arguments against the finished steps), record its start, hand it to a worker
//! thread, and record each outcome as it arrives before scheduling more. After a failure, no
//! new step starts; running ones finish and are recorded; then the failure policy applies.
//!
//! Must not call providers, commands or stacks itself (`perform` does) and must not print.

use super::perform::{perform, Performed, Prepared, Work};
use super::values::{decode_object, finished_value};
use super::{Advance, Runner, WfError};
use crate::graph;
use crate::model::{Executor, Step, StepKind, Workflow, Workflows};
use crate::scope::WfScope;
use baton_core::InstanceKey;
use baton_engine::apply::{kill_this_process, Fault};
use baton_eval::{Evaluator, FnCtx, Value};
use baton_state::{WfClaim, WfRun, WfStep, WfStepStatus};
use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::atomic::Ordering;
use std::sync::mpsc;

/// How often a step waiting for a limit slot looks again.
const LIMIT_POLL: std::time::Duration = std::time::Duration::from_millis(100);

/// One instance of a step: its key in the record (`smoke["a"]`), and `each`/`count`.
#[derive(Clone, Debug)]
struct Instance {
    key: String,
    ikey: Option<InstanceKey>,
    each: Option<(Value, Value)>,
    count: Option<Value>,
}

/// The run's record and what follows from it, kept current while driving.
struct Book<'a> {
    runner: &'a Runner<'a>,
    run: &'a WfRun,
    claim: &'a WfClaim,
    wf: &'a Workflow,
    inputs: BTreeMap<String, Value>,
    records: BTreeMap<String, WfStep>,
    expansions: BTreeMap<String, Vec<Instance>>,
    /// Steps whose every instance succeeded, as `step.NAME` evaluates.
    finished: HashMap<String, Value>,
    failure: Option<String>,
    rejected: bool,
    /// The workflow's policy directory, when it has one.
    policies: Option<std::path::PathBuf>,
}

/// What the workflow's policies said about a step about to start.
enum Gated {
    Go,
    /// The step waits for the approval the policies asked for (its key).
    Wait(String),
    /// Denied (the failure is recorded).
    Denied,
}

pub(super) fn drive(
    runner: &Runner<'_>,
    run: &WfRun,
    claim: &WfClaim,
    wf: &Workflow,
    all: &Workflows,
) -> Result<Advance, WfError> {
    let inputs = decode_object(&run.inputs).map_err(|message| WfError::Definition {
        run: run.id.clone(),
        message: format!("inputs: {message}"),
    })?;
    let records: BTreeMap<String, WfStep> = runner
        .store
        .steps(&run.id)?
        .into_iter()
        .map(|s| (s.key.clone(), s))
        .collect();
    let order = graph::order(wf).map_err(|cycle| WfError::Definition {
        run: run.id.clone(),
        message: format!("cycle {}", cycle.join(" → ")),
    })?;
    let mut book = Book {
        runner,
        run,
        claim,
        wf,
        inputs,
        records,
        expansions: BTreeMap::new(),
        finished: HashMap::new(),
        failure: None,
        rejected: false,
        policies: super::gate::policy_dir(wf),
    };
    // A failure recorded by an earlier drive (an approval rejected meanwhile is seen below).
    if let Some(f) = book
        .records
        .values()
        .find(|s| s.status == WfStepStatus::Failed && !s.key.contains(':'))
    {
        book.failure = Some(format!(
            "step {} failed: {}",
            f.key,
            f.error.clone().unwrap_or_default()
        ));
    }
    // The steps each step waits for, worked out once.
    let deps: BTreeMap<&str, Vec<String>> = wf
        .steps
        .iter()
        .map(|s| {
            let d = graph::dependencies(s).into_iter().map(|(n, _)| n).collect();
            (s.name.as_str(), d)
        })
        .collect();
    let mut pending: Vec<&str> = order.iter().map(String::as_str).collect();
    let mut finished_seen = usize::MAX;
    let (tx, rx) = mpsc::channel::<(Prepared, Performed)>();
    let mut running: BTreeSet<String> = BTreeSet::new();
    let mut waiting: Vec<String> = Vec::new();
    // Some step could not start because a limit was full: look again soon.
    let mut limited = false;
    // The cache key of each running step that has one.
    let mut caches: BTreeMap<String, Option<String>> = BTreeMap::new();
    // Instances of this pass about to start, recorded together.
    let mut starting: Vec<(&Step, Prepared)> = Vec::new();
    // Value steps of this pass, computed, recorded together.
    let mut computed: Vec<WfStep> = Vec::new();
    let stopped = std::thread::scope(|s| -> Result<bool, WfError> {
        loop {
            let stopping = book.failure.is_some() || runner.stop.load(Ordering::SeqCst);
            waiting.clear();
            if !stopping {
                // Finished steps are out of the way for good.
                if book.finished.len() != finished_seen {
                    pending.retain(|n| !book.finished.contains_key(*n));
                    finished_seen = book.finished.len();
                }
                for &name in &pending {
                    if running.len() >= runner.parallelism.max(1) {
                        // Full: what else is ready starts when a slot frees.
                        break;
                    }
                    let Some(step) = wf.step(name) else { continue };
                    if !deps[name].iter().all(|d| book.finished.contains_key(d)) {
                        continue;
                    }
                    let instances = match book.expand(step) {
                        Ok(i) => i,
                        Err(e) => {
                            book.fail_unstarted(step, &step.name, e)?;
                            break;
                        }
                    };
                    let mut all_done = true;
                    for inst in &instances {
                        if running.contains(&inst.key) {
                            all_done = false;
                            continue;
                        }
                        let status = book.records.get(&inst.key).map(|r| r.status);
                        match status {
                            Some(WfStepStatus::Succeeded) => continue,
                            Some(WfStepStatus::Failed) => {
                                all_done = false;
                                if book.failure.is_none() {
                                    book.failure = Some(format!("step {} failed", inst.key));
                                }
                                continue;
                            }
                            Some(WfStepStatus::Waiting) => {
                                all_done = false;
                                match book.retry_wait(&inst.key) {
                                    // A retry whose backoff ended: run it again below.
                                    Some(true) => {}
                                    Some(false) => {
                                        waiting.push(inst.key.clone());
                                        continue;
                                    }
                                    None => {
                                        if book.settle_waiting(step, inst)? {
                                            // Decided: look again on the next pass.
                                            continue;
                                        }
                                        waiting.push(inst.key.clone());
                                        continue;
                                    }
                                }
                            }
                            _ => {}
                        }
                        all_done = false;
                        if running.len() >= runner.parallelism.max(1) {
                            continue;
                        }
                        if let StepKind::Approval { .. } = step.kind {
                            book.start_approval(step, inst)?;
                            waiting.push(inst.key.clone());
                            continue;
                        }
                        if let StepKind::Value { outputs } = &step.kind {
                            // Nothing runs: the outputs are evaluated here and recorded with
                            // the others of this pass.
                            match book.value_record(step, inst, outputs) {
                                Ok(rec) => computed.push(rec),
                                Err(e) => {
                                    book.fail_unstarted(step, &inst.key, e)?;
                                    break;
                                }
                            }
                            continue;
                        }
                        let prepared = match book.prepare(step, inst) {
                            Ok(p) => p,
                            Err(e) => {
                                book.fail_unstarted(step, &inst.key, e)?;
                                break;
                            }
                        };
                        let cache = match book.cache_key(step, inst) {
                            Ok(c) => c,
                            Err(e) => {
                                book.fail_unstarted(step, &inst.key, e)?;
                                break;
                            }
                        };
                        if let Some(key) = &cache {
                            if book.reuse_cached(step, &inst.key, key)? {
                                continue;
                            }
                        }
                        if book.policies.is_some() {
                            match book.policy_gate(step, inst, &prepared)? {
                                Gated::Go => {}
                                Gated::Wait(key) => {
                                    waiting.push(key);
                                    continue;
                                }
                                Gated::Denied => break,
                            }
                        }
                        if !book.take_limits(step, &inst.key, all)? {
                            limited = true;
                            continue;
                        }
                        running.insert(inst.key.clone());
                        caches.insert(inst.key.clone(), cache);
                        starting.push((step, prepared));
                    }
                    if all_done && book.all_succeeded(&instances) {
                        let v = book.step_value(step, &instances);
                        book.finished.insert(name.to_string(), v);
                    }
                    if book.failure.is_some() {
                        break;
                    }
                }
            }
            if !computed.is_empty() {
                let keys: Vec<String> = computed.iter().map(|r| r.key.clone()).collect();
                book.put_all(std::mem::take(&mut computed))?;
                for k in keys {
                    if let Some(r) = book.records.get(&k) {
                        runner.hooks.step_finished(&run.id, r);
                    }
                }
                // What depends on them is ready now.
                if running.is_empty() && starting.is_empty() {
                    continue;
                }
            }
            if !starting.is_empty() {
                // Every start of the pass recorded at once, then the instances go.
                book.record_starts(&starting)?;
                for (step, prepared) in starting.drain(..) {
                    runner
                        .hooks
                        .step_started(&run.id, &prepared.key, step.kind.as_str());
                    let tx = tx.clone();
                    s.spawn(move || {
                        let performed = perform(runner, &prepared);
                        let _ = tx.send((prepared, performed));
                    });
                }
            }
            if running.is_empty() {
                // Something finished without any worker (a step value, an approval decided):
                // go round again until nothing changes.
                if !stopping && book.progressed_without_workers(&pending, &deps) {
                    continue;
                }
                if !stopping && limited {
                    // Steps wait for a limit another run holds.
                    std::thread::sleep(LIMIT_POLL);
                    limited = false;
                    continue;
                }
                return Ok(stopping && book.failure.is_none());
            }
            let got = if limited {
                limited = false;
                match rx.recv_timeout(LIMIT_POLL) {
                    Ok(x) => Some(x),
                    Err(mpsc::RecvTimeoutError::Timeout) => None,
                    Err(mpsc::RecvTimeoutError::Disconnected) => return Ok(true),
                }
            } else {
                match rx.recv() {
                    Ok(x) => Some(x),
                    Err(_) => return Ok(true),
                }
            };
            let Some(first) = got else {
                continue;
            };
            // What else finished meanwhile is recorded with it, in one transaction.
            let mut finished_now = vec![first];
            while let Ok(more) = rx.try_recv() {
                finished_now.push(more);
            }
            let mut follow_up = Vec::new();
            for (prepared, performed) in &finished_now {
                running.remove(&prepared.key);
                let cache = caches.remove(&prepared.key).flatten();
                if let (true, Some(key)) = (performed.ok, cache) {
                    let text = performed
                        .outputs
                        .clone()
                        .unwrap_or_else(Value::empty_object)
                        .to_typed_json()
                        .to_string();
                    follow_up.push((prepared.key.clone(), Some((key, text))));
                } else {
                    follow_up.push((prepared.key.clone(), None));
                }
            }
            book.record_outcomes(finished_now)?;
            for (key, cache) in follow_up {
                book.release_limits(&key, all)?;
                if let Some((cache_key, text)) = cache {
                    let step_name = key.split('[').next().unwrap_or(&key);
                    runner
                        .store
                        .cache_put(claim, &wf.name, step_name, &cache_key, &text)?;
                }
            }
        }
    })?;
    if let Some(why) = book.failure.clone() {
        return match (wf.on_failure, book.rejected) {
            (baton_config::FailurePolicy::Halt, true) => Ok(Advance::Cancelled(why)),
            (baton_config::FailurePolicy::Halt, false) => Ok(Advance::Failed(why)),
            (baton_config::FailurePolicy::Rollback, rejected) => {
                let advance = super::undo::roll_back(runner, run, claim, wf, &why)?;
                Ok(match advance {
                    Advance::RolledBack(w) if rejected => Advance::Cancelled(w),
                    other => other,
                })
            }
        };
    }
    if !waiting.is_empty() {
        waiting.sort();
        waiting.dedup();
        return Ok(Advance::Waiting(waiting));
    }
    if stopped {
        return Ok(Advance::Stopped);
    }
    Ok(Advance::Succeeded)
}

impl Book<'_> {
    fn scope<'s>(&'s self, inst: Option<&Instance>) -> WfScope<'s> {
        WfScope {
            dir: &self.wf.dir,
            run_id: &self.run.id,
            workflow: &self.wf.name,
            inputs: &self.inputs,
            steps: &self.finished,
            each: inst.and_then(|i| i.each.clone()),
            count: inst.and_then(|i| i.count.clone()),
        }
    }

    fn eval(&self, e: &baton_config::Expr, inst: Option<&Instance>) -> Result<Value, String> {
        let scope = self.scope(inst);
        let sources = &self.runner.sources;
        let mut ev = Evaluator::new(
            &scope,
            FnCtx {
                base_dir: &self.wf.dir,
                sources,
                planning: false,
                plan_timestamp: None,
            },
        );
        ev.eval(e).map_err(|d| {
            let at = d
                .subject
                .and_then(|s| sources.location(s))
                .map(|l| format!("{l}: "))
                .unwrap_or_default();
            format!("{at}{}: {}", d.summary, d.detail)
        })
    }

    /// The instances of a step whose dependencies are done.
    fn expand(&mut self, step: &Step) -> Result<Vec<Instance>, String> {
        if let Some(i) = self.expansions.get(&step.name) {
            return Ok(i.clone());
        }
        let scope = self.scope(None);
        let mut ev = Evaluator::new(
            &scope,
            FnCtx {
                base_dir: &self.wf.dir,
                sources: &self.runner.sources,
                planning: false,
                plan_timestamp: None,
            },
        );
        let expansion = baton_engine::expand::expand(
            &mut ev,
            step.count.as_ref(),
            step.for_each.as_ref(),
            false,
        )
        .map_err(|d| format!("{}: {}", d.summary, d.detail))?;
        let instances: Vec<Instance> = match expansion {
            None => vec![Instance {
                key: step.name.clone(),
                ikey: None,
                each: None,
                count: None,
            }],
            Some(x) => x
                .keys
                .into_iter()
                .map(|(k, v)| Instance {
                    key: match &k {
                        Some(k) => format!("{}{k}", step.name),
                        None => step.name.clone(),
                    },
                    each: baton_engine::expand::each_values(&k, &v),
                    count: baton_engine::expand::count_index(&k),
                    ikey: k,
                })
                .collect(),
        };
        self.expansions.insert(step.name.clone(), instances.clone());
        Ok(instances)
    }

    fn all_succeeded(&self, instances: &[Instance]) -> bool {
        instances.iter().all(|i| {
            self.records
                .get(&i.key)
                .is_some_and(|r| r.status == WfStepStatus::Succeeded)
        })
    }

    /// Whether another pass would find something new: a step whose instances all succeeded
    /// but that is not yet among the finished ones.
    fn progressed_without_workers(
        &mut self,
        order: &[&str],
        deps: &BTreeMap<&str, Vec<String>>,
    ) -> bool {
        for &name in order {
            if self.finished.contains_key(name) {
                continue;
            }
            let Some(step) = self.wf.step(name) else {
                continue;
            };
            if let Some(instances) = self.expansions.get(name).cloned() {
                if self.all_succeeded(&instances) {
                    let v = self.step_value(step, &instances);
                    self.finished.insert(name.to_string(), v);
                    return true;
                }
            } else if deps
                .get(name)
                .is_some_and(|ds| ds.iter().all(|d| self.finished.contains_key(d)))
            {
                // Ready but not yet expanded: the next pass will.
                return true;
            }
        }
        false
    }

    /// `step.NAME`: an object with `outputs` and `status`, or those by instance key.
    fn step_value(&self, step: &Step, instances: &[Instance]) -> Value {
        let one = |i: &Instance| -> Value {
            self.records
                .get(&i.key)
                .map(finished_value)
                .unwrap_or_else(Value::empty_object)
        };
        if step.for_each.is_some() {
            Value::object(
                instances
                    .iter()
                    .map(|i| {
                        let k = match &i.ikey {
                            Some(InstanceKey::Str(s)) => s.clone(),
                            Some(InstanceKey::Int(n)) => n.to_string(),
                            None => String::new(),
                        };
                        (k, one(i))
                    })
                    .collect(),
            )
        } else if step.count.is_some() {
            Value::tuple(instances.iter().map(one).collect())
        } else {
            instances
                .first()
                .map(one)
                .unwrap_or_else(Value::empty_object)
        }
    }

    /// Evaluates what an instance needs to run.
    fn prepare(&self, step: &Step, inst: &Instance) -> Result<Prepared, String> {
        let dir = &self.wf.dir;
        let str_of = |e: &baton_config::Expr, what: &str| -> Result<String, String> {
            let v = self.eval(e, Some(inst))?.unmark_deep().0;
            v.as_str()
                .map(str::to_string)
                .ok_or_else(|| format!("{what} must be a string, not {}", v.ty().friendly_name()))
        };
        let object_of =
            |e: &Option<baton_config::Expr>, what: &str| -> Result<Vec<(String, Value)>, String> {
                let Some(e) = e else {
                    return Ok(Vec::new());
                };
                let v = self.eval(e, Some(inst))?;
                match v.as_entries() {
                    Some(entries) => Ok(entries
                        .iter()
                        .map(|(k, v)| (k.to_string(), v.clone()))
                        .collect()),
                    None if v.is_null() => Ok(Vec::new()),
                    None => Err(format!(
                        "{what} must be an object, not {}",
                        v.ty().friendly_name()
                    )),
                }
            };
        let earlier: Vec<String> = self
            .records
            .get(&inst.key)
            .and_then(|r| r.child_run.clone())
            .map(|c| c.split_whitespace().map(str::to_string).collect())
            .unwrap_or_default();
        let work = match &step.kind {
            StepKind::Command { command } => {
                // A command or environment holding a secret is never recorded, nor is what it
                // prints (as Terraform suppresses a sensitive local-exec's output).
                let mut sensitive = self.eval(command, Some(inst))?.contains_sensitive();
                let environment = object_of(&step.environment, "environment")?
                    .into_iter()
                    .map(|(k, v)| {
                        sensitive |= v.contains_sensitive();
                        let v = v.unmark_deep().0;
                        match v.as_str() {
                            Some(s) => Ok((k, s.to_string())),
                            None => Err(format!(
                                "environment.{k} must be a string, not {}",
                                v.ty().friendly_name()
                            )),
                        }
                    })
                    .collect::<Result<Vec<_>, String>>()?;
                let mut environment = environment;
                environment.push(("BATON_STEP".into(), inst.key.clone()));
                environment.push(("BATON_WORKFLOW".into(), self.wf.name.clone()));
                let on_workers = if self.runner.executor_of(self.wf) == Executor::Workers {
                    let labels = object_of(&step.run_on, "run_on")?
                        .into_iter()
                        .map(|(k, v)| match v.unmark_deep().0.as_str() {
                            Some(s) => Ok((k, s.to_string())),
                            None => Err(format!("run_on.{k} must be a string")),
                        })
                        .collect::<Result<Vec<_>, String>>()?;
                    Some(labels)
                } else {
                    None
                };
                Work::Command {
                    command: str_of(command, "command")?,
                    environment,
                    outputs_file: dir
                        .join(".baton")
                        .join("workflow-outputs")
                        .join(&self.run.id)
                        .join(format!("{}.out", file_safe(&inst.key))),
                    cwd: dir.clone(),
                    run_id: self.run.id.clone(),
                    sensitive,
                    on_workers,
                }
            }
            StepKind::Apply { dir: d } | StepKind::Destroy { dir: d } => {
                let rel = str_of(d, "the stack directory")?;
                let stack = dir.join(&rel);
                if !stack.is_dir() {
                    return Err(format!(
                        "there is no stack directory {rel:?} (relative to {})",
                        dir.display()
                    ));
                }
                let env = match &step.env {
                    Some(e) => str_of(e, "env")?,
                    None => "default".to_string(),
                };
                if !baton_config::model::is_valid_name(&env) {
                    return Err(format!("env {env:?} is not a valid environment name"));
                }
                Work::Stack {
                    dir: stack,
                    env,
                    vars: object_of(&step.vars, "vars")?,
                    destroy: matches!(step.kind, StepKind::Destroy { .. }),
                    run_id: baton_engine::new_run_id(),
                    earlier,
                }
            }
            StepKind::Workflow { name, .. } => Work::Workflow {
                name: name.clone(),
                inputs: object_of(&step.inputs, "inputs")?.into_iter().collect(),
                parent_run: self.run.id.clone(),
            },
            StepKind::AnsiblePlaybook(pb) => {
                let (opts, sensitive) =
                    super::playbook::prepare(pb, dir, &|e| self.eval(e, Some(inst)))?;
                Work::Playbook {
                    opts: Box::new(opts),
                    sensitive,
                }
            }
            StepKind::Approval { .. } | StepKind::Value { .. } => {
                return Err(format!(
                    "a {} step is not performed by a worker",
                    step.kind.as_str()
                ))
            }
        };
        // Attempts made before a backoff that was waited out without a process.
        let attempts_done = match self.records.get(&inst.key) {
            Some(r) if r.status == WfStepStatus::Waiting && r.next_attempt_at.is_some() => {
                r.attempts
            }
            _ => 0,
        };
        Ok(Prepared {
            key: inst.key.clone(),
            work,
            retry: step.retry,
            timeout: step.timeout,
            attempts_done,
        })
    }

    /// For a step waiting for a retry: whether its backoff has ended. `None` when the step
    /// waits for something else.
    fn retry_wait(&self, key: &str) -> Option<bool> {
        let at = self.records.get(key)?.next_attempt_at.as_deref()?;
        let due = at
            .parse::<jiff::Timestamp>()
            .map(|t| t <= jiff::Timestamp::now())
            .unwrap_or(true);
        Some(due)
    }

    /// The workflow's policies on an instance about to start (see [`super::gate`]).
    fn policy_gate(
        &mut self,
        step: &Step,
        inst: &Instance,
        p: &Prepared,
    ) -> Result<Gated, WfError> {
        let Some(dir) = self.policies.clone() else {
            return Ok(Gated::Go);
        };
        let gate_key = format!("approve:{}", inst.key);
        let fresh = self
            .runner
            .store
            .steps(&self.run.id)?
            .into_iter()
            .find(|r| r.key == gate_key);
        let mut approved = false;
        if let Some(mut rec) = fresh {
            if rec.status == WfStepStatus::Waiting {
                match decision(&rec) {
                    None => return Ok(Gated::Wait(gate_key)),
                    Some((yes, by, reason)) => {
                        rec.finished_at = Some(baton_engine::now_rfc3339());
                        rec.status = if yes {
                            WfStepStatus::Succeeded
                        } else {
                            WfStepStatus::Failed
                        };
                        if !yes {
                            rec.error = Some(rejection(&by, reason.as_deref()));
                        }
                        self.put(rec.clone())?;
                        self.runner.hooks.step_finished(&self.run.id, &rec);
                    }
                }
            }
            match rec.status {
                WfStepStatus::Succeeded => approved = true,
                WfStepStatus::Failed => {
                    self.failure = Some(format!(
                        "step {} was {}",
                        inst.key,
                        rec.error.unwrap_or_else(|| "rejected".into())
                    ));
                    self.rejected = true;
                    return Ok(Gated::Denied);
                }
                _ => {}
            }
        }
        let plan = match &p.work {
            Work::Stack {
                dir: stack,
                env,
                vars,
                destroy,
                ..
            } => Some(stack_plan_json(stack, env, vars, *destroy)),
            _ => None,
        };
        let step_doc = serde_json::json!({
            "name": step.name,
            "key": inst.key,
            "kind": step.kind.as_str(),
            "args": describe(&p.work),
        });
        let input = super::gate::input(
            self.wf,
            &self.run.id,
            &self.runner.actor.who,
            &self.inputs,
            step_doc,
            plan,
        );
        let verdict = super::gate::evaluate(&dir, &input, &self.runner.sources);
        if !verdict.deny.is_empty() {
            let why = format!(
                "denied by the workflow policies: {}",
                verdict.deny.join("; ")
            );
            self.fail_unstarted(step, &inst.key, why)?;
            return Ok(Gated::Denied);
        }
        if !verdict.require_approval.is_empty() && !approved {
            let mut rec = WfStep::new(&self.run.id, &gate_key, &step.name, "approval");
            rec.status = WfStepStatus::Waiting;
            rec.started_at = Some(baton_engine::now_rfc3339());
            let text = verdict.require_approval.join("; ");
            rec.inputs =
                Some(serde_json::json!({ "message": text, "required_by": "policy" }).to_string());
            self.put(rec)?;
            self.runner.hooks.waiting(&self.run.id, &gate_key, &text);
            return Ok(Gated::Wait(gate_key));
        }
        Ok(Gated::Go)
    }

    /// The instance's cache key, if its step has one.
    fn cache_key(&self, step: &Step, inst: &Instance) -> Result<Option<String>, String> {
        let Some(e) = &step.cache_key else {
            return Ok(None);
        };
        let v = self.eval(e, Some(inst))?.unmark_deep().0;
        match v.as_str() {
            Some(s) => Ok(Some(s.to_string())),
            None => Ok(Some(v.to_json().to_string())),
        }
    }

    /// A successful run produced `key` within the step's `cache_ttl`: the instance succeeds
    /// with those outputs, without running. True when it did.
    fn reuse_cached(&mut self, step: &Step, key: &str, cache: &str) -> Result<bool, WfError> {
        let since = match step.cache_ttl {
            Some(ttl) => {
                let now = std::time::SystemTime::now()
                    .duration_since(std::time::UNIX_EPOCH)
                    .map(|d| d.as_secs())
                    .unwrap_or(0);
                baton_engine::rfc3339(now.saturating_sub(ttl.as_secs()))
            }
            None => String::new(),
        };
        let Some(hit) = self
            .runner
            .store
            .cache_get(&self.wf.name, &step.name, cache, &since)?
        else {
            return Ok(false);
        };
        let mut rec = self.base_record(step, key);
        rec.status = WfStepStatus::Succeeded;
        rec.started_at = Some(baton_engine::now_rfc3339());
        rec.finished_at = rec.started_at.clone();
        rec.outputs = Some(hit.outputs);
        rec.inputs = Some(
            serde_json::json!({ "cache_key": cache, "cached_from": hit.run_id, "stored_at": hit.stored_at })
                .to_string(),
        );
        self.put(rec)?;
        if let Some(r) = self.records.get(key) {
            self.runner.hooks.step_finished(&self.run.id, r);
        }
        Ok(true)
    }

    /// Takes a slot of every limit the step names; false (holding none) when one is full.
    fn take_limits(&self, step: &Step, key: &str, all: &Workflows) -> Result<bool, WfError> {
        let mut taken: Vec<&str> = Vec::new();
        for (name, _) in &step.limits {
            let max = all.limit(name).map(|l| l.max).unwrap_or(1);
            if self
                .runner
                .store
                .limit_acquire(self.claim, name, max, key)?
            {
                taken.push(name);
            } else {
                for t in taken {
                    self.runner.store.limit_release(self.claim, t, key)?;
                }
                return Ok(false);
            }
        }
        Ok(true)
    }

    fn release_limits(&self, key: &str, all: &Workflows) -> Result<(), WfError> {
        let name = key.split('[').next().unwrap_or(key);
        if let Some(step) = self.wf.step(name) {
            for (l, _) in &step.limits {
                if all.limit(l).is_some() {
                    self.runner.store.limit_release(self.claim, l, key)?;
                }
            }
        }
        Ok(())
    }

    fn put(&mut self, rec: WfStep) -> Result<(), WfError> {
        self.runner.store.put_step(self.claim, &rec)?;
        self.records.insert(rec.key.clone(), rec);
        Ok(())
    }

    fn base_record(&self, step: &Step, key: &str) -> WfStep {
        let mut rec = self
            .records
            .get(key)
            .cloned()
            .unwrap_or_else(|| WfStep::new(&self.run.id, key, &step.name, step.kind.as_str()));
        rec.error = None;
        rec
    }

    /// Records that an instance starts (durably, before it does).
    /// Records that instances start (durably, in one transaction, before any does).
    fn record_starts(&mut self, starting: &[(&Step, Prepared)]) -> Result<(), WfError> {
        let recs: Vec<WfStep> = starting
            .iter()
            .map(|(step, p)| self.start_record(step, p))
            .collect();
        self.put_all(recs)
    }

    fn start_record(&self, step: &Step, p: &Prepared) -> WfStep {
        let mut rec = self.base_record(step, &p.key);
        rec.status = WfStepStatus::Started;
        rec.started_at = Some(baton_engine::now_rfc3339());
        rec.finished_at = None;
        rec.next_attempt_at = None;
        rec.inputs = Some(describe(&p.work).to_string());
        if let Work::Stack {
            run_id, earlier, ..
        } = &p.work
        {
            let mut all = earlier.clone();
            all.push(run_id.clone());
            rec.child_run = Some(all.join(" "));
            if let Work::Stack { dir, env, .. } = &p.work {
                // The stack's default state path: it names the stack directory and the
                // environment, from which an undo finds the store again (wherever the stack's
                // backend block puts it); never a connection string.
                rec.child_store = Some(
                    baton_engine::lifecycle::default_state_path(dir, env)
                        .to_string_lossy()
                        .to_string(),
                );
            }
        }
        rec
    }

    /// Writes records in one transaction and keeps them.
    fn put_all(&mut self, recs: Vec<WfStep>) -> Result<(), WfError> {
        self.runner.store.put_steps(self.claim, &recs)?;
        for r in recs {
            self.records.insert(r.key.clone(), r);
        }
        Ok(())
    }

    /// Records the outcomes of instances that finished together, in one transaction, then
    /// tells the caller.
    fn record_outcomes(&mut self, done: Vec<(Prepared, Performed)>) -> Result<(), WfError> {
        let mut recs = Vec::new();
        let mut kill = false;
        for (p, d) in done {
            if d.unfinished {
                // Left on a worker by a stop: recorded by whoever resumes the run.
                self.runner.hooks.notice(&format!(
                    "step.{}: left to the workers (`baton resume {}` waits for it)",
                    p.key, self.run.id
                ));
                continue;
            }
            if let Some((rec, injected)) = self.outcome_record(&p, d) {
                kill |= injected == Some(Fault::Kill);
                recs.push(rec);
            }
        }
        let keys: Vec<String> = recs.iter().map(|r| r.key.clone()).collect();
        self.put_all(recs)?;
        if kill {
            kill_this_process();
        }
        for k in keys {
            if let Some(r) = self.records.get(&k) {
                self.runner.hooks.step_finished(&self.run.id, r);
            }
        }
        Ok(())
    }

    /// The record of a finished instance (and the fault injected into it, if any).
    fn outcome_record(
        &mut self,
        p: &Prepared,
        mut done: Performed,
    ) -> Option<(WfStep, Option<Fault>)> {
        let step = self.wf.step(p.key.split('[').next().unwrap_or(&p.key))?;
        let injected = self.runner.fault.as_ref().and_then(|f| f.hit());
        if injected == Some(Fault::Fail) {
            done.ok = false;
            done.waiting = false;
            done.error = Some("injected failure (BATON_FAULT_INJECT)".into());
        }
        let mut rec = self.base_record(step, &p.key);
        rec.status = if done.ok {
            WfStepStatus::Succeeded
        } else if done.waiting || done.retry_in.is_some() {
            WfStepStatus::Waiting
        } else {
            WfStepStatus::Failed
        };
        rec.next_attempt_at = done.retry_in.map(|d| {
            let now = std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map(|t| t.as_secs_f64())
                .unwrap_or(0.0);
            // Whole seconds, rounded up: never earlier than the backoff.
            #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
            let at = (now + d.as_secs_f64()).ceil() as u64;
            baton_engine::rfc3339(at)
        });
        rec.attempts = rec.attempts.saturating_sub(0).max(done.attempts);
        rec.finished_at = Some(baton_engine::now_rfc3339());
        rec.duration_ms = Some(u64::try_from(done.duration.as_millis()).unwrap_or(u64::MAX));
        rec.outputs = done.outputs.map(|v| v.to_typed_json().to_string());
        rec.exit_code = done.exit_code;
        rec.stdout = done.stdout;
        rec.stderr = done.stderr;
        rec.error = done.error.clone();
        if !done.child_runs.is_empty() {
            rec.child_run = Some(done.child_runs.join(" "));
        }
        if rec.status == WfStepStatus::Failed && self.failure.is_none() {
            self.failure = Some(format!(
                "step {} failed: {}",
                p.key,
                done.error.unwrap_or_default()
            ));
        }
        Some((rec, injected))
    }

    /// A step that could not even be prepared (its arguments did not evaluate).
    fn fail_unstarted(&mut self, step: &Step, key: &str, why: String) -> Result<(), WfError> {
        let mut rec = self.base_record(step, key);
        rec.status = WfStepStatus::Failed;
        rec.finished_at = Some(baton_engine::now_rfc3339());
        rec.error = Some(why.clone());
        self.failure = Some(format!("step {key} failed: {why}"));
        self.put(rec)?;
        if let Some(r) = self.records.get(key) {
            self.runner.hooks.step_finished(&self.run.id, r);
        }
        Ok(())
    }

    /// A value step's record: its outputs evaluated, succeeded at once.
    fn value_record(
        &self,
        step: &Step,
        inst: &Instance,
        outputs: &baton_config::Expr,
    ) -> Result<WfStep, String> {
        let v = self.eval(outputs, Some(inst))?;
        if v.as_entries().is_none() || v.is_null() {
            return Err(format!(
                "outputs must be an object, not {}",
                v.ty().friendly_name()
            ));
        }
        let now = baton_engine::now_rfc3339();
        let mut rec = self.base_record(step, &inst.key);
        rec.status = WfStepStatus::Succeeded;
        rec.attempts = 1;
        rec.started_at = Some(now.clone());
        rec.finished_at = Some(now);
        rec.duration_ms = Some(0);
        rec.outputs = Some(v.to_typed_json().to_string());
        Ok(rec)
    }

    /// An approval step reached: it waits.
    fn start_approval(&mut self, step: &Step, inst: &Instance) -> Result<(), WfError> {
        let StepKind::Approval { message, .. } = &step.kind else {
            return Ok(());
        };
        let text = match message {
            Some(m) => match self.eval(m, Some(inst)) {
                Ok(v) => v
                    .unmark_deep()
                    .0
                    .as_str()
                    .map(str::to_string)
                    .unwrap_or_default(),
                Err(e) => return self.fail_unstarted(step, &inst.key, e),
            },
            None => format!("Approve step {}?", inst.key),
        };
        let mut rec = self.base_record(step, &inst.key);
        rec.status = WfStepStatus::Waiting;
        rec.started_at = Some(baton_engine::now_rfc3339());
        rec.inputs = Some(serde_json::json!({ "message": text }).to_string());
        self.put(rec)?;
        self.runner.hooks.waiting(&self.run.id, &inst.key, &text);
        Ok(())
    }

    /// A waiting instance: decided since (approved, rejected, timed out, child finished)?
    /// True when its record changed.
    fn settle_waiting(&mut self, step: &Step, inst: &Instance) -> Result<bool, WfError> {
        // A decision may have been recorded since the record was read (an approver does not
        // need the run's claim): read it again.
        let fresh = self
            .runner
            .store
            .steps(&self.run.id)?
            .into_iter()
            .find(|r| r.key == inst.key);
        let Some(rec) = fresh.or_else(|| self.records.get(&inst.key).cloned()) else {
            return Ok(false);
        };
        self.records.insert(rec.key.clone(), rec.clone());
        match &step.kind {
            StepKind::Approval { timeout, .. } => {
                if let Some((approved, by, reason)) = decision(&rec) {
                    let mut rec = rec;
                    rec.finished_at = Some(baton_engine::now_rfc3339());
                    rec.attempts = 1;
                    let mut outs = BTreeMap::new();
                    outs.insert("approved_by".to_string(), Value::string(by.clone()));
                    if let Some(r) = &reason {
                        outs.insert("reason".to_string(), Value::string(r.clone()));
                    }
                    rec.outputs = Some(Value::object(outs).to_typed_json().to_string());
                    if approved {
                        rec.status = WfStepStatus::Succeeded;
                    } else {
                        rec.status = WfStepStatus::Failed;
                        let why = rejection(&by, reason.as_deref());
                        rec.error = Some(why.clone());
                        self.failure = Some(format!("step {} was {why}", inst.key));
                        self.rejected = true;
                    }
                    self.put(rec)?;
                    if let Some(r) = self.records.get(&inst.key) {
                        self.runner.hooks.step_finished(&self.run.id, r);
                    }
                    return Ok(true);
                }
                if let (Some(t), Some(started)) = (timeout, rec.started_at.as_deref()) {
                    if elapsed_since(started).is_some_and(|e| e >= *t) {
                        let why = format!("no decision within {}", humantime(*t));
                        return self.fail_unstarted(step, &inst.key, why).map(|_| true);
                    }
                }
                Ok(false)
            }
            StepKind::Workflow { .. } => {
                let Some(child) = rec
                    .child_run
                    .as_deref()
                    .and_then(|c| c.split_whitespace().last())
                    .map(str::to_string)
                else {
                    return Ok(false);
                };
                let Some(c) = self.runner.store.run(&child)? else {
                    return Ok(false);
                };
                if !c.status.is_final() {
                    return Ok(false);
                }
                let mut rec = rec;
                rec.finished_at = Some(baton_engine::now_rfc3339());
                if c.status == baton_state::WfRunStatus::Succeeded {
                    rec.status = WfStepStatus::Succeeded;
                } else {
                    rec.status = WfStepStatus::Failed;
                    let why = format!("child run {child} ended {}", c.status.as_str());
                    rec.error = Some(why.clone());
                    self.failure = Some(format!("step {} failed: {why}", inst.key));
                }
                self.put(rec)?;
                Ok(true)
            }
            _ => Ok(false),
        }
    }
}

/// What a prepared step does, for its record (no secret values: variables are listed by
/// name only, sensitive ones never shown).
fn describe(w: &Work) -> serde_json::Value {
    match w {
        Work::Command {
            sensitive: true, ..
        } => serde_json::json!({ "command": "(sensitive)" }),
        Work::Command { command, .. } => serde_json::json!({ "command": command }),
        Work::Stack {
            dir,
            env,
            vars,
            destroy,
            ..
        } => serde_json::json!({
            "dir": dir.to_string_lossy(),
            "env": env,
            "destroy": destroy,
            "vars": vars.iter().map(|(k, v)| {
                let shown = if v.contains_sensitive() { serde_json::json!("(sensitive)") } else { v.to_json() };
                (k.clone(), shown)
            }).collect::<serde_json::Map<_, _>>(),
        }),
        Work::Workflow { name, .. } => serde_json::json!({ "workflow": name }),
        Work::Playbook { opts, .. } => {
            use baton_remote::ansible::runner::{Hosts, Play};
            let path = |p: &std::path::Path| serde_json::json!(p.to_string_lossy());
            serde_json::json!({
                "playbook": match &opts.play { Play::File(p) => path(p), Play::Module { module, .. } => serde_json::json!(module) },
                "inventory": match &opts.hosts { Hosts::Inventory(p) => path(p), Hosts::Connection { name, .. } => serde_json::json!(name) },
                "limit": opts.limit,
                "tags": opts.tags,
                "skip_tags": opts.skip_tags,
                "check": opts.check,
                // Names only: values may be secrets.
                "extra_vars": opts.extra_vars.as_ref().and_then(|v| v.as_object()).map(|o| o.keys().cloned().collect::<Vec<_>>()),
            })
        }
    }
}

/// `smoke["a/b"]` → a file name.
pub(super) fn file_safe(key: &str) -> String {
    key.chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' || c == '_' {
                c
            } else {
                '_'
            }
        })
        .collect()
}

/// Time since an RFC 3339 UTC instant, if it parses.
fn elapsed_since(rfc3339: &str) -> Option<std::time::Duration> {
    let t: jiff::Timestamp = rfc3339.parse().ok()?;
    let now = jiff::Timestamp::now();
    let d = now.duration_since(t);
    std::time::Duration::try_from(d).ok()
}

fn humantime(d: std::time::Duration) -> String {
    format!("{}s", d.as_secs())
}

/// The plan JSON of a stack step about to run (null when it cannot be planned: the stack run
/// itself will report why).
fn stack_plan_json(
    dir: &std::path::Path,
    env: &str,
    vars: &[(String, Value)],
    destroy: bool,
) -> serde_json::Value {
    use baton_engine::lifecycle::{self, RunKind, RunRequest};
    let opts = baton_engine::plan::PlanOpts {
        mode: if destroy {
            baton_engine::PlanMode::Destroy
        } else {
            baton_engine::PlanMode::Normal
        },
        vars: super::perform::cli_vars(vars.iter().map(|(k, v)| (k.as_str(), v))),
        env: Vec::new(),
        ..baton_engine::plan::PlanOpts::default()
    };
    let mut req = RunRequest::new(dir, env, RunKind::Apply(opts));
    req.lock_timeout = std::time::Duration::from_secs(60);
    let Ok(store) =
        super::stack_location(dir, env).and_then(|l| l.open_state().map_err(|e| e.to_string()))
    else {
        return serde_json::Value::Null;
    };
    lifecycle::preview(store.as_ref(), &req)
        .ok()
        .and_then(|p| p.json)
        .unwrap_or(serde_json::Value::Null)
}

/// An approval step's recorded decision: approved, by whom, why.
fn decision(rec: &WfStep) -> Option<(bool, String, Option<String>)> {
    let d: serde_json::Value = serde_json::from_str(rec.approval.as_deref()?).ok()?;
    let approved = d.get("approved").and_then(|a| a.as_bool()) == Some(true);
    let by = d
        .get("by")
        .and_then(|b| b.as_str())
        .unwrap_or("someone")
        .to_string();
    let reason = d.get("reason").and_then(|r| r.as_str()).map(str::to_string);
    Some((approved, by, reason))
}

/// `rejected by X: reason`.
fn rejection(by: &str, reason: Option<&str>) -> String {
    format!(
        "rejected by {by}{}",
        reason.map(|r| format!(": {r}")).unwrap_or_default()
    )
}
