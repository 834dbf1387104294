//! `yamlencode`'s output: a port of the subset of go-yaml's emitter (libyaml's, as vendored
//! by go-cty-yaml) that go-cty-yaml drives — block mappings and sequences, flow style only
//! for empty collections, strings double-quoted (literal block style when they contain a
//! newline), other scalars plain — so the bytes match Terraform's exactly, including line
//! folding of long strings at column 80 and the `...` document end after a plain root.
//!
//! It must not be "simplified": every branch mirrors a branch of the original.

use crate::value::{Kind, Value};

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Style {
    Plain,
    SingleQuoted,
    DoubleQuoted,
    Literal,
}

#[derive(Debug)]
enum Event {
    StreamStart,
    DocStart,
    DocEnd,
    StreamEnd,
    Scalar(Vec<u8>, Style),
    SeqStart,
    SeqEnd,
    MapStart,
    MapEnd,
}

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum State {
    StreamStart,
    FirstDocStart,
    DocStart,
    DocContent,
    DocEnd,
    FlowSeqFirst,
    FlowSeqItem,
    FlowMapFirstKey,
    FlowMapKey,
    FlowMapSimpleValue,
    FlowMapValue,
    BlockSeqFirst,
    BlockSeqItem,
    BlockMapFirstKey,
    BlockMapKey,
    BlockMapSimpleValue,
    BlockMapValue,
    End,
}

/// Encodes a known value as go-cty-yaml does.
pub(super) fn encode(v: &Value) -> Result<String, String> {
    let mut events = vec![Event::StreamStart, Event::DocStart];
    push_events(v, &mut events)?;
    events.push(Event::DocEnd);
    events.push(Event::StreamEnd);
    let mut e = Emitter::default();
    for i in 0..events.len() {
        e.analyze(&events[i]);
        e.state_machine(&events, i)?;
    }
    String::from_utf8(e.buf).map_err(|_| "invalid UTF-8 in YAML output".to_string())
}

fn push_events(v: &Value, out: &mut Vec<Event>) -> Result<(), String> {
    match v.kind() {
        Kind::Null(_) => out.push(Event::Scalar(b"null".to_vec(), Style::Plain)),
        Kind::Unknown(_) => return Err("cannot serialize unknown value as YAML".into()),
        Kind::Bool(b) => out.push(Event::Scalar(
            if *b {
                b"true".to_vec()
            } else {
                b"false".to_vec()
            },
            Style::Plain,
        )),
        Kind::Number(n) => out.push(Event::Scalar(n.to_string().into_bytes(), Style::Plain)),
        Kind::String(s) => {
            let style = if s.contains('\n') {
                Style::Literal
            } else {
                Style::DoubleQuoted
            };
            out.push(Event::Scalar(s.as_bytes().to_vec(), style));
        }
        Kind::List(_, items) | Kind::Set(_, items) | Kind::Tuple(items) => {
            out.push(Event::SeqStart);
            for x in items.iter() {
                push_events(x, out)?;
            }
            out.push(Event::SeqEnd);
        }
        Kind::Map(_, items) | Kind::Object(items) => {
            out.push(Event::MapStart);
            for (k, x) in items.iter() {
                out.push(Event::Scalar(
                    k.as_bytes().to_vec(),
                    if k.contains('\n') {
                        Style::Literal
                    } else {
                        Style::DoubleQuoted
                    },
                ));
                push_events(x, out)?;
            }
            out.push(Event::MapEnd);
        }
    }
    Ok(())
}

#[derive(Default)]
struct ScalarData {
    value: Vec<u8>,
    multiline: bool,
    flow_plain_allowed: bool,
    block_plain_allowed: bool,
    single_quoted_allowed: bool,
    block_allowed: bool,
    style: Option<Style>,
}

struct Emitter {
    buf: Vec<u8>,
    best_indent: i64,
    best_width: i64,
    state: State,
    states: Vec<State>,
    indents: Vec<i64>,
    indent: i64,
    flow_level: i64,
    root_context: bool,
    sequence_context: bool,
    mapping_context: bool,
    simple_key_context: bool,
    column: i64,
    whitespace: bool,
    indention: bool,
    open_ended: bool,
    scalar: ScalarData,
}

impl Default for Emitter {
    fn default() -> Emitter {
        Emitter {
            buf: Vec::new(),
            best_indent: 2,
            best_width: 80,
            state: State::StreamStart,
            states: Vec::new(),
            indents: Vec::new(),
            indent: -1,
            flow_level: 0,
            root_context: false,
            sequence_context: false,
            mapping_context: false,
            simple_key_context: false,
            column: 0,
            whitespace: true,
            indention: true,
            open_ended: false,
            scalar: ScalarData::default(),
        }
    }
}

fn at(v: &[u8], i: usize) -> u8 {
    v.get(i).copied().unwrap_or(0)
}

fn width(b: u8) -> usize {
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

fn is_printable(v: &[u8], i: usize) -> bool {
    let b = at(v, i);
    let b1 = at(v, i + 1);
    let b2 = at(v, i + 2);
    b == 0x0A
        || (0x20..=0x7E).contains(&b)
        || (b == 0xC2 && b1 >= 0xA0)
        || (b > 0xC2 && b < 0xED)
        || (b == 0xED && b1 < 0xA0)
        || b == 0xEE
        || (b == 0xEF && !(b1 == 0xBB && b2 == 0xBF) && !(b1 == 0xBF && (b2 == 0xBE || b2 == 0xBF)))
}

fn is_space(v: &[u8], i: usize) -> bool {
    at(v, i) == b' '
}

fn is_blank(v: &[u8], i: usize) -> bool {
    matches!(at(v, i), b' ' | b'\t')
}

fn is_break(v: &[u8], i: usize) -> bool {
    let b = at(v, i);
    b == b'\r'
        || b == b'\n'
        || (b == 0xC2 && at(v, i + 1) == 0x85)
        || (b == 0xE2 && at(v, i + 1) == 0x80 && (at(v, i + 2) == 0xA8 || at(v, i + 2) == 0xA9))
}

fn is_blankz(v: &[u8], i: usize) -> bool {
    is_blank(v, i) || is_break(v, i) || i >= v.len()
}

fn is_bom(v: &[u8], i: usize) -> bool {
    at(v, i) == 0xEF && at(v, i + 1) == 0xBB && at(v, i + 2) == 0xBF
}

impl Emitter {
    fn put(&mut self, b: u8) {
        self.buf.push(b);
        self.column += 1;
    }

    fn put_break(&mut self) {
        self.buf.push(b'\n');
        self.column = 0;
    }

    fn write(&mut self, s: &[u8], i: &mut usize) {
        let w = width(at(s, *i)).max(1);
        let end = (*i + w).min(s.len());
        self.buf.extend_from_slice(&s[*i..end]);
        self.column += 1;
        *i += w;
    }

    fn write_all(&mut self, s: &[u8]) {
        let mut i = 0;
        while i < s.len() {
            self.write(s, &mut i);
        }
    }

    fn write_break(&mut self, s: &[u8], i: &mut usize) {
        if at(s, *i) == b'\n' {
            self.put_break();
            *i += 1;
        } else {
            self.write(s, i);
            self.column = 0;
        }
    }

    fn increase_indent(&mut self, flow: bool, indentless: bool) {
        self.indents.push(self.indent);
        if self.indent < 0 {
            self.indent = if flow { self.best_indent } else { 0 };
        } else if !indentless {
            self.indent += self.best_indent;
        }
    }

    fn pop_indent(&mut self) {
        self.indent = self.indents.pop().unwrap_or(-1);
    }

    fn pop_state(&mut self) {
        self.state = self.states.pop().unwrap_or(State::End);
    }

    fn write_indent(&mut self) {
        let indent = self.indent.max(0);
        if !self.indention || self.column > indent || (self.column == indent && !self.whitespace) {
            self.put_break();
        }
        while self.column < indent {
            self.put(b' ');
        }
        self.whitespace = true;
        self.indention = true;
    }

    fn write_indicator(&mut self, ind: &[u8], need_ws: bool, is_ws: bool, is_indention: bool) {
        if need_ws && !self.whitespace {
            self.put(b' ');
        }
        self.write_all(ind);
        self.whitespace = is_ws;
        self.indention = self.indention && is_indention;
        self.open_ended = false;
    }

    fn analyze(&mut self, ev: &Event) {
        self.scalar.value.clear();
        if let Event::Scalar(v, _) = ev {
            self.analyze_scalar(v);
        }
    }

    fn analyze_scalar(&mut self, value: &[u8]) {
        let sd = &mut self.scalar;
        sd.value = value.to_vec();
        if value.is_empty() {
            sd.multiline = false;
            sd.flow_plain_allowed = false;
            sd.block_plain_allowed = true;
            sd.single_quoted_allowed = true;
            sd.block_allowed = false;
            return;
        }
        let (mut block_ind, mut flow_ind, mut line_breaks, mut special) =
            (false, false, false, false);
        let (mut leading_space, mut leading_break, mut trailing_space, mut trailing_break) =
            (false, false, false, false);
        let (mut break_space, mut space_break) = (false, false);
        let (mut prev_space, mut prev_break) = (false, false);
        if value.len() >= 3 && (value.starts_with(b"---") || value.starts_with(b"...")) {
            block_ind = true;
            flow_ind = true;
        }
        let mut preceded_by_ws = true;
        let mut i = 0;
        while i < value.len() {
            let w = width(value[i]).max(1);
            let followed_by_ws = i + w >= value.len() || is_blank(value, i + w);
            if i == 0 {
                match value[i] {
                    b'#' | b',' | b'[' | b']' | b'{' | b'}' | b'&' | b'*' | b'!' | b'|' | b'>'
                    | b'\'' | b'"' | b'%' | b'@' | b'`' => {
                        flow_ind = true;
                        block_ind = true;
                    }
                    b'?' | b':' => {
                        flow_ind = true;
                        if followed_by_ws {
                            block_ind = true;
                        }
                    }
                    b'-' if followed_by_ws => {
                        flow_ind = true;
                        block_ind = true;
                    }
                    _ => {}
                }
            } else {
                match value[i] {
                    b',' | b'?' | b'[' | b']' | b'{' | b'}' => flow_ind = true,
                    b':' => {
                        flow_ind = true;
                        if followed_by_ws {
                            block_ind = true;
                        }
                    }
                    b'#' if preceded_by_ws => {
                        flow_ind = true;
                        block_ind = true;
                    }
                    _ => {}
                }
            }
            if !is_printable(value, i) {
                special = true;
            }
            if is_space(value, i) {
                if i == 0 {
                    leading_space = true;
                }
                if i + w == value.len() {
                    trailing_space = true;
                }
                if prev_break {
                    break_space = true;
                }
                prev_space = true;
                prev_break = false;
            } else if is_break(value, i) {
                line_breaks = true;
                if i == 0 {
                    leading_break = true;
                }
                if i + w == value.len() {
                    trailing_break = true;
                }
                if prev_space {
                    space_break = true;
                }
                prev_space = false;
                prev_break = true;
            } else {
                prev_space = false;
                prev_break = false;
            }
            preceded_by_ws = is_blankz(value, i);
            i += w;
        }
        sd.multiline = line_breaks;
        sd.flow_plain_allowed = true;
        sd.block_plain_allowed = true;
        sd.single_quoted_allowed = true;
        sd.block_allowed = true;
        if leading_space || leading_break || trailing_space || trailing_break {
            sd.flow_plain_allowed = false;
            sd.block_plain_allowed = false;
        }
        if trailing_space {
            sd.block_allowed = false;
        }
        if break_space {
            sd.flow_plain_allowed = false;
            sd.block_plain_allowed = false;
            sd.single_quoted_allowed = false;
        }
        if space_break || special {
            sd.flow_plain_allowed = false;
            sd.block_plain_allowed = false;
            sd.single_quoted_allowed = false;
            sd.block_allowed = false;
        }
        if line_breaks {
            sd.flow_plain_allowed = false;
            sd.block_plain_allowed = false;
        }
        if flow_ind {
            sd.flow_plain_allowed = false;
        }
        if block_ind {
            sd.block_plain_allowed = false;
        }
    }

    fn state_machine(&mut self, events: &[Event], i: usize) -> Result<(), String> {
        let ev = &events[i];
        match self.state {
            State::StreamStart => {
                self.indent = -1;
                self.column = 0;
                self.whitespace = true;
                self.indention = true;
                self.state = State::FirstDocStart;
                Ok(())
            }
            State::FirstDocStart | State::DocStart => match ev {
                Event::DocStart => {
                    self.state = State::DocContent;
                    Ok(())
                }
                Event::StreamEnd => {
                    if self.open_ended {
                        self.write_indicator(b"...", true, false, false);
                        self.write_indent();
                    }
                    self.state = State::End;
                    Ok(())
                }
                _ => Err("expected DOCUMENT-START or STREAM-END".into()),
            },
            State::DocContent => {
                self.states.push(State::DocEnd);
                self.emit_node(events, i, true, false, false, false)
            }
            State::DocEnd => {
                self.write_indent();
                self.state = State::DocStart;
                Ok(())
            }
            State::FlowSeqFirst => self.flow_seq_item(events, i, true),
            State::FlowSeqItem => self.flow_seq_item(events, i, false),
            State::FlowMapFirstKey => self.flow_map_key(events, i, true),
            State::FlowMapKey => self.flow_map_key(events, i, false),
            State::FlowMapSimpleValue => self.flow_map_value(events, i, true),
            State::FlowMapValue => self.flow_map_value(events, i, false),
            State::BlockSeqFirst => self.block_seq_item(events, i, true),
            State::BlockSeqItem => self.block_seq_item(events, i, false),
            State::BlockMapFirstKey => self.block_map_key(events, i, true),
            State::BlockMapKey => self.block_map_key(events, i, false),
            State::BlockMapSimpleValue => self.block_map_value(events, i, true),
            State::BlockMapValue => self.block_map_value(events, i, false),
            State::End => Err("expected nothing after STREAM-END".into()),
        }
    }

    fn flow_seq_item(&mut self, events: &[Event], i: usize, first: bool) -> Result<(), String> {
        if first {
            self.write_indicator(b"[", true, true, false);
            self.increase_indent(true, false);
            self.flow_level += 1;
        }
        if matches!(events[i], Event::SeqEnd) {
            self.flow_level -= 1;
            self.pop_indent();
            self.write_indicator(b"]", false, false, false);
            self.pop_state();
            return Ok(());
        }
        if !first {
            self.write_indicator(b",", false, false, false);
        }
        if self.column > self.best_width {
            self.write_indent();
        }
        self.states.push(State::FlowSeqItem);
        self.emit_node(events, i, false, true, false, false)
    }

    fn flow_map_key(&mut self, events: &[Event], i: usize, first: bool) -> Result<(), String> {
        if first {
            self.write_indicator(b"{", true, true, false);
            self.increase_indent(true, false);
            self.flow_level += 1;
        }
        if matches!(events[i], Event::MapEnd) {
            self.flow_level -= 1;
            self.pop_indent();
            self.write_indicator(b"}", false, false, false);
            self.pop_state();
            return Ok(());
        }
        if !first {
            self.write_indicator(b",", false, false, false);
        }
        if self.column > self.best_width {
            self.write_indent();
        }
        if self.check_simple_key(events, i) {
            self.states.push(State::FlowMapSimpleValue);
            return self.emit_node(events, i, false, false, true, true);
        }
        self.write_indicator(b"?", true, false, false);
        self.states.push(State::FlowMapValue);
        self.emit_node(events, i, false, false, true, false)
    }

    fn flow_map_value(&mut self, events: &[Event], i: usize, simple: bool) -> Result<(), String> {
        if simple {
            self.write_indicator(b":", false, false, false);
        } else {
            if self.column > self.best_width {
                self.write_indent();
            }
            self.write_indicator(b":", true, false, false);
        }
        self.states.push(State::FlowMapKey);
        self.emit_node(events, i, false, false, true, false)
    }

    fn block_seq_item(&mut self, events: &[Event], i: usize, first: bool) -> Result<(), String> {
        if first {
            let indentless = self.mapping_context && !self.indention;
            self.increase_indent(false, indentless);
        }
        if matches!(events[i], Event::SeqEnd) {
            self.pop_indent();
            self.pop_state();
            return Ok(());
        }
        self.write_indent();
        self.write_indicator(b"-", true, false, true);
        self.states.push(State::BlockSeqItem);
        self.emit_node(events, i, false, true, false, false)
    }

    fn block_map_key(&mut self, events: &[Event], i: usize, first: bool) -> Result<(), String> {
        if first {
            self.increase_indent(false, false);
        }
        if matches!(events[i], Event::MapEnd) {
            self.pop_indent();
            self.pop_state();
            return Ok(());
        }
        self.write_indent();
        if self.check_simple_key(events, i) {
            self.states.push(State::BlockMapSimpleValue);
            return self.emit_node(events, i, false, false, true, true);
        }
        self.write_indicator(b"?", true, false, true);
        self.states.push(State::BlockMapValue);
        self.emit_node(events, i, false, false, true, false)
    }

    fn block_map_value(&mut self, events: &[Event], i: usize, simple: bool) -> Result<(), String> {
        if simple {
            self.write_indicator(b":", false, false, false);
        } else {
            self.write_indent();
            self.write_indicator(b":", true, false, true);
        }
        self.states.push(State::BlockMapKey);
        self.emit_node(events, i, false, false, true, false)
    }

    fn emit_node(
        &mut self,
        events: &[Event],
        i: usize,
        root: bool,
        sequence: bool,
        mapping: bool,
        simple_key: bool,
    ) -> Result<(), String> {
        self.root_context = root;
        self.sequence_context = sequence;
        self.mapping_context = mapping;
        self.simple_key_context = simple_key;
        match &events[i] {
            Event::Scalar(_, style) => {
                self.select_scalar_style(*style);
                self.increase_indent(true, false);
                self.process_scalar();
                self.pop_indent();
                self.pop_state();
                Ok(())
            }
            Event::SeqStart => {
                let empty = matches!(events.get(i + 1), Some(Event::SeqEnd));
                self.state = if self.flow_level > 0 || empty {
                    State::FlowSeqFirst
                } else {
                    State::BlockSeqFirst
                };
                Ok(())
            }
            Event::MapStart => {
                let empty = matches!(events.get(i + 1), Some(Event::MapEnd));
                self.state = if self.flow_level > 0 || empty {
                    State::FlowMapFirstKey
                } else {
                    State::BlockMapFirstKey
                };
                Ok(())
            }
            _ => Err("expected SCALAR, SEQUENCE-START, MAPPING-START, or ALIAS".into()),
        }
    }

    fn check_simple_key(&self, events: &[Event], i: usize) -> bool {
        match &events[i] {
            Event::Scalar(..) => !self.scalar.multiline && self.scalar.value.len() <= 128,
            Event::SeqStart => matches!(events.get(i + 1), Some(Event::SeqEnd)),
            Event::MapStart => matches!(events.get(i + 1), Some(Event::MapEnd)),
            _ => false,
        }
    }

    fn select_scalar_style(&mut self, requested: Style) {
        let mut style = requested;
        if self.simple_key_context && self.scalar.multiline {
            style = Style::DoubleQuoted;
        }
        if style == Style::Plain {
            if (self.flow_level > 0 && !self.scalar.flow_plain_allowed)
                || (self.flow_level == 0 && !self.scalar.block_plain_allowed)
            {
                style = Style::SingleQuoted;
            }
            if self.scalar.value.is_empty() && (self.flow_level > 0 || self.simple_key_context) {
                style = Style::SingleQuoted;
            }
        }
        if style == Style::SingleQuoted && !self.scalar.single_quoted_allowed {
            style = Style::DoubleQuoted;
        }
        if style == Style::Literal
            && (!self.scalar.block_allowed || self.flow_level > 0 || self.simple_key_context)
        {
            style = Style::DoubleQuoted;
        }
        self.scalar.style = Some(style);
    }

    fn process_scalar(&mut self) {
        let value = std::mem::take(&mut self.scalar.value);
        let allow_breaks = !self.simple_key_context;
        match self.scalar.style.unwrap_or(Style::DoubleQuoted) {
            Style::Plain => self.write_plain(&value, allow_breaks),
            Style::SingleQuoted => self.write_single_quoted(&value, allow_breaks),
            Style::DoubleQuoted => self.write_double_quoted(&value, allow_breaks),
            Style::Literal => self.write_literal(&value),
        }
        self.scalar.value = value;
    }

    fn write_plain(&mut self, value: &[u8], allow_breaks: bool) {
        if !self.whitespace {
            self.put(b' ');
        }
        let (mut spaces, mut breaks) = (false, false);
        let mut i = 0;
        while i < value.len() {
            if is_space(value, i) {
                if allow_breaks
                    && !spaces
                    && self.column > self.best_width
                    && !is_space(value, i + 1)
                {
                    self.write_indent();
                    i += 1;
                } else {
                    self.write(value, &mut i);
                }
                spaces = true;
            } else if is_break(value, i) {
                if !breaks && value[i] == b'\n' {
                    self.put_break();
                }
                self.write_break(value, &mut i);
                self.indention = true;
                breaks = true;
            } else {
                if breaks {
                    self.write_indent();
                }
                self.write(value, &mut i);
                self.indention = false;
                spaces = false;
                breaks = false;
            }
        }
        self.whitespace = false;
        self.indention = false;
        if self.root_context {
            self.open_ended = true;
        }
    }

    fn write_single_quoted(&mut self, value: &[u8], allow_breaks: bool) {
        self.write_indicator(b"'", true, false, false);
        let (mut spaces, mut breaks) = (false, false);
        let mut i = 0;
        while i < value.len() {
            if is_space(value, i) {
                if allow_breaks
                    && !spaces
                    && self.column > self.best_width
                    && i > 0
                    && i < value.len() - 1
                    && !is_space(value, i + 1)
                {
                    self.write_indent();
                    i += 1;
                } else {
                    self.write(value, &mut i);
                }
                spaces = true;
            } else if is_break(value, i) {
                if !breaks && value[i] == b'\n' {
                    self.put_break();
                }
                self.write_break(value, &mut i);
                self.indention = true;
                breaks = true;
            } else {
                if breaks {
                    self.write_indent();
                }
                if value[i] == b'\'' {
                    self.put(b'\'');
                }
                self.write(value, &mut i);
                self.indention = false;
                spaces = false;
                breaks = false;
            }
        }
        self.write_indicator(b"'", false, false, false);
        self.whitespace = false;
        self.indention = false;
    }

    fn write_double_quoted(&mut self, value: &[u8], allow_breaks: bool) {
        let mut spaces = false;
        self.write_indicator(b"\"", true, false, false);
        let mut i = 0;
        while i < value.len() {
            if !is_printable(value, i)
                || is_bom(value, i)
                || is_break(value, i)
                || value[i] == b'"'
                || value[i] == b'\\'
            {
                let octet = value[i];
                let (w, mut v) = if octet & 0x80 == 0 {
                    (1, u32::from(octet & 0x7F))
                } else if octet & 0xE0 == 0xC0 {
                    (2, u32::from(octet & 0x1F))
                } else if octet & 0xF0 == 0xE0 {
                    (3, u32::from(octet & 0x0F))
                } else {
                    (4, u32::from(octet & 0x07))
                };
                for k in 1..w {
                    v = (v << 6) + (u32::from(at(value, i + k)) & 0x3F);
                }
                i += w;
                self.put(b'\\');
                match v {
                    0x00 => self.put(b'0'),
                    0x07 => self.put(b'a'),
                    0x08 => self.put(b'b'),
                    0x09 => self.put(b't'),
                    0x0A => self.put(b'n'),
                    0x0B => self.put(b'v'),
                    0x0C => self.put(b'f'),
                    0x0D => self.put(b'r'),
                    0x1B => self.put(b'e'),
                    0x22 => self.put(b'"'),
                    0x5C => self.put(b'\\'),
                    0x85 => self.put(b'N'),
                    0xA0 => self.put(b'_'),
                    0x2028 => self.put(b'L'),
                    0x2029 => self.put(b'P'),
                    _ => {
                        let (c, digits) = if v <= 0xFF {
                            (b'x', 2)
                        } else if v <= 0xFFFF {
                            (b'u', 4)
                        } else {
                            (b'U', 8)
                        };
                        self.put(c);
                        for k in (0..digits).rev() {
                            let d = ((v >> (k * 4)) & 0x0F) as u8;
                            self.put(if d < 10 { b'0' + d } else { b'A' + d - 10 });
                        }
                    }
                }
                spaces = false;
            } else if is_space(value, i) {
                if allow_breaks
                    && !spaces
                    && self.column > self.best_width
                    && i > 0
                    && i < value.len() - 1
                {
                    self.write_indent();
                    if is_space(value, i + 1) {
                        self.put(b'\\');
                    }
                    i += 1;
                } else {
                    self.write(value, &mut i);
                }
                spaces = true;
            } else {
                self.write(value, &mut i);
                spaces = false;
            }
        }
        self.write_indicator(b"\"", false, false, false);
        self.whitespace = false;
        self.indention = false;
    }

    fn write_block_scalar_hints(&mut self, value: &[u8]) {
        if is_space(value, 0) || is_break(value, 0) {
            let hint = [b'0' + self.best_indent as u8];
            self.write_indicator(&hint, false, false, false);
        }
        self.open_ended = false;
        let mut chomp: Option<u8> = None;
        if value.is_empty() {
            chomp = Some(b'-');
        } else {
            let mut i = value.len() - 1;
            while i > 0 && value[i] & 0xC0 == 0x80 {
                i -= 1;
            }
            if !is_break(value, i) {
                chomp = Some(b'-');
            } else if i == 0 {
                chomp = Some(b'+');
                self.open_ended = true;
            } else {
                i -= 1;
                while i > 0 && value[i] & 0xC0 == 0x80 {
                    i -= 1;
                }
                if is_break(value, i) {
                    chomp = Some(b'+');
                    self.open_ended = true;
                }
            }
        }
        if let Some(c) = chomp {
            self.write_indicator(&[c], false, false, false);
        }
    }

    fn write_literal(&mut self, value: &[u8]) {
        self.write_indicator(b"|", true, false, false);
        self.write_block_scalar_hints(value);
        self.put_break();
        self.indention = true;
        self.whitespace = true;
        let mut breaks = true;
        let mut i = 0;
        while i < value.len() {
            if is_break(value, i) {
                self.write_break(value, &mut i);
                self.indention = true;
                breaks = true;
            } else {
                if breaks {
                    self.write_indent();
                }
                self.write(value, &mut i);
                self.indention = false;
                breaks = false;
            }
        }
    }
}
