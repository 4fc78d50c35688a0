//! The Job executor: runs a [`Work`] as a `batch/v1` Job of the operator's own image
//! (`tollgate-operator work`, the work JSON in `TOLLGATE_WORK`), waits for it, and reads the result back.
//!
//! How it works, and why:
//! - The work JSON holds secrets (database URLs, store credentials), so it never goes into the
//!   pod spec: it is stored in a Secret named like the Job and handed to the container as the
//!   environment variable `TOLLGATE_WORK`, which the worker reads (`work` without `--json`);
//!   never as an argument, since a command line is readable by every user of the node. Store
//!   credentials travel inside the work JSON too: the worker hands them to the store client
//!   explicitly, exactly as the in-process executor does.
//! - The name is a hash of the work JSON, so an operator that restarts while a Job runs finds
//!   and adopts the same Job (HTTP 409 on create) instead of starting the work twice.
//! - The worker writes `{"outcome": …}` or `{"error": …}` (see
//!   [`termination_message`](super::termination_message)) to `/dev/termination-log`; the
//!   executor reads it from the finished pod's `state.terminated.message`. With
//!   `terminationMessagePolicy: FallbackToLogsOnError`, a worker that crashed before writing
//!   leaves its last log lines there instead, which become an [`ExecError::Executor`].
//! - Completion is polled (`GET` on the Job every `poll_interval`), not watched: one request per
//!   interval for a handful of concurrent Jobs is cheap and survives API-server restarts.
//! - `backoffLimit: 0`: a failed worker is not retried by Kubernetes; the controller decides.
//!   `activeDeadlineSeconds` bounds the run; `ttlSecondsAfterFinished` cleans up Jobs the
//!   executor could not delete. After reading the result the executor deletes the Job (and its
//!   pods, background propagation) and the Secret.

use std::collections::BTreeMap;
use std::time::Duration;

use futures::future::BoxFuture;
use k8s_openapi::api::batch::v1::{Job, JobSpec};
use k8s_openapi::api::core::v1::{
    Capabilities, Container, EmptyDirVolumeSource, EnvVar, EnvVarSource, Pod, PodSecurityContext,
    PodSpec, PodTemplateSpec, SecretKeySelector, SecurityContext, Volume, VolumeMount,
};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{ObjectMeta, OwnerReference};
use kube::api::{DeleteParams, ListParams, Patch, PatchParams, PostParams, PropagationPolicy};
use kube::{Api, Client};
use sha2::{Digest, Sha256};

use super::run::WorkResult;
use super::{ExecError, Executor, Outcome, Work};

/// Where the worker writes its result (the Kubernetes default termination message path).
pub const TERMINATION_LOG: &str = "/dev/termination-log";
/// The Secret key holding the work JSON.
pub const WORK_KEY: &str = "work.json";
/// The environment variable the worker receives the work JSON in.
pub const WORK_ENV: &str = "TOLLGATE_WORK";
/// The worker container's name.
pub const CONTAINER: &str = "work";

/// How Jobs are made.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JobConfig {
    /// Namespace the Jobs and their Secrets run in (the operator's own).
    pub namespace: String,
    /// The operator image (it contains the `work` subcommand and the PostgreSQL client tools).
    pub image: String,
    /// Service account of the worker pods (`None`: the namespace default). Workers never call
    /// the Kubernetes API, so their token is not mounted either way.
    pub service_account: Option<String>,
    /// How often to check the Job.
    pub poll_interval: Duration,
    /// `activeDeadlineSeconds`: the longest a worker may run.
    pub active_deadline_secs: i64,
    /// `ttlSecondsAfterFinished`: cleanup of Jobs the executor could not delete.
    pub ttl_after_finished_secs: i32,
}

impl JobConfig {
    /// Defaults for `namespace` and `image`: poll every 5 s, 6 h deadline, 1 h TTL.
    pub fn new(namespace: impl Into<String>, image: impl Into<String>) -> JobConfig {
        JobConfig {
            namespace: namespace.into(),
            image: image.into(),
            service_account: None,
            poll_interval: Duration::from_secs(5),
            active_deadline_secs: 6 * 3600,
            ttl_after_finished_secs: 3600,
        }
    }
}

/// Runs work as Kubernetes Jobs (see the module documentation).
#[derive(Clone)]
pub struct JobExecutor {
    client: Client,
    config: JobConfig,
}

impl JobExecutor {
    /// An executor creating Jobs through `client` as `config` says.
    pub fn new(client: Client, config: JobConfig) -> JobExecutor {
        JobExecutor { client, config }
    }
}

/// Fields of the work JSON that hold secrets (see [`SecretString`](super::SecretString)).
const SECRET_FIELDS: [&str; 5] =
    ["databaseUrl", "targetDatabaseUrl", "scratchServerUrl", "identities", "credentials"];

fn redact(value: &mut serde_json::Value) {
    match value {
        serde_json::Value::Object(map) => {
            for (k, v) in map.iter_mut() {
                if SECRET_FIELDS.contains(&k.as_str()) {
                    *v = serde_json::Value::String("***".into());
                } else {
                    redact(v);
                }
            }
        }
        serde_json::Value::Array(items) => items.iter_mut().for_each(redact),
        _ => {}
    }
}

/// The Job (and Secret) name of a work item: `tollgate-<kind>-` and 16 hex digits of the
/// SHA-256 of its JSON with the secrets blanked (a visible name must not be a short hash an
/// attacker could test password guesses against). The same work always gets the same name;
/// work differing only in secrets (a rotated password) shares it, and adopts a Job still running.
pub fn job_name(work: &Work) -> String {
    let mut value = serde_json::to_value(work).unwrap_or_default();
    redact(&mut value);
    let digest = hex::encode(Sha256::digest(value.to_string().as_bytes()));
    format!("tollgate-{}-{}", work.kind(), &digest[..16])
}

fn labels(work: &Work) -> BTreeMap<String, String> {
    BTreeMap::from([
        ("app.kubernetes.io/name".to_owned(), "tollgate-operator".to_owned()),
        ("app.kubernetes.io/component".to_owned(), "worker".to_owned()),
        ("tollgate.dev/work-kind".to_owned(), work.kind().to_owned()),
    ])
}

/// The Secret carrying the work JSON (key [`WORK_KEY`]), store credentials included.
pub fn secret_for(config: &JobConfig, work: &Work) -> k8s_openapi::api::core::v1::Secret {
    let mut data = BTreeMap::new();
    data.insert(WORK_KEY.to_owned(), serde_json::to_string(work).unwrap_or_default());
    k8s_openapi::api::core::v1::Secret {
        metadata: ObjectMeta {
            name: Some(job_name(work)),
            namespace: Some(config.namespace.clone()),
            labels: Some(labels(work)),
            ..ObjectMeta::default()
        },
        string_data: Some(data),
        type_: Some("Opaque".to_owned()),
        ..Default::default()
    }
}

fn from_secret(name: &str, secret: &str, key: &str) -> EnvVar {
    EnvVar {
        name: name.to_owned(),
        value_from: Some(EnvVarSource {
            secret_key_ref: Some(SecretKeySelector {
                name: secret.to_owned(),
                key: key.to_owned(),
                optional: Some(false),
            }),
            ..EnvVarSource::default()
        }),
        ..EnvVar::default()
    }
}

/// The Job running `work` (pure; see the module documentation for each choice).
pub fn job_for(config: &JobConfig, work: &Work) -> Job {
    let name = job_name(work);
    let env = vec![from_secret(WORK_ENV, &name, WORK_KEY)];
    let container = Container {
        name: CONTAINER.to_owned(),
        image: Some(config.image.clone()),
        // The worker reads the JSON from its environment: an argument would put the secrets in
        // the process's command line, which every user of the node can read.
        args: Some(vec!["work".into()]),
        env: Some(env),
        termination_message_path: Some(TERMINATION_LOG.to_owned()),
        termination_message_policy: Some("FallbackToLogsOnError".to_owned()),
        security_context: Some(SecurityContext {
            allow_privilege_escalation: Some(false),
            read_only_root_filesystem: Some(true),
            run_as_non_root: Some(true),
            capabilities: Some(Capabilities {
                drop: Some(vec!["ALL".to_owned()]),
                ..Capabilities::default()
            }),
            ..SecurityContext::default()
        }),
        // pg_dump/pg_restore and libpq may want a writable temp dir.
        volume_mounts: Some(vec![VolumeMount {
            name: "tmp".to_owned(),
            mount_path: "/tmp".to_owned(),
            ..VolumeMount::default()
        }]),
        ..Container::default()
    };
    Job {
        metadata: ObjectMeta {
            name: Some(name),
            namespace: Some(config.namespace.clone()),
            labels: Some(labels(work)),
            ..ObjectMeta::default()
        },
        spec: Some(JobSpec {
            backoff_limit: Some(0),
            active_deadline_seconds: Some(config.active_deadline_secs),
            ttl_seconds_after_finished: Some(config.ttl_after_finished_secs),
            template: PodTemplateSpec {
                metadata: Some(ObjectMeta { labels: Some(labels(work)), ..ObjectMeta::default() }),
                spec: Some(PodSpec {
                    restart_policy: Some("Never".to_owned()),
                    service_account_name: config.service_account.clone(),
                    automount_service_account_token: Some(false),
                    security_context: Some(PodSecurityContext {
                        run_as_non_root: Some(true),
                        seccomp_profile: Some(k8s_openapi::api::core::v1::SeccompProfile {
                            type_: "RuntimeDefault".to_owned(),
                            ..Default::default()
                        }),
                        ..PodSecurityContext::default()
                    }),
                    containers: vec![container],
                    volumes: Some(vec![Volume {
                        name: "tmp".to_owned(),
                        empty_dir: Some(EmptyDirVolumeSource::default()),
                        ..Volume::default()
                    }]),
                    ..PodSpec::default()
                }),
            },
            ..JobSpec::default()
        }),
        status: None,
    }
}

/// Whether a Job finished: `Some(true)` succeeded, `Some(false)` failed, `None` still running.
pub fn job_finished(job: &Job) -> Option<bool> {
    let status = job.status.as_ref()?;
    let cond =
        |t: &str| status.conditions.iter().flatten().any(|c| c.type_ == t && c.status == "True");
    if cond("Complete") || status.succeeded.unwrap_or(0) > 0 {
        Some(true)
    } else if cond("Failed") || status.failed.unwrap_or(0) > 0 {
        Some(false)
    } else {
        None
    }
}

/// Reads the worker's result from a finished pod's termination message.
pub fn result_from_pod(pod: &Pod) -> Result<Outcome, ExecError> {
    let name = pod.metadata.name.clone().unwrap_or_default();
    let terminated = pod
        .status
        .as_ref()
        .and_then(|s| s.container_statuses.as_ref())
        .and_then(|cs| cs.iter().find(|c| c.name == CONTAINER))
        .and_then(|c| c.state.as_ref())
        .and_then(|s| s.terminated.as_ref())
        .ok_or_else(|| ExecError::executor(format!("pod {name}: the worker has not terminated")))?;
    let message = terminated.message.as_deref().unwrap_or("").trim();
    match serde_json::from_str::<WorkResult>(message) {
        Ok(r) => r.into(),
        Err(_) => Err(ExecError::executor(format!(
            "pod {name}: worker exited with code {} without a result{}{}",
            terminated.exit_code,
            if message.is_empty() { "" } else { "; last output: " },
            super::truncate(message, 1024)
        ))),
    }
}

fn api_err(what: &str, e: kube::Error) -> ExecError {
    ExecError::executor(format!("{what}: {e}"))
}

fn is_status(e: &kube::Error, code: u16) -> bool {
    matches!(e, kube::Error::Api(s) if s.code == code)
}

impl JobExecutor {
    async fn run_job(&self, work: Work) -> Result<Outcome, ExecError> {
        let ns = &self.config.namespace;
        let name = job_name(&work);
        let secrets: Api<k8s_openapi::api::core::v1::Secret> =
            Api::namespaced(self.client.clone(), ns);
        let jobs: Api<Job> = Api::namespaced(self.client.clone(), ns);
        let pods: Api<Pod> = Api::namespaced(self.client.clone(), ns);
        let pp = PostParams::default();

        let secret = secret_for(&self.config, &work);
        match secrets.create(&pp, &secret).await {
            Ok(_) => {}
            // Left by an earlier run (the name ignores secrets): refresh its data, so a new
            // worker reads the current secrets; a worker already running read its own at start.
            Err(e) if is_status(&e, 409) => {
                let patch = serde_json::json!({ "stringData": secret.string_data });
                secrets
                    .patch(&name, &PatchParams::default(), &Patch::Merge(&patch))
                    .await
                    .map_err(|e| api_err(&format!("updating Secret {ns}/{name}"), e))?;
            }
            Err(e) => return Err(api_err(&format!("creating Secret {ns}/{name}"), e)),
        }
        let job = match jobs.create(&pp, &job_for(&self.config, &work)).await {
            Ok(job) => job,
            Err(e) if is_status(&e, 409) => {
                tracing::info!(job = %name, "adopting the existing Job for this work");
                jobs.get(&name)
                    .await
                    .map_err(|e| api_err(&format!("reading Job {ns}/{name}"), e))?
            }
            Err(e) => return Err(api_err(&format!("creating Job {ns}/{name}"), e)),
        };
        // The Secret goes with the Job (garbage collection), also if this process dies now.
        if let Some(uid) = job.metadata.uid.clone() {
            let owner = OwnerReference {
                api_version: "batch/v1".into(),
                kind: "Job".into(),
                name: name.clone(),
                uid,
                controller: Some(false),
                block_owner_deletion: None,
            };
            let patch = serde_json::json!({ "metadata": { "ownerReferences": [owner] } });
            if let Err(e) =
                secrets.patch(&name, &PatchParams::default(), &Patch::Merge(&patch)).await
            {
                tracing::warn!(secret = %name, error = %e, "cannot tie the Secret to its Job");
            }
        }

        let deadline = tokio::time::Instant::now()
            + Duration::from_secs(self.config.active_deadline_secs.max(0) as u64 + 300);
        let succeeded = loop {
            let job = jobs
                .get(&name)
                .await
                .map_err(|e| api_err(&format!("reading Job {ns}/{name}"), e))?;
            if let Some(done) = job_finished(&job) {
                break done;
            }
            if tokio::time::Instant::now() > deadline {
                return Err(ExecError::executor(format!(
                    "Job {ns}/{name} did not finish within its deadline"
                )));
            }
            tokio::time::sleep(self.config.poll_interval).await;
        };

        let list = pods
            .list(&ListParams::default().labels(&format!("job-name={name}")))
            .await
            .map_err(|e| api_err(&format!("listing pods of Job {ns}/{name}"), e))?;
        let result = match list.items.iter().find(|p| result_from_pod(p).is_ok()) {
            Some(pod) => result_from_pod(pod),
            None => match list.items.first() {
                Some(pod) => result_from_pod(pod),
                None => Err(ExecError::executor(format!(
                    "Job {ns}/{name} {} but has no pod to read the result from",
                    if succeeded { "succeeded" } else { "failed" }
                ))),
            },
        };

        let dp = DeleteParams {
            propagation_policy: Some(PropagationPolicy::Background),
            ..Default::default()
        };
        for (what, r) in [
            ("Job", jobs.delete(&name, &dp).await.map(|_| ())),
            ("Secret", secrets.delete(&name, &dp).await.map(|_| ())),
        ] {
            if let Err(e) = r
                && !is_status(&e, 404)
            {
                tracing::warn!(%name, error = %e, "cannot delete the finished worker's {what}");
            }
        }
        result
    }
}

impl Executor for JobExecutor {
    fn run(&self, work: Work) -> BoxFuture<'static, Result<Outcome, ExecError>> {
        let this = self.clone();
        Box::pin(async move { this.run_job(work).await })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::executor::{SecretString, StoreCredentials, StoreTarget, VerifyTier};

    fn work(creds: bool) -> Work {
        Work::Backup {
            database_url: "postgresql://app:hunter2@db/app".into(),
            store: StoreTarget {
                url: "s3://b/p".into(),
                credentials: creds.then(|| StoreCredentials {
                    access_key_id: SecretString::new("AKIA1"),
                    secret_access_key: SecretString::new("sekret"),
                    session_token: None,
                }),
            },
            recipients: vec![],
        }
    }

    #[test]
    fn job_names_are_deterministic_per_work() {
        let a = job_name(&work(false));
        assert_eq!(a, job_name(&work(false)));
        assert!(a.starts_with("tollgate-backup-") && a.len() == "tollgate-backup-".len() + 16);
        assert!(a.len() <= 63, "a valid label value / DNS label");
        // The name does not depend on secrets, only on what the work does.
        let mut other_password = work(false);
        if let Work::Backup { database_url, .. } = &mut other_password {
            *database_url = "postgresql://app:other@db/app".into();
        }
        assert_eq!(a, job_name(&other_password));
        let mut other_store = work(false);
        if let Work::Backup { store, .. } = &mut other_store {
            store.url = "s3://b/other".into();
        }
        assert_ne!(a, job_name(&other_store));
    }

    #[test]
    fn job_spec_keeps_secrets_out_of_the_pod_spec() {
        let config = JobConfig::new("tollgate-system", "ghcr.io/tollgate-dev/operator:1");
        let w = work(true);
        let job = job_for(&config, &w);
        let text = serde_json::to_string(&job).unwrap();
        assert!(!text.contains("hunter2") && !text.contains("sekret"), "{text}");
        let spec = job.spec.as_ref().unwrap();
        assert_eq!(spec.backoff_limit, Some(0));
        assert_eq!(spec.active_deadline_seconds, Some(6 * 3600));
        assert_eq!(spec.ttl_seconds_after_finished, Some(3600));
        let pod = spec.template.spec.as_ref().unwrap();
        assert_eq!(pod.restart_policy.as_deref(), Some("Never"));
        assert_eq!(pod.automount_service_account_token, Some(false));
        let c = &pod.containers[0];
        assert_eq!(c.name, CONTAINER);
        assert_eq!(c.image.as_deref(), Some("ghcr.io/tollgate-dev/operator:1"));
        assert_eq!(
            c.args.as_deref().unwrap(),
            ["work".to_owned()],
            "no secret on the worker's command line"
        );
        assert_eq!(c.termination_message_policy.as_deref(), Some("FallbackToLogsOnError"));
        let env: Vec<_> = c
            .env
            .iter()
            .flatten()
            .map(|e| {
                let r = e.value_from.as_ref().unwrap().secret_key_ref.as_ref().unwrap();
                (e.name.as_str(), r.name.as_str(), r.key.as_str())
            })
            .collect();
        let name = job_name(&w);
        // Only the work Secret: the credentials travel inside the work JSON.
        assert_eq!(env, vec![(WORK_ENV, name.as_str(), WORK_KEY)]);
        let sc = c.security_context.as_ref().unwrap();
        assert_eq!(sc.allow_privilege_escalation, Some(false));
        assert_eq!(sc.read_only_root_filesystem, Some(true));

        let secret = secret_for(&config, &w);
        assert_eq!(secret.metadata.name.as_deref(), Some(name.as_str()));
        let data = secret.string_data.unwrap();
        let back: Work = serde_json::from_str(&data[WORK_KEY]).unwrap();
        assert_eq!(back, w);
        assert_eq!(back.store_credentials().unwrap().secret_access_key.expose(), "sekret");
        assert_eq!(data.len(), 1, "nothing but the work JSON: {:?}", data.keys());
    }

    fn pod_with(message: Option<&str>, exit_code: i32) -> Pod {
        serde_json::from_value(serde_json::json!({
            "metadata": {"name": "p"},
            "status": {"containerStatuses": [{
                "name": "work", "ready": false, "restartCount": 0, "image": "i", "imageID": "",
                "state": {"terminated": {"exitCode": exit_code, "message": message}}
            }]}
        }))
        .unwrap()
    }

    #[test]
    fn results_are_read_from_the_termination_message() {
        let outcome = Outcome::Verified {
            verification: crate::executor::VerificationRecord {
                backup_id: "b".into(),
                tier: VerifyTier::Toc,
                passed: true,
                started: "2026-11-25T10:00:00Z".into(),
                problems: vec![],
            },
        };
        let msg =
            crate::executor::termination_message(&Ok(serde_json::to_string(&outcome).unwrap()));
        assert_eq!(result_from_pod(&pod_with(Some(&msg), 0)), Ok(outcome));

        let failed = crate::executor::ExecError::failed(
            crate::executor::FailureReason::Integrity,
            "sha256 mismatch",
        );
        let msg = crate::executor::termination_message(&Err(failed.clone()));
        assert_eq!(result_from_pod(&pod_with(Some(&msg), 1)), Err(failed));

        let crashed = result_from_pod(&pod_with(Some("thread 'main' panicked at x"), 101));
        match crashed {
            Err(ExecError::Executor { message }) => {
                assert!(message.contains("code 101") && message.contains("panicked"), "{message}")
            }
            other => panic!("{other:?}"),
        }
        let running: Pod =
            serde_json::from_value(serde_json::json!({"metadata": {"name": "p"}})).unwrap();
        assert!(matches!(result_from_pod(&running), Err(ExecError::Executor { .. })));
    }

    #[test]
    fn job_completion_is_read_from_status() {
        let job = |status: serde_json::Value| -> Job {
            serde_json::from_value(serde_json::json!({"metadata": {}, "status": status})).unwrap()
        };
        assert_eq!(job_finished(&job(serde_json::json!({"active": 1}))), None);
        assert_eq!(job_finished(&job(serde_json::json!({"succeeded": 1}))), Some(true));
        assert_eq!(
            job_finished(&job(serde_json::json!({"conditions": [
                {"type": "Failed", "status": "True", "reason": "DeadlineExceeded"}
            ]}))),
            Some(false)
        );
    }
}
