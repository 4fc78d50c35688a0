//! The `attest` gate: its `[attest]` configuration section, its rule table, SLSA provenance
//! for artifacts built from a source tree, and the release check — provenance over the
//! release's SBOMs, signed with the run's key and verified back as a verifier would.

use crate::AttestError;
use crate::bundle::Bundle;
use crate::ci;
use crate::dsse::{self, Envelope};
use crate::keys::{self, KeyAlgorithm, SigningKey};
use crate::provenance;
use crate::source::{self, SourceInfo};
use crate::statement::{self, Statement};
use crate::subject::{self, Subject};
use crate::verify;
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};
use tollgate_core::{
    Digest, DigestAlgorithm, GateInput, GateReport, GateRules, Location, Rule, Severity,
    time_source,
};

/// The gate's name in reports.
pub const GATE: &str = "attest";

/// Rule: the release was signed with a key made for the run only.
pub const EPHEMERAL_KEY: Rule = Rule::new(
    "attest/ephemeral-key",
    Severity::Warning,
    "the provenance and evidence are signed with an ephemeral key, not a release key",
);
/// Rule: the provenance records no source commit.
pub const NO_SOURCE: Rule = Rule::new(
    "attest/no-source",
    Severity::Warning,
    "the provenance records no source commit (not a git checkout, or no commit yet)",
);
/// Rule: the provenance was signed and verifies.
pub const SIGNED: Rule = Rule::new(
    "attest/signed",
    Severity::Info,
    "SLSA provenance over the SBOMs, signed and verified",
);
/// Rule: the provenance just written does not verify.
pub const SELF_CHECK_FAILED: Rule = Rule::new(
    "attest/self-check-failed",
    Severity::Error,
    "the provenance just written does not verify with the run's key",
);

/// The rule table.
pub fn rules() -> GateRules {
    GateRules::new(
        GATE,
        "signed SLSA provenance for the release's artifacts",
        vec![EPHEMERAL_KEY, NO_SOURCE, SIGNED, SELF_CHECK_FAILED],
    )
}

/// `[attest]` settings: how the release `attest` stage signs.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct AttestConfig {
    /// Private key (PKCS#8 PEM or cosign's encrypted format, relative to the root) that signs
    /// the release provenance; `tollgate release --key` overrides it. Unset: an ephemeral key is
    /// generated for the run and reported with the `ephemeral_key` severity.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub key: Option<PathBuf>,
    /// Severity of the finding that the provenance was signed with an ephemeral key.
    pub ephemeral_key: Severity,
    /// Findings at or above this severity fail the stage.
    pub fail_on: Severity,
}

impl Default for AttestConfig {
    fn default() -> Self {
        AttestConfig { key: None, ephemeral_key: EPHEMERAL_KEY.level, fail_on: Severity::Error }
    }
}

/// Lockfiles whose digests the provenance records as resolved dependencies, when present at
/// the source root.
pub const LOCKFILES: &[&str] = &[
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
/// `source_root` in the current CI environment.
pub fn provenance_statement(
    source_root: &Path,
    artifacts: &[PathBuf],
) -> Result<BuiltProvenance, AttestError> {
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

/// [`provenance_statement`], signed with `key` as a DSSE envelope.
pub fn sign_provenance(
    source_root: &Path,
    artifacts: &[PathBuf],
    key: &SigningKey,
) -> Result<SignedProvenance, AttestError> {
    let built = provenance_statement(source_root, artifacts)?;
    let envelope = dsse::sign(statement::PAYLOAD_TYPE, &built.statement.to_payload(), key);
    Ok(SignedProvenance {
        envelope,
        subjects: built.statement.subject,
        source_problem: built.source_problem,
    })
}

/// The key a release run signs with: its provenance (`attest`) and its evidence bundle
/// (`evidence`).
pub struct ReleaseKey {
    /// The private key.
    pub key: SigningKey,
    /// Where it came from (`--key` or `[attest] key`); `None`: ephemeral, made for this run.
    pub configured: Option<PathBuf>,
}

impl ReleaseKey {
    /// `flag` (`--key`), else `[attest] key` (relative to `root`), else a new ephemeral ECDSA
    /// P-256 key. An encrypted key is decrypted with the password from the environment.
    pub fn resolve(
        root: &Path,
        config: &AttestConfig,
        flag: Option<&Path>,
    ) -> Result<ReleaseKey, AttestError> {
        let configured: Option<PathBuf> =
            flag.map(Path::to_path_buf).or_else(|| config.key.as_ref().map(|k| root.join(k)));
        let key = match &configured {
            Some(path) => keys::read_signing_key(path, keys::password_from_env().as_deref())?,
            None => SigningKey::generate(KeyAlgorithm::EcdsaP256Sha256)?,
        };
        Ok(ReleaseKey { key, configured })
    }

    /// `true` when the key was made for this run.
    pub fn is_ephemeral(&self) -> bool {
        self.configured.is_none()
    }
}

/// Where the release check writes, relative to the run directory.
pub mod paths {
    /// The public half of an ephemeral key.
    pub const EPHEMERAL_PUB: &str = "attest/ephemeral.pub";
    /// The provenance, as a Sigstore bundle.
    pub const PROVENANCE: &str = "attest/provenance.sigstore.json";
}

/// The release `attest` gate: SLSA provenance over `sbom_dir` (the SBOMs of the release) built
/// from `root`, signed with the run's key into `<run_dir>/attest/provenance.sigstore.json`
/// (and `attest/ephemeral.pub` for an ephemeral key), then verified back from disk.
pub fn check(
    root: &Path,
    run_dir: &Path,
    sbom_dir: &Path,
    release_key: &ReleaseKey,
    config: &AttestConfig,
    started: String,
) -> Result<GateReport, AttestError> {
    let clock = std::time::Instant::now();
    let artifacts = vec![sbom_dir.to_path_buf()];
    let mut findings = Vec::new();
    let key = &release_key.key;
    if release_key.is_ephemeral() {
        write(&run_dir.join(paths::EPHEMERAL_PUB), key.verifying_key().to_pem().as_bytes())?;
        findings.push(
            EPHEMERAL_KEY
                .finding_at(
                    config.ephemeral_key,
                    format!(
                        "EPHEMERAL KEY: the provenance and the evidence bundle are signed with a \
                         key made for this run only (key id {}), whose private half was never \
                         stored; the signature shows the run directory is intact, not who \
                         produced it",
                        key.verifying_key().key_id()
                    ),
                )
                .at(Location::file(paths::EPHEMERAL_PUB))
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
            NO_SOURCE
                .finding(format!("the provenance records no source commit: {problem}"))
                .fix("release from a git checkout with at least one commit"),
        );
    }
    let bundle_path = run_dir.join(paths::PROVENANCE);
    let bundle = Bundle::for_envelope(signed.envelope, &key.verifying_key());
    write(&bundle_path, bundle.to_json().as_bytes())?;

    // Check what was written, as a verifier will.
    let written =
        std::fs::read_to_string(&bundle_path).map_err(|e| AttestError::io(&bundle_path, e))?;
    let reread = Bundle::from_json(&bundle_path, &written)?;
    let policy = verify::Policy { now: time_source::now()?, ..verify::Policy::default() };
    let location = Location::file(paths::PROVENANCE);
    let verified = verify::verify_attestation(
        &reread,
        &key.verifying_key(),
        &artifacts,
        verify::Coverage::AllSubjects,
        &policy,
    );
    match verified {
        Ok(verified) => findings.push(
            SIGNED
                .finding(format!(
                    "SLSA provenance over {} SBOM file(s) signed by key {} ({}{})",
                    verified.statement.subject.len(),
                    verified.key_id,
                    key.algorithm(),
                    match &release_key.configured {
                        Some(path) => format!(", {}", path.display()),
                        None => ", ephemeral".to_owned(),
                    }
                ))
                .at(location),
        ),
        Err(e) => findings.push(
            SELF_CHECK_FAILED
                .finding(format!("the provenance just written does not verify: {e}"))
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
        GATE,
        inputs,
        findings,
        config.fail_on,
        started,
        clock.elapsed().as_millis() as u64,
    ))
}

fn write(path: &Path, bytes: &[u8]) -> Result<(), AttestError> {
    tollgate_core::fs::write_atomic(path, bytes).map_err(|e| AttestError::io(path, e))
}
