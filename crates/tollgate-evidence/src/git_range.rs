//! The release's git range: every commit from the previous release tag (or an explicit `A..B`)
//! to HEAD, oldest first, with authorship and signature status, read through git2 (no git
//! binary, no checkout, no network).
//!
//! Signatures are classified from the commit's `gpgsig` header (git2 `extract_signature`):
//! `gpg` (OpenPGP armour), `ssh` (`-----BEGIN SSH SIGNATURE-----`), `x509` (S/MIME, as written
//! by gpgsm or gitsign), `unknown` (a header we cannot classify) or `none`. They are **not
//! verified**: there is no trust store to verify against, so every signed commit says
//! `verified: false` with the reason [`UNVERIFIED_REASON`].

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use time::{OffsetDateTime, UtcOffset};
use tollgate_core::{Finding, Location, Severity};

/// The schema version of `git.json`.
pub const SCHEMA_VERSION: &str = "1";
/// Why a signature is reported unverified.
pub const UNVERIFIED_REASON: &str = "no trust store configured";
/// The rule id of the finding for a commit without a signature.
pub const RULE_UNSIGNED: &str = "git/unsigned-commit";

/// Errors reading the range.
#[derive(Debug, thiserror::Error)]
pub enum GitRangeError {
    /// The directory is not inside a git repository.
    #[error("{}: not a git repository: {message}", path.display())]
    Repository {
        /// The directory.
        path: PathBuf,
        /// libgit2's message.
        message: String,
    },
    /// `--range` is not `A..B`.
    #[error("range {range:?}: expected A..B (two revisions separated by '..')")]
    RangeSyntax {
        /// The range as given.
        range: String,
    },
    /// A revision of the range does not name a commit.
    #[error("{revision}: no such git revision (or not a commit): {message}")]
    Revision {
        /// The revision.
        revision: String,
        /// libgit2's message.
        message: String,
    },
    /// HEAD does not point at a commit (an empty repository).
    #[error("{}: HEAD does not point at a commit: {message}", path.display())]
    NoHead {
        /// The repository.
        path: PathBuf,
        /// libgit2's message.
        message: String,
    },
    /// Any other libgit2 failure while walking the history.
    #[error("{}: {message}", path.display())]
    Git {
        /// The repository.
        path: PathBuf,
        /// libgit2's message.
        message: String,
    },
}

/// `git.json`: the commits of a release range.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct GitRange {
    /// [`SCHEMA_VERSION`].
    pub schema_version: String,
    /// The range's ends.
    pub range: RangeEnds,
    /// The commits in the range, oldest first (topological order, parents before children).
    pub commits: Vec<CommitInfo>,
    /// Counts over `commits`.
    pub summary: RangeSummary,
}

/// Where a range starts and ends.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RangeEnds {
    /// The excluded start as named (the previous release tag, or `A` of `A..B`); None when
    /// the range starts at the root commit(s).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub base: Option<String>,
    /// The commit `base` names.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub base_sha: Option<String>,
    /// The included end as named (`HEAD`, or `B` of `A..B`).
    pub head: String,
    /// The commit `head` names.
    pub head_sha: String,
    /// How the base was chosen: `previous-release-tag`, `explicit` or `root`.
    pub selected_by: String,
}

/// One commit.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CommitInfo {
    /// Full hex id.
    pub sha: String,
    /// Parent ids, in order.
    pub parents: Vec<String>,
    /// Who wrote the change.
    pub author: Person,
    /// Who committed it.
    pub committer: Person,
    /// The first line of the message.
    pub summary: String,
    /// The signature found in the commit's `gpgsig` header.
    pub signature: SignatureStatus,
}

/// A name, email and time from a commit header.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Person {
    /// Name (lossily decoded when not UTF-8).
    pub name: String,
    /// Email (lossily decoded when not UTF-8).
    pub email: String,
    /// RFC 3339 with the commit's own UTC offset.
    pub time: String,
}

/// The kind of signature on a commit.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum SignatureKind {
    /// No `gpgsig` header.
    None,
    /// An OpenPGP signature.
    Gpg,
    /// An SSH signature (`ssh-keygen -Y sign`).
    Ssh,
    /// An X.509 / S/MIME (CMS) signature.
    X509,
    /// A `gpgsig` header in no format we know.
    Unknown,
}

impl SignatureKind {
    /// Classifies the armoured text of a `gpgsig` header.
    pub fn classify(signature: &[u8]) -> SignatureKind {
        let text = String::from_utf8_lossy(signature);
        let text = text.trim_start();
        if text.starts_with("-----BEGIN PGP SIGNATURE-----") {
            SignatureKind::Gpg
        } else if text.starts_with("-----BEGIN SSH SIGNATURE-----") {
            SignatureKind::Ssh
        } else if text.starts_with("-----BEGIN SIGNED MESSAGE-----")
            || text.starts_with("-----BEGIN PKCS7-----")
            || text.starts_with("-----BEGIN CMS-----")
        {
            SignatureKind::X509
        } else {
            SignatureKind::Unknown
        }
    }
}

/// A commit's signature: its kind, and whether it was verified (never, without a trust store).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SignatureStatus {
    /// The kind.
    pub kind: SignatureKind,
    /// True only when verified against a trust store; this module has none, so always false.
    pub verified: bool,
    /// Why it is not verified (None for unsigned commits).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
}

/// Counts over the range's commits.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RangeSummary {
    /// Commits in the range.
    pub commits: usize,
    /// Commits with any signature.
    pub signed: usize,
    /// Commits without one.
    pub unsigned: usize,
}

impl GitRange {
    /// `git.json` as written: pretty JSON with a final newline (field order fixed by the types,
    /// commits in topological order), so the same repository gives the same bytes.
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut bytes = serde_json::to_vec_pretty(self).unwrap_or_default();
        bytes.push(b'\n');
        bytes
    }

    /// The `git` gate report of `tollgate evidence git`: the unsigned commits at `severity`,
    /// failing on errors, with the written `git.json` (`file`, its `bytes`) as the input.
    pub fn report(
        &self,
        file: &str,
        bytes: &[u8],
        severity: Severity,
        started: String,
        duration_ms: u64,
    ) -> tollgate_core::GateReport {
        tollgate_core::GateReport::new(
            "git",
            vec![tollgate_core::GateInput::of(file, bytes)],
            self.findings(file, severity),
            Severity::Error,
            started,
            duration_ms,
        )
    }

    /// One finding per unsigned commit (rule [`RULE_UNSIGNED`]) at `severity`, located in
    /// `git.json` by JSON pointer; `file` names that file in the finding.
    pub fn findings(&self, file: &str, severity: Severity) -> Vec<Finding> {
        self.commits
            .iter()
            .enumerate()
            .filter(|(_, c)| c.signature.kind == SignatureKind::None)
            .map(|(i, c)| {
                Finding::new(
                    RULE_UNSIGNED,
                    severity,
                    format!(
                        "commit {} ({:?} by {} <{}>) is not signed",
                        short(&c.sha),
                        c.summary,
                        c.author.name,
                        c.author.email
                    ),
                )
                .at(Location::file(file).at_pointer(format!("/commits/{i}")))
                .about(c.sha.clone())
                .fix("sign commits (git config commit.gpgsign true; gpg.format ssh or openpgp)")
            })
            .collect()
    }
}

fn short(sha: &str) -> &str {
    sha.get(..12).unwrap_or(sha)
}

/// Reads the release range of the repository containing `root`: `range` (`A..B`) when given,
/// else from the previous release tag ([`previous_release_tag`]) to HEAD, else every commit
/// reachable from HEAD.
pub fn collect(root: &Path, range: Option<&str>) -> Result<GitRange, GitRangeError> {
    let repo = git2::Repository::discover(root).map_err(|e| GitRangeError::Repository {
        path: root.to_path_buf(),
        message: e.message().to_owned(),
    })?;
    let repo_path = repo.workdir().unwrap_or(repo.path()).to_path_buf();
    let git = |e: git2::Error| GitRangeError::Git {
        path: repo_path.clone(),
        message: e.message().to_owned(),
    };

    let (base, head_name, head, selected_by) = match range {
        Some(range) => {
            let (a, b) = range
                .split_once("..")
                .filter(|(a, b)| !a.is_empty() && !b.is_empty() && !b.starts_with('.'))
                .ok_or_else(|| GitRangeError::RangeSyntax { range: range.to_owned() })?;
            let a_oid = resolve(&repo, a)?;
            let b_oid = resolve(&repo, b)?;
            (Some((a.to_owned(), a_oid)), b.to_owned(), b_oid, "explicit")
        }
        None => {
            let head = repo
                .head()
                .and_then(|h| h.peel_to_commit())
                .map_err(|e| GitRangeError::NoHead {
                    path: repo_path.clone(),
                    message: e.message().to_owned(),
                })?
                .id();
            match previous_release_tag(&repo, head).map_err(git)? {
                Some((tag, oid)) => {
                    (Some((tag, oid)), "HEAD".to_owned(), head, "previous-release-tag")
                }
                None => (None, "HEAD".to_owned(), head, "root"),
            }
        }
    };

    let mut walk = repo.revwalk().map_err(git)?;
    walk.set_sorting(git2::Sort::TOPOLOGICAL | git2::Sort::REVERSE).map_err(git)?;
    walk.push(head).map_err(git)?;
    if let Some((_, base)) = &base {
        walk.hide(*base).map_err(git)?;
    }
    let mut commits = Vec::new();
    for oid in walk {
        let oid = oid.map_err(git)?;
        let commit = repo.find_commit(oid).map_err(git)?;
        commits.push(commit_info(&repo, &commit));
    }
    let signed = commits.iter().filter(|c| c.signature.kind != SignatureKind::None).count();
    let summary = RangeSummary { commits: commits.len(), signed, unsigned: commits.len() - signed };
    Ok(GitRange {
        schema_version: SCHEMA_VERSION.to_owned(),
        range: RangeEnds {
            base: base.as_ref().map(|(name, _)| name.clone()),
            base_sha: base.as_ref().map(|(_, oid)| oid.to_string()),
            head: head_name,
            head_sha: head.to_string(),
            selected_by: selected_by.to_owned(),
        },
        commits,
        summary,
    })
}

fn resolve(repo: &git2::Repository, revision: &str) -> Result<git2::Oid, GitRangeError> {
    repo.revparse_single(revision).and_then(|o| o.peel_to_commit()).map(|c| c.id()).map_err(|e| {
        GitRangeError::Revision { revision: revision.to_owned(), message: e.message().to_owned() }
    })
}

/// The previous release tag of `head`: the highest `vX.Y.Z` / `X.Y.Z` tag (semver, no
/// pre-release; the same rule as tollgate-contracts' `last_release_tag`) whose commit is a
/// proper ancestor of `head`. A tag on `head` itself is the release being made, not the
/// previous one, so it is skipped. Returns the tag name and its commit.
pub fn previous_release_tag(
    repo: &git2::Repository,
    head: git2::Oid,
) -> Result<Option<(String, git2::Oid)>, git2::Error> {
    let names = repo.tag_names(None)?;
    let mut best: Option<(semver::Version, String, git2::Oid)> = None;
    for name in names.iter().flatten() {
        let Ok(version) = semver::Version::parse(name.strip_prefix('v').unwrap_or(name)) else {
            continue;
        };
        if !version.pre.is_empty() {
            continue;
        }
        let Ok(object) = repo.revparse_single(&format!("refs/tags/{name}")) else { continue };
        let Ok(commit) = object.peel_to_commit() else { continue };
        let oid = commit.id();
        if oid == head || !repo.graph_descendant_of(head, oid)? {
            continue;
        }
        if best.as_ref().is_none_or(|(v, n, _)| (&version, name) > (v, n.as_str())) {
            best = Some((version, name.to_owned(), oid));
        }
    }
    Ok(best.map(|(_, name, oid)| (name, oid)))
}

fn commit_info(repo: &git2::Repository, commit: &git2::Commit<'_>) -> CommitInfo {
    let signature = match repo.extract_signature(&commit.id(), None) {
        Ok((signature, _signed_data)) => SignatureStatus {
            kind: SignatureKind::classify(&signature),
            verified: false,
            reason: Some(UNVERIFIED_REASON.to_owned()),
        },
        Err(_) => SignatureStatus { kind: SignatureKind::None, verified: false, reason: None },
    };
    CommitInfo {
        sha: commit.id().to_string(),
        parents: commit.parent_ids().map(|p| p.to_string()).collect(),
        author: person(&commit.author()),
        committer: person(&commit.committer()),
        summary: String::from_utf8_lossy(commit.summary_bytes().unwrap_or_default()).into_owned(),
        signature,
    }
}

fn person(signature: &git2::Signature<'_>) -> Person {
    Person {
        name: String::from_utf8_lossy(signature.name_bytes()).into_owned(),
        email: String::from_utf8_lossy(signature.email_bytes()).into_owned(),
        time: git_time(signature.when()),
    }
}

/// RFC 3339 in the commit's own offset (`2023-11-14T22:13:20+01:00`).
fn git_time(when: git2::Time) -> String {
    let offset =
        UtcOffset::from_whole_seconds(when.offset_minutes() * 60).unwrap_or(UtcOffset::UTC);
    OffsetDateTime::from_unix_timestamp(when.seconds())
        .map(|t| t.to_offset(offset))
        .ok()
        .and_then(|t| t.format(&time::format_description::well_known::Rfc3339).ok())
        .unwrap_or_else(|| when.seconds().to_string())
}

#[cfg(test)]
mod tests;
