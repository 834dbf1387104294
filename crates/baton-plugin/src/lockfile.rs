//! Terraform's dependency lock file (`.terraform.lock.hcl`): a typed model, a parser whose
//! errors name file, line and column, a renderer that writes exactly the bytes `terraform init`
//! writes, and Terraform's `h1:` hash of an unpacked provider package directory.
//!
//! This module is pure logic: it reads only the directory it is asked to hash and never starts
//! processes, touches the network or decides which providers to install.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use base64::Engine as _;
use hcl_edit::expr::{Expression, ObjectKey};
use hcl_edit::structure::{Attribute, BlockLabel, Body, Structure};
use hcl_edit::Span as _;
use sha2::{Digest, Sha256};

/// The two comment lines Terraform puts at the top of every lock file.
pub const HEADER: &str = "# This file is maintained automatically by \"terraform init\".\n\
# Manual edits may be lost in future updates.\n";

/// The whole lock file: locked providers by fully qualified address
/// (`registry.terraform.io/hashicorp/aws`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct LockFile {
    pub providers: BTreeMap<String, LockedProvider>,
}

/// One `provider "ADDR" { ... }` block.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct LockedProvider {
    pub version: String,
    pub constraints: Option<String>,
    /// Hashes such as `h1:...` and `zh:...`, kept in the order of the file.
    pub hashes: Vec<String>,
}

/// A lock or CLI configuration file (both HCL) that could not be read or understood. The two
/// modules share the parser helpers, so they share this type under their own names:
/// [`LockError`] here, [`crate::cliconfig::CliConfigError`] there.
#[derive(Debug, thiserror::Error)]
pub enum HclFileError {
    #[error("{file}:{line}:{column}: {message}")]
    Syntax {
        file: String,
        line: usize,
        column: usize,
        message: String,
    },
    /// (`error` is not a `#[source]`: its text is already in this message.)
    #[error("{path}: {error}")]
    Io {
        path: PathBuf,
        error: std::io::Error,
    },
    #[error("{path}: file name contains a newline, which the h1 hash cannot represent")]
    BadFileName { path: PathBuf },
}

/// A lock file that could not be read or understood.
pub type LockError = HclFileError;

/// 1-based line and column (in characters) of a byte offset in `text`.
pub(crate) fn line_col(text: &str, offset: usize) -> (usize, usize) {
    let mut offset = offset.min(text.len());
    while !text.is_char_boundary(offset) {
        offset -= 1;
    }
    let before = &text[..offset];
    let line = before.matches('\n').count() + 1;
    let line_start = before.rfind('\n').map(|i| i + 1).unwrap_or(0);
    (line, before[line_start..].chars().count() + 1)
}

/// Builds [`LockError::Syntax`] for a byte range (or the start of the file when unknown).
pub(crate) fn err_at(
    file: &str,
    text: &str,
    span: Option<std::ops::Range<usize>>,
    message: impl Into<String>,
) -> LockError {
    let (line, column) = line_col(text, span.map(|r| r.start).unwrap_or(0));
    LockError::Syntax {
        file: file.to_string(),
        line,
        column,
        message: message.into(),
    }
}

/// Parses HCL body text, mapping syntax errors to [`LockError::Syntax`].
pub(crate) fn parse_hcl(text: &str, file: &str) -> Result<Body, LockError> {
    hcl_edit::parser::parse_body(text).map_err(|e| LockError::Syntax {
        file: file.to_string(),
        line: e.location().line(),
        column: e.location().column(),
        message: e.message().to_string(),
    })
}

/// The value of a string literal attribute.
pub(crate) fn string_attr(attr: &Attribute, file: &str, text: &str) -> Result<String, LockError> {
    match &attr.value {
        Expression::String(s) => Ok(s.value().clone()),
        other => Err(err_at(
            file,
            text,
            other.span(),
            format!("`{}` must be a string", attr.key.as_str()),
        )),
    }
}

/// The value of an attribute that must be a list of string literals.
pub(crate) fn string_list_attr(
    attr: &Attribute,
    file: &str,
    text: &str,
) -> Result<Vec<String>, LockError> {
    let Expression::Array(arr) = &attr.value else {
        return Err(err_at(
            file,
            text,
            attr.value.span(),
            format!("`{}` must be a list of strings", attr.key.as_str()),
        ));
    };
    arr.iter()
        .map(|e| match e {
            Expression::String(s) => Ok(s.value().clone()),
            other => Err(err_at(
                file,
                text,
                other.span(),
                format!("`{}` must contain only strings", attr.key.as_str()),
            )),
        })
        .collect()
}

/// The text of a block label or a literal object key.
pub(crate) fn label_text(label: &BlockLabel) -> &str {
    match label {
        BlockLabel::Ident(i) => i.as_str(),
        BlockLabel::String(s) => s.as_str(),
    }
}

/// The text of an object key that is an identifier or a string literal.
pub(crate) fn object_key_text(key: &ObjectKey) -> Option<String> {
    match key {
        ObjectKey::Ident(i) => Some(i.as_str().to_string()),
        ObjectKey::Expression(Expression::String(s)) => Some(s.value().clone()),
        ObjectKey::Expression(_) => None,
    }
}

/// Parses the text of a lock file; `file_name` is used in errors only.
pub fn parse(text: &str, file_name: &str) -> Result<LockFile, LockError> {
    let body = parse_hcl(text, file_name)?;
    let mut lock = LockFile::default();
    for structure in body.iter() {
        let block = match structure {
            Structure::Block(b) if b.ident.as_str() == "provider" => b,
            Structure::Block(b) => {
                return Err(err_at(
                    file_name,
                    text,
                    b.ident.span(),
                    format!("unsupported block type `{}`", b.ident.as_str()),
                ))
            }
            Structure::Attribute(a) => {
                return Err(err_at(
                    file_name,
                    text,
                    a.key.span(),
                    format!("unexpected attribute `{}`", a.key.as_str()),
                ))
            }
        };
        let [label] = block.labels.as_slice() else {
            return Err(err_at(
                file_name,
                text,
                block.ident.span(),
                "a provider block needs exactly one label, the provider address",
            ));
        };
        let addr = label_text(label).to_string();
        if lock.providers.contains_key(&addr) {
            return Err(err_at(
                file_name,
                text,
                label.span(),
                format!("duplicate provider block for `{addr}`"),
            ));
        }
        let mut version = None;
        let mut provider = LockedProvider::default();
        for item in block.body.iter() {
            let Structure::Attribute(attr) = item else {
                return Err(err_at(
                    file_name,
                    text,
                    item.span(),
                    "unexpected block inside a provider block",
                ));
            };
            match attr.key.as_str() {
                "version" => version = Some(string_attr(attr, file_name, text)?),
                "constraints" => provider.constraints = Some(string_attr(attr, file_name, text)?),
                "hashes" => provider.hashes = string_list_attr(attr, file_name, text)?,
                other => {
                    return Err(err_at(
                        file_name,
                        text,
                        attr.key.span(),
                        format!("unsupported argument `{other}` in provider block"),
                    ))
                }
            }
        }
        let Some(version) = version else {
            return Err(err_at(
                file_name,
                text,
                block.ident.span(),
                format!("provider `{addr}` has no `version`"),
            ));
        };
        provider.version = version;
        lock.providers.insert(addr, provider);
    }
    Ok(lock)
}

/// Reads and parses a lock file from disk.
pub fn load(path: &Path) -> Result<LockFile, LockError> {
    let text = std::fs::read_to_string(path).map_err(|source| LockError::Io {
        path: path.to_path_buf(),
        error: source,
    })?;
    parse(&text, &path.display().to_string())
}

/// A quoted HCL string literal, escaped the way hclwrite escapes it.
fn quote(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    let mut chars = s.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '$' | '%' if chars.peek() == Some(&'{') => {
                out.push(c);
                out.push(c);
            }
            c if (c as u32) < 0x20 => {
                let _ = write!(out, "\\u{:04x}", c as u32);
            }
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// Renders a lock file exactly as Terraform writes it: header, providers sorted by address
/// separated by blank lines, `version`/`constraints` aligned, hashes sorted and de-duplicated.
pub fn render(lock: &LockFile) -> String {
    let mut out = String::from(HEADER);
    for (addr, p) in &lock.providers {
        out.push('\n');
        let _ = writeln!(out, "provider {} {{", quote(addr));
        match &p.constraints {
            Some(c) => {
                let _ = writeln!(out, "  version     = {}", quote(&p.version));
                let _ = writeln!(out, "  constraints = {}", quote(c));
            }
            None => {
                let _ = writeln!(out, "  version = {}", quote(&p.version));
            }
        }
        let mut hashes: Vec<&String> = p.hashes.iter().collect();
        hashes.sort();
        hashes.dedup();
        if !hashes.is_empty() {
            out.push_str("  hashes = [\n");
            for h in hashes {
                let _ = writeln!(out, "    {},", quote(h));
            }
            out.push_str("  ]\n");
        }
        out.push_str("}\n");
    }
    out
}

/// Writes [`render`]'s output to `path`.
pub fn save(lock: &LockFile, path: &Path) -> Result<(), LockError> {
    std::fs::write(path, render(lock)).map_err(|source| LockError::Io {
        path: path.to_path_buf(),
        error: source,
    })
}

fn collect_files(root: &Path, dir: &Path, out: &mut Vec<String>) -> Result<(), LockError> {
    let io = |path: &Path| {
        let path = path.to_path_buf();
        move |source| LockError::Io {
            path,
            error: source,
        }
    };
    for entry in std::fs::read_dir(dir).map_err(io(dir))? {
        let entry = entry.map_err(io(dir))?;
        let path = entry.path();
        // Like Go's filepath.Walk: symlinks are not descended into but are hashed as files.
        let ft = entry.file_type().map_err(io(&path))?;
        if ft.is_dir() {
            collect_files(root, &path, out)?;
            continue;
        }
        let rel = path.strip_prefix(root).unwrap_or(&path);
        let name = rel
            .components()
            .map(|c| c.as_os_str().to_string_lossy().into_owned())
            .collect::<Vec<_>>()
            .join("/");
        if name.contains('\n') {
            return Err(LockError::BadFileName { path });
        }
        out.push(name);
    }
    Ok(())
}

/// Terraform's `h1:` hash of an unpacked provider package directory (Go's `dirhash.Hash1`):
/// the sha256 of the sorted lines `"<sha256 hex>  <relative/path>\n"`, base64-encoded.
pub fn package_hash_h1(dir: &Path) -> Result<String, LockError> {
    let root = std::fs::canonicalize(dir).map_err(|source| LockError::Io {
        path: dir.to_path_buf(),
        error: source,
    })?;
    let mut files = Vec::new();
    collect_files(&root, &root, &mut files)?;
    let mut digests = Vec::with_capacity(files.len());
    for name in files {
        let path = root.join(&name);
        let hex = std::fs::File::open(&path)
            .and_then(sha256_hex)
            .map_err(|source| LockError::Io {
                path,
                error: source,
            })?;
        digests.push((name, hex));
    }
    Ok(hash_h1(digests))
}

/// The lowercase hex sha256 of everything `r` yields, read in chunks.
pub fn sha256_hex(mut r: impl std::io::Read) -> std::io::Result<String> {
    let mut h = Sha256::new();
    let mut buf = vec![0u8; 64 * 1024];
    loop {
        let n = r.read(&mut buf)?;
        if n == 0 {
            break;
        }
        h.update(&buf[..n]);
    }
    let mut hex = String::with_capacity(64);
    for b in h.finalize().iter() {
        let _ = write!(hex, "{b:02x}");
    }
    Ok(hex)
}

/// The `h1:` hash of package files given as (slash-separated relative path, hex sha256 of the
/// content, see [`sha256_hex`]): what [`package_hash_h1`] computes for the directory they
/// would be unpacked into.
pub fn hash_h1(mut files: Vec<(String, String)>) -> String {
    files.sort();
    let mut summary = Sha256::new();
    for (name, hex) in &files {
        summary.update(format!("{hex}  {name}\n").as_bytes());
    }
    format!(
        "h1:{}",
        base64::engine::general_purpose::STANDARD.encode(summary.finalize())
    )
}

/// Whether the package directory's `h1:` hash is among `hashes`. Other hash schemes (`zh:`
/// hashes of the release zip) cannot be checked against a directory and are ignored; an
/// unreadable directory does not verify.
pub fn verify(dir: &Path, hashes: &[String]) -> bool {
    match package_hash_h1(dir) {
        Ok(h) => hashes.contains(&h),
        Err(_) => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn line_col_counts_characters_from_one() {
        let text = "ab\ncé\nx";
        assert_eq!(line_col(text, 0), (1, 1));
        assert_eq!(line_col(text, 3), (2, 1));
        assert_eq!(line_col(text, 6), (2, 3));
        assert_eq!(line_col(text, 5), (2, 2)); // inside `é`: rounds down
        assert_eq!(line_col(text, 100), (3, 2));
    }

    #[test]
    fn quote_escapes_like_hclwrite() {
        assert_eq!(quote(">= 1.0, < 2.0"), "\">= 1.0, < 2.0\"");
        assert_eq!(quote("a\"b\\c"), "\"a\\\"b\\\\c\"");
        assert_eq!(quote("${x}%{y}$z"), "\"$${x}%%{y}$z\"");
        assert_eq!(quote("a\nb"), "\"a\\nb\"");
    }

    #[test]
    fn escaped_strings_round_trip() {
        let mut lock = LockFile::default();
        lock.providers.insert(
            "example.com/a/b".into(),
            LockedProvider {
                version: "1.0.0".into(),
                constraints: Some("${odd} \"quoted\"".into()),
                hashes: vec![],
            },
        );
        let text = render(&lock);
        assert_eq!(parse(&text, "x").expect("parses"), lock);
    }
}
