"""Benchmark `airgap report` on 10,000 findings, and `check --shard` merged against one run.

Two figures of issue 10:

1. **Report of 10,000 findings rendered in <= 2 s**: one `lint` result of 10,000 findings (from
   400 rules over 2,500 files, tagged with the controls the real rules carry, 40 of them
   suppressed with reasons) plus an `egress run` result of 200 destinations, written once under
   `benchmarks/.work/report/`. Timed: the whole `airgap report` process for HTML, Markdown and
   JSON (median of `--repeat` runs, start-up included), and in-process phase by phase (read and
   schema-check, assess, render).
2. **`check --shard` over N shards merged gives the same findings as one run**: `airgap check`
   of the 10,000-manifest lint tree (`gen_manifests.py --count 10000 --seed 42`) once whole and
   as N shards joined by `airgap merge`; compared finding by finding (fingerprints, lines,
   suppressions, inputs), with the wall time of each shard and of the merge.

    .venv/bin/python benchmarks/bench_report.py [--findings 10000] [--repeat 5] [--shards 2 4]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import random
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
WORK = ROOT / "benchmarks" / ".work" / "report"
BIN = Path(sys.executable).parent
TAGS = [
    ("NIST-800-53:SC-7", "NIST-800-53:SR-3", "NIST-800-53:SR-11"),
    ("NIST-800-53:CM-7", "NIST-800-53:AC-6"),
    ("NIST-800-53:CM-6", "NIST-800-53:SI-4"),
    ("NIST-800-53:SR-4", "NIST-800-53:SI-7", "OWASP-LLM:LLM03:2025"),
    ("NIST-800-53:SC-7", "NIST-800-53:AC-4"),
]
SEVERITIES = ["info", "low", "medium", "medium", "high", "high", "critical"]


def make_results(findings: int) -> list[Path]:
    """A lint result with ``findings`` findings and an egress result, written once."""
    from airgap_cli import __version__
    from airgap_cli.core.findings import (
        Finding,
        InputRecord,
        Location,
        Report,
        Severity,
        Suppressed,
    )
    from airgap_cli.egress.events import Attempt, Process, summarise
    from airgap_cli.egress.policy import RULES as EGRESS_RULES
    from airgap_cli.egress.policy import egress_findings
    from airgap_cli.egress.run import EgressRun, empty_report

    WORK.mkdir(parents=True, exist_ok=True)
    lint_path, egress_path = WORK / f"lint-{findings}.json", WORK / "egress-200.json"
    if not lint_path.exists():
        rng = random.Random(42)
        report = Report(command="lint", tool_version=__version__)
        report.rules = {
            f"rule-{r:03d}": {"severity": SEVERITIES[r % 7], "compliance": list(TAGS[r % 5])}
            for r in range(400)
        }
        files = [f"apps/team-{i % 50:02d}/svc-{i:04d}/deploy.yaml" for i in range(2500)]
        report.inputs = [InputRecord(f, f"{i:064x}", 4) for i, f in enumerate(files)]
        for i in range(findings):
            rule = rng.randrange(400)
            path = files[i % len(files)]
            finding = Finding(
                rule_id=f"rule-{rule:03d}",
                severity=Severity(SEVERITIES[rule % 7]),
                title=f"Rule {rule} title",
                message=f"Container app-{i} image registry.example.com/app:{i} breaks rule {rule}",
                location=Location(
                    path, 10 + i % 300, None, f"Deployment/team/app-{i}", f"/spec/x/{i}"
                ),
                evidence=f"https://api.vendor-{i % 97}.example.com/v1/{'x' * (i % 40)}",
                remediation="Mirror the image into the internal registry and pin it by digest.",
                compliance=TAGS[rule % 5],
            )
            if i % 250 == 0:
                report.suppressed.append(Suppressed(finding, f"accepted in CHG-{i}", "inline"))
            else:
                report.findings.append(finding)
        lint_path.write_text(json.dumps(report.to_dict(), indent=2))
    if not egress_path.exists():
        shell = Process(7, ("/bin/sh", "-c", "pytest"), "/bin/sh")
        attempts = [
            Attempt(0.1, "tcp", "tcp", f"host-{i}.vendor.example", "198.18.0.9", 443, process=shell)
            for i in range(200)
        ]
        run = EgressRun(["pytest"], 0, attempts, 3.0, 400)
        egress = empty_report(run)
        egress.findings, _ = egress_findings(summarise(attempts))
        egress.rules = dict(EGRESS_RULES)
        egress_path.write_text(json.dumps(egress.to_dict(), indent=2))
    return [lint_path, egress_path]


def timed(argv: list[str], repeat: int) -> tuple[float, float, float]:
    """Median and min/max wall seconds of ``repeat`` runs (exit 0 or 1 accepted)."""
    runs = []
    for _ in range(repeat):
        started = time.perf_counter()
        done = subprocess.run(argv, capture_output=True)
        runs.append(time.perf_counter() - started)
        if done.returncode not in (0, 1):
            raise SystemExit(f"{' '.join(argv)} failed: {done.stderr.decode()[-2000:]}")
    return statistics.median(runs), min(runs), max(runs)


def phases(paths: list[Path]) -> dict[str, float]:
    """In-process seconds per phase, best of three."""
    from airgap_cli.audit.assess import AuditOptions, assess
    from airgap_cli.audit.controls import load_controls
    from airgap_cli.audit.html import render_html
    from airgap_cli.audit.markdown import render_markdown
    from airgap_cli.core.results import load_results

    best: dict[str, float] = {}
    for _ in range(3):
        clock = time.perf_counter()
        results, problems = load_results([str(p) for p in paths])
        read = time.perf_counter()
        audit = assess(results, problems, load_controls(), AuditOptions())
        assessed = time.perf_counter()
        render_html(audit)
        html = time.perf_counter()
        render_markdown(audit)
        markdown = time.perf_counter()
        json.dumps(audit, indent=2)
        done = time.perf_counter()
        for name, seconds in (
            ("read + schema check", read - clock),
            ("assess", assessed - read),
            ("render HTML", html - assessed),
            ("render Markdown", markdown - html),
            ("render JSON", done - markdown),
        ):
            best[name] = min(best.get(name, seconds), seconds)
    return best


def shard_comparison(shards: list[int]) -> list[dict[str, Any]]:
    """Whole `airgap check` of the 10k tree against N shards + merge, finding by finding."""
    tree = ROOT / "benchmarks" / ".work" / "tree-10000-s42"
    if not tree.exists():
        subprocess.run(
            [sys.executable, str(ROOT / "benchmarks" / "gen_manifests.py"), "--count", "10000",
             "--seed", "42", "--out", str(tree)],
            check=True,
        )  # fmt: skip
    config = WORK / "airgap-shards.yaml"
    config.write_text(
        "internal:\n  registries: [registry.airgap.internal]\n  domains: ['*.corp.internal']\n"
    )
    airgap = str(BIN / "airgap")
    common = ["--config", str(config), "--fail-on", "never", "-f", "json", "-q"]

    def run(argv: list[str]) -> float:
        started = time.perf_counter()
        done = subprocess.run(argv, capture_output=True)
        if done.returncode != 0:
            raise SystemExit(f"{' '.join(argv)}: {done.stderr.decode()[-2000:]}")
        return time.perf_counter() - started

    whole_out = WORK / "check-whole.json"
    whole_time = run([airgap, "check", str(tree), *common, "-o", str(whole_out)])
    whole = json.loads(whole_out.read_text())
    rows = []
    for total in shards:
        outs, times = [], []
        for index in range(1, total + 1):
            out = WORK / f"check-{index}-of-{total}.json"
            times.append(
                run([airgap, "check", str(tree), "--shard", f"{index}/{total}", *common,
                     "-o", str(out)])
            )  # fmt: skip
            outs.append(str(out))
        merged_out = WORK / f"check-merged-{total}.json"
        merge_time = run([airgap, "merge", *outs, *common, "-o", str(merged_out)])
        merged = json.loads(merged_out.read_text())
        rows.append(
            {
                "shards": total,
                "whole_s": whole_time,
                "slowest_shard_s": max(times),
                "merge_s": merge_time,
                "findings": len(merged["findings"]),
                "whole_findings": len(whole["findings"]),
                "same": _signature(merged) == _signature(whole),
            }
        )
    return rows


def _signature(result: dict[str, Any]) -> tuple[Any, ...]:
    return (
        sorted((f["fingerprint"], f["location"]["line"]) for f in result["findings"]),
        sorted(s["finding"]["fingerprint"] for s in result["suppressed"]),
        sorted((i["path"], i["sha256"]) for i in result["inputs"]),
        result["summary"],
    )


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--findings", type=int, default=10_000)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--shards", type=int, nargs="*", default=[2, 4])
    args = parser.parse_args()
    paths = make_results(args.findings)
    airgap = str(BIN / "airgap")
    print(
        f"Machine: {os.cpu_count()} CPUs, {platform.platform()}, Python {platform.python_version()}"
    )
    print(f"Load average at start: {' '.join(f'{x:.2f}' for x in os.getloadavg())}\n")
    print(f"`airgap report` on {args.findings:,} findings + 200 egress destinations "
          f"({sum(p.stat().st_size for p in paths) / 1e6:.1f} MB of results)\n")  # fmt: skip
    print("| Output | Wall, median (min-max) | Output size | Target <= 2 s |")
    print("|---|---|---|---|")
    for fmt, suffix in (("html", "html"), ("markdown", "md"), ("json", "json")):
        out = WORK / f"audit.{suffix}"
        median, low, high = timed(
            [airgap, "report", *map(str, paths), "-f", fmt, "-o", str(out), "-q"], args.repeat
        )
        verdict = "met" if median <= 2 else "NOT met"
        size = out.stat().st_size / 1e6
        print(f"| {fmt} | {median:.2f} s ({low:.2f}-{high:.2f}) | {size:.1f} MB | {verdict} |")
    print("\nIn-process, best of 3:\n")
    print("| Phase | Seconds |")
    print("|---|---|")
    for name, seconds in phases(paths).items():
        print(f"| {name} | {seconds:.3f} |")
    if args.shards:
        print(
            "\n`airgap check` of the 10,000-manifest tree, whole and as N shards + `airgap merge`:\n"
        )
        print("| Shards | Whole run | Slowest shard | Merge | Findings (whole) | Same findings |")
        print("|---|---|---|---|---|---|")
        for row in shard_comparison(args.shards):
            print(
                f"| {row['shards']} | {row['whole_s']:.2f} s | {row['slowest_shard_s']:.2f} s | "
                f"{row['merge_s']:.2f} s | {row['findings']} ({row['whole_findings']}) | "
                f"{'yes' if row['same'] else 'NO'} |"
            )
    print(f"\nLoad average at end: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")


if __name__ == "__main__":
    main()
