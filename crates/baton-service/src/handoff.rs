//! The hand-off between `baton apply` and the agent (`baton serve`), typed: desired
//! [`ServiceSpec`]s, the agent's lease and its [`Report`], over a stack environment's
//! [`ServiceBoard`] (kept in the stack's store: `.baton/services.db` beside an SQLite state
//! file, or the stack's PostgreSQL schema — see `baton_core::board`).
//!
//! Also the agent's own directories on its machine ([`AgentDirs`]: driver records, supervisor
//! state, replicas' logs), which are not shared.
//!
//! Must not decide anything: it reads and writes, the resource and the agent act.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use baton_core::board::{AgentId, AgentLease, BoardError, DesiredService, ServiceBoard};
use serde::{Deserialize, Serialize};

use crate::spec::ServiceSpec;
use crate::supervisor::ServiceStatus;

/// How long an agent's lease on a stack lasts unless renewed (it renews about twice a
/// second). Another agent takes the stack over after this long without renewals; on the same
/// machine, at once when the holder's process is gone.
pub const LEASE: Duration = Duration::from_secs(5);

#[derive(Debug, thiserror::Error)]
pub enum HandoffError {
    #[error("service board {board}: {source}")]
    Board { board: String, source: BoardError },
    #[error("service board {board}: cannot decode {what}: {source}")]
    Decode {
        board: String,
        what: String,
        source: serde_json::Error,
    },
}

/// What the lease holder reports for its stack.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Report {
    /// The agent's machine and process.
    pub host: String,
    pub pid: u32,
    /// Where the agent keeps the replicas' log files of this stack, on its machine.
    pub log_dir: PathBuf,
    pub services: Vec<ServiceStatus>,
}

/// A report as read back, with its age by the store's clock.
#[derive(Clone, Debug)]
pub struct ReadReport {
    pub report: Report,
    pub age_ms: u64,
}

/// Typed access to one stack environment's board.
#[derive(Clone, Debug)]
pub struct Handoff {
    board: Arc<dyn ServiceBoard>,
}

impl Handoff {
    pub fn new(board: Arc<dyn ServiceBoard>) -> Handoff {
        Handoff { board }
    }

    /// The board of `dir`'s default environment when the caller hands none: the SQLite board
    /// beside `.baton/state.db`.
    pub fn default_for(dir: &Path) -> Handoff {
        let state = baton_state::sqlite::default_path(dir, "default");
        Handoff::new(Arc::new(baton_state::SqliteBoard::new(
            &baton_state::board_sqlite::beside(&state),
        )))
    }

    pub fn describe(&self) -> String {
        self.board.describe()
    }

    fn err(&self) -> impl Fn(BoardError) -> HandoffError + '_ {
        |source| HandoffError::Board {
            board: self.board.describe(),
            source,
        }
    }

    /// Records `spec` as desired, for the stack named `stack` in `dir`.
    pub fn write_desired(
        &self,
        stack: &str,
        dir: &Path,
        spec: &ServiceSpec,
    ) -> Result<(), HandoffError> {
        let text = serde_json::to_string(spec).map_err(|source| HandoffError::Decode {
            board: self.describe(),
            what: format!("service {}", spec.name),
            source,
        })?;
        self.board
            .put_desired(&DesiredService {
                name: spec.name.clone(),
                stack: stack.to_string(),
                dir: dir.display().to_string(),
                spec: text,
            })
            .map_err(self.err())
    }

    pub fn remove_desired(&self, service: &str) -> Result<(), HandoffError> {
        self.board.remove_desired(service).map_err(self.err())
    }

    /// Every desired service, by name.
    pub fn read_desired(&self) -> Result<Vec<ServiceSpec>, HandoffError> {
        let rows = self.board.desired().map_err(self.err())?;
        rows.into_iter()
            .map(|d| {
                serde_json::from_str::<ServiceSpec>(&d.spec)
                    .map(|mut s| {
                        s.name = d.name.clone();
                        s
                    })
                    .map_err(|source| HandoffError::Decode {
                        board: self.describe(),
                        what: format!("desired service {}", d.name),
                        source,
                    })
            })
            .collect()
    }

    /// Asks the agent for a rolling restart of `service`: its desired version gains the next
    /// restart generation ([`restarted_version`]), which the supervisor rolls out as it rolls
    /// out any new version — `max_parallel` replicas at a time, each new one healthy before an
    /// old one stops, reverted if the new ones do not become healthy. The new version, or
    /// `None` when no such service is desired.
    pub fn request_restart(&self, service: &str) -> Result<Option<String>, HandoffError> {
        let rows = self.board.desired().map_err(self.err())?;
        let Some(row) = rows.into_iter().find(|d| d.name == service) else {
            return Ok(None);
        };
        let mut spec: ServiceSpec =
            serde_json::from_str(&row.spec).map_err(|source| HandoffError::Decode {
                board: self.describe(),
                what: format!("desired service {}", row.name),
                source,
            })?;
        spec.name = row.name.clone();
        spec.version = restarted_version(&spec.version);
        self.write_desired(&row.stack, Path::new(&row.dir), &spec)?;
        Ok(Some(spec.version))
    }

    pub fn has_desired(&self, service: &str) -> Result<bool, HandoffError> {
        Ok(self
            .board
            .desired()
            .map_err(self.err())?
            .iter()
            .any(|d| d.name == service))
    }

    /// Takes or renews the lease for `me`; `Some(holder)` when another live agent has it. A
    /// holder on this machine whose process is gone is not live: its lease is taken over.
    pub fn claim(&self, me: &AgentId) -> Result<Option<AgentLease>, HandoffError> {
        match self.board.claim(me, LEASE).map_err(self.err())? {
            Some(other) if other.agent.host == me.host && !process_alive(other.agent.pid) => {
                self.board.release(&other.agent.id).map_err(self.err())?;
                self.board.claim(me, LEASE).map_err(self.err())
            }
            other => Ok(other),
        }
    }

    pub fn release(&self, me: &AgentId) -> Result<(), HandoffError> {
        self.board.release(&me.id).map_err(self.err())
    }

    /// The agent serving the stack: a live lease whose process, when it is on this machine,
    /// still exists.
    pub fn live_agent(&self) -> Result<Option<AgentLease>, HandoffError> {
        let lease = self.board.agent().map_err(self.err())?;
        let host = this_host();
        Ok(lease.filter(|l| l.agent.host != host || process_alive(l.agent.pid)))
    }

    pub fn write_report(&self, me: &AgentId, report: &Report) -> Result<(), HandoffError> {
        let text = serde_json::to_string(report).map_err(|source| HandoffError::Decode {
            board: self.describe(),
            what: "the agent's report".into(),
            source,
        })?;
        self.board.put_status(&me.id, &text).map_err(self.err())
    }

    pub fn read_report(&self) -> Result<Option<ReadReport>, HandoffError> {
        let Some(s) = self.board.status().map_err(self.err())? else {
            return Ok(None);
        };
        let report = serde_json::from_str(&s.body).map_err(|source| HandoffError::Decode {
            board: self.describe(),
            what: "the agent's report".into(),
            source,
        })?;
        Ok(Some(ReadReport {
            report,
            age_ms: s.age_ms,
        }))
    }

    /// The service named `name` as the agent last reported it.
    pub fn reported(&self, name: &str) -> Result<Option<ServiceStatus>, HandoffError> {
        Ok(self
            .read_report()?
            .and_then(|r| r.report.services.into_iter().find(|s| s.name == name)))
    }
}

/// This agent process's identity: host, pid and a random part (a pid can be reused).
pub fn agent_id() -> AgentId {
    let host = this_host();
    let pid = std::process::id();
    AgentId {
        id: format!("{host}/{pid}/{}", baton_state::stamp::random_id()),
        host,
        pid,
    }
}

pub fn this_host() -> String {
    baton_state::lock::hostname().unwrap_or_else(|| "localhost".to_string())
}

fn process_alive(pid: u32) -> bool {
    match i32::try_from(pid) {
        Ok(p) if p > 0 => nix::sys::signal::kill(nix::unistd::Pid::from_raw(p), None).is_ok(),
        _ => false,
    }
}

/// What a restart adds to a version: `+restart.N`.
pub const RESTART_MARK: &str = "+restart.";

/// `version` with the next restart generation: `v` → `v+restart.1` → `v+restart.2`. A new
/// version written by an apply starts again without one.
pub fn restarted_version(version: &str) -> String {
    if let Some((base, n)) = version.rsplit_once(RESTART_MARK) {
        if let Ok(n) = n.parse::<u64>() {
            return format!("{base}{RESTART_MARK}{}", n.saturating_add(1));
        }
    }
    format!("{version}{RESTART_MARK}1")
}

/// The agent's own directories on its machine, under `root` (the serving directory's
/// `.baton/services/`).
#[derive(Clone, Debug)]
pub struct AgentDirs {
    root: PathBuf,
}

impl AgentDirs {
    pub fn new(dir: &Path) -> AgentDirs {
        AgentDirs {
            root: dir.join(".baton").join("services"),
        }
    }

    pub fn root(&self) -> &Path {
        &self.root
    }

    /// The drivers' records and the supervisor's state.
    pub fn agent_dir(&self) -> PathBuf {
        self.root.join("agent")
    }

    /// The replicas' log files: `logs/<stack>/<service>.<index>.{out,err}.log`.
    pub fn log_dir(&self) -> PathBuf {
        self.root.join("logs")
    }
}

/// A stack's name for the agent: the last component of its directory, with characters other
/// than letters, digits, `-` and `_` as `_` (`stack` when there is none).
pub fn stack_name(dir: &Path) -> String {
    let base = dir
        .canonicalize()
        .ok()
        .and_then(|d| d.file_name().map(|n| n.to_string_lossy().into_owned()))
        .or_else(|| dir.file_name().map(|n| n.to_string_lossy().into_owned()))
        .unwrap_or_default();
    let s: String = base
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' || c == '_' {
                c
            } else {
                '_'
            }
        })
        .collect();
    if s.is_empty() {
        "stack".to_string()
    } else {
        s
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_restart_bumps_the_generation_of_the_version() {
        assert_eq!(restarted_version("abc"), "abc+restart.1");
        assert_eq!(restarted_version("abc+restart.1"), "abc+restart.2");
        assert_eq!(
            restarted_version("abc+restart.x"),
            "abc+restart.x+restart.1"
        );
    }

    #[test]
    fn a_restart_request_rewrites_the_desired_spec_with_the_next_generation() {
        let dir = tempfile::tempdir().expect("a temporary directory");
        let h = Handoff::default_for(dir.path());
        let spec = ServiceSpec {
            name: "web".into(),
            version: "v1".into(),
            driver: crate::spec::DriverKind::Exec,
            command: vec!["true".into()],
            image: None,
            env: Default::default(),
            workdir: None,
            user: None,
            replicas: 2,
            ports: Vec::new(),
            health: Vec::new(),
            restart: Default::default(),
            update: Default::default(),
            stop_signal: "TERM".into(),
            kill_timeout: Duration::from_secs(1),
            limits: Default::default(),
            mounts: Vec::new(),
            network_mode: None,
        };
        h.write_desired("stack", dir.path(), &spec).expect("write");
        assert_eq!(h.request_restart("nope").expect("board"), None);
        assert_eq!(
            h.request_restart("web").expect("board").as_deref(),
            Some("v1+restart.1")
        );
        assert_eq!(
            h.request_restart("web").expect("board").as_deref(),
            Some("v1+restart.2")
        );
        let desired = h.read_desired().expect("read");
        assert_eq!(desired.len(), 1);
        assert_eq!(desired[0].version, "v1+restart.2");
        // Everything else is as the apply wrote it.
        let mut back = desired[0].clone();
        back.version = spec.version.clone();
        assert_eq!(back, spec);
    }
}
