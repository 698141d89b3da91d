"""``--format codequality``: GitLab Code Quality JSON for ``artifacts:reports:codequality``."""

from __future__ import annotations

import json
from pathlib import Path, PurePath
from typing import Any

from airgap_cli.core.findings import Report, Severity
from airgap_cli.reporters.base import RenderOptions, Reporter, register

CODEQUALITY_SEVERITY = {
    Severity.INFO: "info",
    Severity.LOW: "minor",
    Severity.MEDIUM: "major",
    Severity.HIGH: "critical",
    Severity.CRITICAL: "blocker",
}
"""GitLab's five levels; ``critical`` there is our ``high``, ``blocker`` our ``critical``."""


def ci_path(path: str, base: Path | None = None) -> str:
    """The repository-relative POSIX path CI widgets link to files with.

    GitLab and SARIF viewers resolve paths against the project root, so ``./k8s/a.yaml`` and an
    absolute path under ``base`` (default: the working directory, which is the project root in a
    CI job) both become ``k8s/a.yaml``. Stdin (``-``) has no file and is called ``stdin``.
    """
    if path == "-":
        return "stdin"
    pure = PurePath(path)
    if pure.is_absolute():
        root = base if base is not None else Path.cwd()
        try:
            pure = pure.relative_to(root)
        except ValueError:
            return pure.as_posix()
    return pure.as_posix()


@register
class CodeQualityReporter(Reporter):
    """One Code Quality issue per active finding; suppressed ones stay out of the MR widget."""

    name = "codequality"
    media_type = "application/json"

    def render(self, report: Report, options: RenderOptions) -> str:
        issues: list[dict[str, Any]] = []
        seen: dict[str, int] = {}
        for finding in report.sorted_findings():
            # GitLab collapses equal fingerprints into one widget entry, which would hide a finding.
            fp = finding.fingerprint
            seen[fp] = seen.get(fp, 0) + 1
            if seen[fp] > 1:
                fp = f"{fp}-{seen[fp]}"
            issues.append(
                {
                    "description": finding.message,
                    "check_name": finding.rule_id,
                    "fingerprint": fp,
                    "severity": CODEQUALITY_SEVERITY[finding.severity],
                    "location": {
                        "path": ci_path(finding.location.path),
                        "lines": {"begin": finding.location.line or 1},
                    },
                    "categories": ["Security"],
                    "type": "issue",
                    "engine_name": "airgap",
                }
            )
        return json.dumps(issues, indent=2, ensure_ascii=False) + "\n"
