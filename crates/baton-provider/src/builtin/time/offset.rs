//! `time_offset`: a base timestamp (`base_rfc3339`, or the current UTC time at apply) and a
//! timestamp offset from it. Changing an offset or the base is an in-place update; `triggers`
//! replace. Import takes `BASE,YEARS,MONTHS,DAYS,HOURS,MINUTES,SECONDS`.
//!
//! As in hashicorp/time (every version through v0.12), the offsets are not cumulative: each
//! non-zero offset is applied to the base on its own, in the order days, hours, minutes,
//! months, seconds, years, and the last one wins. `id` is the base timestamp.

use super::clock::Timestamp;
use super::{
    at_least_one_of, check_int, fields_of, int_attr, out_of_range, str_attr, timestamp_attr,
    triggers_attr, with_fields, FIELDS,
};
use crate::plan::default_plan;
use crate::schema::{Attr, Schema};
use crate::{
    ApplyRequest, AttrDiag, PlanRequest, PlanResponse, ProviderCtx, ProviderError, ResourceType,
};
use baton_eval::{Type, Value};
use std::collections::BTreeMap;

/// The offset arguments, in the order the provider applies them.
const OFFSETS: [&str; 6] = [
    "offset_days",
    "offset_hours",
    "offset_minutes",
    "offset_months",
    "offset_seconds",
    "offset_years",
];

const NANOS_PER_SEC: i128 = 1_000_000_000;

pub struct TimeOffset {
    schema: Schema,
}

impl TimeOffset {
    pub fn new() -> TimeOffset {
        let mut s = with_fields(Schema::new())
            .attr(
                "base_rfc3339",
                Attr::optional_computed(Type::String).describe("Base timestamp in RFC3339 format (see RFC3339 time string e.g., `YYYY-MM-DDTHH:MM:SSZ`). Defaults to the current time."),
            )
            .attr(
                "triggers",
                triggers_attr("Arbitrary map of values that, when changed, will trigger a new base timestamp value to be saved. See the main provider documentation for more information."),
            )
            .attr(
                "rfc3339",
                Attr::computed(Type::String).describe("RFC3339 format of the offset timestamp, e.g. `2020-02-12T06:36:13Z`."),
            )
            .attr(
                "id",
                Attr::computed(Type::String).describe("RFC3339 format of the timestamp, e.g. `2020-02-12T06:36:13Z`."),
            );
        for o in OFFSETS {
            s = s.attr(
                o,
                Attr::optional(Type::Number).describe("Number to offset the base timestamp by. At least one of the 'offset_' arguments must be configured."),
            );
        }
        TimeOffset { schema: s }
    }
}

impl Default for TimeOffset {
    fn default() -> Self {
        TimeOffset::new()
    }
}

/// The provider's `setOffsetValues`: the computed attributes for `base` and the offsets in
/// `v`. `base_text` is what `base_rfc3339` holds.
fn offset_values(
    v: &Value,
    base: &Timestamp,
    base_text: String,
) -> Result<BTreeMap<String, Value>, ProviderError> {
    let n = |name: &str| int_attr(v, name).unwrap_or(0);
    let secs = |k: i64, unit: i128| base.add_nanos(i128::from(k) * unit * NANOS_PER_SEC);
    let mut out = Timestamp::zero();
    for o in OFFSETS {
        let k = n(o);
        if k == 0 {
            continue;
        }
        let t = match o {
            "offset_days" => base.add_date(0, 0, k),
            "offset_hours" => secs(k, 3600),
            "offset_minutes" => secs(k, 60),
            "offset_months" => base.add_date(0, k, 0),
            "offset_seconds" => secs(k, 1),
            _ => base.add_date(k, 0, 0),
        };
        out = t.ok_or_else(|| out_of_range("offset"))?;
    }
    let mut m = fields_of(&out);
    m.insert("rfc3339".into(), Value::string(out.rfc3339()));
    m.insert("base_rfc3339".into(), Value::string(base_text));
    m.insert("id".into(), Value::string(base.rfc3339()));
    Ok(m)
}

impl ResourceType for TimeOffset {
    fn type_name(&self) -> &'static str {
        "time_offset"
    }

    fn schema(&self) -> &Schema {
        &self.schema
    }

    fn validate(&self, config: &Value) -> Vec<AttrDiag> {
        let mut out = Vec::new();
        at_least_one_of(config, &OFFSETS, &mut out);
        for o in OFFSETS {
            check_int(config, o, i64::MIN, &mut out);
        }
        super::check_rfc3339(config, "base_rfc3339", &mut out);
        out
    }

    fn plan(&self, req: PlanRequest<'_>) -> Result<PlanResponse, ProviderError> {
        let mut resp = default_plan(&self.schema, &req);
        let Some(prior) = req.prior else {
            return Ok(resp);
        };
        if !resp.requires_replace.is_empty() || !resp.planned.is_known() {
            return Ok(resp);
        }
        let mut m = super::super::attrs(&resp.planned);
        let changed = |k: &str| match (m.get(k), prior.get_attr(k)) {
            (Some(a), Some(b)) => !a.raw_equal(b),
            (a, b) => a.is_some() != b.is_some(),
        };
        let offsets_changed = OFFSETS.iter().any(|o| changed(o));
        let base_changed = changed("base_rfc3339");
        let base_known = m.get("base_rfc3339").is_some_and(Value::is_known);
        if offsets_changed
            && base_known
            && OFFSETS
                .iter()
                .all(|o| m.get(*o).is_some_and(Value::is_known))
        {
            // The provider's ModifyPlan shows the new values.
            let planned = Value::object(m.clone());
            if let Some(base) =
                timestamp_attr(&planned, "base_rfc3339", "Update time offset error")?
            {
                let text = str_attr(&planned, "base_rfc3339").unwrap_or_else(|| base.rfc3339());
                m.extend(offset_values(&planned, &base, text)?);
            }
        } else if offsets_changed || base_changed {
            for k in FIELDS.iter().chain(&["rfc3339", "id"]) {
                m.insert(
                    (*k).to_string(),
                    Value::unknown(self.schema.attrs[*k].ty.clone()),
                );
            }
        }
        resp.planned = Value::object(m);
        Ok(resp)
    }

    fn apply(&self, req: ApplyRequest<'_>) -> Result<Option<Value>, ProviderError> {
        let Some(planned) = req.planned else {
            return Ok(None);
        };
        let mut state = super::super::attrs(planned);
        let summary = if req.prior.is_some() {
            "Update time offset error"
        } else {
            "Create time offset error"
        };
        let (base, text) = match timestamp_attr(planned, "base_rfc3339", summary)? {
            Some(ts) => (
                ts,
                str_attr(planned, "base_rfc3339").unwrap_or_else(|| ts.rfc3339()),
            ),
            None => {
                let now = Timestamp::now_utc();
                (now, now.rfc3339())
            }
        };
        state.extend(offset_values(planned, &base, text)?);
        Ok(Some(Value::object(state)))
    }

    fn read(&self, _ctx: &ProviderCtx, state: &Value) -> Result<Option<Value>, ProviderError> {
        Ok(Some(state.clone()))
    }

    fn import(&self, _ctx: &ProviderCtx, id: &str) -> Result<Value, ProviderError> {
        let parts: Vec<&str> = id.split(',').collect();
        let format_err = |extra: &str| {
            ProviderError::permanent(
                "Unexpected Format of ID",
                format!("Unexpected format of ID ({id:?}), expected BASETIMESTAMP,YEARS,MONTHS,DAYS,HOURS,MINUTES,SECONDS{extra}"),
            )
        };
        if parts.len() != 7 {
            return Err(format_err(""));
        }
        if parts[0].is_empty() || parts[1..].iter().all(|p| p.is_empty()) {
            return Err(format_err(" where at least one offset value is non-empty"));
        }
        let mut m = BTreeMap::new();
        // The ID lists years first; OFFSETS is in application order.
        let names = [
            "offset_years",
            "offset_months",
            "offset_days",
            "offset_hours",
            "offset_minutes",
            "offset_seconds",
        ];
        for (name, part) in names.iter().zip(&parts[1..]) {
            let v = if part.is_empty() {
                Value::null(Type::Number)
            } else {
                Value::int(part.parse::<i64>().map_err(|e| {
                    ProviderError::permanent(
                        "Import time offset error",
                        format!("The {name} parameter that was supplied could not be parsed as Int64.\n\nOriginal Error: could not parse offset ({part:?}) as int: {e}"),
                    )
                })?)
            };
            m.insert((*name).to_string(), v);
        }
        let base = Timestamp::parse_rfc3339(parts[0]).map_err(|e| {
            ProviderError::permanent(
                "Create time offset error",
                format!("The base_rfc3339 timestamp that was supplied could not be parsed as RFC3339.\n\nOriginal Error: {e}"),
            )
        })?;
        let offsets = Value::object(m.clone());
        m.extend(offset_values(&offsets, &base, base.rfc3339())?);
        m.insert("triggers".into(), Value::null(Type::map(Type::String)));
        Ok(Value::object(m))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testkit::{apply, plan, scratch_ctx, try_apply};

    fn cfg(base: Option<&str>, offsets: &[(&str, i64)]) -> Value {
        let mut m: BTreeMap<String, Value> = OFFSETS
            .iter()
            .map(|o| (o.to_string(), Value::null(Type::Number)))
            .collect();
        for (k, v) in offsets {
            m.insert(k.to_string(), Value::int(*v));
        }
        m.insert(
            "base_rfc3339".to_string(),
            base.map_or_else(|| Value::null(Type::String), Value::string),
        );
        m.insert("triggers".to_string(), Value::null(Type::map(Type::String)));
        Value::object(m)
    }

    fn s(v: &Value, k: &str) -> String {
        v.get_attr(k).and_then(Value::as_str).expect(k).to_string()
    }

    #[test]
    fn create_with_base_and_months() {
        let r = TimeOffset::new();
        let config = cfg(Some("2021-01-31T10:00:00Z"), &[("offset_months", 1)]);
        let p = plan(&r, None, &config);
        assert!(!p.planned.get_attr("rfc3339").expect("r").is_known());
        let v = apply(&r, &scratch_ctx(), None, &p.planned, &config);
        assert_eq!(s(&v, "rfc3339"), "2021-03-03T10:00:00Z");
        assert_eq!(s(&v, "id"), "2021-01-31T10:00:00Z");
        assert_eq!(s(&v, "base_rfc3339"), "2021-01-31T10:00:00Z");
        assert!(v.get_attr("month").expect("m").raw_equal(&Value::int(3)));
        assert!(v.get_attr("day").expect("d").raw_equal(&Value::int(3)));
        let p = plan(&r, Some(&v), &config);
        assert!(p.planned.raw_equal(&v));
        assert!(p.requires_replace.is_empty());
    }

    #[test]
    fn offsets_are_not_cumulative_like_the_provider() {
        let r = TimeOffset::new();
        let config = cfg(
            Some("2020-01-01T00:00:00Z"),
            &[("offset_days", 1), ("offset_hours", 2), ("offset_years", 3)],
        );
        let v = apply(
            &r,
            &scratch_ctx(),
            None,
            &plan(&r, None, &config).planned,
            &config,
        );
        assert_eq!(s(&v, "rfc3339"), "2023-01-01T00:00:00Z");
        let config = cfg(
            Some("2020-01-01T00:00:00Z"),
            &[("offset_days", 1), ("offset_hours", 2)],
        );
        let v = apply(
            &r,
            &scratch_ctx(),
            None,
            &plan(&r, None, &config).planned,
            &config,
        );
        assert_eq!(s(&v, "rfc3339"), "2020-01-01T02:00:00Z");
        // Only zero offsets: Go's zero time.
        let config = cfg(Some("2020-01-01T00:00:00Z"), &[("offset_days", 0)]);
        let v = apply(
            &r,
            &scratch_ctx(),
            None,
            &plan(&r, None, &config).planned,
            &config,
        );
        assert_eq!(s(&v, "rfc3339"), "0001-01-01T00:00:00Z");
    }

    #[test]
    fn updates_in_place_and_replacement() {
        let r = TimeOffset::new();
        let config = cfg(None, &[("offset_minutes", 10)]);
        let v = apply(
            &r,
            &scratch_ctx(),
            None,
            &plan(&r, None, &config).planned,
            &config,
        );
        let base = Timestamp::parse_rfc3339(&s(&v, "base_rfc3339")).expect("base");
        assert_eq!(
            s(&v, "rfc3339"),
            base.add_nanos(600 * NANOS_PER_SEC).expect("ok").rfc3339()
        );
        // A new offset is planned with its values, in place, from the stored base.
        let config2 = cfg(None, &[("offset_minutes", 20)]);
        let p = plan(&r, Some(&v), &config2);
        assert!(p.requires_replace.is_empty());
        assert_eq!(
            s(&p.planned, "rfc3339"),
            base.add_nanos(1200 * NANOS_PER_SEC).expect("ok").rfc3339()
        );
        let v2 = apply(&r, &scratch_ctx(), Some(&v), &p.planned, &config2);
        assert_eq!(s(&v2, "base_rfc3339"), s(&v, "base_rfc3339"));
        // A new base: in place, values known after apply.
        let config3 = cfg(Some("2000-01-01T00:00:00Z"), &[("offset_minutes", 20)]);
        let p = plan(&r, Some(&v2), &config3);
        assert!(p.requires_replace.is_empty());
        assert!(!p.planned.get_attr("rfc3339").expect("r").is_known());
        let v3 = apply(&r, &scratch_ctx(), Some(&v2), &p.planned, &config3);
        assert_eq!(s(&v3, "rfc3339"), "2000-01-01T00:20:00Z");
        // Triggers replace.
        let mut m = super::super::super::attrs(&config3);
        m.insert(
            "triggers".into(),
            Value::map(
                Type::String,
                [("k".to_string(), Value::string("v"))]
                    .into_iter()
                    .collect(),
            ),
        );
        assert!(!plan(&r, Some(&v3), &Value::object(m))
            .requires_replace
            .is_empty());
    }

    #[test]
    fn validation_and_import() {
        let r = TimeOffset::new();
        let d = r.validate(&cfg(None, &[]));
        assert_eq!(d.len(), 1);
        assert_eq!(d[0].summary, "Invalid Attribute Combination");
        assert!(r.validate(&cfg(None, &[("offset_days", -3)])).is_empty());
        assert_eq!(
            r.validate(&cfg(Some("bad"), &[("offset_days", 1)])).len(),
            1
        );
        let ctx = scratch_ctx();
        let v = r
            .import(&ctx, "2020-01-01T00:00:00Z,,,5,,,")
            .expect("import");
        assert_eq!(s(&v, "rfc3339"), "2020-01-06T00:00:00Z");
        assert!(v
            .get_attr("offset_days")
            .expect("d")
            .raw_equal(&Value::int(5)));
        assert!(v.get_attr("offset_years").expect("y").is_null());
        let p = plan(
            &r,
            Some(&v),
            &cfg(Some("2020-01-01T00:00:00Z"), &[("offset_days", 5)]),
        );
        assert!(p.requires_replace.is_empty());
        assert!(p.planned.raw_equal(&v));
        assert!(r.import(&ctx, "2020-01-01T00:00:00Z,,,,,,").is_err());
        assert!(r.import(&ctx, "2020-01-01T00:00:00Z,1").is_err());
        assert!(r.import(&ctx, "2020-01-01T00:00:00Z,x,,,,,").is_err());
        assert!(r.import(&ctx, "nope,1,,,,,").is_err());
    }

    #[test]
    fn huge_offsets_fail_cleanly() {
        let r = TimeOffset::new();
        let config = cfg(Some("2020-01-01T00:00:00Z"), &[("offset_years", i64::MAX)]);
        let p = plan(&r, None, &config);
        let ctx = scratch_ctx();
        let e = try_apply(&r, &ctx, None, Some(&p.planned), &config).expect_err("out of range");
        assert_eq!(e.summary, "Time out of range");
    }
}
