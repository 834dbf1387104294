//! Diagnostics: user-facing errors and warnings with an optional source span.
//!
//! User mistakes are collected as diagnostics (never stopping at the first one); `Result` is
//! reserved for operational failures. Rendering shows `file:line:column`, the source line and
//! a caret underline. A diagnostic must never carry a sensitive value: callers redact first.

use crate::source::{Sources, Span};
use serde_json::json;
use std::fmt::Write as _;

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Severity {
    Warning,
    Error,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Diagnostic {
    pub severity: Severity,
    pub summary: String,
    pub detail: String,
    /// Where the problem is.
    pub subject: Option<Span>,
    /// What encloses it, e.g. `resource "local_file" "a"`.
    pub context: Option<String>,
}

impl Diagnostic {
    pub fn error(summary: impl Into<String>, detail: impl Into<String>) -> Diagnostic {
        Diagnostic {
            severity: Severity::Error,
            summary: summary.into(),
            detail: detail.into(),
            subject: None,
            context: None,
        }
    }

    pub fn warning(summary: impl Into<String>, detail: impl Into<String>) -> Diagnostic {
        Diagnostic {
            severity: Severity::Warning,
            ..Diagnostic::error(summary, detail)
        }
    }

    pub fn at(mut self, span: Span) -> Diagnostic {
        self.subject = Some(span);
        self
    }

    pub fn at_opt(mut self, span: Option<Span>) -> Diagnostic {
        if self.subject.is_none() {
            self.subject = span;
        }
        self
    }

    pub fn in_context(mut self, context: impl Into<String>) -> Diagnostic {
        if self.context.is_none() {
            self.context = Some(context.into());
        }
        self
    }

    pub fn is_error(&self) -> bool {
        self.severity == Severity::Error
    }

    /// Human rendering: severity and summary, location with the source line, then the detail.
    pub fn render(&self, sources: &Sources) -> String {
        let mut out = String::new();
        let label = match self.severity {
            Severity::Error => "Error",
            Severity::Warning => "Warning",
        };
        let _ = writeln!(out, "{label}: {}", self.summary);
        if let Some(span) = self.subject {
            if let Some(file) = sources.get(span.file) {
                let start = file.pos(span.start as usize);
                let end = file.pos(span.end as usize);
                out.push('\n');
                let _ = write!(out, "  on {}:{}:{}", file.name, start.line, start.column);
                if let Some(ctx) = &self.context {
                    let _ = write!(out, ", in {ctx}");
                }
                out.push_str(":\n");
                let line = file.line_text(start.line);
                let gutter = format!("{:>4}", start.line);
                let _ = writeln!(out, "{gutter}: {line}");
                let width = if end.line == start.line {
                    end.column.saturating_sub(start.column).max(1)
                } else {
                    line.chars().count().saturating_sub(start.column - 1).max(1)
                };
                let pad = " ".repeat(gutter.len() + 2 + start.column - 1);
                let _ = writeln!(out, "{pad}{}", "^".repeat(width));
            }
        } else if let Some(ctx) = &self.context {
            let _ = writeln!(out, "\n  in {ctx}");
        }
        if !self.detail.is_empty() {
            out.push('\n');
            out.push_str(&self.detail);
            out.push('\n');
        }
        out
    }

    /// The shape `terraform validate -json` uses for one diagnostic.
    pub fn to_json(&self, sources: &Sources) -> serde_json::Value {
        let mut v = json!({
            "severity": match self.severity { Severity::Error => "error", Severity::Warning => "warning" },
            "summary": self.summary,
            "detail": self.detail,
        });
        if let Some(span) = self.subject {
            if let Some(file) = sources.get(span.file) {
                let s = file.pos(span.start as usize);
                let e = file.pos(span.end as usize);
                v["range"] = json!({
                    "filename": file.name,
                    "start": {"line": s.line, "column": s.column, "byte": s.byte},
                    "end": {"line": e.line, "column": e.column, "byte": e.byte},
                });
                v["snippet"] = json!({
                    "context": self.context,
                    "code": file.line_text(s.line),
                    "start_line": s.line,
                });
            }
        }
        v
    }
}

/// An ordered collection of diagnostics.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Diagnostics(pub Vec<Diagnostic>);

impl Diagnostics {
    pub fn new() -> Diagnostics {
        Diagnostics(Vec::new())
    }

    pub fn push(&mut self, d: Diagnostic) {
        self.0.push(d);
    }

    pub fn extend(&mut self, other: Diagnostics) {
        self.0.extend(other.0);
    }

    pub fn has_errors(&self) -> bool {
        self.0.iter().any(Diagnostic::is_error)
    }

    pub fn errors(&self) -> impl Iterator<Item = &Diagnostic> {
        self.0.iter().filter(|d| d.is_error())
    }

    pub fn warnings(&self) -> impl Iterator<Item = &Diagnostic> {
        self.0.iter().filter(|d| !d.is_error())
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    pub fn len(&self) -> usize {
        self.0.len()
    }

    pub fn iter(&self) -> std::slice::Iter<'_, Diagnostic> {
        self.0.iter()
    }

    pub fn render(&self, sources: &Sources) -> String {
        self.0
            .iter()
            .map(|d| d.render(sources))
            .collect::<Vec<_>>()
            .join("\n")
    }
}

impl From<Diagnostic> for Diagnostics {
    fn from(d: Diagnostic) -> Diagnostics {
        Diagnostics(vec![d])
    }
}

impl IntoIterator for Diagnostics {
    type Item = Diagnostic;
    type IntoIter = std::vec::IntoIter<Diagnostic>;
    fn into_iter(self) -> Self::IntoIter {
        self.0.into_iter()
    }
}

impl<'a> IntoIterator for &'a Diagnostics {
    type Item = &'a Diagnostic;
    type IntoIter = std::slice::Iter<'a, Diagnostic>;
    fn into_iter(self) -> Self::IntoIter {
        self.0.iter()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::Path;

    #[test]
    fn render_names_file_line_column_and_underlines() {
        let s = Sources::new();
        let id = s.add(
            "main.tf",
            Path::new("main.tf"),
            "output \"x\" {\n  value = foo\n}\n".into(),
        );
        let d = Diagnostic::error("Invalid reference", "Expected a reference.")
            .at(Span::new(id, 23, 26))
            .in_context("output \"x\"");
        let text = d.render(&s);
        assert_eq!(
            text,
            "Error: Invalid reference\n\n  on main.tf:2:11, in output \"x\":\n   2:   value = foo\n                ^^^\n\nExpected a reference.\n"
        );
    }
}
