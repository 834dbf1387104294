//! `baton audit list | show ID | verify | export`, and the recording of audit records by the
//! commands that read or change state.

use super::Env;
use crate::cli::AuditCommand;
use anyhow::bail;
use baton_state::{AuditRecord, StateStore};
use serde_json::json;
use std::process::ExitCode;

/// The command line with values that could be secret redacted (`--var k=v` → `--var k=***`;
/// a connection string's password left out).
pub fn redacted_args() -> Vec<String> {
    redact_args(std::env::args().skip(1))
}

/// [`redacted_args`] of the given arguments.
fn redact_args(args: impl Iterator<Item = String>) -> Vec<String> {
    let mut out = Vec::new();
    let mut redact_next = false;
    for a in args {
        if redact_next {
            redact_next = false;
            out.push(match a.split_once('=') {
                Some((k, _)) => format!("{k}=***"),
                None => "***".into(),
            });
            continue;
        }
        if a == "--var" {
            redact_next = true;
            out.push(a);
        } else if let Some(v) = a.strip_prefix("--var=") {
            out.push(match v.split_once('=') {
                Some((k, _)) => format!("--var={k}=***"),
                None => "--var=***".into(),
            });
        } else if let Some((flag, v)) = a.split_once('=').filter(|(f, _)| f.starts_with("--")) {
            out.push(format!("{flag}={}", redact_conn(v)));
        } else {
            out.push(redact_conn(&a));
        }
    }
    out
}

/// An argument that is a PostgreSQL connection string, without its password (any other
/// argument as it is).
fn redact_conn(a: &str) -> String {
    if baton_backend::location::is_postgres(a) {
        baton_backend::location::redact(a)
    } else {
        a.to_string()
    }
}

pub use baton_engine::audit::Record;

/// Appends an audit record for the user of this process and its command line; a failure to
/// append is reported but does not fail the command.
pub fn record(env: &Env, store: &dyn StateStore, r: Record<'_>) {
    let actor = baton_engine::audit::Actor::current(redacted_args());
    if let Err(e) = baton_engine::audit::append(store, &actor, &env.workspace, r) {
        eprintln!("Warning: could not append to the audit log: {e}");
    }
}

fn record_json(r: &AuditRecord) -> serde_json::Value {
    serde_json::to_value(r).unwrap_or_else(|_| json!({"id": r.id}))
}

pub fn run(env: &Env, c: &AuditCommand) -> anyhow::Result<ExitCode> {
    let Some(store) = env.existing_store()? else {
        match c {
            AuditCommand::Verify => outln!("The audit log is empty (there is no state yet)."),
            AuditCommand::List { json: true } => outln!("[]"),
            AuditCommand::Show { id } => {
                bail!("There is no audit record {id}: the audit log is empty.")
            }
            _ => {}
        }
        return Ok(ExitCode::SUCCESS);
    };
    match c {
        AuditCommand::List { json } => {
            let recs = store.audit_records()?;
            if *json {
                let v: Vec<_> = recs.iter().map(record_json).collect();
                outln!("{}", serde_json::to_string_pretty(&v)?);
            } else {
                for r in &recs {
                    outln!(
                        "{:>5}  {}  {:<14} {:<22} {:<10} {}  {}",
                        r.id,
                        r.time,
                        r.command,
                        r.actor,
                        if r.environment.is_empty() {
                            "-"
                        } else {
                            &r.environment
                        },
                        r.outcome,
                        r.run_id.as_deref().unwrap_or("")
                    );
                }
            }
            Ok(ExitCode::SUCCESS)
        }
        AuditCommand::Show { id } => {
            let Some(r) = store.audit_record(*id)? else {
                bail!("There is no audit record {id}.");
            };
            outln!("{}", serde_json::to_string_pretty(&record_json(&r))?);
            Ok(ExitCode::SUCCESS)
        }
        AuditCommand::Export => {
            for r in store.audit_records()? {
                outln!("{}", serde_json::to_string(&record_json(&r))?);
            }
            Ok(ExitCode::SUCCESS)
        }
        AuditCommand::Verify => {
            let v = store.audit_verify()?;
            if v.ok {
                outln!("The audit log is intact: {} record(s) verified.", v.checked);
                Ok(ExitCode::SUCCESS)
            } else {
                let (id, why) = v.first_bad.unwrap_or((0, "unknown problem".into()));
                eprintln!(
                    "Error: the audit log has been tampered with.\n\nThe first bad record is {id}: {why}.\n{} record(s) before it verified.",
                    v.checked
                );
                Ok(ExitCode::from(1))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn connection_strings_lose_their_password() {
        let args = [
            "--store",
            "postgres://u:hunter2@db/x",
            "state",
            "migrate",
            "--to=postgresql://u:hunter2@db/y?sslmode=disable",
            "--var",
            "k=v",
            "--from",
            "host=db password=hunter2",
        ]
        .map(String::from);
        let got = redact_args(args.into_iter()).join(" ");
        assert!(!got.contains("hunter2"), "{got}");
        assert!(got.contains("postgres://u@db/x"), "{got}");
        assert!(got.contains("--to=postgresql://u@db/y"), "{got}");
        assert!(got.contains("--var k=***"), "{got}");
    }
}
