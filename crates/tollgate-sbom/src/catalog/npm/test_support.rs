//! What the npm cataloguers' tests share: every fixture (npm, pnpm, yarn) is the same project,
//! so the same purls and the same small helpers serve all of them.

use crate::{Inventory, Scope};

/// The fixture project's root package.
pub const ROOT: &str = "pkg:npm/npm-fixture@1.0.0";
/// Its workspace member.
pub const APP: &str = "pkg:npm/%40fixture/app@0.1.0";
/// Every component of the fixture project, sorted.
pub const PURLS: [&str; 11] = [
    APP,
    "pkg:npm/%40tootallnate/once@2.0.1",
    "pkg:npm/debug@2.6.9",
    "pkg:npm/is-number@6.0.0",
    "pkg:npm/is-number@7.0.0",
    "pkg:npm/is-odd@3.0.1",
    "pkg:npm/ms@2.0.0",
    "pkg:npm/ms@2.1.3",
    ROOT,
    "pkg:npm/ts-api-utils@1.3.0",
    "pkg:npm/typescript@5.4.5",
];

/// The direct dependencies of `from`, sorted.
pub fn deps<'i>(inv: &'i Inventory, from: &str) -> Vec<&'i str> {
    inv.dependencies[from].iter().map(String::as_str).collect()
}

/// The scope of component `purl`.
pub fn scope(inv: &Inventory, purl: &str) -> Scope {
    inv.get(purl).unwrap().scope
}

/// Whether component `purl` is marked as a development dependency.
pub fn is_dev(inv: &Inventory, purl: &str) -> bool {
    inv.get(purl).unwrap().properties.contains_key("cdx:npm:package:development")
}
