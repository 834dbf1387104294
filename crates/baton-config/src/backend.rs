//! The `backend "TYPE" { … }` (and `cloud { … }`) block of `terraform { … }`: its type and its
//! settings, decoded while the configuration loads; and [`read_root_backend`], which reads
//! only that block of a root module, for commands that need to know where the state is
//! without loading the whole configuration.
//!
//! As in Terraform, the settings are literals (strings, numbers, bools): a backend is
//! configured before anything else is evaluated, so a variable, a function call or any other
//! expression is an error at its `file:line:col`. Nested blocks (the `assume_role` of some
//! backends) are not read. This module never evaluates an expression and never decides which
//! store is used (that is `baton-backend`'s).

use crate::ast::{Expr, ExprKind, TemplatePart, UnaryOp};
use crate::fs::{ConfigFs, RealFs};
use crate::syntax::{parse_file, Block, Body};
use baton_core::{Diagnostic, Diagnostics, Sources, Span};
use std::collections::BTreeMap;
use std::path::Path;

/// A backend block as written.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Backend {
    /// The backend type: `pg`, `s3`, `local`…; `cloud` for a `cloud` block.
    pub kind: String,
    /// The literal settings, as text (`true`, `5` for a bool or a number). Settings that were
    /// not literals are left out (and reported).
    pub attrs: BTreeMap<String, String>,
    /// The block's header, for messages.
    pub span: Span,
}

impl Backend {
    /// A setting, if the block has it.
    pub fn attr(&self, name: &str) -> Option<&str> {
        self.attrs.get(name).map(String::as_str)
    }
}

/// Decodes a `backend` or `cloud` block found in a `terraform` block; mistakes go to `diags`.
pub fn decode(blk: &Block, diags: &mut Diagnostics) -> Option<Backend> {
    let kind = if blk.type_ == "cloud" {
        if !blk.labels.is_empty() {
            diags.push(
                Diagnostic::error(
                    "Extraneous label for cloud",
                    "A cloud block takes no labels.",
                )
                .at(blk.def_span),
            );
        }
        "cloud".to_string()
    } else {
        match blk.labels.as_slice() {
            [(name, _)] => name.clone(),
            _ => {
                diags.push(
                    Diagnostic::error(
                        "Missing name for backend",
                        "A backend block needs one label: the backend type, e.g. backend \"pg\".",
                    )
                    .at(blk.def_span),
                );
                return None;
            }
        }
    };
    let mut attrs = BTreeMap::new();
    for a in &blk.body.attrs {
        match literal(&a.expr) {
            Literal::Text(s) => {
                attrs.insert(a.name.clone(), s);
            }
            Literal::Null => {}
            Literal::Variable => diags.push(
                Diagnostic::error(
                    "Variables not allowed",
                    format!(
                        "Variables may not be used here: the argument \"{}\" of the {kind:?} backend is read before anything is evaluated, so it must be a literal value, as in Terraform.",
                        a.name
                    ),
                )
                .at(a.expr.span),
            ),
            Literal::Function => diags.push(
                Diagnostic::error(
                    "Function calls not allowed",
                    format!(
                        "Functions may not be called here: the argument \"{}\" of the {kind:?} backend is read before anything is evaluated, so it must be a literal value, as in Terraform.",
                        a.name
                    ),
                )
                .at(a.expr.span),
            ),
            Literal::Other => diags.push(
                Diagnostic::error(
                    "Invalid backend setting",
                    format!(
                        "The argument \"{}\" of the {kind:?} backend must be a literal string, number or bool: backend settings are read before anything is evaluated, as in Terraform.",
                        a.name
                    ),
                )
                .at(a.expr.span),
            ),
        }
    }
    Some(Backend {
        kind,
        attrs,
        span: blk.def_span,
    })
}

/// The backend block of the root module in `dir`, read without loading the rest of the
/// configuration: only files that mention `backend` or `cloud` are parsed (a syntax error in
/// one of them is reported: where the state is cannot be known). Files are registered in
/// `sources` under their names relative to `dir`, so diagnostics point at them.
pub fn read_root_backend(dir: &Path, sources: &Sources) -> (Option<Backend>, Diagnostics) {
    read_root_backend_with(dir, sources, &RealFs)
}

/// Like [`read_root_backend`], reading files from `fs`.
pub fn read_root_backend_with(
    dir: &Path,
    sources: &Sources,
    fs: &dyn ConfigFs,
) -> (Option<Backend>, Diagnostics) {
    let mut diags = Diagnostics::new();
    let mut found: Option<Backend> = None;
    // An unreadable directory is reported by whatever loads the configuration.
    let files = fs.tf_files(dir).unwrap_or_default();
    for f in &files {
        let Ok(text) = fs.read(f) else {
            continue;
        };
        if !text.contains("backend") && !text.contains("cloud") {
            continue;
        }
        let name = match f.strip_prefix(dir) {
            Ok(rel) => rel.display().to_string(),
            Err(_) => f.display().to_string(),
        };
        let id = sources.add(name, f, text.clone());
        match parse_file(id, &text) {
            Ok(body) => collect(&body, &mut found, &mut diags),
            Err(d) => diags.push(d),
        }
    }
    (found, diags)
}

/// Records the backend blocks of the `terraform` blocks in `body`: the first one counts, a
/// second is an error (as in Terraform).
pub(crate) fn collect(body: &Body, found: &mut Option<Backend>, diags: &mut Diagnostics) {
    for t in body.blocks_of("terraform") {
        collect_from(t, found, diags);
    }
}

/// Records the backend blocks of one `terraform` block (see [`collect`]).
pub(crate) fn collect_from(
    terraform: &Block,
    found: &mut Option<Backend>,
    diags: &mut Diagnostics,
) {
    for b in &terraform.body.blocks {
        if b.type_ != "backend" && b.type_ != "cloud" {
            continue;
        }
        let Some(decoded) = decode(b, diags) else {
            continue;
        };
        match found {
            Some(first) => diags.push(
                Diagnostic::error(
                    "Duplicate backend configuration",
                    format!(
                        "A module may have only one backend configuration: the {:?} backend was configured first, and a configuration has one state store.",
                        first.kind
                    ),
                )
                .at(b.def_span),
            ),
            None => *found = Some(decoded),
        }
    }
}

enum Literal {
    Text(String),
    Null,
    Variable,
    Function,
    Other,
}

fn literal(e: &Expr) -> Literal {
    match &e.kind {
        ExprKind::String(s) => Literal::Text(s.clone()),
        ExprKind::Number(n) => Literal::Text(n.clone()),
        ExprKind::Bool(b) => Literal::Text(b.to_string()),
        ExprKind::Null => Literal::Null,
        ExprKind::Parens(inner) => literal(inner),
        ExprKind::Unary(UnaryOp::Neg, inner) => match &inner.kind {
            ExprKind::Number(n) => Literal::Text(format!("-{n}")),
            _ => classify(e),
        },
        _ => classify(e),
    }
}

/// Why a non-literal is not one: it refers to something, calls a function, or is some other
/// expression.
fn classify(e: &Expr) -> Literal {
    if mentions(e, &|k| matches!(k, ExprKind::Var(_))) {
        Literal::Variable
    } else if mentions(e, &|k| matches!(k, ExprKind::Call { .. })) {
        Literal::Function
    } else {
        Literal::Other
    }
}

/// Whether `e` or any expression inside it satisfies `p`.
fn mentions(e: &Expr, p: &dyn Fn(&ExprKind) -> bool) -> bool {
    if p(&e.kind) {
        return true;
    }
    match &e.kind {
        ExprKind::Template(parts) => parts.iter().any(|t| template_mentions(t, p)),
        ExprKind::Tuple(items) => items.iter().any(|x| mentions(x, p)),
        ExprKind::Object(items) => items.iter().any(|(_, v)| mentions(v, p)),
        ExprKind::GetAttr(x, _) | ExprKind::Unary(_, x) | ExprKind::Parens(x) => mentions(x, p),
        ExprKind::Index(a, b) | ExprKind::Binary(_, a, b) => mentions(a, p) || mentions(b, p),
        ExprKind::Splat { source, each } => mentions(source, p) || mentions(each, p),
        ExprKind::Call { args, .. } => args.iter().any(|x| mentions(x, p)),
        ExprKind::Conditional(a, b, c) => mentions(a, p) || mentions(b, p) || mentions(c, p),
        ExprKind::For(f) => {
            mentions(&f.collection, p)
                || f.key_expr.as_ref().is_some_and(|k| mentions(k, p))
                || mentions(&f.value_expr, p)
                || f.cond.as_ref().is_some_and(|c| mentions(c, p))
        }
        _ => false,
    }
}

fn template_mentions(t: &TemplatePart, p: &dyn Fn(&ExprKind) -> bool) -> bool {
    match t {
        TemplatePart::Literal(_) => false,
        TemplatePart::Interp(x) => mentions(x, p),
        TemplatePart::If {
            cond,
            then,
            otherwise,
        } => {
            mentions(cond, p)
                || then.iter().any(|t| template_mentions(t, p))
                || otherwise.iter().any(|t| template_mentions(t, p))
        }
        TemplatePart::For {
            collection, body, ..
        } => mentions(collection, p) || body.iter().any(|t| template_mentions(t, p)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use baton_core::FileId;

    fn backend_of(text: &str) -> (Option<Backend>, Diagnostics) {
        let body = parse_file(FileId(0), text).expect("parses");
        let mut found = None;
        let mut diags = Diagnostics::new();
        collect(&body, &mut found, &mut diags);
        (found, diags)
    }

    #[test]
    fn literal_settings_are_recorded() {
        let (b, d) = backend_of(
            "terraform {\n  backend \"pg\" {\n    conn_str = \"postgres://db/x\"\n    schema_name = \"web\"\n    skip_schema_creation = false\n  }\n}\n",
        );
        assert!(!d.has_errors(), "{d:?}");
        let b = b.expect("a backend");
        assert_eq!(b.kind, "pg");
        assert_eq!(b.attr("conn_str"), Some("postgres://db/x"));
        assert_eq!(b.attr("schema_name"), Some("web"));
        assert_eq!(b.attr("skip_schema_creation"), Some("false"));
    }

    #[test]
    fn expressions_are_refused_with_their_reason() {
        let (b, d) = backend_of(
            "terraform {\n  backend \"pg\" {\n    conn_str = var.db\n    schema_name = lower(\"X\")\n    a = \"x${local.y}\"\n    b = 1 + 2\n  }\n}\n",
        );
        let summaries: Vec<&str> = d.errors().map(|e| e.summary.as_str()).collect();
        assert_eq!(
            summaries,
            [
                "Variables not allowed",
                "Function calls not allowed",
                "Variables not allowed",
                "Invalid backend setting"
            ]
        );
        assert!(b.expect("still a backend").attrs.is_empty());
    }

    #[test]
    fn a_second_backend_is_an_error_and_cloud_counts() {
        let (b, d) = backend_of(
            "terraform {\n  cloud {\n    organization = \"o\"\n  }\n}\nterraform {\n  backend \"s3\" {}\n}\n",
        );
        assert_eq!(b.expect("cloud").kind, "cloud");
        assert_eq!(
            d.errors().next().map(|e| e.summary.as_str()),
            Some("Duplicate backend configuration")
        );
    }
}
