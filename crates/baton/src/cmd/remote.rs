//! `--server URL`: the commands that make sense remotely (`runs`, `approve`, `workflow run`,
//! `logs`) call the HTTP API of a `baton serve` instead of reading the local stores, with the
//! token from `--token` or `BATON_TOKEN`.
//!
//! Must not print the token (nor put it in an error), and must not touch the local stores:
//! everything goes through the server, which decides what the token may do.

use crate::cli::{Cli, Command, WorkflowCommand};
use anyhow::{anyhow, bail};
use serde_json::{json, Value};
use std::process::ExitCode;
use std::time::Duration;

/// Runs `cli`'s command against the server at `server`.
pub fn run(cli: &Cli, server: &str) -> anyhow::Result<ExitCode> {
    let Some(token) = cli
        .token
        .as_deref()
        .map(str::trim)
        .filter(|t| !t.is_empty())
    else {
        bail!("--server needs a token: set BATON_TOKEN (or --token); `baton token create` on the agent makes one");
    };
    let api = Api::new(server, token)?;
    match &cli.command {
        Command::Runs(a) => {
            match a.args.as_slice() {
                [] => {}
                [show, id] if show == "show" => return show_run(&api, id, a.json),
                _ => bail!("usage: baton --server URL runs [show RUN] [--json]"),
            }
            let v = api.call("GET", "/api/v1/runs", None)?;
            if a.json {
                outln!("{}", serde_json::to_string_pretty(&v)?);
                return Ok(ExitCode::SUCCESS);
            }
            let runs = v["runs"].as_array().cloned().unwrap_or_default();
            if runs.is_empty() {
                outln!("No runs.");
            }
            for r in runs {
                let kind = match r["name"].as_str().or(r["workflow"].as_str()) {
                    Some(w) => format!("workflow {w}"),
                    None => r["kind"].as_str().unwrap_or("").to_string(),
                };
                outln!(
                    "{}  {:<24} {:<16} {:<20} {}",
                    r["id"].as_str().unwrap_or(""),
                    kind,
                    r["status"].as_str().unwrap_or(""),
                    r["who"].as_str().unwrap_or(""),
                    r["started_at"].as_str().unwrap_or("")
                );
            }
            Ok(ExitCode::SUCCESS)
        }
        Command::Approve(a) => {
            let verb = if a.reject { "reject" } else { "approve" };
            let v = api.call(
                "POST",
                &format!("/api/v1/runs/{}/{verb}", segment(&a.run)),
                Some(json!({ "step": a.step, "reason": a.reason })),
            )?;
            outln!(
                "{} step {} of run {} (now {}); the agent continues it.",
                if a.reject { "Rejected" } else { "Approved" },
                a.step,
                a.run,
                v["run"]["status"].as_str().unwrap_or("?")
            );
            Ok(ExitCode::SUCCESS)
        }
        Command::Workflow(WorkflowCommand::Run { name, inputs, .. }) => {
            let mut given = serde_json::Map::new();
            for i in inputs {
                let (k, text) = i
                    .split_once('=')
                    .ok_or_else(|| anyhow!("invalid --input {i:?}: expected NAME=VALUE"))?;
                // JSON when it parses (numbers, lists, objects), else the text.
                let v = serde_json::from_str::<Value>(text)
                    .unwrap_or_else(|_| Value::String(text.to_string()));
                given.insert(k.trim().to_string(), v);
            }
            let v = api.call(
                "POST",
                &format!("/api/v1/workflows/{}/runs", segment(name)),
                Some(json!({ "inputs": given })),
            )?;
            let id = v["run"]["id"].as_str().unwrap_or("?");
            outln!("Workflow run {id} started on the agent ({}).", v["run"]["status"].as_str().unwrap_or("?"));
            Ok(ExitCode::SUCCESS)
        }
        Command::Logs(a) => {
            let mut path = format!("/api/v1/runs/{}/logs", segment(&a.run));
            if let Some(s) = &a.step {
                path.push_str(&format!("?node={}", segment(s)));
            }
            let v = api.call("GET", &path, None)?;
            out!("{}", v["text"].as_str().unwrap_or(""));
            Ok(ExitCode::SUCCESS)
        }
        _ => bail!("--server works with runs, approve, workflow run and logs; run other commands on the agent's machine"),
    }
}

/// `runs show RUN` against the agent: the run and its graph's nodes (each action or step with
/// its status, attempts, duration and error).
fn show_run(api: &Api, id: &str, as_json: bool) -> anyhow::Result<ExitCode> {
    let v = api.call("GET", &format!("/api/v1/runs/{}", segment(id)), None)?;
    if as_json {
        outln!("{}", serde_json::to_string_pretty(&v)?);
        return Ok(ExitCode::SUCCESS);
    }
    let text = |k: &str| v[k].as_str().unwrap_or("").to_string();
    let what = match v["name"].as_str() {
        Some(n) => format!("workflow {n}"),
        None => text("kind"),
    };
    outln!("Run {}: {what}, {}", text("id"), text("status"));
    outln!("  started {} by {}", text("started_at"), text("who"));
    if let Some(f) = v["finished_at"].as_str() {
        outln!("  finished {f}");
    }
    if !text("summary").is_empty() {
        outln!("  {}", text("summary"));
    }
    for n in v["graph"]["nodes"].as_array().into_iter().flatten() {
        let duration = n["duration_ms"]
            .as_u64()
            .map(|ms| format!("{ms} ms"))
            .unwrap_or_default();
        outln!(
            "  {:<12} {:<40} attempts {:<3} {:>10}{}",
            n["status"].as_str().unwrap_or(""),
            n["label"].as_str().unwrap_or(""),
            n["attempts"]
                .as_u64()
                .map(|a| a.to_string())
                .unwrap_or_default(),
            duration,
            n["error"]
                .as_str()
                .map(|e| format!("  error: {e}"))
                .unwrap_or_default()
        );
    }
    Ok(ExitCode::SUCCESS)
}

struct Api {
    base: String,
    token: String,
    agent: ureq::Agent,
}

impl Api {
    fn new(server: &str, token: &str) -> anyhow::Result<Api> {
        let base = server.trim().trim_end_matches('/').to_string();
        if !(base.starts_with("http://") || base.starts_with("https://")) {
            bail!("--server {base:?}: give the agent's URL, e.g. https://agent.example:8443");
        }
        let agent = ureq::Agent::config_builder()
            .http_status_as_error(false)
            .timeout_global(Some(Duration::from_secs(60)))
            .build()
            .into();
        Ok(Api {
            base,
            token: token.to_string(),
            agent,
        })
    }

    /// Calls the API; a status that is not 2xx is an error with the server's message.
    fn call(&self, method: &str, path: &str, body: Option<Value>) -> anyhow::Result<Value> {
        let url = format!("{}{path}", self.base);
        let auth = format!("Bearer {}", self.token);
        let sent = match (method, body) {
            ("GET", _) => self.agent.get(&url).header("Authorization", &auth).call(),
            (_, b) => self
                .agent
                .post(&url)
                .header("Authorization", &auth)
                .header("Content-Type", "application/json")
                .send(b.unwrap_or(Value::Null).to_string()),
        };
        let mut resp = sent.map_err(|e| anyhow!("cannot reach the agent at {}: {e}", self.base))?;
        let status = resp.status().as_u16();
        let text = resp.body_mut().read_to_string().unwrap_or_default();
        let v: Value = serde_json::from_str(&text).unwrap_or(Value::Null);
        if !(200..300).contains(&status) {
            let msg = v["error"]
                .as_str()
                .map(str::to_string)
                .unwrap_or_else(|| text.chars().take(200).collect());
            bail!("the agent refused {method} {path} ({status}): {msg}");
        }
        Ok(v)
    }
}

/// A path segment, percent-encoded (run ids and step keys such as `smoke["a"]`).
fn segment(s: &str) -> String {
    let mut out = String::new();
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'~') {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}
