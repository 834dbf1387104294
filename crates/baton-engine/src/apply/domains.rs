//! Failure domains of an apply walk: the actions on one host fail together, and the run
//! fails as a whole only when too many hosts failed (Ansible's `max_fail_percentage`).
//!
//! An action belongs to the domain `HOST:PORT` when its resource's planned (else prior) value
//! has a `connection` object with a known `host` (`port` 22 when unset): Terraform's
//! `connection` block, which every resource acting over SSH carries. This is read from the
//! plan's values alone, so the engine knows nothing of the providers that use the block.
//! When an action of a domain fails (after its retries), the domain fails: its actions not yet
//! started are not started (their dependents are skipped as usual), and everything else goes
//! on. The fleet fails when the failed domains exceed `max_fail_percentage` of the domains of
//! the run's actions, or when all of them failed; then the walk stops and the run's failure
//! policy applies to the whole run.
//!
//! Must not call providers, touch state or decide the order of work: it only keeps the tally
//! the walk consults.

use super::actions::ANode;
use crate::model::{Action, Plan, PlanMode};
use baton_core::Diagnostics;
use baton_eval::Value;
use baton_state::{EntryStatus, JournalEntry};
use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::Mutex;

/// The failure domain of an object value: `HOST:PORT` of its `connection` block, when the
/// block and its host are known. A sensitive host is named by a digest, never its value.
pub fn domain_of(v: &Value) -> Option<String> {
    let c = v.get_attr("connection")?;
    // A single nested block is an object; a list of one (as some schemas nest it) also works.
    let c = match c.as_seq() {
        Some([one]) => one,
        Some(_) => return None,
        None => c,
    };
    let host = c.get_attr("host")?;
    if !host.is_wholly_known() || host.is_null() {
        return None;
    }
    let sensitive = host.contains_sensitive();
    let host = host.clone().unmark_deep().0;
    let host = host.as_str()?;
    let port = c
        .get_attr("port")
        .map(|p| p.clone().unmark_deep().0)
        .and_then(|p| p.as_number().and_then(|n| n.to_u64()))
        .unwrap_or(22);
    if sensitive {
        use sha2::Digest as _;
        let digest = sha2::Sha256::digest(host.as_bytes());
        let short: String = digest.iter().take(4).map(|b| format!("{b:02x}")).collect();
        return Some(format!("(sensitive host {short}):{port}"));
    }
    Some(format!("{host}:{port}"))
}

/// The failure domains a run's failed actions belong to, from its journal (the `apply`
/// phase): each domain with the first error recorded on it. What `runs show` lists.
pub fn failed_domains(entries: &[JournalEntry]) -> BTreeMap<String, String> {
    let mut out = BTreeMap::new();
    for e in entries {
        if e.phase != "apply" || e.status != EntryStatus::Failed {
            continue;
        }
        let decode = |raw: &baton_state::RawJson| {
            raw.parse()
                .ok()
                .and_then(|j| Value::from_typed_json(&j).ok())
                .and_then(|v| domain_of(&v))
        };
        if let Some(d) = decode(&e.planned).or_else(|| decode(&e.prior)) {
            out.entry(d)
                .or_insert_with(|| e.error.clone().unwrap_or_default());
        }
    }
    out
}

/// How the failure domains of a walk fared.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct DomainReport {
    /// Distinct domains among the plan's actions.
    pub total: usize,
    /// The failed domains, each with why (the first failure's summary and detail).
    pub failed: BTreeMap<String, String>,
    /// The limit the run had (`None`: fail only when every domain failed).
    pub max_fail_percentage: Option<u8>,
    /// Too many domains failed: the run failed as a whole.
    pub fleet_failed: bool,
}

impl DomainReport {
    /// One line: `2 of 10 hosts failed (20%, max_fail_percentage 25): h1:22 (why), …`.
    pub fn summary(&self) -> String {
        let n = self.failed.len();
        let pct = (n * 100).checked_div(self.total).unwrap_or(0);
        let limit = match self.max_fail_percentage {
            Some(m) => format!("max_fail_percentage {m}"),
            None => "no max_fail_percentage: only all hosts failing fails the run".to_string(),
        };
        let list: Vec<String> = self
            .failed
            .iter()
            .map(|(d, why)| format!("{d} ({why})"))
            .collect();
        format!(
            "{n} of {} host{} failed ({pct}%, {limit}): {}",
            self.total,
            if self.total == 1 { "" } else { "s" },
            list.join(", ")
        )
    }
}

/// The tally one walk keeps.
pub(super) struct Domains {
    /// The domain of each change (by index in the plan) that has one.
    of_change: HashMap<usize, String>,
    total: usize,
    max_fail_percentage: Option<u8>,
    state: Mutex<Tally>,
}

#[derive(Default)]
struct Tally {
    failed: BTreeMap<String, String>,
    fleet_failed: bool,
    /// An action outside every domain failed.
    other_failed: bool,
}

/// What the walk does after a failed action.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum AfterFailure {
    /// Its domain failed alone: go on with the rest.
    Tolerated,
    /// An action outside every domain failed: the run's failure policy decides, as without
    /// domains.
    OutsideDomains,
    /// Too many domains failed: the walk stops and the run fails as a whole.
    FleetFailed,
}

impl Domains {
    /// The domains of `plan`'s actions, or `None` when there are none (or the walk is not the
    /// run's own: a restore undoes what it must, host by host failures included).
    pub(super) fn of_plan(plan: &Plan, max_fail_percentage: Option<u8>) -> Option<Domains> {
        if plan.mode == PlanMode::Restore {
            return None;
        }
        let mut of_change = HashMap::new();
        for (i, c) in plan.changes.iter().enumerate() {
            let acts = match c.action {
                Action::NoOp => c.importing.is_some(),
                _ => true,
            };
            if !acts {
                continue;
            }
            if let Some(d) = domain_of(&c.after).or_else(|| domain_of(&c.before)) {
                of_change.insert(i, d);
            }
        }
        let total = of_change.values().collect::<BTreeSet<_>>().len();
        if total == 0 {
            return None;
        }
        Some(Domains {
            of_change,
            total,
            max_fail_percentage,
            state: Mutex::new(Tally::default()),
        })
    }

    /// The domain of node `n`, if it has one.
    pub(super) fn of(&self, n: &ANode) -> Option<&str> {
        match n {
            ANode::Apply(i) | ANode::Destroy(i) => self.of_change.get(i).map(String::as_str),
            ANode::Config(_) => None,
        }
    }

    /// Whether `domain` failed already (its remaining actions are not started).
    pub(super) fn has_failed(&self, domain: &str) -> bool {
        self.state
            .lock()
            .map(|t| t.failed.contains_key(domain))
            .unwrap_or(true)
    }

    /// Records that an action of `domain` (or one outside every domain) failed with `diags`.
    pub(super) fn failed(&self, domain: Option<&str>, diags: &Diagnostics) -> AfterFailure {
        let Ok(mut t) = self.state.lock() else {
            return AfterFailure::FleetFailed;
        };
        let Some(domain) = domain else {
            t.other_failed = true;
            return AfterFailure::OutsideDomains;
        };
        if !t.failed.contains_key(domain) {
            t.failed.insert(domain.to_string(), reason(diags));
        }
        let n = t.failed.len();
        let over = match self.max_fail_percentage {
            Some(m) => n * 100 > usize::from(m) * self.total,
            None => false,
        };
        if over || n == self.total {
            t.fleet_failed = true;
        }
        if t.fleet_failed {
            AfterFailure::FleetFailed
        } else {
            AfterFailure::Tolerated
        }
    }

    /// The outcome, and whether the walk's failures were all tolerated domain failures (false
    /// when no domain failed).
    pub(super) fn finish(&self) -> (DomainReport, bool) {
        let t = self.state.lock().map(|t| {
            (
                t.failed.clone(),
                t.fleet_failed,
                !t.failed.is_empty() && !t.other_failed && !t.fleet_failed,
            )
        });
        let (failed, fleet_failed, tolerated) = t.unwrap_or_default();
        (
            DomainReport {
                total: self.total,
                failed,
                max_fail_percentage: self.max_fail_percentage,
                fleet_failed,
            },
            tolerated,
        )
    }
}

/// Why an action failed, in one short line: its first error's summary and detail.
fn reason(diags: &Diagnostics) -> String {
    let Some(d) = diags.iter().find(|d| d.is_error()) else {
        return "failed".to_string();
    };
    let detail = d.detail.lines().next().unwrap_or_default();
    let mut s = format!("{}: {detail}", d.summary.to_lowercase());
    if s.chars().count() > 200 {
        s = s.chars().take(199).collect::<String>() + "…";
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    fn obj(host: &str, port: Option<i64>) -> Value {
        let mut c = vec![("host".to_string(), Value::string(host))];
        if let Some(p) = port {
            c.push(("port".to_string(), Value::int(p)));
        }
        Value::object(BTreeMap::from([(
            "connection".to_string(),
            Value::object(c.into_iter().collect()),
        )]))
    }

    #[test]
    fn domains_come_from_the_connection_block() {
        assert_eq!(
            domain_of(&obj("10.0.0.5", None)),
            Some("10.0.0.5:22".into())
        );
        assert_eq!(domain_of(&obj("h", Some(2222))), Some("h:2222".into()));
        assert_eq!(domain_of(&Value::dynamic_null()), None);
        let no_conn = Value::object(BTreeMap::from([("path".to_string(), Value::string("/x"))]));
        assert_eq!(domain_of(&no_conn), None);
    }

    #[test]
    fn summary_names_each_failed_host() {
        let r = DomainReport {
            total: 10,
            failed: [
                ("h1:2222".to_string(), "host unreachable: gone".to_string()),
                ("h2:22".to_string(), "x: y".to_string()),
            ]
            .into_iter()
            .collect(),
            max_fail_percentage: Some(25),
            fleet_failed: false,
        };
        assert_eq!(
            r.summary(),
            "2 of 10 hosts failed (20%, max_fail_percentage 25): h1:2222 (host unreachable: gone), h2:22 (x: y)"
        );
    }
}
