//! The policy gate as the terminal shows it (the findings under the plan, the errors, the
//! denial's exit code), and `baton policy test | eval`. The gate itself is the engine's
//! ([`baton_engine::policy::gate`]).

use super::{print_diags, Env};
use crate::cli::PolicyCommand;
use anyhow::{anyhow, bail, Context as _};
use baton_engine::policy::{self, Gate};
use baton_policy::{FindingKind, Outcome};
use std::path::PathBuf;
use std::process::ExitCode;

/// The exit code of a run that policies denied (nothing was changed).
pub const DENIED_EXIT: u8 = 4;

/// Prints the gate's findings under the plan (stdout) and its errors (stderr). Says nothing
/// when no policy applies.
pub fn print(env: &Env, g: &Gate) {
    if !g.applies() {
        return;
    }
    print_errors(env, g);
    let names: Vec<String> = g
        .sets
        .iter()
        .map(|s| format!("{} ({})", s.name, s.enforcement))
        .collect();
    let names = if names.is_empty() {
        "(none could be loaded)".to_string()
    } else {
        names.join(", ")
    };
    outln!("\nPolicy checks: {names}");
    for f in &g.decision.findings {
        let label = match (f.kind, f.enforcement) {
            (FindingKind::Warn, _) | (_, baton_policy::Enforcement::Advisory) => "Warning",
            _ => "Denied ",
        };
        // The address is shown once: as a prefix unless the message already names it.
        let addr = match &f.address {
            Some(a) if !f.message.contains(a.as_str()) => format!("{a}: "),
            _ => String::new(),
        };
        let kind = match f.kind {
            FindingKind::Deny => "deny",
            FindingKind::Warn => "warn",
        };
        outln!(
            "  {label} [{}] {kind}: {addr}{} (data.{}.{} in {}, set \"{}\")",
            f.enforcement,
            f.message,
            f.package,
            f.rule,
            f.policy_files.join(", "),
            f.set
        );
    }
    let verdict = match g.decision.outcome {
        Outcome::Pass => "passed".to_string(),
        Outcome::Warn => "passed with warnings".to_string(),
        Outcome::SoftFail if g.overridden.is_some() => format!(
            "soft-mandatory denial overridden: {}",
            g.overridden.as_deref().unwrap_or_default()
        ),
        Outcome::SoftFail => {
            "denied (soft-mandatory: `--override-policy \"REASON\"` overrides)".to_string()
        }
        Outcome::HardFail if !g.decision.errors.is_empty() => {
            "denied: the policies could not be evaluated (see the errors above)".to_string()
        }
        Outcome::HardFail => "denied (hard-mandatory)".to_string(),
    };
    outln!("Policy result: {verdict}");
}

/// Prints the gate's errors (failed loads and evaluations) on stderr.
pub fn print_errors(env: &Env, g: &Gate) {
    let mut errors = baton_core::Diagnostics::new();
    for e in &g.decision.errors {
        errors.push(e.clone());
    }
    print_diags(&errors, &env.sources);
}

/// Reports a denial on stderr and returns the exit code.
pub fn denied(g: &Gate, what: &str, override_given: bool) -> ExitCode {
    let hint = if g.decision.outcome == Outcome::HardFail && override_given {
        " A hard-mandatory denial cannot be overridden."
    } else {
        ""
    };
    eprintln!("\nError: Policy check failed\n\nThe policies denied this {what}; nothing was changed.{hint}");
    ExitCode::from(DENIED_EXIT)
}

pub fn run(env: &Env, c: &PolicyCommand) -> anyhow::Result<ExitCode> {
    match c {
        PolicyCommand::Test { dirs, run, verbose } => {
            let dirs = default_dirs(env, dirs)?;
            let opts = baton_policy::TestOpts {
                filter: run.clone(),
            };
            let report = baton_policy::run_tests(&dirs, &opts, &env.sources);
            out!("{}", report.render(&env.sources, *verbose));
            Ok(if report.ok() {
                ExitCode::SUCCESS
            } else {
                ExitCode::from(1)
            })
        }
        PolicyCommand::Eval {
            query_arg,
            query,
            input,
            data,
        } => {
            let Some(q) = query.as_ref().or(query_arg.as_ref()) else {
                bail!("Give the query: `baton policy eval --query data.x.deny [--input FILE]`.");
            };
            // A query may need no policy at all (`x := 1 + 2`), as with `opa eval`.
            let dirs = if data.is_empty() && !env.dir.join(policy::DEFAULT_DIR).is_dir() {
                Vec::new()
            } else {
                default_dirs(env, data)?
            };
            let input = match input {
                Some(f) => {
                    let text = std::fs::read_to_string(env.path(f))
                        .with_context(|| format!("cannot read {}", f.display()))?;
                    let v: serde_json::Value = serde_json::from_str(&text).map_err(|e| {
                        anyhow!(
                            "{}:{}:{}: the input is not JSON: {e}",
                            f.display(),
                            e.line(),
                            e.column()
                        )
                    })?;
                    Some(v)
                }
                None => None,
            };
            match baton_policy::eval_query(&dirs, input.as_ref(), q, &env.sources) {
                Ok(v) => {
                    outln!("{}", serde_json::to_string_pretty(&v)?);
                    Ok(ExitCode::SUCCESS)
                }
                Err(d) => {
                    print_diags(&d, &env.sources);
                    Ok(ExitCode::from(1))
                }
            }
        }
    }
}

/// The directories given, or `policies/` beside the configuration.
fn default_dirs(env: &Env, dirs: &[PathBuf]) -> anyhow::Result<Vec<PathBuf>> {
    if !dirs.is_empty() {
        return Ok(dirs
            .iter()
            .map(|d| {
                if d.is_absolute() {
                    d.clone()
                } else {
                    env.dir.join(d)
                }
            })
            .collect());
    }
    let d = env.dir.join(policy::DEFAULT_DIR);
    if !d.is_dir() {
        bail!("There is no {}/ directory here: name the policy directories, e.g. `baton policy test examples/policies`.", policy::DEFAULT_DIR);
    }
    Ok(vec![d])
}
