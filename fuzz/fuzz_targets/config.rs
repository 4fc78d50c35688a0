//! `tollgate.toml`: the whole configuration, every section, on arbitrary text.
#![no_main]

use std::path::Path;

use libfuzzer_sys::fuzz_target;
use tollgate_release::Config;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    if let Ok(config) = Config::parse(Path::new("tollgate.toml"), text) {
        let _ = config.to_toml();
    }
});
