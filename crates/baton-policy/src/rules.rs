//! Which packages and rules the loaded modules declare, read from regorus's AST (as JSON):
//! the gate's `deny`/`warn`/`violation` rules and the test runner's `test_*` rules.
//!
//! Only rule heads are read; nothing is evaluated here.

use serde_json::Value as Json;

/// One loaded `.rego` file.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct ModuleInfo {
    /// The name the file was registered under (in `Sources` and in regorus).
    pub file: String,
    /// Package path components, e.g. `["terraform", "tags"]`.
    pub package: Vec<String>,
    pub rules: Vec<RuleDecl>,
    /// The first key of every static reference into `input` (`input.tfplan.x`, `import
    /// input.tfplan`, `input["plan"]`), with its line and column, in source order.
    pub input_roots: Vec<(String, u32, u32)>,
}

/// One rule definition (a rule may be defined several times, in several files).
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct RuleDecl {
    /// The first component of the rule's head: `deny` for `deny contains msg if …` and for
    /// `deny.x contains …`.
    pub name: String,
    pub line: u32,
    pub column: u32,
    /// A function (`f(x) := …`), which is never a gate rule or a test.
    pub function: bool,
}

/// Reads every module out of `Engine::get_ast_as_json`.
pub(crate) fn modules_from_ast(ast_json: &str) -> Result<Vec<ModuleInfo>, String> {
    let doc: Json = serde_json::from_str(ast_json).map_err(|e| e.to_string())?;
    modules_from_json(&doc)
}

/// [`modules_from_ast`] of the AST already parsed.
pub(crate) fn modules_from_json(doc: &Json) -> Result<Vec<ModuleInfo>, String> {
    let Some(items) = doc.as_array() else {
        return Err("the policy AST is not an array".into());
    };
    let mut out = Vec::with_capacity(items.len());
    for item in items {
        let file = item["source"]["file"]
            .as_str()
            .unwrap_or_default()
            .to_string();
        let ast = &item["ast"];
        let mut package = Vec::new();
        ref_components(&ast["package"]["refr"], &mut package);
        let mut rules = Vec::new();
        for rule in ast["rules"].as_array().into_iter().flatten() {
            if let Some(decl) = rule_decl(rule) {
                rules.push(decl);
            }
        }
        let mut input_roots = Vec::new();
        collect_input_roots(ast, &mut input_roots);
        input_roots.sort_by_key(|(_, line, col)| (*line, *col));
        out.push(ModuleInfo {
            file,
            package,
            rules,
            input_roots,
        });
    }
    Ok(out)
}

fn rule_decl(rule: &Json) -> Option<RuleDecl> {
    let (refr, span, function) = if let Some(spec) = rule.get("Spec") {
        let head = &spec["head"];
        let (kind, inner) = head.as_object()?.iter().next()?;
        (&inner["refr"], &spec["span"], kind == "Func")
    } else if let Some(default) = rule.get("Default") {
        (&default["refr"], &default["span"], false)
    } else {
        return None;
    };
    let mut comps = Vec::new();
    ref_components(refr, &mut comps);
    let name = comps.into_iter().next()?;
    Some(RuleDecl {
        name,
        line: json_u32(&span["line"]),
        column: json_u32(&span["col"]),
        function,
    })
}

fn json_u32(v: &Json) -> u32 {
    v.as_u64()
        .or_else(|| v.to_string().parse().ok())
        .and_then(|n| u32::try_from(n).ok())
        .unwrap_or(0)
}

/// References whose base is `input`, anywhere in a module's AST.
fn collect_input_roots(node: &Json, out: &mut Vec<(String, u32, u32)>) {
    match node {
        Json::Object(map) => {
            for (kind, inner) in map {
                let refr = &inner["refr"]["Var"];
                if refr["value"] == "input" {
                    let key = match kind.as_str() {
                        "RefDot" => inner["field"].get(1).and_then(Json::as_str),
                        "RefBrack" => inner["index"]["String"]["value"].as_str(),
                        _ => None,
                    };
                    if let Some(key) = key {
                        let span = &refr["span"];
                        out.push((
                            key.to_string(),
                            json_u32(&span["line"]),
                            json_u32(&span["col"]),
                        ));
                    }
                }
                collect_input_roots(inner, out);
            }
        }
        Json::Array(items) => items.iter().for_each(|i| collect_input_roots(i, out)),
        _ => {}
    }
}

/// The static components of a reference expression: `a.b["c"]` → `a`, `b`, `c`. A dynamic
/// index (a variable) ends the path.
fn ref_components(expr: &Json, out: &mut Vec<String>) {
    let Some((kind, inner)) = expr.as_object().and_then(|o| o.iter().next()) else {
        return;
    };
    match kind.as_str() {
        "Var" => {
            if let Some(v) = inner["value"].as_str() {
                out.push(v.to_string());
            }
        }
        "RefDot" => {
            ref_components(&inner["refr"], out);
            if let Some(f) = inner["field"].get(1).and_then(Json::as_str) {
                out.push(f.to_string());
            }
        }
        "RefBrack" => {
            ref_components(&inner["refr"], out);
            if let Some(s) = inner["index"]
                .get("String")
                .and_then(|s| s["value"].as_str())
            {
                out.push(s.to_string());
            }
        }
        _ => {}
    }
}

/// A package path as Rego spells it: `a.b["c.d"]`.
pub(crate) fn package_path(components: &[String]) -> String {
    let mut out = String::new();
    for (i, c) in components.iter().enumerate() {
        if is_identifier(c) {
            if i > 0 {
                out.push('.');
            }
            out.push_str(c);
        } else {
            out.push('[');
            out.push_str(&Json::String(c.clone()).to_string());
            out.push(']');
        }
    }
    out
}

/// `data.<package>.<rule>`, the reference that evaluates a rule.
pub(crate) fn rule_ref(package: &[String], rule: &str) -> String {
    if package.is_empty() {
        format!("data.{rule}")
    } else {
        format!("data.{}.{rule}", package_path(package))
    }
}

fn is_identifier(s: &str) -> bool {
    let mut chars = s.chars();
    matches!(chars.next(), Some(c) if c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn package_paths_quote_non_identifiers() {
        let p = vec!["a".to_string(), "b".to_string(), "c.d".to_string()];
        assert_eq!(package_path(&p), "a.b[\"c.d\"]");
        assert_eq!(rule_ref(&p, "deny"), "data.a.b[\"c.d\"].deny");
    }

    #[test]
    fn reads_rule_heads_from_the_ast() {
        let mut e = regorus::Engine::new();
        e.add_policy(
            "p.rego".into(),
            "package a.b[\"c.d\"]\n\ndefault allow := false\ndeny contains msg if { msg := \"x\" }\ndeny_x[msg] if { msg := \"x\" }\nf(x) := 1\nwarn.y contains 1 if true\ntest_a if { true }\n".into(),
        )
        .expect("policy parses");
        let modules = modules_from_ast(&e.get_ast_as_json().expect("ast")).expect("modules");
        assert_eq!(modules.len(), 1);
        let m = &modules[0];
        assert_eq!(m.file, "p.rego");
        assert_eq!(m.package, vec!["a", "b", "c.d"]);
        let names: Vec<_> = m
            .rules
            .iter()
            .map(|r| (r.name.as_str(), r.line, r.function))
            .collect();
        assert_eq!(
            names,
            vec![
                ("allow", 3, false),
                ("deny", 4, false),
                ("deny_x", 5, false),
                ("f", 6, true),
                ("warn", 7, false),
                ("test_a", 8, false),
            ]
        );
    }
}
