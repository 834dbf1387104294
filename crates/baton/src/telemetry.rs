//! Observability: structured logs (`--log-format json` / `BATON_LOG_FORMAT=json`: one JSON
//! event per action with run id, address, action, attempts, duration and outcome) and
//! `--trace-file FILE` (a Chrome trace-event JSON of the run: one span per action under the
//! run's span, which Perfetto and chrome://tracing open).
//!
//! And, when `OTEL_EXPORTER_OTLP_ENDPOINT` (or `OTEL_EXPORTER_OTLP_TRACES_ENDPOINT`) is set,
//! the same spans exported to an OpenTelemetry collector over OTLP/HTTP (JSON): one trace per
//! run, the run's span the parent of its actions' (see [`Telemetry::export_otlp`]).
//!
//! All are fed by the engine's events; none ever sees an attribute value.

use baton_engine::{Action, Event, Observer};
use sha2::Digest as _;
use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Instant, SystemTime, UNIX_EPOCH};

/// Sets up the `tracing` subscriber. Human format by default (warnings only unless
/// `BATON_LOG=info|debug`); JSON lines at info level with `json`.
pub fn init_logging(format: Option<&str>) -> anyhow::Result<()> {
    let env_format = std::env::var("BATON_LOG_FORMAT").ok();
    let format = format.map(str::to_string).or(env_format);
    let level = match std::env::var("BATON_LOG").ok().as_deref() {
        Some("debug") => tracing::Level::DEBUG,
        Some("info") => tracing::Level::INFO,
        Some("error") => tracing::Level::ERROR,
        _ => tracing::Level::WARN,
    };
    match format.as_deref() {
        None | Some("human") | Some("text") => {
            let _ = tracing_subscriber::fmt()
                .with_writer(std::io::stderr)
                .with_max_level(level)
                .with_target(false)
                .without_time()
                .try_init();
        }
        Some("json") => {
            let level = if level > tracing::Level::INFO {
                level
            } else {
                tracing::Level::INFO
            };
            let _ = tracing_subscriber::fmt()
                .json()
                .with_writer(std::io::stderr)
                .with_max_level(level)
                .with_current_span(false)
                .try_init();
        }
        Some(other) => anyhow::bail!("--log-format {other:?}: expected human or json"),
    }
    Ok(())
}

fn action_name(a: Action) -> &'static str {
    match a {
        Action::Create => "create",
        Action::Update => "update",
        Action::Delete => "delete",
        Action::Read => "read",
        Action::NoOp => "import",
        Action::Forget => "forget",
        Action::DeleteThenCreate | Action::CreateThenDelete => "replace",
    }
}

struct Span {
    name: String,
    start_us: u64,
    dur_us: u64,
    args: serde_json::Value,
}

/// Forwards events to an inner observer, logs each finished action, and records spans for a
/// trace file.
pub struct Telemetry<'a> {
    inner: &'a dyn Observer,
    run_id: String,
    t0: Instant,
    /// `t0` by the wall clock, for exported spans' times.
    t0_wall: SystemTime,
    /// Spans are kept only when a trace file will be written.
    record_spans: bool,
    started: Mutex<HashMap<String, Instant>>,
    spans: Mutex<Vec<Span>>,
}

impl<'a> Telemetry<'a> {
    /// `record_spans`: keep one span per action for [`Telemetry::write_trace`].
    pub fn new(inner: &'a dyn Observer, run_id: &str, record_spans: bool) -> Telemetry<'a> {
        Telemetry {
            inner,
            run_id: run_id.to_string(),
            t0: Instant::now(),
            t0_wall: SystemTime::now(),
            record_spans,
            started: Mutex::new(HashMap::new()),
            spans: Mutex::new(Vec::new()),
        }
    }

    fn us(&self, t: Instant) -> u64 {
        t.saturating_duration_since(self.t0).as_micros() as u64
    }

    /// Where spans go over OTLP/HTTP, if anywhere: `OTEL_EXPORTER_OTLP_TRACES_ENDPOINT` as it
    /// is, else `OTEL_EXPORTER_OTLP_ENDPOINT` with `/v1/traces` (OpenTelemetry's variables).
    pub fn otlp_endpoint() -> Option<String> {
        let var = |k: &str| std::env::var(k).ok().filter(|v| !v.trim().is_empty());
        var("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT").or_else(|| {
            var("OTEL_EXPORTER_OTLP_ENDPOINT")
                .map(|e| format!("{}/v1/traces", e.trim_end_matches('/')))
        })
    }

    /// The run's spans as an OTLP `ExportTraceServiceRequest` (JSON encoding): one trace whose
    /// id is derived from the run id, the run's span its root, one child span per action
    /// (address, action, attempts and outcome as attributes; failed actions with an error
    /// status).
    pub fn otlp_json(&self) -> serde_json::Value {
        let spans: Vec<Span> = match self.spans.lock() {
            Ok(s) => s
                .iter()
                .map(|s| Span {
                    name: s.name.clone(),
                    start_us: s.start_us,
                    dur_us: s.dur_us,
                    args: s.args.clone(),
                })
                .collect(),
            Err(_) => Vec::new(),
        };
        let digest = sha2::Sha256::digest(self.run_id.as_bytes());
        let trace_id = hex::encode(&digest[..16]);
        let span_id = |i: usize| {
            let d = sha2::Sha256::digest(format!("{}/{i}", self.run_id).as_bytes());
            hex::encode(&d[..8])
        };
        let base = self
            .t0_wall
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos() as u64);
        let ns = |us: u64| (base + us * 1000).to_string();
        let end = spans
            .iter()
            .map(|s| s.start_us + s.dur_us)
            .max()
            .unwrap_or(0)
            .max(self.us(Instant::now()));
        let attr = |k: &str, v: serde_json::Value| {
            let value = match v {
                serde_json::Value::Number(n) => serde_json::json!({ "intValue": n.to_string() }),
                serde_json::Value::String(s) => serde_json::json!({ "stringValue": s }),
                other => serde_json::json!({ "stringValue": other.to_string() }),
            };
            serde_json::json!({ "key": k, "value": value })
        };
        let root = span_id(0);
        let mut out = vec![serde_json::json!({
            "traceId": trace_id, "spanId": root, "name": format!("run {}", self.run_id),
            "kind": 1, "startTimeUnixNano": ns(0), "endTimeUnixNano": ns(end),
            "attributes": [attr("baton.run_id", serde_json::json!(self.run_id))],
        })];
        for (i, s) in spans.iter().enumerate() {
            let mut attributes = Vec::new();
            if let Some(m) = s.args.as_object() {
                for (k, v) in m {
                    attributes.push(attr(&format!("baton.{k}"), v.clone()));
                }
            }
            let failed = s.args.get("outcome").and_then(|o| o.as_str()) == Some("failed");
            out.push(serde_json::json!({
                "traceId": trace_id, "spanId": span_id(i + 1), "parentSpanId": root,
                "name": s.name, "kind": 1,
                "startTimeUnixNano": ns(s.start_us), "endTimeUnixNano": ns(s.start_us + s.dur_us),
                "attributes": attributes,
                "status": { "code": if failed { 2 } else { 1 } },
            }));
        }
        serde_json::json!({ "resourceSpans": [{
            "resource": { "attributes": [attr("service.name", serde_json::json!("baton"))] },
            "scopeSpans": [{ "scope": { "name": "baton" }, "spans": out }],
        }] })
    }

    /// Sends [`Telemetry::otlp_json`] to `endpoint` (OTLP/HTTP, JSON), within 10 seconds.
    pub fn export_otlp(&self, endpoint: &str) -> anyhow::Result<()> {
        let agent: ureq::Agent = ureq::Agent::config_builder()
            .timeout_global(Some(std::time::Duration::from_secs(10)))
            .build()
            .into();
        agent
            .post(endpoint)
            .header("Content-Type", "application/json")
            .send(self.otlp_json().to_string())
            .map(|_| ())
            .map_err(|e| anyhow::anyhow!("cannot export the run's trace to {endpoint}: {e}"))
    }

    /// Writes the Chrome trace-event JSON: the run as one span on the first track, actions on
    /// the following tracks (one per concurrently running action, so parallelism is visible).
    pub fn write_trace(&self, path: &std::path::Path) -> anyhow::Result<()> {
        let mut spans: Vec<Span> = match self.spans.lock() {
            Ok(mut s) => std::mem::take(&mut *s),
            Err(_) => Vec::new(),
        };
        spans.sort_by_key(|s| s.start_us);
        let end = spans
            .iter()
            .map(|s| s.start_us + s.dur_us)
            .max()
            .unwrap_or(0)
            .max(self.us(Instant::now()));
        let mut events = vec![
            serde_json::json!({"ph": "M", "name": "process_name", "pid": 1, "tid": 0, "args": {"name": format!("baton run {}", self.run_id)}}),
            serde_json::json!({"ph": "M", "name": "thread_name", "pid": 1, "tid": 0, "args": {"name": "run"}}),
            serde_json::json!({"ph": "X", "name": format!("run {}", self.run_id), "cat": "run", "pid": 1, "tid": 0, "ts": 0, "dur": end, "args": {"run_id": self.run_id}}),
        ];
        let mut lanes: Vec<u64> = Vec::new();
        for s in spans {
            let lane = match lanes.iter().position(|free_at| *free_at <= s.start_us) {
                Some(i) => i,
                None => {
                    lanes.push(0);
                    lanes.len() - 1
                }
            };
            lanes[lane] = s.start_us + s.dur_us;
            let tid = lane + 1;
            events.push(serde_json::json!({"ph": "X", "name": s.name, "cat": "action", "pid": 1, "tid": tid, "ts": s.start_us, "dur": s.dur_us.max(1), "args": s.args}));
        }
        for lane in 0..lanes.len() {
            events.push(serde_json::json!({"ph": "M", "name": "thread_name", "pid": 1, "tid": lane + 1, "args": {"name": format!("worker {}", lane + 1)}}));
        }
        let doc = serde_json::json!({"traceEvents": events, "displayTimeUnit": "ms"});
        std::fs::write(path, serde_json::to_string(&doc)?)
            .map_err(|e| anyhow::anyhow!("cannot write the trace to {}: {e}", path.display()))
    }
}

impl Observer for Telemetry<'_> {
    fn event(&self, e: Event) {
        match &e {
            Event::ApplyStart { addr, deposed, .. } if self.record_spans => {
                let key = format!("{addr}{deposed:?}");
                if let Ok(mut m) = self.started.lock() {
                    m.insert(key, Instant::now());
                }
            }
            Event::ApplyDone {
                addr,
                deposed,
                action,
                elapsed,
                attempts,
                ..
            }
            | Event::ApplyFailed {
                addr,
                deposed,
                action,
                elapsed,
                attempts,
            } => {
                let ok = matches!(e, Event::ApplyDone { .. });
                let outcome = if ok { "ok" } else { "failed" };
                let name = action_name(*action);
                if ok {
                    tracing::info!(run_id = %self.run_id, address = %addr, action = name, attempts = *attempts, duration_ms = elapsed.as_millis() as u64, outcome, "action finished");
                } else {
                    tracing::info!(run_id = %self.run_id, address = %addr, action = name, attempts = *attempts, duration_ms = elapsed.as_millis() as u64, outcome, "action failed");
                }
                if self.record_spans {
                    let key = format!("{addr}{deposed:?}");
                    let start = self
                        .started
                        .lock()
                        .ok()
                        .and_then(|mut m| m.remove(&key))
                        .unwrap_or_else(|| Instant::now() - *elapsed);
                    if let Ok(mut s) = self.spans.lock() {
                        s.push(Span {
                            name: format!("{name} {addr}"),
                            start_us: self.us(start),
                            dur_us: elapsed.as_micros() as u64,
                            args: serde_json::json!({"address": addr.to_string(), "action": name, "attempts": attempts, "outcome": outcome}),
                        });
                    }
                }
            }
            Event::RollbackStart { run_id } => {
                tracing::info!(run_id = %run_id, "rolling back the run");
            }
            _ => {}
        }
        self.inner.event(e);
    }
}
