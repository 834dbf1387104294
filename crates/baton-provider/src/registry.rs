//! Sets of providers: which resource and data source types and provider functions exist, the
//! provider each belongs to (its local name and source address, as plan JSON reports them) and
//! the schema of each provider's own `provider "NAME" { ... }` block.
//!
//! [`Registry::builtin`] is the set Baton ships, listed once here (adding a built-in type means adding
//! one line); nothing else in Baton lists types. A [`Registry`] is plain data: a caller (a
//! test, a plugin layer) builds its own — the built-in set plus more, or any other — and hands
//! it to the engine, which keeps it with the loaded configuration. Types are shared (`Arc`),
//! so copying a set to extend it is cheap.

use crate::builtin;
use crate::function::{self, FnError, ProviderFunction};
use crate::schema::Schema;
use crate::{DataSourceType, ResourceType};
use baton_eval::Value;
use std::collections::BTreeMap;
use std::sync::{Arc, OnceLock};

/// The provider a type belongs to.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ProviderInfo {
    /// The local name, e.g. `local`.
    pub name: &'static str,
    /// The source address, e.g. `registry.terraform.io/hashicorp/local`.
    pub source: &'static str,
}

impl ProviderInfo {
    /// `provider["registry.terraform.io/hashicorp/local"]`, as state records it.
    pub fn state_string(&self) -> String {
        format!("provider[\"{}\"]", self.source)
    }
}

const TERRAFORM: ProviderInfo = ProviderInfo {
    name: "terraform",
    source: "terraform.io/builtin/terraform",
};
const NULL: ProviderInfo = ProviderInfo {
    name: "null",
    source: "registry.terraform.io/hashicorp/null",
};
const LOCAL: ProviderInfo = ProviderInfo {
    name: "local",
    source: "registry.terraform.io/hashicorp/local",
};

/// A set of providers and their types.
#[derive(Clone, Default)]
pub struct Registry {
    resources: BTreeMap<&'static str, (ProviderInfo, Arc<dyn ResourceType>)>,
    data_sources: BTreeMap<&'static str, (ProviderInfo, Arc<dyn DataSourceType>)>,
    /// Every provider with a type here, by local name, with the schema of its `provider`
    /// block (empty unless [`Registry::add_provider`] said otherwise).
    providers: BTreeMap<&'static str, (ProviderInfo, Schema)>,
    /// Provider functions by provider local name, then function name.
    functions: BTreeMap<&'static str, BTreeMap<String, Arc<dyn ProviderFunction>>>,
}

impl std::fmt::Debug for Registry {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Registry")
            .field("providers", &self.providers.keys().collect::<Vec<_>>())
            .field("resources", &self.resources.keys().collect::<Vec<_>>())
            .field(
                "data_sources",
                &self.data_sources.keys().collect::<Vec<_>>(),
            )
            .field(
                "functions",
                &self
                    .functions
                    .iter()
                    .flat_map(|(p, fs)| fs.keys().map(move |f| format!("{p}::{f}")))
                    .collect::<Vec<_>>(),
            )
            .finish()
    }
}

impl Registry {
    /// An empty set.
    pub fn new() -> Registry {
        Registry::default()
    }

    /// The built-in set, built once and shared by every context that does not bring its own.
    /// Immutable: extending it means cloning it (`(*Registry::builtin()).clone()`), which
    /// copies pointers.
    pub fn builtin() -> Arc<Registry> {
        shared().clone()
    }

    /// A new copy of the built-in set (see [`Registry::builtin`] for the shared one).
    fn with_builtins() -> Registry {
        let mut r = Registry::new();
        r.add_resource(
            TERRAFORM,
            Arc::new(builtin::terraform_data::TerraformData::new()),
        );
        r.add_resource(NULL, Arc::new(builtin::null::NullResource::new()));
        r.add_data_source(NULL, Arc::new(builtin::null::NullDataSource::new()));
        r.add_resource(LOCAL, Arc::new(builtin::local::LocalFile::new(false)));
        r.add_resource(LOCAL, Arc::new(builtin::local::LocalFile::new(true)));
        r.add_data_source(LOCAL, Arc::new(builtin::local::LocalFileData::new(false)));
        r.add_data_source(LOCAL, Arc::new(builtin::local::LocalFileData::new(true)));
        builtin::random::register(&mut r);
        builtin::time::register(&mut r);
        builtin::shell::register(&mut r);
        builtin::external::register(&mut r);
        r
    }

    /// Declares provider `p` and the schema of its `provider` block, replacing an earlier
    /// declaration. A provider whose types are added without one has an empty schema: its
    /// block takes no arguments (as Terraform's `null`, `random`, `time`, `local` and
    /// `terraform` providers).
    pub fn add_provider(&mut self, p: ProviderInfo, config: Schema) {
        self.providers.insert(p.name, (p, config));
    }

    /// Adds (or replaces) a managed resource type of provider `p`.
    pub fn add_resource(&mut self, p: ProviderInfo, t: Arc<dyn ResourceType>) {
        self.declare(p);
        self.resources.insert(t.type_name(), (p, t));
    }

    /// Adds (or replaces) a data source type of provider `p`.
    pub fn add_data_source(&mut self, p: ProviderInfo, t: Arc<dyn DataSourceType>) {
        self.declare(p);
        self.data_sources.insert(t.type_name(), (p, t));
    }

    /// Adds (or replaces) function `name` of provider `p`, called as `provider::P::NAME(...)`.
    pub fn add_function(
        &mut self,
        p: ProviderInfo,
        name: impl Into<String>,
        f: Arc<dyn ProviderFunction>,
    ) {
        self.declare(p);
        self.functions
            .entry(p.name)
            .or_default()
            .insert(name.into(), f);
    }

    /// Function `name` of the provider with local name `provider`, if the set has it.
    pub fn function(&self, provider: &str, name: &str) -> Option<&dyn ProviderFunction> {
        self.functions.get(provider)?.get(name).map(|f| f.as_ref())
    }

    /// Calls function `name` of provider `provider` through [`function::call`] (arguments
    /// checked and converted, unknown in means unknown out); `None` if the set has no such
    /// function.
    pub fn call_function(
        &self,
        provider: &str,
        name: &str,
        args: &[Value],
    ) -> Option<Result<Value, FnError>> {
        let f = self.function(provider, name)?;
        Some(function::call(
            f,
            &format!("provider::{provider}::{name}"),
            args,
        ))
    }

    fn declare(&mut self, p: ProviderInfo) {
        self.providers
            .entry(p.name)
            .or_insert_with(|| (p, Schema::new()));
    }

    pub fn resource_type(&self, name: &str) -> Option<(ProviderInfo, &dyn ResourceType)> {
        self.resources.get(name).map(|(p, t)| (*p, t.as_ref()))
    }

    pub fn data_source(&self, name: &str) -> Option<(ProviderInfo, &dyn DataSourceType)> {
        self.data_sources.get(name).map(|(p, t)| (*p, t.as_ref()))
    }

    pub fn resource_names(&self) -> Vec<&'static str> {
        self.resources.keys().copied().collect()
    }

    pub fn data_source_names(&self) -> Vec<&'static str> {
        self.data_sources.keys().copied().collect()
    }

    /// The provider with local name `name` and the schema of its `provider` block, if the set
    /// has it.
    pub fn provider(&self, name: &str) -> Option<(ProviderInfo, &Schema)> {
        self.providers.get(name).map(|(p, s)| (*p, s))
    }

    /// The provider that a type name prefix implies (`local_file` → `local`), if in the set.
    pub fn provider_for_prefix(&self, type_name: &str) -> Option<ProviderInfo> {
        let prefix = type_name.split('_').next().unwrap_or(type_name);
        self.provider(prefix).map(|(p, _)| p)
    }
}

/// The built-in set, borrowed (see [`Registry::builtin`]).
pub fn registry() -> &'static Registry {
    shared()
}

fn shared() -> &'static Arc<Registry> {
    static R: OnceLock<Arc<Registry>> = OnceLock::new();
    R.get_or_init(|| Arc::new(Registry::with_builtins()))
}

#[cfg(test)]
mod tests {
    use super::{ProviderInfo, Registry};
    use crate::builtin::null::NullResource;
    use crate::schema::{Attr, Schema};
    use baton_eval::Type;
    use std::sync::Arc;

    const TEST: ProviderInfo = ProviderInfo {
        name: "test",
        source: "example.com/test/test",
    };

    #[test]
    fn a_set_extended_from_the_builtin_one_leaves_it_alone() {
        let mut set = (*Registry::builtin()).clone();
        set.add_provider(
            TEST,
            Schema::new().attr("token", Attr::optional(Type::String)),
        );
        // Any type will do: registered under another provider, it belongs to that one.
        set.add_resource(TEST, Arc::new(NullResource::new()));
        assert_eq!(
            set.resource_type("null_resource").map(|(p, _)| p),
            Some(TEST)
        );
        let builtin = Registry::builtin();
        assert_eq!(
            builtin.resource_type("null_resource").map(|(p, _)| p.name),
            Some("null")
        );
        assert!(builtin.provider("test").is_none());
        let (_, schema) = set.provider("test").expect("declared");
        assert!(schema.attrs.contains_key("token"));
    }

    #[test]
    fn builtin_providers_take_no_settings_but_shell_defaults() {
        let set = Registry::builtin();
        for name in ["terraform", "null", "local", "random", "time", "external"] {
            let (p, schema) = set.provider(name).unwrap_or_else(|| panic!("{name}"));
            assert_eq!(p.name, name);
            assert!(
                schema.attrs.is_empty() && schema.blocks.is_empty(),
                "{name}"
            );
        }
        // The shell provider's block takes the community provider's defaults.
        let (_, shell) = set.provider("shell").unwrap_or_else(|| panic!("shell"));
        let mut names: Vec<&str> = shell.attrs.keys().map(String::as_str).collect();
        names.sort_unstable();
        assert_eq!(
            names,
            [
                "enable_parallelism",
                "environment",
                "interpreter",
                "sensitive_environment"
            ]
        );
        assert_eq!(
            set.provider_for_prefix("random_pet").map(|p| p.name),
            Some("random")
        );
        assert!(set.provider_for_prefix("aws_instance").is_none());
    }
}
