//! Remote hosts for configuration management (issue 13): running commands on hosts over SSH.
//!
//! `ssh` drives the system OpenSSH client; `resources` are the resource types that act on a
//! host through it (`remote_file`, `remote_command`, and the connection block with its
//! `become`), `native` more of them (`remote_directory`, `remote_line`, `remote_user`),
//! `package` `remote_package` (apt and dnf), `service` `remote_service` (systemd or SysV
//! init, restarted when a listed value changes), `ansible` `ansible_module` (any Ansible
//! module, run through Ansible's own CLI; `ansible::runner` is the one `ansible-playbook` run
//! that the workflows' playbook step uses too) and `playbook` `ansible_playbook` (an existing
//! playbook), all registered into a provider set with
//! [`register`]; `inventory` reads Ansible inventories (the `ansible_inventory`
//! data source); `testing` starts throwaway `sshd` servers for tests and provides
//! ansible-core. This crate
//! knows nothing of plans, state or the configuration language beyond its types' schemas: the
//! engine calls the resource types as it calls every provider. It must never prompt, and
//! never print or log key material.

pub mod ansible;
mod channel;
mod fileread;
pub mod inventory;
pub mod native;
pub mod package;
pub mod playbook;
pub mod resources;
pub mod service;
pub mod shell;
pub mod ssh;
pub mod testing;

/// Adds the remote types to `r`.
pub fn register(r: &mut baton_provider::Registry) {
    r.add_resource(
        resources::PROVIDER,
        std::sync::Arc::new(resources::RemoteFile::new()),
    );
    r.add_resource(
        resources::PROVIDER,
        std::sync::Arc::new(resources::RemoteCommand::new()),
    );
    r.add_resource(
        resources::PROVIDER,
        std::sync::Arc::new(native::RemoteDirectory::new()),
    );
    r.add_resource(
        resources::PROVIDER,
        std::sync::Arc::new(native::RemoteLine::new()),
    );
    r.add_resource(
        resources::PROVIDER,
        std::sync::Arc::new(native::RemoteUser::new()),
    );
    r.add_resource(
        resources::PROVIDER,
        std::sync::Arc::new(package::RemotePackage::new()),
    );
    r.add_resource(
        resources::PROVIDER,
        std::sync::Arc::new(service::RemoteService::new()),
    );
    r.add_data_source(
        resources::PROVIDER,
        std::sync::Arc::new(inventory::AnsibleInventory::new()),
    );
    r.add_resource(
        resources::PROVIDER,
        std::sync::Arc::new(ansible::AnsibleModule::new()),
    );
    r.add_resource(
        resources::PROVIDER,
        std::sync::Arc::new(playbook::AnsiblePlaybook::new()),
    );
}
