//! Remote hosts for configuration management (issue 13): running commands on hosts over SSH.
//!
//! `ssh` drives the system OpenSSH client; `resources` are the resource types that act on a
//! host through it (`remote_file`, `remote_command`), registered into a provider set with
//! [`resources::register`] together with `ansible`'s `ansible_module` (any Ansible module, run
//! through Ansible's own `ansible` CLI); `testing` starts throwaway `sshd` servers for tests
//! and provides ansible-core. This crate
//! knows nothing of plans, state or the configuration language beyond its types' schemas: the
//! engine calls the resource types as it calls every provider. It must never prompt, and
//! never print or log key material.

pub mod ansible;
pub mod resources;
pub mod ssh;
pub mod testing;
