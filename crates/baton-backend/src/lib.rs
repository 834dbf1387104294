//! Where Baton's records live beyond the embedded default: the PostgreSQL stores (the state
//! store, the workflow run store and the work queue workers claim from), choosing a store
//! from a `--store` URL, `BATON_STORE` or a `backend` block ([`location`], [`select`]), and a
//! throwaway PostgreSQL server for tests ([`testing`]).
//!
//! Architecture invariant: the PostgreSQL stores implement the same traits as the SQLite ones
//! (`baton_state::StateStore`, `baton_state::WorkflowStore`) and pass the same conformance
//! suites; nothing above this crate knows which one it holds. Connection strings carry
//! credentials: they are only ever shown through [`location::Location::describe`], which
//! leaves the password out.

pub mod location;
pub mod pg;
pub mod select;
pub mod testing;

pub use location::Location;
pub use select::{choose, locate, Chosen, Located, Overrides};
