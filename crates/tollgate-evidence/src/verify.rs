//! Verifying a bundle offline, in one streaming pass: [`verify`], and the [`Summary`] it (and
//! [`show`](crate::show)) returns.

use std::collections::BTreeMap;
use std::path::Path;

use sha2::{Digest as _, Sha256};
use tollgate_attest::dsse::{self, Envelope};
use tollgate_attest::keys::VerifyingKey;

use crate::archive::{check_entry, corrupt, finish_stream, open, read_small};
use crate::hasher::Hasher;
use crate::manifest::parse_manifest;
use crate::{EvidenceError, FileEntry, MANIFEST, MANIFEST_DSSE, Manifest, PAYLOAD_TYPE};

/// What [`verify`] checked, and [`show`](crate::show) read.
#[derive(Debug, Clone)]
pub struct Summary {
    /// The manifest.
    pub manifest: Manifest,
    /// SHA-256 of `manifest.json`.
    pub manifest_sha256: String,
}

/// Verifies `bundle` with `key`, offline, reading it once: the signature over the manifest, and
/// every file's path, type, size, SHA-256 and SHA-512; no extra, duplicate or missing files.
pub fn verify(bundle: &Path, key: &VerifyingKey) -> Result<Summary, EvidenceError> {
    let mut archive = open(bundle)?;
    let mut entries = archive.entries().map_err(|e| corrupt(bundle, None, &e))?;
    let manifest_bytes = read_small(bundle, &mut entries, MANIFEST, 0, None)?;
    let envelope_bytes = read_small(bundle, &mut entries, MANIFEST_DSSE, 1, Some(MANIFEST))?;
    let envelope_text =
        String::from_utf8(envelope_bytes).map_err(|_| EvidenceError::ManifestInvalid {
            bundle: bundle.to_owned(),
            entry: MANIFEST_DSSE,
            message: "not UTF-8".into(),
        })?;
    let envelope = Envelope::from_json(Path::new(MANIFEST_DSSE), &envelope_text).map_err(|e| {
        EvidenceError::ManifestInvalid {
            bundle: bundle.to_owned(),
            entry: MANIFEST_DSSE,
            message: e.to_string(),
        }
    })?;
    if envelope.payload_type != PAYLOAD_TYPE {
        return Err(EvidenceError::ManifestInvalid {
            bundle: bundle.to_owned(),
            entry: MANIFEST_DSSE,
            message: format!(
                "payloadType is {:?}, expected {PAYLOAD_TYPE:?}",
                envelope.payload_type
            ),
        });
    }
    let payload = dsse::verify_envelope(&envelope, key).map_err(|e| {
        EvidenceError::BadSignature { bundle: bundle.to_owned(), message: e.to_string() }
    })?;
    if payload != manifest_bytes {
        return Err(EvidenceError::ManifestTampered { bundle: bundle.to_owned() });
    }
    let manifest = parse_manifest(bundle, &payload)?;
    let mut expected: BTreeMap<&str, (&FileEntry, bool)> =
        manifest.files.iter().map(|f| (f.path.as_str(), (f, false))).collect();
    let mut last = MANIFEST_DSSE.to_owned();
    let mut hasher = Hasher::new().map_err(|e| EvidenceError::io(bundle, e))?;
    for entry in entries {
        let mut entry = entry.map_err(|e| corrupt(bundle, Some(&last), &e))?;
        let (name, is_dir) = check_entry(bundle, &entry)?;
        if is_dir {
            last = name;
            continue;
        }
        let Some((want, seen)) = expected.get_mut(name.as_str()) else {
            return Err(EvidenceError::ExtraFile { bundle: bundle.to_owned(), entry: name });
        };
        if *seen {
            return Err(EvidenceError::DuplicateFile { bundle: bundle.to_owned(), entry: name });
        }
        *seen = true;
        let (size, sha256, sha512) =
            hasher.hash(&mut entry).map_err(|e| corrupt(bundle, Some(&last), &e))?;
        if size != want.size {
            return Err(EvidenceError::SizeMismatch {
                bundle: bundle.to_owned(),
                entry: name,
                expected: want.size,
                found: size,
            });
        }
        for (algorithm, found, wanted) in
            [("sha256", sha256, &want.sha256), ("sha512", sha512, &want.sha512)]
        {
            if found != *wanted {
                return Err(EvidenceError::DigestMismatch {
                    bundle: bundle.to_owned(),
                    entry: name,
                    algorithm,
                    expected: wanted.clone(),
                    found,
                });
            }
        }
        last = name;
    }
    let missing: Vec<String> =
        expected.iter().filter(|(_, (_, seen))| !seen).map(|(p, _)| (*p).to_owned()).collect();
    finish_stream(bundle, archive, &last)?;
    if let Some(first) = missing.first() {
        return Err(EvidenceError::MissingFile {
            bundle: bundle.to_owned(),
            entry: first.clone(),
            more: missing.len() - 1,
        });
    }
    let manifest_sha256 = hex::encode(Sha256::digest(&manifest_bytes));
    Ok(Summary { manifest, manifest_sha256 })
}
