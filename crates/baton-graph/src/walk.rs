//! The bounded parallel walker: visits every node after its dependencies, at most
//! `parallelism` at a time, on a fixed pool of scoped `std` threads. A node whose dependency
//! failed (or was skipped) is skipped, and so on transitively, while independent nodes still
//! run; a [`StopHandle`] stops scheduling; a panic in a visit is caught and reported as a
//! failure. Events are delivered, in order, on the calling thread.
//!
//! It must not know what a visit does (no retries, timeouts or logging policy: those belong to
//! the caller's `visit`), must not lose a visit's error, and must not hang, whatever `visit`
//! does short of never returning.
//!
//! How it works: workers share one scheduling state behind a mutex (ready nodes in a min-heap,
//! so the lowest id goes first, plus a count of unfinished dependencies per node). A worker
//! takes a ready node, visits it without the lock, then records the result and takes the next
//! ready node itself, so a long chain of trivial visits costs no thread hand-off per node.
//! Workers send events over a channel while holding the lock, which keeps them in causal order;
//! the calling thread drains the channel and calls `on_event`.

use std::any::Any;
use std::cmp::Reverse;
use std::collections::{BinaryHeap, VecDeque};
use std::panic::{self, AssertUnwindSafe};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{self, Sender};
use std::sync::{Arc, Condvar, Mutex, MutexGuard, PoisonError};
use std::thread;

use crate::graph::{Graph, NodeId};

/// How to walk.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct WalkOpts {
    /// The most visits running at once; 0 is treated as 1.
    pub parallelism: usize,
}

impl Default for WalkOpts {
    /// Ten visits at once, suited to visits that mostly wait on the network.
    fn default() -> Self {
        WalkOpts { parallelism: 10 }
    }
}

/// How a node ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Outcome {
    /// Visited, and the visit returned `Ok`.
    Done,
    /// Visited, and the visit returned `Err` or panicked (see [`WalkReport::failures`]).
    Failed,
    /// Never started: a dependency did not end `Done`, the walk was stopped, or the node is
    /// in (or depends on) a cycle. The [`WalkEvent::Skipped`] event tells which.
    Skipped,
}

/// Why a node was never started.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum SkipReason {
    /// This dependency failed or was itself skipped.
    Dependency(NodeId),
    /// The [`StopHandle`] was used before the node could start.
    Stopped,
    /// The node is in a cycle, or depends on one: its dependencies can never all finish.
    Cycle,
}

/// Why a visit failed.
#[derive(Debug, thiserror::Error)]
pub enum Failure<E> {
    /// The visit returned this error.
    #[error("{0}")]
    Returned(E),
    /// The visit panicked; `message` is the panic's message when it was a string.
    #[error("panicked: {message}")]
    Panicked { message: String },
}

/// Something that happened during a walk, delivered on the calling thread. For any one node,
/// `Started` comes before `Finished`; a node's `Started` comes after every dependency's
/// `Finished`; a `Skipped` for a dependency reason comes after the event that caused it.
#[derive(Debug)]
pub enum WalkEvent<'a, E> {
    /// The node's visit is starting.
    Started(NodeId),
    /// The node's visit has ended. The failure itself is also kept in [`WalkReport::failures`].
    Finished(NodeId, Result<(), &'a Failure<E>>),
    /// The node will never start.
    Skipped(NodeId, SkipReason),
}

/// The result of a walk.
#[derive(Debug)]
pub struct WalkReport<E> {
    /// Indexed by [`NodeId::index`]: how each node ended.
    pub outcomes: Vec<Outcome>,
    /// Every failed visit with its error, by increasing id.
    pub failures: Vec<(NodeId, Failure<E>)>,
    /// Whether the [`StopHandle`] kept at least one node from starting.
    pub stopped: bool,
}

impl<E> WalkReport<E> {
    pub fn outcome(&self, id: NodeId) -> Outcome {
        self.outcomes[id.index()]
    }

    /// Whether every node ended `Done`.
    pub fn all_done(&self) -> bool {
        self.outcomes.iter().all(|&o| o == Outcome::Done)
    }
}

/// Stops a walk from scheduling new nodes; visits already running finish. Cheap to clone, and
/// usable from any thread (e.g. a Ctrl-C handler) or from inside a visit. Once stopped, it stays
/// stopped: use a new handle for the next walk.
#[derive(Clone, Debug, Default)]
pub struct StopHandle {
    flag: Arc<AtomicBool>,
    /// Every ancestor's flag (see [`StopHandle::child`]).
    parents: Vec<Arc<AtomicBool>>,
}

impl StopHandle {
    pub fn new() -> Self {
        StopHandle::default()
    }

    /// A handle that reads as stopped once either it or `self` is stopped; stopping it leaves
    /// `self` running (e.g. a walk that stops itself on a failure, under a Ctrl-C handle).
    pub fn child(&self) -> StopHandle {
        let mut parents = self.parents.clone();
        parents.push(self.flag.clone());
        StopHandle {
            flag: Arc::new(AtomicBool::new(false)),
            parents,
        }
    }

    pub fn stop(&self) {
        self.flag.store(true, Ordering::SeqCst);
    }

    pub fn is_stopped(&self) -> bool {
        self.flag.load(Ordering::SeqCst) || self.parents.iter().any(|p| p.load(Ordering::SeqCst))
    }
}

/// Visits every node of `graph` after all of its dependencies ended `Done`, at most
/// `opts.parallelism` at a time, lowest id first among ready nodes (so the order is fixed when
/// `parallelism` is 1). Returns once no visit is running and no node can start.
///
/// - A node whose dependency failed or was skipped is skipped, transitively; every node that
///   does not depend on it still runs.
/// - `visit` runs on worker threads. A panic in it is caught and reported as
///   [`Failure::Panicked`] (the process's panic hook still prints it as usual).
/// - `on_event` runs on the calling thread, in order (see [`WalkEvent`]); it may be slow
///   without holding workers back, since events queue up.
/// - After `stop.stop()`, no new node starts; running visits finish, then the walk returns with
///   the unstarted nodes `Skipped` and `stopped` set.
/// - A cyclic graph should be rejected with [`Graph::toposort`] first. If not, nodes in or
///   behind a cycle are skipped with [`SkipReason::Cycle`]; the rest runs.
///
/// If `on_event` panics, no new node starts, running visits finish, and the panic resumes.
pub fn walk<N, E, V, F>(
    graph: &Graph<N>,
    opts: &WalkOpts,
    stop: &StopHandle,
    visit: V,
    mut on_event: F,
) -> WalkReport<E>
where
    N: Sync,
    E: Send,
    V: Fn(NodeId, &N) -> Result<(), E> + Sync,
    F: FnMut(WalkEvent<'_, E>),
{
    let mut failures = Vec::new();
    let mut deliver = |message: Message<E>| match message {
        Message::Started(id) => on_event(WalkEvent::Started(id)),
        Message::Finished(id, Ok(())) => on_event(WalkEvent::Finished(id, Ok(()))),
        Message::Finished(id, Err(failure)) => {
            on_event(WalkEvent::Finished(id, Err(&failure)));
            failures.push((id, failure));
        }
        Message::Skipped(id, reason) => on_event(WalkEvent::Skipped(id, reason)),
    };

    let schedule = Mutex::new(Schedule::new(graph));
    let wake = Condvar::new();
    let workers = opts.parallelism.max(1).min(graph.len());
    if workers > 0 {
        thread::scope(|scope| {
            let (events, received) = mpsc::channel();
            for _ in 0..workers {
                let worker = Worker {
                    graph,
                    stop,
                    schedule: &schedule,
                    wake: &wake,
                    events: events.clone(),
                };
                let visit = &visit;
                scope.spawn(move || worker.run(visit));
            }
            drop(events);
            // Ends when every worker has returned and dropped its sender.
            for message in received {
                deliver(message);
            }
        });
    }

    let schedule = schedule
        .into_inner()
        .unwrap_or_else(PoisonError::into_inner);
    let mut stopped = false;
    for (id, reason) in schedule.never_ready(graph) {
        stopped |= reason == SkipReason::Stopped;
        deliver(Message::Skipped(id, reason));
    }
    let outcomes = schedule
        .state
        .iter()
        .map(|state| match state {
            State::Done => Outcome::Done,
            State::Failed => Outcome::Failed,
            // Running cannot remain once every worker has returned.
            State::Pending | State::Running | State::Skipped => Outcome::Skipped,
        })
        .collect();
    failures.sort_by_key(|(id, _)| *id);
    WalkReport {
        outcomes,
        failures,
        stopped,
    }
}

/// What workers send to the calling thread.
enum Message<E> {
    Started(NodeId),
    Finished(NodeId, Result<(), Failure<E>>),
    Skipped(NodeId, SkipReason),
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum State {
    Pending,
    Running,
    Done,
    Failed,
    Skipped,
}

/// The scheduling state shared by the workers, always accessed under its mutex.
struct Schedule {
    state: Vec<State>,
    /// Per node, how many dependencies have not ended `Done` yet.
    waiting_on: Vec<usize>,
    /// Nodes whose dependencies are all `Done`, lowest id on top.
    ready: BinaryHeap<Reverse<NodeId>>,
    running: usize,
    /// Workers blocked on the condition variable.
    idle: usize,
    /// The calling thread stopped listening (its `on_event` panicked): start nothing more.
    abandoned: bool,
}

impl Schedule {
    fn new<N>(graph: &Graph<N>) -> Self {
        let waiting_on: Vec<usize> = graph.ids().map(|id| graph.dependencies(id).len()).collect();
        let ready = graph
            .ids()
            .filter(|id| waiting_on[id.index()] == 0)
            .map(Reverse)
            .collect();
        Schedule {
            state: vec![State::Pending; graph.len()],
            waiting_on,
            ready,
            running: 0,
            idle: 0,
            abandoned: false,
        }
    }

    fn send<E>(&mut self, events: &Sender<Message<E>>, message: Message<E>) {
        if events.send(message).is_err() {
            self.abandoned = true;
        }
    }

    /// Records a finished visit: readies the dependents it unblocked, or skips every node that
    /// depends on it if it failed.
    fn finish<N, E>(
        &mut self,
        graph: &Graph<N>,
        events: &Sender<Message<E>>,
        id: NodeId,
        result: Result<(), Failure<E>>,
    ) {
        self.running -= 1;
        let done = result.is_ok();
        self.state[id.index()] = if done { State::Done } else { State::Failed };
        self.send(events, Message::Finished(id, result));
        if done {
            for &dependent in graph.dependents(id) {
                let waiting = &mut self.waiting_on[dependent.index()];
                *waiting -= 1;
                if *waiting == 0 && self.state[dependent.index()] == State::Pending {
                    self.ready.push(Reverse(dependent));
                }
            }
            return;
        }
        // Nothing that depends on a failed or skipped node can be ready or running.
        let mut blocked = vec![id];
        while let Some(cause) = blocked.pop() {
            for &dependent in graph.dependents(cause) {
                if self.state[dependent.index()] == State::Pending {
                    self.state[dependent.index()] = State::Skipped;
                    self.send(
                        events,
                        Message::Skipped(dependent, SkipReason::Dependency(cause)),
                    );
                    blocked.push(dependent);
                }
            }
        }
    }

    /// After the walk: the nodes still pending, in id order, with why they never started. A
    /// node that would have become ready had the walk gone on was kept back by the stop; any
    /// other is in or behind a cycle.
    fn never_ready<N>(&self, graph: &Graph<N>) -> Vec<(NodeId, SkipReason)> {
        let pending = |id: NodeId| self.state[id.index()] == State::Pending;
        let mut waiting_on = self.waiting_on.clone();
        let mut reachable = vec![false; graph.len()];
        let mut queue: VecDeque<NodeId> = graph
            .ids()
            .filter(|&id| pending(id) && waiting_on[id.index()] == 0)
            .collect();
        while let Some(id) = queue.pop_front() {
            reachable[id.index()] = true;
            for &dependent in graph.dependents(id) {
                if pending(dependent) {
                    waiting_on[dependent.index()] -= 1;
                    if waiting_on[dependent.index()] == 0 {
                        queue.push_back(dependent);
                    }
                }
            }
        }
        graph
            .ids()
            .filter(|&id| pending(id))
            .map(|id| {
                (
                    id,
                    if reachable[id.index()] {
                        SkipReason::Stopped
                    } else {
                        SkipReason::Cycle
                    },
                )
            })
            .collect()
    }
}

/// One worker thread's view of the walk.
struct Worker<'w, N, E> {
    graph: &'w Graph<N>,
    stop: &'w StopHandle,
    schedule: &'w Mutex<Schedule>,
    wake: &'w Condvar,
    events: Sender<Message<E>>,
}

impl<N, E> Worker<'_, N, E> {
    fn run<V>(self, visit: &V)
    where
        V: Fn(NodeId, &N) -> Result<(), E>,
    {
        let mut schedule = self.lock();
        loop {
            if schedule.abandoned || self.stop.is_stopped() {
                // Sleeping workers must see it too; running visits end on their own.
                self.wake.notify_all();
                return;
            }
            let Some(Reverse(id)) = schedule.ready.pop() else {
                if schedule.running == 0 {
                    // Nothing runs and nothing is ready: nothing ever will be.
                    self.wake.notify_all();
                    return;
                }
                schedule.idle += 1;
                schedule = self
                    .wake
                    .wait(schedule)
                    .unwrap_or_else(PoisonError::into_inner);
                schedule.idle -= 1;
                continue;
            };
            schedule.state[id.index()] = State::Running;
            schedule.running += 1;
            schedule.send(&self.events, Message::Started(id));
            if schedule.abandoned {
                // Nobody would hear how it ends: leave it unstarted and wind down.
                schedule.state[id.index()] = State::Pending;
                schedule.running -= 1;
                continue;
            }
            drop(schedule);

            let result = run_visit(visit, id, self.graph.node(id));

            schedule = self.lock();
            schedule.finish(self.graph, &self.events, id, result);
            // This worker takes one ready node itself; wake others for the rest.
            let extra = schedule.ready.len().saturating_sub(1).min(schedule.idle);
            for _ in 0..extra {
                self.wake.notify_one();
            }
            if schedule.running == 0 && schedule.ready.is_empty() {
                self.wake.notify_all();
            }
        }
    }

    fn lock(&self) -> MutexGuard<'_, Schedule> {
        // Visits run outside the lock and panics inside it are bugs; recover the state anyway.
        self.schedule.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

fn run_visit<N, E, V>(visit: &V, id: NodeId, node: &N) -> Result<(), Failure<E>>
where
    V: Fn(NodeId, &N) -> Result<(), E>,
{
    match panic::catch_unwind(AssertUnwindSafe(|| visit(id, node))) {
        Ok(Ok(())) => Ok(()),
        Ok(Err(error)) => Err(Failure::Returned(error)),
        Err(payload) => Err(Failure::Panicked {
            message: panic_message(payload.as_ref()),
        }),
    }
}

fn panic_message(payload: &(dyn Any + Send)) -> String {
    if let Some(message) = payload.downcast_ref::<&str>() {
        (*message).to_owned()
    } else if let Some(message) = payload.downcast_ref::<String>() {
        message.clone()
    } else {
        "a panic without a message".to_owned()
    }
}
