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
