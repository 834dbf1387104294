//! `time_rotating`: a base timestamp (`rfc3339`, or the current UTC time at apply) and a
//! rotation timestamp after it (`rotation_rfc3339`, or the base plus `rotation_*`). Once the
//! current time passes the rotation timestamp, `read` reports the object gone, so the next
//! plan creates a new one with a new base: that is the rotation. The calendar fields and
//! `unix` describe the rotation timestamp; `rfc3339` and `id` the base.
//!
//! As in hashicorp/time, the rotation arguments are not cumulative (the last non-zero one in
//! the order days, hours, minutes, months, rfc3339, years wins); changing them is an in-place
//! update unless the stored rotation time has already passed. `triggers` and `rfc3339`
//! replace. Import takes `BASE,ROTATION` or `BASE,YEARS,MONTHS,DAYS,HOURS,MINUTES`.

use super::clock::Timestamp;
use super::{
    at_least_one_of, check_int, check_rfc3339, fields_of, int_attr, out_of_range, str_attr,
    timestamp_attr, triggers_attr, with_fields, FIELDS,
};
use crate::plan::default_plan;
use crate::schema::{Attr, Schema};
use crate::{
    ApplyRequest, AttrDiag, PlanRequest, PlanResponse, ProviderCtx, ProviderError, ResourceType,
};
use baton_eval::{PathStep, Type, Value};
use std::collections::BTreeMap;

/// The whole-number rotation arguments, in the order the provider applies them (with
/// `rotation_rfc3339` between months and years).
const ROTATIONS: [&str; 5] = [
    "rotation_days",
    "rotation_hours",
    "rotation_minutes",
    "rotation_months",
    "rotation_years",
];

const NANOS_PER_SEC: i128 = 1_000_000_000;

pub struct TimeRotating {
    schema: Schema,
}

impl TimeRotating {
    pub fn new() -> TimeRotating {
        let mut s = with_fields(Schema::new())
            .attr(
                "rotation_rfc3339",
                Attr::optional_computed(Type::String).describe("Configure the rotation timestamp with an RFC3339 format of the offset timestamp. When the current time has passed the rotation timestamp, the resource will trigger recreation. At least one of the 'rotation_' arguments must be configured."),
            )
            .attr(
                "triggers",
                triggers_attr("Arbitrary map of values that, when changed, will trigger a new base timestamp value to be saved. These conditions recreate the resource in addition to other rotation arguments. See the main provider documentation for more information."),
            )
            .attr(
                "rfc3339",
                Attr::optional_computed(Type::String)
                    .force_new()
                    .describe("Base timestamp in RFC3339 format (see RFC3339 time string e.g., `YYYY-MM-DDTHH:MM:SSZ`). Defaults to the current time."),
            )
            .attr(
                "id",
                Attr::computed(Type::String).describe("RFC3339 format of the timestamp, e.g. `2020-02-12T06:36:13Z`."),
            );
        for r in ROTATIONS {
            s = s.attr(
                r,
                Attr::optional(Type::Number).describe("Number to add to the base timestamp to configure the rotation timestamp. When the current time has passed the rotation timestamp, the resource will trigger recreation. At least one of the 'rotation_' arguments must be configured."),
            );
        }
        TimeRotating { schema: s }
    }
}

impl Default for TimeRotating {
    fn default() -> Self {
        TimeRotating::new()
    }
}

/// The provider's `setRotationValues`: the computed attributes for `base`, the rotation
/// arguments in `v` and an explicit rotation timestamp (`rotation`, when known and set).
fn rotation_values(
    v: &Value,
    base: &Timestamp,
    base_text: String,
    rotation: Option<(Timestamp, String)>,
) -> Result<BTreeMap<String, Value>, ProviderError> {
    let n = |name: &str| int_attr(v, name).unwrap_or(0);
    let secs = |k: i64, unit: i128| base.add_nanos(i128::from(k) * unit * NANOS_PER_SEC);
    let mut rot = Timestamp::zero();
    let mut rot_text = None;
    for r in ROTATIONS {
        let k = n(r);
        if r == "rotation_years" {
            if let Some((ts, text)) = &rotation {
                rot = *ts;
                rot_text = Some(text.clone());
            }
        }
        if k == 0 {
            continue;
        }
        let t = match r {
            "rotation_days" => base.add_date(0, 0, k),
            "rotation_hours" => secs(k, 3600),
            "rotation_minutes" => secs(k, 60),
            "rotation_months" => base.add_date(0, k, 0),
            _ => base.add_date(k, 0, 0),
        };
        rot = t.ok_or_else(|| out_of_range("rotation"))?;
        rot_text = None;
    }
    let mut m = fields_of(&rot);
    m.insert(
        "rotation_rfc3339".into(),
        Value::string(rot_text.unwrap_or_else(|| rot.rfc3339())),
    );
    m.insert("rfc3339".into(), Value::string(base_text));
    m.insert("id".into(), Value::string(base.rfc3339()));
    Ok(m)
}

/// The explicit rotation timestamp in `v`, parsed, with its text.
fn explicit_rotation(
    v: &Value,
    summary: &str,
) -> Result<Option<(Timestamp, String)>, ProviderError> {
    Ok(timestamp_attr(v, "rotation_rfc3339", summary)?.map(|ts| {
        (
            ts,
            str_attr(v, "rotation_rfc3339").unwrap_or_else(|| ts.rfc3339()),
        )
    }))
}

impl ResourceType for TimeRotating {
    fn type_name(&self) -> &'static str {
        "time_rotating"
    }

    fn schema(&self) -> &Schema {
        &self.schema
    }

    fn validate(&self, config: &Value) -> Vec<AttrDiag> {
        let mut out = Vec::new();
        let mut all: Vec<&str> = ROTATIONS.to_vec();
        all.push("rotation_rfc3339");
        at_least_one_of(config, &all, &mut out);
        for r in ROTATIONS {
            check_int(config, r, 1, &mut out);
        }
        check_rfc3339(config, "rfc3339", &mut out);
        check_rfc3339(config, "rotation_rfc3339", &mut out);
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
        let ints_changed = ROTATIONS.iter().any(|r| changed(r));
        let null = Value::null(Type::String);
        let conf_rot = req.config.get_attr("rotation_rfc3339").unwrap_or(&null);
        let rot_changed = !conf_rot.is_null() && changed("rotation_rfc3339");
        if !(ints_changed || rot_changed) {
            return Ok(resp);
        }
        // The provider's ReplaceIfOutdated on rotation_rfc3339: an object whose rotation time
        // has passed is replaced rather than updated.
        if let Some(stored) = timestamp_attr(
            prior,
            "rotation_rfc3339",
            "replaceIfOutdated plan modifier error",
        )? {
            if Timestamp::now_utc().is_after(&stored) {
                resp.requires_replace
                    .push(vec![PathStep::Key("rotation_rfc3339".into())]);
                return Ok(resp);
            }
        }
        // ModifyPlan: show the new rotation when everything it depends on is known.
        let planned = Value::object(m.clone());
        let all_known = ROTATIONS
            .iter()
            .all(|r| m.get(*r).is_some_and(Value::is_known))
            && conf_rot.is_known()
            && m.get("rfc3339").is_some_and(Value::is_known);
        let base = timestamp_attr(&planned, "rfc3339", "Update time rotating error")?;
        match base {
            Some(base) if all_known => {
                let text = str_attr(&planned, "rfc3339").unwrap_or_else(|| base.rfc3339());
                let explicit = explicit_rotation(req.config, "Update time rotating error")?;
                m.extend(rotation_values(&planned, &base, text, explicit)?);
            }
            _ => {
                for k in FIELDS.iter().chain(&["id"]) {
                    m.insert(
                        (*k).to_string(),
                        Value::unknown(self.schema.attrs[*k].ty.clone()),
                    );
                }
                if conf_rot.is_null() {
                    m.insert("rotation_rfc3339".into(), Value::unknown(Type::String));
                }
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
            "Update time rotating error"
        } else {
            "Create time rotating error"
        };
        let (base, text) = match timestamp_attr(planned, "rfc3339", summary)? {
            Some(ts) => (
                ts,
                str_attr(planned, "rfc3339").unwrap_or_else(|| ts.rfc3339()),
            ),
            None => {
                let now = Timestamp::now_utc();
                (now, now.rfc3339())
            }
        };
        let explicit = explicit_rotation(planned, summary)?;
        state.extend(rotation_values(planned, &base, text, explicit)?);
        Ok(Some(Value::object(state)))
    }

    fn read(&self, _ctx: &ProviderCtx, state: &Value) -> Result<Option<Value>, ProviderError> {
        if let Some(rotation) =
            timestamp_attr(state, "rotation_rfc3339", "Read time rotating error")?
        {
            if Timestamp::now_utc().is_after(&rotation) {
                return Ok(None);
            }
        }
        Ok(Some(state.clone()))
    }

    fn import(&self, _ctx: &ProviderCtx, id: &str) -> Result<Value, ProviderError> {
        let parts: Vec<&str> = id.split(',').collect();
        let format_err = |expected: &str| {
            ProviderError::permanent(
                "Unexpected Format of ID",
                format!("Unexpected format of ID ({id:?}), expected {expected}"),
            )
        };
        let parse_ts = |s: &str| {
            Timestamp::parse_rfc3339(s).map_err(|e| {
                ProviderError::permanent(
                    "Import time rotating error",
                    format!("The timestamp that was supplied could not be parsed as RFC3339.\n\nOriginal Error: {e}"),
                )
            })
        };
        let mut m: BTreeMap<String, Value> = ROTATIONS
            .iter()
            .map(|r| (r.to_string(), Value::null(Type::Number)))
            .collect();
        match parts.len() {
            2 => {
                if parts.iter().any(|p| p.is_empty()) {
                    return Err(format_err("BASETIMESTAMP,ROTATIONTIMESTAMP"));
                }
                let base = parse_ts(parts[0])?;
                let rot = parse_ts(parts[1])?;
                let v = Value::object(m.clone());
                m.extend(rotation_values(
                    &v,
                    &base,
                    base.rfc3339(),
                    Some((rot, rot.rfc3339())),
                )?);
            }
            6 => {
                if parts[0].is_empty() || parts[1..].iter().all(|p| p.is_empty()) {
                    return Err(format_err("BASETIMESTAMP,YEARS,MONTHS,DAYS,HOURS,MINUTES where at least one rotation value is non-empty"));
                }
                let names = [
                    "rotation_years",
                    "rotation_months",
                    "rotation_days",
                    "rotation_hours",
                    "rotation_minutes",
                ];
                for (name, part) in names.iter().zip(&parts[1..]) {
                    if !part.is_empty() {
                        let n = part.parse::<i64>().map_err(|e| {
                            ProviderError::permanent(
                                "Import time rotating error",
                                format!("The parameter that was supplied could not be parsed.\n\nOriginal Error: could not parse rotation ({part:?}) as int: {e}"),
                            )
                        })?;
                        m.insert((*name).to_string(), Value::int(n));
                    }
                }
                let base = parse_ts(parts[0])?;
                // The provider ignores non-positive values here.
                let positive: BTreeMap<String, Value> = m
                    .iter()
                    .map(|(k, v)| {
                        let keep = v
                            .as_number()
                            .and_then(|n| n.to_i64())
                            .is_some_and(|n| n > 0);
                        (
                            k.clone(),
                            if keep {
                                v.clone()
                            } else {
                                Value::null(Type::Number)
                            },
                        )
                    })
                    .collect();
                m.extend(rotation_values(
                    &Value::object(positive),
                    &base,
                    base.rfc3339(),
                    None,
                )?);
            }
            _ => return Err(format_err(
                "BASETIMESTAMP,YEARS,MONTHS,DAYS,HOURS,MINUTES or BASETIMESTAMP,ROTATIONTIMESTAMP",
            )),
        }
        m.insert("triggers".into(), Value::null(Type::map(Type::String)));
        Ok(Value::object(m))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testkit::{apply, plan, scratch_ctx};

    fn cfg(base: Option<&str>, rotation: Option<&str>, ints: &[(&str, i64)]) -> Value {
        let mut m: BTreeMap<String, Value> = ROTATIONS
            .iter()
            .map(|r| (r.to_string(), Value::null(Type::Number)))
            .collect();
        for (k, v) in ints {
            m.insert(k.to_string(), Value::int(*v));
        }
        m.insert(
            "rfc3339".to_string(),
            base.map_or_else(|| Value::null(Type::String), Value::string),
        );
        m.insert(
            "rotation_rfc3339".to_string(),
            rotation.map_or_else(|| Value::null(Type::String), Value::string),
        );
        m.insert("triggers".to_string(), Value::null(Type::map(Type::String)));
        Value::object(m)
    }

    fn s(v: &Value, k: &str) -> String {
        v.get_attr(k).and_then(Value::as_str).expect(k).to_string()
    }

    #[test]
    fn rotation_from_a_fixed_base() {
        let r = TimeRotating::new();
        let config = cfg(
            Some("2020-01-31T00:00:00Z"),
            None,
            &[("rotation_months", 1)],
        );
        let p = plan(&r, None, &config);
        assert!(!p
            .planned
            .get_attr("rotation_rfc3339")
            .expect("r")
            .is_known());
        let v = apply(&r, &scratch_ctx(), None, &p.planned, &config);
        assert_eq!(s(&v, "rotation_rfc3339"), "2020-03-02T00:00:00Z");
        assert_eq!(s(&v, "rfc3339"), "2020-01-31T00:00:00Z");
        assert_eq!(s(&v, "id"), "2020-01-31T00:00:00Z");
        assert!(v.get_attr("month").expect("m").raw_equal(&Value::int(3)));
        // The rotation time is in the past: read reports the object gone.
        let ctx = scratch_ctx();
        assert_eq!(r.read(&ctx, &v).expect("read"), None);
    }

    #[test]
    fn current_base_is_kept_until_rotation() {
        let r = TimeRotating::new();
        let config = cfg(None, None, &[("rotation_days", 1)]);
        let v = apply(
            &r,
            &scratch_ctx(),
            None,
            &plan(&r, None, &config).planned,
            &config,
        );
        let base = Timestamp::parse_rfc3339(&s(&v, "rfc3339")).expect("base");
        assert_eq!(
            s(&v, "rotation_rfc3339"),
            base.add_date(0, 0, 1).expect("ok").rfc3339()
        );
        let ctx = scratch_ctx();
        let read = r.read(&ctx, &v).expect("read").expect("still there");
        let p = plan(&r, Some(&read), &config);
        assert!(p.requires_replace.is_empty());
        assert!(p.planned.raw_equal(&v));
        // Changing the rotation updates in place, planned from the stored base.
        let config2 = cfg(None, None, &[("rotation_days", 2)]);
        let p = plan(&r, Some(&v), &config2);
        assert!(p.requires_replace.is_empty());
        assert_eq!(
            s(&p.planned, "rotation_rfc3339"),
            base.add_date(0, 0, 2).expect("ok").rfc3339()
        );
        let v2 = apply(&r, &scratch_ctx(), Some(&v), &p.planned, &config2);
        assert_eq!(s(&v2, "rfc3339"), s(&v, "rfc3339"));
        // An explicit rotation timestamp in the future.
        let config3 = cfg(None, Some("2999-01-01T00:00:00Z"), &[]);
        let p = plan(&r, Some(&v2), &config3);
        assert!(p.requires_replace.is_empty());
        let v3 = apply(&r, &scratch_ctx(), Some(&v2), &p.planned, &config3);
        assert_eq!(s(&v3, "rotation_rfc3339"), "2999-01-01T00:00:00Z");
        assert!(v3.get_attr("year").expect("y").raw_equal(&Value::int(2999)));
    }

    #[test]
    fn outdated_objects_are_replaced_not_updated() {
        let r = TimeRotating::new();
        let config = cfg(Some("2000-01-01T00:00:00Z"), None, &[("rotation_days", 1)]);
        let v = apply(
            &r,
            &scratch_ctx(),
            None,
            &plan(&r, None, &config).planned,
            &config,
        );
        let p = plan(
            &r,
            Some(&v),
            &cfg(Some("2000-01-01T00:00:00Z"), None, &[("rotation_days", 2)]),
        );
        assert_eq!(
            p.requires_replace,
            vec![vec![PathStep::Key("rotation_rfc3339".into())]]
        );
        // A new base or trigger replaces too.
        let p = plan(
            &r,
            Some(&v),
            &cfg(Some("2001-01-01T00:00:00Z"), None, &[("rotation_days", 1)]),
        );
        assert!(!p.requires_replace.is_empty());
    }

    #[test]
    fn validation() {
        let r = TimeRotating::new();
        assert_eq!(r.validate(&cfg(None, None, &[])).len(), 1);
        assert_eq!(
            r.validate(&cfg(None, None, &[("rotation_days", 0)])).len(),
            1
        );
        assert!(r
            .validate(&cfg(None, None, &[("rotation_minutes", 5)]))
            .is_empty());
        assert!(r
            .validate(&cfg(None, Some("2030-01-01T00:00:00Z"), &[]))
            .is_empty());
        assert_eq!(r.validate(&cfg(Some("x"), Some("y"), &[])).len(), 2);
    }

    #[test]
    fn import_forms() {
        let r = TimeRotating::new();
        let ctx = scratch_ctx();
        let v = r
            .import(&ctx, "2020-01-01T00:00:00Z,2030-01-01T00:00:00Z")
            .expect("import");
        assert_eq!(s(&v, "rotation_rfc3339"), "2030-01-01T00:00:00Z");
        assert_eq!(s(&v, "id"), "2020-01-01T00:00:00Z");
        let v = r
            .import(&ctx, "2020-01-01T00:00:00Z,,,,3,")
            .expect("import");
        assert_eq!(s(&v, "rotation_rfc3339"), "2020-01-01T03:00:00Z");
        assert!(v
            .get_attr("rotation_hours")
            .expect("h")
            .raw_equal(&Value::int(3)));
        assert!(r.import(&ctx, "2020-01-01T00:00:00Z,,,,,").is_err());
        assert!(r.import(&ctx, "2020-01-01T00:00:00Z").is_err());
        assert!(r.import(&ctx, "2020-01-01T00:00:00Z,").is_err());
        assert!(r.import(&ctx, "2020-01-01T00:00:00Z,x,,,,").is_err());
    }
}
