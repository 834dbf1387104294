//! `remote_package`: a system package on a host over SSH, through apt (Debian, Ubuntu) or dnf
//! (Fedora, RHEL). Refresh reads the installed version back (`dpkg-query`, where only
//! "install ok installed" counts, or `rpm -q`), so a package removed by hand is drift and
//! apply reinstalls it.
//!
//! - `state`: `"present"` (installed, any version unless `version` pins one), `"absent"`
//!   (removed), `"latest"` (installed and upgraded to the newest version the host's package
//!   cache knows; refresh asks that cache, `apt-cache policy` or `dnf -C`, never the network).
//! - `source`: a package file already on the host (a `.deb` or `.rpm`), installed with
//!   `apt-get install ./file.deb` or `dnf install FILE`; `name` must be the package it holds.
//! - apt waits up to five minutes for the dpkg lock held by another apt or dpkg.
//! - The package lists are never refreshed here (no implicit `apt-get update`): run one with a
//!   `remote_command` the package depends on.
//! - Destroy removes the package only when Baton installed it: one already installed when the
//!   resource was created (`adopted`) is left on the host, as is an `absent` one.
//!
//! Takes the `connection` block (with `become`) of [`crate::resources`].

use crate::resources::{b, connection_block, run, s, sh_quote};
use crate::ssh::RemoteOutput;
use baton_eval::{Type, Value};
use baton_provider::schema::{Attr, Schema};
use baton_provider::{
    ApplyRequest, AttrDiag, PlanRequest, PlanResponse, ProviderCtx, ProviderError, ResourceType,
};
use std::collections::BTreeMap;

type Map = BTreeMap<String, Value>;

fn to_map(v: &Value) -> Map {
    v.as_entries().map(|e| e.to_map()).unwrap_or_default()
}

fn host_of(v: &Value) -> String {
    v.get_attr("connection")
        .and_then(|c| s(c, "host"))
        .unwrap_or_default()
}

/// The installed version in `dpkg-query -W -f='${Status} ${Version}'` output: only a package
/// whose status is "install ok installed" counts (a removed one keeping its configuration
/// files reads "deinstall ok config-files").
pub fn parse_dpkg_query(out: &str) -> Option<String> {
    let rest = out.trim().strip_prefix("install ok installed")?;
    let v = rest.trim();
    (!v.is_empty()).then(|| v.to_string())
}

/// The installed version in `rpm -q --qf '%{VERSION}-%{RELEASE}\n'` output (the first, when
/// several architectures are installed); `None` for "package NAME is not installed".
pub fn parse_rpm_query(out: &str) -> Option<String> {
    let line = out.lines().map(str::trim).find(|l| !l.is_empty())?;
    if line.contains(' ') || line.contains("not installed") {
        return None;
    }
    Some(line.to_string())
}

/// The candidate version in `apt-cache policy NAME` output (`None` for "(none)").
pub fn parse_apt_candidate(out: &str) -> Option<String> {
    let v = out
        .lines()
        .find_map(|l| l.trim().strip_prefix("Candidate:"))?
        .trim();
    (!v.is_empty() && v != "(none)").then(|| v.to_string())
}

/// Whether the installed version satisfies a pinned `version`: equal, or (for rpm, whose query
/// gives VERSION-RELEASE) the pinned version followed by a release.
pub fn version_matches(installed: &str, wanted: &str) -> bool {
    installed == wanted
        || installed
            .strip_prefix(wanted)
            .is_some_and(|r| r.starts_with('-'))
}

/// The last lines of a command's standard error (the part that says what failed).
fn tail(out: &RemoteOutput) -> String {
    let text = String::from_utf8_lossy(&out.stderr);
    let lines: Vec<&str> = text.lines().filter(|l| !l.trim().is_empty()).collect();
    lines[lines.len().saturating_sub(15)..].join("\n")
}

fn failed(what: &str, out: &RemoteOutput) -> ProviderError {
    ProviderError::permanent(
        what.to_string(),
        format!("exit status {}: {}", out.code, tail(out)),
    )
}

fn valid_name(n: &str) -> bool {
    let mut c = n.chars();
    c.next().is_some_and(|f| f.is_ascii_alphanumeric())
        && c.all(|x| x.is_ascii_alphanumeric() || "+._-".contains(x))
}

/// Shell that sets `m` to the package manager (`apt` or `dnf`) or exits 4.
fn detect(obj: &Value) -> String {
    match s(obj, "manager").as_deref() {
        Some("apt") => "m=apt\n".into(),
        Some("dnf") => "m=dnf\n".into(),
        _ => "if command -v apt-get >/dev/null 2>&1; then m=apt\n\
              elif command -v dnf >/dev/null 2>&1; then m=dnf\n\
              else echo 'neither apt-get nor dnf found on the host' >&2; exit 4; fi\n"
            .into(),
    }
}

/// Shell printing, on one line each, the manager, its query output for package `$n`, and
/// (when `candidate`) the newest version the local package cache knows.
fn query(candidate: bool) -> String {
    let mut q = String::from(
        "echo \"$m\"\n\
         if [ \"$m\" = apt ]; then v=$(dpkg-query -W -f='${Status} ${Version}' \"$n\" 2>/dev/null)\n\
         else v=$(rpm -q --qf '%{VERSION}-%{RELEASE}\\n' \"$n\" 2>/dev/null | head -n 1); fi\n\
         echo \"$v\"\n",
    );
    if candidate {
        q.push_str(
            "if [ \"$m\" = apt ]; then apt-cache policy \"$n\" 2>/dev/null | sed -n 's/^ *Candidate: *//p'\n\
             else dnf -q -C --latest-limit 1 repoquery --qf '%{VERSION}-%{RELEASE}' \"$n\" 2>/dev/null | head -n 1; fi\n",
        );
    }
    q
}

/// What [`query`] printed: the installed version and the cache's candidate.
fn parse_query(text: &str) -> (Option<String>, Option<String>) {
    let mut lines = text.lines();
    let manager = lines.next().unwrap_or("").trim();
    let q = lines.next().unwrap_or("");
    let installed = if manager == "apt" {
        parse_dpkg_query(q)
    } else {
        parse_rpm_query(q)
    };
    let cand = lines
        .map(str::trim)
        .find(|l| !l.is_empty())
        .map(|l| format!("Candidate: {l}"))
        .and_then(|l| parse_apt_candidate(&l));
    (installed, cand)
}

fn opt_string(v: Option<String>) -> Value {
    v.map(Value::string)
        .unwrap_or_else(|| Value::null(Type::String))
}

pub struct RemotePackage {
    schema: Schema,
}

impl RemotePackage {
    pub fn new() -> RemotePackage {
        RemotePackage {
            schema: Schema::new()
                .block("connection", connection_block())
                .attr(
                    "name",
                    Attr::required(Type::String)
                        .force_new()
                        .describe("The package's name."),
                )
                .attr(
                    "state",
                    Attr::optional(Type::String)
                        .default(Value::string("present"))
                        .describe("\"present\", \"absent\" or \"latest\"."),
                )
                .attr(
                    "version",
                    Attr::optional(Type::String).describe("Install exactly this version."),
                )
                .attr(
                    "manager",
                    Attr::optional(Type::String)
                        .default(Value::string("auto"))
                        .describe("\"apt\", \"dnf\" or \"auto\" (apt when apt-get exists)."),
                )
                .attr(
                    "source",
                    Attr::optional(Type::String)
                        .describe("A package file on the host to install the package from."),
                )
                .attr("id", Attr::computed(Type::String))
                .attr(
                    "installed_version",
                    Attr::computed(Type::String).describe("Null when not installed."),
                )
                .attr(
                    "latest_version",
                    Attr::computed(Type::String)
                        .describe("For state \"latest\": the newest version in the host's cache."),
                )
                .attr(
                    "adopted",
                    Attr::computed(Type::Bool).describe(
                        "Already installed when created, so destroy leaves it on the host.",
                    ),
                ),
        }
    }
}

impl Default for RemotePackage {
    fn default() -> Self {
        RemotePackage::new()
    }
}

fn state_of(v: &Value) -> String {
    s(v, "state").unwrap_or_else(|| "present".into())
}

impl ResourceType for RemotePackage {
    fn type_name(&self) -> &'static str {
        "remote_package"
    }

    fn schema(&self) -> &Schema {
        &self.schema
    }

    fn prepare(&self, objects: &[&Value]) {
        crate::resources::prepare_hosts(objects);
    }

    fn validate(&self, config: &Value) -> Vec<AttrDiag> {
        let mut d = Vec::new();
        if let Some(n) = s(config, "name") {
            if !valid_name(&n) {
                d.push(AttrDiag::error(
                    Some("name"),
                    "Invalid package name",
                    format!("{n:?} is not a package name."),
                ));
            }
        }
        let state = s(config, "state");
        if let Some(st) = &state {
            if !["present", "absent", "latest"].contains(&st.as_str()) {
                d.push(AttrDiag::error(
                    Some("state"),
                    "Invalid state",
                    format!("{st:?} is not \"present\", \"absent\" or \"latest\"."),
                ));
            }
        }
        if let Some(m) = s(config, "manager") {
            if !["auto", "apt", "dnf"].contains(&m.as_str()) {
                d.push(AttrDiag::error(
                    Some("manager"),
                    "Invalid manager",
                    format!("{m:?} is not \"auto\", \"apt\" or \"dnf\"."),
                ));
            }
        }
        let pinned = s(config, "version").is_some();
        if pinned && matches!(state.as_deref(), Some("absent") | Some("latest")) {
            d.push(AttrDiag::error(
                Some("version"),
                "Conflicting arguments",
                "version applies only to state \"present\".",
            ));
        }
        if s(config, "source").is_some() && (pinned || state.as_deref() == Some("absent")) {
            d.push(AttrDiag::error(
                Some("source"),
                "Conflicting arguments",
                "source installs the file's version: drop version, and use state \"present\".",
            ));
        }
        d
    }

    fn plan(&self, req: PlanRequest<'_>) -> Result<PlanResponse, ProviderError> {
        let resp = baton_provider::plan::default_plan(&self.schema, &req);
        let mut m = to_map(&resp.planned);
        let replacing = !resp.requires_replace.is_empty();
        let prior = req.prior.filter(|_| !replacing);
        let host = host_of(req.config);
        let id = match (prior.and_then(|p| s(p, "id")), s(req.config, "name")) {
            (Some(id), _) => Value::string(id),
            (None, Some(n)) if !host.is_empty() => Value::string(format!("{host}:{n}")),
            _ => Value::unknown(Type::String),
        };
        m.insert("id".into(), id);
        let known = ["state", "version", "source"]
            .iter()
            .all(|a| req.config.get_attr(a).is_none_or(Value::is_known));
        let had = prior.and_then(|p| s(p, "installed_version"));
        let latest = prior.and_then(|p| s(p, "latest_version"));
        let state = state_of(req.config);
        let installed = if !known {
            Value::unknown(Type::String)
        } else if state == "absent" {
            Value::null(Type::String)
        } else {
            let settled = match (&had, s(req.config, "version")) {
                (None, _) => false,
                (Some(h), Some(v)) => version_matches(h, &v),
                (Some(h), None) if state == "latest" => latest.as_ref().is_none_or(|l| l == h),
                (Some(_), None) => true,
            };
            if settled {
                opt_string(had.clone())
            } else {
                Value::unknown(Type::String)
            }
        };
        let changing = !installed.is_known();
        m.insert("installed_version".into(), installed);
        m.insert(
            "latest_version".into(),
            if state != "latest" {
                Value::null(Type::String)
            } else if changing || prior.is_none() {
                Value::unknown(Type::String)
            } else {
                opt_string(latest)
            },
        );
        m.insert(
            "adopted".into(),
            match prior.and_then(|p| b(p, "adopted")) {
                Some(a) => Value::bool(a),
                None => Value::unknown(Type::Bool),
            },
        );
        Ok(PlanResponse {
            planned: Value::object(m),
            requires_replace: resp.requires_replace,
            warnings: Vec::new(),
        })
    }

    fn apply(&self, req: ApplyRequest<'_>) -> Result<Option<Value>, ProviderError> {
        let Some(planned) = req.planned else {
            // Destroy: remove what Baton installed (not an adopted or an `absent` package).
            if let Some(prior) = req.prior {
                if let Some(name) = s(prior, "name") {
                    if state_of(prior) != "absent" && !b(prior, "adopted").unwrap_or(false) {
                        remove(prior, &name)?;
                    }
                }
            }
            return Ok(None);
        };
        let name = s(planned, "name").unwrap_or_default();
        if !valid_name(&name) {
            return Err(ProviderError::permanent(
                "Invalid package name",
                format!("{name:?} is not a package name."),
            )
            .on_attr("name"));
        }
        let state = state_of(planned);
        let (installed, latest, was) = if state == "absent" {
            remove(planned, &name)?;
            (None, None, false)
        } else {
            install(planned, &name, &state)?
        };
        let mut m = to_map(planned);
        m.insert(
            "id".into(),
            Value::string(format!("{}:{name}", host_of(planned))),
        );
        m.insert("installed_version".into(), opt_string(installed));
        m.insert(
            "latest_version".into(),
            if state == "latest" {
                opt_string(latest)
            } else {
                Value::null(Type::String)
            },
        );
        let adopted = match req.prior.and_then(|p| b(p, "adopted")) {
            Some(a) => a,
            None => was,
        };
        m.insert("adopted".into(), Value::bool(adopted));
        Ok(Some(Value::object(m)))
    }

    fn read(&self, _ctx: &ProviderCtx, state: &Value) -> Result<Option<Value>, ProviderError> {
        let Some(name) = s(state, "name") else {
            return Ok(None);
        };
        let latest = state_of(state) == "latest";
        let script = format!("n={}\n{}{}", sh_quote(&name), detect(state), query(latest));
        let (_, out) = run(state, &script, None)?;
        if out.code != 0 {
            return Err(failed(&format!("Cannot read package {name}"), &out));
        }
        let (installed, cand) = parse_query(&String::from_utf8_lossy(&out.stdout));
        let mut m = to_map(state);
        m.insert("installed_version".into(), opt_string(installed));
        if latest {
            m.insert("latest_version".into(), opt_string(cand));
        }
        Ok(Some(Value::object(m)))
    }
}

/// Removes package `name` when installed.
fn remove(obj: &Value, name: &str) -> Result<(), ProviderError> {
    let script = format!(
        "n={}\n{}\
         if [ \"$m\" = apt ]; then\n\
           dpkg-query -W -f='${{Status}}' \"$n\" 2>/dev/null | grep -q 'ok installed' || exit 0\n\
           DEBIAN_FRONTEND=noninteractive exec apt-get remove -y -q -o DPkg::Lock::Timeout=300 \"$n\"\n\
         else\n\
           rpm -q \"$n\" >/dev/null 2>&1 || exit 0\n\
           exec dnf remove -y -q \"$n\"\n\
         fi\n",
        sh_quote(name),
        detect(obj)
    );
    let (_, out) = run(obj, &script, None)?;
    if out.code != 0 {
        return Err(failed(&format!("Cannot remove package {name}"), &out));
    }
    Ok(())
}

/// Installs (or upgrades, or pins) package `name`; returns the version then installed, the
/// cache's newest (for `latest`) and whether it was installed before.
fn install(
    obj: &Value,
    name: &str,
    state: &str,
) -> Result<(Option<String>, Option<String>, bool), ProviderError> {
    let version = s(obj, "version");
    let (apt_arg, dnf_arg) = match (s(obj, "source"), &version) {
        (Some(src), _) => {
            // apt-get takes a file only as a path (with a slash).
            let p = if src.contains('/') {
                src.clone()
            } else {
                format!("./{src}")
            };
            (sh_quote(&p), sh_quote(&src))
        }
        (None, Some(v)) => (
            format!("--allow-downgrades {}", sh_quote(&format!("{name}={v}"))),
            sh_quote(&format!("{name}-{v}")),
        ),
        (None, None) => (sh_quote(name), sh_quote(name)),
    };
    let dnf_cmd = if version.is_some() {
        // An older version than installed is a downgrade for dnf.
        format!("dnf install -y -q {dnf_arg} || dnf downgrade -y -q {dnf_arg}")
    } else if state == "latest" {
        format!("dnf install -y -q {dnf_arg} && dnf upgrade -y -q {dnf_arg}")
    } else {
        format!("dnf install -y -q {dnf_arg}")
    };
    let mut skip = String::new();
    if state == "present" && version.is_none() {
        // Already installed (any version): nothing to do.
        skip.push_str("[ \"$was\" = yes ] ||\n");
    }
    let script = format!(
        "n={}\n{}\
         if [ \"$m\" = apt ]; then dpkg-query -W -f='${{Status}}' \"$n\" 2>/dev/null | grep -q 'ok installed' && was=yes\n\
         else rpm -q \"$n\" >/dev/null 2>&1 && was=yes; fi\n\
         echo \"was=${{was:-no}}\"\n\
         {skip}if [ \"$m\" = apt ]; then DEBIAN_FRONTEND=noninteractive apt-get install -y -q -o DPkg::Lock::Timeout=300 {apt_arg} >&2\n\
         else {dnf_cmd} >&2; fi || exit $?\n\
         {}",
        sh_quote(name),
        detect(obj),
        query(state == "latest"),
    );
    let (_, out) = run(obj, &script, None)?;
    if out.code != 0 {
        return Err(failed(&format!("Cannot install package {name}"), &out));
    }
    let text = String::from_utf8_lossy(&out.stdout).to_string();
    let (first, rest) = text.split_once('\n').unwrap_or((&text, ""));
    let was = first.trim() == "was=yes";
    let (installed, cand) = parse_query(rest);
    if installed.is_none() {
        return Err(ProviderError::permanent(
            format!("Cannot install package {name}"),
            format!(
                "the package manager succeeded but {name} is not installed (is it the name of \
                 the package in source?): {}",
                tail(&out)
            ),
        ));
    }
    if let (Some(v), Some(i)) = (&version, &installed) {
        if !version_matches(i, v) {
            return Err(ProviderError::permanent(
                format!("Cannot install package {name}"),
                format!("version {i} is installed, not {v}"),
            )
            .on_attr("version"));
        }
    }
    Ok((installed, cand, was))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dpkg_query_counts_only_installed_packages() {
        assert_eq!(
            parse_dpkg_query("install ok installed 1:9.2p1-2+deb12u3"),
            Some("1:9.2p1-2+deb12u3".into())
        );
        assert_eq!(parse_dpkg_query("deinstall ok config-files 1.0-1"), None);
        assert_eq!(parse_dpkg_query("unknown ok not-installed "), None);
        assert_eq!(parse_dpkg_query(""), None);
    }

    #[test]
    fn rpm_query_gives_version_release() {
        assert_eq!(
            parse_rpm_query("2.4.57-5.fc39\n2.4.57-5.fc39\n"),
            Some("2.4.57-5.fc39".into())
        );
        assert_eq!(parse_rpm_query("package foo is not installed\n"), None);
        assert_eq!(parse_rpm_query(""), None);
    }

    #[test]
    fn apt_candidate() {
        let out =
            "openssh-server:\n  Installed: 1:9.2p1-2\n  Candidate: 1:9.2p1-3\n  Version table:\n";
        assert_eq!(parse_apt_candidate(out), Some("1:9.2p1-3".into()));
        assert_eq!(parse_apt_candidate("x:\n  Candidate: (none)\n"), None);
        assert_eq!(parse_apt_candidate(""), None);
    }

    #[test]
    fn query_output() {
        assert_eq!(
            parse_query("apt\ninstall ok installed 1.0\n"),
            (Some("1.0".into()), None)
        );
        assert_eq!(
            parse_query("apt\ninstall ok installed 1.0\n1.1\n"),
            (Some("1.0".into()), Some("1.1".into()))
        );
        assert_eq!(parse_query("apt\n\n(none)\n"), (None, None));
        assert_eq!(
            parse_query("dnf\n1.0-1.fc39\n"),
            (Some("1.0-1.fc39".into()), None)
        );
        assert_eq!(
            parse_query("dnf\npackage x is not installed\n"),
            (None, None)
        );
    }

    #[test]
    fn pinned_versions() {
        assert!(version_matches("1.0-1", "1.0-1"));
        assert!(version_matches("1.0-1.fc39", "1.0"));
        assert!(!version_matches("1.0.1-1", "1.0"));
        assert!(!version_matches("1.1", "1.0"));
    }

    #[test]
    fn names() {
        assert!(valid_name("libc6"));
        assert!(valid_name("g++-12"));
        assert!(!valid_name("-rf"));
        assert!(!valid_name("a b"));
        assert!(!valid_name(""));
    }
}
