//! The conformance suite every [`ServiceBoard`] must pass: desired services are put, replaced,
//! listed by name and removed; one agent holds a stack's lease at a time, renews it, and a
//! second agent takes over only once it expires or is released; a status report is accepted
//! only from the lease holder; an empty board reads as empty. Ordinary code, not `cfg(test)`,
//! so that each store's crate runs the same checks (see
//! [`board_conformance!`](crate::board_conformance)).
//!
//! Test support: a failed check panics naming what was expected. Must only use the
//! [`ServiceBoard`] trait, and must not assert on speed beyond generous bounds (a lease's
//! expiry is polled for, bounded).
//!
//! Every check receives `open`, a function returning a new handle on one fresh, empty board
//! each time it is called — as another process opening the same board would.

use baton_core::board::{AgentId, BoardError, DesiredService, ServiceBoard};
use std::time::{Duration, Instant};

/// A function that opens a new handle on the board under test.
pub type Open<'a> = &'a dyn Fn() -> Box<dyn ServiceBoard>;

/// One conformance check.
pub type Check = fn(Open<'_>);

/// Every check, by name.
pub const CHECKS: &[(&str, Check)] = &[
    (
        "an_empty_board_reads_as_empty",
        an_empty_board_reads_as_empty,
    ),
    (
        "desired_services_are_put_replaced_and_removed",
        desired_services_are_put_replaced_and_removed,
    ),
    (
        "one_agent_holds_the_lease_until_it_expires_or_is_released",
        one_agent_holds_the_lease_until_it_expires_or_is_released,
    ),
    (
        "only_the_lease_holder_reports_status",
        only_the_lease_holder_reports_status,
    ),
];

/// Defines one `#[test]` per conformance check. `$new_board` is evaluated once per test and
/// returns an opener for a fresh, empty board (`Box<dyn Fn() -> Box<dyn ServiceBoard>>`).
#[macro_export]
macro_rules! board_conformance {
    ($new_board:expr) => {
        $crate::board_conformance!(@each $new_board;
            an_empty_board_reads_as_empty,
            desired_services_are_put_replaced_and_removed,
            one_agent_holds_the_lease_until_it_expires_or_is_released,
            only_the_lease_holder_reports_status,
        );
    };
    (@each $new_board:expr; $($check:ident),* $(,)?) => {
        $(
            #[test]
            fn $check() {
                let open = $new_board;
                $crate::board_conformance::$check(&*open);
            }
        )*

        #[test]
        fn every_check_is_run() {
            let run: Vec<&str> = vec![$(stringify!($check)),*];
            let all: Vec<&str> = $crate::board_conformance::CHECKS
                .iter()
                .map(|(n, _)| *n)
                .collect();
            assert_eq!(run, all, "board_conformance! and CHECKS disagree");
        }
    };
}

const LONG: Duration = Duration::from_secs(3600);
const SHORT: Duration = Duration::from_millis(200);

fn agent(id: &str) -> AgentId {
    AgentId {
        id: id.to_string(),
        host: "test-host".to_string(),
        pid: 4242,
    }
}

fn service(name: &str, spec: &str) -> DesiredService {
    DesiredService {
        name: name.to_string(),
        stack: "shop".to_string(),
        dir: "/srv/shop".to_string(),
        spec: spec.to_string(),
    }
}

pub fn an_empty_board_reads_as_empty(open: Open<'_>) {
    let b = open();
    assert_eq!(b.desired().expect("desired"), Vec::new());
    assert_eq!(b.agent().expect("agent"), None);
    assert_eq!(b.status().expect("status"), None);
    b.remove_desired("nothing").expect("removing nothing");
    b.release("nobody").expect("releasing nothing");
}

pub fn desired_services_are_put_replaced_and_removed(open: Open<'_>) {
    let (a, b) = (open(), open());
    a.put_desired(&service("web", r#"{"v":1}"#))
        .expect("put web");
    a.put_desired(&service("api", r#"{"v":1}"#))
        .expect("put api");
    let names: Vec<String> = b
        .desired()
        .expect("desired")
        .into_iter()
        .map(|d| d.name)
        .collect();
    assert_eq!(
        names,
        ["api", "web"],
        "listed by name, seen by another handle"
    );
    b.put_desired(&service("web", r#"{"v":2}"#))
        .expect("replace web");
    let web = a
        .desired()
        .expect("desired")
        .into_iter()
        .find(|d| d.name == "web")
        .expect("web is still there");
    assert_eq!(web, service("web", r#"{"v":2}"#));
    a.remove_desired("api").expect("remove api");
    assert_eq!(b.desired().expect("desired"), vec![web]);
}

pub fn one_agent_holds_the_lease_until_it_expires_or_is_released(open: Open<'_>) {
    let (a, b) = (open(), open());
    assert_eq!(a.claim(&agent("one"), LONG).expect("claim"), None);
    assert_eq!(a.claim(&agent("one"), LONG).expect("renew"), None);
    let held = b.claim(&agent("two"), LONG).expect("claim by two");
    let held = held.expect("two must see one's live lease");
    assert_eq!(held.agent, agent("one"));
    assert!(held.remaining_ms > 0 && held.remaining_ms <= LONG.as_millis() as u64);
    assert_eq!(
        b.agent().expect("agent").map(|l| l.agent),
        Some(agent("one"))
    );
    b.release("two")
        .expect("releasing a lease two does not hold");
    assert!(
        b.agent().expect("agent").is_some(),
        "two cannot release one's lease"
    );
    a.release("one").expect("release");
    assert_eq!(b.agent().expect("agent"), None);
    // A short lease that is not renewed lapses, and the other agent takes over.
    assert_eq!(b.claim(&agent("two"), SHORT).expect("claim"), None);
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        if a.claim(&agent("one"), LONG)
            .expect("claim after expiry")
            .is_none()
        {
            break;
        }
        assert!(Instant::now() < deadline, "the short lease never expired");
        std::thread::sleep(Duration::from_millis(20));
    }
    assert_eq!(
        b.agent().expect("agent").map(|l| l.agent),
        Some(agent("one"))
    );
}

pub fn only_the_lease_holder_reports_status(open: Open<'_>) {
    let (a, b) = (open(), open());
    match a.put_status("one", "{}") {
        Err(BoardError::NotHolder { agent, holder }) => {
            assert_eq!((agent.as_str(), holder.as_str()), ("one", "nobody"));
        }
        other => panic!("a status without a lease must be refused, got {other:?}"),
    }
    assert_eq!(a.claim(&agent("one"), LONG).expect("claim"), None);
    a.put_status("one", r#"{"services":[]}"#).expect("status");
    let s = b.status().expect("status").expect("a report");
    assert_eq!(
        (s.agent.as_str(), s.body.as_str()),
        ("one", r#"{"services":[]}"#)
    );
    assert!(s.age_ms < 60_000, "age {} ms", s.age_ms);
    match b.put_status("two", "{}") {
        Err(BoardError::NotHolder { holder, .. }) => assert_eq!(holder, "one"),
        other => panic!("a status from a non-holder must be refused, got {other:?}"),
    }
    assert_eq!(
        a.status().expect("status").map(|s| s.body),
        Some(r#"{"services":[]}"#.to_string())
    );
}
