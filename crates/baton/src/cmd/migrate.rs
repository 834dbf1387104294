//! `baton state migrate --to URL|PATH` (copy this stack's state into another store) and
//! `--from URL|PATH` (import another Baton store's state, or a Terraform state file, into this
//! one): stores chosen and locked, the snapshot written by the engine, an audit record in
//! every Baton store involved.
//!
//! Must not print a connection string or a value from the state: stores are named with
//! `Location::describe`, objects by address only.

use super::{audit, lock, Env, StoreHandle};
use crate::cli::MigrateArgs;
use anyhow::{anyhow, bail};
use baton_backend::location::is_postgres;
use baton_backend::Location;
use baton_engine::migrate::{write_snapshot, Written};
use baton_state::{Snapshot, StateStore};
use std::io::Read as _;
use std::path::Path;
use std::process::ExitCode;

const COMMAND: &str = "state migrate";

pub fn migrate(env: &Env, a: &MigrateArgs) -> anyhow::Result<ExitCode> {
    match (&a.to, &a.from) {
        (Some(to), None) => to_store(env, to, a),
        (None, Some(from)) => from_source(env, from, a),
        _ => bail!("state migrate needs --to URL|PATH (copy this stack's state into another store) or --from URL|PATH (import a state into this one)"),
    }
}

/// `--to`: the current state becomes the first version of the target store.
fn to_store(env: &Env, to: &str, a: &MigrateArgs) -> anyhow::Result<ExitCode> {
    let here = env.location()?.clone();
    let there = other_location(env, to, "--to")?;
    if there == here {
        bail!(
            "--to names the store this stack already uses ({})",
            here.describe()
        );
    }
    let Some(source) = env.existing_store()? else {
        bail!(
            "There is no state to migrate: {} does not exist.",
            here.describe()
        );
    };
    let target = StoreHandle::open(&there)?;
    let _source_lock = lock(env, source.as_ref(), COMMAND, &a.lock_timeout)?;
    let target_lock = lock(env, &*target, COMMAND, &a.lock_timeout)?;
    let versions = target.history()?.len();
    if versions > 0 && !a.force {
        bail!(
            "{} already holds state ({versions} version(s)): migrating would write over it. Use --force to write this state as a new version on top, or choose an empty store.",
            there.describe()
        );
    }
    let snap = source.current()?;
    let w = write_snapshot(&*target, target_lock.fence(), &snap, COMMAND)?;
    let what = summary(&w);
    record(
        env,
        source.as_ref(),
        &snap,
        format!("copied {what} to {}", there.describe()),
    );
    record(
        env,
        &*target,
        &snap,
        format!(
            "copied {what} from {} as version {}",
            here.describe(),
            w.serial
        ),
    );
    outln!(
        "Copied {what} from {} to {} (version {}).",
        here.describe(),
        there.describe(),
        w.serial
    );
    outln!("This stack keeps using {} until you point it at the new store: --store, BATON_STORE or a backend block.", here.describe());
    Ok(ExitCode::SUCCESS)
}

/// `--from`: another store's current state, or a Terraform state file, becomes a new version
/// of the current store.
fn from_source(env: &Env, from: &str, a: &MigrateArgs) -> anyhow::Result<ExitCode> {
    let here = env.location()?.clone();
    let source = Source::open(env, from)?;
    if let Source::Store(l, _) = &source {
        if *l == here {
            bail!(
                "--from names the store this stack already uses ({})",
                here.describe()
            );
        }
    }
    let store = env.open_store()?;
    let guard = lock(env, &*store, COMMAND, &a.lock_timeout)?;
    let (snap, from_desc, _source_lock) = match &source {
        Source::Store(l, s) => {
            let g = lock(env, s.as_ref(), COMMAND, &a.lock_timeout)?;
            (s.current()?, l.describe(), Some(g))
        }
        Source::Terraform(path, imported) => {
            for n in &imported.notes {
                eprintln!("Note: {n}");
            }
            (
                imported.snapshot.clone(),
                format!(
                    "the Terraform state {} (serial {}, Terraform {})",
                    path,
                    imported.serial,
                    if imported.terraform_version.is_empty() {
                        "of unknown version"
                    } else {
                        &imported.terraform_version
                    }
                ),
                None,
            )
        }
    };
    let w = write_snapshot(&*store, guard.fence(), &snap, COMMAND)?;
    let what = summary(&w);
    record(
        env,
        &*store,
        &snap,
        format!("imported {what} from {from_desc} as version {}", w.serial),
    );
    if let Source::Store(_, s) = &source {
        record(
            env,
            s.as_ref(),
            &snap,
            format!("copied {what} to {}", here.describe()),
        );
    }
    outln!(
        "Imported {what} from {from_desc} into {} (version {}; {} written, {} removed).",
        here.describe(),
        w.serial,
        w.written,
        w.removed
    );
    Ok(ExitCode::SUCCESS)
}

/// Where `--from` reads.
enum Source {
    Store(Location, Box<dyn StateStore>),
    /// A Terraform state file (its name for messages) and what was read from it.
    Terraform(String, baton_engine::tfstate::Imported),
}

impl Source {
    fn open(env: &Env, from: &str) -> anyhow::Result<Source> {
        if is_postgres(from) {
            let l = other_location(env, from, "--from")?;
            let s = l.open_state().map_err(|e| anyhow!(e))?;
            return Ok(Source::Store(l, s));
        }
        let l = other_location(env, from, "--from")?;
        let Location::Sqlite(path) = &l else {
            bail!("--from: {} is not a file", l.describe());
        };
        if !path.is_file() {
            bail!("--from: {} does not exist", path.display());
        }
        if is_sqlite(path)? {
            let s = l.open_state().map_err(|e| anyhow!(e))?;
            return Ok(Source::Store(l, s));
        }
        let text = std::fs::read_to_string(path)
            .map_err(|e| anyhow!("--from: cannot read {}: {e}", path.display()))?;
        // The configuration's providers (its plugins too) decode the objects; without a
        // loadable configuration, the built-in set.
        let (ctx, _) = baton_engine::load(&env.dir, &env.workspace, &env.sources);
        let providers = ctx
            .map(|c| c.providers.clone())
            .unwrap_or_else(baton_engine::providers::builtin);
        let imported = baton_engine::tfstate::read(&text, path, &providers)?;
        Ok(Source::Terraform(path.display().to_string(), imported))
    }
}

/// A store named on the command line, for this command's environment (a PostgreSQL location
/// is per environment, as with `--store`).
fn other_location(env: &Env, s: &str, flag: &str) -> anyhow::Result<Location> {
    let l = Location::parse(s, &env.dir).map_err(|e| anyhow!("{flag}: {e}"))?;
    l.for_environment(&env.workspace)
        .map_err(|e| anyhow!("{flag}: environment {:?}: {e}", env.workspace))
}

/// Whether the file at `p` is an SQLite database (its 16-byte header).
fn is_sqlite(p: &Path) -> anyhow::Result<bool> {
    let mut head = [0u8; 16];
    let mut f = std::fs::File::open(p).map_err(|e| anyhow!("cannot read {}: {e}", p.display()))?;
    let n = f
        .read(&mut head)
        .map_err(|e| anyhow!("cannot read {}: {e}", p.display()))?;
    Ok(n == 16 && &head == b"SQLite format 3\0")
}

fn summary(w: &Written) -> String {
    format!("{} object(s) and {} output(s)", w.objects, w.outputs)
}

/// The audit record of a migration in one store: the addresses, never their values.
fn record(env: &Env, store: &dyn StateStore, snap: &Snapshot, outcome: String) {
    audit::record(
        env,
        store,
        audit::Record {
            command: COMMAND,
            run_id: None,
            plan: None,
            plan_digest: None,
            policy: serde_json::Value::Null,
            outcome,
            changes: snap
                .objects
                .keys()
                .map(|k| baton_state::AuditChange {
                    address: if k.deposed.is_empty() {
                        k.addr.to_string()
                    } else {
                        format!("{} (deposed {})", k.addr, k.deposed)
                    },
                    actions: vec!["migrate".into()],
                })
                .collect(),
        },
    );
}
