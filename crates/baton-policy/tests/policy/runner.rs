//! `run_tests`: passing, failing, erroring and skipped tests; filters; load errors.

use super::*;
use baton_policy::{run_tests, TestOpts, TestOutcome};

const POLICY: &str = "package p\n\nimport rego.v1\n\ndeny contains \"no\" if input.bad\n";

#[test]
fn reports_pass_fail_error_and_skip_with_locations() {
    let dir = fixture(&[
        ("p.rego", POLICY),
        (
            "p_test.rego",
            "package p_test\n\nimport data.p\n\ntest_good if {\n\tcount(p.deny) == 0 with input as {}\n}\n\ntest_bad if {\n\tprint(\"deny is\", p.deny) with input as {\"bad\": true}\n\tcount(p.deny) == 0 with input as {\"bad\": true}\n}\n\ntest_error if {\n\tx := conflicting\n\tx == 1\n}\n\ntodo_later if false\n\ntest_undefined if input.nothing\n\nconflicting := 1 if true\n\nconflicting := 2 if true\n",
        ),
    ]);
    let sources = Sources::new();
    let report = run_tests(&[dir.path().to_path_buf()], &TestOpts::default(), &sources);
    assert!(
        report.diagnostics.is_empty(),
        "{}",
        report.diagnostics.render(&sources)
    );
    let got: Vec<(&str, u32, String)> = report
        .results
        .iter()
        .map(|r| {
            let o = match &r.outcome {
                TestOutcome::Pass => "pass".to_string(),
                TestOutcome::Fail => "fail".to_string(),
                TestOutcome::Skip => "skip".to_string(),
                TestOutcome::Error(d) => format!("error: {}", d.detail),
            };
            (r.name.as_str(), r.line, o)
        })
        .collect();
    assert_eq!(got[0], ("test_good", 5, "pass".to_string()));
    assert_eq!(got[1], ("test_bad", 9, "fail".to_string()));
    assert_eq!(got[2].0, "test_error");
    assert!(got[2].2.contains("conflicts with rule"), "{:?}", got[2]);
    assert_eq!(got[3], ("todo_later", 19, "skip".to_string()));
    assert_eq!(got[4], ("test_undefined", 21, "fail".to_string()));
    assert_eq!(
        (
            report.passed(),
            report.failed(),
            report.errored(),
            report.skipped()
        ),
        (1, 2, 1, 1)
    );
    assert!(!report.ok());
    assert_eq!(report.results[1].output.len(), 1);
    assert!(
        report.results[1].output[0].contains("p_test.rego:10: deny is"),
        "{:?}",
        report.results[1].output
    );

    let text = report
        .render(&sources, false)
        .replace(&dir.path().display().to_string(), "DIR");
    assert!(
        text.contains("DIR/p_test.rego:9:1: data.p_test.test_bad: FAIL ("),
        "{text}"
    );
    assert!(
        text.contains("DIR/p_test.rego:14:1: data.p_test.test_error: ERROR ("),
        "{text}"
    );
    assert!(text.contains("on DIR/p_test.rego:25:"), "{text}");
    assert!(!text.contains("test_good"), "{text}");
    assert!(
        text.ends_with("PASS: 1/5\nFAIL: 2/5\nERROR: 1/5\nSKIPPED: 1/5\n"),
        "{text}"
    );
    let verbose = report.render(&sources, true);
    assert!(verbose.contains("data.p_test.test_good: PASS"), "{verbose}");
}

#[test]
fn a_filter_selects_tests_by_their_full_name() {
    let dir = fixture(&[(
        "t_test.rego",
        "package t\n\ntest_one if true\ntest_two if true\ntest_three if false\n",
    )]);
    let sources = Sources::new();
    let opts = TestOpts {
        filter: Some("t\\.test_t".into()),
    };
    let report = run_tests(&[dir.path().to_path_buf()], &opts, &sources);
    let names: Vec<&str> = report.results.iter().map(|r| r.name.as_str()).collect();
    assert_eq!(names, vec!["test_two", "test_three"]);
    let bad = TestOpts {
        filter: Some("(".into()),
    };
    let report = run_tests(&[dir.path().to_path_buf()], &bad, &sources);
    assert!(!report.ok());
    assert_eq!(
        report.diagnostics.iter().next().map(|d| d.summary.as_str()),
        Some("Invalid test filter")
    );
}

#[test]
fn syntax_errors_in_test_files_fail_the_run() {
    let dir = fixture(&[
        ("p.rego", POLICY),
        ("p_test.rego", "package p_test\n\ntest_x if {\n"),
    ]);
    let sources = Sources::new();
    let report = run_tests(&[dir.path().to_path_buf()], &TestOpts::default(), &sources);
    assert!(!report.ok());
    assert!(report.results.is_empty());
    let text = report
        .render(&sources, false)
        .replace(&dir.path().display().to_string(), "DIR");
    assert!(text.contains("on DIR/p_test.rego:"), "{text}");
}

#[test]
fn no_tests_is_not_a_failure_but_is_said() {
    let dir = fixture(&[("p.rego", POLICY)]);
    let sources = Sources::new();
    let report = run_tests(&[dir.path().to_path_buf()], &TestOpts::default(), &sources);
    assert!(report.ok());
    assert_eq!(report.render(&sources, false), "no tests found\n");
}

#[test]
fn eval_query_answers_like_opa_eval() {
    let dir = fixture(&[("p.rego", POLICY), ("d.json", "{\"limits\": {\"max\": 3}}")]);
    let sources = Sources::new();
    let input = serde_json::json!({"bad": true});
    let out = baton_policy::eval_query(
        &[dir.path().to_path_buf()],
        Some(&input),
        "data.p.deny",
        &sources,
    )
    .unwrap_or_else(|d| panic!("{}", d.render(&sources)));
    assert_eq!(
        out["result"][0]["expressions"][0]["value"],
        serde_json::json!(["no"])
    );
    let out = baton_policy::eval_query(
        &[dir.path().to_path_buf()],
        None,
        "x := data.limits.max + 1",
        &sources,
    )
    .unwrap_or_else(|d| panic!("{}", d.render(&sources)));
    assert_eq!(out["result"][0]["bindings"]["x"], serde_json::json!(4));
    let undefined = baton_policy::eval_query(
        &[dir.path().to_path_buf()],
        None,
        "data.nothing.here",
        &sources,
    );
    assert_eq!(undefined.ok(), Some(serde_json::json!({})));
    let err = baton_policy::eval_query(&[dir.path().to_path_buf()], None, "x := ", &sources)
        .expect_err("query fails");
    let text = err.render(&sources);
    assert!(text.contains("on <query>:1:"), "{text}");
}
