//! `pyproject.toml` beside a `uv.lock` or `poetry.lock`: the project's name and version and
//! every dependency it declares (with the line that declares it), for the root component and
//! for checking that the lockfile still matches the manifest.

use super::common::{leading_extras, normalize, split_name};
use crate::SbomError;
use crate::catalog::SourceFile;
use serde::Deserialize;
use std::collections::BTreeMap;
use std::path::Path;
use toml::Spanned;

/// How the project declares a dependency.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum DeclKind {
    /// A run-time dependency (`[project] dependencies`, `[tool.poetry.dependencies]`).
    Main,
    /// Only through an extra (`[project.optional-dependencies]`, poetry `optional = true`).
    Extra(String),
    /// A dependency group (`[dependency-groups]`, poetry groups, `dev-dependencies`).
    Group(String),
}

/// One declared dependency.
#[derive(Debug, Clone)]
pub(super) struct Declaration {
    /// PEP 503 normalised name.
    pub name: String,
    /// Extras it asks for, normalised.
    pub extras: Vec<String>,
    /// Main, extra or group.
    pub kind: DeclKind,
    /// 1-based line in `pyproject.toml`.
    pub line: usize,
}

/// What `pyproject.toml` says about the project.
#[derive(Debug)]
pub(super) struct Manifest {
    /// The file as read (path, relative name, digest).
    pub source: SourceFile,
    /// `[project] name` or `[tool.poetry] name`.
    pub name: Option<String>,
    /// `[project] version` or `[tool.poetry] version`.
    pub version: Option<String>,
    /// `[project] description` or `[tool.poetry] description`.
    pub description: Option<String>,
    /// Every declared dependency, in file order per table.
    pub declared: Vec<Declaration>,
}

/// A poetry dependency specification (`"^1.0"`, `{ version = "^1", optional = true }`, or a
/// list of those for different markers); shared with `poetry.lock`'s `[package.dependencies]`.
#[derive(Debug, Clone, Deserialize)]
#[serde(untagged)]
pub(super) enum PoetrySpec {
    /// A bare version constraint.
    Constraint(#[allow(dead_code)] String),
    /// A table.
    Detailed(PoetryDetail),
    /// Several tables (one per marker).
    Multiple(Vec<PoetryDetail>),
}

/// The parts of a poetry dependency table Tollgate uses.
#[derive(Debug, Clone, Default, Deserialize)]
pub(super) struct PoetryDetail {
    /// Installed only through an extra.
    #[serde(default)]
    pub optional: bool,
    /// Extras of the dependency it asks for.
    #[serde(default)]
    pub extras: Vec<String>,
}

impl PoetrySpec {
    /// Whether every variant is optional.
    pub fn optional(&self) -> bool {
        match self {
            PoetrySpec::Constraint(_) => false,
            PoetrySpec::Detailed(d) => d.optional,
            PoetrySpec::Multiple(ds) => !ds.is_empty() && ds.iter().all(|d| d.optional),
        }
    }

    /// The extras asked for, normalised.
    pub fn extras(&self) -> Vec<String> {
        let details: &[PoetryDetail] = match self {
            PoetrySpec::Constraint(_) => &[],
            PoetrySpec::Detailed(d) => std::slice::from_ref(d),
            PoetrySpec::Multiple(ds) => ds,
        };
        let mut out: Vec<String> =
            details.iter().flat_map(|d| d.extras.iter().map(|e| normalize(e))).collect();
        out.sort();
        out.dedup();
        out
    }
}

#[derive(Deserialize)]
struct PyProject {
    #[serde(default)]
    project: Option<Project>,
    #[serde(default, rename = "dependency-groups")]
    dependency_groups: BTreeMap<String, Vec<Spanned<GroupEntry>>>,
    #[serde(default)]
    tool: Option<Tool>,
}

#[derive(Deserialize)]
#[serde(rename_all = "kebab-case")]
struct Project {
    name: Option<String>,
    version: Option<String>,
    description: Option<String>,
    #[serde(default)]
    dependencies: Vec<Spanned<String>>,
    #[serde(default)]
    optional_dependencies: BTreeMap<String, Vec<Spanned<String>>>,
}

#[derive(Deserialize)]
#[serde(untagged)]
enum GroupEntry {
    Requirement(String),
    // `{ include-group = "other" }`: its members are declared under the other group.
    Include(#[allow(dead_code)] toml::Table),
}

#[derive(Deserialize)]
struct Tool {
    #[serde(default)]
    poetry: Option<ToolPoetry>,
    #[serde(default)]
    uv: Option<ToolUv>,
}

#[derive(Deserialize)]
#[serde(rename_all = "kebab-case")]
struct ToolPoetry {
    name: Option<String>,
    version: Option<String>,
    description: Option<String>,
    #[serde(default)]
    dependencies: BTreeMap<String, Spanned<PoetrySpec>>,
    #[serde(default)]
    dev_dependencies: BTreeMap<String, Spanned<PoetrySpec>>,
    #[serde(default)]
    group: BTreeMap<String, PoetryGroup>,
    #[serde(default)]
    extras: BTreeMap<String, Vec<String>>,
}

#[derive(Deserialize)]
struct PoetryGroup {
    #[serde(default)]
    dependencies: BTreeMap<String, Spanned<PoetrySpec>>,
}

#[derive(Deserialize)]
#[serde(rename_all = "kebab-case")]
struct ToolUv {
    #[serde(default)]
    dev_dependencies: Vec<Spanned<String>>,
}

/// Reads `pyproject.toml` in the lockfile's directory; `None` when there is none.
pub(super) fn read_beside(root: &Path, lockfile: &Path) -> Result<Option<Manifest>, SbomError> {
    let path = lockfile.with_file_name("pyproject.toml");
    if !path.is_file() {
        return Ok(None);
    }
    let source = SourceFile::read(root, &path)?;
    let parsed: PyProject = toml::from_str(&source.text)
        .map_err(|e| SbomError::toml(&source.path, &source.text, &e))?;
    let mut declared = Vec::new();
    let mut name = None;
    let mut version = None;
    let mut description = None;

    if let Some(project) = &parsed.project {
        name.clone_from(&project.name);
        version.clone_from(&project.version);
        description.clone_from(&project.description);
        for dep in &project.dependencies {
            declared.push(pep508(&source, dep, DeclKind::Main)?);
        }
        for (extra, deps) in &project.optional_dependencies {
            for dep in deps {
                declared.push(pep508(&source, dep, DeclKind::Extra(normalize(extra)))?);
            }
        }
    }
    for (group, entries) in &parsed.dependency_groups {
        for entry in entries {
            if let GroupEntry::Requirement(req) = entry.get_ref() {
                let spanned = Spanned::new(entry.span(), req.clone());
                declared.push(pep508(&source, &spanned, DeclKind::Group(normalize(group)))?);
            }
        }
    }
    if let Some(tool) = &parsed.tool {
        if let Some(uv) = &tool.uv {
            for dep in &uv.dev_dependencies {
                declared.push(pep508(&source, dep, DeclKind::Group("dev".into()))?);
            }
        }
        if let Some(poetry) = &tool.poetry {
            if name.is_none() {
                name.clone_from(&poetry.name);
            }
            if version.is_none() {
                version.clone_from(&poetry.version);
            }
            if description.is_none() {
                description.clone_from(&poetry.description);
            }
            // Which extra lists a dependency, for poetry's `optional = true` dependencies.
            let mut extra_of: BTreeMap<String, String> = BTreeMap::new();
            for (extra, members) in &poetry.extras {
                for member in members {
                    if let Some((n, _)) = split_name(member) {
                        extra_of.entry(normalize(n)).or_insert_with(|| normalize(extra));
                    }
                }
            }
            for (dep, spec) in &poetry.dependencies {
                if dep.eq_ignore_ascii_case("python") {
                    continue;
                }
                let key = normalize(dep);
                let kind = if spec.get_ref().optional() {
                    DeclKind::Extra(extra_of.get(&key).cloned().unwrap_or_default())
                } else {
                    DeclKind::Main
                };
                declared.push(poetry_decl(&source, key, spec, kind));
            }
            for (dep, spec) in &poetry.dev_dependencies {
                declared.push(poetry_decl(
                    &source,
                    normalize(dep),
                    spec,
                    DeclKind::Group("dev".into()),
                ));
            }
            for (group, g) in &poetry.group {
                for (dep, spec) in &g.dependencies {
                    if dep.eq_ignore_ascii_case("python") {
                        continue;
                    }
                    let kind = if group == "main" {
                        DeclKind::Main
                    } else {
                        DeclKind::Group(normalize(group))
                    };
                    declared.push(poetry_decl(&source, normalize(dep), spec, kind));
                }
            }
        }
    }
    Ok(Some(Manifest { source, name, version, description, declared }))
}

fn pep508(
    source: &SourceFile,
    dep: &Spanned<String>,
    kind: DeclKind,
) -> Result<Declaration, SbomError> {
    let line = source.line_of(dep.span().start);
    let (name, rest) = split_name(dep.get_ref()).ok_or_else(|| {
        SbomError::malformed(
            source.at_line(line),
            format!("`{}` is not a PEP 508 requirement", dep.get_ref()),
        )
    })?;
    Ok(Declaration { name: normalize(name), extras: leading_extras(rest), kind, line })
}

fn poetry_decl(
    source: &SourceFile,
    name: String,
    spec: &Spanned<PoetrySpec>,
    kind: DeclKind,
) -> Declaration {
    Declaration {
        name,
        extras: spec.get_ref().extras(),
        kind,
        line: source.line_of(spec.span().start),
    }
}
