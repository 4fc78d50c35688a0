//! `yarn.lock`: yarn classic (v1, its own line-based syntax) and yarn berry (v2+, YAML with
//! `__metadata`).
//!
//! Entries are keyed by the descriptors (`name@range`) that resolve to them; a dependency
//! `name range` is resolved through its descriptor. The projects come from the manifests:
//! the `package.json` beside the lockfile (and, for classic, its `workspaces`; berry lists its
//! workspaces in the lockfile as `name@workspace:path`). A manifest's `devDependencies` are
//! development edges, and scopes follow reachability: a package only development edges reach
//! is Excluded.
//!
//! Berry checksums are not Subresource Integrity (they hash yarn's cache archive, prefixed by
//! the cache key): they are kept as the property `yarn:checksum`, except a bare 128-hex-digit
//! SHA-512 (older berry), which is recorded as a SHA-512 hash.

use super::common::{
    EdgeKind, Graph, Manifest, dir_name, join_relative, lock_dir, npm_component, out_of_sync,
    place, pointer, read_if_exists, read_lockfile, split_descriptor, yaml_key_line,
};
use super::yarn_v1::{self, Value};
use crate::catalog::drift;
use crate::catalog::{SourceFile, integrity_to_hash};
use crate::{Component, ComponentKind, Hash, HashAlgorithm, Inventory, SbomError};
use serde::Deserialize;
use serde::de::{self, Deserializer, MapAccess, Visitor};
use std::collections::{BTreeMap, HashMap};
use std::fmt;
use std::path::Path;

/// Property holding a berry checksum that is not a plain SHA-512.
const CHECKSUM_PROPERTY: &str = "yarn:checksum";

/// Catalogues one `yarn.lock` (classic or berry), checking it against the `package.json`
/// beside it (and the workspaces' manifests) when present.
pub fn catalog(root: &Path, lockfile: &Path) -> Result<Inventory, SbomError> {
    let mut inventory = Inventory::default();
    let source = read_lockfile(root, lockfile, &mut inventory)?;
    let berry = source.text.lines().any(|l| l.trim_end() == "__metadata:");
    let entries = if berry { berry_entries(&source)? } else { classic_entries(&source)? };
    let dir = lock_dir(lockfile);
    let root_manifest = read_if_exists(root, &dir.join("package.json"), &mut inventory)?;
    let resolutions = match &root_manifest {
        Some(m) if berry => overrides(&Manifest::parse(m)?),
        _ => Vec::new(),
    };
    let mut entries = entries;
    if berry {
        versions_of_local_links(&dir, &mut entries);
    }
    let lock = Lock::new(&source, entries, resolutions);

    let mut graph = Graph::new(&source.relative, lock.entries.len() + 1);
    // Workspace entries become projects below.
    let mut entry_node: Vec<Option<usize>> = Vec::with_capacity(lock.entries.len());
    for entry in &lock.entries {
        entry_node.push(entry.workspace.is_none().then(|| graph.add(entry.component())));
    }

    // The projects.
    let mut projects: Vec<Project> = Vec::new();
    if berry {
        for (i, entry) in lock.entries.iter().enumerate() {
            if let Some(path) = &entry.workspace {
                let manifest = if path == "." {
                    root_manifest.clone()
                } else {
                    read_if_exists(root, &dir.join(path).join("package.json"), &mut inventory)?
                };
                projects.push(Project { path: path.clone(), manifest, entry: Some(i) });
            }
        }
        if !projects.iter().any(|p| p.path == ".") {
            projects.push(Project { path: ".".to_owned(), manifest: root_manifest, entry: None });
        }
    } else {
        let globs = match &root_manifest {
            Some(m) => Manifest::parse(m)?.workspace_globs().to_vec(),
            None => Vec::new(),
        };
        projects.push(Project { path: ".".to_owned(), manifest: root_manifest, entry: None });
        for path in expand_workspaces(&dir, &globs) {
            let manifest =
                read_if_exists(root, &dir.join(&path).join("package.json"), &mut inventory)?;
            projects.push(Project { path, manifest, entry: None });
        }
    }
    projects.sort_by(|a, b| a.path.cmp(&b.path));

    let mut parsed = Vec::with_capacity(projects.len());
    for project in &projects {
        parsed.push(project.manifest.as_ref().map(Manifest::parse).transpose()?);
    }
    let mut project_node = Vec::with_capacity(projects.len());
    let mut by_name: HashMap<String, usize> = HashMap::new();
    for (project, manifest) in projects.iter().zip(&parsed) {
        let entry = project.entry.map(|i| &lock.entries[i]);
        let name = manifest
            .as_ref()
            .and_then(|m| m.name.as_deref())
            .or(entry.map(|e| e.name.as_str()))
            .map_or_else(
                || {
                    if project.path == "." {
                        dir_name(&dir)
                    } else {
                        project.path.rsplit('/').next().unwrap_or_default().to_owned()
                    }
                },
                str::to_owned,
            );
        let version = manifest
            .as_ref()
            .and_then(|m| m.version.as_deref())
            .or(entry.map(|e| e.version.as_str()).filter(|v| *v != "0.0.0-use.local"))
            .unwrap_or_default();
        let mut component = npm_component(&name, version, ComponentKind::Application);
        component.license = manifest
            .as_ref()
            .and_then(|m| m.license.as_ref()?.text())
            .and_then(super::common::normalize_license);
        let node = graph.add(component);
        if let Some(i) = project.entry {
            entry_node[i] = Some(node);
        }
        by_name.insert(name, node);
        project_node.push(node);
    }

    // Edges between packages.
    for (i, entry) in lock.entries.iter().enumerate() {
        if entry.workspace.is_some() {
            continue; // workspaces get their edges from their manifests below
        }
        let Some(from) = entry_node[i] else { continue };
        for dep in &entry.deps {
            let to =
                lock.resolve(&dep.name, &dep.range).and_then(|t| entry_node[t]).or_else(|| {
                    dep.range.starts_with("workspace:").then(|| by_name.get(&dep.name).copied())?
                });
            match to {
                Some(to) => graph.edge(from, to, dep.kind),
                None => return Err(lock.dangling(entry, dep)),
            }
        }
    }

    // Edges from the projects, with development edges from their manifests.
    for (k, (project, manifest)) in projects.iter().zip(&parsed).enumerate() {
        let from = project_node[k];
        let entry = project.entry.map(|i| &lock.entries[i]);
        if let (Some(ms), Some(m)) = (&project.manifest, manifest) {
            lock.check_sync(ms, m, entry, &by_name)?;
        }
        match (entry, manifest) {
            (Some(entry), _) => {
                for dep in &entry.deps {
                    let kind = match manifest {
                        Some(m) if dep.kind == EdgeKind::Normal => manifest_kind(m, &dep.name),
                        _ => dep.kind,
                    };
                    let to = lock.resolve(&dep.name, &dep.range).and_then(|t| entry_node[t]);
                    let to = to.or_else(|| by_name.get(&dep.name).copied());
                    match to {
                        Some(to) => graph.edge(from, to, kind),
                        None => return Err(lock.dangling(entry, dep)),
                    }
                }
            }
            (None, Some(m)) => {
                for (section, name, range) in m.declared() {
                    let to = by_name
                        .get(name)
                        .copied()
                        .or_else(|| lock.resolve(name, range).and_then(|t| entry_node[t]));
                    if let Some(to) = to {
                        graph.edge(from, to, section.edge());
                    }
                }
            }
            (None, None) if project.path == "." => {
                // No manifest: the root depends on whatever nothing else depends on.
                let mut wanted = vec![true; lock.entries.len()];
                for entry in &lock.entries {
                    for dep in &entry.deps {
                        if let Some(t) = lock.resolve(&dep.name, &dep.range) {
                            wanted[t] = false;
                        }
                    }
                }
                for (t, _) in wanted.iter().enumerate().filter(|(_, w)| **w) {
                    if let Some(to) = entry_node[t] {
                        graph.edge(from, to, EdgeKind::Normal);
                    }
                }
            }
            (None, None) => {}
        }
        if project.path != "."
            && !project.path.starts_with("..")
            && let Some(r) = projects.iter().position(|p| p.path == ".")
        {
            graph.edge(project_node[r], from, EdgeKind::Normal);
        }
    }

    graph.finish_with_reachability(&mut inventory);
    Ok(inventory)
}

/// Yarn `resolutions` as `(package name, range)`: the package a key overrides is its last
/// name (`parent/name`, `**/name` and `name@range` keys override `name`; scoped names keep
/// their scope). Later keys win, as in yarn.
fn overrides(manifest: &Manifest<'_>) -> Vec<(String, String)> {
    let mut out: Vec<(String, String)> = Vec::new();
    for (key, range) in &manifest.resolutions.0 {
        let mut parts: Vec<String> = Vec::new();
        let mut pending_scope: Option<&str> = None;
        for part in key.split('/') {
            match pending_scope.take() {
                Some(scope) => parts.push(format!("{scope}/{part}")),
                None if part.starts_with('@') => pending_scope = Some(part),
                None => parts.push(part.to_owned()),
            }
        }
        let Some(last) = parts.pop() else { continue };
        let name = match split_descriptor(&last) {
            Some((name, _)) => name.to_owned(),
            None => last,
        };
        out.retain(|(n, _)| *n != name);
        out.push((name, range.to_string()));
    }
    out
}

/// Berry locks `link:` and `portal:` packages at `0.0.0-use.local`: their version is in their
/// own `package.json`, at the path the reference names relative to the workspace its
/// `::locator=` names. Left as locked when that manifest cannot be read.
fn versions_of_local_links(dir: &Path, entries: &mut [Entry]) {
    for entry in entries.iter_mut().filter(|e| e.version == "0.0.0-use.local") {
        let Some(reference) = entry.source.as_deref() else { continue };
        let Some(rest) =
            reference.strip_prefix("link:").or_else(|| reference.strip_prefix("portal:"))
        else {
            continue;
        };
        let (path, locator) = rest.split_once("::locator=").unwrap_or((rest, ""));
        let locator = percent_decode(locator);
        let workspace = locator.rsplit_once("@workspace:").map_or(".", |(_, w)| w);
        let manifest = dir.join(workspace).join(path).join("package.json");
        let version = std::fs::read_to_string(&manifest).ok().and_then(|text| {
            let value: serde_json::Value =
                serde_json::from_str(text.trim_start_matches('\u{feff}')).ok()?;
            value.get("version")?.as_str().map(str::to_owned)
        });
        if let Some(version) = version {
            entry.version = version;
        }
    }
}

/// `%XX` escapes decoded (berry locators are URL-encoded); anything malformed is kept as is.
fn percent_decode(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%'
            && let Some(byte) =
                text.get(i + 1..i + 3).and_then(|hex| u8::from_str_radix(hex, 16).ok())
        {
            out.push(byte);
            i += 3;
            continue;
        }
        out.push(bytes[i]);
        i += 1;
    }
    String::from_utf8(out).unwrap_or_else(|_| text.to_owned())
}

/// A project: the root or a workspace member.
struct Project {
    /// Folder relative to the lockfile (`.` for the root).
    path: String,
    manifest: Option<SourceFile>,
    /// Its lock entry (berry).
    entry: Option<usize>,
}

/// The edge kind of a dependency a manifest declares (berry lists all of them alike).
fn manifest_kind(manifest: &Manifest<'_>, name: &str) -> EdgeKind {
    if manifest.optional_dependencies.get(name).is_some() {
        EdgeKind::Optional
    } else if manifest.dependencies.get(name).is_some() {
        EdgeKind::Normal
    } else if manifest.dev_dependencies.get(name).is_some() {
        EdgeKind::Dev
    } else {
        EdgeKind::Normal
    }
}

/// One resolved package, from either lockfile syntax.
struct Entry {
    /// 1-based line of its key, when known (classic); berry finds it when needed.
    line: Option<usize>,
    /// The key as written.
    key: String,
    descriptors: Vec<String>,
    /// The real package name (not an alias).
    name: String,
    version: String,
    /// Berry workspace folder (`workspace:<path>`).
    workspace: Option<String>,
    source: Option<String>,
    hashes: Vec<Hash>,
    checksum: Option<String>,
    deps: Vec<Dep>,
}

struct Dep {
    name: String,
    range: String,
    kind: EdgeKind,
    line: Option<usize>,
}

impl Entry {
    fn component(&self) -> Component {
        let kind = if self.workspace.is_some() {
            ComponentKind::Application
        } else {
            ComponentKind::Library
        };
        let mut c = npm_component(&self.name, &self.version, kind);
        c.hashes = self.hashes.clone();
        c.source = self.source.clone();
        if let Some(checksum) = &self.checksum {
            c.properties.insert(CHECKSUM_PROPERTY.to_owned(), checksum.clone());
        }
        c
    }
}

/// The entries and the descriptor index.
struct Lock<'s> {
    source: &'s SourceFile,
    entries: Vec<Entry>,
    by_descriptor: HashMap<String, usize>,
    /// Berry `portal:` / `link:` descriptors without their `::locator=…` (the workspace they
    /// are relative to), when only one entry has that descriptor; `None` when several do.
    by_unlocated: HashMap<String, Option<usize>>,
    /// The root manifest's `resolutions` (berry), as `(package name, range)`.
    resolutions: Vec<(String, String)>,
}

impl<'s> Lock<'s> {
    fn new(
        source: &'s SourceFile,
        entries: Vec<Entry>,
        resolutions: Vec<(String, String)>,
    ) -> Lock<'s> {
        let mut by_descriptor = HashMap::with_capacity(entries.len() * 2);
        let mut by_unlocated: HashMap<String, Option<usize>> = HashMap::new();
        for (i, entry) in entries.iter().enumerate() {
            for d in &entry.descriptors {
                by_descriptor.insert(d.clone(), i);
                if let Some((unlocated, _)) = d.split_once("::locator=") {
                    by_unlocated
                        .entry(unlocated.to_owned())
                        .and_modify(|e| *e = e.filter(|&j| j == i))
                        .or_insert(Some(i));
                }
            }
        }
        Lock { source, entries, by_descriptor, by_unlocated, resolutions }
    }

    /// The entry a dependency `name range` resolves to: its descriptor; for berry, the same
    /// descriptor with its workspace locator (`portal:`, `link:`), or the descriptor the root
    /// manifest's `resolutions` put in its place (yarn locks the override, not the range
    /// asked for: `@types/node@npm:*` becomes `@types/node@npm:20.17.6`).
    fn resolve(&self, name: &str, range: &str) -> Option<usize> {
        if let Some(found) = self.resolve_exact(name, range) {
            return Some(found);
        }
        if let Some(found) = self.by_unlocated.get(&format!("{name}@{range}")) {
            return *found;
        }
        let (_, replacement) = self.resolutions.iter().find(|(n, _)| n == name)?;
        self.resolve_exact(name, replacement)
    }

    fn resolve_exact(&self, name: &str, range: &str) -> Option<usize> {
        let mut descriptor = String::with_capacity(name.len() + range.len() + 5);
        descriptor.push_str(name);
        descriptor.push('@');
        descriptor.push_str(range);
        if let Some(&i) = self.by_descriptor.get(&descriptor) {
            return Some(i);
        }
        if !range.contains(':') {
            descriptor.truncate(name.len() + 1);
            descriptor.push_str("npm:");
            descriptor.push_str(range);
            return self.by_descriptor.get(&descriptor).copied();
        }
        None
    }

    fn line_of(&self, entry: &Entry) -> Option<usize> {
        entry.line.or_else(|| yaml_key_line(self.source, None, &entry.key))
    }

    fn dangling(&self, entry: &Entry, dep: &Dep) -> SbomError {
        SbomError::malformed(
            place(self.source, dep.line.or_else(|| self.line_of(entry))),
            format!(
                "{}: dependency `{}@{}` has no entry in the lockfile",
                pointer(&[&entry.key]),
                dep.name,
                dep.range
            ),
        )
    }

    /// Every dependency a manifest declares must be in the lockfile: (classic) its descriptor
    /// has an entry or it names a workspace; (berry) the workspace's entry lists it.
    fn check_sync(
        &self,
        manifest_source: &SourceFile,
        manifest: &Manifest<'_>,
        entry: Option<&Entry>,
        workspaces: &HashMap<String, usize>,
    ) -> Result<(), SbomError> {
        for (section, name, range) in manifest.declared() {
            let present = match entry {
                Some(entry) => entry.deps.iter().any(|d| d.name == name),
                None if self.is_berry() => false,
                None => self.resolve(name, range).is_some() || workspaces.contains_key(name),
            };
            if !present {
                drift::report(out_of_sync(
                    manifest_source,
                    section,
                    name,
                    format!(
                        "dependency `{name}` ({} {range}) is missing from yarn.lock",
                        section.key()
                    ),
                ))?;
            }
        }
        Ok(())
    }

    fn is_berry(&self) -> bool {
        self.entries.iter().any(|e| e.workspace.is_some())
    }
}

// ---------------------------------------------------------------------------------------------
// Classic.

fn classic_entries(source: &SourceFile) -> Result<Vec<Entry>, SbomError> {
    for line in source.text.lines().take(5) {
        if let Some(v) = line.strip_prefix("# yarn lockfile v")
            && v.trim() != "1"
        {
            return Err(SbomError::UnsupportedVersion {
                place: source.at_line(1),
                what: "yarn.lock (classic)",
                version: v.trim().to_owned(),
                supported: "v1",
            });
        }
    }
    let nodes = yarn_v1::parse(&source.text)
        .map_err(|(line, message)| SbomError::malformed(source.at_line(line), message))?;
    let mut entries = Vec::with_capacity(nodes.len());
    for node in nodes {
        let at = |line: usize| source.at_line(line);
        let Value::Block(body) = node.value else {
            return Err(SbomError::malformed(
                at(node.line),
                format!("`{}` is not a package entry", node.key()),
            ));
        };
        let key = node.keys.join(", ");
        let first = node.keys.first().map(String::as_str).unwrap_or_default();
        let Some((alias, range)) = split_descriptor(first) else {
            return Err(SbomError::malformed(
                at(node.line),
                format!("`{first}` is not a `name@range` descriptor"),
            ));
        };
        let name = range
            .strip_prefix("npm:")
            .and_then(|target| split_descriptor(target).map(|(n, _)| n).or(Some(target)))
            .filter(|n| !n.is_empty())
            .unwrap_or(alias)
            .to_owned();
        let mut version = None;
        let mut resolved = None;
        let mut integrity = None;
        let mut deps = Vec::new();
        for field in &body {
            match (field.key(), &field.value) {
                ("version", Value::Scalar(v)) => version = Some(v.clone()),
                ("resolved", Value::Scalar(v)) => resolved = Some(v.clone()),
                ("integrity", Value::Scalar(v)) => integrity = Some((v.clone(), field.line)),
                ("dependencies" | "optionalDependencies", Value::Block(list)) => {
                    let kind = if field.key() == "dependencies" {
                        EdgeKind::Normal
                    } else {
                        EdgeKind::Optional
                    };
                    for dep in list {
                        let Value::Scalar(range) = &dep.value else {
                            return Err(SbomError::malformed(
                                at(dep.line),
                                format!("dependency `{}` has no range", dep.key()),
                            ));
                        };
                        deps.push(Dep {
                            name: dep.key().to_owned(),
                            range: range.clone(),
                            kind,
                            line: Some(dep.line),
                        });
                    }
                }
                _ => {}
            }
        }
        let Some(version) = version else {
            return Err(SbomError::malformed(at(node.line), format!("`{key}` has no version")));
        };
        let mut hashes = Vec::new();
        if let Some((integrity, line)) = integrity {
            hashes = integrity_to_hash(&integrity).ok_or_else(|| {
                SbomError::malformed(at(line), "integrity: not a Subresource Integrity string")
            })?;
        }
        let source_url = resolved.map(|url| match url.rsplit_once('#') {
            Some((base, sha1))
                if url.starts_with("http")
                    && sha1.len() == 40
                    && sha1.bytes().all(|b| b.is_ascii_hexdigit()) =>
            {
                if hashes.is_empty() {
                    hashes.push(Hash {
                        algorithm: HashAlgorithm::Sha1,
                        hex: sha1.to_ascii_lowercase(),
                    });
                }
                base.to_owned()
            }
            _ => url,
        });
        entries.push(Entry {
            line: Some(node.line),
            key,
            descriptors: node.keys,
            name,
            version,
            workspace: None,
            source: source_url,
            hashes,
            checksum: None,
            deps,
        });
    }
    Ok(entries)
}

/// Folders matching `workspaces` globs (relative to the lockfile's folder, `/`-separated,
/// sorted), `!`-patterns excluded; only folders holding a `package.json`.
fn expand_workspaces(dir: &Path, globs: &[String]) -> Vec<String> {
    let mut include = Vec::new();
    let mut exclude = globset::GlobSetBuilder::new();
    for glob in globs {
        let glob = glob.trim_start_matches("./").trim_end_matches('/');
        if let Some(negated) = glob.strip_prefix('!') {
            if let Ok(g) = globset::Glob::new(negated.trim_start_matches("./")) {
                exclude.add(g);
            }
        } else {
            include.push(glob.to_owned());
        }
    }
    let exclude = exclude.build().unwrap_or_else(|_| globset::GlobSet::empty());
    let mut found = Vec::new();
    for pattern in &include {
        let segments: Vec<&str> = pattern.split('/').filter(|s| !s.is_empty()).collect();
        expand(dir, "", &segments, &mut found);
    }
    found.retain(|p| !exclude.is_match(p) && dir.join(p).join("package.json").is_file());
    found.sort();
    found.dedup();
    found
}

fn expand(dir: &Path, prefix: &str, segments: &[&str], out: &mut Vec<String>) {
    let Some((first, rest)) = segments.split_first() else {
        if !prefix.is_empty() {
            out.push(prefix.to_owned());
        }
        return;
    };
    let join =
        |name: &str| if prefix.is_empty() { name.to_owned() } else { format!("{prefix}/{name}") };
    if !first.contains(['*', '?', '[', '{']) {
        if *first == ".." || *first == "." {
            return; // outside the tree, or pointless
        }
        expand(dir, &join(first), rest, out);
        return;
    }
    let Ok(read) = std::fs::read_dir(dir.join(if prefix.is_empty() { "." } else { prefix })) else {
        return;
    };
    let matcher = globset::Glob::new(first).ok().map(|g| g.compile_matcher());
    let mut subdirs: Vec<String> = read
        .filter_map(Result::ok)
        .filter(|e| e.file_type().is_ok_and(|t| t.is_dir()))
        .filter_map(|e| e.file_name().to_str().map(str::to_owned))
        .filter(|n| n != "node_modules" && !n.starts_with('.'))
        .collect();
    subdirs.sort();
    for name in subdirs {
        let path = join(&name);
        if *first == "**" {
            expand(dir, &path, segments, out); // deeper, still under `**`
            expand(dir, &path, rest, out);
        } else if matcher.as_ref().is_some_and(|m| m.is_match(&name)) {
            expand(dir, &path, rest, out);
        }
    }
    if *first == "**" {
        expand(dir, prefix, rest, out);
    }
}

// ---------------------------------------------------------------------------------------------
// Berry.

/// `__metadata.version` values Tollgate reads.
const BERRY_VERSIONS: std::ops::RangeInclusive<u64> = 4..=10;

fn berry_entries(source: &SourceFile) -> Result<Vec<Entry>, SbomError> {
    crate::catalog::yaml::check(&source.path, &source.text)?;
    let doc: BerryLock =
        serde_yaml_ng::from_str(&source.text).map_err(|e| SbomError::yaml(&source.path, &e))?;
    let version_line = || place(source, yaml_key_line(source, Some("__metadata"), "version"));
    let version = doc
        .metadata
        .map(|m| m.version.0)
        .ok_or_else(|| SbomError::malformed(version_line(), "/__metadata/version: missing"))?;
    if !version.parse::<u64>().is_ok_and(|v| BERRY_VERSIONS.contains(&v)) {
        return Err(SbomError::UnsupportedVersion {
            place: version_line(),
            what: "yarn.lock (berry) __metadata.version",
            version,
            supported: "4 to 10",
        });
    }
    let mut entries = Vec::with_capacity(doc.entries.len());
    for (key, raw) in doc.entries {
        let at = || place(source, yaml_key_line(source, None, &key));
        let resolution = raw.resolution.as_deref().unwrap_or_default();
        let Some((name, reference)) = split_descriptor(resolution) else {
            return Err(SbomError::malformed(
                at(),
                format!("{}: missing or unreadable \"resolution\"", pointer(&[&key])),
            ));
        };
        let Some(version) = raw.version.map(|v| v.0) else {
            return Err(SbomError::malformed(
                at(),
                format!("{}: missing \"version\"", pointer(&[&key])),
            ));
        };
        let (protocol, rest) = reference.split_once(':').unwrap_or(("", reference));
        let workspace = (protocol == "workspace").then(|| join_relative(".", rest));
        let source_ref = match protocol {
            "npm" | "workspace" | "patch" => None,
            _ => Some(reference.to_owned()),
        };
        let mut hashes = Vec::new();
        let mut checksum = None;
        if let Some(sum) = raw.checksum.filter(|_| protocol != "patch") {
            if sum.len() == 128 && sum.bytes().all(|b| b.is_ascii_hexdigit()) {
                hashes
                    .push(Hash { algorithm: HashAlgorithm::Sha512, hex: sum.to_ascii_lowercase() });
            } else {
                checksum = Some(sum);
            }
        }
        let deps = raw
            .dependencies
            .into_iter()
            .map(|(dep, range)| {
                let optional = raw.dependencies_meta.iter().any(|(k, meta)| {
                    meta.optional
                        && (*k == dep || split_descriptor(k).is_some_and(|(n, _)| n == dep))
                });
                Dep {
                    name: dep,
                    range,
                    kind: if optional { EdgeKind::Optional } else { EdgeKind::Normal },
                    line: None,
                }
            })
            .collect();
        let descriptors = key.split(", ").map(|d| d.trim().to_owned()).collect();
        entries.push(Entry {
            line: None,
            name: name.to_owned(),
            version,
            workspace,
            source: source_ref,
            hashes,
            checksum,
            deps,
            descriptors,
            key,
        });
    }
    Ok(entries)
}

/// A berry lockfile: `__metadata` and the entries.
struct BerryLock {
    metadata: Option<Metadata>,
    entries: Vec<(String, BerryEntry)>,
}

impl<'de> Deserialize<'de> for BerryLock {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = BerryLock;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a map of descriptors to package entries")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<BerryLock, A::Error> {
                let mut lock = BerryLock { metadata: None, entries: Vec::new() };
                while let Some(key) = map.next_key::<String>()? {
                    if key == "__metadata" {
                        lock.metadata = Some(map.next_value()?);
                        continue;
                    }
                    let entry = map.next_value::<BerryEntry>()?;
                    lock.entries.push((key, entry));
                }
                Ok(lock)
            }
        }
        deserializer.deserialize_map(V)
    }
}

#[derive(Deserialize)]
struct Metadata {
    version: Scalar,
}

#[derive(Deserialize, Default)]
#[serde(rename_all = "camelCase")]
struct BerryEntry {
    #[serde(default)]
    version: Option<Scalar>,
    #[serde(default)]
    resolution: Option<String>,
    #[serde(default)]
    dependencies: BTreeMap<String, String>,
    #[serde(default)]
    dependencies_meta: BTreeMap<String, DependencyMeta>,
    #[serde(default)]
    checksum: Option<String>,
}

#[derive(Deserialize, Default)]
struct DependencyMeta {
    #[serde(default)]
    optional: bool,
}

/// A YAML scalar of any type, as text (`version: 2` or `version: 1.0.0`).
struct Scalar(String);

impl<'de> Deserialize<'de> for Scalar {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct V;
        impl Visitor<'_> for V {
            type Value = Scalar;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a scalar")
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Scalar, E> {
                Ok(Scalar(v.to_owned()))
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<Scalar, E> {
                Ok(Scalar(v.to_string()))
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<Scalar, E> {
                Ok(Scalar(v.to_string()))
            }
            fn visit_f64<E: de::Error>(self, v: f64) -> Result<Scalar, E> {
                Ok(Scalar(v.to_string()))
            }
        }
        deserializer.deserialize_any(V)
    }
}

#[cfg(test)]
mod tests {
    //! Fixtures, both the same npm-style workspace (root + `packages/app`, a scoped package, a
    //! dev dependency, an optional dependency, an alias `ms-old` → `ms@2.0.0`, a peer dependency
    //! and two versions each of `ms` and `is-number`): `npm-yarn-classic` written by yarn
    //! 1.22.22 (`yarn install --mode update-lockfile`), `npm-yarn-berry` by yarn 4.18.1
    //! (`yarn install --mode=update-lockfile`, lockfile `__metadata.version` 10).

    use super::*;
    use crate::Scope;
    use crate::catalog::npm::test_support::*;
    use std::path::PathBuf;

    const CLASSIC: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/npm-yarn-classic");
    const BERRY: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/npm-yarn-berry");

    const ONCE: &str = "pkg:npm/%40tootallnate/once@2.0.1";
    fn run(dir: &str) -> Inventory {
        let root = PathBuf::from(dir);
        catalog(&root, &root.join("yarn.lock")).unwrap()
    }

    fn assert_common_shape(inv: &Inventory) {
        assert_eq!(inv.components.keys().map(String::as_str).collect::<Vec<_>>(), PURLS);
        assert_eq!(inv.roots.iter().map(String::as_str).collect::<Vec<_>>(), [APP, ROOT]);
        assert_eq!(
            deps(inv, ROOT),
            [
                APP,
                ONCE,
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
        // yarn does not record resolved peers.
        assert!(deps(inv, "pkg:npm/ts-api-utils@1.3.0").is_empty());
        for required in [ONCE, "pkg:npm/debug@2.6.9", "pkg:npm/ms@2.0.0", "pkg:npm/is-number@6.0.0"]
        {
            assert_eq!(scope(inv, required), Scope::Required, "{required}");
        }
        for dev in ["pkg:npm/is-number@7.0.0", "pkg:npm/typescript@5.4.5"] {
            assert_eq!(scope(inv, dev), Scope::Excluded, "{dev}");
            assert!(is_dev(inv, dev), "{dev}");
        }
        assert_eq!(scope(inv, "pkg:npm/ms@2.1.3"), Scope::Optional);
        assert!(!is_dev(inv, "pkg:npm/ms@2.1.3"));
        let app = inv.get(APP).unwrap();
        assert_eq!(app.kind, ComponentKind::Application);
        assert_eq!(app.license.as_deref(), Some("Apache-2.0"));
        assert_eq!(inv.get(ROOT).unwrap().license.as_deref(), Some("MIT"));
        assert_eq!(
            inv.inputs.keys().map(String::as_str).collect::<Vec<_>>(),
            ["package.json", "packages/app/package.json", "yarn.lock"]
        );
        assert_eq!(inv.get(ONCE).unwrap().found_in.iter().collect::<Vec<_>>(), ["yarn.lock"]);
    }

    #[test]
    fn classic_workspace_components_edges_and_scopes() {
        let inv = run(CLASSIC);
        assert_common_shape(&inv);
        let once = inv.get(ONCE).unwrap();
        assert_eq!(once.namespace.as_deref(), Some("tootallnate"));
        assert_eq!(
            once.source.as_deref(),
            Some("https://registry.yarnpkg.com/@tootallnate/once/-/once-2.0.1.tgz")
        );
        assert_eq!(once.hashes.len(), 1);
        assert_eq!(once.hashes[0].algorithm, HashAlgorithm::Sha512);
        assert_eq!(
            once.hashes[0].hex,
            "1ea9845081912797d25dc86456047917baa7e3c6c3073bf49168ff29fbb97bab\
             9c8b852511e9e0e37df52e706459f7dbfbe122dc53952f1a3c24958c1410cc79"
        );
    }

    #[test]
    fn berry_workspace_components_edges_and_checksums() {
        let inv = run(BERRY);
        assert_common_shape(&inv);
        let once = inv.get(ONCE).unwrap();
        assert!(once.hashes.is_empty());
        assert_eq!(
            once.properties.get("yarn:checksum").map(String::as_str),
            Some(
                "10c0/23b01a341485be711c602077936d70f8e695405bb88ab4433dc6d1e6cb455640\
                 1518789574d399eded790b70b27738136c9a8f02df7ae4219f4ba28bb22d586b"
            )
        );
        // The builtin compat patch of typescript is the same component; its checksum (of the
        // patched archive) is not the package's.
        assert_eq!(
            inv.get("pkg:npm/typescript@5.4.5").unwrap().properties["yarn:checksum"],
            "10c0/2954022ada340fd3d6a9e2b8e534f65d57c92d5f3989a263754a78aba549f7e6\
             529acc1921913560a4b816c46dce7df4a4d29f9f11a3dc0d4213bb76d043251e"
        );
        assert!(once.source.is_none());
    }

    #[test]
    fn classic_and_berry_agree() {
        let classic = run(CLASSIC);
        let berry = run(BERRY);
        assert_eq!(classic.dependencies, berry.dependencies);
        let scopes = |inv: &Inventory| {
            inv.components.values().map(|c| (c.purl.clone(), c.scope)).collect::<Vec<_>>()
        };
        assert_eq!(scopes(&classic), scopes(&berry));
    }

    fn scratch(files: &[(&str, &str)]) -> (tempfile::TempDir, Result<Inventory, SbomError>) {
        let dir = tempfile::tempdir().unwrap();
        for (name, text) in files {
            let path = dir.path().join(name);
            std::fs::create_dir_all(path.parent().unwrap()).unwrap();
            std::fs::write(path, text).unwrap();
        }
        let path = dir.path().join("yarn.lock");
        let result = catalog(dir.path(), &path);
        (dir, result)
    }

    fn fixture(dir: &str, name: &str) -> String {
        std::fs::read_to_string(format!("{dir}/{name}")).unwrap()
    }

    #[test]
    fn classic_without_manifest_roots_at_unrequired_entries() {
        let (dir, result) = scratch(&[("yarn.lock", &fixture(CLASSIC, "yarn.lock"))]);
        let inv = result.unwrap();
        // The lock alone: no projects but the folder; the alias and `ms@2.0.0` are one component.
        assert_eq!(inv.components.len(), 10);
        let root = inv.roots.iter().next().unwrap();
        let name = dir.path().file_name().unwrap().to_str().unwrap().to_ascii_lowercase();
        assert_eq!(*root, format!("pkg:npm/{name}"));
        assert_eq!(deps(&inv, root).len(), 8);
        assert!(inv.components.values().all(|c| c.scope == Scope::Required));
    }

    #[test]
    fn classic_truncated_lockfile_names_file_and_line() {
        let text = fixture(CLASSIC, "yarn.lock");
        let cut = &text[..text.find("\"ms-old@npm:ms@2.0.0\"").unwrap() + 8];
        let (_dir, result) = scratch(&[("yarn.lock", cut)]);
        let err = result.unwrap_err();
        let SbomError::Malformed { place, message } = &err else { panic!("{err}") };
        assert!(place.path.ends_with("yarn.lock"));
        assert_eq!(place.line, Some(cut.lines().count()));
        assert_eq!(message, "unterminated string");

        // Cut at a line end: the entry has no version.
        let cut = &text[..text.find("  version \"6.0.0\"").unwrap()];
        let (_dir, result) = scratch(&[("yarn.lock", cut)]);
        let err = result.unwrap_err();
        assert!(
            matches!(&err, SbomError::Malformed { place, .. } if place.line == Some(cut.lines().count())),
            "{err}"
        );
        assert!(err.to_string().contains("`is-number@^6.0.0` has no version"), "{err}");
    }

    #[test]
    fn dangling_descriptor_is_malformed_at_its_line() {
        let lock = fixture(CLASSIC, "yarn.lock").replace("    ms \"2.0.0\"", "    ms \"2.0.1\"");
        let (_dir, result) = scratch(&[("yarn.lock", &lock)]);
        let err = result.unwrap_err();
        let line = lock.lines().position(|l| l == "    ms \"2.0.1\"").unwrap() + 1;
        assert!(
            matches!(&err, SbomError::Malformed { place, .. } if place.line == Some(line)),
            "{err}"
        );
        assert!(err.to_string().contains("`ms@2.0.1` has no entry"), "{err}");
    }

    #[test]
    fn berry_truncated_and_unsupported() {
        let text = fixture(BERRY, "yarn.lock");
        let cut = &text[..text.find("\"is-odd@npm:^3.0.1\":").unwrap() + 5];
        let (_dir, result) = scratch(&[("yarn.lock", cut)]);
        let err = result.unwrap_err();
        let SbomError::Malformed { place, .. } = &err else { panic!("{err}") };
        assert!(place.line.is_some_and(|l| l >= cut.lines().count() - 1), "{err}");

        let old = text.replace("  version: 10\n", "  version: 99\n");
        let (_dir, result) = scratch(&[("yarn.lock", &old)]);
        match result.unwrap_err() {
            SbomError::UnsupportedVersion { place, version, .. } => {
                assert_eq!(version, "99");
                assert_eq!(place.line, Some(5));
            }
            other => panic!("{other}"),
        }
        let (_dir, result) =
            scratch(&[("yarn.lock", "# yarn lockfile v2\n\na@1:\n  version \"1\"\n")]);
        assert!(matches!(result.unwrap_err(), SbomError::UnsupportedVersion { .. }));
    }

    #[test]
    fn manifest_dependency_missing_from_lock_is_out_of_sync() {
        for dir in [CLASSIC, BERRY] {
            let manifest = fixture(dir, "package.json").replace(
                "\"is-number\": \"^7.0.0\",",
                "\"is-number\": \"^7.0.0\",\n    \"left-pad\": \"^1.3.0\",",
            );
            let (_dir, result) = scratch(&[
                ("yarn.lock", &fixture(dir, "yarn.lock")),
                ("package.json", &manifest),
                ("packages/app/package.json", &fixture(dir, "packages/app/package.json")),
            ]);
            match result.unwrap_err() {
                SbomError::OutOfSync { place, manifest, message } => {
                    assert!(manifest.ends_with("package.json"));
                    assert_eq!(place.line, Some(15), "{dir}");
                    assert!(message.contains("`left-pad`"), "{message}");
                }
                other => panic!("{other}"),
            }
        }
        // classic: a range with no descriptor in the lock is missing too.
        let manifest = fixture(CLASSIC, "package.json")
            .replace("\"debug\": \"2.6.9\"", "\"debug\": \"^2.6.9\"");
        let (_dir, result) =
            scratch(&[("yarn.lock", &fixture(CLASSIC, "yarn.lock")), ("package.json", &manifest)]);
        assert!(
            result.unwrap_err().to_string().contains("`debug` (dependencies ^2.6.9) is missing")
        );
    }

    #[test]
    fn workspace_globs_expand_to_folders_with_manifests() {
        let dir = tempfile::tempdir().unwrap();
        for p in
            ["packages/a", "packages/b", "packages/nope", "tools/deep/c", "packages/node_modules/x"]
        {
            std::fs::create_dir_all(dir.path().join(p)).unwrap();
            if p != "packages/nope" {
                std::fs::write(dir.path().join(p).join("package.json"), "{}").unwrap();
            }
        }
        let globs = ["packages/*", "tools/**", "!packages/b"].map(str::to_owned);
        assert_eq!(expand_workspaces(dir.path(), &globs), ["packages/a", "tools/deep/c"]);
    }

    /// Made by yarn 4.5.3 (`yarn install`): root `resolutions` override `is-number` (asked
    /// for as `^6.0.0` and `^7.0.0`) and `@types/node` (asked for as `*` and `^20`); a
    /// `link:` and a `portal:` dependency, whose keys carry `::locator=…`.
    #[test]
    fn berry_resolutions_links_and_portals() {
        let inv =
            run(concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/npm-yarn-berry-features"));
        let root = "pkg:npm/berry-features@1.0.0";
        assert_eq!(
            deps(&inv, root),
            [
                "pkg:npm/%40fixture/app@0.0.0",
                "pkg:npm/%40types/node@20.17.6",
                "pkg:npm/is-odd@3.0.1",
                "pkg:npm/linked@1.2.3",
                "pkg:npm/portaled@2.0.0",
            ]
        );
        assert_eq!(
            deps(&inv, "pkg:npm/%40fixture/app@0.0.0"),
            ["pkg:npm/%40types/node@20.17.6", "pkg:npm/is-number@6.0.0"]
        );
        assert_eq!(deps(&inv, "pkg:npm/is-odd@3.0.1"), ["pkg:npm/is-number@6.0.0"]);
        assert_eq!(deps(&inv, "pkg:npm/portaled@2.0.0"), ["pkg:npm/ms@2.1.3"]);
        let linked = inv.get("pkg:npm/linked@1.2.3").unwrap();
        assert_eq!(
            linked.source.as_deref(),
            Some("link:./vendor/linked::locator=berry-features%40workspace%3A.")
        );
        assert!(
            inv.components.keys().all(|k| !k.contains("use.local")),
            "{:?}",
            inv.components.keys()
        );
    }

    #[test]
    fn resolutions_keys_name_the_package_they_override() {
        let text = r#"{"resolutions": {"a": "1.0.0", "p/b": "npm:2.0.0", "**/@s/c": "3", "@s/d@^1": "4", "p/@s/e": "5", "a": "1.1.0"}}"#;
        let manifest: Manifest<'_> = serde_json::from_str(text).unwrap();
        assert_eq!(
            overrides(&manifest),
            [
                ("p/b".replace("p/", ""), "npm:2.0.0".to_owned()),
                ("@s/c".to_owned(), "3".to_owned()),
                ("@s/d".to_owned(), "4".to_owned()),
                ("@s/e".to_owned(), "5".to_owned()),
                ("a".to_owned(), "1.1.0".to_owned()),
            ]
        );
        assert_eq!(percent_decode("a%40workspace%3A.%zz"), "a@workspace:.%zz");
    }
}
