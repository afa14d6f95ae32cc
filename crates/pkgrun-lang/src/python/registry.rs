//! The index's write side: the legacy upload API (`POST` multipart,
//! `:action=file_upload`), its re-upload semantics, and visibility (a wheel and an sdist
//! of the version listed on the project page).
//!
//! Before uploading, the project page of the consumers' index is read: a file of this
//! build that is already listed with the same sha256 is not sent again, one listed with
//! another sha256 is downloaded and compared by contents ([`crate::archive`]: setuptools'
//! sdists carry the build time): the same contents count as already present (the state
//! then records the registry's file), other contents are a conflict naming both digests
//! and the first difference (versions are immutable). Only the
//! missing files are uploaded, so a run that died between the wheel and the sdist
//! completes on the next run. An upload refused as a duplicate (409) that the look did
//! not list (another publisher came in between) is decided by the same rule, from a
//! second look. devpi's own answers agree (checked against
//! devpi-server 6.20 on a non-volatile index): an identical file is `200 Upload of
//! identical file to non volatile index.`, a different one `409 … already exists in
//! non-volatile index`, and a wrong password `401`.
//!
//! Credentials go in the `Authorization` header (Basic), never in a URL that is printed.

use pkgrun_core::ecosystem::python::{PYPI_PASSWORD, PYPI_REPOSITORY_URL, PYPI_USERNAME};
use pkgrun_core::state::PublishOutcome;
use reqwest::blocking::multipart::{Form, Part};
use reqwest::StatusCode;

use super::index::{self, IndexFile, JSON_MEDIA_TYPE};
use super::{BuiltFile, PyEnv, PythonBuild};
use crate::adapter::{BuildJob, Context};
use crate::archive;
use crate::digest::sha256_hex;
use crate::existing::{self, Decision, Held};
use crate::failure::Failure;

/// The files of `name` listed on the consumers' index (PEP 691 JSON, or HTML when the
/// server ignores the `Accept` header); `None` when the project does not exist there.
pub(crate) fn fetch_json_page(
    ctx: &Context,
    env: &PyEnv,
    name: &str,
) -> Result<Option<Vec<IndexFile>>, Failure> {
    let url = index::project_page_url(env.index.expose(), name);
    let reply = ctx.http.send(url.as_str(), |c| {
        c.get(url.clone())
            .header(reqwest::header::ACCEPT, JSON_MEDIA_TYPE)
    })?;
    if reply.status == StatusCode::NOT_FOUND {
        return Ok(None);
    }
    let shown = env.index.without_credentials();
    if !reply.is_success() {
        return Err(Failure::publish(format!(
            "the index {shown} answered HTTP {} for the project page of {name}",
            reply.status
        ))
        .with_detail(reply.text_excerpt()));
    }
    let is_json = reply
        .content_type
        .as_deref()
        .is_some_and(|t| t.contains("json"));
    let page_url = index::project_page_url(&shown, name);
    if is_json {
        index::parse_json_page(&page_url, &reply.body)
            .map(Some)
            .map_err(|e| {
                Failure::publish(format!("the index {shown} served a bad page for {name}"))
                    .with_detail(e)
            })
    } else {
        Ok(Some(index::parse_html_page(
            &page_url,
            &String::from_utf8_lossy(&reply.body),
        )))
    }
}

/// The failure for the files of this build that the index has with other bytes (each
/// text from [`existing::decide`], naming both sha256).
fn conflict_failure(env: &PyEnv, job: &BuildJob, conflicts: &[String]) -> Failure {
    Failure::publish(format!(
        "{} {} already exists in the registry at {} with different bytes",
        job.package.name,
        job.version,
        env.repository.without_credentials()
    ))
    .with_detail(conflicts.join("; "))
    .with_hint("published versions are immutable: unset the version override to publish a new snapshot, or publish the exact sources that produced the existing files")
}

/// The decision for one built file from the index's listing: absent is uploaded; listed
/// without a sha256 is never taken for identical bytes (the shared rule of
/// [`existing::decide`]), so it is refused as a conflict rather than assumed published.
fn listed_decision(file: &BuiltFile, listed: &[IndexFile]) -> Decision {
    match listed.iter().find(|e| e.filename == file.filename) {
        None => Decision::Upload,
        Some(entry) => decide(
            file,
            entry.sha256.as_deref(),
            "unknown (the index lists the file without a sha256)",
        ),
    }
}

/// For a file the index holds with another sha256: the registry's bytes when its archive
/// has the same contents as ours ([`archive::compare`]), else why not. The download is
/// checked against the listed sha256 first.
fn held_with_same_contents(
    ctx: &Context,
    file: &BuiltFile,
    listed: &[IndexFile],
) -> Result<Result<Vec<u8>, String>, Failure> {
    let Some(entry) = listed.iter().find(|e| e.filename == file.filename) else {
        return Ok(Err("not listed".into()));
    };
    let (Some(listed_sha), Some(format)) = (&entry.sha256, archive::Format::of(&file.filename))
    else {
        return Ok(Err("its contents cannot be compared".into()));
    };
    let reply = ctx.http.get(entry.url.as_str())?;
    if !reply.is_success() {
        return Ok(Err(format!(
            "downloading it to compare contents answered HTTP {}",
            reply.status.as_u16()
        )));
    }
    if &sha256_hex(&reply.body) != listed_sha {
        return Ok(Err(format!(
            "the index serves other bytes (sha256 {}) than it lists",
            sha256_hex(&reply.body)
        )));
    }
    Ok(match archive::compare(format, &file.bytes, &reply.body) {
        Ok(archive::Comparison::SameContents) => Ok(reply.body),
        Ok(archive::Comparison::Differs(what)) => Err(format!("the contents differ: {what}")),
        Err(e) => Err(format!("the archives cannot be compared: {e}")),
    })
}

/// The shared decision for one file, with sha256 digests shown as `sha256 <hex>`.
fn decide(file: &BuiltFile, theirs: Option<&str>, unknown: &str) -> Decision {
    let built = format!("sha256 {}", file.sha256);
    let theirs = theirs.map(|t| format!("sha256 {t}"));
    let held = match &theirs {
        Some(t) => Held::Digest(t),
        None => Held::Unknown(unknown),
    };
    existing::decide(&file.filename, &built, held)
}

/// Whether the index lists both a wheel and an sdist of `version`.
pub(crate) fn is_visible(
    ctx: &Context,
    env: &PyEnv,
    name: &str,
    version: &str,
) -> Result<bool, Failure> {
    let files = match fetch_json_page(ctx, env, name)? {
        Some(files) => files,
        None => return Ok(false),
    };
    let of_version: Vec<_> = files
        .iter()
        .filter(|f| {
            index::version_of_filename(&f.filename).is_some_and(|v| index::same_version(v, version))
        })
        .collect();
    let wheel = of_version.iter().any(|f| f.filename.ends_with(".whl"));
    let sdist = of_version.iter().any(|f| !f.filename.ends_with(".whl"));
    Ok(wheel && sdist)
}

/// Uploads the files of `build` that the index does not have yet.
pub(crate) fn upload(
    ctx: &Context,
    env: &PyEnv,
    job: &BuildJob,
    build: &mut PythonBuild,
) -> Result<PublishOutcome, Failure> {
    let listed = fetch_json_page(ctx, env, &job.package.name)?.unwrap_or_default();
    let mut conflicts = Vec::new();
    let mut missing = Vec::new();
    for i in 0..build.files.len() {
        match resolve_listed(ctx, build, i, &listed)? {
            Listed::Absent => missing.push(i),
            Listed::Present => {}
            Listed::Conflict(text) => conflicts.push(text),
        }
    }
    if !conflicts.is_empty() {
        return Err(conflict_failure(env, job, &conflicts));
    }
    let mut uploaded = false;
    for i in missing {
        match upload_file(ctx, env, build, &build.files[i])? {
            FileOutcome::Uploaded => uploaded = true,
            FileOutcome::Identical => ctx.log.info(&format!(
                "the registry already had {} with identical bytes",
                build.files[i].filename
            )),
            FileOutcome::Exists => {
                // Refused as a duplicate but not listed before (another publisher came
                // between our look and our upload): look again and decide by the same
                // rule as a file listed from the start.
                let listed = fetch_json_page(ctx, env, &job.package.name)?.unwrap_or_default();
                match resolve_listed(ctx, build, i, &listed)? {
                    Listed::Present => {}
                    Listed::Absent => {
                        let unknown = "unknown (not listed on the index page)";
                        if let Decision::OtherBytes(text) = decide(&build.files[i], None, unknown) {
                            return Err(conflict_failure(env, job, &[text]));
                        }
                    }
                    Listed::Conflict(text) => return Err(conflict_failure(env, job, &[text])),
                }
            }
        }
    }
    Ok(if uploaded {
        PublishOutcome::Uploaded
    } else {
        PublishOutcome::AlreadyPresent
    })
}

/// What the index's listing says about one built file.
enum Listed {
    /// Not listed: upload it.
    Absent,
    /// Listed with the same sha256, or with other bytes of the same contents (the file
    /// of the build is then replaced by the registry's, which the state records).
    Present,
    /// Listed with other contents: the text names both digests and why.
    Conflict(String),
}

/// Decides for file `i` of `build` by the index's listing (see the module docs).
fn resolve_listed(
    ctx: &Context,
    build: &mut PythonBuild,
    i: usize,
    listed: &[IndexFile],
) -> Result<Listed, Failure> {
    let file = &build.files[i];
    let text = match listed_decision(file, listed) {
        Decision::Upload => return Ok(Listed::Absent),
        Decision::AlreadyPresent => {
            ctx.log.info(&format!(
                "{} is already in the registry with the same sha256 {}",
                file.filename, file.sha256
            ));
            return Ok(Listed::Present);
        }
        Decision::OtherBytes(text) => text,
    };
    match held_with_same_contents(ctx, file, listed)? {
        Ok(held) => {
            ctx.log.info(&format!(
                "{} is already in the registry with other bytes (sha256 {}) but the same contents: this build differs only in timestamps or compression; recording the registry's file",
                file.filename,
                sha256_hex(&held)
            ));
            let file = &mut build.files[i];
            fs_err::write(&file.path, &held)?;
            file.sha256 = sha256_hex(&held);
            file.bytes = held;
            Ok(Listed::Present)
        }
        Err(why) => Ok(Listed::Conflict(format!("{text}; {why}"))),
    }
}

enum FileOutcome {
    Uploaded,
    Identical,
    Exists,
}

/// The multipart form of one file (rebuilt for every attempt).
fn form(build: &PythonBuild, file: &BuiltFile) -> Form {
    let (filetype, pyversion) = match file.kind {
        pkgrun_core::state::ArtifactKind::Wheel => (
            "bdist_wheel",
            // name-version(-build)?-python-abi-platform.whl: the python tag.
            file.filename
                .trim_end_matches(".whl")
                .rsplit('-')
                .nth(2)
                .unwrap_or("py3")
                .to_string(),
        ),
        _ => ("sdist", "source".to_string()),
    };
    let mut form = Form::new()
        .text(":action", "file_upload")
        .text("protocol_version", "1")
        .text("filetype", filetype)
        .text("pyversion", pyversion)
        .text("sha256_digest", file.sha256.clone());
    for (key, value) in build.metadata.form_fields() {
        form = form.text(key, value);
    }
    form.part(
        "content",
        Part::bytes(file.bytes.clone())
            .file_name(file.filename.clone())
            .mime_str("application/octet-stream")
            .expect("a valid mime type"),
    )
}

fn upload_file(
    ctx: &Context,
    env: &PyEnv,
    build: &PythonBuild,
    file: &BuiltFile,
) -> Result<FileOutcome, Failure> {
    let url = env.repository.without_credentials();
    let step = ctx.log.step(format!("upload {}", file.filename));
    let result = ctx.http.send_upload(url.as_str(), |c| {
        c.post(url.clone())
            .basic_auth(env.username, Some(env.password.expose()))
            .multipart(form(build, file))
    });
    let reply = match result {
        Ok(reply) => reply,
        Err(failure) => {
            step.fail(&failure.to_string());
            return Err(failure);
        }
    };
    let excerpt = || title_or_excerpt(&reply.body);
    // devpi's reason repeats the status for plain refusals ("401 Unauthorized").
    let reason = |f: Failure| {
        let text = excerpt();
        let status_line = format!(
            "{} {}",
            reply.status.as_u16(),
            reply.status.canonical_reason().unwrap_or_default()
        );
        if text.is_empty() || text == status_line {
            f
        } else {
            f.with_detail(text)
        }
    };
    let outcome = match reply.status {
        s if s.is_success() => {
            if excerpt().to_ascii_lowercase().contains("identical") {
                Ok(FileOutcome::Identical)
            } else {
                Ok(FileOutcome::Uploaded)
            }
        }
        StatusCode::CONFLICT => Ok(FileOutcome::Exists),
        StatusCode::BAD_REQUEST if excerpt().contains("exist") => Ok(FileOutcome::Exists),
        StatusCode::UNAUTHORIZED | StatusCode::FORBIDDEN => Err(reason(Failure::publish(format!(
            "the registry at {url} refused the upload of {} (HTTP {})",
            file.filename, reply.status
        )))
        .with_hint(format!(
            "check {} and {}, and that the user may upload to this index",
            PYPI_USERNAME.name(ctx.config.env_prefix()),
            PYPI_PASSWORD.name(ctx.config.env_prefix()),
        ))),
        StatusCode::NOT_FOUND => Err(reason(Failure::publish(format!(
            "the registry at {url} has no index to upload {} to (HTTP 404)",
            file.filename
        )))
        .with_hint(format!(
            "check {}: it must be the upload URL of an existing index (devpi: <server>/<user>/<index>/)",
            PYPI_REPOSITORY_URL.name(ctx.config.env_prefix()),
        ))),
        StatusCode::PAYLOAD_TOO_LARGE => Err(reason(Failure::publish(format!(
            "the registry at {url} refused the upload of {} as too large (HTTP 413, {} bytes)",
            file.filename,
            file.bytes.len()
        )))
        .with_hint(crate::failure::TOO_LARGE_HINT)),
        status => Err(reason(Failure::publish(format!(
            "the registry at {url} refused the upload of {} (HTTP {status})",
            file.filename
        )))),
    };
    match &outcome {
        Ok(_) => {
            step.ok();
        }
        Err(f) => {
            step.fail(&f.to_string());
        }
    }
    outcome
}

/// The `<title>` of an HTML answer (devpi puts the reason there), else the text cut short.
fn title_or_excerpt(body: &[u8]) -> String {
    let text = String::from_utf8_lossy(body);
    if let (Some(start), Some(end)) = (text.find("<title>"), text.find("</title>")) {
        if start + 7 <= end {
            return text[start + 7..end].trim().to_string();
        }
    }
    let text = text.trim();
    let cut = text
        .char_indices()
        .nth(300)
        .map(|(i, _)| i)
        .unwrap_or(text.len());
    text[..cut].to_string()
}

#[cfg(test)]
mod tests {
    use super::*;
    use pkgrun_core::state::ArtifactKind;

    /// Issue 18: a file the index lists without a sha256 is not taken as published.
    #[test]
    fn a_listed_file_without_a_digest_is_a_conflict_not_already_present() {
        let file = BuiltFile {
            path: "a-1.0-py3-none-any.whl".into(),
            filename: "a-1.0-py3-none-any.whl".into(),
            kind: ArtifactKind::Wheel,
            bytes: b"wheel".to_vec(),
            sha256: "ab".repeat(32),
        };
        let entry = |sha256: Option<String>| IndexFile {
            filename: file.filename.clone(),
            url: url::Url::parse("http://127.0.0.1:3141/root/x/+f/a-1.0-py3-none-any.whl").unwrap(),
            sha256,
        };
        assert_eq!(listed_decision(&file, &[]), Decision::Upload);
        assert_eq!(
            listed_decision(&file, &[entry(Some(file.sha256.clone()))]),
            Decision::AlreadyPresent
        );
        let Decision::OtherBytes(text) = listed_decision(&file, &[entry(None)]) else {
            panic!("a file listed without a digest must not count as published");
        };
        assert!(text.contains("without a sha256"), "{text}");
    }

    #[test]
    fn devpi_reasons_come_from_the_title() {
        let body = b"<html>\n <head>\n  <title>409 a-1.0.whl already exists in non-volatile index</title>\n </head>\n<body>...</body></html>";
        assert_eq!(
            title_or_excerpt(body),
            "409 a-1.0.whl already exists in non-volatile index"
        );
        assert_eq!(title_or_excerpt(b"  plain reason \n"), "plain reason");
    }
}
