//! `h1:` hashes, as recorded in go.sum and checked by the go command.
//!
//! This mirrors `golang.org/x/mod/sumdb/dirhash.Hash1`: for each file, sorted
//! by name (byte order), the line `"<sha256 hex>  <name>\n"` is fed to an
//! outer SHA-256, and the result is `"h1:" + base64(std, padded)`.
//!
//! * A module zip's hash ([`hash_zip`]) covers *every* entry of the zip with its
//!   full name (`module@version/path`), directory entries included (they hash
//!   as empty files) — that is what `dirhash.HashZip` does, so a zip with
//!   directory entries has a different `h1:` than the same files without.
//! * A go.mod's hash ([`hash_go_mod`], go.sum's `/go.mod` line) is `Hash1` over
//!   a single file named `go.mod`.

use std::collections::HashMap;
use std::io::{Cursor, Read};

use base64::Engine as _;
use sha2::{Digest, Sha256};
use thiserror::Error;

/// Why a hash could not be computed.
#[derive(Debug, Error)]
pub enum HashError {
    #[error("dirhash: filenames with newlines are not supported: {0:?}")]
    NewlineInName(String),
    #[error("cannot read zip archive")]
    Zip(#[from] zip::result::ZipError),
    #[error("cannot read zip entry {name:?}")]
    ReadEntry {
        name: String,
        #[source]
        source: std::io::Error,
    },
    #[error(
        "zip entry {name:?}: uncompressed size {actual} does not match declared size {declared}"
    )]
    SizeMismatch {
        name: String,
        declared: u64,
        actual: u64,
    },
    #[error("zip directory entry {0:?} has content")]
    DirectoryWithContent(String),
}

/// Combines per-file digests into an `h1:` hash. Names are raw bytes because a
/// zip entry name need not be UTF-8 and Go hashes the bytes as they are.
pub(crate) fn hash1_from_digests(mut files: Vec<(Vec<u8>, [u8; 32])>) -> Result<String, HashError> {
    // Stable sort by name, like Go's slices.Sort over the names (duplicates keep
    // their relative order; their digests are identical anyway, see hash_zip).
    files.sort_by(|a, b| a.0.cmp(&b.0));
    let mut outer = Sha256::new();
    for (name, digest) in &files {
        if name.contains(&b'\n') {
            return Err(HashError::NewlineInName(
                String::from_utf8_lossy(name).into_owned(),
            ));
        }
        outer.update(hex_lower(digest).as_bytes());
        outer.update(b"  ");
        outer.update(name);
        outer.update(b"\n");
    }
    Ok(format!(
        "h1:{}",
        base64::engine::general_purpose::STANDARD.encode(outer.finalize())
    ))
}

fn hex_lower(bytes: &[u8]) -> String {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    let mut s = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        s.push(HEX[(b >> 4) as usize] as char);
        s.push(HEX[(b & 15) as usize] as char);
    }
    s
}

pub(crate) fn sha256(data: &[u8]) -> [u8; 32] {
    Sha256::digest(data).into()
}

/// `Hash1` over named files (names as they appear in the hash, e.g.
/// `module@version/file.go`).
pub fn hash_files<I, N, B>(files: I) -> Result<String, HashError>
where
    I: IntoIterator<Item = (N, B)>,
    N: AsRef<str>,
    B: AsRef<[u8]>,
{
    let digests = files
        .into_iter()
        .map(|(n, b)| (n.as_ref().as_bytes().to_vec(), sha256(b.as_ref())))
        .collect();
    hash1_from_digests(digests)
}

/// The go.sum hash of a go.mod file (the `<module> <version>/go.mod h1:…` line).
pub fn hash_go_mod(go_mod: &[u8]) -> String {
    // A single fixed name without a newline cannot fail.
    hash1_from_digests(vec![(b"go.mod".to_vec(), sha256(go_mod))])
        .expect("go.mod contains no newline")
}

/// The go.sum hash of a module zip (the `<module> <version> h1:…` line),
/// computed over every entry as `dirhash.HashZip` does.
pub fn hash_zip(zip_bytes: &[u8]) -> Result<String, HashError> {
    let mut archive = zip::ZipArchive::new(Cursor::new(zip_bytes))?;
    let mut by_name: HashMap<Vec<u8>, [u8; 32]> = HashMap::new();
    let mut names = Vec::with_capacity(archive.len());
    for i in 0..archive.len() {
        let (name, digest) = read_entry_digest(&mut archive, i, |_| {})?;
        by_name.insert(name.clone(), digest);
        names.push(name);
    }
    // Go hashes every name the central directory lists; a duplicated name
    // hashes, each time, the content Go's name → entry map resolves it to
    // (the `zip` crate's pick here; check_zip refuses such zips anyway).
    if let Some(all) = central_directory_names(zip_bytes) {
        if all.len() != names.len() && all.iter().all(|n| by_name.contains_key(n)) {
            names = all;
        }
    }
    let digests = names
        .into_iter()
        .map(|n| {
            let d = by_name[&n];
            (n, d)
        })
        .collect();
    hash1_from_digests(digests)
}

/// The raw entry names listed in a zip's central directory, in order,
/// duplicates included. The `zip` crate keys entries by name and silently keeps
/// one of several equal names, while Go's reader sees them all; this scanner
/// lets the checks see what Go sees. `None` if the directory cannot be located
/// (the `zip` crate then reports the archive as unreadable).
pub(crate) fn central_directory_names(data: &[u8]) -> Option<Vec<Vec<u8>>> {
    let u16_at = |o: usize| -> Option<u64> {
        Some(u16::from_le_bytes(data.get(o..o + 2)?.try_into().ok()?) as u64)
    };
    let u32_at = |o: usize| -> Option<u64> {
        Some(u32::from_le_bytes(data.get(o..o + 4)?.try_into().ok()?) as u64)
    };
    let u64_at = |o: usize| -> Option<u64> {
        Some(u64::from_le_bytes(data.get(o..o + 8)?.try_into().ok()?))
    };
    const EOCD: &[u8] = b"PK\x05\x06";
    // The end record is 22 bytes plus a comment of up to 64 KiB.
    let last = data.len().checked_sub(22)?;
    let first = last.saturating_sub(0xffff);
    let eocd = (first..=last).rev().find(|&i| &data[i..i + 4] == EOCD)?;
    let mut count = u16_at(eocd + 10)?;
    let mut cd_size = u32_at(eocd + 12)?;
    let mut dir_end = eocd;
    if count == 0xffff || cd_size == 0xffff_ffff || u32_at(eocd + 16)? == 0xffff_ffff {
        // Zip64: the locator sits right before the end record.
        let loc = eocd.checked_sub(20)?;
        if data.get(loc..loc + 4)? != b"PK\x06\x07" {
            return None;
        }
        let rec = usize::try_from(u64_at(loc + 8)?).ok()?;
        if data.get(rec..rec + 4)? != b"PK\x06\x06" {
            return None;
        }
        count = u64_at(rec + 32)?;
        cd_size = u64_at(rec + 40)?;
        dir_end = rec;
    }
    // Locate the directory from its end, which also copes with data
    // prepended to the archive (as Go's reader does).
    let mut pos = dir_end.checked_sub(usize::try_from(cd_size).ok()?)?;
    let mut names = Vec::new();
    for _ in 0..count {
        if data.get(pos..pos + 4)? != b"PK\x01\x02" {
            return None;
        }
        let name_len = u16_at(pos + 28)? as usize;
        let extra_len = u16_at(pos + 30)? as usize;
        let comment_len = u16_at(pos + 32)? as usize;
        names.push(data.get(pos + 46..pos + 46 + name_len)?.to_vec());
        pos += 46 + name_len + extra_len + comment_len;
    }
    Some(names)
}

/// Reads entry `i` fully, verifying its declared size (CRC is verified by the
/// zip reader), and returns its raw name and content digest. `sink` sees the
/// content (used to keep go.mod without reading it twice).
pub(crate) fn read_entry_digest<R: Read + std::io::Seek>(
    archive: &mut zip::ZipArchive<R>,
    i: usize,
    mut sink: impl FnMut(&[u8]),
) -> Result<(Vec<u8>, [u8; 32]), HashError> {
    let mut entry = archive.by_index(i)?;
    let name = entry.name_raw().to_vec();
    let lossy = || String::from_utf8_lossy(&name).into_owned();
    let declared = entry.size();
    if name.ends_with(b"/") && declared != 0 {
        // Go's reader refuses to open a directory entry with content.
        return Err(HashError::DirectoryWithContent(lossy()));
    }
    let mut hasher = Sha256::new();
    let mut buf = vec![0u8; 64 * 1024];
    let mut actual = 0u64;
    // Never inflate more than one byte past the declared size: a zip bomb (small
    // declared size, huge content) is caught at that byte, not after decompressing it all.
    let mut entry = (&mut entry).take(declared.saturating_add(1));
    loop {
        let n = entry
            .read(&mut buf)
            .map_err(|source| HashError::ReadEntry {
                name: lossy(),
                source,
            })?;
        if n == 0 {
            break;
        }
        actual += n as u64;
        hasher.update(&buf[..n]);
        sink(&buf[..n]);
    }
    if actual != declared {
        return Err(HashError::SizeMismatch {
            name: lossy(),
            declared,
            actual,
        });
    }
    Ok((name, hasher.finalize().into()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    #[test]
    fn go_mod_hash_matches_known_value() {
        // From go.sum of a real module: github.com/google/uuid v1.6.0/go.mod,
        // whose go.mod is exactly "module github.com/google/uuid\n".
        assert_eq!(
            hash_go_mod(b"module github.com/google/uuid\n"),
            "h1:TIyPZe4MgqvfeYDBFedMoGGpEw/LqOeaOT+nhxU+yHo="
        );
    }

    #[test]
    fn hash_files_sorts_and_rejects_newlines() {
        let a = hash_files([("b", "2"), ("a", "1")]).unwrap();
        let b = hash_files([("a", "1"), ("b", "2")]).unwrap();
        assert_eq!(a, b);
        assert!(a.starts_with("h1:"));
        assert_ne!(a, hash_files([("a", "1"), ("b", "3")]).unwrap());
        assert!(matches!(
            hash_files([("a\nb", "")]),
            Err(HashError::NewlineInName(_))
        ));
    }

    #[test]
    fn hash_zip_covers_directory_entries() {
        let build = |with_dir: bool| {
            let mut w = zip::ZipWriter::new(Cursor::new(Vec::new()));
            let o = zip::write::SimpleFileOptions::default();
            if with_dir {
                w.add_directory("x.com/m@v1.0.0/sub/", o).unwrap();
            }
            w.start_file("x.com/m@v1.0.0/sub/a.go", o).unwrap();
            w.write_all(b"package sub\n").unwrap();
            w.finish().unwrap().into_inner()
        };
        let plain = hash_zip(&build(false)).unwrap();
        assert_eq!(
            plain,
            hash_files([("x.com/m@v1.0.0/sub/a.go", "package sub\n")]).unwrap()
        );
        let with_dir = hash_zip(&build(true)).unwrap();
        assert_eq!(
            with_dir,
            hash_files([
                ("x.com/m@v1.0.0/sub/", ""),
                ("x.com/m@v1.0.0/sub/a.go", "package sub\n")
            ])
            .unwrap()
        );
    }

    /// A deflated entry of 50 MB of zeros whose headers declare 10 bytes.
    pub(crate) fn zip_bomb(name: &str) -> Vec<u8> {
        let mut w = zip::ZipWriter::new(Cursor::new(Vec::new()));
        let o = zip::write::SimpleFileOptions::default()
            .compression_method(zip::CompressionMethod::Deflated);
        w.start_file(name, o).unwrap();
        let zeros = vec![0u8; 1 << 20];
        for _ in 0..50 {
            w.write_all(&zeros).unwrap();
        }
        let mut bytes = w.finish().unwrap().into_inner();
        let declare_10 = |bytes: &mut Vec<u8>, sig: &[u8; 4], size_at: usize| {
            let at = bytes.windows(4).position(|x| x == sig).unwrap();
            bytes[at + size_at..at + size_at + 4].copy_from_slice(&10u32.to_le_bytes());
        };
        declare_10(&mut bytes, b"PK\x03\x04", 22); // local header: uncompressed size
        declare_10(&mut bytes, b"PK\x01\x02", 24); // central directory: uncompressed size
        bytes
    }

    #[test]
    fn zip_bomb_stops_at_the_first_byte_past_the_declared_size() {
        let bomb = zip_bomb("x.com/m@v1.0.0/a.go");
        assert!(bomb.len() < 200 << 10, "{}", bomb.len());
        match hash_zip(&bomb) {
            // 11 bytes read: inflating stopped one byte past the declared 10, not at 50 MB.
            Err(HashError::SizeMismatch {
                declared: 10,
                actual: 11,
                ..
            }) => {}
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn hash_zip_rejects_garbage() {
        assert!(matches!(hash_zip(b"not a zip"), Err(HashError::Zip(_))));
    }
}
