//! Evaluates a resource's configuration body against its type's schema: every attribute
//! converted to its declared type, nested blocks (including `dynamic` blocks) gathered by their
//! nesting mode, unset attributes null; unknown names, read-only attributes, missing required
//! arguments and type mismatches become diagnostics at the offending expression.

use baton_config::{Block, Body};
use baton_core::{Diagnostic, Diagnostics, Span};
use baton_eval::convert::convert;
use baton_eval::{Evaluator, Type, Value};
use baton_provider::{Nesting, Schema};
use std::collections::BTreeMap;

/// Evaluates `body` as an object conforming to `schema`. `def_span` is where "missing argument"
/// errors point; `context` names the enclosing block for messages.
pub fn eval_body(
    ev: &mut Evaluator<'_>,
    body: &Body,
    schema: &Schema,
    def_span: Span,
    context: &str,
) -> (Value, Diagnostics) {
    let mut diags = Diagnostics::new();
    let mut out: BTreeMap<String, Value> = BTreeMap::new();
    for a in &body.attrs {
        let Some(sa) = schema.attrs.get(&a.name) else {
            let hint = if schema.blocks.contains_key(&a.name) {
                format!(" Did you mean to define a block of type \"{}\"?", a.name)
            } else {
                let names = schema.settable_names();
                match baton_config::model::suggest(&a.name, &names) {
                    Some(s) => format!(" Did you mean \"{s}\"?"),
                    None if !names.is_empty() => {
                        format!(" Valid arguments are: {}.", names.join(", "))
                    }
                    None => String::new(),
                }
            };
            diags.push(
                Diagnostic::error(
                    "Unsupported argument",
                    format!(
                        "An argument named \"{}\" is not expected here.{hint}",
                        a.name
                    ),
                )
                .at(a.name_span)
                .in_context(context.to_string()),
            );
            continue;
        };
        if !sa.required && !sa.optional {
            diags.push(
                Diagnostic::error(
                    "Invalid Configuration for Read-Only Attribute",
                    format!(
                        "Cannot set value for the attribute \"{}\": the provider computes it.",
                        a.name
                    ),
                )
                .at(a.name_span)
                .in_context(context.to_string()),
            );
            continue;
        }
        if let Some(why) = sa.deprecated {
            diags.push(
                Diagnostic::warning(
                    "Argument is deprecated",
                    format!("The argument \"{}\" is deprecated. {why}", a.name),
                )
                .at(a.name_span)
                .in_context(context.to_string()),
            );
        }
        match ev.eval(&a.expr) {
            Ok(v) => match convert(&v, &sa.ty) {
                Ok(c) => {
                    out.insert(a.name.clone(), c);
                }
                Err(e) => diags.push(
                    Diagnostic::error(
                        "Incorrect attribute value type",
                        format!("Inappropriate value for attribute \"{}\": {e}.", a.name),
                    )
                    .at(a.expr.span)
                    .in_context(context.to_string()),
                ),
            },
            Err(d) => diags.push(d.in_context(context.to_string())),
        }
    }
    for (name, sa) in &schema.attrs {
        if !out.contains_key(name) {
            if sa.required && body.attr(name).is_none() {
                diags.push(
                    Diagnostic::error(
                        "Missing required argument",
                        format!(
                            "The argument \"{name}\" is required, but no definition was found."
                        ),
                    )
                    .at(def_span)
                    .in_context(context.to_string()),
                );
            }
            out.insert(name.clone(), Value::null(sa.ty.clone()));
        } else if sa.required && out.get(name).is_some_and(Value::is_null) {
            diags.push(
                Diagnostic::error(
                    "Missing required argument",
                    format!("The argument \"{name}\" is required, but it is null."),
                )
                .at_opt(body.attr(name).map(|a| a.expr.span))
                .in_context(context.to_string()),
            );
        }
    }
    // Nested blocks.
    let mut by_type: BTreeMap<&str, Vec<BlockInst<'_>>> = BTreeMap::new();
    for blk in &body.blocks {
        if blk.type_ == "dynamic" {
            let Some((label, _)) = blk.labels.first() else {
                diags.push(
                    Diagnostic::error(
                        "Missing name for block",
                        "A dynamic block needs the name of the block type it generates.",
                    )
                    .at(blk.def_span)
                    .in_context(context.to_string()),
                );
                continue;
            };
            if !schema.blocks.contains_key(label) {
                diags.push(unsupported_block(label, blk.def_span, schema, context));
                continue;
            }
            by_type
                .entry(label.as_str())
                .or_default()
                .push(BlockInst::Dynamic(blk));
            continue;
        }
        if !schema.blocks.contains_key(&blk.type_) {
            diags.push(unsupported_block(&blk.type_, blk.def_span, schema, context));
            continue;
        }
        by_type
            .entry(blk.type_.as_str())
            .or_default()
            .push(BlockInst::Static(blk));
    }
    for (name, nb) in &schema.blocks {
        let inner_ty = nb.schema.object_type();
        let mut items: Vec<(Option<String>, Value)> = Vec::new();
        let mut block_unknown = false;
        for bi in by_type.remove(name.as_str()).unwrap_or_default() {
            match bi {
                BlockInst::Static(blk) => {
                    let (v, d) = eval_body(ev, &blk.body, &nb.schema, blk.def_span, context);
                    diags.extend(d);
                    items.push((blk.labels.first().map(|l| l.0.clone()), v));
                }
                BlockInst::Dynamic(blk) => {
                    match expand_dynamic(ev, blk, &nb.schema, context, &mut diags) {
                        Some(vs) => items.extend(vs),
                        None => block_unknown = true,
                    }
                }
            }
        }
        if nb.max_items > 0 && items.len() > nb.max_items {
            diags.push(
                Diagnostic::error(
                    "Too many blocks",
                    format!(
                        "No more than {} \"{name}\" blocks are allowed.",
                        nb.max_items
                    ),
                )
                .at(def_span)
                .in_context(context.to_string()),
            );
        }
        if items.len() < nb.min_items && !block_unknown {
            diags.push(
                Diagnostic::error(
                    "Insufficient blocks",
                    format!("At least {} \"{name}\" blocks are required.", nb.min_items),
                )
                .at(def_span)
                .in_context(context.to_string()),
            );
        }
        let v = if block_unknown {
            match nb.nesting {
                Nesting::Single => Value::unknown(inner_ty.clone()),
                Nesting::List => Value::unknown(Type::list(inner_ty.clone())),
                Nesting::Set => Value::unknown(Type::set(inner_ty.clone())),
                Nesting::Map => Value::unknown(Type::map(inner_ty.clone())),
            }
        } else {
            match nb.nesting {
                Nesting::Single => items
                    .into_iter()
                    .next()
                    .map(|(_, v)| v)
                    .unwrap_or_else(|| Value::null(inner_ty.clone())),
                Nesting::List => Value::list(
                    inner_ty.clone(),
                    items.into_iter().map(|(_, v)| v).collect(),
                ),
                Nesting::Set => Value::set(
                    inner_ty.clone(),
                    items.into_iter().map(|(_, v)| v).collect(),
                ),
                Nesting::Map => Value::map(
                    inner_ty.clone(),
                    items
                        .into_iter()
                        .map(|(k, v)| (k.unwrap_or_default(), v))
                        .collect(),
                ),
            }
        };
        out.insert(name.clone(), v);
    }
    (Value::object(out), diags)
}

enum BlockInst<'a> {
    Static(&'a Block),
    Dynamic(&'a Block),
}

fn unsupported_block(name: &str, span: Span, schema: &Schema, context: &str) -> Diagnostic {
    let hint = if schema.attrs.contains_key(name) {
        format!(" Did you mean to define argument \"{name}\"? If so, use the equals sign to assign it a value.")
    } else {
        String::new()
    };
    Diagnostic::error(
        "Unsupported block type",
        format!("Blocks of type \"{name}\" are not expected here.{hint}"),
    )
    .at(span)
    .in_context(context.to_string())
}

/// Expands a `dynamic` block; `None` when its `for_each` is not yet known.
fn expand_dynamic(
    ev: &mut Evaluator<'_>,
    blk: &Block,
    schema: &Schema,
    context: &str,
    diags: &mut Diagnostics,
) -> Option<Vec<(Option<String>, Value)>> {
    let name = blk.labels.first().map(|l| l.0.clone()).unwrap_or_default();
    let Some(fe) = blk.body.attr("for_each") else {
        diags.push(
            Diagnostic::error(
                "Missing required argument",
                "A dynamic block needs a for_each argument.",
            )
            .at(blk.def_span)
            .in_context(context.to_string()),
        );
        return Some(Vec::new());
    };
    let iterator = blk
        .body
        .attr("iterator")
        .and_then(|a| a.expr.as_keyword().map(str::to_string))
        .unwrap_or_else(|| name.clone());
    let Some(content) = blk.body.blocks_of("content").next() else {
        diags.push(
            Diagnostic::error(
                "Missing content block",
                "A dynamic block needs a nested content block.",
            )
            .at(blk.def_span)
            .in_context(context.to_string()),
        );
        return Some(Vec::new());
    };
    let coll = match ev.eval(&fe.expr) {
        Ok(v) => v,
        Err(d) => {
            diags.push(d.in_context(context.to_string()));
            return Some(Vec::new());
        }
    };
    let (coll, s) = coll.unmark();
    if !coll.is_known() {
        return None;
    }
    if coll.is_null() {
        diags.push(
            Diagnostic::error(
                "Invalid dynamic for_each value",
                "Cannot use a null value in for_each.",
            )
            .at(fe.expr.span)
            .in_context(context.to_string()),
        );
        return Some(Vec::new());
    }
    let Some(pairs) = baton_eval::eval::iter_pairs(&coll) else {
        diags.push(
            Diagnostic::error(
                "Invalid dynamic for_each value",
                format!(
                    "Cannot use a {} value in for_each. An iterable collection is required.",
                    coll.ty().friendly_name()
                ),
            )
            .at(fe.expr.span)
            .in_context(context.to_string()),
        );
        return Some(Vec::new());
    };
    let mut out = Vec::new();
    for (k, v) in pairs {
        let mut it = BTreeMap::new();
        it.insert("key".to_string(), k.with_sensitive(s));
        it.insert("value".to_string(), v.with_sensitive(s));
        ev.push_symbol(&iterator, Value::object(it));
        let label = match blk.body.attr("labels") {
            Some(l) => match ev.eval(&l.expr) {
                Ok(lv) => lv
                    .as_seq()
                    .and_then(|s| s.first())
                    .and_then(|x| convert(x, &Type::String).ok())
                    .and_then(|x| x.as_str().map(str::to_string)),
                Err(d) => {
                    diags.push(d);
                    None
                }
            },
            None => None,
        };
        let (v, d) = eval_body(ev, &content.body, schema, content.def_span, context);
        ev.pop_symbol();
        diags.extend(d);
        out.push((label, v));
    }
    Some(out)
}
