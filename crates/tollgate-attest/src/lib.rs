//! Attestations: what was built, from what, by whom — signed so anyone can check offline.
//!
//! - [`statement`]: in-toto Statement v1 (subjects with digests, one builder for every
//!   predicate type) and [`provenance`]: the SLSA Provenance v1 predicate, with [`ci`]
//!   detecting the build environment and [`source`] reading the source commit with git2.
//! - [`keys`]: ECDSA P-256 and Ed25519 keys (PKCS#8 PEM, cosign's encrypted format).
//! - [`dsse`]: DSSE envelopes (PAE exactly as the spec defines it), signing and verifying.
//! - [`bundle`]: Sigstore bundle v0.3 JSON around an envelope or a blob signature.
//! - [`verify`]: signature, key, payload type, subject digests on disk, and policy.
//! - [`keyless`]: OIDC -> Fulcio -> Rekor signing behind one interface; the requests go over
//!   HTTPS with [`keyless::UreqTransport`] (ureq, rustls), to the public-good Sigstore or the
//!   instances in `SIGSTORE_FULCIO_URL` / `SIGSTORE_REKOR_URL`.
//! - [`subject`]: subjects for files and directories, hashed once per file (SHA-256 and SHA-512
//!   together) on every core.
//!
//! - [`gate`]: the `[attest]` configuration, the rule table and the release `attest` check.
//!
//! **Architecture invariant:** no printing; key material never appears in errors, logs or
//! `Debug` output. **API boundary:** no network access anywhere in this crate except
//! [`keyless::UreqTransport`], and only when a caller hands it to [`keyless::SigstoreKeyless`]
//! (which [`keyless::SigstoreKeyless::from_env`] does); every request goes through
//! [`keyless::HttpTransport`], so tests and offline callers substitute their own.

pub mod bundle;
pub mod ci;
pub mod dsse;
pub mod error;
pub mod gate;
pub mod keyless;
pub mod keys;
pub mod provenance;
pub mod source;
pub mod statement;
pub mod subject;
pub mod verify;

pub use error::AttestError;
