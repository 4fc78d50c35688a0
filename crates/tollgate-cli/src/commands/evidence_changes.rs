//! `tollgate evidence git`, `tollgate evidence changes` and the `--github-release` branch of
//! `tollgate evidence publish`: the release's git range, change-management evidence from
//! GitHub, and attaching a bundle to a GitHub release.
//!
//! Exit codes. `git`: 0 unless an unsigned commit's severity (`[evidence.git] unsigned_commit`,
//! default info) reaches error, then 1. `changes`: 1 when any change lacks a merged PR, an
//! independent approval or a passing required check. `publish --github-release`: 1 when an
//! asset of the bundle's name exists and is not identical (never overwritten). 2 for input
//! errors: not a repository, a bad range or `OWNER/NAME`, GitHub unreachable, a rejected token
//! (401), a rate limit beyond `[evidence.github] max_rate_limit_wait_secs`, a missing release.

use std::path::{Path, PathBuf};
use std::time::Instant;

use anyhow::Context;
use tollgate_core::{Verdict, time_source};
use tollgate_evidence::gate::EvidenceGitHubConfig;
use tollgate_evidence::git_range::{self, GitRange};
use tollgate_evidence::github::release::{self, Attached};
use tollgate_evidence::github::{RepoSlug, changes};
use tollgate_release::Config;

use crate::cli::{EvidenceChangesArgs, EvidenceGitArgs, EvidencePublishArgs};

/// `tollgate evidence git`.
pub fn git(args: &EvidenceGitArgs) -> anyhow::Result<Verdict> {
    let config = Config::load(&args.root)?;
    let started = Instant::now();
    let start_time = time_source::rfc3339(time_source::now()?);
    let range = git_range::collect(&args.root, args.range.as_deref())?;
    let output = output_path(&args.root, &config, args.output.as_deref(), "git.json");
    let bytes = range.to_bytes();
    write(&output, &bytes)?;
    let name = display_name(&output);
    let report = range.report(
        &name,
        &bytes,
        config.evidence.git.unsigned_commit,
        start_time,
        started.elapsed().as_millis() as u64,
    );
    eprintln!("{}", describe_range(&range, &output));
    super::sbom::emit_report(&args.report, &report)
}

/// `tollgate evidence changes`.
pub fn changes(args: &EvidenceChangesArgs) -> anyhow::Result<Verdict> {
    let config = Config::load(&args.root)?;
    let started = Instant::now();
    let start_time = time_source::rfc3339(time_source::now()?);
    let repo: RepoSlug = args.repo.parse()?;
    let range = git_range::collect(&args.root, args.range.as_deref())?;
    let github = config.evidence.github.connect()?;
    let evidence = changes::collect(&github, &repo, &range)?;
    let output = output_path(&args.root, &config, args.output.as_deref(), "changes.json");
    write(&output, &evidence.to_bytes())?;
    let report =
        evidence.report(&display_name(&output), start_time, started.elapsed().as_millis() as u64);
    eprintln!(
        "{}\n{} of {} change(s) compliant in {repo}; wrote {}",
        describe_range(&range, &output).lines().next().unwrap_or_default(),
        evidence.summary.compliant,
        evidence.summary.changes,
        output.display()
    );
    super::sbom::emit_report(&args.report, &report)
}

/// `tollgate evidence publish … --github-release TAG --github-repo OWNER/NAME`, run after the
/// bundle was verified and published to the store.
pub fn publish_github_release(args: &EvidencePublishArgs, tag: &str) -> anyhow::Result<Verdict> {
    let repo: RepoSlug = args
        .github_repo
        .as_deref()
        .context("--github-release needs --github-repo OWNER/NAME (or GITHUB_REPOSITORY)")?
        .parse()?;
    let github = EvidenceGitHubConfig::default().connect()?;
    match release::attach(&github, &repo, tag, &args.file) {
        Ok(Attached::Uploaded(asset)) => {
            crate::output::emit(
                None,
                &format!(
                    "attached to GitHub release {tag} of {repo}: asset {} ({} bytes, {}){}\n",
                    asset.name,
                    asset.size,
                    asset.digest.as_deref().unwrap_or("no digest reported"),
                    asset.browser_download_url.map(|u| format!(" {u}")).unwrap_or_default(),
                ),
            )?;
            Ok(Verdict::Pass)
        }
        Ok(Attached::AlreadyPresent(asset)) => {
            crate::output::emit(
                None,
                &format!(
                    "already attached to GitHub release {tag} of {repo}: asset {} is identical \
                     ({} bytes, {}); nothing uploaded\n",
                    asset.name,
                    asset.size,
                    asset.digest.as_deref().unwrap_or_default(),
                ),
            )?;
            Ok(Verdict::Pass)
        }
        Err(e) if e.is_refusal() => {
            eprintln!("not attached: {e}");
            Ok(Verdict::Fail)
        }
        Err(e) => Err(e.into()),
    }
}

fn output_path(root: &Path, config: &Config, given: Option<&Path>, file: &str) -> PathBuf {
    given.map(Path::to_path_buf).unwrap_or_else(|| root.join(&config.release.out_dir).join(file))
}

fn write(path: &Path, bytes: &[u8]) -> anyhow::Result<()> {
    tollgate_core::fs::write_atomic(path, bytes)
        .with_context(|| format!("{}: cannot write", path.display()))
}

/// The output's name as findings cite it.
fn display_name(path: &Path) -> String {
    path.to_string_lossy().replace('\\', "/")
}

fn describe_range(range: &GitRange, output: &Path) -> String {
    let base = match (&range.range.base, &range.range.base_sha) {
        (Some(name), Some(sha)) => format!("{name} ({})", &sha[..sha.len().min(12)]),
        _ => "the root commit".to_owned(),
    };
    format!(
        "range {base}..{} ({}): {} commit(s), {} signed, {} unsigned (signatures not verified)\nwrote {}",
        range.range.head,
        &range.range.head_sha[..range.range.head_sha.len().min(12)],
        range.summary.commits,
        range.summary.signed,
        range.summary.unsigned,
        output.display()
    )
}
