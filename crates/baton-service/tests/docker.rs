//! The docker driver against a real daemon and a real image (`baton_service::testing`: a
//! `dockerd` of this process's own unless `BATON_TEST_DOCKER_HOST` names one, and busybox
//! imported from Debian's `busybox-static`). Containers use host networking, since the test
//! daemon runs without a bridge. Each test works in a stack of its own.

use std::collections::{BTreeMap, HashMap};
use std::io::{Read, Write};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use std::ops::ControlFlow;

use baton_service::docker::{DockerDriver, DockerOpts, LogStream, LogsOpts};
use baton_service::driver::{Driver, DriverError, Liveness, Replica, ReplicaStart};
use baton_service::spec::ServiceSpec;
use baton_service::testing::{client, docker_spec, free_port, TestDocker};
use bollard::query_parameters::{EventsOptions, KillContainerOptions};
use futures_util::StreamExt;

fn daemon() -> &'static TestDocker {
    match TestDocker::start() {
        Ok(d) => d,
        Err(e) => panic!("no Docker daemon for the tests: {e}"),
    }
}

/// Stops whatever is left of a stack when a test ends, also when it fails.
struct Cleanup<'a> {
    driver: &'a DockerDriver,
    stack: String,
}

impl Drop for Cleanup<'_> {
    fn drop(&mut self) {
        for r in self.driver.list(&self.stack).unwrap_or_default() {
            let _ = self.driver.stop(&r, "KILL", Duration::ZERO);
        }
    }
}

fn start(driver: &DockerDriver, stack: &str, spec: &ServiceSpec, index: u32) -> Replica {
    let dir = tempfile::tempdir().expect("tempdir");
    let ports: BTreeMap<String, u16> = spec
        .ports
        .iter()
        .map(|p| (p.clone(), free_port().expect("free port")))
        .collect();
    let r = ReplicaStart {
        stack,
        spec,
        index,
        ports,
        log_dir: dir.path().join("logs"),
        base_dir: dir.path().to_path_buf(),
    };
    match driver.start(&r) {
        Ok(replica) => replica,
        Err(e) => panic!("start of replica {index}: {e}"),
    }
}

/// Polls `f` until it returns `Some`, for at most a minute (a bound, not a measurement).
fn eventually<T>(what: &str, mut f: impl FnMut() -> Option<T>) -> T {
    for _ in 0..600 {
        if let Some(v) = f() {
            return v;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    panic!("gave up waiting: {what}");
}

fn http_get(port: u16) -> Option<String> {
    let mut s = std::net::TcpStream::connect(("127.0.0.1", port)).ok()?;
    s.set_read_timeout(Some(Duration::from_secs(10))).ok()?;
    s.write_all(b"GET / HTTP/1.0\r\nHost: localhost\r\n\r\n")
        .ok()?;
    let mut out = String::new();
    s.read_to_string(&mut out).ok()?;
    Some(out)
}

fn now_secs() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

/// The daemon's events for one container between two moments: (action, attributes).
fn events(since: u64, until: u64, id: &str) -> Vec<(String, HashMap<String, String>)> {
    let (rt, docker) = client(daemon()).expect("client");
    rt.block_on(async {
        let mut s = docker.events(Some(EventsOptions {
            since: Some(since.to_string()),
            until: Some(until.to_string()),
            filters: Some(HashMap::from([(
                "container".to_string(),
                vec![id.to_string()],
            )])),
        }));
        let mut out = Vec::new();
        while let Some(e) = s.next().await {
            let e = e.expect("event");
            out.push((
                e.action.unwrap_or_default(),
                e.actor.and_then(|a| a.attributes).unwrap_or_default(),
            ));
        }
        out
    })
}

/// The signals the daemon was asked to send, in order, and the exit code it saw.
fn kills_and_exit(events: &[(String, HashMap<String, String>)]) -> (Vec<String>, Option<String>) {
    let kills = events
        .iter()
        .filter(|(a, _)| a == "kill")
        .filter_map(|(_, attrs)| attrs.get("signal").cloned())
        .collect();
    let exit = events
        .iter()
        .find(|(a, _)| a == "die")
        .and_then(|(_, attrs)| attrs.get("exitCode").cloned());
    (kills, exit)
}

const HTTPD: &[&str] = &[
    "sh",
    "-c",
    "mkdir -p /tmp/www && echo \"replica on $PORT_HTTP\" > /tmp/www/index.html \
     && exec httpd -f -p 127.0.0.1:$PORT -h /tmp/www",
];

#[test]
fn two_httpd_replicas_serve_on_their_host_ports_and_a_new_driver_adopts_them() {
    let docker = daemon();
    let driver = docker.driver();
    let stack = docker.stack("httpd");
    let _cleanup = Cleanup {
        driver: &driver,
        stack: stack.clone(),
    };
    let spec = ServiceSpec {
        replicas: 2,
        ..docker_spec("web", HTTPD)
    };
    // One driver, used from two threads at once (as the loop may).
    let started: Vec<Replica> = std::thread::scope(|s| {
        let a = s.spawn(|| start(&driver, &stack, &spec, 0));
        let b = s.spawn(|| start(&driver, &stack, &spec, 1));
        vec![a.join().expect("replica 0"), b.join().expect("replica 1")]
    });
    for r in &started {
        let port = r.ports["http"];
        let body = eventually(&format!("httpd on port {port}"), || {
            http_get(port).filter(|b| b.starts_with("HTTP/1.") && b.contains(" 200 "))
        });
        assert!(
            body.contains(&format!("replica on {port}")),
            "port {port} answered: {body}"
        );
        assert_eq!(driver.liveness(r), Liveness::Running);
    }

    // An agent that restarts has a new driver, which finds both by their labels alone.
    let adopted = docker.driver().list(&stack).expect("list");
    assert_eq!(adopted, started);
    assert_eq!(
        docker.driver().list(&docker.stack("other")).expect("list"),
        vec![]
    );

    for r in &started {
        driver
            .stop(r, &spec.stop_signal, spec.kill_timeout)
            .expect("stop");
        assert_eq!(driver.liveness(r), Liveness::Gone);
    }
    assert_eq!(driver.list(&stack).expect("list"), vec![]);
}

#[test]
fn a_replica_killed_with_sigkill_shows_exited_by_signal_9() {
    let docker = daemon();
    let driver = docker.driver();
    let stack = docker.stack("sigkill");
    let _cleanup = Cleanup {
        driver: &driver,
        stack: stack.clone(),
    };
    let spec = docker_spec("sleeper", &["sleep", "1000"]);
    let r = start(&driver, &stack, &spec, 0);
    assert_eq!(driver.liveness(&r), Liveness::Running);

    // `docker kill` (SIGKILL is its default).
    let (rt, client) = client(docker).expect("client");
    rt.block_on(client.kill_container(
        &r.id,
        Some(KillContainerOptions {
            signal: "SIGKILL".to_string(),
        }),
    ))
    .expect("docker kill");
    let ended = eventually("the killed replica to end", || {
        Some(driver.liveness(&r)).filter(|l| *l != Liveness::Running)
    });
    assert_eq!(
        ended,
        Liveness::Exited {
            code: None,
            signal: Some(9)
        }
    );
    // An ended container is no replica: the loop starts the slot again.
    assert_eq!(driver.list(&stack).expect("list"), vec![]);

    // The same slot starts again although the ended container still holds its name.
    let again = start(&driver, &stack, &spec, 0);
    assert_ne!(again.id, r.id);
    assert_eq!(driver.liveness(&r), Liveness::Gone);
    assert_eq!(driver.liveness(&again), Liveness::Running);
    driver
        .stop(&again, "TERM", spec.kill_timeout)
        .expect("stop");
}

#[test]
fn a_replica_that_exits_shows_its_exit_code() {
    let docker = daemon();
    let driver = docker.driver();
    let stack = docker.stack("exit");
    let _cleanup = Cleanup {
        driver: &driver,
        stack: stack.clone(),
    };
    let spec = docker_spec("short", &["sh", "-c", "exit 3"]);
    let r = start(&driver, &stack, &spec, 0);
    let ended = eventually("the replica to exit", || {
        Some(driver.liveness(&r)).filter(|l| *l != Liveness::Running)
    });
    assert_eq!(
        ended,
        Liveness::Exited {
            code: Some(3),
            signal: None
        }
    );
    // Stopping an ended replica removes its container.
    driver.stop(&r, "TERM", spec.kill_timeout).expect("stop");
    assert_eq!(driver.liveness(&r), Liveness::Gone);
}

#[test]
fn stop_sends_the_stop_signal_and_sigkill_only_after_it_is_ignored() {
    let docker = daemon();
    let driver = docker.driver();
    let stack = docker.stack("stop");
    let _cleanup = Cleanup {
        driver: &driver,
        stack: stack.clone(),
    };
    let ready = tempfile::tempdir().expect("tempdir");
    let mut stubborn = docker_spec(
        "stubborn",
        &["sh", "-c", "trap '' TERM; touch /ready/trapped; sleep 1000"],
    );
    stubborn.mounts = vec![format!("{}:/ready", ready.path().display())];
    let polite = docker_spec("polite", &["sleep", "1000"]);
    let a = start(&driver, &stack, &stubborn, 0);
    let b = start(&driver, &stack, &polite, 0);
    // The trap must be set before the stop signal comes.
    eventually("the trap to be set", || {
        ready.path().join("trapped").exists().then_some(())
    });

    let since = now_secs();
    driver
        .stop(&a, "TERM", Duration::from_secs(1))
        .expect("stop stubborn");
    driver
        .stop(&b, "TERM", Duration::from_secs(30))
        .expect("stop polite");
    assert_eq!(driver.liveness(&a), Liveness::Gone);
    assert_eq!(driver.liveness(&b), Liveness::Gone);
    let until = now_secs() + 1;

    // The daemon's own record: TERM ignored, then KILL after kill_timeout; TERM obeyed at once.
    let (kills, exit) = kills_and_exit(&events(since, until, &a.id));
    assert_eq!(kills, vec!["15".to_string(), "9".to_string()]);
    assert_eq!(exit.as_deref(), Some("137"));
    let (kills, exit) = kills_and_exit(&events(since, until, &b.id));
    assert_eq!(kills, vec!["15".to_string()]);
    assert_eq!(exit.as_deref(), Some("143"));
    assert_eq!(driver.list(&stack).expect("list"), vec![]);
}

#[test]
fn limits_env_mounts_and_log_rotation_reach_the_container() {
    let docker = daemon();
    let driver = docker.driver();
    let stack = docker.stack("limits");
    let _cleanup = Cleanup {
        driver: &driver,
        stack: stack.clone(),
    };
    let out = tempfile::tempdir().expect("tempdir");
    let mut spec = docker_spec(
        "limited",
        &[
            "sh",
            "-c",
            "echo \"$GREETING $PORT $PORT_HTTP\" > /out/env; exec sleep 1000",
        ],
    );
    spec.limits.memory = Some(64 * 1024 * 1024);
    spec.limits.cpu_millis = Some(500);
    spec.env.insert("GREETING".to_string(), "hello".to_string());
    spec.mounts = vec![format!("{}:/out", out.path().display())];
    let r = start(&driver, &stack, &spec, 0);

    let (rt, client) = client(docker).expect("client");
    let inspect = rt
        .block_on(client.inspect_container(&r.id, None))
        .expect("inspect");
    let host = inspect.host_config.expect("host config");
    assert_eq!(host.memory, Some(64 * 1024 * 1024));
    assert_eq!(host.nano_cpus, Some(500_000_000));
    assert_eq!(host.network_mode.as_deref(), Some("host"));
    let log = host.log_config.expect("log config");
    assert_eq!(log.typ.as_deref(), Some("json-file"));
    let log_opts = log.config.unwrap_or_default();
    assert_eq!(log_opts.get("max-size").map(String::as_str), Some("10m"));
    assert_eq!(log_opts.get("max-file").map(String::as_str), Some("3"));
    let labels = inspect.config.and_then(|c| c.labels).unwrap_or_default();
    assert_eq!(labels.get("baton.stack"), Some(&stack));
    assert_eq!(
        labels.get("baton.service").map(String::as_str),
        Some("limited")
    );

    let port = r.ports["http"];
    let env = eventually("the container to write /out/env", || {
        std::fs::read_to_string(out.path().join("env"))
            .ok()
            .filter(|s| s.ends_with('\n'))
    });
    assert_eq!(env, format!("hello {port} {port}\n"));
    driver.stop(&r, "TERM", spec.kill_timeout).expect("stop");
}

#[test]
fn start_without_an_image_or_with_a_missing_one_is_a_start_error() {
    let docker = daemon();
    let driver = docker.driver();
    let stack = docker.stack("noimage");
    let dir = tempfile::tempdir().expect("tempdir");
    for image in [None, Some("baton-test/absent:0".to_string())] {
        let spec = ServiceSpec {
            image,
            ..docker_spec("web", &["true"])
        };
        let r = ReplicaStart {
            stack: &stack,
            spec: &spec,
            index: 0,
            ports: BTreeMap::new(),
            log_dir: dir.path().to_path_buf(),
            base_dir: dir.path().to_path_buf(),
        };
        match driver.start(&r) {
            Err(DriverError::Start { service, index, .. }) => {
                assert_eq!((service.as_str(), index), ("web", 0));
            }
            other => panic!("expected a start error, got {other:?}"),
        }
    }
}

#[test]
fn an_unreachable_daemon_is_unavailable_and_names_its_socket() {
    let socket = "/nonexistent/baton-test/docker.sock";
    let driver = DockerDriver::new(DockerOpts::new(socket)).expect("driver");
    let err = driver.list("any").expect_err("list without a daemon");
    assert!(
        matches!(&err, DriverError::Unavailable { driver, .. } if driver == "docker"),
        "{err:?}"
    );
    assert!(err.to_string().contains(socket), "{err}");

    let spec = docker_spec("web", &["true"]);
    let dir = tempfile::tempdir().expect("tempdir");
    let start = driver.start(&ReplicaStart {
        stack: "any",
        spec: &spec,
        index: 0,
        ports: BTreeMap::new(),
        log_dir: dir.path().to_path_buf(),
        base_dir: dir.path().to_path_buf(),
    });
    assert!(
        matches!(&start, Err(DriverError::Unavailable { message, .. }) if message.contains(socket)),
        "{start:?}"
    );
    let replica = Replica {
        stack: "any".to_string(),
        service: "web".to_string(),
        version: "v1".to_string(),
        index: 0,
        id: "0123456789ab".to_string(),
        ports: BTreeMap::new(),
        started_at: 0,
    };
    assert!(matches!(
        driver.try_liveness(&replica),
        Err(DriverError::Unavailable { .. })
    ));
    assert!(matches!(
        driver.stop(&replica, "TERM", Duration::ZERO),
        Err(DriverError::Unavailable { .. })
    ));
}

#[test]
fn logs_come_from_the_daemon_by_stream_with_tail_and_follow() {
    let docker = daemon();
    let driver = docker.driver();
    let stack = docker.stack("logs");
    let _cleanup = Cleanup {
        driver: &driver,
        stack: stack.clone(),
    };
    let spec = docker_spec(
        "chatty",
        &[
            "sh",
            "-c",
            "echo out-1; echo err-1 >&2; echo out-2; exec sleep 1000",
        ],
    );
    let r = start(&driver, &stack, &spec, 0);
    let read = |opts: &LogsOpts| {
        let mut got: Vec<(LogStream, String)> = Vec::new();
        driver
            .logs(&r, opts, |stream, bytes| {
                got.push((stream, String::from_utf8_lossy(bytes).into_owned()));
                ControlFlow::Continue(())
            })
            .expect("logs");
        got
    };
    let all = eventually("three log entries", || {
        Some(read(&LogsOpts::default())).filter(|g| g.len() == 3)
    });
    let stdout: Vec<&str> = all
        .iter()
        .filter(|(s, _)| *s == LogStream::Stdout)
        .map(|(_, t)| t.as_str())
        .collect();
    assert_eq!(stdout, vec!["out-1\n", "out-2\n"]);
    assert!(
        all.contains(&(LogStream::Stderr, "err-1\n".to_string())),
        "{all:?}"
    );
    assert_eq!(
        read(&LogsOpts {
            tail: Some(1),
            follow: false
        })
        .len(),
        1
    );

    // Following a running container: returns when the reader has what it wants.
    let mut seen = Vec::new();
    driver
        .logs(
            &r,
            &LogsOpts {
                tail: None,
                follow: true,
            },
            |_, bytes| {
                seen.push(String::from_utf8_lossy(bytes).into_owned());
                if bytes == b"out-2\n" {
                    ControlFlow::Break(())
                } else {
                    ControlFlow::Continue(())
                }
            },
        )
        .expect("follow");
    assert_eq!(seen.last().map(String::as_str), Some("out-2\n"));
    driver.stop(&r, "TERM", spec.kill_timeout).expect("stop");
}
