//! The conformance table of the built-in providers: one minimal valid configuration per
//! registered resource and data source type, each run through [`crate::testkit::conformance`].
//! A new built-in type adds a row here (the first test fails until it does).

use crate::registry;
use crate::testkit::conformance::{check, check_data, id_attr, AfterDelete, Case, DataCase};
use crate::testkit::{config, str_of};
use baton_eval::{Type, Value};
use std::collections::BTreeMap;
use std::path::Path;

fn s(x: &str) -> Value {
    Value::string(x)
}

fn smap(pairs: &[(&str, &str)]) -> Value {
    Value::map(
        Type::String,
        pairs.iter().map(|(k, v)| (k.to_string(), s(v))).collect(),
    )
}

fn strings(xs: &[&str]) -> Value {
    Value::list(Type::String, xs.iter().map(|x| s(x)).collect())
}

/// A `lifecycle_commands` block of `shell_script` with the given commands.
fn commands(type_name: &str, data: bool, cmds: &[(&str, &str)]) -> Value {
    let r = registry();
    let schema = if data {
        r.data_source(type_name).map(|(_, d)| d.schema())
    } else {
        r.resource_type(type_name).map(|(_, t)| t.schema())
    }
    .expect("registered");
    let block = &schema.blocks["lifecycle_commands"].schema;
    let pairs: Vec<(&str, Value)> = cmds.iter().map(|(k, v)| (*k, s(v))).collect();
    Value::list(block.object_type(), vec![config(block, &pairs)])
}

fn keepers(k: &str) -> Value {
    smap(&[("k", k)])
}

fn resource_cases() -> Vec<Case> {
    let shell = |env: &str| {
        vec![
            (
                "lifecycle_commands",
                commands(
                    "shell_script",
                    false,
                    &[("create", "echo '{\"made\":\"yes\"}'"), ("delete", "true")],
                ),
            ),
            ("environment", smap(&[("E", env)])),
        ]
    };
    vec![
        Case {
            change: Some(vec![("input", s("b"))]),
            import_id: Some(id_attr),
            ..Case::new("terraform_data", vec![("input", s("a"))])
        },
        Case {
            change: Some(vec![("triggers", smap(&[("t", "2")]))]),
            import_id: Some(id_attr),
            ..Case::new("null_resource", vec![("triggers", smap(&[("t", "1")]))])
        },
        Case {
            change: Some(vec![("filename", s("f.txt")), ("content", s("two"))]),
            invalid: Some(vec![("filename", s("f.txt"))]),
            after_delete: AfterDelete::Gone,
            ..Case::new(
                "local_file",
                vec![("filename", s("f.txt")), ("content", s("one"))],
            )
        },
        Case {
            change: Some(vec![("filename", s("f.txt")), ("content", s("two"))]),
            invalid: Some(vec![("filename", s("f.txt"))]),
            secret: &["content"],
            after_delete: AfterDelete::Gone,
            ..Case::new(
                "local_sensitive_file",
                vec![("filename", s("f.txt")), ("content", s("one"))],
            )
        },
        Case {
            change: Some(vec![("byte_length", Value::int(8))]),
            invalid: Some(vec![("byte_length", Value::int(-1))]),
            import_id: Some(id_attr),
            ..Case::new("random_id", vec![("byte_length", Value::int(4))])
        },
        Case {
            change: Some(vec![
                ("min", Value::int(1)),
                ("max", Value::int(9)),
                ("keepers", keepers("b")),
            ]),
            invalid: Some(vec![("min", Value::int(5)), ("max", Value::int(1))]),
            import_id: Some(|v| {
                format!(
                    "{},{},{}",
                    str_of(v, "id"),
                    crate::builtin::random::int_attr(v, "min").expect("min"),
                    crate::builtin::random::int_attr(v, "max").expect("max")
                )
            }),
            ..Case::new(
                "random_integer",
                vec![("min", Value::int(1)), ("max", Value::int(9))],
            )
        },
        Case {
            change: Some(vec![("length", Value::int(12))]),
            invalid: Some(vec![("length", Value::int(0))]),
            import_id: Some(|v| str_of(v, "result")),
            ..Case::new("random_string", vec![("length", Value::int(8))])
        },
        Case {
            change: Some(vec![("length", Value::int(12))]),
            invalid: Some(vec![("length", Value::int(0))]),
            import_id: Some(|v| str_of(v, "result")),
            secret: &["result", "bcrypt_hash"],
            ..Case::new("random_password", vec![("length", Value::int(8))])
        },
        Case {
            change: Some(vec![("keepers", keepers("b"))]),
            ..Case::new("random_pet", vec![])
        },
        Case {
            change: Some(vec![
                ("input", strings(&["a", "b"])),
                ("keepers", keepers("b")),
            ]),
            ..Case::new("random_shuffle", vec![("input", strings(&["a", "b", "c"]))])
        },
        Case {
            change: Some(vec![("keepers", keepers("b"))]),
            import_id: Some(id_attr),
            ..Case::new("random_uuid", vec![("keepers", keepers("a"))])
        },
        Case {
            change: Some(vec![("triggers", smap(&[("t", "2")]))]),
            invalid: Some(vec![("rfc3339", s("not a time"))]),
            import_id: Some(id_attr),
            ..Case::new("time_static", vec![])
        },
        Case {
            change: Some(vec![
                ("base_rfc3339", s("2024-01-01T00:00:00Z")),
                ("offset_days", Value::int(2)),
            ]),
            invalid: Some(vec![
                ("base_rfc3339", s("not a time")),
                ("offset_days", Value::int(1)),
            ]),
            import_id: Some(|v| format!("{},,,1,,,", str_of(v, "base_rfc3339"))),
            ..Case::new(
                "time_offset",
                vec![
                    ("base_rfc3339", s("2024-01-01T00:00:00Z")),
                    ("offset_days", Value::int(1)),
                ],
            )
        },
        Case {
            change: Some(vec![("rotation_days", Value::int(2))]),
            invalid: Some(vec![
                ("rfc3339", s("not a time")),
                ("rotation_days", Value::int(1)),
            ]),
            import_id: Some(|v| {
                format!("{},{}", str_of(v, "rfc3339"), str_of(v, "rotation_rfc3339"))
            }),
            ..Case::new("time_rotating", vec![("rotation_days", Value::int(1))])
        },
        Case {
            change: Some(vec![("create_duration", s("2ms"))]),
            invalid: Some(vec![("create_duration", s("soon"))]),
            import_id: Some(|_| "1ms,".to_string()),
            ..Case::new("time_sleep", vec![("create_duration", s("1ms"))])
        },
        Case {
            change: Some(shell("2")),
            invalid: Some(vec![]),
            import_id: Some(id_attr),
            secret: &["sensitive_environment"],
            ..Case::new("shell_script", shell("1"))
        },
    ]
}

fn write_file(dir: &Path) {
    std::fs::write(dir.join("in.txt"), "hello").expect("write in.txt");
}

fn data_cases() -> Vec<DataCase> {
    let case = |type_name, config| DataCase {
        type_name,
        config,
        secret: &[],
        setup: None,
    };
    vec![
        case("null_data_source", vec![("inputs", smap(&[("a", "b")]))]),
        DataCase {
            setup: Some(write_file),
            ..case("local_file", vec![("filename", s("in.txt"))])
        },
        DataCase {
            setup: Some(write_file),
            secret: &["content"],
            ..case("local_sensitive_file", vec![("filename", s("in.txt"))])
        },
        case(
            "shell_script",
            vec![(
                "lifecycle_commands",
                commands("shell_script", true, &[("read", "echo '{\"a\":\"b\"}'")]),
            )],
        ),
        case(
            "external",
            vec![(
                "program",
                strings(&["/bin/sh", "-c", "cat >/dev/null; echo '{\"a\":\"b\"}'"]),
            )],
        ),
    ]
}

#[test]
fn every_registered_type_has_a_row() {
    let r = registry();
    let mut rows: Vec<&str> = resource_cases().iter().map(|c| c.type_name).collect();
    rows.sort_unstable();
    assert_eq!(rows, r.resource_names(), "resource types and their rows");
    let mut rows: Vec<&str> = data_cases().iter().map(|c| c.type_name).collect();
    rows.sort_unstable();
    assert_eq!(
        rows,
        r.data_source_names(),
        "data source types and their rows"
    );
}

#[test]
fn every_resource_type_keeps_the_contract() {
    for case in resource_cases() {
        let (_, rt) = registry()
            .resource_type(case.type_name)
            .unwrap_or_else(|| panic!("{} is not registered", case.type_name));
        check(rt, &case);
    }
}

#[test]
fn every_data_source_type_keeps_the_contract() {
    for case in data_cases() {
        let (_, ds) = registry()
            .data_source(case.type_name)
            .unwrap_or_else(|| panic!("{} is not registered", case.type_name));
        check_data(ds, &case);
    }
}

#[test]
fn config_leaves_unset_arguments_null() {
    let (_, rt) = registry().resource_type("random_pet").expect("random_pet");
    let v = config(rt.schema(), &[("length", Value::int(3))]);
    let m: BTreeMap<String, Value> = crate::builtin::attrs(&v);
    assert_eq!(m.len(), rt.schema().attrs.len());
    assert!(m["prefix"].is_null());
    assert!(m["length"].raw_equal(&Value::int(3)));
}
