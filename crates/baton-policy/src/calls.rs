//! A workaround for two regorus gaps in calls whose output is an argument, both of which OPA
//! accepts:
//!
//! - `walk(x)` with one argument (`[path, value] := walk(x)`, `pair = walk(x)`) enumerates
//!   every path/value pair in OPA, as `walk(x, [path, value])` does; regorus treats the only
//!   argument as the output and finds nothing, so a rule built on it silently never fires.
//!   The call becomes `walk(x,_)`, which regorus enumerates and whose value is each pair.
//! - A Baton extension called with its output as an extra last argument
//!   (`crypto.md5(s, digest)`, as OPA allows for every function) fails to compile ("var
//!   `digest` is unsafe"): regorus knows the arity of its own built-ins and of rules, not of
//!   extensions. The call becomes `crypto.md5(s)=digest`, the same unification.
//!
//! Each rewrite keeps the line of every character and the column of everything before the
//! call's output: `f(a, out)` becomes `f(a)= out` in place (only `f(a,out)`, written without
//! a space, moves `out` one column right), and `walk(x)` takes the two characters it gains
//! from spaces after it on its line, when there are any (otherwise what follows the call on
//! that line moves two columns right).
//!
//! Works on regorus's AST as JSON and the source text; never evaluates anything. Remove when
//! regorus handles both forms (see ARCHITECTURE.md).

use serde_json::Value as Json;

/// The source of one module with its output-argument calls rewritten, or `None` when it has
/// none. `shadowed` says whether a name is a rule or function of the module's package (a
/// package's own `walk` is left alone).
pub(crate) fn rewrite(
    text: &str,
    module_ast: &Json,
    shadowed: &dyn Fn(&str) -> bool,
) -> Option<String> {
    let mut edits = Vec::new();
    for rule in module_ast["rules"].as_array().into_iter().flatten() {
        collect(rule, text, shadowed, &mut edits);
    }
    apply(text, edits)
}

/// The query with its output-argument calls rewritten (for `baton policy eval`), or `None`.
pub(crate) fn rewrite_query(query: &str) -> Option<String> {
    const PREFIX: &str = "package __baton_query\n\n__baton_query_rule if {\n";
    const SUFFIX: &str = "\n}\n";
    let module = format!("{PREFIX}{query}{SUFFIX}");
    let mut engine = regorus::Engine::new();
    engine.add_policy("<query>".into(), module.clone()).ok()?;
    let ast: Json = serde_json::from_str(&engine.get_ast_as_json().ok()?).ok()?;
    let out = rewrite(&module, &ast[0]["ast"], &|_| false)?;
    out.strip_prefix(PREFIX)?
        .strip_suffix(SUFFIX)
        .map(str::to_string)
}

/// One change to the text: replace `start..end` with `with`.
#[derive(Debug)]
struct Edit {
    start: usize,
    end: usize,
    with: String,
}

fn collect(node: &Json, text: &str, shadowed: &dyn Fn(&str) -> bool, edits: &mut Vec<Edit>) {
    match node {
        Json::Object(map) => {
            // A statement that is a call of an extension with one argument too many.
            if let Some(lit) = map.get("literal") {
                let call = lit
                    .get("Expr")
                    .or_else(|| lit.get("NotExpr"))
                    .and_then(|e| e["expr"].get("Call"));
                if let Some(call) = call {
                    if let Some(e) = output_argument(call, text, shadowed) {
                        edits.extend(e);
                    }
                }
            }
            if let Some(call) = map.get("Call") {
                if let Some(e) = one_argument_walk(call, text, shadowed) {
                    edits.push(e);
                }
            }
            for v in map.values() {
                collect(v, text, shadowed, edits);
            }
        }
        Json::Array(items) => {
            for it in items {
                collect(it, text, shadowed, edits);
            }
        }
        _ => {}
    }
}

/// `walk(x)` → `walk(x,_)`, taking up to two spaces that follow it on its line.
fn one_argument_walk(call: &Json, text: &str, shadowed: &dyn Fn(&str) -> bool) -> Option<Edit> {
    if function_name(&call["fcn"])? != "walk" || shadowed("walk") {
        return None;
    }
    if call["params"].as_array()?.len() != 1 {
        return None;
    }
    let (start, end) = span_range(&call["span"])?;
    let call_text = text.get(start..end)?;
    if !call_text.starts_with("walk") || !call_text.ends_with(')') {
        return None;
    }
    let spaces = text
        .get(end..)?
        .bytes()
        .take(2)
        .take_while(|b| *b == b' ' || *b == b'\t')
        .count();
    Some(Edit {
        start: end - 1,
        end: end + spaces,
        with: ",_)".to_string(),
    })
}

/// `ext(a, out)` → `ext(a)= out`, for a Baton extension called with one argument more than
/// it takes.
fn output_argument(call: &Json, text: &str, shadowed: &dyn Fn(&str) -> bool) -> Option<Vec<Edit>> {
    let name = function_name(&call["fcn"])?;
    let params = call["params"].as_array()?;
    let arity = crate::builtins::arity(&name)?;
    if params.len() != arity + 1 || shadowed(name.split('.').next()?) {
        return None;
    }
    let out = params.last()?;
    let (mut out_start, mut out_end) = span_range(&out["span"]).or_else(|| {
        // A node's span sits inside its only variant.
        out.as_object()?
            .values()
            .next()
            .and_then(|inner| span_range(&inner["span"]))
    })?;
    // A string's span leaves out its quotes.
    let bytes = text.as_bytes();
    if out.get("String").is_some() || out.get("RawString").is_some() {
        out_start = out_start.checked_sub(1)?;
        out_end += 1;
    }
    let (_, call_end) = span_range(&call["span"])?;
    let close = call_end.checked_sub(1)?;
    if bytes.get(close) != Some(&b')') || out_end > close {
        return None;
    }
    // Between the output and `)` only whitespace; before the output `,` and whitespace.
    if !text
        .get(out_end..close)?
        .bytes()
        .all(|b| b.is_ascii_whitespace())
    {
        return None;
    }
    let before = text.get(..out_start)?;
    let gap_start = before
        .trim_end_matches(|c: char| c.is_ascii_whitespace())
        .len();
    let comma = gap_start.checked_sub(1)?;
    if bytes.get(comma) != Some(&b',') {
        return None;
    }
    // A newline after the comma would end the statement once the call is closed there.
    if text[gap_start..out_start].contains('\n') {
        return None;
    }
    let mut edits = vec![Edit {
        start: close,
        end: close + 1,
        with: " ".to_string(),
    }];
    // `)` where the comma was, `=` on the first space or tab after it.
    match text[gap_start..out_start].find([' ', '\t']) {
        Some(i) => {
            edits.push(Edit {
                start: comma,
                end: comma + 1,
                with: ")".to_string(),
            });
            edits.push(Edit {
                start: gap_start + i,
                end: gap_start + i + 1,
                with: "=".to_string(),
            });
        }
        None => {
            // `f(a,out)`: the output moves one column right, into the place of `)`.
            edits[0] = Edit {
                start: comma,
                end: close + 1,
                with: format!(")={}", &text[gap_start..close]),
            };
        }
    }
    Some(edits)
}

/// `walk` or `crypto.md5` for a call's function expression.
fn function_name(fcn: &Json) -> Option<String> {
    if let Some(v) = fcn.get("Var") {
        return v["value"].as_str().map(str::to_string);
    }
    let d = fcn.get("RefDot")?;
    let field = d["field"].as_array()?.get(1)?.as_str()?;
    Some(format!("{}.{field}", function_name(&d["refr"])?))
}

/// Applies non-overlapping edits (overlapping ones are dropped); `None` when there are none.
fn apply(text: &str, mut edits: Vec<Edit>) -> Option<String> {
    if edits.is_empty() {
        return None;
    }
    edits.sort_by_key(|e| (e.start, e.end));
    let mut out = String::with_capacity(text.len() + 2 * edits.len());
    let mut at = 0;
    for e in edits {
        if e.start < at {
            continue;
        }
        out.push_str(text.get(at..e.start)?);
        out.push_str(&e.with);
        at = e.end;
    }
    out.push_str(text.get(at..)?);
    Some(out)
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
        let mut e = regorus::Engine::new();
        e.add_policy("p.rego".into(), text.into()).expect("parses");
        let ast: Json = serde_json::from_str(&e.get_ast_as_json().expect("ast")).expect("json");
        rewrite(text, &ast[0]["ast"], &|_| false)
    }

    #[test]
    fn one_argument_walk_enumerates_keeping_what_precedes_in_place() {
        assert_eq!(
            rewritten("package p\n\nr if {\n\t[p, v] := walk(input)\n\tp == []\n}\n").as_deref(),
            Some("package p\n\nr if {\n\t[p, v] := walk(input,_)\n\tp == []\n}\n")
        );
        assert_eq!(
            rewritten("package p\n\nr if { x := walk(input)  ; x }\n").as_deref(),
            Some("package p\n\nr if { x := walk(input,_); x }\n")
        );
        assert_eq!(rewritten("package p\n\nr if walk(input, _)\n"), None);
    }

    #[test]
    fn extension_output_arguments_become_unifications_in_place() {
        assert_eq!(
            rewritten("package p\n\nr if {\n\tcrypto.md5(\"a\", s)\n\tnot crypto.sha1(`b`,\t \"x\"\n)\n\tcrypto.sha256(\"c\",t)\n}\n").as_deref(),
            Some("package p\n\nr if {\n\tcrypto.md5(\"a\")=s \n\tnot crypto.sha1(`b`)= \"x\"\n \n\tcrypto.sha256(\"c\")=t\n}\n")
        );
        // Regorus's own built-ins, and extensions called with their own arity, are left alone.
        assert_eq!(
            rewritten("package p\n\nr if count([1], n)\ns if crypto.md5(\"a\")\n"),
            None
        );
    }

    #[test]
    fn queries_are_rewritten_alone() {
        assert_eq!(
            rewrite_query("[p, v] := walk({\"a\": 1})").as_deref(),
            Some("[p, v] := walk({\"a\": 1},_)")
        );
        assert_eq!(rewrite_query("x := 1"), None);
    }
}
