//! The HTTP API of `baton serve` through the binary and a real HTTP client: tokens made with
//! `baton token create`, refused without one (401), with a bad one (401), with a role that may
//! not (403) and after too many bad ones (429); runs of a real apply listed and shown without
//! their sensitive values; the OpenAPI document lists every route; the metrics name what
//! `metrics.rs` declares; HTTPS with a certificate made in the test; bad TLS files refused
//! before anything starts.
//!
//! Every server listens on 127.0.0.1 port 0 (the port it prints) and is killed when its test
//! ends; nothing here reaches beyond loopback.

mod common;

use common::server::{agent, serve, token, Server};
use common::Project;
use serde_json::Value as Json;

/// A stack of one object whose input is sensitive.
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

/// GET `path` with `token` (if any): status, body, headers of interest.
fn get(a: &ureq::Agent, s: &Server, path: &str, token: Option<&str>) -> (u16, String) {
    let (status, body, _) = get_full(a, s, path, token);
    (status, body)
}

fn get_full(
    a: &ureq::Agent,
    s: &Server,
    path: &str,
    token: Option<&str>,
) -> (u16, String, Option<String>) {
    let mut req = a.get(format!("{}{path}", s.base));
    if let Some(t) = token {
        req = req.header("Authorization", format!("Bearer {t}"));
    }
    let mut resp = req.call().unwrap_or_else(|e| panic!("GET {path}: {e}"));
    let status = resp.status().as_u16();
    let retry = resp
        .headers()
        .get("retry-after")
        .and_then(|v| v.to_str().ok())
        .map(str::to_string);
    let body = resp.body_mut().read_to_string().unwrap_or_default();
    (status, body, retry)
}

fn json(body: &str) -> Json {
    serde_json::from_str(body).unwrap_or_else(|e| panic!("not JSON ({e}): {body}"))
}

/// Every route the server must serve, as the document must list it.
const ROUTES: &[(&str, &str)] = &[
    ("get", "/api/v1/openapi.json"),
    ("get", "/api/v1/whoami"),
    ("get", "/api/v1/runs"),
    ("get", "/api/v1/runs/{id}"),
    ("get", "/api/v1/audit"),
    ("get", "/api/v1/audit/verify"),
    ("get", "/api/v1/tokens"),
    ("get", "/metrics"),
    ("get", "/"),
];

#[test]
fn tokens_roles_runs_audit_documents_and_metrics_over_http() {
    let p = Project::new(&[("main.tf", STACK)]);
    p.baton(["apply", "--auto-approve"]).ok();
    let viewer = token(&p, "viewer", "alice");
    let admin = token(&p, "admin", "root-ops");
    // A second token of one name is refused, and nothing is printed that looks like a token.
    let dup = p
        .baton(["token", "create", "--role", "admin", "--name", "alice"])
        .fails();
    dup.assert_contains("exists already");
    assert!(!dup.all().contains("baton_"), "{}", dup.all());
    p.baton(["token", "create", "--role", "boss", "--name", "x"])
        .fails()
        .assert_contains("viewer, operator, approver, admin");
    // The list shows names and roles, never a token or its hash.
    let list = p.baton(["token", "list"]).ok();
    list.assert_stdout_contains("alice")
        .assert_stdout_contains("viewer");
    assert!(!list.all().contains(&viewer) && !list.all().contains(&viewer[6..20]));
    // Nor the stored digest: no 64-hex-digit word.
    assert!(
        !list
            .stdout
            .split_whitespace()
            .any(|w| w.len() == 64 && w.chars().all(|c| c.is_ascii_hexdigit())),
        "{}",
        list.stdout
    );

    // The token store holds digests, not tokens.
    // (with its write-ahead log, should the last writer not have checkpointed it)
    let mut stored = std::fs::read(p.join(".baton/tokens.db")).expect("the token store");
    stored.extend(std::fs::read(p.join(".baton/tokens.db-wal")).unwrap_or_default());
    let holds = |needle: &str| stored.windows(needle.len()).any(|w| w == needle.as_bytes());
    assert!(
        !holds(&viewer) && !holds(&admin),
        "a token in clear in tokens.db"
    );
    let digest = {
        use sha2::Digest as _;
        hex::encode(sha2::Sha256::digest(viewer.as_bytes()))
    };
    assert!(holds(&digest), "the viewer token's SHA-256 is stored");

    let s = serve(&p, &[]);
    let a = agent(None);

    // No token, a bad token, a malformed header: 401 with a JSON error.
    let (st, body) = get(&a, &s, "/api/v1/runs", None);
    assert_eq!(st, 401, "{body}");
    assert!(json(&body)["error"]
        .as_str()
        .is_some_and(|e| e.contains("token")));
    let (st, body) = get(&a, &s, "/api/v1/runs", Some("baton_not-a-real-token"));
    assert_eq!(st, 401, "{body}");
    for (method, path) in ROUTES {
        if *path == "/" {
            continue;
        }
        let path = path.replace("{id}", "r1");
        let (st, body) = get(&a, &s, &path, None);
        assert_eq!(st, 401, "{method} {path} without a token: {body}");
    }
    // The page is open (it holds no data).
    let (st, body) = get(&a, &s, "/", None);
    assert_eq!(st, 200);
    assert!(body.contains("<title>Baton</title>"), "{body}");

    // Who am I.
    let (st, body) = get(&a, &s, "/api/v1/whoami", Some(&viewer));
    assert_eq!(st, 200, "{body}");
    let me = json(&body);
    assert_eq!(me["name"], "alice");
    assert_eq!(me["role"], "viewer");
    assert_eq!(me["permissions"], serde_json::json!(["read"]));

    // A viewer lists the runs of the apply.
    let (st, body) = get(&a, &s, "/api/v1/runs", Some(&viewer));
    assert_eq!(st, 200, "{body}");
    let page = json(&body);
    let runs = page["runs"].as_array().expect("runs");
    assert_eq!(runs.len(), 1, "{body}");
    assert_eq!(runs[0]["kind"], "apply");
    assert_eq!(runs[0]["status"], "completed");
    assert_eq!(page["next_cursor"], Json::Null);
    let id = runs[0]["id"].as_str().expect("id").to_string();
    // Filters and paging.
    let (_, body) = get(&a, &s, "/api/v1/runs?kind=destroy", Some(&viewer));
    assert_eq!(json(&body)["runs"], serde_json::json!([]), "{body}");
    let (_, body) = get(
        &a,
        &s,
        "/api/v1/runs?status=completed&kind=apply",
        Some(&viewer),
    );
    assert_eq!(json(&body)["runs"][0]["id"], id.as_str());
    let (st, body) = get(&a, &s, "/api/v1/runs?status=great", Some(&viewer));
    assert_eq!(st, 400, "{body}");
    assert!(json(&body)["error"]
        .as_str()
        .is_some_and(|e| e.contains("completed")));
    let (st, _) = get(&a, &s, "/api/v1/runs?limit=0", Some(&viewer));
    assert_eq!(st, 400);
    // A second apply (the server sees it at once): two pages of one.
    p.write("main.tf", &STACK.replace("\"second\"", "\"third\""));
    p.baton(["apply", "--auto-approve"]).ok();
    let (_, body) = get(&a, &s, "/api/v1/runs?limit=1", Some(&viewer));
    let first = json(&body);
    assert_eq!(first["runs"].as_array().map(Vec::len), Some(1), "{body}");
    assert_ne!(first["runs"][0]["id"], id.as_str(), "newest first: {body}");
    let cursor = first["next_cursor"]
        .as_str()
        .expect("a next page")
        .to_string();
    let (_, body) = get(
        &a,
        &s,
        &format!("/api/v1/runs?limit=1&cursor={cursor}"),
        Some(&viewer),
    );
    let second = json(&body);
    assert_eq!(second["runs"][0]["id"], id.as_str(), "{body}");
    assert_eq!(second["next_cursor"], Json::Null, "{body}");

    // One run with its journal: addresses and statuses, never the values.
    let (st, body) = get(&a, &s, &format!("/api/v1/runs/{id}"), Some(&viewer));
    assert_eq!(st, 200, "{body}");
    let run = json(&body);
    let addrs: Vec<&str> = run["actions"]
        .as_array()
        .expect("actions")
        .iter()
        .filter_map(|e| e["address"].as_str())
        .collect();
    assert!(addrs.contains(&"terraform_data.a"), "{body}");
    assert!(
        !body.contains("s3cr3t-value"),
        "a sensitive value in {body}"
    );
    assert!(
        !body.contains("\"planned\"") && !body.contains("\"new_value\""),
        "{body}"
    );
    let (st, body) = get(&a, &s, "/api/v1/runs/r0000", Some(&viewer));
    assert_eq!(st, 404, "{body}");
    assert!(json(&body)["error"].is_string());

    // The audit log and its verification (the token commands are in it, without tokens).
    let (st, body) = get(&a, &s, "/api/v1/audit", Some(&viewer));
    assert_eq!(st, 200, "{body}");
    let commands: Vec<String> = json(&body)["records"]
        .as_array()
        .expect("records")
        .iter()
        .filter_map(|r| r["command"].as_str().map(str::to_string))
        .collect();
    assert!(commands.iter().any(|c| c == "apply"), "{commands:?}");
    assert!(commands.iter().any(|c| c == "token create"), "{commands:?}");
    assert!(
        !body.contains("s3cr3t-value") && !body.contains(&viewer),
        "{body}"
    );
    let (_, body) = get(&a, &s, "/api/v1/audit?limit=1&after=1", Some(&viewer));
    assert_eq!(json(&body)["records"][0]["id"], 2, "{body}");
    let (st, body) = get(&a, &s, "/api/v1/audit/verify", Some(&viewer));
    assert_eq!(st, 200);
    assert_eq!(json(&body)["ok"], true, "{body}");

    // Roles: a viewer may not list tokens (403); an admin may, and sees no token or hash.
    let (st, body) = get(&a, &s, "/api/v1/tokens", Some(&viewer));
    assert_eq!(st, 403, "{body}");
    assert!(json(&body)["error"]
        .as_str()
        .is_some_and(|e| e.contains("viewer")));
    let (st, body) = get(&a, &s, "/api/v1/tokens", Some(&admin));
    assert_eq!(st, 200, "{body}");
    let listed = json(&body);
    let names: Vec<&str> = listed["tokens"]
        .as_array()
        .map(|t| t.iter().filter_map(|t| t["name"].as_str()).collect())
        .unwrap_or_default();
    assert_eq!(names, vec!["alice", "root-ops"], "{body}");
    assert!(!body.contains(&viewer) && !body.contains("hash"), "{body}");

    // The document lists every route with its responses, and nothing else.
    let (st, body) = get(&a, &s, "/api/v1/openapi.json", Some(&viewer));
    assert_eq!(st, 200);
    let doc = json(&body);
    assert!(doc["openapi"].as_str().is_some_and(|v| v.starts_with("3.")));
    for (method, path) in ROUTES {
        let op = &doc["paths"][*path][*method];
        assert!(
            op["responses"]["200"].is_object(),
            "{method} {path} in {body}"
        );
    }
    // Every route the document lists is served: without a token it answers 401 (or, for the
    // pages, 200; for a webhook, which has no token but a signature, 404 for a trigger that
    // does not exist), never the 404 of an unknown route.
    let paths = doc["paths"].as_object().cloned().unwrap_or_default();
    assert!(paths.len() >= ROUTES.len(), "{body}");
    for (path, ops) in &paths {
        let concrete = path.replace(['{', '}'], "");
        for method in ops
            .as_object()
            .map(|o| o.keys().cloned().collect::<Vec<_>>())
            .unwrap_or_default()
        {
            let (status, answer) = match method.as_str() {
                "get" => get(&a, &s, &concrete, None),
                _ => {
                    let url = format!("{}{concrete}", s.base);
                    match a.post(&url).send("") {
                        Ok(mut r) => (
                            r.status().as_u16(),
                            r.body_mut().read_to_string().unwrap_or_default(),
                        ),
                        Err(e) => panic!("POST {url}: {e}"),
                    }
                }
            };
            let hook = path.starts_with("/api/v1/hooks/");
            assert!(
                status == 401 || status == 200 || (hook && status == 404),
                "{method} {path} without a token answered {status}: {answer}"
            );
            assert!(
                !answer.contains("no such route"),
                "{method} {path} is documented but not served: {answer}"
            );
        }
    }
    assert_eq!(
        doc["components"]["securitySchemes"]["bearer"]["scheme"],
        "bearer"
    );

    // Metrics: every declared name, and the runs read from the store.
    let (st, text) = get(&a, &s, "/metrics", Some(&viewer));
    assert_eq!(st, 200, "{text}");
    for name in [
        "baton_http_request_duration_seconds",
        "baton_runs",
        "baton_http_auth_failures_total",
        "baton_http_rate_limited_total",
    ] {
        assert!(
            text.contains(&format!("# TYPE {}", name.trim_end_matches("_total"))),
            "{name} in\n{text}"
        );
    }
    assert!(
        text.contains(r#"baton_runs{kind="apply",outcome="completed"} 2"#),
        "{text}"
    );
    assert!(
        text.contains(r#"route="/api/v1/runs/{id}""#),
        "latency is labelled by route pattern, not path:\n{text}"
    );
    assert!(!text.contains(&id), "a run id in a label:\n{text}");

    // A revoked token stops working at once.
    p.baton(["token", "revoke", "alice"]).ok();
    let (st, _) = get(&a, &s, "/api/v1/whoami", Some(&viewer));
    assert_eq!(st, 401);
    p.baton(["token", "revoke", "alice"])
        .fails()
        .assert_contains("no token named alice");
    drop(s);
}

#[test]
fn eleven_bad_tokens_in_a_minute_are_refused_with_429() {
    let p = Project::new(&[("main.tf", STACK)]);
    let good = token(&p, "viewer", "v");
    let s = serve(&p, &[]);
    let a = agent(None);
    // Requests without a token are not guesses: they do not count.
    for _ in 0..12 {
        assert_eq!(get(&a, &s, "/api/v1/whoami", None).0, 401);
    }
    for i in 1..=10 {
        let (st, body) = get(&a, &s, "/api/v1/whoami", Some(&format!("baton_wrong{i}")));
        assert_eq!(st, 401, "attempt {i}: {body}");
    }
    let (st, body, retry) = get_full(&a, &s, "/api/v1/whoami", Some("baton_wrong11"));
    assert_eq!(st, 429, "{body}");
    assert!(json(&body)["error"]
        .as_str()
        .is_some_and(|e| e.contains("too many")));
    assert!(
        retry
            .as_deref()
            .and_then(|r| r.parse::<u64>().ok())
            .is_some_and(|r| (1..=60).contains(&r)),
        "Retry-After: {retry:?}"
    );
    // While blocked, even a good token from that address waits.
    assert_eq!(get(&a, &s, "/api/v1/whoami", Some(&good)).0, 429);
}

#[test]
fn https_with_a_certificate_made_here_and_bad_tls_files_are_refused_before_anything_starts() {
    let p = Project::new(&[("main.tf", STACK)]);
    let viewer = token(&p, "viewer", "v");
    let ck =
        rcgen::generate_simple_self_signed(vec!["127.0.0.1".to_string(), "localhost".to_string()])
            .expect("a self-signed certificate");
    let cert_pem = ck.cert.pem();
    p.write("tls/cert.pem", &cert_pem);
    p.write("tls/key.pem", &ck.signing_key.serialize_pem());
    p.write("tls/garbage.pem", "this is not PEM\n");

    let s = serve(
        &p,
        &["--tls-cert", "tls/cert.pem", "--tls-key", "tls/key.pem"],
    );
    assert!(s.base.starts_with("https://"), "{}", s.base);
    let a = agent(Some(cert_pem.as_bytes()));
    let (st, body) = get(&a, &s, "/api/v1/whoami", Some(&viewer));
    assert_eq!(st, 200, "{body}");
    assert_eq!(json(&body)["name"], "v");
    let (st, _) = get(&a, &s, "/api/v1/whoami", None);
    assert_eq!(st, 401);
    // A client that does not trust the certificate is refused by TLS itself.
    let untrusting = agent(None);
    assert!(
        untrusting
            .get(format!("{}/api/v1/whoami", s.base))
            .call()
            .is_err(),
        "a client without the certificate must fail the handshake"
    );
    // Plain HTTP to the HTTPS port gets no HTTP answer.
    let plain = s.base.replacen("https://", "http://", 1);
    let r = a.get(format!("{plain}/")).call();
    assert!(r
        .as_ref()
        .map(|r| r.status().as_u16() != 200)
        .unwrap_or(true));
    drop(s);

    // Bad files: an error naming the file, and the agent never starts.
    for (cert, key, named) in [
        ("tls/missing.pem", "tls/key.pem", "missing.pem"),
        ("tls/garbage.pem", "tls/key.pem", "garbage.pem"),
        ("tls/cert.pem", "tls/garbage.pem", "garbage.pem"),
        ("tls/key.pem", "tls/key.pem", "key.pem"),
    ] {
        let o = p
            .baton([
                "serve",
                "--listen",
                "127.0.0.1:0",
                "--for",
                "30s",
                "--tls-cert",
                cert,
                "--tls-key",
                key,
            ])
            .fails();
        o.assert_stderr_contains(named);
        o.assert_not_contains("Serving the workflows");
        o.assert_not_contains("Serving the HTTP API");
    }
    // --tls-cert without --tls-key is a usage error.
    p.baton([
        "serve",
        "--listen",
        "127.0.0.1:0",
        "--tls-cert",
        "tls/cert.pem",
    ])
    .fails()
    .assert_contains("--tls-key");
    // A --listen that is not an address.
    p.baton(["serve", "--listen", "localhost-ish"])
        .fails()
        .assert_contains("--listen");
}
