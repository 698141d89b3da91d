"""API changes as findings: oasdiff levels mapped onto severities, ignore files and overrides applied.

Why a mapping: every reporter, ``--fail-on`` and the baseline speak severities; a change keeps
its oasdiff ``level`` beside it (``error`` is high, ``warning`` medium, ``info`` info), so SARIF
and Code Quality show breaking changes as errors and users keep oasdiff's vocabulary.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path

from airgap_cli.core.findings import Finding, Location, Severity, Suppressed, fingerprint
from airgap_cli.openapi.diff import Change, compare
from airgap_cli.openapi.ignore import apply, load_ignore
from airgap_cli.openapi.loader import Spec

LEVEL_SEVERITY = {"error": Severity.HIGH, "warning": Severity.MEDIUM, "info": Severity.INFO}
"""oasdiff level -> our severity."""
LEVEL_FAIL_ON = {"error": "high", "warning": "medium", "info": "info", "never": "never"}
"""``--fail-on`` by level -> the severity threshold the report uses."""
BREAKING_LEVELS = frozenset({"error", "warning"})

_REMEDIATION = {
    "error": "Keep the old behaviour (or version the API); if the break is intended and "
    "announced, accept it with an ignore-file line.",
    "warning": "Check the API's consumers; accept it with an ignore-file line once reviewed.",
    "info": "",
}


def change_finding(change: Change) -> Finding:
    """One Finding per Change; the locator includes the message so two value changes differ."""
    resource = change.operations[0] if len(change.operations) == 1 else ""
    location = Location(
        path=change.doc, line=change.line, pointer=change.pointer, resource=resource
    )
    key = Location(path=change.doc, pointer=f"{change.pointer}\x1f{change.message}")
    return Finding(
        rule_id=change.id,
        severity=LEVEL_SEVERITY[change.level],
        title=change.id.replace("-", " ").capitalize(),
        message=change.message,
        location=location,
        remediation=_REMEDIATION[change.level],
        fingerprint=fingerprint(change.id, key),
        level=change.level,
        operations=change.operations,
    )


def compare_findings(
    old: Spec,
    new: Spec,
    *,
    breaking_only: bool,
    ignore_files: Iterable[Path] = (),
    levels: Mapping[str, str] | None = None,
) -> tuple[list[Finding], list[Suppressed]]:
    """Findings for every change from ``old`` to ``new`` (only error/warning when breaking_only).

    Changes matched by an ignore file come back as Suppressed (the audit trail keeps them).
    """
    changes: Sequence[Change] = compare(old, new)
    ignore = [load_ignore(path) for path in ignore_files]
    kept, ignored = apply(changes, ignore, dict(levels or {}))
    if breaking_only:
        kept = [c for c in kept if c.level in BREAKING_LEVELS]
        ignored = [c for c in ignored if c.level in BREAKING_LEVELS]
    findings = [change_finding(c) for c in kept]
    suppressed = [
        Suppressed(change_finding(c), "accepted in an ignore file", "ignore") for c in ignored
    ]
    return findings, suppressed
