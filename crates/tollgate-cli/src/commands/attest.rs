//! `tollgate attest provenance`, and the release `attest` stage.

use super::keys::Signer;
use crate::cli::{AttestCommand, AttestProvenanceArgs, EnvelopeFormat};
use anyhow::Context;
use std::path::{Path, PathBuf};
use std::time::Instant;
use tollgate_attest::bundle::Bundle;
use tollgate_attest::dsse::{self, Envelope};
use tollgate_attest::keyless::KeylessSigner;
use tollgate_attest::keys::{KeyAlgorithm, SigningKey};
use tollgate_attest::source::{self, SourceInfo};
use tollgate_attest::statement::{self, Statement};
use tollgate_attest::subject::{self, Subject};
use tollgate_attest::{ci, provenance, verify};
use tollgate_core::{
    Config, Digest, DigestAlgorithm, Finding, GateInput, GateReport, Location, Severity, Verdict,
    time_source,
};

/// Lockfiles whose digests the provenance records as resolved dependencies, when present at
/// the source root.
const LOCKFILES: &[&str] = &[
    "Cargo.lock",
    "package-lock.json",
    "npm-shrinkwrap.json",
    "pnpm-lock.yaml",
    "yarn.lock",
    "poetry.lock",
    "uv.lock",
    "Pipfile.lock",
    "go.sum",
    "pubspec.lock",
];

pub fn run(command: AttestCommand) -> anyhow::Result<Verdict> {
    match command {
        AttestCommand::Provenance(args) => provenance_command(&args),
    }
}

fn provenance_command(args: &AttestProvenanceArgs) -> anyhow::Result<Verdict> {
    let signer = super::keys::signer(&args.signing)?;
    if matches!(signer, Signer::Keyless(_)) && args.envelope == EnvelopeFormat::Dsse {
        anyhow::bail!(
            "--keyless --envelope dsse: a keyless signature is checked against its certificate \
             and transparency-log entry, which only a bundle carries; drop --envelope dsse"
        );
    }
    let built = provenance_statement(&args.source, &args.artifacts)?;
    if let Some(problem) = &built.source_problem {
        eprintln!("warning: no source commit recorded: {problem}");
    }
    let payload = built.statement.to_payload();
    let (text, signed_by) = match &signer {
        Signer::Key(key) => {
            let envelope = dsse::sign(statement::PAYLOAD_TYPE, &payload, key);
            let text = match args.envelope {
                EnvelopeFormat::Bundle => {
                    Bundle::for_envelope(envelope, &key.verifying_key()).to_json()
                }
                EnvelopeFormat::Dsse => envelope.to_json(),
            };
            (text, format!("key {} ({})", key.verifying_key().key_id(), key.algorithm()))
        }
        Signer::Keyless(keyless) => (
            keyless.sign_envelope(statement::PAYLOAD_TYPE, &payload)?.to_json(),
            "a keyless (Fulcio) certificate".to_owned(),
        ),
    };
    crate::output::emit(Some(&args.output), &text)?;
    crate::output::emit(
        None,
        &format!(
            "wrote {}: SLSA provenance for {} subject(s), signed by {signed_by}\n",
            args.output.display(),
            built.statement.subject.len(),
        ),
    )?;
    Ok(Verdict::Pass)
}

/// An unsigned provenance statement.
pub struct BuiltProvenance {
    /// The in-toto statement with the SLSA Provenance v1 predicate.
    pub statement: Statement,
    /// Why no source commit was recorded (not a git repository, no commit yet), if so.
    pub source_problem: Option<String>,
}

/// A signed provenance statement.
pub struct SignedProvenance {
    /// The DSSE envelope holding the statement.
    pub envelope: Envelope,
    /// The statement's subjects.
    pub subjects: Vec<Subject>,
    /// Why no source commit was recorded (not a git repository, no commit yet), if so.
    pub source_problem: Option<String>,
}

/// Builds SLSA provenance for `artifacts` (files or directories) built from the repository at
/// `source_root` in the current CI environment, and signs it with `key`.
pub fn sign_provenance(
    source_root: &Path,
    artifacts: &[PathBuf],
    key: &SigningKey,
) -> anyhow::Result<SignedProvenance> {
    let built = provenance_statement(source_root, artifacts)?;
    let envelope = dsse::sign(statement::PAYLOAD_TYPE, &built.statement.to_payload(), key);
    Ok(SignedProvenance {
        envelope,
        subjects: built.statement.subject,
        source_problem: built.source_problem,
    })
}

/// Builds SLSA provenance for `artifacts` (files or directories) built from the repository at
/// `source_root` in the current CI environment.
pub fn provenance_statement(
    source_root: &Path,
    artifacts: &[PathBuf],
) -> anyhow::Result<BuiltProvenance> {
    let started = time_source::now()?;
    let subjects = subject::subjects_for_paths(artifacts)?;
    let builder = ci::detect_current();
    let (source, source_problem): (Option<SourceInfo>, Option<String>) =
        match source::read_source(source_root) {
            Ok(source) => (Some(source), None),
            Err(e) => (None, Some(e.to_string())),
        };
    let lockfiles: Vec<PathBuf> =
        LOCKFILES.iter().map(|name| source_root.join(name)).filter(|path| path.is_file()).collect();
    let finished = time_source::now()?;
    let predicate =
        provenance::build_provenance(&builder, source.as_ref(), &lockfiles, started, finished)?;
    let statement = Statement::new(subjects, statement::SLSA_PROVENANCE_V1, predicate)?;
    Ok(BuiltProvenance { statement, source_problem })
}

/// The release `attest` stage: SLSA provenance over the SBOMs the `sbom` stage wrote, signed
/// with `--key`, else `[attest] key`, else an ephemeral key that the report labels as such.
/// Writes `attest/provenance.sigstore.json` (and `attest/ephemeral.pub`) in the run directory.
/// The key a release run signs with: its provenance (`attest`) and its evidence bundle
/// (`evidence`).
pub struct ReleaseKey {
    /// The private key.
    pub key: SigningKey,
    /// Where it came from (`--key` or `[attest] key`); `None`: ephemeral, made for this run.
    pub configured: Option<PathBuf>,
}

impl ReleaseKey {
    /// `--key`, else `[attest] key` (relative to `root`), else a new ephemeral ECDSA P-256 key.
    pub fn resolve(root: &Path, config: &Config, key: Option<&Path>) -> anyhow::Result<Self> {
        let configured: Option<PathBuf> =
            key.map(Path::to_path_buf).or_else(|| config.attest.key.as_ref().map(|k| root.join(k)));
        let key = match &configured {
            Some(path) => super::keys::load_signing_key(path)?,
            None => SigningKey::generate(KeyAlgorithm::EcdsaP256Sha256)?,
        };
        Ok(ReleaseKey { key, configured })
    }
}

pub fn release_stage(
    root: &Path,
    run_dir: &Path,
    config: &Config,
    release_key: &ReleaseKey,
    timestamp: String,
) -> anyhow::Result<GateReport> {
    let started = Instant::now();
    let attest_dir = run_dir.join("attest");
    let sbom_dir = run_dir.join("sbom");
    anyhow::ensure!(
        sbom_dir.is_dir(),
        "{}: no SBOMs to attest (the sbom stage writes them)",
        sbom_dir.display()
    );
    let artifacts = vec![sbom_dir];
    let mut findings = Vec::new();
    let key = &release_key.key;
    let configured = &release_key.configured;
    if configured.is_none() {
        crate::output::emit(
            Some(&attest_dir.join("ephemeral.pub")),
            &key.verifying_key().to_pem(),
        )?;
        findings.push(
            Finding::new(
                "attest/ephemeral-key",
                config.attest.ephemeral_key,
                format!(
                    "EPHEMERAL KEY: the provenance and the evidence bundle are signed with a key \
                     made for this run only (key id {}), whose private half was never stored; \
                     the signature shows the run directory is intact, not who produced it",
                    key.verifying_key().key_id()
                ),
            )
            .at(Location::file("attest/ephemeral.pub"))
            .fix(
                "make a release key with `tollgate keys generate --output-dir DIR` and pass \
                 it with `tollgate release --key DIR/tollgate.key` or `[attest] key` in \
                 tollgate.toml",
            ),
        );
    }
    let signed = sign_provenance(root, &artifacts, key)?;
    if let Some(problem) = &signed.source_problem {
        findings.push(
            Finding::new(
                "attest/no-source",
                Severity::Warning,
                format!("the provenance records no source commit: {problem}"),
            )
            .fix("release from a git checkout with at least one commit"),
        );
    }
    let bundle_path = attest_dir.join("provenance.sigstore.json");
    let bundle = Bundle::for_envelope(signed.envelope, &key.verifying_key());
    crate::output::emit(Some(&bundle_path), &bundle.to_json())?;

    // Check what was written, as a verifier will.
    let written = std::fs::read_to_string(&bundle_path)
        .with_context(|| format!("{}: cannot read back", bundle_path.display()))?;
    let reread = Bundle::from_json(&bundle_path, &written)?;
    let policy = verify::Policy { now: time_source::now()?, ..verify::Policy::default() };
    let location = Location::file("attest/provenance.sigstore.json");
    match verify::verify_attestation(&reread, &key.verifying_key(), &artifacts, &policy) {
        Ok(verified) => findings.push(
            Finding::new(
                "attest/signed",
                Severity::Info,
                format!(
                    "SLSA provenance over {} SBOM file(s) signed by key {} ({}{})",
                    verified.statement.subject.len(),
                    verified.key_id,
                    key.algorithm(),
                    match configured {
                        Some(path) => format!(", {}", path.display()),
                        None => ", ephemeral".to_owned(),
                    }
                ),
            )
            .at(location),
        ),
        Err(e) => findings.push(
            Finding::new(
                "attest/self-check-failed",
                Severity::Error,
                format!("the provenance just written does not verify: {e}"),
            )
            .at(location),
        ),
    }
    let inputs = signed
        .subjects
        .iter()
        .filter_map(|s| {
            s.digest.get("sha256").map(|hex| GateInput {
                name: format!("sbom/{}", s.name),
                digest: Digest { algorithm: DigestAlgorithm::Sha256, hex: hex.clone() },
            })
        })
        .collect();
    Ok(GateReport::new(
        "attest",
        inputs,
        findings,
        config.attest.fail_on,
        timestamp,
        started.elapsed().as_millis() as u64,
    ))
}
