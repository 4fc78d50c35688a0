//! Reading a bundle's manifest without verifying anything: [`show`].

use std::path::Path;

use sha2::{Digest as _, Sha256};

use crate::container;
use crate::manifest::parse_manifest;
use crate::tar_stream::TarReader;
use crate::verify::read_small;
use crate::{EvidenceError, MANIFEST, Summary};

/// Reads a bundle's manifest (its first entry, read as strictly as [`crate::verify`] reads
/// it) without verifying anything else.
pub fn show(bundle: &Path) -> Result<Summary, EvidenceError> {
    let stream = container::open(bundle)?;
    let mut tar = TarReader::new(bundle, stream);
    let bytes = read_small(&mut tar, MANIFEST, 0)?;
    let manifest = parse_manifest(bundle, &bytes)?;
    Ok(Summary { manifest, manifest_sha256: hex::encode(Sha256::digest(&bytes)) })
}
