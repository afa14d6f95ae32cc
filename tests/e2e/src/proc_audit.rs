//! Watching what a process's descendants hold: [`ProcAudit`] polls `/proc` while a
//! command runs and records, for every descendant it sees, its argument vector and
//! which of a set of secret values appear in its environment or arguments.
//!
//! A descendant still running the root's own executable is skipped: it is a child
//! between `fork` and `exec`, still a copy of the root (its environment is the root's),
//! not the program it is about to become.
//!
//! Polling can miss a child that lives for less than one tick (a few milliseconds); the
//! tools whose environment matters (go, uv, pip, npm, node) live far longer, and a test
//! asserts that the audit saw each of them, so a blind audit fails instead of passing.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::Duration;

/// A secret found where it must not be.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct Sighting {
    pub pid: u32,
    /// The process's argv\[0\] (and first arguments), with the secret values masked.
    pub command: String,
    /// The secret's name (as given to [`ProcAudit::start`]).
    pub secret: String,
    /// `environ` or `cmdline`.
    pub place: &'static str,
}

/// What the audit saw.
#[derive(Debug, Default, Clone)]
pub struct AuditReport {
    /// Every descendant's argv\[0\] file name, e.g. `go`, `npm`, `python3`.
    pub programs: BTreeSet<String>,
    /// How many distinct descendant processes were inspected.
    pub processes: usize,
    pub sightings: BTreeSet<Sighting>,
}

impl AuditReport {
    /// Whether some descendant ran a program called one of `names`.
    pub fn saw_any(&self, names: &[&str]) -> bool {
        names.iter().any(|n| self.programs.contains(*n))
    }
}

/// A running audit of `root`'s descendants; [`ProcAudit::finish`] stops it.
pub struct ProcAudit {
    stop: Arc<AtomicBool>,
    report: Arc<Mutex<AuditReport>>,
    thread: Option<JoinHandle<()>>,
}

impl ProcAudit {
    /// Starts polling the descendants of `root` (not `root` itself) every few
    /// milliseconds for the values of `secrets` (name → value).
    pub fn start(root: u32, secrets: BTreeMap<String, String>) -> ProcAudit {
        let stop = Arc::new(AtomicBool::new(false));
        let report = Arc::new(Mutex::new(AuditReport::default()));
        let thread = {
            let (stop, report) = (stop.clone(), report.clone());
            let root_exe = std::fs::read_link(format!("/proc/{root}/exe")).ok();
            std::thread::spawn(move || {
                let mut seen = BTreeSet::new();
                while !stop.load(Ordering::Relaxed) {
                    let mut report = report.lock().expect("audit lock");
                    for pid in descendants(root) {
                        let exe = std::fs::read_link(format!("/proc/{pid}/exe")).ok();
                        if exe.is_some() && exe == root_exe {
                            continue;
                        }
                        inspect(pid, &secrets, &mut report, &mut seen);
                    }
                    drop(report);
                    std::thread::sleep(Duration::from_millis(10));
                }
            })
        };
        ProcAudit {
            stop,
            report,
            thread: Some(thread),
        }
    }

    /// Stops polling and returns what was seen.
    pub fn finish(mut self) -> AuditReport {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
        let report = self.report.lock().expect("audit lock").clone();
        report
    }
}

impl Drop for ProcAudit {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
    }
}

/// Every live process whose parent chain reaches `root`.
fn descendants(root: u32) -> Vec<u32> {
    let mut children: HashMap<u32, Vec<u32>> = HashMap::new();
    let Ok(entries) = std::fs::read_dir("/proc") else {
        return Vec::new();
    };
    for entry in entries.flatten() {
        let Some(pid) = entry
            .file_name()
            .to_str()
            .and_then(|s| s.parse::<u32>().ok())
        else {
            continue;
        };
        if let Some(ppid) = parent_of(pid) {
            children.entry(ppid).or_default().push(pid);
        }
    }
    let mut out = Vec::new();
    let mut queue = vec![root];
    while let Some(p) = queue.pop() {
        for &c in children.get(&p).map(Vec::as_slice).unwrap_or_default() {
            out.push(c);
            queue.push(c);
        }
    }
    out
}

/// The parent pid from `/proc/<pid>/stat` (the field after the `(comm)`).
fn parent_of(pid: u32) -> Option<u32> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let after = &stat[stat.rfind(')')? + 1..];
    after.split_whitespace().nth(1)?.parse().ok()
}

fn inspect(
    pid: u32,
    secrets: &BTreeMap<String, String>,
    report: &mut AuditReport,
    seen: &mut BTreeSet<(u32, Vec<u8>)>,
) {
    let Ok(cmdline) = std::fs::read(format!("/proc/{pid}/cmdline")) else {
        return;
    };
    let environ = std::fs::read(format!("/proc/{pid}/environ")).unwrap_or_default();
    // A pid that exec'd is a new program: count by pid and arguments. Every tick
    // re-reads both files (a process may exec with another environment).
    seen.insert((pid, cmdline.clone()));
    report.processes = seen.len();
    let args: Vec<String> = cmdline
        .split(|b| *b == 0)
        .filter(|a| !a.is_empty())
        .map(|a| String::from_utf8_lossy(a).into_owned())
        .collect();
    if let Some(first) = args.first() {
        let name = Path::new(first)
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        report.programs.insert(name);
    }
    let mut command: String = args.iter().take(4).cloned().collect::<Vec<_>>().join(" ");
    for value in secrets.values() {
        command = command.replace(value.as_str(), "[SECRET]");
    }
    for (name, value) in secrets {
        for (place, bytes) in [("environ", &environ), ("cmdline", &cmdline)] {
            if contains(bytes, value.as_bytes()) {
                report.sightings.insert(Sighting {
                    pid,
                    command: command.clone(),
                    secret: name.clone(),
                    place,
                });
            }
        }
    }
}

/// Whether `needle` occurs in `haystack`.
pub fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    !needle.is_empty() && haystack.windows(needle.len()).any(|w| w == needle)
}

/// Every file under `root` whose bytes contain one of `secrets`' values, as
/// `(path, secret name)`.
pub fn files_holding(root: &Path, secrets: &BTreeMap<String, String>) -> Vec<(String, String)> {
    let mut out = Vec::new();
    let mut stack = vec![root.to_path_buf()];
    while let Some(dir) = stack.pop() {
        let Ok(entries) = std::fs::read_dir(&dir) else {
            continue;
        };
        for entry in entries.flatten() {
            let path = entry.path();
            let Ok(kind) = entry.file_type() else {
                continue;
            };
            if kind.is_dir() {
                stack.push(path);
            } else if kind.is_file() {
                let bytes = std::fs::read(&path).unwrap_or_default();
                for (name, value) in secrets {
                    if contains(&bytes, value.as_bytes()) {
                        out.push((path.display().to_string(), name.clone()));
                    }
                }
            }
        }
    }
    out
}
