//! The SQLite service board against the shared board conformance suite (the checks the
//! PostgreSQL board passes), plus what only the file has: nothing is created by reads, and a
//! state database is refused.
//!
//! Every test works in its own temporary directory.

use baton_core::board::ServiceBoard;
use baton_state::{SqliteBoard, SqliteStore};

/// An opener for a fresh board file in a temporary directory, removed with the opener.
fn new_board() -> Box<dyn Fn() -> Box<dyn ServiceBoard>> {
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join(".baton").join("services.db");
    Box::new(move || {
        let _keep = &dir;
        Box::new(SqliteBoard::new(&path))
    })
}

mod board_conformance {
    baton_state::board_conformance!(super::new_board());
}

#[test]
fn reads_create_nothing() {
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join(".baton").join("services.db");
    let b = SqliteBoard::new(&path);
    assert!(b.desired().expect("desired").is_empty());
    assert!(b.agent().expect("agent").is_none());
    assert!(b.status().expect("status").is_none());
    b.remove_desired("web").expect("remove");
    assert!(!path.exists(), "a read created {}", path.display());
    assert!(!dir.path().join(".baton").exists());
}

#[test]
fn a_state_database_is_not_a_board() {
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("state.db");
    SqliteStore::open(&path).expect("a state database");
    let err = SqliteBoard::new(&path)
        .desired()
        .expect_err("a state database must be refused");
    assert!(
        err.to_string()
            .contains("not a Baton service board database"),
        "{err}"
    );
}

#[test]
fn the_board_sits_beside_the_state_file() {
    let p = baton_state::board_sqlite::beside(std::path::Path::new("/srv/s/.baton/state.db"));
    assert_eq!(p, std::path::Path::new("/srv/s/.baton/services.db"));
}
