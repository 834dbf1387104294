//! The `ansible_playbook` resource: an existing playbook run against an inventory of the
//! user's or one host of a `connection` block, through [`crate::ansible::runner`].
//!
//! - plan runs `ansible-playbook --check --diff`: a playbook that would change something (the
//!   recap's `changed` above zero) plans an update, with the tasks that would change in
//!   `changed_tasks`; so does a new object, a changed argument, or a changed `playbook_sha256`
//!   (the playbook's content, its inventory file's and the files of the `roles`, `tasks`,
//!   `handlers`, `templates`, `files`, `vars`, `group_vars` and `host_vars` directories beside
//!   it). A check run with failed tasks plans an update known after apply (apply reports them);
//!   an unreachable host is an error.
//! - apply runs it for real and records the per-host recap (`recap`); a failed or unreachable
//!   host is an error naming each host with its failed tasks' messages.
//! - read returns the object as recorded (the check run of plan is the drift check); destroy
//!   does nothing on the hosts.
//!
//! Must not put `extra_vars` on a command line or into a message (they reach Ansible in a file
//! of a private directory), and never prints key material.

use crate::ansible::runner::{self, Hosts, Play, PlaybookRun, RunOpts};
use crate::ansible::{run_error, unreachable_error};
use crate::resources::{connection, connection_block, s};
use baton_eval::{Type, Value};
use baton_provider::schema::{Attr, Schema};
use baton_provider::{
    ApplyRequest, PlanRequest, PlanResponse, ProviderCtx, ProviderError, ResourceType,
};
use sha2::Digest as _;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// Directories beside a playbook whose files are part of its content hash.
const HASHED_DIRS: &[&str] = &[
    "roles",
    "tasks",
    "handlers",
    "templates",
    "files",
    "vars",
    "group_vars",
    "host_vars",
];

/// At most this many files are hashed (a playbook beside a huge tree stays fast to plan).
const MAX_HASHED_FILES: usize = 10_000;

pub struct AnsiblePlaybook {
    schema: Schema,
}

impl AnsiblePlaybook {
    pub fn new() -> AnsiblePlaybook {
        let mut conn = connection_block();
        conn.min_items = 0;
        let strings = || Attr::optional(Type::list(Type::String));
        AnsiblePlaybook {
            schema: Schema::new()
                .block("connection", conn)
                .attr(
                    "playbook",
                    Attr::required(Type::String)
                        .describe("The playbook file (relative to Baton's working directory)."),
                )
                .attr(
                    "inventory",
                    Attr::optional(Type::String).describe(
                        "An inventory file or directory; without it, the connection block's host.",
                    ),
                )
                .attr(
                    "host_name",
                    Attr::optional(Type::String).describe(
                        "The connection's host's name in the inventory (default: its host).",
                    ),
                )
                .attr("groups", strings())
                .attr("python_interpreter", Attr::optional(Type::String))
                .attr("limit", Attr::optional(Type::String))
                .attr("tags", strings())
                .attr("skip_tags", strings())
                .attr(
                    "extra_vars",
                    Attr::optional(Type::Dynamic)
                        .describe("Variables passed with -e, through a private file."),
                )
                .attr("triggers", Attr::optional(Type::map(Type::String)))
                .attr("id", Attr::computed(Type::String))
                .attr("playbook_sha256", Attr::computed(Type::String))
                .attr("changed", Attr::computed(Type::Bool))
                .attr("changed_tasks", Attr::computed(Type::list(Type::String)))
                .attr("recap", Attr::computed(Type::map(Type::map(Type::Number)))),
        }
    }
}

impl Default for AnsiblePlaybook {
    fn default() -> Self {
        AnsiblePlaybook::new()
    }
}

fn entries(v: &Value) -> BTreeMap<String, Value> {
    v.as_entries().map(|e| e.to_map()).unwrap_or_default()
}

fn strings(v: &Value, name: &str) -> Vec<String> {
    v.get_attr(name)
        .map(|x| x.clone().unmark_deep().0)
        .and_then(|x| {
            x.as_seq().map(|xs| {
                xs.iter()
                    .filter_map(|e| e.as_str().map(str::to_string))
                    .collect()
            })
        })
        .unwrap_or_default()
}

fn resolve(ctx: &ProviderCtx, p: &str) -> PathBuf {
    ctx.resolve(p)
}

/// The run `obj` describes.
fn opts(ctx: &ProviderCtx, obj: &Value, check: bool) -> Result<RunOpts, ProviderError> {
    let playbook = s(obj, "playbook").ok_or_else(|| {
        ProviderError::permanent("Missing playbook", "playbook is required.").on_attr("playbook")
    })?;
    let has_conn = obj.get_attr("connection").is_some_and(|c| !c.is_null());
    let hosts = match s(obj, "inventory") {
        Some(inv) if !has_conn => Hosts::Inventory(resolve(ctx, &inv)),
        Some(_) => {
            return Err(ProviderError::permanent(
                "Conflicting hosts",
                "give either inventory or a connection block, not both.",
            )
            .on_attr("inventory"))
        }
        None if has_conn => {
            let conn = connection(obj)?;
            Hosts::Connection {
                name: s(obj, "host_name").unwrap_or_else(|| conn.host.clone()),
                connection: Box::new(conn),
                groups: strings(obj, "groups"),
                python: s(obj, "python_interpreter"),
            }
        }
        None => {
            return Err(ProviderError::permanent(
                "Missing hosts",
                "ansible_playbook needs an inventory or a connection block.",
            )
            .on_attr("inventory"))
        }
    };
    let extra_vars = obj
        .get_attr("extra_vars")
        .map(|a| a.clone().unmark_deep().0)
        .filter(|a| !a.is_null())
        .map(|a| a.to_json());
    Ok(RunOpts {
        play: Play::File(resolve(ctx, &playbook)),
        hosts,
        extra_vars,
        limit: s(obj, "limit"),
        tags: strings(obj, "tags"),
        skip_tags: strings(obj, "skip_tags"),
        check,
        cwd: Some(ctx.cwd.clone()),
    })
}

/// Runs the playbook `obj` describes; unreachable hosts are an error.
fn run(ctx: &ProviderCtx, obj: &Value, check: bool) -> Result<PlaybookRun, ProviderError> {
    let opts = opts(ctx, obj, check)?;
    let exe = runner::playbook_executable().map_err(run_error)?;
    let out = runner::run(&exe, &opts).map_err(run_error)?;
    let unreachable: Vec<&runner::TaskResult> = out
        .results
        .iter()
        .filter(|r| r.status == runner::Status::Unreachable)
        .collect();
    let failed = out
        .results
        .iter()
        .any(|r| r.status == runner::Status::Failed);
    if !unreachable.is_empty() && !failed {
        let hosts: Vec<String> = unreachable.iter().map(|r| r.host.clone()).collect();
        let msgs: Vec<String> = unreachable
            .iter()
            .map(|r| format!("{}: {}", r.host, r.msg()))
            .collect();
        return Err(unreachable_error(&hosts.join(", "), &msgs.join("\n")));
    }
    Ok(out)
}

/// The SHA-256 of the playbook, its inventory file and the files of the directories beside it
/// that roles and includes live in.
fn content_hash(ctx: &ProviderCtx, obj: &Value) -> Result<String, ProviderError> {
    let playbook = resolve(ctx, &s(obj, "playbook").unwrap_or_default());
    let mut h = sha2::Sha256::new();
    let text = std::fs::read(&playbook).map_err(|e| {
        ProviderError::permanent(
            "Cannot read the playbook",
            format!("{}: {e}", playbook.display()),
        )
        .on_attr("playbook")
    })?;
    h.update(&text);
    if let Some(inv) = s(obj, "inventory") {
        let inv = resolve(ctx, &inv);
        if inv.is_file() {
            if let Ok(t) = std::fs::read(&inv) {
                h.update(b"\0inventory\0");
                h.update(&t);
            }
        }
    }
    let base = playbook.parent().unwrap_or(Path::new("."));
    let mut files = Vec::new();
    for d in HASHED_DIRS {
        collect_files(&base.join(d), &mut files);
    }
    files.sort();
    for f in files.iter().take(MAX_HASHED_FILES) {
        if let Ok(t) = std::fs::read(f) {
            h.update(b"\0");
            h.update(
                f.strip_prefix(base)
                    .unwrap_or(f)
                    .to_string_lossy()
                    .as_bytes(),
            );
            h.update(b"\0");
            h.update(&t);
        }
    }
    Ok(hex::encode(h.finalize()))
}

fn collect_files(dir: &Path, out: &mut Vec<PathBuf>) {
    let Ok(rd) = std::fs::read_dir(dir) else {
        return;
    };
    for e in rd.flatten() {
        if out.len() > MAX_HASHED_FILES {
            return;
        }
        let p = e.path();
        match e.file_type() {
            Ok(t) if t.is_dir() => collect_files(&p, out),
            Ok(t) if t.is_file() => out.push(p),
            _ => {}
        }
    }
}

/// `PLAYBOOK@HOSTS`: the playbook and the inventory or host it runs against.
fn object_id(obj: &Value) -> Value {
    let playbook = s(obj, "playbook");
    let hosts = s(obj, "inventory").or_else(|| {
        obj.get_attr("connection")
            .and_then(|c| s(c, "host"))
            .map(|h| s(obj, "host_name").unwrap_or(h))
    });
    match (playbook, hosts) {
        (Some(p), Some(h)) => Value::string(format!("{p}@{h}")),
        _ => Value::unknown(Type::String),
    }
}

fn recap_value(run: &PlaybookRun) -> Value {
    let hosts = run
        .recap
        .iter()
        .map(|(h, r)| {
            let counts = r
                .counts()
                .iter()
                .map(|(k, v)| {
                    (
                        k.to_string(),
                        Value::int(i64::try_from(*v).unwrap_or(i64::MAX)),
                    )
                })
                .collect();
            (h.clone(), Value::map(Type::Number, counts))
        })
        .collect();
    Value::map(Type::map(Type::Number), hosts)
}

/// The strings of `v` that are marked sensitive (or inside a sensitive value).
fn sensitive_strings(v: &Value, inherited: bool, out: &mut Vec<String>) {
    let marked = inherited || v.is_sensitive();
    let plain = v.clone().unmark().0;
    if let Some(entries) = plain.as_entries() {
        for (_, x) in entries.iter() {
            sensitive_strings(x, marked, out);
        }
    } else if let Some(items) = plain.as_seq() {
        for x in items {
            sensitive_strings(x, marked, out);
        }
    } else if marked {
        if let Some(s) = plain.as_str().filter(|s| !s.is_empty()) {
            out.push(s.to_string());
        }
    }
}

/// `text` with every one of `secrets` replaced by `(sensitive)`, longest first.
fn redact(text: &str, secrets: &[String]) -> String {
    let mut secrets: Vec<&String> = secrets.iter().collect();
    secrets.sort_by_key(|s| std::cmp::Reverse(s.len()));
    let mut out = text.to_string();
    for s in secrets {
        out = out.replace(s.as_str(), "(sensitive)");
    }
    out
}

fn string_list(items: Vec<String>) -> Value {
    Value::list(Type::String, items.into_iter().map(Value::string).collect())
}

impl ResourceType for AnsiblePlaybook {
    fn type_name(&self) -> &'static str {
        "ansible_playbook"
    }

    fn schema(&self) -> &Schema {
        &self.schema
    }

    fn plan(&self, req: PlanRequest<'_>) -> Result<PlanResponse, ProviderError> {
        let resp = baton_provider::plan::default_plan(&self.schema, &req);
        if req.config.is_null() {
            return Ok(resp);
        }
        let creating = req.prior.is_none() || !resp.requires_replace.is_empty();
        let mut m = entries(&resp.planned);
        m.insert("id".into(), object_id(&resp.planned));
        let after_apply = |m: &mut BTreeMap<String, Value>| {
            m.insert("changed".into(), Value::unknown(Type::Bool));
            m.insert(
                "changed_tasks".into(),
                Value::unknown(Type::list(Type::String)),
            );
            m.insert(
                "recap".into(),
                Value::unknown(Type::map(Type::map(Type::Number))),
            );
        };
        if !req.config.is_wholly_known() {
            m.insert("playbook_sha256".into(), Value::unknown(Type::String));
            after_apply(&mut m);
            return Ok(PlanResponse {
                planned: Value::object(m),
                requires_replace: resp.requires_replace,
                warnings: Vec::new(),
            });
        }
        m.insert(
            "playbook_sha256".into(),
            Value::string(content_hash(req.ctx, &resp.planned)?),
        );
        let check = run(req.ctx, &resp.planned, true)?;
        let failed = !check.failures().is_empty();
        if !failed && !check.changed() && !creating {
            if let Some(prior) = req.prior {
                let same = Value::object(m.clone());
                if prior.raw_equal(&same) {
                    return Ok(PlanResponse {
                        planned: same,
                        requires_replace: resp.requires_replace,
                        warnings: Vec::new(),
                    });
                }
            }
        }
        after_apply(&mut m);
        if !failed {
            m.insert("changed".into(), Value::bool(check.changed()));
            m.insert("changed_tasks".into(), string_list(check.changed_tasks()));
        }
        Ok(PlanResponse {
            planned: Value::object(m),
            requires_replace: resp.requires_replace,
            warnings: Vec::new(),
        })
    }

    fn apply(&self, req: ApplyRequest<'_>) -> Result<Option<Value>, ProviderError> {
        // Destroy: a playbook is not reversible; nothing is done on the hosts.
        let Some(planned) = req.planned else {
            return Ok(None);
        };
        let out = run(req.ctx, planned, false)?;
        if !out.failures().is_empty() {
            let playbook = s(planned, "playbook").unwrap_or_default();
            // A task's message may hold a variable's value: sensitive ones are redacted.
            let mut secrets = Vec::new();
            for v in [planned, req.config] {
                if let Some(x) = v.get_attr("extra_vars") {
                    sensitive_strings(x, false, &mut secrets);
                }
            }
            return Err(ProviderError::permanent(
                format!("Ansible playbook {playbook} failed"),
                redact(
                    &format!("{}\n\nRecap:\n{}", out.failure_message(), out.recap_text()),
                    &secrets,
                ),
            ));
        }
        if out.no_hosts_matched && out.recap.is_empty() {
            return Err(ProviderError::permanent(
                "Ansible playbook matched no hosts",
                "No host of the inventory matched the play's hosts (and limit).",
            ));
        }
        let mut m = entries(planned);
        m.insert("id".into(), object_id(planned));
        if m.get("playbook_sha256")
            .is_none_or(|v| !v.is_wholly_known())
        {
            m.insert(
                "playbook_sha256".into(),
                Value::string(content_hash(req.ctx, planned)?),
            );
        }
        m.insert("changed".into(), Value::bool(out.changed()));
        m.insert("changed_tasks".into(), string_list(out.changed_tasks()));
        m.insert("recap".into(), recap_value(&out));
        Ok(Some(Value::object(m)))
    }

    fn read(&self, _ctx: &ProviderCtx, state: &Value) -> Result<Option<Value>, ProviderError> {
        Ok(Some(state.clone()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sensitive_extra_vars_are_redacted() {
        let mut m = BTreeMap::new();
        m.insert("user".to_string(), Value::string("bob"));
        m.insert("token".to_string(), Value::string("t0k").mark_sensitive());
        let mut out = Vec::new();
        sensitive_strings(&Value::object(m), false, &mut out);
        assert_eq!(out, vec!["t0k".to_string()]);
        assert_eq!(redact("bob uses t0k", &out), "bob uses (sensitive)");
    }

    #[test]
    fn the_hash_covers_roles_beside_the_playbook() {
        let dir = tempfile::tempdir().expect("dir");
        let ctx = ProviderCtx::new(dir.path().to_path_buf());
        std::fs::write(dir.path().join("site.yml"), "- hosts: all\n").expect("write");
        let mut m = BTreeMap::new();
        m.insert("playbook".to_string(), Value::string("site.yml"));
        let obj = Value::object(m);
        let a = content_hash(&ctx, &obj).expect("hash");
        std::fs::create_dir_all(dir.path().join("roles/web/tasks")).expect("mkdir");
        std::fs::write(dir.path().join("roles/web/tasks/main.yml"), "- ping:\n").expect("w");
        let b = content_hash(&ctx, &obj).expect("hash");
        assert_ne!(a, b);
        assert_eq!(b, content_hash(&ctx, &obj).expect("hash"));
        std::fs::remove_file(dir.path().join("site.yml")).expect("rm");
        assert!(content_hash(&ctx, &obj).is_err());
    }
}
