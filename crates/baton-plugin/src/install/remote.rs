//! The network half of [`super::init`]: Terraform's provider registry protocol (service
//! discovery, `versions`, `download`) and its provider network mirror protocol (`index.json`,
//! `VERSION.json`), spoken through the caller's [`Fetch`], and the checks of what they serve
//! (a zip's sha256 against the registry's `shasum` and `SHA256SUMS`, a mirror's `zh:`/`h1:`
//! hashes).
//!
//! It must not hold an HTTP client (the caller's [`Fetch`] is the only way out), must not write
//! inside the working directory (a download goes to a temporary file that is removed when its
//! [`Download`] is dropped) and must not verify GPG signatures: registry packages are reported
//! as unverified.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use super::{current_platform, InstallError, ProviderAddr, Version};
use crate::lockfile;

/// How [`super::init_with`] reaches the network; the binary implements it with an HTTPS client.
/// `get` returns the body of a successful response, or a message (the status, the transport
/// error) for anything else. Only `https://` URLs are passed to it.
pub trait Fetch {
    fn get(&self, url: &str) -> Result<Vec<u8>, String>;
}

/// A network installation method.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Remote {
    /// The provider's origin registry.
    Direct,
    /// A network mirror's base URL (ending in `/`).
    Mirror(String),
}

/// A version a network source offers for this platform, and where its package is described.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Offer {
    pub remote: Remote,
    /// The registry's `download` document, or the mirror's `VERSION.json`.
    pub doc_url: String,
}

/// A downloaded, checked package zip in a temporary file (removed on drop).
#[derive(Debug)]
pub(crate) struct Download {
    pub path: PathBuf,
    pub url: String,
    /// `zh:` + the zip's hex sha256.
    pub zh: String,
    pub from_registry: bool,
}

impl Drop for Download {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.path);
    }
}

/// Resolves `reference` against `base` as a browser would for the forms Terraform's protocols
/// use: absolute URLs, `//host/path`, `/path` and relative paths (`..` segments are kept).
pub(crate) fn join_url(base: &str, reference: &str) -> String {
    if reference.contains("://") {
        return reference.to_string();
    }
    let (scheme, rest) = base.split_once("://").unwrap_or(("https", base));
    if let Some(r) = reference.strip_prefix("//") {
        return format!("{scheme}://{r}");
    }
    let authority_end = rest.find('/').unwrap_or(rest.len());
    let authority = &rest[..authority_end];
    if reference.starts_with('/') {
        return format!("{scheme}://{authority}{reference}");
    }
    let path = &rest[authority_end..];
    let path = path.split(['?', '#']).next().unwrap_or("");
    let dir = match path.rfind('/') {
        Some(i) => &path[..=i],
        None => "/",
    };
    format!("{scheme}://{authority}{dir}{reference}")
}

struct Ctx<'a> {
    fetch: &'a dyn Fetch,
    addr: &'a ProviderAddr,
}

impl Ctx<'_> {
    fn get(&self, url: &str) -> Result<Vec<u8>, InstallError> {
        if !url.starts_with("https://") {
            return Err(InstallError::Fetch {
                addr: self.addr.clone(),
                url: url.to_string(),
                error: "only https:// URLs are used to install providers".into(),
            });
        }
        self.fetch.get(url).map_err(|error| InstallError::Fetch {
            addr: self.addr.clone(),
            url: url.to_string(),
            error,
        })
    }

    fn bad(&self, url: &str, reason: impl Into<String>) -> InstallError {
        InstallError::BadResponse {
            addr: self.addr.clone(),
            url: url.to_string(),
            reason: reason.into(),
        }
    }

    fn json(&self, url: &str) -> Result<serde_json::Value, InstallError> {
        let body = self.get(url)?;
        serde_json::from_slice(&body).map_err(|e| self.bad(url, format!("not JSON: {e}")))
    }

    fn string<'v>(
        &self,
        url: &str,
        v: &'v serde_json::Value,
        key: &str,
    ) -> Result<&'v str, InstallError> {
        v.get(key)
            .and_then(|s| s.as_str())
            .filter(|s| !s.is_empty())
            .ok_or_else(|| self.bad(url, format!("no {key:?} string")))
    }
}

/// The `providers.v1` base URL of the provider's registry (service discovery).
fn registry_base(cx: &Ctx<'_>) -> Result<String, InstallError> {
    let url = format!("https://{}/.well-known/terraform.json", cx.addr.hostname);
    let doc = cx.json(&url)?;
    let base = doc
        .get("providers.v1")
        .and_then(|s| s.as_str())
        .ok_or_else(|| {
            cx.bad(
                &url,
                "the host does not offer a provider registry (no \"providers.v1\")",
            )
        })?;
    let mut base = join_url(&url, base);
    if !base.ends_with('/') {
        base.push('/');
    }
    Ok(base)
}

/// The versions `remote` offers for this platform.
pub(crate) fn versions(
    fetch: &dyn Fetch,
    addr: &ProviderAddr,
    remote: &Remote,
) -> Result<BTreeMap<Version, Offer>, InstallError> {
    let cx = Ctx { fetch, addr };
    let platform = current_platform();
    let mut out = BTreeMap::new();
    match remote {
        Remote::Direct => {
            let base = registry_base(&cx)?;
            let url = format!("{base}{}/{}/versions", addr.namespace, addr.type_name);
            let doc = cx.json(&url)?;
            let list = doc
                .get("versions")
                .and_then(|v| v.as_array())
                .ok_or_else(|| cx.bad(&url, "no \"versions\" list"))?;
            for entry in list {
                let Some(Ok(v)) = entry
                    .get("version")
                    .and_then(|s| s.as_str())
                    .map(Version::parse)
                else {
                    continue;
                };
                let here = entry
                    .get("platforms")
                    .and_then(|p| p.as_array())
                    .is_some_and(|ps| {
                        ps.iter().any(|p| {
                            let os = p.get("os").and_then(|s| s.as_str()).unwrap_or("");
                            let arch = p.get("arch").and_then(|s| s.as_str()).unwrap_or("");
                            format!("{os}_{arch}") == platform
                        })
                    });
                if !here {
                    continue;
                }
                let (os, arch) = platform.split_once('_').unwrap_or((&platform, ""));
                let doc_url = format!(
                    "{base}{}/{}/{v}/download/{os}/{arch}",
                    addr.namespace, addr.type_name
                );
                out.insert(
                    v,
                    Offer {
                        remote: remote.clone(),
                        doc_url,
                    },
                );
            }
        }
        Remote::Mirror(base) => {
            let dir = format!(
                "{base}{}/{}/{}/",
                addr.hostname, addr.namespace, addr.type_name
            );
            let url = format!("{dir}index.json");
            let doc = cx.json(&url)?;
            let map = doc
                .get("versions")
                .and_then(|v| v.as_object())
                .ok_or_else(|| cx.bad(&url, "no \"versions\" object"))?;
            for key in map.keys() {
                if let Ok(v) = Version::parse(key) {
                    let doc_url = format!("{dir}{key}.json");
                    out.insert(
                        v,
                        Offer {
                            remote: remote.clone(),
                            doc_url,
                        },
                    );
                }
            }
        }
    }
    Ok(out)
}

/// Downloads the package `offer` describes to a temporary file and checks it: against the
/// registry's `shasum` and its `SHA256SUMS` line, or against the mirror's hashes. A package
/// that fails a check is refused ([`InstallError::ChecksumMismatch`]).
pub(crate) fn download(
    fetch: &dyn Fetch,
    addr: &ProviderAddr,
    version: &Version,
    offer: &Offer,
) -> Result<Download, InstallError> {
    let cx = Ctx { fetch, addr };
    let doc_url = &offer.doc_url;
    let doc = cx.json(doc_url)?;
    let mismatch = |url: &str, expected: String, got: String| InstallError::ChecksumMismatch {
        addr: Box::new(addr.clone()),
        version: version.to_string(),
        url: url.to_string(),
        expected,
        got,
    };
    match &offer.remote {
        Remote::Direct => {
            let filename = cx.string(doc_url, &doc, "filename")?;
            let url = join_url(doc_url, cx.string(doc_url, &doc, "download_url")?);
            let shasum = cx.string(doc_url, &doc, "shasum")?.to_ascii_lowercase();
            let sums_url = join_url(doc_url, cx.string(doc_url, &doc, "shasums_url")?);
            let sums = cx.get(&sums_url)?;
            let sums = String::from_utf8_lossy(&sums);
            let listed = sums.lines().find_map(|l| {
                let (hex, name) = l.split_once(char::is_whitespace)?;
                (name.trim_start().trim_start_matches('*') == filename)
                    .then(|| hex.to_ascii_lowercase())
            });
            match listed {
                Some(h) if h == shasum => {}
                Some(h) => return Err(mismatch(&sums_url, shasum, h)),
                None => return Err(cx.bad(&sums_url, format!("no checksum listed for {filename}"))),
            }
            let d = save(&cx, &url, filename, true)?;
            let got = d.zh.trim_start_matches("zh:").to_string();
            if got != shasum {
                return Err(mismatch(&url, format!("zh:{shasum}"), d.zh.clone()));
            }
            Ok(d)
        }
        Remote::Mirror(_) => {
            let platform = current_platform();
            let archive = doc
                .get("archives")
                .and_then(|a| a.get(&platform))
                .ok_or_else(|| cx.bad(doc_url, format!("no archive for {platform}")))?;
            let url = join_url(doc_url, cx.string(doc_url, archive, "url")?);
            let hashes: Vec<String> = archive
                .get("hashes")
                .and_then(|h| h.as_array())
                .map(|a| {
                    a.iter()
                        .filter_map(|h| h.as_str().map(str::to_string))
                        .collect()
                })
                .unwrap_or_default();
            let name = url.rsplit('/').next().unwrap_or("package.zip").to_string();
            let d = save(&cx, &url, &name, false)?;
            if !hashes.is_empty() && !hashes.contains(&d.zh) {
                let h1 = super::Package::Zip(d.path.clone()).h1()?;
                if !hashes.contains(&h1) {
                    return Err(mismatch(&url, hashes.join(", "), format!("{} {h1}", d.zh)));
                }
            }
            Ok(d)
        }
    }
}

/// Fetches `url` into a fresh temporary file.
fn save(
    cx: &Ctx<'_>,
    url: &str,
    name: &str,
    from_registry: bool,
) -> Result<Download, InstallError> {
    let body = cx.get(url)?;
    let zh = format!(
        "zh:{}",
        lockfile::sha256_hex(body.as_slice()).map_err(|e| cx.bad(url, e.to_string()))?
    );
    let safe: String = name
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '.' || c == '_' || c == '-' {
                c
            } else {
                '_'
            }
        })
        .collect();
    let path = temp_path(&safe);
    std::fs::write(&path, &body).map_err(|error| InstallError::Io {
        path: path.clone(),
        error,
    })?;
    Ok(Download {
        path,
        url: url.to_string(),
        zh,
        from_registry,
    })
}

fn temp_path(name: &str) -> PathBuf {
    use std::sync::atomic::{AtomicU64, Ordering};
    static N: AtomicU64 = AtomicU64::new(0);
    let n = N.fetch_add(1, Ordering::Relaxed);
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.subsec_nanos())
        .unwrap_or(0);
    Path::new(&std::env::temp_dir()).join(format!(
        "baton-download-{}-{nanos}-{n}-{name}",
        std::process::id()
    ))
}

#[cfg(test)]
mod tests {
    use super::join_url;

    #[test]
    fn urls_resolve_like_a_browser() {
        let b = "https://h:8443/v1/providers/a/b/0.2.0/download/linux/amd64";
        assert_eq!(join_url(b, "https://x/y.zip"), "https://x/y.zip");
        assert_eq!(join_url(b, "//x/y.zip"), "https://x/y.zip");
        assert_eq!(join_url(b, "/files/y.zip"), "https://h:8443/files/y.zip");
        assert_eq!(
            join_url(b, "y.zip"),
            "https://h:8443/v1/providers/a/b/0.2.0/download/linux/y.zip"
        );
        assert_eq!(join_url("https://h/a.json?x=/y", "z"), "https://h/z");
        assert_eq!(join_url("https://h", "z"), "https://h/z");
    }
}
