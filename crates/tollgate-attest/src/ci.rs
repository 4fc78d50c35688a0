//! The build environment, read from environment variables: GitHub Actions, GitLab CI,
//! Buildkite, or a local / unrecognised machine.
//!
//! Recorded faithfully: each hosted system's own variables, under its own names, and a local
//! build never claims to be a hosted one — it gets [`LOCAL_BUILDER_ID`] and says so.
//! Detection trusts the environment, which anyone can set on their own machine; what makes a
//! provenance trustworthy is the key that signs it (a key only the CI system holds), which the
//! verifier pins.

use std::collections::BTreeMap;

use serde_json::{Value, json};

/// The builder id of a build on a developer's machine or an unrecognised CI system.
pub const LOCAL_BUILDER_ID: &str = "https://tollgate.dev/builders/local@v1";

/// Where the build ran, with what each system says about itself.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BuilderEnvironment {
    /// GitHub Actions (`GITHUB_ACTIONS=true`).
    GitHubActions {
        /// `GITHUB_SERVER_URL`, e.g. `https://github.com`.
        server_url: String,
        /// `GITHUB_REPOSITORY`, `owner/name`.
        repository: String,
        /// `GITHUB_REF`, e.g. `refs/tags/v1.0.0`.
        git_ref: Option<String>,
        /// `GITHUB_SHA`.
        sha: Option<String>,
        /// `GITHUB_WORKFLOW_REF`: `owner/name/.github/workflows/release.yml@refs/...`.
        workflow_ref: Option<String>,
        /// `GITHUB_RUN_ID`.
        run_id: Option<String>,
        /// `GITHUB_RUN_ATTEMPT`.
        run_attempt: Option<String>,
        /// `GITHUB_EVENT_NAME`.
        event_name: Option<String>,
        /// `GITHUB_REPOSITORY_ID`.
        repository_id: Option<String>,
        /// `GITHUB_REPOSITORY_OWNER_ID`.
        repository_owner_id: Option<String>,
        /// `RUNNER_ENVIRONMENT`: `github-hosted` or `self-hosted` (anything else, or nothing,
        /// is recorded as `self-hosted`: a hosted runner is never claimed without evidence).
        runner_environment: String,
    },
    /// GitLab CI (`GITLAB_CI=true`).
    GitLabCi {
        /// `CI_SERVER_URL`.
        server_url: String,
        /// `CI_PROJECT_URL`.
        project_url: String,
        /// `CI_PROJECT_PATH`.
        project_path: String,
        /// `CI_COMMIT_SHA`.
        sha: Option<String>,
        /// `refs/tags/CI_COMMIT_TAG`, else `refs/heads/CI_COMMIT_BRANCH` (or
        /// `CI_COMMIT_REF_NAME`).
        git_ref: Option<String>,
        /// `CI_CONFIG_PATH` (default `.gitlab-ci.yml`).
        config_path: String,
        /// `CI_PIPELINE_ID`.
        pipeline_id: Option<String>,
        /// `CI_JOB_ID`.
        job_id: Option<String>,
        /// `CI_JOB_URL`.
        job_url: Option<String>,
        /// `CI_PIPELINE_SOURCE`.
        pipeline_source: Option<String>,
        /// `CI_RUNNER_ID`.
        runner_id: Option<String>,
        /// `CI_RUNNER_DESCRIPTION`.
        runner_description: Option<String>,
    },
    /// Buildkite (`BUILDKITE=true`).
    Buildkite {
        /// `BUILDKITE_ORGANIZATION_SLUG`.
        organization: String,
        /// `BUILDKITE_PIPELINE_SLUG`.
        pipeline: String,
        /// `BUILDKITE_REPO`.
        repository: Option<String>,
        /// `BUILDKITE_COMMIT`.
        sha: Option<String>,
        /// `refs/tags/BUILDKITE_TAG`, else `refs/heads/BUILDKITE_BRANCH`.
        git_ref: Option<String>,
        /// `BUILDKITE_BUILD_URL`.
        build_url: Option<String>,
        /// `BUILDKITE_BUILD_ID`.
        build_id: Option<String>,
        /// `BUILDKITE_JOB_ID`.
        job_id: Option<String>,
        /// `BUILDKITE_AGENT_NAME`.
        agent_name: Option<String>,
        /// `BUILDKITE_AGENT_ID`.
        agent_id: Option<String>,
    },
    /// A developer's machine, or a CI system Tollgate does not recognise.
    Local {
        /// `HOSTNAME` (or `COMPUTERNAME`), if set.
        hostname: Option<String>,
        /// Whether `CI` was set: an unrecognised CI system rather than a person.
        ci: bool,
    },
}

fn get(env: &BTreeMap<String, String>, key: &str) -> Option<String> {
    env.get(key).map(|v| v.trim().to_owned()).filter(|v| !v.is_empty())
}

fn is_true(env: &BTreeMap<String, String>, key: &str) -> bool {
    get(env, key).is_some_and(|v| v.eq_ignore_ascii_case("true") || v == "1")
}

/// Detects the build environment from environment variables (pure: pass
/// `std::env::vars().collect()`). Falls back to [`BuilderEnvironment::Local`] when a system's
/// marker is set but its identifying variables are missing.
pub fn detect(env: &BTreeMap<String, String>) -> BuilderEnvironment {
    if is_true(env, "GITHUB_ACTIONS")
        && let Some(repository) = get(env, "GITHUB_REPOSITORY")
    {
        let runner_environment = match get(env, "RUNNER_ENVIRONMENT").as_deref() {
            Some("github-hosted") => "github-hosted",
            _ => "self-hosted",
        };
        return BuilderEnvironment::GitHubActions {
            server_url: get(env, "GITHUB_SERVER_URL")
                .unwrap_or_else(|| "https://github.com".to_owned())
                .trim_end_matches('/')
                .to_owned(),
            repository,
            git_ref: get(env, "GITHUB_REF"),
            sha: get(env, "GITHUB_SHA"),
            workflow_ref: get(env, "GITHUB_WORKFLOW_REF"),
            run_id: get(env, "GITHUB_RUN_ID"),
            run_attempt: get(env, "GITHUB_RUN_ATTEMPT"),
            event_name: get(env, "GITHUB_EVENT_NAME"),
            repository_id: get(env, "GITHUB_REPOSITORY_ID"),
            repository_owner_id: get(env, "GITHUB_REPOSITORY_OWNER_ID"),
            runner_environment: runner_environment.to_owned(),
        };
    }
    if is_true(env, "GITLAB_CI")
        && let (Some(project_url), Some(project_path)) =
            (get(env, "CI_PROJECT_URL"), get(env, "CI_PROJECT_PATH"))
    {
        let git_ref = get(env, "CI_COMMIT_TAG").map(|t| format!("refs/tags/{t}")).or_else(|| {
            get(env, "CI_COMMIT_BRANCH")
                .or_else(|| get(env, "CI_COMMIT_REF_NAME"))
                .map(|b| format!("refs/heads/{b}"))
        });
        return BuilderEnvironment::GitLabCi {
            server_url: get(env, "CI_SERVER_URL").unwrap_or_else(|| "https://gitlab.com".into()),
            project_url,
            project_path,
            sha: get(env, "CI_COMMIT_SHA"),
            git_ref,
            config_path: get(env, "CI_CONFIG_PATH").unwrap_or_else(|| ".gitlab-ci.yml".into()),
            pipeline_id: get(env, "CI_PIPELINE_ID"),
            job_id: get(env, "CI_JOB_ID"),
            job_url: get(env, "CI_JOB_URL"),
            pipeline_source: get(env, "CI_PIPELINE_SOURCE"),
            runner_id: get(env, "CI_RUNNER_ID"),
            runner_description: get(env, "CI_RUNNER_DESCRIPTION"),
        };
    }
    if is_true(env, "BUILDKITE")
        && let (Some(organization), Some(pipeline)) =
            (get(env, "BUILDKITE_ORGANIZATION_SLUG"), get(env, "BUILDKITE_PIPELINE_SLUG"))
    {
        let git_ref = get(env, "BUILDKITE_TAG")
            .map(|t| format!("refs/tags/{t}"))
            .or_else(|| get(env, "BUILDKITE_BRANCH").map(|b| format!("refs/heads/{b}")));
        return BuilderEnvironment::Buildkite {
            organization,
            pipeline,
            repository: get(env, "BUILDKITE_REPO"),
            sha: get(env, "BUILDKITE_COMMIT"),
            git_ref,
            build_url: get(env, "BUILDKITE_BUILD_URL"),
            build_id: get(env, "BUILDKITE_BUILD_ID"),
            job_id: get(env, "BUILDKITE_JOB_ID"),
            agent_name: get(env, "BUILDKITE_AGENT_NAME"),
            agent_id: get(env, "BUILDKITE_AGENT_ID"),
        };
    }
    BuilderEnvironment::Local {
        hostname: get(env, "HOSTNAME").or_else(|| get(env, "COMPUTERNAME")),
        ci: is_true(env, "CI"),
    }
}

/// [`detect`] on this process's environment; for a local build whose shell did not export
/// `HOSTNAME`, the host name is read from the system.
pub fn detect_current() -> BuilderEnvironment {
    // `std::env::vars()` panics on a variable that is not Unicode; no such value would be
    // usable here, so skip it.
    let vars: BTreeMap<String, String> = std::env::vars_os()
        .filter_map(|(k, v)| Some((k.into_string().ok()?, v.into_string().ok()?)))
        .collect();
    let mut detected = detect(&vars);
    if let BuilderEnvironment::Local { hostname, .. } = &mut detected
        && hostname.is_none()
    {
        *hostname = ["/proc/sys/kernel/hostname", "/etc/hostname"]
            .iter()
            .find_map(|p| std::fs::read_to_string(p).ok())
            .map(|h| h.trim().to_owned())
            .filter(|h| !h.is_empty());
    }
    detected
}

fn opt(value: &Option<String>) -> Value {
    value.as_ref().map_or(Value::Null, |v| Value::String(v.clone()))
}

/// Drops null members so absent variables leave no trace in the provenance.
fn compact(value: Value) -> Value {
    match value {
        Value::Object(map) => Value::Object(
            map.into_iter().filter(|(_, v)| !v.is_null()).map(|(k, v)| (k, compact(v))).collect(),
        ),
        other => other,
    }
}

impl BuilderEnvironment {
    /// A short stable name: `github-actions`, `gitlab-ci`, `buildkite`, `local`.
    pub fn kind(&self) -> &'static str {
        match self {
            BuilderEnvironment::GitHubActions { .. } => "github-actions",
            BuilderEnvironment::GitLabCi { .. } => "gitlab-ci",
            BuilderEnvironment::Buildkite { .. } => "buildkite",
            BuilderEnvironment::Local { .. } => "local",
        }
    }

    /// The SLSA builder id: the workflow file at its ref on GitHub (as GitHub's own
    /// attestations do), the runner on GitLab, the pipeline on Buildkite, and
    /// [`LOCAL_BUILDER_ID`] otherwise (also when a system's details are incomplete).
    pub fn builder_id(&self) -> String {
        match self {
            BuilderEnvironment::GitHubActions { server_url, workflow_ref: Some(w), .. } => {
                format!("{server_url}/{w}")
            }
            BuilderEnvironment::GitLabCi { project_url, runner_id: Some(r), .. } => {
                format!("{project_url}/-/runners/{r}")
            }
            BuilderEnvironment::Buildkite { organization, pipeline, .. } => {
                format!("https://buildkite.com/{organization}/{pipeline}")
            }
            _ => LOCAL_BUILDER_ID.to_owned(),
        }
    }

    /// The invocation id: a URL of this run where the system has one, else a description.
    pub fn invocation_id(&self) -> Option<String> {
        match self {
            BuilderEnvironment::GitHubActions {
                server_url,
                repository,
                run_id: Some(id),
                run_attempt,
                ..
            } => Some(format!(
                "{server_url}/{repository}/actions/runs/{id}/attempts/{}",
                run_attempt.as_deref().unwrap_or("1")
            )),
            BuilderEnvironment::GitLabCi { job_url: Some(url), .. } => Some(url.clone()),
            BuilderEnvironment::GitLabCi { project_url, job_id: Some(id), .. } => {
                Some(format!("{project_url}/-/jobs/{id}"))
            }
            BuilderEnvironment::Buildkite { build_url: Some(url), job_id, .. } => {
                Some(job_id.as_ref().map_or_else(|| url.clone(), |j| format!("{url}#{j}")))
            }
            _ => None,
        }
    }

    /// The source repository URL as the CI system names it.
    pub fn repository_url(&self) -> Option<String> {
        match self {
            BuilderEnvironment::GitHubActions { server_url, repository, .. } => {
                Some(format!("{server_url}/{repository}"))
            }
            BuilderEnvironment::GitLabCi { project_url, .. } => Some(project_url.clone()),
            BuilderEnvironment::Buildkite { repository, .. } => repository.clone(),
            BuilderEnvironment::Local { .. } => None,
        }
    }

    /// The git ref that was built, as the CI system names it.
    pub fn git_ref(&self) -> Option<String> {
        match self {
            BuilderEnvironment::GitHubActions { git_ref, .. }
            | BuilderEnvironment::GitLabCi { git_ref, .. }
            | BuilderEnvironment::Buildkite { git_ref, .. } => git_ref.clone(),
            BuilderEnvironment::Local { .. } => None,
        }
    }

    /// The commit the CI system says it checked out.
    pub fn commit(&self) -> Option<String> {
        match self {
            BuilderEnvironment::GitHubActions { sha, .. }
            | BuilderEnvironment::GitLabCi { sha, .. }
            | BuilderEnvironment::Buildkite { sha, .. } => sha.clone(),
            BuilderEnvironment::Local { .. } => None,
        }
    }

    /// The workflow / pipeline definition that ran, with its ref where known.
    pub fn workflow_ref(&self) -> Option<String> {
        match self {
            BuilderEnvironment::GitHubActions { workflow_ref, .. } => workflow_ref.clone(),
            BuilderEnvironment::GitLabCi { project_path, config_path, git_ref, .. } => {
                Some(git_ref.as_ref().map_or_else(
                    || format!("{project_path}/{config_path}"),
                    |r| format!("{project_path}/{config_path}@{r}"),
                ))
            }
            BuilderEnvironment::Buildkite { organization, pipeline, .. } => {
                Some(format!("{organization}/{pipeline}"))
            }
            BuilderEnvironment::Local { .. } => None,
        }
    }

    /// SLSA `externalParameters` contributed by the environment: what started the build.
    pub fn external_parameters(&self) -> Value {
        compact(match self {
            BuilderEnvironment::GitHubActions {
                server_url,
                repository,
                git_ref,
                workflow_ref,
                ..
            } => {
                let path = workflow_ref.as_ref().and_then(|w| {
                    let without_ref = w.split_once('@').map_or(w.as_str(), |(p, _)| p);
                    without_ref.strip_prefix(&format!("{repository}/")).map(str::to_owned)
                });
                json!({"workflow": {
                    "ref": opt(git_ref),
                    "repository": format!("{server_url}/{repository}"),
                    "path": opt(&path),
                }})
            }
            BuilderEnvironment::GitLabCi {
                project_url,
                git_ref,
                config_path,
                pipeline_source,
                ..
            } => {
                json!({"pipeline": {
                    "ref": opt(git_ref),
                    "repository": project_url,
                    "path": config_path,
                    "source": opt(pipeline_source),
                }})
            }
            BuilderEnvironment::Buildkite {
                organization, pipeline, repository, git_ref, ..
            } => {
                json!({"pipeline": {
                    "organization": organization,
                    "slug": pipeline,
                    "repository": opt(repository),
                    "ref": opt(git_ref),
                }})
            }
            BuilderEnvironment::Local { .. } => json!({}),
        })
    }

    /// SLSA `internalParameters` contributed by the environment: facts about the machine that
    /// a verifier may want but did not choose. A local build is labelled as such here.
    pub fn internal_parameters(&self) -> Value {
        compact(match self {
            BuilderEnvironment::GitHubActions {
                event_name,
                repository_id,
                repository_owner_id,
                runner_environment,
                run_id,
                run_attempt,
                ..
            } => json!({"github": {
                "event_name": opt(event_name),
                "repository_id": opt(repository_id),
                "repository_owner_id": opt(repository_owner_id),
                "runner_environment": runner_environment,
                "run_id": opt(run_id),
                "run_attempt": opt(run_attempt),
            }}),
            BuilderEnvironment::GitLabCi {
                server_url,
                pipeline_id,
                job_id,
                runner_id,
                runner_description,
                ..
            } => {
                json!({"gitlab": {
                    "server_url": server_url,
                    "pipeline_id": opt(pipeline_id),
                    "job_id": opt(job_id),
                    "runner_id": opt(runner_id),
                    "runner_description": opt(runner_description),
                }})
            }
            BuilderEnvironment::Buildkite { build_id, job_id, agent_name, agent_id, .. } => {
                json!({"buildkite": {
                    "build_id": opt(build_id),
                    "job_id": opt(job_id),
                    "agent_name": opt(agent_name),
                    "agent_id": opt(agent_id),
                }})
            }
            BuilderEnvironment::Local { hostname, ci } => json!({"local": {
                "description": if *ci {
                    "an unrecognised CI system: not a hosted builder Tollgate can name"
                } else {
                    "a local machine: not a hosted builder"
                },
                "hostname": opt(hostname),
                "ci": ci,
            }}),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()
    }

    #[test]
    fn github_actions() {
        let e = detect(&env(&[
            ("GITHUB_ACTIONS", "true"),
            ("GITHUB_SERVER_URL", "https://github.com"),
            ("GITHUB_REPOSITORY", "acme/app"),
            ("GITHUB_REF", "refs/tags/v1.2.0"),
            ("GITHUB_SHA", "0123456789abcdef0123456789abcdef01234567"),
            ("GITHUB_WORKFLOW_REF", "acme/app/.github/workflows/release.yml@refs/tags/v1.2.0"),
            ("GITHUB_RUN_ID", "42"),
            ("GITHUB_RUN_ATTEMPT", "2"),
            ("GITHUB_EVENT_NAME", "push"),
            ("RUNNER_ENVIRONMENT", "github-hosted"),
            ("CI", "true"),
        ]));
        assert_eq!(e.kind(), "github-actions");
        assert_eq!(
            e.builder_id(),
            "https://github.com/acme/app/.github/workflows/release.yml@refs/tags/v1.2.0"
        );
        assert_eq!(
            e.invocation_id().unwrap(),
            "https://github.com/acme/app/actions/runs/42/attempts/2"
        );
        assert_eq!(e.repository_url().unwrap(), "https://github.com/acme/app");
        assert_eq!(e.git_ref().unwrap(), "refs/tags/v1.2.0");
        assert_eq!(e.commit().unwrap(), "0123456789abcdef0123456789abcdef01234567");
        assert_eq!(
            e.external_parameters(),
            json!({"workflow": {"ref": "refs/tags/v1.2.0", "repository": "https://github.com/acme/app",
                                "path": ".github/workflows/release.yml"}})
        );
        assert_eq!(e.internal_parameters()["github"]["runner_environment"], "github-hosted");
        assert!(e.internal_parameters()["github"].get("repository_id").is_none());
    }

    #[test]
    fn github_without_runner_evidence_is_recorded_self_hosted() {
        let e = detect(&env(&[("GITHUB_ACTIONS", "true"), ("GITHUB_REPOSITORY", "acme/app")]));
        assert_eq!(e.internal_parameters()["github"]["runner_environment"], "self-hosted");
        // No workflow ref: nothing to name the builder by, so it is not claimed.
        assert_eq!(e.builder_id(), LOCAL_BUILDER_ID);
        // The marker without the repository is not enough to claim GitHub.
        assert_eq!(detect(&env(&[("GITHUB_ACTIONS", "true")])).kind(), "local");
    }

    #[test]
    fn gitlab_ci() {
        let e = detect(&env(&[
            ("GITLAB_CI", "true"),
            ("CI_SERVER_URL", "https://gitlab.example.com"),
            ("CI_PROJECT_URL", "https://gitlab.example.com/group/app"),
            ("CI_PROJECT_PATH", "group/app"),
            ("CI_COMMIT_SHA", "abc"),
            ("CI_COMMIT_TAG", "v2.0.0"),
            ("CI_COMMIT_REF_NAME", "v2.0.0"),
            ("CI_PIPELINE_ID", "77"),
            ("CI_JOB_ID", "901"),
            ("CI_JOB_URL", "https://gitlab.example.com/group/app/-/jobs/901"),
            ("CI_RUNNER_ID", "12"),
            ("CI_RUNNER_DESCRIPTION", "shared-runner-1"),
        ]));
        assert_eq!(e.kind(), "gitlab-ci");
        assert_eq!(e.builder_id(), "https://gitlab.example.com/group/app/-/runners/12");
        assert_eq!(e.invocation_id().unwrap(), "https://gitlab.example.com/group/app/-/jobs/901");
        assert_eq!(e.git_ref().unwrap(), "refs/tags/v2.0.0");
        assert_eq!(e.workflow_ref().unwrap(), "group/app/.gitlab-ci.yml@refs/tags/v2.0.0");
        assert_eq!(e.internal_parameters()["gitlab"]["runner_description"], "shared-runner-1");
        let branch = detect(&env(&[
            ("GITLAB_CI", "true"),
            ("CI_PROJECT_URL", "https://gitlab.com/g/a"),
            ("CI_PROJECT_PATH", "g/a"),
            ("CI_COMMIT_BRANCH", "main"),
            ("CI_JOB_ID", "5"),
        ]));
        assert_eq!(branch.git_ref().unwrap(), "refs/heads/main");
        assert_eq!(branch.invocation_id().unwrap(), "https://gitlab.com/g/a/-/jobs/5");
        assert_eq!(branch.builder_id(), LOCAL_BUILDER_ID);
    }

    #[test]
    fn buildkite() {
        let e = detect(&env(&[
            ("BUILDKITE", "true"),
            ("BUILDKITE_ORGANIZATION_SLUG", "acme"),
            ("BUILDKITE_PIPELINE_SLUG", "release"),
            ("BUILDKITE_REPO", "git@github.com:acme/app.git"),
            ("BUILDKITE_COMMIT", "def"),
            ("BUILDKITE_BRANCH", "main"),
            ("BUILDKITE_BUILD_URL", "https://buildkite.com/acme/release/builds/8"),
            ("BUILDKITE_JOB_ID", "j-1"),
            ("BUILDKITE_AGENT_NAME", "agent-7"),
        ]));
        assert_eq!(e.kind(), "buildkite");
        assert_eq!(e.builder_id(), "https://buildkite.com/acme/release");
        assert_eq!(e.invocation_id().unwrap(), "https://buildkite.com/acme/release/builds/8#j-1");
        assert_eq!(e.repository_url().unwrap(), "git@github.com:acme/app.git");
        assert_eq!(e.git_ref().unwrap(), "refs/heads/main");
        assert_eq!(e.internal_parameters()["buildkite"]["agent_name"], "agent-7");
        let tagged = detect(&env(&[
            ("BUILDKITE", "true"),
            ("BUILDKITE_ORGANIZATION_SLUG", "acme"),
            ("BUILDKITE_PIPELINE_SLUG", "release"),
            ("BUILDKITE_TAG", "v3"),
            ("BUILDKITE_BRANCH", "v3"),
        ]));
        assert_eq!(tagged.git_ref().unwrap(), "refs/tags/v3");
    }

    #[test]
    fn local_never_claims_a_hosted_builder() {
        let e = detect(&env(&[("HOSTNAME", "laptop"), ("USER", "dev")]));
        assert_eq!(e.kind(), "local");
        assert_eq!(e.builder_id(), LOCAL_BUILDER_ID);
        assert_eq!(e.invocation_id(), None);
        assert_eq!(e.repository_url(), None);
        assert_eq!(
            e.internal_parameters(),
            json!({"local": {"description": "a local machine: not a hosted builder",
                             "hostname": "laptop", "ci": false}})
        );
        let generic = detect(&env(&[("CI", "true"), ("JENKINS_URL", "https://jenkins")]));
        assert_eq!(generic.builder_id(), LOCAL_BUILDER_ID);
        assert_eq!(generic.internal_parameters()["local"]["ci"], true);
        assert_eq!(
            detect(&env(&[("GITHUB_ACTIONS", "false"), ("GITHUB_REPOSITORY", "a/b")])).kind(),
            "local"
        );
    }

    #[test]
    fn detect_current_reads_this_process() {
        // Whatever runs the tests, the result is one of the four and has a builder id.
        assert!(!detect_current().builder_id().is_empty());
    }

    /// Runs the test above in a child process whose environment has a variable that is not
    /// Unicode (name and value), which `std::env::vars()` would panic on.
    #[cfg(unix)]
    #[test]
    fn detect_current_skips_variables_that_are_not_unicode() {
        use std::ffi::OsStr;
        use std::os::unix::ffi::OsStrExt;
        let output = std::process::Command::new(std::env::current_exe().unwrap())
            .args(["--exact", "ci::tests::detect_current_reads_this_process", "--nocapture"])
            .env(OsStr::from_bytes(b"TOLLGATE_NOT_UNICODE_\xff"), OsStr::from_bytes(b"\xfe\xff"))
            .env("GITHUB_REPOSITORY", OsStr::from_bytes(b"acme/\xff"))
            .output()
            .unwrap();
        let stdout = String::from_utf8_lossy(&output.stdout);
        assert!(output.status.success(), "{stdout}{}", String::from_utf8_lossy(&output.stderr));
        assert!(stdout.contains("1 passed"), "{stdout}");
    }
}
