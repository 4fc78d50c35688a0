//! Cataloguers: lockfiles in, [`Inventory`] out.
//!
//! One module per ecosystem, each exposing `catalog(root, lockfile) -> Result<Inventory, _>`.
//! [`catalog_tree`] walks a tree the way git sees it (honouring `.gitignore`) and runs the
//! right cataloguer for every lockfile it finds; [`catalog_paths`] takes explicit files.

pub mod cargo;
pub mod dart;
pub mod drift;
pub mod go;
pub mod npm;
pub mod php;
pub mod python;
pub mod ruby;
mod source;
mod walk;
mod yaml;

pub use source::{SourceFile, integrity_to_hash, purl, relative_name};
pub use walk::{FoundLockfile, find_all};

use crate::{Inventory, SbomError};
use std::path::{Path, PathBuf};

/// The lockfile formats Tollgate reads, recognised by file name.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum LockfileKind {
    /// `Cargo.lock` (with the workspace's `Cargo.toml` beside it).
    CargoLock,
    /// `package-lock.json` or `npm-shrinkwrap.json`, lockfileVersion 1, 2 or 3.
    PackageLock,
    /// `pnpm-lock.yaml`.
    PnpmLock,
    /// `yarn.lock`, classic (v1) or berry.
    YarnLock,
    /// `uv.lock`.
    UvLock,
    /// `poetry.lock`.
    PoetryLock,
    /// `Pipfile.lock` (pipenv).
    PipfileLock,
    /// `requirements*.txt` (pinned, ideally with `--hash`).
    Requirements,
    /// `go.mod` (with `go.sum` beside it).
    GoMod,
    /// `pubspec.lock`.
    PubspecLock,
    /// `Gemfile.lock` (Bundler, with the `Gemfile` beside it).
    GemfileLock,
    /// `composer.lock` (Composer, with the `composer.json` beside it).
    ComposerLock,
}

impl LockfileKind {
    /// The kind of lockfile a file name denotes, if any.
    pub fn detect(file_name: &str) -> Option<LockfileKind> {
        Some(match file_name {
            "Cargo.lock" => LockfileKind::CargoLock,
            "package-lock.json" | "npm-shrinkwrap.json" => LockfileKind::PackageLock,
            "pnpm-lock.yaml" => LockfileKind::PnpmLock,
            "yarn.lock" => LockfileKind::YarnLock,
            "uv.lock" => LockfileKind::UvLock,
            "poetry.lock" => LockfileKind::PoetryLock,
            "Pipfile.lock" => LockfileKind::PipfileLock,
            "go.mod" => LockfileKind::GoMod,
            "pubspec.lock" => LockfileKind::PubspecLock,
            "Gemfile.lock" => LockfileKind::GemfileLock,
            "composer.lock" => LockfileKind::ComposerLock,
            name if name.starts_with("requirements") && name.ends_with(".txt") => {
                LockfileKind::Requirements
            }
            _ => return None,
        })
    }
}

/// What a file name says a file is: a lockfile Tollgate reads, or a lockfile of a format it
/// knows of but does not read (named by its tool and file, e.g. `Bundler Gemfile.lock`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Detected {
    /// A format with a cataloguer.
    Supported(LockfileKind),
    /// A lockfile format without one: a tree scan reports it, never reads it.
    Unsupported(&'static str),
}

impl Detected {
    /// What `file_name` denotes, if it is a lockfile at all.
    pub fn from_file_name(file_name: &str) -> Option<Detected> {
        if let Some(kind) = LockfileKind::detect(file_name) {
            return Some(Detected::Supported(kind));
        }
        let format = match file_name {
            "pdm.lock" => "PDM pdm.lock",
            "pylock.toml" => "PEP 751 pylock.toml",
            "Podfile.lock" => "CocoaPods Podfile.lock",
            "Package.resolved" => "SwiftPM Package.resolved",
            "bun.lock" | "bun.lockb" => "Bun bun.lock",
            "deno.lock" => "Deno deno.lock",
            "packages.lock.json" => "NuGet packages.lock.json",
            "gradle.lockfile" => "Gradle gradle.lockfile",
            "mix.lock" => "Mix mix.lock",
            name if name.starts_with("pylock.") && name.ends_with(".toml") => "PEP 751 pylock.toml",
            name if name.ends_with(".py.lock") => "uv script lockfile (*.py.lock)",
            _ => return None,
        };
        Some(Detected::Unsupported(format))
    }
}

/// Settings for a cataloguing run.
#[derive(Debug, Clone, Default)]
pub struct CatalogOptions {
    /// Globs, relative to the root, of lockfiles to skip (on top of `.gitignore`).
    pub exclude: Vec<String>,
    /// Cargo's home (registry sources for licence and author metadata); `$CARGO_HOME` or
    /// `~/.cargo` when `None`.
    pub cargo_home: Option<PathBuf>,
}

/// Catalogues every supported lockfile under `root`, merged into one inventory.
pub fn catalog_tree(root: &Path, options: &CatalogOptions) -> Result<Inventory, SbomError> {
    let lockfiles = walk::find_lockfiles(root, &options.exclude)?;
    if lockfiles.is_empty() {
        return Err(SbomError::NothingFound(root.to_path_buf()));
    }
    catalog_files(root, &lockfiles, options)
}

/// Catalogues the given lockfiles (each must have a recognised name), merged into one inventory.
pub fn catalog_paths(
    root: &Path,
    paths: &[PathBuf],
    options: &CatalogOptions,
) -> Result<Inventory, SbomError> {
    let mut lockfiles = Vec::new();
    for path in paths {
        let name = path.file_name().and_then(|n| n.to_str()).unwrap_or_default();
        // `go.sum` named on its own stands for the module: its `go.mod` beside it.
        if name == "go.sum" {
            lockfiles.push((LockfileKind::GoMod, path.with_file_name("go.mod")));
            continue;
        }
        let message = match Detected::from_file_name(name) {
            Some(Detected::Supported(kind)) => {
                lockfiles.push((kind, path.clone()));
                continue;
            }
            Some(Detected::Unsupported(format)) => {
                format!("{format} is not a format Tollgate reads")
            }
            None => "not a supported lockfile name".to_owned(),
        };
        return Err(SbomError::malformed(crate::error::Place::file(path), message));
    }
    lockfiles.dedup();
    catalog_files(root, &lockfiles, options)
}

fn catalog_files(
    root: &Path,
    lockfiles: &[(LockfileKind, PathBuf)],
    options: &CatalogOptions,
) -> Result<Inventory, SbomError> {
    let mut inventory = Inventory::default();
    for (kind, path) in lockfiles {
        inventory.extend(catalog_file(root, *kind, path, options)?);
    }
    inventory.normalize();
    Ok(inventory)
}

/// Catalogues one lockfile of `kind` (not normalised: merge the results, then normalise).
pub fn catalog_file(
    root: &Path,
    kind: LockfileKind,
    path: &Path,
    options: &CatalogOptions,
) -> Result<Inventory, SbomError> {
    tracing::debug!(path = %path.display(), ?kind, "cataloguing");
    match kind {
        LockfileKind::CargoLock => cargo::catalog(root, path, options.cargo_home.as_deref()),
        LockfileKind::PackageLock => npm::package_lock::catalog(root, path),
        LockfileKind::PnpmLock => npm::pnpm::catalog(root, path),
        LockfileKind::YarnLock => npm::yarn::catalog(root, path),
        LockfileKind::UvLock => python::uv::catalog(root, path),
        LockfileKind::PoetryLock => python::poetry::catalog(root, path),
        LockfileKind::PipfileLock => python::pipenv::catalog(root, path),
        LockfileKind::Requirements => python::requirements::catalog(root, path),
        LockfileKind::GoMod => go::catalog(root, path),
        LockfileKind::PubspecLock => dart::catalog(root, path),
        LockfileKind::GemfileLock => ruby::catalog(root, path),
        LockfileKind::ComposerLock => php::catalog(root, path),
    }
}
