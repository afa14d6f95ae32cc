//! The Go registry over HTTP: upload (with the shared already-present decision on a
//! 409) and visibility. The protocol check reads the same URLs: [`super::smoke`].
//!
//! Uploads go to `POST <GO_REGISTRY_URL>/upload` (multipart `module`, `version`,
//! `info`, `mod`, `zip`; `Authorization: Bearer <GO_REGISTRY_TOKEN>`). The registry
//! answers 201 for a new version and 200 with `"outcome":"already-present"` when the
//! same bytes are stored already (docs of `go-registry`'s `routes/upload.rs`); 409 when
//! other bytes are stored; 401/403 for the token; 400/413 with its reason otherwise.
//!
//! Reads use the GOPROXY protocol under the same base URL, with `!`-escaped module
//! paths and versions, exactly as the go command asks.
//!
//! Pseudo-versions and `@v/list`: the protocol lets a proxy leave pseudo-versions out of
//! the list (the go command never expects them there; `go-registry` lists them only
//! with `--list-pseudo-versions`, Athens' disk storage lists them). So a pseudo-version
//! counts as listed when the list names it *or* its `.info` is served for it; a release
//! version (an override) must be in the list.

use pkgrun_core::state::PublishOutcome;
use reqwest::blocking::multipart::{Form, Part};
use reqwest::StatusCode;

use super::build::GoBuild;
use super::{ENV_TOKEN, ENV_URL};
use crate::adapter::Context;
use crate::existing::{self, Decision, Held};
use crate::failure::Failure;
use crate::health::{self, Probe, RegistryAnswer};
use crate::http::{RegistryHttp, Reply};
use pkgrun_core::{Config, Lang};

/// The registry base URL as the client uses it (credentials included, if any; only
/// for requests, never for messages), without a trailing slash.
pub(super) fn base_url(ctx: &Context) -> Result<String, Failure> {
    let url = ctx
        .env
        .url(ENV_URL)
        .ok_or_else(|| Failure::usage(format!("{ENV_URL} is not set")))?;
    Ok(url.expose().as_str().trim_end_matches('/').to_string())
}

/// `<base>/<escaped module>/@v/<escaped version>.<ext>`, or `…/@v/list` for `ext = None`.
pub(super) fn proxy_url(
    base: &str,
    module: &str,
    version: Option<&str>,
    ext: &str,
) -> Result<String, Failure> {
    let escaped = gomod::path::escape_path(module)
        .map_err(|e| Failure::publish(format!("module path {module} cannot be escaped: {e}")))?;
    Ok(match version {
        Some(v) => {
            let v = gomod::path::escape_version(v)
                .map_err(|e| Failure::publish(format!("version {v} cannot be escaped: {e}")))?;
            format!("{base}/{escaped}/@v/{v}.{ext}")
        }
        None => format!("{base}/{escaped}/@v/list"),
    })
}

/// Uploads a build.
pub fn upload(ctx: &Context, build: &GoBuild) -> Result<PublishOutcome, Failure> {
    let base = base_url(ctx)?;
    let reply = send(ctx, &base, build)?;
    let what = format!("{}@{}", build.module, build.version);
    match reply.status {
        s if s.is_success() => accepted(&reply, build, &what),
        StatusCode::CONFLICT => {
            let stored = stored_zip_h1(ctx, &base, &build.module, &build.version);
            let held = match &stored {
                Some(h1) => Held::Digest(h1),
                None => Held::Unknown("(its zip hash could not be read back)"),
            };
            match existing::decide(&what, &build.zip_h1, held) {
                Decision::OtherBytes(text) => Err(Failure::publish(text)
                    .with_detail(format!(
                        "the registry at {} said: {}",
                        crate::http::redact(&base),
                        reply.text_excerpt()
                    ))
                    .with_hint("versions are immutable: publish from a new commit (a new snapshot version), or use another override version")),
                // The registry refused, yet serves these very bytes: they are published.
                Decision::AlreadyPresent | Decision::Upload => Ok(PublishOutcome::AlreadyPresent),
            }
        }
        _ => Err(refused(&reply, &what, &crate::http::redact(&base))),
    }
}

/// `POST <base>/upload` with the multipart form of `build` and the bearer token.
fn send(ctx: &Context, base: &str, build: &GoBuild) -> Result<Reply, Failure> {
    let token = ctx
        .env
        .secret(ENV_TOKEN)
        .ok_or_else(|| Failure::usage(format!("{ENV_TOKEN} is not set")))?;
    // The bearer token is the registry's upload credential: credentials in the URL
    // (meant for GOPROXY reads through a front proxy) would be sent as a second,
    // Basic `Authorization` header that shadows it, so the upload URL goes without them.
    let plain_base = ctx
        .env
        .url(ENV_URL)
        .map(|u| u.base_without_slash())
        .unwrap_or_else(|| base.to_string());
    let url = format!("{plain_base}/upload");
    ctx.http.send_upload(&url, |client| {
        // Rebuilt per attempt: a multipart body is consumed by sending it.
        let form = Form::new()
            .text("module", build.module.clone())
            .text("version", build.version.clone())
            .part(
                "info",
                Part::bytes(build.info.clone()).file_name(format!("{}.info", build.version)),
            )
            .part("mod", Part::bytes(build.go_mod.clone()).file_name("go.mod"))
            .part(
                "zip",
                Part::bytes(build.zip.clone()).file_name(format!("{}.zip", build.version)),
            );
        client
            .post(&url)
            .bearer_auth(token.expose())
            .multipart(form)
    })
}

/// A 2xx: new, or already there; the stored zip's `h1:` must be the built one.
fn accepted(reply: &Reply, build: &GoBuild, what: &str) -> Result<PublishOutcome, Failure> {
    let body = reply.json().ok();
    let field = |name: &str| {
        body.as_ref()
            .and_then(|b| b.get(name))
            .and_then(|v| v.as_str())
            .map(str::to_string)
    };
    // The registry computes the h1 of what it stored: a different one means the
    // bytes changed on the way, and nothing served would match the state.
    if let Some(theirs) = field("h1") {
        if theirs != build.zip_h1 {
            return Err(Failure::publish(format!(
                "the registry stored {what} with zip hash {theirs}, but pkgrun built {}",
                build.zip_h1
            )));
        }
    }
    Ok(match field("outcome").as_deref() {
        Some("already-present") => PublishOutcome::AlreadyPresent,
        _ => PublishOutcome::Uploaded,
    })
}

/// The failure for an upload refused for its token (401/403), for its URL (404) or its
/// content, naming the registry (`registry` is already redacted).
fn refused(reply: &Reply, what: &str, registry: &str) -> Failure {
    match reply.status {
        StatusCode::UNAUTHORIZED | StatusCode::FORBIDDEN => Failure::publish(format!(
            "the registry at {registry} refused the upload of {what} (HTTP {}): {}",
            reply.status.as_u16(),
            reply.text_excerpt()
        ))
        .with_hint(if reply.status == StatusCode::UNAUTHORIZED {
            format!("check {ENV_TOKEN}: it must be one of the upload tokens the registry was started with (its --token-file or GO_REGISTRY_TOKEN)")
        } else {
            format!("the registry does not accept uploads with {ENV_TOKEN} (403): configure an upload token on the registry, or point {ENV_URL} at one that takes uploads")
        }),
        StatusCode::NOT_FOUND => Failure::publish(format!(
            "the registry at {registry} has no upload endpoint: POST /upload of {what} answered HTTP 404"
        ))
        .with_detail(format!("registry said: {}", reply.text_excerpt()))
        .with_hint(format!("check {ENV_URL}: it must be the base URL of a go-registry, which takes uploads at /upload (a plain GOPROXY serves reads only)")),
        s => Failure::publish(format!(
            "the registry at {registry} rejected {what} (HTTP {})",
            s.as_u16()
        ))
        .with_detail(format!("registry said: {}", reply.text_excerpt()))
        .with_hint(if s == StatusCode::PAYLOAD_TOO_LARGE {
            crate::failure::TOO_LARGE_HINT
        } else {
            "the registry validates module paths, versions, go.mod and zips by the Go rules: fix what it names"
        }),
    }
}

/// The `h1:` of the zip the registry serves for a version, if it can be read.
fn stored_zip_h1(ctx: &Context, base: &str, module: &str, version: &str) -> Option<String> {
    let url = proxy_url(base, module, Some(version), "zip").ok()?;
    let reply = ctx.http.get(&url).ok()?;
    if !reply.is_success() {
        return None;
    }
    gomod::hash::hash_zip(&reply.body).ok()
}

pub(super) fn listed(reply: &Reply, version: &str) -> bool {
    reply.is_success()
        && String::from_utf8_lossy(&reply.body)
            .lines()
            .any(|l| l.trim() == version)
}

/// Whether consumers can resolve `module@version` through the registry URL.
pub fn is_visible(ctx: &Context, module: &str, version: &str) -> Result<bool, Failure> {
    let base = base_url(ctx)?;
    let list = ctx.http.get(&proxy_url(&base, module, None, "")?)?;
    if listed(&list, version) {
        return Ok(true);
    }
    if !gomod::version::is_pseudo_version(version) {
        return Ok(false);
    }
    let info = ctx
        .http
        .get(&proxy_url(&base, module, Some(version), "info")?)?;
    Ok(info.is_success())
}

/// go-registry answers `/healthz`; a plain GOPROXY (Athens, a proxy in front) may not,
/// so a list request for the first configured module must then be a protocol answer
/// (200, or 404/410 for a module it does not have).
pub(crate) fn probe_health(http: &RegistryHttp, config: &Config, base: &str) -> Probe {
    let healthz = health::get(http, &format!("{base}/healthz"))?;
    if healthz.is_success() {
        return Ok("/healthz answered 200".into());
    }
    let Some(module) = config.section(Lang::Go).and_then(|s| s.packages.first()) else {
        return Err(health::unexpected("/healthz", &healthz));
    };
    let escaped = gomod::path::escape_path(&module.name)
        .map_err(|e| RegistryAnswer::Unexpected(format!("module path {}: {e}", module.name)))?;
    let list = health::get(http, &format!("{base}/{escaped}/@v/list"))?;
    match list.status.as_u16() {
        200 | 404 | 410 => Ok(format!(
            "{escaped}/@v/list answered {} (GOPROXY protocol)",
            list.status.as_u16()
        )),
        _ => Err(health::unexpected(&format!("{escaped}/@v/list"), &list)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn proxy_urls_are_case_escaped() {
        assert_eq!(
            proxy_url(
                "http://r",
                "example.com/Foo/v2",
                Some("v2.0.0-20261127221005-0123456789ab"),
                "zip"
            )
            .unwrap(),
            "http://r/example.com/!foo/v2/@v/v2.0.0-20261127221005-0123456789ab.zip"
        );
        assert_eq!(
            proxy_url("http://r", "example.com/Foo", None, "").unwrap(),
            "http://r/example.com/!foo/@v/list"
        );
    }
}
