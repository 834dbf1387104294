//! A workaround for a regorus bug: a complete rule or a function written with more than one
//! body (`f(x) = y { ... } { ... }`, `p = 5 { a } { b }`) loses its head's value in every body
//! after the first — `p` is `true` instead of `5`, `f(x)` undefined — while OPA treats the
//! bodies as separate definitions of the same rule. Regula's library writes functions this
//! way. (Partial sets and objects are right in regorus and are left alone.)
//!
//! Before compiling, every body after the first is blanked where it stands (spaces, newlines
//! kept) and a copy of the head with that body is appended after the end of the file: every
//! byte offset, line and column of the text the user wrote is unchanged, so errors still point
//! at their source; only an error inside a moved body is reported past the end of the file.
//!
//! Works on regorus's AST as JSON and the source text; never evaluates anything. Remove when
//! regorus gives later bodies the head's value (see ARCHITECTURE.md).

use serde_json::Value as Json;

/// The source of one module with its extra rule bodies moved into rules of their own, or
/// `None` when it has none.
pub(crate) fn rewrite(text: &str, module_ast: &Json) -> Option<String> {
    let mut blanked: Vec<(usize, usize)> = Vec::new();
    let mut appended = String::new();
    for rule in module_ast["rules"].as_array().into_iter().flatten() {
        let Some(spec) = rule.get("Spec") else {
            continue;
        };
        let Some(bodies) = spec["bodies"].as_array() else {
            continue;
        };
        if bodies.len() < 2 || !bodies.iter().all(independent) {
            continue;
        }
        if complete_or_function_head(&spec["head"]).is_none() {
            continue;
        }
        // The head as written, up to the first body (with `if` in Rego v1): regorus's span of
        // the head itself stops short of a closing quote.
        let (Some((rule_start, _)), Some((first_body, _))) =
            (span_range(&spec["span"]), span_range(&bodies[0]["span"]))
        else {
            continue;
        };
        let Some(head_text) = text.get(rule_start..first_body).map(str::trim_end) else {
            continue;
        };
        for body in &bodies[1..] {
            let (start, end) = span_range(&body["span"])?;
            let body_text = text.get(start..end)?;
            if !body_text.starts_with('{') || !body_text.ends_with('}') {
                return None;
            }
            blanked.push((start, end));
            appended.push('\n');
            appended.push_str(head_text);
            appended.push(' ');
            appended.push_str(body_text);
        }
    }
    if blanked.is_empty() {
        return None;
    }
    let mut out: Vec<u8> = text.as_bytes().to_vec();
    for (start, end) in blanked {
        for b in &mut out[start..end] {
            if *b != b'\n' && *b != b'\r' {
                *b = b' ';
            }
        }
    }
    let mut out = String::from_utf8(out).ok()?;
    out.push('\n');
    out.push_str(&appended);
    out.push('\n');
    Some(out)
}

/// A body that is not an `else` and sets no value of its own.
fn independent(body: &Json) -> bool {
    body["is_else"] == Json::Bool(false) && body["assign"].is_null()
}

/// The head of a function, or of a complete rule (`p = v`, `a.b = v`: no `[key]`, which
/// would make it a partial set or object, evaluated correctly by regorus).
fn complete_or_function_head(head: &Json) -> Option<&Json> {
    if let Some(f) = head.get("Func") {
        return Some(f);
    }
    let c = head.get("Compr")?;
    (!c["assign"].is_null() && !has_bracket(&c["refr"])).then_some(c)
}

fn has_bracket(refr: &Json) -> bool {
    match refr {
        Json::Object(map) => {
            map.contains_key("RefBrack")
                || map.get("RefDot").is_some_and(|d| has_bracket(&d["refr"]))
        }
        _ => false,
    }
}

fn span_range(span: &Json) -> Option<(usize, usize)> {
    let start = usize::try_from(span["start"].as_u64()?).ok()?;
    let end = usize::try_from(span["end"].as_u64()?).ok()?;
    (start < end).then_some((start, end))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rewritten(text: &str) -> Option<String> {
        // As `load` does: Rego v1 first, then the older syntax.
        let mut e = regorus::Engine::new();
        if e.add_policy("p.rego".into(), text.into()).is_err() {
            e = regorus::Engine::new();
            e.set_rego_v0(true);
            e.add_policy("p.rego".into(), text.into()).expect("parses");
        }
        let ast: Json = serde_json::from_str(&e.get_ast_as_json().expect("ast")).expect("json");
        rewrite(text, &ast[0]["ast"])
    }

    #[test]
    fn moves_later_bodies_of_functions_and_complete_rules_keeping_offsets() {
        let text = "package p\n\nf(x) = y { y = 1 } {\n  y = 2\n}\nc = 5 { false } { true }\n";
        let out = rewritten(text).expect("rewritten");
        assert_eq!(
            out,
            "package p\n\nf(x) = y { y = 1 }  \n       \n \nc = 5 { false }         \n\n\nf(x) = y {\n  y = 2\n}\nc = 5 { true }\n"
        );
        assert_eq!(out[..text.len()].lines().count(), text.lines().count());
    }

    #[test]
    fn leaves_partial_rules_single_bodies_and_else_alone() {
        assert_eq!(
            rewritten("package p\n\no[k] = 1 { k = 1 } { k = 2 }\n"),
            None
        );
        assert_eq!(
            rewritten("package p\n\nc = 1 { false } else = 2 { true }\n"),
            None
        );
        assert_eq!(rewritten("package p\n\nc = 5 { true }\n"), None);
    }
}
