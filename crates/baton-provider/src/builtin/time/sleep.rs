//! `time_sleep`: waits `create_duration` when created and `destroy_duration` (as last applied)
//! when destroyed, Go duration strings such as `30s` or `1m30s`. Changing a duration is an
//! in-place update without a delay; `triggers` replace (and so sleep again). `id` is the UTC
//! time the object was created. Import takes `CREATE,DESTROY[,KEY=VALUE...]`.
//!
//! A sleep stops promptly — and the operation fails — when the run is cancelled or its time
//! limit passes; it never blocks longer than a fraction of a second past either.

use super::clock::Timestamp;
use super::{at_least_one_of, str_attr, triggers_attr};
use crate::plan::default_plan;
use crate::schema::{Attr, Schema};
use crate::{
    ApplyRequest, AttrDiag, PlanRequest, PlanResponse, ProviderCtx, ProviderError, ResourceType,
};
use baton_core::duration::parse_nanos as parse_duration;
use baton_eval::{Type, Value};
use std::collections::BTreeMap;
use std::time::{Duration, Instant};

/// How often a sleep looks at the cancellation flag.
const POLL: Duration = Duration::from_millis(50);

pub struct TimeSleep {
    schema: Schema,
}

impl TimeSleep {
    pub fn new() -> TimeSleep {
        TimeSleep {
            schema: Schema::new()
                .attr(
                    "create_duration",
                    Attr::optional(Type::String).describe("Time duration to delay resource creation. For example, `30s` for 30 seconds or `5m` for 5 minutes. Updating this value by itself will not trigger a delay."),
                )
                .attr(
                    "destroy_duration",
                    Attr::optional(Type::String).describe("Time duration to delay resource destroy. For example, `30s` for 30 seconds or `5m` for 5 minutes. Updating this value by itself will not trigger a delay. This value or any updates to it must be successfully applied into the Terraform state before destroying this resource to take effect."),
                )
                .attr(
                    "triggers",
                    triggers_attr("Arbitrary map of values that, when changed, will run any creation or destroy delays again. See the main provider documentation for more information."),
                )
                .attr(
                    "id",
                    Attr::computed(Type::String).describe("RFC3339 format of the offset timestamp, e.g. `2020-02-12T06:36:13Z`."),
                ),
        }
    }
}

impl Default for TimeSleep {
    fn default() -> Self {
        TimeSleep::new()
    }
}

/// Sleeps for `nanos` (nothing when not positive), failing early when `ctx` is cancelled or
/// its time limit passes.
fn sleep(ctx: &ProviderCtx, nanos: i64, summary: &str) -> Result<(), ProviderError> {
    let total = Duration::from_nanos(u64::try_from(nanos).unwrap_or(0));
    let start = Instant::now();
    loop {
        if ctx.is_cancelled() {
            return Err(ProviderError::permanent(
                summary,
                "Original Error: context canceled",
            ));
        }
        let elapsed = start.elapsed();
        if elapsed >= total {
            return Ok(());
        }
        let mut wait = (total - elapsed).min(POLL);
        if let Some(limit) = ctx.timeout {
            if elapsed >= limit {
                return Err(ProviderError::permanent(
                    summary,
                    "Original Error: context deadline exceeded",
                ));
            }
            wait = wait.min(limit - elapsed);
        }
        std::thread::sleep(wait);
    }
}

/// The duration attribute `name` of `v` in nanoseconds (0 when unset or empty).
fn duration_of(v: &Value, name: &str, summary: &str) -> Result<i64, ProviderError> {
    match str_attr(v, name).filter(|s| !s.is_empty()) {
        None => Ok(0),
        Some(s) => parse_duration(&s).map_err(|e| {
            ProviderError::permanent(
                summary,
                format!("The {name} cannot be parsed\n\nOriginal Error: {e}"),
            )
            .on_attr(name)
        }),
    }
}

impl ResourceType for TimeSleep {
    fn type_name(&self) -> &'static str {
        "time_sleep"
    }

    fn schema(&self) -> &Schema {
        &self.schema
    }

    fn validate(&self, config: &Value) -> Vec<AttrDiag> {
        let mut out = Vec::new();
        at_least_one_of(config, &["create_duration", "destroy_duration"], &mut out);
        for name in ["create_duration", "destroy_duration"] {
            if let Some(s) = str_attr(config, name) {
                if let Err(e) = parse_duration(&s) {
                    out.push(AttrDiag::error(
                        Some(name),
                        "Invalid Attribute Value",
                        format!("Attribute {name} must be a Go duration such as \"30s\" or \"1m30s\": {e}"),
                    ));
                }
            }
        }
        out
    }

    fn plan(&self, req: PlanRequest<'_>) -> Result<PlanResponse, ProviderError> {
        Ok(default_plan(&self.schema, &req))
    }

    fn apply(&self, req: ApplyRequest<'_>) -> Result<Option<Value>, ProviderError> {
        let Some(planned) = req.planned else {
            if let Some(prior) = req.prior {
                let d = duration_of(prior, "destroy_duration", "Delete time sleep error")?;
                sleep(req.ctx, d, "Delete time sleep error")?;
            }
            return Ok(None);
        };
        let mut state = super::super::attrs(planned);
        if req.prior.is_some() {
            // A changed duration takes effect later; no delay now.
            return Ok(Some(Value::object(state)));
        }
        let d = duration_of(planned, "create_duration", "Create time sleep error")?;
        sleep(req.ctx, d, "Create time sleep error")?;
        state.insert("id".into(), Value::string(Timestamp::now_utc().rfc3339()));
        Ok(Some(Value::object(state)))
    }

    fn read(&self, _ctx: &ProviderCtx, state: &Value) -> Result<Option<Value>, ProviderError> {
        Ok(Some(state.clone()))
    }

    fn import(&self, _ctx: &ProviderCtx, id: &str) -> Result<Value, ProviderError> {
        let parts: Vec<&str> = id.split(',').collect();
        if parts.len() < 2 || (parts[0].is_empty() && parts[1].is_empty()) {
            return Err(ProviderError::permanent(
                "Unexpected Format of ID",
                format!("Unexpected format of ID ({id:?}), expected CREATEDURATION,DESTROYDURATION,KEY=VALUE,KEY=VALUE... where at least one CREATIONDURATION or DESTROYDURATION value is non-empty"),
            ));
        }
        let mut m = BTreeMap::new();
        for (name, part) in [
            ("create_duration", parts[0]),
            ("destroy_duration", parts[1]),
        ] {
            let v = if part.is_empty() {
                Value::null(Type::String)
            } else {
                parse_duration(part).map_err(|e| {
                    ProviderError::permanent(
                        "Import time sleep error",
                        format!("The {name} cannot be parsed\n\nOriginal Error: {e}"),
                    )
                })?;
                Value::string(part)
            };
            m.insert(name.to_string(), v);
        }
        let mut triggers = BTreeMap::new();
        for t in &parts[2..] {
            let kv: Vec<&str> = t.split('=').collect();
            let [k, v] = kv.as_slice() else {
                return Err(ProviderError::permanent(
                    "Trigger import error",
                    format!("Trigger import entries must be KEY=VALUE, got {t}"),
                ));
            };
            triggers.insert((*k).to_string(), Value::string(*v));
        }
        m.insert(
            "triggers".into(),
            if triggers.is_empty() {
                Value::null(Type::map(Type::String))
            } else {
                Value::map(Type::String, triggers)
            },
        );
        m.insert("id".into(), Value::string(Timestamp::now_utc().rfc3339()));
        Ok(Value::object(m))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testkit::{plan, scratch_ctx, try_apply};
    use std::sync::atomic::Ordering;
    use std::sync::Arc;

    fn cfg(create: Option<&str>, destroy: Option<&str>) -> Value {
        let mut m = BTreeMap::new();
        m.insert(
            "create_duration".to_string(),
            create.map_or_else(|| Value::null(Type::String), Value::string),
        );
        m.insert(
            "destroy_duration".to_string(),
            destroy.map_or_else(|| Value::null(Type::String), Value::string),
        );
        m.insert("triggers".to_string(), Value::null(Type::map(Type::String)));
        Value::object(m)
    }

    #[test]
    fn sleeps_on_create_and_destroy() {
        let r = TimeSleep::new();
        let config = cfg(Some("200ms"), Some("150ms"));
        let p = plan(&r, None, &config);
        assert!(!p.planned.get_attr("id").expect("id").is_known());
        let c = scratch_ctx();
        let start = Instant::now();
        let v = try_apply(&r, &c, None, Some(&p.planned), &config)
            .expect("apply")
            .expect("object");
        assert!(start.elapsed() >= Duration::from_millis(200));
        assert!(
            Timestamp::parse_rfc3339(v.get_attr("id").and_then(Value::as_str).expect("id")).is_ok()
        );
        let p2 = plan(&r, Some(&v), &config);
        assert!(p2.planned.raw_equal(&v));
        // A new duration is an update without a delay.
        let config2 = cfg(Some("1h"), Some("150ms"));
        let p3 = plan(&r, Some(&v), &config2);
        assert!(p3.requires_replace.is_empty());
        let start = Instant::now();
        let v2 = try_apply(&r, &c, Some(&v), Some(&p3.planned), &config2)
            .expect("update")
            .expect("object");
        assert!(start.elapsed() < Duration::from_secs(5));
        let start = Instant::now();
        let gone = try_apply(&r, &c, Some(&v2), None, &config2).expect("delete");
        assert!(gone.is_none());
        assert!(start.elapsed() >= Duration::from_millis(150));
    }

    #[test]
    fn cancellation_and_timeout_stop_the_sleep() {
        let r = TimeSleep::new();
        let config = cfg(Some("1h"), None);
        let p = plan(&r, None, &config);
        let mut c = scratch_ctx();
        c.timeout = Some(Duration::from_millis(100));
        let start = Instant::now();
        let e = try_apply(&r, &c, None, Some(&p.planned), &config).expect_err("timeout");
        assert!(e.detail.contains("deadline exceeded"));
        assert!(start.elapsed() < Duration::from_secs(5));

        let c = scratch_ctx();
        let flag = Arc::clone(&c.cancel);
        let t = std::thread::spawn(move || {
            std::thread::sleep(Duration::from_millis(100));
            flag.store(true, Ordering::SeqCst);
        });
        let start = Instant::now();
        let e = try_apply(&r, &c, None, Some(&p.planned), &config).expect_err("cancelled");
        t.join().expect("join");
        assert!(e.detail.contains("canceled"));
        assert!(start.elapsed() < Duration::from_secs(5));
    }

    #[test]
    fn validation() {
        let r = TimeSleep::new();
        assert_eq!(r.validate(&cfg(None, None)).len(), 1);
        assert!(r.validate(&cfg(Some("1m30s"), None)).is_empty());
        assert!(r.validate(&cfg(None, Some("0.5s"))).is_empty());
        assert_eq!(r.validate(&cfg(Some("30"), None)).len(), 1);
        assert_eq!(r.validate(&cfg(Some("soon"), Some("later"))).len(), 2);
        let mut m = super::super::super::attrs(&cfg(None, None));
        m.insert("create_duration".into(), Value::unknown(Type::String));
        assert!(r.validate(&Value::object(m)).is_empty());
    }

    #[test]
    fn triggers_replace_and_import() {
        let r = TimeSleep::new();
        let ctx = scratch_ctx();
        let v = r.import(&ctx, "1s,2s,a=b,c=d").expect("import");
        assert_eq!(
            v.get_attr("create_duration").and_then(Value::as_str),
            Some("1s")
        );
        assert_eq!(
            v.get_attr("triggers")
                .and_then(|t| t.get_attr("c"))
                .and_then(Value::as_str),
            Some("d")
        );
        let v = r.import(&ctx, ",2s").expect("import");
        assert!(v.get_attr("create_duration").expect("c").is_null());
        assert!(v.get_attr("triggers").expect("t").is_null());
        let p = plan(&r, Some(&v), &cfg(None, Some("2s")));
        assert!(p.requires_replace.is_empty());
        let mut m = super::super::super::attrs(&cfg(None, Some("2s")));
        m.insert(
            "triggers".into(),
            Value::map(
                Type::String,
                [("k".to_string(), Value::string("v"))]
                    .into_iter()
                    .collect(),
            ),
        );
        assert!(!plan(&r, Some(&v), &Value::object(m))
            .requires_replace
            .is_empty());
        assert!(r.import(&ctx, ",").is_err());
        assert!(r.import(&ctx, "1s").is_err());
        assert!(r.import(&ctx, "x,").is_err());
        assert!(r.import(&ctx, "1s,,novalue").is_err());
    }
}
