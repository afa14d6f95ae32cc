//! Comparing two archives by what a consumer gets out of them, for re-runs whose build
//! is not byte-reproducible.
//!
//! Some build backends write the time of the build into their archives (setuptools'
//! sdists: the generated `PKG-INFO` and directory entries carry the current time, and the
//! gzip header too), so the same sources built twice differ in bytes. Versions are
//! immutable, so a re-run (a retried CI job publishing a release override) must still find
//! "the registry already has this". [`compare`] decides that from the archives' contents:
//!
//! * **compared**: the set of member paths (a member added, removed or renamed differs),
//!   each member's type (file, directory, symlink and its target), each file's bytes
//!   (metadata files such as `PKG-INFO`, `METADATA`, `RECORD` and `package.json` are files,
//!   so every metadata change differs), and whether a file is executable;
//! * **ignored**: timestamps, owner and group, other permission bits, member order, and
//!   the container's own encoding (compression level, gzip header, zip extra fields).
//!
//! So a difference a consumer could observe after unpacking always counts; only the
//! packaging's incidental bytes do not. Formats: `.tar.gz`/`.tgz` (sdists, npm tarballs)
//! and zip (wheels).

use std::collections::BTreeMap;
use std::io::Read;

use crate::digest::sha256_hex as sha256;

/// What one member of an archive is, as compared.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Member {
    File { sha256: String, executable: bool },
    Dir,
    Symlink(String),
}

/// The archive kinds [`compare`] reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    TarGz,
    Zip,
}

impl Format {
    /// From a file name: `.tar.gz`/`.tgz` or `.whl`/`.zip`.
    pub fn of(filename: &str) -> Option<Format> {
        if filename.ends_with(".tar.gz") || filename.ends_with(".tgz") {
            Some(Format::TarGz)
        } else if filename.ends_with(".whl") || filename.ends_with(".zip") {
            Some(Format::Zip)
        } else {
            None
        }
    }
}

/// How two archives compare.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Comparison {
    /// Same members, types, file bytes and executable bits.
    SameContents,
    /// The first difference found, for the error message.
    Differs(String),
}

/// Compares `ours` and `theirs`, both in `format`. An archive that cannot be read is an
/// error (never taken for the same contents).
pub fn compare(format: Format, ours: &[u8], theirs: &[u8]) -> Result<Comparison, String> {
    let a = members(format, ours).map_err(|e| format!("this build's archive: {e}"))?;
    let b = members(format, theirs).map_err(|e| format!("the registry's archive: {e}"))?;
    for (path, member) in &a {
        match b.get(path) {
            None => return Ok(Comparison::Differs(format!("{path} is only in this build"))),
            Some(other) if other != member => {
                return Ok(Comparison::Differs(format!(
                    "{path} differs ({})",
                    what(member, other)
                )))
            }
            Some(_) => {}
        }
    }
    if let Some(path) = b.keys().find(|p| !a.contains_key(*p)) {
        return Ok(Comparison::Differs(format!(
            "{path} is only in the registry's file"
        )));
    }
    Ok(Comparison::SameContents)
}

fn what(ours: &Member, theirs: &Member) -> &'static str {
    match (ours, theirs) {
        (Member::File { sha256: a, .. }, Member::File { sha256: b, .. }) if a != b => "content",
        (Member::File { .. }, Member::File { .. }) => "executable bit",
        (Member::Symlink(_), Member::Symlink(_)) => "link target",
        _ => "type",
    }
}

fn members(format: Format, bytes: &[u8]) -> Result<BTreeMap<String, Member>, String> {
    match format {
        Format::TarGz => tar_members(bytes),
        Format::Zip => zip_members(bytes),
    }
}

fn tar_members(bytes: &[u8]) -> Result<BTreeMap<String, Member>, String> {
    let mut archive = tar::Archive::new(flate2::read::GzDecoder::new(bytes));
    let mut out = BTreeMap::new();
    for entry in archive.entries().map_err(|e| e.to_string())? {
        let mut entry = entry.map_err(|e| e.to_string())?;
        let path = entry
            .path()
            .map_err(|e| e.to_string())?
            .to_string_lossy()
            .trim_end_matches('/')
            .to_string();
        let header = entry.header();
        let member = match header.entry_type() {
            tar::EntryType::Directory => Member::Dir,
            tar::EntryType::Symlink => Member::Symlink(
                header
                    .link_name()
                    .map_err(|e| e.to_string())?
                    .map(|l| l.to_string_lossy().into_owned())
                    .unwrap_or_default(),
            ),
            // pax/GNU extension headers are folded into the entries by the reader.
            _ => {
                let executable = header.mode().map_err(|e| e.to_string())? & 0o111 != 0;
                file_member(&mut entry, executable)?
            }
        };
        if out.insert(path.clone(), member).is_some() {
            return Err(format!("{path} appears twice"));
        }
    }
    Ok(out)
}

/// A regular file member: its contents' digest and whether it is executable.
fn file_member(content: &mut impl Read, executable: bool) -> Result<Member, String> {
    let mut bytes = Vec::new();
    content.read_to_end(&mut bytes).map_err(|e| e.to_string())?;
    Ok(Member::File {
        sha256: sha256(&bytes),
        executable,
    })
}

fn zip_members(bytes: &[u8]) -> Result<BTreeMap<String, Member>, String> {
    let mut archive =
        zip::ZipArchive::new(std::io::Cursor::new(bytes)).map_err(|e| e.to_string())?;
    let mut out = BTreeMap::new();
    for i in 0..archive.len() {
        let mut file = archive.by_index(i).map_err(|e| e.to_string())?;
        let path = file.name().trim_end_matches('/').to_string();
        let member = if file.is_dir() {
            Member::Dir
        } else {
            let executable = file.unix_mode().is_some_and(|m| m & 0o111 != 0);
            file_member(&mut file, executable)?
        };
        if out.insert(path.clone(), member).is_some() {
            return Err(format!("{path} appears twice"));
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    /// A .tar.gz of `(path, content, mode)` with every member dated `mtime`, gzip level
    /// `level`.
    fn targz(members: &[(&str, &[u8], u32)], mtime: u64, level: u32) -> Vec<u8> {
        let gz = flate2::GzBuilder::new()
            .mtime(mtime as u32)
            .write(Vec::new(), flate2::Compression::new(level));
        let mut builder = tar::Builder::new(gz);
        for (path, content, mode) in members {
            let mut header = tar::Header::new_gnu();
            header.set_size(content.len() as u64);
            header.set_mode(*mode);
            header.set_mtime(mtime);
            header.set_uid(mtime % 1000);
            header.set_cksum();
            builder.append_data(&mut header, path, *content).unwrap();
        }
        builder.into_inner().unwrap().finish().unwrap()
    }

    fn zipped(members: &[(&str, &[u8], u32)], year: u16) -> Vec<u8> {
        let mut w = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
        for (path, content, mode) in members {
            let options = zip::write::SimpleFileOptions::default()
                .unix_permissions(*mode)
                .last_modified_time(
                    zip::DateTime::from_date_and_time(year, 1, 1, 0, 0, 0).unwrap(),
                );
            w.start_file(*path, options).unwrap();
            w.write_all(content).unwrap();
        }
        w.finish().unwrap().into_inner()
    }

    const SDIST: &[(&str, &[u8], u32)] = &[
        (
            "demo-1.0/PKG-INFO",
            b"Metadata-Version: 2.1\nName: demo\nVersion: 1.0\n",
            0o644,
        ),
        ("demo-1.0/demo/__init__.py", b"X = 1\n", 0o644),
        ("demo-1.0/bin/tool", b"#!/bin/sh\n", 0o755),
    ];

    #[test]
    fn builds_that_differ_only_in_time_owner_order_and_compression_are_the_same() {
        let first = targz(SDIST, 1_700_000_000, 6);
        let mut reordered = SDIST.to_vec();
        reordered.reverse();
        let second = targz(&reordered, 1_800_000_123, 9);
        assert_ne!(
            first, second,
            "the bytes must differ for this test to mean anything"
        );
        assert_eq!(
            compare(Format::TarGz, &first, &second),
            Ok(Comparison::SameContents)
        );
        let (a, b) = (zipped(SDIST, 2020), zipped(SDIST, 2026));
        assert_ne!(a, b);
        assert_eq!(compare(Format::Zip, &a, &b), Ok(Comparison::SameContents));
    }

    /// The rule cannot hide a real change: each kind of change a consumer could see
    /// is a difference, in both formats.
    #[test]
    fn every_observable_change_differs() {
        let changed_metadata: &[(&str, &[u8], u32)] = &[
            (
                "demo-1.0/PKG-INFO",
                b"Metadata-Version: 2.1\nName: demo\nVersion: 1.1\n",
                0o644,
            ),
            SDIST[1],
            SDIST[2],
        ];
        let changed_code: &[(&str, &[u8], u32)] = &[
            SDIST[0],
            ("demo-1.0/demo/__init__.py", b"X = 2\n", 0o644),
            SDIST[2],
        ];
        let added: &[(&str, &[u8], u32)] = &[
            SDIST[0],
            SDIST[1],
            SDIST[2],
            ("demo-1.0/extra.py", b"", 0o644),
        ];
        let removed: &[(&str, &[u8], u32)] = &[SDIST[0], SDIST[1]];
        let renamed: &[(&str, &[u8], u32)] = &[
            SDIST[0],
            ("demo-1.0/demo/main.py", b"X = 1\n", 0o644),
            SDIST[2],
        ];
        let not_executable: &[(&str, &[u8], u32)] = &[
            SDIST[0],
            SDIST[1],
            ("demo-1.0/bin/tool", b"#!/bin/sh\n", 0o644),
        ];
        let cases = [
            (changed_metadata, "demo-1.0/PKG-INFO differs (content)"),
            (changed_code, "demo-1.0/demo/__init__.py differs (content)"),
            (added, "demo-1.0/extra.py is only in the registry's file"),
            (removed, "demo-1.0/bin/tool is only in this build"),
            (renamed, "demo-1.0/demo/__init__.py is only in this build"),
            (not_executable, "demo-1.0/bin/tool differs (executable bit)"),
        ];
        for (theirs, expected) in cases {
            let got = compare(Format::TarGz, &targz(SDIST, 1, 6), &targz(theirs, 1, 6));
            assert_eq!(got, Ok(Comparison::Differs(expected.to_string())));
            let got = compare(Format::Zip, &zipped(SDIST, 2020), &zipped(theirs, 2020));
            assert_eq!(got, Ok(Comparison::Differs(expected.to_string())));
        }
    }

    #[test]
    fn an_unreadable_archive_is_an_error_not_the_same() {
        let good = targz(SDIST, 1, 6);
        assert!(compare(Format::TarGz, &good, b"not gzip").is_err());
        assert!(compare(Format::Zip, b"PK junk", &zipped(SDIST, 2020)).is_err());
        assert_eq!(Format::of("a-1.0.tar.gz"), Some(Format::TarGz));
        assert_eq!(Format::of("a-1.0-py3-none-any.whl"), Some(Format::Zip));
        assert_eq!(Format::of("a.tgz"), Some(Format::TarGz));
        assert_eq!(Format::of("a.egg"), None);
    }
}
