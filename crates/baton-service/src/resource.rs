//! The `service` resource type: its schema, its configuration decoded into a [`ServiceSpec`]
//! (durations parsed with errors naming the attribute; `version` a hash of everything but
//! `replicas`), and an apply that records the desired spec for the agent ([`crate::files`])
//! and then watches the agent roll it out, as `nomad job run` watches its deployment: the
//! action succeeds once the deployment is `Healthy` and fails (so the run rolls back) when it
//! ends `Failed` or `Reverted` or a deadline passes. With no agent running it fails at once and
//! changes nothing.
//!
//! Must not start, stop or check replicas itself: that is the agent's loop, in another process.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use baton_eval::{Type, Value};
use baton_provider::schema::{Attr, NestedBlock, Nesting, Schema};
use baton_provider::{
    ApplyRequest, AttrDiag, PlanRequest, PlanResponse, ProviderCtx, ProviderError, ProviderInfo,
    ResourceType,
};
use sha2::Digest as _;

use crate::handoff::{stack_name, Handoff, HandoffError};
use crate::spec::{
    CheckKind, DriverKind, HealthCheck, Limits, OnExhausted, RestartPolicy, ServiceSpec,
    UpdatePolicy,
};
use crate::supervisor::{DeploymentState, ServiceStatus};

/// The provider of the `service` type, as state records it.
pub const PROVIDER: ProviderInfo = ProviderInfo {
    name: "service",
    source: "registry.terraform.io/baton/service",
};

/// Adds the `service` type to a provider set.
pub fn register(r: &mut baton_provider::Registry) {
    r.add_resource(PROVIDER, std::sync::Arc::new(ServiceResource::new()));
}

/// How long the apply polls the agent's status between looks.
const POLL: Duration = Duration::from_millis(100);

pub struct ServiceResource {
    schema: Schema,
}

impl Default for ServiceResource {
    fn default() -> Self {
        Self::new()
    }
}

fn block(nesting: Nesting, schema: Schema) -> NestedBlock {
    NestedBlock {
        nesting,
        schema,
        min_items: 0,
        max_items: 0,
        force_new: false,
    }
}

impl ServiceResource {
    pub fn new() -> ServiceResource {
        let s = || Attr::optional(Type::String);
        let n = || Attr::optional(Type::Number);
        let health = Schema::new()
            .attr("type", Attr::required(Type::String))
            .attr("port", s())
            .attr("path", s())
            .attr("expect_status", n())
            .attr("command", Attr::optional(Type::list(Type::String)))
            .attr("interval", s())
            .attr("timeout", s())
            .attr("failure_threshold", n())
            .attr("success_threshold", n())
            .attr("grace", s())
            .attr("startup", Attr::optional(Type::Bool));
        let restart = Schema::new()
            .attr("delay", s())
            .attr("max_delay", s())
            .attr("reset_after", s())
            .attr("attempts", n())
            .attr("interval", s())
            .attr("on_exhausted", s());
        let update = Schema::new()
            .attr("max_parallel", n())
            .attr("min_healthy_time", s())
            .attr("healthy_deadline", s())
            .attr("progress_deadline", s())
            .attr("canary", n())
            .attr("auto_revert", Attr::optional(Type::Bool));
        let schema = Schema::new()
            .attr("driver", s().default(Value::string("exec")))
            .attr("command", Attr::optional(Type::list(Type::String)))
            .attr("image", s())
            .attr("env", Attr::optional(Type::map(Type::String)))
            .attr("workdir", s())
            .attr("user", s())
            .attr("replicas", n())
            .attr("stop_signal", s())
            .attr("kill_timeout", s())
            .attr("memory", n().describe("Bytes."))
            .attr("cpu", n().describe("Cores (0.5 is half a core)."))
            .attr("mounts", Attr::optional(Type::list(Type::String)))
            .attr("network_mode", s())
            .attr("id", Attr::computed(Type::String))
            .attr("version", Attr::computed(Type::String))
            .block("port", block(Nesting::Map, Schema::new()))
            .block("health_check", block(Nesting::List, health))
            .block("restart", block(Nesting::Single, restart))
            .block("update", block(Nesting::Single, update));
        ServiceResource { schema }
    }
}

impl ResourceType for ServiceResource {
    fn type_name(&self) -> &'static str {
        "service"
    }

    fn schema(&self) -> &Schema {
        &self.schema
    }

    fn validate(&self, config: &Value) -> Vec<AttrDiag> {
        if !config.is_wholly_known() {
            return Vec::new();
        }
        match decode("validate", config) {
            Ok(_) => Vec::new(),
            Err(e) => vec![AttrDiag::error(
                e.attr.as_deref().map(|a| a.split('.').next().unwrap_or(a)),
                e.summary,
                e.detail,
            )],
        }
    }

    fn plan(&self, req: PlanRequest<'_>) -> Result<PlanResponse, ProviderError> {
        let mut resp = baton_provider::plan::default_plan(&self.schema, &req);
        let mut m: BTreeMap<String, Value> = resp
            .planned
            .as_entries()
            .map(|e| e.to_map())
            .unwrap_or_default();
        let version = if req.config.is_wholly_known() {
            Value::string(decode("plan", req.config)?.version)
        } else {
            Value::unknown(Type::String)
        };
        let id = match req.prior.and_then(|p| p.get_attr("id")) {
            Some(v) if !v.is_null() => v.clone(),
            _ => Value::unknown(Type::String),
        };
        m.insert("version".into(), version);
        m.insert("id".into(), id);
        resp.planned = Value::object(m);
        Ok(resp)
    }

    fn apply(&self, req: ApplyRequest<'_>) -> Result<Option<Value>, ProviderError> {
        let board = handoff_of(req.ctx);
        let stack = stack_name(&req.ctx.cwd);
        let name = service_name(req.ctx, req.prior)?;
        require_agent(&board)?;
        let Some(planned) = req.planned else {
            board.remove_desired(&name).map_err(board_err)?;
            wait_gone(req.ctx, &board, &name)?;
            return Ok(None);
        };
        let mut spec = decode("apply", req.config)?;
        spec.name = name.clone();
        let prior_spec = match req.prior {
            Some(p) if board.has_desired(&name).map_err(board_err)? => {
                decode("apply", p).ok().map(|mut s| {
                    s.name = name.clone();
                    s
                })
            }
            _ => None,
        };
        board
            .write_desired(&stack, &req.ctx.cwd, &spec)
            .map_err(board_err)?;
        if let Err(e) = wait_healthy(req.ctx, &board, &spec) {
            // Put back what the state still records, so the agent keeps (or returns to) it;
            // a service that did not exist is removed again.
            let _ = match &prior_spec {
                Some(p) => board.write_desired(&stack, &req.ctx.cwd, p),
                None => board.remove_desired(&name),
            };
            return Err(e);
        }
        let mut m: BTreeMap<String, Value> =
            planned.as_entries().map(|e| e.to_map()).unwrap_or_default();
        m.insert("id".into(), Value::string(format!("{stack}/{name}")));
        m.insert("version".into(), Value::string(spec.version.clone()));
        Ok(Some(Value::object(m)))
    }

    fn read(&self, ctx: &ProviderCtx, state: &Value) -> Result<Option<Value>, ProviderError> {
        // The desired record is the object: removed by hand, the service is to be created again.
        let board = handoff_of(ctx);
        let name = state
            .get_attr("id")
            .and_then(Value::as_str)
            .and_then(|id| id.rsplit_once('/').map(|(_, n)| n.to_string()));
        match name {
            Some(n) if !board.has_desired(&n).map_err(board_err)? => Ok(None),
            _ => Ok(Some(state.clone())),
        }
    }
}

/// The stack's board: the one the caller opened from the stack's store, else the default
/// SQLite board of the working directory.
fn handoff_of(ctx: &ProviderCtx) -> Handoff {
    match &ctx.board {
        Some(b) => Handoff::new(b.clone()),
        None => Handoff::default_for(&ctx.cwd),
    }
}

/// The service's name: its address without the `service.` of the root module.
fn service_name(ctx: &ProviderCtx, prior: Option<&Value>) -> Result<String, ProviderError> {
    if let Some(a) = &ctx.addr {
        return Ok(a.strip_prefix("service.").unwrap_or(a).to_string());
    }
    prior
        .and_then(|p| p.get_attr("id"))
        .and_then(Value::as_str)
        .and_then(|id| id.rsplit_once('/').map(|(_, n)| n.to_string()))
        .ok_or_else(|| {
            ProviderError::permanent(
                "Service without an address",
                "The service resource was applied without its address.",
            )
        })
}

fn board_err(e: HandoffError) -> ProviderError {
    // A store that cannot be reached may come back: worth the run's retries.
    ProviderError::retryable("Cannot reach the service board", e.to_string())
}

fn require_agent(board: &Handoff) -> Result<(), ProviderError> {
    if board.live_agent().map_err(board_err)?.is_some() {
        return Ok(());
    }
    Err(ProviderError::permanent(
        "No agent is running",
        format!(
            "Services are run by the agent, and none serves this stack (its services are kept in {}). Start one in the stack's directory with `baton serve` (it keeps running; Ctrl-C stops it and leaves the replicas running), or on another machine with `baton serve` and the same store, then apply again.",
            board.describe()
        ),
    ))
}

fn find(board: &Handoff, name: &str) -> Result<Option<ServiceStatus>, ProviderError> {
    board.reported(name).map_err(board_err)
}

fn check_waiting(ctx: &ProviderCtx, board: &Handoff) -> Result<(), ProviderError> {
    if ctx.is_cancelled() {
        return Err(ProviderError::permanent(
            "Interrupted",
            "The run was interrupted while waiting for the agent.",
        ));
    }
    if board.live_agent().map_err(board_err)?.is_none() {
        return Err(ProviderError::permanent(
            "The agent stopped",
            "The agent (`baton serve`) stopped while this apply waited for it; start it again and apply again.",
        ));
    }
    Ok(())
}

/// Waits until the agent reports `spec` deployed and healthy.
fn wait_healthy(
    ctx: &ProviderCtx,
    board: &Handoff,
    spec: &ServiceSpec,
) -> Result<(), ProviderError> {
    let rounds = spec
        .replicas
        .div_ceil(spec.update.max_parallel.max(1))
        .max(1);
    let default = spec.update.healthy_deadline * (2 * rounds + 1) + Duration::from_secs(30);
    let deadline = Instant::now() + ctx.timeout.unwrap_or(default);
    let mut last = String::from("the agent has not reported the service yet");
    loop {
        check_waiting(ctx, board)?;
        if let Some(st) = find(board, &spec.name)? {
            if st.version == spec.version {
                match &st.deployment {
                    DeploymentState::Healthy
                        if st.target_version == spec.version
                            && st.desired_replicas == spec.replicas
                            && st.replicas.len() == spec.replicas as usize
                            && st
                                .replicas
                                .iter()
                                .all(|r| r.healthy && r.version == spec.version) =>
                    {
                        return Ok(());
                    }
                    DeploymentState::Failed { reason } => {
                        return Err(ProviderError::permanent(
                            "The service's deployment failed",
                            format!("service {}: {reason}", spec.name),
                        ))
                    }
                    DeploymentState::Reverted { reason } => {
                        return Err(ProviderError::permanent(
                            "The service's rollout was reverted",
                            format!(
                                "service {}: {reason}; the last healthy version runs again",
                                spec.name
                            ),
                        ))
                    }
                    other => {
                        last = format!(
                            "deployment {other:?}, {} of {} replicas healthy",
                            st.healthy_count(),
                            spec.replicas
                        )
                    }
                }
            }
        }
        if Instant::now() >= deadline {
            return Err(ProviderError::permanent(
                "The service did not become healthy in time",
                format!("service {}: {last}", spec.name),
            ));
        }
        std::thread::sleep(POLL);
    }
}

/// Waits until the agent no longer reports the service (its replicas are stopped).
fn wait_gone(ctx: &ProviderCtx, board: &Handoff, name: &str) -> Result<(), ProviderError> {
    let deadline = Instant::now() + ctx.timeout.unwrap_or(Duration::from_secs(120));
    loop {
        check_waiting(ctx, board)?;
        if find(board, name)?.is_none() {
            return Ok(());
        }
        if Instant::now() >= deadline {
            return Err(ProviderError::permanent(
                "The service's replicas did not stop in time",
                format!("service {name}: the agent still reports it"),
            ));
        }
        std::thread::sleep(POLL);
    }
}

/// The resource's configuration as a [`ServiceSpec`] (without its name, which is the
/// resource's address). `phase` only names the summary's context.
pub fn decode(phase: &str, config: &Value) -> Result<ServiceSpec, ProviderError> {
    let _ = phase;
    let driver = match str_at(config, "driver").as_deref().unwrap_or("exec") {
        "exec" => DriverKind::Exec,
        "docker" => DriverKind::Docker,
        other => {
            return Err(bad(
                "driver",
                format!("driver must be \"exec\" or \"docker\", not {other:?}"),
            ))
        }
    };
    let command = strings(config, "command");
    let image = str_at(config, "image");
    match driver {
        DriverKind::Exec if command.is_empty() => {
            return Err(bad("command", "an exec service needs a command".into()))
        }
        DriverKind::Docker if image.is_none() => {
            return Err(bad("image", "a docker service needs an image".into()))
        }
        _ => {}
    }
    let env: BTreeMap<String, String> = config
        .get_attr("env")
        .and_then(Value::as_entries)
        .map(|e| {
            e.iter()
                .filter_map(|(k, v)| v.as_str().map(|s| (k.clone(), s.to_string())))
                .collect()
        })
        .unwrap_or_default();
    let replicas = match num(config, "replicas") {
        None => 1,
        Some(n) if n >= 0.0 && n.fract() == 0.0 && n <= 10_000.0 => n as u32,
        Some(n) => {
            return Err(bad(
                "replicas",
                format!("replicas must be a whole number from 0, not {n}"),
            ))
        }
    };
    let ports: Vec<String> = config
        .get_attr("port")
        .and_then(Value::as_entries)
        .map(|e| e.keys().cloned().collect())
        .unwrap_or_default();
    let mut health = Vec::new();
    for (i, h) in config
        .get_attr("health_check")
        .and_then(Value::as_seq)
        .unwrap_or(&[])
        .iter()
        .enumerate()
    {
        health.push(health_check(i, h, &ports)?);
    }
    let restart = match config.get_attr("restart").filter(|v| !v.is_null()) {
        None => RestartPolicy::default(),
        Some(r) => {
            let d = RestartPolicy::default();
            RestartPolicy {
                delay: dur(r, "restart.delay", "delay")?.unwrap_or(d.delay),
                max_delay: dur(r, "restart.max_delay", "max_delay")?.unwrap_or(d.max_delay),
                reset_after: dur(r, "restart.reset_after", "reset_after")?.unwrap_or(d.reset_after),
                attempts: count(r, "restart.attempts", "attempts")?,
                interval: dur(r, "restart.interval", "interval")?.unwrap_or(d.interval),
                on_exhausted: match str_at(r, "on_exhausted").as_deref() {
                    None | Some("keep_trying") => OnExhausted::KeepTrying,
                    Some("fail") => OnExhausted::Fail,
                    Some(o) => {
                        return Err(bad(
                            "restart.on_exhausted",
                            format!("on_exhausted must be \"fail\" or \"keep_trying\", not {o:?}"),
                        ))
                    }
                },
            }
        }
    };
    let update = match config.get_attr("update").filter(|v| !v.is_null()) {
        None => UpdatePolicy::default(),
        Some(u) => {
            let d = UpdatePolicy::default();
            UpdatePolicy {
                max_parallel: count(u, "update.max_parallel", "max_parallel")?
                    .unwrap_or(d.max_parallel)
                    .max(1),
                min_healthy_time: dur(u, "update.min_healthy_time", "min_healthy_time")?
                    .unwrap_or(d.min_healthy_time),
                healthy_deadline: dur(u, "update.healthy_deadline", "healthy_deadline")?
                    .unwrap_or(d.healthy_deadline),
                progress_deadline: dur(u, "update.progress_deadline", "progress_deadline")?
                    .unwrap_or(d.progress_deadline),
                canary: count(u, "update.canary", "canary")?.unwrap_or(d.canary),
                auto_revert: u
                    .get_attr("auto_revert")
                    .and_then(Value::as_bool)
                    .unwrap_or(d.auto_revert),
            }
        }
    };
    let memory = match num(config, "memory") {
        None => None,
        Some(n) if n > 0.0 && n.fract() == 0.0 => Some(n as u64),
        Some(n) => {
            return Err(bad(
                "memory",
                format!("memory is a whole number of bytes, not {n}"),
            ))
        }
    };
    let cpu_millis = match num(config, "cpu") {
        None => None,
        Some(n) if n > 0.0 => Some((n * 1000.0).round() as u32),
        Some(n) => {
            return Err(bad(
                "cpu",
                format!("cpu is a positive number of cores, not {n}"),
            ))
        }
    };
    let stop_signal = str_at(config, "stop_signal").unwrap_or_else(|| "TERM".to_string());
    if crate::exec::parse_signal(&stop_signal).is_err() {
        return Err(bad(
            "stop_signal",
            format!(
                "stop_signal {stop_signal:?} is not a signal (TERM, INT, HUP, QUIT, a number...)"
            ),
        ));
    }
    let mut spec = ServiceSpec {
        name: String::new(),
        version: String::new(),
        driver,
        command,
        image,
        env,
        workdir: str_at(config, "workdir"),
        user: str_at(config, "user"),
        replicas,
        ports,
        health,
        restart,
        update,
        stop_signal,
        kill_timeout: dur(config, "kill_timeout", "kill_timeout")?
            .unwrap_or(Duration::from_secs(10)),
        limits: Limits { memory, cpu_millis },
        mounts: strings(config, "mounts"),
        network_mode: str_at(config, "network_mode"),
    };
    spec.version = version_of(&spec);
    Ok(spec)
}

/// A hash of everything that makes a replica differ: the spec without its name and replicas.
pub fn version_of(spec: &ServiceSpec) -> String {
    let mut s = spec.clone();
    s.name = String::new();
    s.version = String::new();
    s.replicas = 0;
    let text = serde_json::to_string(&s).unwrap_or_default();
    hex::encode(&sha2::Sha256::digest(text.as_bytes())[..8])
}

fn health_check(i: usize, h: &Value, ports: &[String]) -> Result<HealthCheck, ProviderError> {
    let at = |a: &str| format!("health_check[{i}].{a}");
    let kind = match str_at(h, "type").as_deref() {
        Some("http") => CheckKind::Http,
        Some("tcp") => CheckKind::Tcp,
        Some("command") => CheckKind::Command,
        other => {
            return Err(bad(
                &at("type"),
                format!("a health check's type is \"http\", \"tcp\" or \"command\", not {other:?}"),
            ))
        }
    };
    let port = str_at(h, "port");
    if let Some(p) = &port {
        if !ports.contains(p) {
            return Err(bad(
                &at("port"),
                format!("the health check names port {p:?}, which no `port` block declares"),
            ));
        }
    } else if kind != CheckKind::Command && ports.is_empty() {
        return Err(bad(
            &at("port"),
            "an http or tcp health check needs a `port` block".into(),
        ));
    }
    let command = strings(h, "command");
    if kind == CheckKind::Command && command.is_empty() {
        return Err(bad(
            &at("command"),
            "a command health check needs a command".into(),
        ));
    }
    let expect_status = match num(h, "expect_status") {
        None => None,
        Some(n) if (100.0..=599.0).contains(&n) && n.fract() == 0.0 => Some(n as u16),
        Some(n) => {
            return Err(bad(
                &at("expect_status"),
                format!("expect_status is an HTTP status, not {n}"),
            ))
        }
    };
    Ok(HealthCheck {
        kind,
        port,
        path: str_at(h, "path").unwrap_or_else(|| "/".to_string()),
        expect_status,
        command,
        interval: dur(h, &at("interval"), "interval")?.unwrap_or(Duration::from_secs(10)),
        timeout: dur(h, &at("timeout"), "timeout")?.unwrap_or(Duration::from_secs(2)),
        failure_threshold: count(h, &at("failure_threshold"), "failure_threshold")?
            .unwrap_or(3)
            .max(1),
        success_threshold: count(h, &at("success_threshold"), "success_threshold")?
            .unwrap_or(1)
            .max(1),
        grace: dur(h, &at("grace"), "grace")?.unwrap_or(Duration::ZERO),
        startup: h
            .get_attr("startup")
            .and_then(Value::as_bool)
            .unwrap_or(false),
    })
}

fn bad(attr: &str, detail: String) -> ProviderError {
    ProviderError::permanent("Invalid service configuration", detail).on_attr(attr)
}

fn str_at(v: &Value, name: &str) -> Option<String> {
    v.get_attr(name).and_then(Value::as_str).map(str::to_string)
}

fn strings(v: &Value, name: &str) -> Vec<String> {
    v.get_attr(name)
        .and_then(Value::as_seq)
        .map(|s| {
            s.iter()
                .filter_map(|x| x.as_str().map(str::to_string))
                .collect()
        })
        .unwrap_or_default()
}

fn num(v: &Value, name: &str) -> Option<f64> {
    v.get_attr(name)
        .and_then(Value::as_number)
        .map(|n| n.to_f64())
}

fn count(v: &Value, attr: &str, name: &str) -> Result<Option<u32>, ProviderError> {
    match num(v, name) {
        None => Ok(None),
        Some(n) if n >= 0.0 && n.fract() == 0.0 && n <= f64::from(u32::MAX) => Ok(Some(n as u32)),
        Some(n) => Err(bad(
            attr,
            format!("{attr} must be a whole number from 0, not {n}"),
        )),
    }
}

fn dur(v: &Value, attr: &str, name: &str) -> Result<Option<Duration>, ProviderError> {
    let Some(text) = str_at(v, name) else {
        return Ok(None);
    };
    baton_core::duration::parse(&text).map(Some).map_err(|e| {
        bad(
            attr,
            format!("{attr} must be a duration such as \"30s\", \"5m\" or \"1h30m\"; {text:?} is not one ({e})"),
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn obj(pairs: Vec<(&str, Value)>) -> Value {
        Value::object(pairs.into_iter().map(|(k, v)| (k.to_string(), v)).collect())
    }

    fn cmd() -> Value {
        Value::list(
            Type::String,
            vec![Value::string("sleep"), Value::string("9")],
        )
    }

    #[test]
    fn a_bad_duration_names_its_attribute() {
        let c = obj(vec![
            ("command", cmd()),
            (
                "update",
                obj(vec![("healthy_deadline", Value::string("soon"))]),
            ),
        ]);
        let e = decode("plan", &c).err().map(|e| (e.attr, e.detail));
        let (attr, detail) = e.unwrap_or_default();
        assert_eq!(attr.as_deref(), Some("update.healthy_deadline"));
        assert!(detail.contains("\"soon\""), "{detail}");
    }

    #[test]
    fn replicas_are_not_part_of_the_version() {
        let one = decode("plan", &obj(vec![("command", cmd())])).map(|s| s.version);
        let three = decode(
            "plan",
            &obj(vec![
                ("command", cmd()),
                ("replicas", Value::number(baton_eval::Number::from_u64(3))),
            ]),
        )
        .map(|s| s.version);
        let other = decode(
            "plan",
            &obj(vec![(
                "command",
                Value::list(Type::String, vec![Value::string("true")]),
            )]),
        )
        .map(|s| s.version);
        assert_eq!(one.as_ref().ok(), three.as_ref().ok());
        assert_ne!(one.ok(), other.ok());
    }
}
