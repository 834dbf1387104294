//! The PostgreSQL service board against a real server: the board conformance suite (the same
//! checks the SQLite board passes), each check on a fresh schema with new handles per `open`.
//!
//! Must only touch schemas it names itself (`TestServer::fresh_schema`).

use baton_backend::location::PgTarget;
use baton_backend::pg::services::PgBoard;
use baton_backend::testing::TestServer;
use baton_core::board::ServiceBoard;

/// An opener for a fresh, empty board schema: each call a new handle on it.
fn new_board() -> Box<dyn Fn() -> Box<dyn ServiceBoard>> {
    let server = TestServer::shared().expect("a PostgreSQL server for tests");
    let target =
        PgTarget::parse(server.url(), Some(&server.fresh_schema("board"))).expect("target");
    Box::new(move || Box::new(PgBoard::open(&target).expect("open the PostgreSQL board")))
}

mod conformance {
    baton_state::board_conformance!(super::new_board());
}
