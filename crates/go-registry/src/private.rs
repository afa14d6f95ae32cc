//! GOPRIVATE-style module path patterns (`--private`): modules matching one are never
//! looked up upstream, so their names are not sent to a public proxy.
//!
//! Same rule as the go command's `module.MatchPrefixPatterns`: a pattern matches a path when
//! it glob-matches (`*`, `?`, no `/` crossing) the path's prefix with as many `/`-separated
//! elements as the pattern has.

/// Whether `path` matches any of `patterns`.
pub fn matches_any(patterns: &[String], path: &str) -> bool {
    patterns
        .iter()
        .any(|p| matches_prefix(p.trim_end_matches('/'), path))
}

fn matches_prefix(pattern: &str, path: &str) -> bool {
    if pattern.is_empty() {
        return false;
    }
    let n = pattern.split('/').count();
    let elems: Vec<&str> = path.split('/').collect();
    if elems.len() < n {
        return false;
    }
    let prefix = elems[..n].join("/");
    glob(pattern.as_bytes(), prefix.as_bytes())
}

/// Glob match with `*` (any run of non-`/`) and `?` (one non-`/` byte).
fn glob(p: &[u8], s: &[u8]) -> bool {
    match (p.first(), s.first()) {
        (None, None) => true,
        (None, Some(_)) => false,
        (Some(b'*'), _) => {
            // `*` matches zero bytes, or one non-slash byte and stays.
            glob(&p[1..], s) || (s.first().is_some_and(|&c| c != b'/') && glob(p, &s[1..]))
        }
        (Some(b'?'), Some(&c)) => c != b'/' && glob(&p[1..], &s[1..]),
        (Some(&a), Some(&b)) => a == b && glob(&p[1..], &s[1..]),
        (Some(_), None) => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prefix_patterns() {
        let pats = vec![
            "go.packages.dev.ameide.io".to_string(),
            "*.corp.example/team".to_string(),
        ];
        assert!(matches_any(
            &pats,
            "go.packages.dev.ameide.io/ameide-sdk-go"
        ));
        assert!(matches_any(&pats, "go.packages.dev.ameide.io"));
        assert!(matches_any(&pats, "git.corp.example/team/x/v2"));
        assert!(!matches_any(&pats, "git.corp.example/other/x"));
        assert!(!matches_any(&pats, "github.com/google/uuid"));
        assert!(!matches_any(&pats, "go.packages.dev.ameide.io.evil/x"));
    }
}
