//! The `docker` driver: each replica is one container, made and controlled through the Docker
//! Engine API (the `bollard` client over the daemon's Unix socket).
//!
//! Everything the loop needs to find a replica again lives on the container itself: its name
//! (`baton-STACK-SERVICE-INDEX-VERSION`) and its labels (`baton.stack`, `baton.service`,
//! `baton.version`, `baton.index`, `baton.ports` as JSON, `baton.started_at`), so a restarted
//! agent's [`Driver::list`] adopts running containers. The driver holds no other state than a
//! connection and a small tokio runtime of its own (one worker thread), on which the sync trait methods `block_on`:
//! it must therefore not be called from inside an async task (use `spawn_blocking`).
//!
//! It must not pull images (they are expected on the daemon: pulled or imported beforehand) and
//! must not wait for health: `start` returns once the container runs.

use std::collections::{BTreeMap, HashMap};
use std::ops::ControlFlow;
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use bollard::container::LogOutput;
use bollard::errors::Error as ApiError;
use bollard::models::{ContainerCreateBody, HostConfig, HostConfigLogConfig, PortBinding};
use bollard::query_parameters::{
    CreateContainerOptions, KillContainerOptions, ListContainersOptions, LogsOptions,
    RemoveContainerOptions, WaitContainerOptions,
};
use bollard::Docker;
use futures_util::StreamExt;

use crate::driver::{Driver, DriverError, Liveness, Replica, ReplicaStart};

/// Label names on every container the driver makes.
pub const LABEL_STACK: &str = "baton.stack";
pub const LABEL_SERVICE: &str = "baton.service";
pub const LABEL_VERSION: &str = "baton.version";
pub const LABEL_INDEX: &str = "baton.index";
/// The replica's ports (`{"http": 8080}`), as JSON.
pub const LABEL_PORTS: &str = "baton.ports";
/// Seconds since the Unix epoch.
pub const LABEL_STARTED_AT: &str = "baton.started_at";

/// How the driver reaches the daemon and what it adds to every container.
#[derive(Clone, Debug, PartialEq)]
pub struct DockerOpts {
    /// The daemon's Unix socket.
    pub socket: PathBuf,
    /// Each request (not the waits of `stop`, which are bounded by `kill_timeout`) gives up
    /// after this long.
    pub request_timeout: Duration,
    /// Run Docker's init (`tini`) as PID 1: it forwards the stop signal to the command and
    /// reaps zombies. Without it the command is PID 1, which the kernel shields from every
    /// signal it has no handler for (a `TERM` would be ignored until `kill_timeout`).
    pub init: bool,
    /// The `json-file` log driver's rotation: the size of one file (`10m`) and how many files.
    pub log_max_size: String,
    pub log_max_files: u32,
}

impl DockerOpts {
    /// Defaults for a daemon listening on `socket`.
    pub fn new(socket: impl Into<PathBuf>) -> DockerOpts {
        DockerOpts {
            socket: socket.into(),
            request_timeout: Duration::from_secs(60),
            init: true,
            log_max_size: "10m".to_string(),
            log_max_files: 3,
        }
    }

    /// The socket `DOCKER_HOST` names (`unix:///…`), else `/var/run/docker.sock`.
    pub fn from_env() -> DockerOpts {
        let socket = std::env::var("DOCKER_HOST")
            .ok()
            .and_then(|h| h.strip_prefix("unix://").map(PathBuf::from))
            .unwrap_or_else(|| PathBuf::from("/var/run/docker.sock"));
        DockerOpts::new(socket)
    }
}

/// What [`DockerDriver::logs`] reads.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct LogsOpts {
    /// Only the last this many entries (`None`: all the daemon kept).
    pub tail: Option<usize>,
    pub follow: bool,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LogStream {
    Stdout,
    Stderr,
}

/// The `docker` driver. Cheap to keep for the agent's lifetime; the connection is made (and the
/// API version negotiated) on first use, so a daemon that starts after the agent is found.
pub struct DockerDriver {
    opts: DockerOpts,
    rt: tokio::runtime::Runtime,
    client: Mutex<Option<Docker>>,
}

impl DockerDriver {
    pub fn new(opts: DockerOpts) -> Result<DockerDriver, DriverError> {
        // One worker: it keeps the client's pooled connections serviced between calls, and
        // several threads of the agent may `block_on` at once.
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .thread_name("baton-docker")
            .enable_all()
            .build()
            .map_err(|e| DriverError::Other(format!("cannot make a tokio runtime: {e}")))?;
        Ok(DockerDriver {
            opts,
            rt,
            client: Mutex::new(None),
        })
    }

    pub fn opts(&self) -> &DockerOpts {
        &self.opts
    }

    /// Like [`Driver::liveness`], but an unreachable daemon is an error instead of `Gone`.
    pub fn try_liveness(&self, r: &Replica) -> Result<Liveness, DriverError> {
        self.rt.block_on(async {
            let docker = self.client().await?;
            match docker.inspect_container(&r.id, None).await {
                Ok(c) => Ok(liveness_of(c.state.as_ref())),
                Err(e) if status_of(&e) == Some(404) => Ok(Liveness::Gone),
                Err(e) => Err(self.error(e)),
            }
        })
    }

    /// The output the daemon kept of a replica (its `json-file` logs, rotated by size), each
    /// entry with the stream it came from, oldest first, given to `each` until it breaks. With
    /// `follow`, waits for new output until `each` breaks or the container ends.
    pub fn logs(
        &self,
        r: &Replica,
        opts: &LogsOpts,
        mut each: impl FnMut(LogStream, &[u8]) -> ControlFlow<()>,
    ) -> Result<(), DriverError> {
        self.rt.block_on(async {
            let docker = self.client().await?;
            let mut entries = docker.logs(
                &r.id,
                Some(LogsOptions {
                    follow: opts.follow,
                    stdout: true,
                    stderr: true,
                    tail: opts
                        .tail
                        .map_or_else(|| "all".to_string(), |n| n.to_string()),
                    ..Default::default()
                }),
            );
            while let Some(entry) = entries.next().await {
                let (stream, bytes) = match entry.map_err(|e| self.error(e))? {
                    LogOutput::StdErr { message } => (LogStream::Stderr, message),
                    LogOutput::StdOut { message } | LogOutput::Console { message } => {
                        (LogStream::Stdout, message)
                    }
                    LogOutput::StdIn { .. } => continue,
                };
                if each(stream, &bytes).is_break() {
                    break;
                }
            }
            Ok(())
        })
    }

    /// The connected client, connecting (and negotiating the API version, so old and new
    /// daemons both work) on first use.
    async fn client(&self) -> Result<Docker, DriverError> {
        if let Some(d) = self.client.lock().map_err(poisoned)?.as_ref() {
            return Ok(d.clone());
        }
        let socket = self.opts.socket.to_string_lossy().into_owned();
        let docker = Docker::connect_with_unix(
            &socket,
            self.opts.request_timeout.as_secs().max(1),
            bollard::API_DEFAULT_VERSION,
        )
        .map_err(|e| self.error(e))?
        .negotiate_version()
        .await
        .map_err(|e| self.error(e))?;
        *self.client.lock().map_err(poisoned)? = Some(docker.clone());
        Ok(docker)
    }

    /// An API failure as a driver error: a daemon that cannot be reached is `Unavailable`,
    /// naming the socket.
    fn error(&self, e: ApiError) -> DriverError {
        if is_unreachable(&e) {
            DriverError::Unavailable {
                driver: "docker".to_string(),
                message: format!(
                    "cannot reach the Docker daemon at {}: {e}",
                    self.opts.socket.display()
                ),
            }
        } else {
            DriverError::Other(format!("Docker API: {e}"))
        }
    }

    fn start_error(&self, r: &ReplicaStart<'_>, e: ApiError) -> DriverError {
        match self.error(e) {
            DriverError::Other(message) => DriverError::Start {
                service: r.spec.name.clone(),
                index: r.index,
                message,
            },
            other => other,
        }
    }

    async fn start_async(&self, r: &ReplicaStart<'_>) -> Result<Replica, DriverError> {
        let fail = |message: String| DriverError::Start {
            service: r.spec.name.clone(),
            index: r.index,
            message,
        };
        let image = r
            .spec
            .image
            .as_deref()
            .filter(|i| !i.is_empty())
            .ok_or_else(|| fail("the docker driver needs an image".to_string()))?;
        let binds = r
            .spec
            .mounts
            .iter()
            .map(|m| bind_of(m, &r.base_dir))
            .collect::<Result<Vec<_>, _>>()
            .map_err(fail)?;
        let started_at = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_secs())
            .unwrap_or(0);
        let ports_json = serde_json::to_string(&r.ports)
            .map_err(|e| fail(format!("cannot encode the ports: {e}")))?;
        let labels: HashMap<String, String> = [
            (LABEL_STACK, r.stack.to_string()),
            (LABEL_SERVICE, r.spec.name.clone()),
            (LABEL_VERSION, r.spec.version.clone()),
            (LABEL_INDEX, r.index.to_string()),
            (LABEL_PORTS, ports_json),
            (LABEL_STARTED_AT, started_at.to_string()),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_string(), v))
        .collect();

        let mut env: Vec<String> = r.spec.env.iter().map(|(k, v)| format!("{k}={v}")).collect();
        env.extend(
            port_env(&r.spec.ports, &r.ports)
                .into_iter()
                .map(|(k, v)| format!("{k}={v}")),
        );

        // Host networking: the container listens on the assigned host ports itself. Any other
        // mode but `none`: each assigned port is published host:N -> container:N, so the
        // command listens on the same number it is told in $PORT_NAME.
        let network_mode = r.spec.network_mode.clone();
        let publish = !matches!(network_mode.as_deref(), Some("host") | Some("none"))
            && !network_mode
                .as_deref()
                .is_some_and(|m| m.starts_with("container:"));
        let (exposed, bindings) = if publish && !r.ports.is_empty() {
            let keys: Vec<String> = r.ports.values().map(|p| format!("{p}/tcp")).collect();
            let bindings = r
                .ports
                .values()
                .map(|p| {
                    (
                        format!("{p}/tcp"),
                        Some(vec![PortBinding {
                            host_ip: None,
                            host_port: Some(p.to_string()),
                        }]),
                    )
                })
                .collect();
            (Some(keys), Some(bindings))
        } else {
            (None, None)
        };

        let host_config = HostConfig {
            binds: (!binds.is_empty()).then_some(binds),
            network_mode,
            port_bindings: bindings,
            memory: r.spec.limits.memory.map(|m| m as i64),
            nano_cpus: r.spec.limits.cpu_millis.map(|c| i64::from(c) * 1_000_000),
            init: Some(self.opts.init),
            log_config: Some(HostConfigLogConfig {
                typ: Some("json-file".to_string()),
                config: Some(HashMap::from([
                    ("max-size".to_string(), self.opts.log_max_size.clone()),
                    ("max-file".to_string(), self.opts.log_max_files.to_string()),
                ])),
            }),
            ..Default::default()
        };
        let body = ContainerCreateBody {
            image: Some(image.to_string()),
            cmd: (!r.spec.command.is_empty()).then(|| r.spec.command.clone()),
            env: Some(env),
            labels: Some(labels),
            exposed_ports: exposed,
            stop_signal: Some(signal_name(&r.spec.stop_signal)),
            stop_timeout: Some(r.spec.kill_timeout.as_secs() as i64),
            host_config: Some(host_config),
            ..Default::default()
        };
        let name = container_name(r.stack, &r.spec.name, r.index, &r.spec.version);
        let docker = self.client().await?;
        let create = |docker: Docker, body: ContainerCreateBody| {
            let name = name.clone();
            async move {
                docker
                    .create_container(
                        Some(CreateContainerOptions {
                            name: Some(name),
                            ..Default::default()
                        }),
                        body,
                    )
                    .await
            }
        };
        let created = match create(docker.clone(), body.clone()).await {
            Ok(c) => c,
            // A container of that name is left from an earlier run of this slot: replace it
            // if it ended, refuse if it runs (the loop should have adopted it).
            Err(e) if status_of(&e) == Some(409) => {
                let old = docker
                    .inspect_container(&name, None)
                    .await
                    .map_err(|e| self.start_error(r, e))?;
                if old.state.as_ref().and_then(|s| s.running) == Some(true) {
                    return Err(fail(format!(
                        "container {name} ({}) already runs",
                        old.id.unwrap_or_default()
                    )));
                }
                docker
                    .remove_container(
                        &name,
                        Some(RemoveContainerOptions {
                            force: true,
                            ..Default::default()
                        }),
                    )
                    .await
                    .map_err(|e| self.start_error(r, e))?;
                create(docker.clone(), body)
                    .await
                    .map_err(|e| self.start_error(r, e))?
            }
            Err(e) => return Err(self.start_error(r, e)),
        };
        if let Err(e) = docker.start_container(&created.id, None).await {
            let err = self.start_error(r, e);
            let _ = docker
                .remove_container(
                    &created.id,
                    Some(RemoveContainerOptions {
                        force: true,
                        ..Default::default()
                    }),
                )
                .await;
            return Err(err);
        }
        Ok(Replica {
            stack: r.stack.to_string(),
            service: r.spec.name.clone(),
            version: r.spec.version.clone(),
            index: r.index,
            id: created.id,
            ports: r.ports.clone(),
            started_at,
        })
    }

    async fn stop_async(
        &self,
        r: &Replica,
        stop_signal: &str,
        kill_timeout: Duration,
    ) -> Result<(), DriverError> {
        let docker = self.client().await?;
        let ended = match self.kill(&docker, &r.id, &signal_name(stop_signal)).await? {
            Killed::Gone => return Ok(()),
            Killed::NotRunning => true,
            Killed::Sent => self.wait_ended(&docker, &r.id, kill_timeout).await?,
        };
        if !ended {
            // SIGKILL to PID 1 of the container ends every process in it.
            if let Killed::Gone = self.kill(&docker, &r.id, "SIGKILL").await? {
                return Ok(());
            }
            if !self
                .wait_ended(&docker, &r.id, Duration::from_secs(60))
                .await?
            {
                return Err(DriverError::Other(format!(
                    "container {} still runs a minute after SIGKILL",
                    r.id
                )));
            }
        }
        match docker
            .remove_container(
                &r.id,
                Some(RemoveContainerOptions {
                    force: true,
                    ..Default::default()
                }),
            )
            .await
        {
            Ok(()) => Ok(()),
            Err(e) if status_of(&e) == Some(404) => Ok(()),
            Err(e) => Err(self.error(e)),
        }
    }

    async fn kill(&self, docker: &Docker, id: &str, signal: &str) -> Result<Killed, DriverError> {
        let opts = KillContainerOptions {
            signal: signal.to_string(),
        };
        match docker.kill_container(id, Some(opts)).await {
            Ok(()) => Ok(Killed::Sent),
            Err(e) if status_of(&e) == Some(404) => Ok(Killed::Gone),
            Err(e) if status_of(&e) == Some(409) => Ok(Killed::NotRunning),
            Err(e) => Err(self.error(e)),
        }
    }

    /// Waits until the container no longer runs, at most `limit`: whether it ended.
    async fn wait_ended(
        &self,
        docker: &Docker,
        id: &str,
        limit: Duration,
    ) -> Result<bool, DriverError> {
        let deadline = tokio::time::Instant::now() + limit;
        loop {
            let now = tokio::time::Instant::now();
            if now >= deadline {
                return Ok(false);
            }
            // In pieces shorter than the request timeout, which also applies to a wait.
            let piece = (deadline - now).min(self.opts.request_timeout / 2);
            let mut waits = docker.wait_container(
                id,
                Some(WaitContainerOptions {
                    condition: "not-running".to_string(),
                }),
            );
            match tokio::time::timeout(piece, waits.next()).await {
                Err(_elapsed) => continue,
                Ok(None) | Ok(Some(Ok(_))) => return Ok(true),
                // A non-zero exit is reported as an error by the client.
                Ok(Some(Err(ApiError::DockerContainerWaitError { .. }))) => return Ok(true),
                Ok(Some(Err(e))) if status_of(&e) == Some(404) => return Ok(true),
                Ok(Some(Err(ApiError::RequestTimeoutError))) => continue,
                Ok(Some(Err(e))) => return Err(self.error(e)),
            }
        }
    }

    async fn list_async(&self, stack: &str) -> Result<Vec<Replica>, DriverError> {
        let docker = self.client().await?;
        let filters =
            HashMap::from([("label".to_string(), vec![format!("{LABEL_STACK}={stack}")])]);
        let found = docker
            .list_containers(Some(ListContainersOptions {
                all: false,
                filters: Some(filters),
                ..Default::default()
            }))
            .await
            .map_err(|e| self.error(e))?;
        let mut replicas: Vec<Replica> = found
            .into_iter()
            .filter_map(|c| {
                let id = c.id?;
                replica_of_labels(id, &c.labels.unwrap_or_default())
            })
            .filter(|r| r.stack == stack)
            .collect();
        replicas.sort_by(|a, b| {
            (&a.service, a.index, &a.version, &a.id).cmp(&(&b.service, b.index, &b.version, &b.id))
        });
        Ok(replicas)
    }
}

impl Driver for DockerDriver {
    fn name(&self) -> &'static str {
        "docker"
    }

    /// Creates and starts the container; a container left under the same name by an ended
    /// replica of the same slot and version is removed first.
    fn start(&self, r: &ReplicaStart<'_>) -> Result<Replica, DriverError> {
        self.rt.block_on(self.start_async(r))
    }

    /// From the container's state. A daemon that cannot be reached reads as `Gone` (the trait
    /// has no error here); [`DockerDriver::try_liveness`] tells the two apart.
    fn liveness(&self, r: &Replica) -> Liveness {
        self.try_liveness(r).unwrap_or(Liveness::Gone)
    }

    /// `stop_signal` through the kill API, up to `kill_timeout` for the container to end, then
    /// SIGKILL; then the container is removed (its logs with it).
    fn stop(
        &self,
        r: &Replica,
        stop_signal: &str,
        kill_timeout: Duration,
    ) -> Result<(), DriverError> {
        self.rt
            .block_on(self.stop_async(r, stop_signal, kill_timeout))
    }

    /// Running containers labelled with the stack. Ended containers are not replicas: they stay
    /// (for `docker logs` and `docker inspect`) until their slot starts again or they are stopped.
    fn list(&self, stack: &str) -> Result<Vec<Replica>, DriverError> {
        self.rt.block_on(self.list_async(stack))
    }
}

/// The environment that tells a replica its ports: `PORT_NAME` for each (upper case, other
/// characters than letters and digits as `_`), and `PORT` for the first port of the spec.
pub fn port_env(names: &[String], ports: &BTreeMap<String, u16>) -> Vec<(String, String)> {
    let mut env = Vec::new();
    for (i, name) in names.iter().enumerate() {
        let Some(port) = ports.get(name) else {
            continue;
        };
        let var: String = name
            .chars()
            .map(|c| {
                if c.is_ascii_alphanumeric() {
                    c.to_ascii_uppercase()
                } else {
                    '_'
                }
            })
            .collect();
        env.push((format!("PORT_{var}"), port.to_string()));
        if i == 0 {
            env.push(("PORT".to_string(), port.to_string()));
        }
    }
    env
}

/// `baton-STACK-SERVICE-INDEX-VERSION`, with characters Docker does not allow in names
/// replaced and the version shortened to 12 characters.
pub fn container_name(stack: &str, service: &str, index: u32, version: &str) -> String {
    let clean = |s: &str| -> String {
        s.chars()
            .map(|c| {
                if c.is_ascii_alphanumeric() || c == '_' || c == '.' {
                    c
                } else {
                    '_'
                }
            })
            .collect()
    };
    let version: String = clean(version).chars().take(12).collect();
    format!(
        "baton-{}-{}-{index}-{version}",
        clean(stack),
        clean(service)
    )
}

enum Killed {
    Sent,
    NotRunning,
    Gone,
}

/// `TERM`, `SIGTERM` and `15` all name SIGTERM for Docker; empty means SIGTERM.
fn signal_name(s: &str) -> String {
    let s = s.trim();
    if s.is_empty() {
        "SIGTERM".to_string()
    } else if s.chars().all(|c| c.is_ascii_digit()) || s.to_ascii_uppercase().starts_with("SIG") {
        s.to_ascii_uppercase()
    } else {
        format!("SIG{}", s.to_ascii_uppercase())
    }
}

/// `HOST:CONTAINER[:ro|:rw]` with a relative host path taken from the stack's directory.
fn bind_of(mount: &str, base: &Path) -> Result<String, String> {
    let parts: Vec<&str> = mount.split(':').collect();
    let (host, container, mode) = match parts.as_slice() {
        [h, c] => (*h, *c, None),
        [h, c, m @ ("ro" | "rw")] => (*h, *c, Some(*m)),
        _ => return Err(format!("mount {mount:?} is not HOST:CONTAINER[:ro]")),
    };
    if host.is_empty() || !container.starts_with('/') {
        return Err(format!(
            "mount {mount:?}: the container path must be absolute and the host path given"
        ));
    }
    let host = if Path::new(host).is_absolute() {
        PathBuf::from(host)
    } else {
        base.join(host)
    };
    let mut bind = format!("{}:{container}", host.display());
    if let Some(m) = mode {
        bind.push(':');
        bind.push_str(m);
    }
    Ok(bind)
}

fn liveness_of(state: Option<&bollard::models::ContainerState>) -> Liveness {
    let Some(state) = state else {
        return Liveness::Gone;
    };
    if state.running == Some(true) {
        return Liveness::Running;
    }
    if state.oom_killed == Some(true) {
        return Liveness::Exited {
            code: None,
            signal: Some(9),
        };
    }
    match state.exit_code {
        // Docker (and its init) report a death by signal N as 128 + N, as shells do.
        Some(c) if (129..=128 + 64).contains(&c) => Liveness::Exited {
            code: None,
            signal: Some((c - 128) as i32),
        },
        Some(c) => Liveness::Exited {
            code: Some(c as i32),
            signal: None,
        },
        None => Liveness::Exited {
            code: None,
            signal: None,
        },
    }
}

fn replica_of_labels(id: String, labels: &HashMap<String, String>) -> Option<Replica> {
    Some(Replica {
        stack: labels.get(LABEL_STACK)?.clone(),
        service: labels.get(LABEL_SERVICE)?.clone(),
        version: labels.get(LABEL_VERSION)?.clone(),
        index: labels.get(LABEL_INDEX)?.parse().ok()?,
        id,
        ports: labels
            .get(LABEL_PORTS)
            .and_then(|p| serde_json::from_str(p).ok())
            .unwrap_or_default(),
        started_at: labels
            .get(LABEL_STARTED_AT)
            .and_then(|s| s.parse().ok())
            .unwrap_or(0),
    })
}

fn status_of(e: &ApiError) -> Option<u16> {
    match e {
        ApiError::DockerResponseServerError { status_code, .. } => Some(*status_code),
        _ => None,
    }
}

fn is_unreachable(e: &ApiError) -> bool {
    matches!(
        e,
        ApiError::HyperLegacyError { .. }
            | ApiError::IOError { .. }
            | ApiError::SocketNotFoundError(_)
            | ApiError::RequestTimeoutError
    )
}

fn poisoned<T>(_: std::sync::PoisonError<T>) -> DriverError {
    DriverError::Other("the Docker client's lock is poisoned".to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_ports_and_signals() {
        assert_eq!(
            container_name("my stack", "web", 2, "0123456789abcdef"),
            "baton-my_stack-web-2-0123456789ab"
        );
        let ports = BTreeMap::from([("http".to_string(), 8080), ("admin-ui".to_string(), 9090)]);
        let names = vec!["http".to_string(), "admin-ui".to_string()];
        assert_eq!(
            port_env(&names, &ports),
            vec![
                ("PORT_HTTP".to_string(), "8080".to_string()),
                ("PORT".to_string(), "8080".to_string()),
                ("PORT_ADMIN_UI".to_string(), "9090".to_string()),
            ]
        );
        assert_eq!(signal_name("TERM"), "SIGTERM");
        assert_eq!(signal_name("sigint"), "SIGINT");
        assert_eq!(signal_name(""), "SIGTERM");
        assert_eq!(signal_name("9"), "9");
        assert_eq!(
            bind_of("data:/data:ro", Path::new("/stack")),
            Ok("/stack/data:/data:ro".to_string())
        );
        assert!(bind_of("/a:rel", Path::new("/")).is_err());
    }
}
