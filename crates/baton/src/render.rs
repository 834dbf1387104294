//! Human renderings, in Terraform's layout: plan changes (`+`, `~`, `-/+`, `-`, `<=`) with
//! attribute-level diffs, drift, state objects, output values.
//!
//! Sensitive values are always shown as `(sensitive value)` and unknown ones as
//! `(known after apply)`; nothing here may print a sensitive value.

use crate::diff;
use baton_engine::model::{
    Action, ActionReason, Drift, OutputChange, Plan, PlanMode, ResourceChange,
};
use baton_eval::{Kind, PathStep, Value};
use std::fmt::Write as _;

use crate::inline::{primitive, quote, KNOWN_AFTER, SENSITIVE};

fn is_compound(v: &Value) -> bool {
    v.is_known()
        && !v.is_sensitive()
        && matches!(
            v.kind(),
            Kind::List(..) | Kind::Set(..) | Kind::Tuple(_) | Kind::Map(..) | Kind::Object(_)
        )
}

fn pad(level: usize) -> String {
    " ".repeat(2 + 4 * level)
}

/// The key as printed in an object (quoted when not an identifier).
fn key_name(k: &str, is_map: bool) -> String {
    if is_map || !baton_eval::is_identifier(k) {
        quote(k)
    } else {
        k.to_string()
    }
}

struct Out {
    s: String,
}

impl Out {
    fn line(&mut self, level: usize, sym: &str, text: &str) {
        let sym = if sym.is_empty() { " " } else { sym };
        let _ = writeln!(self.s, "{}{} {}", pad(level), sym, text);
    }
    fn close(&mut self, level: usize, text: &str) {
        let _ = writeln!(self.s, "{}  {}", pad(level), text);
    }
}

/// Renders a whole value after `prefix` (e.g. `+ name = `) with every part marked `sym`.
fn render_all(o: &mut Out, level: usize, sym: &str, head: &str, v: &Value, tail: &str) {
    if let (Some(text), false, true) = (v.as_str(), v.is_sensitive(), v.is_known()) {
        if text.contains('\n') {
            // Multi-line strings as a trimmed heredoc, as Terraform shows them.
            o.line(level, sym, &format!("{head}<<-EOT"));
            let indent = " ".repeat(2 + 4 * level + 2 + 4);
            for l in text.strip_suffix('\n').unwrap_or(text).split('\n') {
                if l.is_empty() {
                    o.s.push('\n');
                } else {
                    let _ = writeln!(o.s, "{indent}{l}");
                }
            }
            o.close(level, &format!("EOT{tail}"));
            return;
        }
    }
    if !is_compound(v) {
        o.line(level, sym, &format!("{head}{}{tail}", primitive(v)));
        return;
    }
    match v.kind() {
        Kind::List(_, items) | Kind::Set(_, items) | Kind::Tuple(items) => {
            if items.is_empty() {
                o.line(level, sym, &format!("{head}[]{tail}"));
                return;
            }
            o.line(level, sym, &format!("{head}["));
            for x in items.iter() {
                render_all(o, level + 1, sym, "", x, ",");
            }
            o.close(level, &format!("]{tail}"));
        }
        Kind::Map(_, items) | Kind::Object(items) => {
            let is_map = matches!(v.kind(), Kind::Map(..));
            let shown: Vec<(&String, &Value)> =
                items.iter().filter(|(_, x)| !x.is_null()).collect();
            if shown.is_empty() {
                o.line(level, sym, &format!("{head}{{}}{tail}"));
                return;
            }
            o.line(level, sym, &format!("{head}{{"));
            let w = shown
                .iter()
                .map(|(k, _)| key_name(k, is_map).len())
                .max()
                .unwrap_or(0);
            for (k, x) in shown {
                let name = format!("{:w$} = ", key_name(k, is_map));
                render_all(o, level + 1, sym, &name, x, "");
            }
            o.close(level, &format!("}}{tail}"));
        }
        _ => o.line(level, sym, &format!("{head}{}{tail}", primitive(v))),
    }
}

fn plural(n: usize, word: &str) -> String {
    if n == 1 {
        word.to_string()
    } else {
        format!("{word}s")
    }
}

fn symbol(a: Action) -> &'static str {
    match a {
        Action::Create => "  +",
        Action::Update => "  ~",
        Action::Delete => "  -",
        Action::DeleteThenCreate => "-/+",
        Action::CreateThenDelete => "+/-",
        Action::Read => " <=",
        Action::Forget => "  .",
        Action::NoOp => "   ",
    }
}

fn block_header(c_addr: &baton_core::InstanceAddr) -> String {
    let r = &c_addr.resource;
    match r.mode {
        baton_core::ResourceMode::Managed => {
            format!("resource {} {}", quote(&r.type_), quote(&r.name))
        }
        baton_core::ResourceMode::Data => format!("data {} {}", quote(&r.type_), quote(&r.name)),
    }
}

fn headline(c: &ResourceChange) -> String {
    let a = match &c.deposed {
        Some(d) => format!("{} (deposed object {d})", c.addr),
        None => c.addr.to_string(),
    };
    let mut s = match (c.action, c.reason) {
        (Action::NoOp, _) if c.importing.is_some() => format!("# {a} will be imported"),
        (Action::NoOp, _) if c.previous_addr.is_some() => format!(
            "# {} has moved to {a}",
            c.previous_addr
                .as_ref()
                .map(ToString::to_string)
                .unwrap_or_default()
        ),
        (Action::Forget, _) => format!("# {a} will no longer be managed by Baton"),
        (Action::Create, _) => format!("# {a} will be created"),
        (Action::Update, _) => format!("# {a} will be updated in-place"),
        (Action::Delete, _) => format!("# {a} will be destroyed"),
        (Action::Read, _) => format!("# {a} will be read during apply"),
        (_, Some(ActionReason::ReplaceBecauseTainted)) => {
            format!("# {a} is tainted, so must be replaced")
        }
        (_, Some(ActionReason::ReplaceByRequest)) => {
            format!("# {a} will be replaced, as requested")
        }
        (_, Some(ActionReason::ReplaceByTriggers)) => {
            format!("# {a} will be replaced due to changes in replace_triggered_by")
        }
        (Action::DeleteThenCreate | Action::CreateThenDelete, _) => {
            format!("# {a} must be replaced")
        }
        (Action::NoOp, _) => format!("# {a} is unchanged"),
    };
    let because = match c.reason {
        Some(ActionReason::DeleteBecauseNoResourceConfig) => Some(format!(
            "(because {} is not in configuration)",
            c.addr.resource_string()
        )),
        Some(ActionReason::DeleteBecauseCountIndex) => Some(format!(
            "(because index {} is out of range for count)",
            c.addr
                .key
                .as_ref()
                .map(ToString::to_string)
                .unwrap_or_default()
        )),
        Some(ActionReason::DeleteBecauseEachKey) => Some(format!(
            "(because key {} is not in for_each map)",
            c.addr
                .key
                .as_ref()
                .map(ToString::to_string)
                .unwrap_or_default()
        )),
        Some(ActionReason::DeleteBecauseNoModule) => Some(format!(
            "(because {} is not in configuration)",
            c.addr.module
        )),
        Some(ActionReason::ReadBecauseConfigUnknown) => {
            Some("(config refers to values not yet known)".to_string())
        }
        Some(ActionReason::ReadBecauseDependencyPending) => {
            Some("(depends on a resource or a module with changes pending)".to_string())
        }
        _ => None,
    };
    if let Some(b) = because {
        let _ = write!(s, "\n  # {b}");
    }
    if c.action != Action::NoOp {
        if let Some(prev) = &c.previous_addr {
            let _ = write!(s, "\n  # (moved from {prev})");
        }
        if let Some(id) = &c.importing {
            let _ = write!(s, "\n  # (imported from {})", quote(id));
        }
    }
    s
}

/// The attributes of a resource type whose schema type is `any`: Terraform reads their values
/// as JSON (maps as objects, every sequence as a list).
fn dynamic_attrs(addr: &baton_core::InstanceAddr) -> Vec<String> {
    let r = &addr.resource;
    let reg = baton_provider::registry();
    let schema = match r.mode {
        baton_core::ResourceMode::Managed => reg.resource_type(&r.type_).map(|(_, t)| t.schema()),
        baton_core::ResourceMode::Data => reg.data_source(&r.type_).map(|(_, t)| t.schema()),
    };
    schema
        .map(|s| {
            s.attrs
                .iter()
                .filter(|(_, a)| a.ty == baton_eval::Type::Dynamic)
                .map(|(k, _)| k.clone())
                .collect()
        })
        .unwrap_or_default()
}

/// One resource change, Terraform style: every attribute through the one value differ.
pub fn render_change(c: &ResourceChange) -> String {
    let mut s = String::new();
    let _ = writeln!(s, "  {}", headline(c));
    let _ = writeln!(s, "{} {} {{", symbol(c.action), block_header(&c.addr));
    let (before, after) = match c.action {
        Action::Create | Action::Read => (None, Some(&c.after)),
        Action::Delete => (Some(&c.before), None),
        Action::Forget => (Some(&c.before), Some(&c.before)),
        _ => (Some(&c.before), Some(&c.after)),
    };
    let show_all = c.action == Action::Forget;
    let be = before.and_then(Value::as_entries);
    let ae = after.and_then(Value::as_entries);
    let mut keys: Vec<&String> = be
        .into_iter()
        .flat_map(|e| e.keys())
        .chain(ae.into_iter().flat_map(|e| e.keys()))
        .collect();
    keys.sort();
    keys.dedup();
    let dynamic = dynamic_attrs(&c.addr);
    let absent = |v: Option<&Value>| v.is_none_or(|v| v.is_null() && v.is_known());
    let mut attrs = Vec::new();
    for k in keys {
        // A null attribute of a block is absent: Terraform records none, and one becoming
        // null is deleted (`- x = ... -> null`).
        let b = be.and_then(|e| e.get(k)).filter(|v| !absent(Some(v)));
        let a = ae.and_then(|e| e.get(k)).filter(|v| !absent(Some(v)));
        if b.is_none() && a.is_none() {
            continue;
        }
        let ctx = diff::Ctx {
            mode: if dynamic.contains(k) {
                diff::Mode::Dynamic
            } else {
                diff::Mode::Typed
            },
            replace: &c.replace_paths,
        };
        let d = diff::build(b, a, &ctx, &mut vec![PathStep::Key(k.clone())]);
        attrs.push((k, d));
    }
    let w = attrs
        .iter()
        .map(|(k, _)| diff::attr_name(k).len())
        .max()
        .unwrap_or(0);
    let mut hidden = 0;
    for (k, d) in &attrs {
        let opts = diff::Opts {
            show_unchanged: show_all || diff::important(k),
            ..Default::default()
        };
        if d.act == diff::Act::NoOp && !opts.show_unchanged {
            hidden += 1;
            continue;
        }
        for warning in d.warnings(1) {
            let _ = writeln!(s, "    {warning}");
        }
        let _ = writeln!(
            s,
            "    {} {:w$} = {}",
            diff::symbol(d.act),
            diff::attr_name(k),
            d.render(1, opts)
        );
    }
    if hidden > 0 {
        let _ = writeln!(
            s,
            "        # ({hidden} unchanged {} hidden)",
            plural(hidden, "attribute")
        );
    }
    s.push_str("    }\n");
    s
}

pub fn render_drift(d: &Drift) -> String {
    let c = ResourceChange {
        addr: d.addr.clone(),
        deposed: d.deposed.clone(),
        provider_name: d.provider_name.clone(),
        provider_source: d.provider_source.clone(),
        action: if d.after.is_null() {
            Action::Delete
        } else {
            Action::Update
        },
        reason: None,
        before: d.before.clone(),
        after: d.after.clone(),
        replace_paths: Vec::new(),
        dependencies: Vec::new(),
        create_before_destroy: false,
        previous_addr: None,
        importing: None,
    };
    let body = render_change(&c);
    let first = body.lines().next().unwrap_or_default().to_string();
    let what = if d.after.is_null() {
        "has been deleted"
    } else {
        "has changed"
    };
    let new_first = format!("  # {} {what}", d.addr);
    body.replacen(&first, &new_first, 1)
}

/// An output's change as Terraform draws it (outputs are read as JSON), or `None` when nothing
/// visible changes (an output that stays null).
fn output_line(o: &OutputChange, w: usize) -> Option<String> {
    if o.action == Action::NoOp {
        return None;
    }
    let mark = |v: &Value| {
        if o.sensitive && !v.is_null() {
            v.clone().mark_sensitive()
        } else {
            v.clone()
        }
    };
    let (before, after) = (mark(&o.before), mark(&o.after));
    let present = |v: &Value| !(v.is_null() && v.is_known());
    let ctx = diff::Ctx {
        mode: diff::Mode::Dynamic,
        replace: &[],
    };
    let d = diff::build(
        Some(&before).filter(|v| present(v)),
        Some(&after).filter(|v| present(v)),
        &ctx,
        &mut Vec::new(),
    );
    if d.act == diff::Act::NoOp {
        return None;
    }
    Some(format!(
        "{} {:w$} = {}",
        diff::symbol(d.act),
        diff::attr_name(&o.name),
        d.render(0, diff::Opts::default())
    ))
}

/// The whole plan for humans.
pub fn render_plan(plan: &Plan) -> String {
    let mut s = String::new();
    if !plan.drift.is_empty() {
        s.push_str("\nNote: Objects have changed outside of Baton\n\n");
        s.push_str("Baton detected the following changes made outside of Baton since the last \"baton apply\" which may have affected this plan:\n\n");
        for d in &plan.drift {
            s.push_str(&render_drift(d));
            s.push('\n');
        }
        if plan.mode == PlanMode::RefreshOnly {
            s.push_str("This is a refresh-only plan, so Baton will not take any actions to undo these. If you were expecting these changes then you can apply this plan to record the updated values in the Baton state without changing any remote objects.\n");
        } else {
            s.push_str("Unless you have made equivalent changes to your configuration, or ignored the relevant attributes using ignore_changes, the following plan may include actions to undo or respond to these changes.\n");
        }
        s.push_str(
            "\n─────────────────────────────────────────────────────────────────────────────\n",
        );
    }
    let changes: Vec<&ResourceChange> = plan.changes.iter().filter(|c| c.is_effective()).collect();
    let w = plan.outputs.iter().map(|o| o.name.len()).max().unwrap_or(0);
    let output_changes: Vec<String> = plan
        .outputs
        .iter()
        .filter_map(|o| output_line(o, w))
        .collect();
    if changes.is_empty() {
        if plan.mode == PlanMode::Destroy && output_changes.is_empty() {
            s.push_str("\nNo changes. No objects need to be destroyed.\n\nEither you have not created any objects yet or the existing objects were already deleted outside of Baton.\n");
            return s;
        }
        if plan.mode == PlanMode::RefreshOnly {
            if plan.drift.is_empty() {
                s.push_str("\nNo changes. Your infrastructure still matches the configuration.\n\nBaton has checked that the real remote objects still match the result of your most recent changes, and found no differences.\n");
            }
        } else if output_changes.is_empty() {
            s.push_str("\nNo changes. Your infrastructure matches the configuration.\n\nBaton has compared your real infrastructure against your configuration and found no differences, so no changes are needed.\n");
            return s;
        } else {
            s.push_str("\nChanges to Outputs:\n");
            for line in &output_changes {
                s.push_str(line);
                s.push('\n');
            }
            s.push_str("\nYou can apply this plan to save these new output values to the Baton state, without changing any real infrastructure.\n");
            return s;
        }
        return s;
    }
    let mut used: Vec<Action> = changes.iter().map(|c| c.action).collect();
    used.sort();
    used.dedup();
    s.push_str("\nBaton used the selected providers to generate the following execution plan. Resource actions are indicated with the following symbols:\n");
    for a in used {
        let line = match a {
            Action::Create => "  + create",
            Action::Update => "  ~ update in-place",
            Action::Delete => "  - destroy",
            Action::DeleteThenCreate => "-/+ destroy and then create replacement",
            Action::CreateThenDelete => "+/- create replacement and then destroy",
            Action::Read => " <= read (data resources)",
            Action::Forget => "  . forget",
            Action::NoOp => continue,
        };
        s.push_str(line);
        s.push('\n');
    }
    s.push_str("\nBaton will perform the following actions:\n\n");
    for c in &changes {
        s.push_str(&render_change(c));
        s.push('\n');
    }
    let (add, change, destroy) = plan.summary();
    let (import, forget) = plan.summary_extra();
    let imports = if import > 0 {
        format!("{import} to import, ")
    } else {
        String::new()
    };
    let forgets = if forget > 0 {
        format!(", {forget} to forget")
    } else {
        String::new()
    };
    let _ = writeln!(
        s,
        "Plan: {imports}{add} to add, {change} to change, {destroy} to destroy{forgets}."
    );
    if !output_changes.is_empty() {
        s.push_str("\nChanges to Outputs:\n");
        for line in &output_changes {
            s.push_str(line);
            s.push('\n');
        }
    }
    s
}

/// A state object as `state show` prints it.
pub fn render_object(addr: &baton_core::InstanceAddr, v: &Value, tainted: bool) -> String {
    let mut o = Out { s: String::new() };
    if tainted {
        let _ = writeln!(o.s, "# {addr}: (tainted)");
    } else {
        let _ = writeln!(o.s, "# {addr}:");
    }
    let _ = writeln!(o.s, "{} {{", block_header(addr));
    if let Some(items) = v.as_entries() {
        let shown: Vec<(&String, &Value)> = items.iter().filter(|(_, x)| !x.is_null()).collect();
        let w = shown.iter().map(|(k, _)| k.len()).max().unwrap_or(0);
        for (k, x) in shown {
            render_all(&mut o, 0, "", &format!("{k:w$} = "), x, "");
        }
    }
    o.s.push_str("}\n");
    o.s
}

/// A value as `baton output` prints it (Terraform's console format: `tolist([...])`,
/// `tomap({...})`, quoted object keys, heredocs for multi-line strings).
pub fn render_value(v: &Value) -> String {
    let mut out = String::new();
    format_value(v, 0, &mut out);
    out
}

fn format_value(v: &Value, indent: usize, out: &mut String) {
    if v.is_sensitive() {
        out.push_str(SENSITIVE);
        return;
    }
    if !v.is_known() {
        out.push_str(KNOWN_AFTER);
        return;
    }
    let pad = "  ".repeat(indent + 1);
    let end = "  ".repeat(indent);
    match v.kind() {
        Kind::String(s) if s.contains('\n') => {
            out.push_str("<<EOT\n");
            out.push_str(s);
            out.push_str("\nEOT");
        }
        Kind::List(_, items) | Kind::Set(_, items) | Kind::Tuple(items) => {
            let (open, close) = match v.kind() {
                Kind::List(..) => ("tolist([", "])"),
                Kind::Set(..) => ("toset([", "])"),
                _ => ("[", "]"),
            };
            out.push_str(open);
            if !items.is_empty() {
                out.push('\n');
                for x in items.iter() {
                    out.push_str(&pad);
                    format_value(x, indent + 1, out);
                    out.push_str(",\n");
                }
                out.push_str(&end);
            }
            out.push_str(close);
        }
        Kind::Map(_, items) | Kind::Object(items) => {
            let (open, close) = match v.kind() {
                Kind::Map(..) => ("tomap({", "})"),
                _ => ("{", "}"),
            };
            out.push_str(open);
            if !items.is_empty() {
                out.push('\n');
                for (k, x) in items.iter() {
                    out.push_str(&pad);
                    out.push_str(&quote(k));
                    out.push_str(" = ");
                    format_value(x, indent + 1, out);
                    out.push('\n');
                }
                out.push_str(&end);
            }
            out.push_str(close);
        }
        _ => out.push_str(&primitive(v)),
    }
}
