//! Runner images: what each per-language image is built from, the digest of those inputs,
//! the record of the digests last built, and the staged build context.
//!
//! An image's inputs (see the comment block in `images/package-publisher-<lang>/Dockerfile`):
//! its Dockerfile, its base image (the `BASE_IMAGE` build argument), the pkgrun sources
//! that make the static binary (`Cargo.toml`, `Cargo.lock`, every crate under `crates/`
//! except [`NOT_IN_PKGRUN`]), and the workspace files it copies: `pkgrun.toml`, for ts the
//! root files that pick the package manager, and the directories of that language's
//! configured packages, walked with the repository's
//! ignore rules (`.gitignore`, `.ignore`, `.dockerignore`). The digest is a SHA-256 over
//! the sorted (role, path, content hash, executable bit) list, so it changes exactly when
//! one of those changes, and not with file times or the order files were read in.
//!
//! This module does no I/O with Docker; `commands::images` runs the builds.

use std::collections::BTreeMap;
use std::fs;
use std::path::{Path, PathBuf};

use anyhow::{bail, Context, Result};
use pkgrun_core::{Config, Lang};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

/// Workspace crates whose sources do not go into pkgrun (a separate service).
pub const NOT_IN_PKGRUN: &[&str] = &["go-registry"];

/// The build argument that names the base image in every Dockerfile.
pub const BASE_ARG: &str = "BASE_IMAGE";

/// Where the inputs of all images are.
#[derive(Debug, Clone)]
pub struct Sources {
    /// The repository with `images/`, `crates/`, `Cargo.toml`, `Cargo.lock`.
    pub repo: PathBuf,
    /// The static pkgrun binary copied into every image.
    pub pkgrun_bin: PathBuf,
    /// Where the staged contexts and the record live (default `<repo>/target/images`).
    pub work_dir: PathBuf,
}

impl Sources {
    pub fn dockerfile(&self, lang: Lang) -> PathBuf {
        self.repo
            .join("images")
            .join(image_name(lang))
            .join("Dockerfile")
    }

    /// The record of the digests last built (written by `images build`).
    pub fn record_path(&self) -> PathBuf {
        self.work_dir.join("built.json")
    }

    /// The staged build context of `lang`'s image.
    pub fn context_dir(&self, lang: Lang) -> PathBuf {
        self.work_dir.join(lang.as_str())
    }
}

/// `package-publisher-<lang>`: the image (and bake target) name.
pub fn image_name(lang: Lang) -> String {
    format!("package-publisher-{lang}")
}

/// One file an image is built from.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct Input {
    /// `dockerfile`, `pkgrun-src` or `workspace`.
    pub role: &'static str,
    /// Path relative to its root (the repository, or the workspace for `workspace`).
    pub rel: String,
    pub abs: PathBuf,
}

/// One image's planned build.
#[derive(Debug, Clone, Serialize)]
pub struct Planned {
    pub language: Lang,
    /// `<registry>/package-publisher-<lang>:<tag>`.
    pub image: String,
    pub base: String,
    /// `sha256:<hex>` of the inputs.
    pub digest: String,
    /// The digest recorded by the last build, if any.
    pub recorded: Option<String>,
    pub changed: bool,
    pub files: usize,
    #[serde(skip)]
    pub inputs: Vec<Input>,
}

/// What `images build` wrote after its last successful builds.
#[derive(Debug, Default, Serialize, Deserialize)]
pub struct Record {
    pub images: BTreeMap<String, RecordedImage>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct RecordedImage {
    pub image: String,
    pub digest: String,
}

impl Record {
    /// The record at `path`; a missing file is an empty record.
    pub fn read(path: &Path) -> Result<Record> {
        match fs::read(path) {
            Ok(bytes) => serde_json::from_slice(&bytes)
                .with_context(|| format!("cannot parse the image record {}", path.display())),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(Record::default()),
            Err(e) => Err(e).with_context(|| format!("cannot read {}", path.display())),
        }
    }

    /// Writes the record atomically (temp file + rename).
    pub fn write(&self, path: &Path) -> Result<()> {
        let mut text = serde_json::to_vec_pretty(self)?;
        text.push(b'\n');
        pkgrun_core::state::write_atomically(path, &text)
            .with_context(|| format!("cannot write the image record {}", path.display()))
    }
}

/// Plans `lang`'s image: its inputs, their digest, and whether the record differs.
pub fn plan(
    sources: &Sources,
    config: &Config,
    lang: Lang,
    image: String,
    base_override: Option<&str>,
    record: &Record,
) -> Result<Planned> {
    let dockerfile = sources.dockerfile(lang);
    let text = fs::read_to_string(&dockerfile)
        .with_context(|| format!("cannot read the Dockerfile {}", dockerfile.display()))?;
    let base = match base_override {
        Some(b) => b.to_string(),
        None => default_base(&text).with_context(|| {
            format!(
                "{} has no `ARG {BASE_ARG}=<image>` default",
                dockerfile.display()
            )
        })?,
    };
    let mut inputs = vec![Input {
        role: "dockerfile",
        rel: "Dockerfile".into(),
        abs: dockerfile,
    }];
    inputs.extend(pkgrun_inputs(&sources.repo)?);
    inputs.extend(workspace_inputs(config, lang)?);
    inputs.sort();
    let digest = digest(&base, &inputs)?;
    let recorded = record.images.get(lang.as_str()).map(|r| r.digest.clone());
    Ok(Planned {
        language: lang,
        changed: recorded.as_deref() != Some(digest.as_str()),
        image,
        base,
        digest,
        recorded,
        files: inputs.len(),
        inputs,
    })
}

/// The default of `ARG BASE_IMAGE=<image>` in a Dockerfile.
pub fn default_base(dockerfile: &str) -> Option<String> {
    dockerfile.lines().find_map(|line| {
        let rest = line.trim().strip_prefix("ARG ")?.trim();
        let value = rest.strip_prefix(BASE_ARG)?.strip_prefix('=')?;
        Some(value.trim().trim_matches('"').to_string()).filter(|v| !v.is_empty())
    })
}

/// `Cargo.toml`, `Cargo.lock` and the crates that make pkgrun.
fn pkgrun_inputs(repo: &Path) -> Result<Vec<Input>> {
    let mut out = Vec::new();
    for name in ["Cargo.toml", "Cargo.lock"] {
        let abs = repo.join(name);
        if !abs.is_file() {
            bail!(
                "{} not found: `--repo` must name the pkgrun source repository",
                abs.display()
            );
        }
        out.push(Input {
            role: "pkgrun-src",
            rel: name.into(),
            abs,
        });
    }
    let crates = repo.join("crates");
    for rel in walk(repo, &crates, &["target"])? {
        let first = rel
            .strip_prefix("crates/")
            .and_then(|r| r.split('/').next());
        if first.is_some_and(|c| NOT_IN_PKGRUN.contains(&c)) {
            continue;
        }
        out.push(Input {
            role: "pkgrun-src",
            abs: repo.join(&rel),
            rel,
        });
    }
    Ok(out)
}

/// Workspace-root files that decide how pkgrun builds a language's packages: for ts, the
/// package manager (a pnpm workspace is built with pnpm). Copied when present.
fn root_files(lang: Lang) -> &'static [&'static str] {
    match lang {
        Lang::Ts => &[
            "package.json",
            "pnpm-workspace.yaml",
            "pnpm-lock.yaml",
            "package-lock.json",
        ],
        Lang::Go | Lang::Python => &[],
    }
}

/// `pkgrun.toml`, the root files of [`root_files`] and the directories of `lang`'s
/// packages, relative to the workspace.
pub fn workspace_inputs(config: &Config, lang: Lang) -> Result<Vec<Input>> {
    let root = config.root();
    let mut out = vec![Input {
        role: "workspace",
        rel: rel_path(root, config.path())?,
        abs: config.path().to_path_buf(),
    }];
    for name in root_files(lang) {
        let abs = root.join(name);
        if abs.is_file() {
            out.push(Input {
                role: "workspace",
                rel: (*name).to_string(),
                abs,
            });
        }
    }
    let section = config
        .section(lang)
        .with_context(|| format!("{lang} is not configured in {}", config.path().display()))?;
    for package in &section.packages {
        for rel in walk(root, &package.dir, pkgrun_lang::skipped_dirs(lang))? {
            out.push(Input {
                role: "workspace",
                abs: root.join(&rel),
                rel,
            });
        }
    }
    Ok(out)
}

/// Files under `dir` (relative to `root`, `/`-separated), honouring the ignore files of
/// `root` and below; hidden files count, `.git` does not.
/// The files of `dir` that go into an image: the same walk publishing uses for a package
/// (ignore files, VCS and `skip_dirs` left out), plus `.dockerignore` files.
fn walk(root: &Path, dir: &Path, skip_dirs: &[&str]) -> Result<Vec<String>> {
    let mut files = Vec::new();
    let mut walk = pkgrun_lang::workspace::package_walk(dir, skip_dirs);
    walk.add_custom_ignore_filename(".dockerignore");
    for entry in walk.build() {
        let entry = entry.with_context(|| format!("cannot walk {}", dir.display()))?;
        if entry.file_type().is_some_and(|t| t.is_file()) {
            files.push(rel_path(root, entry.path())?);
        }
    }
    Ok(files)
}

fn rel_path(root: &Path, path: &Path) -> Result<String> {
    let rel = path.strip_prefix(root).with_context(|| {
        format!(
            "{} is outside the workspace {}",
            path.display(),
            root.display()
        )
    })?;
    Ok(rel
        .components()
        .map(|c| c.as_os_str().to_string_lossy())
        .collect::<Vec<_>>()
        .join("/"))
}

/// SHA-256 over the base and every (role, path, content, executable bit).
fn digest(base: &str, inputs: &[Input]) -> Result<String> {
    let mut h = Sha256::new();
    h.update(format!("base\0{base}\n"));
    for input in inputs {
        let bytes =
            fs::read(&input.abs).with_context(|| format!("cannot read {}", input.abs.display()))?;
        let exec = is_executable(&input.abs)?;
        h.update(format!(
            "{}\0{}\0{}\0{}\n",
            input.role,
            input.rel,
            hex::encode(Sha256::digest(&bytes)),
            u8::from(exec)
        ));
    }
    Ok(format!("sha256:{}", hex::encode(h.finalize())))
}

#[cfg(unix)]
fn is_executable(path: &Path) -> Result<bool> {
    use std::os::unix::fs::PermissionsExt;
    let meta = fs::metadata(path).with_context(|| format!("cannot stat {}", path.display()))?;
    Ok(meta.permissions().mode() & 0o111 != 0)
}

#[cfg(not(unix))]
fn is_executable(_: &Path) -> Result<bool> {
    Ok(false)
}

/// Stages `planned`'s build context in `dir` (emptied first): `Dockerfile`, `pkgrun`
/// and `workspace/` with exactly the planned workspace files.
pub fn stage(sources: &Sources, planned: &Planned, dir: &Path) -> Result<()> {
    if dir.exists() {
        fs::remove_dir_all(dir).with_context(|| format!("cannot empty {}", dir.display()))?;
    }
    fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
    copy(
        &sources.dockerfile(planned.language),
        &dir.join("Dockerfile"),
    )?;
    if !sources.pkgrun_bin.is_file() {
        bail!(
            "the static pkgrun binary {} does not exist",
            sources.pkgrun_bin.display()
        );
    }
    copy(&sources.pkgrun_bin, &dir.join("pkgrun"))?;
    for input in planned.inputs.iter().filter(|i| i.role == "workspace") {
        copy(&input.abs, &dir.join("workspace").join(&input.rel))?;
    }
    Ok(())
}

/// Copies a file with its permissions, creating parent directories.
fn copy(from: &Path, to: &Path) -> Result<()> {
    if let Some(parent) = to.parent() {
        fs::create_dir_all(parent)
            .with_context(|| format!("cannot create {}", parent.display()))?;
    }
    fs::copy(from, to)
        .with_context(|| format!("cannot copy {} to {}", from.display(), to.display()))?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_base_reads_the_arg() {
        let text = "# c\nARG BASE_IMAGE=golang:1.26-alpine\nFROM ${BASE_IMAGE}\n";
        assert_eq!(default_base(text).as_deref(), Some("golang:1.26-alpine"));
        assert_eq!(default_base("ARG BASE_IMAGE\nFROM x\n"), None);
        assert_eq!(default_base("ARG BASE_IMAGE_X=y\n"), None);
    }

    fn input(dir: &Path, rel: &str, text: &str) -> Input {
        let abs = dir.join(rel);
        fs::write(&abs, text).unwrap();
        Input {
            role: "workspace",
            rel: rel.into(),
            abs,
        }
    }

    #[test]
    fn digest_changes_with_content_path_base_and_mode_only() {
        let dir = tempfile::tempdir().unwrap();
        let a = vec![input(dir.path(), "a", "1"), input(dir.path(), "b", "2")];
        let d = digest("base:1", &a).unwrap();
        assert_eq!(d, digest("base:1", &a).unwrap(), "stable");
        assert_ne!(d, digest("base:2", &a).unwrap(), "base counts");
        fs::write(dir.path().join("b"), "3").unwrap();
        let changed = digest("base:1", &a).unwrap();
        assert_ne!(d, changed, "content counts");
        let mut renamed = a.clone();
        renamed[1].rel = "c".into();
        assert_ne!(changed, digest("base:1", &renamed).unwrap(), "path counts");
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            fs::set_permissions(dir.path().join("b"), fs::Permissions::from_mode(0o755)).unwrap();
            assert_ne!(
                changed,
                digest("base:1", &a).unwrap(),
                "executable bit counts"
            );
        }
    }

    #[test]
    fn walk_honours_ignore_files_and_skips_git() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        for (rel, text) in [
            (".gitignore", "node_modules/\n"),
            ("pkg/.dockerignore", "*.log\n"),
            ("pkg/src/a.go", "x"),
            ("pkg/.hidden", "x"),
            ("pkg/build.log", "x"),
            ("pkg/node_modules/m/index.js", "x"),
            ("pkg/dist/out.js", "x"),
            ("pkg/.git/HEAD", "x"),
        ] {
            let p = root.join(rel);
            fs::create_dir_all(p.parent().unwrap()).unwrap();
            fs::write(p, text).unwrap();
        }
        let mut files = walk(root, &root.join("pkg"), &["dist"]).unwrap();
        files.sort();
        assert_eq!(files, ["pkg/.dockerignore", "pkg/.hidden", "pkg/src/a.go"]);
    }

    #[test]
    fn record_round_trips_atomically() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("sub/built.json");
        assert!(Record::read(&path).unwrap().images.is_empty());
        let mut r = Record::default();
        r.images.insert(
            "go".into(),
            RecordedImage {
                image: "r/package-publisher-go:dev".into(),
                digest: "sha256:ab".into(),
            },
        );
        r.write(&path).unwrap();
        assert_eq!(
            Record::read(&path).unwrap().images["go"].digest,
            "sha256:ab"
        );
        fs::write(&path, "{").unwrap();
        let err = format!("{:#}", Record::read(&path).unwrap_err());
        assert!(err.contains("built.json"), "{err}");
    }
}
