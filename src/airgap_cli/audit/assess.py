"""The audit: results of the other commands in, one verdict per control out, with evidence.

Pure: the inputs are :class:`ResultFile` records and the controls; the output is the versioned
``airgap/audit/v1`` document (``docs/schemas/audit.schema.json``) that the HTML and Markdown
renderers draw and that ``--sign`` signs. Deterministic for the same inputs and time, so two
reports can be diffed.
"""

from __future__ import annotations

import os
import platform
import socket
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from airgap_cli import __version__
from airgap_cli.audit.controls import Control
from airgap_cli.core.findings import FAIL_ON_CHOICES, Finding, InputIssue, Severity
from airgap_cli.core.results import ResultFile

AUDIT_SCHEMA = "airgap/audit/v1"
SATISFIED, NOT_SATISFIED, INCONCLUSIVE, NOT_ASSESSED = (
    "satisfied",
    "not-satisfied",
    "inconclusive",
    "not-assessed",
)
VERDICTS = (SATISFIED, NOT_SATISFIED, INCONCLUSIVE, NOT_ASSESSED)
PASS, FAIL, INCOMPLETE = "pass", "fail", "incomplete"
PARTIAL_RUNGS = frozenset({"python-audit-hooks"})
"""Egress rungs that see only part of the traffic (``egress.hooks.RUNG``): no complete record."""


@dataclass(frozen=True, slots=True)
class AuditOptions:
    """What the reviewer asked for."""

    fail_on: str = "low"
    """Findings at or above this severity make a control not satisfied; lower ones are
    observations. ``never``: no finding fails a control."""
    title: str = "Air-gap audit report"
    argv: tuple[str, ...] = ()
    generated: str = ""
    """ISO 8601 UTC time; empty: now, or ``SOURCE_DATE_EPOCH`` when set."""
    machine: dict[str, Any] = field(default_factory=dict)
    """Empty: this machine's facts (:func:`machine_facts`)."""


def generated_now() -> str:
    """Now in UTC, or ``SOURCE_DATE_EPOCH`` (reproducible reports), to the second."""
    epoch = os.environ.get("SOURCE_DATE_EPOCH", "").strip()
    seconds = int(epoch) if epoch.isdigit() else int(time.time())
    return datetime.fromtimestamp(seconds, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def machine_facts() -> dict[str, Any]:
    """Where the report was made: enough to tell two runners apart, nothing secret."""
    return {
        "hostname": socket.gethostname(),
        "os": f"{platform.system()} {platform.release()}",
        "arch": platform.machine(),
        "python": platform.python_version(),
        "cpus": os.cpu_count() or 0,
        "ci_job": os.environ.get("CI_JOB_URL") or os.environ.get("CI_JOB_ID") or None,
    }


def machine_line(machine: dict[str, Any]) -> str:
    """``host, Linux 6.1, x86_64, Python 3.11.7, 2 CPUs`` for the renderers."""
    parts = [machine.get("hostname"), machine.get("os"), machine.get("arch")]
    if machine.get("python"):
        parts.append(f"Python {machine['python']}")
    if machine.get("cpus"):
        parts.append(f"{machine['cpus']} CPUs")
    return ", ".join(str(p) for p in parts if p)


class _Mapper:
    """Finding -> control ids, cached per rule and tags (a report repeats both often)."""

    def __init__(self, controls: Sequence[Control]) -> None:
        self.controls = controls
        self._cache: dict[tuple[str, tuple[str, ...]], list[str]] = {}

    def __call__(self, rule_id: str, tags: Sequence[str]) -> list[str]:
        key = (rule_id, tuple(tags))
        found = self._cache.get(key)
        if found is None:
            found = [c.id for c in self.controls if c.counts(rule_id, tags)]
            self._cache[key] = found
        return found


def assess(
    results: Sequence[ResultFile],
    problems: Sequence[InputIssue],
    controls: Sequence[Control],
    options: AuditOptions,
) -> dict[str, Any]:
    """The audit document: a verdict per control, the findings with their evidence, and what
    was examined (``problems``: result files that could not be read, kept in the report)."""
    if options.fail_on not in FAIL_ON_CHOICES:
        raise ValueError(f"unknown fail_on {options.fail_on!r}")
    threshold = None if options.fail_on == "never" else Severity.parse(options.fail_on).rank
    mapper = _Mapper(controls)
    findings, suppressed = _collect(results, mapper, threshold)
    verdicts = [
        _assess_control(control, results, findings, suppressed, mapper) for control in controls
    ]
    counts = {v: sum(1 for c in verdicts if c["verdict"] == v) for v in VERDICTS}
    if counts[NOT_SATISFIED]:
        verdict = FAIL
    elif problems or counts[INCONCLUSIVE] or counts[NOT_ASSESSED]:
        verdict = INCOMPLETE
    else:
        verdict = PASS
    by_severity = {s.value: 0 for s in Severity}
    for entry in findings:
        by_severity[entry["severity"]] += 1
    return {
        "schema": AUDIT_SCHEMA,
        "title": options.title,
        "tool": {"name": "airgap", "version": __version__},
        "generated": options.generated or generated_now(),
        "machine": options.machine or machine_facts(),
        "command": list(options.argv),
        "fail_on": options.fail_on,
        "verdict": verdict,
        "summary": {
            "controls": counts,
            "findings": len(findings),
            "failing": sum(1 for f in findings if f["failing"]),
            "by_severity": by_severity,
            "suppressed": len(suppressed),
            "results": len(results),
            "unreadable": len(problems),
        },
        "controls": verdicts,
        "results": [r.describe() for r in results],
        "unreadable": [p.to_dict() for p in problems],
        "findings": findings,
        "suppressed": suppressed,
        "egress": _egress(results),
        "bundles": _bundles(results),
        "models": _models(results),
        "inventory": _inventory(results),
        "inputs": [
            {**i.to_dict(), "result": ri} for ri, r in enumerate(results) for i in r.report.inputs
        ],
        "not_examined": [
            {"path": e.path, "line": e.line, "status": "error", "reason": e.message, "result": ri}
            for ri, r in enumerate(results)
            for e in r.report.errors
        ]
        + [
            {"path": s.path, "line": None, "status": "skipped", "reason": s.reason, "result": ri}
            for ri, r in enumerate(results)
            for s in r.report.skipped
        ],
    }


def _collect(
    results: Sequence[ResultFile], mapper: _Mapper, threshold: int | None
) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """Findings and suppressed findings of every result, each once (by fingerprint), with the
    results that reported it and the controls it counts against."""
    findings: list[dict[str, Any]] = []
    suppressed: list[dict[str, Any]] = []
    seen: dict[str, dict[str, Any]] = {}
    seen_suppressed: dict[str, dict[str, Any]] = {}

    def entry(finding: Finding, ri: int) -> dict[str, Any]:
        data = finding.to_dict()
        data["controls"] = mapper(finding.rule_id, finding.compliance)
        data["results"] = [ri]
        return data

    for ri, result in enumerate(results):
        for finding in result.report.sorted_findings():
            known = seen.get(finding.fingerprint)
            if known is not None:
                if ri not in known["results"]:
                    known["results"].append(ri)
                continue
            data = entry(finding, ri)
            data["failing"] = threshold is not None and finding.severity.rank >= threshold
            seen[finding.fingerprint] = data
            findings.append(data)
        for item in result.report.suppressed:
            known = seen_suppressed.get(item.finding.fingerprint)
            if known is not None:
                if ri not in known["results"]:
                    known["results"].append(ri)
                continue
            data = entry(item.finding, ri)
            data.update(reason=item.reason, source=item.source)
            seen_suppressed[item.finding.fingerprint] = data
            suppressed.append(data)
    return findings, suppressed


def _assess_control(
    control: Control,
    results: Sequence[ResultFile],
    findings: list[dict[str, Any]],
    suppressed: list[dict[str, Any]],
    mapper: _Mapper,
) -> dict[str, Any]:
    evidence: list[dict[str, Any]] = []
    unmet: list[tuple[str, str]] = []  # (verdict, reason) from evidence requirements
    unread = 0
    for ri, result in enumerate(results):
        rules = sorted(
            rule_id
            for rule_id, meta in result.report.rules.items()
            if control.id in mapper(rule_id, tuple(meta.get("compliance") or ()))
        )
        shows = [e for e in control.evidence if e.command == result.command]
        if not rules and not shows:
            continue
        record: dict[str, Any] = {
            "result": ri,
            "path": result.path,
            "command": result.command,
            "rules": rules,
            "shows": [e.shows for e in shows],
        }
        for requirement in {e.require for e in shows if e.require}:
            problem = _requirement(requirement, result)
            if problem is not None:
                unmet.append(problem)
                record["problem"] = problem[1]
        if result.report.errors:
            unread += len(result.report.errors)
            record["unread_inputs"] = len(result.report.errors)
        evidence.append(record)
    mine = [f for f in findings if control.id in f["controls"]]
    failing = [f["fingerprint"] for f in mine if f["failing"]]
    verdict, reason = _verdict(control, evidence, failing, unmet, unread)
    return {
        **control.to_dict(),
        "verdict": verdict,
        "reason": reason,
        "evidence": evidence,
        "failing": failing,
        "observations": [f["fingerprint"] for f in mine if not f["failing"]],
        "exceptions": [s["fingerprint"] for s in suppressed if control.id in s["controls"]],
    }


def _requirement(requirement: str, result: ResultFile) -> tuple[str, str] | None:
    details = result.report.details
    if requirement == "complete-record":
        egress = details.get("egress") or {}
        rung = egress.get("rung")
        if rung in PARTIAL_RUNGS:
            command = " ".join(map(str, egress.get("command") or ()))
            return (
                INCONCLUSIVE,
                f"the egress run of `{command}` ({result.path}) ran on the {rung} rung, which "
                "records only attempts made through Python's socket layer",
            )
    elif requirement == "verified":
        bundle = details.get("bundle") or {}
        if bundle and bundle.get("verified") is not True:
            return (NOT_SATISFIED, f"{bundle.get('path')} did not verify ({result.path})")
    return None


def _verdict(
    control: Control,
    evidence: list[dict[str, Any]],
    failing: list[str],
    unmet: list[tuple[str, str]],
    unread: int,
) -> tuple[str, str]:
    if not evidence:
        commands = sorted({e.command for e in control.evidence})
        hint = f" (e.g. {', '.join(commands)})" if commands else ""
        return NOT_ASSESSED, f"no result given runs a rule or check mapped to {control.id}{hint}"
    if failing:
        return NOT_SATISFIED, f"{len(failing)} finding(s) at or above the failing severity"
    for verdict, reason in unmet:
        if verdict == NOT_SATISFIED:
            return verdict, reason
    if unmet:
        return unmet[0]
    if unread:
        return (
            INCONCLUSIVE,
            f"{unread} input(s) could not be read, so their content is not assessed",
        )
    sources = sorted({e["command"] for e in evidence})
    return (
        SATISFIED,
        f"assessed by {', '.join(sources)}; no finding at or above the failing severity",
    )


def _egress(results: Sequence[ResultFile]) -> list[dict[str, Any]]:
    runs = []
    for ri, result in enumerate(results):
        egress = result.report.details.get("egress")
        if not isinstance(egress, dict) or "destinations" not in egress:
            continue
        runs.append(
            {
                "result": ri,
                "command": [str(a) for a in egress.get("command") or ()],
                "exit_status": egress.get("exit_status"),
                "rung": egress.get("rung"),
                "guarantee": egress.get("guarantee"),
                "duration": egress.get("duration"),
                "packets": egress.get("packets"),
                "attempts": len(egress.get("attempts") or ()),
                "destinations": [
                    {
                        "label": d.get("label"),
                        "verdicts": list(d.get("verdicts") or ()),
                        "count": d.get("count"),
                        "processes": list(d.get("processes") or ()),
                    }
                    for d in egress["destinations"]
                    if isinstance(d, dict)
                ],
            }
        )
    return runs


def _bundles(results: Sequence[ResultFile]) -> list[dict[str, Any]]:
    found = []
    for ri, result in enumerate(results):
        bundle = result.report.details.get("bundle")
        if isinstance(bundle, dict):
            found.append(
                {
                    "result": ri,
                    "path": bundle.get("path"),
                    "signature": bundle.get("signature"),
                    "kind": bundle.get("kind"),
                    "files": bundle.get("files"),
                    "verified": bundle.get("verified") is True,
                    "findings": len(result.report.findings),
                }
            )
    return found


def _models(results: Sequence[ResultFile]) -> list[dict[str, Any]]:
    found = []
    for ri, result in enumerate(results):
        scan = result.report.details.get("bundle-scan")
        infos = scan.get("files", ()) if isinstance(scan, dict) else ()
        found += [
            {
                "result": ri,
                "path": info.get("path"),
                "format": info.get("format"),
                "size": info.get("size"),
                "pickle_bearing": bool(info.get("pickle_bearing")),
                "verdict": info.get("verdict"),
            }
            for info in infos
            if isinstance(info, dict)
        ]
    return found


def _inventory(results: Sequence[ResultFile]) -> list[dict[str, Any]]:
    found = []
    for ri, result in enumerate(results):
        bom = result.report.details.get("mlbom")
        if isinstance(bom, dict):
            found += [{**c, "result": ri} for c in bom.get("components", ())]
    return found


def exit_code(audit: dict[str, Any], *, strict: bool = False) -> int:
    """2 when a result could not be read, 1 when a control is not satisfied (with ``strict``
    also when one is inconclusive or not assessed), else 0."""
    if audit["unreadable"]:
        return 2
    if audit["verdict"] == FAIL or (strict and audit["verdict"] == INCOMPLETE):
        return 1
    return 0
