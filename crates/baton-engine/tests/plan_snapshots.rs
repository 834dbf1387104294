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
            match p {
                Some(p) => render_plan(&mut out, &p),
                None => out.push_str("(no plan)\n"),
            }
        }
    }
    render_diags(&mut out, &diags, &sources);
    let dir = dir.canonicalize().unwrap_or_else(|_| dir.to_path_buf());
    // Diagnostics name files by the path they were read from; show them relative to the root.
    out.replace(&format!("{}/", dir.display()), "")
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
        Kind::String(s) if is_uuid(s) => "(uuid)".to_string(),
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

/// Ids of created objects are random; snapshots show where one is, not its value.
fn is_uuid(s: &str) -> bool {
    let groups: Vec<&str> = s.split('-').collect();
    groups.len() == 5
        && groups.iter().map(|g| g.len()).eq([8, 4, 4, 4, 12])
        && s.chars().all(|c| c == '-' || c.is_ascii_hexdigit())
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

#[test]
fn for_each_over_a_set_and_a_map() {
    check(
        r#"
//- main.tf
resource "terraform_data" "s" {
  for_each = toset(["b", "a"])
  input    = each.key
}
resource "terraform_data" "m" {
  for_each = { x = 1, y = 2 }
  input    = "${each.key}=${each.value}"
}
"#,
        expect![[r#"
            create terraform_data.m["x"]
              id = (known after apply)
              input = "x=1"
              output = (known after apply)
            create terraform_data.m["y"]
              id = (known after apply)
              input = "y=2"
              output = (known after apply)
            create terraform_data.s["a"]
              id = (known after apply)
              input = "a"
              output = (known after apply)
            create terraform_data.s["b"]
              id = (known after apply)
              input = "b"
              output = (known after apply)
        "#]],
    );
}

#[test]
fn for_each_key_change_deletes_old_and_creates_new() {
    check_two_step(
        r#"
//- main.tf
resource "terraform_data" "r" {
  for_each = toset(["a", "b"])
  input    = each.key
}
"#,
        r#"
//- main.tf
resource "terraform_data" "r" {
  for_each = toset(["b", "c"])
  input    = each.key
}
"#,
        expect![[r#"
            delete terraform_data.r["a"] (delete_because_each_key)
            no-op terraform_data.r["b"]
            create terraform_data.r["c"]
              id = (known after apply)
              input = "c"
              output = (known after apply)
        "#]],
    );
}

#[test]
fn count_decrease_deletes_the_highest_index() {
    check_two_step(
        r#"
//- main.tf
resource "terraform_data" "r" {
  count = 3
  input = count.index
}
"#,
        r#"
//- main.tf
resource "terraform_data" "r" {
  count = 2
  input = count.index
}
"#,
        expect![[r#"
            no-op terraform_data.r[0]
            no-op terraform_data.r[1]
            delete terraform_data.r[2] (delete_because_count_index)
        "#]],
    );
}

#[test]
fn count_one_to_no_count_is_an_implicit_move() {
    check_two_step(
        r#"
//- main.tf
resource "terraform_data" "r" {
  count = 1
  input = "x"
}
"#,
        r#"
//- main.tf
resource "terraform_data" "r" {
  input = "x"
}
"#,
        expect![[r#"
            moved terraform_data.r[0] -> terraform_data.r
            no-op terraform_data.r (moved from terraform_data.r[0])
        "#]],
    );
}

#[test]
fn count_with_unknown_value_is_an_error() {
    check(
        r#"
//- main.tf
resource "terraform_data" "a" {}
resource "terraform_data" "b" {
  count = length(terraform_data.a.id)
}
"#,
        expect![[r#"
            (errored)
            create terraform_data.a
              id = (known after apply)
            error: Invalid count argument @ main.tf:3:11
        "#]],
    );
}

#[test]
fn negative_count_is_an_error() {
    check(
        r#"
//- main.tf
resource "terraform_data" "a" {
  count = -1
}
"#,
        expect![[r#"
            (errored)
            error: Invalid count argument @ main.tf:2:11
        "#]],
    );
}

#[test]
fn for_each_over_a_list_is_an_error() {
    check(
        r#"
//- main.tf
resource "terraform_data" "a" {
  for_each = ["a", "b"]
}
"#,
        expect![[r#"
            (errored)
            error: Invalid for_each argument @ main.tf:2:14
        "#]],
    );
}

#[test]
fn for_each_with_unknown_keys_is_an_error() {
    check(
        r#"
//- main.tf
resource "terraform_data" "a" {
  for_each = toset([uuid()])
}
"#,
        expect![[r#"
            (errored)
            error: Invalid for_each argument @ main.tf:2:14
        "#]],
    );
}

// ---- references, dependencies, modules ----------------------------------------------------

#[test]
fn depends_on_and_references_plan_in_any_order() {
    check(
        r#"
//- main.tf
resource "terraform_data" "b" {
  input      = terraform_data.a.output
  depends_on = [terraform_data.c]
}
resource "terraform_data" "a" {
  input = "a"
}
resource "terraform_data" "c" {}
"#,
        expect![[r#"
            create terraform_data.a
              id = (known after apply)
              input = "a"
              output = (known after apply)
            create terraform_data.b
              id = (known after apply)
              input = (known after apply)
              output = (known after apply)
            create terraform_data.c
              id = (known after apply)
        "#]],
    );
}

#[test]
fn module_with_count_and_outputs() {
    check(
        r#"
//- main.tf
module "m" {
  source = "./modules/x"
  count  = 2
  name   = "n${count.index}"
}
output "names" {
  value = module.m[*].name
}
//- modules/x/main.tf
variable "name" {
  type = string
}
resource "terraform_data" "r" {
  input = var.name
}
output "name" {
  value = "${var.name}!"
}
"#,
        expect![[r#"
            create module.m[0].terraform_data.r
              id = (known after apply)
              input = "n0"
              output = (known after apply)
            create module.m[1].terraform_data.r
              id = (known after apply)
              input = "n1"
              output = (known after apply)
            create output.names = ["n0!", "n1!"]
        "#]],
    );
}

#[test]
fn module_for_each_references_into_another_resource() {
    check(
        r#"
//- main.tf
module "m" {
  for_each = { a = "1", b = "2" }
  source   = "./modules/x"
  name     = each.value
}
resource "terraform_data" "sum" {
  input = { for k, m in module.m : k => m.name }
}
//- modules/x/main.tf
variable "name" {}
output "name" {
  value = upper("v${var.name}")
}
"#,
        expect![[r#"
            create terraform_data.sum
              id = (known after apply)
              input = { a = "V1", b = "V2" }
              output = (known after apply)
        "#]],
    );
}

#[test]
fn nested_modules_pass_values_down_and_up() {
    check(
        r#"
//- main.tf
module "outer" {
  source = "./modules/outer"
  v      = "top"
}
output "deep" {
  value = module.outer.deep
}
//- modules/outer/main.tf
variable "v" {}
module "inner" {
  source = "../inner"
  v      = "${var.v}/outer"
}
output "deep" {
  value = module.inner.v
}
//- modules/inner/main.tf
variable "v" {}
resource "terraform_data" "r" {
  input = var.v
}
output "v" {
  value = "${var.v}/inner"
}
"#,
        expect![[r#"
            create module.outer.module.inner.terraform_data.r
              id = (known after apply)
              input = "top/outer"
              output = (known after apply)
            create output.deep = "top/outer/inner"
        "#]],
    );
}

#[test]
fn undeclared_references_are_errors_at_their_location() {
    check(
        r#"
//- main.tf
resource "terraform_data" "a" {
  input = terraform_data.missing.id
}
output "o" {
  value = var.nope
}
locals {
  x = local.y
}
"#,
        expect![[r#"
            error: Reference to undeclared local value @ main.tf:8:7
            error: Reference to undeclared input variable @ main.tf:5:11
            error: Reference to undeclared resource @ main.tf:2:11
        "#]],
    );
}

#[test]
fn reference_to_an_undeclared_module_output() {
    check(
        r#"
//- main.tf
module "m" {
  source = "./modules/x"
}
output "o" {
  value = module.m.nope
}
//- modules/x/main.tf
output "yes" {
  value = 1
}
"#,
        expect![[r#"
            error: Unsupported attribute @ main.tf:5:11
        "#]],
    );
}

#[test]
fn cycle_between_locals_is_reported() {
    check(
        r#"
//- main.tf
locals {
  a = local.b
  b = local.a
}
output "o" {
  value = local.a
}
"#,
        expect![[r#"
            error: Cycle: local.a → local.b → local.a @ main.tf:2:3
        "#]],
    );
}

#[test]
fn resource_cycle_is_reported() {
    check(
        r#"
//- main.tf
resource "terraform_data" "a" {
  input = terraform_data.b.output
}
resource "terraform_data" "b" {
  input = terraform_data.a.output
}
"#,
        expect![[r#"
            error: Cycle: terraform_data.a → terraform_data.b → terraform_data.a @ main.tf:1:1
        "#]],
    );
}

#[test]
fn self_reference_is_an_error() {
    check(
        r#"
//- main.tf
resource "terraform_data" "a" {
  input = terraform_data.a.id
}
"#,
        expect![[r#"
            (no plan)
            error: Self-referential block @ main.tf:2:11
        "#]],
    );
}

// ---- lifecycle ------------------------------------------------------------------------------

#[test]
fn triggers_replace_change_replaces() {
    check_two_step(
        r#"
//- main.tf
resource "terraform_data" "r" {
  triggers_replace = "v1"
  input            = "same"
}
"#,
        r#"
//- main.tf
resource "terraform_data" "r" {
  triggers_replace = "v2"
  input            = "same"
}
"#,
        expect![[r#"
            replace(delete-then-create) terraform_data.r (replace_because_cannot_update)
              id = (uuid) -> (known after apply)
              input = "same"
              output = "same" -> (known after apply)
              triggers_replace = "v1" -> "v2"
        "#]],
    );
}

#[test]
fn create_before_destroy_replaces_create_first() {
    check_two_step(
        r#"
//- main.tf
resource "terraform_data" "r" {
  triggers_replace = 1
  lifecycle {
    create_before_destroy = true
  }
}
"#,
        r#"
//- main.tf
resource "terraform_data" "r" {
  triggers_replace = 2
  lifecycle {
    create_before_destroy = true
  }
}
"#,
        expect![[r#"
            replace(create-then-delete) terraform_data.r (replace_because_cannot_update)
              id = (uuid) -> (known after apply)
              triggers_replace = 1 -> 2
        "#]],
    );
}

#[test]
fn replace_triggered_by_follows_the_replaced_resource() {
    check_two_step(
        r#"
//- main.tf
resource "terraform_data" "a" {
  triggers_replace = 1
}
resource "terraform_data" "b" {
  input = "b"
  lifecycle {
    replace_triggered_by = [terraform_data.a]
  }
}
"#,
        r#"
//- main.tf
resource "terraform_data" "a" {
  triggers_replace = 2
}
resource "terraform_data" "b" {
  input = "b"
  lifecycle {
    replace_triggered_by = [terraform_data.a]
  }
}
"#,
        expect![[r#"
            replace(delete-then-create) terraform_data.a (replace_because_cannot_update)
              id = (uuid) -> (known after apply)
              triggers_replace = 1 -> 2
            replace(delete-then-create) terraform_data.b (replace_by_triggers)
              id = (uuid) -> (known after apply)
              input = "b"
              output = "b" -> (known after apply)
        "#]],
    );
}

#[test]
fn ignore_changes_keeps_the_prior_value() {
    check_two_step(
        r#"
//- main.tf
resource "terraform_data" "r" {
  input = "one"
  lifecycle {
    ignore_changes = [input]
  }
}
"#,
        r#"
//- main.tf
resource "terraform_data" "r" {
  input = "two"
  lifecycle {
    ignore_changes = [input]
  }
}
"#,
        expect![[r#"
            no-op terraform_data.r
        "#]],
    );
}

#[test]
fn input_change_updates_in_place() {
    check_two_step(
        r#"
//- main.tf
resource "terraform_data" "r" {
  input = "one"
}
output "o" {
  value = terraform_data.r.output
}
"#,
        r#"
//- main.tf
resource "terraform_data" "r" {
  input = "two"
}
output "o" {
  value = terraform_data.r.output
}
"#,
        expect![[r#"
            update terraform_data.r
              id = (uuid)
              input = "one" -> "two"
              output = "one" -> (known after apply)
            update output.o = (known after apply)
        "#]],
    );
}

// ---- moved, removed, import -----------------------------------------------------------------

#[test]
fn moved_block_renames_without_replacing() {
    check_two_step(
        r#"
//- main.tf
resource "terraform_data" "old" {
  input = "x"
}
"#,
        r#"
//- main.tf
resource "terraform_data" "new" {
  input = "x"
}
moved {
  from = terraform_data.old
  to   = terraform_data.new
}
"#,
        expect![[r#"
            moved terraform_data.old -> terraform_data.new
            no-op terraform_data.new (moved from terraform_data.old)
        "#]],
    );
}

#[test]
fn moved_into_a_module() {
    check_two_step(
        r#"
//- main.tf
resource "terraform_data" "r" {
  input = "x"
}
"#,
        r#"
//- main.tf
module "m" {
  source = "./modules/x"
}
moved {
  from = terraform_data.r
  to   = module.m.terraform_data.r
}
//- modules/x/main.tf
resource "terraform_data" "r" {
  input = "x"
}
"#,
        expect![[r#"
            moved terraform_data.r -> module.m.terraform_data.r
            no-op module.m.terraform_data.r (moved from terraform_data.r)
        "#]],
    );
}

#[test]
fn removed_block_forgets_without_destroying() {
    check_two_step(
        r#"
//- main.tf
resource "terraform_data" "r" {
  input = "x"
}
"#,
        r#"
//- main.tf
removed {
  from = terraform_data.r
  lifecycle {
    destroy = false
  }
}
"#,
        expect![[r#"
            forget terraform_data.r
        "#]],
    );
}

#[test]
fn removed_resource_without_block_is_destroyed() {
    check_two_step(
        r#"
//- main.tf
resource "terraform_data" "r" {
  input = "x"
}
resource "terraform_data" "keep" {}
"#,
        r#"
//- main.tf
resource "terraform_data" "keep" {}
"#,
        expect![[r#"
            no-op terraform_data.keep
            delete terraform_data.r (delete_because_no_resource_config)
        "#]],
    );
}

#[test]
fn import_block_adopts_an_object() {
    check(
        r#"
//- main.tf
import {
  to = terraform_data.r
  id = "abc"
}
resource "terraform_data" "r" {}
"#,
        expect![[r#"
            no-op terraform_data.r (importing "abc")
        "#]],
    );
}

// ---- conditions and checks ------------------------------------------------------------------

#[test]
fn precondition_failure_is_an_error_with_its_message() {
    check(
        r#"
//- main.tf
variable "n" {
  default = 3
}
resource "terraform_data" "r" {
  input = var.n
  lifecycle {
    precondition {
      condition     = var.n < 2
      error_message = "n must be below 2."
    }
  }
}
"#,
        expect![[r#"
            (errored)
            check terraform_data.r: fail (n must be below 2.)
            error: Resource precondition failed @ main.tf:8:23
        "#]],
    );
}

#[test]
fn postcondition_on_unknown_value_is_unknown() {
    check(
        r#"
//- main.tf
locals {
  x = "x"
}
resource "terraform_data" "r" {
  input = local.x
  lifecycle {
    postcondition {
      condition     = self.id != ""
      error_message = "No id."
    }
    precondition {
      condition     = local.x == "x"
      error_message = "Never."
    }
  }
}
"#,
        expect![[r#"
            create terraform_data.r
              id = (known after apply)
              input = "x"
              output = (known after apply)
            check terraform_data.r: unknown
        "#]],
    );
}

#[test]
fn check_blocks_warn_and_report_statuses() {
    check(
        r#"
//- main.tf
resource "terraform_data" "r" {}
locals {
  abc = "abc"
}
check "known_pass" {
  assert {
    condition     = length(local.abc) == 3
    error_message = "abc is 3 long."
  }
}
check "known_fail" {
  assert {
    condition     = length(local.abc) == 4
    error_message = "abc is not 4 long."
  }
}
check "unknown" {
  assert {
    condition     = terraform_data.r.id != ""
    error_message = "No id."
  }
}
"#,
        expect![[r#"
            create terraform_data.r
              id = (known after apply)
            check check.known_fail: fail (abc is not 4 long.)
            check check.known_pass: pass
            check check.unknown: unknown
            warning: Check block assertion failed @ main.tf:13:21
        "#]],
    );
}

#[test]
fn condition_that_refers_to_nothing_is_an_error() {
    check(
        r#"
//- main.tf
output "o" {
  value = "x"
  precondition {
    condition     = false
    error_message = "Output refused."
  }
}
"#,
        expect![[r#"
            error: Invalid precondition expression @ main.tf:4:21
        "#]],
    );
}

/// KNOWN DIVERGENCE: for a failing *default*, Terraform 1.11 puts the error on the variable
/// block (`main.tf:1:1`), Baton on the condition.
#[test]
fn variable_validation_failure() {
    check(
        r#"
//- main.tf
variable "size" {
  type    = number
  default = 7
  validation {
    condition     = var.size % 2 == 0
    error_message = "Size must be even."
  }
}
output "size" {
  value = var.size
}
"#,
        expect![[r#"
            (errored)
            check var.size: fail (Size must be even.)
            error: Invalid value for variable @ main.tf:5:21
        "#]],
    );
}

#[test]
fn variable_without_value_is_an_error() {
    check(
        r#"
//- main.tf
variable "required" {
  type = string
}
output "o" {
  value = var.required
}
"#,
        expect![[r#"
            (errored)
            error: No value for required variable @ main.tf:1:1
        "#]],
    );
}

#[test]
fn output_precondition_fails() {
    check(
        r#"
//- main.tf
variable "v" {
  default = "x"
}
output "o" {
  value = var.v
  precondition {
    condition     = var.v != "x"
    error_message = "Output refused."
  }
}
"#,
        expect![[r#"
            (errored)
            check output.o: fail (Output refused.)
            error: Module output value precondition failed @ main.tf:7:21
        "#]],
    );
}

#[test]
fn count_index_outside_counted_block_is_an_error() {
    check(
        r#"
//- main.tf
resource "terraform_data" "c" {
  input = count.index
}
"#,
        expect![[r#"
            error: Reference to "count" in non-counted context @ main.tf:2:11
        "#]],
    );
}

// ---- sensitive and unknown values -----------------------------------------------------------

/// KNOWN DIVERGENCE: Terraform 1.11 plans `output = (known after apply)`, not sensitive: only the
/// configured `input` carries the mark.
#[test]
fn sensitive_variable_propagates_to_resources_and_needs_sensitive_output() {
    check(
        r#"
//- main.tf
variable "secret" {
  default   = "hunter2"
  sensitive = true
}
resource "terraform_data" "r" {
  input = { user = "u", pass = var.secret }
}
output "leak" {
  value = "p=${var.secret}"
}
"#,
        expect![[r#"
            (errored)
            create terraform_data.r
              id = (known after apply)
              input = { pass = (sensitive), user = "u" }
              output = (sensitive)
            error: Output refers to sensitive values @ main.tf:8:1
        "#]],
    );
}

#[test]
fn sensitive_output_and_function() {
    check(
        r#"
//- main.tf
locals {
  token = sensitive("t0k")
}
resource "terraform_data" "r" {
  input = [local.token, "plain", nonsensitive(local.token)]
}
output "token" {
  value     = local.token
  sensitive = true
}
output "len" {
  value = length(local.token)
}
"#,
        expect![[r#"
            (errored)
            create terraform_data.r
              id = (known after apply)
              input = [(sensitive), "plain", "t0k"]
              output = (sensitive)
            create output.token = (sensitive)
            error: Output refers to sensitive values @ main.tf:11:1
        "#]],
    );
}

#[test]
fn uuid_and_timestamp_are_unknown_until_apply() {
    check(
        r#"
//- main.tf
resource "terraform_data" "r" {
  input = {
    id   = uuid()
    at   = timestamp()
    same = "k"
    len  = length(uuid())
  }
}
output "at" {
  value = timestamp()
}
output "joined" {
  value = "${terraform_data.r.id}-x"
}
"#,
        expect![[r#"
            create terraform_data.r
              id = (known after apply)
              input = { at = (known after apply), id = (known after apply), len = (known after apply), same = "k" }
              output = (known after apply)
            create output.at = (known after apply)
            create output.joined = (known after apply)
        "#]],
    );
}

// ---- validate-only --------------------------------------------------------------------------

#[test]
fn validate_only_uses_placeholders_for_count_and_each() {
    check_validate(
        r#"
//- main.tf
variable "n" {
  type = number
}
resource "terraform_data" "c" {
  count = var.n
  input = "c${count.index}"
}
resource "terraform_data" "e" {
  for_each = toset(["a"])
  input    = each.key
}
output "o" {
  value = terraform_data.c[0].input
}
"#,
        expect![[r#"
            (no plan)
        "#]],
    );
}

/// Both mistakes are reported, as `terraform validate` does: `count.index` and `each.*` are
/// checked when the configuration loads, with the other reference errors.
#[test]
fn validate_only_still_reports_undeclared_references() {
    check_validate(
        r#"
//- main.tf
resource "terraform_data" "e" {
  for_each = toset(["a"])
  input    = each.nope
}
resource "terraform_data" "c" {
  input = count.index
}
"#,
        expect![[r#"
            error: Reference to "count" in non-counted context @ main.tf:6:11
            error: Invalid "each" attribute @ main.tf:3:14
        "#]],
    );
}

#[test]
fn validate_only_count_index_outside_counted_block() {
    check_validate(
        r#"
//- main.tf
resource "terraform_data" "c" {
  input = count.index
}
"#,
        expect![[r#"
            error: Reference to "count" in non-counted context @ main.tf:2:11
        "#]],
    );
}

/// Terraform 1.11 reports both mistakes (`validate` and `plan`), and so does Baton.
#[test]
fn each_and_count_misuse_in_two_resources_are_both_reported() {
    check(
        r#"
//- main.tf
resource "terraform_data" "e" {
  for_each = toset(["a"])
  input    = each.nope
}
resource "terraform_data" "c" {
  input = count.index
}
"#,
        expect![[r#"
            error: Reference to "count" in non-counted context @ main.tf:6:11
            error: Invalid "each" attribute @ main.tf:3:14
        "#]],
    );
}
