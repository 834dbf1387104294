//! OpenTelemetry export of a run's trace: with `OTEL_EXPORTER_OTLP_ENDPOINT` set, `baton
//! apply` posts the run's spans (OTLP/HTTP, JSON) to `ENDPOINT/v1/traces` — one trace, the
//! run's span the parent of one span per action, no attribute value in it — and a collector
//! that is down only warns. The collector is a listener in the test, on 127.0.0.1.

mod common;

use common::Project;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpListener;
use std::sync::mpsc;
use std::time::Duration;

const STACK: &str = r#"
variable "secret" {
  type      = string
  sensitive = true
  default   = "otlp-secret-never-exported"
}

resource "terraform_data" "a" {
  input = var.secret
}

resource "terraform_data" "b" {
  input = terraform_data.a.id
}
"#;

/// Accepts one HTTP request: (request line, body); answers 200.
fn collector() -> (u16, mpsc::Receiver<(String, String)>) {
    let l = TcpListener::bind("127.0.0.1:0").expect("bind");
    let port = l.local_addr().expect("addr").port();
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        let Ok((stream, _)) = l.accept() else { return };
        let mut r = BufReader::new(stream);
        let mut first = String::new();
        let _ = r.read_line(&mut first);
        let mut len = 0usize;
        loop {
            let mut h = String::new();
            if r.read_line(&mut h).unwrap_or(0) == 0 || h == "\r\n" {
                break;
            }
            if let Some(v) = h.to_ascii_lowercase().strip_prefix("content-length:") {
                len = v.trim().parse().unwrap_or(0);
            }
        }
        let mut body = vec![0; len];
        let _ = r.read_exact(&mut body);
        let mut s = r.into_inner();
        let _ = s.write_all(
            b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nContent-Type: application/json\r\n\r\n{}",
        );
        let _ = tx.send((
            first.trim().to_string(),
            String::from_utf8_lossy(&body).into_owned(),
        ));
    });
    (port, rx)
}

#[test]
fn an_apply_exports_its_trace_to_the_collector() {
    let p = Project::new(&[("main.tf", STACK)]);
    let (port, rx) = collector();
    p.baton(["apply", "--auto-approve"])
        .env(
            "OTEL_EXPORTER_OTLP_ENDPOINT",
            &format!("http://127.0.0.1:{port}"),
        )
        .timeout(Duration::from_secs(120))
        .ok();
    let (line, body) = rx
        .recv_timeout(Duration::from_secs(30))
        .expect("the collector got nothing");
    assert!(line.starts_with("POST /v1/traces "), "{line}");
    assert!(!body.contains("otlp-secret-never-exported"), "{body}");
    let j: serde_json::Value = serde_json::from_str(&body).expect("OTLP JSON");
    let spans = j["resourceSpans"][0]["scopeSpans"][0]["spans"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    assert_eq!(spans.len(), 3, "the run and its two actions: {body}");
    let root = &spans[0];
    assert!(
        root["name"].as_str().is_some_and(|n| n.starts_with("run ")),
        "{body}"
    );
    let names: Vec<&str> = spans[1..]
        .iter()
        .filter_map(|s| s["name"].as_str())
        .collect();
    assert!(names.contains(&"create terraform_data.a"), "{names:?}");
    assert!(names.contains(&"create terraform_data.b"), "{names:?}");
    for s in &spans[1..] {
        assert_eq!(s["traceId"], root["traceId"], "one trace");
        assert_eq!(s["parentSpanId"], root["spanId"], "children of the run");
        let start: u128 = s["startTimeUnixNano"]
            .as_str()
            .and_then(|v| v.parse().ok())
            .expect("start");
        let end: u128 = s["endTimeUnixNano"]
            .as_str()
            .and_then(|v| v.parse().ok())
            .expect("end");
        assert!(start <= end && start > 1_600_000_000_000_000_000, "{s}");
    }
    assert_eq!(root["traceId"].as_str().map(str::len), Some(32));
}

#[test]
fn a_collector_that_is_down_only_warns() {
    let p = Project::new(&[("main.tf", STACK)]);
    // A port nothing listens on.
    let port = TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free port");
    let out = p
        .baton(["apply", "--auto-approve"])
        .env(
            "OTEL_EXPORTER_OTLP_ENDPOINT",
            &format!("http://127.0.0.1:{port}"),
        )
        .timeout(Duration::from_secs(120))
        .ok();
    assert!(
        out.stderr.contains("cannot export the run's trace"),
        "{}",
        out.all()
    );
}
