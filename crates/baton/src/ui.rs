//! Terminal interaction: printing diagnostics, progress lines from the engine's events, and
//! asking for approval.

use baton_core::{Diagnostics, Sources};
use baton_engine::{Action, Event, Observer};
use std::io::{BufRead, Write};
use std::sync::Mutex;

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
    println!();
    line.trim() == "yes"
}

/// Prints progress lines as Terraform does.
pub struct Progress {
    lock: Mutex<()>,
}

impl Progress {
    pub fn new() -> Progress {
        Progress { lock: Mutex::new(()) }
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

impl Observer for Progress {
    fn event(&self, e: Event) {
        let _g = self.lock.lock();
        let line = match e {
            Event::RefreshStart { .. } => return,
            Event::RefreshDone { addr, id } => match id {
                Some(id) => format!("{addr}: Refreshing state... [id={id}]"),
                None => format!("{addr}: Refreshing state..."),
            },
            Event::ApplyStart { addr, deposed, action, id } => {
                let who = match deposed {
                    Some(d) => format!("{addr} (deposed object {d})"),
                    None => addr.to_string(),
                };
                let verb = match action {
                    Action::Create => "Creating...",
                    Action::Update => "Modifying...",
                    Action::Delete => "Destroying...",
                    Action::Read => "Reading...",
                    _ => "Working...",
                };
                match id {
                    Some(id) => format!("{who}: {verb} [id={id}]"),
                    None => format!("{who}: {verb}"),
                }
            }
            Event::ApplyDone { addr, deposed, action, elapsed: t, id } => {
                let who = match deposed {
                    Some(d) => format!("{addr} (deposed object {d})"),
                    None => addr.to_string(),
                };
                let what = match action {
                    Action::Create => "Creation complete",
                    Action::Update => "Modifications complete",
                    Action::Delete => "Destruction complete",
                    Action::Read => "Read complete",
                    _ => "Complete",
                };
                match id {
                    Some(id) => format!("{who}: {what} after {} [id={id}]", elapsed(t)),
                    None => format!("{who}: {what} after {}", elapsed(t)),
                }
            }
            Event::ApplyFailed { addr, action, elapsed: t, .. } => {
                let what = match action {
                    Action::Create => "Creation",
                    Action::Update => "Modification",
                    Action::Delete => "Destruction",
                    Action::Read => "Read",
                    _ => "Action",
                };
                format!("{addr}: {what} errored after {}", elapsed(t))
            }
            Event::StillRunning { addr, action, elapsed: t } => {
                let verb = match action {
                    Action::Create => "creating",
                    Action::Update => "modifying",
                    Action::Delete => "destroying",
                    _ => "working",
                };
                format!("{addr}: Still {verb}... [{} elapsed]", elapsed(t))
            }
            Event::ProvisionerStart { addr, kind } => format!("{addr}: Provisioning with '{kind}'..."),
            Event::ProvisionerOutput { addr, kind, line } => format!("{addr} ({kind}): {line}"),
        };
        println!("{line}");
    }
}
