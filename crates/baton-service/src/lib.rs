//! Supervised services (issue 14): the desired form of a service ([`spec`]), the drivers that
//! start and stop its replicas ([`driver`], [`exec`] for process groups; containers behind the
//! same trait), and — built on them — the health checks ([`health`]), the restart schedule
//! ([`restart`]), and the agent's reconcile loop with rolling updates and automatic revert
//! ([`supervisor`]). See `docs/services.md`.
//!
//! The `service` resource type ([`resource`]) decodes a configuration into a
//! [`spec::ServiceSpec`] and hands it to the agent (`baton serve`) through the stack's service board, kept in its store
//! ([`handoff`]); the rest of the crate knows nothing of the
//! configuration language, plans or the state store.
//! It must never block the caller's thread on a replica (drivers return at once; waiting is the
//! loop's job) and never lose track of a replica it started (each is recorded by a driver-given
//! id from which a restarted agent can adopt it).

pub mod docker;
pub mod driver;
pub mod env;
pub mod exec;
pub mod handoff;
pub mod health;
pub mod resource;
pub mod restart;
pub mod spec;
pub mod supervisor;
pub mod testing;
