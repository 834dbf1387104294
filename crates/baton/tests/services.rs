//! The `service` resource and the agent through the binary: with `baton serve` running in the
//! background, `apply` of a two-replica exec service returns once it is healthy; its replicas
//! answer HTTP on the ports `baton status --json` shows; a replica killed with SIGKILL comes
//! back; `baton logs` shows its output; an agent killed and started again adopts the replicas
//! (same processes); an update whose health check fails is reverted with `auto_revert`, the
//! apply fails and the old version keeps serving; destroy stops the replicas. Without an agent
//! apply fails, says how to start one, and changes nothing. Waits are bounded polls.

mod common;

use common::services::{
    alive, http_ok, kill, replicas, serve, service, status, wait_until, ExecReplicas,
};
use common::Project;
use serde_json::Value as Json;
use std::time::Duration;

fn stack(command: &str) -> String {
    format!(
        r#"resource "service" "web" {{
  command  = {command}
  replicas = 2
  port "http" {{}}
  health_check {{
    type              = "http"
    port              = "http"
    path              = "/"
    interval          = "200ms"
    timeout           = "1s"
    failure_threshold = 2
  }}
  restart {{
    delay     = "200ms"
    max_delay = "1s"
  }}
  update {{
    max_parallel     = 1
    min_healthy_time = "300ms"
    healthy_deadline = "4s"
    auto_revert      = true
  }}
  kill_timeout = "2s"
}}
"#
    )
}

const GOOD: &str = r#"["sh", "-c", "exec python3 -m http.server --bind 127.0.0.1 $PORT"]"#;
/// Runs, but never listens: its health check fails.
const BAD: &str = r#"["sh", "-c", "echo starting; exec sleep 60"]"#;

fn web(p: &Project) -> Json {
    service(p, "web")
}

#[test]
fn an_exec_service_is_rolled_out_supervised_adopted_reverted_and_destroyed() {
    let p = Project::new(&[("main.tf", &stack(GOOD))]);
    let _cleanup = ExecReplicas(p.path().to_path_buf());
    let mut agent = serve(&p);

    // The apply returns once the deployment is healthy.
    p.baton(["apply", "--auto-approve"])
        .timeout(Duration::from_secs(120))
        .ok();
    let s = web(&p);
    assert_eq!(s["deployment"], "healthy", "{s}");
    assert_eq!(s["healthy_replicas"], 2, "{s}");
    let first = replicas(&s);
    assert_eq!(first.len(), 2, "{s}");
    for (_, _, port) in &first {
        assert!(http_ok(*port), "replica on port {port} does not answer");
    }
    let version = s["version"].as_str().unwrap_or_default().to_string();

    // Its output is in the logs (http.server logs each request, the health checks' too).
    wait_until("a request in the logs", Duration::from_secs(20), || {
        p.baton(["logs", "service.web", "--replica", "0"])
            .ok()
            .stdout
            .contains("GET / HTTP/1.1")
    });

    // A replica killed with SIGKILL comes back, and the status counts the restart.
    let (_, victim, _) = first[0].clone();
    kill(&format!("-{victim}"));
    wait_until(
        "the replica to be replaced",
        Duration::from_secs(30),
        || {
            let s = web(&p);
            let r = replicas(&s);
            s["healthy_replicas"] == 2
                && r.len() == 2
                && !r.iter().any(|(_, id, _)| *id == victim)
                && s["restarts"].as_u64().unwrap_or(0) >= 1
        },
    );
    let before = replicas(&web(&p));
    for (_, _, port) in &before {
        assert!(http_ok(*port), "replica on port {port} does not answer");
    }

    // The agent killed and started again adopts the replicas: same processes.
    kill(&agent.pid().to_string());
    let _ = agent.crash();
    for (_, id, _) in &before {
        assert!(alive(id), "replica {id} died with the agent");
    }
    let agent2 = serve(&p);
    std::thread::sleep(Duration::from_secs(1));
    wait_until(
        "the adopted replicas to be healthy",
        Duration::from_secs(30),
        || web(&p)["healthy_replicas"] == 2,
    );
    assert_eq!(replicas(&web(&p)), before, "the agent restarted replicas");

    // An update that fails its health check is reverted; the apply fails; the old version
    // keeps serving.
    p.write("main.tf", &stack(BAD));
    let out = p
        .baton(["apply", "--auto-approve"])
        .timeout(Duration::from_secs(120))
        .fails();
    assert!(out.all().contains("reverted"), "{}", out.all());
    wait_until(
        "the old version to be healthy",
        Duration::from_secs(30),
        || {
            let s = web(&p);
            s["version"] == version.as_str()
                && s["deployment"] == "healthy"
                && s["healthy_replicas"] == 2
        },
    );
    for (_, _, port) in replicas(&web(&p)) {
        assert!(
            http_ok(port),
            "replica on port {port} does not answer after the revert"
        );
    }

    // Destroy stops the replicas.
    p.write("main.tf", &stack(GOOD));
    let pids: Vec<String> = replicas(&web(&p)).into_iter().map(|r| r.1).collect();
    p.baton(["destroy", "--auto-approve"])
        .timeout(Duration::from_secs(60))
        .ok();
    assert!(web(&p).is_null(), "{}", status(&p));
    wait_until("the replicas to end", Duration::from_secs(10), || {
        pids.iter().all(|pid| !alive(pid))
    });
    agent2.interrupt();
    agent2.wait().assert_success();
}

#[test]
fn apply_without_an_agent_says_how_to_start_one_and_changes_nothing() {
    let p = Project::new(&[("main.tf", &stack(GOOD))]);
    let out = p.baton(["apply", "--auto-approve"]).fails();
    assert!(out.all().contains("No agent is running"), "{}", out.all());
    assert!(out.all().contains("baton serve"), "{}", out.all());
    let listed = p.baton(["state", "list"]).run();
    assert!(!listed.stdout.contains("service.web"), "{}", listed.stdout);
    // Nothing was handed to an agent: the board was never written (its file is made by the
    // first write).
    assert!(
        !p.exists(".baton/services.db"),
        "a desired service was recorded"
    );
}
