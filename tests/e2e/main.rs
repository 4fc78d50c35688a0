//! End-to-end tests: the `tollgate` binary on real trees and real files, with its outputs
//! checked by other people's implementations (CycloneDX and SPDX validators, `cargo metadata`).
//!
//! Run with `cargo xtask test`, which installs the Python validators in `target/venv` and
//! points `TOLLGATE_PYTHON` at it, and starts PostgreSQL and an S3-compatible server (moto)
//! for the `db` tests (`TOLLGATE_TEST_DATABASE_URL`, `TOLLGATE_TEST_S3_ENDPOINT`).

/// The GitHub API replay server, shared with tollgate-evidence's own tests.
#[path = "../../crates/tollgate-evidence/tests/support/replay.rs"]
mod replay;
mod support;

mod attest;
mod cli_output;
mod contracts;
mod db;
mod db_backup;
mod db_credentials;
mod evidence;
mod evidence_changes;
mod evidence_extract;
mod evidence_publish;
mod evidence_report;
mod pact;
mod release;
mod sbom;
