#!/usr/bin/env python3
"""Runs the variants of bench/pipeline in alternating order and prints medians and ratios.

Runs inside `loopback-registries` (which sets pkgrun's environment contract), in a copy of
examples/monorepo. Every run publishes new snapshot versions (the timestamp moves on), so no
run is shortened by an `already-present` answer.

Variants:
  plain       (a) bench/pipeline/plain_tools.py: plain tools, one step after another
  jobs1       (b) pkgrun run --jobs 1   (languages one after the other)
  concurrent  (c) pkgrun run            (all languages at once)
  go, python, ts   pkgrun run <lang> alone (the goal compares (c) with the slowest of these)

For each run: wall time; CPU time of the run's whole process tree (rusage of the reaped tree);
for pkgrun runs also pkgrun's own CPU time (its threads only, from /proc/<pid>/stat sampled
every 20 ms until it exits; the last sample misses at most 20 ms of pkgrun's own work).
The registries' CPU (separate processes) is in neither.

Usage: measure.py WORKSPACE PKGRUN ROUNDS   (markdown on stdout, progress on stderr)
"""

from __future__ import annotations

import os
import platform
import statistics
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
TICKS = os.sysconf("SC_CLK_TCK")
LANGS = ("go", "python", "ts")


def variants(pkgrun: str, workspace: Path) -> dict[str, list[str]]:
    run = [pkgrun, "run", "--progress", "plain"]
    return {
        "plain": [sys.executable, str(HERE / "plain_tools.py"), str(workspace)],
        "jobs1": [*run, "--jobs", "1"],
        "concurrent": run,
        **{lang: [*run, lang] for lang in LANGS},
    }


def own_cpu_seconds(pid: int) -> float | None:
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return None
    # After the command name: state is field 3, utime 14 and stime 15 (1-based).
    return (int(fields[11]) + int(fields[12])) / TICKS


def measure(args: list[str], workspace: Path, log: Path) -> dict[str, float]:
    started = time.monotonic()
    with log.open("ab") as out:
        child = subprocess.Popen(args, cwd=workspace, stdout=out, stderr=out)
        own = 0.0
        while True:
            sample = own_cpu_seconds(child.pid)
            if sample is not None:
                own = sample
            pid, status, usage = os.wait4(child.pid, os.WNOHANG)
            if pid:
                break
            time.sleep(0.02)
    wall = time.monotonic() - started
    code = os.waitstatus_to_exitcode(status)
    if code != 0:
        raise SystemExit(f"`{' '.join(args[-3:])}` exited {code}; see {log}")
    return {"wall": wall, "tree_cpu": usage.ru_utime + usage.ru_stime, "own_cpu": own}


def rotated(names: list[str], round_index: int) -> list[str]:
    shift = round_index % len(names)
    return names[shift:] + names[:shift]


def main() -> int:
    workspace, pkgrun, rounds = Path(sys.argv[1]), sys.argv[2], int(sys.argv[3])
    commands = variants(pkgrun, workspace)
    log = workspace / "bench-runs.log"
    names = list(commands)
    print(f"[bench] warm-up: one run of each variant (not counted)", file=sys.stderr)
    for name in names:
        measure(commands[name], workspace, log)
    results: dict[str, list[dict[str, float]]] = {name: [] for name in names}
    for round_index in range(rounds):
        for name in rotated(names, round_index):
            figures = measure(commands[name], workspace, log)
            results[name].append(figures)
            print(f"[bench] round {round_index + 1}/{rounds} {name}: "
                  f"{figures['wall']:.1f}s wall", file=sys.stderr)
    report(results, rounds)
    return 0


def median(results: list[dict[str, float]], key: str) -> float:
    return statistics.median(r[key] for r in results)


def report(results: dict[str, list[dict[str, float]]], rounds: int) -> None:
    wall = {name: median(runs, "wall") for name, runs in results.items()}
    slowest_alone = max(LANGS, key=lambda lang: wall[lang])
    load = os.getloadavg()
    cpu = next((line.split(":", 1)[1].strip() for line in
                Path("/proc/cpuinfo").read_text().splitlines() if line.startswith("model name")),
               platform.processor())
    print(f"Machine: {os.cpu_count()} cores ({cpu}), {platform.system()} {platform.release()}; "
          f"load average at the end {load[0]:.1f}/{load[1]:.1f}/{load[2]:.1f}; "
          f"{rounds} rounds after one warm-up round, order rotated each round; medians.\n")
    print("| variant | wall (s) | CPU of the process tree (s) | pkgrun's own CPU (s) | own CPU / tree CPU |")
    print("|---|---|---|---|---|")
    labels = {"plain": "(a) plain tools, sequential", "jobs1": "(b) `pkgrun run --jobs 1`",
              "concurrent": "(c) `pkgrun run`", **{lang: f"`pkgrun run {lang}` alone" for lang in LANGS}}
    for name, runs in results.items():
        tree, own = median(runs, "tree_cpu"), median(runs, "own_cpu")
        own_text = "—" if name == "plain" else f"{own:.2f}"
        share = "—" if name == "plain" else f"{100 * own / tree:.1f} %"
        print(f"| {labels[name]} | {wall[name]:.1f} | {tree:.1f} | {own_text} | {share} |")
    print()
    print(f"* (c) / (a) = {wall['concurrent'] / wall['plain']:.2f} (goal ≤ 0.35)")
    print(f"* (b) / (a) = {wall['jobs1'] / wall['plain']:.2f}")
    print(f"* (c) / slowest language alone ({slowest_alone}, {wall[slowest_alone]:.1f}s) = "
          f"{wall['concurrent'] / wall[slowest_alone]:.2f} (goal ≤ 1.15)")


if __name__ == "__main__":
    sys.exit(main())
