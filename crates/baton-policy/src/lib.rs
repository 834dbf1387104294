//! Policy as code: Rego policies that gate a plan, evaluated in-process with `regorus`.
//!
//! - [`load`] reads policy sets — directories of `.rego` files (Rego v1 or the older syntax,
//!   any package) and `.json`/`.yaml` data files merged at the root of `data` — and reports
//!   every syntax or compile error with its file, line and column.
//! - [`evaluate`] runs each set's `deny`, `warn` and `violation` rules (and conftest's
//!   `deny_*`, `warn_*`, `violation_*`) against the plan JSON, redacted with [`redact`] unless
//!   the set opts in to sensitive values, and decides an [`Outcome`] from the sets'
//!   [`Enforcement`] levels. It fails closed: any evaluation error is a hard failure.
//! - [`run_tests`] runs `test_*` rules like `opa test`; [`eval_query`] runs one query like
//!   `opa eval`.
//!
//! Architecture invariant: this crate knows the plan JSON only as a `serde_json::Value` (its
//! caller builds the input, including the `baton` run context); it never prints, never
//! touches state, and a policy can read nothing but its input and its data (no network, no
//! environment: regorus's `http` and `opa.runtime().env` are not built in).
//!
//! API boundary: the items re-exported here.

mod bodies;
mod builtins;
mod calls;
mod eval;
mod gofmt;
mod load;
mod metadata;
mod query;
mod redact;
mod rego_error;
mod rules;
mod set;
mod shadow;
mod testing;

pub use eval::{evaluate, Decision, Finding, FindingKind, Outcome};
pub use load::{load, load_in, LoadedPolicies, EVAL_TIME_LIMIT};
pub use query::eval_query;
pub use redact::{redact, REDACTED};
pub use set::{
    Enforcement, InputShape, Namespaces, ParseEnforcementError, ParseInputShapeError, PolicySet,
};
pub use testing::{run_tests, TestOpts, TestOutcome, TestReport, TestResult};
