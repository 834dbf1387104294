//! Baton's plugin client (`baton-plugin`) against the test provider: handshake with automatic
//! mTLS, GetProviderSchema, the conversion into Baton's schema, and a clean stop.
//!
//! Lives here, not in `baton-plugin`, because only this package can name the provider binary
//! (`CARGO_BIN_EXE_…`) without building anything extra.

use std::time::Duration;

use baton_eval::Type;
use baton_plugin::{Nesting, Protocol, ProviderProcess, StartOpts};

const PROVIDER: &str = env!("CARGO_BIN_EXE_terraform-provider-batontest");

#[tokio::test]
async fn schema_of_the_test_provider() {
    let mut p = ProviderProcess::start(&StartOpts::new(PROVIDER))
        .await
        .expect("provider starts");
    assert_eq!(p.protocol(), Protocol::V6);
    let schema = p.schema().await.expect("schema");

    let thing = &schema.resources["batontest_thing"];
    let attrs = &thing.block.attributes;
    assert!(attrs["name"].required && !attrs["name"].sensitive);
    assert_eq!(attrs["name"].ty, Type::String);
    assert!(attrs["secret"].optional && attrs["secret"].sensitive);
    assert!(attrs["id"].computed && !attrs["id"].optional);
    let tag = &thing.block.blocks["tag"];
    assert_eq!(tag.nesting, Nesting::List);
    assert!(tag.block.attributes["key"].required);
    assert!(tag.block.attributes["value"].optional);

    let echo = &schema.data_sources["batontest_echo"];
    assert!(echo.block.attributes["input"].required);
    assert!(echo.block.attributes["output"].computed);
    assert_eq!(schema.resources.len(), 1);
    assert_eq!(schema.data_sources.len(), 1);

    // Baton's schema: the same attributes, and the object type the engine will use.
    let baton = thing.to_baton();
    assert!(baton.attrs["secret"].sensitive);
    assert!(baton.attrs["name"].required);
    assert_eq!(baton.blocks["tag"].nesting, baton_provider::Nesting::List);
    assert_eq!(
        baton.object_type().to_json().to_string(),
        r#"["object",{"id":"string","name":"string","secret":"string","tag":["list",["object",{"key":"string","value":"string"}]]}]"#
    );

    p.stop(Duration::from_secs(2)).await.expect("clean stop");
}

#[tokio::test]
async fn the_provider_process_ends_when_dropped() {
    let p = ProviderProcess::start(&StartOpts::new(PROVIDER))
        .await
        .expect("provider starts");
    drop(p);
    // kill_on_drop: nothing to assert beyond not hanging; a second start still works.
    let p = ProviderProcess::start(&StartOpts::new(PROVIDER))
        .await
        .expect("provider starts again");
    p.stop(Duration::from_millis(500))
        .await
        .expect("clean stop");
}
