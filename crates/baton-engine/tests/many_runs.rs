//! Many runs at once in one process through the engine's run API
//! ([`baton_engine::lifecycle::run`]): ten stacks in their own directories, environments,
//! variables and state stores — some applying, some failing and rolling back, some destroying,
//! one denied by policy, one rolled back by request — all started together on their own
//! threads. Each one's state, journal, audit record, run id in its commands' environment and
//! `plantimestamp()` must be its own. Nothing here may depend on the process's working
//! directory or environment.

use baton_core::Diagnostics;
use baton_engine::lifecycle::{
    self, Approval, RollbackTarget, RunHooks, RunKind, RunOutcome, RunRequest,
};
use baton_engine::plan::PlanOpts;
use baton_engine::vars::CliVar;
use baton_engine::{NoObserver, Observer, Plan, PlanMode};
use baton_state::sqlite::SqliteStore;
use baton_state::{EntryStatus, RunStatus, StateStore};
use std::path::{Path, PathBuf};
use std::sync::Mutex;

/// Every stack's configuration: two objects whose commands record the run id and the plan's
/// timestamp; `fail` makes the second one fail after the first was created.
const CONFIG: &str = r#"variable "name" {
  type = string
}

variable "fail" {
  type    = bool
  default = false
}

resource "terraform_data" "first" {
  input = var.name
  provisioner "local-exec" {
    command     = "printf '%s %s' \"$BATON_RUN_ID\" \"$T\" > first.txt"
    environment = { T = plantimestamp() }
  }
}

resource "terraform_data" "second" {
  input      = "${var.name}-second"
  depends_on = [terraform_data.first]
  provisioner "local-exec" {
    command = var.fail ? "echo failing on purpose >&2; exit 3" : "printf '%s' \"$BATON_RUN_ID\" > second.txt"
  }
}

output "name" {
  value = "${terraform.workspace}/${terraform_data.first.output}"
}

output "planned_at" {
  value = plantimestamp()
}
"#;

const DENY_ALL: &str = r#"package baton.stack

import rego.v1

deny contains msg if {
  some rc in input.resource_changes
  "create" in rc.change.actions
  msg := sprintf("%s may not be created here", [rc.address])
}
"#;

/// The hooks of a test run: approve everything, keep the diagnostics.
#[derive(Default)]
struct Hooks {
    diags: Mutex<Vec<String>>,
    approvals: Mutex<Vec<Approval>>,
}

impl RunHooks for Hooks {
    fn observer(&self) -> &dyn Observer {
        &NoObserver
    }
    fn diagnostics(&self, d: &Diagnostics) {
        if let Ok(mut all) = self.diags.lock() {
            all.extend(d.iter().map(|d| format!("{}: {}", d.summary, d.detail)));
        }
    }
    fn approve(&self, what: Approval, _plan: &Plan) -> bool {
        if let Ok(mut a) = self.approvals.lock() {
            a.push(what);
        }
        true
    }
}

/// What a stack does in the concurrent phase.
#[derive(Clone, Copy, Debug, PartialEq)]
enum Job {
    Apply,
    FailAndRollBack,
    Destroy,
    Denied,
    RollBackEarlierRun,
}

struct Stack {
    name: String,
    workspace: &'static str,
    dir: PathBuf,
    store: PathBuf,
    job: Job,
    /// The run before the concurrent phase (destroy and roll-back stacks).
    earlier_run: Option<String>,
}

impl Stack {
    fn new(root: &Path, i: usize, job: Job) -> Stack {
        let name = format!("stack{i}");
        let dir = root.join(&name);
        std::fs::create_dir_all(&dir).expect("stack dir");
        std::fs::write(dir.join("main.tf"), CONFIG).expect("config");
        if job == Job::Denied {
            std::fs::create_dir_all(dir.join("policies")).expect("policies dir");
            std::fs::write(dir.join("policies").join("deny.rego"), DENY_ALL).expect("policy");
        }
        // Half the stores live beside their configuration, half in a directory of their own.
        let store = if i.is_multiple_of(2) {
            dir.join(".baton").join("state.db")
        } else {
            root.join("stores").join(format!("{name}.db"))
        };
        Stack {
            workspace: if i.is_multiple_of(3) {
                "staging"
            } else {
                "default"
            },
            name,
            dir,
            store,
            job,
            earlier_run: None,
        }
    }

    fn open(&self) -> SqliteStore {
        SqliteStore::open(&self.store).expect("open store")
    }

    fn request(&self, kind: RunKind) -> RunRequest {
        let mut req = RunRequest::new(&self.dir, self.workspace, kind);
        req.parallelism = 2;
        req
    }

    fn plan_opts(&self, mode: PlanMode) -> PlanOpts {
        let mut vars = vec![CliVar::Assign("name".into(), self.name.clone())];
        if self.job == Job::FailAndRollBack {
            vars.push(CliVar::Assign("fail".into(), "true".into()));
        }
        PlanOpts {
            mode,
            vars,
            env: Vec::new(),
            ..PlanOpts::default()
        }
    }

    /// Runs `kind` to its outcome; panics on an error (the test's stacks are all valid).
    fn run(&self, kind: RunKind) -> (RunRequest, RunOutcome, Hooks) {
        let req = self.request(kind);
        let hooks = Hooks::default();
        let store = self.open();
        let outcome =
            lifecycle::run(&store, &req, &hooks).unwrap_or_else(|e| panic!("{}: {e}", self.name));
        (req, outcome, hooks)
    }

    /// The phase before the concurrent one: stacks that destroy or roll back need something.
    fn prepare(&mut self) {
        if !matches!(self.job, Job::Destroy | Job::RollBackEarlierRun) {
            return;
        }
        let (req, outcome, _) = self.run(RunKind::Apply(self.plan_opts(PlanMode::Normal)));
        let RunOutcome::Ran(ran) = outcome else {
            panic!("{}: the first apply did not run", self.name)
        };
        assert!(ran.succeeded(), "{}: {:?}", self.name, ran.report.diags);
        self.earlier_run = Some(req.run_id);
    }

    /// The concurrent phase.
    fn go(&self) -> Seen {
        let kind = match self.job {
            Job::Apply | Job::FailAndRollBack | Job::Denied => {
                RunKind::Apply(self.plan_opts(PlanMode::Normal))
            }
            Job::Destroy => RunKind::Apply(self.plan_opts(PlanMode::Destroy)),
            Job::RollBackEarlierRun => RunKind::Rollback(RollbackTarget::Run(
                self.earlier_run.clone().expect("an earlier run"),
            )),
        };
        let (req, outcome, hooks) = self.run(kind);
        let diags = hooks.diags.into_inner().unwrap_or_default();
        Seen {
            run_id: req.run_id,
            outcome,
            diags,
        }
    }

    fn read(&self, file: &str) -> Option<String> {
        std::fs::read_to_string(self.dir.join(file)).ok()
    }
}

struct Seen {
    run_id: String,
    outcome: RunOutcome,
    diags: Vec<String>,
}

fn output(store: &SqliteStore, name: &str) -> Option<String> {
    let snap = store.current().expect("current state");
    let v = baton_engine::statecodec::decode_output(snap.outputs.get(name)?).expect("output");
    v.as_str().map(str::to_string)
}

#[test]
fn ten_stacks_run_at_once_and_each_keeps_its_own_state_journal_audit_id_and_time() {
    let root = tempfile::tempdir().expect("temp dir");
    let jobs = [
        Job::Apply,
        Job::FailAndRollBack,
        Job::Destroy,
        Job::Apply,
        Job::Denied,
        Job::FailAndRollBack,
        Job::RollBackEarlierRun,
        Job::Apply,
        Job::Destroy,
        Job::Apply,
    ];
    let mut stacks: Vec<Stack> = jobs
        .iter()
        .enumerate()
        .map(|(i, job)| Stack::new(root.path(), i, *job))
        .collect();
    for s in &mut stacks {
        s.prepare();
    }

    let seen: Vec<Seen> = std::thread::scope(|scope| {
        let handles: Vec<_> = stacks.iter().map(|s| scope.spawn(move || s.go())).collect();
        handles
            .into_iter()
            .map(|h| h.join().expect("a run's thread"))
            .collect()
    });

    let mut ids: Vec<&str> = seen.iter().map(|s| s.run_id.as_str()).collect();
    ids.sort();
    ids.dedup();
    assert_eq!(ids.len(), stacks.len(), "every run has an id of its own");

    for (stack, this) in stacks.iter().zip(&seen) {
        let seen_all = &seen;
        let seen = this;
        let who = &stack.name;
        let store = stack.open();
        let runs = store.runs().expect("runs");
        let this_run = runs.iter().find(|r| r.id == seen.run_id);
        let audit = store.audit_records().expect("audit records");
        let audited: Vec<_> = audit
            .iter()
            .filter(|r| r.run_id.as_deref() == Some(seen.run_id.as_str()))
            .collect();
        assert!(
            audited.iter().all(|r| r.environment == stack.workspace),
            "{who}: the audit records name its environment"
        );
        // No other stack's run reached this store.
        for other in seen_all {
            if other.run_id != seen.run_id {
                assert!(
                    runs.iter().all(|r| r.id != other.run_id),
                    "{who}: holds another stack's run"
                );
                assert!(
                    audit
                        .iter()
                        .all(|r| r.run_id.as_deref() != Some(other.run_id.as_str())),
                    "{who}: holds another stack's audit record"
                );
            }
        }
        match stack.job {
            Job::Apply => {
                let RunOutcome::Ran(ran) = &seen.outcome else {
                    panic!("{who}: did not run: {:?}", seen.diags)
                };
                assert!(ran.succeeded(), "{who}: {:?}", ran.report.diags);
                let run = this_run.expect("the run is journaled");
                assert_eq!(run.status, RunStatus::Completed, "{who}");
                assert_eq!(run.kind, "apply");
                let entries = store.journal(&seen.run_id).expect("journal");
                assert_eq!(entries.len(), 2, "{who}: two creates journaled");
                assert!(entries.iter().all(|e| e.status == EntryStatus::Done));
                assert_eq!(
                    output(&store, "name").as_deref(),
                    Some(format!("{}/{}", stack.workspace, stack.name).as_str()),
                    "{who}: its own variables and environment"
                );
                // The commands carried this run's id and this plan's timestamp.
                let ts = &ran.plan.timestamp;
                assert_eq!(
                    stack.read("first.txt"),
                    Some(format!("{} {ts}", seen.run_id)),
                    "{who}"
                );
                assert_eq!(stack.read("second.txt"), Some(seen.run_id.clone()));
                assert_eq!(output(&store, "planned_at").as_deref(), Some(ts.as_str()));
                assert!(
                    audited
                        .iter()
                        .any(|r| r.command == "apply" && r.outcome == "completed"),
                    "{who}: {audited:?}"
                );
            }
            Job::FailAndRollBack => {
                let RunOutcome::Ran(ran) = &seen.outcome else {
                    panic!("{who}: did not run: {:?}", seen.diags)
                };
                let rb = ran.report.rollback.as_ref().expect("rolled back");
                assert!(rb.ok, "{who}: {:?}", rb.diags);
                // The first object, and the second (created, then tainted by its failed provisioner).
                assert_eq!(rb.undone, 2, "{who}: both objects were undone");
                assert_eq!(
                    this_run.expect("journaled").status,
                    RunStatus::RolledBack,
                    "{who}"
                );
                let snap = store.current().expect("state");
                assert!(snap.objects.is_empty(), "{who}: nothing is left");
                // Both creates, then their undoing in reverse order.
                let entries = store.journal(&seen.run_id).expect("journal");
                let steps: Vec<(&str, &str, EntryStatus)> = entries
                    .iter()
                    .map(|e| (e.addr.as_str(), e.action.as_str(), e.status))
                    .collect();
                assert_eq!(
                    steps,
                    [
                        ("terraform_data.first", "create", EntryStatus::Done),
                        ("terraform_data.second", "create", EntryStatus::Done),
                        ("terraform_data.second", "delete", EntryStatus::Done),
                        ("terraform_data.first", "delete", EntryStatus::Done),
                    ],
                    "{who}"
                );
                assert_eq!(
                    stack.read("first.txt"),
                    Some(format!("{} {}", seen.run_id, ran.plan.timestamp)),
                    "{who}"
                );
                assert!(audited
                    .iter()
                    .any(|r| r.command == "apply" && r.outcome == "rolled_back"));
            }
            Job::Destroy => {
                let RunOutcome::Ran(ran) = &seen.outcome else {
                    panic!("{who}: did not run: {:?}", seen.diags)
                };
                assert!(ran.succeeded(), "{who}: {:?}", ran.report.diags);
                assert_eq!(ran.report.destroyed, 2, "{who}");
                assert_eq!(this_run.expect("journaled").kind, "destroy");
                assert!(store.current().expect("state").objects.is_empty());
                let entries = store.journal(&seen.run_id).expect("journal");
                assert_eq!(
                    entries.iter().filter(|e| e.action == "delete").count(),
                    2,
                    "{who}"
                );
                assert!(audited
                    .iter()
                    .any(|r| r.command == "destroy" && r.outcome == "completed"));
            }
            Job::Denied => {
                let RunOutcome::Denied(gate) = &seen.outcome else {
                    panic!("{who}: was not denied")
                };
                assert!(gate.blocked);
                assert_eq!(gate.decision.findings.len(), 2, "{who}");
                assert!(
                    gate.decision.findings[0]
                        .policy_files
                        .iter()
                        .all(|f| f == "policies/deny.rego"),
                    "{who}: policy files are named relative to the stack's directory: {:?}",
                    gate.decision.findings[0].policy_files
                );
                assert!(this_run.is_none(), "{who}: a denied run never starts");
                assert!(store.current().expect("state").objects.is_empty());
                assert!(stack.read("first.txt").is_none(), "{who}: nothing ran");
                assert!(audited.iter().any(|r| r.command == "apply"
                    && r.outcome == "denied by policy: nothing was changed"));
            }
            Job::RollBackEarlierRun => {
                let RunOutcome::Ran(ran) = &seen.outcome else {
                    panic!("{who}: did not run: {:?}", seen.diags)
                };
                assert!(ran.succeeded(), "{who}: {:?}", ran.report.diags);
                let earlier = stack.earlier_run.as_deref().expect("earlier run");
                let parent = runs.iter().find(|r| r.id == earlier).expect("earlier run");
                assert_eq!(parent.status, RunStatus::RolledBack, "{who}");
                let run = this_run.expect("journaled");
                assert_eq!(run.kind, "rollback");
                assert_eq!(run.parent.as_deref(), Some(earlier));
                assert!(store.current().expect("state").objects.is_empty());
                assert!(audited.iter().any(|r| r.command == "rollback"));
            }
        }
    }
}
