//! `Pipfile.lock` (pipenv, `_meta.pipfile-spec` 6), with the `Pipfile` beside it.
//!
//! The lock is flat: `default` holds what the project runs with, `develop` its development
//! packages (`Excluded` unless also in `default`). It records no graph, so the root — an
//! application named after the directory — depends on every package, as for requirements
//! files. Versions are the `==` pins; VCS and path packages (`git` + `ref`, `path`) get
//! `git+URL#ref` / `path+…` sources and no version unless pinned. With one hash a package gets
//! it as its component hash; all hashes are kept in `tollgate:python:hashes`. `index` names one
//! of `_meta.sources`, whose URL becomes the package's source (the first source when none is
//! named, as pipenv resolves from it). Every package the `Pipfile` lists under `[packages]` or
//! `[dev-packages]` must be locked in the matching section, else the lockfile is out of date.

use super::common::{component, normalize, parse_hash, pypi_purl};
use crate::catalog::{SourceFile, drift};
use crate::error::Place;
use crate::{Component, ComponentKind, Ecosystem, Inventory, SbomError, Scope};
use serde::Deserialize;
use std::collections::BTreeMap;
use std::path::Path;

/// The `_meta.pipfile-spec` versions read.
const SUPPORTED: &str = "6";

#[derive(Deserialize)]
struct Lock {
    #[serde(rename = "_meta")]
    meta: Option<Meta>,
    #[serde(default)]
    default: BTreeMap<String, Package>,
    #[serde(default)]
    develop: BTreeMap<String, Package>,
}

#[derive(Deserialize)]
struct Meta {
    #[serde(rename = "pipfile-spec")]
    pipfile_spec: Option<serde_json::Value>,
    #[serde(default)]
    sources: Vec<Source>,
}

/// The parts of a `Pipfile` checked against the lock.
#[derive(Deserialize)]
struct Pipfile {
    #[serde(default)]
    packages: BTreeMap<String, toml::Spanned<toml::Value>>,
    #[serde(rename = "dev-packages", default)]
    dev_packages: BTreeMap<String, toml::Spanned<toml::Value>>,
}

#[derive(Deserialize)]
struct Source {
    name: String,
    url: String,
}

#[derive(Deserialize)]
struct Package {
    #[serde(default)]
    version: Option<String>,
    #[serde(default)]
    hashes: Vec<String>,
    #[serde(default)]
    index: Option<String>,
    #[serde(default)]
    markers: Option<String>,
    #[serde(default)]
    extras: Vec<String>,
    #[serde(default)]
    git: Option<String>,
    #[serde(rename = "ref", default)]
    git_ref: Option<String>,
    #[serde(default)]
    path: Option<String>,
    #[serde(default)]
    editable: bool,
}

/// Catalogues one `Pipfile.lock`.
pub fn catalog(root: &Path, lockfile: &Path) -> Result<Inventory, SbomError> {
    let source = SourceFile::read(root, lockfile)?;
    let mut inventory = Inventory::default();
    inventory.inputs.insert(source.relative.clone(), source.digest.clone());
    let lock: Lock =
        serde_json::from_str(&source.text).map_err(|e| SbomError::json(&source.path, &e))?;
    let line_of =
        |needle: &str| source.text.lines().position(|l| l.contains(needle)).map_or(1, |i| i + 1);
    let Some(meta) = lock.meta else {
        return Err(SbomError::malformed(source.at_line(1), "/_meta: missing"));
    };
    match &meta.pipfile_spec {
        Some(serde_json::Value::Number(n)) if n.as_u64() == Some(6) => {}
        other => {
            return Err(SbomError::UnsupportedVersion {
                place: source.at_line(line_of("\"pipfile-spec\"")),
                what: "Pipfile.lock _meta.pipfile-spec",
                version: other.as_ref().map_or_else(|| "(missing)".to_owned(), ToString::to_string),
                supported: SUPPORTED,
            });
        }
    }
    let index_url = |index: Option<&str>| -> Option<String> {
        match index {
            Some(name) => meta.sources.iter().find(|s| s.name == name).map(|s| s.url.clone()),
            None => meta.sources.first().map(|s| s.url.clone()),
        }
    };

    let dir_name = std::fs::canonicalize(lockfile)
        .ok()
        .and_then(|p| {
            p.parent().and_then(|d| d.file_name()).map(|n| n.to_string_lossy().into_owned())
        })
        .unwrap_or_else(|| "pipenv".to_owned());
    let mut app = Component::new(Ecosystem::Python, None, &dir_name, "", pypi_purl(&dir_name, ""));
    app.kind = ComponentKind::Application;
    app.found_in.insert(source.relative.clone());
    let app_ref = app.bom_ref.clone();
    inventory.add(app);

    for (section, packages, scope) in
        [("default", &lock.default, Scope::Required), ("develop", &lock.develop, Scope::Excluded)]
    {
        for (name, p) in packages {
            let at = || source.at_line(line_of(&format!("\"{name}\"")));
            let version = match p.version.as_deref() {
                Some(v) => v.strip_prefix("==").unwrap_or(v).to_owned(),
                None => String::new(),
            };
            let mut c = component(name, &version, &source.relative);
            c.scope = scope;
            c.source = match (&p.git, &p.path) {
                (Some(url), _) => Some(match &p.git_ref {
                    Some(r) => format!("git+{}#{r}", url.trim_start_matches("git+")),
                    None => format!("git+{}", url.trim_start_matches("git+")),
                }),
                (None, Some(path)) => Some(format!("path+{path}")),
                (None, None) => index_url(p.index.as_deref()),
            };
            if version.is_empty() && p.git.is_none() && p.path.is_none() {
                c.properties.insert("tollgate:python:unpinned".into(), "true".into());
            }
            if p.editable {
                c.properties.insert("tollgate:python:editable".into(), "true".into());
            }
            if !p.extras.is_empty() {
                c.properties.insert("tollgate:python:extras".into(), p.extras.join(","));
            }
            if let Some(markers) = &p.markers {
                c.properties.insert("tollgate:python:marker".into(), markers.clone());
            }
            let mut hashes = Vec::with_capacity(p.hashes.len());
            for h in &p.hashes {
                hashes.push(parse_hash(h).ok_or_else(|| {
                    SbomError::malformed(
                        at(),
                        format!("/{section}/{name}/hashes: `{h}` is not `algorithm:hex`"),
                    )
                })?);
            }
            if !hashes.is_empty() {
                c.properties.insert("tollgate:python:hashes".into(), p.hashes.join(" "));
            }
            if let [only] = hashes.as_slice() {
                c.hashes = vec![only.clone()];
            }
            inventory.depend(&app_ref, &c.bom_ref);
            inventory.add(c);
        }
    }
    check_pipfile(root, lockfile, &lock.default, &lock.develop, &mut inventory)?;
    inventory.normalize();
    Ok(inventory)
}

/// Every package the `Pipfile` beside the lock lists is locked in the matching section.
fn check_pipfile(
    root: &Path,
    lockfile: &Path,
    default: &BTreeMap<String, Package>,
    develop: &BTreeMap<String, Package>,
    inventory: &mut Inventory,
) -> Result<(), SbomError> {
    let path = lockfile.with_file_name("Pipfile");
    if !path.is_file() {
        return Ok(());
    }
    let pipfile = SourceFile::read(root, &path)?;
    inventory.inputs.insert(pipfile.relative.clone(), pipfile.digest.clone());
    let pipfile_doc: Pipfile = toml::from_str(&pipfile.text)
        .map_err(|e| SbomError::toml(&pipfile.path, &pipfile.text, &e))?;
    for (section, declared, locked, lock_section) in [
        ("packages", &pipfile_doc.packages, default, "default"),
        ("dev-packages", &pipfile_doc.dev_packages, develop, "develop"),
    ] {
        let locked: Vec<String> = locked.keys().map(|k| normalize(k)).collect();
        for (name, spec) in declared {
            if !locked.contains(&normalize(name)) {
                let line = pipfile.line_of(spec.span().start);
                drift::report(SbomError::OutOfSync {
                    place: Place::line(&pipfile.path, line),
                    manifest: pipfile.path.clone(),
                    message: format!(
                        "`{name}` ([{section}]) is not locked in Pipfile.lock \"{lock_section}\" (run `pipenv lock`)"
                    ),
                })?;
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::PathBuf;

    const FIXTURE: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/python-pipenv");

    fn scratch(lock: &str, pipfile: Option<&str>) -> (tempfile::TempDir, PathBuf) {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("Pipfile.lock");
        std::fs::write(&path, lock).unwrap();
        if let Some(p) = pipfile {
            std::fs::write(dir.path().join("Pipfile"), p).unwrap();
        }
        (dir, path)
    }

    fn fixture(name: &str) -> String {
        std::fs::read_to_string(Path::new(FIXTURE).join(name)).unwrap()
    }

    /// The fixture was written by `pipenv lock` (pipenv 2026.10.3) from its `Pipfile`.
    #[test]
    fn default_and_develop_packages_with_hashes_and_sources() {
        let root = Path::new(FIXTURE);
        let inv = catalog(root, &root.join("Pipfile.lock")).unwrap();
        let refs: Vec<&str> = inv.components.keys().map(String::as_str).collect();
        assert_eq!(
            refs,
            [
                "pkg:pypi/attrs@26.1.0",
                "pkg:pypi/certifi@2026.10.19.post1",
                "pkg:pypi/charset-normalizer@3.5.3",
                "pkg:pypi/idna@3.21",
                "pkg:pypi/iniconfig@2.3.1",
                "pkg:pypi/python-pipenv",
                "pkg:pypi/requests@2.32.3",
                "pkg:pypi/urllib3@2.8.0",
            ]
        );
        let app = "pkg:pypi/python-pipenv";
        assert_eq!(inv.roots.iter().collect::<Vec<_>>(), [app]);
        assert_eq!(inv.dependencies[app].len(), 7);
        let requests = inv.get("pkg:pypi/requests@2.32.3").unwrap();
        assert_eq!(requests.scope, Scope::Required);
        assert_eq!(requests.source.as_deref(), Some("https://pypi.org/simple"));
        assert_eq!(requests.properties["tollgate:python:marker"], "python_version >= '3.8'");
        assert_eq!(requests.properties["tollgate:python:hashes"].split(' ').count(), 2);
        let certifi = inv.get("pkg:pypi/certifi@2026.10.19.post1").unwrap();
        assert_eq!(certifi.hashes.len(), 1, "one hash: the component's");
        assert_eq!(inv.get("pkg:pypi/iniconfig@2.3.1").unwrap().scope, Scope::Excluded);
        assert_eq!(inv.inputs.keys().collect::<Vec<_>>(), ["Pipfile", "Pipfile.lock"]);
    }

    #[test]
    fn truncated_wrong_version_and_out_of_sync() {
        let lock = fixture("Pipfile.lock");
        let cut = &lock[..lock.len() / 2];
        let (_dir, path) = scratch(cut, None);
        let err = catalog(path.parent().unwrap(), &path).unwrap_err();
        let SbomError::Malformed { place, .. } = &err else { panic!("{err}") };
        assert_eq!(place.line, Some(cut.lines().count()), "{err}");

        let future = lock.replace("\"pipfile-spec\": 6", "\"pipfile-spec\": 7");
        let (_dir, path) = scratch(&future, None);
        match catalog(path.parent().unwrap(), &path).unwrap_err() {
            SbomError::UnsupportedVersion { version, place, .. } => {
                assert_eq!(version, "7");
                assert_eq!(
                    place.line,
                    Some(future.lines().position(|l| l.contains("pipfile-spec")).unwrap() + 1)
                );
            }
            other => panic!("{other}"),
        }

        let pipfile = fixture("Pipfile").replace("attrs = \"*\"", "attrs = \"*\"\nflask = \"*\"");
        let (_dir, path) = scratch(&lock, Some(&pipfile));
        match catalog(path.parent().unwrap(), &path).unwrap_err() {
            SbomError::OutOfSync { place, message, .. } => {
                assert!(place.path.ends_with("Pipfile"));
                assert_eq!(place.line, Some(9));
                assert!(message.contains("`flask`"), "{message}");
            }
            other => panic!("{other}"),
        }
    }
}
