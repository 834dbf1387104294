//! Policy sets and enforcement levels: what the caller asks to be loaded and how strictly a
//! set's denials are enforced.
//!
//! Plain data: nothing here reads files or evaluates anything.

use std::fmt;
use std::path::PathBuf;
use std::str::FromStr;

/// How a policy set's `deny`/`violation` findings affect the run. `warn` findings are always
/// advisory, whatever the set's level.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Enforcement {
    /// Report and continue.
    Advisory,
    /// Stop, unless the user overrides.
    SoftMandatory,
    /// Stop; no override. The default: a policy that says `deny` means it.
    #[default]
    HardMandatory,
}

impl Enforcement {
    /// The spelling used in configuration and output: `advisory`, `soft-mandatory`,
    /// `hard-mandatory`.
    pub fn as_str(self) -> &'static str {
        match self {
            Enforcement::Advisory => "advisory",
            Enforcement::SoftMandatory => "soft-mandatory",
            Enforcement::HardMandatory => "hard-mandatory",
        }
    }
}

impl fmt::Display for Enforcement {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// An enforcement level that is not one of `advisory`, `soft-mandatory`, `hard-mandatory`.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("invalid enforcement level {given:?}: expected \"advisory\", \"soft-mandatory\" or \"hard-mandatory\"")]
pub struct ParseEnforcementError {
    /// What was given.
    pub given: String,
}

impl FromStr for Enforcement {
    type Err = ParseEnforcementError;

    fn from_str(s: &str) -> Result<Enforcement, ParseEnforcementError> {
        match s {
            "advisory" => Ok(Enforcement::Advisory),
            "soft-mandatory" => Ok(Enforcement::SoftMandatory),
            "hard-mandatory" => Ok(Enforcement::HardMandatory),
            other => Err(ParseEnforcementError {
                given: other.to_string(),
            }),
        }
    }
}

/// A named group of policy directories evaluated together (one Rego engine, one `data`
/// document) with one enforcement level.
///
/// Each entry of `dirs` is a directory searched recursively for `*.rego` policies and
/// `*.json`/`*.yaml`/`*.yml` data files (hidden entries skipped), or a single `.rego` file.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PolicySet {
    /// Shown in every finding, e.g. `default` for `policies/`, or the configured set's name.
    pub name: String,
    pub dirs: Vec<PathBuf>,
    pub enforcement: Enforcement,
    /// When false (the default), values the plan marks sensitive reach the policies as
    /// [`crate::REDACTED`].
    pub include_sensitive: bool,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn enforcement_round_trips_through_its_spelling() {
        for e in [
            Enforcement::Advisory,
            Enforcement::SoftMandatory,
            Enforcement::HardMandatory,
        ] {
            assert_eq!(e.as_str().parse::<Enforcement>(), Ok(e));
        }
        let err = "mandatory".parse::<Enforcement>().expect_err("not a level");
        assert_eq!(
            err.to_string(),
            "invalid enforcement level \"mandatory\": expected \"advisory\", \"soft-mandatory\" or \"hard-mandatory\""
        );
    }
}
