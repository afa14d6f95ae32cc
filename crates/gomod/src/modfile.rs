//! Reading and minimally editing go.mod files.
//!
//! Enough of `golang.org/x/mod/modfile` for pkgrun: the `module` line (plain or
//! quoted), the `go` directive, `require` and `replace` (single lines and
//! blocks). Other directives (`toolchain`, `exclude`, `retract`, `tool`,
//! `godebug`, ...) are tokenised and kept verbatim but not interpreted.
//!
//! Edits are textual: [`ModFile::drop_replace`] deletes the directive's line
//! (and its block when that empties it), [`ModFile::set_require`] rewrites one
//! version token or inserts one line. Everything else — comments, blank
//! lines, spacing, other directives — is rendered back byte for byte, so a
//! diff of the published go.mod against the workspace one shows only the
//! intended change. (Go's own formatter would also reflow the file; we do
//! not, on purpose.)

use std::fmt;
use std::ops::Range;

use thiserror::Error;

use crate::version;

/// A go.mod that could not be read.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum ModFileError {
    #[error("go.mod is not valid UTF-8")]
    NotUtf8,
    #[error("go.mod:{line}: {message}")]
    Syntax { line: usize, message: String },
}

/// A `require` entry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Require {
    pub path: String,
    pub version: String,
    /// Marked `// indirect`.
    pub indirect: bool,
    /// 1-based line number.
    pub line: usize,
}

/// Where a `replace` points.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ReplaceTarget {
    /// A directory (`./x`, `../x`, `/abs`, `C:\x`), relative to the go.mod.
    Dir(String),
    /// Another module version.
    Module { path: String, version: String },
}

/// A `replace` entry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Replace {
    pub old_path: String,
    /// Only that version is replaced; `None` replaces every version.
    pub old_version: Option<String>,
    pub new: ReplaceTarget,
    /// 1-based line number.
    pub line: usize,
}

/// A parsed go.mod that renders back to its original text plus edits.
#[derive(Debug, Clone)]
pub struct ModFile {
    text: String,
    module: Option<String>,
    go: Option<String>,
    requires: Vec<RequireAt>,
    replaces: Vec<ReplaceAt>,
    blocks: Vec<Block>,
}

#[derive(Debug, Clone)]
struct RequireAt {
    req: Require,
    /// Byte range of the version token.
    version_span: Range<usize>,
    block: Option<usize>,
}

#[derive(Debug, Clone)]
struct ReplaceAt {
    rep: Replace,
    block: Option<usize>,
}

#[derive(Debug, Clone)]
struct Block {
    verb: String,
    /// 0-based physical lines of `verb (` and `)`.
    open_line: usize,
    close_line: usize,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Ident,
    Str,
    Punct,
    /// A `//` comment; the bool is true when code precedes it on its line.
    Comment(bool),
}

#[derive(Debug, Clone)]
struct Token {
    kind: Kind,
    span: Range<usize>,
}

/// Splits one physical line into tokens following Go's go.mod lexer:
/// `//` comments, `"…"`/`` `…` `` strings, the punctuation `( ) [ ] { } ,`, and
/// identifiers (runs of any other printable non-space characters).
fn lex_line(text: &str, base: usize, lineno: usize) -> Result<Vec<Token>, ModFileError> {
    let err = |message: String| ModFileError::Syntax {
        line: lineno,
        message,
    };
    let mut toks = Vec::new();
    let bytes = text.as_bytes();
    let mut i = 0;
    while i < text.len() {
        let c = text[i..].chars().next().unwrap_or(' ');
        if matches!(c, ' ' | '\t' | '\r' | '\n') {
            i += 1;
            continue;
        }
        if text[i..].starts_with("//") {
            toks.push(Token {
                kind: Kind::Comment(!toks.is_empty()),
                span: base + i..base + text.len(),
            });
            break;
        }
        if text[i..].starts_with("/*") {
            return Err(err(
                "mod files must use // comments (not /* */ comments)".into()
            ));
        }
        match c {
            '(' | ')' | '[' | ']' | '{' | '}' | ',' => {
                toks.push(Token {
                    kind: Kind::Punct,
                    span: base + i..base + i + 1,
                });
                i += 1;
            }
            '"' | '`' => {
                let mut j = i + 1;
                loop {
                    if j >= text.len() {
                        return Err(err("unexpected newline in string".into()));
                    }
                    if bytes[j] == c as u8 {
                        j += 1;
                        break;
                    }
                    if bytes[j] == b'\\' && c == '"' {
                        j += 1;
                    }
                    j += 1;
                }
                toks.push(Token {
                    kind: Kind::Str,
                    span: base + i..base + j,
                });
                i = j;
            }
            c if is_ident(c) => {
                let mut j = i;
                while let Some(c) = text[j..].chars().next() {
                    if !is_ident(c) || text[j..].starts_with("//") {
                        break;
                    }
                    if text[j..].starts_with("/*") {
                        return Err(err(
                            "mod files must use // comments (not /* */ comments)".into()
                        ));
                    }
                    j += c.len_utf8();
                }
                toks.push(Token {
                    kind: Kind::Ident,
                    span: base + i..base + j,
                });
                i = j;
            }
            c => return Err(err(format!("unexpected input character {c:?}"))),
        }
    }
    Ok(toks)
}

fn is_ident(c: char) -> bool {
    !matches!(c, ' ' | '(' | ')' | '[' | ']' | '{' | '}' | ',')
        && !c.is_whitespace()
        && !c.is_control()
}

/// Go's `parseString`: a `"…"` token is unquoted, an unquoted token must not
/// contain quote characters.
fn unquote(tok: &str) -> Result<String, String> {
    if let Some(inner) = tok.strip_prefix('"') {
        let inner = inner
            .strip_suffix('"')
            .ok_or_else(|| format!("invalid quoted string {tok}"))?;
        let mut out = String::new();
        let mut chars = inner.chars();
        while let Some(c) = chars.next() {
            if c != '\\' {
                out.push(c);
                continue;
            }
            let hex = |chars: &mut std::str::Chars, n: usize| -> Result<char, String> {
                let s: String = chars.by_ref().take(n).collect();
                u32::from_str_radix(&s, 16)
                    .ok()
                    .filter(|_| s.len() == n)
                    .and_then(char::from_u32)
                    .ok_or_else(|| format!("invalid escape in {tok}"))
            };
            match chars.next() {
                Some('n') => out.push('\n'),
                Some('t') => out.push('\t'),
                Some('r') => out.push('\r'),
                Some('a') => out.push('\x07'),
                Some('b') => out.push('\x08'),
                Some('f') => out.push('\x0c'),
                Some('v') => out.push('\x0b'),
                Some('\\') => out.push('\\'),
                Some('"') => out.push('"'),
                Some('x') => out.push(hex(&mut chars, 2)?),
                Some('u') => out.push(hex(&mut chars, 4)?),
                Some('U') => out.push(hex(&mut chars, 8)?),
                _ => return Err(format!("invalid escape in {tok}")),
            }
        }
        Ok(out)
    } else if tok.contains(['"', '\'', '`']) {
        Err("unquoted string cannot contain quote".into())
    } else {
        Ok(tok.to_string())
    }
}

/// Go's `MustQuote`/`AutoQuote`: quote a string that would not survive as a
/// single identifier token.
fn auto_quote(s: &str) -> String {
    let must = s.is_empty()
        || s.contains("//")
        || s.contains("/*")
        || s.chars().any(|c| {
            matches!(c, ' ' | '"' | '\'' | '`')
                || (matches!(c, '(' | ')' | '[' | ']' | '{' | '}' | ',') && s.len() > 1)
                || c.is_control()
                || c.is_whitespace()
        });
    if !must {
        return s.to_string();
    }
    let mut out = String::from("\"");
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\t' => out.push_str("\\t"),
            c if c.is_control() => out.push_str(&format!("\\u{:04x}", c as u32)),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// Go's `IsDirectoryPath`: Unix and Windows forms, since go.mod files move
/// between systems.
pub fn is_directory_path(ns: &str) -> bool {
    let b = ns.as_bytes();
    ns == "."
        || ns.starts_with("./")
        || ns.starts_with(".\\")
        || ns == ".."
        || ns.starts_with("../")
        || ns.starts_with("..\\")
        || ns.starts_with('/')
        || ns.starts_with('\\')
        || (b.len() >= 2 && b[0].is_ascii_alphabetic() && b[1] == b':')
}

/// Go's strict `GoVersionRE`: `1.21`, `1.21.3`, `1.21rc1`.
fn is_strict_go_version(v: &str) -> bool {
    let num = |s: &str| -> usize {
        let n = s.bytes().take_while(u8::is_ascii_digit).count();
        if n > 1 && s.starts_with('0') {
            0
        } else {
            n
        }
    };
    let n = num(v);
    if n == 0 || v.starts_with('0') {
        return false;
    }
    let Some(rest) = v[n..].strip_prefix('.') else {
        return false;
    };
    let n = num(rest);
    if n == 0 {
        return false;
    }
    let mut rest = &rest[n..];
    if let Some(r) = rest.strip_prefix('.') {
        let n = num(r);
        if n == 0 {
            return false;
        }
        rest = &r[n..];
    }
    if rest.is_empty() {
        return true;
    }
    let letters = rest.bytes().take_while(u8::is_ascii_lowercase).count();
    letters > 0 && letters < rest.len() && rest[letters..].bytes().all(|b| b.is_ascii_digit())
}

/// Go's `laxGoVersionRE` fix-up for dependency go.mods: `v?MAJOR.MINOR`
/// followed by junk yields `MAJOR.MINOR`.
fn lax_go_version(v: &str) -> Option<String> {
    let s = v.strip_prefix('v').unwrap_or(v);
    let major = s.bytes().take_while(u8::is_ascii_digit).count();
    if major == 0 || s.starts_with('0') {
        return None;
    }
    let rest = s[major..].strip_prefix('.')?;
    let minor = rest.bytes().take_while(u8::is_ascii_digit).count();
    if minor == 0 || (minor > 1 && rest.starts_with('0')) {
        return None;
    }
    let tail = &rest[minor..];
    if tail.is_empty() || tail.starts_with(|c: char| c.is_ascii_digit()) {
        return None;
    }
    Some(s[..major + 1 + minor].to_string())
}

/// The `go` directive's version as Go's lax parser reads it (used to choose
/// the vendoring rule when building zips). `None` when absent or unreadable.
pub fn go_version_lax(data: &[u8]) -> Option<String> {
    let text = std::str::from_utf8(data).ok()?;
    let lines = split_lines(text);
    let mut depth = false;
    for (n, range) in lines.iter().enumerate() {
        let toks = lex_line(&text[range.clone()], range.start, n + 1).ok()?;
        let words: Vec<&str> = toks
            .iter()
            .filter(|t| !matches!(t.kind, Kind::Comment(_)))
            .map(|t| &text[t.span.clone()])
            .collect();
        if depth {
            depth = words != [")"];
            continue;
        }
        if words.len() == 2 && words[1] == "(" {
            depth = true;
        } else if words.len() == 2 && words[0] == "go" {
            let v = words[1];
            return if is_strict_go_version(v) {
                Some(v.to_string())
            } else {
                lax_go_version(v)
            };
        }
    }
    None
}

/// The module path a go.mod declares, read as leniently as Go's
/// `modfile.ModulePath` (the first `module` line; a quoted path is unquoted;
/// nothing else in the file is looked at). `None` if there is none or the
/// quoted form is malformed.
pub fn module_path(data: &[u8]) -> Option<String> {
    for line in data.split(|&b| b == b'\n') {
        let line = match line.windows(2).position(|w| w == b"//") {
            Some(i) => &line[..i],
            None => line,
        };
        let line = line.trim_ascii();
        let Some(rest) = line.strip_prefix(b"module") else {
            continue;
        };
        let trimmed = rest.trim_ascii();
        if trimmed.len() == rest.len() || trimmed.is_empty() {
            // `modulex …` or a bare `module`.
            continue;
        }
        let text = std::str::from_utf8(trimmed).ok()?;
        return if text.starts_with('"') {
            unquote(text).ok()
        } else if let Some(raw) = text.strip_prefix('`') {
            raw.strip_suffix('`').map(str::to_string)
        } else {
            Some(text.to_string())
        };
    }
    None
}

/// Byte ranges of physical lines, each including its `\n` if any.
fn split_lines(text: &str) -> Vec<Range<usize>> {
    let mut out = Vec::new();
    let mut start = 0;
    for (i, b) in text.bytes().enumerate() {
        if b == b'\n' {
            out.push(start..i + 1);
            start = i + 1;
        }
    }
    if start < text.len() {
        out.push(start..text.len());
    }
    out
}

impl ModFile {
    /// Parses go.mod bytes.
    pub fn parse_bytes(data: &[u8]) -> Result<Self, ModFileError> {
        let text = std::str::from_utf8(data).map_err(|_| ModFileError::NotUtf8)?;
        Self::parse(text)
    }

    /// Parses go.mod text. `module`, `go`, `require` and `replace` are
    /// checked as Go checks them; other directives are kept as they are.
    pub fn parse(text: &str) -> Result<Self, ModFileError> {
        let mut mf = ModFile {
            text: text.to_string(),
            module: None,
            go: None,
            requires: Vec::new(),
            replaces: Vec::new(),
            blocks: Vec::new(),
        };
        let lines = split_lines(text);
        let mut open: Option<(String, usize)> = None;
        for (idx, range) in lines.iter().enumerate() {
            let lineno = idx + 1;
            let toks = lex_line(&text[range.clone()], range.start, lineno)?;
            let comment = toks
                .iter()
                .find(|t| t.kind == Kind::Comment(true))
                .map(|t| &text[t.span.clone()]);
            let words: Vec<&Token> = toks
                .iter()
                .filter(|t| !matches!(t.kind, Kind::Comment(_)))
                .collect();
            if words.is_empty() {
                continue;
            }
            let word = |i: usize| &text[words[i].span.clone()];
            let err = |message: String| ModFileError::Syntax {
                line: lineno,
                message,
            };
            if let Some((verb, open_line)) = &open {
                if words.len() == 1 && word(0) == ")" {
                    mf.blocks.push(Block {
                        verb: verb.clone(),
                        open_line: *open_line,
                        close_line: idx,
                    });
                    open = None;
                    continue;
                }
                let verb = verb.clone();
                let block = Some(mf.blocks.len());
                mf.directive(&verb, &words, comment, lineno, block)?;
                continue;
            }
            if words[0].kind != Kind::Ident {
                return Err(err(format!("syntax error (unexpected {:?})", word(0))));
            }
            let verb = word(0).to_string();
            if words.len() == 2 && word(1) == "(" {
                open = Some((verb, idx));
                continue;
            }
            if words.iter().skip(1).any(|t| &text[t.span.clone()] == "(") {
                return Err(err("syntax error (block must start with `verb (`)".into()));
            }
            mf.directive(&verb, &words[1..], comment, lineno, None)?;
        }
        if let Some((_, open_line)) = open {
            return Err(ModFileError::Syntax {
                line: open_line + 1,
                message: "syntax error (unterminated block)".into(),
            });
        }
        Ok(mf)
    }

    fn directive(
        &mut self,
        verb: &str,
        args: &[&Token],
        comment: Option<&str>,
        line: usize,
        block: Option<usize>,
    ) -> Result<(), ModFileError> {
        let err = |message: String| ModFileError::Syntax { line, message };
        let raw: Vec<&str> = args.iter().map(|t| &self.text[t.span.clone()]).collect();
        let arg = |i: usize| unquote(raw[i]).map_err(&err);
        match verb {
            "module" => {
                if block.is_some() || raw.len() != 1 {
                    return Err(err("usage: module module/path".into()));
                }
                if self.module.is_some() {
                    return Err(err("repeated module statement".into()));
                }
                self.module = Some(arg(0)?);
            }
            "go" => {
                if block.is_some() || raw.len() != 1 {
                    return Err(err("go directive expects exactly one argument".into()));
                }
                if self.go.is_some() {
                    return Err(err("repeated go statement".into()));
                }
                if !is_strict_go_version(raw[0]) {
                    return Err(err(format!(
                        "invalid go version '{}': must match format 1.23.0",
                        raw[0]
                    )));
                }
                self.go = Some(raw[0].to_string());
            }
            "require" => {
                if raw.len() != 2 {
                    return Err(err("usage: require module/path v1.2.3".into()));
                }
                let path = arg(0)?;
                let version = arg(1)?;
                if !version::is_valid(&version) {
                    return Err(err(format!(
                        "require {path}: version {version:?} invalid: must be of the form v1.2.3"
                    )));
                }
                let indirect = comment.is_some_and(|c| {
                    let f: Vec<&str> = c.trim_start_matches("//").split_whitespace().collect();
                    (f.len() == 1 && f[0] == "indirect") || (f.len() > 1 && f[0] == "indirect;")
                });
                self.requires.push(RequireAt {
                    req: Require {
                        path,
                        version,
                        indirect,
                        line,
                    },
                    version_span: args[1].span.clone(),
                    block,
                });
            }
            "replace" => {
                let arrow = if raw.len() >= 2 && raw[1] == "=>" {
                    1
                } else {
                    2
                };
                if raw.len() < arrow + 2 || raw.len() > arrow + 3 || raw[arrow] != "=>" {
                    return Err(err(
                        "usage: replace module/path [v1.2.3] => other/module v1.4\n\t or replace module/path [v1.2.3] => ../local/directory".into(),
                    ));
                }
                let old_path = arg(0)?;
                let old_version = if arrow == 2 {
                    let v = arg(1)?;
                    if !version::is_valid(&v) {
                        return Err(err(format!(
                            "replace {old_path}: version {v:?} invalid: must be of the form v1.2.3"
                        )));
                    }
                    Some(v)
                } else {
                    None
                };
                let ns = arg(arrow + 1)?;
                let new = if raw.len() == arrow + 2 {
                    if !is_directory_path(&ns) {
                        return Err(err(if ns.contains('@') {
                            "replacement module must match format 'path version', not 'path@version'".into()
                        } else {
                            "replacement module without version must be directory path (rooted or starting with . or ..)".into()
                        }));
                    }
                    ReplaceTarget::Dir(ns)
                } else {
                    let nv = arg(arrow + 2)?;
                    if is_directory_path(&ns) {
                        return Err(err(format!(
                            "replacement module directory path {ns:?} cannot have version"
                        )));
                    }
                    if !version::is_valid(&nv) {
                        return Err(err(format!(
                            "replace {ns}: version {nv:?} invalid: must be of the form v1.2.3"
                        )));
                    }
                    ReplaceTarget::Module {
                        path: ns,
                        version: nv,
                    }
                };
                self.replaces.push(ReplaceAt {
                    rep: Replace {
                        old_path,
                        old_version,
                        new,
                        line,
                    },
                    block,
                });
            }
            // Kept verbatim; pkgrun has no reason to interpret them.
            _ => {}
        }
        Ok(())
    }

    /// The module path of the `module` directive.
    pub fn module_path(&self) -> Option<&str> {
        self.module.as_deref()
    }

    /// The `go` directive's version (`1.22`, `1.24.0`).
    pub fn go_version(&self) -> Option<&str> {
        self.go.as_deref()
    }

    /// All `require` entries, in file order.
    pub fn requires(&self) -> Vec<&Require> {
        self.requires.iter().map(|r| &r.req).collect()
    }

    /// The version required for `path`, if any (the last one if repeated).
    pub fn require_version(&self, path: &str) -> Option<&str> {
        self.requires
            .iter()
            .rev()
            .find(|r| r.req.path == path)
            .map(|r| r.req.version.as_str())
    }

    /// All `replace` entries, in file order.
    pub fn replaces(&self) -> Vec<&Replace> {
        self.replaces.iter().map(|r| &r.rep).collect()
    }

    /// Removes the `replace` directives for `old_path` (only those for
    /// `old_version` when given, matching the directive's own version or
    /// lack of one). A block left without directives is removed with it.
    /// Returns how many directives were removed.
    pub fn drop_replace(&mut self, old_path: &str, old_version: Option<&str>) -> usize {
        let doomed: Vec<&ReplaceAt> = self
            .replaces
            .iter()
            .filter(|r| r.rep.old_path == old_path && r.rep.old_version.as_deref() == old_version)
            .collect();
        if doomed.is_empty() {
            return 0;
        }
        let count = doomed.len();
        let mut delete: Vec<usize> = doomed.iter().map(|r| r.rep.line - 1).collect();
        // A `replace ( … )` block whose last directive goes is removed whole,
        // as Go's Cleanup would.
        for (bi, block) in self.blocks.iter().enumerate() {
            let emptied = doomed.iter().any(|r| r.block == Some(bi))
                && self
                    .replaces
                    .iter()
                    .filter(|r| r.block == Some(bi))
                    .all(|r| delete.contains(&(r.rep.line - 1)));
            if emptied {
                delete.extend(block.open_line..=block.close_line);
            }
        }
        delete.sort_unstable();
        delete.dedup();
        let lines = split_lines(&self.text);
        let mut text = String::with_capacity(self.text.len());
        for (i, r) in lines.iter().enumerate() {
            if !delete.contains(&i) {
                text.push_str(&self.text[r.clone()]);
            }
        }
        self.reparse(text);
        count
    }

    /// Sets the required version of `path`: rewrites every existing `require`
    /// of it, or adds one — inside the last `require` block, else after the
    /// last single-line `require`, else as a new line at the end.
    pub fn set_require(&mut self, path: &str, version: &str) {
        let new_version = auto_quote(version);
        let mut spans: Vec<Range<usize>> = self
            .requires
            .iter()
            .filter(|r| r.req.path == path)
            .map(|r| r.version_span.clone())
            .collect();
        let mut text = self.text.clone();
        if !spans.is_empty() {
            spans.sort_by_key(|s| std::cmp::Reverse(s.start));
            for s in spans {
                text.replace_range(s, &new_version);
            }
        } else {
            let entry = format!("{} {new_version}", auto_quote(path));
            let lines = split_lines(&text);
            let line_start = |i: usize| lines.get(i).map_or(text.len(), |r| r.start);
            let last_block = self.blocks.iter().rfind(|b| b.verb == "require");
            let last_single = self.requires.iter().rfind(|r| r.block.is_none());
            let (at, insert) = if let Some(b) = last_block {
                (line_start(b.close_line), format!("\t{entry}\n"))
            } else if let Some(r) = last_single {
                let at = line_start(r.req.line);
                let nl = if at == text.len() && !text.ends_with('\n') {
                    "\n"
                } else {
                    ""
                };
                (at, format!("{nl}require {entry}\n"))
            } else {
                let nl = if text.is_empty() || text.ends_with('\n') {
                    ""
                } else {
                    "\n"
                };
                (text.len(), format!("{nl}\nrequire {entry}\n"))
            };
            text.insert_str(at, &insert);
        }
        self.reparse(text);
    }

    fn reparse(&mut self, text: String) {
        // Edits only remove whole directive lines or write well-formed
        // tokens, so the result parses; keep the edited text regardless.
        match ModFile::parse(&text) {
            Ok(mf) => *self = mf,
            Err(_) => self.text = text,
        }
    }
}

impl fmt::Display for ModFile {
    /// The file text, with edits applied.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.text)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SDK: &str = "// The SDK.
module \"go.packages.dev.ameide.io/ameide-sdk-go\" // quoted on purpose

go 1.22

toolchain go1.22.3

require github.com/google/uuid v1.6.0

require (
\tgo.packages.dev.ameide.io/telemetry v0.0.0-00010101000000-000000000000
\tgolang.org/x/text v0.14.0 // indirect
)

replace go.packages.dev.ameide.io/telemetry => ../telemetry

replace (
\texample.com/fork v1.0.0 => example.com/fork2 v1.1.0
\texample.com/local => ./local // keep me
)

exclude example.com/bad v0.1.0
";

    #[test]
    fn reads_directives() {
        let mf = ModFile::parse(SDK).unwrap();
        assert_eq!(
            mf.module_path(),
            Some("go.packages.dev.ameide.io/ameide-sdk-go")
        );
        assert_eq!(mf.go_version(), Some("1.22"));
        let reqs = mf.requires();
        assert_eq!(reqs.len(), 3);
        assert_eq!(reqs[0].path, "github.com/google/uuid");
        assert!(!reqs[0].indirect);
        assert!(reqs[2].indirect);
        assert_eq!(
            mf.require_version("go.packages.dev.ameide.io/telemetry"),
            Some("v0.0.0-00010101000000-000000000000")
        );
        let reps = mf.replaces();
        assert_eq!(reps.len(), 3);
        assert_eq!(reps[0].new, ReplaceTarget::Dir("../telemetry".into()));
        assert_eq!(reps[0].old_version, None);
        assert_eq!(reps[1].old_version.as_deref(), Some("v1.0.0"));
        assert_eq!(
            reps[1].new,
            ReplaceTarget::Module {
                path: "example.com/fork2".into(),
                version: "v1.1.0".into()
            }
        );
        assert_eq!(reps[2].new, ReplaceTarget::Dir("./local".into()));
        assert_eq!(reps[2].line, 19);
        assert_eq!(mf.to_string(), SDK);
    }

    #[test]
    fn pins_a_sibling() {
        let mut mf = ModFile::parse(SDK).unwrap();
        assert_eq!(
            mf.drop_replace("go.packages.dev.ameide.io/telemetry", None),
            1
        );
        mf.set_require(
            "go.packages.dev.ameide.io/telemetry",
            "v0.0.0-20261127221005-0123456789ab",
        );
        let want = SDK
            .replace(
                "replace go.packages.dev.ameide.io/telemetry => ../telemetry\n",
                "",
            )
            .replace(
                "telemetry v0.0.0-00010101000000-000000000000",
                "telemetry v0.0.0-20261127221005-0123456789ab",
            );
        assert_eq!(mf.to_string(), want);
        assert!(mf
            .replaces()
            .iter()
            .all(|r| r.old_path != "go.packages.dev.ameide.io/telemetry"));
    }

    #[test]
    fn drops_block_entries_and_empty_blocks() {
        let mut mf = ModFile::parse(SDK).unwrap();
        assert_eq!(mf.drop_replace("example.com/local", None), 1);
        assert!(mf
            .to_string()
            .contains("\texample.com/fork v1.0.0 => example.com/fork2 v1.1.0\n)"));
        assert_eq!(
            mf.drop_replace("example.com/fork", None),
            0,
            "version must match"
        );
        assert_eq!(mf.drop_replace("example.com/fork", Some("v1.0.0")), 1);
        let text = mf.to_string();
        assert!(!text.contains("replace (\n"), "{text}");
        assert!(text.contains("replace go.packages.dev.ameide.io/telemetry => ../telemetry\n"));
        assert!(text.ends_with("\nexclude example.com/bad v0.1.0\n"));
    }

    #[test]
    fn adds_requirements_where_go_would() {
        // Into the last require block.
        let mut mf = ModFile::parse(SDK).unwrap();
        mf.set_require("x.test/new", "v1.2.3");
        assert!(mf
            .to_string()
            .contains("\tgolang.org/x/text v0.14.0 // indirect\n\tx.test/new v1.2.3\n)"));
        assert_eq!(mf.require_version("x.test/new"), Some("v1.2.3"));

        // After the last single-line require.
        let mut mf =
            ModFile::parse("module x.test/a\n\nrequire x.test/b v1.0.0\n// tail\n").unwrap();
        mf.set_require("x.test/c", "v0.1.0");
        assert_eq!(
            mf.to_string(),
            "module x.test/a\n\nrequire x.test/b v1.0.0\nrequire x.test/c v0.1.0\n// tail\n"
        );

        // At the end, even without a trailing newline.
        let mut mf = ModFile::parse("module x.test/a\n\ngo 1.22").unwrap();
        mf.set_require("x.test/c", "v0.1.0");
        assert_eq!(
            mf.to_string(),
            "module x.test/a\n\ngo 1.22\n\nrequire x.test/c v0.1.0\n"
        );
        ModFile::parse(&mf.to_string()).unwrap();

        // Updating keeps the indirect comment.
        let mut mf = ModFile::parse(SDK).unwrap();
        mf.set_require("golang.org/x/text", "v0.15.0");
        assert!(mf
            .to_string()
            .contains("\tgolang.org/x/text v0.15.0 // indirect\n"));
    }

    #[test]
    fn rejects_malformed() {
        let line = |t: &str| match ModFile::parse(t) {
            Err(ModFileError::Syntax { line, .. }) => line,
            other => panic!("{t:?}: {other:?}"),
        };
        assert_eq!(line("module a b\n"), 1);
        assert_eq!(line("module x.test/a\nmodule x.test/b\n"), 2);
        assert_eq!(line("module x.test/a\ngo 1.22.x\n"), 2);
        assert_eq!(line("module x.test/a\nrequire x.test/b\n"), 2);
        assert_eq!(line("module x.test/a\nrequire x.test/b 1.0.0\n"), 2);
        assert_eq!(line("module x.test/a\nreplace x.test/b => x.test/c\n"), 2);
        assert_eq!(
            line("module x.test/a\nreplace x.test/b => x.test/c@v1.0.0\n"),
            2
        );
        assert_eq!(line("module x.test/a\nreplace x.test/b => ./c v1.0.0\n"), 2);
        assert_eq!(line("module x.test/a\nrequire (\nx.test/b v1.0.0\n"), 2);
        assert_eq!(line("module x.test/a /* no */\n"), 1);
        assert_eq!(line("module \"x.test/a\n"), 1);
        assert!(matches!(
            ModFile::parse_bytes(b"\xff"),
            Err(ModFileError::NotUtf8)
        ));
    }

    #[test]
    fn quoting_and_directory_paths() {
        assert_eq!(unquote(r#""a\"b\u00e9""#).unwrap(), "a\"bé");
        assert!(unquote("a'b").is_err());
        assert_eq!(auto_quote("x.test/a"), "x.test/a");
        assert_eq!(auto_quote("a b"), "\"a b\"");
        assert_eq!(auto_quote(""), "\"\"");
        for d in [
            ".", "..", "./x", "../x", "/abs", ".\\x", "..\\x", "C:\\x", "\\x",
        ] {
            assert!(is_directory_path(d), "{d}");
        }
        for m in ["x.test/a", "x", ".x", "..x"] {
            assert!(!is_directory_path(m), "{m}");
        }
        let mf = ModFile::parse("replace x.test/a => \"../with space\"\n").unwrap();
        assert_eq!(
            mf.replaces()[0].new,
            ReplaceTarget::Dir("../with space".into())
        );
    }

    #[test]
    fn lenient_module_path() {
        assert_eq!(
            module_path(b"// c\nmodule x.test/a // c\n").as_deref(),
            Some("x.test/a")
        );
        assert_eq!(
            module_path(b"module \"x.test/q\"\n").as_deref(),
            Some("x.test/q")
        );
        assert_eq!(
            module_path(b"module `x.test/r`\n").as_deref(),
            Some("x.test/r")
        );
        assert_eq!(
            module_path(b"modulex y\nfuture directive (\nmodule\tx.test/b\n").as_deref(),
            Some("x.test/b")
        );
        assert_eq!(module_path(b"module \"x.test/bad\n"), None);
        assert_eq!(module_path(b"go 1.22\n"), None);
    }

    #[test]
    fn go_versions() {
        assert_eq!(
            go_version_lax(b"module a\ngo 1.24\n").as_deref(),
            Some("1.24")
        );
        assert_eq!(
            go_version_lax(b"go 1.21rc1 // c\n").as_deref(),
            Some("1.21rc1")
        );
        assert_eq!(go_version_lax(b"go 1.24.x\n").as_deref(), Some("1.24"));
        assert_eq!(go_version_lax(b"go v1.19-beta\n").as_deref(), Some("1.19"));
        assert_eq!(go_version_lax(b"go 1\n"), None);
        assert_eq!(go_version_lax(b"require (\ngo 1.24\n)\n"), None);
        assert_eq!(go_version_lax(b"module a\n"), None);
        for ok in ["1.21", "1.21.3", "1.21rc1", "1.0"] {
            assert!(is_strict_go_version(ok), "{ok}");
        }
        for bad in ["1", "01.2", "1.02", "1.2.x", "1.21rc", "v1.21"] {
            assert!(!is_strict_go_version(bad), "{bad}");
        }
    }
}
