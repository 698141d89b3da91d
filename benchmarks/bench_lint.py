"""Benchmark ``airgap lint`` against the PyYAML C-loader floor and against Checkov.

Why these three numbers: parsing YAML with libyaml is the least any Python linter must spend, so
the ratio to that floor shows how much the rules cost; Checkov is what users would otherwise run,
so the throughput ratio is the claim we make in the docs. Targets (from the issue): airgap within
1.5x of the floor, and at least 100x Checkov's manifests/s.

Run from the repository root: ``.venv/bin/python benchmarks/bench_lint.py --count 10000``.
Scratch (trees, outputs, Checkov's own virtualenv) lives in ``benchmarks/.work/`` (git-ignored);
the Markdown draft goes to ``benchmarks/.work/RESULTS-draft.md``.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import platform
import shlex
import shutil
import statistics
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

import gen_manifests

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
WORK = HERE / ".work"
CHECKOV_VERSION = "3.3.30"
FLOOR_TARGET = 1.5
CHECKOV_TARGET = 100.0
YAML_SUFFIXES = (".yaml", ".yml")


# -- measurement ------------------------------------------------------------------------------


@dataclass
class Run:
    """One timed child process."""

    wall_s: float
    cpu_s: float
    max_rss_mb: float
    """Largest single process of the tree (``wait4`` ``ru_maxrss``, as GNU time reports it)."""
    tree_pss_mb: float
    """Peak sum of PSS over the whole process tree, sampled; counts worker processes too."""
    returncode: int

    @property
    def cores(self) -> float:
        """Average cores busy: CPU seconds over wall seconds."""
        return self.cpu_s / self.wall_s if self.wall_s else 0.0


def children_map() -> dict[int, list[int]]:
    """Parent pid -> child pids, from /proc (shared with the other benchmarks)."""
    kids: dict[int, list[int]] = {}
    for entry in os.scandir("/proc"):
        if not entry.name.isdigit():
            continue
        try:
            with open(f"/proc/{entry.name}/stat", "rb") as fh:
                stat = fh.read()
        except OSError:
            continue
        # Field 4 (ppid) follows the parenthesised command name, which may contain spaces.
        ppid = int(stat[stat.rindex(b")") + 2 :].split()[1])
        kids.setdefault(ppid, []).append(int(entry.name))
    return kids


def _pss_kb(pid: int) -> int:
    try:
        with open(f"/proc/{pid}/smaps_rollup", "rb") as fh:
            for line in fh:
                if line.startswith(b"Pss:"):
                    return int(line.split()[1])
    except (OSError, ValueError):
        pass
    try:  # statm: resident pages (RSS, overcounts shared pages)
        with open(f"/proc/{pid}/statm", "rb") as fh:
            return int(fh.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") // 1024
    except (OSError, ValueError, IndexError):
        return 0


class TreeSampler(threading.Thread):
    """Polls the PSS of a process and all its descendants: ``ru_maxrss`` misses worker pools."""

    def __init__(self, pid: int, interval: float = 0.05) -> None:
        super().__init__(daemon=True)
        self.pid, self.interval = pid, interval
        self.peak_kb = 0
        self.stop = threading.Event()
        self.enabled = Path("/proc/self/stat").exists()

    def run(self) -> None:
        # The lowest priority: sampling costs a few ms every 50 ms, which would otherwise be taken
        # from the measured tool, and more from a tool that keeps both cores busy than from one
        # that leaves a core idle.
        with contextlib.suppress(OSError, AttributeError):
            os.setpriority(os.PRIO_PROCESS, threading.get_native_id(), 19)
        while self.enabled and not self.stop.is_set():
            kids = children_map()
            todo, total = [self.pid], 0
            while todo:
                p = todo.pop()
                total += _pss_kb(p)
                todo += kids.get(p, [])
            self.peak_kb = max(self.peak_kb, total)
            self.stop.wait(self.interval)


RUN_ENV = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
"""Every tool runs as installed tools do: Python may cache bytecode (some CI images forbid it,
which would add each run's compile time to both sides; airgap's warm-up run writes its cache,
Checkov's runs are long enough for it not to matter)."""


def timed(cmd: list[str], stdout: Path | None = None, cwd: Path | None = None) -> Run:
    """Run ``cmd`` and measure wall, CPU and memory of exactly that child (via ``os.wait4``).

    ``wait4`` is the call GNU ``time -v`` makes, without its extra process, and unlike
    ``getrusage(RUSAGE_CHILDREN)`` it is per child, so repeated runs do not mask each other.
    """
    out = stdout.open("wb") if stdout else subprocess.DEVNULL
    try:
        t0 = time.perf_counter()
        proc = subprocess.Popen(cmd, stdout=out, stderr=subprocess.PIPE, cwd=cwd, env=RUN_ENV)
        sampler = TreeSampler(proc.pid)
        sampler.start()
        assert proc.stderr is not None
        err = proc.stderr.read()  # drain, or a chatty child blocks on a full pipe
        _, status, ru = os.wait4(proc.pid, 0)
        wall = time.perf_counter() - t0
        proc.returncode = os.waitstatus_to_exitcode(status)
        sampler.stop.set()
        sampler.join()
    finally:
        if stdout:
            out.close()  # type: ignore[union-attr]
    if proc.returncode not in (0, 1):
        tail = err.decode(errors="replace").strip().splitlines()[-5:]
        print(f"  exit {proc.returncode}: {' | '.join(tail)}", file=sys.stderr)
    return Run(
        wall_s=wall,
        cpu_s=ru.ru_utime + ru.ru_stime,
        max_rss_mb=ru.ru_maxrss / 1024,
        tree_pss_mb=sampler.peak_kb / 1024,
        returncode=proc.returncode,
    )


@dataclass
class Result:
    """The repeated runs of one tool on one tree, plus what the tool reported."""

    name: str
    command: list[str]
    documents: int
    """Kubernetes objects in the tree (the "manifests" of manifests/s)."""
    bytes: int
    runs: list[Run] = field(default_factory=list)
    inner_s: list[float] = field(default_factory=list)
    """Floor only: seconds inside the parse loop (no interpreter start-up)."""
    details: dict[str, Any] = field(default_factory=dict)
    cwd: Path | None = None
    """Where the command must run (Checkov: see ``bench_checkov``)."""

    def shell(self) -> str:
        """The command as one copy-pasteable line, relative to the repository root."""
        base = self.cwd or REPO
        words = [rel(Path(c), base) if c.startswith("/") else c for c in self.command]
        line = shlex.join(words)
        return f"(cd {rel(self.cwd)} && {line})" if self.cwd else line

    @property
    def wall(self) -> float:
        """Median wall time; the floor uses its in-loop time, which is the stricter bar."""
        if self.inner_s:
            return statistics.median(self.inner_s)
        return statistics.median(r.wall_s for r in self.runs)

    def summary(self) -> dict[str, Any]:
        """Raw numbers for ``--json`` and ``results.json``."""
        w = self.wall
        return {
            "name": self.name,
            "command": self.shell(),
            "documents": self.documents,
            "bytes": self.bytes,
            "median_s": round(w, 3),
            "process_wall_s": [round(r.wall_s, 3) for r in self.runs],
            "inner_s": [round(s, 3) for s in self.inner_s],
            "cpu_s": [round(r.cpu_s, 2) for r in self.runs],
            "cores": round(statistics.median(r.cores for r in self.runs), 2),
            "max_rss_mb": round(max(r.max_rss_mb for r in self.runs), 1),
            "tree_pss_mb": round(max(r.tree_pss_mb for r in self.runs), 1),
            "returncodes": [r.returncode for r in self.runs],
            "manifests_per_s": round(self.documents / w, 1),
            "mb_per_s": round(self.bytes / 1e6 / w, 2),
            "details": self.details,
        }


# -- inputs -----------------------------------------------------------------------------------


def ensure_tree(count: int, seed: int, regen: bool) -> tuple[Path, dict[str, Any]]:
    """Generate (or reuse) the tree for ``count``/``seed``; reuse only if the generator matches."""
    tree = WORK / f"tree-{count}-s{seed}"
    meta_path = tree.parent / f"{tree.name}.MANIFEST.json"
    if not regen and tree.is_dir() and meta_path.exists():
        meta = json.loads(meta_path.read_text())
        if meta.get("generator_version") == gen_manifests.GENERATOR_VERSION:
            return tree, meta
    t0 = time.perf_counter()
    gen_manifests.generate(tree, count, seed)
    meta = json.loads(meta_path.read_text())
    print(
        f"generated {rel(tree)}: {meta['k8s_documents']} objects, {meta['files']} files, "
        f"{meta['bytes'] / 1e6:.2f} MB in {time.perf_counter() - t0:.1f} s",
        file=sys.stderr,
    )
    return tree, meta


def yaml_files(tree: Path) -> list[Path]:
    """Every YAML file of the tree, hidden ones (``.gitlab-ci.yml``) included, in stable order."""
    return sorted(p for p in tree.rglob("*") if p.suffix in YAML_SUFFIXES and p.is_file())


def rel(path: Path, base: Path = REPO) -> str:
    """``path`` relative to ``base`` when possible, so printed commands can be copy-pasted."""
    try:
        return str(path.absolute().relative_to(base))
    except ValueError:
        return str(path)


# -- 1. floor ---------------------------------------------------------------------------------


def floor_worker(tree: Path) -> int:
    """Child-process body: read and ``load_all`` every file with libyaml, print JSON timings."""
    if not yaml.__with_libyaml__:
        print("PyYAML was built without libyaml; the floor would be meaningless", file=sys.stderr)
        return 2
    files = yaml_files(tree)
    t0 = time.perf_counter()
    docs = nbytes = 0
    for p in files:
        text = p.read_bytes()
        nbytes += len(text)
        docs += sum(1 for d in yaml.load_all(text, Loader=yaml.CSafeLoader) if d is not None)
    elapsed = time.perf_counter() - t0
    print(json.dumps({"seconds": elapsed, "documents": docs, "files": len(files), "bytes": nbytes}))
    return 0


def bench_floor(tree: Path, meta: dict[str, Any], repeat: int) -> Result:
    """Step 1: the single-core PyYAML CSafeLoader floor, in a fresh interpreter each time."""
    cmd = [sys.executable, str(Path(__file__).resolve()), "--floor-worker", str(tree)]
    res = Result("PyYAML CSafeLoader floor", cmd, meta["k8s_documents"], meta["bytes"])
    out = WORK / "floor.json"
    for i in range(repeat):
        run = timed(cmd, stdout=out)
        data = json.loads(out.read_text())
        res.runs.append(run)
        res.inner_s.append(data["seconds"])
        res.details = {"yaml_documents": data["documents"], "files": data["files"]}
        print(f"  floor run {i + 1}/{repeat}: {data['seconds']:.2f} s", file=sys.stderr)
    return res


# -- 2. airgap --------------------------------------------------------------------------------


BENCH_CONFIG = f"""\
# Written by benchmarks/bench_lint.py: the boundary the generated tree assumes.
version: 1
internal:
  registries: [{gen_manifests.INTERNAL_REGISTRY}]
  domains: ["{gen_manifests.CORP_DOMAIN}", "*.{gen_manifests.CORP_DOMAIN}"]
"""


def airgap_help(airgap: str) -> str | None:
    """``airgap lint --help`` text, or None while the command does not work yet."""
    try:
        proc = subprocess.run(
            [airgap, "lint", "--help"], capture_output=True, text=True, timeout=60, check=False
        )
    except (OSError, subprocess.TimeoutExpired):
        return None
    return proc.stdout if proc.returncode == 0 else None


def config_args(help_text: str, extra: list[str]) -> list[str]:
    """``--config`` with the tree's boundary, so no ``airgap.yaml`` found upward leaks in."""
    if "--config" not in help_text or any(a.startswith("--config") for a in extra):
        return []
    path = WORK / "airgap-bench.yaml"
    path.write_text(BENCH_CONFIG)
    return ["--config", str(path)]


def bench_airgap(
    airgap: str, tree: Path, meta: dict[str, Any], repeat: int, extra: list[str]
) -> Result:
    """Step 2: ``airgap lint`` wall time, CPU and memory, repeated; sanity-checks the report."""
    report = WORK / "airgap-report.json"
    cmd = [airgap, "lint", str(tree), "--format", "json", "--output", str(report)]
    cmd += ["--fail-on", "never", *extra]
    res = Result("airgap lint", cmd, meta["k8s_documents"], meta["bytes"])
    timed(cmd)  # warm-up, not counted: fills the page cache and Python's bytecode cache
    for i in range(repeat):
        report.unlink(missing_ok=True)
        run = timed(cmd)
        res.runs.append(run)
        print(f"  airgap run {i + 1}/{repeat}: {run.wall_s:.2f} s", file=sys.stderr)
    if report.exists():
        data = json.loads(report.read_text())
        summary = data.get("summary", {})
        inputs = data.get("inputs", [])
        res.details = {
            "findings": summary.get("findings"),
            "by_severity": summary.get("by_severity"),
            "errors": summary.get("errors"),
            "skipped": summary.get("skipped"),
            "input_files": len(inputs),
            "input_documents": sum(int(i.get("documents", 0)) for i in inputs),
            "rules_fired": len({f["rule_id"] for f in data.get("findings", [])}),
            "timings": data.get("timings"),
        }
    else:
        res.details = {"error": "no report written"}
    return res


# -- 3. Checkov -------------------------------------------------------------------------------


def ensure_checkov(venv: Path) -> Path:
    """Checkov in its own virtualenv (96 packages we never want in ours); installed once."""
    exe = venv / "bin" / "checkov"
    if not exe.exists():
        print(f"installing checkov=={CHECKOV_VERSION} into {rel(venv)} ...", file=sys.stderr)
        subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
        pip = [str(venv / "bin" / "python"), "-m", "pip", "install", "--quiet"]
        subprocess.run([*pip, f"checkov=={CHECKOV_VERSION}"], check=True)
    got = subprocess.run([str(exe), "--version"], capture_output=True, text=True, check=True)
    if got.stdout.strip() != CHECKOV_VERSION:
        print(
            f"warning: checkov {got.stdout.strip()} (expected {CHECKOV_VERSION})", file=sys.stderr
        )
    return exe


def bench_checkov(exe: Path, tree: Path, meta: dict[str, Any], repeat: int) -> Result:
    """Step 3: Checkov's Kubernetes framework on the same kind of tree, offline.

    Checkov is run from the tree's parent with a relative ``-d``: given a path that contains a
    dot-directory (ours is under ``benchmarks/.work``) it skips every file and reports 0 resources.
    """
    out_name = f"checkov-out-{meta['k8s_documents']}"
    shutil.rmtree(WORK / out_name, ignore_errors=True)
    # --skip-download: no call to the vendor API (offline it would fail and retry).
    cmd = [str(exe), "-d", tree.name, "--framework", "kubernetes", "--skip-download"]
    cmd += ["--compact", "-o", "json", "--output-file-path", out_name, "--quiet"]
    res = Result(f"Checkov {CHECKOV_VERSION}", cmd, meta["k8s_documents"], meta["bytes"])
    res.cwd = tree.parent
    out_dir = tree.parent / out_name
    for i in range(repeat):
        run = timed(cmd, stdout=out_dir.with_suffix(".stdout"), cwd=tree.parent)
        res.runs.append(run)
        print(f"  checkov run {i + 1}/{repeat}: {run.wall_s:.1f} s", file=sys.stderr)
    results = out_dir / "results_json.json"
    if results.exists():
        data = json.loads(results.read_text())
        reports = data if isinstance(data, list) else [data]
        s = reports[0].get("summary", {})
        res.details = {k: s.get(k) for k in ("resource_count", "passed", "failed")}
        res.details["parsing_errors"] = s.get("parsing_errors")
    if not res.details.get("resource_count"):
        raise SystemExit(f"Checkov scanned no resources in {rel(tree)}; see {rel(out_dir)}")
    return res


# -- 4. report --------------------------------------------------------------------------------


def machine() -> dict[str, Any]:
    """What the numbers were measured on (shared boxes are noisy: load average included)."""
    model = "unknown"
    mem_gb = 0.0
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                mem_gb = int(line.split()[1]) / 1024 / 1024
    except OSError:
        pass
    return {
        "nproc": len(os.sched_getaffinity(0)),
        "cpu_model": model,
        "memory_gb": round(mem_gb, 1),
        "python": platform.python_version(),
        "pyyaml": f"{yaml.__version__} (libyaml {'yes' if yaml.__with_libyaml__ else 'NO'})",
        "kernel": platform.release(),
        "loadavg_start": Path("/proc/loadavg").read_text().split()[:3],
    }


def _per_s(r: Result) -> float:
    return r.documents / r.wall


def _fmt_row(r: Result, floor: Result | None) -> str:
    s = r.summary()
    vs_floor = "-"
    if floor is r:
        vs_floor = "1.00x (floor)"
    elif floor:  # by throughput, so a Checkov run on a smaller tree compares fairly
        vs_floor = f"{_per_s(floor) / _per_s(r):.2f}x"
    walls = [x.wall_s for x in r.runs]
    spread = f" ({min(walls):.2f}-{max(walls):.2f})" if len(walls) > 1 else ""
    wall = f"{r.wall:.2f} s{spread}" if not r.inner_s else f"{r.wall:.2f} s (in-loop)"
    return (
        f"| {r.name} | {r.documents:,} / {r.bytes / 1e6:.1f} MB | {wall} | "
        f"{s['cores']:.2f} | {s['max_rss_mb']:.0f} MB | {s['tree_pss_mb']:.0f} MB | "
        f"{s['manifests_per_s']:,.0f} | {s['mb_per_s']:.2f} | {vs_floor} |"
    )


def markdown(
    results: dict[str, Result],
    mach: dict[str, Any],
    gen_cmds: list[str],
    bench_cmd: str,
    notes: list[str],
) -> str:
    """The draft section the lead merges into ``docs/benchmarks.md``."""
    floor = results.get("floor")
    lines = [
        "## Lint performance",
        "",
        f"Machine: {mach['nproc']} CPUs ({mach['cpu_model']}), {mach['memory_gb']} GB RAM, "
        f"Linux {mach['kernel']}, Python {mach['python']}, PyYAML {mach['pyyaml']}; "
        f"load average {' '.join(mach['loadavg_start'])} at start, "
        f"{' '.join(mach.get('loadavg_end', ['?']))} at end.",
        "",
        "| Tool | Manifests / size | Wall, median (min-max) | Cores used | Peak RSS (largest "
        "process) | Peak PSS (process tree) | Manifests/s | MB/s | vs floor |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    lines += [_fmt_row(r, floor) for r in results.values()]
    lines.append("")
    ag = results.get("airgap")
    checkovs = [r for k, r in results.items() if k.startswith("checkov")]
    if ag and floor:
        ratio = ag.wall / floor.wall
        ok = "met" if ratio <= FLOOR_TARGET else "NOT met"
        lines.append(f"- airgap / floor: **{ratio:.2f}x** (target <= {FLOOR_TARGET}x: {ok}).")
    for ck in checkovs:
        if floor:  # the ceiling for any linter that parses on one core
            lines.append(
                f"- PyYAML floor throughput / Checkov throughput on {ck.documents:,} manifests: "
                f"{_per_s(floor) / _per_s(ck):,.0f}x (what a single-core parse alone reaches)."
            )
        if ag is None:
            continue
        speed = _per_s(ag) / _per_s(ck)
        ok = "met" if speed >= CHECKOV_TARGET else "NOT met"
        lines.append(
            f"- airgap throughput / Checkov throughput on {ck.documents:,} manifests: "
            f"**{speed:,.0f}x** (target >= {CHECKOV_TARGET:.0f}x: {ok})."
        )
    if ag and ag.details:
        d = ag.details
        lines.append(
            f"- airgap report: {d.get('findings')} findings from {d.get('rules_fired')} rules, "
            f"{d.get('input_files')} files / {d.get('input_documents')} documents read, "
            f"{d.get('errors')} input errors."
        )
    for ck in checkovs:
        d = ck.details
        lines.append(
            f"- Checkov report ({ck.documents:,} manifests): "
            f"{d.get('resource_count')} resources, {d.get('failed')} failed / "
            f"{d.get('passed')} passed checks, {d.get('parsing_errors')} parsing errors."
        )
    lines += [f"- {n}" for n in notes]
    lines += [
        "",
        "Manifests = Kubernetes objects (YAML documents with a `kind`); Helm values files and the "
        "`.gitlab-ci.yml` are in the tree and in the MB, not in the manifest count. The floor is "
        "the time inside one interpreter's loop that reads every YAML file and runs "
        "`yaml.load_all(..., Loader=yaml.CSafeLoader)` on one core (no start-up); the other rows "
        "are whole-process wall times. Peak RSS is `ru_maxrss` of the largest process (what "
        "`/usr/bin/time -v` prints); Peak PSS sums all processes of the tree, sampled every 50 ms.",
        "",
        "Commands (from the repository root):",
        "",
        "```sh",
        *gen_cmds,
        bench_cmd,
        *(r.shell() for r in results.values()),
        "```",
        "",
    ]
    return "\n".join(lines)


# -- main -------------------------------------------------------------------------------------


def main(argv: list[str] | None = None) -> int:
    """CLI entry point."""
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--count", type=int, default=10_000, help="manifests in the tree (10000)")
    p.add_argument("--seed", type=int, default=42, help="generator seed (42)")
    p.add_argument("--repeat", type=int, default=3, help="runs of floor and airgap (3; median)")
    p.add_argument(
        "--checkov-count",
        type=int,
        action="append",
        metavar="N",
        help="run Checkov on a tree of N manifests (same generator and seed) instead of the "
        "--count tree; repeatable (e.g. 2000 and 10000 to show how it scales)",
    )
    p.add_argument("--checkov-repeat", type=int, default=1, help="Checkov runs (1)")
    p.add_argument("--skip-checkov", action="store_true", help="skip step 3")
    p.add_argument("--skip-airgap", action="store_true", help="skip step 2")
    p.add_argument("--airgap", default=str(REPO / ".venv" / "bin" / "airgap"), help="airgap binary")
    p.add_argument(
        "--airgap-arg",
        action="append",
        default=[],
        metavar="ARG",
        help="extra argument for airgap lint (repeatable), e.g. --airgap-arg=--config=airgap.yaml",
    )
    p.add_argument("--regen", action="store_true", help="regenerate trees even if cached")
    p.add_argument("--json", action="store_true", help="print raw numbers as JSON, not Markdown")
    p.add_argument("--floor-worker", type=Path, help=argparse.SUPPRESS)
    args = p.parse_args(argv)

    if args.floor_worker:
        return floor_worker(args.floor_worker)

    WORK.mkdir(parents=True, exist_ok=True)
    mach = machine()
    notes: list[str] = []
    tree, meta = ensure_tree(args.count, args.seed, args.regen)
    gen_cmds = [
        f".venv/bin/python benchmarks/gen_manifests.py --count {args.count} --seed {args.seed} "
        f"--out {rel(tree)}"
    ]
    bench_cmd = ".venv/bin/python " + shlex.join(["benchmarks/bench_lint.py", *sys.argv[1:]])
    for f in yaml_files(tree):  # warm the page cache so the first timed run is not penalised
        f.read_bytes()

    results: dict[str, Result] = {}
    print("1. floor: PyYAML CSafeLoader, one core", file=sys.stderr)
    results["floor"] = bench_floor(tree, meta, args.repeat)

    if args.skip_airgap:
        notes.append("airgap skipped (--skip-airgap).")
    elif (help_text := airgap_help(args.airgap)) is None:
        notes.append(f"`{rel(Path(args.airgap))} lint --help` failed: airgap lint not measured.")
        print("2. airgap lint: not available, skipped", file=sys.stderr)
    else:
        print("2. airgap lint", file=sys.stderr)
        extra = config_args(help_text, args.airgap_arg) + args.airgap_arg
        results["airgap"] = bench_airgap(args.airgap, tree, meta, args.repeat, extra)
        seen = results["airgap"].details.get("input_documents")
        expected = results["floor"].details["yaml_documents"]
        if seen is not None and seen != expected:
            notes.append(
                f"airgap reported {seen} input documents; the tree holds {expected} (all files)."
            )

    if not args.skip_checkov:
        print("3. Checkov", file=sys.stderr)
        exe = ensure_checkov(WORK / "checkov-venv")
        for n in args.checkov_count or [args.count]:
            ck_tree, ck_meta = tree, meta
            if n != args.count:
                ck_tree, ck_meta = ensure_tree(n, args.seed, args.regen)
                gen_cmds.append(
                    f".venv/bin/python benchmarks/gen_manifests.py --count {n} "
                    f"--seed {args.seed} --out {rel(ck_tree)}"
                )
                notes.append(
                    f"Checkov also ran on a {n:,}-manifest tree (same generator and seed); "
                    "rows on different trees are compared by throughput, not wall time."
                )
            print(f"  tree: {rel(ck_tree)}", file=sys.stderr)
            results[f"checkov-{n}"] = bench_checkov(exe, ck_tree, ck_meta, args.checkov_repeat)
    mach["loadavg_end"] = Path("/proc/loadavg").read_text().split()[:3]

    md = markdown(results, mach, gen_cmds, bench_cmd, notes)
    raw: dict[str, Any] = {
        "machine": mach,
        "tree": {k: meta[k] for k in ("count", "seed", "k8s_documents", "files", "bytes")},
        "results": {k: r.summary() for k, r in results.items()},
        "notes": notes,
    }
    if "floor" in results and "airgap" in results:
        raw["airgap_vs_floor"] = round(results["airgap"].wall / results["floor"].wall, 3)
    if "airgap" in results:
        raw["airgap_vs_checkov_throughput"] = {
            str(r.documents): round(_per_s(results["airgap"]) / _per_s(r), 1)
            for k, r in results.items()
            if k.startswith("checkov")
        }
    (WORK / "RESULTS-draft.md").write_text(md)
    (WORK / "results.json").write_text(json.dumps(raw, indent=2) + "\n")
    print(json.dumps(raw, indent=2) if args.json else md)
    print(
        f"wrote {rel(WORK / 'RESULTS-draft.md')} and {rel(WORK / 'results.json')}", file=sys.stderr
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
