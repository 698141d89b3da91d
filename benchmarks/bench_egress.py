"""Egress auditor benchmark: denied-connect latency, burst rate without loss, CPU overhead.

Run as root from the repository root:

    .venv/bin/python benchmarks/bench_egress.py            # prints a Markdown table
    .venv/bin/python benchmarks/bench_egress.py --json     # raw numbers

Every connection goes to TEST-NET addresses inside namespaces this script creates (the sandbox's
TUN, or an empty namespace for the peers); nothing leaves the machine.
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
from pathlib import Path

from airgap_cli.egress.run import run_workload

LATENCY = r"""
import socket, sys, time
n = int(sys.argv[1]); out = []
for i in range(n):
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    t = time.perf_counter_ns()
    s.connect_ex(("192.0.2.10", 80))
    out.append(time.perf_counter_ns() - t)
    s.close()
out.sort()
print(out[len(out) // 2] / 1000, out[int(len(out) * 0.95)] / 1000)
"""

BURST = r"""
import os, socket, sys
procs, each = int(sys.argv[1]), int(sys.argv[2])
pids = []
for p in range(procs):
    pid = os.fork()
    if pid == 0:
        for i in range(each):
            s = socket.socket(); s.connect_ex(("192.0.2.%d" % (p + 20), 1000 + i % 50)); s.close()
        os._exit(0)
    pids.append(pid)
for pid in pids:
    os.waitpid(pid, 0)
"""

CPU = r"""
import time
t = time.perf_counter()
x = 0
for i in range(30_000_000):
    x += i * i
print(time.perf_counter() - t)
"""


def _script(tmp: Path, name: str, text: str) -> str:
    path = tmp / name
    path.write_text(text)
    return str(path)


def _sandboxed(argv: list[str]) -> tuple[str, int, float]:
    fd, name = tempfile.mkstemp(suffix=".out")
    os.close(fd)
    started = time.perf_counter()
    run = run_workload(["sh", "-c", '"$@" > ' + name, "sh", *argv])
    elapsed = time.perf_counter() - started
    text = Path(name).read_text()
    os.unlink(name)
    return text, len(run.attempts), elapsed


def _plain(argv: list[str]) -> str:
    return subprocess.run(argv, check=True, capture_output=True, text=True).stdout


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--connects", type=int, default=2000)
    parser.add_argument("--procs", type=int, default=4)
    parser.add_argument("--burst", type=int, default=20000)
    parser.add_argument("--repeat", type=int, default=5, help="runs of latency and CPU (median)")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    if os.geteuid() != 0:
        sys.exit("bench_egress.py needs root (network namespaces)")
    py = sys.executable
    results: dict[str, object] = {}
    with tempfile.TemporaryDirectory() as tmpdir:
        tmp = Path(tmpdir)
        latency = _script(tmp, "latency.py", LATENCY)
        burst = _script(tmp, "burst.py", BURST)
        cpu = _script(tmp, "cpu.py", CPU)

        runs = [_sandboxed([py, latency, str(args.connects)]) for _ in range(args.repeat)]
        medians = sorted(float(text.split()[0]) for text, _, _ in runs)
        p95s = sorted(float(text.split()[1]) for text, _, _ in runs)
        results["airgap denied connect (attributed)"] = {
            "median_us": statistics.median(medians),
            "p95_us": statistics.median(p95s),
            "runs_median_us": medians,
            "recorded": [r for _, r, _ in runs],
        }
        median, p95 = map(float, _plain(["unshare", "-n", py, latency, str(args.connects)]).split())
        results["empty netns, ENETUNREACH (floor)"] = {"median_us": median, "p95_us": p95}
        strace = shutil.which("strace")
        if strace:
            median, p95 = map(
                float,
                _plain(
                    [
                        "unshare",
                        "-n",
                        strace,
                        "-f",
                        "-e",
                        "trace=network",
                        "-o",
                        "/dev/null",
                        py,
                        latency,
                        str(args.connects),
                    ]
                ).split(),
            )
            results["strace -f -e trace=network (empty netns)"] = {
                "median_us": median,
                "p95_us": p95,
            }
        bwrap = shutil.which("bwrap")
        if bwrap:
            median, p95 = map(
                float,
                _plain(
                    [
                        bwrap,
                        "--dev-bind",
                        "/",
                        "/",
                        "--unshare-net",
                        py,
                        latency,
                        str(args.connects),
                    ]
                ).split(),
            )
            results["bwrap --unshare-net"] = {"median_us": median, "p95_us": p95}

        each = args.burst // args.procs
        _, recorded, elapsed = _sandboxed([py, burst, str(args.procs), str(each)])
        total = each * args.procs
        results["burst"] = {
            "sent": total,
            "recorded": recorded,
            "lost": total - recorded,
            "seconds": round(elapsed, 3),
            "per_second": round(recorded / elapsed),
        }

        # Interleaved repetitions: this shared 2-core machine drifts by several percent per run.
        outsides, insides = [], []
        for _ in range(args.repeat):
            outsides.append(float(_plain([py, cpu])))
            insides.append(float(_sandboxed([py, cpu])[0]))
        inside, outside = statistics.median(insides), statistics.median(outsides)
        results["cpu"] = {
            "outside_s": outside,
            "inside_s": inside,
            "overhead_pct": round((inside / outside - 1) * 100, 2),
        }

    results["machine"] = {
        "cpus": os.cpu_count(),
        "python": platform.python_version(),
        "kernel": platform.release(),
    }
    if args.json:
        print(json.dumps(results, indent=2))
        return
    print("| Setting | median µs | p95 µs |\n|---|---|---|")
    for name, row in results.items():
        if isinstance(row, dict) and "median_us" in row:
            print(f"| {name} | {row['median_us']:.1f} | {row['p95_us']:.1f} |")
    b = results["burst"]
    c = results["cpu"]
    assert isinstance(b, dict) and isinstance(c, dict)
    print(
        f"\nBurst: {b['sent']} denied connects from {args.procs} processes, {b['recorded']} recorded "
        f"({b['lost']} lost) in {b['seconds']} s = {b['per_second']}/s"
    )
    print(
        f"CPU-bound loop: {c['outside_s']:.3f} s outside, {c['inside_s']:.3f} s inside = {c['overhead_pct']}% overhead"
    )


if __name__ == "__main__":
    main()
