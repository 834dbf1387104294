//! Measures `put_object` throughput of the SQLite store the way an apply drives it: N objects
//! written one call (one transaction) each from worker threads into one open version, first
//! as creates, then as updates in each further version, then one `current()` read.
//!
//! `cargo run --release -p baton-state --example put_bench -- [objects] [threads] [versions]`
//! (defaults: 10000 objects, 8 threads, 2 versions). Works in a temporary directory; must not touch any
//! real state.

use baton_core::InstanceAddr;
use baton_state::lock::current_lock_info;
use baton_state::{
    Fence, InstanceState, InstanceStatus, ObjectKey, SqliteStore, StateError, StateStore,
};
use std::time::{Duration, Instant};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let count: usize = args.next().map_or(Ok(10_000), |a| a.parse())?;
    let threads: usize = args.next().map_or(Ok(8), |a| a.parse())?.max(1);
    let versions: usize = args.next().map_or(Ok(2), |a| a.parse())?.max(1);

    let dir = tempfile::tempdir()?;
    let store = SqliteStore::open(&dir.path().join(".baton").join("state.db"))?;
    let keys: Vec<ObjectKey> = (0..count)
        .map(|i| InstanceAddr::parse(&format!("module.m[{}].terraform_data.r[{i}]", i % 10)))
        .map(|a| a.map(ObjectKey::current))
        .collect::<Result<_, _>>()?;

    let lock = store.lock(current_lock_info("bench"), Duration::ZERO)?;
    let fence = lock.fence();
    for round in 0..versions {
        let command = if round == 0 { "create" } else { "update" };
        let serial = store.begin_version(fence, "bench", command)?;
        let elapsed = put_all(&store, fence, serial, &keys, threads, round as i64)?;
        store.finish_version(fence, serial, "complete")?;
        if round < 2 || round + 1 == versions {
            report(
                &format!("version {serial}: put_object ({command})"),
                count,
                threads,
                elapsed,
            );
        }
    }
    let started = Instant::now();
    let snap = store.current()?;
    println!(
        "current(): {} objects read in {:.1} ms",
        snap.objects.len(),
        started.elapsed().as_secs_f64() * 1000.0
    );
    Ok(())
}

fn put_all(
    store: &SqliteStore,
    fence: Fence,
    serial: u64,
    keys: &[ObjectKey],
    threads: usize,
    round: i64,
) -> Result<Duration, StateError> {
    let started = Instant::now();
    let chunk = keys.len().div_ceil(threads).max(1);
    std::thread::scope(|scope| {
        let workers: Vec<_> = keys
            .chunks(chunk)
            .map(|part| {
                scope.spawn(move || {
                    part.iter().enumerate().try_for_each(|(i, key)| {
                        store.put_object(fence, serial, key, Some(&object(i as i64, round)))
                    })
                })
            })
            .collect();
        workers
            .into_iter()
            .try_for_each(|w| w.join().unwrap_or_else(|p| std::panic::resume_unwind(p)))
    })?;
    Ok(started.elapsed())
}

fn report(what: &str, count: usize, threads: usize, elapsed: Duration) {
    let secs = elapsed.as_secs_f64();
    println!(
        "{what}: {count} calls from {threads} threads in {:.0} ms ({:.0} calls/s, {:.1} µs/call)",
        secs * 1000.0,
        count as f64 / secs,
        secs * 1e6 / count as f64
    );
}

/// An object of a realistic size (about 600 bytes of JSON).
fn object(i: i64, round: i64) -> InstanceState {
    InstanceState {
        provider: "provider[\"terraform.io/builtin/terraform\"]".to_string(),
        schema_version: 0,
        value: baton_state::RawJson::from_value(&serde_json::json!({
            "id": format!("{i:08x}-0000-4000-8000-{round:012x}"),
            "input": { "name": format!("resource-{i}"), "size": i * 3, "tags": ["a", "b", "c"] },
            "output": { "name": format!("resource-{i}"), "size": i * 3, "tags": ["a", "b", "c"] },
            "triggers_replace": null,
            "round": round,
        })),
        status: InstanceStatus::Ready,
        dependencies: vec![
            "terraform_data.network".to_string(),
            "module.m.terraform_data.base".to_string(),
        ],
        create_before_destroy: false,
    }
}
