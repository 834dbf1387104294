//! The key paths of a plan JSON document, normalised as `tests/diff/keypaths.jq` normalises
//! Terraform's (see tests/diff/README.md, "Key paths"): the one Rust copy of those rules, used by
//! the differential suite and the live shape test. It must not judge which differences are
//! acceptable: callers keep their own exception lists.

use serde_json::Value as Json;
use std::collections::BTreeSet;

/// Every node below the root as a path, e.g. `.resource_changes[].change.after.input.*`:
/// array indices are `[]`, keys the user chose (names of variables, outputs, module calls, a
/// module call's inputs; keys inside values) are `*`, a resource object's attribute names kept.
pub fn key_paths(doc: &Json) -> BTreeSet<String> {
    let mut out = BTreeSet::new();
    walk(doc, &mut Vec::new(), Mode::Doc, &mut out);
    out
}

/// Where in the document a key is.
#[derive(Clone, Copy, PartialEq)]
enum Mode {
    /// The document's own structure: keys are kept, except the entries of name maps.
    Doc,
    /// A resource object's values: the next key is an attribute name, deeper keys are values.
    Attr,
    /// Inside a value: every key is `*`.
    Value,
}

const NAME_MAPS: [&str; 4] = ["variables", "outputs", "output_changes", "module_calls"];
const VALUES: [&str; 3] = ["value", "default", "constant_value"];
const CHANGE_VALUES: [&str; 5] = [
    "before",
    "after",
    "after_unknown",
    "before_sensitive",
    "after_sensitive",
];

fn walk(j: &Json, path: &mut Vec<String>, mode: Mode, out: &mut BTreeSet<String>) {
    match j {
        Json::Object(m) => {
            for (k, v) in m {
                let (seg, next) = step(path, mode, k);
                path.push(seg);
                out.insert(render(path));
                walk(v, path, next, out);
                path.pop();
            }
        }
        Json::Array(a) => {
            for v in a {
                path.push("[]".into());
                out.insert(render(path));
                walk(v, path, mode, out);
                path.pop();
            }
        }
        _ => {}
    }
}

/// The normalised segment for key `k` below `path`, and the mode below it.
fn step(path: &[String], mode: Mode, k: &str) -> (String, Mode) {
    match mode {
        Mode::Value => ("*".into(), Mode::Value),
        Mode::Attr => (k.to_string(), Mode::Value),
        Mode::Doc => {
            let prev = path.last().map(String::as_str).unwrap_or("");
            let n = path.len();
            let named = NAME_MAPS.contains(&prev)
                || (prev == "expressions" && n >= 3 && path[n - 3] == "module_calls");
            let seg = if named { "*" } else { k };
            let next = if VALUES.contains(&seg) {
                Mode::Value
            } else if CHANGE_VALUES.contains(&seg) {
                if path.first().map(String::as_str) == Some("output_changes") {
                    Mode::Value
                } else {
                    Mode::Attr
                }
            } else if (seg == "values" || seg == "sensitive_values") && prev == "[]" {
                Mode::Attr
            } else {
                Mode::Doc
            };
            (seg.to_string(), next)
        }
    }
}

fn render(path: &[String]) -> String {
    let mut s = String::new();
    for seg in path {
        if seg != "[]" {
            s.push('.');
        }
        s.push_str(seg);
    }
    s
}
