//! Reconcile latency of one EnvironmentParity over big caches, and the memory they take.
//!
//! Setup: 5,000 Deployments and 5,000 ConfigMaps spread over 3 environments (namespaces dev,
//! staging, prod; ~1,667 of each per environment, two containers per Deployment, six keys per
//! ConfigMap, ~1% of objects drifting between neighbouring environments), loaded into the same
//! `reflector` stores the controller's watches fill, as those watches store them: Deployments
//! slimmed ([`slim_deployment_in_place`]) and ConfigMap values replaced by their digests
//! ([`digest_config_map_in_place`]), so a reconcile hashes nothing. One reconcile = what the
//! controller does per object: a snapshot of each environment from the caches
//! ([`ClusterCaches::snapshot_memoised`]) and the status computation with the diff
//! ([`compute_status`]); no API calls. Measured three times:
//! - right after one object changed: the watch event is passed to [`ClusterCaches::record`]
//!   (timed with the reconcile), which reads only that object again into the memoised
//!   snapshots. Changes rotate over the environments and over Deployments and ConfigMaps, and
//!   every second one reverts the previous, so the drift count stays put;
//! - after a new list (a watch restarted, or start-up): every snapshot is built again from the
//!   stores ([`ClusterCaches::mark_changed`]), the worst case;
//! - in steady state (memoised snapshots reused).
//!
//! Criterion reports the mean and its confidence interval; before that, a fixed run of 300
//! reconciles of each case prints the median, the p99 and the resident memory (VmRSS / VmHWM from
//! /proc/self/status), the figures the issue sets targets for (p99 < 50 ms, RSS < 200 MB).
//! Run: `cargo bench -p tollgate-operator --bench parity`.
//!
//! Instruction counts (repeatable on a busy machine): `PARITY_SAMPLES=N` sets the number of
//! reconciles per case of that fixed run (at least 2, even; default 300), and a criterion
//! filter that matches nothing skips the rest, e.g.
//! `PARITY_SAMPLES=12 valgrind --tool=callgrind target/release/deps/parity-… --bench none`;
//! the difference between two sample counts, divided, is the cost of one reconcile of each
//! case together (`callgrind_annotate --inclusive=yes` splits it by function).

// A benchmark reports on stdout.
#![allow(clippy::print_stdout)]

use std::collections::BTreeMap;
use std::hint::black_box;
use std::time::{Duration, Instant};

use criterion::{Criterion, criterion_group, criterion_main};
use k8s_openapi::api::apps::v1::{Deployment, DeploymentSpec};
use k8s_openapi::api::core::v1::{ConfigMap, Container, PodSpec, PodTemplateSpec, Secret};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{LabelSelector, ObjectMeta};
use kube::runtime::reflector::{self, Store, store::Writer};
use kube::runtime::watcher;
use tollgate_operator::controllers::parity::{ClusterCaches, EnvRead, compute_status};
use tollgate_operator::crd::migration::SchemaMigration;
use tollgate_operator::crd::parity::{
    Dimension, Environment, EnvironmentParity, EnvironmentParitySpec, EnvironmentParityStatus,
};
use tollgate_operator::parity::{Object, digest_config_map_in_place, slim_deployment_in_place};

const ENVIRONMENTS: [&str; 3] = ["dev", "staging", "prod"];
const DEPLOYMENTS: usize = 5_000;
const CONFIG_MAPS: usize = 5_000;

fn meta(namespace: &str, name: &str) -> ObjectMeta {
    ObjectMeta {
        name: Some(name.into()),
        namespace: Some(namespace.into()),
        resource_version: Some("1".into()),
        uid: Some(format!("{namespace}-{name}")),
        labels: Some(BTreeMap::from([("app.kubernetes.io/part-of".into(), "shop".into())])),
        ..ObjectMeta::default()
    }
}

/// Object `i` of environment `env`; about 1% differ from the previous environment.
fn drifts(i: usize, env: usize) -> bool {
    env > 0 && i % 97 == env
}

fn deployment(env: usize, i: usize) -> Deployment {
    let ns = ENVIRONMENTS[env];
    let name = format!("svc-{i:05}");
    let version = if drifts(i, env) { format!("1.{env}.0") } else { "1.0.0".into() };
    let container = |n: &str, image: String| Container {
        name: n.into(),
        image: Some(image),
        ..Container::default()
    };
    Deployment {
        metadata: meta(ns, &name),
        spec: DeploymentSpec {
            replicas: Some(2),
            selector: LabelSelector {
                match_labels: Some(BTreeMap::from([("app".into(), name.clone())])),
                ..LabelSelector::default()
            },
            template: PodTemplateSpec {
                metadata: Some(ObjectMeta {
                    labels: Some(BTreeMap::from([("app".into(), name.clone())])),
                    ..ObjectMeta::default()
                }),
                spec: Some(PodSpec {
                    containers: vec![
                        container("app", format!("registry.example.com/shop/{name}:{version}")),
                        container(
                            "proxy",
                            "registry.example.com/proxy@sha256:0f1e2d3c4b5a69788796a5b4c3d2e1f00f1e2d3c4b5a69788796a5b4c3d2e1f0".into(),
                        ),
                    ],
                    ..PodSpec::default()
                }),
            },
            ..DeploymentSpec::default()
        },
        status: None,
    }
}

fn config_map(env: usize, i: usize) -> ConfigMap {
    let ns = ENVIRONMENTS[env];
    let mut data: BTreeMap<String, String> =
        (0..6).map(|k| (format!("key-{k}"), format!("value-{i}-{k}-{}", "x".repeat(40)))).collect();
    if drifts(i, env) {
        data.insert("key-0".into(), format!("changed-in-{ns}"));
    }
    ConfigMap {
        metadata: meta(ns, &format!("cfg-{i:05}")),
        data: Some(data),
        ..ConfigMap::default()
    }
}

fn filled<K>(objects: impl IntoIterator<Item = K>) -> (Store<K>, Writer<K>)
where
    K: kube::Resource<DynamicType = ()> + Clone + 'static,
{
    let (reader, mut writer) = reflector::store::<K>();
    writer.apply_watcher_event(&watcher::Event::Init);
    for object in objects {
        writer.apply_watcher_event(&watcher::Event::InitApply(object));
    }
    writer.apply_watcher_event(&watcher::Event::InitDone);
    (reader, writer)
}

const PER_ENV_D: usize = DEPLOYMENTS / ENVIRONMENTS.len() + 1;
const PER_ENV_C: usize = CONFIG_MAPS / ENVIRONMENTS.len() + 1;

/// A Deployment as the controller's watch stores it.
fn cached_deployment(mut d: Deployment) -> Deployment {
    slim_deployment_in_place(&mut d);
    d
}

/// A ConfigMap as the controller's watch stores it.
fn cached_config_map(mut c: ConfigMap) -> ConfigMap {
    digest_config_map_in_place(&mut c);
    c
}

/// The caches, and the writers of their Deployment and ConfigMap stores.
fn caches() -> (ClusterCaches, Writer<Deployment>, Writer<ConfigMap>) {
    let deployments =
        (0..DEPLOYMENTS).map(|n| cached_deployment(deployment(n / PER_ENV_D, n % PER_ENV_D)));
    let config_maps =
        (0..CONFIG_MAPS).map(|n| cached_config_map(config_map(n / PER_ENV_C, n % PER_ENV_C)));
    let (d, dw) = filled(deployments);
    let (c, cw) = filled(config_maps);
    let caches = ClusterCaches::from_stores(
        d,
        c,
        filled(Vec::<Secret>::new()).0,
        filled(Vec::<SchemaMigration>::new()).0,
    );
    (caches, dw, cw)
}

/// The `n`th change of one object, as the watch stores it: even `n` change an object, odd `n`
/// revert it.
enum Change {
    Deployment(Box<Deployment>),
    ConfigMap(Box<ConfigMap>),
}

fn change(n: usize) -> Change {
    let k = n / 2;
    let env = k % ENVIRONMENTS.len();
    let revert = n % 2 == 1;
    if k.is_multiple_of(2) {
        let mut d = deployment(env, (k * 37) % (PER_ENV_D - 1));
        if !revert && let Some(pod) = d.spec.template.spec.as_mut() {
            pod.containers[0].image = Some(format!("registry.example.com/shop/changed:{k}"));
        }
        Change::Deployment(Box::new(cached_deployment(d)))
    } else {
        let mut c = config_map(env, (k * 37) % (PER_ENV_C - 1));
        if !revert && let Some(data) = c.data.as_mut() {
            data.insert("key-1".into(), format!("changed-{k}"));
        }
        Change::ConfigMap(Box::new(cached_config_map(c)))
    }
}

fn parity() -> EnvironmentParity {
    let env = |name: &str| Environment {
        name: name.into(),
        namespace: name.into(),
        kubeconfig_secret_ref: None,
        selector: None,
        health: None,
    };
    let mut p = EnvironmentParity::new(
        "shop",
        EnvironmentParitySpec {
            environments: ENVIRONMENTS.iter().map(|e| env(e)).collect(),
            dimensions: vec![Dimension::Images, Dimension::ConfigMaps],
            ignore: vec![],
            allowed_lag: None,
            interval_seconds: None,
        },
    );
    p.metadata.namespace = Some("ops".into());
    p.metadata.generation = Some(1);
    p
}

/// One reconcile's computation, as the controller does it: snapshots from the caches
/// ([`ClusterCaches::snapshot_memoised`]), then the status with the diff. `relisted`: every
/// snapshot is built again from the stores (the worst case); otherwise the memoised snapshots
/// are reused, as kept up to date by [`ClusterCaches::record`].
fn reconcile_once(
    caches: &ClusterCaches,
    obj: &EnvironmentParity,
    old: Option<&EnvironmentParityStatus>,
    now: jiff::Timestamp,
    relisted: bool,
) -> EnvironmentParityStatus {
    if relisted {
        caches.mark_changed();
    }
    let dims = &obj.spec.dimensions;
    let envs: Vec<EnvRead> = obj
        .spec
        .environments
        .iter()
        .enumerate()
        .map(|(i, e)| match caches.snapshot_memoised(e, i, dims) {
            Ok(s) => EnvRead::Read(s),
            Err(m) => EnvRead::Failed(m),
        })
        .collect();
    compute_status(obj, &envs, old, now)
}

fn proc_status_kib(field: &str) -> Option<u64> {
    let text = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = text.lines().find(|l| l.starts_with(field))?;
    line.split_whitespace().nth(1)?.parse().ok()
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    let rank = ((p / 100.0) * sorted.len() as f64).ceil() as usize;
    sorted[rank.clamp(1, sorted.len()) - 1]
}

/// Reconciles per case in the fixed run: `PARITY_SAMPLES` (at least 2, rounded up to even so
/// that the reverted changes leave the caches as they were), 300 by default.
fn samples() -> usize {
    let n: usize =
        std::env::var("PARITY_SAMPLES").ok().and_then(|v| v.parse().ok()).unwrap_or(300).max(2);
    n + n % 2
}

fn bench(c: &mut Criterion) {
    let samples_per_case = samples();
    let rss_before = proc_status_kib("VmRSS:").unwrap_or(0);
    let (caches, mut dw, mut cw) = caches();
    let obj = parity();
    let now = jiff::Timestamp::from_second(1_800_000_000).expect("a valid time");
    let first = reconcile_once(&caches, &obj, None, now, true);
    assert!(first.total_drifts > 0, "the fixture drifts");

    // Applies the `n`th change to the stores (the reflector's work, untimed) and returns the
    // time of passing it to the caches plus one reconcile.
    let mut changed_and_reconciled = |n: usize| {
        let change = change(n);
        match &change {
            Change::Deployment(d) => dw.apply_watcher_event(&watcher::Event::Apply(*d.clone())),
            Change::ConfigMap(c) => cw.apply_watcher_event(&watcher::Event::Apply(*c.clone())),
        }
        let start = Instant::now();
        match &change {
            Change::Deployment(d) => caches.record(Object::Deployment(d), false),
            Change::ConfigMap(c) => caches.record(Object::ConfigMap(c), false),
        }
        black_box(reconcile_once(&caches, &obj, Some(&first), now, false));
        start.elapsed()
    };
    let one_change: Vec<Duration> =
        (0..samples_per_case).map(&mut changed_and_reconciled).collect();
    // The reverted changes leave the caches as they were.
    assert_eq!(reconcile_once(&caches, &obj, Some(&first), now, false), first);
    for (label, samples, relisted) in [
        ("after one object changed", Some(one_change), false),
        ("after a new list (full rebuild)", None, true),
        ("steady state (memoised)", None, false),
    ] {
        let mut samples: Vec<Duration> = samples.unwrap_or_else(|| {
            (0..samples_per_case)
                .map(|_| {
                    let start = Instant::now();
                    black_box(reconcile_once(&caches, &obj, Some(&first), now, relisted));
                    start.elapsed()
                })
                .collect()
        });
        samples.sort();
        println!(
            "parity reconcile {label}, {DEPLOYMENTS} Deployments + {CONFIG_MAPS} ConfigMaps in {} environments: \
             median {:.3} ms, p99 {:.3} ms, max {:.3} ms",
            ENVIRONMENTS.len(),
            percentile(&samples, 50.0).as_secs_f64() * 1e3,
            percentile(&samples, 99.0).as_secs_f64() * 1e3,
            samples.last().copied().unwrap_or_default().as_secs_f64() * 1e3,
        );
    }
    let rss = proc_status_kib("VmRSS:").unwrap_or(0);
    let hwm = proc_status_kib("VmHWM:").unwrap_or(0);
    println!(
        "drifts {} (listed {}); RSS {:.1} MiB (caches ~{:.1} MiB), peak {:.1} MiB",
        first.total_drifts,
        first.drifts.len(),
        rss as f64 / 1024.0,
        rss.saturating_sub(rss_before) as f64 / 1024.0,
        hwm as f64 / 1024.0,
    );

    let mut n = 0;
    c.bench_function(
        "parity_reconcile_after_one_change_5000_deployments_5000_configmaps_3_envs",
        |b| {
            b.iter_custom(|iters| {
                (0..iters)
                    .map(|_| {
                        n += 1;
                        changed_and_reconciled(n)
                    })
                    .sum()
            });
        },
    );
    c.bench_function(
        "parity_reconcile_after_relist_5000_deployments_5000_configmaps_3_envs",
        |b| {
            b.iter(|| black_box(reconcile_once(&caches, &obj, Some(&first), now, true)));
        },
    );
    c.bench_function("parity_reconcile_steady_5000_deployments_5000_configmaps_3_envs", |b| {
        b.iter(|| black_box(reconcile_once(&caches, &obj, Some(&first), now, false)));
    });
}

criterion_group! {
    name = benches;
    config = Criterion::default().sample_size(30).measurement_time(Duration::from_secs(20));
    targets = bench
}
criterion_main!(benches);
