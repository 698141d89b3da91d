"""Baselines: accept today's findings so that only new ones fail the pipeline."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from airgap_cli.core.errors import InputError
from airgap_cli.core.findings import Report, Suppressed

BASELINE_SCHEMA = "airgap/baseline/v1"


def baseline_document(report: Report) -> dict[str, Any]:
    """The baseline file content for every current finding (sorted, diff-friendly)."""
    entries = {
        f.fingerprint: {
            "fingerprint": f.fingerprint,
            "rule_id": f.rule_id,
            "path": f.location.path,
            "locator": f.location.locator,
        }
        for f in report.findings
    }
    return {
        "schema": BASELINE_SCHEMA,
        "created": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "command": report.command,
        "findings": [entries[k] for k in sorted(entries)],
    }


def write_baseline(report: Report, path: Path) -> int:
    """Write the baseline; returns how many findings it accepts."""
    document = baseline_document(report)
    path.write_text(json.dumps(document, indent=2) + "\n", encoding="utf-8")
    return len(document["findings"])


def load_baseline(path: Path) -> dict[str, str]:
    """Fingerprint -> reason, from a baseline file (an airgap baseline or a JSON report)."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise InputError("baseline file not found", path=path) from None
    except (OSError, UnicodeDecodeError) as exc:
        raise InputError(f"cannot read baseline: {exc}", path=path) from None
    except json.JSONDecodeError as exc:
        raise InputError(f"invalid JSON: {exc.msg}", path=path, line=exc.lineno) from None
    if not isinstance(data, dict) or not isinstance(data.get("findings"), list):
        raise InputError("not an airgap baseline (no findings list)", path=path)
    accepted: dict[str, str] = {}
    for entry in data["findings"]:
        if isinstance(entry, dict) and isinstance(entry.get("fingerprint"), str):
            accepted[entry["fingerprint"]] = str(entry.get("reason") or "accepted in baseline")
    return accepted


def apply_baseline(report: Report, accepted: dict[str, str]) -> int:
    """Move accepted findings to ``report.suppressed``; returns how many were moved."""
    kept, moved = [], 0
    for finding in report.findings:
        if finding.fingerprint in accepted:
            report.suppressed.append(Suppressed(finding, accepted[finding.fingerprint], "baseline"))
            moved += 1
        else:
            kept.append(finding)
    report.findings = kept
    return moved
