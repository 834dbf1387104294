//! End-to-end tests of `baton fmt` through the built binary, in temporary directories: which
//! files it rewrites and lists, `--check`, `--diff`, `--recursive`, standard input, and syntax
//! errors. The differential test formats the corpus in `tests/fixtures/fmt/` (each `NAME.tf`
//! beside `NAME.expected.tf`, recorded from `terraform fmt` v1.11) and, when `terraform` is on
//! PATH, compares with it live too.
//!
//! These tests only run the binary and look at files and output; they must not depend on
//! `terraform` being installed (without it the live comparison is skipped, with a note).

use std::fs;
use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

/// The file name endings `fmt` processes; an expectation is `NAME.expected<ending>`.
const ENDINGS: &[&str] = &[".tftest.hcl", ".tfvars", ".tf"];

fn baton(dir: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_baton"))
        .arg("fmt")
        .args(args)
        .current_dir(dir)
        .output()
        .expect("run baton")
}

fn with_stdin(mut cmd: Command, input: &[u8]) -> Output {
    let mut child = cmd
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn");
    child
        .stdin
        .take()
        .expect("stdin")
        .write_all(input)
        .expect("write stdin");
    child.wait_with_output().expect("wait")
}

fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

fn project(files: &[(&str, &str)]) -> tempfile::TempDir {
    let dir = tempfile::tempdir().expect("tempdir");
    for (name, text) in files {
        let path = dir.path().join(name);
        if let Some(parent) = path.parent() {
            fs::create_dir_all(parent).expect("mkdir");
        }
        fs::write(path, text).expect("write");
    }
    dir
}

fn read(dir: &Path, name: &str) -> String {
    fs::read_to_string(dir.join(name)).expect("read")
}

// ---------------------------------------------------------------------------------------------
// The fixture corpus

struct Fixture {
    /// The input's file name, e.g. `heredocs.tf`.
    name: String,
    input: Vec<u8>,
    expected: Vec<u8>,
}

fn fixtures_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tests/fixtures/fmt")
}

fn fixtures() -> Vec<Fixture> {
    let mut out = Vec::new();
    for entry in fs::read_dir(fixtures_dir()).expect("fixtures dir") {
        let name = entry
            .expect("entry")
            .file_name()
            .to_string_lossy()
            .into_owned();
        if name.contains(".expected.") {
            continue;
        }
        let Some(ending) = ENDINGS.iter().find(|e| name.ends_with(**e)) else {
            continue;
        };
        let stem = &name[..name.len() - ending.len()];
        let expected = fs::read(fixtures_dir().join(format!("{stem}.expected{ending}")))
            .unwrap_or_else(|_| panic!("{name} has no {stem}.expected{ending}"));
        let input = fs::read(fixtures_dir().join(&name)).expect("read fixture");
        out.push(Fixture {
            name,
            input,
            expected,
        });
    }
    out.sort_by(|a, b| a.name.cmp(&b.name));
    out
}

/// `terraform`, when it is on PATH and runs, with a CLI configuration that keeps it quiet.
fn terraform(config: &Path) -> Option<Command> {
    let mut cmd = Command::new("terraform");
    cmd.env("TF_CLI_CONFIG_FILE", config)
        .env("CHECKPOINT_DISABLE", "1");
    let ok = Command::new("terraform")
        .arg("version")
        .env("TF_CLI_CONFIG_FILE", config)
        .env("CHECKPOINT_DISABLE", "1")
        .output()
        .map(|o| o.status.success())
        .unwrap_or(false);
    ok.then_some(cmd)
}

#[test]
fn differential_against_terraform() {
    let fixtures = fixtures();
    assert!(
        fixtures.len() >= 20,
        "the corpus is missing: {}",
        fixtures_dir().display()
    );

    // Recorded: `baton fmt` over a copy of the corpus must produce the expectations byte for
    // byte, and list exactly the files it changed.
    let dir = tempfile::tempdir().expect("tempdir");
    for f in &fixtures {
        fs::write(dir.path().join(&f.name), &f.input).expect("write");
    }
    let out = baton(dir.path(), &[]);
    assert_eq!(out.status.code(), Some(0), "stderr: {}", stderr(&out));
    let mut failures = Vec::new();
    let mut want_listed = Vec::new();
    for f in &fixtures {
        let got = fs::read(dir.path().join(&f.name)).expect("read");
        if got != f.expected {
            failures.push(format!(
                "{}:\n--- expected\n{}\n--- got\n{}",
                f.name,
                String::from_utf8_lossy(&f.expected),
                String::from_utf8_lossy(&got)
            ));
        }
        if f.input != f.expected {
            want_listed.push(format!("{}\n", f.name));
        }
    }
    assert!(
        failures.is_empty(),
        "differs from the recorded terraform output:\n{}",
        failures.join("\n")
    );
    assert_eq!(stdout(&out), want_listed.concat());
    let quirks_output = fs::read(dir.path().join("quirks.tf")).expect("read");

    // Formatting is stable: a second run leaves the results alone. (Except quirks.tf: like
    // terraform, it writes `var.map[null]` as `var.map[]`, which no longer parses.)
    fs::remove_file(dir.path().join("quirks.tf")).expect("remove");
    let out = baton(dir.path(), &["--check"]);
    assert_eq!(
        out.status.code(),
        Some(0),
        "not idempotent: {}{}",
        stdout(&out),
        stderr(&out)
    );
    assert_eq!(stdout(&out), "");
    fs::write(dir.path().join("quirks.tf"), &quirks_output).expect("write");

    // Live: the same inputs through `terraform fmt -` and `baton fmt -`.
    let config = dir.path().join("empty.tfrc");
    fs::write(&config, "").expect("write");
    let Some(_) = terraform(&config) else {
        println!("terraform is not on PATH: the live comparison with `terraform fmt -` is skipped; baton fmt was compared with the recorded expectations only");
        return;
    };
    let mut mismatches = Vec::new();
    for f in &fixtures {
        let mut tf = terraform(&config).expect("terraform");
        tf.args(["fmt", "-"]);
        let tf_out = with_stdin(tf, &f.input);
        let mut bt = Command::new(env!("CARGO_BIN_EXE_baton"));
        bt.args(["fmt", "-"]);
        let bt_out = with_stdin(bt, &f.input);
        if tf_out.stdout != bt_out.stdout
            || tf_out.status.code() != bt_out.status.code().map(|c| if c == 1 { 2 } else { c })
        {
            mismatches.push(format!(
                "{}:\n--- terraform fmt - (exit {:?})\n{}\n--- baton fmt - (exit {:?})\n{}",
                f.name,
                tf_out.status.code(),
                stdout(&tf_out),
                bt_out.status.code(),
                stdout(&bt_out)
            ));
        }
    }
    // And the files as `terraform fmt DIR` rewrites them (stdin output always ends with a
    // newline; files keep a missing one).
    let tf_dir = tempfile::tempdir().expect("tempdir");
    for f in &fixtures {
        fs::write(tf_dir.path().join(&f.name), &f.input).expect("write");
    }
    let mut tf = terraform(&config).expect("terraform");
    let tf_run = tf
        .args(["fmt", "-no-color", "."])
        .current_dir(tf_dir.path())
        .output()
        .expect("terraform fmt");
    assert!(
        tf_run.status.success(),
        "terraform fmt failed: {}",
        stderr(&tf_run)
    );
    for f in &fixtures {
        let theirs = fs::read(tf_dir.path().join(&f.name)).expect("read");
        let ours = fs::read(dir.path().join(&f.name)).expect("read");
        if theirs != ours {
            mismatches.push(format!(
                "{}: terraform fmt DIR wrote\n{}",
                f.name,
                String::from_utf8_lossy(&theirs)
            ));
        }
    }
    assert!(
        mismatches.is_empty(),
        "differs from terraform fmt:\n{}",
        mismatches.join("\n")
    );
    println!(
        "compared {} fixtures with terraform fmt live",
        fixtures.len()
    );
}

// ---------------------------------------------------------------------------------------------
// The command

#[test]
fn rewrites_and_lists_changed_files() {
    let p = project(&[
        ("a.tf", "a=1\nbb = 2\n"),
        ("b.tf", "x = 1\n"),
        ("c.tfvars", "region=\"eu\"\n"),
        ("d.tftest.hcl", "run \"t\" {\ncommand = plan\n}\n"),
        ("e.tf.json", "{\"a\":1}\n"),
        ("notes.txt", "a=1\n"),
    ]);
    let out = baton(p.path(), &[]);
    assert_eq!(out.status.code(), Some(0), "stderr: {}", stderr(&out));
    assert_eq!(stdout(&out), "a.tf\nc.tfvars\nd.tftest.hcl\n");
    assert_eq!(read(p.path(), "a.tf"), "a  = 1\nbb = 2\n");
    assert_eq!(read(p.path(), "b.tf"), "x = 1\n");
    assert_eq!(read(p.path(), "c.tfvars"), "region = \"eu\"\n");
    assert_eq!(
        read(p.path(), "d.tftest.hcl"),
        "run \"t\" {\n  command = plan\n}\n"
    );
    assert_eq!(read(p.path(), "e.tf.json"), "{\"a\":1}\n");
    assert_eq!(read(p.path(), "notes.txt"), "a=1\n");

    // A second run has nothing to do.
    let out = baton(p.path(), &[]);
    assert_eq!(out.status.code(), Some(0));
    assert_eq!(stdout(&out), "");
}

#[test]
fn check_changes_nothing_and_exits_3() {
    let p = project(&[("main.tf", "a=1\n"), ("ok.tf", "b = 2\n")]);
    let out = baton(p.path(), &["--check"]);
    assert_eq!(out.status.code(), Some(3));
    assert_eq!(stdout(&out), "main.tf\n");
    assert_eq!(read(p.path(), "main.tf"), "a=1\n");

    fs::write(p.path().join("main.tf"), "a = 1\n").expect("write");
    let out = baton(p.path(), &["--check"]);
    assert_eq!(out.status.code(), Some(0));
    assert_eq!(stdout(&out), "");
}

#[test]
fn diff_prints_a_unified_diff() {
    let p = project(&[("main.tf", "resource \"a\" \"b\" {\nx=1\n  yy = 2\n}\n\nz=3")]);
    let out = baton(p.path(), &["--diff"]);
    assert_eq!(out.status.code(), Some(0), "stderr: {}", stderr(&out));
    assert_eq!(
        stdout(&out),
        "main.tf\n\
         --- old/main.tf\n\
         +++ new/main.tf\n\
         @@ -1,6 +1,6 @@\n \
         resource \"a\" \"b\" {\n\
         -x=1\n\
         +  x  = 1\n   \
         yy = 2\n \
         }\n \n\
         -z=3\n\
         \\ No newline at end of file\n\
         +z = 3\n\
         \\ No newline at end of file\n"
    );
    // --diff also writes; --check --diff only shows.
    assert_eq!(
        read(p.path(), "main.tf"),
        "resource \"a\" \"b\" {\n  x  = 1\n  yy = 2\n}\n\nz = 3"
    );
    fs::write(p.path().join("main.tf"), "a=1\n").expect("write");
    let out = baton(p.path(), &["--check", "--diff"]);
    assert_eq!(out.status.code(), Some(3));
    assert_eq!(
        stdout(&out),
        "main.tf\n--- old/main.tf\n+++ new/main.tf\n@@ -1 +1 @@\n-a=1\n+a = 1\n"
    );
    assert_eq!(read(p.path(), "main.tf"), "a=1\n");

    // Where several shortest diffs exist, the one GNU diff (which terraform runs) prints.
    fs::write(
        p.path().join("main.tf"),
        "a = [\n1,\n[\n2\n]\n]\n\n\nb = {\nc=1\n}\n",
    )
    .expect("write");
    let out = baton(p.path(), &["--check", "--diff"]);
    assert_eq!(
        stdout(&out),
        "main.tf\n--- old/main.tf\n+++ new/main.tf\n@@ -1,11 +1,11 @@\n a = [\n-1,\n-[\n-2\n-]\n+  1,\n+  [\n+    2\n+  ]\n ]\n \n \n b = {\n-c=1\n+  c = 1\n }\n"
    );
}

#[test]
fn recursive_only_with_the_flag_and_never_into_hidden_directories() {
    let p = project(&[
        ("main.tf", "a = 1\n"),
        ("modules/net/main.tf", "b=2\n"),
        (".terraform/modules/x/main.tf", "c=3\n"),
        ("backup.tf~", "d=4\n"),
    ]);
    let out = baton(p.path(), &[]);
    assert_eq!(out.status.code(), Some(0));
    assert_eq!(stdout(&out), "");
    assert_eq!(read(p.path(), "modules/net/main.tf"), "b=2\n");

    let out = baton(p.path(), &["--recursive"]);
    assert_eq!(out.status.code(), Some(0));
    assert_eq!(stdout(&out), "modules/net/main.tf\n");
    assert_eq!(read(p.path(), "modules/net/main.tf"), "b = 2\n");
    assert_eq!(read(p.path(), ".terraform/modules/x/main.tf"), "c=3\n");
    assert_eq!(read(p.path(), "backup.tf~"), "d=4\n");

    // A directory given as an argument is shown with its path.
    fs::write(p.path().join("modules/net/main.tf"), "b=2\n").expect("write");
    let out = baton(p.path(), &["modules/net"]);
    assert_eq!(stdout(&out), "modules/net/main.tf\n");
}

#[test]
fn a_syntax_error_is_reported_and_the_file_left_alone() {
    let bad = "resource \"a\" \"b\" {\n  x = [1,, 2]\n}\n";
    let p = project(&[("bad.tf", bad), ("good.tf", "a=1\n")]);
    let out = baton(p.path(), &[]);
    assert_eq!(out.status.code(), Some(1));
    let err = stderr(&out);
    assert!(
        err.contains("bad.tf:2:10: Invalid expression"),
        "stderr: {err}"
    );
    assert!(err.contains("  2 |   x = [1,, 2]\n"), "stderr: {err}");
    assert!(err.contains("    |          ^\n"), "stderr: {err}");
    assert_eq!(read(p.path(), "bad.tf"), bad);
    // The other files are still processed.
    assert_eq!(stdout(&out), "good.tf\n");
    assert_eq!(read(p.path(), "good.tf"), "a = 1\n");

    // --check reports the error too, and errors win over "needs formatting".
    fs::write(p.path().join("good.tf"), "a=1\n").expect("write");
    let out = baton(p.path(), &["--check"]);
    assert_eq!(out.status.code(), Some(1));

    // An unterminated heredoc, a duplicate argument.
    for (text, at) in [
        (
            "a = <<EOT\nhello\n",
            "t.tf:3:1: Unterminated template string",
        ),
        ("a = 1\na = 2\n", "t.tf:2:1: Attribute redefined"),
    ] {
        let p = project(&[("t.tf", text)]);
        let out = baton(p.path(), &[]);
        assert_eq!(out.status.code(), Some(1));
        assert!(stderr(&out).contains(at), "stderr: {}", stderr(&out));
        assert_eq!(read(p.path(), "t.tf"), text);
    }
}

#[test]
fn explicit_files_and_bad_paths() {
    let p = project(&[("a.tf", "a=1\n"), ("b.tf", "b=1\n"), ("notes.txt", "x")]);
    let out = baton(p.path(), &["./a.tf"]);
    assert_eq!(out.status.code(), Some(0));
    assert_eq!(stdout(&out), "a.tf\n");
    assert_eq!(read(p.path(), "b.tf"), "b=1\n");

    let out = baton(p.path(), &["missing"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        stderr(&out).contains("No file or directory at missing"),
        "stderr: {}",
        stderr(&out)
    );

    let out = baton(p.path(), &["notes.txt"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        stderr(&out).contains("Only .tf, .tfvars, and .tftest.hcl files"),
        "stderr: {}",
        stderr(&out)
    );
}

#[test]
fn standard_input() {
    let dir = tempfile::tempdir().expect("tempdir");
    let run = |args: &[&str], input: &str| {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_baton"));
        cmd.arg("fmt").args(args).current_dir(dir.path());
        with_stdin(cmd, input.as_bytes())
    };
    let out = run(&["-"], "a=1\nbb=\"${x}\"");
    assert_eq!(out.status.code(), Some(0));
    assert_eq!(stdout(&out), "a  = 1\nbb = x\n");

    let out = run(&["--check", "-"], "a=1\n");
    assert_eq!(out.status.code(), Some(3));
    assert_eq!(stdout(&out), "");

    let out = run(&["-"], "a = \n");
    assert_eq!(out.status.code(), Some(1));
    assert!(
        stderr(&out).contains("<stdin>:1:5: Missing expression")
            || stderr(&out).contains("<stdin>:1:5: Invalid expression"),
        "stderr: {}",
        stderr(&out)
    );
}

#[test]
fn line_endings_and_final_newline_are_kept() {
    let p = project(&[("crlf.tf", "a=1\r\nbb = 2\r\n"), ("nonl.tf", "a=1")]);
    let out = baton(p.path(), &[]);
    assert_eq!(out.status.code(), Some(0));
    assert_eq!(read(p.path(), "crlf.tf"), "a  = 1\r\nbb = 2\r\n");
    assert_eq!(read(p.path(), "nonl.tf"), "a = 1");
}
