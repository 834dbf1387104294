//! The planner's inputs: [`PlanOpts`] (mode, refresh, targets, `--replace`, variables,
//! parallelism, validate-only) and [`ObjKey`], the key of one object in state.
//!
//! Plain data: nothing here evaluates, reads state or calls a provider.

use crate::model::PlanMode;
use crate::vars::CliVar;
use baton_core::{InstanceAddr, Target};

#[derive(Clone, Debug)]
pub struct PlanOpts {
    pub mode: PlanMode,
    pub refresh: bool,
    pub targets: Vec<Target>,
    /// `--replace ADDR`: plan these instances as replaced.
    pub replace: Vec<InstanceAddr>,
    pub vars: Vec<CliVar>,
    /// The process environment (for `TF_VAR_*`).
    pub env: Vec<(String, String)>,
    pub parallelism: usize,
    /// `validate`: unknown input variables, no state, no provider reads.
    pub validate_only: bool,
    /// `baton import ADDR ID`: objects to import as an `import` block would, each into a
    /// configured instance not yet in state.
    pub imports: Vec<(InstanceAddr, String)>,
}

impl Default for PlanOpts {
    fn default() -> Self {
        PlanOpts {
            mode: PlanMode::Normal,
            refresh: true,
            targets: Vec::new(),
            replace: Vec::new(),
            vars: Vec::new(),
            env: Vec::new(),
            parallelism: 10,
            validate_only: false,
            imports: Vec::new(),
        }
    }
}

/// Key of one object: an instance address and, for deposed objects, the deposed key.
pub type ObjKey = (InstanceAddr, Option<String>);
