//! Provider installation as `terraform init` does it: provider source addresses, the
//! requirements of a configuration, where an installed provider is ([`locate`]), and
//! [`init_with`], which picks versions from local sources (filesystem mirrors, the plugin cache)
//! and, given a [`Fetch`], from network mirrors and origin registries ([`remote`]), copies or
//! unpacks packages into `.terraform/providers` and writes `.terraform.lock.hcl`.
//!
//! It must not hold an HTTP client: the network is reached only through the caller's [`Fetch`];
//! without one ([`init`]) `network_mirror` and `direct` sources are unreachable and only named
//! in errors. It must not print (the caller renders the
//! [`InitReport`]) nor read the environment (the CLI configuration, with the directories the
//! environment implies, is given). [`init`] decides everything before writing anything, so a
//! refused install (a hash mismatch, a missing version) leaves every file as it was.

pub mod remote;
pub mod version;

use std::collections::BTreeMap;
use std::fmt;
use std::path::{Path, PathBuf};

use crate::cliconfig::{CliConfig, Filter, InstallMethod};
use crate::lockfile::{self, LockError, LockFile, LockedProvider};
pub use remote::Fetch;
pub use version::{allowed, ConstraintError, Constraints, Version};

/// The public registry's hostname, the default for short source addresses.
pub const DEFAULT_HOST: &str = "registry.terraform.io";

/// A provider source address: `hostname/namespace/type`.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct ProviderAddr {
    pub hostname: String,
    pub namespace: String,
    pub type_name: String,
}

/// A failure to work out, find or install providers.
#[derive(Debug, thiserror::Error)]
pub enum InstallError {
    #[error("invalid provider source address {text:?}: {reason}")]
    BadAddress { text: String, reason: String },
    #[error(transparent)]
    BadConstraint(#[from] ConstraintError),
    /// A `required_providers` entry that cannot be used; `file` is the file that holds it when
    /// it could be found, else the module directory.
    /// (`error` is not a `#[source]`: its text is already in this message.)
    #[error("{}: required_providers entry {local_name:?}: {error}", file.display())]
    BadRequirement {
        file: PathBuf,
        local_name: String,
        error: Box<InstallError>,
    },
    /// No source (local, or reachable network one) has any version of the provider.
    #[error("provider {addr} is not available from any source ({searched}); {network}")]
    NotAvailable {
        addr: ProviderAddr,
        /// What was searched, for the message.
        searched: String,
        network: String,
    },
    /// Versions exist locally, but none satisfies the constraints.
    #[error("no available version of provider {addr} matches the constraints {constraints:?} (available: {})", available.join(", "))]
    NoMatch {
        addr: ProviderAddr,
        constraints: String,
        available: Vec<String>,
    },
    /// The lock file's version is outside the constraints (and `-upgrade` was not given).
    #[error("locked provider {addr} {version} does not match configured version constraint {constraints}; run `baton init -upgrade` to allow selection of new versions")]
    LockedDisallowed {
        addr: ProviderAddr,
        version: String,
        constraints: String,
    },
    /// The lock file's version is wanted but no source has it.
    #[error("provider {addr} v{version} recorded in the dependency lock file is not available from any source; run `baton init -upgrade` to choose another version")]
    LockedUnavailable { addr: ProviderAddr, version: String },
    #[error("provider {addr} v{version}: the package at {} does not match any of the checksums recorded in the dependency lock file (it hashes to {got}); nothing was installed", package.display())]
    HashMismatch {
        addr: Box<ProviderAddr>,
        version: String,
        package: PathBuf,
        got: String,
    },
    #[error("provider {addr}: no executable named terraform-provider-{} in {}", addr.type_name, dir.display())]
    NoExecutable { addr: ProviderAddr, dir: PathBuf },
    /// A packed package that cannot be read or would unpack outside its directory.
    #[error("provider package {}: {reason}", path.display())]
    BadPackage { path: PathBuf, reason: String },
    /// A network request that failed (a transport error, a status other than success).
    #[error("provider {addr}: cannot fetch {url}: {error}")]
    Fetch {
        addr: ProviderAddr,
        url: String,
        error: String,
    },
    /// A registry or network mirror answer that is not what the protocol says.
    #[error("provider {addr}: unexpected answer from {url}: {reason}")]
    BadResponse {
        addr: ProviderAddr,
        url: String,
        reason: String,
    },
    /// A downloaded package whose checksum is not the one its source lists.
    #[error("provider {addr} v{version}: the checksum of {url} is {got}, but {expected} was expected; nothing was installed")]
    ChecksumMismatch {
        addr: Box<ProviderAddr>,
        version: String,
        url: String,
        expected: String,
        got: String,
    },
    #[error(transparent)]
    File(#[from] LockError),
    #[error("{}: {error}", path.display())]
    Io {
        path: PathBuf,
        error: std::io::Error,
    },
}

fn io_err(path: &Path) -> impl FnOnce(std::io::Error) -> InstallError + '_ {
    move |error| InstallError::Io {
        path: path.to_path_buf(),
        error,
    }
}

fn valid_segment(s: &str, allow_dot: bool) -> bool {
    !s.is_empty()
        && s.chars().all(|c| {
            c.is_ascii_alphanumeric()
                || c == '-'
                || c == '_'
                || (allow_dot && (c == '.' || c == ':'))
        })
        && !s.starts_with('-')
        && !s.ends_with('-')
}

impl ProviderAddr {
    /// Parses `type`, `namespace/type` or `hostname/namespace/type` (case-insensitively, as
    /// Terraform does); short forms are on the public registry, in `hashicorp` for a bare type.
    pub fn parse(s: &str) -> Result<ProviderAddr, InstallError> {
        let bad = |reason: &str| InstallError::BadAddress {
            text: s.to_string(),
            reason: reason.to_string(),
        };
        let parts: Vec<String> = s.trim().split('/').map(str::to_ascii_lowercase).collect();
        let (hostname, namespace, type_name) = match parts.as_slice() {
            [t] => (DEFAULT_HOST.to_string(), "hashicorp".to_string(), t.clone()),
            [n, t] => (DEFAULT_HOST.to_string(), n.clone(), t.clone()),
            [h, n, t] => (h.clone(), n.clone(), t.clone()),
            _ => return Err(bad("expected [HOSTNAME/]NAMESPACE/TYPE")),
        };
        // As Terraform's svchost: an optional numeric port, `:443` (the default) dropped.
        let (host, port) = match hostname.split_once(':') {
            Some((h, p)) => (h, Some(p)),
            None => (hostname.as_str(), None),
        };
        if !valid_segment(host, true) || !host.contains(|c: char| c.is_alphanumeric()) {
            return Err(bad("invalid hostname"));
        }
        if port.is_some_and(|p| {
            p.is_empty() || !p.chars().all(|c| c.is_ascii_digit()) || p.parse::<u16>().is_err()
        }) {
            return Err(bad("invalid port in hostname"));
        }
        let hostname = match port {
            Some("443") => host.to_string(),
            _ => hostname,
        };
        if !valid_segment(&namespace, false) {
            return Err(bad("invalid namespace"));
        }
        if !valid_segment(&type_name, false) {
            return Err(bad("invalid provider type"));
        }
        if type_name.starts_with("terraform-provider-") {
            return Err(bad("the type must not start with terraform-provider-"));
        }
        Ok(ProviderAddr {
            hostname,
            namespace,
            type_name,
        })
    }

    /// The implied address of a local name given no source: `hashicorp/NAME` on the public
    /// registry, except `terraform`, the built-in provider.
    pub fn for_local_name(name: &str) -> ProviderAddr {
        if name == "terraform" {
            return ProviderAddr {
                hostname: "terraform.io".into(),
                namespace: "builtin".into(),
                type_name: "terraform".into(),
            };
        }
        ProviderAddr {
            hostname: DEFAULT_HOST.into(),
            namespace: "hashicorp".into(),
            type_name: name.to_ascii_lowercase(),
        }
    }

    /// `HOST/NS/TYPE` as a relative path.
    fn rel_dir(&self) -> PathBuf {
        Path::new(&self.hostname)
            .join(&self.namespace)
            .join(&self.type_name)
    }

    /// Whether an `include`/`exclude` pattern (`hashicorp/*`, `example.com/*/*`) matches.
    fn matches_pattern(&self, pattern: &str) -> bool {
        let parts: Vec<&str> = pattern.trim().split('/').collect();
        let (h, n, t) = match parts.as_slice() {
            [t] => (DEFAULT_HOST, "hashicorp", *t),
            [n, t] => (DEFAULT_HOST, *n, *t),
            [h, n, t] => (*h, *n, *t),
            _ => return false,
        };
        let seg = |p: &str, v: &str| p == "*" || p.eq_ignore_ascii_case(v);
        seg(h, &self.hostname) && seg(n, &self.namespace) && seg(t, &self.type_name)
    }

    fn selected_by(&self, filter: &Filter) -> bool {
        (filter.include.is_empty() || filter.include.iter().any(|p| self.matches_pattern(p)))
            && !filter.exclude.iter().any(|p| self.matches_pattern(p))
    }
}

impl fmt::Display for ProviderAddr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}/{}", self.hostname, self.namespace, self.type_name)
    }
}

/// One provider a configuration needs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Requirement {
    /// The first local name it was declared (or implied) under.
    pub local_name: String,
    pub addr: ProviderAddr,
    /// The constraints of every module that declares it, merged; `None` when none has one.
    pub constraints: Option<Constraints>,
}

/// The file of `dir` whose text contains `needle` (for errors), else `dir` itself.
fn file_mentioning(dir: &Path, needle: &str) -> PathBuf {
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
        .map(|rd| {
            rd.flatten()
                .map(|e| e.path())
                .filter(|p| {
                    let n = p.to_string_lossy();
                    n.ends_with(".tf") || n.ends_with(".tf.json")
                })
                .collect()
        })
        .unwrap_or_default();
    files.sort();
    files
        .into_iter()
        .find(|p| {
            std::fs::read_to_string(p)
                .map(|t| t.contains(needle))
                .unwrap_or(false)
        })
        .unwrap_or_else(|| dir.to_path_buf())
}

/// The providers a configuration needs: every module's `required_providers` (constraints of
/// the same address merged), plus the providers implied by provider blocks and resources
/// whose local name no `required_providers` entry declares (`hashicorp/NAME`, as Terraform).
/// Sorted by address.
pub fn requirements(config: &baton_config::Config) -> Result<Vec<Requirement>, InstallError> {
    let mut by_addr: BTreeMap<ProviderAddr, Requirement> = BTreeMap::new();
    let mut add = |local: &str, addr: ProviderAddr, c: Option<Constraints>| {
        let r = by_addr.entry(addr.clone()).or_insert_with(|| Requirement {
            local_name: local.to_string(),
            addr,
            constraints: None,
        });
        if let Some(c) = c {
            match &mut r.constraints {
                Some(existing) => existing.merge(&c),
                None => r.constraints = Some(c),
            }
        }
    };
    for module in config.all_modules() {
        let tf = &module.terraform;
        let mut names: Vec<&String> = tf.required_providers.keys().collect();
        names.extend(
            tf.required_provider_versions
                .keys()
                .filter(|k| !tf.required_providers.contains_key(*k)),
        );
        for name in names {
            let source = tf
                .required_providers
                .get(name)
                .map(String::as_str)
                .unwrap_or("");
            let wrap = |e: InstallError, needle: &str| InstallError::BadRequirement {
                file: file_mentioning(&module.dir, needle),
                local_name: name.clone(),
                error: Box::new(e),
            };
            let addr = if source.is_empty() {
                ProviderAddr::for_local_name(name)
            } else {
                ProviderAddr::parse(source).map_err(|e| wrap(e, source))?
            };
            let constraints = match tf.required_provider_versions.get(name) {
                Some(text) => Some(
                    Constraints::parse(text)
                        .map_err(|e| wrap(InstallError::BadConstraint(e), text))?,
                ),
                None => None,
            };
            add(name, addr, constraints);
        }
        let mut implied: Vec<String> = module.providers.iter().map(|p| p.name.clone()).collect();
        for r in module.resources.values() {
            match &r.provider {
                Some(p) => implied.push(p.name.clone()),
                None => {
                    let t = &r.addr.type_;
                    implied.push(t.split('_').next().unwrap_or(t).to_string());
                }
            }
        }
        for name in implied {
            if !tf.required_providers.contains_key(&name)
                && !tf.required_provider_versions.contains_key(&name)
            {
                add(&name, ProviderAddr::for_local_name(&name), None);
            }
        }
    }
    Ok(by_addr.into_values().collect())
}

/// Where an installed provider is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Located {
    pub addr: ProviderAddr,
    /// `None` for a `dev_overrides` directory, which has no version.
    pub version: Option<String>,
    pub executable: PathBuf,
    pub package_dir: PathBuf,
    pub dev_override: bool,
}

/// The `OS_ARCH` of this machine in Terraform's (Go's) spelling: `linux_amd64`.
pub fn current_platform() -> String {
    let arch = match std::env::consts::ARCH {
        "x86_64" => "amd64",
        "aarch64" => "arm64",
        "x86" => "386",
        "arm" => "arm",
        other => other,
    };
    format!("{}_{arch}", std::env::consts::OS)
}

/// The provider executable in a package or `dev_overrides` directory: `terraform-provider-TYPE`
/// or `terraform-provider-TYPE_v*` (the exact name preferred).
pub fn find_executable(addr: &ProviderAddr, dir: &Path) -> Result<PathBuf, InstallError> {
    let exact = format!("terraform-provider-{}", addr.type_name);
    let versioned = format!("{exact}_v");
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .map_err(io_err(dir))?
        .flatten()
        .filter(|e| e.path().is_file())
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| *n == exact || n.starts_with(&versioned))
        .collect();
    names.sort();
    if names.contains(&exact) {
        return Ok(dir.join(exact));
    }
    match names.pop() {
        Some(n) => Ok(dir.join(n)),
        None => Err(InstallError::NoExecutable {
            addr: addr.clone(),
            dir: dir.to_path_buf(),
        }),
    }
}

/// Expands a leading `~/` with `HOME` as Terraform does for CLI configuration paths.
fn expand_home(p: &str) -> PathBuf {
    match (p.strip_prefix("~/"), std::env::var_os("HOME")) {
        (Some(rest), Some(home)) => PathBuf::from(home).join(rest),
        _ => PathBuf::from(p),
    }
}

/// The `dev_overrides` directory for `addr`, if the CLI configuration has one.
fn dev_override(addr: &ProviderAddr, cli: &CliConfig) -> Option<PathBuf> {
    let inst = cli.provider_installation.as_ref()?;
    inst.dev_overrides.iter().find_map(|(k, dir)| {
        (ProviderAddr::parse(k).ok().as_ref() == Some(addr)).then(|| expand_home(dir))
    })
}

/// The unpacked `VERSION/OS_ARCH` package directories of `addr` under a layout root
/// (`.terraform/providers`, a mirror, the plugin cache), by version.
fn unpacked_versions(base: &Path, addr: &ProviderAddr) -> BTreeMap<Version, PathBuf> {
    let dir = base.join(addr.rel_dir());
    let platform = current_platform();
    let mut out = BTreeMap::new();
    let Ok(rd) = std::fs::read_dir(&dir) else {
        return out;
    };
    for e in rd.flatten() {
        let name = e.file_name().to_string_lossy().into_owned();
        let Ok(v) = Version::parse(&name) else {
            continue;
        };
        let pkg = e.path().join(&platform);
        if pkg.is_dir() {
            out.insert(v, pkg);
        }
    }
    out
}

/// Where `addr` is installed, without installing: its `dev_overrides` directory, else the
/// package under `ROOT/.terraform/providers` of the lock file's version (when a lock file is
/// given and records the provider), or of the newest version allowed by the constraints.
/// `Ok(None)` when it is not installed.
pub fn locate(
    req: &Requirement,
    root: &Path,
    cli: &CliConfig,
    lock: Option<&LockFile>,
) -> Result<Option<Located>, InstallError> {
    if let Some(dir) = dev_override(&req.addr, cli) {
        let executable = find_executable(&req.addr, &dir)?;
        return Ok(Some(Located {
            addr: req.addr.clone(),
            version: None,
            executable,
            package_dir: dir,
            dev_override: true,
        }));
    }
    let installed = unpacked_versions(&root.join(".terraform/providers"), &req.addr);
    let locked = lock.and_then(|l| l.providers.get(&req.addr.to_string()));
    let chosen = match locked {
        Some(p) => {
            let Ok(v) = Version::parse(&p.version) else {
                return Ok(None);
            };
            installed.get_key_value(&v)
        }
        None => installed
            .iter()
            .rev()
            .find(|(v, _)| allowed(req.constraints.as_ref(), v)),
    };
    let Some((v, dir)) = chosen else {
        return Ok(None);
    };
    let executable = find_executable(&req.addr, dir)?;
    Ok(Some(Located {
        addr: req.addr.clone(),
        version: Some(v.to_string()),
        executable,
        package_dir: dir.clone(),
        dev_override: false,
    }))
}

/// A provider package in a source: an unpacked `VERSION/OS_ARCH` directory, or a packed
/// `terraform-provider-TYPE_VERSION_OS_ARCH.zip`.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Package {
    Dir(PathBuf),
    Zip(PathBuf),
}

impl Package {
    fn path(&self) -> &Path {
        match self {
            Package::Dir(p) | Package::Zip(p) => p,
        }
    }

    /// Its `h1:` hash (of the files it unpacks to, for a zip).
    fn h1(&self) -> Result<String, InstallError> {
        match self {
            Package::Dir(d) => Ok(lockfile::package_hash_h1(d)?),
            Package::Zip(z) => {
                let mut archive = open_zip(z)?;
                let mut digests = Vec::new();
                for i in 0..archive.len() {
                    let entry = archive.by_index(i).map_err(|e| bad_zip(z, e))?;
                    if entry.is_dir() {
                        continue;
                    }
                    let name = entry_name(z, &entry)?;
                    let hex = lockfile::sha256_hex(entry).map_err(io_err(z))?;
                    digests.push((name, hex));
                }
                Ok(lockfile::hash_h1(digests))
            }
        }
    }

    /// Checks that it holds the provider's executable.
    fn check_executable(&self, addr: &ProviderAddr) -> Result<(), InstallError> {
        match self {
            Package::Dir(d) => find_executable(addr, d).map(|_| ()),
            Package::Zip(z) => {
                let exact = format!("terraform-provider-{}", addr.type_name);
                let versioned = format!("{exact}_v");
                let archive = open_zip(z)?;
                if archive
                    .file_names()
                    .flatten()
                    .any(|n| *n == exact || n.starts_with(&versioned))
                {
                    Ok(())
                } else {
                    Err(InstallError::NoExecutable {
                        addr: addr.clone(),
                        dir: z.clone(),
                    })
                }
            }
        }
    }
}

fn open_zip(z: &Path) -> Result<zip::ZipArchive<std::fs::File>, InstallError> {
    let f = std::fs::File::open(z).map_err(io_err(z))?;
    zip::ZipArchive::new(f).map_err(|e| bad_zip(z, e))
}

fn bad_zip(z: &Path, e: zip::result::ZipError) -> InstallError {
    InstallError::BadPackage {
        path: z.to_path_buf(),
        reason: e.to_string(),
    }
}

/// An entry's relative path with `/` separators; entries that would land outside the package
/// directory (`../x`, absolute paths) are refused.
fn entry_name<R: std::io::Read>(
    z: &Path,
    e: &zip::read::ZipFile<'_, R>,
) -> Result<String, InstallError> {
    let Some(rel) = e.enclosed_name() else {
        return Err(InstallError::BadPackage {
            path: z.to_path_buf(),
            reason: format!("entry {:?} points outside the package", e.name()),
        });
    };
    Ok(rel
        .components()
        .map(|c| c.as_os_str().to_string_lossy().into_owned())
        .collect::<Vec<_>>()
        .join("/"))
}

/// Unpacks a package zip into `to` (created), keeping the entries' Unix permissions.
fn unzip(z: &Path, to: &Path) -> Result<(), InstallError> {
    use std::os::unix::fs::PermissionsExt as _;
    let mut archive = open_zip(z)?;
    std::fs::create_dir_all(to).map_err(io_err(to))?;
    for i in 0..archive.len() {
        let mut entry = archive.by_index(i).map_err(|e| bad_zip(z, e))?;
        let dest = to.join(entry_name(z, &entry)?);
        if entry.is_dir() {
            std::fs::create_dir_all(&dest).map_err(io_err(&dest))?;
            continue;
        }
        if let Some(parent) = dest.parent() {
            std::fs::create_dir_all(parent).map_err(io_err(parent))?;
        }
        let mut out = std::fs::File::create(&dest).map_err(io_err(&dest))?;
        std::io::copy(&mut entry, &mut out).map_err(io_err(&dest))?;
        if let Some(mode) = entry.unix_mode() {
            std::fs::set_permissions(&dest, std::fs::Permissions::from_mode(mode & 0o777))
                .map_err(io_err(&dest))?;
        }
    }
    Ok(())
}

/// The packages of `addr` in a filesystem mirror, by version: unpacked directories, and packed
/// zips for this platform (an unpacked one wins when both exist).
fn mirror_packages(base: &Path, addr: &ProviderAddr) -> BTreeMap<Version, Package> {
    let mut out: BTreeMap<Version, Package> = unpacked_versions(base, addr)
        .into_iter()
        .map(|(v, p)| (v, Package::Dir(p)))
        .collect();
    let prefix = format!("terraform-provider-{}_", addr.type_name);
    let suffix = format!("_{}.zip", current_platform());
    let Ok(rd) = std::fs::read_dir(base.join(addr.rel_dir())) else {
        return out;
    };
    for e in rd.flatten() {
        let name = e.file_name().to_string_lossy().into_owned();
        let Some(v) = name
            .strip_prefix(&prefix)
            .and_then(|r| r.strip_suffix(&suffix))
            .and_then(|v| Version::parse(v).ok())
        else {
            continue;
        };
        if e.path().is_file() {
            out.entry(v).or_insert(Package::Zip(e.path()));
        }
    }
    out
}

/// What [`init`] did for one provider.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Installed {
    pub addr: ProviderAddr,
    pub version: String,
    /// The constraints, as written to the lock file.
    pub constraints: Option<String>,
    /// Whether the version is the one the lock file already recorded.
    pub from_lock: bool,
    pub how: How,
    /// The installed package directory (`ROOT/.terraform/providers/...`).
    pub package_dir: PathBuf,
}

/// Where an installed package came from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum How {
    /// Copied (or unpacked) from a filesystem mirror: the package directory or zip.
    Mirror(PathBuf),
    /// Linked from the plugin cache directory.
    Cache(PathBuf),
    /// Downloaded from the provider's origin registry (the URL of the zip); its checksum was
    /// checked but its signature was not verified.
    Registry(String),
    /// Downloaded from a network mirror (the URL of the zip), checked against its hashes.
    NetworkMirror(String),
    /// Already installed, unchanged.
    AlreadyInstalled,
}

/// The outcome of [`init`].
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct InitReport {
    pub installed: Vec<Installed>,
    /// Requirements satisfied by `dev_overrides`: not installed and not locked (Terraform
    /// warns about these).
    pub dev_overrides: Vec<(ProviderAddr, PathBuf)>,
    /// Whether `.terraform.lock.hcl` was written.
    pub lock_changed: bool,
}

/// A place versions come from.
enum Source {
    Mirror {
        dir: PathBuf,
        filter: Filter,
    },
    /// `network_mirror` or `direct`, reachable through a [`Fetch`].
    Remote {
        remote: remote::Remote,
        filter: Filter,
    },
    /// `network_mirror` or `direct` without a [`Fetch`].
    Unreachable {
        what: String,
        filter: Filter,
    },
}

fn sources(cli: &CliConfig, online: bool) -> Vec<Source> {
    match &cli.provider_installation {
        Some(inst) => inst
            .methods
            .iter()
            .map(|m| match m {
                InstallMethod::FilesystemMirror { path, filter } => Source::Mirror {
                    dir: expand_home(path),
                    filter: filter.clone(),
                },
                InstallMethod::NetworkMirror { url, filter } if online => Source::Remote {
                    remote: remote::Remote::Mirror(if url.ends_with('/') {
                        url.clone()
                    } else {
                        format!("{url}/")
                    }),
                    filter: filter.clone(),
                },
                InstallMethod::NetworkMirror { url, filter } => Source::Unreachable {
                    what: format!("network mirror {url}"),
                    filter: filter.clone(),
                },
                InstallMethod::Direct { filter } if online => Source::Remote {
                    remote: remote::Remote::Direct,
                    filter: filter.clone(),
                },
                InstallMethod::Direct { filter } => Source::Unreachable {
                    what: "the provider's origin registry".into(),
                    filter: filter.clone(),
                },
            })
            .collect(),
        None => {
            let mut v: Vec<Source> = cli
                .implied_mirror_dirs
                .iter()
                .filter(|d| d.is_dir())
                .map(|d| Source::Mirror {
                    dir: d.clone(),
                    filter: Filter::default(),
                })
                .collect();
            v.push(if online {
                Source::Remote {
                    remote: remote::Remote::Direct,
                    filter: Filter::default(),
                }
            } else {
                Source::Unreachable {
                    what: "the provider's origin registry".into(),
                    filter: Filter::default(),
                }
            });
            v
        }
    }
}

/// One provider's decision, made before anything is written.
struct Planned {
    req_addr: ProviderAddr,
    version: Version,
    constraints: Option<String>,
    from_lock: bool,
    /// The package to install from and where it came from; `None` when the target is already
    /// right.
    from: Option<(Package, Origin)>,
    target: PathBuf,
    h1: String,
    /// The `zh:` hash of a downloaded zip.
    zh: Option<String>,
    old: Option<LockedProvider>,
    /// Keeps a downloaded zip on disk until it is installed.
    _download: Option<remote::Download>,
}

/// Where a chosen package is.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Origin {
    Cache,
    Mirror,
    Registry(String),
    NetworkMirror(String),
}

/// A version some source offers.
enum Candidate {
    Local(Package),
    Remote(remote::Offer),
}

/// What [`plan_one`] needs besides the requirement.
struct PlanCtx<'a> {
    root: &'a Path,
    sources: &'a [Source],
    cache: Option<&'a Path>,
    lock: &'a LockFile,
    upgrade: bool,
    fetch: Option<&'a dyn Fetch>,
}

fn plan_one(req: &Requirement, cx: &PlanCtx<'_>) -> Result<Planned, InstallError> {
    let addr = &req.addr;
    let mut available: BTreeMap<Version, Candidate> = BTreeMap::new();
    let mut searched = Vec::new();
    let mut unreachable = Vec::new();
    let mut remotes = Vec::new();
    for s in cx.sources {
        match s {
            Source::Mirror { dir, filter } if addr.selected_by(filter) => {
                searched.push(format!("filesystem mirror {}", dir.display()));
                for (v, p) in mirror_packages(dir, addr) {
                    available.entry(v).or_insert(Candidate::Local(p));
                }
            }
            Source::Remote { remote, filter } if addr.selected_by(filter) => remotes.push(remote),
            Source::Unreachable { what, filter } if addr.selected_by(filter) => {
                unreachable.push(what.clone())
            }
            _ => {}
        }
    }
    let cached: BTreeMap<Version, Package> = cx
        .cache
        .map(|c| {
            unpacked_versions(c, addr)
                .into_iter()
                .map(|(v, p)| (v, Package::Dir(p)))
                .collect()
        })
        .unwrap_or_default();
    if let Some(c) = cx.cache {
        searched.push(format!("plugin cache {}", c.display()));
    }
    let old = cx.lock.providers.get(&addr.to_string()).cloned();
    let recorded = old.as_ref().and_then(|p| Version::parse(&p.version).ok());
    // As Terraform: a locked version the constraints no longer allow needs `-upgrade`.
    if let (Some(v), false) = (&recorded, cx.upgrade) {
        if !allowed(req.constraints.as_ref(), v) {
            return Err(InstallError::LockedDisallowed {
                addr: addr.clone(),
                version: v.to_string(),
                constraints: req
                    .constraints
                    .as_ref()
                    .map(|c| c.to_string())
                    .unwrap_or_default(),
            });
        }
    }
    let locked_version = recorded.filter(|_| !cx.upgrade);
    let target_base = cx.root.join(".terraform/providers");
    let target_of = |v: &Version| {
        target_base
            .join(addr.rel_dir())
            .join(v.to_string())
            .join(current_platform())
    };
    // The network is asked only when local sources cannot settle the choice: a locked
    // version that is installed, cached or in a local mirror needs no request.
    let local_enough = locked_version.as_ref().is_some_and(|v| {
        available.contains_key(v) || cached.contains_key(v) || target_of(v).is_dir()
    });
    if let (Some(fetch), false) = (cx.fetch, local_enough) {
        for r in &remotes {
            for (v, offer) in remote::versions(fetch, addr, r)? {
                available.entry(v).or_insert(Candidate::Remote(offer));
            }
        }
    }
    for r in &remotes {
        searched.push(match r {
            remote::Remote::Direct => format!("the registry at {}", addr.hostname),
            remote::Remote::Mirror(url) => format!("network mirror {url}"),
        });
    }
    let version = match &locked_version {
        Some(v) => {
            if !available.contains_key(v) && !cached.contains_key(v) && !target_of(v).is_dir() {
                return Err(InstallError::LockedUnavailable {
                    addr: addr.clone(),
                    version: v.to_string(),
                });
            }
            v.clone()
        }
        None => {
            let pick = available
                .keys()
                .rev()
                .find(|v| allowed(req.constraints.as_ref(), v))
                .cloned();
            match pick {
                Some(v) => v,
                None if available.is_empty() => {
                    let network = if unreachable.is_empty() {
                        "no other installation method applies to it".to_string()
                    } else {
                        format!(
                            "no network source is reachable ({} cannot be used offline)",
                            unreachable.join(", ")
                        )
                    };
                    return Err(InstallError::NotAvailable {
                        addr: addr.clone(),
                        searched: if searched.is_empty() {
                            "no source applies to it".into()
                        } else {
                            format!("searched {}", searched.join(", "))
                        },
                        network,
                    });
                }
                None => {
                    return Err(InstallError::NoMatch {
                        addr: addr.clone(),
                        constraints: req
                            .constraints
                            .as_ref()
                            .map(|c| c.to_string())
                            .unwrap_or_default(),
                        available: available.keys().map(|v| v.to_string()).collect(),
                    })
                }
            }
        }
    };
    let target = target_of(&version);
    let locked_hashes: Option<&Vec<String>> = old
        .as_ref()
        .filter(|p| Version::parse(&p.version).ok().as_ref() == Some(&version))
        .map(|p| &p.hashes)
        .filter(|h| !h.is_empty());
    let check = |pkg: &Package, zh: Option<&String>| -> Result<(String, bool), InstallError> {
        let h1 = pkg.h1()?;
        let ok =
            locked_hashes.is_none_or(|hs| hs.contains(&h1) || zh.is_some_and(|z| hs.contains(z)));
        Ok((h1, ok))
    };
    let planned = |from: Option<(Package, Origin)>, h1: String, zh: Option<String>, dl| Planned {
        req_addr: addr.clone(),
        constraints: req.constraints.as_ref().map(|c| c.to_string()),
        from_lock: locked_version.is_some(),
        from,
        target: target.clone(),
        h1,
        zh,
        old: old.clone(),
        version: version.clone(),
        _download: dl,
    };
    // Candidates in order: the package already installed, the cache, the sources.
    let source_pkg = match available.get(&version) {
        Some(Candidate::Local(p)) => Some(p),
        _ => None,
    };
    if target.is_dir() {
        let (h1, ok) = check(&Package::Dir(target.clone()), None)?;
        let same_as_source = match source_pkg {
            Some(p) => p.h1()? == h1,
            None => true,
        };
        if ok && (locked_hashes.is_some() || same_as_source) {
            return Ok(planned(None, h1, None, None));
        }
    }
    let mut mismatch = None;
    for (pkg, origin) in [
        (cached.get(&version), Origin::Cache),
        (source_pkg, Origin::Mirror),
    ] {
        let Some(pkg) = pkg else { continue };
        let (h1, ok) = check(pkg, None)?;
        if ok {
            pkg.check_executable(addr)?;
            return Ok(planned(Some((pkg.clone(), origin)), h1, None, None));
        }
        mismatch = Some((pkg.path().to_path_buf(), h1));
    }
    if let (Some(Candidate::Remote(offer)), Some(fetch)) = (available.get(&version), cx.fetch) {
        let d = remote::download(fetch, addr, &version, offer)?;
        let pkg = Package::Zip(d.path.clone());
        let (h1, ok) = check(&pkg, Some(&d.zh))?;
        if ok {
            pkg.check_executable(addr)?;
            let origin = if d.from_registry {
                Origin::Registry(d.url.clone())
            } else {
                Origin::NetworkMirror(d.url.clone())
            };
            // As Terraform: a registry package's `zh:` hash is recorded too (Terraform records
            // every `zh:` of the signed SHA256SUMS; unverified, only the zip checked here); a
            // network mirror's package only by its `h1:` hash.
            let zh = d.from_registry.then(|| d.zh.clone());
            return Ok(planned(Some((pkg, origin)), h1, zh, Some(d)));
        }
        mismatch = Some((PathBuf::from(&d.url), h1));
    }
    match mismatch {
        Some((package, got)) => Err(InstallError::HashMismatch {
            addr: Box::new(addr.clone()),
            version: version.to_string(),
            package,
            got,
        }),
        None => Err(InstallError::LockedUnavailable {
            addr: addr.clone(),
            version: version.to_string(),
        }),
    }
}

/// Copies a package directory (files keep their permissions, so the executable bit).
fn copy_dir(from: &Path, to: &Path) -> Result<(), InstallError> {
    std::fs::create_dir_all(to).map_err(io_err(to))?;
    for e in std::fs::read_dir(from).map_err(io_err(from))? {
        let e = e.map_err(io_err(from))?;
        let src = e.path();
        let dst = to.join(e.file_name());
        if src.is_dir() {
            copy_dir(&src, &dst)?;
        } else {
            std::fs::copy(&src, &dst).map_err(io_err(&src))?;
        }
    }
    Ok(())
}

/// Removes whatever is at `p` (a directory, a file or a symbolic link); nothing there is fine.
fn remove_any(p: &Path) -> Result<(), InstallError> {
    match std::fs::symlink_metadata(p) {
        Ok(m) if m.is_dir() => std::fs::remove_dir_all(p).map_err(io_err(p)),
        Ok(_) => std::fs::remove_file(p).map_err(io_err(p)),
        Err(_) => Ok(()),
    }
}

/// Copies (or unpacks) a package to `to` through a temporary sibling, so that `to` is never
/// half written.
fn install_copy(from: &Package, to: &Path) -> Result<(), InstallError> {
    let parent = to.parent().unwrap_or(to);
    std::fs::create_dir_all(parent).map_err(io_err(parent))?;
    let tmp = parent.join(format!(
        ".{}.tmp-{}",
        to.file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default(),
        std::process::id()
    ));
    remove_any(&tmp)?;
    let done = match from {
        Package::Dir(d) => copy_dir(d, &tmp),
        Package::Zip(z) => unzip(z, &tmp),
    };
    if let Err(e) = done {
        let _ = remove_any(&tmp);
        return Err(e);
    }
    remove_any(to)?;
    std::fs::rename(&tmp, to).map_err(io_err(to))
}

/// Points `to` at a package in the plugin cache, as Terraform does.
fn install_link(cache_pkg: &Path, to: &Path) -> Result<(), InstallError> {
    let parent = to.parent().unwrap_or(to);
    std::fs::create_dir_all(parent).map_err(io_err(parent))?;
    remove_any(to)?;
    let abs = std::fs::canonicalize(cache_pkg).map_err(io_err(cache_pkg))?;
    std::os::unix::fs::symlink(&abs, to).map_err(io_err(to))
}

/// [`init_with`] offline: `network_mirror` and `direct` sources are unreachable.
pub fn init(
    reqs: &[Requirement],
    root: &Path,
    cli: &CliConfig,
    upgrade: bool,
) -> Result<InitReport, InstallError> {
    init_with(reqs, root, cli, upgrade, None)
}

/// `terraform init` for providers: for every requirement not satisfied by
/// `dev_overrides`, choose a version (the lock file's when it still satisfies the constraints
/// and `upgrade` is false, else the newest allowed one a source has: the installation methods
/// in the CLI configuration's order, local ones first, network ones through `fetch`), verify
/// the package (a download against its source's checksums too)
/// against the lock file's hashes for that version, install it under
/// `ROOT/.terraform/providers/HOST/NS/TYPE/VERSION/OS_ARCH` (linked from the plugin cache when
/// there is one, the cache filled first), and write `ROOT/.terraform.lock.hcl`. Every decision
/// is made before the first write: on error nothing has changed.
pub fn init_with(
    reqs: &[Requirement],
    root: &Path,
    cli: &CliConfig,
    upgrade: bool,
    fetch: Option<&dyn Fetch>,
) -> Result<InitReport, InstallError> {
    let lock_path = root.join(".terraform.lock.hcl");
    let lock_text = match std::fs::read_to_string(&lock_path) {
        Ok(t) => Some(t),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => None,
        Err(e) => return Err(io_err(&lock_path)(e)),
    };
    let lock = match &lock_text {
        Some(t) => lockfile::parse(t, &lock_path.display().to_string())?,
        None => LockFile::default(),
    };
    let cache = cli
        .plugin_cache_dir
        .as_deref()
        .filter(|d| !d.is_empty())
        .map(expand_home);
    let srcs = sources(cli, fetch.is_some());
    let cx = PlanCtx {
        root,
        sources: &srcs,
        cache: cache.as_deref(),
        lock: &lock,
        upgrade,
        fetch,
    };
    let mut report = InitReport::default();
    let mut planned = Vec::new();
    for req in reqs {
        if let Some(dir) = dev_override(&req.addr, cli) {
            report.dev_overrides.push((req.addr.clone(), dir));
            continue;
        }
        planned.push(plan_one(req, &cx)?);
    }
    // Everything is decided: write.
    let mut new_lock = LockFile::default();
    for (addr, p) in &lock.providers {
        if report
            .dev_overrides
            .iter()
            .any(|(a, _)| a.to_string() == *addr)
        {
            new_lock.providers.insert(addr.clone(), p.clone());
        }
    }
    for p in planned {
        let how = match &p.from {
            None => How::AlreadyInstalled,
            Some((pkg, Origin::Cache)) => {
                install_link(pkg.path(), &p.target)?;
                How::Cache(pkg.path().to_path_buf())
            }
            Some((pkg, origin)) => {
                match &cache {
                    Some(c) => {
                        let cached = c
                            .join(p.req_addr.rel_dir())
                            .join(p.version.to_string())
                            .join(current_platform());
                        install_copy(pkg, &cached)?;
                        install_link(&cached, &p.target)?;
                    }
                    None => install_copy(pkg, &p.target)?,
                }
                match origin {
                    Origin::Registry(url) => How::Registry(url.clone()),
                    Origin::NetworkMirror(url) => How::NetworkMirror(url.clone()),
                    _ => How::Mirror(pkg.path().to_path_buf()),
                }
            }
        };
        let version = p.version.to_string();
        let mut hashes = match &p.old {
            Some(o) if Version::parse(&o.version).ok().as_ref() == Some(&p.version) => {
                o.hashes.clone()
            }
            _ => Vec::new(),
        };
        for h in [Some(&p.h1), p.zh.as_ref()].into_iter().flatten() {
            if !hashes.contains(h) {
                hashes.push(h.clone());
            }
        }
        new_lock.providers.insert(
            p.req_addr.to_string(),
            LockedProvider {
                version: version.clone(),
                constraints: p.constraints.clone(),
                hashes,
            },
        );
        report.installed.push(Installed {
            addr: p.req_addr,
            version,
            constraints: p.constraints,
            from_lock: p.from_lock,
            how,
            package_dir: p.target,
        });
    }
    let text = lockfile::render(&new_lock);
    if lock_text.as_deref() != Some(text.as_str())
        && !(lock_text.is_none() && new_lock.providers.is_empty())
    {
        std::fs::write(&lock_path, text).map_err(io_err(&lock_path))?;
        report.lock_changed = true;
    }
    Ok(report)
}
