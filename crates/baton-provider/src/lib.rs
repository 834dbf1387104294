//! The provider contract and the built-in providers.
//!
//! A provider knows *how* to reach a desired state for a family of resource types: it
//! declares schemas, validates configuration, plans a change (what changes, what is known only
//! after apply, what forces a replacement), applies it, reads the real object (refresh and
//! drift) and imports existing objects. The contract mirrors Terraform's provider protocol so
//! that an adapter for real Terraform providers fits behind it later.
//!
//! Which providers exist is a value, a [`Registry`]: the built-in set ([`Registry::builtin`])
//! or any other a caller builds. A provider's own settings — the configuration's
//! `provider "NAME" { ... }` block, checked against the schema its registry declares and
//! evaluated by the engine — reach every call but `validate` in [`ProviderCtx::config`]
//! (Terraform configures a provider before every call but validation). The built-in
//! providers take no settings. A provider may also offer functions ([`ProviderFunction`],
//! listed in the registry by provider and name), called as `provider::NAME::FN(...)`.
//!
//! Architecture invariant: providers never see configuration syntax, state storage or the
//! graph; they receive values and return values or typed failures (retryable or permanent).

pub mod builtin;
pub mod exec;
pub mod function;
pub mod plan;
pub mod registry;
pub mod schema;
#[cfg(any(test, feature = "testkit"))]
pub mod testkit;

use baton_eval::{PathStep, Value};
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

pub use function::{FnError, Param, ProviderFunction, Signature};
pub use registry::{registry, ProviderInfo, Registry};
pub use schema::{Attr, NestedBlock, Nesting, Schema};

/// Whether retrying the same request may succeed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ErrorKind {
    /// Transient: timeouts, connection refused, throttling, a busy resource.
    Retryable,
    /// Retrying the same request will fail the same way.
    Permanent,
}

/// A provider failure with a message for the user. It must not contain sensitive values.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{summary}: {detail}")]
pub struct ProviderError {
    pub kind: ErrorKind,
    pub summary: String,
    pub detail: String,
    /// The attribute the failure concerns, if one.
    pub attr: Option<String>,
}

impl ProviderError {
    pub fn permanent(summary: impl Into<String>, detail: impl Into<String>) -> ProviderError {
        ProviderError {
            kind: ErrorKind::Permanent,
            summary: summary.into(),
            detail: detail.into(),
            attr: None,
        }
    }
    pub fn retryable(summary: impl Into<String>, detail: impl Into<String>) -> ProviderError {
        ProviderError {
            kind: ErrorKind::Retryable,
            ..ProviderError::permanent(summary, detail)
        }
    }
    pub fn on_attr(mut self, attr: &str) -> ProviderError {
        self.attr = Some(attr.to_string());
        self
    }
    /// Classifies an I/O error: interrupted, timed out, would-block and similar are retryable.
    pub fn from_io(summary: impl Into<String>, e: &std::io::Error) -> ProviderError {
        use std::io::ErrorKind as K;
        let kind = match e.kind() {
            K::Interrupted
            | K::TimedOut
            | K::WouldBlock
            | K::ConnectionRefused
            | K::ConnectionReset
            | K::ConnectionAborted
            | K::ResourceBusy => ErrorKind::Retryable,
            _ => ErrorKind::Permanent,
        };
        ProviderError {
            kind,
            summary: summary.into(),
            detail: e.to_string(),
            attr: None,
        }
    }
}

/// A validation finding about one attribute of a configuration.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AttrDiag {
    /// The attribute (top-level name) it concerns, or `None` for the whole block.
    pub attr: Option<String>,
    pub error: bool,
    pub summary: String,
    pub detail: String,
}

impl AttrDiag {
    pub fn error(
        attr: Option<&str>,
        summary: impl Into<String>,
        detail: impl Into<String>,
    ) -> AttrDiag {
        AttrDiag {
            attr: attr.map(str::to_string),
            error: true,
            summary: summary.into(),
            detail: detail.into(),
        }
    }
    pub fn warning(
        attr: Option<&str>,
        summary: impl Into<String>,
        detail: impl Into<String>,
    ) -> AttrDiag {
        AttrDiag {
            error: false,
            ..AttrDiag::error(attr, summary, detail)
        }
    }
}

/// What a provider may know about where and how it runs.
#[derive(Clone, Debug)]
pub struct ProviderCtx {
    /// The directory relative paths resolve against (Baton's working directory).
    pub cwd: PathBuf,
    /// Set when the run is interrupted; long operations should stop and fail.
    pub cancel: Arc<AtomicBool>,
    /// The time limit for this operation, from a `timeouts` block or the provider default.
    pub timeout: Option<Duration>,
    /// The run this operation belongs to: every command started for it carries the id in
    /// [`exec::RUN_ENV`], so a later resume or rollback can find the ones a crash left running.
    /// `None` outside a run (plan, refresh).
    pub run_id: Option<String>,
    /// Held while a provider that runs one command at a time (the shell provider, like the
    /// community provider without `enable_parallelism`) runs one. One per run: clones share
    /// it, two runs in one process do not wait for each other.
    pub one_at_a_time: Arc<Mutex<()>>,
    /// The provider's settings: the configuration's `provider "NAME" { ... }` block of the
    /// provider this call is for, evaluated against the provider's schema
    /// ([`Registry::provider`]; unset arguments null, no sensitive marks). `None` when the
    /// configuration has no such block (or the call is made without a configuration).
    pub config: Option<Value>,
    /// The address of the object an apply call is for (`service.web`, `module.m.x.y[0]`),
    /// for resource types whose real object is named after it (the `service` type). `None`
    /// outside an apply call.
    pub addr: Option<String>,
    /// The stack environment's service board (where the `service` type hands services to
    /// the agent), opened by the caller from the stack's store. `None`: the type uses the
    /// default board of `cwd` (`.baton/services.db`).
    pub board: Option<Arc<dyn baton_core::board::ServiceBoard>>,
}

impl ProviderCtx {
    pub fn new(cwd: PathBuf) -> ProviderCtx {
        ProviderCtx {
            cwd,
            cancel: Arc::new(AtomicBool::new(false)),
            timeout: None,
            run_id: None,
            one_at_a_time: Arc::new(Mutex::new(())),
            config: None,
            addr: None,
            board: None,
        }
    }
    pub fn is_cancelled(&self) -> bool {
        self.cancel.load(Ordering::SeqCst)
    }
    pub fn resolve(&self, p: &str) -> PathBuf {
        let path = PathBuf::from(p);
        if path.is_absolute() {
            path
        } else {
            self.cwd.join(path)
        }
    }
}

/// Input to planning a change of one managed object.
pub struct PlanRequest<'a> {
    /// The object as last read (`None` when it is to be created).
    pub prior: Option<&'a Value>,
    /// The evaluated configuration (unknowns possible; unset attributes null).
    pub config: &'a Value,
    /// Configuration merged with prior computed values and schema defaults (see [`plan::proposed_new`]).
    pub proposed: Value,
    /// Where and how the provider runs, with its settings ([`ProviderCtx::config`]).
    pub ctx: &'a ProviderCtx,
}

pub struct PlanResponse {
    /// The object after the change, with unknowns for what is known only after apply.
    pub planned: Value,
    /// Attributes whose change requires replacing the object.
    pub requires_replace: Vec<Vec<PathStep>>,
    /// What the user should know about this change that does not stop it (for example that
    /// a rollback could not restore what the change replaces). Shown by `plan` as warnings
    /// naming the resource.
    pub warnings: Vec<PlanWarning>,
}

/// A warning about one planned change: a short summary and a detail, never a sensitive value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PlanWarning {
    pub summary: String,
    pub detail: String,
}

/// Input to applying a planned change of one managed object.
pub struct ApplyRequest<'a> {
    pub prior: Option<&'a Value>,
    /// `None` to delete the object.
    pub planned: Option<&'a Value>,
    pub config: &'a Value,
    pub ctx: &'a ProviderCtx,
}

/// The object a cross-type move takes over ([`ResourceType::move_from`]).
pub struct MoveSource<'a> {
    /// The source address of the provider that managed it (`registry.terraform.io/hashicorp/aws`).
    pub provider: &'a str,
    pub type_name: &'a str,
    /// The schema version its state was recorded under.
    pub schema_version: u32,
    pub state: &'a Value,
}

/// A managed resource type.
pub trait ResourceType: Send + Sync {
    fn type_name(&self) -> &'static str;
    fn schema(&self) -> &Schema;
    /// Checks a configuration beyond types (conflicting arguments, formats).
    fn validate(&self, _config: &Value) -> Vec<AttrDiag> {
        Vec::new()
    }
    fn plan(&self, req: PlanRequest<'_>) -> Result<PlanResponse, ProviderError> {
        Ok(plan::default_plan(self.schema(), &req))
    }
    /// Called once before a walk reads or changes `objects` of this type (the recorded
    /// objects before a refresh, the planned ones before an apply): a chance to start slow
    /// set-up in the background, such as connecting to every host at once rather than as the
    /// walk reaches each. It must return at once and cannot fail: the calls that follow
    /// report what goes wrong. Values may hold unknowns.
    fn prepare(&self, _objects: &[&Value]) {}
    /// Creates, updates or deletes. Returns the new object (`None` after a delete).
    fn apply(&self, req: ApplyRequest<'_>) -> Result<Option<Value>, ProviderError>;
    /// Reads the real object. `None` means it no longer exists.
    fn read(&self, ctx: &ProviderCtx, state: &Value) -> Result<Option<Value>, ProviderError>;
    /// Looks for the object a create whose outcome was lost may have made (the process died
    /// while the create ran), so a resumed run adopts it instead of creating it twice.
    /// `planned` is the planned new object. Returns the object as the create would have
    /// returned it, or `None` when there is none, or when creating again is harmless (the
    /// default: the create runs again).
    fn find(&self, _ctx: &ProviderCtx, _planned: &Value) -> Result<Option<Value>, ProviderError> {
        Ok(None)
    }
    /// Whether recreating a deleted object from its recorded attributes restores it fully (a
    /// rollback warns before deleting objects of types where it does not).
    fn restorable(&self) -> bool {
        true
    }

    /// Brings an object state recorded under schema `version`, older than the type's
    /// [`Schema::version`], to the current schema (Terraform's UpgradeResourceState). Called
    /// before the object is read or planned. The default returns it unchanged: built-in
    /// types have one schema version.
    fn upgrade(
        &self,
        _ctx: &ProviderCtx,
        _version: u32,
        prior: &Value,
    ) -> Result<Value, ProviderError> {
        Ok(prior.clone())
    }

    /// Takes over an object of another resource type (a `moved` block from `source.type_name`
    /// to this type; Terraform's MoveResourceState): returns it as an object of this type.
    /// The default refuses, as Terraform does for providers that do not offer it.
    fn move_from(
        &self,
        _ctx: &ProviderCtx,
        source: MoveSource<'_>,
    ) -> Result<Value, ProviderError> {
        Err(ProviderError::permanent(
            "Move Resource State Not Supported",
            format!(
                "The \"{}\" resource type does not support moving resource state across resource types (from \"{}\").",
                self.type_name(),
                source.type_name
            ),
        ))
    }

    /// Reads an existing object by its id so it can be adopted into state.
    fn import(&self, _ctx: &ProviderCtx, id: &str) -> Result<Value, ProviderError> {
        Err(ProviderError::permanent(
            "Import not supported",
            format!(
                "Resource type {} does not support import (id {id:?}).",
                self.type_name()
            ),
        ))
    }
}

/// A data source type.
pub trait DataSourceType: Send + Sync {
    fn type_name(&self) -> &'static str;
    fn schema(&self) -> &Schema;
    fn validate(&self, _config: &Value) -> Vec<AttrDiag> {
        Vec::new()
    }
    fn read(&self, ctx: &ProviderCtx, config: &Value) -> Result<Value, ProviderError>;
}
