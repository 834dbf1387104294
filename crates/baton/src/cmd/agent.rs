//! `baton serve`, the agent: fires due schedules and continues workflow runs that can go on,
//! reconciles the stacks it serves, supervises their services (`services.rs`), takes over runs
//! whose coordinator died, and serves the HTTP API (`server.rs`) — each on threads of its own.
//!
//! Must not decide what runs: the loops it starts do (`baton-workflow`, the supervisor, the
//! engine's reconciliation).

use super::workflow::{executor_override, open, queue_if_needed, report, runner};
use super::Env;
use crate::cli::ServeArgs;
use std::process::ExitCode;

/// `baton serve`: fires due schedules and continues runs that can go on, each in a thread of
/// its own, until interrupted or `--for` has passed (then waits for the runs it started).
pub fn serve(env: &Env, a: &ServeArgs) -> anyhow::Result<ExitCode> {
    let tick = super::parse_duration("--tick", &a.tick)?;
    let until = match &a.for_ {
        Some(d) => Some(std::time::Instant::now() + super::parse_duration("--for", d)?),
        None => None,
    };
    let stacks = super::services::stacks(env, &a.stacks)?;
    // The HTTP API first: a bad address or TLS file stops here, before anything starts.
    let api = super::server::start_api(env, a)?;
    let store = open(env)?;
    let log = env.open_store()?;
    let queue = queue_if_needed(env, executor_override(None)?)?;
    let r = runner(env, store.as_ref(), &log, a.parallelism, queue)?;
    crate::ui::on_interrupt_flag(r.stop.clone());
    let agent = baton_workflow::agent::Agent {
        store: store.as_ref(),
        started: jiff::Timestamp::now(),
    };
    eprintln!(
        "Serving the workflows of {}: schedules fire, decided approvals go on.",
        env.dir.display()
    );
    // Each stack served, when it declares `reconcile`: one round at a time per stack.
    let mut schedules: Vec<super::reconcile::Schedule> = stacks
        .iter()
        .map(|_| super::reconcile::Schedule::new())
        .collect();
    let reconciling: Vec<std::sync::atomic::AtomicBool> = stacks
        .iter()
        .map(|_| std::sync::atomic::AtomicBool::new(false))
        .collect();
    // Runs handed to workers whose coordinator died are continued by the agent too.
    let orphans = super::worker::existing_queue(env);
    let holder = format!("agent pid {}", std::process::id());
    let busy = std::sync::Mutex::new(std::collections::BTreeSet::<String>::new());
    let served = std::thread::scope(|s| -> anyhow::Result<()> {
        // The stack's services: their own loop, on its own thread (it ends with this one and
        // leaves the replicas running).
        let (stop, stacks) = (&r.stop, &stacks);
        s.spawn(move || {
            if let Err(e) = super::services::supervise(env, stacks, stop, until) {
                eprintln!("Error: services: {e:#}");
            }
        });
        loop {
            if r.stop.load(std::sync::atomic::Ordering::SeqCst)
                || until.is_some_and(|u| std::time::Instant::now() >= u)
            {
                break;
            }
            let (wfs, d) = baton_workflow::load_dir(&env.dir, &env.sources);
            if d.has_errors() {
                super::print_diags(&d, &env.sources);
            } else {
                let now = jiff::Timestamp::now();
                let (fired, errors) = agent.fire_due(&wfs, now)?;
                for e in errors {
                    eprintln!(
                        "Error: schedule {} of workflow {}: {}",
                        e.schedule, e.workflow, e.message
                    );
                }
                for f in fired {
                    if f.missed > 0 {
                        eprintln!(
                            "Schedule {} of workflow {} missed {} run(s) while no agent was running; firing the latest ({}).",
                            f.schedule, f.workflow, f.missed, f.slot
                        );
                    }
                    outln!(
                        "Schedule {} fires workflow {} for {}.",
                        f.schedule,
                        f.workflow,
                        f.slot
                    );
                    let r = &r;
                    s.spawn(move || match r.start(&f.workflow, &f.inputs, None) {
                        Ok((id, advance)) => {
                            report(&id, &advance);
                        }
                        Err(e) => eprintln!("Error: workflow {}: {e}", f.workflow),
                    });
                }
                for id in agent.due_runs(&r, now)? {
                    let Ok(mut b) = busy.lock() else { continue };
                    if !b.insert(id.clone()) {
                        continue;
                    }
                    drop(b);
                    let (r, busy) = (&r, &busy);
                    s.spawn(move || {
                        match r.advance(&id) {
                            Ok(advance) => {
                                report(&id, &advance);
                            }
                            Err(e) => eprintln!("Error: run {id}: {e}"),
                        }
                        if let Ok(mut b) = busy.lock() {
                            b.remove(&id);
                        }
                    });
                }
            }
            if let Some(q) = &orphans {
                super::worker::take_over_orphan(q, env.store_flag(), &holder, r.lease);
            }
            let rounds = stacks.iter().zip(schedules.iter_mut()).zip(&reconciling);
            for (((_, stack_env), schedule), reconciling) in rounds {
                let in_round = reconciling.load(std::sync::atomic::Ordering::SeqCst);
                if let Some(rc) = schedule.due(stack_env, in_round) {
                    reconciling.store(true, std::sync::atomic::Ordering::SeqCst);
                    let parallelism = a.parallelism;
                    s.spawn(move || {
                        super::reconcile::round(stack_env, rc, parallelism);
                        reconciling.store(false, std::sync::atomic::Ordering::SeqCst);
                    });
                }
            }
            std::thread::sleep(tick);
        }
        Ok(())
    });
    if let Some(api) = api {
        api.stop();
    }
    served?;
    Ok(ExitCode::SUCCESS)
}
