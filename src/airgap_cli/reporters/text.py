"""``--format text``: the plain, deterministic terminal listing (colour is the CLI's business)."""

from __future__ import annotations

from itertools import groupby

from airgap_cli.core.findings import Finding, Report, Severity
from airgap_cli.reporters.base import RenderOptions, Reporter, register


def _plural(count: int, noun: str) -> str:
    return f"{count} {noun}" if count == 1 else f"{count} {noun}s"


def display_path(path: str) -> str:
    """The path as the user gave it, except stdin, which ``-`` alone would not make obvious."""
    return "<stdin>" if path == "-" else path


def summary_line(report: Report) -> str:
    """``12 findings (2 critical, 3 high) in 5 files; 1 suppressed; 1 skipped; 0 errors``."""
    counts = report.counts()
    by_severity = ", ".join(
        f"{counts[s.value]} {s.value}"
        for s in sorted(Severity, key=lambda s: s.rank, reverse=True)
        if counts[s.value]
    )
    files = len({f.location.path for f in report.findings})
    head = _plural(len(report.findings), "finding")
    if by_severity:
        head += f" ({by_severity})"
    return (
        f"{head} in {_plural(files, 'file')}; {len(report.suppressed)} suppressed; "
        f"{len(report.skipped)} skipped; {_plural(len(report.errors), 'error')}"
    )


def _position(finding: Finding) -> str:
    loc = finding.location
    line = str(loc.line) if loc.line else "-"
    column = str(loc.column) if loc.column else "-"
    return f"{line}:{column}"


def _one_line(text: str) -> str:
    """One printable line: newlines would break grep, control bytes could drive the terminal."""
    flat = " ".join(text.split())
    return "".join(c if c.isprintable() else repr(c)[1:-1] for c in flat)


MAX_LISTED_OPERATIONS = 5
"""Operations named under a shared-component change before ``(+N more)``."""


def is_change_report(report: Report) -> bool:
    """True for ``openapi diff/breaking`` output: every finding is an API change with a level."""
    return bool(report.findings) and all(f.level is not None for f in report.findings)


def operation_group(finding: Finding) -> str:
    """The heading a change is listed under: its one operation, or the shared components."""
    if len(finding.operations) == 1:
        return finding.operations[0]
    if finding.operations:
        return "Shared components (each change affects several operations)"
    return "Spec-wide changes"


def affected(finding: Finding) -> str:
    """``GET /a, POST /b (+3 more)``."""
    named = ", ".join(finding.operations[:MAX_LISTED_OPERATIONS])
    more = len(finding.operations) - MAX_LISTED_OPERATIONS
    return f"{named} (+{more} more)" if more > 0 else named


_LEVEL_ORDER = {"error": 0, "warning": 1, "info": 2}


def change_lines(findings: list[Finding]) -> list[str]:
    """API changes grouped by operation, breaking ones first inside each group."""
    lines: list[str] = []
    ordered = sorted(
        findings,
        key=lambda f: (
            len(f.operations) > 1,
            not f.operations,
            operation_group(f),
            _LEVEL_ORDER.get(f.level or "", 3),
            f.sort_key(),
        ),
    )
    for heading, group in groupby(ordered, key=operation_group):
        if lines:
            lines.append("")
        lines.append(_one_line(heading))
        for finding in group:
            where = f"{display_path(finding.location.path)}:{finding.location.line or '-'}"
            lines.append(
                f"  {(finding.level or '').upper():<7}  {finding.rule_id}  "
                f"{_one_line(finding.message)}  ({_one_line(where)})"
            )
            if len(finding.operations) > 1:
                lines.append(
                    f"      affects {len(finding.operations)}: {_one_line(affected(finding))}"
                )
    return lines


@register
class TextReporter(Reporter):
    """Findings grouped by file, one line each with its fix, then errors, skips and a summary."""

    name = "text"
    media_type = "text/plain"

    def render(self, report: Report, options: RenderOptions) -> str:
        lines: list[str] = []
        findings = report.sorted_findings()
        if not findings:
            lines.append("No findings.")
        elif is_change_report(report):
            lines += change_lines(findings)
            findings = []
        width = max((len(_position(f)) for f in findings), default=0)
        for path, group in groupby(findings, key=lambda f: f.location.path):
            if lines:
                lines.append("")
            lines.append(_one_line(display_path(path)))
            for finding in group:
                lines.append(
                    f"  {_position(finding):<{width}}  {finding.severity.value.upper():<8}  "
                    f"{finding.rule_id}  {_one_line(finding.message)}"
                )
                if not finding.location.line and finding.location.locator:
                    lines.append(f"      at: {_one_line(finding.location.locator)}")
                if finding.remediation:
                    lines.append(f"      fix: {_one_line(finding.remediation)}")
        if report.errors:
            lines += ["", "Input errors (not examined, exit code 2):"]
            lines += [
                "  "
                + _one_line(f"{display_path(e.path)}{f':{e.line}' if e.line else ''}: {e.message}")
                for e in report.errors
            ]
        if report.skipped:
            lines += ["", "Skipped inputs:"]
            lines += [
                "  " + _one_line(f"{display_path(s.path)}: {s.reason}") for s in report.skipped
            ]
        lines += ["", summary_line(report)]
        return "\n".join(lines) + "\n"
