//! Terraform's CLI configuration file (`TF_CLI_CONFIG_FILE` or `~/.terraformrc`): the parts that
//! decide where provider packages come from — `plugin_cache_dir` and `provider_installation`
//! (`dev_overrides`, `filesystem_mirror`, `network_mirror`, `direct`) — as a typed model.
//!
//! This module only parses text it is given (or reads the one file it is pointed at, and, in
//! [`load_default`], the environment variables that say where that file and Terraform's implied
//! directories are); it must not install providers, touch the network or read credentials. Settings it does not model
//! (`credentials`, `host`, `disable_checkpoint`, ...) are skipped, as Terraform tolerates them.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use hcl_edit::expr::Expression;
use hcl_edit::structure::{Block, Structure};
use hcl_edit::Span as _;

use crate::lockfile::{err_at, object_key_text, parse_hcl, string_attr, string_list_attr};

/// A CLI configuration file that could not be read or understood (`file:line:column:
/// message`, or the path and the I/O error).
pub type CliConfigError = crate::lockfile::HclFileError;

/// The CLI configuration settings Baton uses.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CliConfig {
    pub plugin_cache_dir: Option<String>,
    /// `None` when there is no `provider_installation` block (Terraform's implied defaults).
    pub provider_installation: Option<ProviderInstallation>,
    /// The local mirror directories Terraform implies when there is no `provider_installation`
    /// block (`~/.terraform.d/plugins`, `$XDG_DATA_HOME/terraform/plugins`, each
    /// `$XDG_DATA_DIRS/terraform/plugins`), existing or not. Filled by [`load_default`] from
    /// the environment; empty from [`parse`].
    pub implied_mirror_dirs: Vec<PathBuf>,
}

/// The `provider_installation` block.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ProviderInstallation {
    /// Provider address → local directory holding the provider executable.
    pub dev_overrides: BTreeMap<String, String>,
    /// Installation methods in the order written.
    pub methods: Vec<InstallMethod>,
}

/// One installation method with its provider address patterns.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum InstallMethod {
    FilesystemMirror { path: String, filter: Filter },
    NetworkMirror { url: String, filter: Filter },
    Direct { filter: Filter },
}

/// `include` / `exclude` patterns such as `registry.terraform.io/hashicorp/*`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Filter {
    pub include: Vec<String>,
    pub exclude: Vec<String>,
}

/// Terraform's CLI configuration is HCL 1, where `dev_overrides { "addr" = "dir" }` is a block
/// with quoted keys; HCL 2 only allows those in an object. Rewrite `dev_overrides {` into
/// `dev_overrides={` (same length when there was a space, so positions stay exact).
fn hcl1_compat(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + 8);
    for line in text.split_inclusive('\n') {
        let trimmed = line.trim_start();
        let indent = &line[..line.len() - trimmed.len()];
        if let Some(rest) = trimmed.strip_prefix("dev_overrides") {
            let after_ws = rest.trim_start_matches([' ', '\t']);
            if after_ws.starts_with('{') {
                out.push_str(indent);
                out.push_str("dev_overrides");
                if rest.len() > after_ws.len() {
                    // Replace the last whitespace character with `=`.
                    out.push_str(&rest[..rest.len() - after_ws.len() - 1]);
                }
                out.push('=');
                out.push_str(after_ws);
                continue;
            }
        }
        out.push_str(line);
    }
    out
}

fn filter(block: &Block, file: &str, text: &str) -> Result<Filter, CliConfigError> {
    let mut f = Filter::default();
    for item in block.body.iter() {
        if let Structure::Attribute(a) = item {
            match a.key.as_str() {
                "include" => f.include = string_list_attr(a, file, text)?,
                "exclude" => f.exclude = string_list_attr(a, file, text)?,
                _ => {}
            }
        }
    }
    Ok(f)
}

fn required_string(
    block: &Block,
    key: &str,
    file: &str,
    text: &str,
) -> Result<String, CliConfigError> {
    for item in block.body.iter() {
        if let Structure::Attribute(a) = item {
            if a.key.as_str() == key {
                return string_attr(a, file, text);
            }
        }
    }
    Err(err_at(
        file,
        text,
        block.ident.span(),
        format!("`{}` needs a `{key}` argument", block.ident.as_str()),
    ))
}

fn installation(
    block: &Block,
    file: &str,
    text: &str,
) -> Result<ProviderInstallation, CliConfigError> {
    let mut inst = ProviderInstallation::default();
    for item in block.body.iter() {
        match item {
            Structure::Attribute(a) if a.key.as_str() == "dev_overrides" => {
                let Expression::Object(obj) = &a.value else {
                    return Err(err_at(
                        file,
                        text,
                        a.value.span(),
                        "`dev_overrides` must be a block",
                    ));
                };
                for (k, v) in obj.iter() {
                    let Some(addr) = object_key_text(k) else {
                        return Err(err_at(
                            file,
                            text,
                            k.span(),
                            "a dev_overrides key must be a quoted provider address",
                        ));
                    };
                    let Expression::String(dir) = v.expr() else {
                        return Err(err_at(
                            file,
                            text,
                            v.expr().span(),
                            format!("the dev_overrides directory for `{addr}` must be a string"),
                        ));
                    };
                    inst.dev_overrides.insert(addr, dir.value().clone());
                }
            }
            Structure::Attribute(a) => {
                return Err(err_at(
                    file,
                    text,
                    a.key.span(),
                    format!(
                        "unexpected argument `{}` in provider_installation",
                        a.key.as_str()
                    ),
                ))
            }
            Structure::Block(b) => {
                let method = match b.ident.as_str() {
                    "filesystem_mirror" => InstallMethod::FilesystemMirror {
                        path: required_string(b, "path", file, text)?,
                        filter: filter(b, file, text)?,
                    },
                    "network_mirror" => InstallMethod::NetworkMirror {
                        url: required_string(b, "url", file, text)?,
                        filter: filter(b, file, text)?,
                    },
                    "direct" => InstallMethod::Direct {
                        filter: filter(b, file, text)?,
                    },
                    other => {
                        return Err(err_at(
                            file,
                            text,
                            b.ident.span(),
                            format!("unknown provider installation method `{other}`"),
                        ))
                    }
                };
                inst.methods.push(method);
            }
        }
    }
    Ok(inst)
}

/// Parses CLI configuration text; `file_name` is used in errors only.
pub fn parse(text: &str, file_name: &str) -> Result<CliConfig, CliConfigError> {
    let compat = hcl1_compat(text);
    let body = parse_hcl(&compat, file_name)?;
    let mut cfg = CliConfig::default();
    for item in body.iter() {
        match item {
            Structure::Attribute(a) if a.key.as_str() == "plugin_cache_dir" => {
                cfg.plugin_cache_dir = Some(string_attr(a, file_name, &compat)?);
            }
            Structure::Block(b) if b.ident.as_str() == "provider_installation" => {
                if cfg.provider_installation.is_some() {
                    return Err(err_at(
                        file_name,
                        &compat,
                        b.ident.span(),
                        "only one provider_installation block is allowed",
                    ));
                }
                cfg.provider_installation = Some(installation(b, file_name, &compat)?);
            }
            _ => {}
        }
    }
    Ok(cfg)
}

/// Reads and parses a CLI configuration file.
pub fn load(path: &Path) -> Result<CliConfig, CliConfigError> {
    let text = std::fs::read_to_string(path).map_err(|source| CliConfigError::Io {
        path: path.to_path_buf(),
        error: source,
    })?;
    parse(&text, &path.display().to_string())
}

/// Finds and loads the CLI configuration as Terraform does: the file named by
/// `TF_CLI_CONFIG_FILE`, else `~/.terraformrc` (a missing file is an empty configuration:
/// Terraform only warns about it). `TF_PLUGIN_CACHE_DIR` overrides `plugin_cache_dir`, and the implied mirror
/// directories are computed from `HOME`, `XDG_DATA_HOME` and `XDG_DATA_DIRS`.
pub fn load_default() -> Result<CliConfig, CliConfigError> {
    let var = |k: &str| std::env::var_os(k).filter(|v| !v.is_empty());
    let home = var("HOME").map(PathBuf::from);
    let mut cfg = match var("TF_CLI_CONFIG_FILE") {
        // Terraform only warns about a named file that is missing.
        Some(p) if !Path::new(&p).exists() => CliConfig::default(),
        Some(p) => load(Path::new(&p))?,
        None => match &home {
            Some(h) if h.join(".terraformrc").exists() => load(&h.join(".terraformrc"))?,
            _ => CliConfig::default(),
        },
    };
    if let Some(dir) = var("TF_PLUGIN_CACHE_DIR") {
        cfg.plugin_cache_dir = Some(dir.to_string_lossy().into_owned());
    }
    let mut dirs = Vec::new();
    if let Some(h) = &home {
        dirs.push(h.join(".terraform.d").join("plugins"));
    }
    match (var("XDG_DATA_HOME"), &home) {
        (Some(x), _) => dirs.push(PathBuf::from(x).join("terraform").join("plugins")),
        (None, Some(h)) => dirs.push(h.join(".local/share/terraform/plugins")),
        (None, None) => {}
    }
    let data_dirs = var("XDG_DATA_DIRS")
        .map(|v| v.to_string_lossy().into_owned())
        .unwrap_or_else(|| "/usr/local/share/:/usr/share/".to_string());
    for d in data_dirs.split(':').filter(|d| !d.is_empty()) {
        dirs.push(PathBuf::from(d).join("terraform").join("plugins"));
    }
    cfg.implied_mirror_dirs = dirs;
    Ok(cfg)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hcl1_dev_overrides_rewrite_keeps_positions() {
        let text = "provider_installation {\n  dev_overrides {\n    \"a/b/c\" = \"/d\"\n  }\n}\n";
        let out = hcl1_compat(text);
        assert_eq!(out.len(), text.len());
        assert!(out.contains("  dev_overrides={\n"));
        // No space before the brace: one `=` is inserted.
        assert_eq!(hcl1_compat("dev_overrides{\n"), "dev_overrides={\n");
        // Already HCL 2 object syntax, or a mention elsewhere: untouched.
        assert_eq!(hcl1_compat("dev_overrides = {\n"), "dev_overrides = {\n");
        assert_eq!(hcl1_compat("# dev_overrides {\n"), "# dev_overrides {\n");
    }

    #[test]
    fn dev_overrides_without_space_parses() {
        let text = "provider_installation {\n  dev_overrides{\n    \"a/b/c\" = \"/d\"\n  }\n  direct {}\n}\n";
        let cfg = parse(text, "rc").expect("parses");
        let inst = cfg.provider_installation.expect("installation");
        assert_eq!(inst.dev_overrides["a/b/c"], "/d");
        assert_eq!(
            inst.methods,
            vec![InstallMethod::Direct {
                filter: Filter::default()
            }]
        );
    }
}
