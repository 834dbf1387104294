//! `baton fmt`: rewrite `.tf` and `.tfvars` files in the canonical layout.

use super::Env;
use crate::cli::FmtArgs;
use std::process::ExitCode;

pub fn run(_env: &Env, _a: &FmtArgs) -> anyhow::Result<ExitCode> {
    anyhow::bail!("baton fmt is not available in this build")
}
