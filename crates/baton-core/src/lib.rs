//! Baton's leaf vocabulary: source files and spans, diagnostics, and the addresses of
//! configuration objects and resource instances.
//!
//! This crate imports nothing else of Baton and performs no I/O beyond what callers hand it:
//! every other crate may depend on it, so it must stay small and free of policy.

pub mod addr;
pub mod board;
pub mod diag;
pub mod duration;
pub mod gotext;
pub mod source;

pub use addr::{
    AddrParseError, InstanceAddr, InstanceKey, ModuleInstance, ModulePath, ResourceAddr,
    ResourceMode, Target,
};
pub use diag::{Diagnostic, Diagnostics, Severity};
pub use duration::DurationError;
pub use source::{FileId, Sources, Span};
