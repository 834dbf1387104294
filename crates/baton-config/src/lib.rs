//! Reads the Terraform language: the `*.tf` files of a directory into the configuration as
//! written — blocks, unevaluated expressions and source spans — plus diagnostics.
//!
//! Architecture invariant: loading never stops at the first error and never evaluates an
//! expression; a file with a syntax error is reported and skipped, the rest still load.

pub mod ast;
pub mod backend;
pub mod fmt;
pub mod fs;
pub mod model;
pub mod settings;
pub mod syntax;

pub use ast::{BinaryOp, Expr, ExprKind, ForExpr, ObjectKey, TemplatePart, TraversalStep, UnaryOp};
pub use backend::Backend;
pub use model::{
    load_config, load_config_with, load_module, Check, CheckRule, Config, ConfigFs, IgnoreChanges,
    Import, Lifecycle, Local, MemFs, Module, ModuleCall, Moved, OnFailure, Output, ProviderBlock,
    ProviderRef, Provisioner, ProvisionerWhen, RealFs, Removed, Resource, TerraformSettings,
    Variable,
};
pub use settings::{
    BatonSettings, Executor, FailurePolicy, Reconcile, Retry, Timeouts, UnknownFailurePolicy,
};
pub use syntax::{Attribute, Block, Body};
