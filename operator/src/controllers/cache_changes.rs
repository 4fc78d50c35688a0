//! Which EnvironmentParity objects a change in the caches concerns, so that a changed
//! Deployment, ConfigMap, Secret or SchemaMigration wakes the parities that read it at once
//! instead of at their next `intervalSeconds`.
//!
//! The cache watches [`ChangeFeed::push`] one [`Change`] per watch event (the cluster and the
//! namespace of the object; a re-list pushes the whole cluster). Changes are coalesced in a set
//! until the controller takes them ([`ChangeFeed::next_batch`]), so a burst (a rollout touching
//! hundreds of Deployments, a watch re-list) costs one wake-up per parity, not one per object.
//! [`affected`] maps a change to the parities it may concern (pure): over-waking costs a no-op
//! reconcile (the snapshots are memoised and an unchanged status is not written); missing one
//! would leave drift unreported for an interval.

use std::collections::BTreeSet;
use std::sync::Mutex;

use tokio::sync::Notify;

use crate::crd::parity::{EnvironmentParity, SecretKeyRef};

/// The cluster a cache reads.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Cluster {
    /// The cluster the operator runs in.
    Local,
    /// Another cluster, reached through the kubeconfig in a Secret.
    Remote(RemoteKey),
}

/// A kubeconfig Secret: (namespace, Secret name, key).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct RemoteKey {
    /// The namespace of the Secret (the EnvironmentParity's own namespace).
    pub namespace: String,
    /// The Secret's name.
    pub secret: String,
    /// The key holding the kubeconfig.
    pub key: String,
}

impl RemoteKey {
    /// The Secret an EnvironmentParity in `namespace` refers to with `r`.
    pub fn new(namespace: &str, r: &SecretKeyRef) -> RemoteKey {
        RemoteKey { namespace: namespace.to_owned(), secret: r.name.clone(), key: r.key.clone() }
    }
}

/// Cached objects of one namespace of one cluster changed (`namespace: None`: the cache listed
/// again, so objects of any namespace may have changed).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Change {
    /// Whose cache.
    pub cluster: Cluster,
    /// The namespace of the changed object, or `None` for all of them.
    pub namespace: Option<String>,
}

/// Changes waiting for the controller, coalesced (each distinct change is held once).
#[derive(Debug, Default)]
pub struct ChangeFeed {
    pending: Mutex<BTreeSet<Change>>,
    wake: Notify,
}

impl ChangeFeed {
    /// Records a change and wakes the taker (never blocks on it, never drops a change).
    pub fn push(&self, change: Change) {
        self.lock().insert(change);
        // Stores a permit when nobody waits: a push between a take and the next wait is not lost.
        self.wake.notify_one();
    }

    /// Waits until at least one change is pending, then takes them all (sorted).
    pub async fn next_batch(&self) -> Vec<Change> {
        loop {
            let batch = std::mem::take(&mut *self.lock());
            if !batch.is_empty() {
                return batch.into_iter().collect();
            }
            self.wake.notified().await;
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, BTreeSet<Change>> {
        // Inserts and takes are single calls: a poisoned set is still a valid set.
        self.pending.lock().unwrap_or_else(|p| p.into_inner())
    }
}

/// Whether `change` may alter what `parity` reads: an object in a namespace one of its
/// environments reads, in the cluster that environment is in; for the local cluster also its own
/// namespace, where its kubeconfig Secrets live.
pub fn affected(parity: &EnvironmentParity, change: &Change) -> bool {
    let own = parity.metadata.namespace.as_deref().unwrap_or_default();
    let in_namespace = |ns: &str| change.namespace.as_deref().is_none_or(|c| c == ns);
    match &change.cluster {
        Cluster::Local => {
            in_namespace(own)
                || parity.spec.environments.iter().any(|e| {
                    e.kubeconfig_secret_ref.is_none() && in_namespace(e.namespace.as_str())
                })
        }
        Cluster::Remote(key) => {
            key.namespace == own
                && parity.spec.environments.iter().any(|e| {
                    e.kubeconfig_secret_ref
                        .as_ref()
                        .is_some_and(|r| r.name == key.secret && r.key == key.key)
                        && in_namespace(e.namespace.as_str())
                })
        }
    }
}

/// The kubeconfig Secrets `parity` reads other clusters through.
pub fn remote_keys(parity: &EnvironmentParity) -> impl Iterator<Item = RemoteKey> + '_ {
    let own = parity.metadata.namespace.as_deref().unwrap_or_default();
    parity
        .spec
        .environments
        .iter()
        .filter_map(move |e| e.kubeconfig_secret_ref.as_ref().map(|r| RemoteKey::new(own, r)))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::crd::parity::{Environment, EnvironmentParitySpec};
    use std::time::Duration;

    fn parity() -> EnvironmentParity {
        let env = |name: &str, remote: Option<&str>| Environment {
            name: name.into(),
            namespace: name.into(),
            kubeconfig_secret_ref: remote
                .map(|s| SecretKeyRef { name: s.into(), key: "kubeconfig".into() }),
            selector: None,
            health: None,
        };
        let mut p = EnvironmentParity::new(
            "shop",
            EnvironmentParitySpec {
                environments: vec![env("dev", None), env("prod", Some("prod-kubeconfig"))],
                dimensions: vec![],
                ignore: vec![],
                allowed_lag: None,
                interval_seconds: None,
            },
        );
        p.metadata.namespace = Some("ops".into());
        p
    }

    fn local(ns: Option<&str>) -> Change {
        Change { cluster: Cluster::Local, namespace: ns.map(str::to_owned) }
    }

    fn remote(secret_ns: &str, secret: &str, ns: Option<&str>) -> Change {
        Change {
            cluster: Cluster::Remote(RemoteKey {
                namespace: secret_ns.into(),
                secret: secret.into(),
                key: "kubeconfig".into(),
            }),
            namespace: ns.map(str::to_owned),
        }
    }

    #[test]
    fn a_change_wakes_the_parities_that_read_its_namespace_in_its_cluster() {
        let p = parity();
        assert!(affected(&p, &local(Some("dev"))), "a local environment");
        assert!(affected(&p, &local(Some("ops"))), "its kubeconfig Secrets live here");
        assert!(affected(&p, &local(None)), "a re-list");
        assert!(!affected(&p, &local(Some("prod"))), "prod is read from another cluster");
        assert!(!affected(&p, &local(Some("staging"))));

        assert!(affected(&p, &remote("ops", "prod-kubeconfig", Some("prod"))));
        assert!(affected(&p, &remote("ops", "prod-kubeconfig", None)));
        assert!(!affected(&p, &remote("ops", "prod-kubeconfig", Some("dev"))), "dev is local");
        assert!(!affected(&p, &remote("ops", "other", Some("prod"))), "another Secret");
        assert!(!affected(&p, &remote("team", "prod-kubeconfig", Some("prod"))), "another ns");
    }

    #[test]
    fn remote_keys_name_the_secrets_in_the_parity_namespace() {
        let keys: Vec<RemoteKey> = remote_keys(&parity()).collect();
        assert_eq!(
            keys,
            [RemoteKey {
                namespace: "ops".into(),
                secret: "prod-kubeconfig".into(),
                key: "kubeconfig".into()
            }]
        );
    }

    #[tokio::test]
    async fn the_feed_coalesces_and_never_loses_a_change() {
        let feed = std::sync::Arc::new(ChangeFeed::default());
        for _ in 0..1000 {
            feed.push(local(Some("dev")));
        }
        feed.push(local(Some("ops")));
        assert_eq!(feed.next_batch().await, [local(Some("dev")), local(Some("ops"))]);

        // A push while the taker waits wakes it.
        let taker = tokio::spawn({
            let feed = feed.clone();
            async move { feed.next_batch().await }
        });
        tokio::time::sleep(Duration::from_millis(20)).await;
        feed.push(local(None));
        let batch = tokio::time::timeout(Duration::from_secs(5), taker)
            .await
            .expect("woken")
            .expect("no panic");
        assert_eq!(batch, [local(None)]);

        // Nothing pending: the taker waits.
        let waiting = tokio::time::timeout(Duration::from_millis(50), feed.next_batch()).await;
        assert!(waiting.is_err(), "no change, no batch");
    }
}
