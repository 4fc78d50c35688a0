//! Small pieces every Python cataloguer needs: PEP 503 names, purls, `algo:hex` hashes and the
//! leading name of a PEP 508 requirement.

use crate::catalog::purl;
use crate::{Component, Ecosystem, Hash, HashAlgorithm, Scope};
use std::collections::{BTreeMap, HashSet, VecDeque};

/// PEP 503 normalisation: lowercase, every run of `-`, `_` and `.` becomes one `-`.
pub(super) fn normalize(name: &str) -> String {
    let mut out = String::with_capacity(name.len());
    let mut in_run = false;
    for c in name.chars() {
        if matches!(c, '-' | '_' | '.') {
            if !in_run {
                out.push('-');
            }
            in_run = true;
        } else {
            out.extend(c.to_lowercase());
            in_run = false;
        }
    }
    out
}

/// `pkg:pypi/<normalised name>@<version>`; without `@` when the version is unknown.
pub(super) fn pypi_purl(name: &str, version: &str) -> String {
    let p = purl("pypi", None, &normalize(name), version, &[]);
    if version.is_empty() { p.strip_suffix('@').map(str::to_owned).unwrap_or(p) } else { p }
}

/// A Python library component: `bom_ref` and purl from the normalised name, `found_in` set.
pub(super) fn component(name: &str, version: &str, found_in: &str) -> Component {
    let mut c = Component::new(Ecosystem::Python, None, name, version, pypi_purl(name, version));
    c.found_in.insert(found_in.to_owned());
    c
}

/// Parses `sha256:<hex>` (also sha384, sha512, sha1). `None` for other algorithms (md5) or
/// when the value is not hex of the right length.
pub(super) fn parse_hash(value: &str) -> Option<Hash> {
    let (alg, hex) = value.split_once(':').or_else(|| value.split_once('='))?;
    let (algorithm, len) = match alg.trim().to_ascii_lowercase().as_str() {
        "sha1" => (HashAlgorithm::Sha1, 40),
        "sha256" => (HashAlgorithm::Sha256, 64),
        "sha384" => (HashAlgorithm::Sha384, 96),
        "sha512" => (HashAlgorithm::Sha512, 128),
        _ => return None,
    };
    let hex = hex.trim();
    if hex.len() != len || !hex.bytes().all(|b| b.is_ascii_hexdigit()) {
        return None;
    }
    Some(Hash { algorithm, hex: hex.to_ascii_lowercase() })
}

/// Whether the algorithm prefix of `value` is one Tollgate ignores on purpose (md5).
pub(super) fn is_ignored_hash(value: &str) -> bool {
    value.split_once(':').is_some_and(|(alg, _)| alg.eq_ignore_ascii_case("md5"))
}

/// The leading project name of a PEP 508 requirement (`PySocks (>=1.5)` -> `PySocks`) and the
/// rest. `None` when the string does not start with a valid name.
pub(super) fn split_name(requirement: &str) -> Option<(&str, &str)> {
    let s = requirement.trim_start();
    let end = s
        .char_indices()
        .find(|(_, c)| !(c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.')))
        .map_or(s.len(), |(i, _)| i);
    let name = &s[..end];
    let valid = name.chars().next().is_some_and(|c| c.is_ascii_alphanumeric())
        && name.chars().last().is_some_and(|c| c.is_ascii_alphanumeric());
    valid.then(|| (name, &s[end..]))
}

/// The extras of a PEP 508 requirement whose name has been split off (`[a, b]>=1` -> a, b).
pub(super) fn leading_extras(rest: &str) -> Vec<String> {
    let rest = rest.trim_start();
    let Some(inner) = rest.strip_prefix('[') else {
        return Vec::new();
    };
    let Some(end) = inner.find(']') else {
        return Vec::new();
    };
    inner[..end].split(',').map(|e| normalize(e.trim())).filter(|e| !e.is_empty()).collect()
}

/// A dependency edge: the target package's index and the extras the edge activates on it.
pub(super) type Edge = (usize, Vec<String>);

/// Gives `mark` to every package reachable from `starts` that has no scope yet. The walk is over
/// (package, activated extra) states: `deps[i]` are package `i`'s unconditional edges and
/// `extras[i][x]` the edges its extra `x` adds.
pub(super) fn mark_reachable(
    starts: &[Edge],
    deps: &[Vec<Edge>],
    extras: &[BTreeMap<String, Vec<Edge>>],
    scope: &mut [Option<Scope>],
    mark: Scope,
) {
    let mut seen: HashSet<(usize, Option<String>)> = HashSet::new();
    let mut queue: VecDeque<(usize, Option<String>)> = VecDeque::new();
    let push = |queue: &mut VecDeque<_>, (t, xs): &Edge| {
        queue.push_back((*t, None));
        for x in xs {
            queue.push_back((*t, Some(x.clone())));
        }
    };
    for edge in starts {
        push(&mut queue, edge);
    }
    while let Some(state) = queue.pop_front() {
        if !seen.insert(state.clone()) {
            continue;
        }
        let (i, extra) = state;
        scope[i].get_or_insert(mark);
        let next: &[Edge] = match &extra {
            None => &deps[i],
            Some(x) => extras[i].get(x).map(Vec::as_slice).unwrap_or(&[]),
        };
        for edge in next {
            push(&mut queue, edge);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pep503_collapses_runs_and_lowercases() {
        assert_eq!(normalize("Flask_Cors"), "flask-cors");
        assert_eq!(normalize("zope..interface--x__y"), "zope-interface-x-y");
        assert_eq!(pypi_purl("PySocks", "1.7.1"), "pkg:pypi/pysocks@1.7.1");
        assert_eq!(pypi_purl("A.B_c", ""), "pkg:pypi/a-b-c");
    }

    #[test]
    fn hashes_and_names() {
        let h =
            parse_hash("sha256:ABCDEF0123456789abcdef0123456789abcdef0123456789abcdef0123456789")
                .unwrap();
        assert_eq!(h.algorithm, HashAlgorithm::Sha256);
        assert!(h.hex.starts_with("abcdef"));
        assert!(parse_hash("sha256:abc").is_none());
        assert!(parse_hash("md5:00").is_none());
        assert_eq!(split_name("PySocks (>=1.5)"), Some(("PySocks", " (>=1.5)")));
        assert_eq!(split_name("-x"), None);
        assert_eq!(leading_extras("[Socks, use_chardet]>=2"), ["socks", "use-chardet"]);
    }
}
