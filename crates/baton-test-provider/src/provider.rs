//! The `batontest` provider's behaviour: its schema and the RPCs that Terraform and Baton call
//! for `batontest_thing`, `batontest_file`, `batontest_echo` and the function `upper`. Values
//! are msgpack `DynamicValue`s handled with `rmpv`; every RPC these do not need answers
//! `Unimplemented`.
//!
//! - The provider block has an optional `prefix`: once configured, new `batontest_thing` ids
//!   are `PREFIX-thing-NAME` instead of `thing-NAME`. The prefix `bad` is refused at
//!   ConfigureProvider with an error diagnostic on `prefix`.
//! - `batontest_rules` (protocol 6 only) has a nested attribute `rules`, a list of objects with
//!   `port` (required number), `proto` (optional) and `id` (computed, `rule-PORT`), and a
//!   write-only `token_wo`: never stored, its presence at create makes the id
//!   `rules-with-token` (the token `leak` is wrongly planned, for tests of the client's check).
//! - `batontest_item` is `batontest_thing` under a new name (schema version 0): it takes over
//!   a thing moved to it (`moved` from a `batontest_thing`) through MoveResourceState.
//! - `batontest_thing` lives only in state. Its schema is version 1: version 0 called `name`
//!   `label`, and UpgradeResourceState renames it. Validation refuses a `tag` with an empty key
//!   (on the path `tag[i].key`); a tag's `note` is sensitive. A tag's `ref` is computed (`ref-KEY`, set on create): the
//!   plan leaves a null `ref` unknown, so only a client that proposes the prior value inside
//!   nested blocks, as Terraform does, sees no change on the next plan. Three names misbehave on purpose, for tests of failure paths:
//!   `invalid` is refused at plan with an error diagnostic on `name`, `crash` makes apply exit
//!   the process mid-call, and `hang` makes apply never answer.
//! - `batontest_file` is a real object, for tests of drift: a file at `path` (which forces
//!   replacement) holding `content`. Read reports the file's actual content, or null when it
//!   is gone; import takes the path.
//! - `provider::batontest::upper(s)` upper-cases a string; the empty string is a function
//!   error on argument 0. GetProviderSchema lists it, unless `BATONTEST_SCHEMA_FUNCTIONS=0`
//!   (then only GetFunctions does, as with providers older than Terraform 1.8's protocol).
//!
//! Must stay deterministic (ids are derived from names and paths) so outputs can be asserted.
//! The only state kept between calls is the provider configuration (the prefix): objects live
//! in the caller's state file and, for `batontest_file`, on disk at the path the configuration
//! names. Must not touch any other file.

// The tonic trait returns `tonic::Status` as its error; the helpers return it too.
#![allow(clippy::result_large_err)]

use std::sync::Mutex;

/// The provider. Holds only its configuration, set by ConfigureProvider.
#[derive(Default)]
pub struct BatonTest {
    prefix: Mutex<Option<String>>,
}

impl BatonTest {
    /// The configured prefix of new thing ids, if any.
    fn prefix(&self) -> Option<String> {
        self.prefix.lock().ok().and_then(|p| p.clone())
    }

    fn set_prefix(&self, prefix: Option<String>) {
        if let Ok(mut p) = self.prefix.lock() {
            *p = prefix;
        }
    }
}

pub const THING: &str = "batontest_thing";
pub const FILE: &str = "batontest_file";
/// `batontest_thing` under a new name: it takes over things through MoveResourceState.
pub const ITEM: &str = "batontest_item";
/// A resource with a nested attribute (protocol 6 only): `rules`, a list of objects.
pub const RULES: &str = "batontest_rules";
pub const ECHO: &str = "batontest_echo";
pub const UPPER: &str = "upper";
/// The schema version of `batontest_thing`.
pub const THING_VERSION: i64 = 1;

/// The provider's behaviour, written once for both protocol versions: expanded in a module
/// where `pb` names tfplugin6 or tfplugin5 (whose messages have the same shape) and `Response`
/// and `Status` are tonic's.
macro_rules! handlers {
    () => {
        use std::collections::HashMap;

        use pb::schema::{nested_block::NestingMode, Attribute, Block, NestedBlock};

        use crate::provider::{ECHO, FILE, ITEM, RULES, THING, THING_VERSION, UPPER};

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

        fn functions() -> HashMap<String, pb::Function> {
            let upper = pb::Function {
                parameters: vec![pb::function::Parameter {
                    name: "s".to_string(),
                    r#type: b"\"string\"".to_vec(),
                    ..Default::default()
                }],
                r#return: Some(pb::function::Return {
                    r#type: b"\"string\"".to_vec(),
                }),
                summary: "Upper-cases a string".to_string(),
                ..Default::default()
            };
            HashMap::from([(UPPER.to_string(), upper)])
        }

        pub(crate) fn schema() -> pb::get_provider_schema::Response {
            let thing = pb::Schema {
                version: THING_VERSION,
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
                                // Sensitive inside a block: marked per element.
                                attr("note", false, true, false, true),
                                // Computed inside a block: the provider sets it on create
                                // and relies on the prior value after (as framework
                                // providers do), for tests of the proposed new state.
                                attr("ref", false, false, true, false),
                            ],
                            ..Default::default()
                        }),
                        ..Default::default()
                    }],
                    ..Default::default()
                }),
            };
            let file = pb::Schema {
                version: 0,
                block: Some(Block {
                    attributes: vec![
                        attr("id", false, false, true, false),
                        attr("path", true, false, false, false),
                        attr("content", true, false, false, false),
                    ],
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
                    block: Some(Block {
                        attributes: vec![attr("prefix", false, true, false, false)],
                        ..Default::default()
                    }),
                }),
                resource_schemas: HashMap::from([
                    (
                        ITEM.to_string(),
                        pb::Schema {
                            version: 0,
                            ..thing.clone()
                        },
                    ),
                    (THING.to_string(), thing),
                    (FILE.to_string(), file),
                ]),
                data_source_schemas: HashMap::from([(ECHO.to_string(), echo)]),
                functions: if std::env::var("BATONTEST_SCHEMA_FUNCTIONS").as_deref() == Ok("0") {
                    HashMap::new()
                } else {
                    functions()
                },
                server_capabilities: Some(pb::ServerCapabilities {
                    plan_destroy: false,
                    move_resource_state: true,
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

        fn get_str<'a>(obj: &'a rmpv::Value, key: &str) -> Option<&'a str> {
            get(obj, key).and_then(|v| v.as_str())
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
        pub(crate) fn validate_resource(
            type_name: &str,
            config: Option<&pb::DynamicValue>,
        ) -> Result<Vec<pb::Diagnostic>, Status> {
            if type_name != THING {
                return Ok(Vec::new());
            }
            let config = decode(config)?;
            let tags = get(&config, "tag")
                .and_then(|t| t.as_array())
                .cloned()
                .unwrap_or_default();
            let mut diags = Vec::new();
            for (i, tag) in tags.iter().enumerate() {
                if get_str(tag, "key") == Some("") {
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

        /// ConfigureProvider: keeps the `prefix`, refusing `bad`.
        pub(crate) fn configure(
            provider: &BatonTest,
            config: Option<&pb::DynamicValue>,
        ) -> Result<Vec<pb::Diagnostic>, Status> {
            let config = decode(config)?;
            let prefix = get_str(&config, "prefix").map(str::to_owned);
            if prefix.as_deref() == Some("bad") {
                return Ok(vec![pb::Diagnostic {
                    attribute: Some(attr_path("prefix")),
                    detail: "batontest refuses the prefix \"bad\".".to_string(),
                    ..error_diag("Invalid prefix".to_string())
                }]);
            }
            provider.set_prefix(prefix);
            Ok(Vec::new())
        }

        pub(crate) async fn get_metadata(
            _request: pb::get_metadata::Request,
        ) -> Result<Response<pb::get_metadata::Response>, Status> {
            Ok(Response::new(pb::get_metadata::Response {
                server_capabilities: schema().server_capabilities,
                resources: [THING, FILE, ITEM]
                    .into_iter()
                    .map(|t| pb::get_metadata::ResourceMetadata {
                        type_name: t.to_string(),
                    })
                    .collect(),
                data_sources: vec![pb::get_metadata::DataSourceMetadata {
                    type_name: ECHO.to_string(),
                }],
                functions: vec![pb::get_metadata::FunctionMetadata {
                    name: UPPER.to_string(),
                }],
                ..Default::default()
            }))
        }

        pub(crate) async fn get_functions(
            _request: pb::get_functions::Request,
        ) -> Result<Response<pb::get_functions::Response>, Status> {
            Ok(Response::new(pb::get_functions::Response {
                functions: functions(),
                diagnostics: Vec::new(),
            }))
        }

        pub(crate) async fn call_function(
            request: pb::call_function::Request,
        ) -> Result<Response<pb::call_function::Response>, Status> {
            let fail = |text: &str, argument: Option<i64>| {
                Ok(Response::new(pb::call_function::Response {
                    result: None,
                    error: Some(pb::FunctionError {
                        text: text.to_string(),
                        function_argument: argument,
                    }),
                }))
            };
            if request.name != UPPER {
                return fail(&format!("no function {:?}", request.name), None);
            }
            let [arg] = request.arguments.as_slice() else {
                return fail("upper takes exactly one argument", None);
            };
            let Some(s) = decode(Some(arg))?.as_str().map(str::to_owned) else {
                return fail("upper takes a known string", Some(0));
            };
            if s.is_empty() {
                return fail("empty string", Some(0));
            }
            Ok(Response::new(pb::call_function::Response {
                result: Some(encode(&rmpv::Value::from(s.to_uppercase()))?),
                error: None,
            }))
        }

        pub(crate) async fn upgrade_resource_state(
            request: pb::upgrade_resource_state::Request,
        ) -> Result<Response<pb::upgrade_resource_state::Response>, Status> {
            let raw = request.raw_state.unwrap_or_default();
            let version = request.version;
            let upgraded = |json: Vec<u8>| {
                Ok(Response::new(pb::upgrade_resource_state::Response {
                    upgraded_state: Some(pb::DynamicValue {
                        msgpack: Vec::new(),
                        json,
                    }),
                    diagnostics: Vec::new(),
                }))
            };
            let refuse = |summary: &str, detail: String| {
                Ok(Response::new(pb::upgrade_resource_state::Response {
                    upgraded_state: None,
                    diagnostics: vec![pb::Diagnostic {
                        detail,
                        ..error_diag(summary.to_string())
                    }],
                }))
            };
            if request.type_name != THING || version == THING_VERSION {
                // Already in the current shape; Terraform accepts a JSON DynamicValue.
                return upgraded(raw.json);
            }
            if version != 0 {
                return refuse(
                    "Unsupported schema version",
                    format!(
                        "batontest_thing knows schema versions 0 and {THING_VERSION}, not {version}."
                    ),
                );
            }
            // Version 0 stored the name as `label`.
            let mut json: serde_json::Value = match serde_json::from_slice(&raw.json) {
                Ok(j) => j,
                Err(e) => return refuse("Invalid stored state", format!("not JSON: {e}")),
            };
            if let Some(obj) = json.as_object_mut() {
                if let Some(label) = obj.remove("label") {
                    obj.insert("name".to_string(), label);
                }
            }
            let bytes = serde_json::to_vec(&json)
                .map_err(|e| Status::internal(format!("cannot encode JSON: {e}")))?;
            upgraded(bytes)
        }

        /// `batontest_item` takes over a `batontest_thing` of this provider (a `moved` block
        /// between the two types): same attributes; a version-0 thing's `label` is its name.
        pub(crate) async fn move_resource_state(
            request: pb::move_resource_state::Request,
        ) -> Result<Response<pb::move_resource_state::Response>, Status> {
            let refuse = |summary: &str, detail: String| {
                Ok(Response::new(pb::move_resource_state::Response {
                    diagnostics: vec![pb::Diagnostic {
                        detail,
                        ..error_diag(summary.to_string())
                    }],
                    ..Default::default()
                }))
            };
            if request.target_type_name != ITEM
                || request.source_type_name != THING
                || !request.source_provider_address.ends_with("baton/batontest")
            {
                return refuse(
                    "Unsupported move",
                    format!(
                        "{ITEM} takes over {THING} objects of this provider only, not {} of {}.",
                        request.source_type_name, request.source_provider_address
                    ),
                );
            }
            let raw = request.source_state.map(|s| s.json).unwrap_or_default();
            let mut json: serde_json::Value = match serde_json::from_slice(&raw) {
                Ok(j) => j,
                Err(e) => return refuse("Invalid source state", format!("not JSON: {e}")),
            };
            if request.source_schema_version == 0 {
                if let Some(obj) = json.as_object_mut() {
                    if let Some(label) = obj.remove("label") {
                        obj.insert("name".to_string(), label);
                    }
                }
            }
            let bytes = serde_json::to_vec(&json)
                .map_err(|e| Status::internal(format!("cannot encode JSON: {e}")))?;
            Ok(Response::new(pb::move_resource_state::Response {
                target_state: Some(pb::DynamicValue {
                    msgpack: Vec::new(),
                    json: bytes,
                }),
                ..Default::default()
            }))
        }

        pub(crate) async fn plan_resource_change(
            request: pb::plan_resource_change::Request,
        ) -> Result<Response<pb::plan_resource_change::Response>, Status> {
            let req = request;
            let prior = decode(req.prior_state.as_ref())?;
            let mut planned = decode(req.proposed_new_state.as_ref())?;
            let mut requires_replace = Vec::new();
            if req.type_name == RULES {
                // A rule's computed `id` the proposed state leaves null is known only after
                // apply; so is the resource's.
                if !planned.is_nil() {
                    // Write-only: planned as null (the proposed state carries the value),
                    // except the token "leak", kept on purpose for tests of that check.
                    if get_str(&planned, "token_wo") != Some("leak") {
                        set(&mut planned, "token_wo", rmpv::Value::Nil);
                    }
                    if get(&planned, "id").is_none_or(rmpv::Value::is_nil) {
                        set(&mut planned, "id", unknown());
                    }
                    map_list(&mut planned, "rules", |rule| {
                        if get(rule, "id").is_none_or(rmpv::Value::is_nil) {
                            set(rule, "id", unknown());
                        }
                    });
                }
            } else if req.type_name == FILE {
                if !planned.is_nil() {
                    // The id is the path (unknown while the path is).
                    let path = get(&planned, "path").cloned().unwrap_or(rmpv::Value::Nil);
                    set(&mut planned, "id", path);
                    if !prior.is_nil() && get(&prior, "path") != get(&planned, "path") {
                        requires_replace.push(attr_path("path"));
                    }
                }
            } else {
                if get_str(&planned, "name") == Some("invalid") {
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
                    // A tag's computed `ref` the proposed state leaves null is known only
                    // after apply (what the client proposes decides whether it stays).
                    map_tags(&mut planned, |tag| {
                        if get(tag, "ref").is_none_or(rmpv::Value::is_nil) {
                            set(tag, "ref", unknown());
                        }
                    });
                    if !prior.is_nil() && get(&prior, "name") != get(&planned, "name") {
                        set(&mut planned, "id", unknown());
                        requires_replace.push(attr_path("name"));
                    }
                }
            }
            Ok(Response::new(pb::plan_resource_change::Response {
                planned_state: Some(encode(&planned)?),
                requires_replace,
                planned_private: req.prior_private,
                ..Default::default()
            }))
        }

        /// Calls `f` on every element of an object's `tag` list.
        fn map_tags(obj: &mut rmpv::Value, f: impl FnMut(&mut rmpv::Value)) {
            map_list(obj, "tag", f)
        }

        /// Calls `f` on every element of an object's list attribute `name`.
        fn map_list(obj: &mut rmpv::Value, name: &str, mut f: impl FnMut(&mut rmpv::Value)) {
            if let rmpv::Value::Map(entries) = obj {
                for (k, v) in entries.iter_mut() {
                    if k.as_str() == Some(name) {
                        if let rmpv::Value::Array(items) = v {
                            items.iter_mut().for_each(&mut f);
                        }
                    }
                }
            }
        }

        fn apply_error(
            summary: &str,
            detail: String,
        ) -> Result<Response<pb::apply_resource_change::Response>, Status> {
            Ok(Response::new(pb::apply_resource_change::Response {
                diagnostics: vec![pb::Diagnostic {
                    detail,
                    ..error_diag(summary.to_string())
                }],
                ..Default::default()
            }))
        }

        pub(crate) async fn apply_resource_change(
            provider: &BatonTest,
            request: pb::apply_resource_change::Request,
        ) -> Result<Response<pb::apply_resource_change::Response>, Status> {
            let req = request;
            let mut state = decode(req.planned_state.as_ref())?;
            if req.type_name == RULES {
                if !state.is_nil() {
                    if matches!(get(&state, "id"), Some(rmpv::Value::Ext(..)) | None) {
                        // The write-only token reaches apply in the configuration only; the
                        // id tells whether it came.
                        let config = decode(req.config.as_ref())?;
                        let id = match get_str(&config, "token_wo") {
                            Some(_) => "rules-with-token",
                            None => "rules",
                        };
                        set(&mut state, "id", rmpv::Value::from(id));
                    }
                    // Write-only: never in state.
                    set(&mut state, "token_wo", rmpv::Value::Nil);
                    map_list(&mut state, "rules", |rule| {
                        if matches!(get(rule, "id"), Some(rmpv::Value::Ext(..)) | None) {
                            let port = get(rule, "port").map(|p| p.to_string()).unwrap_or_default();
                            set(rule, "id", rmpv::Value::from(format!("rule-{port}")));
                        }
                    });
                }
                return Ok(Response::new(pb::apply_resource_change::Response {
                    new_state: Some(encode(&state)?),
                    private: req.planned_private,
                    ..Default::default()
                }));
            }
            if req.type_name == FILE {
                let prior = decode(req.prior_state.as_ref())?;
                if state.is_nil() {
                    if let Some(path) = get_str(&prior, "path") {
                        match std::fs::remove_file(path) {
                            Ok(()) => {}
                            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                            Err(e) => {
                                return apply_error("Cannot delete file", format!("{path}: {e}"))
                            }
                        }
                    }
                } else {
                    let (Some(path), Some(content)) =
                        (get_str(&state, "path"), get_str(&state, "content"))
                    else {
                        return apply_error(
                            "Unknown file",
                            "path and content must be known strings".to_string(),
                        );
                    };
                    if let Err(e) = std::fs::write(path, content) {
                        return apply_error("Cannot write file", format!("{path}: {e}"));
                    }
                }
                return Ok(Response::new(pb::apply_resource_change::Response {
                    new_state: Some(encode(&state)?),
                    private: req.planned_private,
                    ..Default::default()
                }));
            }
            if get_str(&state, "name") == Some("hang") {
                // For tests of call timeouts.
                eprintln!("batontest: hanging as asked by the name \"hang\"");
                std::future::pending::<()>().await;
            }
            if get_str(&state, "name") == Some("crash") {
                // For tests of a provider dying mid-call.
                eprintln!("batontest: crashing as asked by the name \"crash\"");
                std::process::exit(2);
            }
            map_tags(&mut state, |tag| {
                if matches!(get(tag, "ref"), Some(rmpv::Value::Ext(..)) | None) {
                    let r = format!("ref-{}", get_str(tag, "key").unwrap_or_default());
                    set(tag, "ref", rmpv::Value::from(r));
                }
            });
            if !state.is_nil() && matches!(get(&state, "id"), Some(rmpv::Value::Ext(..)) | None) {
                let Some(name) = get_str(&state, "name").map(str::to_owned) else {
                    return apply_error(
                        "name must be a known string",
                        "batontest_thing needs its name to make its id".to_string(),
                    );
                };
                let id = match provider.prefix() {
                    Some(prefix) => format!("{prefix}-thing-{name}"),
                    None => format!("thing-{name}"),
                };
                set(&mut state, "id", rmpv::Value::from(id));
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
            if req.type_name != FILE {
                return Ok(Response::new(pb::read_resource::Response {
                    new_state: req.current_state,
                    private: req.private,
                    ..Default::default()
                }));
            }
            let mut state = decode(req.current_state.as_ref())?;
            if let Some(path) = get_str(&state, "path").map(str::to_owned) {
                match std::fs::read(&path) {
                    Ok(bytes) => {
                        let content = String::from_utf8_lossy(&bytes).into_owned();
                        set(&mut state, "content", rmpv::Value::from(content));
                    }
                    // Gone: null, so that Terraform plans to create it again.
                    Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                        state = rmpv::Value::Nil;
                    }
                    Err(e) => {
                        return Ok(Response::new(pb::read_resource::Response {
                            diagnostics: vec![pb::Diagnostic {
                                detail: format!("{path}: {e}"),
                                ..error_diag("Cannot read file".to_string())
                            }],
                            ..Default::default()
                        }))
                    }
                }
            }
            Ok(Response::new(pb::read_resource::Response {
                new_state: Some(encode(&state)?),
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

        fn imported(
            type_name: String,
            state: rmpv::Value,
        ) -> Result<Response<pb::import_resource_state::Response>, Status> {
            Ok(Response::new(pb::import_resource_state::Response {
                imported_resources: vec![pb::import_resource_state::ImportedResource {
                    type_name,
                    state: Some(encode(&state)?),
                    ..Default::default()
                }],
                ..Default::default()
            }))
        }

        pub(crate) async fn import_resource_state(
            provider: &BatonTest,
            request: pb::import_resource_state::Request,
        ) -> Result<Response<pb::import_resource_state::Response>, Status> {
            let req = request;
            if req.type_name == FILE {
                // The id is the path; ReadResource fills in the content (or finds nothing).
                let state = rmpv::Value::Map(vec![
                    ("id".into(), req.id.as_str().into()),
                    ("path".into(), req.id.as_str().into()),
                    ("content".into(), rmpv::Value::Nil),
                ]);
                return imported(req.type_name, state);
            }
            // Ids are `thing-NAME` or `PREFIX-thing-NAME`: the name is all an import can
            // recover.
            let unprefixed = match provider.prefix() {
                Some(prefix) => req
                    .id
                    .strip_prefix(&format!("{prefix}-"))
                    .unwrap_or(&req.id)
                    .to_string(),
                None => req.id.clone(),
            };
            let Some(name) = unprefixed.strip_prefix("thing-").filter(|n| !n.is_empty()) else {
                return Ok(Response::new(pb::import_resource_state::Response {
                    diagnostics: vec![pb::Diagnostic {
                        detail: format!(
                            "Import ids look like \"thing-NAME\" or \"PREFIX-thing-NAME\", not {:?}.",
                            req.id
                        ),
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
            imported(req.type_name, state)
        }
    };
}

pub mod v5;
pub mod v6;
