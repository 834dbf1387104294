//! `count` and `for_each`: evaluating them into instance keys with Terraform's rules and
//! errors (whole non-negative counts; maps or sets of strings; nothing unknown or sensitive).

use baton_config::Expr;
use baton_core::{Diagnostic, InstanceKey};
use baton_eval::convert::convert;
use baton_eval::{Evaluator, Kind, Type, Value};

use crate::values::Repetition;

/// The instances of a repeated block: keys with, for `for_each`, each value.
pub struct Expansion {
    pub repetition: Repetition,
    pub keys: Vec<(Option<InstanceKey>, Option<Value>)>,
}

impl Expansion {
    pub fn single() -> Expansion {
        Expansion {
            repetition: Repetition::Single,
            keys: vec![(None, None)],
        }
    }
}

/// Evaluates `count` / `for_each` (at most one is set). `allow_unknown` (for `validate`)
/// turns an unknown into a single placeholder instance instead of an error.
pub fn expand(
    ev: &mut Evaluator<'_>,
    count: Option<&Expr>,
    for_each: Option<&Expr>,
    allow_unknown: bool,
) -> Result<Option<Expansion>, Diagnostic> {
    if let Some(c) = count {
        // Terraform accepts a sensitive count: the number of instances is not secret.
        let v = ev.eval(c)?.unmark_deep().0;
        if v.is_null() {
            return Err(Diagnostic::error(
                "Invalid count argument",
                "The given \"count\" argument value is null. An integer is required.",
            )
            .at(c.span));
        }
        if !v.is_known() {
            if allow_unknown {
                return Ok(None);
            }
            return Err(Diagnostic::error(
                "Invalid count argument",
                "The \"count\" value depends on resource attributes that cannot be determined until apply, so Baton cannot predict how many instances will be created. To work around this, use --target to first apply only the resources that the count depends on.",
            )
            .at(c.span));
        }
        let n = convert(&v, &Type::Number)
            .ok()
            .and_then(|n| n.as_number().cloned())
            .ok_or_else(|| {
                Diagnostic::error(
                    "Invalid count argument",
                    format!("The given \"count\" argument value is unsuitable: a number is required, not {}.", v.ty().friendly_name()),
                )
                .at(c.span)
            })?;
        let i = n.to_i64().filter(|_| n.is_integer()).ok_or_else(|| {
            Diagnostic::error(
                "Invalid count argument",
                "The given \"count\" argument value is unsuitable: the value must be a whole number.",
            )
            .at(c.span)
        })?;
        if i < 0 {
            return Err(Diagnostic::error(
                "Invalid count argument",
                "The given \"count\" argument value is unsuitable: must be greater than or equal to zero.",
            )
            .at(c.span));
        }
        return Ok(Some(Expansion {
            repetition: Repetition::Count,
            keys: (0..i).map(|k| (Some(InstanceKey::Int(k)), None)).collect(),
        }));
    }
    let Some(fe) = for_each else {
        return Ok(Some(Expansion::single()));
    };
    let v = ev.eval(fe)?;
    let bad = |detail: String| Diagnostic::error("Invalid for_each argument", detail).at(fe.span);
    if v.contains_sensitive() {
        return Err(bad("Sensitive values, or values derived from sensitive values, cannot be used as for_each arguments. If used, the sensitive value could be exposed as a resource instance key.".into()));
    }
    if v.is_null() {
        return Err(bad("The given \"for_each\" argument value is unsuitable: the given \"for_each\" argument value is null. A map, or set of strings is allowed.".into()));
    }
    if !v.is_known() {
        if allow_unknown {
            return Ok(None);
        }
        return Err(bad("The \"for_each\" value depends on resource attributes that cannot be determined until apply, so Baton cannot predict how many instances will be created. To work around this, use --target to first apply only the resources that the for_each depends on.".into()));
    }
    let mut keys = Vec::new();
    match v.kind() {
        Kind::Map(_, items) | Kind::Object(items) => {
            for (k, x) in items.iter() {
                keys.push((Some(InstanceKey::Str(k.clone())), Some(x.clone())));
            }
        }
        Kind::Set(et, items) => {
            if *et != Type::String && !(items.is_empty() && *et == Type::Dynamic) {
                return Err(bad(format!(
                    "The given \"for_each\" argument value is unsuitable: the \"for_each\" argument must be a map, or set of strings, and you have provided a value of type {}.",
                    v.ty().friendly_name()
                )));
            }
            for x in items.iter() {
                if x.is_null() {
                    return Err(bad("The given \"for_each\" argument value is unsuitable: \"for_each\" sets must not contain null values.".into()));
                }
                if !x.is_known() {
                    if allow_unknown {
                        return Ok(None);
                    }
                    return Err(bad("The \"for_each\" set includes values derived from resource attributes that cannot be determined until apply, so Baton cannot determine the full set of keys that will identify the instances of this resource.".into()));
                }
                let s = x.as_str().unwrap_or_default().to_string();
                keys.push((Some(InstanceKey::Str(s)), Some(x.clone())));
            }
        }
        _ => {
            return Err(bad(format!(
                "The given \"for_each\" argument value is unsuitable: the \"for_each\" argument must be a map, or set of strings, and you have provided a value of type {}.",
                v.ty().friendly_name()
            )))
        }
    }
    Ok(Some(Expansion {
        repetition: Repetition::ForEach,
        keys,
    }))
}

/// `each.key` / `each.value` for an instance key.
pub fn each_values(key: &Option<InstanceKey>, value: &Option<Value>) -> Option<(Value, Value)> {
    match key {
        Some(InstanceKey::Str(s)) => Some((
            Value::string(s.as_str()),
            value.clone().unwrap_or_else(|| Value::string(s.as_str())),
        )),
        _ => None,
    }
}

/// `count.index` for an instance key.
pub fn count_index(key: &Option<InstanceKey>) -> Option<Value> {
    match key {
        Some(InstanceKey::Int(i)) => Some(Value::int(*i)),
        _ => None,
    }
}

/// `count.index` and `each.*` of the one placeholder instance that `validate` checks for a
/// block whose `count` or `for_each` is not known: unknown values of the types Terraform's
/// validate walk gives them, so the body is checked rather than rejected.
pub fn placeholder_repeat(
    counted: bool,
    for_each: bool,
) -> (Option<Value>, Option<(Value, Value)>) {
    let count = counted.then(|| Value::unknown(Type::Number));
    let each = for_each.then(|| (Value::unknown(Type::String), Value::unknown(Type::Dynamic)));
    (count, each)
}
