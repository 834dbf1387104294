//! The plan model: per resource instance, the action Baton will take with before/after values,
//! and per root output its change. A plan is applied exactly as reviewed: everything apply
//! needs (prior state identity, variables, the configuration's text) travels with it.
//!
//! Plain data. Wire formats (plan file, plan JSON) live in their own modules.

use baton_core::{InstanceAddr, InstanceKey, ModuleInstance, ResourceAddr};
use baton_eval::{PathStep, Value};
use std::collections::BTreeMap;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Action {
    NoOp,
    Create,
    Read,
    Update,
    DeleteThenCreate,
    CreateThenDelete,
    Delete,
    /// Remove from state without destroying (a `removed` block with `destroy = false`).
    Forget,
}

impl Action {
    /// The `change.actions` array of plan JSON.
    pub fn json_actions(self) -> &'static [&'static str] {
        match self {
            Action::NoOp => &["no-op"],
            Action::Create => &["create"],
            Action::Read => &["read"],
            Action::Update => &["update"],
            Action::DeleteThenCreate => &["delete", "create"],
            Action::CreateThenDelete => &["create", "delete"],
            Action::Delete => &["delete"],
            Action::Forget => &["forget"],
        }
    }

    pub fn from_json_actions(a: &[String]) -> Option<Action> {
        let v: Vec<&str> = a.iter().map(String::as_str).collect();
        Some(match v.as_slice() {
            ["no-op"] => Action::NoOp,
            ["create"] => Action::Create,
            ["read"] => Action::Read,
            ["update"] => Action::Update,
            ["delete", "create"] => Action::DeleteThenCreate,
            ["create", "delete"] => Action::CreateThenDelete,
            ["delete"] => Action::Delete,
            ["forget"] => Action::Forget,
            _ => return None,
        })
    }

    pub fn is_replace(self) -> bool {
        matches!(self, Action::DeleteThenCreate | Action::CreateThenDelete)
    }
}

/// Why an action was chosen, when it is not obvious (plan JSON's `action_reason`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ActionReason {
    ReplaceBecauseTainted,
    ReplaceBecauseCannotUpdate,
    ReplaceByTriggers,
    ReplaceByRequest,
    DeleteBecauseNoResourceConfig,
    DeleteBecauseCountIndex,
    DeleteBecauseEachKey,
    DeleteBecauseNoModule,
    ReadBecauseConfigUnknown,
    ReadBecauseDependencyPending,
    /// Rollback: the object replaced by create-before-destroy still exists (deposed) and
    /// becomes current again instead of being recreated.
    RestoreDeposed,
    /// Rollback of a `forget`: the object is recorded in state again (no provider call).
    Readopt,
    /// Rollback of an import: the object is forgotten, not destroyed.
    UndoImport,
}

impl ActionReason {
    pub fn as_json(self) -> &'static str {
        match self {
            ActionReason::ReplaceBecauseTainted => "replace_because_tainted",
            ActionReason::ReplaceBecauseCannotUpdate => "replace_because_cannot_update",
            ActionReason::ReplaceByTriggers => "replace_by_triggers",
            ActionReason::ReplaceByRequest => "replace_by_request",
            ActionReason::DeleteBecauseNoResourceConfig => "delete_because_no_resource_config",
            ActionReason::DeleteBecauseCountIndex => "delete_because_count_index",
            ActionReason::DeleteBecauseEachKey => "delete_because_each_key",
            ActionReason::DeleteBecauseNoModule => "delete_because_no_module",
            ActionReason::ReadBecauseConfigUnknown => "read_because_config_unknown",
            ActionReason::ReadBecauseDependencyPending => "read_because_dependency_pending",
            ActionReason::RestoreDeposed => "restore_deposed",
            ActionReason::Readopt => "readopt",
            ActionReason::UndoImport => "undo_import",
        }
    }

    pub fn from_json(s: &str) -> Option<ActionReason> {
        use ActionReason::*;
        [
            ReplaceBecauseTainted,
            ReplaceBecauseCannotUpdate,
            ReplaceByTriggers,
            ReplaceByRequest,
            DeleteBecauseNoResourceConfig,
            DeleteBecauseCountIndex,
            DeleteBecauseEachKey,
            DeleteBecauseNoModule,
            ReadBecauseConfigUnknown,
            ReadBecauseDependencyPending,
            RestoreDeposed,
            Readopt,
            UndoImport,
        ]
        .into_iter()
        .find(|r| r.as_json() == s)
    }
}

/// The planned change of one resource instance object.
#[derive(Clone, Debug)]
pub struct ResourceChange {
    pub addr: InstanceAddr,
    /// Set when the change concerns a deposed object rather than the current one.
    pub deposed: Option<String>,
    /// Provider local name and source address.
    pub provider_name: String,
    pub provider_source: String,
    pub action: Action,
    pub reason: Option<ActionReason>,
    /// The object before (null for create) and after (null for delete), with marks.
    pub before: Value,
    pub after: Value,
    /// Attribute paths whose change forces the replacement.
    pub replace_paths: Vec<Vec<PathStep>>,
    /// Resources this object depends on (recorded into state for later destroy ordering).
    pub dependencies: Vec<String>,
    pub create_before_destroy: bool,
    /// The address the object had before a `moved` block (or an implicit move) renamed it.
    /// Boxed: rare, and an address is large.
    pub previous_addr: Option<Box<InstanceAddr>>,
    /// The id of an object being adopted by an `import` block.
    pub importing: Option<String>,
}

impl ResourceChange {
    /// Whether applying this change does anything (an action, a move or an import).
    pub fn is_effective(&self) -> bool {
        !matches!(self.action, Action::NoOp)
            || self.previous_addr.is_some()
            || self.importing.is_some()
    }
}

/// The planned change of one root output.
#[derive(Clone, Debug)]
pub struct OutputChange {
    pub name: String,
    pub action: Action,
    pub before: Value,
    pub after: Value,
    pub sensitive: bool,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PlanMode {
    Normal,
    Destroy,
    RefreshOnly,
    /// Returning objects to recorded values (rollback, rollback to a version): changes carry
    /// the exact objects to write; configuration is not evaluated.
    Restore,
}

impl PlanMode {
    pub fn as_str(self) -> &'static str {
        match self {
            PlanMode::Normal => "normal",
            PlanMode::Destroy => "destroy",
            PlanMode::RefreshOnly => "refresh-only",
            PlanMode::Restore => "restore",
        }
    }
}

/// An object that changed outside Baton, found by refresh.
#[derive(Clone, Debug)]
pub struct Drift {
    pub addr: InstanceAddr,
    pub deposed: Option<String>,
    pub provider_name: String,
    pub provider_source: String,
    pub before: Value,
    /// Null when the object no longer exists.
    pub after: Value,
}

/// A whole plan.
#[derive(Clone, Debug)]
pub struct Plan {
    pub mode: PlanMode,
    /// Identity of the state the plan was made against.
    pub lineage: String,
    pub serial: u64,
    pub changes: Vec<ResourceChange>,
    pub outputs: Vec<OutputChange>,
    pub drift: Vec<Drift>,
    /// Root input variable values used (marks kept).
    pub variables: BTreeMap<String, Value>,
    /// The configuration's files as planned: (path relative to the root module, text).
    pub config_files: Vec<(String, String)>,
    pub targets: Vec<String>,
    pub workspace: String,
    /// True when the plan could not be completed (it must not be applied).
    pub errored: bool,
    /// Objects as refreshed during planning (written to state on apply).
    pub refreshed: BTreeMap<(InstanceAddr, Option<String>), Value>,
    /// Root module output values after the plan (for `plan --json` planned_values).
    pub planned_outputs: BTreeMap<String, (Value, bool)>,
    pub terraform_version: String,
    pub timestamp: String,
    /// Objects renamed in state before planning: (from, to), deposed objects included.
    pub moves: Vec<(InstanceAddr, InstanceAddr)>,
    /// The outcome of every condition evaluated while planning, per object instance (plan
    /// JSON's `checks`).
    pub checks: Vec<CheckResult>,
}

/// An object that has conditions, named within its module (Terraform's "checkable object").
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Checkable {
    /// A managed resource or data source with preconditions or postconditions.
    Resource(ResourceAddr),
    /// An output value with preconditions.
    Output(String),
    /// A `check` block.
    Check(String),
    /// An input variable with validation rules.
    Var(String),
}

/// Where a set of conditions stands; ordered from best to worst, so the worst of several is
/// their aggregate.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum CheckStatus {
    Pass,
    /// A condition depends on a value known only after apply.
    Unknown,
    Fail,
    /// A condition could not be evaluated.
    Error,
}

impl CheckStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            CheckStatus::Pass => "pass",
            CheckStatus::Unknown => "unknown",
            CheckStatus::Fail => "fail",
            CheckStatus::Error => "error",
        }
    }

    pub fn parse(s: &str) -> Option<CheckStatus> {
        Some(match s {
            "pass" => CheckStatus::Pass,
            "unknown" => CheckStatus::Unknown,
            "fail" => CheckStatus::Fail,
            "error" => CheckStatus::Error,
            _ => return None,
        })
    }
}

/// The conditions of one instance of a checkable object: their aggregate status and the
/// error messages of those that failed.
#[derive(Clone, Debug, PartialEq)]
pub struct CheckResult {
    pub module: ModuleInstance,
    pub object: Checkable,
    /// The resource instance key (`None` for everything else).
    pub key: Option<InstanceKey>,
    pub status: CheckStatus,
    pub problems: Vec<String>,
}

impl Plan {
    /// Counts of (add, change, destroy) as the summary line prints them.
    pub fn summary(&self) -> (usize, usize, usize) {
        let mut add = 0;
        let mut change = 0;
        let mut destroy = 0;
        for c in &self.changes {
            match c.action {
                Action::Create => add += 1,
                Action::Update => change += 1,
                Action::Delete => destroy += 1,
                Action::DeleteThenCreate | Action::CreateThenDelete => {
                    add += 1;
                    destroy += 1;
                }
                Action::NoOp | Action::Read | Action::Forget => {}
            }
        }
        (add, change, destroy)
    }

    /// Counts of (import, forget) for the summary line.
    pub fn summary_extra(&self) -> (usize, usize) {
        let import = self
            .changes
            .iter()
            .filter(|c| c.importing.is_some())
            .count();
        let forget = self
            .changes
            .iter()
            .filter(|c| c.action == Action::Forget)
            .count();
        (import, forget)
    }

    /// Does applying this plan change anything (resources, outputs or drift acceptance)?
    pub fn has_changes(&self) -> bool {
        self.changes.iter().any(ResourceChange::is_effective)
            || !self.moves.is_empty()
            || self.outputs.iter().any(|o| o.action != Action::NoOp)
            || (self.mode == PlanMode::RefreshOnly && !self.drift.is_empty())
    }
}
