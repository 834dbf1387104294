//! The state store conformance suite (the same checks the SQLite store passes) against the
//! PostgreSQL store: each check opens new `PgStore` handles on one fresh schema of its own in
//! the shared test server.
//!
//! Must only use the store through `baton_state::StateStore`, as the suite does.

use baton_backend::location::PgTarget;
use baton_backend::pg::state::PgStore;
use baton_backend::testing::TestServer;
use baton_state::StateStore;

/// An opener of new handles on a fresh schema.
fn new_database() -> Box<dyn Fn() -> Box<dyn StateStore>> {
    let server = TestServer::shared().expect("a PostgreSQL server for tests");
    let schema = server.fresh_schema("conformance");
    let target = PgTarget::parse(server.url(), Some(&schema)).expect("a target");
    Box::new(move || Box::new(PgStore::open(&target).expect("open the PostgreSQL state store")))
}

baton_state::state_store_conformance!(new_database());
