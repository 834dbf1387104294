//! References from expressions to named objects (`var.x`, `local.y`, `module.m`,
//! `data.t.n`, `t.n`, `count.index`, `each.key`, `path.module`, `terraform.workspace`,
//! `self`), found by walking an expression without evaluating it.
//!
//! The dependency graph is built from these. Names bound by `for` expressions and template
//! `for` directives are not references. Nothing here resolves a reference to a value.

use baton_config::{Expr, ExprKind, ObjectKey, TemplatePart, TraversalStep};
use baton_core::{Diagnostic, ResourceAddr, Span};
use std::collections::HashSet;

#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Reference {
    Var(String),
    Local(String),
    /// A module call's outputs: `module.net`.
    Module(String),
    /// A managed resource or a data source, as a whole (all its instances).
    Resource(ResourceAddr),
    CountIndex,
    EachKey,
    EachValue,
    PathModule,
    PathRoot,
    PathCwd,
    TerraformWorkspace,
    SelfRef,
}

impl std::fmt::Display for Reference {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Reference::Var(n) => write!(f, "var.{n}"),
            Reference::Local(n) => write!(f, "local.{n}"),
            Reference::Module(n) => write!(f, "module.{n}"),
            Reference::Resource(r) => write!(f, "{r}"),
            Reference::CountIndex => f.write_str("count.index"),
            Reference::EachKey => f.write_str("each.key"),
            Reference::EachValue => f.write_str("each.value"),
            Reference::PathModule => f.write_str("path.module"),
            Reference::PathRoot => f.write_str("path.root"),
            Reference::PathCwd => f.write_str("path.cwd"),
            Reference::TerraformWorkspace => f.write_str("terraform.workspace"),
            Reference::SelfRef => f.write_str("self"),
        }
    }
}

/// A reference found in an expression, with the span of the part that names it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RefAt {
    pub reference: Reference,
    pub span: Span,
    /// How many traversal steps after the root name the reference consumed.
    pub consumed: usize,
    /// The attribute name right after the reference, if any (`module.net.vpc_id` → `vpc_id`).
    pub next_attr: Option<String>,
}

/// Interprets a root name and the steps after it as a reference. `Ok(None)` means the root is
/// not a reference at all (it cannot happen for a well-formed traversal).
pub fn parse_reference(
    root: &str,
    root_span: Span,
    steps: &[TraversalStep<'_>],
) -> Result<RefAt, Diagnostic> {
    let attr = |i: usize| -> Option<(&str, Span)> {
        match steps.get(i) {
            Some(TraversalStep::Attr(n, s)) => Some((n, *s)),
            _ => None,
        }
    };
    let span_to = |i: usize| -> Span {
        match steps.get(i) {
            Some(TraversalStep::Attr(_, s)) | Some(TraversalStep::Index(_, s)) => root_span.to(*s),
            None => root_span,
        }
    };
    let need_attr = |what: &str, example: &str| -> Diagnostic {
        Diagnostic::error(
            "Invalid reference",
            format!("The \"{root}\" object must be followed by {what}, such as {example}."),
        )
        .at(span_to(0))
    };
    let next = |i: usize| attr(i).map(|(n, _)| n.to_string());
    let one = |r: Reference| RefAt {
        reference: r,
        span: span_to(0),
        consumed: 1,
        next_attr: next(1),
    };
    match root {
        "var" => attr(0)
            .map(|(n, _)| one(Reference::Var(n.to_string())))
            .ok_or_else(|| need_attr("an attribute name naming an input variable", "var.name")),
        "local" => attr(0)
            .map(|(n, _)| one(Reference::Local(n.to_string())))
            .ok_or_else(|| need_attr("an attribute name naming a local value", "local.name")),
        "module" => attr(0)
            .map(|(n, _)| one(Reference::Module(n.to_string())))
            .ok_or_else(|| need_attr("a module name", "module.network")),
        "count" => match attr(0) {
            Some(("index", _)) => Ok(one(Reference::CountIndex)),
            _ => Err(Diagnostic::error(
                "Invalid \"count\" attribute",
                "The \"count\" object does not have an attribute with that name. The only supported attribute is count.index, which is the index of each instance of a resource block that has the \"count\" argument set.",
            )
            .at(span_to(0))),
        },
        "each" => match attr(0) {
            Some(("key", _)) => Ok(one(Reference::EachKey)),
            Some(("value", _)) => Ok(one(Reference::EachValue)),
            _ => Err(Diagnostic::error(
                "Invalid \"each\" attribute",
                "The \"each\" object has only the attributes \"key\" and \"value\".",
            )
            .at(span_to(0))),
        },
        "path" => match attr(0) {
            Some(("module", _)) => Ok(one(Reference::PathModule)),
            Some(("root", _)) => Ok(one(Reference::PathRoot)),
            Some(("cwd", _)) => Ok(one(Reference::PathCwd)),
            _ => Err(Diagnostic::error(
                "Invalid \"path\" attribute",
                "The \"path\" object has only the attributes \"module\", \"root\" and \"cwd\".",
            )
            .at(span_to(0))),
        },
        "terraform" => match attr(0) {
            Some(("workspace", _)) => Ok(one(Reference::TerraformWorkspace)),
            _ => Err(Diagnostic::error(
                "Invalid \"terraform\" attribute",
                "The \"terraform\" object has only the attribute \"workspace\".",
            )
            .at(span_to(0))),
        },
        "self" => Ok(RefAt {
            reference: Reference::SelfRef,
            span: root_span,
            consumed: 0,
            next_attr: next(0),
        }),
        "data" => match (attr(0), attr(1)) {
            (Some((t, _)), Some((n, _))) => Ok(RefAt {
                reference: Reference::Resource(ResourceAddr::data(t, n)),
                span: span_to(1),
                consumed: 2,
                next_attr: next(2),
            }),
            _ => Err(Diagnostic::error(
                "Invalid data resource reference",
                "A reference to a data source must be followed by the data source type and name, such as data.local_file.config.",
            )
            .at(span_to(0))),
        },
        "resource" | "ephemeral" if attr(1).is_some() => match (attr(0), attr(1)) {
            (Some((t, _)), Some((n, _))) => Ok(RefAt {
                reference: Reference::Resource(ResourceAddr::managed(t, n)),
                span: span_to(1),
                consumed: 2,
                next_attr: next(2),
            }),
            _ => unreachable_ref(root_span),
        },
        _ => match attr(0) {
            Some((n, _)) => Ok(one(Reference::Resource(ResourceAddr::managed(root, n)))),
            None => Err(Diagnostic::error(
                "Invalid reference",
                format!(
                    "A reference to a resource type must be followed by at least one attribute access, specifying the resource name. \"{root}\" is not a known name here."
                ),
            )
            .at(span_to(0))),
        },
    }
}

fn unreachable_ref(span: Span) -> Result<RefAt, Diagnostic> {
    Err(Diagnostic::error("Invalid reference", "This reference is not valid.").at(span))
}

/// Every reference in `expr`, in source order, skipping names bound by `for` expressions.
/// Malformed references are reported as diagnostics.
pub fn references(expr: &Expr) -> (Vec<RefAt>, Vec<Diagnostic>) {
    let mut out = Vec::new();
    let mut diags = Vec::new();
    let mut bound: Vec<String> = Vec::new();
    collect(expr, &mut bound, &mut |r, _| match r {
        Ok(r) => out.push(r),
        Err(d) => diags.push(d),
    });
    (out, diags)
}

/// One step of the static part of a traversal after a reference: an attribute, or an index
/// written as a literal. (HCL's static traversal stops at the first other index.)
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum StaticStep {
    Attr(String),
    /// A literal number index, as written.
    Number(String),
    /// A literal string key.
    Key(String),
}

/// Every well-formed reference in `expr` with the static steps that follow it
/// (`terraform_data.a[0].output.x` → `terraform_data.a`, `[0, output, x]`), as Terraform's
/// reference analysis sees them.
pub fn references_with_steps(expr: &Expr) -> Vec<(RefAt, Vec<StaticStep>)> {
    let mut out = Vec::new();
    let mut bound: Vec<String> = Vec::new();
    collect(expr, &mut bound, &mut |r, steps| {
        if let Ok(r) = r {
            let rest = steps.get(r.consumed..).unwrap_or_default();
            let mut st = Vec::new();
            for s in rest {
                match s {
                    TraversalStep::Attr(n, _) => st.push(StaticStep::Attr(n.to_string())),
                    TraversalStep::Index(k, _) => match &k.kind {
                        ExprKind::Number(n) => st.push(StaticStep::Number(n.clone())),
                        ExprKind::String(s) => st.push(StaticStep::Key(s.clone())),
                        ExprKind::Template(parts) => match parts.as_slice() {
                            [TemplatePart::Literal(s)] => st.push(StaticStep::Key(s.clone())),
                            _ => break,
                        },
                        _ => break,
                    },
                }
            }
            out.push((r, st));
        }
    });
    out
}

/// Receives each reference found (or why a traversal is not one) with the traversal's steps.
type Sink<'s> = dyn FnMut(Result<RefAt, Diagnostic>, &[TraversalStep<'_>]) + 's;

fn collect(e: &Expr, bound: &mut Vec<String>, sink: &mut Sink<'_>) {
    // A traversal rooted at a name: a reference (unless the name is bound), then any index
    // expressions inside it.
    if let Some((root, steps)) = e.as_traversal() {
        if !bound.iter().any(|b| b == root) {
            let root_span = root_span(e);
            sink(parse_reference(root, root_span, &steps), &steps);
        }
        for s in &steps {
            if let TraversalStep::Index(k, _) = s {
                collect(k, bound, sink);
            }
        }
        return;
    }
    match &e.kind {
        ExprKind::Null
        | ExprKind::Bool(_)
        | ExprKind::Number(_)
        | ExprKind::String(_)
        | ExprKind::SplatItem
        | ExprKind::Var(_) => {}
        ExprKind::Template(parts) => collect_parts(parts, bound, sink),
        ExprKind::Tuple(items) => items.iter().for_each(|x| collect(x, bound, sink)),
        ExprKind::Object(items) => {
            for (k, v) in items {
                if let ObjectKey::Expr(k) = k {
                    // A bare traversal used as a key is a reference only when parenthesised;
                    // quoted strings and other expressions are collected normally.
                    collect(k, bound, sink);
                }
                collect(v, bound, sink);
            }
        }
        ExprKind::GetAttr(x, _) | ExprKind::Unary(_, x) | ExprKind::Parens(x) => {
            collect(x, bound, sink)
        }
        ExprKind::Index(a, b) | ExprKind::Binary(_, a, b) => {
            collect(a, bound, sink);
            collect(b, bound, sink);
        }
        ExprKind::Splat { source, each } => {
            collect(source, bound, sink);
            collect(each, bound, sink);
        }
        ExprKind::Call { args, .. } => args.iter().for_each(|x| collect(x, bound, sink)),
        ExprKind::Conditional(a, b, c) => {
            collect(a, bound, sink);
            collect(b, bound, sink);
            collect(c, bound, sink);
        }
        ExprKind::For(f) => {
            collect(&f.collection, bound, sink);
            let n = bound.len();
            if let Some(k) = &f.key_var {
                bound.push(k.clone());
            }
            bound.push(f.value_var.clone());
            if let Some(k) = &f.key_expr {
                collect(k, bound, sink);
            }
            collect(&f.value_expr, bound, sink);
            if let Some(c) = &f.cond {
                collect(c, bound, sink);
            }
            bound.truncate(n);
        }
    }
}

fn collect_parts(parts: &[TemplatePart], bound: &mut Vec<String>, sink: &mut Sink<'_>) {
    for p in parts {
        match p {
            TemplatePart::Literal(_) => {}
            TemplatePart::Interp(e) => collect(e, bound, sink),
            TemplatePart::If {
                cond,
                then,
                otherwise,
            } => {
                collect(cond, bound, sink);
                collect_parts(then, bound, sink);
                collect_parts(otherwise, bound, sink);
            }
            TemplatePart::For {
                key_var,
                value_var,
                collection,
                body,
            } => {
                collect(collection, bound, sink);
                let n = bound.len();
                if let Some(k) = key_var {
                    bound.push(k.clone());
                }
                bound.push(value_var.clone());
                collect_parts(body, bound, sink);
                bound.truncate(n);
            }
        }
    }
}

/// The span of the root name of a traversal.
pub fn root_span(e: &Expr) -> Span {
    let mut cur = e;
    loop {
        match &cur.kind {
            ExprKind::GetAttr(x, _) | ExprKind::Index(x, _) | ExprKind::Parens(x) => cur = x,
            _ => return cur.span,
        }
    }
}

/// The distinct references of several expressions.
pub fn distinct_references<'a>(exprs: impl IntoIterator<Item = &'a Expr>) -> Vec<RefAt> {
    let mut seen = HashSet::new();
    let mut out = Vec::new();
    for e in exprs {
        for r in references(e).0 {
            if seen.insert(r.reference.clone()) {
                out.push(r);
            }
        }
    }
    out
}
