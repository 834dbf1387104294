//! The perform step of an action: the provider call itself, with retries, timeouts and
//! cancellation, made from a [`Prepared`] value and a [`Worker`] (the providers and their
//! settings, the run's provider context and stop handle) and returning a [`Performed`] value. The provider is
//! found by the type the prepared value names, so the step could run in another process.
//!
//! Must not touch the state store, the journal, the evaluation state or the configuration:
//! whatever it needs comes in as values, whatever it learns goes out as values.

use super::prepare::{Call, Prepared};
pub(super) use super::worker::Worker;
use baton_core::InstanceAddr;
use baton_eval::Value;
use baton_provider::plan::mark_schema_sensitive;
use baton_provider::{
    ApplyRequest, DataSourceType, ProviderError, ProviderInfo, ResourceType, Schema,
};

/// What a provider call came to.
#[derive(Debug)]
pub(super) struct Performed {
    /// The object after the call (marked sensitive where the plan and the schema say; `None`
    /// when the provider returned none), or the last attempt's failure.
    pub(super) result: Result<Option<Value>, ProviderError>,
    /// Attempts made (0 when the provider could not be found).
    pub(super) attempts: u32,
}

/// Makes the provider call of `p`, retrying retryable failures as its policy says.
pub(super) fn perform(p: &Prepared, w: &Worker) -> Performed {
    perform_call(&p.addr, &p.call, p.timeout, p.retry, w)
}

/// Makes the provider call `call` for the object at `addr` (its type picks the provider),
/// with time limit `timeout` and retry policy `retry`. What a worker process runs.
pub(super) fn perform_call(
    addr: &InstanceAddr,
    call: &Call,
    timeout: Option<std::time::Duration>,
    retry: super::opts::RetryPolicy,
    w: &Worker,
) -> Performed {
    let (result, attempts) = match call {
        Call::Apply {
            prior,
            planned,
            config,
        } => match managed(addr, w) {
            Ok((info, rt)) => {
                let mut ctx = w.call_ctx(info, addr, timeout);
                ctx.addr = Some(addr.to_string());
                let (res, attempts) = w.with_retries(retry, || {
                    rt.apply(ApplyRequest {
                        prior: prior.as_ref(),
                        planned: Some(planned),
                        config,
                        ctx: &ctx,
                    })
                });
                let marked = res.map(|v| v.map(|v| mark(rt.schema(), v, planned)));
                (marked, attempts)
            }
            Err(e) => (Err(e), 0),
        },
        Call::Delete { prior } => match managed(addr, w) {
            Ok((info, rt)) => {
                let mut ctx = w.call_ctx(info, addr, timeout);
                ctx.addr = Some(addr.to_string());
                w.with_retries(retry, || {
                    rt.apply(ApplyRequest {
                        prior: Some(prior),
                        planned: None,
                        config: &Value::dynamic_null(),
                        ctx: &ctx,
                    })
                })
            }
            Err(e) => (Err(e), 0),
        },
        Call::Read { config } => match data_source(addr, w) {
            Ok((info, dt)) => {
                let ctx = w.call_ctx(info, addr, timeout);
                let unmarked = config.clone().unmark_deep().0;
                let (res, attempts) = w.with_retries(retry, || dt.read(&ctx, &unmarked));
                (res.map(|v| Some(mark(dt.schema(), v, config))), attempts)
            }
            Err(e) => (Err(e), 0),
        },
    };
    Performed { result, attempts }
}

/// For a resumed run, looks for what a lost attempt of `p` (one whose outcome the interrupted
/// run never learned) left behind, with one call and no retries: for a create, the object it
/// may have made ([`ResourceType::find`], marked like a created one); for a delete, the
/// object if it is still there. A read changes nothing, so there is nothing to look for.
pub(super) fn probe(p: &Prepared, w: &Worker) -> Result<Option<Value>, ProviderError> {
    probe_call(&p.addr, &p.call, p.timeout, w)
}

/// [`probe`] for a call given by its parts (what a worker has).
pub(super) fn probe_call(
    addr: &InstanceAddr,
    call: &Call,
    timeout: Option<std::time::Duration>,
    w: &Worker,
) -> Result<Option<Value>, ProviderError> {
    match call {
        Call::Apply { planned, .. } => {
            let (info, rt) = managed(addr, w)?;
            let found = rt.find(&w.call_ctx(info, addr, timeout), planned)?;
            Ok(found.map(|v| mark(rt.schema(), v, planned)))
        }
        Call::Delete { prior } => {
            let (info, rt) = managed(addr, w)?;
            rt.read(&w.call_ctx(info, addr, timeout), prior)
        }
        Call::Read { .. } => Ok(None),
    }
}

/// A provider's object marked sensitive where the planned one is and where the schema says.
fn mark(schema: &Schema, v: Value, planned: &Value) -> Value {
    mark_schema_sensitive(schema, v.mark_paths(&planned.sensitive_paths()))
}

fn managed<'w>(
    addr: &InstanceAddr,
    w: &'w Worker,
) -> Result<(ProviderInfo, &'w dyn ResourceType), ProviderError> {
    w.registry
        .resource_type(&addr.resource.type_)
        .ok_or_else(|| {
            ProviderError::permanent("Unknown resource type", format!("{addr} has no provider."))
        })
}

fn data_source<'w>(
    addr: &InstanceAddr,
    w: &'w Worker,
) -> Result<(ProviderInfo, &'w dyn DataSourceType), ProviderError> {
    w.registry.data_source(&addr.resource.type_).ok_or_else(|| {
        ProviderError::permanent("Unknown data source", format!("{addr} has no provider."))
    })
}

#[cfg(test)]
mod tests {
    //! The perform step needs nothing but a prepared value and a worker: no configuration,
    //! state store or evaluation state is built here.

    use super::{perform, Worker};
    use crate::apply::opts::RetryPolicy;
    use crate::apply::prepare::{Call, ObjectRecord, Prepared};
    use crate::model::Action;
    use baton_core::InstanceAddr;
    use baton_eval::{Type, Value};
    use baton_provider::{ProviderCtx, ProviderError};
    use baton_state::InstanceStatus;
    use std::cell::Cell;
    use std::collections::BTreeMap;
    use std::time::Duration;

    fn worker() -> Worker {
        Worker {
            registry: crate::providers::builtin(),
            configs: Default::default(),
            ctx: ProviderCtx::new(std::env::temp_dir()),
            stop: baton_graph::StopHandle::new(),
        }
    }

    fn quick(attempts: u32) -> RetryPolicy {
        RetryPolicy {
            attempts,
            base: Duration::from_millis(1),
            cap: Duration::from_millis(1),
        }
    }

    fn create(addr: &str, planned: Value) -> Prepared {
        Prepared {
            addr: InstanceAddr::parse(addr).expect("a valid test address"),
            deposed: None,
            verb: "create",
            shown: Action::Create,
            call: Call::Apply {
                prior: None,
                config: planned.clone(),
                planned,
            },
            timeout: None,
            retry: quick(3),
            object: ObjectRecord {
                provider: String::new(),
                schema_version: 0,
                dependencies: Vec::new(),
                create_before_destroy: false,
                status: InstanceStatus::Ready,
            },
            repetition: None,
        }
    }

    fn null_resource_planned() -> Value {
        let mut triggers = BTreeMap::new();
        triggers.insert("k".to_string(), Value::string("v"));
        let mut m = BTreeMap::new();
        m.insert("id".to_string(), Value::unknown(Type::String));
        m.insert(
            "triggers".to_string(),
            Value::map(Type::String, triggers).mark_sensitive(),
        );
        Value::object(m)
    }

    #[test]
    fn a_create_is_performed_from_the_prepared_value_alone() {
        let p = create("null_resource.a", null_resource_planned());
        let done = perform(&p, &worker());
        assert_eq!(done.attempts, 1);
        let new = done
            .result
            .expect("null_resource creates")
            .expect("a created object");
        assert!(new.get_attr("id").is_some_and(Value::is_wholly_known));
        // The planned object's marks carry over to the new one.
        assert!(new.get_attr("triggers").is_some_and(Value::is_sensitive));
    }

    #[test]
    fn a_type_no_provider_has_fails_without_an_attempt() {
        let p = create("nothing_here.a", null_resource_planned());
        let done = perform(&p, &worker());
        assert_eq!(done.attempts, 0);
        let err = done.result.expect_err("no provider for the type");
        assert_eq!(err.summary, "Unknown resource type");
    }

    #[test]
    fn retryable_failures_are_retried_as_the_policy_says() {
        let calls = Cell::new(0);
        let (res, attempts) = worker().with_retries(quick(3), || -> Result<(), _> {
            calls.set(calls.get() + 1);
            Err(ProviderError::retryable("Busy", "try again"))
        });
        assert!(res.is_err());
        assert_eq!((attempts, calls.get()), (3, 3));

        let calls = Cell::new(0);
        let (res, attempts) = worker().with_retries(quick(3), || {
            calls.set(calls.get() + 1);
            if calls.get() < 2 {
                Err(ProviderError::retryable("Busy", "try again"))
            } else {
                Ok(calls.get())
            }
        });
        assert_eq!(res, Ok(2));
        assert_eq!(attempts, 2);
    }

    #[test]
    fn permanent_failures_and_stopped_runs_are_not_retried() {
        let (_, attempts) = worker().with_retries(quick(3), || -> Result<(), _> {
            Err(ProviderError::permanent("Broken", "no use retrying"))
        });
        assert_eq!(attempts, 1);

        let w = worker();
        w.stop.stop();
        let (_, attempts) = w.with_retries(quick(3), || -> Result<(), _> {
            Err(ProviderError::retryable("Busy", "try again"))
        });
        assert_eq!(attempts, 1);
    }
}
