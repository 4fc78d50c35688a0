//! Verification: bundle media type, payload type, key and signature, the statement, every
//! subject digest against the files on disk, and a policy (builder, source repository and
//! ref, maximum age).
//!
//! Each way to fail has its own [`VerifyError`] variant and message, naming the subject, the
//! digest or the key involved, so a tampered bundle says what was tampered with.

use std::collections::BTreeMap;
use std::fmt;
use std::path::{Path, PathBuf};

use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

use crate::bundle::{BUNDLE_MEDIA_TYPE, Bundle, BundleContent};
use crate::keys::VerifyingKey;
use crate::statement::{PAYLOAD_TYPE, SLSA_PROVENANCE_V1, STATEMENT_TYPE, Statement};
use crate::subject::subjects_for_paths;

/// Why a bundle does not verify. One variant per failure, each with its own message.
#[derive(Debug, thiserror::Error)]
pub enum VerifyError {
    /// The bundle is not a v0.3 Sigstore bundle.
    #[error("bundle media type {found:?} is not {expected:?}")]
    WrongMediaType {
        /// The media type in the bundle.
        found: String,
        /// The one accepted.
        expected: &'static str,
    },
    /// The bundle holds the other kind of content (an attestation where a blob signature was
    /// expected, or the reverse).
    #[error("the bundle holds {found}, not {expected}")]
    UnexpectedContent {
        /// What the check needs, e.g. "a DSSE envelope (attestation)".
        expected: &'static str,
        /// What the bundle holds.
        found: &'static str,
    },
    /// The envelope's payload type is not the one expected.
    #[error("payload type {found:?} is not the expected {expected:?}")]
    PayloadTypeMismatch {
        /// The accepted payload type.
        expected: String,
        /// The envelope's payload type.
        found: String,
    },
    /// No signature verifies, and none claims to be by the expected key.
    #[error(
        "signed by a different key: expected key id {expected_key_id}, the bundle names {}",
        describe_key_ids(found_key_ids)
    )]
    KeyMismatch {
        /// The id of the key verification was asked to use.
        expected_key_id: String,
        /// The key ids (or hints) the bundle names.
        found_key_ids: Vec<String>,
    },
    /// A signature claiming to be by the key does not verify: the payload, its type or the
    /// signature was changed.
    #[error(
        "the signature by key {key_id} does not verify: the signed content or the signature was changed"
    )]
    BadSignature {
        /// The key's id.
        key_id: String,
    },
    /// The signed payload is not JSON.
    #[error("the signed payload is not JSON: {message}")]
    PayloadNotJson {
        /// The parser's message.
        message: String,
    },
    /// The signed payload is JSON but not an in-toto Statement v1.
    #[error("the signed payload is not an in-toto Statement v1: {message}")]
    NotAStatement {
        /// What is wrong with it.
        message: String,
    },
    /// An artifact given for checking is not among the statement's subjects.
    #[error("artifact {artifact:?} is not a subject of the statement")]
    SubjectMissing {
        /// The artifact's subject name (file name, or path relative to a given directory).
        artifact: String,
    },
    /// Subjects of the statement with no file among the artifacts given: they were not
    /// checked, so the statement is not verified (ask for [`Coverage::Subset`] to check only
    /// some files).
    #[error(
        "{} subject(s) of the statement not found among the given artifacts: {}",
        missing.len(),
        quoted(missing)
    )]
    SubjectsNotFound {
        /// The subject names with no file, sorted.
        missing: Vec<String>,
    },
    /// Two or more subjects share a name, so a file of that name cannot be matched to one
    /// digest.
    #[error(
        "subject name {} appear{} more than once in the statement, so a file of that name \
         cannot be matched to one digest",
        quoted(names),
        if names.len() == 1 { "s" } else { "" }
    )]
    DuplicateSubjectName {
        /// Each name that occurs more than once, sorted.
        names: Vec<String>,
    },
    /// The statement names no subject: there is nothing it could be verified against.
    #[error("the statement names no subject, so there is nothing to verify")]
    NoSubjects,
    /// A subset was asked for, but the artifacts given hold no file (an empty directory).
    #[error("no subject was checked: the given artifacts hold no file")]
    NothingChecked,
    /// A file's digest differs from the statement's.
    #[error(
        "subject {subject:?}: the file's {algorithm} digest is {actual}, the statement says {expected}"
    )]
    DigestMismatch {
        /// The subject name.
        subject: String,
        /// The algorithm (`sha256`, `sha512`).
        algorithm: String,
        /// The digest in the statement.
        expected: String,
        /// The digest of the file on disk.
        actual: String,
    },
    /// A subject carries no digest this crate computes, so it cannot be checked.
    #[error("subject {subject:?} has no sha256 or sha512 digest (it has: {})", algorithms.join(", "))]
    NoUsableDigest {
        /// The subject name.
        subject: String,
        /// The algorithms it does carry.
        algorithms: Vec<String>,
    },
    /// A policy about the build was given, but the statement is not SLSA provenance.
    #[error("the policy checks build provenance, but the predicate type is {predicate_type:?}")]
    NotProvenance {
        /// The statement's predicate type.
        predicate_type: String,
    },
    /// The builder is not one of the allowed ones.
    #[error("builder {found:?} is not allowed (allowed: {})", allowed.join(", "))]
    BuilderNotAllowed {
        /// The provenance's builder id (empty if it has none).
        found: String,
        /// The allowed builder ids.
        allowed: Vec<String>,
    },
    /// The source repository differs from the expected one.
    #[error(
        "source repository {} is not the expected {expected:?}",
        found.as_deref().map_or_else(|| "(none recorded)".to_owned(), |f| format!("{f:?}"))
    )]
    SourceRepoMismatch {
        /// The expected repository.
        expected: String,
        /// The repository in the provenance's source dependency, if any.
        found: Option<String>,
    },
    /// The source ref differs from the expected one.
    #[error(
        "source ref {} is not the expected {expected:?}",
        found.as_deref().map_or_else(|| "(none recorded)".to_owned(), |f| format!("{f:?}"))
    )]
    SourceRefMismatch {
        /// The expected ref.
        expected: String,
        /// The ref in the provenance's source dependency, if any.
        found: Option<String>,
    },
    /// A maximum age was given, but the provenance records no build time.
    #[error("a maximum age was given, but the provenance has no readable build time")]
    NoBuildTime,
    /// The build is older than allowed.
    #[error("the build finished {} ago, more than the allowed {}", human(*age), human(*max))]
    TooOld {
        /// How long ago the build finished.
        age: time::Duration,
        /// The maximum age.
        max: time::Duration,
    },
    /// An artifact could not be read.
    #[error("{path}: {cause}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The I/O error.
        cause: std::io::Error,
    },
    /// The bundle or an artifact list is malformed in a way that stops checking.
    #[error("{message}")]
    Malformed {
        /// What is wrong.
        message: String,
    },
}

impl VerifyError {
    /// True when the failure is bad input (an unreadable artifact, a malformed bundle) rather
    /// than a bundle that does not verify; the CLI exits 2 for these.
    pub fn is_input_error(&self) -> bool {
        matches!(self, VerifyError::Io { .. } | VerifyError::Malformed { .. })
    }
}

/// `"a", "b"`.
fn quoted(names: &[String]) -> String {
    names.iter().map(|n| format!("{n:?}")).collect::<Vec<_>>().join(", ")
}

fn describe_key_ids(ids: &[String]) -> String {
    let named: Vec<&str> = ids.iter().map(String::as_str).filter(|id| !id.is_empty()).collect();
    if named.is_empty() { "no key id".to_owned() } else { named.join(", ") }
}

/// "3d 4h 5m 6s", leaving out leading zero units.
fn human(d: time::Duration) -> String {
    let total = d.whole_seconds().max(0);
    let (days, hours, minutes, seconds) =
        (total / 86_400, total % 86_400 / 3_600, total % 3_600 / 60, total % 60);
    let mut parts = Vec::new();
    for (n, unit) in [(days, "d"), (hours, "h"), (minutes, "m")] {
        if n > 0 || !parts.is_empty() {
            parts.push(format!("{n}{unit}"));
        }
    }
    parts.push(format!("{seconds}s"));
    parts.join(" ")
}

/// What the provenance must say beyond a valid signature. Empty fields check nothing.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Policy {
    /// Allowed builder ids (`runDetails.builder.id`); empty accepts any builder.
    pub builder_ids: Vec<String>,
    /// The source repository the build must come from (compared without `git+`, a trailing
    /// `/` or `.git`, and case).
    pub source_repo: Option<String>,
    /// The source ref, e.g. `refs/tags/v1.2.0`; a short name (`v1.2.0`, `main`) also matches
    /// `refs/tags/<name>` and `refs/heads/<name>`.
    pub source_ref: Option<String>,
    /// How long ago the build may have finished (`runDetails.metadata.finishedOn`, else
    /// `startedOn`).
    pub max_age: Option<time::Duration>,
    /// The time to measure age against.
    pub now: OffsetDateTime,
}

impl Default for Policy {
    /// A policy that checks nothing beyond the signature and subjects, with `now` the current
    /// time.
    fn default() -> Self {
        Policy {
            builder_ids: Vec::new(),
            source_repo: None,
            source_ref: None,
            max_age: None,
            now: OffsetDateTime::now_utc(),
        }
    }
}

/// Which of the statement's subjects the artifacts given must cover.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Coverage {
    /// Every subject must be found among the artifacts and match; a subject with no file is
    /// [`VerifyError::SubjectsNotFound`].
    #[default]
    AllSubjects,
    /// Only the artifacts given are checked (each must be a subject and match, and at least
    /// one file must be given); the subjects left unchecked are listed in
    /// [`Verified::unchecked`].
    Subset,
}

/// A verified attestation.
#[derive(Debug, Clone, PartialEq)]
pub struct Verified {
    /// The statement, as signed.
    pub statement: Statement,
    /// The id of the key whose signature verified.
    pub key_id: String,
    /// The subjects whose digests were checked against a file, sorted.
    pub checked: Vec<String>,
    /// The subjects that were not checked, sorted: empty unless [`Coverage::Subset`] was
    /// asked for.
    pub unchecked: Vec<String>,
}

impl fmt::Display for Verified {
    /// Says what was verified; when some subjects were not checked, says how many.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} statement over {} subject(s), signed by key {}",
            self.statement.predicate_type,
            self.statement.subject.len(),
            self.key_id
        )?;
        if !self.unchecked.is_empty() {
            write!(
                f,
                "; only {} of them checked, {} NOT checked",
                self.checked.len(),
                self.unchecked.len()
            )?;
        }
        Ok(())
    }
}

/// Verifies an attestation bundle: media type, DSSE content, payload type
/// ([`PAYLOAD_TYPE`]), a signature by `key`, an in-toto Statement v1 with at least one subject
/// and no subject name twice, the digests of every file in `artifacts` (files, or directories
/// walked as [`subjects_for_paths`] does) against the statement's subjects, and `policy`.
///
/// Checks run in that order and stop at the first failure. Every artifact must be a subject
/// whose digest matches. With [`Coverage::AllSubjects`] every subject must also be among the
/// artifacts; with [`Coverage::Subset`] the subjects not given are reported in
/// [`Verified::unchecked`]. `Ok` is never returned for a statement of which nothing was checked.
pub fn verify_attestation(
    bundle: &Bundle,
    key: &VerifyingKey,
    artifacts: &[PathBuf],
    coverage: Coverage,
    policy: &Policy,
) -> Result<Verified, VerifyError> {
    check_media_type(bundle)?;
    let BundleContent::Dsse(envelope) = &bundle.content else {
        return Err(VerifyError::UnexpectedContent {
            expected: "a DSSE envelope (attestation)",
            found: "a message signature (blob)",
        });
    };
    if envelope.payload_type != PAYLOAD_TYPE {
        return Err(VerifyError::PayloadTypeMismatch {
            expected: PAYLOAD_TYPE.to_owned(),
            found: envelope.payload_type.clone(),
        });
    }
    let payload = crate::dsse::verify_envelope_signatures(envelope, key)?;
    let statement = parse_statement(&payload)?;
    let checked = check_subjects(&statement, artifacts)?;
    let unchecked: Vec<String> = statement
        .subject
        .iter()
        .map(|s| s.name.clone())
        .filter(|name| checked.binary_search(name).is_err())
        .collect::<std::collections::BTreeSet<_>>()
        .into_iter()
        .collect();
    match coverage {
        Coverage::AllSubjects if !unchecked.is_empty() => {
            return Err(VerifyError::SubjectsNotFound { missing: unchecked });
        }
        Coverage::Subset if checked.is_empty() => return Err(VerifyError::NothingChecked),
        _ => {}
    }
    check_policy(&statement, policy)?;
    Ok(Verified { statement, key_id: key.key_id(), checked, unchecked })
}

/// Verifies a blob signature bundle against the file at `blob`: media type, message-signature
/// content, the blob's SHA-256 against the bundle's digest, and the signature by `key` over the
/// blob (streamed).
pub fn verify_blob(bundle: &Bundle, key: &VerifyingKey, blob: &Path) -> Result<(), VerifyError> {
    check_media_type(bundle)?;
    let BundleContent::MessageSignature { digest_sha256, signature } = &bundle.content else {
        return Err(VerifyError::UnexpectedContent {
            expected: "a message signature (blob)",
            found: "a DSSE envelope (attestation)",
        });
    };
    let (verdict, digest) = key.verify_file(blob, signature).map_err(|e| match e {
        crate::AttestError::Io { path, cause } => VerifyError::Io { path, cause },
        other => VerifyError::Malformed { message: other.to_string() },
    })?;
    let actual = hex::encode(digest);
    if !actual.eq_ignore_ascii_case(digest_sha256) {
        return Err(VerifyError::DigestMismatch {
            subject: blob.display().to_string(),
            algorithm: "sha256".to_owned(),
            expected: digest_sha256.clone(),
            actual,
        });
    }
    if verdict.is_ok() {
        return Ok(());
    }
    let key_id = key.key_id();
    match &bundle.verification_material.key {
        crate::bundle::KeyMaterial::PublicKey { hint } if !hint.is_empty() && *hint != key_id => {
            Err(VerifyError::KeyMismatch {
                expected_key_id: key_id,
                found_key_ids: vec![hint.clone()],
            })
        }
        _ => Err(VerifyError::BadSignature { key_id }),
    }
}

fn check_media_type(bundle: &Bundle) -> Result<(), VerifyError> {
    if bundle.media_type == BUNDLE_MEDIA_TYPE {
        Ok(())
    } else {
        Err(VerifyError::WrongMediaType {
            found: bundle.media_type.clone(),
            expected: BUNDLE_MEDIA_TYPE,
        })
    }
}

fn parse_statement(payload: &[u8]) -> Result<Statement, VerifyError> {
    let value: serde_json::Value = serde_json::from_slice(payload)
        .map_err(|e| VerifyError::PayloadNotJson { message: crate::error::json_error_place(&e) })?;
    let found_type = value.get("_type").and_then(|t| t.as_str()).unwrap_or("");
    if found_type != STATEMENT_TYPE {
        return Err(VerifyError::NotAStatement {
            message: if found_type.is_empty() {
                "/_type is missing".to_owned()
            } else {
                format!("/_type is {found_type:?}, expected {STATEMENT_TYPE:?}")
            },
        });
    }
    serde_json::from_value(value).map_err(|e| VerifyError::NotAStatement { message: e.to_string() })
}

/// Checks each file in `artifacts` against the statement's subject of the same name; returns
/// the names checked, sorted. The statement must have subjects, each name once.
fn check_subjects(
    statement: &Statement,
    artifacts: &[PathBuf],
) -> Result<Vec<String>, VerifyError> {
    if statement.subject.is_empty() {
        return Err(VerifyError::NoSubjects);
    }
    let mut by_name: BTreeMap<&str, &BTreeMap<String, String>> = BTreeMap::new();
    let mut duplicated = std::collections::BTreeSet::new();
    for subject in &statement.subject {
        if by_name.insert(subject.name.as_str(), &subject.digest).is_some() {
            duplicated.insert(subject.name.clone());
        }
    }
    if !duplicated.is_empty() {
        return Err(VerifyError::DuplicateSubjectName { names: duplicated.into_iter().collect() });
    }
    let on_disk = subjects_for_paths(artifacts).map_err(|e| match e {
        crate::AttestError::Io { path, cause } => VerifyError::Io { path, cause },
        other => VerifyError::Malformed { message: other.to_string() },
    })?;
    let mut checked = Vec::with_capacity(on_disk.len());
    for file in &on_disk {
        let Some(expected) = by_name.get(file.name.as_str()) else {
            return Err(VerifyError::SubjectMissing { artifact: file.name.clone() });
        };
        let mut compared = false;
        for algorithm in ["sha256", "sha512"] {
            let (Some(want), Some(have)) = (expected.get(algorithm), file.digest.get(algorithm))
            else {
                continue;
            };
            compared = true;
            if !want.eq_ignore_ascii_case(have) {
                return Err(VerifyError::DigestMismatch {
                    subject: file.name.clone(),
                    algorithm: algorithm.to_owned(),
                    expected: want.clone(),
                    actual: have.clone(),
                });
            }
        }
        if !compared {
            return Err(VerifyError::NoUsableDigest {
                subject: file.name.clone(),
                algorithms: expected.keys().cloned().collect(),
            });
        }
        checked.push(file.name.clone());
    }
    // `subjects_for_paths` returns names sorted and unique.
    Ok(checked)
}

/// The source dependency of a SLSA provenance: the first resolved dependency with a
/// `gitCommit` digest, as (repository, ref) from its `git+URL@REF` URI.
pub(crate) fn source_of(predicate: &serde_json::Value) -> Option<(String, Option<String>)> {
    let deps = predicate.pointer("/buildDefinition/resolvedDependencies")?.as_array()?;
    let dep = deps.iter().find(|d| d.pointer("/digest/gitCommit").is_some())?;
    let uri = dep.get("uri")?.as_str()?;
    Some(split_git_uri(uri))
}

/// `git+https://host/repo@refs/heads/main` -> (`https://host/repo`, `refs/heads/main`). An `@`
/// in user info (`git+ssh://git@host/repo`) is not taken for the ref separator.
pub(crate) fn split_git_uri(uri: &str) -> (String, Option<String>) {
    let bare = uri.strip_prefix("git+").unwrap_or(uri);
    if let Some((repo, reference)) = bare.rsplit_once('@') {
        let looks_like_ref = reference.starts_with("refs/") || !reference.contains('/');
        if looks_like_ref && repo.contains("://") && !reference.is_empty() {
            return (repo.to_owned(), Some(reference.to_owned()));
        }
    }
    (bare.to_owned(), None)
}

fn normalize_repo(repo: &str) -> String {
    let repo = repo.strip_prefix("git+").unwrap_or(repo).trim_end_matches('/');
    repo.strip_suffix(".git").unwrap_or(repo).to_ascii_lowercase()
}

fn ref_matches(expected: &str, found: &str) -> bool {
    if expected == found {
        return true;
    }
    !expected.starts_with("refs/")
        && (found == format!("refs/tags/{expected}") || found == format!("refs/heads/{expected}"))
}

fn check_policy(statement: &Statement, policy: &Policy) -> Result<(), VerifyError> {
    let wants_provenance = !policy.builder_ids.is_empty()
        || policy.source_repo.is_some()
        || policy.source_ref.is_some()
        || policy.max_age.is_some();
    if !wants_provenance {
        return Ok(());
    }
    if statement.predicate_type != SLSA_PROVENANCE_V1 {
        return Err(VerifyError::NotProvenance {
            predicate_type: statement.predicate_type.clone(),
        });
    }
    let predicate = &statement.predicate;
    if !policy.builder_ids.is_empty() {
        let found =
            predicate.pointer("/runDetails/builder/id").and_then(|v| v.as_str()).unwrap_or("");
        if !policy.builder_ids.iter().any(|id| id == found) {
            return Err(VerifyError::BuilderNotAllowed {
                found: found.to_owned(),
                allowed: policy.builder_ids.clone(),
            });
        }
    }
    let source = source_of(predicate);
    if let Some(expected) = &policy.source_repo {
        let found = source.as_ref().map(|(repo, _)| repo.clone());
        if found.as_deref().map(normalize_repo) != Some(normalize_repo(expected)) {
            return Err(VerifyError::SourceRepoMismatch { expected: expected.clone(), found });
        }
    }
    if let Some(expected) = &policy.source_ref {
        let found = source.as_ref().and_then(|(_, reference)| reference.clone());
        if !found.as_deref().is_some_and(|f| ref_matches(expected, f)) {
            return Err(VerifyError::SourceRefMismatch { expected: expected.clone(), found });
        }
    }
    if let Some(max) = policy.max_age {
        let time = ["/runDetails/metadata/finishedOn", "/runDetails/metadata/startedOn"]
            .iter()
            .find_map(|p| predicate.pointer(p).and_then(|v| v.as_str()))
            .and_then(|t| OffsetDateTime::parse(t, &Rfc3339).ok())
            .ok_or(VerifyError::NoBuildTime)?;
        let age = policy.now - time;
        if age > max {
            return Err(VerifyError::TooOld { age, max });
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::bundle::{KeyMaterial, sign_blob};
    use crate::dsse::{self, Envelope};
    use crate::keys::{KeyAlgorithm, SigningKey};
    use crate::subject::Subject;
    use base64::Engine as _;
    use serde_json::json;
    use time::macros::datetime;

    const B64: base64::engine::GeneralPurpose = base64::engine::general_purpose::STANDARD;

    struct Case {
        _dir: tempfile::TempDir,
        artifacts: Vec<PathBuf>,
        key: SigningKey,
        bundle: Bundle,
    }

    fn provenance() -> serde_json::Value {
        json!({
            "buildDefinition": {
                "buildType": "https://tollgate.dev/buildtypes/release/v1",
                "externalParameters": {},
                "resolvedDependencies": [
                    {"uri": "Cargo.lock", "digest": {"sha256": "00"}},
                    {"uri": "git+https://github.com/acme/app@refs/tags/v1.2.0",
                     "digest": {"gitCommit": "a".repeat(40)}}
                ]
            },
            "runDetails": {
                "builder": {"id": "https://tollgate.dev/builders/local@v1"},
                "metadata": {"invocationId": "x", "startedOn": "2025-01-01T10:00:00Z",
                             "finishedOn": "2025-01-01T10:05:00Z"}
            }
        })
    }

    /// Two artifacts, attested with SLSA provenance and signed into a bundle.
    fn case(alg: KeyAlgorithm) -> Case {
        let dir = tempfile::tempdir().unwrap();
        let app = dir.path().join("app");
        let sbom = dir.path().join("app.cdx.json");
        std::fs::write(&app, b"\x7fELF binary").unwrap();
        std::fs::write(&sbom, b"{\"bomFormat\":\"CycloneDX\"}").unwrap();
        let artifacts = vec![app, sbom];
        let subjects = subjects_for_paths(&artifacts).unwrap();
        let statement = Statement::new(subjects, SLSA_PROVENANCE_V1, provenance()).unwrap();
        let key = SigningKey::generate(alg).unwrap();
        let envelope = dsse::sign(PAYLOAD_TYPE, &statement.to_payload(), &key);
        let bundle = Bundle::for_envelope(envelope, &key.verifying_key());
        Case { _dir: dir, artifacts, key, bundle }
    }

    fn policy() -> Policy {
        Policy { now: datetime!(2025-01-02 10:05:00 UTC), ..Policy::default() }
    }

    fn envelope_mut(bundle: &mut Bundle) -> &mut Envelope {
        match &mut bundle.content {
            BundleContent::Dsse(e) => e,
            BundleContent::MessageSignature { .. } => unreachable!(),
        }
    }

    /// Re-signs `statement` with the case's key (to tamper past the signature).
    fn resign(c: &Case, statement_json: &[u8]) -> Bundle {
        Bundle::for_envelope(
            dsse::sign(PAYLOAD_TYPE, statement_json, &c.key),
            &c.key.verifying_key(),
        )
    }

    fn verify(c: &Case, bundle: &Bundle, policy: &Policy) -> Result<Verified, VerifyError> {
        verify_attestation(
            bundle,
            &c.key.verifying_key(),
            &c.artifacts,
            Coverage::AllSubjects,
            policy,
        )
    }

    #[test]
    fn a_good_bundle_verifies_for_both_algorithms() {
        for alg in [KeyAlgorithm::EcdsaP256Sha256, KeyAlgorithm::Ed25519] {
            let c = case(alg);
            let verified = verify(&c, &c.bundle, &policy()).unwrap();
            assert_eq!(verified.key_id, c.key.verifying_key().key_id());
            assert_eq!(verified.statement.subject.len(), 2);
            assert_eq!(
                verified.to_string(),
                format!(
                    "https://slsa.dev/provenance/v1 statement over 2 subject(s), signed by key {}",
                    c.key.verifying_key().key_id()
                )
            );
            // Through JSON and back, as the CLI reads it.
            let reread = Bundle::from_json(Path::new("b.json"), &c.bundle.to_json()).unwrap();
            verify(&c, &reread, &policy()).unwrap();
        }
    }

    #[test]
    fn tampered_payload_byte_is_a_bad_signature() {
        let c = case(KeyAlgorithm::EcdsaP256Sha256);
        let mut bundle = c.bundle.clone();
        let env = envelope_mut(&mut bundle);
        let mut payload = B64.decode(&env.payload).unwrap();
        let i = payload.len() / 2;
        payload[i] ^= 0x01;
        env.payload = B64.encode(payload);
        let err = verify(&c, &bundle, &policy()).unwrap_err();
        assert!(
            matches!(err, VerifyError::BadSignature { ref key_id } if *key_id == c.key.verifying_key().key_id())
        );
        assert!(
            err.to_string()
                .contains("does not verify: the signed content or the signature was changed")
        );
    }

    #[test]
    fn tampered_signature_is_a_bad_signature() {
        let c = case(KeyAlgorithm::Ed25519);
        let mut bundle = c.bundle.clone();
        let env = envelope_mut(&mut bundle);
        let mut sig = B64.decode(&env.signatures[0].sig).unwrap();
        sig[10] ^= 0x80;
        env.signatures[0].sig = B64.encode(sig);
        assert!(matches!(verify(&c, &bundle, &policy()), Err(VerifyError::BadSignature { .. })));
    }

    #[test]
    fn tampered_subject_digest_names_subject_algorithm_and_both_digests() {
        let c = case(KeyAlgorithm::EcdsaP256Sha256);
        // The file changes after signing.
        std::fs::write(&c.artifacts[0], b"\x7fELF trojan").unwrap();
        let err = verify(&c, &c.bundle, &policy()).unwrap_err();
        let VerifyError::DigestMismatch { subject, algorithm, expected, actual } = &err else {
            panic!("{err:?}")
        };
        assert_eq!((subject.as_str(), algorithm.as_str()), ("app", "sha256"));
        assert_eq!(*actual, hex::encode(sha2::Sha256::digest(b"\x7fELF trojan")));
        assert_ne!(expected, actual);
        assert!(err.to_string().starts_with("subject \"app\": the file's sha256 digest is "));
    }

    #[test]
    fn subject_digest_changed_in_a_resigned_statement_is_caught_too() {
        let c = case(KeyAlgorithm::EcdsaP256Sha256);
        let mut statement = Statement::from_payload(
            &B64.decode(&envelope_mut(&mut c.bundle.clone()).payload).unwrap(),
        )
        .unwrap();
        statement.subject[0].digest.insert("sha512".into(), "ab".repeat(64));
        statement.subject[0].digest.remove("sha256");
        let bundle = resign(&c, &statement.to_payload());
        let err = verify(&c, &bundle, &policy()).unwrap_err();
        assert!(
            matches!(err, VerifyError::DigestMismatch { ref algorithm, .. } if algorithm == "sha512")
        );
    }

    #[test]
    fn tampered_payload_type_has_its_own_message() {
        let c = case(KeyAlgorithm::EcdsaP256Sha256);
        let mut bundle = c.bundle.clone();
        envelope_mut(&mut bundle).payload_type = "application/json".into();
        let err = verify(&c, &bundle, &policy()).unwrap_err();
        assert!(matches!(err, VerifyError::PayloadTypeMismatch { .. }));
        assert_eq!(
            err.to_string(),
            "payload type \"application/json\" is not the expected \"application/vnd.in-toto+json\""
        );
    }

    #[test]
    fn key_swap_is_a_key_mismatch_naming_both_keys() {
        let c = case(KeyAlgorithm::EcdsaP256Sha256);
        let other = SigningKey::generate(KeyAlgorithm::EcdsaP256Sha256).unwrap().verifying_key();
        let err =
            verify_attestation(&c.bundle, &other, &c.artifacts, Coverage::AllSubjects, &policy())
                .unwrap_err();
        assert!(matches!(err, VerifyError::KeyMismatch { .. }));
        assert_eq!(
            err.to_string(),
            format!(
                "signed by a different key: expected key id {}, the bundle names {}",
                other.key_id(),
                c.key.verifying_key().key_id()
            )
        );
        // The attacker's own key, re-signing, still does not pass for ours.
        let attacker = SigningKey::generate(KeyAlgorithm::EcdsaP256Sha256).unwrap();
        let env = dsse::sign(PAYLOAD_TYPE, b"{}", &attacker);
        let forged = Bundle::for_envelope(env, &attacker.verifying_key());
        assert!(matches!(verify(&c, &forged, &policy()), Err(VerifyError::KeyMismatch { .. })));
    }

    #[test]
    fn truncated_payload_json_and_non_statements() {
        let c = case(KeyAlgorithm::Ed25519);
        let payload = B64.decode(&envelope_mut(&mut c.bundle.clone()).payload).unwrap();
        let err = verify(&c, &resign(&c, &payload[..payload.len() - 7]), &policy()).unwrap_err();
        assert!(matches!(err, VerifyError::PayloadNotJson { .. }));
        assert!(
            err.to_string().starts_with("the signed payload is not JSON: line 1, column"),
            "{err}"
        );
        let err =
            verify(&c, &resign(&c, br#"{"_type":"https://in-toto.io/Statement/v0.1"}"#), &policy())
                .unwrap_err();
        assert!(matches!(err, VerifyError::NotAStatement { .. }));
        let err =
            verify(&c, &resign(&c, b"{\"_type\":\"https://in-toto.io/Statement/v1\"}"), &policy())
                .unwrap_err();
        assert!(err.to_string().contains("missing field `subject`"), "{err}");
    }

    #[test]
    fn wrong_media_type_has_its_own_message() {
        let c = case(KeyAlgorithm::Ed25519);
        let mut bundle = c.bundle.clone();
        bundle.media_type = "application/vnd.dev.sigstore.bundle+json;version=0.1".into();
        let err = verify(&c, &bundle, &policy()).unwrap_err();
        assert!(matches!(err, VerifyError::WrongMediaType { .. }));
        assert!(err.to_string().starts_with(
            "bundle media type \"application/vnd.dev.sigstore.bundle+json;version=0.1\" is not"
        ));
    }

    #[test]
    fn artifact_that_is_not_a_subject() {
        let c = case(KeyAlgorithm::Ed25519);
        let extra = c._dir.path().join("extra.tar");
        std::fs::write(&extra, b"x").unwrap();
        let err = verify_attestation(
            &c.bundle,
            &c.key.verifying_key(),
            &[extra],
            Coverage::AllSubjects,
            &policy(),
        )
        .unwrap_err();
        assert_eq!(err.to_string(), "artifact \"extra.tar\" is not a subject of the statement");
        let missing = c._dir.path().join("gone");
        let err = verify_attestation(
            &c.bundle,
            &c.key.verifying_key(),
            &[missing],
            Coverage::AllSubjects,
            &policy(),
        )
        .unwrap_err();
        assert!(err.is_input_error() && matches!(err, VerifyError::Io { .. }));
    }

    #[test]
    fn an_empty_directory_verifies_nothing_and_fails_naming_every_subject() {
        let c = case(KeyAlgorithm::EcdsaP256Sha256);
        let empty = c._dir.path().join("empty");
        std::fs::create_dir(&empty).unwrap();
        let err = verify_attestation(
            &c.bundle,
            &c.key.verifying_key(),
            &[empty],
            Coverage::AllSubjects,
            &policy(),
        )
        .unwrap_err();
        assert!(!err.is_input_error());
        let VerifyError::SubjectsNotFound { missing } = &err else { panic!("{err:?}") };
        assert_eq!(missing, &["app", "app.cdx.json"]);
        assert_eq!(
            err.to_string(),
            "2 subject(s) of the statement not found among the given artifacts: \"app\", \"app.cdx.json\""
        );
    }

    #[test]
    fn a_partial_set_fails_naming_the_missing_subject() {
        let c = case(KeyAlgorithm::Ed25519);
        let err = verify_attestation(
            &c.bundle,
            &c.key.verifying_key(),
            &c.artifacts[..1],
            Coverage::AllSubjects,
            &policy(),
        )
        .unwrap_err();
        let VerifyError::SubjectsNotFound { missing } = &err else { panic!("{err:?}") };
        assert_eq!(missing, &["app.cdx.json"]);
    }

    #[test]
    fn duplicate_subject_names_fail_naming_the_name() {
        let c = case(KeyAlgorithm::EcdsaP256Sha256);
        let mut subjects = subjects_for_paths(&c.artifacts).unwrap();
        // A second "app" with other bytes, placed first: which digest would a verifier hold the
        // file to? (Before, the last one silently won and this verified.)
        subjects.insert(
            0,
            Subject {
                name: "app".into(),
                digest: BTreeMap::from([("sha256".into(), "00".repeat(32))]),
            },
        );
        let statement = Statement::new(subjects, SLSA_PROVENANCE_V1, provenance()).unwrap();
        let bundle = resign(&c, &statement.to_payload());
        let err = verify(&c, &bundle, &policy()).unwrap_err();
        assert!(!err.is_input_error());
        let VerifyError::DuplicateSubjectName { names } = &err else { panic!("{err:?}") };
        assert_eq!(names, &["app"]);
        assert_eq!(
            err.to_string(),
            "subject name \"app\" appears more than once in the statement, so a file of that name \
             cannot be matched to one digest"
        );
    }

    #[test]
    fn a_subset_checks_only_the_files_given_and_lists_the_rest() {
        let c = case(KeyAlgorithm::EcdsaP256Sha256);
        let key = c.key.verifying_key();
        let verified =
            verify_attestation(&c.bundle, &key, &c.artifacts[..1], Coverage::Subset, &policy())
                .unwrap();
        assert_eq!(verified.checked, ["app"]);
        assert_eq!(verified.unchecked, ["app.cdx.json"]);
        assert!(
            verified.to_string().ends_with("; only 1 of them checked, 1 NOT checked"),
            "{verified}"
        );
        // Every file given: nothing left unchecked, the same summary as a full check.
        let all =
            verify_attestation(&c.bundle, &key, &c.artifacts, Coverage::Subset, &policy()).unwrap();
        assert!(all.unchecked.is_empty());
        assert_eq!(all.checked, ["app", "app.cdx.json"]);
        assert_eq!(all.to_string(), verify(&c, &c.bundle, &policy()).unwrap().to_string());

        // A subset still checks what it is given: a changed file and a stranger both fail.
        std::fs::write(&c.artifacts[0], b"changed").unwrap();
        let err =
            verify_attestation(&c.bundle, &key, &c.artifacts[..1], Coverage::Subset, &policy())
                .unwrap_err();
        assert!(matches!(err, VerifyError::DigestMismatch { ref subject, .. } if subject == "app"));
        let extra = c._dir.path().join("extra.tar");
        std::fs::write(&extra, b"x").unwrap();
        let err =
            verify_attestation(&c.bundle, &key, &[extra], Coverage::Subset, &policy()).unwrap_err();
        assert!(matches!(err, VerifyError::SubjectMissing { .. }), "{err:?}");

        // An empty directory checks nothing, and says so instead of "verified".
        let empty = c._dir.path().join("empty");
        std::fs::create_dir(&empty).unwrap();
        let err =
            verify_attestation(&c.bundle, &key, &[empty], Coverage::Subset, &policy()).unwrap_err();
        assert!(matches!(err, VerifyError::NothingChecked));
        assert!(!err.is_input_error());
    }

    #[test]
    fn a_statement_without_subjects_verifies_nothing() {
        let c = case(KeyAlgorithm::Ed25519);
        let statement = Statement::new(vec![], SLSA_PROVENANCE_V1, provenance()).unwrap();
        let bundle = resign(&c, &statement.to_payload());
        for coverage in [Coverage::AllSubjects, Coverage::Subset] {
            let err = verify_attestation(&bundle, &c.key.verifying_key(), &[], coverage, &policy())
                .unwrap_err();
            assert!(matches!(err, VerifyError::NoSubjects), "{err:?}");
        }
    }

    #[test]
    fn each_tamper_case_has_a_distinct_message() {
        // Collected from the cases above, in one place: no two share a message prefix.
        let c = case(KeyAlgorithm::EcdsaP256Sha256);
        let mut messages = Vec::new();
        let mut b = c.bundle.clone();
        envelope_mut(&mut b).payload_type = "x".into();
        messages.push(verify(&c, &b, &policy()).unwrap_err().to_string());
        let mut b = c.bundle.clone();
        let env = envelope_mut(&mut b);
        env.signatures[0].sig = B64.encode([0x30, 0x00]);
        messages.push(verify(&c, &b, &policy()).unwrap_err().to_string());
        let mut b = c.bundle.clone();
        b.media_type = "x".into();
        messages.push(verify(&c, &b, &policy()).unwrap_err().to_string());
        let other = SigningKey::generate(KeyAlgorithm::Ed25519).unwrap().verifying_key();
        messages.push(
            verify_attestation(&c.bundle, &other, &c.artifacts, Coverage::AllSubjects, &policy())
                .unwrap_err()
                .to_string(),
        );
        std::fs::write(&c.artifacts[1], b"changed").unwrap();
        messages.push(verify(&c, &c.bundle, &policy()).unwrap_err().to_string());
        let starts: std::collections::BTreeSet<String> =
            messages.iter().map(|m| m.chars().take(12).collect()).collect();
        assert_eq!(starts.len(), messages.len(), "{messages:#?}");
    }

    #[test]
    fn policy_builder_repo_ref_and_age() {
        let c = case(KeyAlgorithm::Ed25519);
        let ok = Policy {
            builder_ids: vec![
                "https://other".into(),
                "https://tollgate.dev/builders/local@v1".into(),
            ],
            source_repo: Some("https://GitHub.com/acme/app.git/".into()),
            source_ref: Some("v1.2.0".into()),
            max_age: Some(time::Duration::days(2)),
            ..policy()
        };
        verify(&c, &c.bundle, &ok).unwrap();
        verify(
            &c,
            &c.bundle,
            &Policy { source_ref: Some("refs/tags/v1.2.0".into()), ..ok.clone() },
        )
        .unwrap();

        let err = verify(
            &c,
            &c.bundle,
            &Policy {
                builder_ids: vec!["https://github.com/actions/runner/github-hosted".into()],
                ..ok.clone()
            },
        )
        .unwrap_err();
        assert!(matches!(err, VerifyError::BuilderNotAllowed { .. }));
        assert_eq!(
            err.to_string(),
            "builder \"https://tollgate.dev/builders/local@v1\" is not allowed (allowed: https://github.com/actions/runner/github-hosted)"
        );

        let err = verify(
            &c,
            &c.bundle,
            &Policy { source_repo: Some("https://github.com/evil/app".into()), ..ok.clone() },
        )
        .unwrap_err();
        assert_eq!(
            err.to_string(),
            "source repository \"https://github.com/acme/app\" is not the expected \"https://github.com/evil/app\""
        );

        let err = verify(
            &c,
            &c.bundle,
            &Policy { source_ref: Some("refs/heads/main".into()), ..ok.clone() },
        )
        .unwrap_err();
        assert!(matches!(err, VerifyError::SourceRefMismatch { .. }));
        assert_eq!(
            err.to_string(),
            "source ref \"refs/tags/v1.2.0\" is not the expected \"refs/heads/main\""
        );

        let err = verify(
            &c,
            &c.bundle,
            &Policy { max_age: Some(time::Duration::hours(12)), ..ok.clone() },
        )
        .unwrap_err();
        assert!(matches!(err, VerifyError::TooOld { .. }));
        assert_eq!(
            err.to_string(),
            "the build finished 1d 0h 0m 0s ago, more than the allowed 12h 0m 0s"
        );
    }

    #[test]
    fn policy_on_a_non_provenance_statement_or_one_without_source() {
        let c = case(KeyAlgorithm::Ed25519);
        let subjects = subjects_for_paths(&c.artifacts).unwrap();
        let sbom =
            Statement::new(subjects.clone(), crate::statement::CYCLONEDX, json!({})).unwrap();
        let bundle = resign(&c, &sbom.to_payload());
        verify(&c, &bundle, &policy()).unwrap();
        let strict = Policy { builder_ids: vec!["b".into()], ..policy() };
        assert!(matches!(verify(&c, &bundle, &strict), Err(VerifyError::NotProvenance { .. })));

        let bare = Statement::new(subjects, SLSA_PROVENANCE_V1, json!({"runDetails": {}})).unwrap();
        let bundle = resign(&c, &bare.to_payload());
        let err =
            verify(&c, &bundle, &Policy { source_repo: Some("r".into()), ..policy() }).unwrap_err();
        assert_eq!(err.to_string(), "source repository (none recorded) is not the expected \"r\"");
        let err =
            verify(&c, &bundle, &Policy { max_age: Some(time::Duration::days(1)), ..policy() })
                .unwrap_err();
        assert!(matches!(err, VerifyError::NoBuildTime));
        let err =
            verify(&c, &bundle, &Policy { builder_ids: vec!["b".into()], ..policy() }).unwrap_err();
        assert_eq!(err.to_string(), "builder \"\" is not allowed (allowed: b)");
    }

    #[test]
    fn git_uris_split_into_repository_and_ref() {
        assert_eq!(
            split_git_uri("git+https://github.com/a/b@refs/heads/main"),
            ("https://github.com/a/b".into(), Some("refs/heads/main".into()))
        );
        assert_eq!(split_git_uri("git+ssh://git@host/a/b"), ("ssh://git@host/a/b".into(), None));
        assert_eq!(
            split_git_uri("git+ssh://git@host/a/b@v1"),
            ("ssh://git@host/a/b".into(), Some("v1".into()))
        );
    }

    #[test]
    fn blob_bundles_verify_and_fail_distinctly() {
        for alg in [KeyAlgorithm::EcdsaP256Sha256, KeyAlgorithm::Ed25519] {
            let dir = tempfile::tempdir().unwrap();
            let blob = dir.path().join("release.tar.gz");
            std::fs::write(&blob, vec![7u8; 3_000_000]).unwrap();
            let key = SigningKey::generate(alg).unwrap();
            let bundle = sign_blob(&blob, &key).unwrap();
            verify_blob(&bundle, &key.verifying_key(), &blob).unwrap();

            let other = SigningKey::generate(alg).unwrap().verifying_key();
            assert!(matches!(
                verify_blob(&bundle, &other, &blob),
                Err(VerifyError::KeyMismatch { .. })
            ));
            let mut no_hint = bundle.clone();
            no_hint.verification_material.key = KeyMaterial::PublicKey { hint: String::new() };
            assert!(matches!(
                verify_blob(&no_hint, &other, &blob),
                Err(VerifyError::BadSignature { .. })
            ));

            std::fs::write(&blob, vec![8u8; 3_000_000]).unwrap();
            let err = verify_blob(&bundle, &key.verifying_key(), &blob).unwrap_err();
            assert!(
                matches!(err, VerifyError::DigestMismatch { ref algorithm, .. } if algorithm == "sha256")
            );

            // An attestation bundle is not a blob signature, and the reverse.
            let c = case(alg);
            assert!(matches!(
                verify_blob(&c.bundle, &c.key.verifying_key(), &blob),
                Err(VerifyError::UnexpectedContent { .. })
            ));
            assert!(matches!(
                verify_attestation(
                    &bundle,
                    &key.verifying_key(),
                    &[],
                    Coverage::AllSubjects,
                    &policy()
                ),
                Err(VerifyError::UnexpectedContent { .. })
            ));
        }
    }

    #[test]
    fn digests_from_other_tools_compare_case_insensitively() {
        let c = case(KeyAlgorithm::Ed25519);
        let mut subjects: Vec<Subject> = subjects_for_paths(&c.artifacts).unwrap();
        for s in &mut subjects {
            for v in s.digest.values_mut() {
                *v = v.to_uppercase();
            }
        }
        let statement = Statement::new(subjects, SLSA_PROVENANCE_V1, provenance()).unwrap();
        verify(&c, &resign(&c, &statement.to_payload()), &policy()).unwrap();
    }

    use sha2::Digest as _;
}
