//! The JSON Schema loader and the compatibility check in every mode, on arbitrary text split at
//! the first `\0` into base and revision.
#![no_main]

use libfuzzer_sys::fuzz_target;
use tollgate_contracts::jsonschema::{self, Compatibility};

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    let (base, revision) = text.split_once('\0').unwrap_or((text, text));
    let base = jsonschema::parse("base.json", base);
    let revision = jsonschema::parse("revision.json", revision);
    if let (Ok(base), Ok(revision)) = (base, revision) {
        for mode in [Compatibility::Backward, Compatibility::Forward, Compatibility::Full] {
            let _ = jsonschema::check(&base, &revision, mode);
        }
    }
});
