//! `random_id`: `byte_length` random bytes from the operating system's generator, presented
//! as unpadded URL-safe base64 (`id`, and `b64_url` with the prefix), standard base64, hex and
//! decimal. Import takes the URL-safe base64 id, optionally as `prefix,id`.

use super::{check_int, int_attr, keepers_attr, need_known, plan_random, MAX_SIZE};
use crate::schema::{Attr, Schema};
use crate::{
    ApplyRequest, AttrDiag, PlanRequest, PlanResponse, ProviderCtx, ProviderError, ResourceType,
};
use base64::engine::general_purpose::{
    GeneralPurpose, GeneralPurposeConfig, STANDARD, URL_SAFE_NO_PAD,
};
use base64::engine::DecodePaddingMode;
use base64::Engine as _;
use baton_eval::{Type, Value};
use std::collections::BTreeMap;

/// The largest `byte_length` Baton accepts (the public provider has no limit).
const MAX_BYTES: i64 = 1 << 13;

/// Go's `base64.RawURLEncoding` decoder: no padding, trailing bits ignored.
const RAW_URL_LENIENT: GeneralPurpose = GeneralPurpose::new(
    &base64::alphabet::URL_SAFE,
    GeneralPurposeConfig::new()
        .with_encode_padding(false)
        .with_decode_allow_trailing_bits(true)
        .with_decode_padding_mode(DecodePaddingMode::RequireNone),
);

pub struct RandomId {
    schema: Schema,
}

impl RandomId {
    pub fn new() -> RandomId {
        let computed = |d: &'static str| Attr::computed(Type::String).describe(d);
        RandomId {
            schema: Schema::new()
                .attr("keepers", keepers_attr())
                .attr(
                    "byte_length",
                    Attr::required(Type::Number)
                        .force_new()
                        .describe("The number of random bytes to produce. The minimum value is 1, which produces eight bits of randomness."),
                )
                .attr(
                    "prefix",
                    Attr::optional(Type::String)
                        .force_new()
                        .describe("Arbitrary string to prefix the output value with. This string is supplied as-is, meaning it is not guaranteed to be URL-safe or base64 encoded."),
                )
                .attr("b64_url", computed("The generated id presented in base64, using the URL-friendly character set: case-sensitive letters, digits and the characters `_` and `-`."))
                .attr("b64_std", computed("The generated id presented in base64 without additional transformations."))
                .attr("hex", computed("The generated id presented in padded hexadecimal digits. This result will always be twice as long as the requested byte length."))
                .attr("dec", computed("The generated id presented in non-padded decimal digits."))
                .attr("id", computed("The generated id presented in base64 without additional transformations or prefix.")),
        }
    }
}

impl Default for RandomId {
    fn default() -> Self {
        RandomId::new()
    }
}

/// The computed attributes for `bytes` with `prefix`.
fn encodings(bytes: &[u8], prefix: &str) -> BTreeMap<String, Value> {
    let id = URL_SAFE_NO_PAD.encode(bytes);
    let mut m = BTreeMap::new();
    m.insert(
        "b64_url".to_string(),
        Value::string(format!("{prefix}{id}")),
    );
    m.insert(
        "b64_std".to_string(),
        Value::string(format!("{prefix}{}", STANDARD.encode(bytes))),
    );
    m.insert(
        "hex".to_string(),
        Value::string(format!("{prefix}{}", hex::encode(bytes))),
    );
    m.insert(
        "dec".to_string(),
        Value::string(format!("{prefix}{}", big_endian_decimal(bytes))),
    );
    m.insert("id".to_string(), Value::string(id));
    m
}

/// The decimal digits of an unsigned big-endian integer (Go's `big.Int.SetBytes(b).String()`).
fn big_endian_decimal(bytes: &[u8]) -> String {
    // Base-1e9 limbs, least significant first, built by multiply-and-add per byte.
    const BASE: u64 = 1_000_000_000;
    let mut limbs: Vec<u64> = Vec::new();
    for &b in bytes {
        let mut carry = u64::from(b);
        for limb in &mut limbs {
            let v = *limb * 256 + carry;
            *limb = v % BASE;
            carry = v / BASE;
        }
        while carry > 0 {
            limbs.push(carry % BASE);
            carry /= BASE;
        }
    }
    let Some((last, rest)) = limbs.split_last() else {
        return "0".to_string();
    };
    let mut s = last.to_string();
    for limb in rest.iter().rev() {
        s.push_str(&format!("{limb:09}"));
    }
    s
}

impl ResourceType for RandomId {
    fn type_name(&self) -> &'static str {
        "random_id"
    }

    fn schema(&self) -> &Schema {
        &self.schema
    }

    fn validate(&self, config: &Value) -> Vec<AttrDiag> {
        let mut out = Vec::new();
        check_int(config, "byte_length", 0, MAX_BYTES.min(MAX_SIZE), &mut out);
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
            // Only keepers can change in place; the generated values stay.
            return Ok(Some(Value::object(state)));
        }
        let len = need_known(int_attr(planned, "byte_length"), "byte_length")?;
        let len = usize::try_from(len)
            .ok()
            .filter(|n| *n as i64 <= MAX_BYTES)
            .ok_or_else(|| {
                ProviderError::permanent(
                    "Invalid byte_length",
                    format!("byte_length must be between 0 and {MAX_BYTES}, got {len}."),
                )
                .on_attr("byte_length")
            })?;
        let mut bytes = vec![0u8; len];
        rand::fill(bytes.as_mut_slice());
        let prefix = super::str_attr(planned, "prefix").unwrap_or_default();
        state.extend(encodings(&bytes, &prefix));
        Ok(Some(Value::object(state)))
    }

    fn read(&self, _ctx: &ProviderCtx, state: &Value) -> Result<Option<Value>, ProviderError> {
        Ok(Some(state.clone()))
    }

    fn import(&self, _ctx: &ProviderCtx, id: &str) -> Result<Value, ProviderError> {
        let (prefix, b64) = match id.rfind(',') {
            Some(i) => (&id[..i], &id[i + 1..]),
            None => ("", id),
        };
        let bytes = RAW_URL_LENIENT.decode(b64).map_err(|e| {
            ProviderError::permanent(
                "Import Random ID Error",
                format!("While attempting to import a random id there was a decoding error.\n\nOriginal Error: {e}"),
            )
        })?;
        let mut m = encodings(&bytes, prefix);
        m.insert("byte_length".to_string(), Value::int(bytes.len() as i64));
        m.insert(
            "keepers".to_string(),
            Value::map(Type::String, BTreeMap::new()),
        );
        m.insert(
            "prefix".to_string(),
            if prefix.is_empty() {
                Value::null(Type::String)
            } else {
                Value::string(prefix)
            },
        );
        Ok(Value::object(m))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testkit::{apply, create, plan, scratch_ctx};

    fn config(byte_length: i64, prefix: Option<&str>, keepers: Option<&[(&str, &str)]>) -> Value {
        let mut m = BTreeMap::new();
        m.insert("byte_length".to_string(), Value::int(byte_length));
        m.insert(
            "prefix".to_string(),
            prefix.map_or_else(|| Value::null(Type::String), Value::string),
        );
        m.insert(
            "keepers".to_string(),
            keepers.map_or_else(
                || Value::null(Type::map(Type::String)),
                |k| {
                    Value::map(
                        Type::String,
                        k.iter()
                            .map(|(a, b)| (a.to_string(), Value::string(*b)))
                            .collect(),
                    )
                },
            ),
        );
        Value::object(m)
    }

    fn s(v: &Value, k: &str) -> String {
        v.get_attr(k).and_then(Value::as_str).expect(k).to_string()
    }

    #[test]
    fn plan_create_is_unknown_then_apply_fills_every_encoding() {
        let r = RandomId::new();
        let cfg = config(8, Some("p-"), None);
        let p = plan(&r, None, &cfg);
        for k in ["id", "b64_url", "b64_std", "hex", "dec"] {
            assert!(!p.planned.get_attr(k).expect(k).is_known(), "{k}");
        }
        let v = create(&r, &cfg);
        let id = s(&v, "id");
        assert_eq!(id.len(), 11);
        assert_eq!(s(&v, "b64_url"), format!("p-{id}"));
        let bytes = URL_SAFE_NO_PAD.decode(&id).expect("decode");
        assert_eq!(s(&v, "hex"), format!("p-{}", hex::encode(&bytes)));
        assert_eq!(s(&v, "b64_std"), format!("p-{}", STANDARD.encode(&bytes)));
        let dec = u64::from_be_bytes(bytes.try_into().expect("8 bytes"));
        assert_eq!(s(&v, "dec"), format!("p-{dec}"));
        // A second plan with the same configuration changes nothing.
        let p2 = plan(&r, Some(&v), &cfg);
        assert!(p2.requires_replace.is_empty());
        assert!(p2.planned.raw_equal(&v));
        assert_eq!(r.read(&scratch_ctx(), &v).expect("read"), Some(v));
    }

    #[test]
    fn changes_force_replacement_except_harmless_keepers() {
        let r = RandomId::new();
        let v = create(&r, &config(4, None, Some(&[("a", "1")])));
        assert!(!plan(&r, Some(&v), &config(5, None, Some(&[("a", "1")])))
            .requires_replace
            .is_empty());
        assert!(
            !plan(&r, Some(&v), &config(4, Some("x"), Some(&[("a", "1")])))
                .requires_replace
                .is_empty()
        );
        let p = plan(&r, Some(&v), &config(4, None, Some(&[("a", "2")])));
        assert_eq!(p.requires_replace.len(), 1);
        let v0 = create(&r, &config(4, None, Some(&[])));
        let p = plan(&r, Some(&v0), &config(4, None, None));
        assert!(p.requires_replace.is_empty());
        // The in-place update keeps the generated id.
        let after = apply(
            &r,
            &scratch_ctx(),
            Some(&v0),
            &p.planned,
            &config(4, None, None),
        );
        assert_eq!(s(&after, "id"), s(&v0, "id"));
    }

    #[test]
    fn decimal_of_big_numbers() {
        assert_eq!(big_endian_decimal(&[]), "0");
        assert_eq!(big_endian_decimal(&[0, 0]), "0");
        assert_eq!(big_endian_decimal(&[1, 0]), "256");
        assert_eq!(big_endian_decimal(&[0xff; 8]), u64::MAX.to_string());
        assert_eq!(
            big_endian_decimal(&[0xff; 16]),
            "340282366920938463463374607431768211455"
        );
        assert_eq!(big_endian_decimal(&[0x3b, 0x9a, 0xca, 0x00]), "1000000000");
    }

    #[test]
    fn import_with_and_without_prefix() {
        let r = RandomId::new();
        let ctx = scratch_ctx();
        let v = r.import(&ctx, "p-,AAECAw").expect("import");
        assert_eq!(s(&v, "id"), "AAECAw");
        assert_eq!(s(&v, "b64_url"), "p-AAECAw");
        assert_eq!(s(&v, "hex"), "p-00010203");
        assert_eq!(s(&v, "dec"), "p-66051");
        assert_eq!(s(&v, "b64_std"), "p-AAECAw==");
        assert_eq!(int_attr(&v, "byte_length"), Some(4));
        assert_eq!(s(&v, "prefix"), "p-");
        let v = r.import(&ctx, "_-8").expect("import");
        assert!(v.get_attr("prefix").expect("prefix").is_null());
        assert_eq!(s(&v, "hex"), "ffef");
        assert!(r.import(&ctx, "not base64!").is_err());
        assert!(r.import(&ctx, "AAECAw==").is_err());
    }

    #[test]
    fn validation() {
        let r = RandomId::new();
        assert!(r.validate(&config(16, None, None)).is_empty());
        assert_eq!(r.validate(&config(-1, None, None)).len(), 1);
        assert_eq!(r.validate(&config(MAX_BYTES + 1, None, None)).len(), 1);
        let mut m = super::super::super::attrs(&config(1, None, None));
        m.insert("byte_length".into(), Value::unknown(Type::Number));
        assert!(r.validate(&Value::object(m)).is_empty());
    }
}
