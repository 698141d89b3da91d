"""The one result model every pillar returns: ``Finding`` inside a ``Report``."""

from __future__ import annotations

import hashlib
from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from enum import StrEnum
from typing import Any

REPORT_SCHEMA = "airgap/report/v1"


class Severity(StrEnum):
    """Ordered severities; compare with ``rank`` (``critical`` is the highest)."""

    INFO = "info"
    LOW = "low"
    MEDIUM = "medium"
    HIGH = "high"
    CRITICAL = "critical"

    @property
    def rank(self) -> int:
        """0 for info up to 4 for critical."""
        return _RANKS[self]

    @classmethod
    def parse(cls, value: str) -> Severity:
        """Severity from its name, case-insensitively; ``ValueError`` names the choices."""
        try:
            return cls(value.strip().lower())
        except ValueError:
            choices = ", ".join(s.value for s in cls)
            raise ValueError(f"unknown severity {value!r} (choose from {choices})") from None


_RANKS = {s: i for i, s in enumerate(Severity)}

FAIL_ON_CHOICES = (*(s.value for s in Severity), "never")


@dataclass(frozen=True, slots=True)
class Location:
    """Where a finding is: a file position plus a locator that survives moved lines."""

    path: str
    """File path as given on the command line (``-`` for stdin), or a pseudo-path."""
    line: int | None = None
    """1-based line of the offending node, when known."""
    column: int | None = None
    """1-based column, when known."""
    resource: str = ""
    """The document or object the finding is in, e.g. ``Deployment/shop/web`` or ``job:deploy``."""
    pointer: str = ""
    """JSON pointer inside that resource, e.g. ``/spec/template/spec/containers/0/image``."""

    @property
    def locator(self) -> str:
        """``resource#pointer``: the line-independent address used in fingerprints."""
        return f"{self.resource}#{self.pointer}" if self.pointer else self.resource

    def to_dict(self) -> dict[str, Any]:
        """JSON form (see ``docs/schemas/report.schema.json``)."""
        return {
            "path": self.path,
            "line": self.line,
            "column": self.column,
            "resource": self.resource,
            "pointer": self.pointer,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Location:
        """Inverse of :meth:`to_dict`."""
        return cls(
            path=str(data["path"]),
            line=data.get("line"),
            column=data.get("column"),
            resource=str(data.get("resource") or ""),
            pointer=str(data.get("pointer") or ""),
        )


def fingerprint(rule_id: str, location: Location, evidence: str | None = None) -> str:
    """A stable id for "this problem in this place": rule + file + locator, never the line alone.

    GitLab merges Code Quality entries with equal fingerprints, so two findings of one rule in one
    file must differ in resource or key path. Without a locator the line and evidence stand in.
    """
    parts = [rule_id, location.path]
    if location.locator:
        parts.append(location.locator)
    else:
        parts += [str(location.line or ""), evidence or ""]
    return hashlib.sha256("\x1f".join(parts).encode()).hexdigest()[:32]


@dataclass(frozen=True, slots=True)
class Finding:
    """One problem, with everything a reviewer and a CI widget need to act on it."""

    rule_id: str
    """Stable id of the rule, e.g. ``image-tag-latest`` (same across versions)."""
    severity: Severity
    title: str
    """Short, rule-level title."""
    message: str
    """This occurrence, in a sentence that names the offending value."""
    location: Location
    evidence: str | None = None
    """The offending value as found (truncated), never a secret in clear."""
    remediation: str = ""
    """How to fix it."""
    compliance: tuple[str, ...] = ()
    """Control tags such as ``NIST-800-53:SC-7`` or ``OWASP-LLM:LLM03:2025``."""
    fingerprint: str = field(default="")
    """Derived from rule, path and locator when not given."""
    level: str | None = None
    """For API changes: oasdiff's level (``error`` breaking, ``warning`` potentially, ``info``)."""
    operations: tuple[str, ...] = ()
    """For API changes: every affected operation as ``METHOD /path``."""

    def __post_init__(self) -> None:
        if not self.fingerprint:
            object.__setattr__(
                self, "fingerprint", fingerprint(self.rule_id, self.location, self.evidence)
            )

    def with_severity(self, severity: Severity) -> Finding:
        """A copy with another severity (config overrides), same fingerprint."""
        return replace(self, severity=severity)

    def sort_key(self) -> tuple[str, int, int, str, str]:
        """Stable order: file, line, column, rule, locator."""
        loc = self.location
        return (loc.path, loc.line or 0, loc.column or 0, self.rule_id, loc.locator)

    def to_dict(self) -> dict[str, Any]:
        """JSON form (see ``docs/schemas/report.schema.json``)."""
        data: dict[str, Any] = {
            "rule_id": self.rule_id,
            "severity": self.severity.value,
            "title": self.title,
            "message": self.message,
            "location": self.location.to_dict(),
            "evidence": self.evidence,
            "remediation": self.remediation,
            "compliance": list(self.compliance),
            "fingerprint": self.fingerprint,
        }
        if self.level is not None:
            data["level"] = self.level
        if self.operations:
            data["operations"] = list(self.operations)
        return data

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Finding:
        """Inverse of :meth:`to_dict`."""
        return cls(
            rule_id=str(data["rule_id"]),
            severity=Severity.parse(str(data["severity"])),
            title=str(data.get("title") or data["rule_id"]),
            message=str(data["message"]),
            location=Location.from_dict(data["location"]),
            evidence=data.get("evidence"),
            remediation=str(data.get("remediation") or ""),
            compliance=tuple(data.get("compliance") or ()),
            fingerprint=str(data.get("fingerprint") or ""),
            level=data.get("level"),
            operations=tuple(data.get("operations") or ()),
        )


@dataclass(frozen=True, slots=True)
class Suppressed:
    """A finding that was silenced, kept for the audit trail (the exceptions register)."""

    finding: Finding
    reason: str
    """Why it is accepted; empty when the suppression gave none (which is itself a finding)."""
    source: str
    """``inline``, ``annotation``, ``baseline`` or ``config``."""

    def to_dict(self) -> dict[str, Any]:
        """JSON form."""
        return {"finding": self.finding.to_dict(), "reason": self.reason, "source": self.source}


@dataclass(frozen=True, slots=True)
class Skipped:
    """An input that was deliberately not examined, with the reason (never silently dropped)."""

    path: str
    reason: str

    def to_dict(self) -> dict[str, Any]:
        """JSON form."""
        return {"path": self.path, "reason": self.reason}


@dataclass(frozen=True, slots=True)
class InputIssue:
    """An input that could not be read or parsed: the run goes on, the exit code becomes 2."""

    path: str
    message: str
    line: int | None = None

    def diagnostics(self) -> str:
        """``file:line: problem``."""
        where = f"{self.path}:{self.line}" if self.line else self.path
        return f"{where}: {self.message}"

    def to_dict(self) -> dict[str, Any]:
        """JSON form."""
        return {"path": self.path, "line": self.line, "message": self.message}


@dataclass(frozen=True, slots=True)
class InputRecord:
    """One examined input, hashed so a reviewer can tie the report to exact bytes."""

    path: str
    sha256: str
    documents: int

    def to_dict(self) -> dict[str, Any]:
        """JSON form."""
        return {"path": self.path, "sha256": self.sha256, "documents": self.documents}


@dataclass(slots=True)
class Report:
    """What one command found: findings plus the context that makes them auditable."""

    command: str
    """The producing command, e.g. ``lint`` or ``check``."""
    tool_version: str
    findings: list[Finding] = field(default_factory=list)
    suppressed: list[Suppressed] = field(default_factory=list)
    skipped: list[Skipped] = field(default_factory=list)
    errors: list[InputIssue] = field(default_factory=list)
    inputs: list[InputRecord] = field(default_factory=list)
    timings: dict[str, float] = field(default_factory=dict)
    """Seconds per phase, e.g. ``{"parse": 1.2, "rules": 0.3}``."""
    rules: dict[str, dict[str, Any]] = field(default_factory=dict)
    """Metadata of every rule that ran, by id (title, severity, remediation, help), for SARIF."""
    details: dict[str, Any] = field(default_factory=dict)
    """Pillar-specific evidence by pillar name (e.g. ``egress``: every attempt), kept in JSON."""

    def sorted_findings(self) -> list[Finding]:
        """Findings in stable order (file, line, rule)."""
        return sorted(self.findings, key=Finding.sort_key)

    def counts(self) -> dict[str, int]:
        """Number of findings per severity, every severity present."""
        counter = Counter(f.severity.value for f in self.findings)
        return {s.value: counter.get(s.value, 0) for s in Severity}

    def failing(self, fail_on: str) -> list[Finding]:
        """Findings at or above ``fail_on`` (``never`` fails on nothing)."""
        if fail_on == "never":
            return []
        threshold = Severity.parse(fail_on).rank
        return [f for f in self.findings if f.severity.rank >= threshold]

    def exit_code(self, fail_on: str) -> int:
        """2 when an input could not be read, 1 when a finding reaches ``fail_on``, else 0."""
        if self.errors:
            return 2
        return 1 if self.failing(fail_on) else 0

    def extend(self, other: Report) -> None:
        """Merge another report into this one (``airgap check`` combines pillars)."""
        self.findings += other.findings
        self.suppressed += other.suppressed
        self.skipped += other.skipped
        self.errors += other.errors
        known = {(record.path, record.sha256) for record in self.inputs}
        self.inputs += [r for r in other.inputs if (r.path, r.sha256) not in known]  # read twice
        self.rules.update(other.rules)
        self.details.update(other.details)
        for phase, seconds in other.timings.items():
            key = f"{other.command}.{phase}" if other.command != self.command else phase
            self.timings[key] = self.timings.get(key, 0.0) + seconds

    def to_dict(self) -> dict[str, Any]:
        """The versioned JSON document (``docs/schemas/report.schema.json``)."""
        return {
            "schema": REPORT_SCHEMA,
            "tool": {"name": "airgap", "version": self.tool_version},
            "command": self.command,
            "summary": {
                "findings": len(self.findings),
                "by_severity": self.counts(),
                "suppressed": len(self.suppressed),
                "skipped": len(self.skipped),
                "errors": len(self.errors),
            },
            "findings": [f.to_dict() for f in self.sorted_findings()],
            "suppressed": [s.to_dict() for s in self.suppressed],
            "skipped": [s.to_dict() for s in self.skipped],
            "errors": [e.to_dict() for e in self.errors],
            "inputs": [i.to_dict() for i in self.inputs],
            "timings": {k: round(v, 6) for k, v in self.timings.items()},
            "rules": self.rules,
            "details": self.details,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Report:
        """Read a report written by :meth:`to_dict` (for baselines and ``airgap report``)."""
        report = cls(command=str(data["command"]), tool_version=str(data["tool"]["version"]))
        report.findings = [Finding.from_dict(f) for f in data.get("findings", [])]
        report.suppressed = [
            Suppressed(Finding.from_dict(s["finding"]), s["reason"], s["source"])
            for s in data.get("suppressed", [])
        ]
        report.skipped = [Skipped(s["path"], s["reason"]) for s in data.get("skipped", [])]
        report.errors = [
            InputIssue(e["path"], e["message"], e.get("line")) for e in data.get("errors", [])
        ]
        report.inputs = [
            InputRecord(i["path"], i["sha256"], i["documents"]) for i in data.get("inputs", [])
        ]
        report.timings = dict(data.get("timings", {}))
        report.rules = dict(data.get("rules", {}))
        report.details = dict(data.get("details", {}))
        return report


def count_by_rule(findings: Iterable[Finding]) -> dict[str, int]:
    """How many findings each rule produced, most first."""
    return dict(Counter(f.rule_id for f in findings).most_common())
