//! Command implementations: each resolves its flags into engine options, runs the engine, and
//! renders the result. Shared setup (working directory, state location, environment) is here.

mod agent;
mod api;
mod api_stacks;
mod api_workflows;
mod apply;
pub mod audit;
mod fmt;
mod init;
mod migrate;
mod misc;
mod plan;
pub mod policy;
mod reconcile;
mod remote;
mod run;
mod runs;
mod server;
mod services;
mod state;
mod worker;
mod workflow;

use crate::cli::{Cli, Command, PlanFlags, VarArgs};
use anyhow::{anyhow, bail, Context as _};
use baton_backend::{Located, Location, Overrides};
use baton_core::{Diagnostics, InstanceAddr, Sources, Target};
use baton_engine::vars::CliVar;
use baton_engine::Context;
use baton_state::{LockGuard, StateStore};
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::OnceLock;
use std::time::Duration;

/// Where a command runs.
#[derive(Clone)]
pub struct Env {
    /// The root module directory (after `--chdir`).
    pub dir: PathBuf,
    /// The directory Baton was started in: `path.cwd`, as Terraform's (before `-chdir`).
    pub cwd: PathBuf,
    pub workspace: String,
    pub sources: Sources,
    /// `--trace-file`: where to write the run's trace.
    pub trace_file: Option<PathBuf>,
    /// What the command line and the environment say about where the state is.
    overrides: Overrides,
    /// Where the state and the workflow runs are, chosen on first use (so that commands that
    /// never touch them, such as `fmt`, do not read the backend block). `None`: the choice
    /// failed, and its errors were printed.
    located: OnceLock<Option<Located>>,
}

/// An error whose explanation was already printed (as diagnostics): `main` only sets the exit
/// code.
#[derive(Debug)]
pub struct Reported;

impl std::fmt::Display for Reported {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("the errors above")
    }
}

impl std::error::Error for Reported {}

impl Env {
    fn new(cli: &Cli) -> anyhow::Result<Env> {
        let cwd = std::env::current_dir().context("cannot determine the working directory")?;
        let dir = match &cli.chdir {
            Some(d) => {
                let d = if d.is_absolute() {
                    d.clone()
                } else {
                    cwd.join(d)
                };
                if !d.is_dir() {
                    bail!("--chdir: {} is not a directory", d.display());
                }
                // Every path is resolved against `dir` explicitly; the process's working
                // directory is never changed.
                d
            }
            None => cwd.clone(),
        };
        let workspace = cli.env.clone().unwrap_or_else(|| "default".to_string());
        if !baton_config::model::is_valid_name(&workspace) {
            bail!("--env {workspace:?}: an environment name must start with a letter and contain only letters, digits, '-' and '_'");
        }
        let overrides = Overrides {
            store: cli.store.clone(),
            store_env: baton_backend::select::non_empty_var("BATON_STORE"),
            // Like every relative path, relative to the directory after --chdir.
            state: cli.state.clone(),
            ..Overrides::pg_env()
        };
        Ok(Env {
            cwd: cwd.clone(),
            dir,
            workspace,
            sources: Sources::new(),
            trace_file: cli.trace_file.as_ref().map(|p| {
                if p.is_absolute() {
                    p.clone()
                } else {
                    cwd.join(p)
                }
            }),
            overrides,
            located: OnceLock::new(),
        })
    }

    /// The environment of a stack directory an agent serves besides its own (`own`: the
    /// command's directory itself, which keeps every flag). Another directory's store is its
    /// own backend block or default: `--store`, `BATON_STORE` and `--state` name the
    /// command's directory's store only.
    pub fn for_stack(&self, dir: PathBuf, own: bool) -> Env {
        Env {
            cwd: self.cwd.clone(),
            workspace: self.workspace.clone(),
            sources: if own {
                self.sources.clone()
            } else {
                Sources::new()
            },
            trace_file: None,
            overrides: if own {
                self.overrides.clone()
            } else {
                Overrides::pg_env()
            },
            located: OnceLock::new(),
            dir,
        }
    }

    /// The service board of this stack environment (kept where its state is).
    pub fn board(&self) -> anyhow::Result<std::sync::Arc<dyn baton_core::board::ServiceBoard>> {
        self.location()?.open_services().map_err(|e| anyhow!(e))
    }

    /// A path given on the command line: relative ones are relative to the configuration
    /// directory (after `--chdir`), as in Terraform.
    pub fn path(&self, p: &std::path::Path) -> PathBuf {
        self.dir.join(p)
    }

    /// Where this command's state is: `--store`, `BATON_STORE`, the backend block, `--state`
    /// or the default, chosen once. A mistake in the backend block is printed with its place
    /// (and is [`Reported`]); a backend Baton does not implement is a warning, printed once.
    pub fn location(&self) -> anyhow::Result<&Location> {
        self.located().map(|l| &l.state.location)
    }

    /// Where the directory's workflow runs are (see [`Located::workflows`]).
    pub fn workflow_location(&self) -> anyhow::Result<&Location> {
        self.located().map(|l| &l.workflows)
    }

    /// `--store` as given (a background process started for this command gets it).
    pub fn store_flag(&self) -> Option<&str> {
        self.overrides.store.as_deref()
    }

    /// `--state` (or `BATON_STATE`) as given.
    pub fn state_flag(&self) -> Option<&std::path::Path> {
        self.overrides.state.as_deref()
    }

    fn located(&self) -> anyhow::Result<&Located> {
        let located = self.located.get_or_init(|| {
            let (located, diags) =
                baton_backend::locate(&self.dir, &self.workspace, &self.overrides, &self.sources);
            crate::ui::print_diags(&diags, &self.sources);
            located
        });
        located.as_ref().ok_or_else(|| anyhow!(Reported))
    }

    /// Opens (creating if needed) the store of a command that may write.
    fn open_store(&self) -> anyhow::Result<StoreHandle> {
        StoreHandle::open(self.location()?)
    }

    /// Opens the store only if it exists: read-only commands must not create an SQLite file
    /// (a PostgreSQL store is opened: its schema is made on first use and holds nothing).
    fn existing_store(&self) -> anyhow::Result<Option<Box<dyn StateStore>>> {
        let location = self.location()?;
        if let Location::Sqlite(p) = location {
            if !p.exists() {
                return Ok(None);
            }
        }
        location.open_state().map(Some).map_err(|e| anyhow!(e))
    }

    /// Loads the configuration, printing diagnostics. `None` when there were errors.
    fn load(&self) -> Option<Context> {
        let (ctx, d) = baton_engine::load(&self.dir, &self.workspace, &self.sources);
        crate::ui::print_diags(&d, &self.sources);
        ctx.map(|mut c| {
            c.cwd = self.cwd.clone();
            self.attach_board(&mut c);
            c
        })
    }

    /// Gives a loaded configuration its stack's service board (opening one costs nothing; a
    /// location that cannot be worked out leaves it out, and the command reports that itself).
    pub fn attach_board(&self, c: &mut Context) {
        c.board = self.board().ok();
    }
}

/// A store opened for a command that may write. If the command created an SQLite database
/// and never wrote a version (a plan, or a failed apply), the database is removed again, so a
/// failed command leaves nothing behind.
pub struct StoreHandle {
    pub store: Box<dyn StateStore>,
    /// The SQLite file this command created, if it did.
    created: Option<PathBuf>,
}

impl StoreHandle {
    /// Opens (creating if needed) the state store at `location`.
    pub fn open(location: &Location) -> anyhow::Result<StoreHandle> {
        let created = match location {
            Location::Sqlite(p) if !p.exists() => Some(p.clone()),
            _ => None,
        };
        let store = location.open_state().map_err(|e| anyhow!(e))?;
        Ok(StoreHandle { store, created })
    }
}

impl std::ops::Deref for StoreHandle {
    type Target = dyn StateStore;
    fn deref(&self) -> &(dyn StateStore + 'static) {
        self.store.as_ref()
    }
}

impl Drop for StoreHandle {
    fn drop(&mut self) {
        let Some(path) = &self.created else {
            return;
        };
        // A record of an apply or destroy the policies denied is kept: the attempt is part of
        // the audit trail even though the state was never written.
        let audited = self
            .store
            .audit_records()
            .map(|r| {
                r.iter()
                    .any(|r| r.command != "plan" && r.command != "drift")
            })
            .unwrap_or(false);
        let unused = self.store.history().map(|h| h.is_empty()).unwrap_or(false)
            && !audited
            && self
                .store
                .lock_holder()
                .map(|l| l.is_none())
                .unwrap_or(false);
        if unused {
            for suffix in ["", "-wal", "-shm", "-journal"] {
                let mut p = path.clone().into_os_string();
                p.push(suffix);
                let _ = std::fs::remove_file(PathBuf::from(p));
            }
            if let Some(parent) = path.parent() {
                // Only removes the directory if it is now empty.
                let _ = std::fs::remove_dir(parent);
            }
        }
    }
}

pub fn run(cli: Cli) -> anyhow::Result<ExitCode> {
    crate::telemetry::init_logging(cli.log_format.as_deref())?;
    if let Some(server) = &cli.server {
        return remote::run(&cli, server);
    }
    let env = Env::new(&cli)?;
    match cli.command {
        Command::Init(a) => init::run(&env, &a),
        Command::Providers => init::providers(&env),
        Command::Validate(a) => misc::validate(&env, &a),
        Command::Plan(a) => plan::plan(&env, &a),
        Command::Apply(a) => apply::apply(&env, a),
        Command::Destroy(a) => apply::destroy(&env, a),
        Command::Import(a) => apply::import(&env, a),
        Command::Output(a) => misc::output(&env, &a),
        Command::Show(a) => misc::show(&env, &a),
        Command::State(s) => state::run(&env, s),
        Command::Graph(a) => misc::graph(&env, &a),
        Command::Fmt(a) => fmt::run(&env, &a),
        Command::ForceUnlock(a) => state::force_unlock(&env, &a),
        Command::Runs(a) => runs::runs(&env, &a),
        Command::Resume(a) => runs::resume(&env, &a),
        Command::Rollback(a) => runs::rollback(&env, &a),
        Command::Drift(a) => plan::drift(&env, &a),
        Command::Audit(c) => audit::run(&env, &c),
        Command::Policy(c) => policy::run(&env, &c),
        Command::Workflow(c) => workflow::run(&env, &c),
        Command::Approve(a) => workflow::approve(&env, &a),
        Command::Logs(a) => workflow::logs(&env, &a),
        Command::Serve(a) => agent::serve(&env, &a),
        Command::Worker(a) => worker::worker(&env, &a),
        Command::Workers(a) => worker::workers(&env, &a),
        Command::Status(a) => reconcile::status(&env, &a),
        Command::Token(c) => server::token(&env, &c),
    }
}

/// A duration flag (`--lock-timeout`, `--retry-backoff`, ...), in the one grammar of Baton:
/// Go's, as `timeouts` blocks use it (`30s`, `1h30m`, `1.5h`, `300ms`, `0`).
pub fn parse_duration(flag: &str, s: &str) -> anyhow::Result<Duration> {
    baton_core::duration::parse(s).map_err(|e| {
        anyhow!("invalid {flag} {s:?}: {e}; expected a number and a unit (ns, us, ms, s, m, h), such as 30s or 1h30m")
    })
}

pub fn cli_vars(v: &VarArgs) -> anyhow::Result<Vec<CliVar>> {
    // Keep the command line's order between --var and --var-file as clap gives them: clap
    // collects each flag separately, so re-interleave by position in argv.
    let argv: Vec<String> = std::env::args().collect();
    let mut out = Vec::new();
    let mut vi = v.vars.iter();
    let mut fi = v.var_files.iter();
    let mut i = 0;
    while i < argv.len() {
        let a = &argv[i];
        if a == "--var" || a.starts_with("--var=") {
            if let Some(x) = vi.next() {
                out.push(parse_var(x)?);
            }
        } else if a == "--var-file" || a.starts_with("--var-file=") {
            if let Some(f) = fi.next() {
                out.push(CliVar::File(f.clone()));
            }
        }
        i += 1;
    }
    for x in vi {
        out.push(parse_var(x)?);
    }
    for f in fi {
        out.push(CliVar::File(f.clone()));
    }
    Ok(out)
}

fn parse_var(s: &str) -> anyhow::Result<CliVar> {
    let (k, v) = s
        .split_once('=')
        .ok_or_else(|| anyhow!("invalid --var {s:?}: expected NAME=VALUE"))?;
    let k = k.trim();
    if !baton_config::model::is_valid_name(k) {
        bail!("invalid --var {s:?}: {k:?} is not a valid variable name");
    }
    Ok(CliVar::Assign(k.to_string(), v.to_string()))
}

pub fn plan_opts(
    f: &PlanFlags,
    mode: baton_engine::PlanMode,
) -> anyhow::Result<baton_engine::plan::PlanOpts> {
    let targets = f
        .targets
        .iter()
        .map(|t| Target::parse(t).map_err(|e| anyhow!("--target: {e}")))
        .collect::<anyhow::Result<Vec<_>>>()?;
    let replace = f
        .replace
        .iter()
        .map(|t| InstanceAddr::parse(t).map_err(|e| anyhow!("--replace: {e}")))
        .collect::<anyhow::Result<Vec<_>>>()?;
    let mode = if f.refresh_only {
        baton_engine::PlanMode::RefreshOnly
    } else {
        mode
    };
    if f.parallelism == 0 {
        bail!("--parallelism must be at least 1");
    }
    Ok(baton_engine::plan::PlanOpts {
        mode,
        refresh: f.refresh,
        targets,
        replace,
        vars: cli_vars(&f.vars)?,
        env: std::env::vars().collect(),
        parallelism: f.parallelism,
        validate_only: false,
        imports: Vec::new(),
    })
}

/// Takes the state lock for `operation` (a stale holder's removal is audited and reported).
pub fn lock(
    env: &Env,
    store: &dyn StateStore,
    operation: &str,
    timeout: &str,
) -> anyhow::Result<LockGuard> {
    let t = parse_duration("--lock-timeout", timeout)?;
    let actor = baton_engine::audit::Actor::current(audit::redacted_args());
    let g = baton_engine::lifecycle::take_lock(store, operation, t, &actor, &env.workspace)?;
    if let Some(stale) = &g.cleared_stale {
        print_stale(stale);
    }
    Ok(g)
}

/// Says which stale lock was cleared to take the lock, and why.
pub fn print_stale(stale: &baton_state::StaleLock) {
    let h = &stale.holder;
    let said = match stale.why {
        baton_state::Staleness::ProcessGone => "that process no longer exists",
        baton_state::Staleness::LeaseExpired => "its lease expired without being renewed",
    };
    eprintln!(
        "Cleared a stale lock left by {} (pid {} on {}, since {}, running {}): {said}.",
        h.who, h.pid, h.host, h.since, h.operation
    );
}

pub fn print_diags(d: &Diagnostics, sources: &Sources) -> bool {
    crate::ui::print_diags(d, sources)
}
