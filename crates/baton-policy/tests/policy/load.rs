//! Loading: syntax and compile errors with file, line and column; both Rego syntaxes; data
//! files; missing directories.

use super::*;
use baton_policy::Enforcement::HardMandatory;

#[test]
fn a_v1_syntax_error_names_file_line_and_column() {
    let dir = fixture(&[(
        "p.rego",
        "package p\n\ndeny contains msg if {\n\tmsg := \"x\"\n\tcount(input.a) > \n}\n",
    )]);
    let out = load_err(&[set("s", dir.path(), HardMandatory)], dir.path());
    assert!(
        out.starts_with("Error: Invalid policy\n\n  on DIR/p.rego:6:1:\n   6: }\n"),
        "{out}"
    );
}

#[test]
fn a_v0_syntax_error_is_reported_in_v0_terms() {
    // The v1 parse fails on line 3 (no `if`); the v0 parse gets to line 5: that is the error
    // shown.
    let dir = fixture(&[(
        "old.rego",
        "package old\n\ndeny[msg] {\n\tinput.x == 1\n\tmsg := sprintf(\"%v\", [input.x]\n}\n",
    )]);
    let out = load_err(&[set("s", dir.path(), HardMandatory)], dir.path());
    assert!(out.contains("on DIR/old.rego:6:1:"), "{out}");
}

#[test]
fn every_bad_file_is_reported_not_only_the_first() {
    let dir = fixture(&[
        ("a.rego", "package a\n\nx := \n"),
        ("b.rego", "package b\n\ny := 1 +\n"),
        ("c.rego", "package c\n\nok := true\n"),
    ]);
    let out = load_err(&[set("s", dir.path(), HardMandatory)], dir.path());
    assert!(out.contains("DIR/a.rego:"), "{out}");
    assert!(out.contains("DIR/b.rego:"), "{out}");
    assert!(!out.contains("c.rego"), "{out}");
}

#[test]
fn compile_errors_are_load_errors_with_a_location() {
    let dir = fixture(&[
        ("lib.rego", "package lib\n\nf(x) := x\n"),
        ("lib2.rego", "package lib\n\nf(x, y) := y\n"),
    ]);
    let out = load_err(&[set("s", dir.path(), HardMandatory)], dir.path());
    assert!(out.contains("on DIR/lib2.rego:3:1:"), "{out}");
    assert!(
        out.contains("data.lib.f was previously defined with 1 arguments"),
        "{out}"
    );
}

#[test]
fn a_missing_directory_is_an_error() {
    let dir = fixture(&[]);
    let missing = dir.path().join("nope");
    let out = load_err(&[set("s", &missing, HardMandatory)], dir.path());
    assert!(out.contains("Cannot read policy directory"), "{out}");
    assert!(out.contains("DIR/nope"), "{out}");
}

#[test]
fn an_empty_directory_loads_with_a_warning() {
    let dir = fixture(&[("README.md", "nothing")]);
    let (p, _) = load_ok(&[set("s", dir.path(), HardMandatory)]);
    assert_eq!(p.warnings.len(), 1);
    assert_eq!(
        p.warnings.iter().next().map(|d| d.summary.as_str()),
        Some("No policies found")
    );
}

#[test]
fn policies_without_gate_rules_load_with_a_warning() {
    let dir = fixture(&[("p.rego", "package p\n\nallow := true\n")]);
    let (p, _) = load_ok(&[set("s", dir.path(), HardMandatory)]);
    assert_eq!(
        p.warnings.iter().next().map(|d| d.summary.as_str()),
        Some("No policy rules to enforce")
    );
}

#[test]
fn both_syntaxes_and_both_set_forms_load_in_one_set() {
    let dir = fixture(&[
        ("v1.rego", "package v1\n\ndeny contains \"v1\" if true\n"),
        ("v1_import.rego", "package v1i\n\nimport rego.v1\n\ndeny contains \"v1i\" if { true }\n"),
        ("v0.rego", "package v0\n\ndeny[msg] {\n\tmsg := \"v0\"\n}\n"),
        (
            "future.rego",
            "package fk\n\nimport future.keywords.contains\nimport future.keywords.if\n\ndeny contains \"fk\" if { true }\n",
        ),
        ("nested/deeper/n.rego", "package a.b.c\n\nwarn[\"nested\"] { true }\n"),
    ]);
    let (p, _) = load_ok(&[set("s", dir.path(), HardMandatory)]);
    let rules: Vec<String> = p.rules().into_iter().map(|(_, r)| r).collect();
    assert_eq!(
        rules,
        vec![
            "data.a.b.c.warn",
            "data.fk.deny",
            "data.v0.deny",
            "data.v1.deny",
            "data.v1i.deny"
        ]
    );
}

#[test]
fn test_files_are_not_part_of_the_gate() {
    let dir = fixture(&[
        ("p.rego", "package p\n\ndeny contains \"x\" if input.x\n"),
        (
            "p_test.rego",
            "package p\n\ndeny contains \"from test\" if true\n",
        ),
    ]);
    let (p, _) = load_ok(&[set("s", dir.path(), HardMandatory)]);
    let d = baton_policy::evaluate(&p, &serde_json::json!({}));
    assert!(d.findings.is_empty(), "{:?}", d.findings);
}

#[test]
fn data_files_in_json_and_yaml_merge_at_the_root_of_data() {
    let dir = fixture(&[
        ("p.rego", "package p\n\ndeny contains msg if {\n\tsome t in data.limits.types\n\tmsg := sprintf(\"%s max %v\", [t, data.other.max])\n}\n"),
        ("limits.json", "{\"limits\": {\"types\": [\"a_b\"]}}"),
        ("sub/other.yaml", "other:\n  max: 3\n"),
        ("empty.yml", ""),
    ]);
    let (p, _) = load_ok(&[set("s", dir.path(), HardMandatory)]);
    let d = baton_policy::evaluate(&p, &serde_json::json!({}));
    let msgs: Vec<&str> = d.findings.iter().map(|f| f.message.as_str()).collect();
    assert_eq!(msgs, vec!["a_b max 3"]);
}

#[test]
fn bad_data_files_are_reported_with_their_location() {
    let dir = fixture(&[
        ("p.rego", "package p\n\ndeny contains 1 if false\n"),
        ("a.json", "{\n  \"a\": [1,\n}\n"),
        ("b.yaml", "b:\n  - x\n - y\n"),
        ("c.json", "[1, 2]"),
    ]);
    let out = load_err(&[set("s", dir.path(), HardMandatory)], dir.path());
    assert!(out.contains("on DIR/a.json:3:1:"), "{out}");
    assert!(out.contains("on DIR/b.yaml:3:"), "{out}");
    assert!(
        out.contains("c.json must hold an object at its top level"),
        "{out}"
    );
}

#[test]
fn conflicting_data_names_both_files() {
    let dir = fixture(&[
        ("p.rego", "package p\n\ndeny contains 1 if false\n"),
        ("a.json", "{\"limits\": {\"max\": 1}}"),
        ("b.json", "{\"limits\": {\"max\": 2}}"),
    ]);
    let out = load_err(&[set("s", dir.path(), HardMandatory)], dir.path());
    assert!(out.contains("Conflicting policy data"), "{out}");
    assert!(out.contains("DIR/b.json conflicts"), "{out}");
    assert!(
        out.contains("data.limits is also set by DIR/a.json"),
        "{out}"
    );
}

#[test]
fn a_single_file_can_be_a_policy_directory() {
    let dir = fixture(&[("one.rego", "package one\n\ndeny contains \"x\" if true\n")]);
    let (p, _) = load_ok(&[set("s", &dir.path().join("one.rego"), HardMandatory)]);
    assert_eq!(
        p.rules(),
        vec![("s".to_string(), "data.one.deny".to_string())]
    );
}

#[test]
fn loaded_policies_can_be_shared_between_threads() {
    fn assert_send_sync<T: Send + Sync>() {}
    assert_send_sync::<LoadedPolicies>();
}

#[test]
fn some_may_shadow_a_rule_of_the_package_as_in_opa() {
    // Azure's policy library declares locals named like rules of the package
    // (`some resource in resources` beside a rule `resource`). regorus refuses that; the
    // loader renames the local within its scope, so the policy loads and means what OPA says.
    let policy = "package azure\n\nimport rego.v1\n\nresources contains r if {\n\tsome r in input.resource_changes\n}\n\nresource(x) := x\n\ndeny contains msg if {\n\tsome resource in resources\n\tresource.type == \"azurerm_storage_account\"\n\tmsg := sprintf(\"%s: no public access\", [resource.address])\n}\n\nwarn contains msg if {\n\tcount(resources) > 0\n\tsome resources in [[\"x\"]]\n\tmsg := sprintf(\"%d\", [count(resources)])\n}\n";
    let dir = fixture(&[("azure.rego", policy)]);
    let (p, sources) = load_ok(&[set("azure", dir.path(), Enforcement::HardMandatory)]);
    let d = baton_policy::evaluate(
        &p,
        &serde_json::json!({"resource_changes": [
            {"address": "azurerm_storage_account.a", "type": "azurerm_storage_account"},
            {"address": "azurerm_key_vault.k", "type": "azurerm_key_vault"},
        ]}),
    );
    assert!(d.errors.is_empty(), "{}", d.render(&sources));
    let msgs: Vec<&str> = d.findings.iter().map(|f| f.message.as_str()).collect();
    assert_eq!(
        msgs,
        vec!["azurerm_storage_account.a: no public access", "1"]
    );

    // Errors in a rewritten file still point at what the user wrote.
    let bad = policy.replace(
        "msg := sprintf(\"%d\"",
        "msg := sprintf(\"%d\", undefined_var) + sprintf(\"%d\"",
    );
    let dir = fixture(&[("azure.rego", &bad)]);
    let text = load_err(
        &[set("azure", dir.path(), Enforcement::HardMandatory)],
        dir.path(),
    );
    assert!(text.contains("on DIR/azure.rego:20:"), "{text}");
    assert!(
        text.contains("msg := sprintf(\"%d\", undefined_var)"),
        "{text}"
    );
}

#[test]
fn functions_and_complete_rules_with_several_bodies_as_in_opa() {
    // Regula's library writes `f(xs) = ret { ... } { ... }`: each body is a definition of its
    // own. regorus gives later bodies no value (`c` was `true`, `f([1, 2])` undefined); the
    // loader moves them into rules of their own, keeping every line and column.
    let policy = "package lib\n\nsingleton_or_array(xs) = ret {\n  count(xs) == 1\n  ret = xs[0]\n} {\n  count(xs) > 1\n  ret = xs\n}\n\nc = 5 { false } { true }\n\nlevel(x) = \"high\" { x > 5 } { x == 5 }\n\ndeny[msg] {\n  r := input.resource_changes[_]\n  v := singleton_or_array(r.tags)\n  msg := sprintf(\"%s: %v (%s)\", [r.address, v, level(count(r.tags) + 4)])\n}\n";
    let tests = "package lib\n\ntest_first_body { singleton_or_array([1]) == 1 }\ntest_second_body { singleton_or_array([1, 2]) == [1, 2] }\ntest_neither { not singleton_or_array([]) }\ntest_complete { c == 5 }\ntest_value_of_a_later_body { level(5) == \"high\"; level(6) == \"high\"; not level(1) }\n";
    let dir = fixture(&[("lib.rego", policy), ("lib_test.rego", tests)]);
    let sources = Sources::new();
    let report = baton_policy::run_tests(
        &[dir.path().to_path_buf()],
        &baton_policy::TestOpts::default(),
        &sources,
    );
    let failed: Vec<String> = report
        .results
        .iter()
        .filter(|r| r.outcome != baton_policy::TestOutcome::Pass)
        .map(|r| format!("{}: {:?}", r.name, r.outcome))
        .collect();
    assert!(
        report.diagnostics.is_empty() && failed.is_empty() && report.results.len() == 5,
        "{}\n{failed:?}\n{} results",
        report.diagnostics.render(&sources),
        report.results.len()
    );

    let (p, sources) = load_ok(&[set("lib", dir.path(), Enforcement::HardMandatory)]);
    let d = baton_policy::evaluate(
        &p,
        &serde_json::json!({"resource_changes": [
            {"address": "a.one", "tags": ["x"]},
            {"address": "a.two", "tags": ["x", "y"]},
        ]}),
    );
    assert!(d.errors.is_empty(), "{}", d.render(&sources));
    let msgs: Vec<&str> = d.findings.iter().map(|f| f.message.as_str()).collect();
    assert_eq!(
        msgs,
        vec!["a.one: x (high)", "a.two: [\"x\", \"y\"] (high)"]
    );

    // An error in the first body still points at what the user wrote.
    let bad = policy.replace("ret = xs[0]", "ret = xs[0] + nope");
    let dir = fixture(&[("lib.rego", &bad)]);
    let text = load_err(
        &[set("lib", dir.path(), Enforcement::HardMandatory)],
        dir.path(),
    );
    assert!(text.contains("on DIR/lib.rego:5:"), "{text}");
}

#[test]
fn partial_sets_with_several_bodies_as_in_opa() {
    // OPA takes each body as a definition of its own; regorus did not parse the file ("else
    // cannot be used with set rules"), so the gate denied every run.
    let policy = "package multi\n\ndeny[msg] {\n  r := input.resource_changes[_]\n  r.type == \"aws_s3_bucket\"\n  msg := sprintf(\"%s: bucket\", [r.address])\n}\n# a comment with { braces }\n{\n  r := input.resource_changes[_]\n  r.change.actions[_] == \"delete\"\n  msg := sprintf(\"%s: \\\"delete\\\" }\", [r.address])\n}\n\nnames[n] { n := \"a\" } { n := `}{` } {\n  n := {\"k\": \"c\"}.k\n}\n\no[k] = v { k := \"x\"; v := 1 } { k := \"y\"; v := 2 }\n";
    let tests = "package multi\n\ntest_names { names == {\"a\", \"}{\", \"c\"} }\ntest_object { o == {\"x\": 1, \"y\": 2} }\n";
    let dir = fixture(&[("multi.rego", policy), ("multi_test.rego", tests)]);
    let sources = Sources::new();
    let report = baton_policy::run_tests(
        &[dir.path().to_path_buf()],
        &baton_policy::TestOpts::default(),
        &sources,
    );
    let failed: Vec<String> = report
        .results
        .iter()
        .filter(|r| r.outcome != baton_policy::TestOutcome::Pass)
        .map(|r| format!("{}: {:?}", r.name, r.outcome))
        .collect();
    assert!(
        report.diagnostics.is_empty() && failed.is_empty() && report.results.len() == 2,
        "{}\n{failed:?}",
        report.diagnostics.render(&sources),
    );

    let (p, sources) = load_ok(&[set("multi", dir.path(), Enforcement::HardMandatory)]);
    let d = baton_policy::evaluate(
        &p,
        &serde_json::json!({"resource_changes": [
            {"address": "aws_s3_bucket.a", "type": "aws_s3_bucket", "change": {"actions": ["create"]}},
            {"address": "aws_vpc.v", "type": "aws_vpc", "change": {"actions": ["delete"]}},
        ]}),
    );
    assert!(d.errors.is_empty(), "{}", d.render(&sources));
    let msgs: Vec<&str> = d.findings.iter().map(|f| f.message.as_str()).collect();
    assert_eq!(
        msgs,
        vec!["aws_s3_bucket.a: bucket", "aws_vpc.v: \"delete\" }"]
    );

    // Errors still point at what the user wrote: in the first body...
    let bad = policy.replace("r.type == \"aws_s3_bucket\"", "r.type == nope");
    let dir = fixture(&[("multi.rego", &bad)]);
    let text = load_err(&[set("multi", dir.path(), HardMandatory)], dir.path());
    assert!(text.contains("on DIR/multi.rego:5:"), "{text}");
    // ...and a syntax error after the bodies is the one reported.
    let bad = policy.replace("o[k] = v {", "o[k] = v {{");
    let dir = fixture(&[("multi.rego", &bad)]);
    let text = load_err(&[set("multi", dir.path(), HardMandatory)], dir.path());
    assert!(text.contains("on DIR/multi.rego:19:"), "{text}");
}
