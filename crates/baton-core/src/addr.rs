//! Addresses of modules, resources and resource instances, in Terraform's syntax:
//! `module.net["a"].terraform_data.x[0]`, `data.local_file.cfg`.
//!
//! Addresses are plain values: parsing, printing and ordering (Terraform's order: module path,
//! then mode, type, name, then key with integers numerically). No knowledge of configuration.

use std::cmp::Ordering;
use std::fmt;

/// The key of one instance of a resource or module with `count` or `for_each`.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum InstanceKey {
    Int(i64),
    Str(String),
}

impl Ord for InstanceKey {
    fn cmp(&self, other: &Self) -> Ordering {
        match (self, other) {
            (InstanceKey::Int(a), InstanceKey::Int(b)) => a.cmp(b),
            (InstanceKey::Str(a), InstanceKey::Str(b)) => a.cmp(b),
            (InstanceKey::Int(_), InstanceKey::Str(_)) => Ordering::Less,
            (InstanceKey::Str(_), InstanceKey::Int(_)) => Ordering::Greater,
        }
    }
}

impl PartialOrd for InstanceKey {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl fmt::Display for InstanceKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            InstanceKey::Int(i) => write!(f, "[{i}]"),
            InstanceKey::Str(s) => write!(f, "[{}]", quote(s)),
        }
    }
}

/// Quotes a string the way Terraform prints keys in addresses.
pub fn quote(s: &str) -> String {
    serde_json::to_string(s).unwrap_or_else(|_| format!("\"{s}\""))
}

/// A path of module calls in the configuration (no instance keys): `["net", "subnet"]`.
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ModulePath(pub Vec<String>);

impl ModulePath {
    pub fn root() -> ModulePath {
        ModulePath(Vec::new())
    }
    pub fn is_root(&self) -> bool {
        self.0.is_empty()
    }
    pub fn child(&self, name: &str) -> ModulePath {
        let mut v = self.0.clone();
        v.push(name.to_string());
        ModulePath(v)
    }
    pub fn parent(&self) -> Option<ModulePath> {
        if self.0.is_empty() {
            None
        } else {
            Some(ModulePath(self.0[..self.0.len() - 1].to_vec()))
        }
    }
}

impl fmt::Display for ModulePath {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, m) in self.0.iter().enumerate() {
            if i > 0 {
                f.write_str(".")?;
            }
            write!(f, "module.{m}")?;
        }
        Ok(())
    }
}

/// A path of module instances: `module.net["a"].module.sub`.
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ModuleInstance(pub Vec<(String, Option<InstanceKey>)>);

impl ModuleInstance {
    pub fn root() -> ModuleInstance {
        ModuleInstance(Vec::new())
    }
    pub fn is_root(&self) -> bool {
        self.0.is_empty()
    }
    pub fn child(&self, name: &str, key: Option<InstanceKey>) -> ModuleInstance {
        let mut v = self.0.clone();
        v.push((name.to_string(), key));
        ModuleInstance(v)
    }
    pub fn parent(&self) -> Option<ModuleInstance> {
        if self.0.is_empty() {
            None
        } else {
            Some(ModuleInstance(self.0[..self.0.len() - 1].to_vec()))
        }
    }
    /// The configuration path of this instance (keys dropped).
    pub fn path(&self) -> ModulePath {
        ModulePath(self.0.iter().map(|(n, _)| n.clone()).collect())
    }
}

impl fmt::Display for ModuleInstance {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, (m, k)) in self.0.iter().enumerate() {
            if i > 0 {
                f.write_str(".")?;
            }
            write!(f, "module.{m}")?;
            if let Some(k) = k {
                write!(f, "{k}")?;
            }
        }
        Ok(())
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum ResourceMode {
    Managed,
    Data,
}

impl ResourceMode {
    pub fn as_str(self) -> &'static str {
        match self {
            ResourceMode::Managed => "managed",
            ResourceMode::Data => "data",
        }
    }
}

/// A resource in one module: `terraform_data.x` or `data.local_file.y`.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct ResourceAddr {
    pub mode: ResourceMode,
    pub type_: String,
    pub name: String,
}

impl ResourceAddr {
    pub fn managed(type_: &str, name: &str) -> ResourceAddr {
        ResourceAddr {
            mode: ResourceMode::Managed,
            type_: type_.to_string(),
            name: name.to_string(),
        }
    }
    pub fn data(type_: &str, name: &str) -> ResourceAddr {
        ResourceAddr {
            mode: ResourceMode::Data,
            type_: type_.to_string(),
            name: name.to_string(),
        }
    }
}

impl Ord for ResourceAddr {
    fn cmp(&self, other: &Self) -> Ordering {
        // Terraform lists managed resources before data resources within a module.
        self.mode
            .cmp(&other.mode)
            .then_with(|| self.type_.cmp(&other.type_))
            .then_with(|| self.name.cmp(&other.name))
    }
}

impl PartialOrd for ResourceAddr {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl fmt::Display for ResourceAddr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.mode == ResourceMode::Data {
            f.write_str("data.")?;
        }
        write!(f, "{}.{}", self.type_, self.name)
    }
}

/// One resource instance anywhere in the module tree.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct InstanceAddr {
    pub module: ModuleInstance,
    pub resource: ResourceAddr,
    pub key: Option<InstanceKey>,
}

impl InstanceAddr {
    pub fn new(
        module: ModuleInstance,
        resource: ResourceAddr,
        key: Option<InstanceKey>,
    ) -> InstanceAddr {
        InstanceAddr {
            module,
            resource,
            key,
        }
    }

    /// The resource this is an instance of, with its module instance, as `module.a.x.y`.
    pub fn resource_string(&self) -> String {
        if self.module.is_root() {
            self.resource.to_string()
        } else {
            format!("{}.{}", self.module, self.resource)
        }
    }

    /// Parses a full instance address such as `module.a["k"].terraform_data.x[0]`.
    pub fn parse(s: &str) -> Result<InstanceAddr, AddrParseError> {
        let mut p = Parser { s, pos: 0 };
        let addr = p.instance()?;
        if p.pos != s.len() {
            return Err(p.err("unexpected characters after the address"));
        }
        Ok(addr)
    }

    /// Does this instance fall under `target`, a `--target` style address (a module, a resource
    /// or one instance)?
    pub fn is_under(&self, target: &Target) -> bool {
        match target {
            Target::Module(m) => {
                self.module.0.len() >= m.0.len()
                    && self
                        .module
                        .0
                        .iter()
                        .zip(&m.0)
                        .all(|(a, b)| a.0 == b.0 && (b.1.is_none() || a.1 == b.1))
            }
            Target::Resource(module, r) => &self.module == module && &self.resource == r,
            Target::Instance(i) => i == self,
        }
    }
}

impl Ord for InstanceAddr {
    fn cmp(&self, other: &Self) -> Ordering {
        self.module
            .cmp(&other.module)
            .then_with(|| self.resource.cmp(&other.resource))
            .then_with(|| self.key.cmp(&other.key))
    }
}

impl PartialOrd for InstanceAddr {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl fmt::Display for InstanceAddr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if !self.module.is_root() {
            write!(f, "{}.", self.module)?;
        }
        write!(f, "{}", self.resource)?;
        if let Some(k) = &self.key {
            write!(f, "{k}")?;
        }
        Ok(())
    }
}

/// What a `--target` names: a module instance, a whole resource, or one instance.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Target {
    Module(ModuleInstance),
    Resource(ModuleInstance, ResourceAddr),
    Instance(InstanceAddr),
}

impl Target {
    pub fn parse(s: &str) -> Result<Target, AddrParseError> {
        let mut p = Parser { s, pos: 0 };
        let module = p.module_prefix()?;
        if p.pos == s.len() {
            if module.is_root() {
                return Err(p.err("an address is required"));
            }
            return Ok(Target::Module(module));
        }
        let resource = p.resource()?;
        if p.pos == s.len() {
            return Ok(Target::Resource(module, resource));
        }
        let key = p.key()?;
        if p.pos != s.len() {
            return Err(p.err("unexpected characters after the address"));
        }
        Ok(Target::Instance(InstanceAddr {
            module,
            resource,
            key: Some(key),
        }))
    }
}

impl fmt::Display for Target {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Target::Module(m) => write!(f, "{m}"),
            Target::Resource(m, r) if m.is_root() => write!(f, "{r}"),
            Target::Resource(m, r) => write!(f, "{m}.{r}"),
            Target::Instance(i) => write!(f, "{i}"),
        }
    }
}

#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("invalid address {input:?} at character {offset}: {message}")]
pub struct AddrParseError {
    pub input: String,
    pub offset: usize,
    pub message: String,
}

struct Parser<'a> {
    s: &'a str,
    pos: usize,
}

impl Parser<'_> {
    fn err(&self, message: &str) -> AddrParseError {
        AddrParseError {
            input: self.s.to_string(),
            offset: self.pos + 1,
            message: message.to_string(),
        }
    }

    fn rest(&self) -> &str {
        &self.s[self.pos..]
    }

    fn ident(&mut self) -> Result<String, AddrParseError> {
        let rest = self.rest();
        let len = rest
            .char_indices()
            .find(|(i, c)| !(c.is_alphanumeric() || *c == '_' || (*i > 0 && *c == '-')))
            .map(|(i, _)| i)
            .unwrap_or(rest.len());
        if len == 0 || rest.starts_with(|c: char| c.is_ascii_digit()) {
            return Err(self.err("expected a name"));
        }
        let id = rest[..len].to_string();
        self.pos += len;
        Ok(id)
    }

    fn eat(&mut self, t: &str) -> bool {
        if self.rest().starts_with(t) {
            self.pos += t.len();
            true
        } else {
            false
        }
    }

    fn key(&mut self) -> Result<InstanceKey, AddrParseError> {
        if !self.eat("[") {
            return Err(self.err("expected '['"));
        }
        let rest = self.rest();
        let key = if rest.starts_with('"') {
            // Find the closing quote, honouring backslash escapes.
            let mut end = None;
            let mut escaped = false;
            for (i, c) in rest.char_indices().skip(1) {
                if escaped {
                    escaped = false;
                } else if c == '\\' {
                    escaped = true;
                } else if c == '"' {
                    end = Some(i);
                    break;
                }
            }
            let end = end.ok_or_else(|| self.err("unterminated string key"))?;
            let lit = &rest[..=end];
            let s: String =
                serde_json::from_str(lit).map_err(|_| self.err("invalid string key"))?;
            self.pos += end + 1;
            InstanceKey::Str(s)
        } else {
            let len = rest
                .find(|c: char| !(c.is_ascii_digit() || c == '-'))
                .unwrap_or(rest.len());
            let n: i64 = rest[..len]
                .parse()
                .map_err(|_| self.err("expected a number or a quoted string"))?;
            self.pos += len;
            InstanceKey::Int(n)
        };
        if !self.eat("]") {
            return Err(self.err("expected ']'"));
        }
        Ok(key)
    }

    fn module_prefix(&mut self) -> Result<ModuleInstance, AddrParseError> {
        let mut m = ModuleInstance::root();
        while self.rest().starts_with("module.") {
            self.pos += "module.".len();
            let name = self.ident()?;
            let key = if self.rest().starts_with('[') {
                Some(self.key()?)
            } else {
                None
            };
            m.0.push((name, key));
            if !self.eat(".") {
                break;
            }
        }
        Ok(m)
    }

    fn resource(&mut self) -> Result<ResourceAddr, AddrParseError> {
        let mut mode = ResourceMode::Managed;
        if self.rest().starts_with("data.") {
            self.pos += "data.".len();
            mode = ResourceMode::Data;
        }
        let type_ = self.ident()?;
        if !self.eat(".") {
            return Err(self.err("expected '.' and a resource name after the resource type"));
        }
        let name = self.ident()?;
        Ok(ResourceAddr { mode, type_, name })
    }

    fn instance(&mut self) -> Result<InstanceAddr, AddrParseError> {
        let module = self.module_prefix()?;
        let resource = self.resource()?;
        let key = if self.rest().starts_with('[') {
            Some(self.key()?)
        } else {
            None
        };
        Ok(InstanceAddr {
            module,
            resource,
            key,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parse_and_print_round_trip() {
        for s in [
            "terraform_data.x",
            "terraform_data.x[0]",
            "data.local_file.cfg",
            "module.net[\"a\"].terraform_data.x[3]",
            "module.a.module.b.null_resource.n[\"k \\\"q\\\"\"]",
        ] {
            let a = InstanceAddr::parse(s).expect(s);
            assert_eq!(a.to_string(), s);
        }
    }

    #[test]
    fn bad_addresses_are_errors() {
        for s in ["", "x", "terraform_data.", "terraform_data.x[", "a.b[1]c"] {
            assert!(InstanceAddr::parse(s).is_err(), "{s}");
        }
    }

    #[test]
    fn ordering_is_terraforms() {
        let mut v: Vec<InstanceAddr> = [
            "terraform_data.x[10]",
            "data.a.b",
            "terraform_data.x[2]",
            "module.m.a.b",
            "a.b",
        ]
        .iter()
        .map(|s| InstanceAddr::parse(s).expect("valid"))
        .collect();
        v.sort();
        let got: Vec<String> = v.iter().map(ToString::to_string).collect();
        assert_eq!(
            got,
            vec![
                "a.b",
                "terraform_data.x[2]",
                "terraform_data.x[10]",
                "data.a.b",
                "module.m.a.b"
            ]
        );
    }

    #[test]
    fn targets() {
        let i = InstanceAddr::parse("module.m[\"a\"].x.y[1]").expect("valid");
        assert!(i.is_under(&Target::parse("module.m").expect("valid")));
        assert!(i.is_under(&Target::parse("module.m[\"a\"].x.y").expect("valid")));
        assert!(!i.is_under(&Target::parse("module.m[\"b\"]").expect("valid")));
        assert!(!i.is_under(&Target::parse("x.y").expect("valid")));
    }
}
