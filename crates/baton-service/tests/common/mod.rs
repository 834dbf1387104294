//! Helpers for the service tests: spec builders with short intervals, a supervisor running on
//! its own thread, and polling with generous timeouts. Must not assert wall-clock durations:
//! timeouts here only bound how long a test waits for something that must happen.

#![allow(dead_code)]

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use baton_service::driver::Driver;
use baton_service::exec::ExecDriver;
use baton_service::spec::{
    CheckKind, DriverKind, HealthCheck, Limits, OnExhausted, RestartPolicy, ServiceSpec,
    UpdatePolicy,
};
use baton_service::supervisor::{ServiceStatus, Supervisor};

pub const STACK: &str = "test";

/// How long a test waits for something that must happen (the machine is shared and slow).
pub const PATIENCE: Duration = Duration::from_secs(40);

pub fn ms(n: u64) -> Duration {
    Duration::from_millis(n)
}

/// A python web server on `$PORT`.
pub fn web_command() -> Vec<String> {
    shell("exec python3 -m http.server --bind 127.0.0.1 $PORT")
}

pub fn shell(script: &str) -> Vec<String> {
    vec!["sh".into(), "-c".into(), script.into()]
}

pub fn http_check() -> HealthCheck {
    HealthCheck {
        kind: CheckKind::Http,
        port: Some("http".into()),
        path: "/".into(),
        expect_status: None,
        command: Vec::new(),
        interval: ms(100),
        timeout: ms(1000),
        failure_threshold: 2,
        success_threshold: 1,
        grace: Duration::ZERO,
        startup: false,
    }
}

pub fn spec(name: &str, version: &str, replicas: u32, command: Vec<String>) -> ServiceSpec {
    ServiceSpec {
        name: name.into(),
        version: version.into(),
        driver: DriverKind::Exec,
        command,
        image: None,
        env: BTreeMap::new(),
        workdir: None,
        user: None,
        replicas,
        ports: vec!["http".into()],
        health: vec![http_check()],
        restart: RestartPolicy {
            delay: ms(100),
            max_delay: ms(800),
            reset_after: Duration::from_secs(60),
            attempts: None,
            interval: Duration::from_secs(60),
            on_exhausted: OnExhausted::KeepTrying,
        },
        update: UpdatePolicy {
            max_parallel: 1,
            min_healthy_time: ms(300),
            healthy_deadline: Duration::from_secs(4),
            progress_deadline: Duration::from_secs(60),
            canary: 0,
            auto_revert: true,
        },
        stop_signal: "TERM".into(),
        kill_timeout: Duration::from_secs(2),
        limits: Limits::default(),
        mounts: Vec::new(),
        network_mode: None,
    }
}

/// The directories of one test.
pub struct Dirs {
    _tmp: tempfile::TempDir,
    pub state: PathBuf,
    pub logs: PathBuf,
    pub base: PathBuf,
}

pub fn dirs() -> Dirs {
    let tmp = tempfile::tempdir().expect("temp dir");
    let root = tmp.path().to_path_buf();
    Dirs {
        state: root.join("state"),
        logs: root.join("logs"),
        base: root.clone(),
        _tmp: tmp,
    }
}

pub fn exec_driver(d: &Dirs) -> Arc<dyn Driver> {
    Arc::new(ExecDriver::new(d.state.join("exec")))
}

/// A supervisor reconciling on its own thread, as the agent runs it.
pub struct Agent {
    pub sup: Arc<Supervisor>,
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
    /// Stop every replica when dropped (false after `crash`).
    cleanup: bool,
}

impl Agent {
    pub fn start(d: &Dirs) -> Agent {
        let sup = Supervisor::new(vec![exec_driver(d)], &d.state, &d.logs).expect("supervisor");
        let sup = Arc::new(sup);
        let stop = Arc::new(AtomicBool::new(false));
        let thread = {
            let (sup, stop) = (sup.clone(), stop.clone());
            std::thread::spawn(move || sup.run(&stop))
        };
        Agent {
            sup,
            stop,
            thread: Some(thread),
            cleanup: true,
        }
    }

    pub fn set(&self, base: &Path, specs: Vec<ServiceSpec>) {
        self.sup.set_desired(STACK, base, specs);
    }

    pub fn status(&self, name: &str) -> Option<ServiceStatus> {
        self.sup.service_status(STACK, name)
    }

    /// Waits until `cond` holds for the service's status; panics with the last status if not.
    pub fn wait(
        &self,
        name: &str,
        what: &str,
        cond: impl Fn(&ServiceStatus) -> bool,
    ) -> ServiceStatus {
        let deadline = Instant::now() + PATIENCE;
        let mut last = None;
        while Instant::now() < deadline {
            if let Some(s) = self.status(name) {
                if cond(&s) {
                    return s;
                }
                last = Some(s);
            }
            std::thread::sleep(ms(25));
        }
        panic!("timed out waiting for {what}; last status: {last:#?}");
    }

    /// The agent process dies: the loop stops, replicas keep running.
    pub fn crash(mut self) {
        self.cleanup = false;
        self.halt();
    }

    fn halt(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

impl Drop for Agent {
    fn drop(&mut self) {
        self.halt();
        if self.cleanup {
            let errors = self.sup.stop_all();
            assert!(errors.is_empty() || std::thread::panicking(), "{errors:?}");
        }
    }
}

/// All replicas present, of `version`, healthy.
pub fn all_healthy(s: &ServiceStatus, n: usize, version: &str) -> bool {
    s.replicas.len() == n && s.replicas.iter().all(|r| r.healthy && r.version == version)
}
