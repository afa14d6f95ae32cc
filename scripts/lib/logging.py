"""scripts/lib/logging.py — pkgrun's log line format (DESIGN §5) for Python scripts.

Python 3.9+, standard library only. Same functions as logging.sh and logging.mjs:

    log_step / log_info / log_ok / log_warn / log_fail(*message)   one line on stderr
    run_step(name, argv, *, verbose=None, prefix=None, cwd=None, env=None) -> exit code

Line: ``[<prefix>] <RFC 3339 UTC, whole seconds> <level padded to 4> <message>``, the same
bytes ``pkgrun log`` / ``pkgrun step`` print. The prefix is LOG_PREFIX (default
packages:pkgrun), read at each call; VERBOSE=1 (or true/yes/on) streams child output live.

IMPORTING: the file is called logging.py, so putting scripts/lib on sys.path (or running a
script from scripts/lib) would shadow the standard library's ``logging`` for everything in
the process. Load it from its path under another module name instead:

    import importlib.util
    _spec = importlib.util.spec_from_file_location("pkgrun_logging", "<repo>/scripts/lib/logging.py")
    log = importlib.util.module_from_spec(_spec)
    _spec.loader.exec_module(log)
    log.log_info("hello")

COMMAND LINE (no import needed):

    python3 scripts/lib/logging.py log <step|info|ok|warn|fail> <message…>
    python3 scripts/lib/logging.py step <name> -- <cmd…>      exits with the step's code

Importing has no side effects. This module never imports the standard ``logging``.
"""

import os
import sys

if __name__ == "__main__":
    # Run as a script, Python put this file's directory first on sys.path, where this file
    # would shadow the standard `logging` for any module imported from here on.
    _here = os.path.dirname(os.path.abspath(__file__))
    if sys.path and os.path.abspath(sys.path[0] or os.curdir) == _here:
        del sys.path[0]

import selectors  # noqa: E402  (after the sys.path fix above, on purpose)
import subprocess  # noqa: E402
import time  # noqa: E402

__all__ = [
    "log_step",
    "log_info",
    "log_ok",
    "log_warn",
    "log_fail",
    "run_step",
    "verbose_enabled",
]

DEFAULT_PREFIX = "packages:pkgrun"


def _prefix(prefix=None):
    # An empty LOG_PREFIX counts as unset, as it does for `pkgrun` (clap) and logging.sh.
    return prefix or os.environ.get("LOG_PREFIX") or DEFAULT_PREFIX


def verbose_enabled(value=None):
    """Whether a VERBOSE value (default: the environment's) turns streaming on: 1, true,
    yes or on, in any case, as in pkgrun."""
    if value is None:
        value = os.environ.get("VERBOSE", "")
    return value.strip().lower() in ("1", "true", "yes", "on")


def _line(level, message, prefix=None):
    # As in pkgrun: one log line per line of the message (a trailing newline adds none, an
    # empty message is one line), trailing CRs dropped, one timestamp for all of them.
    ts = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
    parts = message.split("\n")
    if len(parts) > 1 and parts[-1] == "":
        parts.pop()
    head = f"[{_prefix(prefix)}] {ts} {level:<4} "
    sys.stderr.write("".join(f"{head}{p.rstrip(chr(13))}\n" for p in parts))
    # Flushed per call so our lines and the child's never reorder on a shared stderr.
    sys.stderr.flush()


def _join(message):
    return " ".join(str(m) for m in message)


def log_step(*message):
    _line("step", _join(message))


def log_info(*message):
    _line("info", _join(message))


def log_ok(*message):
    _line("ok", _join(message))


def log_warn(*message):
    _line("warn", _join(message))


def log_fail(*message):
    _line("fail", _join(message))


# After the child exited, output is read for this long at most: a background process it
# started may hold the pipe open forever (same grace as pkgrun's PIPE_GRACE).
PIPE_GRACE = 2.0


def _decode(raw):
    # CRs before the newline belong to the line ending; _line drops them.
    return raw.decode("utf-8", "replace")


def run_step(name, argv, *, verbose=None, prefix=None, cwd=None, env=None):
    """Run ``argv`` (a list, no shell) as a logged step and return its exit code.

    Prints ``step <name>``, then ``ok <name> (took N.Ns)``, or on failure every captured
    output line as ``info | …`` (unless already streamed because VERBOSE is on) followed by
    ``fail <name> (took N.Ns): exit status N`` / ``killed by signal N``.

    stdout and stderr of the child share ONE pipe, so their interleaving is kept in arrival
    order; stdin is /dev/null, as with ``pkgrun step``. Returns the child's code, 128+N when
    killed by signal N, 127 when the command could not be started.
    """
    if verbose is None:
        verbose = verbose_enabled()
    argv = list(argv)
    _line("step", name, prefix)
    started = time.monotonic()

    def took():
        return f"{time.monotonic() - started:.1f}"

    read_fd, write_fd = os.pipe()
    try:
        proc = subprocess.Popen(
            argv, stdin=subprocess.DEVNULL, stdout=write_fd, stderr=write_fd, cwd=cwd, env=env
        )
    except OSError as err:
        os.close(read_fd)
        os.close(write_fd)
        reason = f"cannot start `{argv[0] if argv else ''}`: {err.strerror or err}"
        _line("fail", f"{name} (took {took()}s): {reason}", prefix)
        return 127
    os.close(write_fd)

    captured = []

    def emit(raw):
        if verbose:
            _line("info", f"| {_decode(raw)}", prefix)
        else:
            captured.append(raw)

    pending = b""
    exited_at = None
    with selectors.DefaultSelector() as sel, os.fdopen(read_fd, "rb", buffering=0) as pipe:
        sel.register(pipe, selectors.EVENT_READ)
        while True:
            if exited_at is None and proc.poll() is not None:
                exited_at = time.monotonic()
            if exited_at is not None and time.monotonic() - exited_at >= PIPE_GRACE:
                break
            if not sel.select(timeout=0.05):
                continue
            chunk = pipe.read(65536)
            if not chunk:
                break
            pending += chunk
            *lines, pending = pending.split(b"\n")
            for raw in lines:
                emit(raw)
    if pending:
        emit(pending)
    code = proc.wait()
    secs = took()

    if code == 0:
        _line("ok", f"{name} (took {secs}s)", prefix)
        return 0
    for raw in captured:
        _line("info", f"| {_decode(raw)}", prefix)
    if code < 0:
        _line("fail", f"{name} (took {secs}s): killed by signal {-code}", prefix)
        return 128 - code
    _line("fail", f"{name} (took {secs}s): exit status {code}", prefix)
    return code


_USAGE = (
    "usage: logging.py log <step|info|ok|warn|fail> <message…>\n"
    "       logging.py step <name> -- <cmd…>\n"
)


def _main(args):
    levels = {"step": log_step, "info": log_info, "ok": log_ok, "warn": log_warn, "fail": log_fail}
    if len(args) >= 2 and args[0] == "log" and args[1] in levels:
        levels[args[1]](*args[2:])
        return 0
    if len(args) >= 4 and args[0] == "step" and args[2] == "--":
        return run_step(args[1], args[3:])
    sys.stderr.write(_USAGE)
    return 2


if __name__ == "__main__":
    sys.exit(_main(sys.argv[1:]))
