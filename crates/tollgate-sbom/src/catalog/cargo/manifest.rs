//! The parts of a `Cargo.toml` an SBOM needs, with workspace inheritance resolved.

use crate::catalog::source::SourceFile;
use crate::{DependencyKind, SbomError};
use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use toml::{Table, Value};

/// What an SBOM needs from one manifest.
#[derive(Debug, Clone, Default)]
pub(super) struct Manifest {
    /// `[package]`, absent for a virtual workspace root.
    pub package: Option<PackageFacts>,
    /// `[workspace]`, present on the workspace root.
    pub workspace: Option<WorkspaceFacts>,
    /// Actual package name -> the kinds it is depended on with.
    pub kinds: BTreeMap<String, BTreeSet<DependencyKind>>,
    /// Every declared dependency with the line declaring it.
    pub declared: Vec<Declared>,
    /// Whether this is a workspace member (set by the caller).
    pub is_member: bool,
    /// Where the manifest lives, for local (path) packages.
    pub local: Option<PathBuf>,
    /// The `path` of every path dependency it declares (dependency tables, `[workspace.
    /// dependencies]`, `[patch.*]`), relative to its directory, as written.
    pub path_deps: Vec<String>,
}

/// `[package]` facts, inheritance resolved.
#[derive(Debug, Clone, Default)]
pub(super) struct PackageFacts {
    pub name: String,
    pub version: String,
    pub license: Option<String>,
    pub license_file: Option<String>,
    pub authors: Vec<String>,
    pub description: Option<String>,
    pub repository: Option<String>,
    pub homepage: Option<String>,
}

/// `[workspace]` facts members inherit from.
#[derive(Debug, Clone, Default)]
pub(super) struct WorkspaceFacts {
    /// `members`: globs of member directories, relative to the workspace root.
    pub members: Vec<String>,
    pub exclude: Vec<String>,
    package: Table,
    /// `[workspace.dependencies]` key -> actual package name.
    dependencies: BTreeMap<String, String>,
}

/// One declared dependency.
#[derive(Debug, Clone)]
pub(super) struct Declared {
    /// The actual package name (after `package = "…"` renames).
    pub package: String,
    /// 1-based line of the declaration.
    pub line: usize,
    /// The table it is declared in.
    pub kind: DependencyKind,
    /// Declared `optional = true` (locked only when some feature enables it).
    pub optional: bool,
}

const TABLES: [(&str, DependencyKind); 5] = [
    ("dependencies", DependencyKind::Normal),
    ("build-dependencies", DependencyKind::Build),
    ("build_dependencies", DependencyKind::Build),
    ("dev-dependencies", DependencyKind::Dev),
    ("dev_dependencies", DependencyKind::Dev),
];

impl Manifest {
    /// Parses a manifest file; `workspace` supplies inherited values for members.
    pub fn parse(
        file: &SourceFile,
        workspace: Option<&WorkspaceFacts>,
    ) -> Result<Manifest, SbomError> {
        Manifest::parse_text(&file.path, &file.text, workspace)
    }

    /// Parses manifest text; `path` names the file in errors.
    pub fn parse_text(
        path: &Path,
        text: &str,
        workspace: Option<&WorkspaceFacts>,
    ) -> Result<Manifest, SbomError> {
        let table: Table = toml::from_str(text).map_err(|e| SbomError::toml(path, text, &e))?;
        let own_workspace =
            table.get("workspace").and_then(Value::as_table).map(WorkspaceFacts::from_table);
        let inherit_from = own_workspace.as_ref().or(workspace);
        let package = table
            .get("package")
            .and_then(Value::as_table)
            .map(|p| PackageFacts::from_table(p, inherit_from));

        let mut manifest =
            Manifest { package, workspace: own_workspace.clone(), ..Manifest::default() };
        let mut add_tables = |t: &Table| {
            for (table_name, kind) in TABLES {
                let Some(deps) = t.get(table_name).and_then(Value::as_table) else { continue };
                for (key, spec) in deps {
                    let package = actual_name(key, spec, inherit_from);
                    let optional = spec
                        .as_table()
                        .and_then(|t| t.get("optional"))
                        .and_then(Value::as_bool)
                        .unwrap_or(false);
                    manifest.kinds.entry(package.clone()).or_default().insert(kind);
                    manifest.declared.push(Declared {
                        line: line_of_dependency(text, key),
                        package,
                        kind,
                        optional,
                    });
                }
            }
        };
        add_tables(&table);
        if let Some(targets) = table.get("target").and_then(Value::as_table) {
            for target in targets.values().filter_map(Value::as_table) {
                add_tables(target);
            }
        }
        manifest.path_deps = path_dependencies(&table);
        Ok(manifest)
    }

    /// The kinds `package` is depended on with (empty if not declared).
    pub fn kinds_of(&self, package: &str) -> BTreeSet<DependencyKind> {
        self.kinds.get(package).cloned().unwrap_or_default()
    }
}

impl WorkspaceFacts {
    fn from_table(ws: &Table) -> WorkspaceFacts {
        let strings = |key: &str| -> Vec<String> {
            ws.get(key)
                .and_then(Value::as_array)
                .map(|a| a.iter().filter_map(Value::as_str).map(str::to_owned).collect())
                .unwrap_or_default()
        };
        let dependencies = ws
            .get("dependencies")
            .and_then(Value::as_table)
            .map(|deps| {
                deps.iter().map(|(k, spec)| (k.clone(), actual_name(k, spec, None))).collect()
            })
            .unwrap_or_default();
        WorkspaceFacts {
            members: strings("members"),
            exclude: strings("exclude"),
            package: ws.get("package").and_then(Value::as_table).cloned().unwrap_or_default(),
            dependencies,
        }
    }
}

impl PackageFacts {
    fn from_table(p: &Table, workspace: Option<&WorkspaceFacts>) -> PackageFacts {
        // A field is either a value or `{ workspace = true }`, which takes the workspace's value.
        let field = |key: &str| -> Option<&Value> {
            match p.get(key) {
                Some(Value::Table(t))
                    if t.get("workspace").and_then(Value::as_bool) == Some(true) =>
                {
                    workspace.and_then(|w| w.package.get(key))
                }
                other => other,
            }
        };
        let string = |key: &str| field(key).and_then(Value::as_str).map(str::to_owned);
        PackageFacts {
            name: string("name").unwrap_or_default(),
            // Cargo treats a missing version as 0.0.0.
            version: string("version").unwrap_or_else(|| "0.0.0".into()),
            license: string("license"),
            license_file: string("license-file"),
            authors: field("authors")
                .and_then(Value::as_array)
                .map(|a| a.iter().filter_map(Value::as_str).map(str::to_owned).collect())
                .unwrap_or_default(),
            description: string("description"),
            repository: string("repository"),
            homepage: string("homepage"),
        }
    }
}

/// The `path = "…"` of every dependency entry in `table`: its dependency tables (also per
/// target), `[workspace.dependencies]` and `[patch.<registry>]`. Sorted, without repeats.
fn path_dependencies(table: &Table) -> Vec<String> {
    let mut paths = BTreeSet::new();
    let mut from = |deps: &Table| {
        for spec in deps.values() {
            if let Some(path) = spec.as_table().and_then(|t| t.get("path")).and_then(Value::as_str)
            {
                paths.insert(path.to_owned());
            }
        }
    };
    let mut tables: Vec<&Table> = vec![table];
    if let Some(targets) = table.get("target").and_then(Value::as_table) {
        tables.extend(targets.values().filter_map(Value::as_table));
    }
    for t in tables {
        for (name, _) in TABLES {
            if let Some(deps) = t.get(name).and_then(Value::as_table) {
                from(deps);
            }
        }
    }
    if let Some(deps) = table
        .get("workspace")
        .and_then(Value::as_table)
        .and_then(|w| w.get("dependencies"))
        .and_then(Value::as_table)
    {
        from(deps);
    }
    if let Some(patches) = table.get("patch").and_then(Value::as_table) {
        for deps in patches.values().filter_map(Value::as_table) {
            from(deps);
        }
    }
    paths.into_iter().collect()
}

/// The package a dependency entry names: `package = "…"` when renamed, else its key.
fn actual_name(key: &str, spec: &Value, workspace: Option<&WorkspaceFacts>) -> String {
    let Some(t) = spec.as_table() else { return key.to_owned() };
    if let Some(package) = t.get("package").and_then(Value::as_str) {
        return package.to_owned();
    }
    if t.get("workspace").and_then(Value::as_bool) == Some(true)
        && let Some(name) = workspace.and_then(|w| w.dependencies.get(key))
    {
        return name.clone();
    }
    key.to_owned()
}

/// 1-based line declaring dependency `key` (`key = …`, `key.workspace = …`, `[…dependencies.key]`).
fn line_of_dependency(text: &str, key: &str) -> usize {
    for (i, line) in text.lines().enumerate() {
        let t = line.trim_start();
        let t = t
            .strip_prefix('"')
            .and_then(|t| t.strip_prefix(key))
            .and_then(|t| t.strip_prefix('"'))
            .or_else(|| t.strip_prefix(key));
        if let Some(rest) = t
            && matches!(rest.trim_start().chars().next(), Some('=' | '.'))
        {
            return i + 1;
        }
        let t = line.trim();
        if t.starts_with('[') && t.ends_with(&format!("dependencies.{key}]")) {
            return i + 1;
        }
    }
    1
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn inherits_from_workspace_and_follows_renames() {
        let root = Manifest::parse_text(
            Path::new("Cargo.toml"),
            "[workspace]\nmembers=[\"a\"]\nexclude=[\"old\"]\n[workspace.package]\nversion=\"1.2.3\"\nlicense=\"MIT/Apache-2.0\"\n[workspace.dependencies]\nmyserde = { package = \"serde\", version = \"1\" }\n",
            None,
        )
        .unwrap();
        let ws = root.workspace.unwrap();
        assert_eq!(ws.exclude, ["old"]);
        let member = Manifest::parse_text(
            Path::new("a/Cargo.toml"),
            "[package]\nname = \"a\"\nversion.workspace = true\nlicense = { workspace = true }\n\n[dependencies]\nmyserde.workspace = true\n\n[target.'cfg(unix)'.build-dependencies]\ncc = \"1\"\n\n[dev-dependencies.tempfile]\nversion = \"3\"\n",
            Some(&ws),
        )
        .unwrap();
        let pkg = member.package.unwrap();
        assert_eq!((pkg.name.as_str(), pkg.version.as_str()), ("a", "1.2.3"));
        assert_eq!(pkg.license.as_deref(), Some("MIT/Apache-2.0"));
        assert_eq!(member.kinds["serde"], BTreeSet::from([DependencyKind::Normal]));
        assert_eq!(member.kinds["cc"], BTreeSet::from([DependencyKind::Build]));
        assert_eq!(member.kinds["tempfile"], BTreeSet::from([DependencyKind::Dev]));
        let lines: BTreeMap<_, _> =
            member.declared.iter().map(|d| (d.package.as_str(), d.line)).collect();
        assert_eq!(lines["serde"], 7);
        assert_eq!(lines["cc"], 10);
        assert_eq!(lines["tempfile"], 12);
    }
}
