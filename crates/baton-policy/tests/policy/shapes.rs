//! Input shapes and namespaces: a policy written for Spacelift (`input.terraform`), HCP
//! Terraform / env0 (`input.plan`) or Scalr (`input.tfplan`) finds the plan where it looks
//! when its set says so, and fails closed (never silently allows) when it does not; conftest's
//! namespaces select which packages are enforced.

use super::*;
use baton_policy::{evaluate, InputShape, Namespaces, Outcome};
use serde_json::json;

fn plan() -> serde_json::Value {
    json!({
        "format_version": "1.2",
        "resource_changes": [{"address": "aws_s3_bucket.b", "type": "aws_s3_bucket", "change": {"actions": ["delete"]}}],
        "baton": {"environment": "prod"},
    })
}

fn policy(root: &str) -> String {
    format!("package p\n\nimport rego.v1\n\ndeny contains msg if {{\n\tsome rc in {root}resource_changes\n\t\"delete\" in rc.change.actions\n\tinput.baton.environment == \"prod\"\n\tmsg := sprintf(\"%s is deleted\", [rc.address])\n}}\n")
}

fn with_shape(dir: &Path, shape: InputShape) -> PolicySet {
    PolicySet {
        input_shape: shape,
        ..set("s", dir, Enforcement::HardMandatory)
    }
}

#[test]
fn each_platform_shape_finds_the_plan_where_its_policies_look() {
    for (root, shape) in [
        ("input.", InputShape::Plan),
        ("input.terraform.", InputShape::Spacelift),
        ("input.plan.", InputShape::HcpTerraform),
        ("input.tfplan.", InputShape::Scalr),
    ] {
        let dir = fixture(&[("p.rego", &policy(root))]);
        let (p, sources) = load_ok(&[with_shape(dir.path(), shape)]);
        let d = evaluate(&p, &plan());
        assert!(d.errors.is_empty(), "{shape}: {}", d.render(&sources));
        let msgs: Vec<&str> = d.findings.iter().map(|f| f.message.as_str()).collect();
        assert_eq!(msgs, vec!["aws_s3_bucket.b is deleted"], "{shape}");
    }
    // Scalr's policies import the plan.
    let scalr = "package p\n\nimport input.tfplan as tfplan\n\ndeny[msg] {\n\trc := tfplan.resource_changes[_]\n\tmsg := rc.address\n}\n";
    let dir = fixture(&[("p.rego", scalr)]);
    let (p, _) = load_ok(&[with_shape(dir.path(), InputShape::Scalr)]);
    assert_eq!(evaluate(&p, &plan()).outcome, Outcome::HardFail);
}

#[test]
fn a_policy_for_another_shape_fails_to_load_instead_of_allowing() {
    let dir = fixture(&[("p.rego", &policy("input.tfplan."))]);
    let text = load_err(&[with_shape(dir.path(), InputShape::Plan)], dir.path());
    assert!(
        text.contains("Error: Policy written for another input shape"),
        "{text}"
    );
    assert!(text.contains("on DIR/p.rego:6:"), "{text}");
    assert!(text.contains("DIR/p.rego reads input.tfplan, but policy set \"s\" gives the plan as the input itself (input_shape = \"plan\")"), "{text}");
    assert!(text.contains("Set input_shape = \"scalr\""), "{text}");

    let dir = fixture(&[("p.rego", &policy("input."))]);
    let text = load_err(&[with_shape(dir.path(), InputShape::Spacelift)], dir.path());
    assert!(text.contains("reads input.resource_changes, but policy set \"s\" gives the plan under input.terraform (input_shape = \"spacelift\")"), "{text}");
    assert!(text.contains("Set input_shape = \"plan\""), "{text}");

    let dir = fixture(&[("p.rego", &policy("input.plan."))]);
    let text = load_err(&[with_shape(dir.path(), InputShape::Scalr)], dir.path());
    assert!(
        text.contains("Set input_shape = \"hcp-terraform\""),
        "{text}"
    );
}

#[test]
fn run_metadata_baton_does_not_provide_is_a_warning() {
    let p = "package p\n\nimport input.tfplan as tfplan\nimport input.tfrun as tfrun\n\ndeny[msg] {\n\ttfrun.is_destroy\n\tmsg := \"destroy\"\n}\n";
    let dir = fixture(&[("p.rego", p)]);
    let (loaded, sources) = load_ok(&[with_shape(dir.path(), InputShape::Scalr)]);
    let text = loaded.warnings.render(&sources);
    assert!(
        text.contains("reads input.tfrun (Scalr's run metadata)"),
        "{text}"
    );
}

#[test]
fn namespaces_select_packages_like_conftest() {
    let files = [
        (
            "main.rego",
            "package main\n\ndeny contains \"from main\" if true\n",
        ),
        (
            "other.rego",
            "package lib.other\n\ndeny contains \"from other\" if true\n",
        ),
    ];
    let dir = fixture(&files);
    let msgs = |namespaces: Namespaces| {
        let s = PolicySet {
            namespaces,
            ..set("s", dir.path(), Enforcement::HardMandatory)
        };
        let (p, _) = load_ok(&[s]);
        evaluate(&p, &json!({}))
            .findings
            .into_iter()
            .map(|f| f.message)
            .collect::<Vec<_>>()
    };
    assert_eq!(msgs(Namespaces::All), vec!["from other", "from main"]);
    assert_eq!(
        msgs(Namespaces::Only(vec!["main".into()])),
        vec!["from main"]
    );
    assert_eq!(
        msgs(Namespaces::Only(vec!["lib.other".into()])),
        vec!["from other"]
    );
    let s = PolicySet {
        namespaces: Namespaces::Only(vec!["mian".into()]),
        ..set("s", dir.path(), Enforcement::HardMandatory)
    };
    let text = load_err(&[s], dir.path());
    assert!(text.contains("names the namespace \"mian\""), "{text}");
    assert!(
        text.contains("The packages are: lib.other, main."),
        "{text}"
    );
}
