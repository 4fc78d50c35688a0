//! `tollgate verify --key PUB --bundle FILE [policy] [--subset] ARTIFACT...`.
//!
//! Exit 0: verified. Exit 1: the bundle does not verify, with a message saying which part (the
//! media type, the payload type, the key, the signature, which subject and digest, which
//! subjects are missing from the artifacts, which policy rule). Exit 2: an unreadable or
//! malformed key, bundle or artifact.
//!
//! Without `--subset` every subject of the statement must be among the artifacts; with it only
//! the artifacts given are checked, and every subject NOT checked is listed on its own line.

use crate::cli::VerifyArgs;
use anyhow::Context;
use std::path::Path;
use tollgate_attest::AttestError;
use tollgate_attest::bundle::{Bundle, BundleContent};
use tollgate_attest::dsse::Envelope;
use tollgate_attest::verify::{self, Coverage, Policy, VerifyError};
use tollgate_core::{Verdict, time_source};

pub fn run(args: &VerifyArgs) -> anyhow::Result<Verdict> {
    let key = super::keys::load_verifying_key(&args.key)?;
    let text = std::fs::read_to_string(&args.bundle)
        .with_context(|| format!("{}: cannot read bundle", args.bundle.display()))?;
    let bundle = match read_bundle(&args.bundle, &text, &key) {
        Ok(bundle) => bundle,
        // Another bundle version is a well-formed document that fails verification.
        Err(AttestError::UnsupportedMediaType { found, expected, .. }) => {
            return fail(&args.bundle, &VerifyError::WrongMediaType { found, expected });
        }
        Err(e) => return Err(e.into()),
    };
    let max_age = match args.max_age {
        Some(age) => Some(time::Duration::try_from(age).context("--max-age is too large")?),
        None => None,
    };
    let policy = Policy {
        builder_ids: args.builder_ids.clone(),
        source_repo: args.source_repo.clone(),
        source_ref: args.source_ref.clone(),
        max_age,
        now: time_source::now()?,
    };
    let result = match &bundle.content {
        BundleContent::Dsse(_) => {
            let coverage = if args.subset { Coverage::Subset } else { Coverage::AllSubjects };
            verify::verify_attestation(&bundle, &key, &args.artifacts, coverage, &policy).map(
                |verified| {
                    let mut summary = verified.to_string();
                    for name in &verified.unchecked {
                        summary.push_str(&format!("\nnot checked: {name}"));
                    }
                    summary
                },
            )
        }
        BundleContent::MessageSignature { .. } => {
            let [blob] = args.artifacts.as_slice() else {
                anyhow::bail!(
                    "{}: a blob signature covers one file; {} artifacts given",
                    args.bundle.display(),
                    args.artifacts.len()
                );
            };
            anyhow::ensure!(
                !args.subset,
                "{}: a blob signature covers one file; --subset applies to attestations only",
                args.bundle.display()
            );
            anyhow::ensure!(
                args.builder_ids.is_empty()
                    && args.source_repo.is_none()
                    && args.source_ref.is_none()
                    && args.max_age.is_none(),
                "{}: a blob signature carries no provenance; --builder-id, --source-repo, \
                 --source-ref and --max-age apply to attestations only",
                args.bundle.display()
            );
            verify::verify_blob(&bundle, &key, blob)
                .map(|()| format!("signature over {} by key {}", blob.display(), key.key_id()))
        }
    };
    match result {
        Ok(summary) => {
            crate::output::emit(None, &format!("verified {}: {summary}\n", args.bundle.display()))?;
            Ok(Verdict::Pass)
        }
        Err(e) if e.is_input_error() => Err(anyhow::anyhow!("{}: {e}", args.bundle.display())),
        Err(e) => fail(&args.bundle, &e),
    }
}

fn fail(bundle: &Path, error: &VerifyError) -> anyhow::Result<Verdict> {
    eprintln!("verification failed: {}: {error}", bundle.display());
    Ok(Verdict::Fail)
}

/// A Sigstore bundle, or a bare DSSE envelope (an object with `payloadType` and no
/// `mediaType`) seen as a key-based bundle around it.
fn read_bundle(
    path: &Path,
    text: &str,
    key: &tollgate_attest::keys::VerifyingKey,
) -> Result<Bundle, AttestError> {
    let is_envelope = serde_json::from_str::<serde_json::Value>(text)
        .is_ok_and(|v| v.get("mediaType").is_none() && v.get("payloadType").is_some());
    if is_envelope {
        Ok(Bundle::for_envelope(Envelope::from_json(path, text)?, key))
    } else {
        Bundle::from_json(path, text)
    }
}
