//! What every area of the API shares, below all of them: a route's description ([`Route`]),
//! the server's state ([`App`]), who calls ([`Caller`], [`Peer`]), the error response
//! ([`ApiError`]), running a store call off the async threads ([`blocking`]), the refusal of
//! a client that failed too often, and the run and journal shapes with their filters.
//!
//! Must not know any route or area: areas and the router import it, never the other way.

use crate::access::Permission;
use crate::limiter::Limiter;
use crate::metrics::Metrics;
use crate::Stores;
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use baton_state::{JournalEntry, Role, RunRecord, StateStore};
use serde_json::{json, Value};
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Instant;

/// One route the server serves.
#[derive(Clone, Copy, Debug)]
pub struct Route {
    pub method: &'static str,
    /// The pattern, with `{name}` for a path parameter (as axum and OpenAPI write it).
    pub path: &'static str,
    /// `None`: served without a token (the UI's pages, and the webhooks: signed instead).
    pub permission: Option<Permission>,
    pub summary: &'static str,
    /// The route's OpenAPI operation (parameters and responses); `None`: the core routes',
    /// described in `openapi.rs`.
    pub doc: Option<fn() -> Value>,
}

/// The client's address, set on every request by the connection loop.
#[derive(Clone, Copy, Debug)]
pub struct Peer(pub SocketAddr);

/// Who is calling: the token's name and role (set by the authentication middleware).
#[derive(Clone, Debug)]
pub struct Caller {
    pub name: String,
    pub role: Role,
}

/// The server's shared state.
#[derive(Clone)]
pub struct App(pub(crate) Arc<Inner>);

pub(crate) struct Inner {
    pub(crate) stores: Stores,
    pub(crate) details: DetailCache,
    pub(crate) limiter: Limiter,
    pub(crate) metrics: Metrics,
}

impl App {
    pub fn new(stores: Stores) -> App {
        App::with_limit(stores, crate::limiter::MAX_FAILURES)
    }

    /// An app refusing a client after `login_failures` bad tokens within a minute.
    pub fn with_limit(stores: Stores, login_failures: usize) -> App {
        App(Arc::new(Inner {
            stores,
            details: DetailCache::default(),
            limiter: Limiter::new(login_failures),
            metrics: Metrics::new(),
        }))
    }
}

/// An error response: `{"error": message}` with its status.
#[derive(Debug)]
pub struct ApiError {
    pub status: StatusCode,
    pub message: String,
}

impl ApiError {
    pub(crate) fn new(status: StatusCode, message: impl Into<String>) -> ApiError {
        ApiError {
            status,
            message: message.into(),
        }
    }

    pub(crate) fn internal(message: impl std::fmt::Display) -> ApiError {
        ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, message.to_string())
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        (self.status, Json(json!({ "error": self.message }))).into_response()
    }
}

/// Runs a blocking store call off the async threads.
pub(crate) async fn blocking<T: Send + 'static>(
    f: impl FnOnce() -> Result<T, ApiError> + Send + 'static,
) -> Result<T, ApiError> {
    tokio::task::spawn_blocking(f)
        .await
        .map_err(|e| ApiError::internal(format!("the request's worker failed: {e}")))?
}

/// The 429 (with `Retry-After`) for a client that failed to log in too often, if `ip` is one:
/// for a bad token as for a bad webhook signature.
pub(crate) fn refused_for_failures(
    app: &App,
    ip: Option<std::net::IpAddr>,
    now: Instant,
) -> Option<Response> {
    let wait = ip.and_then(|ip| app.0.limiter.blocked(ip, now))?;
    app.0.metrics.rate_limited();
    let secs = wait.as_secs().max(1);
    let mut resp = ApiError::new(
        StatusCode::TOO_MANY_REQUESTS,
        format!("too many failed logins from this address; try again in {secs} s"),
    )
    .into_response();
    resp.headers_mut()
        .insert(header::RETRY_AFTER, HeaderValue::from(secs));
    Some(resp)
}

/// The stack's store, `None` while there is no state yet.
pub(crate) fn state(app: &App) -> Result<Option<Arc<dyn StateStore>>, ApiError> {
    app.0.stores.state.state().map_err(ApiError::internal)
}

/// A run as the API shows it (never its plan).
pub fn run_json(r: &RunRecord) -> Value {
    json!({
        "id": r.id, "kind": r.kind, "name": null, "status": r.status.as_str(), "who": r.who, "host": r.host,
        "pid": r.pid, "started_at": r.started_at, "finished_at": r.finished_at,
        "serial": r.serial, "summary": r.summary, "parent": r.parent, "on_failure": r.on_failure,
    })
}

/// A journal entry as the API shows it (never the values before, planned or after).
pub fn action_json(e: &JournalEntry) -> Value {
    json!({
        "seq": e.seq, "phase": e.phase, "action": e.action, "address": e.addr,
        "deposed": if e.deposed.is_empty() { None } else { Some(&e.deposed) },
        "status": e.status.as_str(), "attempts": e.attempts,
        "started_at": e.started_at, "duration_ms": e.duration_ms, "error": e.error,
    })
}

/// Every run status's name (a stack run's and a workflow run's), for the `status` filter.
pub const RUN_STATUSES: &[&str] = &[
    "queued",
    "running",
    "waiting",
    "completed",
    "succeeded",
    "failed",
    "interrupted",
    "rolled_back",
    "rollback_failed",
    "stopped",
    "resumed",
    "cancelled",
];

/// Every run kind (a stack run's, or `workflow`), for the `kind` filter.
pub const RUN_KINDS: &[&str] = &["apply", "destroy", "resume", "rollback", "workflow"];

/// The largest `limit`.
pub const MAX_LIMIT: usize = 500;
/// `limit` when none is given.
pub const DEFAULT_LIMIT: usize = 50;

pub(crate) fn bad_query(e: impl std::fmt::Display) -> ApiError {
    ApiError::new(StatusCode::BAD_REQUEST, format!("bad query: {e}"))
}

pub(crate) fn limit(l: Option<usize>) -> Result<usize, ApiError> {
    match l {
        None => Ok(DEFAULT_LIMIT),
        Some(n) if (1..=MAX_LIMIT).contains(&n) => Ok(n),
        Some(n) => Err(bad_query(format!(
            "limit {n}: give a number from 1 to {MAX_LIMIT}"
        ))),
    }
}

/// A run's detail as recently computed, shared by every stream following it: a hundred
/// clients following one run cost one read of the stores per interval, not a hundred.
#[derive(Default)]
pub struct DetailCache {
    entries: std::sync::Mutex<
        std::collections::HashMap<String, (std::time::Instant, std::sync::Arc<Value>)>,
    >,
}

/// How long a computed detail is reused.
const FRESH: std::time::Duration = std::time::Duration::from_millis(200);

impl DetailCache {
    /// The detail of run `id`, computed by `compute` at most once per [`FRESH`] interval.
    pub fn get(
        &self,
        id: &str,
        compute: impl FnOnce() -> Result<Option<Value>, ApiError>,
    ) -> Result<Option<std::sync::Arc<Value>>, ApiError> {
        let now = std::time::Instant::now();
        {
            let map = self.entries.lock().unwrap_or_else(|p| p.into_inner());
            if let Some((at, v)) = map.get(id) {
                if now.duration_since(*at) < FRESH {
                    return Ok(Some(v.clone()));
                }
            }
        }
        let Some(v) = compute()? else {
            return Ok(None);
        };
        let v = std::sync::Arc::new(v);
        let mut map = self.entries.lock().unwrap_or_else(|p| p.into_inner());
        // Bounded: entries of runs nobody follows any more go.
        if map.len() > 256 {
            map.retain(|_, (at, _)| now.duration_since(*at) < FRESH * 10);
        }
        map.insert(id.to_string(), (now, v.clone()));
        Ok(Some(v))
    }
}
