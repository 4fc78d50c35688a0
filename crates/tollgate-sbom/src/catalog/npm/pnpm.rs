//! `pnpm-lock.yaml`, lockfileVersion 5.x, 6.0/6.1 and 9.0.
//!
//! `importers` are the projects (`.` is the root; single-project 5.x/6.x lockfiles keep the
//! root's dependencies at the top level); `packages` (5.x/6.x) or `snapshots` (9.0, with the
//! package metadata in `packages`) are the dependencies. Keys carry peer suffixes
//! (`/foo@1.0.0(react@18.0.0)`, `foo@1.0.0(react@18.0.0)`, `/foo/1.0.0_react@18.0.0`) that
//! name one component `foo@1.0.0`. Scopes come from the `dev`/`optional` flags of 5.x/6.x and
//! from reachability from the importers' dependency lists in 9.0, which has no flags.

use super::common::{
    EdgeKind, Graph, Manifest, Section, dir_name, join_relative, lock_dir, npm_component,
    out_of_sync, place, pointer, read_if_exists, read_lockfile, split_descriptor, yaml_key_line,
};
use crate::catalog::drift;
use crate::catalog::{SourceFile, integrity_to_hash};
use crate::{ComponentKind, Inventory, SbomError, Scope};
use serde::Deserialize;
use std::collections::{BTreeMap, HashMap};
use std::path::Path;

/// Catalogues one `pnpm-lock.yaml`, checking each importer against its `package.json` when
/// present.
pub fn catalog(root: &Path, lockfile: &Path) -> Result<Inventory, SbomError> {
    let mut inventory = Inventory::default();
    let source = read_lockfile(root, lockfile, &mut inventory)?;
    let format = match scan_version(&source) {
        Some((version, line)) => {
            Some(Format::of(&version).ok_or_else(|| unsupported(&source, &version, line))?)
        }
        None => None,
    };
    let lock = parse(&source)?;
    let format = format.ok_or_else(|| {
        SbomError::malformed(
            place(&source, None),
            "/lockfileVersion: missing (not a pnpm lockfile?)",
        )
    })?;
    let dir = lock_dir(lockfile);

    // Importers: the projects.
    let single;
    let importers: &BTreeMap<String, Importer> = match &lock.importers {
        Some(importers) => importers,
        None => {
            single = BTreeMap::from([(
                ".".to_owned(),
                Importer {
                    specifiers: lock.specifiers.clone(),
                    dependencies: lock.dependencies.clone(),
                    dev_dependencies: lock.dev_dependencies.clone(),
                    optional_dependencies: lock.optional_dependencies.clone(),
                },
            )]);
            &single
        }
    };

    let nodes = package_nodes(&lock, format);
    let mut graph = Graph::new(&source.relative, nodes.len() + importers.len());

    let mut importer_node: HashMap<&str, usize> = HashMap::new();
    for (id, importer) in importers {
        let manifest_path =
            if id == "." { dir.join("package.json") } else { dir.join(id).join("package.json") };
        let manifest_source = read_if_exists(root, &manifest_path, &mut inventory)?;
        let manifest = manifest_source.as_ref().map(Manifest::parse).transpose()?;
        if let (Some(ms), Some(m)) = (&manifest_source, &manifest) {
            check_sync(&source, ms, m, importer, lock.settings.exclude_links_from_lockfile)?;
        }
        let name = manifest.as_ref().and_then(|m| m.name.as_deref()).map_or_else(
            || {
                if id == "." {
                    dir_name(&dir)
                } else {
                    id.rsplit('/').next().unwrap_or(id).to_owned()
                }
            },
            str::to_owned,
        );
        let version = manifest.as_ref().and_then(|m| m.version.as_deref()).unwrap_or_default();
        let mut component = npm_component(&name, version, ComponentKind::Application);
        component.license = manifest
            .as_ref()
            .and_then(|m| m.license.as_ref()?.text())
            .and_then(super::common::normalize_license);
        importer_node.insert(id, graph.add(component));
    }

    // Packages.
    let mut node_index: HashMap<&str, usize> = HashMap::with_capacity(nodes.len());
    for node in &nodes {
        let (name, version) = identify(node, format).ok_or_else(|| {
            SbomError::malformed(
                place(&source, yaml_key_line(&source, Some(node.map), node.key)),
                format!(
                    "{}: cannot tell the package name and version",
                    pointer(&[node.map, node.key])
                ),
            )
        })?;
        let mut component = npm_component(&name, &version, ComponentKind::Library);
        if let Some(resolution) = node.info.and_then(|p| p.resolution.as_ref()) {
            if let Some(integrity) = &resolution.integrity {
                component.hashes = integrity_to_hash(integrity).ok_or_else(|| {
                    SbomError::malformed(
                        place(&source, yaml_key_line(&source, Some("packages"), node.info_key)),
                        format!(
                            "{}: not a Subresource Integrity string",
                            pointer(&["packages", node.info_key, "resolution", "integrity"])
                        ),
                    )
                })?;
            }
            component.source = resolution.source();
        }
        let dev = node.info.and_then(|p| p.dev);
        component.scope = if dev == Some(true) {
            Scope::Excluded
        } else if node.optional {
            Scope::Optional
        } else {
            Scope::Required
        };
        let i = graph.add(component);
        if dev == Some(true) {
            graph.flag_dev(i);
        }
        node_index.insert(node.key, i);
    }

    let resolver = Resolver { format, nodes: &node_index, importers: &importer_node };
    for (id, importer) in importers {
        let from = importer_node[id.as_str()];
        let lists = [
            (&importer.dependencies, EdgeKind::Normal),
            (&importer.dev_dependencies, EdgeKind::Dev),
            (&importer.optional_dependencies, EdgeKind::Optional),
        ];
        for (list, kind) in lists {
            for (name, reference) in list {
                let reference = reference.version();
                match resolver.resolve(id, name, reference) {
                    Resolved::Node(to) => graph.edge(from, to, kind),
                    Resolved::Elsewhere => {}
                    Resolved::Missing => {
                        return Err(dangling(&source, id, "importers", name, reference));
                    }
                }
            }
        }
        if id != "."
            && !id.starts_with("..")
            && let Some(&root_node) = importer_node.get(".")
        {
            graph.edge(root_node, from, EdgeKind::Normal);
        }
    }
    for node in &nodes {
        let from = node_index[node.key];
        for (list, kind) in
            [(node.deps, EdgeKind::Normal), (node.optional_deps, EdgeKind::Optional)]
        {
            let Some(list) = list else { continue };
            for (name, reference) in list {
                match resolver.resolve(".", name, reference) {
                    Resolved::Node(to) => graph.edge(from, to, kind),
                    Resolved::Elsewhere => {}
                    Resolved::Missing => {
                        return Err(dangling(&source, node.key, node.map, name, reference));
                    }
                }
            }
        }
    }

    match format {
        Format::V9 => graph.finish_with_reachability(&mut inventory),
        Format::V5 | Format::V6 => graph.finish_with_flags(&mut inventory),
    }
    Ok(inventory)
}

/// The lockfile generations, by how they spell package keys.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Format {
    /// 5.x: `/name/1.0.0_peer@2.0.0`.
    V5,
    /// 6.0, 6.1: `/name@1.0.0(peer@2.0.0)`.
    V6,
    /// 9.0: `name@1.0.0(peer@2.0.0)`, metadata in `packages`, graph in `snapshots`.
    V9,
}

const SUPPORTED: &str = "5.x, 6.0, 6.1, 9.0";

impl Format {
    fn of(version: &str) -> Option<Format> {
        let base = version.split_once('-').map_or(version, |(v, _)| v);
        match base {
            "6.0" | "6.1" => Some(Format::V6),
            "9.0" => Some(Format::V9),
            v if v == "5" || v.strip_prefix("5.").is_some_and(|m| m.parse::<u8>().is_ok()) => {
                Some(Format::V5)
            }
            _ => None,
        }
    }
}

fn unsupported(source: &SourceFile, version: &str, line: usize) -> SbomError {
    SbomError::UnsupportedVersion {
        place: source.at_line(line),
        what: "pnpm-lock.yaml lockfileVersion",
        version: version.to_owned(),
        supported: SUPPORTED,
    }
}

/// The last top-level `lockfileVersion:` (a file may hold an environment document first) and
/// its line.
fn scan_version(source: &SourceFile) -> Option<(String, usize)> {
    let mut found = None;
    for (i, line) in source.text.lines().enumerate() {
        if let Some(rest) = line.strip_prefix("lockfileVersion:") {
            let value = rest.split(" #").next().unwrap_or_default().trim();
            let value = value.trim_matches(|c| c == '\'' || c == '"');
            found = Some((value.to_owned(), i + 1));
        }
    }
    found
}

/// Parses the (last) YAML document.
fn parse(source: &SourceFile) -> Result<PnpmLock, SbomError> {
    crate::catalog::yaml::check(&source.path, &source.text)?;
    let mut last = None;
    for document in serde_yaml_ng::Deserializer::from_str(&source.text) {
        let lock =
            PnpmLock::deserialize(document).map_err(|e| SbomError::yaml(&source.path, &e))?;
        last = Some(lock);
    }
    last.ok_or_else(|| SbomError::malformed(place(source, None), "empty document"))
}

/// The package.json of an importer must declare nothing the importer lacks, with the same
/// specifiers.
fn check_sync(
    lock: &SourceFile,
    manifest_source: &SourceFile,
    manifest: &Manifest<'_>,
    importer: &Importer,
    links_excluded: bool,
) -> Result<(), SbomError> {
    let lock_name = lock
        .path
        .file_name()
        .map_or_else(|| "pnpm-lock.yaml".to_owned(), |n| n.to_string_lossy().into_owned());
    let sections = [
        (Section::Prod, &importer.dependencies),
        (Section::Dev, &importer.dev_dependencies),
        (Section::Optional, &importer.optional_dependencies),
    ];
    for (section, name, range) in manifest.declared() {
        if links_excluded && (range.starts_with("workspace:") || range.starts_with("link:")) {
            continue;
        }
        let same = sections.iter().find(|(s, _)| *s == section).and_then(|(_, l)| l.get(name));
        let Some(locked) = same.or_else(|| sections.iter().find_map(|(_, l)| l.get(name))) else {
            drift::report(out_of_sync(
                manifest_source,
                section,
                name,
                format!(
                    "dependency `{name}` ({} {range}) is missing from {lock_name}",
                    section.key()
                ),
            ))?;
            continue;
        };
        let specifier = match locked {
            DepRef::Spec { specifier, .. } => Some(specifier.as_str()),
            DepRef::Plain(_) => importer.specifiers.get(name).map(String::as_str),
        };
        if let Some(specifier) = specifier
            && specifier != range
        {
            drift::report(out_of_sync(
                manifest_source,
                section,
                name,
                format!(
                    "dependency `{name}` is `{range}` in package.json but `{specifier}` in {lock_name}"
                ),
            ))?;
        }
    }
    Ok(())
}

fn dangling(source: &SourceFile, key: &str, map: &str, name: &str, reference: &str) -> SbomError {
    SbomError::malformed(
        place(source, yaml_key_line(source, Some(map), key)),
        format!(
            "{}: dependency `{name}` ({reference}) has no entry in the lockfile",
            pointer(&[map, key])
        ),
    )
}

/// One package instance (a snapshot in 9.0, a package in 5.x/6.x).
struct Node<'l> {
    /// Its key (with peer suffix).
    key: &'l str,
    /// Which top-level map the key is in, for messages.
    map: &'static str,
    /// The `packages` key holding its metadata (9.0: the key without peer suffix).
    info_key: &'l str,
    info: Option<&'l Package>,
    deps: Option<&'l BTreeMap<String, String>>,
    optional_deps: Option<&'l BTreeMap<String, String>>,
    optional: bool,
}

fn package_nodes(lock: &PnpmLock, format: Format) -> Vec<Node<'_>> {
    if format == Format::V9 && !lock.snapshots.is_empty() {
        lock.snapshots
            .iter()
            .map(|(key, snapshot)| {
                let info_key = strip_peers(key, format);
                Node {
                    key,
                    map: "snapshots",
                    info_key,
                    info: lock.packages.get(info_key),
                    deps: Some(&snapshot.dependencies),
                    optional_deps: Some(&snapshot.optional_dependencies),
                    optional: snapshot.optional,
                }
            })
            .collect()
    } else {
        lock.packages
            .iter()
            .map(|(key, package)| Node {
                key,
                map: "packages",
                info_key: key,
                info: Some(package),
                deps: Some(&package.dependencies),
                optional_deps: Some(&package.optional_dependencies),
                optional: package.optional,
            })
            .collect()
    }
}

/// A key without its peer suffix.
fn strip_peers(key: &str, format: Format) -> &str {
    match format {
        Format::V6 | Format::V9 => key.split_once('(').map_or(key, |(k, _)| k),
        Format::V5 => {
            // `/name/version_peers`: the version part starts after the name's last segment.
            let body = key.strip_prefix('/').unwrap_or(key);
            let name_segments = if body.starts_with('@') { 2 } else { 1 };
            let mut seen = 0;
            for (i, c) in body.char_indices() {
                if c == '/' {
                    seen += 1;
                } else if c == '_' && seen >= name_segments {
                    return &key[..key.len() - body.len() + i];
                }
            }
            key
        }
    }
}

/// The package name and version of a node: from `name`/`version` when pnpm recorded them
/// (non-registry packages), else from the key.
fn identify(node: &Node<'_>, format: Format) -> Option<(String, String)> {
    let base = strip_peers(node.key, format);
    let from_key: Option<(&str, &str)> = match format {
        Format::V9 => split_descriptor(base),
        Format::V6 => base.strip_prefix('/').and_then(split_descriptor),
        Format::V5 => base.strip_prefix('/').and_then(|body| {
            let cut = if body.starts_with('@') {
                body.match_indices('/').nth(1).map(|(i, _)| i)
            } else {
                body.find('/')
            }?;
            Some((&body[..cut], &body[cut + 1..]))
        }),
    };
    let info = node.info;
    let name = info.and_then(|p| p.name.as_deref()).or(from_key.map(|(n, _)| n))?;
    let version = info.and_then(|p| p.version.as_deref()).or(from_key.map(|(_, v)| v))?;
    (!name.is_empty() && !version.is_empty()).then(|| (name.to_owned(), version.to_owned()))
}

enum Resolved {
    Node(usize),
    /// A `link:` to another importer (or outside the lockfile), resolved when it is an importer.
    Elsewhere,
    Missing,
}

struct Resolver<'r> {
    format: Format,
    nodes: &'r HashMap<&'r str, usize>,
    importers: &'r HashMap<&'r str, usize>,
}

impl Resolver<'_> {
    fn resolve(&self, from_importer: &str, name: &str, reference: &str) -> Resolved {
        if let Some(path) = reference.strip_prefix("link:") {
            let id = join_relative(from_importer, path);
            return match self.importers.get(id.as_str()) {
                Some(&i) => Resolved::Node(i),
                None => Resolved::Elsewhere,
            };
        }
        let candidates = match self.format {
            Format::V9 => {
                [format!("{name}@{reference}"), reference.to_owned(), format!("{name}@{reference}")]
            }
            Format::V6 => {
                [format!("/{name}@{reference}"), reference.to_owned(), format!("/{reference}")]
            }
            Format::V5 => {
                [format!("/{name}/{reference}"), reference.to_owned(), format!("/{reference}")]
            }
        };
        candidates
            .iter()
            .find_map(|k| self.nodes.get(k.as_str()).copied())
            .map_or(Resolved::Missing, Resolved::Node)
    }
}

// ---------------------------------------------------------------------------------------------
// The document.

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
struct PnpmLock {
    #[serde(default)]
    settings: Settings,
    #[serde(default)]
    importers: Option<BTreeMap<String, Importer>>,
    #[serde(default)]
    specifiers: BTreeMap<String, String>,
    #[serde(default)]
    dependencies: BTreeMap<String, DepRef>,
    #[serde(default)]
    dev_dependencies: BTreeMap<String, DepRef>,
    #[serde(default)]
    optional_dependencies: BTreeMap<String, DepRef>,
    #[serde(default)]
    packages: BTreeMap<String, Package>,
    #[serde(default)]
    snapshots: BTreeMap<String, Snapshot>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
struct Settings {
    #[serde(default)]
    exclude_links_from_lockfile: bool,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
struct Importer {
    /// 5.x: the specifiers, separately.
    #[serde(default)]
    specifiers: BTreeMap<String, String>,
    #[serde(default)]
    dependencies: BTreeMap<String, DepRef>,
    #[serde(default)]
    dev_dependencies: BTreeMap<String, DepRef>,
    #[serde(default)]
    optional_dependencies: BTreeMap<String, DepRef>,
}

/// An importer's dependency: `version` (5.x) or `{ specifier, version }` (6.0+).
#[derive(Debug, Clone, Deserialize)]
#[serde(untagged)]
enum DepRef {
    Plain(String),
    Spec { specifier: String, version: String },
}

impl DepRef {
    fn version(&self) -> &str {
        match self {
            DepRef::Plain(v) | DepRef::Spec { version: v, .. } => v,
        }
    }
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
struct Package {
    #[serde(default)]
    resolution: Option<Resolution>,
    #[serde(default)]
    name: Option<String>,
    #[serde(default)]
    version: Option<String>,
    #[serde(default)]
    dependencies: BTreeMap<String, String>,
    #[serde(default)]
    optional_dependencies: BTreeMap<String, String>,
    #[serde(default)]
    dev: Option<bool>,
    #[serde(default)]
    optional: bool,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
struct Snapshot {
    #[serde(default)]
    dependencies: BTreeMap<String, String>,
    #[serde(default)]
    optional_dependencies: BTreeMap<String, String>,
    #[serde(default)]
    optional: bool,
}

#[derive(Debug, Default, Deserialize)]
struct Resolution {
    #[serde(default)]
    integrity: Option<String>,
    #[serde(default)]
    tarball: Option<String>,
    #[serde(default)]
    repo: Option<String>,
    #[serde(default)]
    commit: Option<String>,
    #[serde(default)]
    directory: Option<String>,
}

impl Resolution {
    /// Where the package came from, when it is not the default registry.
    fn source(&self) -> Option<String> {
        if let Some(tarball) = &self.tarball {
            return Some(tarball.clone());
        }
        if let (Some(repo), Some(commit)) = (&self.repo, &self.commit) {
            let repo = repo.strip_prefix("git+").unwrap_or(repo);
            return Some(format!("git+{repo}#{commit}"));
        }
        self.directory.as_ref().map(|d| format!("path+{d}"))
    }
}

#[cfg(test)]
mod tests {
    //! Fixtures, all from the same workspace (root + `packages/app`, with a scoped package, a
    //! dev dependency, an optional dependency, an alias `ms-old` → `ms@2.0.0`, a peer
    //! dependency `ts-api-utils` → `typescript` and two versions each of `ms` and `is-number`),
    //! written with `pnpm install --lockfile-only`:
    //! `npm-pnpm-v9` by pnpm 12.21.0 (lockfileVersion '9.0'), `npm-pnpm-v6` by pnpm 8.15.9
    //! ('6.0'), `npm-pnpm-v5` by pnpm 7.33.7 (5.4).

    use super::*;
    use crate::HashAlgorithm;
    use crate::catalog::npm::test_support::*;
    use std::path::PathBuf;

    const V9: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/npm-pnpm-v9");
    const V6: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/npm-pnpm-v6");
    const V5: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/npm-pnpm-v5");

    fn run(dir: &str) -> Inventory {
        let root = PathBuf::from(dir);
        catalog(&root, &root.join("pnpm-lock.yaml")).unwrap()
    }

    fn assert_common_shape(inv: &Inventory) {
        assert_eq!(inv.components.keys().map(String::as_str).collect::<Vec<_>>(), PURLS);
        assert_eq!(inv.roots.iter().map(String::as_str).collect::<Vec<_>>(), [APP, ROOT]);
        assert_eq!(
            deps(inv, ROOT),
            [
                APP,
                "pkg:npm/%40tootallnate/once@2.0.1",
                "pkg:npm/debug@2.6.9",
                "pkg:npm/is-number@7.0.0",
                "pkg:npm/ms@2.1.3",
                "pkg:npm/typescript@5.4.5",
            ]
        );
        assert_eq!(
            deps(inv, APP),
            ["pkg:npm/is-odd@3.0.1", "pkg:npm/ms@2.0.0", "pkg:npm/ts-api-utils@1.3.0"]
        );
        assert_eq!(deps(inv, "pkg:npm/debug@2.6.9"), ["pkg:npm/ms@2.0.0"]);
        assert_eq!(deps(inv, "pkg:npm/is-odd@3.0.1"), ["pkg:npm/is-number@6.0.0"]);
        assert_eq!(scope(inv, "pkg:npm/%40tootallnate/once@2.0.1"), Scope::Required);
        assert_eq!(scope(inv, "pkg:npm/ms@2.0.0"), Scope::Required);
        assert_eq!(scope(inv, "pkg:npm/is-number@6.0.0"), Scope::Required);
        assert_eq!(scope(inv, "pkg:npm/is-number@7.0.0"), Scope::Excluded);
        assert!(is_dev(inv, "pkg:npm/is-number@7.0.0"));
        assert_eq!(scope(inv, "pkg:npm/ms@2.1.3"), Scope::Optional);
        assert!(!is_dev(inv, "pkg:npm/ms@2.1.3"));
        let app = inv.get(APP).unwrap();
        assert_eq!(app.kind, ComponentKind::Application);
        assert_eq!(app.namespace.as_deref(), Some("fixture"));
        assert_eq!(app.license.as_deref(), Some("Apache-2.0"));
        assert_eq!(inv.get(ROOT).unwrap().license.as_deref(), Some("MIT"));
        assert_eq!(
            inv.inputs.keys().map(String::as_str).collect::<Vec<_>>(),
            ["package.json", "packages/app/package.json", "pnpm-lock.yaml"]
        );
        let once = inv.get("pkg:npm/%40tootallnate/once@2.0.1").unwrap();
        assert_eq!(once.hashes.len(), 1);
        assert_eq!(once.hashes[0].algorithm, HashAlgorithm::Sha512);
        assert_eq!(
            once.hashes[0].hex,
            "1ea9845081912797d25dc86456047917baa7e3c6c3073bf49168ff29fbb97bab\
             9c8b852511e9e0e37df52e706459f7dbfbe122dc53952f1a3c24958c1410cc79"
        );
        assert_eq!(once.found_in.iter().collect::<Vec<_>>(), ["pnpm-lock.yaml"]);
    }

    #[test]
    fn v9_importers_snapshots_and_reachability_scopes() {
        let inv = run(V9);
        assert_common_shape(&inv);
        // The peer-suffixed snapshot `ts-api-utils@1.3.0(typescript@5.4.5)` is one component
        // that depends on its resolved peer, which a production path therefore reaches.
        assert_eq!(deps(&inv, "pkg:npm/ts-api-utils@1.3.0"), ["pkg:npm/typescript@5.4.5"]);
        assert_eq!(scope(&inv, "pkg:npm/typescript@5.4.5"), Scope::Required);
        assert!(!is_dev(&inv, "pkg:npm/typescript@5.4.5"));
    }

    #[test]
    fn v6_uses_dev_and_optional_flags() {
        let inv = run(V6);
        assert_common_shape(&inv);
        assert_eq!(deps(&inv, "pkg:npm/ts-api-utils@1.3.0"), ["pkg:npm/typescript@5.4.5"]);
        // No `dev` flag: used by both production and development.
        assert_eq!(scope(&inv, "pkg:npm/typescript@5.4.5"), Scope::Required);
        assert_eq!(
            run(V9).components.keys().collect::<Vec<_>>(),
            inv.components.keys().collect::<Vec<_>>()
        );
    }

    #[test]
    fn v5_slash_keys() {
        let inv = run(V5);
        assert_common_shape(&inv);
        // pnpm 7 did not install the peer: typescript is only the root's dev dependency.
        assert!(deps(&inv, "pkg:npm/ts-api-utils@1.3.0").is_empty());
        assert_eq!(scope(&inv, "pkg:npm/typescript@5.4.5"), Scope::Excluded);
        assert!(is_dev(&inv, "pkg:npm/typescript@5.4.5"));
    }

    #[test]
    fn peer_suffixes_strip_to_one_package() {
        assert_eq!(strip_peers("/foo@1.0.0(react@18.0.0)(b@1.0.0)", Format::V6), "/foo@1.0.0");
        assert_eq!(strip_peers("foo@1.0.0(react@18.0.0)", Format::V9), "foo@1.0.0");
        assert_eq!(strip_peers("/foo/1.0.0_react@18.0.0+b@1.0.0", Format::V5), "/foo/1.0.0");
        assert_eq!(strip_peers("/@s/foo_bar/1.0.0_react@18.0.0", Format::V5), "/@s/foo_bar/1.0.0");
        assert_eq!(Format::of("5.4-inlineSpecifiers"), Some(Format::V5));
        assert_eq!(Format::of("7.0"), None);
    }

    fn scratch(files: &[(&str, &str)]) -> (tempfile::TempDir, Result<Inventory, SbomError>) {
        let dir = tempfile::tempdir().unwrap();
        for (name, text) in files {
            let path = dir.path().join(name);
            std::fs::create_dir_all(path.parent().unwrap()).unwrap();
            std::fs::write(path, text).unwrap();
        }
        let path = dir.path().join("pnpm-lock.yaml");
        let result = catalog(dir.path(), &path);
        (dir, result)
    }

    fn fixture(name: &str) -> String {
        std::fs::read_to_string(format!("{V9}/{name}")).unwrap()
    }

    #[test]
    fn single_project_v6_with_peer_suffixes_and_a_tarball() {
        let lock = "lockfileVersion: '6.0'

dependencies:
  react-dom:
    specifier: ^18.0.0
    version: 18.2.0(react@18.2.0)
  react:
    specifier: ^18.0.0
    version: 18.2.0
  local:
    specifier: https://example.com/local-1.0.0.tgz
    version: '@example.com/local-1.0.0.tgz'

packages:

  /react-dom@18.2.0(react@18.2.0):
    resolution: {integrity: sha512-6FlzubTLZG3J2a/NVCAleEhjzq5oxgHyaCU9yYXvcLsvoVaHJq/s5xXI6/XXP6tz7R9xAOtHnSO/tXtF3WRTlA==}
    peerDependencies:
      react: ^18.2.0
    dependencies:
      react: 18.2.0
    dev: false

  /react@18.2.0:
    resolution: {integrity: sha512-Tpp60P6IUJDTuOq/5Z8cdskzJujfwqfOTkrwIwj7IRISpnkJnT6SyJ4PCPnGMoFjC9ddhal5KVIYtAt97ix05A==}
    dev: false

  '@example.com/local-1.0.0.tgz':
    resolution: {tarball: https://example.com/local-1.0.0.tgz}
    name: local
    version: 1.0.0
    dev: false
";
        let (_dir, result) = scratch(&[("pnpm-lock.yaml", lock)]);
        let inv = result.unwrap();
        assert_eq!(inv.components.len(), 4, "{:?}", inv.components.keys());
        assert_eq!(deps(&inv, "pkg:npm/react-dom@18.2.0"), ["pkg:npm/react@18.2.0"]);
        let local = inv.get("pkg:npm/local@1.0.0").unwrap();
        assert_eq!(local.source.as_deref(), Some("https://example.com/local-1.0.0.tgz"));
        let root = inv.roots.iter().next().unwrap();
        assert_eq!(deps(&inv, root).len(), 3);
    }

    #[test]
    fn environment_document_before_the_lockfile_is_skipped() {
        let lock = format!(
            "---\nlockfileVersion: '9.0'\n\nimporters:\n\n  .:\n    configDependencies: {{}}\n\n---\n{}",
            fixture("pnpm-lock.yaml")
        );
        let (_dir, result) = scratch(&[
            ("pnpm-lock.yaml", &lock),
            ("package.json", &fixture("package.json")),
            ("packages/app/package.json", &fixture("packages/app/package.json")),
        ]);
        assert_eq!(result.unwrap().components.len(), 11);
    }

    #[test]
    fn truncated_lockfile_names_file_and_line() {
        let text = fixture("pnpm-lock.yaml");
        let cut = &text[..text.find("resolution: {integrity: sha512-Wu1").unwrap() + 30];
        let (_dir, result) = scratch(&[("pnpm-lock.yaml", cut)]);
        let err = result.unwrap_err();
        let SbomError::Malformed { place, .. } = &err else { panic!("{err}") };
        assert!(place.path.ends_with("pnpm-lock.yaml"));
        assert!(place.line.is_some_and(|l| l >= cut.lines().count()), "{err}");
    }

    #[test]
    fn unknown_lockfile_version_is_unsupported() {
        let (_dir, result) =
            scratch(&[("pnpm-lock.yaml", "lockfileVersion: '10.0'\n\nimporters: []\n")]);
        match result.unwrap_err() {
            SbomError::UnsupportedVersion { place, version, .. } => {
                assert_eq!(version, "10.0");
                assert_eq!(place.line, Some(1));
            }
            other => panic!("{other}"),
        }
        let (_dir, result) = scratch(&[("pnpm-lock.yaml", "importers: {}\n")]);
        assert!(result.unwrap_err().to_string().contains("/lockfileVersion: missing"));
    }

    #[test]
    fn manifest_dependency_missing_from_importer_is_out_of_sync() {
        let manifest = fixture("packages/app/package.json").replace(
            "\"is-odd\": \"^3.0.1\",",
            "\"is-odd\": \"^3.0.1\",\n    \"left-pad\": \"^1.3.0\",",
        );
        let (_dir, result) = scratch(&[
            ("pnpm-lock.yaml", &fixture("pnpm-lock.yaml")),
            ("package.json", &fixture("package.json")),
            ("packages/app/package.json", &manifest),
        ]);
        match result.unwrap_err() {
            SbomError::OutOfSync { place, manifest, message } => {
                assert!(manifest.ends_with("packages/app/package.json"));
                assert_eq!(place.line, Some(7));
                assert!(message.contains("`left-pad`"), "{message}");
            }
            other => panic!("{other}"),
        }
        let manifest =
            fixture("package.json").replace("\"debug\": \"2.6.9\"", "\"debug\": \"^2.6.9\"");
        let (_dir, result) =
            scratch(&[("pnpm-lock.yaml", &fixture("pnpm-lock.yaml")), ("package.json", &manifest)]);
        let err = result.unwrap_err();
        assert!(
            err.to_string().contains("`debug` is `^2.6.9` in package.json but `2.6.9`"),
            "{err}"
        );
    }

    #[test]
    fn dangling_reference_is_malformed() {
        let lock = fixture("pnpm-lock.yaml").replace("      ms: 2.0.0\n", "      ms: 2.0.1\n");
        let (_dir, result) = scratch(&[("pnpm-lock.yaml", &lock)]);
        let err = result.unwrap_err();
        let SbomError::Malformed { place, message } = &err else { panic!("{err}") };
        assert_eq!(
            message,
            "/snapshots/debug@2.6.9: dependency `ms` (2.0.1) has no entry in the lockfile"
        );
        let line = lock.lines().position(|l| l == "  debug@2.6.9:").unwrap();
        let line =
            lock.lines().skip(line + 1).position(|l| l == "  debug@2.6.9:").unwrap() + line + 2;
        assert_eq!(place.line, Some(line));
    }
}
