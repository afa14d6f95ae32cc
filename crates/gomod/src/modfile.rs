//! Reading and minimally editing go.mod files.

/// The `go` directive's version as Go's lax parser reads it (used to pick the
/// vendoring rule when building zips). `None` when absent or unreadable.
pub fn go_version_lax(data: &[u8]) -> Option<String> {
    let text = std::str::from_utf8(data).ok()?;
    let mut depth = 0usize;
    for line in text.lines() {
        let line = line.split("//").next().unwrap_or("").trim();
        let toks: Vec<&str> = line.split_whitespace().collect();
        if toks.last() == Some(&"(") {
            depth += 1;
            continue;
        }
        if toks.first() == Some(&")") {
            depth = depth.saturating_sub(1);
            continue;
        }
        if depth == 0 && toks.len() == 2 && toks[0] == "go" {
            return Some(toks[1].to_string());
        }
    }
    None
}
