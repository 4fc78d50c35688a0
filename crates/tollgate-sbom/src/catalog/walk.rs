//! Finding lockfiles in a tree the way git sees it.

use super::LockfileKind;
use crate::SbomError;
use crate::error::Place;
use globset::{Glob, GlobSet, GlobSetBuilder};
use std::path::{Path, PathBuf};

/// Every supported lockfile under `root`, honouring `.gitignore` and skipping `exclude` globs
/// (matched against the `/`-separated path relative to `root`). Sorted by path.
///
/// `go.mod` and `Cargo.lock` stand for their whole module / workspace, so nested `go.mod` or
/// `Cargo.toml`-only members are found through them, not separately.
pub fn find_lockfiles(
    root: &Path,
    exclude: &[String],
) -> Result<Vec<(LockfileKind, PathBuf)>, SbomError> {
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
        let Some(kind) = entry.file_name().to_str().and_then(LockfileKind::detect) else {
            continue;
        };
        let relative = super::source::relative_name(root, entry.path());
        if excluded.is_match(&relative) {
            tracing::debug!(path = %relative, "excluded by configuration");
            continue;
        }
        found.push((kind, entry.into_path()));
    }
    found.sort_by(|a, b| a.1.cmp(&b.1));
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

    #[test]
    fn honours_gitignore_and_excludes() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        for p in [
            "a/package-lock.json",
            "ignored/yarn.lock",
            "tests/fixtures/x/uv.lock",
            "go.mod",
            "b/requirements-dev.txt",
        ] {
            let path = root.join(p);
            std::fs::create_dir_all(path.parent().unwrap()).unwrap();
            std::fs::write(path, "").unwrap();
        }
        std::fs::write(root.join(".gitignore"), "ignored/\n").unwrap();
        let found = find_lockfiles(root, &["**/tests/fixtures/**".into()]).unwrap();
        let names: Vec<_> =
            found.iter().map(|(_, p)| super::super::source::relative_name(root, p)).collect();
        assert_eq!(names, ["a/package-lock.json", "b/requirements-dev.txt", "go.mod"]);
    }
}
