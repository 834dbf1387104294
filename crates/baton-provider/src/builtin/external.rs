//! The `external` provider: the `external` data source with hashicorp/external v2.3's schema
//! (run a program, the `query` as a JSON object on stdin, a JSON object of strings on stdout
//! becomes `result`).
//!
//! As the provider: `program` elements that are null or empty are dropped, and none left is
//! "External Program Missing"; null `query` values are dropped; the program runs directly (no
//! shell) with Baton's environment, in `working_dir` (relative to Baton's working directory;
//! default: Baton's working directory); a program name without a slash is looked up on `PATH`,
//! one with a slash is taken relative to `working_dir`; a non-zero exit is "External Program
//! Execution Failed" quoting stderr; stdout that is not a JSON object of strings (or `null`,
//! read as an empty object, and `null` values read as `""`, as Go's decoder does) is
//! "Unexpected External Program Results"; `id` is always `-`.
//!
//! Deviations: the provider's last-resort fallback of running a program that is not found
//! through `$SHELL -i -c` is not replicated (the lookup fails instead); the run is bounded by
//! the operation's timeout (retryable when exceeded) and by 4 MiB of output. Nothing here logs
//! the query or the program's output.

use super::shell::command::{classify, execute, exit_description, quote_tail};
use crate::exec::CommandSpec;
use crate::registry::{ProviderInfo, Registry};
use crate::schema::{Attr, Schema};
use crate::{AttrDiag, DataSourceType, ProviderCtx, ProviderError};
use baton_eval::{Type, Value};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// The provider these types belong to.
pub const PROVIDER: ProviderInfo = ProviderInfo {
    name: "external",
    source: "registry.terraform.io/hashicorp/external",
};

/// Registers this provider's types.
pub fn register(r: &mut Registry) {
    r.add_data_source(PROVIDER, Arc::new(External::new()));
}

const EXEC_FAILED: &str = "External Program Execution Failed";
const UNEXPECTED: &str = "Unexpected External Program Results";
const LOOKUP_FAILED: &str = "External Program Lookup Failed";

/// The `external` data source.
pub struct External {
    schema: Schema,
}

impl External {
    pub fn new() -> External {
        External {
            schema: Schema::new()
                .attr(
                    "program",
                    Attr::required(Type::list(Type::String)).describe(
                        "The program to run and its arguments; it is not run through a shell.",
                    ),
                )
                .attr(
                    "working_dir",
                    Attr::optional(Type::String).describe(
                        "Working directory of the program (default: Baton's working directory).",
                    ),
                )
                .attr(
                    "query",
                    Attr::optional(Type::map(Type::String))
                        .describe("String values passed to the program as a JSON object on stdin."),
                )
                .attr(
                    "result",
                    Attr::computed(Type::map(Type::String))
                        .describe("The JSON object of strings the program printed."),
                )
                .attr("id", Attr::computed(Type::String).describe("Always \"-\".")),
        }
    }
}

impl Default for External {
    fn default() -> Self {
        External::new()
    }
}

/// The known, non-empty strings of a list attribute.
fn program_of(config: &Value) -> Vec<String> {
    config
        .get_attr("program")
        .map(|p| p.clone().unmark_deep().0)
        .and_then(|p| {
            p.as_seq().map(|items| {
                items
                    .iter()
                    .filter_map(|x| x.as_str().map(str::to_string))
                    .filter(|x| !x.is_empty())
                    .collect()
            })
        })
        .unwrap_or_default()
}

/// The query as the JSON object sent on stdin (null values dropped; keys sorted, like Go).
fn query_json(config: &Value) -> Vec<u8> {
    let mut m = serde_json::Map::new();
    if let Some(q) = config.get_attr("query").map(|q| q.clone().unmark_deep().0) {
        if let Some(entries) = q.as_entries() {
            for (k, v) in entries {
                if let Some(s) = v.as_str() {
                    m.insert(k.clone(), serde_json::Value::String(s.to_string()));
                }
            }
        }
    }
    serde_json::to_vec(&serde_json::Value::Object(m)).unwrap_or_else(|_| b"{}".to_vec())
}

fn is_executable_file(p: &Path) -> bool {
    use std::os::unix::fs::PermissionsExt;
    std::fs::metadata(p).is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
}

/// Finds the program: a name with a slash relative to `dir`, one without on `PATH`
/// (relative `PATH` entries against Baton's working directory).
fn resolve_program(ctx: &ProviderCtx, name: &str, dir: &Path) -> Result<PathBuf, String> {
    if name.contains('/') {
        let p = Path::new(name);
        let p = if p.is_absolute() {
            p.to_path_buf()
        } else {
            dir.join(p)
        };
        return if is_executable_file(&p) {
            Ok(p)
        } else if p.exists() {
            Err(format!("{} is not an executable file", p.display()))
        } else {
            Err(format!("{} does not exist", p.display()))
        };
    }
    let path = std::env::var_os("PATH").unwrap_or_default();
    for d in std::env::split_paths(&path) {
        let d = if d.as_os_str().is_empty() {
            ctx.cwd.clone()
        } else if d.is_relative() {
            ctx.cwd.join(d)
        } else {
            d
        };
        let candidate = d.join(name);
        if is_executable_file(&candidate) {
            return Ok(candidate);
        }
    }
    Err(format!(
        "exec: {name:?}: executable file not found in $PATH"
    ))
}

/// Decodes the program's stdout like Go's `json.Unmarshal` into `map[string]string`.
fn parse_result(stdout: &str) -> Result<BTreeMap<String, String>, String> {
    let v: serde_json::Value = serde_json::from_str(stdout).map_err(|e| {
        if stdout.trim().is_empty() {
            "the program printed nothing (unexpected end of JSON input)".to_string()
        } else {
            e.to_string()
        }
    })?;
    let kind = |v: &serde_json::Value| match v {
        serde_json::Value::Null => "null",
        serde_json::Value::Bool(_) => "a boolean",
        serde_json::Value::Number(_) => "a number",
        serde_json::Value::String(_) => "a string",
        serde_json::Value::Array(_) => "an array",
        serde_json::Value::Object(_) => "an object",
    };
    match v {
        serde_json::Value::Null => Ok(BTreeMap::new()),
        serde_json::Value::Object(m) => m
            .into_iter()
            .map(|(k, v)| match v {
                serde_json::Value::String(s) => Ok((k, s)),
                serde_json::Value::Null => Ok((k, String::new())),
                other => Err(format!(
                    "the value of {k:?} is {}, but every value must be a string",
                    kind(&other)
                )),
            })
            .collect(),
        other => Err(format!("the output is {}, not an object", kind(&other))),
    }
}

impl DataSourceType for External {
    fn type_name(&self) -> &'static str {
        "external"
    }

    fn schema(&self) -> &Schema {
        &self.schema
    }

    fn validate(&self, config: &Value) -> Vec<AttrDiag> {
        let mut out = Vec::new();
        if let Some(p) = config
            .get_attr("program")
            .filter(|p| p.is_known() && !p.is_null())
        {
            if p.length() == Some(0) {
                out.push(AttrDiag::error(
                    Some("program"),
                    "Invalid Attribute Value",
                    "Attribute program list must contain at least 1 elements, got: 0",
                ));
            }
        }
        out
    }

    fn read(&self, ctx: &ProviderCtx, config: &Value) -> Result<Value, ProviderError> {
        let program = program_of(config);
        let Some(name) = program.first().cloned() else {
            return Err(ProviderError::permanent(
                "External Program Missing",
                "The data source was configured without a program to execute. Verify the configuration contains at least one non-empty value.",
            )
            .on_attr("program"));
        };
        let dir = match super::str_attr(config, "working_dir").filter(|d| !d.is_empty()) {
            Some(d) => ctx.resolve(&d),
            None => ctx.cwd.clone(),
        };
        let path = resolve_program(ctx, &name, &dir).map_err(|e| {
            ProviderError::permanent(
                LOOKUP_FAILED,
                format!(
                    "The data source received an unexpected error while attempting to find the program.\n\nThe program must be accessible according to the platform where Baton is running: on the PATH, or relative to working_dir; it is recommended that a program relative to the configuration includes path.module, for example \"${{path.module}}/my-program\". The program must also be executable (the file must have the executable bit set).\n\nProgram: {name}\nError: {e}"
                ),
            )
            .on_attr("program")
        })?;
        let shown = path.display().to_string();
        let mut argv = vec![shown.clone()];
        argv.extend(program.iter().skip(1).cloned());
        let mut spec = CommandSpec::shell("", None, dir);
        spec.argv = argv;
        spec.stdin = Some(query_json(config));
        let out =
            execute(ctx, spec, EXEC_FAILED, "the program").map_err(|e| e.on_attr("program"))?;
        if !out.success() {
            let stderr = String::from_utf8_lossy(&out.stderr);
            let state = format!("the program {}", exit_description(&out));
            let detail = if stderr.trim().is_empty() {
                format!("The data source received an unexpected error while attempting to execute the program.\n\nThe program was executed, however it returned no additional error messaging.\n\nProgram: {shown}\nState: {state}")
            } else {
                format!(
                    "The data source received an unexpected error while attempting to execute the program.\n\nProgram: {shown}\nError Message: {}\nState: {state}",
                    quote_tail(&stderr)
                )
            };
            return Err(ProviderError {
                kind: classify(out.code, &stderr),
                summary: EXEC_FAILED.to_string(),
                detail,
                attr: Some("program".to_string()),
            });
        }
        let stdout = String::from_utf8_lossy(&out.stdout);
        let result = parse_result(&stdout).map_err(|e| {
            ProviderError::permanent(
                UNEXPECTED,
                format!("The data source received unexpected results after executing the program.\n\nProgram output must be a JSON encoded map of string keys and string values.\n\nProgram: {shown}\nResult Error: {e}"),
            )
            .on_attr("program")
        })?;
        let mut m = super::attrs(config);
        for (name, a) in &self.schema.attrs {
            m.entry(name.clone())
                .or_insert_with(|| Value::null(a.ty.clone()));
        }
        m.insert(
            "result".into(),
            Value::map(
                Type::String,
                result
                    .into_iter()
                    .map(|(k, v)| (k, Value::string(v)))
                    .collect(),
            ),
        );
        m.insert("id".into(), Value::string("-"));
        Ok(Value::object(m))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ErrorKind;
    use std::time::Duration;

    fn config(program: &[&str], query: Option<&[(&str, Option<&str>)]>, wd: Option<&str>) -> Value {
        let mut m = BTreeMap::new();
        m.insert(
            "program".to_string(),
            Value::list(
                Type::String,
                program.iter().map(|p| Value::string(*p)).collect(),
            ),
        );
        m.insert(
            "query".to_string(),
            match query {
                Some(q) => Value::map(
                    Type::String,
                    q.iter()
                        .map(|(k, v)| {
                            (
                                k.to_string(),
                                v.map(Value::string)
                                    .unwrap_or_else(|| Value::null(Type::String)),
                            )
                        })
                        .collect(),
                ),
                None => Value::null(Type::map(Type::String)),
            },
        );
        m.insert(
            "working_dir".to_string(),
            wd.map(Value::string)
                .unwrap_or_else(|| Value::null(Type::String)),
        );
        m.insert("result".to_string(), Value::null(Type::map(Type::String)));
        m.insert("id".to_string(), Value::null(Type::String));
        Value::object(m)
    }

    fn result(v: &Value, k: &str) -> Option<String> {
        v.get_attr("result")
            .and_then(|r| r.get_attr(k))
            .and_then(|x| x.as_str().map(str::to_string))
    }

    fn script(dir: &Path, name: &str, body: &str) {
        use std::os::unix::fs::PermissionsExt;
        let p = dir.join(name);
        std::fs::write(&p, format!("#!/bin/sh\n{body}\n")).expect("write script");
        std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o755)).expect("chmod");
    }

    #[test]
    fn the_query_goes_in_on_stdin_and_the_result_comes_back() {
        let dir = tempfile::tempdir().expect("tempdir");
        script(
            dir.path(),
            "echo-query",
            r#"q=$(cat); printf '{"query":"%s","arg":"%s","nothing":null}' "$(printf '%s' "$q" | sed 's/"/\\"/g')" "$1""#,
        );
        let ds = External::new();
        let ctx = ProviderCtx::new(dir.path().to_path_buf());
        let c = config(
            &["./echo-query", "first"],
            Some(&[("b", Some("2")), ("a", Some("1")), ("dropped", None)]),
            None,
        );
        let v = ds.read(&ctx, &c).expect("read");
        assert_eq!(
            result(&v, "query").as_deref(),
            Some("{\"a\":\"1\",\"b\":\"2\"}")
        );
        assert_eq!(result(&v, "arg").as_deref(), Some("first"));
        assert_eq!(result(&v, "nothing").as_deref(), Some(""));
        assert_eq!(
            v.get_attr("id")
                .and_then(|x| x.as_str().map(str::to_string))
                .as_deref(),
            Some("-")
        );
        assert!(v.get_attr("query").is_some_and(|q| !q.is_null()));
    }

    #[test]
    fn no_query_sends_an_empty_object() {
        let dir = tempfile::tempdir().expect("tempdir");
        script(
            dir.path(),
            "echo-stdin",
            "printf '{\"in\":\"%s\"}' \"$(cat | sed 's/\"/_/g')\"",
        );
        let ds = External::new();
        let ctx = ProviderCtx::new(dir.path().to_path_buf());
        let v = ds
            .read(&ctx, &config(&["./echo-stdin"], None, None))
            .expect("read");
        assert_eq!(result(&v, "in").as_deref(), Some("{}"));
    }

    #[test]
    fn a_relative_program_is_found_in_working_dir_and_runs_there() {
        let dir = tempfile::tempdir().expect("tempdir");
        std::fs::create_dir(dir.path().join("tools")).expect("mkdir");
        script(
            &dir.path().join("tools"),
            "where",
            "printf '{\"dir\":\"%s\"}' \"$(pwd)\"",
        );
        let ds = External::new();
        let ctx = ProviderCtx::new(dir.path().to_path_buf());
        let v = ds
            .read(&ctx, &config(&["./where"], None, Some("tools")))
            .expect("read");
        assert!(result(&v, "dir").expect("dir").ends_with("/tools"));
    }

    #[test]
    fn a_failing_program_reports_its_stderr_and_exit_code() {
        let dir = tempfile::tempdir().expect("tempdir");
        let ds = External::new();
        let ctx = ProviderCtx::new(dir.path().to_path_buf());
        let e = ds
            .read(
                &ctx,
                &config(&["sh", "-c", "echo 'it broke' >&2; exit 4"], None, None),
            )
            .expect_err("fails");
        assert_eq!(e.summary, EXEC_FAILED);
        assert_eq!(e.kind, ErrorKind::Permanent);
        assert_eq!(e.attr.as_deref(), Some("program"));
        assert!(e.detail.contains("Error Message: it broke"), "{}", e.detail);
        assert!(e.detail.contains("failed with exit code 4"), "{}", e.detail);

        let e = ds
            .read(&ctx, &config(&["sh", "-c", "exit 1"], None, None))
            .expect_err("fails");
        assert!(
            e.detail.contains("returned no additional error messaging"),
            "{}",
            e.detail
        );

        let e = ds
            .read(
                &ctx,
                &config(
                    &[
                        "sh",
                        "-c",
                        "echo 'HTTP 503 Service Unavailable' >&2; exit 1",
                    ],
                    None,
                    None,
                ),
            )
            .expect_err("fails");
        assert_eq!(e.kind, ErrorKind::Retryable);
    }

    #[test]
    fn output_that_is_not_an_object_of_strings_is_unexpected() {
        let dir = tempfile::tempdir().expect("tempdir");
        let ds = External::new();
        let ctx = ProviderCtx::new(dir.path().to_path_buf());
        for (out, why) in [
            ("{\"a\": 1}", "\"a\" is a number"),
            ("[1]", "is an array"),
            ("", "printed nothing"),
            ("{\"a\":\"1\"} trailing", "trailing characters"),
        ] {
            let e = ds
                .read(&ctx, &config(&["printf", "%s", out], None, None))
                .expect_err("fails");
            assert_eq!(e.summary, UNEXPECTED, "{out}");
            assert!(e.detail.contains(why), "{out}: {}", e.detail);
        }
        let v = ds
            .read(&ctx, &config(&["echo", "null"], None, None))
            .expect("null is empty");
        assert_eq!(v.get_attr("result").and_then(Value::length), Some(0));
    }

    #[test]
    fn missing_and_unfindable_programs_are_clear_errors() {
        let dir = tempfile::tempdir().expect("tempdir");
        let ds = External::new();
        let ctx = ProviderCtx::new(dir.path().to_path_buf());
        let e = ds
            .read(&ctx, &config(&["", ""], None, None))
            .expect_err("missing");
        assert_eq!(e.summary, "External Program Missing");
        let e = ds
            .read(&ctx, &config(&["no-such-program-baton-test"], None, None))
            .expect_err("not found");
        assert_eq!(e.summary, LOOKUP_FAILED);
        assert!(e.detail.contains("not found in $PATH"), "{}", e.detail);
        std::fs::write(dir.path().join("plain"), "x").expect("write");
        let e = ds
            .read(&ctx, &config(&["./plain"], None, None))
            .expect_err("not executable");
        assert!(e.detail.contains("not an executable file"), "{}", e.detail);
        // Empty elements are dropped, as in the provider.
        let v = ds
            .read(&ctx, &config(&["", "echo", "{\"k\":\"v\"}"], None, None))
            .expect("read");
        assert_eq!(result(&v, "k").as_deref(), Some("v"));
    }

    #[test]
    fn the_timeout_kills_the_program_and_is_retryable() {
        let dir = tempfile::tempdir().expect("tempdir");
        let ds = External::new();
        let mut ctx = ProviderCtx::new(dir.path().to_path_buf());
        ctx.timeout = Some(Duration::from_millis(200));
        let e = ds
            .read(&ctx, &config(&["sleep", "30"], None, None))
            .expect_err("timeout");
        assert_eq!(e.kind, ErrorKind::Retryable);
        assert!(e.detail.contains("timed out after 200ms"), "{}", e.detail);
    }

    #[test]
    fn validation_and_schema() {
        let ds = External::new();
        let diags = ds.validate(&config(&[], None, None));
        assert_eq!(diags.len(), 1);
        assert!(ds.validate(&config(&["x"], None, None)).is_empty());
        let a = &ds.schema.attrs;
        assert!(a["program"].required);
        assert!(a["query"].optional && !a["query"].computed);
        assert!(a["working_dir"].optional);
        assert!(a["result"].computed && !a["result"].optional);
        assert!(a["id"].computed);
        assert!(crate::registry().data_source("external").is_some());
        assert_eq!(
            crate::registry().provider_for_prefix("external"),
            Some(PROVIDER)
        );
    }
}
