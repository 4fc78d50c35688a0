//! `tollgate evidence build|verify|show|controls`: evidence bundles and their control mapping.
//!
//! Exit codes: 0 built / verified / shown. 1: the bundle does not verify — a bad signature or
//! wrong key, a tampered manifest, a file whose size or digest differs, an extra, duplicate or
//! missing file or directory, an absolute or `..` path, a link, device, pax or other entry
//! bundles never hold, a tar header not in the builder's canonical form, or a truncated,
//! corrupt or padded archive (the file is a gzip or zstd stream as its name says, and is not
//! what its signed manifest says); for `show`, a bundle whose manifest entry cannot be read.
//! 2: input errors — an unreadable key or bundle file, a file that is not a bundle at all (it
//! does not start with the gzip or zstd magic number its name calls for, or is empty), a bad
//! run directory, a file name that is neither .tar.gz/.tgz nor .tar.zst/.tzst, bad arguments.

use crate::cli::{
    EvidenceBuildArgs, EvidenceCommand, EvidenceControlsArgs, EvidenceShowArgs, EvidenceVerifyArgs,
};
use anyhow::Context;
use std::path::{Path, PathBuf};
use tollgate_core::Verdict;
use tollgate_evidence::{EvidenceError, Summary};
use tollgate_release::Config;

pub fn run(command: EvidenceCommand) -> anyhow::Result<Verdict> {
    match command {
        EvidenceCommand::Build(args) => build(&args),
        EvidenceCommand::Verify(args) => verify(&args),
        EvidenceCommand::Show(args) => show(&args),
        EvidenceCommand::Controls(args) => controls(&args),
        EvidenceCommand::Publish(args) => super::evidence_publish::run(&args),
        EvidenceCommand::Git(args) => super::evidence_changes::git(&args),
        EvidenceCommand::Changes(args) => super::evidence_changes::changes(&args),
    }
}

fn build(args: &EvidenceBuildArgs) -> anyhow::Result<Verdict> {
    let run_dir = match &args.run_dir {
        Some(dir) => dir.clone(),
        None => newest_run(&args.root)?,
    };
    let key = super::keys::load_signing_key(&args.key)?;
    // The repository's configuration decides the control mapping and is digested, with the
    // policy set, into the manifest's producer block.
    let config = Config::load(&args.root)?;
    let options = tollgate_evidence::BuildOptions::new(env!("CARGO_PKG_VERSION"))
        .config(
            config.evidence.clone(),
            config.to_json(),
            args.root.join(tollgate_core::config::CONFIG_FILE),
        )
        .policies_dir(args.root.join("policies"));
    let built = tollgate_evidence::build(&run_dir, &key, &args.output, options)?;
    crate::output::emit(
        None,
        &format!(
            "wrote {}: {} file(s), {} bytes, release {}; manifest sha256:{} signed by key {} ({}); \
             archive sha256:{}\n{}",
            args.output.display(),
            built.manifest.files.len(),
            built.manifest.total_size(),
            built.manifest.release.run_id,
            built.manifest_sha256,
            key.verifying_key().key_id(),
            key.algorithm(),
            built.archive_sha256,
            coverage_lines(&built.manifest.coverage(), false),
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
                    "  {:>12}  {:<20} {}  {}\n",
                    file.size,
                    file.kind.as_str(),
                    file.media_type,
                    file.path
                ));
            }
            text.push_str(&coverage_lines(&summary.manifest.coverage(), true));
            crate::output::emit(None, &text)?;
            Ok(Verdict::Pass)
        }
        Err(e) if e.is_input_error() => Err(e.into()),
        Err(e) => {
            // `show` verifies nothing: the bundle is unreadable, not "failed verification".
            eprintln!("cannot read the bundle's manifest: {e}");
            Ok(Verdict::Fail)
        }
    }
}

fn describe(summary: &Summary) -> String {
    let m = &summary.manifest;
    format!(
        "release:  {}\nstarted:  {}\nverdict:  {}\ntool:     {} {}\nconfig:   sha256:{}\npolicy:   sha256:{}\nfiles:    {} ({} bytes)\nmanifest: sha256:{}\n",
        m.release.run_id,
        m.release.started.as_deref().unwrap_or("-"),
        m.release.verdict.as_deref().unwrap_or("-"),
        m.producer.tool.name,
        m.producer.tool.version,
        m.producer.config_sha256,
        m.producer.policy_sha256,
        m.files.len(),
        m.total_size(),
        summary.manifest_sha256,
    )
}

/// `coverage:` then one line per catalog (covered/total); with `uncovered`, the ids of the
/// controls without evidence.
fn coverage_lines(coverage: &tollgate_evidence::Coverage, uncovered: bool) -> String {
    let mut text = String::from("coverage:\n");
    if coverage.catalogs.is_empty() {
        text.push_str("  no control catalogs in use\n");
    }
    for catalog in &coverage.catalogs {
        text.push_str(&format!(
            "  {:<9} {:>3}/{:<3} controls with evidence  {} ({})\n",
            catalog.id, catalog.covered, catalog.total, catalog.title, catalog.version
        ));
        let missing = catalog.uncovered();
        if uncovered && !missing.is_empty() {
            text.push_str(&format!("            uncovered: {}\n", missing.join(" ")));
        }
    }
    text
}

/// `tollgate evidence controls`: the catalogs in use and the effective mapping.
fn controls(args: &EvidenceControlsArgs) -> anyhow::Result<Verdict> {
    let config = Config::load(&args.root)?;
    let mapping = tollgate_evidence::Mapping::from_config(
        &config.evidence,
        &args.root.join(tollgate_core::config::CONFIG_FILE),
    )?;
    let defaults = tollgate_evidence::controls::default_mapping_entries();
    let text = if args.format == "json" {
        let kinds: serde_json::Map<String, serde_json::Value> = mapping
            .kinds
            .iter()
            .map(|(kind, ids)| {
                let overridden = mapping.overridden.contains(kind);
                let mut entry = serde_json::json!({
                    "controls": ids,
                    "source": if overridden { "tollgate.toml" } else { "default" },
                });
                if !overridden && let Some(default) = defaults.get(kind.as_str()) {
                    entry["why"] = default.why.clone().into();
                }
                (kind.as_str().to_owned(), entry)
            })
            .collect();
        let doc = serde_json::json!({
            "catalogs": mapping.used_catalogs(),
            "mapping": kinds,
            "policySha256": mapping.policy_sha256(&[]),
        });
        serde_json::to_string_pretty(&doc)? + "\n"
    } else {
        let mut text = String::new();
        for catalog in mapping.used_catalogs() {
            text.push_str(&format!(
                "{}: {} ({}), {} controls\n  {}\n",
                catalog.id,
                catalog.title,
                catalog.version,
                catalog.controls.len(),
                catalog.source
            ));
            for control in &catalog.controls {
                text.push_str(&format!("  {:<8} {}\n", control.id, control.title));
            }
            text.push('\n');
        }
        text.push_str(
            "mapping (evidence kind -> controls; * = set in tollgate.toml [evidence.controls]):\n",
        );
        for (kind, ids) in &mapping.kinds {
            let mark = if mapping.overridden.contains(kind) { "*" } else { " " };
            let ids = if ids.is_empty() { "-".to_owned() } else { ids.join(", ") };
            text.push_str(&format!("{mark} {:<20} {ids}\n", kind.as_str()));
        }
        text
    };
    crate::output::emit(None, &text)?;
    Ok(Verdict::Pass)
}
