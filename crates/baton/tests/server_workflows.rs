//! Workflows over the HTTP API of a real `baton serve`: the list (a sensitive default never
//! shown), a run started by an operator's token that goes on in the agent, its approval
//! listed and refused to a viewer, to an approver the step does not name and to whoever
//! started the run, then approved by a named approver and carried to the end; bad inputs
//! refused naming the input; a step's logs; webhooks signed with HMAC-SHA256 (a good
//! signature starts a run, a bad one is 401, a replayed delivery 409, an unset secret 503);
//! and the CLI's `--server URL` for `runs`, `approve`, `workflow run` and `logs`.
//!
//! Every server listens on 127.0.0.1 port 0 and is killed when its test ends; nothing here
//! reaches beyond loopback.

mod common;

use common::server::{serve_env, token, Server};
use common::Project;
use serde_json::{json, Value as Json};
use std::time::{Duration, Instant};

const WORKFLOW: &str = r#"
workflow "release" {
  input "env" {
    type = string
  }
  input "count" {
    type    = number
    default = 1
  }
  input "api_key" {
    type      = string
    sensitive = true
    default   = "hunter2-do-not-show"
  }
  step "build" {
    command = "echo building ${input.env} x${input.count}"
  }
  step "promote" {
    depends_on = [step.build]
    approval {
      message   = "Promote ${input.env}?"
      approvers = ["bob", "root"]
    }
  }
  step "ship" {
    depends_on = [step.promote]
    command    = "echo shipped ${input.env}"
  }
  trigger "webhook" "push" {
    secret_env  = "HOOK_SECRET"
    inputs      = { count = 2 }
    input_paths = { env = "/ref" }
  }
  trigger "webhook" "unset" {
    secret_env = "BATON_TEST_UNSET_HOOK_SECRET"
  }
}
"#;

const SECRET: &str = "It's a Secret to Everybody";

/// `baton serve --listen 127.0.0.1:0` with the webhook's secret in its environment.
fn serve(p: &Project) -> Server {
    serve_env(p, &["--tick", "200ms"], &[("HOOK_SECRET", SECRET)])
}

fn agent() -> ureq::Agent {
    common::server::agent(None)
}

fn json_of(body: &str) -> Json {
    serde_json::from_str(body).unwrap_or_else(|e| panic!("not JSON ({e}): {body}"))
}

fn get(a: &ureq::Agent, s: &Server, path: &str, token: &str) -> (u16, Json) {
    let mut resp = a
        .get(format!("{}{path}", s.base))
        .header("Authorization", format!("Bearer {token}"))
        .call()
        .unwrap_or_else(|e| panic!("GET {path}: {e}"));
    let status = resp.status().as_u16();
    let body = resp.body_mut().read_to_string().unwrap_or_default();
    (status, json_of(&body))
}

fn post(a: &ureq::Agent, s: &Server, path: &str, token: &str, body: Json) -> (u16, Json) {
    let mut resp = a
        .post(format!("{}{path}", s.base))
        .header("Authorization", format!("Bearer {token}"))
        .header("Content-Type", "application/json")
        .send(body.to_string())
        .unwrap_or_else(|e| panic!("POST {path}: {e}"));
    let status = resp.status().as_u16();
    let text = resp.body_mut().read_to_string().unwrap_or_default();
    (status, json_of(&text))
}

fn hook(
    a: &ureq::Agent,
    s: &Server,
    trigger: &str,
    body: &str,
    sig: Option<&str>,
    delivery: &str,
) -> (u16, Json) {
    let mut req = a
        .post(format!("{}/api/v1/hooks/release/{trigger}", s.base))
        .header("Content-Type", "application/json")
        .header("X-GitHub-Delivery", delivery);
    if let Some(sig) = sig {
        req = req.header("X-Hub-Signature-256", sig);
    }
    let mut resp = req.send(body.to_string()).expect("POST a hook");
    let status = resp.status().as_u16();
    let text = resp.body_mut().read_to_string().unwrap_or_default();
    (status, json_of(&text))
}

/// The run's status as `baton runs show --json` gives it.
fn status_of(p: &Project, run: &str) -> String {
    let o = p.baton(["runs", "show", run, "--json"]).run();
    serde_json::from_str::<Json>(&o.stdout)
        .ok()
        .and_then(|v| v["status"].as_str().map(str::to_string))
        .unwrap_or_default()
}

fn wait_for(what: &str, mut f: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(60);
    while !f() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(200));
    }
}

fn waiting_approval(a: &ureq::Agent, s: &Server, tok: &str, run: &str) -> Option<Json> {
    let (st, v) = get(a, s, "/api/v1/approvals", tok);
    assert_eq!(st, 200, "{v}");
    v["approvals"]
        .as_array()?
        .iter()
        .find(|x| x["run"] == run && x["step"] == "promote")
        .cloned()
}

#[test]
fn runs_approvals_logs_and_webhooks_over_http_and_the_cli() {
    let p = Project::new(&[
        ("release.baton.hcl", WORKFLOW),
        (
            "main.tf",
            "resource \"terraform_data\" \"a\" {\n  input = \"x\"\n}\n",
        ),
    ]);
    p.baton(["apply", "--auto-approve"]).ok();
    let alice = token(&p, "operator", "alice");
    let vic = token(&p, "viewer", "vic");
    let bob = token(&p, "approver", "bob");
    let carl = token(&p, "approver", "carl");
    let root = token(&p, "admin", "root");
    let s = serve(&p);
    let a = agent();

    // The list: inputs (a sensitive default is null), steps, triggers.
    let (st, list) = get(&a, &s, "/api/v1/workflows", &vic);
    assert_eq!(st, 200, "{list}");
    let w = &list["workflows"][0];
    assert_eq!(w["name"], "release");
    assert_eq!(w["inputs"][1]["default"], json!(1));
    assert_eq!(w["inputs"][2]["sensitive"], json!(true));
    assert_eq!(w["inputs"][2]["default"], Json::Null);
    assert!(!list.to_string().contains("hunter2"), "{list}");
    assert_eq!(w["steps"][1]["depends_on"], json!(["build"]));
    assert_eq!(w["triggers"][0], json!({"type": "webhook", "name": "push"}));

    // Bad inputs: 400 naming the input; a viewer may not start a run.
    for (inputs, named) in [
        (json!({"env": "x", "nope": 1}), "nope"),
        (json!({"env": "x", "count": "many"}), "count"),
        (json!({}), "env"),
    ] {
        let (st, v) = post(
            &a,
            &s,
            "/api/v1/workflows/release/runs",
            &alice,
            json!({ "inputs": inputs }),
        );
        assert_eq!(st, 400, "{v}");
        assert!(
            v["error"].as_str().unwrap_or_default().contains(named),
            "{v}"
        );
    }
    let (st, _) = post(
        &a,
        &s,
        "/api/v1/workflows/release/runs",
        &vic,
        json!({"inputs": {"env": "x"}}),
    );
    assert_eq!(st, 403);
    let (st, _) = post(&a, &s, "/api/v1/workflows/nosuch/runs", &alice, json!({}));
    assert_eq!(st, 404);

    // The operator starts a run: 202 at once, it goes on in the agent to the approval.
    let (st, v) = post(
        &a,
        &s,
        "/api/v1/workflows/release/runs",
        &alice,
        json!({"inputs": {"env": "prod"}}),
    );
    assert_eq!(st, 202, "{v}");
    let r1 = v["run"]["id"].as_str().expect("a run id").to_string();
    assert_eq!(v["run"]["workflow"], "release");
    assert_eq!(v["run"]["who"], "api:alice");
    wait_for("the approval of run 1", || {
        waiting_approval(&a, &s, &vic, &r1).is_some()
    });
    let seen = waiting_approval(&a, &s, &vic, &r1).expect("listed");
    assert_eq!(seen["message"], "Promote prod?");
    assert_eq!(seen["may_decide"], json!(false), "a viewer may not decide");
    let for_bob = waiting_approval(&a, &s, &bob, &r1).expect("listed");
    assert_eq!(for_bob["may_decide"], json!(true));
    let for_carl = waiting_approval(&a, &s, &carl, &r1).expect("listed");
    assert_eq!(for_carl["may_decide"], json!(false), "carl is not named");

    // Logs of a finished step; unknown step and run are 404.
    let (st, v) = get(&a, &s, &format!("/api/v1/runs/{r1}/logs?node=build"), &vic);
    assert_eq!(st, 200, "{v}");
    assert!(
        v["text"]
            .as_str()
            .unwrap_or_default()
            .contains("building prod x1"),
        "{v}"
    );
    let (st, _) = get(&a, &s, &format!("/api/v1/runs/{r1}/logs?node=nosuch"), &vic);
    assert_eq!(st, 404);
    let (st, _) = get(&a, &s, "/api/v1/runs/nosuchrun/logs?node=build", &vic);
    assert_eq!(st, 404);

    // A stack run's logs: the action on an address, its status and attempts.
    let (_, runs) = get(&a, &s, "/api/v1/runs?kind=apply", &vic);
    let stack_run = runs["runs"][0]["id"]
        .as_str()
        .expect("the apply's run")
        .to_string();
    let (st, v) = get(
        &a,
        &s,
        &format!("/api/v1/runs/{stack_run}/logs?node=terraform_data.a"),
        &vic,
    );
    assert_eq!(st, 200, "{v}");
    let text = v["text"].as_str().unwrap_or_default();
    assert!(
        text.contains("terraform_data.a") && text.contains("1 attempt"),
        "{v}"
    );
    let (st, _) = get(
        &a,
        &s,
        &format!("/api/v1/runs/{stack_run}/logs?node=terraform_data.zz"),
        &vic,
    );
    assert_eq!(st, 404);

    // Refusals: the viewer's and the operator's role, carl (not named), nothing decided.
    let decide = json!({"step": "promote", "reason": "looks good"});
    for (t, why) in [
        (&vic, "permission"),
        (&alice, "permission"),
        (&carl, "only bob, root"),
    ] {
        let (st, v) = post(
            &a,
            &s,
            &format!("/api/v1/runs/{r1}/approve"),
            t,
            decide.clone(),
        );
        assert_eq!(st, 403, "{v}");
        assert!(v["error"].as_str().unwrap_or_default().contains(why), "{v}");
    }
    // Whoever started a run may not approve it: root starts one and tries.
    let (st, v) = post(
        &a,
        &s,
        "/api/v1/workflows/release/runs",
        &root,
        json!({"inputs": {"env": "dev"}}),
    );
    assert_eq!(st, 202, "{v}");
    let r2 = v["run"]["id"].as_str().expect("a run id").to_string();
    wait_for("the approval of run 2", || {
        waiting_approval(&a, &s, &root, &r2).is_some()
    });
    assert_eq!(
        waiting_approval(&a, &s, &root, &r2).expect("listed")["may_decide"],
        json!(false)
    );
    let (st, v) = post(
        &a,
        &s,
        &format!("/api/v1/runs/{r2}/approve"),
        &root,
        json!({"step": "promote"}),
    );
    assert_eq!(st, 403, "{v}");
    assert!(
        v["error"]
            .as_str()
            .unwrap_or_default()
            .contains("started this run"),
        "{v}"
    );
    assert_eq!(status_of(&p, &r1), "waiting");

    // A run waiting for a person is cancelled: not by a viewer, by its operator; its
    // approval is rejected as cancelled and the run ends; a second cancel finds nothing
    // waiting.
    let (st, v) = post(
        &a,
        &s,
        "/api/v1/workflows/release/runs",
        &alice,
        json!({"inputs": {"env": "qa"}}),
    );
    assert_eq!(st, 202, "{v}");
    let r3 = v["run"]["id"].as_str().expect("a run id").to_string();
    wait_for("the approval of run 3", || {
        waiting_approval(&a, &s, &alice, &r3).is_some()
    });
    let (st, _) = post(
        &a,
        &s,
        &format!("/api/v1/runs/{r3}/cancel"),
        &vic,
        json!({}),
    );
    assert_eq!(st, 403);
    let (st, v) = post(
        &a,
        &s,
        &format!("/api/v1/runs/{r3}/cancel"),
        &alice,
        json!({}),
    );
    assert_eq!(st, 200, "{v}");
    assert_eq!(v["run"]["status"], "cancelling", "{v}");
    wait_for("run 3 to end cancelled", || {
        matches!(status_of(&p, &r3).as_str(), "cancelled" | "rolled_back")
    });
    let (st, v) = post(
        &a,
        &s,
        &format!("/api/v1/runs/{r3}/cancel"),
        &alice,
        json!({}),
    );
    assert_eq!(st, 409, "{v}");
    assert!(waiting_approval(&a, &s, &alice, &r3).is_none());

    // A named approver approves: the run goes on to its end.
    let (st, v) = post(
        &a,
        &s,
        &format!("/api/v1/runs/{r1}/approve"),
        &bob,
        decide.clone(),
    );
    assert_eq!(st, 200, "{v}");
    assert_eq!(v["run"]["id"], r1.as_str());
    wait_for("run 1 to succeed", || status_of(&p, &r1) == "succeeded");
    let (_, v) = get(&a, &s, &format!("/api/v1/runs/{r1}/logs?node=ship"), &vic);
    assert!(
        v["text"]
            .as_str()
            .unwrap_or_default()
            .contains("shipped prod"),
        "{v}"
    );
    // Deciding again: the step is not waiting any more.
    let (st, _) = post(
        &a,
        &s,
        &format!("/api/v1/runs/{r1}/approve"),
        &bob,
        decide.clone(),
    );
    assert_eq!(st, 409);
    // The decision is audited with its actor and reason.
    let audit = p.baton(["audit", "list"]).ok();
    assert!(
        audit.stdout.contains("api:bob") && audit.all().contains("workflow approve"),
        "{}",
        audit.all()
    );

    // Webhooks: a good signature starts a run with the body's values.
    let body = r#"{"ref":"staging","pusher":{"name":"x"}}"#;
    let good = baton_server::workflows::sign(SECRET.as_bytes(), body.as_bytes());
    let (st, v) = hook(&a, &s, "push", body, Some(&good), "delivery-1");
    assert_eq!(st, 202, "{v}");
    let r3 = v["run"]["id"].as_str().expect("a run id").to_string();
    assert_eq!(v["run"]["who"], "webhook:release/push");
    wait_for("the webhook's run to wait", || {
        waiting_approval(&a, &s, &bob, &r3).is_some()
    });
    let (_, v) = get(&a, &s, &format!("/api/v1/runs/{r3}/logs?node=build"), &vic);
    assert!(
        v["text"]
            .as_str()
            .unwrap_or_default()
            .contains("building staging x2"),
        "{v}"
    );
    // The same delivery again is refused; a bad or missing signature is 401.
    let (st, v) = hook(&a, &s, "push", body, Some(&good), "delivery-1");
    assert_eq!(st, 409, "{v}");
    let bad = baton_server::workflows::sign(b"another secret", body.as_bytes());
    let (st, _) = hook(&a, &s, "push", body, Some(&bad), "delivery-2");
    assert_eq!(st, 401);
    let (st, _) = hook(&a, &s, "push", body, None, "delivery-3");
    assert_eq!(st, 401);
    // A trigger whose secret is not set accepts nothing, signed or not.
    let (st, v) = hook(&a, &s, "unset", body, Some(&good), "delivery-4");
    assert_eq!(st, 503, "{v}");
    assert!(
        v["error"]
            .as_str()
            .unwrap_or_default()
            .contains("BATON_TEST_UNSET_HOOK_SECRET"),
        "{v}"
    );
    let (st, _) = hook(&a, &s, "nosuch", body, Some(&good), "delivery-5");
    assert_eq!(st, 404);

    // The CLI against the server: runs, approve (bob decides root's run), logs, workflow run.
    let remote = |tok: &str, args: &[&str]| {
        let mut all = vec!["--server", s.base.as_str()];
        all.extend_from_slice(args);
        p.baton(all).env("BATON_TOKEN", tok)
    };
    // The runs route lists the stack's runs and the workflow runs.
    let o = remote(&vic, &["runs", "--json"]).ok();
    assert!(o.stdout.contains("\"runs\""), "{}", o.all());
    let o = remote(&vic, &["runs"]).ok();
    assert!(
        o.stdout.contains(&stack_run) && o.stdout.contains("apply"),
        "{}",
        o.all()
    );
    assert!(o.stdout.contains("workflow release"), "{}", o.all());
    // One run, remotely: its steps with their status.
    let o = remote(&vic, &["runs", "show", &r1]).ok();
    assert!(o.stdout.contains("workflow release"), "{}", o.all());
    assert!(
        o.stdout
            .lines()
            .any(|l| l.contains("succeeded") && l.contains("build")),
        "{}",
        o.all()
    );
    let o = remote(&vic, &["runs", "show", "nosuchrun"]).fails();
    assert!(o.all().contains("404"), "{}", o.all());
    let o = remote("baton_not-a-token", &["runs"]).fails();
    assert!(o.all().contains("401"), "{}", o.all());
    let o = remote(&root, &["approve", &r2, "promote"]).fails();
    assert!(o.all().contains("started this run"), "{}", o.all());
    assert!(!o.all().contains(&root), "a token is never printed");
    remote(&bob, &["approve", &r2, "promote", "--reason", "ok"]).ok();
    wait_for("run 2 to succeed", || status_of(&p, &r2) == "succeeded");
    let o = remote(&vic, &["logs", &r2, "ship"]).ok();
    assert!(o.stdout.contains("shipped dev"), "{}", o.all());
    let o = remote(&alice, &["workflow", "run", "release", "--input", "env=qa"]).ok();
    assert!(o.stdout.contains("Workflow run "), "{}", o.all());
    let o = remote(&vic, &["workflow", "run", "release", "--input", "env=qa"]).fails();
    assert!(
        o.all().contains("403") || o.all().contains("may not"),
        "{}",
        o.all()
    );

    // The webhook's run is audited under the trigger's name.
    let audit = p.baton(["audit", "list"]).ok();
    assert!(
        audit.stdout.contains("webhook:release/push"),
        "{}",
        audit.all()
    );

    // Bad signatures count as failed logins: soon this address is refused everywhere.
    let mut limited = false;
    for i in 0..12 {
        let (st, _) = hook(&a, &s, "push", body, Some(&bad), &format!("bad-{i}"));
        if st == 429 {
            limited = true;
            break;
        }
        assert_eq!(st, 401);
    }
    assert!(limited, "bad signatures are rate-limited");
    let mut resp = a
        .get(format!("{}/api/v1/whoami", s.base))
        .header("Authorization", format!("Bearer {bob}"))
        .call()
        .expect("GET whoami");
    assert_eq!(resp.status().as_u16(), 429);
    let _ = resp.body_mut().read_to_string();
}
