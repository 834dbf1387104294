//! The `batontest` provider served over protocol 6 (tfplugin6): the trait's methods, each
//! delegating to the shared handlers or answering as the provider does not support it.
//!
//! Must hold no behaviour of its own beyond protocol 6's method names.

use magma_protocol::tfplugin6 as pb;
use pb::provider_server::Provider;
use tonic::{Request, Response, Status};

use crate::provider::BatonTest;

handlers!();

/// The shared schema plus what only protocol 6 can say: `batontest_rules`, whose `rules` is a
/// nested attribute (a list of objects with a required, an optional and a computed attribute)
/// and whose `token_wo` is write-only.
fn schema_v6() -> pb::get_provider_schema::Response {
    use pb::schema::{object::NestingMode, Attribute, Block, Object};
    let mut s = schema();
    let typed = |name: &str, ty: &[u8], required: bool, optional: bool, computed: bool| Attribute {
        name: name.to_string(),
        r#type: ty.to_vec(),
        required,
        optional,
        computed,
        ..Default::default()
    };
    let rules = pb::Schema {
        version: 0,
        block: Some(Block {
            attributes: vec![
                typed("id", b"\"string\"", false, false, true),
                Attribute {
                    name: "token_wo".to_string(),
                    r#type: b"\"string\"".to_vec(),
                    optional: true,
                    sensitive: true,
                    write_only: true,
                    ..Default::default()
                },
                Attribute {
                    name: "rules".to_string(),
                    nested_type: Some(Object {
                        attributes: vec![
                            typed("port", b"\"number\"", true, false, false),
                            typed("proto", b"\"string\"", false, true, false),
                            typed("id", b"\"string\"", false, false, true),
                        ],
                        nesting: NestingMode::List as i32,
                        ..Default::default()
                    }),
                    optional: true,
                    ..Default::default()
                },
            ],
            ..Default::default()
        }),
    };
    s.resource_schemas
        .insert(crate::provider::RULES.to_string(), rules);
    s
}

#[tonic::async_trait]
impl Provider for BatonTest {
    type ListResourceStream = EmptyStream<pb::list_resource::Event>;
    type ReadStateBytesStream = EmptyStream<pb::read_state_bytes::Response>;
    type InvokeActionStream = EmptyStream<pb::invoke_action::Event>;

    async fn get_metadata(
        &self,
        request: Request<pb::get_metadata::Request>,
    ) -> Result<Response<pb::get_metadata::Response>, Status> {
        get_metadata(request.into_inner()).await
    }

    async fn get_provider_schema(
        &self,
        _request: Request<pb::get_provider_schema::Request>,
    ) -> Result<Response<pb::get_provider_schema::Response>, Status> {
        Ok(Response::new(schema_v6()))
    }

    async fn validate_provider_config(
        &self,
        _request: Request<pb::validate_provider_config::Request>,
    ) -> Result<Response<pb::validate_provider_config::Response>, Status> {
        Ok(Response::new(Default::default()))
    }

    async fn validate_resource_config(
        &self,
        request: Request<pb::validate_resource_config::Request>,
    ) -> Result<Response<pb::validate_resource_config::Response>, Status> {
        let request = request.into_inner();
        let diagnostics = validate_resource(&request.type_name, request.config.as_ref())?;
        Ok(Response::new(pb::validate_resource_config::Response {
            diagnostics,
        }))
    }

    async fn validate_data_resource_config(
        &self,
        _request: Request<pb::validate_data_resource_config::Request>,
    ) -> Result<Response<pb::validate_data_resource_config::Response>, Status> {
        Ok(Response::new(Default::default()))
    }

    async fn configure_provider(
        &self,
        request: Request<pb::configure_provider::Request>,
    ) -> Result<Response<pb::configure_provider::Response>, Status> {
        let diagnostics = configure(self, request.into_inner().config.as_ref())?;
        Ok(Response::new(pb::configure_provider::Response {
            diagnostics,
        }))
    }

    async fn get_resource_identity_schemas(
        &self,
        _request: Request<pb::get_resource_identity_schemas::Request>,
    ) -> Result<Response<pb::get_resource_identity_schemas::Response>, Status> {
        Ok(Response::new(Default::default()))
    }

    async fn get_functions(
        &self,
        request: Request<pb::get_functions::Request>,
    ) -> Result<Response<pb::get_functions::Response>, Status> {
        get_functions(request.into_inner()).await
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
        upgrade_resource_state(request.into_inner()).await
    }

    async fn plan_resource_change(
        &self,
        request: Request<pb::plan_resource_change::Request>,
    ) -> Result<Response<pb::plan_resource_change::Response>, Status> {
        plan_resource_change(request.into_inner()).await
    }

    async fn apply_resource_change(
        &self,
        request: Request<pb::apply_resource_change::Request>,
    ) -> Result<Response<pb::apply_resource_change::Response>, Status> {
        apply_resource_change(self, request.into_inner()).await
    }

    async fn read_resource(
        &self,
        request: Request<pb::read_resource::Request>,
    ) -> Result<Response<pb::read_resource::Response>, Status> {
        read_resource(request.into_inner()).await
    }

    async fn read_data_source(
        &self,
        request: Request<pb::read_data_source::Request>,
    ) -> Result<Response<pb::read_data_source::Response>, Status> {
        read_data_source(request.into_inner()).await
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
        import_resource_state(self, request.into_inner()).await
    }

    async fn move_resource_state(
        &self,
        request: Request<pb::move_resource_state::Request>,
    ) -> Result<Response<pb::move_resource_state::Response>, Status> {
        move_resource_state(request.into_inner()).await
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
        request: Request<pb::call_function::Request>,
    ) -> Result<Response<pb::call_function::Response>, Status> {
        call_function(request.into_inner()).await
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
