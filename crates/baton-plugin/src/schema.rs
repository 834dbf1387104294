//! What a provider's GetProviderSchema (v6) or GetSchema (v5) answer says, as a typed model
//! independent of the wire types, and its conversion into Baton's provider [`baton_provider::Schema`].
//!
//! Plain data and conversions; no RPCs. Descriptions and deprecation messages are kept here
//! but not carried into Baton's schema (whose texts are `&'static str` for built-in providers).

use std::collections::BTreeMap;

use baton_eval::Type;
use magma_protocol::{tfplugin5 as pb5, tfplugin6 as pb6};

/// Everything a provider declares.
#[derive(Clone, Debug, Default)]
pub struct ProviderSchema {
    /// The `provider "NAME" { … }` configuration block.
    pub provider: TypeSchema,
    pub resources: BTreeMap<String, TypeSchema>,
    pub data_sources: BTreeMap<String, TypeSchema>,
    /// Whether the provider wants PlanResourceChange for destroys too.
    pub plan_destroy: bool,
    /// Whether the provider offers MoveResourceState (moves across resource types).
    pub move_resource_state: bool,
    /// The provider's functions (`provider::NAME::FN`), when GetProviderSchema lists them;
    /// older providers list them only through GetFunctions.
    pub functions: BTreeMap<String, FunctionSignature>,
}

/// What a provider function takes and returns.
#[derive(Clone, Debug, PartialEq)]
pub struct FunctionSignature {
    /// The positional parameters: name, type, and whether a null argument may be passed.
    pub params: Vec<(String, Type, bool)>,
    /// A final parameter taking zero or more arguments of its type.
    pub variadic: Option<(String, Type)>,
    pub ret: Type,
}

/// The schema of one resource type, data source or the provider configuration.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct TypeSchema {
    pub version: i64,
    pub block: Block,
}

#[derive(Clone, Debug, Default, PartialEq)]
pub struct Block {
    pub attributes: BTreeMap<String, Attribute>,
    pub blocks: BTreeMap<String, NestedBlock>,
    pub description: String,
    pub deprecated: bool,
}

#[derive(Clone, Debug, PartialEq)]
pub struct Attribute {
    /// The attribute's type; for a nested attribute (protocol 6) the object type its nested
    /// attributes imply, wrapped by its nesting mode.
    pub ty: Type,
    /// Protocol 6 nested attributes, with their nesting mode.
    pub nested: Option<(Nesting, BTreeMap<String, Attribute>)>,
    pub required: bool,
    pub optional: bool,
    pub computed: bool,
    pub sensitive: bool,
    pub write_only: bool,
    pub deprecated: bool,
    pub description: String,
}

#[derive(Clone, Debug, PartialEq)]
pub struct NestedBlock {
    pub nesting: Nesting,
    pub block: Block,
    pub min_items: i64,
    pub max_items: i64,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Nesting {
    Single,
    /// Like `Single`, but never null: absent means all attributes null.
    Group,
    List,
    Set,
    Map,
}

/// A provider diagnostic.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Diagnostic {
    pub error: bool,
    pub summary: String,
    pub detail: String,
    /// The attribute path it refers to, as Baton prints paths (`tag[0].key`).
    pub attribute: Option<String>,
}

/// A wire `Function` (protocol 5 or 6) as a [`FunctionSignature`]; `name` is for errors.
pub(crate) trait IntoSignature {
    fn into_signature(self, name: &str) -> Result<FunctionSignature, SchemaError>;
}

/// The conversion failed: a type or nesting mode this client does not understand.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SchemaError(pub String);

impl ProviderSchema {
    pub fn from_v6(r: pb6::get_provider_schema::Response) -> Result<ProviderSchema, SchemaError> {
        let conv = |m: std::collections::HashMap<String, pb6::Schema>| {
            m.into_iter()
                .map(|(k, s)| Ok((k, v6::schema(s)?)))
                .collect::<Result<BTreeMap<_, _>, SchemaError>>()
        };
        Ok(ProviderSchema {
            provider: r.provider.map(v6::schema).transpose()?.unwrap_or_default(),
            resources: conv(r.resource_schemas)?,
            data_sources: conv(r.data_source_schemas)?,
            plan_destroy: r
                .server_capabilities
                .as_ref()
                .is_some_and(|c| c.plan_destroy),
            move_resource_state: r
                .server_capabilities
                .as_ref()
                .is_some_and(|c| c.move_resource_state),
            functions: v6::functions(r.functions)?,
        })
    }

    pub fn from_v5(r: pb5::get_provider_schema::Response) -> Result<ProviderSchema, SchemaError> {
        let conv = |m: std::collections::HashMap<String, pb5::Schema>| {
            m.into_iter()
                .map(|(k, s)| Ok((k, v5::schema(s)?)))
                .collect::<Result<BTreeMap<_, _>, SchemaError>>()
        };
        Ok(ProviderSchema {
            provider: r.provider.map(v5::schema).transpose()?.unwrap_or_default(),
            resources: conv(r.resource_schemas)?,
            data_sources: conv(r.data_source_schemas)?,
            plan_destroy: r
                .server_capabilities
                .as_ref()
                .is_some_and(|c| c.plan_destroy),
            move_resource_state: r
                .server_capabilities
                .as_ref()
                .is_some_and(|c| c.move_resource_state),
            functions: v5::functions(r.functions)?,
        })
    }
}

impl TypeSchema {
    /// Baton's schema for this type. Nested attributes become attributes of their object
    /// type; `Group` blocks become `Single` ones.
    pub fn to_baton(&self) -> baton_provider::Schema {
        let mut s = block_to_baton(&self.block);
        s.version = u32::try_from(self.version).unwrap_or(0);
        s
    }
}

fn block_to_baton(b: &Block) -> baton_provider::Schema {
    let mut s = baton_provider::Schema::new();
    for (name, a) in &b.attributes {
        let mut attr = if a.required {
            baton_provider::Attr::required(a.ty.clone())
        } else if a.optional && a.computed {
            baton_provider::Attr::optional_computed(a.ty.clone())
        } else if a.optional {
            baton_provider::Attr::optional(a.ty.clone())
        } else {
            baton_provider::Attr::computed(a.ty.clone())
        };
        attr.sensitive = a.sensitive;
        attr.write_only = a.write_only;
        if let Some((nesting, inner)) = &a.nested {
            let inner = Block {
                attributes: inner.clone(),
                ..Block::default()
            };
            attr.nested = Some(Box::new(baton_provider::NestedBlock {
                nesting: baton_nesting(*nesting),
                schema: block_to_baton(&inner),
                min_items: 0,
                max_items: 0,
                force_new: false,
            }));
        }
        s = s.attr(name, attr);
    }
    for (name, nb) in &b.blocks {
        let nesting = baton_nesting(nb.nesting);
        s = s.block(
            name,
            baton_provider::NestedBlock {
                nesting,
                schema: block_to_baton(&nb.block),
                min_items: usize::try_from(nb.min_items).unwrap_or(0),
                max_items: usize::try_from(nb.max_items).unwrap_or(0),
                force_new: false,
            },
        );
    }
    s
}

/// A type as the wire writes it (cty's JSON type syntax); `what` names its owner in errors
/// (`attribute name`, `function upper parameter s`).
fn baton_nesting(n: Nesting) -> baton_provider::Nesting {
    match n {
        Nesting::Single | Nesting::Group => baton_provider::Nesting::Single,
        Nesting::List => baton_provider::Nesting::List,
        Nesting::Set => baton_provider::Nesting::Set,
        Nesting::Map => baton_provider::Nesting::Map,
    }
}

fn parse_type(raw: &[u8], what: &str) -> Result<Type, SchemaError> {
    let json: serde_json::Value = serde_json::from_slice(raw)
        .map_err(|e| SchemaError(format!("{what}: type is not JSON: {e}")))?;
    Type::from_json(&json).ok_or_else(|| SchemaError(format!("{what}: unknown type {json}")))
}

/// The object type of a nested attribute's objects: its attributes, those not required
/// optional (a configuration may leave them out, as in Terraform).
fn nested_object_type(attrs: &BTreeMap<String, Attribute>) -> Type {
    Type::Object(std::sync::Arc::new(baton_eval::types::ObjectType {
        attrs: attrs
            .iter()
            .map(|(k, v)| (k.clone(), v.ty.clone()))
            .collect(),
        optional: attrs
            .iter()
            .filter(|(_, v)| !v.required)
            .map(|(k, _)| k.clone())
            .collect(),
    }))
}

fn wrap(nesting: Nesting, inner: Type) -> Type {
    match nesting {
        Nesting::Single | Nesting::Group => inner,
        Nesting::List => Type::list(inner),
        Nesting::Set => Type::set(inner),
        Nesting::Map => Type::map(inner),
    }
}

/// The wire types of both protocol versions have the same fields for blocks; one macro writes
/// the two conversions so they cannot drift apart.
macro_rules! block_conversion {
    ($pb:ident, $nested_attr:expr) => {
        pub(super) fn schema(s: $pb::Schema) -> Result<TypeSchema, SchemaError> {
            Ok(TypeSchema {
                version: s.version,
                block: block(s.block.unwrap_or_default())?,
            })
        }

        pub(super) fn block(b: $pb::schema::Block) -> Result<Block, SchemaError> {
            let mut attributes = BTreeMap::new();
            for a in b.attributes {
                let name = a.name.clone();
                attributes.insert(name, attribute(a)?);
            }
            let mut blocks = BTreeMap::new();
            for nb in b.block_types {
                use $pb::schema::nested_block::NestingMode as M;
                let nesting = match M::try_from(nb.nesting) {
                    Ok(M::Single) => Nesting::Single,
                    Ok(M::Group) => Nesting::Group,
                    Ok(M::List) => Nesting::List,
                    Ok(M::Set) => Nesting::Set,
                    Ok(M::Map) => Nesting::Map,
                    _ => {
                        return Err(SchemaError(format!(
                            "block {}: unknown nesting mode {}",
                            nb.type_name, nb.nesting
                        )))
                    }
                };
                blocks.insert(
                    nb.type_name,
                    NestedBlock {
                        nesting,
                        block: block(nb.block.unwrap_or_default())?,
                        min_items: nb.min_items,
                        max_items: nb.max_items,
                    },
                );
            }
            Ok(Block {
                attributes,
                blocks,
                description: b.description,
                deprecated: b.deprecated,
            })
        }

        pub(super) fn functions(
            fs: std::collections::HashMap<String, $pb::Function>,
        ) -> Result<BTreeMap<String, FunctionSignature>, SchemaError> {
            fs.into_iter()
                .map(|(name, f)| Ok((name.clone(), function(&name, f)?)))
                .collect()
        }

        impl IntoSignature for $pb::Function {
            fn into_signature(self, name: &str) -> Result<FunctionSignature, SchemaError> {
                function(name, self)
            }
        }

        fn function(name: &str, f: $pb::Function) -> Result<FunctionSignature, SchemaError> {
            let param = |p: &$pb::function::Parameter| {
                parse_type(&p.r#type, &format!("function {name} parameter {}", p.name))
            };
            let mut params = Vec::new();
            for p in &f.parameters {
                params.push((p.name.clone(), param(p)?, p.allow_null_value));
            }
            let variadic = match &f.variadic_parameter {
                Some(p) => Some((p.name.clone(), param(p)?)),
                None => None,
            };
            let Some(ret) = f.r#return else {
                return Err(SchemaError(format!("function {name}: no return type")));
            };
            Ok(FunctionSignature {
                params,
                variadic,
                ret: parse_type(&ret.r#type, &format!("function {name} return"))?,
            })
        }

        fn attribute(a: $pb::schema::Attribute) -> Result<Attribute, SchemaError> {
            let nested: Option<(Nesting, BTreeMap<String, Attribute>)> = $nested_attr(&a)?;
            let ty = match &nested {
                Some((nesting, attrs)) => wrap(*nesting, nested_object_type(attrs)),
                None => parse_type(&a.r#type, &format!("attribute {}", a.name))?,
            };
            Ok(Attribute {
                ty,
                nested,
                required: a.required,
                optional: a.optional,
                computed: a.computed,
                sensitive: a.sensitive,
                write_only: a.write_only,
                deprecated: a.deprecated,
                description: a.description,
            })
        }
    };
}

mod v6 {
    use super::*;

    block_conversion!(pb6, nested_attributes);

    type Nested = Option<(Nesting, BTreeMap<String, Attribute>)>;

    fn nested_attributes(a: &pb6::schema::Attribute) -> Result<Nested, SchemaError> {
        let Some(obj) = &a.nested_type else {
            return Ok(None);
        };
        use pb6::schema::object::NestingMode as M;
        let nesting = match M::try_from(obj.nesting) {
            Ok(M::Single) => Nesting::Single,
            Ok(M::List) => Nesting::List,
            Ok(M::Set) => Nesting::Set,
            Ok(M::Map) => Nesting::Map,
            _ => {
                return Err(SchemaError(format!(
                    "attribute {}: unknown nesting mode {}",
                    a.name, obj.nesting
                )))
            }
        };
        let mut attrs = BTreeMap::new();
        for inner in &obj.attributes {
            attrs.insert(inner.name.clone(), attribute(inner.clone())?);
        }
        Ok(Some((nesting, attrs)))
    }
}

mod v5 {
    use super::*;

    block_conversion!(pb5, no_nested_attributes);

    type Nested = Option<(Nesting, BTreeMap<String, Attribute>)>;

    /// Protocol 5 has no nested attributes.
    fn no_nested_attributes(_: &pb5::schema::Attribute) -> Result<Nested, SchemaError> {
        Ok(None)
    }
}

/// One step of a wire attribute path, for printing.
pub(crate) enum PathPart {
    Attr(String),
    Key(String),
    Index(i64),
}

/// A path as Baton prints it: `tag[0].key`, `labels["env"]`.
pub(crate) fn path_string(parts: impl Iterator<Item = PathPart>) -> String {
    let mut out = String::new();
    for p in parts {
        match p {
            PathPart::Attr(n) => {
                if !out.is_empty() {
                    out.push('.');
                }
                out.push_str(&n);
            }
            PathPart::Key(k) => out.push_str(&format!("[{k:?}]")),
            PathPart::Index(i) => out.push_str(&format!("[{i}]")),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use pb6::schema::{object::NestingMode as ObjectNesting, Attribute as A, Object};

    fn string_attr(name: &str) -> A {
        A {
            name: name.to_string(),
            r#type: br#""string""#.to_vec(),
            optional: true,
            ..Default::default()
        }
    }

    #[test]
    fn nested_attributes_and_write_only_from_protocol_6() {
        let mut rules = A {
            name: "rules".to_string(),
            nested_type: Some(Object {
                attributes: vec![
                    string_attr("port"),
                    A {
                        name: "ports".to_string(),
                        r#type: br#"["list","number"]"#.to_vec(),
                        required: true,
                        ..Default::default()
                    },
                ],
                nesting: ObjectNesting::Set as i32,
                ..Default::default()
            }),
            ..Default::default()
        };
        rules.optional = true;
        let password = A {
            write_only: true,
            sensitive: true,
            ..string_attr("password")
        };
        let response = pb6::get_provider_schema::Response {
            resource_schemas: std::collections::HashMap::from([(
                "x_fw".to_string(),
                pb6::Schema {
                    version: 3,
                    block: Some(pb6::schema::Block {
                        attributes: vec![rules, password],
                        ..Default::default()
                    }),
                },
            )]),
            ..Default::default()
        };
        let schema = ProviderSchema::from_v6(response).expect("converts");
        let fw = &schema.resources["x_fw"];
        assert_eq!(fw.version, 3);
        let rules = &fw.block.attributes["rules"];
        let Some((Nesting::Set, inner)) = &rules.nested else {
            panic!("nested set expected: {rules:?}");
        };
        assert!(inner["ports"].required);
        // The inner attributes that are not required are optional in the objects' type, so a
        // configuration may leave them out.
        assert_eq!(
            rules.ty.to_json().to_string(),
            r#"["set",["object",{"port":"string","ports":["list","number"]},["port"]]]"#
        );
        let password = &fw.block.attributes["password"];
        assert!(password.write_only && password.sensitive);
        let baton = fw.to_baton();
        assert_eq!(baton.version, 3);
        assert!(baton.attrs["password"].sensitive);
        assert!(baton.attrs["rules"].optional);
        let nested = baton.attrs["rules"]
            .nested
            .as_deref()
            .expect("nested attribute");
        assert_eq!(nested.nesting, baton_provider::Nesting::Set);
        assert!(nested.schema.attrs["ports"].required);
    }

    #[test]
    fn group_blocks_from_protocol_5_and_bad_types() {
        let response = pb5::get_provider_schema::Response {
            provider: Some(pb5::Schema {
                version: 0,
                block: Some(pb5::schema::Block {
                    block_types: vec![pb5::schema::NestedBlock {
                        type_name: "features".to_string(),
                        nesting: pb5::schema::nested_block::NestingMode::Group as i32,
                        block: Some(pb5::schema::Block::default()),
                        ..Default::default()
                    }],
                    ..Default::default()
                }),
            }),
            ..Default::default()
        };
        let schema = ProviderSchema::from_v5(response).expect("converts");
        assert_eq!(
            schema.provider.block.blocks["features"].nesting,
            Nesting::Group
        );
        assert_eq!(
            schema.provider.to_baton().blocks["features"].nesting,
            baton_provider::Nesting::Single
        );

        let bad = pb6::get_provider_schema::Response {
            data_source_schemas: std::collections::HashMap::from([(
                "x_d".to_string(),
                pb6::Schema {
                    version: 0,
                    block: Some(pb6::schema::Block {
                        attributes: vec![A {
                            r#type: br#""complex""#.to_vec(),
                            ..string_attr("weird")
                        }],
                        ..Default::default()
                    }),
                },
            )]),
            ..Default::default()
        };
        let err = ProviderSchema::from_v6(bad).expect_err("unknown type");
        assert!(err.0.contains("weird"), "{err:?}");
    }

    #[test]
    fn function_signatures_with_variadic_parameters_and_bad_types() {
        use pb5::function::{Parameter, Return};
        let param = |name: &str, ty: &[u8], allow_null_value| Parameter {
            name: name.to_string(),
            r#type: ty.to_vec(),
            allow_null_value,
            ..Default::default()
        };
        let join = pb5::Function {
            parameters: vec![param("sep", br#""string""#, true)],
            variadic_parameter: Some(param("parts", br#"["list","string"]"#, false)),
            r#return: Some(Return {
                r#type: br#""dynamic""#.to_vec(),
            }),
            ..Default::default()
        };
        let response = pb5::get_provider_schema::Response {
            functions: std::collections::HashMap::from([("join".to_string(), join.clone())]),
            ..Default::default()
        };
        let schema = ProviderSchema::from_v5(response).expect("converts");
        assert_eq!(
            schema.functions["join"],
            FunctionSignature {
                params: vec![("sep".to_string(), Type::String, true)],
                variadic: Some(("parts".to_string(), Type::list(Type::String))),
                ret: Type::Dynamic,
            }
        );

        let bad = pb5::Function {
            r#return: None,
            ..join.clone()
        };
        let err = bad.into_signature("join").expect_err("no return type");
        assert!(err.0.contains("join"), "{err:?}");
        let bad = pb5::Function {
            parameters: vec![param("sep", br#""complex""#, false)],
            ..join
        };
        let err = bad.into_signature("join").expect_err("unknown type");
        assert!(err.0.contains("parameter sep"), "{err:?}");
    }
}
