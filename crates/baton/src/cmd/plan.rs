//! `baton plan`: refresh, plan, print (human or JSON), optionally save.

use super::{lock, plan_opts, print_diags, Env};
use crate::cli::PlanArgs;
use crate::render::render_plan;
use anyhow::Context as _;
use baton_engine::planjson::{plan_json, JsonOpts};
use baton_engine::PlanMode;
use std::process::ExitCode;

pub fn plan(env: &Env, a: &PlanArgs) -> anyhow::Result<ExitCode> {
    let mode = if a.destroy {
        PlanMode::Destroy
    } else {
        PlanMode::Normal
    };
    let opts = plan_opts(&a.flags, mode)?;
    let Some(ctx) = env.load() else {
        return Ok(ExitCode::from(1));
    };
    let store = env.open_store()?;
    let _guard = lock(env, &*store.store, "plan", &a.flags.lock_timeout)?;
    let prior = store.current()?;
    let observer: Box<dyn baton_engine::Observer> = if a.json {
        Box::new(baton_engine::NoObserver)
    } else {
        Box::new(crate::ui::Progress::new())
    };
    let (plan, diags) = baton_engine::plan::plan(&ctx, &prior, &opts, observer.as_ref());
    let errors = print_diags(&diags, &env.sources);
    // The policy gate, after every plan that succeeded.
    let gate = match &plan {
        Some(p) if !errors => Some(baton_engine::policy::gate(
            baton_engine::policy::GateInput {
                ctx: &ctx,
                plan: p,
                prior: &prior,
                extra_dirs: &a.flags.policy_dirs,
                run: baton_engine::policy::RunContext::current(&env.workspace, "plan", None),
                override_reason: None,
            },
        )),
        _ => None,
    };
    let denied = gate.as_ref().is_some_and(|g| g.blocked);
    super::audit::record(
        env,
        &*store.store,
        super::audit::Record {
            command: "plan",
            run_id: None,
            plan: plan.as_ref(),
            plan_digest: None,
            policy: gate.as_ref().map(|g| g.audit_json()).unwrap_or_default(),
            outcome: match &plan {
                Some(_) if denied => "denied by policy".into(),
                Some(p) if !errors => format!("planned: {}", baton_engine::apply::plan_summary(p)),
                _ => "error".into(),
            },
            changes: Vec::new(),
        },
    );
    let Some(plan) = plan else {
        return Ok(ExitCode::from(1));
    };
    if a.json {
        let mut j = plan_json(Some(&ctx), &plan, &prior, JsonOpts::default());
        if let (Some(g), Some(m)) = (&gate, j.as_object_mut()) {
            if !g.sets.is_empty() || !g.decision.errors.is_empty() {
                m.insert("policy".into(), g.json.clone());
            }
        }
        outln!("{}", serde_json::to_string(&j)?);
    } else if !errors {
        out!("{}", render_plan(&plan));
    }
    if errors {
        return Ok(ExitCode::from(1));
    }
    if let Some(g) = &gate {
        if a.json {
            // Errors still go to stderr; findings are in the JSON.
            if g.blocked {
                super::policy::print_errors(env, g);
            }
        } else {
            super::policy::print(env, g);
        }
        if g.blocked {
            if a.out.is_some() {
                eprintln!(
                    "
The plan was not saved."
                );
            }
            return Ok(super::policy::denied(g, "plan", false));
        }
    }
    if let Some(out) = &a.out {
        baton_engine::planfile::write(&env.path(out), &plan)
            .with_context(|| format!("cannot write the plan to {}", out.display()))?;
        if !a.json {
            outln!(
                "\n─────────────────────────────────────────────────────────────────────────────\n\nSaved the plan to: {}\n\nTo perform exactly these actions, run the following command to apply:\n    baton apply {}",
                out.display(),
                out.display()
            );
        }
    } else if !a.json && plan.has_changes() {
        outln!("\n─────────────────────────────────────────────────────────────────────────────\n\nNote: You didn't use the --out option to save this plan, so Baton can't guarantee to take exactly these actions if you run \"baton apply\" now.");
    }
    if a.detailed_exitcode && plan.has_changes() {
        return Ok(ExitCode::from(2));
    }
    Ok(ExitCode::SUCCESS)
}

/// `baton drift`: what changed outside Baton (a refresh-only plan, drift only).
pub fn drift(env: &Env, a: &crate::cli::DriftArgs) -> anyhow::Result<ExitCode> {
    let Some(ctx) = env.load() else {
        return Ok(ExitCode::from(1));
    };
    let opts = baton_engine::plan::PlanOpts {
        mode: PlanMode::RefreshOnly,
        vars: super::cli_vars(&a.vars)?,
        env: std::env::vars().collect(),
        parallelism: a.parallelism,
        ..Default::default()
    };
    let store = env.open_store()?;
    let _guard = lock(env, &*store.store, "drift", &a.lock_timeout)?;
    let prior = store.current()?;
    let (plan, diags) = baton_engine::plan::plan(&ctx, &prior, &opts, &baton_engine::NoObserver);
    if print_diags(&diags, &env.sources) {
        return Ok(ExitCode::from(1));
    }
    let Some(plan) = plan else {
        return Ok(ExitCode::from(1));
    };
    super::audit::record(
        env,
        &*store.store,
        super::audit::Record {
            command: "drift",
            run_id: None,
            plan: None,
            plan_digest: None,
            policy: serde_json::Value::Null,
            outcome: format!("{} object(s) changed outside Baton", plan.drift.len()),
            changes: plan
                .drift
                .iter()
                .map(|d| baton_state::AuditChange {
                    address: d.addr.to_string(),
                    actions: vec![if d.after.is_null() {
                        "deleted outside"
                    } else {
                        "changed outside"
                    }
                    .to_string()],
                })
                .collect(),
        },
    );
    if a.json {
        let j = baton_engine::planjson::plan_json(Some(&ctx), &plan, &prior, JsonOpts::default());
        let drift = j
            .get("resource_drift")
            .cloned()
            .unwrap_or(serde_json::json!([]));
        outln!(
            "{}",
            serde_json::to_string(&serde_json::json!({"resource_drift": drift}))?
        );
    } else if plan.drift.is_empty() {
        outln!("No drift: every object matches the state.");
    } else {
        for d in &plan.drift {
            outln!("{}", crate::render::render_drift(d));
        }
        outln!("{} object(s) changed outside Baton. `baton apply --refresh-only` accepts these values into the state; `baton apply` repairs them.", plan.drift.len());
    }
    Ok(if plan.drift.is_empty() {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(2)
    })
}
