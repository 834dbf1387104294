//! Values of the Terraform language with *unknown* and *sensitive* marks, Terraform's type
//! system and conversion rules, expression evaluation, reference extraction and the function
//! library.
//!
//! Architecture invariant: evaluation is pure with respect to Baton's state — it reads
//! references only through the [`eval::Scope`] trait the engine implements, and it does no
//! I/O except in filesystem functions (`file`, `templatefile`, ...), which read files only.

pub mod convert;
pub mod entries;
pub mod eval;
pub mod functions;
pub mod number;
pub mod ops;
pub mod refs;
pub mod typeexpr;
pub mod types;
pub mod value;

pub use entries::Entries;
pub use eval::{EmptyScope, Evaluator, Scope};
pub use functions::FnCtx;
pub use number::Number;
pub use refs::{references, RefAt, Reference};
pub use types::{Type, TypeConstraint};
pub use value::{Kind, PathStep, Value};

/// Is `s` a valid identifier (so it can be printed as `x.name` rather than `x["name"]`)?
pub fn is_identifier(s: &str) -> bool {
    baton_config::model::is_valid_name(s)
}
