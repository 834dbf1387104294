//! Data-driven engine tests: a configuration goes in (a multi-file fixture with `//- path`
//! markers, as rust-analyzer's fixtures), the plan and its diagnostics come out as compact
//! text compared with an `expect![[...]]` snapshot (refresh with `UPDATE_EXPECT=1`, then read
//! every changed snapshot: a wrong one is a bug, not a new truth).
//!
//! In-process, against a temp dir; no binary, no clock, no network. Must not assert on
//! anything that varies between runs (timestamps, uuids, ids are unknown at plan time).

use baton_core::{Diagnostics, Severity, Sources};
use baton_engine::apply::{apply, ApplyOpts};
use baton_engine::model::{Checkable, ResourceChange};
use baton_engine::plan::{plan, PlanOpts};
use baton_engine::{Action, NoObserver, Plan};
use baton_eval::value::Kind;
use baton_eval::Value;
use baton_state::sqlite::SqliteStore;
use baton_state::{Snapshot, StateStore};
use expect_test::{expect, Expect};
use std::fmt::Write as _;
use std::path::Path;

/// Plans `fixture` against an empty state and compares the rendering with `expect`.
fn check(fixture: &str, expect: Expect) {
    check_with(fixture, &PlanOpts::default(), expect);
}

/// Plans `fixture` in validate-only mode (unknown variables, no state).
fn check_validate(fixture: &str, expect: Expect) {
    let opts = PlanOpts {
        validate_only: true,
        ..PlanOpts::default()
    };
    check_with(fixture, &opts, expect);
}

fn check_with(fixture: &str, opts: &PlanOpts, expect: Expect) {
    let dir = tempfile::tempdir().expect("temp dir");
    write_fixture(dir.path(), fixture);
    let actual = plan_text(dir.path(), &Snapshot::default(), opts);
    expect.assert_eq(&actual);
}

/// Two steps: applies `first` into a SQLite store, replaces the configuration with `second`
/// and renders the second plan (made against the state the first apply left).
fn check_two_step(first: &str, second: &str, expect: Expect) {
    let dir = tempfile::tempdir().expect("temp dir");
    write_fixture(dir.path(), first);
    let sources = Sources::new();
    let (ctx, d) = baton_engine::load(dir.path(), "default", &sources);
    let ctx = ctx.unwrap_or_else(|| panic!("first step: {}", d.render(&sources)));
    let store = SqliteStore::open(&dir.path().join(".baton").join("state.db")).expect("store");
    let lock = store
        .lock(
            baton_state::lock::current_lock_info("apply"),
            std::time::Duration::from_secs(30),
        )
        .expect("lock");
    let prior = store.current().expect("current state");
    let (p, d) = plan(&ctx, &prior, &PlanOpts::default(), &NoObserver);
    assert!(!d.has_errors(), "first step: {}", d.render(&sources));
    let p = p.expect("first plan");
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
    assert!(
        !report.diags.has_errors(),
        "first apply: {}",
        report.diags.render(&sources)
    );
    let prior = store.current().expect("state after the first apply");
    drop(lock);
    for entry in std::fs::read_dir(dir.path()).expect("read dir") {
        let path = entry.expect("entry").path();
        if path.extension().is_some_and(|e| e == "tf") {
            std::fs::remove_file(path).expect("remove");
        }
    }
    let _ = std::fs::remove_dir_all(dir.path().join("modules"));
    write_fixture(dir.path(), second);
    let actual = plan_text(dir.path(), &prior, &PlanOpts::default());
    expect.assert_eq(&actual);
}

/// Writes the files of a `//- path` fixture under `dir`.
fn write_fixture(dir: &Path, fixture: &str) {
    let mut files: Vec<(String, String)> = Vec::new();
    for line in fixture.lines() {
        if let Some(path) = line.trim().strip_prefix("//- ") {
            files.push((path.trim().to_string(), String::new()));
        } else if let Some((_, text)) = files.last_mut() {
            text.push_str(line);
            text.push('\n');
        } else {
            assert!(line.trim().is_empty(), "text before the first `//- path`");
        }
    }
    let indent = files
        .iter()
        .flat_map(|(_, t)| t.lines())
        .filter(|l| !l.trim().is_empty())
        .map(|l| l.len() - l.trim_start().len())
        .min()
        .unwrap_or(0);
    for (path, text) in files {
        let text: String = text
            .lines()
            .map(|l| format!("{}\n", l.get(indent..).unwrap_or("").trim_end()))
            .collect();
        let path = dir.join(path);
        std::fs::create_dir_all(path.parent().expect("parent")).expect("mkdir");
        std::fs::write(path, text.trim_start_matches('\n')).expect("write");
    }
}

/// Loads and plans the configuration in `dir`; renders the plan and every diagnostic.
fn plan_text(dir: &Path, prior: &Snapshot, opts: &PlanOpts) -> String {
    let sources = Sources::new();
    let (ctx, mut diags) = baton_engine::load(dir, "default", &sources);
    let mut out = String::new();
    if let Some(ctx) = ctx {
        if !diags.has_errors() || opts.validate_only {
            let (p, d) = plan(&ctx, prior, opts, &NoObserver);
            diags.extend(d);
            if let Some(p) = p {
                render_plan(&mut out, &p);
            }
        }
    }
    render_diags(&mut out, &diags, &sources);
    out
}

fn render_plan(out: &mut String, p: &Plan) {
    if p.errored {
        out.push_str("(errored)\n");
    }
    for (from, to) in &p.moves {
        let _ = writeln!(out, "moved {from} -> {to}");
    }
    for c in &p.changes {
        render_change(out, c);
    }
    for o in &p.outputs {
        let _ = write!(out, "{} output.{}", action_name(o.action), o.name);
        if o.action != Action::Delete {
            let v = if o.sensitive {
                "(sensitive)".to_string()
            } else {
                value_text(&o.after)
            };
            let _ = write!(out, " = {v}");
        }
        out.push('\n');
    }
    for c in &p.checks {
        let object = match &c.object {
            Checkable::Resource(r) => r.to_string(),
            Checkable::Output(o) => format!("output.{o}"),
            Checkable::Check(n) => format!("check.{n}"),
            Checkable::Var(v) => format!("var.{v}"),
        };
        let module = c.module.to_string();
        let module = if module.is_empty() {
            module
        } else {
            format!("{module}.")
        };
        let key = c.key.as_ref().map(|k| format!("[{k}]")).unwrap_or_default();
        let _ = write!(out, "check {module}{object}{key}: {}", c.status.as_str());
        for problem in &c.problems {
            let _ = write!(out, " ({problem})");
        }
        out.push('\n');
    }
}

fn render_change(out: &mut String, c: &ResourceChange) {
    let _ = write!(out, "{} {}", action_name(c.action), c.addr);
    if let Some(d) = &c.deposed {
        let _ = write!(out, " (deposed {d})");
    }
    if let Some(r) = c.reason {
        let _ = write!(out, " ({})", r.as_json());
    }
    if let Some(prev) = &c.previous_addr {
        let _ = write!(out, " (moved from {prev})");
    }
    if let Some(id) = &c.importing {
        let _ = write!(out, " (importing {id:?})");
    }
    out.push('\n');
    if matches!(c.action, Action::NoOp | Action::Delete | Action::Forget) {
        return;
    }
    let Kind::Object(after) = c.after.kind() else {
        let _ = writeln!(out, "  = {}", value_text(&c.after));
        return;
    };
    let before = match c.before.kind() {
        Kind::Object(b) => Some(b),
        _ => None,
    };
    for (name, v) in after.iter() {
        let now = value_text(v);
        let was = before.and_then(|b| b.get(name)).map(value_text);
        match was {
            Some(was) if was != now => {
                let _ = writeln!(out, "  {name} = {was} -> {now}");
            }
            _ if v.is_null() => {}
            _ => {
                let _ = writeln!(out, "  {name} = {now}");
            }
        }
    }
}

fn action_name(a: Action) -> &'static str {
    match a {
        Action::NoOp => "no-op",
        Action::Create => "create",
        Action::Read => "read",
        Action::Update => "update",
        Action::DeleteThenCreate => "replace(delete-then-create)",
        Action::CreateThenDelete => "replace(create-then-delete)",
        Action::Delete => "delete",
        Action::Forget => "forget",
    }
}

/// A value on one line: unknowns as `(known after apply)`, sensitive as `(sensitive)`.
fn value_text(v: &Value) -> String {
    if v.is_sensitive() {
        return "(sensitive)".to_string();
    }
    match v.kind() {
        Kind::Null(_) => "null".to_string(),
        Kind::Unknown(_) => "(known after apply)".to_string(),
        Kind::Bool(b) => b.to_string(),
        Kind::Number(n) => n.to_string(),
        Kind::String(s) => format!("{s:?}"),
        Kind::List(_, items) | Kind::Set(_, items) | Kind::Tuple(items) => {
            let items: Vec<String> = items.iter().map(value_text).collect();
            format!("[{}]", items.join(", "))
        }
        Kind::Map(_, entries) | Kind::Object(entries) => {
            if entries.is_empty() {
                return "{}".to_string();
            }
            let items: Vec<String> = entries
                .iter()
                .map(|(k, v)| format!("{k} = {}", value_text(v)))
                .collect();
            format!("{{ {} }}", items.join(", "))
        }
    }
}

fn render_diags(out: &mut String, diags: &Diagnostics, sources: &Sources) {
    for d in diags.iter() {
        let severity = match d.severity {
            Severity::Error => "error",
            Severity::Warning => "warning",
        };
        let _ = write!(out, "{severity}: {}", d.summary);
        if let Some(at) = d.subject.and_then(|s| sources.location(s)) {
            let _ = write!(out, " @ {at}");
        }
        out.push('\n');
    }
}

// ---- count and for_each --------------------------------------------------------------------

#[test]
fn count_expands_with_index() {
    check(
        r#"
//- main.tf
resource "terraform_data" "a" {
  count = 2
  input = "a-${count.index}"
}
output "ids" {
  value = terraform_data.a[*].output
}
"#,
        expect![[r#"
            create terraform_data.a[0]
              id = (known after apply)
              input = "a-0"
              output = (known after apply)
            create terraform_data.a[1]
              id = (known after apply)
              input = "a-1"
              output = (known after apply)
            create output.ids = [(known after apply), (known after apply)]
        "#]],
    );
}
