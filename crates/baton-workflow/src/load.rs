//! Reading the `*.baton.hcl` files of a directory into [`Workflows`]: every block and argument
//! checked, every mistake a diagnostic at its `file:line:col`, collected (loading goes on after
//! an error), then the step graphs checked (unknown steps, cycles).
//!
//! Must not evaluate anything but constant type constraints, and must not run anything.

use crate::model::{
    ApprovalRules, Executor, Input, Limit, PlaybookStep, Schedule, Step, StepKind, Trigger,
    Workflow, Workflows,
};
use baton_config::settings::{duration_attr, no_blocks, retry, unsupported};
use baton_config::syntax::{parse_file, Attribute, Block};
use baton_config::{Expr, ExprKind, FailurePolicy};
use baton_core::{Diagnostic, Diagnostics, Sources, Span};
use std::path::Path;

/// The suffix of workflow files. Terraform reads only `*.tf` and `*.tf.json`, so workflow
/// files can sit beside a root module.
pub const SUFFIX: &str = ".baton.hcl";

/// Loads every `*.baton.hcl` file of `dir` (not its subdirectories), in name order. Files are
/// named relative to `dir` in diagnostics.
pub fn load_dir(dir: &Path, sources: &Sources) -> (Workflows, Diagnostics) {
    let mut diags = Diagnostics::new();
    let mut names: Vec<String> = match std::fs::read_dir(dir) {
        Ok(rd) => rd
            .filter_map(|e| e.ok())
            .map(|e| e.file_name().to_string_lossy().to_string())
            .filter(|n| n.ends_with(SUFFIX) && !n.starts_with('.'))
            .collect(),
        Err(e) => {
            diags.push(Diagnostic::error(
                "Cannot read the workflow directory",
                format!("{}: {e}", dir.display()),
            ));
            return (Workflows::default(), diags);
        }
    };
    names.sort();
    let mut files = Vec::new();
    for n in names {
        let path = dir.join(&n);
        match std::fs::read_to_string(&path) {
            Ok(text) => files.push((n, text)),
            Err(e) => diags.push(Diagnostic::error(
                "Cannot read a workflow file",
                format!("{n}: {e}"),
            )),
        }
    }
    let (w, d) = load_texts(dir, &files, sources);
    diags.extend(d);
    (w, diags)
}

/// Loads workflow files given as (name relative to `dir`, text): the files of a directory, or
/// the copy a run recorded of them.
pub fn load_texts(
    dir: &Path,
    files: &[(String, String)],
    sources: &Sources,
) -> (Workflows, Diagnostics) {
    let mut diags = Diagnostics::new();
    let mut out = Workflows::default();
    for (name, text) in files {
        let id = sources.add(name.clone(), &dir.join(name), text.clone());
        let body = match parse_file(id, text) {
            Ok(b) => b,
            Err(d) => {
                diags.push(d);
                continue;
            }
        };
        for a in &body.attrs {
            diags.push(
                Diagnostic::error(
                    "Unsupported argument",
                    format!(
                        "An argument named \"{}\" is not expected at the top level of a workflow file; expected workflow or limit blocks.",
                        a.name
                    ),
                )
                .at(a.name_span),
            );
        }
        for b in &body.blocks {
            match b.type_.as_str() {
                "workflow" => {
                    if let Some(w) = workflow(dir, b, &mut diags) {
                        if let Some(prev) = out.get(&w.name) {
                            diags.push(
                                Diagnostic::error(
                                    "Duplicate workflow",
                                    format!(
                                        "A workflow named \"{}\" is already declared at {}.",
                                        w.name,
                                        sources.location(prev.def_span).unwrap_or_default()
                                    ),
                                )
                                .at(w.def_span),
                            );
                        } else {
                            out.workflows.push(w);
                        }
                    }
                }
                "limit" => {
                    if let Some(l) = limit(b, &mut diags) {
                        if out.limit(&l.name).is_some() {
                            diags.push(
                                Diagnostic::error(
                                    "Duplicate limit",
                                    format!("A limit named \"{}\" is already declared.", l.name),
                                )
                                .at(l.span),
                            );
                        } else {
                            out.limits.push(l);
                        }
                    }
                }
                other => diags.push(
                    Diagnostic::error(
                        "Unsupported block type",
                        format!("Blocks of type \"{other}\" are not expected in a workflow file; expected workflow or limit."),
                    )
                    .at(b.def_span),
                ),
            }
        }
    }
    for w in &out.workflows {
        crate::graph::check(w, &out, &mut diags);
    }
    (out, diags)
}

/// The one label of a block, or a diagnostic.
fn label(b: &Block, what: &str, diags: &mut Diagnostics) -> Option<String> {
    match b.labels.as_slice() {
        [(name, span)] => {
            if baton_config::model::is_valid_name(name) {
                Some(name.clone())
            } else {
                diags.push(
                    Diagnostic::error(
                        "Invalid name",
                        format!("{name:?} is not a valid {what} name: a name starts with a letter and contains only letters, digits, '-' and '_'."),
                    )
                    .at(*span),
                );
                None
            }
        }
        _ => {
            diags.push(
                Diagnostic::error(
                    "Wrong number of labels",
                    format!(
                        "A {} block has one label, its name: {} \"NAME\" {{ ... }}.",
                        b.type_, b.type_
                    ),
                )
                .at(b.def_span),
            );
            None
        }
    }
}

fn limit(b: &Block, diags: &mut Diagnostics) -> Option<Limit> {
    let name = label(b, "limit", diags)?;
    let mut max = None;
    for a in &b.body.attrs {
        match a.name.as_str() {
            "max" => max = whole_number(a, 1, diags),
            _ => unsupported(a, "a limit block", &["max"], diags),
        }
    }
    no_blocks(&b.body, "limit", diags);
    match max {
        Some(max) => Some(Limit {
            name,
            max,
            span: b.def_span,
        }),
        None => {
            if b.body.attr("max").is_none() {
                diags.push(
                    Diagnostic::error(
                        "Missing required argument",
                        "A limit block needs max, the number of steps that may hold it at once.",
                    )
                    .at(b.def_span),
                );
            }
            None
        }
    }
}

fn workflow(dir: &Path, b: &Block, diags: &mut Diagnostics) -> Option<Workflow> {
    let name = label(b, "workflow", diags)?;
    let mut w = Workflow {
        name,
        dir: dir.to_path_buf(),
        def_span: b.def_span,
        inputs: Vec::new(),
        concurrency: None,
        on_failure: FailurePolicy::Rollback,
        executor: Executor::Local,
        steps: Vec::new(),
        compensate: Vec::new(),
        schedules: Vec::new(),
        triggers: Vec::new(),
        index: Default::default(),
    };
    for a in &b.body.attrs {
        match a.name.as_str() {
            "concurrency" => w.concurrency = whole_number(a, 1, diags),
            "on_failure" => match a.expr.as_static_str().map(str::parse::<FailurePolicy>) {
                Some(Ok(p)) => w.on_failure = p,
                _ => diags.push(
                    Diagnostic::error(
                        "Invalid on_failure policy",
                        "on_failure must be the literal string \"rollback\" (undo every stack the run applied, then run the compensations) or \"halt\" (keep what was done).",
                    )
                    .at(a.expr.span),
                ),
            },
            "executor" => match a.expr.as_static_str().map(str::parse::<Executor>) {
                Some(Ok(e)) => w.executor = e,
                _ => diags.push(
                    Diagnostic::error(
                        "Invalid executor",
                        "executor must be the literal string \"local\" (command steps run in the process advancing the run) or \"workers\" (they run on `baton worker` processes sharing the store's work queue).",
                    )
                    .at(a.expr.span),
                ),
            },
            "description" => {}
            _ => unsupported(
                a,
                "a workflow block",
                &["concurrency", "on_failure", "executor", "description"],
                diags,
            ),
        }
    }
    for inner in &b.body.blocks {
        match inner.type_.as_str() {
            "input" => {
                if let Some(i) = input(dir, inner, diags) {
                    if w.inputs.iter().any(|x| x.name == i.name) {
                        diags.push(
                            Diagnostic::error(
                                "Duplicate input",
                                format!("An input named \"{}\" is already declared.", i.name),
                            )
                            .at(i.span),
                        );
                    } else {
                        w.inputs.push(i);
                    }
                }
            }
            "step" | "compensate" => {
                let is_step = inner.type_ == "step";
                if let Some(s) = step(inner, is_step, diags) {
                    let list = if is_step {
                        &mut w.steps
                    } else {
                        &mut w.compensate
                    };
                    if list.iter().any(|x| x.name == s.name) {
                        diags.push(
                            Diagnostic::error(
                                format!("Duplicate {}", inner.type_),
                                format!(
                                    "A {} named \"{}\" is already declared in workflow \"{}\".",
                                    inner.type_, s.name, w.name
                                ),
                            )
                            .at(s.def_span),
                        );
                    } else {
                        list.push(s);
                    }
                }
            }
            "schedule" => {
                if let Some(s) = schedule(inner, diags) {
                    w.schedules.push(s);
                }
            }
            "trigger" => {
                if let Some(t) = trigger(inner, diags) {
                    if w.triggers.iter().any(|x| x.name == t.name) {
                        diags.push(
                            Diagnostic::error(
                                "Duplicate trigger",
                                format!("A trigger named \"{}\" is already declared in workflow \"{}\".", t.name, w.name),
                            )
                            .at(t.span),
                        );
                    } else {
                        w.triggers.push(t);
                    }
                }
            }
            other => diags.push(
                Diagnostic::error(
                    "Unsupported block type",
                    format!("Blocks of type \"{other}\" are not expected in a workflow block; expected input, step, compensate, schedule or trigger."),
                )
                .at(inner.def_span),
            ),
        }
    }
    Some(w)
}

fn input(dir: &Path, b: &Block, diags: &mut Diagnostics) -> Option<Input> {
    let name = label(b, "input", diags)?;
    let mut i = Input {
        name,
        type_: None,
        default: None,
        description: None,
        sensitive: false,
        span: b.def_span,
    };
    for a in &b.body.attrs {
        match a.name.as_str() {
            "type" => match baton_eval::typeexpr::type_constraint(&a.expr, dir) {
                Ok(t) => i.type_ = Some(t),
                Err(d) => diags.push(d),
            },
            "default" => i.default = Some(a.expr.clone()),
            "description" => i.description = a.expr.as_static_str().map(str::to_string),
            "sensitive" => match &a.expr.kind {
                ExprKind::Bool(v) => i.sensitive = *v,
                _ => diags.push(
                    Diagnostic::error("Invalid sensitive", "sensitive must be true or false.")
                        .at(a.expr.span),
                ),
            },
            _ => unsupported(
                a,
                "an input block",
                &["type", "default", "description", "sensitive"],
                diags,
            ),
        }
    }
    no_blocks(&b.body, "input", diags);
    Some(i)
}

const STEP_ARGS: &[&str] = &[
    "apply",
    "destroy",
    "command",
    "workflow",
    "outputs",
    "env",
    "vars",
    "inputs",
    "environment",
    "depends_on",
    "for_each",
    "count",
    "timeout",
    "cache_key",
    "cache_ttl",
    "limits",
    "run_on",
];

fn step(b: &Block, is_step: bool, diags: &mut Diagnostics) -> Option<Step> {
    let what = if is_step { "step" } else { "compensate" };
    let name = label(b, what, diags)?;
    let context = format!("{what} \"{name}\"");
    let body = &b.body;
    let mut kinds: Vec<(StepKind, Span)> = Vec::new();
    let mut s = Step {
        name,
        def_span: b.def_span,
        kind: StepKind::Approval {
            message: None,
            timeout: None,
            rules: ApprovalRules::default(),
        },
        env: None,
        vars: None,
        inputs: None,
        environment: None,
        depends_on: Vec::new(),
        for_each: None,
        count: None,
        retry: Default::default(),
        timeout: None,
        cache_key: None,
        cache_ttl: None,
        limits: Vec::new(),
        run_on: None,
    };
    for a in &body.attrs {
        let e = || Some(a.expr.clone());
        match a.name.as_str() {
            "apply" => kinds.push((
                StepKind::Apply {
                    dir: a.expr.clone(),
                },
                a.span,
            )),
            "destroy" => kinds.push((
                StepKind::Destroy {
                    dir: a.expr.clone(),
                },
                a.span,
            )),
            "command" => kinds.push((
                StepKind::Command {
                    command: a.expr.clone(),
                },
                a.span,
            )),
            "workflow" => match a.expr.as_static_str() {
                Some(n) => kinds.push((
                    StepKind::Workflow {
                        name: n.to_string(),
                        name_span: a.expr.span,
                    },
                    a.span,
                )),
                None => diags.push(
                    Diagnostic::error(
                        "Invalid workflow name",
                        "workflow must be a literal string naming a workflow of this directory.",
                    )
                    .at(a.expr.span),
                ),
            },
            "outputs" => kinds.push((
                StepKind::Value {
                    outputs: a.expr.clone(),
                },
                a.span,
            )),
            "env" => s.env = e(),
            "vars" => s.vars = e(),
            "inputs" => s.inputs = e(),
            "environment" => s.environment = e(),
            "for_each" => s.for_each = e(),
            "count" => s.count = e(),
            "cache_key" => s.cache_key = e(),
            "timeout" => s.timeout = duration_attr(a, "step", &context, diags),
            "cache_ttl" => s.cache_ttl = duration_attr(a, "step", &context, diags),
            "depends_on" => s.depends_on = step_refs(a, diags),
            "limits" => s.limits = names(a, "limits", diags),
            "run_on" => s.run_on = e(),
            _ => unsupported(a, &format!("a {what} block"), STEP_ARGS, diags),
        }
    }
    for inner in &body.blocks {
        match inner.type_.as_str() {
            "retry" => s.retry = retry(&inner.body, &context, diags),
            "approval" if is_step => {
                let mut message = None;
                let mut timeout = None;
                let mut rules = ApprovalRules::default();
                for a in &inner.body.attrs {
                    match a.name.as_str() {
                        "message" => message = Some(a.expr.clone()),
                        "timeout" => timeout = duration_attr(a, "approval", &context, diags),
                        "approvers" => {
                            rules.approvers =
                                names(a, "approvers", diags).into_iter().map(|(n, _)| n).collect()
                        }
                        "role" => match a.expr.as_static_str() {
                            Some(r @ ("approver" | "admin")) => rules.role = baton_state::Role::parse(r),
                            _ => diags.push(
                                Diagnostic::error(
                                    "Invalid role",
                                    "role must be the literal string \"approver\" or \"admin\": the role a token needs to decide this approval.",
                                )
                                .at(a.expr.span),
                            ),
                        },
                        "allow_self_approval" => match &a.expr.kind {
                            ExprKind::Bool(b) => rules.allow_self_approval = *b,
                            _ => diags.push(
                                Diagnostic::error(
                                    "Invalid allow_self_approval",
                                    "allow_self_approval must be the literal true or false.",
                                )
                                .at(a.expr.span),
                            ),
                        },
                        _ => unsupported(
                            a,
                            "an approval block",
                            &["message", "timeout", "approvers", "role", "allow_self_approval"],
                            diags,
                        ),
                    }
                }
                no_blocks(&inner.body, "approval", diags);
                kinds.push((
                    StepKind::Approval {
                        message,
                        timeout,
                        rules,
                    },
                    inner.def_span,
                ));
            }
            "ansible_playbook" => {
                if let Some(p) = playbook_step(inner, &context, diags) {
                    kinds.push((StepKind::AnsiblePlaybook(Box::new(p)), inner.def_span));
                }
            }
            other => diags.push(
                Diagnostic::error(
                    "Unsupported block type",
                    format!(
                        "Blocks of type \"{other}\" are not expected in a {what} block; expected retry, ansible_playbook{}.",
                        if is_step { " or approval" } else { "" }
                    ),
                )
                .at(inner.def_span),
            ),
        }
    }
    match kinds.len() {
        1 => {
            if let Some((k, _)) = kinds.pop() {
                s.kind = k;
            }
        }
        0 => {
            diags.push(
                Diagnostic::error(
                    format!("Empty {what}"),
                    format!(
                        "{} says what it does with one of: apply = \"DIR\", destroy = \"DIR\", command = \"...\", workflow = \"NAME\", outputs = {{ ... }}, an ansible_playbook block{}.",
                        context,
                        if is_step { ", or an approval block" } else { "" }
                    ),
                )
                .at(b.def_span),
            );
            return None;
        }
        _ => {
            diags.push(
                Diagnostic::error(
                    format!("Ambiguous {what}"),
                    format!(
                        "{context} does more than one thing; a step is one of apply, destroy, command, workflow, outputs, ansible_playbook or approval."
                    ),
                )
                .at(kinds[1].1),
            );
            return None;
        }
    }
    let is_stack = matches!(s.kind, StepKind::Apply { .. } | StepKind::Destroy { .. });
    let misplaced: [(&str, bool, bool); 4] = [
        ("env", s.env.is_some(), is_stack),
        ("vars", s.vars.is_some(), is_stack),
        (
            "inputs",
            s.inputs.is_some(),
            matches!(s.kind, StepKind::Workflow { .. }),
        ),
        (
            "environment",
            s.environment.is_some(),
            matches!(s.kind, StepKind::Command { .. }),
        ),
    ];
    for (arg, given, allowed) in misplaced {
        if given && !allowed {
            let span = body.attr(arg).map(|a| a.name_span).unwrap_or(b.def_span);
            diags.push(
                Diagnostic::error(
                    "Unsupported argument",
                    format!("{arg} does not apply to a {} step.", s.kind.as_str()),
                )
                .at(span),
            );
        }
    }
    if s.for_each.is_some() && s.count.is_some() {
        diags.push(
            Diagnostic::error(
                "Invalid combination of \"count\" and \"for_each\"",
                "The \"count\" and \"for_each\" meta-arguments are mutually-exclusive, only one should be used to be explicit about the number of instances to create.",
            )
            .at(b.def_span),
        );
    }
    if s.cache_ttl.is_some() && s.cache_key.is_none() {
        let span = body
            .attr("cache_ttl")
            .map(|a| a.name_span)
            .unwrap_or(b.def_span);
        diags.push(
            Diagnostic::error(
                "cache_ttl without cache_key",
                "cache_ttl says how long a cached result is reused; give the cache_key it is stored under too.",
            )
            .at(span),
        );
    }
    Some(s)
}

const PLAYBOOK_ARGS: &[&str] = &[
    "playbook",
    "inventory",
    "limit",
    "extra_vars",
    "tags",
    "skip_tags",
    "check",
];

/// An `ansible_playbook { ... }` block of a step.
fn playbook_step(b: &Block, context: &str, diags: &mut Diagnostics) -> Option<PlaybookStep> {
    let mut playbook = None;
    let mut inventory = None;
    let (mut limit, mut extra_vars, mut tags, mut skip_tags, mut check) =
        (None, None, None, None, None);
    for a in &b.body.attrs {
        let e = Some(a.expr.clone());
        match a.name.as_str() {
            "playbook" => playbook = e,
            "inventory" => inventory = e,
            "limit" => limit = e,
            "extra_vars" => extra_vars = e,
            "tags" => tags = e,
            "skip_tags" => skip_tags = e,
            "check" => check = e,
            _ => unsupported(a, "an ansible_playbook block", PLAYBOOK_ARGS, diags),
        }
    }
    no_blocks(&b.body, "ansible_playbook", diags);
    let mut missing = |arg: &str| {
        diags.push(
            Diagnostic::error(
                "Missing required argument",
                format!("The ansible_playbook block of {context} needs {arg}."),
            )
            .at(b.def_span),
        );
    };
    match (playbook, inventory) {
        (Some(playbook), Some(inventory)) => Some(PlaybookStep {
            playbook,
            inventory,
            limit,
            extra_vars,
            tags,
            skip_tags,
            check,
        }),
        (None, _) => {
            missing("playbook");
            None
        }
        (_, None) => {
            missing("inventory");
            None
        }
    }
}

fn schedule(b: &Block, diags: &mut Diagnostics) -> Option<Schedule> {
    let name = label(b, "schedule", diags)?;
    let mut cron = None;
    let mut timezone = None;
    let mut inputs = None;
    for a in &b.body.attrs {
        match a.name.as_str() {
            "cron" => match a.expr.as_static_str() {
                Some(c) => match crate::cron::Cron::parse(c) {
                    Ok(_) => cron = Some((c.to_string(), a.expr.span)),
                    Err(e) => diags.push(
                        Diagnostic::error("Invalid cron expression", e.to_string()).at(a.expr.span),
                    ),
                },
                None => diags.push(
                    Diagnostic::error(
                        "Invalid cron expression",
                        "cron must be a literal string such as \"0 3 * * *\".",
                    )
                    .at(a.expr.span),
                ),
            },
            "timezone" => match a.expr.as_static_str() {
                Some(z) => match crate::cron::check_zone(z) {
                    Ok(()) => timezone = Some(z.to_string()),
                    Err(e) => diags.push(
                        Diagnostic::error("Invalid time zone", e.to_string()).at(a.expr.span),
                    ),
                },
                None => diags.push(
                    Diagnostic::error(
                        "Invalid time zone",
                        "timezone must be a literal IANA zone name such as \"Europe/Paris\".",
                    )
                    .at(a.expr.span),
                ),
            },
            "inputs" => inputs = Some(a.expr.clone()),
            _ => unsupported(
                a,
                "a schedule block",
                &["cron", "timezone", "inputs"],
                diags,
            ),
        }
    }
    no_blocks(&b.body, "schedule", diags);
    let Some((cron, cron_span)) = cron else {
        if b.body.attr("cron").is_none() {
            diags.push(
                Diagnostic::error(
                    "Missing required argument",
                    "A schedule block needs cron, when it fires: \"MIN HOUR DAY MONTH WEEKDAY\".",
                )
                .at(b.def_span),
            );
        }
        return None;
    };
    Some(Schedule {
        name,
        cron,
        cron_span,
        timezone,
        inputs,
        span: b.def_span,
    })
}

/// `trigger "webhook" "NAME" { secret_env, inputs, input_paths }`.
fn trigger(b: &Block, diags: &mut Diagnostics) -> Option<Trigger> {
    let name = match b.labels.as_slice() {
        [(kind, kind_span), (name, name_span)] => {
            if kind != "webhook" {
                diags.push(
                    Diagnostic::error(
                        "Unsupported trigger type",
                        format!("{kind:?} is not a trigger type; the only one is \"webhook\"."),
                    )
                    .at(*kind_span),
                );
                return None;
            }
            if !baton_config::model::is_valid_name(name) {
                diags.push(
                    Diagnostic::error(
                        "Invalid name",
                        format!("{name:?} is not a valid trigger name: a name starts with a letter and contains only letters, digits, '-' and '_'."),
                    )
                    .at(*name_span),
                );
                return None;
            }
            name.clone()
        }
        _ => {
            diags.push(
                Diagnostic::error(
                    "Wrong number of labels",
                    "A trigger block has two labels, its type and its name: trigger \"webhook\" \"NAME\" { ... }.",
                )
                .at(b.def_span),
            );
            return None;
        }
    };
    let mut secret_env = None;
    let mut inputs = None;
    let mut input_paths = Vec::new();
    for a in &b.body.attrs {
        match a.name.as_str() {
            "secret_env" => match a.expr.as_static_str() {
                Some(v) if !v.is_empty() => secret_env = Some(v.to_string()),
                _ => diags.push(
                    Diagnostic::error(
                        "Invalid secret_env",
                        "secret_env must be the literal name of an environment variable of the agent holding the webhook's secret.",
                    )
                    .at(a.expr.span),
                ),
            },
            "inputs" => inputs = Some(a.expr.clone()),
            "input_paths" => match &a.expr.kind {
                ExprKind::Object(items) => {
                    for (k, v) in items {
                        let key = match k {
                            baton_config::ast::ObjectKey::Ident(n) => Some(n.as_str()),
                            baton_config::ast::ObjectKey::Expr(e) => e.as_static_str(),
                        };
                        match (key, v.as_static_str()) {
                            (Some(k), Some(p)) if p.is_empty() || p.starts_with('/') => {
                                input_paths.push((k.to_string(), p.to_string()))
                            }
                            _ => diags.push(
                                Diagnostic::error(
                                    "Invalid input_paths",
                                    "Each element of input_paths names an input and gives a literal JSON pointer into the request's body, such as ref = \"/ref\".",
                                )
                                .at(v.span),
                            ),
                        }
                    }
                }
                _ => diags.push(
                    Diagnostic::error(
                        "Invalid input_paths",
                        "input_paths is an object of input names and JSON pointers: input_paths = { ref = \"/ref\" }.",
                    )
                    .at(a.expr.span),
                ),
            },
            _ => unsupported(
                a,
                "a trigger block",
                &["secret_env", "inputs", "input_paths"],
                diags,
            ),
        }
    }
    no_blocks(&b.body, "trigger", diags);
    let Some(secret_env) = secret_env else {
        if b.body.attr("secret_env").is_none() {
            diags.push(
                Diagnostic::error(
                    "Missing required argument",
                    "A webhook trigger needs secret_env, the environment variable holding the secret its requests are signed with.",
                )
                .at(b.def_span),
            );
        }
        return None;
    };
    Some(Trigger {
        name,
        secret_env,
        inputs,
        input_paths,
        span: b.def_span,
    })
}

/// `depends_on = [step.a, step.b]`.
fn step_refs(a: &Attribute, diags: &mut Diagnostics) -> Vec<(String, Span)> {
    let mut out = Vec::new();
    let items: Vec<&Expr> = match &a.expr.kind {
        ExprKind::Tuple(xs) => xs.iter().collect(),
        _ => {
            diags.push(
                Diagnostic::error(
                    "Invalid depends_on",
                    "depends_on is a list of steps: depends_on = [step.a, step.b].",
                )
                .at(a.expr.span),
            );
            return out;
        }
    };
    for x in items {
        let (refs, _) = baton_eval::refs::references(x);
        match refs.as_slice() {
            [r] if crate::graph::is_step_ref(&r.reference) => {
                if let baton_eval::refs::Reference::Resource(addr) = &r.reference {
                    out.push((addr.name.clone(), x.span));
                }
            }
            _ => diags.push(
                Diagnostic::error(
                    "Invalid depends_on",
                    "Each element of depends_on must name a step: step.NAME.",
                )
                .at(x.span),
            ),
        }
    }
    out
}

/// `limits = ["db", "api"]`.
fn names(a: &Attribute, what: &str, diags: &mut Diagnostics) -> Vec<(String, Span)> {
    let mut out = Vec::new();
    match &a.expr.kind {
        ExprKind::Tuple(xs) => {
            for x in xs {
                match x.as_static_str() {
                    Some(s) => out.push((s.to_string(), x.span)),
                    None => diags.push(
                        Diagnostic::error(
                            format!("Invalid {what}"),
                            format!("Each element of {what} must be a literal string."),
                        )
                        .at(x.span),
                    ),
                }
            }
        }
        _ => diags.push(
            Diagnostic::error(
                format!("Invalid {what}"),
                format!("{what} is a list of literal strings, such as [\"db\"]."),
            )
            .at(a.expr.span),
        ),
    }
    out
}

/// A literal whole number of at least `min`.
fn whole_number(a: &Attribute, min: u32, diags: &mut Diagnostics) -> Option<u32> {
    let text = match &a.expr.kind {
        ExprKind::Number(t) => t.as_str(),
        _ => "",
    };
    match text.parse::<u32>() {
        Ok(n) if n >= min => Some(n),
        _ => {
            diags.push(
                Diagnostic::error(
                    format!("Invalid {}", a.name),
                    format!(
                        "{} must be a literal whole number of at least {min}.",
                        a.name
                    ),
                )
                .at(a.expr.span),
            );
            None
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn load(text: &str) -> (Workflows, Vec<String>) {
        let (w, d) = load_texts(
            Path::new("."),
            &[("w.baton.hcl".to_string(), text.to_string())],
            &Sources::new(),
        );
        let errors = d
            .errors()
            .map(|e| format!("{}: {}", e.summary, e.detail))
            .collect();
        (w, errors)
    }

    #[test]
    fn an_ansible_playbook_block_is_a_step_kind() {
        let (w, errors) = load(
            "workflow \"w\" {\n  step \"p\" {\n    ansible_playbook {\n      playbook   = \"site.yml\"\n      inventory  = \"hosts.ini\"\n      extra_vars = { a = step.q.outputs.x }\n      check      = true\n    }\n  }\n  step \"q\" {\n    outputs = { x = 1 }\n  }\n}\n",
        );
        assert!(errors.is_empty(), "{errors:?}");
        let step = w.get("w").and_then(|w| w.step("p")).expect("step p");
        assert_eq!(step.kind.as_str(), "ansible_playbook");
        let deps: Vec<String> = crate::graph::dependencies(step)
            .into_iter()
            .map(|(d, _)| d)
            .collect();
        assert_eq!(deps, vec!["q".to_string()], "extra_vars' references count");

        let (_, errors) = load(
            "workflow \"w\" {\n  step \"p\" {\n    ansible_playbook {\n      playbook = \"site.yml\"\n      verbose  = true\n    }\n  }\n}\n",
        );
        assert!(
            errors.iter().any(|e| e.contains("needs inventory")),
            "{errors:?}"
        );
        assert!(
            errors.iter().any(|e| e.starts_with("Unsupported argument")),
            "{errors:?}"
        );

        let (_, errors) = load(
            "workflow \"w\" {\n  step \"p\" {\n    command = \"true\"\n    ansible_playbook {\n      playbook  = \"site.yml\"\n      inventory = \"hosts.ini\"\n    }\n  }\n}\n",
        );
        assert!(
            errors.iter().any(|e| e.starts_with("Ambiguous step")),
            "{errors:?}"
        );
    }

    #[test]
    fn webhook_triggers_and_approval_rules_are_decoded() {
        let (w, errors) = load(
            "workflow \"w\" {\n  input \"ref\" {\n    type = string\n  }\n  step \"ok\" {\n    approval {\n      approvers           = [\"alice\", \"bob\"]\n      role                = \"approver\"\n      allow_self_approval = true\n    }\n  }\n  trigger \"webhook\" \"push\" {\n    secret_env  = \"HOOK_SECRET\"\n    inputs      = { env = \"ci\" }\n    input_paths = { ref = \"/ref\" }\n  }\n}\n",
        );
        assert!(errors.is_empty(), "{errors:?}");
        let w = w.get("w").expect("workflow w");
        let t = &w.triggers[0];
        assert_eq!(
            (t.name.as_str(), t.secret_env.as_str()),
            ("push", "HOOK_SECRET")
        );
        assert_eq!(t.input_paths, vec![("ref".to_string(), "/ref".to_string())]);
        let Some(StepKind::Approval { rules, .. }) = w.step("ok").map(|s| &s.kind) else {
            panic!("an approval step");
        };
        assert_eq!(
            rules.approvers,
            vec!["alice".to_string(), "bob".to_string()]
        );
        assert_eq!(rules.role, Some(baton_state::Role::Approver));
        assert!(rules.allow_self_approval);

        let (_, errors) = load(
            "workflow \"w\" {\n  step \"ok\" {\n    approval {\n      role = \"operator\"\n    }\n  }\n  trigger \"cron\" \"x\" {\n  }\n  trigger \"webhook\" \"y\" {\n    input_paths = { ref = \"ref\" }\n  }\n}\n",
        );
        for want in [
            "Invalid role",
            "Unsupported trigger type",
            "Invalid input_paths",
            "Missing required argument",
        ] {
            assert!(
                errors.iter().any(|e| e.starts_with(want)),
                "{want}: {errors:?}"
            );
        }
    }

    #[test]
    fn approval_rules_refuse_self_approval_other_roles_and_strangers() {
        use baton_state::Role;
        let open = ApprovalRules::default();
        assert!(open.check("bob", Role::Approver, "api:alice").is_ok());
        assert!(
            open.check("alice", Role::Admin, "api:alice").is_err(),
            "self-approval"
        );
        let strict = ApprovalRules {
            approvers: vec!["carol".into()],
            role: Some(Role::Admin),
            allow_self_approval: true,
        };
        assert!(strict.check("carol", Role::Approver, "x").is_err(), "role");
        assert!(strict.check("dave", Role::Admin, "x").is_err(), "not named");
        assert!(strict.check("carol", Role::Admin, "api:carol").is_ok());
    }
}
