//! Redaction of the values a plan JSON (in the shape of `terraform show -json`) marks
//! sensitive, before policies see it.
//!
//! Every marked value that is present and not null becomes [`REDACTED`]: a policy can still
//! tell that a value is set, never what it is. A null stays null (nothing to hide), so input
//! whose sensitive values were already nulled is left as it was. The `*_sensitive` maps
//! themselves are kept: they hold no values.

use serde_json::Value as Json;
use std::borrow::Cow;

/// What a policy sees in place of a sensitive value.
pub const REDACTED: &str = "(sensitive value)";

/// A copy of `input` with every value its plan JSON marks sensitive replaced by [`REDACTED`]:
/// `before`/`after` of `resource_changes`, `resource_drift` and `output_changes` (by
/// `before_sensitive`/`after_sensitive`), resource `values` in `planned_values` and
/// `prior_state` (by `sensitive_values`, in every child module), outputs with
/// `"sensitive": true`, and root `variables` declared sensitive in `configuration`.
pub fn redact(input: &Json) -> Json {
    redacted(input).into_owned()
}

/// Like [`redact`], without copying an input that has nothing to hide (the plan JSON Baton
/// writes by default, whose sensitive values are already null).
pub(crate) fn redacted(input: &Json) -> Cow<'_, Json> {
    let mut paths = Vec::new();
    sensitive_paths(input, &mut paths);
    if paths.is_empty() {
        return Cow::Borrowed(input);
    }
    let mut out = input.clone();
    for path in &paths {
        if let Some(v) = get_mut(&mut out, path) {
            *v = Json::String(REDACTED.to_string());
        }
    }
    Cow::Owned(out)
}

/// One step of a path into a JSON document.
#[derive(Clone, Debug, PartialEq, Eq)]
enum Seg {
    Key(String),
    Index(usize),
}

fn get_mut<'a>(mut v: &'a mut Json, path: &[Seg]) -> Option<&'a mut Json> {
    for seg in path {
        v = match seg {
            Seg::Key(k) => v.get_mut(k.as_str())?,
            Seg::Index(i) => v.get_mut(*i)?,
        };
    }
    Some(v)
}

/// The paths of every non-null value the plan marks sensitive.
fn sensitive_paths(input: &Json, out: &mut Vec<Vec<Seg>>) {
    let key = |k: &str| Seg::Key(k.to_string());
    for list in ["resource_changes", "resource_drift"] {
        for (i, rc) in input[list].as_array().into_iter().flatten().enumerate() {
            let mut path = vec![key(list), Seg::Index(i), key("change")];
            change_paths(&rc["change"], &mut path, out);
        }
    }
    if let Some(outputs) = input["output_changes"].as_object() {
        for (name, change) in outputs {
            let mut path = vec![key("output_changes"), key(name)];
            change_paths(change, &mut path, out);
        }
    }
    values_paths(
        &input["planned_values"],
        &mut vec![key("planned_values")],
        out,
    );
    values_paths(
        &input["prior_state"]["values"],
        &mut vec![key("prior_state"), key("values")],
        out,
    );
    if let Some(vars) = input["configuration"]["root_module"]["variables"].as_object() {
        for (name, decl) in vars {
            if decl["sensitive"] == Json::Bool(true) {
                let mut path = vec![key("variables"), key(name), key("value")];
                marked(
                    &input["variables"][name]["value"],
                    &Json::Bool(true),
                    &mut path,
                    out,
                );
            }
        }
    }
}

/// A `change` object: `before` by `before_sensitive`, `after` by `after_sensitive`.
fn change_paths(change: &Json, path: &mut Vec<Seg>, out: &mut Vec<Vec<Seg>>) {
    for (value_key, marks_key) in [("before", "before_sensitive"), ("after", "after_sensitive")] {
        path.push(Seg::Key(value_key.to_string()));
        marked(&change[value_key], &change[marks_key], path, out);
        path.pop();
    }
}

/// `planned_values` or `prior_state.values`: outputs and the module tree.
fn values_paths(values: &Json, path: &mut Vec<Seg>, out: &mut Vec<Vec<Seg>>) {
    if let Some(outputs) = values["outputs"].as_object() {
        for (name, output) in outputs {
            if output["sensitive"] == Json::Bool(true) {
                let mut p = path.clone();
                p.extend([
                    Seg::Key("outputs".into()),
                    Seg::Key(name.clone()),
                    Seg::Key("value".into()),
                ]);
                marked(&output["value"], &Json::Bool(true), &mut p, out);
            }
        }
    }
    path.push(Seg::Key("root_module".into()));
    module_paths(&values["root_module"], path, out, 0);
    path.pop();
}

const MAX_MODULE_DEPTH: usize = 64;

fn module_paths(module: &Json, path: &mut Vec<Seg>, out: &mut Vec<Vec<Seg>>, depth: usize) {
    for (i, r) in module["resources"]
        .as_array()
        .into_iter()
        .flatten()
        .enumerate()
    {
        path.extend([
            Seg::Key("resources".into()),
            Seg::Index(i),
            Seg::Key("values".into()),
        ]);
        marked(&r["values"], &r["sensitive_values"], path, out);
        path.truncate(path.len() - 3);
    }
    if depth < MAX_MODULE_DEPTH {
        for (i, child) in module["child_modules"]
            .as_array()
            .into_iter()
            .flatten()
            .enumerate()
        {
            path.extend([Seg::Key("child_modules".into()), Seg::Index(i)]);
            module_paths(child, path, out, depth + 1);
            path.truncate(path.len() - 2);
        }
    }
}

/// Walks a sensitivity map alongside the value it describes: `true` marks the value there
/// (when it is not null); objects and arrays descend.
fn marked(value: &Json, marks: &Json, path: &mut Vec<Seg>, out: &mut Vec<Vec<Seg>>) {
    match (marks, value) {
        (_, Json::Null) => {}
        (Json::Bool(true), _) if value.as_str() != Some(REDACTED) => out.push(path.clone()),
        (Json::Object(m), Json::Object(obj)) => {
            for (k, mark) in m {
                if let Some(v) = obj.get(k) {
                    path.push(Seg::Key(k.clone()));
                    marked(v, mark, path, out);
                    path.pop();
                }
            }
        }
        (Json::Array(ms), Json::Array(items)) => {
            for (i, (v, mark)) in items.iter().zip(ms).enumerate() {
                path.push(Seg::Index(i));
                marked(v, mark, path, out);
                path.pop();
            }
        }
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn marks_descend_into_objects_and_lists() {
        let v = json!({"a": "x", "b": {"c": "y", "d": "z"}, "l": ["p", "q"], "n": null});
        let marks = json!({"b": {"c": true}, "l": [false, true], "n": true, "missing": true});
        let mut out = Vec::new();
        marked(&v, &marks, &mut Vec::new(), &mut out);
        let key = |k: &str| Seg::Key(k.into());
        assert_eq!(
            out,
            vec![vec![key("b"), key("c")], vec![key("l"), Seg::Index(1)]]
        );
        let mut whole = Vec::new();
        marked(
            &json!({"k": [1, 2]}),
            &json!(true),
            &mut Vec::new(),
            &mut whole,
        );
        assert_eq!(whole, vec![Vec::<Seg>::new()]);
    }

    #[test]
    fn nothing_to_hide_is_not_copied() {
        let plan = json!({"resource_changes": [{"change": {"after": {"p": null}, "after_sensitive": {"p": true}}}]});
        assert!(matches!(redacted(&plan), Cow::Borrowed(_)));
        let plan = json!({"resource_changes": [{"change": {"after": {"p": "x"}, "after_sensitive": {"p": true}}}]});
        assert!(matches!(redacted(&plan), Cow::Owned(_)));
    }
}
