//! `tollgate evidence git`, `tollgate evidence changes` and `tollgate evidence publish
//! --github-release` — the real binary on a real git repository made with git2, talking to
//! GitHub through octocrab. GitHub is a local HTTP server on a real socket replaying responses
//! hand-written in the exact shape of GitHub's REST API (`crate::replay`, fixtures in
//! `crates/tollgate-evidence/tests/fixtures/github/`; no network here), served under a GitHub
//! Enterprise-style `/api/v3` base that `GITHUB_API_URL` points at.

use crate::replay::{Answer, Replay, fixture};
use crate::support::{run, text, tollgate};
use std::path::{Path, PathBuf};
use std::process::Command;

const TOKEN: &str = "ghp_e2eReplayToken9876543210";
const REPO: &str = "acme/widgets";

fn fixtures() -> PathBuf {
    crate::support::fixture("tollgate-evidence", "github")
}

/// A repository: `v1.0.0` on the first commit, then two more (range v1.0.0..HEAD = 2 commits).
fn repository(dir: &Path) -> Vec<String> {
    let repo = git2::Repository::init(dir).unwrap();
    let mut shas = Vec::new();
    for (i, name) in ["first", "reviewed change", "direct push"].iter().enumerate() {
        std::fs::write(dir.join(format!("f{i}.txt")), name).unwrap();
        let mut index = repo.index().unwrap();
        index.add_path(Path::new(&format!("f{i}.txt"))).unwrap();
        index.write().unwrap();
        let tree = repo.find_tree(index.write_tree().unwrap()).unwrap();
        let who = git2::Signature::new(
            "Bob Builder",
            "bob@example.com",
            &git2::Time::new(1_700_000_000 + i as i64 * 60, 0),
        )
        .unwrap();
        let parent = repo.head().ok().and_then(|h| h.peel_to_commit().ok());
        let parents: Vec<&git2::Commit<'_>> = parent.iter().collect();
        let oid = repo.commit(Some("HEAD"), &who, &who, name, &tree, &parents).unwrap();
        if i == 0 {
            let object = repo.find_object(oid, None).unwrap();
            repo.tag("v1.0.0", &object, &who, "v1.0.0", false).unwrap();
        }
        shas.push(oid.to_string());
    }
    shas
}

/// `tollgate` with GitHub pointed at the replay server.
fn tollgate_gh(dir: &Path, replay: &Replay, token: &str) -> Command {
    let mut cmd = tollgate(dir);
    cmd.env("GITHUB_API_URL", format!("{}/api/v3", replay.url()))
        .env("GITHUB_TOKEN", token)
        .env_remove("GITHUB_REPOSITORY");
    cmd
}

/// The second commit came through PR #7 (approved by carol on page 2 of the reviews, every
/// required check passed); the third was pushed directly.
fn serve_changes(replay: &Replay, shas: &[String]) {
    let dir = fixtures();
    let api = format!("{}/api/v3", replay.url());
    let (reviewed, pushed) = (&shas[1], &shas[2]);
    let head = format!("ff{}", &reviewed[2..]);
    let vars = [
        ("sha", reviewed.as_str()),
        ("head_sha", head.as_str()),
        ("number", "7"),
        ("pr_author", "bob"),
        ("login", "bob"),
        ("api", api.as_str()),
    ];
    let p = format!("/api/v3/repos/{REPO}");
    for sha in [reviewed, pushed] {
        let vars = [("sha", sha.as_str()), ("login", "bob"), ("api", api.as_str())];
        replay.get(&format!("{p}/commits/{sha}"), fixture(&dir, "commit.json", &vars));
    }
    replay.get(&format!("{p}/commits/{pushed}/pulls?per_page=100"), "[]");
    replay.get(
        &format!("{p}/commits/{reviewed}/pulls?per_page=100"),
        fixture(&dir, "pulls-merged.json", &vars),
    );
    let reviews = format!("{p}/pulls/7/reviews?per_page=100");
    replay.on(
        "GET",
        &reviews,
        vec![
            Answer::json(200, fixture(&dir, "reviews-page-1.json", &vars))
                .header("link", format!("<{}{reviews}&page=2>; rel=\"next\"", replay.url())),
        ],
    );
    replay.get(&format!("{reviews}&page=2"), fixture(&dir, "reviews-page-2.json", &vars));
    replay.get(
        &format!("{p}/branches/main/protection/required_status_checks"),
        fixture(&dir, "required-status-checks.json", &vars),
    );
    replay.get(
        &format!("{p}/commits/{head}/check-runs?per_page=100"),
        fixture(&dir, "check-runs-passing.json", &vars),
    );
    replay.get(
        &format!("{p}/commits/{head}/status?per_page=100"),
        fixture(&dir, "status.json", &vars),
    );
}

#[test]
fn git_range_json_and_unsigned_commit_severity() {
    let dir = tempfile::tempdir().unwrap();
    let shas = repository(dir.path());
    let output = run(tollgate(dir.path()).args(["evidence", "git", "--output", "git.json"]));
    assert_eq!(output.status.code(), Some(0), "{}", text(&output));
    let git: serde_json::Value =
        serde_json::from_slice(&std::fs::read(dir.path().join("git.json")).unwrap()).unwrap();
    assert_eq!(git["range"]["base"], "v1.0.0");
    assert_eq!(git["range"]["baseSha"], shas[0].as_str());
    let listed: Vec<_> =
        git["commits"].as_array().unwrap().iter().map(|c| c["sha"].clone()).collect();
    assert_eq!(listed, [shas[1].as_str(), shas[2].as_str()]);
    assert_eq!(git["commits"][0]["signature"]["kind"], "none");
    assert!(
        String::from_utf8_lossy(&output.stdout).contains("git/unsigned-commit"),
        "{}",
        text(&output)
    );

    // Unsigned commits as errors fail the gate; the JSON report says which.
    std::fs::write(
        dir.path().join("tollgate.toml"),
        "[evidence.git]\nunsigned_commit = \"error\"\n",
    )
    .unwrap();
    let output = run(tollgate(dir.path()).args([
        "evidence",
        "git",
        "--range",
        &format!("{}..{}", shas[0], shas[1]),
        "--report-format",
        "json",
    ]));
    assert_eq!(output.status.code(), Some(1), "{}", text(&output));
    let report: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    let findings = report["reports"][0]["findings"].as_array().unwrap();
    assert_eq!(findings.len(), 1, "{report:#}");
    assert_eq!(findings[0]["subject"], shas[1].as_str());
    assert!(dir.path().join("target/tollgate/git.json").is_file(), "default output place");

    let output = run(tollgate(dir.path()).args(["evidence", "git", "--range", "HEAD"]));
    assert_eq!(output.status.code(), Some(2), "{}", text(&output));
    assert!(String::from_utf8_lossy(&output.stderr).contains("expected A..B"), "{}", text(&output));
}

#[test]
fn changes_against_replayed_github() {
    let dir = tempfile::tempdir().unwrap();
    let shas = repository(dir.path());
    let replay = Replay::start();
    serve_changes(&replay, &shas);
    let output = run(tollgate_gh(dir.path(), &replay, TOKEN).args([
        "evidence",
        "changes",
        "--repo",
        REPO,
        "--output",
        "changes.json",
        "--report-format",
        "json",
    ]));
    // The direct push has no PR: the gate fails.
    assert_eq!(output.status.code(), Some(1), "{}", text(&output));
    assert_eq!(replay.unanswered(), Vec::<String>::new());
    assert!(!text(&output).contains(TOKEN));
    for request in replay.requests() {
        assert_eq!(request.header("authorization"), Some(&*format!("Bearer {TOKEN}")));
    }

    let changes: serde_json::Value =
        serde_json::from_slice(&std::fs::read(dir.path().join("changes.json")).unwrap()).unwrap();
    assert_eq!(changes["repository"], REPO);
    assert_eq!(changes["changes"][0]["sha"], shas[1].as_str());
    assert_eq!(changes["changes"][0]["compliant"], true);
    assert_eq!(changes["changes"][0]["pullRequests"][0]["number"], 7);
    assert_eq!(changes["changes"][0]["pullRequests"][0]["approvers"], serde_json::json!(["carol"]));
    assert_eq!(changes["changes"][1]["compliant"], false);
    assert_eq!(
        changes["summary"],
        serde_json::json!({"changes": 2, "compliant": 1, "noncompliant": 1})
    );
    let report: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(report["reports"][0]["gate"], "changes");
    assert_eq!(report["reports"][0]["verdict"], "fail");
    assert_eq!(report["reports"][0]["findings"][0]["rule"], "changes/no-pr");
    assert_eq!(report["reports"][0]["findings"][0]["subject"], shas[2].as_str());

    // Only the reviewed commit: compliant, exit 0.
    let output = run(tollgate_gh(dir.path(), &replay, TOKEN).args([
        "evidence",
        "changes",
        "--repo",
        REPO,
        "--range",
        &format!("{}..{}", shas[0], shas[1]),
        "--output",
        "changes-1.json",
    ]));
    assert_eq!(output.status.code(), Some(0), "{}", text(&output));
}

#[test]
fn changes_with_a_rejected_token_is_an_input_error() {
    let dir = tempfile::tempdir().unwrap();
    let shas = repository(dir.path());
    let replay = Replay::start();
    replay.on(
        "GET",
        &format!("/api/v3/repos/{REPO}/commits/{}", shas[1]),
        vec![Answer::error(401, "Bad credentials")],
    );
    let output = run(tollgate_gh(dir.path(), &replay, "ghp_revoked_token_value")
        .args(["evidence", "changes", "--repo", REPO]));
    assert_eq!(output.status.code(), Some(2), "{}", text(&output));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("401 (Bad credentials)") && stderr.contains("GITHUB_TOKEN"),
        "{stderr}"
    );
    assert!(!stderr.contains("ghp_revoked_token_value"), "{stderr}");
    assert!(!dir.path().join("target/tollgate/changes.json").exists());

    let output = run(tollgate_gh(dir.path(), &replay, TOKEN).args([
        "evidence",
        "changes",
        "--repo",
        "not-a-slug",
    ]));
    assert_eq!(output.status.code(), Some(2), "{}", text(&output));
}

/// A signed bundle of a tiny run directory, and the key pair.
fn bundle(dir: &Path) -> PathBuf {
    let output = run(tollgate(dir).args(["keys", "generate", "--output-dir", "keys"]));
    assert!(output.status.success(), "{}", text(&output));
    let run_dir = dir.join("run");
    std::fs::create_dir_all(&run_dir).unwrap();
    std::fs::write(run_dir.join("notes.json"), "{\"hello\": \"auditor\"}\n").unwrap();
    let output = run(tollgate(dir).args([
        "evidence",
        "build",
        "run",
        "--key",
        "keys/tollgate.key",
        "--output",
        "evidence-v1.2.0.tar.gz",
    ]));
    assert!(output.status.success(), "{}", text(&output));
    dir.join("evidence-v1.2.0.tar.gz")
}

fn publish(dir: &Path, replay: &Replay, store: &str) -> std::process::Output {
    run(tollgate_gh(dir, replay, TOKEN).args([
        "evidence",
        "publish",
        "evidence-v1.2.0.tar.gz",
        "--key",
        "keys/tollgate.pub",
        "--store",
        store,
        "--github-release",
        "v1.2.0",
        "--github-repo",
        REPO,
    ]))
}

#[test]
fn publish_attaches_the_bundle_to_a_github_release_and_never_overwrites() {
    let dir = tempfile::tempdir().unwrap();
    let file = bundle(dir.path());
    let bytes = std::fs::read(&file).unwrap();
    let digest = {
        use sha2::Digest as _;
        format!("sha256:{}", hex::encode(sha2::Sha256::digest(&bytes)))
    };
    let name = "evidence-v1.2.0.tar.gz";
    let size = bytes.len().to_string();
    let serve = |replay: &Replay, existing: Option<&str>| {
        let api = format!("{}/api/v3", replay.url());
        let uploads = format!("{}/api/uploads", replay.url());
        let vars = [("api", api.as_str()), ("uploads", uploads.as_str())];
        replay.get(
            &format!("/api/v3/repos/{REPO}/releases/tags/v1.2.0"),
            fixture(&fixtures(), "release.json", &vars),
        );
        let assets = format!("/api/v3/repos/{REPO}/releases/4242/assets?per_page=100");
        match existing {
            None => replay.get(&assets, "[]"),
            Some(digest) => replay.get(
                &assets,
                fixture(
                    &fixtures(),
                    "assets-existing.json",
                    &[("api", &api), ("name", name), ("digest", digest), ("size", &size)],
                ),
            ),
        };
        let quoted = format!("\"{digest}\"");
        replay.on(
            "POST",
            &format!("/api/uploads/repos/{REPO}/releases/4242/assets?name={name}"),
            vec![Answer::json(
                201,
                fixture(
                    &fixtures(),
                    "asset-uploaded.json",
                    &[("api", &api), ("name", name), ("size", &size), ("digest", &quoted)],
                ),
            )],
        );
    };

    let replay = Replay::start();
    serve(&replay, None);
    let output = publish(dir.path(), &replay, "store-1");
    assert_eq!(output.status.code(), Some(0), "{}", text(&output));
    assert!(String::from_utf8_lossy(&output.stdout).contains("attached to GitHub release v1.2.0"));
    let uploads: Vec<_> = replay.requests().into_iter().filter(|r| r.method == "POST").collect();
    assert_eq!(uploads.len(), 1);
    assert_eq!(uploads[0].body, bytes);
    assert_eq!(uploads[0].header("content-type"), Some("application/gzip"));
    assert_eq!(uploads[0].header("authorization"), Some(&*format!("Bearer {TOKEN}")));

    // Another file under that name is already attached: refused, exit 1, nothing uploaded.
    let replay = Replay::start();
    serve(
        &replay,
        Some("\"sha256:1111111111111111111111111111111111111111111111111111111111111111\""),
    );
    let output = publish(dir.path(), &replay, "store-2");
    assert_eq!(output.status.code(), Some(1), "{}", text(&output));
    assert!(
        String::from_utf8_lossy(&output.stderr).contains("refusing to overwrite"),
        "{}",
        text(&output)
    );
    assert!(replay.requests().iter().all(|r| r.method != "POST"), "uploaded anyway");
}

/// `tollgate release` with `[evidence.github] repo` set: the `evidence` stage collects the
/// change evidence of the release range into the run directory (and so into the bundle), and a
/// direct push without a pull request makes the release no-go. GitHub is the replay server.
#[test]
fn release_collects_change_evidence_and_an_unreviewed_change_is_no_go() {
    let dir = tempfile::tempdir().unwrap();
    crate::support::copy_tree(
        &crate::support::fixture("tollgate-sbom", "cargo-workspace"),
        dir.path(),
    );
    std::fs::write(
        dir.path().join("tollgate.toml"),
        format!("[evidence.github]\nrepo = \"{REPO}\"\n"),
    )
    .unwrap();
    let shas = repository(dir.path());
    let replay = Replay::start();
    serve_changes(&replay, &shas);
    let output = run(tollgate_gh(dir.path(), &replay, TOKEN).args(["release", "--out", "out"]));
    assert_eq!(output.status.code(), Some(1), "{}", text(&output));
    assert!(String::from_utf8_lossy(&output.stdout).contains("NO-GO"), "{}", text(&output));
    assert!(!text(&output).contains(TOKEN));
    let run_dir = std::fs::read_dir(dir.path().join("out"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .find(|p| p.is_dir())
        .unwrap();
    let changes: serde_json::Value =
        serde_json::from_slice(&std::fs::read(run_dir.join("changes.json")).unwrap()).unwrap();
    assert_eq!(
        changes["summary"],
        serde_json::json!({"changes": 2, "compliant": 1, "noncompliant": 1})
    );
    let evidence: serde_json::Value =
        serde_json::from_slice(&std::fs::read(run_dir.join("evidence.json")).unwrap()).unwrap();
    assert_eq!(evidence["verdict"], "fail");
    let rules: Vec<&str> = evidence["findings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["rule"].as_str().unwrap())
        .collect();
    assert!(rules.contains(&"changes/no-pr") && rules.contains(&"evidence/changes"), "{rules:?}");
    let git: serde_json::Value =
        serde_json::from_slice(&std::fs::read(run_dir.join("git.json")).unwrap()).unwrap();
    assert_eq!(git["range"]["base"], "v1.0.0");
}
