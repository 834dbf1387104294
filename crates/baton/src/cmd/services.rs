//! The services part of the agent and the CLI: the supervisor loop `baton serve` runs for the
//! stacks it serves (its directory's, and any `--stack DIR`): for each, it holds the stack's
//! lease on its service board, reads the desired services there and writes its report back —
//! see `baton_service::handoff`. Also `baton logs service.NAME` and the services section of
//! `baton status`.
//!
//! Must not decide rollouts or restarts: that is `baton_service::supervisor`. An agent that
//! stops leaves its replicas running, for the next agent to adopt.

use anyhow::{anyhow, bail};
use baton_core::board::AgentId;
use baton_service::handoff::{self, AgentDirs, Handoff, Report};
use baton_service::supervisor::{DeploymentState, ServiceStatus, Supervisor};
use std::io::{Read as _, Seek as _, Write as _};
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use super::Env;

/// How often the agent renews its leases (and so its sign of life).
const HEARTBEAT_EVERY: Duration = Duration::from_millis(500);
/// The longest the agent sleeps between reconciliations (desired changes are seen this fast).
const MAX_SLEEP: Duration = Duration::from_millis(200);

/// One stack the agent serves.
struct Served {
    name: String,
    dir: PathBuf,
    board: Handoff,
    /// Whether this agent holds the stack's lease.
    holding: bool,
    /// Who does, as last said (said once, not every round).
    waiting_for: Option<String>,
    desired_text: Option<String>,
    report_text: String,
}

/// The stacks `baton serve` serves: the directory's and each `--stack DIR`, each on its own
/// board. Two stacks of one name are refused (the name keys replicas and logs).
pub fn stacks(env: &Env, extra: &[PathBuf]) -> anyhow::Result<Vec<(String, Env)>> {
    let mut out: Vec<(String, Env)> = Vec::new();
    let mut envs = vec![env.for_stack(env.dir.clone(), true)];
    for d in extra {
        let d = env.path(d);
        if !d.is_dir() {
            bail!("--stack: {} is not a directory", d.display());
        }
        envs.push(env.for_stack(d, false));
    }
    for e in envs {
        let name = handoff::stack_name(&e.dir);
        if let Some((_, other)) = out.iter().find(|(n, _)| *n == name) {
            if other.dir.canonicalize().ok() == e.dir.canonicalize().ok() {
                continue;
            }
            bail!(
                "--stack: {} and {} are both named {name}; the agent names replicas and logs by the stack's directory name, so serve them from agents of their own or rename one",
                other.dir.display(),
                e.dir.display()
            );
        }
        out.push((name, e));
    }
    Ok(out)
}

/// Runs the supervisor for `stacks` until `stop` is set or `until` passes. The agent's own
/// records and the replicas' logs are under the serving directory `env.dir`.
pub fn supervise(
    env: &Env,
    stacks: &[(String, Env)],
    stop: &AtomicBool,
    until: Option<Instant>,
) -> anyhow::Result<()> {
    let dirs = AgentDirs::new(&env.dir);
    let exec = baton_service::exec::ExecDriver::new(dirs.agent_dir().join("exec"));
    let docker =
        baton_service::docker::DockerDriver::new(baton_service::docker::DockerOpts::from_env())?;
    let sup = Supervisor::new(
        vec![Arc::new(exec), Arc::new(docker)],
        dirs.agent_dir(),
        dirs.log_dir(),
    )?;
    let me = handoff::agent_id();
    let mut served = Vec::new();
    for (name, e) in stacks {
        served.push(Served {
            name: name.clone(),
            dir: e.dir.clone(),
            board: Handoff::new(e.board()?),
            holding: false,
            waiting_for: None,
            desired_text: None,
            report_text: String::new(),
        });
    }
    let mut beat = Instant::now() - HEARTBEAT_EVERY;
    while !stop.load(Ordering::SeqCst) && until.is_none_or(|u| Instant::now() < u) {
        let renew = beat.elapsed() >= HEARTBEAT_EVERY;
        if renew {
            beat = Instant::now();
        }
        for s in &mut served {
            if renew || !s.holding {
                claim(s, &me);
            }
            if !s.holding {
                continue;
            }
            match s.board.read_desired() {
                Ok(specs) => {
                    let text = serde_json::to_string(&specs)?;
                    if s.desired_text.as_deref() != Some(text.as_str()) {
                        sup.set_desired(&s.name, &s.dir, specs);
                        s.desired_text = Some(text);
                    }
                }
                Err(e) => eprintln!("Error: services of {}: {e}", s.name),
            }
        }
        let wait = sup.reconcile_once(Instant::now());
        let status = sup.status();
        for s in &mut served {
            if !s.holding {
                continue;
            }
            let report = Report {
                host: me.host.clone(),
                pid: me.pid,
                log_dir: dirs.log_dir().join(&s.name),
                services: status
                    .iter()
                    .filter(|x| x.stack == s.name)
                    .cloned()
                    .collect(),
            };
            let text = serde_json::to_string(&report)?;
            if text != s.report_text {
                match s.board.write_report(&me, &report) {
                    Ok(()) => s.report_text = text,
                    Err(e) => eprintln!("Error: services of {}: {e}", s.name),
                }
            }
        }
        // Woken early when a replica exits or a check reports back.
        sup.wait(wait.clamp(Duration::from_millis(10), MAX_SLEEP));
    }
    for s in &served {
        if s.holding {
            let _ = s.board.release(&me);
        }
    }
    Ok(())
}

/// Takes or renews `s`'s lease, saying once when another agent holds it.
fn claim(s: &mut Served, me: &AgentId) {
    match s.board.claim(me) {
        Ok(None) => {
            if !s.holding {
                eprintln!(
                    "Serving the services of stack {} ({}).",
                    s.name,
                    s.board.describe()
                );
            }
            s.holding = true;
            s.waiting_for = None;
        }
        Ok(Some(other)) => {
            if s.holding {
                eprintln!(
                    "Warning: the services of stack {} were taken over by agent {} (this agent could not renew its lease in time); it stops changing them.",
                    s.name, other.agent.id
                );
            }
            s.holding = false;
            s.desired_text = None;
            if s.waiting_for.as_deref() != Some(other.agent.id.as_str()) {
                eprintln!(
                    "The services of stack {} are served by agent pid {} on {}; this agent takes over if it stops.",
                    s.name, other.agent.pid, other.agent.host
                );
                s.waiting_for = Some(other.agent.id);
            }
        }
        Err(e) => eprintln!("Error: services of {}: {e}", s.name),
    }
}

/// `baton logs service.NAME [--replica N] [--follow]`.
pub fn logs(env: &Env, name: &str, replica: Option<u32>, follow: bool) -> anyhow::Result<()> {
    let board = Handoff::new(env.board()?);
    let report = board.read_report()?.map(|r| r.report);
    let log_dir = report.as_ref().map(|r| r.log_dir.clone());
    let svc = report
        .and_then(|r| r.services.into_iter().find(|x| x.name == name))
        .ok_or_else(|| {
            anyhow!("The agent reports no service {name} here; `baton status` lists the services.")
        })?;
    let desired = board.read_desired()?;
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
    let dir = log_dir.unwrap_or_default();
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
pub fn current(env: &Env) -> (Vec<ServiceStatus>, Option<(u32, String)>) {
    let Ok(board) = env.board().map(Handoff::new) else {
        return (Vec::new(), None);
    };
    let services = board
        .read_report()
        .ok()
        .flatten()
        .map(|r| r.report.services)
        .unwrap_or_default();
    let agent = board
        .live_agent()
        .ok()
        .flatten()
        .map(|l| (l.agent.pid, l.agent.host));
    (services, agent)
}

pub fn status_json(env: &Env) -> serde_json::Value {
    let (services, agent) = current(env);
    serde_json::json!({
        "agent_pid": agent.as_ref().map(|a| a.0),
        "agent_host": agent.as_ref().map(|a| a.1.clone()),
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
        Some((pid, host)) => outln!("  Services agent:      running (pid {pid} on {host})"),
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
