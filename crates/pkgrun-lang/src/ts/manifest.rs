//! package.json editing that keeps the file as its author wrote it, and reading the
//! manifest back out of a packed tarball.
//!
//! Key order matters in package.json beyond looks: `exports` conditions are matched
//! in order (`types` must come before `default`), so the manifest is held in an
//! order-preserving [`Json`] value (serde_json's own `Map` sorts keys unless a
//! workspace-wide feature is switched on, which would change every other crate's
//! JSON output). Indentation and the trailing newline are detected and kept, as npm's
//! own `package.json` writer does.

use std::io::Read;
use std::path::Path;

use indexmap::IndexMap;
use serde::{Deserialize, Serialize};

/// A JSON value whose objects keep their key order.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum Json {
    Null,
    Bool(bool),
    Number(serde_json::Number),
    String(String),
    Array(Vec<Json>),
    Object(IndexMap<String, Json>),
}

impl Json {
    pub fn as_str(&self) -> Option<&str> {
        match self {
            Json::String(s) => Some(s),
            _ => None,
        }
    }

    pub fn as_object(&self) -> Option<&IndexMap<String, Json>> {
        match self {
            Json::Object(o) => Some(o),
            _ => None,
        }
    }

    pub fn get(&self, key: &str) -> Option<&Json> {
        self.as_object()?.get(key)
    }
}

/// The dependency maps whose entries name other packages.
pub const DEPENDENCY_FIELDS: &[&str] = &[
    "dependencies",
    "devDependencies",
    "peerDependencies",
    "optionalDependencies",
];

/// A dependency range that points into the repository rather than at a registry.
pub fn is_local_range(range: &str) -> bool {
    ["workspace:", "file:", "link:", "portal:"]
        .iter()
        .any(|p| range.starts_with(p))
}

/// One rewritten dependency: `field.name` went from `from` to `to`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rewrite {
    pub field: String,
    pub name: String,
    pub from: String,
    pub to: String,
}

/// A package.json as read from disk, with how it was formatted.
#[derive(Debug, Clone)]
pub struct PackageJson {
    pub root: IndexMap<String, Json>,
    indent: String,
    trailing_newline: bool,
}

impl PackageJson {
    pub fn parse(text: &str) -> Result<Self, String> {
        let value: Json = serde_json::from_str(text).map_err(|e| format!("not valid JSON: {e}"))?;
        let Json::Object(root) = value else {
            return Err("the top level is not a JSON object".into());
        };
        Ok(PackageJson {
            root,
            indent: detect_indent(text),
            trailing_newline: text.ends_with('\n'),
        })
    }

    pub fn read(path: &Path) -> Result<Self, String> {
        let text = fs_err::read_to_string(path)
            .map_err(|e| format!("cannot read {}: {e}", path.display()))?;
        Self::parse(&text).map_err(|e| format!("{}: {e}", path.display()))
    }

    /// The file text, formatted like the original.
    pub fn render(&self) -> String {
        let mut out = Vec::new();
        let formatter = serde_json::ser::PrettyFormatter::with_indent(self.indent.as_bytes());
        let mut ser = serde_json::Serializer::with_formatter(&mut out, formatter);
        self.root
            .serialize(&mut ser)
            .expect("serialising JSON to memory cannot fail");
        let mut text = String::from_utf8(out).expect("serde_json writes UTF-8");
        if self.trailing_newline {
            text.push('\n');
        }
        text
    }

    pub fn str_field(&self, key: &str) -> Option<&str> {
        self.root.get(key).and_then(Json::as_str)
    }

    pub fn name(&self) -> Option<&str> {
        self.str_field("name")
    }

    pub fn version(&self) -> Option<&str> {
        self.str_field("version")
    }

    /// Whether `scripts.<name>` is defined.
    pub fn has_script(&self, name: &str) -> bool {
        self.root
            .get("scripts")
            .and_then(|s| s.get(name))
            .and_then(Json::as_str)
            .is_some_and(|s| !s.trim().is_empty())
    }

    /// Sets `version`, keeping its position (appended after `name` when missing).
    pub fn set_version(&mut self, version: &str) {
        let value = Json::String(version.to_string());
        if let Some(slot) = self.root.get_mut("version") {
            *slot = value;
        } else {
            let at = self.root.get_index_of("name").map(|i| i + 1).unwrap_or(0);
            self.root.shift_insert(at, "version".to_string(), value);
        }
    }

    /// Rewrites every dependency on one of `pins` (name → exact version) to that
    /// exact version, whatever range it had (`workspace:*`, `workspace:^`, `file:../x`,
    /// or a plain range): the published manifest must name the snapshot of this run.
    pub fn pin(&mut self, pins: &[(&str, &str)]) -> Vec<Rewrite> {
        let mut rewrites = Vec::new();
        for field in DEPENDENCY_FIELDS {
            let Some(Json::Object(deps)) = self.root.get_mut(*field) else {
                continue;
            };
            for (name, version) in pins {
                if let Some(slot) = deps.get_mut(*name) {
                    let from = slot.as_str().unwrap_or("").to_string();
                    if from != *version {
                        rewrites.push(Rewrite {
                            field: field.to_string(),
                            name: name.to_string(),
                            from,
                            to: version.to_string(),
                        });
                        *slot = Json::String(version.to_string());
                    }
                }
            }
        }
        rewrites
    }

    /// Dependencies that still point into the repository: `(field, name, range)`.
    pub fn local_references(&self) -> Vec<(String, String, String)> {
        let mut out = Vec::new();
        for field in DEPENDENCY_FIELDS {
            if let Some(deps) = self.root.get(*field).and_then(Json::as_object) {
                for (name, range) in deps {
                    if let Some(range) = range.as_str().filter(|r| is_local_range(r)) {
                        out.push((field.to_string(), name.clone(), range.to_string()));
                    }
                }
            }
        }
        out
    }
}

/// The indentation unit of a JSON text: the leading whitespace of its first indented
/// line (npm keeps whatever the author used); two spaces when nothing is indented.
fn detect_indent(text: &str) -> String {
    text.lines()
        .skip(1)
        .map(|l| {
            let trimmed = l.trim_start_matches([' ', '\t']);
            &l[..l.len() - trimmed.len()]
        })
        .find(|ws| !ws.is_empty())
        .unwrap_or("  ")
        .to_string()
}

/// Reads `package/package.json` out of a gzipped npm tarball.
pub fn manifest_from_tarball(bytes: &[u8]) -> Result<PackageJson, String> {
    let gz = flate2::read::GzDecoder::new(bytes);
    let mut archive = tar::Archive::new(gz);
    let entries = archive
        .entries()
        .map_err(|e| format!("not a gzipped tar archive: {e}"))?;
    for entry in entries {
        let mut entry = entry.map_err(|e| format!("corrupt tarball: {e}"))?;
        let path = entry
            .path()
            .map_err(|e| format!("corrupt tarball entry name: {e}"))?
            .to_string_lossy()
            .into_owned();
        // npm puts everything under `package/`; the first path segment is not checked
        // by npm either (old tarballs used other names), only its depth.
        if path.split('/').filter(|s| !s.is_empty()).count() == 2 && path.ends_with("/package.json")
        {
            let mut text = String::new();
            entry
                .read_to_string(&mut text)
                .map_err(|e| format!("cannot read package.json from the tarball: {e}"))?;
            return PackageJson::parse(&text)
                .map_err(|e| format!("package.json in the tarball: {e}"));
        }
    }
    Err("the tarball has no package/package.json".into())
}

#[cfg(test)]
mod tests {
    use super::*;

    const SDK: &str = r#"{
    "name": "@ameideio/ameide-sdk-ts",
    "version": "0.1.0",
    "type": "module",
    "exports": {
        ".": { "types": "./dist/index.d.ts", "default": "./dist/index.js" }
    },
    "scripts": { "build": "tsc -p tsconfig.json", "test": "" },
    "dependencies": {
        "zeta": "1.0.0",
        "@ameideio/ameide-telemetry-ts": "workspace:*",
        "slugify": "1.6.9"
    },
    "devDependencies": { "@ameideio/ameide-telemetry-ts": "file:../ameide_telemetry_ts", "big": 1e3 },
    "empty": {}, "list": [], "n": null, "t": true
}
"#;

    #[test]
    fn stamps_and_pins_keeping_order_indent_and_newline() {
        let mut pkg = PackageJson::parse(SDK).unwrap();
        pkg.set_version("0.1.0-dev.20261127221005.0123456789ab");
        let rewrites = pkg.pin(&[("@ameideio/ameide-telemetry-ts", "0.1.0-dev.1.a")]);
        assert_eq!(rewrites.len(), 2, "{rewrites:?}");
        assert_eq!(rewrites[0].from, "workspace:*");
        assert_eq!(rewrites[1].field, "devDependencies");
        assert!(pkg.local_references().is_empty());
        let text = pkg.render();
        assert!(text.ends_with("}\n"));
        assert!(text.contains("\n    \"name\""), "indent kept:\n{text}");
        // Order: exports conditions and dependency order exactly as written.
        let types = text.find("\"types\"").unwrap();
        let default = text.find("\"default\"").unwrap();
        assert!(types < default, "{text}");
        let zeta = text.find("\"zeta\"").unwrap();
        let slug = text.find("\"slugify\"").unwrap();
        assert!(zeta < slug, "{text}");
        assert!(text.contains("\"@ameideio/ameide-telemetry-ts\": \"0.1.0-dev.1.a\""));
        assert!(text.contains("\"version\": \"0.1.0-dev.20261127221005.0123456789ab\""));
        // Everything else survives a round trip.
        let again = PackageJson::parse(&text).unwrap();
        assert_eq!(again.root.get("big"), None);
        assert_eq!(
            again.root["devDependencies"].get("big"),
            pkg.root["devDependencies"].get("big")
        );
        assert_eq!(again.root["empty"], Json::Object(IndexMap::new()));
        assert_eq!(again.root["n"], Json::Null);
        assert_eq!(again.root["t"], Json::Bool(true));
        assert!(again.has_script("build"));
        assert!(!again.has_script("test"), "an empty script is not a script");
    }

    #[test]
    fn version_is_inserted_after_name_when_missing() {
        let mut pkg = PackageJson::parse("{\"name\":\"a\",\"main\":\"x.js\"}").unwrap();
        pkg.set_version("1.0.0");
        let keys: Vec<&str> = pkg.root.keys().map(String::as_str).collect();
        assert_eq!(keys, ["name", "version", "main"]);
        assert!(!pkg.render().ends_with('\n'));
    }

    #[test]
    fn unpinned_local_references_are_reported() {
        let pkg = PackageJson::parse(SDK).unwrap();
        let refs = pkg.local_references();
        assert_eq!(refs.len(), 2);
        assert_eq!(refs[0].1, "@ameideio/ameide-telemetry-ts");
        assert!(is_local_range("link:../x") && is_local_range("workspace:^"));
        assert!(!is_local_range("^1.2.3") && !is_local_range("npm:other@1"));
    }

    #[test]
    fn tab_indent_is_kept() {
        let pkg = PackageJson::parse("{\n\t\"name\": \"a\"\n}\n").unwrap();
        assert_eq!(pkg.render(), "{\n\t\"name\": \"a\"\n}\n");
    }

    fn tarball(files: &[(&str, &str)]) -> Vec<u8> {
        let mut builder = tar::Builder::new(flate2::write::GzEncoder::new(
            Vec::new(),
            flate2::Compression::default(),
        ));
        for (path, text) in files {
            let mut header = tar::Header::new_gnu();
            header.set_size(text.len() as u64);
            header.set_mode(0o644);
            header.set_cksum();
            builder
                .append_data(&mut header, path, text.as_bytes())
                .unwrap();
        }
        builder.into_inner().unwrap().finish().unwrap()
    }

    #[test]
    fn reads_the_manifest_from_a_tarball() {
        let bytes = tarball(&[
            ("package/dist/package.json", "{\"name\":\"wrong\"}"),
            (
                "package/package.json",
                "{\"name\":\"@s/a\",\"version\":\"1.0.0\"}",
            ),
        ]);
        let pkg = manifest_from_tarball(&bytes).unwrap();
        assert_eq!(pkg.name(), Some("@s/a"));
        assert_eq!(pkg.version(), Some("1.0.0"));
        assert!(manifest_from_tarball(&tarball(&[("package/x.js", "")])).is_err());
        assert!(manifest_from_tarball(b"not gzip").is_err());
    }
}
