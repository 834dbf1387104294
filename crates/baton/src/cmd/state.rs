//! `baton state list | show | rm | mv | history` and `baton force-unlock`.

use super::{lock, Env};
use crate::cli::{ForceUnlockArgs, StateCommand};
use crate::render::render_object;
use anyhow::{anyhow, bail};
use baton_core::{InstanceAddr, Target};
use baton_engine::statecodec::decode_object;
use baton_state::{ObjectKey, Snapshot, StateError, Unlock};
use std::process::ExitCode;

fn snapshot(env: &Env) -> anyhow::Result<Snapshot> {
    Ok(match env.existing_store()? {
        Some(s) => s.current()?,
        None => Snapshot::default(),
    })
}

pub fn run(env: &Env, c: StateCommand) -> anyhow::Result<ExitCode> {
    match c {
        StateCommand::List { addrs } => {
            let targets = addrs
                .iter()
                .map(|a| Target::parse(a).map_err(|e| anyhow!(e)))
                .collect::<anyhow::Result<Vec<_>>>()?;
            for k in snapshot(env)?.objects.keys() {
                if !k.deposed.is_empty() {
                    continue;
                }
                if targets.is_empty() || targets.iter().any(|t| k.addr.is_under(t)) {
                    outln!("{}", k.addr);
                }
            }
            Ok(ExitCode::SUCCESS)
        }
        StateCommand::Show { addr } => {
            let a = InstanceAddr::parse(&addr).map_err(|e| anyhow!(e))?;
            let snap = snapshot(env)?;
            let Some(o) = snap.current(&a) else {
                bail!("No instance found for the given address: {addr} is not in the state.");
            };
            let v = decode_object(o).map_err(|e| anyhow!("{addr} in state is unreadable: {e}"))?;
            out!(
                "{}",
                render_object(&a, &v, o.status == baton_state::InstanceStatus::Tainted)
            );
            Ok(ExitCode::SUCCESS)
        }
        StateCommand::Rm {
            addrs,
            lock_timeout,
        } => {
            let store = env.open_store()?;
            let guard = lock(env, &*store.store, "state rm", &lock_timeout)?;
            let snap = store.current()?;
            let targets = addrs
                .iter()
                .map(|a| Target::parse(a).map_err(|e| anyhow!(e)))
                .collect::<anyhow::Result<Vec<_>>>()?;
            let keys: Vec<ObjectKey> = snap
                .objects
                .keys()
                .filter(|k| targets.iter().any(|t| k.addr.is_under(t)))
                .cloned()
                .collect();
            if keys.is_empty() {
                bail!("Invalid target address: no matching objects found. To view the available instances, use \"baton state list\". Please modify the address to reference a specific instance.");
            }
            let serial = store.begin_version(guard.fence(), "", "state rm")?;
            for k in &keys {
                store.put_object(guard.fence(), serial, k, None)?;
                outln!("Removed {}", k.addr);
            }
            store.finish_version(guard.fence(), serial, "complete")?;
            super::audit::record(
                env,
                &*store.store,
                super::audit::Record {
                    command: "state rm",
                    run_id: None,
                    plan: None,
                    plan_digest: None,
                    policy: serde_json::Value::Null,
                    outcome: format!("removed {} object(s)", keys.len()),
                    changes: keys
                        .iter()
                        .map(|k| baton_state::AuditChange {
                            address: k.addr.to_string(),
                            actions: vec!["forget".into()],
                        })
                        .collect(),
                },
            );
            outln!("Successfully removed {} resource instance(s).", keys.len());
            Ok(ExitCode::SUCCESS)
        }
        StateCommand::Mv {
            from,
            to,
            lock_timeout,
        } => {
            let store = env.open_store()?;
            let guard = lock(env, &*store.store, "state mv", &lock_timeout)?;
            let snap = store.current()?;
            let src = Target::parse(&from).map_err(|e| anyhow!(e))?;
            let dst = Target::parse(&to).map_err(|e| anyhow!(e))?;
            let moves: Vec<(ObjectKey, ObjectKey)> = match (&src, &dst) {
                (Target::Instance(a), Target::Instance(b)) => snap
                    .objects
                    .keys()
                    .filter(|k| &k.addr == a)
                    .map(|k| (k.clone(), ObjectKey { addr: b.clone(), deposed: k.deposed.clone() }))
                    .collect(),
                (Target::Resource(m, r), Target::Resource(m2, r2)) => {
                    if r.type_ != r2.type_ || r.mode != r2.mode {
                        bail!("Invalid state move request: cannot move {from} to {to}: the resource types differ.");
                    }
                    snap.objects
                        .keys()
                        .filter(|k| &k.addr.module == m && &k.addr.resource == r)
                        .map(|k| {
                            (
                                k.clone(),
                                ObjectKey {
                                    addr: InstanceAddr::new(m2.clone(), r2.clone(), k.addr.key.clone()),
                                    deposed: k.deposed.clone(),
                                },
                            )
                        })
                        .collect()
                }
                (Target::Resource(m, r), Target::Instance(b)) => snap
                    .objects
                    .keys()
                    .filter(|k| &k.addr.module == m && &k.addr.resource == r && k.addr.key.is_none())
                    .map(|k| (k.clone(), ObjectKey { addr: b.clone(), deposed: k.deposed.clone() }))
                    .collect(),
                (Target::Instance(a), Target::Resource(m2, r2)) => snap
                    .objects
                    .keys()
                    .filter(|k| &k.addr == a)
                    .map(|k| (k.clone(), ObjectKey { addr: InstanceAddr::new(m2.clone(), r2.clone(), None), deposed: k.deposed.clone() }))
                    .collect(),
                _ => bail!("Invalid state move request: moving whole modules is not supported yet; move resources one at a time."),
            };
            if moves.is_empty() {
                bail!("Invalid source address: cannot move {from}: it does not match anything in the current state.");
            }
            for (a, b) in &moves {
                if a.addr.resource.type_ != b.addr.resource.type_ {
                    bail!("Invalid state move request: cannot move {} to {}: the resource types differ.", a.addr, b.addr);
                }
                if snap.objects.contains_key(b) {
                    bail!("Invalid target address: cannot move to {}: there is already a resource instance at that address in the current state.", b.addr);
                }
            }
            let serial = store.begin_version(guard.fence(), "", "state mv")?;
            for (a, b) in &moves {
                let obj = snap.objects.get(a).cloned();
                store.put_object(guard.fence(), serial, a, None)?;
                store.put_object(guard.fence(), serial, b, obj.as_ref())?;
                outln!("Move \"{}\" to \"{}\"", a.addr, b.addr);
            }
            store.finish_version(guard.fence(), serial, "complete")?;
            super::audit::record(
                env,
                &*store.store,
                super::audit::Record {
                    command: "state mv",
                    run_id: None,
                    plan: None,
                    plan_digest: None,
                    policy: serde_json::Value::Null,
                    outcome: format!("moved {} object(s)", moves.len()),
                    changes: moves
                        .iter()
                        .map(|(a, b)| baton_state::AuditChange {
                            address: format!("{} -> {}", a.addr, b.addr),
                            actions: vec!["move".into()],
                        })
                        .collect(),
                },
            );
            outln!("Successfully moved {} object(s).", moves.len());
            Ok(ExitCode::SUCCESS)
        }
        StateCommand::Migrate(a) => super::migrate::migrate(env, &a),
        StateCommand::History { json } => {
            let Some(store) = env.existing_store()? else {
                if json {
                    outln!("[]");
                } else {
                    outln!("The state has no history yet.");
                }
                return Ok(ExitCode::SUCCESS);
            };
            let h = store.history()?;
            if json {
                let v: Vec<serde_json::Value> = h
                    .iter()
                    .map(|m| {
                        serde_json::json!({
                            "serial": m.serial, "lineage": m.lineage, "run_id": m.run_id,
                            "command": m.command, "created_at": m.created_at, "status": m.status,
                            "changes": m.changes,
                        })
                    })
                    .collect();
                outln!("{}", serde_json::to_string_pretty(&v)?);
            } else {
                outln!(
                    "{:<7} {:<21} {:<13} {:<12} {:>7}  RUN",
                    "SERIAL",
                    "CREATED",
                    "COMMAND",
                    "STATUS",
                    "CHANGES"
                );
                for m in h.iter().rev() {
                    outln!(
                        "{:<7} {:<21} {:<13} {:<12} {:>7}  {}",
                        m.serial,
                        m.created_at,
                        m.command,
                        m.status,
                        m.changes,
                        m.run_id
                    );
                }
            }
            Ok(ExitCode::SUCCESS)
        }
    }
}

pub fn force_unlock(env: &Env, a: &ForceUnlockArgs) -> anyhow::Result<ExitCode> {
    let Some(store) = env.existing_store()? else {
        outln!("There is no state, so there is no lock.");
        return Ok(ExitCode::SUCCESS);
    };
    let Some(lease) = store.lease()? else {
        outln!("The state is not locked.");
        return Ok(ExitCode::SUCCESS);
    };
    let holder = lease.holder.clone();
    let describe = format!(
        "{} (pid {} on {}, since {}, running {})",
        holder.who, holder.pid, holder.host, holder.since, holder.operation
    );
    if !lease.expired && !a.override_live_lease {
        eprintln!(
            "Error: the lock held by {describe} is live: {}.

Baton removes only a lock whose lease expired. Wait for it, or, if you are certain its holder is gone, retry with --override-live-lease (recorded in the audit log).",
            live_lease_detail(&lease)
        );
        return Ok(ExitCode::from(1));
    }
    let overriding = !lease.expired;
    if !a.force
        && !crate::ui::confirm(
            "Do you really want to force-unlock?",
            &format!(
                "The lock is held by {describe}.\n  Removing it while that process still runs can corrupt the state."
            ),
        )
    {
        eprintln!("force-unlock cancelled.");
        return Ok(ExitCode::from(1));
    }
    let how = if overriding {
        Unlock::EvenIfLive
    } else {
        Unlock::IfExpired
    };
    let removed = match store.force_unlock(how) {
        Ok(removed) => removed,
        Err(StateError::LeaseLive(l)) => {
            eprintln!(
                "Error: the lock held by {describe} was renewed meanwhile: {}. Its holder is alive; nothing was removed.",
                live_lease_detail(&l)
            );
            return Ok(ExitCode::from(1));
        }
        Err(e) => return Err(e.into()),
    };
    let Some(holder) = removed else {
        outln!("The state is not locked.");
        return Ok(ExitCode::SUCCESS);
    };
    let how = if overriding {
        "overriding its live lease"
    } else {
        "its lease had expired"
    };
    super::audit::record(
        env,
        store.as_ref(),
        super::audit::Record {
            command: "force-unlock",
            run_id: None,
            plan: None,
            plan_digest: None,
            policy: serde_json::Value::Null,
            outcome: format!(
                "removed the lock of {} (pid {} on {}, since {}, running {}; fencing token {}), {how}",
                holder.who, holder.pid, holder.host, holder.since, holder.operation, lease.fence
            ),
            changes: Vec::new(),
        },
    );
    outln!("Baton state has been successfully unlocked!");
    Ok(ExitCode::SUCCESS)
}

/// How long a live lease still runs, for messages.
fn live_lease_detail(lease: &baton_state::Lease) -> String {
    match lease.expires_at_ms {
        None => "it was taken by a Baton without leases and does not expire by itself".to_string(),
        Some(at) => {
            let now = std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX));
            let left = std::time::Duration::from_millis(at.saturating_sub(now));
            format!(
                "its lease runs for another {:.1}s unless renewed",
                left.as_secs_f64()
            )
        }
    }
}
