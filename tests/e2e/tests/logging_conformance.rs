//! Conformance of the log emitters (issue 9; README "Log format"): the `pkgrun` binary
//! (`pkgrun log` / `pkgrun step`) and the adapters in `scripts/lib/` (`logging.sh` under
//! bash and under `sh`, `logging.mjs`, `logging.py` imported and as a command) are driven
//! through the same scenario — log lines of every level, a step that succeeds with hidden
//! output, a step that fails with captured output, a warning, a multi-line message — with
//! VERBOSE unset, `0`, `1`, `True`, and with LOG_PREFIX set. Their stderr must be
//! byte-identical once the timestamp and the duration number are masked, and equal to a
//! golden expectation written out here, so they can't drift away from the PLAN.md
//! "Log line format" together. Also: no ANSI escapes, nothing on stdout, exit codes
//! propagate (`exit 3` -> 3, SIGKILL -> 137), stdout/stderr lines keep their write order.
//!
//! Real programs only: the built `pkgrun`, `bash`, `sh`, `node`, `python3`. Each adapter is
//! loaded the way scripts/lib/README.md documents it (bash `source`, Node `import` of the
//! file URL, Python `importlib` from the file path — the file name shadows stdlib `logging`).
//!
//! `pkgrun` is taken from the target directory this test was built into (like assert_cmd's
//! `cargo_bin`), so build it first: `cargo build --workspace --bins`.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

// ---------------------------------------------------------------------------------------
// The scenario
// ---------------------------------------------------------------------------------------

// Each step script writes to ONE stream, so its expected output does not depend on how
// an emitter merges stdout and stderr; the merge order itself has its own test
// (`stdout_and_stderr_lines_keep_arrival_order`).

/// Succeeds, with stderr output that must stay hidden unless VERBOSE is on.
const OK_SCRIPT: &str = "echo compiling >&2; echo linking >&2";

/// Fails with exit status 3 after stdout output that exercises the line rules: an empty
/// line, leading spaces kept, a CRLF line (CR stripped), a last line without a newline.
const FAIL_SCRIPT: &str = "echo out 1; echo; echo '  indented'; printf 'crlf line\\r\\n'; \
     printf 'last line without newline'; exit 3";

/// Killed by SIGKILL after a line on stderr: the reason must be `killed by signal 9`.
const KILL_SCRIPT: &str = "echo about to die >&2; kill -9 $$";

/// stdout and stderr written alternately, without pauses: one sequence of writes by the
/// child, so the log must show them in that order (PLAN.md: "stdout+stderr interleaved in
/// arrival order").
const INTERLEAVED_SCRIPT: &str = "echo out 1; echo err 1 >&2; echo out 2; echo err 2 >&2; exit 1";

enum Action {
    Log(&'static str, &'static str),
    Step(&'static str, &'static str),
}

const SCENARIO: &[Action] = &[
    Action::Log("info", "scenario start: 2 steps"),
    Action::Step("build ok", OK_SCRIPT),
    Action::Step("build broken", FAIL_SCRIPT),
    Action::Log("step", "report"),
    Action::Log("ok", "report written"),
    Action::Log("fail", "1 of 2 steps failed"),
    Action::Log("warn", "token file is world-readable"),
    // Several lines: one log line each (trailing newline adds none, CRs dropped).
    Action::Log("info", "two\r\nlines\n"),
];

const KILL_SCENARIO: &[Action] = &[Action::Step("doomed", KILL_SCRIPT)];

/// The interleaving step several times: a merge that depends on thread scheduling gets the
/// order right now and then, but not five times in a row.
const ORDER_SCENARIO: &[Action] = &[
    Action::Step("interleave 1", INTERLEAVED_SCRIPT),
    Action::Step("interleave 2", INTERLEAVED_SCRIPT),
    Action::Step("interleave 3", INTERLEAVED_SCRIPT),
    Action::Step("interleave 4", INTERLEAVED_SCRIPT),
    Action::Step("interleave 5", INTERLEAVED_SCRIPT),
];

/// What every emitter must print (masked) for [`SCENARIO`] with VERBOSE unset:
/// the successful step's output hidden, the failed step's output replayed before `fail`.
const GOLDEN_QUIET: &str = "\
[{P}] <TS> info scenario start: 2 steps
[{P}] <TS> step build ok
[{P}] <TS> ok   build ok (took <D>s)
[{P}] <TS> step build broken
[{P}] <TS> info | out 1
[{P}] <TS> info | 
[{P}] <TS> info |   indented
[{P}] <TS> info | crlf line
[{P}] <TS> info | last line without newline
[{P}] <TS> fail build broken (took <D>s): exit status 3
[{P}] <TS> step report
[{P}] <TS> ok   report written
[{P}] <TS> fail 1 of 2 steps failed
[{P}] <TS> warn token file is world-readable
[{P}] <TS> info two
[{P}] <TS> info lines
";

/// [`SCENARIO`] with VERBOSE=1: all child output streamed, and not repeated on failure.
const GOLDEN_VERBOSE: &str = "\
[{P}] <TS> info scenario start: 2 steps
[{P}] <TS> step build ok
[{P}] <TS> info | compiling
[{P}] <TS> info | linking
[{P}] <TS> ok   build ok (took <D>s)
[{P}] <TS> step build broken
[{P}] <TS> info | out 1
[{P}] <TS> info | 
[{P}] <TS> info |   indented
[{P}] <TS> info | crlf line
[{P}] <TS> info | last line without newline
[{P}] <TS> fail build broken (took <D>s): exit status 3
[{P}] <TS> step report
[{P}] <TS> ok   report written
[{P}] <TS> fail 1 of 2 steps failed
[{P}] <TS> warn token file is world-readable
[{P}] <TS> info two
[{P}] <TS> info lines
";

const GOLDEN_KILLED: &str = "\
[{P}] <TS> step doomed
[{P}] <TS> info | about to die
[{P}] <TS> fail doomed (took <D>s): killed by signal 9
";

/// [`ORDER_SCENARIO`], quiet or verbose alike: every step shows its lines in write order.
fn golden_order() -> String {
    (1..=ORDER_SCENARIO.len())
        .map(|i| {
            format!(
                "[{{P}}] <TS> step interleave {i}\n\
                 [{{P}}] <TS> info | out 1\n\
                 [{{P}}] <TS> info | err 1\n\
                 [{{P}}] <TS> info | out 2\n\
                 [{{P}}] <TS> info | err 2\n\
                 [{{P}}] <TS> fail interleave {i} (took <D>s): exit status 1\n"
            )
        })
        .collect()
}

const DEFAULT_PREFIX: &str = "packages:pkgrun";

// ---------------------------------------------------------------------------------------
// Tests
// ---------------------------------------------------------------------------------------

#[test]
fn quiet_run_hides_successful_output_and_replays_failed_output() {
    let golden = GOLDEN_QUIET.replace("{P}", DEFAULT_PREFIX);
    assert_conformance(SCENARIO, &Env::default(), &golden, 3, &ALL_EMITTERS);
}

#[test]
fn verbose_zero_is_not_verbose() {
    // PLAN.md: "Hidden unless VERBOSE=1"; 0 must not turn streaming on.
    let env = Env {
        verbose: Some("0"),
        prefix: None,
    };
    let golden = GOLDEN_QUIET.replace("{P}", DEFAULT_PREFIX);
    assert_conformance(SCENARIO, &env, &golden, 3, &ALL_EMITTERS);
}

#[test]
fn verbose_true_is_verbose() {
    // pkgrun also accepts true/yes/on (any case); the adapters follow it.
    let env = Env {
        verbose: Some("True"),
        prefix: None,
    };
    let golden = GOLDEN_VERBOSE.replace("{P}", DEFAULT_PREFIX);
    assert_conformance(SCENARIO, &env, &golden, 3, &ALL_EMITTERS);
}

#[test]
fn verbose_run_streams_child_output_and_does_not_repeat_it() {
    let env = Env {
        verbose: Some("1"),
        prefix: None,
    };
    let golden = GOLDEN_VERBOSE.replace("{P}", DEFAULT_PREFIX);
    assert_conformance(SCENARIO, &env, &golden, 3, &ALL_EMITTERS);
}

#[test]
fn log_prefix_sets_the_scope() {
    let env = Env {
        verbose: None,
        prefix: Some("packages:go-publish"),
    };
    let golden = GOLDEN_QUIET.replace("{P}", "packages:go-publish");
    assert_conformance(SCENARIO, &env, &golden, 3, &ALL_EMITTERS);
}

#[test]
fn child_killed_by_signal_is_reported_with_its_number() {
    // Not run under dash: sh can only see status 137, and dash writes its own "Killed"
    // notice into the captured output (documented in logging.sh).
    let emitters = [
        Emitter::Pkgrun,
        Emitter::Bash,
        Emitter::Node,
        Emitter::Python,
        Emitter::PythonCli,
    ];
    let golden = GOLDEN_KILLED.replace("{P}", DEFAULT_PREFIX);
    assert_conformance(KILL_SCENARIO, &Env::default(), &golden, 128 + 9, &emitters);
}

#[test]
fn stdout_and_stderr_lines_keep_arrival_order() {
    let golden = golden_order().replace("{P}", DEFAULT_PREFIX);
    // Hidden then replayed on failure, and streamed live.
    for verbose in [None, Some("1")] {
        let env = Env {
            verbose,
            prefix: None,
        };
        assert_conformance(ORDER_SCENARIO, &env, &golden, 1, &ALL_EMITTERS);
    }
}

#[test]
fn mask_only_accepts_the_contract_shapes() {
    // The golden comparison is only as strict as the mask: a wrong timestamp or duration
    // shape must stay visible (unmasked) so the comparison fails.
    let ok = "[p] 2026-11-27T22:10:05Z ok   build (took 3.2s)\n";
    assert_eq!(mask(ok), "[p] <TS> ok   build (took <D>s)\n");
    for bad in [
        "[p] 2026-11-27T22:10:05.123Z info x\n", // fractional seconds
        "[p] 2026-11-27T22:10:05+00:00 info x\n", // offset instead of Z
        "[p] 2026-11-27 22:10:05Z info x\n",     // space instead of T
    ] {
        assert!(
            !mask(bad).contains("<TS>"),
            "masked a bad timestamp: {bad:?}"
        );
    }
    for bad in ["(took 3s)", "(took 3.25s)", "(took .2s)", "(took 3.2 s)"] {
        let line = format!("[p] 2026-11-27T22:10:05Z ok   x {bad}\n");
        assert!(
            !mask(&line).contains("<D>"),
            "masked a bad duration: {bad:?}"
        );
    }
}

// ---------------------------------------------------------------------------------------
// Emitters
// ---------------------------------------------------------------------------------------

#[derive(Clone, Copy, Debug)]
enum Emitter {
    /// `pkgrun log <level> <msg>` / `pkgrun step --name <n> -- <cmd…>`, one process each.
    Pkgrun,
    /// `logging.sh` sourced by bash.
    Bash,
    /// `logging.sh` sourced by `sh` (dash here): keeps the adapter POSIX.
    PosixSh,
    /// `logging.mjs` imported by its file URL.
    Node,
    /// `logging.py` loaded with importlib from its path.
    Python,
    /// `python3 scripts/lib/logging.py log …` / `… step <name> -- …`, one process each.
    PythonCli,
}

const ALL_EMITTERS: [Emitter; 6] = [
    Emitter::Pkgrun,
    Emitter::Bash,
    Emitter::PosixSh,
    Emitter::Node,
    Emitter::Python,
    Emitter::PythonCli,
];

#[derive(Default)]
struct Env {
    verbose: Option<&'static str>,
    prefix: Option<&'static str>,
}

/// What one emitter printed for a whole scenario.
struct Run {
    stderr: String,
    stdout: String,
    /// The scenario's exit code: the first failing step's code (pkgrun: of its `step` call).
    code: i32,
}

fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../..")
        .canonicalize()
        .expect("repo root")
}

fn lib_file(name: &str) -> PathBuf {
    repo_root().join("scripts/lib").join(name)
}

/// `<target>/<profile>/pkgrun` next to this test executable (`<target>/<profile>/deps/…`),
/// the way assert_cmd's `cargo_bin` finds binaries of the workspace.
fn pkgrun_bin() -> PathBuf {
    let exe = std::env::current_exe().expect("current_exe");
    let mut dir = exe
        .parent()
        .expect("test executable has a directory")
        .to_path_buf();
    if dir.ends_with("deps") {
        dir.pop();
    }
    let bin = dir.join(format!("pkgrun{}", std::env::consts::EXE_SUFFIX));
    assert!(
        bin.is_file(),
        "{} not found: run `cargo build --workspace --bins` first (with the same \
         CARGO_TARGET_DIR as this test)",
        bin.display()
    );
    bin
}

/// A command with a clean logging environment: only what the case sets.
fn command(program: impl AsRef<std::ffi::OsStr>, env: &Env) -> Command {
    let mut cmd = Command::new(program);
    cmd.env_remove("VERBOSE")
        .env_remove("LOG_PREFIX")
        .env_remove("NO_COLOR")
        .stdin(std::process::Stdio::null());
    if let Some(v) = env.verbose {
        cmd.env("VERBOSE", v);
    }
    if let Some(p) = env.prefix {
        cmd.env("LOG_PREFIX", p);
    }
    cmd
}

fn output(cmd: &mut Command, what: &str) -> Output {
    cmd.output()
        .unwrap_or_else(|e| panic!("cannot run {what} ({cmd:?}): {e}"))
}

fn text(bytes: Vec<u8>, what: &str) -> String {
    String::from_utf8(bytes).unwrap_or_else(|e| panic!("{what}: output is not UTF-8: {e}"))
}

fn exit_code(out: &Output, what: &str) -> i32 {
    out.status
        .code()
        .unwrap_or_else(|| panic!("{what} itself was killed: {:?}", out.status))
}

impl Emitter {
    fn run(self, scenario: &[Action], env: &Env) -> Run {
        match self {
            Emitter::Pkgrun => run_pkgrun(scenario, env),
            Emitter::PythonCli => run_python_cli(scenario, env),
            Emitter::Bash => run_script(command("bash", env), sh_driver(scenario), self),
            Emitter::PosixSh => run_script(command("sh", env), sh_driver(scenario), self),
            Emitter::Node => {
                let mut cmd = command("node", env);
                cmd.args(["--input-type=module", "-e", &node_driver(scenario)]);
                run_script(cmd, Vec::new(), self)
            }
            Emitter::Python => {
                let mut cmd = command("python3", env);
                cmd.args(["-c", &python_driver(scenario)]);
                run_script(cmd, Vec::new(), self)
            }
        }
    }
}

/// `pkgrun log <level> <msg>` / `pkgrun step --name <n> -- sh -c <script>`, one process per
/// action.
fn run_pkgrun(scenario: &[Action], env: &Env) -> Run {
    let bin = pkgrun_bin();
    run_per_action(scenario, "pkgrun", |action| {
        let mut cmd = command(&bin, env);
        match action {
            Action::Log(level, msg) => cmd.args(["log", level, msg]),
            Action::Step(name, script) => {
                cmd.args(["step", "--name", name, "--", "sh", "-c", script])
            }
        };
        cmd
    })
}

/// The command-line form of logging.py (`python3 logging.py log …` / `step <n> -- …`),
/// which must also keep the stdlib `logging` unshadowed although Python puts scripts/lib
/// first on sys.path.
fn run_python_cli(scenario: &[Action], env: &Env) -> Run {
    let script = lib_file("logging.py");
    run_per_action(scenario, "logging.py CLI", |action| {
        let mut cmd = command("python3", env);
        cmd.arg(&script);
        match action {
            Action::Log(level, msg) => cmd.args(["log", level, msg]),
            Action::Step(name, sh) => cmd.args(["step", name, "--", "sh", "-c", sh]),
        };
        cmd
    })
}

/// Runs one process per action and concatenates their output; `log` must exit 0, and the
/// scenario's code is the first non-zero `step` exit code.
fn run_per_action(scenario: &[Action], what: &str, build: impl Fn(&Action) -> Command) -> Run {
    let mut run = Run {
        stderr: String::new(),
        stdout: String::new(),
        code: 0,
    };
    for action in scenario {
        let mut cmd = build(action);
        let out = output(&mut cmd, what);
        let code = exit_code(&out, what);
        if let Action::Log(..) = action {
            assert_eq!(
                code,
                0,
                "{cmd:?} exit code; stderr:\n{}",
                lossy(&out.stderr)
            );
        }
        if run.code == 0 {
            run.code = code;
        }
        run.stderr.push_str(&text(out.stderr, what));
        run.stdout.push_str(&text(out.stdout, what));
    }
    run
}

/// `sh -c <driver> sh <path of logging.sh>`: the adapter path travels as `$1`, the step
/// scripts as single-quoted words.
fn sh_driver(scenario: &[Action]) -> Vec<String> {
    let mut s = String::from(". \"$1\"\nrc=0\n");
    for action in scenario {
        match action {
            Action::Log(level, msg) => s.push_str(&format!("log_{level} {}\n", sh_quote(msg))),
            Action::Step(name, script) => s.push_str(&format!(
                "run_step {} -- sh -c {}\nr=$?; [ \"$rc\" -eq 0 ] && rc=$r\n",
                sh_quote(name),
                sh_quote(script)
            )),
        }
    }
    s.push_str("exit \"$rc\"\n");
    vec![
        "-c".into(),
        s,
        "sh".into(),
        lib_file("logging.sh").display().to_string(),
    ]
}

fn node_driver(scenario: &[Action]) -> String {
    let url = file_url(&lib_file("logging.mjs"));
    let mut s = format!(
        "import {{ logStep, logInfo, logOk, logWarn, logFail, runStep }} from {url:?};\n\
         const log = {{ step: logStep, info: logInfo, ok: logOk, warn: logWarn, fail: logFail }};\n\
         let rc = 0, r;\n"
    );
    for action in scenario {
        match action {
            Action::Log(level, msg) => s.push_str(&format!("log.{level}({msg:?});\n")),
            Action::Step(name, script) => s.push_str(&format!(
                "r = await runStep({name:?}, \"sh\", [\"-c\", {script:?}]); if (rc === 0) rc = r;\n"
            )),
        }
    }
    s.push_str("process.exitCode = rc;\n");
    s
}

/// Loads logging.py exactly as its docstring and scripts/lib/README.md say, and checks the
/// stdlib `logging` is still the real one afterwards.
fn python_driver(scenario: &[Action]) -> String {
    let path = lib_file("logging.py").display().to_string();
    let mut s = format!(
        "import importlib.util\n\
         _spec = importlib.util.spec_from_file_location(\"pkgrun_logging\", {path:?})\n\
         log = importlib.util.module_from_spec(_spec)\n\
         _spec.loader.exec_module(log)\n\
         import logging, sys\n\
         assert hasattr(logging, \"getLogger\"), \"stdlib logging is shadowed\"\n\
         rc = 0\n"
    );
    for action in scenario {
        match action {
            Action::Log(level, msg) => s.push_str(&format!("log.log_{level}({msg:?})\n")),
            Action::Step(name, script) => s.push_str(&format!(
                "r = log.run_step({name:?}, [\"sh\", \"-c\", {script:?}])\nrc = rc or r\n"
            )),
        }
    }
    s.push_str("sys.exit(rc)\n");
    s
}

fn run_script(mut cmd: Command, args: Vec<String>, who: Emitter) -> Run {
    cmd.args(args);
    let what = format!("{who:?} driver");
    let out = output(&mut cmd, &what);
    Run {
        code: exit_code(&out, &what),
        stderr: text(out.stderr, &what),
        stdout: text(out.stdout, &what),
    }
}

fn sh_quote(s: &str) -> String {
    format!("'{}'", s.replace('\'', "'\\''"))
}

/// `file://` URL of an absolute path, percent-encoding what a URL path can't hold.
fn file_url(path: &Path) -> String {
    let mut url = String::from("file://");
    for b in path.display().to_string().bytes() {
        match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'/' | b'-' | b'_' | b'.' | b'~' => {
                url.push(b as char)
            }
            _ => url.push_str(&format!("%{b:02X}")),
        }
    }
    url
}

fn lossy(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

// ---------------------------------------------------------------------------------------
// Masking and comparison
// ---------------------------------------------------------------------------------------

/// Replaces, on each line, the timestamp after `] ` with `<TS>` when it has exactly the
/// contract's shape (`YYYY-MM-DDTHH:MM:SSZ`), and the number in `(took N.Ns)` with `<D>`
/// when it is digits, a dot and exactly one digit. Anything else is left as is, so a shape
/// error shows up in the comparison with the golden.
fn mask(stderr: &str) -> String {
    stderr
        .split_inclusive('\n')
        .map(mask_line)
        .collect::<Vec<_>>()
        .concat()
}

fn mask_line(line: &str) -> String {
    let mut out = line.to_string();
    if let Some(end) = out.find("] ") {
        let ts_start = end + 2;
        if out.starts_with('[') && is_timestamp(out.get(ts_start..ts_start + 21)) {
            out.replace_range(ts_start..ts_start + 20, "<TS>");
        }
    }
    if let Some(pos) = out.find(" (took ") {
        let num_start = pos + " (took ".len();
        let rest = &out[num_start..];
        let int_len = rest.bytes().take_while(u8::is_ascii_digit).count();
        let b = rest.as_bytes();
        if int_len > 0
            && b.get(int_len) == Some(&b'.')
            && b.get(int_len + 1).is_some_and(u8::is_ascii_digit)
            && b.get(int_len + 2..int_len + 4) == Some(b"s)".as_slice())
        {
            out.replace_range(num_start..num_start + int_len + 2, "<D>");
        }
    }
    out
}

/// `YYYY-MM-DDTHH:MM:SSZ` followed by the single space before the level.
fn is_timestamp(s: Option<&str>) -> bool {
    let Some(s) = s else { return false };
    let shape = b"dddd-dd-ddTdd:dd:ddZ ";
    s.len() == shape.len()
        && s.bytes().zip(shape.iter()).all(|(c, &want)| match want {
            b'd' => c.is_ascii_digit(),
            _ => c == want,
        })
}

fn assert_conformance(
    scenario: &[Action],
    env: &Env,
    golden: &str,
    want_code: i32,
    emitters: &[Emitter],
) {
    let mut failures = Vec::new();
    // Emitters grouped by identical masked stderr: byte-identity across all of them means
    // exactly one group.
    let mut groups: Vec<(String, Vec<Emitter>)> = Vec::new();
    for &emitter in emitters {
        let run = emitter.run(scenario, env);
        let masked = mask(&run.stderr);
        match groups.iter_mut().find(|(m, _)| *m == masked) {
            Some((_, members)) => members.push(emitter),
            None => groups.push((masked.clone(), vec![emitter])),
        }
        let mut problems = Vec::new();
        if run.stderr.contains('\u{1b}') {
            problems.push("stderr contains an ANSI escape".to_string());
        }
        if !run.stdout.is_empty() {
            problems.push(format!(
                "stdout is not empty (log lines go to stderr): {:?}",
                run.stdout
            ));
        }
        if run.code != want_code {
            problems.push(format!("exit code {} (want {want_code})", run.code));
        }
        if masked != golden {
            problems.push(format!(
                "masked stderr differs from golden (- golden, + {emitter:?}):\n{}",
                diff(golden, &masked)
            ));
        }
        if !problems.is_empty() {
            failures.push(format!(
                "== {emitter:?}\n{}\n-- raw stderr:\n{}",
                problems.join("\n"),
                run.stderr
            ));
        }
    }
    if groups.len() > 1 {
        let sets: Vec<String> = groups.iter().map(|(_, m)| format!("{m:?}")).collect();
        failures.insert(
            0,
            format!(
                "not byte-identical after masking; groups: {}",
                sets.join(" vs ")
            ),
        );
    }
    assert!(
        failures.is_empty(),
        "log emitters disagree:\n{}",
        failures.join("\n")
    );
}

/// Line-by-line listing of where two texts differ (`-` expected, `+` actual).
fn diff(want: &str, got: &str) -> String {
    // Not `lines()`: it would hide a stray `\r` before the newline.
    let w: Vec<&str> = want.split_inclusive('\n').collect();
    let g: Vec<&str> = got.split_inclusive('\n').collect();
    let mut out = String::new();
    for i in 0..w.len().max(g.len()) {
        let (a, b) = (w.get(i), g.get(i));
        if a != b {
            out.push_str(&format!("  line {}:\n", i + 1));
            if let Some(a) = a {
                out.push_str(&format!("  - {a:?}\n"));
            }
            if let Some(b) = b {
                out.push_str(&format!("  + {b:?}\n"));
            }
        }
    }
    out
}
