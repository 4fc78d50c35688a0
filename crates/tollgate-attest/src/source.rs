//! The source a build came from, read with git2: HEAD's commit, the branch or tag checked
//! out, the `origin` URL (credentials removed) and whether the working tree differs from the
//! commit.

use std::path::Path;

use crate::AttestError;

/// What the source repository says about the checkout being built.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SourceInfo {
    /// The `origin` remote's URL, with any user name or password removed; `None` without an
    /// `origin` remote.
    pub repository: Option<String>,
    /// HEAD's commit id, lowercase hex.
    pub commit: String,
    /// `refs/heads/<branch>` when a branch is checked out; with a detached HEAD,
    /// `refs/tags/<tag>` for a tag pointing at HEAD (the alphabetically last, if several);
    /// otherwise `None`.
    pub reference: Option<String>,
    /// Whether tracked files are modified (in the index or the working tree) or untracked,
    /// non-ignored files exist: the build may not be reproducible from the commit alone.
    pub dirty: bool,
}

fn git_error(path: &Path, e: &git2::Error) -> AttestError {
    AttestError::Git { path: path.to_path_buf(), message: e.message().to_owned() }
}

/// Reads [`SourceInfo`] for the repository containing `repo_dir` (searching upwards like
/// git does).
pub fn read_source(repo_dir: &Path) -> Result<SourceInfo, AttestError> {
    let repo = git2::Repository::discover(repo_dir).map_err(|e| git_error(repo_dir, &e))?;
    let head = repo.head().map_err(|e| {
        if e.code() == git2::ErrorCode::UnbornBranch {
            AttestError::Git {
                path: repo_dir.to_path_buf(),
                message: "HEAD has no commit yet; commit before attesting".to_owned(),
            }
        } else {
            git_error(repo_dir, &e)
        }
    })?;
    let commit = head.peel_to_commit().map_err(|e| git_error(repo_dir, &e))?;
    let commit_id = commit.id();

    let reference = if head.is_branch() {
        head.name().map(str::to_owned)
    } else {
        tag_at(&repo, commit_id).map_err(|e| git_error(repo_dir, &e))?
    };

    let repository = match repo.find_remote("origin") {
        Ok(remote) => remote.url().map(strip_credentials),
        Err(e) if e.code() == git2::ErrorCode::NotFound => None,
        Err(e) => return Err(git_error(repo_dir, &e)),
    };

    let dirty = if repo.is_bare() {
        false
    } else {
        let mut options = git2::StatusOptions::new();
        options.include_untracked(true).include_ignored(false).exclude_submodules(true);
        let statuses = repo.statuses(Some(&mut options)).map_err(|e| git_error(repo_dir, &e))?;
        statuses.iter().any(|s| s.status() != git2::Status::CURRENT)
    };

    Ok(SourceInfo { repository, commit: commit_id.to_string(), reference, dirty })
}

/// The last (by name) tag whose target, peeled, is `commit`.
fn tag_at(repo: &git2::Repository, commit: git2::Oid) -> Result<Option<String>, git2::Error> {
    let mut found: Option<String> = None;
    for name in repo.tag_names(None)?.iter().flatten() {
        let full = format!("refs/tags/{name}");
        let Ok(reference) = repo.find_reference(&full) else { continue };
        let Ok(target) = reference.peel_to_commit() else { continue };
        if target.id() == commit && found.as_ref().is_none_or(|f| *f < full) {
            found = Some(full);
        }
    }
    Ok(found)
}

/// Removes `user:password@` from a URL's authority (CI checkouts put tokens there), leaving
/// scp-like `git@host:path` forms alone: those name an SSH user, not a secret.
pub fn strip_credentials(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else {
        return url.to_owned();
    };
    let (authority, path) = match rest.split_once('/') {
        Some((authority, path)) => (authority, Some(path)),
        None => (rest, None),
    };
    let host = authority.rsplit_once('@').map_or(authority, |(_, host)| host);
    match path {
        Some(path) => format!("{scheme}://{host}/{path}"),
        None => format!("{scheme}://{host}"),
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// A repository with one commit on `main`, an `origin` with a token in its URL, and the
    /// tag `v1.0.0` on that commit.
    pub(crate) fn repo_with_commit(dir: &Path) -> (git2::Repository, git2::Oid) {
        let repo = git2::Repository::init_opts(
            dir,
            git2::RepositoryInitOptions::new().initial_head("main"),
        )
        .unwrap();
        std::fs::write(dir.join("Cargo.lock"), "# lock\n").unwrap();
        std::fs::write(dir.join(".gitignore"), "/target\n").unwrap();
        let mut index = repo.index().unwrap();
        index.add_path(Path::new("Cargo.lock")).unwrap();
        index.add_path(Path::new(".gitignore")).unwrap();
        index.write().unwrap();
        let tree = repo.find_tree(index.write_tree().unwrap()).unwrap();
        let sig =
            git2::Signature::new("Dev", "dev@example.com", &git2::Time::new(1_700_000_000, 0))
                .unwrap();
        let oid = repo.commit(Some("HEAD"), &sig, &sig, "first", &tree, &[]).unwrap();
        drop(tree);
        repo.remote("origin", "https://gitlab-ci-token:s3cr3t@gitlab.example.com/group/app.git")
            .unwrap();
        let object = repo.find_object(oid, None).unwrap();
        repo.tag("v1.0.0", &object, &sig, "release 1.0.0", false).unwrap();
        drop(object);
        (repo, oid)
    }

    #[test]
    fn clean_branch_checkout() {
        let dir = tempfile::tempdir().unwrap();
        let (_repo, oid) = repo_with_commit(dir.path());
        let info = read_source(dir.path()).unwrap();
        assert_eq!(info.commit, oid.to_string());
        assert_eq!(info.reference.as_deref(), Some("refs/heads/main"));
        assert_eq!(info.repository.as_deref(), Some("https://gitlab.example.com/group/app.git"));
        assert!(!info.dirty);
        // Found from a subdirectory too; ignored files do not make it dirty.
        std::fs::create_dir_all(dir.path().join("target/debug")).unwrap();
        std::fs::write(dir.path().join("target/debug/app"), "bin").unwrap();
        assert_eq!(read_source(&dir.path().join("target/debug")).unwrap(), info);
    }

    #[test]
    fn detached_head_at_a_tag_reports_the_tag() {
        let dir = tempfile::tempdir().unwrap();
        let (repo, oid) = repo_with_commit(dir.path());
        repo.set_head_detached(oid).unwrap();
        let info = read_source(dir.path()).unwrap();
        assert_eq!(info.reference.as_deref(), Some("refs/tags/v1.0.0"));
    }

    #[test]
    fn modified_and_untracked_files_make_it_dirty() {
        let dir = tempfile::tempdir().unwrap();
        let (_repo, _) = repo_with_commit(dir.path());
        std::fs::write(dir.path().join("Cargo.lock"), "# changed\n").unwrap();
        assert!(read_source(dir.path()).unwrap().dirty);
        let dir = tempfile::tempdir().unwrap();
        let (_repo, _) = repo_with_commit(dir.path());
        std::fs::write(dir.path().join("new.rs"), "fn main() {}").unwrap();
        assert!(read_source(dir.path()).unwrap().dirty);
    }

    #[test]
    fn no_repository_or_no_commit_is_a_clear_error() {
        let dir = tempfile::tempdir().unwrap();
        let err = read_source(dir.path()).unwrap_err();
        assert!(matches!(err, AttestError::Git { .. }), "{err}");
        git2::Repository::init(dir.path()).unwrap();
        let err = read_source(dir.path()).unwrap_err();
        assert!(
            err.to_string().ends_with("git: HEAD has no commit yet; commit before attesting"),
            "{err}"
        );
    }

    #[test]
    fn credentials_are_stripped_from_urls() {
        assert_eq!(
            strip_credentials("https://x-access-token:ghs_abc@github.com/a/b.git"),
            "https://github.com/a/b.git"
        );
        assert_eq!(strip_credentials("https://github.com/a/b"), "https://github.com/a/b");
        assert_eq!(strip_credentials("ssh://git@host:22/a/b"), "ssh://host:22/a/b");
        assert_eq!(strip_credentials("git@github.com:a/b.git"), "git@github.com:a/b.git");
        assert_eq!(strip_credentials("https://user@host"), "https://host");
    }
}
