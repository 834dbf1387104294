//! `random_string` and `random_password`: `length` characters drawn from the enabled sets
//! (upper, lower, numeric, special or `override_special`), with at least `min_*` characters of
//! each set, from the operating system's generator. `random_password` marks `result` and
//! `bcrypt_hash` sensitive and uses the id `none`; `random_string`'s id is the result.
//!
//! `number` is the deprecated spelling of `numeric`; the two are kept equal as the provider's
//! plan modifier does. The bcrypt hash (cost 10, `$2a$`, of the first 72 bytes) is computed by
//! the `bcrypt` function of Baton's function library, so no second bcrypt implementation is
//! linked.

use super::{
    bool_attr, check_int, int_attr, is_unknown, keepers_attr, known, need_known, plan_random,
    str_attr, MAX_SIZE,
};
use crate::schema::{Attr, Schema};
use crate::{
    ApplyRequest, AttrDiag, PlanRequest, PlanResponse, ProviderCtx, ProviderError, ResourceType,
};
use baton_eval::{PathStep, Type, Value};
use rand::seq::SliceRandom as _;
use rand::Rng as _;
use std::collections::BTreeMap;

const UPPER: &str = "ABCDEFGHIJKLMNOPQRSTUVWXYZ";
const LOWER: &str = "abcdefghijklmnopqrstuvwxyz";
const NUMERIC: &str = "0123456789";
const SPECIAL: &str = "!@#$%&*()-_=+[]{}<>:?";
const MIN_ATTRS: [&str; 4] = ["min_upper", "min_lower", "min_numeric", "min_special"];
const NUMBER_DEPRECATED: &str = "**NOTE**: This is deprecated, use `numeric` instead.";

pub struct RandomString {
    password: bool,
    schema: Schema,
}

impl RandomString {
    /// `random_string`, or `random_password` when `password`.
    pub fn new(password: bool) -> RandomString {
        let flag = |d: &'static str| {
            Attr::optional(Type::Bool)
                .default(Value::bool(true))
                .force_new()
                .describe(d)
        };
        let min = |d: &'static str| {
            Attr::optional(Type::Number)
                .default(Value::int(0))
                .force_new()
                .describe(d)
        };
        let mut result = Attr::computed(Type::String).describe("The generated random string.");
        if password {
            result = result.sensitive();
        }
        let mut schema = Schema::new()
            .attr("keepers", keepers_attr())
            .attr(
                "length",
                Attr::required(Type::Number).force_new().describe(
                    "The length of the string desired. The minimum value for length is 1 and, length must also be >= (`min_upper` + `min_lower` + `min_numeric` + `min_special`).",
                ),
            )
            .attr("special", flag("Include special characters in the result. These are `!@#$%&*()-_=+[]{}<>:?`. Default value is `true`."))
            .attr("upper", flag("Include uppercase alphabet characters in the result. Default value is `true`."))
            .attr("lower", flag("Include lowercase alphabet characters in the result. Default value is `true`."))
            .attr(
                "number",
                Attr::optional_computed(Type::Bool)
                    .force_new()
                    .deprecated(NUMBER_DEPRECATED)
                    .describe("Include numeric characters in the result. Default value is `true`. **NOTE**: This is deprecated, use `numeric` instead."),
            )
            .attr(
                "numeric",
                Attr::optional_computed(Type::Bool)
                    .force_new()
                    .describe("Include numeric characters in the result. Default value is `true`."),
            )
            .attr("min_numeric", min("Minimum number of numeric characters in the result. Default value is `0`."))
            .attr("min_upper", min("Minimum number of uppercase alphabet characters in the result. Default value is `0`."))
            .attr("min_lower", min("Minimum number of lowercase alphabet characters in the result. Default value is `0`."))
            .attr("min_special", min("Minimum number of special characters in the result. Default value is `0`."))
            .attr(
                "override_special",
                Attr::optional(Type::String).describe("Supply your own list of special characters to use for string generation.  This overrides the default character list in the special argument.  The `special` argument must still be set to true for any overwritten characters to be used in generation."),
            )
            .attr("result", result);
        if password {
            schema = schema
                .attr(
                    "bcrypt_hash",
                    Attr::computed(Type::String).sensitive().describe("A bcrypt hash of the generated random string. **NOTE**: If the generated random string is greater than 72 bytes in length, `bcrypt_hash` will contain a hash of the first 72 bytes."),
                )
                .attr(
                    "id",
                    Attr::computed(Type::String).describe("A static value used internally by Terraform, this should not be referenced in configurations."),
                );
            schema.version = 3;
        } else {
            schema = schema.attr(
                "id",
                Attr::computed(Type::String).describe("The generated random string."),
            );
            schema.version = 2;
        }
        RandomString { password, schema }
    }
}

/// What to generate.
struct Params {
    length: usize,
    upper: bool,
    lower: bool,
    numeric: bool,
    special: bool,
    min_upper: usize,
    min_lower: usize,
    min_numeric: usize,
    min_special: usize,
    override_special: String,
}

/// A random string as hashicorp/random's `CreateString` makes it: the minimum counts from
/// each set, the rest from the union of enabled sets, then shuffled.
fn generate(p: &Params) -> Result<String, ProviderError> {
    let specials = if p.override_special.is_empty() {
        SPECIAL
    } else {
        p.override_special.as_str()
    };
    let mut all: Vec<char> = Vec::new();
    for (on, set) in [
        (p.upper, UPPER),
        (p.lower, LOWER),
        (p.numeric, NUMERIC),
        (p.special, specials),
    ] {
        if on {
            all.extend(set.chars());
        }
    }
    let mut rng = rand::rng();
    let mut out: Vec<char> = Vec::with_capacity(p.length);
    for (n, set) in [
        (p.min_numeric, NUMERIC),
        (p.min_lower, LOWER),
        (p.min_upper, UPPER),
        (p.min_special, specials),
    ] {
        let set: Vec<char> = set.chars().collect();
        for _ in 0..n {
            out.push(set[rng.random_range(0..set.len())]);
        }
    }
    let rest = p.length.saturating_sub(out.len());
    if rest > 0 && all.is_empty() {
        return Err(ProviderError::permanent(
            "Invalid character sets",
            "No characters to choose from: enable at least one of upper, lower, numeric or special.",
        ));
    }
    for _ in 0..rest {
        out.push(all[rng.random_range(0..all.len())]);
    }
    out.shuffle(&mut rng);
    Ok(out.into_iter().collect())
}

/// bcrypt (cost 10, `$2a$`) of the first 72 bytes, like the provider's `generateHash`, through
/// the function library's `bcrypt`, called in the run's directory `dir` (it reads no file,
/// but a function context is never rooted at the process's working directory).
fn bcrypt_hash(password: &str, dir: &std::path::Path) -> Result<String, ProviderError> {
    let mut end = password.len().min(72);
    while !password.is_char_boundary(end) {
        end -= 1;
    }
    let fail = |detail: String| ProviderError::permanent("Hash Generation Error", detail);
    let f = baton_eval::functions::registry()
        .get("bcrypt")
        .ok_or_else(|| fail("the bcrypt function is not available".into()))?;
    let sources = baton_core::Sources::new();
    let ctx = baton_eval::FnCtx {
        base_dir: dir,
        sources: &sources,
        planning: false,
        plan_timestamp: None,
    };
    let v = baton_eval::functions::call(f, &ctx, vec![Value::string(&password[..end])])
        .map_err(|e| fail(e.message))?;
    v.as_str()
        .map(str::to_string)
        .ok_or_else(|| fail("bcrypt returned no string".into()))
}

fn params(planned: &Value) -> Result<Params, ProviderError> {
    let size = |name: &str| -> Result<usize, ProviderError> {
        let n = need_known(int_attr(planned, name), name)?;
        usize::try_from(n).map_err(|_| {
            ProviderError::permanent(
                "Invalid attribute value",
                format!("{name} must not be negative, got {n}."),
            )
            .on_attr(name)
        })
    };
    let flag = |name: &str| need_known(bool_attr(planned, name), name);
    let p = Params {
        length: size("length")?,
        upper: flag("upper")?,
        lower: flag("lower")?,
        numeric: flag("numeric")?,
        special: flag("special")?,
        min_upper: size("min_upper")?,
        min_lower: size("min_lower")?,
        min_numeric: size("min_numeric")?,
        min_special: size("min_special")?,
        override_special: str_attr(planned, "override_special").unwrap_or_default(),
    };
    let mins = p
        .min_upper
        .saturating_add(p.min_lower)
        .saturating_add(p.min_numeric)
        .saturating_add(p.min_special);
    if p.length as i64 > MAX_SIZE || mins > p.length {
        return Err(ProviderError::permanent(
            "Invalid length",
            format!(
                "length ({}) must be at most {MAX_SIZE} and >= min_upper + min_lower + min_numeric + min_special ({mins}).",
                p.length
            ),
        )
        .on_attr("length"));
    }
    Ok(p)
}

impl ResourceType for RandomString {
    fn type_name(&self) -> &'static str {
        if self.password {
            "random_password"
        } else {
            "random_string"
        }
    }

    fn schema(&self) -> &Schema {
        &self.schema
    }

    fn validate(&self, config: &Value) -> Vec<AttrDiag> {
        let mut out = Vec::new();
        check_int(config, "length", 1, MAX_SIZE, &mut out);
        for m in MIN_ATTRS {
            check_int(config, m, 0, MAX_SIZE, &mut out);
        }
        if let Some(len) = int_attr(config, "length") {
            if !MIN_ATTRS.iter().any(|m| is_unknown(config, m)) {
                let sum: i64 = MIN_ATTRS
                    .iter()
                    .filter_map(|m| int_attr(config, m))
                    .fold(0i64, |acc, n| acc.saturating_add(n.max(0)));
                if len < sum {
                    out.push(AttrDiag::error(
                        Some("length"),
                        "Invalid Attribute Value",
                        format!("Attribute length value must be at least sum of min_upper + min_lower + min_numeric + min_special, got: {len}"),
                    ));
                }
            }
        }
        if let (Some(a), Some(b)) = (bool_attr(config, "number"), bool_attr(config, "numeric")) {
            if a != b {
                out.push(AttrDiag::error(
                    Some("number"),
                    "Number and numeric are both configured with different values",
                    "Number is deprecated, use numeric instead",
                ));
            }
        }
        out
    }

    fn plan(&self, req: PlanRequest<'_>) -> Result<PlanResponse, ProviderError> {
        let mut resp = plan_random(&self.schema, &req, |planned, config| {
            // The provider's NumberNumericAttributePlanModifier.
            let get = |n: &str| config.get_attr(n).cloned().filter(|v| !v.is_null());
            let value = match (get("number"), get("numeric")) {
                (None, None) => (Value::bool(true), Value::bool(true)),
                (None, Some(v)) | (Some(v), None) => (v.clone(), v),
                (Some(a), Some(b)) => (a, b),
            };
            planned.insert("number".into(), value.0);
            planned.insert("numeric".into(), value.1);
        });
        if let Some(prior) = req.prior {
            if override_special_requires_replace(prior, req.config) {
                resp.requires_replace
                    .push(vec![PathStep::Key("override_special".into())]);
            }
        }
        Ok(resp)
    }

    fn apply(&self, req: ApplyRequest<'_>) -> Result<Option<Value>, ProviderError> {
        let Some(planned) = req.planned else {
            return Ok(None);
        };
        let mut state = super::super::attrs(planned);
        if req.prior.is_some() {
            // In-place updates (keepers, override_special "" to null) keep the result.
            return Ok(Some(Value::object(state)));
        }
        let result = generate(&params(planned)?)?;
        if self.password {
            state.insert(
                "bcrypt_hash".into(),
                Value::string(bcrypt_hash(&result, &req.ctx.cwd)?),
            );
            state.insert("id".into(), Value::string("none"));
        } else {
            state.insert("id".into(), Value::string(result.as_str()));
        }
        state.insert("result".into(), Value::string(result));
        Ok(Some(Value::object(state)))
    }

    fn read(&self, _ctx: &ProviderCtx, state: &Value) -> Result<Option<Value>, ProviderError> {
        Ok(Some(state.clone()))
    }

    fn import(&self, ctx: &ProviderCtx, id: &str) -> Result<Value, ProviderError> {
        let mut m = BTreeMap::new();
        m.insert("result".to_string(), Value::string(id));
        m.insert("length".to_string(), Value::int(id.chars().count() as i64));
        for f in ["special", "upper", "lower", "number", "numeric"] {
            m.insert(f.to_string(), Value::bool(true));
        }
        for f in MIN_ATTRS {
            m.insert(f.to_string(), Value::int(0));
        }
        m.insert("override_special".to_string(), Value::null(Type::String));
        m.insert("keepers".to_string(), Value::null(Type::map(Type::String)));
        if self.password {
            m.insert("id".to_string(), Value::string("none"));
            m.insert(
                "bcrypt_hash".to_string(),
                Value::string(bcrypt_hash(id, &ctx.cwd)?),
            );
        } else {
            m.insert("id".to_string(), Value::string(id));
        }
        Ok(Value::object(m))
    }
}

/// The provider's `RequiresReplaceUnlessEmptyStringToNull` for `override_special`.
fn override_special_requires_replace(prior: &Value, config: &Value) -> bool {
    let null = Value::null(Type::String);
    let state = prior.get_attr("override_special").unwrap_or(&null);
    let conf = config.get_attr("override_special").unwrap_or(&null);
    if conf.raw_equal(state) || !conf.is_known() {
        return false;
    }
    if !conf.is_null() || state.is_null() {
        return true;
    }
    known(prior, "override_special").and_then(|v| v.as_str().map(str::to_string))
        != Some(String::new())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testkit::{create, plan, scratch_ctx, try_apply};

    fn cfg(pairs: &[(&str, Value)]) -> Value {
        crate::testkit::config(RandomString::new(true).schema(), pairs)
    }

    fn result(v: &Value) -> String {
        v.get_attr("result")
            .and_then(Value::as_str)
            .expect("result")
            .to_string()
    }

    #[test]
    fn defaults_and_unknowns_in_the_plan() {
        let r = RandomString::new(false);
        let p = plan(&r, None, &cfg(&[("length", Value::int(12))]));
        let get = |k: &str| p.planned.get_attr(k).cloned().expect(k);
        assert!(get("special").raw_equal(&Value::bool(true)));
        assert!(get("number").raw_equal(&Value::bool(true)));
        assert!(get("numeric").raw_equal(&Value::bool(true)));
        assert!(get("min_upper").raw_equal(&Value::int(0)));
        assert!(!get("result").is_known());
        assert!(!get("id").is_known());
        assert!(get("override_special").is_null());
    }

    #[test]
    fn string_result_respects_sets_and_minimums() {
        let r = RandomString::new(false);
        for _ in 0..20 {
            let v = create(
                &r,
                &cfg(&[
                    ("length", Value::int(20)),
                    ("special", Value::bool(false)),
                    ("min_upper", Value::int(5)),
                    ("min_numeric", Value::int(5)),
                ]),
            );
            let s = result(&v);
            assert_eq!(s.chars().count(), 20);
            assert!(s.chars().all(|c| c.is_ascii_alphanumeric()));
            assert!(s.chars().filter(char::is_ascii_uppercase).count() >= 5);
            assert!(s.chars().filter(char::is_ascii_digit).count() >= 5);
            assert_eq!(v.get_attr("id").and_then(Value::as_str), Some(s.as_str()));
        }
        let v = create(
            &r,
            &cfg(&[
                ("length", Value::int(30)),
                ("upper", Value::bool(false)),
                ("lower", Value::bool(false)),
                ("numeric", Value::bool(false)),
                ("override_special", Value::string("_é")),
            ]),
        );
        let s = result(&v);
        assert_eq!(s.chars().count(), 30);
        assert!(s.chars().all(|c| c == '_' || c == 'é'));
        assert!(v
            .get_attr("number")
            .expect("number")
            .raw_equal(&Value::bool(false)));
    }

    #[test]
    fn empty_character_set_fails_cleanly() {
        let r = RandomString::new(false);
        let config = cfg(&[
            ("length", Value::int(3)),
            ("upper", Value::bool(false)),
            ("lower", Value::bool(false)),
            ("numeric", Value::bool(false)),
            ("special", Value::bool(false)),
        ]);
        let p = plan(&r, None, &config);
        let ctx = scratch_ctx();
        let e = try_apply(&r, &ctx, None, Some(&p.planned), &config).expect_err("no characters");
        assert!(e.detail.contains("enable at least one"));
    }

    #[test]
    fn password_is_hashed_and_has_a_static_id() {
        let r = RandomString::new(true);
        assert!(r.schema().attrs["result"].sensitive);
        assert!(r.schema().attrs["bcrypt_hash"].sensitive);
        let v = create(&r, &cfg(&[("length", Value::int(16))]));
        assert_eq!(v.get_attr("id").and_then(Value::as_str), Some("none"));
        let hash = v
            .get_attr("bcrypt_hash")
            .and_then(Value::as_str)
            .expect("hash");
        assert!(hash.starts_with("$2a$10$"), "{hash}");
        assert_eq!(hash.len(), 60);
        assert_eq!(result(&v).chars().count(), 16);
    }

    #[test]
    fn number_and_numeric_stay_in_sync() {
        let r = RandomString::new(false);
        let p = plan(
            &r,
            None,
            &cfg(&[("length", Value::int(5)), ("number", Value::bool(false))]),
        );
        assert!(p
            .planned
            .get_attr("numeric")
            .expect("n")
            .raw_equal(&Value::bool(false)));
        let diags = r.validate(&cfg(&[
            ("length", Value::int(5)),
            ("number", Value::bool(false)),
            ("numeric", Value::bool(true)),
        ]));
        assert_eq!(diags.len(), 1);
        assert_eq!(
            diags[0].summary,
            "Number and numeric are both configured with different values"
        );
        // Removing `number = false` from the configuration plans `true`: a replacement.
        let v = create(
            &r,
            &cfg(&[("length", Value::int(5)), ("number", Value::bool(false))]),
        );
        let p = plan(&r, Some(&v), &cfg(&[("length", Value::int(5))]));
        assert!(!p.requires_replace.is_empty());
    }

    #[test]
    fn validation_of_lengths() {
        let r = RandomString::new(false);
        assert!(r.validate(&cfg(&[("length", Value::int(4))])).is_empty());
        assert_eq!(r.validate(&cfg(&[("length", Value::int(0))])).len(), 1);
        let d = r.validate(&cfg(&[
            ("length", Value::int(3)),
            ("min_upper", Value::int(2)),
            ("min_lower", Value::int(2)),
        ]));
        assert_eq!(d.len(), 1);
        assert!(d[0].detail.contains("at least sum"));
        assert_eq!(
            r.validate(&cfg(&[
                ("length", Value::int(3)),
                ("min_upper", Value::int(-1))
            ]))
            .len(),
            1
        );
        let d = r.validate(&cfg(&[
            ("length", Value::int(3)),
            ("min_upper", Value::unknown(Type::Number)),
        ]));
        assert!(d.is_empty());
        let half = Value::number(baton_eval::Number::parse("1.5").expect("n"));
        assert_eq!(r.validate(&cfg(&[("length", half)])).len(), 1);
    }

    #[test]
    fn replacement_rules() {
        let r = RandomString::new(false);
        let base = [
            ("length", Value::int(8)),
            ("override_special", Value::string("")),
        ];
        let v = create(&r, &cfg(&base));
        // Same configuration: no change at all.
        let p = plan(&r, Some(&v), &cfg(&base));
        assert!(p.requires_replace.is_empty());
        assert!(p.planned.raw_equal(&v));
        // "" to null: in place.
        let p = plan(&r, Some(&v), &cfg(&[("length", Value::int(8))]));
        assert!(p.requires_replace.is_empty());
        assert!(!p.planned.raw_equal(&v));
        // Any other change: replacement.
        for (k, val) in [
            ("length", Value::int(9)),
            ("special", Value::bool(false)),
            ("min_lower", Value::int(1)),
            ("override_special", Value::string("!")),
        ] {
            let mut c = base.to_vec();
            c.retain(|(n, _)| *n != k);
            c.push((k, val));
            let p = plan(&r, Some(&v), &cfg(&c));
            assert!(!p.requires_replace.is_empty(), "{k}");
        }
        let mut c = base.to_vec();
        c.push((
            "keepers",
            Value::map(
                Type::String,
                [("a".to_string(), Value::string("1"))]
                    .into_iter()
                    .collect(),
            ),
        ));
        assert!(!plan(&r, Some(&v), &cfg(&c)).requires_replace.is_empty());
    }

    #[test]
    fn import_round_trip() {
        let ctx = scratch_ctx();
        let r = RandomString::new(false);
        let v = r.import(&ctx, "abc-123").expect("import");
        assert_eq!(result(&v), "abc-123");
        assert_eq!(v.get_attr("id").and_then(Value::as_str), Some("abc-123"));
        assert_eq!(int_attr(&v, "length"), Some(7));
        // The imported object matches a configuration with the same length.
        let p = plan(&r, Some(&v), &cfg(&[("length", Value::int(7))]));
        assert!(p.requires_replace.is_empty());
        assert!(p.planned.raw_equal(&v));
        let r = RandomString::new(true);
        let v = r.import(&ctx, "secret").expect("import");
        assert_eq!(v.get_attr("id").and_then(Value::as_str), Some("none"));
        assert!(v
            .get_attr("bcrypt_hash")
            .and_then(Value::as_str)
            .is_some_and(|h| h.starts_with("$2a$")));
    }
}
