//! `terraform-provider-batontest`: a tiny provider speaking Terraform's plugin protocol 6 (or 5,
//! with `BATONTEST_PROTOCOL=5`), for tests only. It serves `batontest_thing` (a resource that
//! lives only in state), `batontest_file` (a file on disk, for drift), `batontest_echo` (a data
//! source copying `input` to `output`) and the function `upper`, so that the real `terraform`
//! and Baton's plugin client can be run against the same binary offline.
//!
//! With `BATONTEST_START_LOG=FILE` it appends one line (its process id) to FILE when it starts,
//! so tests can count the processes a client started.
//!
//! It must not touch anything outside its own socket and the files a `batontest_file`
//! configuration names: no network, no real infrastructure. It is not a provider SDK: no schema
//! or value machinery beyond what its types need.

mod controller;
mod handshake;
mod provider;

use std::process::ExitCode;

/// The go-plugin magic cookie Terraform sets for its providers.
const MAGIC_COOKIE_KEY: &str = "TF_PLUGIN_MAGIC_COOKIE";
const MAGIC_COOKIE_VALUE: &str = "d602bf8f470bc67ca7faa0386276bbdd4330efaf76d1a219cb4d6991ca9872b2";

fn main() -> ExitCode {
    if std::env::var(MAGIC_COOKIE_KEY).as_deref() != Ok(MAGIC_COOKIE_VALUE) {
        eprintln!(
            "This binary is a plugin. These are not meant to be executed directly.\n\
             Please execute the program that consumes these plugins, which will\n\
             load any plugins automatically"
        );
        return ExitCode::from(1);
    }
    if let Some(log) = std::env::var_os("BATONTEST_START_LOG") {
        use std::io::Write;
        let line = format!("{}\n", std::process::id());
        let written = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&log)
            .and_then(|mut f| f.write_all(line.as_bytes()));
        if let Err(err) = written {
            eprintln!("batontest: cannot write the start log: {err}");
        }
    }
    let runtime = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(err) => {
            eprintln!("batontest: cannot start the async runtime: {err}");
            return ExitCode::from(1);
        }
    };
    match runtime.block_on(handshake::serve()) {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("batontest: {err}");
            ExitCode::from(1)
        }
    }
}
