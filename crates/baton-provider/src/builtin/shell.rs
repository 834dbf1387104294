//! The `shell` provider: the `shell_script` resource and data source with the community shell
//! provider's schema (scottwinkler/shell v1.7.10) — Baton's universal adapter to command-line
//! tools.
//!
//! Behaviour, as the provider's:
//! - every command runs through `interpreter` (default `/bin/sh -c`), in `working_directory`
//!   (default `.`, relative to Baton's working directory), with Baton's environment plus
//!   `environment` plus `sensitive_environment`;
//! - `read`, `update` and `delete` get the previous `output` as a JSON object on stdin
//!   (`create` gets none; the data source's `read` gets `{}`);
//! - a command's `output` is the JSON object that ends its stdout (see [`output`]); `create`
//!   (or `update`) printing none runs `read` instead, if there is one;
//! - refresh runs `read`: no JSON object means the object is gone (the next plan creates it);
//!   a different object marks the object `dirty` (its recorded `output` is kept), which the
//!   next plan repairs with `update` when there is one, by replacement otherwise;
//! - a change of `triggers` replaces the object; a change of `environment`,
//!   `sensitive_environment` or `working_directory` runs `update` in place when there is one
//!   and replaces the object otherwise; a change of `lifecycle_commands` or `interpreter` is
//!   recorded in place without running anything, except that a changed `read` command runs
//!   the new `read`; changing both kinds at once is a plan error, as in the provider;
//! - commands run one at a time (the provider's default, `enable_parallelism = false`); the
//!   `provider "shell"` block's `environment`, `sensitive_environment` and `interpreter` are
//!   every object's defaults (an object's own win), and `enable_parallelism = true` lets
//!   commands of different objects run at once.
//!
//! Deviations, deliberate: a `read` that fails is a refresh error (retryable or permanent by
//! [`command::classify`]) instead of the provider's `read_error` bookkeeping (the attribute
//! exists for compatibility, is always `""` in objects Baton creates, and a non-empty value
//! from an imported state still forces replacement and skips `delete`); an `update` whose
//! command and follow-up `read` print no JSON object keeps the previous `output` instead of
//! dropping the object; the sensitive-output variant `shell_sensitive_script` of some
//! provider forks is not offered. Output values that contain a `sensitive_environment` value
//! of at least 4 characters are marked sensitive (shorter values, like `"1"`, would mark
//! unrelated outputs).
//!
//! Nothing here logs a command, its environment or its output; error messages quote stdout
//! and stderr only after every secret value was redacted, and never quote the command text or
//! the environment.

pub(crate) mod command;
mod output;

use super::attrs;
use crate::exec::CommandSpec;
use crate::registry::{ProviderInfo, Registry};
use crate::schema::{Attr, NestedBlock, Nesting, Schema};
use crate::{
    ApplyRequest, AttrDiag, DataSourceType, PlanRequest, PlanResponse, ProviderCtx, ProviderError,
    ResourceType,
};
use baton_eval::{PathStep, Type, Value};
use command::{classify, execute, exit_description, new_xid, quote_tail, Secrets};
use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::Arc;

/// The provider these types belong to.
pub const PROVIDER: ProviderInfo = ProviderInfo {
    name: "shell",
    source: "registry.terraform.io/scottwinkler/shell",
};

/// Registers this provider's types.
pub fn register(r: &mut Registry) {
    // The `provider "shell"` block: defaults for every object's commands.
    r.add_provider(
        PROVIDER,
        Schema::new()
            .attr(
                "environment",
                Attr::optional(Type::map(Type::String))
                    .describe("Environment variables for every command (an object's own win)."),
            )
            .attr(
                "sensitive_environment",
                Attr::optional(Type::map(Type::String))
                    .sensitive()
                    .describe("Like environment, but never shown."),
            )
            .attr(
                "interpreter",
                Attr::optional(Type::list(Type::String))
                    .describe("The interpreter of objects that name none (default /bin/sh -c)."),
            )
            .attr(
                "enable_parallelism",
                Attr::optional(Type::Bool).describe(
                    "Run commands of different objects at once (default: one at a time).",
                ),
            ),
    );
    r.add_resource(PROVIDER, Arc::new(ShellScript::new()));
    r.add_data_source(PROVIDER, Arc::new(ShellScriptData::new()));
}

/// The summary of every command failure, as the provider words it.
const SUMMARY: &str = "Error occurred during shell execution";

/// The `shell_script` resource.
pub struct ShellScript {
    schema: Schema,
}

impl ShellScript {
    pub fn new() -> ShellScript {
        let commands = Schema::new()
            .attr("create", Attr::required(Type::String))
            .attr("read", Attr::optional(Type::String))
            .attr("update", Attr::optional(Type::String))
            .attr("delete", Attr::required(Type::String));
        ShellScript {
            schema: common_schema(commands)
                .attr(
                    "triggers",
                    Attr::optional(Type::map(Type::String))
                        .force_new()
                        .describe("A map of values whose change replaces the object."),
                )
                .attr(
                    "dirty",
                    Attr::optional(Type::Bool)
                        .default(Value::bool(false))
                        .describe("Set by refresh when `read` reports an output different from the recorded one."),
                )
                .attr(
                    "read_error",
                    Attr::optional(Type::String)
                        .default(Value::string(""))
                        .describe("The provider's record of a failed `read`; cannot be set from configuration."),
                ),
        }
    }
}

impl Default for ShellScript {
    fn default() -> Self {
        ShellScript::new()
    }
}

/// The `shell_script` data source.
pub struct ShellScriptData {
    schema: Schema,
}

impl ShellScriptData {
    pub fn new() -> ShellScriptData {
        ShellScriptData {
            schema: common_schema(Schema::new().attr("read", Attr::required(Type::String))),
        }
    }
}

impl Default for ShellScriptData {
    fn default() -> Self {
        ShellScriptData::new()
    }
}

/// The attributes the resource and the data source share, with their `lifecycle_commands`.
fn common_schema(commands: Schema) -> Schema {
    Schema::new()
        .block(
            "lifecycle_commands",
            NestedBlock {
                nesting: Nesting::List,
                schema: commands,
                min_items: 1,
                max_items: 1,
                force_new: false,
            },
        )
        .attr(
            "environment",
            Attr::optional(Type::map(Type::String))
                .describe("Environment variables for every command, added to Baton's own."),
        )
        .attr(
            "sensitive_environment",
            Attr::optional(Type::map(Type::String))
                .sensitive()
                .describe(
                    "Like environment, but never shown; their values are redacted from errors.",
                ),
        )
        .attr(
            "interpreter",
            Attr::optional(Type::list(Type::String))
                .describe("The program and arguments that run each command (default: /bin/sh -c)."),
        )
        .attr(
            "working_directory",
            Attr::optional(Type::String)
                .default(Value::string("."))
                .describe("The directory commands run in, relative to Baton's working directory."),
        )
        .attr(
            "output",
            Attr::computed(Type::map(Type::String)).describe(
                "The JSON object at the end of the last command's stdout, values as strings.",
            ),
        )
        .attr("id", Attr::computed(Type::String))
}

// ----- reading values -----

/// The commands of a `lifecycle_commands` block; unset and empty commands are `None`.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
struct Commands {
    create: Option<String>,
    read: Option<String>,
    update: Option<String>,
    delete: Option<String>,
}

fn commands(v: &Value) -> Commands {
    let block = v
        .get_attr("lifecycle_commands")
        .and_then(|l| l.as_seq().and_then(|s| s.first()).cloned())
        .map(|b| b.unmark_deep().0);
    let Some(block) = block else {
        return Commands::default();
    };
    let get = |name: &str| {
        block
            .get_attr(name)
            .and_then(|c| c.as_str().map(str::to_string))
            .filter(|c| !c.is_empty())
    };
    Commands {
        create: get("create"),
        read: get("read"),
        update: get("update"),
        delete: get("delete"),
    }
}

/// The known string entries of a map attribute, with whether each value is marked sensitive.
fn string_entries(v: &Value, name: &str) -> Vec<(String, String, bool)> {
    let Some(m) = v.get_attr(name) else {
        return Vec::new();
    };
    let sensitive_map = m.contains_sensitive();
    let (m, _) = m.clone().unmark();
    let Some(entries) = m.as_entries() else {
        return Vec::new();
    };
    entries
        .iter()
        .filter_map(|(k, x)| {
            let s = x.contains_sensitive();
            let (x, _) = x.clone().unmark_deep();
            x.as_str()
                .map(|t| (k.clone(), t.to_string(), s || sensitive_map))
        })
        .collect()
}

/// The recorded `output` of an object.
fn output_of(v: &Value) -> BTreeMap<String, String> {
    string_entries(v, "output")
        .into_iter()
        .map(|(k, x, _)| (k, x))
        .collect()
}

/// An `output` value: strings, each marked sensitive when it contains a secret.
fn output_value(m: BTreeMap<String, String>, secrets: &Secrets) -> Value {
    let entries = m
        .into_iter()
        .map(|(k, x)| {
            let v = Value::string(x.as_str());
            let v = if secrets.marks(&x) {
                v.mark_sensitive()
            } else {
                v
            };
            (k, v)
        })
        .collect();
    Value::map(Type::String, entries)
}

fn str_of(v: &Value, name: &str) -> Option<String> {
    super::str_attr(v, name)
}

// ----- running commands -----

/// How the commands of one object run.
struct Runner {
    interpreter: Vec<String>,
    env: Vec<(String, String)>,
    cwd: PathBuf,
    secrets: Secrets,
    /// `enable_parallelism` of the provider block: commands of different objects at once.
    parallel: bool,
}

impl Runner {
    fn new(ctx: &ProviderCtx, v: &Value) -> Runner {
        let words = |from: &Value| -> Vec<String> {
            from.get_attr("interpreter")
                .map(|i| i.clone().unmark_deep().0)
                .and_then(|i| {
                    i.as_seq().map(|s| {
                        s.iter()
                            .filter_map(|x| x.as_str().map(str::to_string))
                            .collect()
                    })
                })
                .unwrap_or_default()
        };
        // The provider block's settings are the defaults of every object.
        let provider = ctx.config.clone().unwrap_or_else(Value::empty_object);
        let mut interpreter = words(v);
        if interpreter.is_empty() {
            interpreter = words(&provider);
        }
        if interpreter.is_empty() {
            interpreter = vec!["/bin/sh".to_string(), "-c".to_string()];
        }
        let mut env: Vec<(String, String)> = Vec::new();
        let mut secrets = Vec::new();
        for from in [&provider, v] {
            for (k, x, sensitive) in string_entries(from, "environment") {
                if sensitive {
                    secrets.push(x.clone());
                }
                env.retain(|(e, _)| *e != k);
                env.push((k, x));
            }
            for (k, x, _) in string_entries(from, "sensitive_environment") {
                secrets.push(x.clone());
                env.retain(|(e, _)| *e != k);
                env.push((k, x));
            }
        }
        let parallel = provider
            .get_attr("enable_parallelism")
            .and_then(|p| p.as_bool())
            .unwrap_or(false);
        let wd = str_of(v, "working_directory").unwrap_or_else(|| ".".to_string());
        Runner {
            interpreter,
            env,
            cwd: ctx.resolve(&wd),
            secrets: Secrets::new(secrets),
            parallel,
        }
    }

    /// Runs one lifecycle command; its output map if its stdout ends with a JSON object.
    fn run(
        &self,
        ctx: &ProviderCtx,
        action: &str,
        command: &str,
        previous: Option<&BTreeMap<String, String>>,
    ) -> Result<Option<BTreeMap<String, String>>, ProviderError> {
        let mut spec =
            CommandSpec::shell(command, Some(self.interpreter.clone()), self.cwd.clone());
        spec.env = self.env.clone();
        if let Some(prev) = previous {
            // Compact, keys sorted, no trailing newline: what the provider's json.Marshal sends.
            spec.stdin = Some(serde_json::to_vec(prev).unwrap_or_else(|_| b"{}".to_vec()));
        }
        let what = format!("the {action} command");
        let out = {
            // One at a time within the run, unless the provider block sets
            // `enable_parallelism`, as the provider does.
            let _one_at_a_time = (!self.parallel)
                .then(|| ctx.one_at_a_time.lock().unwrap_or_else(|p| p.into_inner()));
            execute(ctx, spec, SUMMARY, &what)
        }
        .map_err(|mut e| {
            e.detail = self.secrets.redact(&e.detail);
            e
        })?;
        let stdout = String::from_utf8_lossy(&out.stdout);
        if !out.success() {
            let stderr = String::from_utf8_lossy(&out.stderr);
            let mut detail = format!("The {action} command {}.", exit_description(&out));
            for (label, text) in [("StdOut", &stdout), ("StdErr", &stderr)] {
                let text = quote_tail(&self.secrets.redact(text));
                if !text.is_empty() {
                    detail.push_str(&format!("\n\n{label}:\n{text}"));
                }
            }
            return Err(ProviderError {
                kind: classify(out.code, &stderr),
                summary: SUMMARY.to_string(),
                detail,
                attr: None,
            });
        }
        Ok(output::output_map(&stdout))
    }
}

// ----- validation -----

fn validate_env(config: &Value, name: &str, out: &mut Vec<AttrDiag>) {
    for (k, x, sensitive) in string_entries(config, name) {
        let bad_key = k.is_empty() || k.contains('=') || k.contains('\0');
        if bad_key {
            out.push(AttrDiag::error(
                Some(name),
                "Invalid environment variable name",
                format!("{name} has the key {k:?}: a variable name must be non-empty and contain neither \"=\" nor NUL."),
            ));
        }
        if x.contains('\0') {
            let shown = if sensitive || name == "sensitive_environment" {
                "(sensitive value)".to_string()
            } else {
                format!("{x:?}")
            };
            out.push(AttrDiag::error(
                Some(name),
                "Invalid environment variable value",
                format!("The value of {name}[{k:?}] contains a NUL character: {shown}."),
            ));
        }
    }
}

fn validate_common(config: &Value) -> Vec<AttrDiag> {
    let mut out = Vec::new();
    validate_env(config, "environment", &mut out);
    validate_env(config, "sensitive_environment", &mut out);
    out
}

// ----- planning helpers -----

/// Null and empty collections are the same to the provider (SDKv2 does not tell them apart).
fn equivalent(a: Option<&Value>, b: Option<&Value>) -> bool {
    let empty = |v: Option<&Value>| v.is_none_or(|v| v.is_null() || v.length() == Some(0));
    match (a, b) {
        (Some(a), Some(b)) if b.is_wholly_known() && a.raw_equal(b) => true,
        _ => empty(a) && empty(b) && b.is_none_or(Value::is_known),
    }
}

fn key(name: &str) -> Vec<PathStep> {
    vec![PathStep::Key(name.to_string())]
}

impl ResourceType for ShellScript {
    fn type_name(&self) -> &'static str {
        "shell_script"
    }

    /// A recreated script object reruns `create`; whatever data the old one held is gone.
    fn restorable(&self) -> bool {
        false
    }

    fn schema(&self) -> &Schema {
        &self.schema
    }

    fn validate(&self, config: &Value) -> Vec<AttrDiag> {
        let mut out = validate_common(config);
        if config.get_attr("read_error").is_some_and(|v| !v.is_null()) {
            out.push(AttrDiag::error(
                Some("read_error"),
                "Invalid Attribute Value",
                "`read_error` cannot be set from configuration",
            ));
        }
        out
    }

    fn plan(&self, req: PlanRequest<'_>) -> Result<PlanResponse, ProviderError> {
        let mut planned = attrs(&req.proposed);
        let Some(prior) = req.prior else {
            planned.insert("output".into(), Value::unknown(Type::map(Type::String)));
            planned.insert("id".into(), Value::unknown(Type::String));
            return Ok(PlanResponse {
                planned: Value::object(planned),
                requires_replace: Vec::new(),
                warnings: Vec::new(),
            });
        };
        // What the provider sees as unchanged keeps its recorded form (null vs empty).
        for name in [
            "environment",
            "sensitive_environment",
            "triggers",
            "interpreter",
        ] {
            if equivalent(prior.get_attr(name), planned.get(name)) {
                if let Some(p) = prior.get_attr(name) {
                    planned.insert(name.to_string(), p.clone());
                }
            }
        }
        let changed = |name: &str| !equivalent(prior.get_attr(name), planned.get(name));
        let mut requires_replace = Vec::new();
        if changed("triggers") {
            requires_replace.push(key("triggers"));
        }
        let prior_cmds = commands(prior);
        let new_lc = planned
            .get("lifecycle_commands")
            .cloned()
            .unwrap_or_else(Value::dynamic_null);
        let new_cmds = commands(&Value::object(planned.clone()));
        let commands_known = new_lc.is_wholly_known();
        let read_changed = !commands_known || prior_cmds.read != new_cmds.read;
        let others: Vec<&str> = ["environment", "sensitive_environment", "working_directory"]
            .into_iter()
            .filter(|n| changed(n))
            .collect();
        let adopting = prior_cmds == Commands::default();
        let mut output_unknown = false;
        if adopting {
            // An imported object: record the commands, and read it if there is a read command.
            output_unknown = !commands_known || new_cmds.read.is_some();
        } else if changed("lifecycle_commands") || changed("interpreter") {
            let definitely_other = others
                .iter()
                .any(|n| planned.get(*n).is_none_or(Value::is_wholly_known));
            if definitely_other && requires_replace.is_empty() {
                return Err(ProviderError::permanent(
                    "Invalid change",
                    format!(
                        "Changes to `lifecycle_commands` and/or `interpreter` should not be followed by changes to other arguments (here: {}). Apply them in two steps.",
                        others.join(", ")
                    ),
                ));
            }
            output_unknown = read_changed;
        } else if str_of(prior, "read_error").is_some_and(|e| !e.is_empty()) {
            requires_replace.push(key("read_error"));
        } else if commands_known && new_cmds.update.is_some() {
            output_unknown = !others.is_empty() || changed("dirty");
        } else {
            for n in others {
                requires_replace.push(key(n));
            }
            if changed("dirty") {
                requires_replace.push(key("dirty"));
            }
        }
        if output_unknown && requires_replace.is_empty() {
            planned.insert("output".into(), Value::unknown(Type::map(Type::String)));
        }
        Ok(PlanResponse {
            planned: Value::object(planned),
            requires_replace,
            warnings: Vec::new(),
        })
    }

    fn apply(&self, req: ApplyRequest<'_>) -> Result<Option<Value>, ProviderError> {
        let ctx = req.ctx;
        let Some(planned) = req.planned else {
            if let Some(prior) = req.prior {
                delete(ctx, prior)?;
            }
            return Ok(None);
        };
        match req.prior {
            None => create(ctx, planned).map(Some),
            Some(prior) => update(ctx, prior, planned).map(Some),
        }
    }

    fn read(&self, ctx: &ProviderCtx, state: &Value) -> Result<Option<Value>, ProviderError> {
        let Some(read) = commands(state).read else {
            return Ok(Some(state.clone()));
        };
        let runner = Runner::new(ctx, state);
        let previous = output_of(state);
        let Some(now) = runner.run(ctx, "read", &read, Some(&previous))? else {
            return Ok(None);
        };
        let mut m = attrs(state);
        if str_of(state, "read_error").is_some_and(|e| !e.is_empty()) {
            m.insert("read_error".into(), Value::string(""));
        }
        if now != previous {
            m.insert("dirty".into(), Value::bool(true));
        }
        Ok(Some(Value::object(m)))
    }

    /// Runs the read command with no previous output: a JSON object on stdout means the object
    /// exists (the create ran before the crash), and it is adopted with that output. Without a
    /// read command there is no way to tell, and the create runs again.
    fn find(&self, ctx: &ProviderCtx, planned: &Value) -> Result<Option<Value>, ProviderError> {
        let Some(read) = commands(planned).read else {
            return Ok(None);
        };
        let runner = Runner::new(ctx, planned);
        let Some(out) = runner.run(ctx, "read", &read, Some(&BTreeMap::new()))? else {
            return Ok(None);
        };
        let mut m = attrs(planned);
        m.insert("output".into(), output_value(out, &runner.secrets));
        m.insert("id".into(), Value::string(new_xid()));
        Ok(Some(Value::object(m)))
    }

    fn import(&self, _ctx: &ProviderCtx, id: &str) -> Result<Value, ProviderError> {
        let obj_ty = self
            .schema
            .blocks
            .get("lifecycle_commands")
            .map(|b| b.schema.object_type())
            .unwrap_or(Type::Dynamic);
        let mut m = BTreeMap::new();
        m.insert("id".to_string(), Value::string(id));
        m.insert(
            "lifecycle_commands".to_string(),
            Value::list(obj_ty, Vec::new()),
        );
        for name in ["environment", "sensitive_environment", "triggers"] {
            m.insert(name.to_string(), Value::null(Type::map(Type::String)));
        }
        m.insert(
            "interpreter".to_string(),
            Value::null(Type::list(Type::String)),
        );
        m.insert("working_directory".to_string(), Value::string("."));
        m.insert(
            "output".to_string(),
            Value::map(Type::String, BTreeMap::new()),
        );
        m.insert("dirty".to_string(), Value::bool(false));
        m.insert("read_error".to_string(), Value::string(""));
        Ok(Value::object(m))
    }
}

fn missing_command(name: &str) -> ProviderError {
    ProviderError::permanent(
        SUMMARY,
        format!("lifecycle_commands has no {name} command."),
    )
    .on_attr("lifecycle_commands")
}

fn create(ctx: &ProviderCtx, planned: &Value) -> Result<Value, ProviderError> {
    let cmds = commands(planned);
    let create = cmds
        .create
        .clone()
        .ok_or_else(|| missing_command("create"))?;
    let runner = Runner::new(ctx, planned);
    let mut out = runner.run(ctx, "create", &create, None)?;
    if out.is_none() {
        if let Some(read) = &cmds.read {
            out = runner.run(ctx, "read", read, Some(&BTreeMap::new()))?;
        }
    }
    let mut m = attrs(planned);
    m.insert(
        "output".into(),
        output_value(out.unwrap_or_default(), &runner.secrets),
    );
    m.insert("id".into(), Value::string(new_xid()));
    Ok(Value::object(m))
}

fn update(ctx: &ProviderCtx, prior: &Value, planned: &Value) -> Result<Value, ProviderError> {
    let mut m = attrs(planned);
    if planned.get_attr("output").is_some_and(Value::is_known) {
        // Nothing to run: only `lifecycle_commands` (not `read`) or `interpreter` changed,
        // and the new values are simply recorded.
        return Ok(Value::object(m));
    }
    let cmds = commands(planned);
    let prior_cmds = commands(prior);
    let runner = Runner::new(ctx, planned);
    let previous = output_of(prior);
    let out = if prior_cmds == Commands::default() || prior_cmds.read != cmds.read {
        match &cmds.read {
            Some(read) => runner.run(ctx, "read", read, Some(&previous))?,
            None => None,
        }
    } else {
        let update = cmds
            .update
            .clone()
            .ok_or_else(|| missing_command("update"))?;
        match runner.run(ctx, "update", &update, Some(&previous))? {
            Some(o) => Some(o),
            None => match &cmds.read {
                Some(read) => runner.run(ctx, "read", read, Some(&previous))?,
                None => None,
            },
        }
    };
    m.insert(
        "output".into(),
        output_value(out.unwrap_or(previous), &runner.secrets),
    );
    m.insert("dirty".into(), Value::bool(false));
    if let Some(id) = prior
        .get_attr("id")
        .filter(|v| v.is_known() && !v.is_null())
    {
        m.insert("id".into(), id.clone());
    }
    Ok(Value::object(m))
}

fn delete(ctx: &ProviderCtx, prior: &Value) -> Result<(), ProviderError> {
    // The provider skips `delete` for an object whose last read failed.
    if str_of(prior, "read_error").is_some_and(|e| !e.is_empty()) {
        return Ok(());
    }
    let Some(delete) = commands(prior).delete else {
        return Ok(());
    };
    let runner = Runner::new(ctx, prior);
    runner.run(ctx, "delete", &delete, Some(&output_of(prior)))?;
    Ok(())
}

impl DataSourceType for ShellScriptData {
    fn type_name(&self) -> &'static str {
        "shell_script"
    }

    fn schema(&self) -> &Schema {
        &self.schema
    }

    fn validate(&self, config: &Value) -> Vec<AttrDiag> {
        validate_common(config)
    }

    fn read(&self, ctx: &ProviderCtx, config: &Value) -> Result<Value, ProviderError> {
        let read = commands(config)
            .read
            .ok_or_else(|| missing_command("read"))?;
        let runner = Runner::new(ctx, config);
        let out = runner.run(ctx, "read", &read, Some(&BTreeMap::new()))?;
        let mut m = attrs(config);
        for (name, a) in &self.schema.attrs {
            if m.get(name).is_none_or(Value::is_null) {
                let v = a
                    .default
                    .clone()
                    .unwrap_or_else(|| Value::null(a.ty.clone()));
                m.insert(name.clone(), v);
            }
        }
        m.insert(
            "output".into(),
            output_value(out.unwrap_or_default(), &runner.secrets),
        );
        m.insert("id".into(), Value::string(new_xid()));
        Ok(Value::object(m))
    }
}

#[cfg(test)]
mod tests;
