//! The agent's reconciliation of the directory's stack (`baton serve`, when the stack declares
//! `terraform { baton { reconcile { … } } }`) and `baton status`: when a round is due, the run
//! request of one round, and the one line each round prints.
//!
//! Must not plan, lock, gate or record by itself: a round is
//! [`baton_engine::reconcile::reconcile`], which goes through the engine's run lifecycle.

use super::{run::request, Env};
use crate::cli::{RunFlags, StatusArgs};
use baton_config::Reconcile;
use baton_engine::lifecycle::RunKind;
use baton_engine::reconcile::{self, Last, Outcome, Recent};
use std::process::ExitCode;
use std::time::{Duration, Instant};

/// How often a directory whose stack does not declare `reconcile` (or does not load) is
/// looked at again, so that a stack that starts declaring it is picked up.
const RECHECK: Duration = Duration::from_secs(10);

/// When the agent next looks at the stack, and what it last said about a stack that does not
/// load (said once, not every check).
pub struct Schedule {
    next: Option<Instant>,
    said: Option<String>,
    /// The settings last announced.
    announced: Option<Reconcile>,
}

impl Schedule {
    pub fn new() -> Schedule {
        Schedule {
            next: None,
            said: None,
            announced: None,
        }
    }

    /// The stack's `reconcile` settings when a round is due now (the stack is re-read at
    /// most once per interval); `busy`: a round is still going on.
    pub fn due(&mut self, env: &Env, busy: bool) -> Option<Reconcile> {
        let now = Instant::now();
        if busy || self.next.is_some_and(|n| now < n) {
            return None;
        }
        let Some(rc) = self.settings(env) else {
            self.next = Some(now + RECHECK);
            return None;
        };
        // The last round's time is in the store: an agent that restarts keeps the interval.
        let wait = last(env)
            .and_then(|l| l.time.parse::<jiff::Timestamp>().ok())
            .map(|t| {
                let due = t + signed(rc.interval);
                let left = jiff::Timestamp::now().duration_until(due);
                Duration::try_from(left).unwrap_or(Duration::ZERO)
            })
            .unwrap_or(Duration::ZERO);
        if wait > Duration::ZERO {
            self.next = Some(now + wait);
            return None;
        }
        self.next = Some(now + rc.interval);
        Some(rc)
    }

    /// The stack's `reconcile` block; the configuration's errors are printed once.
    fn settings(&mut self, env: &Env) -> Option<Reconcile> {
        if !has_tf_files(&env.dir) {
            return None;
        }
        let (ctx, d) = baton_engine::load(&env.dir, &env.workspace, &env.sources);
        if d.has_errors() {
            let text = format!("{d:?}");
            if self.said.as_deref() != Some(text.as_str()) {
                eprintln!("The stack's configuration has errors; it is not reconciled until they are fixed:");
                super::print_diags(&d, &env.sources);
                self.said = Some(text);
            }
            return None;
        }
        self.said = None;
        let rc = ctx.and_then(|c| c.baton_settings().reconcile);
        if rc != self.announced {
            match rc {
                Some(rc) => eprintln!(
                    "Reconciling the stack every {}{}.",
                    interval_text(rc.interval),
                    if rc.repair {
                        ", repairing what differs"
                    } else {
                        ", recording what differs (repair = false)"
                    }
                ),
                None => eprintln!("The stack declares no reconcile block: it is not reconciled."),
            }
            self.announced = rc;
        }
        rc
    }
}

/// One round, its result printed on one line.
pub fn round(env: &Env, rc: Reconcile, parallelism: usize) {
    let opts = baton_engine::plan::PlanOpts {
        env: std::env::vars().collect(),
        parallelism,
        ..Default::default()
    };
    // The lock is not waited for: a round that finds it held is skipped and recorded.
    let req = match request(
        env,
        RunKind::Apply(opts),
        &RunFlags::default(),
        parallelism,
        "0s",
    ) {
        Ok(r) => r,
        Err(e) => {
            eprintln!("Error: reconciliation: {e:#}");
            return;
        }
    };
    let store = match env.open_store() {
        Ok(s) => s,
        Err(e) => {
            eprintln!("Error: reconciliation: {e:#}");
            return;
        }
    };
    let r = reconcile::reconcile(&*store.store, &req, rc.repair);
    if matches!(r.outcome, Outcome::Error | Outcome::RepairFailed) {
        super::print_diags(&r.diags, &env.sources);
    }
    outln!("Reconciliation of the stack: {}", r.summary());
    if let Some(e) = &r.audit_error {
        eprintln!("Warning: could not append to the audit log: {e}");
    }
}

/// `baton status [--json]`: the stack's reconciliation (settings, last round, next due), the
/// state's version, the lock and the latest run.
pub fn status(env: &Env, a: &StatusArgs) -> anyhow::Result<ExitCode> {
    let (settings, diags) = if has_tf_files(&env.dir) {
        let (ctx, d) = baton_engine::load(&env.dir, &env.workspace, &env.sources);
        (ctx.and_then(|c| c.baton_settings().reconcile), d)
    } else {
        (None, baton_core::Diagnostics::new())
    };
    let store = env.existing_store()?;
    let Recent {
        last,
        last_not_clean,
    } = match &store {
        Some(s) => reconcile::recent(s.as_ref(), &env.workspace)?,
        None => Recent::default(),
    };
    let next_due = match (&settings, &last) {
        (Some(rc), Some(l)) => l
            .time
            .parse::<jiff::Timestamp>()
            .ok()
            .map(|t| (t + signed(rc.interval)).to_string()),
        (Some(_), None) => Some("when `baton serve` starts".to_string()),
        _ => None,
    };
    let (serial, lock, latest) = match &store {
        Some(s) => (
            s.current()?.serial,
            s.lock_holder()?,
            s.runs()?.into_iter().max_by(|a, b| a.id.cmp(&b.id)),
        ),
        None => (0, None, None),
    };
    if a.json {
        let j = serde_json::json!({
            "environment": env.workspace,
            "stack": {
                "directory": env.dir.display().to_string(),
                "state_version": serial,
                "locked_by": lock.as_ref().map(|l| serde_json::json!({
                    "who": l.who, "pid": l.pid, "host": l.host, "since": l.since,
                    "operation": l.operation,
                })),
                "latest_run": latest.as_ref().map(|r| serde_json::json!({
                    "id": r.id, "kind": r.kind, "status": r.status.as_str(),
                    "started_at": r.started_at,
                })),
                "reconcile": settings.map(|rc| serde_json::json!({
                    "interval": interval_text(rc.interval), "repair": rc.repair,
                })),
                "last_reconciliation": last.as_ref().map(last_json),
                "last_reconciliation_not_clean": last_not_clean.as_ref().map(last_json),
                "next_reconciliation": next_due,
            },
            "services": super::services::status_json(env),
        });
        outln!("{}", serde_json::to_string_pretty(&j)?);
        return Ok(ExitCode::SUCCESS);
    }
    if diags.has_errors() {
        eprintln!("Warning: the configuration has errors (`baton validate` shows them); the reconciliation settings could not be read.");
    }
    outln!(
        "Stack {} (environment {})",
        env.dir.display(),
        env.workspace
    );
    outln!("  State version:       {serial}");
    if let Some(l) = &lock {
        outln!(
            "  Locked by:           {} (pid {} on {}, since {}, running {})",
            l.who,
            l.pid,
            l.host,
            l.since,
            l.operation
        );
    }
    if let Some(r) = &latest {
        outln!(
            "  Latest run:          {} {} {} (started {})",
            r.id,
            r.kind,
            r.status.as_str(),
            r.started_at
        );
    }
    match settings {
        Some(rc) => outln!(
            "  Reconciled:          every {}, {}",
            interval_text(rc.interval),
            if rc.repair {
                "repairing what differs (through the policy gate)"
            } else {
                "detecting only (repair = false)"
            }
        ),
        None => outln!("  Reconciled:          no (the stack declares no reconcile block)"),
    }
    match &last {
        Some(l) => {
            outln!(
                "  Last reconciliation: {} at {}{}",
                l.outcome,
                l.time,
                l.run_id
                    .as_deref()
                    .map(|r| format!(" (run {r})"))
                    .unwrap_or_default()
            );
            outln!("                       {}", l.summary);
        }
        None => outln!("  Last reconciliation: none"),
    }
    if let Some(l) = last_not_clean
        .as_ref()
        .filter(|l| l.outcome != Outcome::Clean)
    {
        if last.as_ref().map(|x| x.audit_id) != Some(l.audit_id) {
            outln!(
                "  Last difference:     {} at {}{}",
                l.outcome,
                l.time,
                l.run_id
                    .as_deref()
                    .map(|r| format!(" (run {r})"))
                    .unwrap_or_default()
            );
            outln!("                       {}", l.summary);
        }
    }
    if let Some(n) = &next_due {
        outln!("  Next reconciliation: {n}");
    }
    super::services::print_status(env);
    Ok(ExitCode::SUCCESS)
}

fn last_json(l: &Last) -> serde_json::Value {
    serde_json::json!({
        "time": l.time,
        "result": l.outcome.as_str(),
        "run_id": l.run_id,
        "summary": l.summary,
        "audit_id": l.audit_id,
    })
}

/// The last reconciliation of the directory's stack, if the store exists and has one.
fn last(env: &Env) -> Option<Last> {
    let store = env.existing_store().ok()??;
    reconcile::recent(store.as_ref(), &env.workspace).ok()?.last
}

fn has_tf_files(dir: &std::path::Path) -> bool {
    std::fs::read_dir(dir).is_ok_and(|entries| {
        entries.flatten().any(|e| {
            let name = e.file_name();
            let name = name.to_string_lossy();
            name.ends_with(".tf") || name.ends_with(".tf.json")
        })
    })
}

fn signed(d: Duration) -> jiff::SignedDuration {
    jiff::SignedDuration::try_from(d).unwrap_or(jiff::SignedDuration::MAX)
}

/// An interval as the configuration would write it (`10m`, `1h30m`, `1s`, `1500ms`).
fn interval_text(d: Duration) -> String {
    if d.subsec_nanos() != 0 {
        return format!("{}ms", d.as_millis());
    }
    let s = d.as_secs();
    let (h, m, s) = (s / 3600, s / 60 % 60, s % 60);
    let mut out = String::new();
    if h > 0 {
        out.push_str(&format!("{h}h"));
    }
    if m > 0 {
        out.push_str(&format!("{m}m"));
    }
    if s > 0 || out.is_empty() {
        out.push_str(&format!("{s}s"));
    }
    out
}
