//! Values that must never be printed: tokens and passwords ([`Secret`]) and URLs that
//! may carry credentials ([`RedactedUrl`]).
//!
//! Both types make the safe thing the default: their `Debug` and `Display` hide the
//! sensitive part, and getting at it needs an explicit call (`expose`), which is easy
//! to find in review. Secrets are passed to child processes through environment
//! variables only (see [`crate::process::StepCommand::env_secret`]), never as arguments.

use std::fmt;

use url::Url;

/// A secret string (token, password). Prints as `[redacted]`.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    pub fn new(value: impl Into<String>) -> Self {
        Secret(value.into())
    }

    /// The secret value. Only for places that hand it to a registry or a child's
    /// environment, never for output.
    pub fn expose(&self) -> &str {
        &self.0
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("[redacted]")
    }
}

impl fmt::Display for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("[redacted]")
    }
}

/// An absolute URL whose `Display` and `Debug` never show userinfo
/// (user name and password are printed as `***`).
#[derive(Clone, PartialEq, Eq)]
pub struct RedactedUrl(Url);

/// Why a string is not an acceptable registry URL. Never contains the input itself,
/// since it may hold credentials.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum UrlError {
    #[error("not a valid absolute URL ({0})")]
    Parse(String),
    #[error("scheme `{0}` is not supported: use http or https")]
    Scheme(String),
}

impl RedactedUrl {
    /// Parses an absolute `http`/`https` URL.
    pub fn parse(input: &str) -> Result<Self, UrlError> {
        let url = Url::parse(input.trim()).map_err(|e| UrlError::Parse(e.to_string()))?;
        match url.scheme() {
            "http" | "https" => {}
            other => return Err(UrlError::Scheme(other.to_string())),
        }
        if url.host_str().is_none() {
            return Err(UrlError::Parse("no host".to_string()));
        }
        Ok(RedactedUrl(url))
    }

    /// Whether the URL carries a user name or password.
    pub fn has_credentials(&self) -> bool {
        !self.0.username().is_empty() || self.0.password().is_some()
    }

    /// The URL with any userinfo removed: what may be stored in state documents.
    pub fn without_credentials(&self) -> Url {
        let mut url = self.0.clone();
        // Cannot fail for http(s) URLs, which have a host (checked in `parse`).
        let _ = url.set_username("");
        let _ = url.set_password(None);
        url
    }

    /// The URL without credentials and without a trailing `/`, for joining paths onto
    /// it and for printing.
    pub fn base_without_slash(&self) -> String {
        self.without_credentials()
            .as_str()
            .trim_end_matches('/')
            .to_string()
    }

    /// The full URL including credentials. Only for handing it to a client.
    pub fn expose(&self) -> &Url {
        &self.0
    }
}

impl fmt::Display for RedactedUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if !self.has_credentials() {
            return f.write_str(self.0.as_str());
        }
        let mut url = self.0.clone();
        let _ = url.set_username("***");
        let _ = url.set_password(None);
        f.write_str(url.as_str())
    }
}

impl fmt::Debug for RedactedUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "RedactedUrl({self})")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secret_never_prints() {
        let s = Secret::new("hunter2");
        assert_eq!(format!("{s}"), "[redacted]");
        assert_eq!(format!("{s:?}"), "[redacted]");
        assert_eq!(format!("{:?}", Some(&s)), "Some([redacted])");
        assert_eq!(s.expose(), "hunter2");
    }

    #[test]
    fn url_hides_userinfo() {
        let u = RedactedUrl::parse("http://alice:hunter2@127.0.0.1:3141/root/x/").unwrap();
        let shown = format!("{u} {u:?}");
        assert!(!shown.contains("hunter2"), "{shown}");
        assert!(!shown.contains("alice"), "{shown}");
        assert_eq!(u.to_string(), "http://***@127.0.0.1:3141/root/x/");
        assert_eq!(
            u.without_credentials().as_str(),
            "http://127.0.0.1:3141/root/x/"
        );
        assert_eq!(u.base_without_slash(), "http://127.0.0.1:3141/root/x");
        assert_eq!(u.expose().password(), Some("hunter2"));
    }

    #[test]
    fn url_without_credentials_prints_as_is() {
        let u = RedactedUrl::parse("http://127.0.0.1:5000").unwrap();
        assert_eq!(u.to_string(), "http://127.0.0.1:5000/");
        assert!(!u.has_credentials());
    }

    #[test]
    fn url_errors_do_not_echo_input() {
        let err = RedactedUrl::parse("ftp://bob:pw@host/").unwrap_err();
        assert!(!err.to_string().contains("pw"));
        assert!(RedactedUrl::parse("not a url").is_err());
        assert!(RedactedUrl::parse("/relative").is_err());
    }
}
