//! Finding lockfiles in a tree the way git sees it.

use super::{Detected, LockfileKind};
use crate::SbomError;
use crate::error::Place;
use globset::{Glob, GlobSet, GlobSetBuilder};
use std::path::{Path, PathBuf};

/// One lockfile a walk found: a supported kind or a known lockfile Tollgate does not read,
/// and the first `exclude` pattern that matched it, if any.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FoundLockfile {
    /// The path under the scanned root (as joined to the root given).
    pub path: PathBuf,
    /// The path relative to the root, `/`-separated.
    pub relative: String,
    /// What kind of lockfile its name says it is.
    pub detected: Detected,
    /// The exclude pattern that matched it: it is not catalogued.
    pub excluded_by: Option<String>,
}

/// Every supported lockfile under `root`, honouring `.gitignore` and skipping `exclude` globs
/// (matched against the `/`-separated path relative to `root`). Sorted by path.
///
/// `go.mod` and `Cargo.lock` stand for their whole module / workspace, so nested `go.mod` or
/// `Cargo.toml`-only members are found through them, not separately.
pub fn find_lockfiles(
    root: &Path,
    exclude: &[String],
) -> Result<Vec<(LockfileKind, PathBuf)>, SbomError> {
    Ok(find_all(root, exclude)?
        .into_iter()
        .filter(|f| f.excluded_by.is_none())
        .filter_map(|f| match f.detected {
            Detected::Supported(kind) => Some((kind, f.path)),
            Detected::Unsupported(_) => None,
        })
        .collect())
}

/// Every lockfile under `root` that `.gitignore` does not hide — supported or merely known,
/// excluded or not — sorted by path; each says which `exclude` pattern (the first in
/// configuration order) matched it.
pub fn find_all(root: &Path, exclude: &[String]) -> Result<Vec<FoundLockfile>, SbomError> {
    let excluded = build_globs(exclude)?;
    let mut found = Vec::new();
    let walker = ignore::WalkBuilder::new(root)
        .hidden(true)
        .git_ignore(true)
        .git_global(false)
        .git_exclude(true)
        .require_git(false)
        .sort_by_file_name(|a, b| a.cmp(b))
        .build();
    for entry in walker {
        let entry = entry.map_err(|e| {
            SbomError::malformed(Place::file(root), format!("walking the tree: {e}"))
        })?;
        if !entry.file_type().is_some_and(|t| t.is_file()) {
            continue;
        }
        let Some(detected) = entry.file_name().to_str().and_then(Detected::from_file_name) else {
            continue;
        };
        let relative = super::source::relative_name(root, entry.path());
        let excluded_by = excluded.matches(&relative).into_iter().min().map(|i| exclude[i].clone());
        if let Some(pattern) = &excluded_by {
            tracing::debug!(path = %relative, %pattern, "excluded by configuration");
        }
        found.push(FoundLockfile { path: entry.into_path(), relative, detected, excluded_by });
    }
    found.sort_by(|a, b| a.path.cmp(&b.path));
    Ok(found)
}

fn build_globs(patterns: &[String]) -> Result<GlobSet, SbomError> {
    let mut builder = GlobSetBuilder::new();
    for pattern in patterns {
        let glob = Glob::new(pattern).map_err(|e| {
            SbomError::malformed(Place::file("tollgate.toml"), format!("[sbom] exclude: {e}"))
        })?;
        builder.add(glob);
    }
    builder.build().map_err(|e| {
        SbomError::malformed(Place::file("tollgate.toml"), format!("[sbom] exclude: {e}"))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tree(files: &[&str]) -> tempfile::TempDir {
        let dir = tempfile::tempdir().unwrap();
        for p in files {
            let path = dir.path().join(p);
            std::fs::create_dir_all(path.parent().unwrap()).unwrap();
            std::fs::write(path, "").unwrap();
        }
        dir
    }

    #[test]
    fn honours_gitignore_and_excludes() {
        let dir = tree(&[
            "a/package-lock.json",
            "ignored/yarn.lock",
            "tests/fixtures/x/uv.lock",
            "go.mod",
            "b/requirements-dev.txt",
        ]);
        let root = dir.path();
        std::fs::write(root.join(".gitignore"), "ignored/\n").unwrap();
        let found = find_lockfiles(root, &["**/tests/fixtures/**".into()]).unwrap();
        let names: Vec<_> =
            found.iter().map(|(_, p)| super::super::source::relative_name(root, p)).collect();
        assert_eq!(names, ["a/package-lock.json", "b/requirements-dev.txt", "go.mod"]);
    }

    #[test]
    fn finds_excluded_and_unsupported_lockfiles_with_the_first_matching_pattern() {
        let dir = tree(&["Podfile.lock", "fuzz/Cargo.lock", "web/yarn.lock", "x.txt"]);
        let exclude = vec!["**/nothing/**".to_owned(), "fuzz/**".into(), "**/fuzz/**".into()];
        let found = find_all(dir.path(), &exclude).unwrap();
        let summary: Vec<_> = found
            .iter()
            .map(|f| (f.relative.as_str(), f.detected, f.excluded_by.as_deref()))
            .collect();
        assert_eq!(
            summary,
            [
                ("Podfile.lock", Detected::Unsupported("CocoaPods Podfile.lock"), None),
                ("fuzz/Cargo.lock", Detected::Supported(LockfileKind::CargoLock), Some("fuzz/**")),
                ("web/yarn.lock", Detected::Supported(LockfileKind::YarnLock), None),
            ]
        );
    }
}
