//! The stacks area of the HTTP API through the binary and a real HTTP client: a viewer reads
//! plans, state, versions, drift, services, policies, workers and the audit export but may not
//! plan, apply, cancel, resume, roll back or restart; an operator applies over HTTP (the run
//! and its audit record carry the token's name), rolls the run back, and is stopped by a
//! policy denial that changes nothing; no response ever holds the sensitive value.
//!
//! The server listens on 127.0.0.1 port 0 and is killed when the test ends.

mod common;

use common::server::{token, Server};
use common::Project;
use serde_json::Value as Json;
use std::time::{Duration, Instant};

const SECRET: &str = "s3cr3t-value-do-not-show";

/// Two objects, one holding a sensitive variable.
const STACK: &str = r#"
variable "secret" {
  type      = string
  sensitive = true
  default   = "s3cr3t-value-do-not-show"
}

resource "terraform_data" "a" {
  input = { name = "first", password = var.secret }
}

resource "terraform_data" "b" {
  input = "second"
}
"#;

/// An advisory-looking policy: warns about every created object.
const WARN_CREATES: &str = r#"package notes

import rego.v1

warn contains msg if {
  some rc in input.resource_changes
  "create" in rc.change.actions
  msg := sprintf("%s is new", [rc.address])
}
"#;

/// The warning's test.
const NOTES_TEST: &str = r#"package notes

import rego.v1

test_a_create_is_noted if {
  count(warn) == 1 with input as {"resource_changes": [{"address": "x.y", "change": {"actions": ["create"]}}]}
}
"#;

/// Denies creating `terraform_data.blocked`.
const DENY_BLOCKED: &str = r#"package blocked

deny[msg] {
  rc := input.resource_changes[_]
  rc.address == "terraform_data.blocked"
  msg := "terraform_data.blocked may not be created"
}
"#;

fn serve(p: &Project) -> Server {
    serve_with(p, &[])
}

fn serve_with(p: &Project, extra: &[&str]) -> Server {
    common::server::serve(p, extra)
}

/// A client that keeps every body it receives, to check that none holds the secret.
struct Client {
    agent: ureq::Agent,
    base: String,
    bodies: std::cell::RefCell<Vec<String>>,
}

impl Client {
    fn new(s: &Server) -> Client {
        let agent: ureq::Agent = ureq::Agent::config_builder()
            .http_status_as_error(false)
            .timeout_global(Some(Duration::from_secs(90)))
            .build()
            .into();
        Client {
            agent,
            base: s.base.clone(),
            bodies: Default::default(),
        }
    }

    fn call(&self, method: &str, path: &str, token: &str) -> (u16, String) {
        let url = format!("{}{path}", self.base);
        let auth = format!("Bearer {token}");
        let resp = if method == "GET" {
            self.agent.get(&url).header("Authorization", &auth).call()
        } else {
            self.agent
                .post(&url)
                .header("Authorization", &auth)
                .header("Content-Type", "application/json")
                .send("{}")
        };
        let mut resp = resp.unwrap_or_else(|e| panic!("{method} {path}: {e}"));
        let status = resp.status().as_u16();
        let body = resp.body_mut().read_to_string().unwrap_or_default();
        self.bodies.borrow_mut().push(body.clone());
        (status, body)
    }

    /// Calls and expects `status`; the body as JSON.
    fn expect(&self, method: &str, path: &str, token: &str, status: u16) -> Json {
        let (st, body) = self.call(method, path, token);
        assert_eq!(st, status, "{method} {path}: {body}");
        serde_json::from_str(&body)
            .unwrap_or_else(|e| panic!("{method} {path}: not JSON ({e}): {body}"))
    }

    /// Waits for run `id` to end; its final view.
    fn wait_run(&self, id: &str, token: &str) -> Json {
        let deadline = Instant::now() + Duration::from_secs(90);
        loop {
            let (st, body) = self.call("GET", &format!("/api/v1/runs/{id}"), token);
            if st == 200 {
                let v: Json = serde_json::from_str(&body).unwrap_or_default();
                if v["status"] != "running" {
                    return v;
                }
            }
            assert!(
                Instant::now() < deadline,
                "run {id} did not end: {st} {body}"
            );
            std::thread::sleep(Duration::from_millis(200));
        }
    }
}

fn addresses(state: &Json) -> Vec<String> {
    state["objects"]
        .as_array()
        .map(|o| {
            o.iter()
                .filter_map(|x| x["address"].as_str().map(str::to_string))
                .collect()
        })
        .unwrap_or_default()
}

#[test]
fn stacks_over_http_roles_apply_rollback_policy_denial_and_no_sensitive_value() {
    let p = Project::new(&[("main.tf", STACK), ("policies/notes.rego", WARN_CREATES)]);
    let viewer = token(&p, "viewer", "alice");
    let operator = token(&p, "operator", "ops");
    let s = serve(&p);
    let c = Client::new(&s);

    // A viewer reads but may not act.
    for (method, path) in [
        ("POST", "/api/v1/stacks/apply"),
        ("POST", "/api/v1/stacks/plan"),
        ("POST", "/api/v1/stacks/drift"),
        ("POST", "/api/v1/runs/r1/cancel"),
        ("POST", "/api/v1/runs/r1/resume"),
        ("POST", "/api/v1/runs/r1/rollback"),
        ("POST", "/api/v1/services/web/restart"),
        ("POST", "/api/v1/policies/test"),
    ] {
        let (st, body) = c.call(method, path, &viewer);
        assert_eq!(st, 403, "viewer {method} {path}: {body}");
    }
    // Before any apply: empty views, and no plan for an unknown run.
    let st = c.expect("GET", "/api/v1/stacks/state", &viewer, 200);
    assert_eq!(st["objects"], serde_json::json!([]));
    let v = c.expect("GET", "/api/v1/runs/nope/plan", &viewer, 404);
    assert!(
        v["error"].as_str().is_some_and(|e| e.contains("nope")),
        "{v}"
    );

    // The operator plans: two objects to add, the secret redacted.
    let plan = c.expect("POST", "/api/v1/stacks/plan", &operator, 200);
    assert_eq!(
        plan["summary"], "2 to add, 0 to change, 0 to destroy.",
        "{plan}"
    );
    assert_eq!(plan["errors"], serde_json::json!([]));
    assert!(plan.to_string().contains("(sensitive value)"), "{plan}");

    // … and applies: 202 with the run's id, carried out in the background.
    let started = c.expect("POST", "/api/v1/stacks/apply", &operator, 202);
    let id = started["run"]["id"].as_str().expect("a run id").to_string();
    let run = c.wait_run(&id, &viewer);
    assert_eq!(run["status"], "completed", "{run}");
    assert_eq!(run["who"], "api:ops", "{run}");

    // The run's plan: the diff with the sensitive value and the unknowns marked.
    let rp = c.expect("GET", &format!("/api/v1/runs/{id}/plan"), &viewer, 200);
    assert_eq!(
        rp["summary"], "2 to add, 0 to change, 0 to destroy.",
        "{rp}"
    );
    let a = rp["changes"]
        .as_array()
        .and_then(|c| c.iter().find(|x| x["address"] == "terraform_data.a"))
        .expect("terraform_data.a in the plan")
        .clone();
    assert_eq!(a["actions"], serde_json::json!(["create"]));
    assert_eq!(a["after"]["input"]["password"], "(sensitive value)", "{a}");
    assert_eq!(a["after"]["input"]["name"], "first", "{a}");
    assert_eq!(a["after"]["id"], "(known after apply)", "{a}");

    // State objects (redacted) and versions (the run wrote one).
    let state = c.expect("GET", "/api/v1/stacks/state", &viewer, 200);
    assert_eq!(
        addresses(&state),
        vec![
            "terraform_data.a".to_string(),
            "terraform_data.b".to_string()
        ]
    );
    assert!(state.to_string().contains("(sensitive value)"), "{state}");
    let versions = c.expect("GET", "/api/v1/stacks/state/versions", &viewer, 200);
    let vs = versions["versions"].as_array().cloned().unwrap_or_default();
    assert!(
        vs.iter()
            .any(|v| v["run_id"] == id.as_str() && v["command"] == "apply"),
        "{versions}"
    );
    let versions_after_apply = vs.len();

    // The audit export: whole records with hashes; the apply's actor is the token's name.
    let export = c.expect("GET", "/api/v1/audit/export", &viewer, 200);
    let records = export["records"].as_array().cloned().unwrap_or_default();
    let rec = records
        .iter()
        .find(|r| r["command"] == "apply" && r["run_id"] == id.as_str())
        .unwrap_or_else(|| panic!("the apply's audit record in {export}"));
    assert_eq!(rec["actor"], "api:ops", "{rec}");
    assert!(rec["hash"].as_str().is_some_and(|h| !h.is_empty()));
    let (st, lines) = c.call("GET", "/api/v1/audit/export?format=jsonl", &viewer);
    assert_eq!(st, 200);
    assert_eq!(lines.lines().count(), records.len(), "{lines}");
    for l in lines.lines() {
        let _: Json = serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}: {l}"));
    }
    c.expect("GET", "/api/v1/audit/export?format=xml", &viewer, 400);

    // Drift: checked now by the operator (clean), then read by the viewer.
    let d = c.expect("POST", "/api/v1/stacks/drift", &operator, 200);
    assert_eq!(d["check"]["outcome"], "clean", "{d}");
    let d = c.expect("GET", "/api/v1/stacks/drift", &viewer, 200);
    assert_eq!(d["stacks"][0]["outcome"], "clean", "{d}");
    assert_eq!(d["stacks"][0]["drifted"], serde_json::json!([]));
    let d2 = c.expect("GET", "/api/v1/drift", &viewer, 200);
    assert_eq!(d2["stacks"], d["stacks"]);
    assert_eq!(
        d["stacks"][0]["actor"], "api:ops",
        "the check is recorded as the caller's: {d}"
    );

    // Services, policies (the set and the last decision), workers.
    let sv = c.expect("GET", "/api/v1/services", &viewer, 200);
    assert!(sv["services"].is_array(), "{sv}");
    let pol = c.expect("GET", "/api/v1/policies", &viewer, 200);
    assert_eq!(pol["policies"][0]["name"], "default", "{pol}");
    assert!(
        pol["decisions"].as_array().is_some_and(|d| d
            .iter()
            .any(|x| x["command"] == "apply" && x["messages"].to_string().contains("is new"))),
        "{pol}"
    );
    p.write("policies/notes_test.rego", NOTES_TEST);
    let t = c.expect("POST", "/api/v1/policies/test", &operator, 200);
    assert_eq!(t["ok"], true, "{t}");
    assert_eq!(t["passed"], 1, "{t}");
    assert_eq!(t["tests"][0]["name"], "test_a_create_is_noted", "{t}");
    assert_eq!(t["tests"][0]["outcome"], "pass", "{t}");
    let w = c.expect("GET", "/api/v1/workers", &viewer, 200);
    assert!(w["workers"].is_array() && w["agent"]["pid"].is_u64(), "{w}");

    // A completed run cannot be resumed nor cancelled: 409 with the reason.
    let v = c.expect("POST", &format!("/api/v1/runs/{id}/resume"), &operator, 409);
    assert!(v["error"].is_string(), "{v}");
    let v = c.expect("POST", &format!("/api/v1/runs/{id}/cancel"), &operator, 409);
    assert!(
        v["error"]
            .as_str()
            .is_some_and(|e| e.contains("not running")),
        "{v}"
    );
    c.expect("POST", "/api/v1/runs/nope/rollback", &operator, 404);

    // A policy denial through the API: the run is refused, nothing changes, the audit log
    // says who and why.
    p.write("policies/blocked.rego", DENY_BLOCKED);
    p.write(
        "main.tf",
        &format!("{STACK}\nresource \"terraform_data\" \"blocked\" {{\n  input = \"no\"\n}}\n"),
    );
    let denied = c.expect("POST", "/api/v1/stacks/apply", &operator, 202);
    assert_eq!(denied["run"]["status"], "denied", "{denied}");
    let denied_id = denied["run"]["id"].as_str().expect("an id").to_string();
    let state = c.expect("GET", "/api/v1/stacks/state", &viewer, 200);
    assert_eq!(addresses(&state).len(), 2, "{state}");
    let versions = c.expect("GET", "/api/v1/stacks/state/versions", &viewer, 200);
    assert_eq!(
        versions["versions"].as_array().map(Vec::len),
        Some(versions_after_apply)
    );
    let export = c.expect("GET", "/api/v1/audit/export", &viewer, 200);
    let rec = export["records"]
        .as_array()
        .and_then(|r| r.iter().find(|r| r["run_id"] == denied_id.as_str()))
        .unwrap_or_else(|| panic!("the denial's audit record in {export}"))
        .clone();
    assert_eq!(rec["actor"], "api:ops", "{rec}");
    assert_eq!(rec["policy"]["outcome"], "hard_fail", "{rec}");
    let v = c.expect(
        "GET",
        &format!("/api/v1/runs/{denied_id}/plan"),
        &viewer,
        404,
    );
    assert!(
        v["error"]
            .as_str()
            .is_some_and(|e| e.contains("never started") && e.contains("denied")),
        "{v}"
    );
    assert!(
        rec["outcome"]
            .as_str()
            .is_some_and(|o| o.contains("denied")),
        "{rec}"
    );
    p.remove("policies/blocked.rego");
    p.write("main.tf", STACK);

    // Roll the applied run back over HTTP: a new run that removes both objects.
    let rb = c.expect(
        "POST",
        &format!("/api/v1/runs/{id}/rollback"),
        &operator,
        202,
    );
    let rb_id = rb["run"]["id"].as_str().expect("an id").to_string();
    assert_ne!(rb_id, id);
    assert_eq!(rb["run"]["kind"], "rollback");
    let run = c.wait_run(&rb_id, &viewer);
    assert_eq!(run["status"], "completed", "{run}");
    let state = c.expect("GET", "/api/v1/stacks/state", &viewer, 200);
    assert_eq!(addresses(&state), Vec::<String>::new(), "{state}");

    // The OpenAPI document lists this area's routes.
    let doc = c.expect("GET", "/api/v1/openapi.json", &viewer, 200);
    for (m, path) in [
        ("get", "/api/v1/runs/{id}/plan"),
        ("post", "/api/v1/stacks/apply"),
        ("get", "/api/v1/stacks/state/versions"),
        ("get", "/api/v1/audit/export"),
    ] {
        assert_eq!(
            doc["paths"][path][m]["x-baton-permission"],
            if m == "get" { "read" } else { "run" },
            "{m} {path}"
        );
    }

    // Never the secret, in any body.
    for b in c.bodies.borrow().iter() {
        assert!(
            !b.contains(SECRET),
            "the sensitive value in a response: {b}"
        );
    }
}

/// A two-replica exec service that answers HTTP on its port.
const SERVICE: &str = r#"
resource "service" "web" {
  command  = ["sh", "-c", "exec python3 -m http.server --bind 127.0.0.1 $PORT"]
  replicas = 2
  port "http" {}
  health_check {
    type              = "http"
    port              = "http"
    path              = "/"
    interval          = "200ms"
    timeout           = "1s"
    failure_threshold = 2
  }
  update {
    max_parallel     = 1
    min_healthy_time = "300ms"
    healthy_deadline = "10s"
    auto_revert      = true
  }
  kill_timeout = "2s"
}
"#;

fn web(c: &Client, token: &str) -> Json {
    let v = c.expect("GET", "/api/v1/services", token, 200);
    v["services"]
        .as_array()
        .and_then(|a| a.iter().find(|s| s["name"] == "web").cloned())
        .unwrap_or(Json::Null)
}

fn replica_ids(s: &Json) -> Vec<String> {
    s["replicas"]
        .as_array()
        .map(|a| {
            a.iter()
                .filter_map(|r| r["id"].as_str().map(str::to_string))
                .collect()
        })
        .unwrap_or_default()
}

#[test]
fn a_service_is_restarted_replica_by_replica_over_http_and_the_restart_is_audited() {
    let p = Project::new(&[("main.tf", SERVICE)]);
    let _cleanup = common::services::ExecReplicas(p.path().to_path_buf());
    let viewer = token(&p, "viewer", "alice");
    let operator = token(&p, "operator", "ops");
    let s = serve(&p);
    let c = Client::new(&s);

    let started = c.expect("POST", "/api/v1/stacks/apply", &operator, 202);
    let id = started["run"]["id"].as_str().expect("a run id").to_string();
    let run = c.wait_run(&id, &viewer);
    assert_eq!(run["status"], "completed", "{run}");
    let before = web(&c, &viewer);
    assert_eq!(before["healthy_replicas"], 2, "{before}");
    let old = replica_ids(&before);
    assert_eq!(old.len(), 2, "{before}");

    c.expect("POST", "/api/v1/services/nope/restart", &operator, 404);
    let (st, _) = c.call("POST", "/api/v1/services/web/restart", &viewer);
    assert_eq!(st, 403);
    let r = c.expect("POST", "/api/v1/services/web/restart", &operator, 202);
    let version = r["version"].as_str().expect("the new version").to_string();
    assert!(version.ends_with("+restart.1"), "{r}");

    // Every replica is replaced; at no sample are both down.
    let deadline = Instant::now() + Duration::from_secs(90);
    let mut min_healthy = u64::MAX;
    loop {
        let now = web(&c, &viewer);
        min_healthy = min_healthy.min(now["healthy_replicas"].as_u64().unwrap_or(0));
        let ids = replica_ids(&now);
        if now["deployment"] == "healthy"
            && now["version"] == version.as_str()
            && now["healthy_replicas"] == 2
            && ids.len() == 2
            && ids.iter().all(|i| !old.contains(i))
        {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "the restart did not finish: {now}"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    assert!(min_healthy >= 1, "a moment without a healthy replica");

    let export = c.expect("GET", "/api/v1/audit/export", &viewer, 200);
    let rec = export["records"]
        .as_array()
        .and_then(|r| r.iter().find(|r| r["command"] == "service restart"))
        .unwrap_or_else(|| panic!("the restart's audit record in {export}"))
        .clone();
    assert_eq!(rec["actor"], "api:ops", "{rec}");
}

/// One object whose creation takes seconds, and one created after it.
const SLOW: &str = r#"
resource "shell_script" "slow" {
  lifecycle_commands {
    create = "sleep 3"
    delete = "true"
  }
}

resource "terraform_data" "fast" {
  input      = "x"
  depends_on = [shell_script.slow]
}
"#;

#[test]
fn a_run_cancelled_over_http_stops_and_is_resumed_over_http() {
    let p = Project::new(&[("main.tf", SLOW)]);
    let viewer = token(&p, "viewer", "alice");
    let operator = token(&p, "operator", "ops");
    let s = serve(&p);
    let c = Client::new(&s);

    let started = c.expect("POST", "/api/v1/stacks/apply", &operator, 202);
    assert_eq!(started["run"]["status"], "running", "{started}");
    let id = started["run"]["id"].as_str().expect("a run id").to_string();
    std::thread::sleep(Duration::from_millis(700));
    c.expect("POST", &format!("/api/v1/runs/{id}/cancel"), &viewer, 403);
    let cancelled = c.expect("POST", &format!("/api/v1/runs/{id}/cancel"), &operator, 200);
    assert_eq!(cancelled["run"]["status"], "stopping", "{cancelled}");
    let run = c.wait_run(&id, &viewer);
    assert_eq!(run["status"], "stopped", "{run}");
    // The slow action finished and was saved; the one after it never started.
    let state = c.expect("GET", "/api/v1/stacks/state", &viewer, 200);
    assert_eq!(addresses(&state), vec!["shell_script.slow".to_string()]);

    // Resumed over HTTP: a new run finishes the plan.
    let resumed = c.expect("POST", &format!("/api/v1/runs/{id}/resume"), &operator, 202);
    let rid = resumed["run"]["id"].as_str().expect("an id").to_string();
    assert_eq!(resumed["run"]["kind"], "resume", "{resumed}");
    let run = c.wait_run(&rid, &viewer);
    assert_eq!(run["status"], "completed", "{run}");
    let state = c.expect("GET", "/api/v1/stacks/state", &viewer, 200);
    assert_eq!(
        addresses(&state),
        vec![
            "shell_script.slow".to_string(),
            "terraform_data.fast".to_string()
        ]
    );
    let export = c.expect("GET", "/api/v1/audit/export", &viewer, 200);
    let records = export["records"].as_array().cloned().unwrap_or_default();
    for (command, run) in [("cancel", &id), ("resume", &rid)] {
        assert!(
            records.iter().any(|r| r["command"] == command
                && r["run_id"] == run.as_str()
                && r["actor"] == "api:ops"),
            "no {command} record of {run} by api:ops in {export}"
        );
    }
}

const WORKFLOW: &str = r#"workflow "hello" {
  step "greet" {
    command = "echo hi >> greeted.txt"
  }
}
"#;

#[test]
fn workflow_runs_have_no_plan_are_not_resumed_when_finished_and_are_rolled_back_over_http() {
    let p = Project::new(&[("main.tf", STACK), ("hello.baton.hcl", WORKFLOW)]);
    let viewer = token(&p, "viewer", "alice");
    let operator = token(&p, "operator", "ops");
    p.baton(["workflow", "run", "hello"]).ok();
    let runs: Json =
        serde_json::from_str(&p.baton(["runs", "--json"]).ok().stdout).expect("runs JSON");
    let wf = runs
        .as_array()
        .and_then(|a| a.iter().find(|r| r["kind"] == "workflow"))
        .and_then(|r| r["id"].as_str())
        .map(str::to_string)
        .expect("a workflow run");
    let s = serve(&p);
    let c = Client::new(&s);

    let v = c.expect("GET", &format!("/api/v1/runs/{wf}/plan"), &viewer, 404);
    assert!(
        v["error"]
            .as_str()
            .is_some_and(|e| e.contains("workflow run")),
        "{v}"
    );
    let v = c.expect("POST", &format!("/api/v1/runs/{wf}/resume"), &operator, 409);
    assert!(
        v["error"].as_str().is_some_and(|e| e.contains("succeeded")),
        "{v}"
    );
    c.expect("POST", &format!("/api/v1/runs/{wf}/cancel"), &operator, 409);
    let rb = c.expect(
        "POST",
        &format!("/api/v1/runs/{wf}/rollback"),
        &operator,
        202,
    );
    assert_eq!(rb["run"]["id"], wf.as_str(), "{rb}");
    assert_eq!(rb["run"]["kind"], "workflow", "{rb}");
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let shown: Json =
            serde_json::from_str(&p.baton(["runs", "show", &wf, "--json"]).ok().stdout)
                .expect("run JSON");
        if shown["status"] == "rolled_back" {
            break;
        }
        assert!(Instant::now() < deadline, "not rolled back: {shown}");
        std::thread::sleep(Duration::from_millis(200));
    }
    // A rolled-back run is not rolled back twice.
    c.expect(
        "POST",
        &format!("/api/v1/runs/{wf}/rollback"),
        &operator,
        409,
    );
}

#[test]
fn drift_lists_every_stack_the_agent_serves() {
    let p = Project::new(&[("main.tf", STACK), ("other/main.tf", STACK)]);
    let viewer = token(&p, "viewer", "alice");
    p.baton(["--chdir", "other", "apply", "--auto-approve"])
        .ok();
    p.baton(["--chdir", "other", "drift"]).ok();
    let s = serve_with(&p, &["--stack", "other"]);
    let c = Client::new(&s);
    // The stacks it serves: its own (primary) and the other.
    let listed = c.expect("GET", "/api/v1/stacks", &viewer, 200);
    let names: Vec<(String, bool)> = listed["stacks"]
        .as_array()
        .cloned()
        .unwrap_or_default()
        .iter()
        .map(|x| {
            (
                x["name"].as_str().unwrap_or_default().to_string(),
                x["primary"].as_bool().unwrap_or(false),
            )
        })
        .collect();
    assert_eq!(names.len(), 2, "{listed}");
    assert!(names[0].1 && !names[1].1, "{listed}");
    assert_eq!(names[1].0, "other", "{listed}");
    assert!(
        listed["stacks"][1]["store"]
            .as_str()
            .is_some_and(|d| d.ends_with("other/.baton/state.db")),
        "{listed}"
    );
    let d = c.expect("GET", "/api/v1/stacks/drift", &viewer, 200);
    let stacks = d["stacks"].as_array().cloned().unwrap_or_default();
    assert_eq!(stacks.len(), 2, "{d}");
    // The directory's own stack was never checked; the other one was, and is clean.
    assert_eq!(stacks[0]["time"], Json::Null, "{d}");
    assert_eq!(stacks[1]["stack"], "other", "{d}");
    assert_eq!(stacks[1]["outcome"], "clean", "{d}");
    assert!(stacks[1]["time"].is_string(), "{d}");

    // A plan of a configuration with errors: no changes, the errors as text.
    let operator = token(&p, "operator", "ops");
    p.write(
        "broken.tf",
        "resource \"terraform_data\" \"c\" {\n  input = var.missing\n}\n",
    );
    let plan = c.expect("POST", "/api/v1/stacks/plan", &operator, 200);
    assert_eq!(plan["changes"], serde_json::json!([]), "{plan}");
    assert!(
        plan["errors"]
            .as_array()
            .is_some_and(|e| e.iter().any(|x| x.to_string().contains("missing"))),
        "{plan}"
    );
}
