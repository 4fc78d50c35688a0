//! Errors. Every variant says which file, which subject, which key — never what the key is.

use std::path::PathBuf;

use crate::verify::VerifyError;

/// Everything that can go wrong reading inputs, building, signing or writing an attestation.
///
/// Verification failures have their own type, [`VerifyError`]; this type wraps one only where
/// a function of this crate verifies as a side job ([`crate::dsse::verify_envelope`]).
#[derive(Debug, thiserror::Error)]
pub enum AttestError {
    /// A file could not be read or written.
    #[error("{path}: {cause}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The I/O error.
        cause: std::io::Error,
    },
    /// A key, envelope or bundle file is malformed (with the place, where known).
    #[error("{path}: {message}")]
    Malformed {
        /// The file.
        path: PathBuf,
        /// What is wrong and where (line and column, or JSON pointer).
        message: String,
    },
    /// A JSON document that is not a Sigstore bundle of the version this crate reads.
    #[error(
        "{path}: bundle media type {found:?} at /mediaType is not supported (expected {expected:?})"
    )]
    UnsupportedMediaType {
        /// The file.
        path: PathBuf,
        /// The media type found.
        found: String,
        /// The media type this crate reads and writes.
        expected: &'static str,
    },
    /// An encrypted private key was given without a password.
    #[error("{path}: the private key is encrypted ({format}) and no password was given")]
    PasswordRequired {
        /// The key file.
        path: PathBuf,
        /// The encrypted format, e.g. "cosign".
        format: &'static str,
    },
    /// The password does not decrypt the private key.
    #[error("{path}: wrong password for the encrypted private key (or the file is corrupted)")]
    WrongPassword {
        /// The key file.
        path: PathBuf,
    },
    /// A file that must not be overwritten exists already.
    #[error("{path}: already exists; refusing to overwrite a key")]
    KeyExists {
        /// The existing file.
        path: PathBuf,
    },
    /// Reading git metadata failed.
    #[error("{path}: git: {message}")]
    Git {
        /// The repository directory.
        path: PathBuf,
        /// What libgit2 reported, or what is missing (e.g. no commit yet).
        message: String,
    },
    /// The operating system's random number generator failed.
    #[error("cannot generate a key: the system random number generator failed: {0}")]
    Random(String),
    /// A predicate could not be turned into JSON.
    #[error("cannot serialize the {what}: {message}")]
    Serialize {
        /// What was being serialized (e.g. "predicate").
        what: &'static str,
        /// The serializer's message.
        message: String,
    },
    /// Two artifacts would have the same subject name but different contents.
    #[error(
        "two artifacts are both named {name:?} in the statement ({first} and {second}); give them different names or sign them separately"
    )]
    DuplicateSubject {
        /// The subject name.
        name: String,
        /// The first file.
        first: PathBuf,
        /// The second file.
        second: PathBuf,
    },
    /// A blob changed while it was being signed (Ed25519 reads the blob twice).
    #[error("{path}: the file changed while it was being signed")]
    ChangedWhileSigning {
        /// The blob.
        path: PathBuf,
    },
    /// Keyless signing cannot be done in this build or this environment.
    #[error("keyless signing is unavailable: {reason}")]
    KeylessUnavailable {
        /// Why, and what to do instead.
        reason: String,
    },
    /// Keyless signing was attempted and failed before or at the network boundary.
    #[error("keyless signing: {0}")]
    Keyless(String),
    /// A key file could not be read.
    #[error("{path}: cannot read {what}: {cause}")]
    ReadKey {
        /// The key file.
        path: PathBuf,
        /// `private key` or `public key`.
        what: &'static str,
        /// The I/O error.
        cause: std::io::Error,
    },
    /// `SOURCE_DATE_EPOCH` is set but is not a timestamp.
    #[error(transparent)]
    Time(#[from] tollgate_core::time_source::SourceDateEpochError),
    /// A signature check done while reading or converting failed.
    #[error(transparent)]
    Verify(#[from] VerifyError),
}

impl AttestError {
    /// An [`AttestError::Io`] for `path`.
    pub fn io(path: impl Into<PathBuf>, cause: std::io::Error) -> Self {
        AttestError::Io { path: path.into(), cause }
    }

    /// An [`AttestError::Malformed`] for `path`.
    pub fn malformed(path: impl Into<PathBuf>, message: impl Into<String>) -> Self {
        AttestError::Malformed { path: path.into(), message: message.into() }
    }
}

/// Describes a `serde_json` error with its line and column, the way every file error here is
/// reported: `line 3, column 7: expected ...`.
pub(crate) fn json_error_place(e: &serde_json::Error) -> String {
    // serde_json's Display already ends with " at line L column C"; say the place first and
    // drop the tail so the message reads the same for every file kind.
    let text = e.to_string();
    let tail = format!(" at line {} column {}", e.line(), e.column());
    let message = text.strip_suffix(&tail).unwrap_or(&text);
    format!("line {}, column {}: {message}", e.line(), e.column())
}
