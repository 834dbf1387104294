//! Reading many files of one host in a few commands: the refresh of `remote_file` objects asks
//! for one file at a time from many threads, and each file read alone costs a command of its
//! own (a subshell and `stat`/`cat` processes on the host). Requests for one host wait in a
//! queue; whichever thread gets one of the host's shells takes every request queued by then
//! and reads them together — one `stat` of them all, then one `cat` of the small ones and one
//! `sha256sum` of those over the content limit — and hands each thread its file.
//!
//! This module must never return a wrong file: anything unexpected in the output (a file that
//! changed size between the two commands, an unreadable one, an error) makes the whole batch
//! answer "read it alone", and the caller falls back to its own single read, whose errors are
//! the ones the user sees.

use std::collections::HashMap;
use std::sync::mpsc::{channel, Sender};
use std::sync::{Arc, Mutex, OnceLock, PoisonError};

use crate::shell::sh_quote;
use crate::ssh::{Connection, Session};

/// What a file is on the host.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct FileFacts {
    /// Octal, as `stat %a` prints it (`644`).
    pub mode: String,
    pub owner: String,
    pub group: String,
    pub size: u64,
    /// The content, or for a file over the limit its SHA-256 in hex.
    pub body: Vec<u8>,
}

/// The answer for one file.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum Read {
    Found(FileFacts),
    /// Not a regular file there.
    Missing,
    /// The batch could not answer: read it alone.
    Alone,
}

type Waiting = Vec<(String, Sender<Read>)>;

fn queues() -> &'static Mutex<HashMap<Connection, Arc<Mutex<Waiting>>>> {
    static Q: OnceLock<Mutex<HashMap<Connection, Arc<Mutex<Waiting>>>>> = OnceLock::new();
    Q.get_or_init(Default::default)
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

/// Reads `path` on the host of `session`, together with whatever other reads of that host are
/// waiting. `limit`: files larger than this are answered by their SHA-256.
pub(crate) fn read(session: &Session, path: &str, limit: u64) -> Read {
    let queue = Arc::clone(
        lock(queues())
            .entry(session.connection().clone())
            .or_default(),
    );
    let (tx, rx) = channel();
    lock(&queue).push((path.to_string(), tx));
    flush(session, &queue, limit);
    rx.recv().unwrap_or(Read::Alone)
}

/// Someone may have taken the queued requests already; if not, takes everything queued once a
/// shell is free and answers it.
fn flush(session: &Session, queue: &Arc<Mutex<Waiting>>, limit: u64) {
    if !lock(queue).is_empty() {
        let batch = session.run_built(|| {
            let batch: Waiting = std::mem::take(&mut *lock(queue));
            if batch.is_empty() {
                return None;
            }
            let script = stat_script(batch.iter().map(|(p, _)| p.as_str()));
            Some((script, batch))
        });
        match batch {
            Ok(Some((batch, out))) => answer(session, batch, out, limit),
            Ok(None) => {}
            // No shell (the host cannot be reached, its key is refused): every request still
            // queued, this one among them, is read alone and reports the error itself.
            Err(_) => {
                for (_, tx) in std::mem::take(&mut *lock(queue)) {
                    let _ = tx.send(Read::Alone);
                }
            }
        }
    }
}

/// Reads of files a plan is about to ask for, started ahead ([`prefetch`]) and taken once
/// ([`take_prefetched`]).
/// With when it was started: a prefetch is for the plan that asked for it, never a later one.
type Prefetched = Arc<(
    Mutex<Option<HashMap<String, Read>>>,
    std::sync::Condvar,
    std::time::Instant,
)>;

/// How long a prefetch answers: a plan asks right after; an older one is another plan's.
const PREFETCH_FRESH: std::time::Duration = std::time::Duration::from_secs(30);

fn prefetches() -> &'static Mutex<HashMap<Connection, Prefetched>> {
    static P: OnceLock<Mutex<HashMap<Connection, Prefetched>>> = OnceLock::new();
    P.get_or_init(Default::default)
}

/// Starts reading `paths` on `conn`'s host in the background, in as few commands as
/// [`read`] makes: the planner asks about one file at a time, and each would otherwise be a
/// command of its own, one after another.
pub(crate) fn prefetch(conn: Connection, paths: Vec<String>, limit: u64) {
    let slot: Prefetched = Arc::new((
        Mutex::new(None),
        std::sync::Condvar::new(),
        std::time::Instant::now(),
    ));
    lock(prefetches()).insert(conn.clone(), Arc::clone(&slot));
    let key = conn.clone();
    let spawned = std::thread::Builder::new()
        .name("baton-ssh-prefetch".into())
        .spawn(move || {
            let session = crate::ssh::Sessions::shared().get(&conn);
            // Every path queued first, so one shell takes them all.
            let queue = Arc::clone(lock(queues()).entry(conn.clone()).or_default());
            let mut waiting = Vec::new();
            {
                let mut q = lock(&queue);
                for p in &paths {
                    let (tx, rx) = channel();
                    q.push((p.clone(), tx));
                    waiting.push((p.clone(), rx));
                }
            }
            flush(&session, &queue, limit);
            let found = waiting
                .into_iter()
                .map(|(p, rx)| (p, rx.recv().unwrap_or(Read::Alone)))
                .collect();
            *lock(&slot.0) = Some(found);
            slot.1.notify_all();
        });
    if spawned.is_err() {
        lock(prefetches()).remove(&key);
    }
}

/// What a [`prefetch`] of `conn`'s host found at `path`, waiting for it to finish; `None`
/// when nothing was prefetched there (or it could not answer).
pub(crate) fn take_prefetched(conn: &Connection, path: &str) -> Option<Read> {
    let slot = lock(prefetches()).get(conn).cloned()?;
    if slot.2.elapsed() > PREFETCH_FRESH {
        return None;
    }
    let mut done = lock(&slot.0);
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(120);
    while done.is_none() {
        let left = deadline.checked_duration_since(std::time::Instant::now())?;
        done = slot
            .1
            .wait_timeout(done, left)
            .unwrap_or_else(PoisonError::into_inner)
            .0;
    }
    match done.as_mut()?.remove(path)? {
        Read::Alone => None,
        r => Some(r),
    }
}

/// The first command: which paths are regular files, then `stat` of those.
fn stat_script<'a>(paths: impl Iterator<Item = &'a str>) -> String {
    let mut s = String::from("set --\nfor p in");
    for p in paths {
        s.push(' ');
        s.push_str(&sh_quote(p));
    }
    s.push_str(
        "; do if [ -f \"$p\" ]; then set -- \"$@\" \"$p\"; echo Y; else echo N; fi; done\n\
         [ $# -eq 0 ] || exec stat -c '%a %U %G %s' -- \"$@\"\n",
    );
    s
}

/// Reads the contents for a batch whose `stat` output is `out`, and answers every request of
/// it (with `Alone` for all when anything does not add up).
fn answer(session: &Session, batch: Waiting, out: crate::ssh::RemoteOutput, limit: u64) {
    let answers =
        contents(session, &batch, &out, limit).unwrap_or_else(|| vec![Read::Alone; batch.len()]);
    for ((_, tx), a) in batch.into_iter().zip(answers) {
        let _ = tx.send(a);
    }
}

fn contents(
    session: &Session,
    batch: &Waiting,
    out: &crate::ssh::RemoteOutput,
    limit: u64,
) -> Option<Vec<Read>> {
    if out.code != 0 {
        return None;
    }
    let text = std::str::from_utf8(&out.stdout).ok()?;
    let mut lines = text.lines();
    let flags: Vec<bool> = (0..batch.len())
        .map(|_| match lines.next() {
            Some("Y") => Some(true),
            Some("N") => Some(false),
            _ => None,
        })
        .collect::<Option<_>>()?;
    // (index in batch, mode, owner, group, size) for each regular file, in order.
    let mut found = Vec::new();
    for (i, _) in flags.iter().enumerate().filter(|(_, f)| **f) {
        let mut w = lines.next()?.split_whitespace();
        let (mode, owner, group) = (w.next()?, w.next()?, w.next()?);
        let size: u64 = w.next()?.parse().ok()?;
        found.push((
            i,
            mode.to_string(),
            owner.to_string(),
            group.to_string(),
            size,
        ));
    }
    if lines.next().is_some() {
        return None;
    }
    let (small, big): (Vec<_>, Vec<_>) = found.iter().partition(|f| f.4 <= limit);
    let mut script = String::new();
    if !small.is_empty() {
        script.push_str("cat --");
        for f in &small {
            script.push(' ');
            script.push_str(&sh_quote(&batch[f.0].0));
        }
        script.push_str(" || exit 1\n");
    }
    if !big.is_empty() {
        script.push_str("sha256sum --");
        for f in &big {
            script.push(' ');
            script.push_str(&sh_quote(&batch[f.0].0));
        }
        script.push_str(" || exit 1\n");
    }
    let mut bodies: HashMap<usize, Vec<u8>> = HashMap::new();
    if !script.is_empty() {
        let out = session.run(&script, None).ok()?;
        if out.code != 0 {
            return None;
        }
        let mut rest: &[u8] = &out.stdout;
        for f in &small {
            let n = usize::try_from(f.4).ok()?;
            if rest.len() < n {
                return None;
            }
            bodies.insert(f.0, rest[..n].to_vec());
            rest = &rest[n..];
        }
        let sums = std::str::from_utf8(rest).ok()?;
        let mut sums = sums.lines();
        for f in &big {
            let hash = sums.next()?.split_whitespace().next()?;
            if hash.len() != 64 {
                return None;
            }
            bodies.insert(f.0, hash.as_bytes().to_vec());
        }
        if sums.next().is_some() {
            return None;
        }
    }
    let mut answers = vec![Read::Missing; batch.len()];
    for (i, mode, owner, group, size) in found {
        answers[i] = Read::Found(FileFacts {
            mode,
            owner,
            group,
            size,
            body: bodies.remove(&i)?,
        });
    }
    Some(answers)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_stat_script_quotes_every_path() {
        let s = stat_script(["/a b", "/it's"].into_iter());
        assert!(s.contains("for p in '/a b' '/it'\\''s';"), "{s}");
        let out = std::process::Command::new("sh")
            .arg("-c")
            .arg(stat_script(
                ["/etc/hostname", "/nonexistent-baton"].into_iter(),
            ))
            .output()
            .expect("sh runs");
        let text = String::from_utf8_lossy(&out.stdout);
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines.first(), Some(&"Y"), "{text}");
        assert_eq!(lines.get(1), Some(&"N"), "{text}");
        assert_eq!(lines.len(), 3, "{text}");
    }
}
