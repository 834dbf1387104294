//! The example policies under `examples/policies/`: their own tests pass, and together they
//! gate a plan as documented.

use super::*;
use baton_policy::Enforcement::{Advisory, HardMandatory, SoftMandatory};
use baton_policy::{evaluate, run_tests, Outcome, TestOpts};
use serde_json::json;

const EXAMPLES: [&str; 4] = [
    "blast_radius",
    "deny_types",
    "required_tags",
    "no_prod_deletes",
];

#[test]
fn every_example_passes_its_own_tests() {
    for name in EXAMPLES {
        let sources = Sources::new();
        let report = run_tests(&[examples_dir().join(name)], &TestOpts::default(), &sources);
        let text = report.render(&sources, true);
        assert!(report.ok(), "{name}:\n{text}");
        assert!(report.passed() >= 5, "{name}:\n{text}");
    }
}

#[test]
fn all_examples_together_pass_their_tests() {
    let sources = Sources::new();
    let report = run_tests(&[examples_dir()], &TestOpts::default(), &sources);
    assert!(report.ok(), "{}", report.render(&sources, true));
}

#[test]
fn the_examples_gate_a_plan() {
    let sets: Vec<PolicySet> = EXAMPLES
        .iter()
        .map(|name| {
            let level = match *name {
                "blast_radius" => SoftMandatory,
                "required_tags" => Advisory,
                _ => HardMandatory,
            };
            set(name, &examples_dir().join(name), level)
        })
        .collect();
    let (p, _) = load_ok(&sets);
    assert!(p.warnings.is_empty());
    let change = |addr: &str, actions: &[&str], after: serde_json::Value| json!({"address": addr, "type": addr.split('.').next(), "change": {"actions": actions, "after": after, "after_unknown": {}}});
    let plan = json!({
        "format_version": "1.2",
        "baton": {"environment": "prod", "user": "alice", "host": "ci", "run_id": "r-1", "command": "apply", "time": "2026-05-04T10:00:00Z"},
        "resource_changes": [
            change("aws_iam_user.bob", &["create"], json!({"name": "bob", "tags": {"owner": "a", "cost_center": "1"}})),
            change("aws_instance.web", &["create"], json!({"tags": {"owner": "a"}})),
            change("aws_db_instance.main", &["delete", "create"], json!({})),
            change("terraform_data.ok", &["create"], json!({"input": {"tags": {"owner": "a", "cost_center": "1"}}})),
        ],
    });
    let d = evaluate(&p, &plan);
    assert!(d.errors.is_empty(), "{:?}", d.errors);
    let got: Vec<String> = d
        .findings
        .iter()
        .map(|f| {
            format!(
                "{} {} {} {:?}: {}",
                f.set, f.enforcement, f.rule, f.address, f.message
            )
        })
        .collect();
    assert_eq!(
        got,
        vec![
            "deny_types hard-mandatory violation Some(\"aws_iam_user.bob\"): resource type aws_iam_user is not allowed: create IAM users in the identity account, not here",
            "no_prod_deletes hard-mandatory deny_prod_delete Some(\"aws_db_instance.main\"): aws_db_instance.main would be replaced: deletes are not allowed in prod (run r-1 by alice)",
            "required_tags advisory deny Some(\"aws_instance.web\"): missing required tags: cost_center",
            "blast_radius advisory warn None: blast radius 52 is above 50: review the plan carefully",
        ]
    );
    assert_eq!(d.outcome, Outcome::HardFail);
}
