//! The OpenAPI loader (no file or remote references resolve) and the diff of two specs, on
//! arbitrary text split at the first `\0` into base and revision.
#![no_main]

use libfuzzer_sys::fuzz_target;
use tollgate_contracts::openapi;

/// The resolver: fuzzing reads no files, so every reference is refused.
fn no_refs(name: &str) -> Result<String, String> {
    Err(format!("{name}: references are not read while fuzzing"))
}

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    let (base, revision) = text.split_once('\0').unwrap_or((text, text));
    let base = openapi::load_str("base.yaml", base, no_refs);
    let revision = openapi::load_str("revision.yaml", revision, no_refs);
    if let (Ok(base), Ok(revision)) = (base, revision) {
        let _ = openapi::diff(&base, &revision);
    }
});
