//! The `baton` binary: parses the command line, wires the engine, state store and providers
//! together, and renders results. It holds no orchestration logic of its own.

#[macro_use]
mod out;

mod alloc;
mod cli;
mod cmd;
mod diff;
mod fetch;
mod inline;
mod render;
mod telemetry;
mod ui;

use clap::Parser;
use std::process::ExitCode;

fn main() -> ExitCode {
    alloc::one_arena();
    let cli = cli::Cli::parse_from(cli::terraform_style_args(std::env::args_os().collect()));
    // Configurations find their provider plugins as Terraform would (see baton_plugin::resolve).
    let resolver = baton_plugin::Resolver::new();
    baton_engine::providers::set_resolver(Box::new(move |config, dir, builtin| {
        resolver.resolve(config, dir, builtin)
    }));
    match cmd::run(cli) {
        Ok(code) => code,
        // Diagnostics already said what went wrong.
        Err(e) if e.downcast_ref::<cmd::Reported>().is_some() => ExitCode::from(1),
        Err(e) => {
            eprintln!("Error: {e:#}");
            ExitCode::from(1)
        }
    }
}
