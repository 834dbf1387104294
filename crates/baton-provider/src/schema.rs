//! Resource and data source schemas: attributes (type, required/optional/computed, sensitive,
//! forces replacement, default) and nested blocks, in the shape of Terraform's provider
//! schemas so that configurations written for the public providers validate the same way.
//!
//! Plain data plus the object type a schema implies; no behaviour.

use baton_eval::{Type, Value};
use std::collections::BTreeMap;

#[derive(Clone, Debug)]
pub struct Attr {
    pub ty: Type,
    pub required: bool,
    pub optional: bool,
    pub computed: bool,
    pub sensitive: bool,
    /// A change to this attribute replaces the object.
    pub force_new: bool,
    /// The value planned when the configuration leaves the attribute unset.
    pub default: Option<Value>,
    pub description: &'static str,
    pub deprecated: Option<&'static str>,
    /// Write-only (Terraform 1.11): the configuration's value reaches the provider's calls
    /// (the proposed new state carries it, as Terraform's does) but the provider must plan and
    /// return null for it, so it is never stored.
    pub write_only: bool,
    /// A nested attribute (a plugin's protocol 6 `nested_type`): its nesting and the schema of
    /// its objects; `ty` is the type they imply. `None` for a plain attribute.
    pub nested: Option<Box<NestedBlock>>,
}

impl Attr {
    fn base(ty: Type) -> Attr {
        Attr {
            nested: None,
            write_only: false,
            ty,
            required: false,
            optional: false,
            computed: false,
            sensitive: false,
            force_new: false,
            default: None,
            description: "",
            deprecated: None,
        }
    }
    pub fn required(ty: Type) -> Attr {
        Attr {
            required: true,
            ..Attr::base(ty)
        }
    }
    pub fn optional(ty: Type) -> Attr {
        Attr {
            optional: true,
            ..Attr::base(ty)
        }
    }
    pub fn computed(ty: Type) -> Attr {
        Attr {
            computed: true,
            ..Attr::base(ty)
        }
    }
    pub fn optional_computed(ty: Type) -> Attr {
        Attr {
            optional: true,
            computed: true,
            ..Attr::base(ty)
        }
    }
    pub fn sensitive(mut self) -> Attr {
        self.sensitive = true;
        self
    }
    pub fn force_new(mut self) -> Attr {
        self.force_new = true;
        self
    }
    pub fn default(mut self, v: Value) -> Attr {
        self.default = Some(v);
        self.computed = true;
        self
    }
    pub fn describe(mut self, d: &'static str) -> Attr {
        self.description = d;
        self
    }
    pub fn deprecated(mut self, why: &'static str) -> Attr {
        self.deprecated = Some(why);
        self
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Nesting {
    Single,
    List,
    Set,
    Map,
}

#[derive(Clone, Debug)]
pub struct NestedBlock {
    pub nesting: Nesting,
    pub schema: Schema,
    pub min_items: usize,
    pub max_items: usize,
    pub force_new: bool,
}

#[derive(Clone, Debug, Default)]
pub struct Schema {
    pub version: u32,
    pub attrs: BTreeMap<String, Attr>,
    pub blocks: BTreeMap<String, NestedBlock>,
    pub description: &'static str,
    /// The object type, computed once (types are shared, so every value of this schema
    /// points at the same type).
    cached_type: std::sync::OnceLock<Type>,
}

impl Schema {
    pub fn new() -> Schema {
        Schema::default()
    }
    pub fn attr(mut self, name: &str, a: Attr) -> Schema {
        self.attrs.insert(name.to_string(), a);
        self.cached_type = std::sync::OnceLock::new();
        self
    }
    pub fn block(mut self, name: &str, b: NestedBlock) -> Schema {
        self.blocks.insert(name.to_string(), b);
        self.cached_type = std::sync::OnceLock::new();
        self
    }

    /// The object type of a value conforming to this schema.
    pub fn object_type(&self) -> Type {
        self.cached_type
            .get_or_init(|| self.compute_object_type())
            .clone()
    }

    fn compute_object_type(&self) -> Type {
        let mut attrs: BTreeMap<String, Type> = self
            .attrs
            .iter()
            .map(|(k, a)| (k.clone(), a.ty.clone()))
            .collect();
        for (k, b) in &self.blocks {
            let inner = b.schema.object_type();
            let t = match b.nesting {
                Nesting::Single => inner,
                Nesting::List => Type::list(inner),
                Nesting::Set => Type::set(inner),
                Nesting::Map => Type::map(inner),
            };
            attrs.insert(k.clone(), t);
        }
        Type::object(attrs)
    }

    /// Every argument name a configuration may set (for "did you mean" suggestions).
    pub fn settable_names(&self) -> Vec<&str> {
        let mut v: Vec<&str> = self
            .attrs
            .iter()
            .filter(|(_, a)| a.required || a.optional)
            .map(|(k, _)| k.as_str())
            .collect();
        v.extend(self.blocks.keys().map(String::as_str));
        v
    }
}
