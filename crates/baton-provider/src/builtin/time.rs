//! The `time` provider: time_static, time_offset, time_rotating, time_sleep, with
//! hashicorp/time v0.12's schemas and planning rules.
//!
//! Timestamps are taken at apply (planned as unknown unless the configuration fixes them) and
//! kept in state; `read` returns the state unchanged, except that `time_rotating` reports its
//! object gone once the current time passes `rotation_rfc3339`, so the next plan recreates it
//! (that is how the real provider rotates). `time_sleep` sleeps on create and destroy, stopping
//! promptly when the run is cancelled or its time limit passes.
//!
//! Calendar arithmetic follows Go's `time` package exactly, including `AddDate`'s
//! normalisation of overflowing days; see [`clock`]. No time zone database: only the fixed
//! offsets RFC 3339 allows.

mod clock;
mod offset;
mod rotating;
mod sleep;
mod static_time;

use crate::registry::{ProviderInfo, Registry};
use crate::schema::{Attr, Schema};
use crate::{AttrDiag, ProviderError};
use baton_eval::{Type, Value};
use clock::Timestamp;
use std::collections::BTreeMap;
use std::sync::Arc;

/// The provider these types belong to.
pub const PROVIDER: ProviderInfo = ProviderInfo {
    name: "time",
    source: "registry.terraform.io/hashicorp/time",
};

/// Registers this provider's types.
pub fn register(r: &mut Registry) {
    r.add_resource(PROVIDER, Arc::new(static_time::TimeStatic::new()));
    r.add_resource(PROVIDER, Arc::new(offset::TimeOffset::new()));
    r.add_resource(PROVIDER, Arc::new(rotating::TimeRotating::new()));
    r.add_resource(PROVIDER, Arc::new(sleep::TimeSleep::new()));
}

/// The computed calendar attributes of a timestamp, with `unix`.
const FIELDS: [&str; 7] = ["year", "month", "day", "hour", "minute", "second", "unix"];

/// Adds the computed calendar attributes and `unix`.
fn with_fields(mut s: Schema) -> Schema {
    for f in FIELDS {
        let d = match f {
            "unix" => "Number of seconds since epoch time, e.g. `1581489373`.",
            "year" => "Number year of timestamp.",
            "month" => "Number month of timestamp.",
            "day" => "Number day of timestamp.",
            "hour" => "Number hour of timestamp.",
            "minute" => "Number minute of timestamp.",
            _ => "Number second of timestamp.",
        };
        s = s.attr(f, Attr::computed(Type::Number).describe(d));
    }
    s
}

/// `triggers`: a map whose change replaces the object.
fn triggers_attr(description: &'static str) -> Attr {
    Attr::optional(Type::map(Type::String))
        .force_new()
        .describe(description)
}

/// The calendar attributes of `ts` (in its own offset) and its Unix time.
fn fields_of(ts: &Timestamp) -> BTreeMap<String, Value> {
    let c = ts.civil();
    let mut m = BTreeMap::new();
    m.insert("year".to_string(), Value::int(c.year));
    m.insert("month".to_string(), Value::int(c.month));
    m.insert("day".to_string(), Value::int(c.day));
    m.insert("hour".to_string(), Value::int(c.hour));
    m.insert("minute".to_string(), Value::int(c.minute));
    m.insert("second".to_string(), Value::int(c.second));
    m.insert("unix".to_string(), Value::int(ts.unix()));
    m
}

/// The known value of an attribute, without marks; `None` when absent, null or unknown.
fn known(v: &Value, name: &str) -> Option<Value> {
    let x = v.get_attr(name)?.clone().unmark_deep().0;
    (x.is_known() && !x.is_null()).then_some(x)
}

fn str_attr(v: &Value, name: &str) -> Option<String> {
    known(v, name).and_then(|x| x.as_str().map(str::to_string))
}

fn int_attr(v: &Value, name: &str) -> Option<i64> {
    known(v, name).and_then(|x| x.as_number().and_then(|n| n.to_i64()))
}

/// Whether the attribute is set in the configuration (known or not).
fn is_set(v: &Value, name: &str) -> bool {
    v.get_attr(name).is_some_and(|x| !x.is_null())
}

/// A known, non-empty RFC 3339 attribute, parsed. `Ok(None)` when unset, unknown or empty.
fn timestamp_attr(
    v: &Value,
    name: &str,
    summary: &str,
) -> Result<Option<Timestamp>, ProviderError> {
    match str_attr(v, name).filter(|s| !s.is_empty()) {
        None => Ok(None),
        Some(s) => Timestamp::parse_rfc3339(&s).map(Some).map_err(|e| {
            ProviderError::permanent(
                summary,
                format!("The {name} timestamp that was supplied could not be parsed as RFC3339.\n\nOriginal Error: {e}"),
            )
            .on_attr(name)
        }),
    }
}

/// The check of terraform-plugin-framework-timetypes' `RFC3339` type.
fn check_rfc3339(config: &Value, name: &str, out: &mut Vec<AttrDiag>) {
    if let Some(s) = str_attr(config, name) {
        if let Err(e) = Timestamp::parse_rfc3339(&s) {
            out.push(AttrDiag::error(
                Some(name),
                "Invalid RFC3339 String Value",
                format!("A string value was provided that is not valid RFC3339 string format.\n\nGiven Value: {s}\nError: {e}"),
            ));
        }
    }
}

/// Checks that a configured number attribute is a whole number of at least `min`.
fn check_int(config: &Value, name: &str, min: i64, out: &mut Vec<AttrDiag>) {
    let Some(n) = known(config, name).and_then(|v| v.as_number().cloned()) else {
        return;
    };
    match n.to_i64() {
        None => out.push(AttrDiag::error(
            Some(name),
            "Invalid attribute value",
            format!("Attribute {name} must be a whole number, got: {n}."),
        )),
        Some(i) if i < min => out.push(AttrDiag::error(
            Some(name),
            "Invalid Attribute Value",
            format!("Attribute {name} value must be at least {min}, got: {i}"),
        )),
        Some(_) => {}
    }
}

/// The framework's `AtLeastOneOf`: one of `names` must be set (an unknown value counts).
fn at_least_one_of(config: &Value, names: &[&str], out: &mut Vec<AttrDiag>) {
    if !names.iter().any(|n| is_set(config, n)) {
        out.push(AttrDiag::error(
            None,
            "Invalid Attribute Combination",
            format!(
                "At least one attribute out of [{}] must be specified",
                names.join(",")
            ),
        ));
    }
}

/// A failure of date arithmetic (offsets so large the result leaves the calendar).
fn out_of_range(what: &str) -> ProviderError {
    ProviderError::permanent(
        "Time out of range",
        format!("The {what} timestamp is outside the representable range of years."),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fields_in_the_timestamps_offset() {
        let ts = Timestamp::parse_rfc3339("2020-02-12T23:36:13-05:00").expect("ts");
        let f = fields_of(&ts);
        assert!(f["day"].raw_equal(&Value::int(12)));
        assert!(f["hour"].raw_equal(&Value::int(23)));
        assert!(f["unix"].raw_equal(&Value::int(1_581_568_573)));
        let mut out = Vec::new();
        let cfg = Value::object(
            [("rfc3339".to_string(), Value::string("nope"))]
                .into_iter()
                .collect(),
        );
        check_rfc3339(&cfg, "rfc3339", &mut out);
        assert_eq!(out.len(), 1);
        assert_eq!(out[0].summary, "Invalid RFC3339 String Value");
        let mut out = Vec::new();
        at_least_one_of(&cfg, &["a", "b"], &mut out);
        assert_eq!(
            out[0].detail,
            "At least one attribute out of [a,b] must be specified"
        );
    }
}
