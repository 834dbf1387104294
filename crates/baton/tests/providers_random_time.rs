//! End-to-end tests of the built-in `random` and `time` providers through the `baton` binary:
//! apply, outputs, a second plan without changes, replacement when `keepers`/`triggers`
//! change, validation errors, rotation of `time_rotating`, `time_sleep` delays and their
//! cancellation, and destroy.
//!
//! Each test works in its own temporary directory (see `common`). No test asserts a wall-clock
//! time: timestamps are either fixed in the configuration or only checked for their form, and
//! durations only as lower bounds of what a sleep must take.

mod common;

use common::{wait_until, Project};
use serde_json::Value as Json;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

/// `output --json`.
fn outputs(p: &Project) -> Json {
    p.baton(["output", "--json"]).ok().json()
}

/// The value of one output.
fn out(o: &Json, name: &str) -> Json {
    o[name]["value"].clone()
}

fn out_str(o: &Json, name: &str) -> String {
    out(o, name)
        .as_str()
        .unwrap_or_else(|| panic!("output {name} is not a string: {o:#}"))
        .to_string()
}

/// The current time plus `secs`, as RFC 3339 in UTC (for configurations only).
fn rfc3339_in(secs: i64) -> String {
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .expect("after the epoch")
        .as_secs() as i64
        + secs;
    let (days, sod) = (now.div_euclid(86_400), now.rem_euclid(86_400));
    // Civil date from days since 1970-01-01 (H. Hinnant's algorithm).
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    format!(
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}Z",
        sod / 3600,
        sod % 3600 / 60,
        sod % 60
    )
}

fn random_config(keeper: &str) -> String {
    format!(
        r#"variable "keeper" {{
  type    = string
  default = "{keeper}"
}}

resource "random_id" "id" {{
  byte_length = 8
  prefix      = "app-"
  keepers     = {{ k = var.keeper }}
}}

resource "random_string" "s" {{
  length    = 16
  special   = false
  min_upper = 3
}}

resource "random_password" "pw" {{
  length      = 24
  min_special = 4
  keepers     = {{ k = var.keeper }}
}}

resource "random_integer" "seeded" {{
  min  = 1
  max  = 3
  seed = "12345"
}}

resource "random_integer" "any" {{
  min = 10
  max = 20
}}

resource "random_uuid" "u" {{}}

resource "random_pet" "pet" {{
  length    = 3
  separator = "_"
  prefix    = "srv"
}}

resource "random_shuffle" "sh" {{
  input        = ["a", "b", "c", "d", "e"]
  seed         = "-"
  result_count = 12
}}

output "id" {{
  value = random_id.id
}}

output "s" {{
  value = random_string.s.result
}}

output "pw" {{
  value     = random_password.pw.result
  sensitive = true
}}

output "pw_hash" {{
  value     = random_password.pw.bcrypt_hash
  sensitive = true
}}

output "seeded" {{
  value = random_integer.seeded.result
}}

output "any" {{
  value = random_integer.any.result
}}

output "u" {{
  value = random_uuid.u.result
}}

output "pet" {{
  value = random_pet.pet.id
}}

output "sh" {{
  value = random_shuffle.sh.result
}}
"#
    )
}

#[test]
fn random_resources_apply_plan_replace_destroy() {
    let p = Project::new(&[("main.tf", &random_config("one"))]);
    let plan = p.baton(["plan"]).ok();
    plan.assert_stdout_contains("# random_password.pw will be created");
    plan.assert_stdout_contains("Plan: 8 to add, 0 to change, 0 to destroy.");
    // Generated values are unknown until apply.
    plan.assert_stdout_contains("+ id          = (known after apply)");

    let apply = p.baton(["apply", "--auto-approve"]).ok();
    apply.assert_stdout_contains("Apply complete! Resources: 8 added, 0 changed, 0 destroyed.");
    let o = outputs(&p);

    let id = out(&o, "id");
    let raw = id["id"].as_str().expect("id");
    assert_eq!(raw.len(), 11, "{id:#}");
    assert_eq!(id["b64_url"], format!("app-{raw}"));
    assert!(
        id["hex"].as_str().is_some_and(|h| h.len() == 4 + 16),
        "{id:#}"
    );
    assert!(id["dec"]
        .as_str()
        .is_some_and(|d| d[4..].chars().all(|c| c.is_ascii_digit())));

    let s = out_str(&o, "s");
    assert_eq!(s.len(), 16);
    assert!(s.chars().all(|c| c.is_ascii_alphanumeric()), "{s}");
    assert!(
        s.chars().filter(char::is_ascii_uppercase).count() >= 3,
        "{s}"
    );

    let pw = out_str(&o, "pw");
    assert_eq!(pw.chars().count(), 24);
    assert!(
        pw.chars()
            .filter(|c| "!@#$%&*()-_=+[]{}<>:?".contains(*c))
            .count()
            >= 4,
        "{pw}"
    );
    assert!(o["pw"]["sensitive"].as_bool().unwrap_or(false));
    assert!(out_str(&o, "pw_hash").starts_with("$2a$10$"));
    // The password is never printed by plan or apply.
    apply.assert_not_contains(&pw);

    // A seed gives Terraform's results.
    assert_eq!(out(&o, "seeded"), 3);
    assert_eq!(
        out(&o, "sh"),
        serde_json::json!(["a", "c", "b", "e", "d", "a", "e", "d", "c", "b", "a", "b"])
    );
    let any = out(&o, "any").as_i64().expect("integer");
    assert!((10..=20).contains(&any));

    let u = out_str(&o, "u");
    assert_eq!(u.len(), 36);
    assert_eq!(u.matches('-').count(), 4);
    let pet = out_str(&o, "pet");
    let words: Vec<&str> = pet.split('_').collect();
    assert_eq!(words.len(), 4, "{pet}");
    assert_eq!(words[0], "srv");

    // Nothing changes on the next plan: values are kept in state.
    p.baton(["plan"]).ok().assert_stdout_contains("No changes.");
    assert_eq!(outputs(&p), o);

    // A new keeper replaces the resources that use it, and only those.
    let plan = p.baton(["plan", "--var", "keeper=two"]).ok();
    plan.assert_stdout_contains("# random_id.id must be replaced");
    plan.assert_stdout_contains("# random_password.pw must be replaced");
    plan.assert_stdout_contains("# forces replacement");
    plan.assert_stdout_contains("Plan: 2 to add, 0 to change, 2 to destroy.");
    plan.assert_not_contains(&pw);
    p.baton(["apply", "--auto-approve", "--var", "keeper=two"])
        .ok();
    let o2 = outputs(&p);
    assert_ne!(out(&o2, "id")["id"], id["id"]);
    assert_ne!(out_str(&o2, "pw"), pw);
    assert_eq!(out_str(&o2, "s"), s);
    assert_eq!(out_str(&o2, "u"), u);
    assert_eq!(out_str(&o2, "pet"), pet);
    p.baton(["plan", "--var", "keeper=two"])
        .ok()
        .assert_stdout_contains("No changes.");

    let destroy = p
        .baton(["destroy", "--auto-approve", "--var", "keeper=two"])
        .ok();
    destroy.assert_stdout_contains("Destroy complete! Resources: 8 destroyed.");
    let list = p.baton(["state", "list"]).ok();
    assert!(list.stdout.trim().is_empty(), "{}", list.stdout);
}

#[test]
fn random_changes_that_force_replacement_and_keepers_that_do_not() {
    let config = |length: u32, keepers: &str| {
        format!(
            "resource \"random_string\" \"s\" {{\n  length = {length}\n{keepers}}}\n\noutput \"s\" {{\n  value = random_string.s.result\n}}\n"
        )
    };
    let p = Project::new(&[("main.tf", &config(8, "  keepers = {}\n"))]);
    p.baton(["apply", "--auto-approve"]).ok();
    let first = out_str(&outputs(&p), "s");
    // From an empty map to a null value: an in-place update, the value stays.
    p.write("main.tf", &config(8, "  keepers = { k = null }\n"));
    let plan = p.baton(["plan"]).ok();
    plan.assert_stdout_contains("# random_string.s will be updated in-place");
    p.baton(["apply", "--auto-approve"]).ok();
    assert_eq!(out_str(&outputs(&p), "s"), first);
    // Any other argument replaces.
    p.write("main.tf", &config(9, "  keepers = { k = null }\n"));
    let plan = p.baton(["plan"]).ok();
    plan.assert_stdout_contains("# random_string.s must be replaced");
    p.baton(["apply", "--auto-approve"]).ok();
    let second = out_str(&outputs(&p), "s");
    assert_eq!(second.len(), 9);
    p.baton(["destroy", "--auto-approve"]).ok();
}

#[test]
fn random_validation_errors_change_nothing() {
    let p = Project::new(&[(
        "main.tf",
        r#"resource "random_string" "bad" {
  length    = 2
  min_upper = 2
  min_lower = 2
}

resource "random_integer" "bad" {
  min = 10
  max = 1
}
"#,
    )]);
    let plan = p.baton(["plan"]).fails();
    plan.assert_contains(
        "must be at least sum of min_upper + min_lower + min_numeric + min_special",
    );
    plan.assert_contains(
        "The minimum (min) value needs to be smaller than or equal to maximum (max) value.",
    );
    plan.assert_contains("main.tf");
    p.baton(["apply", "--auto-approve"]).fails();
    let list = p.baton(["state", "list"]).run();
    assert!(list.stdout.trim().is_empty(), "{}", list.stdout);
}

fn time_config(trigger: &str, rotation: &str) -> String {
    format!(
        r#"variable "trigger" {{
  type    = string
  default = "{trigger}"
}}

resource "time_static" "fixed" {{
  rfc3339 = "2020-02-12T06:36:13+01:00"
}}

resource "time_static" "now" {{
  triggers = {{ t = var.trigger }}
}}

resource "time_offset" "month" {{
  base_rfc3339  = "2021-01-31T10:00:00Z"
  offset_months = 1
}}

resource "time_offset" "later" {{
  offset_hours = 2
}}

resource "time_rotating" "century" {{
  rotation_years = 100
}}

resource "time_rotating" "soon" {{
  rotation_rfc3339 = "{rotation}"
}}

output "fixed" {{
  value = time_static.fixed
}}

output "now" {{
  value = time_static.now.rfc3339
}}

output "month" {{
  value = time_offset.month
}}

output "later" {{
  value = time_offset.later
}}

output "century" {{
  value = time_rotating.century
}}
"#
    )
}

/// Is `s` an RFC 3339 timestamp in UTC with seconds precision?
fn is_utc_rfc3339(s: &str) -> bool {
    let b = s.as_bytes();
    b.len() == 20
        && b[4] == b'-'
        && b[7] == b'-'
        && b[10] == b'T'
        && b[13] == b':'
        && b[16] == b':'
        && b[19] == b'Z'
        && b.iter()
            .enumerate()
            .all(|(i, c)| [4, 7, 10, 13, 16, 19].contains(&i) || c.is_ascii_digit())
}

#[test]
fn time_resources_apply_plan_replace_rotate_destroy() {
    let rotation = rfc3339_in(3);
    let p = Project::new(&[("main.tf", &time_config("one", &rotation))]);
    let plan = p.baton(["plan"]).ok();
    // A configured timestamp is known at plan; the current time only after apply.
    plan.assert_stdout_contains("1581485773");
    plan.assert_stdout_contains("Plan: 6 to add, 0 to change, 0 to destroy.");
    p.baton(["apply", "--auto-approve"]).ok();
    let o = outputs(&p);

    let fixed = out(&o, "fixed");
    assert_eq!(fixed["id"], "2020-02-12T06:36:13+01:00");
    assert_eq!(fixed["hour"], 6);
    assert_eq!(fixed["day"], 12);
    assert_eq!(fixed["unix"], 1_581_485_773);

    let now = out_str(&o, "now");
    assert!(is_utc_rfc3339(&now), "{now}");

    // January 31 plus one month is March 3 (Go's AddDate normalisation).
    let month = out(&o, "month");
    assert_eq!(month["rfc3339"], "2021-03-03T10:00:00Z");
    assert_eq!(month["id"], "2021-01-31T10:00:00Z");
    assert_eq!(month["month"], 3);

    let later = out(&o, "later");
    let base = later["base_rfc3339"].as_str().expect("base");
    assert!(is_utc_rfc3339(base), "{later:#}");
    // Two hours after the base, at the same minute and second.
    let field = |s: &str, at: usize| -> i64 { s[at..at + 2].parse().expect("two digits") };
    assert_eq!(
        later["hour"].as_i64(),
        Some((field(base, 11) + 2) % 24),
        "{later:#}"
    );
    assert_eq!(later["minute"].as_i64(), Some(field(base, 14)), "{later:#}");
    assert_eq!(later["second"].as_i64(), Some(field(base, 17)), "{later:#}");
    assert_eq!(later["id"].as_str(), Some(base));

    let century = out(&o, "century");
    let year_now: i64 = century["rfc3339"].as_str().expect("rfc3339")[..4]
        .parse()
        .expect("year");
    assert_eq!(century["year"].as_i64(), Some(year_now + 100));

    // The short rotation passes: the next plan recreates that object, and only it.
    wait_until("the rotation time to pass", Duration::from_secs(60), || {
        let plan = p.baton(["plan"]).ok();
        plan.stdout.contains("# time_rotating.soon will be created")
    });
    let plan = p.baton(["plan"]).ok();
    plan.assert_stdout_contains("Plan: 1 to add, 0 to change, 0 to destroy.");

    // With a rotation time far away instead, nothing changes any more.
    p.write("main.tf", &time_config("one", "2999-01-01T00:00:00Z"));
    p.baton(["apply", "--auto-approve"]).ok();
    p.baton(["plan"]).ok().assert_stdout_contains("No changes.");
    assert_eq!(out(&outputs(&p), "fixed"), fixed);
    assert_eq!(out_str(&outputs(&p), "now"), now);

    // A new trigger replaces time_static.now only.
    let plan = p.baton(["plan", "--var", "trigger=two"]).ok();
    plan.assert_stdout_contains("# time_static.now must be replaced");
    plan.assert_stdout_contains("Plan: 1 to add, 0 to change, 1 to destroy.");

    // Changing an offset is an in-place update with the new value shown in the plan.
    let changed = time_config("one", "2999-01-01T00:00:00Z")
        .replace("offset_months = 1", "offset_months = 2");
    p.write("main.tf", &changed);
    let plan = p.baton(["plan"]).ok();
    plan.assert_stdout_contains("# time_offset.month will be updated in-place");
    plan.assert_stdout_contains("\"2021-03-31T10:00:00Z\"");
    p.baton(["apply", "--auto-approve"]).ok();
    assert_eq!(
        out(&outputs(&p), "month")["rfc3339"],
        "2021-03-31T10:00:00Z"
    );

    p.baton(["destroy", "--auto-approve"])
        .ok()
        .assert_stdout_contains("Destroy complete! Resources: 6 destroyed.");
}

#[test]
fn time_validation_errors() {
    let p = Project::new(&[(
        "main.tf",
        r#"resource "time_static" "bad" {
  rfc3339 = "yesterday"
}

resource "time_sleep" "bad" {
  create_duration = "30"
}

resource "time_offset" "bad" {
}
"#,
    )]);
    let plan = p.baton(["plan"]).fails();
    plan.assert_contains("Invalid RFC3339 String Value");
    plan.assert_contains("time: missing unit in duration");
    plan.assert_contains("At least one attribute out of [offset_days,offset_hours,offset_minutes,offset_months,offset_seconds,offset_years] must be specified");
}

#[test]
fn time_sleep_delays_create_and_destroy() {
    let p = Project::new(&[(
        "main.tf",
        r#"resource "time_sleep" "wait" {
  create_duration  = "1s"
  destroy_duration = "1s"
}

resource "terraform_data" "after" {
  input = time_sleep.wait.id
}

output "id" {
  value = time_sleep.wait.id
}
"#,
    )]);
    let start = Instant::now();
    p.baton(["apply", "--auto-approve"]).ok();
    assert!(start.elapsed() >= Duration::from_secs(1));
    let id = out_str(&outputs(&p), "id");
    assert!(is_utc_rfc3339(&id), "{id}");
    p.baton(["plan"]).ok().assert_stdout_contains("No changes.");
    // A new duration is applied in place, without a delay being required.
    p.write(
        "main.tf",
        &p.read("main.tf")
            .replace("create_duration  = \"1s\"", "create_duration  = \"2s\""),
    );
    p.baton(["plan"])
        .ok()
        .assert_stdout_contains("# time_sleep.wait will be updated in-place");
    p.baton(["apply", "--auto-approve"]).ok();
    assert_eq!(out_str(&outputs(&p), "id"), id);
    let start = Instant::now();
    p.baton(["destroy", "--auto-approve"]).ok();
    assert!(start.elapsed() >= Duration::from_secs(1));
}

#[test]
fn interrupted_time_sleep_stops_promptly() {
    let p = Project::new(&[(
        "main.tf",
        r#"resource "terraform_data" "marker" {
  input = "x"

  provisioner "local-exec" {
    command = "touch started"
  }
}

resource "time_sleep" "long" {
  depends_on      = [terraform_data.marker]
  create_duration = "1h"
}
"#,
    )]);
    let run = p
        .baton(["apply", "--auto-approve"])
        .timeout(Duration::from_secs(90))
        .spawn();
    wait_until("the marker to be created", Duration::from_secs(60), || {
        p.exists("started")
    });
    std::thread::sleep(Duration::from_millis(500));
    // Once: stop scheduling; twice: cancel running actions (the sleep).
    run.interrupt();
    std::thread::sleep(Duration::from_millis(300));
    run.interrupt();
    let out = run.wait();
    assert!(
        matches!(out.code, Some(c) if c != 0),
        "an interrupted sleep must fail the apply\n--- stdout ---\n{}\n--- stderr ---\n{}",
        out.stdout,
        out.stderr
    );
    // The sleep never completed: the next plan creates it again.
    let plan = p.baton(["plan"]).ok();
    plan.assert_stdout_contains("# time_sleep.long");
    plan.assert_not_contains("No changes.");
}
