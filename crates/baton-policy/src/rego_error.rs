//! Turns the errors regorus reports (text with an `--> file:line:col` snippet) into Baton
//! diagnostics that point into the registered policy file.
//!
//! The parsing is deliberately forgiving: an error without a location still becomes a
//! diagnostic, only without a span. Nothing here decides whether an error blocks a run.

use baton_core::{Diagnostic, FileId, Sources, Span};
use std::collections::HashMap;
use std::fmt::Display;

/// How many columns regorus counts for a tab.
const REGORUS_TAB_WIDTH: usize = 4;

/// An error message split into its location (if regorus gave one) and its text.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct RegoError {
    pub file: Option<String>,
    pub line: u32,
    pub column: u32,
    pub message: String,
}

impl RegoError {
    /// Parses the alternate (`{:#}`, whole cause chain) rendering of a regorus error.
    pub(crate) fn parse(err: &impl Display) -> RegoError {
        parse_text(&format!("{err:#}"))
    }

    /// `(line, column)`, for choosing the error that got furthest into a file.
    pub(crate) fn position(&self) -> (u32, u32) {
        (self.line, self.column)
    }

    /// A diagnostic at the error's location when its file is one of `files`.
    pub(crate) fn to_diagnostic(
        &self,
        summary: &str,
        extra_detail: &str,
        files: &HashMap<String, FileId>,
        sources: &Sources,
    ) -> Diagnostic {
        let detail = if extra_detail.is_empty() {
            self.message.clone()
        } else {
            format!("{}\n\n{extra_detail}", self.message)
        };
        let span = self
            .file
            .as_ref()
            .and_then(|f| files.get(f))
            .and_then(|&id| span_at(sources, id, self.line, self.column, REGORUS_TAB_WIDTH));
        Diagnostic::error(summary, detail).at_opt(span)
    }
}

fn parse_text(text: &str) -> RegoError {
    let mut message = String::new();
    let mut location: Option<(String, u32, u32)> = None;
    let mut rest = text;
    while let Some(i) = rest.find("--> ") {
        message.push_str(&rest[..i]);
        let after = &rest[i + 4..];
        let line_end = after.find('\n').unwrap_or(after.len());
        if location.is_none() {
            location = parse_location(&after[..line_end]);
        }
        // Skip the source snippet up to the message that follows it.
        let marker = ["\nerror: ", "\nwarning: "]
            .iter()
            .filter_map(|m| after.find(m).map(|p| p + m.len()))
            .min();
        rest = match marker {
            Some(p) => &after[p..],
            None => &after[line_end..],
        };
    }
    message.push_str(rest);
    let message = message
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .collect::<Vec<_>>()
        .join(" ");
    let (file, line, column) = match location {
        Some((f, l, c)) => (Some(f), l, c),
        None => (None, 0, 0),
    };
    RegoError {
        file,
        line,
        column,
        message,
    }
}

fn parse_location(s: &str) -> Option<(String, u32, u32)> {
    let mut parts = s.trim().rsplitn(3, ':');
    let col = parts.next()?.parse().ok()?;
    let line = parts.next()?.parse().ok()?;
    let file = parts.next()?.to_string();
    Some((file, line, col))
}

/// The span of the token starting at a 1-based line and column: an identifier or number as a
/// whole, else one character.
pub(crate) fn span_at(
    sources: &Sources,
    file: FileId,
    line: u32,
    column: u32,
    tab_width: usize,
) -> Option<Span> {
    let src = sources.get(file)?;
    let text = src.text.as_str();
    let line_start = if line <= 1 {
        0
    } else {
        text.match_indices('\n')
            .nth(line as usize - 2)
            .map(|(i, _)| i + 1)?
    };
    let line_end = text[line_start..]
        .find('\n')
        .map_or(text.len(), |i| line_start + i);
    // Columns count characters by their UTF-8 length and a tab as `tab_width` (regorus: 4).
    let mut start = line_start;
    let mut col = 1usize;
    for c in text[line_start..line_end].chars() {
        if col >= column as usize {
            break;
        }
        col += if c == '\t' { tab_width } else { c.len_utf8() };
        start += c.len_utf8();
    }
    let token_len: usize = text[start..line_end]
        .chars()
        .take_while(|c| c.is_alphanumeric() || *c == '_')
        .map(char::len_utf8)
        .sum();
    let end = if token_len > 0 {
        start + token_len
    } else {
        text[start..line_end]
            .chars()
            .next()
            .map_or(start, |c| start + c.len_utf8())
    };
    Some(Span::new(file, start, end))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_location_and_message_from_a_snippet() {
        let text = "\n--> policies/a.rego:4:68\n  |\n4 | deny contains msg if { t.f(x) }\n  |        ^\nerror: could not find function t.f";
        let e = parse_text(text);
        assert_eq!(e.file.as_deref(), Some("policies/a.rego"));
        assert_eq!((e.line, e.column), (4, 68));
        assert_eq!(e.message, "could not find function t.f");
    }

    #[test]
    fn keeps_context_before_the_snippet_and_tolerates_no_location() {
        let e = parse_text("could not load: \n--> x.rego:1:2\n |\n1 | ab\n |  ^\nerror: bad");
        assert_eq!(e.message, "could not load: bad");
        assert_eq!(e.file.as_deref(), Some("x.rego"));
        let e = parse_text("data must be object");
        assert_eq!(e.file, None);
        assert_eq!(e.message, "data must be object");
    }

    #[test]
    fn spans_cover_the_token_at_the_position() {
        let s = Sources::new();
        let id = s.add(
            "a.rego",
            std::path::Path::new("a.rego"),
            "package a\n\nx := foo_bar + 1\n\tmsg := y\n".into(),
        );
        let span = span_at(&s, id, 4, 12, 4).expect("span");
        assert_eq!(s.snippet(span).expect("snippet"), "y");
        let span = span_at(&s, id, 3, 6, 4).expect("span");
        assert_eq!(s.snippet(span).expect("snippet"), "foo_bar");
        let span = span_at(&s, id, 3, 14, 4).expect("span");
        assert_eq!(s.snippet(span).expect("snippet"), "+");
        assert_eq!(s.location(span).expect("location"), "a.rego:3:14");
    }
}
