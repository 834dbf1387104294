//! `random_uuid`: 16 random bytes formatted as a UUID (`8-4-4-4-12` lowercase hex), as
//! hashicorp/go-uuid's `GenerateUUID` makes them (no version bits are set). Import takes a
//! UUID in any letter case.

use super::{keepers_attr, plan_random};
use crate::schema::{Attr, Schema};
use crate::{ApplyRequest, PlanRequest, PlanResponse, ProviderCtx, ProviderError, ResourceType};
use baton_eval::{Type, Value};
use std::collections::BTreeMap;

pub struct RandomUuid {
    schema: Schema,
}

impl RandomUuid {
    pub fn new() -> RandomUuid {
        RandomUuid {
            schema: Schema::new()
                .attr("keepers", keepers_attr())
                .attr(
                    "result",
                    Attr::computed(Type::String)
                        .describe("The generated uuid presented in string format."),
                )
                .attr(
                    "id",
                    Attr::computed(Type::String)
                        .describe("The generated uuid presented in string format."),
                ),
        }
    }
}

impl Default for RandomUuid {
    fn default() -> Self {
        RandomUuid::new()
    }
}

/// go-uuid's `ParseUUID` then `FormatUUID`: 36 characters, dashes at 8, 13, 18 and 23, hex
/// elsewhere; the canonical lowercase form.
fn parse_uuid(s: &str) -> Result<String, String> {
    if s.len() != 36 {
        return Err(format!(
            "uuid string is wrong length ({} characters, expected 36)",
            s.len()
        ));
    }
    let b = s.as_bytes();
    if [8, 13, 18, 23].iter().any(|&i| b[i] != b'-') {
        return Err("uuid is improperly formatted".to_string());
    }
    let hex: String = s.chars().filter(|c| *c != '-').collect();
    let bytes = hex::decode(&hex).map_err(|e| e.to_string())?;
    let h = hex::encode(bytes);
    Ok(format!(
        "{}-{}-{}-{}-{}",
        &h[0..8],
        &h[8..12],
        &h[12..16],
        &h[16..20],
        &h[20..32]
    ))
}

impl ResourceType for RandomUuid {
    fn type_name(&self) -> &'static str {
        "random_uuid"
    }

    fn schema(&self) -> &Schema {
        &self.schema
    }

    fn plan(&self, req: PlanRequest<'_>) -> Result<PlanResponse, ProviderError> {
        Ok(plan_random(&self.schema, &req, |_, _| {}))
    }

    fn apply(&self, req: ApplyRequest<'_>) -> Result<Option<Value>, ProviderError> {
        let Some(planned) = req.planned else {
            return Ok(None);
        };
        let mut state = super::super::attrs(planned);
        if req.prior.is_none() {
            let u = super::super::terraform_data::new_uuid();
            state.insert("result".into(), Value::string(u.as_str()));
            state.insert("id".into(), Value::string(u));
        }
        Ok(Some(Value::object(state)))
    }

    fn read(&self, _ctx: &ProviderCtx, state: &Value) -> Result<Option<Value>, ProviderError> {
        Ok(Some(state.clone()))
    }

    fn import(&self, _ctx: &ProviderCtx, id: &str) -> Result<Value, ProviderError> {
        let u = parse_uuid(id).map_err(|e| {
            ProviderError::permanent(
                "Import Random UUID Error",
                format!(
                    "There was an error during the parsing of the UUID.\n\nOriginal Error: {e}"
                ),
            )
        })?;
        let mut m = BTreeMap::new();
        m.insert("result".to_string(), Value::string(u.as_str()));
        m.insert("id".to_string(), Value::string(u));
        m.insert("keepers".to_string(), Value::null(Type::map(Type::String)));
        Ok(Value::object(m))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testkit::{plan, scratch_ctx, try_apply};

    fn cfg(keeper: Option<&str>) -> Value {
        let mut m = BTreeMap::new();
        m.insert(
            "keepers".to_string(),
            keeper.map_or_else(
                || Value::null(Type::map(Type::String)),
                |k| {
                    Value::map(
                        Type::String,
                        [("k".to_string(), Value::string(k))].into_iter().collect(),
                    )
                },
            ),
        );
        Value::object(m)
    }

    #[test]
    fn create_keep_and_replace() {
        let r = RandomUuid::new();
        let ctx = scratch_ctx();
        let config = cfg(Some("a"));
        let p = plan(&r, None, &config);
        assert!(!p.planned.get_attr("result").expect("result").is_known());
        let v = try_apply(&r, &ctx, None, Some(&p.planned), &config)
            .expect("apply")
            .expect("object");
        let u = v.get_attr("result").and_then(Value::as_str).expect("uuid");
        assert_eq!(parse_uuid(u).as_deref(), Ok(u));
        assert_eq!(v.get_attr("id").and_then(Value::as_str), Some(u));
        assert!(plan(&r, Some(&v), &config).planned.raw_equal(&v));
        assert!(plan(&r, Some(&v), &config).requires_replace.is_empty());
        assert_eq!(
            plan(&r, Some(&v), &cfg(Some("b"))).requires_replace.len(),
            1
        );
        // Deleting returns nothing.
        let gone = try_apply(&r, &ctx, Some(&v), None, &config).expect("delete");
        assert!(gone.is_none());
    }

    #[test]
    fn import_normalises_case() {
        let r = RandomUuid::new();
        let ctx = scratch_ctx();
        let v = r
            .import(&ctx, "6B0B9D47-1B3C-4F4E-8A3E-6C1D2E3F4A5B")
            .expect("import");
        assert_eq!(
            v.get_attr("id").and_then(Value::as_str),
            Some("6b0b9d47-1b3c-4f4e-8a3e-6c1d2e3f4a5b")
        );
        assert!(r.import(&ctx, "not-a-uuid").is_err());
        assert!(r
            .import(&ctx, "6b0b9d47x1b3c-4f4e-8a3e-6c1d2e3f4a5b")
            .is_err());
        assert!(r
            .import(&ctx, "6b0b9d47-1b3c-4f4e-8a3e-6c1d2e3f4a5g")
            .is_err());
        assert!(r
            .import(&ctx, "é6b0b9d4-1b3c-4f4e-8a3e-6c1d2e3f4a5")
            .is_err());
    }
}
