//! The provider set of a configuration: Baton's built-in providers, plus a started plugin for
//! every provider the configuration needs that is installed where Terraform would look
//! (`dev_overrides`, then what `baton init` or `terraform init` put in `.terraform/providers`),
//! checked against the dependency lock file as Terraform checks it before every run.
//!
//! Which wins: a provider the configuration names without a source (`null`, or a `null_…`
//! resource with no `required_providers` entry) is Baton's built-in when Baton has one. One
//! named with a source address is the plugin when one is installed, else the built-in of the
//! same address, else an error asking for `baton init`.
//!
//! Started plugins are shared, not owned: a [`Resolver`] remembers them weakly, so two loads
//! of one run (plan, then apply) share one process per provider, and the last set dropped
//! stops them. Must not install anything (that is `baton init`) nor print.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, Weak};
use std::time::Duration;

use baton_config::Config;
use baton_core::{Diagnostic, Diagnostics};
use baton_provider::Registry;

use crate::adapter::{Host, PluginProvider};
use crate::cliconfig;
use crate::install::{self, Located, Requirement};
use crate::lockfile::{self, LockFile};
use crate::process::StartOpts;

/// A started plugin's identity: executable, source, local name and root module directory (its
/// working directory).
type StartedKey = (PathBuf, String, String, PathBuf);

/// Finds and starts the plugins of configurations, remembering those still in use.
#[derive(Default)]
pub struct Resolver {
    host: Mutex<Weak<Host>>,
    started: Mutex<BTreeMap<StartedKey, Weak<PluginProvider>>>,
}

impl Resolver {
    pub fn new() -> Resolver {
        Resolver::default()
    }

    /// The set `config` (rooted at `dir`) runs with: `builtin` plus its installed plugins; or
    /// the diagnostics saying what is missing. Warnings (development overrides in effect)
    /// come with a set.
    pub fn resolve(
        &self,
        config: &Config,
        dir: &Path,
        builtin: Arc<Registry>,
    ) -> (Option<Arc<Registry>>, Diagnostics) {
        let mut diags = Diagnostics::new();
        let needed = match needed(config) {
            Ok(n) => n,
            Err(d) => {
                diags.push(d);
                return (None, diags);
            }
        };
        if needed.iter().all(|n| n.builtin_ok(&builtin)) && !any_plugin_wanted(&needed) {
            return (Some(builtin), diags);
        }
        let cli = match cliconfig::load_default() {
            Ok(c) => c,
            Err(e) => {
                diags.push(Diagnostic::error(
                    "Invalid CLI configuration",
                    e.to_string(),
                ));
                return (None, diags);
            }
        };
        let lock_path = dir.join(".terraform.lock.hcl");
        let lock = if lock_path.exists() {
            match lockfile::load(&lock_path) {
                Ok(l) => Some(l),
                Err(e) => {
                    diags.push(Diagnostic::error(
                        "Invalid dependency lock file",
                        e.to_string(),
                    ));
                    return (None, diags);
                }
            }
        } else {
            None
        };
        let mut set: Option<Registry> = None;
        let mut overrides = Vec::new();
        for n in &needed {
            let located = if n.explicit || !n.builtin_ok(&builtin) {
                match install::locate(&n.req, dir, &cli, lock.as_ref()) {
                    Ok(l) => l,
                    Err(e) => {
                        diags.push(Diagnostic::error(
                            "Failed to find provider",
                            format!("Provider {}: {e}", n.req.addr),
                        ));
                        continue;
                    }
                }
            } else {
                None
            };
            let Some(located) = located else {
                if !n.builtin_ok(&builtin) {
                    diags.push(not_installed(n));
                }
                continue;
            };
            if located.dev_override {
                overrides.push(format!(
                    " - {} in {}",
                    n.req.addr,
                    located.package_dir.display()
                ));
            } else if let Err(d) = check_lock(&located, lock.as_ref()) {
                diags.push(d);
                continue;
            }
            match self.start(n, &located, dir) {
                Ok(p) => p.register(set.get_or_insert_with(|| (*builtin).clone())),
                Err(e) => diags.push(Diagnostic::error(
                    "Failed to start provider",
                    format!("Provider {}: {e}", n.req.addr),
                )),
            }
        }
        if !overrides.is_empty() {
            diags.push(Diagnostic::warning(
                "Provider development overrides are in effect",
                format!(
                    "The following provider development overrides are set in the CLI configuration:\n{}\n\nThe behavior may therefore not match any released version of the provider.",
                    overrides.join("\n")
                ),
            ));
        }
        if diags.has_errors() {
            return (None, diags);
        }
        (Some(set.map(Arc::new).unwrap_or(builtin)), diags)
    }

    /// The running plugin for `n` at `located`, started unless a set still in use has it.
    fn start(
        &self,
        n: &Needed,
        located: &Located,
        dir: &Path,
    ) -> Result<Arc<PluginProvider>, String> {
        let key = (
            located.executable.clone(),
            n.req.addr.to_string(),
            n.req.local_name.clone(),
            dir.to_path_buf(),
        );
        let mut started = self
            .started
            .lock()
            .map_err(|_| "lock poisoned".to_string())?;
        started.retain(|_, w| w.strong_count() > 0);
        if let Some(p) = started.get(&key).and_then(Weak::upgrade) {
            return Ok(p);
        }
        let host = self.host()?;
        let mut opts = StartOpts::new(&located.executable);
        opts.cwd = Some(dir.to_path_buf());
        opts.call_timeout = call_timeout();
        let p = PluginProvider::start(host, &n.req.local_name, &n.req.addr.to_string(), opts)
            .map_err(|e| e.to_string())?;
        started.insert(key, Arc::downgrade(&p));
        Ok(p)
    }

    fn host(&self) -> Result<Arc<Host>, String> {
        let mut h = self.host.lock().map_err(|_| "lock poisoned".to_string())?;
        if let Some(host) = h.upgrade() {
            return Ok(host);
        }
        let host = Host::new().map_err(|e| format!("cannot start the plugin runtime: {e}"))?;
        *h = Arc::downgrade(&host);
        Ok(host)
    }
}

/// Where a required provider comes from, as a run would find it (`baton providers`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ProviderUse {
    pub local_name: String,
    /// The full source address.
    pub source: String,
    /// The version constraints, as Terraform writes them; empty when none.
    pub constraints: String,
    pub served_by: ServedBy,
}

/// Which provider serves a requirement.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ServedBy {
    /// Baton's built-in provider.
    Builtin,
    /// An installed plugin: its version (`None` under dev_overrides) and executable.
    Plugin {
        version: Option<String>,
        executable: PathBuf,
        dev_override: bool,
    },
    /// Nothing: a run would stop and ask for `baton init`.
    NotInstalled,
}

/// Every provider `config` (rooted at `dir`) requires and what serves it, by the rules a run
/// uses ([`Resolver::resolve`]), without starting anything or checking the lock file.
pub fn describe(
    config: &Config,
    dir: &Path,
    builtin: &Registry,
) -> Result<Vec<ProviderUse>, String> {
    let needed = needed(config).map_err(|d| format!("{}: {}", d.summary, d.detail))?;
    let cli = cliconfig::load_default().map_err(|e| e.to_string())?;
    let lock_path = dir.join(".terraform.lock.hcl");
    let lock = if lock_path.exists() {
        Some(lockfile::load(&lock_path).map_err(|e| e.to_string())?)
    } else {
        None
    };
    let mut out = Vec::new();
    for n in &needed {
        let located = if n.explicit || !n.builtin_ok(builtin) {
            install::locate(&n.req, dir, &cli, lock.as_ref()).map_err(|e| e.to_string())?
        } else {
            None
        };
        let served_by = match located {
            Some(l) => ServedBy::Plugin {
                version: l.version,
                executable: l.executable,
                dev_override: l.dev_override,
            },
            None if n.builtin_ok(builtin) => ServedBy::Builtin,
            None => ServedBy::NotInstalled,
        };
        out.push(ProviderUse {
            local_name: n.req.local_name.clone(),
            source: n.req.addr.to_string(),
            constraints: n
                .req
                .constraints
                .as_ref()
                .map(|c| c.to_string())
                .unwrap_or_default(),
            served_by,
        });
    }
    Ok(out)
}

/// A provider a configuration needs.
struct Needed {
    req: Requirement,
    /// Whether `required_providers` gives its source address.
    explicit: bool,
}

impl Needed {
    /// Whether Baton's built-in set serves it: same local name and same address.
    fn builtin_ok(&self, builtin: &Registry) -> bool {
        builtin_serves(builtin, &self.req, self.explicit)
    }
}

/// Whether Baton's built-in set `builtin` can serve requirement `req`: a built-in provider has
/// its address; or, when the configuration gave no source address (`explicit` false), a
/// built-in provider has its local name, or built-in types are named after it
/// (`ansible_module` belongs to Baton's `remote` provider).
pub fn builtin_serves(builtin: &Registry, req: &Requirement, explicit: bool) -> bool {
    let addr = req.addr.to_string();
    if builtin
        .provider(&req.addr.type_name)
        .is_some_and(|(p, _)| p.source == addr)
    {
        return true;
    }
    if explicit {
        return false;
    }
    let name = &req.local_name;
    let prefix = format!("{name}_");
    builtin.provider(name).is_some()
        || builtin
            .resource_names()
            .into_iter()
            .chain(builtin.data_source_names())
            .any(|t| t.starts_with(&prefix))
}

/// The local names whose `required_providers` entries give a source address.
pub fn explicit_sources(config: &Config) -> BTreeSet<String> {
    config
        .all_modules()
        .iter()
        .flat_map(|m| m.terraform.required_providers.iter())
        .filter(|(_, src)| !src.is_empty())
        .map(|(name, _)| name.clone())
        .collect()
}

fn any_plugin_wanted(needed: &[Needed]) -> bool {
    needed.iter().any(|n| n.explicit)
}

/// Every provider the configuration needs ([`install::requirements`]: its `required_providers`
/// entries and the providers its resources and provider blocks imply).
fn needed(config: &Config) -> Result<Vec<Needed>, Diagnostic> {
    let reqs = install::requirements(config)
        .map_err(|e| Diagnostic::error("Invalid required_providers", e.to_string()))?;
    let explicit = explicit_sources(config);
    let out: Vec<Needed> = reqs
        .into_iter()
        .map(|req| Needed {
            explicit: explicit.contains(&req.local_name),
            req,
        })
        .collect();
    Ok(out)
}

fn not_installed(n: &Needed) -> Diagnostic {
    let constraint = n
        .req
        .constraints
        .as_ref()
        .map(|c| format!(" ({c})"))
        .unwrap_or_default();
    Diagnostic::error(
        "Required provider is not installed",
        format!(
            "The configuration needs provider {}{constraint} (local name \"{}\"), which is not a Baton built-in and is not installed. Run \"baton init\" to install it from the mirrors the CLI configuration names, or point a dev_overrides entry at a local build.",
            n.req.addr, n.req.local_name
        ),
    )
}

/// Terraform's check before every run: the installed package is the version the lock file
/// selects, and matches one of its checksums.
fn check_lock(located: &Located, lock: Option<&LockFile>) -> Result<(), Diagnostic> {
    let addr = located.addr.to_string();
    let entry = lock.and_then(|l| l.providers.get(&addr));
    let Some(entry) = entry else {
        return Err(Diagnostic::error(
            "Inconsistent dependency lock file",
            format!(
                "The dependency lock file has no entry for provider {addr}, which this configuration requires. Run \"baton init\" to select a version and record its checksum."
            ),
        ));
    };
    if let Some(v) = &located.version {
        if *v != entry.version {
            return Err(Diagnostic::error(
                "Inconsistent dependency lock file",
                format!(
                    "The dependency lock file selects provider {addr} version {}, but version {v} is installed. Run \"baton init\" to install the locked version.",
                    entry.version
                ),
            ));
        }
    }
    if !entry.hashes.is_empty() && !lockfile::verify(&located.package_dir, &entry.hashes) {
        return Err(Diagnostic::error(
            "Provider checksum mismatch",
            format!(
                "The installed package of provider {addr} in {} does not match any checksum the dependency lock file records. It may have been changed or corrupted; run \"baton init\" to reinstall it.",
                located.package_dir.display()
            ),
        ));
    }
    Ok(())
}

/// `BATON_PROVIDER_TIMEOUT` (seconds), when set to a positive number; else no limit.
fn call_timeout() -> Option<Duration> {
    std::env::var("BATON_PROVIDER_TIMEOUT")
        .ok()
        .and_then(|s| s.trim().parse::<f64>().ok())
        .filter(|s| *s > 0.0)
        .and_then(|s| Duration::try_from_secs_f64(s).ok())
}
