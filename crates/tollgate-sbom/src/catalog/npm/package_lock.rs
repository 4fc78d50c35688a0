//! `package-lock.json` and `npm-shrinkwrap.json`, lockfileVersion 1, 2 and 3.
//!
//! lockfileVersion 1 (npm 5 and 6) nests the installed tree under `dependencies`, with each
//! package's `requires`; it is rewritten as the `packages` map of version 2 ([`v1_as_v2`]) and
//! read like one.
//!
//! The `packages` map is the installed tree: `""` is the project, `node_modules/a` and
//! `node_modules/a/node_modules/b` are installed packages, folder keys (`packages/app`) are
//! workspace members or local folders, reached through `link: true` entries. Dependencies are
//! resolved the way node resolves them: the nearest `node_modules/<name>` from the requiring
//! package's folder upwards. Scopes come from npm's own `dev`, `optional` and `devOptional`
//! flags.

use super::common::{
    BUNDLED_PROPERTY, EdgeKind, Graph, LicenseField, Licenses, Manifest, Pairs, Section, Str,
    dir_name, json_key_line, lock_dir, npm_component, out_of_sync, place, pointer, read_if_exists,
    read_lockfile, strip_position,
};
use crate::catalog::drift;
use crate::catalog::{SourceFile, integrity_to_hash};
use crate::{ComponentKind, Inventory, SbomError, Scope};
use serde::Deserialize;
use serde::de::{self, Deserializer, MapAccess, Visitor};
use std::collections::HashMap;
use std::fmt;
use std::marker::PhantomData;
use std::path::Path;

/// Catalogues one `package-lock.json` / `npm-shrinkwrap.json` (lockfileVersion 2 or 3), checking
/// it against the `package.json` beside it (and those of its workspace members) when present.
pub fn catalog(root: &Path, lockfile: &Path) -> Result<Inventory, SbomError> {
    let mut inventory = Inventory::default();
    let source = read_lockfile(root, lockfile, &mut inventory)?;
    let lock: Lock<'_> =
        serde_json::from_str(&source.text).map_err(|e| SbomError::json(&source.path, &e))?;
    check_version(&source, lock.lockfile_version.as_ref())?;
    let dir = lock_dir(lockfile);
    let converted;
    let lock = if lock.lockfile_version.as_ref().is_some_and(|v| v.0 == "1") {
        converted = v1_as_v2(&source, &dir.join("package.json"))?;
        serde_json::from_str::<Lock<'_>>(&converted)
            .map_err(|e| SbomError::malformed(place(&source, None), e.to_string()))?
    } else {
        lock
    };
    let Some(packages) = lock.packages else {
        return Err(SbomError::malformed(
            place(&source, json_key_line(&source, "lockfileVersion")),
            "/packages: missing (lockfileVersion 2 and 3 record the installed tree there)",
        ));
    };
    let manifest_source = read_if_exists(root, &dir.join("package.json"), &mut inventory)?;
    let manifest = manifest_source.as_ref().map(Manifest::parse).transpose()?;

    let tree = Tree::new(&packages.0);
    let mut graph = Graph::new(&source.relative, packages.0.len());
    let mut licenses = Licenses::default();
    // Entry index -> graph node (None for links and skipped entries).
    let mut node_of: Vec<Option<usize>> = vec![None; packages.0.len()];

    for (i, (key, entry)) in packages.0.iter().enumerate() {
        if entry.link || tree.index.get(&**key) != Some(&i) {
            continue; // links are resolved below; a duplicated key: the last one counts
        }
        let at = || place(&source, json_key_line(&source, key));
        let (component_name, kind) = if key.is_empty() {
            let name = entry
                .name
                .as_deref()
                .or(lock.name.as_deref())
                .or(manifest.as_ref().and_then(|m| m.name.as_deref()))
                .map_or_else(|| dir_name(&dir), str::to_owned);
            (name, ComponentKind::Application)
        } else if let Some(installed) = installed_name(key) {
            let name = entry.name.as_deref().unwrap_or(installed);
            (name.to_owned(), ComponentKind::Library)
        } else {
            let name =
                entry.name.as_deref().unwrap_or_else(|| key.rsplit('/').next().unwrap_or(key));
            (name.to_owned(), ComponentKind::Application)
        };
        let version = match (&entry.version, kind) {
            (Some(v), _) => v.to_string(),
            (None, ComponentKind::Application) if key.is_empty() => lock
                .version
                .as_deref()
                .or(manifest.as_ref().and_then(|m| m.version.as_deref()))
                .unwrap_or_default()
                .to_owned(),
            (None, ComponentKind::Application) => String::new(),
            (None, ComponentKind::Library) => {
                return Err(SbomError::malformed(
                    at(),
                    format!("{}: missing \"version\"", pointer(&["packages", key])),
                ));
            }
        };
        if component_name.is_empty() {
            return Err(SbomError::malformed(
                at(),
                format!("{}: cannot tell the package name", pointer(&["packages", key])),
            ));
        }
        let mut component = npm_component(&component_name, &version, kind);
        let license = entry.license.as_ref().and_then(LicenseField::text).or_else(|| {
            key.is_empty().then(|| manifest.as_ref()?.license.as_ref()?.text()).flatten()
        });
        component.license = license.and_then(|l| licenses.normalize(l));
        if let Some(integrity) = &entry.integrity {
            component.hashes = integrity_to_hash(integrity).ok_or_else(|| {
                SbomError::malformed(
                    at(),
                    format!(
                        "{}: not a Subresource Integrity string",
                        pointer(&["packages", key, "integrity"])
                    ),
                )
            })?;
        }
        if kind == ComponentKind::Library {
            component.source = entry.resolved.as_deref().map(str::to_owned);
            component.scope = if entry.dev || entry.dev_optional {
                Scope::Excluded
            } else if entry.optional {
                Scope::Optional
            } else {
                Scope::Required
            };
            if entry.in_bundle {
                component.properties.insert(BUNDLED_PROPERTY.to_owned(), "true".to_owned());
            }
        }
        let node = graph.add(component);
        if entry.dev && kind == ComponentKind::Library {
            graph.flag_dev(node);
        }
        node_of[i] = Some(node);
    }

    // Links point at folder entries (workspace members, `file:` folders).
    let mut link_target: HashMap<usize, usize> = HashMap::new();
    for (i, (key, entry)) in packages.0.iter().enumerate() {
        if !entry.link {
            continue;
        }
        let Some(target) = entry.resolved.as_deref() else {
            return Err(SbomError::malformed(
                place(&source, json_key_line(&source, key)),
                format!("{}: a link without \"resolved\"", pointer(&["packages", key])),
            ));
        };
        match tree.index.get(target) {
            Some(&t) if node_of[t].is_some() => {
                link_target.insert(i, t);
            }
            _ => tracing::debug!(link = &**key, target, "link target not in the lockfile"),
        }
    }

    // Edges.
    let mut buf = String::new();
    for (i, (key, entry)) in packages.0.iter().enumerate() {
        let Some(from) = node_of[i] else { continue };
        let is_project = graph.component(from).kind == ComponentKind::Application;
        let lists = [
            (&entry.dependencies, EdgeKind::Normal, true),
            (&entry.optional_dependencies, EdgeKind::Optional, false),
            (&entry.peer_dependencies, EdgeKind::Normal, false),
            (&entry.dev_dependencies, EdgeKind::Dev, false),
        ];
        for (list, kind, required) in lists {
            if kind == EdgeKind::Dev && !is_project {
                continue;
            }
            for (name, _) in &list.0 {
                let found = tree.resolve(key, name, &mut buf).and_then(|t| {
                    let t = link_target.get(&t).copied().unwrap_or(t);
                    node_of[t]
                });
                match found {
                    Some(to) => graph.edge(from, to, kind),
                    None if required && entry.optional_dependencies.get(name).is_none() => {
                        tracing::warn!(
                            lockfile = %source.path.display(),
                            package = &**key,
                            dependency = &**name,
                            "dependency not found in the installed tree"
                        );
                    }
                    None => {}
                }
            }
        }
    }
    // The project depends on its workspace members (linked at the top of node_modules).
    if let Some(root_node) = tree.index.get("").and_then(|&r| node_of[r]) {
        for (&link, &target) in &link_target {
            let (key, _) = &packages.0[link];
            let top_level = installed_name(key) == key.strip_prefix("node_modules/");
            if top_level
                && !packages.0[target].0.starts_with("..")
                && let Some(to) = node_of[target]
            {
                graph.edge(root_node, to, EdgeKind::Normal);
            }
        }
    }

    // Lockfile vs manifests.
    if let (Some(ms), Some(m)) = (&manifest_source, &manifest)
        && let Some(&r) = tree.index.get("")
    {
        check_sync(&source, ms, m, "", &packages.0[r].1)?;
    }
    let mut members: Vec<usize> = link_target.values().copied().collect();
    members.sort_unstable();
    members.dedup();
    for t in members {
        let (key, entry) = &packages.0[t];
        if key.starts_with("..") {
            continue;
        }
        let path = dir.join(&**key).join("package.json");
        if let Some(ms) = read_if_exists(root, &path, &mut inventory)? {
            let m = Manifest::parse(&ms)?;
            check_sync(&source, &ms, &m, key, entry)?;
        }
    }

    graph.finish_with_flags(&mut inventory);
    Ok(inventory)
}

/// The supported versions, for the error message.
const SUPPORTED: &str = "1, 2, 3";

fn check_version(source: &SourceFile, version: Option<&LockVersion>) -> Result<(), SbomError> {
    let version = match version {
        Some(LockVersion(v)) if v == "1" || v == "2" || v == "3" => return Ok(()),
        Some(LockVersion(v)) => v.clone(),
        None => "(missing)".to_owned(),
    };
    Err(SbomError::UnsupportedVersion {
        place: place(source, json_key_line(source, "lockfileVersion")),
        what: "package-lock.json lockfileVersion",
        version,
        supported: SUPPORTED,
    })
}

/// lockfileVersion 1 as the JSON text of a version 2 lock: each package of the nested
/// `dependencies` tree becomes the `packages` entry at its install path
/// (`node_modules/debug/node_modules/ms`), its `requires` its `dependencies`, `bundled` its
/// `inBundle`; `dev` and `optional` are kept. Version 1 has no root entry: the project's is
/// made from `package.json` (each section listing only what the lock installs at the top, so a
/// dependency the lock lacks is still reported as drift), or, without one, from the top-level
/// packages (`dev` ones as development dependencies).
fn v1_as_v2(source: &SourceFile, manifest: &Path) -> Result<String, SbomError> {
    use serde_json::{Map, Value, json};
    let doc: Value =
        serde_json::from_str(&source.text).map_err(|e| SbomError::json(&source.path, &e))?;
    let empty = Map::new();
    let top = doc.get("dependencies").and_then(Value::as_object).unwrap_or(&empty);
    let mut packages = Map::new();
    let mut root = Map::new();
    for key in ["name", "version"] {
        if let Some(v) = doc.get(key) {
            root.insert(key.to_owned(), v.clone());
        }
    }
    let manifest: Option<Value> = std::fs::read_to_string(manifest)
        .ok()
        .and_then(|t| serde_json::from_str(t.trim_start_matches('\u{feff}')).ok());
    for section in ["dependencies", "devDependencies", "optionalDependencies"] {
        let listed: Map<String, Value> = match &manifest {
            Some(m) => m
                .get(section)
                .and_then(Value::as_object)
                .map(|deps| {
                    deps.iter()
                        .filter(|(n, _)| top.contains_key(*n))
                        .map(|(n, r)| (n.clone(), r.clone()))
                        .collect()
                })
                .unwrap_or_default(),
            None => top
                .iter()
                .filter(|(_, d)| {
                    let dev = d.get("dev").and_then(Value::as_bool).unwrap_or(false);
                    (section == "devDependencies") == dev && section != "optionalDependencies"
                })
                .map(|(n, _)| (n.clone(), json!("*")))
                .collect(),
        };
        if !listed.is_empty() {
            root.insert(section.to_owned(), Value::Object(listed));
        }
    }
    packages.insert(String::new(), Value::Object(root));
    let mut pending: Vec<(String, &Map<String, Value>)> = vec![(String::new(), top)];
    while let Some((prefix, deps)) = pending.pop() {
        for (name, dep) in deps {
            let key = format!("{prefix}node_modules/{name}");
            let mut entry = Map::new();
            for field in ["version", "resolved", "integrity", "dev", "optional"] {
                if let Some(v) = dep.get(field) {
                    entry.insert(field.to_owned(), v.clone());
                }
            }
            if let Some(v) = dep.get("bundled") {
                entry.insert("inBundle".to_owned(), v.clone());
            }
            if let Some(requires) = dep.get("requires").filter(|r| r.is_object()) {
                entry.insert("dependencies".to_owned(), requires.clone());
            }
            if let Some(nested) = dep.get("dependencies").and_then(Value::as_object) {
                pending.push((format!("{key}/"), nested));
            }
            packages.insert(key, Value::Object(entry));
        }
    }
    let mut v2 = Map::new();
    for key in ["name", "version"] {
        if let Some(v) = doc.get(key) {
            v2.insert(key.to_owned(), v.clone());
        }
    }
    v2.insert("lockfileVersion".to_owned(), json!(2));
    v2.insert("packages".to_owned(), Value::Object(packages));
    Ok(Value::Object(v2).to_string())
}

/// Every dependency `package.json` declares must be in the lock's entry for that folder with
/// the same range, and the lock's entry must declare nothing `package.json` does not.
fn check_sync(
    lock: &SourceFile,
    manifest_source: &SourceFile,
    manifest: &Manifest<'_>,
    key: &str,
    entry: &Entry<'_>,
) -> Result<(), SbomError> {
    let lock_name = lock
        .path
        .file_name()
        .map_or_else(|| "the lockfile".to_owned(), |n| n.to_string_lossy().into_owned());
    let entry_sections = [
        (Section::Prod, &entry.dependencies),
        (Section::Dev, &entry.dev_dependencies),
        (Section::Optional, &entry.optional_dependencies),
    ];
    for (section, name, range) in manifest.declared() {
        let same =
            entry_sections.iter().find(|(s, _)| *s == section).and_then(|(_, l)| l.get(name));
        let locked = same.or_else(|| entry_sections.iter().find_map(|(_, l)| l.get(name)));
        match locked {
            None => {
                drift::report(out_of_sync(
                    manifest_source,
                    section,
                    name,
                    format!(
                        "dependency `{name}` ({} {range}) is missing from {lock_name}{}",
                        section.key(),
                        where_(key)
                    ),
                ))?;
            }
            Some(locked) if locked != range => {
                drift::report(out_of_sync(
                    manifest_source,
                    section,
                    name,
                    format!(
                        "dependency `{name}` is `{range}` in package.json but `{locked}` in {lock_name}{}",
                        where_(key)
                    ),
                ))?;
            }
            Some(_) => {}
        }
    }
    let declared: Vec<&str> = manifest.declared().map(|(_, n, _)| n).collect();
    for (section, list) in entry_sections {
        for (name, _) in &list.0 {
            if !declared.contains(&&**name) {
                drift::report(SbomError::OutOfSync {
                    place: place(lock, json_key_line(lock, key)),
                    manifest: manifest_source.path.clone(),
                    message: format!(
                        "{lock_name}{} declares `{}` in {} but package.json does not",
                        where_(key),
                        &**name,
                        section.key()
                    ),
                })?;
            }
        }
    }
    Ok(())
}

fn where_(key: &str) -> String {
    if key.is_empty() { String::new() } else { format!(" (packages[\"{key}\"])") }
}

/// For an install path (`node_modules/a/node_modules/@s/b`), the package name (`@s/b`); `None`
/// for folder keys.
fn installed_name(key: &str) -> Option<&str> {
    let i = key.rfind("node_modules/")?;
    if i > 0 && !key[..i].ends_with('/') {
        return None;
    }
    let name = &key[i + "node_modules/".len()..];
    (!name.is_empty()).then_some(name)
}

/// The `packages` map indexed by key.
struct Tree<'l> {
    index: HashMap<&'l str, usize>,
}

impl<'l> Tree<'l> {
    fn new(entries: &'l [(Str<'_>, Entry<'_>)]) -> Tree<'l> {
        let mut index = HashMap::with_capacity(entries.len());
        for (i, (key, _)) in entries.iter().enumerate() {
            index.insert(&**key, i);
        }
        Tree { index }
    }

    /// Node's resolution: `<dir>/node_modules/<name>` from the requiring package's folder up
    /// to the project root.
    fn resolve(&self, from: &str, name: &str, buf: &mut String) -> Option<usize> {
        let mut dir = from;
        loop {
            let (parent, last) = match dir.rfind('/') {
                Some(i) => (&dir[..i], &dir[i + 1..]),
                None => ("", dir),
            };
            let skip = last == "node_modules"
                || (last.starts_with('@')
                    && (parent == "node_modules" || parent.ends_with("/node_modules")));
            if !skip {
                buf.clear();
                if !dir.is_empty() {
                    buf.push_str(dir);
                    buf.push('/');
                }
                buf.push_str("node_modules/");
                buf.push_str(name);
                if let Some(&i) = self.index.get(buf.as_str()) {
                    return Some(i);
                }
            }
            if dir.is_empty() {
                return None;
            }
            dir = parent;
        }
    }
}

// ---------------------------------------------------------------------------------------------
// The document.

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Lock<'a> {
    #[serde(borrow, default)]
    name: Option<Str<'a>>,
    #[serde(borrow, default)]
    version: Option<Str<'a>>,
    #[serde(default)]
    lockfile_version: Option<LockVersion>,
    #[serde(borrow, default)]
    packages: Option<Packages<'a>>,
}

/// `lockfileVersion`, a number (or, hand-written, a string).
struct LockVersion(String);

impl<'de> Deserialize<'de> for LockVersion {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct V;
        impl Visitor<'_> for V {
            type Value = LockVersion;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a lockfile version number")
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<LockVersion, E> {
                Ok(LockVersion(v.to_string()))
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<LockVersion, E> {
                Ok(LockVersion(v.to_string()))
            }
            fn visit_f64<E: de::Error>(self, v: f64) -> Result<LockVersion, E> {
                Ok(LockVersion(v.to_string()))
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<LockVersion, E> {
                Ok(LockVersion(v.to_owned()))
            }
        }
        deserializer.deserialize_any(V)
    }
}

/// The `packages` object, in document order.
struct Packages<'a>(Vec<(Str<'a>, Entry<'a>)>);

impl<'de: 'a, 'a> Deserialize<'de> for Packages<'a> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct V<'a>(PhantomData<&'a ()>);
        impl<'de: 'a, 'a> Visitor<'de> for V<'a> {
            type Value = Packages<'a>;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("an object of install paths to package entries")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Packages<'a>, A::Error> {
                let mut out = Vec::with_capacity(map.size_hint().unwrap_or(0));
                while let Some(key) = map.next_key::<Str<'a>>()? {
                    let entry = map.next_value::<Entry<'a>>().map_err(|e| {
                        de::Error::custom(format_args!(
                            "{}: {}",
                            pointer(&["packages", &key]),
                            strip_position(&e)
                        ))
                    })?;
                    out.push((key, entry));
                }
                Ok(Packages(out))
            }
        }
        deserializer.deserialize_map(V(PhantomData)).map_err(|e| {
            let message = strip_position(&e);
            if message.starts_with("/packages") {
                de::Error::custom(message)
            } else {
                de::Error::custom(format_args!("/packages: {message}"))
            }
        })
    }
}

/// One entry of `packages`.
#[derive(Deserialize, Default)]
#[serde(rename_all = "camelCase")]
struct Entry<'a> {
    #[serde(borrow, default)]
    name: Option<Str<'a>>,
    #[serde(borrow, default)]
    version: Option<Str<'a>>,
    #[serde(borrow, default)]
    resolved: Option<Str<'a>>,
    #[serde(borrow, default)]
    integrity: Option<Str<'a>>,
    #[serde(default)]
    license: Option<LicenseField>,
    #[serde(default)]
    link: bool,
    #[serde(default)]
    dev: bool,
    #[serde(default)]
    optional: bool,
    #[serde(default)]
    dev_optional: bool,
    #[serde(default)]
    in_bundle: bool,
    #[serde(borrow, default)]
    dependencies: Pairs<'a>,
    #[serde(borrow, default)]
    optional_dependencies: Pairs<'a>,
    #[serde(borrow, default)]
    peer_dependencies: Pairs<'a>,
    #[serde(borrow, default)]
    dev_dependencies: Pairs<'a>,
}

#[cfg(test)]
mod tests {
    //! Fixtures `npm-lock-v3` and `npm-lock-v2` were written by npm 11.19.1 (node 20.20.2) with
    //! `npm install --package-lock-only --omit-lockfile-registry-resolved=false`
    //! (`--lockfile-version 2` for v2): an npm workspace (`packages/app`), a scoped package, a
    //! dev dependency, an optional dependency, an alias (`ms-old` → `ms@2.0.0`), a peer
    //! dependency (`ts-api-utils` → `typescript`) and nested duplicates (`ms`, `is-number`).

    use super::*;
    use crate::catalog::npm::test_support::*;
    use crate::{HashAlgorithm, SbomError};
    use std::path::PathBuf;

    const V3: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/npm-lock-v3");
    const V2: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/npm-lock-v2");

    fn run(dir: &str) -> Inventory {
        let root = PathBuf::from(dir);
        catalog(&root, &root.join("package-lock.json")).unwrap()
    }

    #[test]
    fn v3_workspace_components_scopes_and_metadata() {
        let inv = run(V3);
        let purls: Vec<&str> = inv.components.keys().map(String::as_str).collect();
        assert_eq!(
            purls,
            [
                "pkg:npm/%40fixture/app@0.1.0",
                "pkg:npm/%40tootallnate/once@2.0.1",
                "pkg:npm/debug@2.6.9",
                "pkg:npm/is-number@6.0.0",
                "pkg:npm/is-number@7.0.0",
                "pkg:npm/is-odd@3.0.1",
                "pkg:npm/ms@2.0.0",
                "pkg:npm/ms@2.1.3",
                "pkg:npm/npm-fixture@1.0.0",
                "pkg:npm/ts-api-utils@1.3.0",
                "pkg:npm/typescript@5.4.5",
            ]
        );
        assert_eq!(inv.roots.iter().map(String::as_str).collect::<Vec<_>>(), [APP, ROOT]);

        let root = inv.get(ROOT).unwrap();
        assert_eq!(root.kind, ComponentKind::Application);
        assert_eq!(root.license.as_deref(), Some("MIT"));
        let app = inv.get(APP).unwrap();
        assert_eq!(app.kind, ComponentKind::Application);
        assert_eq!((app.namespace.as_deref(), app.name.as_str()), (Some("fixture"), "app"));
        assert_eq!(app.license.as_deref(), Some("Apache-2.0"));

        let once = inv.get("pkg:npm/%40tootallnate/once@2.0.1").unwrap();
        assert_eq!(once.namespace.as_deref(), Some("tootallnate"));
        assert_eq!(once.name, "once");
        assert_eq!(once.scope, Scope::Required);
        assert_eq!(once.license.as_deref(), Some("MIT"));
        assert_eq!(
            once.source.as_deref(),
            Some("https://registry.npmjs.org/@tootallnate/once/-/once-2.0.1.tgz")
        );
        assert_eq!(once.hashes.len(), 1);
        assert_eq!(once.hashes[0].algorithm, HashAlgorithm::Sha512);
        assert_eq!(
            once.hashes[0].hex,
            "1ea9845081912797d25dc86456047917baa7e3c6c3073bf49168ff29fbb97bab\
             9c8b852511e9e0e37df52e706459f7dbfbe122dc53952f1a3c24958c1410cc79"
        );
        assert_eq!(once.found_in.iter().collect::<Vec<_>>(), ["package-lock.json"]);

        let dev = inv.get("pkg:npm/is-number@7.0.0").unwrap();
        assert_eq!(dev.scope, Scope::Excluded);
        assert_eq!(
            dev.properties.get("cdx:npm:package:development").map(String::as_str),
            Some("true")
        );
        let optional = inv.get("pkg:npm/ms@2.1.3").unwrap();
        assert_eq!(optional.scope, Scope::Optional);
        assert!(optional.properties.is_empty());
        // Reached through debug (nested) and through the `ms-old` alias.
        assert_eq!(inv.get("pkg:npm/ms@2.0.0").unwrap().scope, Scope::Required);
        assert_eq!(inv.get("pkg:npm/is-number@6.0.0").unwrap().scope, Scope::Required);
        assert_eq!(
            inv.get("pkg:npm/typescript@5.4.5").unwrap().license.as_deref(),
            Some("Apache-2.0")
        );

        assert_eq!(
            inv.inputs.keys().map(String::as_str).collect::<Vec<_>>(),
            ["package-lock.json", "package.json", "packages/app/package.json"]
        );
    }

    #[test]
    fn v3_edges_follow_node_resolution() {
        let inv = run(V3);
        assert_eq!(
            deps(&inv, ROOT),
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
            deps(&inv, APP),
            ["pkg:npm/is-odd@3.0.1", "pkg:npm/ms@2.0.0", "pkg:npm/ts-api-utils@1.3.0"]
        );
        // The nested copies win over the hoisted ones.
        assert_eq!(deps(&inv, "pkg:npm/debug@2.6.9"), ["pkg:npm/ms@2.0.0"]);
        assert_eq!(deps(&inv, "pkg:npm/is-odd@3.0.1"), ["pkg:npm/is-number@6.0.0"]);
        // Installed peers are edges too.
        assert_eq!(deps(&inv, "pkg:npm/ts-api-utils@1.3.0"), ["pkg:npm/typescript@5.4.5"]);
        assert!(deps(&inv, "pkg:npm/ms@2.1.3").is_empty());
    }

    #[test]
    fn relative_paths_name_inputs_relative_to_the_root() {
        // Tests run in the crate's directory.
        let root = Path::new("tests/fixtures/npm-lock-v3");
        let inv = catalog(root, &root.join("package-lock.json")).unwrap();
        assert_eq!(inv.components.len(), 11);
        assert!(inv.inputs.contains_key("package-lock.json"));
        assert!(inv.inputs.contains_key("packages/app/package.json"));
        assert_eq!(super::super::common::dir_name(Path::new("")), "tollgate-sbom");
    }

    #[test]
    fn v2_reads_like_v3() {
        let v2 = run(V2);
        let v3 = run(V3);
        assert_eq!(v2.components, v3.components);
        assert_eq!(v2.dependencies, v3.dependencies);
        assert_eq!(v2.roots, v3.roots);
    }

    /// A scratch project: `package.json` and a lockfile with the given contents.
    fn scratch(
        manifest: Option<&str>,
        lock: &str,
    ) -> (tempfile::TempDir, Result<Inventory, SbomError>) {
        let dir = tempfile::tempdir().unwrap();
        if let Some(m) = manifest {
            std::fs::write(dir.path().join("package.json"), m).unwrap();
        }
        let path = dir.path().join("package-lock.json");
        std::fs::write(&path, lock).unwrap();
        let result = catalog(dir.path(), &path);
        (dir, result)
    }

    fn fixture_lock() -> String {
        std::fs::read_to_string(format!("{V3}/package-lock.json")).unwrap()
    }

    #[test]
    fn truncated_lockfile_names_file_and_line() {
        let text = fixture_lock();
        let cut = &text[..text.find("\"node_modules/is-odd\"").unwrap() + 10];
        let (_dir, result) = scratch(None, cut);
        let err = result.unwrap_err();
        let SbomError::Malformed { place, .. } = &err else { panic!("{err}") };
        assert!(place.path.ends_with("package-lock.json"));
        assert_eq!(place.line, Some(cut.lines().count()));
        assert!(err.to_string().contains("package-lock.json:"), "{err}");
    }

    #[test]
    fn unknown_lockfile_version_is_unsupported_at_its_version_line() {
        let lock = "{\n  \"name\": \"old\",\n  \"version\": \"1.0.0\",\n  \"lockfileVersion\": 0,\n  \"requires\": true,\n  \"dependencies\": {}\n}\n";
        let (_dir, result) = scratch(None, lock);
        match result.unwrap_err() {
            SbomError::UnsupportedVersion { place, version, .. } => {
                assert_eq!(version, "0");
                assert_eq!(place.line, Some(4));
            }
            other => panic!("{other}"),
        }
        let (_dir, result) = scratch(None, "{\"lockfileVersion\": 4, \"packages\": {}}");
        assert!(
            matches!(result.unwrap_err(), SbomError::UnsupportedVersion { version, .. } if version == "4")
        );
    }

    #[test]
    fn structural_errors_point_at_the_entry() {
        let lock = "{\n  \"lockfileVersion\": 3,\n  \"packages\": {\n    \"\": {\"name\": \"x\"},\n    \"node_modules/a\": {\n      \"license\": \"MIT\"\n    }\n  }\n}\n";
        let (_dir, result) = scratch(None, lock);
        let err = result.unwrap_err();
        let SbomError::Malformed { place, message } = &err else { panic!("{err}") };
        assert_eq!(place.line, Some(5));
        assert_eq!(message, "/packages/node_modules~1a: missing \"version\"");

        let (_dir, result) = scratch(None, "{\n  \"lockfileVersion\": 3,\n  \"packages\": []\n}");
        let err = result.unwrap_err();
        let SbomError::Malformed { place, message } = &err else { panic!("{err}") };
        assert_eq!(place.line, Some(3));
        assert!(message.starts_with("/packages: invalid type: sequence"), "{message}");

        let lock = "{\"lockfileVersion\": 3, \"packages\": {\"node_modules/a\": {\"version\": 1}}}";
        let (_dir, result) = scratch(None, lock);
        let err = result.unwrap_err();
        assert!(
            err.to_string().contains("/packages/node_modules~1a: invalid type: integer `1`"),
            "{err}"
        );

        let lock = "{\"lockfileVersion\": 3, \"packages\": {\"node_modules/a\": {\"version\": \"1.0.0\", \"integrity\": \"sha512-!!\"}}}";
        let (_dir, result) = scratch(None, lock);
        assert!(result.unwrap_err().to_string().contains("/packages/node_modules~1a/integrity"));
    }

    #[test]
    fn manifest_dependency_missing_from_lock_is_out_of_sync() {
        let manifest = std::fs::read_to_string(format!("{V3}/package.json"))
            .unwrap()
            .replace("\"debug\": \"2.6.9\"", "\"debug\": \"2.6.9\",\n    \"left-pad\": \"^1.3.0\"");
        let (_dir, result) = scratch(Some(&manifest), &fixture_lock());
        match result.unwrap_err() {
            SbomError::OutOfSync { place, manifest, message } => {
                assert!(manifest.ends_with("package.json"));
                assert!(place.path.ends_with("package.json"));
                assert_eq!(place.line, Some(12));
                assert!(message.contains("`left-pad`"), "{message}");
            }
            other => panic!("{other}"),
        }
    }

    #[test]
    fn manifest_range_differing_from_lock_is_out_of_sync() {
        let manifest = std::fs::read_to_string(format!("{V3}/package.json"))
            .unwrap()
            .replace("\"is-number\": \"^7.0.0\"", "\"is-number\": \"^7.0.1\"");
        let (_dir, result) = scratch(Some(&manifest), &fixture_lock());
        let err = result.unwrap_err();
        assert!(
            matches!(&err, SbomError::OutOfSync { place, .. } if place.line == Some(14)),
            "{err}"
        );
        assert!(
            err.to_string().contains("`is-number` is `^7.0.1` in package.json but `^7.0.0`"),
            "{err}"
        );
    }

    #[test]
    fn workspace_member_manifest_is_checked_too() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(dir.path().join("packages/app")).unwrap();
        std::fs::copy(format!("{V3}/package.json"), dir.path().join("package.json")).unwrap();
        std::fs::write(
            dir.path().join("packages/app/package.json"),
            "{\"name\": \"@fixture/app\", \"version\": \"0.1.0\", \"dependencies\": {\"is-odd\": \"^3.0.1\"}}",
        )
        .unwrap();
        let path = dir.path().join("package-lock.json");
        std::fs::write(&path, fixture_lock()).unwrap();
        let err = catalog(dir.path(), &path).unwrap_err();
        assert!(err.to_string().contains("declares `ms-old`"), "{err}");
    }

    #[test]
    fn dev_optional_bundled_and_aliases() {
        let lock = r#"{
  "name": "x", "version": "1.0.0", "lockfileVersion": 3,
  "packages": {
    "": {"name": "x", "version": "1.0.0", "dependencies": {"a": "1"}, "devDependencies": {"d": "1"}},
    "node_modules/a": {"version": "1.0.0", "license": "MIT/Apache-2.0", "dependencies": {"b": "1", "c": "1"}, "bundleDependencies": ["b"]},
    "node_modules/a/node_modules/b": {"version": "1.0.0", "inBundle": true},
    "node_modules/c": {"name": "@real/c", "version": "2.0.0", "devOptional": true},
    "node_modules/d": {"version": "1.0.0", "dev": true, "dependencies": {"c": "1"}}
  }
}"#;
        let (_dir, result) = scratch(None, lock);
        let inv = result.unwrap();
        assert_eq!(inv.components.len(), 5);
        let a = inv.get("pkg:npm/a@1.0.0").unwrap();
        assert_eq!(a.license.as_deref(), Some("MIT OR Apache-2.0"));
        let b = inv.get("pkg:npm/b@1.0.0").unwrap();
        assert_eq!(b.properties.get("cdx:npm:package:bundled").map(String::as_str), Some("true"));
        let c = inv.get("pkg:npm/%40real/c@2.0.0").unwrap();
        assert_eq!(c.scope, Scope::Excluded);
        assert!(!c.properties.contains_key("cdx:npm:package:development"));
        assert_eq!(deps(&inv, "pkg:npm/a@1.0.0"), ["pkg:npm/%40real/c@2.0.0", "pkg:npm/b@1.0.0"]);
        assert_eq!(deps(&inv, "pkg:npm/d@1.0.0"), ["pkg:npm/%40real/c@2.0.0"]);
        assert_eq!(deps(&inv, "pkg:npm/x@1.0.0"), ["pkg:npm/a@1.0.0", "pkg:npm/d@1.0.0"]);
    }

    const V1: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/npm-lock-v1");

    /// `npm-lock-v1` was written by npm 6 (`npm install --package-lock-only`): a nested `ms`
    /// under `debug`, a dev and an optional top-level package.
    #[test]
    fn lockfile_v1_nested_tree_scopes_and_hashes() {
        let root = Path::new(V1);
        let inv = catalog(root, &root.join("package-lock.json")).unwrap();
        let app = "pkg:npm/npm-v1-fixture@1.0.0";
        assert_eq!(inv.roots.iter().collect::<Vec<_>>(), [app]);
        assert_eq!(
            deps(&inv, app),
            [
                "pkg:npm/%40tootallnate/once@2.0.1",
                "pkg:npm/debug@2.6.9",
                "pkg:npm/is-number@7.0.0",
                "pkg:npm/ms@2.1.3",
            ]
        );
        assert_eq!(deps(&inv, "pkg:npm/debug@2.6.9"), ["pkg:npm/ms@2.0.0"]);
        assert_eq!(scope(&inv, "pkg:npm/is-number@7.0.0"), Scope::Excluded);
        assert_eq!(scope(&inv, "pkg:npm/ms@2.1.3"), Scope::Optional);
        assert_eq!(scope(&inv, "pkg:npm/ms@2.0.0"), Scope::Required);
        let debug = inv.get("pkg:npm/debug@2.6.9").unwrap();
        assert!(debug.hashes[0].hex.starts_with("6c2ec496b7496899"), "{:?}", debug.hashes);
        assert_eq!(
            debug.source.as_deref(),
            Some("https://registry.npmjs.org/debug/-/debug-2.6.9.tgz")
        );
        assert_eq!(inv.inputs.keys().collect::<Vec<_>>(), ["package-lock.json", "package.json"]);
    }

    #[test]
    fn lockfile_v1_truncated_or_out_of_sync() {
        let lock = std::fs::read_to_string(format!("{V1}/package-lock.json")).unwrap();
        let manifest = std::fs::read_to_string(format!("{V1}/package.json")).unwrap();
        let cut = &lock[..lock.find("\"is-number\"").unwrap()];
        let (_dir, result) = scratch(Some(&manifest), cut);
        let err = result.unwrap_err();
        assert!(matches!(err, SbomError::Malformed { .. }), "{err}");
        assert!(err.to_string().contains("package-lock.json:"), "{err}");

        let drifted = manifest.replace(
            "\"debug\": \"2.6.9\",",
            "\"debug\": \"2.6.9\",\n    \"left-pad\": \"^1.3.0\",",
        );
        let (_dir, result) = scratch(Some(&drifted), &lock);
        match result.unwrap_err() {
            SbomError::OutOfSync { place, message, .. } => {
                assert!(place.path.ends_with("package.json"));
                assert_eq!(place.line, Some(8));
                assert!(message.contains("left-pad"), "{message}");
            }
            other => panic!("{other}"),
        }
        // Without package.json the top-level packages are the project's dependencies.
        let (_dir, result) = scratch(None, &lock);
        let inv = result.unwrap();
        assert_eq!(deps(&inv, "pkg:npm/npm-v1-fixture@1.0.0").len(), 4);
        assert_eq!(scope(&inv, "pkg:npm/is-number@7.0.0"), Scope::Excluded);
    }
}
