//! Type constraint expressions (`list(object({a = optional(string, "x")}))`) → [`TypeConstraint`].
//!
//! Type expressions are a tiny language of their own: keywords and type constructors, plus
//! `optional()` defaults, which are constant expressions evaluated here without any scope
//! (a filesystem function there resolves a relative path against the configuration directory
//! it is given, never the process's working directory).

use crate::eval::{EmptyScope, Evaluator};
use crate::functions::FnCtx;
use crate::types::{Defaults, ObjectType, Type, TypeConstraint};
use baton_config::{Expr, ExprKind, ObjectKey};
use baton_core::{Diagnostic, Sources};
use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;
use std::sync::Arc;

/// Reads a type constraint expression; `dir` is the configuration directory, where
/// `optional()` defaults are evaluated.
pub fn type_constraint(e: &Expr, dir: &Path) -> Result<TypeConstraint, Diagnostic> {
    let mut defaults = Defaults::default();
    let ty = parse(e, &mut defaults, true, dir)?;
    let defaults = if defaults == Defaults::default() {
        None
    } else {
        Some(defaults)
    };
    Ok(TypeConstraint { ty, defaults })
}

fn invalid(e: &Expr, detail: &str) -> Diagnostic {
    Diagnostic::error("Invalid type specification", detail.to_string()).at(e.span)
}

fn parse(e: &Expr, defaults: &mut Defaults, top: bool, dir: &Path) -> Result<Type, Diagnostic> {
    let _ = top;
    match &e.kind {
        ExprKind::Var(k) => match k.as_str() {
            "string" => Ok(Type::String),
            "number" => Ok(Type::Number),
            "bool" => Ok(Type::Bool),
            "any" => Ok(Type::Dynamic),
            "list" | "set" | "map" => Err(invalid(
                e,
                &format!("The {k} type constructor requires one argument specifying the element type, such as {k}(string)."),
            )),
            "object" | "tuple" => Err(invalid(
                e,
                &format!("The {k} type constructor requires one argument specifying the attribute or element types."),
            )),
            other => Err(invalid(e, &format!("The keyword \"{other}\" is not a valid type specification."))),
        },
        ExprKind::Parens(x) => parse(x, defaults, top, dir),
        ExprKind::Call { name, args, .. } => {
            fn one<'x>(e: &Expr, name: &str, args: &'x [Expr]) -> Result<&'x Expr, Diagnostic> {
                match args {
                    [a] => Ok(a),
                    _ => Err(invalid(e, &format!("The {name} type constructor requires exactly one argument."))),
                }
            }
            match name.as_str() {
                "list" | "set" | "map" => {
                    let mut child = Defaults::default();
                    let et = parse(one(e, name, args)?, &mut child, false, dir)?;
                    if child != Defaults::default() {
                        defaults.children.insert(String::new(), child);
                    }
                    Ok(match name.as_str() {
                        "list" => Type::list(et),
                        "set" => Type::set(et),
                        _ => Type::map(et),
                    })
                }
                "tuple" => {
                    let a = one(e, name, args)?;
                    let ExprKind::Tuple(items) = &a.kind else {
                        return Err(invalid(a, "The tuple type constructor requires a list of element types, such as tuple([string, number])."));
                    };
                    let mut ts = Vec::new();
                    for (i, it) in items.iter().enumerate() {
                        let mut child = Defaults::default();
                        ts.push(parse(it, &mut child, false, dir)?);
                        if child != Defaults::default() {
                            defaults.children.insert(i.to_string(), child);
                        }
                    }
                    Ok(Type::tuple(ts))
                }
                "object" => {
                    let a = one(e, name, args)?;
                    let ExprKind::Object(items) = &a.kind else {
                        return Err(invalid(a, "The object type constructor requires an object of attribute types, such as object({name=string})."));
                    };
                    let mut attrs = BTreeMap::new();
                    let mut optional = BTreeSet::new();
                    for (k, v) in items {
                        let key = match k {
                            ObjectKey::Ident(s) => s.clone(),
                            ObjectKey::Expr(ke) => match &ke.kind {
                                ExprKind::String(s) => s.clone(),
                                ExprKind::Var(s) => s.clone(),
                                _ => return Err(invalid(ke, "Object attribute names must be identifiers or strings.")),
                            },
                        };
                        let (vt, opt_default) = match &v.kind {
                            ExprKind::Call { name, args, .. } if name == "optional" => {
                                if args.is_empty() || args.len() > 2 {
                                    return Err(invalid(v, "optional() takes a type and, optionally, a default value."));
                                }
                                optional.insert(key.clone());
                                let mut child = Defaults::default();
                                let t = parse(&args[0], &mut child, false, dir)?;
                                if child != Defaults::default() {
                                    defaults.children.insert(key.clone(), child);
                                }
                                (t, args.get(1))
                            }
                            _ => {
                                let mut child = Defaults::default();
                                let t = parse(v, &mut child, false, dir)?;
                                if child != Defaults::default() {
                                    defaults.children.insert(key.clone(), child);
                                }
                                (t, None)
                            }
                        };
                        if let Some(d) = opt_default {
                            let sources = Sources::new();
                            let mut ev = Evaluator::new(
                                &EmptyScope,
                                FnCtx { base_dir: dir, sources: &sources, planning: false, plan_timestamp: None },
                            );
                            let dv = ev.eval(d)?;
                            let dv = crate::convert::convert(&dv, &vt).map_err(|err| {
                                Diagnostic::error(
                                    "Invalid default value for optional attribute",
                                    format!("The default value is not compatible with the attribute's type: {err}."),
                                )
                                .at(d.span)
                            })?;
                            defaults.values.insert(key.clone(), dv);
                        }
                        attrs.insert(key, vt);
                    }
                    Ok(Type::Object(Arc::new(ObjectType { attrs, optional })))
                }
                "optional" => Err(invalid(e, "Keyword \"optional\" is valid only as a modifier for object type attributes.")),
                other => Err(invalid(e, &format!("Keyword \"{other}\" is not a valid type constructor."))),
            }
        }
        _ => Err(invalid(e, "A type specification is either a primitive type keyword (bool, number, string), \"any\", or a complex type constructor call, like list(string).")),
    }
}
