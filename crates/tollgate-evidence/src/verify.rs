//! Verifying a bundle offline, in one streaming pass: [`verify`], and the [`Summary`] it (and
//! [`show`](crate::show)) returns.
//!
//! What verifies is what extractors produce: the tar stream is read strictly
//! ([`crate::tar_stream`]: canonical headers, regular files and directories only, bounded
//! padding after the end marker) inside exactly one gzip member or zstd frame
//! ([`crate::container`]). Each header is checked against the signed manifest before its data
//! is read, so the bytes read are bounded by the manifest: its files' sizes, a header (two with
//! a long name) per file and per parent directory, and at most one 10240-byte record of
//! padding.

use std::collections::BTreeMap;
use std::io::Read;
use std::path::Path;

use sha2::{Digest as _, Sha256};
use tollgate_attest::dsse::{self, Envelope};
use tollgate_attest::keys::VerifyingKey;

use crate::container;
use crate::hasher::Hasher;
use crate::manifest::parse_manifest;
use crate::tar_stream::TarReader;
use crate::{
    EvidenceError, FileEntry, MANIFEST, MANIFEST_DSSE, MAX_MANIFEST_BYTES, Manifest, PAYLOAD_TYPE,
};

/// What [`verify`] checked, and [`show`](crate::show) read.
#[derive(Debug, Clone)]
pub struct Summary {
    /// The manifest.
    pub manifest: Manifest,
    /// SHA-256 of `manifest.json`.
    pub manifest_sha256: String,
}

/// Verifies `bundle` with `key`, offline, reading it once: the signature over the manifest, and
/// every file's path, type, size, SHA-256 and SHA-512; no extra, duplicate or missing files, no
/// directory but the manifest files' parents, nothing after the archive but the padding
/// [`crate::tar_stream`] describes, nothing after the gzip member or zstd frame.
pub fn verify(bundle: &Path, key: &VerifyingKey) -> Result<Summary, EvidenceError> {
    let stream = container::open(bundle)?;
    verify_stream(bundle, stream, key, |stream, last| stream.finish(bundle, last))
}

/// Verifies the decompressed tar stream `stream` of `bundle`; `finish` checks what follows the
/// stream once it has ended (given the last entry's name).
pub(crate) fn verify_stream<R: Read>(
    bundle: &Path,
    stream: R,
    key: &VerifyingKey,
    finish: impl FnOnce(R, &str) -> Result<(), EvidenceError>,
) -> Result<Summary, EvidenceError> {
    let mut tar = TarReader::new(bundle, stream);
    let manifest_bytes = read_small(&mut tar, MANIFEST, 0)?;
    let envelope_bytes = read_small(&mut tar, MANIFEST_DSSE, 1)?;
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
    // The directories an extractor may be told to create: the files' parents.
    let mut directories: BTreeMap<&str, bool> = manifest
        .files
        .iter()
        .flat_map(|f| f.path.match_indices('/').map(|(end, _)| (&f.path[..end], false)))
        .collect();
    let mut hasher = Hasher::new().map_err(|e| EvidenceError::io(bundle, e))?;
    while let Some(entry) = tar.next()? {
        let name = entry.path;
        if entry.is_dir {
            match directories.get_mut(name.as_str()) {
                None => {
                    return Err(EvidenceError::ExtraDirectory {
                        bundle: bundle.to_owned(),
                        entry: name,
                    });
                }
                Some(true) => {
                    return Err(EvidenceError::DuplicateFile {
                        bundle: bundle.to_owned(),
                        entry: format!("{name}/"),
                    });
                }
                Some(seen) => *seen = true,
            }
            continue;
        }
        let Some((want, seen)) = expected.get_mut(name.as_str()) else {
            return Err(EvidenceError::ExtraFile { bundle: bundle.to_owned(), entry: name });
        };
        if *seen {
            return Err(EvidenceError::DuplicateFile { bundle: bundle.to_owned(), entry: name });
        }
        *seen = true;
        // The header's size decides whether the data is read at all.
        if entry.size != want.size {
            return Err(EvidenceError::SizeMismatch {
                bundle: bundle.to_owned(),
                entry: name,
                expected: want.size,
                found: entry.size,
            });
        }
        let hashed = hasher.hash(&mut tar.data());
        let (_, sha256, sha512) = hashed.map_err(|e| tar.corrupt(e))?;
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
    }
    let last = tar.last().to_owned();
    let stream = tar.finish()?;
    finish(stream, &last)?;
    let missing: Vec<&str> =
        expected.iter().filter(|(_, (_, seen))| !seen).map(|(p, _)| *p).collect();
    if let Some(first) = missing.first() {
        return Err(EvidenceError::MissingFile {
            bundle: bundle.to_owned(),
            entry: (*first).to_owned(),
            more: missing.len() - 1,
        });
    }
    let manifest_sha256 = hex::encode(Sha256::digest(&manifest_bytes));
    Ok(Summary { manifest, manifest_sha256 })
}

/// Reads the next entry, which must be the regular file `expected` (entry `index`) of at most
/// [`MAX_MANIFEST_BYTES`], whole; the size is checked before anything is read.
pub(crate) fn read_small<R: Read>(
    tar: &mut TarReader<'_, R>,
    expected: &'static str,
    index: usize,
) -> Result<Vec<u8>, EvidenceError> {
    let bundle = tar.bundle().to_owned();
    let Some(entry) = tar.next()? else {
        return Err(EvidenceError::ManifestMissing {
            bundle,
            expected,
            index,
            found: "the end of the archive".into(),
        });
    };
    if entry.path != expected || entry.is_dir {
        let slash = if entry.is_dir { "/" } else { "" };
        return Err(EvidenceError::ManifestMissing {
            bundle,
            expected,
            index,
            found: format!("{:?}", format!("{}{slash}", entry.path)),
        });
    }
    if entry.size > MAX_MANIFEST_BYTES {
        return Err(EvidenceError::ManifestInvalid {
            bundle,
            entry: expected,
            message: format!("{} bytes is more than the {MAX_MANIFEST_BYTES} accepted", entry.size),
        });
    }
    let mut bytes = Vec::with_capacity(entry.size as usize);
    let read = tar.data().read_to_end(&mut bytes);
    read.map_err(|e| tar.corrupt(e))?;
    Ok(bytes)
}
