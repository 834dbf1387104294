//! A loaded configuration ready to plan: the module tree, its source files, the dependency
//! graph, the place it runs (working directory, workspace name) and the providers it runs
//! with.
//!
//! Loading collects every diagnostic (syntax, structure, references, cycles, resource types
//! the provider set lacks, arguments a schema lacks) before anything else happens; a context
//! with errors is never returned.

use crate::graph::{build, ConfigGraph};
use baton_config::{load_config_with, Config, ConfigFs, Module, RealFs};
use baton_core::{Diagnostic, Diagnostics, ModulePath, ResourceMode, Sources};
use baton_provider::{ProviderCtx, Registry};
use std::path::{Path, PathBuf};
use std::sync::Arc;

pub struct Context {
    /// The root module directory (absolute): the run's working directory. Every relative
    /// path (filesystem functions, `abspath`, `--var-file`, commands, `local_file`) resolves
    /// against it; the engine never reads the process's working directory.
    pub dir: PathBuf,
    /// What `path.cwd` returns: `dir`, unless the caller says otherwise. Terraform's
    /// `path.cwd` is the directory Terraform was started in, before `-chdir`; a front end
    /// emulating `-chdir` sets this to the directory it was started in.
    pub cwd: PathBuf,
    pub sources: Sources,
    pub config: Config,
    pub graph: ConfigGraph,
    /// `terraform.workspace` (the environment name; "default" without `--env`).
    pub workspace: String,
    /// The providers this configuration's runs use: every provider call of the engine finds
    /// its type here, and loading checked the configuration against it. The built-in set
    /// ([`builtin_providers`]) unless the caller loaded with another
    /// ([`load_with_providers`]).
    pub providers: Arc<Registry>,
    /// The stack environment's service board, handed to every provider call
    /// ([`ProviderCtx::board`]); set by the caller that opened the stack's store.
    pub board: Option<Arc<dyn baton_core::board::ServiceBoard>>,
}

impl Context {
    /// A context with no configuration, for undoing changes when no configuration is usable
    /// (a restore never evaluates configuration; destroy-time provisioners are then skipped).
    pub fn empty(
        dir: &Path,
        workspace: &str,
        sources: &Sources,
        providers: Arc<Registry>,
    ) -> Context {
        let (graph, _) = build(
            &Config {
                module: Module::default(),
                children: Default::default(),
            },
            sources,
        );
        Context {
            dir: dir.to_path_buf(),
            cwd: dir.to_path_buf(),
            sources: sources.clone(),
            config: Config {
                module: Module::default(),
                children: Default::default(),
            },
            graph,
            workspace: workspace.to_string(),
            providers,
            board: None,
        }
    }

    /// The context of provider calls for this configuration: its directory and board.
    pub fn provider_ctx(&self) -> ProviderCtx {
        ProviderCtx {
            board: self.board.clone(),
            ..ProviderCtx::new(self.dir.clone())
        }
    }

    /// The failure policy the root module sets (`terraform { baton { on_failure = "halt" } }`).
    pub fn on_failure(&self) -> Option<baton_config::FailurePolicy> {
        self.config.module.terraform.baton.on_failure
    }

    /// The root module's `terraform { baton { … } }` settings.
    pub fn baton_settings(&self) -> &baton_config::BatonSettings {
        &self.config.module.terraform.baton
    }
}

/// Loads the configuration in `dir`, to run with the built-in providers. Returns the
/// context, or every diagnostic found.
pub fn load(dir: &Path, workspace: &str, sources: &Sources) -> (Option<Context>, Diagnostics) {
    load_with(dir, workspace, sources, &RealFs)
}

/// Like [`load`], reading the configuration's files from `fs` (a saved plan's copy).
pub fn load_with(
    dir: &Path,
    workspace: &str,
    sources: &Sources,
    fs: &dyn ConfigFs,
) -> (Option<Context>, Diagnostics) {
    load_with_providers(dir, workspace, sources, fs, builtin_providers())
}

/// Like [`load_with`], for runs with the provider set `providers` (the built-in set with more
/// types, or another set altogether): the configuration's types are looked up there, and so
/// are the types of every provider call its runs make.
pub fn load_with_providers(
    dir: &Path,
    workspace: &str,
    sources: &Sources,
    fs: &dyn ConfigFs,
    providers: Arc<Registry>,
) -> (Option<Context>, Diagnostics) {
    let dir = dir.canonicalize().unwrap_or_else(|_| dir.to_path_buf());
    let (config, mut diags) = load_config_with(&dir, sources, fs);
    if config.module.resources.is_empty()
        && config.module.variables.is_empty()
        && config.module.outputs.is_empty()
        && config.module.locals.is_empty()
        && config.module.module_calls.is_empty()
        && fs.tf_files(&dir).map(|f| f.is_empty()).unwrap_or(true)
    {
        diags.push(Diagnostic::error(
            "No configuration files",
            format!(
                "There are no .tf files in {}. Baton reads a root module: a directory of *.tf files.",
                dir.display()
            ),
        ));
        return (None, diags);
    }
    let providers = if Arc::ptr_eq(&providers, &builtin_providers()) {
        match crate::provider_refs::resolve(&config, &dir, providers) {
            (Some(p), d) => {
                diags.extend(d);
                p
            }
            (None, d) => {
                diags.extend(d);
                return (None, diags);
            }
        }
    } else {
        providers
    };
    for m in config.all_modules() {
        check_types(m, &providers, &mut diags);
        check_schemas(m, &providers, &mut diags);
        check_conditions(m, &mut diags);
        check_repetition_refs(m, &mut diags);
    }
    check_provider_aliases(&config, &providers, &mut diags);
    let (graph, d) = build(&config, sources);
    diags.extend(d);
    if diags.has_errors() {
        return (None, diags);
    }
    (
        Some(Context {
            cwd: dir.clone(),
            dir,
            sources: sources.clone(),
            config,
            graph,
            workspace: workspace.to_string(),
            providers,
            board: None,
        }),
        diags,
    )
}

/// Every aliased provider configuration a resource uses (through its `provider` argument and
/// the module calls' `providers` maps) is declared by a `provider` block of the root module.
fn check_provider_aliases(config: &Config, providers: &Registry, diags: &mut Diagnostics) {
    fn walk(
        root: &Config,
        c: &Config,
        path: &mut Vec<String>,
        providers: &Registry,
        diags: &mut Diagnostics,
    ) {
        let mp = ModulePath(path.clone());
        for r in c.module.resources.values() {
            let Some(alias) = crate::provider_refs::resource_alias(root, &mp, r) else {
                continue;
            };
            let name = match providers.resource_type(&r.addr.type_) {
                Some((p, _)) if r.addr.mode == ResourceMode::Managed => p.name,
                _ => match providers.data_source(&r.addr.type_) {
                    Some((p, _)) => p.name,
                    None => continue,
                },
            };
            let declared = root
                .module
                .providers
                .iter()
                .any(|b| b.name == name && b.alias.as_deref() == Some(alias.as_str()));
            if !declared {
                diags.push(
                    Diagnostic::error(
                        "Provider configuration not present",
                        format!(
                            "{} uses the provider configuration {name}.{alias}, but the root module declares no provider \"{name}\" block with alias = \"{alias}\". Add one, or pass an existing configuration to the module in its providers map.",
                            r.describe()
                        ),
                    )
                    .at(r.def_span),
                );
            }
        }
        for (name, child) in &c.children {
            path.push(name.clone());
            walk(root, child, path, providers, diags);
            path.pop();
        }
    }
    walk(config, config, &mut Vec::new(), providers, diags);
}

/// `count.index` only where `count` is set and `each.*` only where `for_each` is set, checked
/// before anything is evaluated so that every misuse is reported together with the other load
/// errors, as Terraform does.
fn check_repetition_refs(m: &Module, diags: &mut Diagnostics) {
    use baton_eval::refs::Reference;
    let count_err = |span, context: &str| {
        Diagnostic::error(
            "Reference to \"count\" in non-counted context",
            "The \"count\" object can only be used in \"module\", \"resource\", and \"data\" blocks, and only when the \"count\" argument is set.",
        )
        .at(span)
        .in_context(context.to_string())
    };
    let mut check = |exprs: &[&baton_config::Expr],
                     counted: bool,
                     for_each: bool,
                     in_block: bool,
                     context: &str| {
        for e in exprs {
            for r in baton_eval::refs::references(e).0 {
                match r.reference {
                    Reference::CountIndex if !counted => diags.push(count_err(r.span, context)),
                    Reference::EachKey | Reference::EachValue if !for_each => {
                        let d = if in_block {
                            Diagnostic::error(
                                "each.value cannot be used in this context",
                                "A reference to \"each.key\" or \"each.value\" has been used in a context in which it is unavailable, such as when the configuration no longer contains the value in its \"for_each\" expression.",
                            )
                        } else {
                            Diagnostic::error(
                                "Reference to \"each\" in context without for_each",
                                "The \"each\" object can be used only in \"module\" or \"resource\" blocks, and only when the \"for_each\" argument is set.",
                            )
                        };
                        diags.push(d.at(r.span).in_context(context.to_string()));
                    }
                    _ => {}
                }
            }
        }
    };
    for r in m.resources.values() {
        // `count` and `for_each` themselves are evaluated before any instance exists.
        let repetition: Vec<&baton_config::Expr> = r
            .count
            .iter()
            .chain(r.for_each.iter())
            .map(|e| &**e)
            .collect();
        check(&repetition, false, false, true, &r.describe());
        let exprs: Vec<&baton_config::Expr> = crate::graph::resource_exprs(r)
            .into_iter()
            .filter(|e| !repetition.iter().any(|x| std::ptr::eq(*x, *e)))
            .collect();
        check(
            &exprs,
            r.count.is_some(),
            r.for_each.is_some(),
            true,
            &r.describe(),
        );
    }
    for c in m.module_calls.values() {
        let context = format!("module \"{}\"", c.name);
        let repetition: Vec<&baton_config::Expr> =
            c.count.iter().chain(c.for_each.iter()).collect();
        check(&repetition, false, false, true, &context);
        let inputs: Vec<&baton_config::Expr> = c.inputs.iter().map(|a| &a.expr).collect();
        check(
            &inputs,
            c.count.is_some(),
            c.for_each.is_some(),
            true,
            &context,
        );
    }
    for l in m.locals.values() {
        check(&[&l.expr], false, false, false, "locals");
    }
    for o in m.outputs.values() {
        let mut exprs: Vec<&baton_config::Expr> = vec![&o.value];
        for c in &o.preconditions {
            exprs.push(&c.condition);
            exprs.extend(c.error_message.iter());
        }
        check(
            &exprs,
            false,
            false,
            false,
            &format!("output \"{}\"", o.name),
        );
    }
    for c in &m.checks {
        let exprs: Vec<&baton_config::Expr> = c
            .asserts
            .iter()
            .flat_map(|a| std::iter::once(&a.condition).chain(a.error_message.iter()))
            .collect();
        check(
            &exprs,
            false,
            false,
            false,
            &format!("check \"{}\"", c.name),
        );
    }
}

/// Every condition (validation, precondition, postcondition, assert) must refer to something,
/// or it checks nothing; a variable's validation must refer to the variable itself. Terraform
/// rejects both at load time.
fn check_conditions(m: &Module, diags: &mut Diagnostics) {
    let mut check = |rules: &[baton_config::CheckRule], kind: &str, context: String| {
        for r in rules {
            let (refs, _) = baton_eval::refs::references(&r.condition);
            if refs.is_empty() {
                diags.push(
                    Diagnostic::error(
                        format!("Invalid {kind} expression"),
                        "The condition expression must refer to at least one object from elsewhere in the configuration, or else its result would not be checking anything.",
                    )
                    .at(r.condition.span)
                    .in_context(context.clone()),
                );
            }
        }
    };
    for v in m.variables.values() {
        check(
            &v.validations,
            "validation",
            format!("variable \"{}\"", v.name),
        );
    }
    for o in m.outputs.values() {
        check(
            &o.preconditions,
            "precondition",
            format!("output \"{}\"", o.name),
        );
    }
    for r in m.resources.values() {
        check(&r.lifecycle.preconditions, "precondition", r.describe());
        check(&r.lifecycle.postconditions, "postcondition", r.describe());
    }
    for c in &m.checks {
        check(&c.asserts, "assert", format!("check \"{}\"", c.name));
        for r in &c.data {
            check(&r.lifecycle.preconditions, "precondition", r.describe());
            check(&r.lifecycle.postconditions, "postcondition", r.describe());
        }
    }
    for v in m.variables.values() {
        for r in &v.validations {
            let (refs, _) = baton_eval::refs::references(&r.condition);
            let own = baton_eval::refs::Reference::Var(v.name.clone());
            if !refs.iter().any(|x| x.reference == own) {
                diags.push(
                    Diagnostic::error(
                        "Invalid variable validation condition",
                        format!(
                            "The condition for variable \"{}\" must refer to var.{} in order to test incoming values.",
                            v.name, v.name
                        ),
                    )
                    .at(r.condition.span)
                    .in_context(format!("variable \"{}\"", v.name)),
                );
            }
        }
    }
}

/// Every resource and data source type must be one the provider set has.
fn check_types(m: &Module, reg: &Registry, diags: &mut Diagnostics) {
    for r in m.resources.values() {
        let known = match r.addr.mode {
            ResourceMode::Managed => reg.resource_type(&r.addr.type_).is_some(),
            ResourceMode::Data => reg.data_source(&r.addr.type_).is_some(),
        };
        if known {
            continue;
        }
        let names = match r.addr.mode {
            ResourceMode::Managed => reg.resource_names(),
            ResourceMode::Data => reg.data_source_names(),
        };
        let kind = match r.addr.mode {
            ResourceMode::Managed => "resource type",
            ResourceMode::Data => "data source",
        };
        let suggestion = baton_config::model::suggest(&r.addr.type_, &names)
            .map(|s| format!(" Did you mean \"{s}\"?"))
            .unwrap_or_default();
        diags.push(
            Diagnostic::error(
                format!("Invalid {kind}"),
                format!(
                    "The {kind} \"{}\" is not supported by Baton's built-in providers.{suggestion} Valid {kind}s are: {}.",
                    r.addr.type_,
                    names.join(", ")
                ),
            )
            .at(r.type_span)
            .in_context(r.describe()),
        );
    }
}

/// Static checks of resource and provider blocks against their schemas, before any
/// evaluation: unknown arguments and block types, read-only attributes, missing required
/// arguments. (Types and values are checked when bodies are evaluated.) A provider block of a
/// provider the set does not have is not checked: no type of it can be used either.
fn check_schemas(m: &Module, reg: &Registry, diags: &mut Diagnostics) {
    for r in m.resources.values() {
        let schema = match r.addr.mode {
            ResourceMode::Managed => reg.resource_type(&r.addr.type_).map(|(_, t)| t.schema()),
            ResourceMode::Data => reg.data_source(&r.addr.type_).map(|(_, t)| t.schema()),
        };
        if let Some(schema) = schema {
            check_body(&r.config, schema, r.def_span, &r.describe(), diags);
        }
    }
    for p in &m.providers {
        if let Some((_, schema)) = reg.provider(&p.name) {
            let context = format!("provider \"{}\"", p.name);
            check_body(&p.config, schema, p.def_span, &context, diags);
        }
    }
}

fn check_body(
    body: &baton_config::Body,
    schema: &baton_provider::Schema,
    def_span: baton_core::Span,
    context: &str,
    diags: &mut Diagnostics,
) {
    for a in &body.attrs {
        match schema.attrs.get(&a.name) {
            None => {
                let hint = if schema.blocks.contains_key(&a.name) {
                    format!(" Did you mean to define a block of type \"{}\"?", a.name)
                } else {
                    let names = schema.settable_names();
                    match baton_config::model::suggest(&a.name, &names) {
                        Some(s) => format!(" Did you mean \"{s}\"?"),
                        None if !names.is_empty() => {
                            format!(" Valid arguments are: {}.", names.join(", "))
                        }
                        None => String::new(),
                    }
                };
                diags.push(
                    Diagnostic::error(
                        "Unsupported argument",
                        format!(
                            "An argument named \"{}\" is not expected here.{hint}",
                            a.name
                        ),
                    )
                    .at(a.name_span)
                    .in_context(context.to_string()),
                );
            }
            Some(sa) if !sa.required && !sa.optional => diags.push(
                Diagnostic::error(
                    "Invalid Configuration for Read-Only Attribute",
                    format!(
                        "Cannot set value for the attribute \"{}\": the provider computes it.",
                        a.name
                    ),
                )
                .at(a.name_span)
                .in_context(context.to_string()),
            ),
            Some(_) => {}
        }
    }
    for (name, sa) in &schema.attrs {
        if sa.required && body.attr(name).is_none() {
            diags.push(
                Diagnostic::error(
                    "Missing required argument",
                    format!("The argument \"{name}\" is required, but no definition was found."),
                )
                .at(def_span)
                .in_context(context.to_string()),
            );
        }
    }
    for b in &body.blocks {
        let (name, inner) = if b.type_ == "dynamic" {
            let Some((label, _)) = b.labels.first() else {
                continue;
            };
            (
                label.as_str(),
                b.body.blocks_of("content").next().map(|c| &c.body),
            )
        } else {
            (b.type_.as_str(), Some(&b.body))
        };
        match schema.blocks.get(name) {
            None => {
                let hint = if schema.attrs.contains_key(name) {
                    format!(" Did you mean to define argument \"{name}\"? If so, use the equals sign to assign it a value.")
                } else {
                    String::new()
                };
                diags.push(
                    Diagnostic::error(
                        "Unsupported block type",
                        format!("Blocks of type \"{name}\" are not expected here.{hint}"),
                    )
                    .at(b.def_span)
                    .in_context(context.to_string()),
                );
            }
            Some(nb) => {
                if let Some(inner) = inner {
                    check_body(inner, &nb.schema, b.def_span, context, diags);
                }
            }
        }
    }
}

/// The module at path `p` of the configuration tree, if there is one.
pub fn module_of<'c>(config: &'c Config, p: &ModulePath) -> Option<&'c Module> {
    config.descendant(p).map(|c| &c.module)
}

/// The provider set of a context whose caller brings none: Baton's built-in providers. The one
/// place the engine reaches for them (also `crate::providers::builtin`).
pub fn builtin_providers() -> std::sync::Arc<baton_provider::Registry> {
    // The provider crate's built-in set, plus the hosts layer's types (`remote_*`), which
    // live in `baton-remote` above it. Built once, shared.
    static SET: std::sync::OnceLock<std::sync::Arc<baton_provider::Registry>> =
        std::sync::OnceLock::new();
    SET.get_or_init(|| {
        let mut r = (*baton_provider::Registry::builtin()).clone();
        baton_remote::register(&mut r);
        baton_service::resource::register(&mut r);
        std::sync::Arc::new(r)
    })
    .clone()
}
