//! SLSA Provenance v1: how an artifact was built — the build definition (type, parameters,
//! resolved dependencies: the source commit and lockfile digests) and the run (builder,
//! invocation, times).

use std::collections::BTreeMap;
use std::path::{Component, Path, PathBuf};

use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use time::OffsetDateTime;

use crate::AttestError;
use crate::ci::BuilderEnvironment;
use crate::source::{SourceInfo, strip_credentials};

/// The `buildType` of provenance written by Tollgate. Its external parameters are `source`
/// (repository, ref) plus the CI system's own (`workflow` on GitHub, `pipeline` on GitLab and
/// Buildkite); its internal parameters are the CI system's facts (or `local`, labelling a
/// non-hosted build) and `source.dirty`.
pub const BUILD_TYPE: &str = "https://tollgate.dev/buildtypes/release/v1";

/// The SLSA Provenance v1 predicate.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Provenance {
    /// What was built and from what.
    pub build_definition: BuildDefinition,
    /// Who built it, when.
    pub run_details: RunDetails,
}

/// `buildDefinition`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct BuildDefinition {
    /// A URI naming the build's template ([`BUILD_TYPE`] here).
    pub build_type: String,
    /// Inputs under the control of whoever started the build.
    pub external_parameters: Value,
    /// Inputs set by the builder.
    #[serde(default, skip_serializing_if = "Value::is_null")]
    pub internal_parameters: Value,
    /// Artifacts the build used: the source commit, lockfiles.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub resolved_dependencies: Vec<ResourceDescriptor>,
}

/// An in-toto ResourceDescriptor.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ResourceDescriptor {
    /// Where the resource is, e.g. `git+https://host/repo@refs/tags/v1`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub uri: Option<String>,
    /// Algorithm -> digest (`gitCommit`, `sha256`, ...).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub digest: BTreeMap<String, String>,
    /// A name, e.g. a lockfile's path.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// Where it can be downloaded.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub download_location: Option<String>,
    /// Its media type.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub media_type: Option<String>,
    /// Anything else.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub annotations: Option<Value>,
}

/// `runDetails`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RunDetails {
    /// The builder.
    pub builder: Builder,
    /// The invocation and its times.
    pub metadata: BuildMetadata,
    /// Other outputs of the build (none recorded by default).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub byproducts: Vec<ResourceDescriptor>,
}

/// `runDetails.builder`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Builder {
    /// The builder id a verifier's policy names (see [`BuilderEnvironment::builder_id`]).
    pub id: String,
    /// Component -> version of the builder's parts (`tollgate` -> this crate's version).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub version: BTreeMap<String, String>,
}

/// `runDetails.metadata`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct BuildMetadata {
    /// This run's id (a URL on CI systems); none for a local build.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub invocation_id: Option<String>,
    /// When the build started (RFC 3339, UTC).
    #[serde(default, with = "rfc3339_opt", skip_serializing_if = "Option::is_none")]
    pub started_on: Option<OffsetDateTime>,
    /// When it finished (RFC 3339, UTC).
    #[serde(default, with = "rfc3339_opt", skip_serializing_if = "Option::is_none")]
    pub finished_on: Option<OffsetDateTime>,
}

mod rfc3339_opt {
    use serde::{Deserialize, Deserializer, Serializer};
    use time::OffsetDateTime;
    use time::format_description::well_known::Rfc3339;

    pub fn serialize<S: Serializer>(t: &Option<OffsetDateTime>, s: S) -> Result<S::Ok, S::Error> {
        match t {
            Some(t) => {
                let text = t
                    .to_offset(time::UtcOffset::UTC)
                    .format(&Rfc3339)
                    .map_err(serde::ser::Error::custom)?;
                s.serialize_str(&text)
            }
            None => s.serialize_none(),
        }
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(
        d: D,
    ) -> Result<Option<OffsetDateTime>, D::Error> {
        match Option::<String>::deserialize(d)? {
            Some(text) => {
                OffsetDateTime::parse(&text, &Rfc3339).map(Some).map_err(serde::de::Error::custom)
            }
            None => Ok(None),
        }
    }
}

impl Provenance {
    /// The predicate as JSON (for [`crate::statement::Statement::new`], which also takes the
    /// struct itself).
    pub fn to_value(&self) -> Value {
        serde_json::to_value(self).unwrap_or(Value::Null)
    }
}

/// A lockfile's name in the provenance: its path as given when relative, relative to the
/// current directory when under it, else its file name — never a machine's absolute path.
fn lockfile_name(path: &Path) -> String {
    let relative: PathBuf = if path.is_absolute() {
        std::env::current_dir()
            .ok()
            .and_then(|cwd| path.strip_prefix(cwd).ok().map(Path::to_path_buf))
            .or_else(|| path.file_name().map(PathBuf::from))
            .unwrap_or_else(|| path.to_path_buf())
    } else {
        path.to_path_buf()
    };
    relative
        .components()
        .filter(|c| !matches!(c, Component::CurDir))
        .map(|c| c.as_os_str().to_string_lossy().into_owned())
        .collect::<Vec<_>>()
        .join("/")
}

/// Builds the provenance of a build in `env` from `source`, which used `lockfiles`, between
/// `started` and `finished`.
///
/// The source dependency is `git+<repository>@<ref>` with digest `gitCommit`: repository and
/// ref as the CI system names them, else as git does (credentials removed); the commit is
/// git's (what was actually checked out), else the CI system's. A dirty tree and a CI commit
/// that differs from git's are recorded in `internalParameters.source`. Each lockfile is a
/// dependency with its SHA-256 and SHA-512.
pub fn build_provenance(
    env: &BuilderEnvironment,
    source: Option<&SourceInfo>,
    lockfiles: &[PathBuf],
    started: OffsetDateTime,
    finished: OffsetDateTime,
) -> Result<Provenance, AttestError> {
    let repository = env
        .repository_url()
        .or_else(|| source.and_then(|s| s.repository.clone()))
        .map(|r| strip_credentials(&r));
    let reference = env.git_ref().or_else(|| source.and_then(|s| s.reference.clone()));
    let commit = source.map(|s| s.commit.clone()).or_else(|| env.commit());

    let mut external = env.external_parameters();
    let mut source_params = serde_json::Map::new();
    if let Some(r) = &repository {
        source_params.insert("repository".into(), json!(r));
    }
    if let Some(r) = &reference {
        source_params.insert("ref".into(), json!(r));
    }
    if let (Value::Object(map), false) = (&mut external, source_params.is_empty()) {
        map.insert("source".into(), Value::Object(source_params));
    }

    let mut internal = env.internal_parameters();
    if let (Value::Object(map), Some(s)) = (&mut internal, source) {
        let mut facts = serde_json::Map::new();
        facts.insert("dirty".into(), json!(s.dirty));
        if let Some(ci_commit) = env.commit().filter(|c| !c.eq_ignore_ascii_case(&s.commit)) {
            facts.insert("ci_reported_commit".into(), json!(ci_commit));
        }
        map.insert("source".into(), Value::Object(facts));
    }

    let mut resolved = Vec::new();
    if let Some(commit) = commit {
        let uri = repository.as_ref().map(|repo| match &reference {
            Some(r) => format!("git+{repo}@{r}"),
            None => format!("git+{repo}"),
        });
        resolved.push(ResourceDescriptor {
            name: uri.is_none().then(|| "source".to_owned()),
            uri,
            digest: BTreeMap::from([("gitCommit".to_owned(), commit)]),
            ..ResourceDescriptor::default()
        });
    }
    for lockfile in lockfiles {
        resolved.push(ResourceDescriptor {
            name: Some(lockfile_name(lockfile)),
            digest: crate::subject::hash_file(lockfile)?,
            ..ResourceDescriptor::default()
        });
    }

    Ok(Provenance {
        build_definition: BuildDefinition {
            build_type: BUILD_TYPE.to_owned(),
            external_parameters: external,
            internal_parameters: internal,
            resolved_dependencies: resolved,
        },
        run_details: RunDetails {
            builder: Builder {
                id: env.builder_id(),
                version: BTreeMap::from([(
                    "tollgate".to_owned(),
                    env!("CARGO_PKG_VERSION").to_owned(),
                )]),
            },
            metadata: BuildMetadata {
                invocation_id: env.invocation_id(),
                started_on: Some(started),
                finished_on: Some(finished),
            },
            byproducts: Vec::new(),
        },
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ci::{LOCAL_BUILDER_ID, detect};
    use crate::source::{read_source, tests::repo_with_commit};
    use time::macros::datetime;

    const STARTED: OffsetDateTime = datetime!(2025-03-01 12:00:00 UTC);
    const FINISHED: OffsetDateTime = datetime!(2025-03-01 12:03:30.5 UTC);

    fn env(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()
    }

    #[test]
    fn local_build_from_a_real_repository_at_a_tag() {
        let dir = tempfile::tempdir().unwrap();
        let (repo, oid) = repo_with_commit(dir.path());
        repo.set_head_detached(oid).unwrap();
        let source = read_source(dir.path()).unwrap();
        let lock = dir.path().join("Cargo.lock");
        let local = detect(&env(&[("HOSTNAME", "laptop")]));
        let p = build_provenance(&local, Some(&source), &[lock], STARTED, FINISHED).unwrap();
        let v = p.to_value();
        assert_eq!(v["buildDefinition"]["buildType"], BUILD_TYPE);
        assert_eq!(v["runDetails"]["builder"]["id"], LOCAL_BUILDER_ID);
        assert_eq!(v["runDetails"]["builder"]["version"]["tollgate"], env!("CARGO_PKG_VERSION"));
        assert_eq!(v["runDetails"]["metadata"]["startedOn"], "2025-03-01T12:00:00Z");
        assert_eq!(v["runDetails"]["metadata"]["finishedOn"], "2025-03-01T12:03:30.5Z");
        assert!(v["runDetails"]["metadata"].get("invocationId").is_none());
        assert_eq!(
            v["buildDefinition"]["resolvedDependencies"][0],
            json!({"uri": "git+https://gitlab.example.com/group/app.git@refs/tags/v1.0.0",
                   "digest": {"gitCommit": oid.to_string()}})
        );
        let lock_dep = &v["buildDefinition"]["resolvedDependencies"][1];
        assert_eq!(lock_dep["name"], "Cargo.lock");
        assert_eq!(
            lock_dep["digest"]["sha256"],
            hex::encode(<sha2::Sha256 as sha2::Digest>::digest(b"# lock\n"))
        );
        assert_eq!(v["buildDefinition"]["internalParameters"]["local"]["hostname"], "laptop");
        assert_eq!(v["buildDefinition"]["internalParameters"]["source"], json!({"dirty": false}));
        assert_eq!(
            v["buildDefinition"]["externalParameters"]["source"],
            json!({"repository": "https://gitlab.example.com/group/app.git", "ref": "refs/tags/v1.0.0"})
        );
        // The token in origin's URL appears nowhere.
        assert!(!v.to_string().contains("s3cr3t"));
        // Round trip through the typed form.
        let back: Provenance = serde_json::from_value(v).unwrap();
        assert_eq!(back, p);
    }

    #[test]
    fn dirty_tree_is_recorded() {
        let dir = tempfile::tempdir().unwrap();
        repo_with_commit(dir.path());
        std::fs::write(dir.path().join("local-change.txt"), "x").unwrap();
        let source = read_source(dir.path()).unwrap();
        assert!(source.dirty);
        let p =
            build_provenance(&detect(&env(&[])), Some(&source), &[], STARTED, FINISHED).unwrap();
        assert_eq!(p.build_definition.internal_parameters["source"]["dirty"], true);
        // On a branch: the branch ref.
        assert!(
            p.to_value()["buildDefinition"]["resolvedDependencies"][0]["uri"]
                .as_str()
                .unwrap()
                .ends_with("@refs/heads/main")
        );
    }

    #[test]
    fn ci_names_repository_and_ref_git_names_the_commit() {
        let dir = tempfile::tempdir().unwrap();
        let (_repo, oid) = repo_with_commit(dir.path());
        let source = read_source(dir.path()).unwrap();
        let gha = detect(&env(&[
            ("GITHUB_ACTIONS", "true"),
            ("GITHUB_REPOSITORY", "acme/app"),
            ("GITHUB_REF", "refs/tags/v1.0.0"),
            ("GITHUB_SHA", "ffffffffffffffffffffffffffffffffffffffff"),
            ("GITHUB_WORKFLOW_REF", "acme/app/.github/workflows/release.yml@refs/tags/v1.0.0"),
            ("GITHUB_RUN_ID", "9"),
            ("RUNNER_ENVIRONMENT", "github-hosted"),
        ]));
        let p = build_provenance(&gha, Some(&source), &[], STARTED, FINISHED).unwrap();
        let v = p.to_value();
        assert_eq!(
            v["buildDefinition"]["resolvedDependencies"][0],
            json!({"uri": "git+https://github.com/acme/app@refs/tags/v1.0.0",
                   "digest": {"gitCommit": oid.to_string()}})
        );
        assert_eq!(
            v["buildDefinition"]["internalParameters"]["source"]["ci_reported_commit"],
            "ffffffffffffffffffffffffffffffffffffffff"
        );
        assert_eq!(
            v["runDetails"]["builder"]["id"],
            "https://github.com/acme/app/.github/workflows/release.yml@refs/tags/v1.0.0"
        );
        assert_eq!(
            v["runDetails"]["metadata"]["invocationId"],
            "https://github.com/acme/app/actions/runs/9/attempts/1"
        );
        assert_eq!(
            v["buildDefinition"]["externalParameters"]["workflow"]["path"],
            ".github/workflows/release.yml"
        );
    }

    #[test]
    fn without_git_the_ci_commit_is_used_and_without_either_there_is_no_source() {
        let buildkite = detect(&env(&[
            ("BUILDKITE", "true"),
            ("BUILDKITE_ORGANIZATION_SLUG", "acme"),
            ("BUILDKITE_PIPELINE_SLUG", "rel"),
            ("BUILDKITE_REPO", "https://user:pw@git.example.com/acme/app.git"),
            ("BUILDKITE_COMMIT", "abc123"),
            ("BUILDKITE_BRANCH", "main"),
        ]));
        let p = build_provenance(&buildkite, None, &[], STARTED, FINISHED).unwrap();
        assert_eq!(
            p.build_definition.resolved_dependencies[0].uri.as_deref(),
            Some("git+https://git.example.com/acme/app.git@refs/heads/main")
        );
        assert_eq!(p.build_definition.resolved_dependencies[0].digest["gitCommit"], "abc123");
        let p = build_provenance(&detect(&env(&[])), None, &[], STARTED, FINISHED).unwrap();
        assert!(p.build_definition.resolved_dependencies.is_empty());
    }

    #[test]
    fn missing_lockfile_names_it() {
        let err = build_provenance(
            &detect(&env(&[])),
            None,
            &[PathBuf::from("no/such.lock")],
            STARTED,
            FINISHED,
        )
        .unwrap_err();
        assert!(err.to_string().starts_with("no/such.lock: "), "{err}");
    }

    #[test]
    fn lockfile_names_are_relative() {
        assert_eq!(lockfile_name(Path::new("./sub/Cargo.lock")), "sub/Cargo.lock");
        let cwd = std::env::current_dir().unwrap();
        assert_eq!(lockfile_name(&cwd.join("a/b.lock")), "a/b.lock");
        assert_eq!(lockfile_name(Path::new("/elsewhere/x/poetry.lock")), "poetry.lock");
    }
}
