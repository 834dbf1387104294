//! The provider test kit: the one copy of the helpers every provider test needs (a
//! `ProviderCtx` in a temporary directory, configurations built from a schema, plan, apply,
//! create, destroy) and, in [`conformance`], the contract suite every resource and data source
//! type passes.
//!
//! Built for the crate's own tests and, behind the `testkit` feature, for providers in other
//! crates. Test code: it panics (with the step that failed) instead of returning errors, and is
//! never compiled into a release build.

pub mod conformance;

use crate::plan::proposed_new;
use crate::schema::{Nesting, Schema};
use crate::{ApplyRequest, PlanRequest, PlanResponse, ProviderCtx, ProviderError, ResourceType};
use baton_eval::Value;
use std::collections::BTreeMap;
use std::path::Path;

/// A temporary directory and a context whose working directory it is. The directory is
/// removed when the sandbox is dropped.
pub struct Sandbox {
    pub dir: tempfile::TempDir,
    pub ctx: ProviderCtx,
}

impl Sandbox {
    pub fn new() -> Sandbox {
        let dir = tempfile::tempdir().expect("create a temporary directory");
        let ctx = ctx_in(dir.path());
        Sandbox { dir, ctx }
    }

    pub fn path(&self) -> &Path {
        self.dir.path()
    }
}

impl Default for Sandbox {
    fn default() -> Self {
        Sandbox::new()
    }
}

/// A context working in `dir`.
pub fn ctx_in(dir: &Path) -> ProviderCtx {
    ProviderCtx::new(dir.to_path_buf())
}

/// A context for types that touch nothing on disk (its directory is the system's temporary
/// directory, shared: use a [`Sandbox`] for anything that writes files).
pub fn scratch_ctx() -> ProviderCtx {
    ProviderCtx::new(std::env::temp_dir())
}

/// A configuration of `schema` as the engine passes it: every attribute null and every nested
/// block absent (null or empty) except those in `pairs`. Also builds one nested block's object
/// from the block's schema.
pub fn config(schema: &Schema, pairs: &[(&str, Value)]) -> Value {
    let mut m: BTreeMap<String, Value> = schema
        .attrs
        .iter()
        .map(|(k, a)| (k.clone(), Value::null(a.ty.clone())))
        .collect();
    for (k, b) in &schema.blocks {
        let t = b.schema.object_type();
        let empty = match b.nesting {
            Nesting::Single => Value::null(t),
            Nesting::List => Value::list(t, Vec::new()),
            Nesting::Set => Value::set(t, Vec::new()),
            Nesting::Map => Value::map(t, BTreeMap::new()),
        };
        m.insert(k.clone(), empty);
    }
    for (k, v) in pairs {
        m.insert(k.to_string(), v.clone());
    }
    Value::object(m)
}

/// Plans a change from `prior` (`None`: a create) to `config`, proposing as the engine does,
/// in [`scratch_ctx`].
pub fn try_plan(
    rt: &dyn ResourceType,
    prior: Option<&Value>,
    config: &Value,
) -> Result<PlanResponse, ProviderError> {
    try_plan_in(rt, &scratch_ctx(), prior, config)
}

/// [`try_plan`] in `ctx` (e.g. one carrying provider settings in [`ProviderCtx::config`]).
pub fn try_plan_in(
    rt: &dyn ResourceType,
    ctx: &ProviderCtx,
    prior: Option<&Value>,
    config: &Value,
) -> Result<PlanResponse, ProviderError> {
    rt.plan(PlanRequest {
        prior,
        config,
        proposed: proposed_new(rt.schema(), prior, config),
        ctx,
    })
}

/// [`try_plan`], which must succeed.
pub fn plan(rt: &dyn ResourceType, prior: Option<&Value>, config: &Value) -> PlanResponse {
    try_plan(rt, prior, config).expect("plan")
}

/// Applies a planned change (`planned` `None`: a delete).
pub fn try_apply(
    rt: &dyn ResourceType,
    ctx: &ProviderCtx,
    prior: Option<&Value>,
    planned: Option<&Value>,
    config: &Value,
) -> Result<Option<Value>, ProviderError> {
    rt.apply(ApplyRequest {
        prior,
        planned,
        config,
        ctx,
    })
}

/// Applies a create or update, which must succeed, return an object and keep every value
/// known at plan time (see [`assert_consistent`]).
pub fn apply(
    rt: &dyn ResourceType,
    ctx: &ProviderCtx,
    prior: Option<&Value>,
    planned: &Value,
    config: &Value,
) -> Value {
    let v = try_apply(rt, ctx, prior, Some(planned), config)
        .expect("apply")
        .expect("apply returns an object");
    assert_consistent(planned, &v);
    v
}

/// Plans and applies a create in `ctx`.
pub fn create_in(rt: &dyn ResourceType, ctx: &ProviderCtx, config: &Value) -> Value {
    let p = plan(rt, None, config);
    apply(rt, ctx, None, &p.planned, config)
}

/// Plans and applies a create in [`scratch_ctx`].
pub fn create(rt: &dyn ResourceType, config: &Value) -> Value {
    create_in(rt, &scratch_ctx(), config)
}

/// Deletes `prior`; the delete must succeed and return no object.
pub fn destroy(rt: &dyn ResourceType, ctx: &ProviderCtx, prior: &Value) {
    let name = rt.type_name();
    let gone = try_apply(rt, ctx, Some(prior), None, &Value::dynamic_null())
        .unwrap_or_else(|e| panic!("{name}: delete: {e}"));
    assert!(gone.is_none(), "{name}: a delete returned {gone:?}");
}

/// Every attribute wholly known in `planned` has the same value in `applied` (marks aside):
/// apply may fill in unknowns, never change what the plan promised.
pub fn assert_consistent(planned: &Value, applied: &Value) {
    let applied = applied.clone().unmark_deep().0;
    for (k, pv) in crate::builtin::attrs(&planned.clone().unmark_deep().0) {
        if pv.is_wholly_known() {
            let av = applied
                .get_attr(&k)
                .unwrap_or_else(|| panic!("applied object lacks planned attribute {k}"));
            assert!(
                pv.raw_equal(av),
                "attribute {k} was planned as {pv:?} but applied as {av:?}"
            );
        }
    }
}

/// A string attribute (marks aside); panics when it is absent, null or not a string.
pub fn str_of(v: &Value, name: &str) -> String {
    crate::builtin::str_attr(v, name).unwrap_or_else(|| panic!("string attribute {name}"))
}
