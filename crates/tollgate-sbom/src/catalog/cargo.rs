//! Cargo workspaces: the resolved graph from `Cargo.lock`, facts from the manifests.
//!
//! `Cargo.lock` is resolved for every feature and every platform, so its graph is the one
//! `cargo metadata --all-features` reports. Manifests add what the lockfile lacks: licences,
//! authors, repositories, and whether each edge is a normal, build or dev dependency. Workspace
//! members and path dependencies are read from the tree; registry crates from Cargo's own
//! unpacked sources (`$CARGO_HOME/registry/src`). A crate whose sources are not unpacked there
//! is still listed, with what the lockfile says, and a warning is logged.

mod manifest;

use crate::catalog::source::SourceFile;
use crate::catalog::{drift, purl};
use crate::error::Place;
use crate::{
    Component, ComponentKind, DependencyKind, Ecosystem, Hash, HashAlgorithm, Inventory, SbomError,
    Scope,
};
use manifest::Manifest;
use std::collections::{BTreeSet, HashMap};
use std::path::{Path, PathBuf};
use std::sync::Mutex;

/// Catalogues the Cargo workspace whose lockfile is `lockfile` (its `Cargo.toml` sits beside it).
pub fn catalog(
    root: &Path,
    lockfile: &Path,
    cargo_home: Option<&Path>,
) -> Result<Inventory, SbomError> {
    let lock_source = SourceFile::read(root, lockfile)?;
    let lock = parse_lockfile(&lock_source)?;
    let workspace_dir = lockfile.parent().unwrap_or(Path::new("."));
    let mut inventory = Inventory::default();
    inventory.inputs.insert(lock_source.relative.clone(), lock_source.digest.clone());

    let local = LocalManifests::discover(root, workspace_dir)?;
    let registry = RegistrySources::new(cargo_home);
    if let Some((relative, digest)) = local.inputs.get(&workspace_dir.join("Cargo.toml")) {
        inventory.inputs.insert(relative.clone(), digest.clone());
    }

    // One node per lockfile package; `ids` maps the lockfile's identity to our index.
    let mut nodes: Vec<Node> = Vec::with_capacity(lock.packages.len());
    let mut ids: HashMap<(String, String, Option<String>), usize> = HashMap::new();
    for package in &lock.packages {
        let name = package.name.as_str().to_owned();
        let version = package.version.to_string();
        let source = package.source.as_ref().map(|s| s.to_string());
        let manifest = match &package.source {
            None => match local.find(&name, &version, &lock_source) {
                Ok(manifest) => {
                    if let Some((relative, digest)) =
                        manifest.local.as_ref().and_then(|p| local.inputs.get(p))
                    {
                        inventory.inputs.insert(relative.clone(), digest.clone());
                    }
                    Some(manifest)
                }
                // A path package no manifest declares: listed as locked, without its facts.
                Err(e) => {
                    drift::report(e)?;
                    None
                }
            },
            Some(s) if s.is_registry() || s.is_remote_registry() => {
                registry.manifest(&name, &version)
            }
            Some(_) => None,
        };
        ids.insert((name.clone(), version.clone(), source.clone()), nodes.len());
        nodes.push(Node { package, manifest, source });
    }

    // Edges with their kinds, taken from the requiring package's manifest.
    let mut edges: Vec<Vec<(usize, BTreeSet<DependencyKind>)>> = vec![Vec::new(); nodes.len()];
    for (from, node) in nodes.iter().enumerate() {
        for dep in &node.package.dependencies {
            let key = (
                dep.name.as_str().to_owned(),
                dep.version.to_string(),
                dep.source.as_ref().map(|s| s.to_string()),
            );
            let to = *ids.get(&key).ok_or_else(|| {
                SbomError::malformed(
                    lock_source.at_line(find_package_line(
                        &lock_source.text,
                        node.package.name.as_str(),
                        &node.package.version.to_string(),
                    )),
                    format!(
                        "{} {} depends on {} {}, which the lockfile does not list",
                        node.package.name, node.package.version, dep.name, dep.version
                    ),
                )
            })?;
            let kinds = node
                .manifest
                .as_ref()
                .map(|m| m.kinds_of(dep.name.as_str()))
                .filter(|k| !k.is_empty())
                .unwrap_or_else(|| BTreeSet::from([DependencyKind::Normal]));
            edges[from].push((to, kinds));
        }
        if let Some(manifest) = node.manifest.as_ref().filter(|m| m.local.is_some()) {
            check_in_sync(manifest, node, &nodes, &edges[from])?;
        }
    }

    check_members_locked(&local, &nodes)?;

    let members: Vec<usize> = (0..nodes.len())
        .filter(|&i| nodes[i].manifest.as_ref().is_some_and(|m| m.is_member))
        .collect();
    let reach = reachability(&members, &edges, nodes.len());

    let refs: Vec<String> = nodes.iter().map(|n| package_purl(n)).collect();
    for (i, node) in nodes.iter().enumerate() {
        let mut component = to_component(node, &refs[i], reach[i]);
        component.found_in.insert(lock_source.relative.clone());
        inventory.add(component);
    }
    for (from, out) in edges.iter().enumerate() {
        for (to, _) in out {
            inventory.depend(&refs[from], &refs[*to]);
        }
    }
    if registry.missing.get() > 0 {
        tracing::warn!(
            missing = registry.missing.get(),
            "crate sources not unpacked in the Cargo registry; licences and authors omitted for them (run `cargo fetch`)"
        );
    }
    inventory.normalize();
    Ok(inventory)
}

/// One lockfile package and its manifest, when we have it.
struct Node<'a> {
    package: &'a cargo_lock::Package,
    manifest: Option<Manifest>,
    source: Option<String>,
}

fn parse_lockfile(source: &SourceFile) -> Result<cargo_lock::Lockfile, SbomError> {
    check_checksums_are_ascii(source)?;
    // A good lockfile takes one parse (cargo-lock accepts versions 1 to 4 only, as we do).
    if let Ok(lock) = source.text.parse::<cargo_lock::Lockfile>() {
        return Ok(lock);
    }
    // A bad one is parsed again for the most useful error. Syntax first, with toml's spans, so
    // a truncated file names its line.
    let table: toml::Table = toml::from_str(&source.text)
        .map_err(|e| SbomError::toml(&source.path, &source.text, &e))?;
    if let Some(version) = table.get("version") {
        let supported = matches!(version.as_integer(), Some(1..=4));
        if !supported {
            let line = source
                .text
                .lines()
                .position(|l| l.trim_start().starts_with("version"))
                .unwrap_or(0)
                + 1;
            return Err(SbomError::UnsupportedVersion {
                place: source.at_line(line),
                what: "Cargo.lock",
                version: version.to_string(),
                supported: "1, 2, 3, 4",
            });
        }
    }
    source
        .text
        .parse::<cargo_lock::Lockfile>()
        .map_err(|e| SbomError::malformed(Place::file(&source.path), e.to_string()))
}

/// cargo-lock slices a 64-character checksum as bytes and panics on a multi-byte character
/// (found by the `lockfile` fuzz target): such a checksum is refused here first. Text that is
/// ASCII without escapes cannot hold one, so only other files take the extra TOML parse.
fn check_checksums_are_ascii(source: &SourceFile) -> Result<(), SbomError> {
    if source.text.is_ascii() && !source.text.contains('\\') {
        return Ok(());
    }
    let Ok(table) = toml::from_str::<toml::Table>(&source.text) else {
        return Ok(()); // a syntax error, reported with its place by the caller
    };
    let packages = table.get("package").and_then(toml::Value::as_array);
    let checksums = packages.into_iter().flatten().filter_map(|p| p.get("checksum")).chain(
        table.get("metadata").and_then(toml::Value::as_table).into_iter().flat_map(|m| m.values()),
    );
    for checksum in checksums {
        if let Some(text) = checksum.as_str().filter(|t| !t.is_ascii()) {
            return Err(SbomError::malformed(
                Place::file(&source.path),
                format!("checksum {text:?} is not hexadecimal"),
            ));
        }
    }
    Ok(())
}

/// 1-based line of the `[[package]]` entry for `name` `version` (1 when not found).
fn find_package_line(text: &str, name: &str, version: &str) -> usize {
    let wanted_name = format!("name = \"{name}\"");
    let wanted_version = format!("version = \"{version}\"");
    let lines: Vec<&str> = text.lines().collect();
    for (i, pair) in lines.windows(2).enumerate() {
        if pair[0].trim() == wanted_name && pair[1].trim() == wanted_version {
            return i + 1;
        }
    }
    1
}

/// A `Cargo.toml` the walk found.
struct Found {
    path: PathBuf,
    /// `None` for the workspace root's manifest (read already); else the file, or why it cannot
    /// be read.
    read: Option<Result<FoundManifest, SbomError>>,
}

/// A manifest other than the workspace root's: its name relative to the scanned root, its
/// digest, and the manifest (or why it does not parse).
struct FoundManifest {
    relative: String,
    digest: tollgate_core::Digest,
    parsed: Result<Manifest, SbomError>,
}

/// Manifests of the workspace's path packages, found by walking the workspace directory.
struct LocalManifests {
    /// `(name, version) -> manifest paths` for every package manifest in the tree.
    by_identity: HashMap<(String, String), Vec<PathBuf>>,
    /// `name -> versions` seen, for telling "wrong version" from "missing".
    versions_by_name: HashMap<String, Vec<(String, PathBuf)>>,
    manifests: HashMap<PathBuf, Manifest>,
    /// Manifest path -> (name relative to the scanned root, SHA-256), for gate inputs.
    inputs: HashMap<PathBuf, (String, tollgate_core::Digest)>,
    /// Manifests of the workspace's members, which Cargo always locks: the root package and
    /// the packages `[workspace] members` names (less `exclude`), in path order.
    members: Vec<PathBuf>,
}

impl LocalManifests {
    fn discover(root: &Path, workspace_dir: &Path) -> Result<LocalManifests, SbomError> {
        let root_path = workspace_dir.join("Cargo.toml");
        let root_file = SourceFile::read(root, &root_path).map_err(|e| match e {
            SbomError::Io { path, cause } if cause.kind() == std::io::ErrorKind::NotFound => {
                SbomError::OutOfSync {
                    place: Place::file(workspace_dir.join("Cargo.lock")),
                    manifest: path,
                    message: "no Cargo.toml beside Cargo.lock".into(),
                }
            }
            other => other,
        })?;
        let root_manifest = Manifest::parse(&root_file, None)?;
        let workspace = root_manifest.workspace.clone();
        let excluded: Vec<PathBuf> = workspace
            .as_ref()
            .map(|w| w.exclude.iter().map(|e| workspace_dir.join(e)).collect())
            .unwrap_or_default();

        let member_globs = member_globs(&root_path, workspace.as_ref())?;
        let mut this = LocalManifests {
            by_identity: HashMap::new(),
            versions_by_name: HashMap::new(),
            manifests: HashMap::new(),
            inputs: HashMap::new(),
            members: Vec::new(),
        };
        this.inputs
            .insert(root_path.clone(), (root_file.relative.clone(), root_file.digest.clone()));
        // Walk, read and parse on every core: a large workspace has thousands of manifests.
        // Results are put in path order afterwards, so the outcome does not depend on threads.
        let found: Mutex<Vec<Found>> = Mutex::new(Vec::new());
        ignore::WalkBuilder::new(workspace_dir)
            .hidden(true)
            .git_ignore(true)
            .git_global(false)
            .require_git(false)
            .filter_entry(|e| e.file_name() != "target" && e.file_name() != "node_modules")
            .build_parallel()
            .run(|| {
                let (found, root_path, workspace) = (&found, &root_path, workspace.as_ref());
                Box::new(move |entry| {
                    let Ok(entry) = entry else { return ignore::WalkState::Continue };
                    if entry.file_name() != "Cargo.toml"
                        || !entry.file_type().is_some_and(|t| t.is_file())
                    {
                        return ignore::WalkState::Continue;
                    }
                    let path = entry.into_path();
                    let read = if &path == root_path {
                        None
                    } else {
                        Some(SourceFile::read(root, &path).map(|file| FoundManifest {
                            parsed: Manifest::parse(&file, workspace),
                            relative: file.relative,
                            digest: file.digest,
                        }))
                    };
                    found.lock().unwrap_or_else(|e| e.into_inner()).push(Found { path, read });
                    ignore::WalkState::Continue
                })
            });
        let mut found = found.into_inner().unwrap_or_else(|e| e.into_inner());
        found.sort_by(|a, b| a.path.cmp(&b.path));
        for Found { path, read } in found {
            let manifest = match read {
                None => root_manifest.clone(),
                Some(read) => {
                    let read = read?;
                    this.inputs.insert(path.clone(), (read.relative, read.digest));
                    match read.parsed {
                        Ok(m) => m,
                        // A broken manifest elsewhere in the tree (a fixture, say) only matters if
                        // the lockfile needs it; `find` reports it then.
                        Err(e) => {
                            tracing::debug!(error = %e, "skipping unreadable manifest");
                            continue;
                        }
                    }
                }
            };
            let Some((name, version)) =
                manifest.package.as_ref().map(|p| (p.name.clone(), p.version.clone()))
            else {
                continue;
            };
            let mut manifest = manifest;
            manifest.is_member =
                path.starts_with(workspace_dir) && !excluded.iter().any(|x| path.starts_with(x));
            manifest.local = Some(path.clone());
            let member_dir = path.parent().and_then(|d| d.strip_prefix(workspace_dir).ok());
            if path == root_path
                || (member_dir.is_some_and(|d| member_globs.is_match(d))
                    && !excluded.iter().any(|x| path.starts_with(x)))
            {
                this.members.push(path.clone());
            }
            this.versions_by_name
                .entry(name.clone())
                .or_default()
                .push((version.clone(), path.clone()));
            this.by_identity.entry((name, version)).or_default().push(path.clone());
            this.manifests.insert(path, manifest);
        }
        this.add_outside(root, workspace_dir);
        for paths in this.by_identity.values_mut() {
            // Prefer the shallowest manifest when a name and version appear twice (a fixture copy).
            paths.sort_by_key(|p| (p.components().count(), p.clone()));
        }
        Ok(this)
    }

    /// Path dependencies outside the workspace directory (a `fuzz/` workspace's
    /// `path = "../crates/x"`): Cargo locks them as path packages, so their manifests are read
    /// too — following their own path dependencies, inheriting from the workspace that encloses
    /// each. They are never members. One that cannot be read is left for [`Self::find`] to
    /// report if the lockfile needs it.
    fn add_outside(&mut self, root: &Path, workspace_dir: &Path) {
        let inside = lexical_absolute(workspace_dir);
        let mut queue: Vec<PathBuf> = Vec::new();
        let deps_of = |manifest: &Manifest| -> Vec<PathBuf> {
            let Some(dir) = manifest.local.as_deref().and_then(Path::parent) else {
                return Vec::new();
            };
            manifest.path_deps.iter().map(|p| dir.join(p).join("Cargo.toml")).collect()
        };
        let mut paths: Vec<&PathBuf> = self.manifests.keys().collect();
        paths.sort();
        for path in paths {
            queue.extend(deps_of(&self.manifests[path]));
        }
        let mut seen: BTreeSet<PathBuf> = BTreeSet::new();
        let mut workspaces: HashMap<PathBuf, Option<Enclosing>> = HashMap::new();
        while let Some(path) = queue.pop() {
            let absolute = lexical_absolute(&path);
            if absolute.starts_with(&inside) || !seen.insert(absolute.clone()) {
                continue;
            }
            let file = match SourceFile::read(root, &absolute) {
                Ok(mut file) => {
                    file.relative = lexical_relative(root, &absolute);
                    file
                }
                Err(e) => {
                    tracing::debug!(error = %e, "path dependency outside the workspace not read");
                    continue;
                }
            };
            let workspace = enclosing_workspace(&absolute, &mut workspaces).map(|(root, facts)| {
                // `{ workspace = true }` dependencies take their `path` from the enclosing
                // workspace's `[workspace.dependencies]`: follow those too.
                if let Some(dir) = root.parent() {
                    queue.extend(facts.1.iter().map(|p| dir.join(p).join("Cargo.toml")));
                }
                facts.0
            });
            let Ok(mut manifest) = Manifest::parse(&file, workspace.as_ref()) else { continue };
            let Some((name, version)) =
                manifest.package.as_ref().map(|p| (p.name.clone(), p.version.clone()))
            else {
                continue;
            };
            // Named through the scanned root (`fuzz/../crates/x/Cargo.toml`), so messages
            // about it read relative to the root like every other path.
            let shown = root.join(&file.relative);
            manifest.is_member = false;
            manifest.local = Some(shown.clone());
            queue.extend(deps_of(&manifest));
            self.inputs.insert(shown.clone(), (file.relative, file.digest));
            self.versions_by_name
                .entry(name.clone())
                .or_default()
                .push((version.clone(), shown.clone()));
            self.by_identity.entry((name, version)).or_default().push(shown.clone());
            self.manifests.insert(shown, manifest);
        }
    }

    fn find(&self, name: &str, version: &str, lock: &SourceFile) -> Result<Manifest, SbomError> {
        if let Some(path) =
            self.by_identity.get(&(name.to_owned(), version.to_owned())).and_then(|p| p.first())
        {
            return Ok(self.manifests[path].clone());
        }
        let line = find_package_line(&lock.text, name, version);
        match self.versions_by_name.get(name).and_then(|v| v.first()) {
            Some((other, path)) => Err(SbomError::OutOfSync {
                place: lock.at_line(line),
                manifest: path.clone(),
                message: format!(
                    "Cargo.lock has {name} {version}, the manifest says version {other} (run `cargo update -w`)"
                ),
            }),
            None => Err(SbomError::OutOfSync {
                place: lock.at_line(line),
                manifest: lock.path.with_file_name("Cargo.toml"),
                message: format!(
                    "Cargo.lock lists path package {name} {version}, but no Cargo.toml in the workspace declares it"
                ),
            }),
        }
    }
}

/// `path` made absolute (against the working directory) with `.` and `..` resolved by
/// name, not through the file system: paths compare and name the same however they were
/// spelt.
fn lexical_absolute(path: &Path) -> PathBuf {
    let absolute = std::path::absolute(path).unwrap_or_else(|_| path.to_path_buf());
    let mut out = PathBuf::new();
    for part in absolute.components() {
        match part {
            std::path::Component::CurDir => {}
            std::path::Component::ParentDir => {
                out.pop();
            }
            other => out.push(other),
        }
    }
    out
}

/// `path` relative to `root`, `/`-separated, with `..` where it lies outside `root`
/// (`../crates/x/Cargo.toml`), so input names do not depend on where the tree is.
fn lexical_relative(root: &Path, path: &Path) -> String {
    let (root, path) = (lexical_absolute(root), lexical_absolute(path));
    let common = root.components().zip(path.components()).take_while(|(a, b)| a == b).count();
    let mut parts: Vec<String> = vec!["..".to_owned(); root.components().count() - common];
    parts.extend(
        path.components().skip(common).map(|c| c.as_os_str().to_string_lossy().into_owned()),
    );
    parts.join("/")
}

/// The `[workspace]` of the nearest ancestor manifest that has one (with that manifest's
/// path and its path dependencies), for inheritance by a package outside the scanned
/// workspace; cached per directory.
type Enclosing = (manifest::WorkspaceFacts, Vec<String>);

fn enclosing_workspace(
    manifest: &Path,
    cache: &mut HashMap<PathBuf, Option<Enclosing>>,
) -> Option<(PathBuf, Enclosing)> {
    for dir in manifest.ancestors().skip(1) {
        let candidate = dir.join("Cargo.toml");
        if let Some(found) = cache.get(dir) {
            match found {
                Some(found) => return Some((candidate, found.clone())),
                None => continue,
            }
        }
        let facts = std::fs::read_to_string(&candidate)
            .ok()
            .and_then(|text| Manifest::parse_text(&candidate, &text, None).ok())
            .and_then(|m| Some((m.workspace?, m.path_deps)));
        cache.insert(dir.to_path_buf(), facts.clone());
        if let Some(facts) = facts {
            return Some((candidate, facts));
        }
    }
    None
}

/// The `[workspace] members` globs of the root manifest `root_path`, matched against member
/// directories relative to the workspace root (`*` stays within one path component).
fn member_globs(
    root_path: &Path,
    workspace: Option<&manifest::WorkspaceFacts>,
) -> Result<globset::GlobSet, SbomError> {
    let mut globs = globset::GlobSetBuilder::new();
    for member in workspace.map(|w| w.members.as_slice()).unwrap_or_default() {
        let pattern = member.trim_start_matches("./").trim_end_matches('/');
        let glob =
            globset::GlobBuilder::new(pattern).literal_separator(true).build().map_err(|e| {
                SbomError::malformed(Place::file(root_path), format!("workspace member glob: {e}"))
            })?;
        globs.add(glob);
    }
    globs.build().map_err(|e| SbomError::malformed(Place::file(root_path), e.to_string()))
}

/// Cargo locks every workspace member. A member the lockfile does not list (an empty lockfile,
/// or one written before the member existed) means the lockfile disagrees with the manifests:
/// the error points at the member's first dependency the lockfile lacks, else its `[package]`.
fn check_members_locked(local: &LocalManifests, nodes: &[Node<'_>]) -> Result<(), SbomError> {
    let locked: BTreeSet<&str> = nodes.iter().map(|n| n.package.name.as_str()).collect();
    for path in &local.members {
        let manifest = &local.manifests[path];
        let Some(package) = &manifest.package else { continue };
        if nodes.iter().any(|n| n.source.is_none() && n.package.name.as_str() == package.name) {
            continue;
        }
        let missing = manifest
            .declared
            .iter()
            .filter(|d| !locked.contains(d.package.as_str()))
            .min_by_key(|d| d.line);
        let (place, nor) = match missing {
            Some(d) => (Place::line(path, d.line), format!(", nor its dependency `{}`", d.package)),
            None => (package_section_place(path), String::new()),
        };
        drift::report(SbomError::OutOfSync {
            place,
            manifest: path.clone(),
            message: format!(
                "Cargo.lock does not list workspace member `{}` {}{nor} (run `cargo generate-lockfile`)",
                package.name, package.version
            ),
        })?;
    }
    Ok(())
}

/// The `[package]` line of a manifest, or the whole file when it cannot be read again.
fn package_section_place(path: &Path) -> Place {
    let line = std::fs::read_to_string(path)
        .ok()
        .and_then(|text| text.lines().position(|l| l.trim() == "[package]"));
    match line {
        Some(i) => Place::line(path, i + 1),
        None => Place::file(path),
    }
}

/// Unpacked registry sources under `$CARGO_HOME/registry/src/<index>/<name>-<version>/`.
struct RegistrySources {
    index_dirs: Vec<PathBuf>,
    missing: std::cell::Cell<usize>,
}

impl RegistrySources {
    fn new(cargo_home: Option<&Path>) -> RegistrySources {
        let home = cargo_home
            .map(Path::to_path_buf)
            .or_else(|| std::env::var_os("CARGO_HOME").map(PathBuf::from))
            .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".cargo")));
        let mut index_dirs: Vec<PathBuf> = home
            .and_then(|h| std::fs::read_dir(h.join("registry/src")).ok())
            .into_iter()
            .flatten()
            .filter_map(|e| e.ok().map(|e| e.path()))
            .collect();
        index_dirs.sort();
        RegistrySources { index_dirs, missing: std::cell::Cell::new(0) }
    }

    fn manifest(&self, name: &str, version: &str) -> Option<Manifest> {
        let dir_name = format!("{name}-{version}");
        for dir in &self.index_dirs {
            let path = dir.join(&dir_name).join("Cargo.toml");
            if let Ok(text) = std::fs::read_to_string(&path) {
                // Registry manifests are normalised by `cargo publish`: no workspace inheritance.
                match Manifest::parse_text(&path, &text, None) {
                    Ok(m) => return Some(m),
                    Err(e) => {
                        tracing::warn!(error = %e, "cannot read registry manifest");
                        return None;
                    }
                }
            }
        }
        self.missing.set(self.missing.get() + 1);
        None
    }
}

/// A path package's manifest must declare nothing the lockfile lacks. Cargo resolves workspace
/// members with all features and their dev-dependencies, but other path packages (an excluded
/// directory, say) only as dependencies: their dev-dependencies, and optional dependencies no
/// feature enables, are rightly absent from `Cargo.lock`.
fn check_in_sync(
    manifest: &Manifest,
    node: &Node<'_>,
    nodes: &[Node<'_>],
    out: &[(usize, BTreeSet<DependencyKind>)],
) -> Result<(), SbomError> {
    let locked: BTreeSet<&str> =
        out.iter().map(|(to, _)| nodes[*to].package.name.as_str()).collect();
    for declared in manifest.declared.iter() {
        if !manifest.is_member && (declared.optional || declared.kind == DependencyKind::Dev) {
            continue;
        }
        if !locked.contains(declared.package.as_str()) {
            let path = manifest.local.clone().unwrap_or_default();
            drift::report(SbomError::OutOfSync {
                place: Place::line(&path, declared.line),
                manifest: path.clone(),
                message: format!(
                    "{} declares dependency `{}`, but Cargo.lock does not resolve it for {} {} (run `cargo update -w`)",
                    path.display(),
                    declared.package,
                    node.package.name,
                    node.package.version
                ),
            })?;
        }
    }
    Ok(())
}

/// For each node, the mildest way it is reached from a member: `Normal` through normal edges
/// only, `Build` when a build edge is needed, `Dev` when a dev edge is; `None` if unreachable.
fn reachability(
    members: &[usize],
    edges: &[Vec<(usize, BTreeSet<DependencyKind>)>],
    n: usize,
) -> Vec<Option<DependencyKind>> {
    let mut reached: Vec<Option<DependencyKind>> = vec![None; n];
    for level in [DependencyKind::Normal, DependencyKind::Build, DependencyKind::Dev] {
        let mut stack: Vec<usize> = members.to_vec();
        let mut seen = vec![false; n];
        while let Some(i) = stack.pop() {
            if std::mem::replace(&mut seen[i], true) {
                continue;
            }
            if reached[i].is_none() {
                reached[i] = Some(level);
            }
            for (to, kinds) in &edges[i] {
                // An edge usable at this level: its mildest kind is no harsher than the level.
                if kinds.iter().next().is_some_and(|k| *k <= level) && !seen[*to] {
                    stack.push(*to);
                }
            }
        }
    }
    reached
}

fn package_purl(node: &Node<'_>) -> String {
    let name = node.package.name.as_str();
    let version = node.package.version.to_string();
    match &node.package.source {
        Some(s) if s.is_default_registry() => purl("cargo", None, name, &version, &[]),
        Some(s) if s.is_git() => {
            let vcs = format!(
                "git+{}{}",
                s.url(),
                s.precise().map(|p| format!("@{p}")).unwrap_or_default()
            );
            purl("cargo", None, name, &version, &[("vcs_url", &vcs)])
        }
        Some(s) if s.is_registry() || s.is_remote_registry() => {
            purl("cargo", None, name, &version, &[("repository_url", s.url().as_str())])
        }
        _ => purl("cargo", None, name, &version, &[]),
    }
}

fn to_component(node: &Node<'_>, bom_ref: &str, reach: Option<DependencyKind>) -> Component {
    let name = node.package.name.as_str();
    let version = node.package.version.to_string();
    let mut c = Component::new(Ecosystem::Cargo, None, name, &version, bom_ref);
    let is_member = node.manifest.as_ref().is_some_and(|m| m.is_member);
    if is_member {
        c.kind = ComponentKind::Application;
        c.properties.insert("tollgate:cargo:workspace-member".into(), "true".into());
    }
    c.scope = match reach {
        Some(DependencyKind::Normal) => Scope::Required,
        Some(_) | None => Scope::Excluded,
    };
    if !is_member {
        let kind = match reach {
            Some(DependencyKind::Normal) => "normal",
            Some(DependencyKind::Build) => "build",
            Some(DependencyKind::Dev) => "dev",
            None => "unreachable",
        };
        c.properties.insert("tollgate:cargo:dependency-kind".into(), kind.into());
    }
    if let Some(checksum) = &node.package.checksum {
        c.hashes.push(Hash { algorithm: HashAlgorithm::Sha256, hex: checksum.to_string() });
    }
    c.source = node.source.clone();
    if let Some(pkg) = node.manifest.as_ref().and_then(|m| m.package.as_ref()) {
        c.license = pkg.license.as_deref().map(normalize_license);
        if c.license.is_none()
            && let Some(file) = &pkg.license_file
        {
            c.properties.insert("tollgate:cargo:license-file".into(), file.clone());
        }
        c.authors = pkg.authors.clone();
        c.description =
            pkg.description.as_deref().map(|d| d.split_whitespace().collect::<Vec<_>>().join(" "));
        c.repository = pkg.repository.clone();
        c.homepage = pkg.homepage.clone();
    }
    c
}

/// Cargo's licence field as an SPDX expression (`MIT/Apache-2.0` -> `MIT OR Apache-2.0`).
/// Text that is not an SPDX expression is kept as written.
pub fn normalize_license(raw: &str) -> String {
    match spdx::Expression::canonicalize(raw) {
        Ok(Some(canonical)) => canonical,
        _ => raw.trim().to_owned(),
    }
}

#[cfg(test)]
mod tests;

#[cfg(test)]
mod path_package_tests {
    use super::*;

    /// What `cargo generate-lockfile` (1.95) writes for a member that depends on an excluded
    /// path package with an optional dependency no feature enables and a dev-dependency.
    #[test]
    fn excluded_path_package_need_not_lock_its_dev_and_unused_optional_dependencies() {
        let dir = tempfile::tempdir().unwrap();
        let files = [
            ("Cargo.toml", "[workspace]\nmembers = [\"app\"]\nexclude = [\"vendor\"]\n"),
            (
                "app/Cargo.toml",
                "[package]\nname = \"app\"\nversion = \"0.1.0\"\n\n[dependencies]\na = { path = \"../vendor/a\" }\n",
            ),
            (
                "vendor/a/Cargo.toml",
                "[package]\nname = \"a\"\nversion = \"0.1.0\"\n\n[dependencies]\nb = { path = \"../b\", optional = true }\n\n[dev-dependencies]\nc = { path = \"../c\" }\n",
            ),
            ("vendor/b/Cargo.toml", "[package]\nname = \"b\"\nversion = \"0.1.0\"\n"),
            ("vendor/c/Cargo.toml", "[package]\nname = \"c\"\nversion = \"0.1.0\"\n"),
            (
                "Cargo.lock",
                "version = 4\n\n[[package]]\nname = \"a\"\nversion = \"0.1.0\"\n\n[[package]]\nname = \"app\"\nversion = \"0.1.0\"\ndependencies = [\n \"a\",\n]\n",
            ),
        ];
        for (path, text) in files {
            let path = dir.path().join(path);
            std::fs::create_dir_all(path.parent().unwrap()).unwrap();
            std::fs::write(path, text).unwrap();
        }
        let lock = dir.path().join("Cargo.lock");
        let inv = catalog(dir.path(), &lock, None).unwrap();
        assert_eq!(inv.components.len(), 2);

        // A member, by contrast, is resolved with all features and its dev-dependencies.
        let app = dir.path().join("app/Cargo.toml");
        let text = std::fs::read_to_string(&app).unwrap();
        std::fs::write(&app, text + "\n[dev-dependencies]\nc = { path = \"../vendor/c\" }\n")
            .unwrap();
        let err = catalog(dir.path(), &lock, None).unwrap_err();
        assert!(matches!(err, SbomError::OutOfSync { .. }), "{err}");
    }
}
