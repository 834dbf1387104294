//! `time_static`: a timestamp taken once — `rfc3339` when configured (its fields are then
//! known at plan), otherwise the current UTC time at apply — and kept in state with its
//! calendar fields. `triggers` and `rfc3339` replace it. Import takes an RFC 3339 timestamp.

use super::clock::Timestamp;
use super::{check_rfc3339, fields_of, str_attr, timestamp_attr, triggers_attr, with_fields};
use crate::plan::default_plan;
use crate::schema::{Attr, Schema};
use crate::{
    ApplyRequest, AttrDiag, PlanRequest, PlanResponse, ProviderCtx, ProviderError, ResourceType,
};
use baton_eval::{Type, Value};

pub struct TimeStatic {
    schema: Schema,
}

impl TimeStatic {
    pub fn new() -> TimeStatic {
        TimeStatic {
            schema: with_fields(Schema::new())
                .attr(
                    "triggers",
                    triggers_attr("Arbitrary map of values that, when changed, will trigger a new base timestamp value to be saved. See the main provider documentation for more information."),
                )
                .attr(
                    "rfc3339",
                    Attr::optional_computed(Type::String)
                        .force_new()
                        .describe("Base timestamp in RFC3339 format (see RFC3339 time string e.g., `YYYY-MM-DDTHH:MM:SSZ`). Defaults to the current time."),
                )
                .attr(
                    "id",
                    Attr::computed(Type::String)
                        .describe("RFC3339 format of the offset timestamp, e.g. `2020-02-12T06:36:13Z`."),
                ),
        }
    }
}

impl Default for TimeStatic {
    fn default() -> Self {
        TimeStatic::new()
    }
}

impl ResourceType for TimeStatic {
    fn type_name(&self) -> &'static str {
        "time_static"
    }

    fn schema(&self) -> &Schema {
        &self.schema
    }

    fn validate(&self, config: &Value) -> Vec<AttrDiag> {
        let mut out = Vec::new();
        check_rfc3339(config, "rfc3339", &mut out);
        out
    }

    fn plan(&self, req: PlanRequest<'_>) -> Result<PlanResponse, ProviderError> {
        let mut resp = default_plan(&self.schema, &req);
        if req.prior.is_none() && req.proposed.is_known() {
            // A configured timestamp is known now; the current time only at apply.
            if let Some(ts) = timestamp_attr(req.config, "rfc3339", "Create time static error")? {
                let mut m = super::super::attrs(&resp.planned);
                m.extend(fields_of(&ts));
                if let Some(v) = req.config.get_attr("rfc3339") {
                    m.insert("id".into(), v.clone());
                }
                resp.planned = Value::object(m);
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
            return Ok(Some(Value::object(state)));
        }
        let (ts, text) = match timestamp_attr(planned, "rfc3339", "Create time static error")? {
            Some(ts) => (
                ts,
                str_attr(planned, "rfc3339").unwrap_or_else(|| ts.rfc3339()),
            ),
            None => {
                let now = Timestamp::now_utc();
                (now, now.rfc3339())
            }
        };
        state.extend(fields_of(&ts));
        state.insert("rfc3339".into(), Value::string(text.as_str()));
        state.insert("id".into(), Value::string(text));
        Ok(Some(Value::object(state)))
    }

    fn read(&self, _ctx: &ProviderCtx, state: &Value) -> Result<Option<Value>, ProviderError> {
        Ok(Some(state.clone()))
    }

    fn import(&self, _ctx: &ProviderCtx, id: &str) -> Result<Value, ProviderError> {
        let ts = Timestamp::parse_rfc3339(id).map_err(|e| {
            ProviderError::permanent(
                "Import time static error",
                format!("The id that was supplied could not be parsed as RFC3339.\n\nOriginal Error: {e}"),
            )
        })?;
        let mut m = fields_of(&ts);
        m.insert("rfc3339".into(), Value::string(ts.rfc3339()));
        m.insert("id".into(), Value::string(ts.rfc3339()));
        m.insert("triggers".into(), Value::null(Type::map(Type::String)));
        Ok(Value::object(m))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testkit::{create, plan, scratch_ctx};
    use std::collections::BTreeMap;

    fn cfg(rfc: Option<&str>, trigger: Option<&str>) -> Value {
        let mut m = BTreeMap::new();
        m.insert(
            "rfc3339".to_string(),
            rfc.map_or_else(|| Value::null(Type::String), Value::string),
        );
        m.insert(
            "triggers".to_string(),
            trigger.map_or_else(
                || Value::null(Type::map(Type::String)),
                |t| {
                    Value::map(
                        Type::String,
                        [("t".to_string(), Value::string(t))].into_iter().collect(),
                    )
                },
            ),
        );
        Value::object(m)
    }

    #[test]
    fn configured_timestamp_is_known_at_plan() {
        let r = TimeStatic::new();
        let config = cfg(Some("2020-02-12T06:36:13Z"), None);
        let p = plan(&r, None, &config);
        assert!(p
            .planned
            .get_attr("unix")
            .expect("unix")
            .raw_equal(&Value::int(1_581_489_373)));
        assert!(p
            .planned
            .get_attr("id")
            .expect("id")
            .raw_equal(&Value::string("2020-02-12T06:36:13Z")));
        let v = create(&r, &config);
        assert!(v.get_attr("year").expect("y").raw_equal(&Value::int(2020)));
        assert!(v.get_attr("month").expect("m").raw_equal(&Value::int(2)));
        assert!(v.get_attr("second").expect("s").raw_equal(&Value::int(13)));
        // No change on the next plan; a new rfc3339 or trigger replaces.
        let p = plan(&r, Some(&v), &config);
        assert!(p.requires_replace.is_empty());
        assert!(p.planned.raw_equal(&v));
        assert!(
            !plan(&r, Some(&v), &cfg(Some("2021-01-01T00:00:00Z"), None))
                .requires_replace
                .is_empty()
        );
        assert!(
            !plan(&r, Some(&v), &cfg(Some("2020-02-12T06:36:13Z"), Some("x")))
                .requires_replace
                .is_empty()
        );
    }

    #[test]
    fn current_time_at_apply() {
        let r = TimeStatic::new();
        let config = cfg(None, Some("a"));
        let p = plan(&r, None, &config);
        for k in ["rfc3339", "id", "unix", "year"] {
            assert!(!p.planned.get_attr(k).expect(k).is_known(), "{k}");
        }
        let v = create(&r, &config);
        let id = v.get_attr("id").and_then(Value::as_str).expect("id");
        assert!(id.ends_with('Z'));
        assert_eq!(v.get_attr("rfc3339").and_then(Value::as_str), Some(id));
        // Without configuration the stored timestamp stays.
        let p = plan(&r, Some(&v), &config);
        assert!(p.planned.raw_equal(&v));
        assert!(p.requires_replace.is_empty());
        assert_eq!(r.read(&scratch_ctx(), &v).expect("read"), Some(v));
    }

    #[test]
    fn validation_and_import() {
        let r = TimeStatic::new();
        assert_eq!(r.validate(&cfg(Some("yesterday"), None)).len(), 1);
        assert!(r
            .validate(&cfg(Some("2020-01-01T00:00:00+01:00"), None))
            .is_empty());
        let ctx = scratch_ctx();
        let v = r.import(&ctx, "2020-02-12T06:36:13+01:00").expect("import");
        assert_eq!(
            v.get_attr("id").and_then(Value::as_str),
            Some("2020-02-12T06:36:13+01:00")
        );
        assert!(v.get_attr("hour").expect("h").raw_equal(&Value::int(6)));
        assert!(r.import(&ctx, "2020-02-12").is_err());
        let p = plan(&r, Some(&v), &cfg(None, None));
        assert!(p.requires_replace.is_empty());
    }
}
