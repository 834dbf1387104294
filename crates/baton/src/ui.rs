//! Terminal interaction: printing diagnostics, progress lines from the engine's events, and
//! asking for approval.

use baton_core::{Diagnostics, Sources};
use baton_engine::{Action, Event, Observer};
use std::collections::HashMap;
use std::io::{BufRead, Write};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// Prints diagnostics to stderr (warnings too). Returns whether there were errors.
pub fn print_diags(d: &Diagnostics, sources: &Sources) -> bool {
    if d.is_empty() {
        return false;
    }
    let mut err = std::io::stderr().lock();
    for x in d.iter() {
        let _ = writeln!(err, "\n{}", x.render(sources).trim_end());
    }
    let _ = writeln!(err);
    d.has_errors()
}

/// Asks the Terraform question; true only for "yes".
pub fn confirm(question: &str, detail: &str) -> bool {
    let mut out = std::io::stdout().lock();
    let _ = write!(
        out,
        "\n{question}\n  {detail}\n  Only 'yes' will be accepted to approve.\n\n  Enter a value: "
    );
    let _ = out.flush();
    let mut line = String::new();
    let stdin = std::io::stdin();
    if stdin.lock().read_line(&mut line).is_err() {
        return false;
    }
    outln!();
    line.trim() == "yes"
}

/// Prints progress lines as Terraform does.
pub struct Progress {
    lock: Mutex<()>,
}

impl Progress {
    pub fn new() -> Progress {
        Progress {
            lock: Mutex::new(()),
        }
    }
}

fn elapsed(d: std::time::Duration) -> String {
    let s = d.as_secs();
    if s >= 60 {
        format!("{}m{}s", s / 60, s % 60)
    } else {
        format!("{s}s")
    }
}

impl Progress {
    fn print(e: Event) {
        static LOCK: Mutex<()> = Mutex::new(());
        let _g = LOCK.lock();
        let line = match e {
            Event::RefreshStart { .. } => return,
            Event::RefreshDone { addr, id } => match id {
                Some(id) => format!("{addr}: Refreshing state... [id={id}]"),
                None => format!("{addr}: Refreshing state..."),
            },
            Event::ApplyStart {
                addr,
                deposed,
                action,
                id,
            } => {
                let who = match deposed {
                    Some(d) => format!("{addr} (deposed object {d})"),
                    None => addr.to_string(),
                };
                let verb = match action {
                    Action::Create => "Creating...",
                    Action::Update => "Modifying...",
                    Action::Delete => "Destroying...",
                    Action::Read => "Reading...",
                    Action::NoOp => "Importing...",
                    _ => "Working...",
                };
                match id {
                    Some(id) => format!("{who}: {verb} [id={id}]"),
                    None => format!("{who}: {verb}"),
                }
            }
            Event::ApplyDone {
                addr,
                deposed,
                action,
                elapsed: t,
                id,
                ..
            } => {
                let who = match deposed {
                    Some(d) => format!("{addr} (deposed object {d})"),
                    None => addr.to_string(),
                };
                let what = match action {
                    Action::Create => "Creation complete",
                    Action::Update => "Modifications complete",
                    Action::Delete => "Destruction complete",
                    Action::Read => "Read complete",
                    Action::NoOp => "Import complete",
                    _ => "Complete",
                };
                match id {
                    Some(id) => format!("{who}: {what} after {} [id={id}]", elapsed(t)),
                    None => format!("{who}: {what} after {}", elapsed(t)),
                }
            }
            Event::ApplyFailed {
                addr,
                action,
                elapsed: t,
                ..
            } => {
                let what = match action {
                    Action::Create => "Creation",
                    Action::Update => "Modification",
                    Action::Delete => "Destruction",
                    Action::Read => "Read",
                    _ => "Action",
                };
                format!("{addr}: {what} errored after {}", elapsed(t))
            }
            Event::StillRunning {
                addr,
                action,
                elapsed: t,
            } => {
                let verb = match action {
                    Action::Create => "creating",
                    Action::Update => "modifying",
                    Action::Delete => "destroying",
                    _ => "working",
                };
                format!("{addr}: Still {verb}... [{} elapsed]", elapsed(t))
            }
            Event::ProvisionerStart { addr, kind } => {
                format!("{addr}: Provisioning with '{kind}'...")
            }
            Event::ProvisionerOutput { addr, kind, line } => format!("{addr} ({kind}): {line}"),
            Event::RollbackStart { run_id } => format!(
                "\nAn action failed: rolling back run {run_id} (undoing every change it made)..."
            ),
        };
        outln!("{line}");
    }
}

impl Observer for Progress {
    fn event(&self, e: Event) {
        let _ = &self.lock;
        Progress::print(e);
    }
}

/// Ctrl-C once: stop scheduling new actions, let running ones finish, save, exit.
/// Twice: also kill running actions.
pub fn on_interrupt(stop: baton_graph::StopHandle, cancel: Arc<AtomicBool>) {
    let count = Arc::new(AtomicUsize::new(0));
    let _ = ctrlc::set_handler(move || {
        let n = count.fetch_add(1, Ordering::SeqCst);
        if n == 0 {
            eprintln!("\nInterrupt received.\nPlease wait for Baton to exit or data loss may occur.\nGracefully shutting down: no new actions start; running ones finish and are saved...");
            stop.stop();
        } else {
            eprintln!("\nTwo interrupts received. Stopping running actions now; they are recorded as failed.");
            cancel.store(true, Ordering::SeqCst);
        }
    });
}

/// Ctrl-C during a workflow run: no new step starts; running ones finish and are recorded,
/// and `baton resume RUN` goes on later.
pub fn on_interrupt_flag(stop: Arc<AtomicBool>) {
    let _ = ctrlc::set_handler(move || {
        eprintln!(
            "\nInterrupt received: no new step starts; running ones finish and are recorded..."
        );
        stop.store(true, Ordering::SeqCst);
    });
}

/// The actions running now, by key: address, action, start.
type Running = Arc<Mutex<HashMap<String, (baton_core::InstanceAddr, Action, Instant)>>>;

/// Forwards events to a [`Progress`] and prints "Still creating..." every 10 seconds for
/// actions that are still running.
pub struct Ticker<'a> {
    inner: &'a Progress,
    running: Running,
    /// Dropped (or sent to) when the run ends, which wakes the ticking thread at once.
    done: Option<std::sync::mpsc::Sender<()>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl<'a> Ticker<'a> {
    pub fn start(inner: &'a Progress) -> Ticker<'a> {
        let running: Running = Arc::new(Mutex::new(HashMap::new()));
        let (done, rx) = std::sync::mpsc::channel::<()>();
        let r = running.clone();
        let thread = std::thread::spawn(move || {
            while let Err(std::sync::mpsc::RecvTimeoutError::Timeout) =
                rx.recv_timeout(Duration::from_secs(1))
            {
                let now = Instant::now();
                let items: Vec<(baton_core::InstanceAddr, Action, Duration)> = match r.lock() {
                    Ok(m) => m
                        .values()
                        .map(|(a, act, t)| (a.clone(), *act, now - *t))
                        .collect(),
                    Err(_) => Vec::new(),
                };
                for (addr, action, elapsed) in items {
                    let secs = elapsed.as_secs();
                    if secs >= 10 && secs % 10 == 0 {
                        Progress::print(Event::StillRunning {
                            addr,
                            action,
                            elapsed: Duration::from_secs(secs),
                        });
                    }
                }
            }
        });
        Ticker {
            inner,
            running,
            done: Some(done),
            thread: Some(thread),
        }
    }

    pub fn finish(mut self) {
        drop(self.done.take());
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

impl Observer for Ticker<'_> {
    fn event(&self, e: Event) {
        if let Ok(mut m) = self.running.lock() {
            match &e {
                Event::ApplyStart {
                    addr,
                    deposed,
                    action,
                    ..
                } => {
                    m.insert(
                        format!("{addr}{deposed:?}"),
                        (addr.clone(), *action, Instant::now()),
                    );
                }
                Event::ApplyDone { addr, deposed, .. }
                | Event::ApplyFailed { addr, deposed, .. } => {
                    m.remove(&format!("{addr}{deposed:?}"));
                }
                _ => {}
            }
        }
        self.inner.event(e);
    }
}
