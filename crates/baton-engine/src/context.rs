//! A loaded configuration ready to plan: the module tree, its source files, the dependency
//! graph, and the place it runs (working directory, workspace name).
//!
//! Loading collects every diagnostic (syntax, structure, references, cycles, unknown resource
//! types) before anything else happens; a context with errors is never returned.

use crate::graph::{build, ConfigGraph};
use baton_config::{load_config_with, Config, ConfigFs, Module, RealFs};
use baton_core::{Diagnostic, Diagnostics, ResourceMode, Sources};
use std::path::{Path, PathBuf};

pub struct Context {
    /// The root module directory (absolute).
    pub dir: PathBuf,
    pub sources: Sources,
    pub config: Config,
    pub graph: ConfigGraph,
    /// `terraform.workspace` (the environment name; "default" without `--env`).
    pub workspace: String,
}

/// Loads the configuration in `dir`. Returns the context, or every diagnostic found.
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
    for m in config.all_modules() {
        check_types(m, &mut diags);
    }
    let (graph, d) = build(&config, sources);
    diags.extend(d);
    if diags.has_errors() {
        return (None, diags);
    }
    (
        Some(Context {
            dir,
            sources: sources.clone(),
            config,
            graph,
            workspace: workspace.to_string(),
        }),
        diags,
    )
}

/// Every resource and data source type must be one Baton provides.
fn check_types(m: &Module, diags: &mut Diagnostics) {
    let reg = baton_provider::registry();
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
