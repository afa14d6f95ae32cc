//! `pkgrun health`'s registry probe: one cheap request that a registry of the language's
//! kind answers in a known way. Each adapter says what that request is
//! ([`crate::Adapter::probe_health`]); this module holds what they share.

use crate::http::{RegistryHttp, Reply};
use crate::{with_adapter, Adapter, AdapterVisitor};
use pkgrun_core::{Config, Lang};

/// How a registry answered its health probe.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RegistryAnswer {
    /// As a registry of its kind answers; the text says what it answered.
    Ok(String),
    /// Answered, but not as a registry of its kind answers.
    Unexpected(String),
    /// No answer after the bounded retries.
    Unreachable(String),
}

/// What a health probe found out (the text of [`RegistryAnswer::Ok`]), or the answer
/// that ended it early.
pub type Probe = Result<String, RegistryAnswer>;

/// The kind of registry `lang` publishes to, for people, and its answer to the probe at
/// `base` (the registry URL from the environment, without a trailing slash).
pub fn probe_registry(
    lang: Lang,
    http: &RegistryHttp,
    config: &Config,
    base: &str,
) -> (&'static str, RegistryAnswer) {
    struct ProbeHealth<'a> {
        http: &'a RegistryHttp,
        config: &'a Config,
        base: &'a str,
    }
    impl AdapterVisitor for ProbeHealth<'_> {
        type Output = (&'static str, RegistryAnswer);
        fn visit<A: Adapter>(self, adapter: A) -> Self::Output {
            let answer = adapter
                .probe_health(self.http, self.config, self.base)
                .map_or_else(|answer| answer, RegistryAnswer::Ok);
            (adapter.registry_kind(), answer)
        }
    }
    with_adapter(lang, ProbeHealth { http, config, base })
}

/// `GET url`; a registry that does not answer is [`RegistryAnswer::Unreachable`].
pub(crate) fn get(http: &RegistryHttp, url: &str) -> Result<Reply, RegistryAnswer> {
    http.get(url)
        .map_err(|f| RegistryAnswer::Unreachable(f.to_string()))
}

/// An answer that is not the kind's: `what` answered HTTP <status>: <excerpt>.
pub(crate) fn unexpected(what: &str, reply: &Reply) -> RegistryAnswer {
    RegistryAnswer::Unexpected(format!(
        "{what} answered HTTP {}: {}",
        reply.status.as_u16(),
        reply.text_excerpt()
    ))
}
