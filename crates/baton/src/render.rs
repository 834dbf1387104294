//! Human renderings, in Terraform's layout: plan changes (`+`, `~`, `-/+`, `-`, `<=`) with
//! attribute-level diffs, drift, state objects, output values.
//!
//! Sensitive values are always shown as `(sensitive value)` and unknown ones as
//! `(known after apply)`; nothing here may print a sensitive value.

use baton_engine::model::{
    Action, ActionReason, Drift, OutputChange, Plan, PlanMode, ResourceChange,
};
use baton_eval::{Kind, PathStep, Value};
use std::fmt::Write as _;

const KNOWN_AFTER: &str = "(known after apply)";
const SENSITIVE: &str = "(sensitive value)";

/// A primitive value inline.
pub fn primitive(v: &Value) -> String {
    if v.is_sensitive() {
        return SENSITIVE.into();
    }
    if !v.is_known() {
        return KNOWN_AFTER.into();
    }
    match v.kind() {
        Kind::Null(_) => "null".into(),
        Kind::Bool(b) => b.to_string(),
        Kind::Number(n) => n.to_string(),
        Kind::String(s) => quote(s),
        _ => String::new(),
    }
}

/// A string quoted the way HCL writes it.
pub fn quote(s: &str) -> String {
    let q = serde_json::to_string(s).unwrap_or_else(|_| format!("\"{s}\""));
    q.replace("${", "$${").replace("%{", "%%{")
}

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

fn forces(path: &[PathStep], replace: &[Vec<PathStep>]) -> bool {
    replace.iter().any(|p| p.as_slice() == path)
}

/// Renders the difference of one named value. Returns false if it is unchanged (not printed).
fn render_diff(
    o: &mut Out,
    level: usize,
    name: &str,
    before: &Value,
    after: &Value,
    path: &[PathStep],
    replace: &[Vec<PathStep>],
) -> bool {
    let same = before.raw_equal(after)
        && before.sensitive_paths() == after.sensitive_paths()
        && after.is_wholly_known();
    if same {
        return false;
    }
    let note = if forces(path, replace) {
        " # forces replacement"
    } else {
        ""
    };
    let head = if name.is_empty() {
        String::new()
    } else {
        format!("{name} = ")
    };
    if before.is_null() {
        render_all(o, level, "+", &head, after, note);
        return true;
    }
    if after.is_null() && after.is_known() {
        if is_compound(before) {
            render_all(o, level, "-", &head, before, &format!(" -> null{note}"));
        } else {
            o.line(
                level,
                "-",
                &format!("{head}{} -> null{note}", primitive(before)),
            );
        }
        return true;
    }
    if before.is_sensitive() || after.is_sensitive() {
        o.line(level, "~", &format!("{head}{SENSITIVE}{note}"));
        return true;
    }
    if !after.is_known() {
        if is_compound(before) {
            render_all(
                o,
                level,
                "-",
                &head,
                before,
                &format!(" -> {KNOWN_AFTER}{note}"),
            );
            // Terraform prints the old value with `~` on the opening line; keep it simple.
        } else {
            o.line(
                level,
                "~",
                &format!("{head}{} -> {KNOWN_AFTER}{note}", primitive(before)),
            );
        }
        return true;
    }
    match (before.kind(), after.kind()) {
        (Kind::Map(_, b) | Kind::Object(b), Kind::Map(_, a) | Kind::Object(a)) => {
            let is_map = matches!(after.kind(), Kind::Map(..));
            o.line(level, "~", &format!("{head}{{{note}"));
            let mut keys: Vec<&String> = b.keys().chain(a.keys()).collect();
            keys.sort();
            keys.dedup();
            let w = keys
                .iter()
                .map(|k| key_name(k, is_map).len())
                .max()
                .unwrap_or(0);
            let mut hidden = 0;
            for k in keys {
                let null = Value::dynamic_null();
                let bv = b.get(k).unwrap_or(&null);
                let av = a.get(k).unwrap_or(&null);
                let mut p = path.to_vec();
                p.push(PathStep::Key(k.clone()));
                let name = format!("{:w$}", key_name(k, is_map));
                if !render_diff(o, level + 1, &name, bv, av, &p, replace) {
                    hidden += 1;
                }
            }
            if hidden > 0 {
                o.close(
                    level + 1,
                    &format!(
                        "# ({hidden} unchanged {} hidden)",
                        if is_map {
                            plural(hidden, "element")
                        } else {
                            plural(hidden, "attribute")
                        }
                    ),
                );
            }
            o.close(level, "}");
            true
        }
        (
            Kind::List(_, b) | Kind::Set(_, b) | Kind::Tuple(b),
            Kind::List(_, a) | Kind::Set(_, a) | Kind::Tuple(a),
        ) => {
            o.line(level, "~", &format!("{head}[{note}"));
            let ops = lcs_diff(b, a);
            let mut hidden = 0;
            for op in ops {
                match op {
                    ListOp::Same => hidden += 1,
                    ListOp::Removed(x) => {
                        if hidden > 0 {
                            o.close(
                                level + 1,
                                &format!(
                                    "# ({hidden} unchanged {} hidden)",
                                    plural(hidden, "element")
                                ),
                            );
                            hidden = 0;
                        }
                        render_all(o, level + 1, "-", "", x, ",");
                    }
                    ListOp::Added(x) => {
                        if hidden > 0 {
                            o.close(
                                level + 1,
                                &format!(
                                    "# ({hidden} unchanged {} hidden)",
                                    plural(hidden, "element")
                                ),
                            );
                            hidden = 0;
                        }
                        render_all(o, level + 1, "+", "", x, ",");
                    }
                }
            }
            if hidden > 0 {
                o.close(
                    level + 1,
                    &format!(
                        "# ({hidden} unchanged {} hidden)",
                        plural(hidden, "element")
                    ),
                );
            }
            o.close(level, "]");
            true
        }
        _ => {
            if is_compound(before) || is_compound(after) {
                render_all(o, level, "-", &head, before, "");
                render_all(o, level, "+", &head, after, note);
            } else {
                o.line(
                    level,
                    "~",
                    &format!("{head}{} -> {}{note}", primitive(before), primitive(after)),
                );
            }
            true
        }
    }
}

fn plural(n: usize, word: &str) -> String {
    if n == 1 {
        word.to_string()
    } else {
        format!("{word}s")
    }
}

enum ListOp<'a> {
    Same,
    Removed(&'a Value),
    Added(&'a Value),
}

fn lcs_diff<'a>(b: &'a [Value], a: &'a [Value]) -> Vec<ListOp<'a>> {
    let (n, m) = (b.len(), a.len());
    if n * m > 1_000_000 {
        let mut v: Vec<ListOp<'a>> = b.iter().map(ListOp::Removed).collect();
        v.extend(a.iter().map(ListOp::Added));
        return v;
    }
    let mut t = vec![vec![0u32; m + 1]; n + 1];
    for i in (0..n).rev() {
        for j in (0..m).rev() {
            t[i][j] = if b[i].raw_equal(&a[j]) && a[j].is_wholly_known() {
                t[i + 1][j + 1] + 1
            } else {
                t[i + 1][j].max(t[i][j + 1])
            };
        }
    }
    let (mut i, mut j) = (0, 0);
    let mut out = Vec::new();
    while i < n && j < m {
        if b[i].raw_equal(&a[j]) && a[j].is_wholly_known() {
            out.push(ListOp::Same);
            i += 1;
            j += 1;
        } else if t[i + 1][j] >= t[i][j + 1] {
            out.push(ListOp::Removed(&b[i]));
            i += 1;
        } else {
            out.push(ListOp::Added(&a[j]));
            j += 1;
        }
    }
    out.extend(b[i..].iter().map(ListOp::Removed));
    out.extend(a[j..].iter().map(ListOp::Added));
    out
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

/// One resource change, Terraform style.
pub fn render_change(c: &ResourceChange) -> String {
    let mut o = Out { s: String::new() };
    let _ = writeln!(o.s, "  {}", headline(c));
    let _ = writeln!(o.s, "{} {} {{", symbol(c.action), block_header(&c.addr));
    let (sym_all, val) = match c.action {
        Action::Create | Action::Read => (Some("+"), &c.after),
        Action::Delete => (Some("-"), &c.before),
        Action::Forget => (Some(" "), &c.before),
        _ => (None, &c.after),
    };
    match sym_all {
        Some(sym) => {
            if let Some(items) = val.as_entries() {
                let shown: Vec<(&String, &Value)> = items
                    .iter()
                    .filter(|(_, x)| !(x.is_null() && x.is_known()))
                    .collect();
                let w = shown.iter().map(|(k, _)| k.len()).max().unwrap_or(0);
                for (k, x) in shown {
                    let tail = if sym == "-" { " -> null" } else { "" };
                    let sym = if sym == " " { "" } else { sym };
                    render_all(&mut o, 1, sym, &format!("{k:w$} = "), x, tail);
                }
            }
        }
        None => {
            let before = c.before.as_entries().cloned().unwrap_or_default();
            let after = c.after.as_entries().cloned().unwrap_or_default();
            let mut keys: Vec<&String> = before.keys().chain(after.keys()).collect();
            keys.sort();
            keys.dedup();
            let w = keys.iter().map(|k| k.len()).max().unwrap_or(0);
            let mut hidden = 0;
            for k in keys {
                let null = Value::dynamic_null();
                let b = before.get(k).unwrap_or(&null);
                let a = after.get(k).unwrap_or(&null);
                let name = format!("{k:w$}");
                let changed = render_diff(
                    &mut o,
                    1,
                    &name,
                    b,
                    a,
                    &[PathStep::Key(k.clone())],
                    &c.replace_paths,
                );
                if !changed {
                    // Identifying attributes are always shown.
                    if (k == "id" || k == "name") && !b.is_null() {
                        o.line(1, "", &format!("{name} = {}", primitive(b)));
                    } else {
                        hidden += 1;
                    }
                }
            }
            if hidden > 0 {
                o.close(
                    1,
                    &format!(
                        "# ({hidden} unchanged {} hidden)",
                        plural(hidden, "attribute")
                    ),
                );
            }
        }
    }
    let _ = writeln!(o.s, "    }}");
    o.s
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

fn output_line(o: &OutputChange, w: usize) -> String {
    let name = format!("{:w$}", o.name);
    let show = |v: &Value| {
        if o.sensitive || v.contains_sensitive() {
            SENSITIVE.to_string()
        } else if is_compound(v) {
            let mut out = Out { s: String::new() };
            render_all(&mut out, 0, "", "", v, "");
            out.s.trim().to_string()
        } else {
            primitive(v)
        }
    };
    match o.action {
        Action::Create => format!("  + {name} = {}", show(&o.after)),
        Action::Delete => format!("  - {name} = {} -> null", show(&o.before)),
        _ => format!("  ~ {name} = {} -> {}", show(&o.before), show(&o.after)),
    }
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
    let output_changes: Vec<&OutputChange> = plan
        .outputs
        .iter()
        .filter(|o| o.action != Action::NoOp)
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
            let w = plan.outputs.iter().map(|o| o.name.len()).max().unwrap_or(0);
            for o in &output_changes {
                s.push_str(&output_line(o, w));
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
        let w = plan.outputs.iter().map(|o| o.name.len()).max().unwrap_or(0);
        for o in &output_changes {
            s.push_str(&output_line(o, w));
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
