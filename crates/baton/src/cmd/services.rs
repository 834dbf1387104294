//! The services part of the agent and the CLI: the supervisor loop `baton serve` runs for the
//! stack in its directory (desired specs read from `.baton/services/desired/`, status and
//! heartbeat written back — see `baton_service::files`), `baton logs service.NAME`, and the
//! services section of `baton status`.
//!
//! Must not decide rollouts or restarts: that is `baton_service::supervisor`. An agent that
//! stops leaves its replicas running, for the next agent to adopt.

use anyhow::{anyhow, bail};
use baton_service::files::ServiceFiles;
use baton_service::supervisor::{DeploymentState, ServiceStatus, Supervisor};
use std::io::{Read as _, Seek as _, Write as _};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use super::Env;

/// How often the agent rewrites its heartbeat.
const HEARTBEAT_EVERY: Duration = Duration::from_millis(500);
/// The longest the agent sleeps between reconciliations (desired changes are seen this fast).
const MAX_SLEEP: Duration = Duration::from_millis(200);

/// Runs the supervisor for the directory's stack until `stop` is set or `until` passes.
pub fn supervise(env: &Env, stop: &AtomicBool, until: Option<Instant>) -> anyhow::Result<()> {
    let files = ServiceFiles::new(&env.dir);
    let exec = baton_service::exec::ExecDriver::new(files.agent_dir().join("exec"));
    let docker =
        baton_service::docker::DockerDriver::new(baton_service::docker::DockerOpts::from_env())?;
    let sup = Supervisor::new(
        vec![Arc::new(exec), Arc::new(docker)],
        files.agent_dir(),
        files.log_dir(),
    )?;
    let mut desired_text = None::<String>;
    let mut status_text = String::new();
    let mut beat = Instant::now() - HEARTBEAT_EVERY;
    while !stop.load(Ordering::SeqCst) && until.is_none_or(|u| Instant::now() < u) {
        match files.read_desired() {
            Ok(specs) => {
                let text = serde_json::to_string(&specs)?;
                if desired_text.as_deref() != Some(text.as_str()) {
                    sup.set_desired(files.stack(), &env.dir, specs);
                    desired_text = Some(text);
                }
            }
            Err(e) => eprintln!("Error: services: {e}"),
        }
        let wait = sup.reconcile_once(Instant::now());
        let status = sup.status();
        let text = serde_json::to_string(&status)?;
        if text != status_text {
            if let Err(e) = files.write_status(status) {
                eprintln!("Error: services: {e}");
            }
            status_text = text;
        }
        if beat.elapsed() >= HEARTBEAT_EVERY {
            if let Err(e) = files.write_heartbeat() {
                eprintln!("Error: services: {e}");
            }
            beat = Instant::now();
        }
        std::thread::sleep(wait.clamp(Duration::from_millis(10), MAX_SLEEP));
    }
    files.remove_heartbeat();
    Ok(())
}

/// `baton logs service.NAME [--replica N] [--follow]`.
pub fn logs(env: &Env, name: &str, replica: Option<u32>, follow: bool) -> anyhow::Result<()> {
    let files = ServiceFiles::new(&env.dir);
    let status = files.read_status()?;
    let svc = status
        .and_then(|s| {
            s.services
                .into_iter()
                .find(|x| x.stack == files.stack() && x.name == name)
        })
        .ok_or_else(|| {
            anyhow!("The agent reports no service {name} here; `baton status` lists the services.")
        })?;
    let desired = files.read_desired()?;
    let docker = desired
        .iter()
        .find(|s| s.name == name)
        .is_some_and(|s| s.driver == baton_service::spec::DriverKind::Docker);
    let indexes: Vec<u32> = match replica {
        Some(i) => vec![i],
        None => {
            let mut v: Vec<u32> = svc.replicas.iter().map(|r| r.index).collect();
            v.dedup();
            v
        }
    };
    if follow && indexes.len() != 1 {
        bail!("--follow needs --replica N when the service has several replicas");
    }
    if docker {
        let driver = baton_service::docker::DockerDriver::new(
            baton_service::docker::DockerOpts::from_env(),
        )?;
        for i in &indexes {
            let Some(r) = svc.replicas.iter().find(|r| r.index == *i) else {
                bail!("service {name} has no replica {i}");
            };
            let rep = baton_service::driver::Replica {
                stack: svc.stack.clone(),
                service: name.to_string(),
                version: r.version.clone(),
                index: r.index,
                id: r.id.clone(),
                ports: r.ports.clone(),
                started_at: 0,
            };
            let opts = baton_service::docker::LogsOpts { tail: None, follow };
            driver.logs(&rep, &opts, |_, bytes| {
                let mut out = std::io::stdout().lock();
                if out.write_all(bytes).and_then(|()| out.flush()).is_err() {
                    std::ops::ControlFlow::Break(())
                } else {
                    std::ops::ControlFlow::Continue(())
                }
            })?;
        }
        return Ok(());
    }
    let dir = files.log_dir();
    for i in &indexes {
        let base = format!("{name}.{i}");
        let outp = dir.join(format!("{base}.out.log"));
        let errp = dir.join(format!("{base}.err.log"));
        if !outp.exists() && !errp.exists() {
            bail!(
                "service {name} has no logs for replica {i} (in {})",
                dir.display()
            );
        }
        if indexes.len() > 1 {
            outln!("==> replica {i} <==");
        }
        let mut pos = [0u64; 2];
        loop {
            for (k, p) in [&outp, &errp].into_iter().enumerate() {
                let Ok(mut f) = std::fs::File::open(p) else {
                    continue;
                };
                let len = f.metadata().map(|m| m.len()).unwrap_or(0);
                if len < pos[k] {
                    pos[k] = 0; // rotated
                }
                f.seek(std::io::SeekFrom::Start(pos[k]))?;
                let mut buf = Vec::new();
                f.read_to_end(&mut buf)?;
                pos[k] += buf.len() as u64;
                let mut out = std::io::stdout().lock();
                if out.write_all(&buf).and_then(|()| out.flush()).is_err() {
                    return Ok(());
                }
            }
            if !follow {
                break;
            }
            std::thread::sleep(Duration::from_millis(200));
        }
    }
    Ok(())
}

/// The services the agent last reported for the directory's stack, and whether it runs.
pub fn current(env: &Env) -> (Vec<ServiceStatus>, Option<u32>) {
    let files = ServiceFiles::new(&env.dir);
    let services = files
        .read_status()
        .ok()
        .flatten()
        .map(|s| {
            s.services
                .into_iter()
                .filter(|x| x.stack == files.stack())
                .collect()
        })
        .unwrap_or_default();
    (services, files.live_agent().map(|h| h.pid))
}

pub fn status_json(env: &Env) -> serde_json::Value {
    let (services, agent) = current(env);
    serde_json::json!({
        "agent_pid": agent,
        "services": services.iter().map(|s| serde_json::json!({
            "name": s.name,
            "version": s.version,
            "target_version": s.target_version,
            "desired_replicas": s.desired_replicas,
            "healthy_replicas": s.healthy_count(),
            "deployment": deployment_text(&s.deployment),
            "last_error": s.last_error,
            "replicas": s.replicas.iter().map(|r| serde_json::json!({
                "index": r.index,
                "id": r.id,
                "version": r.version,
                "healthy": r.healthy,
                "health": format!("{:?}", r.health),
                "ports": r.ports,
                "restarts": r.restarts,
                "last_exit": r.last_exit.as_ref().map(|e| serde_json::json!({
                    "code": e.code, "signal": e.signal, "reason": e.reason,
                })),
            })).collect::<Vec<_>>(),
            "restarts": s.slots.values().map(|x| x.restarts).sum::<u32>(),
            // Per slot (replica index): its restarts with the backoff the policy chose, and
            // the ports its replicas keep.
            "slots": s.slots.iter().map(|(i, x)| (i.to_string(), serde_json::json!({
                "restarts": x.restarts,
                "exhausted": x.exhausted,
                "ports": x.ports,
                "last_exit": x.last_exit.as_ref().map(|e| serde_json::json!({
                    "code": e.code, "signal": e.signal, "reason": e.reason,
                })),
                "history": x.history.iter().map(|h| serde_json::json!({
                    "failed_at_ms": h.failed_at_ms,
                    "delay_ms": u64::try_from(h.delay.as_millis()).unwrap_or(u64::MAX),
                    "restarted_at_ms": h.restarted_at_ms,
                })).collect::<Vec<_>>(),
            }))).collect::<serde_json::Map<_, _>>(),
        })).collect::<Vec<_>>(),
    })
}

pub fn print_status(env: &Env) {
    let (services, agent) = current(env);
    if services.is_empty() && agent.is_none() {
        return;
    }
    match agent {
        Some(pid) => outln!("  Services agent:      running (pid {pid})"),
        None => outln!("  Services agent:      not running (`baton serve` starts it)"),
    }
    for s in &services {
        let restarts: u32 = s.slots.values().map(|x| x.restarts).sum();
        outln!(
            "  service.{}: {}, {}/{} healthy, {} restart(s), version {}",
            s.name,
            deployment_text(&s.deployment),
            s.healthy_count(),
            s.desired_replicas,
            restarts,
            s.version
        );
        for r in &s.replicas {
            let ports: Vec<String> = r.ports.iter().map(|(k, v)| format!("{k}={v}")).collect();
            outln!(
                "    [{}] {} {:?} ports {} restarts {}",
                r.index,
                r.id,
                r.health,
                ports.join(","),
                r.restarts
            );
        }
    }
}

fn deployment_text(d: &DeploymentState) -> String {
    match d {
        DeploymentState::Running => "running".into(),
        DeploymentState::RollingOut => "rolling out".into(),
        DeploymentState::Reverting { reason } => format!("reverting ({reason})"),
        DeploymentState::Failed { reason } => format!("failed ({reason})"),
        DeploymentState::Reverted { reason } => format!("reverted ({reason})"),
        DeploymentState::Healthy => "healthy".into(),
    }
}
