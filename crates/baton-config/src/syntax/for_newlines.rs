//! Works around an `hcl-edit` 0.10 bug: inside an object `for` expression
//! (`{ for k in xs : k => a ?\n b : c }`) HCL ignores newlines, as it does inside parentheses
//! and brackets, but `hcl-edit` treats a newline after a binary operator or `?`/`:` there as
//! the end of the expression and fails.
//!
//! [`blank_for_newlines`] returns a copy of the text in which every newline whose innermost
//! enclosing construct is an object `for` expression is a space (with any line comment that
//! ends at it), so `hcl-edit` parses what Terraform parses. Every byte keeps its offset, so
//! spans, error positions and literals read from the original text stay right. It is used
//! only after a parse of the original text failed, so a file `hcl-edit` already parses is
//! never touched, and a file that still fails reports the original text's error.
//!
//! It must not change anything else: strings, heredocs, comments outside such expressions and
//! newlines in object constructors (`{ a = 1 \n b = 2 }`, where they separate attributes, even
//! when nested in a `for`) are left alone. It is a scanner, not a parser: on anything it does
//! not understand (unbalanced brackets, an unterminated string) it gives up and returns `None`.
//!
//! Remove it when `hcl-edit` parses these expressions itself.

/// The text with newlines inside object `for` expressions blanked, or `None` when there are
/// none (or the text could not be scanned).
pub fn blank_for_newlines(text: &str) -> Option<String> {
    let mut s = Scanner {
        b: text.as_bytes(),
        out: text.as_bytes().to_vec(),
        stack: vec![Ctx::Body { after_eq: false }],
        changed: false,
    };
    s.run()?;
    if !s.changed {
        return None;
    }
    // Only ASCII newlines and comment bytes became spaces; a comment may hold multi-byte
    // characters, and all of their bytes became spaces, so the text is still UTF-8.
    String::from_utf8(s.out).ok()
}

/// The construct the scanner is inside.
#[derive(Clone, Copy, Debug, PartialEq)]
enum Ctx {
    /// A file or block body: newlines end attributes. `after_eq` is set between an
    /// attribute's `=` and the end of its line, where a `{` opens an object, not a block.
    Body {
        after_eq: bool,
    },
    /// `{ k = v }`: newlines separate attributes.
    Object,
    /// `{ for … }`: newlines are ignored.
    ForObject,
    /// `( … )`, `[ … ]`: newlines are ignored (and `hcl-edit` handles them).
    Paren,
    Bracket,
    /// `${ … }` / `%{ … }` inside a string.
    Interp,
    /// A quoted string.
    Str,
}

struct Scanner<'a> {
    b: &'a [u8],
    out: Vec<u8>,
    stack: Vec<Ctx>,
    changed: bool,
}

impl Scanner<'_> {
    fn top(&self) -> Ctx {
        self.stack
            .last()
            .copied()
            .unwrap_or(Ctx::Body { after_eq: false })
    }

    fn at(&self, i: usize) -> u8 {
        self.b.get(i).copied().unwrap_or(0)
    }

    fn blank(&mut self, from: usize, to: usize) {
        for i in from..to.min(self.out.len()) {
            if self.out[i] != b' ' {
                self.out[i] = b' ';
                self.changed = true;
            }
        }
    }

    fn run(&mut self) -> Option<()> {
        let mut i = 0;
        while i < self.b.len() {
            let c = self.b[i];
            if self.top() == Ctx::Str {
                i = self.in_string(i)?;
                continue;
            }
            match c {
                b'"' => {
                    self.stack.push(Ctx::Str);
                    i += 1;
                }
                b'#' => i = self.line_comment(i),
                b'/' if self.at(i + 1) == b'/' => i = self.line_comment(i),
                b'/' if self.at(i + 1) == b'*' => {
                    let end = find(self.b, i + 2, b"*/")? + 2;
                    if self.top() == Ctx::ForObject {
                        // A block comment may span lines; it is whitespace either way.
                        self.blank(i, end);
                    }
                    i = end;
                }
                b'<' if self.at(i + 1) == b'<' && self.is_heredoc(i) => i = self.heredoc(i)?,
                b'\n' | b'\r' => {
                    match self.top() {
                        Ctx::ForObject => self.blank(i, i + 1),
                        Ctx::Body { .. } if c == b'\n' => {
                            self.stack.pop();
                            self.stack.push(Ctx::Body { after_eq: false });
                        }
                        _ => {}
                    }
                    i += 1;
                }
                b'=' => {
                    let next = self.at(i + 1);
                    let prev = if i > 0 { self.b[i - 1] } else { 0 };
                    if let Ctx::Body { .. } = self.top() {
                        if next != b'='
                            && next != b'>'
                            && !matches!(prev, b'=' | b'!' | b'<' | b'>')
                        {
                            self.stack.pop();
                            self.stack.push(Ctx::Body { after_eq: true });
                        }
                    }
                    i += 1;
                }
                b'{' => {
                    let ctx = match self.top() {
                        Ctx::Body { after_eq: false } => Ctx::Body { after_eq: false },
                        _ if self.starts_for(i + 1) => Ctx::ForObject,
                        _ => Ctx::Object,
                    };
                    self.stack.push(ctx);
                    i += 1;
                }
                b'(' => {
                    self.stack.push(Ctx::Paren);
                    i += 1;
                }
                b'[' => {
                    self.stack.push(Ctx::Bracket);
                    i += 1;
                }
                b'}' => {
                    match self.stack.pop()? {
                        Ctx::Body { .. } | Ctx::Object | Ctx::ForObject | Ctx::Interp => {}
                        _ => return None,
                    }
                    // The outermost body is never closed by a brace.
                    if self.stack.is_empty() {
                        return None;
                    }
                    i += 1;
                }
                b')' => {
                    (self.stack.pop()? == Ctx::Paren).then_some(())?;
                    i += 1;
                }
                b']' => {
                    (self.stack.pop()? == Ctx::Bracket).then_some(())?;
                    i += 1;
                }
                _ => i += 1,
            }
        }
        Some(())
    }

    /// One step inside a quoted string: an escape, an interpolation start, the closing quote
    /// or one byte. Returns the next position.
    fn in_string(&mut self, i: usize) -> Option<usize> {
        match self.b[i] {
            b'\\' => Some(i + 2),
            b'"' => {
                self.stack.pop();
                Some(i + 1)
            }
            b'$' | b'%' if self.at(i + 1) == self.b[i] && self.at(i + 2) == b'{' => Some(i + 3),
            b'$' | b'%' if self.at(i + 1) == b'{' => {
                self.stack.push(Ctx::Interp);
                Some(i + 2)
            }
            b'\n' => None,
            _ => Some(i + 1),
        }
    }

    /// Skips a `#` or `//` comment up to (not including) its newline; inside an object `for`
    /// the comment is blanked, so that blanking the newline does not extend it.
    fn line_comment(&mut self, i: usize) -> usize {
        let end = self.b[i..]
            .iter()
            .position(|&c| c == b'\n')
            .map_or(self.b.len(), |p| i + p);
        if self.top() == Ctx::ForObject {
            self.blank(i, end);
        }
        end
    }

    /// `<<ID` or `<<-ID` followed by a newline.
    fn is_heredoc(&self, i: usize) -> bool {
        let mut j = i + 2;
        if self.at(j) == b'-' {
            j += 1;
        }
        let start = j;
        while self.at(j).is_ascii_alphanumeric() || self.at(j) == b'_' || self.at(j) == b'-' {
            j += 1;
        }
        j > start && (self.at(j) == b'\n' || (self.at(j) == b'\r' && self.at(j + 1) == b'\n'))
    }

    /// Skips a heredoc, untouched, through the newline after its closing marker.
    fn heredoc(&mut self, i: usize) -> Option<usize> {
        let mut j = i + 2;
        if self.at(j) == b'-' {
            j += 1;
        }
        let start = j;
        while self.at(j).is_ascii_alphanumeric() || self.at(j) == b'_' || self.at(j) == b'-' {
            j += 1;
        }
        let marker = &self.b[start..j];
        let mut line = find(self.b, j, b"\n")? + 1;
        loop {
            let end = find(self.b, line, b"\n").unwrap_or(self.b.len());
            let content = &self.b[line..end];
            let content = content.strip_suffix(b"\r").unwrap_or(content);
            if content.trim_ascii() == marker {
                // The newline after the marker ends the heredoc; it is not the expression's.
                return Some((end + 1).min(self.b.len()));
            }
            if end >= self.b.len() {
                return None;
            }
            line = end + 1;
        }
    }

    /// Whether the text after a `{` starts a `for` expression: `for` and an identifier,
    /// possibly after whitespace, newlines and comments.
    fn starts_for(&self, mut j: usize) -> bool {
        loop {
            while matches!(self.at(j), b' ' | b'\t' | b'\n' | b'\r') {
                j += 1;
            }
            match (self.at(j), self.at(j + 1)) {
                (b'#', _) | (b'/', b'/') => {
                    while j < self.b.len() && self.b[j] != b'\n' {
                        j += 1;
                    }
                }
                (b'/', b'*') => match find(self.b, j + 2, b"*/") {
                    Some(e) => j = e + 2,
                    None => return false,
                },
                _ => break,
            }
        }
        if !self.b[j.min(self.b.len())..].starts_with(b"for") {
            return false;
        }
        j += 3;
        if !matches!(self.at(j), b' ' | b'\t' | b'\n' | b'\r') {
            return false;
        }
        while matches!(self.at(j), b' ' | b'\t' | b'\n' | b'\r') {
            j += 1;
        }
        self.at(j).is_ascii_alphabetic() || self.at(j) == b'_'
    }
}

fn find(hay: &[u8], from: usize, needle: &[u8]) -> Option<usize> {
    hay.get(from..)?
        .windows(needle.len())
        .position(|w| w == needle)
        .map(|p| from + p)
}

#[cfg(test)]
mod tests {
    use super::blank_for_newlines;

    /// `(input, expected)`: `_` in the expectation marks a byte that became a space (so the
    /// table shows exactly which bytes change); `None` means nothing changes.
    fn check(input: &str, expected: Option<&str>) {
        let got = blank_for_newlines(input);
        let expected = expected.map(|e| e.replace('_', " "));
        assert_eq!(got, expected, "input:\n{input}");
        if let Some(g) = &got {
            assert_eq!(g.len(), input.len(), "offsets must not move");
        }
    }

    #[test]
    fn blanks_only_what_hcl_ignores() {
        let cases: &[(&str, Option<&str>)] = &[
            // The issue's reproducer.
            (
                "v = { for k in [\"a\"] : k => k == \"a\" ? \"x\" :\n \"y\" }\n",
                Some("v = { for k in [\"a\"] : k => k == \"a\" ? \"x\" :_ \"y\" }\n"),
            ),
            // A line comment ending at a blanked newline is blanked too.
            (
                "v = { for k in x : k => 1 + # one\n 2 }\n",
                Some("v = { for k in x : k => 1 + ______ 2 }\n"),
            ),
            // An object constructor (even inside a for) keeps its newlines.
            ("v = { a = 1\n b = 2 }\n", None),
            ("v = { for k in x : k => {\n a = 1\n} }\n", None),
            // Tuple for expressions and parentheses are left to hcl-edit.
            ("v = [for k in x : k ?\n 1 : 2]\n", None),
            // Block bodies are not expressions, whatever follows their brace.
            ("for_thing \"x\" {\n for = 1\n}\n", None),
            // Strings, escapes and interpolations.
            (
                "v = \"${ {for k in x : k => \"}\" ||\n k} }\"\n",
                Some("v = \"${ {for k in x : k => \"}\" ||_ k} }\"\n"),
            ),
            ("v = \"$${ {for k in x : k => k} }\"\n", None),
            // A heredoc inside keeps its lines and the newline after its marker.
            (
                "v = { for k in x : k =>\n<<EOT\na\nEOT\n}\n",
                Some("v = { for k in x : k =>_<<EOT\na\nEOT\n}\n"),
            ),
            // Unbalanced input: give up.
            ("v = { for k in x : k => (\n", None),
        ];
        for (input, expected) in cases {
            check(input, *expected);
        }
    }
}
