//! Structured value diffs, as Terraform's plan renderer draws them: a change tree is built
//! from a before and an after value (`build`), then rendered (`Diff::render`). Resource
//! attributes, output changes and JSON strings all go through this one tree.
//!
//! Two ways of reading a value, as in Terraform: *typed* (an attribute with a schema type:
//! maps keep quoted keys, sets are unordered, null attributes of objects are not shown) and
//! *dynamic* (outputs and `any`-typed attributes, which Terraform reads as JSON: maps are
//! objects, every sequence is a list, null attributes are shown).
//!
//! Must not print a sensitive value: a value marked sensitive becomes a `(sensitive value)`
//! leaf before anything looks inside it.

use baton_eval::functions::go_quote;
use baton_eval::{Kind, PathStep, Value};

/// How values without a schema type of their own are read.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Mode {
    Typed,
    Dynamic,
}

/// What happens to one value.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Act {
    NoOp,
    Create,
    Delete,
    Update,
}

/// One node of the change tree.
pub struct Diff<'a> {
    pub act: Act,
    replace: bool,
    node: Node<'a>,
}

enum Node<'a> {
    Prim {
        before: Option<&'a Value>,
        after: Option<&'a Value>,
    },
    /// A JSON-looking string: its value diffed, drawn inside `jsonencode(...)`.
    Json(Box<JsonDiff>),
    Object(Vec<(String, Diff<'a>)>),
    Map(Vec<(String, Diff<'a>)>),
    List(Vec<Diff<'a>>),
    Set(Vec<Diff<'a>>),
    TypeChange(Box<Diff<'a>>, Box<Diff<'a>>),
    Unknown(Option<Box<Diff<'a>>>),
    Sensitive {
        before: bool,
        after: bool,
        inner: Act,
    },
}

/// The values parsed out of JSON strings, kept alive beside their diff.
struct JsonDiff {
    before: Option<Value>,
    after: Option<Value>,
}

/// Rendering options, as Terraform's `RenderHumanOpts`.
#[derive(Clone, Copy, Default)]
pub struct Opts {
    pub override_null_suffix: bool,
    pub show_unchanged: bool,
    pub forbid_replace: bool,
}

/// What a build needs besides the values.
pub struct Ctx<'p> {
    pub mode: Mode,
    /// Paths whose change forces replacement of the resource.
    pub replace: &'p [Vec<PathStep>],
}

/// The diff of `before` → `after`; `None` is an absent value (nothing before a create,
/// nothing after a delete), `Some(null)` an explicit null.
pub fn build<'a>(
    before: Option<&'a Value>,
    after: Option<&'a Value>,
    ctx: &Ctx<'_>,
    path: &mut Vec<PathStep>,
) -> Diff<'a> {
    // Terraform reads `any`-typed values as JSON, which carries no replacement paths.
    let replace = ctx.mode == Mode::Typed && ctx.replace.iter().any(|p| p == path);
    let bs = before.is_some_and(Value::is_sensitive);
    let as_ = after.is_some_and(Value::is_sensitive);
    if bs || as_ {
        let inner = if before.is_none() && after.is_some() {
            Act::Create
        } else if after.is_none() && before.is_some() {
            Act::Delete
        } else if opt_same(before, after) {
            Act::NoOp
        } else {
            Act::Update
        };
        let both_absent = before.is_none() && after.is_none();
        let act = if inner == Act::NoOp && bs != as_ && !both_absent {
            Act::Update
        } else {
            inner
        };
        return Diff {
            act,
            replace,
            node: Node::Sensitive {
                before: bs,
                after: as_,
                inner,
            },
        };
    }
    if let Some(a) = after {
        if !a.is_known() {
            let old = before
                .filter(|b| !b.is_null())
                .map(|b| Box::new(build(Some(b), None, ctx, path)));
            let act = if old.is_none() {
                Act::Create
            } else {
                Act::Update
            };
            return Diff {
                act,
                replace,
                node: Node::Unknown(old),
            };
        }
    }
    let bt = before.map(shape);
    let at = after.map(shape);
    let created = before.is_none();
    let deleted = after.is_none();
    if bt == at || created || deleted {
        let mut d = build_same(before, after, ctx, path);
        d.replace = replace;
        return d;
    }
    let b = build_same(before, None, ctx, path);
    let a = build_same(None, after, ctx, path);
    Diff {
        act: Act::Update,
        replace,
        node: Node::TypeChange(Box::new(b), Box::new(a)),
    }
}

/// The JSON shape of a value, which decides how two values are compared.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Shape {
    Null,
    Bool,
    Number,
    String,
    Object,
    Array,
}

fn shape(v: &Value) -> Shape {
    match v.kind() {
        Kind::Null(_) | Kind::Unknown(_) => Shape::Null,
        Kind::Bool(_) => Shape::Bool,
        Kind::Number(_) => Shape::Number,
        Kind::String(_) => Shape::String,
        Kind::Map(..) | Kind::Object(_) => Shape::Object,
        Kind::List(..) | Kind::Set(..) | Kind::Tuple(_) => Shape::Array,
    }
}

/// Equality as Terraform's renderer sees it: of the JSON forms (so a map equals an object with
/// the same entries), unknowns never equal.
pub fn same(a: &Value, b: &Value) -> bool {
    if !a.is_known() || !b.is_known() || a.is_sensitive() != b.is_sensitive() {
        return false;
    }
    match (a.kind(), b.kind()) {
        (Kind::Null(_), Kind::Null(_)) => true,
        (Kind::Bool(x), Kind::Bool(y)) => x == y,
        (Kind::Number(_), Kind::Number(_)) | (Kind::String(_), Kind::String(_)) => a.raw_equal(b),
        (Kind::Map(..) | Kind::Object(_), Kind::Map(..) | Kind::Object(_)) => {
            match (a.as_entries(), b.as_entries()) {
                (Some(x), Some(y)) => {
                    x.len() == y.len()
                        && x.iter().all(|(k, v)| y.get(k).is_some_and(|w| same(v, w)))
                }
                _ => false,
            }
        }
        (
            Kind::List(..) | Kind::Set(..) | Kind::Tuple(_),
            Kind::List(..) | Kind::Set(..) | Kind::Tuple(_),
        ) => match (a.as_seq(), b.as_seq()) {
            (Some(x), Some(y)) => x.len() == y.len() && x.iter().zip(y).all(|(v, w)| same(v, w)),
            _ => false,
        },
        _ => false,
    }
}

fn opt_same(a: Option<&Value>, b: Option<&Value>) -> bool {
    match (a, b) {
        (None, None) => true,
        (Some(x), Some(y)) => same(x, y),
        _ => false,
    }
}

/// The action of a node from its presence: create, delete, or (for now) nothing.
fn default_act(before: Option<&Value>, after: Option<&Value>) -> Act {
    let b = before.is_some_and(|v| !v.is_null());
    let a = after.is_some_and(|v| !v.is_null());
    match (b, a) {
        (false, true) => Act::Create,
        (true, false) => Act::Delete,
        _ => Act::NoOp,
    }
}

/// Terraform's `CompareActions`: a child's change turns an unchanged parent into an update.
fn combine(current: Act, next: Act) -> Act {
    if next == Act::NoOp || current == next {
        current
    } else {
        Act::Update
    }
}

/// Before and after have the same shape (or one is absent).
fn build_same<'a>(
    before: Option<&'a Value>,
    after: Option<&'a Value>,
    ctx: &Ctx<'_>,
    path: &mut Vec<PathStep>,
) -> Diff<'a> {
    let probe = after.filter(|v| !v.is_null()).or(before);
    let Some(probe) = probe else {
        return prim(before, after);
    };
    match probe.kind() {
        Kind::Map(..) | Kind::Object(_) => {
            let is_map = matches!(probe.kind(), Kind::Map(..)) && ctx.mode == Mode::Typed;
            let be = before.and_then(Value::as_entries);
            let ae = after.and_then(Value::as_entries);
            let mut keys: Vec<&String> = be
                .into_iter()
                .flat_map(|e| e.keys())
                .chain(ae.into_iter().flat_map(|e| e.keys()))
                .collect();
            keys.sort();
            keys.dedup();
            let mut act = default_act(before, after);
            let mut children = Vec::new();
            for k in keys {
                let b = be.and_then(|e| e.get(k));
                let a = ae.and_then(|e| e.get(k));
                if ctx.mode == Mode::Typed
                    && !is_map
                    && b.is_none_or(|v| v.is_null() && v.is_known())
                    && a.is_none_or(|v| v.is_null() && v.is_known())
                {
                    // A typed object's null attributes are not shown, as in a block.
                    continue;
                }
                path.push(PathStep::Key(k.clone()));
                let d = build(b, a, ctx, path);
                path.pop();
                act = combine(act, d.act);
                children.push((k.clone(), d));
            }
            let node = if is_map {
                Node::Map(children)
            } else {
                Node::Object(children)
            };
            Diff {
                act,
                replace: false,
                node,
            }
        }
        Kind::List(..) | Kind::Set(..) | Kind::Tuple(_) => {
            let empty: &[Value] = &[];
            let bs = before.and_then(Value::as_seq).unwrap_or(empty);
            let as_ = after.and_then(Value::as_seq).unwrap_or(empty);
            let mut act = default_act(before, after);
            let mut elems = Vec::new();
            let is_set = matches!(probe.kind(), Kind::Set(..)) && ctx.mode == Mode::Typed;
            let is_tuple = matches!(probe.kind(), Kind::Tuple(_)) && ctx.mode == Mode::Typed;
            let mut push = |bi: Option<usize>, ai: Option<usize>, path: &mut Vec<PathStep>| {
                let idx = ai.or(bi).unwrap_or(0);
                path.push(PathStep::Index(idx));
                let d = build(bi.map(|i| &bs[i]), ai.map(|i| &as_[i]), ctx, path);
                path.pop();
                act = combine(act, d.act);
                elems.push(d);
            };
            if is_set {
                for (i, b) in bs.iter().enumerate() {
                    match as_.iter().position(|a| same(a, b)) {
                        Some(j) => push(Some(i), Some(j), path),
                        None => push(Some(i), None, path),
                    }
                }
                for (j, a) in as_.iter().enumerate() {
                    if !bs.iter().any(|b| same(a, b)) {
                        push(None, Some(j), path);
                    }
                }
            } else if is_tuple {
                for i in 0..bs.len().max(as_.len()) {
                    push(
                        (i < bs.len()).then_some(i),
                        (i < as_.len()).then_some(i),
                        path,
                    );
                }
            } else {
                let is_obj = |v: &Value| shape(v) == Shape::Object;
                process_slice(bs, as_, true, &is_obj, &mut |bi, ai| push(bi, ai, path));
            }
            let node = if is_set {
                Node::Set(elems)
            } else {
                Node::List(elems)
            };
            Diff {
                act,
                replace: false,
                node,
            }
        }
        Kind::String(_) => {
            let bj = before.and_then(json_of);
            let aj = after.and_then(json_of);
            let b_json = before.is_none_or(|v| v.is_null() || bj.is_some());
            let a_json = after.is_none_or(|v| v.is_null() || aj.is_some());
            if (bj.is_some() || aj.is_some()) && b_json && a_json {
                let act = prim_act(before, after);
                return Diff {
                    act,
                    replace: false,
                    node: Node::Json(Box::new(JsonDiff {
                        before: bj,
                        after: aj,
                    })),
                };
            }
            prim(before, after)
        }
        _ => prim(before, after),
    }
}

/// A string holding a JSON object or array, parsed (as Terraform renders such strings).
fn json_of(v: &Value) -> Option<Value> {
    let s = v.as_str()?;
    if !(s.starts_with('{') || s.starts_with('[')) {
        return None;
    }
    let j: serde_json::Value = serde_json::from_str(s).ok()?;
    Some(Value::from_json_implied(&j))
}

fn prim_act(before: Option<&Value>, after: Option<&Value>) -> Act {
    match (before, after) {
        (None, Some(_)) => Act::Create,
        (Some(_), None) => Act::Delete,
        (b, a) if opt_same(b, a) => Act::NoOp,
        _ => Act::Update,
    }
}

fn prim<'a>(before: Option<&'a Value>, after: Option<&'a Value>) -> Diff<'a> {
    Diff {
        act: prim_act(before, after),
        replace: false,
        node: Node::Prim { before, after },
    }
}

/// Terraform's list pairing: element by element when `pairwise`, the lengths match and the
/// list is not a reordering; otherwise along the longest common subsequence (objects that both fall outside
/// it pair up as updates).
fn process_slice(
    before: &[Value],
    after: &[Value],
    pairwise: bool,
    is_obj: &dyn Fn(&Value) -> bool,
    process: &mut dyn FnMut(Option<usize>, Option<usize>),
) {
    if pairwise && before.len() == after.len() && !is_reorder(before, after) {
        for i in 0..before.len() {
            process(Some(i), Some(i));
        }
        return;
    }
    let lcs = lcs(before, after);
    let (mut bi, mut ai, mut li) = (0, 0, 0);
    while bi < before.len() || ai < after.len() || li < lcs.len() {
        while bi < before.len() && (li >= lcs.len() || !same(&before[bi], lcs[li])) {
            let pair = is_obj(&before[bi])
                && ai < after.len()
                && is_obj(&after[ai])
                && (li >= lcs.len() || !same(&after[ai], lcs[li]));
            if pair {
                process(Some(bi), Some(ai));
                bi += 1;
                ai += 1;
                continue;
            }
            process(Some(bi), None);
            bi += 1;
        }
        while ai < after.len() && (li >= lcs.len() || !same(&after[ai], lcs[li])) {
            process(None, Some(ai));
            ai += 1;
        }
        if li < lcs.len() {
            process(Some(bi), Some(ai));
            bi += 1;
            ai += 1;
            li += 1;
        }
    }
}

fn is_reorder(before: &[Value], after: &[Value]) -> bool {
    before.len() == after.len() && before.iter().all(|b| after.iter().any(|a| same(a, b)))
}

/// The longest common subsequence, walked back from the end as Terraform's `objchange` does
/// (so ties resolve the same way).
fn lcs<'v>(xs: &'v [Value], ys: &[Value]) -> Vec<&'v Value> {
    if xs.is_empty() || ys.is_empty() || xs.len().saturating_mul(ys.len()) > 4_000_000 {
        return Vec::new();
    }
    let w = xs.len();
    let mut c = vec![0usize; xs.len() * ys.len()];
    let mut eqs = vec![false; xs.len() * ys.len()];
    for y in 0..ys.len() {
        for x in 0..xs.len() {
            let i = w * y + x;
            if same(&xs[x], &ys[y]) {
                eqs[i] = true;
                c[i] = if x == 0 || y == 0 {
                    1
                } else {
                    c[w * (y - 1) + x - 1] + 1
                };
            } else {
                let l = if x > 0 { c[i - 1] } else { 0 };
                let u = if y > 0 { c[i - w] } else { 0 };
                c[i] = l.max(u);
            }
        }
    }
    let n = c[c.len() - 1];
    let mut seq: Vec<&Value> = Vec::with_capacity(n);
    let (mut x, mut y) = (xs.len() as isize - 1, ys.len() as isize - 1);
    while x >= 0 && y >= 0 && seq.len() < n {
        let i = w * y as usize + x as usize;
        if eqs[i] {
            seq.push(&xs[x as usize]);
            x -= 1;
            y -= 1;
        } else {
            let l = if x > 0 { c[i - 1] } else { 0 };
            let u = if y > 0 { c[i - w] } else { 0 };
            if l > u {
                x -= 1;
            } else {
                y -= 1;
            }
        }
    }
    seq.reverse();
    seq
}

// ------------------------------------------------------------------------------------------
// Rendering
// ------------------------------------------------------------------------------------------

/// Terraform's three-column action symbol.
pub fn symbol(a: Act) -> &'static str {
    match a {
        Act::Create => "  +",
        Act::Delete => "  -",
        Act::Update => "  ~",
        Act::NoOp => "   ",
    }
}

fn indent(n: usize) -> String {
    "    ".repeat(n)
}

fn null_suffix(opts: Opts, act: Act) -> &'static str {
    if !opts.override_null_suffix && act == Act::Delete {
        " -> null"
    } else {
        ""
    }
}

/// The `# (n unchanged … hidden)` line inside a block, when `n` is not zero.
fn push_hidden(s: &mut String, ind: usize, word: &str, n: usize) {
    if n > 0 {
        s.push_str(&format!(
            "{}{} {}\n",
            indent(ind + 1),
            symbol(Act::NoOp),
            unchanged(word, n)
        ));
    }
}

fn unchanged(word: &str, n: usize) -> String {
    if n == 1 {
        format!("# (1 unchanged {word} hidden)")
    } else {
        format!("# ({n} unchanged {word}s hidden)")
    }
}

/// A key as Terraform prints an attribute name: bare when it is an identifier.
pub fn attr_name(k: &str) -> String {
    if baton_eval::is_identifier(k) {
        k.to_string()
    } else {
        go_quote(k)
    }
}

/// Important attributes are always shown, changed or not.
pub fn important(k: &str) -> bool {
    matches!(k, "id" | "name" | "tags")
}

impl Diff<'_> {
    /// The closing line of a block (`}` or `]`), with the null suffix of a deletion.
    fn close(&self, s: &mut String, ind: usize, bracket: char, opts: Opts) {
        s.push_str(&format!(
            "{}{} {bracket}{}",
            indent(ind),
            symbol(Act::NoOp),
            null_suffix(opts, self.act)
        ));
    }

    fn forces(&self, opts: Opts) -> &'static str {
        if self.replace && !opts.forbid_replace {
            " # forces replacement"
        } else {
            ""
        }
    }

    /// Warning lines drawn above this value's line (a sensitivity change).
    pub fn warnings(&self, ind: usize) -> Vec<String> {
        let Node::Sensitive {
            before,
            after,
            inner,
        } = &self.node
        else {
            return Vec::new();
        };
        if before == after || matches!(inner, Act::Create | Act::Delete) {
            return Vec::new();
        }
        let mut w = if *before {
            format!(
                "  # Warning: this attribute value will no longer be marked as sensitive\n{}  # after applying this change.",
                indent(ind)
            )
        } else {
            format!(
                "  # Warning: this attribute value will be marked as sensitive and will not\n{}  # display in UI output after applying this change.",
                indent(ind)
            )
        };
        if *inner == Act::NoOp {
            w.push_str(" The value is unchanged.");
        }
        vec![w]
    }

    /// The value's text after `name = `, lines after the first indented for `ind`.
    pub fn render(&self, ind: usize, opts: Opts) -> String {
        match &self.node {
            Node::Prim { before, after } => self.render_prim(*before, *after, ind, opts),
            Node::Json(j) => self.render_json(j, ind, opts),
            Node::Object(children) => self.render_object(children, ind, opts),
            Node::Map(children) => self.render_map(children, ind, opts),
            Node::List(elems) => self.render_list(elems, ind, opts),
            Node::Set(elems) => self.render_set(elems, ind, opts),
            Node::TypeChange(b, a) => {
                let o = Opts {
                    override_null_suffix: true,
                    ..opts
                };
                format!("{} -> {}", b.render(ind, o), a.render(ind, o))
            }
            Node::Unknown(before) => match before {
                Some(b) if self.act != Act::Create => {
                    let o = Opts {
                        override_null_suffix: true,
                        forbid_replace: self.replace || opts.forbid_replace,
                        ..opts
                    };
                    format!(
                        "{} -> (known after apply){}",
                        b.render(ind, o),
                        self.forces(opts)
                    )
                }
                _ => format!("(known after apply){}", self.forces(opts)),
            },
            Node::Sensitive { .. } => format!(
                "(sensitive value){}{}",
                null_suffix(opts, self.act),
                self.forces(opts)
            ),
        }
    }

    fn render_prim(
        &self,
        before: Option<&Value>,
        after: Option<&Value>,
        ind: usize,
        opts: Opts,
    ) -> String {
        let is_str = |v: Option<&Value>| v.is_some_and(|v| v.as_str().is_some());
        if is_str(before) || is_str(after) {
            return self.render_string(before, after, ind, opts);
        }
        let text = |v: Option<&Value>| v.map(crate::inline::primitive).unwrap_or("null".into());
        let f = self.forces(opts);
        match self.act {
            Act::Create => format!("{}{f}", text(after)),
            Act::Delete => format!("{}{}{f}", text(before), null_suffix(opts, self.act)),
            Act::NoOp => format!("{}{f}", text(before)),
            Act::Update => format!("{} -> {}{f}", text(before), text(after)),
        }
    }

    fn render_string(
        &self,
        before: Option<&Value>,
        after: Option<&Value>,
        ind: usize,
        opts: Opts,
    ) -> String {
        let f = self.forces(opts);
        let line = |sym: Act, l: &str| format!("{}{} {l}", indent(ind + 1), symbol(sym));
        let lines: Vec<String> = match self.act {
            Act::Create | Act::NoOp | Act::Delete => {
                let v = if self.act == Act::Delete {
                    before
                } else {
                    after
                };
                let s = eval_string(v);
                let Some(text) = s.multiline else {
                    let ns = if self.act == Act::Delete {
                        null_suffix(opts, self.act)
                    } else {
                        ""
                    };
                    return format!("{}{ns}{f}", s.quoted);
                };
                text.split('\n').map(|l| line(Act::NoOp, l)).collect()
            }
            Act::Update => {
                let b = eval_string(before);
                let a = eval_string(after);
                if b.multiline.is_none() && a.multiline.is_none() {
                    return format!("{} -> {}{f}", b.quoted, a.quoted);
                }
                let bt = b.multiline.unwrap_or(b.raw);
                let at = a.multiline.unwrap_or(a.raw);
                let bl: Vec<Value> = bt.split('\n').map(Value::string).collect();
                let al: Vec<Value> = at.split('\n').map(Value::string).collect();
                let mut out = Vec::new();
                // Lines of a heredoc are always matched along the longest common subsequence.
                process_slice(&bl, &al, false, &|_| false, &mut |bi, ai| match (bi, ai) {
                    (Some(i), Some(_)) => out.push(line(Act::NoOp, bl[i].as_str().unwrap_or(""))),
                    (Some(i), None) => out.push(line(Act::Delete, bl[i].as_str().unwrap_or(""))),
                    (None, Some(j)) => out.push(line(Act::Create, al[j].as_str().unwrap_or(""))),
                    (None, None) => {}
                });
                out
            }
        };
        format!(
            "<<-EOT{f}\n{}\n{}{} EOT{}",
            lines.join("\n"),
            indent(ind),
            symbol(Act::NoOp),
            null_suffix(opts, self.act)
        )
    }

    fn render_json(&self, j: &JsonDiff, ind: usize, opts: Opts) -> String {
        let ctx = Ctx {
            mode: Mode::Dynamic,
            replace: &[],
        };
        let (b, a) = match self.act {
            Act::Create => (None, j.after.as_ref()),
            Act::Delete => (j.before.as_ref(), None),
            _ => (j.before.as_ref(), j.after.as_ref()),
        };
        let inner = build(b, a, &ctx, &mut Vec::new());
        let mut jopts = opts;
        let mut whitespace = "";
        let mut replace = self.forces(opts);
        let mut act = self.act;
        if inner.act == Act::NoOp && self.act == Act::Update {
            whitespace = if self.replace {
                " # whitespace changes force replacement"
            } else {
                " # whitespace changes"
            };
            jopts.show_unchanged = true;
            act = Act::NoOp;
            replace = "";
        }
        let text = inner.render(ind + 1, jopts);
        if matches!(self.act, Act::Create | Act::Delete) {
            act = Act::NoOp;
        }
        if text.contains('\n') {
            format!(
                "jsonencode({whitespace}\n{}{} {text}{replace}\n{})",
                indent(ind + 1),
                symbol(act),
                indent(ind + 1)
            )
        } else {
            format!("jsonencode({text}){whitespace}{replace}")
        }
    }

    fn render_object(&self, children: &[(String, Diff<'_>)], ind: usize, opts: Opts) -> String {
        if children.is_empty() {
            return format!("{{}}{}{}", null_suffix(opts, self.act), self.forces(opts));
        }
        let child_opts = Opts {
            override_null_suffix: true,
            forbid_replace: false,
            ..opts
        };
        let w = children
            .iter()
            .map(|(k, _)| attr_name(k).len())
            .max()
            .unwrap_or(0);
        let mut s = format!("{{{}\n", self.forces(opts));
        let mut hidden = 0;
        for (k, d) in children {
            let o = if important(k) {
                Opts {
                    show_unchanged: true,
                    ..child_opts
                }
            } else if d.act == Act::NoOp && !opts.show_unchanged {
                hidden += 1;
                continue;
            } else {
                child_opts
            };
            for warning in d.warnings(ind + 1) {
                s.push_str(&format!("{}{warning}\n", indent(ind + 1)));
            }
            s.push_str(&format!(
                "{}{} {:w$} = {}\n",
                indent(ind + 1),
                symbol(d.act),
                attr_name(k),
                d.render(ind + 1, o)
            ));
        }
        push_hidden(&mut s, ind, "attribute", hidden);
        self.close(&mut s, ind, '}', opts);
        s
    }

    fn render_map(&self, children: &[(String, Diff<'_>)], ind: usize, opts: Opts) -> String {
        if children.is_empty() {
            return format!("{{}}{}{}", null_suffix(opts, self.act), self.forces(opts));
        }
        // Terraform pads to the longest key plus its two quotes.
        let w = children.iter().map(|(k, _)| k.len()).max().unwrap_or(0) + 2;
        let child_opts = Opts {
            override_null_suffix: self.act == Act::Delete,
            forbid_replace: false,
            ..opts
        };
        let mut s = format!("{{{}\n", self.forces(opts));
        let mut hidden = 0;
        for (k, d) in children {
            if d.act == Act::NoOp && !opts.show_unchanged {
                hidden += 1;
                continue;
            }
            for warning in d.warnings(ind + 1) {
                s.push_str(&format!("{}{warning}\n", indent(ind + 1)));
            }
            let comma = if matches!(d.node, Node::Object(_)) {
                ","
            } else {
                ""
            };
            s.push_str(&format!(
                "{}{} {:w$} = {}{comma}\n",
                indent(ind + 1),
                symbol(d.act),
                go_quote(k),
                d.render(ind + 1, child_opts)
            ));
        }
        push_hidden(&mut s, ind, "element", hidden);
        self.close(&mut s, ind, '}', opts);
        s
    }

    fn render_list(&self, elems: &[Diff<'_>], ind: usize, opts: Opts) -> String {
        if elems.is_empty() {
            return format!("[]{}{}", null_suffix(opts, self.act), self.forces(opts));
        }
        let elem_opts = Opts {
            override_null_suffix: true,
            forbid_replace: false,
            ..opts
        };
        let unchanged_opts = Opts {
            show_unchanged: true,
            forbid_replace: false,
            ..opts
        };
        let mut s = format!("[{}\n", self.forces(opts));
        let mut pending: Vec<&Diff<'_>> = Vec::new();
        let mut render_next = false;
        for e in elems {
            if e.act == Act::NoOp && !render_next && !opts.show_unchanged {
                pending.push(e);
                continue;
            }
            render_next = false;
            let mut o = elem_opts;
            push_hidden(&mut s, ind, "element", pending.len().saturating_sub(1));
            if let Some(last) = pending.last() {
                s.push_str(&format!(
                    "{}{} {},\n",
                    indent(ind + 1),
                    symbol(last.act),
                    last.render(ind + 1, unchanged_opts)
                ));
            }
            pending.clear();
            if e.act == Act::NoOp {
                o = unchanged_opts;
            } else {
                render_next = true;
            }
            for warning in e.warnings(ind + 1) {
                s.push_str(&format!("{}{warning}\n", indent(ind + 1)));
            }
            s.push_str(&format!(
                "{}{} {},\n",
                indent(ind + 1),
                symbol(e.act),
                e.render(ind + 1, o)
            ));
        }
        push_hidden(&mut s, ind, "element", pending.len());
        self.close(&mut s, ind, ']', opts);
        s
    }

    fn render_set(&self, elems: &[Diff<'_>], ind: usize, opts: Opts) -> String {
        if elems.is_empty() {
            return format!("[]{}{}", null_suffix(opts, self.act), self.forces(opts));
        }
        let elem_opts = Opts {
            override_null_suffix: true,
            forbid_replace: false,
            ..opts
        };
        let mut s = format!("[{}\n", self.forces(opts));
        let mut hidden = 0;
        for e in elems {
            if e.act == Act::NoOp && !opts.show_unchanged {
                hidden += 1;
                continue;
            }
            for warning in e.warnings(ind + 1) {
                s.push_str(&format!("{}{warning}\n", indent(ind + 1)));
            }
            s.push_str(&format!(
                "{}{} {},\n",
                indent(ind + 1),
                symbol(e.act),
                e.render(ind + 1, elem_opts)
            ));
        }
        push_hidden(&mut s, ind, "element", hidden);
        self.close(&mut s, ind, ']', opts);
        s
    }
}

/// A string as the renderer sees it: quoted for one line, or trimmed lines for a heredoc.
struct EvalString {
    quoted: String,
    raw: String,
    multiline: Option<String>,
}

fn eval_string(v: Option<&Value>) -> EvalString {
    match v.and_then(Value::as_str) {
        None => EvalString {
            quoted: "null".into(),
            raw: "null".into(),
            multiline: None,
        },
        Some(s) => EvalString {
            quoted: go_quote(s),
            raw: s.to_string(),
            multiline: s.contains('\n').then(|| s.trim().to_string()),
        },
    }
}
