//! End-to-end tests of the services layer on real processes (python3's web server, `sh`): the
//! supervisor restarting, backing off, rolling out, reverting and adopting, and the exec
//! driver's stop, logs, environment and records. Must not assert wall-clock durations (only
//! orderings and lower bounds the code guarantees) and must not leave processes behind.

mod common;

use std::collections::BTreeMap;
use std::fs;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use baton_service::driver::{Driver, Liveness, ReplicaStart};
use baton_service::exec::{proc_stat, ExecDriver, ExecOpts, LogRotation};
use baton_service::restart::delay_for;
use baton_service::supervisor::{DeploymentState, ServiceStatus};
use common::*;
use nix::sys::signal::{killpg, Signal};
use nix::unistd::Pid;

#[test]
fn a_replica_killed_with_sigkill_is_back_and_healthy() {
    let d = dirs();
    let agent = Agent::start(&d);
    agent.set(&d.base, vec![spec("web", "v1", 1, web_command())]);
    let first = agent.wait("web", "a healthy replica", |s| all_healthy(s, 1, "v1"));
    let old = first.replicas[0].id.clone();
    let pgid: i32 = old.parse().expect("pgid");
    killpg(Pid::from_raw(pgid), Signal::SIGKILL).expect("kill");

    let back = agent.wait("web", "a new healthy replica", |s| {
        all_healthy(s, 1, "v1") && s.replicas[0].id != old
    });
    let r = &back.replicas[0];
    assert_eq!(r.restarts, 1);
    let exit = r.last_exit.as_ref().expect("the exit is recorded");
    assert_eq!(exit.signal, Some(9), "{exit:?}");
    // The new replica answers.
    let port = r.ports["http"];
    let status = baton_service::health::http_status(
        ([127, 0, 0, 1], port).into(),
        "/",
        Duration::from_secs(2),
    )
    .expect("the new replica answers");
    assert_eq!(status, 200);
}

#[test]
fn a_crash_looping_replica_backs_off_on_schedule() {
    let d = dirs();
    let agent = Agent::start(&d);
    let mut s = spec("crash", "v1", 1, shell("echo crashing >&2; exit 3"));
    s.health.clear();
    s.restart.delay = ms(50);
    s.restart.max_delay = ms(400);
    let policy = s.restart.clone();
    agent.set(&d.base, vec![s]);
    // Seven failures: the first six have been restarted (a status taken right after the
    // sixth failure would show its restart still waiting out its delay).
    let st = agent.wait("crash", "six restarts", |s| {
        s.slots.get(&0).is_some_and(|sl| sl.history.len() >= 7)
    });
    let slot = &st.slots[&0];
    let delays: Vec<Duration> = slot.history.iter().take(6).map(|e| e.delay).collect();
    let expected: Vec<Duration> = (1..=6).map(|n| delay_for(&policy, n)).collect();
    assert_eq!(
        expected,
        [ms(50), ms(100), ms(200), ms(400), ms(400), ms(400)]
    );
    assert_eq!(delays, expected);
    let mut previous = 0;
    for e in slot.history.iter().take(5) {
        let restarted = e.restarted_at_ms.expect("restarted");
        // Never restarted before its delay, and events in order.
        assert!(
            restarted >= e.failed_at_ms + e.delay.as_millis() as u64 - 1,
            "{e:?}"
        );
        assert!(e.failed_at_ms >= previous);
        previous = restarted;
    }
    let exit = slot.last_exit.as_ref().expect("exit");
    assert_eq!(exit.code, Some(3));
    assert!(slot.restarts >= 6);
    // The supervisor keeps each stack's logs in a directory of its own.
    let log = fs::read_to_string(d.logs.join(STACK).join("crash.0.err.log")).expect("log");
    assert!(
        log.lines().filter(|l| *l == "crashing").count() >= 6,
        "{log}"
    );
}

/// Samples a service's status on a thread until stopped.
struct Sampler {
    stop: Arc<AtomicBool>,
    samples: Arc<Mutex<Vec<ServiceStatus>>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Sampler {
    fn start(agent: &Agent, name: &str) -> Sampler {
        let stop = Arc::new(AtomicBool::new(false));
        let samples = Arc::new(Mutex::new(Vec::new()));
        let (sup, st, sa, name) = (
            agent.sup.clone(),
            stop.clone(),
            samples.clone(),
            name.to_owned(),
        );
        let thread = std::thread::spawn(move || {
            while !st.load(Ordering::Relaxed) {
                if let Some(s) = sup.service_status(STACK, &name) {
                    sa.lock().expect("samples").push(s);
                }
                std::thread::sleep(ms(5));
            }
        });
        Sampler {
            stop,
            samples,
            thread: Some(thread),
        }
    }

    fn finish(mut self) -> Vec<ServiceStatus> {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
        std::mem::take(&mut *self.samples.lock().expect("samples"))
    }
}

#[test]
fn a_failing_update_is_reverted_without_a_moment_of_zero_healthy_replicas() {
    let d = dirs();
    let agent = Agent::start(&d);
    agent.set(&d.base, vec![spec("web", "v1", 4, web_command())]);
    let before = agent.wait("web", "4 healthy v1 replicas", |s| {
        all_healthy(s, 4, "v1") && s.deployment == DeploymentState::Healthy
    });

    let sampler = Sampler::start(&agent, "web");
    // v2 never listens: its health check cannot pass.
    let mut bad = spec(
        "web",
        "v2",
        4,
        shell("exec python3 -c 'import time; time.sleep(600)'"),
    );
    bad.update.healthy_deadline = ms(1500);
    agent.set(&d.base, vec![bad]);
    let after = agent.wait("web", "the revert", |s| {
        matches!(s.deployment, DeploymentState::Reverted { .. }) && all_healthy(s, 4, "v1")
    });
    let samples = sampler.finish();

    assert!(
        samples
            .iter()
            .any(|s| s.replicas.iter().any(|r| r.version == "v2")),
        "a v2 replica was started"
    );
    let min_healthy = samples.iter().map(|s| s.healthy_count()).min().unwrap_or(0);
    assert!(
        min_healthy >= 1,
        "a moment with {min_healthy} healthy replicas"
    );
    match &after.deployment {
        DeploymentState::Reverted { reason } => assert!(reason.contains("v2"), "{reason}"),
        other => panic!("{other:?}"),
    }
    assert_eq!(after.version, "v2");
    assert_eq!(after.target_version, "v1");
    // The old replicas were never replaced: the failing slot kept its v1 replica.
    let ids = |s: &ServiceStatus| s.replicas.iter().map(|r| r.id.clone()).collect::<Vec<_>>();
    assert_eq!(ids(&before), ids(&after));
}

#[test]
fn a_good_update_rolls_through_one_at_a_time() {
    let d = dirs();
    let agent = Agent::start(&d);
    agent.set(&d.base, vec![spec("web", "v1", 4, web_command())]);
    let before = agent.wait("web", "4 healthy v1 replicas", |s| {
        all_healthy(s, 4, "v1") && s.deployment == DeploymentState::Healthy
    });

    let sampler = Sampler::start(&agent, "web");
    let mut v2 = spec("web", "v2", 4, web_command());
    v2.env.insert("COLOR".into(), "blue".into());
    agent.set(&d.base, vec![v2]);
    let after = agent.wait("web", "the rollout", |s| {
        s.deployment == DeploymentState::Healthy && all_healthy(s, 4, "v2")
    });
    let samples = sampler.finish();

    assert!(samples
        .iter()
        .any(|s| s.deployment == DeploymentState::RollingOut));
    let min_healthy = samples.iter().map(|s| s.healthy_count()).min().unwrap_or(0);
    assert!(
        min_healthy >= 3,
        "a moment with {min_healthy} healthy replicas"
    );
    // max_parallel = 1: one extra replica at a time, started before the old one is stopped.
    let most = samples.iter().map(|s| s.replicas.len()).max().unwrap_or(0);
    assert_eq!(most, 5, "replicas at once");
    let old: Vec<String> = before.replicas.iter().map(|r| r.id.clone()).collect();
    assert!(after.replicas.iter().all(|r| !old.contains(&r.id)));
    // Every new replica has its own port.
    let mut ports: Vec<u16> = after.replicas.iter().map(|r| r.ports["http"]).collect();
    ports.sort_unstable();
    ports.dedup();
    assert_eq!(ports.len(), 4);
}

/// A restart (`Handoff::request_restart`: the same spec with the next restart generation in
/// its version) replaces every replica, `max_parallel` at a time, never below the healthy
/// replicas the rollout keeps.
#[test]
fn a_restart_generation_rolls_every_replica_one_at_a_time() {
    let d = dirs();
    let agent = Agent::start(&d);
    agent.set(&d.base, vec![spec("web", "v1", 3, web_command())]);
    let before = agent.wait("web", "3 healthy v1 replicas", |s| {
        all_healthy(s, 3, "v1") && s.deployment == DeploymentState::Healthy
    });
    let sampler = Sampler::start(&agent, "web");
    let restarted = baton_service::handoff::restarted_version("v1");
    agent.set(&d.base, vec![spec("web", &restarted, 3, web_command())]);
    let after = agent.wait("web", "the restart", |s| {
        s.deployment == DeploymentState::Healthy && all_healthy(s, 3, &restarted)
    });
    let samples = sampler.finish();
    let min_healthy = samples.iter().map(|s| s.healthy_count()).min().unwrap_or(0);
    assert!(
        min_healthy >= 2,
        "a moment with {min_healthy} healthy replicas"
    );
    let most = samples.iter().map(|s| s.replicas.len()).max().unwrap_or(0);
    assert_eq!(most, 4, "max_parallel = 1: one extra replica at a time");
    let old: Vec<String> = before.replicas.iter().map(|r| r.id.clone()).collect();
    assert!(
        after.replicas.iter().all(|r| !old.contains(&r.id)),
        "every replica restarted"
    );
}

#[test]
fn a_restarted_agent_adopts_running_replicas() {
    let d = dirs();
    let agent = Agent::start(&d);
    agent.set(&d.base, vec![spec("web", "v1", 2, web_command())]);
    let before = agent.wait("web", "2 healthy replicas", |s| {
        all_healthy(s, 2, "v1") && s.deployment == DeploymentState::Healthy
    });
    let starts: BTreeMap<String, u64> = before
        .replicas
        .iter()
        .map(|r| {
            let pid = r.id.parse().expect("pid");
            (r.id.clone(), proc_stat(pid).expect("running").start_time)
        })
        .collect();
    agent.crash();

    // A new agent: new driver, new supervisor, nothing but the state directory in common, and
    // no `set_desired`: it resumes from what it persisted.
    let agent = Agent::start(&d);
    let after = agent.wait("web", "adopted healthy replicas", |s| {
        all_healthy(s, 2, "v1")
    });
    // Give it a few more reconciliations to do something wrong.
    std::thread::sleep(ms(500));
    let later = agent.status("web").expect("status");
    for s in [&after, &later] {
        let ids: Vec<&String> = s.replicas.iter().map(|r| &r.id).collect();
        assert_eq!(ids, starts.keys().collect::<Vec<_>>());
        assert!(s.replicas.iter().all(|r| r.restarts == 0));
    }
    for (id, start) in &starts {
        let pid = id.parse().expect("pid");
        assert_eq!(
            proc_stat(pid).map(|s| s.start_time),
            Some(*start),
            "{id} kept running"
        );
    }
    assert_eq!(later.deployment, DeploymentState::Healthy);
}

fn start_one(
    driver: &ExecDriver,
    spec: &baton_service::spec::ServiceSpec,
    d: &Dirs,
    ports: BTreeMap<String, u16>,
) -> baton_service::driver::Replica {
    driver
        .start(&ReplicaStart {
            stack: STACK,
            spec,
            index: 0,
            ports,
            log_dir: d.logs.clone(),
            base_dir: d.base.clone(),
        })
        .expect("start")
}

fn wait_until(what: &str, mut cond: impl FnMut() -> bool) {
    let deadline = Instant::now() + PATIENCE;
    while !cond() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(ms(20));
    }
}

#[test]
fn stop_sends_the_stop_signal_then_sigkills_the_whole_group() {
    let d = dirs();
    let driver = ExecDriver::new(d.state.join("exec"));
    let marker = d.base.join("got-term");
    let script = format!(
        "trap 'echo term >> {m}' TERM; sleep 600 & echo $! > {m}.child; while :; do sleep 0.05; done",
        m = marker.display()
    );
    let s = spec("stubborn", "v1", 1, shell(&script));
    let r = start_one(&driver, &s, &d, BTreeMap::new());
    let child_file = d.base.join("got-term.child");
    // The shell creates the file before it writes the pid: wait for the whole line.
    wait_until("the background child", || {
        fs::read_to_string(&child_file).is_ok_and(|t| t.ends_with('\n'))
    });
    let child: i32 = fs::read_to_string(&child_file)
        .expect("child pid")
        .trim()
        .parse()
        .expect("a pid");
    assert_eq!(driver.liveness(&r), Liveness::Running);

    driver.stop(&r, "SIGTERM", ms(300)).expect("stop");
    let got = fs::read_to_string(&marker).unwrap_or_default();
    assert!(got.contains("term"), "the stop signal was delivered first");
    let pid: i32 = r.id.parse().expect("pid");
    for p in [pid, child] {
        let alive = proc_stat(p).is_some_and(|s| s.state != 'Z' && s.pgrp == pid);
        assert!(!alive, "process {p} of the group survived");
    }
    assert_eq!(driver.liveness(&r), Liveness::Gone);
    assert!(driver.list(STACK).expect("list").is_empty());
}

#[test]
fn a_cooperative_replica_stops_on_its_signal() {
    let d = dirs();
    let driver = ExecDriver::new(d.state.join("exec"));
    let marker = d.base.join("got-int");
    let ready = d.base.join("trap-set");
    let script = format!(
        "trap 'echo int > {}; exit 7' INT; : > {}; while :; do sleep 0.05; done",
        marker.display(),
        ready.display()
    );
    let s = spec("polite", "v1", 1, shell(&script));
    let r = start_one(&driver, &s, &d, BTreeMap::new());
    // A signal that comes before the trap is set ends the shell without it (a loaded machine).
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    while !ready.exists() && std::time::Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(5));
    }
    assert_eq!(driver.list(STACK).expect("list"), std::slice::from_ref(&r));
    driver
        .stop(&r, "INT", Duration::from_secs(30))
        .expect("stop");
    assert_eq!(fs::read_to_string(&marker).unwrap_or_default(), "int\n");
    assert_eq!(driver.liveness(&r), Liveness::Gone);
    assert!(driver.list(STACK).expect("list").is_empty());
}

#[test]
fn logs_rotate_by_size() {
    let d = dirs();
    let driver = ExecDriver::with_opts(
        d.state.join("exec"),
        ExecOpts {
            rotation: LogRotation {
                max_bytes: 2000,
                keep: 2,
            },
            cgroup_root: None,
        },
    );
    let s = spec(
        "chatty",
        "v1",
        1,
        shell("while :; do echo 0123456789012345678901234567890123456789; sleep 0.005; done"),
    );
    let r = start_one(&driver, &s, &d, BTreeMap::new());
    let log = d.logs.join("chatty.0.out.log");
    let second = d.logs.join("chatty.0.out.log.2");
    wait_until("two rotations", || {
        driver.liveness(&r);
        second.exists()
    });
    driver.stop(&r, "KILL", ms(100)).expect("stop");
    let first = fs::metadata(d.logs.join("chatty.0.out.log.1"))
        .expect(".1")
        .len();
    assert!(
        first >= 2000,
        "a rotated file holds at least the limit: {first}"
    );
    assert!(!d.logs.join("chatty.0.out.log.3").exists());
    let text = fs::read_to_string(d.logs.join("chatty.0.out.log.1")).expect(".1");
    assert!(text
        .lines()
        .any(|l| l == "0123456789012345678901234567890123456789"));
    assert!(log.exists());
}

#[test]
fn a_replica_gets_its_environment_working_directory_and_user() {
    let d = dirs();
    let driver = ExecDriver::new(d.state.join("exec"));
    fs::create_dir_all(d.base.join("www")).expect("workdir");
    let mut s = spec(
        "env",
        "v1",
        1,
        shell("echo \"$PORT $PORT_HTTP $PORT_ADMIN_UI $GREETING\"; pwd; id -u; exec sleep 600"),
    );
    s.ports = vec!["http".into(), "admin-ui".into()];
    s.env.insert("GREETING".into(), "hello".into());
    s.workdir = Some("www".into());
    let as_nobody = nix::unistd::geteuid().is_root();
    if as_nobody {
        s.user = Some("nobody".into());
        // nobody must be able to enter the directory.
        let _ = std::process::Command::new("chmod")
            .args(["-R", "a+rx"])
            .arg(&d.base)
            .status();
    }
    let ports = BTreeMap::from([("http".to_owned(), 41001), ("admin-ui".to_owned(), 41002)]);
    let r = start_one(&driver, &s, &d, ports);
    let log = d.logs.join("env.0.out.log");
    wait_until("the output", || {
        fs::read_to_string(&log).is_ok_and(|t| t.lines().count() >= 3)
    });
    driver.stop(&r, "TERM", ms(500)).expect("stop");
    let text = fs::read_to_string(&log).expect("log");
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines[0], "41001 41001 41002 hello");
    assert!(lines[1].ends_with("/www"), "{text}");
    if as_nobody {
        let (uid, _) = baton_service::exec::lookup_user("nobody").expect("nobody");
        assert_eq!(lines[2], uid.to_string());
    }
}

#[test]
fn a_record_whose_pid_was_reused_is_not_listed() {
    let d = dirs();
    let driver = ExecDriver::new(d.state.join("exec"));
    let s = spec("reuse", "v1", 1, shell("exec sleep 600"));
    let r = start_one(&driver, &s, &d, BTreeMap::new());
    // A restarted agent finds it.
    let fresh = ExecDriver::new(d.state.join("exec"));
    assert_eq!(fresh.list(STACK).expect("list"), std::slice::from_ref(&r));
    assert_eq!(fresh.liveness(&r), Liveness::Running);
    // Pretend the PID now belongs to another process: the record's start time differs.
    let record = d
        .state
        .join("exec")
        .join(STACK)
        .join(format!("reuse.0.{}.json", r.id));
    let text = fs::read_to_string(&record).expect("record");
    let mut v: serde_json::Value = serde_json::from_str(&text).expect("json");
    v["start_time"] = serde_json::json!(1);
    fs::write(&record, v.to_string()).expect("write");
    let other = ExecDriver::new(d.state.join("exec"));
    assert_eq!(other.liveness(&r), Liveness::Gone);
    // Not ours any more: stop must not signal it.
    other.stop(&r, "KILL", ms(100)).expect("stop");
    assert_eq!(
        driver.liveness(&r),
        Liveness::Running,
        "the process was left alone"
    );
    assert!(other.list(STACK).expect("list").is_empty());
    driver.stop(&r, "KILL", ms(100)).expect("stop");
}

#[test]
fn a_replica_that_turns_unhealthy_is_restarted() {
    let d = dirs();
    let agent = Agent::start(&d);
    let marker = d.base.join("ok");
    fs::write(&marker, "").expect("marker");
    let mut s = spec("flaky", "v1", 1, shell("exec sleep 600"));
    s.ports.clear();
    s.health = vec![baton_service::spec::HealthCheck {
        kind: baton_service::spec::CheckKind::Command,
        command: shell("test -f \"$MARKER\""),
        ..http_check()
    }];
    s.env
        .insert("MARKER".into(), marker.to_string_lossy().into_owned());
    agent.set(&d.base, vec![s]);
    let first = agent.wait("flaky", "healthy", |s| all_healthy(s, 1, "v1"));
    let old = first.replicas[0].id.clone();
    fs::remove_file(&marker).expect("remove");
    let st = agent.wait("flaky", "a restart", |s| {
        s.slots.get(&0).is_some_and(|sl| sl.restarts >= 1)
    });
    let exit = st.slots[&0].last_exit.clone().expect("exit");
    assert_eq!(exit.reason, "unhealthy");
    fs::write(&marker, "").expect("marker");
    let back = agent.wait("flaky", "a new healthy replica", |s| {
        all_healthy(s, 1, "v1") && s.replicas[0].id != old
    });
    assert!(back.replicas[0].restarts >= 1);
    let pid: i32 = old.parse().expect("pid");
    wait_until("the unhealthy replica gone", || {
        proc_stat(pid).is_none_or(|s| s.state == 'Z' || s.pgrp != pid)
    });
}

#[test]
fn replicas_that_should_not_exist_are_stopped() {
    let d = dirs();
    let agent = Agent::start(&d);
    let mut a = spec("a", "v1", 3, shell("exec sleep 600"));
    a.health.clear();
    let mut b = a.clone();
    b.name = "b".into();
    agent.set(&d.base, vec![a.clone(), b]);
    let three = agent.wait("a", "3 replicas", |s| all_healthy(s, 3, "v1"));
    agent.wait("b", "3 replicas", |s| all_healthy(s, 3, "v1"));
    a.replicas = 1;
    agent.set(&d.base, vec![a]);
    let one = agent.wait("a", "1 replica", |s| s.replicas.len() == 1);
    assert_eq!(one.replicas[0].index, 0);
    assert_eq!(
        one.replicas[0].id, three.replicas[0].id,
        "scaling is not a rollout"
    );
    wait_until("service b forgotten", || agent.status("b").is_none());
    for r in &three.replicas[1..] {
        let pid: i32 = r.id.parse().expect("pid");
        wait_until("the extra replica gone", || {
            proc_stat(pid).is_none_or(|s| s.state == 'Z' || s.pgrp != pid)
        });
    }
}

#[test]
fn a_failing_update_without_auto_revert_fails_and_keeps_the_old_replicas() {
    let d = dirs();
    let agent = Agent::start(&d);
    agent.set(&d.base, vec![spec("web", "v1", 2, web_command())]);
    let before = agent.wait("web", "2 healthy v1 replicas", |s| {
        all_healthy(s, 2, "v1") && s.deployment == DeploymentState::Healthy
    });
    let mut bad = spec("web", "v2", 2, shell("exec sleep 600"));
    bad.update.auto_revert = false;
    bad.update.healthy_deadline = ms(800);
    agent.set(&d.base, vec![bad]);
    let after = agent.wait("web", "the failure", |s| {
        matches!(s.deployment, DeploymentState::Failed { .. }) && all_healthy(s, 2, "v1")
    });
    let ids = |s: &ServiceStatus| s.replicas.iter().map(|r| r.id.clone()).collect::<Vec<_>>();
    assert_eq!(ids(&before), ids(&after));
    // The failed version is not tried again on the next passes.
    std::thread::sleep(ms(300));
    let later = agent.status("web").expect("status");
    assert!(later.replicas.iter().all(|r| r.version == "v1"));
    assert!(matches!(later.deployment, DeploymentState::Failed { .. }));
}

#[test]
fn used_up_restart_attempts_fail_the_deployment() {
    let d = dirs();
    let agent = Agent::start(&d);
    let mut s = spec("crash", "v1", 1, shell("exit 1"));
    s.health.clear();
    s.restart.delay = ms(20);
    s.restart.attempts = Some(2);
    s.restart.on_exhausted = baton_service::spec::OnExhausted::Fail;
    agent.set(&d.base, vec![s]);
    let st = agent.wait("crash", "the failure", |s| {
        matches!(s.deployment, DeploymentState::Failed { .. })
    });
    let slot = &st.slots[&0];
    assert!(slot.exhausted);
    assert_eq!(slot.restarts, 2);
    std::thread::sleep(ms(200));
    let later = agent.status("crash").expect("status");
    assert!(later.replicas.is_empty());
    assert_eq!(later.slots[&0].restarts, 2);
}

#[test]
fn limits_are_written_to_the_replica_cgroup() {
    // A directory standing in for a cgroup2 mount: the files the kernel would read.
    let d = dirs();
    let root = d.base.join("cgroup");
    fs::create_dir_all(&root).expect("root");
    let driver = ExecDriver::with_opts(
        d.state.join("exec"),
        ExecOpts {
            rotation: LogRotation::default(),
            cgroup_root: Some(root.clone()),
        },
    );
    let mut s = spec("limited", "v1", 1, shell("exec sleep 600"));
    s.limits.memory = Some(64 * 1024 * 1024);
    s.limits.cpu_millis = Some(250);
    let r = start_one(&driver, &s, &d, BTreeMap::new());
    let group = root
        .join("baton")
        .join(STACK)
        .join(format!("limited-0-{}", r.id));
    let read = |f: &str| fs::read_to_string(group.join(f)).unwrap_or_default();
    assert_eq!(read("memory.max"), "67108864");
    assert_eq!(read("cpu.max"), "25000 100000");
    assert_eq!(read("cgroup.procs"), r.id);
    driver.stop(&r, "TERM", ms(500)).expect("stop");
}

fn ids(s: &ServiceStatus) -> Vec<String> {
    s.replicas.iter().map(|r| r.id.clone()).collect()
}

#[test]
fn a_canary_update_runs_canaries_beside_the_old_replicas_then_promotes() {
    let d = dirs();
    let agent = Agent::start(&d);
    agent.set(&d.base, vec![spec("web", "v1", 3, web_command())]);
    let before = agent.wait("web", "3 healthy v1 replicas", |s| {
        all_healthy(s, 3, "v1") && s.deployment == DeploymentState::Healthy
    });
    let old = ids(&before);

    let sampler = Sampler::start(&agent, "web");
    let mut v2 = spec("web", "v2", 3, web_command());
    v2.update.canary = 2;
    agent.set(&d.base, vec![v2]);
    let after = agent.wait("web", "the promoted rollout", |s| {
        s.deployment == DeploymentState::Healthy && all_healthy(s, 3, "v2")
    });
    let samples = sampler.finish();

    // The canary phase: both canaries beside all three old replicas.
    assert!(
        samples.iter().any(|s| {
            s.replicas.len() == 5
                && old.iter().all(|id| s.replicas.iter().any(|r| &r.id == id))
                && s.replicas
                    .iter()
                    .filter(|r| r.version == "v2")
                    .map(|r| r.index)
                    .collect::<Vec<_>>()
                    == [0, 1]
        }),
        "a moment with 3 old replicas and 2 canaries"
    );
    let most = samples.iter().map(|s| s.replicas.len()).max().unwrap_or(0);
    assert_eq!(most, 5, "replicas at once");
    for s in &samples {
        let all_old = old.iter().all(|id| s.replicas.iter().any(|r| &r.id == id));
        let slot2_new = s.replicas.iter().any(|r| r.index == 2 && r.version == "v2");
        // Nothing beyond the canaries is replaced before the promotion, and no old replica
        // goes before it.
        assert!(
            !(all_old && slot2_new),
            "slot 2 replaced before the promotion: {s:?}"
        );
        if !all_old {
            // An old replica goes only after the promotion: both canaries there and healthy.
            for index in [0, 1] {
                assert!(
                    s.replicas
                        .iter()
                        .any(|r| r.index == index && r.version == "v2" && r.healthy),
                    "an old replica stopped during the canary phase: {s:?}"
                );
            }
        }
    }
    assert!(after.replicas.iter().all(|r| !old.contains(&r.id)));
    let indexes: Vec<u32> = after.replicas.iter().map(|r| r.index).collect();
    assert_eq!(indexes, [0, 1, 2]);
}

fn bad_canary(auto_revert: bool) -> (ServiceStatus, ServiceStatus, Vec<ServiceStatus>) {
    let d = dirs();
    let agent = Agent::start(&d);
    agent.set(&d.base, vec![spec("web", "v1", 2, web_command())]);
    let before = agent.wait("web", "2 healthy v1 replicas", |s| {
        all_healthy(s, 2, "v1") && s.deployment == DeploymentState::Healthy
    });
    let sampler = Sampler::start(&agent, "web");
    // v2 never listens: its health check cannot pass.
    let mut bad = spec("web", "v2", 2, shell("exec sleep 600"));
    bad.update.canary = 1;
    // Without the canary phase, both slots would get a v2 replica at once.
    bad.update.max_parallel = 2;
    bad.update.auto_revert = auto_revert;
    bad.update.healthy_deadline = ms(800);
    agent.set(&d.base, vec![bad]);
    let after = agent.wait("web", "the failed canary", |s| {
        matches!(
            s.deployment,
            DeploymentState::Failed { .. } | DeploymentState::Reverted { .. }
        ) && all_healthy(s, 2, "v1")
    });
    let samples = sampler.finish();
    (before, after, samples)
}

fn assert_canary_failed(before: &ServiceStatus, after: &ServiceStatus, samples: &[ServiceStatus]) {
    assert_eq!(ids(before), ids(after), "the old replicas are untouched");
    assert!(
        samples
            .iter()
            .any(|s| s.replicas.iter().any(|r| r.version == "v2")),
        "a canary was started"
    );
    for s in samples {
        assert!(
            s.replicas.iter().all(|r| r.version == "v1" || r.index == 0),
            "only the canary's slot got a v2 replica: {s:?}"
        );
        assert!(s.replicas.len() <= 3, "{s:?}");
        assert!(
            ids(before)
                .iter()
                .all(|id| s.replicas.iter().any(|r| &r.id == id)),
            "an old replica stopped: {s:?}"
        );
    }
}

#[test]
fn a_failing_canary_is_stopped_and_reverted_leaving_the_old_replicas() {
    let (before, after, samples) = bad_canary(true);
    assert_canary_failed(&before, &after, &samples);
    match &after.deployment {
        DeploymentState::Reverted { reason } => assert!(reason.contains("v2"), "{reason}"),
        other => panic!("{other:?}"),
    }
    assert_eq!(after.target_version, "v1");
}

#[test]
fn a_failing_canary_without_auto_revert_fails_leaving_the_old_replicas() {
    let (before, after, samples) = bad_canary(false);
    assert_canary_failed(&before, &after, &samples);
    assert!(
        matches!(&after.deployment, DeploymentState::Failed { reason } if reason.contains("v2")),
        "{:?}",
        after.deployment
    );
}

#[test]
fn a_rollout_without_progress_fails_at_the_progress_deadline() {
    let d = dirs();
    let agent = Agent::start(&d);
    agent.set(&d.base, vec![spec("web", "v1", 2, web_command())]);
    let before = agent.wait("web", "2 healthy v1 replicas", |s| {
        all_healthy(s, 2, "v1") && s.deployment == DeploymentState::Healthy
    });
    let mut bad = spec("web", "v2", 2, shell("exec sleep 600"));
    // The healthy deadline is far off: only the progress deadline can end this rollout.
    bad.update.healthy_deadline = Duration::from_secs(600);
    bad.update.progress_deadline = ms(800);
    agent.set(&d.base, vec![bad]);
    let after = agent.wait("web", "the revert", |s| {
        matches!(s.deployment, DeploymentState::Reverted { .. }) && all_healthy(s, 2, "v1")
    });
    match &after.deployment {
        DeploymentState::Reverted { reason } => {
            assert!(reason.contains("progress_deadline"), "{reason}");
            assert!(reason.contains("v2"), "{reason}");
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(ids(&before), ids(&after));
}

#[test]
fn a_restarted_replica_keeps_its_port_unless_someone_else_took_it() {
    let d = dirs();
    let agent = Agent::start(&d);
    let mut s = spec("web", "v1", 2, web_command());
    // Long enough for the test to take the port between the kill and the restart.
    s.restart.delay = ms(1500);
    s.restart.max_delay = ms(1500);
    agent.set(&d.base, vec![s]);
    let first = agent.wait("web", "2 healthy replicas", |s| all_healthy(s, 2, "v1"));
    let by_index = |s: &ServiceStatus, i: u32| {
        s.replicas
            .iter()
            .find(|r| r.index == i)
            .map(|r| (r.id.clone(), r.ports["http"]))
    };
    let by_index = |s: &ServiceStatus, i: u32| by_index(s, i).expect("replica present");
    let replaced =
        |s: &ServiceStatus, old: &str| s.replicas.iter().any(|r| r.index == 0 && r.id != old);
    let (id0, port0) = by_index(&first, 0);
    let (id1, port1) = by_index(&first, 1);
    assert_eq!(first.slots[&0].ports.get("http"), Some(&port0));

    // Killed, replica 0 comes back on its port; replica 1 is untouched.
    killpg(Pid::from_raw(id0.parse().expect("pgid")), Signal::SIGKILL).expect("kill");
    let back = agent.wait("web", "replica 0 back and healthy", |s| {
        all_healthy(s, 2, "v1") && replaced(s, &id0)
    });
    let (id0b, port0b) = by_index(&back, 0);
    assert_eq!(port0b, port0, "replica 0 moved to another port");
    assert_eq!(by_index(&back, 1), (id1.clone(), port1));
    assert_eq!(back.slots[&0].restarts, 1);

    // The slot's port is persisted: a restarted agent, told nothing, adopts the replicas and
    // still restarts replica 0 on it.
    agent.crash();
    let agent = Agent::start(&d);
    agent.wait("web", "the adopted replicas", |s| all_healthy(s, 2, "v1"));
    killpg(Pid::from_raw(id0b.parse().expect("pgid")), Signal::SIGKILL).expect("kill");
    let back = agent.wait("web", "replica 0 back after the agent restart", |s| {
        all_healthy(s, 2, "v1") && replaced(s, &id0b)
    });
    let (id0b, port0b) = by_index(&back, 0);
    assert_eq!(port0b, port0, "replica 0 moved after the agent restart");

    // Killed again while someone else takes its port: it comes back on a new one.
    killpg(Pid::from_raw(id0b.parse().expect("pgid")), Signal::SIGKILL).expect("kill");
    let mut squatter = None;
    wait_until("the killed replica's port to be free", || {
        squatter = std::net::TcpListener::bind(("127.0.0.1", port0)).ok();
        squatter.is_some()
    });
    let moved = agent.wait("web", "replica 0 back on another port", |s| {
        all_healthy(s, 2, "v1") && replaced(s, &id0b)
    });
    let (_, port0c) = by_index(&moved, 0);
    assert_ne!(
        port0c, port0,
        "replica 0 took a port someone else listens on"
    );
    assert_ne!(port0c, port1);
    assert_eq!(moved.slots[&0].ports.get("http"), Some(&port0c));
    assert_eq!(moved.slots[&0].restarts, 3);
    drop(squatter);
}

/// Serves 200 while `$MARKER` exists, 500 otherwise; on SIGTERM it keeps its socket open for
/// 1.5 s before it exits (a slow graceful stop).
const SLOW_STOPPER: &str = r#"
import http.server, os, signal, time
def term(*_):
    time.sleep(1.5)
    os._exit(0)
signal.signal(signal.SIGTERM, term)
class H(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        self.send_response(200 if os.path.exists(os.environ["MARKER"]) else 500)
        self.end_headers()
    def log_message(self, *_):
        pass
http.server.HTTPServer(("127.0.0.1", int(os.environ["PORT"])), H).serve_forever()
"#;

#[test]
fn an_unhealthy_replica_is_restarted_on_its_port_once_its_slow_stop_ends() {
    let d = dirs();
    let agent = Agent::start(&d);
    let marker = d.base.join("ok");
    fs::write(&marker, "").expect("marker");
    let mut s = spec(
        "slow",
        "v1",
        1,
        vec!["python3".into(), "-c".into(), SLOW_STOPPER.into()],
    );
    s.env
        .insert("MARKER".into(), marker.to_string_lossy().into_owned());
    // The restart is due long before the old replica lets go of its port.
    s.restart.delay = ms(100);
    s.kill_timeout = Duration::from_secs(10);
    agent.set(&d.base, vec![s]);
    let first = agent.wait("slow", "healthy", |s| all_healthy(s, 1, "v1"));
    let (old, port) = (
        first.replicas[0].id.clone(),
        first.replicas[0].ports["http"],
    );

    fs::remove_file(&marker).expect("remove the marker");
    agent.wait("slow", "the unhealthy replica to be stopped", |s| {
        s.slots.get(&0).is_some_and(|sl| sl.restarts >= 1)
    });
    fs::write(&marker, "").expect("marker");
    let back = agent.wait("slow", "a new healthy replica", |s| {
        all_healthy(s, 1, "v1") && s.replicas[0].id != old
    });
    let slot = &back.slots[&0];
    assert_eq!(
        slot.last_exit.as_ref().map(|e| e.reason.as_str()),
        Some("unhealthy")
    );
    assert_eq!(back.replicas[0].ports["http"], port, "the replica moved");
    // It waited for the stop: it started after the old one let go, not at its due time.
    let ev = slot.history.last().expect("a restart event");
    let restarted = ev.restarted_at_ms.expect("restarted");
    assert!(
        restarted >= ev.failed_at_ms + 1500,
        "restarted {} ms after the failure, while the old replica still stopped: {ev:?}",
        restarted - ev.failed_at_ms
    );
}
