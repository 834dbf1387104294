//! The gate: evaluates every set's `deny`/`warn`/`violation` rules against one input and
//! turns their values into findings and an outcome.
//!
//! Fails closed: an error while evaluating any rule (or a panic inside the engine) becomes an
//! error diagnostic and a [`Outcome::HardFail`]. Never prints; policy `print` output is
//! collected in [`Decision::prints`].

use crate::load::{Corpus, GateRule, LoadedPolicies, LoadedSet};
use crate::redact::redacted;
use crate::set::{Enforcement, InputShape};
use baton_core::{Diagnostic, Diagnostics, Sources};
use serde::Deserialize as _;
use serde_json::Value as Json;
use std::cmp::Reverse;
use std::collections::HashSet;
use std::fmt;
use std::panic::{catch_unwind, AssertUnwindSafe};

/// Whether a finding stops a run (subject to its enforcement level) or only informs.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum FindingKind {
    /// From a `deny` or `violation` rule.
    Deny,
    /// From a `warn` rule; always advisory.
    Warn,
}

/// One message a policy produced.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Finding {
    /// The policy set's name.
    pub set: String,
    /// The level that applies to this finding: the set's for `deny`/`violation`, always
    /// advisory for `warn`.
    pub enforcement: Enforcement,
    pub kind: FindingKind,
    /// The Rego package, e.g. `terraform.tags`.
    pub package: String,
    /// The rule, e.g. `deny`, `violation` or `deny_public_bucket`.
    pub rule: String,
    /// The policy files that define the rule (usually one).
    pub policy_files: Vec<String>,
    pub message: String,
    /// The resource instance address the finding concerns, when the finding names one.
    pub address: Option<String>,
}

impl fmt::Display for Finding {
    /// `[hard-mandatory] deny: aws_s3_bucket.b: bucket must not be public (data.s3.deny in
    /// policies/s3.rego, set "default")`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "[{}] {}: ",
            self.enforcement,
            match self.kind {
                FindingKind::Deny => "deny",
                FindingKind::Warn => "warn",
            }
        )?;
        if let Some(a) = &self.address {
            write!(f, "{a}: ")?;
        }
        write!(
            f,
            "{} (data.{}.{} in {}, set \"{}\")",
            self.message,
            self.package,
            self.rule,
            self.policy_files.join(", "),
            self.set
        )
    }
}

/// What the gate decided, from most to least severe.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Outcome {
    /// A hard-mandatory denial, or an error (the gate fails closed): stop, no override.
    HardFail,
    /// A soft-mandatory denial: stop unless overridden.
    SoftFail,
    /// Only advisory findings: continue, show them.
    Warn,
    /// Nothing to report.
    Pass,
}

/// The result of [`evaluate`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Decision {
    pub findings: Vec<Finding>,
    /// Evaluation errors, with the policy file, line and column when regorus gave them. Any
    /// error makes the outcome [`Outcome::HardFail`].
    pub errors: Vec<Diagnostic>,
    /// What the policies `print`ed (`file:line: text`), for debugging.
    pub prints: Vec<String>,
    pub outcome: Outcome,
}

impl Decision {
    /// Nothing to report (also: no policy applies).
    pub fn pass() -> Decision {
        Decision {
            findings: Vec::new(),
            errors: Vec::new(),
            prints: Vec::new(),
            outcome: Outcome::Pass,
        }
    }

    /// The decision when policies could not even be loaded: fail closed.
    pub fn from_load_errors(diags: Diagnostics) -> Decision {
        Decision {
            findings: Vec::new(),
            errors: diags.into_iter().filter(Diagnostic::is_error).collect(),
            prints: Vec::new(),
            outcome: Outcome::HardFail,
        }
    }

    /// Whether the run must stop. `override_soft` is the user's explicit override of
    /// soft-mandatory denials; nothing overrides a hard failure.
    pub fn blocks(&self, override_soft: bool) -> bool {
        match self.outcome {
            Outcome::HardFail => true,
            Outcome::SoftFail => !override_soft,
            Outcome::Warn | Outcome::Pass => false,
        }
    }

    /// Findings and errors as text, most severe first, for people.
    pub fn render(&self, sources: &Sources) -> String {
        let mut out = String::new();
        for d in &self.errors {
            out.push_str(&d.render(sources));
            out.push('\n');
        }
        for f in &self.findings {
            out.push_str(&f.to_string());
            out.push('\n');
        }
        out
    }
}

/// Evaluates every set against `input` (the plan JSON with its `baton` object). Sets that do
/// not opt in to sensitive values see the input through [`crate::redact`].
pub fn evaluate(policies: &LoadedPolicies, input: &Json) -> Decision {
    let mut decision = Decision::pass();
    let sources = &policies.sources;
    let mut raw: Option<regorus::Value> = None;
    let mut hidden: Option<regorus::Value> = None;
    let addresses = known_addresses(input);
    for set in &policies.sets {
        if set.rules.is_empty() {
            continue;
        }
        let slot = if set.set.include_sensitive {
            &mut raw
        } else {
            &mut hidden
        };
        let value = match slot {
            Some(v) => v.clone(),
            None => {
                let converted = if set.set.include_sensitive {
                    to_rego(input)
                } else {
                    to_rego(&redacted(input))
                };
                match converted {
                    Ok(v) => {
                        *slot = Some(v.clone());
                        v
                    }
                    Err(e) => {
                        decision.errors.push(Diagnostic::error(
                            "Invalid policy input",
                            format!("The input document cannot be given to the policies: {e}"),
                        ));
                        break;
                    }
                }
            }
        };
        let value = shaped(value, set.set.input_shape);
        evaluate_set(set, value, &addresses, sources, &mut decision);
    }
    // Most severe first: hard-mandatory denials, soft-mandatory, advisory denials, warnings.
    decision
        .findings
        .sort_by(|a, b| severity_key(a).cmp(&severity_key(b)));
    decision.outcome = outcome(&decision.findings, !decision.errors.is_empty());
    decision
}

/// The input as the set's policies expect it: the plan itself, or the plan under the key
/// their platform uses, with the `baton` run context beside it.
fn shaped(input: regorus::Value, shape: InputShape) -> regorus::Value {
    let Some(key) = shape.plan_key() else {
        return input;
    };
    let mut plan = input;
    let baton = plan
        .as_object_mut()
        .ok()
        .and_then(|o| o.remove(&regorus::Value::from("baton")));
    let mut out = regorus::Value::new_object();
    if let Ok(o) = out.as_object_mut() {
        o.insert(regorus::Value::from(key), plan);
        if let Some(b) = baton {
            o.insert(regorus::Value::from("baton"), b);
        }
    }
    out
}

type SortKey<'a> = (
    Reverse<Enforcement>,
    FindingKind,
    &'a str,
    &'a str,
    &'a str,
    &'a Option<String>,
    &'a str,
);

fn severity_key(f: &Finding) -> SortKey<'_> {
    (
        Reverse(f.enforcement),
        f.kind,
        &f.set,
        &f.package,
        &f.rule,
        &f.address,
        &f.message,
    )
}

fn outcome(findings: &[Finding], errors: bool) -> Outcome {
    let denies = |level| {
        findings
            .iter()
            .any(|f| f.kind == FindingKind::Deny && f.enforcement == level)
    };
    if errors || denies(Enforcement::HardMandatory) {
        Outcome::HardFail
    } else if denies(Enforcement::SoftMandatory) {
        Outcome::SoftFail
    } else if findings.is_empty() {
        Outcome::Pass
    } else {
        Outcome::Warn
    }
}

/// Evaluates one set, its packages split across threads (one engine each; rules of one
/// package stay together so that what they share is computed once).
fn evaluate_set(
    set: &LoadedSet,
    input: regorus::Value,
    addresses: &HashSet<String>,
    sources: &Sources,
    decision: &mut Decision,
) {
    let threads = std::thread::available_parallelism()
        .map_or(1, |n| n.get())
        .min(8);
    let mut packages: Vec<&Vec<String>> = set.rules.iter().map(|r| &r.package).collect();
    packages.sort();
    packages.dedup();
    if threads < 2 || packages.len() < 2 {
        return evaluate_rules(set, input, addresses, sources, decision);
    }
    let groups = threads.min(packages.len());
    let mut parts: Vec<LoadedSet> = (0..groups)
        .map(|_| LoadedSet {
            set: set.set.clone(),
            corpus: set.corpus.clone(),
            rules: Vec::new(),
        })
        .collect();
    for r in &set.rules {
        let i = packages.iter().position(|p| *p == &r.package).unwrap_or(0) % groups;
        parts[i].rules.push(r.clone());
    }
    let results: Vec<Option<Decision>> = std::thread::scope(|s| {
        let handles: Vec<_> = parts
            .iter()
            .map(|part| {
                let input = input.clone();
                s.spawn(move || {
                    let mut d = Decision::pass();
                    evaluate_rules(part, input, addresses, sources, &mut d);
                    d
                })
            })
            .collect();
        handles.into_iter().map(|h| h.join().ok()).collect()
    });
    for r in results {
        match r {
            Some(mut d) => {
                decision.findings.append(&mut d.findings);
                decision.errors.append(&mut d.errors);
                decision.prints.append(&mut d.prints);
            }
            None => decision.errors.push(Diagnostic::error(
                "Policy evaluation failed",
                format!("A policy evaluation thread panicked.\n\n{FAIL_CLOSED}"),
            )),
        }
    }
}

fn evaluate_rules(
    set: &LoadedSet,
    input: regorus::Value,
    addresses: &HashSet<String>,
    sources: &Sources,
    decision: &mut Decision,
) {
    let mut engine = set.corpus.engine.clone();
    engine.set_input(input);
    // Fast path: every rule of the set in one query, so that the rules they share (a score,
    // a filtered list of resources) are computed once. `[v | v := r]` is `[]` when `r` is
    // undefined, so one undefined rule does not hide the others.
    let query = format!(
        "[{}]",
        set.rules
            .iter()
            .map(|r| format!("[v | v := {}]", crate::rules::rule_ref(&r.package, &r.name)))
            .collect::<Vec<_>>()
            .join(", ")
    );
    let combined = catch_unwind(AssertUnwindSafe(|| Corpus::eval_ref(&mut engine, &query)));
    if let Ok(Ok(regorus::Value::Array(values))) = &combined {
        if values.len() == set.rules.len() {
            if let Ok(mut prints) = engine.take_prints() {
                decision.prints.append(&mut prints);
            }
            for (rule, value) in set.rules.iter().zip(values.iter()) {
                let value = match value {
                    regorus::Value::Array(v) => v.iter().next().cloned(),
                    _ => None,
                };
                if let Some(value) = value {
                    collect_findings(set, rule, &value, addresses, decision);
                }
            }
            return;
        }
    }
    if combined.is_err() {
        engine = set.corpus.engine.clone();
    }
    let _ = engine.take_prints();
    // Slow path, after an error: rule by rule, so that each error names its rule.
    for rule in &set.rules {
        let path = crate::rules::rule_ref(&rule.package, &rule.name);
        let result = catch_unwind(AssertUnwindSafe(|| Corpus::eval_ref(&mut engine, &path)));
        if let Ok(mut prints) = engine.take_prints() {
            decision.prints.append(&mut prints);
        }
        let context = format!("policy set \"{}\", rule {path}", set.set.name);
        match result {
            Ok(Ok(value)) => collect_findings(set, rule, &value, addresses, decision),
            Ok(Err(err)) => {
                let d = set
                    .corpus
                    .diagnostic(&err, "Policy evaluation failed", FAIL_CLOSED, sources)
                    .in_context(context);
                decision.errors.push(d);
            }
            Err(_) => {
                decision.errors.push(
                    Diagnostic::error(
                        "Policy evaluation failed",
                        format!(
                            "The Rego engine panicked while evaluating {path}.\n\n{FAIL_CLOSED}"
                        ),
                    )
                    .in_context(context),
                );
                // The engine's state is unknown after a panic: evaluate nothing more with it.
                return;
            }
        }
    }
}

const FAIL_CLOSED: &str = "A policy that cannot be evaluated denies: the run stops.";

/// `deny`/`violation` → deny, `warn` → warn, also with a `_suffix` (conftest's convention).
pub(crate) fn rule_kind(name: &str) -> Option<FindingKind> {
    let (prefix, suffix) = match name.split_once('_') {
        Some((p, s)) => (p, Some(s)),
        None => (name, None),
    };
    if suffix.is_some_and(str::is_empty) {
        return None;
    }
    match prefix {
        "deny" | "violation" => Some(FindingKind::Deny),
        "warn" => Some(FindingKind::Warn),
        _ => None,
    }
}

fn collect_findings(
    set: &LoadedSet,
    rule: &GateRule,
    value: &regorus::Value,
    addresses: &HashSet<String>,
    decision: &mut Decision,
) {
    let Some(kind) = rule_kind(&rule.name) else {
        return;
    };
    let json = match value {
        regorus::Value::Undefined => return,
        v => serde_json::to_value(v).unwrap_or(Json::Null),
    };
    let mut items = Vec::new();
    messages_of(&json, None, &mut items);
    for (message, address) in items {
        let address = address.or_else(|| find_address(&message, addresses));
        decision.findings.push(Finding {
            set: set.set.name.clone(),
            enforcement: match kind {
                FindingKind::Deny => set.set.enforcement,
                FindingKind::Warn => Enforcement::Advisory,
            },
            kind,
            package: crate::rules::package_path(&rule.package),
            rule: rule.name.clone(),
            policy_files: rule.files.clone(),
            message,
            address,
        });
    }
}

/// The messages in a rule's value. A set or array holds one message per element; an object
/// is a violation object when it has `msg`/`message`, else a map (a partial object rule or
/// a ref head such as `deny.tags contains …`) whose values are messages or collections of
/// them, or whose keys are the messages when the values are `true`. `true` alone (a boolean
/// `deny if …`) is one message naming the rule.
fn messages_of(v: &Json, key: Option<&str>, out: &mut Vec<(String, Option<String>)>) {
    match v {
        Json::Null | Json::Bool(false) => {}
        Json::Bool(true) => out.push(("denied (the rule is true)".into(), None)),
        Json::Array(items) => {
            for it in items {
                out.push(message_of_item(it, key));
            }
        }
        Json::Object(map) if !is_violation_object(map) => {
            for (k, val) in map {
                if val == &Json::Bool(true) {
                    out.push(message_of_item(&Json::String(k.clone()), None));
                } else {
                    messages_of(val, Some(k), out);
                }
            }
        }
        other => out.push(message_of_item(other, key)),
    }
}

fn is_violation_object(map: &serde_json::Map<String, Json>) -> bool {
    ["msg", "message"].iter().any(|k| map.contains_key(*k))
}

/// One message and, when the item names it, its resource address. `key` is the object key
/// the item was found under (a partial object rule `deny[addr] := msg` keys by address).
fn message_of_item(item: &Json, key: Option<&str>) -> (String, Option<String>) {
    match item {
        Json::String(s) => (
            s.clone(),
            key.map(str::to_string).filter(|k| looks_like_address(k)),
        ),
        Json::Object(map) => {
            let message = ["msg", "message"]
                .iter()
                .find_map(|k| map.get(*k).and_then(Json::as_str))
                .map(str::to_string)
                .unwrap_or_else(|| item.to_string());
            let address = address_in(map)
                .or_else(|| {
                    map.get("details")
                        .and_then(Json::as_object)
                        .and_then(address_in)
                })
                .or_else(|| key.map(str::to_string).filter(|k| looks_like_address(k)));
            (message, address)
        }
        other => (other.to_string(), None),
    }
}

/// `address`, `resource_address` or `resource` — a string, or an object with an `address`
/// (a whole `resource_changes` entry).
fn address_in(map: &serde_json::Map<String, Json>) -> Option<String> {
    for k in ["address", "resource_address", "resource"] {
        match map.get(k) {
            Some(Json::String(s)) if !s.is_empty() => return Some(s.clone()),
            Some(Json::Object(o)) => {
                if let Some(Json::String(s)) = o.get("address") {
                    return Some(s.clone());
                }
            }
            _ => {}
        }
    }
    None
}

/// A key is taken as an address when it has the shape `type.name` (possibly with module
/// path and instance key) — a resource type always has an underscore.
fn looks_like_address(s: &str) -> bool {
    baton_core::InstanceAddr::parse(s).is_ok()
        && s.split('.')
            .find(|p| *p != "module" && *p != "data")
            .is_some_and(|p| p.contains('_'))
}

/// The addresses of the resources the input's plan talks about.
fn known_addresses(input: &Json) -> HashSet<String> {
    let mut out = HashSet::new();
    for key in ["resource_changes", "resource_drift"] {
        for rc in input[key].as_array().into_iter().flatten() {
            if let Some(a) = rc["address"].as_str() {
                out.insert(a.to_string());
            }
        }
    }
    out
}

/// The first known address that appears as a word of `message` (quotes and surrounding
/// punctuation ignored).
fn find_address(message: &str, known: &HashSet<String>) -> Option<String> {
    if known.is_empty() {
        return None;
    }
    message.split_whitespace().find_map(|word| {
        let w = word.trim_start_matches(['"', '\'', '`', '(', '<', '{']);
        let w = w.trim_end_matches(['"', '\'', '`', ')', '>', '}', ',', ';', ':', '.', '!', '?']);
        known.get(w).cloned()
    })
}

/// The input as a regorus value, without copying it through text.
pub(crate) fn to_rego(v: &Json) -> Result<regorus::Value, String> {
    regorus::Value::deserialize(v).map_err(|e| e.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn rule_kinds_follow_conftest_names() {
        assert_eq!(rule_kind("deny"), Some(FindingKind::Deny));
        assert_eq!(rule_kind("violation"), Some(FindingKind::Deny));
        assert_eq!(rule_kind("warn"), Some(FindingKind::Warn));
        assert_eq!(rule_kind("deny_public_bucket"), Some(FindingKind::Deny));
        assert_eq!(rule_kind("warn_x"), Some(FindingKind::Warn));
        assert_eq!(rule_kind("deny_"), None);
        assert_eq!(rule_kind("denylist"), None);
        assert_eq!(rule_kind("allow"), None);
        assert_eq!(rule_kind("test_deny"), None);
    }

    #[test]
    fn messages_from_every_shape() {
        let mut out = Vec::new();
        messages_of(
            &json!([
                "plain",
                {"msg": "m1", "resource": "aws_instance.a"},
                {"msg": "m2", "details": {"address": "aws_instance.b"}},
                {"message": "m3", "resource": {"address": "aws_instance.c", "type": "aws_instance"}},
                {"msg": "m4", "resource_address": "module.x.aws_instance.d[\"k\"]"},
                {"no_msg": 1},
                7
            ]),
            None,
            &mut out,
        );
        assert_eq!(
            out,
            vec![
                ("plain".to_string(), None),
                ("m1".to_string(), Some("aws_instance.a".to_string())),
                ("m2".to_string(), Some("aws_instance.b".to_string())),
                ("m3".to_string(), Some("aws_instance.c".to_string())),
                (
                    "m4".to_string(),
                    Some("module.x.aws_instance.d[\"k\"]".to_string())
                ),
                ("{\"no_msg\":1}".to_string(), None),
                ("7".to_string(), None),
            ]
        );
        let mut out = Vec::new();
        messages_of(
            &json!({"aws_instance.a": "keyed by address", "tags": ["nested"], "m": true}),
            None,
            &mut out,
        );
        assert_eq!(
            out,
            vec![
                (
                    "keyed by address".to_string(),
                    Some("aws_instance.a".to_string())
                ),
                ("m".to_string(), None),
                ("nested".to_string(), None),
            ]
        );
    }

    #[test]
    fn addresses_are_found_in_messages() {
        let known: HashSet<String> = ["aws_instance.web[\"a\"]", "aws_instance.web[0]", "x_y.z"]
            .into_iter()
            .map(str::to_string)
            .collect();
        assert_eq!(
            find_address("resource aws_instance.web[0]: missing tags", &known).as_deref(),
            Some("aws_instance.web[0]")
        );
        assert_eq!(
            find_address("'x_y.z' is denied.", &known).as_deref(),
            Some("x_y.z")
        );
        assert_eq!(
            find_address("\"aws_instance.web[\"a\"]\" has no owner", &known).as_deref(),
            Some("aws_instance.web[\"a\"]")
        );
        assert_eq!(find_address("nothing here x_y.zz", &known), None);
    }
}
