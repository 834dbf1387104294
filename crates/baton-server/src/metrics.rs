//! Every Prometheus metric the server exposes, declared once: the names (as they appear in the
//! `/metrics` text), their help, their labels, and the registry that encodes them.
//!
//! Must not read the store or the network itself: the caller hands in what to report
//! ([`Observed`], read at scrape) and records request timings through
//! [`Metrics::observe_request`].
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
/// Runs in the stores, by kind (a stack run's, or `workflow`) and outcome (a gauge read at
/// scrape).
pub const RUNS: &str = "baton_runs";
/// Requests refused for a bad token (a counter; the text adds `_total`).
pub const AUTH_FAILURES: &str = "baton_http_auth_failures";
/// Requests refused because their client failed too often (a counter; the text adds `_total`).
pub const RATE_LIMITED: &str = "baton_http_rate_limited";
/// Durations of the recent stack runs' actions, by phase (`apply`, `rollback`).
pub const ACTION_DURATION: &str = "baton_action_duration_seconds";
/// Durations of the recent workflow runs' steps, by step kind.
pub const STEP_DURATION: &str = "baton_step_duration_seconds";
/// Attempts beyond the first of the recent runs' actions and steps, by what (`action`,
/// `step`).
pub const RETRIES: &str = "baton_retries";
/// Runs rolled back, by what (`stack`, `workflow`).
pub const ROLLBACKS: &str = "baton_rollbacks";
/// Policy gate decisions recorded in the audit log, by outcome.
pub const POLICY_DECISIONS: &str = "baton_policy_decisions";
/// Reconciliation rounds that found drift (`detected`) and that repaired it (`repaired`).
pub const DRIFT: &str = "baton_drift";
/// Work queue tasks, by state (`queued`, `running`).
pub const QUEUE_TASKS: &str = "baton_queue_tasks";
/// Claims taken after an earlier claim's lease expired.
pub const QUEUE_LEASE_EXPIRIES: &str = "baton_queue_lease_expiries";
/// Registered workers, by liveness (`live`, `stale`).
pub const WORKERS: &str = "baton_workers";
/// Service replicas, by service and health (`healthy`, `unhealthy`).
pub const SERVICE_REPLICAS: &str = "baton_service_replicas";
/// Restarts of each service's replicas.
pub const SERVICE_RESTARTS: &str = "baton_service_restarts";

/// The names as they appear in the text (counters with their `_total`), for docs and tests.
pub const EXPOSED: &[&str] = &[
    HTTP_REQUEST_DURATION,
    RUNS,
    "baton_http_auth_failures_total",
    "baton_http_rate_limited_total",
    ACTION_DURATION,
    STEP_DURATION,
    RETRIES,
    ROLLBACKS,
    POLICY_DECISIONS,
    DRIFT,
    QUEUE_TASKS,
    QUEUE_LEASE_EXPIRIES,
    WORKERS,
    SERVICE_REPLICAS,
    SERVICE_RESTARTS,
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

macro_rules! one_label {
    ($($t:ident { $f:ident }),* $(,)?) => {$(
        #[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
        struct $t {
            $f: String,
        }
        impl From<&str> for $t {
            fn from(v: &str) -> $t {
                $t { $f: v.to_string() }
            }
        }
    )*};
}

one_label!(
    Phase { phase },
    Kind { kind },
    What { what },
    Outcome { outcome },
    State { state },
    Liveness { liveness },
    Service { service },
);

/// Sets `f` to exactly `list`.
fn set_all<L>(f: &Family<L, Gauge>, list: &[(String, i64)])
where
    L: Clone + std::hash::Hash + Eq + EncodeLabelSet + std::fmt::Debug + Send + Sync + 'static,
    L: for<'a> From<&'a str>,
{
    f.clear();
    for (n, v) in list {
        f.get_or_create(&L::from(n.as_str())).set(*v);
    }
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct ServiceLabels {
    service: String,
    health: String,
}

/// What a scrape reports besides the request counters, read from the stores and the agent at
/// scrape time. Each list holds `(label values…, number)`.
#[derive(Clone, Debug, Default)]
pub struct Observed {
    /// (kind, outcome, runs)
    pub runs: Vec<(String, String, i64)>,
    /// (phase, seconds) per action of the recent stack runs.
    pub action_seconds: Vec<(String, f64)>,
    /// (kind, seconds) per step of the recent workflow runs.
    pub step_seconds: Vec<(String, f64)>,
    /// (what, attempts beyond the first)
    pub retries: Vec<(String, i64)>,
    /// (what, runs rolled back)
    pub rollbacks: Vec<(String, i64)>,
    /// (outcome, decisions)
    pub policy: Vec<(String, i64)>,
    /// (detected|repaired, rounds)
    pub drift: Vec<(String, i64)>,
    pub agent: AgentObserved,
}

/// What the agent reports of its queue, workers and services.
#[derive(Clone, Debug, Default)]
pub struct AgentObserved {
    /// (state, tasks)
    pub queue: Vec<(String, i64)>,
    pub lease_expiries: i64,
    /// (liveness, workers)
    pub workers: Vec<(String, i64)>,
    /// (service, health, replicas)
    pub replicas: Vec<(String, String, i64)>,
    /// (service, restarts)
    pub restarts: Vec<(String, i64)>,
}

/// The families set at each scrape.
struct Scraped {
    registry: Registry,
    runs: Family<RunLabels, Gauge>,
    actions: Family<Phase, Histogram>,
    steps: Family<Kind, Histogram>,
    retries: Family<What, Gauge>,
    rollbacks: Family<What, Gauge>,
    policy: Family<Outcome, Gauge>,
    drift: Family<Outcome, Gauge>,
    queue: Family<State, Gauge>,
    lease_expiries: Gauge,
    workers: Family<Liveness, Gauge>,
    replicas: Family<ServiceLabels, Gauge>,
    restarts: Family<Service, Gauge>,
}

/// The server's metrics and their registry.
pub struct Metrics {
    /// The registry and the families read at scrape, updated and encoded under one lock so
    /// two scrapes do not interleave their updates.
    inner: Mutex<Scraped>,
    requests: Family<RequestLabels, Histogram>,
    auth_failures: Counter,
    rate_limited: Counter,
}

impl Default for Metrics {
    fn default() -> Self {
        Metrics::new()
    }
}

fn seconds_histogram() -> Histogram {
    Histogram::new(exponential_buckets(0.001, 4.0, 10))
}

impl Metrics {
    pub fn new() -> Metrics {
        let mut registry = Registry::default();
        let requests = Family::<RequestLabels, Histogram>::new_with_constructor(
            (|| Histogram::new(exponential_buckets(0.0005, 2.0, 16))) as fn() -> Histogram,
        );
        let auth_failures = Counter::default();
        let rate_limited = Counter::default();
        registry.register(
            HTTP_REQUEST_DURATION,
            "HTTP request latency in seconds, by route pattern, method and status",
            requests.clone(),
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
        let s = Scraped {
            runs: Family::default(),
            actions: Family::new_with_constructor(seconds_histogram as fn() -> Histogram),
            steps: Family::new_with_constructor(seconds_histogram as fn() -> Histogram),
            retries: Family::default(),
            rollbacks: Family::default(),
            policy: Family::default(),
            drift: Family::default(),
            queue: Family::default(),
            lease_expiries: Gauge::default(),
            workers: Family::default(),
            replicas: Family::default(),
            restarts: Family::default(),
            registry,
        };
        let mut s = s;
        let r = &mut s.registry;
        r.register(
            RUNS,
            "Runs in the stores, by kind and outcome",
            s.runs.clone(),
        );
        r.register(
            ACTION_DURATION,
            "Durations of the recent stack runs' actions in seconds, by phase",
            s.actions.clone(),
        );
        r.register(
            STEP_DURATION,
            "Durations of the recent workflow runs' steps in seconds, by kind",
            s.steps.clone(),
        );
        r.register(
            RETRIES,
            "Attempts beyond the first of the recent runs' actions and steps",
            s.retries.clone(),
        );
        r.register(ROLLBACKS, "Runs rolled back, by what", s.rollbacks.clone());
        r.register(
            POLICY_DECISIONS,
            "Policy gate decisions in the audit log, by outcome",
            s.policy.clone(),
        );
        r.register(
            DRIFT,
            "Reconciliation rounds that found drift (detected) or repaired it (repaired)",
            s.drift.clone(),
        );
        r.register(QUEUE_TASKS, "Work queue tasks, by state", s.queue.clone());
        r.register(
            QUEUE_LEASE_EXPIRIES,
            "Work queue claims taken after an earlier claim's lease expired",
            s.lease_expiries.clone(),
        );
        r.register(
            WORKERS,
            "Registered workers, by liveness",
            s.workers.clone(),
        );
        r.register(
            SERVICE_REPLICAS,
            "Service replicas, by service and health",
            s.replicas.clone(),
        );
        r.register(
            SERVICE_RESTARTS,
            "Restarts of each service's replicas",
            s.restarts.clone(),
        );
        Metrics {
            inner: Mutex::new(s),
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

    /// The text exposition, with the scrape-time families set from `o`.
    pub fn encode(&self, o: &Observed) -> Result<String, std::fmt::Error> {
        let s = self.inner.lock().unwrap_or_else(|p| p.into_inner());
        s.runs.clear();
        for (kind, outcome, n) in &o.runs {
            s.runs
                .get_or_create(&RunLabels {
                    kind: kind.clone(),
                    outcome: outcome.clone(),
                })
                .set(*n);
        }
        s.actions.clear();
        for (n, secs) in &o.action_seconds {
            s.actions
                .get_or_create(&Phase::from(n.as_str()))
                .observe(*secs);
        }
        s.steps.clear();
        for (n, secs) in &o.step_seconds {
            s.steps
                .get_or_create(&Kind::from(n.as_str()))
                .observe(*secs);
        }
        set_all(&s.retries, &o.retries);
        set_all(&s.rollbacks, &o.rollbacks);
        set_all(&s.policy, &o.policy);
        set_all(&s.drift, &o.drift);
        set_all(&s.queue, &o.agent.queue);
        s.lease_expiries.set(o.agent.lease_expiries);
        set_all(&s.workers, &o.agent.workers);
        set_all(&s.restarts, &o.agent.restarts);
        s.replicas.clear();
        for (service, health, n) in &o.agent.replicas {
            s.replicas
                .get_or_create(&ServiceLabels {
                    service: service.clone(),
                    health: health.clone(),
                })
                .set(*n);
        }
        let mut out = String::new();
        prometheus_client::encoding::text::encode(&mut out, &s.registry)?;
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
        let o = Observed {
            runs: vec![("apply".into(), "completed".into(), 2)],
            action_seconds: vec![("apply".into(), 0.2)],
            step_seconds: vec![("command".into(), 1.5)],
            retries: vec![("action".into(), 3)],
            rollbacks: vec![("stack".into(), 1)],
            policy: vec![("allowed".into(), 4)],
            drift: vec![("detected".into(), 2), ("repaired".into(), 1)],
            agent: AgentObserved {
                queue: vec![("queued".into(), 5)],
                lease_expiries: 1,
                workers: vec![("live".into(), 2)],
                replicas: vec![("web".into(), "healthy".into(), 2)],
                restarts: vec![("web".into(), 7)],
            },
        };
        let text = m.encode(&o).expect("encode");
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
        assert!(
            text.contains(r#"baton_service_replicas{service="web",health="healthy"} 2"#),
            "{text}"
        );
        assert!(
            text.contains(r#"baton_drift{outcome="repaired"} 1"#),
            "{text}"
        );
        assert!(
            text.contains("baton_action_duration_seconds_count"),
            "{text}"
        );
    }
}
