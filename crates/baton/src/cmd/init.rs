//! `baton init`: installs the plugin providers the configuration requires, as `terraform init`
//! does for providers (no backend or module installation: Baton reads local modules in place
//! and chooses its state store itself), and prints what it did in Terraform's words.
//!
//! Glue only: requirements, version choice, installation and the lock file are
//! `baton_plugin::install`, which reaches registries and network mirrors through
//! [`crate::fetch::HttpsFetch`]. Providers Baton has built in are never installed. Nothing is written
//! when the configuration, the CLI configuration or a provider package is wrong.

use super::{print_diags, Env, Reported};
use crate::cli::InitArgs;
use anyhow::Context as _;
use baton_plugin::cliconfig;
use baton_plugin::install::{self, How, Requirement};
use std::process::ExitCode;

pub fn run(env: &Env, a: &InitArgs) -> anyhow::Result<ExitCode> {
    let (config, diags) = baton_config::load_config(&env.dir, &env.sources);
    print_diags(&diags, &env.sources);
    if diags.has_errors() {
        return Err(Reported.into());
    }
    let cli = cliconfig::load_default().context("cannot read the CLI configuration")?;
    let reqs = install::requirements(&config)?;
    // Providers Baton has built in are not installed (as a run decides:
    // `baton_plugin::resolve::builtin_serves`).
    let registry = baton_engine::providers::builtin();
    let explicit = baton_plugin::resolve::explicit_sources(&config);
    let (builtin, plugins): (Vec<Requirement>, Vec<Requirement>) =
        reqs.into_iter().partition(|r| {
            baton_plugin::resolve::builtin_serves(&registry, r, explicit.contains(&r.local_name))
        });

    outln!("Initializing provider plugins...");
    for r in &builtin {
        outln!("- {} is built in to Baton", r.addr);
    }
    let lock_existed = env.dir.join(".terraform.lock.hcl").exists();
    let fetch = crate::fetch::HttpsFetch::new()?;
    let report = install::init_with(&plugins, &env.dir, &cli, a.upgrade, Some(&fetch))?;
    for i in &report.installed {
        if i.from_lock {
            outln!(
                "- Reusing previous version of {} from the dependency lock file",
                i.addr
            );
        } else {
            match &i.constraints {
                Some(c) => outln!("- Finding {} versions matching \"{c}\"...", i.addr),
                None => outln!("- Finding latest version of {}...", i.addr),
            }
        }
    }
    for i in &report.installed {
        match &i.how {
            How::AlreadyInstalled => {
                outln!("- Using previously-installed {} v{}", i.addr, i.version)
            }
            How::Cache(_) => outln!(
                "- Using {} v{} from the shared cache directory",
                i.addr,
                i.version
            ),
            How::Mirror(_) => {
                outln!("- Installing {} v{}...", i.addr, i.version);
                outln!("- Installed {} v{} (unauthenticated)", i.addr, i.version);
            }
            How::Registry(_) => {
                outln!("- Installing {} v{}...", i.addr, i.version);
                outln!(
                    "- Installed {} v{} (checksum verified, signature not verified)",
                    i.addr,
                    i.version
                );
            }
            How::NetworkMirror(_) => {
                outln!("- Installing {} v{}...", i.addr, i.version);
                outln!("- Installed {} v{} (verified checksum)", i.addr, i.version);
            }
        }
    }
    if !report.dev_overrides.is_empty() {
        eprintln!("\nWarning: Provider development overrides are in effect\n");
        eprintln!("The following provider development overrides are set in the CLI configuration:");
        for (addr, dir) in &report.dev_overrides {
            eprintln!(" - {addr} in {}", dir.display());
        }
        eprintln!("Skip baton init when using provider development overrides: they are not installed or locked.");
    }
    if report.lock_changed && !lock_existed {
        outln!(
            "\nBaton has created a lock file .terraform.lock.hcl to record the provider\n\
             selections it made above. Include this file in your version control repository\n\
             so that Baton can guarantee to make the same selections by default when\n\
             you run \"baton init\" in the future."
        );
    }
    outln!("\nBaton has been successfully initialized!");
    Ok(ExitCode::SUCCESS)
}

/// `baton providers`: the configuration's required providers and what serves each, by the
/// rules a run uses (nothing is started or installed). Exit 1 when one is not installed.
pub fn providers(env: &Env) -> anyhow::Result<ExitCode> {
    use baton_plugin::resolve::ServedBy;
    let (config, diags) = baton_config::load_config(&env.dir, &env.sources);
    print_diags(&diags, &env.sources);
    if diags.has_errors() {
        return Err(Reported.into());
    }
    let registry = baton_engine::providers::builtin();
    let uses = baton_plugin::resolve::describe(&config, &env.dir, &registry)
        .map_err(|e| anyhow::anyhow!(e))?;
    let mut missing = false;
    for u in &uses {
        let constraint = if u.constraints.is_empty() {
            String::new()
        } else {
            format!(" ({})", u.constraints)
        };
        let served = match &u.served_by {
            ServedBy::Builtin => "built in to Baton".to_string(),
            ServedBy::Plugin {
                dev_override: true,
                executable,
                ..
            } => format!("dev_overrides: {}", executable.display()),
            ServedBy::Plugin {
                version,
                executable,
                ..
            } => format!(
                "plugin v{}: {}",
                version.as_deref().unwrap_or("?"),
                executable.display()
            ),
            ServedBy::NotInstalled => {
                missing = true;
                "not installed (run \"baton init\")".to_string()
            }
        };
        outln!("- {} = {}{constraint}: {served}", u.local_name, u.source);
    }
    Ok(if missing {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    })
}
