//! `yamldecode`'s reader: a YAML scanner and parser with the behaviour of libyaml as go-yaml
//! v2 implements it (the copy go-cty-yaml vendors, which Terraform uses), producing the same
//! events, with the same marks, and failing with the same problems at the same places.
//!
//! The tokens are fetched lazily exactly as that version does (a token that may be a
//! simple key is held back until the scanner knows, stale keys are checked on every fetch),
//! because the caller acts on each event as it arrives: which error wins (a bad scalar
//! before a syntax error further on, or the reverse) depends on that timing. Marks count
//! characters, lines and columns from 0, as libyaml's do.
//!
//! Known difference: libyaml's reader refuses control characters as it decodes the input,
//! 512 bytes at a time; here the whole input is checked first, so in a long document a
//! syntax error before a control character can be reported as the control character.
//!
//! This module knows nothing about values or types: it must not resolve scalars (see
//! `yaml_decode`). It must not panic on any input and must not recurse: nesting is kept in
//! explicit stacks.

use std::collections::VecDeque;

/// A position in the input: characters from the start, 0-based line and column.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(super) struct Mark {
    pub index: usize,
    pub line: usize,
    pub column: usize,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum ScalarStyle {
    Plain,
    SingleQuoted,
    DoubleQuoted,
    Literal,
    Folded,
}

/// Which stage found a syntax error: go-cty-yaml positions scanner errors differently.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum ErrorStage {
    Reader,
    Scanner,
    Parser,
}

/// libyaml's error state: a problem at a mark, maybe with a context at another mark.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(super) struct SyntaxError {
    pub stage: ErrorStage,
    pub problem: String,
    pub problem_mark: Mark,
    pub context_mark: Mark,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub(super) enum EventKind {
    StreamStart,
    StreamEnd,
    DocumentStart,
    DocumentEnd,
    Alias {
        anchor: String,
    },
    Scalar {
        anchor: String,
        tag: String,
        value: String,
        /// libyaml's `plain_implicit`: no tag and plain style, or the `!` tag.
        implicit: bool,
        style: ScalarStyle,
    },
    SequenceStart {
        anchor: String,
        tag: String,
    },
    SequenceEnd,
    MappingStart {
        anchor: String,
        tag: String,
    },
    MappingEnd,
}

impl EventKind {
    /// go-yaml's name for the event type, as go-cty-yaml prints it in some messages.
    pub(super) fn go_name(&self) -> &'static str {
        match self {
            EventKind::StreamStart => "yaml_STREAM_START_EVENT",
            EventKind::StreamEnd => "yaml_STREAM_END_EVENT",
            EventKind::DocumentStart => "yaml_DOCUMENT_START_EVENT",
            EventKind::DocumentEnd => "yaml_DOCUMENT_END_EVENT",
            EventKind::Alias { .. } => "yaml_ALIAS_EVENT",
            EventKind::Scalar { .. } => "yaml_SCALAR_EVENT",
            EventKind::SequenceStart { .. } => "yaml_SEQUENCE_START_EVENT",
            EventKind::SequenceEnd => "yaml_SEQUENCE_END_EVENT",
            EventKind::MappingStart { .. } => "yaml_MAPPING_START_EVENT",
            EventKind::MappingEnd => "yaml_MAPPING_END_EVENT",
        }
    }
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub(super) struct Event {
    pub kind: EventKind,
    pub start: Mark,
}

/// The pull parser: call [`Parser::next_event`] until `StreamEnd` or an error.
pub(super) struct Parser {
    sc: Scanner,
    state: State,
    states: Vec<State>,
    marks: Vec<Mark>,
    tag_directives: Vec<(String, String)>,
    done: bool,
}

impl Parser {
    pub(super) fn new(src: &str) -> Parser {
        Parser {
            sc: Scanner::new(src),
            state: State::StreamStart,
            states: Vec::new(),
            marks: Vec::new(),
            tag_directives: Vec::new(),
            done: false,
        }
    }

    /// The next event. After the stream end, more calls keep returning `StreamEnd`.
    pub(super) fn next_event(&mut self) -> Result<Event, SyntaxError> {
        if let Some(e) = &self.sc.error {
            return Err(e.clone());
        }
        if self.done {
            return Ok(Event {
                kind: EventKind::StreamEnd,
                start: self.sc.mark,
            });
        }
        let r = self.state_machine();
        if let Err(e) = &r {
            if self.sc.error.is_none() {
                self.sc.error = Some(e.clone());
            }
        }
        r
    }
}

// ----- characters -----

fn is_alpha(c: char) -> bool {
    c.is_ascii_alphanumeric() || c == '_' || c == '-'
}
fn is_blank(c: char) -> bool {
    c == ' ' || c == '\t'
}
fn is_break(c: char) -> bool {
    matches!(c, '\r' | '\n' | '\u{85}' | '\u{2028}' | '\u{2029}')
}
fn is_z(c: char) -> bool {
    c == '\0'
}
fn is_breakz(c: char) -> bool {
    is_break(c) || is_z(c)
}
fn is_blankz(c: char) -> bool {
    is_blank(c) || is_breakz(c)
}
fn hex_value(c: char) -> Option<u32> {
    c.to_digit(16)
}

/// Whether libyaml's reader accepts the character (it refuses other control characters).
fn is_printable(c: char) -> bool {
    let v = c as u32;
    v == 0x09
        || v == 0x0A
        || v == 0x0D
        || (0x20..=0x7E).contains(&v)
        || v == 0x85
        || (0xA0..=0xD7FF).contains(&v)
        || (0xE000..=0xFFFD).contains(&v)
        || (0x10000..=0x10FFFF).contains(&v)
}

/// The length of the UTF-8 sequence a leading byte announces (0 when it is not one).
fn utf8_width(b: u8) -> usize {
    if b & 0x80 == 0 {
        1
    } else if b & 0xE0 == 0xC0 {
        2
    } else if b & 0xF0 == 0xE0 {
        3
    } else if b & 0xF8 == 0xF0 {
        4
    } else {
        0
    }
}

// ----- scanner -----

#[derive(Clone, Debug, PartialEq, Eq)]
enum Tok {
    StreamStart,
    StreamEnd,
    VersionDirective(u32, u32),
    TagDirective(String, String),
    DocumentStart,
    DocumentEnd,
    BlockSequenceStart,
    BlockMappingStart,
    BlockEnd,
    FlowSequenceStart,
    FlowSequenceEnd,
    FlowMappingStart,
    FlowMappingEnd,
    BlockEntry,
    FlowEntry,
    Key,
    Value,
    Alias(String),
    Anchor(String),
    Tag(String, String),
    Scalar(String, ScalarStyle),
}

#[derive(Clone, Debug)]
struct Token {
    tok: Tok,
    start: Mark,
    end: Mark,
}

#[derive(Clone, Copy, Debug, Default)]
struct SimpleKey {
    possible: bool,
    required: bool,
    token_number: usize,
    mark: Mark,
}

struct Scanner {
    buf: Vec<char>,
    pos: usize,
    mark: Mark,
    tokens: VecDeque<Token>,
    tokens_parsed: usize,
    token_available: bool,
    stream_start_produced: bool,
    flow_level: usize,
    indent: i64,
    indents: Vec<i64>,
    simple_key_allowed: bool,
    simple_keys: Vec<SimpleKey>,
    error: Option<SyntaxError>,
}

type SResult<T> = Result<T, SyntaxError>;

impl Scanner {
    fn new(src: &str) -> Scanner {
        // The reader drops a leading byte order mark without counting it.
        let src = src.strip_prefix('\u{FEFF}').unwrap_or(src);
        let error = if src.chars().all(is_printable) {
            None
        } else {
            Some(SyntaxError {
                stage: ErrorStage::Reader,
                problem: "control characters are not allowed".into(),
                problem_mark: Mark::default(),
                context_mark: Mark::default(),
            })
        };
        Scanner {
            buf: src.chars().collect(),
            pos: 0,
            mark: Mark::default(),
            tokens: VecDeque::new(),
            tokens_parsed: 0,
            token_available: false,
            stream_start_produced: false,
            flow_level: 0,
            indent: -1,
            indents: Vec::new(),
            simple_key_allowed: false,
            simple_keys: Vec::new(),
            error,
        }
    }

    /// The character `k` places ahead; `'\0'` past the end, like the reader's padding.
    fn at(&self, k: usize) -> char {
        self.buf.get(self.pos + k).copied().unwrap_or('\0')
    }

    fn column(&self) -> i64 {
        i64::try_from(self.mark.column).unwrap_or(i64::MAX)
    }

    fn skip(&mut self) {
        self.mark.index += 1;
        self.mark.column += 1;
        self.pos += 1;
    }

    fn skip_line(&mut self) {
        if self.at(0) == '\r' && self.at(1) == '\n' {
            self.mark.index += 2;
            self.mark.column = 0;
            self.mark.line += 1;
            self.pos += 2;
        } else if is_break(self.at(0)) {
            self.mark.index += 1;
            self.mark.column = 0;
            self.mark.line += 1;
            self.pos += 1;
        }
    }

    fn read(&mut self, s: &mut String) {
        s.push(self.at(0));
        self.skip();
    }

    fn read_line(&mut self, s: &mut String) {
        let c = self.at(0);
        if c == '\r' && self.at(1) == '\n' {
            s.push('\n');
            self.pos += 2;
            self.mark.index += 2;
        } else if c == '\r' || c == '\n' || c == '\u{85}' {
            s.push('\n');
            self.pos += 1;
            self.mark.index += 1;
        } else if c == '\u{2028}' || c == '\u{2029}' {
            s.push(c);
            self.pos += 1;
            self.mark.index += 1;
        } else {
            return;
        }
        self.mark.column = 0;
        self.mark.line += 1;
    }

    fn error(&self, context_mark: Mark, problem: &str) -> SyntaxError {
        SyntaxError {
            stage: ErrorStage::Scanner,
            problem: problem.to_string(),
            problem_mark: self.mark,
            context_mark,
        }
    }

    fn push(&mut self, tok: Tok, start: Mark, end: Mark) {
        self.tokens.push_back(Token { tok, start, end });
    }

    fn insert(&mut self, at: usize, tok: Tok, mark: Mark) {
        let at = at.min(self.tokens.len());
        self.tokens.insert(
            at,
            Token {
                tok,
                start: mark,
                end: mark,
            },
        );
    }

    /// The next token, without consuming it.
    fn peek(&mut self) -> SResult<&Token> {
        if let Some(e) = &self.error {
            return Err(e.clone());
        }
        if !self.token_available {
            if let Err(e) = self.fetch_more_tokens() {
                self.error = Some(e.clone());
                return Err(e);
            }
        }
        match self.tokens.front() {
            Some(t) => Ok(t),
            None => Err(self.error(self.mark, "invalid YAML syntax")),
        }
    }

    /// Consumes the token [`Scanner::peek`] returned.
    fn skip_token(&mut self) {
        self.token_available = false;
        self.tokens_parsed += 1;
        self.tokens.pop_front();
    }

    /// Fetches until the head of the queue cannot be a simple key any more.
    fn fetch_more_tokens(&mut self) -> SResult<()> {
        loop {
            let need_more = if self.tokens.is_empty() {
                true
            } else {
                self.stale_simple_keys()?;
                let head = self.tokens_parsed;
                self.simple_keys
                    .iter()
                    .any(|k| k.possible && k.token_number == head)
            };
            if !need_more {
                break;
            }
            self.fetch_next_token()?;
        }
        self.token_available = true;
        Ok(())
    }

    fn fetch_next_token(&mut self) -> SResult<()> {
        if !self.stream_start_produced {
            self.indent = -1;
            self.simple_keys.push(SimpleKey::default());
            self.simple_key_allowed = true;
            self.stream_start_produced = true;
            let m = self.mark;
            self.push(Tok::StreamStart, m, m);
            return Ok(());
        }
        self.scan_to_next_token();
        self.stale_simple_keys()?;
        self.unroll_indent(self.column());
        let c = self.at(0);
        if is_z(c) {
            return self.fetch_stream_end();
        }
        let col0 = self.mark.column == 0;
        if col0 && c == '%' {
            return self.fetch_directive();
        }
        if col0 && is_blankz(self.at(3)) {
            if c == '-' && self.at(1) == '-' && self.at(2) == '-' {
                return self.fetch_document_indicator(Tok::DocumentStart);
            }
            if c == '.' && self.at(1) == '.' && self.at(2) == '.' {
                return self.fetch_document_indicator(Tok::DocumentEnd);
            }
        }
        match c {
            '[' => return self.fetch_flow_collection_start(Tok::FlowSequenceStart),
            '{' => return self.fetch_flow_collection_start(Tok::FlowMappingStart),
            ']' => return self.fetch_flow_collection_end(Tok::FlowSequenceEnd),
            '}' => return self.fetch_flow_collection_end(Tok::FlowMappingEnd),
            ',' => return self.fetch_flow_entry(),
            _ => {}
        }
        let next_blankz = is_blankz(self.at(1));
        if c == '-' && next_blankz {
            return self.fetch_block_entry();
        }
        if c == '?' && (self.flow_level > 0 || next_blankz) {
            return self.fetch_key();
        }
        if c == ':' && (self.flow_level > 0 || next_blankz) {
            return self.fetch_value();
        }
        match c {
            '*' => return self.fetch_anchor(true),
            '&' => return self.fetch_anchor(false),
            '!' => return self.fetch_tag(),
            '|' if self.flow_level == 0 => return self.fetch_block_scalar(true),
            '>' if self.flow_level == 0 => return self.fetch_block_scalar(false),
            '\'' => return self.fetch_flow_scalar(true),
            '"' => return self.fetch_flow_scalar(false),
            _ => {}
        }
        let indicator = is_blankz(c) || "-?:,[]{}#&*!|>'\"%@`".contains(c);
        if !indicator
            || (c == '-' && !is_blank(self.at(1)))
            || (self.flow_level == 0 && (c == '?' || c == ':') && !next_blankz)
        {
            return self.fetch_plain_scalar();
        }
        Err(self.error(self.mark, "found character that cannot start any token"))
    }

    /// Drops the potential simple keys that can no longer be keys (a key is limited to one
    /// line and 1024 characters); a required one is an error.
    fn stale_simple_keys(&mut self) -> SResult<()> {
        let (line, index) = (self.mark.line, self.mark.index);
        for i in 0..self.simple_keys.len() {
            let k = self.simple_keys[i];
            if k.possible && (k.mark.line < line || k.mark.index + 1024 < index) {
                if k.required {
                    return Err(self.error(k.mark, "could not find expected ':'"));
                }
                self.simple_keys[i].possible = false;
            }
        }
        Ok(())
    }

    fn save_simple_key(&mut self) -> SResult<()> {
        let required = self.flow_level == 0 && self.indent == self.column();
        if self.simple_key_allowed {
            let key = SimpleKey {
                possible: true,
                required,
                token_number: self.tokens_parsed + self.tokens.len(),
                mark: self.mark,
            };
            self.remove_simple_key()?;
            if let Some(last) = self.simple_keys.last_mut() {
                *last = key;
            }
        }
        Ok(())
    }

    fn remove_simple_key(&mut self) -> SResult<()> {
        let Some(k) = self.simple_keys.last().copied() else {
            return Ok(());
        };
        if k.possible && k.required {
            return Err(self.error(k.mark, "could not find expected ':'"));
        }
        if let Some(last) = self.simple_keys.last_mut() {
            last.possible = false;
        }
        Ok(())
    }

    fn increase_flow_level(&mut self) {
        self.simple_keys.push(SimpleKey::default());
        self.flow_level += 1;
    }

    fn decrease_flow_level(&mut self) {
        if self.flow_level > 0 {
            self.flow_level -= 1;
            self.simple_keys.pop();
        }
    }

    /// Opens a block collection when `column` is deeper than the current indentation; the
    /// start token goes at the end of the queue, or where token `number` is.
    fn roll_indent(&mut self, column: i64, number: Option<usize>, tok: Tok, mark: Mark) {
        if self.flow_level > 0 {
            return;
        }
        if self.indent < column {
            self.indents.push(self.indent);
            self.indent = column;
            match number {
                Some(n) => {
                    let at = n.saturating_sub(self.tokens_parsed);
                    self.insert(at, tok, mark);
                }
                None => self.push(tok, mark, mark),
            }
        }
    }

    /// Closes the block collections deeper than `column`.
    fn unroll_indent(&mut self, column: i64) {
        if self.flow_level > 0 {
            return;
        }
        while self.indent > column {
            let m = self.mark;
            self.push(Tok::BlockEnd, m, m);
            self.indent = self.indents.pop().unwrap_or(-1);
        }
    }

    fn fetch_stream_end(&mut self) -> SResult<()> {
        // Force a new line.
        if self.mark.column != 0 {
            self.mark.column = 0;
            self.mark.line += 1;
        }
        self.unroll_indent(-1);
        self.remove_simple_key()?;
        self.simple_key_allowed = false;
        let m = self.mark;
        self.push(Tok::StreamEnd, m, m);
        Ok(())
    }

    fn fetch_directive(&mut self) -> SResult<()> {
        self.unroll_indent(-1);
        self.remove_simple_key()?;
        self.simple_key_allowed = false;
        let t = self.scan_directive()?;
        self.tokens.push_back(t);
        Ok(())
    }

    fn fetch_document_indicator(&mut self, tok: Tok) -> SResult<()> {
        self.unroll_indent(-1);
        self.remove_simple_key()?;
        self.simple_key_allowed = false;
        let start = self.mark;
        self.skip();
        self.skip();
        self.skip();
        let end = self.mark;
        self.push(tok, start, end);
        Ok(())
    }

    fn fetch_flow_collection_start(&mut self, tok: Tok) -> SResult<()> {
        self.save_simple_key()?;
        self.increase_flow_level();
        self.simple_key_allowed = true;
        let start = self.mark;
        self.skip();
        let end = self.mark;
        self.push(tok, start, end);
        Ok(())
    }

    fn fetch_flow_collection_end(&mut self, tok: Tok) -> SResult<()> {
        self.remove_simple_key()?;
        self.decrease_flow_level();
        self.simple_key_allowed = false;
        let start = self.mark;
        self.skip();
        let end = self.mark;
        self.push(tok, start, end);
        Ok(())
    }

    fn fetch_flow_entry(&mut self) -> SResult<()> {
        self.remove_simple_key()?;
        self.simple_key_allowed = true;
        let start = self.mark;
        self.skip();
        let end = self.mark;
        self.push(Tok::FlowEntry, start, end);
        Ok(())
    }

    fn fetch_block_entry(&mut self) -> SResult<()> {
        if self.flow_level == 0 {
            if !self.simple_key_allowed {
                return Err(self.error(
                    self.mark,
                    "block sequence entries are not allowed in this context",
                ));
            }
            let m = self.mark;
            self.roll_indent(self.column(), None, Tok::BlockSequenceStart, m);
        }
        // In the flow context the parser reports the misplaced '-'.
        self.remove_simple_key()?;
        self.simple_key_allowed = true;
        let start = self.mark;
        self.skip();
        let end = self.mark;
        self.push(Tok::BlockEntry, start, end);
        Ok(())
    }

    fn fetch_key(&mut self) -> SResult<()> {
        if self.flow_level == 0 {
            if !self.simple_key_allowed {
                return Err(self.error(self.mark, "mapping keys are not allowed in this context"));
            }
            let m = self.mark;
            self.roll_indent(self.column(), None, Tok::BlockMappingStart, m);
        }
        self.remove_simple_key()?;
        self.simple_key_allowed = self.flow_level == 0;
        let start = self.mark;
        self.skip();
        let end = self.mark;
        self.push(Tok::Key, start, end);
        Ok(())
    }

    fn fetch_value(&mut self) -> SResult<()> {
        let k = self.simple_keys.last().copied().unwrap_or_default();
        if k.possible {
            let at = k.token_number.saturating_sub(self.tokens_parsed);
            self.insert(at, Tok::Key, k.mark);
            let col = i64::try_from(k.mark.column).unwrap_or(i64::MAX);
            self.roll_indent(col, Some(k.token_number), Tok::BlockMappingStart, k.mark);
            if let Some(key) = self.simple_keys.last_mut() {
                key.possible = false;
            }
            self.simple_key_allowed = false;
        } else {
            if self.flow_level == 0 {
                if !self.simple_key_allowed {
                    return Err(
                        self.error(self.mark, "mapping values are not allowed in this context")
                    );
                }
                let m = self.mark;
                self.roll_indent(self.column(), None, Tok::BlockMappingStart, m);
            }
            self.simple_key_allowed = self.flow_level == 0;
        }
        let start = self.mark;
        self.skip();
        let end = self.mark;
        self.push(Tok::Value, start, end);
        Ok(())
    }

    fn fetch_anchor(&mut self, alias: bool) -> SResult<()> {
        self.save_simple_key()?;
        self.simple_key_allowed = false;
        let start = self.mark;
        self.skip();
        let mut s = String::new();
        while is_alpha(self.at(0)) {
            self.read(&mut s);
        }
        let end = self.mark;
        let c = self.at(0);
        if s.is_empty() || !(is_blankz(c) || "?:,]}%@`".contains(c)) {
            return Err(self.error(
                start,
                "did not find expected alphabetic or numeric character",
            ));
        }
        let tok = if alias { Tok::Alias(s) } else { Tok::Anchor(s) };
        self.push(tok, start, end);
        Ok(())
    }

    fn fetch_tag(&mut self) -> SResult<()> {
        self.save_simple_key()?;
        self.simple_key_allowed = false;
        let start = self.mark;
        let (handle, suffix);
        if self.at(1) == '<' {
            // The verbatim form: '!<' uri '>', with an empty handle.
            self.skip();
            self.skip();
            suffix = self.scan_tag_uri(false, "", start)?;
            if self.at(0) != '>' {
                return Err(self.error(start, "did not find the expected '>'"));
            }
            self.skip();
            handle = String::new();
        } else {
            let h = self.scan_tag_handle(false, start)?;
            if h.len() > 1 && h.starts_with('!') && h.ends_with('!') {
                handle = h;
                suffix = self.scan_tag_uri(false, "", start)?;
            } else {
                let s = self.scan_tag_uri(false, &h, start)?;
                if s.is_empty() {
                    // The lone '!' tag.
                    handle = String::new();
                    suffix = "!".to_string();
                } else {
                    handle = "!".to_string();
                    suffix = s;
                }
            }
        }
        if !is_blankz(self.at(0)) {
            return Err(self.error(start, "did not find expected whitespace or line break"));
        }
        let end = self.mark;
        self.push(Tok::Tag(handle, suffix), start, end);
        Ok(())
    }

    fn fetch_block_scalar(&mut self, literal: bool) -> SResult<()> {
        self.remove_simple_key()?;
        self.simple_key_allowed = true;
        let t = self.scan_block_scalar(literal)?;
        self.tokens.push_back(t);
        Ok(())
    }

    fn fetch_flow_scalar(&mut self, single: bool) -> SResult<()> {
        self.save_simple_key()?;
        self.simple_key_allowed = false;
        let t = self.scan_flow_scalar(single)?;
        self.tokens.push_back(t);
        Ok(())
    }

    fn fetch_plain_scalar(&mut self) -> SResult<()> {
        self.save_simple_key()?;
        self.simple_key_allowed = false;
        let t = self.scan_plain_scalar()?;
        self.tokens.push_back(t);
        Ok(())
    }

    /// Skips spaces, comments and line breaks (tabs too, where they cannot be indentation).
    fn scan_to_next_token(&mut self) {
        loop {
            if self.mark.column == 0 && self.at(0) == '\u{FEFF}' {
                self.skip();
            }
            while self.at(0) == ' '
                || ((self.flow_level > 0 || !self.simple_key_allowed) && self.at(0) == '\t')
            {
                self.skip();
            }
            if self.at(0) == '#' {
                while !is_breakz(self.at(0)) {
                    self.skip();
                }
            }
            if is_break(self.at(0)) {
                self.skip_line();
                if self.flow_level == 0 {
                    self.simple_key_allowed = true;
                }
            } else {
                break;
            }
        }
    }

    fn skip_blanks(&mut self) {
        while is_blank(self.at(0)) {
            self.skip();
        }
    }

    fn skip_comment(&mut self) {
        if self.at(0) == '#' {
            while !is_breakz(self.at(0)) {
                self.skip();
            }
        }
    }

    fn scan_directive(&mut self) -> SResult<Token> {
        let start = self.mark;
        self.skip();
        let mut name = String::new();
        while is_alpha(self.at(0)) {
            self.read(&mut name);
        }
        if name.is_empty() {
            return Err(self.error(start, "could not find expected directive name"));
        }
        if !is_blankz(self.at(0)) {
            return Err(self.error(start, "found unexpected non-alphabetical character"));
        }
        let tok = match name.as_str() {
            "YAML" => {
                self.skip_blanks();
                let major = self.scan_version_number(start)?;
                if self.at(0) != '.' {
                    return Err(self.error(start, "did not find expected digit or '.' character"));
                }
                self.skip();
                let minor = self.scan_version_number(start)?;
                Tok::VersionDirective(major, minor)
            }
            "TAG" => {
                self.skip_blanks();
                let handle = self.scan_tag_handle(true, start)?;
                if !is_blank(self.at(0)) {
                    return Err(self.error(start, "did not find expected whitespace"));
                }
                self.skip_blanks();
                let prefix = self.scan_tag_uri(true, "", start)?;
                if !is_blankz(self.at(0)) {
                    return Err(self.error(start, "did not find expected whitespace or line break"));
                }
                Tok::TagDirective(handle, prefix)
            }
            _ => return Err(self.error(start, "found unknown directive name")),
        };
        let end = self.mark;
        self.skip_blanks();
        self.skip_comment();
        if !is_breakz(self.at(0)) {
            return Err(self.error(start, "did not find expected comment or line break"));
        }
        if is_break(self.at(0)) {
            self.skip_line();
        }
        Ok(Token { tok, start, end })
    }

    fn scan_version_number(&mut self, start: Mark) -> SResult<u32> {
        let mut value = 0u32;
        let mut length = 0;
        while let Some(d) = self.at(0).to_digit(10) {
            length += 1;
            if length > 2 {
                return Err(self.error(start, "found extremely long version number"));
            }
            value = value * 10 + d;
            self.skip();
        }
        if length == 0 {
            return Err(self.error(start, "did not find expected version number"));
        }
        Ok(value)
    }

    fn scan_tag_handle(&mut self, directive: bool, start: Mark) -> SResult<String> {
        if self.at(0) != '!' {
            return Err(self.error(start, "did not find expected '!'"));
        }
        let mut s = String::new();
        self.read(&mut s);
        while is_alpha(self.at(0)) {
            self.read(&mut s);
        }
        if self.at(0) == '!' {
            self.read(&mut s);
        } else if directive && s != "!" {
            // In a %TAG directive the handle must be '!', '!!' or '!name!'.
            return Err(self.error(start, "did not find expected '!'"));
        }
        Ok(s)
    }

    /// A tag's URI characters (with %-escapes), after `head` minus its leading '!'.
    fn scan_tag_uri(&mut self, _directive: bool, head: &str, start: Mark) -> SResult<String> {
        let mut bytes: Vec<u8> = head.get(1..).unwrap_or("").as_bytes().to_vec();
        let mut has_tag = !head.is_empty();
        loop {
            let c = self.at(0);
            if !(is_alpha(c) || ";/?:@&=+$,.!~*'()[]%".contains(c)) || is_z(c) {
                break;
            }
            if c == '%' {
                self.scan_uri_escapes(start, &mut bytes)?;
            } else {
                let mut tmp = [0u8; 4];
                bytes.extend_from_slice(c.encode_utf8(&mut tmp).as_bytes());
                self.skip();
            }
            has_tag = true;
        }
        if !has_tag {
            return Err(self.error(start, "did not find expected tag URI"));
        }
        Ok(String::from_utf8_lossy(&bytes).into_owned())
    }

    fn scan_uri_escapes(&mut self, start: Mark, out: &mut Vec<u8>) -> SResult<()> {
        let mut w = 1024usize;
        while w > 0 {
            let (Some(hi), Some(lo)) = (hex_value(self.at(1)), hex_value(self.at(2))) else {
                return Err(self.error(start, "did not find URI escaped octet"));
            };
            if self.at(0) != '%' {
                return Err(self.error(start, "did not find URI escaped octet"));
            }
            let octet = u8::try_from((hi << 4) + lo).unwrap_or(0);
            if w == 1024 {
                w = utf8_width(octet);
                if w == 0 {
                    return Err(self.error(start, "found an incorrect leading UTF-8 octet"));
                }
            } else if octet & 0xC0 != 0x80 {
                return Err(self.error(start, "found an incorrect trailing UTF-8 octet"));
            }
            out.push(octet);
            self.skip();
            self.skip();
            self.skip();
            w -= 1;
        }
        Ok(())
    }

    fn scan_block_scalar(&mut self, literal: bool) -> SResult<Token> {
        let start = self.mark;
        self.skip();
        let mut chomping = 0i32;
        let mut increment = 0i64;
        let c = self.at(0);
        if c == '+' || c == '-' {
            chomping = if c == '+' { 1 } else { -1 };
            self.skip();
            if let Some(d) = self.at(0).to_digit(10) {
                if d == 0 {
                    return Err(self.error(start, "found an indentation indicator equal to 0"));
                }
                increment = i64::from(d);
                self.skip();
            }
        } else if let Some(d) = c.to_digit(10) {
            if d == 0 {
                return Err(self.error(start, "found an indentation indicator equal to 0"));
            }
            increment = i64::from(d);
            self.skip();
            let c = self.at(0);
            if c == '+' || c == '-' {
                chomping = if c == '+' { 1 } else { -1 };
                self.skip();
            }
        }
        self.skip_blanks();
        self.skip_comment();
        if !is_breakz(self.at(0)) {
            return Err(self.error(start, "did not find expected comment or line break"));
        }
        if is_break(self.at(0)) {
            self.skip_line();
        }
        let mut end = self.mark;
        let mut indent = 0i64;
        if increment > 0 {
            indent = if self.indent >= 0 {
                self.indent + increment
            } else {
                increment
            };
        }
        let mut s = String::new();
        let mut leading_break = String::new();
        let mut trailing_breaks = String::new();
        self.scan_block_scalar_breaks(&mut indent, &mut trailing_breaks, start, &mut end)?;
        let mut leading_blank = false;
        while self.column() == indent && !is_z(self.at(0)) {
            let trailing_blank = is_blank(self.at(0));
            if !literal && !leading_blank && !trailing_blank && leading_break.starts_with('\n') {
                if trailing_breaks.is_empty() {
                    s.push(' ');
                }
            } else {
                s.push_str(&leading_break);
            }
            leading_break.clear();
            s.push_str(&trailing_breaks);
            trailing_breaks.clear();
            leading_blank = is_blank(self.at(0));
            while !is_breakz(self.at(0)) {
                self.read(&mut s);
            }
            self.read_line(&mut leading_break);
            self.scan_block_scalar_breaks(&mut indent, &mut trailing_breaks, start, &mut end)?;
        }
        if chomping != -1 {
            s.push_str(&leading_break);
        }
        if chomping == 1 {
            s.push_str(&trailing_breaks);
        }
        let style = if literal {
            ScalarStyle::Literal
        } else {
            ScalarStyle::Folded
        };
        Ok(Token {
            tok: Tok::Scalar(s, style),
            start,
            end,
        })
    }

    fn scan_block_scalar_breaks(
        &mut self,
        indent: &mut i64,
        breaks: &mut String,
        start: Mark,
        end: &mut Mark,
    ) -> SResult<()> {
        *end = self.mark;
        let mut max_indent = 0i64;
        loop {
            while (*indent == 0 || self.column() < *indent) && self.at(0) == ' ' {
                self.skip();
            }
            if self.column() > max_indent {
                max_indent = self.column();
            }
            if (*indent == 0 || self.column() < *indent) && self.at(0) == '\t' {
                return Err(self.error(
                    start,
                    "found a tab character where an indentation space is expected",
                ));
            }
            if !is_break(self.at(0)) {
                break;
            }
            self.read_line(breaks);
            *end = self.mark;
        }
        if *indent == 0 {
            *indent = max_indent.max(self.indent + 1).max(1);
        }
        Ok(())
    }

    fn scan_flow_scalar(&mut self, single: bool) -> SResult<Token> {
        let start = self.mark;
        self.skip();
        let mut s = String::new();
        let mut leading_break = String::new();
        let mut trailing_breaks = String::new();
        let mut whitespaces = String::new();
        loop {
            if self.mark.column == 0
                && ((self.at(0) == '-' && self.at(1) == '-' && self.at(2) == '-')
                    || (self.at(0) == '.' && self.at(1) == '.' && self.at(2) == '.'))
                && is_blankz(self.at(3))
            {
                return Err(self.error(start, "found unexpected document indicator"));
            }
            if is_z(self.at(0)) {
                return Err(self.error(start, "found unexpected end of stream"));
            }
            let mut leading_blanks = false;
            while !is_blankz(self.at(0)) {
                let c = self.at(0);
                if single && c == '\'' && self.at(1) == '\'' {
                    s.push('\'');
                    self.skip();
                    self.skip();
                } else if (single && c == '\'') || (!single && c == '"') {
                    // The closing quote.
                    break;
                } else if !single && c == '\\' && is_break(self.at(1)) {
                    // An escaped line break.
                    self.skip();
                    self.skip_line();
                    leading_blanks = true;
                    break;
                } else if !single && c == '\\' {
                    let mut code_length = 0usize;
                    match self.at(1) {
                        '0' => s.push('\0'),
                        'a' => s.push('\x07'),
                        'b' => s.push('\x08'),
                        't' | '\t' => s.push('\t'),
                        'n' => s.push('\n'),
                        'v' => s.push('\x0B'),
                        'f' => s.push('\x0C'),
                        'r' => s.push('\r'),
                        'e' => s.push('\x1B'),
                        ' ' => s.push(' '),
                        '"' => s.push('"'),
                        '\'' => s.push('\''),
                        '\\' => s.push('\\'),
                        'N' => s.push('\u{85}'),
                        '_' => s.push('\u{A0}'),
                        'L' => s.push('\u{2028}'),
                        'P' => s.push('\u{2029}'),
                        'x' => code_length = 2,
                        'u' => code_length = 4,
                        'U' => code_length = 8,
                        _ => return Err(self.error(start, "found unknown escape character")),
                    }
                    self.skip();
                    self.skip();
                    if code_length > 0 {
                        let mut value = 0u32;
                        for k in 0..code_length {
                            let Some(d) = hex_value(self.at(k)) else {
                                return Err(
                                    self.error(start, "did not find expected hexdecimal number")
                                );
                            };
                            value = (value << 4) + d;
                        }
                        let Some(ch) = char::from_u32(value) else {
                            return Err(
                                self.error(start, "found invalid Unicode character escape code")
                            );
                        };
                        s.push(ch);
                        for _ in 0..code_length {
                            self.skip();
                        }
                    }
                } else {
                    self.read(&mut s);
                }
            }
            let c = self.at(0);
            if (single && c == '\'') || (!single && c == '"') {
                break;
            }
            while is_blank(self.at(0)) || is_break(self.at(0)) {
                if is_blank(self.at(0)) {
                    if !leading_blanks {
                        self.read(&mut whitespaces);
                    } else {
                        self.skip();
                    }
                } else if !leading_blanks {
                    whitespaces.clear();
                    self.read_line(&mut leading_break);
                    leading_blanks = true;
                } else {
                    self.read_line(&mut trailing_breaks);
                }
            }
            if leading_blanks {
                if leading_break.starts_with('\n') {
                    if trailing_breaks.is_empty() {
                        s.push(' ');
                    } else {
                        s.push_str(&trailing_breaks);
                    }
                } else {
                    s.push_str(&leading_break);
                    s.push_str(&trailing_breaks);
                }
                trailing_breaks.clear();
                leading_break.clear();
            } else {
                s.push_str(&whitespaces);
                whitespaces.clear();
            }
        }
        self.skip();
        let end = self.mark;
        let style = if single {
            ScalarStyle::SingleQuoted
        } else {
            ScalarStyle::DoubleQuoted
        };
        Ok(Token {
            tok: Tok::Scalar(s, style),
            start,
            end,
        })
    }

    fn scan_plain_scalar(&mut self) -> SResult<Token> {
        let mut s = String::new();
        let mut leading_break = String::new();
        let mut trailing_breaks = String::new();
        let mut whitespaces = String::new();
        let mut leading_blanks = false;
        let indent = self.indent + 1;
        let start = self.mark;
        let mut end = self.mark;
        loop {
            if self.mark.column == 0
                && ((self.at(0) == '-' && self.at(1) == '-' && self.at(2) == '-')
                    || (self.at(0) == '.' && self.at(1) == '.' && self.at(2) == '.'))
                && is_blankz(self.at(3))
            {
                break;
            }
            if self.at(0) == '#' {
                break;
            }
            while !is_blankz(self.at(0)) {
                let c = self.at(0);
                if (c == ':' && is_blankz(self.at(1)))
                    || (self.flow_level > 0 && ",?[]{}".contains(c))
                {
                    break;
                }
                if leading_blanks || !whitespaces.is_empty() {
                    if leading_blanks {
                        if leading_break.starts_with('\n') {
                            if trailing_breaks.is_empty() {
                                s.push(' ');
                            } else {
                                s.push_str(&trailing_breaks);
                            }
                        } else {
                            s.push_str(&leading_break);
                            s.push_str(&trailing_breaks);
                        }
                        trailing_breaks.clear();
                        leading_break.clear();
                        leading_blanks = false;
                    } else {
                        s.push_str(&whitespaces);
                        whitespaces.clear();
                    }
                }
                self.read(&mut s);
                end = self.mark;
            }
            if !(is_blank(self.at(0)) || is_break(self.at(0))) {
                break;
            }
            while is_blank(self.at(0)) || is_break(self.at(0)) {
                if is_blank(self.at(0)) {
                    if leading_blanks && self.column() < indent && self.at(0) == '\t' {
                        return Err(
                            self.error(start, "found a tab character that violates indentation")
                        );
                    }
                    if !leading_blanks {
                        self.read(&mut whitespaces);
                    } else {
                        self.skip();
                    }
                } else if !leading_blanks {
                    whitespaces.clear();
                    self.read_line(&mut leading_break);
                    leading_blanks = true;
                } else {
                    self.read_line(&mut trailing_breaks);
                }
            }
            if self.flow_level == 0 && self.column() < indent {
                break;
            }
        }
        if leading_blanks {
            self.simple_key_allowed = true;
        }
        Ok(Token {
            tok: Tok::Scalar(s, ScalarStyle::Plain),
            start,
            end,
        })
    }
}

// ----- parser -----

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum State {
    StreamStart,
    ImplicitDocumentStart,
    DocumentStart,
    DocumentContent,
    DocumentEnd,
    BlockNode,
    BlockSequenceFirstEntry,
    BlockSequenceEntry,
    IndentlessSequenceEntry,
    BlockMappingFirstKey,
    BlockMappingKey,
    BlockMappingValue,
    FlowSequenceFirstEntry,
    FlowSequenceEntry,
    FlowSequenceEntryMappingKey,
    FlowSequenceEntryMappingValue,
    FlowSequenceEntryMappingEnd,
    FlowMappingFirstKey,
    FlowMappingKey,
    FlowMappingValue,
    FlowMappingEmptyValue,
    End,
}

fn parser_error(problem: &str, problem_mark: Mark) -> SyntaxError {
    SyntaxError {
        stage: ErrorStage::Parser,
        problem: problem.to_string(),
        problem_mark,
        context_mark: Mark::default(),
    }
}

fn parser_error_context(context_mark: Mark, problem: &str, problem_mark: Mark) -> SyntaxError {
    SyntaxError {
        stage: ErrorStage::Parser,
        problem: problem.to_string(),
        problem_mark,
        context_mark,
    }
}

fn ev(kind: EventKind, start: Mark) -> Event {
    Event { kind, start }
}

fn empty_scalar(mark: Mark) -> Event {
    ev(
        EventKind::Scalar {
            anchor: String::new(),
            tag: String::new(),
            value: String::new(),
            implicit: true,
            style: ScalarStyle::Plain,
        },
        mark,
    )
}

impl Parser {
    fn pop_state(&mut self) {
        self.state = self.states.pop().unwrap_or(State::End);
    }

    fn peek(&mut self) -> SResult<Token> {
        self.sc.peek().cloned()
    }

    fn state_machine(&mut self) -> SResult<Event> {
        match self.state {
            State::StreamStart => self.parse_stream_start(),
            State::ImplicitDocumentStart => self.parse_document_start(true),
            State::DocumentStart => self.parse_document_start(false),
            State::DocumentContent => self.parse_document_content(),
            State::DocumentEnd => self.parse_document_end(),
            State::BlockNode => self.parse_node(true, false),
            State::BlockSequenceFirstEntry => self.parse_block_sequence_entry(true),
            State::BlockSequenceEntry => self.parse_block_sequence_entry(false),
            State::IndentlessSequenceEntry => self.parse_indentless_sequence_entry(),
            State::BlockMappingFirstKey => self.parse_block_mapping_key(true),
            State::BlockMappingKey => self.parse_block_mapping_key(false),
            State::BlockMappingValue => self.parse_block_mapping_value(),
            State::FlowSequenceFirstEntry => self.parse_flow_sequence_entry(true),
            State::FlowSequenceEntry => self.parse_flow_sequence_entry(false),
            State::FlowSequenceEntryMappingKey => self.parse_flow_sequence_entry_mapping_key(),
            State::FlowSequenceEntryMappingValue => self.parse_flow_sequence_entry_mapping_value(),
            State::FlowSequenceEntryMappingEnd => self.parse_flow_sequence_entry_mapping_end(),
            State::FlowMappingFirstKey => self.parse_flow_mapping_key(true),
            State::FlowMappingKey => self.parse_flow_mapping_key(false),
            State::FlowMappingValue => self.parse_flow_mapping_value(false),
            State::FlowMappingEmptyValue => self.parse_flow_mapping_value(true),
            State::End => {
                self.done = true;
                Ok(ev(EventKind::StreamEnd, self.sc.mark))
            }
        }
    }

    fn parse_stream_start(&mut self) -> SResult<Event> {
        let t = self.peek()?;
        if t.tok != Tok::StreamStart {
            return Err(parser_error(
                "did not find expected <stream-start>",
                t.start,
            ));
        }
        self.state = State::ImplicitDocumentStart;
        self.sc.skip_token();
        Ok(ev(EventKind::StreamStart, t.start))
    }

    fn parse_document_start(&mut self, implicit: bool) -> SResult<Event> {
        let mut t = self.peek()?;
        if !implicit {
            while t.tok == Tok::DocumentEnd {
                self.sc.skip_token();
                t = self.peek()?;
            }
        }
        let directive_or_start = matches!(
            t.tok,
            Tok::VersionDirective(..) | Tok::TagDirective(..) | Tok::DocumentStart
        );
        if implicit && !directive_or_start && t.tok != Tok::StreamEnd {
            self.process_directives()?;
            self.states.push(State::DocumentEnd);
            self.state = State::BlockNode;
            return Ok(ev(EventKind::DocumentStart, t.start));
        }
        if t.tok != Tok::StreamEnd {
            let start = t.start;
            self.process_directives()?;
            let t = self.peek()?;
            if t.tok != Tok::DocumentStart {
                return Err(parser_error(
                    "did not find expected <document start>",
                    t.start,
                ));
            }
            self.states.push(State::DocumentEnd);
            self.state = State::DocumentContent;
            self.sc.skip_token();
            return Ok(ev(EventKind::DocumentStart, start));
        }
        self.state = State::End;
        self.done = true;
        self.sc.skip_token();
        Ok(ev(EventKind::StreamEnd, t.start))
    }

    fn parse_document_content(&mut self) -> SResult<Event> {
        let t = self.peek()?;
        if matches!(
            t.tok,
            Tok::VersionDirective(..)
                | Tok::TagDirective(..)
                | Tok::DocumentStart
                | Tok::DocumentEnd
                | Tok::StreamEnd
        ) {
            self.pop_state();
            return Ok(empty_scalar(t.start));
        }
        self.parse_node(true, false)
    }

    fn parse_document_end(&mut self) -> SResult<Event> {
        let t = self.peek()?;
        if t.tok == Tok::DocumentEnd {
            self.sc.skip_token();
        }
        self.tag_directives.clear();
        self.state = State::DocumentStart;
        Ok(ev(EventKind::DocumentEnd, t.start))
    }

    fn parse_node(&mut self, block: bool, indentless_sequence: bool) -> SResult<Event> {
        let mut t = self.peek()?;
        if let Tok::Alias(name) = &t.tok {
            self.pop_state();
            self.sc.skip_token();
            return Ok(ev(
                EventKind::Alias {
                    anchor: name.clone(),
                },
                t.start,
            ));
        }
        let mut start = t.start;
        let mut anchor = String::new();
        let mut tag_parts: Option<(String, String)> = None;
        let mut tag_mark = t.start;
        if let Tok::Anchor(a) = &t.tok {
            anchor = a.clone();
            start = t.start;
            self.sc.skip_token();
            t = self.peek()?;
            if let Tok::Tag(h, s) = &t.tok {
                tag_parts = Some((h.clone(), s.clone()));
                tag_mark = t.start;
                self.sc.skip_token();
                t = self.peek()?;
            }
        } else if let Tok::Tag(h, s) = &t.tok {
            tag_parts = Some((h.clone(), s.clone()));
            start = t.start;
            tag_mark = t.start;
            self.sc.skip_token();
            t = self.peek()?;
            if let Tok::Anchor(a) = &t.tok {
                anchor = a.clone();
                self.sc.skip_token();
                t = self.peek()?;
            }
        }
        let mut tag = String::new();
        if let Some((handle, suffix)) = tag_parts {
            if handle.is_empty() {
                tag = suffix;
            } else {
                if let Some((_, prefix)) = self.tag_directives.iter().find(|(h, _)| *h == handle) {
                    tag = format!("{prefix}{suffix}");
                }
                if tag.is_empty() {
                    return Err(parser_error_context(
                        start,
                        "found undefined tag handle",
                        tag_mark,
                    ));
                }
            }
        }
        if indentless_sequence && t.tok == Tok::BlockEntry {
            self.state = State::IndentlessSequenceEntry;
            return Ok(ev(EventKind::SequenceStart { anchor, tag }, start));
        }
        match t.tok {
            Tok::Scalar(value, style) => {
                let implicit = (tag.is_empty() && style == ScalarStyle::Plain) || tag == "!";
                self.pop_state();
                self.sc.skip_token();
                Ok(ev(
                    EventKind::Scalar {
                        anchor,
                        tag,
                        value,
                        implicit,
                        style,
                    },
                    start,
                ))
            }
            Tok::FlowSequenceStart => {
                self.state = State::FlowSequenceFirstEntry;
                Ok(ev(EventKind::SequenceStart { anchor, tag }, start))
            }
            Tok::FlowMappingStart => {
                self.state = State::FlowMappingFirstKey;
                Ok(ev(EventKind::MappingStart { anchor, tag }, start))
            }
            Tok::BlockSequenceStart if block => {
                self.state = State::BlockSequenceFirstEntry;
                Ok(ev(EventKind::SequenceStart { anchor, tag }, start))
            }
            Tok::BlockMappingStart if block => {
                self.state = State::BlockMappingFirstKey;
                Ok(ev(EventKind::MappingStart { anchor, tag }, start))
            }
            _ if !anchor.is_empty() || !tag.is_empty() => {
                self.pop_state();
                let implicit = tag.is_empty();
                Ok(ev(
                    EventKind::Scalar {
                        anchor,
                        tag,
                        value: String::new(),
                        implicit,
                        style: ScalarStyle::Plain,
                    },
                    start,
                ))
            }
            _ => Err(parser_error_context(
                start,
                "did not find expected node content",
                t.start,
            )),
        }
    }

    fn parse_block_sequence_entry(&mut self, first: bool) -> SResult<Event> {
        if first {
            let t = self.peek()?;
            self.marks.push(t.start);
            self.sc.skip_token();
        }
        let t = self.peek()?;
        if t.tok == Tok::BlockEntry {
            let mark = t.end;
            self.sc.skip_token();
            let t = self.peek()?;
            if t.tok != Tok::BlockEntry && t.tok != Tok::BlockEnd {
                self.states.push(State::BlockSequenceEntry);
                return self.parse_node(true, false);
            }
            self.state = State::BlockSequenceEntry;
            return Ok(empty_scalar(mark));
        }
        let context = self.marks.pop().unwrap_or_default();
        if t.tok == Tok::BlockEnd {
            self.pop_state();
            self.sc.skip_token();
            return Ok(ev(EventKind::SequenceEnd, t.start));
        }
        Err(parser_error_context(
            context,
            "did not find expected '-' indicator",
            t.start,
        ))
    }

    fn parse_indentless_sequence_entry(&mut self) -> SResult<Event> {
        let t = self.peek()?;
        if t.tok == Tok::BlockEntry {
            let mark = t.end;
            self.sc.skip_token();
            let t = self.peek()?;
            if !matches!(
                t.tok,
                Tok::BlockEntry | Tok::Key | Tok::Value | Tok::BlockEnd
            ) {
                self.states.push(State::IndentlessSequenceEntry);
                return self.parse_node(true, false);
            }
            self.state = State::IndentlessSequenceEntry;
            return Ok(empty_scalar(mark));
        }
        self.pop_state();
        Ok(ev(EventKind::SequenceEnd, t.start))
    }

    fn parse_block_mapping_key(&mut self, first: bool) -> SResult<Event> {
        if first {
            let t = self.peek()?;
            self.marks.push(t.start);
            self.sc.skip_token();
        }
        let t = self.peek()?;
        if t.tok == Tok::Key {
            let mark = t.end;
            self.sc.skip_token();
            let t = self.peek()?;
            if !matches!(t.tok, Tok::Key | Tok::Value | Tok::BlockEnd) {
                self.states.push(State::BlockMappingValue);
                return self.parse_node(true, true);
            }
            self.state = State::BlockMappingValue;
            return Ok(empty_scalar(mark));
        }
        let context = self.marks.pop().unwrap_or_default();
        if t.tok == Tok::BlockEnd {
            self.pop_state();
            self.sc.skip_token();
            return Ok(ev(EventKind::MappingEnd, t.start));
        }
        Err(parser_error_context(
            context,
            "did not find expected key",
            t.start,
        ))
    }

    fn parse_block_mapping_value(&mut self) -> SResult<Event> {
        let t = self.peek()?;
        if t.tok == Tok::Value {
            let mark = t.end;
            self.sc.skip_token();
            let t = self.peek()?;
            if !matches!(t.tok, Tok::Key | Tok::Value | Tok::BlockEnd) {
                self.states.push(State::BlockMappingKey);
                return self.parse_node(true, true);
            }
            self.state = State::BlockMappingKey;
            return Ok(empty_scalar(mark));
        }
        self.state = State::BlockMappingKey;
        Ok(empty_scalar(t.start))
    }

    fn parse_flow_sequence_entry(&mut self, first: bool) -> SResult<Event> {
        if first {
            let t = self.peek()?;
            self.marks.push(t.start);
            self.sc.skip_token();
        }
        let mut t = self.peek()?;
        if t.tok != Tok::FlowSequenceEnd {
            if !first {
                if t.tok == Tok::FlowEntry {
                    self.sc.skip_token();
                    t = self.peek()?;
                } else {
                    let context = self.marks.pop().unwrap_or_default();
                    return Err(parser_error_context(
                        context,
                        "did not find expected ',' or ']'",
                        t.start,
                    ));
                }
            }
            if t.tok == Tok::Key {
                self.state = State::FlowSequenceEntryMappingKey;
                self.sc.skip_token();
                return Ok(ev(
                    EventKind::MappingStart {
                        anchor: String::new(),
                        tag: String::new(),
                    },
                    t.start,
                ));
            }
            if t.tok != Tok::FlowSequenceEnd {
                self.states.push(State::FlowSequenceEntry);
                return self.parse_node(false, false);
            }
        }
        self.pop_state();
        self.marks.pop();
        self.sc.skip_token();
        Ok(ev(EventKind::SequenceEnd, t.start))
    }

    fn parse_flow_sequence_entry_mapping_key(&mut self) -> SResult<Event> {
        let t = self.peek()?;
        if !matches!(t.tok, Tok::Value | Tok::FlowEntry | Tok::FlowSequenceEnd) {
            self.states.push(State::FlowSequenceEntryMappingValue);
            return self.parse_node(false, false);
        }
        let mark = t.end;
        self.sc.skip_token();
        self.state = State::FlowSequenceEntryMappingValue;
        Ok(empty_scalar(mark))
    }

    fn parse_flow_sequence_entry_mapping_value(&mut self) -> SResult<Event> {
        let t = self.peek()?;
        if t.tok == Tok::Value {
            self.sc.skip_token();
            let next = self.peek()?;
            if !matches!(next.tok, Tok::FlowEntry | Tok::FlowSequenceEnd) {
                self.states.push(State::FlowSequenceEntryMappingEnd);
                return self.parse_node(false, false);
            }
        }
        // The empty value is placed at the ':' (go-yaml shadows the peeked token here).
        self.state = State::FlowSequenceEntryMappingEnd;
        Ok(empty_scalar(t.start))
    }

    fn parse_flow_sequence_entry_mapping_end(&mut self) -> SResult<Event> {
        let t = self.peek()?;
        self.state = State::FlowSequenceEntry;
        Ok(ev(EventKind::MappingEnd, t.start))
    }

    fn parse_flow_mapping_key(&mut self, first: bool) -> SResult<Event> {
        if first {
            let t = self.peek()?;
            self.marks.push(t.start);
            self.sc.skip_token();
        }
        let mut t = self.peek()?;
        if t.tok != Tok::FlowMappingEnd {
            if !first {
                if t.tok == Tok::FlowEntry {
                    self.sc.skip_token();
                    t = self.peek()?;
                } else {
                    let context = self.marks.pop().unwrap_or_default();
                    return Err(parser_error_context(
                        context,
                        "did not find expected ',' or '}'",
                        t.start,
                    ));
                }
            }
            if t.tok == Tok::Key {
                self.sc.skip_token();
                t = self.peek()?;
                if !matches!(t.tok, Tok::Value | Tok::FlowEntry | Tok::FlowMappingEnd) {
                    self.states.push(State::FlowMappingValue);
                    return self.parse_node(false, false);
                }
                self.state = State::FlowMappingValue;
                return Ok(empty_scalar(t.start));
            }
            if t.tok != Tok::FlowMappingEnd {
                self.states.push(State::FlowMappingEmptyValue);
                return self.parse_node(false, false);
            }
        }
        self.pop_state();
        self.marks.pop();
        self.sc.skip_token();
        Ok(ev(EventKind::MappingEnd, t.start))
    }

    fn parse_flow_mapping_value(&mut self, empty: bool) -> SResult<Event> {
        let mut t = self.peek()?;
        if empty {
            self.state = State::FlowMappingKey;
            return Ok(empty_scalar(t.start));
        }
        if t.tok == Tok::Value {
            self.sc.skip_token();
            t = self.peek()?;
            if !matches!(t.tok, Tok::FlowEntry | Tok::FlowMappingEnd) {
                self.states.push(State::FlowMappingKey);
                return self.parse_node(false, false);
            }
        }
        self.state = State::FlowMappingKey;
        Ok(empty_scalar(t.start))
    }

    fn process_directives(&mut self) -> SResult<()> {
        let mut version_seen = false;
        let mut t = self.peek()?;
        loop {
            match &t.tok {
                Tok::VersionDirective(major, minor) => {
                    if version_seen {
                        return Err(parser_error("found duplicate %YAML directive", t.start));
                    }
                    if !(*major == 1 && *minor == 1) {
                        return Err(parser_error("found incompatible YAML document", t.start));
                    }
                    version_seen = true;
                }
                Tok::TagDirective(handle, prefix) => {
                    if self.tag_directives.iter().any(|(h, _)| h == handle) {
                        return Err(parser_error("found duplicate %TAG directive", t.start));
                    }
                    self.tag_directives.push((handle.clone(), prefix.clone()));
                }
                _ => break,
            }
            self.sc.skip_token();
            t = self.peek()?;
        }
        for (h, p) in [("!", "!"), ("!!", "tag:yaml.org,2002:")] {
            if !self.tag_directives.iter().any(|(x, _)| x == h) {
                self.tag_directives.push((h.to_string(), p.to_string()));
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn events(src: &str) -> Result<Vec<String>, SyntaxError> {
        let mut p = Parser::new(src);
        let mut out = Vec::new();
        loop {
            let e = p.next_event()?;
            let end = e.kind == EventKind::StreamEnd;
            let s = match &e.kind {
                EventKind::Scalar {
                    value, tag, style, ..
                } => format!(
                    "S({value:?},{tag},{style:?})@{}:{}",
                    e.start.line, e.start.column
                ),
                EventKind::Alias { anchor } => {
                    format!("*{anchor}@{}:{}", e.start.line, e.start.column)
                }
                k => format!("{}@{}:{}", k.go_name(), e.start.line, e.start.column),
            };
            out.push(s);
            if end {
                return Ok(out);
            }
        }
    }

    #[test]
    fn block_mapping_events() {
        let ev = events("a: 1\nb: [x, 'y']\n").expect("parses");
        assert_eq!(
            ev,
            vec![
                "yaml_STREAM_START_EVENT@0:0",
                "yaml_DOCUMENT_START_EVENT@0:0",
                "yaml_MAPPING_START_EVENT@0:0",
                "S(\"a\",,Plain)@0:0",
                "S(\"1\",,Plain)@0:3",
                "S(\"b\",,Plain)@1:0",
                "yaml_SEQUENCE_START_EVENT@1:3",
                "S(\"x\",,Plain)@1:4",
                "S(\"y\",,SingleQuoted)@1:7",
                "yaml_SEQUENCE_END_EVENT@1:10",
                "yaml_MAPPING_END_EVENT@2:0",
                "yaml_DOCUMENT_END_EVENT@2:0",
                "yaml_STREAM_END_EVENT@2:0",
            ]
        );
    }

    #[test]
    fn scalars_fold_like_libyaml() {
        let ev = events(
            "a: |\n  x\n  y\nb: >-\n  p\n  q\n\n  r\nc: \"e\\x41\\u00e9\\\n  z\"\nd: x\n  y\n",
        )
        .expect("parses");
        assert!(
            ev.contains(&"S(\"x\\ny\\n\",,Literal)@0:3".to_string()),
            "{ev:?}"
        );
        assert!(
            ev.contains(&"S(\"p q\\nr\",,Folded)@3:3".to_string()),
            "{ev:?}"
        );
        assert!(
            ev.contains(&"S(\"eAéz\",,DoubleQuoted)@8:3".to_string()),
            "{ev:?}"
        );
        assert!(ev.contains(&"S(\"x y\",,Plain)@10:3".to_string()), "{ev:?}");
    }

    #[test]
    fn errors_carry_libyaml_marks() {
        let e = events("a: 1\nb").expect_err("fails");
        assert_eq!(e.problem, "could not find expected ':'");
        assert_eq!((e.stage, e.problem_mark.line), (ErrorStage::Scanner, 2));
        let e = events("a: 1\nb: [1").expect_err("fails");
        assert_eq!(e.problem, "did not find expected ',' or ']'");
        assert_eq!(
            (e.stage, e.problem_mark.line, e.problem_mark.column),
            (ErrorStage::Parser, 2, 0)
        );
        let e = events("a: \u{1}").expect_err("fails");
        assert_eq!(e.stage, ErrorStage::Reader);
    }
}
