//! Remote hosts for configuration management (issue 13): running commands on hosts over SSH.
//!
//! `ssh` drives the system OpenSSH client; `testing` starts throwaway `sshd` servers for tests.
//! This crate knows nothing of the configuration language, plans or state: it takes a
//! [`ssh::Connection`] (plain data) and runs scripts. It must never prompt, and never print or
//! log key material.

pub mod ssh;
pub mod testing;
