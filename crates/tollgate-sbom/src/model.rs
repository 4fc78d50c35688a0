//! The inventory: what a cataloguer found, independent of any SBOM format.

use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use tollgate_core::Digest;

/// The package ecosystem a component comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Ecosystem {
    /// Rust crates (purl type `cargo`).
    Cargo,
    /// npm, pnpm and yarn packages (purl type `npm`).
    Npm,
    /// Python distributions (purl type `pypi`).
    Python,
    /// Go modules (purl type `golang`).
    Go,
    /// Dart and Flutter packages (purl type `pub`).
    Dart,
    /// Ruby gems (purl type `gem`).
    Ruby,
    /// PHP Composer packages (purl type `composer`).
    Php,
}

impl Ecosystem {
    /// The package-url type for this ecosystem.
    pub fn purl_type(self) -> &'static str {
        match self {
            Ecosystem::Cargo => "cargo",
            Ecosystem::Npm => "npm",
            Ecosystem::Python => "pypi",
            Ecosystem::Go => "golang",
            Ecosystem::Dart => "pub",
            Ecosystem::Ruby => "gem",
            Ecosystem::Php => "composer",
        }
    }
}

impl fmt::Display for Ecosystem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Ecosystem::Cargo => "cargo",
            Ecosystem::Npm => "npm",
            Ecosystem::Python => "python",
            Ecosystem::Go => "go",
            Ecosystem::Dart => "dart",
            Ecosystem::Ruby => "ruby",
            Ecosystem::Php => "php",
        })
    }
}

/// Whether a component is the project itself or something it uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ComponentKind {
    /// A project root or workspace member: what the lockfile was written for.
    Application,
    /// A dependency.
    Library,
}

/// Whether a component ends up in what ships (CycloneDX `scope`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Scope {
    /// Reachable through normal (runtime) dependencies.
    Required,
    /// Declared optional (e.g. npm `optional`), reachable only that way.
    Optional,
    /// Only needed to build or test (dev and build dependencies).
    Excluded,
}

/// How one package depends on another.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum DependencyKind {
    /// Needed at run time.
    Normal,
    /// Needed to build (Cargo build-dependencies, build scripts).
    Build,
    /// Needed only for tests, examples and benchmarks.
    Dev,
}

/// A hash algorithm that appears in lockfiles.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub enum HashAlgorithm {
    /// SHA-1 (old npm `integrity`, pub.dev never; kept because lockfiles carry it).
    #[serde(rename = "SHA-1")]
    Sha1,
    /// SHA-256.
    #[serde(rename = "SHA-256")]
    Sha256,
    /// SHA-384.
    #[serde(rename = "SHA-384")]
    Sha384,
    /// SHA-512.
    #[serde(rename = "SHA-512")]
    Sha512,
}

/// A content hash of a component's distributed archive, hex-encoded lowercase.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct Hash {
    /// The algorithm.
    pub algorithm: HashAlgorithm,
    /// Lowercase hex.
    pub hex: String,
}

/// One downloadable file of a component (a wheel, an sdist) with its hashes.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct Distribution {
    /// Where it is downloaded from, or its file name when the lockfile records only that.
    pub url: String,
    /// Its hashes.
    pub hashes: Vec<Hash>,
}

/// One package: a workspace member, a project root, or a dependency.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Component {
    /// Unique reference within the inventory; the purl (plus a `#suffix` only if two differ).
    pub bom_ref: String,
    /// Which ecosystem.
    pub ecosystem: Ecosystem,
    /// Project/member or dependency.
    pub kind: ComponentKind,
    /// Namespace or group (npm scope without `@`, Go module path prefix), if the ecosystem has one.
    pub namespace: Option<String>,
    /// Package name (without the namespace).
    pub name: String,
    /// Exact resolved version.
    pub version: String,
    /// Package URL (purl spec), canonical.
    pub purl: String,
    /// Whether it ships.
    pub scope: Scope,
    /// Declared licence as an SPDX expression (`MIT OR Apache-2.0`), when declared.
    pub license: Option<String>,
    /// Hashes of the component's archive, from the lockfile (sorted, one per algorithm).
    pub hashes: Vec<Hash>,
    /// Individual downloadable files with their hashes, when the lockfile lists several.
    pub distributions: Vec<Distribution>,
    /// Authors as declared (`Name <email>`).
    pub authors: Vec<String>,
    /// Who supplies it (registry publisher, organisation), when known.
    pub supplier: Option<String>,
    /// One-line description.
    pub description: Option<String>,
    /// Where it was resolved from: registry URL, `git+URL#rev`, or `path+…` for local packages.
    pub source: Option<String>,
    /// Source repository URL.
    pub repository: Option<String>,
    /// Home page URL.
    pub homepage: Option<String>,
    /// Ecosystem-specific facts (`cdx:npm:package:development` = `true`, …), sorted.
    pub properties: BTreeMap<String, String>,
    /// The lockfiles this component was found in, relative to the scanned root, `/`-separated.
    pub found_in: BTreeSet<String>,
}

impl Component {
    /// A library component with only the identifying fields set; `bom_ref` is the purl.
    pub fn new(
        ecosystem: Ecosystem,
        namespace: Option<String>,
        name: impl Into<String>,
        version: impl Into<String>,
        purl: impl Into<String>,
    ) -> Component {
        let purl = purl.into();
        Component {
            bom_ref: purl.clone(),
            ecosystem,
            kind: ComponentKind::Library,
            namespace,
            name: name.into(),
            version: version.into(),
            purl,
            scope: Scope::Required,
            license: None,
            hashes: Vec::new(),
            distributions: Vec::new(),
            authors: Vec::new(),
            supplier: None,
            description: None,
            source: None,
            repository: None,
            homepage: None,
            properties: BTreeMap::new(),
            found_in: BTreeSet::new(),
        }
    }

    /// `namespace/name` (or `@scope/name` for npm), the name a person would type.
    pub fn full_name(&self) -> String {
        match (&self.namespace, self.ecosystem) {
            (Some(ns), Ecosystem::Npm) => format!("@{ns}/{}", self.name),
            (Some(ns), _) => format!("{ns}/{}", self.name),
            (None, _) => self.name.clone(),
        }
    }
}

/// What one or more cataloguers found: components and the dependency graph between them.
///
/// Components are keyed (and so sorted) by `bom_ref`; after [`Inventory::normalize`] every
/// edge's ends are components and every component has a (possibly empty) edge list.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct Inventory {
    /// Every component, by `bom_ref`.
    pub components: BTreeMap<String, Component>,
    /// `bom_ref -> bom_refs it depends on directly`. Every component has an entry.
    pub dependencies: BTreeMap<String, BTreeSet<String>>,
    /// The `bom_ref`s of project roots / workspace members (components of kind `Application`).
    pub roots: BTreeSet<String>,
    /// Every file read, relative to the scanned root, with its SHA-256 (gate inputs).
    pub inputs: BTreeMap<String, Digest>,
}

impl Inventory {
    /// Adds a component; if one with the same `bom_ref` exists, merges into it (the union of
    /// facts: first non-empty value wins, sets are joined, the wider scope is kept).
    pub fn add(&mut self, component: Component) {
        if component.kind == ComponentKind::Application {
            self.roots.insert(component.bom_ref.clone());
        }
        self.dependencies.entry(component.bom_ref.clone()).or_default();
        match self.components.get_mut(&component.bom_ref) {
            Some(existing) => merge(existing, component),
            None => {
                self.components.insert(component.bom_ref.clone(), component);
            }
        }
    }

    /// Records that `from` depends directly on `to` (both `bom_ref`s).
    pub fn depend(&mut self, from: &str, to: &str) {
        self.dependencies.entry(from.to_owned()).or_default().insert(to.to_owned());
    }

    /// Merges another inventory into this one (used when a tree has several lockfiles).
    pub fn extend(&mut self, other: Inventory) {
        for component in other.components.into_values() {
            self.add(component);
        }
        for (from, tos) in other.dependencies {
            self.dependencies.entry(from).or_default().extend(tos);
        }
        self.roots.extend(other.roots);
        self.inputs.extend(other.inputs);
    }

    /// Drops edges to unknown refs and gives every component a graph entry.
    pub fn normalize(&mut self) {
        let known = &self.components;
        self.dependencies.retain(|from, _| known.contains_key(from));
        for deps in self.dependencies.values_mut() {
            deps.retain(|to| known.contains_key(to));
        }
        for r in known.keys() {
            self.dependencies.entry(r.clone()).or_default();
        }
        self.roots.retain(|r| known.contains_key(r));
    }

    /// The component with this `bom_ref`.
    pub fn get(&self, bom_ref: &str) -> Option<&Component> {
        self.components.get(bom_ref)
    }
}

fn merge(into: &mut Component, from: Component) {
    fn fill<T>(slot: &mut Option<T>, value: Option<T>) {
        if slot.is_none() {
            *slot = value;
        }
    }
    if from.kind == ComponentKind::Application {
        into.kind = ComponentKind::Application;
    }
    into.scope = into.scope.min(from.scope);
    fill(&mut into.license, from.license);
    fill(&mut into.supplier, from.supplier);
    fill(&mut into.description, from.description);
    fill(&mut into.source, from.source);
    fill(&mut into.repository, from.repository);
    fill(&mut into.homepage, from.homepage);
    for hash in from.hashes {
        if !into.hashes.iter().any(|h| h.algorithm == hash.algorithm) {
            into.hashes.push(hash);
        }
    }
    into.hashes.sort();
    for dist in from.distributions {
        if !into.distributions.contains(&dist) {
            into.distributions.push(dist);
        }
    }
    into.distributions.sort();
    if into.authors.is_empty() {
        into.authors = from.authors;
    }
    for (k, v) in from.properties {
        into.properties.entry(k).or_insert(v);
    }
    into.found_in.extend(from.found_in);
}

#[cfg(test)]
mod tests {
    use super::*;

    fn comp(name: &str, scope: Scope) -> Component {
        let mut c =
            Component::new(Ecosystem::Npm, None, name, "1.0.0", format!("pkg:npm/{name}@1.0.0"));
        c.scope = scope;
        c
    }

    #[test]
    fn merging_keeps_widest_scope_and_joins_sources() {
        let mut inv = Inventory::default();
        let mut a = comp("a", Scope::Excluded);
        a.found_in.insert("x/package-lock.json".into());
        let mut b = comp("a", Scope::Required);
        b.found_in.insert("y/package-lock.json".into());
        b.license = Some("MIT".into());
        inv.add(a);
        inv.add(b);
        assert_eq!(inv.components.len(), 1);
        let a = inv.get("pkg:npm/a@1.0.0").unwrap();
        assert_eq!(a.scope, Scope::Required);
        assert_eq!(a.license.as_deref(), Some("MIT"));
        assert_eq!(a.found_in.len(), 2);
    }

    #[test]
    fn normalize_drops_dangling_edges() {
        let mut inv = Inventory::default();
        inv.add(comp("b", Scope::Required));
        inv.add(comp("a", Scope::Required));
        inv.depend("pkg:npm/a@1.0.0", "pkg:npm/b@1.0.0");
        inv.depend("pkg:npm/a@1.0.0", "pkg:npm/ghost@1.0.0");
        inv.normalize();
        assert_eq!(inv.components.keys().next().unwrap(), "pkg:npm/a@1.0.0");
        assert_eq!(inv.dependencies["pkg:npm/a@1.0.0"].len(), 1);
        assert!(inv.get("pkg:npm/b@1.0.0").is_some());
    }
}
