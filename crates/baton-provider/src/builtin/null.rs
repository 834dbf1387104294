//! The `null` provider: `null_resource` (an object with `triggers` that force replacement)
//! and the deprecated `null_data_source`, with hashicorp/null's schemas.

use crate::schema::{Attr, Schema};
use crate::{
    ApplyRequest, DataSourceType, PlanRequest, PlanResponse, ProviderCtx, ProviderError,
    ResourceType,
};
use baton_eval::{Type, Value};
use std::collections::BTreeMap;

pub struct NullResource {
    schema: Schema,
}

impl NullResource {
    pub fn new() -> NullResource {
        NullResource {
            schema: Schema::new().attr("id", Attr::computed(Type::String)).attr(
                "triggers",
                Attr::optional(Type::map(Type::String))
                    .force_new()
                    .describe("A map of values whose change replaces the resource."),
            ),
        }
    }
}

impl Default for NullResource {
    fn default() -> Self {
        NullResource::new()
    }
}

/// A positive random 63-bit integer as a decimal string (Go's `rand.Int()`), as hashicorp/null
/// uses for ids.
pub fn random_id() -> String {
    let n: u64 = rand::random::<u64>() >> 1;
    n.to_string()
}

impl ResourceType for NullResource {
    fn type_name(&self) -> &'static str {
        "null_resource"
    }
    fn schema(&self) -> &Schema {
        &self.schema
    }
    fn plan(&self, req: PlanRequest<'_>) -> Result<PlanResponse, ProviderError> {
        let mut resp = crate::plan::default_plan(&self.schema, &req);
        if req.prior.is_none() || !resp.requires_replace.is_empty() {
            let mut m = super::attrs(&resp.planned);
            m.insert("id".into(), Value::unknown(Type::String));
            resp.planned = Value::object(m);
        }
        Ok(resp)
    }
    fn apply(&self, req: ApplyRequest<'_>) -> Result<Option<Value>, ProviderError> {
        let Some(planned) = req.planned else {
            return Ok(None);
        };
        let mut m = super::attrs(planned);
        if !m.get("id").is_some_and(Value::is_known) {
            m.insert("id".into(), Value::string(random_id()));
        }
        Ok(Some(Value::object(m)))
    }
    fn read(&self, _ctx: &ProviderCtx, state: &Value) -> Result<Option<Value>, ProviderError> {
        Ok(Some(state.clone()))
    }
    fn import(&self, _ctx: &ProviderCtx, id: &str) -> Result<Value, ProviderError> {
        let mut m = BTreeMap::new();
        m.insert("id".to_string(), Value::string(id));
        m.insert("triggers".to_string(), Value::null(Type::map(Type::String)));
        Ok(Value::object(m))
    }
}

pub struct NullDataSource {
    schema: Schema,
}

impl NullDataSource {
    pub fn new() -> NullDataSource {
        NullDataSource {
            schema: Schema::new()
                .attr("inputs", Attr::optional(Type::map(Type::String)))
                .attr("outputs", Attr::computed(Type::map(Type::String)))
                .attr("random", Attr::computed(Type::String))
                .attr(
                    "has_computed_default",
                    Attr::optional_computed(Type::String),
                )
                .attr("id", Attr::computed(Type::String)),
        }
    }
}

impl Default for NullDataSource {
    fn default() -> Self {
        NullDataSource::new()
    }
}

impl DataSourceType for NullDataSource {
    fn type_name(&self) -> &'static str {
        "null_data_source"
    }
    fn schema(&self) -> &Schema {
        &self.schema
    }
    fn read(&self, _ctx: &ProviderCtx, config: &Value) -> Result<Value, ProviderError> {
        let mut m = BTreeMap::new();
        let inputs = config
            .get_attr("inputs")
            .cloned()
            .unwrap_or_else(|| Value::null(Type::map(Type::String)));
        let outputs = if inputs.is_null() {
            Value::map(Type::String, BTreeMap::new())
        } else {
            inputs.clone()
        };
        m.insert("inputs".to_string(), inputs);
        m.insert("outputs".to_string(), outputs);
        m.insert("random".to_string(), Value::string(random_id()));
        let hcd = config
            .get_attr("has_computed_default")
            .filter(|v| !v.is_null())
            .cloned()
            .unwrap_or_else(|| Value::string("default"));
        m.insert("has_computed_default".to_string(), hcd);
        m.insert("id".to_string(), Value::string("static"));
        Ok(Value::object(m))
    }
}
