//! The fault-injection harness of issue 4: a configuration of 22 resource instances in four
//! dependency layers (`tests/fixtures/faults/layered/main.tf`: local files and `shell_script`
//! objects, every one of them a file under `out/` so that what exists can be counted), applied
//! with `--parallelism 1` so that the k-th action is always the same one. For every k:
//!
//! - `BATON_FAULT_INJECT=fail:k`: the apply fails, the automatic rollback leaves no object on
//!   disk, an empty state, a free lock, an empty refresh-only plan, and the run `rolled_back`;
//! - `BATON_FAULT_INJECT=kill:k`: Baton dies right after journaling the k-th intent; the next
//!   command sees the run `interrupted`, `apply` refuses (naming the run, `baton resume` and
//!   `baton rollback`) and changes nothing; then, in two copies of the project directory,
//!   `baton resume RUN` completes all 22 objects exactly once, and `baton rollback RUN`
//!   removes every one of them — each time with state equal to reality and the lock free.
//!
//! The matrix (k × outcome) is printed to stdout (`cargo test --test fault_injection --
//! --nocapture`), and the test fails if any cell fails. The k's run on a few threads, each in
//! its own temporary directories. No wall-clock assertion anywhere.

mod common;

use common::{Output, Project};
use serde_json::Value as Json;
use std::collections::BTreeMap;
use std::panic::AssertUnwindSafe;
use std::path::Path;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Mutex;
use std::time::Duration;

/// Actions of a full apply of the layered configuration: 6 + 6 + 6 + 4.
const ACTIONS: usize = 22;

/// The layered configuration.
fn config() -> String {
    let p =
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tests/fixtures/faults/layered/main.tf");
    std::fs::read_to_string(&p).unwrap_or_else(|e| panic!("{}: {e}", p.display()))
}

fn project() -> Project {
    Project::new(&[("main.tf", &config())])
}

/// Every file a complete apply leaves under `out/`, with its exact content. A `shell_script`
/// marker gets one line per create, so an object created twice shows.
fn expected_files() -> BTreeMap<String, String> {
    let mut m = BTreeMap::new();
    for i in 0..6 {
        m.insert(format!("out/base/{i}.txt"), format!("base {i}"));
        m.insert(format!("out/sh/{i}"), format!("base {i}\n"));
        m.insert(format!("out/mid/{i}.txt"), format!("sh-{i}"));
    }
    for i in 0..4 {
        m.insert(format!("out/top/{i}"), format!("sh-{i} sh-{}\n", i + 2));
    }
    m
}

/// Every resource instance of a complete apply, sorted.
fn expected_addresses() -> Vec<String> {
    let mut v = Vec::new();
    for i in 0..6 {
        v.push(format!("local_file.base[{i}]"));
        v.push(format!("shell_script.sh[{i}]"));
        v.push(format!("local_file.mid[{i}]"));
    }
    for i in 0..4 {
        v.push(format!("shell_script.top[{i}]"));
    }
    v.sort();
    v
}

/// Every regular file under `out/` (relative to the project, sorted) with its content.
fn files_on_disk(p: &Project) -> BTreeMap<String, String> {
    fn walk(root: &Path, dir: &Path, out: &mut BTreeMap<String, String>) {
        let Ok(entries) = std::fs::read_dir(dir) else {
            return;
        };
        for e in entries.flatten() {
            let path = e.path();
            if path.is_dir() {
                walk(root, &path, out);
            } else {
                let rel = path.strip_prefix(root).unwrap_or(&path);
                let content = std::fs::read_to_string(&path).unwrap_or_default();
                out.insert(rel.to_string_lossy().to_string(), content);
            }
        }
    }
    let mut m = BTreeMap::new();
    walk(p.path(), &p.join("out"), &mut m);
    m
}

/// A copy of the whole project directory, `.baton/` (the state database) included.
fn copy_project(src: &Project) -> Project {
    fn copy_dir(from: &Path, to: &Path) {
        std::fs::create_dir_all(to).expect("create directory");
        for e in std::fs::read_dir(from).expect("read directory").flatten() {
            let (f, t) = (e.path(), to.join(e.file_name()));
            if f.is_dir() {
                copy_dir(&f, &t);
            } else {
                std::fs::copy(&f, &t).unwrap_or_else(|err| panic!("copy {}: {err}", f.display()));
            }
        }
    }
    let dst = Project::new(&[]);
    copy_dir(src.path(), dst.path());
    dst
}

type Cell = Result<(), String>;

macro_rules! ensure {
    ($cond:expr, $($fmt:tt)*) => {
        if !$cond {
            return Err(format!($($fmt)*));
        }
    };
}

/// The command, its exit code and the last lines of what it printed (for a reason).
fn brief(o: &Output) -> String {
    let all = o.all();
    let lines: Vec<&str> = all.lines().filter(|l| !l.trim().is_empty()).collect();
    let tail = &lines[lines.len().saturating_sub(3)..];
    format!("`{}` exited {:?}: {}", o.display, o.code, tail.join(" | "))
}

fn run(p: &Project, args: &[&str]) -> Output {
    p.baton(args).run()
}

fn run_ok(p: &Project, args: &[&str]) -> Result<Output, String> {
    let o = run(p, args);
    ensure!(o.success(), "{}", brief(&o));
    Ok(o)
}

/// `baton state list` as the first command after an operation: it must succeed without
/// clearing a stale lock (the operation released its lock).
fn state_list_lock_free(p: &Project) -> Result<Vec<String>, String> {
    let o = run_ok(p, &["state", "list"])?;
    ensure!(
        !o.all().to_lowercase().contains("stale lock"),
        "the lock was left behind: {}",
        brief(&o)
    );
    let mut v = o.lines();
    v.sort();
    Ok(v)
}

/// A refresh-only plan has nothing to report: state equals reality.
fn refresh_only_plan_is_empty(p: &Project) -> Cell {
    let o = run(p, &["plan", "--refresh-only", "--detailed-exitcode"]);
    ensure!(
        o.code == Some(0),
        "refresh-only plan not empty: {}",
        brief(&o)
    );
    Ok(())
}

/// Nothing on disk, nothing in state, the lock free, state equal to reality.
fn check_nothing_left(p: &Project) -> Cell {
    let list = state_list_lock_free(p)?;
    ensure!(list.is_empty(), "state not empty: {list:?}");
    let files = files_on_disk(p);
    ensure!(
        files.is_empty(),
        "{} orphaned file(s) on disk: {:?}",
        files.len(),
        files.keys().collect::<Vec<_>>()
    );
    refresh_only_plan_is_empty(p)
}

/// All 22 objects exist exactly once on disk and in state, the lock is free, state equals
/// reality and the configuration needs no change.
fn check_complete(p: &Project) -> Cell {
    let list = state_list_lock_free(p)?;
    ensure!(
        list == expected_addresses(),
        "state has {} instance(s), expected the 22: {list:?}",
        list.len()
    );
    let files = files_on_disk(p);
    let expected = expected_files();
    if files != expected {
        let missing: Vec<_> = expected
            .keys()
            .filter(|k| !files.contains_key(*k))
            .collect();
        let extra: Vec<_> = files
            .keys()
            .filter(|k| !expected.contains_key(*k))
            .collect();
        let wrong: Vec<_> = files
            .iter()
            .filter(|(k, v)| expected.get(*k).is_some_and(|e| e != *v))
            .map(|(k, v)| format!("{k}={v:?}"))
            .collect();
        return Err(format!(
            "{} file(s) on disk (expected 22): missing {missing:?}, extra {extra:?}, wrong content (created twice?) {wrong:?}",
            files.len()
        ));
    }
    refresh_only_plan_is_empty(p)?;
    let plan = run(p, &["plan", "--detailed-exitcode"]);
    ensure!(
        plan.code == Some(0) && plan.stdout.contains("No changes."),
        "a normal plan is not \"No changes.\": {}",
        brief(&plan)
    );
    Ok(())
}

/// `baton runs --json`.
fn runs(p: &Project) -> Result<Vec<Json>, String> {
    let o = run_ok(p, &["runs", "--json"])?;
    serde_json::from_str::<Json>(&o.stdout)
        .ok()
        .and_then(|j| j.as_array().cloned())
        .ok_or_else(|| format!("`baton runs --json` is not a JSON array: {}", o.stdout))
}

/// The status `baton runs --json` gives run `id`.
fn run_status(p: &Project, id: &str) -> Result<String, String> {
    let all = runs(p)?;
    all.iter()
        .find(|r| r["id"] == id)
        .and_then(|r| r["status"].as_str().map(str::to_string))
        .ok_or_else(|| format!("run {id} is not in `baton runs --json`: {all:?}"))
}

/// `baton runs` (human) has a line for run `id`, starting with it, that says `status`.
fn runs_line_says(p: &Project, id: &str, status: &str) -> Cell {
    let o = run_ok(p, &["runs"])?;
    let line = o.stdout.lines().find(|l| l.starts_with(id));
    ensure!(
        line.is_some_and(|l| l.split_whitespace().any(|w| w == status)),
        "`baton runs` does not show run {id} as {status}: {line:?}"
    );
    Ok(())
}

/// The only apply run of a fresh project.
fn the_apply_run(p: &Project) -> Result<String, String> {
    let all = runs(p)?;
    let applies: Vec<&Json> = all.iter().filter(|r| r["kind"] == "apply").collect();
    ensure!(
        applies.len() == 1,
        "expected one apply run, `baton runs --json` has {}: {all:?}",
        applies.len()
    );
    applies[0]["id"]
        .as_str()
        .map(str::to_string)
        .ok_or_else(|| "a run without an id".to_string())
}

/// `baton runs show RUN --json`'s actions.
fn journal(p: &Project, id: &str) -> Result<Vec<Json>, String> {
    let o = run_ok(p, &["runs", "show", id, "--json"])?;
    serde_json::from_str::<Json>(&o.stdout)
        .ok()
        .and_then(|j| j["actions"].as_array().cloned())
        .ok_or_else(|| format!("`baton runs show {id} --json` has no actions: {}", o.stdout))
}

fn apply_with_fault(p: &Project, fault: &str) -> Output {
    p.baton(["apply", "--auto-approve", "--parallelism", "1"])
        .env("BATON_FAULT_INJECT", fault)
        .run()
}

// ---------------------------------------------------------------------------------------------
// The three cells of row k.
// ---------------------------------------------------------------------------------------------

/// `fail:k` → the automatic rollback leaves nothing.
fn fail_cell(k: usize) -> Cell {
    let p = project();
    let o = apply_with_fault(&p, &format!("fail:{k}"));
    ensure!(
        matches!(o.code, Some(c) if c != 0),
        "the failed apply must exit non-zero: {}",
        brief(&o)
    );
    ensure!(
        o.all().contains("Injected failure"),
        "the injected failure is not reported: {}",
        brief(&o)
    );
    check_nothing_left(&p)?;
    let id = the_apply_run(&p)?;
    let status = run_status(&p, &id)?;
    ensure!(
        status == "rolled_back",
        "run {id} is {status}, not rolled_back"
    );
    runs_line_says(&p, &id, "rolled_back")?;
    Ok(())
}

/// `kill:k`, then the checks that hold before the run is resolved. Returns the killed
/// project and its run id.
fn kill_prelude(k: usize, order: &[String]) -> Result<(Project, String), String> {
    let p = project();
    let o = apply_with_fault(&p, &format!("kill:{k}"));
    ensure!(
        o.code.is_none(),
        "the apply should have been killed (by a signal), {}",
        brief(&o)
    );
    ensure!(
        !o.stdout.contains("Apply complete"),
        "a killed apply printed \"Apply complete\""
    );
    let id = the_apply_run(&p)?;
    runs_line_says(&p, &id, "interrupted")?;
    // The journal holds the k-th intent, its outcome unknown.
    let actions = journal(&p, &id)?;
    ensure!(
        actions.len() == k,
        "run {id} journaled {} action(s), expected {k}",
        actions.len()
    );
    ensure!(
        actions[..k - 1].iter().all(|a| a["status"] == "done")
            && actions[k - 1]["status"] != "done",
        "journal of run {id}: expected {} done then one unfinished: {:?}",
        k - 1,
        actions
            .iter()
            .map(|a| format!("{} {}", a["address"], a["status"]))
            .collect::<Vec<_>>()
    );
    ensure!(
        actions[k - 1]["address"] == order[k - 1].as_str(),
        "the k-th intent is {} (expected {})",
        actions[k - 1]["address"],
        order[k - 1]
    );

    // A new apply is refused, and changes nothing.
    let disk_before = p.snapshot_files();
    let state_before = run_ok(&p, &["state", "list"])?.stdout;
    let refused = run(&p, &["apply", "--auto-approve"]);
    ensure!(
        matches!(refused.code, Some(c) if c != 0),
        "apply after the kill was not refused: {}",
        brief(&refused)
    );
    let msg = refused.all();
    ensure!(
        msg.contains(&id) && msg.contains("baton resume") && msg.contains("baton rollback"),
        "the refusal must name run {id}, `baton resume` and `baton rollback`: {}",
        brief(&refused)
    );
    ensure!(
        p.snapshot_files() == disk_before,
        "the refused apply changed files on disk"
    );
    let state_after = run_ok(&p, &["state", "list"])?.stdout;
    ensure!(
        state_after == state_before,
        "the refused apply changed the state: {state_before:?} -> {state_after:?}"
    );
    let status = run_status(&p, &id)?;
    ensure!(
        status == "interrupted",
        "after the refused apply, run {id} is {status}"
    );
    Ok((p, id))
}

/// `baton resume RUN` in a copy of the killed project.
fn resume_cell(killed: &Project, id: &str) -> Cell {
    let p = copy_project(killed);
    run_ok(&p, &["resume", id, "--auto-approve"])?;
    check_complete(&p)?;
    let all = runs(&p)?;
    ensure!(
        all.iter().all(|r| r["status"] != "interrupted"),
        "a run is still interrupted after resume: {all:?}"
    );
    Ok(())
}

/// `baton rollback RUN` in another copy of the killed project.
fn rollback_cell(killed: &Project, id: &str) -> Cell {
    let p = copy_project(killed);
    run_ok(&p, &["rollback", id, "--auto-approve"])?;
    check_nothing_left(&p)?;
    let status = run_status(&p, id)?;
    ensure!(
        status == "rolled_back",
        "run {id} is {status}, not rolled_back"
    );
    Ok(())
}

/// Runs `f`, turning a panic (a harness timeout, an I/O error) into a failed cell.
fn guarded<T>(f: impl FnOnce() -> Result<T, String>) -> Result<T, String> {
    match std::panic::catch_unwind(AssertUnwindSafe(f)) {
        Ok(r) => r,
        Err(e) => Err(format!(
            "panicked: {}",
            e.downcast_ref::<String>()
                .cloned()
                .or_else(|| e.downcast_ref::<&str>().map(|s| s.to_string()))
                .unwrap_or_default()
        )),
    }
}

struct Row {
    fail: Cell,
    resume: Cell,
    rollback: Cell,
}

fn row(k: usize, order: &[String]) -> Row {
    let fail = guarded(|| fail_cell(k));
    let (resume, rollback) = match guarded(|| kill_prelude(k, order)) {
        Ok((p, id)) => (
            guarded(|| resume_cell(&p, &id)),
            guarded(|| rollback_cell(&p, &id)),
        ),
        Err(e) => (Err(e.clone()), Err(e)),
    };
    Row {
        fail,
        resume,
        rollback,
    }
}

fn shorten(s: &str) -> String {
    let one_line = s.replace('\n', " ");
    if one_line.chars().count() > 400 {
        one_line.chars().take(400).collect::<String>() + "…"
    } else {
        one_line
    }
}

/// The order in which a clean `--parallelism 1` apply runs the 22 actions (its journal).
fn reference_order() -> Vec<String> {
    let p = project();
    p.baton(["apply", "--auto-approve", "--parallelism", "1"])
        .ok();
    check_complete(&p).unwrap_or_else(|e| panic!("a clean apply is not complete: {e}"));
    let id = the_apply_run(&p).expect("the clean apply's run");
    let actions = journal(&p, &id).expect("the clean apply's journal");
    assert_eq!(
        actions.len(),
        ACTIONS,
        "a full apply must journal {ACTIONS} actions: {actions:?}"
    );
    assert!(
        actions
            .iter()
            .all(|a| a["status"] == "done" && a["action"] == "create"),
        "{actions:?}"
    );
    actions
        .iter()
        .map(|a| a["address"].as_str().unwrap_or_default().to_string())
        .collect()
}

/// `graph` DOT output as (from, to) label pairs.
fn dot_edges(dot: &str) -> Vec<(String, String)> {
    let mut labels = BTreeMap::new();
    for l in dot.lines() {
        if let (Some(id), Some(i)) = (l.split_whitespace().next(), l.find("label=\"")) {
            let rest = &l[i + "label=\"".len()..];
            if let Some(j) = rest.find('"') {
                labels.insert(id.to_string(), rest[..j].to_string());
            }
        }
    }
    dot.lines()
        .filter_map(|l| {
            let l = l.trim().trim_end_matches(';');
            let (a, b) = l.split_once(" -> ")?;
            Some((labels.get(a.trim())?.clone(), labels.get(b.trim())?.clone()))
        })
        .collect()
}

/// The configuration itself: 22 objects in four layers, counted on disk; destroy removes
/// them all.
#[test]
fn layered_configuration_applies_22_objects_and_destroys_them_all() {
    let p = project();
    let out = p
        .baton(["apply", "--auto-approve", "--parallelism", "1"])
        .ok();
    out.assert_stdout_contains("Apply complete! Resources: 22 added, 0 changed, 0 destroyed.");
    check_complete(&p).unwrap_or_else(|e| panic!("{e}"));
    // Four layers: top depends on mid, mid on sh, sh on base.
    let dot = p.baton(["graph"]).ok().stdout;
    let edges = dot_edges(&dot);
    for edge in [
        ("shell_script.top", "local_file.mid"),
        ("local_file.mid", "shell_script.sh"),
        ("shell_script.sh", "local_file.base"),
    ] {
        assert!(
            edges.contains(&(edge.0.to_string(), edge.1.to_string())),
            "the graph has no edge {} -> {}:\n{dot}",
            edge.0,
            edge.1
        );
    }
    p.baton(["destroy", "--auto-approve"]).ok();
    check_nothing_left(&p).unwrap_or_else(|e| panic!("{e}"));
}

/// The matrix: k × {fail → automatic rollback, kill → resume, kill → rollback}.
#[test]
fn fault_matrix_every_k_fail_and_kill_leave_no_orphans() {
    let order = reference_order();
    let rows: Vec<Mutex<Option<Row>>> = (0..ACTIONS).map(|_| Mutex::new(None)).collect();
    let next = AtomicUsize::new(1);
    let workers = std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(2)
        .clamp(3, 6);
    std::thread::scope(|s| {
        for _ in 0..workers {
            s.spawn(|| loop {
                let k = next.fetch_add(1, Ordering::SeqCst);
                if k > ACTIONS {
                    break;
                }
                let r = row(k, &order);
                *rows[k - 1].lock().expect("row lock") = Some(r);
            });
        }
    });

    let mark = |c: &Cell| if c.is_ok() { "✓" } else { "✗" };
    let width = order.iter().map(|a| a.len()).max().unwrap_or(10);
    let mut table = String::new();
    let mut reasons = Vec::new();
    table.push_str(&format!(
        "\nFault-injection matrix: {ACTIONS} actions, --parallelism 1\n\n {:>3}  {:<width$}  {:<20}  {:<12}  {}\n",
        "k", "k-th action", "fail→auto rollback", "kill→resume", "kill→rollback"
    ));
    let mut failed = 0;
    for (i, slot) in rows.iter().enumerate() {
        let k = i + 1;
        let r = slot
            .lock()
            .expect("row lock")
            .take()
            .expect("every row ran");
        table.push_str(&format!(
            " {:>3}  {:<width$}  {:<20}  {:<12}  {}\n",
            k,
            order[i],
            mark(&r.fail),
            mark(&r.resume),
            mark(&r.rollback)
        ));
        for (name, c) in [
            ("fail→auto rollback", &r.fail),
            ("kill→resume", &r.resume),
            ("kill→rollback", &r.rollback),
        ] {
            if let Err(e) = c {
                failed += 1;
                reasons.push(format!("  k={k} {name}: {}", shorten(e)));
            }
        }
    }
    table.push_str(&format!(
        "\n{} of {} cells pass.\n",
        ACTIONS * 3 - failed,
        ACTIONS * 3
    ));
    if !reasons.is_empty() {
        table.push_str("\nFailures:\n");
        table.push_str(&reasons.join("\n"));
        table.push('\n');
    }
    println!("{table}");
    assert!(
        failed == 0,
        "{failed} cell(s) of the fault matrix failed:{table}"
    );
}

/// SIGKILL at arbitrary moments (not at a journal hook): during commands, between a command
/// and its state write, during state writes. The layered configuration's scripts are slowed
/// down so that the kills land mid-run; after each, `resume` (even cases) or `rollback` (odd
/// cases) runs at once, while the commands the dead process left may still be running, and
/// must leave everything complete, or nothing, on disk and in state.
#[test]
fn kills_at_arbitrary_moments_then_resume_or_rollback_leave_no_orphans() {
    let slowed = config().replace("create = <<-EOT\n", "create = <<-EOT\n      sleep 0.15\n");
    assert_ne!(slowed, config(), "the scripts' creates are slowed down");
    let delays_ms = [40u64, 180, 330, 470, 620, 800, 950, 1100];
    let mut failures = Vec::new();
    for (i, ms) in delays_ms.iter().enumerate() {
        let p = Project::new(&[("main.tf", &slowed)]);
        let mut apply = p.baton(["apply", "--auto-approve"]).spawn();
        std::thread::sleep(Duration::from_millis(*ms));
        apply.crash();
        drop(apply);
        let resume = i % 2 == 0;
        let cell = guarded(|| {
            let Some(run) = runs(&p)?.into_iter().find(|r| r["kind"] == "apply") else {
                // Killed before the run was recorded: nothing may exist.
                return check_nothing_left(&p).map(|()| "no run yet".to_string());
            };
            let id = run["id"].as_str().unwrap_or_default().to_string();
            if run["status"] == "completed" {
                return check_complete(&p).map(|()| "completed before the kill".to_string());
            }
            let done = journal(&p, &id)?
                .iter()
                .filter(|e| e["status"] == "done")
                .count();
            if resume {
                run_ok(&p, &["resume", &id, "--auto-approve"])?;
                check_complete(&p)?;
            } else {
                run_ok(&p, &["rollback", &id, "--auto-approve"])?;
                check_nothing_left(&p)?;
            }
            Ok(format!("killed with {done} action(s) done"))
        });
        let what = if resume { "resume" } else { "rollback" };
        println!(
            "kill after {ms} ms → {what}: {}",
            match &cell {
                Ok(s) => format!("ok ({s})"),
                Err(e) => e.clone(),
            }
        );
        if let Err(e) = cell {
            failures.push(format!("kill after {ms} ms, then {what}: {e}"));
        }
    }
    assert!(failures.is_empty(), "{failures:#?}");
}
