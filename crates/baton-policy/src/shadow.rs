//! A workaround for a regorus bug: `some x in xs` (and `some x`, `every x in xs`) where `x` is
//! also the name of a rule or function of the package fails to compile in regorus ("var `x`
//! used before definition"), while OPA lets the local variable shadow the rule. A whole public
//! policy library (Azure's) fails to load on it.
//!
//! Before compiling, the local variable is renamed, consistently within its scope (the rest of
//! its query, nested comprehensions, a comprehension's term, a rule head's key and value), to a
//! fresh name of the same length: every byte offset, line and column in the file stays what the
//! user wrote, so errors still point at their source. Occurrences before the declaration keep
//! meaning the rule, as in OPA.
//!
//! Works on regorus's AST as JSON (`Engine::get_ast_as_json`) and the source text; never
//! evaluates anything. Remove when regorus lets `some` shadow rules (see ARCHITECTURE.md).

use serde_json::Value as Json;
use std::collections::{BTreeMap, HashSet};

/// The source of one module with its shadowing locals renamed, or `None` when it has none.
/// `globals` are the names of the rules and functions of the module's package.
pub(crate) fn rewrite(text: &str, module_ast: &Json, globals: &HashSet<String>) -> Option<String> {
    let mut w = Walker {
        text,
        globals,
        found: Vec::new(),
    };
    for rule in module_ast["rules"].as_array().into_iter().flatten() {
        w.rule(rule);
    }
    if w.found.is_empty() {
        return None;
    }
    // One fresh name per shadowing name, of the same length.
    let mut used = identifiers(text);
    let mut names: BTreeMap<String, String> = BTreeMap::new();
    for (_, _, name) in &w.found {
        if names.contains_key(name) {
            continue;
        }
        let fresh = fresh_name(name.len(), &used)?;
        used.insert(fresh.clone());
        names.insert(name.clone(), fresh);
    }
    let mut bytes = text.as_bytes().to_vec();
    let mut spans = w.found;
    spans.sort();
    spans.dedup();
    for (start, end, name) in spans {
        let fresh = names.get(&name)?;
        if text.get(start..end) != Some(name.as_str()) || fresh.len() != end - start {
            return None;
        }
        bytes[start..end].copy_from_slice(fresh.as_bytes());
    }
    String::from_utf8(bytes).ok()
}

struct Walker<'a> {
    text: &'a str,
    globals: &'a HashSet<String>,
    /// Byte ranges of the occurrences to rename, with the name.
    found: Vec<(usize, usize, String)>,
}

impl Walker<'_> {
    fn rule(&mut self, rule: &Json) {
        let Some(spec) = rule.get("Spec") else {
            return;
        };
        let mut declared = Vec::new();
        for body in spec["bodies"].as_array().into_iter().flatten() {
            declared.extend(self.declared(&body["query"]));
            self.query(&body["query"], &[]);
            // `else := value if …`: the value may name the body's locals.
            self.expr(&body["assign"], &declared);
        }
        // The head's key and value are evaluated in the body's scope; its name is the rule.
        if let Some((_, head)) = spec["head"].as_object().and_then(|o| o.iter().next()) {
            self.expr(&head["key"], &declared);
            self.expr(&head["assign"], &declared);
        }
    }

    /// The shadowing names a query's own `some` declarations introduce.
    fn declared(&self, query: &Json) -> Vec<String> {
        let mut out = Vec::new();
        for stmt in query["stmts"].as_array().into_iter().flatten() {
            let lit = &stmt["literal"];
            if let Some(s) = lit.get("SomeIn") {
                out.extend(self.some_in_names(s));
            } else if let Some(s) = lit.get("SomeVars") {
                for span in s["vars"].as_array().into_iter().flatten() {
                    if let Some((_, _, n)) = self.span_name(span) {
                        out.push(n);
                    }
                }
            }
        }
        out
    }

    /// The shadowing names `some k, v in xs` declares.
    fn some_in_names(&self, some_in: &Json) -> Vec<String> {
        let mut vars = Vec::new();
        vars_of(&some_in["key"], &mut vars);
        vars_of(&some_in["value"], &mut vars);
        vars.into_iter()
            .map(|(_, _, n)| n)
            .filter(|n| self.globals.contains(n))
            .collect()
    }

    /// A declaration's name from its span, when it shadows a global.
    fn span_name(&self, span: &Json) -> Option<(usize, usize, String)> {
        let (start, end) = span_range(span)?;
        let name = self.text.get(start..end)?;
        self.globals
            .contains(name)
            .then(|| (start, end, name.to_string()))
    }

    fn query(&mut self, query: &Json, outer: &[String]) {
        let mut active: Vec<String> = outer.to_vec();
        for stmt in query["stmts"].as_array().into_iter().flatten() {
            let lit = &stmt["literal"];
            if let Some(s) = lit.get("SomeIn") {
                self.expr(&s["collection"], &active);
                active.extend(self.some_in_names(s));
                self.expr(&s["key"], &active);
                self.expr(&s["value"], &active);
            } else if let Some(s) = lit.get("SomeVars") {
                for span in s["vars"].as_array().into_iter().flatten() {
                    if let Some(found) = self.span_name(span) {
                        active.push(found.2.clone());
                        self.found.push(found);
                    }
                }
            } else if let Some(e) = lit.get("Every") {
                self.expr(&e["domain"], &active);
                let mut inner = active.clone();
                for span in [&e["key"], &e["value"]] {
                    if let Some(found) = self.span_name(span) {
                        inner.push(found.2.clone());
                        self.found.push(found);
                    }
                }
                self.query(&e["query"], &inner);
            } else {
                self.expr(lit, &active);
            }
            self.expr(&stmt["with_mods"], &active);
        }
    }

    fn expr(&mut self, node: &Json, active: &[String]) {
        match node {
            Json::Object(map) => {
                if let Some(v) = map.get("Var") {
                    if let (Some(name), Some((start, end))) =
                        (v["value"].as_str(), span_range(&v["span"]))
                    {
                        if active.iter().any(|a| a == name) {
                            self.found.push((start, end, name.to_string()));
                        }
                    }
                    return;
                }
                if let Some(c) = map.get("Call") {
                    // The function called is never a local.
                    self.expr(&c["params"], active);
                    return;
                }
                for kind in ["ArrayCompr", "SetCompr", "ObjectCompr"] {
                    if let Some(c) = map.get(kind) {
                        let mut inner = active.to_vec();
                        inner.extend(self.declared(&c["query"]));
                        self.query(&c["query"], active);
                        for part in ["term", "key", "value"] {
                            self.expr(&c[part], &inner);
                        }
                        return;
                    }
                }
                if map.contains_key("stmts") {
                    self.query(node, active);
                    return;
                }
                for v in map.values() {
                    self.expr(v, active);
                }
            }
            Json::Array(items) => {
                for it in items {
                    self.expr(it, active);
                }
            }
            _ => {}
        }
    }
}

/// The variables of a `some` pattern (a variable, or an array/object of them).
fn vars_of(node: &Json, out: &mut Vec<(usize, usize, String)>) {
    match node {
        Json::Object(map) => {
            if let Some(v) = map.get("Var") {
                if let (Some(name), Some((s, e))) = (v["value"].as_str(), span_range(&v["span"])) {
                    out.push((s, e, name.to_string()));
                }
                return;
            }
            for v in map.values() {
                vars_of(v, out);
            }
        }
        Json::Array(items) => items.iter().for_each(|i| vars_of(i, out)),
        _ => {}
    }
}

fn span_range(span: &Json) -> Option<(usize, usize)> {
    let start = usize::try_from(span["start"].as_u64()?).ok()?;
    let end = usize::try_from(span["end"].as_u64()?).ok()?;
    (start < end).then_some((start, end))
}

/// Every identifier-like word of the text (also inside strings and comments: a superset is
/// what matters).
fn identifiers(text: &str) -> HashSet<String> {
    text.split(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
        .filter(|w| !w.is_empty())
        .map(str::to_string)
        .collect()
}

const KEYWORDS: &[&str] = &[
    "as", "contains", "data", "default", "else", "every", "false", "if", "import", "in", "input",
    "not", "null", "package", "some", "true", "with",
];

/// A name of `len` letters that the text does not use and that is not a keyword.
fn fresh_name(len: usize, used: &HashSet<String>) -> Option<String> {
    const LETTERS: &[u8] = b"zyxwvutsrqponmlkjihgfedcbaZYXWVUTSRQPONMLKJIHGFEDCBA";
    let base = LETTERS.len();
    let limit = base.checked_pow(u32::try_from(len.min(3)).ok()?)?;
    (0..limit).find_map(|mut i| {
        let mut name = vec![b'z'; len];
        for slot in name.iter_mut().rev().take(len.min(3)) {
            *slot = LETTERS[i % base];
            i /= base;
        }
        let name = String::from_utf8(name).ok()?;
        (!used.contains(&name) && !KEYWORDS.contains(&name.as_str())).then_some(name)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rewritten(text: &str, globals: &[&str]) -> Option<String> {
        let mut e = regorus::Engine::new();
        e.add_policy("p.rego".into(), text.into()).expect("parses");
        let ast: Json = serde_json::from_str(&e.get_ast_as_json().expect("ast")).expect("json");
        let globals = globals.iter().map(|s| s.to_string()).collect();
        rewrite(text, &ast[0]["ast"], &globals)
    }

    #[test]
    fn renames_only_the_shadowing_local_after_its_declaration() {
        let text = "package p\n\nnames := {\"a\"}\n\ndeny contains names if {\n\tcount(names) > 0\n\tsome names in input.xs\n\tnames != \"b\"\n\tx := [names | some names in input.ys]\n}\n";
        let out = rewritten(text, &["names", "deny"]).expect("rewritten");
        assert_eq!(out.len(), text.len());
        assert_eq!(
            out,
            "package p\n\nnames := {\"a\"}\n\ndeny contains zzzzz if {\n\tcount(names) > 0\n\tsome zzzzz in input.xs\n\tzzzzz != \"b\"\n\tx := [zzzzz | some zzzzz in input.ys]\n}\n"
        );
    }

    #[test]
    fn leaves_modules_without_shadowing_alone() {
        let text = "package p\n\ndeny contains x if {\n\tsome x in input.xs\n}\n";
        assert_eq!(rewritten(text, &["deny"]), None);
    }

    #[test]
    fn fresh_names_avoid_words_of_the_text_and_keywords() {
        let used: HashSet<String> = ["z", "y"].iter().map(|s| s.to_string()).collect();
        assert_eq!(fresh_name(1, &used).as_deref(), Some("x"));
        assert_eq!(fresh_name(2, &HashSet::new()).as_deref(), Some("zz"));
        let used: HashSet<String> = ["zz"].iter().map(|s| s.to_string()).collect();
        assert_eq!(fresh_name(2, &used).as_deref(), Some("zy"));
    }
}
