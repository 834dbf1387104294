//! More of the `service` resource through the binary, with `baton serve` as the agent:
//!
//! - the `docker` driver against the tests' own daemon (`baton_service::testing::TestDocker`,
//!   busybox `httpd` in two containers with host networking): apply, HTTP on both replicas, a
//!   container SIGKILLed through the daemon back healthy on the same port, `baton logs`, and
//!   destroy removing the containers. No daemon is a failure, not a skip;
//! - a crash-looping service: the restart history `baton status --json` reports follows the
//!   backoff (`delay` doubling up to `max_delay`), and the apply fails, naming the service,
//!   with the run's other change rolled back and the service removed;
//! - a 4-replica rolling update whose health check fails: the apply fails and says the rollout
//!   was reverted, HTTP 200 answers at every sample meanwhile, the old version serves
//!   afterwards, and the state still records it; a killed exec replica keeps its port.
//!
//! Waits are bounded polls; timing is asserted only as lower bounds the backoff guarantees
//! and generous upper bounds. Must not leave replicas or containers behind.

mod common;

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use baton_service::testing::{client, TestDocker, TEST_IMAGE};
use bollard::query_parameters::{
    KillContainerOptions, ListContainersOptions, RemoveContainerOptions,
};
use common::services::{
    alive, http_get, http_ok, replicas, serve, serve_with, service, stack_name, wait_until,
    ExecReplicas,
};
use common::Project;
use serde_json::Value as Json;

// ---------------------------------------------------------------------------------------------
// 1. The docker driver.
// ---------------------------------------------------------------------------------------------

fn daemon() -> &'static TestDocker {
    match TestDocker::start() {
        Ok(d) => d,
        Err(e) => panic!("no Docker daemon for the tests: {e}"),
    }
}

/// The containers of `stack` on the daemon (running or not): (id, running).
fn containers(docker: &TestDocker, stack: &str) -> Vec<(String, bool)> {
    let (rt, d) = client(docker).expect("a client of the test daemon");
    let list = rt
        .block_on(d.list_containers(Some(ListContainersOptions {
            all: true,
            filters: Some(HashMap::from([(
                "label".to_string(),
                vec![format!("baton.stack={stack}")],
            )])),
            ..Default::default()
        })))
        .expect("list the containers");
    list.into_iter()
        .map(|c| {
            (
                c.id.unwrap_or_default(),
                c.state.map(|s| s.to_string()).as_deref() == Some("running"),
            )
        })
        .collect()
}

/// Removes the stack's containers when the test ends, also when it fails.
struct Containers {
    docker: &'static TestDocker,
    stack: String,
}

impl Drop for Containers {
    fn drop(&mut self) {
        let Ok((rt, d)) = client(self.docker) else {
            return;
        };
        for (id, _) in containers(self.docker, &self.stack) {
            let _ = rt.block_on(d.remove_container(
                &id,
                Some(RemoveContainerOptions {
                    force: true,
                    ..Default::default()
                }),
            ));
        }
    }
}

fn docker_stack() -> String {
    format!(
        r#"resource "service" "web" {{
  driver       = "docker"
  image        = "{TEST_IMAGE}"
  command      = ["sh", "-c", "echo web replica starting on $PORT; mkdir -p /tmp/www && echo served-by-$PORT > /tmp/www/index.html && exec httpd -f -p 127.0.0.1:$PORT -h /tmp/www"]
  network_mode = "host"
  replicas     = 2
  port "http" {{}}
  health_check {{
    type              = "http"
    port              = "http"
    interval          = "200ms"
    timeout           = "1s"
    failure_threshold = 2
  }}
  restart {{
    delay     = "200ms"
    max_delay = "1s"
  }}
  update {{
    min_healthy_time = "300ms"
    healthy_deadline = "30s"
  }}
  kill_timeout = "2s"
}}
"#
    )
}

#[test]
fn a_docker_service_is_applied_supervised_logged_and_destroyed_through_the_binary() {
    let docker = daemon();
    let socket = format!("unix://{}", docker.socket().display());
    let p = Project::new(&[("main.tf", &docker_stack())]);
    let stack = stack_name(&p);
    let _cleanup = Containers {
        docker,
        stack: stack.clone(),
    };
    let agent = serve_with(&p, &[("DOCKER_HOST", &socket)]);

    p.baton(["apply", "--auto-approve"])
        .timeout(Duration::from_secs(180))
        .ok();
    let s = service(&p, "web");
    assert_eq!(s["deployment"], "healthy", "{s}");
    assert_eq!(s["healthy_replicas"], 2, "{s}");
    let first = replicas(&s);
    assert_eq!(first.len(), 2, "{s}");
    // Both answer, each with the page it wrote for its own port.
    for (_, _, port) in &first {
        let (code, body) = http_get(*port).expect("the replica answers");
        assert_eq!(code, 200, "port {port}: {body}");
        assert_eq!(body.trim(), format!("served-by-{port}"));
    }
    // The daemon runs exactly these two containers for the stack.
    let mut running: Vec<String> = containers(docker, &stack)
        .into_iter()
        .filter(|(_, r)| *r)
        .map(|(id, _)| id)
        .collect();
    running.sort();
    let mut ids: Vec<String> = first.iter().map(|r| r.1.clone()).collect();
    ids.sort();
    assert_eq!(running, ids, "the containers are the replicas");

    // SIGKILL through the daemon: the replica comes back healthy, on the same port.
    let (index, victim, port) = first[0].clone();
    let (rt, d) = client(docker).expect("client");
    rt.block_on(d.kill_container(
        &victim,
        Some(KillContainerOptions {
            signal: "SIGKILL".to_string(),
        }),
    ))
    .expect("kill the container");
    wait_until(
        "the killed container to be replaced",
        Duration::from_secs(60),
        || {
            let s = service(&p, "web");
            let r = replicas(&s);
            s["healthy_replicas"] == 2
                && r.len() == 2
                && !r.iter().any(|(_, id, _)| *id == victim)
                && s["restarts"].as_u64().unwrap_or(0) >= 1
        },
    );
    let after = replicas(&service(&p, "web"));
    let back = after
        .iter()
        .find(|(i, _, _)| *i == index)
        .expect("the slot has a replica");
    assert_eq!(back.2, port, "the replica came back on another port");
    assert_eq!(after[1 - index as usize], first[1 - index as usize]);
    let s = service(&p, "web");
    let exit = &s["slots"][index.to_string()]["last_exit"];
    assert_eq!(exit["signal"], 9, "{s}");
    for (_, _, port) in &after {
        assert!(http_ok(*port), "port {port} does not answer");
    }

    // The container's output, read from the daemon.
    let logs = p
        .baton(["logs", "service.web", "--replica", "0"])
        .env("DOCKER_HOST", &socket)
        .ok();
    let port0 = after[0].2;
    assert!(
        logs.stdout
            .contains(&format!("web replica starting on {port0}")),
        "{}",
        logs.all()
    );

    // Destroy stops and removes the containers.
    p.baton(["destroy", "--auto-approve"])
        .timeout(Duration::from_secs(120))
        .ok();
    assert!(service(&p, "web").is_null());
    wait_until("the containers to go", Duration::from_secs(30), || {
        containers(docker, &stack).is_empty()
    });
    agent.interrupt();
    agent.wait().assert_success();
}

// ---------------------------------------------------------------------------------------------
// 2. A crash loop.
// ---------------------------------------------------------------------------------------------

const DELAY_MS: u64 = 200;
const MAX_DELAY_MS: u64 = 1000;

fn crash_stack(conf: &str, with_service: bool) -> String {
    let mut s = format!(
        r#"resource "local_file" "conf" {{
  filename = "${{path.module}}/conf.txt"
  content  = "{conf}"
}}
"#
    );
    if with_service {
        s.push_str(&format!(
            r#"
resource "service" "crash" {{
  command  = ["sh", "-c", "echo crashing; exit 3"]
  # Applied after the file, so that the failure has a change to roll back.
  env      = {{ CONF = local_file.conf.content }}
  replicas = 1
  restart {{
    delay     = "{DELAY_MS}ms"
    max_delay = "{MAX_DELAY_MS}ms"
  }}
  update {{
    min_healthy_time = "500ms"
    healthy_deadline = "8s"
  }}
  kill_timeout = "1s"
}}
"#
        ));
    }
    s
}

/// The backoff of the n-th consecutive failure (from 1): `delay × 2^(n-1)`, at most
/// `max_delay`.
fn backoff_ms(n: usize) -> u64 {
    let shift = u32::try_from(n.saturating_sub(1))
        .unwrap_or(u32::MAX)
        .min(20);
    (DELAY_MS << shift).min(MAX_DELAY_MS)
}

#[test]
fn a_crash_looping_service_backs_off_on_schedule_and_its_apply_fails_and_rolls_back() {
    let p = Project::new(&[("main.tf", &crash_stack("v1", false))]);
    let _cleanup = ExecReplicas(p.path().to_path_buf());
    p.baton(["apply", "--auto-approve"]).ok();
    let agent = serve(&p);

    // The apply waits for a deployment that cannot become healthy; meanwhile the status is
    // sampled.
    p.write("main.tf", &crash_stack("v2", true));
    let apply = p
        .baton(["apply", "--auto-approve"])
        .timeout(Duration::from_secs(120))
        .spawn();
    let mut samples: Vec<Json> = Vec::new();
    while !apply.has_exited() {
        let s = service(&p, "crash");
        if !s.is_null() {
            samples.push(s);
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    let out = apply.wait();
    out.assert_failure();
    let all = out.all();
    assert!(all.contains("deployment failed"), "{all}");
    assert!(all.contains("service crash"), "{all}");
    assert!(all.contains("not healthy within"), "{all}");

    // The restart count only grew, to several restarts.
    let counts: Vec<u64> = samples
        .iter()
        .map(|s| s["restarts"].as_u64().unwrap_or(0))
        .collect();
    assert!(counts.windows(2).all(|w| w[0] <= w[1]), "{counts:?}");
    assert!(
        counts.first() < counts.last(),
        "the restarts did not grow: {counts:?}"
    );
    let last = samples
        .iter()
        .rev()
        .find(|s| !s["slots"]["0"].is_null())
        .expect("the agent reported the slot");
    let slot = &last["slots"]["0"];
    eprintln!("the crash loop as `baton status --json` last showed it: {slot}");
    let history = slot["history"].as_array().expect("a restart history");
    assert!(history.len() >= 5, "too few restarts seen: {last}");
    assert_eq!(
        u64::try_from(history.len()).ok(),
        slot["restarts"].as_u64(),
        "{slot}"
    );
    assert_eq!(slot["last_exit"]["code"], 3, "{slot}");
    // The delays double from `delay` and stop at `max_delay`; each restart waited its delay
    // (never less; at most a generous bound more), and followed the failure before it.
    let mut previous_restart = 0;
    for (i, e) in history.iter().enumerate() {
        let delay = e["delay_ms"].as_u64().expect("delay_ms");
        assert_eq!(delay, backoff_ms(i + 1), "restart {}: {slot}", i + 1);
        let failed = e["failed_at_ms"].as_u64().expect("failed_at_ms");
        assert!(failed >= previous_restart, "restart {}: {slot}", i + 1);
        let Some(restarted) = e["restarted_at_ms"].as_u64() else {
            // Only the last one may still wait out its delay.
            assert_eq!(
                i + 1,
                history.len(),
                "restart {} never happened: {slot}",
                i + 1
            );
            continue;
        };
        let waited = restarted.saturating_sub(failed);
        assert!(
            restarted + 1 >= failed + delay,
            "restart {} came {waited} ms after its failure, before its {delay} ms: {slot}",
            i + 1
        );
        assert!(
            waited <= delay + 5000,
            "restart {} came {waited} ms after its failure: {slot}",
            i + 1
        );
        previous_restart = restarted;
    }
    assert_eq!(
        backoff_ms(4),
        MAX_DELAY_MS,
        "the schedule reached max_delay"
    );

    // The run's other change is rolled back, the service is not in the state, and the agent
    // stops and forgets it.
    assert_eq!(p.read("conf.txt"), "v1");
    let runs = p.baton(["runs", "--json"]).ok().json();
    assert_eq!(runs[0]["status"], "rolled_back", "{runs:#}");
    let listed = p.baton(["state", "list"]).ok();
    assert!(
        !listed.stdout.contains("service.crash"),
        "{}",
        listed.stdout
    );
    assert!(
        listed.stdout.contains("local_file.conf"),
        "{}",
        listed.stdout
    );
    wait_until("the service to be removed", Duration::from_secs(30), || {
        service(&p, "crash").is_null()
    });
    let ids: Vec<String> = samples
        .iter()
        .flat_map(replicas)
        .map(|(_, id, _)| id)
        .collect();
    wait_until("its processes to end", Duration::from_secs(30), || {
        ids.iter().all(|id| !alive(id))
    });
    agent.interrupt();
    agent.wait().assert_success();
}

// ---------------------------------------------------------------------------------------------
// 3. A rolling update of 4 replicas that fails its health check.
// ---------------------------------------------------------------------------------------------

/// v1 serves `www/index.html`; v2 answers every request with 500 and the body `v2`.
fn rolling_stack(version: u32) -> String {
    let command = if version == 1 {
        r#"["sh", "-c", "exec python3 -m http.server --bind 127.0.0.1 --directory www $PORT"]"#
    } else {
        r#"["python3", "bad.py"]"#
    };
    format!(
        r#"resource "service" "web" {{
  command  = {command}
  replicas = 4
  port "http" {{}}
  health_check {{
    type              = "http"
    port              = "http"
    interval          = "200ms"
    timeout           = "1s"
    failure_threshold = 2
  }}
  restart {{
    delay     = "300ms"
    max_delay = "1s"
  }}
  update {{
    max_parallel     = 1
    min_healthy_time = "300ms"
    healthy_deadline = "3s"
    auto_revert      = true
  }}
  kill_timeout = "2s"
}}
"#
    )
}

const BAD_PY: &str = r#"import http.server, os
class H(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        self.send_response(500)
        self.end_headers()
        self.wfile.write(b"v2\n")
http.server.HTTPServer(("127.0.0.1", int(os.environ["PORT"])), H).serve_forever()
"#;

#[test]
fn a_failing_four_replica_update_is_reverted_with_a_replica_answering_at_every_moment() {
    let p = Project::new(&[
        ("main.tf", &rolling_stack(1)),
        ("www/index.html", "v1\n"),
        ("bad.py", BAD_PY),
    ]);
    let _cleanup = ExecReplicas(p.path().to_path_buf());
    let agent = serve(&p);
    p.baton(["apply", "--auto-approve"])
        .timeout(Duration::from_secs(120))
        .ok();
    let s = service(&p, "web");
    assert_eq!(s["healthy_replicas"], 4, "{s}");
    let v1 = s["version"].as_str().unwrap_or_default().to_string();

    // A killed replica comes back on its port.
    let before_kill = replicas(&s);
    let (index, victim, port) = before_kill[2].clone();
    common::services::kill(&format!("-{victim}"));
    wait_until(
        "the replica to be replaced",
        Duration::from_secs(30),
        || {
            let s = service(&p, "web");
            let r = replicas(&s);
            s["healthy_replicas"] == 4 && r.len() == 4 && !r.iter().any(|(_, id, _)| *id == victim)
        },
    );
    let old = replicas(&service(&p, "web"));
    let back = old.iter().find(|(i, _, _)| *i == index).expect("slot 2");
    assert_eq!(back.2, port, "the killed replica came back on another port");
    for (i, id, port) in &old {
        let (code, body) = http_get(*port).expect("the replica answers");
        assert_eq!((code, body.trim()), (200, "v1"), "replica {i} ({id})");
    }

    // The sampler: every 50 ms, each of the 4 ports; how many answered 200 with v1, and any
    // other answer seen.
    let stop = Arc::new(AtomicBool::new(false));
    let samples = Arc::new(Mutex::new(Vec::<usize>::new()));
    let ports: Vec<u16> = old.iter().map(|r| r.2).collect();
    let sampler = {
        let (stop, samples) = (stop.clone(), samples.clone());
        std::thread::spawn(move || {
            while !stop.load(Ordering::SeqCst) {
                let ok = ports
                    .iter()
                    .filter(|port| {
                        http_get(**port).is_some_and(|(c, b)| c == 200 && b.trim() == "v1")
                    })
                    .count();
                samples.lock().expect("samples").push(ok);
                std::thread::sleep(Duration::from_millis(50));
            }
        })
    };
    // And the status, for the new version's number and replicas.
    p.write("main.tf", &rolling_stack(2));
    let apply = p
        .baton(["apply", "--auto-approve"])
        .timeout(Duration::from_secs(120))
        .spawn();
    let mut v2 = None::<String>;
    let mut v2_replicas = 0;
    while !apply.has_exited() {
        let s = service(&p, "web");
        if s["version"] != v1.as_str() {
            v2 = s["version"].as_str().map(str::to_string).or(v2);
        }
        let new = s["replicas"]
            .as_array()
            .map(|a| a.iter().filter(|r| r["version"] != v1.as_str()).count())
            .unwrap_or(0);
        v2_replicas = v2_replicas.max(new);
        std::thread::sleep(Duration::from_millis(100));
    }
    let out = apply.wait();
    stop.store(true, Ordering::SeqCst);
    sampler.join().expect("the sampler");
    out.assert_failure();
    let all = out.all();
    assert!(all.contains("rollout was reverted"), "{all}");
    assert!(all.contains("service web"), "{all}");
    assert!(all.contains("the last healthy version runs again"), "{all}");
    let v2 = v2.expect("the agent reported the new version");
    assert!(
        all.contains(&v2),
        "the message names the failed version: {all}"
    );
    assert!(
        v2_replicas >= 1,
        "no replica of the new version was started"
    );
    assert!(
        v2_replicas <= 1,
        "max_parallel = 1, yet {v2_replicas} new replicas ran at once"
    );

    let samples = samples.lock().expect("samples").clone();
    assert!(samples.len() >= 10, "too few samples: {samples:?}");
    let worst = samples.iter().min().copied().unwrap_or(0);
    assert!(
        worst >= 1,
        "a moment with no replica answering 200: {samples:?}"
    );

    // Afterwards: the old version on all 4 replicas — the same ones — and in the state.
    wait_until(
        "the old version to be healthy",
        Duration::from_secs(30),
        || {
            let s = service(&p, "web");
            s["version"] == v1.as_str()
                && s["deployment"] == "healthy"
                && s["healthy_replicas"] == 4
        },
    );
    let after = replicas(&service(&p, "web"));
    assert_eq!(after, old, "the old replicas were replaced");
    for (i, _, port) in &after {
        let (code, body) = http_get(*port).expect("the replica answers");
        assert_eq!((code, body.trim()), (200, "v1"), "replica {i}");
    }
    let show = p.baton(["state", "show", "service.web"]).ok();
    assert!(show.stdout.contains(&v1), "{}", show.stdout);
    assert!(!show.stdout.contains(&v2), "{}", show.stdout);
    let plan = p.baton(["plan"]).ok();
    assert!(plan.stdout.contains("service.web"), "{}", plan.stdout);
    assert!(
        plan.stdout.contains(&v2),
        "the plan shows the change again: {}",
        plan.stdout
    );

    // Clean up through the product.
    p.write("main.tf", &rolling_stack(1));
    p.baton(["destroy", "--auto-approve"])
        .timeout(Duration::from_secs(60))
        .ok();
    agent.interrupt();
    agent.wait().assert_success();
}
