//! Change-management evidence: for each commit of a release range, the pull request it came
//! through, that PR's reviews, the base branch's required status checks and how they concluded
//! on the PR's head commit — and whether the change was independently approved.
//!
//! **The rule.** A commit is *compliant* when at least one merged pull request associated with
//! it (`GET /repos/{o}/{r}/commits/{sha}/pulls`) is compliant. A pull request is compliant when
//!
//! 1. some reviewer other than the PR author and other than the commit's GitHub author has, as
//!    their latest review that decides anything, `APPROVED` (a later `CHANGES_REQUESTED`
//!    supersedes an approval; a dismissed approval is `DISMISSED`; `COMMENTED`/`PENDING`
//!    decide nothing), and
//! 2. every status check the base branch requires
//!    (`GET /repos/{o}/{r}/branches/{b}/protection/required_status_checks`; 404 = none) has
//!    concluded on the PR's head commit — as a check run (the newest run of that name) or a
//!    commit status — with `success`, `neutral` or `skipped`. Those three pass because they
//!    are what GitHub's own branch protection accepts for a required check; anything else
//!    (`failure`, `cancelled`, `timed_out`, `action_required`, `stale`, a status `error`,
//!    `failure` or `pending`, a run not completed) fails.
//!
//! Findings (severity error, gate `changes`): `changes/no-pr`, `changes/no-independent-approval`,
//! `changes/required-check-missing`, `changes/required-check-failed`.

use std::collections::{BTreeMap, BTreeSet};

use serde::{Deserialize, Serialize};
use tollgate_core::{Finding, GateInput, GateReport, Location, Severity};

use super::{GitHub, GitHubError, RepoSlug, decode, encode_path_segment};
use crate::git_range::{CommitInfo, GitRange, RangeEnds};

/// The schema version of `changes.json`.
pub const SCHEMA_VERSION: &str = "1";
/// The gate name.
pub const GATE: &str = "changes";
/// A commit that came through no merged pull request.
pub const RULE_NO_PR: &str = "changes/no-pr";
/// No approval by someone other than the PR and commit authors stands.
pub const RULE_NO_INDEPENDENT_APPROVAL: &str = "changes/no-independent-approval";
/// A required check never reported on the PR's head commit.
pub const RULE_CHECK_MISSING: &str = "changes/required-check-missing";
/// A required check concluded with something other than success/neutral/skipped.
pub const RULE_CHECK_FAILED: &str = "changes/required-check-failed";
/// Check conclusions that satisfy a required check.
pub const PASSING_CONCLUSIONS: [&str; 3] = ["success", "neutral", "skipped"];

/// `changes.json`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ChangeEvidence {
    /// [`SCHEMA_VERSION`].
    pub schema_version: String,
    /// `OWNER/NAME`.
    pub repository: String,
    /// The git range the commits come from.
    pub range: RangeEnds,
    /// One entry per commit, in the range's order (oldest first).
    pub changes: Vec<Change>,
    /// Counts.
    pub summary: ChangeSummary,
}

/// One commit's evidence.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Change {
    /// The commit id.
    pub sha: String,
    /// Its message's first line.
    pub summary: String,
    /// `Name <email>` from the commit.
    pub commit_author: String,
    /// The GitHub account GitHub links to the commit's author, if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub commit_author_login: Option<String>,
    /// The merged pull requests the commit is part of, by number.
    pub pull_requests: Vec<PullRequestEvidence>,
    /// True when at least one of them is compliant.
    pub compliant: bool,
    /// Why not (empty when compliant).
    pub problems: Vec<Problem>,
}

/// One merged pull request and how it was reviewed and checked.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PullRequestEvidence {
    /// The PR number.
    pub number: u64,
    /// Its web page.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub url: Option<String>,
    /// Who opened it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub author: Option<String>,
    /// The branch it merged into.
    pub base_branch: String,
    /// The PR's head commit (where checks ran).
    pub head_sha: String,
    /// When it was merged (RFC 3339, as GitHub says).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub merged_at: Option<String>,
    /// Each reviewer's latest deciding review state, sorted by reviewer.
    pub reviews: Vec<ReviewerState>,
    /// Independent approvers (sorted): latest state APPROVED, not the PR or commit author.
    pub approvers: Vec<String>,
    /// The status checks the base branch requires (sorted).
    pub required_checks: Vec<String>,
    /// Every check on the head commit, sorted by name then source.
    pub checks: Vec<CheckEvidence>,
    /// True when independently approved and every required check passed.
    pub compliant: bool,
    /// Why not.
    pub problems: Vec<Problem>,
}

/// A reviewer's latest deciding state.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub struct ReviewerState {
    /// GitHub login.
    pub reviewer: String,
    /// `APPROVED`, `CHANGES_REQUESTED`, `DISMISSED`, or `COMMENTED` when nothing decided.
    pub state: String,
}

/// A check run or commit status on a PR's head commit.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub struct CheckEvidence {
    /// The check run name or status context.
    pub name: String,
    /// `check-run` or `status`.
    pub source: String,
    /// Check runs: `queued`, `in_progress`, `completed`; statuses: their state.
    pub status: String,
    /// Check runs: the conclusion once completed; statuses: their state.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub conclusion: Option<String>,
}

/// Why a change is not compliant.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub struct Problem {
    /// The finding's rule id.
    pub rule: String,
    /// What is wrong, naming the PR and the people or checks involved.
    pub message: String,
}

/// Counts over the changes.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ChangeSummary {
    /// Commits.
    pub changes: usize,
    /// Compliant commits.
    pub compliant: usize,
    /// Non-compliant commits.
    pub noncompliant: usize,
}

// GitHub's response shapes, narrowed to the fields used (names as GitHub spells them).

#[derive(Debug, Deserialize)]
struct ApiUser {
    login: String,
}

#[derive(Debug, Deserialize)]
struct ApiCommit {
    #[serde(default)]
    author: Option<ApiUser>,
}

#[derive(Debug, Deserialize)]
struct ApiRef {
    #[serde(rename = "ref")]
    name: String,
    sha: String,
}

#[derive(Debug, Deserialize)]
struct ApiPull {
    number: u64,
    #[serde(default)]
    html_url: Option<String>,
    #[serde(default)]
    user: Option<ApiUser>,
    #[serde(default)]
    merged_at: Option<String>,
    base: ApiRef,
    head: ApiRef,
}

#[derive(Debug, Deserialize)]
struct ApiReview {
    #[serde(default)]
    user: Option<ApiUser>,
    state: String,
}

#[derive(Debug, Deserialize)]
struct ApiRequiredChecks {
    #[serde(default)]
    contexts: Vec<String>,
    #[serde(default)]
    checks: Vec<ApiRequiredCheck>,
}

#[derive(Debug, Deserialize)]
struct ApiRequiredCheck {
    context: String,
}

#[derive(Debug, Deserialize)]
struct ApiCheckRuns {
    check_runs: Vec<ApiCheckRun>,
}

#[derive(Debug, Deserialize)]
struct ApiCheckRun {
    id: u64,
    name: String,
    status: String,
    #[serde(default)]
    conclusion: Option<String>,
}

#[derive(Debug, Deserialize)]
struct ApiCombinedStatus {
    #[serde(default)]
    statuses: Vec<ApiStatus>,
}

#[derive(Debug, Deserialize)]
struct ApiStatus {
    context: String,
    state: String,
}

/// Reads the evidence for every commit of `range` from `repo` on GitHub. Each pull request,
/// each base branch's required checks, is fetched once however many commits share it.
pub fn collect(
    github: &GitHub,
    repo: &RepoSlug,
    range: &GitRange,
) -> Result<ChangeEvidence, GitHubError> {
    let mut pulls: BTreeMap<u64, PullRequestEvidence> = BTreeMap::new();
    let mut required: BTreeMap<String, Vec<String>> = BTreeMap::new();
    let mut changes = Vec::with_capacity(range.commits.len());
    for commit in &range.commits {
        let login = commit_author_login(github, repo, &commit.sha)?;
        let path = format!("/repos/{repo}/commits/{}/pulls?per_page=100", commit.sha);
        let associated: Vec<ApiPull> = github.get_all(&path, decode)?;
        let mut evidence = Vec::new();
        for pull in associated.into_iter().filter(|p| p.merged_at.is_some()) {
            let key = pull.number;
            if let std::collections::btree_map::Entry::Vacant(slot) = pulls.entry(key) {
                let base = pull.base.name.clone();
                let required_here = match required.entry(base) {
                    std::collections::btree_map::Entry::Occupied(e) => e.into_mut(),
                    std::collections::btree_map::Entry::Vacant(e) => {
                        let checks = required_checks(github, repo, e.key())?;
                        e.insert(checks)
                    }
                };
                let reviews = reviews(github, repo, pull.number)?;
                let checks = head_checks(github, repo, &pull.head.sha)?;
                slot.insert(PullFacts { pull, reviews, checks }.evidence(required_here));
            }
            evidence.push(pulls[&key].clone());
        }
        changes.push(assess(commit, login, evidence));
    }
    let compliant = changes.iter().filter(|c| c.compliant).count();
    Ok(ChangeEvidence {
        schema_version: SCHEMA_VERSION.to_owned(),
        repository: repo.to_string(),
        range: range.range.clone(),
        summary: ChangeSummary {
            changes: changes.len(),
            compliant,
            noncompliant: changes.len() - compliant,
        },
        changes,
    })
}

fn commit_author_login(
    github: &GitHub,
    repo: &RepoSlug,
    sha: &str,
) -> Result<Option<String>, GitHubError> {
    let path = format!("/repos/{repo}/commits/{sha}");
    let commit: Option<ApiCommit> = github.get_json(&path)?;
    match commit {
        Some(c) => Ok(c.author.map(|a| a.login)),
        None => Err(GitHubError::Status {
            method: "GET".into(),
            url: path,
            status: 404,
            message: format!("commit {sha} is not in {repo} on GitHub (pushed yet?)"),
        }),
    }
}

fn required_checks(
    github: &GitHub,
    repo: &RepoSlug,
    branch: &str,
) -> Result<Vec<String>, GitHubError> {
    let path = format!(
        "/repos/{repo}/branches/{}/protection/required_status_checks",
        encode_path_segment(branch)
    );
    // 404: the branch is not protected, or requires no status checks.
    let checks: Option<ApiRequiredChecks> = github.get_json(&path)?;
    let mut names: Vec<String> = checks
        .map(|c| c.contexts.into_iter().chain(c.checks.into_iter().map(|k| k.context)).collect())
        .unwrap_or_default();
    names.sort();
    names.dedup();
    Ok(names)
}

fn reviews(github: &GitHub, repo: &RepoSlug, number: u64) -> Result<Vec<ApiReview>, GitHubError> {
    let path = format!("/repos/{repo}/pulls/{number}/reviews?per_page=100");
    github.get_all(&path, decode)
}

/// Check runs (newest run per name) and commit statuses on `sha`.
fn head_checks(
    github: &GitHub,
    repo: &RepoSlug,
    sha: &str,
) -> Result<Vec<CheckEvidence>, GitHubError> {
    let path = format!("/repos/{repo}/commits/{sha}/check-runs?per_page=100");
    let runs: Vec<ApiCheckRun> = github
        .get_all(&path, |url, body| decode::<ApiCheckRuns>(url, body).map(|p| p.check_runs))?;
    let mut newest: BTreeMap<String, ApiCheckRun> = BTreeMap::new();
    for run in runs {
        if newest.get(&run.name).is_none_or(|seen| run.id > seen.id) {
            newest.insert(run.name.clone(), run);
        }
    }
    let mut checks: Vec<CheckEvidence> = newest
        .into_values()
        .map(|run| CheckEvidence {
            name: run.name,
            source: "check-run".into(),
            status: run.status,
            conclusion: run.conclusion,
        })
        .collect();
    let path = format!("/repos/{repo}/commits/{sha}/status?per_page=100");
    let combined: Option<ApiCombinedStatus> = github.get_json(&path)?;
    for status in combined.map(|c| c.statuses).unwrap_or_default() {
        checks.push(CheckEvidence {
            name: status.context,
            source: "status".into(),
            status: status.state.clone(),
            conclusion: Some(status.state),
        });
    }
    checks.sort();
    Ok(checks)
}

/// What GitHub said about one pull request.
struct PullFacts {
    pull: ApiPull,
    reviews: Vec<ApiReview>,
    checks: Vec<CheckEvidence>,
}

impl PullFacts {
    /// The PR's evidence before the commit author is known: approvers exclude the PR author
    /// here; [`assess`] excludes the commit author.
    fn evidence(self, required: &[String]) -> PullRequestEvidence {
        let PullFacts { pull, reviews, checks } = self;
        let mut latest: BTreeMap<String, String> = BTreeMap::new();
        for review in reviews {
            let Some(user) = review.user else { continue };
            match review.state.as_str() {
                "APPROVED" | "CHANGES_REQUESTED" | "DISMISSED" => {
                    latest.insert(user.login, review.state);
                }
                // Comments decide nothing; record them only when nothing else is known.
                _ => {
                    latest.entry(user.login).or_insert_with(|| "COMMENTED".into());
                }
            }
        }
        let mut problems = Vec::new();
        for name in required {
            match checks.iter().find(|c| &c.name == name) {
                None => problems.push(Problem {
                    rule: RULE_CHECK_MISSING.into(),
                    message: format!(
                        "PR #{}: required check {name:?} did not report on head commit {}",
                        pull.number,
                        short(&pull.head.sha)
                    ),
                }),
                Some(check) if !passes(check) => problems.push(Problem {
                    rule: RULE_CHECK_FAILED.into(),
                    message: format!(
                        "PR #{}: required check {name:?} is {} on head commit {}",
                        pull.number,
                        check.conclusion.as_deref().unwrap_or(&check.status),
                        short(&pull.head.sha)
                    ),
                }),
                Some(_) => {}
            }
        }
        let author = pull.user.map(|u| u.login);
        PullRequestEvidence {
            number: pull.number,
            url: pull.html_url,
            approvers: latest
                .iter()
                .filter(|(who, state)| *state == "APPROVED" && Some(*who) != author.as_ref())
                .map(|(who, _)| who.clone())
                .collect(),
            reviews: latest
                .into_iter()
                .map(|(reviewer, state)| ReviewerState { reviewer, state })
                .collect(),
            author,
            base_branch: pull.base.name,
            head_sha: pull.head.sha,
            merged_at: pull.merged_at,
            required_checks: required.to_vec(),
            checks,
            compliant: false,
            problems,
        }
    }
}

fn passes(check: &CheckEvidence) -> bool {
    if check.source == "check-run" && check.status != "completed" {
        return false;
    }
    check.conclusion.as_deref().is_some_and(|c| PASSING_CONCLUSIONS.contains(&c))
}

fn short(sha: &str) -> &str {
    sha.get(..12).unwrap_or(sha)
}

/// The commit's verdict from its merged PRs: approvals by the commit's own author do not
/// count; compliant when any PR is.
fn assess(commit: &CommitInfo, login: Option<String>, pulls: Vec<PullRequestEvidence>) -> Change {
    let pulls: Vec<PullRequestEvidence> = pulls
        .into_iter()
        .map(|mut pr| {
            pr.approvers.retain(|a| Some(a) != login.as_ref());
            if pr.approvers.is_empty() {
                pr.problems.insert(0, approval_problem(&pr, login.as_deref()));
            }
            pr.compliant = pr.problems.is_empty();
            pr
        })
        .collect();
    let compliant = pulls.iter().any(|p| p.compliant);
    let problems = if compliant {
        Vec::new()
    } else if pulls.is_empty() {
        vec![Problem {
            rule: RULE_NO_PR.into(),
            message: format!(
                "commit {} ({:?}) reached the branch without a merged pull request",
                short(&commit.sha),
                commit.summary
            ),
        }]
    } else {
        let set: BTreeSet<Problem> = pulls.iter().flat_map(|p| p.problems.clone()).collect();
        set.into_iter().collect()
    };
    Change {
        sha: commit.sha.clone(),
        summary: commit.summary.clone(),
        commit_author: format!("{} <{}>", commit.author.name, commit.author.email),
        commit_author_login: login,
        pull_requests: pulls,
        compliant,
        problems,
    }
}

/// Why a PR has no independent approval, naming who approved, dismissed or requested changes.
fn approval_problem(pr: &PullRequestEvidence, commit_author: Option<&str>) -> Problem {
    let mut reasons = Vec::new();
    for review in &pr.reviews {
        let who = &review.reviewer;
        let is_pr_author = pr.author.as_deref() == Some(who.as_str());
        let is_commit_author = commit_author == Some(who.as_str());
        match review.state.as_str() {
            "APPROVED" if is_pr_author || is_commit_author => reasons
                .push(format!("{who} approved their own change (self-approval does not count)")),
            "CHANGES_REQUESTED" => {
                reasons.push(format!("{who}'s latest review is CHANGES_REQUESTED"))
            }
            "DISMISSED" => reasons.push(format!("{who}'s approval was dismissed")),
            _ => {}
        }
    }
    if reasons.is_empty() {
        reasons.push("no approving review".into());
    }
    Problem {
        rule: RULE_NO_INDEPENDENT_APPROVAL.into(),
        message: format!(
            "PR #{} has no approval by anyone other than its author{}: {}",
            pr.number,
            pr.author.as_deref().map(|a| format!(" ({a})")).unwrap_or_default(),
            reasons.join("; ")
        ),
    }
}

impl ChangeEvidence {
    /// `changes.json` as written: pretty JSON with a final newline; changes in range order,
    /// every list inside sorted, so the same answers give the same bytes.
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut bytes = serde_json::to_vec_pretty(self).unwrap_or_default();
        bytes.push(b'\n');
        bytes
    }

    /// One error finding per problem of each non-compliant change, located in `file`
    /// (`changes.json`) by JSON pointer and about the commit.
    pub fn findings(&self, file: &str) -> Vec<Finding> {
        let mut findings = Vec::new();
        for (i, change) in self.changes.iter().enumerate() {
            for problem in &change.problems {
                findings.push(
                    Finding::new(&problem.rule, Severity::Error, problem.message.clone())
                        .at(Location::file(file).at_pointer(format!("/changes/{i}")))
                        .about(change.sha.clone())
                        .fix(remediation(&problem.rule)),
                );
            }
        }
        findings
    }

    /// The `changes` gate report: the findings, failing on errors, with `changes.json`'s
    /// digest as the input.
    pub fn report(&self, file: &str, started: String, duration_ms: u64) -> GateReport {
        GateReport::new(
            GATE,
            vec![GateInput::of(file, &self.to_bytes())],
            self.findings(file),
            Severity::Error,
            started,
            duration_ms,
        )
    }
}

fn remediation(rule: &str) -> &'static str {
    match rule {
        RULE_NO_PR => {
            "merge changes through pull requests; protect the branch against direct pushes"
        }
        RULE_NO_INDEPENDENT_APPROVAL => {
            "have someone other than the author approve; require approving reviews in branch protection"
        }
        RULE_CHECK_MISSING => "run the required check on the PR's head commit before merging",
        _ => "fix the failing check and re-run it before merging",
    }
}
