//! Writes the SBOM benchmark inputs to disk, for side-by-side runs with other tools
//! (`benches/compare.sh`): the same generators `benches/catalog.rs` uses.
//!
//! ```text
//! cargo run --release -p tollgate-sbom --example gen_bench_trees -- \
//!     [--cargo DIR] [--npm DIR] [--cargo-packages N] [--cargo-members N] [--npm-packages N]
//! ```
//!
//! `--cargo DIR` writes a Cargo workspace and runs `cargo generate-lockfile --offline` in it;
//! `--npm DIR` writes `package.json` and `package-lock.json`. Each DIR must be empty or absent.

#![allow(clippy::print_stdout, clippy::print_stderr)]

#[path = "../benches/support/mod.rs"]
mod support;

use std::path::{Path, PathBuf};
use std::process::ExitCode;

fn main() -> ExitCode {
    match run() {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            eprintln!("gen_bench_trees: {message}");
            ExitCode::from(2)
        }
    }
}

fn run() -> Result<(), String> {
    let mut cargo_dir: Option<PathBuf> = None;
    let mut npm_dir: Option<PathBuf> = None;
    let mut cargo = support::CargoSpec::default();
    let mut npm = support::NpmSpec::default();
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        let mut value = || args.next().ok_or_else(|| format!("{arg} needs a value"));
        let number = |v: String| v.parse::<usize>().map_err(|e| format!("{v}: {e}"));
        match arg.as_str() {
            "--cargo" => cargo_dir = Some(value()?.into()),
            "--npm" => npm_dir = Some(value()?.into()),
            "--cargo-packages" => {
                let total = number(value()?)?;
                cargo.path_packages = total
                    .checked_sub(cargo.members)
                    .ok_or("--cargo-packages must exceed --cargo-members")?;
            }
            "--cargo-members" => {
                let total = cargo.members + cargo.path_packages;
                cargo.members = number(value()?)?;
                cargo.path_packages = total
                    .checked_sub(cargo.members)
                    .ok_or("--cargo-members must be below --cargo-packages")?;
            }
            "--npm-packages" => npm.packages = number(value()?)?,
            "-h" | "--help" => {
                println!(
                    "usage: gen_bench_trees [--cargo DIR] [--npm DIR] [--cargo-packages N] \
                     [--cargo-members N] [--npm-packages N]"
                );
                return Ok(());
            }
            other => return Err(format!("unknown argument {other:?} (try --help)")),
        }
    }
    if cargo_dir.is_none() && npm_dir.is_none() {
        return Err("nothing to do: give --cargo DIR and/or --npm DIR".into());
    }
    if let Some(dir) = cargo_dir {
        prepare(&dir)?;
        let stats = support::write_cargo_workspace(&dir, &cargo).map_err(|e| e.to_string())?;
        support::generate_lockfile(&dir).map_err(|e| e.to_string())?;
        println!(
            "cargo: {} packages ({} members), {} normal / {} build / {} dev dependencies -> {}",
            stats.packages,
            stats.members,
            stats.edges[0],
            stats.edges[1],
            stats.edges[2],
            dir.display()
        );
    }
    if let Some(dir) = npm_dir {
        prepare(&dir)?;
        let stats = support::write_npm_project(&dir, &npm).map_err(|e| e.to_string())?;
        if stats.unreachable > 0 {
            return Err(format!(
                "{} npm packages are unreachable (generator bug)",
                stats.unreachable
            ));
        }
        println!(
            "npm: {} packages ({} nested, {} scoped), {} edges, {} dev / {} optional / {} devOptional -> {}",
            stats.packages,
            stats.nested,
            stats.scoped,
            stats.edges,
            stats.flagged[0],
            stats.flagged[1],
            stats.flagged[2],
            dir.display()
        );
    }
    Ok(())
}

fn prepare(dir: &Path) -> Result<(), String> {
    std::fs::create_dir_all(dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    let mut entries = std::fs::read_dir(dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    if entries.next().is_some() {
        return Err(format!("{}: not empty", dir.display()));
    }
    Ok(())
}
