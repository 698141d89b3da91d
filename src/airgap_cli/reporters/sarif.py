"""``--format sarif``: SARIF 2.1.0 for IDEs, code-scanning dashboards and DefectDojo."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any
from urllib.parse import quote

from airgap_cli.core.findings import Finding, Location, Report, Severity, Suppressed
from airgap_cli.reporters.base import RenderOptions, Reporter, register
from airgap_cli.reporters.codequality import ci_path

SARIF_SCHEMA_URI = "https://json.schemastore.org/sarif-2.1.0.json"
SARIF_VERSION = "2.1.0"

SARIF_LEVEL = {
    Severity.INFO: "note",
    Severity.LOW: "note",
    Severity.MEDIUM: "warning",
    Severity.HIGH: "error",
    Severity.CRITICAL: "error",
}
"""SARIF has three result levels, so two of our severities share each of the outer ones."""

SECURITY_SEVERITY = {
    Severity.INFO: "0.0",
    Severity.LOW: "3.0",
    Severity.MEDIUM: "5.5",
    Severity.HIGH: "8.0",
    Severity.CRITICAL: "9.5",
}
"""CVSS-like scores that keep all five severities apart in code-scanning dashboards.

Written as numeric strings, the form GitHub code scanning documents and CodeQL emits.
"""

_IN_SOURCE = {"inline", "annotation"}
"""Suppression sources written in the scanned file itself; the others live in baseline/config."""


def artifact_uri(path: str) -> str:
    """A relative URI reference for a path; ``%``-encoded, so ``egress:`` stays a path."""
    return quote(ci_path(path), safe="/@!$&'()*+,;=")


def _physical(path: str, line: int | None, column: int | None) -> dict[str, Any]:
    physical: dict[str, Any] = {"artifactLocation": {"uri": artifact_uri(path)}}
    if line is not None and line >= 1:
        region: dict[str, int] = {"startLine": line}
        if column is not None and column >= 1:
            region["startColumn"] = column
        physical["region"] = region
    return physical


def _location(loc: Location) -> dict[str, Any]:
    out: dict[str, Any] = {"physicalLocation": _physical(loc.path, loc.line, loc.column)}
    if loc.resource or loc.pointer:
        out["logicalLocations"] = [
            {
                "name": loc.resource or loc.pointer,
                "fullyQualifiedName": loc.locator or loc.pointer,
                "kind": "resource",
            }
        ]
    return out


def _severity(value: Any, fallback: Severity) -> Severity:
    try:
        return Severity.parse(str(value))
    except ValueError:
        return fallback


def _rule_name(rule_id: str) -> str:
    """SARIF wants an identifier-like friendly name: ``image-tag-latest`` -> ``ImageTagLatest``."""
    words = rule_id.replace("/", "-").replace("_", "-").replace(".", "-").split("-")
    return "".join(w[:1].upper() + w[1:] for w in words if w) or rule_id


def _descriptor(rule_id: str, meta: Mapping[str, Any], example: Finding | None) -> dict[str, Any]:
    """A ``reportingDescriptor`` from rule metadata, filled in from a finding where it is silent."""
    title = str(meta.get("title") or (example.title if example else "") or rule_id)
    full = str(meta.get("description") or meta.get("help") or title)
    remediation = str(
        meta.get("remediation") or meta.get("help") or (example.remediation if example else "")
    )
    default = example.severity if example else Severity.MEDIUM
    severity = _severity(meta["severity"], default) if "severity" in meta else default
    compliance = meta.get("compliance")
    tags = (
        [str(t) for t in compliance]
        if isinstance(compliance, list | tuple)
        else list(example.compliance if example else ())
    )
    descriptor: dict[str, Any] = {
        "id": rule_id,
        "name": str(meta.get("name") or _rule_name(rule_id)),
        "shortDescription": {"text": title},
        "fullDescription": {"text": full},
        "defaultConfiguration": {"level": SARIF_LEVEL[severity]},
        "properties": {
            "tags": ["security", *tags],
            "security-severity": SECURITY_SEVERITY[severity],
        },
    }
    if remediation:
        descriptor["help"] = {"text": remediation}
    return descriptor


def _result(finding: Finding, rule_index: int) -> dict[str, Any]:
    properties: dict[str, Any] = {"severity": finding.severity.value}
    if finding.evidence is not None:
        properties["evidence"] = finding.evidence
    return {
        "ruleId": finding.rule_id,
        "ruleIndex": rule_index,
        "level": SARIF_LEVEL[finding.severity],
        "message": {"text": finding.message},
        "locations": [_location(finding.location)],
        "partialFingerprints": {"airgap/v1": finding.fingerprint},
        "properties": properties,
    }


def _suppression(item: Suppressed) -> dict[str, Any]:
    suppression: dict[str, Any] = {
        "kind": "inSource" if item.source in _IN_SOURCE else "external",
        "status": "accepted",
        "properties": {"source": item.source},
    }
    if item.reason:
        suppression["justification"] = item.reason
    return suppression


@register
class SarifReporter(Reporter):
    """One run: rules, active and suppressed results, input errors as notifications."""

    name = "sarif"
    media_type = "application/sarif+json"

    def render(self, report: Report, options: RenderOptions) -> str:
        findings = report.sorted_findings()
        suppressed = sorted(report.suppressed, key=lambda s: s.finding.sort_key())
        examples: dict[str, Finding] = {}
        for finding in [*findings, *(s.finding for s in suppressed)]:
            examples.setdefault(finding.rule_id, finding)
        rule_ids = sorted(set(report.rules) | set(examples))
        index = {rule_id: i for i, rule_id in enumerate(rule_ids)}
        rules = [_descriptor(r, report.rules.get(r, {}), examples.get(r)) for r in rule_ids]

        results = [_result(f, index[f.rule_id]) for f in findings]
        for item in suppressed:
            result = _result(item.finding, index[item.finding.rule_id])
            result["suppressions"] = [_suppression(item)]
            results.append(result)

        notifications: list[dict[str, Any]] = [
            {
                "level": "error",
                "message": {"text": issue.message},
                "locations": [{"physicalLocation": _physical(issue.path, issue.line, None)}],
            }
            for issue in report.errors
        ]
        notifications += [
            {
                "level": "note",
                "message": {"text": f"skipped: {skipped.reason}"},
                "locations": [{"physicalLocation": _physical(skipped.path, None, None)}],
            }
            for skipped in report.skipped
        ]
        invocation: dict[str, Any] = {"executionSuccessful": not report.errors}
        if notifications:
            invocation["toolExecutionNotifications"] = notifications

        document = {
            "$schema": SARIF_SCHEMA_URI,
            "version": SARIF_VERSION,
            "runs": [
                {
                    "tool": {
                        "driver": {
                            "name": "airgap",
                            "version": report.tool_version,
                            "informationUri": options.tool_uri,
                            "rules": rules,
                        }
                    },
                    "automationDetails": {"id": f"airgap/{report.command}/"},
                    "columnKind": "unicodeCodePoints",
                    "invocations": [invocation],
                    "results": results,
                }
            ],
        }
        return json.dumps(document, indent=2, ensure_ascii=False) + "\n"
