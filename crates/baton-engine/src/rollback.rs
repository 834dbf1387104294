//! Undoing changes: the plan that returns every object a run touched to the value it had
//! before the run (from the run's journal), or every managed object to an earlier state
//! version. Both are computed against the *current* state, so they are idempotent: running a
//! rollback again after it failed halfway finishes what is left.
//!
//! Plans here are in [`PlanMode::Restore`]: each change carries the exact object to write, and
//! applying it never evaluates configuration.

use crate::model::{Action, ActionReason, Plan, PlanMode, ResourceChange};
use crate::providers::ProviderConfigs;
use crate::statecodec::decode_object;
use baton_core::{Diagnostic, Diagnostics, InstanceAddr, ResourceMode};
use baton_eval::Value;
use baton_provider::{ProviderCtx, Registry};
use baton_state::{ObjectKey, Snapshot, StateError, StateStore};
use std::collections::{BTreeMap, HashMap};
use std::path::Path;

/// What a key should return to.
struct Target {
    value: Option<Value>,
    /// The first action the run took on this key (`import`, `forget`, `create`...).
    first_action: String,
    /// The run deleted and then created this key (a replacement).
    replaced: bool,
}

fn decode(raw: &baton_state::RawJson) -> Option<Value> {
    let j = raw.parse().ok()?;
    if j.is_null() {
        return None;
    }
    Value::from_typed_json(&j).ok()
}

fn empty_plan(current: &Snapshot) -> Plan {
    Plan {
        mode: PlanMode::Restore,
        lineage: current.lineage.clone(),
        serial: current.serial,
        changes: Vec::new(),
        outputs: Vec::new(),
        drift: Vec::new(),
        variables: BTreeMap::new(),
        config_files: Vec::new(),
        targets: Vec::new(),
        workspace: String::new(),
        errored: false,
        refreshed: BTreeMap::new(),
        planned_outputs: BTreeMap::new(),
        terraform_version: crate::TERRAFORM_COMPAT_VERSION.to_string(),
        timestamp: crate::now_rfc3339(),
        moves: Vec::new(),
        checks: Vec::new(),
    }
}

fn provider_of(providers: &Registry, type_: &str) -> (String, String) {
    match providers.resource_type(type_) {
        Some((p, _)) => (p.name.to_string(), p.source.to_string()),
        None => ("unknown".into(), "unknown".into()),
    }
}

/// Builds the restore change for one key, or `None` when nothing needs to happen.
fn change_for(
    key: &ObjectKey,
    target: Option<&Value>,
    current: &Snapshot,
    done: Done<'_>,
    used_deposed: &mut Vec<ObjectKey>,
) -> Option<ResourceChange> {
    let cur = current.objects.get(key).and_then(|o| decode_object(o).ok());
    change_against(key, target, cur, current, done, used_deposed)
}

/// What the run being undone did to a key: its first action, whether it replaced the object,
/// and the dependencies the restored object keeps; and the providers that name its provider.
struct Done<'a> {
    first_action: &'a str,
    replaced: bool,
    deps: Vec<String>,
    providers: &'a Registry,
}

/// How a rollback looks for objects whose create outcome was lost: with the providers'
/// [`ResourceType::find`](baton_provider::ResourceType::find), working in `dir` with the
/// providers' settings.
#[derive(Clone, Copy)]
pub struct Probe<'a> {
    /// The configuration directory.
    pub dir: &'a Path,
    pub configs: &'a ProviderConfigs,
}

/// [`change_for`] with the key's current object `cur` given (e.g. one found by the provider
/// that the state does not record).
fn change_against(
    key: &ObjectKey,
    target: Option<&Value>,
    cur: Option<Value>,
    current: &Snapshot,
    done: Done<'_>,
    used_deposed: &mut Vec<ObjectKey>,
) -> Option<ResourceChange> {
    let Done {
        first_action,
        replaced,
        deps,
        providers,
    } = done;
    let (pn, ps) = provider_of(providers, &key.addr.resource.type_);
    let deposed = if key.deposed.is_empty() {
        None
    } else {
        Some(key.deposed.clone())
    };
    let mk = |action: Action,
              reason: Option<ActionReason>,
              before: Value,
              after: Value,
              deposed: Option<String>| ResourceChange {
        addr: key.addr.clone(),
        deposed,
        provider_name: pn.clone(),
        provider_source: ps.clone(),
        action,
        reason,
        before,
        after,
        replace_paths: Vec::new(),
        dependencies: deps.clone(),
        create_before_destroy: false,
        previous_addr: None,
        importing: None,
    };
    match (target, cur) {
        (None, None) => None,
        (None, Some(c)) => {
            if first_action == "import" {
                // An imported object existed before: forget it, never destroy it.
                Some(mk(
                    Action::Forget,
                    Some(ActionReason::UndoImport),
                    c.clone(),
                    Value::null(c.ty()),
                    deposed,
                ))
            } else {
                Some(mk(
                    Action::Delete,
                    None,
                    c.clone(),
                    Value::null(c.ty()),
                    deposed,
                ))
            }
        }
        (Some(t), cur) => {
            if let Some(c) = &cur {
                if c.raw_equal(t) {
                    return None;
                }
            }
            // A create-before-destroy replacement whose old object still exists (deposed):
            // that object becomes current again.
            if key.deposed.is_empty() {
                let old = current.objects.iter().find(|(k, o)| {
                    k.addr == key.addr
                        && !k.deposed.is_empty()
                        && !used_deposed.contains(k)
                        && decode_object(o).is_ok_and(|v| v.raw_equal(t))
                });
                if let Some((dk, _)) = old {
                    used_deposed.push(dk.clone());
                    let before = cur.clone().unwrap_or_else(|| Value::null(t.ty()));
                    let action = if cur.is_some() {
                        Action::DeleteThenCreate
                    } else {
                        Action::Create
                    };
                    return Some(mk(
                        action,
                        Some(ActionReason::RestoreDeposed),
                        before,
                        t.clone(),
                        Some(dk.deposed.clone()),
                    ));
                }
            }
            match cur {
                None if first_action == "forget" => Some(mk(
                    Action::Create,
                    Some(ActionReason::Readopt),
                    Value::null(t.ty()),
                    t.clone(),
                    deposed,
                )),
                None => Some(mk(
                    Action::Create,
                    None,
                    Value::null(t.ty()),
                    t.clone(),
                    deposed,
                )),
                Some(c) if replaced => {
                    Some(mk(Action::DeleteThenCreate, None, c, t.clone(), deposed))
                }
                Some(c) => Some(mk(Action::Update, None, c, t.clone(), deposed)),
            }
        }
    }
}

/// Dependencies recorded for each instance in a plan document (a run's plan).
fn plan_dependencies(plan_doc: &baton_state::RawJson) -> HashMap<String, Vec<String>> {
    let mut out = HashMap::new();
    let Ok(j) = plan_doc.parse() else { return out };
    if let Some(changes) = j.get("changes").and_then(|c| c.as_array()) {
        for c in changes {
            let (Some(addr), Some(deps)) = (
                c.get("addr").and_then(|a| a.as_str()),
                c.get("dependencies").and_then(|d| d.as_array()),
            ) else {
                continue;
            };
            out.insert(
                addr.to_string(),
                deps.iter()
                    .filter_map(|d| d.as_str().map(str::to_string))
                    .collect(),
            );
        }
    }
    out
}

/// The plan that undoes run `run_id`: every object it touched returns to its value before the
/// run. Warnings name objects whose data a recreation cannot bring back.
///
/// `providers` are the types' providers (the changes name them). With `probe`, a create whose
/// outcome was lost (the process died while it ran) is looked for with the provider's `find`:
/// an object it made after all is deleted too.
pub fn plan_for_run(
    store: &dyn StateStore,
    run_id: &str,
    current: &Snapshot,
    providers: &Registry,
    probe: Option<Probe<'_>>,
) -> Result<(Plan, Diagnostics), StateError> {
    let mut diags = Diagnostics::new();
    let Some(run) = store.run(run_id)? else {
        diags.push(Diagnostic::error(
            "No such run",
            format!("There is no run with id {run_id}."),
        ));
        return Ok((empty_plan(current), diags));
    };
    let deps_by_addr = plan_dependencies(&run.plan);
    let entries = store.journal(run_id)?;
    let mut targets: BTreeMap<ObjectKey, Target> = BTreeMap::new();
    // Creates whose outcome is unknown, with their planned object.
    let mut lost_creates: Vec<(ObjectKey, Value)> = Vec::new();
    for e in entries.iter().filter(|e| e.phase == "apply") {
        if e.action == "read" {
            continue;
        }
        let Ok(addr) = InstanceAddr::parse(&e.addr) else {
            continue;
        };
        if e.action == "depose" {
            // Current key: its value before was the object now deposed; the deposed key did not
            // exist before the run.
            let cur = ObjectKey::current(addr.clone());
            targets.entry(cur).or_insert(Target {
                value: decode(&e.prior),
                first_action: "depose".into(),
                replaced: false,
            });
            targets
                .entry(ObjectKey {
                    addr,
                    deposed: e.deposed.clone(),
                })
                .or_insert(Target {
                    value: None,
                    first_action: "depose".into(),
                    replaced: false,
                });
            continue;
        }
        let key = ObjectKey {
            addr,
            deposed: e.deposed.clone(),
        };
        let t = targets.entry(key.clone()).or_insert(Target {
            value: decode(&e.prior),
            first_action: e.action.clone(),
            replaced: false,
        });
        if e.action == "create" && t.first_action == "delete" {
            t.replaced = true;
        }
        if e.action == "create"
            && t.first_action == "create"
            && e.status == baton_state::EntryStatus::Started
        {
            if let Some(planned) = decode(&e.planned) {
                lost_creates.push((key, planned));
            }
        }
    }
    let mut plan = empty_plan(current);
    let mut used_deposed = Vec::new();
    for (key, t) in &targets {
        let deps = deps_by_addr
            .get(&key.addr.to_string())
            .cloned()
            .or_else(|| current.objects.get(key).map(|o| o.dependencies.clone()))
            .unwrap_or_default();
        let done = Done {
            first_action: &t.first_action,
            replaced: t.replaced,
            deps,
            providers,
        };
        if let Some(c) = change_for(key, t.value.as_ref(), current, done, &mut used_deposed) {
            plan.changes.push(c);
        }
    }
    if let Some(probe) = probe {
        for (key, planned) in &lost_creates {
            if current.objects.contains_key(key) || plan.changes.iter().any(|c| c.addr == key.addr)
            {
                continue;
            }
            let Some((info, rt)) = providers.resource_type(&key.addr.resource.type_) else {
                continue;
            };
            let ctx =
                probe
                    .configs
                    .ctx_at(&ProviderCtx::new(probe.dir.to_path_buf()), info, &key.addr);
            match rt.find(&ctx, planned) {
                Ok(Some(found)) if found.is_wholly_known() => {
                    let deps = deps_by_addr.get(&key.addr.to_string()).cloned().unwrap_or_default();
                    let done = Done {
                        first_action: "create",
                        replaced: false,
                        deps,
                        providers,
                    };
                    if let Some(c) = change_against(key, None, Some(found), current, done, &mut Vec::new()) {
                        plan.changes.push(c);
                    }
                }
                Ok(_) => {}
                Err(e) => diags.push(Diagnostic::warning(
                    "Could not check for an object",
                    format!(
                        "{}'s create was interrupted; looking for the object it may have made failed: {}. If it exists, delete it by hand.",
                        key.addr, e.detail
                    ),
                )),
            }
        }
    }
    // Deposed objects a restore made current are no longer deposed: nothing else to do.
    plan.changes.retain(|c| {
        !(c.action == Action::Delete
            && c.deposed.as_ref().is_some_and(|d| {
                used_deposed
                    .iter()
                    .any(|k| k.addr == c.addr && &k.deposed == d)
            }))
    });
    warn_unrestorable(&plan, providers, &mut diags);
    Ok((plan, diags))
}

/// The plan that returns every managed object to its value in state version `serial`, with
/// `providers` naming the types' providers.
pub fn plan_to_version(
    store: &dyn StateStore,
    serial: u64,
    current: &Snapshot,
    providers: &Registry,
) -> Result<(Plan, Diagnostics), StateError> {
    let mut diags = Diagnostics::new();
    let target = store.at_version(serial)?;
    let mut keys: Vec<&ObjectKey> = current
        .objects
        .keys()
        .chain(target.objects.keys())
        .collect();
    keys.sort();
    keys.dedup();
    let mut plan = empty_plan(current);
    let mut used_deposed = Vec::new();
    for key in keys {
        if key.addr.resource.mode == ResourceMode::Data {
            continue;
        }
        let t = target.objects.get(key).and_then(|o| decode_object(o).ok());
        let deps = target
            .objects
            .get(key)
            .or_else(|| current.objects.get(key))
            .map(|o| o.dependencies.clone())
            .unwrap_or_default();
        let done = Done {
            first_action: "",
            replaced: false,
            deps,
            providers,
        };
        if let Some(c) = change_for(key, t.as_ref(), current, done, &mut used_deposed) {
            plan.changes.push(c);
        }
    }
    warn_unrestorable(&plan, providers, &mut diags);
    Ok((plan, diags))
}

/// Objects the restore recreates whose provider cannot bring their data back.
fn warn_unrestorable(plan: &Plan, providers: &Registry, diags: &mut Diagnostics) {
    for c in &plan.changes {
        if c.action.is_replace() || c.action == Action::Create {
            if let Some((_, rt)) = providers.resource_type(&c.addr.resource.type_) {
                if !rt.restorable() {
                    diags.push(Diagnostic::warning(
                        "Recreated object may not have its data",
                        format!("{} is recreated from its recorded attributes, but a {} cannot restore the data the deleted object held.", c.addr, c.addr.resource.type_),
                    ));
                }
            }
        }
    }
}

/// What undoing `run_id` still has to do against the current state, one line per object
/// (e.g. `shell_script.s: delete (the run created it)`), for the report of a rollback that did
/// not finish.
pub fn remaining(store: &dyn StateStore, run_id: &str) -> Result<Vec<String>, StateError> {
    let current = store.current()?;
    // The lines name no provider, and nothing is looked for: no provider set is needed.
    let (plan, diags) = plan_for_run(store, run_id, &current, &Registry::new(), None)?;
    if diags.has_errors() {
        return Ok(Vec::new());
    }
    Ok(plan
        .changes
        .iter()
        .filter(|c| c.action != Action::NoOp)
        .map(describe_remaining)
        .collect())
}

fn describe_remaining(c: &ResourceChange) -> String {
    let addr = match &c.deposed {
        Some(d) if c.reason != Some(ActionReason::RestoreDeposed) => {
            format!("{} (deposed object {d})", c.addr)
        }
        _ => c.addr.to_string(),
    };
    let what = match (c.action, c.reason) {
        (_, Some(ActionReason::RestoreDeposed)) => "make the object it replaced current again",
        (Action::Forget, _) => "forget it (the run imported it; it is not destroyed)",
        (Action::Create, Some(ActionReason::Readopt)) => {
            "record it in the state again (the run forgot it)"
        }
        (Action::Create, _) => "recreate it (the run deleted it)",
        (Action::Delete, _) => "delete it (the run created it)",
        (Action::Update, _) => "return it to its earlier value",
        (Action::DeleteThenCreate | Action::CreateThenDelete, _) => {
            "replace it with its earlier value"
        }
        (Action::NoOp | Action::Read, _) => "nothing",
    };
    format!("{addr}: {what}")
}
