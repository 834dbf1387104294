//! Baton's client for Terraform's provider plugin protocol: start a provider executable with
//! the go-plugin handshake (magic cookie, protocol versions 5 and 6, automatic mTLS), talk gRPC
//! to it over its Unix socket, and turn what it says into Baton's types.
//!
//! The protocol client knows nothing of the engine and does not decide where providers are
//! installed: it is given an executable and answers in typed values and typed errors
//! ([`PluginError`]). Nothing in this crate prints: the provider's stderr is captured and
//! carried in errors. [`lockfile`] and [`cliconfig`] read Terraform's lock file and CLI
//! configuration without acting on them; [`install`] acts on them: it reads a
//! configuration's `required_providers`, finds installed providers and installs them from local
//! mirrors, and from network mirrors and registries through a caller's [`install::Fetch`]
//! (`baton init`); this crate holds no HTTP client. [`adapter`] puts a running plugin behind Baton's provider contract,
//! and [`resolve`] builds a configuration's provider set from the built-in one and the
//! installed plugins.

pub mod adapter;
pub mod cliconfig;
pub mod error;
pub mod handshake;
pub mod install;
pub mod lockfile;
pub mod msgpack;
pub mod process;
pub mod resolve;
pub mod schema;
mod tls;
mod wire;

pub use adapter::{Host, PluginProvider};
pub use error::PluginError;
pub use handshake::{Handshake, Network, Protocol};
pub use process::{
    AppliedChange, ApplyRequest, Ended, Imported, PlanRequest, PlannedChange, ProviderProcess,
    StartOpts,
};
pub use resolve::Resolver;
pub use schema::{
    Attribute, Block, FunctionSignature, NestedBlock, Nesting, ProviderSchema, TypeSchema,
};
