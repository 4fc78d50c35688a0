//! The resource kinds the fake API server serves, and the shape of its error responses.

use serde_json::{Value, json};

/// One served resource: where it lives in the URL space and how the server treats it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ResourceInfo {
    /// API group (`""` for the core group).
    pub group: &'static str,
    /// API version within the group.
    pub version: &'static str,
    /// The plural name in URLs.
    pub plural: &'static str,
    /// The kind of its objects.
    pub kind: &'static str,
    /// Whether objects live in a namespace.
    pub namespaced: bool,
    /// Whether the kind has a `/status` subresource: main-resource writes then ignore `status`,
    /// `/status` writes change only `status`, and `metadata.generation` counts spec changes.
    pub status_subresource: bool,
}

impl ResourceInfo {
    /// `group/version`, or `version` for the core group.
    pub fn api_version(&self) -> String {
        if self.group.is_empty() {
            self.version.to_owned()
        } else {
            format!("{}/{}", self.group, self.version)
        }
    }
}

const fn res(
    group: &'static str,
    version: &'static str,
    plural: &'static str,
    kind: &'static str,
    namespaced: bool,
    status_subresource: bool,
) -> ResourceInfo {
    ResourceInfo { group, version, plural, kind, namespaced, status_subresource }
}

/// Every kind the operator reads or writes, plus the five tollgate.dev CRDs.
pub const RESOURCES: &[ResourceInfo] = &[
    res("", "v1", "configmaps", "ConfigMap", true, false),
    res("", "v1", "secrets", "Secret", true, false),
    res("", "v1", "pods", "Pod", true, true),
    res("", "v1", "events", "Event", true, false),
    res("", "v1", "services", "Service", true, true),
    res("", "v1", "serviceaccounts", "ServiceAccount", true, false),
    res("", "v1", "namespaces", "Namespace", false, true),
    res("apps", "v1", "deployments", "Deployment", true, true),
    res("apps", "v1", "statefulsets", "StatefulSet", true, true),
    res("batch", "v1", "jobs", "Job", true, true),
    res("events.k8s.io", "v1", "events", "Event", true, false),
    res("coordination.k8s.io", "v1", "leases", "Lease", true, false),
    res("tollgate.dev", "v1alpha1", "environmentparities", "EnvironmentParity", true, true),
    res("tollgate.dev", "v1alpha1", "schemamigrations", "SchemaMigration", true, true),
    res("tollgate.dev", "v1alpha1", "backuppolicies", "BackupPolicy", true, true),
    res("tollgate.dev", "v1alpha1", "backups", "Backup", true, true),
    res("tollgate.dev", "v1alpha1", "restores", "Restore", true, true),
];

/// The served resource at `group/version/plural`, if any.
pub fn find(group: &str, version: &str, plural: &str) -> Option<&'static ResourceInfo> {
    RESOURCES.iter().find(|r| r.group == group && r.version == version && r.plural == plural)
}

/// The served resource of objects with this `apiVersion` and `plural`, if any.
pub fn find_by_api_version(api_version: &str, plural: &str) -> Option<&'static ResourceInfo> {
    let (group, version) = api_version.rsplit_once('/').unwrap_or(("", api_version));
    find(group, version, plural)
}

/// An error the way the real API server reports it: an HTTP code and a `meta/v1` `Status`.
#[derive(Debug, Clone)]
pub struct ApiError {
    /// HTTP status code.
    pub code: u16,
    /// `Status.reason` (`NotFound`, `AlreadyExists`, `Conflict`, `Invalid`, `BadRequest`,
    /// `Expired`, `MethodNotAllowed`, `UnsupportedMediaType`).
    pub reason: &'static str,
    /// `Status.message`.
    pub message: String,
    /// `Status.details`, when the real server sends them.
    pub details: Option<Value>,
}

impl ApiError {
    fn new(code: u16, reason: &'static str, message: impl Into<String>) -> Self {
        Self { code, reason, message: message.into(), details: None }
    }

    fn with_details(mut self, info: &ResourceInfo, name: &str) -> Self {
        self.details = Some(json!({"name": name, "group": info.group, "kind": info.plural}));
        self
    }

    /// 404: `<plural>.<group> "<name>" not found`.
    pub fn not_found(info: &ResourceInfo, name: &str) -> Self {
        Self::new(404, "NotFound", format!("{} \"{name}\" not found", qualified(info)))
            .with_details(info, name)
    }

    /// 409 on create: the name is taken.
    pub fn already_exists(info: &ResourceInfo, name: &str) -> Self {
        Self::new(409, "AlreadyExists", format!("{} \"{name}\" already exists", qualified(info)))
            .with_details(info, name)
    }

    /// 409 on a stale `resourceVersion` or failed precondition.
    pub fn conflict(info: &ResourceInfo, name: &str, why: &str) -> Self {
        Self::new(
            409,
            "Conflict",
            format!("Operation cannot be fulfilled on {} \"{name}\": {why}", qualified(info)),
        )
        .with_details(info, name)
    }

    /// 422: the object is invalid.
    pub fn invalid(info: &ResourceInfo, name: &str, why: &str) -> Self {
        Self::new(422, "Invalid", format!("{} \"{name}\" is invalid: {why}", info.kind))
            .with_details(info, name)
    }

    /// 400: the request is malformed.
    pub fn bad_request(message: impl Into<String>) -> Self {
        Self::new(400, "BadRequest", message)
    }

    /// 404 for a URL the server does not serve.
    pub fn no_route() -> Self {
        Self::new(404, "NotFound", "the server could not find the requested resource")
    }

    /// 405 for a verb the resource does not support.
    pub fn method_not_allowed(verb: &str) -> Self {
        Self::new(
            405,
            "MethodNotAllowed",
            format!("the server does not allow this method on the requested resource: {verb}"),
        )
    }

    /// 415 for a patch type the server does not understand.
    pub fn unsupported_media_type(content_type: &str) -> Self {
        Self::new(
            415,
            "UnsupportedMediaType",
            format!(
                "the body of the request was in an unknown format - accepted media types include: application/json-patch+json, application/merge-patch+json, application/apply-patch+yaml, application/strategic-merge-patch+json; got {content_type:?}"
            ),
        )
    }

    /// 500: the server failed (injected by tests through [`super::FakeApiServer::fail_requests`]).
    pub fn internal(message: impl Into<String>) -> Self {
        Self::new(500, "InternalError", message)
    }

    /// 410 for a watch or continue token older than the retained history.
    pub fn expired(message: impl Into<String>) -> Self {
        Self::new(410, "Expired", message)
    }

    /// The `meta/v1` `Status` body.
    pub fn status(&self) -> Value {
        let mut status = json!({
            "kind": "Status",
            "apiVersion": "v1",
            "metadata": {},
            "status": "Failure",
            "message": self.message,
            "reason": self.reason,
            "code": self.code,
        });
        if let Some(details) = &self.details {
            status["details"] = details.clone();
        }
        status
    }
}

fn qualified(info: &ResourceInfo) -> String {
    if info.group.is_empty() {
        info.plural.to_owned()
    } else {
        format!("{}.{}", info.plural, info.group)
    }
}
