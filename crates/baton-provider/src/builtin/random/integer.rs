//! `random_integer`: a number in `[min, max]`. With a `seed` the result is deterministic and
//! equal to Terraform's (Go's `math/rand` seeded with the CRC-64 of the seed, see
//! [`super::gorand`]). Import takes `result,min,max` or `result,min,max,seed`.

use super::gorand::GoRand;
use super::{check_int, int_attr, keepers_attr, need_known, plan_random, str_attr};
use crate::schema::{Attr, Schema};
use crate::{
    ApplyRequest, AttrDiag, PlanRequest, PlanResponse, ProviderCtx, ProviderError, ResourceType,
};
use baton_eval::{Type, Value};
use std::collections::BTreeMap;

pub struct RandomInteger {
    schema: Schema,
}

impl RandomInteger {
    pub fn new() -> RandomInteger {
        RandomInteger {
            schema: Schema::new()
                .attr("keepers", keepers_attr())
                .attr(
                    "min",
                    Attr::required(Type::Number)
                        .force_new()
                        .describe("The minimum inclusive value of the range."),
                )
                .attr(
                    "max",
                    Attr::required(Type::Number)
                        .force_new()
                        .describe("The maximum inclusive value of the range."),
                )
                .attr(
                    "seed",
                    Attr::optional(Type::String)
                        .force_new()
                        .describe("A custom seed to always produce the same value."),
                )
                .attr(
                    "result",
                    Attr::computed(Type::Number).describe("The random integer result."),
                )
                .attr(
                    "id",
                    Attr::computed(Type::String)
                        .describe("The string representation of the integer result."),
                ),
        }
    }
}

impl Default for RandomInteger {
    fn default() -> Self {
        RandomInteger::new()
    }
}

const MIN_MAX_ERROR: &str =
    "The minimum (min) value needs to be smaller than or equal to maximum (max) value.";

/// A number in `[min, max]` drawn as the provider does: `rand.Intn(max+1-min) + min`. Ranges
/// wider than Go's `int` (where Go would crash) draw uniformly from the full range instead.
fn draw(rng: &mut GoRand, min: i64, max: i64) -> i64 {
    let span = i128::from(max) - i128::from(min) + 1;
    match i64::try_from(span) {
        Ok(n) => min.wrapping_add(rng.intn(n)),
        Err(_) => rng.uint64() as i64,
    }
}

impl ResourceType for RandomInteger {
    fn type_name(&self) -> &'static str {
        "random_integer"
    }

    fn schema(&self) -> &Schema {
        &self.schema
    }

    fn validate(&self, config: &Value) -> Vec<AttrDiag> {
        let mut out = Vec::new();
        check_int(config, "min", i64::MIN, i64::MAX, &mut out);
        check_int(config, "max", i64::MIN, i64::MAX, &mut out);
        if let (Some(min), Some(max)) = (int_attr(config, "min"), int_attr(config, "max")) {
            if max < min {
                out.push(AttrDiag::error(Some("max"), "Invalid range", MIN_MAX_ERROR));
            }
        }
        out
    }

    fn plan(&self, req: PlanRequest<'_>) -> Result<PlanResponse, ProviderError> {
        Ok(plan_random(&self.schema, &req, |_, _| {}))
    }

    fn apply(&self, req: ApplyRequest<'_>) -> Result<Option<Value>, ProviderError> {
        let Some(planned) = req.planned else {
            return Ok(None);
        };
        let mut state = super::super::attrs(planned);
        if req.prior.is_some() {
            return Ok(Some(Value::object(state)));
        }
        let min = need_known(int_attr(planned, "min"), "min")?;
        let max = need_known(int_attr(planned, "max"), "max")?;
        if max < min {
            return Err(ProviderError::permanent(
                "Create Random Integer Error",
                MIN_MAX_ERROR,
            ));
        }
        let seed = str_attr(planned, "seed").unwrap_or_default();
        let n = draw(&mut GoRand::from_seed_str(&seed), min, max);
        state.insert("result".into(), Value::int(n));
        state.insert("id".into(), Value::string(n.to_string()));
        Ok(Some(Value::object(state)))
    }

    fn read(&self, _ctx: &ProviderCtx, state: &Value) -> Result<Option<Value>, ProviderError> {
        Ok(Some(state.clone()))
    }

    fn import(&self, _ctx: &ProviderCtx, id: &str) -> Result<Value, ProviderError> {
        let parts: Vec<&str> = id.split(',').collect();
        if parts.len() != 3 && parts.len() != 4 {
            return Err(ProviderError::permanent(
                "Import Random Integer Error",
                "Invalid import usage: expecting {result},{min},{max} or {result},{min},{max},{seed}",
            ));
        }
        let parse = |s: &str, what: &str| {
            s.parse::<i64>().map_err(|e| {
                ProviderError::permanent(
                    "Import Random Integer Error",
                    format!("The {what}value supplied could not be parsed as an integer.\n\nOriginal Error: {e}"),
                )
            })
        };
        let result = parse(parts[0], "")?;
        let min = parse(parts[1], "min ")?;
        let max = parse(parts[2], "max ")?;
        let mut m = BTreeMap::new();
        m.insert("id".to_string(), Value::string(parts[0]));
        m.insert(
            "keepers".to_string(),
            Value::map(Type::String, BTreeMap::new()),
        );
        m.insert("result".to_string(), Value::int(result));
        m.insert("min".to_string(), Value::int(min));
        m.insert("max".to_string(), Value::int(max));
        m.insert(
            "seed".to_string(),
            parts
                .get(3)
                .map_or_else(|| Value::null(Type::String), |s| Value::string(*s)),
        );
        Ok(Value::object(m))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testkit::{create, plan, scratch_ctx};

    fn cfg(min: i64, max: i64, seed: Option<&str>) -> Value {
        let mut m = BTreeMap::new();
        m.insert("min".to_string(), Value::int(min));
        m.insert("max".to_string(), Value::int(max));
        m.insert(
            "seed".to_string(),
            seed.map_or_else(|| Value::null(Type::String), Value::string),
        );
        m.insert("keepers".to_string(), Value::null(Type::map(Type::String)));
        Value::object(m)
    }

    #[test]
    fn seeded_results_match_terraform() {
        // hashicorp/random's acceptance tests.
        let r = RandomInteger::new();
        let v = create(&r, &cfg(1, 3, Some("12345")));
        assert_eq!(int_attr(&v, "result"), Some(3));
        assert_eq!(v.get_attr("id").and_then(Value::as_str), Some("3"));
        assert_eq!(
            int_attr(&create(&r, &cfg(1, 3, Some("123456"))), "result"),
            Some(2)
        );
        let big = create(
            &r,
            &cfg(7227701560655103597, 7227701560655103598, Some("12345")),
        );
        assert_eq!(int_attr(&big, "result"), Some(7227701560655103598));
    }

    #[test]
    fn unseeded_results_stay_in_range() {
        let r = RandomInteger::new();
        for _ in 0..50 {
            let n = int_attr(&create(&r, &cfg(-5, 5, None)), "result").expect("n");
            assert!((-5..=5).contains(&n));
        }
        let n = int_attr(&create(&r, &cfg(7, 7, None)), "result");
        assert_eq!(n, Some(7));
        // The whole i64 range does not overflow.
        assert!(int_attr(&create(&r, &cfg(i64::MIN, i64::MAX, Some("x"))), "result").is_some());
    }

    #[test]
    fn plan_and_replacement() {
        let r = RandomInteger::new();
        let p = plan(&r, None, &cfg(1, 10, None));
        assert!(!p.planned.get_attr("result").expect("r").is_known());
        let v = create(&r, &cfg(1, 10, None));
        let p = plan(&r, Some(&v), &cfg(1, 10, None));
        assert!(p.requires_replace.is_empty());
        assert!(p.planned.raw_equal(&v));
        assert!(!plan(&r, Some(&v), &cfg(1, 11, None))
            .requires_replace
            .is_empty());
        assert!(!plan(&r, Some(&v), &cfg(0, 10, None))
            .requires_replace
            .is_empty());
        assert!(!plan(&r, Some(&v), &cfg(1, 10, Some("s")))
            .requires_replace
            .is_empty());
    }

    #[test]
    fn validation_and_bad_ranges() {
        let r = RandomInteger::new();
        assert!(r.validate(&cfg(1, 1, None)).is_empty());
        let d = r.validate(&cfg(5, 1, None));
        assert_eq!(d.len(), 1);
        assert_eq!(d[0].detail, MIN_MAX_ERROR);
    }

    #[test]
    fn import_forms() {
        let r = RandomInteger::new();
        let ctx = scratch_ctx();
        let v = r.import(&ctx, "3,1,3,12345").expect("import");
        assert_eq!(int_attr(&v, "result"), Some(3));
        assert_eq!(str_attr(&v, "seed").as_deref(), Some("12345"));
        let p = plan(&r, Some(&v), &cfg(1, 3, Some("12345")));
        assert!(p.requires_replace.is_empty());
        let v = r.import(&ctx, "3,1,3").expect("import");
        assert!(v.get_attr("seed").expect("seed").is_null());
        assert!(r.import(&ctx, "3,1").is_err());
        assert!(r.import(&ctx, "x,1,3").is_err());
        assert!(r.import(&ctx, "1,1,3,4,5").is_err());
    }
}
