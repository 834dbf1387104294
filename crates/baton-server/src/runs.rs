//! The runs area: stack runs (the state store's) and workflow runs (the workflow store's) as
//! one list, one run with its graph — nodes (a stack run's planned actions, a workflow run's
//! steps) with their status, attempts, times and errors, and the edges between them — and a
//! live stream of a run's changes (server-sent events) that the UI's graph follows.
//!
//! Must not return a stored value: nodes carry addresses, step names, statuses, times, errors
//! and a step's approval message only (never a plan's or a step's values or output; a step's
//! output is the logs route's, which the workflows area serves).

use crate::http::{action_json, blocking, run_json, state, ApiError, App};
use baton_state::{JournalEntry, RunRecord, WfRun, WfStep};
use serde_json::{json, Value};
use std::collections::{BTreeMap, HashMap};

/// How a stack run's journal and plan become graph nodes and edges.
pub fn stack_graph(run: &RunRecord, journal: &[JournalEntry]) -> Value {
    // Nodes in plan order, then any journal address the plan did not list (a rollback's).
    let mut order: Vec<String> = Vec::new();
    let mut kind: HashMap<String, String> = HashMap::new();
    let mut deps: HashMap<String, Vec<String>> = HashMap::new();
    if let Ok(doc) = run.plan.parse() {
        for c in doc
            .get("changes")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
        {
            let Some(addr) = c.get("addr").and_then(Value::as_str) else {
                continue;
            };
            let actions: Vec<&str> = c
                .get("actions")
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
                .filter_map(Value::as_str)
                .collect();
            if actions == ["no-op"] || actions.is_empty() {
                continue;
            }
            let id = node_id(addr, c.get("deposed").and_then(Value::as_str));
            if !kind.contains_key(&id) {
                order.push(id.clone());
            }
            kind.insert(id.clone(), actions.join(","));
            deps.insert(
                id,
                c.get("dependencies")
                    .and_then(Value::as_array)
                    .into_iter()
                    .flatten()
                    .filter_map(Value::as_str)
                    .map(str::to_string)
                    .collect(),
            );
        }
    }
    // The latest entry of each node and phase.
    let mut applied: HashMap<String, &JournalEntry> = HashMap::new();
    let mut undone: HashMap<String, &JournalEntry> = HashMap::new();
    for e in journal {
        let id = node_id(
            &e.addr,
            (!e.deposed.is_empty()).then_some(e.deposed.as_str()),
        );
        if !kind.contains_key(&id) {
            kind.insert(id.clone(), e.action.clone());
            order.push(id.clone());
        }
        if e.phase == "rollback" {
            undone.insert(id, e);
        } else {
            applied.insert(id, e);
        }
    }
    let run_over = run.finished_at.is_some();
    let nodes: Vec<Value> = order
        .iter()
        .map(|id| {
            let a = applied.get(id);
            let u = undone.get(id);
            let status = match (a, u) {
                (_, Some(u)) if u.status.as_str() == "done" => "rolled_back",
                (_, Some(u)) if u.status.as_str() == "started" => "rolling_back",
                (_, Some(_)) => "failed",
                (Some(a), None) => match a.status.as_str() {
                    "done" => "succeeded",
                    "failed" => "failed",
                    // Started and never finished: a run that is over lost it.
                    _ if run_over => "interrupted",
                    _ if a.attempts > 1 => "retrying",
                    _ => "running",
                },
                (None, None) if run_over => "skipped",
                (None, None) => "pending",
            };
            let e = a.or(u);
            json!({
                "id": id,
                "label": id,
                "kind": kind.get(id),
                "status": status,
                "attempts": e.map(|e| e.attempts),
                "started_at": e.map(|e| e.started_at.clone()),
                "duration_ms": e.and_then(|e| e.duration_ms),
                "error": e.and_then(|e| e.error.clone()),
                "message": Value::Null,
            })
        })
        .collect();
    // A dependency names a resource (`aws_x.a`) or an instance (`aws_x.a[0]`): it stands for
    // every node of that resource. A resource of several instances that others depend on
    // gets a node of its own between them (its status the sum of its instances'), so that
    // `count = 5000` depending on `count = 5000` is 10,000 edges, not 25 million.
    let mut by_resource: HashMap<&str, Vec<&str>> = HashMap::new();
    for id in &order {
        let resource = id.split_once(" (deposed").map_or(id.as_str(), |(r, _)| r);
        let resource = resource.split_once('[').map_or(resource, |(r, _)| r);
        by_resource.entry(resource).or_default().push(id);
        if resource != id.as_str() {
            by_resource.entry(id.as_str()).or_default().push(id);
        }
    }
    let status_of: HashMap<String, String> = nodes
        .iter()
        .filter_map(|n| {
            Some((
                n["id"].as_str()?.to_string(),
                n["status"].as_str()?.to_string(),
            ))
        })
        .collect();
    let mut nodes = nodes;
    let mut hubs: HashMap<&str, String> = HashMap::new();
    let mut edges = Vec::new();
    for id in &order {
        for d in deps.get(id).into_iter().flatten() {
            let Some(froms) = by_resource.get(d.as_str()) else {
                continue;
            };
            if froms.len() > 1 {
                let hub = hubs.entry(d.as_str()).or_insert_with(|| {
                    let hub = format!("{d} (all instances)");
                    let statuses: Vec<&str> = froms
                        .iter()
                        .filter_map(|f| status_of.get(*f).map(String::as_str))
                        .collect();
                    nodes.push(json!({
                        "id": hub, "label": format!("{d} ({} instances)", froms.len()),
                        "kind": "resource", "status": summary_status(&statuses),
                        "attempts": null, "started_at": null, "duration_ms": null,
                        "error": null, "message": null,
                    }));
                    for f in froms {
                        edges.push(json!({ "from": f, "to": hub }));
                    }
                    hub
                });
                edges.push(json!({ "from": hub, "to": id }));
            } else {
                for from in froms {
                    if *from != id.as_str() {
                        edges.push(json!({ "from": from, "to": id }));
                    }
                }
            }
        }
    }
    json!({ "nodes": nodes, "edges": edges })
}

/// The status of a group of nodes: failed if any failed, else running if any runs, else
/// pending if any waits, else the one status they share (or succeeded).
fn summary_status(s: &[&str]) -> &'static str {
    let any = |x: &str| s.contains(&x);
    if any("failed") {
        "failed"
    } else if any("running") || any("retrying") || any("rolling_back") {
        "running"
    } else if any("pending") {
        "pending"
    } else if !s.is_empty() && s.iter().all(|x| *x == "rolled_back") {
        "rolled_back"
    } else if !s.is_empty() && s.iter().all(|x| *x == "skipped") {
        "skipped"
    } else {
        "succeeded"
    }
}

fn node_id(addr: &str, deposed: Option<&str>) -> String {
    match deposed {
        Some(d) if !d.is_empty() => format!("{addr} (deposed {d})"),
        _ => addr.to_string(),
    }
}

/// A workflow run's steps as graph nodes; `edges` are the step dependencies of its recorded
/// definition (by step name), which a step instance (`deploy[0]`) inherits.
pub fn workflow_graph(steps: &[WfStep], edges: &[(String, String)]) -> Value {
    let mut latest: BTreeMap<&str, &WfStep> = BTreeMap::new();
    let mut order: Vec<&str> = Vec::new();
    for s in steps {
        if !latest.contains_key(s.key.as_str()) {
            order.push(&s.key);
        }
        latest.insert(&s.key, s);
    }
    let nodes: Vec<Value> = order
        .iter()
        .filter_map(|k| latest.get(k))
        .map(|s| {
            let status = match s.status.as_str() {
                "started" if s.next_attempt_at.is_some() => "retrying",
                "started" => "running",
                other => other,
            };
            let kind = s.kind.as_str();
            json!({
                "id": s.key,
                "label": s.key,
                "kind": kind,
                "status": status,
                "attempts": s.attempts,
                "started_at": s.started_at,
                "duration_ms": s.duration_ms,
                "error": s.error,
                "message": approval_message(s),
            })
        })
        .collect();
    let mut by_step: HashMap<&str, Vec<&str>> = HashMap::new();
    for k in &order {
        if let Some(s) = latest.get(k) {
            by_step.entry(s.step.as_str()).or_default().push(k);
        }
    }
    let mut out = Vec::new();
    for (from, to) in edges {
        for f in by_step.get(from.as_str()).into_iter().flatten() {
            for t in by_step.get(to.as_str()).into_iter().flatten() {
                out.push(json!({ "from": f, "to": t }));
            }
        }
    }
    json!({ "nodes": nodes, "edges": out })
}

/// What an approval step asks (its record's inputs hold `{"message": …}`; a step the policies
/// made wait says why there too).
fn approval_message(s: &WfStep) -> Value {
    if s.kind != "approval" {
        return Value::Null;
    }
    s.inputs
        .as_deref()
        .and_then(|i| serde_json::from_str::<Value>(i).ok())
        .and_then(|v| v.get("message").cloned())
        .unwrap_or(Value::Null)
}

/// A workflow run in the runs list's shape (as a stack run's, `kind` "workflow").
pub fn workflow_run_json(r: &WfRun) -> Value {
    json!({
        "id": r.id, "kind": "workflow", "name": r.workflow, "status": r.status.as_str(),
        "who": r.who, "host": "", "pid": 0, "started_at": r.started_at,
        "finished_at": r.finished_at, "serial": 0, "summary": r.note.clone().unwrap_or_default(),
        "parent": r.parent, "on_failure": r.on_failure,
    })
}

/// One run, of either kind, with its graph: `None` when neither store has it.
pub fn detail(app: &App, id: &str) -> Result<Option<Value>, ApiError> {
    if let Some(store) = state(app)? {
        if let Some(r) = store.run(id).map_err(ApiError::internal)? {
            let journal = store.journal(id).map_err(ApiError::internal)?;
            let mut v = run_json(&r);
            v["actions"] = Value::Array(journal.iter().map(action_json).collect());
            v["graph"] = stack_graph(&r, &journal);
            return Ok(Some(v));
        }
    }
    let Some(store) = app.0.stores.workflows.store().map_err(ApiError::internal)? else {
        return Ok(None);
    };
    let Some(r) = store.run(id).map_err(ApiError::internal)? else {
        return Ok(None);
    };
    let steps = store.steps(id).map_err(ApiError::internal)?;
    let edges = app.0.stores.views.workflow_edges(&r);
    let mut v = workflow_run_json(&r);
    v["actions"] = json!([]);
    v["graph"] = workflow_graph(&steps, &edges);
    Ok(Some(v))
}

/// Whether a run's status is final (the stream ends after sending it).
pub fn is_over(v: &Value) -> bool {
    !matches!(
        v.get("status").and_then(Value::as_str),
        Some("running" | "waiting" | "queued" | "resumed")
    )
}

/// `GET /api/v1/runs/{id}/events`: the run as `event: run` whenever it changes (checked every
/// 250 ms), a comment every 15 s to keep proxies from closing the stream, and the end of the
/// stream once the run is over (after its last state was sent).
pub async fn events(
    axum::extract::State(app): axum::extract::State<App>,
    axum::extract::Path(id): axum::extract::Path<String>,
) -> Result<axum::response::Response, ApiError> {
    use axum::http::header;
    use axum::response::IntoResponse;
    let first = {
        let (app, id) = (app.clone(), id.clone());
        blocking(move || app.0.details.get(&id, || detail(&app, &id))).await?
    };
    let Some(first) = first else {
        return Err(ApiError::new(
            axum::http::StatusCode::NOT_FOUND,
            format!("there is no run {id}"),
        ));
    };
    struct S {
        app: App,
        id: String,
        last: Option<std::sync::Arc<Value>>,
        pending: Option<std::sync::Arc<Value>>,
        done: bool,
        quiet: u32,
    }
    let state = S {
        app,
        id,
        last: None,
        pending: Some(first),
        done: false,
        quiet: 0,
    };
    let stream = futures_util::stream::unfold(state, |mut s| async move {
        if s.done {
            return None;
        }
        loop {
            if let Some(v) = s.pending.take() {
                // The cache hands out the same value until it recomputes: compare by pointer
                // first, by content only when it changed.
                let same = s
                    .last
                    .as_ref()
                    .is_some_and(|l| std::sync::Arc::ptr_eq(l, &v) || **l == *v);
                if !same {
                    s.done = is_over(&v);
                    let frame = format!("event: run\ndata: {v}\n\n");
                    s.last = Some(v);
                    s.quiet = 0;
                    return Some((Ok::<_, std::convert::Infallible>(frame), s));
                }
            }
            tokio::time::sleep(std::time::Duration::from_millis(250)).await;
            s.quiet += 1;
            if s.quiet >= 60 {
                s.quiet = 0;
                return Some((Ok(": keep-alive\n\n".to_string()), s));
            }
            let (app, id) = (s.app.clone(), s.id.clone());
            match blocking(move || app.0.details.get(&id, || detail(&app, &id))).await {
                Ok(Some(v)) => s.pending = Some(v),
                // The run disappeared or the store failed: end the stream; the page falls back
                // to polling.
                _ => return None,
            }
        }
    });
    let mut resp = axum::body::Body::from_stream(stream).into_response();
    let h = resp.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        axum::http::HeaderValue::from_static("text/event-stream"),
    );
    h.insert(
        header::CACHE_CONTROL,
        axum::http::HeaderValue::from_static("no-cache"),
    );
    Ok(resp)
}

/// What the server needs to draw a workflow run's graph: the step dependencies of the run's
/// recorded definition. The binary implements it with the workflow engine.
pub trait RunViews: Send + Sync + 'static {
    /// `(from, to)` step names: `to` runs after `from`.
    fn workflow_edges(&self, run: &WfRun) -> Vec<(String, String)>;

    /// The agent's queue, workers and services, for `/metrics` (nothing by default).
    fn agent_metrics(&self) -> crate::metrics::AgentObserved {
        crate::metrics::AgentObserved::default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use baton_state::{EntryStatus, RawJson, RunStatus};

    fn run(plan: &str, finished: bool) -> RunRecord {
        RunRecord {
            id: "r1".into(),
            kind: "apply".into(),
            status: if finished {
                RunStatus::RolledBack
            } else {
                RunStatus::Running
            },
            who: "me".into(),
            host: "h".into(),
            pid: 1,
            process_start: String::new(),
            started_at: "2026-01-01T00:00:00Z".into(),
            finished_at: finished.then(|| "2026-01-01T00:01:00Z".to_string()),
            serial: 1,
            summary: String::new(),
            plan: RawJson::from_value(&serde_json::from_str(plan).expect("json")),
            parent: None,
            on_failure: "rollback".into(),
        }
    }

    fn entry(addr: &str, phase: &str, status: EntryStatus) -> JournalEntry {
        JournalEntry {
            run_id: "r1".into(),
            seq: 0,
            addr: addr.into(),
            deposed: String::new(),
            action: "create".into(),
            prior: RawJson::null(),
            planned: RawJson::null(),
            status,
            new_value: None,
            error: None,
            attempts: 1,
            started_at: "2026-01-01T00:00:01Z".into(),
            duration_ms: Some(5),
            phase: phase.into(),
        }
    }

    const PLAN: &str = r#"{"changes":[
        {"addr":"a.x[0]","actions":["create"],"dependencies":[]},
        {"addr":"a.x[1]","actions":["create"],"dependencies":[]},
        {"addr":"b.y","actions":["create"],"dependencies":["a.x"]},
        {"addr":"c.z","actions":["no-op"],"dependencies":[]}]}"#;

    #[test]
    fn a_stack_runs_nodes_follow_its_journal_and_its_edges_its_dependencies() {
        let g = stack_graph(
            &run(PLAN, false),
            &[
                entry("a.x[0]", "apply", EntryStatus::Done),
                entry("a.x[1]", "apply", EntryStatus::Started),
            ],
        );
        let status: Vec<(&str, &str)> = g["nodes"]
            .as_array()
            .expect("nodes")
            .iter()
            .map(|n| {
                (
                    n["id"].as_str().unwrap_or(""),
                    n["status"].as_str().unwrap_or(""),
                )
            })
            .collect();
        assert_eq!(
            status,
            [
                ("a.x[0]", "succeeded"),
                ("a.x[1]", "running"),
                ("b.y", "pending"),
                ("a.x (all instances)", "running")
            ]
        );
        let edges: Vec<(String, String)> = g["edges"]
            .as_array()
            .expect("edges")
            .iter()
            .map(|e| {
                (
                    e["from"].as_str().unwrap_or("").to_string(),
                    e["to"].as_str().unwrap_or("").to_string(),
                )
            })
            .collect();
        // The two instances `b.y` depends on meet in a node of their resource.
        let hub = "a.x (all instances)".to_string();
        assert_eq!(
            edges,
            [
                ("a.x[0]".to_string(), hub.clone()),
                ("a.x[1]".to_string(), hub.clone()),
                (hub.clone(), "b.y".to_string())
            ]
        );
        let hub_node = g["nodes"]
            .as_array()
            .and_then(|n| n.iter().find(|n| n["id"] == hub.as_str()))
            .expect("the resource's node");
        assert_eq!(hub_node["status"], "running");
    }

    #[test]
    fn a_rolled_back_action_and_a_skipped_one_show_so() {
        let g = stack_graph(
            &run(PLAN, true),
            &[
                entry("a.x[0]", "apply", EntryStatus::Done),
                entry("a.x[1]", "apply", EntryStatus::Failed),
                entry("a.x[0]", "rollback", EntryStatus::Done),
            ],
        );
        let s: Vec<&str> = g["nodes"]
            .as_array()
            .expect("nodes")
            .iter()
            .map(|n| n["status"].as_str().unwrap_or(""))
            .collect();
        assert_eq!(s, ["rolled_back", "failed", "skipped", "failed"]);
    }

    #[test]
    fn a_workflow_runs_nodes_are_its_latest_steps_and_instances_inherit_edges() {
        let mut a = WfStep::new("w", "build", "build", "command");
        a.status = baton_state::WfStepStatus::Succeeded;
        let mut b0 = WfStep::new("w", "deploy[0]", "deploy", "command");
        b0.status = baton_state::WfStepStatus::Started;
        let mut gate = WfStep::new("w", "gate", "gate", "approval");
        gate.status = baton_state::WfStepStatus::Waiting;
        gate.inputs = Some(r#"{"message":"ship it?"}"#.into());
        let g = workflow_graph(
            &[a, b0, gate],
            &[
                ("build".into(), "deploy".into()),
                ("deploy".into(), "gate".into()),
            ],
        );
        let nodes = g["nodes"].as_array().expect("nodes");
        assert_eq!(nodes[1]["status"], "running");
        assert_eq!(nodes[2]["kind"], "approval");
        assert_eq!(nodes[2]["message"], "ship it?");
        assert_eq!(g["edges"].as_array().map(Vec::len), Some(2));
    }
}
