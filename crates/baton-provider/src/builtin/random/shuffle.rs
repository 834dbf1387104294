//! `random_shuffle`: a permutation of `input`, `result_count` long (the input's length by
//! default; longer results repeat whole permutations), from Go's `math/rand` seeded by `seed`
//! so that a seed gives the same permutation as Terraform. No import, as in the public
//! provider.

use super::gorand::GoRand;
use super::{check_int, int_attr, keepers_attr, plan_random, str_attr, MAX_SIZE};
use crate::schema::{Attr, Schema};
use crate::{
    ApplyRequest, AttrDiag, PlanRequest, PlanResponse, ProviderCtx, ProviderError, ResourceType,
};
use baton_eval::{Type, Value};

pub struct RandomShuffle {
    schema: Schema,
}

impl RandomShuffle {
    pub fn new() -> RandomShuffle {
        RandomShuffle {
            schema: Schema::new()
                .attr("keepers", keepers_attr())
                .attr(
                    "seed",
                    Attr::optional(Type::String).force_new().describe(
                        "Arbitrary string with which to seed the random number generator, in order to produce less-volatile permutations of the list.",
                    ),
                )
                .attr(
                    "input",
                    Attr::required(Type::list(Type::String))
                        .force_new()
                        .describe("The list of strings to shuffle."),
                )
                .attr(
                    "result_count",
                    Attr::optional(Type::Number).force_new().describe(
                        "The number of results to return. Defaults to the number of items in the `input` list. If fewer items are requested, some elements will be excluded from the result. If more items are requested, items will be repeated in the result but not more frequently than the number of items in the input list.",
                    ),
                )
                .attr(
                    "result",
                    Attr::computed(Type::list(Type::String))
                        .describe("Random permutation of the list of strings given in `input`."),
                )
                .attr(
                    "id",
                    Attr::computed(Type::String).describe(
                        "A static value used internally by Terraform, this should not be referenced in configurations.",
                    ),
                ),
        }
    }
}

impl Default for RandomShuffle {
    fn default() -> Self {
        RandomShuffle::new()
    }
}

/// The provider's shuffle: whole permutations of `input` until `count` items are taken.
fn shuffle(input: &[Value], count: usize, seed: &str) -> Vec<Value> {
    let mut out = Vec::with_capacity(count);
    if input.is_empty() || count == 0 {
        return out;
    }
    let mut rng = GoRand::from_seed_str(seed);
    loop {
        for i in rng.perm(input.len()) {
            out.push(input[i].clone());
            if out.len() >= count {
                return out;
            }
        }
    }
}

impl ResourceType for RandomShuffle {
    fn type_name(&self) -> &'static str {
        "random_shuffle"
    }

    fn schema(&self) -> &Schema {
        &self.schema
    }

    fn validate(&self, config: &Value) -> Vec<AttrDiag> {
        let mut out = Vec::new();
        check_int(config, "result_count", 0, MAX_SIZE, &mut out);
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
        let input: Vec<Value> = planned
            .get_attr("input")
            .and_then(Value::as_seq)
            .map(<[Value]>::to_vec)
            .unwrap_or_default();
        let count = match int_attr(planned, "result_count") {
            None | Some(0) => input.len(),
            Some(n) => usize::try_from(n)
                .ok()
                .filter(|n| *n as i64 <= MAX_SIZE)
                .ok_or_else(|| {
                    ProviderError::permanent(
                        "Invalid result_count",
                        format!("result_count must be between 0 and {MAX_SIZE}, got {n}."),
                    )
                    .on_attr("result_count")
                })?,
        };
        let seed = str_attr(planned, "seed").unwrap_or_default();
        let result = shuffle(&input, count, &seed);
        state.insert("result".into(), Value::list(Type::String, result));
        state.insert("id".into(), Value::string("-"));
        Ok(Some(Value::object(state)))
    }

    fn read(&self, _ctx: &ProviderCtx, state: &Value) -> Result<Option<Value>, ProviderError> {
        Ok(Some(state.clone()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testkit::{create, plan};
    use std::collections::BTreeMap;

    fn cfg(input: &[&str], seed: Option<&str>, count: Option<i64>) -> Value {
        let mut m = BTreeMap::new();
        m.insert(
            "input".to_string(),
            Value::list(
                Type::String,
                input.iter().map(|s| Value::string(*s)).collect(),
            ),
        );
        m.insert(
            "seed".to_string(),
            seed.map_or_else(|| Value::null(Type::String), Value::string),
        );
        m.insert(
            "result_count".to_string(),
            count.map_or_else(|| Value::null(Type::Number), Value::int),
        );
        m.insert("keepers".to_string(), Value::null(Type::map(Type::String)));
        Value::object(m)
    }

    fn result(v: &Value) -> String {
        v.get_attr("result")
            .and_then(Value::as_seq)
            .expect("result")
            .iter()
            .map(|x| x.as_str().expect("string").to_string())
            .collect()
    }

    #[test]
    fn seeded_permutations_match_terraform() {
        // hashicorp/random's acceptance tests (seed "-").
        let r = RandomShuffle::new();
        let abc = ["a", "b", "c", "d", "e"];
        assert_eq!(result(&create(&r, &cfg(&abc, Some("-"), None))), "acbed");
        assert_eq!(result(&create(&r, &cfg(&abc, Some("-"), Some(3)))), "acb");
        assert_eq!(
            result(&create(&r, &cfg(&abc, Some("-"), Some(12)))),
            "acbedaedcbab"
        );
        assert_eq!(result(&create(&r, &cfg(&[], Some("-"), Some(12)))), "");
        assert_eq!(result(&create(&r, &cfg(&["a"], Some("-"), Some(1)))), "a");
        let v = create(&r, &cfg(&abc, Some("-"), None));
        assert_eq!(v.get_attr("id").and_then(Value::as_str), Some("-"));
    }

    #[test]
    fn unseeded_is_a_permutation() {
        let r = RandomShuffle::new();
        let v = create(&r, &cfg(&["x", "y", "z"], None, None));
        let mut s: Vec<char> = result(&v).chars().collect();
        s.sort_unstable();
        assert_eq!(s, vec!['x', 'y', 'z']);
    }

    #[test]
    fn replacement_and_validation() {
        let r = RandomShuffle::new();
        let config = cfg(&["a", "b"], None, None);
        let v = create(&r, &config);
        let p = plan(&r, Some(&v), &config);
        assert!(p.requires_replace.is_empty());
        assert!(p.planned.raw_equal(&v));
        assert!(!plan(&r, Some(&v), &cfg(&["a", "c"], None, None))
            .requires_replace
            .is_empty());
        assert!(!plan(&r, Some(&v), &cfg(&["a", "b"], Some("s"), None))
            .requires_replace
            .is_empty());
        assert!(!plan(&r, Some(&v), &cfg(&["a", "b"], None, Some(1)))
            .requires_replace
            .is_empty());
        assert_eq!(r.validate(&cfg(&["a"], None, Some(-1))).len(), 1);
        assert!(r.validate(&cfg(&["a"], None, Some(0))).is_empty());
    }
}
