//! The GraphQL SDL loader and the diff of two schemas, on arbitrary text split at the first `\0`
//! into base and revision.
#![no_main]

use libfuzzer_sys::fuzz_target;
use tollgate_contracts::graphql;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    let (base, revision) = text.split_once('\0').unwrap_or((text, text));
    let base = graphql::parse("base.graphql", base);
    let revision = graphql::parse("revision.graphql", revision);
    if let (Ok(base), Ok(revision)) = (base, revision) {
        let _ = graphql::diff(&base, &revision);
    }
});
