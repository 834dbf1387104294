//! Workflows as written in `*.baton.hcl` files: inputs, steps (apply, destroy, command,
//! approval, child workflow, value, Ansible playbook) with their dependencies, fan-out, retries, timeouts, cache and
//! limits; compensations; schedules; and the file-level `limit` blocks.
//!
//! Plain data decoded at load time: settings are typed (durations, attempts, failure policy),
//! expressions stay unevaluated (`Expr`) until a run evaluates them. Must not evaluate or run.

use baton_config::{Expr, FailurePolicy, Retry};
use baton_core::Span;
use baton_eval::types::TypeConstraint;
use std::path::PathBuf;
use std::time::Duration;

/// Every workflow of a directory's `*.baton.hcl` files, and their limits.
#[derive(Clone, Debug, Default)]
pub struct Workflows {
    pub workflows: Vec<Workflow>,
    pub limits: Vec<Limit>,
}

impl Workflows {
    pub fn get(&self, name: &str) -> Option<&Workflow> {
        self.workflows.iter().find(|w| w.name == name)
    }

    pub fn limit(&self, name: &str) -> Option<&Limit> {
        self.limits.iter().find(|l| l.name == name)
    }
}

/// `limit "db" { max = 1 }`: at most `max` steps naming it run at once, across workflows and
/// runs.
#[derive(Clone, Debug)]
pub struct Limit {
    pub name: String,
    pub max: u32,
    pub span: Span,
}

#[derive(Clone, Debug)]
pub struct Workflow {
    pub name: String,
    /// The directory of the file that declares it: relative paths resolve against it.
    pub dir: PathBuf,
    pub def_span: Span,
    pub inputs: Vec<Input>,
    /// Runs of this workflow at once; others queue. `None`: unlimited.
    pub concurrency: Option<u32>,
    pub on_failure: FailurePolicy,
    /// Where command steps run: in the process advancing the run, or on workers.
    pub executor: Executor,
    pub steps: Vec<Step>,
    /// Run, in order, after a failed run was rolled back.
    pub compensate: Vec<Step>,
    pub schedules: Vec<Schedule>,
    /// `trigger "webhook" "NAME"` blocks: runs started by a signed HTTP request.
    pub triggers: Vec<Trigger>,
    /// Steps by name, built on first lookup (a workflow is not changed once loaded).
    pub index: std::sync::OnceLock<std::collections::HashMap<String, usize>>,
}

impl Workflow {
    pub fn step(&self, name: &str) -> Option<&Step> {
        let index = self.index.get_or_init(|| {
            self.steps
                .iter()
                .enumerate()
                .map(|(i, s)| (s.name.clone(), i))
                .collect()
        });
        index.get(name).and_then(|&i| self.steps.get(i))
    }
}

#[derive(Clone, Debug)]
pub struct Input {
    pub name: String,
    pub type_: Option<TypeConstraint>,
    /// A constant expression.
    pub default: Option<Expr>,
    pub description: Option<String>,
    pub sensitive: bool,
    pub span: Span,
}

/// What a step does.
#[derive(Clone, Debug)]
pub enum StepKind {
    /// Plan and apply the root module in a directory (relative to the workflow's file).
    Apply { dir: Expr },
    /// Destroy every object of the root module in a directory.
    Destroy { dir: Expr },
    /// Run a shell command (`/bin/sh -c`) in the workflow's directory.
    Command { command: Expr },
    /// Wait for a person: `baton approve RUN STEP` (or `--reject`).
    Approval {
        message: Option<Expr>,
        timeout: Option<Duration>,
        /// Who may decide over the HTTP API.
        rules: ApprovalRules,
    },
    /// Run another workflow of the same directory as a child run.
    Workflow { name: String, name_span: Span },
    /// Compute outputs from expressions, running nothing: derive a value for later steps,
    /// or gather a fan-out's outputs into one.
    Value { outputs: Expr },
    /// Run an Ansible playbook (`ansible_playbook { ... }`).
    AnsiblePlaybook(Box<PlaybookStep>),
}

/// An `ansible_playbook` block: the playbook, where it runs and how. Each argument an
/// expression evaluated when the step starts.
#[derive(Clone, Debug)]
pub struct PlaybookStep {
    /// The playbook file, relative to the workflow's directory.
    pub playbook: Expr,
    /// An inventory file or directory, relative to the workflow's directory.
    pub inventory: Expr,
    pub limit: Option<Expr>,
    /// An object of variables (`-e`, through a private file).
    pub extra_vars: Option<Expr>,
    pub tags: Option<Expr>,
    pub skip_tags: Option<Expr>,
    /// Run with `--check` (report what would change, change nothing).
    pub check: Option<Expr>,
}

impl PlaybookStep {
    /// Its expressions, in a fixed order.
    pub fn exprs(&self) -> Vec<&Expr> {
        let mut out = vec![&self.playbook, &self.inventory];
        out.extend(
            [
                &self.limit,
                &self.extra_vars,
                &self.tags,
                &self.skip_tags,
                &self.check,
            ]
            .into_iter()
            .flatten(),
        );
        out
    }
}

impl StepKind {
    /// `apply`, `destroy`, `command`, `approval`, `workflow`, `value` or `ansible_playbook`.
    pub fn as_str(&self) -> &'static str {
        match self {
            StepKind::Apply { .. } => "apply",
            StepKind::Destroy { .. } => "destroy",
            StepKind::Command { .. } => "command",
            StepKind::Approval { .. } => "approval",
            StepKind::Workflow { .. } => "workflow",
            StepKind::Value { .. } => "value",
            StepKind::AnsiblePlaybook(_) => "ansible_playbook",
        }
    }
}

#[derive(Clone, Debug)]
pub struct Step {
    pub name: String,
    pub def_span: Span,
    pub kind: StepKind,
    /// An apply or destroy step's environment (its own state): an expression for a string.
    pub env: Option<Expr>,
    /// An apply or destroy step's variables: an expression for an object.
    pub vars: Option<Expr>,
    /// A workflow step's inputs: an expression for an object.
    pub inputs: Option<Expr>,
    /// A command step's extra environment variables: an expression for a map of strings.
    pub environment: Option<Expr>,
    /// Steps named in `depends_on`, with the span of each name.
    pub depends_on: Vec<(String, Span)>,
    pub for_each: Option<Expr>,
    pub count: Option<Expr>,
    pub retry: Retry,
    /// How long one attempt may take (a command is killed; an apply is stopped).
    pub timeout: Option<Duration>,
    /// Skip the step when a successful run produced the same key within `cache_ttl`.
    pub cache_key: Option<Expr>,
    pub cache_ttl: Option<Duration>,
    /// Limits (`limit` blocks of the files) the step holds a slot of while it runs.
    pub limits: Vec<(String, Span)>,
    /// Worker labels a command step requires when it runs on workers (`run_on = { zone =
    /// "eu" }`): an expression for a map of strings.
    pub run_on: Option<Expr>,
}

/// Who may decide an approval step through the HTTP API (`approvers`, `role`,
/// `allow_self_approval` in its `approval` block). The CLI on the agent's machine reads the
/// store directly and is not held to them.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ApprovalRules {
    /// Token names allowed to decide; empty: any token whose role may approve.
    pub approvers: Vec<String>,
    /// The role a decider must hold (an admin holds every role).
    pub role: Option<baton_state::Role>,
    /// Whether whoever started the run may decide it (default false).
    pub allow_self_approval: bool,
}

impl ApprovalRules {
    /// Whether `decider` (a token's name, with role `role`) may decide a run started by
    /// `started_by` (the run's `who`; an API run's is `api:NAME`). `Err` says why not.
    pub fn check(
        &self,
        decider: &str,
        role: baton_state::Role,
        started_by: &str,
    ) -> Result<(), String> {
        let actor = format!("api:{decider}");
        if !self.allow_self_approval && (started_by == actor || started_by == decider) {
            return Err(format!(
                "{decider} started this run and may not approve it (the step does not set allow_self_approval = true)"
            ));
        }
        if let Some(r) = self.role {
            if role != r && role != baton_state::Role::Admin {
                return Err(format!(
                    "this approval needs the role {r}; token {decider} has the role {role}"
                ));
            }
        }
        if !self.approvers.is_empty() && !self.approvers.iter().any(|a| a == decider) {
            return Err(format!(
                "only {} may decide this approval",
                self.approvers.join(", ")
            ));
        }
        Ok(())
    }
}

/// `trigger "webhook" "NAME" { secret_env = "VAR", inputs = { … }, input_paths = { … } }`.
#[derive(Clone, Debug)]
pub struct Trigger {
    pub name: String,
    /// The environment variable of the agent holding the HMAC secret.
    pub secret_env: String,
    /// A constant expression for inputs given to every run.
    pub inputs: Option<Expr>,
    /// Inputs taken from the request's JSON body: (input name, JSON pointer).
    pub input_paths: Vec<(String, String)>,
    pub span: Span,
}

/// Where a workflow's command steps run (`local`, the default, or `workers`).
pub use baton_config::Executor;

/// `schedule "nightly" { cron = "0 3 * * *", timezone = "Europe/Paris", inputs = { … } }`.
#[derive(Clone, Debug)]
pub struct Schedule {
    pub name: String,
    /// Five fields (minute hour day-of-month month day-of-week), or six with seconds first.
    pub cron: String,
    pub cron_span: Span,
    /// An IANA zone name; `None`: UTC.
    pub timezone: Option<String>,
    /// A constant expression for the run's inputs.
    pub inputs: Option<Expr>,
    pub span: Span,
}
