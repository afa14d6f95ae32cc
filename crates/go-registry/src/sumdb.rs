//! The checksum database: proxied for consumers, and asked before caching.
//!
//! * `GET /sumdb/<name>/supported`, `/sumdb/<name>/latest`, `/sumdb/<name>/lookup/<m>@<v>`
//!   and `/sumdb/<name>/tile/…` are passed to the upstream proxy's `/sumdb/<name>/…` for the
//!   configured names (`--sumdb`, default `go env GOSUMDB`), so consumers keep `GOSUMDB`
//!   on where only this registry is reachable. Full tiles never change and are cached on
//!   disk; partial tiles (`.p/<w>`), `latest` and lookups are not. Other names are 404.
//! * Lookups of private modules (`--private`, or any uploaded version) are refused without
//!   asking the upstream: their names must not leave this registry.
//! * [`lookup_hashes`] gives the `h1:` hashes the database records for a module version;
//!   the proxy compares them with what the upstream served before caching it.
//!
//! The go command itself verifies the database's signed tree heads and inclusion proofs
//! (through the tiles served here); this registry checks the record only. Paths are
//! validated by shape before anything is forwarded, so no request can rewrite the
//! upstream URL.

use std::path::{Path, PathBuf};

use crate::error::AppError;
use crate::upstream::{Upstream, UpstreamError};

/// A configured checksum database.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SumdbName {
    /// The name as the go command uses it in URLs (`/sumdb/<name>/…`).
    pub name: String,
}

/// Names from GOSUMDB-style values: `off`, `<name>`, `<name>+<hash>+<key>`, optionally
/// followed by a URL (ignored: the database is reached through the upstream proxy).
pub fn parse_names(values: &[String]) -> Vec<SumdbName> {
    values
        .iter()
        .filter_map(|v| v.split_whitespace().next())
        .filter(|v| !v.eq_ignore_ascii_case("off") && !v.is_empty())
        .map(|v| SumdbName {
            name: v.split('+').next().unwrap_or(v).to_string(),
        })
        .filter(|n| is_name(&n.name))
        .collect()
}

/// A host-name-like database name (what may appear as one URL path element).
fn is_name(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 253
        && !s.starts_with('.')
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'.' || b == b'-')
}

/// A parsed `/sumdb/<name>/<rest>` request.
#[derive(Debug, PartialEq, Eq)]
pub enum SumdbRequest {
    /// `supported`
    Supported,
    /// `latest` (the signed tree head; moves).
    Latest,
    /// `lookup/<escaped module>@<escaped version>`.
    Lookup {
        /// Unescaped module path.
        module: String,
        /// Unescaped version.
        version: String,
    },
    /// `tile/<H>/<L or data>/<N…>[.p/<W>]`.
    Tile {
        /// Whether the tile is full (immutable, cacheable).
        full: bool,
    },
}

/// Parse what follows `/sumdb/<name>/`. `None` = not a checksum database URL (404).
pub fn parse_rest(rest: &str) -> Option<SumdbRequest> {
    match rest {
        "supported" => return Some(SumdbRequest::Supported),
        "latest" => return Some(SumdbRequest::Latest),
        _ => {}
    }
    if let Some(key) = rest.strip_prefix("lookup/") {
        let (m, v) = key.rsplit_once('@')?;
        let module = gomod::path::unescape_path(m).ok()?;
        let version = gomod::path::unescape_version(v).ok()?;
        gomod::version::canonical(&version).filter(|c| *c == version)?;
        return Some(SumdbRequest::Lookup { module, version });
    }
    let tile = rest.strip_prefix("tile/")?;
    parse_tile(tile).map(|full| SumdbRequest::Tile { full })
}

/// `<H>/<L>/<N>` or `<H>/data/<N>`, N = `x123/x456/789` (3-digit groups), optionally
/// `.p/<W>`. Returns whether the tile is full.
fn parse_tile(tile: &str) -> Option<bool> {
    let (tile, partial) = match tile.split_once(".p/") {
        Some((t, w)) => (t, Some(w)),
        None => (tile, None),
    };
    if let Some(w) = partial {
        let w: u32 = small_number(w)?;
        if !(1..256).contains(&w) {
            return None;
        }
    }
    let mut parts = tile.split('/');
    small_number(parts.next()?)?;
    let level = parts.next()?;
    if level != "data" {
        small_number(level)?;
    }
    let groups: Vec<&str> = parts.collect();
    let (last, init) = groups.split_last()?;
    let digits3 = |s: &str| s.len() == 3 && s.bytes().all(|b| b.is_ascii_digit());
    if !digits3(last) || init.len() > 8 {
        return None;
    }
    if !init
        .iter()
        .all(|g| g.strip_prefix('x').is_some_and(digits3))
    {
        return None;
    }
    Some(partial.is_none())
}

fn small_number(s: &str) -> Option<u32> {
    if s.is_empty() || s.len() > 3 || !s.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    s.parse().ok()
}

/// Where a full tile is cached: `<dir>/<name>/<tile path>`. The tile path was validated
/// by [`parse_rest`] (digits, `x`, `/`, `data` only).
pub fn tile_cache_path(dir: &Path, name: &str, rest: &str) -> PathBuf {
    dir.join(name).join(rest)
}

/// The `h1:` hashes recorded for `module@version`: (zip hash, go.mod hash).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Recorded {
    /// `<module> <version> h1:…`
    pub zip: String,
    /// `<module> <version>/go.mod h1:…`
    pub go_mod: String,
}

/// Ask the upstream's checksum database `name` what it records for `module@version`.
/// `Ok(None)` when the database does not know the version (404/410).
pub async fn lookup_hashes(
    upstream: &Upstream,
    name: &str,
    module: &str,
    version: &str,
) -> Result<Option<Recorded>, AppError> {
    let escaped = format!(
        "{}@{}",
        gomod::path::escape_path(module).map_err(AppError::internal)?,
        gomod::path::escape_version(version).map_err(AppError::internal)?
    );
    let body = match upstream
        .get(&format!("sumdb/{name}/lookup/{escaped}"), 1 << 20)
        .await
    {
        Ok(b) => b,
        Err(UpstreamError::NotFound(_)) => return Ok(None),
        Err(e) => {
            return Err(AppError::BadGateway(format!(
                "checksum database lookup of {module}@{version}: {e}"
            )))
        }
    };
    parse_record(&String::from_utf8_lossy(&body), module, version)
        .map(Some)
        .ok_or_else(|| {
            AppError::BadGateway(format!(
                "checksum database answered a malformed record for {module}@{version}"
            ))
        })
}

/// The two hash lines of a lookup answer (`<id>\n<lines>\n\n<signed note>`).
pub fn parse_record(text: &str, module: &str, version: &str) -> Option<Recorded> {
    let mut zip = None;
    let mut go_mod = None;
    let mod_version = format!("{version}/go.mod");
    for line in text.lines().skip(1).take_while(|l| !l.is_empty()) {
        let f: Vec<&str> = line.split(' ').collect();
        match f.as_slice() {
            [m, v, h] if *m == module && *v == version && h.starts_with("h1:") => {
                zip = Some(h.to_string())
            }
            [m, v, h] if *m == module && *v == mod_version && h.starts_with("h1:") => {
                go_mod = Some(h.to_string())
            }
            _ => return None,
        }
    }
    Some(Recorded {
        zip: zip?,
        go_mod: go_mod?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_from_gosumdb_values() {
        let v = |s: &str| vec![s.to_string()];
        assert_eq!(parse_names(&v("off")), vec![]);
        assert_eq!(
            parse_names(&v("sum.test.example+033de0ae+AbCd")),
            vec![SumdbName {
                name: "sum.test.example".into()
            }]
        );
        assert_eq!(
            parse_names(&v("sum.test.example https://127.0.0.1:1")),
            vec![SumdbName {
                name: "sum.test.example".into()
            }]
        );
        assert_eq!(parse_names(&v("../etc")), vec![]);
    }

    #[test]
    fn request_shapes() {
        assert_eq!(parse_rest("supported"), Some(SumdbRequest::Supported));
        assert_eq!(parse_rest("latest"), Some(SumdbRequest::Latest));
        assert_eq!(
            parse_rest("lookup/m.test.example/!x@v1.0.0"),
            Some(SumdbRequest::Lookup {
                module: "m.test.example/X".into(),
                version: "v1.0.0".into()
            })
        );
        assert_eq!(
            parse_rest("tile/8/0/x001/234"),
            Some(SumdbRequest::Tile { full: true })
        );
        assert_eq!(
            parse_rest("tile/8/data/005.p/17"),
            Some(SumdbRequest::Tile { full: false })
        );
        for bad in [
            "tile/8/0/../../x",
            "tile/8/0/1234",
            "tile/8/0/005.p/0",
            "tile/8/0/005.p/256",
            "tile/8//005",
            "lookup/m.test.example/x@v1.0",
            "lookup/m.test.example/x@..%23",
            "lookup/m.test.example/x@v1.0.0#x",
            "other",
        ] {
            assert_eq!(parse_rest(bad), None, "{bad}");
        }
    }

    #[test]
    fn lookup_records() {
        let text = "123\nm.test.example/x v1.0.0 h1:AAA=\nm.test.example/x v1.0.0/go.mod h1:BBB=\n\ngo.sum database tree\n";
        assert_eq!(
            parse_record(text, "m.test.example/x", "v1.0.0"),
            Some(Recorded {
                zip: "h1:AAA=".into(),
                go_mod: "h1:BBB=".into()
            })
        );
        // A record for another module is refused.
        assert_eq!(parse_record(text, "m.test.example/y", "v1.0.0"), None);
    }
}
