//! The memory allocator's settings, made once at start, before any thread exists.
//!
//! With the `small` feature (the `release-small` build, for short CLI commands): glibc's
//! allocator gives each thread that allocates an arena of its own. Baton's walker runs up to
//! `--parallelism` threads whose allocations are small; with an arena each, their free space
//! adds to the resident size (at 1000 resources, 0.5 MB on apply and 1 MB on destroy, measured
//! with `MALLOC_ARENA_MAX=1`). One arena is enough for a command whose threads spend their time
//! in providers, child processes and SQLite. It is not the default: one arena serialises every
//! thread's `malloc` on one lock, which a long-running, multi-threaded process (a daemon, the
//! server) should not pay for a few MB.
//!
//! This is the only `unsafe` code of the workspace: one call into the C library with constant
//! arguments, compiled only with the `small` feature.

/// Limits glibc's allocator to one arena (without the `small` feature, or elsewhere than
/// glibc, nothing to do).
#[cfg(all(feature = "small", target_os = "linux", target_env = "gnu"))]
pub fn one_arena() {
    // SAFETY: `mallopt` changes a setting of the allocator and has no other effect; it is
    // called before any other thread exists, and a refused setting only returns 0.
    #[allow(unsafe_code)]
    let _ = unsafe { libc::mallopt(libc::M_ARENA_MAX, 1) };
}

#[cfg(not(all(feature = "small", target_os = "linux", target_env = "gnu")))]
pub fn one_arena() {}
