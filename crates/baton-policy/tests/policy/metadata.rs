//! `rego.metadata.rule()` and `rego.metadata.chain()` answer from METADATA comments, as in
//! OPA: trivy/defsec-style checks build their findings from them.

use super::*;
use baton_core::Sources;
use serde_json::json;

const POLICY: &str = "# METADATA\n# title: S3 checks\n# custom:\n#   provider: aws\npackage builtin.aws.s3\n\nimport rego.v1\n\ndefault allow := false\n\n# METADATA\n# title: Bucket must be private\n# custom:\n#   id: AVD-AWS-0086\n#   severity: HIGH\ndeny contains res if {\n\tsome r in input.resource_changes\n\tr.type == \"aws_s3_bucket\"\n\tmeta := rego.metadata.rule()\n\tres := sprintf(\"%s %s: %s\", [meta.custom.id, meta.custom.severity, r.address])\n}\n\nchain := rego.metadata.chain()\n\nbare := rego.metadata.rule()\n";

#[test]
fn metadata_built_ins_read_the_annotations() {
    let dir = fixture(&[("s3.rego", POLICY)]);
    let sources = Sources::new();
    let value = |query: &str| {
        let out = baton_policy::eval_query(&[dir.path().to_path_buf()], None, query, &sources)
            .unwrap_or_else(|d| panic!("{}", d.render(&sources)));
        out["result"][0]["bindings"]["x"].clone()
    };
    assert_eq!(
        value("x := data.builtin.aws.s3.chain"),
        json!([
            {"path": ["builtin", "aws", "s3", "chain"]},
            {"path": ["builtin", "aws", "s3"], "annotations": {
                "scope": "package", "title": "S3 checks", "custom": {"provider": "aws"}
            }},
        ])
    );
    assert_eq!(value("x := data.builtin.aws.s3.bare"), json!({}));

    let (p, sources) = load_ok(&[set(
        "s3",
        dir.path(),
        baton_policy::Enforcement::HardMandatory,
    )]);
    let d = baton_policy::evaluate(
        &p,
        &json!({"resource_changes": [{"address": "aws_s3_bucket.b", "type": "aws_s3_bucket"}]}),
    );
    assert!(d.errors.is_empty(), "{}", d.render(&sources));
    let msgs: Vec<&str> = d.findings.iter().map(|f| f.message.as_str()).collect();
    assert_eq!(msgs, vec!["AVD-AWS-0086 HIGH: aws_s3_bucket.b"]);
}
