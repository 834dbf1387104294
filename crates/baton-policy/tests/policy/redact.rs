//! Redaction of a plan JSON in the shape of `terraform show -json`.

use baton_policy::{redact, REDACTED};
use serde_json::json;

#[test]
fn redacts_every_place_a_plan_marks_sensitive() {
    let plan = json!({
        "variables": {"db_password": {"value": "pw"}, "region": {"value": "eu"}},
        "configuration": {"root_module": {"variables": {
            "db_password": {"sensitive": true},
            "region": {},
        }}},
        "resource_changes": [{
            "address": "aws_db_instance.main",
            "change": {
                "actions": ["update"],
                "before": {"password": "old", "name": "db", "nested": [{"k": "a"}, {"k": "b"}]},
                "after": {"password": "new", "name": "db", "nested": [{"k": "a"}, {"k": "c"}], "unset": null},
                "before_sensitive": {"password": true, "nested": [{}, {"k": true}]},
                "after_sensitive": {"password": true, "nested": [{}, {"k": true}], "unset": true},
            },
        }],
        "resource_drift": [{
            "address": "aws_db_instance.main",
            "change": {"actions": ["update"], "before": "whole", "after": "whole2", "before_sensitive": true, "after_sensitive": false},
        }],
        "output_changes": {
            "secret": {"actions": ["create"], "before": null, "after": "s3cr3t", "before_sensitive": false, "after_sensitive": true},
            "plain": {"actions": ["create"], "before": null, "after": "p", "before_sensitive": false, "after_sensitive": false},
        },
        "planned_values": {
            "outputs": {"secret": {"sensitive": true, "value": "s3cr3t"}, "plain": {"sensitive": false, "value": "p"}},
            "root_module": {
                "resources": [{"address": "aws_db_instance.main", "values": {"password": "new", "name": "db"}, "sensitive_values": {"password": true}}],
                "child_modules": [{
                    "address": "module.m",
                    "resources": [{"address": "module.m.x_y.z", "values": {"token": ["a", "b"]}, "sensitive_values": {"token": [true, false]}}],
                }],
            },
        },
        "prior_state": {"values": {
            "outputs": {"secret": {"sensitive": true, "value": "old"}},
            "root_module": {"resources": [{"address": "aws_db_instance.main", "values": {"password": "old"}, "sensitive_values": {"password": true}}]},
        }},
    });
    let r = redact(&plan);
    let s = REDACTED;
    assert_eq!(
        r["variables"],
        json!({"db_password": {"value": s}, "region": {"value": "eu"}})
    );
    let change = &r["resource_changes"][0]["change"];
    assert_eq!(
        change["before"],
        json!({"password": s, "name": "db", "nested": [{"k": "a"}, {"k": s}]})
    );
    assert_eq!(
        change["after"],
        json!({"password": s, "name": "db", "nested": [{"k": "a"}, {"k": s}], "unset": null})
    );
    assert_eq!(
        change["after_sensitive"],
        plan["resource_changes"][0]["change"]["after_sensitive"]
    );
    assert_eq!(r["resource_drift"][0]["change"]["before"], json!(s));
    assert_eq!(r["resource_drift"][0]["change"]["after"], json!("whole2"));
    assert_eq!(r["output_changes"]["secret"]["after"], json!(s));
    assert_eq!(r["output_changes"]["plain"]["after"], json!("p"));
    assert_eq!(r["planned_values"]["outputs"]["secret"]["value"], json!(s));
    assert_eq!(r["planned_values"]["outputs"]["plain"]["value"], json!("p"));
    assert_eq!(
        r["planned_values"]["root_module"]["resources"][0]["values"],
        json!({"password": s, "name": "db"})
    );
    assert_eq!(
        r["planned_values"]["root_module"]["child_modules"][0]["resources"][0]["values"],
        json!({"token": [s, "b"]})
    );
    assert_eq!(
        r["prior_state"]["values"]["outputs"]["secret"]["value"],
        json!(s)
    );
    assert_eq!(
        r["prior_state"]["values"]["root_module"]["resources"][0]["values"]["password"],
        json!(s)
    );
    // Nothing else changed.
    let mut again = redact(&r);
    assert_eq!(again, r, "redaction is idempotent");
    again["resource_changes"][0]["change"]["after"]["name"] = json!("x");
    assert_ne!(again, r);
}

#[test]
fn input_with_sensitive_values_already_nulled_is_unchanged() {
    let plan = json!({
        "resource_changes": [{
            "address": "a_b.c",
            "change": {"actions": ["create"], "before": null, "after": {"password": null}, "before_sensitive": false, "after_sensitive": {"password": true}},
        }],
        "planned_values": {"outputs": {"o": {"sensitive": true}}},
    });
    assert_eq!(redact(&plan), plan);
}

#[test]
fn shapes_that_do_not_match_are_left_alone() {
    let odd = json!({"resource_changes": [{"change": {"after": ["x"], "after_sensitive": {"a": true}}}, 3, null], "planned_values": 7});
    assert_eq!(redact(&odd), odd);
    assert_eq!(redact(&json!([1, 2])), json!([1, 2]));
}
