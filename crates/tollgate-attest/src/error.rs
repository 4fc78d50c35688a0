//! Errors. Every variant says which file, which subject, which key.

use std::path::PathBuf;

/// Everything that can go wrong building, signing or verifying an attestation.
#[derive(Debug, thiserror::Error)]
pub enum AttestError {
    /// A file could not be read or written.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The I/O error.
        source: std::io::Error,
    },
    /// A key, envelope or bundle file is malformed (with the place, where known).
    #[error("{path}: {message}")]
    Malformed {
        /// The file.
        path: PathBuf,
        /// What is wrong and where (line, JSON pointer).
        message: String,
    },
}
