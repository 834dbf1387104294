//! Two runs in one process, at once, in different directories and against different stores:
//! each run's commands carry its own run id, run in its own directory, and see its own plan's
//! `plantimestamp()`. Nothing here may depend on the process's working directory or
//! environment.

use baton_core::Sources;
use baton_engine::apply::{apply, ApplyOpts};
use baton_engine::plan::{plan, PlanOpts};
use baton_engine::NoObserver;
use baton_state::sqlite::SqliteStore;
use baton_state::StateStore;
use std::path::Path;

const CONFIG: &str = r#"resource "terraform_data" "r" {
  provisioner "local-exec" {
    command     = "printf '%s %s' \"$BATON_RUN_ID\" \"$T\" > seen.txt"
    environment = { T = plantimestamp() }
  }
}

output "t" {
  value = plantimestamp()
}
"#;

/// What one run saw: its id, its plan's timestamp, what its command wrote and its output.
struct Seen {
    run_id: String,
    timestamp: String,
    command_wrote: String,
    output: String,
}

/// Plans and applies `CONFIG` in `dir` with a store of its own; the plan is given the
/// timestamp `made_at`, as if it had been made then and saved (applying a saved plan must see
/// the plan's time, not the applying process's).
fn plan_and_apply(dir: &Path, made_at: &str) -> Seen {
    std::fs::write(dir.join("main.tf"), CONFIG).expect("write config");
    let sources = Sources::new();
    let (ctx, d) = baton_engine::load(dir, "default", &sources);
    let ctx = ctx.unwrap_or_else(|| panic!("{d:?}"));
    let store = SqliteStore::open(&dir.join(".baton").join("state.db")).expect("open store");
    let lock = store
        .lock(
            baton_state::lock::current_lock_info("apply"),
            std::time::Duration::from_secs(30),
        )
        .expect("lock");
    let prior = store.current().expect("current state");
    let opts = PlanOpts {
        env: Vec::new(),
        ..Default::default()
    };
    let (p, d) = plan(&ctx, &prior, &opts, &NoObserver);
    let mut p = p.unwrap_or_else(|| panic!("{d:?}"));
    assert!(!d.has_errors(), "{d:?}");
    p.timestamp = made_at.to_string();
    let aopts = ApplyOpts {
        run_id: baton_engine::new_run_id(),
        parallelism: 2,
        fence: lock.fence(),
        ..ApplyOpts::default()
    };
    let report = apply(
        &ctx,
        &p,
        &store,
        &prior,
        &aopts,
        &NoObserver,
        &baton_graph::StopHandle::new(),
    )
    .expect("apply");
    assert!(!report.diags.has_errors(), "{:?}", report.diags);
    let output = report
        .outputs
        .get("t")
        .and_then(|(v, _)| v.as_str().map(str::to_string))
        .unwrap_or_default();
    Seen {
        run_id: aopts.run_id,
        timestamp: p.timestamp,
        command_wrote: std::fs::read_to_string(dir.join("seen.txt")).expect("the command ran"),
        output,
    }
}

#[test]
fn two_concurrent_runs_tag_commands_with_their_own_id_and_see_their_own_plan_time() {
    let a = tempfile::tempdir().expect("temp dir");
    let b = tempfile::tempdir().expect("temp dir");
    let (seen_a, seen_b) = std::thread::scope(|s| {
        let ta = s.spawn(|| plan_and_apply(a.path(), "2001-02-03T04:05:06Z"));
        let tb = s.spawn(|| plan_and_apply(b.path(), "2002-03-04T05:06:07Z"));
        (ta.join().expect("run a"), tb.join().expect("run b"))
    });
    assert_ne!(seen_a.run_id, seen_b.run_id);
    for seen in [&seen_a, &seen_b] {
        assert_eq!(
            seen.command_wrote,
            format!("{} {}", seen.run_id, seen.timestamp),
            "a run's command carries its own run id and its own plan's timestamp"
        );
        assert_eq!(seen.output, seen.timestamp);
    }
}
