//! `baton policy test`: runs the `test_*` rules of policy directories like `opa test` does —
//! a test passes when its rule is `true`; `todo_*` rules are skipped.
//!
//! Loads `*_test.rego` files as well as the policies and their data. Never prints: the
//! report is returned, and rendered by the caller.

use crate::load::{build_corpus, Corpus};
use crate::rules::{package_path, rule_ref};
use baton_core::{Diagnostic, Diagnostics, Sources};
use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::path::PathBuf;
use std::time::{Duration, Instant};

/// Options for [`run_tests`].
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct TestOpts {
    /// Run only the tests whose `data.<package>.<rule>` matches this regular expression (as
    /// `opa test --run`).
    pub filter: Option<String>,
}

/// What happened to one test.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum TestOutcome {
    Pass,
    /// The rule was undefined or not `true`.
    Fail,
    /// A `todo_` rule.
    Skip,
    /// Evaluating the rule failed (a conflict, a runtime error, a time-out).
    Error(Diagnostic),
}

/// One test rule and its outcome.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TestResult {
    /// The Rego package, e.g. `terraform.tags`.
    pub package: String,
    /// The rule, e.g. `test_missing_owner_denied`.
    pub name: String,
    /// Where the (first) definition of the test is.
    pub file: String,
    pub line: u32,
    pub column: u32,
    pub outcome: TestOutcome,
    pub duration: Duration,
    /// What the test `print`ed.
    pub output: Vec<String>,
}

/// The results of [`run_tests`], in file and line order.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct TestReport {
    pub results: Vec<TestResult>,
    /// Problems loading the policies (syntax errors, bad data files, a bad filter). Any error
    /// here fails the run.
    pub diagnostics: Diagnostics,
}

impl TestReport {
    pub fn passed(&self) -> usize {
        self.count(|o| matches!(o, TestOutcome::Pass))
    }

    pub fn failed(&self) -> usize {
        self.count(|o| matches!(o, TestOutcome::Fail))
    }

    pub fn errored(&self) -> usize {
        self.count(|o| matches!(o, TestOutcome::Error(_)))
    }

    pub fn skipped(&self) -> usize {
        self.count(|o| matches!(o, TestOutcome::Skip))
    }

    /// True when nothing failed, errored or stopped the tests from loading: the command's exit
    /// status.
    pub fn ok(&self) -> bool {
        !self.diagnostics.has_errors() && self.failed() == 0 && self.errored() == 0
    }

    fn count(&self, f: impl Fn(&TestOutcome) -> bool) -> usize {
        self.results.iter().filter(|r| f(&r.outcome)).count()
    }

    /// Text for people, like `opa test`: one line per test (`verbose`) or per failing test,
    /// errors with their source line, then the totals.
    pub fn render(&self, sources: &Sources, verbose: bool) -> String {
        let mut out = String::new();
        if !self.diagnostics.is_empty() {
            out.push_str(&self.diagnostics.render(sources));
            out.push('\n');
            // Nothing ran: totals of zero would read as a result.
            if self.diagnostics.has_errors() {
                return out;
            }
        }
        for r in &self.results {
            let status = match &r.outcome {
                TestOutcome::Pass => "PASS",
                TestOutcome::Fail => "FAIL",
                TestOutcome::Skip => "SKIPPED",
                TestOutcome::Error(_) => "ERROR",
            };
            let show = verbose || matches!(r.outcome, TestOutcome::Fail | TestOutcome::Error(_));
            if !show {
                continue;
            }
            let _ = writeln!(
                out,
                "{}:{}:{}: data.{}.{}: {status} ({:.1?})",
                r.file, r.line, r.column, r.package, r.name, r.duration
            );
            for line in &r.output {
                let _ = writeln!(out, "    {line}");
            }
            if let TestOutcome::Error(d) = &r.outcome {
                for line in d.render(sources).lines() {
                    let _ = writeln!(out, "    {line}");
                }
            }
        }
        let total = self.results.len();
        if total == 0 && self.diagnostics.is_empty() {
            out.push_str("no tests found\n");
            return out;
        }
        out.push_str(&"-".repeat(80));
        out.push('\n');
        for (label, n) in [
            ("PASS", self.passed()),
            ("FAIL", self.failed()),
            ("ERROR", self.errored()),
            ("SKIPPED", self.skipped()),
        ] {
            if n > 0 || label == "PASS" {
                let _ = writeln!(out, "{label}: {n}/{total}");
            }
        }
        out
    }
}

/// Loads `dirs` (policies, tests and data) and runs every `test_*` rule.
pub fn run_tests(dirs: &[PathBuf], opts: &TestOpts, sources: &Sources) -> TestReport {
    let mut report = TestReport::default();
    let filter = match opts.filter.as_deref().map(regex::Regex::new) {
        None => None,
        Some(Ok(re)) => Some(re),
        Some(Err(e)) => {
            report.diagnostics.push(Diagnostic::error(
                "Invalid test filter",
                format!("The filter is not a valid regular expression: {e}"),
            ));
            return report;
        }
    };
    let (corpus, diags) = build_corpus(dirs, std::path::Path::new(""), true, sources);
    report.diagnostics = diags;
    if report.diagnostics.has_errors() {
        return report;
    }

    // One entry per (package, rule): a test defined twice in a package is one rule.
    let mut tests: BTreeMap<(Vec<String>, String), (String, u32, u32)> = BTreeMap::new();
    for m in &corpus.modules {
        for r in &m.rules {
            let is_test = r.name.starts_with("test_") || r.name.starts_with("todo_");
            if r.function || !is_test {
                continue;
            }
            tests
                .entry((m.package.clone(), r.name.clone()))
                .or_insert_with(|| (m.file.clone(), r.line, r.column));
        }
    }
    let mut ordered: Vec<_> = tests.into_iter().collect();
    ordered.sort_by(|a, b| (&a.1, &a.0).cmp(&(&b.1, &b.0)));

    let pristine = corpus.engine.clone();
    let mut engine = pristine.clone();
    for ((package, name), (file, line, column)) in ordered {
        let path = rule_ref(&package, &name);
        if filter.as_ref().is_some_and(|re| !re.is_match(&path)) {
            continue;
        }
        let mut result = TestResult {
            package: package_path(&package),
            name: name.clone(),
            file,
            line,
            column,
            outcome: TestOutcome::Skip,
            duration: Duration::ZERO,
            output: Vec::new(),
        };
        if name.starts_with("todo_") {
            report.results.push(result);
            continue;
        }
        let start = Instant::now();
        let value = catch_unwind(AssertUnwindSafe(|| Corpus::eval_ref(&mut engine, &path)));
        result.duration = start.elapsed();
        result.output = engine.take_prints().unwrap_or_default();
        result.outcome = match value {
            Ok(Ok(regorus::Value::Bool(true))) => TestOutcome::Pass,
            Ok(Ok(_)) => TestOutcome::Fail,
            Ok(Err(err)) => TestOutcome::Error(
                corpus
                    .diagnostic(&err, "Test failed with an error", "", sources)
                    .in_context(format!("test {path}")),
            ),
            Err(_) => {
                engine = pristine.clone();
                TestOutcome::Error(Diagnostic::error(
                    "Test failed with an error",
                    format!("The Rego engine panicked while evaluating {path}."),
                ))
            }
        };
        report.results.push(result);
    }
    report
}
