//! The router in-process, against in-memory stores: every route of the table is served (a
//! guarded one answers 401 without a token, never the 404 of an unknown path), and for every
//! role and route the answer is 403 exactly when the permission table says no.
//!
//! Must not open a socket or a file: requests go straight to the router.

use axum::body::Body;
use axum::http::{Request, StatusCode};
use baton_server::access::allows;
use baton_server::api::{router, routes, App, Caller};
use baton_server::stacks::ControlError;
use baton_server::stacks::{Actor, PlanNow, Started};
use baton_server::workflows::{ControlError as WfControlError, Decision};
use baton_server::{token, StateSource, Stores};
use baton_state::{Role, StateError, StateStore, TokenRecord, TokenStore};
use std::sync::{Arc, Mutex};
use tower::ServiceExt as _;

/// No state, no workflow runs, no stacks yet.
struct NoState;

impl baton_server::workflows::WorkflowControl for NoState {
    fn store(&self) -> Result<Option<Arc<dyn baton_state::WorkflowStore>>, StateError> {
        Ok(None)
    }
    fn list(&self) -> Result<serde_json::Value, WfControlError> {
        Ok(serde_json::json!({ "workflows": [] }))
    }
    fn start(
        &self,
        _: &Caller,
        w: &str,
        _: &serde_json::Map<String, serde_json::Value>,
    ) -> Result<serde_json::Value, WfControlError> {
        Err(WfControlError::NotFound(format!("no workflow {w}")))
    }
    fn approvals(&self, _: &Caller) -> Result<Vec<serde_json::Value>, WfControlError> {
        Ok(Vec::new())
    }
    fn decide(
        &self,
        _: &Caller,
        run: &str,
        _: &Decision,
    ) -> Result<serde_json::Value, WfControlError> {
        Err(WfControlError::NotFound(format!("no run {run}")))
    }
    fn logs(&self, _: &str, _: Option<&str>) -> Result<Option<String>, WfControlError> {
        Ok(None)
    }
    fn webhook_secret(&self, w: &str, t: &str) -> Result<Vec<u8>, WfControlError> {
        Err(WfControlError::NotFound(format!("no trigger {t} in {w}")))
    }
    fn webhook_run(
        &self,
        w: &str,
        t: &str,
        _: &str,
        _: &serde_json::Value,
    ) -> Result<serde_json::Value, WfControlError> {
        Err(WfControlError::NotFound(format!("no trigger {t} in {w}")))
    }
}

impl baton_server::runs::RunViews for NoState {
    fn workflow_edges(&self, _run: &baton_state::WfRun) -> Vec<(String, String)> {
        Vec::new()
    }
}

impl baton_server::stacks::StackControl for NoState {
    fn run_plan(&self, _id: &str) -> Result<Option<serde_json::Value>, String> {
        Ok(None)
    }
    fn plan(&self) -> Result<PlanNow, ControlError> {
        Ok(PlanNow::default())
    }
    fn apply(&self, _a: &Actor) -> Result<Started, ControlError> {
        Err(none())
    }
    fn cancel(&self, _id: &str, _a: &Actor) -> Result<Started, ControlError> {
        Err(none())
    }
    fn resume(&self, _id: &str, _a: &Actor) -> Result<Started, ControlError> {
        Err(none())
    }
    fn rollback(&self, _id: &str, _a: &Actor) -> Result<Started, ControlError> {
        Err(none())
    }
    fn stacks(&self) -> Result<serde_json::Value, ControlError> {
        Ok(serde_json::json!({ "stacks": [] }))
    }
    fn drift(&self) -> Result<serde_json::Value, ControlError> {
        Ok(serde_json::json!({ "stacks": [] }))
    }
    fn check_drift(&self, _a: &Actor) -> Result<serde_json::Value, ControlError> {
        Err(none())
    }
    fn state(&self) -> Result<Option<(u64, serde_json::Value)>, ControlError> {
        Ok(None)
    }
    fn services(&self) -> Result<serde_json::Value, ControlError> {
        Ok(serde_json::json!({ "services": [] }))
    }
    fn restart_service(&self, _n: &str, _a: &Actor) -> Result<serde_json::Value, ControlError> {
        Err(none())
    }
    fn policies(&self) -> Result<serde_json::Value, ControlError> {
        Ok(serde_json::json!({ "policies": [], "decisions": [] }))
    }
    fn policy_test(&self) -> Result<serde_json::Value, ControlError> {
        Err(none())
    }
    fn workers(&self) -> Result<serde_json::Value, ControlError> {
        Ok(serde_json::json!({ "workers": [] }))
    }
}

/// What the stub answers to an action: there is nothing to act on.
fn none() -> ControlError {
    ControlError::NotFound("nothing here".into())
}

impl StateSource for NoState {
    fn state(&self) -> Result<Option<Arc<dyn StateStore>>, StateError> {
        Ok(None)
    }
}

#[derive(Default)]
struct MemTokens(Mutex<Vec<TokenRecord>>);

impl TokenStore for MemTokens {
    fn describe(&self) -> String {
        "memory".into()
    }
    fn create(&self, t: &TokenRecord) -> Result<bool, StateError> {
        let mut v = self.0.lock().unwrap_or_else(|p| p.into_inner());
        if v.iter().any(|x| x.name == t.name) {
            return Ok(false);
        }
        v.push(t.clone());
        Ok(true)
    }
    fn list(&self) -> Result<Vec<TokenRecord>, StateError> {
        Ok(self.0.lock().unwrap_or_else(|p| p.into_inner()).clone())
    }
    fn find(&self, hash: &str) -> Result<Option<TokenRecord>, StateError> {
        Ok(self.list()?.into_iter().find(|t| t.hash == hash))
    }
    fn revoke(&self, name: &str) -> Result<bool, StateError> {
        let mut v = self.0.lock().unwrap_or_else(|p| p.into_inner());
        let before = v.len();
        v.retain(|t| t.name != name);
        Ok(v.len() != before)
    }
}

/// A router with one token per role, and the tokens by role.
fn setup() -> (axum::Router, Vec<(Role, String)>) {
    let tokens = Arc::new(MemTokens::default());
    let mut by_role = Vec::new();
    for role in Role::ALL {
        let t = token::new_token().expect("random");
        let created = tokens
            .create(&TokenRecord {
                name: role.as_str().to_string(),
                role,
                hash: token::digest(&t),
                created_at: "2026-01-01T00:00:00Z".into(),
            })
            .expect("create");
        assert!(created);
        by_role.push((role, t));
    }
    let app = App::new(Stores {
        state: Arc::new(NoState),
        tokens,
        workflows: Arc::new(NoState),
        stacks: Arc::new(NoState),
        views: Arc::new(NoState),
    });
    (router(app), by_role)
}

async fn status(r: &axum::Router, method: &str, path: &str, token: Option<&str>) -> StatusCode {
    let mut req = Request::builder().method(method).uri(path);
    if let Some(t) = token {
        req = req.header("authorization", format!("Bearer {t}"));
    }
    let req = req.body(Body::empty()).expect("request");
    r.clone().oneshot(req).await.expect("infallible").status()
}

fn concrete(path: &str) -> String {
    path.replace("{id}", "r1")
        .replace("{name}", "w")
        .replace("{workflow}", "w")
        .replace("{trigger}", "t")
}

#[tokio::test]
async fn every_route_is_served_and_guarded_as_the_table_says() {
    let (r, tokens) = setup();
    assert_eq!(
        status(&r, "GET", "/no/such/route", None).await,
        StatusCode::NOT_FOUND
    );
    for route in routes() {
        let path = concrete(route.path);
        let anonymous = status(&r, route.method, &path, None).await;
        match route.permission {
            // A webhook answers without a token: here, that there is no such trigger.
            None if path.starts_with("/api/v1/hooks/") => {
                assert_eq!(anonymous, StatusCode::NOT_FOUND, "{path}")
            }
            None => assert_eq!(anonymous, StatusCode::OK, "{path}"),
            Some(_) => assert_eq!(
                anonymous,
                StatusCode::UNAUTHORIZED,
                "{path} without a token"
            ),
        }
    }
    for (role, t) in &tokens {
        for route in routes() {
            let Some(p) = route.permission else { continue };
            let path = concrete(route.path);
            let got = status(&r, route.method, &path, Some(t)).await;
            if allows(*role, p) {
                assert!(
                    got != StatusCode::FORBIDDEN && got != StatusCode::UNAUTHORIZED,
                    "{role} on {path}: {got}"
                );
            } else {
                assert_eq!(got, StatusCode::FORBIDDEN, "{role} on {path}");
            }
        }
    }
    // An altered token is not accepted.
    let altered = format!("{}x", tokens[0].1);
    assert_eq!(
        status(&r, "GET", "/api/v1/whoami", Some(&altered)).await,
        StatusCode::UNAUTHORIZED
    );
}
