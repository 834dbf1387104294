//! `baton fmt`: rewrites `.tf`, `.tfvars` and `.tftest.hcl` files in the canonical layout, as
//! `terraform fmt` does: lists the files it changed, `--check` changes nothing and exits 3 when
//! a file needs formatting, `--diff` prints a unified diff, `-` formats standard input.
//!
//! This is glue only: the layout itself is `baton_config::fmt`. A file with a syntax error is
//! reported (file:line:column and the source line) and never written; the other files are
//! still processed and the command exits 1.

use super::Env;
use crate::cli::FmtArgs;
use anyhow::Context as _;
use baton_config::fmt::{format, FmtError};
use std::io::{Read as _, Write as _};
use std::path::{Component, Path, PathBuf};
use std::process::ExitCode;

/// The file name endings `fmt` processes (Terraform's list).
const EXTENSIONS: &[&str] = &[".tf", ".tfvars", ".tftest.hcl", ".tfmock.hcl"];

pub fn run(env: &Env, a: &FmtArgs) -> anyhow::Result<ExitCode> {
    let mut run = Run {
        opts: a,
        base: &env.dir,
        changed: false,
        failed: false,
        out: std::io::stdout().lock(),
    };
    if a.paths.first().is_some_and(|p| p.as_os_str() == "-") {
        run.stdin()?;
    } else {
        let paths = if a.paths.is_empty() {
            vec![PathBuf::from(".")]
        } else {
            a.paths.clone()
        };
        for path in &paths {
            let meta = std::fs::metadata(env.dir.join(path)).map_err(|_| {
                anyhow::anyhow!("No file or directory at {}", clean(path).display())
            })?;
            if meta.is_dir() {
                run.dir(path);
            } else if is_supported(path) {
                run.file(path);
            } else {
                eprintln!(
                    "Error: Only .tf, .tfvars, and .tftest.hcl files can be processed with baton fmt: {}",
                    clean(path).display()
                );
                run.failed = true;
            }
        }
    }
    // A reader that closed the pipe (`baton fmt - | head`) is no failure (see `crate::out`).
    match run.out.flush() {
        Err(e) if e.kind() != std::io::ErrorKind::BrokenPipe => {
            return Err(e).context("cannot write to standard output");
        }
        _ => {}
    }
    Ok(if run.failed {
        ExitCode::from(1)
    } else if a.check && run.changed {
        ExitCode::from(3)
    } else {
        ExitCode::SUCCESS
    })
}

struct Run<'a> {
    opts: &'a FmtArgs,
    /// Relative paths are relative to the configuration directory (`--chdir`); they are
    /// shown as given.
    base: &'a Path,
    /// Some file was (or, with `--check`, would be) changed.
    changed: bool,
    /// Some file could not be read, parsed or written.
    failed: bool,
    out: std::io::StdoutLock<'static>,
}

impl Run<'_> {
    fn stdin(&mut self) -> anyhow::Result<()> {
        let mut bytes = Vec::new();
        std::io::stdin()
            .read_to_end(&mut bytes)
            .context("cannot read standard input")?;
        let Some(src) = self.decode("<stdin>", bytes) else {
            return Ok(());
        };
        match format(&src) {
            Ok(result) => {
                if result != src {
                    self.changed = true;
                    // With --check, Terraform collects the output and then drops it.
                    if self.opts.diff && !self.opts.check {
                        self.print(&unified_diff(&src, &result, "<stdin>"));
                    }
                }
                if !self.opts.check && !self.opts.diff {
                    // Terraform prints through its UI, which ends the output with exactly
                    // one newline (added when the result has none).
                    let body = result.strip_suffix('\n').unwrap_or(&result);
                    self.print(&format!("{body}\n"));
                }
            }
            Err(e) => self.syntax_error("<stdin>", &src, &e),
        }
        Ok(())
    }

    /// The supported files of a directory in name order; subdirectories too with
    /// `--recursive`. Names Terraform ignores (hidden, editor backups) are skipped.
    fn dir(&mut self, dir: &Path) {
        let mut entries: Vec<(String, bool)> = match std::fs::read_dir(self.base.join(dir)) {
            Ok(rd) => rd
                .filter_map(Result::ok)
                .map(|e| {
                    let is_dir = e.file_type().map(|t| t.is_dir()).unwrap_or(false);
                    (e.file_name().to_string_lossy().into_owned(), is_dir)
                })
                .collect(),
            Err(_) => {
                eprintln!("Error: Cannot read directory {}", clean(dir).display());
                self.failed = true;
                return;
            }
        };
        entries.sort();
        for (name, is_dir) in entries {
            if is_ignored(&name) {
                continue;
            }
            let path = dir.join(&name);
            if is_dir {
                if self.opts.recursive {
                    self.dir(&path);
                }
            } else if is_supported(&path) {
                self.file(&path);
            }
        }
    }

    fn file(&mut self, path: &Path) {
        let shown = clean(path).display().to_string();
        let bytes = match std::fs::read(self.base.join(path)) {
            Ok(b) => b,
            Err(_) => {
                eprintln!("Error: Failed to read file {shown}");
                self.failed = true;
                return;
            }
        };
        let Some(src) = self.decode(&shown, bytes) else {
            return;
        };
        let result = match format(&src) {
            Ok(r) => r,
            Err(e) => {
                self.syntax_error(&shown, &src, &e);
                return;
            }
        };
        if result == src {
            return;
        }
        self.changed = true;
        self.print(&format!("{shown}\n"));
        if !self.opts.check && std::fs::write(self.base.join(path), &result).is_err() {
            eprintln!("Error: Failed to write {shown}");
            self.failed = true;
            return;
        }
        if self.opts.diff {
            self.print(&unified_diff(&src, &result, &shown));
        }
    }

    /// The text of a file, or a reported error at its first byte that is not UTF-8.
    fn decode(&mut self, shown: &str, bytes: Vec<u8>) -> Option<String> {
        match String::from_utf8(bytes) {
            Ok(s) => Some(s),
            Err(e) => {
                let valid = e.utf8_error().valid_up_to();
                let bytes = e.into_bytes();
                let prefix =
                    String::from_utf8_lossy(bytes.get(..valid).unwrap_or_default()).into_owned();
                let line = prefix.matches('\n').count() + 1;
                let column = prefix
                    .rsplit('\n')
                    .next()
                    .map(|l| l.chars().count())
                    .unwrap_or(0)
                    + 1;
                eprintln!(
                    "\nError: {shown}:{line}:{column}: Invalid character encoding: the file is not valid UTF-8\n"
                );
                self.failed = true;
                None
            }
        }
    }

    fn syntax_error(&mut self, shown: &str, src: &str, e: &FmtError) {
        self.failed = true;
        eprintln!("\nError: {shown}:{}:{}: {}\n", e.line, e.column, e.message);
        if let Some(line) = src.split('\n').nth(e.line.saturating_sub(1)) {
            let line = line.strip_suffix('\r').unwrap_or(line);
            let number = e.line.to_string();
            let caret: String = line
                .chars()
                .take(e.column.saturating_sub(1))
                .map(|c| if c == '\t' { '\t' } else { ' ' })
                .collect();
            eprintln!("  {number} | {line}");
            eprintln!("  {} | {caret}^\n", " ".repeat(number.len()));
        }
    }

    fn print(&mut self, s: &str) {
        match self.out.write_all(s.as_bytes()) {
            Err(e) if e.kind() != std::io::ErrorKind::BrokenPipe => self.failed = true,
            _ => {}
        }
    }
}

fn is_supported(path: &Path) -> bool {
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy())
        .unwrap_or_default();
    EXTENSIONS.iter().any(|e| name.ends_with(e))
}

/// Terraform's ignored names: hidden files, editor backups (`x~`) and auto-saves (`#x#`).
fn is_ignored(name: &str) -> bool {
    name.starts_with('.')
        || name.ends_with('~')
        || (name.len() > 1 && name.starts_with('#') && name.ends_with('#'))
}

/// A path without `.` components (`./a/./b.tf` → `a/b.tf`), as it is shown.
fn clean(path: &Path) -> PathBuf {
    let cleaned: PathBuf = path
        .components()
        .filter(|c| !matches!(c, Component::CurDir))
        .collect();
    if cleaned.as_os_str().is_empty() {
        PathBuf::from(".")
    } else {
        cleaned
    }
}

// ---------------------------------------------------------------------------------------------
// Unified diff (the output of `diff -u`, which Terraform runs for `-diff`).

const CONTEXT: usize = 3;

#[derive(Clone, Copy, PartialEq, Eq)]
enum Op {
    Same,
    Del,
    Add,
}

fn unified_diff(old: &str, new: &str, shown: &str) -> String {
    let a: Vec<&str> = old.split_inclusive('\n').collect();
    let b: Vec<&str> = new.split_inclusive('\n').collect();
    let ops = diff_lines(&a, &b);
    let mut out = format!("--- old/{shown}\n+++ new/{shown}\n");

    // Positions (old index, new index) before each op.
    let mut pos = Vec::with_capacity(ops.len() + 1);
    let (mut i, mut j) = (0usize, 0usize);
    for op in &ops {
        pos.push((i, j));
        match op {
            Op::Same => {
                i += 1;
                j += 1;
            }
            Op::Del => i += 1,
            Op::Add => j += 1,
        }
    }
    pos.push((i, j));

    let changes: Vec<usize> = (0..ops.len()).filter(|&k| ops[k] != Op::Same).collect();
    let mut k = 0;
    while k < changes.len() {
        // Extend the hunk while the next change is close enough to share context.
        let first = changes[k];
        let mut last = first;
        while k + 1 < changes.len() && changes[k + 1] - last <= 2 * CONTEXT + 1 {
            k += 1;
            last = changes[k];
        }
        k += 1;
        let start = first.saturating_sub(CONTEXT);
        let end = (last + 1 + CONTEXT).min(ops.len());
        let (a0, b0) = pos[start];
        let (a1, b1) = pos[end];
        out.push_str(&format!(
            "@@ -{} +{} @@\n",
            range(a0, a1 - a0),
            range(b0, b1 - b0)
        ));
        // Write the hunk body.
        for (idx, op) in ops[start..end].iter().enumerate() {
            let (i, j) = pos[start + idx];
            let (line, mark) = match op {
                Op::Same => (a.get(i).copied().unwrap_or(""), ' '),
                Op::Del => (a.get(i).copied().unwrap_or(""), '-'),
                Op::Add => (b.get(j).copied().unwrap_or(""), '+'),
            };
            out.push(mark);
            out.push_str(line);
            if !line.ends_with('\n') {
                out.push_str("\n\\ No newline at end of file\n");
            }
        }
    }
    out
}

/// GNU diff's hunk range: `start,count`, `start` alone for one line, and the line before the
/// hunk for an empty range.
fn range(start: usize, count: usize) -> String {
    match count {
        0 => format!("{start},0"),
        1 => format!("{}", start + 1),
        n => format!("{},{n}", start + 1),
    }
}

/// A shortest edit script between two lists of lines (Myers), deletions before additions.
/// Common prefix and suffix are matched first; a middle that would need more than a few
/// thousand edits is replaced whole.
fn diff_lines(a: &[&str], b: &[&str]) -> Vec<Op> {
    let prefix = a.iter().zip(b).take_while(|(x, y)| x == y).count();
    let suffix = a[prefix..]
        .iter()
        .rev()
        .zip(b[prefix..].iter().rev())
        .take_while(|(x, y)| x == y)
        .count();
    let am = &a[prefix..a.len() - suffix];
    let bm = &b[prefix..b.len() - suffix];
    let mut ops = vec![Op::Same; prefix];
    match myers(am, bm, 2000) {
        Some(mid) => ops.extend(mid),
        None => {
            ops.extend(std::iter::repeat_n(Op::Del, am.len()));
            ops.extend(std::iter::repeat_n(Op::Add, bm.len()));
        }
    }
    ops.extend(std::iter::repeat_n(Op::Same, suffix));

    // Slide the changes as GNU diff does, then read the script back.
    let mut changed_a = vec![false; a.len() + 2];
    let mut changed_b = vec![false; b.len() + 2];
    let (mut i, mut j) = (0, 0);
    for op in &ops {
        match op {
            Op::Same => {
                i += 1;
                j += 1;
            }
            Op::Del => {
                changed_a[i + 1] = true;
                i += 1;
            }
            Op::Add => {
                changed_b[j + 1] = true;
                j += 1;
            }
        }
    }
    shift_boundaries(a, &mut changed_a, &changed_b);
    shift_boundaries(b, &mut changed_b, &changed_a);
    let mut ops = Vec::with_capacity(a.len() + b.len());
    let (mut i, mut j) = (0, 0);
    while i < a.len() || j < b.len() {
        if i < a.len() && changed_a[i + 1] {
            ops.push(Op::Del);
            i += 1;
        } else if j < b.len() && changed_b[j + 1] {
            ops.push(Op::Add);
            j += 1;
        } else {
            ops.push(Op::Same);
            i += 1;
            j += 1;
        }
    }
    ops
}

/// GNU diff's `shift_boundaries`: moves each run of changed lines back to merge with the
/// previous run when the lines allow, else as far forward as possible, so that the hunks are
/// the ones `diff -u` prints. `changed[k + 1]` is line `k`'s flag; both ends are sentinels.
fn shift_boundaries(lines: &[&str], changed: &mut [bool], other: &[bool]) {
    let ch = |c: &[bool], x: isize| c.get((x + 1) as usize).copied().unwrap_or(false);
    let set = |c: &mut [bool], x: isize, v: bool| {
        if let Some(slot) = c.get_mut((x + 1) as usize) {
            *slot = v;
        }
    };
    let line = |x: isize| lines.get(x as usize).copied();
    let end = lines.len() as isize;
    let (mut i, mut j): (isize, isize) = (0, 0);
    loop {
        // The start of the next run of changes, and the matching point in the other file.
        while i < end && !ch(changed, i) {
            loop {
                let was = ch(other, j);
                j += 1;
                if !was {
                    break;
                }
            }
            i += 1;
        }
        if i >= end {
            break;
        }
        let mut start = i;
        loop {
            i += 1;
            if !ch(changed, i) {
                break;
            }
        }
        while ch(other, j) {
            j += 1;
        }
        let mut corresponding;
        loop {
            let run = i - start;
            // Back, while the line before the run equals its last line (merging runs).
            while start > 0 && line(start - 1) == line(i - 1) {
                start -= 1;
                set(changed, start, true);
                i -= 1;
                set(changed, i, false);
                while ch(changed, start - 1) {
                    start -= 1;
                }
                loop {
                    j -= 1;
                    if !ch(other, j) {
                        break;
                    }
                }
            }
            corresponding = if ch(other, j - 1) { i } else { end };
            // Forward, while the run's first line equals the line after it.
            while i != end && line(start) == line(i) {
                set(changed, start, false);
                start += 1;
                set(changed, i, true);
                i += 1;
                while ch(changed, i) {
                    i += 1;
                }
                loop {
                    j += 1;
                    if !ch(other, j) {
                        break;
                    }
                    corresponding = i;
                }
            }
            if run == i - start {
                break;
            }
        }
        // Back again to line up with a run of changes in the other file, if there is one.
        while corresponding < i {
            start -= 1;
            set(changed, start, true);
            i -= 1;
            set(changed, i, false);
            loop {
                j -= 1;
                if !ch(other, j) {
                    break;
                }
            }
        }
    }
}

fn myers(a: &[&str], b: &[&str], max_d: usize) -> Option<Vec<Op>> {
    let n = a.len() as isize;
    let m = b.len() as isize;
    let max = a.len() + b.len();
    let limit = max.min(max_d) as isize;
    let offset = max as isize + 1;
    let mut v = vec![0isize; 2 * max + 3];
    // trace[d]: the furthest x on diagonals -d-1..=d+1 before step d.
    let mut trace: Vec<Vec<isize>> = Vec::new();
    let idx = |k: isize| (k + offset) as usize;
    for d in 0..=limit {
        trace.push(v[idx(-d - 1)..=idx(d + 1)].to_vec());
        let mut k = -d;
        while k <= d {
            let mut x = if k == -d || (k != d && v[idx(k - 1)] < v[idx(k + 1)]) {
                v[idx(k + 1)]
            } else {
                v[idx(k - 1)] + 1
            };
            let mut y = x - k;
            while x < n && y < m && a[x as usize] == b[y as usize] {
                x += 1;
                y += 1;
            }
            v[idx(k)] = x;
            if x >= n && y >= m {
                return Some(backtrack(&trace, n, m, d));
            }
            k += 2;
        }
    }
    None
}

fn backtrack(trace: &[Vec<isize>], n: isize, m: isize, d_end: isize) -> Vec<Op> {
    let mut ops = Vec::new();
    let (mut x, mut y) = (n, m);
    for d in (1..=d_end).rev() {
        let row = &trace[d as usize];
        let v = |k: isize| row.get((k + d + 1) as usize).copied().unwrap_or(0);
        let k = x - y;
        let prev_k = if k == -d || (k != d && v(k - 1) < v(k + 1)) {
            k + 1
        } else {
            k - 1
        };
        let prev_x = v(prev_k);
        let prev_y = prev_x - prev_k;
        while x > prev_x && y > prev_y {
            ops.push(Op::Same);
            x -= 1;
            y -= 1;
        }
        ops.push(if x == prev_x { Op::Add } else { Op::Del });
        x = prev_x;
        y = prev_y;
    }
    while x > 0 && y > 0 {
        ops.push(Op::Same);
        x -= 1;
        y -= 1;
    }
    ops.reverse();
    // Within each run of changes, deletions first (as diff prints them).
    let mut i = 0;
    while i < ops.len() {
        if ops[i] == Op::Same {
            i += 1;
            continue;
        }
        let start = i;
        while i < ops.len() && ops[i] != Op::Same {
            i += 1;
        }
        ops[start..i].sort_by_key(|op| *op == Op::Add);
    }
    ops
}
