//! The agent's level-triggered loop over services: given the desired services of each stack,
//! [`Supervisor::reconcile_once`] compares them with the replicas the drivers report and acts —
//! adopts replicas found running (after an agent restart), starts missing ones, restarts dead
//! or unhealthy ones on the restart schedule, stops those that should not exist, and rolls a
//! new version out `max_parallel` replicas at a time (after `canary` replicas beside the old
//! ones are healthy, when asked), reverting to the last healthy version when a new replica is
//! not healthy in time or the rollout makes no progress within `progress_deadline`. It returns how long until something is due
//! (kube-rs' "requeue after"); [`Supervisor::run`] is the loop around it.
//!
//! A reconciliation must not sleep or wait on a replica: health checks and graceful stops run
//! on their own threads and report back through a channel. It must not lose a replica: every
//! replica is either in the in-memory state, being stopped, or findable through a driver's
//! `list`. Its own state (desired specs, the last healthy spec, deployment states, restart
//! counts) is persisted as one JSON file per stack under `state_dir/supervisor`, so a
//! restarted supervisor resumes where it was.

use std::collections::{BTreeMap, BTreeSet};
use std::fs;
use std::io;
use std::net::{Ipv4Addr, TcpListener};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{channel, Receiver, RecvTimeoutError, Sender};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use serde::{Deserialize, Serialize};

use crate::driver::{Driver, DriverError, Liveness, Replica, ReplicaStart};
use crate::health::{run_check, Health, HealthTracker};
use crate::restart::{Backoff, Decision};
use crate::spec::{DriverKind, ServiceSpec};

/// `run` sleeps at least this long between reconciliations...
pub const MIN_REQUEUE: Duration = Duration::from_millis(10);
/// ...and at most this long (a replica's death is noticed within it).
pub const MAX_REQUEUE: Duration = Duration::from_secs(1);
/// Restart events kept per slot in the status.
pub const HISTORY: usize = 20;

#[derive(Debug, thiserror::Error)]
pub enum SupervisorError {
    #[error("cannot {action} {path}: {source}")]
    Io {
        action: &'static str,
        path: PathBuf,
        source: io::Error,
    },
    #[error("cannot decode {path}: {source}")]
    Decode {
        path: PathBuf,
        source: serde_json::Error,
    },
}

/// Where a service's deployment is.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum DeploymentState {
    /// First start: replicas are starting and not all healthy yet.
    Running,
    /// A new version is replacing the replicas.
    RollingOut,
    /// A rollout failed and the last healthy version is being rolled back.
    Reverting { reason: String },
    /// A rollout (or a replica's restarts) failed and nothing was reverted.
    Failed { reason: String },
    /// A rollout failed and the last healthy version runs again.
    Reverted { reason: String },
    /// Every replica runs the desired version and is healthy.
    Healthy,
}

/// How a replica ended.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ExitInfo {
    pub code: Option<i32>,
    pub signal: Option<i32>,
    /// `exited`, `gone`, `unhealthy`, or `start failed: ...`.
    pub reason: String,
}

/// One restart decided by the restart policy.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct RestartEvent {
    /// Milliseconds since the Unix epoch when the failure was seen.
    pub failed_at_ms: u64,
    /// The backoff delay the policy chose.
    pub delay: Duration,
    /// When the replacement was started (`None`: not yet, or given up).
    pub restarted_at_ms: Option<u64>,
}

/// The record of one replica slot (an index of a service).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct SlotRecord {
    pub restarts: u32,
    pub last_exit: Option<ExitInfo>,
    /// The last [`HISTORY`] restarts, oldest first.
    pub history: Vec<RestartEvent>,
    /// The policy's attempts are used up and it says fail: no more restarts.
    pub exhausted: bool,
    /// The ports the slot's replica last had (by port name): its replacement gets them again
    /// when they are still free, as a Nomad allocation keeps its dynamic ports.
    #[serde(default)]
    pub ports: BTreeMap<String, u16>,
}

/// One running replica as the loop sees it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReplicaStatus {
    pub index: u32,
    pub id: String,
    pub version: String,
    pub health: Health,
    pub healthy: bool,
    pub ports: BTreeMap<String, u16>,
    pub restarts: u32,
    pub last_exit: Option<ExitInfo>,
}

/// One service as the loop sees it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ServiceStatus {
    pub stack: String,
    pub name: String,
    /// The desired version.
    pub version: String,
    /// The version being run (the desired one, or the last healthy one after a revert).
    pub target_version: String,
    pub desired_replicas: u32,
    pub deployment: DeploymentState,
    pub replicas: Vec<ReplicaStatus>,
    pub slots: BTreeMap<u32, SlotRecord>,
    /// The last error of a driver call (a stop that failed, a list that failed).
    pub last_error: Option<String>,
}

impl ServiceStatus {
    pub fn healthy_count(&self) -> usize {
        self.replicas.iter().filter(|r| r.healthy).count()
    }
}

/// Supervises the services of any number of stacks.
pub struct Supervisor {
    inner: Mutex<Inner>,
    wake_tx: Sender<()>,
    wake_rx: Mutex<Receiver<()>>,
}

struct Inner {
    drivers: Vec<Arc<dyn Driver>>,
    state_dir: PathBuf,
    log_dir: PathBuf,
    stacks: BTreeMap<String, StackState>,
    ports: BTreeSet<u16>,
    events_tx: Sender<Event>,
    events_rx: Receiver<Event>,
}

struct StackState {
    base_dir: PathBuf,
    adopted: bool,
    services: BTreeMap<String, ServiceState>,
    saved: String,
}

struct ServiceState {
    desired: ServiceSpec,
    target: ServiceSpec,
    last_good: Option<ServiceSpec>,
    deployment: DeploymentState,
    failed_version: Option<String>,
    removed: bool,
    replicas: Vec<Live>,
    /// Ids of replicas being stopped on a thread.
    stopping: BTreeMap<String, Replica>,
    slots: BTreeMap<u32, Slot>,
    /// Slots being replaced by the rollout, with their deadline.
    in_flight: BTreeMap<u32, Instant>,
    /// The rollout is in its canary phase: the first `update.canary` slots run a new replica
    /// beside their old one, and nothing else is replaced until every canary is healthy.
    canary: bool,
    /// When the rollout fails for want of progress (no new replica healthy since).
    progress_due: Option<Instant>,
    last_error: Option<String>,
}

struct Live {
    replica: Replica,
    tracker: HealthTracker,
}

#[derive(Default)]
struct Slot {
    record: SlotRecord,
    backoff: Backoff,
    restart_due: Option<Instant>,
}

enum Event {
    Check {
        stack: String,
        service: String,
        id: String,
        check: usize,
        ok: bool,
    },
    Stopped {
        stack: String,
        service: String,
        id: String,
        error: Option<String>,
    },
}

/// The persisted form of a stack (`state_dir/supervisor/<stack>.json`).
#[derive(Serialize, Deserialize)]
struct Persisted {
    stack: String,
    base_dir: PathBuf,
    services: BTreeMap<String, PersistedService>,
}

#[derive(Serialize, Deserialize)]
struct PersistedService {
    desired: ServiceSpec,
    target: ServiceSpec,
    last_good: Option<ServiceSpec>,
    deployment: DeploymentState,
    failed_version: Option<String>,
    removed: bool,
    slots: BTreeMap<u32, SlotRecord>,
    #[serde(default)]
    canary: bool,
}

impl Supervisor {
    /// A supervisor using `drivers` (matched by [`Driver::name`]), persisting its state under
    /// `state_dir/supervisor` and resuming from what is there, with replicas' logs in `log_dir`.
    pub fn new(
        drivers: Vec<Arc<dyn Driver>>,
        state_dir: impl Into<PathBuf>,
        log_dir: impl Into<PathBuf>,
    ) -> Result<Self, SupervisorError> {
        let state_dir = state_dir.into();
        let (events_tx, events_rx) = channel();
        let (wake_tx, wake_rx) = channel();
        let stacks = load(&state_dir.join("supervisor"))?;
        for driver in &drivers {
            let wake: Sender<()> = wake_tx.clone();
            driver.on_exit(Arc::new(move || {
                let _ = wake.send(());
            }));
        }
        Ok(Supervisor {
            inner: Mutex::new(Inner {
                drivers,
                state_dir,
                log_dir: log_dir.into(),
                stacks,
                ports: BTreeSet::new(),
                events_tx,
                events_rx,
            }),
            wake_tx,
            wake_rx: Mutex::new(wake_rx),
        })
    }

    fn inner(&self) -> MutexGuard<'_, Inner> {
        self.inner
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// The services `stack` should run (relative working directories are under `base_dir`).
    /// Services not listed are stopped and forgotten; a changed `version` is rolled out.
    pub fn set_desired(&self, stack: &str, base_dir: &Path, services: Vec<ServiceSpec>) {
        let mut inner = self.inner();
        let st = inner
            .stacks
            .entry(stack.to_owned())
            .or_insert_with(|| StackState {
                base_dir: base_dir.to_path_buf(),
                adopted: false,
                services: BTreeMap::new(),
                saved: String::new(),
            });
        st.base_dir = base_dir.to_path_buf();
        let names: BTreeSet<String> = services.iter().map(|s| s.name.clone()).collect();
        for spec in services {
            match st.services.get_mut(&spec.name) {
                None => {
                    st.services
                        .insert(spec.name.clone(), ServiceState::new(spec));
                }
                Some(svc) => svc.set_desired(spec),
            }
        }
        for (name, svc) in st.services.iter_mut() {
            if !names.contains(name) {
                svc.removed = true;
            }
        }
        drop(inner);
        let _ = self.wake_tx.send(());
    }

    /// One reconciliation of every stack at `now`; returns the time until something is due.
    pub fn reconcile_once(&self, now: Instant) -> Duration {
        let mut inner = self.inner();
        inner.drain_events(now);
        let mut next: Option<Instant> = None;
        let Inner {
            drivers,
            state_dir,
            log_dir,
            stacks,
            ports,
            events_tx,
            ..
        } = &mut *inner;
        for (stack, st) in stacks.iter_mut() {
            let mut ctx = Ctx {
                drivers,
                stack,
                base_dir: &st.base_dir,
                log_dir,
                ports,
                events: events_tx,
                wake: &self.wake_tx,
            };
            if !st.adopted {
                st.adopted = adopt(&mut ctx, &mut st.services, now);
            }
            for svc in st.services.values_mut() {
                if let Some(t) = reconcile_service(&mut ctx, svc, now) {
                    next = Some(next.map_or(t, |n| n.min(t)));
                }
            }
            st.services
                .retain(|_, s| !(s.removed && s.replicas.is_empty() && s.stopping.is_empty()));
            // Serializing the specs on every pass would cost more than the pass: a cheap
            // fingerprint of what changes says when to write.
            let print = fingerprint(st);
            if print != st.saved {
                let text = persisted_text(stack, st);
                if let Err(e) = save(&state_dir.join("supervisor"), stack, &text) {
                    for svc in st.services.values_mut() {
                        svc.last_error = Some(e.to_string());
                    }
                } else {
                    st.saved = print;
                }
            }
        }
        next.map_or(MAX_REQUEUE, |t| t.saturating_duration_since(now))
    }

    /// Reconciles until `stop` is set, sleeping the returned duration (bounded by
    /// [`MIN_REQUEUE`]..[`MAX_REQUEUE`]) or until a check or stop reports back.
    pub fn run(&self, stop: &AtomicBool) {
        while !stop.load(Ordering::Relaxed) {
            let wait = self
                .reconcile_once(Instant::now())
                .clamp(MIN_REQUEUE, MAX_REQUEUE);
            self.wait(wait);
        }
    }

    /// Sleeps up to `wait`, returning early when a check or a stop reports back or a replica
    /// exits: what a loop calling [`Supervisor::reconcile_once`] itself waits with.
    pub fn wait(&self, wait: Duration) {
        let rx = self
            .wake_rx
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        match rx.recv_timeout(wait) {
            Ok(()) | Err(RecvTimeoutError::Timeout) => while rx.try_recv().is_ok() {},
            Err(RecvTimeoutError::Disconnected) => std::thread::sleep(wait),
        }
    }

    /// Every service of every stack, by stack and name.
    pub fn status(&self) -> Vec<ServiceStatus> {
        let inner = self.inner();
        let now = Instant::now();
        let mut out = Vec::new();
        for (stack, st) in &inner.stacks {
            for (name, svc) in &st.services {
                let mut replicas: Vec<ReplicaStatus> = svc
                    .replicas
                    .iter()
                    .map(|l| {
                        let slot = svc.slots.get(&l.replica.index);
                        ReplicaStatus {
                            index: l.replica.index,
                            id: l.replica.id.clone(),
                            version: l.replica.version.clone(),
                            health: l.tracker.health(),
                            healthy: l.tracker.healthy_for(now).is_some(),
                            ports: l.replica.ports.clone(),
                            restarts: slot.map_or(0, |s| s.record.restarts),
                            last_exit: slot.and_then(|s| s.record.last_exit.clone()),
                        }
                    })
                    .collect();
                replicas.sort_by(|a, b| (a.index, &a.id).cmp(&(b.index, &b.id)));
                out.push(ServiceStatus {
                    stack: stack.clone(),
                    name: name.clone(),
                    version: svc.desired.version.clone(),
                    target_version: svc.target.version.clone(),
                    desired_replicas: svc.target.replicas,
                    deployment: svc.deployment.clone(),
                    replicas,
                    slots: svc
                        .slots
                        .iter()
                        .map(|(i, s)| (*i, s.record.clone()))
                        .collect(),
                    last_error: svc.last_error.clone(),
                });
            }
        }
        out
    }

    /// The status of one service.
    pub fn service_status(&self, stack: &str, name: &str) -> Option<ServiceStatus> {
        self.status()
            .into_iter()
            .find(|s| s.stack == stack && s.name == name)
    }

    /// Stops every replica of every stack now, waiting for each, and forgets the stacks (their
    /// persisted state too). For stacks destroyed and tests' clean-up: an agent shutting down
    /// just stops calling `reconcile_once` and leaves its replicas for the next one to adopt.
    pub fn stop_all(&self) -> Vec<DriverError> {
        let mut inner = self.inner();
        let drivers = inner.drivers.clone();
        let dir = inner.state_dir.join("supervisor");
        let stacks = std::mem::take(&mut inner.stacks);
        let mut errors = Vec::new();
        for (stack, mut st) in stacks {
            let _ = fs::remove_file(stack_file(&dir, &stack));
            for svc in st.services.values_mut() {
                let Some(driver) = driver_for(&drivers, svc.target.driver) else {
                    continue;
                };
                for live in std::mem::take(&mut svc.replicas) {
                    let spec = svc.spec_of(&live.replica.version);
                    if let Err(e) = driver.stop(&live.replica, &spec.stop_signal, spec.kill_timeout)
                    {
                        errors.push(e);
                    }
                }
            }
        }
        errors
    }
}

impl ServiceState {
    fn new(spec: ServiceSpec) -> Self {
        ServiceState {
            desired: spec.clone(),
            target: spec,
            last_good: None,
            deployment: DeploymentState::Running,
            failed_version: None,
            removed: false,
            replicas: Vec::new(),
            stopping: BTreeMap::new(),
            slots: BTreeMap::new(),
            in_flight: BTreeMap::new(),
            canary: false,
            progress_due: None,
            last_error: None,
        }
    }

    fn set_desired(&mut self, spec: ServiceSpec) {
        self.removed = false;
        if spec.version != self.desired.version {
            self.desired = spec.clone();
            self.target = spec;
            self.failed_version = None;
            self.in_flight.clear();
            self.progress_due = None;
            for slot in self.slots.values_mut() {
                slot.record.exhausted = false;
            }
            // Canaries only make sense beside replicas of another version.
            self.canary = self.target.update.canary > 0
                && self
                    .replicas
                    .iter()
                    .any(|l| l.replica.version != self.target.version);
            self.deployment = if self.replicas.is_empty() {
                DeploymentState::Running
            } else {
                DeploymentState::RollingOut
            };
        } else {
            let replicas = spec.replicas;
            self.desired = spec.clone();
            if self.target.version == spec.version {
                self.target = spec;
            } else {
                // Reverted: keep running the last healthy version, at the new scale.
                self.target.replicas = replicas;
            }
        }
    }

    fn rolling(&self) -> bool {
        matches!(
            self.deployment,
            DeploymentState::Running
                | DeploymentState::RollingOut
                | DeploymentState::Reverting { .. }
        )
    }

    /// The spec a dead slot is restarted with: the last healthy one after a failed rollout.
    fn restart_spec(&self) -> &ServiceSpec {
        match (&self.deployment, &self.last_good) {
            (DeploymentState::Failed { .. }, Some(good)) => good,
            _ => &self.target,
        }
    }

    /// The spec of a running version (for its checks and stop signal).
    fn spec_of(&self, version: &str) -> &ServiceSpec {
        [
            Some(&self.target),
            Some(&self.desired),
            self.last_good.as_ref(),
        ]
        .into_iter()
        .flatten()
        .find(|s| s.version == version)
        .unwrap_or(&self.target)
    }

    fn slot(&mut self, index: u32) -> &mut Slot {
        self.slots.entry(index).or_default()
    }
}

impl Inner {
    fn drain_events(&mut self, now: Instant) {
        while let Ok(ev) = self.events_rx.try_recv() {
            match ev {
                Event::Check {
                    stack,
                    service,
                    id,
                    check,
                    ok,
                } => {
                    let live = self
                        .stacks
                        .get_mut(&stack)
                        .and_then(|st| st.services.get_mut(&service))
                        .and_then(|svc| svc.replicas.iter_mut().find(|l| l.replica.id == id));
                    if let Some(live) = live {
                        live.tracker.record(check, ok, now);
                    }
                }
                Event::Stopped {
                    stack,
                    service,
                    id,
                    error,
                } => {
                    let Some(svc) = self
                        .stacks
                        .get_mut(&stack)
                        .and_then(|st| st.services.get_mut(&service))
                    else {
                        continue;
                    };
                    if let Some(r) = svc.stopping.remove(&id) {
                        for port in r.ports.values() {
                            self.ports.remove(port);
                        }
                    }
                    if error.is_some() {
                        svc.last_error = error;
                    }
                }
            }
        }
    }
}

/// What one stack's reconciliation needs besides the service.
struct Ctx<'a> {
    drivers: &'a [Arc<dyn Driver>],
    stack: &'a str,
    base_dir: &'a Path,
    log_dir: &'a Path,
    ports: &'a mut BTreeSet<u16>,
    events: &'a Sender<Event>,
    wake: &'a Sender<()>,
}

fn driver_for(drivers: &[Arc<dyn Driver>], kind: DriverKind) -> Option<Arc<dyn Driver>> {
    let name = match kind {
        DriverKind::Exec => "exec",
        DriverKind::Docker => "docker",
    };
    drivers.iter().find(|d| d.name() == name).cloned()
}

/// Takes in the replicas the drivers find for the stack; returns false when a driver could not
/// list (adoption is tried again next time, before anything is started).
fn adopt(ctx: &mut Ctx<'_>, services: &mut BTreeMap<String, ServiceState>, now: Instant) -> bool {
    let mut complete = true;
    for driver in ctx.drivers {
        let found = match driver.list(ctx.stack) {
            Ok(found) => found,
            Err(e) => {
                for svc in services.values_mut() {
                    svc.last_error = Some(e.to_string());
                }
                complete = false;
                continue;
            }
        };
        for replica in found {
            let Some(svc) = services.get_mut(&replica.service) else {
                // A service this supervisor was never told about: leave it alone (another
                // stack definition may yet claim it); `set_desired` without it removes it.
                continue;
            };
            if svc.replicas.iter().any(|l| l.replica.id == replica.id) {
                continue;
            }
            ctx.ports.extend(replica.ports.values().copied());
            let slot = svc.slot(replica.index);
            if slot.record.ports.is_empty() {
                slot.record.ports = replica.ports.clone();
            }
            let spec = svc.spec_of(&replica.version);
            let tracker = HealthTracker::adopted(&spec.health, now);
            svc.replicas.push(Live { replica, tracker });
        }
    }
    complete
}

/// One service's reconciliation; returns when it next needs attention.
fn reconcile_service(ctx: &mut Ctx<'_>, svc: &mut ServiceState, now: Instant) -> Option<Instant> {
    let mut next: Option<Instant> = None;
    let mut due = |t: Instant| next = Some(next.map_or(t, |n: Instant| n.min(t)));
    let Some(driver) = driver_for(ctx.drivers, svc.target.driver) else {
        svc.last_error = Some(format!("no {:?} driver", svc.target.driver));
        return None;
    };

    // 1. Dead or unhealthy replicas are removed and their slot's restart scheduled.
    let mut i = 0;
    while i < svc.replicas.len() {
        let live = &svc.replicas[i];
        let exit = match driver.liveness(&live.replica) {
            Liveness::Running if live.tracker.health() == Health::Unhealthy => Some(ExitInfo {
                code: None,
                signal: None,
                reason: "unhealthy".to_owned(),
            }),
            Liveness::Running => None,
            Liveness::Exited { code, signal } => Some(ExitInfo {
                code,
                signal,
                reason: "exited".to_owned(),
            }),
            Liveness::Gone => Some(ExitInfo {
                code: None,
                signal: None,
                reason: "gone".to_owned(),
            }),
        };
        let Some(exit) = exit else {
            i += 1;
            continue;
        };
        let live = svc.replicas.remove(i);
        let index = live.replica.index;
        let spec = svc.spec_of(&live.replica.version).clone();
        let version = live.replica.version.clone();
        let ports = live.replica.ports.clone();
        stop_in_background(ctx, svc, &driver, live.replica, &spec);
        // A slot is restarted on the schedule when it lost its only replica, or when the new
        // replica a rollout is waiting for died (its old sibling stays meanwhile).
        let replacing = svc.in_flight.contains_key(&index) && version == svc.target.version;
        let wanted = !svc.removed
            && index < svc.target.replicas
            && (replacing || !svc.replicas.iter().any(|l| l.replica.index == index));
        let policy = svc.target.restart.clone();
        let slot = svc.slot(index);
        slot.record.last_exit = Some(exit);
        if wanted && !replacing {
            // The slot's replacement comes back on the ports it had.
            slot.record.ports = ports;
        }
        if wanted {
            fail_slot(svc, index, &policy, now);
        }
    }

    // 2. Health checks due, and backoff resets after a long healthy run.
    let policy = svc.target.restart.clone();
    for li in 0..svc.replicas.len() {
        let (index, healthy_for) = {
            let l = &svc.replicas[li];
            (l.replica.index, l.tracker.healthy_for(now))
        };
        if let Some(h) = healthy_for {
            svc.slot(index).backoff.on_healthy(&policy, h);
        }
        let spec = svc.spec_of(&svc.replicas[li].replica.version).clone();
        let live = &mut svc.replicas[li];
        for c in live.tracker.due(now) {
            let Some(check) = spec.health.get(c).cloned() else {
                continue;
            };
            live.tracker.started(c);
            let (tx, wake) = (ctx.events.clone(), ctx.wake.clone());
            let (stack, service, id) = (
                ctx.stack.to_owned(),
                spec.name.clone(),
                live.replica.id.clone(),
            );
            let (spec, ports) = (spec.clone(), live.replica.ports.clone());
            let workdir = match &spec.workdir {
                Some(w) => ctx.base_dir.join(w),
                None => ctx.base_dir.to_path_buf(),
            };
            std::thread::spawn(move || {
                let ok = run_check(&check, &spec, &ports, &workdir).is_ok();
                let _ = tx.send(Event::Check {
                    stack,
                    service,
                    id,
                    check: c,
                    ok,
                });
                let _ = wake.send(());
            });
        }
        if let Some(t) = live.tracker.next_due() {
            due(t);
        }
    }

    // 3. Replicas that should not exist.
    let mut i = 0;
    while i < svc.replicas.len() {
        if svc.removed || svc.replicas[i].replica.index >= svc.target.replicas {
            let live = svc.replicas.remove(i);
            let spec = svc.spec_of(&live.replica.version).clone();
            stop_in_background(ctx, svc, &driver, live.replica, &spec);
        } else {
            i += 1;
        }
    }
    if svc.removed {
        return next;
    }

    // 4. Each slot: start, restart, replace.
    let min_healthy = svc.target.update.min_healthy_time;
    let max_parallel = svc.target.update.max_parallel.max(1) as usize;
    let healthy_deadline = svc.target.update.healthy_deadline;
    let ready = |l: &Live| l.tracker.healthy_for(now).is_some_and(|h| h >= min_healthy);
    // Canary phase: the first `canaries` slots get a new replica beside their old one, all at
    // once; the old ones stay until every canary is ready, and then the rollout is promoted
    // (the canaries' slots are replaced, the others roll `max_parallel` at a time).
    let mut canaries = if svc.canary && svc.deployment == DeploymentState::RollingOut {
        svc.target.update.canary.min(svc.target.replicas)
    } else {
        0
    };
    if canaries > 0 {
        let target_version = svc.target.version.clone();
        let promoted = (0..canaries).all(|index| {
            svc.replicas.iter().any(|l| {
                l.replica.index == index && l.replica.version == target_version && ready(l)
            })
        });
        if promoted {
            canaries = 0;
        }
    }
    svc.canary = canaries > 0;
    // A new replica became ready: the rollout made progress.
    let mut progressed = false;
    for index in 0..svc.target.replicas {
        let target_version = svc.target.version.clone();
        let here: Vec<usize> = (0..svc.replicas.len())
            .filter(|&i| svc.replicas[i].replica.index == index)
            .collect();
        let new: Vec<usize> = here
            .iter()
            .copied()
            .filter(|&i| svc.replicas[i].replica.version == target_version)
            .collect();
        let old: Vec<usize> = here
            .iter()
            .copied()
            .filter(|&i| svc.replicas[i].replica.version != target_version)
            .collect();
        if here.is_empty() {
            if svc.slot(index).record.exhausted {
                continue;
            }
            if let Some(t) = svc.slot(index).restart_due {
                if t > now {
                    due(t);
                    continue;
                }
            }
            let spec = match &svc.last_good {
                // Not a canary's slot: it is not replaced before the promotion.
                Some(good) if index >= canaries && canaries > 0 => good.clone(),
                _ => svc.restart_spec().clone(),
            };
            let rolling = svc.rolling() && spec.version == target_version;
            start(ctx, svc, &driver, &spec, index, now, &mut due);
            if rolling {
                svc.in_flight.entry(index).or_insert(now + healthy_deadline);
            }
        } else if !new.is_empty() && !old.is_empty() {
            if let Some(&n) = new.first() {
                if ready(&svc.replicas[n]) {
                    progressed |= svc.in_flight.remove(&index).is_some();
                    if index < canaries {
                        // A ready canary: its old sibling serves until the promotion.
                        continue;
                    }
                    progressed = true;
                    let mut old = old;
                    old.sort_unstable_by(|a, b| b.cmp(a));
                    for o in old {
                        let live = svc.replicas.remove(o);
                        let spec = svc.spec_of(&live.replica.version).clone();
                        stop_in_background(ctx, svc, &driver, live.replica, &spec);
                    }
                } else if let Some(since) = svc.replicas[n].tracker.healthy_for(now) {
                    due(now + min_healthy.saturating_sub(since));
                }
            }
        } else if new.is_empty() {
            let rollout = matches!(
                svc.deployment,
                DeploymentState::RollingOut | DeploymentState::Reverting { .. }
            );
            let replacing = svc.in_flight.contains_key(&index);
            if replacing {
                if let Some(t) = svc.slot(index).restart_due {
                    if t > now {
                        due(t);
                        continue;
                    }
                }
            }
            let allowed = if canaries > 0 {
                index < canaries
            } else {
                replacing || svc.in_flight.len() < max_parallel
            };
            if rollout && allowed {
                let spec = svc.target.clone();
                svc.in_flight.entry(index).or_insert(now + healthy_deadline);
                start(ctx, svc, &driver, &spec, index, now, &mut due);
            }
        } else {
            // Only the target version here: one is enough.
            let mut extra: Vec<usize> = new.iter().copied().skip(1).collect();
            extra.sort_unstable_by(|a, b| b.cmp(a));
            for e in extra {
                let live = svc.replicas.remove(e);
                let spec = svc.spec_of(&live.replica.version).clone();
                stop_in_background(ctx, svc, &driver, live.replica, &spec);
            }
            if let Some(&n) = new.first() {
                let l = &svc.replicas[n];
                if ready(l) {
                    progressed |= svc.in_flight.remove(&index).is_some();
                } else if let Some(since) = l.tracker.healthy_for(now) {
                    due(now + min_healthy.saturating_sub(since));
                }
            }
        }
    }

    // 5. Rollout deadlines.
    let late = svc
        .in_flight
        .iter()
        .find(|(_, &d)| d <= now)
        .map(|(i, _)| *i);
    if let Some(index) = late {
        let reason = format!(
            "replica {index} of version {} was not healthy within {:?}",
            svc.target.version, healthy_deadline
        );
        fail_rollout(ctx, svc, &driver, reason);
        due(now);
    } else if let Some(&d) = svc.in_flight.values().min() {
        due(d);
    }

    // 5b. The progress deadline: some new replica must become ready within
    // `progress_deadline` of the rollout's start or of the last one that did.
    let progress_deadline = svc.target.update.progress_deadline;
    if progress_deadline.is_zero() || !svc.rolling() {
        svc.progress_due = None;
    } else if progressed || svc.progress_due.is_none() {
        svc.progress_due = Some(now + progress_deadline);
    }
    if let Some(d) = svc.progress_due {
        if d <= now {
            let reason = format!(
                "no replica of version {} became healthy within progress_deadline {:?}",
                svc.target.version, progress_deadline
            );
            fail_rollout(ctx, svc, &driver, reason);
            due(now);
        } else {
            due(d);
        }
    }

    // 6. Deployment transitions.
    let target_version = svc.target.version.clone();
    let any_old = svc
        .replicas
        .iter()
        .any(|l| l.replica.version != target_version);
    if any_old
        && matches!(
            svc.deployment,
            DeploymentState::Running | DeploymentState::Healthy | DeploymentState::Reverted { .. }
        )
        && svc.failed_version.as_deref() != Some(target_version.as_str())
    {
        svc.deployment = DeploymentState::RollingOut;
    }
    let all_ready = !any_old
        && svc.in_flight.is_empty()
        && (0..svc.target.replicas).all(|index| {
            let here: Vec<&Live> = svc
                .replicas
                .iter()
                .filter(|l| l.replica.index == index)
                .collect();
            here.len() == 1
                && here
                    .iter()
                    .all(|l| l.tracker.healthy_for(now).is_some_and(|h| h >= min_healthy))
        });
    if all_ready {
        let done = match &svc.deployment {
            DeploymentState::Running | DeploymentState::RollingOut => {
                Some(DeploymentState::Healthy)
            }
            DeploymentState::Reverting { reason } => Some(DeploymentState::Reverted {
                reason: reason.clone(),
            }),
            _ => None,
        };
        if let Some(d) = done {
            svc.deployment = d;
            svc.last_good = Some(svc.target.clone());
        }
    }
    next
}

/// The slot's replica failed: schedule its restart per the policy, or give up.
fn fail_slot(
    svc: &mut ServiceState,
    index: u32,
    policy: &crate::spec::RestartPolicy,
    now: Instant,
) {
    let slot = svc.slot(index);
    match slot.backoff.on_failure(policy, now) {
        Decision::RestartAfter(delay) => {
            slot.restart_due = Some(now + delay);
            slot.record.restarts += 1;
            // Recorded at the time the schedule counts from (the round's `now`), not later.
            let since = u64::try_from(now.elapsed().as_millis()).unwrap_or(0);
            slot.record.history.push(RestartEvent {
                failed_at_ms: epoch_ms().saturating_sub(since),
                delay,
                restarted_at_ms: None,
            });
            let excess = slot.record.history.len().saturating_sub(HISTORY);
            slot.record.history.drain(..excess);
        }
        Decision::GiveUp => {
            slot.record.exhausted = true;
            slot.restart_due = None;
            svc.deployment = DeploymentState::Failed {
                reason: format!("replica {index} used up its restart attempts"),
            };
        }
    }
}

fn start(
    ctx: &mut Ctx<'_>,
    svc: &mut ServiceState,
    driver: &Arc<dyn Driver>,
    spec: &ServiceSpec,
    index: u32,
    now: Instant,
    due: &mut impl FnMut(Instant),
) {
    // The slot's last ports are kept when still free. While the slot's previous replica is
    // being stopped and still holds one of them, the start waits for that stop (bounded by its
    // `kill_timeout`) instead of moving to other ports.
    let kept = svc.slot(index).record.ports.clone();
    let wanted: BTreeSet<u16> = spec
        .ports
        .iter()
        .filter_map(|n| kept.get(n).copied())
        .collect();
    if svc
        .stopping
        .values()
        .any(|r| r.index == index && r.ports.values().any(|p| wanted.contains(p)))
    {
        due(now + MIN_REQUEUE);
        return;
    }
    let mut ports = BTreeMap::new();
    for name in &spec.ports {
        let reused = kept
            .get(name)
            .copied()
            .filter(|p| claim_port(ctx.ports, *p));
        match reused.map_or_else(|| free_port(ctx.ports), Ok) {
            Ok(p) => {
                ports.insert(name.clone(), p);
            }
            Err(e) => {
                for p in ports.values() {
                    ctx.ports.remove(p);
                }
                svc.last_error = Some(format!("no free port: {e}"));
                due(now + Duration::from_secs(1));
                return;
            }
        }
    }
    let request = ReplicaStart {
        stack: ctx.stack,
        spec,
        index,
        ports: ports.clone(),
        log_dir: ctx.log_dir.join(ctx.stack),
        base_dir: ctx.base_dir.to_path_buf(),
    };
    let restarted = svc.slot(index).restart_due.take().is_some();
    match driver.start(&request) {
        Ok(replica) => {
            svc.slot(index).record.ports = ports;
            if restarted {
                if let Some(ev) = svc.slot(index).record.history.last_mut() {
                    ev.restarted_at_ms = Some(epoch_ms());
                }
            }
            let tracker = HealthTracker::new(&spec.health, now);
            if let Some(t) = tracker.next_due() {
                due(t);
            }
            svc.replicas.push(Live { replica, tracker });
        }
        Err(e) => {
            for p in ports.values() {
                ctx.ports.remove(p);
            }
            let policy = svc.target.restart.clone();
            svc.slot(index).record.last_exit = Some(ExitInfo {
                code: None,
                signal: None,
                reason: format!("start failed: {e}"),
            });
            fail_slot(svc, index, &policy, now);
            if let Some(t) = svc.slot(index).restart_due {
                due(t);
            }
        }
    }
}

/// The rollout of the target version failed: stop its unconfirmed replicas that have an old
/// sibling, then revert to the last healthy version or fail.
fn fail_rollout(
    ctx: &mut Ctx<'_>,
    svc: &mut ServiceState,
    driver: &Arc<dyn Driver>,
    reason: String,
) {
    let target_version = svc.target.version.clone();
    let mut indexes: BTreeSet<u32> = svc.in_flight.keys().copied().collect();
    if svc.canary {
        // Every canary goes, the ready ones too.
        indexes.extend(svc.replicas.iter().map(|l| l.replica.index));
    }
    svc.canary = false;
    svc.progress_due = None;
    for index in indexes {
        let has_old = svc
            .replicas
            .iter()
            .any(|l| l.replica.index == index && l.replica.version != target_version);
        if !has_old {
            continue;
        }
        while let Some(pos) = svc
            .replicas
            .iter()
            .position(|l| l.replica.index == index && l.replica.version == target_version)
        {
            let live = svc.replicas.remove(pos);
            let spec = svc.spec_of(&live.replica.version).clone();
            stop_in_background(ctx, svc, driver, live.replica, &spec);
        }
        // The new replica's failures are not the old slot's.
        if let Some(slot) = svc.slots.get_mut(&index) {
            slot.restart_due = None;
        }
    }
    svc.in_flight.clear();
    svc.failed_version = Some(target_version.clone());
    match &svc.last_good {
        Some(good) if svc.target.update.auto_revert && good.version != target_version => {
            let mut good = good.clone();
            good.replicas = svc.desired.replicas;
            svc.target = good;
            svc.deployment = DeploymentState::Reverting { reason };
        }
        _ => svc.deployment = DeploymentState::Failed { reason },
    }
}

fn stop_in_background(
    ctx: &mut Ctx<'_>,
    svc: &mut ServiceState,
    driver: &Arc<dyn Driver>,
    replica: Replica,
    spec: &ServiceSpec,
) {
    svc.stopping.insert(replica.id.clone(), replica.clone());
    let (driver, tx, wake) = (driver.clone(), ctx.events.clone(), ctx.wake.clone());
    let (signal, timeout, stack) = (
        spec.stop_signal.clone(),
        spec.kill_timeout,
        ctx.stack.to_owned(),
    );
    std::thread::spawn(move || {
        let error = driver
            .stop(&replica, &signal, timeout)
            .err()
            .map(|e| e.to_string());
        let _ = tx.send(Event::Stopped {
            stack,
            service: replica.service.clone(),
            id: replica.id.clone(),
            error,
        });
        let _ = wake.send(());
    });
}

/// Takes `port` for a replica when no replica of this supervisor has it and it can be bound on
/// 127.0.0.1 now (nobody else listens there).
fn claim_port(taken: &mut BTreeSet<u16>, port: u16) -> bool {
    if taken.contains(&port) || TcpListener::bind((Ipv4Addr::LOCALHOST, port)).is_err() {
        return false;
    }
    taken.insert(port)
}

/// A port free on 127.0.0.1 now and not handed to another replica by this supervisor.
fn free_port(taken: &mut BTreeSet<u16>) -> io::Result<u16> {
    for _ in 0..50 {
        let port = TcpListener::bind((Ipv4Addr::LOCALHOST, 0))?
            .local_addr()?
            .port();
        if taken.insert(port) {
            return Ok(port);
        }
    }
    Err(io::Error::new(
        io::ErrorKind::AddrInUse,
        "every port the system offered is assigned already",
    ))
}

fn epoch_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
}

/// What of a stack's persisted state can change without its specs' versions changing.
fn fingerprint(st: &StackState) -> String {
    let services: Vec<_> = st
        .services
        .iter()
        .map(|(name, s)| {
            (
                name,
                (&s.desired.version, s.desired.replicas),
                (&s.target.version, s.target.replicas),
                s.last_good.as_ref().map(|g| (&g.version, g.replicas)),
                &s.deployment,
                &s.failed_version,
                (s.removed, s.canary),
                s.slots
                    .iter()
                    .map(|(i, sl)| (i, &sl.record))
                    .collect::<Vec<_>>(),
            )
        })
        .collect();
    format!("{:?} {services:?}", st.base_dir)
}

fn persisted_text(stack: &str, st: &StackState) -> String {
    let p = Persisted {
        stack: stack.to_owned(),
        base_dir: st.base_dir.clone(),
        services: st
            .services
            .iter()
            .map(|(name, s)| {
                (
                    name.clone(),
                    PersistedService {
                        desired: s.desired.clone(),
                        target: s.target.clone(),
                        last_good: s.last_good.clone(),
                        deployment: s.deployment.clone(),
                        failed_version: s.failed_version.clone(),
                        removed: s.removed,
                        canary: s.canary,
                        slots: s
                            .slots
                            .iter()
                            .map(|(i, sl)| (*i, sl.record.clone()))
                            .collect(),
                    },
                )
            })
            .collect(),
    };
    serde_json::to_string_pretty(&p).unwrap_or_default()
}

fn stack_file(dir: &Path, stack: &str) -> PathBuf {
    let safe: String = stack
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' || c == '_' {
                c
            } else {
                '_'
            }
        })
        .collect();
    dir.join(format!("{safe}.json"))
}

fn save(dir: &Path, stack: &str, text: &str) -> Result<(), SupervisorError> {
    fs::create_dir_all(dir).map_err(|source| SupervisorError::Io {
        action: "create",
        path: dir.to_path_buf(),
        source,
    })?;
    let path = stack_file(dir, stack);
    let tmp = path.with_extension("json.tmp");
    fs::write(&tmp, text).map_err(|source| SupervisorError::Io {
        action: "write",
        path: tmp.clone(),
        source,
    })?;
    fs::rename(&tmp, &path).map_err(|source| SupervisorError::Io {
        action: "rename",
        path,
        source,
    })
}

/// The stacks persisted under `dir`, one file each.
fn load(dir: &Path) -> Result<BTreeMap<String, StackState>, SupervisorError> {
    let mut stacks = BTreeMap::new();
    let entries = match fs::read_dir(dir) {
        Ok(e) => e,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(stacks),
        Err(source) => {
            return Err(SupervisorError::Io {
                action: "read",
                path: dir.to_path_buf(),
                source,
            })
        }
    };
    for entry in entries.flatten() {
        let path = entry.path();
        if path.extension().and_then(|e| e.to_str()) != Some("json") {
            continue;
        }
        let text = fs::read_to_string(&path).map_err(|source| SupervisorError::Io {
            action: "read",
            path: path.clone(),
            source,
        })?;
        let p: Persisted =
            serde_json::from_str(&text).map_err(|source| SupervisorError::Decode {
                path: path.clone(),
                source,
            })?;
        let services: BTreeMap<String, ServiceState> = p
            .services
            .into_iter()
            .map(|(name, s)| {
                let svc = ServiceState {
                    desired: s.desired,
                    target: s.target,
                    last_good: s.last_good,
                    deployment: s.deployment,
                    failed_version: s.failed_version,
                    removed: s.removed,
                    replicas: Vec::new(),
                    stopping: BTreeMap::new(),
                    slots: s
                        .slots
                        .into_iter()
                        .map(|(i, record)| {
                            (
                                i,
                                Slot {
                                    record,
                                    backoff: Backoff::new(),
                                    restart_due: None,
                                },
                            )
                        })
                        .collect(),
                    in_flight: BTreeMap::new(),
                    canary: s.canary,
                    progress_due: None,
                    last_error: None,
                };
                (name, svc)
            })
            .collect();
        stacks.insert(
            p.stack,
            StackState {
                base_dir: p.base_dir,
                adopted: false,
                saved: String::new(),
                services,
            },
        );
    }
    Ok(stacks)
}
