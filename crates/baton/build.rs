//! Link options for the `baton` executable with the `small` feature (the `release-small`
//! profile, see Cargo.toml), which keep the resident memory of short CLI commands small. Without
//! the feature this script does nothing: the default build is a plain position-independent
//! executable. Baton's commands run for tens of milliseconds, so the pages of the program
//! itself are a large part of their memory:
//!
//! - Fixed-address (not position-independent) linking: a position-independent executable
//!   makes the dynamic loader read about 1 MB of relocation records and copy every page of
//!   `.data.rel.ro` at each start. The price is no address-space layout randomisation for the
//!   executable's own code and data.
//! - `link/hot-text.ld` (written by `bench/hot-text.sh` from profiles of typical commands)
//!   places the functions Baton runs together at the start of the code. The kernel maps code
//!   64 KiB around each page that runs, so scattered code would make most of the 8 MB of code
//!   resident.
//!
//! Why a feature and not the profile's name: a build script only sees `PROFILE`, which is
//! "release" for every profile that inherits from release, and the profile's directory in
//! `OUT_DIR` is a layout detail of Cargo. A feature is Cargo's documented switch, reaches the
//! build script as `CARGO_FEATURE_SMALL`, and also selects the allocator setting in the code.
//!
//! Only the binary is affected (not tests or libraries), and only on Linux with glibc; the
//! layout changes no behaviour.
use std::path::Path;

fn main() {
    println!("cargo:rerun-if-changed=build.rs");
    println!("cargo:rerun-if-changed=link/hot-text.ld");
    let os = std::env::var("CARGO_CFG_TARGET_OS").unwrap_or_default();
    let env = std::env::var("CARGO_CFG_TARGET_ENV").unwrap_or_default();
    let small = std::env::var_os("CARGO_FEATURE_SMALL").is_some();
    if !small || os != "linux" || env != "gnu" {
        return;
    }
    println!("cargo:rustc-link-arg-bins=-no-pie");
    let dir = std::env::var("CARGO_MANIFEST_DIR").unwrap_or_default();
    let script = Path::new(&dir).join("link").join("hot-text.ld");
    if script.is_file() {
        println!("cargo:rustc-link-arg-bins=-Wl,-T,{}", script.display());
    }
}
