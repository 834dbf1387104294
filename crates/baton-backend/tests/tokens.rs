//! The PostgreSQL API token store against a real server: the token conformance checks (the
//! same the SQLite store passes), on a fresh schema.
//!
//! Must only touch schemas it names itself (`TestServer::fresh_schema`).

use baton_backend::location::PgTarget;
use baton_backend::pg::tokens::PgTokens;
use baton_backend::testing::TestServer;

#[test]
fn passes_the_token_conformance_checks() {
    let server = TestServer::shared().expect("a PostgreSQL server for tests");
    let target =
        PgTarget::parse(server.url(), Some(&server.fresh_schema("tokens"))).expect("target");
    let store = PgTokens::open(&target).expect("open the PostgreSQL token store");
    baton_state::tokens::conformance(&store);
    // A second handle sees what the first wrote.
    let again = PgTokens::open(&target).expect("open again");
    assert_eq!(
        baton_state::TokenStore::list(&again).expect("list").len(),
        2
    );
}
