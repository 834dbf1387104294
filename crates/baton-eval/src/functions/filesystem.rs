//! The filesystem functions of Terraform's library: `abspath`, `basename`, `dirname`,
//! `pathexpand`, `file`, `filebase64`, `fileexists`, `fileset` and the registry entry of
//! `templatefile` (which the evaluator runs itself).
//!
//! Path strings are handled exactly as Terraform handles them with its base directory ".":
//! Go's `path/filepath` rules (`Clean`, `Join`, `Base`, `Dir`, `Rel`), go-homedir's `~`
//! expansion and doublestar v1.1.5's globbing are reproduced here, and only the final
//! filesystem access resolves a relative path against `FnCtx::base_dir`, so messages show the
//! paths Terraform would show. The Go-compatibility helpers other function files need
//! (`go_quote`, file reading with Go's error texts) live in [`gocompat`].
//!
//! Implementations receive known, already-converted arguments (see the call machinery in
//! `functions/mod.rs`) and must never log argument values; the parameters that Terraform
//! declares `AllowMarked` receive marked values so a sensitive path can be redacted from
//! messages, and their marks are put back on the result here. This module only reads files.

use super::{FnCtx, FnError, FnResult, Function, Param, Registry, Ret};
use crate::types::Type;
use crate::value::Value;
use gocompat::{go_quote, io_error_text, resolve};

pub(super) fn register(r: &mut Registry) {
    let path = || Param::new("path", Type::String);
    r.add(Function::new(
        "abspath",
        vec![path()],
        Ret::Fixed(Type::String),
        abspath,
    ));
    r.add(Function::new(
        "basename",
        vec![path()],
        Ret::Fixed(Type::String),
        basename,
    ));
    r.add(Function::new(
        "dirname",
        vec![path()],
        Ret::Fixed(Type::String),
        dirname,
    ));
    r.add(Function::new(
        "pathexpand",
        vec![path()],
        Ret::Fixed(Type::String),
        pathexpand,
    ));
    r.add(Function::new(
        "file",
        vec![path().marked()],
        Ret::Fixed(Type::String),
        file,
    ));
    r.add(Function::new(
        "filebase64",
        vec![path().marked()],
        Ret::Fixed(Type::String),
        filebase64,
    ));
    r.add(Function::new(
        "fileexists",
        vec![path().marked()],
        Ret::Fixed(Type::Bool),
        fileexists,
    ));
    r.add(Function::new(
        "fileset",
        vec![
            path().marked(),
            Param::new("pattern", Type::String).marked(),
        ],
        Ret::Fixed(Type::set(Type::String)),
        fileset,
    ));
    r.add(Function::new(
        "templatefile",
        vec![path().marked(), Param::new("vars", Type::Dynamic)],
        Ret::Dynamic,
        templatefile,
    ));
}

/// A failure that Terraform reports as "Call to function ... failed: {msg}."
fn fail(msg: impl std::fmt::Display) -> FnError {
    FnError::new(format!("{msg}."))
}

/// A failure that Terraform attributes to a parameter.
fn arg_fail(i: usize, param: &str, msg: impl std::fmt::Display) -> FnError {
    FnError::arg(
        i,
        format!("Invalid value for \"{param}\" parameter: {msg}."),
    )
}

/// A string argument (possibly marked sensitive) and whether it was marked.
fn marked_str(args: &[Value], i: usize) -> Result<(String, bool), FnError> {
    let v = args
        .get(i)
        .ok_or_else(|| FnError::arg(i, "a string is required"))?;
    let (v, s) = v.clone().unmark();
    let text = v
        .as_str()
        .ok_or_else(|| FnError::arg(i, "a string is required"))?;
    Ok((text.to_string(), s))
}

/// Terraform's `redactIfSensitive` for a string: quoted, or "(sensitive value)".
fn redact(s: &str, sensitive: bool) -> String {
    if sensitive {
        "(sensitive value)".to_string()
    } else {
        go_quote(s.as_bytes())
    }
}

fn plain_str(args: &[Value], i: usize) -> Result<&str, FnError> {
    super::util::str_arg(args, i)
}

fn abspath(ctx: &FnCtx<'_>, args: &[Value]) -> FnResult {
    let p = plain_str(args, 0)?;
    if p.starts_with('/') {
        return Ok(Value::string(clean(p)));
    }
    // Go's `filepath.Abs` joins to `os.Getwd`: here the run's working directory.
    Ok(Value::string(join(&[&ctx.base_dir.to_string_lossy(), p])))
}

fn basename(_: &FnCtx<'_>, args: &[Value]) -> FnResult {
    Ok(Value::string(base(plain_str(args, 0)?)))
}

fn dirname(_: &FnCtx<'_>, args: &[Value]) -> FnResult {
    Ok(Value::string(dir(plain_str(args, 0)?)))
}

fn pathexpand(_: &FnCtx<'_>, args: &[Value]) -> FnResult {
    expand_home(plain_str(args, 0)?)
        .map(Value::string)
        .map_err(fail)
}

fn file(ctx: &FnCtx<'_>, args: &[Value]) -> FnResult {
    let (path, s) = marked_str(args, 0)?;
    let bytes = read_file_bytes(ctx, &path, s)?;
    match String::from_utf8(bytes) {
        Ok(text) => Ok(Value::string(text).with_sensitive(s)),
        Err(_) => Err(fail(format!(
            "contents of {} are not valid UTF-8; use the filebase64 function to obtain the Base64 encoded contents or the other file functions (e.g. filemd5, filesha256) to obtain file hashing results instead",
            redact(&path, s)
        ))),
    }
}

fn filebase64(ctx: &FnCtx<'_>, args: &[Value]) -> FnResult {
    use base64::Engine;
    let (path, s) = marked_str(args, 0)?;
    let bytes = read_file_bytes(ctx, &path, s)?;
    let enc = base64::engine::general_purpose::STANDARD.encode(bytes);
    Ok(Value::string(enc).with_sensitive(s))
}

/// Terraform's `readFileBytes`: the hint for a missing file, other failures as Go words them.
fn read_file_bytes(ctx: &FnCtx<'_>, path: &str, sensitive: bool) -> Result<Vec<u8>, FnError> {
    let shown = open_path(path).map_err(|e| arg_fail(0, "path", e))?;
    match gocompat::read_file(ctx, &shown) {
        Ok(bytes) => Ok(bytes),
        Err(gocompat::ReadError::Open(e)) if e.kind() == std::io::ErrorKind::NotFound => {
            Err(arg_fail(
                0,
                "path",
                format!(
                    "no file exists at {}; this function works only with files that are distributed as part of the configuration source code, so if this file will be created by a resource in this configuration you must instead obtain this result from an attribute of that resource",
                    redact(path, sensitive)
                ),
            ))
        }
        Err(gocompat::ReadError::Open(e)) => Err(arg_fail(
            0,
            "path",
            format!("open {shown}: {}", io_error_text(&e)),
        )),
        Err(gocompat::ReadError::Read(e)) => Err(arg_fail(
            0,
            "path",
            format!("failed to read file: read {shown}: {}", io_error_text(&e)),
        )),
    }
}

/// Terraform's `openFile` path handling: `~` expanded, joined to the base directory ".",
/// cleaned. The result is the path as Terraform shows it in messages.
pub(super) fn open_path(path: &str) -> Result<String, String> {
    let p = expand_home(path).map_err(|e| format!("failed to expand ~: {e}"))?;
    Ok(if p.starts_with('/') {
        clean(&p)
    } else {
        join(&[".", &p])
    })
}

fn fileexists(ctx: &FnCtx<'_>, args: &[Value]) -> FnResult {
    let (path, s) = marked_str(args, 0)?;
    let p = open_path(&path).map_err(fail)?;
    let meta = match std::fs::metadata(resolve(ctx, p.as_bytes())) {
        Ok(m) => m,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            return Ok(Value::bool(false).with_sensitive(s))
        }
        Err(_) => return Err(fail(format!("failed to stat {}", redact(&p, s)))),
    };
    let ft = meta.file_type();
    if ft.is_file() {
        return Ok(Value::bool(true).with_sensitive(s));
    }
    let name = redact(&p, s);
    let what = if ft.is_dir() {
        format!("{name} is a directory, not a file")
    } else {
        special_file_kind(&ft)
            .map(|k| format!("{name} is a {k}, not a regular file"))
            .unwrap_or_else(|| format!("{name} is not a regular file"))
    };
    Err(fail(what))
}

#[cfg(unix)]
fn special_file_kind(ft: &std::fs::FileType) -> Option<&'static str> {
    use std::os::unix::fs::FileTypeExt;
    if ft.is_block_device() || ft.is_char_device() {
        Some("device node")
    } else if ft.is_fifo() {
        Some("named pipe")
    } else if ft.is_socket() {
        Some("unix domain socket")
    } else {
        None
    }
}

#[cfg(not(unix))]
fn special_file_kind(_: &std::fs::FileType) -> Option<&'static str> {
    None
}

fn fileset(ctx: &FnCtx<'_>, args: &[Value]) -> FnResult {
    let (path, ps) = marked_str(args, 0)?;
    let (pattern, pats) = marked_str(args, 1)?;
    let sensitive = ps || pats;
    let path = if path.starts_with('/') {
        clean(&path)
    } else {
        join(&[".", &path])
    };
    let pattern = join(&[&path, &pattern]);
    let matches = glob::glob(ctx, pattern.as_bytes()).map_err(|e| {
        fail(format!(
            "failed to glob pattern {}: {e}",
            redact(&pattern, sensitive)
        ))
    })?;
    let mut out = Vec::new();
    for m in matches {
        let shown = String::from_utf8_lossy(&m).into_owned();
        let meta = std::fs::metadata(resolve(ctx, &m)).map_err(|e| {
            fail(format!(
                "failed to stat {}: stat {shown}: {}",
                redact(&shown, sensitive),
                io_error_text(&e)
            ))
        })?;
        if !meta.file_type().is_file() {
            continue;
        }
        let rel_path = rel(&path, &shown).map_err(|e| {
            fail(format!(
                "failed to trim path of match {}: {e}",
                redact(&shown, sensitive)
            ))
        })?;
        out.push(Value::string(rel_path));
    }
    Ok(Value::set(Type::String, out).with_sensitive(sensitive))
}

fn templatefile(_: &FnCtx<'_>, _: &[Value]) -> FnResult {
    Err(FnError::new(
        "templatefile must be called through the evaluator",
    ))
}

/// go-homedir's `Expand`: a leading `~` (alone or before a separator) becomes `$HOME`.
fn expand_home(path: &str) -> Result<String, String> {
    let b = path.as_bytes();
    if b.first() != Some(&b'~') {
        return Ok(path.to_string());
    }
    if b.len() > 1 && b[1] != b'/' && b[1] != b'\\' {
        return Err("cannot expand user-specific home dir".into());
    }
    let home = std::env::var("HOME").unwrap_or_default();
    if home.is_empty() {
        return Err("blank output when reading home directory".into());
    }
    Ok(join(&[&home, &path[1..]]))
}

/// Go's `filepath.Clean` (Unix).
pub(super) fn clean(path: &str) -> String {
    if path.is_empty() {
        return ".".into();
    }
    let rooted = path.starts_with('/');
    let mut parts: Vec<&str> = Vec::new();
    for el in path.split('/') {
        match el {
            "" | "." => {}
            ".." => {
                if parts.last().is_some_and(|p| *p != "..") {
                    parts.pop();
                } else if !rooted {
                    parts.push("..");
                }
            }
            other => parts.push(other),
        }
    }
    let body = parts.join("/");
    match (rooted, body.is_empty()) {
        (true, _) => format!("/{body}"),
        (false, true) => ".".into(),
        (false, false) => body,
    }
}

/// Go's `filepath.Join`: the non-empty elements joined by "/" and cleaned ("" if none).
pub(super) fn join(elems: &[&str]) -> String {
    let parts: Vec<&str> = elems.iter().copied().filter(|e| !e.is_empty()).collect();
    if parts.is_empty() {
        return String::new();
    }
    clean(&parts.join("/"))
}

/// Go's `filepath.Base`.
fn base(path: &str) -> String {
    if path.is_empty() {
        return ".".into();
    }
    let trimmed = path.trim_end_matches('/');
    if trimmed.is_empty() {
        return "/".into();
    }
    match trimmed.rfind('/') {
        Some(i) => trimmed[i + 1..].to_string(),
        None => trimmed.to_string(),
    }
}

/// Go's `filepath.Dir`.
fn dir(path: &str) -> String {
    match path.rfind('/') {
        Some(i) => clean(&path[..=i]),
        None => ".".into(),
    }
}

/// Go's `filepath.Rel` (Unix).
fn rel(basepath: &str, targpath: &str) -> Result<String, String> {
    let base = clean(basepath);
    let targ = clean(targpath);
    if targ == base {
        return Ok(".".into());
    }
    let base = if base == "." { String::new() } else { base };
    let base_slashed = base.starts_with('/');
    let targ_slashed = targ.starts_with('/');
    let cant = || format!("Rel: can't make {targpath} relative to {basepath}");
    if base_slashed != targ_slashed {
        return Err(cant());
    }
    let (b, t) = (base.as_bytes(), targ.as_bytes());
    let (bl, tl) = (b.len(), t.len());
    let (mut b0, mut bi, mut t0, mut ti) = (0, 0, 0, 0);
    loop {
        while bi < bl && b[bi] != b'/' {
            bi += 1;
        }
        while ti < tl && t[ti] != b'/' {
            ti += 1;
        }
        if t[t0..ti] != b[b0..bi] {
            break;
        }
        if bi < bl {
            bi += 1;
        }
        if ti < tl {
            ti += 1;
        }
        b0 = bi;
        t0 = ti;
        if b0 >= bl && t0 >= tl {
            break;
        }
    }
    if &b[b0..bi] == b".." {
        return Err(cant());
    }
    if b0 != bl {
        let seps = b[b0..bl].iter().filter(|c| **c == b'/').count();
        let mut out = String::from("..");
        for _ in 0..seps {
            out.push_str("/..");
        }
        if t0 != tl {
            out.push('/');
            out.push_str(&targ[t0..]);
        }
        return Ok(out);
    }
    Ok(targ[t0..].to_string())
}

/// Go behaviours other function files share: `strconv.Quote`, OS error texts, and reading a
/// file the way Terraform's `openFile` does.
pub(super) mod gocompat {
    use super::FnCtx;
    use std::path::PathBuf;

    /// Go's `strconv.Quote` of a byte string (`%q`): invalid UTF-8 bytes become `\xNN`.
    pub use baton_core::gotext::quote_bytes as go_quote;

    /// The text Go gives an OS error (`syscall.Errno.Error()`): "no such file or directory".
    pub fn io_error_text(e: &std::io::Error) -> String {
        let text = e.to_string();
        let text = match text.find(" (os error ") {
            Some(i) => text[..i].to_string(),
            None => text,
        };
        let mut chars = text.chars();
        match chars.next() {
            Some(first) => first.to_lowercase().chain(chars).collect(),
            None => text,
        }
    }

    /// Where a path Terraform would use relative to "." lives on disk.
    pub fn resolve(ctx: &FnCtx<'_>, path: &[u8]) -> PathBuf {
        let p = bytes_to_path(path);
        if p.is_absolute() {
            p
        } else {
            ctx.base_dir.join(p)
        }
    }

    #[cfg(unix)]
    fn bytes_to_path(b: &[u8]) -> PathBuf {
        use std::os::unix::ffi::OsStrExt;
        PathBuf::from(std::ffi::OsStr::from_bytes(b))
    }

    #[cfg(not(unix))]
    fn bytes_to_path(b: &[u8]) -> PathBuf {
        PathBuf::from(String::from_utf8_lossy(b).into_owned())
    }

    #[cfg(unix)]
    pub fn os_to_bytes(s: &std::ffi::OsStr) -> Vec<u8> {
        use std::os::unix::ffi::OsStrExt;
        s.as_bytes().to_vec()
    }

    #[cfg(not(unix))]
    pub fn os_to_bytes(s: &std::ffi::OsStr) -> Vec<u8> {
        s.to_string_lossy().into_owned().into_bytes()
    }

    /// Why reading a file failed: opening it, or reading it (a directory opens but does not
    /// read, as in Go).
    pub enum ReadError {
        Open(std::io::Error),
        Read(std::io::Error),
    }

    /// Reads the file at `shown` (a path as Terraform computes it, relative to ".").
    pub fn read_file(ctx: &FnCtx<'_>, shown: &str) -> Result<Vec<u8>, ReadError> {
        use std::io::Read;
        let mut f = std::fs::File::open(resolve(ctx, shown.as_bytes())).map_err(ReadError::Open)?;
        let mut buf = Vec::new();
        f.read_to_end(&mut buf).map_err(ReadError::Read)?;
        Ok(buf)
    }
}

/// doublestar v1.1.5's `Glob` (the version Terraform 1.11 uses), over byte strings.
mod glob {
    use super::gocompat::{os_to_bytes, resolve};
    use super::FnCtx;

    /// `path.ErrBadPattern`.
    #[derive(Debug)]
    pub struct BadPattern;

    impl std::fmt::Display for BadPattern {
        fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            f.write_str("syntax error in pattern")
        }
    }

    /// Bounds on the walk: symbolic-link cycles end when the OS refuses the path, as in Go,
    /// but the recursion and the result are also capped.
    const MAX_DEPTH: usize = 512;
    const MAX_MATCHES: usize = 1_000_000;

    pub fn glob(ctx: &FnCtx<'_>, pattern: &[u8]) -> Result<Vec<Vec<u8>>, String> {
        let components = split_path_on_separator(pattern, b'/');
        let mut matches = Vec::new();
        let first_empty = components.first().is_some_and(|c| c.is_empty());
        let err = if pattern.starts_with(b"\\\\") {
            // Go treats this as a Windows UNC path and slices off four components.
            if components.len() < 4 {
                return Err(format!(
                    "panic in function implementation: runtime error: slice bounds out of range [4:{}]",
                    components.len()
                ));
            }
            do_glob(ctx, b"/".to_vec(), &components[4..], &mut matches, 0)
        } else if first_empty {
            do_glob(ctx, b"/".to_vec(), &components[1..], &mut matches, 0)
        } else {
            do_glob(ctx, b".".to_vec(), &components, &mut matches, 0)
        };
        match err {
            Some(e) => Err(e.to_string()),
            None => Ok(matches),
        }
    }

    /// `filepath.Join` over byte strings: the non-empty parts joined by "/" and cleaned.
    fn join_parts(parts: &[&[u8]]) -> Vec<u8> {
        let mut joined: Vec<u8> = Vec::new();
        for part in parts.iter().filter(|p| !p.is_empty()) {
            if !joined.is_empty() {
                joined.push(b'/');
            }
            joined.extend_from_slice(part);
        }
        if joined.is_empty() {
            return joined;
        }
        let rooted = joined.first() == Some(&b'/');
        let mut kept: Vec<&[u8]> = Vec::new();
        for el in joined.split(|c| *c == b'/') {
            match el {
                b"" | b"." => {}
                b".." => {
                    if kept.last().is_some_and(|p| *p != b"..") {
                        kept.pop();
                    } else if !rooted {
                        kept.push(b"..");
                    }
                }
                other => kept.push(other),
            }
        }
        let mut out = Vec::new();
        if rooted {
            out.push(b'/');
        }
        for (i, p) in kept.iter().enumerate() {
            if i > 0 {
                out.push(b'/');
            }
            out.extend_from_slice(p);
        }
        if out.is_empty() {
            out.push(b'.');
        }
        out
    }

    fn join(a: &[u8], b: &[u8]) -> Vec<u8> {
        join_parts(&[a, b])
    }

    /// doublestar's `doGlob`; returns the error the Go code would return (later assignments
    /// overwrite earlier ones there, and so here).
    fn do_glob(
        ctx: &FnCtx<'_>,
        mut basedir: Vec<u8>,
        components: &[Vec<u8>],
        m: &mut Vec<Vec<u8>>,
        depth: usize,
    ) -> Option<BadPattern> {
        if depth > MAX_DEPTH || m.len() > MAX_MATCHES {
            return None;
        }
        let pat_len = components.len();
        let mut pat_idx = components
            .iter()
            .position(|c| c.iter().any(|b| b"*?[{\\".contains(b)))
            .unwrap_or(pat_len);
        if pat_idx > 0 {
            let parts: Vec<&[u8]> = components[..pat_idx].iter().map(Vec::as_slice).collect();
            basedir = join(&basedir, &join_parts(&parts));
        }
        let path = resolve(ctx, &basedir);
        let Ok(lmeta) = std::fs::symlink_metadata(&path) else {
            return None;
        };
        if pat_idx >= pat_len {
            m.push(basedir);
            return None;
        }
        let meta = if lmeta.file_type().is_symlink() {
            match std::fs::metadata(&path) {
                Ok(x) => x,
                Err(_) => return None,
            }
        } else {
            lmeta
        };
        if !meta.is_dir() {
            return None;
        }
        let Ok(rd) = std::fs::read_dir(&path) else {
            return None;
        };
        let files: Vec<(Vec<u8>, std::fs::FileType)> = rd
            .map_while(Result::ok)
            .filter_map(|e| Some((os_to_bytes(&e.file_name()), e.file_type().ok()?)))
            .collect();
        let mut e: Option<BadPattern> = None;
        let mut last_component = pat_idx + 1 >= pat_len;
        if components[pat_idx] == b"**" {
            for (name, ft) in &files {
                let child = join(&basedir, name);
                let is_dir = if ft.is_symlink() {
                    match std::fs::metadata(resolve(ctx, &child)) {
                        Ok(x) => x.is_dir(),
                        Err(_) => continue,
                    }
                } else {
                    ft.is_dir()
                };
                if is_dir {
                    if last_component {
                        m.push(child.clone());
                    }
                    e = do_glob(ctx, child, &components[pat_idx..], m, depth + 1);
                } else if last_component {
                    m.push(child);
                }
            }
            if last_component {
                return e;
            }
            pat_idx += 1;
            last_component = pat_idx + 1 >= pat_len;
        }
        for (name, _) in &files {
            match match_component(&components[pat_idx], name) {
                Err(err) => return Some(err),
                Ok(false) => e = None,
                Ok(true) => {
                    e = None;
                    let child = join(&basedir, name);
                    if last_component {
                        m.push(child);
                    } else {
                        e = do_glob(ctx, child, &components[pat_idx + 1..], m, depth + 1);
                    }
                }
            }
        }
        e
    }

    const RUNE_ERROR: u32 = 0xFFFD;

    /// Go's `utf8.DecodeRuneInString`: (RuneError, 1) for a bad byte, (RuneError, 0) at end.
    fn decode(s: &[u8]) -> (u32, usize) {
        let Some(&b0) = s.first() else {
            return (RUNE_ERROR, 0);
        };
        if b0 < 0x80 {
            return (u32::from(b0), 1);
        }
        let n = match b0 {
            0xC2..=0xDF => 2,
            0xE0..=0xEF => 3,
            0xF0..=0xF4 => 4,
            _ => return (RUNE_ERROR, 1),
        };
        match s.get(..n).and_then(|p| std::str::from_utf8(p).ok()) {
            Some(t) => (t.chars().next().map_or(RUNE_ERROR, u32::from), n),
            None => (RUNE_ERROR, 1),
        }
    }

    /// Go's `[]rune(string)`.
    fn runes(s: &[u8]) -> Vec<u32> {
        let mut out = Vec::new();
        let mut i = 0;
        while i < s.len() {
            let (r, n) = decode(&s[i..]);
            out.push(r);
            i += n.max(1);
        }
        out
    }

    fn index_byte(s: &[u8], c: u8) -> Option<usize> {
        s.iter().position(|b| *b == c)
    }

    /// doublestar's `indexRuneWithEscaping` (for ASCII runes).
    fn index_rune_with_escaping(s: &[u8], r: u8) -> Option<usize> {
        let end = index_byte(s, r)?;
        if end > 0 && s[end - 1] == b'\\' {
            let start = end + 1;
            let next = index_rune_with_escaping(s.get(start..)?, r)?;
            return Some(next + start);
        }
        Some(end)
    }

    /// doublestar's `splitPathOnSeparator` (for ASCII separators).
    fn split_path_on_separator(path: &[u8], sep: u8) -> Vec<Vec<u8>> {
        let cnt = path.iter().filter(|b| **b == sep).count();
        if cnt == 0 {
            return vec![path.to_vec()];
        }
        let mut ret: Vec<Vec<u8>> = Vec::with_capacity(cnt + 1);
        let mut start = 0;
        let mut empty_end = false;
        while start < path.len() {
            let end = match index_rune_with_escaping(&path[start..], sep) {
                None => {
                    empty_end = false;
                    path.len()
                }
                Some(e) => {
                    empty_end = true;
                    e + start
                }
            };
            ret.push(path[start..end].to_vec());
            start = end + 1;
        }
        if empty_end {
            ret.push(Vec::new());
        }
        ret
    }

    /// doublestar's `matchComponent`.
    fn match_component(pattern: &[u8], name: &[u8]) -> Result<bool, BadPattern> {
        let (plen, nlen) = (pattern.len(), name.len());
        if plen == 0 && nlen == 0 {
            return Ok(true);
        }
        if plen == 0 {
            return Ok(false);
        }
        if nlen == 0 && pattern != b"*" {
            return Ok(false);
        }
        let (mut pi, mut ni) = (0usize, 0usize);
        while pi < plen && ni < nlen {
            let (pr, pa) = decode(&pattern[pi..]);
            let (nr, na) = decode(&name[ni..]);
            if pr == u32::from(b'\\') {
                pi += pa;
                let (pr2, pa2) = decode(pattern.get(pi..).unwrap_or_default());
                if pr2 == RUNE_ERROR {
                    return Err(BadPattern);
                } else if pr2 == nr {
                    pi += pa2;
                    ni += na;
                } else {
                    return Ok(false);
                }
            } else if pr == u32::from(b'*') {
                pi += pa;
                if pi >= plen {
                    return Ok(true);
                }
                while ni < nlen {
                    if matches!(match_component(&pattern[pi..], &name[ni..]), Ok(true)) {
                        return Ok(true);
                    }
                    ni += na.max(1);
                }
                return Ok(false);
            } else if pr == u32::from(b'[') {
                pi += pa;
                let rest = pattern.get(pi..).unwrap_or_default();
                let end = index_rune_with_escaping(rest, b']').ok_or(BadPattern)? + pi;
                let class = runes(&pattern[pi..end]);
                if class.is_empty() {
                    return Err(BadPattern);
                }
                let negated = class[0] == u32::from(b'^');
                let mut ci = usize::from(negated);
                let mut matched = false;
                let (dash, esc) = (u32::from(b'-'), u32::from(b'\\'));
                while ci < class.len() {
                    let mut low = class[ci];
                    if low == dash {
                        return Err(BadPattern);
                    }
                    ci += 1;
                    if low == esc {
                        low = *class.get(ci).ok_or(BadPattern)?;
                        ci += 1;
                    }
                    let mut high = low;
                    if class.get(ci) == Some(&dash) {
                        ci += 1;
                        high = *class.get(ci).ok_or(BadPattern)?;
                        if high == dash {
                            return Err(BadPattern);
                        }
                        ci += 1;
                        if high == esc {
                            high = *class.get(ci).ok_or(BadPattern)?;
                            ci += 1;
                        }
                    }
                    if low <= nr && nr <= high {
                        matched = true;
                    }
                }
                if matched == negated {
                    return Ok(false);
                }
                pi = end + 1;
                ni += na;
            } else if pr == u32::from(b'{') {
                pi += pa;
                let rest = pattern.get(pi..).unwrap_or_default();
                let end = index_rune_with_escaping(rest, b'}').ok_or(BadPattern)? + pi;
                let options = split_path_on_separator(&pattern[pi..end], b',');
                pi = end + 1;
                let tail = pattern.get(pi..).unwrap_or_default();
                for o in options {
                    let mut p = o;
                    p.extend_from_slice(tail);
                    if match_component(&p, &name[ni..])? {
                        return Ok(true);
                    }
                }
                return Ok(false);
            } else if pr == u32::from(b'?') || pr == nr {
                pi += pa;
                ni += na;
            } else {
                return Ok(false);
            }
        }
        if pi >= plen && ni >= nlen {
            return Ok(true);
        }
        let rest = pattern.get(pi..).unwrap_or_default();
        if (ni >= nlen && rest == b"*") || rest == b"**" {
            return Ok(true);
        }
        Ok(false)
    }

    #[cfg(test)]
    mod tests {
        use super::*;

        #[test]
        fn components_match_like_doublestar() {
            let m = |p: &str, n: &str| match_component(p.as_bytes(), n.as_bytes()).ok();
            assert_eq!(m("*.txt", "a.txt"), Some(true));
            assert_eq!(m("*.txt", ".txt"), Some(true));
            assert_eq!(m("a?c", "abc"), Some(true));
            assert_eq!(m("[a-c]x", "bx"), Some(true));
            assert_eq!(m("[^a-c]x", "bx"), Some(false));
            assert_eq!(m("{a,b}.txt", "b.txt"), Some(true));
            assert_eq!(m("\\*", "*"), Some(true));
            assert_eq!(m("[", "a"), None);
            assert_eq!(m("a[", "b"), Some(false));
            assert_eq!(m("[]", "a"), None);
        }

        #[test]
        fn splits_respect_escapes() {
            let s = split_path_on_separator(b"/a\\/b/c/", b'/');
            assert_eq!(
                s,
                vec![b"".to_vec(), b"a\\/b".to_vec(), b"c".to_vec(), b"".to_vec()]
            );
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::testutil::call_fn;
    use super::*;

    fn s(v: &str) -> Value {
        Value::string(v)
    }

    fn call_str(name: &str, args: Vec<Value>) -> String {
        match call_fn(name, args) {
            Ok(v) => v.as_str().map(str::to_string).unwrap_or_default(),
            Err(e) => format!("ERR: {}", e.message),
        }
    }

    fn err(name: &str, args: Vec<Value>) -> String {
        match call_fn(name, args) {
            Ok(v) => format!("unexpected success: {v:?}"),
            Err(e) => e.message,
        }
    }

    /// A scratch directory under the system temp dir, removed on drop.
    struct Scratch(std::path::PathBuf);

    impl Scratch {
        fn new(tag: &str) -> Scratch {
            use std::sync::atomic::{AtomicUsize, Ordering};
            static N: AtomicUsize = AtomicUsize::new(0);
            let dir = std::env::temp_dir().join(format!(
                "baton-fs-{tag}-{}-{}",
                std::process::id(),
                N.fetch_add(1, Ordering::SeqCst)
            ));
            std::fs::create_dir_all(&dir).expect("create scratch dir");
            Scratch(dir)
        }
        fn write(&self, rel: &str, data: &[u8]) {
            let p = self.0.join(rel);
            if let Some(parent) = p.parent() {
                std::fs::create_dir_all(parent).expect("create parent");
            }
            std::fs::write(p, data).expect("write file");
        }
        fn path(&self, rel: &str) -> String {
            self.0.join(rel).to_string_lossy().into_owned()
        }
    }

    impl Drop for Scratch {
        fn drop(&mut self) {
            let _ = std::fs::remove_dir_all(&self.0);
        }
    }

    fn set_items(v: &Value) -> Vec<String> {
        v.as_seq()
            .expect("a set")
            .iter()
            .filter_map(|x| x.as_str().map(str::to_string))
            .collect()
    }

    #[test]
    fn go_path_helpers() {
        assert_eq!(clean(""), ".");
        assert_eq!(clean("//a//b/../c/."), "/a/c");
        assert_eq!(clean("../../a/.."), "../..");
        assert_eq!(clean("/../x"), "/x");
        assert_eq!(rel("/a/b", "/a/b/c/d").as_deref(), Ok("c/d"));
        assert_eq!(rel("/a/b", "/a/x").as_deref(), Ok("../x"));
        assert_eq!(rel("/a", "/a").as_deref(), Ok("."));
        assert_eq!(rel(".", "x/y").as_deref(), Ok("x/y"));
        assert!(rel("/a", "b").is_err());
    }

    #[test]
    fn basename_like_terraform() {
        assert_eq!(call_str("basename", vec![s("")]), ".");
        assert_eq!(call_str("basename", vec![s("/")]), "/");
        assert_eq!(call_str("basename", vec![s("//a//b//")]), "b");
        assert_eq!(call_str("basename", vec![s("ü/é")]), "é");
    }

    #[test]
    fn dirname_like_terraform() {
        assert_eq!(call_str("dirname", vec![s("")]), ".");
        assert_eq!(call_str("dirname", vec![s("/")]), "/");
        assert_eq!(call_str("dirname", vec![s("a/b/")]), "a/b");
        assert_eq!(call_str("dirname", vec![s("a")]), ".");
        assert_eq!(call_str("dirname", vec![s("a/../b/./c")]), "b");
        assert_eq!(call_str("dirname", vec![s("////")]), "/");
    }

    #[test]
    fn abspath_like_terraform() {
        assert_eq!(call_str("abspath", vec![s("/a/../b/")]), "/b");
        assert_eq!(call_str("abspath", vec![s("//x")]), "/x");
        // Relative to the context's base directory, not the process's working directory.
        let base = std::path::Path::new(super::super::testutil::TEST_BASE_DIR);
        assert_eq!(
            call_str("abspath", vec![s("a/./b/..")]),
            base.join("a").to_string_lossy()
        );
        assert_eq!(call_str("abspath", vec![s("")]), base.to_string_lossy());
    }

    #[test]
    fn pathexpand_like_terraform() {
        let home = std::env::var("HOME").unwrap_or_default();
        if !home.is_empty() {
            assert_eq!(call_str("pathexpand", vec![s("~")]), clean(&home));
            assert_eq!(
                call_str("pathexpand", vec![s("~/x/../y/")]),
                join(&[&home, "y"])
            );
        }
        assert_eq!(call_str("pathexpand", vec![s("a/~")]), "a/~");
        assert_eq!(call_str("pathexpand", vec![s("")]), "");
        assert_eq!(
            err("pathexpand", vec![s("~x")]),
            "cannot expand user-specific home dir."
        );
    }

    #[test]
    fn file_reads_utf8_and_reports_errors() {
        let d = Scratch::new("file");
        d.write("a.txt", b"hello\n");
        d.write("bin.dat", b"\xff\xfe");
        assert_eq!(call_str("file", vec![s(&d.path("a.txt"))]), "hello\n");
        let bin = d.path("bin.dat");
        assert_eq!(
            err("file", vec![s(&bin)]),
            format!("contents of \"{bin}\" are not valid UTF-8; use the filebase64 function to obtain the Base64 encoded contents or the other file functions (e.g. filemd5, filesha256) to obtain file hashing results instead.")
        );
        let nope = d.path("nope");
        assert_eq!(
            err("file", vec![s(&nope)]),
            format!("Invalid value for \"path\" parameter: no file exists at \"{nope}\"; this function works only with files that are distributed as part of the configuration source code, so if this file will be created by a resource in this configuration you must instead obtain this result from an attribute of that resource.")
        );
        assert!(err("file", vec![s(&nope).mark_sensitive()])
            .contains("no file exists at (sensitive value);"));
        let dir = d.path("");
        let dir = clean(&dir);
        assert_eq!(
            err("file", vec![s(&dir)]),
            format!("Invalid value for \"path\" parameter: failed to read file: read {dir}: is a directory.")
        );
        assert_eq!(
            err("file", vec![s("~x/nope")]),
            "Invalid value for \"path\" parameter: failed to expand ~: cannot expand user-specific home dir."
        );
        let v = call_fn("file", vec![s(&d.path("a.txt")).mark_sensitive()]).expect("reads");
        assert!(v.is_sensitive());
    }

    #[test]
    fn file_relative_to_base_dir() {
        let d = Scratch::new("rel");
        d.write("sub/x.txt", b"x");
        let sources = baton_core::Sources::new();
        let ctx = FnCtx {
            base_dir: &d.0,
            sources: &sources,
            planning: false,
            plan_timestamp: None,
        };
        let f = super::super::registry().get("file").expect("file");
        let v = super::super::call(f, &ctx, vec![s("sub/../sub/x.txt")]).expect("reads");
        assert_eq!(v.as_str(), Some("x"));
        let e = super::super::call(f, &ctx, vec![s("sub")]).expect_err("a directory");
        assert_eq!(
            e.message,
            "Invalid value for \"path\" parameter: failed to read file: read sub: is a directory."
        );
        // `abspath` joins to the base directory too, not to the process's working directory.
        let abspath = super::super::registry().get("abspath").expect("abspath");
        let v = super::super::call(abspath, &ctx, vec![s("sub/./x.txt")]).expect("abspath");
        assert_eq!(v.as_str(), Some(d.path("sub/x.txt").as_str()));
    }

    #[test]
    fn filebase64_encodes_bytes() {
        let d = Scratch::new("b64");
        d.write("bin.dat", b"\xff\xfe");
        d.write("empty", b"");
        assert_eq!(call_str("filebase64", vec![s(&d.path("bin.dat"))]), "//4=");
        assert_eq!(call_str("filebase64", vec![s(&d.path("empty"))]), "");
        assert!(err("filebase64", vec![s(&d.path("nope"))]).contains("no file exists at"));
    }

    #[test]
    fn fileexists_like_terraform() {
        let d = Scratch::new("exists");
        d.write("a.txt", b"a");
        let t = call_fn("fileexists", vec![s(&d.path("a.txt"))]).expect("ok");
        assert_eq!(t.as_bool(), Some(true));
        let f = call_fn("fileexists", vec![s(&d.path("nope"))]).expect("ok");
        assert_eq!(f.as_bool(), Some(false));
        let dir = clean(&d.path("."));
        assert_eq!(
            err("fileexists", vec![s(&dir)]),
            format!("\"{dir}\" is a directory, not a file.")
        );
        assert_eq!(
            err("fileexists", vec![s(&dir).mark_sensitive()]),
            "(sensitive value) is a directory, not a file."
        );
        assert_eq!(
            err("fileexists", vec![s("~x")]),
            "failed to expand ~: cannot expand user-specific home dir."
        );
        let marked = call_fn("fileexists", vec![s(&d.path("a.txt")).mark_sensitive()]).expect("ok");
        assert!(marked.is_sensitive());
    }

    #[test]
    fn fileset_globs_like_doublestar() {
        let d = Scratch::new("set");
        d.write("a.txt", b"");
        d.write("bin.dat", b"");
        d.write(".dot", b"");
        d.write(".hid/h.txt", b"");
        d.write("sub/b.txt", b"");
        d.write("sub/deep/c.txt", b"");
        let root = d.path("");
        let glob = |p: &str| set_items(&call_fn("fileset", vec![s(&root), s(p)]).expect("globs"));
        assert_eq!(
            glob("**"),
            vec![
                ".dot",
                ".hid/h.txt",
                "a.txt",
                "bin.dat",
                "sub/b.txt",
                "sub/deep/c.txt"
            ]
        );
        assert_eq!(glob("*"), vec![".dot", "a.txt", "bin.dat"]);
        assert_eq!(
            glob("**/*.txt"),
            vec![".hid/h.txt", "a.txt", "sub/b.txt", "sub/deep/c.txt"]
        );
        assert_eq!(glob("sub/*"), vec!["sub/b.txt"]);
        assert_eq!(glob("{a,bin}.*"), vec!["a.txt", "bin.dat"]);
        assert_eq!(glob("[a-b]*"), vec!["a.txt", "bin.dat"]);
        assert_eq!(glob("sub/**"), vec!["sub/b.txt", "sub/deep/c.txt"]);
        assert_eq!(glob("**/"), glob("**"));
        assert!(glob("nomatch").is_empty());
        let up =
            set_items(&call_fn("fileset", vec![s(&d.path("sub")), s("../*.txt")]).expect("globs"));
        assert_eq!(up, vec!["../a.txt"]);
        let none = call_fn("fileset", vec![s(&d.path("nonexistent")), s("*")]).expect("ok");
        assert_eq!(none.ty(), Type::set(Type::String));
        assert!(set_items(&none).is_empty());
        let root_clean = clean(&root);
        assert_eq!(
            err("fileset", vec![s(&root), s("[")]),
            format!("failed to glob pattern \"{root_clean}/[\": syntax error in pattern.")
        );
    }

    #[test]
    fn templatefile_is_registered() {
        let f = super::super::registry()
            .get("templatefile")
            .expect("registered");
        assert_eq!(f.params.len(), 2);
        assert_eq!(
            err("templatefile", vec![s("x"), Value::empty_object()]),
            "templatefile must be called through the evaluator"
        );
    }
}
