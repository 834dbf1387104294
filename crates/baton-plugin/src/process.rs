//! One running provider plugin: spawned with go-plugin's environment, its handshake read from
//! stdout, its stderr captured, a gRPC channel over its Unix socket with pinned mTLS, and the
//! RPCs Baton uses, for protocol 6 and 5.
//!
//! The child is killed when the [`ProviderProcess`] is dropped (after [`ProviderProcess::stop`]
//! asks it to stop politely). Must not print or log the provider's output itself: stderr is kept
//! for errors.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use magma_protocol::{tfplugin5 as pb5, tfplugin6 as pb6};
use tokio::io::{AsyncBufReadExt, AsyncReadExt, BufReader};
use tokio::process::{Child, Command};
use tonic::transport::{Channel, Endpoint, Uri};

use crate::handshake::{self, Network, Protocol};
use crate::msgpack;
use crate::schema::{self, FunctionSignature, IntoSignature, ProviderSchema};
use crate::wire::{FromMsgpack, IntoDiagnostics, IntoParts, IntoPath};
use crate::{tls, PluginError};
use baton_eval::{PathStep, Type, Value};

const MAGIC_COOKIE_KEY: &str = "TF_PLUGIN_MAGIC_COOKIE";
const MAGIC_COOKIE_VALUE: &str = "d602bf8f470bc67ca7faa0386276bbdd4330efaf76d1a219cb4d6991ca9872b2";
/// Keep at most this much of a provider's stderr (the end of it).
const STDERR_LIMIT: usize = 64 * 1024;

/// How to start a provider.
#[derive(Clone, Debug)]
pub struct StartOpts {
    pub executable: PathBuf,
    pub args: Vec<String>,
    /// Extra environment for the provider (on top of Baton's own and go-plugin's).
    pub env: Vec<(String, String)>,
    /// The provider's working directory (`None`: Baton's). Terraform starts providers in the
    /// root module's directory (after `-chdir`), where relative paths in their arguments land.
    pub cwd: Option<PathBuf>,
    /// How long the provider may take to print its handshake line.
    pub handshake_timeout: Duration,
    /// How long one call may take (`None`: no limit). A provider that timed out is stuck:
    /// stop it.
    pub call_timeout: Option<Duration>,
}

impl StartOpts {
    pub fn new(executable: impl Into<PathBuf>) -> StartOpts {
        StartOpts {
            executable: executable.into(),
            args: Vec::new(),
            env: Vec::new(),
            cwd: None,
            handshake_timeout: Duration::from_secs(30),
            call_timeout: None,
        }
    }
}

/// A started provider plugin and its connection.
pub struct ProviderProcess {
    path: PathBuf,
    /// Locked only to wait for or kill the process; calls run side by side.
    child: tokio::sync::Mutex<Child>,
    stderr: Arc<Mutex<String>>,
    protocol: Protocol,
    channel: Channel,
    /// The schema, once asked for; the value RPCs need its types.
    schema: tokio::sync::OnceCell<ProviderSchema>,
    /// The functions, once asked for (from the schema, else GetFunctions).
    functions: tokio::sync::OnceCell<BTreeMap<String, FunctionSignature>>,
    /// The task reading stderr; it ends when the provider's stderr closes.
    stderr_done: Mutex<Option<tokio::task::JoinHandle<()>>>,
    call_timeout: Option<Duration>,
}

/// What a validation call checks.
#[derive(Clone, Copy)]
enum Validate {
    Resource,
    DataSource,
    Provider,
}

/// One object an import found.
#[derive(Clone, Debug)]
pub struct Imported {
    pub type_name: String,
    pub state: Value,
    pub private: Vec<u8>,
}

/// How a stopped provider ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Ended {
    /// It exited by itself after the shutdown request.
    Exited,
    /// It was still running after the grace period and was killed.
    Killed,
}

/// A PlanResourceChange call. `prior` is null for a create, `proposed` null for a destroy.
pub struct PlanRequest<'a> {
    pub type_name: &'a str,
    pub prior: &'a Value,
    pub proposed: &'a Value,
    pub config: &'a Value,
    pub prior_private: &'a [u8],
}

/// What the provider plans.
#[derive(Clone, Debug)]
pub struct PlannedChange {
    pub planned: Value,
    pub requires_replace: Vec<Vec<PathStep>>,
    pub private: Vec<u8>,
    pub warnings: Vec<schema::Diagnostic>,
}

/// An ApplyResourceChange call. `planned` null destroys.
pub struct ApplyRequest<'a> {
    pub type_name: &'a str,
    pub prior: &'a Value,
    pub planned: &'a Value,
    pub config: &'a Value,
    pub planned_private: &'a [u8],
}

/// The object a MoveResourceState call moves: where it comes from and its state as JSON.
pub struct MoveSource<'a> {
    /// The source provider's address (`registry.terraform.io/hashicorp/aws`).
    pub provider: &'a str,
    pub type_name: &'a str,
    pub schema_version: i64,
    pub json: &'a [u8],
}

/// The object after an apply (null after a destroy) and the provider's private data.
#[derive(Clone, Debug)]
pub struct AppliedChange {
    pub new_state: Value,
    pub private: Vec<u8>,
    pub warnings: Vec<schema::Diagnostic>,
}

/// The same call in protocol 6 or 5: `$pb` names the wire module and `$client` the client in
/// `$body`, whose message shapes are identical in both versions.
macro_rules! per_protocol {
    ($self:ident, |$pb:ident, $client:ident| $body:expr) => {
        match $self.protocol {
            Protocol::V6 => {
                use magma_protocol::tfplugin6 as $pb;
                #[allow(unused_mut)]
                let mut $client = $pb::provider_client::ProviderClient::new($self.channel.clone())
                    .max_decoding_message_size(usize::MAX);
                $body
            }
            Protocol::V5 => {
                use magma_protocol::tfplugin5 as $pb;
                #[allow(unused_mut)]
                let mut $client = $pb::provider_client::ProviderClient::new($self.channel.clone())
                    .max_decoding_message_size(usize::MAX);
                $body
            }
        }
    };
}

/// One protocol call of a [`ProviderProcess`]: `$fut` bounded by the process's call
/// timeout (named `$name` in the error), and on failure the provider's whole stderr read into
/// the error.
macro_rules! bounded_call {
    ($self:ident, $name:literal, $fut:expr) => {{
        let limit = $self.call_timeout;
        let r = timed(limit, $name, $fut).await;
        $self.with_full_stderr(r).await
    }};
}

impl ProviderProcess {
    /// Starts the provider and completes the handshake and the connection.
    pub async fn start(opts: &StartOpts) -> Result<ProviderProcess, PluginError> {
        let path = opts.executable.clone();
        let identity = tls::client_identity()?;
        let mut cmd = Command::new(&path);
        if let Some(dir) = &opts.cwd {
            cmd.current_dir(dir);
        }
        cmd.args(&opts.args)
            .envs(opts.env.iter().map(|(k, v)| (k, v)))
            .env(MAGIC_COOKIE_KEY, MAGIC_COOKIE_VALUE)
            .env("PLUGIN_PROTOCOL_VERSIONS", "5,6")
            .env("PLUGIN_CLIENT_CERT", &identity.cert_pem)
            .stdin(std::process::Stdio::null())
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .kill_on_drop(true);
        let mut child = cmd.spawn().map_err(|source| PluginError::Spawn {
            path: path.clone(),
            source,
        })?;

        let stderr = Arc::new(Mutex::new(String::new()));
        let stderr_done = child.stderr.take().map(|pipe| {
            let sink = stderr.clone();
            tokio::spawn(collect_stderr(pipe, sink))
        });
        let Some(stdout) = child.stdout.take() else {
            return Err(PluginError::Crashed {
                path,
                status: "no stdout pipe".to_string(),
                stderr: String::new(),
            });
        };
        let mut lines = BufReader::new(stdout);
        let mut line = String::new();
        let read = tokio::time::timeout(opts.handshake_timeout, lines.read_line(&mut line)).await;
        match read {
            Err(_) => {
                let _ = finish(&mut child, stderr_done).await;
                return Err(PluginError::HandshakeTimeout {
                    path,
                    seconds: opts.handshake_timeout.as_secs(),
                    stderr: snapshot(&stderr),
                });
            }
            Ok(Err(_)) | Ok(Ok(0)) => {
                let status = finish(&mut child, stderr_done).await;
                return Err(PluginError::Crashed {
                    path,
                    status,
                    stderr: snapshot(&stderr),
                });
            }
            Ok(Ok(_)) => {}
        }
        let hs = match handshake::parse(&line) {
            Ok(hs) => hs,
            Err(reason) => {
                let _ = finish(&mut child, stderr_done).await;
                return Err(PluginError::BadHandshake {
                    path,
                    line: line.trim_end().to_string(),
                    reason,
                    stderr: snapshot(&stderr),
                });
            }
        };
        // Keep draining stdout so a chatty provider never blocks on a full pipe.
        tokio::spawn(async move {
            let mut sink = Vec::new();
            let _ = lines.read_to_end(&mut sink).await;
        });

        let channel = connect(&path, &hs, &identity).await?;
        Ok(ProviderProcess {
            path,
            child: tokio::sync::Mutex::new(child),
            stderr,
            protocol: hs.protocol,
            channel,
            schema: tokio::sync::OnceCell::new(),
            functions: tokio::sync::OnceCell::new(),
            stderr_done: Mutex::new(stderr_done),
            call_timeout: opts.call_timeout,
        })
    }

    /// The protocol version the provider chose.
    pub fn protocol(&self) -> Protocol {
        self.protocol
    }

    /// What the provider has written to stderr so far (its last 64 KiB).
    pub fn stderr(&self) -> String {
        snapshot(&self.stderr)
    }

    pub fn executable(&self) -> &Path {
        &self.path
    }

    /// GetProviderSchema (protocol 6) or GetSchema (protocol 5), converted; asked once.
    pub async fn schema(&self) -> Result<&ProviderSchema, PluginError> {
        self.schema.get_or_try_init(|| self.fetch_schema()).await
    }

    async fn fetch_schema(&self) -> Result<ProviderSchema, PluginError> {
        bounded_call!(self, "GetProviderSchema", self.fetch_schema_call())
    }

    /// ConfigureProvider (v6) / Configure (v5) with the `provider` block's value.
    pub async fn configure(&self, config: &Value) -> Result<Vec<schema::Diagnostic>, PluginError> {
        bounded_call!(self, "ConfigureProvider", self.configure_call(config))
    }

    /// PlanResourceChange.
    pub async fn plan_resource_change(
        &self,
        req: PlanRequest<'_>,
    ) -> Result<PlannedChange, PluginError> {
        bounded_call!(self, "PlanResourceChange", self.plan_call(req))
    }

    /// ApplyResourceChange.
    pub async fn apply_resource_change(
        &self,
        req: ApplyRequest<'_>,
    ) -> Result<AppliedChange, PluginError> {
        bounded_call!(self, "ApplyResourceChange", self.apply_call(req))
    }

    /// ReadResource: the object as it is now (null when it is gone) and the private data.
    pub async fn read_resource(
        &self,
        type_name: &str,
        current: &Value,
        private: &[u8],
    ) -> Result<(Value, Vec<u8>), PluginError> {
        bounded_call!(
            self,
            "ReadResource",
            self.read_resource_call(type_name, current, private)
        )
    }

    /// ReadDataSource.
    pub async fn read_data_source(
        &self,
        type_name: &str,
        config: &Value,
    ) -> Result<Value, PluginError> {
        bounded_call!(
            self,
            "ReadDataSource",
            self.read_data_source_call(type_name, config)
        )
    }

    /// ImportResourceState: the objects an import id stands for (usually one), each with its
    /// type name and private data, to be read (ReadResource) before they go to state.
    pub async fn import_resource_state(
        &self,
        type_name: &str,
        id: &str,
    ) -> Result<Vec<Imported>, PluginError> {
        bounded_call!(self, "ImportResourceState", self.import_call(type_name, id))
    }

    /// UpgradeResourceState: an object stored as JSON under schema `version` (Terraform's
    /// state `attributes`), as a value of the current schema.
    pub async fn upgrade_resource_state(
        &self,
        type_name: &str,
        version: i64,
        json: &[u8],
    ) -> Result<Value, PluginError> {
        bounded_call!(
            self,
            "UpgradeResourceState",
            self.upgrade_call(type_name, version, json)
        )
    }

    /// MoveResourceState: an object of another resource type (`source`, its state as
    /// Terraform's state JSON) as an object of type `target`.
    pub async fn move_resource_state(
        &self,
        source: &MoveSource<'_>,
        target: &str,
    ) -> Result<Value, PluginError> {
        bounded_call!(self, "MoveResourceState", self.move_call(source, target))
    }

    /// ValidateResourceConfig (v6) / ValidateResourceTypeConfig (v5): the provider's own checks
    /// of a configuration. Returns its diagnostics, errors included (they are the answer, not
    /// a failure of the call).
    pub async fn validate_resource_config(
        &self,
        type_name: &str,
        config: &Value,
    ) -> Result<Vec<schema::Diagnostic>, PluginError> {
        bounded_call!(
            self,
            "ValidateResourceConfig",
            self.validate_call(Validate::Resource, type_name, config)
        )
    }

    /// ValidateDataResourceConfig (v6) / ValidateDataSourceConfig (v5), as
    /// [`ProviderProcess::validate_resource_config`].
    pub async fn validate_data_source_config(
        &self,
        type_name: &str,
        config: &Value,
    ) -> Result<Vec<schema::Diagnostic>, PluginError> {
        bounded_call!(
            self,
            "ValidateDataResourceConfig",
            self.validate_call(Validate::DataSource, type_name, config)
        )
    }

    /// ValidateProviderConfig (v6) / PrepareProviderConfig (v5) of the `provider` block.
    pub async fn validate_provider_config(
        &self,
        config: &Value,
    ) -> Result<Vec<schema::Diagnostic>, PluginError> {
        bounded_call!(
            self,
            "ValidateProviderConfig",
            self.validate_call(Validate::Provider, "", config)
        )
    }

    /// The provider's functions (`provider::NAME::FN`) and their signatures: those
    /// GetProviderSchema lists, or, when it lists none, GetFunctions' (a provider without
    /// functions may answer it Unimplemented: no functions). Asked once.
    pub async fn get_functions(&self) -> Result<&BTreeMap<String, FunctionSignature>, PluginError> {
        self.functions
            .get_or_try_init(|| async {
                let from_schema = &self.schema().await?.functions;
                if !from_schema.is_empty() {
                    return Ok(from_schema.clone());
                }
                bounded_call!(self, "GetFunctions", self.get_functions_call())
            })
            .await
    }

    /// CallFunction: `args` encoded with the parameter types (the variadic parameter's for the
    /// arguments past the positional ones), the result decoded with the return type. A
    /// function's refusal is [`PluginError::Function`].
    pub async fn call_function(&self, name: &str, args: &[Value]) -> Result<Value, PluginError> {
        let Some(sig) = self.get_functions().await?.get(name) else {
            return Err(PluginError::UnknownFunction {
                path: self.path.clone(),
                name: name.to_string(),
            });
        };
        bounded_call!(
            self,
            "CallFunction",
            self.call_function_call(name, sig, args)
        )
    }

    /// A failed call may mean the provider died: then wait (briefly) for it to end and for its
    /// stderr to be read to the end, so the error carries all it said.
    async fn with_full_stderr<T>(&self, r: Result<T, PluginError>) -> Result<T, PluginError> {
        match r {
            Err(PluginError::CallTimeout {
                method, seconds, ..
            }) => Err(PluginError::CallTimeout {
                method,
                seconds,
                stderr: self.stderr(),
            }),
            Err(PluginError::Rpc { method, status, .. }) => {
                let exited = {
                    let mut child = self.child.lock().await;
                    matches!(
                        tokio::time::timeout(Duration::from_millis(500), child.wait()).await,
                        Ok(Ok(_))
                    )
                };
                if exited {
                    let done = self.stderr_done.lock().ok().and_then(|mut d| d.take());
                    if let Some(done) = done {
                        let _ = tokio::time::timeout(Duration::from_secs(1), done).await;
                    }
                }
                Err(PluginError::Rpc {
                    method,
                    status,
                    stderr: self.stderr(),
                })
            }
            other => other,
        }
    }

    async fn fetch_schema_call(&self) -> Result<ProviderSchema, PluginError> {
        const METHOD: &str = "GetProviderSchema";
        let invalid = |e: schema::SchemaError| PluginError::InvalidResponse {
            method: METHOD,
            detail: e.0,
        };
        match self.protocol {
            Protocol::V6 => {
                let mut c = pb6::provider_client::ProviderClient::new(self.channel.clone())
                    .max_decoding_message_size(usize::MAX);
                let r = c
                    .get_provider_schema(pb6::get_provider_schema::Request {})
                    .await
                    .map_err(|s| self.rpc_error(METHOD, s))?
                    .into_inner();
                let diags = r.diagnostics.clone().into_diagnostics();
                check(METHOD, diags)?;
                ProviderSchema::from_v6(r).map_err(invalid)
            }
            Protocol::V5 => {
                let mut c = pb5::provider_client::ProviderClient::new(self.channel.clone())
                    .max_decoding_message_size(usize::MAX);
                let r = c
                    .get_schema(pb5::get_provider_schema::Request {})
                    .await
                    .map_err(|s| self.rpc_error(METHOD, s))?
                    .into_inner();
                let diags = r.diagnostics.clone().into_diagnostics();
                check(METHOD, diags)?;
                ProviderSchema::from_v5(r).map_err(invalid)
            }
        }
    }

    async fn get_functions_call(&self) -> Result<BTreeMap<String, FunctionSignature>, PluginError> {
        const METHOD: &str = "GetFunctions";
        let invalid = |e: schema::SchemaError| PluginError::InvalidResponse {
            method: METHOD,
            detail: e.0,
        };
        per_protocol!(self, |pb, c| {
            let r = match c.get_functions(pb::get_functions::Request {}).await {
                Ok(r) => r.into_inner(),
                Err(status) if status.code() == tonic::Code::Unimplemented => {
                    return Ok(BTreeMap::new());
                }
                Err(status) => return Err(self.rpc_error(METHOD, status)),
            };
            check(METHOD, r.diagnostics.into_diagnostics())?;
            let mut out = BTreeMap::new();
            for (name, f) in r.functions {
                let sig = f.into_signature(&name).map_err(invalid)?;
                out.insert(name, sig);
            }
            Ok(out)
        })
    }

    async fn call_function_call(
        &self,
        name: &str,
        sig: &FunctionSignature,
        args: &[Value],
    ) -> Result<Value, PluginError> {
        const METHOD: &str = "CallFunction";
        let fail = |text: String| PluginError::Function {
            name: name.to_string(),
            text,
            argument: None,
        };
        if args.len() < sig.params.len()
            || (sig.variadic.is_none() && args.len() > sig.params.len())
        {
            return Err(fail(format!(
                "takes {}{} arguments, not {}",
                sig.params.len(),
                if sig.variadic.is_some() {
                    " or more"
                } else {
                    ""
                },
                args.len()
            )));
        }
        let mut encoded = Vec::with_capacity(args.len());
        for (i, arg) in args.iter().enumerate() {
            let ty = match (sig.params.get(i), &sig.variadic) {
                (Some((_, ty, _)), _) | (None, Some((_, ty))) => ty,
                (None, None) => return Err(fail("too many arguments".to_string())),
            };
            encoded.push(self.encode(METHOD, arg, ty)?);
        }
        let (result, error) = per_protocol!(self, |pb, c| {
            let r = c
                .call_function(pb::call_function::Request {
                    name: name.to_string(),
                    arguments: encoded
                        .into_iter()
                        .map(pb::DynamicValue::from_msgpack)
                        .collect(),
                })
                .await
                .map_err(|s| self.rpc_error(METHOD, s))?
                .into_inner();
            (
                r.result.map(IntoParts::into_parts).unwrap_or_default(),
                r.error.map(|e| (e.text, e.function_argument)),
            )
        });
        if let Some((text, argument)) = error {
            return Err(PluginError::Function {
                name: name.to_string(),
                text,
                argument,
            });
        }
        self.decode(METHOD, &result, &sig.ret)
    }

    async fn configure_call(&self, config: &Value) -> Result<Vec<schema::Diagnostic>, PluginError> {
        const METHOD: &str = "ConfigureProvider";
        let ty = self.schema().await?.provider.to_baton().object_type();
        let config = self.encode(METHOD, config, &ty)?;
        let diags = match self.protocol {
            Protocol::V6 => pb6::provider_client::ProviderClient::new(self.channel.clone())
                .configure_provider(pb6::configure_provider::Request {
                    config: Some(pb6::DynamicValue::from_msgpack(config)),
                    ..Default::default()
                })
                .await
                .map_err(|s| self.rpc_error(METHOD, s))?
                .into_inner()
                .diagnostics
                .into_diagnostics(),
            Protocol::V5 => pb5::provider_client::ProviderClient::new(self.channel.clone())
                .configure(pb5::configure::Request {
                    config: Some(pb5::DynamicValue::from_msgpack(config)),
                    ..Default::default()
                })
                .await
                .map_err(|s| self.rpc_error(METHOD, s))?
                .into_inner()
                .diagnostics
                .into_diagnostics(),
        };
        warnings(METHOD, diags)
    }

    async fn plan_call(&self, req: PlanRequest<'_>) -> Result<PlannedChange, PluginError> {
        const METHOD: &str = "PlanResourceChange";
        let ty = self.object_type("resource", req.type_name).await?;
        let prior = self.encode(METHOD, req.prior, &ty)?;
        let proposed = self.encode(METHOD, req.proposed, &ty)?;
        let config = self.encode(METHOD, req.config, &ty)?;
        let (planned, requires_replace, private, diags) = per_protocol!(self, |pb, c| {
            let r = c
                .plan_resource_change(pb::plan_resource_change::Request {
                    type_name: req.type_name.to_string(),
                    prior_state: Some(pb::DynamicValue::from_msgpack(prior)),
                    proposed_new_state: Some(pb::DynamicValue::from_msgpack(proposed)),
                    config: Some(pb::DynamicValue::from_msgpack(config)),
                    prior_private: req.prior_private.to_vec(),
                    ..Default::default()
                })
                .await
                .map_err(|s| self.rpc_error(METHOD, s))?
                .into_inner();
            (
                r.planned_state
                    .map(IntoParts::into_parts)
                    .unwrap_or_default(),
                r.requires_replace
                    .into_iter()
                    .map(IntoPath::into_path)
                    .collect::<Vec<_>>(),
                r.planned_private,
                r.diagnostics.into_diagnostics(),
            )
        });
        let warnings = warnings(METHOD, diags)?;
        Ok(PlannedChange {
            planned: self.decode(METHOD, &planned, &ty)?,
            requires_replace,
            private,
            warnings,
        })
    }

    async fn apply_call(&self, req: ApplyRequest<'_>) -> Result<AppliedChange, PluginError> {
        const METHOD: &str = "ApplyResourceChange";
        let ty = self.object_type("resource", req.type_name).await?;
        let prior = self.encode(METHOD, req.prior, &ty)?;
        let planned = self.encode(METHOD, req.planned, &ty)?;
        let config = self.encode(METHOD, req.config, &ty)?;
        let (new_state, private, diags) = per_protocol!(self, |pb, c| {
            let r = c
                .apply_resource_change(pb::apply_resource_change::Request {
                    type_name: req.type_name.to_string(),
                    prior_state: Some(pb::DynamicValue::from_msgpack(prior)),
                    planned_state: Some(pb::DynamicValue::from_msgpack(planned)),
                    config: Some(pb::DynamicValue::from_msgpack(config)),
                    planned_private: req.planned_private.to_vec(),
                    ..Default::default()
                })
                .await
                .map_err(|s| self.rpc_error(METHOD, s))?
                .into_inner();
            (
                r.new_state.map(IntoParts::into_parts).unwrap_or_default(),
                r.private,
                r.diagnostics.into_diagnostics(),
            )
        });
        let warnings = warnings(METHOD, diags)?;
        Ok(AppliedChange {
            new_state: self.decode(METHOD, &new_state, &ty)?,
            private,
            warnings,
        })
    }

    async fn read_resource_call(
        &self,
        type_name: &str,
        current: &Value,
        private: &[u8],
    ) -> Result<(Value, Vec<u8>), PluginError> {
        const METHOD: &str = "ReadResource";
        let ty = self.object_type("resource", type_name).await?;
        let current = self.encode(METHOD, current, &ty)?;
        let (state, private, diags) = per_protocol!(self, |pb, c| {
            let r = c
                .read_resource(pb::read_resource::Request {
                    type_name: type_name.to_string(),
                    current_state: Some(pb::DynamicValue::from_msgpack(current)),
                    private: private.to_vec(),
                    ..Default::default()
                })
                .await
                .map_err(|s| self.rpc_error(METHOD, s))?
                .into_inner();
            (
                r.new_state.map(IntoParts::into_parts).unwrap_or_default(),
                r.private,
                r.diagnostics.into_diagnostics(),
            )
        });
        warnings(METHOD, diags)?;
        Ok((self.decode(METHOD, &state, &ty)?, private))
    }

    async fn read_data_source_call(
        &self,
        type_name: &str,
        config: &Value,
    ) -> Result<Value, PluginError> {
        const METHOD: &str = "ReadDataSource";
        let ty = self.object_type("data source", type_name).await?;
        let config = self.encode(METHOD, config, &ty)?;
        let (state, diags) = per_protocol!(self, |pb, c| {
            let r = c
                .read_data_source(pb::read_data_source::Request {
                    type_name: type_name.to_string(),
                    config: Some(pb::DynamicValue::from_msgpack(config)),
                    ..Default::default()
                })
                .await
                .map_err(|s| self.rpc_error(METHOD, s))?
                .into_inner();
            (
                r.state.map(IntoParts::into_parts).unwrap_or_default(),
                r.diagnostics.into_diagnostics(),
            )
        });
        warnings(METHOD, diags)?;
        self.decode(METHOD, &state, &ty)
    }

    async fn import_call(&self, type_name: &str, id: &str) -> Result<Vec<Imported>, PluginError> {
        const METHOD: &str = "ImportResourceState";
        let (imported, diags) = per_protocol!(self, |pb, c| {
            let r = c
                .import_resource_state(pb::import_resource_state::Request {
                    type_name: type_name.to_string(),
                    id: id.to_string(),
                    ..Default::default()
                })
                .await
                .map_err(|s| self.rpc_error(METHOD, s))?
                .into_inner();
            (
                r.imported_resources
                    .into_iter()
                    .map(|i| {
                        (
                            i.type_name,
                            i.state.map(IntoParts::into_parts).unwrap_or_default(),
                            i.private,
                        )
                    })
                    .collect::<Vec<_>>(),
                r.diagnostics.into_diagnostics(),
            )
        });
        warnings(METHOD, diags)?;
        let mut out = Vec::new();
        for (type_name, state, private) in imported {
            let ty = self.object_type("resource", &type_name).await?;
            out.push(Imported {
                state: self.decode(METHOD, &state, &ty)?,
                type_name,
                private,
            });
        }
        Ok(out)
    }

    async fn upgrade_call(
        &self,
        type_name: &str,
        version: i64,
        json: &[u8],
    ) -> Result<Value, PluginError> {
        const METHOD: &str = "UpgradeResourceState";
        let ty = self.object_type("resource", type_name).await?;
        let (state, diags) = per_protocol!(self, |pb, c| {
            let r = c
                .upgrade_resource_state(pb::upgrade_resource_state::Request {
                    type_name: type_name.to_string(),
                    version,
                    raw_state: Some(pb::RawState {
                        json: json.to_vec(),
                        ..Default::default()
                    }),
                })
                .await
                .map_err(|s| self.rpc_error(METHOD, s))?
                .into_inner();
            (
                r.upgraded_state
                    .map(IntoParts::into_parts)
                    .unwrap_or_default(),
                r.diagnostics.into_diagnostics(),
            )
        });
        warnings(METHOD, diags)?;
        self.decode(METHOD, &state, &ty)
    }

    async fn move_call(&self, source: &MoveSource<'_>, target: &str) -> Result<Value, PluginError> {
        const METHOD: &str = "MoveResourceState";
        let ty = self.object_type("resource", target).await?;
        let (state, diags) = per_protocol!(self, |pb, c| {
            let r = c
                .move_resource_state(pb::move_resource_state::Request {
                    source_provider_address: source.provider.to_string(),
                    source_type_name: source.type_name.to_string(),
                    source_schema_version: source.schema_version,
                    source_state: Some(pb::RawState {
                        json: source.json.to_vec(),
                        ..Default::default()
                    }),
                    target_type_name: target.to_string(),
                    ..Default::default()
                })
                .await
                .map_err(|s| self.rpc_error(METHOD, s))?
                .into_inner();
            (
                r.target_state
                    .map(IntoParts::into_parts)
                    .unwrap_or_default(),
                r.diagnostics.into_diagnostics(),
            )
        });
        warnings(METHOD, diags)?;
        self.decode(METHOD, &state, &ty)
    }

    async fn validate_call(
        &self,
        what: Validate,
        type_name: &str,
        config: &Value,
    ) -> Result<Vec<schema::Diagnostic>, PluginError> {
        const METHOD: &str = "Validate";
        let ty = match what {
            Validate::Resource => self.object_type("resource", type_name).await?,
            Validate::DataSource => self.object_type("data source", type_name).await?,
            Validate::Provider => self.schema().await?.provider.to_baton().object_type(),
        };
        let config = self.encode(METHOD, config, &ty)?;
        let name = type_name.to_string();
        let err = |s| self.rpc_error(METHOD, s);
        let c6 = || pb6::provider_client::ProviderClient::new(self.channel.clone());
        let c5 = || pb5::provider_client::ProviderClient::new(self.channel.clone());
        let d6 = |c: Vec<u8>| Some(pb6::DynamicValue::from_msgpack(c));
        let d5 = |c: Vec<u8>| Some(pb5::DynamicValue::from_msgpack(c));
        Ok(match (self.protocol, what) {
            (Protocol::V6, Validate::Resource) => c6()
                .validate_resource_config(pb6::validate_resource_config::Request {
                    type_name: name,
                    config: d6(config),
                    ..Default::default()
                })
                .await
                .map_err(err)?
                .into_inner()
                .diagnostics
                .into_diagnostics(),
            (Protocol::V6, Validate::DataSource) => c6()
                .validate_data_resource_config(pb6::validate_data_resource_config::Request {
                    type_name: name,
                    config: d6(config),
                })
                .await
                .map_err(err)?
                .into_inner()
                .diagnostics
                .into_diagnostics(),
            (Protocol::V6, Validate::Provider) => c6()
                .validate_provider_config(pb6::validate_provider_config::Request {
                    config: d6(config),
                })
                .await
                .map_err(err)?
                .into_inner()
                .diagnostics
                .into_diagnostics(),
            (Protocol::V5, Validate::Resource) => c5()
                .validate_resource_type_config(pb5::validate_resource_type_config::Request {
                    type_name: name,
                    config: d5(config),
                    ..Default::default()
                })
                .await
                .map_err(err)?
                .into_inner()
                .diagnostics
                .into_diagnostics(),
            (Protocol::V5, Validate::DataSource) => c5()
                .validate_data_source_config(pb5::validate_data_source_config::Request {
                    type_name: name,
                    config: d5(config),
                })
                .await
                .map_err(err)?
                .into_inner()
                .diagnostics
                .into_diagnostics(),
            (Protocol::V5, Validate::Provider) => c5()
                .prepare_provider_config(pb5::prepare_provider_config::Request {
                    config: d5(config),
                })
                .await
                .map_err(err)?
                .into_inner()
                .diagnostics
                .into_diagnostics(),
        })
    }

    async fn object_type(&self, kind: &'static str, name: &str) -> Result<Type, PluginError> {
        let schema = self.schema().await?;
        let types = if kind == "resource" {
            &schema.resources
        } else {
            &schema.data_sources
        };
        match types.get(name) {
            Some(t) => Ok(t.to_baton().object_type()),
            None => Err(PluginError::UnknownType {
                path: self.path.clone(),
                kind,
                name: name.to_string(),
            }),
        }
    }

    fn encode(&self, method: &'static str, v: &Value, ty: &Type) -> Result<Vec<u8>, PluginError> {
        msgpack::encode(v, ty).map_err(|source| PluginError::Value { method, source })
    }

    /// Decodes a DynamicValue's (msgpack, json) parts; providers may answer in either.
    fn decode(
        &self,
        method: &'static str,
        (msgpack, json): &(Vec<u8>, Vec<u8>),
        ty: &Type,
    ) -> Result<Value, PluginError> {
        let err = |source| PluginError::Value { method, source };
        if msgpack.is_empty() && !json.is_empty() {
            let j: serde_json::Value = serde_json::from_slice(json)
                .map_err(|e| err(msgpack::ValueError(format!("not JSON: {e}"))))?;
            return Value::from_json(&j, ty).map_err(|e| err(msgpack::ValueError(e)));
        }
        msgpack::decode(msgpack, ty).map_err(err)
    }

    /// Ends the provider: StopProvider (v6) / Stop (v5) to cancel what it is doing, then
    /// go-plugin's `GRPCController.Shutdown` to make it exit; a provider still running after
    /// `grace` is killed. Tells which way it ended; an error StopProvider reports is returned
    /// after the process has ended all the same.
    pub async fn stop(mut self, grace: Duration) -> Result<Ended, PluginError> {
        const METHOD: &str = "StopProvider";
        let stopped = match self.protocol {
            Protocol::V6 => pb6::provider_client::ProviderClient::new(self.channel.clone())
                .stop_provider(pb6::stop_provider::Request {})
                .await
                .map(|r| r.into_inner().error),
            Protocol::V5 => pb5::provider_client::ProviderClient::new(self.channel.clone())
                .stop(pb5::stop::Request {})
                .await
                .map(|r| r.into_inner().error),
        };
        let result = match stopped {
            Ok(err) if err.is_empty() => Ok(()),
            Ok(err) => Err(PluginError::Diagnostics {
                method: METHOD,
                diagnostics: vec![schema::Diagnostic {
                    error: true,
                    summary: err,
                    detail: String::new(),
                    attribute: None,
                }],
            }),
            // Nothing to cancel in a plugin that does not serve the provider service.
            Err(status) if status.code() == tonic::Code::Unimplemented => Ok(()),
            Err(status) => Err(self.rpc_error(METHOD, status)),
        };
        // A plugin without the controller answers Unimplemented; it is killed below.
        let _ = controller_shutdown(self.channel.clone()).await;
        drop(self.channel);
        let child = self.child.get_mut();
        let ended = match tokio::time::timeout(grace, child.wait()).await {
            Ok(Ok(_)) => Ended::Exited,
            Ok(Err(_)) | Err(_) => {
                let _ = child.kill().await;
                Ended::Killed
            }
        };
        result.map(|()| ended)
    }

    fn rpc_error(&self, method: &'static str, status: tonic::Status) -> PluginError {
        PluginError::Rpc {
            method,
            status: Box::new(status),
            stderr: snapshot(&self.stderr),
        }
    }
}

/// Runs one call under the optional time limit.
async fn timed<T>(
    limit: Option<Duration>,
    method: &'static str,
    call: impl std::future::Future<Output = Result<T, PluginError>>,
) -> Result<T, PluginError> {
    let Some(limit) = limit else {
        return call.await;
    };
    match tokio::time::timeout(limit, call).await {
        Ok(r) => r,
        Err(_) => Err(PluginError::CallTimeout {
            method,
            seconds: limit.as_secs_f64(),
            stderr: String::new(),
        }),
    }
}

/// go-plugin's `plugin.GRPCController/Shutdown(Empty) returns (Empty)`, called through
/// tonic's generic client: the messages are empty, so prost's `()` is their codec type.
async fn controller_shutdown(channel: Channel) -> Result<(), tonic::Status> {
    let mut grpc = tonic::client::Grpc::new(channel);
    grpc.ready()
        .await
        .map_err(|e| tonic::Status::unavailable(e.to_string()))?;
    grpc.unary::<(), (), _>(
        tonic::Request::new(()),
        tonic::codegen::http::uri::PathAndQuery::from_static("/plugin.GRPCController/Shutdown"),
        tonic::codec::ProstCodec::default(),
    )
    .await
    .map(|_| ())
}

/// Ends a provider that failed to start: kill it (if still running), reap it, and let the
/// stderr reader reach the end of the pipe. Returns how the process ended.
async fn finish(child: &mut Child, stderr_done: Option<tokio::task::JoinHandle<()>>) -> String {
    let _ = child.start_kill();
    let status = match child.wait().await {
        Ok(s) => s.to_string(),
        Err(e) => format!("unknown ({e})"),
    };
    if let Some(done) = stderr_done {
        // A grandchild may hold the pipe open; do not wait for it forever.
        let _ = tokio::time::timeout(Duration::from_secs(2), done).await;
    }
    status
}

/// Errors among `diags` fail the call; the warnings are returned.
fn warnings(
    method: &'static str,
    diags: Vec<schema::Diagnostic>,
) -> Result<Vec<schema::Diagnostic>, PluginError> {
    check(method, diags.clone())?;
    Ok(diags)
}

/// Errors among `diagnostics` fail the call.
pub(crate) fn check(
    method: &'static str,
    diagnostics: Vec<schema::Diagnostic>,
) -> Result<(), PluginError> {
    if diagnostics.iter().any(|d| d.error) {
        Err(PluginError::Diagnostics {
            method,
            diagnostics,
        })
    } else {
        Ok(())
    }
}

async fn connect(
    path: &Path,
    hs: &handshake::Handshake,
    identity: &tls::ClientIdentity,
) -> Result<Channel, PluginError> {
    let connect_err = |source| PluginError::Connect {
        path: path.to_path_buf(),
        source,
    };
    let tls_config = match &hs.server_cert {
        Some(cert) => Some(tls::client_config(identity, cert.clone())?),
        None => None,
    };
    let server_name = tls::server_name()?;
    let endpoint = Endpoint::from_static("http://localhost");
    // One connector for both networks: the stream, then TLS over it when the provider
    // announced a certificate.
    let network = hs.network.clone();
    let connector = tower::service_fn(move |_: Uri| {
        let network = network.clone();
        let tls_config = tls_config.clone();
        let server_name = server_name.clone();
        async move {
            let stream: Box<dyn Io> = match &network {
                Network::Unix(socket) => Box::new(tokio::net::UnixStream::connect(socket).await?),
                Network::Tcp(addr) => Box::new(tokio::net::TcpStream::connect(addr).await?),
            };
            let io: Box<dyn Io> = match tls_config {
                Some(cfg) => Box::new(
                    tokio_rustls::TlsConnector::from(cfg)
                        .connect(server_name, stream)
                        .await?,
                ),
                None => stream,
            };
            Ok::<_, std::io::Error>(hyper_util::rt::TokioIo::new(io))
        }
    });
    endpoint
        .connect_with_connector(connector)
        .await
        .map_err(connect_err)
}

trait Io: tokio::io::AsyncRead + tokio::io::AsyncWrite + Send + Unpin {}
impl<T: tokio::io::AsyncRead + tokio::io::AsyncWrite + Send + Unpin> Io for T {}

async fn collect_stderr(mut pipe: tokio::process::ChildStderr, sink: Arc<Mutex<String>>) {
    let mut buf = [0u8; 4096];
    loop {
        match pipe.read(&mut buf).await {
            Ok(0) | Err(_) => break,
            Ok(n) => {
                if let Ok(mut s) = sink.lock() {
                    s.push_str(&String::from_utf8_lossy(&buf[..n]));
                    if s.len() > STDERR_LIMIT {
                        let mut cut = s.len() - STDERR_LIMIT;
                        while !s.is_char_boundary(cut) {
                            cut += 1;
                        }
                        s.drain(..cut);
                    }
                }
            }
        }
    }
}

fn snapshot(s: &Arc<Mutex<String>>) -> String {
    s.lock().map(|s| s.clone()).unwrap_or_default()
}
