//! Integration tests of baton-policy: loading, the gate, redaction, the test runner and the
//! examples under `examples/policies/`. One test binary (link time matters); one module per
//! area; fixtures are written to temporary directories.

mod builtins;
mod examples;
mod gate;
mod load;
mod metadata;
mod outputs;
mod redact;
mod runner;
mod shapes;
mod tidy;

use baton_core::Sources;
use baton_policy::{Enforcement, LoadedPolicies, PolicySet};
use std::path::{Path, PathBuf};
use tempfile::TempDir;

/// A temporary directory holding `files` (path, text).
pub fn fixture(files: &[(&str, &str)]) -> TempDir {
    let dir = tempfile::tempdir().expect("tempdir");
    for (path, text) in files {
        let p = dir.path().join(path);
        if let Some(parent) = p.parent() {
            std::fs::create_dir_all(parent).expect("mkdir");
        }
        std::fs::write(&p, text).expect("write fixture");
    }
    dir
}

pub fn set(name: &str, dir: &Path, enforcement: Enforcement) -> PolicySet {
    PolicySet {
        enforcement,
        ..PolicySet::new(name, vec![dir.to_path_buf()])
    }
}

/// Loads sets that must load; panics with the rendered diagnostics otherwise.
pub fn load_ok(sets: &[PolicySet]) -> (LoadedPolicies, Sources) {
    let sources = Sources::new();
    match baton_policy::load(sets, &sources) {
        Ok(p) => (p, sources),
        Err(d) => panic!("load failed:\n{}", d.render(&sources)),
    }
}

/// Loads sets that must fail; returns the rendered diagnostics with the temporary directory
/// replaced by `DIR`.
pub fn load_err(sets: &[PolicySet], dir: &Path) -> String {
    let sources = Sources::new();
    match baton_policy::load(sets, &sources) {
        Ok(_) => panic!("load unexpectedly succeeded"),
        Err(d) => d
            .render(&sources)
            .replace(&dir.display().to_string(), "DIR"),
    }
}

/// `examples/policies/` at the workspace root.
pub fn examples_dir() -> PathBuf {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../examples/policies");
    dir.canonicalize().unwrap_or(dir)
}
