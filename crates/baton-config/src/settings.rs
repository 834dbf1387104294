//! Baton's own settings in the language, decoded into typed values while the configuration
//! loads: a resource's `retry` and `timeouts` blocks and the `on_failure` policy,
//! `max_fail_percentage` and `reconcile { interval, repair }` block of `terraform { baton { … } }`. A bad value (wrong type, negative, unknown unit, unknown
//! argument) is a diagnostic at its `file:line:col`, collected with every other load
//! diagnostic, so `baton validate` reports it and nothing downstream reads these blocks' syntax.
//!
//! Like Terraform's `timeouts`, the values are literals: durations are literal strings in Go's
//! grammar ([`baton_core::duration`]), `attempts` a literal whole number, `on_failure` a literal
//! keyword. This module never evaluates an expression.

use crate::ast::{ExprKind, ObjectKey, UnaryOp};
use crate::syntax::{Attribute, Block, Body};
use baton_core::{duration, Diagnostic, Diagnostics};
use std::str::FromStr;
use std::time::Duration;

/// What a failed run does with the changes it completed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FailurePolicy {
    /// Undo them (the default).
    Rollback,
    /// Keep them (Terraform's behaviour).
    Halt,
}

/// A failure policy keyword other than `rollback` or `halt`.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("unknown failure policy {given:?}: expected \"rollback\" or \"halt\"")]
pub struct UnknownFailurePolicy {
    pub given: String,
}

impl FailurePolicy {
    pub fn as_str(self) -> &'static str {
        match self {
            FailurePolicy::Rollback => "rollback",
            FailurePolicy::Halt => "halt",
        }
    }
}

impl FromStr for FailurePolicy {
    type Err = UnknownFailurePolicy;
    fn from_str(s: &str) -> Result<FailurePolicy, UnknownFailurePolicy> {
        match s {
            "rollback" => Ok(FailurePolicy::Rollback),
            "halt" => Ok(FailurePolicy::Halt),
            _ => Err(UnknownFailurePolicy {
                given: s.to_string(),
            }),
        }
    }
}

impl std::fmt::Display for FailurePolicy {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// `terraform { baton { … } }`.
#[derive(Clone, Debug, Default)]
pub struct BatonSettings {
    /// `on_failure = "rollback" | "halt"`: the default of a run of this root module.
    pub on_failure: Option<FailurePolicy>,
    /// `max_fail_percentage = 25`: the share of failure domains (hosts) that may fail before
    /// the whole run fails (0..=100). Unset: the run fails only when every domain failed.
    pub max_fail_percentage: Option<u8>,
    /// `policy_set "NAME" { … }` blocks, decoded with their diagnostics by
    /// `baton-engine::policy` (their sources are paths checked against the run's directory).
    pub policy_sets: Vec<Block>,
    /// `executor = "local" | "workers"`: where this stack's provider calls run by default.
    pub executor: Option<Executor>,
    /// `run_on = { zone = "eu" }`: labels the workers performing them must carry.
    pub run_on: Option<std::collections::BTreeMap<String, String>>,
    /// `reconcile { interval = "10m", repair = true }`: the agent (`baton serve`) re-plans
    /// the stack on that interval. `None`: the stack is not reconciled.
    pub reconcile: Option<Reconcile>,
}

/// `terraform { baton { reconcile { … } } }`: how the agent keeps the stack as declared.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Reconcile {
    /// How often the stack is re-planned (at least [`Reconcile::MIN_INTERVAL`]).
    pub interval: Duration,
    /// Apply a plan with changes (through the policy gate); false: only record the drift.
    pub repair: bool,
}

impl Reconcile {
    /// The shortest interval accepted (short ones are for tests and demonstrations).
    pub const MIN_INTERVAL: Duration = Duration::from_secs(1);
}

/// Where a run's work is performed: in the process that runs it, or on `baton worker`
/// processes sharing the store's work queue (PostgreSQL, or SQLite on one machine).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Executor {
    #[default]
    Local,
    Workers,
}

impl std::str::FromStr for Executor {
    type Err = ();
    fn from_str(s: &str) -> Result<Executor, ()> {
        match s {
            "local" => Ok(Executor::Local),
            "workers" => Ok(Executor::Workers),
            _ => Err(()),
        }
    }
}

/// A literal object of literal strings (`run_on = { zone = "eu" }`), or an error at the
/// expression saying so.
pub fn string_map(
    a: &Attribute,
    diags: &mut Diagnostics,
) -> Option<std::collections::BTreeMap<String, String>> {
    let bad = |diags: &mut Diagnostics, at| {
        diags.push(
            Diagnostic::error(
                format!("Invalid {}", a.name),
                format!(
                    "{} must be a literal object of strings, e.g. {{ zone = \"eu\" }}; references and expressions are not allowed here.",
                    a.name
                ),
            )
            .at(at),
        );
        None
    };
    let ExprKind::Object(items) = &a.expr.kind else {
        return bad(diags, a.expr.span);
    };
    let mut out = std::collections::BTreeMap::new();
    for (k, v) in items {
        let key = match k {
            ObjectKey::Ident(s) => s.clone(),
            ObjectKey::Expr(e) => match e.as_static_str() {
                Some(s) => s.to_string(),
                None => return bad(diags, e.span),
            },
        };
        match v.as_static_str() {
            Some(s) => {
                out.insert(key, s.to_string());
            }
            None => return bad(diags, v.span),
        }
    }
    Some(out)
}

/// A resource's `retry { attempts, backoff, max_backoff }`: each one set overrides the run's.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Retry {
    /// Attempts in all, at least 1.
    pub attempts: Option<u32>,
    /// The first delay; each retry doubles it.
    pub backoff: Option<Duration>,
    /// The cap on one delay.
    pub max_backoff: Option<Duration>,
}

/// A resource's `timeouts { create, read, update, delete }`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Timeouts {
    pub create: Option<Duration>,
    pub read: Option<Duration>,
    pub update: Option<Duration>,
    pub delete: Option<Duration>,
}

impl Timeouts {
    /// The timeout of an operation (`create`, `read`, `update` or `delete`).
    pub fn get(&self, operation: &str) -> Option<Duration> {
        match operation {
            "create" => self.create,
            "read" => self.read,
            "update" => self.update,
            "delete" => self.delete,
            _ => None,
        }
    }
}

/// Decodes a `baton` block inside `terraform`.
pub fn baton_settings(body: &Body, diags: &mut Diagnostics) -> BatonSettings {
    let mut s = BatonSettings::default();
    for a in &body.attrs {
        match a.name.as_str() {
            "on_failure" => {
                s.on_failure = keyword(a, diags).and_then(|k| match k.parse() {
                    Ok(p) => Some(p),
                    Err(UnknownFailurePolicy { given }) => {
                        diags.push(
                            Diagnostic::error(
                                "Invalid on_failure policy",
                                format!("The on_failure policy must be \"rollback\" or \"halt\", not {given:?}."),
                            )
                            .at(a.expr.span),
                        );
                        None
                    }
                });
            }
            "executor" => match a.expr.as_static_str().map(str::parse::<Executor>) {
                Some(Ok(e)) => s.executor = Some(e),
                _ => diags.push(
                    Diagnostic::error(
                        "Invalid executor",
                        "executor must be the literal string \"local\" (provider calls run in the process that runs the stack) or \"workers\" (on `baton worker` processes sharing the store's work queue).",
                    )
                    .at(a.expr.span),
                ),
            },
            "run_on" => s.run_on = string_map(a, diags),
            "max_fail_percentage" => s.max_fail_percentage = percentage(a, diags),
            "reconcile" => diags.push(
                Diagnostic::error(
                    "Invalid reconcile setting",
                    "reconcile is a block: reconcile { interval = \"10m\"  repair = true }.",
                )
                .at(a.name_span),
            ),
            _ => unsupported(
                a,
                "a baton block",
                &["on_failure", "max_fail_percentage", "executor", "run_on"],
                diags,
            ),
        }
    }
    for b in &body.blocks {
        match b.type_.as_str() {
            "policy_set" => s.policy_sets.push(b.clone()),
            "reconcile" => {
                if s.reconcile.is_some() {
                    diags.push(
                        Diagnostic::error(
                            "Duplicate reconcile block",
                            "A baton block may hold only one reconcile block.",
                        )
                        .at(b.def_span),
                    );
                }
                s.reconcile = reconcile(b, diags);
            }
            other => diags.push(
                Diagnostic::error(
                    "Unsupported block type",
                    format!("Blocks of type \"{other}\" are not expected in a baton block; expected policy_set or reconcile."),
                )
                .at(b.def_span),
            ),
        }
    }
    s
}

/// Decodes `reconcile { interval = "10m"  repair = true }`: `interval` is required (a literal
/// duration of at least [`Reconcile::MIN_INTERVAL`]), `repair` a literal bool (default false).
fn reconcile(b: &Block, diags: &mut Diagnostics) -> Option<Reconcile> {
    let context = "reconcile";
    let mut interval = None;
    let mut repair = false;
    let mut ok = true;
    for a in &b.body.attrs {
        match a.name.as_str() {
            "interval" => match duration_attr(a, "reconcile", context, diags) {
                Some(d) if d < Reconcile::MIN_INTERVAL => {
                    ok = false;
                    diags.push(
                        Diagnostic::error(
                            "Invalid reconcile duration",
                            "The reconcile interval must be at least \"1s\", such as \"10m\" or \"30m\".",
                        )
                        .at(a.expr.span),
                    );
                }
                Some(d) => interval = Some(d),
                None => ok = false,
            },
            "repair" => match &a.expr.kind {
                ExprKind::Bool(v) => repair = *v,
                _ => {
                    ok = false;
                    diags.push(
                        Diagnostic::error(
                            "Invalid reconcile repair",
                            "repair must be the literal true (apply a plan with changes, through the policy gate) or false (only record the drift); references and expressions are not allowed here.",
                        )
                        .at(a.expr.span),
                    );
                }
            },
            _ => {
                ok = false;
                unsupported(a, "a reconcile block", &["interval", "repair"], diags);
            }
        }
    }
    no_blocks(&b.body, "reconcile", diags);
    if interval.is_none() && ok {
        diags.push(
            Diagnostic::error(
                "Missing reconcile interval",
                "A reconcile block needs interval, such as interval = \"10m\".",
            )
            .at(b.def_span),
        );
    }
    let interval = interval?;
    ok.then_some(Reconcile { interval, repair })
}

/// Decodes a resource's `retry` block.
pub fn retry(body: &Body, context: &str, diags: &mut Diagnostics) -> Retry {
    let mut r = Retry::default();
    for a in &body.attrs {
        match a.name.as_str() {
            "attempts" => r.attempts = attempts(a, context, diags),
            "backoff" => r.backoff = duration_attr(a, "retry", context, diags),
            "max_backoff" => r.max_backoff = duration_attr(a, "retry", context, diags),
            _ => unsupported(
                a,
                "a retry block",
                &["attempts", "backoff", "max_backoff"],
                diags,
            ),
        }
    }
    no_blocks(body, "retry", diags);
    r
}

/// Decodes a resource's `timeouts` block.
pub fn timeouts(body: &Body, context: &str, diags: &mut Diagnostics) -> Timeouts {
    let mut t = Timeouts::default();
    for a in &body.attrs {
        let slot = match a.name.as_str() {
            "create" => &mut t.create,
            "read" => &mut t.read,
            "update" => &mut t.update,
            "delete" => &mut t.delete,
            _ => {
                unsupported(
                    a,
                    "a timeouts block",
                    &["create", "read", "update", "delete"],
                    diags,
                );
                continue;
            }
        };
        *slot = duration_attr(a, "timeouts", context, diags);
    }
    no_blocks(body, "timeouts", diags);
    t
}

fn attempts(a: &Attribute, context: &str, diags: &mut Diagnostics) -> Option<u32> {
    let bad = |detail: String| {
        Diagnostic::error("Invalid retry attempts", detail)
            .at(a.expr.span)
            .in_context(context.to_string())
    };
    // A literal number, or a string holding one (Terraform converts "3" to a number).
    let (text, negative) = match &a.expr.kind {
        ExprKind::Number(t) | ExprKind::String(t) => (t.trim(), false),
        ExprKind::Unary(UnaryOp::Neg, inner) => match &inner.kind {
            ExprKind::Number(t) => (t.as_str(), true),
            _ => ("", true),
        },
        _ => {
            diags.push(bad("The number of attempts must be a literal whole number of at least 1, such as 3; references and expressions are not allowed here.".into()));
            return None;
        }
    };
    let n = text.parse::<f64>().ok().filter(|n| n.is_finite());
    match n {
        Some(n) if !negative && n.fract() == 0.0 && n >= 1.0 && n <= f64::from(u32::MAX) =>
        {
            #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
            Some(n as u32)
        }
        Some(_) => {
            diags.push(bad(format!(
                "The number of attempts must be a whole number of at least 1 (attempts in all, the first included), not {}{text}.",
                if negative { "-" } else { "" }
            )));
            None
        }
        None => {
            diags.push(bad(format!(
                "The number of attempts must be a whole number of at least 1, such as 3; {:?} is not a number.",
                text
            )));
            None
        }
    }
}

/// A literal duration argument (`"30s"`, `"1h30m"`) of a `block` block, in Baton's one grammar;
/// a diagnostic at the value when it is not one.
pub fn duration_attr(
    a: &Attribute,
    block: &str,
    context: &str,
    diags: &mut Diagnostics,
) -> Option<Duration> {
    let summary = format!("Invalid {block} duration");
    let Some(text) = a.expr.as_static_str() else {
        diags.push(
            Diagnostic::error(
                summary,
                format!(
                    "The argument \"{}\" must be a literal string holding a duration such as \"30s\", \"5m\" or \"1h30m\"; references and expressions are not allowed here.",
                    a.name
                ),
            )
            .at(a.expr.span)
            .in_context(context.to_string()),
        );
        return None;
    };
    match duration::parse(text) {
        Ok(d) => Some(d),
        Err(e) => {
            diags.push(
                Diagnostic::error(
                    summary,
                    format!(
                        "The argument \"{}\" must be a duration: a number and a unit (ns, us, ms, s, m, h), or several, such as \"90s\", \"1.5h\" or \"1h30m\" ({e}).",
                        a.name
                    ),
                )
                .at(a.expr.span)
                .in_context(context.to_string()),
            );
            None
        }
    }
}

/// `max_fail_percentage`: a literal whole number from 0 to 100 (or a string holding one, as
/// Terraform converts "25" to a number).
fn percentage(a: &Attribute, diags: &mut Diagnostics) -> Option<u8> {
    let bad =
        |detail: String| Diagnostic::error("Invalid max_fail_percentage", detail).at(a.expr.span);
    let (text, negative) = match &a.expr.kind {
        ExprKind::Number(t) | ExprKind::String(t) => (t.trim(), false),
        ExprKind::Unary(UnaryOp::Neg, inner) => match &inner.kind {
            ExprKind::Number(t) => (t.as_str(), true),
            _ => ("", true),
        },
        _ => {
            diags.push(bad("max_fail_percentage must be a literal whole number from 0 to 100, such as 25; references and expressions are not allowed here.".into()));
            return None;
        }
    };
    match text.parse::<f64>().ok().filter(|n| n.is_finite()) {
        Some(n) if !negative && n.fract() == 0.0 && (0.0..=100.0).contains(&n) =>
        {
            #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
            Some(n as u8)
        }
        Some(_) => {
            diags.push(bad(format!(
                "max_fail_percentage must be a whole number from 0 to 100 (a percentage of the run's hosts), not {}{text}.",
                if negative { "-" } else { "" }
            )));
            None
        }
        None => {
            diags.push(bad(format!(
                "max_fail_percentage must be a whole number from 0 to 100, such as 25; {text:?} is not a number."
            )));
            None
        }
    }
}

fn keyword<'a>(a: &'a Attribute, diags: &mut Diagnostics) -> Option<&'a str> {
    match &a.expr.kind {
        ExprKind::String(s) => Some(s),
        ExprKind::Var(s) => Some(s),
        _ => {
            diags.push(
                Diagnostic::error(
                    "Invalid on_failure policy",
                    "The on_failure policy must be the literal \"rollback\" or \"halt\"; references and expressions are not allowed here.",
                )
                .at(a.expr.span),
            );
            None
        }
    }
}

/// An argument not expected in `place`, listing what is.
pub fn unsupported(a: &Attribute, place: &str, expected: &[&str], diags: &mut Diagnostics) {
    diags.push(
        Diagnostic::error(
            "Unsupported argument",
            format!(
                "An argument named \"{}\" is not expected in {place}. Expected one of: {}.",
                a.name,
                expected.join(", ")
            ),
        )
        .at(a.name_span),
    );
}

/// Every block of `body` is unexpected in a `block` block.
pub fn no_blocks(body: &Body, block: &str, diags: &mut Diagnostics) {
    for b in &body.blocks {
        diags.push(
            Diagnostic::error(
                "Unsupported block type",
                format!(
                    "Blocks of type \"{}\" are not expected in a {block} block.",
                    b.type_
                ),
            )
            .at(b.def_span),
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::syntax::parse_file;
    use baton_core::FileId;

    /// The `retry` block holding `attrs`: the decoded value, and each diagnostic's summary.
    fn check_retry(attrs: &str) -> (Retry, Vec<String>) {
        let text = format!("retry {{\n{attrs}\n}}\n");
        let body = parse_file(FileId(0), &text).expect("parses");
        let mut diags = Diagnostics::new();
        let r = retry(&body.blocks[0].body, "ctx", &mut diags);
        (r, diags.iter().map(|d| d.summary.clone()).collect())
    }

    #[test]
    fn retry_values() {
        let secs = Duration::from_secs;
        let ok: &[(&str, Retry)] = &[
            (
                "attempts = 5",
                Retry {
                    attempts: Some(5),
                    ..Retry::default()
                },
            ),
            (
                "attempts = \"3\"",
                Retry {
                    attempts: Some(3),
                    ..Retry::default()
                },
            ),
            (
                "attempts = 2.0",
                Retry {
                    attempts: Some(2),
                    ..Retry::default()
                },
            ),
            (
                "backoff = \"1.5s\"\nmax_backoff = \"1h30m\"",
                Retry {
                    backoff: Some(Duration::from_millis(1500)),
                    max_backoff: Some(secs(5400)),
                    ..Retry::default()
                },
            ),
            ("", Retry::default()),
        ];
        for (attrs, want) in ok {
            assert_eq!(check_retry(attrs), (*want, Vec::new()), "{attrs}");
        }
        for (attrs, summary) in [
            ("attempts = 0", "Invalid retry attempts"),
            ("attempts = -1", "Invalid retry attempts"),
            ("attempts = 2.5", "Invalid retry attempts"),
            ("attempts = \"three\"", "Invalid retry attempts"),
            ("attempts = var.n", "Invalid retry attempts"),
            ("backoff = 5", "Invalid retry duration"),
            ("backoff = \"5\"", "Invalid retry duration"),
            ("backoff = \"5d\"", "Invalid retry duration"),
            ("max_backoff = \"-5s\"", "Invalid retry duration"),
            ("max_backoff = \"${var.x}s\"", "Invalid retry duration"),
            ("tries = 3", "Unsupported argument"),
        ] {
            let (r, diags) = check_retry(attrs);
            assert_eq!(r, Retry::default(), "{attrs}");
            assert_eq!(diags, [summary], "{attrs}");
        }
    }

    /// The `baton` block holding `attrs`: its `max_fail_percentage`, and each diagnostic's
    /// summary.
    fn check_percentage(attrs: &str) -> (Option<u8>, Vec<String>) {
        let text = format!("baton {{\n{attrs}\n}}\n");
        let body = parse_file(FileId(0), &text).expect("parses");
        let mut diags = Diagnostics::new();
        let s = baton_settings(&body.blocks[0].body, &mut diags);
        (
            s.max_fail_percentage,
            diags.iter().map(|d| d.summary.clone()).collect(),
        )
    }

    #[test]
    fn max_fail_percentage_values() {
        for (attrs, want) in [
            ("max_fail_percentage = 25", Some(25)),
            ("max_fail_percentage = 0", Some(0)),
            ("max_fail_percentage = 100", Some(100)),
            ("max_fail_percentage = \"30\"", Some(30)),
            ("", None),
        ] {
            assert_eq!(check_percentage(attrs), (want, Vec::new()), "{attrs}");
        }
        for attrs in [
            "max_fail_percentage = 101",
            "max_fail_percentage = -1",
            "max_fail_percentage = 2.5",
            "max_fail_percentage = \"many\"",
            "max_fail_percentage = var.p",
        ] {
            assert_eq!(
                check_percentage(attrs),
                (None, vec!["Invalid max_fail_percentage".to_string()]),
                "{attrs}"
            );
        }
    }

    #[test]
    fn failure_policy_keywords() {
        assert_eq!("halt".parse(), Ok(FailurePolicy::Halt));
        assert_eq!("rollback".parse(), Ok(FailurePolicy::Rollback));
        assert!("Halt".parse::<FailurePolicy>().is_err());
        for p in [FailurePolicy::Halt, FailurePolicy::Rollback] {
            assert_eq!(p.as_str().parse(), Ok(p));
        }
    }

    /// The `baton` block holding `inner`: its `reconcile`, and each diagnostic's summary with
    /// its line.
    fn check_reconcile(inner: &str) -> (Option<Reconcile>, Vec<String>) {
        let text = format!("baton {{\n{inner}\n}}\n");
        let body = parse_file(FileId(0), &text).expect("parses");
        let mut diags = Diagnostics::new();
        let s = baton_settings(&body.blocks[0].body, &mut diags);
        (
            s.reconcile,
            diags.iter().map(|d| d.summary.clone()).collect(),
        )
    }

    #[test]
    fn reconcile_values() {
        let secs = Duration::from_secs;
        for (inner, want) in [
            (
                "reconcile {\n interval = \"10m\"\n repair = true\n}",
                Reconcile {
                    interval: secs(600),
                    repair: true,
                },
            ),
            (
                "reconcile {\n interval = \"1s\"\n}",
                Reconcile {
                    interval: secs(1),
                    repair: false,
                },
            ),
        ] {
            assert_eq!(check_reconcile(inner), (Some(want), Vec::new()), "{inner}");
        }
        for (inner, summary) in [
            (
                "reconcile {\n interval = \"500ms\"\n}",
                "Invalid reconcile duration",
            ),
            (
                "reconcile {\n interval = \"10\"\n}",
                "Invalid reconcile duration",
            ),
            (
                "reconcile {\n interval = var.i\n}",
                "Invalid reconcile duration",
            ),
            (
                "reconcile {\n repair = true\n}",
                "Missing reconcile interval",
            ),
            (
                "reconcile {\n interval = \"1m\"\n repair = \"yes\"\n}",
                "Invalid reconcile repair",
            ),
            (
                "reconcile {\n interval = \"1m\"\n every = \"1m\"\n}",
                "Unsupported argument",
            ),
            ("reconcile = true", "Invalid reconcile setting"),
        ] {
            assert_eq!(
                check_reconcile(inner),
                (None, vec![summary.to_string()]),
                "{inner}"
            );
        }
    }
}
