//! End-to-end tests: the `tollgate` binary on real trees and real files, with its outputs
//! checked by other people's implementations (CycloneDX and SPDX validators, `cargo metadata`).
//!
//! Run with `cargo xtask test`, which installs the Python validators in `target/venv` and
//! points `TOLLGATE_PYTHON` at it.

mod support;

mod attest;
mod release;
mod sbom;
