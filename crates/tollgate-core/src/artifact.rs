//! Artifacts and their digests.

use serde::{Deserialize, Serialize};
use sha2::{Digest as _, Sha256, Sha512};
use std::fmt;
use std::io::{self, Read};
use std::path::{Path, PathBuf};

/// A hash algorithm Tollgate records.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum DigestAlgorithm {
    /// SHA-256.
    Sha256,
    /// SHA-512.
    Sha512,
}

/// A content digest: algorithm plus lowercase hex value.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct Digest {
    /// Which algorithm produced `hex`.
    pub algorithm: DigestAlgorithm,
    /// Lowercase hexadecimal digest.
    pub hex: String,
}

impl Digest {
    /// SHA-256 of `bytes`.
    pub fn sha256(bytes: &[u8]) -> Digest {
        Digest { algorithm: DigestAlgorithm::Sha256, hex: hex::encode(Sha256::digest(bytes)) }
    }
}

impl fmt::Display for Digest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let alg = match self.algorithm {
            DigestAlgorithm::Sha256 => "sha256",
            DigestAlgorithm::Sha512 => "sha512",
        };
        write!(f, "{alg}:{}", self.hex)
    }
}

/// A file a release produced or consumed, with its media type and digests.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct Artifact {
    /// Where the file is.
    pub path: PathBuf,
    /// IANA media type (`application/vnd.cyclonedx+json`, …).
    pub media_type: String,
    /// SHA-256 and SHA-512 of the file's bytes, in that order.
    pub digests: Vec<Digest>,
}

impl Artifact {
    /// Reads `path` once, streaming, and records its SHA-256 and SHA-512.
    pub fn from_file(path: &Path, media_type: impl Into<String>) -> io::Result<Artifact> {
        let mut file = std::fs::File::open(path)?;
        let mut sha256 = Sha256::new();
        let mut sha512 = Sha512::new();
        let mut buf = vec![0u8; 256 * 1024];
        loop {
            let n = file.read(&mut buf)?;
            if n == 0 {
                break;
            }
            sha256.update(&buf[..n]);
            sha512.update(&buf[..n]);
        }
        Ok(Artifact {
            path: path.to_path_buf(),
            media_type: media_type.into(),
            digests: vec![
                Digest { algorithm: DigestAlgorithm::Sha256, hex: hex::encode(sha256.finalize()) },
                Digest { algorithm: DigestAlgorithm::Sha512, hex: hex::encode(sha512.finalize()) },
            ],
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn file_digests_match_known_values() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("abc");
        std::fs::write(&path, b"abc").unwrap();
        let artifact = Artifact::from_file(&path, "text/plain").unwrap();
        assert_eq!(
            artifact.digests[0].hex,
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
        assert!(artifact.digests[1].hex.starts_with("ddaf35a193617aba"));
        assert_eq!(artifact.digests[0], Digest::sha256(b"abc"));
    }
}
