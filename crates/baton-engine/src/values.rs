//! The values known so far during one plan or apply walk — variables, locals, module outputs,
//! resource instances and module expansions, per module instance — and the [`Scope`] that
//! resolves references against them for one evaluation site.
//!
//! Shared between the walker's threads behind a lock. It holds values only; deciding what to
//! evaluate, and when, is the walkers' job.

use crate::model::{CheckResult, CheckStatus, Checkable};
use baton_config::Config;
use baton_core::{Diagnostic, InstanceKey, ModuleInstance, ModulePath, ResourceAddr};
use baton_eval::refs::{RefAt, Reference};
use baton_eval::{Scope, Type, Value};
use std::collections::{BTreeMap, HashMap};
use std::path::PathBuf;
use std::sync::RwLock;

/// How a resource or module call is repeated.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Repetition {
    Single,
    Count,
    ForEach,
}

#[derive(Clone, Debug)]
pub struct ResourceValues {
    pub repetition: Repetition,
    pub instances: Instances,
}

/// A resource's instance values by key. Most resources have one instance: it is held
/// without a map (a B-tree allocates eleven slots for a single entry).
#[derive(Clone, Debug, Default)]
pub enum Instances {
    #[default]
    Empty,
    One(Option<InstanceKey>, Value),
    Many(BTreeMap<Option<InstanceKey>, Value>),
}

impl Instances {
    pub fn insert(&mut self, key: Option<InstanceKey>, v: Value) {
        match std::mem::take(self) {
            Instances::Empty => *self = Instances::One(key, v),
            Instances::One(k, _) if k == key => *self = Instances::One(key, v),
            Instances::One(k, old) => {
                *self = Instances::Many(BTreeMap::from([(k, old), (key, v)]));
            }
            Instances::Many(mut m) => {
                m.insert(key, v);
                *self = Instances::Many(m);
            }
        }
    }

    pub fn get(&self, key: &Option<InstanceKey>) -> Option<&Value> {
        match self {
            Instances::Empty => None,
            Instances::One(k, v) => (k == key).then_some(v),
            Instances::Many(m) => m.get(key),
        }
    }

    /// In key order.
    pub fn iter(&self) -> impl Iterator<Item = (&Option<InstanceKey>, &Value)> {
        let one = match self {
            Instances::One(k, v) => Some((k, v)),
            _ => None,
        };
        let many = match self {
            Instances::Many(m) => Some(m.iter()),
            _ => None,
        };
        one.into_iter().chain(many.into_iter().flatten())
    }
}

#[derive(Clone, Debug)]
pub struct CallExpansion {
    pub repetition: Repetition,
    /// Instance keys with, for `for_each`, the value of each.
    pub keys: Vec<(Option<InstanceKey>, Option<Value>)>,
}

#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum NamedValue {
    Var(String),
    Local(String),
    Output(String),
}

/// What conditions were evaluated for one object instance: (module, object, key).
type CheckKey = (ModuleInstance, Checkable, Option<InstanceKey>);

#[derive(Default)]
struct Inner {
    checks: BTreeMap<CheckKey, (CheckStatus, Vec<String>)>,
    named: HashMap<(ModuleInstance, NamedValue), Value>,
    resources: HashMap<(ModuleInstance, ResourceAddr), ResourceValues>,
    calls: HashMap<(ModuleInstance, String), CallExpansion>,
    instances: HashMap<ModulePath, Vec<ModuleInstance>>,
}

pub struct EvalState {
    inner: RwLock<Inner>,
}

impl Default for EvalState {
    fn default() -> Self {
        EvalState::new()
    }
}

impl EvalState {
    pub fn new() -> EvalState {
        let mut inner = Inner::default();
        inner
            .instances
            .insert(ModulePath::root(), vec![ModuleInstance::root()]);
        EvalState {
            inner: RwLock::new(inner),
        }
    }

    fn read(&self) -> std::sync::RwLockReadGuard<'_, Inner> {
        match self.inner.read() {
            Ok(g) => g,
            Err(p) => p.into_inner(),
        }
    }

    fn write(&self) -> std::sync::RwLockWriteGuard<'_, Inner> {
        match self.inner.write() {
            Ok(g) => g,
            Err(p) => p.into_inner(),
        }
    }

    /// Records the outcome of conditions of one object instance; outcomes recorded for the
    /// same instance (its preconditions, then its postconditions) aggregate to the worst.
    pub fn record_check(
        &self,
        module: &ModuleInstance,
        object: Checkable,
        key: Option<InstanceKey>,
        status: CheckStatus,
        problems: Vec<String>,
    ) {
        let mut w = self.write();
        let e = w
            .checks
            .entry((module.clone(), object, key))
            .or_insert((CheckStatus::Pass, Vec::new()));
        e.0 = e.0.max(status);
        e.1.extend(problems);
    }

    /// Every recorded condition outcome, in address order.
    pub fn check_results(&self) -> Vec<CheckResult> {
        self.read()
            .checks
            .iter()
            .map(|((module, object, key), (status, problems))| CheckResult {
                module: module.clone(),
                object: object.clone(),
                key: key.clone(),
                status: *status,
                problems: problems.clone(),
            })
            .collect()
    }

    pub fn set(&self, m: &ModuleInstance, k: NamedValue, v: Value) {
        self.write().named.insert((m.clone(), k), v);
    }

    pub fn get(&self, m: &ModuleInstance, k: &NamedValue) -> Option<Value> {
        self.read().named.get(&(m.clone(), k.clone())).cloned()
    }

    /// The module instances of a configuration path (empty until its call is expanded).
    pub fn module_instances(&self, p: &ModulePath) -> Vec<ModuleInstance> {
        self.read().instances.get(p).cloned().unwrap_or_default()
    }

    /// Records the instances of module call `name` in the parent instance.
    pub fn set_call(&self, parent: &ModuleInstance, name: &str, exp: CallExpansion) {
        let mut w = self.write();
        let child_path = parent.path().child(name);
        let list = w.instances.entry(child_path).or_default();
        for (k, _) in &exp.keys {
            let mi = parent.child(name, k.clone());
            if !list.contains(&mi) {
                list.push(mi);
            }
        }
        list.sort();
        w.calls.insert((parent.clone(), name.to_string()), exp);
    }

    pub fn call(&self, parent: &ModuleInstance, name: &str) -> Option<CallExpansion> {
        self.read()
            .calls
            .get(&(parent.clone(), name.to_string()))
            .cloned()
    }

    pub fn set_resource(&self, m: &ModuleInstance, r: &ResourceAddr, v: ResourceValues) {
        self.write().resources.insert((m.clone(), r.clone()), v);
    }

    /// Sets one instance's value, creating the resource entry if needed.
    pub fn set_instance(
        &self,
        m: &ModuleInstance,
        r: &ResourceAddr,
        rep: Repetition,
        key: Option<InstanceKey>,
        v: Value,
    ) {
        let mut w = self.write();
        let e = w
            .resources
            .entry((m.clone(), r.clone()))
            .or_insert_with(|| ResourceValues {
                repetition: rep,
                instances: Instances::Empty,
            });
        e.instances.insert(key, v);
    }

    pub fn has_resource(&self, m: &ModuleInstance, r: &ResourceAddr) -> bool {
        self.read().resources.contains_key(&(m.clone(), r.clone()))
    }

    /// A resource's value as references see it (see [`aggregate`]).
    pub fn resource_value(&self, m: &ModuleInstance, r: &ResourceAddr) -> Option<Value> {
        self.read()
            .resources
            .get(&(m.clone(), r.clone()))
            .map(|rv| aggregate(rv.repetition, rv.instances.iter()))
    }

    pub fn instance(
        &self,
        m: &ModuleInstance,
        r: &ResourceAddr,
        key: &Option<InstanceKey>,
    ) -> Option<Value> {
        self.read()
            .resources
            .get(&(m.clone(), r.clone()))
            .and_then(|rv| rv.instances.get(key).cloned())
    }
}

/// The value of a repeated object, as references see it: the object itself, a tuple by
/// index (`count`) or an object by key (`for_each`). A repeated object whose only instance
/// has no key is `validate`'s placeholder for instances not known yet: its value is unknown,
/// of unknown type, as Terraform's validate sees it.
pub fn aggregate<'a>(
    rep: Repetition,
    instances: impl Iterator<Item = (&'a Option<InstanceKey>, &'a Value)>,
) -> Value {
    let mut instances = instances.peekable();
    if rep != Repetition::Single && instances.peek().is_some_and(|(k, _)| k.is_none()) {
        return Value::dynamic_unknown();
    }
    match rep {
        Repetition::Single => instances
            .find(|(k, _)| k.is_none())
            .map(|(_, v)| v.clone())
            .unwrap_or_else(Value::dynamic_unknown),
        Repetition::Count => Value::tuple(instances.map(|(_, v)| v.clone()).collect()),
        Repetition::ForEach => Value::object(
            instances
                .map(|(k, v)| {
                    let key = match k {
                        Some(InstanceKey::Str(s)) => s.clone(),
                        Some(InstanceKey::Int(i)) => i.to_string(),
                        None => String::new(),
                    };
                    (key, v.clone())
                })
                .collect(),
        ),
    }
}

/// Everything a reference may resolve to at one evaluation site.
pub struct InstanceScope<'a> {
    pub state: &'a EvalState,
    pub config: &'a Config,
    pub module: &'a ModuleInstance,
    pub count_index: Option<Value>,
    pub each: Option<(Value, Value)>,
    pub self_value: Option<Value>,
    /// What `path.cwd` returns (`Context::cwd`).
    pub cwd: &'a PathBuf,
    pub workspace: &'a str,
    /// The run's providers, for provider functions (`provider::NAME::FN`).
    pub providers: &'a baton_provider::Registry,
}

impl<'a> InstanceScope<'a> {
    /// The scope of `module` in the run of `ctx`, over the values in `state`.
    pub fn new(
        state: &'a EvalState,
        ctx: &'a crate::context::Context,
        module: &'a ModuleInstance,
    ) -> InstanceScope<'a> {
        InstanceScope {
            state,
            config: &ctx.config,
            module,
            count_index: None,
            each: None,
            self_value: None,
            cwd: &ctx.cwd,
            workspace: &ctx.workspace,
            providers: &ctx.providers,
        }
    }

    fn module_dir(&self) -> String {
        let Some(c) = self.config.descendant(&self.module.path()) else {
            return ".".into();
        };
        let root = &self.config.module.dir;
        let dir = &c.module.dir;
        match dir.strip_prefix(root) {
            Ok(rel) if rel.as_os_str().is_empty() => ".".into(),
            Ok(rel) => rel.display().to_string(),
            Err(_) => dir.display().to_string(),
        }
    }
}

impl Scope for InstanceScope<'_> {
    fn provider_declared(&self, local_name: &str) -> bool {
        crate::context::module_of(self.config, &self.module.path())
            .is_some_and(|m| m.terraform.required_providers.contains_key(local_name))
    }

    fn provider_function(
        &self,
        provider: &str,
        name: &str,
        args: &[Value],
    ) -> Option<baton_eval::functions::FnResult> {
        self.providers.call_function(provider, name, args)
    }

    fn get(&self, r: &RefAt) -> Result<Value, Diagnostic> {
        match &r.reference {
            Reference::Var(n) => self
                .state
                .get(self.module, &NamedValue::Var(n.clone()))
                .ok_or_else(|| not_ready(r)),
            Reference::Local(n) => self
                .state
                .get(self.module, &NamedValue::Local(n.clone()))
                .ok_or_else(|| not_ready(r)),
            Reference::Module(n) => {
                let Some(exp) = self.state.call(self.module, n) else {
                    return Ok(Value::dynamic_unknown());
                };
                let child_cfg = self
                    .config
                    .descendant(&self.module.path().child(n))
                    .map(|c| c.module.outputs.keys().cloned().collect::<Vec<_>>())
                    .unwrap_or_default();
                let mut instances = BTreeMap::new();
                for (k, _) in &exp.keys {
                    let mi = self.module.child(n, k.clone());
                    let mut outs = BTreeMap::new();
                    for o in &child_cfg {
                        let v = self
                            .state
                            .get(&mi, &NamedValue::Output(o.clone()))
                            .unwrap_or_else(Value::dynamic_unknown);
                        outs.insert(o.clone(), v);
                    }
                    instances.insert(k.clone(), Value::object(outs));
                }
                Ok(aggregate(exp.repetition, instances.iter()))
            }
            Reference::Resource(addr) => Ok(self
                .state
                .resource_value(self.module, addr)
                .unwrap_or_else(Value::dynamic_unknown)),
            Reference::CountIndex => match &self.count_index {
                Some(i) => Ok(i.clone()),
                None => Err(Diagnostic::error(
                    "Reference to \"count\" in non-counted context",
                    "The \"count\" object can only be used in \"module\", \"resource\", and \"data\" blocks, and only when the \"count\" argument is set.",
                )
                .at(r.span)),
            },
            Reference::EachKey | Reference::EachValue => match &self.each {
                Some((k, v)) => Ok(if r.reference == Reference::EachKey {
                    k.clone()
                } else {
                    v.clone()
                }),
                None => Err(Diagnostic::error(
                    "each.value cannot be used in this context",
                    "A reference to \"each.key\" or \"each.value\" has been used in a context in which it is unavailable, such as when the configuration no longer contains the value in its \"for_each\" expression.",
                )
                .at(r.span)),
            },
            Reference::PathModule => Ok(Value::string(self.module_dir())),
            Reference::PathRoot => Ok(Value::string(".")),
            Reference::PathCwd => Ok(Value::string(self.cwd.display().to_string())),
            Reference::TerraformWorkspace => Ok(Value::string(self.workspace)),
            Reference::SelfRef => self.self_value.clone().ok_or_else(|| {
                Diagnostic::error(
                    "Invalid \"self\" reference",
                    "The \"self\" object is not available in this context. It can be used only in provisioner and connection blocks and in postconditions.",
                )
                .at(r.span)
            }),
        }
    }
}

fn not_ready(r: &RefAt) -> Diagnostic {
    // The graph orders evaluation, so this happens only for values that failed to evaluate.
    Diagnostic::error(
        "Reference to a value that is not available",
        format!(
            "{} could not be evaluated (see the errors above).",
            r.reference
        ),
    )
    .at(r.span)
}

/// A value of unknown type, for objects that cannot be evaluated yet.
pub fn unknown() -> Value {
    Value::unknown(Type::Dynamic)
}
