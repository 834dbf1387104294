//! The `batontest` provider's behaviour: its schema and the RPCs that Terraform and Baton call
//! for `batontest_thing` and `batontest_echo`. Values are msgpack `DynamicValue`s handled with
//! `rmpv`; every RPC the two types do not need answers `Unimplemented`.
//!
//! Validation refuses a `tag` with an empty key (on the path `tag[i].key`). Three names
//! misbehave on purpose, for tests of failure paths: `invalid` is refused at plan with an error
//! diagnostic on `name`, `crash` makes apply exit the process mid-call, and `hang` makes apply
//! never answer.
//!
//! Must stay deterministic (ids are derived from names) so outputs can be asserted, and must
//! not keep state between calls: the state lives in the caller's state file (an import of
//! `thing-NAME` recovers the name and nothing else).

// The tonic trait returns `tonic::Status` as its error; the helpers return it too.
#![allow(clippy::result_large_err)]

/// The provider; stateless.
pub struct BatonTest;

pub const THING: &str = "batontest_thing";
pub const ECHO: &str = "batontest_echo";

/// The provider's behaviour, written once for both protocol versions: expanded in a module
/// where `pb` names tfplugin6 or tfplugin5 (whose messages have the same shape) and `Response`
/// and `Status` are tonic's.
macro_rules! handlers {
    () => {
        use std::collections::HashMap;

        use pb::schema::{nested_block::NestingMode, Attribute, Block, NestedBlock};

        use crate::provider::{ECHO, THING};

        fn attr(
            name: &str,
            required: bool,
            optional: bool,
            computed: bool,
            sensitive: bool,
        ) -> Attribute {
            Attribute {
                name: name.to_string(),
                r#type: b"\"string\"".to_vec(),
                required,
                optional,
                computed,
                sensitive,
                ..Default::default()
            }
        }

        pub(crate) fn schema() -> pb::get_provider_schema::Response {
            let thing = pb::Schema {
                version: 0,
                block: Some(Block {
                    attributes: vec![
                        attr("id", false, false, true, false),
                        attr("name", true, false, false, false),
                        attr("secret", false, true, false, true),
                    ],
                    block_types: vec![NestedBlock {
                        type_name: "tag".to_string(),
                        nesting: NestingMode::List as i32,
                        block: Some(Block {
                            attributes: vec![
                                attr("key", true, false, false, false),
                                attr("value", false, true, false, false),
                            ],
                            ..Default::default()
                        }),
                        ..Default::default()
                    }],
                    ..Default::default()
                }),
            };
            let echo = pb::Schema {
                version: 0,
                block: Some(Block {
                    attributes: vec![
                        attr("input", true, false, false, false),
                        attr("output", false, false, true, false),
                    ],
                    ..Default::default()
                }),
            };
            pb::get_provider_schema::Response {
                provider: Some(pb::Schema {
                    version: 0,
                    block: Some(Block::default()),
                }),
                resource_schemas: HashMap::from([(THING.to_string(), thing)]),
                data_source_schemas: HashMap::from([(ECHO.to_string(), echo)]),
                server_capabilities: Some(pb::ServerCapabilities {
                    plan_destroy: false,
                    ..Default::default()
                }),
                ..Default::default()
            }
        }

        /// Terraform's encoding of an unknown value: msgpack extension 0.
        fn unknown() -> rmpv::Value {
            rmpv::Value::Ext(0, vec![0])
        }

        fn decode(v: Option<&pb::DynamicValue>) -> Result<rmpv::Value, Status> {
            let Some(v) = v else {
                return Ok(rmpv::Value::Nil);
            };
            if v.msgpack.is_empty() {
                return Ok(rmpv::Value::Nil);
            }
            rmpv::decode::read_value(&mut v.msgpack.as_slice())
                .map_err(|e| Status::invalid_argument(format!("bad msgpack DynamicValue: {e}")))
        }

        fn encode(v: &rmpv::Value) -> Result<pb::DynamicValue, Status> {
            let mut buf = Vec::new();
            rmpv::encode::write_value(&mut buf, v)
                .map_err(|e| Status::internal(format!("cannot encode msgpack: {e}")))?;
            Ok(pb::DynamicValue {
                msgpack: buf,
                json: Vec::new(),
            })
        }

        fn get<'a>(obj: &'a rmpv::Value, key: &str) -> Option<&'a rmpv::Value> {
            obj.as_map()?
                .iter()
                .find(|(k, _)| k.as_str() == Some(key))
                .map(|(_, v)| v)
        }

        fn set(obj: &mut rmpv::Value, key: &str, value: rmpv::Value) {
            if let rmpv::Value::Map(entries) = obj {
                match entries.iter_mut().find(|(k, _)| k.as_str() == Some(key)) {
                    Some(entry) => entry.1 = value,
                    None => entries.push((rmpv::Value::from(key), value)),
                }
            }
        }

        fn attr_path(name: &str) -> pb::AttributePath {
            pb::AttributePath {
                steps: vec![pb::attribute_path::Step {
                    selector: Some(pb::attribute_path::step::Selector::AttributeName(
                        name.to_string(),
                    )),
                }],
            }
        }

        fn error_diag(summary: String) -> pb::Diagnostic {
            pb::Diagnostic {
                severity: pb::diagnostic::Severity::Error as i32,
                summary,
                ..Default::default()
            }
        }

        type EmptyStream<T> = tonic::codegen::tokio_stream::Empty<Result<T, Status>>;

        /// A tag with an empty key is refused, on the path `tag[i].key`.
        pub(crate) fn validate_thing(
            config: Option<&pb::DynamicValue>,
        ) -> Result<Vec<pb::Diagnostic>, Status> {
            let config = decode(config)?;
            let tags = get(&config, "tag")
                .and_then(|t| t.as_array())
                .cloned()
                .unwrap_or_default();
            let mut diags = Vec::new();
            for (i, tag) in tags.iter().enumerate() {
                if get(tag, "key").and_then(|k| k.as_str()) == Some("") {
                    use pb::attribute_path::step::Selector;
                    let step = |s| pb::attribute_path::Step { selector: Some(s) };
                    diags.push(pb::Diagnostic {
                        attribute: Some(pb::AttributePath {
                            steps: vec![
                                step(Selector::AttributeName("tag".to_string())),
                                step(Selector::ElementKeyInt(i64::try_from(i).unwrap_or(0))),
                                step(Selector::AttributeName("key".to_string())),
                            ],
                        }),
                        ..error_diag("Empty tag key".to_string())
                    });
                }
            }
            Ok(diags)
        }

        pub(crate) async fn get_metadata(
            _request: pb::get_metadata::Request,
        ) -> Result<Response<pb::get_metadata::Response>, Status> {
            Ok(Response::new(pb::get_metadata::Response {
                server_capabilities: schema().server_capabilities,
                resources: vec![pb::get_metadata::ResourceMetadata {
                    type_name: THING.to_string(),
                }],
                data_sources: vec![pb::get_metadata::DataSourceMetadata {
                    type_name: ECHO.to_string(),
                }],
                ..Default::default()
            }))
        }

        pub(crate) async fn upgrade_resource_state(
            request: pb::upgrade_resource_state::Request,
        ) -> Result<Response<pb::upgrade_resource_state::Response>, Status> {
            // Schema version 0 only: the stored JSON is already in the current shape, and
            // Terraform accepts a JSON DynamicValue.
            let raw = request.raw_state.unwrap_or_default();
            Ok(Response::new(pb::upgrade_resource_state::Response {
                upgraded_state: Some(pb::DynamicValue {
                    msgpack: Vec::new(),
                    json: raw.json,
                }),
                diagnostics: Vec::new(),
            }))
        }

        pub(crate) async fn plan_resource_change(
            request: pb::plan_resource_change::Request,
        ) -> Result<Response<pb::plan_resource_change::Response>, Status> {
            let req = request;
            let prior = decode(req.prior_state.as_ref())?;
            let mut planned = decode(req.proposed_new_state.as_ref())?;
            let mut requires_replace = Vec::new();
            if get(&planned, "name").and_then(|v| v.as_str()) == Some("invalid") {
                // For tests of error diagnostics with an attribute path.
                return Ok(Response::new(pb::plan_resource_change::Response {
                    diagnostics: vec![pb::Diagnostic {
                        attribute: Some(attr_path("name")),
                        detail: "batontest refuses the name \"invalid\".".to_string(),
                        ..error_diag("Invalid name".to_string())
                    }],
                    ..Default::default()
                }));
            }
            if !planned.is_nil() {
                let id = get(&planned, "id").cloned().unwrap_or(rmpv::Value::Nil);
                if id.is_nil() {
                    set(&mut planned, "id", unknown());
                }
                if !prior.is_nil() && get(&prior, "name") != get(&planned, "name") {
                    set(&mut planned, "id", unknown());
                    requires_replace.push(attr_path("name"));
                }
            }
            Ok(Response::new(pb::plan_resource_change::Response {
                planned_state: Some(encode(&planned)?),
                requires_replace,
                planned_private: req.prior_private,
                ..Default::default()
            }))
        }

        pub(crate) async fn apply_resource_change(
            request: pb::apply_resource_change::Request,
        ) -> Result<Response<pb::apply_resource_change::Response>, Status> {
            let req = request;
            let mut state = decode(req.planned_state.as_ref())?;
            if get(&state, "name").and_then(|v| v.as_str()) == Some("hang") {
                // For tests of call timeouts.
                eprintln!("batontest: hanging as asked by the name \"hang\"");
                std::future::pending::<()>().await;
            }
            if get(&state, "name").and_then(|v| v.as_str()) == Some("crash") {
                // For tests of a provider dying mid-call.
                eprintln!("batontest: crashing as asked by the name \"crash\"");
                std::process::exit(2);
            }
            if !state.is_nil() && matches!(get(&state, "id"), Some(rmpv::Value::Ext(..)) | None) {
                let Some(name) = get(&state, "name")
                    .and_then(|v| v.as_str())
                    .map(str::to_owned)
                else {
                    return Ok(Response::new(pb::apply_resource_change::Response {
                        diagnostics: vec![error_diag("name must be a known string".into())],
                        ..Default::default()
                    }));
                };
                set(&mut state, "id", rmpv::Value::from(format!("thing-{name}")));
            }
            Ok(Response::new(pb::apply_resource_change::Response {
                new_state: Some(encode(&state)?),
                private: req.planned_private,
                ..Default::default()
            }))
        }

        pub(crate) async fn read_resource(
            request: pb::read_resource::Request,
        ) -> Result<Response<pb::read_resource::Response>, Status> {
            let req = request;
            Ok(Response::new(pb::read_resource::Response {
                new_state: req.current_state,
                private: req.private,
                ..Default::default()
            }))
        }

        pub(crate) async fn read_data_source(
            request: pb::read_data_source::Request,
        ) -> Result<Response<pb::read_data_source::Response>, Status> {
            let req = request;
            if req.type_name != ECHO {
                return Err(Status::not_found(format!(
                    "no data source {}",
                    req.type_name
                )));
            }
            let mut state = decode(req.config.as_ref())?;
            let input = get(&state, "input").cloned().unwrap_or(rmpv::Value::Nil);
            set(&mut state, "output", input);
            Ok(Response::new(pb::read_data_source::Response {
                state: Some(encode(&state)?),
                ..Default::default()
            }))
        }

        pub(crate) async fn import_resource_state(
            request: pb::import_resource_state::Request,
        ) -> Result<Response<pb::import_resource_state::Response>, Status> {
            let req = request;
            // Ids are `thing-NAME`: the name is all an import can recover.
            let Some(name) = req.id.strip_prefix("thing-").filter(|n| !n.is_empty()) else {
                return Ok(Response::new(pb::import_resource_state::Response {
                    diagnostics: vec![pb::Diagnostic {
                        detail: format!("Import ids look like \"thing-NAME\", not {:?}.", req.id),
                        ..error_diag("Invalid import id".to_string())
                    }],
                    ..Default::default()
                }));
            };
            let state = rmpv::Value::Map(vec![
                ("id".into(), req.id.as_str().into()),
                ("name".into(), name.into()),
                ("secret".into(), rmpv::Value::Nil),
                ("tag".into(), rmpv::Value::Array(Vec::new())),
            ]);
            Ok(Response::new(pb::import_resource_state::Response {
                imported_resources: vec![pb::import_resource_state::ImportedResource {
                    type_name: req.type_name,
                    state: Some(encode(&state)?),
                    ..Default::default()
                }],
                ..Default::default()
            }))
        }
    };
}

pub mod v5;
pub mod v6;
