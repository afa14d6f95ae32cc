//! The npm registry API pkgrun speaks itself: packuments and publishing, and the
//! adapter's upload (look first, then publish; the shared already-present decision).
//!
//! Publishing is the same `PUT /<escaped name>` request npm's `libnpmpublish` sends
//! (the version's manifest with `dist`, the dist-tag, the tarball base64 in
//! `_attachments`), so every answer of the registry is seen directly: 401/403 mean
//! the token, 409 an existing version, a refused connection an unreachable registry.

use pkgrun_core::secret::{RedactedUrl, Secret};
use reqwest::StatusCode;
use serde_json::Value;

use indexmap::IndexMap;

use crate::adapter::{BuildJob, Context};
use crate::existing::{self, Decision, Held};
use crate::failure::Failure;
use crate::health::{self, Probe};
use crate::http::{RegistryHttp, Reply};
use crate::ts::manifest::Json;
use crate::ts::TsBuild;
use pkgrun_core::state::PublishOutcome;
use pkgrun_core::Lang;

/// The dist-tag a version is published under: `latest` only for a release version (no
/// prerelease, i.e. an override promoting a release); every snapshot goes to `dev`.
pub fn dist_tag(version: &str) -> &'static str {
    match semver::Version::parse(version) {
        Ok(v) if v.pre.is_empty() => "latest",
        _ => "dev",
    }
}

/// A package name as a URL path segment: `@scope/name` → `@scope%2fname`.
pub fn escaped_name(name: &str) -> String {
    name.replace('/', "%2f")
}

/// The tarball's name in `_attachments` and in its registry URL (libnpmpublish's
/// `<name>-<version>.tgz`; for a scoped package the name includes the scope).
pub fn attachment_name(name: &str, version: &str) -> String {
    format!("{name}-{version}.tgz")
}

/// The `Accept` header npm sends for packuments during installs.
pub const NPM_INSTALL_ACCEPT: &str =
    "application/vnd.npm.install-v1+json; q=1.0, application/json; q=0.8, */*";

/// One npm registry, as the environment names it.
pub struct Registry<'a> {
    http: &'a RegistryHttp,
    /// Base URL without a trailing slash, possibly with credentials (never printed).
    base: String,
    /// Shown in messages and recorded.
    shown: String,
    token: &'a Secret,
}

/// What a registry has of a version.
#[derive(Debug, Clone, PartialEq)]
pub struct Published {
    pub integrity: Option<String>,
    pub shasum: Option<String>,
    pub tarball: Option<String>,
}

impl<'a> Registry<'a> {
    pub fn new(http: &'a RegistryHttp, url: &RedactedUrl, token: &'a Secret) -> Self {
        Registry {
            http,
            base: url.expose().as_str().trim_end_matches('/').to_string(),
            shown: url
                .without_credentials()
                .as_str()
                .trim_end_matches('/')
                .to_string(),
            token,
        }
    }

    pub fn shown(&self) -> &str {
        &self.shown
    }

    pub fn packument_url(&self, name: &str) -> String {
        format!("{}/{}", self.base, escaped_name(name))
    }

    /// GET the packument as `npm install` asks for it (the abbreviated "corgi" document
    /// when the registry has one: dist-tags and each version's dependencies and `dist`),
    /// anonymously as a consumer would, with the token when the registry insists. `None`
    /// when the registry does not know the package.
    pub fn packument(&self, name: &str) -> Result<Option<Value>, Failure> {
        let url = self.packument_url(name);
        let mut reply = self
            .http
            .send(&url, |c| c.get(&url).header("accept", NPM_INSTALL_ACCEPT))?;
        if matches!(
            reply.status,
            StatusCode::UNAUTHORIZED | StatusCode::FORBIDDEN
        ) {
            reply = self.http.send(&url, |c| {
                c.get(&url)
                    .header("accept", NPM_INSTALL_ACCEPT)
                    .bearer_auth(self.token.expose())
            })?;
        }
        if reply.status == StatusCode::NOT_FOUND {
            return Ok(None);
        }
        if !reply.is_success() {
            return Err(self.refused(&format!("reading the packument of {name}"), &reply));
        }
        let doc = reply.json().map_err(|e| {
            Failure::publish(format!(
                "{} answered the packument of {name} with something that is not JSON: {e}",
                self.shown
            ))
        })?;
        Ok(Some(doc))
    }

    /// The registry's record of `name@version`, if it has one.
    pub fn published(&self, name: &str, version: &str) -> Result<Option<Published>, Failure> {
        Ok(self
            .packument(name)?
            .and_then(|doc| version_dist(&doc, version)))
    }

    /// PUTs a new version. `Ok(true)`: created; `Ok(false)`: the registry already has
    /// this version (409); any other refusal is a failure (401/403 with a token hint).
    pub fn publish(&self, name: &str, body: &Json) -> Result<bool, Failure> {
        let url = self.packument_url(name);
        let body = serde_json::to_vec(body)
            .map_err(|e| Failure::internal(format!("cannot encode the publish request: {e}")))?;
        let reply = self.http.send_upload(&url, |c| {
            c.put(&url)
                .header("content-type", "application/json")
                .header("npm-command", "publish")
                .bearer_auth(self.token.expose())
                .body(body.clone())
        })?;
        let refused = || self.refused(&format!("publishing {name}"), &reply);
        match reply.status {
            s if s.is_success() => Ok(true),
            StatusCode::CONFLICT => Ok(false),
            // npm registries also hide a package from a token that may not publish it.
            StatusCode::NOT_FOUND => Err(refused().with_hint(format!(
                "check {}: it must be the registry's base URL; and check that {} may publish this package (its scope)",
                pkgrun_core::ecosystem::ts::NPM_REGISTRY_URL.name,
                crate::ts::tool::TOKEN_VAR
            ))),
            StatusCode::PAYLOAD_TOO_LARGE => {
                Err(refused().with_hint(crate::failure::TOO_LARGE_HINT))
            }
            _ => Err(refused()),
        }
    }

    /// GET a tarball URL (as the packument names it).
    pub fn tarball(&self, url: &str) -> Result<Vec<u8>, Failure> {
        let reply = self.http.get(url)?;
        if !reply.is_success() {
            return Err(self.refused("downloading the tarball", &reply));
        }
        Ok(reply.body)
    }

    fn refused(&self, what: &str, reply: &Reply) -> Failure {
        let failure = Failure::publish(format!(
            "{} refused {what}: HTTP {}",
            self.shown, reply.status
        ))
        .with_detail(registry_reason(reply));
        match reply.status {
            StatusCode::UNAUTHORIZED | StatusCode::FORBIDDEN => failure.with_hint(format!(
                "check {}: the registry did not accept it (expired, mistyped, or without publish rights for this package)",
                crate::ts::tool::TOKEN_VAR
            )),
            _ => failure,
        }
    }
}

/// The registry's own words: npm registries answer errors with `{"error": "…"}` (or
/// `reason`/`message`); anything else is shown as an excerpt.
fn registry_reason(reply: &Reply) -> String {
    reply
        .json()
        .ok()
        .and_then(|v| {
            ["error", "reason", "message"]
                .iter()
                .find_map(|k| v.get(*k).and_then(Value::as_str).map(str::to_string))
        })
        .unwrap_or_else(|| reply.text_excerpt())
}

/// `versions[version].dist` of a packument.
pub fn version_dist(doc: &Value, version: &str) -> Option<Published> {
    let dist = doc.get("versions")?.get(version)?.get("dist");
    let field = |k: &str| {
        dist.and_then(|d| d.get(k))
            .and_then(Value::as_str)
            .map(str::to_string)
    };
    Some(Published {
        integrity: field("integrity"),
        shasum: field("shasum"),
        tarball: field("tarball"),
    })
}

/// The publish request body, as libnpmpublish builds it. The version's manifest is the
/// tarball's package.json in its own key order.
pub fn publish_body(
    registry_base: &str,
    manifest: &IndexMap<String, Json>,
    name: &str,
    version: &str,
    tarball: &[u8],
    integrity: &str,
    shasum: &str,
) -> Json {
    use base64::Engine;
    let s = |v: &str| Json::String(v.to_string());
    let obj = |pairs: Vec<(&str, Json)>| {
        Json::Object(pairs.into_iter().map(|(k, v)| (k.to_string(), v)).collect())
    };
    let file = attachment_name(name, version);
    let mut version_doc = manifest.clone();
    version_doc.insert("_id".into(), s(&format!("{name}@{version}")));
    version_doc.insert(
        "dist".into(),
        obj(vec![
            ("integrity", s(integrity)),
            ("shasum", s(shasum)),
            (
                "tarball",
                s(&format!(
                    "{}/{}/-/{file}",
                    registry_base.trim_end_matches('/'),
                    name
                )),
            ),
        ]),
    );
    obj(vec![
        ("_id", s(name)),
        ("name", s(name)),
        (
            "description",
            manifest.get("description").cloned().unwrap_or(Json::Null),
        ),
        ("dist-tags", obj(vec![(dist_tag(version), s(version))])),
        ("versions", obj(vec![(version, Json::Object(version_doc))])),
        ("access", Json::Null),
        (
            "_attachments",
            obj(vec![(
                file.as_str(),
                obj(vec![
                    ("content_type", s("application/octet-stream")),
                    (
                        "data",
                        s(&base64::engine::general_purpose::STANDARD.encode(tarball)),
                    ),
                    ("length", Json::Number(tarball.len().into())),
                ]),
            )]),
        ),
    ])
}

/// Publishes the build unless the version is there already: identical bytes count as
/// published, other bytes are refused (the shared [`crate::existing`] decision).
pub(crate) fn upload(
    ctx: &Context,
    job: &BuildJob,
    build: &TsBuild,
) -> Result<PublishOutcome, Failure> {
    let registry = super::registry(ctx)?;
    let name = &job.package.name;
    let version = &job.version;
    // Versions are immutable: look first, so a re-run never uploads twice and a
    // conflict names both digests.
    if let Some(existing) = registry.published(name, version)? {
        return already_there(ctx, &registry, job, build, existing.integrity);
    }
    let body = publish_body(
        registry.shown(),
        &build.manifest.root,
        name,
        version,
        &build.bytes,
        &build.integrity,
        &build.shasum,
    );
    if registry.publish(name, &body)? {
        ctx.log.info(&format!(
            "published {name}@{version} under dist-tag {} ({} bytes, {})",
            dist_tag(version),
            build.bytes.len(),
            build.integrity
        ));
        return Ok(PublishOutcome::Uploaded);
    }
    // 409: someone published this version between our look and our upload.
    let existing = registry.published(name, version)?;
    already_there(
        ctx,
        &registry,
        job,
        build,
        existing.and_then(|p| p.integrity),
    )
}

/// The version exists: identical bytes count as published, other bytes are a conflict.
fn already_there(
    ctx: &Context,
    registry: &Registry,
    job: &BuildJob,
    build: &TsBuild,
    existing: Option<String>,
) -> Result<PublishOutcome, Failure> {
    let name = &job.package.name;
    let version = &job.version;
    let held = match &existing {
        Some(theirs) => Held::Digest(theirs),
        None => Held::Unknown("no dist.integrity"),
    };
    match existing::decide(&format!("{name}@{version}"), &build.integrity, held) {
        // Never `Upload`: the version is there (`held` is never `Absent`).
        Decision::AlreadyPresent | Decision::Upload => {
            ctx.log.info(&format!(
                "{name}@{version} is already in {} with identical bytes ({}); not uploading it again",
                registry.shown(),
                build.integrity
            ));
            Ok(PublishOutcome::AlreadyPresent)
        }
        Decision::OtherBytes(text) => Err(Failure::publish(text)
            .with_detail(format!("registry: {}", registry.shown()))
            .with_hint(format!(
                "published versions are immutable: unset {} (or {}) to publish a snapshot, or choose a new release version",
                ctx.config.override_var(Lang::Ts),
                job.package.override_var(ctx.config.env_prefix()),
            ))),
    }
}

/// npm registries answer `-/ping` with 200.
pub(crate) fn probe_health(http: &RegistryHttp, base: &str) -> Probe {
    let reply = health::get(http, &format!("{base}/-/ping"))?;
    if reply.is_success() {
        Ok("-/ping answered 200".into())
    } else {
        Err(health::unexpected("-/ping", &reply))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ts::manifest::PackageJson;

    #[test]
    fn snapshots_go_to_dev_and_only_releases_to_latest() {
        assert_eq!(dist_tag("0.1.0-dev.20261127221005.0123456789ab"), "dev");
        assert_eq!(dist_tag("1.4.0-rc.1"), "dev");
        assert_eq!(dist_tag("1.4.0"), "latest");
        assert_eq!(dist_tag("not semver"), "dev");
    }

    #[test]
    fn names_are_escaped_like_npm() {
        assert_eq!(
            escaped_name("@ameideio/ameide-sdk-ts"),
            "@ameideio%2fameide-sdk-ts"
        );
        assert_eq!(escaped_name("lodash"), "lodash");
        assert_eq!(attachment_name("@s/a", "1.0.0"), "@s/a-1.0.0.tgz");
    }

    #[test]
    fn publish_body_has_what_registries_read() {
        let manifest = PackageJson::parse(
            r#"{"name": "@s/a", "version": "1.0.0-dev.1.a", "description": "d"}"#,
        )
        .unwrap();
        let body = publish_body(
            "http://127.0.0.1:4873/",
            &manifest.root,
            "@s/a",
            "1.0.0-dev.1.a",
            b"tgz",
            "sha512-x",
            "abc",
        );
        let text = serde_json::to_string(&body).unwrap();
        assert!(
            text.starts_with(r#"{"_id":"@s/a","name":"@s/a","description":"d","dist-tags""#),
            "{text}"
        );
        let body: Value = serde_json::from_str(&text).unwrap();
        assert_eq!(
            body["dist-tags"],
            serde_json::json!({"dev": "1.0.0-dev.1.a"})
        );
        let v = &body["versions"]["1.0.0-dev.1.a"];
        assert_eq!(v["_id"], "@s/a@1.0.0-dev.1.a");
        assert_eq!(v["dist"]["integrity"], "sha512-x");
        assert_eq!(
            v["dist"]["tarball"],
            "http://127.0.0.1:4873/@s/a/-/@s/a-1.0.0-dev.1.a.tgz"
        );
        let att = &body["_attachments"]["@s/a-1.0.0-dev.1.a.tgz"];
        assert_eq!(att["data"], "dGd6");
        assert_eq!(att["length"], 3);
        let published = version_dist(
            &serde_json::json!({"versions": body["versions"].clone()}),
            "1.0.0-dev.1.a",
        )
        .unwrap();
        assert_eq!(published.shasum.as_deref(), Some("abc"));
    }
}
