//! Source files and byte spans into them.
//!
//! A [`Span`] is three integers; the text it points into lives in [`Sources`], a cheap,
//! clonable, thread-safe registry that grows as files are read (configuration files first,
//! template files later during evaluation). Nothing here reads the filesystem.

use std::path::{Path, PathBuf};
use std::sync::{Arc, RwLock};

/// Identifies one file registered in [`Sources`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct FileId(pub u32);

/// A byte range in one source file.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Span {
    pub file: FileId,
    pub start: u32,
    pub end: u32,
}

impl Span {
    pub fn new(file: FileId, start: usize, end: usize) -> Span {
        Span {
            file,
            start: u32::try_from(start).unwrap_or(u32::MAX),
            end: u32::try_from(end).unwrap_or(u32::MAX),
        }
    }

    /// The smallest span covering both (which must be in the same file; otherwise `self`).
    pub fn to(self, other: Span) -> Span {
        if self.file != other.file {
            return self;
        }
        Span {
            file: self.file,
            start: self.start.min(other.start),
            end: self.end.max(other.end),
        }
    }
}

/// One registered file: its display name (relative to where the user ran Baton when possible)
/// and its text.
#[derive(Debug)]
pub struct SourceFile {
    pub name: String,
    pub path: PathBuf,
    pub text: String,
    line_starts: Vec<usize>,
}

/// A resolved position: 1-based line and column (in characters), and the byte offset.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Pos {
    pub line: usize,
    pub column: usize,
    pub byte: usize,
}

impl SourceFile {
    fn new(name: String, path: PathBuf, text: String) -> SourceFile {
        let mut line_starts = vec![0];
        for (i, b) in text.bytes().enumerate() {
            if b == b'\n' {
                line_starts.push(i + 1);
            }
        }
        SourceFile {
            name,
            path,
            text,
            line_starts,
        }
    }

    /// Line and column of a byte offset (clamped to the text).
    pub fn pos(&self, byte: usize) -> Pos {
        let byte = byte.min(self.text.len());
        let line_idx = match self.line_starts.binary_search(&byte) {
            Ok(i) => i,
            Err(i) => i.saturating_sub(1),
        };
        let start = self.line_starts[line_idx];
        let column = self
            .text
            .get(start..byte)
            .map(|s| s.chars().count())
            .unwrap_or(byte - start)
            + 1;
        Pos {
            line: line_idx + 1,
            column,
            byte,
        }
    }

    /// The text of a 1-based line, without its line ending.
    pub fn line_text(&self, line: usize) -> &str {
        let Some(&start) = self.line_starts.get(line.saturating_sub(1)) else {
            return "";
        };
        let end = self
            .line_starts
            .get(line)
            .copied()
            .unwrap_or(self.text.len());
        self.text
            .get(start..end)
            .unwrap_or("")
            .trim_end_matches(['\n', '\r'])
    }

    /// The text a span covers.
    pub fn slice(&self, span: Span) -> &str {
        self.text
            .get(span.start as usize..span.end as usize)
            .unwrap_or("")
    }
}

/// The registry of every source file read during one command.
#[derive(Clone, Default, Debug)]
pub struct Sources {
    files: Arc<RwLock<Vec<Arc<SourceFile>>>>,
}

impl Sources {
    pub fn new() -> Sources {
        Sources::default()
    }

    /// Registers a file's text and returns its id. `name` is what diagnostics print.
    pub fn add(&self, name: impl Into<String>, path: &Path, text: String) -> FileId {
        let file = Arc::new(SourceFile::new(name.into(), path.to_path_buf(), text));
        let mut files = match self.files.write() {
            Ok(g) => g,
            Err(poisoned) => poisoned.into_inner(),
        };
        files.push(file);
        FileId(u32::try_from(files.len() - 1).unwrap_or(u32::MAX))
    }

    pub fn get(&self, id: FileId) -> Option<Arc<SourceFile>> {
        let files = match self.files.read() {
            Ok(g) => g,
            Err(poisoned) => poisoned.into_inner(),
        };
        files.get(id.0 as usize).cloned()
    }

    /// The text a span covers, if its file is registered.
    pub fn snippet(&self, span: Span) -> Option<String> {
        self.get(span.file).map(|f| f.slice(span).to_string())
    }

    /// `file:line:column` of the start of a span.
    pub fn location(&self, span: Span) -> Option<String> {
        let f = self.get(span.file)?;
        let p = f.pos(span.start as usize);
        Some(format!("{}:{}:{}", f.name, p.line, p.column))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn positions_are_one_based_and_count_characters() {
        let s = Sources::new();
        let id = s.add("a.tf", Path::new("a.tf"), "ab\n\u{e9}x = 1\n".to_string());
        let f = s.get(id).expect("registered");
        assert_eq!(f.pos(0).line, 1);
        assert_eq!(f.pos(3).line, 2);
        assert_eq!(f.pos(3).column, 1);
        // 'é' is two bytes but one column.
        assert_eq!(f.pos(5).column, 2);
        assert_eq!(f.line_text(2), "\u{e9}x = 1");
        assert_eq!(s.location(Span::new(id, 5, 6)).as_deref(), Some("a.tf:2:2"));
    }
}
