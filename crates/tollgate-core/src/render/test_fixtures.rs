//! The fixed gate reports every renderer's snapshot tests render.
//!
//! Adding a case here changes every format's snapshot at once, and each change is reviewed per
//! format.

use crate::finding::{Finding, Location, Severity};
use crate::report::{GateInput, GateReport};
use crate::{Digest, Verdict};

const STARTED: &str = "2025-01-01T00:00:00Z";

/// A passing gate with no findings, a failing gate with every severity (line, no location,
/// special characters, multi-line text) and a failing gate whose findings have JSON pointers.
pub(crate) fn reports() -> Vec<GateReport> {
    vec![passing_sbom(), failing_deps(), failing_contracts()]
}

/// `sbom`: passed, nothing found.
pub(crate) fn passing_sbom() -> GateReport {
    GateReport::new(
        "sbom",
        vec![GateInput { name: "Cargo.lock".into(), digest: Digest::sha256(b"lock") }],
        vec![],
        Severity::Error,
        STARTED.into(),
        12,
    )
}

/// `deps`: failed with two errors, one warning and one info finding.
pub(crate) fn failing_deps() -> GateReport {
    let untrusted = "Source <git+https://example.com/a.git?rev=1&x=2> isn't \"trusted\" | pinned\n\
                     It was added in this change.";
    GateReport::new(
        "deps",
        vec![GateInput { name: "Cargo.lock".into(), digest: Digest::sha256(b"lock") }],
        vec![
            Finding::new(
                "deps/duplicate-version",
                Severity::Info,
                "2 versions of syn are in graph",
            )
            .about("pkg:cargo/syn"),
            Finding::new(
                "deps/license-denied",
                Severity::Error,
                "Licence GPL-3.0-only not allowed",
            )
            .at(Location::file("Cargo.lock").at_line(42))
            .about("pkg:cargo/left-pad@1.0.0")
            .fix("Remove the dependency, or add GPL-3.0-only to `[deps.licenses] allow`."),
            Finding::new("deps/source-untrusted", Severity::Error, untrusted)
                .at(Location::file("vendor/a b/Cargo.toml").at_line(7))
                .about("pkg:npm/@scope/name@1.0.0?x=<y>&z='q'|`tick`")
                .fix("Pin the source by `rev`,\nor allow it under [deps.sources]."),
            Finding::new(
                "deps/advisory-unmaintained",
                Severity::Warning,
                "serde_yaml is unmaintained",
            )
            .at(Location::file("Cargo.lock"))
            .about("pkg:cargo/serde_yaml@0.9.34"),
        ],
        Severity::Error,
        STARTED.into(),
        1534,
    )
}

/// `contracts`: failed, findings located by JSON pointer (one also by line).
pub(crate) fn failing_contracts() -> GateReport {
    GateReport::new(
        "contracts",
        vec![GateInput { name: "api/openapi.json".into(), digest: Digest::sha256(b"spec") }],
        vec![
            Finding::new(
                "contracts/operation-removed",
                Severity::Error,
                "GET /users/{id} was removed",
            )
            .at(Location::file("api/openapi.json").at_pointer("/paths/~1users~1{id}/get"))
            .about("GET /users/{id}")
            .fix("Restore the operation or release a new major version."),
            Finding::new(
                "contracts/property-added",
                Severity::Info,
                "Optional property `nickname` added",
            )
            .at(Location::file("api/openapi.json")
                .at_line(118)
                .at_pointer("/components/schemas/User/properties/nickname")),
        ],
        Severity::Error,
        STARTED.into(),
        250,
    )
}

/// A failing gate with `errors` error findings and `warnings` warning findings, each at its
/// own line of one file, for tests of caps and counts.
pub(crate) fn many_findings(gate: &str, errors: u32, warnings: u32) -> GateReport {
    let findings = (1..=errors)
        .map(|n| (n, Severity::Error))
        .chain((1..=warnings).map(|n| (n, Severity::Warning)))
        .map(|(n, severity)| {
            Finding::new(format!("{gate}/rule-{}", n % 3), severity, format!("finding {n}"))
                .at(Location::file("big.txt").at_line(n))
        })
        .collect();
    let report =
        GateReport::new(gate, vec![], findings, Severity::Error, STARTED.into(), 1_000_001);
    debug_assert_eq!(report.verdict == Verdict::Fail, errors > 0);
    report
}
