//! Differential tests: Baton must evaluate the Terraform language exactly like Terraform.
//!
//! Every case under `tests/fixtures/diff/<NNN-name>/` is a small configuration with an
//! `expected.json` recorded from the real `terraform` by `tests/diff/record.sh`. This test runs
//! each case through the `baton` binary, in a temporary copy, and compares outcomes, planned
//! actions per address, `output --json` (values, types, sensitive flags; numbers by their
//! exact decimal text) and the key paths of `plan --json` against those of Terraform's
//! `show -json` (normalised by `common::keypaths`; the few documented exceptions are
//! `KEY_PATH_EXCEPTIONS`). `baton validate` must agree with `terraform validate` on every case.
//! `DIFF_CASE=<substring>` runs only the matching cases.
//!
//! It must not: call terraform, write into the fixture directories, or let one hanging or
//! crashing case stop the others (every command has a timeout and is killed after it).

mod common;

use std::collections::{BTreeMap, BTreeSet, VecDeque};
use std::fs;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::{Duration, Instant};

use serde_json::Value;

/// How long one baton command may run before it is killed.
const COMMAND_TIMEOUT: Duration = Duration::from_secs(60);
/// How many cases run at once.
const PARALLEL_CASES: usize = 4;
/// How much of an expected or actual value a report line shows.
const SHOW_CHARS: usize = 300;

/// Key paths where Baton's `plan --json` legitimately differs from Terraform's `show -json`
/// (tests/diff/README.md, "Key paths" says why): a path is excused when it starts with one of
/// these prefixes. Keep it short; every entry needs its reason.
const KEY_PATH_EXCEPTIONS: &[(&str, &str)] = &[
    // Baton prints a sensitive output value as `null` unless asked (Terraform prints it), so
    // the inside of a sensitive collection has no key paths (case 093).
    (".output_changes.*.after.", SENSITIVE_NULL),
    (".output_changes.*.before.", SENSITIVE_NULL),
    (".planned_values.outputs.*.value.", SENSITIVE_NULL),
    (".prior_state.values.outputs.*.value.", SENSITIVE_NULL),
];
const SENSITIVE_NULL: &str = "sensitive values are null in `plan --json`";

#[test]
fn differential_against_terraform() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tests/fixtures/diff");
    let filter = std::env::var("DIFF_CASE").unwrap_or_default();
    let mut cases: Vec<PathBuf> = fs::read_dir(&root)
        .expect("tests/fixtures/diff is readable")
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.join("expected.json").is_file())
        .filter(|p| case_name(p).contains(filter.as_str()))
        .collect();
    cases.sort();
    assert!(
        !cases.is_empty(),
        "no differential case matches DIFF_CASE={filter:?} in {}",
        root.display()
    );

    let started = Instant::now();
    let queue = Arc::new(Mutex::new(
        cases.iter().cloned().enumerate().collect::<VecDeque<_>>(),
    ));
    let results = Arc::new(Mutex::new(Vec::new()));
    let workers: Vec<_> = (0..PARALLEL_CASES.min(cases.len()))
        .map(|_| {
            let queue = Arc::clone(&queue);
            let results = Arc::clone(&results);
            thread::spawn(move || loop {
                let next = queue.lock().expect("queue lock").pop_front();
                let Some((i, case)) = next else { break };
                let problems = run_case(&case);
                results
                    .lock()
                    .expect("results lock")
                    .push((i, case, problems));
            })
        })
        .collect();
    for w in workers {
        w.join().expect("a differential worker thread panicked");
    }

    let mut results = std::mem::take(&mut *results.lock().expect("results lock"));
    results.sort_by_key(|(i, _, _)| *i);
    let mut report = String::new();
    let mut failed = Vec::new();
    for (_, case, problems) in &results {
        if problems.is_empty() {
            continue;
        }
        let name = case_name(case);
        report.push_str(&format!("FAIL {name}\n"));
        for p in problems {
            report.push_str(&format!("    {p}\n"));
        }
        failed.push(name);
    }
    let passed = results.len() - failed.len();
    report.push_str(&format!(
        "differential: {passed} passed, {} failed ({:.1}s)\n",
        failed.len(),
        started.elapsed().as_secs_f64()
    ));
    if !failed.is_empty() {
        report.push_str(&format!("failing cases: {}\n", failed.join(" ")));
        report.push_str("run one case with DIFF_CASE=<substring>\n");
    }
    eprint!("{report}");
    assert!(
        failed.is_empty(),
        "{} differential case(s) failed (report above)",
        failed.len()
    );
}

/// What one run (step) of a case did or should do.
#[derive(Debug)]
enum Outcome {
    Ok {
        actions: BTreeMap<String, Vec<String>>,
        outputs: Value,
        /// The plan document's key paths (`common::keypaths`).
        key_paths: Option<BTreeSet<String>>,
    },
    Error {
        phase: String,
        /// Resource instances in the state after the failure.
        state: Vec<String>,
        /// Terraform's error summary, or Baton's first lines of stderr.
        message: String,
        /// The actions of a plan that succeeded before the apply failed (Baton only).
        actions: Option<BTreeMap<String, Vec<String>>>,
        /// The key paths of a plan that succeeded before the apply failed.
        key_paths: Option<BTreeSet<String>>,
    },
}

fn case_name(case: &Path) -> String {
    case.file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default()
}

/// Runs every step of one case; returns the differences (empty: the case passes).
fn run_case(case: &Path) -> Vec<String> {
    let mut problems = Vec::new();
    let expected_text = match fs::read_to_string(case.join("expected.json")) {
        Ok(t) => t,
        Err(e) => return vec![format!("cannot read expected.json: {e}")],
    };
    let terraform_expected: Value = match serde_json::from_str(&expected_text) {
        Ok(v) => v,
        Err(e) => return vec![format!("expected.json is not JSON: {e}")],
    };
    // A documented, deliberate difference from Terraform (see docs/language.md): the case
    // states Baton's expected result and the reason beside Terraform's recorded one.
    let expected = match fs::read_to_string(case.join("baton-differs.json")) {
        Ok(text) => {
            let v: Value = match serde_json::from_str(&text) {
                Ok(v) => v,
                Err(e) => return vec![format!("baton-differs.json is not JSON: {e}")],
            };
            let reason = v.get("reason").and_then(Value::as_str).unwrap_or_default();
            if reason.is_empty() {
                return vec!["baton-differs.json must give a reason".to_string()];
            }
            let Some(exp) = v.get("expected").cloned() else {
                return vec!["baton-differs.json must hold Baton's \"expected\" result".to_string()];
            };
            if exp == terraform_expected {
                return vec!["baton-differs.json equals Terraform's result: remove it".to_string()];
            }
            exp
        }
        Err(_) => terraform_expected,
    };
    let work = match tempfile::Builder::new().prefix("baton-diff-").tempdir() {
        Ok(d) => d,
        Err(e) => return vec![format!("cannot create a temp dir: {e}")],
    };
    if let Err(e) = copy_case(case, work.path()) {
        return vec![format!("cannot copy the case: {e}")];
    }
    let env = read_env(&case.join("env"));

    // `baton validate` agrees with `terraform validate` (recorded as `validate`); whatever
    // Terraform could plan is valid in any case.
    let plannable = match expected.get("outcome").and_then(Value::as_str) {
        Some("ok") => true,
        Some("error") => expected.get("phase").and_then(Value::as_str) == Some("apply"),
        _ => false,
    };
    let valid = expected
        .get("validate")
        .and_then(Value::as_bool)
        .unwrap_or(plannable);
    match baton(work.path(), &["validate"], &env) {
        Ok(run) if run.success == valid => {}
        Ok(run) if valid => problems.push(format!(
            "`baton validate` failed on a configuration terraform validate accepts: {}",
            run.stderr_head()
        )),
        Ok(_) => problems.push(
            "`baton validate` accepted a configuration terraform validate rejects".to_string(),
        ),
        Err(e) => problems.push(e),
    }

    let steps: [(&str, &str, Option<&Value>); 2] = [
        ("", "args", Some(&expected)),
        ("step2: ", "args2", expected.get("step2")),
    ];
    for (label, args_file, step_expected) in steps {
        let Some(step_expected) = step_expected else {
            break;
        };
        let args = read_lines(&case.join(args_file));
        let want = match parse_expected(step_expected) {
            Ok(w) => w,
            Err(e) => {
                problems.push(format!("{label}bad expected.json: {e}"));
                break;
            }
        };
        let got = match run_step(work.path(), &args, &env) {
            Ok(g) => g,
            Err(e) => {
                problems.push(format!("{label}{e}"));
                break;
            }
        };
        let before = problems.len();
        compare(label, &want, &got, &mut problems);
        // A second step only makes sense on top of a first step that matched and succeeded.
        if problems.len() != before || !matches!(got, Outcome::Ok { .. }) {
            break;
        }
    }
    problems
}

fn parse_expected(v: &Value) -> Result<Outcome, String> {
    match v.get("outcome").and_then(Value::as_str) {
        Some("ok") => Ok(Outcome::Ok {
            actions: actions_from_map(v.get("actions").unwrap_or(&Value::Null))?,
            outputs: v
                .get("outputs")
                .cloned()
                .unwrap_or_else(|| Value::Object(Default::default())),
            key_paths: key_paths_from_list(v.get("key_paths"))?,
        }),
        Some("error") => Ok(Outcome::Error {
            phase: v
                .get("phase")
                .and_then(Value::as_str)
                .unwrap_or("plan")
                .to_string(),
            state: v
                .get("state")
                .and_then(Value::as_array)
                .map(|a| {
                    a.iter()
                        .filter_map(|s| s.as_str().map(str::to_string))
                        .collect()
                })
                .unwrap_or_default(),
            message: v
                .get("error")
                .and_then(Value::as_str)
                .unwrap_or("")
                .to_string(),
            actions: None,
            key_paths: key_paths_from_list(v.get("key_paths"))?,
        }),
        other => Err(format!("unknown outcome {other:?}")),
    }
}

/// The recorded `key_paths` list, if the step has one.
fn key_paths_from_list(v: Option<&Value>) -> Result<Option<BTreeSet<String>>, String> {
    let Some(v) = v else { return Ok(None) };
    let list = v.as_array().ok_or("key_paths is not a list")?;
    list.iter()
        .map(|p| {
            p.as_str()
                .map(str::to_string)
                .ok_or_else(|| format!("key path {p} is not a string"))
        })
        .collect::<Result<BTreeSet<_>, _>>()
        .map(Some)
}

fn actions_from_map(v: &Value) -> Result<BTreeMap<String, Vec<String>>, String> {
    let mut out = BTreeMap::new();
    let Some(map) = v.as_object() else {
        return Ok(out);
    };
    for (addr, acts) in map {
        let acts: Vec<String> = acts
            .as_array()
            .ok_or_else(|| format!("actions of {addr} are not a list"))?
            .iter()
            .filter_map(|a| a.as_str().map(str::to_string))
            .collect();
        if acts != ["no-op"] {
            out.insert(addr.clone(), acts);
        }
    }
    Ok(out)
}

/// `baton plan --json`, `baton apply --auto-approve`, `baton output --json`, in `dir`.
fn run_step(dir: &Path, args: &[String], env: &[(String, String)]) -> Result<Outcome, String> {
    let plan = baton(dir, &[&["plan", "--json"][..], &strs(args)].concat(), env)?;
    if !plan.success {
        return Ok(Outcome::Error {
            phase: "plan".into(),
            state: state_list(dir, env)?,
            message: plan.stderr_head(),
            actions: None,
            key_paths: None,
        });
    }
    let plan_json: Value = serde_json::from_str(&plan.stdout).map_err(|e| {
        format!(
            "`baton plan --json` printed no JSON ({e}): {}",
            show(&plan.stdout)
        )
    })?;
    let key_paths = Some(common::keypaths::key_paths(&plan_json));
    let mut actions = BTreeMap::new();
    for rc in plan_json
        .get("resource_changes")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        let addr = rc
            .get("address")
            .and_then(Value::as_str)
            .unwrap_or("?")
            .to_string();
        let acts: Vec<String> = rc
            .pointer("/change/actions")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .filter_map(|a| a.as_str().map(str::to_string))
            .collect();
        if acts != ["no-op"] {
            actions.insert(addr, acts);
        }
    }

    let apply = baton(
        dir,
        // Terraform keeps what a failed apply completed: compare under the same policy.
        &[
            &["apply", "--auto-approve", "--on-failure", "halt"][..],
            &strs(args),
        ]
        .concat(),
        env,
    )?;
    if !apply.success {
        return Ok(Outcome::Error {
            phase: "apply".into(),
            state: state_list(dir, env)?,
            message: apply.stderr_head(),
            actions: Some(actions),
            key_paths,
        });
    }
    let output = baton(dir, &["output", "--json"], env)?;
    if !output.success {
        return Err(format!(
            "`baton output --json` failed: {}",
            output.stderr_head()
        ));
    }
    let outputs: Value = serde_json::from_str(&output.stdout).map_err(|e| {
        format!(
            "`baton output --json` printed no JSON ({e}): {}",
            show(&output.stdout)
        )
    })?;
    Ok(Outcome::Ok {
        actions,
        outputs,
        key_paths,
    })
}

/// The resource instances in Baton's state (none when there is no state at all).
fn state_list(dir: &Path, env: &[(String, String)]) -> Result<Vec<String>, String> {
    let out = baton(dir, &["state", "list"], env)?;
    if !out.success {
        if dir.join(".baton/state.db").exists() {
            return Err(format!("`baton state list` failed: {}", out.stderr_head()));
        }
        return Ok(Vec::new());
    }
    let mut list: Vec<String> = out
        .stdout
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .map(str::to_string)
        .collect();
    list.sort();
    Ok(list)
}

fn compare(label: &str, want: &Outcome, got: &Outcome, problems: &mut Vec<String>) {
    match (want, got) {
        (
            Outcome::Ok {
                actions: wa,
                outputs: wo,
                key_paths: wk,
            },
            Outcome::Ok {
                actions: ga,
                outputs: go,
                key_paths: gk,
            },
        ) => {
            compare_actions(label, wa, ga, problems);
            compare_outputs(label, wo, go, problems);
            compare_key_paths(label, wk, gk, problems);
        }
        (Outcome::Ok { .. }, Outcome::Error { phase, message, .. }) => {
            problems.push(format!(
                "{label}expected success, baton failed at {phase}: {}",
                show(message)
            ));
        }
        (Outcome::Error { phase, message, .. }, Outcome::Ok { actions, .. }) => {
            problems.push(format!(
                "{label}expected an error at {phase} ({message}); baton succeeded (planned {})",
                show(&serde_json::to_string(actions).unwrap_or_default())
            ));
        }
        (
            Outcome::Error {
                phase: wp,
                state: ws,
                message: wm,
                key_paths: wk,
                ..
            },
            Outcome::Error {
                phase: gp,
                state: gs,
                message: gm,
                actions,
                key_paths: gk,
            },
        ) => {
            if wp == gp {
                compare_key_paths(label, wk, gk, problems);
            }
            if wp != gp {
                let planned = actions
                    .as_ref()
                    .map(|a| {
                        format!(
                            " after planning {}",
                            show(&serde_json::to_string(a).unwrap_or_default())
                        )
                    })
                    .unwrap_or_default();
                problems.push(format!(
                    "{label}expected an error at {wp} ({wm}); baton failed at {gp}{planned}: {}",
                    show(gm)
                ));
            }
            if ws != gs {
                problems.push(format!(
                    "{label}state after the failure: expected {ws:?}, got {gs:?}"
                ));
            }
        }
    }
}

fn compare_actions(
    label: &str,
    want: &BTreeMap<String, Vec<String>>,
    got: &BTreeMap<String, Vec<String>>,
    problems: &mut Vec<String>,
) {
    let addrs: std::collections::BTreeSet<&String> = want.keys().chain(got.keys()).collect();
    for addr in addrs {
        match (want.get(addr), got.get(addr)) {
            (Some(w), Some(g)) if w == g => {}
            (w, g) => problems.push(format!(
                "{label}actions of {addr}: expected {}, got {}",
                w.map(|w| format!("{w:?}")).unwrap_or_else(|| "none".into()),
                g.map(|g| format!("{g:?}")).unwrap_or_else(|| "none".into()),
            )),
        }
    }
}

/// Terraform's recorded key paths against Baton's, the documented exceptions aside: one
/// problem listing what only one side has.
fn compare_key_paths(
    label: &str,
    want: &Option<BTreeSet<String>>,
    got: &Option<BTreeSet<String>>,
    problems: &mut Vec<String>,
) {
    let (Some(want), Some(got)) = (want, got) else {
        return;
    };
    let unexcused = |p: &&String| {
        !KEY_PATH_EXCEPTIONS
            .iter()
            .any(|(prefix, _)| p.starts_with(prefix))
    };
    let only_tf: Vec<&String> = want.difference(got).filter(unexcused).collect();
    let only_baton: Vec<&String> = got.difference(want).filter(unexcused).collect();
    if only_tf.is_empty() && only_baton.is_empty() {
        return;
    }
    let mut msg = format!("{label}`plan --json` key paths differ from terraform's `show -json`:");
    for p in only_tf {
        msg.push_str(&format!("\n        - {p}   (only terraform)"));
    }
    for p in only_baton {
        msg.push_str(&format!("\n        + {p}   (only baton)"));
    }
    problems.push(msg);
}

fn compare_outputs(label: &str, want: &Value, got: &Value, problems: &mut Vec<String>) {
    let empty = serde_json::Map::new();
    let w = want.as_object().unwrap_or(&empty);
    let Some(g) = got.as_object() else {
        problems.push(format!(
            "{label}`output --json` is not an object: {}",
            show(&got.to_string())
        ));
        return;
    };
    let names: std::collections::BTreeSet<&String> = w.keys().chain(g.keys()).collect();
    for name in names {
        match (w.get(name), g.get(name)) {
            (Some(wv), Some(gv)) => {
                for field in ["value", "type", "sensitive"] {
                    let (a, b) = (wv.get(field), gv.get(field));
                    if a != b {
                        let (sa, sb) = show_pair(&json_text(a), &json_text(b));
                        problems.push(format!(
                            "{label}output {name:?} {field}: expected {sa}, got {sb}"
                        ));
                    }
                }
            }
            (Some(wv), None) => problems.push(format!(
                "{label}output {name:?} missing (expected {})",
                show_json(Some(wv))
            )),
            (None, Some(gv)) => problems.push(format!(
                "{label}output {name:?} unexpected: {}",
                show_json(Some(gv))
            )),
            (None, None) => {}
        }
    }
}

struct Run {
    success: bool,
    stdout: String,
    stderr: String,
}

impl Run {
    /// The first meaningful lines of stderr, on one line.
    fn stderr_head(&self) -> String {
        let text = if self.stderr.trim().is_empty() {
            &self.stdout
        } else {
            &self.stderr
        };
        let head: Vec<&str> = text
            .lines()
            .map(str::trim)
            .filter(|l| !l.is_empty())
            .take(3)
            .collect();
        head.join(" | ")
    }
}

/// Runs the baton binary in `dir`, killing it after `COMMAND_TIMEOUT`.
fn baton(dir: &Path, args: &[&str], env: &[(String, String)]) -> Result<Run, String> {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_baton"));
    cmd.args(args)
        .current_dir(dir)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    for (k, _) in std::env::vars() {
        if k.starts_with("TF_VAR_") || k.starts_with("BATON_") || k.starts_with("TF_CLI_ARGS") {
            cmd.env_remove(k);
        }
    }
    cmd.env("NO_COLOR", "1");
    for (k, v) in env {
        cmd.env(k, v);
    }
    let mut child = cmd
        .spawn()
        .map_err(|e| format!("cannot start baton: {e}"))?;
    let mut out = child.stdout.take().expect("piped stdout");
    let mut err = child.stderr.take().expect("piped stderr");
    let out_reader = thread::spawn(move || {
        let mut s = Vec::new();
        let _ = out.read_to_end(&mut s);
        s
    });
    let err_reader = thread::spawn(move || {
        let mut s = Vec::new();
        let _ = err.read_to_end(&mut s);
        s
    });
    let deadline = Instant::now() + COMMAND_TIMEOUT;
    let status = loop {
        match child.try_wait() {
            Ok(Some(status)) => break status,
            Ok(None) if Instant::now() >= deadline => {
                let _ = child.kill();
                let _ = child.wait();
                return Err(format!(
                    "`baton {}` timed out after {}s and was killed",
                    args.join(" "),
                    COMMAND_TIMEOUT.as_secs()
                ));
            }
            Ok(None) => thread::sleep(Duration::from_millis(5)),
            Err(e) => return Err(format!("waiting for baton: {e}")),
        }
    };
    let stdout = String::from_utf8_lossy(&out_reader.join().unwrap_or_default()).into_owned();
    let stderr = String::from_utf8_lossy(&err_reader.join().unwrap_or_default()).into_owned();
    Ok(Run {
        success: status.success(),
        stdout,
        stderr,
    })
}

/// Copies a case into `to`, without the files that describe the case rather than configure it.
fn copy_case(from: &Path, to: &Path) -> std::io::Result<()> {
    for entry in fs::read_dir(from)? {
        let entry = entry?;
        let name = entry.file_name();
        let target = to.join(&name);
        if entry.file_type()?.is_dir() {
            fs::create_dir_all(&target)?;
            copy_tree(&entry.path(), &target)?;
        } else if !matches!(
            name.to_str(),
            Some("expected.json" | "baton-differs.json" | "args" | "args2" | "env")
        ) {
            fs::copy(entry.path(), &target)?;
        }
    }
    Ok(())
}

fn copy_tree(from: &Path, to: &Path) -> std::io::Result<()> {
    for entry in fs::read_dir(from)? {
        let entry = entry?;
        let target = to.join(entry.file_name());
        if entry.file_type()?.is_dir() {
            fs::create_dir_all(&target)?;
            copy_tree(&entry.path(), &target)?;
        } else {
            fs::copy(entry.path(), &target)?;
        }
    }
    Ok(())
}

/// Non-empty, non-comment lines of an optional file.
fn read_lines(path: &Path) -> Vec<String> {
    fs::read_to_string(path)
        .unwrap_or_default()
        .lines()
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .map(str::to_string)
        .collect()
}

/// `KEY=VALUE` lines of an optional `env` file.
fn read_env(path: &Path) -> Vec<(String, String)> {
    read_lines(path)
        .into_iter()
        .filter_map(|l| {
            l.split_once('=')
                .map(|(k, v)| (k.to_string(), v.to_string()))
        })
        .collect()
}

fn strs(v: &[String]) -> Vec<&str> {
    v.iter().map(String::as_str).collect()
}

/// A JSON value for a report line: compact (so on one line, strings escaped) and truncated.
fn show_json(v: Option<&Value>) -> String {
    v.map(|v| truncate(&v.to_string()))
        .unwrap_or_else(|| "(absent)".into())
}

/// Text for a report line: whitespace collapsed and truncated.
fn show(s: &str) -> String {
    truncate(&s.split_whitespace().collect::<Vec<_>>().join(" "))
}

fn json_text(v: Option<&Value>) -> String {
    v.map(Value::to_string).unwrap_or_else(|| "(absent)".into())
}

/// Two different texts for a report line: windows around their first difference, truncated,
/// with characters a terminal would not show apart escaped when the windows look alike.
fn show_pair(a: &str, b: &str) -> (String, String) {
    let (ca, cb): (Vec<char>, Vec<char>) = (a.chars().collect(), b.chars().collect());
    let first_diff = ca.iter().zip(&cb).take_while(|(x, y)| x == y).count();
    let start = if first_diff > SHOW_CHARS / 2 {
        first_diff - 40
    } else {
        0
    };
    let window = |c: &[char]| {
        let end = (start + SHOW_CHARS).min(c.len());
        let mut w: String = c[start.min(c.len())..end].iter().collect();
        if start > 0 {
            w = format!("…{w}");
        }
        if end < c.len() {
            w.push('…');
        }
        w
    };
    let (wa, wb) = (window(&ca), window(&cb));
    if wa == wb
        || wa
            .chars()
            .zip(wb.chars())
            .all(|(x, y)| x == y || !x.is_ascii() || !y.is_ascii())
    {
        (escape_non_ascii(&wa), escape_non_ascii(&wb))
    } else {
        (wa, wb)
    }
}

/// `s` with every character outside printable ASCII written as `\u{…}`.
fn escape_non_ascii(s: &str) -> String {
    s.chars()
        .map(|c| {
            if c.is_ascii_graphic() || c == ' ' {
                c.to_string()
            } else {
                format!("\\u{{{:x}}}", c as u32)
            }
        })
        .collect()
}

fn truncate(s: &str) -> String {
    if s.chars().count() > SHOW_CHARS {
        let cut: String = s.chars().take(SHOW_CHARS).collect();
        format!("{cut}…")
    } else {
        s.to_string()
    }
}
