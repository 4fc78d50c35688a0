//! One module per command; each returns the verdict that decides the exit code.

mod attest;
mod config;
mod keys;
mod release;
mod sbom;
mod sign;
mod verify;

use crate::cli::Command;
use tollgate_core::Verdict;

/// Runs a parsed command.
pub fn run(command: Command) -> anyhow::Result<Verdict> {
    match command {
        Command::Release(args) => release::run(&args),
        Command::Config(cmd) => config::run(cmd),
        Command::Sbom(args) => sbom::run(args),
        Command::Keys(cmd) => keys::run(cmd),
        Command::Attest(cmd) => attest::run(cmd),
        Command::Sign(args) => sign::run(&args),
        Command::Verify(args) => verify::run(&args),
    }
}
