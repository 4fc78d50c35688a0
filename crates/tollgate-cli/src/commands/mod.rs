//! One module per command; each returns the verdict that decides the exit code.

mod config;
mod release;
mod sbom;

use crate::cli::Command;
use tollgate_core::Verdict;

/// Runs a parsed command.
pub fn run(command: Command) -> anyhow::Result<Verdict> {
    match command {
        Command::Release(args) => release::run(&args),
        Command::Config(cmd) => config::run(cmd),
        Command::Sbom(args) => sbom::run(args),
    }
}
