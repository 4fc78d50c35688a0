//! Pieces shared by the npm-ecosystem cataloguers: `package.json`, package names and purls,
//! licences, locating keys in the text for error messages, and the component graph with its
//! scope computation.

use crate::catalog::{SourceFile, purl};
use crate::error::Place;
use crate::{Component, ComponentKind, Ecosystem, Inventory, SbomError, Scope};
use serde::Deserialize;
use serde::de::{self, Deserializer, IgnoredAny, MapAccess, Visitor};
use std::borrow::Cow;
use std::collections::hash_map::Entry as MapEntry;
use std::collections::{BTreeSet, HashMap};
use std::fmt;
use std::marker::PhantomData;
use std::ops::Deref;
use std::path::{Path, PathBuf};

/// Property marking a component that only development dependencies reach.
pub(super) const DEV_PROPERTY: &str = "cdx:npm:package:development";
/// Property marking a component bundled inside another package's tarball.
pub(super) const BUNDLED_PROPERTY: &str = "cdx:npm:package:bundled";

// ---------------------------------------------------------------------------------------------
// Borrowed strings and ordered string maps (fast typed JSON parsing).

/// A string borrowed from the input when it needs no unescaping, owned otherwise.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Default)]
pub(super) struct Str<'a>(pub Cow<'a, str>);

impl Deref for Str<'_> {
    type Target = str;
    fn deref(&self) -> &str {
        &self.0
    }
}

impl<'de: 'a, 'a> Deserialize<'de> for Str<'a> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct V<'a>(PhantomData<&'a ()>);
        impl<'de: 'a, 'a> Visitor<'de> for V<'a> {
            type Value = Str<'a>;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a string")
            }
            fn visit_borrowed_str<E: de::Error>(self, v: &'de str) -> Result<Str<'a>, E> {
                Ok(Str(Cow::Borrowed(v)))
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Str<'a>, E> {
                Ok(Str(Cow::Owned(v.to_owned())))
            }
            fn visit_string<E: de::Error>(self, v: String) -> Result<Str<'a>, E> {
                Ok(Str(Cow::Owned(v)))
            }
        }
        deserializer.deserialize_str(V(PhantomData))
    }
}

/// A JSON object of strings (`"dependencies": {"a": "^1.0.0"}`), in document order.
#[derive(Debug, Clone, Default)]
pub(super) struct Pairs<'a>(pub Vec<(Str<'a>, Str<'a>)>);

impl<'a> Pairs<'a> {
    /// The value for `key`.
    pub(super) fn get(&self, key: &str) -> Option<&str> {
        self.0.iter().find(|(k, _)| **k == *key).map(|(_, v)| &**v)
    }
}

impl<'de: 'a, 'a> Deserialize<'de> for Pairs<'a> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct V<'a>(PhantomData<&'a ()>);
        impl<'de: 'a, 'a> Visitor<'de> for V<'a> {
            type Value = Pairs<'a>;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("an object of names to version ranges")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Pairs<'a>, A::Error> {
                let mut out = Vec::with_capacity(map.size_hint().unwrap_or(0));
                while let Some(key) = map.next_key::<Str<'a>>()? {
                    let value = map.next_value::<Str<'a>>().map_err(|e| {
                        de::Error::custom(format_args!("{}: {}", &*key, strip_position(&e)))
                    })?;
                    out.push((key, value));
                }
                Ok(Pairs(out))
            }
        }
        deserializer.deserialize_map(V(PhantomData))
    }
}

/// An error's message without the " at line X column Y" parsers append.
pub(super) fn strip_position(err: &impl fmt::Display) -> String {
    let message = err.to_string();
    match message.rfind(" at line ") {
        Some(i) => message[..i].to_owned(),
        None => message,
    }
}

/// `license` as written in `package.json` or a lockfile: a string, the old `{ "type": … }`
/// object, or something unusable.
#[derive(Debug, Clone, Deserialize)]
#[serde(untagged)]
pub(super) enum LicenseField {
    /// `"MIT"`.
    Text(String),
    /// `{ "type": "MIT", "url": … }`.
    Object {
        /// The licence name.
        #[serde(rename = "type")]
        kind: String,
    },
    /// Anything else (ignored).
    Other(IgnoredAny),
}

impl LicenseField {
    /// The declared licence text, if any.
    pub(super) fn text(&self) -> Option<&str> {
        match self {
            LicenseField::Text(s) | LicenseField::Object { kind: s } => Some(s),
            LicenseField::Other(_) => None,
        }
    }
}

// ---------------------------------------------------------------------------------------------
// package.json

/// `workspaces` in `package.json`: a list of globs or `{ "packages": [...] }`.
#[derive(Debug, Clone, Deserialize)]
#[serde(untagged)]
pub(super) enum Workspaces {
    /// `["packages/*"]`.
    List(Vec<String>),
    /// `{ "packages": ["packages/*"], "nohoist": [...] }`.
    Object {
        /// The globs.
        #[serde(default)]
        packages: Vec<String>,
    },
}

/// The parts of `package.json` the cataloguers use.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(super) struct Manifest<'a> {
    /// `name`.
    #[serde(borrow, default)]
    pub name: Option<Str<'a>>,
    /// `version`.
    #[serde(borrow, default)]
    pub version: Option<Str<'a>>,
    /// `license`.
    #[serde(default)]
    pub license: Option<LicenseField>,
    /// `dependencies`.
    #[serde(borrow, default)]
    pub dependencies: Pairs<'a>,
    /// `devDependencies`.
    #[serde(borrow, default)]
    pub dev_dependencies: Pairs<'a>,
    /// `optionalDependencies`.
    #[serde(borrow, default)]
    pub optional_dependencies: Pairs<'a>,
    /// `workspaces`.
    #[serde(default)]
    pub workspaces: Option<Workspaces>,
    /// `resolutions` (yarn): overrides by package name, `parent/name` or `name@range`.
    #[serde(borrow, default)]
    pub resolutions: Pairs<'a>,
}

/// Which dependency list of a manifest a declaration comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Section {
    /// `dependencies`.
    Prod,
    /// `devDependencies`.
    Dev,
    /// `optionalDependencies`.
    Optional,
}

impl Section {
    /// The JSON key.
    pub(super) fn key(self) -> &'static str {
        match self {
            Section::Prod => "dependencies",
            Section::Dev => "devDependencies",
            Section::Optional => "optionalDependencies",
        }
    }

    /// The edge kind a root → dependency edge from this section has.
    pub(super) fn edge(self) -> EdgeKind {
        match self {
            Section::Prod => EdgeKind::Normal,
            Section::Dev => EdgeKind::Dev,
            Section::Optional => EdgeKind::Optional,
        }
    }
}

impl<'a> Manifest<'a> {
    /// Parses `package.json`.
    pub(super) fn parse(source: &'a SourceFile) -> Result<Manifest<'a>, SbomError> {
        serde_json::from_str(&source.text).map_err(|e| SbomError::json(&source.path, &e))
    }

    /// Every declared dependency with its section, `dependencies` first. A name that is both in
    /// `dependencies` and `optionalDependencies` is listed once, as optional (npm's rule).
    pub(super) fn declared(&self) -> impl Iterator<Item = (Section, &str, &str)> + '_ {
        let prod = self
            .dependencies
            .0
            .iter()
            .filter(|(n, _)| self.optional_dependencies.get(n).is_none())
            .map(|(n, r)| (Section::Prod, &**n, &**r));
        let dev = self.dev_dependencies.0.iter().map(|(n, r)| (Section::Dev, &**n, &**r));
        let opt = self.optional_dependencies.0.iter().map(|(n, r)| (Section::Optional, &**n, &**r));
        prod.chain(dev).chain(opt)
    }

    /// The workspace globs.
    pub(super) fn workspace_globs(&self) -> &[String] {
        match &self.workspaces {
            Some(Workspaces::List(globs)) | Some(Workspaces::Object { packages: globs }) => globs,
            None => &[],
        }
    }
}

/// Reads a file if it exists and records it as an input.
pub(super) fn read_if_exists(
    root: &Path,
    path: &Path,
    inventory: &mut Inventory,
) -> Result<Option<SourceFile>, SbomError> {
    if !path.is_file() {
        return Ok(None);
    }
    let source = SourceFile::read(root, path)?;
    inventory.inputs.insert(source.relative.clone(), source.digest.clone());
    Ok(Some(source))
}

/// Reads a lockfile and records it as an input.
pub(super) fn read_lockfile(
    root: &Path,
    lockfile: &Path,
    inventory: &mut Inventory,
) -> Result<SourceFile, SbomError> {
    let source = SourceFile::read(root, lockfile)?;
    inventory.inputs.insert(source.relative.clone(), source.digest.clone());
    Ok(source)
}

/// The directory holding the lockfile (empty for a bare file name: the working directory).
pub(super) fn lock_dir(lockfile: &Path) -> PathBuf {
    lockfile.parent().map(Path::to_path_buf).unwrap_or_default()
}

/// The name of a directory (for projects whose `package.json` names none).
pub(super) fn dir_name(dir: &Path) -> String {
    let named = |p: &Path| p.file_name().map(|n| n.to_string_lossy().into_owned());
    let dir = if dir.as_os_str().is_empty() { Path::new(".") } else { dir };
    named(dir)
        .or_else(|| std::path::absolute(dir).ok().as_deref().and_then(named))
        .unwrap_or_else(|| "project".to_owned())
}

/// `dir` joined with a `/`-separated relative path, `.` and `..` resolved lexically.
pub(super) fn join_relative(dir: &str, rel: &str) -> String {
    let mut parts: Vec<&str> =
        dir.split('/').filter(|p| !p.is_empty() && *p != ".").collect::<Vec<_>>();
    for part in rel.split('/') {
        match part {
            "" | "." => {}
            ".." => {
                if parts.last().is_some_and(|p| *p != "..") {
                    parts.pop();
                } else {
                    parts.push("..");
                }
            }
            p => parts.push(p),
        }
    }
    if parts.is_empty() { ".".to_owned() } else { parts.join("/") }
}

// ---------------------------------------------------------------------------------------------
// Names, purls, components, licences.

/// `@scope/name` → (`Some("scope")`, `name`); `name` → (`None`, `name`).
pub(super) fn split_scope(full: &str) -> (Option<&str>, &str) {
    match full.strip_prefix('@').and_then(|rest| rest.split_once('/')) {
        Some((scope, name)) => (Some(scope), name),
        None => (None, full),
    }
}

/// Splits `name@range` (the name may be scoped: `@scope/name@range`). `None` without an `@`.
pub(super) fn split_descriptor(descriptor: &str) -> Option<(&str, &str)> {
    let start = usize::from(descriptor.starts_with('@'));
    let at = descriptor[start..].find('@')? + start;
    Some((&descriptor[..at], &descriptor[at + 1..]))
}

/// The npm purl of a package; without a version when `version` is empty.
pub(super) fn npm_purl(full_name: &str, version: &str) -> String {
    let (scope, name) = split_scope(full_name);
    let namespace = scope.map(|s| format!("@{s}"));
    let mut p = purl("npm", namespace.as_deref(), name, version, &[]);
    if version.is_empty() && p.ends_with('@') {
        p.pop();
    }
    p
}

/// A component for an npm package (`kind` and identity set; the rest empty).
pub(super) fn npm_component(full_name: &str, version: &str, kind: ComponentKind) -> Component {
    let (scope, name) = split_scope(full_name);
    let mut c = Component::new(
        Ecosystem::Npm,
        scope.map(str::to_owned),
        name,
        version,
        npm_purl(full_name, version),
    );
    c.kind = kind;
    c
}

/// Normalises declared licences to SPDX expressions (lax parsing), caching the answers.
#[derive(Debug, Default)]
pub(super) struct Licenses {
    cache: HashMap<String, Option<String>>,
}

impl Licenses {
    /// The SPDX expression for a declared licence; the raw text when it is not SPDX.
    pub(super) fn normalize(&mut self, raw: &str) -> Option<String> {
        if let Some(hit) = self.cache.get(raw) {
            return hit.clone();
        }
        let answer = normalize_license(raw);
        self.cache.insert(raw.to_owned(), answer.clone());
        answer
    }
}

/// The SPDX expression for a declared licence; the raw text when it is not SPDX.
pub(super) fn normalize_license(raw: &str) -> Option<String> {
    let trimmed = raw.trim();
    if trimmed.is_empty() {
        return None;
    }
    if spdx::Expression::parse_mode(trimmed, spdx::ParseMode::LAX).is_err() {
        return Some(trimmed.to_owned());
    }
    match spdx::Expression::canonicalize(trimmed) {
        Ok(Some(canonical)) if spdx::Expression::parse(&canonical).is_ok() => Some(canonical),
        _ => Some(trimmed.to_owned()),
    }
}

// ---------------------------------------------------------------------------------------------
// Finding things in the text, for error messages.

/// A JSON pointer from its unescaped parts (`["packages", "node_modules/a"]` →
/// `/packages/node_modules~1a`).
pub(super) fn pointer(parts: &[&str]) -> String {
    let mut out = String::new();
    for part in parts {
        out.push('/');
        out.push_str(&part.replace('~', "~0").replace('/', "~1"));
    }
    out
}

/// The line of the first `"key":` in JSON text.
pub(super) fn json_key_line(source: &SourceFile, key: &str) -> Option<usize> {
    json_key_offset(&source.text, 0, key).map(|at| source.line_of(at))
}

/// The line of `"key":` inside the first top-level-looking `"section": {` object.
pub(super) fn json_member_line(source: &SourceFile, section: &str, key: &str) -> Option<usize> {
    let text = &source.text;
    let mut from = 0;
    while let Some(at) = json_key_offset(text, from, section) {
        let after = &text[at..];
        let open = after.find(['{', ','])?;
        from = at + open + 1;
        if after.as_bytes()[open] != b'{' {
            continue;
        }
        let body_end = text[from..].find('}').map_or(text.len(), |e| from + e);
        if let Some(hit) = json_key_offset(&text[..body_end], from, key) {
            return Some(source.line_of(hit));
        }
    }
    None
}

/// The byte offset of `"key"` followed by optional whitespace and `:`, at or after `from`.
fn json_key_offset(text: &str, from: usize, key: &str) -> Option<usize> {
    let needle = format!("\"{key}\"");
    let mut start = from;
    while let Some(i) = text.get(start..)?.find(&needle) {
        let at = start + i;
        let rest = text[at + needle.len()..].trim_start();
        if rest.starts_with(':') {
            return Some(at);
        }
        start = at + needle.len();
    }
    None
}

/// The line of a YAML mapping key (`key:`, `'key':` or `"key":`, at any indentation), looking
/// after the top-level `section:` line when a section is given.
pub(super) fn yaml_key_line(
    source: &SourceFile,
    section: Option<&str>,
    key: &str,
) -> Option<usize> {
    let single = format!("'{key}'");
    let double = format!("\"{key}\"");
    let is_key = |line: &str| {
        let t = line.trim_start();
        [t.strip_prefix(key), t.strip_prefix(&single), t.strip_prefix(&double)]
            .into_iter()
            .flatten()
            .any(|rest| rest.starts_with(':'))
    };
    let header = section.map(|s| format!("{s}:"));
    let start = header
        .and_then(|h| source.text.lines().position(|line| line.trim_end() == h))
        .map_or(0, |i| i + 1);
    source.text.lines().enumerate().skip(start).find(|(_, line)| is_key(line)).map(|(i, _)| i + 1)
}

/// A place in a file: the line when known, else the whole file.
pub(super) fn place(source: &SourceFile, line: Option<usize>) -> Place {
    match line {
        Some(line) => source.at_line(line),
        None => Place::file(&source.path),
    }
}

/// `OutOfSync` for a dependency declared in `manifest` under `section`.
pub(super) fn out_of_sync(
    manifest: &SourceFile,
    section: Section,
    name: &str,
    message: String,
) -> SbomError {
    let line = json_member_line(manifest, section.key(), name);
    SbomError::OutOfSync { place: place(manifest, line), manifest: manifest.path.clone(), message }
}

// ---------------------------------------------------------------------------------------------
// The component graph.

/// How a package reaches another.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub(super) enum EdgeKind {
    /// A normal (or peer) dependency.
    Normal,
    /// An optional dependency.
    Optional,
    /// A development dependency (only from projects).
    Dev,
}

struct Node {
    component: Component,
    edges: Vec<(usize, EdgeKind)>,
    dev_flag: bool,
}

/// Components found in one lockfile, merged by purl, with edges between them.
pub(super) struct Graph {
    found_in: String,
    nodes: Vec<Node>,
    by_ref: HashMap<String, usize>,
}

impl Graph {
    /// An empty graph for a lockfile (its relative name goes into `found_in`).
    pub(super) fn new(found_in: &str, capacity: usize) -> Graph {
        Graph {
            found_in: found_in.to_owned(),
            nodes: Vec::with_capacity(capacity),
            by_ref: HashMap::with_capacity(capacity),
        }
    }

    /// Adds a component (merged into an existing one with the same `bom_ref`); its index.
    pub(super) fn add(&mut self, component: Component) -> usize {
        match self.by_ref.entry(component.bom_ref.clone()) {
            MapEntry::Occupied(e) => {
                let i = *e.get();
                merge(&mut self.nodes[i].component, component);
                i
            }
            MapEntry::Vacant(e) => {
                let i = self.nodes.len();
                e.insert(i);
                self.nodes.push(Node { component, edges: Vec::new(), dev_flag: false });
                i
            }
        }
    }

    /// Records that the lockfile flags this component as a development dependency.
    pub(super) fn flag_dev(&mut self, i: usize) {
        self.nodes[i].dev_flag = true;
    }

    /// The component at an index.
    pub(super) fn component(&self, i: usize) -> &Component {
        &self.nodes[i].component
    }

    /// An edge.
    pub(super) fn edge(&mut self, from: usize, to: usize, kind: EdgeKind) {
        if from != to {
            self.nodes[from].edges.push((to, kind));
        }
    }

    /// Writes components and edges into `inventory`, keeping each component's scope as set
    /// (from lockfile flags). Excluded components flagged dev get the development property.
    pub(super) fn finish_with_flags(self, inventory: &mut Inventory) {
        self.finish(inventory, |node, _| {
            let dev = node.component.scope == Scope::Excluded && node.dev_flag;
            (node.component.scope, dev)
        });
    }

    /// Writes components and edges into `inventory`, computing scopes by reachability from the
    /// projects (components of kind `Application`): reachable through normal edges → Required;
    /// also through optional ones → Optional; only through development ones → Excluded (with the
    /// development property). Components nothing reaches stay Required.
    pub(super) fn finish_with_reachability(self, inventory: &mut Inventory) {
        let apps: Vec<usize> = (0..self.nodes.len())
            .filter(|&i| self.nodes[i].component.kind == ComponentKind::Application)
            .collect();
        let required = self.reach(&apps, EdgeKind::Normal);
        let non_dev = self.reach(&apps, EdgeKind::Optional);
        let any = self.reach(&apps, EdgeKind::Dev);
        self.finish(inventory, |node, i| {
            if node.component.kind == ComponentKind::Application || required[i] {
                (Scope::Required, false)
            } else if non_dev[i] {
                (Scope::Optional, false)
            } else if any[i] {
                (Scope::Excluded, true)
            } else {
                (Scope::Required, false)
            }
        });
    }

    /// Nodes reachable from `sources` through edges of kind `<= widest`.
    fn reach(&self, sources: &[usize], widest: EdgeKind) -> Vec<bool> {
        let mut seen = vec![false; self.nodes.len()];
        let mut stack: Vec<usize> = sources.to_vec();
        for &s in sources {
            seen[s] = true;
        }
        while let Some(i) = stack.pop() {
            for &(to, kind) in &self.nodes[i].edges {
                if kind <= widest && !seen[to] {
                    seen[to] = true;
                    stack.push(to);
                }
            }
        }
        seen
    }

    fn finish(self, inventory: &mut Inventory, scope: impl Fn(&Node, usize) -> (Scope, bool)) {
        let n = self.nodes.len();
        // Sort once by bom_ref so the maps below are built from sorted input (no per-insert
        // tree walks over long, common-prefixed purls).
        let mut order: Vec<usize> = (0..n).collect();
        order.sort_unstable_by(|&a, &b| {
            self.nodes[a].component.bom_ref.cmp(&self.nodes[b].component.bom_ref)
        });
        let mut rank = vec![0; n];
        for (r, &i) in order.iter().enumerate() {
            rank[i] = r;
        }
        let settled: Vec<(Scope, bool)> =
            self.nodes.iter().enumerate().map(|(i, node)| scope(node, i)).collect();
        let mut slots: Vec<Option<Node>> = self.nodes.into_iter().map(Some).collect();
        let mut components = Vec::with_capacity(n);
        let mut dependencies = Vec::with_capacity(n);
        let mut refs: Vec<&str> = Vec::with_capacity(n);
        for &i in &order {
            let Some(node) = slots[i].take() else { continue };
            let (s, dev) = settled[i];
            let mut component = node.component;
            component.scope = s;
            if dev {
                component.properties.insert(DEV_PROPERTY.to_owned(), "true".to_owned());
            }
            component.found_in.insert(self.found_in.clone());
            let mut edges: Vec<usize> = node.edges.iter().map(|&(to, _)| rank[to]).collect();
            edges.sort_unstable();
            edges.dedup();
            components.push(component);
            dependencies.push(edges);
        }
        for c in &components {
            refs.push(&c.bom_ref);
        }
        let dependencies: Vec<(String, BTreeSet<String>)> = dependencies
            .into_iter()
            .enumerate()
            .map(|(r, edges)| {
                (refs[r].to_owned(), edges.into_iter().map(|t| refs[t].to_owned()).collect())
            })
            .collect();
        if inventory.components.is_empty() && inventory.dependencies.is_empty() {
            for c in &components {
                if c.kind == ComponentKind::Application {
                    inventory.roots.insert(c.bom_ref.clone());
                }
            }
            inventory.components = components.into_iter().map(|c| (c.bom_ref.clone(), c)).collect();
            inventory.dependencies = dependencies.into_iter().collect();
        } else {
            for c in components {
                inventory.add(c);
            }
            for (from, tos) in dependencies {
                inventory.dependencies.entry(from).or_default().extend(tos);
            }
        }
        inventory.normalize();
    }
}

/// Merges facts about the same package (seen at two install paths, or under two descriptors).
fn merge(into: &mut Component, from: Component) {
    if from.kind == ComponentKind::Application {
        into.kind = ComponentKind::Application;
    }
    into.scope = into.scope.min(from.scope);
    if into.license.is_none() {
        into.license = from.license;
    }
    if into.source.is_none() {
        into.source = from.source;
    }
    for hash in from.hashes {
        if !into.hashes.iter().any(|h| h.algorithm == hash.algorithm) {
            into.hashes.push(hash);
        }
    }
    into.hashes.sort();
    for (k, v) in from.properties {
        into.properties.entry(k).or_insert(v);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_split_and_purls_keep_the_scope() {
        assert_eq!(split_scope("@babel/core"), (Some("babel"), "core"));
        assert_eq!(split_scope("ms"), (None, "ms"));
        assert_eq!(split_descriptor("@babel/core@^7.0.0"), Some(("@babel/core", "^7.0.0")));
        assert_eq!(split_descriptor("ms-old@npm:ms@2.0.0"), Some(("ms-old", "npm:ms@2.0.0")));
        assert_eq!(split_descriptor("ms"), None);
        assert_eq!(npm_purl("@babel/core", "7.1.0"), "pkg:npm/%40babel/core@7.1.0");
        assert_eq!(npm_purl("@fixture/app", ""), "pkg:npm/%40fixture/app");
        let c = npm_component("@babel/core", "7.1.0", ComponentKind::Library);
        assert_eq!(c.namespace.as_deref(), Some("babel"));
        assert_eq!(c.full_name(), "@babel/core");
    }

    #[test]
    fn licences_become_spdx_or_stay_raw() {
        assert_eq!(normalize_license("MIT").as_deref(), Some("MIT"));
        assert_eq!(
            normalize_license("(MIT OR Apache-2.0)").as_deref(),
            Some("(MIT OR Apache-2.0)")
        );
        assert_eq!(normalize_license("MIT/Apache-2.0").as_deref(), Some("MIT OR Apache-2.0"));
        assert_eq!(normalize_license("GPL-2.0+").as_deref(), Some("GPL-2.0-or-later"));
        assert_eq!(
            normalize_license("SEE LICENSE IN LICENSE.md").as_deref(),
            Some("SEE LICENSE IN LICENSE.md")
        );
        assert_eq!(normalize_license("  "), None);
    }

    #[test]
    fn relative_paths_join_lexically() {
        assert_eq!(join_relative(".", "packages/app"), "packages/app");
        assert_eq!(join_relative("packages/app", "../lib"), "packages/lib");
        assert_eq!(join_relative("packages/app", "../.."), ".");
        assert_eq!(join_relative(".", "../outside"), "../outside");
    }

    #[test]
    fn json_keys_are_found_by_line() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("package.json");
        std::fs::write(
            &path,
            "{\n  \"name\": \"x\",\n  \"devDependencies\": {\n    \"a\": \"1\"\n  },\n  \"dependencies\": {\n    \"b\": \"2\",\n    \"a\": \"3\"\n  }\n}\n",
        )
        .unwrap();
        let source = SourceFile::read(dir.path(), &path).unwrap();
        assert_eq!(json_member_line(&source, "dependencies", "a"), Some(8));
        assert_eq!(json_member_line(&source, "devDependencies", "a"), Some(4));
        assert_eq!(json_key_line(&source, "name"), Some(2));
        assert_eq!(pointer(&["packages", "node_modules/a"]), "/packages/node_modules~1a");
    }
}
