//! The server's guarantee that no sensitive value leaves it: plans and state objects are
//! turned into the API's views here, every value their marks say is sensitive replaced by
//! [`SENSITIVE`], every value unknown until apply by [`UNKNOWN`].
//!
//! The marks are Terraform's JSON plan and state marks (`before_sensitive`, `after_sensitive`,
//! `after_unknown`, `sensitive_values`): `true` where the value is sensitive (or unknown), an
//! object or list of the same shape where only parts are. Must not trust that the binary
//! already removed a value: whatever sits under a mark is replaced, whatever it is.

use serde_json::{json, Map, Value};

/// What a sensitive value is shown as.
pub const SENSITIVE: &str = "(sensitive value)";
/// What a value known only after apply is shown as.
pub const UNKNOWN: &str = "(known after apply)";

/// `value` with every part `marks` flags replaced by `with`. A part the marks flag that the
/// value does not have (Terraform leaves unknown values out of `after`) is added.
pub fn replace_marked(value: &Value, marks: &Value, with: &str) -> Value {
    match marks {
        Value::Bool(true) => json!(with),
        Value::Object(m) => match value {
            Value::Object(v) => {
                let mut out = v.clone();
                for (k, mark) in m {
                    let part = v.get(k).unwrap_or(&Value::Null);
                    if v.contains_key(k) || marked(mark) {
                        let replaced = replace_marked(part, mark, with);
                        if v.contains_key(k) || replaced != Value::Null {
                            out.insert(k.clone(), replaced);
                        }
                    }
                }
                Value::Object(out)
            }
            // A value that is not an object under an object of marks: any mark anywhere
            // inside hides it whole.
            other if marked(marks) => hide_if_present(other, with),
            other => other.clone(),
        },
        Value::Array(ms) => match value {
            Value::Array(v) => Value::Array(
                v.iter()
                    .enumerate()
                    .map(|(i, part)| match ms.get(i) {
                        Some(mark) => replace_marked(part, mark, with),
                        None => part.clone(),
                    })
                    .collect(),
            ),
            other if marked(marks) => hide_if_present(other, with),
            other => other.clone(),
        },
        _ => value.clone(),
    }
}

/// Whether `marks` flags anything.
fn marked(marks: &Value) -> bool {
    match marks {
        Value::Bool(b) => *b,
        Value::Object(m) => m.values().any(marked),
        Value::Array(a) => a.iter().any(marked),
        _ => false,
    }
}

fn hide_if_present(v: &Value, with: &str) -> Value {
    if v.is_null() {
        Value::Null
    } else {
        json!(with)
    }
}

/// The API's view of a plan given as Terraform's JSON plan (`terraform show -json`):
/// `{summary, changes: [{address, actions, reason, before, after}]}`, no-op changes left out,
/// sensitive values and unknown values replaced.
pub fn plan_view(plan: &Value) -> Value {
    let empty = Vec::new();
    let rcs = plan
        .get("resource_changes")
        .and_then(Value::as_array)
        .unwrap_or(&empty);
    let (mut add, mut change, mut destroy) = (0u64, 0u64, 0u64);
    let mut changes = Vec::new();
    for rc in rcs {
        let ch = rc.get("change").unwrap_or(&Value::Null);
        let actions: Vec<String> = ch
            .get("actions")
            .and_then(Value::as_array)
            .map(|a| {
                a.iter()
                    .filter_map(|x| x.as_str().map(str::to_string))
                    .collect()
            })
            .unwrap_or_default();
        if actions.is_empty() || actions == ["no-op"] {
            continue;
        }
        for a in &actions {
            match a.as_str() {
                "create" => add += 1,
                "update" => change += 1,
                "delete" => destroy += 1,
                _ => {}
            }
        }
        let nothing = Value::Null;
        let before = replace_marked(
            ch.get("before").unwrap_or(&nothing),
            ch.get("before_sensitive").unwrap_or(&nothing),
            SENSITIVE,
        );
        let after = replace_marked(
            ch.get("after").unwrap_or(&nothing),
            ch.get("after_sensitive").unwrap_or(&nothing),
            SENSITIVE,
        );
        let after = replace_marked(&after, ch.get("after_unknown").unwrap_or(&nothing), UNKNOWN);
        changes.push(json!({
            "address": rc.get("address").cloned().unwrap_or(Value::Null),
            "actions": actions,
            "reason": rc.get("action_reason").cloned().unwrap_or(Value::Null),
            "before": before,
            "after": after,
        }));
    }
    json!({
        "summary": format!("{add} to add, {change} to change, {destroy} to destroy."),
        "changes": changes,
    })
}

/// The API's view of the state given as Terraform's JSON state values (`values` of `terraform
/// show -json`): every resource instance of every module as `{address, mode, type,
/// attributes}`, sensitive attributes replaced.
pub fn state_objects(values: &Value) -> Vec<Value> {
    let mut out = Vec::new();
    if let Some(root) = values.get("root_module") {
        module_objects(root, &mut out);
    }
    out
}

fn module_objects(module: &Value, out: &mut Vec<Value>) {
    for r in module
        .get("resources")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        let nothing = Value::Null;
        let attributes = replace_marked(
            r.get("values").unwrap_or(&nothing),
            r.get("sensitive_values").unwrap_or(&nothing),
            SENSITIVE,
        );
        let mut o = Map::new();
        for k in ["address", "mode", "type"] {
            o.insert(k.into(), r.get(k).cloned().unwrap_or(Value::Null));
        }
        o.insert("attributes".into(), attributes);
        out.push(Value::Object(o));
    }
    for child in module
        .get("child_modules")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        module_objects(child, out);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn marked_values_are_replaced_in_nested_objects_and_lists() {
        let value = json!({
            "name": "web",
            "password": "hunter2",
            "tags": {"owner": "ops", "token": "t0k"},
            "keys": ["a", "secret-b", "c"],
            "blocks": [{"x": 1, "y": "secret-y"}],
        });
        let marks = json!({
            "password": true,
            "tags": {"token": true},
            "keys": [false, true],
            "blocks": [{"y": true}],
        });
        let got = replace_marked(&value, &marks, SENSITIVE);
        assert_eq!(
            got,
            json!({
                "name": "web",
                "password": SENSITIVE,
                "tags": {"owner": "ops", "token": SENSITIVE},
                "keys": ["a", SENSITIVE, "c"],
                "blocks": [{"x": 1, "y": SENSITIVE}],
            })
        );
        let text = got.to_string();
        for secret in ["hunter2", "t0k", "secret-b", "secret-y"] {
            assert!(!text.contains(secret), "{secret} leaked: {text}");
        }
    }

    #[test]
    fn a_whole_value_marked_is_replaced_and_a_mark_over_a_scalar_hides_it() {
        assert_eq!(
            replace_marked(&json!({"a": 1}), &json!(true), SENSITIVE),
            json!(SENSITIVE)
        );
        // Marks shaped as an object over a string: the string is hidden whole.
        assert_eq!(
            replace_marked(&json!("secret"), &json!({"k": true}), SENSITIVE),
            json!(SENSITIVE)
        );
        assert_eq!(
            replace_marked(&json!("plain"), &json!({"k": false}), SENSITIVE),
            json!("plain")
        );
        assert_eq!(
            replace_marked(&json!("plain"), &json!(false), SENSITIVE),
            json!("plain")
        );
    }

    #[test]
    fn the_plan_view_redacts_marks_and_shows_unknowns() {
        let plan = json!({
            "resource_changes": [
                {
                    "address": "terraform_data.a",
                    "change": {
                        "actions": ["create"],
                        "before": null,
                        "after": {"input": "pw", "triggers_replace": null},
                        "before_sensitive": false,
                        "after_sensitive": {"input": true},
                        "after_unknown": {"id": true, "output": true}
                    }
                },
                {
                    "address": "terraform_data.b",
                    "action_reason": "replace_because_cannot_update",
                    "change": {
                        "actions": ["delete", "create"],
                        "before": {"input": "x"},
                        "after": {"input": "y"},
                        "before_sensitive": {},
                        "after_sensitive": {},
                        "after_unknown": {"id": true}
                    }
                },
                {
                    "address": "terraform_data.c",
                    "change": {"actions": ["no-op"], "before": {}, "after": {}}
                }
            ]
        });
        let v = plan_view(&plan);
        assert_eq!(v["summary"], "2 to add, 0 to change, 1 to destroy.");
        assert_eq!(v["changes"].as_array().map(Vec::len), Some(2));
        let a = &v["changes"][0];
        assert_eq!(a["address"], "terraform_data.a");
        assert_eq!(a["actions"], json!(["create"]));
        assert_eq!(a["reason"], Value::Null);
        assert_eq!(a["after"]["input"], SENSITIVE);
        assert_eq!(a["after"]["id"], UNKNOWN);
        assert_eq!(a["after"]["output"], UNKNOWN);
        assert_eq!(a["after"]["triggers_replace"], Value::Null);
        assert_eq!(v["changes"][1]["reason"], "replace_because_cannot_update");
        assert!(!v.to_string().contains("\"pw\""));
    }

    #[test]
    fn state_objects_of_every_module_with_sensitive_attributes_hidden() {
        let values = json!({
            "root_module": {
                "resources": [{
                    "address": "terraform_data.a", "mode": "managed", "type": "terraform_data",
                    "values": {"input": "s3cret", "id": "1"},
                    "sensitive_values": {"input": true}
                }],
                "child_modules": [{
                    "resources": [{
                        "address": "module.m.terraform_data.b", "mode": "managed",
                        "type": "terraform_data",
                        "values": {"input": ["ok", "hidden"]},
                        "sensitive_values": {"input": [false, true]}
                    }]
                }]
            }
        });
        let objs = state_objects(&values);
        assert_eq!(objs.len(), 2);
        assert_eq!(objs[0]["attributes"]["input"], SENSITIVE);
        assert_eq!(objs[0]["attributes"]["id"], "1");
        assert_eq!(objs[1]["address"], "module.m.terraform_data.b");
        assert_eq!(objs[1]["attributes"]["input"], json!(["ok", SENSITIVE]));
        let text = Value::Array(objs).to_string();
        assert!(!text.contains("s3cret") && !text.contains("hidden"));
    }
}
