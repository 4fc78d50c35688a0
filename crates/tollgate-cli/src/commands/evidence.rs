//! `tollgate evidence build|verify|show`: evidence bundles.
//!
//! Exit codes: 0 built / verified / shown. 1: the bundle does not verify — a bad signature or
//! wrong key, a tampered manifest, a file whose size or digest differs, an extra, duplicate or
//! missing file, an absolute or `..` path, a link or device entry, or a truncated or corrupt
//! archive (the bundle was read, and is not what its signed manifest says). 2: input errors —
//! an unreadable key or bundle file, a bad run directory, a file name that is neither
//! .tar.gz/.tgz nor .tar.zst/.tzst, bad arguments.

use crate::cli::{EvidenceBuildArgs, EvidenceCommand, EvidenceShowArgs, EvidenceVerifyArgs};
use anyhow::Context;
use std::path::{Path, PathBuf};
use tollgate_core::{Config, Verdict};
use tollgate_evidence::{EvidenceError, Summary};

pub fn run(command: EvidenceCommand) -> anyhow::Result<Verdict> {
    match command {
        EvidenceCommand::Build(args) => build(&args),
        EvidenceCommand::Verify(args) => verify(&args),
        EvidenceCommand::Show(args) => show(&args),
    }
}

fn build(args: &EvidenceBuildArgs) -> anyhow::Result<Verdict> {
    let run_dir = match &args.run_dir {
        Some(dir) => dir.clone(),
        None => newest_run(&args.root)?,
    };
    let key = super::keys::load_signing_key(&args.key)?;
    let built = tollgate_evidence::build(&run_dir, &key, &args.output, env!("CARGO_PKG_VERSION"))?;
    crate::output::emit(
        None,
        &format!(
            "wrote {}: {} file(s), {} bytes, release {}; manifest sha256:{} signed by key {} ({}); \
             archive sha256:{}\n",
            args.output.display(),
            built.manifest.files.len(),
            built.manifest.total_size(),
            built.manifest.release.run_id,
            built.manifest_sha256,
            key.verifying_key().key_id(),
            key.algorithm(),
            built.archive_sha256,
        ),
    )?;
    Ok(Verdict::Pass)
}

/// The newest run directory under `[release] out_dir` (run ids sort by time).
fn newest_run(root: &Path) -> anyhow::Result<PathBuf> {
    let config = Config::load(root)?;
    let out_dir = root.join(&config.release.out_dir);
    let mut runs: Vec<PathBuf> = std::fs::read_dir(&out_dir)
        .with_context(|| format!("{}: cannot list release runs; give RUN_DIR", out_dir.display()))?
        .filter_map(Result::ok)
        .map(|e| e.path())
        .filter(|p| p.is_dir())
        .collect();
    runs.sort();
    runs.pop().with_context(|| format!("{}: no release runs; give RUN_DIR", out_dir.display()))
}

fn verify(args: &EvidenceVerifyArgs) -> anyhow::Result<Verdict> {
    let key = super::keys::load_verifying_key(&args.key)?;
    match tollgate_evidence::verify(&args.file, &key) {
        Ok(summary) => {
            crate::output::emit(
                None,
                &format!(
                    "verified {}: signature by key {}, {} file(s), {} bytes, every size, sha256 \
                     and sha512 matches\n{}",
                    args.file.display(),
                    key.key_id(),
                    summary.manifest.files.len(),
                    summary.manifest.total_size(),
                    describe(&summary),
                ),
            )?;
            Ok(Verdict::Pass)
        }
        Err(e) if e.is_input_error() => Err(e.into()),
        Err(e) => fail(&e),
    }
}

fn fail(error: &EvidenceError) -> anyhow::Result<Verdict> {
    eprintln!("verification failed: {error}");
    Ok(Verdict::Fail)
}

fn show(args: &EvidenceShowArgs) -> anyhow::Result<Verdict> {
    match tollgate_evidence::show(&args.file) {
        Ok(summary) => {
            let mut text = format!("bundle {} (not verified)\n", args.file.display());
            text.push_str(&describe(&summary));
            for file in &summary.manifest.files {
                text.push_str(&format!(
                    "  {:>12}  {}  {}\n",
                    file.size, file.media_type, file.path
                ));
            }
            crate::output::emit(None, &text)?;
            Ok(Verdict::Pass)
        }
        Err(e) if e.is_input_error() => Err(e.into()),
        Err(e) => fail(&e),
    }
}

fn describe(summary: &Summary) -> String {
    let m = &summary.manifest;
    format!(
        "release:  {}\nstarted:  {}\nverdict:  {}\ntool:     {} {}\nfiles:    {} ({} bytes)\nmanifest: sha256:{}\n",
        m.release.run_id,
        m.release.started.as_deref().unwrap_or("-"),
        m.release.verdict.as_deref().unwrap_or("-"),
        m.tool.name,
        m.tool.version,
        m.files.len(),
        m.total_size(),
        summary.manifest_sha256,
    )
}
