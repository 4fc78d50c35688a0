//! `pubspec.lock`, with the `pubspec.yaml` beside it.
//!
//! Every entry under `packages` becomes a component (`pkg:pub/name@version`) with property
//! `tollgate:dart:dependency` holding pub's word for it (`direct main`, `direct dev`,
//! `direct overridden`, `transitive`). Sources: hosted packages get the registry URL and their
//! `sha256` as the component hash, git packages `git+URL#resolved-ref`, path packages
//! `path+…`, SDK packages property `tollgate:dart:sdk` (the SDK's name).
//!
//! The application root comes from `pubspec.yaml` (name, version, description) and carries
//! the lockfile's `sdks` constraints as `tollgate:dart:sdk:<sdk>` properties. It depends on the
//! `direct main` and `direct dev` packages; `direct dev` ones are `Excluded`. `pubspec.lock`
//! has no graph: a package's edges come from its own `pubspec.yaml` (`dependencies` that are
//! locked), read from the tree for path packages and from the pub cache (`$PUB_CACHE`, else
//! `~/.pub-cache`) for hosted and git ones. A package whose pubspec is in neither (SDK
//! packages, an empty cache) has property `tollgate:dart:dependencies` = `unknown`, and the
//! root says `tollgate:dart:graph` = `partial`. Every package `pubspec.yaml` lists under
//! `dependencies` or `dev_dependencies` must be locked, else [`SbomError::OutOfSync`] names
//! its line in `pubspec.yaml`. Without a `pubspec.yaml` there is no root.

use crate::catalog::{SourceFile, purl};
use crate::error::Place;
use crate::{
    Component, ComponentKind, Ecosystem, Hash, HashAlgorithm, Inventory, SbomError, Scope,
};
use serde::Deserialize;
use serde::de::IgnoredAny;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

#[derive(Deserialize)]
struct PubspecLock {
    #[serde(default)]
    packages: Option<BTreeMap<String, LockPackage>>,
    #[serde(default)]
    sdks: Option<BTreeMap<String, String>>,
}

#[derive(Deserialize)]
struct LockPackage {
    dependency: String,
    description: Description,
    source: String,
    version: String,
}

#[derive(Deserialize)]
#[serde(untagged)]
enum Description {
    /// SDK packages: the SDK's name (`flutter`, `dart`).
    Sdk(String),
    /// Hosted, git and path packages.
    Detailed(DescriptionMap),
}

#[derive(Deserialize)]
struct DescriptionMap {
    #[serde(default)]
    url: Option<String>,
    #[serde(default)]
    sha256: Option<String>,
    #[serde(default)]
    path: Option<String>,
    #[serde(default, rename = "ref")]
    git_ref: Option<String>,
    #[serde(default, rename = "resolved-ref")]
    resolved_ref: Option<String>,
}

#[derive(Deserialize)]
struct Pubspec {
    #[serde(default)]
    name: Option<String>,
    #[serde(default)]
    version: Option<serde_yaml_ng::Value>,
    #[serde(default)]
    description: Option<String>,
    #[serde(default)]
    dependencies: Option<BTreeMap<String, IgnoredAny>>,
    #[serde(default)]
    dev_dependencies: Option<BTreeMap<String, IgnoredAny>>,
}

/// Catalogues one `pubspec.lock` (and the `pubspec.yaml` beside it, when there is one), with
/// edges from the packages' pubspecs in the tree and the user's pub cache.
pub fn catalog(root: &Path, lockfile: &Path) -> Result<Inventory, SbomError> {
    catalog_with(root, lockfile, default_pub_cache().as_deref())
}

/// Where pub keeps downloaded packages: `$PUB_CACHE`, else `~/.pub-cache`.
fn default_pub_cache() -> Option<PathBuf> {
    std::env::var_os("PUB_CACHE")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".pub-cache")))
}

/// The `pubspec.yaml` of a locked package, where pub would have put it.
fn package_pubspec(
    lock_dir: &Path,
    pub_cache: Option<&Path>,
    name: &str,
    package: &LockPackage,
) -> Option<PathBuf> {
    let Description::Detailed(d) = &package.description else { return None };
    let candidates: Vec<PathBuf> = match package.source.as_str() {
        "path" => vec![lock_dir.join(d.path.as_deref()?)],
        "hosted" => {
            let cache = pub_cache?.join("hosted");
            let url = d.url.as_deref().unwrap_or("https://pub.dev");
            let host = url.split_once("://").map_or(url, |(_, h)| h).trim_end_matches('/');
            let hosts: Vec<String> = match host {
                "pub.dev" | "pub.dartlang.org" => vec!["pub.dev".into(), "pub.dartlang.org".into()],
                other => vec![other.replace(':', "%3A").replace('/', "%2F")],
            };
            let dir = format!("{name}-{}", package.version);
            hosts.into_iter().map(|h| cache.join(h).join(&dir)).collect()
        }
        "git" => {
            let rev = d.resolved_ref.as_deref()?;
            let checkout = pub_cache?.join("git").join(format!("{name}-{rev}"));
            vec![match d.path.as_deref().filter(|p| *p != ".") {
                Some(sub) => checkout.join(sub),
                None => checkout,
            }]
        }
        _ => Vec::new(),
    };
    candidates.into_iter().map(|dir| dir.join("pubspec.yaml")).find(|p| p.is_file())
}

fn catalog_with(
    root: &Path,
    lockfile: &Path,
    pub_cache: Option<&Path>,
) -> Result<Inventory, SbomError> {
    let source = SourceFile::read(root, lockfile)?;
    let mut inventory = Inventory::default();
    inventory.inputs.insert(source.relative.clone(), source.digest.clone());
    crate::catalog::yaml::check(&source.path, &source.text)?;
    let lock: PubspecLock =
        serde_yaml_ng::from_str(&source.text).map_err(|e| SbomError::yaml(&source.path, &e))?;
    if lock.packages.is_none() && !source.text.lines().any(|l| l.trim_end() == "packages:") {
        let last = source.text.lines().count().max(1);
        return Err(SbomError::malformed(source.at_line(last), "no `packages` section"));
    }
    let packages = lock.packages.unwrap_or_default();

    let mut direct = Vec::new();
    for (name, p) in &packages {
        let line = || key_line(&source.text, "packages", name).unwrap_or(1);
        let mut c = Component::new(
            Ecosystem::Dart,
            None,
            name,
            &p.version,
            purl("pub", None, name, &p.version, &[]),
        );
        c.found_in.insert(source.relative.clone());
        c.properties.insert("tollgate:dart:dependency".into(), p.dependency.clone());
        match (&p.description, p.source.as_str()) {
            (Description::Sdk(sdk), _) => {
                c.properties.insert("tollgate:dart:sdk".into(), sdk.clone());
            }
            (Description::Detailed(d), "hosted") => {
                c.source.clone_from(&d.url);
                if let Some(sha) = &d.sha256 {
                    let hex = sha.trim().to_ascii_lowercase();
                    if hex.len() != 64 || !hex.bytes().all(|b| b.is_ascii_hexdigit()) {
                        return Err(SbomError::malformed(
                            source.at_line(line()),
                            format!("package `{name}`: sha256 `{sha}` is not 64 hex digits"),
                        ));
                    }
                    c.hashes = vec![Hash { algorithm: HashAlgorithm::Sha256, hex }];
                }
            }
            (Description::Detailed(d), "git") => {
                let url = d.url.as_deref().unwrap_or_default();
                let url = url.strip_prefix("git+").unwrap_or(url);
                c.source = Some(match d.resolved_ref.as_deref().or(d.git_ref.as_deref()) {
                    Some(rev) => format!("git+{url}#{rev}"),
                    None => format!("git+{url}"),
                });
                if let Some(p) = d.path.as_deref().filter(|p| *p != ".") {
                    c.properties.insert("tollgate:dart:git:path".into(), p.to_owned());
                }
            }
            (Description::Detailed(d), "path") => {
                c.source = d.path.as_ref().map(|p| format!("path+{p}"));
            }
            (Description::Detailed(d), other) => {
                c.source = d.url.clone();
                c.properties.insert("tollgate:dart:source".into(), other.to_owned());
            }
        }
        match p.dependency.as_str() {
            "direct dev" => {
                c.scope = Scope::Excluded;
                direct.push(c.bom_ref.clone());
            }
            "direct main" => direct.push(c.bom_ref.clone()),
            _ => {}
        }
        inventory.add(c);
    }

    // Edges between packages, from their own pubspecs where pub left them.
    let lock_dir = lockfile.parent().unwrap_or(Path::new("."));
    let mut unknown = 0;
    for (name, p) in &packages {
        let from = purl("pub", None, name, &p.version, &[]);
        let pubspec = package_pubspec(lock_dir, pub_cache, name, p).and_then(|path| {
            let text = std::fs::read_to_string(&path).ok()?;
            crate::catalog::yaml::check(&path, &text).ok()?;
            serde_yaml_ng::from_str::<Pubspec>(&text).ok()
        });
        let Some(pubspec) = pubspec else {
            unknown += 1;
            if let Some(c) = inventory.components.get_mut(&from) {
                c.properties.insert("tollgate:dart:dependencies".into(), "unknown".into());
            }
            continue;
        };
        for dep in pubspec.dependencies.iter().flat_map(BTreeMap::keys) {
            if let Some(to) = packages.get(dep) {
                inventory.depend(&from, &purl("pub", None, dep, &to.version, &[]));
            }
        }
    }

    let manifest_path = lockfile.with_file_name("pubspec.yaml");
    if manifest_path.is_file() {
        let manifest = SourceFile::read(root, &manifest_path)?;
        inventory.inputs.insert(manifest.relative.clone(), manifest.digest.clone());
        crate::catalog::yaml::check(&manifest.path, &manifest.text)?;
        let pubspec: Pubspec = serde_yaml_ng::from_str(&manifest.text)
            .map_err(|e| SbomError::yaml(&manifest.path, &e))?;
        for (section, deps) in [
            ("dependencies", &pubspec.dependencies),
            ("dev_dependencies", &pubspec.dev_dependencies),
        ] {
            for name in deps.iter().flat_map(BTreeMap::keys) {
                if !packages.contains_key(name) {
                    let line = key_line(&manifest.text, section, name).unwrap_or(1);
                    crate::catalog::drift::report(SbomError::OutOfSync {
                        place: manifest.at_line(line),
                        manifest: manifest.path.clone(),
                        message: format!("`{name}` ({section}) is not in pubspec.lock"),
                    })?;
                }
            }
        }
        let name = pubspec.name.clone().ok_or_else(|| {
            SbomError::malformed(Place::file(&manifest.path), "pubspec.yaml has no `name`")
        })?;
        let version = match &pubspec.version {
            Some(serde_yaml_ng::Value::String(s)) => s.clone(),
            Some(serde_yaml_ng::Value::Number(n)) => n.to_string(),
            _ => String::new(),
        };
        let mut p = purl("pub", None, &name, &version, &[]);
        if version.is_empty() {
            p = p.strip_suffix('@').map(str::to_owned).unwrap_or(p);
        }
        let mut app = Component::new(Ecosystem::Dart, None, &name, &version, p);
        app.kind = ComponentKind::Application;
        app.description = pubspec.description.clone();
        app.found_in.insert(source.relative.clone());
        for (sdk, constraint) in lock.sdks.iter().flatten() {
            app.properties.insert(format!("tollgate:dart:sdk:{sdk}"), constraint.clone());
        }
        if unknown > 0 {
            app.properties.insert("tollgate:dart:graph".into(), "partial".into());
        }
        let app_ref = app.bom_ref.clone();
        inventory.add(app);
        for to in &direct {
            if *to != app_ref {
                inventory.depend(&app_ref, to);
            }
        }
    }
    inventory.normalize();
    Ok(inventory)
}

/// The 1-based line of `key:` directly under the top-level `section:` of a block-style YAML
/// file (pub writes both files that way).
fn key_line(text: &str, section: &str, key: &str) -> Option<usize> {
    let mut lines = text.lines().enumerate();
    lines.find(|(_, l)| l.trim_end() == format!("{section}:"))?;
    let mut indent = None;
    for (i, line) in lines {
        let trimmed = line.trim_start();
        if trimmed.is_empty() || trimmed.starts_with('#') {
            continue;
        }
        let depth = line.len() - trimmed.len();
        if depth == 0 {
            return None;
        }
        if *indent.get_or_insert(depth) != depth {
            continue;
        }
        let name = trimmed.split(':').next().unwrap_or_default().trim().trim_matches(['"', '\'']);
        if name == key {
            return Some(i + 1);
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    const FIXTURE: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/dart-flutter-app");

    fn run() -> Inventory {
        let root = Path::new(FIXTURE);
        catalog_with(root, &root.join("pubspec.lock"), None).unwrap()
    }

    /// Edges come from the packages' pubspecs: the path package's in the tree, hosted ones
    /// from the pub cache; what neither has is marked unknown and the graph partial.
    #[test]
    fn edges_from_pubspecs_in_the_tree_and_the_pub_cache() {
        let root = Path::new(FIXTURE);
        let without = run();
        assert_eq!(
            without.dependencies["pkg:pub/local_utils@0.1.0"].iter().collect::<Vec<_>>(),
            ["pkg:pub/collection@1.19.1"]
        );
        let uuid = "pkg:pub/uuid@4.5.1";
        assert!(without.dependencies[uuid].is_empty());
        assert_eq!(without.get(uuid).unwrap().properties["tollgate:dart:dependencies"], "unknown");
        let app = without.roots.iter().next().unwrap();
        assert_eq!(without.get(app).unwrap().properties["tollgate:dart:graph"], "partial");
        assert!(
            !without
                .get("pkg:pub/local_utils@0.1.0")
                .unwrap()
                .properties
                .contains_key("tollgate:dart:dependencies")
        );

        let cache = tempfile::tempdir().unwrap();
        let uuid_dir = cache.path().join("hosted/pub.dev/uuid-4.5.1");
        std::fs::create_dir_all(&uuid_dir).unwrap();
        std::fs::write(
            uuid_dir.join("pubspec.yaml"),
            "name: uuid\nversion: 4.5.1\ndependencies:\n  crypto: ^3.0.0\n  sprintf: ^7.0.0\n  meta: ^1.0.0\n  fixnum: ^1.1.0\n  not_locked: ^1.0.0\ndev_dependencies:\n  lints: ^5.0.0\n",
        )
        .unwrap();
        let with = catalog_with(root, &root.join("pubspec.lock"), Some(cache.path())).unwrap();
        assert_eq!(
            with.dependencies[uuid].iter().collect::<Vec<_>>(),
            [
                "pkg:pub/crypto@3.0.6",
                "pkg:pub/fixnum@1.1.1",
                "pkg:pub/meta@1.16.0",
                "pkg:pub/sprintf@7.0.0",
            ]
        );
        assert!(!with.get(uuid).unwrap().properties.contains_key("tollgate:dart:dependencies"));
    }

    fn altered(
        lock_edit: impl Fn(&str) -> String,
        pubspec_edit: impl Fn(&str) -> Option<String>,
    ) -> tempfile::TempDir {
        let dir = tempfile::tempdir().unwrap();
        let read = |n: &str| std::fs::read_to_string(Path::new(FIXTURE).join(n)).unwrap();
        std::fs::write(dir.path().join("pubspec.lock"), lock_edit(&read("pubspec.lock"))).unwrap();
        if let Some(p) = pubspec_edit(&read("pubspec.yaml")) {
            std::fs::write(dir.path().join("pubspec.yaml"), p).unwrap();
        }
        dir
    }

    fn line_of(dir: &tempfile::TempDir, file: &str, needle: &str) -> usize {
        let text = std::fs::read_to_string(dir.path().join(file)).unwrap();
        text.lines().position(|l| l.contains(needle)).unwrap() + 1
    }

    #[test]
    fn components_purls_and_root() {
        let inv = run();
        assert_eq!(inv.components.len(), 17);
        let root = "pkg:pub/tollgate_flutter_fixture@1.4.2%2B7";
        assert_eq!(inv.roots.iter().collect::<Vec<_>>(), [root]);
        let app = inv.get(root).unwrap();
        assert_eq!(app.kind, ComponentKind::Application);
        assert_eq!(app.version, "1.4.2+7");
        assert_eq!(app.properties["tollgate:dart:sdk:dart"], ">=3.7.0 <4.0.0");
        assert_eq!(app.properties["tollgate:dart:sdk:flutter"], ">=3.24.0");
        assert_eq!(
            inv.dependencies[root].iter().map(String::as_str).collect::<Vec<_>>(),
            [
                "pkg:pub/flutter@0.0.0",
                "pkg:pub/graphview@1.5.1",
                "pkg:pub/lints@5.1.1",
                "pkg:pub/local_utils@0.1.0",
                "pkg:pub/path@1.9.1",
                "pkg:pub/uuid@4.5.1",
            ]
        );
        // Without a pub cache, only the path package's pubspec gives edges.
        assert!(inv.dependencies.iter().all(|(from, to)| from == root
            || from == "pkg:pub/local_utils@0.1.0"
            || to.is_empty()));
        assert!(inv.get("pkg:pub/vector_math@2.1.4").is_some());
        assert_eq!(inv.inputs.keys().collect::<Vec<_>>(), ["pubspec.lock", "pubspec.yaml"]);
    }

    #[test]
    fn sources_hashes_and_scopes() {
        let inv = run();
        let uuid = inv.get("pkg:pub/uuid@4.5.1").unwrap();
        assert_eq!(uuid.source.as_deref(), Some("https://pub.dev"));
        assert_eq!(
            uuid.hashes,
            [Hash {
                algorithm: HashAlgorithm::Sha256,
                hex: "a5be9ef6618a7ac1e964353ef476418026db906c4facdedaa299b7a2e71690ff".into()
            }]
        );
        assert_eq!(uuid.scope, Scope::Required);
        assert!(uuid.found_in.contains("pubspec.lock"));
        assert_eq!(inv.get("pkg:pub/lints@5.1.1").unwrap().scope, Scope::Excluded);
        let git = inv.get("pkg:pub/graphview@1.5.1").unwrap();
        assert_eq!(
            git.source.as_deref(),
            Some(
                "git+https://github.com/ThalesMMS/graphview.git#a87a7a4818bc294487a1daa4365191a41b1d55d8"
            )
        );
        let local = inv.get("pkg:pub/local_utils@0.1.0").unwrap();
        assert_eq!(local.source.as_deref(), Some("path+packages/local_utils"));
        let flutter = inv.get("pkg:pub/flutter@0.0.0").unwrap();
        assert_eq!(flutter.properties["tollgate:dart:sdk"], "flutter");
        assert!(flutter.hashes.is_empty() && flutter.source.is_none());
        let meta = inv.get("pkg:pub/meta@1.16.0").unwrap();
        assert_eq!(meta.properties["tollgate:dart:dependency"], "direct overridden");
        assert_eq!(meta.scope, Scope::Required);
    }

    #[test]
    fn without_pubspec_yaml_there_is_no_root() {
        let dir = altered(str::to_owned, |_| None);
        let inv = catalog(dir.path(), &dir.path().join("pubspec.lock")).unwrap();
        assert_eq!(inv.components.len(), 16);
        assert!(inv.roots.is_empty());
    }

    #[test]
    fn declared_but_unlocked_is_out_of_sync() {
        let dir = altered(
            |l| {
                let start = l.find("  uuid:\n").unwrap();
                let end = l.find("  vector_math:\n").unwrap();
                format!("{}{}", &l[..start], &l[end..])
            },
            |p| Some(p.to_owned()),
        );
        let err = catalog(dir.path(), &dir.path().join("pubspec.lock")).unwrap_err();
        let SbomError::OutOfSync { place, message, .. } = &err else { panic!("{err}") };
        assert!(message.contains("`uuid`"), "{message}");
        assert!(place.path.ends_with("pubspec.yaml"));
        assert_eq!(place.line, Some(line_of(&dir, "pubspec.yaml", "uuid: ^4.5.1")));
    }

    #[test]
    fn truncated_lock_is_malformed_with_line() {
        // Cut inside the git entry: it lacks `source` and `version`.
        let dir =
            altered(|l| l[..l.find("    source: git").unwrap()].to_owned(), |p| Some(p.to_owned()));
        let err = catalog(dir.path(), &dir.path().join("pubspec.lock")).unwrap_err();
        let SbomError::Malformed { place, message } = &err else { panic!("{err}") };
        assert!(place.path.ends_with("pubspec.lock"));
        assert_eq!(place.line, Some(line_of(&dir, "pubspec.lock", "  graphview:") + 1), "{err}");
        assert!(message.contains("graphview") && message.contains("source"), "{message}");

        // Cut inside a flow sequence: a syntax error at its line.
        let dir = altered(
            |l| {
                l[..l.find("    source: git").unwrap()]
                    .replace("resolved-ref: a87", "resolved-ref: [a87")
            },
            |p| Some(p.to_owned()),
        );
        let err = catalog(dir.path(), &dir.path().join("pubspec.lock")).unwrap_err();
        assert!(
            matches!(&err, SbomError::Malformed { place, .. } if place.line.is_some()),
            "{err}"
        );

        // Cut before `packages:`.
        let dir = altered(|l| l[..l.find("packages:").unwrap()].to_owned(), |p| Some(p.to_owned()));
        let err = catalog(dir.path(), &dir.path().join("pubspec.lock")).unwrap_err();
        assert!(
            matches!(&err, SbomError::Malformed { place, .. } if place.line == Some(2)),
            "{err}"
        );
    }

    #[test]
    fn missing_field_and_bad_hash_are_malformed() {
        let dir = altered(|l| l.replacen("    source: hosted\n", "", 1), |p| Some(p.to_owned()));
        let err = catalog(dir.path(), &dir.path().join("pubspec.lock")).unwrap_err();
        assert!(
            matches!(&err, SbomError::Malformed { place, .. } if place.line.is_some()),
            "{err}"
        );
        assert!(err.to_string().contains("source"), "{err}");

        let dir = altered(
            |l| {
                l.replace(
                    "sha256: a5be9ef6618a7ac1e964353ef476418026db906c4facdedaa299b7a2e71690ff",
                    "sha256: nothex",
                )
            },
            |p| Some(p.to_owned()),
        );
        let err = catalog(dir.path(), &dir.path().join("pubspec.lock")).unwrap_err();
        let SbomError::Malformed { place, .. } = &err else { panic!("{err}") };
        assert_eq!(place.line, Some(line_of(&dir, "pubspec.lock", "  uuid:")));
    }

    #[test]
    fn key_lines_stay_in_their_section() {
        let text = "a:\n  x: 1\nb:\n  # c\n  y:\n    x: 2\n  x: 3\n";
        assert_eq!(key_line(text, "a", "x"), Some(2));
        assert_eq!(key_line(text, "b", "x"), Some(7));
        assert_eq!(key_line(text, "b", "z"), None);
    }
}
