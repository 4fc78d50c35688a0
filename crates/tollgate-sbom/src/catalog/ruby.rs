//! `Gemfile.lock` (Bundler 1 to 4), with the `Gemfile` beside it.
//!
//! Sections start at column 0. `GEM`, `GIT` and `PATH` list sources: a `remote:` (and for git
//! a `revision:`), then under `specs:` one gem per line at four spaces, `name (version)` or
//! `name (version-platform)`, with its dependencies at six spaces. `DEPENDENCIES` lists what the
//! Gemfile asks for (`name!` when pinned to a git or path source), `CHECKSUMS` (Bundler 2.5+)
//! `name (version) sha256=hex`. Components are `pkg:gem/name@version` (with `?platform=` for
//! platform gems); a dependency edge goes to every locked variant of the named gem.
//!
//! The root is an application named after the directory; it depends on `DEPENDENCIES`. The
//! lock does not record Gemfile groups, so the `Gemfile` is read for them: gems declared only
//! inside `group :development` / `:test` blocks (or with such a `group:` option), and what
//! only they reach, are `Excluded`. Every `gem` the Gemfile declares must be in
//! `DEPENDENCIES`, else the lockfile is out of date.

use crate::catalog::{SourceFile, drift, purl};
use crate::error::Place;
use crate::{
    Component, ComponentKind, Ecosystem, Hash, HashAlgorithm, Inventory, SbomError, Scope,
};
use std::collections::{BTreeMap, BTreeSet, VecDeque};
use std::path::Path;

/// `BUNDLED WITH` major versions read (the format has not changed across them).
const SUPPORTED: &str = "1 to 4";

/// One locked gem.
struct Spec {
    name: String,
    version: String,
    platform: Option<String>,
    source: Option<String>,
    deps: Vec<(String, usize)>,
    line: usize,
}

/// Catalogues one `Gemfile.lock`.
pub fn catalog(root: &Path, lockfile: &Path) -> Result<Inventory, SbomError> {
    let source = SourceFile::read(root, lockfile)?;
    let mut inventory = Inventory::default();
    inventory.inputs.insert(source.relative.clone(), source.digest.clone());
    let lock = parse(&source)?;

    let dir_name = std::fs::canonicalize(lockfile)
        .ok()
        .and_then(|p| {
            p.parent().and_then(|d| d.file_name()).map(|n| n.to_string_lossy().into_owned())
        })
        .unwrap_or_else(|| "bundle".to_owned());
    let mut app = Component::new(
        Ecosystem::Ruby,
        None,
        &dir_name,
        "",
        purl("gem", None, &dir_name, "", &[]).trim_end_matches('@').to_owned(),
    );
    app.kind = ComponentKind::Application;
    app.found_in.insert(source.relative.clone());
    let app_ref = app.bom_ref.clone();

    let mut by_name: BTreeMap<&str, Vec<usize>> = BTreeMap::new();
    for (i, spec) in lock.specs.iter().enumerate() {
        by_name.entry(spec.name.as_str()).or_default().push(i);
    }
    let refs: Vec<String> = lock.specs.iter().map(spec_purl).collect();
    let mut edges: Vec<Vec<usize>> = vec![Vec::new(); lock.specs.len()];
    for (i, spec) in lock.specs.iter().enumerate() {
        for (dep, line) in &spec.deps {
            let Some(targets) = by_name.get(dep.as_str()) else {
                return Err(SbomError::malformed(
                    source.at_line(*line),
                    format!("{} depends on `{dep}`, which has no spec in the lockfile", spec.name),
                ));
            };
            edges[i].extend(targets);
        }
    }

    let gemfile = read_gemfile(root, lockfile, &mut inventory)?;
    if let Some(gemfile) = &gemfile {
        for (name, line) in &gemfile.declared {
            if !lock.dependencies.iter().any(|(d, _)| d == name) {
                drift::report(SbomError::OutOfSync {
                    place: Place::line(&gemfile.path, *line),
                    manifest: gemfile.path.clone(),
                    message: format!(
                        "gem `{name}` is not in Gemfile.lock DEPENDENCIES (run `bundle lock`)"
                    ),
                })?;
            }
        }
    }
    let dev_only = |name: &str| gemfile.as_ref().is_some_and(|g| g.dev_only.contains(name));

    let mut scope: Vec<Option<Scope>> = vec![None; lock.specs.len()];
    for mark in [Scope::Required, Scope::Excluded] {
        let mut queue: VecDeque<usize> = VecDeque::new();
        for (name, line) in &lock.dependencies {
            if (mark == Scope::Excluded) != dev_only(name) {
                continue;
            }
            let Some(targets) = by_name.get(name.as_str()) else {
                return Err(SbomError::malformed(
                    source.at_line(*line),
                    format!("DEPENDENCIES names `{name}`, which has no spec in the lockfile"),
                ));
            };
            queue.extend(targets);
        }
        while let Some(i) = queue.pop_front() {
            if scope[i].is_some() {
                continue;
            }
            scope[i] = Some(mark);
            queue.extend(&edges[i]);
        }
    }

    inventory.add(app);
    for (i, spec) in lock.specs.iter().enumerate() {
        let mut c = Component::new(Ecosystem::Ruby, None, &spec.name, &spec.version, &refs[i]);
        c.found_in.insert(source.relative.clone());
        c.source.clone_from(&spec.source);
        c.scope = scope[i].unwrap_or(Scope::Required);
        if let Some(platform) = &spec.platform {
            c.properties.insert("tollgate:ruby:platform".into(), platform.clone());
        }
        if let Some(hex) = lock.checksums.get(&(spec.name.clone(), full_version(spec))) {
            c.hashes = vec![Hash { algorithm: HashAlgorithm::Sha256, hex: hex.clone() }];
        }
        inventory.add(c);
        for &to in &edges[i] {
            inventory.depend(&refs[i], &refs[to]);
        }
    }
    for (name, _) in &lock.dependencies {
        for &to in by_name.get(name.as_str()).into_iter().flatten() {
            inventory.depend(&app_ref, &refs[to]);
        }
    }
    if let Some(bundler) = &lock.bundled_with
        && let Some(app) = inventory.components.get_mut(&app_ref)
    {
        app.properties.insert("tollgate:ruby:bundler".into(), bundler.clone());
    }
    inventory.normalize();
    Ok(inventory)
}

fn full_version(spec: &Spec) -> String {
    match &spec.platform {
        Some(p) => format!("{}-{p}", spec.version),
        None => spec.version.clone(),
    }
}

fn spec_purl(spec: &Spec) -> String {
    match &spec.platform {
        Some(p) => purl("gem", None, &spec.name, &spec.version, &[("platform", p)]),
        None => purl("gem", None, &spec.name, &spec.version, &[]),
    }
}

/// The parsed lockfile.
#[derive(Default)]
struct Lock {
    specs: Vec<Spec>,
    /// `DEPENDENCIES`: names with their lines.
    dependencies: Vec<(String, usize)>,
    /// `CHECKSUMS`: (name, version[-platform]) -> sha256 hex.
    checksums: BTreeMap<(String, String), String>,
    bundled_with: Option<String>,
}

fn parse(source: &SourceFile) -> Result<Lock, SbomError> {
    let mut lock = Lock::default();
    let mut section = String::new();
    let mut remote: Option<String> = None;
    let mut revision: Option<String> = None;
    let mut in_specs = false;
    let mut seen_dependencies = false;
    for (i, raw) in source.text.lines().enumerate() {
        let line = i + 1;
        let bad = |m: String| SbomError::malformed(source.at_line(line), m);
        if raw.trim().is_empty() {
            continue;
        }
        let indent = raw.len() - raw.trim_start_matches(' ').len();
        let text = raw.trim();
        if indent == 0 {
            section = text.to_owned();
            (remote, revision, in_specs) = (None, None, false);
            seen_dependencies |= section == "DEPENDENCIES";
            continue;
        }
        match section.as_str() {
            "GEM" | "GIT" | "PATH" | "PLUGIN SOURCE" => {
                if indent == 2 {
                    in_specs = text == "specs:";
                    if let Some(url) = text.strip_prefix("remote: ") {
                        remote = Some(url.to_owned());
                    } else if let Some(rev) = text.strip_prefix("revision: ") {
                        revision = Some(rev.to_owned());
                    }
                } else if indent == 4 && in_specs {
                    let (name, version) = name_and_paren(text)
                        .and_then(|(n, v)| Some((n, v?)))
                        .ok_or_else(|| bad(format!("`{text}` is not `name (version)`")))?;
                    let (version, platform) = split_platform(version);
                    let origin = remote.as_deref().map(|r| match section.as_str() {
                        "GIT" => match &revision {
                            Some(rev) => format!("git+{r}#{rev}"),
                            None => format!("git+{r}"),
                        },
                        "PATH" => format!("path+{r}"),
                        _ => r.to_owned(),
                    });
                    lock.specs.push(Spec {
                        name: name.to_owned(),
                        version: version.to_owned(),
                        platform: platform.map(str::to_owned),
                        source: origin,
                        deps: Vec::new(),
                        line,
                    });
                } else if indent == 6 && in_specs {
                    let (name, _) = name_and_paren(text)
                        .ok_or_else(|| bad(format!("`{text}` is not a dependency")))?;
                    let spec = lock
                        .specs
                        .last_mut()
                        .ok_or_else(|| bad("a dependency before any gem".to_owned()))?;
                    spec.deps.push((name.to_owned(), line));
                } else if in_specs {
                    return Err(bad(format!("unexpected indentation ({indent} spaces)")));
                }
            }
            "DEPENDENCIES" => {
                let (name, _) = name_and_paren(text)
                    .ok_or_else(|| bad(format!("`{text}` is not a dependency")))?;
                lock.dependencies.push((name.trim_end_matches('!').to_owned(), line));
            }
            "CHECKSUMS" => {
                let Some((head, sum)) = text.rsplit_once(' ') else { continue };
                if let (Some((name, Some(version))), Some(hex)) =
                    (name_and_paren(head), sum.strip_prefix("sha256="))
                {
                    lock.checksums.insert((name.to_owned(), version.to_owned()), hex.to_owned());
                }
            }
            "BUNDLED WITH" => {
                let major = text.split('.').next().and_then(|m| m.parse::<u64>().ok());
                if !major.is_some_and(|m| (1..=4).contains(&m)) {
                    return Err(SbomError::UnsupportedVersion {
                        place: source.at_line(line),
                        what: "Gemfile.lock BUNDLED WITH",
                        version: text.to_owned(),
                        supported: SUPPORTED,
                    });
                }
                lock.bundled_with = Some(text.to_owned());
            }
            _ => {}
        }
    }
    if !seen_dependencies {
        let last = source.text.lines().count().max(1);
        return Err(SbomError::malformed(
            source.at_line(last),
            "no DEPENDENCIES section (truncated?)",
        ));
    }
    if let Some(spec) = lock.specs.iter().find(|s| s.version.is_empty()) {
        return Err(SbomError::malformed(source.at_line(spec.line), "a gem without a version"));
    }
    Ok(lock)
}

/// `name (inside)` -> (`name`, `Some(inside)`); `name` -> (`name`, `None`).
fn name_and_paren(text: &str) -> Option<(&str, Option<&str>)> {
    match text.split_once(" (") {
        Some((name, rest)) => {
            let inside = rest.strip_suffix(')')?;
            (!name.is_empty()).then_some((name, Some(inside)))
        }
        None => (!text.is_empty() && !text.contains(' ')).then_some((text, None)),
    }
}

/// `1.16.0-x86_64-linux` -> (`1.16.0`, `Some("x86_64-linux")`): the platform starts at the
/// first `-` followed by a letter (prerelease versions use `.pre`, not `-`).
fn split_platform(version: &str) -> (&str, Option<&str>) {
    let bytes = version.as_bytes();
    for (i, b) in bytes.iter().enumerate() {
        if *b == b'-' && bytes.get(i + 1).is_some_and(u8::is_ascii_alphabetic) {
            return (&version[..i], Some(&version[i + 1..]));
        }
    }
    (version, None)
}

/// What the `Gemfile` says that the lock does not.
struct Gemfile {
    path: std::path::PathBuf,
    /// Every `gem "name"` with its line.
    declared: Vec<(String, usize)>,
    /// Gems declared only in development or test groups.
    dev_only: BTreeSet<String>,
}

/// Reads the `Gemfile` beside the lock, line by line (it is Ruby; only the plain
/// `gem "name"` and `group :a, :b do … end` forms are understood).
fn read_gemfile(
    root: &Path,
    lockfile: &Path,
    inventory: &mut Inventory,
) -> Result<Option<Gemfile>, SbomError> {
    let path = lockfile.with_file_name("Gemfile");
    if !path.is_file() {
        return Ok(None);
    }
    let file = SourceFile::read(root, &path)?;
    inventory.inputs.insert(file.relative.clone(), file.digest.clone());
    let dev_group = |groups: &str| {
        let names: Vec<&str> = groups
            .split(|c: char| c == ',' || c == '[' || c == ']' || c.is_whitespace())
            .map(|g| g.trim_start_matches(':').trim_matches(['"', '\'']))
            .filter(|g| !g.is_empty())
            .collect();
        !names.is_empty() && names.iter().all(|g| matches!(*g, "development" | "test"))
    };
    let mut stack: Vec<bool> = Vec::new();
    let mut declared = Vec::new();
    let mut dev: BTreeMap<String, bool> = BTreeMap::new();
    for (i, raw) in file.text.lines().enumerate() {
        let text = raw.split('#').next().unwrap_or_default().trim();
        if let Some(groups) = text.strip_prefix("group ").and_then(|g| g.strip_suffix(" do")) {
            stack.push(dev_group(groups));
        } else if text.ends_with(" do") || text == "do" {
            stack.push(stack.last().copied().unwrap_or(false));
        } else if text == "end" {
            stack.pop();
        } else if let Some(rest) = text.strip_prefix("gem ") {
            let quoted = rest.trim_start();
            let Some(quote) = quoted.chars().next().filter(|c| *c == '"' || *c == '\'') else {
                continue;
            };
            let Some(name) = quoted[1..].split(quote).next() else { continue };
            let in_dev_block = stack.last().copied().unwrap_or(false);
            let option_dev = rest
                .split_once("group:")
                .or_else(|| rest.split_once("groups:"))
                .is_some_and(|(_, g)| dev_group(g));
            let is_dev = in_dev_block || option_dev;
            declared.push((name.to_owned(), i + 1));
            let entry = dev.entry(name.to_owned()).or_insert(true);
            *entry &= is_dev;
        }
    }
    let dev_only = dev.into_iter().filter(|(_, d)| *d).map(|(n, _)| n).collect();
    Ok(Some(Gemfile { path: file.path, declared, dev_only }))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::catalog::npm::test_support::deps;

    const FIXTURE: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/ruby-bundler");

    fn scratch(lock: &str, gemfile: Option<&str>) -> Result<Inventory, SbomError> {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("Gemfile.lock"), lock).unwrap();
        if let Some(g) = gemfile {
            std::fs::write(dir.path().join("Gemfile"), g).unwrap();
        }
        catalog(dir.path(), &dir.path().join("Gemfile.lock"))
    }

    fn fixture(name: &str) -> String {
        std::fs::read_to_string(Path::new(FIXTURE).join(name)).unwrap()
    }

    /// The fixture was written by `bundle lock --local` (Bundler 2.3.15) from its Gemfile.
    #[test]
    fn gems_edges_and_development_scope() {
        let root = Path::new(FIXTURE);
        let inv = catalog(root, &root.join("Gemfile.lock")).unwrap();
        let app = "pkg:gem/ruby-bundler";
        assert_eq!(inv.roots.iter().collect::<Vec<_>>(), [app]);
        assert_eq!(
            deps(&inv, app),
            [
                "pkg:gem/debug@1.4.0",
                "pkg:gem/minitest@5.15.0",
                "pkg:gem/rake@13.0.6",
                "pkg:gem/test-unit@3.5.3"
            ]
        );
        assert_eq!(
            deps(&inv, "pkg:gem/debug@1.4.0"),
            ["pkg:gem/irb@1.4.1", "pkg:gem/reline@0.3.0"]
        );
        assert_eq!(deps(&inv, "pkg:gem/reline@0.3.0"), ["pkg:gem/io-console@0.5.11"]);
        assert_eq!(inv.get("pkg:gem/minitest@5.15.0").unwrap().scope, Scope::Excluded);
        assert_eq!(inv.get("pkg:gem/io-console@0.5.11").unwrap().scope, Scope::Required);
        let rake = inv.get("pkg:gem/rake@13.0.6").unwrap();
        assert_eq!(rake.source.as_deref(), Some("https://rubygems.org/"));
        assert_eq!(inv.get(app).unwrap().properties["tollgate:ruby:bundler"], "2.3.15");
        assert_eq!(inv.inputs.keys().collect::<Vec<_>>(), ["Gemfile", "Gemfile.lock"]);
    }

    #[test]
    fn platforms_git_sources_and_checksums() {
        let lock = "GIT\n  remote: https://github.com/x/y.git\n  revision: abc123\n  specs:\n    y (0.1.0)\n\nGEM\n  remote: https://rubygems.org/\n  specs:\n    nokogiri (1.16.0-x86_64-linux)\n      racc (~> 1.4)\n    racc (1.7.3)\n\nPLATFORMS\n  x86_64-linux\n\nDEPENDENCIES\n  nokogiri\n  y!\n\nCHECKSUMS\n  racc (1.7.3) sha256=aaaa\n\nBUNDLED WITH\n   2.5.6\n";
        let inv = scratch(lock, None).unwrap();
        let noko = "pkg:gem/nokogiri@1.16.0?platform=x86_64-linux";
        assert_eq!(deps(&inv, noko), ["pkg:gem/racc@1.7.3"]);
        assert_eq!(inv.get("pkg:gem/racc@1.7.3").unwrap().hashes[0].hex, "aaaa");
        assert_eq!(
            inv.get("pkg:gem/y@0.1.0").unwrap().source.as_deref(),
            Some("git+https://github.com/x/y.git#abc123")
        );
    }

    #[test]
    fn truncated_wrong_version_dangling_and_out_of_sync() {
        let lock = fixture("Gemfile.lock");
        let cut = &lock[..lock.find("PLATFORMS").unwrap()];
        let err = scratch(cut, None).unwrap_err();
        let SbomError::Malformed { place, message } = &err else { panic!("{err}") };
        assert_eq!(place.line, Some(cut.lines().count()));
        assert!(message.contains("DEPENDENCIES"), "{message}");

        let future = lock.replace("   2.3.15", "   9.0.0");
        match scratch(&future, None).unwrap_err() {
            SbomError::UnsupportedVersion { version, place, .. } => {
                assert_eq!(version, "9.0.0");
                assert_eq!(place.line, Some(future.lines().count()));
            }
            other => panic!("{other}"),
        }

        let dangling =
            lock.replace("      power_assert\n", "      power_assert\n      missing_gem (>= 1)\n");
        let err = scratch(&dangling, None).unwrap_err().to_string();
        assert!(err.contains("`missing_gem`, which has no spec"), "{err}");

        let gemfile =
            fixture("Gemfile").replace("gem \"rake\"", "gem \"rails\", \"~> 7.0\"\ngem \"rake\"");
        match scratch(&lock, Some(&gemfile)).unwrap_err() {
            SbomError::OutOfSync { place, message, .. } => {
                assert_eq!(place.line, Some(3));
                assert!(message.contains("`rails`"), "{message}");
            }
            other => panic!("{other}"),
        }
    }
}
