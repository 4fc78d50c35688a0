//! Cataloguers: lockfiles in, [`Inventory`] out.
//!
//! One module per ecosystem, each exposing `catalog(root, lockfile) -> Result<Inventory, _>`.
//! [`catalog_tree`] walks a tree the way git sees it (honouring `.gitignore`) and runs the
//! right cataloguer for every lockfile it finds; [`catalog_paths`] takes explicit files.

pub mod cargo;
pub mod dart;
pub mod go;
pub mod npm;
pub mod python;
mod source;
mod walk;
mod yaml;

pub use source::{SourceFile, integrity_to_hash, purl};

use crate::{Inventory, SbomError};
use std::path::{Path, PathBuf};

/// The lockfile formats Tollgate reads, recognised by file name.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum LockfileKind {
    /// `Cargo.lock` (with the workspace's `Cargo.toml` beside it).
    CargoLock,
    /// `package-lock.json` or `npm-shrinkwrap.json`, lockfileVersion 2 or 3.
    PackageLock,
    /// `pnpm-lock.yaml`.
    PnpmLock,
    /// `yarn.lock`, classic (v1) or berry.
    YarnLock,
    /// `uv.lock`.
    UvLock,
    /// `poetry.lock`.
    PoetryLock,
    /// `requirements*.txt` (pinned, ideally with `--hash`).
    Requirements,
    /// `go.mod` (with `go.sum` beside it).
    GoMod,
    /// `pubspec.lock`.
    PubspecLock,
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
            "go.mod" => LockfileKind::GoMod,
            "pubspec.lock" => LockfileKind::PubspecLock,
            name if name.starts_with("requirements") && name.ends_with(".txt") => {
                LockfileKind::Requirements
            }
            _ => return None,
        })
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
        let kind = LockfileKind::detect(name).ok_or_else(|| {
            SbomError::malformed(crate::error::Place::file(path), "not a supported lockfile name")
        })?;
        lockfiles.push((kind, path.clone()));
    }
    catalog_files(root, &lockfiles, options)
}

fn catalog_files(
    root: &Path,
    lockfiles: &[(LockfileKind, PathBuf)],
    options: &CatalogOptions,
) -> Result<Inventory, SbomError> {
    let mut inventory = Inventory::default();
    for (kind, path) in lockfiles {
        tracing::debug!(path = %path.display(), ?kind, "cataloguing");
        let found = match kind {
            LockfileKind::CargoLock => cargo::catalog(root, path, options.cargo_home.as_deref())?,
            LockfileKind::PackageLock => npm::package_lock::catalog(root, path)?,
            LockfileKind::PnpmLock => npm::pnpm::catalog(root, path)?,
            LockfileKind::YarnLock => npm::yarn::catalog(root, path)?,
            LockfileKind::UvLock => python::uv::catalog(root, path)?,
            LockfileKind::PoetryLock => python::poetry::catalog(root, path)?,
            LockfileKind::Requirements => python::requirements::catalog(root, path)?,
            LockfileKind::GoMod => go::catalog(root, path)?,
            LockfileKind::PubspecLock => dart::catalog(root, path)?,
        };
        inventory.extend(found);
    }
    inventory.normalize();
    Ok(inventory)
}
