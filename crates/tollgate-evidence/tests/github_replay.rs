//! Change-management evidence and release-asset publishing through octocrab, against a local
//! HTTP server on a real socket (`support/replay.rs`) that replays hand-written responses in
//! the exact shape of GitHub's REST API (`fixtures/github/`, see its README: there is no
//! network here, so nothing was recorded from github.com).
//!
//! Covered: a compliant PR whose approval is on the second page of reviews (Link pagination);
//! self-approval by the commit author; an approval superseded by CHANGES_REQUESTED and one
//! dismissed; a direct push (no merged PR, only an open one); failing and missing required
//! checks; a 404 for required checks (none required); a 403 rate limit then success, a 429
//! beyond the wait budget, a 502 then success; a 401 bad token; publishing to a release
//! (happy path under a GHE-style `/api/v3` base, refusal to overwrite, identical asset kept,
//! an upload URL on a foreign host refused); pagination links to a foreign host refused.

#[path = "support/replay.rs"]
mod replay;

use std::path::{Path, PathBuf};
use std::time::Duration;

use replay::{Answer, Replay, fixture};
use tollgate_core::{Severity, Verdict};
use tollgate_evidence::git_range::{
    CommitInfo, GitRange, Person, RangeEnds, RangeSummary, SignatureKind, SignatureStatus,
};
use tollgate_evidence::github::changes::{self, ChangeEvidence};
use tollgate_evidence::github::release::{self, Attached};
use tollgate_evidence::github::{GitHub, GitHubError, GitHubSettings, RepoSlug};

const TOKEN: &str = "ghp_replayTestToken0123456789";
const REPO: &str = "acme/widgets";

fn fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/github")
}

fn sha(n: u8) -> String {
    format!("{n:02x}").repeat(20)
}

/// The PR head commit (where checks run) of the PR that merged `sha`.
fn head_of(sha: &str) -> String {
    format!("ff{}", &sha[2..])
}

fn range(shas: &[String]) -> GitRange {
    let person = Person {
        name: "Commit Author".into(),
        email: "author@example.com".into(),
        time: "2023-11-14T22:14:20Z".into(),
    };
    let commits: Vec<CommitInfo> = shas
        .iter()
        .map(|sha| CommitInfo {
            sha: sha.clone(),
            parents: vec![],
            author: person.clone(),
            committer: person.clone(),
            summary: format!("change {}", &sha[..4]),
            signature: SignatureStatus { kind: SignatureKind::None, verified: false, reason: None },
        })
        .collect();
    GitRange {
        schema_version: "1".into(),
        range: RangeEnds {
            base: Some("v1.1.0".into()),
            base_sha: Some(sha(0xaa)),
            head: "HEAD".into(),
            head_sha: shas.last().cloned().unwrap_or_default(),
            selected_by: "previous-release-tag".into(),
        },
        summary: RangeSummary { commits: commits.len(), signed: 0, unsigned: commits.len() },
        commits,
    }
}

fn client(replay: &Replay) -> GitHub {
    client_at(replay.url(), Duration::from_secs(60))
}

fn client_at(api: &str, max_wait: Duration) -> GitHub {
    let mut settings = GitHubSettings::new(api, Some(TOKEN.into()));
    settings.max_rate_limit_wait = max_wait;
    settings.server_error_backoff = Duration::from_millis(10);
    GitHub::connect(settings).unwrap()
}

fn repo() -> RepoSlug {
    REPO.parse().unwrap()
}

/// What one commit's scenario serves.
struct Scenario<'a> {
    sha: String,
    commit_author: &'a str,
    /// None: a direct push (no PR associated at all).
    pr: Option<(u64, &'a str)>,
    reviews: &'a [&'a str],
    required: bool,
    check_runs: &'a str,
    status: &'a str,
}

fn serve(replay: &Replay, s: &Scenario<'_>) {
    let dir = fixtures();
    let api = replay.url().to_owned();
    let head = head_of(&s.sha);
    replay.get(
        &format!("/repos/{REPO}/commits/{}", s.sha),
        fixture(&dir, "commit.json", &[("sha", &s.sha), ("login", s.commit_author), ("api", &api)]),
    );
    let pulls = format!("/repos/{REPO}/commits/{}/pulls?per_page=100", s.sha);
    let Some((number, pr_author)) = s.pr else {
        replay.get(&pulls, "[]");
        return;
    };
    let number_text = number.to_string();
    let vars = [
        ("sha", s.sha.as_str()),
        ("head_sha", head.as_str()),
        ("number", number_text.as_str()),
        ("pr_author", pr_author),
        ("commit_author", s.commit_author),
        ("api", api.as_str()),
    ];
    replay.get(&pulls, fixture(&dir, "pulls-merged.json", &vars));
    let reviews = format!("/repos/{REPO}/pulls/{number}/reviews?per_page=100");
    for (i, page) in s.reviews.iter().enumerate() {
        let target = if i == 0 { reviews.clone() } else { format!("{reviews}&page={}", i + 1) };
        let mut answer = Answer::json(200, fixture(&dir, page, &vars));
        if i + 1 < s.reviews.len() {
            let next = format!("{api}{reviews}&page={}", i + 2);
            let last = format!("{api}{reviews}&page={}", s.reviews.len());
            answer =
                answer.header("link", format!("<{next}>; rel=\"next\", <{last}>; rel=\"last\""));
        }
        replay.on("GET", &target, vec![answer]);
    }
    let protection = format!("/repos/{REPO}/branches/main/protection/required_status_checks");
    if s.required {
        replay.get(&protection, fixture(&dir, "required-status-checks.json", &vars));
    } else {
        replay.on("GET", &protection, vec![Answer::error(404, "Branch not protected")]);
    }
    replay.get(
        &format!("/repos/{REPO}/commits/{head}/check-runs?per_page=100"),
        fixture(&dir, s.check_runs, &vars),
    );
    replay.get(
        &format!("/repos/{REPO}/commits/{head}/status?per_page=100"),
        fixture(&dir, s.status, &vars),
    );
}

fn compliant(sha: String) -> Scenario<'static> {
    Scenario {
        sha,
        commit_author: "bob",
        pr: Some((7, "bob")),
        reviews: &["reviews-page-1.json", "reviews-page-2.json"],
        required: true,
        check_runs: "check-runs-passing.json",
        status: "status.json",
    }
}

fn collect(replay: &Replay, shas: &[String]) -> ChangeEvidence {
    let evidence = changes::collect(&client(replay), &repo(), &range(shas)).unwrap();
    assert_eq!(replay.unanswered(), Vec::<String>::new());
    evidence
}

fn rules(evidence: &ChangeEvidence) -> Vec<String> {
    evidence.findings("changes.json").into_iter().map(|f| f.rule).collect()
}

#[test]
fn compliant_pr_with_approval_on_the_second_review_page() {
    let replay = Replay::start();
    serve(&replay, &compliant(sha(1)));
    let evidence = collect(&replay, &[sha(1)]);

    let change = &evidence.changes[0];
    assert!(change.compliant, "{change:#?}");
    assert_eq!(change.commit_author_login.as_deref(), Some("bob"));
    let pr = &change.pull_requests[0];
    assert_eq!(pr.number, 7);
    assert_eq!(pr.author.as_deref(), Some("bob"));
    assert_eq!(pr.base_branch, "main");
    assert_eq!(pr.approvers, ["carol"]); // page 2 turned carol's CHANGES_REQUESTED into APPROVED
    let reviews: Vec<_> = pr.reviews.iter().map(|r| (&*r.reviewer, &*r.state)).collect();
    assert_eq!(reviews, [("bob", "COMMENTED"), ("carol", "APPROVED")]);
    assert_eq!(pr.required_checks, ["ci/build", "lint", "security/scan"]);
    let checks: Vec<_> = pr
        .checks
        .iter()
        .map(|c| (c.name.as_str(), c.source.as_str(), c.conclusion.as_deref()))
        .collect();
    // The newest ci/build run (id 4, success) wins over the older failed one (id 2).
    assert_eq!(
        checks,
        [
            ("ci/build", "check-run", Some("success")),
            ("lint", "status", Some("success")),
            ("security/scan", "check-run", Some("skipped")),
        ]
    );
    assert_eq!(evidence.summary.compliant, 1);
    let report = evidence.report("changes.json", "2023-11-14T22:13:20Z".into(), 0);
    assert_eq!(report.gate, "changes");
    assert_eq!(report.verdict, Verdict::Pass);
    assert!(report.findings.is_empty());

    // The second page was fetched through the Link header, with the token, as GitHub wants.
    let requests = replay.requests();
    let targets: Vec<_> = requests.iter().map(|r| r.target.as_str()).collect();
    assert!(targets.contains(&"/repos/acme/widgets/pulls/7/reviews?per_page=100&page=2"));
    for request in &requests {
        assert_eq!(request.header("authorization"), Some(&*format!("Bearer {TOKEN}")));
        assert_eq!(request.header("accept"), Some("application/vnd.github+json"));
        assert_eq!(request.header("x-github-api-version"), Some("2022-11-28"));
    }
    // Deterministic output.
    let again = collect(&replay, &[sha(1)]);
    assert_eq!(again.to_bytes(), evidence.to_bytes());
}

#[test]
fn self_approval_by_the_commit_author_does_not_count() {
    let replay = Replay::start();
    serve(
        &replay,
        &Scenario {
            commit_author: "carol",
            pr: Some((8, "bob")),
            reviews: &["reviews-self-approved.json"],
            ..compliant(sha(2))
        },
    );
    let evidence = collect(&replay, &[sha(2)]);
    let change = &evidence.changes[0];
    assert!(!change.compliant);
    assert!(change.pull_requests[0].approvers.is_empty());
    assert_eq!(rules(&evidence), ["changes/no-independent-approval"]);
    assert!(
        change.problems[0].message.contains("carol approved their own change"),
        "{}",
        change.problems[0].message
    );
    let report = evidence.report("changes.json", "2023-11-14T22:13:20Z".into(), 0);
    assert_eq!(report.verdict, Verdict::Fail);
    assert_eq!(report.findings[0].severity, Severity::Error);
    assert_eq!(report.findings[0].subject.as_deref(), Some(&*sha(2)));
}

#[test]
fn approval_superseded_by_changes_requested_or_dismissed() {
    let replay = Replay::start();
    serve(&replay, &Scenario { reviews: &["reviews-superseded.json"], ..compliant(sha(3)) });
    let evidence = collect(&replay, &[sha(3)]);
    let change = &evidence.changes[0];
    assert!(!change.compliant);
    let states: Vec<_> =
        change.pull_requests[0].reviews.iter().map(|r| (&*r.reviewer, &*r.state)).collect();
    assert_eq!(states, [("alice", "CHANGES_REQUESTED"), ("dave", "DISMISSED")]);
    assert_eq!(rules(&evidence), ["changes/no-independent-approval"]);
    let message = &change.problems[0].message;
    assert!(message.contains("alice's latest review is CHANGES_REQUESTED"), "{message}");
    assert!(message.contains("dave's approval was dismissed"), "{message}");
}

#[test]
fn direct_push_has_no_pr_even_with_an_open_pr_containing_it() {
    let replay = Replay::start();
    serve(&replay, &compliant(sha(1)));
    serve(&replay, &Scenario { pr: None, ..compliant(sha(4)) });
    // sha(5) is only in a PR that was never merged.
    let api = replay.url().to_owned();
    replay.get(
        &format!("/repos/{REPO}/commits/{}", sha(5)),
        fixture(
            &fixtures(),
            "commit.json",
            &[("sha", &sha(5)), ("login", "mallory"), ("api", &api)],
        ),
    );
    replay.get(
        &format!("/repos/{REPO}/commits/{}/pulls?per_page=100", sha(5)),
        fixture(&fixtures(), "pulls-open.json", &[("sha", &sha(5)), ("api", &api)]),
    );
    let evidence = collect(&replay, &[sha(1), sha(4), sha(5)]);
    let verdicts: Vec<_> = evidence.changes.iter().map(|c| c.compliant).collect();
    assert_eq!(verdicts, [true, false, false]);
    assert_eq!(rules(&evidence), ["changes/no-pr", "changes/no-pr"]);
    assert!(evidence.changes[1].pull_requests.is_empty());
    let findings = evidence.findings("changes.json");
    assert_eq!(findings[0].location.as_ref().unwrap().pointer.as_deref(), Some("/changes/1"));
    assert_eq!(evidence.summary.noncompliant, 2);
}

#[test]
fn failing_and_missing_required_checks() {
    let replay = Replay::start();
    serve(
        &replay,
        &Scenario {
            check_runs: "check-runs-failing.json",
            status: "status-empty.json",
            ..compliant(sha(6))
        },
    );
    let evidence = collect(&replay, &[sha(6)]);
    let change = &evidence.changes[0];
    assert!(!change.compliant);
    assert_eq!(change.pull_requests[0].approvers, ["carol"]);
    let mut got = rules(&evidence);
    got.sort();
    assert_eq!(
        got,
        [
            "changes/required-check-failed",
            "changes/required-check-missing",
            "changes/required-check-missing"
        ]
    );
    let messages: Vec<_> = change.problems.iter().map(|p| p.message.as_str()).collect();
    assert!(messages.iter().any(|m| m.contains("\"ci/build\" is failure")), "{messages:?}");
    assert!(messages.iter().any(|m| m.contains("\"lint\" did not report")), "{messages:?}");
}

#[test]
fn unprotected_branch_requires_no_checks() {
    let replay = Replay::start();
    serve(
        &replay,
        &Scenario {
            required: false,
            check_runs: "check-runs-none.json",
            status: "status-empty.json",
            ..compliant(sha(7))
        },
    );
    let evidence = collect(&replay, &[sha(7)]);
    assert!(evidence.changes[0].compliant);
    assert!(evidence.changes[0].pull_requests[0].required_checks.is_empty());
}

#[test]
fn rate_limit_is_waited_out_then_succeeds() {
    let replay = Replay::start();
    serve(&replay, &compliant(sha(1)));
    let pulls = format!("/repos/{REPO}/commits/{}/pulls?per_page=100", sha(1));
    let ok = fixture(
        &fixtures(),
        "pulls-merged.json",
        &[
            ("sha", &sha(1)),
            ("head_sha", &head_of(&sha(1))),
            ("number", "7"),
            ("pr_author", "bob"),
            ("api", replay.url()),
        ],
    );
    replay.on(
        "GET",
        &pulls,
        vec![
            Answer::error(403, "API rate limit exceeded for user ID 1001.")
                .header("x-ratelimit-limit", "5000")
                .header("x-ratelimit-remaining", "0")
                .header("x-ratelimit-used", "5000")
                .header("x-ratelimit-resource", "core")
                .header("retry-after", "1"),
            Answer::json(200, ok),
        ],
    );
    // A transient 502 on the reviews is retried too.
    let reviews = format!("/repos/{REPO}/pulls/7/reviews?per_page=100");
    let page_1 =
        fixture(&fixtures(), "reviews-page-1.json", &[("api", replay.url()), ("head_sha", "x")]);
    let next = format!("<{}{reviews}&page=2>; rel=\"next\"", replay.url());
    replay.on(
        "GET",
        &reviews,
        vec![Answer::error(502, "Server Error"), Answer::json(200, page_1).header("link", next)],
    );

    let github = client(&replay);
    let evidence = changes::collect(&github, &repo(), &range(&[sha(1)])).unwrap();
    assert!(evidence.changes[0].compliant);
    assert!(github.rate_limit_waited() >= Duration::from_secs(1));
    let count = |t: &str| replay.requests().iter().filter(|r| r.target == t).count();
    assert_eq!(count(&pulls), 2);
    assert_eq!(count(&reviews), 2);
}

#[test]
fn rate_limit_beyond_the_wait_budget_fails_clearly() {
    let replay = Replay::start();
    let commit = format!("/repos/{REPO}/commits/{}", sha(1));
    replay.on(
        "GET",
        &commit,
        vec![
            Answer::error(429, "You have exceeded a secondary rate limit.")
                .header("retry-after", "120"),
        ],
    );
    let github = client_at(replay.url(), Duration::from_secs(5));
    let started = std::time::Instant::now();
    let err = changes::collect(&github, &repo(), &range(&[sha(1)])).unwrap_err();
    assert!(started.elapsed() < Duration::from_secs(5), "waited although over budget");
    assert!(matches!(err, GitHubError::RateLimited { needed_secs: 120, max_secs: 5, .. }), "{err}");
    assert!(err.to_string().contains("maximum total wait of 5 s"), "{err}");
    // A 403 without rate-limit headers is a permission error, not waited on.
    let replay = Replay::start();
    replay.on("GET", &commit, vec![Answer::error(403, "Resource not accessible by integration")]);
    let err = changes::collect(&client(&replay), &repo(), &range(&[sha(1)])).unwrap_err();
    assert!(matches!(err, GitHubError::Status { status: 403, .. }), "{err}");
    assert_eq!(replay.requests().len(), 1);
}

#[test]
fn bad_token_is_a_clear_error_without_the_token() {
    let replay = Replay::start();
    replay.on(
        "GET",
        &format!("/repos/{REPO}/commits/{}", sha(1)),
        vec![Answer::error(401, "Bad credentials")],
    );
    let err = changes::collect(&client(&replay), &repo(), &range(&[sha(1)])).unwrap_err();
    assert!(matches!(err, GitHubError::Unauthorized { .. }), "{err}");
    let text = err.to_string();
    assert!(text.contains("401 (Bad credentials)") && text.contains("GITHUB_TOKEN"), "{text}");
    assert!(!text.contains(TOKEN) && !format!("{err:?}").contains(TOKEN));
    assert_eq!(replay.requests().len(), 1, "a 401 is not retried");
}

#[test]
fn pagination_never_follows_links_to_other_hosts() {
    let replay = Replay::start();
    serve(&replay, &compliant(sha(1)));
    let reviews = format!("/repos/{REPO}/pulls/7/reviews?per_page=100");
    replay.on(
        "GET",
        &reviews,
        vec![
            Answer::json(200, "[]")
                .header("link", "<https://evil.example/steal?page=2>; rel=\"next\""),
        ],
    );
    let err = changes::collect(&client(&replay), &repo(), &range(&[sha(1)])).unwrap_err();
    assert!(matches!(err, GitHubError::Pagination { .. }), "{err}");
}

// Release assets, under a GitHub Enterprise-style base (`/api/v3`, uploads at `/api/uploads`).

struct Publish {
    replay: Replay,
    api: String,
    dir: tempfile::TempDir,
    file: PathBuf,
    digest: String,
}

fn publish_setup(existing: Option<(&str, &str, u64)>) -> Publish {
    let replay = Replay::start();
    let api = format!("{}/api/v3", replay.url());
    let uploads = format!("{}/api/uploads", replay.url());
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("evidence-v1.2.0.tar.gz");
    std::fs::write(&file, b"not really a gzip, but bytes to publish\n").unwrap();
    let digest = {
        use sha2::Digest as _;
        format!("sha256:{}", hex::encode(sha2::Sha256::digest(std::fs::read(&file).unwrap())))
    };
    let vars = [("api", api.as_str()), ("uploads", uploads.as_str())];
    replay.get(
        &format!("/api/v3/repos/{REPO}/releases/tags/v1.2.0"),
        fixture(&fixtures(), "release.json", &vars),
    );
    let assets = format!("/api/v3/repos/{REPO}/releases/4242/assets?per_page=100");
    match existing {
        None => replay.get(&assets, "[]"),
        Some((name, digest, size)) => replay.get(
            &assets,
            fixture(
                &fixtures(),
                "assets-existing.json",
                &[("api", &api), ("name", name), ("digest", digest), ("size", &size.to_string())],
            ),
        ),
    };
    Publish { replay, api, dir, file, digest }
}

#[test]
fn publish_uploads_the_bundle_to_the_release() {
    let p = publish_setup(None);
    let size = std::fs::metadata(&p.file).unwrap().len();
    let upload =
        format!("/api/uploads/repos/{REPO}/releases/4242/assets?name=evidence-v1.2.0.tar.gz");
    p.replay.on(
        "POST",
        &upload,
        vec![Answer::json(
            201,
            fixture(
                &fixtures(),
                "asset-uploaded.json",
                &[
                    ("api", &p.api),
                    ("name", "evidence-v1.2.0.tar.gz"),
                    ("size", &size.to_string()),
                    ("digest", &format!("\"{}\"", p.digest)),
                ],
            ),
        )],
    );
    let github = client_at(&p.api, Duration::from_secs(60));
    let outcome = release::attach(&github, &repo(), "v1.2.0", &p.file).unwrap();
    let Attached::Uploaded(asset) = outcome else { panic!("{outcome:?}") };
    assert_eq!(asset.id, 778);
    assert_eq!(asset.digest.as_deref(), Some(&*p.digest));
    assert_eq!(p.replay.unanswered(), Vec::<String>::new());
    let requests = p.replay.requests();
    let post = requests.iter().find(|r| r.method == "POST").expect("an upload");
    assert_eq!(post.target, upload);
    assert_eq!(post.header("content-type"), Some("application/gzip"));
    assert_eq!(post.header("authorization"), Some(&*format!("Bearer {TOKEN}")));
    assert_eq!(post.body, std::fs::read(&p.file).unwrap());
    drop(p.dir);
}

#[test]
fn publish_refuses_to_overwrite_a_different_or_unprovable_asset() {
    let name = "evidence-v1.2.0.tar.gz";
    let cases = [
        (
            "\"sha256:0000000000000000000000000000000000000000000000000000000000000000\"",
            None,
            "has digest sha256:0000",
        ),
        ("null", None, "GitHub reports no digest"),
        ("null", Some(3), "has 3 bytes where the file has"),
    ];
    for (digest, size, expected) in cases {
        let probe = publish_setup(None);
        let real_size = std::fs::metadata(&probe.file).unwrap().len();
        let p = publish_setup(Some((name, digest, size.unwrap_or(real_size))));
        let github = client_at(&p.api, Duration::from_secs(60));
        let err = release::attach(&github, &repo(), "v1.2.0", &p.file).unwrap_err();
        assert!(err.is_refusal(), "{err}");
        let text = err.to_string();
        assert!(text.contains(expected) && text.contains("refusing to overwrite"), "{text}");
        assert!(
            p.replay.requests().iter().all(|r| r.method != "POST"),
            "an upload happened although the asset exists"
        );
    }
}

#[test]
fn publish_keeps_an_identical_asset_and_reports_a_missing_release() {
    let probe = publish_setup(None);
    let size = std::fs::metadata(&probe.file).unwrap().len();
    let p = publish_setup(Some(("evidence-v1.2.0.tar.gz", &format!("\"{}\"", probe.digest), size)));
    let github = client_at(&p.api, Duration::from_secs(60));
    let outcome = release::attach(&github, &repo(), "v1.2.0", &p.file).unwrap();
    assert!(matches!(outcome, Attached::AlreadyPresent(ref a) if a.id == 777), "{outcome:?}");
    assert!(p.replay.requests().iter().all(|r| r.method != "POST"));

    p.replay.on(
        "GET",
        &format!("/api/v3/repos/{REPO}/releases/tags/v9.9.9"),
        vec![Answer::error(404, "Not Found")],
    );
    let err = release::attach(&github, &repo(), "v9.9.9", &p.file).unwrap_err();
    assert!(matches!(err, GitHubError::ReleaseNotFound { .. }), "{err}");
    assert!(!err.is_refusal());
}

#[test]
fn publish_sends_the_token_to_no_other_upload_host() {
    let replay = Replay::start();
    let api = format!("{}/api/v3", replay.url());
    let vars = [("api", api.as_str()), ("uploads", "https://uploads.evil.example")];
    replay.get(
        &format!("/api/v3/repos/{REPO}/releases/tags/v1.2.0"),
        fixture(&fixtures(), "release.json", &vars),
    );
    replay.get(&format!("/api/v3/repos/{REPO}/releases/4242/assets?per_page=100"), "[]");
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("evidence.tar.gz");
    std::fs::write(&file, b"bytes").unwrap();
    let github = client_at(&api, Duration::from_secs(60));
    let err = release::attach(&github, &repo(), "v1.2.0", &file).unwrap_err();
    assert!(matches!(err, GitHubError::UploadUrl { .. }), "{err}");
    assert!(replay.requests().iter().all(|r| r.method != "POST"));
}
