//! Loading policy directories into a prepared Rego engine: finding `.rego` and data files,
//! parsing each policy as Rego v1 and, failing that, as the older syntax, merging data
//! documents, and reporting every problem with its file, line and column.
//!
//! Loading never stops at the first bad file: every file is read and every error collected.
//! Loading never evaluates a policy against input.

use crate::rego_error::{span_at, RegoError};
use crate::rules::{modules_from_ast, ModuleInfo};
use crate::set::{InputShape, Namespaces, PolicySet};
use baton_core::{Diagnostic, Diagnostics, FileId, Sources};
use serde::Deserialize as _;
use std::collections::{BTreeMap, HashMap, HashSet};
use std::num::NonZeroU32;
use std::path::{Path, PathBuf};
use std::time::Duration;

/// How long one rule (or query, or test) may evaluate before it fails with an error. Policies
/// over a plan take milliseconds; this only stops a runaway policy from hanging a run.
pub const EVAL_TIME_LIMIT: Duration = Duration::from_secs(60);

/// The policy sets, parsed and prepared: ready for [`crate::evaluate`] any number of times,
/// from any thread.
#[derive(Clone, Debug)]
pub struct LoadedPolicies {
    pub(crate) sets: Vec<LoadedSet>,
    /// Problems that do not stop the gate, e.g. a set with no `deny`/`warn`/`violation` rule.
    pub warnings: Diagnostics,
    /// Where the policy files were registered: evaluation errors point into them.
    pub(crate) sources: Sources,
}

impl LoadedPolicies {
    /// The sets, in the order given to [`load`].
    pub fn sets(&self) -> impl Iterator<Item = &PolicySet> {
        self.sets.iter().map(|s| &s.set)
    }

    /// Every gate rule found, as `(set, data.<package>.<rule>)`.
    pub fn rules(&self) -> Vec<(String, String)> {
        self.sets
            .iter()
            .flat_map(|s| {
                s.rules.iter().map(|r| {
                    (
                        s.set.name.clone(),
                        crate::rules::rule_ref(&r.package, &r.name),
                    )
                })
            })
            .collect()
    }
}

#[derive(Clone, Debug)]
pub(crate) struct LoadedSet {
    pub set: PolicySet,
    pub corpus: Corpus,
    pub rules: Vec<GateRule>,
}

/// A `deny`, `warn` or `violation` rule (or a `deny_*`, `warn_*`, `violation_*` one) of one
/// package.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct GateRule {
    pub package: Vec<String>,
    pub name: String,
    /// The files that define it (a package may span files).
    pub files: Vec<String>,
}

/// Loads and prepares every set. Any error (a missing directory, a syntax error, a bad data
/// file, a compile error such as an unsafe variable) fails the whole load: the caller must
/// treat that as a denial (see [`crate::Decision::from_load_errors`]).
pub fn load(sets: &[PolicySet], sources: &Sources) -> Result<LoadedPolicies, Diagnostics> {
    load_in(sets, Path::new(""), sources)
}

/// [`load`], naming files and directories relative to `base` (the configuration directory
/// of a run) when they are inside it, as the user knows them; the paths read are the sets'.
pub fn load_in(
    sets: &[PolicySet],
    base: &Path,
    sources: &Sources,
) -> Result<LoadedPolicies, Diagnostics> {
    let mut diags = Diagnostics::new();
    let mut loaded = Vec::with_capacity(sets.len());
    for set in sets {
        let (corpus, d) = build_corpus(&set.dirs, base, false, sources);
        diags.extend(d);
        check_namespaces(set, base, &corpus.modules, &mut diags);
        check_input_shape(set, &corpus, sources, &mut diags);
        let rules: Vec<GateRule> = gate_rules(&corpus.modules)
            .into_iter()
            .filter(|r| {
                set.namespaces
                    .includes(&crate::rules::package_path(&r.package))
            })
            .collect();
        if corpus.modules.is_empty() {
            diags.push(Diagnostic::warning(
                "No policies found",
                format!(
                    "Policy set \"{}\" has no .rego files in {}.",
                    set.name,
                    display_dirs(&set.dirs, base)
                ),
            ));
        } else if rules.is_empty() {
            diags.push(Diagnostic::warning(
                "No policy rules to enforce",
                format!(
                    "Policy set \"{}\" defines no rule named deny, warn or violation (or deny_*, warn_*, violation_*), so it can never stop a run.",
                    set.name
                ),
            ));
        }
        loaded.push(LoadedSet {
            set: set.clone(),
            corpus,
            rules,
        });
    }
    if diags.has_errors() {
        return Err(diags);
    }
    Ok(LoadedPolicies {
        sets: loaded,
        warnings: diags,
        sources: sources.clone(),
    })
}

/// A namespace that names no package is a typo that would silently enforce nothing.
fn check_namespaces(set: &PolicySet, base: &Path, modules: &[ModuleInfo], diags: &mut Diagnostics) {
    let Namespaces::Only(names) = &set.namespaces else {
        return;
    };
    if modules.is_empty() {
        return;
    }
    for n in names {
        if !modules
            .iter()
            .any(|m| crate::rules::package_path(&m.package) == *n)
        {
            let mut packages: Vec<String> = modules
                .iter()
                .map(|m| crate::rules::package_path(&m.package))
                .collect();
            packages.sort();
            packages.dedup();
            diags.push(Diagnostic::error(
                "Unknown policy namespace",
                format!(
                    "Policy set \"{}\" names the namespace {n:?}, but no policy in {} declares package {n}. The packages are: {}.",
                    set.name,
                    display_dirs(&set.dirs, base),
                    packages.join(", ")
                ),
            ));
        }
    }
}

/// Top-level keys of the plan JSON (and of Baton's input) that a policy may read.
const PLAN_KEYS: &[&str] = &[
    "format_version",
    "terraform_version",
    "variables",
    "planned_values",
    "resource_changes",
    "resource_drift",
    "output_changes",
    "prior_state",
    "configuration",
    "relevant_attributes",
    "checks",
    "timestamp",
    "applyable",
    "complete",
    "errored",
];

/// Run metadata of the platforms, which Baton does not provide (their policies find nothing
/// there).
const PLATFORM_METADATA: &[(&str, &str)] = &[
    ("spacelift", "Spacelift's run metadata"),
    ("tfrun", "Scalr's run metadata"),
    ("run", "HCP Terraform's run metadata"),
];

/// A policy written for another input shape finds nothing and allows everything: reading
/// `input.tfplan` when the set gives the bare plan (or `input.resource_changes` when it gives
/// `input.tfplan`) is an error naming the shape the policy expects.
fn check_input_shape(set: &PolicySet, corpus: &Corpus, sources: &Sources, diags: &mut Diagnostics) {
    let shape = set.input_shape;
    for m in &corpus.modules {
        for (key, line, col) in &m.input_roots {
            let key = key.as_str();
            let expected = match shape.plan_key() {
                None => PLAN_KEYS.contains(&key),
                Some(k) => k == key,
            };
            if expected || key == "baton" {
                continue;
            }
            let span = corpus
                .files
                .get(&m.file)
                .and_then(|id| span_at(sources, *id, *line, *col, 5));
            if let Some((_, what)) = PLATFORM_METADATA.iter().find(|(k, _)| *k == key) {
                diags.push(
                    Diagnostic::warning(
                        "Policy reads run metadata Baton does not provide",
                        format!(
                            "{} reads input.{key} ({what}); Baton gives the plan and input.baton (environment, user, command, ...), so input.{key} is undefined and rules that need it do not fire.",
                            m.file
                        ),
                    )
                    .at_opt(span),
                );
                continue;
            }
            let wants = InputShape::ALL.into_iter().find(|s| match s.plan_key() {
                None => PLAN_KEYS.contains(&key),
                Some(k) => k == key,
            });
            let Some(wants) = wants else {
                continue;
            };
            diags.push(
                Diagnostic::error(
                    "Policy written for another input shape",
                    format!(
                        "{} reads input.{key}, but policy set \"{}\" gives the plan {}: this policy would find nothing and allow every run. Set input_shape = \"{}\" on the policy set (or move the policy to a set that has it).",
                        m.file,
                        set.name,
                        match shape.plan_key() {
                            None => "as the input itself (input_shape = \"plan\")".to_string(),
                            Some(k) => format!("under input.{k} (input_shape = \"{shape}\")"),
                        },
                        wants
                    ),
                )
                .at_opt(span),
            );
        }
    }
}

fn display_dirs(dirs: &[PathBuf], base: &Path) -> String {
    dirs.iter()
        .map(|d| shown(d, base))
        .collect::<Vec<_>>()
        .join(", ")
}

/// The gate rules of all modules, grouped by package and name, in a stable order.
fn gate_rules(modules: &[ModuleInfo]) -> Vec<GateRule> {
    let mut by_key: BTreeMap<(Vec<String>, String), Vec<String>> = BTreeMap::new();
    for m in modules {
        for r in &m.rules {
            if r.function || crate::eval::rule_kind(&r.name).is_none() {
                continue;
            }
            let files = by_key
                .entry((m.package.clone(), r.name.clone()))
                .or_default();
            if !files.contains(&m.file) {
                files.push(m.file.clone());
            }
        }
    }
    by_key
        .into_iter()
        .map(|((package, name), files)| GateRule {
            package,
            name,
            files,
        })
        .collect()
}

/// One prepared engine over a group of directories, with what it was built from.
#[derive(Clone, Debug)]
pub(crate) struct Corpus {
    pub engine: regorus::Engine,
    pub modules: Vec<ModuleInfo>,
    /// Registered name → id, to point diagnostics into the files.
    pub files: HashMap<String, FileId>,
}

impl Corpus {
    /// The value of a reference such as `data.p.deny` (also a prefix of ref-head rules, which
    /// `Engine::eval_rule` refuses); `Undefined` when it has none.
    pub(crate) fn eval_ref(
        engine: &mut regorus::Engine,
        reference: &str,
    ) -> Result<regorus::Value, String> {
        let results = engine
            .eval_query(reference.to_string(), false)
            .map_err(|e| format!("{e:#}"))?;
        Ok(results
            .result
            .into_iter()
            .next()
            .and_then(|r| r.expressions.into_iter().next())
            .map_or(regorus::Value::Undefined, |e| e.value))
    }

    /// A diagnostic for an error regorus reported while evaluating or compiling.
    pub(crate) fn diagnostic(
        &self,
        err: &impl std::fmt::Display,
        summary: &str,
        extra: &str,
        sources: &Sources,
    ) -> Diagnostic {
        RegoError::parse(err).to_diagnostic(summary, extra, &self.files, sources)
    }
}

/// A Rego engine as Baton configures it: prints gathered, a time limit per evaluation,
/// built-in errors making the expression undefined (OPA's default) and Baton's built-ins.
pub(crate) fn new_engine() -> Result<regorus::Engine, String> {
    let mut engine = regorus::Engine::new();
    engine.set_gather_prints(true);
    engine.set_execution_timer_config(regorus::utils::limits::ExecutionTimerConfig {
        limit: EVAL_TIME_LIMIT,
        check_interval: NonZeroU32::new(1000).unwrap_or(NonZeroU32::MIN),
    });
    // OPA's default: an error inside a built-in (`count(null)`) makes the expression
    // undefined, so the rule does not fire; it does not fail the whole evaluation.
    engine.set_strict_builtin_errors(false);
    crate::builtins::register(&mut engine)?;
    Ok(engine)
}

/// Reads the directories into one engine. `include_tests` also loads `*_test.rego` files.
/// The corpus is usable only when the diagnostics hold no error.
pub(crate) fn build_corpus(
    dirs: &[PathBuf],
    base: &Path,
    include_tests: bool,
    sources: &Sources,
) -> (Corpus, Diagnostics) {
    let mut diags = Diagnostics::new();
    let mut engine = match new_engine() {
        Ok(e) => e,
        Err(e) => {
            diags.push(Diagnostic::error(
                "Cannot prepare the Rego engine",
                format!("Internal error: {e}"),
            ));
            regorus::Engine::new()
        }
    };
    let mut corpus_files = HashMap::new();

    let mut policies = Vec::new();
    let mut data = Vec::new();
    for dir in dirs {
        collect_files(dir, include_tests, &mut policies, &mut data, &mut diags);
    }

    // (registered name, text, parsed as the older syntax)
    let mut added: Vec<(String, String, bool)> = Vec::new();
    for path in &policies {
        let Some((name, id, text)) = read_file(path, base, sources, &mut diags) else {
            continue;
        };
        corpus_files.insert(name.clone(), id);
        match add_policy(&mut engine, &name, &text) {
            Ok((v0, split)) => added.push((name, split.unwrap_or(text), v0)),
            Err(err) => diags.push(err.to_diagnostic("Invalid policy", "", &corpus_files, sources)),
        }
    }
    if !diags.has_errors() && !added.is_empty() {
        if let Some(e) = rewritten(&engine, &added) {
            engine = e;
        }
    }

    let mut owners: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for path in &data {
        let Some((name, id, text)) = read_file(path, base, sources, &mut diags) else {
            continue;
        };
        corpus_files.insert(name.clone(), id);
        add_data_file(
            &mut engine,
            &name,
            id,
            &text,
            &mut owners,
            sources,
            &mut diags,
        );
    }

    let mut corpus = Corpus {
        engine,
        modules: Vec::new(),
        files: corpus_files,
    };
    if diags.has_errors() || policies.is_empty() {
        return (corpus, diags);
    }
    // Compile now (scheduling, unsafe variables, rule conflicts, imports) so that such errors
    // are load errors with a location rather than surprises during the run.
    if let Err(err) = corpus.engine.eval_query("true".into(), false) {
        let d = corpus.diagnostic(&err, "Invalid policy", "", sources);
        diags.push(d);
        return (corpus, diags);
    }
    match corpus
        .engine
        .get_ast_as_json()
        .map_err(|e| format!("{e:#}"))
        .and_then(|json| modules_from_ast(&json))
    {
        Ok(modules) => corpus.modules = modules,
        Err(e) => diags.push(Diagnostic::error(
            "Cannot read the policies' rules",
            format!("Internal error while listing rules: {e}"),
        )),
    }
    (corpus, diags)
}

/// A new engine holding the policies rewritten around regorus bugs — the locals that shadow a
/// rule renamed (see [`crate::shadow`]), extra bodies of functions and complete rules moved
/// into rules of their own (see [`crate::bodies`]), `rego.metadata.*()` calls answered from
/// METADATA comments (see [`crate::metadata`]), calls with their output as an argument
/// made into forms regorus evaluates as OPA does (see [`crate::calls`]) — or `None` when no
/// policy needs any (or the AST cannot be read: the compile step then reports what regorus
/// finds).
fn rewritten(
    engine: &regorus::Engine,
    added: &[(String, String, bool)],
) -> Option<regorus::Engine> {
    let mut texts: Vec<(String, String, bool)> = added.to_vec();
    let ast: serde_json::Value = serde_json::from_str(&engine.get_ast_as_json().ok()?).ok()?;
    let modules = crate::rules::modules_from_json(&ast).ok()?;
    let packages = crate::metadata::PackageAnnotations::read(modules.iter().filter_map(|m| {
        let (_, text, _) = texts.iter().find(|(n, _, _)| *n == m.file)?;
        Some((text.as_str(), m))
    }));
    // The first three rewrites keep every byte offset, so one AST serves them all; the calls
    // rewrite may lengthen a line, so it works on the AST of their result.
    let mut counter = 0;
    let first = rewrite_texts(engine, &mut texts, |text, ast, module, globals| {
        let mut out = crate::shadow::rewrite(text, ast, globals);
        let md = crate::metadata::rewrite(
            out.as_deref().unwrap_or(text),
            ast,
            module,
            &packages,
            &mut counter,
        );
        out = md.or(out);
        crate::bodies::rewrite(out.as_deref().unwrap_or(text), ast).or(out)
    })?;
    let after_first = if first {
        Some(engine_of(&texts)?)
    } else {
        None
    };
    let second = rewrite_texts(
        after_first.as_ref().unwrap_or(engine),
        &mut texts,
        |text, ast, _, globals| crate::calls::rewrite(text, ast, &|name| globals.contains(name)),
    )?;
    if second {
        engine_of(&texts)
    } else {
        after_first
    }
}

/// Applies `rewrite` (text, the module's AST, what it declares, the names of its package's
/// rules) to every policy `engine` holds; returns whether any text changed.
fn rewrite_texts(
    engine: &regorus::Engine,
    texts: &mut [(String, String, bool)],
    mut rewrite: impl FnMut(&str, &serde_json::Value, &ModuleInfo, &HashSet<String>) -> Option<String>,
) -> Option<bool> {
    let ast: serde_json::Value = serde_json::from_str(&engine.get_ast_as_json().ok()?).ok()?;
    let modules = crate::rules::modules_from_json(&ast).ok()?;
    let mut globals: HashMap<&[String], HashSet<String>> = HashMap::new();
    for m in &modules {
        globals
            .entry(&m.package)
            .or_default()
            .extend(m.rules.iter().map(|r| r.name.clone()));
    }
    let mut changed = false;
    let empty = HashSet::new();
    for (item, m) in ast.as_array()?.iter().zip(&modules) {
        let file = item["source"]["file"].as_str()?;
        let Some(entry) = texts.iter_mut().find(|(n, _, _)| n == file) else {
            continue;
        };
        let g = globals.get(m.package.as_slice()).unwrap_or(&empty);
        if let Some(new_text) = rewrite(&entry.1, &item["ast"], m, g) {
            entry.1 = new_text;
            changed = true;
        }
    }
    Some(changed)
}

/// A new engine holding the policies (name, text, in the older syntax).
fn engine_of(texts: &[(String, String, bool)]) -> Option<regorus::Engine> {
    let mut fresh = new_engine().ok()?;
    for (name, text, v0) in texts {
        fresh.set_rego_v0(*v0);
        fresh.add_policy(name.clone(), text.clone()).ok()?;
    }
    fresh.set_rego_v0(false);
    Some(fresh)
}

/// Parses as Rego v1 (what OPA 1.x writes); when that fails, as the older syntax
/// (`deny[msg] { … }`); when both fail, both again with the rules of several bodies split (a
/// partial set's do not parse in regorus, see [`crate::bodies::split_unparsed`]). Returns
/// whether it is the older syntax, and the split text when that is what parsed. When all
/// fail, the error that got further into the file is the one to show: it is the one in the
/// syntax the author was writing.
fn add_policy(
    engine: &mut regorus::Engine,
    name: &str,
    text: &str,
) -> Result<(bool, Option<String>), RegoError> {
    let err = match add_either_syntax(engine, name, text) {
        Ok(v0) => return Ok((v0, None)),
        Err(e) => e,
    };
    let Some(split) = crate::bodies::split_unparsed(text) else {
        return Err(err);
    };
    match add_either_syntax(engine, name, &split) {
        Ok(v0) => Ok((v0, Some(split))),
        // Past the bodies regorus stopped at, another mistake of the user's text.
        Err(later)
            if later.position() > err.position()
                && usize::try_from(later.line).is_ok_and(|l| l <= text.lines().count()) =>
        {
            Err(later)
        }
        Err(_) => Err(err),
    }
}

fn add_either_syntax(
    engine: &mut regorus::Engine,
    name: &str,
    text: &str,
) -> Result<bool, RegoError> {
    engine.set_rego_v0(false);
    let v1 = match engine.add_policy(name.to_string(), text.to_string()) {
        Ok(_) => return Ok(false),
        Err(e) => RegoError::parse(&e),
    };
    engine.set_rego_v0(true);
    let v0 = engine.add_policy(name.to_string(), text.to_string());
    engine.set_rego_v0(false);
    match v0 {
        Ok(_) => Ok(true),
        Err(e) => {
            let v0 = RegoError::parse(&e);
            Err(if v0.position() > v1.position() {
                v0
            } else {
                v1
            })
        }
    }
}

/// Data files are merged at the root of `data`, as conftest does: a file's directory does not
/// prefix its path, so top-level keys name the document (`{"blast_radius": {...}}` is
/// `data.blast_radius`). Two files giving different values to one path is an error.
fn add_data_file(
    engine: &mut regorus::Engine,
    name: &str,
    id: FileId,
    text: &str,
    owners: &mut BTreeMap<String, Vec<String>>,
    sources: &Sources,
    diags: &mut Diagnostics,
) {
    let is_json = name.ends_with(".json");
    let parsed: Result<serde_json::Value, (String, usize, usize)> = if is_json {
        serde_json::from_str(text).map_err(|e| (e.to_string(), e.line(), e.column()))
    } else {
        serde_yaml::from_str::<Option<serde_json::Value>>(text)
            .map(|v| v.unwrap_or_else(|| serde_json::Value::Object(Default::default())))
            .map_err(|e| {
                let (line, col) = e.location().map_or((0, 0), |l| (l.line(), l.column()));
                (e.to_string(), line, col)
            })
    };
    let doc = match parsed {
        Ok(doc) => doc,
        Err((msg, line, col)) => {
            let span = span_at(
                sources,
                id,
                u32::try_from(line).unwrap_or(0),
                u32::try_from(col).unwrap_or(0),
                1,
            );
            diags.push(
                Diagnostic::error(
                    "Invalid policy data file",
                    format!(
                        "{name} is not valid {}: {msg}",
                        if is_json { "JSON" } else { "YAML" }
                    ),
                )
                .at_opt(span),
            );
            return;
        }
    };
    let Some(obj) = doc.as_object() else {
        diags.push(Diagnostic::error(
            "Invalid policy data file",
            format!(
                "{name} must hold an object at its top level: its keys become paths under data (e.g. {{\"limits\": {{...}}}} is data.limits)."
            ),
        ));
        return;
    };
    let keys: Vec<String> = obj.keys().cloned().collect();
    let value = match regorus::Value::deserialize(&doc) {
        Ok(v) => v,
        Err(e) => {
            diags.push(Diagnostic::error(
                "Invalid policy data file",
                format!("{name} cannot be used as Rego data: {e}"),
            ));
            return;
        }
    };
    if let Err(e) = engine.add_data(value) {
        let others: Vec<String> = keys
            .iter()
            .filter_map(|k| owners.get(k).map(|files| (k, files)))
            .map(|(k, files)| format!("data.{k} is also set by {}", files.join(", ")))
            .collect();
        diags.push(Diagnostic::error(
            "Conflicting policy data",
            format!(
                "{name} conflicts with data loaded before it ({}){}.",
                RegoError::parse(&e).message,
                if others.is_empty() {
                    String::new()
                } else {
                    format!(": {}", others.join("; "))
                }
            ),
        ));
        return;
    }
    for k in keys {
        owners.entry(k).or_default().push(name.to_string());
    }
}

/// `path` as shown to the user: relative to `base` when inside it.
fn shown(path: &Path, base: &Path) -> String {
    if base.as_os_str().is_empty() {
        return path.display().to_string();
    }
    path.strip_prefix(base)
        .unwrap_or(path)
        .display()
        .to_string()
}

fn read_file(
    path: &Path,
    base: &Path,
    sources: &Sources,
    diags: &mut Diagnostics,
) -> Option<(String, FileId, String)> {
    let name = shown(path, base);
    match std::fs::read_to_string(path) {
        Ok(text) => {
            let id = sources.add(name.clone(), path, text.clone());
            Some((name, id, text))
        }
        Err(e) => {
            diags.push(Diagnostic::error(
                "Cannot read policy file",
                format!("{name}: {e}"),
            ));
            None
        }
    }
}

/// Policies and data files under `root` (or `root` itself when it is a file), sorted, hidden
/// entries skipped.
fn collect_files(
    root: &Path,
    include_tests: bool,
    policies: &mut Vec<PathBuf>,
    data: &mut Vec<PathBuf>,
    diags: &mut Diagnostics,
) {
    match std::fs::metadata(root) {
        Ok(m) if m.is_file() => {
            if is_rego(root) {
                policies.push(root.to_path_buf());
            } else if is_data(root) {
                data.push(root.to_path_buf());
            } else {
                diags.push(Diagnostic::error(
                    "Not a policy file",
                    format!(
                        "{} is neither a .rego policy nor a .json/.yaml data file.",
                        root.display()
                    ),
                ));
            }
        }
        Ok(_) => walk(root, include_tests, policies, data, diags, 0),
        Err(e) => diags.push(Diagnostic::error(
            "Cannot read policy directory",
            format!("{}: {e}", root.display()),
        )),
    }
}

const MAX_DEPTH: usize = 32;

fn walk(
    dir: &Path,
    include_tests: bool,
    policies: &mut Vec<PathBuf>,
    data: &mut Vec<PathBuf>,
    diags: &mut Diagnostics,
    depth: usize,
) {
    let entries = match std::fs::read_dir(dir) {
        Ok(rd) => rd,
        Err(e) => {
            diags.push(Diagnostic::error(
                "Cannot read policy directory",
                format!("{}: {e}", dir.display()),
            ));
            return;
        }
    };
    let mut paths: Vec<PathBuf> = entries.filter_map(|e| e.ok().map(|e| e.path())).collect();
    paths.sort();
    for path in paths {
        let hidden = path
            .file_name()
            .and_then(|n| n.to_str())
            .is_some_and(|n| n.starts_with('.'));
        if hidden {
            continue;
        }
        if path.is_dir() {
            if depth < MAX_DEPTH {
                walk(&path, include_tests, policies, data, diags, depth + 1);
            }
        } else if is_rego(&path) {
            if include_tests || !is_test_file(&path) {
                policies.push(path);
            }
        } else if is_data(&path) {
            data.push(path);
        }
    }
}

fn is_rego(p: &Path) -> bool {
    p.extension().is_some_and(|e| e == "rego")
}

fn is_test_file(p: &Path) -> bool {
    p.file_name()
        .and_then(|n| n.to_str())
        .is_some_and(|n| n.ends_with("_test.rego"))
}

fn is_data(p: &Path) -> bool {
    p.extension()
        .and_then(|e| e.to_str())
        .is_some_and(|e| matches!(e, "json" | "yaml" | "yml"))
}
