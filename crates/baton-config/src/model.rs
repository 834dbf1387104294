//! The configuration as written: one [`Module`] per directory, with its variables, locals,
//! outputs, resources, data sources, module calls and providers; and the [`Config`] tree of
//! modules reached through local `module` sources.
//!
//! Building the model checks structure only (block types, labels, required and duplicated
//! arguments, meta-arguments). It never evaluates an expression, and it collects every error
//! rather than stopping at the first.

use crate::ast::{Expr, ExprKind};
use crate::settings::{BatonSettings, Retry, Timeouts};
use crate::syntax::{parse_file, Attribute, Block, Body};
use baton_core::{Diagnostic, Diagnostics, ModulePath, ResourceAddr, ResourceMode, Sources, Span};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// A module tree: a module and the modules its `module` blocks call.
#[derive(Clone, Debug)]
pub struct Config {
    pub module: Module,
    pub children: BTreeMap<String, Config>,
}

impl Config {
    /// The module at a configuration path, if it exists.
    pub fn descendant(&self, path: &ModulePath) -> Option<&Config> {
        let mut cur = self;
        for name in &path.0 {
            cur = cur.children.get(name)?;
        }
        Some(cur)
    }

    /// Every module of the tree, parents before children.
    pub fn all_modules(&self) -> Vec<&Module> {
        let mut out = vec![&self.module];
        for c in self.children.values() {
            out.extend(c.all_modules());
        }
        out
    }
}

#[derive(Clone, Debug, Default)]
pub struct Module {
    pub path: ModulePath,
    pub dir: PathBuf,
    pub terraform: TerraformSettings,
    pub variables: BTreeMap<String, Variable>,
    pub locals: BTreeMap<String, Local>,
    pub outputs: BTreeMap<String, Output>,
    /// Boxed: a `Resource` is large, and B-tree nodes hold their values inline (half empty
    /// when filled in order).
    pub resources: BTreeMap<ResourceAddr, Box<Resource>>,
    pub module_calls: BTreeMap<String, ModuleCall>,
    pub providers: Vec<ProviderBlock>,
    pub moved: Vec<Moved>,
    pub removed: Vec<Removed>,
    pub imports: Vec<Import>,
    pub checks: Vec<Check>,
}

/// The `terraform` block: recorded, never enforced, except what Baton itself reads.
#[derive(Clone, Debug, Default)]
pub struct TerraformSettings {
    pub required_version: Option<String>,
    /// `required_providers`: local name → source address as written (`hashicorp/aws`; empty
    /// when the entry gives none).
    pub required_providers: BTreeMap<String, String>,
    /// `required_providers` entries' `version` constraints as written (`~> 5.0, != 5.1.0`),
    /// by local name; entries without one are absent.
    pub required_provider_versions: BTreeMap<String, String>,
    /// The `backend "TYPE" { … }` or `cloud { … }` block, its literal settings decoded.
    pub backend: Option<crate::backend::Backend>,
    /// `baton { on_failure = "rollback" … }` inside `terraform`, decoded.
    pub baton: BatonSettings,
}

#[derive(Clone, Debug)]
pub struct Variable {
    pub name: String,
    pub def_span: Span,
    pub type_expr: Option<Expr>,
    pub default: Option<Expr>,
    pub description: Option<String>,
    pub sensitive: bool,
    pub nullable: bool,
    pub ephemeral: bool,
    pub validations: Vec<CheckRule>,
}

#[derive(Clone, Debug)]
pub struct Local {
    pub name: String,
    pub expr: Expr,
    pub span: Span,
}

#[derive(Clone, Debug)]
pub struct Output {
    pub name: String,
    pub def_span: Span,
    pub value: Expr,
    pub description: Option<String>,
    pub sensitive: bool,
    pub ephemeral: bool,
    pub depends_on: Vec<Expr>,
    pub preconditions: Vec<CheckRule>,
}

/// A `condition` with its `error_message` (validation, precondition, postcondition, assert).
#[derive(Clone, Debug)]
pub struct CheckRule {
    pub condition: Expr,
    pub error_message: Option<Expr>,
    pub span: Span,
}

#[derive(Clone, Debug, Default)]
pub enum IgnoreChanges {
    #[default]
    None,
    All,
    /// Attribute paths such as `tags["a"]` or `input`.
    Paths(Vec<Expr>),
}

#[derive(Clone, Debug, Default)]
pub struct Lifecycle {
    pub create_before_destroy: bool,
    pub prevent_destroy: bool,
    pub ignore_changes: IgnoreChanges,
    pub replace_triggered_by: Vec<Expr>,
    pub preconditions: Vec<CheckRule>,
    pub postconditions: Vec<CheckRule>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ProvisionerWhen {
    Create,
    Destroy,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum OnFailure {
    Fail,
    Continue,
}

#[derive(Clone, Debug)]
pub struct Provisioner {
    pub kind: String,
    pub def_span: Span,
    pub body: Body,
    pub when: ProvisionerWhen,
    pub on_failure: OnFailure,
}

#[derive(Clone, Debug)]
pub struct ProviderRef {
    pub name: String,
    pub alias: Option<String>,
    pub span: Span,
}

#[derive(Clone, Debug)]
pub struct Resource {
    pub addr: ResourceAddr,
    /// `resource "type" "name"`.
    pub def_span: Span,
    /// The type label.
    pub type_span: Span,
    pub span: Span,
    pub provider: Option<ProviderRef>,
    // The optional parts are boxed: the model holds one `Resource` per block for the whole
    // run, and most blocks have none of them.
    pub count: Option<Box<Expr>>,
    pub for_each: Option<Box<Expr>>,
    pub depends_on: Vec<Expr>,
    pub lifecycle: Lifecycle,
    pub provisioners: Vec<Provisioner>,
    /// `timeouts { create, read, update, delete }`, decoded.
    pub timeouts: Option<Box<Timeouts>>,
    /// Baton's `retry { attempts, backoff, max_backoff }` for retryable provider failures,
    /// decoded.
    pub retry: Option<Box<Retry>>,
    /// Everything that is not a meta-argument: the provider schema's arguments and blocks.
    pub config: Body,
}

impl Resource {
    /// `resource "a" "b"` / `data "a" "b"` for diagnostics.
    pub fn describe(&self) -> String {
        match self.addr.mode {
            ResourceMode::Managed => {
                format!("resource \"{}\" \"{}\"", self.addr.type_, self.addr.name)
            }
            ResourceMode::Data => format!("data \"{}\" \"{}\"", self.addr.type_, self.addr.name),
        }
    }
}

#[derive(Clone, Debug)]
pub struct ModuleCall {
    pub name: String,
    pub def_span: Span,
    pub source: String,
    pub source_span: Span,
    pub version: Option<String>,
    pub count: Option<Expr>,
    pub for_each: Option<Expr>,
    pub depends_on: Vec<Expr>,
    pub providers: Vec<(Expr, Expr)>,
    /// The input variables given to the module.
    pub inputs: Vec<Attribute>,
    /// The resolved directory of a local source.
    pub dir: Option<PathBuf>,
}

#[derive(Clone, Debug)]
pub struct ProviderBlock {
    pub name: String,
    pub alias: Option<String>,
    pub def_span: Span,
    pub config: Body,
}

#[derive(Clone, Debug)]
pub struct Moved {
    pub from: Expr,
    pub to: Expr,
    pub span: Span,
}

#[derive(Clone, Debug)]
pub struct Removed {
    pub from: Expr,
    pub destroy: bool,
    pub span: Span,
    pub provisioners: Vec<Provisioner>,
}

#[derive(Clone, Debug)]
pub struct Import {
    pub to: Expr,
    pub id: Expr,
    pub for_each: Option<Expr>,
    pub provider: Option<ProviderRef>,
    pub span: Span,
}

#[derive(Clone, Debug)]
pub struct Check {
    pub name: String,
    pub def_span: Span,
    pub data: Vec<Resource>,
    pub asserts: Vec<CheckRule>,
}

pub use crate::fs::{normalize, ConfigFs, MemFs, RealFs};

/// Reads every `*.tf` file of `dir` (sorted by name) and builds the module. Its files are
/// named relative to `dir` in diagnostics.
pub fn load_module(dir: &Path, path: ModulePath, sources: &Sources) -> (Module, Diagnostics) {
    load_module_with(dir, dir, path, sources, &RealFs)
}

/// Reads the module in `dir`; `root` is the root module's directory, relative to which its
/// files are named in diagnostics.
fn load_module_with(
    root: &Path,
    dir: &Path,
    path: ModulePath,
    sources: &Sources,
    fs: &dyn ConfigFs,
) -> (Module, Diagnostics) {
    let mut diags = Diagnostics::new();
    let files = match fs.tf_files(dir) {
        Ok(f) => f,
        Err(e) => {
            diags.push(Diagnostic::error(
                "Failed to read module directory",
                format!("Could not read {}: {e}.", dir.display()),
            ));
            Vec::new()
        }
    };
    let mut bodies = Vec::new();
    for f in &files {
        let text = match fs.read(f) {
            Ok(t) => t,
            Err(e) => {
                diags.push(Diagnostic::error(
                    "Failed to read file",
                    format!("Could not read {}: {e}.", f.display()),
                ));
                continue;
            }
        };
        let id = sources.add(display_name(root, f), f, text.clone());
        match parse_file(id, &text) {
            Ok(b) => bodies.push(b),
            Err(d) => diags.push(d),
        }
    }
    let (module, d) = build_module(dir, path, &bodies);
    diags.extend(d);
    (module, diags)
}

/// Loads the root module in `dir` and, recursively, every module it calls from a local path.
/// Files are named relative to `dir` in diagnostics (as Terraform names them after `-chdir`).
pub fn load_config(dir: &Path, sources: &Sources) -> (Config, Diagnostics) {
    load_config_with(dir, sources, &RealFs)
}

/// Like [`load_config`], reading files from `fs`.
pub fn load_config_with(dir: &Path, sources: &Sources, fs: &dyn ConfigFs) -> (Config, Diagnostics) {
    load_tree(dir, dir, ModulePath::root(), sources, &mut Vec::new(), fs)
}

/// Loads the module in `dir` and its children; `root` is the root module's directory.
fn load_tree(
    root: &Path,
    dir: &Path,
    path: ModulePath,
    sources: &Sources,
    stack: &mut Vec<PathBuf>,
    fs: &dyn ConfigFs,
) -> (Config, Diagnostics) {
    let (mut module, mut diags) = load_module_with(root, dir, path.clone(), sources, fs);
    let canonical = normalize(dir);
    stack.push(canonical);
    let mut children = BTreeMap::new();
    for call in module.module_calls.values_mut() {
        let src = call.source.as_str();
        let local = src.starts_with("./") || src.starts_with("../") || src == "." || src == "..";
        if !local {
            diags.push(
                Diagnostic::error(
                    "Module source not available offline",
                    format!(
                        "Module \"{}\" has source {:?}. Baton supports local module sources (paths starting with ./ or ../); registry, git and other remote sources are not available offline yet.",
                        call.name, call.source
                    ),
                )
                .at(call.source_span)
                .in_context(format!("module \"{}\"", call.name)),
            );
            continue;
        }
        let child_dir = normalize(&dir.join(src));
        if !fs.is_dir(&child_dir) {
            diags.push(
                Diagnostic::error(
                    "Module not found",
                    format!(
                        "The module directory {} does not exist.",
                        child_dir.display()
                    ),
                )
                .at(call.source_span)
                .in_context(format!("module \"{}\"", call.name)),
            );
            continue;
        }
        if stack.contains(&child_dir) {
            diags.push(
                Diagnostic::error(
                    "Module calls itself",
                    format!(
                        "Module \"{}\" calls {}, which is already being loaded: modules cannot call themselves, directly or indirectly.",
                        call.name,
                        child_dir.display()
                    ),
                )
                .at(call.source_span),
            );
            continue;
        }
        call.dir = Some(child_dir.clone());
        let (child, d) = load_tree(root, &child_dir, path.child(&call.name), sources, stack, fs);
        diags.extend(d);
        children.insert(call.name.clone(), child);
    }
    stack.pop();
    (Config { module, children }, diags)
}

/// How diagnostics name the file at `p`: relative to the root module's directory `root` when
/// it is inside it, else in full (never relative to the process's working directory).
fn display_name(root: &Path, p: &Path) -> String {
    match p.strip_prefix(root) {
        Ok(rel) => rel.display().to_string(),
        Err(_) => p.display().to_string(),
    }
}

/// Builds a module from already-parsed file bodies.
pub fn build_module(dir: &Path, path: ModulePath, bodies: &[Body]) -> (Module, Diagnostics) {
    let mut b = Builder {
        m: Module {
            path,
            dir: dir.to_path_buf(),
            ..Module::default()
        },
        diags: Diagnostics::new(),
        seen: BTreeMap::new(),
    };
    for body in bodies {
        for a in &body.attrs {
            b.diags.push(
                Diagnostic::error(
                    "Unsupported argument",
                    format!(
                        "An argument named \"{}\" is not expected here: the top level of a module holds only blocks (resource, data, variable, locals, output, module, provider, terraform, moved, removed, import, check).",
                        a.name
                    ),
                )
                .at(a.name_span),
            );
        }
        for blk in &body.blocks {
            b.block(blk);
        }
    }
    (b.m, b.diags)
}

struct Builder {
    m: Module,
    diags: Diagnostics,
    /// First declaration of each named object, for duplicate errors.
    seen: BTreeMap<String, Span>,
}

const TOP_LEVEL: &[&str] = &[
    "terraform",
    "variable",
    "locals",
    "output",
    "resource",
    "data",
    "module",
    "provider",
    "moved",
    "removed",
    "import",
    "check",
];

impl Builder {
    fn err(&mut self, summary: &str, detail: String, span: Span) {
        self.diags.push(Diagnostic::error(summary, detail).at(span));
    }

    fn labels(&mut self, blk: &Block, n: usize, names: &str) -> Option<Vec<String>> {
        if blk.labels.len() != n {
            let detail = if n == 0 {
                format!("A {} block takes no labels.", blk.type_)
            } else {
                format!("A {} block needs {n} label(s): {names}.", blk.type_)
            };
            self.err(
                if blk.labels.len() < n {
                    "Missing name for block"
                } else {
                    "Extraneous label for block"
                },
                detail,
                blk.def_span,
            );
            return None;
        }
        for (l, span) in &blk.labels {
            if n > 0 && !is_valid_name(l) {
                self.err(
                    "Invalid name",
                    format!("{l:?} is not a valid name: a name must start with a letter or underscore and may contain only letters, digits, underscores, and dashes."),
                    *span,
                );
                return None;
            }
        }
        Some(blk.labels.iter().map(|(l, _)| l.clone()).collect())
    }

    fn dup(&mut self, key: String, what: &str, span: Span) -> bool {
        if let Some(first) = self.seen.get(&key) {
            let first = *first;
            self.diags.push(
                Diagnostic::error(
                    format!("Duplicate {what}"),
                    format!(
                        "{key} was already declared (first declaration at byte {} of the same configuration); each must have a unique name.",
                        first.start
                    ),
                )
                .at(span),
            );
            return true;
        }
        self.seen.insert(key, span);
        false
    }

    fn block(&mut self, blk: &Block) {
        match blk.type_.as_str() {
            "terraform" => self.terraform(blk),
            "variable" => self.variable(blk),
            "locals" => self.locals(blk),
            "output" => self.output(blk),
            "resource" => {
                if let Some(r) = self.resource(blk, ResourceMode::Managed) {
                    self.m.resources.insert(r.addr.clone(), Box::new(r));
                }
            }
            "data" => {
                if let Some(r) = self.resource(blk, ResourceMode::Data) {
                    self.m.resources.insert(r.addr.clone(), Box::new(r));
                }
            }
            "module" => self.module_call(blk),
            "provider" => self.provider(blk),
            "moved" => self.moved(blk),
            "removed" => self.removed(blk),
            "import" => self.import(blk),
            "check" => self.check(blk),
            other => {
                let suggestion = suggest(other, TOP_LEVEL)
                    .map(|s| format!(" Did you mean \"{s}\"?"))
                    .unwrap_or_default();
                self.err(
                    "Unsupported block type",
                    format!("Blocks of type \"{other}\" are not expected here.{suggestion}"),
                    blk.def_span,
                );
            }
        }
    }

    /// Checks that a body has only the given attributes and block types.
    fn only(&mut self, body: &Body, attrs: &[&str], blocks: &[&str], context: &str) {
        for a in &body.attrs {
            if !attrs.contains(&a.name.as_str()) {
                let hint = if attrs.is_empty() {
                    String::new()
                } else {
                    format!(" Expected one of: {}.", attrs.join(", "))
                };
                self.diags.push(
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
        }
        for b in &body.blocks {
            if !blocks.contains(&b.type_.as_str()) {
                self.diags.push(
                    Diagnostic::error(
                        "Unsupported block type",
                        format!("Blocks of type \"{}\" are not expected here.", b.type_),
                    )
                    .at(b.def_span)
                    .in_context(context.to_string()),
                );
            }
        }
    }

    fn static_string(&mut self, a: &Attribute) -> Option<String> {
        match &a.expr.kind {
            ExprKind::String(s) => Some(s.clone()),
            _ => {
                self.err(
                    "Invalid value",
                    format!("The argument \"{}\" must be a literal string.", a.name),
                    a.expr.span,
                );
                None
            }
        }
    }

    fn static_bool(&mut self, a: &Attribute) -> Option<bool> {
        match &a.expr.kind {
            ExprKind::Bool(b) => Some(*b),
            ExprKind::String(s) if s == "true" => Some(true),
            ExprKind::String(s) if s == "false" => Some(false),
            _ => {
                self.err(
                    "Invalid value",
                    format!(
                        "The argument \"{}\" must be the literal true or false; references and expressions are not allowed here.",
                        a.name
                    ),
                    a.expr.span,
                );
                None
            }
        }
    }

    fn terraform(&mut self, blk: &Block) {
        if self.labels(blk, 0, "").is_none() {
            return;
        }
        let body = &blk.body;
        crate::backend::collect_from(blk, &mut self.m.terraform.backend, &mut self.diags);
        for a in &body.attrs {
            match a.name.as_str() {
                "required_version" => {
                    self.m.terraform.required_version = self.static_string(a);
                }
                "experiments" | "language" => {}
                _ => self.err(
                    "Unsupported argument",
                    format!(
                        "An argument named \"{}\" is not expected in a terraform block.",
                        a.name
                    ),
                    a.name_span,
                ),
            }
        }
        for b in &body.blocks {
            match b.type_.as_str() {
                "required_providers" => {
                    for a in &b.body.attrs {
                        let field = |name: &str| match &a.expr.kind {
                            ExprKind::Object(items) => {
                                items.iter().find_map(|(k, v)| match (k, &v.kind) {
                                    (crate::ast::ObjectKey::Ident(k), ExprKind::String(s))
                                        if k == name =>
                                    {
                                        Some(s.clone())
                                    }
                                    _ => None,
                                })
                            }
                            _ => None,
                        };
                        // Terraform 0.12's shorthand `aws = "~> 2.0"` is a version
                        // constraint, with the default source.
                        let src = field("source").unwrap_or_default();
                        let version = match &a.expr.kind {
                            ExprKind::String(s) => Some(s.clone()),
                            _ => field("version"),
                        };
                        if let Some(v) = version {
                            self.m
                                .terraform
                                .required_provider_versions
                                .insert(a.name.clone(), v);
                        }
                        self.m
                            .terraform
                            .required_providers
                            .insert(a.name.clone(), src);
                    }
                }
                "backend" | "cloud" => {}
                "baton" => {
                    self.m.terraform.baton =
                        crate::settings::baton_settings(&b.body, &mut self.diags)
                }
                "provider_meta" => {}
                other => self.err(
                    "Unsupported block type",
                    format!("Blocks of type \"{other}\" are not expected in a terraform block."),
                    b.def_span,
                ),
            }
        }
    }

    fn check_rules(&mut self, body: &Body, kind: &str, context: &str) -> Vec<CheckRule> {
        let mut out = Vec::new();
        for b in body.blocks_of(kind) {
            self.only(&b.body, &["condition", "error_message"], &[], context);
            match b.body.attr("condition") {
                Some(c) => out.push(CheckRule {
                    condition: c.expr.clone(),
                    error_message: b.body.attr("error_message").map(|a| a.expr.clone()),
                    span: b.def_span,
                }),
                None => self.err(
                    "Missing required argument",
                    format!("The argument \"condition\" is required in a {kind} block."),
                    b.def_span,
                ),
            }
            if kind == "validation" && b.body.attr("error_message").is_none() {
                self.err(
                    "Missing required argument",
                    "The argument \"error_message\" is required in a validation block.".into(),
                    b.def_span,
                );
            }
        }
        out
    }

    fn variable(&mut self, blk: &Block) {
        let Some(l) = self.labels(blk, 1, "the variable name") else {
            return;
        };
        let name = l[0].clone();
        if matches!(
            name.as_str(),
            "source"
                | "version"
                | "providers"
                | "count"
                | "for_each"
                | "lifecycle"
                | "depends_on"
                | "locals"
        ) {
            self.err(
                "Invalid variable name",
                format!("The variable name \"{name}\" is reserved due to its special meaning inside module blocks."),
                blk.labels[0].1,
            );
        }
        if self.dup(
            format!("variable.{name}"),
            "variable declaration",
            blk.def_span,
        ) {
            return;
        }
        let ctx = format!("variable \"{name}\"");
        self.only(
            &blk.body,
            &[
                "type",
                "default",
                "description",
                "sensitive",
                "nullable",
                "ephemeral",
            ],
            &["validation"],
            &ctx,
        );
        let body = &blk.body;
        let description = body.attr("description").and_then(|a| self.static_string(a));
        let sensitive = body
            .attr("sensitive")
            .and_then(|a| self.static_bool(a))
            .unwrap_or(false);
        let nullable = body
            .attr("nullable")
            .and_then(|a| self.static_bool(a))
            .unwrap_or(true);
        let ephemeral = body
            .attr("ephemeral")
            .and_then(|a| self.static_bool(a))
            .unwrap_or(false);
        let validations = self.check_rules(body, "validation", &ctx);
        self.m.variables.insert(
            name.clone(),
            Variable {
                name,
                def_span: blk.def_span,
                type_expr: body.attr("type").map(|a| a.expr.clone()),
                default: body.attr("default").map(|a| a.expr.clone()),
                description,
                sensitive,
                nullable,
                ephemeral,
                validations,
            },
        );
    }

    fn locals(&mut self, blk: &Block) {
        if self.labels(blk, 0, "").is_none() {
            return;
        }
        for b in &blk.body.blocks {
            self.err(
                "Unsupported block type",
                "A locals block holds only arguments (name = value).".into(),
                b.def_span,
            );
        }
        for a in &blk.body.attrs {
            if self.dup(format!("local.{}", a.name), "local value", a.name_span) {
                continue;
            }
            self.m.locals.insert(
                a.name.clone(),
                Local {
                    name: a.name.clone(),
                    expr: a.expr.clone(),
                    span: a.span,
                },
            );
        }
    }

    fn output(&mut self, blk: &Block) {
        let Some(l) = self.labels(blk, 1, "the output name") else {
            return;
        };
        let name = l[0].clone();
        if self.dup(format!("output.{name}"), "output", blk.def_span) {
            return;
        }
        let ctx = format!("output \"{name}\"");
        self.only(
            &blk.body,
            &[
                "value",
                "description",
                "sensitive",
                "depends_on",
                "ephemeral",
            ],
            &["precondition"],
            &ctx,
        );
        let body = &blk.body;
        let Some(value) = body.attr("value") else {
            self.err(
                "Missing required argument",
                "The argument \"value\" is required, but no definition was found.".into(),
                blk.def_span,
            );
            return;
        };
        let description = body.attr("description").and_then(|a| self.static_string(a));
        let sensitive = body
            .attr("sensitive")
            .and_then(|a| self.static_bool(a))
            .unwrap_or(false);
        let ephemeral = body
            .attr("ephemeral")
            .and_then(|a| self.static_bool(a))
            .unwrap_or(false);
        let depends_on = self.depends_on(body);
        let preconditions = self.check_rules(body, "precondition", &ctx);
        self.m.outputs.insert(
            name.clone(),
            Output {
                name,
                def_span: blk.def_span,
                value: value.expr.clone(),
                description,
                sensitive,
                ephemeral,
                depends_on,
                preconditions,
            },
        );
    }

    fn depends_on(&mut self, body: &Body) -> Vec<Expr> {
        let Some(a) = body.attr("depends_on") else {
            return Vec::new();
        };
        match &a.expr.kind {
            ExprKind::Tuple(items) => {
                let mut out = Vec::new();
                for e in items {
                    if let Some((root, steps)) = e.as_traversal() {
                        // A whole object only: `type.name`, `type.name[key]`, `data.type.name`,
                        // `module.name`; not an attribute of one.
                        let names = match root {
                            "module" => 1,
                            "data" => 2,
                            _ => 1,
                        };
                        let attrs_after = steps
                            .iter()
                            .skip(names)
                            .filter(|s| matches!(s, crate::ast::TraversalStep::Attr(..)))
                            .count();
                        if attrs_after > 0 || steps.len() < names {
                            self.err(
                                "Invalid depends_on reference",
                                "References in depends_on must be to a whole object (resource, etc), not to an attribute of an object.".into(),
                                e.span,
                            );
                            continue;
                        }
                        out.push(e.clone());
                    } else {
                        self.err(
                            "Invalid depends_on reference",
                            "depends_on may only hold references to resources, data sources or modules, such as terraform_data.x or module.net.".into(),
                            e.span,
                        );
                    }
                }
                out
            }
            _ => {
                self.err(
                    "Invalid depends_on",
                    "depends_on must be a list of references, such as [terraform_data.x].".into(),
                    a.expr.span,
                );
                Vec::new()
            }
        }
    }

    fn provider_ref(&mut self, a: &Attribute) -> Option<ProviderRef> {
        match a.expr.as_traversal() {
            Some((name, steps)) if steps.len() <= 1 => {
                let alias = match steps.first() {
                    Some(crate::ast::TraversalStep::Attr(s, _)) => Some(s.to_string()),
                    Some(_) => None,
                    None => None,
                };
                Some(ProviderRef {
                    name: name.to_string(),
                    alias,
                    span: a.expr.span,
                })
            }
            _ => {
                self.err(
                    "Invalid provider reference",
                    "The provider argument takes a provider name, optionally with an alias: provider = aws.west.".into(),
                    a.expr.span,
                );
                None
            }
        }
    }

    fn resource(&mut self, blk: &Block, mode: ResourceMode) -> Option<Resource> {
        let l = self.labels(blk, 2, "the resource type and name")?;
        let addr = ResourceAddr {
            mode,
            type_: l[0].clone(),
            name: l[1].clone(),
        };
        if self.dup(addr.to_string(), "resource", blk.def_span) {
            return None;
        }
        let body = &blk.body;
        let ctx = match mode {
            ResourceMode::Managed => format!("resource \"{}\" \"{}\"", l[0], l[1]),
            ResourceMode::Data => format!("data \"{}\" \"{}\"", l[0], l[1]),
        };
        let count = body.attr("count").map(|a| a.expr.clone());
        let for_each = body.attr("for_each").map(|a| a.expr.clone());
        if let (Some(_), Some(fe)) = (&count, &for_each) {
            self.diags.push(
                Diagnostic::error(
                    "Invalid combination of \"count\" and \"for_each\"",
                    "The \"count\" and \"for_each\" meta-arguments are mutually-exclusive, only one should be used to be explicit about the number of resources to be created.",
                )
                .at(fe.span)
                .in_context(ctx.clone()),
            );
        }
        let provider = body.attr("provider").and_then(|a| self.provider_ref(a));
        let depends_on = self.depends_on(body);
        let mut lifecycle = Lifecycle::default();
        let mut provisioners = Vec::new();
        let mut timeouts: Option<Timeouts> = None;
        let mut retry: Option<Retry> = None;
        let mut config = Body {
            span: body.span,
            attrs: Vec::with_capacity(body.attrs.len()),
            blocks: Vec::new(),
        };
        for a in &body.attrs {
            match a.name.as_str() {
                "count" | "for_each" | "provider" | "depends_on" => {}
                _ => config.attrs.push(a.clone()),
            }
        }
        let mut seen_lifecycle = false;
        for b in &body.blocks {
            match b.type_.as_str() {
                "lifecycle" => {
                    if seen_lifecycle {
                        self.err(
                            "Duplicate lifecycle block",
                            "Only one lifecycle block is allowed per resource.".into(),
                            b.def_span,
                        );
                        continue;
                    }
                    seen_lifecycle = true;
                    lifecycle = self.lifecycle(b, mode, &ctx);
                }
                "provisioner" if mode == ResourceMode::Managed => {
                    if let Some(p) = self.provisioner(b, &ctx) {
                        provisioners.push(p);
                    }
                }
                // The configuration-management types (`remote_*`, `ansible_*`) act on a host:
                // their `connection` block is an argument, decoded by their schema. For every
                // other type it belongs to provisioners.
                "connection" if takes_connection(&addr.type_) => config.blocks.push(b.clone()),
                "connection" if mode == ResourceMode::Managed => {}
                "timeouts" | "retry" => {
                    let seen = if b.type_ == "timeouts" {
                        timeouts.is_some()
                    } else {
                        retry.is_some()
                    };
                    if seen {
                        self.err(
                            &format!("Duplicate {} block", b.type_),
                            format!("Only one {} block is allowed per resource.", b.type_),
                            b.def_span,
                        );
                    } else if b.type_ == "timeouts" {
                        timeouts = Some(crate::settings::timeouts(&b.body, &ctx, &mut self.diags));
                    } else if mode == ResourceMode::Managed {
                        retry = Some(crate::settings::retry(&b.body, &ctx, &mut self.diags));
                    } else {
                        config.blocks.push(b.clone());
                    }
                }
                _ => config.blocks.push(b.clone()),
            }
        }
        // Kept for the whole run, once per resource block: no spare capacity.
        config.attrs.shrink_to_fit();
        config.blocks.shrink_to_fit();
        Some(Resource {
            addr,
            def_span: blk.def_span,
            type_span: blk.labels[0].1,
            span: blk.span,
            provider,
            count: count.map(Box::new),
            for_each: for_each.map(Box::new),
            depends_on,
            lifecycle,
            provisioners,
            timeouts: timeouts.map(Box::new),
            retry: retry.map(Box::new),
            config,
        })
    }

    fn lifecycle(&mut self, b: &Block, mode: ResourceMode, ctx: &str) -> Lifecycle {
        let mut l = Lifecycle::default();
        let (attrs, blocks): (&[&str], &[&str]) = match mode {
            ResourceMode::Managed => (
                &[
                    "create_before_destroy",
                    "prevent_destroy",
                    "ignore_changes",
                    "replace_triggered_by",
                ],
                &["precondition", "postcondition"],
            ),
            ResourceMode::Data => (&[], &["precondition", "postcondition"]),
        };
        self.only(&b.body, attrs, blocks, ctx);
        for a in &b.body.attrs {
            match a.name.as_str() {
                "create_before_destroy" => {
                    l.create_before_destroy = self.static_bool(a).unwrap_or(false)
                }
                "prevent_destroy" => l.prevent_destroy = self.static_bool(a).unwrap_or(false),
                "ignore_changes" => {
                    l.ignore_changes = match &a.expr.kind {
                        ExprKind::Var(k) if k == "all" => IgnoreChanges::All,
                        ExprKind::String(k) if k == "all" => IgnoreChanges::All,
                        ExprKind::Tuple(items) => {
                            let mut paths = Vec::new();
                            for e in items {
                                if e.as_traversal().is_some() {
                                    paths.push(e.clone());
                                } else {
                                    self.err(
                                        "Invalid ignore_changes",
                                        "ignore_changes holds attribute names such as [tags, input], or the keyword all.".into(),
                                        e.span,
                                    );
                                }
                            }
                            IgnoreChanges::Paths(paths)
                        }
                        _ => {
                            self.err(
                                "Invalid ignore_changes",
                                "ignore_changes must be a list of attribute names or the keyword all.".into(),
                                a.expr.span,
                            );
                            IgnoreChanges::None
                        }
                    }
                }
                "replace_triggered_by" => match &a.expr.kind {
                    ExprKind::Tuple(items) => l.replace_triggered_by = items.clone(),
                    _ => self.err(
                        "Invalid replace_triggered_by",
                        "replace_triggered_by must be a list of references to resources or their attributes.".into(),
                        a.expr.span,
                    ),
                },
                _ => {}
            }
        }
        l.preconditions = self.check_rules(&b.body, "precondition", ctx);
        l.postconditions = self.check_rules(&b.body, "postcondition", ctx);
        l
    }

    fn provisioner(&mut self, b: &Block, ctx: &str) -> Option<Provisioner> {
        let l = self.labels(b, 1, "the provisioner type")?;
        let kind = l[0].clone();
        if !matches!(kind.as_str(), "local-exec") {
            self.err(
                "Unsupported provisioner",
                format!("Provisioner \"{kind}\" is not supported; Baton runs \"local-exec\" provisioners. Use a shell_script resource or a workflow step for other cases."),
                b.labels[0].1,
            );
            return None;
        }
        let mut body = b.body.clone();
        let mut when = ProvisionerWhen::Create;
        let mut on_failure = OnFailure::Fail;
        body.attrs.retain(|a| match a.name.as_str() {
            "when" => {
                match a.expr.as_keyword().or(a.expr.as_static_str()) {
                    Some("destroy") => when = ProvisionerWhen::Destroy,
                    Some("create") => when = ProvisionerWhen::Create,
                    _ => self.diags.push(
                        Diagnostic::error(
                            "Invalid \"when\" keyword",
                            "The \"when\" argument must be create or destroy.",
                        )
                        .at(a.expr.span)
                        .in_context(ctx.to_string()),
                    ),
                }
                false
            }
            "on_failure" => {
                match a.expr.as_keyword().or(a.expr.as_static_str()) {
                    Some("continue") => on_failure = OnFailure::Continue,
                    Some("fail") => on_failure = OnFailure::Fail,
                    _ => self.diags.push(
                        Diagnostic::error(
                            "Invalid \"on_failure\" keyword",
                            "The \"on_failure\" argument must be continue or fail.",
                        )
                        .at(a.expr.span)
                        .in_context(ctx.to_string()),
                    ),
                }
                false
            }
            _ => true,
        });
        body.blocks.retain(|blk| blk.type_ != "connection");
        self.only(
            &body,
            &[
                "command",
                "interpreter",
                "environment",
                "working_dir",
                "quiet",
            ],
            &[],
            ctx,
        );
        if body.attr("command").is_none() {
            self.err(
                "Missing required argument",
                "The argument \"command\" is required in a local-exec provisioner.".into(),
                b.def_span,
            );
        }
        Some(Provisioner {
            kind,
            def_span: b.def_span,
            body,
            when,
            on_failure,
        })
    }

    fn module_call(&mut self, blk: &Block) {
        let Some(l) = self.labels(blk, 1, "the module name") else {
            return;
        };
        let name = l[0].clone();
        if self.dup(format!("module.{name}"), "module call", blk.def_span) {
            return;
        }
        let body = &blk.body;
        let ctx = format!("module \"{name}\"");
        for b in &body.blocks {
            self.diags.push(
                Diagnostic::error(
                    "Unsupported block type",
                    format!(
                        "Blocks of type \"{}\" are not expected in a module block.",
                        b.type_
                    ),
                )
                .at(b.def_span)
                .in_context(ctx.clone()),
            );
        }
        let Some(src) = body.attr("source") else {
            self.err(
                "Missing required argument",
                "The argument \"source\" is required, but no definition was found.".into(),
                blk.def_span,
            );
            return;
        };
        let source = self.static_string(src).unwrap_or_default();
        let version = body.attr("version").and_then(|a| self.static_string(a));
        let count = body.attr("count").map(|a| a.expr.clone());
        let for_each = body.attr("for_each").map(|a| a.expr.clone());
        if let (Some(_), Some(fe)) = (&count, &for_each) {
            self.err(
                "Invalid combination of \"count\" and \"for_each\"",
                "The \"count\" and \"for_each\" meta-arguments are mutually-exclusive.".into(),
                fe.span,
            );
        }
        let depends_on = self.depends_on(body);
        let mut providers = Vec::new();
        if let Some(p) = body.attr("providers") {
            match &p.expr.kind {
                ExprKind::Object(items) => {
                    for (k, v) in items {
                        let key = match k {
                            crate::ast::ObjectKey::Ident(s) => {
                                Expr::new(ExprKind::Var(s.clone()), v.span)
                            }
                            crate::ast::ObjectKey::Expr(e) => e.clone(),
                        };
                        providers.push((key, v.clone()));
                    }
                }
                _ => self.err(
                    "Invalid providers",
                    "providers must be a map of provider configurations, such as { aws = aws.west }.".into(),
                    p.expr.span,
                ),
            }
        }
        let inputs = body
            .attrs
            .iter()
            .filter(|a| {
                !matches!(
                    a.name.as_str(),
                    "source" | "version" | "count" | "for_each" | "depends_on" | "providers"
                )
            })
            .cloned()
            .collect();
        self.m.module_calls.insert(
            name.clone(),
            ModuleCall {
                name,
                def_span: blk.def_span,
                source,
                source_span: src.expr.span,
                version,
                count,
                for_each,
                depends_on,
                providers,
                inputs,
                dir: None,
            },
        );
    }

    fn provider(&mut self, blk: &Block) {
        let Some(l) = self.labels(blk, 1, "the provider name") else {
            return;
        };
        let alias = blk.body.attr("alias").and_then(|a| self.static_string(a));
        let key = match &alias {
            Some(a) => format!("provider.{}.{a}", l[0]),
            None => format!("provider.{}", l[0]),
        };
        if self.dup(key, "provider configuration", blk.def_span) {
            return;
        }
        let mut config = blk.body.clone();
        config
            .attrs
            .retain(|a| a.name != "alias" && a.name != "version");
        self.m.providers.push(ProviderBlock {
            name: l[0].clone(),
            alias,
            def_span: blk.def_span,
            config,
        });
    }

    fn moved(&mut self, blk: &Block) {
        if self.labels(blk, 0, "").is_none() {
            return;
        }
        self.only(&blk.body, &["from", "to"], &[], "moved");
        match (blk.body.attr("from"), blk.body.attr("to")) {
            (Some(f), Some(t)) => self.m.moved.push(Moved {
                from: f.expr.clone(),
                to: t.expr.clone(),
                span: blk.def_span,
            }),
            _ => self.err(
                "Missing required argument",
                "A moved block needs both \"from\" and \"to\".".into(),
                blk.def_span,
            ),
        }
    }

    fn removed(&mut self, blk: &Block) {
        if self.labels(blk, 0, "").is_none() {
            return;
        }
        self.only(
            &blk.body,
            &["from"],
            &["lifecycle", "provisioner", "connection"],
            "removed",
        );
        let Some(f) = blk.body.attr("from") else {
            self.err(
                "Missing required argument",
                "A removed block needs \"from\".".into(),
                blk.def_span,
            );
            return;
        };
        let mut destroy = true;
        for l in blk.body.blocks_of("lifecycle") {
            if let Some(d) = l.body.attr("destroy") {
                destroy = self.static_bool(d).unwrap_or(true);
            }
        }
        let mut provisioners = Vec::new();
        for p in blk.body.blocks_of("provisioner") {
            if let Some(p) = self.provisioner(p, "removed") {
                provisioners.push(p);
            }
        }
        self.m.removed.push(Removed {
            from: f.expr.clone(),
            destroy,
            span: blk.def_span,
            provisioners,
        });
    }

    fn import(&mut self, blk: &Block) {
        if self.labels(blk, 0, "").is_none() {
            return;
        }
        self.only(
            &blk.body,
            &["to", "id", "for_each", "provider", "identity"],
            &[],
            "import",
        );
        match (blk.body.attr("to"), blk.body.attr("id")) {
            (Some(t), Some(i)) => {
                let provider = blk.body.attr("provider").and_then(|a| self.provider_ref(a));
                self.m.imports.push(Import {
                    to: t.expr.clone(),
                    id: i.expr.clone(),
                    for_each: blk.body.attr("for_each").map(|a| a.expr.clone()),
                    provider,
                    span: blk.def_span,
                })
            }
            _ => self.err(
                "Missing required argument",
                "An import block needs both \"to\" and \"id\".".into(),
                blk.def_span,
            ),
        }
    }

    fn check(&mut self, blk: &Block) {
        let Some(l) = self.labels(blk, 1, "the check name") else {
            return;
        };
        let name = l[0].clone();
        if self.dup(format!("check.{name}"), "check block", blk.def_span) {
            return;
        }
        self.only(
            &blk.body,
            &[],
            &["data", "assert"],
            &format!("check \"{name}\""),
        );
        let mut data = Vec::new();
        for d in blk.body.blocks_of("data") {
            if let Some(r) = self.resource(d, ResourceMode::Data) {
                data.push(r);
            }
        }
        let asserts = self.check_rules(&blk.body, "assert", &format!("check \"{name}\""));
        self.m.checks.push(Check {
            name,
            def_span: blk.def_span,
            data,
            asserts,
        });
    }
}

/// Terraform's identifier rule for names.
pub fn is_valid_name(s: &str) -> bool {
    let mut chars = s.chars();
    match chars.next() {
        Some(c) if c.is_alphabetic() || c == '_' => {}
        _ => return false,
    }
    chars.all(|c| c.is_alphanumeric() || c == '_' || c == '-')
}

/// The closest candidate by edit distance, if it is close enough to be a likely typo.
pub fn suggest<'a>(given: &str, candidates: &[&'a str]) -> Option<&'a str> {
    candidates
        .iter()
        .map(|c| (levenshtein(given, c), *c))
        .filter(|(d, _)| *d <= 2)
        .min()
        .map(|(_, c)| c)
}

fn levenshtein(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut prev: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut cur = vec![i + 1];
        for (j, cb) in b.iter().enumerate() {
            let cost = usize::from(ca != *cb);
            cur.push((prev[j] + cost).min(prev[j + 1] + 1).min(cur[j] + 1));
        }
        prev = cur;
    }
    prev[b.len()]
}

/// Whether resources and data sources of `type_` take a `connection` block as an argument
/// (the configuration-management types, which act on a host over it), rather than as the
/// provisioners' connection.
pub fn takes_connection(type_: &str) -> bool {
    type_.starts_with("remote_") || type_.starts_with("ansible_")
}

#[cfg(test)]
mod tests {
    use super::*;
    use baton_core::FileId;

    fn build(text: &str) -> (Module, Diagnostics) {
        let body = parse_file(FileId(0), text).expect("parses");
        build_module(Path::new("."), ModulePath::root(), &[body])
    }

    #[test]
    fn resources_and_meta_arguments() {
        let (m, d) = build(
            r#"
resource "terraform_data" "a" {
  count = 2
  input = "x"
  depends_on = [terraform_data.b]
  lifecycle {
    create_before_destroy = true
    ignore_changes = all
  }
  provisioner "local-exec" {
    command = "echo hi"
    when = destroy
  }
}
resource "terraform_data" "b" {}
"#,
        );
        assert!(d.is_empty(), "{d:?}");
        let r = &m.resources[&ResourceAddr::managed("terraform_data", "a")];
        assert!(r.count.is_some());
        assert_eq!(r.config.attrs.len(), 1);
        assert_eq!(r.depends_on.len(), 1);
        assert!(r.lifecycle.create_before_destroy);
        assert!(matches!(r.lifecycle.ignore_changes, IgnoreChanges::All));
        assert_eq!(r.provisioners[0].when, ProvisionerWhen::Destroy);
    }

    #[test]
    fn every_error_is_collected() {
        let (_, d) = build(
            r#"
resource "terraform_data" "a" {}
resource "terraform_data" "a" {}
variable "v" { bogus = 1 }
output "o" {}
resourse "x" "y" {}
"#,
        );
        let summaries: Vec<&str> = d.iter().map(|d| d.summary.as_str()).collect();
        assert_eq!(
            summaries,
            vec![
                "Duplicate resource",
                "Unsupported argument",
                "Missing required argument",
                "Unsupported block type"
            ]
        );
        assert!(d.0[3].detail.contains("Did you mean \"resource\"?"));
    }
}
