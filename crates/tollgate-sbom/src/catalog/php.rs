//! `composer.lock` (Composer 1 and 2), with the `composer.json` beside it.
//!
//! `packages` are what the project runs with, `packages-dev` what only development needs
//! (`Excluded`). Each package is `pkg:composer/vendor/name@version`; its `require` entries that
//! name packages (`vendor/name`, not platform requirements such as `php` or `ext-json`) are its
//! edges. Sources: `git+URL#reference` for git sources, `path+…` for path repositories, else
//! the dist URL; a non-empty `dist.shasum` is the component's SHA-1. Licences (an array
//! meaning a choice) are joined with `OR`.
//!
//! The root is the project from `composer.json` (its `name`, else the directory's), depending
//! on its `require` (and, as development edges, `require-dev`). Every package either lists
//! must be locked, else the lockfile is out of date.

use crate::catalog::{SourceFile, drift, purl};
use crate::error::Place;
use crate::{
    Component, ComponentKind, Ecosystem, Hash, HashAlgorithm, Inventory, SbomError, Scope,
};
use serde::Deserialize;
use std::collections::BTreeMap;
use std::path::Path;

/// `plugin-api-version` majors read (Composer 1 locks have none).
const SUPPORTED: &str = "1, 2";

#[derive(Deserialize)]
struct Lock {
    packages: Option<Vec<Package>>,
    #[serde(rename = "packages-dev", default)]
    packages_dev: Vec<Package>,
    #[serde(rename = "plugin-api-version", default)]
    plugin_api_version: Option<String>,
}

#[derive(Deserialize)]
struct Package {
    name: String,
    version: String,
    #[serde(default)]
    source: Option<Location>,
    #[serde(default)]
    dist: Option<Location>,
    #[serde(default)]
    require: BTreeMap<String, String>,
    #[serde(default)]
    license: Vec<String>,
    #[serde(default)]
    description: Option<String>,
    #[serde(default)]
    homepage: Option<String>,
}

#[derive(Deserialize)]
struct Location {
    #[serde(rename = "type")]
    kind: String,
    url: String,
    #[serde(default)]
    reference: Option<String>,
    #[serde(default)]
    shasum: Option<String>,
}

#[derive(Deserialize)]
struct Manifest {
    #[serde(default)]
    name: Option<String>,
    #[serde(default)]
    version: Option<String>,
    #[serde(default)]
    description: Option<String>,
    #[serde(default)]
    require: BTreeMap<String, String>,
    #[serde(rename = "require-dev", default)]
    require_dev: BTreeMap<String, String>,
}

/// A requirement on a package, not on the platform (`php`, `ext-*`, `lib-*`, `composer*`).
fn is_package(name: &str) -> bool {
    name.contains('/')
}

fn composer_purl(name: &str, version: &str) -> String {
    let (vendor, package) = name.split_once('/').unwrap_or(("", name));
    let p = purl("composer", (!vendor.is_empty()).then_some(vendor), package, version, &[]);
    if version.is_empty() { p.trim_end_matches('@').to_owned() } else { p }
}

/// Catalogues one `composer.lock`.
pub fn catalog(root: &Path, lockfile: &Path) -> Result<Inventory, SbomError> {
    let source = SourceFile::read(root, lockfile)?;
    let mut inventory = Inventory::default();
    inventory.inputs.insert(source.relative.clone(), source.digest.clone());
    let lock: Lock =
        serde_json::from_str(&source.text).map_err(|e| SbomError::json(&source.path, &e))?;
    let line_of =
        |needle: &str| source.text.lines().position(|l| l.contains(needle)).map_or(1, |i| i + 1);
    if let Some(v) = &lock.plugin_api_version
        && !matches!(v.split('.').next(), Some("1" | "2"))
    {
        return Err(SbomError::UnsupportedVersion {
            place: source.at_line(line_of("\"plugin-api-version\"")),
            what: "composer.lock plugin-api-version",
            version: v.clone(),
            supported: SUPPORTED,
        });
    }
    let Some(packages) = &lock.packages else {
        return Err(SbomError::malformed(source.at_line(1), "/packages: missing"));
    };

    let mut by_name: BTreeMap<String, String> = BTreeMap::new();
    for (list, scope) in [(packages, Scope::Required), (&lock.packages_dev, Scope::Excluded)] {
        for p in list {
            let bom_ref = composer_purl(&p.name, &p.version);
            by_name.insert(p.name.to_ascii_lowercase(), bom_ref.clone());
            let mut c = Component::new(Ecosystem::Php, None, &p.name, &p.version, bom_ref);
            c.found_in.insert(source.relative.clone());
            c.scope = scope;
            c.description.clone_from(&p.description);
            c.homepage.clone_from(&p.homepage);
            if !p.license.is_empty() {
                c.license = Some(p.license.join(" OR "));
            }
            c.source = match (&p.source, &p.dist) {
                (Some(s), _) if s.kind == "git" => Some(match &s.reference {
                    Some(r) => format!("git+{}#{r}", s.url),
                    None => format!("git+{}", s.url),
                }),
                (_, Some(d)) if d.kind == "path" => Some(format!("path+{}", d.url)),
                (_, Some(d)) => Some(d.url.clone()),
                (Some(s), None) => Some(s.url.clone()),
                (None, None) => None,
            };
            if let Some(sha) = p.dist.as_ref().and_then(|d| d.shasum.as_deref()) {
                if sha.len() == 40 && sha.bytes().all(|b| b.is_ascii_hexdigit()) {
                    c.hashes = vec![Hash {
                        algorithm: HashAlgorithm::Sha1,
                        hex: sha.to_ascii_lowercase(),
                    }];
                } else if !sha.is_empty() {
                    return Err(SbomError::malformed(
                        source.at_line(line_of(&format!("\"{sha}\""))),
                        format!("{}: dist shasum `{sha}` is not 40 hex digits", p.name),
                    ));
                }
            }
            inventory.add(c);
        }
    }
    for p in packages.iter().chain(&lock.packages_dev) {
        let from = composer_purl(&p.name, &p.version);
        for dep in p.require.keys().filter(|d| is_package(d)) {
            match by_name.get(&dep.to_ascii_lowercase()) {
                Some(to) => inventory.depend(&from, to),
                None => {
                    return Err(SbomError::malformed(
                        source.at_line(line_of(&format!("\"name\": \"{}\"", p.name))),
                        format!("{} requires `{dep}`, which is not in the lockfile", p.name),
                    ));
                }
            }
        }
    }

    let manifest_path = lockfile.with_file_name("composer.json");
    if manifest_path.is_file() {
        let manifest_file = SourceFile::read(root, &manifest_path)?;
        inventory.inputs.insert(manifest_file.relative.clone(), manifest_file.digest.clone());
        let manifest: Manifest = serde_json::from_str(&manifest_file.text)
            .map_err(|e| SbomError::json(&manifest_file.path, &e))?;
        let name = manifest.name.clone().unwrap_or_else(|| {
            lock_dir_name(lockfile).unwrap_or_else(|| "composer-project".to_owned())
        });
        let version = manifest.version.clone().unwrap_or_default();
        let mut app =
            Component::new(Ecosystem::Php, None, &name, &version, composer_purl(&name, &version));
        app.kind = ComponentKind::Application;
        app.description.clone_from(&manifest.description);
        app.found_in.insert(source.relative.clone());
        let app_ref = app.bom_ref.clone();
        inventory.add(app);
        for (section, deps) in
            [("require", &manifest.require), ("require-dev", &manifest.require_dev)]
        {
            for dep in deps.keys().filter(|d| is_package(d)) {
                match by_name.get(&dep.to_ascii_lowercase()) {
                    Some(to) => inventory.depend(&app_ref, to),
                    None => {
                        let line = manifest_file
                            .text
                            .lines()
                            .position(|l| l.contains(&format!("\"{dep}\"")))
                            .map_or(1, |i| i + 1);
                        drift::report(SbomError::OutOfSync {
                            place: Place::line(&manifest_file.path, line),
                            manifest: manifest_file.path.clone(),
                            message: format!(
                                "`{dep}` ({section}) is not in composer.lock (run `composer update --lock`)"
                            ),
                        })?;
                    }
                }
            }
        }
    }
    inventory.normalize();
    Ok(inventory)
}

fn lock_dir_name(lockfile: &Path) -> Option<String> {
    let canonical = std::fs::canonicalize(lockfile).ok()?;
    Some(canonical.parent()?.file_name()?.to_string_lossy().into_owned())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::catalog::npm::test_support::deps;

    const FIXTURE: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/php-composer");

    fn scratch(lock: &str, manifest: Option<&str>) -> Result<Inventory, SbomError> {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("composer.lock"), lock).unwrap();
        if let Some(m) = manifest {
            std::fs::write(dir.path().join("composer.json"), m).unwrap();
        }
        catalog(dir.path(), &dir.path().join("composer.lock"))
    }

    fn fixture(name: &str) -> String {
        std::fs::read_to_string(Path::new(FIXTURE).join(name)).unwrap()
    }

    /// The fixture was written by `composer update --no-install` (Composer 2.5.5) from its
    /// composer.json, with a path repository (no package registry is reachable here).
    #[test]
    fn packages_dev_packages_edges_and_licences() {
        let root = Path::new(FIXTURE);
        let inv = catalog(root, &root.join("composer.lock")).unwrap();
        let app = "pkg:composer/acme/platform-api";
        assert_eq!(inv.roots.iter().collect::<Vec<_>>(), [app]);
        assert_eq!(
            deps(&inv, app),
            ["pkg:composer/acme/http@1.2.3", "pkg:composer/acme/testkit@0.3.0"]
        );
        assert_eq!(deps(&inv, "pkg:composer/acme/http@1.2.3"), ["pkg:composer/acme/logger@2.0.1"]);
        let logger = inv.get("pkg:composer/acme/logger@2.0.1").unwrap();
        assert_eq!(logger.license.as_deref(), Some("Apache-2.0"));
        assert_eq!(logger.source.as_deref(), Some("path+packages/logger"));
        assert_eq!(logger.name, "acme/logger");
        assert_eq!(inv.get("pkg:composer/acme/testkit@0.3.0").unwrap().scope, Scope::Excluded);
        assert_eq!(inv.inputs.keys().collect::<Vec<_>>(), ["composer.json", "composer.lock"]);
    }

    #[test]
    fn registry_packages_keep_their_case_in_names_not_purls() {
        let lock = r#"{"packages": [{"name": "Symfony/Yaml", "version": "v7.1.0",
            "source": {"type": "git", "url": "https://github.com/symfony/yaml.git", "reference": "fa34c77"},
            "dist": {"type": "zip", "url": "https://api.github.com/repos/symfony/yaml/zipball/fa34c77", "reference": "fa34c77", "shasum": "0123456789ABCDEF0123456789abcdef01234567"},
            "require": {"php": ">=8.2", "ext-ctype": "*"}, "license": ["MIT", "Apache-2.0"]}],
            "packages-dev": [], "plugin-api-version": "2.6.0"}"#;
        let inv = scratch(lock, None).unwrap();
        let yaml = inv.get("pkg:composer/symfony/yaml@v7.1.0").unwrap();
        assert_eq!(yaml.name, "Symfony/Yaml");
        assert_eq!(yaml.source.as_deref(), Some("git+https://github.com/symfony/yaml.git#fa34c77"));
        assert_eq!(yaml.hashes[0].hex, "0123456789abcdef0123456789abcdef01234567");
        assert_eq!(yaml.license.as_deref(), Some("MIT OR Apache-2.0"));
    }

    #[test]
    fn truncated_wrong_version_dangling_and_out_of_sync() {
        let lock = fixture("composer.lock");
        let cut = &lock[..lock.len() / 2];
        let err = scratch(cut, None).unwrap_err();
        let SbomError::Malformed { place, .. } = &err else { panic!("{err}") };
        assert_eq!(place.line, Some(cut.matches('\n').count() + 1), "EOF at the last line");

        let future = lock.replace("\"plugin-api-version\": \"2.", "\"plugin-api-version\": \"3.");
        match scratch(&future, None).unwrap_err() {
            SbomError::UnsupportedVersion { version, .. } => assert!(version.starts_with("3.")),
            other => panic!("{other}"),
        }

        let dangling = lock.replacen("\"acme/logger\": \"^2.0\"", "\"acme/missing\": \"^2.0\"", 1);
        let err = scratch(&dangling, None).unwrap_err().to_string();
        assert!(err.contains("requires `acme/missing`, which is not in the lockfile"), "{err}");

        let manifest = fixture("composer.json").replace(
            "\"acme/http\": \"^1.2\"",
            "\"acme/http\": \"^1.2\",\n        \"acme/cache\": \"^1.0\"",
        );
        match scratch(&lock, Some(&manifest)).unwrap_err() {
            SbomError::OutOfSync { place, message, .. } => {
                assert_eq!(place.line, Some(12));
                assert!(message.contains("`acme/cache`"), "{message}");
            }
            other => panic!("{other}"),
        }
    }
}
