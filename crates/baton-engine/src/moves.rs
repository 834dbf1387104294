//! `moved` blocks and Terraform's implicit moves (adding or removing `count` moves an object
//! between `x` and `x[0]`): before planning, objects in the prior state are renamed to their
//! new addresses, so a rename is planned as a move rather than a destroy and a create.
//!
//! Pure over the state snapshot; the renames are recorded in the plan and written to state when
//! it is applied.

use baton_config::{Config, Expr, TraversalStep};
use baton_core::{
    Diagnostic, Diagnostics, InstanceAddr, InstanceKey, ModuleInstance, ModulePath, ResourceMode,
    Span, Target,
};
use baton_state::{ObjectKey, Snapshot};
use std::collections::BTreeMap;

/// One `moved` block, with its addresses relative to the module that declares it.
#[derive(Clone, Debug)]
pub struct MoveStmt {
    pub module: ModulePath,
    pub from: Target,
    pub to: Target,
    pub span: Span,
}

/// The text of a static address expression (`module.a["k"].terraform_data.b[0]`).
pub fn address_text(e: &Expr) -> Option<String> {
    let (root, steps) = e.as_traversal()?;
    let mut s = root.to_string();
    for st in steps {
        match st {
            TraversalStep::Attr(a, _) => {
                s.push('.');
                s.push_str(a);
            }
            TraversalStep::Index(k, _) => match &k.kind {
                baton_config::ExprKind::Number(n) => s.push_str(&format!("[{n}]")),
                baton_config::ExprKind::String(v) => {
                    s.push_str(&format!("[{}]", baton_core::addr::quote(v)))
                }
                _ => return None,
            },
        }
    }
    Some(s)
}

fn parse_target(e: &Expr, what: &str) -> Result<Target, Diagnostic> {
    let text = address_text(e).ok_or_else(|| {
        Diagnostic::error(
            "Invalid address",
            format!("The \"{what}\" address must be a static reference to a resource, a resource instance or a module, such as terraform_data.a, terraform_data.a[0] or module.network."),
        )
        .at(e.span)
    })?;
    Target::parse(&text)
        .map_err(|err| Diagnostic::error("Invalid address", err.to_string()).at(e.span))
}

/// Every `moved` block of the configuration, validated.
pub fn statements(config: &Config) -> (Vec<MoveStmt>, Diagnostics) {
    let mut out = Vec::new();
    let mut diags = Diagnostics::new();
    for m in config.all_modules() {
        for mv in &m.moved {
            let (from, to) = match (parse_target(&mv.from, "from"), parse_target(&mv.to, "to")) {
                (Ok(f), Ok(t)) => (f, t),
                (Err(d), _) | (_, Err(d)) => {
                    diags.push(d);
                    continue;
                }
            };
            let compatible = match (&from, &to) {
                (Target::Resource(_, a), Target::Resource(_, b))
                | (Target::Resource(_, a), Target::Instance(InstanceAddr { resource: b, .. }))
                | (Target::Instance(InstanceAddr { resource: a, .. }), Target::Resource(_, b))
                | (
                    Target::Instance(InstanceAddr { resource: a, .. }),
                    Target::Instance(InstanceAddr { resource: b, .. }),
                ) => {
                    // A move to another type is the target type's provider's to make
                    // (MoveResourceState, when the plan is made); data resources never move.
                    if a.mode != b.mode || a.mode == ResourceMode::Data {
                        diags.push(
                            Diagnostic::error(
                                "Resource type mismatch",
                                format!("This statement declares a move from {from} to {to}, which is a {} of a different type, or a data resource. Only managed resources can be moved.", to),
                            )
                            .at(mv.span),
                        );
                        continue;
                    }
                    true
                }
                (Target::Module(_), Target::Module(_)) => true,
                _ => false,
            };
            if !compatible {
                diags.push(
                    Diagnostic::error(
                        "Invalid \"moved\" addresses",
                        format!("Cannot move {from} to {to}: a move must be between two resources, two resource instances or two modules."),
                    )
                    .at(mv.span),
                );
                continue;
            }
            // The old address must not still be declared.
            if let Target::Resource(fm, fr)
            | Target::Instance(InstanceAddr {
                module: fm,
                resource: fr,
                ..
            }) = &from
            {
                let still = config
                    .descendant(&ModulePath(
                        m.path.0.iter().cloned().chain(fm.path().0).collect(),
                    ))
                    .is_some_and(|c| c.module.resources.contains_key(fr));
                if still && matches!(from, Target::Resource(..)) {
                    diags.push(
                        Diagnostic::error(
                            "Moved object still exists",
                            format!("This statement declares a move from {from}, but that resource is still declared in the configuration. Change your configuration so that this address will be declared as {to} instead."),
                        )
                        .at(mv.span),
                    );
                    continue;
                }
            }
            out.push(MoveStmt {
                module: m.path.clone(),
                from,
                to,
                span: mv.span,
            });
        }
    }
    (out, diags)
}

/// Module call steps of a module instance path: (call name, instance key).
type Steps = Vec<(String, Option<InstanceKey>)>;

/// The prefix of `addr`'s module instance that is an instance of `module`, and the rest.
fn split_module(addr: &ModuleInstance, module: &ModulePath) -> Option<(Steps, Steps)> {
    let depth = module.0.len();
    if addr.0.len() < depth {
        return None;
    }
    if addr.0[..depth]
        .iter()
        .zip(&module.0)
        .any(|((n, _), m)| n != m)
    {
        return None;
    }
    Some((addr.0[..depth].to_vec(), addr.0[depth..].to_vec()))
}

fn steps_match(
    actual: &[(String, Option<InstanceKey>)],
    pattern: &[(String, Option<InstanceKey>)],
) -> bool {
    actual.len() == pattern.len() && actual.iter().zip(pattern).all(|(a, p)| a == p)
}

/// The new address of `addr` under one statement, if it applies.
fn rewrite(addr: &InstanceAddr, st: &MoveStmt) -> Option<InstanceAddr> {
    let (prefix, rel) = split_module(&addr.module, &st.module)?;
    let join = |to: &ModuleInstance| {
        ModuleInstance(prefix.iter().cloned().chain(to.0.iter().cloned()).collect())
    };
    match (&st.from, &st.to) {
        (Target::Resource(fm, fr), Target::Resource(tm, tr)) => (steps_match(&rel, &fm.0)
            && &addr.resource == fr)
            .then(|| InstanceAddr::new(join(tm), tr.clone(), addr.key.clone())),
        (Target::Resource(fm, fr), Target::Instance(ti)) => {
            (steps_match(&rel, &fm.0) && &addr.resource == fr && addr.key.is_none())
                .then(|| InstanceAddr::new(join(&ti.module), ti.resource.clone(), ti.key.clone()))
        }
        (Target::Instance(fi), Target::Resource(tm, tr)) => {
            (steps_match(&rel, &fi.module.0) && addr.resource == fi.resource && addr.key == fi.key)
                .then(|| InstanceAddr::new(join(tm), tr.clone(), None))
        }
        (Target::Instance(fi), Target::Instance(ti)) => {
            (steps_match(&rel, &fi.module.0) && addr.resource == fi.resource && addr.key == fi.key)
                .then(|| InstanceAddr::new(join(&ti.module), ti.resource.clone(), ti.key.clone()))
        }
        (Target::Module(fm), Target::Module(tm)) => {
            let n = fm.0.len();
            if rel.len() < n {
                return None;
            }
            // The last step of a whole-call move (no key on either side) keeps the keys.
            let whole_call = fm.0.last().is_some_and(|s| s.1.is_none())
                && tm.0.last().is_some_and(|s| s.1.is_none());
            let head_ok = rel[..n]
                .iter()
                .zip(&fm.0)
                .enumerate()
                .all(|(i, (a, p))| a.0 == p.0 && (a.1 == p.1 || (whole_call && i == n - 1)));
            if !head_ok {
                return None;
            }
            let mut new_rel: Vec<(String, Option<InstanceKey>)> = tm.0.clone();
            if whole_call {
                if let (Some(last), Some(orig)) = (new_rel.last_mut(), rel.get(n - 1)) {
                    last.1 = orig.1.clone();
                }
            }
            new_rel.extend(rel[n..].iter().cloned());
            Some(InstanceAddr::new(
                ModuleInstance(prefix.iter().cloned().chain(new_rel).collect()),
                addr.resource.clone(),
                addr.key.clone(),
            ))
        }
        _ => None,
    }
}

/// Applies moves to a snapshot. Returns the renamed snapshot (the same one, borrowed, when
/// nothing moves), the renames (old → new), and
/// warnings for moves that could not happen.
pub fn apply_moves<'a>(
    prior: &'a Snapshot,
    stmts: &[MoveStmt],
    config: &Config,
) -> (
    std::borrow::Cow<'a, Snapshot>,
    Vec<(InstanceAddr, InstanceAddr)>,
    Diagnostics,
) {
    let mut diags = Diagnostics::new();
    let mut renames: BTreeMap<InstanceAddr, InstanceAddr> = BTreeMap::new();
    let addrs: Vec<InstanceAddr> = {
        let mut v: Vec<InstanceAddr> = prior.objects.keys().map(|k| k.addr.clone()).collect();
        v.dedup();
        v
    };
    for a in &addrs {
        let mut cur = a.clone();
        // Chains (a → b, b → c) resolve to the end; bounded by the number of statements.
        for _ in 0..=stmts.len() {
            match stmts.iter().find_map(|s| rewrite(&cur, s)) {
                Some(next) if next != cur => cur = next,
                _ => break,
            }
        }
        cur = implicit_move(&cur, prior, config).unwrap_or(cur);
        if &cur != a {
            renames.insert(a.clone(), cur);
        }
    }
    // A move onto an address that still has its own object does not happen.
    let occupied: std::collections::HashSet<&InstanceAddr> =
        addrs.iter().filter(|a| !renames.contains_key(*a)).collect();
    let mut targets: std::collections::HashSet<InstanceAddr> = std::collections::HashSet::new();
    let mut effective = Vec::new();
    for (from, to) in &renames {
        if occupied.contains(to) || !targets.insert(to.clone()) {
            let span = stmts
                .iter()
                .find(|s| rewrite(from, s).is_some())
                .map(|s| s.span);
            diags.push(
                Diagnostic::warning(
                    "Unresolved resource instance address changes",
                    format!("Baton tried to move {from} to {to}, but an object already exists at {to} in the state, so {from} stays where it is."),
                )
                .at_opt(span),
            );
            continue;
        }
        effective.push((from.clone(), to.clone()));
    }
    if effective.is_empty() {
        return (std::borrow::Cow::Borrowed(prior), effective, diags);
    }
    let mut out = prior.clone();
    let moved: BTreeMap<&InstanceAddr, &InstanceAddr> =
        effective.iter().map(|(f, t)| (f, t)).collect();
    out.objects = prior
        .objects
        .iter()
        .map(|(k, v)| {
            let key = match moved.get(&k.addr) {
                Some(to) => ObjectKey {
                    addr: (*to).clone(),
                    deposed: k.deposed.clone(),
                },
                None => k.clone(),
            };
            (key, v.clone())
        })
        .collect();
    (std::borrow::Cow::Owned(out), effective, diags)
}

/// Terraform's implicit move when `count` is added to or removed from a resource.
fn implicit_move(addr: &InstanceAddr, prior: &Snapshot, config: &Config) -> Option<InstanceAddr> {
    if addr.resource.mode != ResourceMode::Managed {
        return None;
    }
    let r = config
        .descendant(&addr.module.path())?
        .module
        .resources
        .get(&addr.resource)?;
    let exists = |key: Option<InstanceKey>| {
        prior
            .objects
            .contains_key(&ObjectKey::current(InstanceAddr::new(
                addr.module.clone(),
                addr.resource.clone(),
                key,
            )))
    };
    match (&addr.key, r.count.is_some(), r.for_each.is_some()) {
        (None, true, _) if !exists(Some(InstanceKey::Int(0))) => Some(InstanceAddr::new(
            addr.module.clone(),
            addr.resource.clone(),
            Some(InstanceKey::Int(0)),
        )),
        (Some(InstanceKey::Int(0)), false, false) if !exists(None) => Some(InstanceAddr::new(
            addr.module.clone(),
            addr.resource.clone(),
            None,
        )),
        _ => None,
    }
}
