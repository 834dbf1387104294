//! The gate: enforcement levels, outcomes, fail-closed errors, message and address
//! extraction, redaction per set.

use super::*;
use baton_policy::Enforcement::{Advisory, HardMandatory, SoftMandatory};
use baton_policy::{evaluate, Decision, FindingKind, Outcome};
use serde_json::{json, Value};

const DENY_DELETES: &str = "package gate\n\ndeny contains msg if {\n\tsome rc in input.resource_changes\n\t\"delete\" in rc.change.actions\n\tmsg := sprintf(\"%s would be deleted\", [rc.address])\n}\n";
const WARN_CREATES: &str = "package gate.warnings\n\nwarn contains msg if {\n\tsome rc in input.resource_changes\n\t\"create\" in rc.change.actions\n\tmsg := sprintf(\"%s is new\", [rc.address])\n}\n";

fn plan(changes: &[(&str, &[&str])]) -> Value {
    json!({
        "format_version": "1.2",
        "resource_changes": changes.iter().map(|(addr, actions)| json!({
            "address": addr,
            "type": addr.split('.').next(),
            "change": {"actions": actions},
        })).collect::<Vec<_>>(),
    })
}

fn decide(
    files: &[(&str, &str)],
    enforcement: Enforcement,
    input: &Value,
) -> (Decision, Sources, TempDir) {
    let dir = fixture(files);
    let (p, sources) = load_ok(&[set("main", dir.path(), enforcement)]);
    (evaluate(&p, input), sources, dir)
}

#[test]
fn no_findings_pass() {
    let (d, _, _) = decide(
        &[("p.rego", DENY_DELETES)],
        HardMandatory,
        &plan(&[("a_b.c", &["create"])]),
    );
    assert_eq!(d.outcome, Outcome::Pass);
    assert!(d.findings.is_empty() && d.errors.is_empty());
    assert!(!d.blocks(false));
}

#[test]
fn hard_mandatory_denials_stop_without_override() {
    let (d, _, dir) = decide(
        &[("p.rego", DENY_DELETES)],
        HardMandatory,
        &plan(&[("a_b.c", &["delete"])]),
    );
    assert_eq!(d.outcome, Outcome::HardFail);
    assert!(d.blocks(false) && d.blocks(true));
    let f = &d.findings[0];
    assert_eq!(f.set, "main");
    assert_eq!(f.enforcement, HardMandatory);
    assert_eq!(f.kind, FindingKind::Deny);
    assert_eq!(f.package, "gate");
    assert_eq!(f.rule, "deny");
    assert_eq!(f.message, "a_b.c would be deleted");
    assert_eq!(f.address.as_deref(), Some("a_b.c"));
    assert_eq!(
        f.policy_files,
        vec![dir.path().join("p.rego").display().to_string()]
    );
    assert_eq!(
        f.to_string().replace(&dir.path().display().to_string(), "DIR"),
        "[hard-mandatory] deny: a_b.c: a_b.c would be deleted (data.gate.deny in DIR/p.rego, set \"main\")"
    );
}

#[test]
fn soft_mandatory_denials_stop_unless_overridden() {
    let (d, _, _) = decide(
        &[("p.rego", DENY_DELETES)],
        SoftMandatory,
        &plan(&[("a_b.c", &["delete"])]),
    );
    assert_eq!(d.outcome, Outcome::SoftFail);
    assert!(d.blocks(false));
    assert!(!d.blocks(true));
}

#[test]
fn advisory_denials_only_warn() {
    let (d, _, _) = decide(
        &[("p.rego", DENY_DELETES)],
        Advisory,
        &plan(&[("a_b.c", &["delete"])]),
    );
    assert_eq!(d.outcome, Outcome::Warn);
    assert!(!d.blocks(false));
    assert_eq!(d.findings[0].enforcement, Advisory);
}

#[test]
fn warn_rules_are_advisory_even_in_a_hard_mandatory_set() {
    let (d, _, _) = decide(
        &[("w.rego", WARN_CREATES)],
        HardMandatory,
        &plan(&[("a_b.c", &["create"])]),
    );
    assert_eq!(d.outcome, Outcome::Warn);
    assert_eq!(d.findings[0].kind, FindingKind::Warn);
    assert_eq!(d.findings[0].enforcement, Advisory);
    assert_eq!(d.findings[0].package, "gate.warnings");
}

#[test]
fn the_most_severe_set_decides() {
    let adv = fixture(&[("w.rego", WARN_CREATES)]);
    let soft = fixture(&[("p.rego", DENY_DELETES)]);
    let hard = fixture(&[("p.rego", "package h\n\ndeny contains \"replace\" if {\n\tsome rc in input.resource_changes\n\tcount(rc.change.actions) == 2\n}\n")]);
    let (p, _) = load_ok(&[
        set("adv", adv.path(), Advisory),
        set("soft", soft.path(), SoftMandatory),
        set("hard", hard.path(), HardMandatory),
    ]);
    let only_soft = evaluate(&p, &plan(&[("a_b.c", &["create"]), ("a_b.d", &["delete"])]));
    assert_eq!(only_soft.outcome, Outcome::SoftFail);
    assert_eq!(only_soft.findings.len(), 2);
    let hard_too = evaluate(&p, &plan(&[("a_b.d", &["delete", "create"])]));
    assert_eq!(hard_too.outcome, Outcome::HardFail);
    let sets: Vec<&str> = hard_too.findings.iter().map(|f| f.set.as_str()).collect();
    assert_eq!(sets, vec!["hard", "soft", "adv"]);
}

#[test]
fn runtime_errors_fail_closed_with_file_line_and_column() {
    // A complete rule with two values is an evaluation error; so is a function with two.
    // (An error inside a built-in, such as a division by zero, is not: see below.)
    let files = [
        ("conflict.rego", "package conflict\n\nlevel := 1 if input.a\nlevel := 2 if input.b\n\ndeny contains \"high\" if level > 1\n"),
        ("math.rego", "package math\n\nf(_) := 1\nf(_) := 2\nwarn contains msg if {\n\tmsg := sprintf(\"%v\", [f(1)])\n}\n"),
    ];
    let (d, sources, dir) = decide(
        &files,
        Advisory,
        &json!({"a": true, "b": true, "resource_changes": []}),
    );
    assert_eq!(
        d.outcome,
        Outcome::HardFail,
        "an advisory set that errors still fails closed"
    );
    assert!(d.blocks(true));
    assert_eq!(d.errors.len(), 2);
    let text = d
        .render(&sources)
        .replace(&dir.path().display().to_string(), "DIR");
    assert!(text.contains("Error: Policy evaluation failed"), "{text}");
    assert!(text.contains("on DIR/conflict.rego:"), "{text}");
    assert!(text.contains("on DIR/math.rego:6:"), "{text}");
    assert!(
        text.contains("policy set \"main\", rule data.math.warn"),
        "{text}"
    );
    assert!(
        text.contains("A policy that cannot be evaluated denies"),
        "{text}"
    );
}

#[test]
fn an_unknown_function_fails_closed() {
    let (d, sources, dir) = decide(
        &[(
            "p.rego",
            "package p\n\ndeny contains msg if {\n\tmsg := no_such_function(input.x)\n}\n",
        )],
        Advisory,
        &json!({"x": 1}),
    );
    let text = d
        .render(&sources)
        .replace(&dir.path().display().to_string(), "DIR");
    if d.errors.is_empty() {
        panic!("expected an error, got {d:?}");
    }
    assert_eq!(d.outcome, Outcome::HardFail);
    assert!(text.contains("DIR/p.rego:4:"), "{text}");
}

#[test]
fn unsafe_variables_fail_closed_when_evaluated() {
    // regorus does not reject unsafe variables when compiling (OPA does); the rule errors
    // when its body reaches the variable, and the gate denies.
    let policy = "package p\n\ndeny contains msg if {\n\tinput.x == 1\n\tmsg := y\n}\n";
    let (d, sources, dir) = decide(&[("p.rego", policy)], Advisory, &json!({"x": 1}));
    assert_eq!(d.outcome, Outcome::HardFail);
    let text = d
        .render(&sources)
        .replace(&dir.path().display().to_string(), "DIR");
    assert!(text.contains("on DIR/p.rego:5:9"), "{text}");
    assert!(text.contains("var y is unsafe"), "{text}");
}

#[test]
fn load_errors_become_a_hard_failure() {
    let dir = fixture(&[("p.rego", "package p\n\ndeny contains")]);
    let sources = Sources::new();
    let diags =
        baton_policy::load(&[set("s", dir.path(), Advisory)], &sources).expect_err("load fails");
    let d = Decision::from_load_errors(diags);
    assert_eq!(d.outcome, Outcome::HardFail);
    assert_eq!(d.errors.len(), 1);
}

#[test]
fn set_and_contains_forms_in_both_syntaxes_produce_findings() {
    let files = [
        ("v1.rego", "package v1\n\ndeny contains msg if {\n\tsome rc in input.resource_changes\n\tmsg := sprintf(\"v1 %s\", [rc.address])\n}\n"),
        ("v0.rego", "package v0\n\ndeny[msg] {\n\trc := input.resource_changes[_]\n\tmsg := sprintf(\"v0 %s\", [rc.address])\n}\n"),
        ("v0obj.rego", "package v0obj\n\nviolation[{\"msg\": msg, \"resource\": rc.address}] {\n\trc := input.resource_changes[_]\n\tmsg := \"v0 object\"\n}\n"),
        ("prefixed.rego", "package pre\n\ndeny_public_bucket contains \"prefixed\" if true\nwarn_old[\"old warn\"] if true\n"),
        ("bool.rego", "package boolean\n\ndefault deny := false\n\ndeny if input.x\n"),
    ];
    let (d, _, _) = decide(
        &files,
        HardMandatory,
        &json!({"x": true, "resource_changes": [{"address": "a_b.c", "change": {"actions": ["create"]}}]}),
    );
    let got: Vec<(String, String, Option<String>)> = d
        .findings
        .iter()
        .map(|f| {
            (
                format!("{}.{}", f.package, f.rule),
                f.message.clone(),
                f.address.clone(),
            )
        })
        .collect();
    let a = Some("a_b.c".to_string());
    assert_eq!(
        got,
        vec![
            (
                "boolean.deny".into(),
                "denied (the rule is true)".into(),
                None
            ),
            ("pre.deny_public_bucket".into(), "prefixed".into(), None),
            ("v0.deny".into(), "v0 a_b.c".into(), a.clone()),
            ("v0obj.violation".into(), "v0 object".into(), a.clone()),
            ("v1.deny".into(), "v1 a_b.c".into(), a.clone()),
            ("pre.warn_old".into(), "old warn".into(), None),
        ]
    );
}

#[test]
fn an_undefined_rule_does_not_hide_the_others() {
    let files = [
        ("a.rego", "package a\n\ndeny if input.never\n\nwarn contains \"a warns\" if true\n"),
        ("b.rego", "package b\n\ndeny := msg if {\n\tinput.never\n\tmsg := \"x\"\n}\n\ndeny_other contains \"b denies\" if true\n"),
    ];
    let (d, _, _) = decide(&files, SoftMandatory, &json!({}));
    let msgs: Vec<&str> = d.findings.iter().map(|f| f.message.as_str()).collect();
    assert_eq!(msgs, vec!["b denies", "a warns"]);
    assert_eq!(d.outcome, Outcome::SoftFail);
}

#[test]
fn one_failing_rule_does_not_hide_the_findings_of_the_others() {
    let files = [
        (
            "bad.rego",
            "package bad\n\nlevel := 1 if true\nlevel := 2 if true\n\ndeny contains x if {\n\tx := level\n}\n",
        ),
        (
            "good.rego",
            "package good\n\nwarn contains \"still reported\" if true\n",
        ),
    ];
    let (d, _, _) = decide(&files, Advisory, &json!({}));
    assert_eq!(d.errors.len(), 1);
    assert_eq!(d.findings.len(), 1);
    assert_eq!(d.findings[0].message, "still reported");
    assert_eq!(d.outcome, Outcome::HardFail);
}

#[test]
fn addresses_come_from_violation_objects_and_messages() {
    let policy = r#"package shapes

deny contains {"msg": "conftest style", "details": {"address": "aws_s3_bucket.logs"}}
deny contains {"msg": "resource field", "resource": "aws_s3_bucket.data"}
deny contains {"msg": "resource object", "resource": input.resource_changes[0]}
deny contains {"message": "resource_address field", "resource_address": "module.m.aws_s3_bucket.x[\"k\"]"}
deny contains "aws_s3_bucket.logs: named in the text"
deny contains "no address here"
violation contains {"msg": "gatekeeper", "details": {"address": "aws_s3_bucket.data", "why": 1}}
"#;
    let input = json!({"resource_changes": [
        {"address": "aws_s3_bucket.logs", "change": {"actions": ["create"]}},
        {"address": "aws_s3_bucket.data", "change": {"actions": ["create"]}},
    ]});
    let (d, _, _) = decide(&[("p.rego", policy)], HardMandatory, &input);
    let got: Vec<(&str, Option<&str>)> = d
        .findings
        .iter()
        .map(|f| (f.message.as_str(), f.address.as_deref()))
        .collect();
    assert_eq!(
        got,
        vec![
            ("no address here", None),
            ("resource field", Some("aws_s3_bucket.data")),
            (
                "aws_s3_bucket.logs: named in the text",
                Some("aws_s3_bucket.logs")
            ),
            ("conftest style", Some("aws_s3_bucket.logs")),
            ("resource object", Some("aws_s3_bucket.logs")),
            (
                "resource_address field",
                Some("module.m.aws_s3_bucket.x[\"k\"]")
            ),
            ("gatekeeper", Some("aws_s3_bucket.data")),
        ]
    );
}

#[test]
fn partial_object_rules_keyed_by_address() {
    let policy = "package keyed\n\ndeny[rc.address] := msg if {\n\tsome rc in input.resource_changes\n\tmsg := \"keyed\"\n}\n";
    let (d, _, _) = decide(
        &[("p.rego", policy)],
        HardMandatory,
        &plan(&[("a_b.c", &["create"])]),
    );
    assert_eq!(d.findings.len(), 1);
    assert_eq!(d.findings[0].message, "keyed");
    assert_eq!(d.findings[0].address.as_deref(), Some("a_b.c"));
}

#[test]
fn numbers_compare_as_numbers() {
    // The engine's JSON uses arbitrary precision; policies must still see plain numbers.
    let policy = "package n\n\ndeny contains msg if {\n\tinput.size > 1.5\n\tinput.count + 1 == 10000000000000000001\n\tmsg := sprintf(\"%v %v\", [input.size, input.count])\n}\n";
    let input: Value =
        serde_json::from_str("{\"size\": 2.25, \"count\": 10000000000000000000}").expect("json");
    let (d, _, _) = decide(&[("p.rego", policy)], HardMandatory, &input);
    assert_eq!(d.findings.len(), 1, "{d:?}");
    assert_eq!(d.findings[0].message, "2.25 10000000000000000000");
}

#[test]
fn prints_are_collected_not_written() {
    let policy = "package p\n\nwarn contains \"w\" if {\n\tprint(\"checking\", input.x)\n}\n";
    let (d, _, _) = decide(&[("p.rego", policy)], HardMandatory, &json!({"x": 5}));
    assert_eq!(d.prints.len(), 1);
    assert!(
        d.prints[0].ends_with("p.rego:4: checking 5"),
        "{:?}",
        d.prints
    );
}

#[test]
fn the_run_context_is_part_of_the_input() {
    let policy = "package ctx\n\ndeny contains msg if {\n\tinput.baton.environment == \"prod\"\n\tinput.baton.command == \"apply\"\n\tmsg := sprintf(\"%s by %s at %s\", [input.baton.run_id, input.baton.user, input.baton.time])\n}\n";
    let input = json!({"baton": {"environment": "prod", "command": "apply", "user": "u", "host": "h", "run_id": "r", "time": "2026-01-01T00:00:00Z"}});
    let (d, _, _) = decide(&[("p.rego", policy)], HardMandatory, &input);
    assert_eq!(d.findings[0].message, "r by u at 2026-01-01T00:00:00Z");
}

const SENSITIVE_POLICY: &str = "package s\n\ndeny contains msg if {\n\tsome rc in input.resource_changes\n\tmsg := sprintf(\"password=%s\", [rc.change.after.password])\n}\n";

fn sensitive_plan() -> Value {
    json!({"resource_changes": [{
        "address": "a_b.c",
        "change": {
            "actions": ["create"],
            "after": {"password": "hunter2"},
            "after_sensitive": {"password": true},
        },
    }]})
}

#[test]
fn sensitive_values_reach_policies_redacted() {
    let (d, _, _) = decide(
        &[("p.rego", SENSITIVE_POLICY)],
        HardMandatory,
        &sensitive_plan(),
    );
    assert_eq!(d.findings[0].message, "password=(sensitive value)");
}

#[test]
fn a_set_that_opts_in_sees_sensitive_values() {
    let dir = fixture(&[("p.rego", SENSITIVE_POLICY)]);
    let mut opted = set("opted", dir.path(), Advisory);
    opted.include_sensitive = true;
    let (p, _) = load_ok(&[opted, set("plain", dir.path(), Advisory)]);
    let d = evaluate(&p, &sensitive_plan());
    let got: Vec<(&str, &str)> = d
        .findings
        .iter()
        .map(|f| (f.set.as_str(), f.message.as_str()))
        .collect();
    assert_eq!(
        got,
        vec![
            ("opted", "password=hunter2"),
            ("plain", "password=(sensitive value)")
        ]
    );
}

#[test]
fn evaluation_is_repeatable_with_the_same_loaded_policies() {
    let dir = fixture(&[("p.rego", DENY_DELETES)]);
    let (p, _) = load_ok(&[set("s", dir.path(), HardMandatory)]);
    let first = evaluate(&p, &plan(&[("a_b.c", &["delete"])]));
    let second = evaluate(&p, &plan(&[("a_b.d", &["create"])]));
    let third = evaluate(&p, &plan(&[("a_b.c", &["delete"])]));
    assert_eq!(first, third);
    assert_eq!(second.outcome, Outcome::Pass);
}

#[test]
fn an_error_inside_a_builtin_makes_its_rule_undefined_as_in_opa() {
    // OPA's default (not `--strict-builtin-errors`): `count(null)` and `1 / 0` make the
    // expression undefined; the rule does not fire, and the other rules still decide.
    let files = [(
        "p.rego",
        "package p\n\ndeny contains \"counted\" if count(input.tags) > 0\n\ndeny contains \"divided\" if 1 / input.n > 0\n\ndeny contains msg if {\n\tsome rc in input.resource_changes\n\tmsg := sprintf(\"%-12s|%5s|\", [rc.address, \"x\"])\n}\n",
    )];
    let (d, sources, _) = decide(
        &files,
        HardMandatory,
        &json!({"tags": null, "n": 0, "resource_changes": [{"address": "a_b.c"}]}),
    );
    assert!(d.errors.is_empty(), "{}", d.render(&sources));
    let msgs: Vec<&str> = d.findings.iter().map(|f| f.message.as_str()).collect();
    assert_eq!(msgs, vec!["a_b.c       |    x|"]);
    assert_eq!(d.outcome, Outcome::HardFail);
}
