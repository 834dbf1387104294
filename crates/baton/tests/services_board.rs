//! The service board through the binary: one agent serves the services of two stacks
//! (`baton serve --stack DIR`); a second agent for the same stacks waits, and takes them over
//! when the first is killed, adopting the running replicas (same processes); with PostgreSQL,
//! an agent started elsewhere — another directory, knowing only the store's URL — serves a
//! stack applied from its own directory. Waits are bounded polls.

mod common;

use baton_backend::testing::TestServer;
use common::services::{alive, http_ok, wait_until, ExecReplicas};
use common::{Project, Running};
use serde_json::Value as Json;
use std::time::Duration;

fn stack(name: &str) -> String {
    format!(
        r#"resource "service" "{name}" {{
  command  = ["sh", "-c", "exec python3 -m http.server --bind 127.0.0.1 $PORT"]
  replicas = 1
  port "http" {{}}
  health_check {{
    type     = "http"
    port     = "http"
    path     = "/"
    interval = "200ms"
  }}
  update {{
    min_healthy_time = "200ms"
    healthy_deadline = "10s"
  }}
  kill_timeout = "2s"
}}
"#
    )
}

/// `baton status --json`'s services section, with `extra` flags before the command.
fn services(p: &Project, extra: &[&str]) -> Json {
    let mut args = extra.to_vec();
    args.extend(["status", "--json"]);
    p.baton(args).ok().json()["services"].clone()
}

/// Service `name`'s replica ids (the exec driver's: process group ids) and ports.
fn replicas(s: &Json, name: &str) -> Vec<(String, u16)> {
    s["services"]
        .as_array()
        .and_then(|a| a.iter().find(|x| x["name"] == name))
        .and_then(|x| x["replicas"].as_array())
        .map(|a| {
            a.iter()
                .map(|r| {
                    (
                        r["id"].as_str().unwrap_or_default().to_string(),
                        r["ports"]["http"]
                            .as_u64()
                            .and_then(|p| u16::try_from(p).ok())
                            .unwrap_or(0),
                    )
                })
                .collect()
        })
        .unwrap_or_default()
}

#[test]
fn one_agent_serves_two_stacks_and_a_standby_takes_over_and_adopts() {
    let a = Project::new(&[("main.tf", &stack("web"))]);
    let b = Project::new(&[("main.tf", &stack("api"))]);
    let b_dir = b.path_str();
    let _cleanup = [ExecReplicas(a.path().to_path_buf())];
    let mut started = Vec::new();

    let mut first = a
        .baton([
            "serve", "--for", "300s", "--tick", "100ms", "--stack", &b_dir,
        ])
        .spawn();
    let pid = u64::from(first.pid());
    for p in [&a, &b] {
        wait_until(
            "the agent to serve the stack",
            Duration::from_secs(30),
            || services(p, &[])["agent_pid"].as_u64() == Some(pid),
        );
    }
    for (p, name) in [(&a, "web"), (&b, "api")] {
        p.baton(["apply", "--auto-approve"])
            .timeout(Duration::from_secs(120))
            .ok();
        let r = replicas(&services(p, &[]), name);
        assert_eq!(r.len(), 1, "{name}: {r:?}");
        assert!(http_ok(r[0].1), "{name} does not answer on {}", r[0].1);
        started.push(r[0].0.clone());
    }

    // The logs of the second stack's replica are found through its agent's report, though
    // the agent keeps them under the first stack's directory.
    wait_until(
        "the api's requests in its logs",
        Duration::from_secs(20),
        || {
            b.baton(["logs", "service.api", "--replica", "0"])
                .ok()
                .stdout
                .contains("GET / HTTP/1.1")
        },
    );

    // A second agent for the same stacks waits: the first holds both leases.
    let second = a
        .baton([
            "serve", "--for", "300s", "--tick", "100ms", "--stack", &b_dir,
        ])
        .spawn();
    std::thread::sleep(Duration::from_secs(2));
    for p in [&a, &b] {
        assert_eq!(services(p, &[])["agent_pid"].as_u64(), Some(pid));
    }

    // The first is killed: the standby takes both stacks over at once (same machine, the
    // holder's process is gone) and adopts the replicas instead of starting new ones.
    let before = started;
    common::services::kill(&first.pid().to_string());
    let _ = first.crash();
    let pid2 = u64::from(second.pid());
    for (p, name) in [(&a, "web"), (&b, "api")] {
        wait_until("the standby to take over", Duration::from_secs(30), || {
            let s = services(p, &[]);
            s["agent_pid"].as_u64() == Some(pid2)
                && s["services"][0]["healthy_replicas"].as_u64() == Some(1)
        });
        let r = replicas(&services(p, &[]), name);
        assert_eq!(r.len(), 1, "{name}: {r:?}");
        assert!(
            before.contains(&r[0].0) && alive(&r[0].0),
            "{name}: replica {} is not one the first agent started ({before:?})",
            r[0].0
        );
        assert!(http_ok(r[0].1));
    }

    // Destroy through the standby stops the replicas.
    for p in [&a, &b] {
        p.baton(["destroy", "--auto-approve"])
            .timeout(Duration::from_secs(120))
            .ok();
    }
    for id in &before {
        wait_until("the replica to stop", Duration::from_secs(20), || {
            !alive(id)
        });
    }
    second.interrupt();
    second.wait().assert_success();
}

#[test]
fn an_agent_elsewhere_serves_a_stack_kept_in_postgresql() {
    let server = TestServer::shared().unwrap_or_else(|e| panic!("no PostgreSQL server: {e}"));
    let url = format!(
        "{}?schema_name={}",
        server.url(),
        server.fresh_schema("services")
    );
    let store = ["--store", url.as_str()];
    let stack_dir = Project::new(&[("main.tf", &stack("web"))]);
    // The agent's directory holds no configuration: it knows the store only.
    let elsewhere = Project::new(&[]);
    let _cleanup = ExecReplicas(elsewhere.path().to_path_buf());

    // Without an agent, the apply changes nothing.
    let out = stack_dir
        .baton(["--store", &url, "apply", "--auto-approve"])
        .fails();
    assert!(out.all().contains("No agent is running"), "{}", out.all());
    assert!(
        !stack_dir.exists(".baton/services.db"),
        "a PostgreSQL stack's services do not go to the SQLite board"
    );

    let agent: Running = elsewhere
        .baton(["--store", &url, "serve", "--for", "300s", "--tick", "100ms"])
        .spawn();
    let pid = u64::from(agent.pid());
    wait_until(
        "the agent to serve the stack",
        Duration::from_secs(30),
        || services(&stack_dir, &store)["agent_pid"].as_u64() == Some(pid),
    );
    stack_dir
        .baton(["--store", &url, "apply", "--auto-approve"])
        .timeout(Duration::from_secs(120))
        .ok();
    let s = services(&stack_dir, &store);
    let r = replicas(&s, "web");
    assert_eq!(r.len(), 1, "{s}");
    assert!(http_ok(r[0].1), "the replica does not answer on {}", r[0].1);
    // It runs where the agent is: its working directory is the agent's.
    let cwd = std::fs::read_link(format!("/proc/{}/cwd", r[0].0)).expect("the replica's cwd");
    assert_eq!(
        cwd.canonicalize().ok(),
        elsewhere.path().canonicalize().ok(),
        "the replica should run in the agent's directory"
    );
    assert!(!stack_dir.exists(".baton/services.db"));

    stack_dir
        .baton(["--store", &url, "destroy", "--auto-approve"])
        .timeout(Duration::from_secs(120))
        .ok();
    let id = r[0].0.clone();
    wait_until("the replica to stop", Duration::from_secs(20), || {
        !alive(&id)
    });
    agent.interrupt();
    agent.wait().assert_success();
}
