//! Benchmark of the policy gate: 10 policies (the four in `examples/policies/` and six
//! typical Terraform-plan policies written here) over a synthetic plan JSON with 10,000
//! `resource_changes`. Prints load and evaluation times.
//!
//! Run: `cargo run --release -p baton-policy --example bench [-- RESOURCES]`. Not a test: it
//! asserts nothing but that the gate ran without errors.

use baton_core::Sources;
use baton_policy::{evaluate, load, redact, Enforcement, PolicySet};
use serde_json::{json, Value};
use std::path::Path;
use std::time::{Duration, Instant};

const TRIVIAL: (&str, &str) = (
    "trivial.rego",
    "package bench.trivial\n\nimport rego.v1\n\ndeny contains \"x\" if false\n",
);

const POLICIES: &[(&str, &str)] = &[
    (
        "naming.rego",
        r#"package bench.naming

import rego.v1

deny contains {"msg": sprintf("name %q does not match ^[a-z][a-z0-9_]*$", [rc.name]), "resource": rc.address} if {
	some rc in input.resource_changes
	"create" in rc.change.actions
	not regex.match(`^[a-z][a-z0-9_]*$`, rc.name)
}
"#,
    ),
    (
        "instance_types.rego",
        r#"package bench.instance_types

import rego.v1

allowed := {"t3.micro", "t3.small", "t3.medium", "m5.large"}

deny contains msg if {
	some rc in input.resource_changes
	rc.type == "aws_instance"
	not rc.change.after.instance_type in allowed
	msg := sprintf("%s: instance type %s is not allowed", [rc.address, rc.change.after.instance_type])
}
"#,
    ),
    (
        "public_buckets.rego",
        r#"package bench.public_buckets

deny[msg] {
	rc := input.resource_changes[_]
	rc.type == "aws_s3_bucket_acl"
	startswith(rc.change.after.acl, "public")
	msg := sprintf("%s: bucket ACL %s is public", [rc.address, rc.change.after.acl])
}
"#,
    ),
    (
        "open_ssh.rego",
        r#"package bench.open_ssh

import rego.v1

violation contains {"msg": "SSH open to the world", "details": {"address": rc.address}} if {
	some rc in input.resource_changes
	rc.type == "aws_security_group_rule"
	rc.change.after.from_port <= 22
	rc.change.after.to_port >= 22
	some cidr in rc.change.after.cidr_blocks
	net.cidr_contains(cidr, "203.0.113.7")
}
"#,
    ),
    (
        "type_limits.rego",
        r#"package bench.type_limits

import rego.v1

limits := {"aws_instance": 5000, "aws_s3_bucket_acl": 10}

counts[t] := n if {
	some t, _ in limits
	n := count([rc | some rc in input.resource_changes; rc.type == t; "create" in rc.change.actions])
}

warn contains msg if {
	some t, n in counts
	n > limits[t]
	msg := sprintf("%d %s resources created, more than %d", [n, t, limits[t]])
}
"#,
    ),
    (
        "encryption.rego",
        r#"package bench.encryption

import rego.v1

encrypted_attr := {"aws_ebs_volume": "encrypted", "aws_db_instance": "storage_encrypted"}

deny contains msg if {
	some rc in input.resource_changes
	attr := encrypted_attr[rc.type]
	rc.change.after[attr] != true
	msg := sprintf("%s must set %s = true", [rc.address, attr])
}
"#,
    ),
];

const TYPES: &[&str] = &[
    "aws_instance",
    "aws_s3_bucket_acl",
    "aws_security_group_rule",
    "aws_ebs_volume",
    "aws_db_instance",
    "terraform_data",
    "aws_iam_user",
    "google_compute_instance",
];

fn synthetic_plan(n: usize) -> Value {
    let changes: Vec<Value> = (0..n)
        .map(|i| {
            let ty = TYPES[i % TYPES.len()];
            let name = if i % 97 == 0 { format!("Bad-{i}") } else { format!("r{i}") };
            let actions = match i % 50 {
                0 => json!(["delete"]),
                1 => json!(["delete", "create"]),
                2..=9 => json!(["update"]),
                10..=14 => json!(["no-op"]),
                _ => json!(["create"]),
            };
            let tags = if i % 13 == 0 { json!({"owner": "team"}) } else { json!({"owner": "team", "cost_center": "42"}) };
            let after = match ty {
                "aws_instance" => json!({"instance_type": if i % 31 == 0 { "x1.32xlarge" } else { "t3.micro" }, "ami": "ami-123", "tags": tags}),
                "aws_s3_bucket_acl" => json!({"acl": if i % 101 == 0 { "public-read" } else { "private" }}),
                "aws_security_group_rule" => json!({"from_port": 22, "to_port": if i % 7 == 0 { 22 } else { 21 }, "cidr_blocks": ["0.0.0.0/0", "10.0.0.0/8"]}),
                "aws_ebs_volume" => json!({"size": 100, "encrypted": i % 11 != 0, "tags": tags}),
                "aws_db_instance" => json!({"storage_encrypted": true, "password": "hunter2", "tags": tags}),
                "terraform_data" => json!({"input": {"tags": tags}}),
                "google_compute_instance" => json!({"labels": tags}),
                _ => json!({"name": name}),
            };
            let after_sensitive = if ty == "aws_db_instance" { json!({"password": true}) } else { json!({}) };
            json!({
                "address": format!("{ty}.{name}"),
                "mode": "managed",
                "type": ty,
                "name": name,
                "provider_name": "registry.terraform.io/hashicorp/aws",
                "change": {
                    "actions": actions,
                    "before": null,
                    "after": after,
                    "after_unknown": {},
                    "before_sensitive": false,
                    "after_sensitive": after_sensitive,
                },
            })
        })
        .collect();
    json!({
        "format_version": "1.2",
        "terraform_version": "1.9.0",
        "baton": {"environment": "prod", "user": "bench", "host": "localhost", "run_id": "bench-1", "command": "plan", "time": "2026-01-01T00:00:00Z"},
        "resource_changes": changes,
    })
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let n: usize = std::env::args().nth(1).map_or(Ok(10_000), |a| a.parse())?;
    let examples = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../examples/policies");
    let tmp = tempfile::tempdir()?;
    for (name, text) in POLICIES {
        std::fs::write(tmp.path().join(name), text)?;
    }
    let trivial_dir = tempfile::tempdir()?;
    std::fs::write(trivial_dir.path().join(TRIVIAL.0), TRIVIAL.1)?;
    let mut dirs: Vec<_> = [
        "blast_radius",
        "deny_types",
        "required_tags",
        "no_prod_deletes",
    ]
    .iter()
    .map(|d| examples.join(d))
    .collect();
    dirs.push(tmp.path().to_path_buf());
    let sets = vec![PolicySet {
        enforcement: Enforcement::HardMandatory,
        ..PolicySet::new("bench", dirs)
    }];

    let plan = synthetic_plan(n);
    let text = serde_json::to_string(&plan)?;
    println!(
        "plan: {n} resource_changes, {} KiB of JSON",
        text.len() / 1024
    );

    let sources = Sources::new();
    let start = Instant::now();
    let policies = load(&sets, &sources).map_err(|d| d.render(&sources))?;
    println!(
        "load: {:.1?} ({} rules)",
        start.elapsed(),
        policies.rules().len()
    );

    let start = Instant::now();
    let redacted = redact(&plan);
    println!("redact: {:.1?}", start.elapsed());
    drop(redacted);
    let start = Instant::now();
    let converted = <regorus::Value as serde::Deserialize>::deserialize(&plan)?;
    println!("input to regorus: {:.1?}", start.elapsed());
    let start = Instant::now();
    drop(converted);
    println!("drop of regorus input: {:.1?}", start.elapsed());

    let mut times: Vec<Duration> = Vec::new();
    let mut last = None;
    for _ in 0..5 {
        let start = Instant::now();
        let decision = evaluate(&policies, &plan);
        times.push(start.elapsed());
        last = Some(decision);
    }
    times.sort();
    let decision = last.ok_or("no run")?;
    if !decision.errors.is_empty() {
        for e in &decision.errors {
            eprintln!("{}", e.render(&sources));
        }
        return Err("policy errors".into());
    }
    let mut per_rule: std::collections::BTreeMap<String, usize> = Default::default();
    for f in &decision.findings {
        *per_rule
            .entry(format!("{}.{}", f.package, f.rule))
            .or_default() += 1;
    }
    for (rule, count) in &per_rule {
        println!("  {rule}: {count} findings");
    }
    // Each policy alone, to see where the time goes.
    let mut singles: Vec<(String, std::path::PathBuf)> = sets[0]
        .dirs
        .iter()
        .take(4)
        .map(|d| {
            (
                d.file_name()
                    .map(|n| n.to_string_lossy().into_owned())
                    .unwrap_or_default(),
                d.clone(),
            )
        })
        .collect();
    for (name, _) in POLICIES {
        singles.push((name.to_string(), tmp.path().join(name)));
    }
    singles.push((
        "(a policy that reads nothing)".into(),
        trivial_dir.path().join(TRIVIAL.0),
    ));
    for (name, path) in singles {
        let one = [PolicySet {
            name: name.clone(),
            dirs: vec![path],
            ..sets[0].clone()
        }];
        let p = load(&one, &sources).map_err(|d| d.render(&sources))?;
        let mut best = Duration::MAX;
        for _ in 0..3 {
            let start = Instant::now();
            let _ = evaluate(&p, &plan);
            best = best.min(start.elapsed());
        }
        println!("  alone: {name}: {best:.1?}");
    }
    println!(
        "evaluate (10 policies, {n} resource_changes, {} findings, outcome {:?}): min {:.1?}, median {:.1?}, max {:.1?}",
        decision.findings.len(),
        decision.outcome,
        times[0],
        times[times.len() / 2],
        times[times.len() - 1]
    );
    Ok(())
}
