//! `terraform_data`: Terraform's built-in resource that stores a value (`input` → `output`)
//! and can force replacement of others through `triggers_replace`. Same schema and planning
//! rules as Terraform's `terraform.io/builtin/terraform` provider.

use super::{attrs, planned_or_err};
use crate::schema::{Attr, Schema};
use crate::{ApplyRequest, PlanRequest, PlanResponse, ProviderCtx, ProviderError, ResourceType};
use baton_eval::{PathStep, Type, Value};

pub struct TerraformData {
    schema: Schema,
}

impl TerraformData {
    pub fn new() -> TerraformData {
        TerraformData {
            schema: Schema::new()
                .attr(
                    "input",
                    Attr::optional(Type::Dynamic)
                        .describe("A value to store in the object; changes are planned in place."),
                )
                .attr(
                    "output",
                    Attr::computed(Type::Dynamic).describe("The value of input after apply."),
                )
                .attr(
                    "triggers_replace",
                    Attr::optional(Type::Dynamic)
                        .describe("A value whose change replaces the object."),
                )
                .attr("id", Attr::computed(Type::String)),
        }
    }
}

impl Default for TerraformData {
    fn default() -> Self {
        TerraformData::new()
    }
}

/// The planned output: null stays null (with the input's type), otherwise unknown.
fn planned_output(input: &Value) -> Value {
    if input.is_null() {
        input.clone()
    } else {
        Value::unknown(input.ty()).with_sensitive(input.contains_sensitive())
    }
}

impl ResourceType for TerraformData {
    fn type_name(&self) -> &'static str {
        "terraform_data"
    }

    fn schema(&self) -> &Schema {
        &self.schema
    }

    fn plan(&self, req: PlanRequest<'_>) -> Result<PlanResponse, ProviderError> {
        let mut planned = attrs(&req.proposed);
        let input = req
            .config
            .get_attr("input")
            .cloned()
            .unwrap_or_else(Value::dynamic_null);
        let trigger = req
            .config
            .get_attr("triggers_replace")
            .cloned()
            .unwrap_or_else(Value::dynamic_null);
        planned.insert("input".into(), input.clone());
        planned.insert("triggers_replace".into(), trigger.clone());
        let mut requires_replace = Vec::new();
        match req.prior {
            None => {
                planned.insert("id".into(), Value::unknown(Type::String));
                planned.insert("output".into(), planned_output(&input));
            }
            Some(prior) => {
                let prior_trigger = prior
                    .get_attr("triggers_replace")
                    .cloned()
                    .unwrap_or_else(Value::dynamic_null);
                let prior_input = prior
                    .get_attr("input")
                    .cloned()
                    .unwrap_or_else(Value::dynamic_null);
                if !(trigger.is_wholly_known() && prior_trigger.raw_equal(&trigger)) {
                    requires_replace.push(vec![PathStep::Key("triggers_replace".into())]);
                    planned.insert("id".into(), Value::unknown(Type::String));
                    planned.insert("output".into(), planned_output(&input));
                } else if !(input.is_wholly_known() && prior_input.raw_equal(&input)) {
                    planned.insert(
                        "output".into(),
                        Value::unknown(input.ty()).with_sensitive(input.contains_sensitive()),
                    );
                }
            }
        }
        Ok(PlanResponse {
            planned: Value::object(planned),
            requires_replace,
            warnings: Vec::new(),
        })
    }

    fn apply(&self, req: ApplyRequest<'_>) -> Result<Option<Value>, ProviderError> {
        if req.planned.is_none() {
            return Ok(None);
        }
        let planned = planned_or_err(req.planned)?;
        let mut state = attrs(planned);
        let output_known = planned.get_attr("output").is_some_and(Value::is_known);
        if !output_known {
            let input = state
                .get("input")
                .cloned()
                .unwrap_or_else(Value::dynamic_null);
            state.insert("output".into(), input);
        }
        let id_known = planned.get_attr("id").is_some_and(Value::is_known);
        if !id_known {
            state.insert("id".into(), Value::string(new_uuid()));
        }
        Ok(Some(Value::object(state)))
    }

    fn read(&self, _ctx: &ProviderCtx, state: &Value) -> Result<Option<Value>, ProviderError> {
        Ok(Some(state.clone()))
    }

    fn import(&self, _ctx: &ProviderCtx, id: &str) -> Result<Value, ProviderError> {
        let mut m = std::collections::BTreeMap::new();
        m.insert("id".to_string(), Value::string(id));
        m.insert("input".to_string(), Value::dynamic_null());
        m.insert("output".to_string(), Value::dynamic_null());
        m.insert("triggers_replace".to_string(), Value::dynamic_null());
        Ok(Value::object(m))
    }
}

/// A random UUID in the canonical 8-4-4-4-12 form (what Terraform's go-uuid produces).
pub fn new_uuid() -> String {
    let b: [u8; 16] = rand::random();
    let h = hex::encode(b);
    format!(
        "{}-{}-{}-{}-{}",
        &h[0..8],
        &h[8..12],
        &h[12..16],
        &h[16..20],
        &h[20..32]
    )
}
