//! The one place built-in resource and data source types are registered, with the provider
//! each belongs to (its local name and source address, as plan JSON reports them).
//!
//! Adding a type means adding one line here; nothing else in Baton lists types.

use crate::builtin;
use crate::{DataSourceType, ResourceType};
use std::collections::BTreeMap;
use std::sync::OnceLock;

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

pub struct Registry {
    resources: BTreeMap<&'static str, (ProviderInfo, Box<dyn ResourceType>)>,
    data_sources: BTreeMap<&'static str, (ProviderInfo, Box<dyn DataSourceType>)>,
}

impl Registry {
    fn new() -> Registry {
        let mut r = Registry {
            resources: BTreeMap::new(),
            data_sources: BTreeMap::new(),
        };
        r.resource(
            TERRAFORM,
            Box::new(builtin::terraform_data::TerraformData::new()),
        );
        r.resource(NULL, Box::new(builtin::null::NullResource::new()));
        r.data(NULL, Box::new(builtin::null::NullDataSource::new()));
        r.resource(LOCAL, Box::new(builtin::local::LocalFile::new(false)));
        r.resource(LOCAL, Box::new(builtin::local::LocalFile::new(true)));
        r.data(LOCAL, Box::new(builtin::local::LocalFileData::new(false)));
        r.data(LOCAL, Box::new(builtin::local::LocalFileData::new(true)));
        builtin::random::register(&mut r);
        builtin::time::register(&mut r);
        builtin::shell::register(&mut r);
        builtin::external::register(&mut r);
        r
    }

    /// Registers a managed resource type of provider `p`.
    pub(crate) fn resource(&mut self, p: ProviderInfo, t: Box<dyn ResourceType>) {
        self.resources.insert(t.type_name(), (p, t));
    }

    /// Registers a data source type of provider `p`.
    pub(crate) fn data(&mut self, p: ProviderInfo, t: Box<dyn DataSourceType>) {
        self.data_sources.insert(t.type_name(), (p, t));
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

    /// The provider that a type name prefix implies (`local_file` → `local`), if built in.
    pub fn provider_for_prefix(&self, type_name: &str) -> Option<ProviderInfo> {
        let prefix = type_name.split('_').next().unwrap_or(type_name);
        self.resources
            .values()
            .map(|(p, _)| *p)
            .chain(self.data_sources.values().map(|(p, _)| *p))
            .find(|p| p.name == prefix)
    }
}

/// The built-in registry.
pub fn registry() -> &'static Registry {
    static R: OnceLock<Registry> = OnceLock::new();
    R.get_or_init(Registry::new)
}
