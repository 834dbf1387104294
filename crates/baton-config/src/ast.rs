//! The expression tree of the Terraform language, as written, with a source span on every node.
//!
//! This is Baton's own tree, decoupled from the HCL parser: template strip markers are already
//! applied, heredocs already dedented, number literals kept as their source text (so that the
//! evaluator can read them with full precision). Nothing here evaluates anything.

use baton_core::Span;

#[derive(Clone, Debug, PartialEq)]
pub struct Expr {
    pub kind: ExprKind,
    pub span: Span,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum UnaryOp {
    Neg,
    Not,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BinaryOp {
    Eq,
    NotEq,
    Less,
    LessEq,
    Greater,
    GreaterEq,
    Add,
    Sub,
    Mul,
    Div,
    Mod,
    And,
    Or,
}

impl BinaryOp {
    pub fn as_str(self) -> &'static str {
        match self {
            BinaryOp::Eq => "==",
            BinaryOp::NotEq => "!=",
            BinaryOp::Less => "<",
            BinaryOp::LessEq => "<=",
            BinaryOp::Greater => ">",
            BinaryOp::GreaterEq => ">=",
            BinaryOp::Add => "+",
            BinaryOp::Sub => "-",
            BinaryOp::Mul => "*",
            BinaryOp::Div => "/",
            BinaryOp::Mod => "%",
            BinaryOp::And => "&&",
            BinaryOp::Or => "||",
        }
    }
}

#[derive(Clone, Debug, PartialEq)]
pub enum ObjectKey {
    /// A bare identifier: a literal string key.
    Ident(String),
    /// Any other expression (quoted strings, parenthesised references, ...).
    Expr(Expr),
}

#[derive(Clone, Debug, PartialEq)]
pub enum TemplatePart {
    Literal(String),
    Interp(Expr),
    If {
        cond: Expr,
        then: Vec<TemplatePart>,
        otherwise: Vec<TemplatePart>,
    },
    For {
        key_var: Option<String>,
        value_var: String,
        collection: Expr,
        body: Vec<TemplatePart>,
    },
}

#[derive(Clone, Debug, PartialEq)]
pub struct ForExpr {
    pub key_var: Option<String>,
    pub value_var: String,
    pub collection: Expr,
    /// Present for the object form `{for k, v in x : k => v}`.
    pub key_expr: Option<Expr>,
    pub value_expr: Expr,
    pub cond: Option<Expr>,
    /// `...` after the value in the object form.
    pub grouping: bool,
}

#[derive(Clone, Debug, PartialEq)]
pub enum ExprKind {
    Null,
    Bool(bool),
    /// A number literal's source text, e.g. `1.5e3`.
    Number(String),
    /// A string without interpolations or directives (escapes already decoded).
    String(String),
    /// A string with interpolations or directives.
    Template(Vec<TemplatePart>),
    Tuple(Vec<Expr>),
    Object(Vec<(ObjectKey, Expr)>),
    /// A root name: `var`, `local`, `count`, a resource type, a `for` variable...
    Var(String),
    GetAttr(Box<Expr>, String),
    Index(Box<Expr>, Box<Expr>),
    /// `source[*].each` or `source.*.each`; inside `each`, [`ExprKind::SplatItem`] is the element.
    Splat {
        source: Box<Expr>,
        each: Box<Expr>,
    },
    SplatItem,
    Call {
        name: String,
        args: Vec<Expr>,
        expand_final: bool,
    },
    Conditional(Box<Expr>, Box<Expr>, Box<Expr>),
    Unary(UnaryOp, Box<Expr>),
    Binary(BinaryOp, Box<Expr>, Box<Expr>),
    For(Box<ForExpr>),
    Parens(Box<Expr>),
}

impl Expr {
    pub fn new(kind: ExprKind, span: Span) -> Expr {
        Expr { kind, span }
    }

    /// If this is a static traversal (`a.b[0].c`), its root name and the steps after it.
    pub fn as_traversal(&self) -> Option<(&str, Vec<TraversalStep<'_>>)> {
        let mut steps = Vec::new();
        let mut cur = self;
        loop {
            match &cur.kind {
                ExprKind::Var(name) => {
                    steps.reverse();
                    return Some((name, steps));
                }
                ExprKind::GetAttr(inner, name) => {
                    steps.push(TraversalStep::Attr(name, cur.span));
                    cur = inner;
                }
                ExprKind::Index(inner, key) => {
                    steps.push(TraversalStep::Index(key, cur.span));
                    cur = inner;
                }
                ExprKind::Parens(inner) => cur = inner,
                _ => return None,
            }
        }
    }

    /// A keyword-like bare identifier (as used in `ignore_changes = all`).
    pub fn as_keyword(&self) -> Option<&str> {
        match &self.kind {
            ExprKind::Var(name) => Some(name),
            _ => None,
        }
    }

    /// A string literal, if the expression is one.
    pub fn as_static_str(&self) -> Option<&str> {
        match &self.kind {
            ExprKind::String(s) => Some(s),
            _ => None,
        }
    }

    /// Calls `f` on this expression and every sub-expression, outermost first.
    pub fn walk<'a>(&'a self, f: &mut impl FnMut(&'a Expr)) {
        f(self);
        match &self.kind {
            ExprKind::Null
            | ExprKind::Bool(_)
            | ExprKind::Number(_)
            | ExprKind::String(_)
            | ExprKind::Var(_)
            | ExprKind::SplatItem => {}
            ExprKind::Template(parts) => walk_parts(parts, f),
            ExprKind::Tuple(items) => items.iter().for_each(|e| e.walk(f)),
            ExprKind::Object(items) => {
                for (k, v) in items {
                    if let ObjectKey::Expr(k) = k {
                        k.walk(f);
                    }
                    v.walk(f);
                }
            }
            ExprKind::GetAttr(e, _) | ExprKind::Unary(_, e) | ExprKind::Parens(e) => e.walk(f),
            ExprKind::Index(a, b) | ExprKind::Binary(_, a, b) => {
                a.walk(f);
                b.walk(f);
            }
            ExprKind::Splat { source, each } => {
                source.walk(f);
                each.walk(f);
            }
            ExprKind::Call { args, .. } => args.iter().for_each(|e| e.walk(f)),
            ExprKind::Conditional(a, b, c) => {
                a.walk(f);
                b.walk(f);
                c.walk(f);
            }
            ExprKind::For(fe) => {
                fe.collection.walk(f);
                if let Some(k) = &fe.key_expr {
                    k.walk(f);
                }
                fe.value_expr.walk(f);
                if let Some(c) = &fe.cond {
                    c.walk(f);
                }
            }
        }
    }
}

fn walk_parts<'a>(parts: &'a [TemplatePart], f: &mut impl FnMut(&'a Expr)) {
    for p in parts {
        match p {
            TemplatePart::Literal(_) => {}
            TemplatePart::Interp(e) => e.walk(f),
            TemplatePart::If {
                cond,
                then,
                otherwise,
            } => {
                cond.walk(f);
                walk_parts(then, f);
                walk_parts(otherwise, f);
            }
            TemplatePart::For {
                collection, body, ..
            } => {
                collection.walk(f);
                walk_parts(body, f);
            }
        }
    }
}

/// One step of a static traversal.
#[derive(Clone, Copy, Debug)]
pub enum TraversalStep<'a> {
    Attr(&'a str, Span),
    Index(&'a Expr, Span),
}
