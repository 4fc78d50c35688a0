//! The CycloneDX / SPDX JSON reader behind `tollgate sbom diff`, on arbitrary text; two
//! documents that read are also diffed (input split at the first `\0`).
#![no_main]

use std::path::Path;

use libfuzzer_sys::fuzz_target;
use tollgate_sbom::read::parse;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    let (old, new) = text.split_once('\0').unwrap_or((text, text));
    let old = parse(Path::new("old.json"), old);
    let new = parse(Path::new("new.json"), new);
    if let (Ok(old), Ok(new)) = (old, new) {
        let config = tollgate_sbom::gate::SbomDiffConfig::default();
        let _ = tollgate_sbom::diff::diff(&old, &new, "old.json", "new.json", &config);
    }
});
