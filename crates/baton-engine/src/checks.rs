//! `check` blocks: assertions (and the data sources scoped to them) evaluated after planning
//! and again after applying. A failed assertion is a warning, never an error — it reports a
//! problem without blocking the run, as in Terraform.

use crate::body::eval_body;
use crate::context::Context;
use crate::model::{CheckStatus, Checkable};
use crate::nodes::{CheckSite, NodeEval};
use crate::providers::ProviderConfigs;
use crate::values::{EvalState, Repetition};
use baton_core::{Diagnostic, Diagnostics, Severity};
use baton_provider::plan::mark_schema_sensitive;
use baton_provider::ProviderCtx;

/// Evaluates every check block in every module instance, with `plantimestamp()` returning
/// `plan_timestamp`; data sources are read in `pctx` with their provider's settings from
/// `configs`. Returns warnings only.
pub fn run(
    ctx: &Context,
    state: &EvalState,
    planning: bool,
    plan_timestamp: &str,
    pctx: &ProviderCtx,
    configs: &ProviderConfigs,
) -> Diagnostics {
    let mut out = Diagnostics::new();
    let nodes = NodeEval {
        ctx,
        state,
        planning,
        validate_only: false,
        plan_timestamp: Some(plan_timestamp),
    };
    for m in ctx.config.all_modules() {
        if m.checks.is_empty() {
            continue;
        }
        for mi in state.module_instances(&m.path) {
            for check in &m.checks {
                let context = format!("check \"{}\"", check.name);
                let mut data_ok = true;
                for d in &check.data {
                    let Some((info, dt)) = ctx.providers.data_source(&d.addr.type_) else {
                        continue;
                    };
                    let (config, diags) = {
                        let scope = nodes.scope(&mi);
                        let mut ev = nodes.evaluator(&scope);
                        eval_body(&mut ev, &d.config, dt.schema(), d.def_span, &context)
                    };
                    if diags.has_errors() {
                        data_ok = false;
                        out.extend(as_warnings(diags));
                        continue;
                    }
                    if !config.is_wholly_known() {
                        data_ok = false;
                        continue;
                    }
                    match dt.read(
                        &configs.ctx_for(
                            pctx,
                            info,
                            d.provider.as_ref().and_then(|p| p.alias.as_deref()),
                        ),
                        &config.clone().unmark_deep().0,
                    ) {
                        Ok(v) => {
                            let v = mark_schema_sensitive(dt.schema(), v);
                            state.set_instance(&mi, &d.addr, Repetition::Single, None, v);
                        }
                        Err(e) => {
                            data_ok = false;
                            out.push(
                                Diagnostic::warning(
                                    format!("{} (in check block)", e.summary),
                                    e.detail,
                                )
                                .at(d.def_span)
                                .in_context(context.clone()),
                            );
                        }
                    }
                }
                if !data_ok {
                    // Its assertions cannot be decided without the data they read.
                    state.record_check(
                        &mi,
                        Checkable::Check(check.name.clone()),
                        None,
                        CheckStatus::Unknown,
                        Vec::new(),
                    );
                    continue;
                }
                let d = nodes.check_rules(CheckSite {
                    module: &mi,
                    object: Checkable::Check(check.name.clone()),
                    key: None,
                    rules: &check.asserts,
                    summary: "Check block assertion failed",
                    subject: &format!("check \"{}\"", check.name),
                    self_value: None,
                    count: None,
                    each: None,
                });
                out.extend(as_warnings(d));
            }
        }
    }
    out
}

fn as_warnings(d: Diagnostics) -> Diagnostics {
    Diagnostics(
        d.into_iter()
            .map(|mut x| {
                x.severity = Severity::Warning;
                x
            })
            .collect(),
    )
}
