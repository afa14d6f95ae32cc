//! The module zip check and `h1:` hash on arbitrary bytes: never panics, and a zip that
//! passes hashes the same through both entry points.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    if let Ok(summary) = gomod::check_zip("example.com/m", "v1.0.0", data) {
        assert_eq!(gomod::hash_zip(data).unwrap(), summary.h1);
    }
    let _ = gomod::hash_zip(data);
});
