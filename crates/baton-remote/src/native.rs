//! More configuration-management resources over SSH, each reading the real object back on
//! refresh (so `plan` shows a diff against the host and `baton drift` finds hand changes) and
//! restoring it on apply:
//!
//! - `remote_directory`: a directory's existence, mode, owner and group; destroy removes it
//!   only when empty unless `recursive_delete` is set.
//! - `remote_line`: one line of a file, as Ansible's `lineinfile` (replace the last line a
//!   `regexp` matches, else append when absent; or remove matching lines). The file is read
//!   with `cat`, edited here ([`edit_lines`]) and written back atomically (temporary file and
//!   `mv`, keeping its mode and owner).
//! - `remote_user`: a local account (`getent`/`id` to read, `useradd`/`usermod`/`userdel`).
//!
//! All take Terraform's `connection` block (with Baton's `become`), through the helpers of
//! [`crate::resources`].

use crate::resources::{b, connection_block, failed, run, s, sh_quote, sha256_hex};
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

/// A whole number attribute (uid).
fn u(v: &Value, name: &str) -> Option<u64> {
    v.get_attr(name).and_then(|x| {
        x.clone()
            .unmark_deep()
            .0
            .as_number()
            .and_then(|n| n.to_u64())
    })
}

/// A list-of-strings attribute; `None` when null.
fn strings(v: &Value, name: &str) -> Option<Vec<String>> {
    let (x, _) = v.get_attr(name)?.clone().unmark_deep();
    if x.is_null() || !x.is_known() {
        return None;
    }
    Some(
        x.as_seq()?
            .iter()
            .filter_map(|e| e.as_str().map(str::to_string))
            .collect(),
    )
}

/// Whether `m` is a chmod octal mode ("755", "0755", "2775").
fn valid_mode(m: &str) -> bool {
    (3..=4).contains(&m.len()) && m.chars().all(|c| ('0'..='7').contains(&c))
}

/// The default plan with `id` set: kept from the prior object, else `host:what` when both are
/// known, else unknown.
fn plan_with_id(
    schema: &Schema,
    req: &PlanRequest<'_>,
    what: Option<String>,
) -> (Map, Vec<Vec<baton_eval::PathStep>>) {
    let resp = baton_provider::plan::default_plan(schema, req);
    let mut m = to_map(&resp.planned);
    let host = host_of(req.config);
    let prior_id = if resp.requires_replace.is_empty() {
        req.prior.and_then(|p| s(p, "id"))
    } else {
        None
    };
    let id = match (prior_id, what) {
        (Some(id), _) => Value::string(id),
        (None, Some(w)) if !host.is_empty() => Value::string(format!("{host}:{w}")),
        _ => Value::unknown(Type::String),
    };
    m.insert("id".into(), id);
    (m, resp.requires_replace)
}

// ---------------------------------------------------------------------------------------
// remote_directory

pub struct RemoteDirectory {
    schema: Schema,
}

impl RemoteDirectory {
    pub fn new() -> RemoteDirectory {
        RemoteDirectory {
            schema: Schema::new()
                .block("connection", connection_block())
                .attr(
                    "path",
                    Attr::required(Type::String)
                        .force_new()
                        .describe("The directory's absolute path on the host."),
                )
                .attr(
                    "mode",
                    Attr::optional(Type::String).default(Value::string("0755")),
                )
                .attr("owner", Attr::optional(Type::String))
                .attr("group", Attr::optional(Type::String))
                .attr(
                    "recursive_delete",
                    Attr::optional(Type::Bool)
                        .default(Value::bool(false))
                        .describe(
                        "Destroy removes the directory with its contents (else only when empty).",
                    ),
                )
                .attr("id", Attr::computed(Type::String)),
        }
    }
}

impl Default for RemoteDirectory {
    fn default() -> Self {
        RemoteDirectory::new()
    }
}

impl ResourceType for RemoteDirectory {
    fn type_name(&self) -> &'static str {
        "remote_directory"
    }

    fn schema(&self) -> &Schema {
        &self.schema
    }

    fn prepare(&self, objects: &[&Value]) {
        crate::resources::prepare_hosts(objects);
    }

    fn validate(&self, config: &Value) -> Vec<AttrDiag> {
        let mut d = Vec::new();
        if let Some(m) = s(config, "mode") {
            if !valid_mode(&m) {
                d.push(AttrDiag::error(
                    Some("mode"),
                    "Invalid mode",
                    format!("{m:?} is not an octal mode such as \"0755\"."),
                ));
            }
        }
        if let Some(p) = s(config, "path") {
            if !p.starts_with('/') || p.trim_end_matches('/').is_empty() {
                d.push(AttrDiag::error(
                    Some("path"),
                    "Invalid path",
                    format!("{p:?} must be an absolute path other than \"/\"."),
                ));
            }
        }
        d
    }

    fn plan(&self, req: PlanRequest<'_>) -> Result<PlanResponse, ProviderError> {
        let (m, requires_replace) = plan_with_id(&self.schema, &req, s(req.config, "path"));
        Ok(PlanResponse {
            planned: Value::object(m),
            requires_replace,
            warnings: Vec::new(),
        })
    }

    fn apply(&self, req: ApplyRequest<'_>) -> Result<Option<Value>, ProviderError> {
        let Some(planned) = req.planned else {
            if let Some(prior) = req.prior {
                if let Some(p) = s(prior, "path") {
                    let remove = if b(prior, "recursive_delete").unwrap_or(false) {
                        "rm -rf -- \"$p\""
                    } else {
                        // Kept when not empty: it holds what Baton does not manage.
                        "rmdir -- \"$p\" 2>/dev/null || [ -n \"$(ls -A -- \"$p\")\" ]"
                    };
                    let script = format!("p={}\n[ -d \"$p\" ] || exit 0\n{remove}\n", sh_quote(&p));
                    let (_, out) = run(prior, &script, None)?;
                    if out.code != 0 {
                        return Err(failed(&format!("Cannot remove {p}"), &out));
                    }
                }
            }
            return Ok(None);
        };
        let path = s(planned, "path").unwrap_or_default();
        let mode = s(planned, "mode").unwrap_or_else(|| "0755".into());
        let mut script = format!(
            "set -e\np={}\nmkdir -p -- \"$p\"\nchmod {} -- \"$p\"\n",
            sh_quote(&path),
            sh_quote(&mode)
        );
        if let Some(o) = s(planned, "owner") {
            script.push_str(&format!("chown {} -- \"$p\"\n", sh_quote(&o)));
        }
        if let Some(g) = s(planned, "group") {
            script.push_str(&format!("chgrp {} -- \"$p\"\n", sh_quote(&g)));
        }
        let (_, out) = run(planned, &script, None)?;
        if out.code != 0 {
            return Err(failed(&format!("Cannot make {path}"), &out));
        }
        let mut m = to_map(planned);
        m.insert(
            "id".into(),
            Value::string(format!("{}:{path}", host_of(planned))),
        );
        Ok(Some(Value::object(m)))
    }

    fn read(&self, _ctx: &ProviderCtx, state: &Value) -> Result<Option<Value>, ProviderError> {
        let Some(path) = s(state, "path") else {
            return Ok(None);
        };
        let script = format!(
            "p={}\n[ -d \"$p\" ] || exit 3\nstat -c '%a %U %G' -- \"$p\"\n",
            sh_quote(&path)
        );
        let (_, out) = run(state, &script, None)?;
        match out.code {
            3 => return Ok(None),
            0 => {}
            _ => return Err(failed(&format!("Cannot read {path}"), &out)),
        }
        let text = String::from_utf8_lossy(&out.stdout).to_string();
        let mut parts = text.split_whitespace();
        let mode = parts.next().unwrap_or("");
        let (owner, group) = (parts.next(), parts.next());
        let mut m = to_map(state);
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

// ---------------------------------------------------------------------------------------
// remote_line

/// What a line's `state` asks for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LineState {
    Present,
    Absent,
}

/// The file `text` (`None`: it does not exist) edited so that `line` is present or absent, as
/// Ansible's `lineinfile`. `matcher` selects lines: with `Present`, the last matching line is
/// replaced by `line` (when none matches, `line` is appended unless already there); with
/// `Absent`, matching lines are removed (without a matcher, lines equal to `line`). Returns
/// `Ok(None)` when the file is already as asked, and an error when the file is missing and
/// `create` is not set.
pub fn edit_lines(
    text: Option<&str>,
    line: &str,
    matcher: Option<&dyn Fn(&str) -> bool>,
    state: LineState,
    create: bool,
) -> Result<Option<String>, String> {
    let Some(text) = text else {
        return match state {
            LineState::Absent => Ok(None),
            LineState::Present if create => Ok(Some(format!("{line}\n"))),
            LineState::Present => Err("the file does not exist (set create to make it)".into()),
        };
    };
    let (body, mut ends_nl) = match text.strip_suffix('\n') {
        Some(b) => (b, true),
        None => (text, false),
    };
    let mut lines: Vec<&str> = if text.is_empty() {
        Vec::new()
    } else {
        body.split('\n').collect()
    };
    let exact = |l: &str| l == line;
    let matches: &dyn Fn(&str) -> bool = matcher.unwrap_or(&exact);
    match state {
        LineState::Absent => {
            let before = lines.len();
            lines.retain(|l| !matches(l));
            if lines.len() == before {
                return Ok(None);
            }
        }
        LineState::Present => {
            let last = matcher.and_then(|m| lines.iter().rposition(|l| m(l)));
            match last {
                Some(i) if lines[i] == line => return Ok(None),
                Some(i) => lines[i] = line,
                None if lines.contains(&line) => return Ok(None),
                None => {
                    lines.push(line);
                    ends_nl = true;
                }
            }
        }
    }
    if lines.is_empty() {
        return Ok(Some(String::new()));
    }
    let mut out = lines.join("\n");
    if ends_nl {
        out.push('\n');
    }
    Ok(Some(out))
}

fn line_state(v: &Value) -> LineState {
    match s(v, "state").as_deref() {
        Some("absent") => LineState::Absent,
        _ => LineState::Present,
    }
}

fn compile(v: &Value) -> Result<Option<regex::Regex>, ProviderError> {
    match s(v, "regexp") {
        None => Ok(None),
        Some(r) => regex::Regex::new(&r).map(Some).map_err(|e| {
            ProviderError::permanent("Invalid regexp", e.to_string()).on_attr("regexp")
        }),
    }
}

/// The file's content, or `None` when it does not exist.
fn read_file(obj: &Value, path: &str) -> Result<Option<String>, ProviderError> {
    let script = format!(
        "p={}\n[ -e \"$p\" ] || exit 3\ncat -- \"$p\"\n",
        sh_quote(path)
    );
    let (_, out) = run(obj, &script, None)?;
    match out.code {
        3 => Ok(None),
        0 => String::from_utf8(out.stdout).map(Some).map_err(|_| {
            ProviderError::permanent(format!("Cannot edit {path}"), "the file is not UTF-8 text")
        }),
        _ => Err(failed(&format!("Cannot read {path}"), &out)),
    }
}

/// Replaces the file with `content` atomically (a temporary file beside it, then `mv`),
/// keeping the mode and owner of the file it replaces (a new file gets 0644); a symbolic
/// link is followed, not replaced.
fn write_file(obj: &Value, path: &str, content: &str, mkdir: bool) -> Result<(), ProviderError> {
    let script = format!(
        "set -e\np={}\nif [ -L \"$p\" ]; then p=$(readlink -f -- \"$p\"); fi\nd=$(dirname -- \"$p\")\n{}\
         t=\"$d/.$(basename -- \"$p\").baton-tmp\"\ncat > \"$t\"\n\
         if [ -e \"$p\" ]; then chmod \"$(stat -c %a -- \"$p\")\" \"$t\"; chown \"$(stat -c %u:%g -- \"$p\")\" \"$t\" 2>/dev/null || true; else chmod 0644 \"$t\"; fi\n\
         mv -f -- \"$t\" \"$p\"\n",
        sh_quote(path),
        if mkdir { "mkdir -p -- \"$d\"\n" } else { "" },
    );
    let (_, out) = run(obj, &script, Some(content.as_bytes()))?;
    if out.code != 0 {
        return Err(failed(&format!("Cannot write {path}"), &out));
    }
    Ok(())
}

pub struct RemoteLine {
    schema: Schema,
}

impl RemoteLine {
    pub fn new() -> RemoteLine {
        RemoteLine {
            schema: Schema::new()
                .block("connection", connection_block())
                .attr(
                    "path",
                    Attr::required(Type::String)
                        .force_new()
                        .describe("The file's absolute path on the host."),
                )
                .attr("line", Attr::required(Type::String))
                .attr(
                    "regexp",
                    Attr::optional(Type::String)
                        .describe("Replace the last line this matches (else append the line)."),
                )
                .attr(
                    "state",
                    Attr::optional(Type::String).default(Value::string("present")),
                )
                .attr(
                    "create",
                    Attr::optional(Type::Bool).default(Value::bool(false)),
                )
                .attr("id", Attr::computed(Type::String))
                .attr("present", Attr::computed(Type::Bool)),
        }
    }
}

impl Default for RemoteLine {
    fn default() -> Self {
        RemoteLine::new()
    }
}

impl ResourceType for RemoteLine {
    fn type_name(&self) -> &'static str {
        "remote_line"
    }

    fn schema(&self) -> &Schema {
        &self.schema
    }

    fn prepare(&self, objects: &[&Value]) {
        crate::resources::prepare_hosts(objects);
    }

    fn validate(&self, config: &Value) -> Vec<AttrDiag> {
        let mut d = Vec::new();
        if let Some(st) = s(config, "state") {
            if st != "present" && st != "absent" {
                d.push(AttrDiag::error(
                    Some("state"),
                    "Invalid state",
                    format!("{st:?} is not \"present\" or \"absent\"."),
                ));
            }
        }
        if let Err(e) = compile(config) {
            d.push(AttrDiag::error(
                Some("regexp"),
                "Invalid regexp",
                e.to_string(),
            ));
        }
        if s(config, "line").is_some_and(|l| l.contains('\n')) {
            d.push(AttrDiag::error(
                Some("line"),
                "Invalid line",
                "line must be a single line (no newline).",
            ));
        }
        d
    }

    fn plan(&self, req: PlanRequest<'_>) -> Result<PlanResponse, ProviderError> {
        let what = match (s(req.config, "path"), s(req.config, "line")) {
            (Some(p), Some(l)) => Some(format!("{p}:{}", &sha256_hex(l.as_bytes())[..12])),
            _ => None,
        };
        let (mut m, requires_replace) = plan_with_id(&self.schema, &req, what);
        m.insert(
            "present".into(),
            match req.config.get_attr("state") {
                Some(v) if !v.is_known() => Value::unknown(Type::Bool),
                _ => Value::bool(line_state(req.config) == LineState::Present),
            },
        );
        Ok(PlanResponse {
            planned: Value::object(m),
            requires_replace,
            warnings: Vec::new(),
        })
    }

    fn apply(&self, req: ApplyRequest<'_>) -> Result<Option<Value>, ProviderError> {
        let Some(planned) = req.planned else {
            // Destroy: remove the line Baton added (an `absent` line has nothing to undo).
            if let Some(prior) = req.prior {
                if let (Some(path), Some(line), LineState::Present) =
                    (s(prior, "path"), s(prior, "line"), line_state(prior))
                {
                    let text = read_file(prior, &path)?;
                    let edited = edit_lines(text.as_deref(), &line, None, LineState::Absent, false)
                        .map_err(|e| ProviderError::permanent(format!("Cannot edit {path}"), e))?;
                    if let Some(new) = edited {
                        write_file(prior, &path, &new, false)?;
                    }
                }
            }
            return Ok(None);
        };
        let path = s(planned, "path").unwrap_or_default();
        let line = s(planned, "line").unwrap_or_default();
        let state = line_state(planned);
        let re = compile(planned)?;
        // An update that changes the line without a regexp replaces the old line in place.
        let old = req
            .prior
            .filter(|p| line_state(p) == LineState::Present)
            .and_then(|p| s(p, "line"))
            .filter(|o| *o != line);
        let by_re = |l: &str| re.as_ref().is_some_and(|r| r.is_match(l));
        let by_old = |l: &str| old.as_deref() == Some(l);
        let matcher: Option<&dyn Fn(&str) -> bool> = if re.is_some() {
            Some(&by_re)
        } else if old.is_some() && state == LineState::Present {
            Some(&by_old)
        } else {
            None
        };
        let create = b(planned, "create").unwrap_or(false);
        let text = read_file(planned, &path)?;
        let edited = edit_lines(text.as_deref(), &line, matcher, state, create)
            .map_err(|e| ProviderError::permanent(format!("Cannot edit {path}"), e))?;
        if let Some(new) = edited {
            write_file(planned, &path, &new, text.is_none())?;
        }
        let mut m = to_map(planned);
        if !m.get("id").is_some_and(Value::is_known) {
            m.insert(
                "id".into(),
                Value::string(format!(
                    "{}:{path}:{}",
                    host_of(planned),
                    &sha256_hex(line.as_bytes())[..12]
                )),
            );
        }
        m.insert("present".into(), Value::bool(state == LineState::Present));
        Ok(Some(Value::object(m)))
    }

    fn read(&self, _ctx: &ProviderCtx, state: &Value) -> Result<Option<Value>, ProviderError> {
        let (Some(path), Some(line)) = (s(state, "path"), s(state, "line")) else {
            return Ok(None);
        };
        let want = line_state(state);
        let re = compile(state)?;
        let by_re = |l: &str| re.as_ref().is_some_and(|r| r.is_match(l));
        let matcher: Option<&dyn Fn(&str) -> bool> = if re.is_some() { Some(&by_re) } else { None };
        let text = read_file(state, &path)?;
        // As asked when applying would change nothing.
        let settled = edit_lines(text.as_deref(), &line, matcher, want, true)
            .map(|e| e.is_none())
            .unwrap_or(false);
        let present = (want == LineState::Present) == settled;
        let mut m = to_map(state);
        m.insert("present".into(), Value::bool(present));
        Ok(Some(Value::object(m)))
    }
}

// ---------------------------------------------------------------------------------------
// remote_user

pub struct RemoteUser {
    schema: Schema,
}

impl RemoteUser {
    pub fn new() -> RemoteUser {
        RemoteUser {
            schema: Schema::new()
                .block("connection", connection_block())
                .attr("name", Attr::required(Type::String).force_new())
                .attr("uid", Attr::optional(Type::Number))
                .attr("shell", Attr::optional(Type::String))
                .attr("home", Attr::optional(Type::String))
                .attr(
                    "groups",
                    Attr::optional(Type::list(Type::String))
                        .describe("Supplementary groups (exactly these)."),
                )
                .attr(
                    "system",
                    Attr::optional(Type::Bool)
                        .default(Value::bool(false))
                        .force_new(),
                )
                .attr("id", Attr::computed(Type::String)),
        }
    }
}

impl Default for RemoteUser {
    fn default() -> Self {
        RemoteUser::new()
    }
}

/// Whether `name` is safe as an account name on a command line.
fn valid_user(name: &str) -> bool {
    !name.is_empty()
        && !name.starts_with('-')
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.' | '$'))
}

impl ResourceType for RemoteUser {
    fn type_name(&self) -> &'static str {
        "remote_user"
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
            if !valid_user(&n) {
                d.push(AttrDiag::error(
                    Some("name"),
                    "Invalid user name",
                    format!("{n:?} is not a valid account name."),
                ));
            }
        }
        d
    }

    fn plan(&self, req: PlanRequest<'_>) -> Result<PlanResponse, ProviderError> {
        let (m, requires_replace) = plan_with_id(&self.schema, &req, s(req.config, "name"));
        Ok(PlanResponse {
            planned: Value::object(m),
            requires_replace,
            warnings: Vec::new(),
        })
    }

    fn apply(&self, req: ApplyRequest<'_>) -> Result<Option<Value>, ProviderError> {
        let Some(planned) = req.planned else {
            if let Some(prior) = req.prior {
                if let Some(name) = s(prior, "name") {
                    let script = format!(
                        "n={}\nif getent passwd \"$n\" >/dev/null; then userdel \"$n\"; fi\n",
                        sh_quote(&name)
                    );
                    let (_, out) = run(prior, &script, None)?;
                    if out.code != 0 {
                        return Err(failed(&format!("Cannot delete user {name}"), &out));
                    }
                }
            }
            return Ok(None);
        };
        let name = s(planned, "name").unwrap_or_default();
        if !valid_user(&name) {
            return Err(ProviderError::permanent(
                "Invalid user name",
                format!("{name:?} is not a valid account name."),
            )
            .on_attr("name"));
        }
        let uid = u(planned, "uid");
        let shell = s(planned, "shell");
        let home = s(planned, "home");
        let groups = strings(planned, "groups");
        // A new account: everything at once.
        let mut add = String::from("useradd");
        if b(planned, "system").unwrap_or(false) {
            add.push_str(" -r");
        }
        if let Some(x) = uid {
            add.push_str(&format!(" -u {x}"));
        }
        if let Some(x) = &shell {
            add.push_str(&format!(" -s {}", sh_quote(x)));
        }
        if let Some(x) = &home {
            add.push_str(&format!(" -d {} -m", sh_quote(x)));
        }
        if let Some(g) = &groups {
            if !g.is_empty() {
                add.push_str(&format!(" -G {}", sh_quote(&g.join(","))));
            }
        }
        // An existing one (an update, or adopting an account made by hand): only what differs.
        let mut modify = String::new();
        if let Some(x) = uid {
            modify.push_str(&format!(
                "if [ \"$(id -u \"$n\")\" != {x} ]; then usermod -u {x} \"$n\"; fi\n"
            ));
        }
        if let Some(x) = &home {
            modify.push_str(&format!(
                "if [ \"$(getent passwd \"$n\" | cut -d: -f6)\" != {q} ]; then usermod -d {q} -m \"$n\"; fi\n",
                q = sh_quote(x)
            ));
        }
        let mut flags = String::new();
        if let Some(x) = &shell {
            flags.push_str(&format!(" -s {}", sh_quote(x)));
        }
        if let Some(g) = &groups {
            flags.push_str(&format!(" -G {}", sh_quote(&g.join(","))));
        }
        if !flags.is_empty() {
            modify.push_str(&format!("usermod{flags} \"$n\"\n"));
        }
        let script = format!(
            "set -e\nn={}\nif getent passwd \"$n\" >/dev/null; then\n{modify}:\nelse\n{add} \"$n\"\nfi\n",
            sh_quote(&name)
        );
        let (_, out) = run(planned, &script, None)?;
        if out.code != 0 {
            return Err(failed(&format!("Cannot manage user {name}"), &out));
        }
        let mut m = to_map(planned);
        m.insert(
            "id".into(),
            Value::string(format!("{}:{name}", host_of(planned))),
        );
        Ok(Some(Value::object(m)))
    }

    fn read(&self, _ctx: &ProviderCtx, state: &Value) -> Result<Option<Value>, ProviderError> {
        let Some(name) = s(state, "name") else {
            return Ok(None);
        };
        let script = format!(
            "n={}\ngetent passwd \"$n\" || exit 3\nid -gn \"$n\"\nid -Gn \"$n\"\n",
            sh_quote(&name)
        );
        let (_, out) = run(state, &script, None)?;
        match out.code {
            3 | 2 => return Ok(None),
            0 => {}
            _ => return Err(failed(&format!("Cannot read user {name}"), &out)),
        }
        let text = String::from_utf8_lossy(&out.stdout).to_string();
        let mut lines = text.lines();
        let fields: Vec<&str> = lines.next().unwrap_or("").split(':').collect();
        let primary = lines.next().unwrap_or("").trim().to_string();
        let all: Vec<String> = lines
            .next()
            .unwrap_or("")
            .split_whitespace()
            .filter(|g| *g != primary)
            .map(str::to_string)
            .collect();
        if fields.len() < 7 {
            return Err(ProviderError::permanent(
                format!("Cannot read user {name}"),
                "getent printed an unexpected passwd entry",
            ));
        }
        let mut m = to_map(state);
        if u(state, "uid").is_some() {
            if let Ok(x) = fields[2].parse::<i64>() {
                m.insert("uid".into(), Value::int(x));
            }
        }
        if s(state, "home").is_some() {
            m.insert("home".into(), Value::string(fields[5]));
        }
        if s(state, "shell").is_some() {
            m.insert("shell".into(), Value::string(fields[6]));
        }
        if let Some(recorded) = strings(state, "groups") {
            let mut a = all.clone();
            let mut r = recorded.clone();
            a.sort();
            r.sort();
            if a != r {
                let items = all.into_iter().map(Value::string).collect();
                m.insert("groups".into(), Value::list(Type::String, items));
            }
        }
        Ok(Some(Value::object(m)))
    }
}

#[cfg(test)]
mod tests {
    use super::{edit_lines, LineState};

    fn re(p: &str) -> regex::Regex {
        regex::Regex::new(p).expect("regex")
    }

    #[test]
    fn appends_when_absent_and_leaves_a_present_line() {
        let t = "a\nb\n";
        assert_eq!(
            edit_lines(Some(t), "c", None, LineState::Present, false),
            Ok(Some("a\nb\nc\n".into()))
        );
        assert_eq!(
            edit_lines(Some(t), "b", None, LineState::Present, false),
            Ok(None)
        );
        // No final newline: one is added before the line.
        assert_eq!(
            edit_lines(Some("a"), "c", None, LineState::Present, false),
            Ok(Some("a\nc\n".into()))
        );
        assert_eq!(
            edit_lines(Some(""), "c", None, LineState::Present, false),
            Ok(Some("c\n".into()))
        );
    }

    #[test]
    fn a_regexp_replaces_the_last_match() {
        let r = re("^Port ");
        let m = |l: &str| r.is_match(l);
        let t = "Port 1\nX\nPort 2\nY\n";
        assert_eq!(
            edit_lines(Some(t), "Port 22", Some(&m), LineState::Present, false),
            Ok(Some("Port 1\nX\nPort 22\nY\n".into()))
        );
        assert_eq!(
            edit_lines(
                Some("Port 1\nPort 22\n"),
                "Port 22",
                Some(&m),
                LineState::Present,
                false
            ),
            Ok(None)
        );
        // No match: appended, unless the line is there already.
        assert_eq!(
            edit_lines(Some("X\n"), "Port 22", Some(&m), LineState::Present, false),
            Ok(Some("X\nPort 22\n".into()))
        );
    }

    #[test]
    fn absent_removes_matching_lines() {
        assert_eq!(
            edit_lines(Some("a\nb\na\n"), "a", None, LineState::Absent, false),
            Ok(Some("b\n".into()))
        );
        assert_eq!(
            edit_lines(Some("b\n"), "a", None, LineState::Absent, false),
            Ok(None)
        );
        let r = re("^#");
        let m = |l: &str| r.is_match(l);
        assert_eq!(
            edit_lines(Some("#x\ny\n#z"), "", Some(&m), LineState::Absent, false),
            Ok(Some("y".into()))
        );
        assert_eq!(
            edit_lines(Some("a\n"), "a", None, LineState::Absent, false),
            Ok(Some(String::new()))
        );
        assert_eq!(
            edit_lines(None, "a", None, LineState::Absent, false),
            Ok(None)
        );
    }

    #[test]
    fn a_missing_file_is_created_only_when_asked() {
        assert_eq!(
            edit_lines(None, "a", None, LineState::Present, true),
            Ok(Some("a\n".into()))
        );
        assert!(edit_lines(None, "a", None, LineState::Present, false).is_err());
    }
}
