//! Root module input variables: gathered from `TF_VAR_name` environment variables,
//! `terraform.tfvars`, `terraform.tfvars.json`, `*.auto.tfvars(.json)` (lexical order) and the
//! command line's `--var`/`--var-file` (in order), later sources winning, as in Terraform.
//!
//! Values are raw here (text or expressions); typing, defaults and sensitivity are applied when
//! the variable is evaluated. Reading a var file registers it in `Sources` for diagnostics.
//!
//! Every relative path (a `--var-file`, a filesystem function in a constant) resolves against
//! the run's configuration directory, never the process's working directory: as in Terraform
//! after `-chdir`, and so that one process can run many configurations at once.

use baton_config::syntax::{parse_expr, parse_file};
use baton_config::{Expr, Module};
use baton_core::{Diagnostic, Diagnostics, Sources, Span};
use baton_eval::{EmptyScope, Evaluator, FnCtx, Value};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// One command-line variable argument, in order.
#[derive(Clone, Debug)]
pub enum CliVar {
    /// `--var name=value`
    Assign(String, String),
    /// `--var-file PATH` (a relative path is relative to the configuration directory)
    File(PathBuf),
}

/// A raw variable value and where it came from.
#[derive(Clone, Debug)]
pub enum RawValue {
    /// Text from the command line or the environment: a literal string for variables without
    /// a type or of type `string`, otherwise parsed as an expression.
    Text { text: String, origin: String },
    /// An already evaluated value (from a var file).
    Value { value: Value, span: Option<Span> },
}

/// Gathers raw values for the root module's variables. Undeclared names in files are
/// warnings; on the command line they are errors.
pub fn gather(
    root: &Module,
    dir: &Path,
    cli: &[CliVar],
    env: &[(String, String)],
    sources: &Sources,
) -> (BTreeMap<String, RawValue>, Diagnostics) {
    let mut diags = Diagnostics::new();
    let mut out: BTreeMap<String, RawValue> = BTreeMap::new();
    for (k, v) in env {
        if let Some(name) = k.strip_prefix("TF_VAR_") {
            if root.variables.contains_key(name) {
                out.insert(
                    name.to_string(),
                    RawValue::Text {
                        text: v.clone(),
                        origin: format!("environment variable {k}"),
                    },
                );
            }
        }
    }
    let mut files: Vec<PathBuf> = Vec::new();
    for f in ["terraform.tfvars", "terraform.tfvars.json"] {
        let p = dir.join(f);
        if p.is_file() {
            files.push(p);
        }
    }
    let mut autos: Vec<PathBuf> = std::fs::read_dir(dir)
        .map(|rd| {
            rd.filter_map(|e| e.ok())
                .map(|e| e.path())
                .filter(|p| {
                    p.file_name().and_then(|n| n.to_str()).is_some_and(|n| {
                        n.ends_with(".auto.tfvars") || n.ends_with(".auto.tfvars.json")
                    })
                })
                .collect()
        })
        .unwrap_or_default();
    autos.sort();
    files.extend(autos);
    for f in files {
        // Shown relative to the configuration directory, as Terraform names them.
        let file = VarFile {
            path: &f,
            shown: f.strip_prefix(dir).unwrap_or(&f),
            explicit: false,
        };
        read_var_file(root, dir, file, sources, &mut out, &mut diags);
    }
    for c in cli {
        match c {
            CliVar::Assign(k, v) => {
                if !root.variables.contains_key(k) {
                    diags.push(Diagnostic::error(
                        "Value for undeclared variable",
                        format!("A variable named \"{k}\" was assigned on the command line, but the root module does not declare a variable of that name. To use this value, add a \"variable\" block to the configuration."),
                    ));
                    continue;
                }
                out.insert(
                    k.clone(),
                    RawValue::Text {
                        text: v.clone(),
                        origin: format!("--var {k}=..."),
                    },
                );
            }
            CliVar::File(p) => {
                // (`join` keeps an absolute path as it is.)
                let path = dir.join(p);
                let file = VarFile {
                    path: &path,
                    shown: p,
                    explicit: true,
                };
                read_var_file(root, dir, file, sources, &mut out, &mut diags);
            }
        }
    }
    (out, diags)
}

/// A variables file to read.
struct VarFile<'p> {
    /// Where it is (absolute when the configuration directory is).
    path: &'p Path,
    /// How messages name it: as given on the command line, or relative to the configuration
    /// directory.
    shown: &'p Path,
    /// Given with `--var-file` (undeclared names are then errors, not warnings).
    explicit: bool,
}

fn read_var_file(
    root: &Module,
    dir: &Path,
    file: VarFile<'_>,
    sources: &Sources,
    out: &mut BTreeMap<String, RawValue>,
    diags: &mut Diagnostics,
) {
    let VarFile {
        path,
        shown,
        explicit,
    } = file;
    let text = match std::fs::read_to_string(path) {
        Ok(t) => t,
        Err(e) => {
            diags.push(Diagnostic::error(
                "Failed to read variables file",
                format!(
                    "Given variables file {} does not exist or cannot be read: {e}.",
                    shown.display()
                ),
            ));
            return;
        }
    };
    let name = shown.display().to_string();
    let id = sources.add(name.clone(), path, text.clone());
    let is_json = name.ends_with(".json");
    let entries: Vec<(String, Option<Span>, Result<Value, Diagnostic>)> = if is_json {
        match serde_json::from_str::<serde_json::Value>(&text) {
            Ok(serde_json::Value::Object(o)) => o
                .into_iter()
                .map(|(k, v)| (k, None, Ok(Value::from_json_implied(&v))))
                .collect(),
            Ok(_) => {
                diags.push(Diagnostic::error(
                    "Invalid variables file",
                    format!("The variables file {name} must contain a JSON object."),
                ));
                return;
            }
            Err(e) => {
                let line = e.line().max(1);
                let offset: usize = text
                    .split_inclusive('\n')
                    .take(line - 1)
                    .map(str::len)
                    .sum::<usize>()
                    + e.column().saturating_sub(1);
                diags.push(
                    Diagnostic::error(
                        "Invalid variables file",
                        format!("The variables file {name} is not valid JSON: {e}."),
                    )
                    .at(Span::new(id, offset, offset + 1)),
                );
                return;
            }
        }
    } else {
        let body = match parse_file(id, &text) {
            Ok(b) => b,
            Err(d) => {
                diags.push(d);
                return;
            }
        };
        for b in &body.blocks {
            diags.push(
                Diagnostic::error(
                    "Unexpected block in variables file",
                    "A variables file holds only assignments, name = value.",
                )
                .at(b.def_span),
            );
        }
        body.attrs
            .iter()
            .map(|a| (a.name.clone(), Some(a.name_span), eval_const(&a.expr, dir)))
            .collect()
    };
    for (k, span, v) in entries {
        if !root.variables.contains_key(&k) {
            let d = if explicit {
                Diagnostic::error(
                    "Value for undeclared variable",
                    format!("The variables file {name} assigns \"{k}\", but the root module does not declare a variable of that name."),
                )
            } else {
                Diagnostic::warning(
                    "Value for undeclared variable",
                    format!("The root module does not declare a variable named \"{k}\" but a value was found in file {name}. To use this value, add a \"variable\" block to the configuration."),
                )
            };
            diags.push(d.at_opt(span));
            continue;
        }
        match v {
            Ok(value) => {
                out.insert(k, RawValue::Value { value, span });
            }
            Err(d) => diags.push(d),
        }
    }
}

/// Evaluates a constant expression (var files, variable defaults: no references allowed).
/// `dir` is the run's configuration directory, against which a filesystem function resolves
/// a relative path.
pub fn eval_const(e: &Expr, dir: &Path) -> Result<Value, Diagnostic> {
    let sources = Sources::new();
    let mut ev = Evaluator::new(
        &EmptyScope,
        FnCtx {
            base_dir: dir,
            sources: &sources,
            planning: false,
            plan_timestamp: None,
        },
    );
    ev.eval(e)
}

/// Turns a raw text value into a value: literal for untyped/string variables, an expression
/// otherwise (evaluated as [`eval_const`] does, in the configuration directory `dir`).
pub fn parse_text(
    text: &str,
    origin: &str,
    literal: bool,
    sources: &Sources,
    dir: &Path,
) -> Result<Value, Diagnostic> {
    if literal {
        return Ok(Value::string(text));
    }
    let id = sources.add(origin.to_string(), Path::new(origin), text.to_string());
    let e = parse_expr(id, text).map_err(|d| {
        Diagnostic::error(
            "Invalid value for variable",
            format!(
                "The value given by {origin} is not a valid expression: {}",
                d.detail
            ),
        )
        .at_opt(d.subject)
    })?;
    eval_const(&e, dir)
}
