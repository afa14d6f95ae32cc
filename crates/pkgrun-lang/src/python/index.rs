//! Reading a package index's project page: the PEP 691 JSON form
//! (`Accept: application/vnd.pypi.simple.v1+json`) and the PEP 503 HTML form.
//!
//! Both list the project's files with a URL (relative to the page) and a sha256 (the
//! JSON `hashes` object; the HTML `#sha256=` URL fragment). The protocol check reads
//! both and requires them to agree, because pip reads one or the other depending on
//! its version and what the server prefers.

use pkgrun_core::manifest::normalize_python_name;
use url::Url;

use crate::health::{self, Probe};
use crate::http::RegistryHttp;

/// The media type of PEP 691 JSON pages.
pub const JSON_MEDIA_TYPE: &str = "application/vnd.pypi.simple.v1+json";

/// One file listed on a project page.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IndexFile {
    pub filename: String,
    /// Absolute, resolved against the page URL.
    pub url: Url,
    /// Lowercase hex, when the page gives one.
    pub sha256: Option<String>,
}

/// The URL of `name`'s project page on the simple index at `simple_url`
/// (`…/+simple/` ⇒ `…/+simple/<normalized-name>/`).
pub fn project_page_url(simple_url: &Url, name: &str) -> Url {
    let mut base = simple_url.clone();
    if !base.path().ends_with('/') {
        let path = format!("{}/", base.path());
        base.set_path(&path);
    }
    base.set_query(None);
    base.set_fragment(None);
    base.join(&format!("{}/", normalize_python_name(name)))
        .expect("a normalized project name is a valid relative URL")
}

/// The root (`/`) of the server at `index_url`: the cheapest request that proves the
/// server answers, without naming any project (a mirroring index forwards project
/// pages it does not hold upstream, which would send a private name to the public
/// index).
pub fn server_root_url(index_url: &Url) -> Url {
    let mut root = index_url.clone();
    root.set_path("/");
    root.set_query(None);
    root.set_fragment(None);
    root
}

/// Files of a PEP 691 JSON project page.
pub fn parse_json_page(page_url: &Url, body: &[u8]) -> Result<Vec<IndexFile>, String> {
    let doc: serde_json::Value =
        serde_json::from_slice(body).map_err(|e| format!("not PEP 691 JSON: {e}"))?;
    let files = doc
        .get("files")
        .and_then(|f| f.as_array())
        .ok_or("the JSON page has no `files` array")?;
    files
        .iter()
        .map(|f| {
            let filename = f
                .get("filename")
                .and_then(|v| v.as_str())
                .ok_or("a file entry has no `filename`")?;
            let href = f
                .get("url")
                .and_then(|v| v.as_str())
                .ok_or_else(|| format!("{filename} has no `url`"))?;
            let url = page_url
                .join(href)
                .map_err(|e| format!("{filename}: bad url {href:?}: {e}"))?;
            let sha256 = f
                .get("hashes")
                .and_then(|h| h.get("sha256"))
                .and_then(|v| v.as_str())
                .map(str::to_ascii_lowercase);
            Ok(IndexFile {
                filename: filename.to_string(),
                url,
                sha256,
            })
        })
        .collect()
}

/// Files of a PEP 503 HTML project page: every `<a href="…">`, the file name taken
/// from the URL path's last segment, the sha256 from a `#sha256=` fragment.
pub fn parse_html_page(page_url: &Url, body: &str) -> Vec<IndexFile> {
    let mut out = Vec::new();
    let mut rest = body;
    while let Some(start) = find_ascii_ci(rest, "<a ") {
        let tag_end = rest[start..]
            .find('>')
            .map(|e| start + e)
            .unwrap_or(rest.len());
        let tag = &rest[start..tag_end];
        if let Some(href) = attribute(tag, "href") {
            let href = html_unescape(href);
            if let Ok(mut url) = page_url.join(&href) {
                let sha256 = url.fragment().and_then(|f| {
                    f.split('&')
                        .find_map(|kv| kv.strip_prefix("sha256="))
                        .map(str::to_ascii_lowercase)
                });
                url.set_fragment(None);
                let filename = url
                    .path_segments()
                    .and_then(|mut s| s.next_back())
                    .map(percent_decode)
                    .unwrap_or_default();
                if !filename.is_empty() {
                    out.push(IndexFile {
                        filename,
                        url,
                        sha256,
                    });
                }
            }
        }
        rest = &rest[tag_end.min(rest.len())..];
        if rest.is_empty() {
            break;
        }
    }
    out
}

fn find_ascii_ci(haystack: &str, needle: &str) -> Option<usize> {
    haystack
        .as_bytes()
        .windows(needle.len())
        .position(|w| w.eq_ignore_ascii_case(needle.as_bytes()))
}

fn attribute<'a>(tag: &'a str, name: &str) -> Option<&'a str> {
    let pos = find_ascii_ci(tag, &format!("{name}="))?;
    let after = &tag[pos + name.len() + 1..];
    let quote = after.chars().next()?;
    if quote == '"' || quote == '\'' {
        let inner = &after[1..];
        inner.find(quote).map(|end| &inner[..end])
    } else {
        let end = after
            .find(|c: char| c.is_whitespace() || c == '>')
            .unwrap_or(after.len());
        Some(&after[..end])
    }
}

fn html_unescape(s: &str) -> String {
    s.replace("&amp;", "&")
        .replace("&quot;", "\"")
        .replace("&#39;", "'")
        .replace("&lt;", "<")
        .replace("&gt;", ">")
}

/// Decodes `%XX` escapes (file names in URLs, `+` written as `%2B`).
pub fn percent_decode(s: &str) -> String {
    percent_encoding::percent_decode_str(s)
        .decode_utf8_lossy()
        .into_owned()
}

/// The version part of a wheel (`name-ver-…whl`) or sdist (`name-ver.tar.gz`, `.zip`)
/// file name.
pub fn version_of_filename(filename: &str) -> Option<&str> {
    if let Some(stem) = filename.strip_suffix(".whl") {
        return stem.split('-').nth(1);
    }
    let stem = filename
        .strip_suffix(".tar.gz")
        .or_else(|| filename.strip_suffix(".zip"))?;
    stem.rsplit_once('-').map(|(_, v)| v)
}

/// Whether two PEP 440 versions are the same version (`1.0` = `1.0.0`, case and
/// separators normalized); falls back to string equality for unparseable input.
pub fn same_version(a: &str, b: &str) -> bool {
    match (
        a.parse::<pep440_rs::Version>(),
        b.parse::<pep440_rs::Version>(),
    ) {
        (Ok(a), Ok(b)) => a == b,
        _ => a == b,
    }
}

/// devpi describes itself at `<index>/+api` as `{"type": "apiconfig", …}`.
pub(crate) fn probe_health(http: &RegistryHttp, base: &str) -> Probe {
    let reply = health::get(http, &format!("{base}/+api"))?;
    let is_apiconfig = reply.is_success()
        && reply
            .json()
            .ok()
            .is_some_and(|v| v.get("type").and_then(|t| t.as_str()) == Some("apiconfig"));
    if is_apiconfig {
        Ok("+api answered its apiconfig".into())
    } else {
        Err(health::unexpected("+api", &reply))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn page() -> Url {
        Url::parse("http://127.0.0.1:3141/root/ameide/+simple/ameide-telemetry/").unwrap()
    }

    #[test]
    fn project_page_urls() {
        let simple = Url::parse("http://127.0.0.1:3141/root/ameide/+simple/").unwrap();
        assert_eq!(
            project_page_url(&simple, "Ameide_Telemetry").as_str(),
            page().as_str()
        );
        let no_slash = Url::parse("http://h/simple").unwrap();
        assert_eq!(
            project_page_url(&no_slash, "a.b").as_str(),
            "http://h/simple/a-b/"
        );
    }

    #[test]
    fn the_reachability_request_names_no_project() {
        let index = Url::parse("http://u:p@127.0.0.1:3141/root/ameide/+simple/?x=1").unwrap();
        assert_eq!(
            server_root_url(&index).as_str(),
            "http://u:p@127.0.0.1:3141/"
        );
    }

    // Captured from devpi-server 6.20.3.
    const JSON: &str = r#"{"meta":{"api-version":"1.0"},"name":"ameide-telemetry","files":[{"filename": "ameide_telemetry-0.1.0.dev20261127221005+g0123456789ab-py3-none-any.whl", "url": "../../+f/ddf/c2ddcbee7f074/ameide_telemetry-0.1.0.dev20261127221005+g0123456789ab-py3-none-any.whl", "hashes": {"sha256": "ddfc2ddcbee7f074bb616c5258633746dfe67da14236d4a4df0806db4a033d02"}, "requires-python": ""}]}"#;
    const HTML: &str = r#"<!DOCTYPE html><html lang="en"><head><title>root/ameide: links for ameide-telemetry</title></head><body><h1>root/ameide: links for ameide-telemetry</h1>
<p><strong>INFO:</strong> Because this project isn't in the <code>mirror_whitelist</code>, no releases from <strong>root/pypi</strong> are included.</p>root/ameide <a href="../../+f/ddf/c2ddcbee7f074/ameide_telemetry-0.1.0.dev20261127221005+g0123456789ab-py3-none-any.whl#sha256=ddfc2ddcbee7f074bb616c5258633746dfe67da14236d4a4df0806db4a033d02" data-requires-python="">ameide_telemetry-0.1.0.dev20261127221005+g0123456789ab-py3-none-any.whl</a><br>
</body></html>"#;

    #[test]
    fn json_and_html_pages_agree() {
        let json = parse_json_page(&page(), JSON.as_bytes()).unwrap();
        let html = parse_html_page(&page(), HTML);
        assert_eq!(json, html);
        assert_eq!(json.len(), 1);
        let f = &json[0];
        assert_eq!(
            f.url.as_str(),
            "http://127.0.0.1:3141/root/ameide/+f/ddf/c2ddcbee7f074/ameide_telemetry-0.1.0.dev20261127221005+g0123456789ab-py3-none-any.whl"
        );
        assert_eq!(
            f.sha256.as_deref(),
            Some("ddfc2ddcbee7f074bb616c5258633746dfe67da14236d4a4df0806db4a033d02")
        );
    }

    #[test]
    fn html_escapes_and_percent_encoding() {
        let html = "<A HREF='/x/%2Bf/a-1.0%2Blocal.tar.gz#md5=1&amp;sha256=ABC'>a</A><a name=x>no href</a>";
        let files = parse_html_page(&page(), html);
        assert_eq!(files.len(), 1);
        assert_eq!(files[0].filename, "a-1.0+local.tar.gz");
        assert_eq!(files[0].sha256.as_deref(), Some("abc"));
    }

    #[test]
    fn percent_escapes_decode_at_the_end_too() {
        // The hand-written decoder this replaced left a final `%2B` undecoded.
        assert_eq!(percent_decode("a-1.0%2B"), "a-1.0+");
        assert_eq!(percent_decode("a%2Bb%zz"), "a+b%zz");
    }

    #[test]
    fn versions_from_filenames() {
        assert_eq!(
            version_of_filename("ameide_sdk-0.1.0.dev1+gabc-py3-none-any.whl"),
            Some("0.1.0.dev1+gabc")
        );
        assert_eq!(
            version_of_filename("ameide_sdk-1.4.0.tar.gz"),
            Some("1.4.0")
        );
        assert_eq!(version_of_filename("readme.txt"), None);
        assert!(same_version("1.4", "1.4.0"));
        assert!(same_version("1.4.0-rc1", "1.4.0rc1"));
        assert!(!same_version("1.4.0", "1.4.1"));
    }
}
