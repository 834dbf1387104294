//! Who is taking a state lock, and whether a recorded holder still exists: lock-info
//! construction for this process, host name, process start times and liveness through `/proc`,
//! and the judgement of a stored lease every store shares ([`staleness`], [`lease`]).
//!
//! Must not signal or otherwise touch other processes (no `kill`, no `unsafe`), and must never
//! call a holder dead when unsure: where liveness cannot be known (no `/proc`, not Linux, an
//! unreadable entry) the holder is treated as alive, so a lock is only ever waited for, never
//! stolen from a live process.

use crate::model::{Fence, Lease, LockInfo};
use crate::stamp;
use crate::store::{Staleness, DEFAULT_LEASE};
use std::path::Path;

/// The lock information for this process, about to run `operation` (e.g. `apply`): a fresh
/// random id, our pid, host, `user@host`, the time now, our process start time and the
/// default lease ([`DEFAULT_LEASE`]; set `lease_ms` for another).
pub fn current_lock_info(operation: &str) -> LockInfo {
    let pid = std::process::id();
    let host = hostname().unwrap_or_else(|| "unknown".to_string());
    let user = ["USER", "LOGNAME", "USERNAME"]
        .iter()
        .find_map(|v| std::env::var(v).ok().filter(|u| !u.is_empty()))
        .or_else(account_name)
        .unwrap_or_else(|| "unknown".to_string());
    LockInfo {
        id: stamp::random_id(),
        pid,
        who: format!("{user}@{host}"),
        host,
        operation: operation.to_string(),
        since: stamp::now_rfc3339(),
        process_start: process_start(pid).unwrap_or_default(),
        lease_ms: u64::try_from(DEFAULT_LEASE.as_millis()).unwrap_or(u64::MAX),
    }
}

/// This machine's host name: the kernel's (`/proc/sys/kernel/hostname`), else `/etc/hostname`,
/// else `$HOSTNAME`. `None` when none is available.
pub fn hostname() -> Option<String> {
    ["/proc/sys/kernel/hostname", "/etc/hostname"]
        .iter()
        .filter_map(|p| std::fs::read_to_string(p).ok())
        .chain(std::env::var("HOSTNAME").ok())
        .map(|s| s.trim().to_string())
        .find(|s| !s.is_empty())
}

/// The account name of this process's user (from `/etc/passwd`), or `uid N` when it has none
/// there (e.g. a container running under an arbitrary uid). `None` off Linux.
fn account_name() -> Option<String> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let uid = status
        .lines()
        .find_map(|l| l.strip_prefix("Uid:"))
        .and_then(|rest| rest.split_whitespace().next())?
        .to_string();
    let passwd = std::fs::read_to_string("/etc/passwd").unwrap_or_default();
    let name = passwd.lines().find_map(|l| {
        let mut f = l.split(':');
        let name = f.next()?;
        let _password = f.next()?;
        (f.next()? == uid).then(|| name.to_string())
    });
    Some(name.unwrap_or_else(|| format!("uid {uid}")))
}

/// The start time of process `pid` as the OS reports it (on Linux, field 22 of
/// `/proc/<pid>/stat`: clock ticks after boot). `None` when unknown.
pub fn process_start(pid: u32) -> Option<String> {
    read_stat(pid).map(|s| s.start)
}

/// Does process `pid` still exist and is it the same process that was recorded with start time
/// `start` (empty when unknown)? A zombie counts as gone. Unknown counts as alive: on systems
/// without `/proc` this always returns `true`.
pub fn process_alive(pid: u32, start: &str) -> bool {
    if !cfg!(target_os = "linux") || !Path::new("/proc/self/stat").exists() {
        return true;
    }
    if !Path::new(&format!("/proc/{pid}")).exists() {
        return false;
    }
    match read_stat(pid) {
        // It exists but cannot be read (exiting right now, or hidden): assume alive; a caller
        // that polls will see it gone next time.
        None => true,
        Some(stat) => {
            let exited = matches!(stat.state, 'Z' | 'X' | 'x');
            !exited && (start.is_empty() || stat.start == start)
        }
    }
}

/// Is `holder` a lock left behind by a process of this host that no longer exists (or whose
/// pid now belongs to another process)? Holders on other hosts are never stale: we cannot see
/// their processes.
pub fn holder_is_gone(holder: &LockInfo) -> bool {
    match hostname() {
        Some(host) if host == holder.host => !process_alive(holder.pid, &holder.process_start),
        _ => false,
    }
}

/// Why a lock held by `holder`, whose lease runs out at `expires_ms` (`None`: a lock without a
/// lease, see [`LockInfo::lease_ms`]), may be taken over at time `now_ms` (both by the store's
/// clock), if it may: its lease ran out, or its holder is a process of this host that is gone.
pub fn staleness(holder: &LockInfo, expires_ms: Option<i64>, now_ms: i64) -> Option<Staleness> {
    if expires_ms.is_some_and(|e| e <= now_ms) {
        Some(Staleness::LeaseExpired)
    } else if holder_is_gone(holder) {
        Some(Staleness::ProcessGone)
    } else {
        None
    }
}

/// The lease of a stored lock as the stores report it (see [`staleness`]).
pub fn lease(holder: LockInfo, fence: Fence, expires_ms: Option<i64>, now_ms: i64) -> Lease {
    let expired = staleness(&holder, expires_ms, now_ms).is_some();
    Lease {
        holder,
        fence,
        expires_at_ms: expires_ms.and_then(|e| u64::try_from(e).ok()),
        expired,
    }
}

/// A stored holder: its JSON (`info`), or, when that is unreadable, what the columns stored
/// beside it say — enough to identify and judge the holder.
pub fn stored_holder(info: &str, id: String, pid: i64, host: String, since: String) -> LockInfo {
    serde_json::from_str(info).unwrap_or_else(|_| LockInfo {
        id,
        pid: u32::try_from(pid).unwrap_or(0),
        who: host.clone(),
        host,
        operation: String::new(),
        since,
        process_start: String::new(),
        lease_ms: 0,
    })
}

struct ProcStat {
    /// Field 3: R, S, D, Z (zombie), X (dead), ...
    state: char,
    /// Field 22.
    start: String,
}

fn read_stat(pid: u32) -> Option<ProcStat> {
    let text = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // Field 2 is the command name in parentheses and may itself contain spaces and ')'.
    let rest = &text[text.rfind(')')? + 1..];
    let mut fields = rest.split_whitespace();
    let state = fields.next()?.chars().next()?;
    // Fields 4..=21 skipped; the next one is field 22.
    let start = fields.nth(18)?.to_string();
    Some(ProcStat { state, start })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn our_own_lock_info_is_alive() {
        let info = current_lock_info("apply");
        assert_eq!(info.pid, std::process::id());
        assert_eq!(info.operation, "apply");
        assert!(info.who.ends_with(&format!("@{}", info.host)), "{info:?}");
        assert!(info.since.ends_with('Z'));
        assert!(process_alive(info.pid, &info.process_start));
        assert!(!holder_is_gone(&info));
        if cfg!(target_os = "linux") {
            assert!(!info.process_start.is_empty());
            assert!(info.process_start.bytes().all(|b| b.is_ascii_digit()));
        }
    }

    #[test]
    fn a_reused_pid_or_a_finished_process_is_gone() {
        if !cfg!(target_os = "linux") {
            return;
        }
        let me = std::process::id();
        assert!(
            !process_alive(me, "1"),
            "a different start time means pid reuse"
        );
        let mut child = std::process::Command::new("true")
            .spawn()
            .expect("spawn true");
        let pid = child.id();
        child.wait().expect("wait for true");
        assert!(!process_alive(pid, ""));
        let mut other_host = current_lock_info("apply");
        other_host.pid = pid;
        other_host.host = "elsewhere.invalid".to_string();
        assert!(!holder_is_gone(&other_host), "other hosts are never judged");
        let mut here = current_lock_info("apply");
        here.pid = pid;
        assert!(holder_is_gone(&here));
    }
}
