//! Every relative path of a run resolves against the run's configuration directory (the one
//! given to `baton_engine::load`), never the process's working directory: filesystem
//! functions, `abspath`, `path.cwd`, `--var-file`, a local module's files, a provisioner's
//! command and the names diagnostics give files. Two runs in two directories share the
//! process at once; cargo runs these tests in the crate directory, which is neither.

use baton_core::{FileId, Sources};
use baton_engine::apply::{apply, ApplyOpts};
use baton_engine::plan::{plan, PlanOpts};
use baton_engine::vars::CliVar;
use baton_engine::{Context, NoObserver, Plan};
use baton_eval::Value;
use baton_state::sqlite::SqliteStore;
use baton_state::{Snapshot, StateStore};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

const MAIN_TF: &str = r#"variable "from_var_file" {
  type = string
}

locals {
  tag = trimspace(file("data.txt"))
}

module "m" {
  source = "./mod"
}

resource "terraform_data" "w" {
  input = local.tag

  provisioner "local-exec" {
    command = "pwd -P > wrote.out"
  }
}

output "file" {
  value = file("data.txt")
}

output "exists" {
  value = [fileexists("data.txt"), fileexists("mod/x.txt"), fileexists("nope.txt")]
}

output "fileset" {
  value = fileset(path.module, "*.txt")
}

output "template" {
  value = templatefile("greeting.tftpl", { tag = local.tag })
}

output "abspath" {
  value = abspath(".")
}

output "cwd" {
  value = path.cwd
}

output "var_file" {
  value = var.from_var_file
}

output "module" {
  value = module.m.read
}

output "input" {
  value = terraform_data.w.output
}
"#;

const MOD_TF: &str = r#"output "read" {
  value = [trimspace(file("${path.module}/x.txt")), path.module, abspath(path.module)]
}
"#;

/// Writes the configuration into `dir`, its files holding `tag` so that runs can be told
/// apart.
fn write_config(dir: &Path, tag: &str) {
    let files = [
        ("main.tf", MAIN_TF.to_string()),
        ("data.txt", format!("{tag}\n")),
        ("greeting.tftpl", "hello ${tag}".to_string()),
        (
            "vars/run.tfvars",
            format!("from_var_file = \"{tag}-var-file\"\n"),
        ),
        ("mod/main.tf", MOD_TF.to_string()),
        ("mod/x.txt", format!("{tag}-module\n")),
    ];
    for (name, text) in files {
        let p = dir.join(name);
        if let Some(parent) = p.parent() {
            std::fs::create_dir_all(parent).expect("create config dir");
        }
        std::fs::write(p, text).expect("write config file");
    }
}

/// Loads `dir`, panicking with the rendered diagnostics if that fails.
fn load(dir: &Path, sources: &Sources) -> Context {
    let (ctx, d) = baton_engine::load(dir, "default", sources);
    ctx.unwrap_or_else(|| panic!("load {}: {}", dir.display(), d.render(sources)))
}

/// Plans `ctx` against `prior` with `--var-file vars/run.tfvars` (a relative path).
fn plan_with_var_file(ctx: &Context, prior: &Snapshot) -> Plan {
    let opts = PlanOpts {
        vars: vec![CliVar::File(PathBuf::from("vars/run.tfvars"))],
        ..PlanOpts::default()
    };
    let (p, d) = plan(ctx, prior, &opts, &NoObserver);
    assert!(!d.has_errors(), "plan: {}", d.render(&ctx.sources));
    p.expect("a plan")
}

/// A value as compact JSON, for comparing whole outputs.
fn json(v: &Value) -> String {
    baton_engine::planjson::value_json(v, Default::default())
        .map(|j| j.to_string())
        .unwrap_or_else(|| format!("{v:?}"))
}

/// What one run saw: its (canonical) directory, the outputs of its apply, what its command
/// wrote, and the names its configuration files were given.
struct Seen {
    dir: PathBuf,
    outputs: BTreeMap<String, String>,
    command_wrote: String,
    file_names: Vec<String>,
}

/// Loads, plans and applies the configuration written into `dir` with a store of its own.
fn run(dir: &Path, tag: &str) -> Seen {
    write_config(dir, tag);
    let sources = Sources::new();
    let ctx = load(dir, &sources);
    let store = SqliteStore::open(&dir.join(".baton").join("state.db")).expect("open store");
    let lock = store
        .lock(
            baton_state::lock::current_lock_info("apply"),
            std::time::Duration::from_secs(30),
        )
        .expect("lock");
    let prior = store.current().expect("current state");
    let p = plan_with_var_file(&ctx, &prior);
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
        "apply: {}",
        report.diags.render(&sources)
    );
    let mut file_names = Vec::new();
    let mut i = 0;
    while let Some(f) = sources.get(FileId(i)) {
        i += 1;
        if f.name.ends_with(".tf") {
            file_names.push(f.name.clone());
        }
    }
    Seen {
        dir: ctx.dir.clone(),
        outputs: report
            .outputs
            .iter()
            .map(|(k, (v, _))| (k.clone(), json(v)))
            .collect(),
        command_wrote: std::fs::read_to_string(dir.join("wrote.out"))
            .expect("the command wrote into the configuration directory"),
        file_names,
    }
}

#[test]
fn two_runs_at_once_resolve_every_path_against_their_own_directory() {
    let a = tempfile::tempdir().expect("temp dir");
    let b = tempfile::tempdir().expect("temp dir");
    let process_dir = std::env::current_dir().expect("the test's working directory");
    let (seen_a, seen_b) = std::thread::scope(|s| {
        let ta = s.spawn(|| run(a.path(), "alpha"));
        let tb = s.spawn(|| run(b.path(), "beta"));
        (ta.join().expect("run a"), tb.join().expect("run b"))
    });
    for (seen, tag) in [(&seen_a, "alpha"), (&seen_b, "beta")] {
        assert_ne!(seen.dir, process_dir, "the test must run elsewhere");
        let dir = seen.dir.display().to_string();
        let q = |s: &str| serde_json::Value::String(s.to_string()).to_string();
        let expected: BTreeMap<String, String> = [
            ("file", q(&format!("{tag}\n"))),
            ("exists", "[true,true,false]".to_string()),
            ("fileset", r#"["data.txt"]"#.to_string()),
            ("template", q(&format!("hello {tag}"))),
            ("abspath", q(&dir)),
            ("cwd", q(&dir)),
            ("var_file", q(&format!("{tag}-var-file"))),
            (
                "module",
                format!(
                    "[{},{},{}]",
                    q(&format!("{tag}-module")),
                    q("mod"),
                    q(&format!("{dir}/mod"))
                ),
            ),
            ("input", q(tag)),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_string(), v))
        .collect();
        assert_eq!(seen.outputs, expected, "run {tag}");
        assert_eq!(
            seen.command_wrote.trim_end(),
            dir,
            "run {tag}: the command's directory"
        );
        assert_eq!(
            seen.file_names,
            ["main.tf", "mod/main.tf"],
            "run {tag}: files are named relative to the configuration directory"
        );
    }
}

#[test]
fn var_files_are_named_relative_to_the_configuration_directory_or_as_given() {
    let d = tempfile::tempdir().expect("temp dir");
    write_config(d.path(), "gamma");
    std::fs::write(d.path().join("terraform.tfvars"), "undeclared = 1\n").expect("write");
    std::fs::remove_file(d.path().join("vars/run.tfvars")).expect("remove var file");
    let sources = Sources::new();
    let ctx = load(d.path(), &sources);
    let opts = PlanOpts {
        vars: vec![CliVar::File(PathBuf::from("vars/run.tfvars"))],
        ..PlanOpts::default()
    };
    let (_, diags) = plan(&ctx, &Snapshot::default(), &opts, &NoObserver);
    // An automatic var file, as Terraform names it (not by its full path).
    let w = diags
        .iter()
        .find(|d| d.summary == "Value for undeclared variable")
        .expect("a warning for the undeclared variable");
    assert!(
        w.detail.ends_with("was found in file terraform.tfvars. To use this value, add a \"variable\" block to the configuration."),
        "{}",
        w.detail
    );
    let file = w.subject.and_then(|s| sources.get(s.file)).expect("a file");
    assert_eq!(file.name, "terraform.tfvars");
    // A --var-file, looked for in the configuration directory and named as given.
    let e = diags.errors().next().expect("an error");
    assert_eq!(e.summary, "Failed to read variables file");
    assert!(
        e.detail
            .starts_with("Given variables file vars/run.tfvars does not exist"),
        "{}",
        e.detail
    );
}

#[test]
fn path_cwd_is_what_the_caller_says_and_abspath_stays_in_the_configuration_directory() {
    // Terraform's `path.cwd` is the directory it was started in, before `-chdir`, while
    // `abspath(".")` is the configuration directory: a front end emulating `-chdir` sets
    // `Context::cwd` to keep that distinction.
    let d = tempfile::tempdir().expect("temp dir");
    let started_in = tempfile::tempdir().expect("temp dir");
    write_config(d.path(), "delta");
    let sources = Sources::new();
    let mut ctx = load(d.path(), &sources);
    assert_eq!(
        ctx.cwd, ctx.dir,
        "path.cwd is the configuration directory by default"
    );
    ctx.cwd = started_in.path().to_path_buf();
    let p = plan_with_var_file(&ctx, &Snapshot::default());
    let out = |name: &str| {
        p.planned_outputs
            .get(name)
            .and_then(|(v, _)| v.as_str().map(str::to_string))
            .unwrap_or_else(|| panic!("output {name}"))
    };
    assert_eq!(out("cwd"), started_in.path().display().to_string());
    assert_eq!(out("abspath"), ctx.dir.display().to_string());
}

#[test]
fn constants_that_call_filesystem_functions_read_the_configuration_directory() {
    // Baton evaluates function calls in constants (variable defaults, `optional()` defaults,
    // var files), which Terraform rejects ("Function calls not allowed"); while it does, a
    // relative path there is relative to the configuration directory too.
    let d = tempfile::tempdir().expect("temp dir");
    let files = [
        ("data.txt", "from-data\n"),
        (
            "main.tf",
            r#"variable "by_default" {
  type    = string
  default = file("data.txt")
}

variable "by_optional" {
  type    = object({ a = optional(string, file("data.txt")) })
  default = {}
}

variable "by_var_file" {
  type = string
}

output "all" {
  value = [var.by_default, var.by_optional.a, var.by_var_file]
}
"#,
        ),
        ("terraform.tfvars", "by_var_file = file(\"data.txt\")\n"),
    ];
    for (name, text) in files {
        std::fs::write(d.path().join(name), text).expect("write config file");
    }
    let sources = Sources::new();
    let ctx = load(d.path(), &sources);
    let (p, diags) = plan(
        &ctx,
        &Snapshot::default(),
        &PlanOpts::default(),
        &NoObserver,
    );
    assert!(!diags.has_errors(), "{}", diags.render(&sources));
    let p = p.expect("a plan");
    let all = p.planned_outputs.get("all").expect("output all");
    assert_eq!(
        json(&all.0),
        r#"["from-data\n","from-data\n","from-data\n"]"#
    );
}
