//! [`KubeError`]: why a Kubernetes API call of pkgrun failed, with the API `Status`
//! when the server answered, and the exit status each failure maps to.

use std::path::PathBuf;

use pkgrun_core::ExitStatus;

/// A Kubernetes object named for messages: `<kind> <namespace>/<name>`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ObjectRef {
    /// Lowercase plural resource, as RBAC names it: `configmaps`, `deployments`, `jobs`, `pods`.
    pub resource: &'static str,
    pub namespace: String,
    pub name: String,
}

impl std::fmt::Display for ObjectRef {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if self.name.is_empty() {
            write!(f, "{} in namespace {}", self.resource, self.namespace)
        } else {
            write!(f, "{} {}/{}", self.resource, self.namespace, self.name)
        }
    }
}

/// Why a Kubernetes operation failed.
#[derive(Debug, thiserror::Error)]
pub enum KubeError {
    /// Neither a kubeconfig nor an in-cluster service account was usable.
    #[error("no Kubernetes credentials: neither a kubeconfig (KUBECONFIG or ~/.kube/config) nor an in-cluster service account could be loaded")]
    Config(#[source] Box<kube::config::InferConfigError>),

    /// The client could not be built from the configuration.
    #[error("cannot create a Kubernetes client")]
    Client(#[source] Box<kube::Error>),

    /// The tokio runtime behind the blocking API could not start.
    #[error("cannot start the Kubernetes client's runtime")]
    Runtime(#[source] std::io::Error),

    /// 403: the credentials lack an RBAC verb on the object.
    #[error("the Kubernetes API refused to {verb} {object} (403 Forbidden: the credentials lack RBAC verb `{verb}` on {resource} in namespace {namespace}): {message}", resource = object.resource, namespace = object.namespace)]
    Forbidden {
        verb: &'static str,
        object: ObjectRef,
        /// The API Status message.
        message: String,
    },

    /// 409 on server-side apply: another field manager owns a field pkgrun applies.
    #[error("server-side apply of {object} conflicts with another field manager (409 Conflict): {message}")]
    Conflict { object: ObjectRef, message: String },

    /// The ConfigMap would exceed the 1 MiB limit of Kubernetes; nothing was written.
    #[error("refusing to write {object}: its data would be {size} bytes, over the Kubernetes limit of {limit} bytes (1 MiB); the largest key is {largest_key} ({largest_size} bytes)")]
    TooLarge {
        object: ObjectRef,
        size: usize,
        limit: usize,
        largest_key: String,
        largest_size: usize,
    },

    /// Any other answer of the API server, with its Status.
    #[error("cannot {verb} {object}: the Kubernetes API answered {code} {reason}: {message}")]
    Api {
        verb: &'static str,
        object: ObjectRef,
        code: u16,
        reason: String,
        message: String,
    },

    /// No answer (connection refused, TLS, timeout) or an unreadable one.
    #[error("cannot {verb} {object}: the Kubernetes API is unreachable")]
    Unreachable {
        verb: &'static str,
        object: ObjectRef,
        #[source]
        source: Box<kube::Error>,
    },

    /// The API server kept answering 429 Too Many Requests or a gateway error
    /// (502/503/504) until the bounded retries ran out.
    #[error("cannot {verb} {object}: the Kubernetes API kept answering {code} {reason} until pkgrun's retries ran out: {message}")]
    Overloaded {
        verb: &'static str,
        object: ObjectRef,
        code: u16,
        reason: String,
        message: String,
    },

    /// The object that was read does not exist.
    #[error("{object} does not exist")]
    NotFound { object: ObjectRef },

    /// A ConfigMap key is not a state document pkgrun can use.
    #[error("key {key} of {object} is not a usable pkgrun.state/v1 document: {problem}")]
    BadDocument {
        object: ObjectRef,
        key: String,
        problem: String,
    },

    /// A bounded wait ran out.
    #[error("timed out after {seconds:.1}s waiting for {object} to {what}; last seen: {last}")]
    Timeout {
        object: ObjectRef,
        what: &'static str,
        seconds: f64,
        last: String,
    },

    /// A helmfile or values file could not be read or understood.
    #[error("cannot use {}: {problem}", path.display())]
    Helmfile { path: PathBuf, problem: String },
}

impl KubeError {
    /// The exit status when this error ends a command that only *reads* or *waits*
    /// (`state sync`, `layer`): credentials, RBAC and bad data are environment
    /// problems (2); an API server that does not answer, or a wait that ran out, is 5.
    pub fn read_exit_status(&self) -> ExitStatus {
        match self {
            KubeError::Unreachable { .. }
            | KubeError::Overloaded { .. }
            | KubeError::Timeout { .. } => ExitStatus::Unreachable,
            _ => ExitStatus::Usage,
        }
    }

    /// A suggestion for fixing the error, printed as a separate `hint:` line.
    pub fn hint(&self) -> Option<String> {
        match self {
            KubeError::Config(_) => Some("run inside a pod with a service account, or set KUBECONFIG to a kubeconfig for the cluster".into()),
            KubeError::Forbidden { verb, object, .. } => Some(format!(
                "grant the service account a Role with verb `{verb}` on {} (resourceNames: [{}]) in namespace {}, or point PKGRUN_CONFIGMAP/PKGRUN_NAMESPACE at the ConfigMap the chart's Role allows",
                object.resource, object.name, object.namespace
            )),
            KubeError::Conflict { .. } => Some("another tool changed a key pkgrun owns; pkgrun applies with force unless told otherwise, so this only happens with force disabled".into()),
            KubeError::TooLarge { .. } => Some("split the language's packages over several ConfigMaps, or remove keys other tools added to this ConfigMap".into()),
            KubeError::BadDocument { object, key, .. } => Some(format!(
                "remove the key {key} from {object} (kubectl edit), or delete the ConfigMap and let the next passed `pkgrun run` write it again; an old runner's python.json or ts.json is such a key (docs/migration.md, section 2)"
            )),
            KubeError::NotFound { .. } => Some("has the layer (`pkgrun layer …`) run and written its state? check the ConfigMap name and --namespace".into()),
            KubeError::Unreachable { .. } => Some("check the kubeconfig's server address (or the in-cluster service) and that the API server is up".into()),
            KubeError::Overloaded { .. } => Some("the API server is overloaded or its front proxy failing; run the command again later".into()),
            _ => None,
        }
    }
}

/// Maps a client error of `verb` on `object` to a [`KubeError`], keeping the API Status.
pub(crate) fn api_error(verb: &'static str, object: ObjectRef, err: kube::Error) -> KubeError {
    match err {
        kube::Error::Api(status) => match status.code {
            403 => KubeError::Forbidden {
                verb,
                object,
                message: status.message,
            },
            404 => KubeError::NotFound { object },
            409 if verb == "patch" => KubeError::Conflict {
                object,
                message: status.message,
            },
            429 | 502..=504 => KubeError::Overloaded {
                verb,
                object,
                code: status.code,
                reason: status.reason,
                message: status.message,
            },
            code => KubeError::Api {
                verb,
                object,
                code,
                reason: status.reason,
                message: status.message,
            },
        },
        other => KubeError::Unreachable {
            verb,
            object,
            source: Box::new(other),
        },
    }
}
