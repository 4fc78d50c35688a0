//! Baselines: the same spec at a git ref, read straight from git objects (no checkout, no
//! network), the last release tag, and the semver rule for breaking changes.

use std::path::{Component, Path, PathBuf};
use tollgate_core::{Finding, Severity};

/// Errors reading a baseline from git.
#[derive(Debug, thiserror::Error)]
pub enum BaselineError {
    /// The directory is not inside a git repository.
    #[error("{path}: not a git repository: {message}")]
    Repository {
        /// The directory.
        path: PathBuf,
        /// libgit2's message.
        message: String,
    },
    /// The ref does not name a commit.
    #[error("{reference}: no such git ref (or not a commit): {message}")]
    Reference {
        /// The ref.
        reference: String,
        /// libgit2's message.
        message: String,
    },
    /// The path is not in the tree at the ref.
    #[error("{path} does not exist at {reference}")]
    NotFound {
        /// Repository-relative path.
        path: String,
        /// The ref.
        reference: String,
    },
    /// The path names a directory or submodule, not a file.
    #[error("{path} at {reference} is not a file")]
    NotAFile {
        /// Repository-relative path.
        path: String,
        /// The ref.
        reference: String,
    },
    /// The path escapes the repository (`../..`) or is absolute outside it.
    #[error("{path}: outside the repository")]
    OutsideRepository {
        /// The path as given.
        path: String,
    },
    /// The blob is larger than [`crate::confine::MAX_SPEC_FILE_BYTES`].
    #[error(
        "{path} at {reference} is larger than the {} MiB limit for spec files",
        crate::confine::MAX_SPEC_FILE_BYTES / (1024 * 1024)
    )]
    TooLarge {
        /// Repository-relative path.
        path: String,
        /// The ref.
        reference: String,
    },
    /// The blob is not UTF-8.
    #[error("{path} at {reference} is not UTF-8 text")]
    NotText {
        /// Repository-relative path.
        path: String,
        /// The ref.
        reference: String,
    },
    /// Any other libgit2 failure.
    #[error("{0}")]
    Git(String),
}

fn git(e: &git2::Error) -> BaselineError {
    BaselineError::Git(e.message().to_owned())
}

/// The tree of one commit: files are read from its objects, and relative `$ref`s resolve in it.
pub struct GitTree {
    repo: git2::Repository,
    tree: git2::Oid,
    reference: String,
}

impl std::fmt::Debug for GitTree {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("GitTree")
            .field("tree", &self.tree)
            .field("reference", &self.reference)
            .finish()
    }
}

impl GitTree {
    /// Opens the repository containing `repo` (discovered upwards) at `reference` (a tag,
    /// branch, commit id or any revision expression `git rev-parse` accepts).
    pub fn open(repo: &Path, reference: &str) -> Result<GitTree, BaselineError> {
        let repository = git2::Repository::discover(repo).map_err(|e| {
            BaselineError::Repository { path: repo.to_path_buf(), message: e.message().to_owned() }
        })?;
        let tree = {
            let object =
                repository.revparse_single(reference).map_err(|e| BaselineError::Reference {
                    reference: reference.to_owned(),
                    message: e.message().to_owned(),
                })?;
            let commit = object.peel_to_commit().map_err(|e| BaselineError::Reference {
                reference: reference.to_owned(),
                message: e.message().to_owned(),
            })?;
            commit.tree().map_err(|e| git(&e))?.id()
        };
        Ok(GitTree { repo: repository, tree, reference: reference.to_owned() })
    }

    /// The ref this tree was opened at.
    pub fn reference(&self) -> &str {
        &self.reference
    }

    /// The repository's working directory (None for a bare repository).
    pub fn workdir(&self) -> Option<&Path> {
        self.repo.workdir()
    }

    /// Reads a repository-relative file (`.` and `..` components are normalised).
    pub fn read(&self, path_in_repo: &Path) -> Result<String, BaselineError> {
        let path = normalize(path_in_repo)?;
        let tree = self.repo.find_tree(self.tree).map_err(|e| git(&e))?;
        let entry = match tree.get_path(Path::new(&path)) {
            Ok(entry) => entry,
            Err(e) if e.code() == git2::ErrorCode::NotFound => {
                return Err(BaselineError::NotFound { path, reference: self.reference.clone() });
            }
            Err(e) => return Err(git(&e)),
        };
        // A symlink's blob is its target's name, not a spec.
        if entry.filemode() == 0o120000 {
            return Err(BaselineError::NotAFile { path, reference: self.reference.clone() });
        }
        let object = entry.to_object(&self.repo).map_err(|e| git(&e))?;
        let Some(blob) = object.as_blob() else {
            return Err(BaselineError::NotAFile { path, reference: self.reference.clone() });
        };
        if blob.size() as u64 > crate::confine::MAX_SPEC_FILE_BYTES {
            return Err(BaselineError::TooLarge { path, reference: self.reference.clone() });
        }
        String::from_utf8(blob.content().to_vec())
            .map_err(|_| BaselineError::NotText { path, reference: self.reference.clone() })
    }

    /// Resolves a relative reference (`schemas/user.yaml`, `../common.yaml`) made from the
    /// repository-relative file `from` and reads it: returns the normalised repository-relative
    /// path and its text.
    pub fn resolve(&self, from: &Path, relative: &str) -> Result<(String, String), BaselineError> {
        let base = from.parent().unwrap_or(Path::new(""));
        let path = normalize(&base.join(relative))?;
        let text = self.read(Path::new(&path))?;
        Ok((path, text))
    }
}

/// `a/./b/../c` -> `a/c`, with `/` separators; refuses to climb above the root.
fn normalize(path: &Path) -> Result<String, BaselineError> {
    let mut parts: Vec<String> = Vec::new();
    for component in path.components() {
        match component {
            Component::Normal(p) => parts.push(p.to_string_lossy().into_owned()),
            Component::CurDir => {}
            Component::ParentDir => {
                if parts.pop().is_none() {
                    return Err(BaselineError::OutsideRepository {
                        path: path.display().to_string(),
                    });
                }
            }
            Component::RootDir | Component::Prefix(_) => {
                return Err(BaselineError::OutsideRepository { path: path.display().to_string() });
            }
        }
    }
    Ok(parts.join("/"))
}

/// Reads `path_in_repo` (relative to the repository root) as it is at `reference`.
pub fn read_at_ref(
    repo: &Path,
    reference: &str,
    path_in_repo: &Path,
) -> Result<String, BaselineError> {
    GitTree::open(repo, reference)?.read(path_in_repo)
}

/// Where `root` (a directory inside a work tree) sits in its repository: the prefix to put
/// before root-relative paths to get repository-relative ones (empty at the repository root).
pub fn prefix_in_repo(root: &Path) -> Result<PathBuf, BaselineError> {
    let repository = git2::Repository::discover(root).map_err(|e| BaselineError::Repository {
        path: root.to_path_buf(),
        message: e.message().to_owned(),
    })?;
    let Some(workdir) = repository.workdir() else { return Ok(PathBuf::new()) };
    let workdir = std::fs::canonicalize(workdir).map_err(|e| BaselineError::Git(e.to_string()))?;
    let root = std::fs::canonicalize(root).map_err(|e| BaselineError::Git(e.to_string()))?;
    Ok(root.strip_prefix(&workdir).map(Path::to_path_buf).unwrap_or_default())
}

/// The highest release tag (`vX.Y.Z` or `X.Y.Z`, pre-releases ignored) of the repository
/// containing `repo`; None when there is none or no repository.
pub fn last_release_tag(repo: &Path) -> Option<String> {
    let repository = git2::Repository::discover(repo).ok()?;
    let names = repository.tag_names(None).ok()?;
    names
        .iter()
        .flatten()
        .filter_map(|name| {
            let version = semver::Version::parse(name.strip_prefix('v').unwrap_or(name)).ok()?;
            version.pre.is_empty().then(|| (version, name.to_owned()))
        })
        .max()
        .map(|(_, name)| name)
}

/// A version as written in a spec (`2`, `2.1`, `v2.1.0`, `2.1.0-beta`), leniently parsed.
pub fn parse_version(text: &str) -> Option<semver::Version> {
    let t = text.trim();
    let t = t.strip_prefix('v').or_else(|| t.strip_prefix('V')).unwrap_or(t);
    if let Ok(v) = semver::Version::parse(t) {
        return Some(v);
    }
    let core: Vec<&str> = t.split(['-', '+']).next().unwrap_or("").split('.').collect();
    if core.is_empty() || core.len() > 3 {
        return None;
    }
    let mut numbers = [0u64; 3];
    for (i, part) in core.iter().enumerate() {
        numbers[i] = part.parse().ok()?;
    }
    Some(semver::Version::new(numbers[0], numbers[1], numbers[2]))
}

/// True when `revision` is a higher MAJOR version than `base` (both must parse).
pub fn is_major_bump(base: Option<&str>, revision: Option<&str>) -> bool {
    match (base.and_then(parse_version), revision.and_then(parse_version)) {
        (Some(b), Some(r)) => r.major > b.major,
        _ => false,
    }
}

/// The semver rule: when the revision's version is a higher major than the base's, breaking
/// changes (error findings) are expected — with `downgrade` they are lowered to info with a
/// note, otherwise they stay errors and the note records the bump. Without a major bump a
/// remediation hint is attached to every error. Returns whether the bump was major.
pub fn apply_semver(
    findings: &mut [Finding],
    base: Option<&str>,
    revision: Option<&str>,
    downgrade: bool,
) -> bool {
    let major = is_major_bump(base, revision);
    for finding in findings.iter_mut().filter(|f| f.severity == Severity::Error) {
        if major && !downgrade {
            finding.message.push_str(&format!(
                " (major version bump {} -> {}; [contracts] semver = \"report\" keeps it an error)",
                base.unwrap_or("?"),
                revision.unwrap_or("?")
            ));
        } else if major {
            finding.severity = Severity::Info;
            finding.message.push_str(&format!(
                " (breaking change allowed: major version bump {} -> {})",
                base.unwrap_or("?"),
                revision.unwrap_or("?")
            ));
        } else if finding.remediation.is_none() {
            finding.remediation = Some(format!(
                "keep the API compatible, bump the spec's major version (now {} -> {}), or add an \
                 exception with owner, reason and expiry to [[contracts.exceptions]]",
                base.unwrap_or("unversioned"),
                revision.unwrap_or("unversioned")
            ));
        }
    }
    major
}

#[cfg(test)]
mod tests {
    use super::*;

    fn commit_all(repo: &git2::Repository, message: &str) -> git2::Oid {
        let mut index = repo.index().unwrap();
        index.add_all(["*"], git2::IndexAddOption::DEFAULT, None).unwrap();
        index.write().unwrap();
        let tree = repo.find_tree(index.write_tree().unwrap()).unwrap();
        let sig = git2::Signature::now("T", "t@example.com").unwrap();
        let parent = repo.head().ok().and_then(|h| h.peel_to_commit().ok());
        let parents: Vec<&git2::Commit<'_>> = parent.iter().collect();
        repo.commit(Some("HEAD"), &sig, &sig, message, &tree, &parents).unwrap()
    }

    fn tag(repo: &git2::Repository, name: &str, oid: git2::Oid) {
        let object = repo.find_object(oid, None).unwrap();
        repo.tag_lightweight(name, &object, false).unwrap();
    }

    #[test]
    fn reads_files_at_refs_without_checkout() {
        let dir = tempfile::tempdir().unwrap();
        let repo = git2::Repository::init(dir.path()).unwrap();
        std::fs::create_dir_all(dir.path().join("api/schemas")).unwrap();
        std::fs::write(dir.path().join("api/openapi.yaml"), "v: 1\n").unwrap();
        std::fs::write(dir.path().join("api/schemas/user.yaml"), "user: 1\n").unwrap();
        let first = commit_all(&repo, "one");
        tag(&repo, "v1.0.0", first);
        std::fs::write(dir.path().join("api/openapi.yaml"), "v: 2\n").unwrap();
        let second = commit_all(&repo, "two");
        tag(&repo, "v1.10.0", second);
        tag(&repo, "1.9.0", first);
        tag(&repo, "v2.0.0-rc.1", second);
        tag(&repo, "nightly", second);

        let path = Path::new("api/openapi.yaml");
        assert_eq!(read_at_ref(dir.path(), "v1.0.0", path).unwrap(), "v: 1\n");
        assert_eq!(read_at_ref(dir.path(), "HEAD", path).unwrap(), "v: 2\n");
        assert_eq!(read_at_ref(dir.path(), &first.to_string(), path).unwrap(), "v: 1\n");
        assert_eq!(last_release_tag(dir.path()).as_deref(), Some("v1.10.0"));

        let tree = GitTree::open(&dir.path().join("api"), "v1.0.0").unwrap();
        let (p, text) = tree.resolve(path, "./schemas/../schemas/user.yaml").unwrap();
        assert_eq!((p.as_str(), text.as_str()), ("api/schemas/user.yaml", "user: 1\n"));
        assert!(matches!(
            tree.resolve(path, "../../x"),
            Err(BaselineError::OutsideRepository { .. })
        ));
        assert!(matches!(
            tree.read(Path::new("api/none.yaml")),
            Err(BaselineError::NotFound { .. })
        ));
        assert!(matches!(tree.read(Path::new("api")), Err(BaselineError::NotAFile { .. })));
        let err = read_at_ref(dir.path(), "v9.9.9", path).unwrap_err();
        assert!(err.to_string().contains("v9.9.9"), "{err}");
        assert_eq!(prefix_in_repo(&dir.path().join("api")).unwrap(), PathBuf::from("api"));
    }

    #[test]
    fn no_tags_no_release() {
        let dir = tempfile::tempdir().unwrap();
        assert_eq!(last_release_tag(dir.path()), None);
        git2::Repository::init(dir.path()).unwrap();
        assert_eq!(last_release_tag(dir.path()), None);
    }

    #[test]
    fn semver_major_bumps() {
        assert!(is_major_bump(Some("1.4.2"), Some("2.0.0")));
        assert!(is_major_bump(Some("v1"), Some("2.0")));
        assert!(!is_major_bump(Some("1.4.2"), Some("1.5.0")));
        assert!(!is_major_bump(Some("2.0.0"), Some("1.0.0")));
        assert!(!is_major_bump(None, Some("2.0.0")));
        assert!(!is_major_bump(Some("one"), Some("two")));
        assert_eq!(parse_version("2.1.0-beta.1").unwrap().major, 2);

        let mut findings = vec![
            Finding::new("openapi/x", Severity::Error, "broke"),
            Finding::new("openapi/y", Severity::Warning, "maybe"),
        ];
        assert!(!apply_semver(&mut findings, Some("1.0.0"), Some("1.1.0"), true));
        assert_eq!(findings[0].severity, Severity::Error);
        assert!(findings[0].remediation.as_deref().unwrap().contains("major"));
        assert!(apply_semver(&mut findings, Some("1.0.0"), Some("2.0.0"), true));
        assert_eq!(findings[0].severity, Severity::Info);
        assert!(findings[0].message.contains("1.0.0 -> 2.0.0"));
        let mut reported = vec![Finding::new("openapi/x", Severity::Error, "broke")];
        assert!(apply_semver(&mut reported, Some("1.0.0"), Some("2.0.0"), false));
        assert_eq!(reported[0].severity, Severity::Error);
        assert!(reported[0].message.contains("semver = \"report\""), "{}", reported[0].message);
        assert_eq!(findings[1].severity, Severity::Warning);
    }
}
