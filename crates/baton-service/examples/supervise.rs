//! A bench driver for the supervisor library (`bench/services.sh`): runs
//! [`Supervisor::run`] over `--services N` exec services of one command, as `baton serve` will
//! run it, until SIGTERM or SIGINT, then writes the status as JSON to `--status FILE`.
//!
//! Not part of Baton's interface: it must not grow features `baton serve` does not have, so
//! that what the bench measures is the library's loop and nothing else.
//!
//! ```text
//! supervise --state DIR [--services N] [--restart-delay-ms MS] [--port NAME]...
//!           [--env K=V]... [--status FILE] -- COMMAND ARG...
//! ```

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use baton_service::driver::Driver;
use baton_service::exec::ExecDriver;
use baton_service::spec::{DriverKind, Limits, RestartPolicy, ServiceSpec, UpdatePolicy};
use baton_service::supervisor::Supervisor;

struct Args {
    state: PathBuf,
    services: u32,
    restart_delay: Duration,
    ports: Vec<String>,
    env: BTreeMap<String, String>,
    status: Option<PathBuf>,
    command: Vec<String>,
}

fn parse() -> Result<Args, String> {
    let mut it = std::env::args().skip(1);
    let mut a = Args {
        state: PathBuf::new(),
        services: 1,
        restart_delay: Duration::from_millis(0),
        ports: Vec::new(),
        env: BTreeMap::new(),
        status: None,
        command: Vec::new(),
    };
    while let Some(flag) = it.next() {
        if flag == "--" {
            a.command = it.by_ref().collect();
            break;
        }
        let value = it.next().ok_or(format!("{flag} needs a value"))?;
        match flag.as_str() {
            "--state" => a.state = value.into(),
            "--services" => a.services = value.parse().map_err(|e| format!("--services: {e}"))?,
            "--restart-delay-ms" => {
                let ms = value
                    .parse()
                    .map_err(|e| format!("--restart-delay-ms: {e}"))?;
                a.restart_delay = Duration::from_millis(ms);
            }
            "--port" => a.ports.push(value),
            "--env" => {
                let (k, v) = value.split_once('=').ok_or("--env wants K=V")?;
                a.env.insert(k.to_owned(), v.to_owned());
            }
            "--status" => a.status = Some(value.into()),
            _ => return Err(format!("unknown flag {flag}")),
        }
    }
    if a.state.as_os_str().is_empty() || a.command.is_empty() {
        return Err(
            "usage: supervise --state DIR [--services N] [--restart-delay-ms MS] \
                    [--port NAME]... [--env K=V]... [--status FILE] -- COMMAND ARG..."
                .to_owned(),
        );
    }
    Ok(a)
}

fn spec(a: &Args, i: u32) -> ServiceSpec {
    ServiceSpec {
        name: format!("svc{i}"),
        version: "v1".to_owned(),
        driver: DriverKind::Exec,
        command: a.command.clone(),
        image: None,
        env: a.env.clone(),
        workdir: None,
        user: None,
        replicas: 1,
        ports: a.ports.clone(),
        health: Vec::new(),
        restart: RestartPolicy {
            delay: a.restart_delay,
            ..RestartPolicy::default()
        },
        update: UpdatePolicy::default(),
        stop_signal: "TERM".to_owned(),
        kill_timeout: Duration::from_secs(5),
        limits: Limits::default(),
        mounts: Vec::new(),
        network_mode: None,
    }
}

fn main() -> ExitCode {
    let a = match parse() {
        Ok(a) => a,
        Err(e) => {
            eprintln!("supervise: {e}");
            return ExitCode::from(2);
        }
    };
    let stop = Arc::new(AtomicBool::new(false));
    let flag = stop.clone();
    if let Err(e) = ctrlc::set_handler(move || flag.store(true, Ordering::Relaxed)) {
        eprintln!("supervise: cannot handle signals: {e}");
        return ExitCode::FAILURE;
    }
    let driver: Arc<dyn Driver> = Arc::new(ExecDriver::new(a.state.join("exec")));
    let sup = match Supervisor::new(vec![driver], &a.state, a.state.join("logs")) {
        Ok(s) => s,
        Err(e) => {
            eprintln!("supervise: {e}");
            return ExitCode::FAILURE;
        }
    };
    let specs = (0..a.services).map(|i| spec(&a, i)).collect();
    sup.set_desired("bench", &a.state, specs);
    sup.run(&stop);
    if let Some(path) = &a.status {
        let text = serde_json::to_string_pretty(&sup.status()).unwrap_or_default();
        if let Err(e) = std::fs::write(path, text) {
            eprintln!("supervise: cannot write {}: {e}", path.display());
        }
    }
    for e in sup.stop_all() {
        eprintln!("supervise: {e}");
    }
    ExitCode::SUCCESS
}
