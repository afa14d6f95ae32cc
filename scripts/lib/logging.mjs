// scripts/lib/logging.mjs — pkgrun's log line format (DESIGN §5) for Node.js scripts.
//
// Node 20+, ES module, no dependencies. Same functions as logging.sh and logging.py:
//
//   import { logStep, logInfo, logOk, logWarn, logFail, runStep } from "./logging.mjs";
//   logInfo("starting");                       // one line on stderr
//   const code = await runStep("build", "go", ["build", "./..."]);   // exit code, 0 = ok
//
// Line: `[<prefix>] <RFC 3339 UTC, whole seconds> <level padded to 4> <message>`, the same
// bytes `pkgrun log` / `pkgrun step` print. The prefix is LOG_PREFIX (default
// packages:pkgrun), read at each call; VERBOSE=1 (or true/yes/on) streams child output
// live. Importing this
// module has no side effects. See scripts/lib/README.md.

import { spawn } from "node:child_process";
import { constants as osConstants, tmpdir } from "node:os";
import { mkdtempSync, openSync, closeSync, readSync, rmSync } from "node:fs";
import { join } from "node:path";

const DEFAULT_PREFIX = "packages:pkgrun";

function prefixOf(opts) {
  // An empty LOG_PREFIX counts as unset, as it does for `pkgrun` (clap) and logging.sh.
  return (opts && opts.prefix) || process.env.LOG_PREFIX || DEFAULT_PREFIX;
}

function timestamp() {
  // toISOString is always UTC: 2026-11-27T22:10:05.123Z -> 2026-11-27T22:10:05Z
  return new Date().toISOString().slice(0, 19) + "Z";
}

/** Whether a VERBOSE value turns streaming on: 1, true, yes or on (any case), as in pkgrun. */
export function verboseEnabled(value = process.env.VERBOSE) {
  return ["1", "true", "yes", "on"].includes(String(value ?? "").trim().toLowerCase());
}

function line(level, message, opts) {
  // As in pkgrun: one log line per line of the message (a trailing newline adds none, an
  // empty message is one line), trailing CRs dropped, one timestamp for all of them.
  const head = `[${prefixOf(opts)}] ${timestamp()} ${level.padEnd(4)} `;
  const parts = message.split("\n");
  if (parts.length > 1 && parts[parts.length - 1] === "") parts.pop();
  const text = parts.map((p) => head + p.replace(/\r+$/, "") + "\n").join("");
  // process.stderr.write is synchronous for files and pipes on POSIX, so lines from here and
  // from the child replay keep their order even if the caller exits right after.
  process.stderr.write(text);
}

const join_ = (parts) => parts.map(String).join(" ");

export function logStep(...message) { line("step", join_(message)); }
export function logInfo(...message) { line("info", join_(message)); }
export function logOk(...message) { line("ok", join_(message)); }
export function logWarn(...message) { line("warn", join_(message)); }
export function logFail(...message) { line("fail", join_(message)); }

/** Splits bytes into lines; keeps the unterminated tail for the next chunk. */
class LineSplitter {
  constructor(emit) {
    this.emit = emit;
    this.pending = Buffer.alloc(0);
  }
  push(chunk) {
    let buf = this.pending.length ? Buffer.concat([this.pending, chunk]) : chunk;
    let nl;
    while ((nl = buf.indexOf(0x0a)) !== -1) {
      this.emitLine(buf.subarray(0, nl));
      buf = buf.subarray(nl + 1);
    }
    this.pending = Buffer.from(buf);
  }
  finish() {
    if (this.pending.length) this.emitLine(this.pending);
    this.pending = Buffer.alloc(0);
  }
  emitLine(bytes) {
    // CRLF output: CRs before the newline are part of the line ending (`line` drops them).
    this.emit(bytes.toString("utf8"));
  }
}

/**
 * Runs `cmd args…` as a logged step: `step <name>`, then `ok <name> (took N.Ns)`, or on
 * failure every captured output line as `info | …` (unless already streamed with VERBOSE=1)
 * and `fail <name> (took N.Ns): exit status N` / `killed by signal N`.
 *
 * The child's stdout and stderr are both opened on ONE temporary file, so their
 * interleaving is kept in arrival order (Node cannot hand a child one pipe for both). With
 * VERBOSE=1 the file is followed while the child runs (polled every 25 ms). stdin is
 * /dev/null, as with `pkgrun step`; no shell is involved.
 *
 * opts: { verbose?: boolean (default: verboseEnabled()), prefix?: string, cwd?, env? }.
 * Resolves to the exit code: the child's, 128+N when killed by signal N, 127 when the
 * command could not be started.
 */
export async function runStep(name, cmd, args = [], opts = {}) {
  const verbose = opts.verbose ?? verboseEnabled();
  line("step", name, opts);
  const started = process.hrtime.bigint();
  const took = () => (Number(process.hrtime.bigint() - started) / 1e9).toFixed(1);

  const dir = mkdtempSync(join(tmpdir(), "pkgrun-step-"));
  const outPath = join(dir, "output");
  const fd = openSync(outPath, "w+");
  const shown = new LineSplitter((l) => line("info", `| ${l}`, opts));
  let offset = 0;
  // Reads whatever the child appended since the last call.
  const drain = (sink) => {
    const buf = Buffer.alloc(64 * 1024);
    for (;;) {
      const n = readSync(fd, buf, 0, buf.length, offset);
      if (n === 0) return;
      offset += n;
      sink.push(buf.subarray(0, n));
    }
  };

  try {
    const result = await new Promise((resolve) => {
      let child;
      try {
        child = spawn(cmd, args, {
          stdio: ["ignore", fd, fd],
          cwd: opts.cwd,
          env: opts.env,
        });
      } catch (err) {
        resolve({ error: err });
        return;
      }
      let timer;
      if (verbose) timer = setInterval(() => drain(shown), 25);
      child.on("error", (err) => {
        if (timer) clearInterval(timer);
        resolve({ error: err });
      });
      child.on("exit", (code, signal) => {
        if (timer) clearInterval(timer);
        resolve({ code, signal });
      });
    });
    // The step's duration is the child's run time, not including the replay below.
    const secs = took();

    if (verbose) {
      drain(shown);
      shown.finish();
    }
    if (result.error) {
      line("fail", `${name} (took ${secs}s): cannot start \`${cmd}\`: ${result.error.message}`, opts);
      return 127;
    }
    if (result.code === 0) {
      line("ok", `${name} (took ${secs}s)`, opts);
      return 0;
    }
    if (!verbose) {
      drain(shown);
      shown.finish();
    }
    if (result.signal) {
      const num = osConstants.signals[result.signal] ?? 0;
      line("fail", `${name} (took ${secs}s): killed by signal ${num}`, opts);
      return 128 + num;
    }
    line("fail", `${name} (took ${secs}s): exit status ${result.code}`, opts);
    return result.code;
  } finally {
    closeSync(fd);
    rmSync(dir, { recursive: true, force: true });
  }
}
