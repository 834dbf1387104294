//! Refresh: every object in (moved) prior state is read back through its provider, in
//! parallel, and the differences are recorded as drift. Data sources and untargeted objects
//! keep their state values.
//!
//! An object on a host (a failure domain, see [`crate::apply::domains`]) that cannot be
//! reached (a retryable failure) keeps its state value with a warning, so one host down does
//! not stop the plan of the fleet: its planned actions fail that host alone at apply.
//!
//! Refresh reads; it must not plan, evaluate configuration or write state.

use super::opts::{ObjKey, PlanOpts};
use crate::context::Context;
use crate::model::Drift;
use crate::providers::ProviderConfigs;
use crate::statecodec::decode_object;
use crate::{Event, Observer};
use baton_core::{Diagnostic, Diagnostics, ResourceMode};
use baton_eval::Value;
use baton_provider::plan::mark_schema_sensitive;
use baton_provider::{ProviderCtx, ProviderInfo};
use baton_state::Snapshot;
use std::collections::HashMap;
use std::sync::Mutex;

pub(super) type Refreshed = HashMap<ObjKey, Option<Value>>;

pub(super) fn refresh(
    ctx: &Context,
    prior: &Snapshot,
    opts: &PlanOpts,
    pctx: &ProviderCtx,
    configs: &ProviderConfigs,
    observer: &dyn Observer,
) -> (Refreshed, Vec<Drift>, Diagnostics) {
    // Objects whose resources are gone keep the configuration state recorded for them.
    let mut configs = configs.clone();
    configs.learn_aliases(&ctx.config, Some(prior));
    let configs = &configs;
    let mut out: Refreshed = HashMap::new();
    let mut diags = Diagnostics::new();
    let mut todo = Vec::new();
    for (k, obj) in &prior.objects {
        let key: ObjKey = (
            k.addr.clone(),
            if k.deposed.is_empty() {
                None
            } else {
                Some(k.deposed.clone())
            },
        );
        let v = match decode_object(obj) {
            Ok(v) => v,
            Err(e) => {
                diags.push(Diagnostic::error(
                    "Invalid object in state",
                    format!("The state entry for {} cannot be decoded: {e}.", k.addr),
                ));
                continue;
            }
        };
        if k.addr.resource.mode == ResourceMode::Data {
            out.insert(key, Some(v));
            continue;
        }
        let v = match upgrade(ctx, pctx, configs, &k.addr, obj.schema_version, v) {
            Ok(v) => v,
            Err(d) => {
                diags.push(d);
                continue;
            }
        };
        let refresh_this = opts.refresh
            && (opts.targets.is_empty() || opts.targets.iter().any(|t| k.addr.is_under(t)));
        if !refresh_this {
            out.insert(key, Some(v));
            continue;
        }
        todo.push((key, v));
    }
    let reg = &*ctx.providers;
    crate::prepare::objects(
        reg,
        todo.iter()
            .map(|(key, v)| (key.0.resource.type_.as_str(), v)),
    );
    type ReadResult = (
        ObjKey,
        Value,
        Result<Option<Value>, baton_provider::ProviderError>,
    );
    let results: Mutex<Vec<ReadResult>> = Mutex::new(Vec::new());
    let mut g: baton_graph::Graph<usize> = baton_graph::Graph::new();
    for i in 0..todo.len() {
        g.add_node(i);
    }
    let stop = baton_graph::StopHandle::new();
    let wopts = baton_graph::WalkOpts {
        parallelism: opts.parallelism.max(1),
    };
    let _ = baton_graph::walk(
        &g,
        &wopts,
        &stop,
        |_, i| -> Result<(), ()> {
            let (key, v) = &todo[*i];
            let res = match reg.resource_type(&key.0.resource.type_) {
                Some((info, rt)) => {
                    observer.event(Event::RefreshStart {
                        addr: key.0.clone(),
                    });
                    let r = rt.read(&configs.ctx_at(pctx, info, &key.0), v).map(|o| {
                        o.map(|x| {
                            mark_schema_sensitive(rt.schema(), x.mark_paths(&v.sensitive_paths()))
                        })
                    });
                    observer.event(Event::RefreshDone {
                        addr: key.0.clone(),
                        id: v
                            .get_attr("id")
                            .and_then(|x| x.as_str().map(str::to_string)),
                    });
                    r
                }
                None => Ok(Some(v.clone())),
            };
            if let Ok(mut r) = results.lock() {
                r.push((key.clone(), v.clone(), res));
            }
            Ok(())
        },
        |_| {},
    );
    let mut drift = Vec::new();
    let results = results.into_inner().unwrap_or_default();
    for (key, before, res) in results {
        match res {
            Ok(after) => {
                let changed = match &after {
                    None => true,
                    Some(a) => !a.raw_equal(&before),
                };
                if changed {
                    let info = reg
                        .resource_type(&key.0.resource.type_)
                        .map(|(p, _)| p)
                        .unwrap_or(ProviderInfo {
                            name: "unknown",
                            source: "unknown",
                        });
                    drift.push(Drift {
                        addr: key.0.clone(),
                        deposed: key.1.clone(),
                        provider_name: info.name.to_string(),
                        provider_source: info.source.to_string(),
                        before: before.clone(),
                        after: after.clone().unwrap_or_else(|| Value::null(before.ty())),
                    });
                }
                out.insert(key, after);
            }
            Err(e) => match crate::apply::domain_of(&before) {
                Some(host) if e.kind == baton_provider::ErrorKind::Retryable => {
                    diags.push(Diagnostic::warning(
                        format!("Could not refresh {} on {host}", key.0),
                        format!("{e}. The plan uses the value in the state; an apply tries the host again, and a failure there fails that host alone."),
                    ));
                    out.insert(key, Some(before));
                }
                _ => diags.push(Diagnostic::error(
                    format!("Failed to refresh {}", key.0),
                    e.to_string(),
                )),
            },
        }
    }
    drift.sort_by(|a, b| a.addr.cmp(&b.addr));
    (out, drift, diags)
}

/// An object recorded under an older schema version of its type, upgraded by its provider
/// (as Terraform does before reading it); one recorded under a newer version is an error.
fn upgrade(
    ctx: &Context,
    pctx: &ProviderCtx,
    configs: &ProviderConfigs,
    addr: &baton_core::InstanceAddr,
    recorded: u32,
    v: Value,
) -> Result<Value, Diagnostic> {
    let Some((info, rt)) = ctx.providers.resource_type(&addr.resource.type_) else {
        return Ok(v);
    };
    let current = rt.schema().version;
    // Same version and the schema's shape: nothing to upgrade. A provider whose schema changed
    // without a new version (an attribute added or removed) normalizes the object, as
    // Terraform has it do for every object.
    if recorded == current && v.ty() == rt.schema().object_type() {
        return Ok(v);
    }
    if recorded > current {
        return Err(Diagnostic::error(
            "Resource instance managed by newer provider version",
            format!(
                "The current state of {addr} was created by a newer provider version than is currently selected (schema version {recorded}, while {} supports version {current}). Upgrade the provider to work with this state.",
                info.source
            ),
        ));
    }
    rt.upgrade(&configs.ctx_at(pctx, info, addr), recorded, &v)
        .map(|x| mark_schema_sensitive(rt.schema(), x.mark_paths(&v.sensitive_paths())))
        .map_err(|e| {
            Diagnostic::error(
                "Failed to upgrade resource state",
                format!(
                    "The provider {} could not upgrade the state of {addr} from schema version {recorded} to {current}: {}: {}",
                    info.source, e.summary, e.detail
                ),
            )
        })
}
