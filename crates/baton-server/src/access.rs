//! Who may do what: the permission each route needs and the one table of which role holds
//! which permission.
//!
//! Roles are not a ladder: separation of duties means an approver approves without being
//! able to start or undo runs, and an operator runs without being able to approve. Only an
//! admin holds everything. Must not read tokens or requests: that is `auth`'s job.

use baton_state::Role;
use serde::Serialize;

/// What a call does, as far as access is concerned.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Permission {
    /// Read runs, journals, audit records, metrics, the API document.
    Read,
    /// Start, apply, cancel, resume or roll back a run.
    Run,
    /// Approve or reject a step that waits for a person.
    Approve,
    /// Manage tokens and the agent itself.
    Admin,
}

impl Permission {
    pub const ALL: [Permission; 4] = [
        Permission::Read,
        Permission::Run,
        Permission::Approve,
        Permission::Admin,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Permission::Read => "read",
            Permission::Run => "run",
            Permission::Approve => "approve",
            Permission::Admin => "admin",
        }
    }
}

/// The permission table:
///
/// | permission | viewer | operator | approver | admin |
/// |---|---|---|---|---|
/// | read | yes | yes | yes | yes |
/// | run (run, apply, cancel, resume, rollback) | no | yes | no | yes |
/// | approve (approve, reject) | no | no | yes | yes |
/// | admin (tokens, the agent) | no | no | no | yes |
pub fn allows(role: Role, p: Permission) -> bool {
    match p {
        Permission::Read => true,
        Permission::Run => matches!(role, Role::Operator | Role::Admin),
        Permission::Approve => matches!(role, Role::Approver | Role::Admin),
        Permission::Admin => role == Role::Admin,
    }
}

/// Every permission `role` holds, in [`Permission::ALL`]'s order.
pub fn permissions(role: Role) -> Vec<Permission> {
    Permission::ALL
        .into_iter()
        .filter(|p| allows(role, *p))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_permission_table() {
        use Permission::*;
        let table: Vec<(Role, Vec<Permission>)> =
            Role::ALL.into_iter().map(|r| (r, permissions(r))).collect();
        assert_eq!(
            table,
            vec![
                (Role::Viewer, vec![Read]),
                (Role::Operator, vec![Read, Run]),
                (Role::Approver, vec![Read, Approve]),
                (Role::Admin, vec![Read, Run, Approve, Admin]),
            ]
        );
    }

    #[test]
    fn no_role_but_admin_administers_and_nobody_both_runs_and_approves_but_admin() {
        for r in Role::ALL {
            assert_eq!(allows(r, Permission::Admin), r == Role::Admin, "{r}");
            if r != Role::Admin {
                assert!(
                    !(allows(r, Permission::Run) && allows(r, Permission::Approve)),
                    "{r} may both run and approve"
                );
            }
        }
    }
}
