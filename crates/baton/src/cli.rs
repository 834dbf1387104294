//! The command line surface: raw flags as clap parses them. Resolution into engine options
//! happens in the command modules; this file only declares.

use clap::{Args, Parser, Subcommand};
use std::path::PathBuf;

#[derive(Parser, Debug)]
#[command(
    name = "baton",
    version,
    about = "Baton: declarative infrastructure, configuration, processes and workflows in one dependency-aware graph.",
    disable_help_subcommand = true
)]
pub struct Cli {
    /// Run as if started in DIR.
    #[arg(long, global = true, value_name = "DIR")]
    pub chdir: Option<PathBuf>,
    /// The state database (default: .baton/state.db, or .baton/envs/NAME/state.db with --env).
    #[arg(long, global = true, value_name = "PATH", env = "BATON_STATE")]
    pub state: Option<PathBuf>,
    /// Where the state is: a PostgreSQL URL (postgres://USER@HOST/DB?schema_name=S) or an
    /// SQLite file. Also BATON_STORE. Wins over a backend block and --state.
    #[arg(long, global = true, value_name = "URL|PATH")]
    pub store: Option<String>,
    /// The environment: its own state, and `terraform.workspace` in the configuration.
    #[arg(long = "env", global = true, value_name = "NAME", env = "BATON_ENV")]
    pub env: Option<String>,
    /// Disable colour in output (Baton prints without colour by default).
    #[arg(long, global = true)]
    pub no_color: bool,
    /// Logs on stderr: `human` (default; warnings unless BATON_LOG=info) or `json` (one event
    /// per action). Also BATON_LOG_FORMAT.
    #[arg(long, global = true, value_name = "FORMAT")]
    pub log_format: Option<String>,
    /// Talk to the HTTP API of a `baton serve` at URL instead of the local stores (for
    /// `runs`, `approve`, `workflow run` and `logs`), with the token of --token or BATON_TOKEN.
    #[arg(long, global = true, value_name = "URL")]
    pub server: Option<String>,
    /// The API token for --server (prefer BATON_TOKEN: a command line is visible to others).
    #[arg(
        long,
        global = true,
        value_name = "TOKEN",
        env = "BATON_TOKEN",
        hide_env_values = true
    )]
    pub token: Option<String>,
    /// Write a trace of the run (Chrome trace-event JSON, opens in Perfetto) to FILE.
    #[arg(long, global = true, value_name = "FILE")]
    pub trace_file: Option<PathBuf>,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Subcommand, Debug)]
pub enum Command {
    /// Install the plugin providers the configuration requires (from local mirrors and the
    /// plugin cache) and write the dependency lock file.
    Init(InitArgs),
    /// List the providers the configuration requires and what serves each: Baton's built-in
    /// provider, an installed plugin (version and path), a dev_overrides build, or nothing yet.
    Providers,
    /// Check the configuration: syntax, references, types and attributes.
    Validate(ValidateArgs),
    /// Show what apply would change.
    Plan(PlanArgs),
    /// Make the changes (from a fresh plan, or exactly those of a saved plan file).
    Apply(ApplyArgs),
    /// Destroy every object the state manages.
    Destroy(DestroyArgs),
    /// Adopt an existing object into state under a configured resource address (the
    /// provider reads it by its id), as `terraform import`.
    Import(ImportArgs),
    /// Show root module outputs.
    Output(OutputArgs),
    /// Show the state, or a saved plan.
    Show(ShowArgs),
    /// Inspect and edit the state.
    #[command(subcommand)]
    State(StateCommand),
    /// Print the dependency graph in DOT format.
    Graph(GraphArgs),
    /// Rewrite configuration files in the canonical format.
    Fmt(FmtArgs),
    /// Remove a lock left behind (only when you know its holder is gone).
    ForceUnlock(ForceUnlockArgs),
    /// List runs (applies, destroys, resumes, rollbacks), newest first; `runs show RUN`.
    Runs(RunsArgs),
    /// Finish an interrupted run: actions with a lost outcome are checked first.
    Resume(ResumeArgs),
    /// Undo what a run did, or return managed objects to an earlier state version.
    Rollback(RollbackArgs),
    /// Show what changed outside Baton since the last apply (a refresh-only plan).
    Drift(DriftArgs),
    /// The tamper-evident audit log: list, show, verify, export.
    #[command(subcommand)]
    Audit(AuditCommand),
    /// Rego policies: run their tests, or evaluate a query for debugging.
    #[command(subcommand)]
    Policy(PolicyCommand),
    /// Workflows of this directory's *.baton.hcl files: list, plan, run.
    #[command(subcommand)]
    Workflow(WorkflowCommand),
    /// Approve (or reject) a workflow step that waits for a person.
    Approve(ApproveArgs),
    /// The recorded output of a workflow run's command steps, or of a service's replicas
    /// (`baton logs service.NAME [--replica N] [--follow]`).
    Logs(LogsArgs),
    /// The agent: supervises the stack's services, fires the workflows' schedules, continues
    /// runs whose approval was decided or timed out, and reconciles the stack when it
    /// declares `reconcile`, until stopped (the services' replicas keep running)
    /// (Ctrl-C) or for a while (`--for`).
    Serve(ServeArgs),
    /// A worker: claims actions and workflow steps from the directory's work queue (the
    /// PostgreSQL store's, or `.baton/queue.db` on this machine) and
    /// performs them, until stopped (Ctrl-C, SIGTERM) or for a while (`--for`).
    Worker(WorkerArgs),
    /// The workers registered in the store: labels, heartbeat, what each is doing.
    Workers(WorkersArgs),
    /// The stack at a glance: state version, lock, latest run, and its reconciliation
    /// (settings, the last round's result, when the next is due).
    Status(StatusArgs),
    /// API tokens for `baton serve`: create (prints the token once), list, revoke.
    #[command(subcommand)]
    Token(TokenCommand),
}

#[derive(Subcommand, Debug)]
pub enum TokenCommand {
    /// Make a new token; it is printed once, as the last line, and only its hash is kept.
    Create {
        /// What it may do: viewer (read), operator (read, run), approver (read, approve),
        /// admin (everything).
        #[arg(long, value_name = "viewer|operator|approver|admin")]
        role: String,
        /// A unique name (who or what uses it).
        #[arg(long, value_name = "NAME")]
        name: String,
    },
    /// The tokens: name, role, creation time (never the tokens themselves).
    List {
        #[arg(long)]
        json: bool,
    },
    /// Remove a token: it stops working at once.
    Revoke { name: String },
}

#[derive(Args, Debug)]
pub struct StatusArgs {
    #[arg(long)]
    pub json: bool,
}

#[derive(Args, Debug)]
pub struct WorkerArgs {
    /// Tasks at once.
    #[arg(long, default_value_t = 1, value_name = "N")]
    pub concurrency: u32,
    /// Labels that tasks may require with `run_on` (k=v,k2=v2).
    #[arg(long, default_value = "", value_name = "K=V,...")]
    pub labels: String,
    /// How long a claimed task stays this worker's without a renewal (renewed every third):
    /// a worker that dies loses its tasks to others after this long.
    #[arg(long, default_value = "30s", value_name = "DURATION")]
    pub lease: String,
    /// Stop after this long (e.g. 10s, 1h); without it, run until interrupted.
    #[arg(long = "for", value_name = "DURATION")]
    pub for_: Option<String>,
}

#[derive(Args, Debug)]
pub struct WorkersArgs {
    #[arg(long)]
    pub json: bool,
}

#[derive(Args, Debug)]
pub struct ServeArgs {
    /// Stop after this long (e.g. 10s, 1h); without it, run until interrupted.
    #[arg(long = "for", value_name = "DURATION")]
    pub for_: Option<String>,
    /// How often to look for due schedules and runs.
    #[arg(long, default_value = "1s", value_name = "DURATION")]
    pub tick: String,
    /// Steps at once, per run.
    #[arg(long, default_value_t = 10, value_name = "N")]
    pub parallelism: usize,
    /// Also serve the services (and reconciliation) of the stack in DIR (repeatable). Each
    /// stack's store is its own backend block or default.
    #[arg(long = "stack", value_name = "DIR")]
    pub stacks: Vec<std::path::PathBuf>,
    /// Where the HTTP API, metrics and UI listen (default 127.0.0.1:8080; port 0: any free
    /// port). The address actually used is printed on stderr.
    #[arg(long, value_name = "ADDR")]
    pub listen: Option<String>,
    /// Serve HTTPS with this certificate chain (PEM; needs --tls-key).
    #[arg(long, value_name = "FILE", requires = "tls_key")]
    pub tls_cert: Option<PathBuf>,
    /// Bad tokens a client may present within a minute before it is refused with 429.
    #[arg(long, default_value_t = 10, value_name = "N")]
    pub login_failures: usize,
    /// The private key of --tls-cert (PEM).
    #[arg(long, value_name = "FILE", requires = "tls_cert")]
    pub tls_key: Option<PathBuf>,
}

#[derive(Subcommand, Debug)]
pub enum WorkflowCommand {
    /// List the workflows: inputs, steps, schedules.
    List {
        #[arg(long)]
        json: bool,
    },
    /// Show a workflow's steps in order, with what each depends on, changing nothing.
    Plan {
        name: String,
        /// An input: NAME=VALUE (repeatable).
        #[arg(long = "input", value_name = "NAME=VALUE")]
        inputs: Vec<String>,
    },
    /// Start a run of a workflow and follow it until it ends or waits.
    Run {
        name: String,
        /// An input: NAME=VALUE (repeatable).
        #[arg(long = "input", value_name = "NAME=VALUE")]
        inputs: Vec<String>,
        /// Steps at once.
        #[arg(long, default_value_t = 10, value_name = "N")]
        parallelism: usize,
        /// Record the run and return at once; a background process runs it (its output goes
        /// to .baton/workflow-logs/RUN.log).
        #[arg(long)]
        detach: bool,
        /// Where command steps run: `local` (this process) or `workers` (`baton worker`
        /// processes sharing the store's work queue). Default: the workflow's `executor`.
        #[arg(long, value_name = "local|workers")]
        executor: Option<String>,
    },
}

#[derive(Args, Debug)]
pub struct ApproveArgs {
    /// The workflow run.
    pub run: String,
    /// The waiting step (its key, e.g. promote or smoke["a"]).
    pub step: String,
    /// Reject instead: the step fails and the run rolls back (or halts).
    #[arg(long)]
    pub reject: bool,
    /// Why, recorded with the decision.
    #[arg(long)]
    pub reason: Option<String>,
}

#[derive(Args, Debug)]
pub struct LogsArgs {
    /// The workflow run, or `service.NAME`.
    pub run: String,
    /// Only this step (its key).
    pub step: Option<String>,
    /// `service.NAME`: only this replica (its index).
    #[arg(long, value_name = "N")]
    pub replica: Option<u32>,
    /// `service.NAME`: keep printing what the replica writes (needs --replica with several).
    #[arg(long, short = 'f')]
    pub follow: bool,
}

#[derive(Subcommand, Debug)]
pub enum PolicyCommand {
    /// Run the `test_*` rules of the policies (like `opa test`): pass or fail per test.
    Test {
        /// Policy directories or files (default: `policies/`).
        dirs: Vec<PathBuf>,
        /// Only the tests whose `data.<package>.<rule>` matches this regular expression.
        #[arg(long = "run", value_name = "REGEX")]
        run: Option<String>,
        /// Also list passing tests and what each test printed.
        #[arg(short, long)]
        verbose: bool,
    },
    /// Evaluate one Rego query (like `opa eval`): prints the result as JSON.
    Eval {
        /// The query, e.g. `data.terraform.tags.deny` (or give it with --query).
        #[arg(value_name = "QUERY")]
        query_arg: Option<String>,
        /// The query, e.g. `data.terraform.tags.deny`.
        #[arg(long, short, value_name = "QUERY", conflicts_with = "query_arg")]
        query: Option<String>,
        /// The input document (a JSON file, e.g. `baton plan --json` output).
        #[arg(long, short, value_name = "FILE")]
        input: Option<PathBuf>,
        /// Policy and data directories or files (repeatable; default: `policies/`).
        #[arg(long = "data", short = 'd', value_name = "DIR")]
        data: Vec<PathBuf>,
    },
}

#[derive(Subcommand, Debug)]
pub enum AuditCommand {
    /// One line per record, oldest first.
    List {
        #[arg(long)]
        json: bool,
    },
    /// One record in full.
    Show { id: u64 },
    /// Check the hash chain; names the first edited, deleted or reordered record.
    Verify,
    /// Every record as JSON lines (for a SIEM).
    Export,
}

#[derive(Args, Debug, Clone, Default)]
pub struct RunFlags {
    /// On a failed action: undo every change the run made (`rollback`, the default unless the
    /// configuration says otherwise) or keep them (`halt`, Terraform's behaviour).
    #[arg(long, value_name = "POLICY")]
    pub on_failure: Option<String>,
    /// The share of hosts (0 to 100) whose failure is tolerated before the run fails as a
    /// whole (default: the configuration's `max_fail_percentage`, else only all hosts failing
    /// fails the run).
    #[arg(long, value_name = "PERCENT", value_parser = clap::value_parser!(u8).range(0..=100))]
    pub max_fail_percentage: Option<u8>,
    /// Attempts for retryable provider failures (default 3).
    #[arg(long, value_name = "N")]
    pub retry_attempts: Option<u32>,
    /// First retry delay; doubles each time (default 1s).
    #[arg(long, value_name = "DURATION")]
    pub retry_backoff: Option<String>,
    /// Longest retry delay (default 30s).
    #[arg(long, value_name = "DURATION")]
    pub retry_max_backoff: Option<String>,
    /// Go ahead despite soft-mandatory policy denials, for this REASON (recorded with your
    /// name in the audit log). Hard-mandatory denials cannot be overridden.
    #[arg(long, value_name = "REASON")]
    pub override_policy: Option<String>,
    /// Where provider calls run: `local` (this process, the default) or `workers` (`baton
    /// worker` processes sharing the store's work queue). Also BATON_EXECUTOR.
    #[arg(long, value_name = "local|workers")]
    pub executor: Option<String>,
    /// Labels the workers performing this run's actions must carry (k=v,k2=v2).
    #[arg(long, value_name = "K=V,...")]
    pub run_on: Option<String>,
}

#[derive(Args, Debug)]
pub struct RunsArgs {
    /// `show RUN` for one run's details.
    #[arg(value_name = "show RUN", num_args = 0..=2)]
    pub args: Vec<String>,
    #[arg(long)]
    pub json: bool,
}

#[derive(Args, Debug)]
pub struct ResumeArgs {
    /// The run to finish (see `baton runs`).
    pub run: String,
    #[arg(long)]
    pub auto_approve: bool,
    #[command(flatten)]
    pub run_flags: RunFlags,
    #[arg(long, default_value_t = 10, value_name = "N")]
    pub parallelism: usize,
    #[arg(long, default_value = "0s", value_name = "DURATION")]
    pub lock_timeout: String,
}

#[derive(Args, Debug)]
pub struct RollbackArgs {
    /// The run to undo (see `baton runs`).
    pub run: Option<String>,
    /// Instead of a run: return every managed object to this state version.
    #[arg(long, value_name = "N", conflicts_with = "run")]
    pub to_version: Option<u64>,
    #[arg(long)]
    pub auto_approve: bool,
    #[command(flatten)]
    pub run_flags: RunFlags,
    #[arg(long, default_value_t = 10, value_name = "N")]
    pub parallelism: usize,
    #[arg(long, default_value = "0s", value_name = "DURATION")]
    pub lock_timeout: String,
}

#[derive(Args, Debug)]
pub struct DriftArgs {
    #[command(flatten)]
    pub vars: VarArgs,
    #[arg(long)]
    pub json: bool,
    #[arg(long, default_value_t = 10, value_name = "N")]
    pub parallelism: usize,
    #[arg(long, default_value = "0s", value_name = "DURATION")]
    pub lock_timeout: String,
}

#[derive(Args, Debug, Clone, Default)]
pub struct VarArgs {
    /// Set an input variable: NAME=VALUE (repeatable).
    #[arg(long = "var", value_name = "NAME=VALUE")]
    pub vars: Vec<String>,
    /// Read input variables from a .tfvars or .tfvars.json file (repeatable).
    #[arg(long = "var-file", value_name = "FILE")]
    pub var_files: Vec<PathBuf>,
}

#[derive(Args, Debug, Clone)]
pub struct PlanFlags {
    #[command(flatten)]
    pub vars: VarArgs,
    /// Limit the operation to these resources or modules and what they depend on (repeatable).
    #[arg(long = "target", value_name = "ADDR")]
    pub targets: Vec<String>,
    /// Plan these resource instances as replaced (repeatable).
    #[arg(long = "replace", value_name = "ADDR")]
    pub replace: Vec<String>,
    /// Refresh objects through their providers before planning.
    #[arg(long, default_value_t = true, action = clap::ArgAction::Set, value_name = "BOOL")]
    pub refresh: bool,
    /// Only accept the real objects' current values into state.
    #[arg(long)]
    pub refresh_only: bool,
    /// At most N actions at once.
    #[arg(long, default_value_t = 10, value_name = "N")]
    pub parallelism: usize,
    /// Wait up to this long for the state lock (e.g. 30s, 2m).
    #[arg(long, default_value = "0s", value_name = "DURATION")]
    pub lock_timeout: String,
    /// Also evaluate the Rego policies in DIR (hard-mandatory; repeatable). `policies/` beside
    /// the configuration and the configuration's policy sets always apply.
    #[arg(long = "policy", value_name = "DIR")]
    pub policy_dirs: Vec<PathBuf>,
}

#[derive(Args, Debug)]
pub struct InitArgs {
    /// Choose the newest allowed version of every provider, ignoring the versions the lock
    /// file records (Terraform's `-upgrade`; `-upgrade` is accepted too).
    #[arg(long)]
    pub upgrade: bool,
}

/// Terraform spells `init`'s flag with one dash (`-upgrade`); clap would read it as short
/// flags. Rewrites it to `--upgrade` when it follows the `init` subcommand.
pub fn terraform_style_args(args: Vec<std::ffi::OsString>) -> Vec<std::ffi::OsString> {
    let Some(init) = args.iter().position(|a| a == "init") else {
        return args;
    };
    args.into_iter()
        .enumerate()
        .map(|(i, a)| {
            if i > init && a == "-upgrade" {
                "--upgrade".into()
            } else {
                a
            }
        })
        .collect()
}

#[derive(Args, Debug)]
pub struct ValidateArgs {
    /// Machine-readable output (the shape of `terraform validate -json`).
    #[arg(long)]
    pub json: bool,
}

#[derive(Args, Debug)]
pub struct PlanArgs {
    #[command(flatten)]
    pub flags: PlanFlags,
    /// Plan the destruction of every managed object.
    #[arg(long)]
    pub destroy: bool,
    /// Save the plan to FILE for `baton apply FILE`.
    #[arg(long, value_name = "FILE")]
    pub out: Option<PathBuf>,
    /// Print the plan as JSON (the shape of `terraform show -json`).
    #[arg(long)]
    pub json: bool,
    /// Exit 2 when the plan has changes, 0 when it has none.
    #[arg(long)]
    pub detailed_exitcode: bool,
}

#[derive(Args, Debug)]
pub struct ApplyArgs {
    /// A saved plan file to apply exactly.
    pub plan_file: Option<PathBuf>,
    #[command(flatten)]
    pub flags: PlanFlags,
    #[command(flatten)]
    pub run_flags: RunFlags,
    /// Do not ask for confirmation.
    #[arg(long)]
    pub auto_approve: bool,
    /// Plan the destruction of every managed object (same as `baton destroy`).
    #[arg(long)]
    pub destroy: bool,
    /// Print the plan and the result as JSON (no prompt: requires --auto-approve or a plan file).
    #[arg(long)]
    pub json: bool,
}

#[derive(Args, Debug)]
pub struct ImportArgs {
    /// The resource instance to import into, e.g. `aws_instance.web` or `module.m.x.y["k"]`;
    /// its resource block must exist in the configuration.
    pub addr: String,
    /// The provider's id of the existing object.
    pub id: String,
    #[command(flatten)]
    pub flags: PlanFlags,
    #[command(flatten)]
    pub run_flags: RunFlags,
}

#[derive(Args, Debug)]
pub struct DestroyArgs {
    #[command(flatten)]
    pub flags: PlanFlags,
    #[command(flatten)]
    pub run_flags: RunFlags,
    #[arg(long)]
    pub auto_approve: bool,
}

#[derive(Args, Debug)]
pub struct OutputArgs {
    /// One output's name.
    pub name: Option<String>,
    /// JSON, as `terraform output -json`.
    #[arg(long)]
    pub json: bool,
    /// A string output's raw value, without quotes.
    #[arg(long)]
    pub raw: bool,
}

#[derive(Args, Debug)]
pub struct ShowArgs {
    /// A saved plan file (otherwise the current state).
    pub file: Option<PathBuf>,
    #[arg(long)]
    pub json: bool,
}

#[derive(Subcommand, Debug)]
pub enum StateCommand {
    /// List resource instances in state.
    List {
        /// Only addresses under these (module, resource or instance addresses).
        addrs: Vec<String>,
    },
    /// Show one resource instance's attributes.
    Show { addr: String },
    /// Forget objects without destroying them.
    Rm {
        #[arg(required = true)]
        addrs: Vec<String>,
        #[arg(long, default_value = "0s")]
        lock_timeout: String,
    },
    /// Rename an object (or a whole resource) in state.
    Mv {
        from: String,
        to: String,
        #[arg(long, default_value = "0s")]
        lock_timeout: String,
    },
    /// List the state's versions.
    History {
        #[arg(long)]
        json: bool,
    },
    /// Copy this stack's state into another store (--to), or import a state into this one
    /// (--from): another Baton store or a Terraform state file.
    Migrate(MigrateArgs),
}

#[derive(Args, Debug)]
pub struct MigrateArgs {
    /// Copy the current state into this store (a PostgreSQL URL or an SQLite file), as its
    /// first version; the target must have no state unless --force.
    #[arg(long, value_name = "URL|PATH", conflicts_with = "from")]
    pub to: Option<String>,
    /// Import this state into the current store as a new version: a PostgreSQL URL, an SQLite
    /// file, or a Terraform state file (terraform.tfstate, format version 4).
    #[arg(long, value_name = "URL|PATH")]
    pub from: Option<String>,
    /// With --to: write even when the target already has state (as a new version on top).
    #[arg(long)]
    pub force: bool,
    /// Wait up to this long for each store's lock.
    #[arg(long, default_value = "0s")]
    pub lock_timeout: String,
}

#[derive(Args, Debug)]
pub struct GraphArgs {
    /// Include variables, locals, outputs and module calls, not just resources.
    #[arg(long)]
    pub all: bool,
}

#[derive(Args, Debug)]
pub struct FmtArgs {
    /// Files or directories (default: the current directory).
    pub paths: Vec<PathBuf>,
    /// Exit non-zero (3) if any file is not formatted; change nothing.
    #[arg(long)]
    pub check: bool,
    /// Print the differences.
    #[arg(long)]
    pub diff: bool,
    /// Also process subdirectories.
    #[arg(long)]
    pub recursive: bool,
}

#[derive(Args, Debug)]
pub struct ForceUnlockArgs {
    /// Do not ask for confirmation.
    #[arg(long)]
    pub force: bool,
    /// Remove the lock even though its lease is live (its holder renewed it recently). Only
    /// for a holder known to be gone; recorded in the audit log.
    #[arg(long)]
    pub override_live_lease: bool,
}
