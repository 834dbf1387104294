//! Connecting to a real PostgreSQL server: the schema is made and used, and a bad password's
//! error names the database without the password.

use baton_backend::location::PgTarget;
use baton_backend::pg;
use baton_backend::testing::TestServer;

#[test]
fn a_connection_makes_and_uses_its_schema() {
    let server = TestServer::shared().expect("a PostgreSQL server for tests");
    let schema = server.fresh_schema("connect");
    let target = PgTarget::parse(server.url(), Some(&schema)).expect("target");
    let mut c = pg::connect(&target).expect("connect");
    let row = c.query_one("SELECT current_schema()", &[]).expect("query");
    let got: String = row.get(0);
    assert_eq!(got, schema);
}

#[test]
fn an_unreachable_server_is_an_error_without_the_password() {
    // A port nothing listens on (taken, then released).
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("port");
    let target = PgTarget::parse(
        &format!("postgresql://baton:hunter2@127.0.0.1:{port}/postgres?connect_timeout=1"),
        None,
    )
    .expect("target");
    let Err(err) = pg::connect(&target) else {
        panic!("nothing listens there")
    };
    let err = err.to_string();
    assert!(!err.contains("hunter2"), "{err}");
    assert!(err.contains(&format!("127.0.0.1:{port}")), "{err}");
}
