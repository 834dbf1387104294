//! Provider versions and Terraform's provider version constraints (`>= 1.0, < 2.0`, `~> 1.2`,
//! `= 1.2.3`, `!= 1.3.0`): parsing, semver ordering, matching, and the canonical text Terraform
//! writes into the lock file's `constraints`.
//!
//! Pure logic on strings: no files, no environment. Rules follow what `terraform init` v1.11
//! does (checked by tests): missing components are zeros (`>= 1.2` is `>= 1.2.0`, `1` is exactly
//! `1.0.0`), `~>` lets only its last written component grow, and a prerelease version is only
//! selected by an exact `=` (or bare) term naming it.

use std::cmp::Ordering;
use std::fmt;

/// A version number: `MAJOR.MINOR.PATCH[-PRERELEASE][+BUILD]`.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Version {
    pub major: u64,
    pub minor: u64,
    pub patch: u64,
    /// The prerelease part without its `-`; empty for a release.
    pub pre: String,
    /// The build metadata without its `+`; ignored by precedence.
    pub build: String,
}

/// A version or constraint that does not parse.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid version constraint {text:?}: {reason}")]
pub struct ConstraintError {
    pub text: String,
    pub reason: String,
}

impl Version {
    /// Parses a version of one to three numeric components (missing ones are zero).
    pub fn parse(text: &str) -> Result<Version, ConstraintError> {
        parse_version(text).map(|(v, _)| v)
    }

    /// Whether this is a prerelease (`1.0.0-beta1`).
    pub fn is_prerelease(&self) -> bool {
        !self.pre.is_empty()
    }

    fn core(&self) -> (u64, u64, u64) {
        (self.major, self.minor, self.patch)
    }
}

/// Semver precedence of prerelease identifiers: numeric ones numerically and below
/// alphanumeric ones, a shorter list of equal prefix first.
fn cmp_pre(a: &str, b: &str) -> Ordering {
    match (a.is_empty(), b.is_empty()) {
        (true, true) => return Ordering::Equal,
        (true, false) => return Ordering::Greater,
        (false, true) => return Ordering::Less,
        (false, false) => {}
    }
    let mut ia = a.split('.');
    let mut ib = b.split('.');
    loop {
        match (ia.next(), ib.next()) {
            (None, None) => return Ordering::Equal,
            (None, Some(_)) => return Ordering::Less,
            (Some(_), None) => return Ordering::Greater,
            (Some(x), Some(y)) => {
                let o = match (x.parse::<u64>(), y.parse::<u64>()) {
                    (Ok(n), Ok(m)) => n.cmp(&m),
                    (Ok(_), Err(_)) => Ordering::Less,
                    (Err(_), Ok(_)) => Ordering::Greater,
                    (Err(_), Err(_)) => x.cmp(y),
                };
                if o != Ordering::Equal {
                    return o;
                }
            }
        }
    }
}

impl Ord for Version {
    /// Semver precedence; build metadata only breaks ties, so that the order is total.
    fn cmp(&self, other: &Self) -> Ordering {
        self.core()
            .cmp(&other.core())
            .then_with(|| cmp_pre(&self.pre, &other.pre))
            .then_with(|| self.build.cmp(&other.build))
    }
}

impl PartialOrd for Version {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl fmt::Display for Version {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}.{}.{}", self.major, self.minor, self.patch)?;
        if !self.pre.is_empty() {
            write!(f, "-{}", self.pre)?;
        }
        if !self.build.is_empty() {
            write!(f, "+{}", self.build)?;
        }
        Ok(())
    }
}

fn valid_ident_list(s: &str) -> bool {
    !s.is_empty()
        && s.split('.')
            .all(|p| !p.is_empty() && p.chars().all(|c| c.is_ascii_alphanumeric() || c == '-'))
}

/// Parses a version, returning it and how many numeric components were written.
fn parse_version(text: &str) -> Result<(Version, usize), ConstraintError> {
    let err = |reason: &str| ConstraintError {
        text: text.to_string(),
        reason: reason.to_string(),
    };
    let (rest, build) = match text.split_once('+') {
        Some((r, b)) => {
            if !valid_ident_list(b) {
                return Err(err("invalid build metadata"));
            }
            (r, b.to_string())
        }
        None => (text, String::new()),
    };
    let (core, pre) = match rest.split_once('-') {
        Some((c, p)) => {
            if !valid_ident_list(p) {
                return Err(err("invalid prerelease"));
            }
            (c, p.to_string())
        }
        None => (rest, String::new()),
    };
    let parts: Vec<&str> = core.split('.').collect();
    if parts.is_empty() || parts.len() > 3 {
        return Err(err("a version has one to three numeric components"));
    }
    let mut nums = [0u64; 3];
    for (i, p) in parts.iter().enumerate() {
        if p.is_empty() || !p.chars().all(|c| c.is_ascii_digit()) {
            return Err(err("a version component must be a number"));
        }
        nums[i] = p
            .parse()
            .map_err(|_| err("a version component is too large"))?;
    }
    Ok((
        Version {
            major: nums[0],
            minor: nums[1],
            patch: nums[2],
            pre,
            build,
        },
        parts.len(),
    ))
}

/// A constraint operator.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Op {
    Eq,
    Ne,
    Gt,
    Ge,
    Lt,
    Le,
    /// `~>`: at least the version, below the next increment of its second-to-last component.
    Pessimistic,
}

impl Op {
    /// The order Terraform writes terms of the same version in.
    fn rank(self) -> u8 {
        match self {
            Op::Gt => 0,
            Op::Ge => 1,
            Op::Eq => 2,
            Op::Pessimistic => 3,
            Op::Le => 4,
            Op::Lt => 5,
            Op::Ne => 6,
        }
    }

    fn prefix(self) -> &'static str {
        match self {
            Op::Eq => "",
            Op::Ne => "!= ",
            Op::Gt => "> ",
            Op::Ge => ">= ",
            Op::Lt => "< ",
            Op::Le => "<= ",
            Op::Pessimistic => "~> ",
        }
    }
}

/// One comma-separated term of a constraint.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Term {
    pub op: Op,
    pub version: Version,
    /// How many numeric components were written (1 to 3): decides what `~>` lets grow.
    pub precision: usize,
}

impl Term {
    fn matches(&self, v: &Version) -> bool {
        let c = &self.version;
        match self.op {
            Op::Eq => v.core() == c.core() && v.pre == c.pre,
            Op::Ne => !(v.core() == c.core() && v.pre == c.pre),
            Op::Gt => v > c,
            Op::Ge => cmp_no_build(v, c) != Ordering::Less,
            Op::Lt => cmp_no_build(v, c) == Ordering::Less,
            Op::Le => cmp_no_build(v, c) != Ordering::Greater,
            Op::Pessimistic => {
                let upper = if self.precision >= 3 {
                    (c.major, c.minor.saturating_add(1), 0)
                } else {
                    (c.major.saturating_add(1), 0, 0)
                };
                cmp_no_build(v, c) != Ordering::Less && v.core() < upper
            }
        }
    }
}

fn cmp_no_build(a: &Version, b: &Version) -> Ordering {
    a.core()
        .cmp(&b.core())
        .then_with(|| cmp_pre(&a.pre, &b.pre))
}

impl fmt::Display for Term {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.op.prefix())?;
        let v = &self.version;
        if self.op == Op::Pessimistic && self.precision < 3 {
            write!(f, "{}.{}", v.major, v.minor)?;
            if !v.pre.is_empty() {
                write!(f, "-{}", v.pre)?;
            }
            if !v.build.is_empty() {
                write!(f, "+{}", v.build)?;
            }
            Ok(())
        } else {
            write!(f, "{v}")
        }
    }
}

/// A set of terms that must all hold (the constraints of one provider, possibly merged from
/// several modules).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Constraints {
    pub terms: Vec<Term>,
}

impl Constraints {
    /// Parses `>= 1.0, < 2.0`-style text. An empty string or an empty term is an error, as in
    /// Terraform.
    pub fn parse(text: &str) -> Result<Constraints, ConstraintError> {
        let err = |reason: &str| ConstraintError {
            text: text.to_string(),
            reason: reason.to_string(),
        };
        let mut terms = Vec::new();
        for raw in text.split(',') {
            let t = raw.trim();
            if t.is_empty() {
                return Err(err("empty constraint term"));
            }
            let (op, rest) = [
                ("~>", Op::Pessimistic),
                (">=", Op::Ge),
                ("<=", Op::Le),
                ("!=", Op::Ne),
                (">", Op::Gt),
                ("<", Op::Lt),
                ("=", Op::Eq),
            ]
            .iter()
            .find_map(|(p, op)| t.strip_prefix(p).map(|r| (*op, r.trim_start())))
            .unwrap_or((Op::Eq, t));
            let (version, precision) = parse_version(rest).map_err(|e| err(&e.reason))?;
            terms.push(Term {
                op,
                version,
                precision,
            });
        }
        Ok(Constraints { terms })
    }

    /// Whether `v` satisfies every term. A prerelease only matches when an exact term names it.
    pub fn matches(&self, v: &Version) -> bool {
        if v.is_prerelease()
            && !self
                .terms
                .iter()
                .any(|t| t.op == Op::Eq && t.version.core() == v.core() && t.version.pre == v.pre)
        {
            return false;
        }
        self.terms.iter().all(|t| t.matches(v))
    }

    /// The terms of both.
    pub fn merge(&mut self, other: &Constraints) {
        self.terms.extend(other.terms.iter().cloned());
    }
}

impl fmt::Display for Constraints {
    /// Terraform's canonical form: terms sorted by version then operator, duplicates dropped,
    /// joined with `, ` (what the lock file's `constraints` holds).
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut terms: Vec<&Term> = self.terms.iter().collect();
        terms.sort_by(|a, b| {
            cmp_no_build(&a.version, &b.version).then_with(|| a.op.rank().cmp(&b.op.rank()))
        });
        let mut seen: Vec<String> = Vec::new();
        for t in terms {
            let s = t.to_string();
            if !seen.contains(&s) {
                seen.push(s);
            }
        }
        f.write_str(&seen.join(", "))
    }
}

/// Whether `v` is acceptable under optional constraints: with none, any release (not a
/// prerelease) is.
pub fn allowed(constraints: Option<&Constraints>, v: &Version) -> bool {
    match constraints {
        Some(c) => c.matches(v),
        None => !v.is_prerelease(),
    }
}
