//! The API token store contract ([`TokenStore`]): named tokens with a role, kept only as the
//! SHA-256 of the token, for `baton serve`'s HTTP API; the roles themselves ([`Role`]); and
//! the conformance checks every token store passes ([`conformance`]).
//!
//! Must not see, keep or log a token in clear: callers hash it first (the server crate makes
//! and hashes tokens); a store compares digests only. Must not decide what a role may do:
//! that table is the server's.

use crate::store::StateError;
use serde::{Deserialize, Serialize};

/// Who a token speaks for. Roles are not a ladder: an approver may approve but not start or
/// undo runs, an operator may run but not approve (see the server's permission table).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    Viewer,
    Operator,
    Approver,
    Admin,
}

impl Role {
    /// Every role, in the order they are documented.
    pub const ALL: [Role; 4] = [Role::Viewer, Role::Operator, Role::Approver, Role::Admin];

    pub fn as_str(self) -> &'static str {
        match self {
            Role::Viewer => "viewer",
            Role::Operator => "operator",
            Role::Approver => "approver",
            Role::Admin => "admin",
        }
    }

    /// The role named `s` (`viewer`, `operator`, `approver`, `admin`).
    pub fn parse(s: &str) -> Option<Role> {
        Role::ALL.into_iter().find(|r| r.as_str() == s)
    }
}

impl std::fmt::Display for Role {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A token as stored: never the token itself.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct TokenRecord {
    /// Unique among the store's tokens.
    pub name: String,
    pub role: Role,
    /// Hex SHA-256 of the token (64 lowercase hex digits).
    pub hash: String,
    /// RFC 3339 UTC.
    pub created_at: String,
}

/// Where API tokens are kept: beside a stack's store (`.baton/tokens.db`, or a table in the
/// PostgreSQL schema). Share one handle between threads.
pub trait TokenStore: Send + Sync {
    /// Where the tokens are, for messages (never a password).
    fn describe(&self) -> String;

    /// Adds a token. `Ok(false)`: a token of that name exists already; nothing changed.
    fn create(&self, token: &TokenRecord) -> Result<bool, StateError>;

    /// Every token, by name.
    fn list(&self) -> Result<Vec<TokenRecord>, StateError>;

    /// The token whose hash is `hash`, if any.
    fn find(&self, hash: &str) -> Result<Option<TokenRecord>, StateError>;

    /// Removes the token named `name`: it stops working at once. `Ok(false)`: no such token.
    fn revoke(&self, name: &str) -> Result<bool, StateError>;
}

/// The checks every [`TokenStore`] passes, on an empty store. Panics (with what failed) on the
/// first failure, as a test does.
pub fn conformance(store: &dyn TokenStore) {
    let rec = |name: &str, role: Role, digit: char| TokenRecord {
        name: name.to_string(),
        role,
        hash: std::iter::repeat_n(digit, 64).collect(),
        created_at: "2026-01-02T03:04:05Z".to_string(),
    };
    let list = |s: &dyn TokenStore| s.list().unwrap_or_else(|e| panic!("list: {e}"));
    assert!(list(store).is_empty(), "a new store lists no tokens");
    let alice = rec("alice", Role::Viewer, 'a');
    let bob = rec("bob", Role::Admin, 'b');
    assert_eq!(store.create(&bob).ok(), Some(true), "create bob");
    assert_eq!(store.create(&alice).ok(), Some(true), "create alice");
    assert_eq!(
        store.create(&rec("alice", Role::Admin, 'c')).ok(),
        Some(false),
        "a second token named alice is refused"
    );
    assert_eq!(
        list(store),
        vec![alice.clone(), bob.clone()],
        "listed by name"
    );
    assert_eq!(store.find(&alice.hash).ok(), Some(Some(alice.clone())));
    assert_eq!(
        store.find(&"c".repeat(64)).ok(),
        Some(None),
        "the refused token was not stored"
    );
    assert_eq!(store.revoke("alice").ok(), Some(true), "revoke alice");
    assert_eq!(store.revoke("alice").ok(), Some(false), "revoke twice");
    assert_eq!(
        store.find(&alice.hash).ok(),
        Some(None),
        "a revoked token is gone"
    );
    assert_eq!(list(store), vec![bob.clone()]);
    // The name is free again.
    assert_eq!(
        store.create(&rec("alice", Role::Operator, 'd')).ok(),
        Some(true)
    );
    assert_eq!(
        store.find(&"d".repeat(64)).ok().flatten().map(|t| t.role),
        Some(Role::Operator)
    );
}
