//! Unit tests of `shell_script`: plan/apply/read/import round trips through real `/bin/sh`
//! commands in temporary directories, environment and stdin passing, drift, replacement
//! rules, failure classification and redaction.

use super::*;
use crate::testkit::{self, ctx_in, try_apply, try_plan};
use crate::ErrorKind;
use std::time::Duration;

const SECRET: &str = "s3cr3t-Value-42";

fn s(x: &str) -> Value {
    Value::string(x)
}

fn smap(pairs: &[(&str, &str)]) -> Value {
    Value::map(
        Type::String,
        pairs.iter().map(|(k, v)| (k.to_string(), s(v))).collect(),
    )
}

/// A resource configuration: every attribute null except the commands and `extra`.
fn config(cmds: &[(&str, &str)], extra: &[(&str, Value)]) -> Value {
    let rt = ShellScript::new();
    let block_schema = &rt.schema.blocks["lifecycle_commands"].schema;
    let cmds: Vec<(&str, Value)> = cmds.iter().map(|(k, v)| (*k, s(v))).collect();
    let block = testkit::config(block_schema, &cmds);
    let mut pairs = vec![(
        "lifecycle_commands",
        Value::list(block_schema.object_type(), vec![block]),
    )];
    pairs.extend(extra.iter().cloned());
    testkit::config(&rt.schema, &pairs)
}

/// Plans and applies a create.
fn create_obj(rt: &ShellScript, ctx: &ProviderCtx, config: &Value) -> Value {
    let p = try_plan(rt, None, config).expect("plan create");
    assert!(!p.planned.get_attr("output").expect("output").is_known());
    try_apply(rt, ctx, None, Some(&p.planned), config)
        .expect("apply create")
        .expect("an object")
}

fn out(v: &Value, k: &str) -> Option<String> {
    v.get_attr("output")
        .and_then(|o| o.get_attr(k))
        .and_then(|x| x.clone().unmark().0.as_str().map(str::to_string))
}

#[test]
fn create_records_the_json_object_from_stdout_and_gets_no_stdin() {
    let dir = tempfile::tempdir().expect("tempdir");
    let rt = ShellScript::new();
    let c = config(
        &[
            (
                "create",
                "cat > stdin.txt; echo starting; echo '{\"a\": \"1\", \"n\": 2}'",
            ),
            ("delete", "true"),
        ],
        &[],
    );
    let state = create_obj(&rt, &ctx_in(dir.path()), &c);
    assert_eq!(out(&state, "a").as_deref(), Some("1"));
    assert_eq!(out(&state, "n").as_deref(), Some("2"));
    let id = str_of(&state, "id").expect("id");
    assert_eq!(id.len(), 20);
    assert_eq!(str_of(&state, "working_directory").as_deref(), Some("."));
    assert_eq!(
        state.get_attr("dirty").and_then(Value::as_bool),
        Some(false)
    );
    assert_eq!(
        std::fs::read_to_string(dir.path().join("stdin.txt")).expect("stdin"),
        ""
    );
}

#[test]
fn create_without_json_runs_read_and_without_read_records_an_empty_output() {
    let dir = tempfile::tempdir().expect("tempdir");
    let rt = ShellScript::new();
    let c = config(
        &[
            ("create", "echo hello > f.txt"),
            ("read", "printf '{\"content\":\"%s\"}' \"$(cat f.txt)\""),
            ("delete", "rm f.txt"),
        ],
        &[],
    );
    let state = create_obj(&rt, &ctx_in(dir.path()), &c);
    assert_eq!(out(&state, "content").as_deref(), Some("hello"));

    let c = config(&[("create", "echo not json"), ("delete", "true")], &[]);
    let state = create_obj(&rt, &ctx_in(dir.path()), &c);
    assert_eq!(state.get_attr("output").and_then(Value::length), Some(0));
}

#[test]
fn environment_sensitive_environment_and_batons_own_reach_the_command() {
    let dir = tempfile::tempdir().expect("tempdir");
    let rt = ShellScript::new();
    let c = config(
        &[
            (
                "create",
                "printf '{\"foo\":\"%s\",\"both\":\"%s\",\"path_set\":\"%s\"}' \"$FOO\" \"$BOTH\" \"${PATH:+yes}\"",
            ),
            ("delete", "true"),
        ],
        &[
            ("environment", smap(&[("FOO", "bar"), ("BOTH", "plain")])),
            (
                "sensitive_environment",
                smap(&[("BOTH", "hidden")]).mark_sensitive(),
            ),
        ],
    );
    let state = create_obj(&rt, &ctx_in(dir.path()), &c);
    assert_eq!(out(&state, "foo").as_deref(), Some("bar"));
    // sensitive_environment wins over environment, as in the provider.
    assert_eq!(out(&state, "both").as_deref(), Some("hidden"));
    assert_eq!(out(&state, "path_set").as_deref(), Some("yes"));
    // An output value carrying a secret is marked sensitive.
    let both = state
        .get_attr("output")
        .and_then(|o| o.get_attr("both"))
        .expect("both");
    assert!(both.is_sensitive());
    let foo = state
        .get_attr("output")
        .and_then(|o| o.get_attr("foo"))
        .expect("foo");
    assert!(!foo.is_sensitive());
}

#[test]
fn read_update_and_delete_get_the_previous_output_on_stdin() {
    let dir = tempfile::tempdir().expect("tempdir");
    let rt = ShellScript::new();
    let cx = ctx_in(dir.path());
    let cmds = [
        ("create", "echo '{\"v\":\"1\"}'"),
        ("read", "cat > read-stdin.json; echo '{\"v\":\"1\"}'"),
        ("update", "cat > update-stdin.json; echo '{\"v\":\"2\"}'"),
        ("delete", "cat > delete-stdin.json"),
    ];
    let c1 = config(&cmds, &[("environment", smap(&[("X", "1")]))]);
    let state = create_obj(&rt, &cx, &c1);

    let refreshed = rt.read(&cx, &state).expect("read").expect("still there");
    assert!(
        refreshed.raw_equal(&state),
        "an unchanged read keeps the state"
    );
    let stdin: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(dir.path().join("read-stdin.json")).expect("read stdin"),
    )
    .expect("json");
    assert_eq!(stdin, serde_json::json!({"v": "1"}));

    let c2 = config(&cmds, &[("environment", smap(&[("X", "2")]))]);
    let p = try_plan(&rt, Some(&state), &c2).expect("plan");
    assert!(p.requires_replace.is_empty(), "update present: in place");
    assert!(!p.planned.get_attr("output").expect("output").is_known());
    let updated = try_apply(&rt, &cx, Some(&state), Some(&p.planned), &c2)
        .expect("update")
        .expect("object");
    assert_eq!(out(&updated, "v").as_deref(), Some("2"));
    assert_eq!(str_of(&updated, "id"), str_of(&state, "id"));
    assert_eq!(
        std::fs::read_to_string(dir.path().join("update-stdin.json"))
            .expect("update stdin")
            .trim(),
        "{\"v\":\"1\"}"
    );

    assert!(
        try_apply(&rt, &cx, Some(&updated), None, &Value::dynamic_null())
            .expect("delete")
            .is_none()
    );
    assert_eq!(
        std::fs::read_to_string(dir.path().join("delete-stdin.json"))
            .expect("delete stdin")
            .trim(),
        "{\"v\":\"2\"}"
    );
}

#[test]
fn a_second_plan_with_the_same_configuration_changes_nothing() {
    let dir = tempfile::tempdir().expect("tempdir");
    let rt = ShellScript::new();
    let c = config(
        &[("create", "echo '{\"a\":\"1\"}'"), ("delete", "true")],
        &[
            ("environment", smap(&[("A", "1")])),
            ("triggers", smap(&[("t", "1")])),
        ],
    );
    let state = create_obj(&rt, &ctx_in(dir.path()), &c);
    let p = try_plan(&rt, Some(&state), &c).expect("plan");
    assert!(p.requires_replace.is_empty());
    assert!(p.planned.raw_equal(&state));
}

#[test]
fn null_and_empty_collections_are_the_same() {
    let dir = tempfile::tempdir().expect("tempdir");
    let rt = ShellScript::new();
    let cmds = [("create", "echo '{}'"), ("delete", "true")];
    let state = create_obj(&rt, &ctx_in(dir.path()), &config(&cmds, &[]));
    let c = config(
        &cmds,
        &[
            ("environment", smap(&[])),
            ("triggers", smap(&[])),
            ("interpreter", Value::list(Type::String, Vec::new())),
        ],
    );
    let p = try_plan(&rt, Some(&state), &c).expect("plan");
    assert!(p.requires_replace.is_empty());
    assert!(p.planned.raw_equal(&state));
}

#[test]
fn changed_triggers_replace_the_object() {
    let dir = tempfile::tempdir().expect("tempdir");
    let rt = ShellScript::new();
    let cmds = [
        ("create", "echo '{}'"),
        ("update", "echo '{}'"),
        ("delete", "true"),
    ];
    let state = create_obj(
        &rt,
        &ctx_in(dir.path()),
        &config(&cmds, &[("triggers", smap(&[("k", "1")]))]),
    );
    let p = try_plan(
        &rt,
        Some(&state),
        &config(&cmds, &[("triggers", smap(&[("k", "2")]))]),
    )
    .expect("plan");
    assert_eq!(p.requires_replace, vec![key("triggers")]);
    let p = try_plan(
        &rt,
        Some(&state),
        &config(
            &cmds,
            &[(
                "triggers",
                Value::map(
                    Type::String,
                    [("k".to_string(), Value::unknown(Type::String))].into(),
                ),
            )],
        ),
    )
    .expect("plan");
    assert_eq!(
        p.requires_replace,
        vec![key("triggers")],
        "unknown triggers may change"
    );
}

#[test]
fn without_update_argument_changes_replace_the_object() {
    let dir = tempfile::tempdir().expect("tempdir");
    let rt = ShellScript::new();
    let cmds = [("create", "echo '{}'"), ("delete", "true")];
    let state = create_obj(
        &rt,
        &ctx_in(dir.path()),
        &config(&cmds, &[("environment", smap(&[("A", "1")]))]),
    );
    let c = config(
        &cmds,
        &[
            ("environment", smap(&[("A", "2")])),
            ("working_directory", s("sub")),
        ],
    );
    let p = try_plan(&rt, Some(&state), &c).expect("plan");
    assert_eq!(
        p.requires_replace,
        vec![key("environment"), key("working_directory")]
    );
}

#[test]
fn changed_commands_are_recorded_without_running_anything() {
    let dir = tempfile::tempdir().expect("tempdir");
    let rt = ShellScript::new();
    let cx = ctx_in(dir.path());
    let state = create_obj(
        &rt,
        &cx,
        &config(
            &[("create", "echo '{\"a\":\"1\"}'"), ("delete", "true")],
            &[],
        ),
    );
    let c = config(
        &[
            ("create", "touch created-again; echo '{\"a\":\"9\"}'"),
            ("delete", "true"),
        ],
        &[],
    );
    let p = try_plan(&rt, Some(&state), &c).expect("plan");
    assert!(p.requires_replace.is_empty());
    assert_eq!(
        out(&p.planned, "a").as_deref(),
        Some("1"),
        "output stays known"
    );
    let new = try_apply(&rt, &cx, Some(&state), Some(&p.planned), &c)
        .expect("apply")
        .expect("object");
    assert!(!dir.path().join("created-again").exists());
    assert_eq!(
        commands(&new).create.as_deref(),
        Some("touch created-again; echo '{\"a\":\"9\"}'")
    );

    // A new read command runs at apply and sets the output.
    let c2 = config(
        &[
            ("create", "touch created-again; echo '{\"a\":\"9\"}'"),
            ("read", "echo '{\"a\":\"from-read\"}'"),
            ("delete", "true"),
        ],
        &[],
    );
    let p = try_plan(&rt, Some(&new), &c2).expect("plan");
    assert!(!p.planned.get_attr("output").expect("output").is_known());
    let newer = try_apply(&rt, &cx, Some(&new), Some(&p.planned), &c2)
        .expect("apply")
        .expect("object");
    assert_eq!(out(&newer, "a").as_deref(), Some("from-read"));
}

#[test]
fn changing_commands_and_environment_together_is_an_error() {
    let dir = tempfile::tempdir().expect("tempdir");
    let rt = ShellScript::new();
    let state = create_obj(
        &rt,
        &ctx_in(dir.path()),
        &config(&[("create", "echo '{}'"), ("delete", "true")], &[]),
    );
    let c = config(
        &[("create", "echo '{ }'"), ("delete", "true")],
        &[("environment", smap(&[("A", "1")]))],
    );
    let Err(e) = try_plan(&rt, Some(&state), &c) else {
        panic!("expected an error");
    };
    assert!(e.detail.contains("should not be followed"), "{}", e.detail);
}

#[test]
fn drift_marks_the_object_dirty_and_the_next_plan_repairs_it() {
    let dir = tempfile::tempdir().expect("tempdir");
    let rt = ShellScript::new();
    let cx = ctx_in(dir.path());
    let with_update = [
        ("create", "echo v1 > f; echo '{\"v\":\"v1\"}'"),
        ("read", "printf '{\"v\":\"%s\"}' \"$(cat f)\""),
        ("update", "echo v1 > f; echo '{\"v\":\"v1\"}'"),
        ("delete", "rm -f f"),
    ];
    let c = config(&with_update, &[]);
    let state = create_obj(&rt, &cx, &c);
    std::fs::write(dir.path().join("f"), "edited\n").expect("edit");
    let refreshed = rt.read(&cx, &state).expect("read").expect("exists");
    assert_eq!(
        refreshed.get_attr("dirty").and_then(Value::as_bool),
        Some(true)
    );
    assert_eq!(
        out(&refreshed, "v").as_deref(),
        Some("v1"),
        "recorded output kept"
    );

    let p = try_plan(&rt, Some(&refreshed), &c).expect("plan");
    assert!(p.requires_replace.is_empty());
    assert!(!p.planned.get_attr("output").expect("output").is_known());
    let repaired = try_apply(&rt, &cx, Some(&refreshed), Some(&p.planned), &c)
        .expect("apply")
        .expect("object");
    assert_eq!(
        repaired.get_attr("dirty").and_then(Value::as_bool),
        Some(false)
    );
    assert_eq!(
        std::fs::read_to_string(dir.path().join("f")).expect("f"),
        "v1\n"
    );

    // Without an update command, drift replaces the object.
    let no_update = config(&[with_update[0], with_update[1], with_update[3]], &[]);
    let state = create_obj(&rt, &cx, &no_update);
    std::fs::write(dir.path().join("f"), "edited again\n").expect("edit");
    let refreshed = rt.read(&cx, &state).expect("read").expect("exists");
    let p = try_plan(&rt, Some(&refreshed), &no_update).expect("plan");
    assert_eq!(p.requires_replace, vec![key("dirty")]);
}

#[test]
fn read_without_json_means_the_object_is_gone() {
    let dir = tempfile::tempdir().expect("tempdir");
    let rt = ShellScript::new();
    let cx = ctx_in(dir.path());
    let c = config(
        &[
            (
                "create",
                "echo '{\"a\":\"1\"}' > state.json; cat state.json",
            ),
            ("read", "cat state.json 2>/dev/null || true"),
            ("delete", "rm -f state.json"),
        ],
        &[],
    );
    let state = create_obj(&rt, &cx, &c);
    assert!(rt.read(&cx, &state).expect("read").is_some());
    std::fs::remove_file(dir.path().join("state.json")).expect("remove");
    assert!(rt.read(&cx, &state).expect("read").is_none());
}

#[test]
fn a_resource_without_read_is_not_refreshed() {
    let dir = tempfile::tempdir().expect("tempdir");
    let rt = ShellScript::new();
    let cx = ctx_in(dir.path());
    let state = create_obj(
        &rt,
        &cx,
        &config(
            &[("create", "echo '{\"a\":\"1\"}'"), ("delete", "true")],
            &[],
        ),
    );
    assert!(rt
        .read(&cx, &state)
        .expect("read")
        .expect("kept")
        .raw_equal(&state));
}

#[test]
fn a_failing_command_reports_its_exit_code_and_output_without_secrets() {
    let dir = tempfile::tempdir().expect("tempdir");
    let rt = ShellScript::new();
    let c = config(
        &[
            (
                "create",
                "echo \"stdout has $TOKEN\"; echo \"cannot use token=$TOKEN ($PLAIN)\" >&2; exit 3",
            ),
            ("delete", "true"),
        ],
        &[
            ("environment", smap(&[("PLAIN", "visible")])),
            ("sensitive_environment", smap(&[("TOKEN", SECRET)])),
        ],
    );
    let p = try_plan(&rt, None, &c).expect("plan");
    let e = try_apply(&rt, &ctx_in(dir.path()), None, Some(&p.planned), &c).expect_err("fails");
    assert_eq!(e.kind, ErrorKind::Permanent);
    assert_eq!(e.summary, SUMMARY);
    let text = e.to_string();
    assert!(
        text.contains("create command failed with exit code 3"),
        "{text}"
    );
    assert!(text.contains("cannot use token=****** (visible)"), "{text}");
    assert!(text.contains("stdout has ******"), "{text}");
    assert!(!text.contains(SECRET), "{text}");
}

#[test]
fn sensitive_marked_environment_values_are_redacted_too() {
    let dir = tempfile::tempdir().expect("tempdir");
    let rt = ShellScript::new();
    let env = Value::map(
        Type::String,
        [("PW".to_string(), s(SECRET).mark_sensitive())].into(),
    );
    let c = config(
        &[
            ("create", "echo \"bad $PW\" >&2; exit 1"),
            ("delete", "true"),
        ],
        &[("environment", env)],
    );
    let p = try_plan(&rt, None, &c).expect("plan");
    let e = try_apply(&rt, &ctx_in(dir.path()), None, Some(&p.planned), &c).expect_err("fails");
    assert!(!e.to_string().contains(SECRET));
    assert!(e.detail.contains("bad ******"), "{}", e.detail);
}

#[test]
fn transient_looking_failures_are_retryable() {
    let dir = tempfile::tempdir().expect("tempdir");
    let rt = ShellScript::new();
    let cx = ctx_in(dir.path());
    let c = config(
        &[
            ("create", "echo '{}'"),
            (
                "read",
                "echo 'curl: (7) Failed to connect: Connection refused' >&2; exit 7",
            ),
            ("delete", "true"),
        ],
        &[],
    );
    let state = create_obj(
        &rt,
        &cx,
        &config(&[("create", "echo '{}'"), ("delete", "true")], &[]),
    );
    // Refresh with a read command that fails transiently.
    let mut m = attrs(&state);
    m.insert(
        "lifecycle_commands".into(),
        c.get_attr("lifecycle_commands").cloned().expect("lc"),
    );
    let e = rt.read(&cx, &Value::object(m)).expect_err("refresh error");
    assert_eq!(e.kind, ErrorKind::Retryable);
    assert!(
        e.detail.contains("read command failed with exit code 7"),
        "{}",
        e.detail
    );
}

#[test]
fn a_timeout_kills_the_command_and_is_retryable() {
    let dir = tempfile::tempdir().expect("tempdir");
    let rt = ShellScript::new();
    let mut cx = ctx_in(dir.path());
    cx.timeout = Some(Duration::from_millis(300));
    let c = config(&[("create", "sleep 30"), ("delete", "true")], &[]);
    let p = try_plan(&rt, None, &c).expect("plan");
    let e = try_apply(&rt, &cx, None, Some(&p.planned), &c).expect_err("times out");
    assert_eq!(e.kind, ErrorKind::Retryable);
    assert!(e.detail.contains("timed out after 300ms"), "{}", e.detail);
}

#[test]
fn interpreter_and_working_directory_are_used() {
    let dir = tempfile::tempdir().expect("tempdir");
    std::fs::create_dir(dir.path().join("sub")).expect("mkdir");
    let rt = ShellScript::new();
    let cx = ctx_in(dir.path());
    let c = config(
        &[
            ("create", "printf '{\"dir\":\"%s\"}' \"$(pwd)\""),
            ("delete", "true"),
        ],
        &[("working_directory", s("sub"))],
    );
    let state = create_obj(&rt, &cx, &c);
    assert!(out(&state, "dir").expect("dir").ends_with("/sub"));

    // `-e` makes the first failing command end the script.
    let c = config(
        &[("create", "false; echo '{}'"), ("delete", "true")],
        &[(
            "interpreter",
            Value::list(Type::String, vec![s("/bin/sh"), s("-e"), s("-c")]),
        )],
    );
    let p = try_plan(&rt, None, &c).expect("plan");
    assert!(try_apply(&rt, &cx, None, Some(&p.planned), &c).is_err());

    let c = config(
        &[("create", "echo '{}'"), ("delete", "true")],
        &[("working_directory", s("missing"))],
    );
    let p = try_plan(&rt, None, &c).expect("plan");
    let e = try_apply(&rt, &cx, None, Some(&p.planned), &c).expect_err("no dir");
    assert!(e.detail.contains("does not exist"), "{}", e.detail);
}

#[test]
fn update_printing_nothing_keeps_the_previous_output() {
    let dir = tempfile::tempdir().expect("tempdir");
    let rt = ShellScript::new();
    let cx = ctx_in(dir.path());
    let cmds = [
        ("create", "echo '{\"a\":\"1\"}'"),
        ("update", "echo updated > updated.txt"),
        ("delete", "true"),
    ];
    let state = create_obj(
        &rt,
        &cx,
        &config(&cmds, &[("environment", smap(&[("A", "1")]))]),
    );
    let c = config(&cmds, &[("environment", smap(&[("A", "2")]))]);
    let p = try_plan(&rt, Some(&state), &c).expect("plan");
    let new = try_apply(&rt, &cx, Some(&state), Some(&p.planned), &c)
        .expect("apply")
        .expect("object");
    assert!(dir.path().join("updated.txt").exists());
    assert_eq!(out(&new, "a").as_deref(), Some("1"));
}

#[test]
fn validation_rejects_read_error_and_bad_variable_names() {
    let rt = ShellScript::new();
    let c = config(
        &[("create", "true"), ("delete", "true")],
        &[
            ("read_error", s("x")),
            ("environment", smap(&[("A=B", "1"), ("OK", "fine")])),
            ("sensitive_environment", smap(&[("", "v")])),
        ],
    );
    let diags = rt.validate(&c);
    let attrs: Vec<_> = diags.iter().filter_map(|d| d.attr.clone()).collect();
    assert_eq!(
        attrs,
        vec!["environment", "sensitive_environment", "read_error"],
        "{diags:?}"
    );
    assert!(diags.iter().all(|d| d.error));
    assert!(rt
        .validate(&config(&[("create", "true"), ("delete", "true")], &[]))
        .is_empty());
}

#[test]
fn read_error_from_an_imported_state_forces_replacement_and_skips_delete() {
    let dir = tempfile::tempdir().expect("tempdir");
    let rt = ShellScript::new();
    let cx = ctx_in(dir.path());
    let c = config(&[("create", "echo '{}'"), ("delete", "touch deleted")], &[]);
    let state = create_obj(&rt, &cx, &c);
    let mut m = attrs(&state);
    m.insert("read_error".into(), s("the read command failed"));
    let broken = Value::object(m);
    let p = try_plan(&rt, Some(&broken), &c).expect("plan");
    assert_eq!(p.requires_replace, vec![key("read_error")]);
    assert!(
        try_apply(&rt, &cx, Some(&broken), None, &Value::dynamic_null())
            .expect("delete")
            .is_none()
    );
    assert!(!dir.path().join("deleted").exists());
}

#[test]
fn import_then_plan_adopts_the_object_by_reading_it() {
    let dir = tempfile::tempdir().expect("tempdir");
    let rt = ShellScript::new();
    let cx = ctx_in(dir.path());
    let imported = rt.import(&cx, "abc").expect("import");
    assert_eq!(str_of(&imported, "id").as_deref(), Some("abc"));
    let c = config(
        &[
            ("create", "touch created"),
            ("read", "echo '{\"found\":\"yes\"}'"),
            ("delete", "true"),
        ],
        &[("environment", smap(&[("A", "1")]))],
    );
    let p = try_plan(&rt, Some(&imported), &c).expect("plan");
    assert!(p.requires_replace.is_empty());
    let adopted = try_apply(&rt, &cx, Some(&imported), Some(&p.planned), &c)
        .expect("apply")
        .expect("object");
    assert_eq!(out(&adopted, "found").as_deref(), Some("yes"));
    assert_eq!(str_of(&adopted, "id").as_deref(), Some("abc"));
    assert!(!dir.path().join("created").exists());
}

#[test]
fn data_source_reads_with_an_empty_object_on_stdin() {
    let dir = tempfile::tempdir().expect("tempdir");
    let ds = ShellScriptData::new();
    let cx = ctx_in(dir.path());
    let block_ty = ds.schema.blocks["lifecycle_commands"].schema.object_type();
    let mk = |cmd: &str| {
        let mut m = BTreeMap::new();
        for (name, a) in &ds.schema.attrs {
            m.insert(name.clone(), Value::null(a.ty.clone()));
        }
        m.insert(
            "lifecycle_commands".into(),
            Value::list(
                block_ty.clone(),
                vec![Value::object([("read".to_string(), s(cmd))].into())],
            ),
        );
        m.insert("environment".into(), smap(&[("WHO", "me")]));
        Value::object(m)
    };
    let v = ds
        .read(
            &cx,
            &mk("printf '{\"stdin\":%s,\"who\":\"%s\"}' \"$(cat)\" \"$WHO\""),
        )
        .expect("read");
    assert_eq!(out(&v, "stdin").as_deref(), Some("{}"));
    assert_eq!(out(&v, "who").as_deref(), Some("me"));
    assert_eq!(str_of(&v, "working_directory").as_deref(), Some("."));
    assert_eq!(str_of(&v, "id").map(|i| i.len()), Some(20));

    let v = ds.read(&cx, &mk("echo nothing")).expect("read");
    assert_eq!(v.get_attr("output").and_then(Value::length), Some(0));

    let e = ds
        .read(&cx, &mk("echo oops >&2; exit 2"))
        .expect_err("fails");
    assert!(
        e.detail.contains("read command failed with exit code 2"),
        "{}",
        e.detail
    );
    assert!(e.detail.contains("oops"), "{}", e.detail);
}

#[test]
fn schemas_match_the_provider() {
    let rt = ShellScript::new();
    let a = &rt.schema.attrs;
    assert!(a["triggers"].force_new && a["triggers"].optional);
    assert!(a["sensitive_environment"].sensitive);
    assert!(!a["environment"].force_new);
    assert!(a["output"].computed && !a["output"].optional);
    assert_eq!(
        a["working_directory"]
            .default
            .as_ref()
            .and_then(|v| v.as_str().map(str::to_string))
            .as_deref(),
        Some(".")
    );
    assert!(
        a["interpreter"].default.is_none(),
        "the default interpreter is applied at run time"
    );
    let b = &rt.schema.blocks["lifecycle_commands"];
    assert_eq!((b.min_items, b.max_items), (1, 1));
    assert!(b.schema.attrs["create"].required && b.schema.attrs["delete"].required);
    assert!(b.schema.attrs["read"].optional && b.schema.attrs["update"].optional);
    let d = ShellScriptData::new();
    let db = &d.schema.blocks["lifecycle_commands"];
    assert_eq!(db.schema.attrs.keys().collect::<Vec<_>>(), vec!["read"]);
    assert!(!d.schema.attrs.contains_key("triggers"));
    let reg = crate::registry();
    assert!(reg.resource_type("shell_script").is_some());
    assert!(reg.data_source("shell_script").is_some());
    assert_eq!(reg.provider_for_prefix("shell_script"), Some(PROVIDER));
}
