//! `workflow plan`: a workflow's steps in the order they can run, and for every stack step
//! whose arguments are known before the run (they depend on inputs only) the plan of that
//! stack and its policy gate's verdict, and for every `ansible_playbook` step whose arguments
//! are known, its `ansible-playbook --check` run — changing nothing and recording nothing.
//!
//! Must not start a run, write a store or create a stack's state.

use crate::exec::{resolve_inputs, InputValue, WfError};
use crate::graph;
use crate::model::{PlaybookStep, Step, StepKind, Workflow};
use crate::scope::WfScope;
use baton_backend::Location;
use baton_core::Sources;
use baton_engine::lifecycle::{self, RunKind, RunRequest};
use baton_engine::plan::PlanOpts;
use baton_engine::vars::CliVar;
use baton_engine::PlanMode;
use baton_eval::{Evaluator, FnCtx, Value};
use std::collections::BTreeMap;

/// One step as the plan shows it.
#[derive(Debug)]
pub struct StepPreview {
    pub name: String,
    pub kind: &'static str,
    pub after: Vec<String>,
    /// `for_each` or `count`.
    pub fan_out: Option<&'static str>,
    pub stack: Option<StackPreview>,
    /// An `ansible_playbook` step: its check run.
    pub playbook: Option<PlaybookPreview>,
}

/// What an `ansible_playbook` step would do, from `ansible-playbook --check`.
#[derive(Debug)]
pub enum PlaybookPreview {
    /// Its arguments depend on steps that have not run (or it fans out).
    Later {
        depends_on: Vec<String>,
    },
    Checked {
        playbook: String,
        /// `HOST: TASK` of the tasks that would change.
        changed_tasks: Vec<String>,
        /// The check run's recap, one host a line.
        recap: String,
        /// Hosts that failed or were unreachable in the check run, with their messages.
        failed: Option<String>,
    },
    Error(String),
}

/// What a stack step would do.
#[derive(Debug)]
pub enum StackPreview {
    /// Its arguments depend on steps that have not run.
    Later { depends_on: Vec<String> },
    Planned {
        dir: String,
        env: String,
        /// `1 to add, 0 to change, 0 to destroy`.
        summary: String,
        /// The policy gate's verdict: `pass`, `warn`, `soft_fail`, `hard_fail`.
        policy: String,
        denied: bool,
        findings: Vec<String>,
    },
    /// The stack's configuration, plan or arguments have errors.
    Error(String),
}

/// Previews workflow `wf` with `inputs`.
pub fn preview(
    wf: &Workflow,
    inputs: &[(String, InputValue)],
    sources: &Sources,
) -> Result<Vec<StepPreview>, WfError> {
    let values = resolve_inputs(wf, inputs)?;
    let order = graph::order(wf).map_err(|c| WfError::Definition {
        run: String::new(),
        message: format!("cycle {}", c.join(" → ")),
    })?;
    let mut out = Vec::new();
    for name in order {
        let Some(step) = wf.step(&name) else { continue };
        let stack = match &step.kind {
            StepKind::Apply { dir } | StepKind::Destroy { dir } => {
                Some(stack(wf, step, dir, &values, sources))
            }
            _ => None,
        };
        let playbook = match &step.kind {
            StepKind::AnsiblePlaybook(pb) => Some(playbook(wf, step, pb, &values, sources)),
            _ => None,
        };
        out.push(StepPreview {
            name: name.clone(),
            kind: step.kind.as_str(),
            after: graph::dependencies(step)
                .into_iter()
                .map(|(d, _)| d)
                .collect(),
            fan_out: if step.for_each.is_some() {
                Some("for_each")
            } else if step.count.is_some() {
                Some("count")
            } else {
                None
            },
            stack,
            playbook,
        });
    }
    Ok(out)
}

/// The steps named by `exprs`' references (`step.NAME`).
fn step_refs<'e>(exprs: impl IntoIterator<Item = &'e baton_config::Expr>) -> Vec<String> {
    let mut later: Vec<String> = Vec::new();
    for e in exprs {
        for r in baton_eval::refs::references(e).0 {
            if let baton_eval::refs::Reference::Resource(a) = &r.reference {
                if a.type_ == "step" && !later.contains(&a.name) {
                    later.push(a.name.clone());
                }
            }
        }
    }
    later
}

/// The check run of an `ansible_playbook` step whose arguments depend on inputs only.
fn playbook(
    wf: &Workflow,
    step: &Step,
    pb: &PlaybookStep,
    inputs: &BTreeMap<String, Value>,
    sources: &Sources,
) -> PlaybookPreview {
    let later = step_refs(pb.exprs());
    if !later.is_empty() || step.for_each.is_some() || step.count.is_some() {
        return PlaybookPreview::Later { depends_on: later };
    }
    let steps = std::collections::HashMap::new();
    let scope = WfScope {
        dir: &wf.dir,
        run_id: "",
        workflow: &wf.name,
        inputs,
        steps: &steps,
        each: None,
        count: None,
    };
    let eval = |e: &baton_config::Expr| -> Result<Value, String> {
        let mut ev = Evaluator::new(
            &scope,
            FnCtx {
                base_dir: &wf.dir,
                sources,
                planning: true,
                plan_timestamp: None,
            },
        );
        ev.eval(e)
            .map_err(|d| format!("{}: {}", d.summary, d.detail))
    };
    let (mut opts, sensitive) = match crate::exec::playbook::prepare(pb, &wf.dir, &eval) {
        Ok(o) => o,
        Err(e) => return PlaybookPreview::Error(e),
    };
    opts.check = true;
    let playbook = match &opts.play {
        baton_remote::ansible::runner::Play::File(p) => p
            .strip_prefix(&wf.dir)
            .unwrap_or(p)
            .to_string_lossy()
            .to_string(),
        baton_remote::ansible::runner::Play::Module { module, .. } => module.clone(),
    };
    use baton_remote::ansible::runner;
    let run = match runner::playbook_executable().and_then(|exe| runner::run(&exe, &opts)) {
        Ok(r) => r,
        Err(e) => return PlaybookPreview::Error(e.to_string()),
    };
    let failures = run.failures();
    let failed = if failures.is_empty() {
        None
    } else if sensitive {
        let hosts: Vec<String> = failures.into_iter().map(|(h, _)| h).collect();
        Some(format!(
            "{} (task messages suppressed: extra_vars are sensitive)",
            hosts.join(", ")
        ))
    } else {
        Some(run.failure_message())
    };
    PlaybookPreview::Checked {
        playbook,
        changed_tasks: run.changed_tasks(),
        recap: run.recap_text(),
        failed,
    }
}

fn stack(
    wf: &Workflow,
    step: &Step,
    dir: &baton_config::Expr,
    inputs: &BTreeMap<String, Value>,
    sources: &Sources,
) -> StackPreview {
    // Arguments that refer to other steps are known only when the run gets there.
    let later = step_refs(
        [Some(dir), step.env.as_ref(), step.vars.as_ref()]
            .into_iter()
            .flatten(),
    );
    if !later.is_empty() || step.for_each.is_some() || step.count.is_some() {
        return StackPreview::Later { depends_on: later };
    }
    let steps = std::collections::HashMap::new();
    let scope = WfScope {
        dir: &wf.dir,
        run_id: "",
        workflow: &wf.name,
        inputs,
        steps: &steps,
        each: None,
        count: None,
    };
    let mut ev = Evaluator::new(
        &scope,
        FnCtx {
            base_dir: &wf.dir,
            sources,
            planning: true,
            plan_timestamp: None,
        },
    );
    let text = |v: Result<Value, baton_core::Diagnostic>, what: &str| -> Result<String, String> {
        let v = v
            .map_err(|d| format!("{what}: {}", d.detail))?
            .unmark_deep()
            .0;
        v.as_str()
            .map(str::to_string)
            .ok_or_else(|| format!("{what} must be a string"))
    };
    let rel = match text(ev.eval(dir), "the stack directory") {
        Ok(r) => r,
        Err(e) => return StackPreview::Error(e),
    };
    let env = match &step.env {
        Some(e) => match text(ev.eval(e), "env") {
            Ok(v) => v,
            Err(e) => return StackPreview::Error(e),
        },
        None => "default".to_string(),
    };
    let vars: Vec<CliVar> = match &step.vars {
        Some(e) => match ev.eval(e) {
            Ok(v) => v
                .as_entries()
                .map(|entries| {
                    crate::exec::perform::cli_vars(entries.iter().map(|(k, v)| (&**k, v)))
                })
                .unwrap_or_default(),
            Err(d) => return StackPreview::Error(format!("vars: {}", d.detail)),
        },
        None => Vec::new(),
    };
    let stack_dir = wf.dir.join(&rel);
    if !stack_dir.is_dir() {
        return StackPreview::Error(format!("there is no stack directory {rel:?}"));
    }
    let opts = PlanOpts {
        mode: if matches!(step.kind, StepKind::Destroy { .. }) {
            PlanMode::Destroy
        } else {
            PlanMode::Normal
        },
        vars,
        env: Vec::new(),
        ..PlanOpts::default()
    };
    let req = RunRequest::new(&stack_dir, &env, RunKind::Apply(opts));
    let location = match crate::exec::stack_location(&stack_dir, &env) {
        Ok(l) => l,
        Err(e) => return StackPreview::Error(e),
    };
    // A stack never applied has no state yet: plan against an empty one, creating nothing.
    let scratch = match &location {
        Location::Sqlite(path) if !path.exists() => Some(
            std::env::temp_dir().join(format!("baton-preview-{}.db", baton_engine::new_run_id())),
        ),
        _ => None,
    };
    let opened = match &scratch {
        Some(s) => Location::Sqlite(s.clone()).open_state(),
        None => location.open_state(),
    };
    let result = opened
        .map_err(|e| e.to_string())
        .and_then(|store| lifecycle::preview(store.as_ref(), &req).map_err(|e| e.to_string()));
    if let Some(s) = &scratch {
        for suffix in ["", "-wal", "-shm"] {
            let mut p = s.clone().into_os_string();
            p.push(suffix);
            let _ = std::fs::remove_file(std::path::PathBuf::from(p));
        }
    }
    let p = match result {
        Ok(p) => p,
        Err(e) => return StackPreview::Error(e),
    };
    let Some(plan) = p.plan else {
        let errors: Vec<String> = p
            .diags
            .errors()
            .map(|d| format!("{}: {}", d.summary, d.detail))
            .collect();
        return StackPreview::Error(errors.join("; "));
    };
    let (policy, denied, findings) = match &p.gate {
        Some(g) => (
            baton_engine::policy::outcome_str(g.decision.outcome).to_string(),
            g.blocked,
            g.decision
                .findings
                .iter()
                .map(|f| f.message.clone())
                .collect(),
        ),
        None => ("pass".to_string(), false, Vec::new()),
    };
    StackPreview::Planned {
        dir: rel,
        env,
        summary: baton_engine::apply::plan_summary(&plan),
        policy,
        denied,
        findings,
    }
}
