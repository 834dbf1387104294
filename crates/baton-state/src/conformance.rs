//! The conformance suite every [`StateStore`] must pass: versions, per-object writes, history,
//! crash safety, the lock (exclusivity across handles, waiting, stale and foreign holders,
//! force-unlock, leases taken over after expiry and never while renewed, fencing tokens that
//! refuse a displaced holder's writes), concurrent writers, and the audit log (appends, hash chaining, verification,
//! concurrent appenders, appending under someone else's lock). It is ordinary code, not
//! `cfg(test)`, so that each store's crate runs the same checks (see
//! [`state_store_conformance!`]).
//!
//! This is test support: a failed check panics with a message naming what was expected. It
//! must only use the [`StateStore`] trait, never a particular store's internals.
//!
//! Every check receives `open`, a function returning a new handle on one fresh, empty database
//! each time it is called — as another process opening the same state would.

use crate::audit::{AuditChange, AuditEntry, AuditRecord};
use crate::lock::current_lock_info;
use crate::model::{EntryStatus, Fence, JournalEntry, LockInfo};
use crate::model::{
    InstanceState, InstanceStatus, ObjectKey, OutputState, RunRecord, RunStatus, Snapshot,
};
use crate::store::{LockGuard, StaleLock, Staleness, StateError, StateStore, Unlock};
use baton_core::InstanceAddr;
use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// A function that opens a new handle on the database under test.
pub type Open<'a> = &'a dyn Fn() -> Box<dyn StateStore>;

/// One conformance check.
pub type Check = fn(Open<'_>);

/// `[(name, check)]` from check names.
macro_rules! named {
    ($($check:ident),* $(,)?) => {
        &[$((stringify!($check), $check as Check)),*]
    };
}

/// Every check, by name. [`state_store_conformance!`] makes one test of each.
pub const CHECKS: &[(&str, Check)] = named![
    fresh_store_is_empty,
    versions_increase,
    objects_and_outputs_are_put_and_removed,
    history_is_kept,
    writes_outside_the_open_version_are_refused,
    open_version_writes_survive_a_crash,
    lock_is_exclusive_across_handles,
    lock_waits_for_release,
    stale_lock_is_cleared,
    lock_from_another_host_is_kept,
    force_unlock_removes_any_holder,
    expired_lease_is_taken_over_and_the_old_holder_fenced,
    live_lease_is_never_displaced,
    remote_live_lease_is_never_displaced,
    concurrent_puts_all_land,
    audit_records_are_appended_and_read_back,
    audit_chain_links,
    audit_verify_passes_on_an_untouched_log,
    audit_concurrent_appends_form_one_chain,
    audit_appends_while_the_state_is_locked,
    runs_are_listed_without_plans_and_read_one_with_its_plan,
];

/// Runs every check, each on a database of its own from `new_database` (which returns an
/// opener for a fresh, empty database each time it is called).
pub fn run_all(new_database: &dyn Fn() -> Box<dyn Fn() -> Box<dyn StateStore>>) {
    for (name, check) in CHECKS {
        eprintln!("state store conformance: {name}");
        let open = new_database();
        check(&*open);
    }
}

/// Defines one `#[test]` per conformance check. `$new_database` is an expression evaluated
/// once per test, returning an opener for a fresh, empty database
/// (`Box<dyn Fn() -> Box<dyn StateStore>>`).
///
/// ```text
/// mod conformance {
///     baton_state::state_store_conformance!(super::new_sqlite_database());
/// }
/// ```
#[macro_export]
macro_rules! state_store_conformance {
    ($new_database:expr) => {
        $crate::state_store_conformance!(@each $new_database;
            fresh_store_is_empty,
            versions_increase,
            objects_and_outputs_are_put_and_removed,
            history_is_kept,
            writes_outside_the_open_version_are_refused,
            open_version_writes_survive_a_crash,
            lock_is_exclusive_across_handles,
            lock_waits_for_release,
            stale_lock_is_cleared,
            lock_from_another_host_is_kept,
            force_unlock_removes_any_holder,
            expired_lease_is_taken_over_and_the_old_holder_fenced,
            live_lease_is_never_displaced,
            remote_live_lease_is_never_displaced,
            concurrent_puts_all_land,
            audit_records_are_appended_and_read_back,
            audit_chain_links,
            audit_verify_passes_on_an_untouched_log,
            audit_concurrent_appends_form_one_chain,
            audit_appends_while_the_state_is_locked,
            runs_are_listed_without_plans_and_read_one_with_its_plan,
        );
    };
    (@each $new_database:expr; $($check:ident),* $(,)?) => {
        $(
            #[test]
            fn $check() {
                let open = $new_database;
                $crate::conformance::$check(&*open);
            }
        )*

        #[test]
        fn every_check_is_run() {
            let run: Vec<&str> = vec![$(stringify!($check)),*];
            let all: Vec<&str> = $crate::conformance::CHECKS.iter().map(|(n, _)| *n).collect();
            assert_eq!(run, all, "state_store_conformance! and CHECKS disagree");
        }
    };
}

/// A fresh store: lineage, serial 0, nothing else; no history, no lock.
pub fn fresh_store_is_empty(open: Open<'_>) {
    let store = open();
    let snap = must(store.current(), "current");
    assert_eq!(snap.serial, 0);
    assert!(snap.is_empty(), "a fresh store holds nothing: {snap:?}");
    assert!(
        !snap.lineage.is_empty(),
        "a store has a lineage from the start"
    );
    assert_eq!(must(store.history(), "history"), vec![]);
    assert_eq!(must(store.lock_holder(), "lock_holder"), None);
    assert_eq!(
        must(store.force_unlock(Unlock::IfExpired), "force_unlock"),
        None
    );
    assert_eq!(must(store.at_version(0), "at_version(0)"), snap);
    assert!(matches!(
        store.at_version(1),
        Err(StateError::NoSuchVersion(1))
    ));
    let again = must(open().current(), "current from a second handle");
    assert_eq!(
        again.lineage, snap.lineage,
        "the lineage is fixed at creation"
    );
}

/// Serials count up from 1; history records run, command, status and time, oldest first; a
/// version left open is marked `interrupted` when the next one begins.
pub fn versions_increase(open: Open<'_>) {
    let store = open();
    let lease = hold(&*store);
    let f = lease.fence();
    let lineage = must(store.current(), "current").lineage;
    assert_eq!(must(store.begin_version(f, "run-1", "apply"), "begin 1"), 1);
    assert_eq!(must(store.current(), "current").serial, 1);
    must(store.finish_version(f, 1, "complete"), "finish 1");
    assert_eq!(
        must(store.begin_version(f, "run-2", "destroy"), "begin 2"),
        2
    );
    must(store.finish_version(f, 2, "failed"), "finish 2");
    assert_eq!(must(store.begin_version(f, "run-3", "apply"), "begin 3"), 3);
    assert_eq!(must(store.begin_version(f, "", "state rm"), "begin 4"), 4);
    assert!(matches!(
        store.finish_version(f, 3, "complete"),
        Err(StateError::VersionNotOpen(3))
    ));

    let history = must(store.history(), "history");
    let summary: Vec<(u64, &str, &str, &str)> = history
        .iter()
        .map(|v| {
            (
                v.serial,
                v.run_id.as_str(),
                v.command.as_str(),
                v.status.as_str(),
            )
        })
        .collect();
    assert_eq!(
        summary,
        vec![
            (1, "run-1", "apply", "complete"),
            (2, "run-2", "destroy", "failed"),
            (3, "run-3", "apply", "interrupted"),
            (4, "", "state rm", "in_progress"),
        ]
    );
    for v in &history {
        assert_eq!(v.lineage, lineage);
        assert_eq!(v.changes, 0);
        let t = v.created_at.as_bytes();
        assert!(
            t.len() >= 20 && t[4] == b'-' && t[10] == b'T' && v.created_at.ends_with('Z'),
            "created_at is RFC 3339 UTC: {}",
            v.created_at
        );
    }
    assert_eq!(must(store.current(), "current").serial, 4);
}

/// Objects (current and deposed) and outputs are written, replaced and removed.
pub fn objects_and_outputs_are_put_and_removed(open: Open<'_>) {
    let store = open();
    let lease = hold(&*store);
    let f = lease.fence();
    let v = must(store.begin_version(f, "run-1", "apply"), "begin");
    let a = key("terraform_data.a");
    let odd = key("module.m[\"k \\\"q\\\"\"].null_resource.n[3]");
    let deposed = ObjectKey {
        addr: a.addr.clone(),
        deposed: "00000001".to_string(),
    };
    put(&*store, f, v, &a, Some(&object(1)));
    put(&*store, f, v, &odd, Some(&object(2)));
    put(&*store, f, v, &deposed, Some(&object(3)));
    must(
        store.put_outputs(f, v, &outputs(&[("x", 1), ("y", 2)])),
        "put_outputs",
    );

    let snap = must(store.current(), "current");
    assert_eq!(
        snap.objects,
        objects(&[(&a, 1), (&odd, 2), (&deposed, 3)]),
        "keys round-trip exactly, deposed objects apart"
    );
    assert_eq!(snap.current(&a.addr), Some(&object(1)));
    assert_eq!(snap.outputs, outputs(&[("x", 1), ("y", 2)]));

    put(&*store, f, v, &a, None);
    put(&*store, f, v, &key("terraform_data.never_there"), None);
    must(
        store.put_outputs(f, v, &outputs(&[("y", 3)])),
        "put_outputs",
    );
    must(store.finish_version(f, v, "complete"), "finish");

    let snap = must(open().current(), "current from another handle");
    assert_eq!(snap.objects, objects(&[(&odd, 2), (&deposed, 3)]));
    assert_eq!(
        snap.outputs,
        outputs(&[("y", 3)]),
        "outputs are replaced as a whole"
    );

    let v = must(store.begin_version(f, "run-2", "apply"), "begin");
    must(store.put_outputs(f, v, &BTreeMap::new()), "put_outputs");
    put(&*store, f, v, &odd, Some(&object(4)));
    assert_eq!(
        must(store.current(), "current"),
        Snapshot {
            lineage: snap.lineage.clone(),
            serial: 2,
            objects: objects(&[(&odd, 4), (&deposed, 3)]),
            outputs: BTreeMap::new(),
        }
    );
}

/// Every past version reads back exactly, across updates, removals, re-additions and objects
/// written several times in one version.
pub fn history_is_kept(open: Open<'_>) {
    let store = open();
    let lease = hold(&*store);
    let f = lease.fence();
    let (a, b, c, d) = (
        key("terraform_data.a"),
        key("terraform_data.b"),
        key("terraform_data.c"),
        key("terraform_data.d"),
    );

    let v1 = must(store.begin_version(f, "run-1", "apply"), "begin 1");
    put(&*store, f, v1, &a, Some(&object(1)));
    put(&*store, f, v1, &b, Some(&object(1)));
    must(store.put_outputs(f, v1, &outputs(&[("o", 1)])), "outputs 1");
    must(store.finish_version(f, v1, "complete"), "finish 1");

    let v2 = must(store.begin_version(f, "run-2", "apply"), "begin 2");
    put(&*store, f, v2, &a, Some(&object(2)));
    put(&*store, f, v2, &b, None);
    put(&*store, f, v2, &c, Some(&object(1)));
    put(&*store, f, v2, &c, Some(&object(2)));
    must(store.put_outputs(f, v2, &outputs(&[("o", 2)])), "outputs 2");
    must(store.finish_version(f, v2, "complete"), "finish 2");

    let v3 = must(store.begin_version(f, "run-3", "apply"), "begin 3");
    put(&*store, f, v3, &b, Some(&object(3)));
    put(&*store, f, v3, &a, Some(&object(3)));
    put(&*store, f, v3, &a, None);
    put(&*store, f, v3, &d, Some(&object(1)));
    put(&*store, f, v3, &d, None);
    put(&*store, f, v3, &c, Some(&object(2)));
    must(store.put_outputs(f, v3, &BTreeMap::new()), "outputs 3");
    must(store.finish_version(f, v3, "failed"), "finish 3");

    let v4 = must(store.begin_version(f, "run-4", "apply"), "begin 4");
    put(&*store, f, v4, &a, Some(&object(4)));

    let expected = [
        (objects(&[(&a, 1), (&b, 1)]), outputs(&[("o", 1)])),
        (objects(&[(&a, 2), (&c, 2)]), outputs(&[("o", 2)])),
        (objects(&[(&b, 3), (&c, 2)]), BTreeMap::new()),
        (objects(&[(&a, 4), (&b, 3), (&c, 2)]), BTreeMap::new()),
    ];
    let lineage = must(store.current(), "current").lineage;
    let reader = open();
    for (serial, (objects, outputs)) in (1u64..).zip(expected) {
        let snap = must(reader.at_version(serial), "at_version");
        assert_eq!(
            snap,
            Snapshot {
                lineage: lineage.clone(),
                serial,
                objects,
                outputs,
            },
            "state as of version {serial}"
        );
    }
    assert_eq!(
        must(reader.current(), "current"),
        must(reader.at_version(4), "at_version(4)")
    );
    assert!(matches!(
        reader.at_version(5),
        Err(StateError::NoSuchVersion(5))
    ));
    let changes: Vec<u64> = must(reader.history(), "history")
        .iter()
        .map(|v| v.changes)
        .collect();
    assert_eq!(
        changes[..2],
        [2, 3],
        "changes count objects, once each per version"
    );
}

/// Writes go to the open version only: not to a finished one, an older one, or one not begun.
pub fn writes_outside_the_open_version_are_refused(open: Open<'_>) {
    let store = open();
    let lease = hold(&*store);
    let f = lease.fence();
    let a = key("terraform_data.a");
    let not_open = |r: Result<(), StateError>, serial: u64, what: &str| match r {
        Err(StateError::VersionNotOpen(s)) if s == serial => {}
        other => panic!("{what}: expected VersionNotOpen({serial}), got {other:?}"),
    };
    not_open(store.put_object(f, 0, &a, Some(&object(1))), 0, "serial 0");
    not_open(store.put_object(f, 1, &a, Some(&object(1))), 1, "not begun");
    not_open(
        store.put_outputs(f, 1, &outputs(&[("o", 1)])),
        1,
        "not begun",
    );

    let v1 = must(store.begin_version(f, "run-1", "apply"), "begin 1");
    put(&*store, f, v1, &a, Some(&object(1)));
    must(store.finish_version(f, v1, "complete"), "finish 1");
    not_open(
        store.put_object(f, v1, &a, Some(&object(9))),
        v1,
        "finished",
    );
    not_open(store.put_object(f, v1, &a, None), v1, "finished");
    not_open(
        store.put_outputs(f, v1, &outputs(&[("o", 9)])),
        v1,
        "finished",
    );
    not_open(store.finish_version(f, v1, "failed"), v1, "finished twice");

    let v2 = must(store.begin_version(f, "run-2", "apply"), "begin 2");
    let other = open();
    not_open(other.put_object(f, v1, &a, Some(&object(9))), v1, "older");
    not_open(
        other.put_object(f, v2 + 1, &a, Some(&object(9))),
        v2 + 1,
        "newer",
    );
    put(&*other, f, v2, &a, Some(&object(2)));

    let first = must(store.at_version(v1), "at_version(1)");
    assert_eq!(first.objects, objects(&[(&a, 1)]));
    assert!(first.outputs.is_empty());
    assert_eq!(
        must(store.current(), "current").objects,
        objects(&[(&a, 2)])
    );
}

/// What an open version wrote is in the current state even if the run never finishes it, and
/// another process can carry on writing to it.
pub fn open_version_writes_survive_a_crash(open: Open<'_>) {
    let a = key("terraform_data.a");
    let b = key("terraform_data.b");
    let crashed = open();
    let lease = hold(&*crashed);
    let f = lease.fence();
    let v = must(crashed.begin_version(f, "run-1", "apply"), "begin");
    put(&*crashed, f, v, &a, Some(&object(1)));
    must(
        crashed.put_outputs(f, v, &outputs(&[("o", 1)])),
        "put_outputs",
    );
    drop(lease);
    drop(crashed);

    let next = open();
    let lease = hold(&*next);
    let f = lease.fence();
    let snap = must(next.current(), "current after the crash");
    assert_eq!(snap.serial, v);
    assert_eq!(snap.objects, objects(&[(&a, 1)]));
    assert_eq!(snap.outputs, outputs(&[("o", 1)]));
    let history = must(next.history(), "history");
    assert_eq!(history.len(), 1);
    assert_eq!(history[0].status, "in_progress");
    assert_eq!(history[0].changes, 1);

    put(&*next, f, v, &b, Some(&object(2)));
    must(next.finish_version(f, v, "failed"), "finish");
    assert_eq!(
        must(next.at_version(v), "at_version").objects,
        objects(&[(&a, 1), (&b, 2)])
    );
}

/// One holder at a time, across handles on the same database; a second taker fails at once
/// (timeout zero) with the holder's information, and succeeds once the guard is dropped.
pub fn lock_is_exclusive_across_handles(open: Open<'_>) {
    let first = open();
    let second = open();
    let mine = current_lock_info("apply");
    let theirs = current_lock_info("plan");

    let guard = must(first.lock(mine.clone(), Duration::ZERO), "first lock");
    assert_eq!(guard.info, mine);
    assert_eq!(guard.cleared_stale, None);
    assert_eq!(
        must(second.lock_holder(), "lock_holder"),
        Some(mine.clone())
    );

    let started = Instant::now();
    match second.lock(theirs.clone(), Duration::ZERO) {
        Err(StateError::Locked(holder)) => assert_eq!(*holder, mine),
        other => panic!("expected Locked, got {other:?}"),
    }
    assert!(
        started.elapsed() < Duration::from_secs(2),
        "timeout zero fails at once"
    );
    assert!(
        matches!(
            first.lock(theirs.clone(), Duration::ZERO),
            Err(StateError::Locked(_))
        ),
        "the same handle cannot take the lock twice either"
    );

    drop(guard);
    assert_eq!(must(first.lock_holder(), "lock_holder"), None);
    let guard = must(second.lock(theirs.clone(), Duration::ZERO), "second lock");
    assert_eq!(must(first.lock_holder(), "lock_holder"), Some(theirs));
    drop(guard);
    assert_eq!(must(second.lock_holder(), "lock_holder"), None);
}

/// A taker waits up to its timeout: it fails after the timeout while the holder keeps the
/// lock, and succeeds as soon as the holder releases it from another thread.
pub fn lock_waits_for_release(open: Open<'_>) {
    let first = open();
    let second = open();
    let guard = must(
        first.lock(current_lock_info("apply"), Duration::ZERO),
        "first lock",
    );

    let started = Instant::now();
    let result = second.lock(current_lock_info("plan"), Duration::from_millis(300));
    assert!(matches!(result, Err(StateError::Locked(_))), "{result:?}");
    assert!(
        started.elapsed() >= Duration::from_millis(300),
        "waited only {:?}",
        started.elapsed()
    );

    let releaser = std::thread::spawn(move || {
        std::thread::sleep(Duration::from_millis(300));
        drop(guard);
    });
    let started = Instant::now();
    let theirs = current_lock_info("plan");
    let guard = must(
        second.lock(theirs.clone(), Duration::from_secs(20)),
        "lock after waiting",
    );
    let waited = started.elapsed();
    assert!(
        waited >= Duration::from_millis(250) && waited < Duration::from_secs(10),
        "waited {waited:?}"
    );
    assert_eq!(guard.info, theirs);
    if releaser.join().is_err() {
        panic!("the releasing thread panicked");
    }
}

/// A lock left by a process of this host that is gone — or whose pid now belongs to another
/// process — is cleared, and the cleared holder is reported. Linux only (elsewhere liveness is
/// unknown and holders are presumed alive).
pub fn stale_lock_is_cleared(open: Open<'_>) {
    if !cfg!(target_os = "linux") {
        return;
    }
    let crashed = open();
    let next = open();

    let mut dead = current_lock_info("apply");
    dead.pid = finished_pid();
    dead.process_start = String::new();
    // A process that dies holding the lock never releases it.
    must(crashed.lock(dead.clone(), Duration::ZERO), "dead lock").abandon();

    let mine = current_lock_info("plan");
    let guard = must(
        next.lock(mine.clone(), Duration::ZERO),
        "lock over a dead holder",
    );
    assert_eq!(
        guard.cleared_stale,
        Some(StaleLock {
            holder: dead,
            why: Staleness::ProcessGone
        })
    );
    assert_eq!(must(crashed.lock_holder(), "lock_holder"), Some(mine));
    drop(guard);

    let mut reused = current_lock_info("apply");
    reused.process_start = "1".to_string(); // our pid, but not our start: the pid was reused
    must(crashed.lock(reused.clone(), Duration::ZERO), "reused lock").abandon();
    let guard = must(
        next.lock(current_lock_info("plan"), Duration::ZERO),
        "lock over a reused pid",
    );
    assert_eq!(
        guard.cleared_stale,
        Some(StaleLock {
            holder: reused,
            why: Staleness::ProcessGone
        })
    );
}

/// A holder on another host is never judged stale by its process, even with a pid that does not
/// exist here; `force_unlock` removes its live lease only with the override.
pub fn lock_from_another_host_is_kept(open: Open<'_>) {
    let remote = open();
    let local = open();
    let mut elsewhere = current_lock_info("apply");
    elsewhere.host = "elsewhere.invalid".to_string();
    elsewhere.who = "someone@elsewhere.invalid".to_string();
    elsewhere.pid = finished_pid();
    // It stopped renewing, but its lease (the default, 30 s) is far from over.
    must(
        remote.lock(elsewhere.clone(), Duration::ZERO),
        "remote lock",
    )
    .abandon();

    match local.lock(current_lock_info("plan"), Duration::from_millis(150)) {
        Err(StateError::Locked(holder)) => assert_eq!(*holder, elsewhere),
        other => panic!("expected Locked by the other host, got {other:?}"),
    }
    match local.force_unlock(Unlock::IfExpired) {
        Err(StateError::LeaseLive(lease)) => {
            assert_eq!(lease.holder, elsewhere);
            assert!(!lease.expired);
        }
        other => panic!("expected LeaseLive, got {other:?}"),
    }
    assert_eq!(
        must(local.force_unlock(Unlock::EvenIfLive), "force_unlock"),
        Some(elsewhere)
    );
    must(
        local.lock(current_lock_info("plan"), Duration::ZERO),
        "lock after force_unlock",
    );
}

/// `force_unlock` refuses a live lease unless overridden; with the override it removes
/// whoever holds the lock and returns it. The old holder's renewer notices it lost the lock,
/// its writes are refused, and its guard, when dropped later, does not release the new
/// holder's lock.
pub fn force_unlock_removes_any_holder(open: Open<'_>) {
    let first = open();
    let second = open();
    let mine = leased("apply", LIVE_LEASE_MS);
    let old_guard = must(first.lock(mine.clone(), Duration::ZERO), "first lock");
    let old = old_guard.fence();

    assert!(matches!(
        second.force_unlock(Unlock::IfExpired),
        Err(StateError::LeaseLive(_))
    ));
    assert_eq!(must(first.lock_holder(), "lock_holder"), Some(mine.clone()));
    assert_eq!(
        must(second.force_unlock(Unlock::EvenIfLive), "force_unlock"),
        Some(mine)
    );
    assert_eq!(
        must(second.force_unlock(Unlock::IfExpired), "force_unlock again"),
        None
    );
    assert_eq!(must(first.lock_holder(), "lock_holder"), None);
    eventually("the old holder's renewer to notice", || {
        old_guard.lost().then_some(())
    });
    match first.begin_version(old, "run-1", "apply") {
        Err(StateError::Fenced { fence, holder }) => {
            assert_eq!(fence, old);
            assert_eq!(holder, None);
        }
        other => panic!("expected Fenced after force-unlock, got {other:?}"),
    }

    let theirs = current_lock_info("apply");
    let guard = must(
        second.lock(theirs.clone(), Duration::ZERO),
        "lock after force",
    );
    drop(old_guard);
    assert_eq!(
        must(first.lock_holder(), "lock_holder"),
        Some(theirs),
        "a forced-out guard must not release its successor's lock"
    );
    drop(guard);
    assert_eq!(must(first.lock_holder(), "lock_holder"), None);
}

/// A holder that stopped renewing (crashed, hung, cut off) loses the lock once its lease runs
/// out: another handle takes it over with a greater fencing token, every write of the old
/// holder is then refused with `Fenced` naming the new holder — nothing of it lands — while the
/// new holder writes on. An expired lease is removed by `force_unlock` without the override.
pub fn expired_lease_is_taken_over_and_the_old_holder_fenced(open: Open<'_>) {
    let first = open();
    let second = open();
    let a = key("terraform_data.a");
    let stalled = leased("apply", 200);
    let old_guard = must(first.lock(stalled.clone(), Duration::ZERO), "first lock");
    let old = old_guard.fence();
    let v = must(first.begin_version(old, "run-1", "apply"), "begin");
    put(&*first, old, v, &a, Some(&object(1)));
    old_guard.abandon();

    let theirs = leased("apply", 200);
    let guard = eventually("the expired lease to be taken over", || {
        match second.lock(theirs.clone(), Duration::ZERO) {
            Ok(g) => Some(g),
            Err(StateError::Locked(_)) => None,
            Err(e) => panic!("lock failed: {e} ({e:?})"),
        }
    });
    assert_eq!(
        guard.cleared_stale,
        Some(StaleLock {
            holder: stalled,
            why: Staleness::LeaseExpired
        })
    );
    let new = guard.fence();
    assert!(
        new > old,
        "a takeover increments the token: {old} then {new}"
    );
    assert_eq!(
        must(first.lock_holder(), "lock_holder"),
        Some(theirs.clone())
    );

    let fenced = |r: Result<(), StateError>, what: &str| match r {
        Err(StateError::Fenced { fence, holder }) => {
            assert_eq!(fence, old, "{what}");
            assert_eq!(holder.as_deref(), Some(&theirs), "{what}");
        }
        other => panic!("{what}: expected Fenced, got {other:?}"),
    };
    fenced(first.put_object(old, v, &a, Some(&object(2))), "put_object");
    fenced(
        first.put_outputs(old, v, &outputs(&[("o", 2)])),
        "put_outputs",
    );
    fenced(first.finish_version(old, v, "complete"), "finish_version");
    fenced(
        first.begin_version(old, "run-1", "apply").map(|_| ()),
        "begin_version",
    );
    fenced(
        first.finish_run(old, "run-1", RunStatus::Completed),
        "finish_run",
    );
    fenced(
        first
            .journal_start(old, &intent("run-1", "terraform_data.a"))
            .map(|_| ()),
        "journal_start",
    );
    let snap = must(first.current(), "current");
    assert_eq!(snap.objects, objects(&[(&a, 1)]), "no refused write landed");
    assert!(snap.outputs.is_empty());

    put(&*second, new, v, &a, Some(&object(3)));
    must(
        second.finish_version(new, v, "complete"),
        "finish by the new holder",
    );

    guard.abandon();
    eventually("the new lease to expire", || {
        let lease = must(first.lease(), "lease")?;
        lease.expired.then_some(())
    });
    assert_eq!(
        must(first.force_unlock(Unlock::IfExpired), "force_unlock"),
        Some(theirs)
    );
}

/// A holder that keeps renewing is never displaced: another handle waiting several lease
/// durations fails with `Locked`, `force_unlock` without the override refuses it, and the
/// holder's writes go on landing.
pub fn live_lease_is_never_displaced(open: Open<'_>) {
    live_lease_kept(open, leased("apply", LIVE_LEASE_MS));
}

/// The same, for a holder that claims another host (whose process this host cannot see).
pub fn remote_live_lease_is_never_displaced(open: Open<'_>) {
    let mut elsewhere = leased("apply", LIVE_LEASE_MS);
    elsewhere.host = "elsewhere.invalid".to_string();
    elsewhere.who = "someone@elsewhere.invalid".to_string();
    elsewhere.pid = finished_pid();
    live_lease_kept(open, elsewhere);
}

/// The lease of the live-holder checks: long enough that a renewer thread starved for a
/// second on a loaded machine (CI runs tests in parallel on two cores) still renews in time.
const LIVE_LEASE_MS: u64 = 1500;

fn live_lease_kept(open: Open<'_>, holder: LockInfo) {
    let owner = open();
    let other = open();
    let guard = must(owner.lock(holder.clone(), Duration::ZERO), "lock");
    let f = guard.fence();
    let v = must(owner.begin_version(f, "run-1", "apply"), "begin");
    // Twice the lease: the holder renews (every third of it) meanwhile.
    match other.lock(
        leased("plan", LIVE_LEASE_MS),
        Duration::from_millis(2 * LIVE_LEASE_MS),
    ) {
        Err(StateError::Locked(h)) => assert_eq!(*h, holder),
        other => panic!("expected Locked by the renewing holder, got {other:?}"),
    }
    match other.force_unlock(Unlock::IfExpired) {
        Err(StateError::LeaseLive(lease)) => {
            assert_eq!(lease.holder, holder);
            assert_eq!(lease.fence, f);
            assert!(!lease.expired);
        }
        other => panic!("expected LeaseLive, got {other:?}"),
    }
    assert!(!guard.lost());
    put(&*owner, f, v, &key("terraform_data.a"), Some(&object(1)));
    must(owner.finish_version(f, v, "complete"), "finish");
    drop(guard);
    assert_eq!(must(other.lock_holder(), "lock_holder"), None);
}

/// Eight threads on two handles write 50 objects each into the open version: all land.
pub fn concurrent_puts_all_land(open: Open<'_>) {
    let handles: [Arc<dyn StateStore>; 2] = [Arc::from(open()), Arc::from(open())];
    let lease = hold(&*handles[0]);
    let f = lease.fence();
    let v = must(handles[0].begin_version(f, "run-1", "apply"), "begin");
    let workers: Vec<_> = (0..8)
        .map(|t| {
            let store = Arc::clone(&handles[t % 2]);
            std::thread::spawn(move || {
                for i in 0..50 {
                    let k = key(&format!("terraform_data.t{t}[{i}]"));
                    put(&*store, f, v, &k, Some(&object(t as i64 * 1000 + i)));
                }
            })
        })
        .collect();
    for w in workers {
        if w.join().is_err() {
            panic!("a writer thread panicked");
        }
    }
    let snap = must(open().current(), "current");
    assert_eq!(snap.objects.len(), 400);
    for t in 0..8i64 {
        for i in 0..50 {
            let k = key(&format!("terraform_data.t{t}[{i}]"));
            assert_eq!(snap.objects.get(&k), Some(&object(t * 1000 + i)), "{k:?}");
        }
    }
    assert_eq!(must(handles[1].history(), "history")[0].changes, 400);
    must(handles[1].finish_version(f, v, "complete"), "finish");
}

/// Audit records are appended with ids from 1, read back exactly (from another handle too),
/// one at a time by id, and an empty time is stamped by the store.
pub fn audit_records_are_appended_and_read_back(open: Open<'_>) {
    let store = open();
    assert_eq!(must(store.audit_records(), "audit_records"), vec![]);
    assert_eq!(must(store.audit_record(1), "audit_record(1)"), None);

    let first = audit_entry(1, "plan");
    let mut second = audit_entry(2, "apply");
    second.run_id = None;
    second.plan_digest = None;
    second.policy = serde_json::Value::Null;
    second.changes.clear();
    let mut third = audit_entry(3, "state rm");
    third.time = String::new();

    let mut appended = Vec::new();
    for entry in [first.clone(), second.clone(), third] {
        appended.push(must(store.audit_append(entry), "audit_append"));
    }
    let ids: Vec<u64> = appended.iter().map(|r| r.id).collect();
    assert_eq!(ids, vec![1, 2, 3], "ids count up from 1");
    assert_eq!(entry_of(&appended[0]), first);
    assert_eq!(entry_of(&appended[1]), second);
    let stamped = &appended[2].time;
    assert!(
        stamped.len() >= 20 && stamped.as_bytes()[10] == b'T' && stamped.ends_with('Z'),
        "an empty time is stamped as RFC 3339 UTC: {stamped:?}"
    );
    for r in &appended {
        assert!(
            r.hash.len() == 64 && r.hash.bytes().all(|b| b.is_ascii_hexdigit()),
            "hash is hex SHA-256: {:?}",
            r.hash
        );
    }

    let reader = open();
    assert_eq!(must(reader.audit_records(), "audit_records"), appended);
    assert_eq!(
        must(reader.audit_record(2), "audit_record(2)").as_ref(),
        Some(&appended[1])
    );
    assert_eq!(must(reader.audit_record(0), "audit_record(0)"), None);
    assert_eq!(must(reader.audit_record(4), "audit_record(4)"), None);
    assert_eq!(
        must(reader.audit_record(u64::MAX), "audit_record(max)"),
        None
    );
}

/// Each record holds the previous record's hash (zeros for the first), and its hash is the
/// SHA-256 of its canonical form.
pub fn audit_chain_links(open: Open<'_>) {
    let store = open();
    for n in 0..5 {
        must(store.audit_append(audit_entry(n, "apply")), "audit_append");
    }
    let records = must(open().audit_records(), "audit_records");
    assert_eq!(records.len(), 5);
    let mut prev = crate::audit::GENESIS_HASH.to_string();
    for r in &records {
        assert_eq!(
            r.prev_hash, prev,
            "record {} links to its predecessor",
            r.id
        );
        assert_eq!(
            r.hash,
            crate::audit::hash_of(&r.canonical()),
            "record {} hashes its canonical form",
            r.id
        );
        prev = r.hash.clone();
    }
    let hashes: std::collections::BTreeSet<&str> =
        records.iter().map(|r| r.hash.as_str()).collect();
    assert_eq!(hashes.len(), 5, "every record has its own hash");
}

/// An empty log and an untouched log verify, counting every record; so does the log read
/// back as an export.
pub fn audit_verify_passes_on_an_untouched_log(open: Open<'_>) {
    let store = open();
    let clean = |checked: u64| crate::audit::VerifyReport {
        ok: true,
        checked,
        first_bad: None,
    };
    assert_eq!(must(store.audit_verify(), "audit_verify"), clean(0));
    for n in 0..7 {
        must(store.audit_append(audit_entry(n, "plan")), "audit_append");
    }
    assert_eq!(must(store.audit_verify(), "audit_verify"), clean(7));
    assert_eq!(must(open().audit_verify(), "audit_verify"), clean(7));
    let records = must(store.audit_records(), "audit_records");
    assert_eq!(crate::audit::verify_records(&records), clean(7));
}

/// Four threads, each with its own handle, append 25 records each at once: one chain with
/// consecutive ids holding every record exactly once.
pub fn audit_concurrent_appends_form_one_chain(open: Open<'_>) {
    let workers: Vec<_> = (0..4)
        .map(|t| {
            let store: Arc<dyn StateStore> = Arc::from(open());
            std::thread::spawn(move || {
                for i in 0..25 {
                    let mut entry = audit_entry(i, "plan");
                    entry.actor = format!("thread-{t}@host");
                    must(store.audit_append(entry), "audit_append");
                }
            })
        })
        .collect();
    for w in workers {
        if w.join().is_err() {
            panic!("an appending thread panicked");
        }
    }
    let store = open();
    let records = must(store.audit_records(), "audit_records");
    let ids: Vec<u64> = records.iter().map(|r| r.id).collect();
    assert_eq!(ids, (1..=100).collect::<Vec<u64>>(), "consecutive ids");
    let mut seen: Vec<(String, String)> = records
        .iter()
        .map(|r| (r.actor.clone(), r.environment.clone()))
        .collect();
    seen.sort();
    seen.dedup();
    assert_eq!(seen.len(), 100, "every record landed exactly once");
    let report = must(store.audit_verify(), "audit_verify");
    assert!(report.ok, "concurrent appends keep the chain: {report:?}");
    assert_eq!(report.checked, 100);
}

/// Appending does not take the state lock: it works while another handle holds it.
pub fn audit_appends_while_the_state_is_locked(open: Open<'_>) {
    let holder = open();
    let other = open();
    let guard = must(
        holder.lock(current_lock_info("apply"), Duration::ZERO),
        "lock",
    );
    let started = Instant::now();
    let record = must(other.audit_append(audit_entry(1, "plan")), "audit_append");
    assert_eq!(record.id, 1);
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "appending does not wait for the lock"
    );
    must(holder.audit_append(audit_entry(2, "apply")), "audit_append");
    drop(guard);
    assert!(must(other.audit_verify(), "audit_verify").ok);
}

/// A journal intent for `addr` in run `run_id`.
fn intent(run_id: &str, addr: &str) -> JournalEntry {
    JournalEntry {
        run_id: run_id.to_string(),
        seq: 0,
        addr: addr.to_string(),
        deposed: String::new(),
        action: "create".to_string(),
        prior: crate::RawJson::null(),
        planned: crate::RawJson::null(),
        status: EntryStatus::Started,
        new_value: None,
        error: None,
        attempts: 1,
        started_at: "2024-05-01T12:00:00Z".to_string(),
        duration_ms: None,
        phase: "apply".to_string(),
    }
}

/// Lock information for this process with a lease of `ms` milliseconds.
fn leased(operation: &str, ms: u64) -> LockInfo {
    LockInfo {
        lease_ms: ms,
        ..current_lock_info(operation)
    }
}

/// Polls `f` every 20 ms until it returns a value; panics after 20 s (a bound for a stuck
/// store, not a timing assertion).
#[track_caller]
fn eventually<T>(what: &str, mut f: impl FnMut() -> Option<T>) -> T {
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        if let Some(v) = f() {
            return v;
        }
        assert!(Instant::now() < deadline, "gave up waiting for {what}");
        std::thread::sleep(Duration::from_millis(20));
    }
}

#[track_caller]
fn must<T>(result: Result<T, StateError>, what: &str) -> T {
    match result {
        Ok(v) => v,
        Err(e) => panic!("{what} failed: {e} ({e:?})"),
    }
}

#[track_caller]
fn put(
    store: &dyn StateStore,
    f: Fence,
    serial: u64,
    key: &ObjectKey,
    object: Option<&InstanceState>,
) {
    must(store.put_object(f, serial, key, object), "put_object");
}

/// Takes the lock on `store` for a test that writes (every write carries its fencing token).
#[track_caller]
fn hold(store: &dyn StateStore) -> LockGuard {
    must(
        store.lock(current_lock_info("apply"), Duration::ZERO),
        "take the lock to write",
    )
}

#[track_caller]
fn key(addr: &str) -> ObjectKey {
    match InstanceAddr::parse(addr) {
        Ok(a) => ObjectKey::current(a),
        Err(e) => panic!("bad test address {addr}: {e:?}"),
    }
}

fn object(n: i64) -> InstanceState {
    InstanceState {
        provider: "provider[\"terraform.io/builtin/terraform\"]".to_string(),
        schema_version: 0,
        value: crate::RawJson::from_value(
            &serde_json::json!({ "id": format!("id-{n}"), "n": n, "nested": { "list": [n, null, "x"] } }),
        ),
        status: if n % 2 == 0 {
            InstanceStatus::Ready
        } else {
            InstanceStatus::Tainted
        },
        dependencies: vec!["terraform_data.dep".to_string()],
        create_before_destroy: n % 3 == 0,
    }
}

fn objects(entries: &[(&ObjectKey, i64)]) -> BTreeMap<ObjectKey, InstanceState> {
    entries
        .iter()
        .map(|(k, n)| ((*k).clone(), object(*n)))
        .collect()
}

fn outputs(entries: &[(&str, i64)]) -> BTreeMap<String, OutputState> {
    entries
        .iter()
        .map(|(name, n)| {
            (
                name.to_string(),
                OutputState {
                    value: crate::RawJson::from_value(&serde_json::json!(n)),
                    sensitive: n % 2 == 0,
                },
            )
        })
        .collect()
}

/// Runs are listed newest first without their plans; one run is read with its plan; a final
/// status stamps the finish time; a `running` run whose process is gone reads as
/// `interrupted`, listed or read alone.
pub fn runs_are_listed_without_plans_and_read_one_with_its_plan(open: Open<'_>) {
    let store = open();
    let lease = hold(&*store);
    let f = lease.fence();
    assert_eq!(must(store.runs(), "runs"), vec![]);
    assert_eq!(must(store.run("nope"), "run(nope)"), None);
    let me = current_lock_info("apply");
    let run = |id: &str, pid: u32, plan: serde_json::Value| RunRecord {
        id: id.to_string(),
        kind: "apply".to_string(),
        status: RunStatus::Running,
        who: me.who.clone(),
        host: me.host.clone(),
        pid,
        process_start: if pid == me.pid {
            me.process_start.clone()
        } else {
            String::new()
        },
        started_at: "2024-05-01T12:00:00Z".to_string(),
        finished_at: None,
        serial: 1,
        summary: "1 to add, 0 to change, 0 to destroy".to_string(),
        plan: crate::RawJson::from_value(&plan),
        parent: None,
        on_failure: "rollback".to_string(),
    };
    let big: Vec<String> = (0..2000).map(|i| format!("value {i}")).collect();
    let first = run("run-1", me.pid, serde_json::json!({ "changes": big }));
    let second = run(
        "run-2",
        finished_pid(),
        serde_json::json!({ "changes": [] }),
    );
    let write = |plan: &crate::RawJson| {
        let text = plan.as_str().to_string();
        move |w: &mut dyn std::io::Write| w.write_all(text.as_bytes())
    };
    must(
        store.begin_run(f, &first, &write(&first.plan)),
        "begin_run 1",
    );
    must(
        store.begin_run(f, &second, &write(&second.plan)),
        "begin_run 2",
    );
    must(
        store.finish_run(f, "run-1", RunStatus::Completed),
        "finish_run",
    );

    let reader = open();
    let listed = must(reader.runs(), "runs");
    let ids: Vec<&str> = listed.iter().map(|r| r.id.as_str()).collect();
    assert_eq!(ids, vec!["run-2", "run-1"], "newest first");
    for r in &listed {
        assert_eq!(r.plan, crate::RawJson::null(), "runs() leaves plans out");
    }
    assert_eq!(
        listed[0].status,
        RunStatus::Interrupted,
        "its process is gone"
    );
    assert_eq!(listed[1].status, RunStatus::Completed);
    assert!(
        listed[1].finished_at.is_some(),
        "a final status stamps the time"
    );

    let one = must(reader.run("run-1"), "run(run-1)").expect("run-1 exists");
    assert_eq!(one.plan, first.plan, "run(id) carries the plan");
    assert_eq!(
        RunRecord {
            status: RunStatus::Running,
            finished_at: None,
            ..one
        },
        first
    );
    let two = must(reader.run("run-2"), "run(run-2)").expect("run-2 exists");
    assert_eq!(two.status, RunStatus::Interrupted);
    assert_eq!(two.plan, second.plan);
}

/// The pid of a process that has exited and been reaped.
fn finished_pid() -> u32 {
    let spawned = std::process::Command::new("true").spawn().or_else(|_| {
        std::process::Command::new("sh")
            .args(["-c", "exit 0"])
            .spawn()
    });
    match spawned {
        Ok(mut child) => {
            let pid = child.id();
            let _ = child.wait();
            pid
        }
        // No way to run a process: pids are below 2^22 on Linux, so this one is free.
        Err(_) => u32::MAX - 1,
    }
}

fn audit_entry(n: u64, command: &str) -> AuditEntry {
    AuditEntry {
        time: format!("2024-05-01T12:{:02}:{:02}Z", (n / 60) % 60, n % 60),
        actor: "ana@ci-7".to_string(),
        command: command.to_string(),
        args: vec![
            command.to_string(),
            format!("-var=n={n}"),
            "-var=token=(redacted)".to_string(),
            "quote \" backslash \\ newline \n nul \u{0} é 日本".to_string(),
        ],
        environment: format!("env-{n}"),
        run_id: Some(format!("run-{n}")),
        plan_digest: Some(format!("{n:064x}")),
        policy: serde_json::json!({
            "decisions": [{ "policy": "tags", "allow": n != 3, "score": 1.5 }],
            "a": { "z": null, "b": [n, "x"] },
        }),
        outcome: "succeeded".to_string(),
        changes: vec![
            AuditChange {
                address: format!("terraform_data.t[{n}]"),
                actions: vec!["delete".to_string(), "create".to_string()],
            },
            AuditChange {
                address: "module.m[\"k\"].null_resource.n".to_string(),
                actions: vec!["update".to_string()],
            },
        ],
    }
}

/// The entry a record was appended from.
fn entry_of(r: &AuditRecord) -> AuditEntry {
    AuditEntry {
        time: r.time.clone(),
        actor: r.actor.clone(),
        command: r.command.clone(),
        args: r.args.clone(),
        environment: r.environment.clone(),
        run_id: r.run_id.clone(),
        plan_digest: r.plan_digest.clone(),
        policy: r.policy.clone(),
        outcome: r.outcome.clone(),
        changes: r.changes.clone(),
    }
}
