//! The `ansible_playbook` step: its arguments resolved into one `ansible-playbook` run
//! (`prepare`, on the driving thread) and that run performed through
//! `baton_remote::ansible::runner` (`perform`, on a worker thread), its recap (per host: ok,
//! changed, unreachable, failed, skipped, rescued, ignored) and the tasks that changed recorded
//! as the step's outputs.
//!
//! Must not put `extra_vars` on a command line or in what is recorded (the runner passes them
//! in a private file; a step whose `extra_vars` are sensitive records no task messages), and
//! must not write the workflow store.

use super::perform::Performed;
use crate::model::PlaybookStep;
use baton_config::Expr;
use baton_eval::{Type, Value};
use baton_remote::ansible::runner::{self, Hosts, Play, PlaybookRun, RunOpts};
use std::collections::BTreeMap;
use std::path::Path;

/// The run of step `pb` of a workflow in `dir`, its expressions evaluated with `eval`, and
/// whether its `extra_vars` hold a sensitive value.
pub(crate) fn prepare(
    pb: &PlaybookStep,
    dir: &Path,
    eval: &dyn Fn(&Expr) -> Result<Value, String>,
) -> Result<(RunOpts, bool), String> {
    let string = |e: &Expr, what: &str| -> Result<Option<String>, String> {
        let v = eval(e)?.unmark_deep().0;
        if v.is_null() {
            return Ok(None);
        }
        v.as_str()
            .map(|s| Some(s.to_string()))
            .ok_or_else(|| format!("{what} must be a string, not {}", v.ty().friendly_name()))
    };
    let list = |e: &Option<Expr>, what: &str| -> Result<Vec<String>, String> {
        let Some(e) = e else {
            return Ok(Vec::new());
        };
        let v = eval(e)?.unmark_deep().0;
        if v.is_null() {
            return Ok(Vec::new());
        }
        let items = v
            .as_seq()
            .ok_or_else(|| format!("{what} must be a list of strings"))?;
        items
            .iter()
            .map(|i| {
                i.as_str()
                    .map(str::to_string)
                    .ok_or_else(|| format!("{what} must be a list of strings"))
            })
            .collect()
    };
    let playbook =
        string(&pb.playbook, "playbook")?.ok_or_else(|| "playbook is null".to_string())?;
    let inventory =
        string(&pb.inventory, "inventory")?.ok_or_else(|| "inventory is null".to_string())?;
    let limit = match &pb.limit {
        Some(e) => string(e, "limit")?,
        None => None,
    };
    let mut sensitive = false;
    let extra_vars = match &pb.extra_vars {
        None => None,
        Some(e) => {
            let v = eval(e)?;
            sensitive = v.contains_sensitive();
            let v = v.unmark_deep().0;
            if v.is_null() {
                None
            } else if v.as_entries().is_none() {
                return Err(format!(
                    "extra_vars must be an object, not {}",
                    v.ty().friendly_name()
                ));
            } else {
                Some(v.to_json())
            }
        }
    };
    let check = match &pb.check {
        None => false,
        Some(e) => {
            let v = eval(e)?.unmark_deep().0;
            match v.as_bool() {
                Some(b) => b,
                None if v.is_null() => false,
                None => {
                    return Err(format!(
                        "check must be true or false, not {}",
                        v.ty().friendly_name()
                    ))
                }
            }
        }
    };
    let opts = RunOpts {
        play: Play::File(dir.join(playbook)),
        hosts: Hosts::Inventory(dir.join(inventory)),
        extra_vars,
        limit,
        tags: list(&pb.tags, "tags")?,
        skip_tags: list(&pb.skip_tags, "skip_tags")?,
        check,
        cwd: Some(dir.to_path_buf()),
    };
    Ok((opts, sensitive))
}

/// Runs the playbook of `opts`.
pub(super) fn perform(opts: &RunOpts, sensitive: bool) -> Performed {
    let exe = match runner::playbook_executable() {
        Ok(e) => e,
        Err(e) => {
            return Performed {
                error: Some(e.to_string()),
                ..Performed::default()
            }
        }
    };
    let run = match runner::run(&exe, opts) {
        Ok(r) => r,
        Err(e) => {
            return Performed {
                error: Some(e.to_string()),
                ..Performed::default()
            }
        }
    };
    let failures = run.failures();
    let error = if !failures.is_empty() {
        let detail = if sensitive {
            let hosts: Vec<String> = failures.into_iter().map(|(h, _)| h).collect();
            format!(
                "{} (task messages suppressed: extra_vars are sensitive)",
                hosts.join(", ")
            )
        } else {
            run.failure_message()
        };
        Some(format!("the playbook failed on {detail}"))
    } else if run.no_hosts_matched && run.recap.is_empty() {
        Some("the playbook matched no hosts".to_string())
    } else {
        None
    };
    let mut stdout = run.recap_text();
    let changed = run.changed_tasks();
    if !changed.is_empty() {
        stdout.push_str(if opts.check {
            "\n\nWould change:\n"
        } else {
            "\n\nChanged:\n"
        });
        stdout.push_str(&changed.join("\n"));
    }
    Performed {
        ok: error.is_none(),
        exit_code: run.exit_code,
        stdout: Some(stdout),
        stderr: Some(if sensitive {
            "(suppressed: extra_vars are sensitive)".to_string()
        } else {
            run.stderr.clone()
        }),
        outputs: Some(outputs(&run, opts.check)),
        error,
        ..Performed::default()
    }
}

/// `changed`, `changed_tasks`, `check` and `recap` (by host: the counts by name).
fn outputs(run: &PlaybookRun, check: bool) -> Value {
    let recap = run
        .recap
        .iter()
        .map(|(h, r)| {
            let counts = r
                .counts()
                .iter()
                .map(|(k, v)| {
                    (
                        k.to_string(),
                        Value::int(i64::try_from(*v).unwrap_or(i64::MAX)),
                    )
                })
                .collect();
            (h.clone(), Value::object(counts))
        })
        .collect();
    let mut m = BTreeMap::new();
    m.insert("changed".to_string(), Value::bool(run.changed()));
    m.insert("check".to_string(), Value::bool(check));
    m.insert(
        "changed_tasks".to_string(),
        Value::list(
            Type::String,
            run.changed_tasks().into_iter().map(Value::string).collect(),
        ),
    );
    m.insert("recap".to_string(), Value::object(recap));
    Value::object(m)
}
