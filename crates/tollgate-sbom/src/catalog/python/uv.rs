//! `uv.lock` (lockfile `version = 1`, any `revision`).
//!
//! Every `[[package]]` becomes a component. The project itself (source `editable` or
//! `virtual` `"."`) and the workspace members listed in `[manifest] members` are the
//! application roots. Edges follow `dependencies`, every extra's `optional-dependencies` and
//! (from the roots) `dev-dependencies`. Scope comes from reachability: through normal
//! dependencies `Required`, only through one of the root's extras `Optional`, only through a
//! dependency group `Excluded`. A package reached by none of these stays `Required`, since
//! nothing shows it does not ship.
//!
//! Hashes: the sdist's when there is one, else the only wheel's; every sdist and wheel is
//! also recorded as a [`Distribution`]. When a `pyproject.toml` with a `[project]` table sits
//! beside the lockfile, every dependency it declares must appear on the root in `uv.lock`,
//! else [`SbomError::OutOfSync`] names the declaring line.

use super::common::{Edge, component, is_ignored_hash, mark_reachable, normalize, parse_hash};
use super::pyproject::{self, DeclKind};
use crate::catalog::SourceFile;
use crate::{ComponentKind, Distribution, Inventory, SbomError, Scope};
use serde::Deserialize;
use std::collections::{BTreeMap, HashMap, HashSet};
use std::path::Path;
use toml::Spanned;

/// The `uv.lock` format versions this cataloguer reads.
const SUPPORTED: &str = "1";

#[derive(Deserialize)]
struct UvLock {
    version: Spanned<i64>,
    #[serde(default)]
    manifest: Option<LockManifest>,
    #[serde(default)]
    package: Vec<Package>,
}

#[derive(Deserialize)]
struct LockManifest {
    #[serde(default)]
    members: Vec<String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "kebab-case")]
struct Package {
    name: Spanned<String>,
    #[serde(default)]
    version: Option<String>,
    #[serde(default)]
    source: Option<Source>,
    #[serde(default)]
    dependencies: Vec<Spanned<Dep>>,
    #[serde(default)]
    optional_dependencies: BTreeMap<String, Vec<Spanned<Dep>>>,
    #[serde(default)]
    dev_dependencies: BTreeMap<String, Vec<Spanned<Dep>>>,
    #[serde(default)]
    sdist: Option<Artifact>,
    #[serde(default)]
    wheels: Vec<Artifact>,
}

#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "kebab-case")]
struct Source {
    registry: Option<String>,
    git: Option<String>,
    url: Option<String>,
    path: Option<String>,
    directory: Option<String>,
    editable: Option<String>,
    #[serde(rename = "virtual")]
    virtual_: Option<String>,
}

impl Source {
    /// The project's own directory (`editable = "."` or `virtual = "."`).
    fn is_project_dir(&self) -> bool {
        self.editable.as_deref() == Some(".") || self.virtual_.as_deref() == Some(".")
    }

    /// `Component.source`: registry URL, `git+URL?…#commit`, a direct URL, or `path+…`.
    fn describe(&self) -> Option<String> {
        if let Some(r) = &self.registry {
            return Some(r.clone());
        }
        if let Some(g) = &self.git {
            return Some(if g.starts_with("git+") { g.clone() } else { format!("git+{g}") });
        }
        if let Some(u) = &self.url {
            return Some(u.clone());
        }
        [&self.path, &self.directory, &self.editable, &self.virtual_]
            .into_iter()
            .flatten()
            .next()
            .map(|p| format!("path+{p}"))
    }
}

#[derive(Deserialize)]
struct Dep {
    name: String,
    #[serde(default)]
    version: Option<String>,
    #[serde(default)]
    source: Option<Source>,
    #[serde(default)]
    extra: Vec<String>,
}

#[derive(Deserialize)]
struct Artifact {
    url: Option<String>,
    path: Option<String>,
    filename: Option<String>,
    hash: Option<String>,
}

/// Every package's resolved edges, by package index.
struct Graph {
    /// `dependencies`.
    deps: Vec<Vec<Edge>>,
    /// `optional-dependencies`, per extra.
    optional: Vec<BTreeMap<String, Vec<Edge>>>,
    /// `dev-dependencies`, all groups together.
    dev: Vec<Vec<Edge>>,
}

/// Catalogues one `uv.lock`.
pub fn catalog(root: &Path, lockfile: &Path) -> Result<Inventory, SbomError> {
    let source = SourceFile::read(root, lockfile)?;
    let mut inventory = Inventory::default();
    inventory.inputs.insert(source.relative.clone(), source.digest.clone());
    let lock: UvLock = toml::from_str(&source.text)
        .map_err(|e| SbomError::toml(&source.path, &source.text, &e))?;
    if *lock.version.get_ref() != 1 {
        return Err(SbomError::UnsupportedVersion {
            place: source.at_line(source.line_of(lock.version.span().start)),
            what: "uv.lock",
            version: lock.version.get_ref().to_string(),
            supported: SUPPORTED,
        });
    }
    let packages = &lock.package;

    let mut by_name: HashMap<String, Vec<usize>> = HashMap::new();
    for (i, p) in packages.iter().enumerate() {
        by_name.entry(normalize(p.name.get_ref())).or_default().push(i);
    }
    let resolve = |dep: &Spanned<Dep>| -> Result<Edge, SbomError> {
        let d = dep.get_ref();
        let candidates = by_name.get(&normalize(&d.name)).map(Vec::as_slice).unwrap_or(&[]);
        let found = candidates.iter().copied().find(|&i| {
            let p = &packages[i];
            d.version.as_ref().is_none_or(|v| p.version.as_ref() == Some(v))
                && d.source.as_ref().is_none_or(|s| p.source.as_ref() == Some(s))
        });
        match found {
            Some(i) => Ok((i, d.extra.iter().map(|e| normalize(e)).collect())),
            None => Err(SbomError::malformed(
                source.at_line(source.line_of(dep.span().start)),
                format!(
                    "dependency `{}{}` is not a package in this lockfile",
                    d.name,
                    d.version.as_deref().map(|v| format!(" {v}")).unwrap_or_default()
                ),
            )),
        }
    };

    // Resolve every edge once.
    let mut deps: Vec<Vec<Edge>> = Vec::with_capacity(packages.len());
    let mut optional: Vec<BTreeMap<String, Vec<Edge>>> = Vec::with_capacity(packages.len());
    let mut dev: Vec<Vec<Edge>> = Vec::with_capacity(packages.len());
    for p in packages {
        deps.push(p.dependencies.iter().map(&resolve).collect::<Result<_, _>>()?);
        let mut extras = BTreeMap::new();
        for (extra, list) in &p.optional_dependencies {
            extras.insert(normalize(extra), list.iter().map(&resolve).collect::<Result<_, _>>()?);
        }
        optional.push(extras);
        let mut groups = Vec::new();
        for list in p.dev_dependencies.values() {
            for d in list {
                groups.push(resolve(d)?);
            }
        }
        dev.push(groups);
    }
    let graph = Graph { deps, optional, dev };
    let Graph { deps, optional, dev } = &graph;

    // Roots: the project directory and declared workspace members; failing both, every
    // editable/virtual package nothing depends on.
    let members: HashSet<String> = lock
        .manifest
        .as_ref()
        .map(|m| m.members.iter().map(|n| normalize(n)).collect())
        .unwrap_or_default();
    let mut roots: Vec<usize> = (0..packages.len())
        .filter(|&i| {
            let p = &packages[i];
            p.source.as_ref().is_some_and(Source::is_project_dir)
                || members.contains(&normalize(p.name.get_ref()))
        })
        .collect();
    if roots.is_empty() {
        let mut depended = vec![false; packages.len()];
        for edges in deps.iter().chain(dev.iter()) {
            for (t, _) in edges {
                depended[*t] = true;
            }
        }
        for extras in optional {
            for (t, _) in extras.values().flatten() {
                depended[*t] = true;
            }
        }
        roots = (0..packages.len())
            .filter(|&i| {
                !depended[i]
                    && packages[i]
                        .source
                        .as_ref()
                        .is_some_and(|s| s.editable.is_some() || s.virtual_.is_some())
            })
            .collect();
    }

    // Scopes by reachability over (package, activated extra) states.
    let mut scope: Vec<Option<Scope>> = vec![None; packages.len()];
    for &r in &roots {
        scope[r] = Some(Scope::Required);
    }
    let required: Vec<Edge> = roots.iter().map(|&r| (r, Vec::new())).collect();
    mark_reachable(&required, deps, optional, &mut scope, Scope::Required);
    let extras: Vec<Edge> = roots
        .iter()
        .flat_map(|&r| optional[r].values().flatten().cloned().collect::<Vec<_>>())
        .collect();
    mark_reachable(&extras, deps, optional, &mut scope, Scope::Optional);
    let groups: Vec<Edge> = roots.iter().flat_map(|&r| dev[r].iter().cloned()).collect();
    mark_reachable(&groups, deps, optional, &mut scope, Scope::Excluded);

    // Components, with a `#n` suffix on the bom-ref when two packages share a purl.
    let mut refs: Vec<String> = Vec::with_capacity(packages.len());
    let mut seen_refs: HashMap<String, usize> = HashMap::new();
    let root_set: HashSet<usize> = roots.iter().copied().collect();
    for (i, p) in packages.iter().enumerate() {
        let version = p.version.clone().unwrap_or_default();
        let mut c = component(p.name.get_ref(), &version, &source.relative);
        let n = seen_refs.entry(c.purl.clone()).or_insert(0);
        *n += 1;
        if *n > 1 {
            c.bom_ref = format!("{}#{n}", c.purl);
        }
        if root_set.contains(&i) {
            c.kind = ComponentKind::Application;
        }
        c.scope = scope[i].unwrap_or(Scope::Required);
        c.source = p.source.as_ref().and_then(Source::describe);
        if p.source.as_ref().is_some_and(|s| s.editable.is_some()) {
            c.properties.insert("tollgate:python:editable".into(), "true".into());
        }
        let dist = |a: &Artifact| -> Result<Distribution, SbomError> {
            let url = a.url.clone().or_else(|| a.path.clone()).or_else(|| a.filename.clone());
            let mut hashes = Vec::new();
            if let Some(h) = &a.hash {
                match parse_hash(h) {
                    Some(h) => hashes.push(h),
                    None if is_ignored_hash(h) => {}
                    None => {
                        return Err(SbomError::malformed(
                            source.at_line(source.line_of(p.name.span().start)),
                            format!("package `{}`: unreadable hash `{h}`", p.name.get_ref()),
                        ));
                    }
                }
            }
            Ok(Distribution { url: url.unwrap_or_default(), hashes })
        };
        let sdist = p.sdist.as_ref().map(&dist).transpose()?;
        let wheels: Vec<Distribution> = p.wheels.iter().map(&dist).collect::<Result<_, _>>()?;
        let primary = match (&sdist, wheels.as_slice()) {
            (Some(s), _) if !s.hashes.is_empty() => Some(s),
            (_, [only]) => Some(only),
            _ => None,
        };
        if let Some(d) = primary {
            c.hashes = d.hashes.clone();
        }
        c.distributions = sdist.into_iter().chain(wheels).collect();
        c.distributions.sort();
        refs.push(c.bom_ref.clone());
        inventory.add(c);
    }

    for (i, from) in refs.iter().enumerate() {
        let targets = deps[i].iter().chain(optional[i].values().flatten()).chain(dev[i].iter());
        for (t, _) in targets {
            if *t != i {
                inventory.depend(from, &refs[*t]);
            }
        }
    }

    check_manifest(root, lockfile, &lock, &roots, &graph, &mut inventory)?;
    inventory.normalize();
    Ok(inventory)
}

/// Every dependency `pyproject.toml` declares must be on the matching root in `uv.lock`.
fn check_manifest(
    root: &Path,
    lockfile: &Path,
    lock: &UvLock,
    roots: &[usize],
    graph: &Graph,
    inventory: &mut Inventory,
) -> Result<(), SbomError> {
    let Graph { deps, optional, dev } = graph;
    let Some(manifest) = pyproject::read_beside(root, lockfile)? else {
        return Ok(());
    };
    inventory.inputs.insert(manifest.source.relative.clone(), manifest.source.digest.clone());
    let Some(project) = manifest.name.as_deref().map(normalize) else {
        return Ok(());
    };
    let Some(&r) = roots.iter().find(|&&r| normalize(lock.package[r].name.get_ref()) == project)
    else {
        return crate::catalog::drift::report(SbomError::OutOfSync {
            place: manifest.source.at_line(1),
            manifest: manifest.source.path.clone(),
            message: format!("project `{project}` is not a package in uv.lock"),
        });
    };
    let name_of = |(t, _): &Edge| normalize(lock.package[*t].name.get_ref());
    let main: HashSet<String> = deps[r].iter().map(name_of).collect();
    let extra: HashSet<String> = optional[r].values().flatten().map(name_of).collect();
    let group: HashSet<String> = dev[r].iter().map(name_of).collect();
    for decl in &manifest.declared {
        if decl.name == project {
            continue;
        }
        let locked = match decl.kind {
            DeclKind::Main => &main,
            DeclKind::Extra(_) => &extra,
            DeclKind::Group(_) => &group,
        };
        if !locked.contains(&decl.name) {
            let table = match &decl.kind {
                DeclKind::Main => "dependencies".to_owned(),
                DeclKind::Extra(e) => format!("extra `{e}`"),
                DeclKind::Group(g) => format!("group `{g}`"),
            };
            crate::catalog::drift::report(SbomError::OutOfSync {
                place: manifest.source.at_line(decl.line),
                manifest: manifest.source.path.clone(),
                message: format!(
                    "`{}` is declared in {table} but uv.lock does not lock it for `{project}`",
                    decl.name
                ),
            })?;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::HashAlgorithm;

    const FIXTURE: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/python-uv");

    fn fixture() -> Inventory {
        let root = Path::new(FIXTURE);
        catalog(root, &root.join("uv.lock")).unwrap()
    }

    /// Copies the fixture to a temporary directory, rewriting one file.
    fn altered(file: &str, edit: impl Fn(&str) -> String) -> tempfile::TempDir {
        let dir = tempfile::tempdir().unwrap();
        for name in ["uv.lock", "pyproject.toml"] {
            let text = std::fs::read_to_string(Path::new(FIXTURE).join(name)).unwrap();
            let text = if name == file { edit(&text) } else { text };
            std::fs::write(dir.path().join(name), text).unwrap();
        }
        dir
    }

    #[test]
    fn real_lockfile_components_and_purls() {
        let inv = fixture();
        let refs: Vec<&str> = inv.components.keys().map(String::as_str).collect();
        assert_eq!(
            refs,
            [
                "pkg:pypi/colorama@0.4.6",
                "pkg:pypi/demo-app@0.3.1",
                "pkg:pypi/iniconfig@2.1.0",
                "pkg:pypi/iniconfig@2.3.1",
                "pkg:pypi/localpkg@0.1.0",
                "pkg:pypi/pysocks@1.7.1",
                "pkg:pypi/python-dateutil@2.9.0.post0",
                "pkg:pypi/six@1.17.0",
            ]
        );
        assert_eq!(inv.roots.iter().collect::<Vec<_>>(), ["pkg:pypi/demo-app@0.3.1"]);
        let app = inv.get("pkg:pypi/demo-app@0.3.1").unwrap();
        assert_eq!(app.kind, ComponentKind::Application);
        assert_eq!(app.source.as_deref(), Some("path+."));
        assert!(app.found_in.contains("uv.lock"));
        assert_eq!(inv.inputs.len(), 2, "uv.lock and pyproject.toml");
    }

    #[test]
    fn real_lockfile_edges_and_scopes() {
        let inv = fixture();
        let deps = |r: &str| inv.dependencies[r].iter().map(String::as_str).collect::<Vec<_>>();
        assert_eq!(
            deps("pkg:pypi/demo-app@0.3.1"),
            [
                "pkg:pypi/colorama@0.4.6",
                "pkg:pypi/iniconfig@2.1.0",
                "pkg:pypi/iniconfig@2.3.1",
                "pkg:pypi/localpkg@0.1.0",
                "pkg:pypi/pysocks@1.7.1",
                "pkg:pypi/python-dateutil@2.9.0.post0",
            ]
        );
        assert_eq!(deps("pkg:pypi/python-dateutil@2.9.0.post0"), ["pkg:pypi/six@1.17.0"]);
        assert_eq!(deps("pkg:pypi/localpkg@0.1.0"), ["pkg:pypi/six@1.17.0"]);
        assert!(deps("pkg:pypi/six@1.17.0").is_empty());
        let scope = |r: &str| inv.get(r).unwrap().scope;
        assert_eq!(scope("pkg:pypi/six@1.17.0"), Scope::Required);
        assert_eq!(scope("pkg:pypi/colorama@0.4.6"), Scope::Required);
        assert_eq!(scope("pkg:pypi/pysocks@1.7.1"), Scope::Optional);
        assert_eq!(scope("pkg:pypi/iniconfig@2.1.0"), Scope::Excluded);
        assert_eq!(scope("pkg:pypi/iniconfig@2.3.1"), Scope::Excluded);
        let local = inv.get("pkg:pypi/localpkg@0.1.0").unwrap();
        assert_eq!(local.source.as_deref(), Some("path+localpkg"));
        assert_eq!(local.properties["tollgate:python:editable"], "true");
    }

    #[test]
    fn real_lockfile_hashes_and_distributions() {
        let inv = fixture();
        let six = inv.get("pkg:pypi/six@1.17.0").unwrap();
        assert_eq!(six.source.as_deref(), Some("https://pypi.org/simple"));
        assert_eq!(six.hashes.len(), 1);
        assert_eq!(six.hashes[0].algorithm, HashAlgorithm::Sha256);
        assert_eq!(
            six.hashes[0].hex, "ff70335d468e7eb6ec65b95b99d3a2836546063f63acc5171de367e834932a81",
            "the sdist's hash"
        );
        assert_eq!(six.distributions.len(), 2);
        assert!(six.distributions.iter().any(
            |d| d.url.ends_with("six-1.17.0-py2.py3-none-any.whl")
                && d.hashes[0].hex
                    == "4721f391ed90541fddacab5acf947aa0d3dc7d27b2e1e8eda2be8970586c3274"
        ));
        let local = inv.get("pkg:pypi/localpkg@0.1.0").unwrap();
        assert!(local.hashes.is_empty() && local.distributions.is_empty());
        assert!(local.license.is_none());
    }

    #[test]
    fn unknown_version_names_its_line() {
        let dir = altered("uv.lock", |t| t.replacen("version = 1\n", "version = 2\n", 1));
        let err = catalog(dir.path(), &dir.path().join("uv.lock")).unwrap_err();
        assert!(
            matches!(&err, SbomError::UnsupportedVersion { place, version, .. }
                if place.line == Some(1) && version == "2"),
            "{err}"
        );
    }

    #[test]
    fn truncated_lockfile_is_malformed_with_line() {
        let dir = altered("uv.lock", |t| {
            let cut = t.find("[[package]]\nname = \"six\"").unwrap();
            format!("{}[[package]]\nname = \"six\"\nversion = \"1.17", &t[..cut])
        });
        let err = catalog(dir.path(), &dir.path().join("uv.lock")).unwrap_err();
        let SbomError::Malformed { place, .. } = &err else { panic!("{err}") };
        assert!(place.path.ends_with("uv.lock"));
        let lines = std::fs::read_to_string(dir.path().join("uv.lock")).unwrap().lines().count();
        assert_eq!(place.line, Some(lines), "{err}");
    }

    #[test]
    fn dangling_dependency_is_malformed() {
        let dir = altered("uv.lock", |t| {
            t.replacen(
                "dependencies = [\n    { name = \"six\" },\n]\nsdist",
                "dependencies = [\n    { name = \"sux\" },\n]\nsdist",
                1,
            )
        });
        let err = catalog(dir.path(), &dir.path().join("uv.lock")).unwrap_err();
        assert!(err.to_string().contains("`sux`"), "{err}");
        assert!(matches!(err, SbomError::Malformed { .. }));
    }

    #[test]
    fn manifest_dependency_missing_from_lock_is_out_of_sync() {
        let dir = altered("pyproject.toml", |t| {
            t.replacen("    \"localpkg\",\n", "    \"localpkg\",\n    \"requests>=2\",\n", 1)
        });
        let err = catalog(dir.path(), &dir.path().join("uv.lock")).unwrap_err();
        let SbomError::OutOfSync { place, message, .. } = &err else { panic!("{err}") };
        assert_eq!(place.line, Some(9), "{err}");
        assert!(place.path.ends_with("pyproject.toml"));
        assert!(message.contains("`requests`"), "{message}");
    }

    #[test]
    fn workspace_members_git_sources_and_duplicate_purls() {
        let tmp = tempfile::tempdir().unwrap();
        let lock = r#"version = 1
revision = 3
requires-python = ">=3.12"

[manifest]
members = ["svc-a", "svc-b"]

[[package]]
name = "click"
version = "8.1.7"
source = { git = "https://github.com/pallets/click.git?tag=8.1.7#0d3a5c2a8e1a4b0e7f5d0c6f1a2b3c4d5e6f7a8b" }

[[package]]
name = "click"
version = "8.1.7"
source = { registry = "https://pypi.org/simple" }
wheels = [{ url = "https://example.org/click-8.1.7-py3-none-any.whl", hash = "sha256:ae74fb96c20a0277a1d615f1e4d73c8414f5a98db8b799a7931d1582f3390c28" }]

[[package]]
name = "svc-a"
version = "0.1.0"
source = { editable = "packages/svc-a" }
dependencies = [{ name = "click", version = "8.1.7", source = { git = "https://github.com/pallets/click.git?tag=8.1.7#0d3a5c2a8e1a4b0e7f5d0c6f1a2b3c4d5e6f7a8b" } }]

[[package]]
name = "svc-b"
version = "0.1.0"
source = { virtual = "packages/svc-b" }
dependencies = [{ name = "click", version = "8.1.7", source = { registry = "https://pypi.org/simple" } }]
"#;
        std::fs::write(tmp.path().join("uv.lock"), lock).unwrap();
        let inv = catalog(tmp.path(), &tmp.path().join("uv.lock")).unwrap();
        assert_eq!(
            inv.roots.iter().collect::<Vec<_>>(),
            ["pkg:pypi/svc-a@0.1.0", "pkg:pypi/svc-b@0.1.0"]
        );
        let git = inv.get("pkg:pypi/click@8.1.7").unwrap();
        assert!(
            git.source
                .as_deref()
                .unwrap()
                .starts_with("git+https://github.com/pallets/click.git?tag=8.1.7#0d3a")
        );
        let registry = inv.get("pkg:pypi/click@8.1.7#2").unwrap();
        assert_eq!(registry.purl, "pkg:pypi/click@8.1.7");
        assert_eq!(registry.hashes.len(), 1, "the only wheel's hash");
        assert_eq!(
            inv.dependencies["pkg:pypi/svc-a@0.1.0"].iter().collect::<Vec<_>>(),
            ["pkg:pypi/click@8.1.7"]
        );
        assert_eq!(
            inv.dependencies["pkg:pypi/svc-b@0.1.0"].iter().collect::<Vec<_>>(),
            ["pkg:pypi/click@8.1.7#2"]
        );
    }
}
