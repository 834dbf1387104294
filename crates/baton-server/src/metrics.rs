//! Every Prometheus metric the server exposes, declared once: the names (as they appear in the
//! `/metrics` text), their help, their labels, and the registry that encodes them.
//!
//! Must not read the store or the network itself: the caller hands in what to report (the
//! run counts it read) and records request timings through [`Metrics::observe_request`].
//! Labels have bounded values only (a route's pattern, never a path with ids in it).

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{exponential_buckets, Histogram};
use prometheus_client::registry::Registry;
use std::sync::Mutex;

/// HTTP request latency, by route pattern, method and status (a histogram).
pub const HTTP_REQUEST_DURATION: &str = "baton_http_request_duration_seconds";
/// Runs in the stack's store, by kind and outcome (a gauge read from the store at scrape).
pub const RUNS: &str = "baton_runs";
/// Requests refused for a bad token (a counter; the text adds `_total`).
pub const AUTH_FAILURES: &str = "baton_http_auth_failures";
/// Requests refused because their client failed too often (a counter; the text adds `_total`).
pub const RATE_LIMITED: &str = "baton_http_rate_limited";

/// The names as they appear in the text (counters with their `_total`), for docs and tests.
pub const EXPOSED: &[&str] = &[
    HTTP_REQUEST_DURATION,
    RUNS,
    "baton_http_auth_failures_total",
    "baton_http_rate_limited_total",
];

/// The content type of [`Metrics::encode`]'s text.
pub const CONTENT_TYPE: &str = "application/openmetrics-text; version=1.0.0; charset=utf-8";

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct RequestLabels {
    route: String,
    method: String,
    status: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct RunLabels {
    kind: String,
    outcome: String,
}

/// The server's metrics and their registry.
pub struct Metrics {
    /// The registry and the run gauge, updated and encoded under one lock so two scrapes do not
    /// interleave their updates.
    inner: Mutex<(Registry, Family<RunLabels, Gauge>)>,
    requests: Family<RequestLabels, Histogram>,
    auth_failures: Counter,
    rate_limited: Counter,
}

impl Default for Metrics {
    fn default() -> Self {
        Metrics::new()
    }
}

impl Metrics {
    pub fn new() -> Metrics {
        let mut registry = Registry::default();
        let requests = Family::<RequestLabels, Histogram>::new_with_constructor(
            (|| Histogram::new(exponential_buckets(0.0005, 2.0, 16))) as fn() -> Histogram,
        );
        let runs = Family::<RunLabels, Gauge>::default();
        let auth_failures = Counter::default();
        let rate_limited = Counter::default();
        registry.register(
            HTTP_REQUEST_DURATION,
            "HTTP request latency in seconds, by route pattern, method and status",
            requests.clone(),
        );
        registry.register(
            RUNS,
            "Runs in the stack's store, by kind and outcome",
            runs.clone(),
        );
        registry.register(
            AUTH_FAILURES,
            "API requests refused for a missing or bad token",
            auth_failures.clone(),
        );
        registry.register(
            RATE_LIMITED,
            "API requests refused because their client failed to log in too often",
            rate_limited.clone(),
        );
        Metrics {
            inner: Mutex::new((registry, runs)),
            requests,
            auth_failures,
            rate_limited,
        }
    }

    /// Records one request's latency.
    pub fn observe_request(&self, route: &str, method: &str, status: u16, seconds: f64) {
        self.requests
            .get_or_create(&RequestLabels {
                route: route.to_string(),
                method: method.to_string(),
                status: status.to_string(),
            })
            .observe(seconds);
    }

    pub fn auth_failed(&self) {
        self.auth_failures.inc();
    }

    pub fn rate_limited(&self) {
        self.rate_limited.inc();
    }

    /// The text exposition, with the run gauge set from `runs` (kind, outcome, count).
    pub fn encode(&self, runs: &[(String, String, i64)]) -> Result<String, std::fmt::Error> {
        let guard = self.inner.lock().unwrap_or_else(|p| p.into_inner());
        let (registry, family) = &*guard;
        family.clear();
        for (kind, outcome, n) in runs {
            family
                .get_or_create(&RunLabels {
                    kind: kind.clone(),
                    outcome: outcome.clone(),
                })
                .set(*n);
        }
        let mut out = String::new();
        prometheus_client::encoding::text::encode(&mut out, registry)?;
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_text_names_every_declared_metric() {
        let m = Metrics::new();
        m.observe_request("/api/v1/runs", "GET", 200, 0.01);
        m.auth_failed();
        let text = m
            .encode(&[("apply".into(), "completed".into(), 2)])
            .expect("encode");
        for name in EXPOSED {
            assert!(
                text.contains(&format!("# TYPE {name} "))
                    || text.contains(&format!("{name}{{"))
                    || text.contains(&format!("{name} ")),
                "{name} missing from\n{text}"
            );
        }
        assert!(
            text.contains(r#"baton_runs{kind="apply",outcome="completed"} 2"#),
            "{text}"
        );
        assert!(text.contains("baton_http_auth_failures_total 1"), "{text}");
    }
}
