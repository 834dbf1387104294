//! The configuration-management resources that act on a host over SSH: `remote_file` (a
//! file's content, mode, owner and group, replaced atomically; read back on refresh, so a
//! file edited by hand shows as drift and apply restores it) and `remote_command` (a command
//! with `creates`/`unless`/`only_if` guards for idempotency and an `undo` run on destroy).
//! Both take Terraform's `connection` block. `remote_file` keeps the content of a file it
//! replaces that existed before Baton first wrote it (within [`BACKUP_LIMIT`], text only) in
//! state, writes it back on destroy and on the rollback of the creation, and makes `plan` warn
//! when it cannot keep it; `backup = true` also keeps rotated copies on the host.
//!
//! Must not open connections itself: sessions come from [`crate::ssh::Sessions`], one per
//! host per process, shared by every action on that host. Never prints key material.

use crate::ssh::{Bastion, Connection, HostKeyChecking, RemoteOutput, Session, SshError};
use baton_eval::{Type, Value};
use baton_provider::schema::{Attr, NestedBlock, Nesting, Schema};
use baton_provider::{
    ApplyRequest, PlanRequest, PlanResponse, PlanWarning, ProviderCtx, ProviderError, ProviderInfo,
    ResourceType,
};
use sha2::Digest as _;
use std::collections::BTreeMap;
use std::sync::Arc;

/// The provider of the remote types, as state records it.
pub const PROVIDER: ProviderInfo = ProviderInfo {
    name: "remote",
    source: "registry.terraform.io/baton/remote",
};

/// Every session of this process, by host.
pub(crate) fn sessions() -> &'static crate::ssh::Sessions {
    crate::ssh::Sessions::shared()
}

/// Terraform's `connection` block (for SSH).
pub(crate) fn connection_block() -> NestedBlock {
    NestedBlock {
        nesting: Nesting::Single,
        schema: Schema::new()
            .attr(
                "type",
                Attr::optional(Type::String).default(Value::string("ssh")),
            )
            .attr("host", Attr::required(Type::String))
            .attr("port", Attr::optional(Type::Number))
            .attr("user", Attr::optional(Type::String))
            .attr("private_key", Attr::optional(Type::String).sensitive())
            .attr("private_key_file", Attr::optional(Type::String))
            .attr("agent", Attr::optional(Type::Bool))
            .attr("host_key", Attr::optional(Type::String))
            .attr("known_hosts", Attr::optional(Type::String))
            .attr("strict_host_key_checking", Attr::optional(Type::String))
            .attr("timeout", Attr::optional(Type::String))
            .attr("bastion_host", Attr::optional(Type::String))
            .attr("bastion_port", Attr::optional(Type::Number))
            .attr("bastion_user", Attr::optional(Type::String))
            .attr(
                "become",
                Attr::optional(Type::Bool).describe(
                    "Run every script through sudo as become_user (not in Terraform's form).",
                ),
            )
            .attr(
                "become_user",
                Attr::optional(Type::String).default(Value::string("root")),
            )
            .attr("become_password", Attr::optional(Type::String).sensitive()),
        min_items: 1,
        max_items: 1,
        force_new: false,
    }
}

pub(crate) fn s(v: &Value, name: &str) -> Option<String> {
    v.get_attr(name)
        .and_then(|x| x.clone().unmark_deep().0.as_str().map(str::to_string))
}

pub(crate) fn n(v: &Value, name: &str) -> Option<u16> {
    v.get_attr(name)
        .and_then(|x| {
            x.clone()
                .unmark_deep()
                .0
                .as_number()
                .and_then(|n| n.to_u64())
        })
        .and_then(|u| u16::try_from(u).ok())
}

pub(crate) fn b(v: &Value, name: &str) -> Option<bool> {
    v.get_attr(name)
        .and_then(|x| x.clone().unmark_deep().0.as_bool())
}

/// The connection an object's `connection` block describes.
pub(crate) fn connection(obj: &Value) -> Result<Connection, ProviderError> {
    let c = obj
        .get_attr("connection")
        .cloned()
        .unwrap_or_else(Value::dynamic_null);
    let host = s(&c, "host").ok_or_else(|| {
        ProviderError::permanent("Missing connection", "connection.host is required.")
            .on_attr("connection")
    })?;
    if let Some(t) = s(&c, "type") {
        if t != "ssh" {
            return Err(ProviderError::permanent(
                "Unsupported connection type",
                format!("connection.type {t:?} is not supported: use \"ssh\"."),
            )
            .on_attr("connection"));
        }
    }
    // Terraform's default user is root.
    let mut conn = Connection::new(host, s(&c, "user").unwrap_or_else(|| "root".into()));
    if let Some(p) = n(&c, "port") {
        conn.port = p;
    }
    conn.private_key = s(&c, "private_key");
    conn.private_key_file = s(&c, "private_key_file").map(Into::into);
    conn.agent = b(&c, "agent").unwrap_or(true);
    conn.host_key = s(&c, "host_key");
    conn.known_hosts = s(&c, "known_hosts").map(Into::into);
    conn.strict_host_key_checking = match s(&c, "strict_host_key_checking").as_deref() {
        None | Some("yes") | Some("true") => HostKeyChecking::Yes,
        Some("accept-new") => HostKeyChecking::AcceptNew,
        Some(other) => {
            return Err(ProviderError::permanent(
                "Invalid strict_host_key_checking",
                format!("{other:?} is not \"yes\" or \"accept-new\"."),
            )
            .on_attr("connection"))
        }
    };
    if let Some(t) = s(&c, "timeout") {
        conn.timeout = baton_core::duration::parse(&t).map_err(|e| {
            ProviderError::permanent("Invalid timeout", format!("connection.timeout: {e}"))
                .on_attr("connection")
        })?;
    }
    conn.bastion = s(&c, "bastion_host").map(|host| Bastion {
        host,
        port: n(&c, "bastion_port").unwrap_or(22),
        user: s(&c, "bastion_user"),
    });
    Ok(conn)
}

pub(crate) fn ssh_error(e: SshError) -> ProviderError {
    if e.retryable() {
        ProviderError::retryable("Host unreachable", e.to_string())
    } else {
        ProviderError::permanent("SSH connection failed", e.to_string())
    }
}

/// Connects to the hosts of `objects` (their `connection` blocks) in the background, a few at
/// a time, so a walk that reaches them one after another finds them connected: what
/// [`baton_provider::ResourceType::prepare`] does for every type of this crate. Objects whose
/// connection is not known yet are skipped; failures are left for the commands to report.
pub(crate) fn prepare_hosts(objects: &[&Value]) {
    let mut conns: Vec<Connection> = Vec::new();
    for obj in objects {
        let known = obj
            .get_attr("connection")
            .is_some_and(|c| c.is_wholly_known() && !c.is_null());
        if !known {
            continue;
        }
        if let Ok(c) = connection(obj) {
            if !conns.contains(&c) {
                conns.push(c);
            }
        }
    }
    // One host is connected by its first command anyway.
    if conns.len() < 2 {
        return;
    }
    let queue = Arc::new(std::sync::Mutex::new(conns));
    for _ in 0..PREPARE_THREADS {
        let queue = Arc::clone(&queue);
        let spawned = std::thread::Builder::new()
            .name("baton-ssh-warm".into())
            .spawn(move || loop {
                let next = queue.lock().ok().and_then(|mut q| q.pop());
                let Some(conn) = next else { break };
                sessions().get(&conn).warm();
            });
        if spawned.is_err() {
            break;
        }
    }
}

/// How many hosts [`prepare_hosts`] connects to at once.
const PREPARE_THREADS: usize = 8;

/// Runs `script` on the host of `obj`'s connection.
pub(crate) fn run(
    obj: &Value,
    script: &str,
    stdin: Option<&[u8]>,
) -> Result<(Arc<Session>, RemoteOutput), ProviderError> {
    let conn = connection(obj)?;
    let session = sessions().get(&conn);
    let out = match become_of(obj) {
        None => session.run(script, stdin),
        Some(sudo) => {
            let (wrapped, input) = sudo.wrap(script, stdin);
            session.run(&wrapped, input.as_deref())
        }
    }
    .map_err(ssh_error)?;
    Ok((session, out))
}

/// The `become` settings of a connection block: every script runs through `sudo` as another
/// user. Never printed: the password travels on the script's standard input only.
pub(crate) struct Become {
    user: String,
    password: Option<String>,
}

/// `obj`'s `connection.become`, when set.
pub(crate) fn become_of(obj: &Value) -> Option<Become> {
    let c = obj.get_attr("connection")?;
    if !b(c, "become").unwrap_or(false) {
        return None;
    }
    Some(Become {
        user: s(c, "become_user").unwrap_or_else(|| "root".into()),
        password: s(c, "become_password"),
    })
}

impl Become {
    /// `script` and its standard input, wrapped to run as the become user. Without a password
    /// that is `sudo -n -u USER -- sh -c SCRIPT`. With one, the password goes first on the
    /// standard input; the outer shell reads that line (leaving the rest for the script) and
    /// hands it to sudo through an askpass helper that prints it from the environment, so sudo
    /// takes it only if it asks for one (a NOPASSWD rule or cached credentials leave the
    /// script's input untouched) and it never appears in a command line or a file.
    pub(crate) fn wrap(&self, script: &str, stdin: Option<&[u8]>) -> (String, Option<Vec<u8>>) {
        let cmd = format!("-u {} -- sh -c {}", sh_quote(&self.user), sh_quote(script));
        let Some(pw) = &self.password else {
            return (format!("exec sudo -n {cmd}\n"), stdin.map(<[u8]>::to_vec));
        };
        let wrapped = format!(
            r#"IFS= read -r BATON_BECOME_PASSWORD || exit 125
export BATON_BECOME_PASSWORD
a=$(mktemp) || exit 125
if ! {{ printf '#!/bin/sh\nprintf "%%s\\n" "$BATON_BECOME_PASSWORD"\n' > "$a" && chmod 700 "$a"; }}; then rm -f "$a"; exit 125; fi
SUDO_ASKPASS="$a" sudo -A -p '' {cmd}
r=$?
rm -f "$a"
exit $r
"#
        );
        let mut input = pw.lines().next().unwrap_or("").as_bytes().to_vec();
        input.push(b'\n');
        input.extend_from_slice(stdin.unwrap_or_default());
        (wrapped, Some(input))
    }
}

pub use crate::shell::sh_quote;

pub(crate) fn sha256_hex(b: &[u8]) -> String {
    hex::encode(sha2::Sha256::digest(b))
}

pub(crate) fn failed(what: &str, out: &RemoteOutput) -> ProviderError {
    ProviderError::permanent(
        what.to_string(),
        format!(
            "exit status {}: {}",
            out.code,
            String::from_utf8_lossy(&out.stderr).trim()
        ),
    )
}

/// The most content of a replaced file Baton keeps (in state) to write back on rollback or
/// destroy: a file larger than this, or one that is not text, cannot be restored, and a plan
/// that replaces one says so.
pub const BACKUP_LIMIT: usize = 1024 * 1024;

/// A file as it was before Baton first wrote it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Original {
    Absent,
    Kept(String),
    TooLarge(u64),
    Binary,
}

/// Reads what is at `path` on `obj`'s host now (its content when within [`BACKUP_LIMIT`]).
fn original(obj: &Value, path: &str) -> Result<Original, ProviderError> {
    if let Ok(conn) = connection(obj) {
        match crate::fileread::take_prefetched(&conn, path) {
            Some(crate::fileread::Read::Missing) => return Ok(Original::Absent),
            Some(crate::fileread::Read::Found(f)) if f.size > BACKUP_LIMIT as u64 => {
                return Ok(Original::TooLarge(f.size))
            }
            Some(crate::fileread::Read::Found(f)) => {
                return Ok(as_text(&f.body).map_or(Original::Binary, Original::Kept))
            }
            _ => {}
        }
    }
    let script = format!("p={}\n{}", sh_quote(path), original_script());
    let (_, out) = run(obj, &script, None)?;
    if out.code != 0 {
        return Err(failed(&format!("Cannot read {path}"), &out));
    }
    Ok(parse_original(&out.stdout))
}

/// Shell printing `absent`, or the size of the file `$p` and then (within [`BACKUP_LIMIT`])
/// its content.
fn original_script() -> String {
    format!(
        "if [ -f \"$p\" ]; then n=$(wc -c < \"$p\"); echo $n; if [ \"$n\" -le {BACKUP_LIMIT} ]; then cat -- \"$p\"; fi\n\
         else echo absent; fi\n"
    )
}

/// What [`original_script`] printed: `absent`, or the size and then (within the limit) the
/// content.
pub fn parse_original(out: &[u8]) -> Original {
    let (first, body) = split_line(out);
    let first = String::from_utf8_lossy(first);
    if first.trim() == "absent" {
        return Original::Absent;
    }
    let size: u64 = first.trim().parse().unwrap_or(u64::MAX);
    if size > BACKUP_LIMIT as u64 {
        return Original::TooLarge(size);
    }
    as_text(body).map_or(Original::Binary, Original::Kept)
}

/// What one file read on its own command is: mode, owner, group, size, and the content (or,
/// over [`BACKUP_LIMIT`], its SHA-256 in hex). `None`: not a regular file.
type FileRead = (String, Option<String>, Option<String>, u64, Vec<u8>);

fn read_alone(state: &Value, path: &str) -> Result<Option<FileRead>, ProviderError> {
    let script = format!(
        "p={}\n[ -f \"$p\" ] || exit 3\nstat -c '%a %U %G' -- \"$p\"\n\
         n=$(wc -c < \"$p\") || exit 1\necho $n\n\
         if [ \"$n\" -le {BACKUP_LIMIT} ]; then cat -- \"$p\"; else sha256sum < \"$p\" | cut -d ' ' -f 1; fi\n",
        sh_quote(path)
    );
    let (_, out) = run(state, &script, None)?;
    match out.code {
        3 => return Ok(None),
        0 => {}
        _ => return Err(failed(&format!("Cannot read {path}"), &out)),
    }
    let (head, rest) = split_line(&out.stdout);
    let head = String::from_utf8_lossy(head).to_string();
    let (size, body) = split_line(rest);
    let size: u64 = String::from_utf8_lossy(size).trim().parse().unwrap_or(0);
    let mut parts = head.split_whitespace();
    let mode = parts.next().unwrap_or("").to_string();
    let (owner, group) = (
        parts.next().map(str::to_string),
        parts.next().map(str::to_string),
    );
    Ok(Some((mode, owner, group, size, body.to_vec())))
}

/// `b` as text, when it is UTF-8 without NUL bytes.
fn as_text(b: &[u8]) -> Option<String> {
    if b.contains(&0) {
        return None;
    }
    std::str::from_utf8(b).ok().map(str::to_string)
}

/// The first line of `b` and the rest.
fn split_line(b: &[u8]) -> (&[u8], &[u8]) {
    match b.iter().position(|&c| c == b'\n') {
        Some(i) => (&b[..i], &b[i + 1..]),
        None => (b, &[]),
    }
}

/// The plan warning for a file that exists and whose content cannot be kept.
fn not_kept_warning(o: &Original, host: &str, path: &str) -> Option<PlanWarning> {
    let why = match o {
        Original::TooLarge(n) => format!("is {n} bytes, over the {BACKUP_LIMIT} bytes kept"),
        Original::Binary => "is not text".to_string(),
        Original::Absent | Original::Kept(_) => return None,
    };
    Some(PlanWarning {
        summary: "Rollback cannot restore this file's content".into(),
        detail: format!(
            "{path} already exists on {host} and {why}: if this run fails (or on destroy), Baton cannot write its prior content back. Set backup = true to keep a copy on the host."
        ),
    })
}

/// Shell (run after the new content is in `$t`, before it replaces `$p`) that copies the file
/// being replaced to `$p.TIMESTAMP.baton-bak` and removes all but the newest `kept` copies.
fn backup_script(kept: u16) -> String {
    format!(
        "if [ -f \"$p\" ]; then\n\
         cp -p -- \"$p\" \"$p.$(date -u +%Y%m%dT%H%M%S%N).baton-bak\"\n\
         ls -1d -- \"$p\".*.baton-bak 2>/dev/null | sort -r | tail -n +{} | while IFS= read -r f; do rm -f -- \"$f\"; done\n\
         fi\n",
        u32::from(kept) + 1
    )
}

pub struct RemoteFile {
    schema: Schema,
}

impl RemoteFile {
    pub fn new() -> RemoteFile {
        RemoteFile {
            schema: Schema::new()
                .block("connection", connection_block())
                .attr(
                    "path",
                    Attr::required(Type::String)
                        .force_new()
                        .describe("The file's absolute path on the host."),
                )
                .attr("content", Attr::optional(Type::String))
                .attr(
                    "mode",
                    Attr::optional(Type::String).default(Value::string("0644")),
                )
                .attr("owner", Attr::optional(Type::String))
                .attr("group", Attr::optional(Type::String))
                .attr(
                    "backup",
                    Attr::optional(Type::Bool)
                        .describe("Also keep a timestamped copy of a replaced file on the host."),
                )
                .attr(
                    "backups_kept",
                    Attr::optional(Type::Number)
                        .default(Value::int(3))
                        .describe("With backup: how many copies to keep (the oldest go)."),
                )
                .attr("id", Attr::computed(Type::String))
                .attr("sha256", Attr::computed(Type::String))
                .attr(
                    "original_status",
                    Attr::computed(Type::String).describe(
                        "The file before Baton first wrote it: absent, kept, too_large or binary.",
                    ),
                )
                .attr(
                    "original_content",
                    Attr::computed(Type::String)
                        .sensitive()
                        .describe("The content before Baton first wrote it, when kept."),
                ),
        }
    }
}

impl Default for RemoteFile {
    fn default() -> Self {
        RemoteFile::new()
    }
}

impl ResourceType for RemoteFile {
    fn type_name(&self) -> &'static str {
        "remote_file"
    }

    fn schema(&self) -> &Schema {
        &self.schema
    }

    fn prepare(&self, objects: &[&Value]) {
        prepare_hosts(objects);
        // Configurations about to be planned (no id yet): planning a file to create reads
        // what is there now; read those of each host together, ahead.
        let mut by_host: std::collections::HashMap<Connection, Vec<String>> = Default::default();
        for obj in objects {
            let planning = obj.get_attr("id").is_none_or(Value::is_null);
            let known = obj
                .get_attr("connection")
                .is_some_and(|c| c.is_wholly_known() && !c.is_null());
            if !planning || !known || become_of(obj).is_some() {
                continue;
            }
            if let (Ok(conn), Some(path)) = (connection(obj), s(obj, "path")) {
                by_host.entry(conn).or_default().push(path);
            }
        }
        for (conn, paths) in by_host {
            crate::fileread::prefetch(conn, paths, BACKUP_LIMIT as u64);
        }
    }

    fn plan(&self, req: PlanRequest<'_>) -> Result<PlanResponse, ProviderError> {
        let resp = baton_provider::plan::default_plan(&self.schema, &req);
        let mut m: BTreeMap<String, Value> = resp
            .planned
            .as_entries()
            .map(|e| e.to_map())
            .unwrap_or_default();
        let host = req
            .config
            .get_attr("connection")
            .and_then(|c| s(c, "host"))
            .unwrap_or_default();
        match (s(req.config, "path"), req.config.get_attr("content")) {
            (Some(p), _) if !host.is_empty() => {
                m.insert("id".into(), Value::string(format!("{host}:{p}")));
            }
            _ => {
                m.insert("id".into(), Value::unknown(Type::String));
            }
        }
        m.insert(
            "sha256".into(),
            match req.config.get_attr("content") {
                Some(c) if c.is_wholly_known() => Value::string(sha256_hex(
                    c.clone().unmark_deep().0.as_str().unwrap_or("").as_bytes(),
                )),
                _ => Value::unknown(Type::String),
            },
        );
        let warnings = match (req.prior, s(req.config, "path")) {
            (_, None) => Vec::new(),
            (None, Some(path))
                if req.ctx.run_id.is_none()
                    && req
                        .config
                        .get_attr("connection")
                        .is_some_and(Value::is_wholly_known) =>
            {
                // Creating: a file already there is what rollback and destroy bring back. The
                // host is asked when planning (a host that cannot be reached is apply's error,
                // not plan's); not again in a run's final plan, whose warnings nobody reads.
                match original(req.config, &path) {
                    Ok(o) => not_kept_warning(&o, &host, &path).into_iter().collect(),
                    Err(_) => Vec::new(),
                }
            }
            (None, Some(_)) => Vec::new(),
            (Some(prior), Some(path)) => {
                // Refresh found content it did not keep (changed outside Baton, too large or
                // binary): a change now replaces what rollback cannot write back.
                let lost = prior.get_attr("content").is_some_and(Value::is_null)
                    && s(prior, "sha256") != s(&Value::object(m.clone()), "sha256");
                if lost {
                    vec![PlanWarning {
                        summary: "Rollback cannot restore this file's content".into(),
                        detail: format!(
                            "The content of {path} on {host} was changed outside Baton and is over the {} bytes kept for rollback, or is not text: if this run fails, rollback cannot write it back.",
                            BACKUP_LIMIT
                        ),
                    }]
                } else {
                    Vec::new()
                }
            }
        };
        Ok(PlanResponse {
            planned: Value::object(m),
            requires_replace: resp.requires_replace,
            warnings,
        })
    }

    fn apply(&self, req: ApplyRequest<'_>) -> Result<Option<Value>, ProviderError> {
        let Some(planned) = req.planned else {
            if let Some(prior) = req.prior {
                if let Some(p) = s(prior, "path") {
                    // A file that was there before Baton gets its kept content back (in
                    // place: its mode and owner stay as they are); one Baton made goes.
                    let original = s(prior, "original_content")
                        .filter(|_| s(prior, "original_status").as_deref() == Some("kept"));
                    let (script, input) = match &original {
                        Some(c) => (format!("cat > {}", sh_quote(&p)), Some(c.as_bytes())),
                        None => (format!("rm -f -- {}", sh_quote(&p)), None),
                    };
                    let (_, out) = run(prior, &script, input)?;
                    if out.code != 0 {
                        let what = if original.is_some() {
                            "Cannot restore"
                        } else {
                            "Cannot remove"
                        };
                        return Err(failed(&format!("{what} {p}"), &out));
                    }
                }
            }
            return Ok(None);
        };
        let path = s(planned, "path").unwrap_or_default();
        let content = s(planned, "content").unwrap_or_default();
        let mode = s(planned, "mode").unwrap_or_else(|| "0644".into());
        // What was there before Baton first wrote the file, kept (within the limit) for
        // rollback and destroy; an update keeps what the creation found.
        let creating = req.prior.is_none();
        let mut script = format!("set -e\np={}\n", sh_quote(&path));
        if creating {
            // What was there before Baton first wrote the file (the output of [`original`]),
            // printed before it is replaced; an update keeps what the creation found.
            script.push_str(&original_script());
        }
        // The directory and the temporary sibling by the shell's own expansions: every
        // process started here is a cost per file.
        script.push_str(&format!(
            "case \"$p\" in */*) d=${{p%/*}}; [ -n \"$d\" ] || d=/ ;; *) d=. ;; esac\n\
             [ -d \"$d\" ] || mkdir -p -- \"$d\"\nt=\"$d/.${{p##*/}}.baton-tmp\"\ncat > \"$t\"\nchmod {} \"$t\"\n",
            sh_quote(&mode)
        ));
        if let Some(o) = s(planned, "owner") {
            script.push_str(&format!("chown {} \"$t\"\n", sh_quote(&o)));
        }
        if let Some(g) = s(planned, "group") {
            script.push_str(&format!("chgrp {} \"$t\"\n", sh_quote(&g)));
        }
        if b(planned, "backup").unwrap_or(false) {
            let kept = n(planned, "backups_kept").unwrap_or(3);
            script.push_str(&backup_script(kept));
        }
        script.push_str("mv -f -- \"$t\" \"$p\"\n");
        let (_, out) = run(planned, &script, Some(content.as_bytes()))?;
        if out.code != 0 {
            return Err(failed(&format!("Cannot write {path}"), &out));
        }
        let found = creating.then(|| parse_original(&out.stdout));
        let mut m: BTreeMap<String, Value> =
            planned.as_entries().map(|e| e.to_map()).unwrap_or_default();
        let host = planned
            .get_attr("connection")
            .and_then(|c| s(c, "host"))
            .unwrap_or_default();
        m.insert("id".into(), Value::string(format!("{host}:{path}")));
        m.insert(
            "sha256".into(),
            Value::string(sha256_hex(content.as_bytes())),
        );
        if let Some(o) = found {
            let (status, kept) = match o {
                Original::Absent => ("absent", None),
                Original::Kept(c) => ("kept", Some(c)),
                Original::TooLarge(_) => ("too_large", None),
                Original::Binary => ("binary", None),
            };
            m.insert("original_status".into(), Value::string(status));
            m.insert(
                "original_content".into(),
                kept.map(|c| Value::string(c).mark_sensitive())
                    .unwrap_or_else(|| Value::null(Type::String)),
            );
        }
        Ok(Some(Value::object(m)))
    }

    fn read(&self, _ctx: &ProviderCtx, state: &Value) -> Result<Option<Value>, ProviderError> {
        let Some(path) = s(state, "path") else {
            return Ok(None);
        };
        // Reads of one host's files are gathered into a few commands; a batch that cannot
        // answer (or `become`, whose reads go through sudo) reads the file alone.
        let batched = match (become_of(state), connection(state)) {
            (None, Ok(conn)) => {
                crate::fileread::read(&sessions().get(&conn), &path, BACKUP_LIMIT as u64)
            }
            _ => crate::fileread::Read::Alone,
        };
        let (mode, owner, group, size, body) = match batched {
            crate::fileread::Read::Missing => return Ok(None),
            crate::fileread::Read::Found(f) => {
                (f.mode, Some(f.owner), Some(f.group), f.size, f.body)
            }
            crate::fileread::Read::Alone => match read_alone(state, &path)? {
                None => return Ok(None),
                Some(found) => found,
            },
        };
        let (owner, group) = (owner.as_deref(), group.as_deref());
        let body = body.as_slice();
        let mut m: BTreeMap<String, Value> =
            state.as_entries().map(|e| e.to_map()).unwrap_or_default();
        // Content over the limit is compared by its SHA-256 only; content that is not text
        // cannot be a string. Either way, unchanged content keeps what state holds, and
        // changed content is not kept (null: a plan warns that rollback cannot restore it).
        let (text, sha) = if size > BACKUP_LIMIT as u64 {
            (None, String::from_utf8_lossy(body).trim().to_string())
        } else {
            (as_text(body), sha256_hex(body))
        };
        match text {
            Some(t) => {
                m.insert("content".into(), Value::string(t));
            }
            None if s(state, "sha256").as_deref() == Some(sha.as_str()) => {}
            None => {
                m.insert("content".into(), Value::null(Type::String));
            }
        }
        m.insert("sha256".into(), Value::string(sha));
        // Mode as recorded ("0644" or "644") compares by value.
        let recorded = s(state, "mode").unwrap_or_default();
        if recorded.trim_start_matches('0') != mode.trim_start_matches('0') {
            m.insert("mode".into(), Value::string(format!("0{mode}")));
        }
        if s(state, "owner").is_some() {
            if let Some(o) = owner {
                m.insert("owner".into(), Value::string(o));
            }
        }
        if s(state, "group").is_some() {
            if let Some(g) = group {
                m.insert("group".into(), Value::string(g));
            }
        }
        Ok(Some(Value::object(m)))
    }
}

pub struct RemoteCommand {
    schema: Schema,
}

impl RemoteCommand {
    pub fn new() -> RemoteCommand {
        RemoteCommand {
            schema: Schema::new()
                .block("connection", connection_block())
                .attr("command", Attr::required(Type::String).force_new())
                .attr(
                    "creates",
                    Attr::optional(Type::String)
                        .force_new()
                        .describe("Skip the command when this path exists on the host."),
                )
                .attr(
                    "unless",
                    Attr::optional(Type::String)
                        .force_new()
                        .describe("Skip the command when this command succeeds."),
                )
                .attr(
                    "only_if",
                    Attr::optional(Type::String)
                        .force_new()
                        .describe("Run the command only when this command succeeds."),
                )
                .attr(
                    "undo",
                    Attr::optional(Type::String)
                        .describe("Run on destroy (and rollback) to undo the command."),
                )
                .attr(
                    "triggers",
                    Attr::optional(Type::map(Type::String)).force_new(),
                )
                .attr("id", Attr::computed(Type::String))
                .attr("ran", Attr::computed(Type::Bool))
                .attr("exit_code", Attr::computed(Type::Number))
                .attr("stdout", Attr::computed(Type::String)),
        }
    }
}

impl Default for RemoteCommand {
    fn default() -> Self {
        RemoteCommand::new()
    }
}

impl ResourceType for RemoteCommand {
    fn type_name(&self) -> &'static str {
        "remote_command"
    }

    fn schema(&self) -> &Schema {
        &self.schema
    }

    fn prepare(&self, objects: &[&Value]) {
        prepare_hosts(objects);
    }

    fn plan(&self, req: PlanRequest<'_>) -> Result<PlanResponse, ProviderError> {
        let resp = baton_provider::plan::default_plan(&self.schema, &req);
        if req.prior.is_some() && resp.requires_replace.is_empty() {
            return Ok(resp);
        }
        let mut m: BTreeMap<String, Value> = resp
            .planned
            .as_entries()
            .map(|e| e.to_map())
            .unwrap_or_default();
        for (k, t) in [
            ("id", Type::String),
            ("ran", Type::Bool),
            ("exit_code", Type::Number),
            ("stdout", Type::String),
        ] {
            m.insert(k.into(), Value::unknown(t));
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
                if let Some(undo) = s(prior, "undo") {
                    let (_, out) = run(prior, &undo, None)?;
                    if out.code != 0 {
                        return Err(failed("The undo command failed", &out));
                    }
                }
            }
            return Ok(None);
        };
        let command = s(planned, "command").unwrap_or_default();
        let mut guard = String::new();
        if let Some(c) = s(planned, "creates") {
            guard.push_str(&format!("if [ -e {} ]; then exit 200; fi\n", sh_quote(&c)));
        }
        if let Some(u) = s(planned, "unless") {
            guard.push_str(&format!(
                "if ( {} ) >/dev/null 2>&1; then exit 200; fi\n",
                u
            ));
        }
        if let Some(o) = s(planned, "only_if") {
            guard.push_str(&format!(
                "if ! ( {} ) >/dev/null 2>&1; then exit 200; fi\n",
                o
            ));
        }
        let script = format!("{guard}exec sh -c {}\n", sh_quote(&command));
        let (_, out) = run(planned, &script, None)?;
        let ran = out.code != 200;
        if ran && out.code != 0 {
            return Err(failed("The command failed", &out));
        }
        let mut m: BTreeMap<String, Value> =
            planned.as_entries().map(|e| e.to_map()).unwrap_or_default();
        let host = planned
            .get_attr("connection")
            .and_then(|c| s(c, "host"))
            .unwrap_or_default();
        m.insert(
            "id".into(),
            Value::string(format!("{host}:{}", &sha256_hex(command.as_bytes())[..12])),
        );
        m.insert("ran".into(), Value::bool(ran));
        m.insert(
            "exit_code".into(),
            Value::int(if ran { i64::from(out.code) } else { 0 }),
        );
        m.insert(
            "stdout".into(),
            Value::string(String::from_utf8_lossy(&out.stdout).to_string()),
        );
        Ok(Some(Value::object(m)))
    }

    fn read(&self, _ctx: &ProviderCtx, state: &Value) -> Result<Option<Value>, ProviderError> {
        // What a command did cannot be read back, except the path it `creates`: gone means
        // the command's effect is gone, so it runs again.
        if let Some(c) = s(state, "creates") {
            let (_, out) = run(state, &format!("[ -e {} ]", sh_quote(&c)), None)?;
            if out.code == 1 {
                return Ok(None);
            }
        }
        Ok(Some(state.clone()))
    }
}

#[cfg(test)]
mod tests {
    use super::Become;
    use std::io::Write as _;
    use std::process::{Command, Stdio};

    /// Runs a wrapped script locally as `Session::run` would (`sh -c`), with a stand-in `sudo`
    /// first on PATH that checks the password its askpass helper prints, then runs the command
    /// after `--` (as the current user).
    fn run_wrapped(b: &Become, script: &str, stdin: &[u8]) -> (i32, String, String) {
        let dir = tempfile::tempdir().expect("dir");
        let fake = dir.path().join("sudo");
        std::fs::write(
            &fake,
            "#!/bin/sh\n\
             echo \"sudo $*\" >&2\n\
             case \" $* \" in *' -A '*) [ \"$(\"$SUDO_ASKPASS\")\" = 'pa ss' ] || { echo bad password >&2; exit 1; } ;; esac\n\
             while [ \"$1\" != -- ]; do shift; done; shift\n\
             exec \"$@\"\n",
        )
        .expect("fake sudo");
        Command::new("chmod")
            .args(["755"])
            .arg(&fake)
            .status()
            .expect("chmod");
        let (wrapped, input) = b.wrap(script, Some(stdin));
        let path = format!(
            "{}:{}",
            dir.path().display(),
            std::env::var("PATH").unwrap_or_default()
        );
        let mut child = Command::new("sh")
            .args(["-c", &wrapped])
            .env("PATH", path)
            .env("TMPDIR", dir.path())
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("sh");
        if let (Some(mut pipe), Some(data)) = (child.stdin.take(), input) {
            pipe.write_all(&data).expect("stdin");
        }
        let out = child.wait_with_output().expect("wait");
        // The askpass helper (made in TMPDIR) is gone afterwards.
        let left = std::fs::read_dir(dir.path()).expect("list").count();
        assert_eq!(left, 1, "only the stand-in sudo is left");
        (
            out.status.code().unwrap_or(-1),
            String::from_utf8_lossy(&out.stdout).into(),
            String::from_utf8_lossy(&out.stderr).into(),
        )
    }

    #[test]
    fn the_original_of_a_file_is_kept_only_within_the_limit_and_as_text() {
        use super::{parse_original, Original, BACKUP_LIMIT};
        assert_eq!(parse_original(b"absent\n"), Original::Absent);
        assert_eq!(
            parse_original(b"6\nhello\n"),
            Original::Kept("hello\n".into())
        );
        assert_eq!(parse_original(b"0\n"), Original::Kept(String::new()));
        let big = format!("{}\n", BACKUP_LIMIT + 1);
        assert_eq!(
            parse_original(big.as_bytes()),
            Original::TooLarge(BACKUP_LIMIT as u64 + 1)
        );
        assert_eq!(parse_original(b"3\na\0b"), Original::Binary);
        assert_eq!(parse_original(b"2\n\xff\xfe"), Original::Binary);
    }

    #[test]
    fn backups_keep_the_newest_copies() {
        let dir = tempfile::tempdir().expect("dir");
        let p = dir.path().join("f");
        for (i, old) in ["a", "b", "c", "d"].iter().enumerate() {
            std::fs::write(&p, old).expect("file");
            let script = format!(
                "p={}\nt=\"$p.new\"\necho {i} > \"$t\"\n{}mv -f -- \"$t\" \"$p\"\n",
                super::sh_quote(&p.to_string_lossy()),
                super::backup_script(2)
            );
            let st = Command::new("sh")
                .args(["-c", &script])
                .status()
                .expect("sh");
            assert!(st.success());
        }
        let mut kept: Vec<String> = std::fs::read_dir(dir.path())
            .expect("list")
            .filter_map(Result::ok)
            .map(|e| e.file_name().to_string_lossy().to_string())
            .filter(|n| n.ends_with(".baton-bak"))
            .collect();
        kept.sort();
        let contents: Vec<String> = kept
            .iter()
            .map(|n| std::fs::read_to_string(dir.path().join(n)).expect("read"))
            .collect();
        assert_eq!(contents, vec!["c", "d"], "the two newest of four");
    }

    #[test]
    fn become_without_a_password_uses_sudo_n() {
        let b = Become {
            user: "nobody".into(),
            password: None,
        };
        let (script, input) = b.wrap("echo 'hi'", Some(b"in"));
        assert!(script.starts_with("exec sudo -n -u 'nobody' -- sh -c "));
        assert_eq!(input.as_deref(), Some(&b"in"[..]));
        let (code, out, err) = run_wrapped(&b, "cat; echo \" it's\"", b"data");
        assert_eq!((code, out.as_str()), (0, "data it's\n"), "{err}");
    }

    #[test]
    fn become_password_reaches_sudo_not_the_script_nor_the_command_line() {
        let b = Become {
            user: "root".into(),
            password: Some("pa ss".into()),
        };
        let (script, _) = b.wrap("cat", None);
        assert!(!script.contains("pa ss"), "{script}");
        let (code, out, err) = run_wrapped(&b, "cat; exit 3", b"own input\n");
        assert_eq!(code, 3, "{err}");
        assert_eq!(out, "own input\n");
        assert!(!err.contains("pa ss"), "{err}");
        let wrong = Become {
            user: "root".into(),
            password: Some("wrong".into()),
        };
        let (code, _, err) = run_wrapped(&wrong, "true", b"");
        assert_eq!(code, 1, "{err}");
        assert!(err.contains("bad password"), "{err}");
    }
}
