//! `random_pet`: a random pet name of `length` words joined by `separator` — one name, or an
//! adjective and a name, or adverbs, an adjective and a name, as golang-petname's `Generate`
//! composes them — optionally after a `prefix`. No import, as in the public provider.

use super::words::{ADJECTIVES, ADVERBS, NAMES};
use super::{check_int, int_attr, keepers_attr, need_known, plan_random, str_attr};
use crate::schema::{Attr, Schema};
use crate::{
    ApplyRequest, AttrDiag, PlanRequest, PlanResponse, ProviderCtx, ProviderError, ResourceType,
};
use baton_eval::{Type, Value};
use rand::seq::IndexedRandom as _;

/// The most words Baton puts in a name (the public provider has no limit).
const MAX_WORDS: i64 = 1000;

pub struct RandomPet {
    schema: Schema,
}

impl RandomPet {
    pub fn new() -> RandomPet {
        RandomPet {
            schema: Schema::new()
                .attr("keepers", keepers_attr())
                .attr(
                    "length",
                    Attr::optional(Type::Number)
                        .default(Value::int(2))
                        .force_new()
                        .describe("The length (in words) of the pet name. Defaults to 2"),
                )
                .attr(
                    "prefix",
                    Attr::optional(Type::String)
                        .force_new()
                        .describe("A string to prefix the name with."),
                )
                .attr(
                    "separator",
                    Attr::optional(Type::String)
                        .default(Value::string("-"))
                        .force_new()
                        .describe(
                            "The character to separate words in the pet name. Defaults to \"-\"",
                        ),
                )
                .attr(
                    "id",
                    Attr::computed(Type::String).describe("The random pet name."),
                ),
        }
    }
}

impl Default for RandomPet {
    fn default() -> Self {
        RandomPet::new()
    }
}

/// golang-petname's `Generate(words, separator)`, lower-cased.
fn petname(words: i64, separator: &str) -> String {
    let mut rng = rand::rng();
    let mut pick = |list: &[&'static str]| list.choose(&mut rng).copied().unwrap_or("pet");
    let parts: Vec<&str> = match words {
        1 => vec![pick(NAMES)],
        2 => vec![pick(ADJECTIVES), pick(NAMES)],
        n => {
            let mut v: Vec<&str> = (0..n.saturating_sub(2)).map(|_| pick(ADVERBS)).collect();
            v.push(pick(ADJECTIVES));
            v.push(pick(NAMES));
            v
        }
    };
    parts.join(separator).to_lowercase()
}

impl ResourceType for RandomPet {
    fn type_name(&self) -> &'static str {
        "random_pet"
    }

    fn schema(&self) -> &Schema {
        &self.schema
    }

    fn validate(&self, config: &Value) -> Vec<AttrDiag> {
        let mut out = Vec::new();
        check_int(config, "length", i64::MIN, MAX_WORDS, &mut out);
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
        let length = need_known(int_attr(planned, "length"), "length")?.min(MAX_WORDS);
        let separator = str_attr(planned, "separator").unwrap_or_default();
        let prefix = str_attr(planned, "prefix").unwrap_or_default();
        let mut name = petname(length, &separator);
        if !prefix.is_empty() {
            name = format!("{prefix}{separator}{name}");
        }
        state.insert("id".into(), Value::string(name));
        Ok(Some(Value::object(state)))
    }

    fn read(&self, _ctx: &ProviderCtx, state: &Value) -> Result<Option<Value>, ProviderError> {
        Ok(Some(state.clone()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testkit::{create, plan, scratch_ctx, str_of, try_apply};
    use std::collections::BTreeMap;

    fn cfg(length: Option<i64>, prefix: Option<&str>, separator: Option<&str>) -> Value {
        let mut m = BTreeMap::new();
        m.insert(
            "length".to_string(),
            length.map_or_else(|| Value::null(Type::Number), Value::int),
        );
        m.insert(
            "prefix".to_string(),
            prefix.map_or_else(|| Value::null(Type::String), Value::string),
        );
        m.insert(
            "separator".to_string(),
            separator.map_or_else(|| Value::null(Type::String), Value::string),
        );
        m.insert("keepers".to_string(), Value::null(Type::map(Type::String)));
        Value::object(m)
    }

    /// Creates a pet and returns its name.
    fn pet_id(r: &RandomPet, config: &Value) -> String {
        str_of(&create(r, config), "id")
    }

    #[test]
    fn default_is_two_words() {
        let r = RandomPet::new();
        let p = plan(&r, None, &cfg(None, None, None));
        assert!(p
            .planned
            .get_attr("length")
            .expect("l")
            .raw_equal(&Value::int(2)));
        assert!(p
            .planned
            .get_attr("separator")
            .expect("s")
            .raw_equal(&Value::string("-")));
        let id = pet_id(&r, &cfg(None, None, None));
        let words: Vec<&str> = id.split('-').collect();
        assert_eq!(words.len(), 2, "{id}");
        assert!(ADJECTIVES.contains(&words[0]));
        assert!(NAMES.contains(&words[1]));
    }

    #[test]
    fn lengths_prefix_and_separator() {
        let r = RandomPet::new();
        let id = pet_id(&r, &cfg(Some(1), None, None));
        assert!(NAMES.contains(&id.as_str()), "{id}");
        let id = pet_id(&r, &cfg(Some(4), Some("app"), Some("_")));
        let words: Vec<&str> = id.split('_').collect();
        assert_eq!(words.len(), 5, "{id}");
        assert_eq!(words[0], "app");
        assert!(ADVERBS.contains(&words[1]) && ADVERBS.contains(&words[2]));
        // Zero or negative lengths give an adjective and a name, as golang-petname does.
        assert_eq!(pet_id(&r, &cfg(Some(0), None, None)).split('-').count(), 2);
        assert_eq!(pet_id(&r, &cfg(Some(-3), None, None)).split('-').count(), 2);
    }

    #[test]
    fn replacement_and_validation() {
        let r = RandomPet::new();
        let config = cfg(None, None, None);
        let p = plan(&r, None, &config);
        let ctx = scratch_ctx();
        let v = try_apply(&r, &ctx, None, Some(&p.planned), &config)
            .expect("apply")
            .expect("object");
        assert!(plan(&r, Some(&v), &config).planned.raw_equal(&v));
        assert!(!plan(&r, Some(&v), &cfg(Some(3), None, None))
            .requires_replace
            .is_empty());
        assert!(!plan(&r, Some(&v), &cfg(None, Some("x"), None))
            .requires_replace
            .is_empty());
        assert!(!plan(&r, Some(&v), &cfg(None, None, Some(".")))
            .requires_replace
            .is_empty());
        assert!(plan(&r, Some(&v), &cfg(Some(2), None, Some("-")))
            .requires_replace
            .is_empty());
        assert_eq!(r.validate(&cfg(Some(MAX_WORDS + 1), None, None)).len(), 1);
        assert!(r.import(&ctx, "x").is_err());
    }

    #[test]
    fn word_lists_are_usable() {
        for list in [ADJECTIVES, ADVERBS, NAMES] {
            assert!(list.len() >= 50);
            let mut sorted = list.to_vec();
            sorted.sort_unstable();
            sorted.dedup();
            assert_eq!(sorted.len(), list.len(), "duplicates in a word list");
            assert!(
                list.iter()
                    .all(|w| !w.is_empty() && w.chars().all(|c| c.is_ascii_lowercase())),
                "{list:?}"
            );
        }
    }
}
