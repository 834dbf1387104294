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

/// Where the plan sits in the input document, as the platform a policy was written for puts
/// it. A policy reading `input.tfplan.resource_changes` finds nothing in the bare plan, and a
/// `deny` that finds nothing allows: the shape must match the policies.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum InputShape {
    /// The plan JSON itself (`input.resource_changes`), as conftest and `opa eval --input
    /// plan.json` give it. The default.
    #[default]
    Plan,
    /// Spacelift's plan policies: the plan under `input.terraform`.
    Spacelift,
    /// HCP Terraform / Terraform Enterprise and env0: the plan under `input.plan`.
    HcpTerraform,
    /// Scalr: the plan under `input.tfplan` (and run details under `input.tfrun`).
    Scalr,
}

impl InputShape {
    /// Every shape, for messages and tests.
    pub const ALL: [InputShape; 4] = [
        InputShape::Plan,
        InputShape::Spacelift,
        InputShape::HcpTerraform,
        InputShape::Scalr,
    ];

    /// The spelling used in configuration: `plan`, `spacelift`, `hcp-terraform`, `scalr`.
    pub fn as_str(self) -> &'static str {
        match self {
            InputShape::Plan => "plan",
            InputShape::Spacelift => "spacelift",
            InputShape::HcpTerraform => "hcp-terraform",
            InputShape::Scalr => "scalr",
        }
    }

    /// The key of `input` that holds the plan, or `None` when the plan is `input` itself.
    pub fn plan_key(self) -> Option<&'static str> {
        match self {
            InputShape::Plan => None,
            InputShape::Spacelift => Some("terraform"),
            InputShape::HcpTerraform => Some("plan"),
            InputShape::Scalr => Some("tfplan"),
        }
    }
}

impl fmt::Display for InputShape {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// An input shape that is not one of the known spellings.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("invalid input shape {given:?}: expected \"plan\" (the bare plan, as conftest), \"spacelift\" (input.terraform), \"hcp-terraform\", \"terraform-enterprise\" or \"env0\" (input.plan), or \"scalr\" (input.tfplan)")]
pub struct ParseInputShapeError {
    /// What was given.
    pub given: String,
}

impl FromStr for InputShape {
    type Err = ParseInputShapeError;

    fn from_str(s: &str) -> Result<InputShape, ParseInputShapeError> {
        match s {
            "plan" => Ok(InputShape::Plan),
            "spacelift" => Ok(InputShape::Spacelift),
            "hcp-terraform" | "terraform-enterprise" | "env0" => Ok(InputShape::HcpTerraform),
            "scalr" => Ok(InputShape::Scalr),
            other => Err(ParseInputShapeError {
                given: other.to_string(),
            }),
        }
    }
}

/// Which packages' `deny`/`warn`/`violation` rules the gate evaluates.
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash)]
pub enum Namespaces {
    /// Every package (conftest's `--all-namespaces`). The default.
    #[default]
    All,
    /// Only these packages, e.g. `["main"]` (conftest's default) or `["terraform.aws"]`
    /// (conftest's `--namespace`). Never empty.
    Only(Vec<String>),
}

impl Namespaces {
    /// Whether the rules of `package` (e.g. `terraform.aws`) are evaluated.
    pub fn includes(&self, package: &str) -> bool {
        match self {
            Namespaces::All => true,
            Namespaces::Only(names) => names.iter().any(|n| n == package),
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
    /// Where the plan sits in `input`.
    pub input_shape: InputShape,
    /// Which packages are gate rules.
    pub namespaces: Namespaces,
}

impl PolicySet {
    /// A hard-mandatory set of `dirs` with every default: sensitive values redacted, the bare
    /// plan as input, every package evaluated.
    pub fn new(name: impl Into<String>, dirs: Vec<PathBuf>) -> PolicySet {
        PolicySet {
            name: name.into(),
            dirs,
            enforcement: Enforcement::HardMandatory,
            include_sensitive: false,
            input_shape: InputShape::Plan,
            namespaces: Namespaces::All,
        }
    }
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

    #[test]
    fn input_shapes_round_trip_and_accept_platform_names() {
        for s in InputShape::ALL {
            assert_eq!(s.as_str().parse::<InputShape>(), Ok(s));
        }
        for name in ["terraform-enterprise", "env0"] {
            assert_eq!(name.parse::<InputShape>(), Ok(InputShape::HcpTerraform));
        }
        let err = "tfplan".parse::<InputShape>().expect_err("not a shape");
        assert!(err
            .to_string()
            .starts_with("invalid input shape \"tfplan\""));
    }
}
