//! What every reconciler receives: the API client, metrics, the executor, a clock, the work
//! limits, the error backoff and the namespaces it watches.

use std::sync::Arc;

use crate::backoff::ErrorBackoff;
use crate::executor::Executor;
use crate::executor::limits::WorkLimits;
use crate::metrics::Metrics;

/// Now, as seen by the controllers. Tests substitute a clock they can advance.
pub trait Clock: Send + Sync {
    /// The current time (UTC).
    fn now(&self) -> jiff::Timestamp;
}

/// The wall clock.
#[derive(Debug, Clone, Copy, Default)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> jiff::Timestamp {
        jiff::Timestamp::now()
    }
}

/// Shared by every reconcile of every controller.
#[derive(Clone)]
pub struct Context {
    /// The Kubernetes API client.
    pub client: kube::Client,
    /// Prometheus metrics.
    pub metrics: Arc<Metrics>,
    /// Where migrations, backups, verifications and restores run.
    pub executor: Arc<dyn Executor>,
    /// The time source (the wall clock in production).
    pub clock: Arc<dyn Clock>,
    /// How many backups, restores/verifications and migrations may run at once; the rest
    /// queue (`executor::limits`).
    pub limits: Arc<WorkLimits>,
    /// Per-object delays before a failed reconcile is retried.
    pub backoff: Arc<ErrorBackoff>,
    /// Where this context's controllers watch.
    pub scope: Scope,
}

/// The namespaces a set of controllers watches: the whole cluster, or (`--watch-namespace`)
/// one namespace of the operator's watched list, with only Roles in each of them.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum Scope {
    /// Every namespace (a ClusterRole).
    #[default]
    Cluster,
    /// One namespace; `watched` is every namespace the operator watches (sorted), the only
    /// ones it may read (an EnvironmentParity's environments, for instance).
    Namespace {
        /// The namespace these controllers watch.
        namespace: String,
        /// Every watched namespace, this one included.
        watched: Arc<[String]>,
    },
}

/// The API of kind `K` in every namespace (`None`) or in one.
pub fn api_in<K>(client: &kube::Client, namespace: Option<&str>) -> kube::Api<K>
where
    K: kube::Resource<Scope = k8s_openapi::NamespaceResourceScope>,
    K::DynamicType: Default,
{
    match namespace {
        None => kube::Api::all(client.clone()),
        Some(ns) => kube::Api::namespaced(client.clone(), ns),
    }
}

impl Scope {
    /// The scopes of an operator watching `namespaces` (the whole cluster when empty): one per
    /// namespace, sorted and deduplicated.
    pub fn for_namespaces(namespaces: &[String]) -> Vec<Scope> {
        let mut watched = namespaces.to_vec();
        watched.sort();
        watched.dedup();
        if watched.is_empty() {
            return vec![Scope::Cluster];
        }
        let shared: Arc<[String]> = watched.clone().into();
        watched
            .into_iter()
            .map(|namespace| Scope::Namespace { namespace, watched: shared.clone() })
            .collect()
    }

    /// The API of kind `K` this scope watches: all namespaces, or the one namespace.
    pub fn api<K>(&self, client: &kube::Client) -> kube::Api<K>
    where
        K: kube::Resource<Scope = k8s_openapi::NamespaceResourceScope>,
        K::DynamicType: Default,
    {
        match self {
            Scope::Cluster => api_in(client, None),
            Scope::Namespace { namespace, .. } => api_in(client, Some(namespace)),
        }
    }

    /// Whether objects of `namespace` may be read (always, cluster-wide).
    pub fn may_read(&self, namespace: &str) -> bool {
        match self {
            Scope::Cluster => true,
            Scope::Namespace { watched, .. } => watched.iter().any(|w| w == namespace),
        }
    }

    /// Every watched namespace; `None` for the whole cluster.
    pub fn watched(&self) -> Option<&[String]> {
        match self {
            Scope::Cluster => None,
            Scope::Namespace { watched, .. } => Some(watched),
        }
    }

    /// A short name for logs: `cluster` or the namespace.
    pub fn label(&self) -> &str {
        match self {
            Scope::Cluster => "cluster",
            Scope::Namespace { namespace, .. } => namespace,
        }
    }
}

impl AsRef<Context> for Context {
    fn as_ref(&self) -> &Context {
        self
    }
}

impl Context {
    /// The API of kind `K` in this context's [`Scope`].
    pub fn api<K>(&self) -> kube::Api<K>
    where
        K: kube::Resource<Scope = k8s_openapi::NamespaceResourceScope>,
        K::DynamicType: Default,
    {
        self.scope.api(&self.client)
    }

    /// This context for controllers watching `scope`.
    pub fn scoped(&self, scope: Scope) -> Context {
        Context { scope, ..self.clone() }
    }

    /// A cluster-wide context with the default work limits
    /// ([`crate::executor::limits::Limits::default`]) and error backoff (5 s doubling to 5 min).
    pub fn new(
        client: kube::Client,
        metrics: Arc<Metrics>,
        executor: Arc<dyn Executor>,
        clock: Arc<dyn Clock>,
    ) -> Context {
        let limits = Arc::new(WorkLimits::new(Default::default(), metrics.clone()));
        Context {
            client,
            metrics,
            executor,
            clock,
            limits,
            backoff: Arc::new(ErrorBackoff::default()),
            scope: Scope::Cluster,
        }
    }
}
