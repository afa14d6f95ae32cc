//! The go.mod parsers on arbitrary bytes: never panic.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    let _ = gomod::modfile::module_path(data);
    let _ = gomod::modfile::go_version_lax(data);
    if let Ok(text) = std::str::from_utf8(data) {
        if let Ok(parsed) = gomod::ModFile::parse(text) {
            let _ = parsed.requires();
        }
    }
});
