//! `poetry.lock`, `[metadata] lock-version` 1.0, 1.1, 2.0 and 2.1.
//!
//! Every `[[package]]` becomes a component; the project itself comes from the
//! `pyproject.toml` beside the lockfile (`[project]`, else `[tool.poetry]`) and depends on
//! every dependency it declares (main, extras and groups), each of which must be locked, else
//! [`SbomError::OutOfSync`] names the declaring line. Edges follow `[package.dependencies]`.
//!
//! Scope comes from reachability from the project: through main dependencies `Required`,
//! only through an extra `Optional`, only through a dependency group `Excluded`. Packages the
//! walk does not reach (or every package, without a `pyproject.toml`) take the lockfile's own
//! word: `category = "dev"` (1.x), `groups` without `main` (2.1), `optional = true`.
//!
//! Hashes: the sdist's when there is one, else the only file's; every file is recorded as a
//! [`Distribution`] named by its file name (poetry records no URLs). Lock-version 1.0 records
//! bare hashes without file names: they go to the `tollgate:python:hashes` property.

use super::common::{
    Edge, component, is_ignored_hash, leading_extras, mark_reachable, normalize, parse_hash,
    split_name,
};
use super::pyproject::{self, DeclKind, PoetrySpec};
use crate::catalog::SourceFile;
use crate::error::Place;
use crate::{ComponentKind, Distribution, Hash, HashAlgorithm, Inventory, SbomError, Scope};
use serde::Deserialize;
use std::collections::{BTreeMap, HashMap};
use std::path::Path;
use toml::Spanned;

/// The `poetry.lock` format versions this cataloguer reads.
const SUPPORTED: &str = "1.0, 1.1, 2.0, 2.1";

#[derive(Deserialize)]
struct PoetryLock {
    #[serde(default)]
    package: Vec<Package>,
    metadata: Option<Spanned<Metadata>>,
}

#[derive(Deserialize)]
#[serde(rename_all = "kebab-case")]
struct Metadata {
    lock_version: Option<Spanned<String>>,
    /// 1.x: files per package name.
    #[serde(default)]
    files: BTreeMap<String, Vec<File>>,
    /// 1.0: bare sha256 hex per package name.
    #[serde(default)]
    hashes: BTreeMap<String, Vec<String>>,
}

#[derive(Deserialize)]
struct Package {
    name: Spanned<String>,
    version: String,
    #[serde(default)]
    description: Option<String>,
    #[serde(default)]
    optional: bool,
    #[serde(default)]
    category: Option<String>,
    #[serde(default)]
    groups: Option<Vec<String>>,
    #[serde(default)]
    files: Vec<File>,
    #[serde(default)]
    dependencies: BTreeMap<String, PoetrySpec>,
    #[serde(default)]
    extras: BTreeMap<String, Vec<String>>,
    #[serde(default)]
    source: Option<PackageSource>,
    #[serde(default)]
    develop: bool,
}

#[derive(Deserialize)]
struct File {
    file: String,
    #[serde(default)]
    hash: Option<String>,
}

#[derive(Deserialize)]
struct PackageSource {
    #[serde(rename = "type")]
    kind: String,
    #[serde(default)]
    url: Option<String>,
    #[serde(default)]
    reference: Option<String>,
    #[serde(default)]
    resolved_reference: Option<String>,
}

impl PackageSource {
    /// `Component.source`: `git+URL#commit`, `path+…` for directories and files, else the URL.
    fn describe(&self) -> Option<String> {
        let url = self.url.as_deref()?;
        Some(match self.kind.as_str() {
            "git" => {
                let url = url.strip_prefix("git+").unwrap_or(url);
                match self.resolved_reference.as_deref().or(self.reference.as_deref()) {
                    Some(rev) if !rev.is_empty() => format!("git+{url}#{rev}"),
                    _ => format!("git+{url}"),
                }
            }
            "directory" | "file" => format!("path+{url}"),
            _ => url.to_owned(),
        })
    }
}

/// Catalogues one `poetry.lock` (with the `pyproject.toml` beside it, when there is one).
pub fn catalog(root: &Path, lockfile: &Path) -> Result<Inventory, SbomError> {
    let source = SourceFile::read(root, lockfile)?;
    let mut inventory = Inventory::default();
    inventory.inputs.insert(source.relative.clone(), source.digest.clone());
    let lock: PoetryLock = toml::from_str(&source.text)
        .map_err(|e| SbomError::toml(&source.path, &source.text, &e))?;
    let Some(metadata) = &lock.metadata else {
        return Err(SbomError::malformed(Place::file(&source.path), "no [metadata] table"));
    };
    let lock_version = metadata.get_ref().lock_version.as_ref();
    let version_ok =
        lock_version.is_some_and(|v| matches!(v.get_ref().as_str(), "1.0" | "1.1" | "2.0" | "2.1"));
    if !version_ok {
        let span = lock_version.map_or(metadata.span(), Spanned::span);
        return Err(SbomError::UnsupportedVersion {
            place: source.at_line(source.line_of(span.start)),
            what: "poetry.lock lock-version",
            version: lock_version.map_or_else(|| "(none)".to_owned(), |v| v.get_ref().clone()),
            supported: SUPPORTED,
        });
    }
    let metadata = metadata.get_ref();
    // 1.x keep files (1.1) or bare hashes (1.0) under [metadata], keyed by package name.
    let files_by_name: HashMap<String, &[File]> =
        metadata.files.iter().map(|(n, f)| (normalize(n), f.as_slice())).collect();
    let hashes_by_name: HashMap<String, &[String]> =
        metadata.hashes.iter().map(|(n, h)| (normalize(n), h.as_slice())).collect();
    let packages = &lock.package;

    let mut by_name: HashMap<String, Vec<usize>> = HashMap::new();
    for (i, p) in packages.iter().enumerate() {
        by_name.entry(normalize(p.name.get_ref())).or_default().push(i);
    }
    let lookup = |name: &str| by_name.get(&normalize(name)).map(Vec::as_slice).unwrap_or(&[]);

    // Normal (non-optional) edges and per-extra edges of every package.
    let mut required: Vec<Vec<Edge>> = Vec::with_capacity(packages.len());
    let mut extras: Vec<BTreeMap<String, Vec<Edge>>> = Vec::with_capacity(packages.len());
    for p in packages {
        let mut normal = Vec::new();
        for (name, spec) in &p.dependencies {
            if !spec.optional() {
                normal.extend(lookup(name).iter().map(|&t| (t, spec.extras())));
            }
        }
        required.push(normal);
        let mut per_extra = BTreeMap::new();
        for (extra, members) in &p.extras {
            let mut edges = Vec::new();
            for member in members {
                if let Some((name, rest)) = split_name(member) {
                    edges.extend(lookup(name).iter().map(|&t| (t, leading_extras(rest))));
                }
            }
            per_extra.insert(normalize(extra), edges);
        }
        extras.push(per_extra);
    }

    // The project, from pyproject.toml.
    let manifest = pyproject::read_beside(root, lockfile)?;
    let mut root_ref = None;
    let mut starts: [Vec<Edge>; 3] = [Vec::new(), Vec::new(), Vec::new()];
    let mut root_targets: Vec<usize> = Vec::new();
    if let Some(m) = &manifest {
        inventory.inputs.insert(m.source.relative.clone(), m.source.digest.clone());
        if let Some(name) = &m.name {
            let project = normalize(name);
            let mut app =
                component(name, m.version.as_deref().unwrap_or_default(), &source.relative);
            app.kind = ComponentKind::Application;
            app.description.clone_from(&m.description);
            for decl in &m.declared {
                if decl.name == project {
                    continue;
                }
                let targets = lookup(&decl.name);
                if targets.is_empty() {
                    crate::catalog::drift::report(SbomError::OutOfSync {
                        place: m.source.at_line(decl.line),
                        manifest: m.source.path.clone(),
                        message: format!("`{}` is declared but not in poetry.lock", decl.name),
                    })?;
                    continue;
                }
                let slot = match decl.kind {
                    DeclKind::Main => 0,
                    DeclKind::Extra(_) => 1,
                    DeclKind::Group(_) => 2,
                };
                starts[slot].extend(targets.iter().map(|&t| (t, decl.extras.clone())));
                root_targets.extend_from_slice(targets);
            }
            root_ref = Some(app.bom_ref.clone());
            inventory.add(app);
        }
    }

    // Scopes by reachability over (package, activated extra) states.
    let mut scope: Vec<Option<Scope>> = vec![None; packages.len()];
    for (starts, mark) in starts.iter().zip([Scope::Required, Scope::Optional, Scope::Excluded]) {
        mark_reachable(starts, &required, &extras, &mut scope, mark);
    }

    let mut refs: Vec<String> = Vec::with_capacity(packages.len());
    let mut seen_refs: HashMap<String, usize> = HashMap::new();
    for (i, p) in packages.iter().enumerate() {
        let mut c = component(p.name.get_ref(), &p.version, &source.relative);
        let n = seen_refs.entry(c.purl.clone()).or_insert(0);
        *n += 1;
        if *n > 1 {
            c.bom_ref = format!("{}#{n}", c.purl);
        }
        c.scope = scope[i].unwrap_or_else(|| lock_scope(p));
        c.description = p.description.clone().filter(|d| !d.is_empty());
        c.source = p.source.as_ref().and_then(PackageSource::describe);
        if p.develop {
            c.properties.insert("tollgate:python:editable".into(), "true".into());
        }
        let line = source.line_of(p.name.span().start);
        let files = if p.files.is_empty() {
            files_by_name.get(&normalize(p.name.get_ref())).copied().unwrap_or(&[])
        } else {
            &p.files
        };
        let mut dists = Vec::with_capacity(files.len());
        let mut sdist_hash = None;
        for f in files {
            let mut hashes = Vec::new();
            if let Some(h) = &f.hash {
                match parse_hash(h) {
                    Some(h) => hashes.push(h),
                    None if is_ignored_hash(h) => {}
                    None => {
                        return Err(SbomError::malformed(
                            source.at_line(line),
                            format!("package `{}`: unreadable hash `{h}`", p.name.get_ref()),
                        ));
                    }
                }
            }
            if is_sdist(&f.file) && sdist_hash.is_none() && !hashes.is_empty() {
                sdist_hash = Some(hashes.clone());
            }
            dists.push(Distribution { url: f.file.clone(), hashes });
        }
        c.hashes = match (sdist_hash, dists.as_slice()) {
            (Some(h), _) => h,
            (None, [only]) => only.hashes.clone(),
            _ => Vec::new(),
        };
        dists.sort();
        c.distributions = dists;
        if let Some(bare) = hashes_by_name.get(&normalize(p.name.get_ref())) {
            let mut hexes = Vec::with_capacity(bare.len());
            for h in *bare {
                let hex = h.trim().to_ascii_lowercase();
                if hex.len() != 64 || !hex.bytes().all(|b| b.is_ascii_hexdigit()) {
                    return Err(SbomError::malformed(
                        source.at_line(line),
                        format!("package `{}`: unreadable hash `{h}`", p.name.get_ref()),
                    ));
                }
                hexes.push(hex);
            }
            if let [only] = hexes.as_slice() {
                c.hashes = vec![Hash { algorithm: HashAlgorithm::Sha256, hex: only.clone() }];
            }
            if !hexes.is_empty() {
                let joined =
                    hexes.iter().map(|h| format!("sha256:{h}")).collect::<Vec<_>>().join(" ");
                c.properties.insert("tollgate:python:hashes".into(), joined);
            }
        }
        refs.push(c.bom_ref.clone());
        inventory.add(c);
    }

    for (i, p) in packages.iter().enumerate() {
        for name in p.dependencies.keys() {
            for &t in lookup(name) {
                if t != i {
                    inventory.depend(&refs[i], &refs[t]);
                }
            }
        }
    }
    if let Some(r) = &root_ref {
        for &t in &root_targets {
            inventory.depend(r, &refs[t]);
        }
    }
    inventory.normalize();
    Ok(inventory)
}

/// The scope the lockfile itself records (used when the project's graph does not say).
fn lock_scope(p: &Package) -> Scope {
    let dev_only = match (&p.category, &p.groups) {
        (Some(category), _) => category == "dev",
        (None, Some(groups)) => !groups.is_empty() && !groups.iter().any(|g| g == "main"),
        (None, None) => false,
    };
    if dev_only {
        Scope::Excluded
    } else if p.optional {
        Scope::Optional
    } else {
        Scope::Required
    }
}

fn is_sdist(file: &str) -> bool {
    [".tar.gz", ".zip", ".tar.bz2", ".tar.xz", ".tgz", ".tar"].iter().any(|s| file.ends_with(s))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fixture(dir: &str) -> std::path::PathBuf {
        Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures").join(dir)
    }

    fn run(dir: &str) -> Inventory {
        let root = fixture(dir);
        catalog(&root, &root.join("poetry.lock")).unwrap()
    }

    /// Copies a fixture's lock and pyproject to a temporary directory, editing one file
    /// (or leaving one out when `edit` returns `None`).
    fn altered(dir: &str, file: &str, edit: impl Fn(&str) -> Option<String>) -> tempfile::TempDir {
        let tmp = tempfile::tempdir().unwrap();
        for name in ["poetry.lock", "pyproject.toml"] {
            let text = std::fs::read_to_string(fixture(dir).join(name)).unwrap();
            let text = if name == file { edit(&text) } else { Some(text) };
            if let Some(text) = text {
                std::fs::write(tmp.path().join(name), text).unwrap();
            }
        }
        tmp
    }

    fn deps<'a>(inv: &'a Inventory, r: &str) -> Vec<&'a str> {
        inv.dependencies[r].iter().map(String::as_str).collect()
    }

    #[test]
    fn lock_2_1_components_edges_scopes() {
        let inv = run("python-poetry");
        let refs: Vec<&str> = inv.components.keys().map(String::as_str).collect();
        assert_eq!(
            refs,
            [
                "pkg:pypi/iniconfig@2.1.0",
                "pkg:pypi/localpkg@0.1.0",
                "pkg:pypi/poetry-demo@1.2.0",
                "pkg:pypi/pysocks@1.7.1",
                "pkg:pypi/python-dateutil@2.9.0.post0",
                "pkg:pypi/six@1.17.0",
            ]
        );
        assert_eq!(inv.roots.iter().collect::<Vec<_>>(), ["pkg:pypi/poetry-demo@1.2.0"]);
        assert_eq!(
            deps(&inv, "pkg:pypi/poetry-demo@1.2.0"),
            [
                "pkg:pypi/iniconfig@2.1.0",
                "pkg:pypi/localpkg@0.1.0",
                "pkg:pypi/pysocks@1.7.1",
                "pkg:pypi/python-dateutil@2.9.0.post0",
            ]
        );
        assert_eq!(deps(&inv, "pkg:pypi/python-dateutil@2.9.0.post0"), ["pkg:pypi/six@1.17.0"]);
        assert_eq!(deps(&inv, "pkg:pypi/localpkg@0.1.0"), ["pkg:pypi/six@1.17.0"]);
        let scope = |r: &str| inv.get(r).unwrap().scope;
        assert_eq!(scope("pkg:pypi/six@1.17.0"), Scope::Required);
        assert_eq!(scope("pkg:pypi/localpkg@0.1.0"), Scope::Required);
        assert_eq!(scope("pkg:pypi/pysocks@1.7.1"), Scope::Optional);
        assert_eq!(scope("pkg:pypi/iniconfig@2.1.0"), Scope::Excluded);
        let app = inv.get("pkg:pypi/poetry-demo@1.2.0").unwrap();
        assert_eq!(app.kind, ComponentKind::Application);
        assert_eq!(app.description.as_deref(), Some("Tollgate test fixture"));
        assert_eq!(inv.inputs.keys().collect::<Vec<_>>(), ["poetry.lock", "pyproject.toml"]);
    }

    #[test]
    fn lock_2_1_sources_and_hashes() {
        let inv = run("python-poetry");
        let socks = inv.get("pkg:pypi/pysocks@1.7.1").unwrap();
        assert_eq!(socks.source.as_deref(), Some("https://pypi.org/simple"));
        assert_eq!(
            socks.hashes,
            [Hash {
                algorithm: HashAlgorithm::Sha256,
                hex: "3f8804571ebe159c380ac6de37643bb4685970655d3bba243530d6558b799aa0".into()
            }]
        );
        assert_eq!(socks.distributions.len(), 3);
        assert_eq!(socks.distributions[0].url, "PySocks-1.7.1-py27-none-any.whl");
        let local = inv.get("pkg:pypi/localpkg@0.1.0").unwrap();
        assert_eq!(local.source.as_deref(), Some("path+localpkg"));
        assert_eq!(local.properties["tollgate:python:editable"], "true");
        assert!(local.hashes.is_empty());
        assert!(local.found_in.contains("poetry.lock"));
    }

    #[test]
    fn lock_1_1_uses_metadata_files_and_dev_dependencies() {
        let inv = run("python-poetry-1.1");
        assert_eq!(inv.components.len(), 5);
        assert_eq!(
            deps(&inv, "pkg:pypi/legacy-demo@0.9.0"),
            [
                "pkg:pypi/iniconfig@2.1.0",
                "pkg:pypi/pysocks@1.7.1",
                "pkg:pypi/python-dateutil@2.9.0.post0",
            ]
        );
        let scope = |r: &str| inv.get(r).unwrap().scope;
        assert_eq!(scope("pkg:pypi/iniconfig@2.1.0"), Scope::Excluded);
        assert_eq!(scope("pkg:pypi/pysocks@1.7.1"), Scope::Optional);
        assert_eq!(scope("pkg:pypi/six@1.17.0"), Scope::Required);
        let six = inv.get("pkg:pypi/six@1.17.0").unwrap();
        assert_eq!(
            six.hashes[0].hex,
            "ff70335d468e7eb6ec65b95b99d3a2836546063f63acc5171de367e834932a81"
        );
        assert_eq!(six.distributions.len(), 2);
    }

    #[test]
    fn lock_2_0_groups_come_from_pyproject() {
        let inv = run("python-poetry-2.0");
        assert_eq!(inv.components.len(), 5);
        assert_eq!(inv.get("pkg:pypi/iniconfig@2.1.0").unwrap().scope, Scope::Excluded);
        assert_eq!(inv.get("pkg:pypi/pysocks@1.7.1").unwrap().scope, Scope::Optional);
        assert_eq!(inv.get("pkg:pypi/mid-demo@0.5.0").unwrap().kind, ComponentKind::Application);
    }

    #[test]
    fn without_pyproject_the_lock_decides_scope() {
        for dir in ["python-poetry", "python-poetry-1.1"] {
            let tmp = altered(dir, "pyproject.toml", |_| None);
            let inv = catalog(tmp.path(), &tmp.path().join("poetry.lock")).unwrap();
            assert!(inv.roots.is_empty());
            assert_eq!(inv.get("pkg:pypi/iniconfig@2.1.0").unwrap().scope, Scope::Excluded);
            assert_eq!(inv.get("pkg:pypi/pysocks@1.7.1").unwrap().scope, Scope::Optional);
            assert_eq!(inv.get("pkg:pypi/six@1.17.0").unwrap().scope, Scope::Required);
        }
    }

    #[test]
    fn unknown_lock_version_names_its_line() {
        let tmp = altered("python-poetry", "poetry.lock", |t| {
            Some(t.replace("lock-version = \"2.1\"", "lock-version = \"3.0\""))
        });
        let err = catalog(tmp.path(), &tmp.path().join("poetry.lock")).unwrap_err();
        let SbomError::UnsupportedVersion { place, version, .. } = &err else { panic!("{err}") };
        assert_eq!(version, "3.0");
        let text = std::fs::read_to_string(tmp.path().join("poetry.lock")).unwrap();
        let line = text.lines().position(|l| l.starts_with("lock-version")).unwrap() + 1;
        assert_eq!(place.line, Some(line));
    }

    #[test]
    fn truncated_lock_is_malformed_with_line() {
        let tmp = altered("python-poetry", "poetry.lock", |t| {
            let cut = t.find("[package.dependencies]\nsix = \">=1.5\"").unwrap();
            Some(format!("{}[package.dependencies]\nsix = {{version = \">=1.5\"", &t[..cut]))
        });
        let err = catalog(tmp.path(), &tmp.path().join("poetry.lock")).unwrap_err();
        let SbomError::Malformed { place, .. } = &err else { panic!("{err}") };
        assert!(place.path.ends_with("poetry.lock"));
        let lines =
            std::fs::read_to_string(tmp.path().join("poetry.lock")).unwrap().lines().count();
        assert_eq!(place.line, Some(lines), "{err}");
    }

    #[test]
    fn declared_but_unlocked_is_out_of_sync() {
        let tmp = altered("python-poetry", "pyproject.toml", |t| {
            Some(t.replace("iniconfig = \"~2.1\"", "iniconfig = \"~2.1\"\npytest = \"^8\""))
        });
        let err = catalog(tmp.path(), &tmp.path().join("poetry.lock")).unwrap_err();
        let SbomError::OutOfSync { place, message, .. } = &err else { panic!("{err}") };
        assert!(message.contains("`pytest`"), "{message}");
        let text = std::fs::read_to_string(tmp.path().join("pyproject.toml")).unwrap();
        let line = text.lines().position(|l| l.starts_with("pytest")).unwrap() + 1;
        assert_eq!(place.line, Some(line));
        assert!(place.path.ends_with("pyproject.toml"));
    }

    #[test]
    fn lock_1_0_bare_hashes_go_to_a_property() {
        let tmp = tempfile::tempdir().unwrap();
        let lock = "[[package]]\ncategory = \"main\"\nname = \"Six\"\noptional = false\n\
                    version = \"1.17.0\"\n\n[metadata]\nlock-version = \"1.0\"\n\n\
                    [metadata.hashes]\nsix = [\"4721f391ed90541fddacab5acf947aa0d3dc7d27b2e1e8eda2be8970586c3274\", \
                    \"ff70335d468e7eb6ec65b95b99d3a2836546063f63acc5171de367e834932a81\"]\n";
        std::fs::write(tmp.path().join("poetry.lock"), lock).unwrap();
        let inv = catalog(tmp.path(), &tmp.path().join("poetry.lock")).unwrap();
        let six = inv.get("pkg:pypi/six@1.17.0").unwrap();
        assert!(six.hashes.is_empty(), "two files, neither named");
        assert_eq!(
            six.properties["tollgate:python:hashes"],
            "sha256:4721f391ed90541fddacab5acf947aa0d3dc7d27b2e1e8eda2be8970586c3274 \
             sha256:ff70335d468e7eb6ec65b95b99d3a2836546063f63acc5171de367e834932a81"
        );
    }
}
