"""Rung ``ptrace`` benchmark: what the supervisor costs per connect, per syscall, per program start.

Run as root from the repository root (the script moves itself into a new, empty network
namespace first, so every connection it makes dies there; nothing leaves the machine):

    .venv/bin/python benchmarks/bench_egress_ptrace.py              # Markdown table
    .venv/bin/python benchmarks/bench_egress_ptrace.py --json       # raw numbers

Each workload times itself (``perf_counter_ns`` around the operation) and writes its numbers to a
file, so only the operation is measured, not interpreter start-up. Settings take turns (round
robin), so a shared machine's drift spreads over all of them. Settings:

* ``plain``: no tracer (the floor; a denied connect is the kernel's ENETUNREACH);
* ``strace``: ``strace -f -e trace=connect`` (ptrace stop at every system call);
* ``strace --seccomp-bpf``: strace stopping only at ``connect`` (the same technique as airgap);
* ``strace --seccomp-bpf, inject ENETUNREACH``: strace *denying* every connect (its nearest
  equivalent of the supervisor, without names, attribution or an allowlist);
* ``airgap ptrace``: the supervisor (seccomp filter; records, attributes and denies);
* ``airgap ptrace, no seccomp``: the supervisor's fallback where seccomp is unavailable.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from airgap_cli.egress import sandbox
from airgap_cli.egress.tracer import run_traced

CONNECT = r"""
import socket, sys
n, target, out = int(sys.argv[1]), sys.argv[2], sys.argv[3]
host, port = target.rsplit(":", 1)
times = []
from time import perf_counter_ns
for _ in range(n):
    s = socket.socket()
    t = perf_counter_ns()
    s.connect_ex((host, int(port)))
    times.append(perf_counter_ns() - t)
    s.close()
times.sort()
open(out, "w").write(f"{times[len(times) // 2] / 1000} {times[int(len(times) * 0.95)] / 1000}")
"""

SYSCALLS = r"""
import os, sys
n, out = int(sys.argv[1]), sys.argv[2]
from time import perf_counter_ns
t = perf_counter_ns()
for _ in range(n):
    os.stat("/")
open(out, "w").write(str((perf_counter_ns() - t) / n / 1000))
"""

CPU = r"""
import sys
out = sys.argv[1]
from time import perf_counter
t = perf_counter()
x = 0
for i in range(10_000_000):
    x += i * i
open(out, "w").write(str(perf_counter() - t))
"""

Runner = Callable[[list[str]], int]


def _plain(argv: list[str]) -> int:
    subprocess.run(argv, check=False)
    return 0


def _strace(extra: list[str]) -> Runner:
    def run(argv: list[str]) -> int:
        strace = ["strace", "-f", "-qq", "-o", "/dev/null", *extra, "-e", "trace=connect"]
        subprocess.run([*strace, *argv], check=False)
        return 0

    return run


def _airgap(use_seccomp: bool) -> Runner:
    def run(argv: list[str]) -> int:
        return len(run_traced(argv, use_seccomp=use_seccomp).attempts)

    return run


def _measure(runner: Runner, script: str, args: list[str]) -> tuple[list[float], int]:
    """Run one workload; (its numbers, attempts the supervisor recorded)."""
    with tempfile.NamedTemporaryFile("r", suffix=".out") as out:
        recorded = runner([sys.executable, "-S", "-c", script, *args, out.name])
        return [float(x) for x in Path(out.name).read_text().split()], recorded


def _startup(runner: Runner, repeat: int) -> float:
    """Median wall milliseconds to run `true` (fork, attach, filter, exec, wait)."""
    times = []
    for _ in range(repeat):
        started = time.perf_counter()
        runner(["true"])
        times.append((time.perf_counter() - started) * 1000)
    return statistics.median(times)


def _enter_empty_namespace() -> None:
    sandbox.unshare(sandbox.CLONE_NEWNET)
    subprocess.run(["ip", "link", "set", "lo", "up"], check=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--connects", type=int, default=2000)
    parser.add_argument("--syscalls", type=int, default=200_000)
    parser.add_argument("--repeat", type=int, default=5, help="runs per setting (median kept)")
    parser.add_argument("--json", action="store_true")
    ns = parser.parse_args()
    if os.geteuid() != 0:
        sys.exit("run as root: the benchmark builds an empty network namespace")
    _enter_empty_namespace()
    settings: dict[str, Runner] = {"plain": _plain}
    if shutil.which("strace"):
        settings["strace"] = _strace([])
        settings["strace --seccomp-bpf"] = _strace(["--seccomp-bpf"])
        settings["strace --seccomp-bpf, inject ENETUNREACH"] = _strace(
            ["--seccomp-bpf", "-e", "inject=connect:error=ENETUNREACH"]
        )
    settings["airgap ptrace"] = _airgap(True)
    settings["airgap ptrace, no seccomp"] = _airgap(False)

    closed = "127.0.0.1:9"  # nothing listens: ECONNREFUSED, the allowed (untouched) path
    samples: dict[str, dict[str, list[float]]] = {
        name: {"denied": [], "p95": [], "loopback": [], "stat": [], "cpu": [], "recorded": []}
        for name in settings
    }
    for _ in range(ns.repeat):
        for name, runner in settings.items():
            row = samples[name]
            numbers, count = _measure(runner, CONNECT, [str(ns.connects), "192.0.2.10:80"])
            row["denied"].append(numbers[0])
            row["p95"].append(numbers[1])
            row["recorded"].append(count)
            row["loopback"].append(_measure(runner, CONNECT, [str(ns.connects), closed])[0][0])
            row["stat"].append(_measure(runner, SYSCALLS, [str(ns.syscalls)])[0][0])
            row["cpu"].append(_measure(runner, CPU, [])[0][0])
    results: dict[str, dict[str, float]] = {}
    for name, row in samples.items():
        results[name] = {
            "denied_connect_median_us": statistics.median(row["denied"]),
            "denied_connect_p95_us": statistics.median(row["p95"]),
            "loopback_connect_median_us": statistics.median(row["loopback"]),
            "stat_syscall_us": statistics.median(row["stat"]),
            "cpu_loop_s": statistics.median(row["cpu"]),
            "startup_ms": _startup(settings[name], ns.repeat * 4),
            "recorded_per_run": statistics.median(row["recorded"]),
        }
    meta = {
        "machine": platform.machine(),
        "cpus": os.cpu_count(),
        "python": platform.python_version(),
        "kernel": platform.release(),
        "connects_per_run": ns.connects,
        "repeat": ns.repeat,
        "strace": subprocess.run(["strace", "-V"], capture_output=True, text=True).stdout.split(
            "\n"
        )[0]
        if shutil.which("strace")
        else None,
    }
    if ns.json:
        runs = {name: sorted(row["denied"]) for name, row in samples.items()}
        print(json.dumps({"meta": meta, "results": results, "denied_runs_us": runs}, indent=2))
        return
    floor = results["plain"]
    print(
        f"{meta['machine']}, {meta['cpus']} CPUs, Python {meta['python']}, Linux {meta['kernel']}, "
        f"{meta['strace']}; {ns.connects} connects per run, median of {ns.repeat} runs\n"
    )
    print(
        "| setting | denied connect µs (median / p95) | loopback connect µs | stat() µs "
        "| 10 M-iteration loop | start-up ms | attempts recorded |"
    )
    print("|---|---|---|---|---|---|---|")
    for name, result in results.items():
        cpu_delta = (result["cpu_loop_s"] / floor["cpu_loop_s"] - 1) * 100
        print(
            f"| {name} | {result['denied_connect_median_us']:.1f} / "
            f"{result['denied_connect_p95_us']:.1f} | "
            f"{result['loopback_connect_median_us']:.1f} | {result['stat_syscall_us']:.2f} | "
            f"{result['cpu_loop_s']:.2f} s ({cpu_delta:+.1f} %) | {result['startup_ms']:.1f} | "
            f"{int(result['recorded_per_run'])} |"
        )


if __name__ == "__main__":
    main()
