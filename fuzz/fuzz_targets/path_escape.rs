//! Module path and version (un)escaping: never panics, and escaping round-trips.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    if let Ok(path) = gomod::path::unescape_path(text) {
        assert_eq!(gomod::path::escape_path(&path).unwrap(), text);
    }
    if let Ok(escaped) = gomod::path::escape_path(text) {
        assert_eq!(gomod::path::unescape_path(&escaped).unwrap(), text);
    }
    if let Ok(v) = gomod::path::unescape_version(text) {
        let _ = gomod::path::escape_version(&v);
    }
    let _ = gomod::version::check_version_for_module("example.com/m", text);
});
