//! Calls whose output is an argument, as OPA evaluates them: `[path, value] := walk(x)` (the
//! relation `walk` called with its output as the result, which enumerates every pair) and
//! any function called with its output as an extra last argument (`count(xs, n)`,
//! `crypto.md5(s, digest)`). Data-driven: one table of (rules, expected value of `r`), each
//! loaded from a policy file in both Rego syntaxes where they differ.

use super::*;
use baton_core::Sources;
use serde_json::{json, Value};

/// The value of `data.p.r` with `rules` loaded in package `p`; `None` when undefined.
fn rule_value(rules: &str) -> Option<Value> {
    let dir = fixture(&[(
        "p.rego",
        &format!("package p\n\nimport rego.v1\n\n{rules}\n"),
    )]);
    let sources = Sources::new();
    let out =
        baton_policy::eval_query(&[dir.path().to_path_buf()], None, "x := data.p.r", &sources)
            .unwrap_or_else(|d| panic!("{rules}\n{}", d.render(&sources)));
    out["result"][0]["bindings"].get("x").cloned()
}

fn check(cases: &[(&str, Value)]) {
    let mut failures = Vec::new();
    for (rules, want) in cases {
        let got = rule_value(rules);
        if got.as_ref() != Some(want) {
            failures.push(format!("{rules}\n    got:  {got:?}\n    want: {want}"));
        }
    }
    assert!(failures.is_empty(), "\n{}", failures.join("\n"));
}

const DOC: &str = r#"{"a": {"b": [1, "s"]}}"#;

#[test]
fn walk_with_its_output_as_the_result_enumerates_every_pair() {
    check(&[
        (
            &format!("r := {{p | [p, v] := walk({DOC})}}"),
            json!([[], ["a"], ["a", "b"], ["a", "b", 0], ["a", "b", 1]]),
        ),
        (
            &format!("r := [v | [p, v] = walk({DOC}); p == [\"a\", \"b\", 1]]"),
            json!(["s"]),
        ),
        (
            &format!("r := count([pair | pair := walk({DOC})])"),
            json!(5),
        ),
        (
            &format!("r := [p | walk({DOC}) = [p, \"s\"]]"),
            json!([["a", "b", 1]]),
        ),
        (
            &format!("r := {{n | n := count(walk({DOC}))}}"),
            json!([2]),
        ),
        (
            &format!("r := [p | walk({DOC}, [p, 1])]"),
            json!([["a", "b", 0]]),
        ),
        (
            &format!("r if {{\n\tsome [p, v] in [walk({DOC})]\n\tv == \"s\"\n}}"),
            json!(true),
        ),
        // Regula's library: a rule that depends on it fires.
        (
            "secrets contains concat(\".\", [format_int(x, 10) | some x in p] ) if {\n\t[p, v] := walk([[0, \"secret\"]])\n\tv == \"secret\"\n}\n\nr := secrets",
            json!(["0.1"]),
        ),
    ]);
}

#[test]
fn functions_take_their_output_as_a_last_argument() {
    check(&[
        ("r := [n | count([1, 2], n)]", json!([2])),
        (r#"r := [s | concat(",", ["a", "b"], s)]"#, json!(["a,b"])),
        (r#"r := [b | split("a,b", ",", [_, b])]"#, json!(["b"])),
        ("f(x) := x + 1\n\nr := [y | f(1, y)]", json!([2])),
        // Baton's own built-ins, which regorus refused to compile in this form.
        (
            r#"r := [d | crypto.md5("abc", d)]"#,
            json!(["900150983cd24fb0d6963f7d28e17f72"]),
        ),
        (r#"r if crypto.sha1("abc",d)"#, json!(true)),
        (
            r#"r if not crypto.sha256("abc", "not the digest")"#,
            json!(true),
        ),
        (
            "r := [x | net.cidr_intersects(\"10.0.0.0/8\",\t\"10.1.0.0/16\", x)]",
            json!([true]),
        ),
        (
            r#"r := [s | sprintf("%d|%s", [1, "a"], s)]"#,
            json!(["1|a"]),
        ),
        (r#"r := [x | any([false, true], x)]"#, json!([true])),
    ]);
}

#[test]
fn a_deny_rule_built_on_walk_fires_in_the_older_syntax_too() {
    let policy = "package secrets\n\ndeny[msg] {\n  [path, value] = walk(input.planned_values)\n  is_string(value)\n  startswith(value, \"AKIA\")\n  msg := sprintf(\"access key at %s\", [concat(\".\", [sprintf(\"%v\", [p]) | p := path[_]])])\n}\n";
    let dir = fixture(&[("secrets.rego", policy)]);
    let (p, sources) = load_ok(&[set(
        "s",
        dir.path(),
        baton_policy::Enforcement::HardMandatory,
    )]);
    let d = baton_policy::evaluate(
        &p,
        &json!({"planned_values": {"root_module": {"resources": [
            {"address": "x.y", "values": {"key": "AKIAXXXX"}}
        ]}}}),
    );
    assert!(d.errors.is_empty(), "{}", d.render(&sources));
    let msgs: Vec<&str> = d.findings.iter().map(|f| f.message.as_str()).collect();
    assert_eq!(
        msgs,
        vec!["access key at root_module.resources.0.values.key"]
    );

    // An error in a rewritten file still points at what the user wrote.
    let bad = policy.replace("is_string(value)", "is_string(nope)");
    let dir = fixture(&[("secrets.rego", &bad)]);
    let text = load_err(
        &[set(
            "s",
            dir.path(),
            baton_policy::Enforcement::HardMandatory,
        )],
        dir.path(),
    );
    assert!(text.contains("on DIR/secrets.rego:5:"), "{text}");
}

#[test]
fn queries_take_the_same_forms() {
    let sources = Sources::new();
    let out = baton_policy::eval_query(
        &[],
        None,
        r#"x := [p | [p, v] := walk({"a": 1}); v == 1]"#,
        &sources,
    )
    .unwrap_or_else(|d| panic!("{}", d.render(&sources)));
    assert_eq!(out["result"][0]["bindings"]["x"], json!([["a"]]));
}
