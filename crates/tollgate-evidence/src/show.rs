//! Reading a bundle's manifest without verifying anything: [`show`].

use std::path::Path;

use sha2::{Digest as _, Sha256};

use crate::archive::{corrupt, open, read_small};
use crate::manifest::parse_manifest;
use crate::{EvidenceError, MANIFEST, Summary};

/// Reads a bundle's manifest (its first entry) without verifying anything.
pub fn show(bundle: &Path) -> Result<Summary, EvidenceError> {
    let mut archive = open(bundle)?;
    let mut entries = archive.entries().map_err(|e| corrupt(bundle, None, &e))?;
    let bytes = read_small(bundle, &mut entries, MANIFEST, 0, None)?;
    let manifest = parse_manifest(bundle, &bytes)?;
    Ok(Summary { manifest, manifest_sha256: hex::encode(Sha256::digest(&bytes)) })
}
