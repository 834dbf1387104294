//! The collections functions of Terraform's library.
//!
//! Implementations receive known, unmarked, already-converted arguments (see the call
//! machinery in `functions/mod.rs`) and must never log argument values.

use super::Registry;

pub(super) fn register(_r: &mut Registry) {}
