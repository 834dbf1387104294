//! `validate`, `output`, `show` and `graph`.

use super::{print_diags, Env};
use crate::cli::{GraphArgs, OutputArgs, ShowArgs, ValidateArgs};
use crate::render::{render_object, render_plan, render_value};
use anyhow::anyhow;
use baton_engine::graph::NodeKey;
use baton_engine::planjson::{plan_json, state_values, JsonOpts};
use baton_engine::statecodec::{decode_object, decode_output};
use serde_json::json;
use std::process::ExitCode;

pub fn validate(env: &Env, a: &ValidateArgs) -> anyhow::Result<ExitCode> {
    let (ctx, mut diags) = baton_engine::load(&env.dir, &env.workspace, &env.sources);
    if let Some(ctx) = &ctx {
        let opts = baton_engine::plan::PlanOpts {
            validate_only: true,
            refresh: false,
            ..Default::default()
        };
        let (_, d) = baton_engine::plan::plan(
            ctx,
            &baton_state::Snapshot::default(),
            &opts,
            &baton_engine::NoObserver,
        );
        diags.extend(d);
        // The `policy_set` blocks of `terraform { baton { … } }` are decoded by the policy
        // gate (their sources are paths); validate reports their mistakes too.
        let (_, d) = baton_engine::policy::policy_sets(&ctx.dir, Some(ctx), &[]);
        diags.extend(d);
    }
    let valid = !diags.has_errors();
    if a.json {
        let j = json!({
            "format_version": "1.0",
            "valid": valid,
            "error_count": diags.errors().count(),
            "warning_count": diags.warnings().count(),
            "diagnostics": diags.iter().map(|d| d.to_json(&env.sources)).collect::<Vec<_>>(),
        });
        outln!("{}", serde_json::to_string_pretty(&j)?);
    } else {
        print_diags(&diags, &env.sources);
        if valid {
            outln!("Success! The configuration is valid.");
        }
    }
    Ok(if valid {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}

pub fn output(env: &Env, a: &OutputArgs) -> anyhow::Result<ExitCode> {
    let snap = match env.existing_store()? {
        Some(s) => s.current()?,
        None => baton_state::Snapshot::default(),
    };
    let mut outs = Vec::new();
    for (k, o) in &snap.outputs {
        let v = decode_output(o).map_err(|e| anyhow!("output {k} in state is unreadable: {e}"))?;
        outs.push((k.clone(), v, o.sensitive));
    }
    if let Some(name) = &a.name {
        let Some((_, v, s)) = outs.iter().find(|(k, _, _)| k == name) else {
            eprintln!("\nError: Output \"{name}\" not found\n\nThe output variable requested could not be found in the state. If you recently added this to your configuration, be sure to run `baton apply`, since the state won't be updated with new output variables until that command is run.");
            return Ok(ExitCode::from(1));
        };
        // An explicitly requested output is printed even when sensitive, as Terraform does.
        let plain = v.clone().unmark_deep().0;
        if a.json {
            outln!("{}", serde_json::to_string(&plain.to_json())?);
        } else if a.raw {
            match plain.as_str() {
                Some(s) => out!("{s}"),
                None if plain.as_number().is_some() || plain.as_bool().is_some() => {
                    out!("{}", render_value(&plain))
                }
                None => {
                    eprintln!("\nError: Unsupported value for raw output\n\nThe --raw option only supports strings, numbers, and boolean values, but output value \"{name}\" is {}.\n\nUse the --json option for machine-readable representations of output values that have complex types.", plain.ty().friendly_name());
                    return Ok(ExitCode::from(1));
                }
            }
        } else {
            let _ = s;
            outln!("{}", render_value(&plain));
        }
        return Ok(ExitCode::SUCCESS);
    }
    if a.json {
        let mut m = serde_json::Map::new();
        for (k, v, s) in &outs {
            let plain = v.clone().unmark_deep().0;
            m.insert(
                k.clone(),
                json!({"sensitive": s, "type": plain.ty().to_json(), "value": plain.to_json()}),
            );
        }
        outln!(
            "{}",
            serde_json::to_string_pretty(&serde_json::Value::Object(m))?
        );
        return Ok(ExitCode::SUCCESS);
    }
    if outs.is_empty() {
        eprintln!("\nWarning: No outputs found\n\nThe state file either has no outputs defined, or all the defined outputs are empty. Please define an output in your configuration with the `output` keyword and run `baton apply` for it to become available. If you are using interpolation, please verify the interpolated value is not empty. You can use the `baton console` command to assist.");
        return Ok(ExitCode::SUCCESS);
    }
    for (k, v, s) in &outs {
        if *s || v.contains_sensitive() {
            outln!("{k} = <sensitive>");
        } else {
            outln!("{k} = {}", render_value(v));
        }
    }
    Ok(ExitCode::SUCCESS)
}

pub fn show(env: &Env, a: &ShowArgs) -> anyhow::Result<ExitCode> {
    if let Some(f) = &a.file {
        let plan = baton_engine::planfile::read(&env.path(f)).map_err(|e| anyhow!(e))?;
        let fs = baton_config::MemFs::new(&env.dir, &plan.config_files);
        let (ctx, _) = baton_engine::load_with(&env.dir, &plan.workspace, &env.sources, &fs);
        let prior = match env.existing_store()? {
            Some(s) => {
                let h = s.at_version(plan.serial);
                h.unwrap_or_default()
            }
            None => baton_state::Snapshot::default(),
        };
        if a.json {
            let j = plan_json(ctx.as_ref(), &plan, &prior, JsonOpts::default());
            outln!("{}", serde_json::to_string(&j)?);
        } else {
            out!("{}", render_plan(&plan));
        }
        return Ok(ExitCode::SUCCESS);
    }
    let snap = match env.existing_store()? {
        Some(s) => s.current()?,
        None => baton_state::Snapshot::default(),
    };
    if a.json {
        let mut j = json!({"format_version": "1.0", "terraform_version": baton_engine::TERRAFORM_COMPAT_VERSION});
        if !snap.is_empty() {
            j["values"] = state_values(&snap, JsonOpts::default());
        }
        outln!("{}", serde_json::to_string(&j)?);
        return Ok(ExitCode::SUCCESS);
    }
    if snap.is_empty() {
        outln!("The state is empty. No resources are represented.");
        return Ok(ExitCode::SUCCESS);
    }
    for (k, o) in &snap.objects {
        if !k.deposed.is_empty() {
            continue;
        }
        let v = decode_object(o).map_err(|e| anyhow!("{} in state is unreadable: {e}", k.addr))?;
        outln!(
            "{}",
            render_object(
                &k.addr,
                &v,
                o.status == baton_state::InstanceStatus::Tainted
            )
        );
    }
    if !snap.outputs.is_empty() {
        outln!("\nOutputs:\n");
        for (k, o) in &snap.outputs {
            let v = decode_output(o).map_err(|e| anyhow!("output {k} is unreadable: {e}"))?;
            if o.sensitive || v.contains_sensitive() {
                outln!("{k} = (sensitive value)");
            } else {
                outln!("{k} = {}", render_value(&v));
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}

pub fn graph(env: &Env, a: &GraphArgs) -> anyhow::Result<ExitCode> {
    let Some(ctx) = env.load() else {
        return Ok(ExitCode::from(1));
    };
    let g = &ctx.graph.graph;
    if a.all {
        let dot = g.transitive_reduction().to_dot(|_, k| k.to_string());
        out!("{dot}");
        return Ok(ExitCode::SUCCESS);
    }
    // Resources only, with edges through values collapsed.
    let mut rg: baton_graph::Graph<String> = baton_graph::Graph::new();
    let mut ids = std::collections::HashMap::new();
    for id in g.ids() {
        if let NodeKey::Resource(..) = g.node(id) {
            ids.insert(id, rg.add_node(g.node(id).to_string()));
        }
    }
    for (id, rid) in &ids {
        for dep in ctx.graph.resource_dependencies(*id) {
            if let Some(did) = ctx.graph.id(&dep).and_then(|d| ids.get(&d)) {
                rg.add_edge(*rid, *did);
            }
        }
    }
    out!("{}", rg.transitive_reduction().to_dot(|_, s| s.clone()));
    Ok(ExitCode::SUCCESS)
}
