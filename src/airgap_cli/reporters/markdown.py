"""``--format markdown``: a merge-request comment (GitLab-flavoured Markdown tables)."""

from __future__ import annotations

import re

from airgap_cli.core.findings import Finding, Report, Severity
from airgap_cli.reporters.base import RenderOptions, Reporter, register
from airgap_cli.reporters.codequality import ci_path
from airgap_cli.reporters.text import affected, is_change_report

MAX_ROWS = 500
"""Findings listed before truncating, to stay well under GitLab's 1,000,000-character note limit."""
MAX_CELL = 400
"""Characters kept per table cell, so one huge message cannot blow the limit on its own."""

_MARKDOWN_SPECIAL = re.compile(r"([\\`*_{}\[\]<>|~&#!])")
_SEVERITIES = sorted(Severity, key=lambda s: s.rank, reverse=True)


def _clip(text: str) -> str:
    return text if len(text) <= MAX_CELL else text[: MAX_CELL - 1] + "…"


def cell(text: str) -> str:
    """Text safe inside a table cell: Markdown and ``|`` escaped, newlines as ``<br>``."""
    escaped = _MARKDOWN_SPECIAL.sub(r"\\\1", _clip(text).strip())
    return "<br>".join(escaped.splitlines()) or " "


def code_cell(text: str) -> str:
    """Text as a code span in a cell: GitLab turns no ``@name`` inside code into a mention."""
    text = " ".join(_clip(text).split()).replace("|", "\\|")
    if not text:
        return " "
    fence = "`" * (max((len(run) for run in re.findall("`+", text)), default=0) + 1)
    pad = " " if text.startswith("`") or text.endswith("`") else ""
    return f"{fence}{pad}{text}{pad}{fence}"


def _where(path: str, line: int | None) -> str:
    return f"{ci_path(path)}:{line}" if line else ci_path(path)


def _finding_row(finding: Finding) -> str:
    loc = finding.location
    where = _where(loc.path, loc.line)
    if loc.locator:
        where += f" {loc.locator}"
    return (
        f"| {finding.severity.value} | {code_cell(finding.rule_id)} | {code_cell(where)} "
        f"| {cell(finding.message)} | {cell(finding.remediation)} |"
    )


def _details(summary: str, body: list[str]) -> list[str]:
    # GitLab needs the blank line after <summary> to render the Markdown table inside.
    return ["", "<details>", f"<summary>{summary}</summary>", "", *body, "", "</details>"]


_LEVEL_HEADINGS = (
    ("error", "Breaking changes"),
    ("warning", "Potentially breaking changes"),
    ("info", "Other changes"),
)


def _changelog(findings: list[Finding]) -> list[str]:
    """API changes as a merge-request changelog: one section per level, one bullet per change."""
    lines: list[str] = []
    shown = 0
    for level, heading in _LEVEL_HEADINGS:
        group = sorted((f for f in findings if f.level == level), key=lambda f: f.sort_key())
        if not group:
            continue
        lines += [f"### {heading} ({len(group)})", ""]
        for finding in group:
            if shown == MAX_ROWS:
                lines.append(f"- … {len(findings) - MAX_ROWS} more in the JSON or SARIF report")
                break
            shown += 1
            operations = code_cell(affected(finding)) if finding.operations else "spec"
            where = code_cell(_where(finding.location.path, finding.location.line))
            lines.append(
                f"- {operations}: {cell(finding.message)} ({code_cell(finding.rule_id)}, {where})"
            )
        lines.append("")
    return lines


@register
class MarkdownReporter(Reporter):
    """Heading, counts, the findings table by severity, and collapsed audit details."""

    name = "markdown"
    media_type = "text/markdown"

    def render(self, report: Report, options: RenderOptions) -> str:
        counts = report.counts()
        total = len(report.findings)
        lines = [f"## airgap {cell(report.command)}: {total} finding{'' if total == 1 else 's'}"]
        lines.append("")
        lines.append(f"airgap {cell(report.tool_version)}, failing at `{options.fail_on}`.")
        if report.errors:
            lines += [
                "",
                f"**{len(report.errors)} input(s) could not be read**: the job fails (exit 2) "
                "until they are fixed; see below.",
            ]
        lines += ["", "| Severity | Count |", "| --- | ---: |"]
        lines += [f"| {s.value} | {counts[s.value]} |" for s in _SEVERITIES]

        lines.append("")
        if not total:
            lines.append("No findings.")
        elif is_change_report(report):
            lines += _changelog(report.findings)
        else:
            ordered = sorted(report.findings, key=lambda f: (-f.severity.rank, f.sort_key()))
            lines += [
                "| Severity | Rule | Location | Message | Fix |",
                "| --- | --- | --- | --- | --- |",
            ]
            lines += [_finding_row(f) for f in ordered[:MAX_ROWS]]
            if total > MAX_ROWS:
                lines += [
                    "",
                    f"Showing the first {MAX_ROWS} of {total} findings (most severe first); "
                    "the full list is in the job's JSON, SARIF or HTML report.",
                ]

        if report.suppressed:
            body = ["| Rule | Location | Reason | Source |", "| --- | --- | --- | --- |"]
            for item in sorted(report.suppressed, key=lambda s: s.finding.sort_key()):
                loc = item.finding.location
                where = code_cell(_where(loc.path, loc.line))
                body.append(
                    f"| {code_cell(item.finding.rule_id)} | {where} "
                    f"| {cell(item.reason or '(no reason given)')} | {cell(item.source)} |"
                )
            lines += _details(f"{len(report.suppressed)} suppressed", body)

        if report.errors or report.skipped:
            body = ["| Input | Status | Reason |", "| --- | --- | --- |"]
            body += [
                f"| {code_cell(_where(e.path, e.line))} | error | {cell(e.message)} |"
                for e in report.errors
            ]
            body += [
                f"| {code_cell(ci_path(s.path))} | skipped | {cell(s.reason)} |"
                for s in report.skipped
            ]
            summary = f"{len(report.errors)} input error(s), {len(report.skipped)} skipped"
            lines += _details(summary, body)
        return "\n".join(lines) + "\n"
