//! Baton's plugin client (`baton-plugin`) against the test provider: handshake with automatic
//! mTLS, GetProviderSchema, the conversion into Baton's schema, the value calls, provider
//! configuration, state upgrades, provider functions, and a clean stop.
//!
//! Lives here, not in `baton-plugin`, because only this package can name the provider binary
//! (`CARGO_BIN_EXE_…`) without building anything extra.

use std::collections::BTreeMap;
use std::time::Duration;

use baton_eval::{PathStep, Type, Value};
use baton_plugin::{ApplyRequest, Nesting, PlanRequest, Protocol, ProviderProcess, StartOpts};

const PROVIDER: &str = env!("CARGO_BIN_EXE_terraform-provider-batontest");

#[tokio::test]
async fn schema_of_the_test_provider() {
    let p = ProviderProcess::start(&StartOpts::new(PROVIDER))
        .await
        .expect("provider starts");
    assert_eq!(p.protocol(), Protocol::V6);
    let schema = p.schema().await.expect("schema").clone();

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
    // Over protocol 6, also batontest_rules, with a nested attribute and a write-only one.
    assert_eq!(schema.resources.len(), 4);
    let rules = &schema.resources["batontest_rules"].block.attributes;
    assert!(rules["rules"].nested.is_some() && rules["token_wo"].write_only);
    assert_eq!(thing.version, 1);
    assert_eq!(schema.resources["batontest_item"].version, 0);
    assert!(
        schema.move_resource_state,
        "the provider offers MoveResourceState"
    );
    let file = &schema.resources["batontest_file"].block.attributes;
    assert!(file["path"].required && file["content"].required && file["id"].computed);
    assert!(schema.provider.block.attributes["prefix"].optional);
    assert_eq!(schema.data_sources.len(), 1);

    // Baton's schema: the same attributes, and the object type the engine will use.
    let baton = thing.to_baton();
    assert!(baton.attrs["secret"].sensitive);
    assert!(baton.attrs["name"].required);
    assert_eq!(baton.blocks["tag"].nesting, baton_provider::Nesting::List);
    assert_eq!(
        baton.object_type().to_json().to_string(),
        r#"["object",{"id":"string","name":"string","secret":"string","tag":["list",["object",{"key":"string","note":"string","ref":"string","value":"string"}]]}]"#
    );

    assert_eq!(
        p.stop(Duration::from_secs(5)).await.expect("clean stop"),
        baton_plugin::Ended::Exited
    );
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

/// Starts the provider and returns it with `batontest_thing`'s object type.
async fn start_with_thing_type(opts: StartOpts) -> (ProviderProcess, Type) {
    let p = ProviderProcess::start(&opts)
        .await
        .expect("provider starts");
    let ty = p.schema().await.expect("schema").resources["batontest_thing"]
        .to_baton()
        .object_type();
    (p, ty)
}

fn obj(attrs: &[(&str, Value)]) -> Value {
    Value::object(
        attrs
            .iter()
            .map(|(k, v)| (k.to_string(), v.clone()))
            .collect::<BTreeMap<_, _>>(),
    )
}

/// A `batontest_thing` value: as configured when `id` is null (the tag's computed `ref` null
/// too), as the provider made it otherwise (`ref-env`).
fn thing(name: &str, id: Value) -> Value {
    let tag_ty = Type::object(BTreeMap::from([
        ("key".to_string(), Type::String),
        ("value".to_string(), Type::String),
        ("note".to_string(), Type::String),
        ("ref".to_string(), Type::String),
    ]));
    let tag_ref = if id.is_null() {
        Value::null(Type::String)
    } else {
        Value::string("ref-env")
    };
    obj(&[
        ("id", id),
        ("name", Value::string(name)),
        ("secret", Value::string("hunter2")),
        (
            "tag",
            Value::list(
                tag_ty,
                vec![obj(&[
                    ("key", Value::string("env")),
                    ("value", Value::string("test")),
                    ("note", Value::null(Type::String)),
                    ("ref", tag_ref),
                ])],
            ),
        ),
    ])
}

#[tokio::test]
async fn plan_apply_read_and_destroy_round_trip() {
    round_trip(StartOpts::new(PROVIDER), Protocol::V6).await;
}

#[tokio::test]
async fn plan_apply_read_and_destroy_round_trip_over_protocol_5() {
    let mut opts = StartOpts::new(PROVIDER);
    opts.env = vec![("BATONTEST_PROTOCOL".to_string(), "5".to_string())];
    round_trip(opts, Protocol::V5).await;
}

async fn round_trip(opts: StartOpts, protocol: Protocol) {
    let p = ProviderProcess::start(&opts)
        .await
        .expect("provider starts");
    assert_eq!(p.protocol(), protocol);
    let schema = p.schema().await.expect("schema");
    assert!(schema.resources["batontest_thing"].block.attributes["secret"].sensitive);
    assert_eq!(
        schema.resources["batontest_thing"].block.blocks["tag"].nesting,
        Nesting::List
    );
    let ty = p.schema().await.expect("schema").resources["batontest_thing"]
        .to_baton()
        .object_type();
    p.configure(&Value::empty_object())
        .await
        .expect("configure");
    let null = Value::null(ty.clone());

    // Create: the id is unknown in the plan, known after apply.
    let config = thing("alpha", Value::null(Type::String));
    let plan = p
        .plan_resource_change(PlanRequest {
            type_name: "batontest_thing",
            prior: &null,
            proposed: &config,
            config: &config,
            prior_private: &[],
        })
        .await
        .expect("plan");
    let planned_id = plan.planned.get_attr("id").expect("id attribute");
    assert!(!planned_id.is_known(), "{planned_id:?}");
    assert!(plan.requires_replace.is_empty());
    let applied = p
        .apply_resource_change(ApplyRequest {
            type_name: "batontest_thing",
            prior: &null,
            planned: &plan.planned,
            config: &config,
            planned_private: &plan.private,
        })
        .await
        .expect("apply");
    let state = applied.new_state;
    assert!(
        state.raw_equal(&thing("alpha", Value::string("thing-alpha"))),
        "{state:?}"
    );

    // Refresh: unchanged.
    let (read, _) = p
        .read_resource("batontest_thing", &state, &applied.private)
        .await
        .expect("read");
    assert!(read.raw_equal(&state), "{read:?}");

    // A new name forces replacement.
    let renamed = thing("beta", Value::string("thing-alpha"));
    let plan = p
        .plan_resource_change(PlanRequest {
            type_name: "batontest_thing",
            prior: &state,
            proposed: &renamed,
            config: &thing("beta", Value::null(Type::String)),
            prior_private: &[],
        })
        .await
        .expect("plan update");
    assert_eq!(
        plan.requires_replace,
        vec![vec![PathStep::Key("name".to_string())]]
    );

    // Destroy: a null planned state comes back null.
    let gone = p
        .apply_resource_change(ApplyRequest {
            type_name: "batontest_thing",
            prior: &state,
            planned: &null,
            config: &null,
            planned_private: &[],
        })
        .await
        .expect("destroy");
    assert!(gone.new_state.is_null());

    // The data source copies input to output.
    let echo = p
        .read_data_source(
            "batontest_echo",
            &obj(&[
                ("input", Value::string("ping")),
                ("output", Value::null(Type::String)),
            ]),
        )
        .await
        .expect("read data source");
    assert_eq!(
        echo.get_attr("output").and_then(Value::as_str),
        Some("ping")
    );

    // An unknown type is a typed error, not a provider call.
    let err = p
        .read_data_source("batontest_nope", &Value::empty_object())
        .await
        .expect_err("unknown type");
    assert!(
        matches!(err, baton_plugin::PluginError::UnknownType { .. }),
        "{err:?}"
    );
    let imported = p
        .import_resource_state("batontest_thing", "thing-delta")
        .await
        .expect("import");
    assert_eq!(
        imported[0].state.get_attr("name").and_then(Value::as_str),
        Some("delta")
    );
    assert_eq!(
        p.stop(Duration::from_secs(5)).await.expect("clean stop"),
        baton_plugin::Ended::Exited
    );
}

#[tokio::test]
async fn an_error_diagnostic_keeps_its_attribute_path() {
    let (p, ty) = start_with_thing_type(StartOpts::new(PROVIDER)).await;
    let config = thing("invalid", Value::null(Type::String));
    let err = p
        .plan_resource_change(PlanRequest {
            type_name: "batontest_thing",
            prior: &Value::null(ty),
            proposed: &config,
            config: &config,
            prior_private: &[],
        })
        .await
        .expect_err("plan refused");
    let baton_plugin::PluginError::Diagnostics { diagnostics, .. } = &err else {
        panic!("expected Diagnostics, got {err:?}");
    };
    assert_eq!(diagnostics.len(), 1);
    assert_eq!(diagnostics[0].summary, "Invalid name");
    assert_eq!(diagnostics[0].attribute.as_deref(), Some("name"));
    assert!(!err.is_retryable());
    p.stop(Duration::from_secs(5)).await.expect("clean stop");
}

#[tokio::test]
async fn a_provider_dying_mid_call_is_a_retryable_error_with_its_stderr() {
    let (p, ty) = start_with_thing_type(StartOpts::new(PROVIDER)).await;
    let planned = thing("crash", Value::unknown(Type::String));
    let err = p
        .apply_resource_change(ApplyRequest {
            type_name: "batontest_thing",
            prior: &Value::null(ty),
            planned: &planned,
            config: &planned,
            planned_private: &[],
        })
        .await
        .expect_err("the provider dies");
    let baton_plugin::PluginError::Rpc { stderr, .. } = &err else {
        panic!("expected Rpc, got {err:?}");
    };
    assert!(stderr.contains("crashing as asked"), "{stderr:?}");
    assert!(err.is_retryable());
}

#[tokio::test]
async fn a_hanging_call_times_out_with_the_stderr() {
    let mut opts = StartOpts::new(PROVIDER);
    opts.call_timeout = Some(Duration::from_millis(500));
    let (p, ty) = start_with_thing_type(opts).await;
    let planned = thing("hang", Value::unknown(Type::String));
    let err = p
        .apply_resource_change(ApplyRequest {
            type_name: "batontest_thing",
            prior: &Value::null(ty),
            planned: &planned,
            config: &planned,
            planned_private: &[],
        })
        .await
        .expect_err("the call times out");
    let baton_plugin::PluginError::CallTimeout { method, stderr, .. } = &err else {
        panic!("expected CallTimeout, got {err:?}");
    };
    assert_eq!(*method, "ApplyResourceChange");
    assert!(stderr.contains("hanging as asked"), "{stderr:?}");
    assert!(err.is_retryable());
    // The stuck provider still ends: it exits on Shutdown (only the call hangs).
    p.stop(Duration::from_secs(5)).await.expect("stop");
}

#[tokio::test]
async fn import_and_upgrade_state() {
    let p = ProviderProcess::start(&StartOpts::new(PROVIDER))
        .await
        .expect("provider starts");
    let imported = p
        .import_resource_state("batontest_thing", "thing-gamma")
        .await
        .expect("import");
    assert_eq!(imported.len(), 1);
    assert_eq!(imported[0].type_name, "batontest_thing");
    let state = &imported[0].state;
    assert_eq!(
        state.get_attr("id").and_then(Value::as_str),
        Some("thing-gamma")
    );
    assert_eq!(
        state.get_attr("name").and_then(Value::as_str),
        Some("gamma")
    );
    assert_eq!(state.get_attr("tag").and_then(Value::length), Some(0));

    let err = p
        .import_resource_state("batontest_thing", "nonsense")
        .await
        .expect_err("bad id");
    assert!(err.to_string().contains("Invalid import id"), "{err}");

    // Terraform's state JSON for an object: the provider answers in JSON, which is decoded
    // by the schema like msgpack.
    let upgraded = p
        .upgrade_resource_state(
            "batontest_thing",
            0,
            br#"{"id":"thing-alpha","name":"alpha","secret":"hunter2","tag":[{"key":"env","value":"test","note":null,"ref":"ref-env"}]}"#,
        )
        .await
        .expect("upgrade");
    assert!(
        upgraded.raw_equal(&thing("alpha", Value::string("thing-alpha"))),
        "{upgraded:?}"
    );
    p.stop(Duration::from_secs(5)).await.expect("clean stop");
}

#[tokio::test]
async fn validation_diagnostics_over_both_protocols() {
    for protocol in ["6", "5"] {
        let mut opts = StartOpts::new(PROVIDER);
        // Unset, the provider chooses 6.
        if protocol == "5" {
            opts.env = vec![("BATONTEST_PROTOCOL".to_string(), "5".to_string())];
        }
        let p = ProviderProcess::start(&opts)
            .await
            .expect("provider starts");
        let tag_ty = Type::object(BTreeMap::from([
            ("key".to_string(), Type::String),
            ("value".to_string(), Type::String),
        ]));
        let config = obj(&[
            ("id", Value::null(Type::String)),
            ("name", Value::string("alpha")),
            ("secret", Value::null(Type::String)),
            (
                "tag",
                Value::list(
                    tag_ty,
                    vec![
                        obj(&[("key", Value::string("ok")), ("value", Value::string("1"))]),
                        obj(&[("key", Value::string("")), ("value", Value::string("2"))]),
                    ],
                ),
            ),
        ]);
        let diags = p
            .validate_resource_config("batontest_thing", &config)
            .await
            .expect("validate");
        assert_eq!(diags.len(), 1, "protocol {protocol}: {diags:?}");
        assert!(diags[0].error);
        assert_eq!(diags[0].summary, "Empty tag key");
        assert_eq!(diags[0].attribute.as_deref(), Some("tag[1].key"));

        let clean = p
            .validate_data_source_config(
                "batontest_echo",
                &obj(&[
                    ("input", Value::string("x")),
                    ("output", Value::null(Type::String)),
                ]),
            )
            .await
            .expect("validate data source");
        assert!(clean.is_empty(), "{clean:?}");
        let provider = p
            .validate_provider_config(&Value::empty_object())
            .await
            .expect("validate provider");
        assert!(provider.is_empty(), "{provider:?}");
        p.stop(Duration::from_secs(5)).await.expect("clean stop");
    }
}

/// Start options for protocol "6" or "5".
fn opts_for(protocol: &str) -> StartOpts {
    let mut opts = StartOpts::new(PROVIDER);
    // Unset, the provider chooses 6.
    if protocol == "5" {
        opts.env = vec![("BATONTEST_PROTOCOL".to_string(), "5".to_string())];
    }
    opts
}

#[tokio::test]
async fn functions_are_listed_and_called_over_both_protocols() {
    for protocol in ["6", "5"] {
        let p = ProviderProcess::start(&opts_for(protocol))
            .await
            .expect("provider starts");
        let functions = p.get_functions().await.expect("functions");
        assert_eq!(
            functions.keys().collect::<Vec<_>>(),
            vec!["upper"],
            "protocol {protocol}"
        );
        let upper = &functions["upper"];
        assert_eq!(
            upper.params,
            vec![("s".to_string(), Type::String, false)],
            "protocol {protocol}"
        );
        assert_eq!(upper.variadic, None);
        assert_eq!(upper.ret, Type::String);
        // GetProviderSchema lists them too.
        assert_eq!(&p.schema().await.expect("schema").functions["upper"], upper);

        let up = p
            .call_function("upper", &[Value::string("abc")])
            .await
            .expect("call");
        assert_eq!(up.as_str(), Some("ABC"), "protocol {protocol}: {up:?}");

        let err = p
            .call_function("upper", &[Value::string("")])
            .await
            .expect_err("empty string refused");
        let baton_plugin::PluginError::Function {
            name,
            text,
            argument,
        } = &err
        else {
            panic!("expected Function, got {err:?}");
        };
        assert_eq!(name, "upper");
        assert_eq!(text, "empty string");
        assert_eq!(*argument, Some(0));
        assert!(!err.is_retryable());

        let err = p
            .call_function("upper", &[])
            .await
            .expect_err("missing argument");
        assert!(
            matches!(
                err,
                baton_plugin::PluginError::Function { argument: None, .. }
            ),
            "{err:?}"
        );
        let err = p
            .call_function("lower", &[Value::string("A")])
            .await
            .expect_err("no such function");
        assert!(
            matches!(err, baton_plugin::PluginError::UnknownFunction { .. }),
            "{err:?}"
        );
        p.stop(Duration::from_secs(5)).await.expect("clean stop");
    }
}

#[tokio::test]
async fn functions_missing_from_the_schema_come_from_get_functions() {
    for protocol in ["6", "5"] {
        let mut opts = opts_for(protocol);
        opts.env
            .push(("BATONTEST_SCHEMA_FUNCTIONS".to_string(), "0".to_string()));
        let p = ProviderProcess::start(&opts)
            .await
            .expect("provider starts");
        assert!(p.schema().await.expect("schema").functions.is_empty());
        let functions = p.get_functions().await.expect("functions");
        assert_eq!(functions["upper"].ret, Type::String, "protocol {protocol}");
        let up = p
            .call_function("upper", &[Value::string("x")])
            .await
            .expect("call");
        assert_eq!(up.as_str(), Some("X"));
        p.stop(Duration::from_secs(5)).await.expect("clean stop");
    }
}

#[tokio::test]
async fn a_configured_prefix_shapes_new_ids_over_both_protocols() {
    for protocol in ["6", "5"] {
        let (p, ty) = start_with_thing_type(opts_for(protocol)).await;
        let err = p
            .configure(&obj(&[("prefix", Value::string("bad"))]))
            .await
            .expect_err("bad prefix refused");
        let baton_plugin::PluginError::Diagnostics { diagnostics, .. } = &err else {
            panic!("expected Diagnostics, got {err:?}");
        };
        assert_eq!(diagnostics[0].summary, "Invalid prefix");
        assert_eq!(diagnostics[0].attribute.as_deref(), Some("prefix"));

        p.configure(&obj(&[("prefix", Value::string("p"))]))
            .await
            .expect("configure");
        let planned = thing("alpha", Value::unknown(Type::String));
        let applied = p
            .apply_resource_change(ApplyRequest {
                type_name: "batontest_thing",
                prior: &Value::null(ty),
                planned: &planned,
                config: &thing("alpha", Value::null(Type::String)),
                planned_private: &[],
            })
            .await
            .expect("apply");
        assert_eq!(
            applied.new_state.get_attr("id").and_then(Value::as_str),
            Some("p-thing-alpha"),
            "protocol {protocol}"
        );
        let imported = p
            .import_resource_state("batontest_thing", "p-thing-beta")
            .await
            .expect("import of a prefixed id");
        assert_eq!(
            imported[0].state.get_attr("name").and_then(Value::as_str),
            Some("beta")
        );
        p.stop(Duration::from_secs(5)).await.expect("clean stop");
    }
}

#[tokio::test]
async fn a_version_0_state_is_upgraded_over_both_protocols() {
    for protocol in ["6", "5"] {
        let p = ProviderProcess::start(&opts_for(protocol))
            .await
            .expect("provider starts");
        let upgraded = p
            .upgrade_resource_state(
                "batontest_thing",
                0,
                br#"{"id":"thing-a","label":"a","secret":null,"tag":[]}"#,
            )
            .await
            .expect("upgrade");
        assert_eq!(
            upgraded.get_attr("name").and_then(Value::as_str),
            Some("a"),
            "protocol {protocol}: {upgraded:?}"
        );
        assert_eq!(
            upgraded.get_attr("id").and_then(Value::as_str),
            Some("thing-a")
        );
        let err = p
            .upgrade_resource_state("batontest_thing", 2, br#"{"id":"thing-a","name":"a"}"#)
            .await
            .expect_err("a future version is refused");
        assert!(
            err.to_string().contains("Unsupported schema version"),
            "{err}"
        );
        p.stop(Duration::from_secs(5)).await.expect("clean stop");
    }
}
