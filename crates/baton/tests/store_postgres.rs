//! End-to-end tests of keeping state in PostgreSQL (issue 12), through the `baton` binary:
//! apply, plan and destroy against a store chosen by `--store URL`, `BATON_STORE`, a
//! `backend "pg"` block and `PG_CONN_STR`; environments and stacks sharing a database stay
//! apart; a connection string's password never reaches output, plan JSON or the audit log;
//! and state moves SQLite → PostgreSQL → SQLite unchanged.
//!
//! The server is `baton_backend::testing::TestServer::shared()` (a throwaway cluster, or
//! `BATON_TEST_PG`); every test works in schemas of its own (`fresh_schema`) and never
//! touches others.

mod common;

use baton_backend::testing::TestServer;
use common::Project;

const CONFIG: &str = r#"
variable "v" {
  type    = string
  default = "one"
}

resource "terraform_data" "a" {
  input = var.v
}

output "a" {
  value = terraform_data.a.output
}
"#;

/// A password the test server ignores (it trusts local connections), which must never be
/// printed or recorded.
const PASSWORD: &str = "pw-hunter2-XYZ";

fn server() -> &'static TestServer {
    TestServer::shared().unwrap_or_else(|e| panic!("no PostgreSQL server for the tests: {e}"))
}

/// The server's URL with `schema_name` set to a fresh schema named after `what`.
fn fresh_url(what: &str) -> (String, String) {
    let s = server();
    let schema = s.fresh_schema(what);
    (format!("{}?schema_name={schema}", s.url()), schema)
}

/// `url` with a password in it.
fn with_password(url: &str) -> String {
    match url.split_once("://") {
        Some((scheme, rest)) => match rest.split_once('@') {
            Some((user, host)) => format!("{scheme}://{user}:{PASSWORD}@{host}"),
            None => format!("{scheme}://baton:{PASSWORD}@{rest}"),
        },
        None => url.to_string(),
    }
}

fn state_list(p: &Project, extra: &[&str], env: &[(&str, &str)]) -> Vec<String> {
    let mut args = extra.to_vec();
    args.extend(["state", "list"]);
    let mut cmd = p.baton(args);
    for (k, v) in env {
        cmd = cmd.env(k, v);
    }
    cmd.ok().lines()
}

/// apply → plan (no changes) → destroy, against the store the extra arguments and environment
/// choose; nothing is written under `.baton`.
fn cycle(p: &Project, extra: &[&str], env: &[(&str, &str)]) {
    let run = |args: &[&str]| {
        let mut all = extra.to_vec();
        all.extend(args);
        let mut cmd = p.baton(all);
        for (k, v) in env {
            cmd = cmd.env(k, v);
        }
        cmd.ok()
    };
    run(&["apply", "--auto-approve"]).assert_stdout_contains("1 added");
    assert_eq!(state_list(p, extra, env), ["terraform_data.a"]);
    run(&["plan"]).assert_stdout_contains("No changes.");
    run(&["output", "a"]).assert_stdout_contains("one");
    run(&["destroy", "--auto-approve"]).assert_stdout_contains("1 destroyed");
    assert!(state_list(p, extra, env).is_empty());
    assert!(
        !p.exists(".baton/state.db"),
        "an SQLite store was written beside the PostgreSQL one"
    );
}

#[test]
fn store_flag_with_a_postgres_url() {
    let (url, _) = fresh_url("flag");
    let p = Project::new(&[("main.tf", CONFIG)]);
    cycle(&p, &["--store", &url], &[]);
}

#[test]
fn baton_store_with_a_postgres_url() {
    let (url, _) = fresh_url("env");
    let p = Project::new(&[("main.tf", CONFIG)]);
    cycle(&p, &[], &[("BATON_STORE", &url)]);
}

#[test]
fn backend_block_and_pg_conn_str() {
    let s = server();
    let schema = s.fresh_schema("backend");
    let p = Project::new(&[(
        "main.tf",
        &format!(
            "terraform {{\n  backend \"pg\" {{\n    conn_str    = \"{}\"\n    schema_name = \"{schema}\"\n  }}\n}}\n{CONFIG}",
            s.url()
        ),
    )]);
    cycle(&p, &[], &[]);
    // The block without conn_str reads PG_CONN_STR (and PG_SCHEMA_NAME), as Terraform does.
    let schema = s.fresh_schema("pgenv");
    let q = Project::new(&[(
        "main.tf",
        &format!("terraform {{\n  backend \"pg\" {{}}\n}}\n{CONFIG}"),
    )]);
    cycle(
        &q,
        &[],
        &[("PG_CONN_STR", s.url()), ("PG_SCHEMA_NAME", &schema)],
    );
    // --store wins over the block.
    let (url, _) = fresh_url("over");
    q.baton(["--store", &url, "apply", "--auto-approve"])
        .env("PG_CONN_STR", s.url())
        .env("PG_SCHEMA_NAME", &schema)
        .ok();
    assert!(state_list(
        &q,
        &[],
        &[("PG_CONN_STR", s.url()), ("PG_SCHEMA_NAME", &schema)]
    )
    .is_empty());
    assert_eq!(
        state_list(&q, &["--store", &url], &[]),
        ["terraform_data.a"]
    );
}

#[test]
fn environments_and_stacks_sharing_a_database_stay_apart() {
    let s = server();
    let (url, _) = fresh_url("envs");
    let p = Project::new(&[("main.tf", CONFIG)]);
    p.baton(["--store", &url, "apply", "--auto-approve"]).ok();
    // Another environment of the same store starts empty.
    assert!(state_list(&p, &["--store", &url, "--env", "staging"], &[]).is_empty());
    p.baton([
        "--store",
        &url,
        "--env",
        "staging",
        "apply",
        "--auto-approve",
        "--var",
        "v=two",
    ])
    .ok();
    p.baton(["--store", &url, "--env", "staging", "output", "a"])
        .ok()
        .assert_stdout_contains("two");
    p.baton(["--store", &url, "output", "a"])
        .ok()
        .assert_stdout_contains("one");
    // Destroying one environment leaves the other.
    p.baton([
        "--store",
        &url,
        "--env",
        "staging",
        "destroy",
        "--auto-approve",
    ])
    .ok();
    assert_eq!(
        state_list(&p, &["--store", &url], &[]),
        ["terraform_data.a"]
    );

    // Two stacks in one database, each with its schema.
    let mk = |name: &str| {
        let schema = s.fresh_schema(name);
        Project::new(&[(
            "main.tf",
            &format!(
                "terraform {{\n  backend \"pg\" {{\n    conn_str    = \"{}\"\n    schema_name = \"{schema}\"\n  }}\n}}\nresource \"terraform_data\" \"{name}\" {{}}\n",
                s.url()
            ),
        )])
    };
    let (a, b) = (mk("net"), mk("app"));
    a.baton(["apply", "--auto-approve"]).ok();
    b.baton(["apply", "--auto-approve"]).ok();
    assert_eq!(state_list(&a, &[], &[]), ["terraform_data.net"]);
    assert_eq!(state_list(&b, &[], &[]), ["terraform_data.app"]);
    let runs = |p: &Project| p.baton(["runs", "--json"]).ok().json();
    assert_eq!(runs(&a).as_array().map(Vec::len), Some(1));
    assert_eq!(runs(&b).as_array().map(Vec::len), Some(1));
}

#[test]
fn a_password_in_the_url_is_never_shown_or_recorded() {
    let (url, _) = fresh_url("secret");
    let url = with_password(&url);
    assert!(url.contains(PASSWORD));
    let p = Project::new(&[("main.tf", CONFIG)]);
    let mut seen = Vec::new();
    let mut run = |args: &[&str], env: &[(&str, &str)]| {
        let mut cmd = p.baton(args);
        for (k, v) in env {
            cmd = cmd.env(k, v);
        }
        let o = cmd.run();
        seen.push(format!("{}\n{}\n{}", o.display, o.stdout, o.stderr));
        o
    };
    run(&["--store", &url, "apply", "--auto-approve"], &[]).assert_success();
    run(&["--store", &url, "plan", "--json"], &[]).assert_success();
    run(&["--store", &url, "plan", "--out", "saved.plan"], &[]).assert_success();
    run(&["--store", &url, "show", "--json", "saved.plan"], &[]).assert_success();
    run(&["state", "list"], &[("BATON_STORE", &url)]).assert_success();
    run(&["--store", &url, "audit", "list", "--json"], &[]).assert_success();
    run(&["--store", &url, "audit", "export"], &[]).assert_success();
    run(&["--store", &url, "runs", "--json"], &[]).assert_success();
    run(&["--store", &url, "state", "history", "--json"], &[]).assert_success();
    // Errors name the store without its password: a bad schema, and a server that is not
    // there (after its retries).
    let bad = url.replace("schema_name=", "schema_name=no-such;schema");
    run(&["--store", &bad, "state", "list"], &[]).assert_failure();
    let gone = with_password("postgresql://baton@127.0.0.1:1/postgres");
    run(&["--store", &gone, "state", "list"], &[]).assert_failure();
    let saved = std::fs::read(p.join("saved.plan")).expect("saved plan");
    assert!(
        !String::from_utf8_lossy(&saved).contains(PASSWORD),
        "the saved plan holds the password"
    );
    for s in &seen {
        let shown = s.split_once('\n').map_or("", |(_, rest)| rest);
        assert!(!shown.contains(PASSWORD), "the password was shown:\n{s}");
    }
    // The audit log records the command lines, with the password left out.
    let audit = p
        .baton(["--store", &url, "audit", "list", "--json"])
        .ok()
        .json();
    let text = audit.to_string();
    assert!(text.contains("--store"), "{text}");
    assert!(!text.contains(PASSWORD), "{text}");
}

#[test]
fn migrate_sqlite_to_postgres_and_back() {
    let (url, _) = fresh_url("migrate");
    let p = Project::new(&[("main.tf", CONFIG)]);
    p.baton(["apply", "--auto-approve", "--var", "v=kept"]).ok();
    p.baton(["state", "migrate", "--to", &url])
        .ok()
        .assert_stdout_contains("Copied 1 object(s) and 1 output(s)");
    // A second copy into the same, now non-empty, schema is refused.
    p.baton(["state", "migrate", "--to", &url])
        .fails()
        .assert_stderr_contains("already holds state");
    p.baton(["--store", &url, "plan", "--var", "v=kept"])
        .ok()
        .assert_stdout_contains("No changes.");
    p.baton(["--store", &url, "output", "a"])
        .ok()
        .assert_stdout_contains("kept");
    // And back into a new SQLite file, through --from.
    p.baton(["--store", "back.db", "state", "migrate", "--from", &url])
        .ok()
        .assert_stdout_contains("Imported 1 object(s) and 1 output(s)");
    p.baton(["--store", "back.db", "plan", "--var", "v=kept"])
        .ok()
        .assert_stdout_contains("No changes.");
    let show = |store: &str| {
        p.baton(["--store", store, "state", "show", "terraform_data.a"])
            .ok()
            .stdout
    };
    assert_eq!(show(".baton/state.db"), show("back.db"));
    assert_eq!(show(".baton/state.db"), show(&url));
    // Each store's audit log has the migration.
    for store in [".baton/state.db", url.as_str(), "back.db"] {
        let audit = p.baton(["--store", store, "audit", "list", "--json"]).ok();
        assert!(
            audit.stdout.contains("state migrate"),
            "{store}: {}",
            audit.stdout
        );
    }
}

#[test]
fn workflow_runs_and_their_stacks_use_the_stores_chosen_for_them() {
    let s = server();
    let (url, _) = fresh_url("wf");
    let net_schema = s.fresh_schema("wfnet");
    let p = Project::new(&[
        (
            "stacks/net/main.tf",
            &format!(
                "terraform {{\n  backend \"pg\" {{\n    conn_str    = \"{}\"\n    schema_name = \"{net_schema}\"\n  }}\n}}\nresource \"terraform_data\" \"net\" {{\n  input = \"n1\"\n}}\noutput \"id\" {{\n  value = terraform_data.net.output\n}}\n",
                s.url()
            ),
        ),
        (
            "stacks/app/main.tf",
            "variable \"id\" {\n  type = string\n}\nresource \"terraform_data\" \"app\" {\n  input = var.id\n}\n",
        ),
        (
            "deploy.baton.hcl",
            "workflow \"deploy\" {\n  step \"net\" {\n    apply = \"stacks/net\"\n  }\n  step \"app\" {\n    apply = \"stacks/app\"\n    vars  = { id = step.net.outputs.id }\n  }\n}\n",
        ),
    ]);
    let store = [("BATON_STORE", url.as_str())];
    let run = |args: &[&str]| {
        let mut cmd = p.baton(args);
        for (k, v) in store {
            cmd = cmd.env(k, v);
        }
        cmd.ok()
    };
    run(&["workflow", "plan", "deploy"]);
    run(&["workflow", "run", "deploy"]).assert_stdout_contains("succeeded");
    // The workflow run is in the BATON_STORE schema, not in an SQLite file.
    assert!(!p.exists(".baton/workflows.db"));
    let runs = run(&["runs", "--json"]).json();
    let id = runs
        .as_array()
        .and_then(|a| a.iter().find(|r| r["kind"] == "workflow"))
        .and_then(|r| r["id"].as_str())
        .map(str::to_string)
        .expect("a workflow run in the PostgreSQL store");
    // Each stack's state is where its own configuration puts it.
    assert!(!p.exists("stacks/net/.baton/state.db"));
    assert_eq!(
        state_list(&p, &["--chdir", "stacks/net"], &[]),
        ["terraform_data.net"]
    );
    assert_eq!(
        state_list(&p, &["--chdir", "stacks/app"], &[]),
        ["terraform_data.app"]
    );
    // Rolling the run back finds the stacks' stores again. (The command reports a rolled
    // back run with exit code 1, whatever asked for it.)
    let mut undo = p.baton(["rollback", &id]);
    for (k, v) in store {
        undo = undo.env(k, v);
    }
    undo.run()
        .assert_stdout_contains("step.rollback:net: succeeded")
        .assert_stdout_contains("step.rollback:app: succeeded");
    assert!(state_list(&p, &["--chdir", "stacks/net"], &[]).is_empty());
    assert!(state_list(&p, &["--chdir", "stacks/app"], &[]).is_empty());
}
