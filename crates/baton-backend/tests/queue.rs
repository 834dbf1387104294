//! The PostgreSQL work queue against a real server: the queue conformance suite (the same
//! checks the SQLite queue passes), each check on a fresh schema with new handles per `open`.
//!
//! Must only touch schemas it names itself (`TestServer::fresh_schema`).

use baton_backend::location::PgTarget;
use baton_backend::pg::queue::PgQueue;
use baton_backend::testing::TestServer;
use baton_state::queue::WorkQueue;

/// An opener for a fresh, empty queue schema: each call a new handle on it.
fn new_queue() -> Box<dyn Fn() -> Box<dyn WorkQueue>> {
    let server = TestServer::shared().expect("a PostgreSQL server for tests");
    let target =
        PgTarget::parse(server.url(), Some(&server.fresh_schema("queue"))).expect("target");
    Box::new(move || Box::new(PgQueue::open(&target).expect("open the PostgreSQL queue")))
}

mod conformance {
    baton_state::queue_conformance!(super::new_queue());
}
