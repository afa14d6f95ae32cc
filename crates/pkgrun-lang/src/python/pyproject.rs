//! Stamping and pinning `pyproject.toml` in the throwaway copy.
//!
//! Two edits, made with `toml_edit` so the rest of the file (comments, ordering, the
//! build backend's own tables) stays exactly as the author wrote it:
//!
//! * `[project].version` becomes the version of this run. Only static versions can be
//!   stamped: a `dynamic = ["version"]` project takes its version from the backend
//!   (a VCS tag, an `__about__.py`), which pkgrun cannot set without knowing every
//!   backend's plugins, so it is refused with an explanation.
//! * Every requirement on a sibling package of the run (in `[project].dependencies` and
//!   `[project.optional-dependencies]`) becomes `name[extras]==<version>; marker`, and the
//!   sibling's `[tool.uv.sources]` entry (a local path or workspace member) is removed, so
//!   the published metadata points at the registry, never at a directory.

use pkgrun_core::manifest::normalize_python_name;
use toml_edit::{Array, DocumentMut, Item, Value};

/// Why the manifest copy could not be edited.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EditError {
    #[error("pyproject.toml is not valid TOML: {0}")]
    Parse(String),
    #[error("pyproject.toml has no [project] table")]
    NoProject,
    #[error("[project].version is dynamic; pkgrun publishes only projects with a static `version = \"X.Y.Z\"` in [project] (see docs/python.md)")]
    DynamicVersion,
    #[error("{0} must be an array of PEP 508 strings")]
    NotAnArray(String),
}

/// A sibling to pin: its distribution name and the version published in this run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SiblingPin {
    pub name: String,
    pub version: String,
}

/// Returns `text` with the version stamped and the siblings pinned.
pub fn stamp_and_pin(text: &str, version: &str, pins: &[SiblingPin]) -> Result<String, EditError> {
    let mut doc: DocumentMut = text
        .parse()
        .map_err(|e: toml_edit::TomlError| EditError::Parse(e.message().to_string()))?;
    let project = doc
        .get_mut("project")
        .and_then(Item::as_table_like_mut)
        .ok_or(EditError::NoProject)?;
    let dynamic_version = project
        .get("dynamic")
        .and_then(Item::as_array)
        .is_some_and(|a| a.iter().any(|v| v.as_str() == Some("version")));
    if dynamic_version {
        return Err(EditError::DynamicVersion);
    }
    match project.get_mut("version") {
        Some(item) if item.is_value() => {
            // Keep the key's position and decoration; replace only the string.
            let decor = item.as_value().map(|v| v.decor().clone());
            let mut value = Value::from(version);
            if let Some(decor) = decor {
                *value.decor_mut() = decor;
            }
            *item = Item::Value(value);
        }
        _ => {
            project.insert("version", toml_edit::value(version));
        }
    }
    if !pins.is_empty() {
        if let Some(deps) = project.get_mut("dependencies") {
            let array = deps
                .as_array_mut()
                .ok_or_else(|| EditError::NotAnArray("[project].dependencies".into()))?;
            pin_array(array, pins);
        }
        if let Some(optional) = project
            .get_mut("optional-dependencies")
            .and_then(Item::as_table_like_mut)
        {
            for (extra, item) in optional.iter_mut() {
                let array = item.as_array_mut().ok_or_else(|| {
                    EditError::NotAnArray(format!("[project.optional-dependencies].{extra}"))
                })?;
                pin_array(array, pins);
            }
        }
        drop_uv_sources(&mut doc, pins);
    }
    Ok(doc.to_string())
}

fn pin_array(array: &mut Array, pins: &[SiblingPin]) {
    for value in array.iter_mut() {
        let Some(req) = value.as_str() else { continue };
        let Some(pinned) = pin_requirement(req, pins) else {
            continue;
        };
        let decor = value.decor().clone();
        *value = Value::from(pinned);
        *value.decor_mut() = decor;
    }
}

/// `req` rewritten to `==<version>` when it names a sibling; `None` otherwise.
/// Extras and environment markers are kept; a version specifier or direct URL
/// reference (`name @ file:…`) is replaced.
pub fn pin_requirement(req: &str, pins: &[SiblingPin]) -> Option<String> {
    let trimmed = req.trim();
    let name_end = trimmed
        .find(|c: char| !(c.is_ascii_alphanumeric() || c == '-' || c == '_' || c == '.'))
        .unwrap_or(trimmed.len());
    let name = &trimmed[..name_end];
    let pin = pins
        .iter()
        .find(|p| normalize_python_name(&p.name) == normalize_python_name(name))?;
    let rest = trimmed[name_end..].trim_start();
    let (extras, rest) = match rest.strip_prefix('[') {
        Some(after) => match after.find(']') {
            Some(close) => (format!("[{}]", after[..close].trim()), &after[close + 1..]),
            None => (String::new(), rest),
        },
        None => (String::new(), rest),
    };
    let marker = rest
        .find(';')
        .map(|i| format!("; {}", rest[i + 1..].trim()))
        .unwrap_or_default();
    Some(format!("{name}{extras}=={}{marker}", pin.version))
}

fn drop_uv_sources(doc: &mut DocumentMut, pins: &[SiblingPin]) {
    let Some(uv) = doc
        .get_mut("tool")
        .and_then(Item::as_table_like_mut)
        .and_then(|t| t.get_mut("uv"))
        .and_then(Item::as_table_like_mut)
    else {
        return;
    };
    let Some(sources) = uv.get_mut("sources").and_then(Item::as_table_like_mut) else {
        return;
    };
    let doomed: Vec<String> = sources
        .iter()
        .map(|(k, _)| k.to_string())
        .filter(|k| {
            pins.iter()
                .any(|p| normalize_python_name(&p.name) == normalize_python_name(k))
        })
        .collect();
    for key in doomed {
        sources.remove(&key);
    }
    if sources.is_empty() {
        uv.remove("sources");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pins() -> Vec<SiblingPin> {
        vec![SiblingPin {
            name: "ameide-telemetry".into(),
            version: "0.1.0.dev20261127221005+g0123456789ab".into(),
        }]
    }

    const SDK: &str = r#"[build-system]
requires = ["hatchling"]
build-backend = "hatchling.build"

[project]
name = "ameide-sdk"
version = "0.1.0" # base version
description = "Ameide platform SDK for Python"
# The sibling package.
dependencies = ["ameide-telemetry", "httpx>=0.27"]

[project.optional-dependencies]
otel = ["Ameide_Telemetry[otel] >=0.1 ; python_version >= '3.9'"]

[tool.uv.sources]
ameide-telemetry = { path = "../ameide_telemetry_python" }
other = { git = "https://example.invalid/other" }

[tool.hatch.build.targets.wheel]
packages = ["src/ameide_sdk"]
"#;

    #[test]
    fn stamps_pins_and_keeps_everything_else() {
        let out = stamp_and_pin(SDK, "0.1.0.dev20261127221005+g0123456789ab", &pins()).unwrap();
        let expected = SDK
            .replace(
                "version = \"0.1.0\" # base version",
                "version = \"0.1.0.dev20261127221005+g0123456789ab\" # base version",
            )
            .replace(
                "[\"ameide-telemetry\", \"httpx>=0.27\"]",
                "[\"ameide-telemetry==0.1.0.dev20261127221005+g0123456789ab\", \"httpx>=0.27\"]",
            )
            .replace(
                "[\"Ameide_Telemetry[otel] >=0.1 ; python_version >= '3.9'\"]",
                "[\"Ameide_Telemetry[otel]==0.1.0.dev20261127221005+g0123456789ab; python_version >= '3.9'\"]",
            )
            .replace(
                "ameide-telemetry = { path = \"../ameide_telemetry_python\" }\n",
                "",
            );
        assert_eq!(out, expected);
    }

    #[test]
    fn empty_uv_sources_table_is_removed() {
        let text = "[project]\nname = \"a\"\nversion = \"1.0\"\ndependencies = [\"ameide-telemetry\"]\n\n[tool.uv.sources]\nameide-telemetry = { workspace = true }\n";
        let out = stamp_and_pin(text, "2.0", &pins()).unwrap();
        assert!(!out.contains("tool.uv.sources"), "{out}");
        assert!(
            out.contains("\"ameide-telemetry==0.1.0.dev20261127221005+g0123456789ab\""),
            "{out}"
        );
        assert!(out.contains("version = \"2.0\""), "{out}");
    }

    #[test]
    fn without_siblings_only_the_version_changes() {
        let text = "[project]\nname = \"t\"\nversion = \"0.1.0\"\ndependencies = []\n";
        let out = stamp_and_pin(text, "1.4.0", &[]).unwrap();
        assert_eq!(out, text.replace("0.1.0", "1.4.0"));
    }

    #[test]
    fn dynamic_version_is_refused_with_the_reason() {
        let text = "[project]\nname = \"t\"\ndynamic = [\"version\"]\n";
        let err = stamp_and_pin(text, "1.4.0", &[]).unwrap_err();
        assert_eq!(err, EditError::DynamicVersion);
        assert!(err.to_string().contains("static"));
    }

    #[test]
    fn requirement_forms() {
        let p = pins();
        let v = "0.1.0.dev20261127221005+g0123456789ab";
        assert_eq!(
            pin_requirement("ameide-telemetry", &p),
            Some(format!("ameide-telemetry=={v}"))
        );
        assert_eq!(
            pin_requirement("ameide.telemetry @ file:///x ; sys_platform == 'linux'", &p),
            Some(format!("ameide.telemetry=={v}; sys_platform == 'linux'"))
        );
        assert_eq!(
            pin_requirement("ameide-telemetry[a, b]~=0.1", &p),
            Some(format!("ameide-telemetry[a, b]=={v}"))
        );
        assert_eq!(pin_requirement("ameide-telemetry-extra>=1", &p), None);
        assert_eq!(pin_requirement("httpx", &p), None);
    }
}
