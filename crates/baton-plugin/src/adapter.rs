//! Provider plugins behind Baton's provider contract: each resource type and data source a
//! running plugin declares becomes a [`ResourceType`] or [`DataSourceType`] in a [`Registry`],
//! so the engine plans, applies, refreshes and imports through a plugin exactly as through a
//! built-in provider.
//!
//! Its functions become provider functions (`provider::NAME::FN`). One [`PluginProvider`] per
//! provider executable per run. It keeps one process per provider
//! configuration (the evaluated `provider` block a call carries in [`ProviderCtx::config`]),
//! started and configured on first use and shared by every call with that configuration; the
//! process that answered the schema serves validation and the first configuration. A process
//! whose call crashed or timed out is dropped (killed), so the next call — a retry — starts a
//! fresh one. Dropping the provider stops its processes politely (go-plugin's shutdown).
//!
//! The contract is synchronous and the client async: calls run on a small Tokio runtime the
//! provider owns ([`Host`]), from the caller's thread, or from a scoped thread when the
//! caller is itself inside a runtime.
//!
//! Must not decide where plugins are installed nor read configuration files: it is handed an
//! executable and a provider identity.

use std::collections::{BTreeMap, BTreeSet};
use std::future::Future;
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

use baton_eval::{Type, Value};
use baton_provider::function::{FnError, Param, ProviderFunction, Signature};
use baton_provider::{
    ApplyRequest, AttrDiag, DataSourceType, ErrorKind, MoveSource, PlanResponse, PlanWarning,
    ProviderCtx, ProviderError, ProviderInfo, Registry, ResourceType, Schema,
};

use crate::process::{self, ProviderProcess, StartOpts};
use crate::schema::{Diagnostic, ProviderSchema};
use crate::PluginError;

/// How long a provider may take to stop when asked before it is killed.
const STOP_GRACE: Duration = Duration::from_secs(5);

/// The Tokio runtime plugin calls run on. Shut down in the background when dropped, so it may
/// be dropped anywhere (also inside another runtime).
pub struct Host {
    rt: Option<tokio::runtime::Runtime>,
}

impl Host {
    /// A runtime with two worker threads (calls wait on the provider, not on the CPU).
    pub fn new() -> std::io::Result<Arc<Host>> {
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .thread_name("baton-plugin")
            .enable_all()
            .build()?;
        Ok(Arc::new(Host { rt: Some(rt) }))
    }

    /// Runs `fut` to completion on the host's runtime and returns its output. Callable from
    /// any thread, also one inside another runtime (it then waits on a scoped thread).
    pub fn block_on<F: Future + Send>(&self, fut: F) -> F::Output
    where
        F::Output: Send,
    {
        let Some(rt) = &self.rt else {
            unreachable!("the runtime is only taken when the host is dropped")
        };
        if tokio::runtime::Handle::try_current().is_err() {
            return rt.block_on(fut);
        }
        std::thread::scope(|s| match s.spawn(|| rt.block_on(fut)).join() {
            Ok(out) => out,
            Err(panic) => std::panic::resume_unwind(panic),
        })
    }
}

impl Drop for Host {
    fn drop(&mut self) {
        if let Some(rt) = self.rt.take() {
            rt.shutdown_background();
        }
    }
}

/// A provider plugin serving one run: its schema, and its processes by configuration.
pub struct PluginProvider {
    info: ProviderInfo,
    opts: StartOpts,
    host: Arc<Host>,
    schema: ProviderSchema,
    /// The first process, unconfigured until a configuration claims it; it answers
    /// validation calls and functions. Replaced when a call finds it crashed or hung; taken
    /// when the provider is dropped.
    first: Mutex<Option<Arc<ProviderProcess>>>,
    /// Whether a configuration has claimed `first`.
    first_claimed: Mutex<bool>,
    /// One slot per configuration (keyed by its typed JSON), filled on first use.
    configured: Mutex<BTreeMap<String, Slot>>,
}

type Slot = Arc<tokio::sync::OnceCell<Arc<ProviderProcess>>>;

impl std::fmt::Debug for PluginProvider {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PluginProvider")
            .field("source", &self.info.source)
            .field("executable", &self.opts.executable)
            .finish()
    }
}

impl PluginProvider {
    /// Starts the provider and reads its schema. `name` is the provider's local name and
    /// `source` its full source address (`registry.terraform.io/hashicorp/aws`).
    pub fn start(
        host: Arc<Host>,
        name: &str,
        source: &str,
        opts: StartOpts,
    ) -> Result<Arc<PluginProvider>, PluginError> {
        let (first, schema) = host.block_on(async {
            let p = ProviderProcess::start(&opts).await?;
            let schema = p.schema().await?.clone();
            Ok::<_, PluginError>((p, schema))
        })?;
        Ok(Arc::new(PluginProvider {
            info: ProviderInfo {
                name: intern(name),
                source: intern(source),
            },
            opts,
            host,
            schema,
            first: Mutex::new(Some(Arc::new(first))),
            first_claimed: Mutex::new(false),
            configured: Mutex::new(BTreeMap::new()),
        }))
    }

    pub fn info(&self) -> ProviderInfo {
        self.info
    }

    pub fn schema(&self) -> &ProviderSchema {
        &self.schema
    }

    /// Adds the provider, its configuration schema and all its types to `reg`, replacing types
    /// of the same names.
    pub fn register(self: &Arc<Self>, reg: &mut Registry) {
        reg.add_provider(self.info, self.schema.provider.to_baton());
        for (name, ts) in &self.schema.resources {
            reg.add_resource(
                self.info,
                Arc::new(PluginResource {
                    provider: self.clone(),
                    name: intern(name),
                    schema: ts.to_baton(),
                }),
            );
        }
        for (name, sig) in &self.schema.functions {
            reg.add_function(
                self.info,
                name.clone(),
                Arc::new(PluginFunction {
                    provider: self.clone(),
                    name: name.clone(),
                    signature: signature(sig),
                }),
            );
        }
        for (name, ts) in &self.schema.data_sources {
            reg.add_data_source(
                self.info,
                Arc::new(PluginDataSource {
                    provider: self.clone(),
                    name: intern(name),
                    schema: ts.to_baton(),
                }),
            );
        }
    }

    /// The process configured with `ctx.config`: started (or the first one claimed),
    /// validated and configured on first use.
    fn process(&self, ctx: &ProviderCtx) -> Result<Arc<ProviderProcess>, ProviderError> {
        let config = match &ctx.config {
            Some(c) => c.clone(),
            None => Value::null(self.schema.provider.to_baton().object_type()),
        };
        let key = config.to_typed_json().to_string();
        let slot = {
            let mut m = self
                .configured
                .lock()
                .map_err(|_| ProviderError::permanent("Provider unavailable", "lock poisoned"))?;
            m.entry(key).or_default().clone()
        };
        let cell = slot.clone();
        self.host
            .block_on(cell.get_or_try_init(|| self.start_configured(config)))
            .cloned()
            .map_err(|e| self.error(e))
    }

    async fn start_configured(&self, config: Value) -> Result<Arc<ProviderProcess>, PluginError> {
        let reuse = match self.first_claimed.lock() {
            Ok(mut claimed) => !std::mem::replace(&mut *claimed, true),
            Err(_) => false,
        };
        let first = self.first.lock().ok().and_then(|f| f.clone());
        let p = match (reuse, first) {
            (true, Some(first)) => first,
            _ => Arc::new(ProviderProcess::start(&self.opts).await?),
        };
        let ty = self.schema.provider.to_baton().object_type();
        let config = if config.is_null() {
            null_object(&ty)
        } else {
            config
        };
        p.validate_provider_config(&config)
            .await
            .and_then(|d| process::check("ValidateProviderConfig", d))?;
        p.configure(&config).await?;
        Ok(p)
    }

    /// Runs one call on the process for `ctx`. A crash or a timeout forgets that process, so a
    /// retry starts a fresh one.
    fn call<T: Send, F>(
        &self,
        ctx: &ProviderCtx,
        f: impl FnOnce(Arc<ProviderProcess>) -> F,
    ) -> Result<T, ProviderError>
    where
        F: Future<Output = Result<T, PluginError>> + Send,
    {
        let p = self.process(ctx)?;
        let out = self.host.block_on(f(p.clone()));
        if let Err(e) = &out {
            if e.is_retryable() {
                self.forget(&p);
            }
        }
        out.map_err(|e| self.error(e))
    }

    /// A plugin failure as a provider error: an error diagnostic keeps its summary, detail and
    /// attribute path; anything else names the provider and carries its stderr.
    fn error(&self, e: PluginError) -> ProviderError {
        if let PluginError::Diagnostics { diagnostics, .. } = &e {
            if let Some(d) = diagnostics.iter().find(|d| d.error) {
                let err = ProviderError::permanent(d.summary.clone(), d.detail.clone());
                return match &d.attribute {
                    Some(a) => err.on_attr(a),
                    None => err,
                };
            }
        }
        let kind = if e.is_retryable() {
            ErrorKind::Retryable
        } else {
            ErrorKind::Permanent
        };
        let plugin = self
            .opts
            .executable
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_else(|| self.info.source.to_string());
        // Worded as Terraform words them, with the provider's stderr (its logs and panic).
        let (summary, detail) = match &e {
            PluginError::Rpc { method, stderr, .. } => (
                "Plugin did not respond".to_string(),
                format!(
                    "The plugin encountered an error, and failed to respond to the plugin.(*GRPCProvider).{method} call. The plugin logs may contain more details.{}",
                    stderr_part(&plugin, stderr)
                ),
            ),
            PluginError::CallTimeout {
                method,
                seconds,
                stderr,
            } => (
                "Plugin did not respond".to_string(),
                format!(
                    "The plugin did not answer the plugin.(*GRPCProvider).{method} call within {seconds}s (BATON_PROVIDER_TIMEOUT) and was stopped.{}",
                    stderr_part(&plugin, stderr)
                ),
            ),
            other => (
                format!("Failed to run provider {}", self.info.source),
                other.to_string(),
            ),
        };
        ProviderError {
            kind,
            summary,
            detail,
            attr: None,
        }
    }
}

/// What a provider wrote to stderr, for an error's detail (nothing when it wrote nothing).
fn stderr_part(plugin: &str, stderr: &str) -> String {
    let s = stderr.trim_end();
    if s.is_empty() {
        String::new()
    } else {
        format!("\n\nOutput from the {plugin} plugin:\n\n{s}")
    }
}

impl Drop for PluginProvider {
    fn drop(&mut self) {
        let mut procs: Vec<Arc<ProviderProcess>> = self
            .first
            .get_mut()
            .ok()
            .and_then(Option::take)
            .into_iter()
            .collect();
        if let Ok(mut m) = self.configured.lock() {
            procs.extend(
                std::mem::take(&mut *m)
                    .into_values()
                    .filter_map(|slot| slot.get().cloned()),
            );
        }
        // The first process may also serve a configuration: keep one handle of each.
        procs.sort_by_key(|p| Arc::as_ptr(p) as usize);
        procs.dedup_by(|a, b| Arc::ptr_eq(a, b));
        let stoppable: Vec<ProviderProcess> = procs
            .into_iter()
            .filter_map(|p| Arc::try_unwrap(p).ok())
            .collect();
        if stoppable.is_empty() {
            return;
        }
        // Side by side, each bounded: a provider that does not answer the stop requests is
        // killed when its handle is dropped with the timed-out future.
        self.host.block_on(async move {
            let stops: Vec<_> = stoppable
                .into_iter()
                .map(|p| {
                    tokio::spawn(async move {
                        let _ = tokio::time::timeout(STOP_GRACE * 2, p.stop(STOP_GRACE)).await;
                    })
                })
                .collect();
            for s in stops {
                let _ = s.await;
            }
        });
    }
}

impl PluginProvider {
    /// The first process, or a fresh unconfigured one when it was forgotten.
    fn first_process(&self) -> Result<Arc<ProviderProcess>, PluginError> {
        if let Some(p) = self.first.lock().ok().and_then(|f| f.clone()) {
            return Ok(p);
        }
        let p = Arc::new(self.host.block_on(ProviderProcess::start(&self.opts))?);
        if let Ok(mut f) = self.first.lock() {
            *f = Some(p.clone());
        }
        Ok(p)
    }

    /// Forgets a process that crashed or hung: its configuration's next call, or the next
    /// validation or function call, starts a fresh one; this one is killed once unused.
    fn forget(&self, p: &Arc<ProviderProcess>) {
        if let Ok(mut m) = self.configured.lock() {
            m.retain(|_, slot| !slot.get().is_some_and(|q| Arc::ptr_eq(q, p)));
        }
        if let Ok(mut f) = self.first.lock() {
            if f.as_ref().is_some_and(|q| Arc::ptr_eq(q, p)) {
                *f = None;
            }
        }
    }

    /// A validation call on the first (unconfigured) process, its diagnostics as Baton's.
    fn validate<F>(&self, f: impl FnOnce(Arc<ProviderProcess>) -> F) -> Vec<AttrDiag>
    where
        F: Future<Output = Result<Vec<Diagnostic>, PluginError>> + Send,
    {
        let p = match self.first_process() {
            Ok(p) => p,
            Err(e) => return attr_diags(Err(e), self),
        };
        let r = self.host.block_on(f(p.clone()));
        if r.as_ref().is_err_and(PluginError::is_retryable) {
            self.forget(&p);
        }
        attr_diags(r, self)
    }
}

/// A managed resource type of a plugin.
struct PluginResource {
    provider: Arc<PluginProvider>,
    name: &'static str,
    schema: Schema,
}

impl ResourceType for PluginResource {
    fn type_name(&self) -> &'static str {
        self.name
    }

    fn schema(&self) -> &Schema {
        &self.schema
    }

    fn validate(&self, config: &Value) -> Vec<AttrDiag> {
        self.provider
            .validate(|p| async move { p.validate_resource_config(self.name, config).await })
    }

    fn plan(&self, req: baton_provider::PlanRequest<'_>) -> Result<PlanResponse, ProviderError> {
        let ty = self.schema.object_type();
        let prior = req
            .prior
            .cloned()
            .unwrap_or_else(|| Value::null(ty.clone()));
        let planned = self.provider.call(req.ctx, |p| async move {
            p.plan_resource_change(process::PlanRequest {
                type_name: self.name,
                prior: &prior,
                proposed: &req.proposed,
                config: req.config,
                prior_private: &[],
            })
            .await
        })?;
        write_only_null(
            &self.schema,
            &planned.planned,
            self.name,
            "plan",
            "during planning",
        )?;
        Ok(PlanResponse {
            planned: planned.planned,
            requires_replace: planned.requires_replace,
            warnings: planned.warnings.into_iter().map(warning).collect(),
        })
    }

    fn apply(&self, req: ApplyRequest<'_>) -> Result<Option<Value>, ProviderError> {
        let ty = self.schema.object_type();
        let null = Value::null(ty.clone());
        let prior = req.prior.unwrap_or(&null);
        let planned = req.planned.unwrap_or(&null);
        let config = if req.planned.is_some() {
            req.config
        } else {
            &null
        };
        let applied = self.provider.call(req.ctx, |p| async move {
            p.apply_resource_change(process::ApplyRequest {
                type_name: self.name,
                prior,
                planned,
                config,
                planned_private: &[],
            })
            .await
        })?;
        write_only_null(
            &self.schema,
            &applied.new_state,
            self.name,
            "object",
            "after apply",
        )?;
        Ok((!applied.new_state.is_null()).then_some(applied.new_state))
    }

    fn read(&self, ctx: &ProviderCtx, state: &Value) -> Result<Option<Value>, ProviderError> {
        let (now, _private) = self.provider.call(ctx, |p| async move {
            p.read_resource(self.name, state, &[]).await
        })?;
        Ok((!now.is_null()).then_some(now))
    }

    fn upgrade(
        &self,
        ctx: &ProviderCtx,
        version: u32,
        prior: &Value,
    ) -> Result<Value, ProviderError> {
        // The provider reads the object as Terraform's state file holds it: plain JSON.
        let json = prior.to_json().to_string().into_bytes();
        self.provider.call(ctx, |p| async move {
            p.upgrade_resource_state(self.name, i64::from(version), &json)
                .await
        })
    }

    fn move_from(&self, ctx: &ProviderCtx, source: MoveSource<'_>) -> Result<Value, ProviderError> {
        if !self.provider.schema.move_resource_state {
            return Err(ProviderError::permanent(
                "Unsupported `moved` across resource types",
                format!(
                    "The provider \"{}\" does not support moved operations across resource types and providers.",
                    self.provider.info.source
                ),
            ));
        }
        let json = source.state.to_json().to_string().into_bytes();
        let from = process::MoveSource {
            provider: source.provider,
            type_name: source.type_name,
            schema_version: i64::from(source.schema_version),
            json: &json,
        };
        self.provider.call(ctx, |p| async move {
            p.move_resource_state(&from, self.name).await
        })
    }

    fn import(&self, ctx: &ProviderCtx, id: &str) -> Result<Value, ProviderError> {
        let found = self.provider.call(ctx, |p| async move {
            let objects = p.import_resource_state(self.name, id).await?;
            match objects.into_iter().find(|o| o.type_name == self.name) {
                Some(o) => Ok(Some(
                    p.read_resource(self.name, &o.state, &o.private).await?.0,
                )),
                None => Ok(None),
            }
        })?;
        match found {
            Some(v) if !v.is_null() => Ok(v),
            _ => Err(ProviderError::permanent(
                "Cannot import non-existent remote object",
                format!(
                    "While attempting to import an existing object to \"{}\", the provider detected that no object exists with the given id. Only pre-existing objects can be imported; check that the id is correct and that it is associated with the provider's configured region or endpoint, or use \"baton apply\" to create a new remote object for this resource.",
                    self.name
                ),
            )),
        }
    }
}

/// A provider-defined function of a plugin. Functions need no configuration: they are called
/// on the first process.
struct PluginFunction {
    provider: Arc<PluginProvider>,
    name: String,
    signature: Signature,
}

impl ProviderFunction for PluginFunction {
    fn signature(&self) -> Signature {
        self.signature.clone()
    }

    fn call(&self, args: &[Value]) -> Result<Value, FnError> {
        let p = self
            .provider
            .first_process()
            .map_err(|e| FnError::new(self.provider.error(e).detail))?;
        let r = self
            .provider
            .host
            .block_on(p.call_function(&self.name, args));
        if r.as_ref().is_err_and(PluginError::is_retryable) {
            self.provider.forget(&p);
        }
        match r {
            Ok(v) => Ok(v),
            Err(PluginError::Function { text, argument, .. }) => {
                Err(match argument.and_then(|a| usize::try_from(a).ok()) {
                    Some(i) => FnError::arg(i, text),
                    None => FnError::new(text),
                })
            }
            Err(e) => Err(FnError::new(self.provider.error(e).detail)),
        }
    }
}

fn signature(s: &crate::schema::FunctionSignature) -> Signature {
    let param = |(name, ty, allow_null): &(String, Type, bool)| Param {
        name: name.clone(),
        ty: ty.clone(),
        allow_null: *allow_null,
    };
    Signature {
        params: s.params.iter().map(param).collect(),
        variadic: s.variadic.as_ref().map(|(name, ty)| Param {
            name: name.clone(),
            ty: ty.clone(),
            allow_null: false,
        }),
        ret: s.ret.clone(),
    }
}

/// A data source of a plugin.
struct PluginDataSource {
    provider: Arc<PluginProvider>,
    name: &'static str,
    schema: Schema,
}

impl DataSourceType for PluginDataSource {
    fn type_name(&self) -> &'static str {
        self.name
    }

    fn schema(&self) -> &Schema {
        &self.schema
    }

    fn validate(&self, config: &Value) -> Vec<AttrDiag> {
        self.provider
            .validate(|p| async move { p.validate_data_source_config(self.name, config).await })
    }

    fn read(&self, ctx: &ProviderCtx, config: &Value) -> Result<Value, ProviderError> {
        self.provider.call(ctx, |p| async move {
            p.read_data_source(self.name, config).await
        })
    }
}

fn attr_diags(r: Result<Vec<Diagnostic>, PluginError>, p: &PluginProvider) -> Vec<AttrDiag> {
    match r {
        Ok(diags) => diags
            .into_iter()
            .map(|d| AttrDiag {
                attr: d.attribute,
                error: d.error,
                summary: d.summary,
                detail: d.detail,
            })
            .collect(),
        Err(e) => {
            let e = p.error(e);
            vec![AttrDiag::error(e.attr.as_deref(), e.summary, e.detail)]
        }
    }
}

/// Terraform's check of a provider's answer: a write-only attribute is null in what it plans
/// and returns (its value lives in the configuration only).
fn write_only_null(
    schema: &Schema,
    v: &Value,
    type_name: &str,
    what: &str,
    when: &str,
) -> Result<(), ProviderError> {
    for (name, _) in schema.attrs.iter().filter(|(_, a)| a.write_only) {
        if v.get_attr(name).is_some_and(|x| !x.is_null()) {
            return Err(ProviderError::permanent(
                format!("Provider produced invalid {what}"),
                format!(
                    "The provider returned a value for the write-only attribute \"{type_name}.{name}\" {when}. Write-only attributes cannot be read back from the provider. This is a bug in the provider, which should be reported in the provider's own issue tracker."
                ),
            ));
        }
    }
    Ok(())
}

fn warning(d: Diagnostic) -> PlanWarning {
    PlanWarning {
        summary: d.summary,
        detail: d.detail,
    }
}

/// An object of type `ty` with every attribute null (a provider block left out).
fn null_object(ty: &Type) -> Value {
    match ty {
        Type::Object(attrs) => Value::object(
            attrs
                .attrs
                .iter()
                .map(|(k, t)| (k.clone(), Value::null(t.clone())))
                .collect(),
        ),
        other => Value::null(other.clone()),
    }
}

/// `s` as a `&'static str`, stored once per distinct string for the life of the process: the
/// provider contract names types and providers with static strings, and a plugin's names are
/// known only at run time. The set grows with the distinct names seen, not with runs.
pub fn intern(s: &str) -> &'static str {
    static SET: OnceLock<Mutex<BTreeSet<&'static str>>> = OnceLock::new();
    let set = SET.get_or_init(|| Mutex::new(BTreeSet::new()));
    let Ok(mut set) = set.lock() else {
        return Box::leak(s.to_string().into_boxed_str());
    };
    if let Some(found) = set.get(s) {
        return found;
    }
    let leaked: &'static str = Box::leak(s.to_string().into_boxed_str());
    set.insert(leaked);
    leaked
}
