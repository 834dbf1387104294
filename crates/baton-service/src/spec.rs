//! The desired form of a service, as plain data: what the `service` resource's arguments say,
//! with durations parsed and defaults applied. Serializable (the agent reads it from the store
//! the `baton apply` that declared it wrote). Must not hold behaviour: drivers and the loop act
//! on it.

use std::collections::BTreeMap;
use std::time::Duration;

use serde::{Deserialize, Serialize};

/// One service: `replicas` copies of one workload.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ServiceSpec {
    /// The resource's name (`service.NAME`), unique within a stack.
    pub name: String,
    /// A hash of everything that makes a replica differ (command, image, env, ...): a change is
    /// a new version to roll out; `replicas` alone is not part of it.
    pub version: String,
    pub driver: DriverKind,
    /// `exec`: the argv (the first word found on PATH). `docker`: the container's command
    /// (empty: the image's).
    pub command: Vec<String>,
    /// `docker` only.
    pub image: Option<String>,
    pub env: BTreeMap<String, String>,
    /// `exec`: the working directory (relative to the stack's directory).
    pub workdir: Option<String>,
    /// `exec`: the user to run as (when the agent is root).
    pub user: Option<String>,
    pub replicas: u32,
    /// Named ports; each replica gets its own host port for each (`$PORT_NAME`, and `$PORT`
    /// for the first).
    pub ports: Vec<String>,
    pub health: Vec<HealthCheck>,
    pub restart: RestartPolicy,
    pub update: UpdatePolicy,
    pub stop_signal: String,
    pub kill_timeout: Duration,
    pub limits: Limits,
    /// `docker` only: bind mounts `HOST:CONTAINER[:ro]`.
    pub mounts: Vec<String>,
    /// `docker` only: `host`, `none`, `bridge` or a network name.
    pub network_mode: Option<String>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum DriverKind {
    Exec,
    Docker,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct HealthCheck {
    pub kind: CheckKind,
    /// The named port checked (`http`, `tcp`).
    pub port: Option<String>,
    /// `http`: the path; `command`: unused.
    pub path: String,
    /// `http`: the status expected (200..=399 when `None`).
    pub expect_status: Option<u16>,
    /// `command`: the argv, run in the replica's environment.
    pub command: Vec<String>,
    pub interval: Duration,
    pub timeout: Duration,
    /// Consecutive failures before the replica is unhealthy.
    pub failure_threshold: u32,
    /// Consecutive successes before it is healthy again.
    pub success_threshold: u32,
    /// No check counts before this much time after the start.
    pub grace: Duration,
    /// A startup check (Kubernetes' startupProbe): the others wait until it has passed once.
    pub startup: bool,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum CheckKind {
    Http,
    Tcp,
    Command,
}

/// Kubernetes' CrashLoopBackOff with the numbers as settings.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct RestartPolicy {
    /// The first delay; doubled after each failed start, up to `max_delay`.
    pub delay: Duration,
    pub max_delay: Duration,
    /// A replica that ran this long without failing resets the delay.
    pub reset_after: Duration,
    /// At most this many restarts within `interval` (`None`: no limit).
    pub attempts: Option<u32>,
    pub interval: Duration,
    /// What to do when `attempts` are used up.
    pub on_exhausted: OnExhausted,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum OnExhausted {
    /// The deployment fails (the apply waiting on it fails and rolls back).
    Fail,
    /// Keep trying at `max_delay`.
    KeepTrying,
}

/// Nomad's `update` block.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct UpdatePolicy {
    pub max_parallel: u32,
    pub min_healthy_time: Duration,
    pub healthy_deadline: Duration,
    pub progress_deadline: Duration,
    pub canary: u32,
    pub auto_revert: bool,
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Limits {
    /// Bytes.
    pub memory: Option<u64>,
    /// Thousandths of a CPU.
    pub cpu_millis: Option<u32>,
}

impl Default for RestartPolicy {
    fn default() -> Self {
        RestartPolicy {
            delay: Duration::from_secs(10),
            max_delay: Duration::from_secs(300),
            reset_after: Duration::from_secs(600),
            attempts: None,
            interval: Duration::from_secs(1800),
            on_exhausted: OnExhausted::KeepTrying,
        }
    }
}

impl Default for UpdatePolicy {
    fn default() -> Self {
        UpdatePolicy {
            max_parallel: 1,
            min_healthy_time: Duration::from_secs(10),
            healthy_deadline: Duration::from_secs(300),
            progress_deadline: Duration::from_secs(600),
            canary: 0,
            auto_revert: false,
        }
    }
}
