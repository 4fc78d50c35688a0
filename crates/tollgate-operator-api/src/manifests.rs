//! The install manifests in `operator/deploy/`, generated from code so they cannot drift from
//! the CRD types and the API calls the controllers make: `crds.yaml` (from [`crd::all`]),
//! `rbac.yaml` (least privilege), `deployment.yaml`, `poddisruptionbudget.yaml`, `service.yaml`
//! and `networkpolicy.yaml`.
//!
//! Two scopes ([`Options`]): cluster-wide (the default, what `operator/deploy/` holds: a
//! ClusterRole and ClusterRoleBinding), or namespaced (`--watch-namespace NS`, repeatable: a
//! Role and RoleBinding in each watched namespace, no cluster-wide permission at all). The CRDs
//! are cluster-scoped definitions in both: `crds.yaml` is installed separately, by someone
//! allowed to create CRDs.
//!
//! Output is deterministic (no timestamps; the image tag is the workspace version, which this
//! crate shares with `tollgate-operator`), so a test (`operator/tests/it/manifests.rs`) can
//! compare the committed files with [`render`] and fail when they are stale. The RBAC rules here
//! must follow the API calls of the operator's controllers: a controller that needs a new verb
//! changes [`render`] too.

use std::path::{Path, PathBuf};

use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::core::v1::{Service, ServiceAccount};
use k8s_openapi::api::networking::v1::NetworkPolicy;
use k8s_openapi::api::policy::v1::PodDisruptionBudget;
use k8s_openapi::api::rbac::v1::{ClusterRole, ClusterRoleBinding, Role, RoleBinding};
use serde::Serialize;
use serde_json::json;

use crate::crd;

/// The namespace the operator is installed into.
pub const NAMESPACE: &str = "tollgate-system";
/// The name of the ServiceAccount, roles, Deployment and Service.
pub const NAME: &str = "tollgate-operator";
/// The container port of `/metrics`, `/healthz` and `/readyz`.
pub const HTTP_PORT: i32 = 8080;
/// The command that refreshes `operator/deploy/` in this repository.
pub const REFRESH_COMMAND: &str = "cargo xtask operator manifests --output-dir operator/deploy";

/// Default `--max-concurrent-backups` of the operator (its Deployment is sized for it).
pub const DEFAULT_MAX_BACKUPS: usize = 2;
/// Default `--max-concurrent-restores` (verifications and restores) of the operator.
pub const DEFAULT_MAX_RESTORES: usize = 1;
/// Default `--max-concurrent-migrations` of the operator (migrations run over one connection
/// each and hold no dump: they are not counted in the memory budget).
pub const DEFAULT_MAX_MIGRATIONS: usize = 2;
/// Memory of the operator itself (runtime, clients, the watch caches of every controller),
/// MiB: the `base` of the memory formula in docs/operator.md.
pub const MEMORY_BASE_MIB: usize = 160;
/// Memory budget of one running backup or restore/verification, MiB: measured peak of
/// `pg_dump` + `psql` + our streaming (sha256, age, S3 multipart upload) of 33 MB over the
/// process's idle size for a 313 MB database (docs/operator.md), rounded up with headroom for
/// larger catalogs (pg_dump's memory grows with the number of schema objects).
pub const MEMORY_PER_WORK_MIB: usize = 48;

/// The memory limit of the operator container: `base + (backups + restores) × per-work peak`.
pub fn memory_limit_mib(max_backups: usize, max_restores: usize) -> usize {
    MEMORY_BASE_MIB + (max_backups + max_restores) * MEMORY_PER_WORK_MIB
}

/// Why manifests could not be rendered, written or read.
#[derive(Debug, thiserror::Error)]
pub enum ManifestError {
    /// A manifest did not serialise to YAML.
    #[error("rendering {file}: {message}")]
    Render {
        /// The file being rendered.
        file: &'static str,
        /// The serialiser's message.
        message: String,
    },
    /// A `--watch-namespace` value is not a namespace name (an RFC 1123 label).
    #[error(
        "--watch-namespace {0:?}: not a namespace name (lowercase letters, digits and '-', at most 63, starting and ending with a letter or digit)"
    )]
    InvalidNamespace(String),
    /// Writing or reading a file failed.
    #[error("{path}: {cause}")]
    Io {
        /// The file.
        path: PathBuf,
        /// Why.
        cause: std::io::Error,
    },
}

/// What to render.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Options {
    /// The namespaces the operator watches (`--watch-namespace`); empty: the whole cluster.
    /// Sorted and deduplicated by [`Options::namespaced`].
    pub watch_namespaces: Vec<String>,
}

impl Options {
    /// Options for a namespaced install watching `namespaces` (validated, sorted, deduplicated).
    pub fn namespaced<S: AsRef<str>>(namespaces: &[S]) -> Result<Options, ManifestError> {
        let mut out = Vec::new();
        for ns in namespaces {
            let ns = ns.as_ref();
            if !is_namespace_name(ns) {
                return Err(ManifestError::InvalidNamespace(ns.to_owned()));
            }
            out.push(ns.to_owned());
        }
        out.sort();
        out.dedup();
        Ok(Options { watch_namespaces: out })
    }
}

/// Whether `s` is an RFC 1123 label, the form of a namespace name.
pub fn is_namespace_name(s: &str) -> bool {
    let b = s.as_bytes();
    !b.is_empty()
        && b.len() <= 63
        && b.iter().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || *c == b'-')
        && b[0] != b'-'
        && b[b.len() - 1] != b'-'
}

/// One generated file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Manifest {
    /// File name inside the output directory.
    pub file_name: &'static str,
    /// The YAML text (one or more documents).
    pub contents: String,
}

const HEADER: &str = "# Generated by `tollgate operator manifests` from the tollgate-operator sources; do not edit.\n";

fn documents<T: Serialize>(
    file: &'static str,
    preamble: &str,
    docs: &[T],
) -> Result<Manifest, ManifestError> {
    let mut contents = String::from(HEADER);
    contents.push_str(preamble);
    for doc in docs {
        let yaml = serde_yaml_ng::to_string(doc)
            .map_err(|e| ManifestError::Render { file, message: e.to_string() })?;
        contents.push_str("---\n");
        contents.push_str(&yaml);
    }
    Ok(Manifest { file_name: file, contents })
}

fn from_json<T: serde::de::DeserializeOwned>(
    file: &'static str,
    value: serde_json::Value,
) -> Result<T, ManifestError> {
    serde_json::from_value(value)
        .map_err(|e| ManifestError::Render { file, message: e.to_string() })
}

fn labels() -> serde_json::Value {
    json!({"app.kubernetes.io/name": NAME, "app.kubernetes.io/part-of": "tollgate"})
}

/// One RBAC rule: API group, resources, verbs, and why (which code needs them).
struct Rule {
    group: &'static str,
    resources: &'static [&'static str],
    verbs: &'static [&'static str],
}

/// Cluster-wide permissions: the controllers watch their kinds and read what they compare or
/// connect to in every namespace.
const CLUSTER_RULES: &[Rule] = &[
    // Every controller watches its kind (and the kinds it owns or follows) and reads the
    // objects its spec names; no finalizers are used, so no patches of the main resources.
    Rule {
        group: "tollgate.dev",
        resources: &["backuppolicies", "environmentparities", "schemamigrations"],
        verbs: &["get", "list", "watch"],
    },
    // BackupPolicy creates one Backup per scheduled run and deletes the Backup objects whose
    // stored backups retention removed; SchemaMigration creates pre-migration Backups.
    Rule {
        group: "tollgate.dev",
        resources: &["backups"],
        verbs: &["create", "delete", "get", "list", "watch"],
    },
    // BackupPolicy creates Restore objects for verification drills.
    Rule {
        group: "tollgate.dev",
        resources: &["restores"],
        verbs: &["create", "get", "list", "watch"],
    },
    // Status is written by server-side apply only.
    Rule {
        group: "tollgate.dev",
        resources: &[
            "backuppolicies/status",
            "backups/status",
            "environmentparities/status",
            "restores/status",
            "schemamigrations/status",
        ],
        verbs: &["patch"],
    },
    // EnvironmentParity compares ConfigMaps, Secrets (key names and value hashes) and
    // Deployments (image digests) from watch-backed caches; SchemaMigration reads migrations
    // from ConfigMaps; connection and store credentials come from Secrets.
    Rule { group: "", resources: &["configmaps", "secrets"], verbs: &["get", "list", "watch"] },
    Rule { group: "apps", resources: &["deployments"], verbs: &["get", "list", "watch"] },
    // An event for every condition transition (the recorder creates, then patches a series).
    Rule { group: "events.k8s.io", resources: &["events"], verbs: &["create", "patch"] },
];

/// Permissions in the operator's own namespace: the leader Lease, and the Jobs (with their
/// work Secrets) of the Job executor.
const NAMESPACE_RULES: &[Rule] = &[
    Rule {
        group: "coordination.k8s.io",
        resources: &["leases"],
        verbs: &["create", "get", "patch"],
    },
    Rule { group: "batch", resources: &["jobs"], verbs: &["create", "delete", "get"] },
    Rule { group: "", resources: &["secrets"], verbs: &["create", "delete", "patch"] },
    Rule { group: "", resources: &["pods"], verbs: &["list"] },
];

fn rules(rules: &[Rule]) -> serde_json::Value {
    rules
        .iter()
        .map(|r| json!({"apiGroups": [r.group], "resources": r.resources, "verbs": r.verbs}))
        .collect()
}

/// The name of the Role (and RoleBinding) in each watched namespace of a namespaced install
/// (distinct from the operator-namespace Role [`NAME`], so the operator's own namespace can be
/// watched too).
pub const WATCH_ROLE: &str = "tollgate-operator-watch";

fn rbac(options: &Options) -> Result<Manifest, ManifestError> {
    const FILE: &str = "rbac.yaml";
    let account: ServiceAccount = from_json(
        FILE,
        json!({
            "apiVersion": "v1", "kind": "ServiceAccount",
            "metadata": {"name": NAME, "namespace": NAMESPACE, "labels": labels()},
        }),
    )?;
    let subjects = json!([{"kind": "ServiceAccount", "name": NAME, "namespace": NAMESPACE}]);
    let mut contents = documents(FILE, "", &[account])?.contents;
    let mut push = |part: Manifest| contents.push_str(part.contents.trim_start_matches(HEADER));
    if options.watch_namespaces.is_empty() {
        let cluster_role: ClusterRole = from_json(
            FILE,
            json!({
                "apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRole",
                "metadata": {"name": NAME, "labels": labels()},
                "rules": rules(CLUSTER_RULES),
            }),
        )?;
        let cluster_binding: ClusterRoleBinding = from_json(
            FILE,
            json!({
                "apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRoleBinding",
                "metadata": {"name": NAME, "labels": labels()},
                "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": NAME},
                "subjects": subjects,
            }),
        )?;
        push(documents(FILE, "", &[cluster_role])?);
        push(documents(FILE, "", &[cluster_binding])?);
    } else {
        // The same rules as the ClusterRole, granted only inside each watched namespace.
        for ns in &options.watch_namespaces {
            let role: Role = from_json(
                FILE,
                json!({
                    "apiVersion": "rbac.authorization.k8s.io/v1", "kind": "Role",
                    "metadata": {"name": WATCH_ROLE, "namespace": ns, "labels": labels()},
                    "rules": rules(CLUSTER_RULES),
                }),
            )?;
            let binding: RoleBinding = from_json(
                FILE,
                json!({
                    "apiVersion": "rbac.authorization.k8s.io/v1", "kind": "RoleBinding",
                    "metadata": {"name": WATCH_ROLE, "namespace": ns, "labels": labels()},
                    "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": WATCH_ROLE},
                    "subjects": subjects,
                }),
            )?;
            push(documents(FILE, "", &[role])?);
            push(documents(FILE, "", &[binding])?);
        }
    }
    let role: Role = from_json(
        FILE,
        json!({
            "apiVersion": "rbac.authorization.k8s.io/v1", "kind": "Role",
            "metadata": {"name": NAME, "namespace": NAMESPACE, "labels": labels()},
            "rules": rules(NAMESPACE_RULES),
        }),
    )?;
    let binding: RoleBinding = from_json(
        FILE,
        json!({
            "apiVersion": "rbac.authorization.k8s.io/v1", "kind": "RoleBinding",
            "metadata": {"name": NAME, "namespace": NAMESPACE, "labels": labels()},
            "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": NAME},
            "subjects": subjects,
        }),
    )?;
    push(documents(FILE, "", &[role])?);
    push(documents(FILE, "", &[binding])?);
    Ok(Manifest { file_name: FILE, contents })
}

fn pod_disruption_budget() -> Result<Manifest, ManifestError> {
    const FILE: &str = "poddisruptionbudget.yaml";
    // A voluntary disruption (a node drain) may take one replica at a time: the standby (or
    // the new leader after a Lease hand-over) keeps running.
    let pdb: PodDisruptionBudget = from_json(
        FILE,
        json!({
            "apiVersion": "policy/v1", "kind": "PodDisruptionBudget",
            "metadata": {"name": NAME, "namespace": NAMESPACE, "labels": labels()},
            "spec": {
                "minAvailable": 1,
                "selector": {"matchLabels": {"app.kubernetes.io/name": NAME}},
            },
        }),
    )?;
    documents(FILE, "", &[pdb])
}

fn deployment(options: &Options) -> Result<Manifest, ManifestError> {
    const FILE: &str = "deployment.yaml";
    let image = format!("ghcr.io/tollgate/tollgate-operator:{}", env!("CARGO_PKG_VERSION"));
    let field_env = |name: &str, path: &str| json!({"name": name, "valueFrom": {"fieldRef": {"fieldPath": path}}});
    let probe = |path: &str, period: i32| {
        json!({
            "httpGet": {"path": path, "port": "http"},
            "periodSeconds": period,
            "timeoutSeconds": 2,
            "failureThreshold": 3,
        })
    };
    // The work limits are spelled out: the memory limit below is sized for them (raise both
    // together, see `memory_limit_mib`).
    let mut args = vec![
        "run".to_owned(),
        "--log-format=json".to_owned(),
        format!("--http-addr=0.0.0.0:{HTTP_PORT}"),
        format!("--max-concurrent-backups={DEFAULT_MAX_BACKUPS}"),
        format!("--max-concurrent-restores={DEFAULT_MAX_RESTORES}"),
        format!("--max-concurrent-migrations={DEFAULT_MAX_MIGRATIONS}"),
    ];
    args.extend(options.watch_namespaces.iter().map(|ns| format!("--watch-namespace={ns}")));
    let deployment: Deployment = from_json(
        FILE,
        json!({
            "apiVersion": "apps/v1", "kind": "Deployment",
            "metadata": {"name": NAME, "namespace": NAMESPACE, "labels": labels()},
            "spec": {
                // Two replicas: one leads (Lease), the other is a warm standby.
                "replicas": 2,
                "selector": {"matchLabels": {"app.kubernetes.io/name": NAME}},
                "template": {
                    "metadata": {"labels": labels()},
                    "spec": {
                        "serviceAccountName": NAME,
                        // Spread the two replicas over nodes where possible, so one node going
                        // away does not take leader and standby together.
                        "affinity": {"podAntiAffinity": {
                            "preferredDuringSchedulingIgnoredDuringExecution": [{
                                "weight": 100,
                                "podAffinityTerm": {
                                    "topologyKey": "kubernetes.io/hostname",
                                    "labelSelector": {"matchLabels": {"app.kubernetes.io/name": NAME}},
                                },
                            }],
                        }},
                        "automountServiceAccountToken": true,
                        "terminationGracePeriodSeconds": 30,
                        "securityContext": {
                            "runAsNonRoot": true,
                            "runAsUser": 65532,
                            "runAsGroup": 65532,
                            "fsGroup": 65532,
                            "seccompProfile": {"type": "RuntimeDefault"},
                        },
                        "containers": [{
                            "name": "operator",
                            "image": image,
                            // The work limits are spelled out: the memory limit below is sized
                            // for them (raise both together, see `memory_limit_mib`).
                            "args": args,
                            "env": [
                                field_env("POD_NAME", "metadata.name"),
                                field_env("POD_NAMESPACE", "metadata.namespace"),
                                {"name": "RUST_LOG", "value": "info"},
                            ],
                            "ports": [{"name": "http", "containerPort": HTTP_PORT, "protocol": "TCP"}],
                            "livenessProbe": probe("/healthz", 10),
                            "readinessProbe": probe("/readyz", 5),
                            "resources": {
                                "requests": {"cpu": "50m", "memory": format!("{MEMORY_BASE_MIB}Mi")},
                                "limits": {"cpu": "1", "memory": format!("{}Mi", memory_limit_mib(DEFAULT_MAX_BACKUPS, DEFAULT_MAX_RESTORES))},
                            },
                            "securityContext": {
                                "allowPrivilegeEscalation": false,
                                "readOnlyRootFilesystem": true,
                                "capabilities": {"drop": ["ALL"]},
                            },
                            // pg_dump/pg_restore scratch space; the root filesystem is read-only.
                            "volumeMounts": [{"name": "tmp", "mountPath": "/tmp"}],
                        }],
                        "volumes": [{"name": "tmp", "emptyDir": {"sizeLimit": "1Gi"}}],
                    },
                },
            },
        }),
    )?;
    documents(FILE, "", &[deployment])
}

fn service() -> Result<Manifest, ManifestError> {
    const FILE: &str = "service.yaml";
    let service: Service = from_json(
        FILE,
        json!({
            "apiVersion": "v1", "kind": "Service",
            "metadata": {"name": format!("{NAME}-metrics"), "namespace": NAMESPACE, "labels": labels()},
            "spec": {
                "selector": {"app.kubernetes.io/name": NAME},
                "ports": [{"name": "http-metrics", "port": HTTP_PORT, "targetPort": "http", "protocol": "TCP"}],
            },
        }),
    )?;
    documents(FILE, "", &[service])
}

fn network_policy() -> Result<Manifest, ManifestError> {
    const FILE: &str = "networkpolicy.yaml";
    const NOTE: &str = "\
# A TEMPLATE to adjust per cluster: ingress is open only on the metrics/health port (narrow
# `from` to your Prometheus namespace); egress allows DNS, the Kubernetes API server (ports 443
# and 6443 to any address: replace with your API server's CIDR), PostgreSQL (5432) and object
# storage over HTTPS (443). Add ports for databases or stores that listen elsewhere.
";
    let tcp = |port: i32| json!({"protocol": "TCP", "port": port});
    let policy: NetworkPolicy = from_json(
        FILE,
        json!({
            "apiVersion": "networking.k8s.io/v1", "kind": "NetworkPolicy",
            "metadata": {"name": NAME, "namespace": NAMESPACE, "labels": labels()},
            "spec": {
                "podSelector": {"matchLabels": {"app.kubernetes.io/name": NAME}},
                "policyTypes": ["Ingress", "Egress"],
                "ingress": [{"ports": [tcp(HTTP_PORT)]}],
                "egress": [
                    {
                        "to": [{
                            "namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "kube-system"}},
                            "podSelector": {"matchLabels": {"k8s-app": "kube-dns"}},
                        }],
                        "ports": [{"protocol": "UDP", "port": 53}, tcp(53)],
                    },
                    {"ports": [tcp(443), tcp(6443)]},
                    {"ports": [tcp(5432)]},
                ],
            },
        }),
    )?;
    documents(FILE, NOTE, &[policy])
}

fn crds() -> Result<Manifest, ManifestError> {
    documents("crds.yaml", "", &crd::all())
}

/// Every manifest of the cluster-wide install (what `operator/deploy/` holds), in file-name
/// order.
pub fn render() -> Result<Vec<Manifest>, ManifestError> {
    render_with(&Options::default())
}

/// Every manifest of the install `options` describe, in file-name order.
pub fn render_with(options: &Options) -> Result<Vec<Manifest>, ManifestError> {
    let mut all = vec![
        crds()?,
        deployment(options)?,
        network_policy()?,
        pod_disruption_budget()?,
        rbac(options)?,
        service()?,
    ];
    all.sort_by_key(|m| m.file_name);
    Ok(all)
}

/// Writes every manifest of the cluster-wide install into `dir`; see [`write_with`].
pub fn write(dir: &Path) -> Result<Vec<PathBuf>, ManifestError> {
    write_with(dir, &Options::default())
}

/// Writes every manifest of `options`' install into `dir` (created if missing), each
/// atomically (temp file + rename); returns the paths written.
pub fn write_with(dir: &Path, options: &Options) -> Result<Vec<PathBuf>, ManifestError> {
    std::fs::create_dir_all(dir)
        .map_err(|cause| ManifestError::Io { path: dir.to_owned(), cause })?;
    let mut written = Vec::new();
    for manifest in render_with(options)? {
        let path = dir.join(manifest.file_name);
        tollgate_core::fs::write_atomic(&path, manifest.contents.as_bytes())
            .map_err(|cause| ManifestError::Io { path: path.clone(), cause })?;
        written.push(path);
    }
    Ok(written)
}

/// The files in `dir` that differ from [`render`] or are missing (empty: up to date).
pub fn stale(dir: &Path) -> Result<Vec<PathBuf>, ManifestError> {
    let mut out = Vec::new();
    for manifest in render()? {
        let path = dir.join(manifest.file_name);
        match std::fs::read_to_string(&path) {
            Ok(text) if text == manifest.contents => {}
            Ok(_) => out.push(path),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => out.push(path),
            Err(cause) => return Err(ManifestError::Io { path, cause }),
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde::Deserialize as _;

    #[test]
    fn rendering_is_deterministic_and_parses_back() {
        let first = render().unwrap();
        assert_eq!(first, render().unwrap());
        let names: Vec<_> = first.iter().map(|m| m.file_name).collect();
        assert_eq!(
            names,
            [
                "crds.yaml",
                "deployment.yaml",
                "networkpolicy.yaml",
                "poddisruptionbudget.yaml",
                "rbac.yaml",
                "service.yaml"
            ]
        );
        for manifest in &first {
            for doc in serde_yaml_ng::Deserializer::from_str(&manifest.contents) {
                let value = serde_json::Value::deserialize(doc).unwrap();
                assert!(
                    value.get("kind").is_some(),
                    "{}: a document without kind",
                    manifest.file_name
                );
            }
        }
    }

    #[test]
    fn deployment_is_locked_down() {
        let text = deployment(&Options::default()).unwrap().contents;
        let doc: Deployment =
            serde_yaml_ng::from_str(text.trim_start_matches(HEADER).trim_start_matches("---\n"))
                .unwrap();
        let pod = doc.spec.template.spec.unwrap();
        assert_eq!(pod.security_context.unwrap().run_as_non_root, Some(true));
        let c = &pod.containers[0];
        let sc = c.security_context.as_ref().unwrap();
        assert_eq!(sc.read_only_root_filesystem, Some(true));
        assert_eq!(sc.allow_privilege_escalation, Some(false));
        assert_eq!(
            c.liveness_probe.as_ref().unwrap().http_get.as_ref().unwrap().path.as_deref(),
            Some("/healthz")
        );
        assert_eq!(
            c.readiness_probe.as_ref().unwrap().http_get.as_ref().unwrap().path.as_deref(),
            Some("/readyz")
        );
        let resources = c.resources.as_ref().unwrap();
        let limit = &resources.limits.as_ref().unwrap()["memory"].0;
        assert_eq!(limit, "304Mi", "160 + (2 + 1) × 48");
        assert_eq!(
            limit,
            &format!("{}Mi", memory_limit_mib(DEFAULT_MAX_BACKUPS, DEFAULT_MAX_RESTORES))
        );
        let args = c.args.as_ref().unwrap();
        assert!(
            args.contains(&format!("--max-concurrent-backups={DEFAULT_MAX_BACKUPS}")),
            "{args:?}"
        );
        assert!(
            args.contains(&format!("--max-concurrent-restores={DEFAULT_MAX_RESTORES}")),
            "{args:?}"
        );
        assert!(c.resources.as_ref().unwrap().limits.is_some());
        let spread = pod.affinity.unwrap().pod_anti_affinity.unwrap();
        let term = &spread.preferred_during_scheduling_ignored_during_execution.unwrap()[0];
        assert_eq!(term.pod_affinity_term.topology_key, "kubernetes.io/hostname");
        assert_eq!(doc.spec.replicas, Some(2));
    }

    #[test]
    fn a_disruption_budget_keeps_one_replica() {
        let text = pod_disruption_budget().unwrap().contents;
        let pdb: PodDisruptionBudget =
            serde_yaml_ng::from_str(text.trim_start_matches(HEADER).trim_start_matches("---\n"))
                .unwrap();
        let spec = pdb.spec.unwrap();
        assert_eq!(
            spec.min_available,
            Some(k8s_openapi::apimachinery::pkg::util::intstr::IntOrString::Int(1))
        );
        assert_eq!(
            spec.selector.unwrap().match_labels.unwrap().get("app.kubernetes.io/name"),
            Some(&NAME.to_owned())
        );
    }

    fn kinds(text: &str) -> Vec<String> {
        serde_yaml_ng::Deserializer::from_str(text)
            .map(|doc| {
                let v = serde_json::Value::deserialize(doc).unwrap();
                format!(
                    "{} {}/{}",
                    v["kind"].as_str().unwrap(),
                    v["metadata"]["namespace"].as_str().unwrap_or(""),
                    v["metadata"]["name"].as_str().unwrap()
                )
            })
            .collect()
    }

    #[test]
    fn a_namespaced_install_has_roles_per_namespace_and_no_cluster_role() {
        let options = Options::namespaced(&["shop", "ops", "shop"]).unwrap();
        assert_eq!(options.watch_namespaces, ["ops", "shop"]);
        let rendered = render_with(&options).unwrap();
        let rbac = &rendered.iter().find(|m| m.file_name == "rbac.yaml").unwrap().contents;
        assert_eq!(
            kinds(rbac),
            [
                "ServiceAccount tollgate-system/tollgate-operator",
                "Role ops/tollgate-operator-watch",
                "RoleBinding ops/tollgate-operator-watch",
                "Role shop/tollgate-operator-watch",
                "RoleBinding shop/tollgate-operator-watch",
                "Role tollgate-system/tollgate-operator",
                "RoleBinding tollgate-system/tollgate-operator",
            ]
        );
        assert!(!rbac.contains("ClusterRole"));
        let deployment =
            &rendered.iter().find(|m| m.file_name == "deployment.yaml").unwrap().contents;
        assert!(deployment.contains("- --watch-namespace=ops\n"), "{deployment}");
        assert!(deployment.contains("- --watch-namespace=shop\n"), "{deployment}");
        // The CRDs are the same cluster-scoped definitions in both scopes.
        assert_eq!(rendered[0], render().unwrap()[0]);
        // Snapshot of the namespaced RBAC (a change is a reviewed change).
        insta::assert_snapshot!("namespaced_rbac", rbac);
    }

    #[test]
    fn a_namespace_that_is_not_a_name_is_refused() {
        for bad in ["", "Shop", "-shop", "shop-", "shop_1", &"a".repeat(64)] {
            let e = Options::namespaced(&[bad]).unwrap_err();
            assert!(e.to_string().starts_with("--watch-namespace"), "{e}");
        }
        assert!(Options::namespaced(&["a", "shop-1", &"a".repeat(63)]).is_ok());
    }

    #[test]
    fn rbac_grants_no_wildcards_and_deletes_only_backup_objects() {
        for rule in CLUSTER_RULES.iter().chain(NAMESPACE_RULES) {
            assert!(!rule.verbs.contains(&"*") && !rule.resources.contains(&"*"));
            let mut sorted = rule.verbs.to_vec();
            sorted.sort_unstable();
            assert_eq!(sorted, rule.verbs, "verbs are listed sorted");
            if rule.group == "tollgate.dev" && rule.resources != ["backups"] {
                assert!(!rule.verbs.contains(&"delete"), "{:?} are never deleted", rule.resources);
            }
        }
        // Secrets are read cluster-wide, but written only in the operator's namespace (the
        // Job executor's work Secrets).
        let writes_secrets = |rules: &[Rule]| {
            rules.iter().any(|r| {
                r.group.is_empty()
                    && r.resources.contains(&"secrets")
                    && r.verbs.contains(&"create")
            })
        };
        assert!(!writes_secrets(CLUSTER_RULES));
        assert!(writes_secrets(NAMESPACE_RULES));
        let text = rbac(&Options::default()).unwrap().contents;
        assert_eq!(serde_yaml_ng::Deserializer::from_str(&text).count(), 5);
    }

    #[test]
    fn write_then_stale_is_empty_and_detects_edits() {
        let dir = tempfile::tempdir().unwrap();
        let written = write(dir.path()).unwrap();
        assert_eq!(written.len(), 6);
        assert!(stale(dir.path()).unwrap().is_empty());
        std::fs::write(dir.path().join("rbac.yaml"), "edited").unwrap();
        std::fs::remove_file(dir.path().join("crds.yaml")).unwrap();
        let stale = stale(dir.path()).unwrap();
        assert_eq!(stale, [dir.path().join("crds.yaml"), dir.path().join("rbac.yaml")]);
    }
}
