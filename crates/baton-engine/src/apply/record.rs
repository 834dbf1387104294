//! The record step of an action: its intent journaled before the provider call, its outcome
//! journaled in the same transaction as the state writes it implies, then the new object in
//! the evaluation state, the observer told and the run's counts kept. Also the steps that need
//! no provider call (adopting an import, deposing, forgetting), journaled the same way.
//!
//! Must not call providers or evaluate configuration: it writes down what the prepare and
//! perform steps produced.

use super::fault::{fault_injection, Injected};
use super::prepare::{restored_object, schema_version, Call, Prepared};
use super::walk::{Runner, VisitResult};
use crate::model::{Action, ResourceChange};
use crate::statecodec::encode_object;
use crate::Event;
use baton_config::Resource;
use baton_core::{Diagnostic, Diagnostics, InstanceAddr};
use baton_eval::Value;
use baton_provider::ProviderInfo;
use baton_state::{
    EntryOutcome, EntryStatus, InstanceState, InstanceStatus, JournalEntry, ObjectKey, RawJson,
    StateError, StateWrite,
};
use std::time::Instant;

pub(super) fn state_err(e: StateError) -> Diagnostics {
    Diagnostic::error("Failed to save state", e.to_string()).into()
}

/// A journaled action in progress.
pub(super) struct Journaled {
    pub(super) seq: u64,
    pub(super) started: Instant,
}

/// What the journal records of an action before it starts.
pub(super) struct Intent<'a> {
    pub(super) addr: &'a InstanceAddr,
    /// The deposed object's key, empty for the current object.
    pub(super) deposed: &'a str,
    /// The journal's word for the action: `create`, `delete`, `import`, `depose`, ...
    pub(super) verb: &'a str,
    pub(super) prior: Option<&'a Value>,
    pub(super) planned: Option<&'a Value>,
}

impl Prepared {
    pub(super) fn intent(&self) -> Intent<'_> {
        Intent {
            addr: &self.addr,
            deposed: self.deposed.as_deref().unwrap_or_default(),
            verb: self.verb,
            prior: self.prior(),
            planned: self.planned(),
        }
    }
}

impl Runner<'_> {
    /// Records the intent of an action before it starts.
    pub(super) fn begin(&self, intent: &Intent<'_>) -> Result<Journaled, Diagnostics> {
        let enc = |v: Option<&Value>| match v {
            Some(v) if !v.is_null() => RawJson::from_value(&v.to_typed_json()),
            _ => RawJson::null(),
        };
        let injected = fault_injection(self.opts.fault.as_ref(), self.phase, intent.addr);
        let seq = self
            .store
            .journal_start(
                self.opts.fence,
                &JournalEntry {
                    run_id: self.opts.run_id.clone(),
                    seq: 0,
                    addr: intent.addr.to_string(),
                    deposed: intent.deposed.to_string(),
                    action: intent.verb.to_string(),
                    prior: enc(intent.prior),
                    planned: enc(intent.planned),
                    status: EntryStatus::Started,
                    new_value: None,
                    error: None,
                    attempts: 0,
                    started_at: crate::now_rfc3339(),
                    duration_ms: None,
                    phase: self.phase.to_string(),
                },
            )
            .map_err(state_err)?;
        if injected == Ok(Injected::KillAfterIntent) {
            let _ =
                nix::sys::signal::kill(nix::unistd::Pid::this(), nix::sys::signal::Signal::SIGKILL);
        }
        let j = Journaled {
            seq,
            started: Instant::now(),
        };
        if let Err(d) = injected {
            // An injected failure is journaled like a real one.
            self.failed(&j, 1, &d);
            return Err(d);
        }
        Ok(j)
    }

    /// Records a successful outcome together with the state writes it implies.
    pub(super) fn done(
        &self,
        j: &Journaled,
        attempts: u32,
        new: Option<&Value>,
        writes: &[(ObjectKey, Option<InstanceState>)],
    ) -> VisitResult {
        let w: Vec<StateWrite<'_>> = writes
            .iter()
            .map(|(k, o)| StateWrite {
                serial: self.serial,
                key: k,
                object: o.as_ref(),
            })
            .collect();
        self.store
            .journal_finish(
                self.opts.fence,
                &self.opts.run_id,
                j.seq,
                &EntryOutcome {
                    status: EntryStatus::Done,
                    new_value: Some(match new {
                        Some(v) => RawJson::from_value(&v.to_typed_json()),
                        None => RawJson::null(),
                    }),
                    error: None,
                    attempts,
                    duration_ms: j.started.elapsed().as_millis() as u64,
                },
                &w,
            )
            .map_err(state_err)
    }

    /// Records a failed outcome. The error text must not contain sensitive values (provider
    /// errors never do).
    pub(super) fn failed(&self, j: &Journaled, attempts: u32, error: &Diagnostics) {
        let text: Vec<String> = error
            .errors()
            .map(|d| format!("{}: {}", d.summary, d.detail))
            .collect();
        let _ = self.store.journal_finish(
            self.opts.fence,
            &self.opts.run_id,
            j.seq,
            &EntryOutcome {
                status: EntryStatus::Failed,
                new_value: None,
                error: Some(text.join("; ")),
                attempts,
                duration_ms: j.started.elapsed().as_millis() as u64,
            },
            &[],
        );
    }

    /// Records a step that needs no provider call: its intent and, at once, its outcome.
    pub(super) fn at_once(
        &self,
        intent: &Intent<'_>,
        attempts: u32,
        new: Option<&Value>,
        writes: &[(ObjectKey, Option<InstanceState>)],
    ) -> Result<Journaled, Diagnostics> {
        let j = self.begin(intent)?;
        self.done(&j, attempts, new, writes)?;
        Ok(j)
    }

    /// The start of a prepared action: the observer is told (`id`: the object's id to show,
    /// if any), then the intent is journaled.
    pub(super) fn start(&self, p: &Prepared, id: Option<String>) -> Result<Journaled, Diagnostics> {
        self.observer.event(Event::ApplyStart {
            addr: p.addr.clone(),
            deposed: p.deposed.clone(),
            action: p.shown,
            id,
        });
        self.begin(&p.intent())
    }

    /// The outcome of a prepared action that succeeded with the object `new` (`None`: no
    /// object is left, as after a delete): journal and state in one transaction, then the
    /// object joins the evaluation state, the observer is told and the action counted.
    pub(super) fn record_done(
        &self,
        p: &Prepared,
        j: &Journaled,
        attempts: u32,
        new: Option<&Value>,
    ) -> VisitResult {
        let object = new.map(|v| p.object.encode(v));
        self.done(j, attempts, new, &[(p.key(), object)])?;
        if let Some(v) = new {
            self.remember(p, v.clone());
        }
        // Data source reads are neither counted nor shown with an id.
        let managed = !matches!(p.call, Call::Read { .. });
        self.observer.event(Event::ApplyDone {
            addr: p.addr.clone(),
            deposed: p.deposed.clone(),
            action: p.shown,
            elapsed: j.started.elapsed(),
            id: new.filter(|_| managed).and_then(object_id),
            attempts,
        });
        if managed {
            self.bump(p.shown);
        }
        Ok(())
    }

    /// The outcome of a prepared action that failed with `error`: journaled, and the observer
    /// told. Returns `error`.
    pub(super) fn record_failed(
        &self,
        p: &Prepared,
        j: &Journaled,
        attempts: u32,
        error: Diagnostics,
    ) -> Diagnostics {
        self.failed(j, attempts, &error);
        self.observer.event(Event::ApplyFailed {
            addr: p.addr.clone(),
            deposed: p.deposed.clone(),
            action: p.shown,
            elapsed: j.started.elapsed(),
            attempts,
        });
        error
    }

    /// Adopts an imported object into state, as it was read while planning.
    pub(super) fn adopt_import(
        &self,
        c: &ResourceChange,
        r: &Resource,
        info: ProviderInfo,
        id: &str,
    ) -> VisitResult {
        self.observer.event(Event::ApplyStart {
            addr: c.addr.clone(),
            deposed: None,
            action: Action::NoOp,
            id: Some(id.to_string()),
        });
        let mut obj = encode_object(
            &c.before,
            &self.worker.configs.state_string(info, &c.addr),
            c.dependencies.clone(),
            r.lifecycle.create_before_destroy,
            InstanceStatus::Ready,
        );
        obj.schema_version = schema_version(&self.ctx.providers, &c.addr.resource.type_);
        let intent = Intent {
            addr: &c.addr,
            deposed: "",
            verb: "import",
            prior: None,
            planned: Some(&c.before),
        };
        let key = ObjectKey::current(c.addr.clone());
        let j = self.at_once(&intent, 1, Some(&c.before), &[(key, Some(obj))])?;
        self.observer.event(Event::ApplyDone {
            addr: c.addr.clone(),
            deposed: None,
            action: Action::NoOp,
            elapsed: j.started.elapsed(),
            id: Some(id.to_string()),
            attempts: 1,
        });
        self.bump(Action::NoOp);
        Ok(())
    }

    /// Adopts the object a lost create turned out to have made (see
    /// [`super::perform::probe`]) instead of creating it again.
    pub(super) fn adopt_found(&self, p: &Prepared, new: Value) -> VisitResult {
        let obj = p.object.encode_as(&new, InstanceStatus::Ready);
        self.at_once(&p.intent(), 0, Some(&new), &[(p.key(), Some(obj))])?;
        self.remember(p, new);
        Ok(())
    }

    /// Records that a delete whose outcome was lost turned out to have happened.
    pub(super) fn record_gone(&self, p: &Prepared) -> VisitResult {
        self.at_once(&p.intent(), 0, None, &[(p.key(), None)])?;
        Ok(())
    }

    /// Forgets an object: out of state, nothing deleted.
    pub(super) fn forget(&self, c: &ResourceChange) -> VisitResult {
        let key = ObjectKey {
            addr: c.addr.clone(),
            deposed: c.deposed.clone().unwrap_or_default(),
        };
        let intent = Intent {
            addr: &c.addr,
            deposed: &key.deposed,
            verb: "forget",
            prior: Some(&c.before),
            planned: None,
        };
        self.at_once(&intent, 0, None, &[(key.clone(), None)])?;
        self.bump(Action::Forget);
        Ok(())
    }

    /// A create-before-destroy replacement: the current object becomes deposed until the new
    /// one exists; the walk remembers its key for the delete.
    pub(super) fn depose(&self, c: &ResourceChange) -> VisitResult {
        let key = ObjectKey::current(c.addr.clone());
        let Some(obj) = self
            .store
            .current()
            .ok()
            .and_then(|s| s.objects.get(&key).cloned())
        else {
            return Ok(());
        };
        let dk = ObjectKey {
            addr: c.addr.clone(),
            deposed: deposed_key(&c.addr),
        };
        let intent = Intent {
            addr: &c.addr,
            deposed: &dk.deposed,
            verb: "depose",
            prior: Some(&c.before),
            planned: Some(&c.before),
        };
        self.at_once(
            &intent,
            0,
            Some(&c.before),
            &[(dk.clone(), Some(obj)), (key, None)],
        )?;
        if let Ok(mut m) = self.deposed.lock() {
            m.insert(c.addr.clone(), dk.deposed.clone());
        }
        Ok(())
    }

    /// Restore mode: a deposed object becomes the current one again.
    pub(super) fn restore_deposed(&self, c: &ResourceChange) -> VisitResult {
        let key = ObjectKey::current(c.addr.clone());
        let dk = ObjectKey {
            addr: c.addr.clone(),
            deposed: c.deposed.clone().unwrap_or_default(),
        };
        let obj = self
            .store
            .current()
            .ok()
            .and_then(|s| s.objects.get(&dk).cloned());
        let intent = Intent {
            addr: &c.addr,
            deposed: &dk.deposed,
            verb: "restore",
            prior: None,
            planned: Some(&c.after),
        };
        self.at_once(
            &intent,
            0,
            Some(&c.after),
            &[(key, obj), (dk.clone(), None)],
        )?;
        self.bump(Action::Forget);
        Ok(())
    }

    /// Restore mode: an object that still exists is written back to state as recorded.
    pub(super) fn readopt(&self, c: &ResourceChange, info: ProviderInfo) -> VisitResult {
        let version = schema_version(&self.ctx.providers, &c.addr.resource.type_);
        let provider = self.worker.configs.state_string(info, &c.addr);
        let obj = restored_object(c, provider, version).encode(&c.after);
        let intent = Intent {
            addr: &c.addr,
            deposed: "",
            verb: "adopt",
            prior: None,
            planned: Some(&c.after),
        };
        let key = ObjectKey::current(c.addr.clone());
        self.at_once(&intent, 0, Some(&c.after), &[(key, Some(obj))])?;
        self.bump(Action::Forget);
        Ok(())
    }

    /// Create-time provisioners all succeeded: the object recorded tainted is ready.
    pub(super) fn record_provisioned(&self, p: &Prepared, new: &Value) -> VisitResult {
        let ready = p.object.encode_as(new, InstanceStatus::Ready);
        self.store
            .put_object(self.opts.fence, self.serial, &p.key(), Some(&ready))
            .map_err(state_err)
    }

    /// The object an action produced joins the evaluation state, if the action says where.
    pub(super) fn remember(&self, p: &Prepared, v: Value) {
        if let Some(rep) = p.repetition {
            self.state
                .set_instance(&p.addr.module, &p.addr.resource, rep, p.addr.key.clone(), v);
        }
    }

    pub(super) fn bump(&self, action: Action) {
        if let Ok(mut c) = self.counts.lock() {
            match action {
                Action::Create => c.0 += 1,
                Action::Update => c.1 += 1,
                Action::Delete => c.2 += 1,
                Action::NoOp => c.3 += 1,
                _ => c.4 += 1,
            }
        }
    }
}

/// The `id` attribute of an object, to show.
pub(super) fn object_id(v: &Value) -> Option<String> {
    v.get_attr("id")
        .and_then(|x| x.clone().unmark().0.as_str().map(str::to_string))
}

pub(super) fn deposed_key(addr: &InstanceAddr) -> String {
    let h = sha2_hex(&format!("{addr}{}", crate::now_rfc3339()));
    h[..8].to_string()
}

pub(super) fn sha2_hex(s: &str) -> String {
    use sha2::Digest;
    hex::encode(sha2::Sha256::digest(s.as_bytes()))
}
