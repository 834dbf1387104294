//! Baton's client for Terraform's provider plugin protocol: start a provider executable with
//! the go-plugin handshake (magic cookie, protocol versions 5 and 6, automatic mTLS), talk gRPC
//! to it over its Unix socket, and turn what it says into Baton's types.
//!
//! This crate knows nothing of the engine or of Baton's configuration, and does not decide where
//! providers are installed: it is given an executable and answers in typed values and typed
//! errors ([`PluginError`]). It must not print: the provider's stderr is captured and carried in
//! errors. Its pure-logic helpers read Terraform's lock file and CLI configuration
//! ([`lockfile`], [`cliconfig`]) without acting on them.

pub mod adapter;
pub mod cliconfig;
pub mod error;
pub mod handshake;
pub mod lockfile;
pub mod msgpack;
pub mod process;
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
pub use schema::{
    Attribute, Block, FunctionSignature, NestedBlock, Nesting, ProviderSchema, TypeSchema,
};
