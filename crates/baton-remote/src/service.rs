//! `remote_service`: a system service on a host over SSH — whether it starts at boot
//! (`enabled`), whether it runs now (`state`), and Ansible's handlers (`restart_on`: a list of
//! values, typically `remote_file.conf.sha256`; when any of them changed since the last apply,
//! apply restarts the service even though it already runs).
//!
//! The service manager is detected on the host (systemd when `/run/systemd/system` exists,
//! else SysV init) or named with `manager`. systemd is driven with `systemctl` (`is-enabled`,
//! `is-active`, `show -p LoadState`, `enable`/`disable`/`start`/`stop`/`restart`,
//! `daemon-reload` when asked); SysV with `/etc/init.d/NAME status|start|stop|restart`, its
//! enablement read from the `S` links of `/etc/rc[2-5].d` and changed with `update-rc.d` (or
//! `chkconfig` where that is what the host has). Refresh reads the real enablement and
//! activity back, so a service stopped by hand is drift that apply starts again.
//!
//! The first apply records what it found (`initial_enabled`, `initial_state`); destroy and a
//! rollback of the creation bring those back. This module must never install or remove a
//! service (its unit or init script), never leave a daemon attached to the SSH channel (every
//! action runs with its output sent to a temporary file), and never print a sensitive value.
//! Takes the `connection` block (with `become`) of [`crate::resources`].

use crate::resources::{b, connection_block, run, s, sh_quote};
use crate::ssh::RemoteOutput;
use baton_eval::{Type, Value};
use baton_provider::schema::{Attr, Schema};
use baton_provider::{
    ApplyRequest, AttrDiag, PlanRequest, PlanResponse, ProviderCtx, ProviderError, ResourceType,
};
use std::collections::BTreeMap;

/// The service manager of a host.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Manager {
    Systemd,
    Sysv,
}

impl Manager {
    pub fn as_str(self) -> &'static str {
        match self {
            Manager::Systemd => "systemd",
            Manager::Sysv => "sysv",
        }
    }
}

/// One thing done to a service, in the order [`action_script`] runs them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Step {
    DaemonReload,
    Enable,
    Disable,
    Start,
    Stop,
    Restart,
}

impl Step {
    fn verb(self) -> &'static str {
        match self {
            Step::DaemonReload => "daemon-reload",
            Step::Enable => "enable",
            Step::Disable => "disable",
            Step::Start => "start",
            Step::Stop => "stop",
            Step::Restart => "restart",
        }
    }
}

/// What the host says about a service.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Status {
    pub manager: Manager,
    pub enabled: bool,
    pub active: bool,
}

/// What went wrong acting on a service. Host and service are fields, for the message.
#[derive(Debug, thiserror::Error)]
pub enum ServiceError {
    #[error("service {service:?} does not exist on {host} (service manager: {manager})")]
    NotFound {
        host: String,
        service: String,
        manager: &'static str,
    },
    #[error("cannot read the status of service {service:?} on {host}: {detail}")]
    Status {
        host: String,
        service: String,
        detail: String,
    },
    #[error("cannot {verb} service {service:?} on {host} (exit status {code}): {stderr}")]
    Action {
        host: String,
        service: String,
        verb: &'static str,
        code: i32,
        stderr: String,
    },
}

impl From<ServiceError> for ProviderError {
    fn from(e: ServiceError) -> ProviderError {
        let summary = match &e {
            ServiceError::NotFound { .. } => "Service not found",
            ServiceError::Status { .. } => "Cannot read service status",
            ServiceError::Action { .. } => "Service action failed",
        };
        ProviderError::permanent(summary, e.to_string())
    }
}

/// Whether `systemctl is-enabled` output means the unit starts at boot (or is pulled in by
/// another unit: `static`, `indirect`, `generated`, `alias`).
pub fn systemd_enabled(out: &str) -> bool {
    matches!(
        out.trim(),
        "enabled" | "enabled-runtime" | "static" | "indirect" | "generated" | "alias"
    )
}

/// Whether `systemctl is-active` output means the unit runs (or is on its way to).
pub fn systemd_active(out: &str) -> bool {
    matches!(out.trim(), "active" | "activating" | "reloading")
}

/// The shell that prints a service's status as `key=value` lines (see [`parse_status`]).
/// `manager` is `None` to detect it on the host.
pub fn status_script(manager: Option<Manager>, name: &str) -> String {
    let detect = match manager {
        Some(m) => format!("m={}\n", m.as_str()),
        None => "if [ -d /run/systemd/system ]; then m=systemd; else m=sysv; fi\n".into(),
    };
    format!(
        "n={}\n{detect}echo \"manager=$m\"\n\
         if [ \"$m\" = systemd ]; then\n\
         echo \"load=$(systemctl show -p LoadState --value \"$n\" 2>/dev/null)\"\n\
         echo \"enabled=$(systemctl is-enabled \"$n\" 2>/dev/null)\"\n\
         echo \"active=$(systemctl is-active \"$n\" 2>/dev/null)\"\n\
         else\n\
         if [ -f \"/etc/init.d/$n\" ]; then echo load=loaded; else echo load=not-found; exit 0; fi\n\
         e=disabled\n\
         for l in /etc/rc[2345].d/S[0-9][0-9]\"$n\"; do if [ -e \"$l\" ] || [ -L \"$l\" ]; then e=enabled; fi; done\n\
         echo \"enabled=$e\"\n\
         if \"/etc/init.d/$n\" status </dev/null >/dev/null 2>&1; then echo active=active; else echo active=inactive; fi\n\
         fi\n",
        sh_quote(name)
    )
}

/// The status in [`status_script`]'s output; `Ok(None)` when the service does not exist.
pub fn parse_status(text: &str) -> Result<Option<Status>, String> {
    let mut fields = BTreeMap::new();
    for line in text.lines() {
        if let Some((k, v)) = line.split_once('=') {
            fields.insert(k.trim(), v.trim());
        }
    }
    let manager = match fields.get("manager").copied() {
        Some("systemd") => Manager::Systemd,
        Some("sysv") => Manager::Sysv,
        other => return Err(format!("unknown service manager {other:?}")),
    };
    match fields.get("load").copied() {
        Some("not-found") | Some("") | None => return Ok(None),
        Some(_) => {}
    }
    let enabled = fields.get("enabled").copied().unwrap_or("");
    let active = fields.get("active").copied().unwrap_or("");
    Ok(Some(Status {
        manager,
        enabled: systemd_enabled(enabled),
        active: systemd_active(active),
    }))
}

/// The shell that takes `steps` on service `name`; step `i` failing exits `10 + i` with its
/// output on standard error. Every command's output goes to a temporary file first, so a
/// daemon that keeps its parent's descriptors does not hold the SSH channel open.
pub fn action_script(manager: Manager, name: &str, steps: &[Step]) -> String {
    let mut sh = format!(
        "n={}\n\
         act() {{ o=$(mktemp) || return 125; \"$@\" </dev/null >\"$o\" 2>&1; r=$?; cat \"$o\" >&2; rm -f \"$o\"; return $r; }}\n",
        sh_quote(name)
    );
    if manager == Manager::Sysv
        && steps
            .iter()
            .any(|s| matches!(s, Step::Enable | Step::Disable))
    {
        sh.push_str(
            "rc() { if command -v update-rc.d >/dev/null 2>&1; then update-rc.d \"$n\" defaults >/dev/null 2>&1; update-rc.d \"$n\" \"$1\";\n\
             elif command -v chkconfig >/dev/null 2>&1; then chkconfig --add \"$n\" >/dev/null 2>&1; if [ \"$1\" = enable ]; then chkconfig \"$n\" on; else chkconfig \"$n\" off; fi;\n\
             else echo 'neither update-rc.d nor chkconfig found on the host' >&2; return 127; fi; }\n",
        );
    }
    for (i, step) in steps.iter().enumerate() {
        let cmd = match (manager, step) {
            (Manager::Systemd, Step::DaemonReload) => "systemctl daemon-reload".to_string(),
            (Manager::Systemd, st) => format!("systemctl {} \"$n\"", st.verb()),
            (Manager::Sysv, Step::DaemonReload) => continue,
            (Manager::Sysv, Step::Enable) => "rc enable".to_string(),
            (Manager::Sysv, Step::Disable) => "rc disable".to_string(),
            (Manager::Sysv, st) => format!("\"/etc/init.d/$n\" {}", st.verb()),
        };
        sh.push_str(&format!("act {cmd} || exit {}\n", 10 + i));
    }
    sh
}

/// The steps that take a service from `now` to what is wanted. `restart` asks for a restart
/// of a service that runs and is to keep running (a handler fired); a service being started
/// needs none.
pub fn steps_for(
    now: &Status,
    enabled: Option<bool>,
    state: Option<&str>,
    restart: bool,
    daemon_reload: bool,
) -> Vec<Step> {
    let mut steps = Vec::new();
    if daemon_reload && now.manager == Manager::Systemd {
        steps.push(Step::DaemonReload);
    }
    match enabled {
        Some(true) if !now.enabled => steps.push(Step::Enable),
        Some(false) if now.enabled => steps.push(Step::Disable),
        _ => {}
    }
    match state {
        Some("started") if !now.active => steps.push(Step::Start),
        Some("stopped") if now.active => steps.push(Step::Stop),
        Some("stopped") => {}
        _ if restart && now.active => steps.push(Step::Restart),
        _ => {}
    }
    steps
}

pub struct RemoteService {
    schema: Schema,
}

impl RemoteService {
    pub fn new() -> RemoteService {
        RemoteService {
            schema: Schema::new()
                .block("connection", connection_block())
                .attr(
                    "name",
                    Attr::required(Type::String)
                        .force_new()
                        .describe("The service (systemd unit or init.d script) name."),
                )
                .attr(
                    "enabled",
                    Attr::optional(Type::Bool).describe("Whether it starts at boot."),
                )
                .attr(
                    "state",
                    Attr::optional(Type::String).describe("\"started\" or \"stopped\"."),
                )
                .attr(
                    "restart_on",
                    Attr::optional(Type::list(Type::String)).describe(
                        "Values whose change since the last apply restarts the service.",
                    ),
                )
                .attr(
                    "manager",
                    Attr::optional(Type::String)
                        .default(Value::string("auto"))
                        .describe("\"auto\" (systemd when /run/systemd/system exists), \"systemd\" or \"sysv\"."),
                )
                .attr(
                    "daemon_reload",
                    Attr::optional(Type::Bool)
                        .describe("systemd: run `systemctl daemon-reload` before acting."),
                )
                .attr("id", Attr::computed(Type::String))
                .attr(
                    "service_manager",
                    Attr::computed(Type::String).describe("The manager used: systemd or sysv."),
                )
                .attr(
                    "initial_enabled",
                    Attr::computed(Type::Bool)
                        .describe("Whether it was enabled before Baton first changed it."),
                )
                .attr(
                    "initial_state",
                    Attr::computed(Type::String)
                        .describe("\"started\" or \"stopped\" before Baton first changed it."),
                ),
        }
    }
}

impl Default for RemoteService {
    fn default() -> Self {
        RemoteService::new()
    }
}

type Map = BTreeMap<String, Value>;

fn to_map(v: &Value) -> Map {
    v.as_entries().map(|e| e.to_map()).unwrap_or_default()
}

fn host_of(v: &Value) -> String {
    v.get_attr("connection")
        .and_then(|c| s(c, "host"))
        .unwrap_or_default()
}

fn manager_of(v: &Value) -> Option<Manager> {
    match s(v, "manager").as_deref() {
        Some("systemd") => Some(Manager::Systemd),
        Some("sysv") => Some(Manager::Sysv),
        _ => None,
    }
}

/// A name a unit or init script can have, and safe in a path under /etc/init.d.
fn valid_name(n: &str) -> bool {
    let mut c = n.chars();
    c.next().is_some_and(|f| f.is_ascii_alphanumeric())
        && c.all(|x| x.is_ascii_alphanumeric() || "@._:-+".contains(x))
}

/// `restart_on` as plain strings (null entries and an unset list are empty).
fn restart_values(v: &Value) -> Option<Vec<String>> {
    let list = v.get_attr("restart_on")?;
    let (list, _) = list.clone().unmark_deep();
    if list.is_null() {
        return None;
    }
    let items = list.as_seq()?;
    Some(
        items
            .iter()
            .map(|i| i.as_str().unwrap_or("").to_string())
            .collect(),
    )
}

/// Reads the status of `obj`'s service; `Ok(None)` when it does not exist.
fn probe(obj: &Value, name: &str) -> Result<Option<Status>, ProviderError> {
    let (_, out) = run(obj, &status_script(manager_of(obj), name), None)?;
    let text = String::from_utf8_lossy(&out.stdout);
    if out.code != 0 {
        return Err(ServiceError::Status {
            host: host_of(obj),
            service: name.to_string(),
            detail: format!("exit status {}: {}", out.code, stderr_tail(&out)),
        }
        .into());
    }
    parse_status(&text).map_err(|detail| {
        ServiceError::Status {
            host: host_of(obj),
            service: name.to_string(),
            detail,
        }
        .into()
    })
}

fn stderr_tail(out: &RemoteOutput) -> String {
    let text = String::from_utf8_lossy(&out.stderr);
    let lines: Vec<&str> = text.lines().filter(|l| !l.trim().is_empty()).collect();
    lines[lines.len().saturating_sub(10)..].join("\n")
}

/// Takes `steps` on `obj`'s service.
fn act(obj: &Value, name: &str, manager: Manager, steps: &[Step]) -> Result<(), ProviderError> {
    if steps.is_empty() {
        return Ok(());
    }
    let (_, out) = run(obj, &action_script(manager, name, steps), None)?;
    if out.code == 0 {
        return Ok(());
    }
    let verb = usize::try_from(out.code - 10)
        .ok()
        .and_then(|i| steps.get(i))
        .map_or("change", |s| s.verb());
    Err(ServiceError::Action {
        host: host_of(obj),
        service: name.to_string(),
        verb,
        code: out.code,
        stderr: stderr_tail(&out),
    }
    .into())
}

fn state_word(active: bool) -> &'static str {
    if active {
        "started"
    } else {
        "stopped"
    }
}

impl ResourceType for RemoteService {
    fn type_name(&self) -> &'static str {
        "remote_service"
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
                    "Invalid service name",
                    format!("{n:?} is not a service name."),
                ));
            }
        }
        if let Some(st) = s(config, "state") {
            if !["started", "stopped"].contains(&st.as_str()) {
                d.push(AttrDiag::error(
                    Some("state"),
                    "Invalid state",
                    format!("{st:?} is not \"started\" or \"stopped\"."),
                ));
            }
        }
        if let Some(m) = s(config, "manager") {
            if !["auto", "systemd", "sysv"].contains(&m.as_str()) {
                d.push(AttrDiag::error(
                    Some("manager"),
                    "Invalid manager",
                    format!("{m:?} is not \"auto\", \"systemd\" or \"sysv\"."),
                ));
            }
        }
        d
    }

    fn plan(&self, req: PlanRequest<'_>) -> Result<PlanResponse, ProviderError> {
        let resp = baton_provider::plan::default_plan(&self.schema, &req);
        let mut m = to_map(&resp.planned);
        let host = host_of(req.config);
        if let (Some(n), false) = (s(req.config, "name"), host.is_empty()) {
            m.insert("id".into(), Value::string(format!("{host}:{n}")));
        }
        Ok(PlanResponse {
            planned: Value::object(m),
            requires_replace: resp.requires_replace,
            warnings: Vec::new(),
        })
    }

    fn apply(&self, req: ApplyRequest<'_>) -> Result<Option<Value>, ProviderError> {
        let Some(planned) = req.planned else {
            if let Some(prior) = req.prior {
                restore(prior)?;
            }
            return Ok(None);
        };
        let name = s(planned, "name").unwrap_or_default();
        let Some(now) = probe(planned, &name)? else {
            return Err(ServiceError::NotFound {
                host: host_of(planned),
                service: name,
                manager: manager_of(planned).map_or("auto-detected", Manager::as_str),
            }
            .into());
        };
        // A handler fires when a listed value changed since the last apply.
        let restart = match req.prior {
            Some(p) => restart_values(p) != restart_values(planned),
            None => false,
        };
        let steps = steps_for(
            &now,
            b(planned, "enabled"),
            s(planned, "state").as_deref(),
            restart,
            b(planned, "daemon_reload").unwrap_or(false),
        );
        act(planned, &name, now.manager, &steps)?;
        let mut m = to_map(planned);
        m.insert(
            "id".into(),
            Value::string(format!("{}:{name}", host_of(planned))),
        );
        m.insert(
            "service_manager".into(),
            Value::string(now.manager.as_str()),
        );
        // What the service was before Baton first changed it: kept from the prior state.
        let prior_enabled = req.prior.and_then(|p| b(p, "initial_enabled"));
        let prior_state = req.prior.and_then(|p| s(p, "initial_state"));
        m.insert(
            "initial_enabled".into(),
            Value::bool(prior_enabled.unwrap_or(now.enabled)),
        );
        m.insert(
            "initial_state".into(),
            Value::string(prior_state.unwrap_or_else(|| state_word(now.active).into())),
        );
        Ok(Some(Value::object(m)))
    }

    fn read(&self, _ctx: &ProviderCtx, state: &Value) -> Result<Option<Value>, ProviderError> {
        let Some(name) = s(state, "name") else {
            return Ok(None);
        };
        let Some(now) = probe(state, &name)? else {
            return Ok(None);
        };
        let mut m = to_map(state);
        // Only what the configuration manages is compared: an unset `enabled` or `state`
        // stays unset.
        if b(state, "enabled").is_some() {
            m.insert("enabled".into(), Value::bool(now.enabled));
        }
        if s(state, "state").is_some() {
            m.insert("state".into(), Value::string(state_word(now.active)));
        }
        m.insert(
            "service_manager".into(),
            Value::string(now.manager.as_str()),
        );
        Ok(Some(Value::object(m)))
    }
}

/// Destroy (and the rollback of a creation): brings back the enablement and state the
/// service had before Baton first changed them, for what the resource managed. The service
/// itself stays.
fn restore(prior: &Value) -> Result<(), ProviderError> {
    let Some(name) = s(prior, "name") else {
        return Ok(());
    };
    let Some(now) = probe(prior, &name)? else {
        // Gone already: nothing to bring back.
        return Ok(());
    };
    let enabled = b(prior, "enabled").and(b(prior, "initial_enabled"));
    let state = s(prior, "state").and(s(prior, "initial_state"));
    let steps = steps_for(&now, enabled, state.as_deref(), false, false);
    act(prior, &name, now.manager, &steps)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn st(manager: Manager, enabled: bool, active: bool) -> Status {
        Status {
            manager,
            enabled,
            active,
        }
    }

    #[test]
    fn systemctl_output_is_parsed() {
        for (out, enabled) in [
            ("enabled\n", true),
            ("enabled-runtime", true),
            ("static", true),
            ("indirect", true),
            ("disabled\n", false),
            ("masked", false),
            ("", false),
        ] {
            assert_eq!(systemd_enabled(out), enabled, "{out:?}");
        }
        for (out, active) in [
            ("active\n", true),
            ("reloading", true),
            ("activating", true),
            ("inactive", false),
            ("failed", false),
            ("unknown", false),
        ] {
            assert_eq!(systemd_active(out), active, "{out:?}");
        }
    }

    #[test]
    fn status_output_is_parsed() {
        let s = parse_status("manager=systemd\nload=loaded\nenabled=disabled\nactive=active\n");
        assert_eq!(s, Ok(Some(st(Manager::Systemd, false, true))));
        let s = parse_status("manager=systemd\nload=not-found\nenabled=\nactive=inactive\n");
        assert_eq!(s, Ok(None));
        let s = parse_status("manager=sysv\nload=loaded\nenabled=enabled\nactive=inactive\n");
        assert_eq!(s, Ok(Some(st(Manager::Sysv, true, false))));
        assert_eq!(parse_status("manager=sysv\nload=not-found\n"), Ok(None));
        assert!(parse_status("garbage").is_err());
    }

    #[test]
    fn systemd_commands_are_generated() {
        let sh = action_script(
            Manager::Systemd,
            "nginx",
            &[Step::DaemonReload, Step::Enable, Step::Restart],
        );
        assert!(sh.starts_with("n='nginx'\n"), "{sh}");
        assert!(
            sh.contains("act systemctl daemon-reload || exit 10\n"),
            "{sh}"
        );
        assert!(
            sh.contains("act systemctl enable \"$n\" || exit 11\n"),
            "{sh}"
        );
        assert!(
            sh.contains("act systemctl restart \"$n\" || exit 12\n"),
            "{sh}"
        );
        let q = status_script(Some(Manager::Systemd), "it's");
        assert!(q.starts_with("n='it'\\''s'\nm=systemd\n"), "{q}");
        assert!(q.contains("systemctl is-enabled \"$n\""), "{q}");
        assert!(q.contains("systemctl is-active \"$n\""), "{q}");
        let auto = status_script(None, "x");
        assert!(auto.contains("[ -d /run/systemd/system ]"), "{auto}");
    }

    #[test]
    fn sysv_commands_are_generated() {
        let sh = action_script(
            Manager::Sysv,
            "toy",
            &[Step::DaemonReload, Step::Disable, Step::Stop],
        );
        assert!(sh.contains("update-rc.d \"$n\" \"$1\""), "{sh}");
        assert!(sh.contains("chkconfig \"$n\" off"), "{sh}");
        assert!(sh.contains("act rc disable || exit 11\n"), "{sh}");
        assert!(
            sh.contains("act \"/etc/init.d/$n\" stop || exit 12\n"),
            "{sh}"
        );
        assert!(!sh.contains("daemon-reload"), "{sh}");
    }

    #[test]
    fn steps_follow_the_wanted_state_and_handlers() {
        let running = st(Manager::Systemd, true, true);
        let stopped = st(Manager::Sysv, false, false);
        assert_eq!(
            steps_for(&running, Some(true), Some("started"), false, false),
            vec![]
        );
        assert_eq!(
            steps_for(&running, Some(true), Some("started"), true, false),
            vec![Step::Restart]
        );
        assert_eq!(
            steps_for(&stopped, Some(true), Some("started"), true, true),
            vec![Step::Enable, Step::Start],
            "a service being started needs no restart; sysv has no daemon-reload"
        );
        assert_eq!(
            steps_for(&running, Some(false), Some("stopped"), true, true),
            vec![Step::DaemonReload, Step::Disable, Step::Stop]
        );
        assert_eq!(
            steps_for(&running, None, None, true, false),
            vec![Step::Restart]
        );
        assert_eq!(steps_for(&stopped, None, None, true, false), vec![]);
    }

    #[test]
    fn names_are_checked() {
        assert!(valid_name("nginx"));
        assert!(valid_name("getty@tty1.service"));
        assert!(!valid_name("-x"));
        assert!(!valid_name("../etc/passwd"));
        assert!(!valid_name("a b"));
    }
}
