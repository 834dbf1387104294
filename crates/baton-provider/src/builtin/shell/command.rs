//! Running one command for the command-backed providers (`shell_script`, `external`) through
//! [`crate::exec`]: the operation's time limit and cancellation, a 4 MiB bound on output,
//! typed failures (timeouts and transient-looking failures are retryable), redaction of
//! secret values from any text that may reach the user, and xid-style ids.
//!
//! Nothing here logs or prints: callers build the messages, and every message built from a
//! command's output must go through [`Secrets::redact`] first.

use crate::exec::{self, CommandOutput, CommandSpec};
use crate::{ErrorKind, ProviderCtx, ProviderError};
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::OnceLock;
use std::time::Duration;

/// At most this many bytes of each of stdout and stderr are accepted.
pub(crate) const MAX_OUTPUT: usize = 4 * 1024 * 1024;

/// How much of a command's stdout or stderr an error message quotes (its end).
const QUOTE_LIMIT: usize = 4 * 1024;

/// Secrets shorter than this are redacted from messages but do not mark values sensitive.
pub(crate) const MARK_MIN_LEN: usize = 4;

/// Values that must never appear in a message: replaced by `******` wherever they occur.
#[derive(Clone, Debug, Default)]
pub(crate) struct Secrets(Vec<String>);

impl Secrets {
    pub(crate) fn new(values: impl IntoIterator<Item = String>) -> Secrets {
        let mut v: Vec<String> = values.into_iter().filter(|s| !s.is_empty()).collect();
        // Longest first, so that a secret containing another is replaced whole.
        v.sort_by(|a, b| b.len().cmp(&a.len()).then_with(|| a.cmp(b)));
        v.dedup();
        Secrets(v)
    }

    pub(crate) fn redact(&self, text: &str) -> String {
        let mut out = text.to_string();
        for s in &self.0 {
            if out.contains(s.as_str()) {
                out = out.replace(s.as_str(), "******");
            }
        }
        out
    }

    /// Does `text` contain a secret long enough to be told apart from ordinary values (at
    /// least [`MARK_MIN_LEN`] characters)? Such text is marked sensitive.
    pub(crate) fn marks(&self, text: &str) -> bool {
        self.0
            .iter()
            .any(|s| s.chars().count() >= MARK_MIN_LEN && text.contains(s.as_str()))
    }
}

/// Runs `spec` under the operation's time limit and cancellation, with bounded output.
/// Returns the finished command (successful or not); fails for what is not the command's own
/// failure: it could not start, it timed out, it was interrupted, or it succeeded but printed
/// more than [`MAX_OUTPUT`]. `what` names the command in messages ("the create command").
pub(crate) fn execute(
    ctx: &ProviderCtx,
    mut spec: CommandSpec,
    summary: &str,
    what: &str,
) -> Result<CommandOutput, ProviderError> {
    spec.timeout = ctx.timeout;
    spec.cancel = ctx.cancel.clone();
    spec.run_tag = ctx.run_id.clone();
    spec.max_output = MAX_OUTPUT;
    if ctx.is_cancelled() {
        return Err(ProviderError::permanent(
            summary,
            format!("The run was interrupted before {what} started."),
        ));
    }
    if !spec.cwd.is_dir() {
        return Err(ProviderError::permanent(
            summary,
            format!(
                "Cannot run {what}: the working directory {} does not exist or is not a directory.",
                spec.cwd.display()
            ),
        ));
    }
    let program = spec.argv.first().cloned().unwrap_or_default();
    let out = exec::run(&spec, |_, _| {}).map_err(|e| {
        let mut err = ProviderError::from_io(summary, &e);
        err.detail = format!("Cannot start {what} ({program:?}): {e}.");
        err
    })?;
    if out.timed_out {
        let limit = spec.timeout.map(fmt_duration).unwrap_or_default();
        return Err(ProviderError::retryable(
            summary,
            format!(
                "{} timed out after {limit} and was killed, with every process it started.",
                capitalize(what)
            ),
        ));
    }
    if out.cancelled {
        return Err(ProviderError::permanent(
            summary,
            format!(
                "{} was interrupted and killed, with every process it started.",
                capitalize(what)
            ),
        ));
    }
    if out.truncated && out.success() {
        return Err(ProviderError::permanent(
            summary,
            format!(
                "{} printed more than {} MiB on stdout or stderr, the most Baton accepts; its output was not used.",
                capitalize(what),
                MAX_OUTPUT / (1024 * 1024)
            ),
        ));
    }
    Ok(out)
}

/// "failed with exit code N" or "was terminated by a signal".
pub(crate) fn exit_description(out: &CommandOutput) -> String {
    match out.code {
        Some(c) => format!("failed with exit code {c}"),
        None => "was terminated by a signal".to_string(),
    }
}

/// Whether a failed command looks transient, from its exit code and what it printed:
/// timeouts, refused or reset connections, temporary failures, throttling, HTTP 429 and 5xx
/// responses, and exit code 75 (`EX_TEMPFAIL`) are retryable; everything else is permanent.
pub(crate) fn classify(code: Option<i32>, output: &str) -> ErrorKind {
    if code == Some(75) {
        return ErrorKind::Retryable;
    }
    let text = output.to_ascii_lowercase();
    const PHRASES: &[&str] = &[
        "connection refused",
        "connection reset",
        "connection timed out",
        "timed out",
        "timeout",
        "temporarily unavailable",
        "temporary failure",
        "try again",
        "too many requests",
        "rate limit",
        "ratelimit",
        "throttl",
        "service unavailable",
        "bad gateway",
        "gateway timeout",
        "internal server error",
        "network is unreachable",
        "no route to host",
        "econnrefused",
        "econnreset",
        "etimedout",
    ];
    if PHRASES.iter().any(|p| text.contains(p)) || has_http_retry_status(&text) {
        ErrorKind::Retryable
    } else {
        ErrorKind::Permanent
    }
}

/// A 429 or 5xx number shortly after "http", "status", "code", "error" or "response".
fn has_http_retry_status(lower: &str) -> bool {
    let b = lower.as_bytes();
    let mut i = 0;
    while i < b.len() {
        if !b[i].is_ascii_digit() {
            i += 1;
            continue;
        }
        let start = i;
        while i < b.len() && b[i].is_ascii_digit() {
            i += 1;
        }
        if i - start != 3 {
            continue;
        }
        let n: u32 = lower
            .get(start..i)
            .and_then(|s| s.parse().ok())
            .unwrap_or(0);
        if n != 429 && !(500..=599).contains(&n) {
            continue;
        }
        let mut from = start.saturating_sub(24);
        while !lower.is_char_boundary(from) {
            from -= 1;
        }
        let before = lower.get(from..start).unwrap_or("");
        if ["http", "status", "code", "error", "response"]
            .iter()
            .any(|k| before.contains(k))
        {
            return true;
        }
    }
    false
}

/// The end of `s`, at most [`QUOTE_LIMIT`] bytes (on a character boundary), trimmed.
pub(crate) fn quote_tail(s: &str) -> String {
    let s = s.trim_end();
    if s.len() <= QUOTE_LIMIT {
        return s.to_string();
    }
    let mut from = s.len() - QUOTE_LIMIT;
    while !s.is_char_boundary(from) {
        from += 1;
    }
    format!(
        "[... {from} bytes not shown ...]\n{}",
        s.get(from..).unwrap_or("")
    )
}

/// `30s`, `1.5s`, `250ms`, `2m`.
pub(crate) fn fmt_duration(d: Duration) -> String {
    let ms = d.as_millis();
    if ms < 1000 {
        format!("{ms}ms")
    } else if ms.is_multiple_of(60_000) {
        format!("{}m", ms / 60_000)
    } else if ms.is_multiple_of(1000) {
        format!("{}s", ms / 1000)
    } else {
        format!("{:.1}s", d.as_secs_f64())
    }
}

fn capitalize(s: &str) -> String {
    let mut c = s.chars();
    match c.next() {
        Some(f) => f.to_uppercase().chain(c).collect(),
        None => String::new(),
    }
}

/// A globally unique id in the form of `github.com/rs/xid` (what the shell provider uses):
/// 12 bytes — seconds since the epoch, a per-process random machine part, the process id and
/// a counter — in lowercase base32hex, 20 characters.
pub(crate) fn new_xid() -> String {
    static MACHINE: OnceLock<[u8; 3]> = OnceLock::new();
    static COUNTER: OnceLock<AtomicU32> = OnceLock::new();
    let machine = MACHINE.get_or_init(rand::random);
    let counter = COUNTER
        .get_or_init(|| AtomicU32::new(rand::random()))
        .fetch_add(1, Ordering::Relaxed);
    let secs = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0) as u32;
    let pid = std::process::id() as u16;
    let mut raw = [0u8; 12];
    raw[0..4].copy_from_slice(&secs.to_be_bytes());
    raw[4..7].copy_from_slice(machine);
    raw[7..9].copy_from_slice(&pid.to_be_bytes());
    raw[9..12].copy_from_slice(&counter.to_be_bytes()[1..4]);
    base32hex_lower(&raw)
}

fn base32hex_lower(bytes: &[u8]) -> String {
    const ALPHABET: &[u8; 32] = b"0123456789abcdefghijklmnopqrstuv";
    let mut out = String::new();
    let mut buf: u32 = 0;
    let mut bits = 0;
    for &b in bytes {
        buf = (buf << 8) | u32::from(b);
        bits += 8;
        while bits >= 5 {
            bits -= 5;
            out.push(char::from(ALPHABET[((buf >> bits) & 31) as usize]));
        }
    }
    if bits > 0 {
        out.push(char::from(ALPHABET[((buf << (5 - bits)) & 31) as usize]));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::PathBuf;

    #[test]
    fn secrets_are_redacted_longest_first_and_empty_ones_ignored() {
        let s = Secrets::new(["abc".to_string(), "abcdef".to_string(), String::new()]);
        assert_eq!(s.redact("x abcdef y abc z"), "x ****** y ****** z");
        assert!(s.marks("--abcdef--"));
        assert!(!s.marks("--abc--"), "too short to mark");
        assert!(!s.marks("ab"));
        assert_eq!(Secrets::default().redact("plain"), "plain");
    }

    #[test]
    fn transient_failures_are_retryable() {
        for text in [
            "curl: (7) Failed to connect to localhost port 80: Connection refused",
            "dial tcp 10.0.0.1:443: i/o timeout",
            "Resource temporarily unavailable",
            "Temporary failure in name resolution",
            "error: HTTP 429 Too Many Requests",
            "The requested URL returned error: 503",
            "HTTP/1.1 502 Bad Gateway",
            "api responded with status code 500",
            "Rate limit exceeded",
            "request was throttled",
        ] {
            assert_eq!(classify(Some(1), text), ErrorKind::Retryable, "{text}");
        }
        assert_eq!(classify(Some(75), ""), ErrorKind::Retryable);
    }

    #[test]
    fn other_failures_are_permanent() {
        for text in [
            "",
            "cat: missing.txt: No such file or directory",
            "processed 500 items, then failed",
            "HTTP 404 Not Found",
            "error: invalid argument --frobnicate",
            "permission denied",
        ] {
            assert_eq!(classify(Some(1), text), ErrorKind::Permanent, "{text}");
        }
        assert_eq!(classify(None, "killed"), ErrorKind::Permanent);
    }

    #[test]
    fn quotes_keep_the_end_of_long_output_on_a_char_boundary() {
        let long = "é".repeat(5000) + "END";
        let q = quote_tail(&long);
        assert!(q.ends_with("END"));
        assert!(q.starts_with("[... "));
        assert!(q.len() < 4200);
        assert_eq!(quote_tail("short\n\n"), "short");
    }

    #[test]
    fn durations_are_short() {
        assert_eq!(fmt_duration(Duration::from_millis(250)), "250ms");
        assert_eq!(fmt_duration(Duration::from_secs(30)), "30s");
        assert_eq!(fmt_duration(Duration::from_secs(120)), "2m");
        assert_eq!(fmt_duration(Duration::from_millis(1500)), "1.5s");
    }

    #[test]
    fn xids_are_twenty_base32hex_characters_and_unique() {
        let a = new_xid();
        let b = new_xid();
        assert_eq!(a.len(), 20);
        assert!(a
            .bytes()
            .all(|c| c.is_ascii_digit() || (b'a'..=b'v').contains(&c)));
        assert_ne!(a, b);
        assert_eq!(base32hex_lower(&[0u8; 12]), "00000000000000000000");
    }

    fn spec(cmd: &str) -> CommandSpec {
        CommandSpec::shell(cmd, None, std::env::temp_dir())
    }

    #[test]
    fn a_timeout_is_a_retryable_failure_naming_the_limit() {
        let mut ctx = ProviderCtx::new(std::env::temp_dir());
        ctx.timeout = Some(Duration::from_millis(200));
        let e = execute(&ctx, spec("sleep 20"), "Shell failed", "the create command")
            .expect_err("times out");
        assert_eq!(e.kind, ErrorKind::Retryable);
        assert!(e.detail.contains("timed out after 200ms"), "{}", e.detail);
    }

    #[test]
    fn cancellation_before_start_runs_nothing() {
        let dir = tempfile::tempdir().expect("tempdir");
        let ctx = ProviderCtx::new(dir.path().to_path_buf());
        ctx.cancel.store(true, Ordering::SeqCst);
        let marker = dir.path().join("ran");
        let e = execute(
            &ctx,
            spec(&format!("touch {}", marker.display())),
            "Shell failed",
            "the create command",
        )
        .expect_err("cancelled");
        assert_eq!(e.kind, ErrorKind::Permanent);
        assert!(!marker.exists());
    }

    #[test]
    fn oversized_output_is_a_clear_error() {
        let ctx = ProviderCtx::new(std::env::temp_dir());
        let e = execute(
            &ctx,
            spec("head -c 5000000 /dev/zero | tr '\\0' 'x' | fold -w 1000"),
            "Shell failed",
            "the read command",
        )
        .expect_err("too much output");
        assert!(e.detail.contains("more than 4 MiB"), "{}", e.detail);
    }

    #[test]
    fn missing_working_directory_and_program_are_permanent() {
        let ctx = ProviderCtx::new(std::env::temp_dir());
        let mut s = spec("true");
        s.cwd = PathBuf::from("/definitely/not/here");
        let e = execute(&ctx, s, "Shell failed", "the create command").expect_err("no dir");
        assert!(e.detail.contains("does not exist"), "{}", e.detail);
        let mut s = spec("true");
        s.argv = vec!["/definitely/not/a/program".into()];
        let e = execute(&ctx, s, "Shell failed", "the create command").expect_err("no program");
        assert_eq!(e.kind, ErrorKind::Permanent);
        assert!(e.detail.contains("Cannot start"), "{}", e.detail);
    }
}
