//! The `batontest` provider's behaviour: its schema and the RPCs that Terraform and Baton call
//! for `batontest_thing` and `batontest_echo`. Values are msgpack `DynamicValue`s handled with
//! `rmpv`; every RPC the two types do not need answers `Unimplemented`.
//!
//! Three names misbehave on purpose, for tests of failure paths: `invalid` is refused at plan
//! with an error diagnostic on `name`, `crash` makes apply exit the process mid-call, and `hang`
//! makes apply never answer.
//!
//! Must stay deterministic (ids are derived from names) so outputs can be asserted, and must
//! not keep state between calls: the state lives in the caller's state file (an import of
//! `thing-NAME` recovers the name and nothing else).

// The tonic trait returns `tonic::Status` as its error; the helpers return it too.
#![allow(clippy::result_large_err)]

use std::collections::HashMap;

use magma_protocol::tfplugin6 as pb;
use pb::provider_server::Provider;
use pb::schema::{nested_block::NestingMode, Attribute, Block, NestedBlock};
use tonic::{Request, Response, Status};

/// The provider; stateless.
pub struct BatonTest;

pub const THING: &str = "batontest_thing";
pub const ECHO: &str = "batontest_echo";

fn attr(name: &str, required: bool, optional: bool, computed: bool, sensitive: bool) -> Attribute {
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

fn schema() -> pb::get_provider_schema::Response {
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

#[tonic::async_trait]
impl Provider for BatonTest {
    type ListResourceStream = EmptyStream<pb::list_resource::Event>;
    type ReadStateBytesStream = EmptyStream<pb::read_state_bytes::Response>;
    type InvokeActionStream = EmptyStream<pb::invoke_action::Event>;

    async fn get_metadata(
        &self,
        _request: Request<pb::get_metadata::Request>,
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

    async fn get_provider_schema(
        &self,
        _request: Request<pb::get_provider_schema::Request>,
    ) -> Result<Response<pb::get_provider_schema::Response>, Status> {
        Ok(Response::new(schema()))
    }

    async fn validate_provider_config(
        &self,
        _request: Request<pb::validate_provider_config::Request>,
    ) -> Result<Response<pb::validate_provider_config::Response>, Status> {
        Ok(Response::new(Default::default()))
    }

    async fn validate_resource_config(
        &self,
        _request: Request<pb::validate_resource_config::Request>,
    ) -> Result<Response<pb::validate_resource_config::Response>, Status> {
        Ok(Response::new(Default::default()))
    }

    async fn validate_data_resource_config(
        &self,
        _request: Request<pb::validate_data_resource_config::Request>,
    ) -> Result<Response<pb::validate_data_resource_config::Response>, Status> {
        Ok(Response::new(Default::default()))
    }

    async fn configure_provider(
        &self,
        _request: Request<pb::configure_provider::Request>,
    ) -> Result<Response<pb::configure_provider::Response>, Status> {
        Ok(Response::new(Default::default()))
    }

    async fn get_resource_identity_schemas(
        &self,
        _request: Request<pb::get_resource_identity_schemas::Request>,
    ) -> Result<Response<pb::get_resource_identity_schemas::Response>, Status> {
        Ok(Response::new(Default::default()))
    }

    async fn get_functions(
        &self,
        _request: Request<pb::get_functions::Request>,
    ) -> Result<Response<pb::get_functions::Response>, Status> {
        Ok(Response::new(Default::default()))
    }

    async fn stop_provider(
        &self,
        _request: Request<pb::stop_provider::Request>,
    ) -> Result<Response<pb::stop_provider::Response>, Status> {
        Ok(Response::new(Default::default()))
    }

    async fn upgrade_resource_state(
        &self,
        request: Request<pb::upgrade_resource_state::Request>,
    ) -> Result<Response<pb::upgrade_resource_state::Response>, Status> {
        // Schema version 0 only: the stored JSON is already in the current shape, and
        // Terraform accepts a JSON DynamicValue.
        let raw = request.into_inner().raw_state.unwrap_or_default();
        Ok(Response::new(pb::upgrade_resource_state::Response {
            upgraded_state: Some(pb::DynamicValue {
                msgpack: Vec::new(),
                json: raw.json,
            }),
            diagnostics: Vec::new(),
        }))
    }

    async fn plan_resource_change(
        &self,
        request: Request<pb::plan_resource_change::Request>,
    ) -> Result<Response<pb::plan_resource_change::Response>, Status> {
        let req = request.into_inner();
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

    async fn apply_resource_change(
        &self,
        request: Request<pb::apply_resource_change::Request>,
    ) -> Result<Response<pb::apply_resource_change::Response>, Status> {
        let req = request.into_inner();
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

    async fn read_resource(
        &self,
        request: Request<pb::read_resource::Request>,
    ) -> Result<Response<pb::read_resource::Response>, Status> {
        let req = request.into_inner();
        Ok(Response::new(pb::read_resource::Response {
            new_state: req.current_state,
            private: req.private,
            ..Default::default()
        }))
    }

    async fn read_data_source(
        &self,
        request: Request<pb::read_data_source::Request>,
    ) -> Result<Response<pb::read_data_source::Response>, Status> {
        let req = request.into_inner();
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

    async fn upgrade_resource_identity(
        &self,
        _request: Request<pb::upgrade_resource_identity::Request>,
    ) -> Result<Response<pb::upgrade_resource_identity::Response>, Status> {
        Err(Status::unimplemented(
            "batontest does not implement upgrade_resource_identity",
        ))
    }

    async fn import_resource_state(
        &self,
        request: Request<pb::import_resource_state::Request>,
    ) -> Result<Response<pb::import_resource_state::Response>, Status> {
        let req = request.into_inner();
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

    async fn move_resource_state(
        &self,
        _request: Request<pb::move_resource_state::Request>,
    ) -> Result<Response<pb::move_resource_state::Response>, Status> {
        Err(Status::unimplemented(
            "batontest does not implement move_resource_state",
        ))
    }

    async fn generate_resource_config(
        &self,
        _request: Request<pb::generate_resource_config::Request>,
    ) -> Result<Response<pb::generate_resource_config::Response>, Status> {
        Err(Status::unimplemented(
            "batontest does not implement generate_resource_config",
        ))
    }

    async fn validate_ephemeral_resource_config(
        &self,
        _request: Request<pb::validate_ephemeral_resource_config::Request>,
    ) -> Result<Response<pb::validate_ephemeral_resource_config::Response>, Status> {
        Err(Status::unimplemented(
            "batontest does not implement validate_ephemeral_resource_config",
        ))
    }

    async fn open_ephemeral_resource(
        &self,
        _request: Request<pb::open_ephemeral_resource::Request>,
    ) -> Result<Response<pb::open_ephemeral_resource::Response>, Status> {
        Err(Status::unimplemented(
            "batontest does not implement open_ephemeral_resource",
        ))
    }

    async fn renew_ephemeral_resource(
        &self,
        _request: Request<pb::renew_ephemeral_resource::Request>,
    ) -> Result<Response<pb::renew_ephemeral_resource::Response>, Status> {
        Err(Status::unimplemented(
            "batontest does not implement renew_ephemeral_resource",
        ))
    }

    async fn close_ephemeral_resource(
        &self,
        _request: Request<pb::close_ephemeral_resource::Request>,
    ) -> Result<Response<pb::close_ephemeral_resource::Response>, Status> {
        Err(Status::unimplemented(
            "batontest does not implement close_ephemeral_resource",
        ))
    }

    async fn validate_list_resource_config(
        &self,
        _request: Request<pb::validate_list_resource_config::Request>,
    ) -> Result<Response<pb::validate_list_resource_config::Response>, Status> {
        Err(Status::unimplemented(
            "batontest does not implement validate_list_resource_config",
        ))
    }

    async fn call_function(
        &self,
        _request: Request<pb::call_function::Request>,
    ) -> Result<Response<pb::call_function::Response>, Status> {
        Err(Status::unimplemented(
            "batontest does not implement call_function",
        ))
    }

    async fn validate_state_store_config(
        &self,
        _request: Request<pb::validate_state_store::Request>,
    ) -> Result<Response<pb::validate_state_store::Response>, Status> {
        Err(Status::unimplemented(
            "batontest does not implement validate_state_store_config",
        ))
    }

    async fn configure_state_store(
        &self,
        _request: Request<pb::configure_state_store::Request>,
    ) -> Result<Response<pb::configure_state_store::Response>, Status> {
        Err(Status::unimplemented(
            "batontest does not implement configure_state_store",
        ))
    }

    async fn lock_state(
        &self,
        _request: Request<pb::lock_state::Request>,
    ) -> Result<Response<pb::lock_state::Response>, Status> {
        Err(Status::unimplemented(
            "batontest does not implement lock_state",
        ))
    }

    async fn unlock_state(
        &self,
        _request: Request<pb::unlock_state::Request>,
    ) -> Result<Response<pb::unlock_state::Response>, Status> {
        Err(Status::unimplemented(
            "batontest does not implement unlock_state",
        ))
    }

    async fn get_states(
        &self,
        _request: Request<pb::get_states::Request>,
    ) -> Result<Response<pb::get_states::Response>, Status> {
        Err(Status::unimplemented(
            "batontest does not implement get_states",
        ))
    }

    async fn delete_state(
        &self,
        _request: Request<pb::delete_state::Request>,
    ) -> Result<Response<pb::delete_state::Response>, Status> {
        Err(Status::unimplemented(
            "batontest does not implement delete_state",
        ))
    }

    async fn plan_action(
        &self,
        _request: Request<pb::plan_action::Request>,
    ) -> Result<Response<pb::plan_action::Response>, Status> {
        Err(Status::unimplemented(
            "batontest does not implement plan_action",
        ))
    }

    async fn validate_action_config(
        &self,
        _request: Request<pb::validate_action_config::Request>,
    ) -> Result<Response<pb::validate_action_config::Response>, Status> {
        Err(Status::unimplemented(
            "batontest does not implement validate_action_config",
        ))
    }

    async fn list_resource(
        &self,
        _request: Request<pb::list_resource::Request>,
    ) -> Result<Response<Self::ListResourceStream>, Status> {
        Err(Status::unimplemented("batontest does not list resources"))
    }

    async fn read_state_bytes(
        &self,
        _request: Request<pb::read_state_bytes::Request>,
    ) -> Result<Response<Self::ReadStateBytesStream>, Status> {
        Err(Status::unimplemented("batontest is not a state store"))
    }

    async fn write_state_bytes(
        &self,
        _request: Request<tonic::Streaming<pb::write_state_bytes::RequestChunk>>,
    ) -> Result<Response<pb::write_state_bytes::Response>, Status> {
        Err(Status::unimplemented("batontest is not a state store"))
    }

    async fn invoke_action(
        &self,
        _request: Request<pb::invoke_action::Request>,
    ) -> Result<Response<Self::InvokeActionStream>, Status> {
        Err(Status::unimplemented("batontest has no actions"))
    }
}
