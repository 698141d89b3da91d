"""Rich terminal output: the human view of a report (colour on a terminal, plain when piped)."""

from __future__ import annotations

import os
import sys
from itertools import groupby

from rich.console import Console
from rich.text import Text

from airgap_cli.core.findings import Report, Severity

SEVERITY_STYLE = {
    Severity.CRITICAL: "bold white on red",
    Severity.HIGH: "bold red",
    Severity.MEDIUM: "yellow",
    Severity.LOW: "cyan",
    Severity.INFO: "dim",
}


def make_console(no_color: bool, stderr: bool = False) -> Console:
    """A console honouring ``--no-color`` and ``NO_COLOR``."""
    return Console(
        file=sys.stderr if stderr else sys.stdout,
        no_color=no_color or bool(os.environ.get("NO_COLOR")),
        highlight=False,
        soft_wrap=stderr,
    )


def render(report: Report, console: Console) -> None:
    """Findings grouped by file, each with its fix; then the summary."""
    findings = report.sorted_findings()
    for path, group in groupby(findings, key=lambda f: f.location.path):
        console.print(Text(path, style="bold underline"))
        for finding in group:
            loc = f"{finding.location.line or '-'}"
            line = Text("  ")
            line.append(f"{loc:>5}  ", style="dim")
            line.append(f"{finding.severity.value:<8}", style=SEVERITY_STYLE[finding.severity])
            line.append(f" {finding.rule_id}", style="bold")
            line.append(f"  {finding.message}")
            console.print(line)
            if finding.remediation:
                console.print(Text(f"         fix: {finding.remediation}", style="green"))
        console.print()
    for issue in report.errors:
        console.print(Text(f"error: {issue.diagnostics()}", style="bold red"))
    for skipped in report.skipped:
        console.print(Text(f"skipped: {skipped.path}: {skipped.reason}", style="dim"))
    console.print(summary_text(report))


def summary_text(report: Report) -> Text:
    """``N findings (x critical, …) in M files; S suppressed; E errors``."""
    counts = report.counts()
    text = Text()
    if not report.findings:
        text.append("No findings", style="bold green")
    else:
        text.append(f"{len(report.findings)} findings", style="bold")
        parts = [(s, counts[s.value]) for s in reversed(Severity) if counts[s.value]]
        text.append(" (")
        for i, (severity, count) in enumerate(parts):
            if i:
                text.append(", ")
            text.append(f"{count} {severity.value}", style=SEVERITY_STYLE[severity])
        text.append(")")
    files = len({f.location.path for f in report.findings})
    text.append(
        f" in {files} files; {len(report.inputs)} inputs read; "
        f"{len(report.suppressed)} suppressed; {len(report.errors)} errors"
    )
    return text
