//! Core metadata (the wheel's `*.dist-info/METADATA`) and the form fields of the
//! legacy upload API that carry it.
//!
//! The legacy upload API (what twine speaks) wants the distribution's core metadata as
//! form fields next to the file: `metadata_version`, `name`, `version`, `summary`,
//! `requires_dist` (repeated), `requires_python`, … An index such as devpi stores them
//! and serves `requires_python` as `data-requires-python` on its simple pages, which pip
//! uses to skip releases a Python cannot install. The wheel's METADATA is the source for
//! both files of a build: a backend writes the same core metadata into the sdist's
//! PKG-INFO, and reading one zip member avoids a tar/gzip reader.

use std::io::Read;
use std::path::Path;

/// Why a wheel's metadata could not be read.
#[derive(Debug, thiserror::Error)]
pub enum MetadataError {
    #[error("cannot open {file} as a wheel (zip)")]
    Zip {
        file: String,
        #[source]
        source: zip::result::ZipError,
    },
    #[error("{file} has no *.dist-info/METADATA")]
    Missing { file: String },
    #[error("cannot read METADATA of {file}")]
    Read {
        file: String,
        #[source]
        source: std::io::Error,
    },
}

/// Parsed core metadata: header fields in order (repeated fields repeat) and the body
/// (the long description, when the backend put it there).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CoreMetadata {
    pub fields: Vec<(String, String)>,
    pub body: String,
}

impl CoreMetadata {
    /// The first value of header `name` (case-insensitive).
    pub fn get(&self, name: &str) -> Option<&str> {
        self.fields
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    /// The legacy upload API's form fields for this metadata: header names lower-cased
    /// with `-` as `_`, a few renamed as the API expects (`Home-page` ⇒ `home_page`,
    /// `Classifier` ⇒ `classifiers`, `Project-URL` ⇒ `project_urls`), the body as
    /// `description`.
    pub fn form_fields(&self) -> Vec<(String, String)> {
        let mut out: Vec<(String, String)> = self
            .fields
            .iter()
            .map(|(k, v)| {
                let key = match k.to_ascii_lowercase().as_str() {
                    "classifier" => "classifiers".to_string(),
                    "project-url" => "project_urls".to_string(),
                    "platform" => "platform".to_string(),
                    "dynamic" => "dynamic".to_string(),
                    other => other.replace('-', "_"),
                };
                (key, v.clone())
            })
            .collect();
        if !self.body.trim().is_empty() && self.get("Description").is_none() {
            out.push(("description".to_string(), self.body.clone()));
        }
        out
    }
}

/// Parses RFC 822 style core metadata: `Key: value` lines, continuation lines starting
/// with whitespace, a blank line, then the body.
pub fn parse(text: &str) -> CoreMetadata {
    let mut meta = CoreMetadata::default();
    let mut lines = text.split_inclusive('\n');
    for raw in lines.by_ref() {
        let line = raw.trim_end_matches(['\n', '\r']);
        if line.is_empty() {
            break;
        }
        if line.starts_with([' ', '\t']) {
            if let Some((_, value)) = meta.fields.last_mut() {
                value.push('\n');
                value.push_str(line.trim_start_matches([' ', '\t']).trim_start_matches('|'));
            }
            continue;
        }
        if let Some((k, v)) = line.split_once(':') {
            meta.fields
                .push((k.trim().to_string(), v.trim().to_string()));
        }
    }
    meta.body = lines.collect();
    meta
}

/// Reads and parses the METADATA of the wheel at `path`.
pub fn read_wheel(path: &Path) -> Result<CoreMetadata, MetadataError> {
    let file = path.display().to_string();
    let reader = std::fs::File::open(path).map_err(|source| MetadataError::Read {
        file: file.clone(),
        source,
    })?;
    let mut archive = zip::ZipArchive::new(reader).map_err(|source| MetadataError::Zip {
        file: file.clone(),
        source,
    })?;
    let name = archive
        .file_names()
        .find(|n| n.ends_with(".dist-info/METADATA") && n.matches('/').count() == 1)
        .map(str::to_string)
        .ok_or_else(|| MetadataError::Missing { file: file.clone() })?;
    let mut entry = archive
        .by_name(&name)
        .map_err(|source| MetadataError::Zip {
            file: file.clone(),
            source,
        })?;
    let mut text = String::new();
    entry
        .read_to_string(&mut text)
        .map_err(|source| MetadataError::Read { file, source })?;
    Ok(parse(&text))
}

#[cfg(test)]
mod tests {
    use super::*;

    const METADATA: &str = "Metadata-Version: 2.4\nName: ameide-sdk\nVersion: 0.1.0.dev20261127221005+g0123456789ab\nSummary: Ameide platform SDK for Python\nRequires-Python: >=3.9\nRequires-Dist: ameide-telemetry==0.1.0.dev20261127221005+g0123456789ab\nRequires-Dist: httpx>=0.27\nClassifier: A :: B\nProject-URL: Home, https://example.invalid\nDescription-Content-Type: text/markdown\n\n# ameide-sdk\n\nLong text.\n";

    #[test]
    fn parses_headers_and_body() {
        let m = parse(METADATA);
        assert_eq!(m.get("name"), Some("ameide-sdk"));
        assert_eq!(m.get("Requires-Python"), Some(">=3.9"));
        assert_eq!(m.body, "# ameide-sdk\n\nLong text.\n");
        let fields = m.form_fields();
        let values = |k: &str| -> Vec<&str> {
            fields
                .iter()
                .filter(|(key, _)| key == k)
                .map(|(_, v)| v.as_str())
                .collect()
        };
        assert_eq!(values("metadata_version"), ["2.4"]);
        assert_eq!(values("requires_python"), [">=3.9"]);
        assert_eq!(
            values("requires_dist"),
            [
                "ameide-telemetry==0.1.0.dev20261127221005+g0123456789ab",
                "httpx>=0.27"
            ]
        );
        assert_eq!(values("classifiers"), ["A :: B"]);
        assert_eq!(values("project_urls"), ["Home, https://example.invalid"]);
        assert_eq!(values("description_content_type"), ["text/markdown"]);
        assert_eq!(values("description"), ["# ameide-sdk\n\nLong text.\n"]);
    }

    #[test]
    fn continuation_lines_join_the_previous_field() {
        let m = parse("Name: a\nLicense: MIT\n        |second line\nVersion: 1\n");
        assert_eq!(m.get("license"), Some("MIT\nsecond line"));
        assert_eq!(m.get("version"), Some("1"));
        assert_eq!(m.body, "");
    }

    #[test]
    fn reads_a_wheel() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("a-1.0-py3-none-any.whl");
        let mut zip = zip::ZipWriter::new(std::fs::File::create(&path).unwrap());
        let opts = zip::write::SimpleFileOptions::default();
        zip.start_file("a/__init__.py", opts).unwrap();
        zip.start_file("a-1.0.dist-info/METADATA", opts).unwrap();
        std::io::Write::write_all(&mut zip, b"Metadata-Version: 2.1\nName: a\nVersion: 1.0\n")
            .unwrap();
        zip.finish().unwrap();
        let m = read_wheel(&path).unwrap();
        assert_eq!(m.get("version"), Some("1.0"));
        let bad = dir.path().join("b.whl");
        fs_err::write(&bad, b"not a zip").unwrap();
        assert!(matches!(read_wheel(&bad), Err(MetadataError::Zip { .. })));
    }
}
