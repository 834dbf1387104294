//! Ansible inventories, read as they are (issue 13): a parser for the INI and YAML inventory
//! formats and the `ansible_inventory` data source, so `for_each =
//! data.ansible_inventory.x.hosts` configures a fleet a team already lists for Ansible.
//!
//! Parsing follows Ansible's `ini` and `yaml` inventory plugins: hosts, groups, children,
//! host and group variables, host ranges (`web[01:20]`, `db-[a:c]`), `host:port`, comments and
//! quoted values. A host's variables are the variables of every group it belongs to, from
//! `all` down (deeper groups win; at one depth, the later name wins), then its own. INI values
//! are strings; YAML values keep their types. Malformed input is a typed
//! [`InventoryError`] naming the file and line.
//!
//! Not supported (yet): inventory directories with `group_vars/`/`host_vars/`,
//! `ansible_group_priority`, and Ansible's literal evaluation of INI values. As in Ansible, a
//! `#` in a `[group:vars]` value is part of the value, not a comment.
//!
//! Must not run anything: no dynamic inventory scripts or plugins, no Jinja templating of
//! values, no connection to any host; it only reads the one file it is given.

use baton_eval::{Type, Value};
use baton_provider::schema::{Attr, Schema};
use baton_provider::{DataSourceType, ProviderCtx, ProviderError};
use serde_json::Value as Json;
use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::path::Path;

/// Variables by name.
pub type Vars = BTreeMap<String, Json>;

/// Where in an inventory something is: a file, and a line (INI, YAML syntax) or a path of keys
/// (YAML structure, which has no line once parsed).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Loc {
    pub file: String,
    pub line: Option<usize>,
    pub at: Option<String>,
}

impl fmt::Display for Loc {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.file)?;
        if let Some(l) = self.line {
            write!(f, ":{l}")?;
        }
        if let Some(a) = &self.at {
            write!(f, " (at {a})")?;
        }
        Ok(())
    }
}

/// Why an inventory could not be read.
#[derive(Debug, thiserror::Error)]
pub enum InventoryError {
    #[error("{file}: cannot read the inventory: {source}")]
    Read {
        file: String,
        source: std::io::Error,
    },
    #[error("{file}: cannot tell the inventory's format from its name: set format = \"ini\" or \"yaml\"")]
    UnknownFormat { file: String },
    #[error("unknown inventory format {0:?}: use \"ini\" or \"yaml\"")]
    BadFormat(String),
    #[error("{file}:{line}: unterminated section header {text:?}: a header is [group], [group:vars] or [group:children]")]
    UnterminatedSection {
        file: String,
        line: usize,
        text: String,
    },
    #[error("{file}:{line}: invalid section header {text:?}: {reason}")]
    BadSection {
        file: String,
        line: usize,
        text: String,
        reason: String,
    },
    #[error("{loc}: invalid host range {pattern:?}: {reason}")]
    BadRange {
        loc: Loc,
        pattern: String,
        reason: String,
    },
    #[error("{loc}: {reason}")]
    BadEntry { loc: Loc, reason: String },
    #[error(
        "{file}:{line}: section [{group}:vars] is for a group defined nowhere in the inventory"
    )]
    UndefinedGroup {
        file: String,
        line: usize,
        group: String,
    },
    #[error("{file}:{line}:{column}: invalid YAML: {message}")]
    Yaml {
        file: String,
        line: usize,
        column: usize,
        message: String,
    },
    #[error("{file}: group {group:?} is its own ancestor (a loop of children)")]
    Cycle { file: String, group: String },
    #[error("{file}: host {host:?}: ansible_port {value} is not a port number")]
    BadPort {
        file: String,
        host: String,
        value: String,
    },
    #[error("limit {0:?} names no group or host of the inventory")]
    NoMatch(String),
}

/// The two inventory formats.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    Ini,
    Yaml,
}

impl Format {
    /// The format a `format` argument names.
    pub fn parse(s: &str) -> Result<Format, InventoryError> {
        match s.to_ascii_lowercase().as_str() {
            "ini" => Ok(Format::Ini),
            "yaml" | "yml" => Ok(Format::Yaml),
            _ => Err(InventoryError::BadFormat(s.to_string())),
        }
    }

    /// The format a file's name implies: `.ini` or no extension is INI; `.yml`, `.yaml` (and
    /// `.json`, which is YAML) are YAML.
    pub fn from_path(p: &Path) -> Result<Format, InventoryError> {
        match p.extension().and_then(|e| e.to_str()) {
            None => Ok(Format::Ini),
            Some(e) if e.eq_ignore_ascii_case("ini") => Ok(Format::Ini),
            Some(e)
                if ["yml", "yaml", "json"]
                    .iter()
                    .any(|x| e.eq_ignore_ascii_case(x)) =>
            {
                Ok(Format::Yaml)
            }
            Some(_) => Err(InventoryError::UnknownFormat {
                file: p.display().to_string(),
            }),
        }
    }
}

#[derive(Debug, Clone, Default, PartialEq)]
struct Group {
    hosts: BTreeSet<String>,
    children: BTreeSet<String>,
    parents: BTreeSet<String>,
    vars: Vars,
}

/// A parsed inventory: groups, their hosts and children, and variables.
#[derive(Debug, Clone, PartialEq)]
pub struct Inventory {
    file: String,
    groups: BTreeMap<String, Group>,
    /// Each host's own variables.
    hosts: BTreeMap<String, Vars>,
}

/// One host as a play would see it.
#[derive(Debug, Clone, PartialEq)]
pub struct Host {
    pub name: String,
    /// `ansible_host`, else the name.
    pub address: String,
    /// `ansible_port`, else 22.
    pub port: u16,
    /// `ansible_user`, if set.
    pub user: Option<String>,
    /// The groups the host belongs to, directly or through children, sorted; without `all`
    /// (as Ansible's `group_names`).
    pub groups: Vec<String>,
    /// The merged variables: every ancestor group's, then the host's own.
    pub vars: Vars,
}

/// A variable's value as text: strings as they are, anything else as JSON.
pub fn var_text(v: &Json) -> String {
    match v {
        Json::String(s) => s.clone(),
        other => other.to_string(),
    }
}

impl Inventory {
    fn new(file: &str) -> Inventory {
        let mut groups = BTreeMap::new();
        groups.insert("all".to_string(), Group::default());
        groups.insert("ungrouped".to_string(), Group::default());
        Inventory {
            file: file.to_string(),
            groups,
            hosts: BTreeMap::new(),
        }
    }

    /// Reads and parses the inventory at `path`, in `format` or the one its name implies.
    pub fn load(path: &Path, format: Option<Format>) -> Result<Inventory, InventoryError> {
        let file = path.display().to_string();
        let format = match format {
            Some(f) => f,
            None => Format::from_path(path)?,
        };
        let text = std::fs::read_to_string(path).map_err(|source| InventoryError::Read {
            file: file.clone(),
            source,
        })?;
        match format {
            Format::Ini => Inventory::parse_ini(&text, &file),
            Format::Yaml => Inventory::parse_yaml(&text, &file),
        }
    }

    fn group(&mut self, name: &str) -> &mut Group {
        self.groups.entry(name.to_string()).or_default()
    }

    fn add_host(&mut self, group: &str, host: &str, vars: Vars) {
        self.group(group).hosts.insert(host.to_string());
        self.hosts.entry(host.to_string()).or_default().extend(vars);
    }

    fn add_child(&mut self, parent: &str, child: &str) {
        self.group(parent).children.insert(child.to_string());
        self.group(child).parents.insert(parent.to_string());
    }

    /// Parses an inventory in Ansible's INI format.
    pub fn parse_ini(text: &str, file: &str) -> Result<Inventory, InventoryError> {
        #[derive(PartialEq)]
        enum State {
            Hosts,
            Children,
            Vars,
        }
        let mut inv = Inventory::new(file);
        let mut group = "ungrouped".to_string();
        let mut state = State::Hosts;
        // Groups whose `:vars` came before (or without) their definition, with the line.
        let mut pending: BTreeMap<String, usize> = BTreeMap::new();
        let mut defined: BTreeSet<String> = ["all", "ungrouped"].map(String::from).into();
        let loc = |line: usize| Loc {
            file: file.to_string(),
            line: Some(line),
            at: None,
        };
        for (i, raw) in text.lines().enumerate() {
            let n = i + 1;
            let line = raw.trim();
            if line.is_empty() || line.starts_with('#') || line.starts_with(';') {
                continue;
            }
            if line.starts_with('[') {
                let (name, kind) = section_header(line).map_err(|e| match e {
                    HeaderError::Unterminated => InventoryError::UnterminatedSection {
                        file: file.to_string(),
                        line: n,
                        text: line.to_string(),
                    },
                    HeaderError::Bad(reason) => InventoryError::BadSection {
                        file: file.to_string(),
                        line: n,
                        text: line.to_string(),
                        reason,
                    },
                })?;
                group = name.to_string();
                state = match kind {
                    None | Some("hosts") => State::Hosts,
                    Some("children") => State::Children,
                    Some("vars") => State::Vars,
                    Some(other) => {
                        return Err(InventoryError::BadSection {
                            file: file.to_string(),
                            line: n,
                            text: line.to_string(),
                            reason: format!(
                                "unknown section type {other:?} (use :vars or :children)"
                            ),
                        })
                    }
                };
                inv.group(&group);
                if state == State::Vars {
                    if !defined.contains(&group) {
                        pending.entry(group.clone()).or_insert(n);
                    }
                } else {
                    defined.insert(group.clone());
                    pending.remove(&group);
                }
                continue;
            }
            match state {
                State::Hosts => {
                    let tokens = shell_words(line).map_err(|reason| InventoryError::BadEntry {
                        loc: loc(n),
                        reason,
                    })?;
                    let Some((pattern, rest)) = tokens.split_first() else {
                        continue;
                    };
                    let mut vars = Vars::new();
                    let (pattern, port) = split_port(pattern);
                    if let Some(p) = port {
                        vars.insert("ansible_port".into(), Json::String(p.to_string()));
                    }
                    for t in rest {
                        let Some((k, v)) = t.split_once('=') else {
                            return Err(InventoryError::BadEntry {
                                loc: loc(n),
                                reason: format!(
                                    "expected key=value host variable assignment, got {t:?}"
                                ),
                            });
                        };
                        vars.insert(k.to_string(), Json::String(v.to_string()));
                    }
                    let names =
                        expand_hosts(pattern).map_err(|reason| InventoryError::BadRange {
                            loc: loc(n),
                            pattern: pattern.to_string(),
                            reason,
                        })?;
                    for h in names {
                        inv.add_host(&group, &h, vars.clone());
                    }
                }
                State::Children => {
                    if line.contains(char::is_whitespace) {
                        return Err(InventoryError::BadEntry {
                            loc: loc(n),
                            reason: format!("{line:?} is not a group name"),
                        });
                    }
                    inv.add_child(&group, line);
                    defined.insert(line.to_string());
                    pending.remove(line);
                }
                State::Vars => {
                    let Some((k, v)) = line.split_once('=') else {
                        return Err(InventoryError::BadEntry {
                            loc: loc(n),
                            reason: format!("expected key=value, got {line:?}"),
                        });
                    };
                    let v = unquote(v.trim());
                    inv.group(&group)
                        .vars
                        .insert(k.trim().to_string(), Json::String(v));
                }
            }
        }
        if let Some((g, line)) = pending.into_iter().min_by_key(|(_, l)| *l) {
            return Err(InventoryError::UndefinedGroup {
                file: file.to_string(),
                line,
                group: g,
            });
        }
        inv.finish()?;
        Ok(inv)
    }

    /// Parses an inventory in Ansible's YAML format.
    pub fn parse_yaml(text: &str, file: &str) -> Result<Inventory, InventoryError> {
        let doc: yaml_serde::Value =
            yaml_serde::from_str(text).map_err(|e| InventoryError::Yaml {
                file: file.to_string(),
                line: e.location().map(|l| l.line()).unwrap_or(0),
                column: e.location().map(|l| l.column()).unwrap_or(0),
                message: e.to_string(),
            })?;
        let mut inv = Inventory::new(file);
        let bad = |at: &str, reason: String| InventoryError::BadEntry {
            loc: Loc {
                file: file.to_string(),
                line: None,
                at: Some(at.to_string()),
            },
            reason,
        };
        match doc {
            yaml_serde::Value::Null => {}
            yaml_serde::Value::Mapping(m) => {
                for (k, v) in m {
                    let name = key_text(&k);
                    inv.yaml_group(&name, v, &name, &bad)?;
                }
            }
            other => {
                return Err(bad(
                    "top level",
                    format!(
                        "expected a mapping of group names, found {}",
                        yaml_kind(&other)
                    ),
                ))
            }
        }
        inv.finish()?;
        Ok(inv)
    }

    fn yaml_group(
        &mut self,
        name: &str,
        def: yaml_serde::Value,
        at: &str,
        bad: &dyn Fn(&str, String) -> InventoryError,
    ) -> Result<(), InventoryError> {
        self.group(name);
        let def = match def {
            yaml_serde::Value::Null => return Ok(()),
            yaml_serde::Value::Mapping(m) => m,
            other => {
                return Err(bad(
                    at,
                    format!(
                        "group {name:?} must be a mapping of hosts, children and vars, found {}",
                        yaml_kind(&other)
                    ),
                ))
            }
        };
        for (k, v) in def {
            let key = key_text(&k);
            let here = format!("{at}.{key}");
            match key.as_str() {
                "hosts" => {
                    for (h, hv) in yaml_mapping(v, &here, bad)? {
                        let pattern = key_text(&h);
                        let hat = format!("{here}.{pattern}");
                        let mut vars = Vars::new();
                        let (pat, port) = split_port(&pattern);
                        if let Some(p) = port {
                            vars.insert("ansible_port".into(), Json::String(p.to_string()));
                        }
                        vars.extend(yaml_vars(hv, &hat, bad)?);
                        let names =
                            expand_hosts(pat).map_err(|reason| InventoryError::BadRange {
                                loc: Loc {
                                    file: self.file.clone(),
                                    line: None,
                                    at: Some(hat.clone()),
                                },
                                pattern: pattern.clone(),
                                reason,
                            })?;
                        for n in names {
                            self.add_host(name, &n, vars.clone());
                        }
                    }
                }
                "children" => {
                    for (c, cv) in yaml_mapping(v, &here, bad)? {
                        let child = key_text(&c);
                        self.add_child(name, &child);
                        self.yaml_group(&child, cv, &format!("{here}.{child}"), bad)?;
                    }
                }
                "vars" => {
                    let vars = yaml_vars(v, &here, bad)?;
                    self.group(name).vars.extend(vars);
                }
                other => {
                    return Err(bad(
                        &here,
                        format!(
                            "unexpected key {other:?} in group {name:?} (expected hosts, children or vars)"
                        ),
                    ))
                }
            }
        }
        Ok(())
    }

    /// Ansible's reconciliation: every group without a parent is a child of `all`, and every
    /// host in no group but `all` is in `ungrouped`. Refuses loops of children.
    fn finish(&mut self) -> Result<(), InventoryError> {
        let orphans: Vec<String> = self
            .groups
            .iter()
            .filter(|(n, g)| n.as_str() != "all" && g.parents.is_empty())
            .map(|(n, _)| n.clone())
            .collect();
        for g in orphans {
            self.add_child("all", &g);
        }
        let mut direct: BTreeMap<&str, usize> = BTreeMap::new();
        for (name, g) in &self.groups {
            if name != "all" && name != "ungrouped" {
                for h in &g.hosts {
                    *direct.entry(h.as_str()).or_default() += 1;
                }
            }
        }
        let (grouped, ungrouped): (Vec<String>, Vec<String>) = self
            .hosts
            .keys()
            .cloned()
            .partition(|h| direct.contains_key(h.as_str()));
        let u = self.group("ungrouped");
        for h in grouped {
            u.hosts.remove(&h);
        }
        u.hosts.extend(ungrouped);
        // Loops: every group must reach `all` through parents without revisiting one.
        self.depths()?;
        Ok(())
    }

    /// Each group's depth: the longest path from `all` (Ansible's `group.depth`).
    fn depths(&self) -> Result<BTreeMap<String, usize>, InventoryError> {
        fn visit(
            inv: &Inventory,
            g: &str,
            on_path: &mut BTreeSet<String>,
            memo: &mut BTreeMap<String, usize>,
        ) -> Result<usize, InventoryError> {
            if let Some(d) = memo.get(g) {
                return Ok(*d);
            }
            if !on_path.insert(g.to_string()) {
                return Err(InventoryError::Cycle {
                    file: inv.file.clone(),
                    group: g.to_string(),
                });
            }
            let mut d = 0;
            if let Some(grp) = inv.groups.get(g) {
                for p in &grp.parents {
                    d = d.max(visit(inv, p, on_path, memo)? + 1);
                }
            }
            on_path.remove(g);
            memo.insert(g.to_string(), d);
            Ok(d)
        }
        let mut memo = BTreeMap::new();
        for g in self.groups.keys() {
            visit(self, g, &mut BTreeSet::new(), &mut memo)?;
        }
        Ok(memo)
    }

    /// The names of all groups.
    pub fn group_names(&self) -> impl Iterator<Item = &str> {
        self.groups.keys().map(String::as_str)
    }

    /// The hosts of a group, directly or through its children, sorted.
    pub fn group_hosts(&self, group: &str) -> BTreeSet<String> {
        let mut out = BTreeSet::new();
        let mut seen = BTreeSet::new();
        let mut todo = vec![group.to_string()];
        while let Some(g) = todo.pop() {
            if !seen.insert(g.clone()) {
                continue;
            }
            if let Some(grp) = self.groups.get(&g) {
                out.extend(grp.hosts.iter().cloned());
                todo.extend(grp.children.iter().cloned());
            }
        }
        // Every host is in `all`, wherever it was listed.
        if group == "all" {
            out.extend(self.hosts.keys().cloned());
        }
        out
    }

    /// The hosts a limit (a group or host name) selects; every host without one.
    pub fn select(&self, limit: Option<&str>) -> Result<BTreeSet<String>, InventoryError> {
        match limit {
            None => Ok(self.hosts.keys().cloned().collect()),
            Some(l) if self.groups.contains_key(l) => Ok(self.group_hosts(l)),
            Some(l) if self.hosts.contains_key(l) => Ok([l.to_string()].into()),
            Some(l) => Err(InventoryError::NoMatch(l.to_string())),
        }
    }

    /// One host with its merged variables, or `None` if the inventory has no such host.
    pub fn host(&self, name: &str) -> Result<Option<Host>, InventoryError> {
        let Some(own) = self.hosts.get(name) else {
            return Ok(None);
        };
        let depths = self.depths()?;
        let mut groups = BTreeSet::new();
        let mut todo: Vec<String> = self
            .groups
            .iter()
            .filter(|(_, g)| g.hosts.contains(name))
            .map(|(n, _)| n.clone())
            .collect();
        todo.push("all".into());
        while let Some(g) = todo.pop() {
            if groups.insert(g.clone()) {
                if let Some(grp) = self.groups.get(&g) {
                    todo.extend(grp.parents.iter().cloned());
                }
            }
        }
        let mut ordered: Vec<&String> = groups.iter().collect();
        ordered.sort_by_key(|g| (depths.get(*g).copied().unwrap_or(0), g.as_str()));
        let mut vars = Vars::new();
        for g in ordered {
            if let Some(grp) = self.groups.get(g) {
                vars.extend(grp.vars.clone());
            }
        }
        vars.extend(own.clone());
        let text = |keys: &[&str]| keys.iter().find_map(|k| vars.get(*k)).map(var_text);
        let address = text(&["ansible_host", "ansible_ssh_host"]).unwrap_or_else(|| name.into());
        let port = match text(&["ansible_port", "ansible_ssh_port"]) {
            None => 22,
            Some(p) => p.trim().parse().map_err(|_| InventoryError::BadPort {
                file: self.file.clone(),
                host: name.to_string(),
                value: p.clone(),
            })?,
        };
        let user = text(&["ansible_user", "ansible_ssh_user"]);
        Ok(Some(Host {
            name: name.to_string(),
            address,
            port,
            user,
            groups: groups.into_iter().filter(|g| g != "all").collect(),
            vars,
        }))
    }

    /// Every selected host, resolved.
    pub fn hosts(&self, limit: Option<&str>) -> Result<Vec<Host>, InventoryError> {
        let mut out = Vec::new();
        for h in self.select(limit)? {
            if let Some(host) = self.host(&h)? {
                out.push(host);
            }
        }
        Ok(out)
    }
}

enum HeaderError {
    Unterminated,
    Bad(String),
}

/// `[name]` or `[name:kind]`, optionally followed by a comment.
fn section_header(line: &str) -> Result<(&str, Option<&str>), HeaderError> {
    let Some(close) = line.find(']') else {
        return Err(HeaderError::Unterminated);
    };
    let after = line[close + 1..].trim_start();
    if !after.is_empty() && !after.starts_with('#') && !after.starts_with(';') {
        return Err(HeaderError::Bad(format!(
            "unexpected text {after:?} after the header"
        )));
    }
    let inner = &line[1..close];
    let (name, kind) = match inner.split_once(':') {
        Some((n, k)) => (n, Some(k)),
        None => (inner, None),
    };
    if name.is_empty() || name.contains(char::is_whitespace) || name.contains('[') {
        return Err(HeaderError::Bad(format!("{name:?} is not a group name")));
    }
    Ok((name, kind))
}

/// Splits a host line as Ansible does (shlex with comments): whitespace separates tokens,
/// single and double quotes group, a backslash escapes outside single quotes, and an unquoted
/// `#` starts a comment.
fn shell_words(line: &str) -> Result<Vec<String>, String> {
    let mut out = Vec::new();
    let mut cur = String::new();
    let mut in_token = false;
    let mut chars = line.chars();
    while let Some(c) = chars.next() {
        match c {
            '#' => break,
            c if c.is_whitespace() => {
                if in_token {
                    out.push(std::mem::take(&mut cur));
                    in_token = false;
                }
            }
            '\'' | '"' => {
                in_token = true;
                let mut closed = false;
                while let Some(d) = chars.next() {
                    if d == c {
                        closed = true;
                        break;
                    }
                    if d == '\\' && c == '"' {
                        if let Some(e) = chars.next() {
                            cur.push(e);
                        }
                        continue;
                    }
                    cur.push(d);
                }
                if !closed {
                    return Err(format!("unterminated quote {c} in {line:?}"));
                }
            }
            '\\' => {
                in_token = true;
                if let Some(e) = chars.next() {
                    cur.push(e);
                }
            }
            c => {
                in_token = true;
                cur.push(c);
            }
        }
    }
    if in_token {
        out.push(cur);
    }
    Ok(out)
}

/// A value with its surrounding quotes (single or double) removed.
fn unquote(v: &str) -> String {
    for q in ['"', '\''] {
        if v.len() >= 2 && v.starts_with(q) && v.ends_with(q) {
            return v[1..v.len() - 1].to_string();
        }
    }
    v.to_string()
}

/// `host:port` → (`host`, port). A colon inside a range's brackets does not count, and a
/// name with more than one colon outside brackets (an IPv6 address) has no port.
fn split_port(pattern: &str) -> (&str, Option<u16>) {
    let mut depth = 0usize;
    let mut colons = Vec::new();
    for (i, c) in pattern.char_indices() {
        match c {
            '[' => depth += 1,
            ']' => depth = depth.saturating_sub(1),
            ':' if depth == 0 => colons.push(i),
            _ => {}
        }
    }
    if let [i] = colons[..] {
        if let Ok(p) = pattern[i + 1..].parse::<u16>() {
            return (&pattern[..i], Some(p));
        }
    }
    (pattern, None)
}

/// Expands host ranges: `web[01:03]` → web01, web02, web03 (leading zeros kept, so start and
/// end must then have the same width); `db-[a:c]` → db-a, db-b, db-c; an optional step
/// (`[1:9:2]`); several ranges in one name multiply.
pub fn expand_hosts(pattern: &str) -> Result<Vec<String>, String> {
    let Some(open) = pattern.find('[') else {
        if pattern.contains(']') {
            return Err("']' without '['".into());
        }
        return Ok(vec![pattern.to_string()]);
    };
    let close = pattern[open..]
        .find(']')
        .map(|c| c + open)
        .ok_or_else(|| "'[' without ']'".to_string())?;
    let (head, inner, tail) = (
        &pattern[..open],
        &pattern[open + 1..close],
        &pattern[close + 1..],
    );
    let parts: Vec<&str> = inner.split(':').collect();
    let (beg, end, step) = match parts[..] {
        [b, e] => (b, e, 1),
        [b, e, s] => (
            b,
            e,
            s.parse::<usize>()
                .ok()
                .filter(|s| *s > 0)
                .ok_or_else(|| format!("step {s:?} is not a positive number"))?,
        ),
        _ => return Err("a range is [start:end] or [start:end:step]".into()),
    };
    if end.is_empty() {
        return Err("the range has no end".into());
    }
    let beg = if beg.is_empty() { "0" } else { beg };
    let items: Vec<String> =
        if beg.bytes().all(|b| b.is_ascii_digit()) && end.bytes().all(|b| b.is_ascii_digit()) {
            let width = if beg.len() > 1 && beg.starts_with('0') {
                if beg.len() != end.len() {
                    return Err(format!(
                    "{beg:?} and {end:?} must have the same width when {beg:?} has leading zeros"
                ));
                }
                beg.len()
            } else {
                0
            };
            let b: u64 = beg.parse().map_err(|_| format!("{beg:?} is too large"))?;
            let e: u64 = end.parse().map_err(|_| format!("{end:?} is too large"))?;
            if b > e {
                return Err(format!("start {beg} is after end {end}"));
            }
            (b..=e)
                .step_by(step)
                .map(|i| format!("{i:0width$}"))
                .collect()
        } else {
            let one = |s: &str| {
                let mut cs = s.chars();
                match (cs.next(), cs.next()) {
                    (Some(c), None) if c.is_ascii_alphabetic() => Some(c),
                    _ => None,
                }
            };
            let (Some(b), Some(e)) = (one(beg), one(end)) else {
                return Err(format!(
                    "{beg:?}:{end:?} is neither a numeric range nor a range of single letters"
                ));
            };
            if b.is_ascii_lowercase() != e.is_ascii_lowercase() {
                return Err(format!("{b:?} and {e:?} differ in case"));
            }
            if b > e {
                return Err(format!("start {b:?} is after end {e:?}"));
            }
            (b..=e).step_by(step).map(String::from).collect()
        };
    let tails = expand_hosts(tail)?;
    let mut out = Vec::with_capacity(items.len() * tails.len());
    for i in &items {
        for t in &tails {
            out.push(format!("{head}{i}{t}"));
        }
    }
    Ok(out)
}

fn key_text(k: &yaml_serde::Value) -> String {
    match yaml_json(k) {
        Json::String(s) => s,
        other => other.to_string(),
    }
}

fn yaml_kind(v: &yaml_serde::Value) -> &'static str {
    match v {
        yaml_serde::Value::Null => "null",
        yaml_serde::Value::Bool(_) => "a boolean",
        yaml_serde::Value::Number(_) => "a number",
        yaml_serde::Value::String(_) => "a string",
        yaml_serde::Value::Sequence(_) => "a list",
        yaml_serde::Value::Mapping(_) => "a mapping",
        yaml_serde::Value::Tagged(_) => "a tagged value",
    }
}

fn yaml_mapping(
    v: yaml_serde::Value,
    at: &str,
    bad: &dyn Fn(&str, String) -> InventoryError,
) -> Result<yaml_serde::Mapping, InventoryError> {
    match v {
        yaml_serde::Value::Null => Ok(yaml_serde::Mapping::new()),
        yaml_serde::Value::Mapping(m) => Ok(m),
        other => Err(bad(
            at,
            format!("expected a mapping, found {}", yaml_kind(&other)),
        )),
    }
}

fn yaml_vars(
    v: yaml_serde::Value,
    at: &str,
    bad: &dyn Fn(&str, String) -> InventoryError,
) -> Result<Vars, InventoryError> {
    Ok(yaml_mapping(v, at, bad)?
        .iter()
        .map(|(k, v)| (key_text(k), yaml_json(v)))
        .collect())
}

/// A YAML value as JSON, keeping its type (tags are dropped, non-string keys become text).
fn yaml_json(v: &yaml_serde::Value) -> Json {
    match v {
        yaml_serde::Value::Null => Json::Null,
        yaml_serde::Value::Bool(b) => Json::Bool(*b),
        yaml_serde::Value::Number(n) => {
            if let Some(i) = n.as_i64() {
                Json::from(i)
            } else if let Some(u) = n.as_u64() {
                Json::from(u)
            } else {
                n.as_f64()
                    .and_then(serde_json::Number::from_f64)
                    .map(Json::Number)
                    .unwrap_or_else(|| Json::String(n.to_string()))
            }
        }
        yaml_serde::Value::String(s) => Json::String(s.clone()),
        yaml_serde::Value::Sequence(s) => Json::Array(s.iter().map(yaml_json).collect()),
        yaml_serde::Value::Mapping(m) => {
            Json::Object(m.iter().map(|(k, v)| (key_text(k), yaml_json(v))).collect())
        }
        yaml_serde::Value::Tagged(t) => yaml_json(&t.value),
    }
}

/// The `ansible_inventory` data source.
pub struct AnsibleInventory {
    schema: Schema,
}

impl Default for AnsibleInventory {
    fn default() -> Self {
        AnsibleInventory::new()
    }
}

/// The type of one element of `hosts`.
fn host_type() -> Type {
    Type::object(
        [
            ("name", Type::String),
            ("address", Type::String),
            ("port", Type::Number),
            ("user", Type::String),
            ("groups", Type::list(Type::String)),
            ("vars", Type::map(Type::String)),
        ]
        .into_iter()
        .map(|(k, t)| (k.to_string(), t))
        .collect(),
    )
}

impl AnsibleInventory {
    pub fn new() -> AnsibleInventory {
        AnsibleInventory {
            schema: Schema::new()
                .attr("path", Attr::required(Type::String))
                .attr("format", Attr::optional(Type::String))
                .attr("limit", Attr::optional(Type::String))
                .attr("id", Attr::computed(Type::String))
                .attr("hosts", Attr::computed(Type::map(host_type())))
                .attr(
                    "groups",
                    Attr::computed(Type::map(Type::list(Type::String))),
                ),
        }
    }
}

fn str_attr(v: &Value, name: &str) -> Option<String> {
    v.get_attr(name)
        .and_then(|x| x.clone().unmark_deep().0.as_str().map(str::to_string))
}

fn strings(items: impl IntoIterator<Item = String>) -> Value {
    Value::list(Type::String, items.into_iter().map(Value::string).collect())
}

impl DataSourceType for AnsibleInventory {
    fn type_name(&self) -> &'static str {
        "ansible_inventory"
    }
    fn schema(&self) -> &Schema {
        &self.schema
    }
    fn read(&self, ctx: &ProviderCtx, config: &Value) -> Result<Value, ProviderError> {
        let path = str_attr(config, "path").ok_or_else(|| {
            ProviderError::permanent("Missing path", "path is required.").on_attr("path")
        })?;
        let invalid = |e: InventoryError, attr: &str| {
            ProviderError::permanent("Invalid Ansible inventory", e.to_string()).on_attr(attr)
        };
        let format = str_attr(config, "format");
        let fmt = match &format {
            Some(f) => Some(Format::parse(f).map_err(|e| invalid(e, "format"))?),
            None => None,
        };
        let limit = str_attr(config, "limit");
        let inv = Inventory::load(&ctx.resolve(&path), fmt).map_err(|e| invalid(e, "path"))?;
        let selected = inv.select(limit.as_deref()).map_err(|e| match e {
            InventoryError::NoMatch(_) => invalid(e, "limit"),
            e => invalid(e, "path"),
        })?;
        let mut hosts = BTreeMap::new();
        for h in inv
            .hosts(limit.as_deref())
            .map_err(|e| invalid(e, "path"))?
        {
            let mut o = BTreeMap::new();
            o.insert("name".to_string(), Value::string(h.name.as_str()));
            o.insert("address".to_string(), Value::string(h.address));
            o.insert("port".to_string(), Value::int(i64::from(h.port)));
            o.insert(
                "user".to_string(),
                h.user
                    .map(Value::string)
                    .unwrap_or_else(|| Value::null(Type::String)),
            );
            o.insert("groups".to_string(), strings(h.groups));
            o.insert(
                "vars".to_string(),
                Value::map(
                    Type::String,
                    h.vars
                        .iter()
                        .map(|(k, v)| (k.clone(), Value::string(var_text(v))))
                        .collect(),
                ),
            );
            hosts.insert(h.name, Value::object(o));
        }
        let groups = inv
            .group_names()
            .map(|g| {
                let members = inv.group_hosts(g);
                (
                    g.to_string(),
                    strings(members.intersection(&selected).cloned()),
                )
            })
            .collect();
        let opt = |v: Option<String>| {
            v.map(Value::string)
                .unwrap_or_else(|| Value::null(Type::String))
        };
        let mut m = BTreeMap::new();
        m.insert("id".to_string(), Value::string(path.as_str()));
        m.insert("path".to_string(), Value::string(path));
        m.insert("format".to_string(), opt(format));
        m.insert("limit".to_string(), opt(limit));
        m.insert("hosts".to_string(), Value::map(host_type(), hosts));
        m.insert(
            "groups".to_string(),
            Value::map(Type::list(Type::String), groups),
        );
        Ok(Value::object(m))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ini(t: &str) -> Inventory {
        Inventory::parse_ini(t, "hosts.ini").expect("valid INI")
    }
    fn yaml(t: &str) -> Inventory {
        Inventory::parse_yaml(t, "hosts.yml").expect("valid YAML")
    }
    fn host(inv: &Inventory, h: &str) -> Host {
        inv.host(h).expect("resolves").expect("host exists")
    }
    fn names(s: BTreeSet<String>) -> Vec<String> {
        s.into_iter().collect()
    }

    #[test]
    fn numeric_ranges_keep_leading_zeros() {
        assert_eq!(
            expand_hosts("web[01:03].example").expect("range"),
            ["web01.example", "web02.example", "web03.example"]
        );
        assert_eq!(expand_hosts("n[8:10]").expect("range"), ["n8", "n9", "n10"]);
        assert_eq!(expand_hosts("n[:2]").expect("range"), ["n0", "n1", "n2"]);
        assert_eq!(
            expand_hosts("n[001:010:3]").expect("range"),
            ["n001", "n004", "n007", "n010"]
        );
        let inv = ini("[web]\nweb[01:20] role=www\n");
        let web = names(inv.group_hosts("web"));
        assert_eq!(web.len(), 20);
        assert_eq!(web[0], "web01");
        assert_eq!(web[19], "web20");
        assert_eq!(host(&inv, "web07").vars["role"], "www");
    }

    #[test]
    fn alphabetic_and_multiple_ranges() {
        assert_eq!(
            expand_hosts("db-[a:c]").expect("range"),
            ["db-a", "db-b", "db-c"]
        );
        assert_eq!(
            expand_hosts("r[1:2]-[x:y]").expect("range"),
            ["r1-x", "r1-y", "r2-x", "r2-y"]
        );
    }

    #[test]
    fn bad_ranges_are_errors_with_their_line() {
        for (line, why) in [
            ("web[01:3]", "same width"),
            ("web[5:1]", "after"),
            ("web[a:5]", "neither"),
            ("web[1:2", "without ']'"),
            ("web[1]", "[start:end]"),
            ("web[c:a]", "after"),
        ] {
            let e =
                Inventory::parse_ini(&format!("# fleet\n[web]\n{line}\n"), "inv").expect_err(line);
            match &e {
                InventoryError::BadRange { loc, reason, .. } => {
                    assert_eq!(loc.line, Some(3), "{e}");
                    assert!(reason.contains(why), "{line}: {reason}");
                }
                other => panic!("{line}: {other:?}"),
            }
            assert!(e.to_string().starts_with("inv:3: "), "{e}");
        }
    }

    #[test]
    fn children_and_ungrouped() {
        let inv = ini("loose.example\n\n[web]\nw1\nw2\n\n[db]\nd1\n\n[prod:children]\nweb\ndb\n\n[other]\nloose.example\nlonely\n");
        assert_eq!(names(inv.group_hosts("prod")), ["d1", "w1", "w2"]);
        assert_eq!(
            names(inv.group_hosts("all")),
            ["d1", "lonely", "loose.example", "w1", "w2"]
        );
        // loose.example was later put in a group, so it is no longer ungrouped.
        assert!(inv.group_hosts("ungrouped").is_empty());
        assert_eq!(host(&inv, "w1").groups, ["prod", "web"]);
        let inv = ini("solo\n[web]\nw1\n");
        assert_eq!(names(inv.group_hosts("ungrouped")), ["solo"]);
        assert_eq!(host(&inv, "solo").groups, ["ungrouped"]);
    }

    #[test]
    fn variable_precedence() {
        let inv = ini(r#"
[all:vars]
x=all
y=all
z=all
ntp=pool.example

[prod:children]
web

[prod:vars]
x=prod
y=prod

[web]
w1 y=host ansible_host=10.0.0.1 ansible_port=2222 ansible_user=deploy
w2

[web:vars]
x=web
"#);
        let w1 = host(&inv, "w1");
        assert_eq!(w1.vars["x"], "web", "nearer group wins");
        assert_eq!(w1.vars["y"], "host", "host wins over groups");
        assert_eq!(w1.vars["z"], "all");
        assert_eq!(w1.vars["ntp"], "pool.example");
        assert_eq!(w1.address, "10.0.0.1");
        assert_eq!(w1.port, 2222);
        assert_eq!(w1.user.as_deref(), Some("deploy"));
        let w2 = host(&inv, "w2");
        assert_eq!(w2.vars["y"], "prod");
        assert_eq!((w2.address.as_str(), w2.port, w2.user), ("w2", 22, None));
    }

    #[test]
    fn comments_quotes_and_ports() {
        let inv = ini(r#"
; a comment
# another
[web]   # trailing comment
w1:2200 motd="hello world" path='/a b' # comment
w2 empty="" # nothing

[web:vars]
greeting = "hi there"
"#);
        let w1 = host(&inv, "w1");
        assert_eq!(w1.port, 2200);
        assert_eq!(w1.vars["motd"], "hello world");
        assert_eq!(w1.vars["path"], "/a b");
        assert_eq!(w1.vars["greeting"], "hi there");
        assert_eq!(host(&inv, "w2").vars["empty"], "");
        // Values in INI are strings.
        let inv = ini("h count=3 on=true\n");
        assert_eq!(host(&inv, "h").vars["count"], Json::String("3".into()));
    }

    #[test]
    fn ini_errors_name_their_line() {
        let cases: [(&str, usize); 6] = [
            ("[web]\nw1\n[web\nw2\n", 3),
            ("[web]\n[web:bogus]\n", 2),
            ("[web]\nw1 novalue\n", 2),
            ("[web]\nw1\n[web:vars]\nnoequals\n", 4),
            ("[web]\nw1 x=\"open\n", 2),
            ("[web]\nw1\n\n[typo:vars]\nx=1\n", 4),
        ];
        for (text, line) in cases {
            let e = Inventory::parse_ini(text, "inv").expect_err(text);
            assert!(
                e.to_string().starts_with(&format!("inv:{line}: ")),
                "{text:?}: {e}"
            );
        }
        assert!(matches!(
            Inventory::parse_ini("[web\n", "inv"),
            Err(InventoryError::UnterminatedSection { line: 1, .. })
        ));
        assert!(matches!(
            Inventory::parse_ini("[typo:vars]\nx=1\n", "inv"),
            Err(InventoryError::UndefinedGroup { line: 1, .. })
        ));
        // Vars before the group's definition are fine.
        let inv = ini("[web:vars]\nx=1\n[web]\nw1\n");
        assert_eq!(host(&inv, "w1").vars["x"], "1");
    }

    #[test]
    fn loops_of_children_are_refused() {
        let e =
            Inventory::parse_ini("[a:children]\nb\n[b:children]\na\n", "inv").expect_err("a loop");
        assert!(matches!(e, InventoryError::Cycle { .. }), "{e:?}");
    }

    const INI: &str = r#"
bastion ansible_host=203.0.113.5

[web]
web[01:02] ansible_user=deploy
db-[a:b]:2222

[web:vars]
http_port=80

[prod:children]
web

[prod:vars]
http_port=8080
env=prod
"#;

    const YAML: &str = r#"
# The same inventory as INI.
all:
  hosts:
    bastion:
      ansible_host: 203.0.113.5
  children:
    prod:
      children:
        web:
          hosts:
            web[01:02]:
              ansible_user: deploy
            db-[a:b]:2222:
          vars:
            http_port: "80"
      vars:
        http_port: "8080"
        env: prod
"#;

    #[test]
    fn ini_and_yaml_agree() {
        let (i, y) = (ini(INI), yaml(YAML));
        let all = |inv: &Inventory| -> Vec<Host> { inv.hosts(None).expect("hosts") };
        assert_eq!(all(&i), all(&y));
        for g in ["all", "ungrouped", "web", "prod"] {
            assert_eq!(i.group_hosts(g), y.group_hosts(g), "group {g}");
        }
        let hosts = all(&i);
        assert_eq!(
            hosts.iter().map(|h| h.name.as_str()).collect::<Vec<_>>(),
            ["bastion", "db-a", "db-b", "web01", "web02"]
        );
        let db = &hosts[1];
        assert_eq!((db.port, db.vars["http_port"].as_str()), (2222, Some("80")));
        assert_eq!(hosts[0].groups, ["ungrouped"]);
        assert_eq!(hosts[0].address, "203.0.113.5");
        assert_eq!(names(i.select(Some("web")).expect("limit")).len(), 4);
        assert_eq!(
            names(i.select(Some("bastion")).expect("limit")),
            ["bastion"]
        );
        assert!(matches!(
            i.select(Some("nope")),
            Err(InventoryError::NoMatch(_))
        ));
    }

    #[test]
    fn yaml_values_keep_their_types() {
        let inv = yaml(
            "all:\n  vars:\n    n: 3\n  hosts:\n    h:\n      ansible_port: 2200\n      on: true\n      list: [1, \"a\"]\n      nested: {k: v}\n",
        );
        let h = host(&inv, "h");
        assert_eq!(h.port, 2200);
        assert_eq!(h.vars["n"], Json::from(3));
        assert_eq!(h.vars["on"], Json::Bool(true));
        assert_eq!(var_text(&h.vars["list"]), r#"[1,"a"]"#);
        assert_eq!(var_text(&h.vars["nested"]), r#"{"k":"v"}"#);
        // Top-level groups other than `all` are its children.
        let inv = yaml("web:\n  hosts:\n    w1:\n");
        assert_eq!(host(&inv, "w1").groups, ["web"]);
    }

    #[test]
    fn yaml_errors() {
        let e = Inventory::parse_yaml("all:\n  hosts:\n    h: [unclosed\n", "inv.yml")
            .expect_err("bad YAML");
        match &e {
            InventoryError::Yaml { line, column, .. } => {
                assert!(*line >= 3 && *column > 0, "{e}")
            }
            other => panic!("{other:?}"),
        }
        assert!(e.to_string().starts_with("inv.yml:"), "{e}");
        let e = Inventory::parse_yaml("all:\n  host:\n    h:\n", "inv.yml").expect_err("typo");
        assert!(e.to_string().contains("all.host"), "{e}");
        let e =
            Inventory::parse_yaml("all:\n  hosts:\n    web[3:1]:\n", "inv.yml").expect_err("range");
        assert!(matches!(e, InventoryError::BadRange { .. }), "{e:?}");
        let e = Inventory::parse_yaml("all:\n  hosts:\n    h:\n      ansible_port: x\n", "i")
            .expect("parses")
            .host("h")
            .expect_err("bad port");
        assert!(matches!(e, InventoryError::BadPort { .. }), "{e:?}");
    }

    #[test]
    fn format_by_name_or_argument() {
        let f = |p: &str| Format::from_path(Path::new(p)).ok();
        assert_eq!(f("hosts"), Some(Format::Ini));
        assert_eq!(f("inv/hosts.ini"), Some(Format::Ini));
        assert_eq!(f("hosts.yml"), Some(Format::Yaml));
        assert_eq!(f("hosts.YAML"), Some(Format::Yaml));
        assert_eq!(f("hosts.txt"), None);
        assert_eq!(Format::parse("yaml").ok(), Some(Format::Yaml));
        assert!(Format::parse("toml").is_err());
    }

    #[test]
    fn the_data_source_reads_a_relative_path() {
        let dir = tempfile::tempdir().expect("dir");
        std::fs::write(dir.path().join("hosts"), INI).expect("write");
        let ctx = ProviderCtx::new(dir.path().to_path_buf());
        let ds = AnsibleInventory::new();
        let config = Value::object(
            [
                ("path".to_string(), Value::string("hosts")),
                ("limit".to_string(), Value::string("prod")),
            ]
            .into(),
        );
        let v = ds.read(&ctx, &config).expect("read");
        let hosts = v
            .get_attr("hosts")
            .and_then(|h| h.as_entries())
            .expect("map");
        assert_eq!(hosts.len(), 4, "bastion is not in prod");
        let web01 = v
            .get_attr("hosts")
            .and_then(|h| h.get_attr("web01"))
            .expect("web01");
        assert_eq!(str_attr(web01, "user").as_deref(), Some("deploy"));
        assert_eq!(str_attr(web01, "address").as_deref(), Some("web01"));
        let vars = web01.get_attr("vars").expect("vars");
        assert_eq!(
            str_attr(vars, "http_port").as_deref(),
            Some("80"),
            "web is nearer than prod"
        );
        assert_eq!(str_attr(vars, "env").as_deref(), Some("prod"));
        let db = v.get_attr("hosts").and_then(|h| h.get_attr("db-a"));
        assert!(db
            .and_then(|d| d.get_attr("user"))
            .is_some_and(Value::is_null));
        let all = v
            .get_attr("groups")
            .and_then(|g| g.get_attr("all"))
            .and_then(Value::as_seq)
            .expect("all");
        assert_eq!(all.len(), 4, "groups are limited too");
        let bad = Value::object([("path".to_string(), Value::string("missing"))].into());
        let e = ds.read(&ctx, &bad).expect_err("missing file");
        assert_eq!(e.attr.as_deref(), Some("path"));
    }
}
