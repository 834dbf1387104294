//! Observability: structured logs (`--log-format json` / `BATON_LOG_FORMAT=json`: one JSON
//! event per action with run id, address, action, attempts, duration and outcome) and
//! `--trace-file FILE` (a Chrome trace-event JSON of the run: one span per action under the
//! run's span, which Perfetto and chrome://tracing open).
//!
//! Both are fed by the engine's events; neither ever sees an attribute value.

use baton_engine::{Action, Event, Observer};
use std::collections::HashMap;
use std::sync::Mutex;
use std::time::Instant;

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
            record_spans,
            started: Mutex::new(HashMap::new()),
            spans: Mutex::new(Vec::new()),
        }
    }

    fn us(&self, t: Instant) -> u64 {
        t.saturating_duration_since(self.t0).as_micros() as u64
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
