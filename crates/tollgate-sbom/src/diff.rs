//! Comparing two SBOMs: added, removed, upgraded, downgraded components, licence and hash
//! changes, as findings whose severities come from `[sbom.diff]`.

use crate::gate::SbomDiffConfig;
use crate::read::{Entry, SbomDocument};
use std::cmp::Ordering;
use std::collections::BTreeMap;
use tollgate_core::{Finding, Location};

/// Rule ids of the findings this module emits (stable; tools key on them).
pub mod rules {
    use tollgate_core::{Rule, Severity};

    /// A component only in the new SBOM.
    pub const ADDED: Rule =
        Rule::new("sbom-diff/component-added", Severity::Info, "a component only in the new SBOM");
    /// A component only in the old SBOM.
    pub const REMOVED: Rule = Rule::new(
        "sbom-diff/component-removed",
        Severity::Info,
        "a component only in the old SBOM",
    );
    /// A component whose version went up.
    pub const UPGRADED: Rule = Rule::new(
        "sbom-diff/component-upgraded",
        Severity::Info,
        "a component whose version went up",
    );
    /// A component whose version went down.
    pub const DOWNGRADED: Rule = Rule::new(
        "sbom-diff/component-downgraded",
        Severity::Warning,
        "a component whose version went down",
    );
    /// A component whose declared licence changed.
    pub const LICENCE_CHANGED: Rule = Rule::new(
        "sbom-diff/licence-changed",
        Severity::Warning,
        "a component whose declared licence changed",
    );
    /// A component whose hash changed at the same version.
    pub const HASH_CHANGED: Rule = Rule::new(
        "sbom-diff/hash-changed",
        Severity::Error,
        "a component whose content hash changed while its version did not",
    );
}

/// The findings that turn `old` into `new`. `old_name` / `new_name` name the files in locations.
pub fn diff(
    old: &SbomDocument,
    new: &SbomDocument,
    old_name: &str,
    new_name: &str,
    config: &SbomDiffConfig,
) -> Vec<Finding> {
    let old_by_key = group(&old.entries);
    let new_by_key = group(&new.entries);
    let mut findings = Vec::new();
    let at_new = |e: &Entry| Location::file(new_name).at_pointer(e.pointer.clone());
    let at_old = |e: &Entry| Location::file(old_name).at_pointer(e.pointer.clone());
    let subject = |e: &Entry| e.purl.clone().unwrap_or_else(|| format!("{}@{}", e.key, e.version));

    let keys: std::collections::BTreeSet<&str> =
        old_by_key.keys().chain(new_by_key.keys()).copied().collect();
    for key in keys {
        let olds = old_by_key.get(key).cloned().unwrap_or_default();
        let news = new_by_key.get(key).cloned().unwrap_or_default();
        let mut only_old: Vec<&Entry> = Vec::new();
        let mut only_new: Vec<&Entry> = Vec::new();
        let mut same: Vec<(&Entry, &Entry)> = Vec::new();
        for (version, o) in &olds {
            match news.get(version) {
                Some(n) => same.push((o, n)),
                None => only_old.push(o),
            }
        }
        for (version, n) in &news {
            if !olds.contains_key(version) {
                only_new.push(n);
            }
        }
        // Pair versions that moved when the counts match (1 -> 1 is the common case).
        let mut moved: Vec<(&Entry, &Entry)> = Vec::new();
        if !only_old.is_empty() && only_old.len() == only_new.len() {
            only_old.sort_by(|a, b| compare_versions(&a.version, &b.version));
            only_new.sort_by(|a, b| compare_versions(&a.version, &b.version));
            moved = only_old.drain(..).zip(only_new.drain(..)).collect();
        }
        for n in only_new {
            findings.push(
                Finding::new(rules::ADDED.id, config.added, format!("{key} {} added", n.version))
                    .at(at_new(n))
                    .about(subject(n)),
            );
        }
        for o in only_old {
            findings.push(
                Finding::new(
                    rules::REMOVED.id,
                    config.removed,
                    format!("{key} {} removed", o.version),
                )
                .at(at_old(o))
                .about(subject(o)),
            );
        }
        for (o, n) in &moved {
            let (rule, severity, verb) = match compare_versions(&o.version, &n.version) {
                Ordering::Greater => (rules::DOWNGRADED.id, config.downgraded, "downgraded"),
                _ => (rules::UPGRADED.id, config.upgraded, "upgraded"),
            };
            findings.push(
                Finding::new(
                    rule,
                    severity,
                    format!("{key} {verb} from {} to {}", o.version, n.version),
                )
                .at(at_new(n))
                .about(subject(n)),
            );
        }
        for (o, n) in moved.iter().chain(same.iter()) {
            if o.license != n.license {
                findings.push(
                    Finding::new(
                        rules::LICENCE_CHANGED.id,
                        config.licence_changed,
                        format!(
                            "{key} {}: licence changed from {} to {}",
                            n.version,
                            o.license.as_deref().unwrap_or("(none)"),
                            n.license.as_deref().unwrap_or("(none)")
                        ),
                    )
                    .at(at_new(n))
                    .about(subject(n))
                    .fix("review the new licence against your allow-list"),
                );
            }
        }
        for (o, n) in &same {
            let conflicting = o
                .hashes
                .iter()
                .any(|(alg, hex)| n.hashes.iter().any(|(alg2, hex2)| alg == alg2 && hex != hex2));
            if conflicting {
                findings.push(
                    Finding::new(
                        rules::HASH_CHANGED.id,
                        config.hash_changed,
                        format!("{key} {}: content hash changed without a version change", n.version),
                    )
                    .at(at_new(n))
                    .about(subject(n))
                    .fix("a published version's bytes should never change: check the registry and the lockfile"),
                );
            }
        }
    }
    findings
}

fn group(entries: &[Entry]) -> BTreeMap<&str, BTreeMap<&str, &Entry>> {
    let mut map: BTreeMap<&str, BTreeMap<&str, &Entry>> = BTreeMap::new();
    for e in entries {
        map.entry(e.key.as_str()).or_default().entry(e.version.as_str()).or_insert(e);
    }
    map
}

/// Orders versions: semver when both parse, else dotted segments numerically where numeric.
pub fn compare_versions(a: &str, b: &str) -> Ordering {
    let strip = |v: &str| v.trim_start_matches('v').to_owned();
    if let (Ok(x), Ok(y)) = (semver::Version::parse(&strip(a)), semver::Version::parse(&strip(b))) {
        return x.cmp(&y).then_with(|| a.cmp(b));
    }
    let split = |v: &str| -> Vec<(u64, String)> {
        v.split(['.', '-', '+']).map(|s| (s.parse::<u64>().unwrap_or(0), s.to_owned())).collect()
    };
    let (sa, sb) = (split(a), split(b));
    for (x, y) in sa.iter().zip(sb.iter()) {
        let ordering = x.0.cmp(&y.0).then_with(|| x.1.cmp(&y.1));
        if ordering != Ordering::Equal {
            return ordering;
        }
    }
    sa.len().cmp(&sb.len()).then_with(|| a.cmp(b))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::read::Standard;
    use proptest::prelude::*;
    use std::collections::BTreeSet;
    use tollgate_core::Severity;

    fn entry(key: &str, version: &str, license: Option<&str>, hash: Option<&str>) -> Entry {
        Entry {
            key: key.into(),
            version: version.into(),
            purl: Some(format!("pkg:{key}@{version}")),
            license: license.map(str::to_owned),
            hashes: hash
                .map(|h| BTreeSet::from([("SHA-256".to_owned(), h.to_owned())]))
                .unwrap_or_default(),
            pointer: "/components/0".into(),
        }
    }

    fn doc(entries: Vec<Entry>) -> SbomDocument {
        SbomDocument { standard: Standard::CycloneDx, entries, timestamp: None }
    }

    fn rules_of(findings: &[Finding]) -> Vec<&str> {
        let mut r: Vec<&str> = findings.iter().map(|f| f.rule.as_str()).collect();
        r.sort();
        r
    }

    #[test]
    fn classifies_each_kind_of_change() {
        let old = doc(vec![
            entry("cargo/a", "1.0.0", Some("MIT"), Some("aa")),
            entry("cargo/b", "2.0.0", Some("MIT"), None),
            entry("cargo/c", "1.2.0", None, None),
            entry("cargo/d", "0.1.0", Some("MIT"), None),
            entry("cargo/gone", "1.0.0", None, None),
        ]);
        let new = doc(vec![
            entry("cargo/a", "1.0.0", Some("MIT"), Some("bb")),
            entry("cargo/b", "2.1.0", Some("GPL-3.0-only"), None),
            entry("cargo/c", "1.10.0", None, None),
            entry("cargo/d", "0.0.9", Some("MIT"), None),
            entry("cargo/new", "1.0.0", None, None),
        ]);
        let findings = diff(&old, &new, "old.json", "new.json", &SbomDiffConfig::default());
        assert_eq!(
            rules_of(&findings),
            [
                rules::ADDED.id,
                rules::DOWNGRADED.id,
                rules::REMOVED.id,
                rules::UPGRADED.id,
                rules::UPGRADED.id,
                rules::HASH_CHANGED.id,
                rules::LICENCE_CHANGED.id,
            ]
        );
        let upgrade = findings.iter().find(|f| f.message.contains("cargo/c")).unwrap();
        assert_eq!(upgrade.message, "cargo/c upgraded from 1.2.0 to 1.10.0");
        let licence = findings.iter().find(|f| f.rule == rules::LICENCE_CHANGED.id).unwrap();
        assert_eq!(licence.severity, Severity::Warning);
        assert_eq!(licence.location.as_ref().unwrap().to_string(), "new.json#/components/0");
    }

    #[test]
    fn config_can_make_new_components_fail() {
        let old = doc(vec![]);
        let new = doc(vec![entry("npm/x", "1.0.0", None, None)]);
        let config = SbomDiffConfig { added: Severity::Error, ..SbomDiffConfig::default() };
        let findings = diff(&old, &new, "o", "n", &config);
        assert_eq!(findings[0].severity, Severity::Error);
    }

    #[test]
    fn versions_order_numerically() {
        assert_eq!(compare_versions("1.2.0", "1.10.0"), Ordering::Less);
        assert_eq!(compare_versions("v1.2.3", "v1.2.3"), Ordering::Equal);
        assert_eq!(compare_versions("2.0", "10.0"), Ordering::Less);
        assert_eq!(compare_versions("1.0.0-alpha", "1.0.0"), Ordering::Less);
    }

    fn arb_doc() -> impl Strategy<Value = SbomDocument> {
        let e = ("[a-d]", 0u8..4, proptest::option::of("MIT|Apache-2.0")).prop_map(|(k, v, l)| {
            entry(&format!("cargo/{k}"), &format!("1.{v}.0"), l.as_deref(), None)
        });
        proptest::collection::vec(e, 0..8).prop_map(doc)
    }

    proptest! {
        #[test]
        fn no_change_means_no_findings(a in arb_doc()) {
            prop_assert!(diff(&a, &a, "a", "a", &SbomDiffConfig::default()).is_empty());
        }

        #[test]
        fn reversing_swaps_added_and_removed_and_up_and_down(a in arb_doc(), b in arb_doc()) {
            let cfg = SbomDiffConfig::default();
            let forward = diff(&a, &b, "a", "b", &cfg);
            let back = diff(&b, &a, "b", "a", &cfg);
            let count = |fs: &[Finding], r: &str| fs.iter().filter(|f| f.rule == r).count();
            prop_assert_eq!(count(&forward, rules::ADDED.id), count(&back, rules::REMOVED.id));
            prop_assert_eq!(count(&forward, rules::UPGRADED.id), count(&back, rules::DOWNGRADED.id));
            prop_assert_eq!(count(&forward, rules::LICENCE_CHANGED.id), count(&back, rules::LICENCE_CHANGED.id));
        }
    }
}
