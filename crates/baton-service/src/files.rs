//! The hand-off between `baton apply` and the agent (`baton serve`), as files under the stack's
//! `.baton/services/`:
//!
//! - `desired/<stack>/<service>.json`: one [`ServiceSpec`] per service the stack declares,
//!   written by the `service` resource's apply (atomically: a temporary sibling, then a
//!   rename), removed by its destroy. One file per service, so the actions of one run never
//!   rewrite each other's services.
//! - `status.json`: what the agent's supervisor reports ([`StatusFile`]), rewritten when it
//!   changes.
//! - `agent.json`: the agent's heartbeat ([`Heartbeat`], its pid and the time), rewritten about
//!   twice a second and removed when the agent stops; an apply finds no agent when the file is
//!   missing, stale or names a process that is gone.
//! - `agent/` (the exec driver's and the supervisor's own state) and `logs/` (the replicas'
//!   log files).
//!
//! Must not decide anything: it reads and writes, the resource and the agent act.

use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use serde::{Deserialize, Serialize};

use crate::spec::ServiceSpec;
use crate::supervisor::ServiceStatus;

/// A heartbeat older than this means the agent is gone.
pub const HEARTBEAT_STALE: Duration = Duration::from_secs(5);

#[derive(Debug, thiserror::Error)]
pub enum FilesError {
    #[error("cannot {action} {path}: {source}")]
    Io {
        action: &'static str,
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("cannot decode {path}: {source}")]
    Decode {
        path: PathBuf,
        source: serde_json::Error,
    },
}

/// The agent's report: every service it supervises for the stack, at a time.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct StatusFile {
    /// Milliseconds since the Unix epoch.
    pub time_ms: u64,
    pub services: Vec<ServiceStatus>,
}

/// The agent's sign of life.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Heartbeat {
    pub pid: u32,
    /// Milliseconds since the Unix epoch.
    pub time_ms: u64,
}

/// The services files of one stack directory.
#[derive(Clone, Debug)]
pub struct ServiceFiles {
    root: PathBuf,
    stack: String,
}

impl ServiceFiles {
    /// The files of the stack in `dir` (its name is [`stack_name`] of `dir`).
    pub fn new(dir: &Path) -> ServiceFiles {
        ServiceFiles {
            root: dir.join(".baton").join("services"),
            stack: stack_name(dir),
        }
    }

    pub fn stack(&self) -> &str {
        &self.stack
    }

    pub fn root(&self) -> &Path {
        &self.root
    }

    /// The agent's own state (exec driver records, supervisor state).
    pub fn agent_dir(&self) -> PathBuf {
        self.root.join("agent")
    }

    /// The replicas' log files.
    pub fn log_dir(&self) -> PathBuf {
        self.root.join("logs")
    }

    fn desired_dir(&self) -> PathBuf {
        self.root.join("desired").join(&self.stack)
    }

    fn desired_path(&self, service: &str) -> PathBuf {
        self.desired_dir()
            .join(format!("{}.json", file_safe(service)))
    }

    pub fn write_desired(&self, spec: &ServiceSpec) -> Result<(), FilesError> {
        let text = serde_json::to_string_pretty(spec).map_err(|e| FilesError::Decode {
            path: self.desired_path(&spec.name),
            source: e,
        })?;
        write_atomic(&self.desired_path(&spec.name), text.as_bytes())
    }

    pub fn remove_desired(&self, service: &str) -> Result<(), FilesError> {
        let path = self.desired_path(service);
        match std::fs::remove_file(&path) {
            Ok(()) => Ok(()),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
            Err(e) => Err(FilesError::Io {
                action: "remove",
                path,
                source: e,
            }),
        }
    }

    pub fn has_desired(&self, service: &str) -> bool {
        self.desired_path(service).is_file()
    }

    /// Every desired service of the stack, by name.
    pub fn read_desired(&self) -> Result<Vec<ServiceSpec>, FilesError> {
        let dir = self.desired_dir();
        let entries = match std::fs::read_dir(&dir) {
            Ok(e) => e,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
            Err(e) => {
                return Err(FilesError::Io {
                    action: "read",
                    path: dir,
                    source: e,
                })
            }
        };
        let mut out = Vec::new();
        for e in entries.flatten() {
            let path = e.path();
            if path.extension().and_then(|x| x.to_str()) != Some("json") {
                continue;
            }
            if let Some(spec) = read_json::<ServiceSpec>(&path)? {
                out.push(spec);
            }
        }
        out.sort_by(|a, b| a.name.cmp(&b.name));
        Ok(out)
    }

    pub fn write_status(&self, services: Vec<ServiceStatus>) -> Result<(), FilesError> {
        let f = StatusFile {
            time_ms: now_ms(),
            services,
        };
        let path = self.root.join("status.json");
        let text = serde_json::to_string_pretty(&f).map_err(|e| FilesError::Decode {
            path: path.clone(),
            source: e,
        })?;
        write_atomic(&path, text.as_bytes())
    }

    pub fn read_status(&self) -> Result<Option<StatusFile>, FilesError> {
        read_json(&self.root.join("status.json"))
    }

    pub fn write_heartbeat(&self) -> Result<(), FilesError> {
        let hb = Heartbeat {
            pid: std::process::id(),
            time_ms: now_ms(),
        };
        let text = serde_json::to_string(&hb).map_err(|e| FilesError::Decode {
            path: self.root.join("agent.json"),
            source: e,
        })?;
        write_atomic(&self.root.join("agent.json"), text.as_bytes())
    }

    /// Removes this process's heartbeat (an agent stopping).
    pub fn remove_heartbeat(&self) {
        if let Ok(Some(hb)) = read_json::<Heartbeat>(&self.root.join("agent.json")) {
            if hb.pid == std::process::id() {
                let _ = std::fs::remove_file(self.root.join("agent.json"));
            }
        }
    }

    /// The heartbeat of a live agent: recent, and its process still exists.
    pub fn live_agent(&self) -> Option<Heartbeat> {
        let hb = read_json::<Heartbeat>(&self.root.join("agent.json")).ok()??;
        let age = now_ms().saturating_sub(hb.time_ms);
        if age > HEARTBEAT_STALE.as_millis() as u64 {
            return None;
        }
        let pid = i32::try_from(hb.pid).ok()?;
        nix::sys::signal::kill(nix::unistd::Pid::from_raw(pid), None).ok()?;
        Some(hb)
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
    let s = file_safe(&base);
    if s.is_empty() {
        "stack".to_string()
    } else {
        s
    }
}

fn file_safe(s: &str) -> String {
    s.chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' || c == '_' {
                c
            } else {
                '_'
            }
        })
        .collect()
}

pub fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as u64)
}

fn read_json<T: serde::de::DeserializeOwned>(path: &Path) -> Result<Option<T>, FilesError> {
    let text = match std::fs::read_to_string(path) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => {
            return Err(FilesError::Io {
                action: "read",
                path: path.to_path_buf(),
                source: e,
            })
        }
    };
    serde_json::from_str(&text)
        .map(Some)
        .map_err(|e| FilesError::Decode {
            path: path.to_path_buf(),
            source: e,
        })
}

fn write_atomic(path: &Path, bytes: &[u8]) -> Result<(), FilesError> {
    let io = |action, path: &Path| {
        let path = path.to_path_buf();
        move |source| FilesError::Io {
            action,
            path,
            source,
        }
    };
    if let Some(parent) = path.parent() {
        std::fs::create_dir_all(parent).map_err(io("create", parent))?;
    }
    let tmp = path.with_extension(format!("tmp.{}", std::process::id()));
    std::fs::write(&tmp, bytes).map_err(io("write", &tmp))?;
    std::fs::rename(&tmp, path).map_err(io("rename", path))
}
