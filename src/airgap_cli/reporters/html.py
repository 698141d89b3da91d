"""``--format html``: a self-contained audit page that opens on an air-gapped reviewer's machine."""

from __future__ import annotations

from html import escape
from itertools import groupby

from airgap_cli.core.findings import Finding, Report, Severity
from airgap_cli.reporters.base import RenderOptions, Reporter, register
from airgap_cli.reporters.text import display_path, summary_line

_SEVERITIES = sorted(Severity, key=lambda s: s.rank, reverse=True)

# Inline only: the page must not fetch anything (no fonts, images, scripts or stylesheets).
_CSS = """
body{font:14px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;margin:2rem;color:#1b1f24}
h1{font-size:1.5rem;margin-bottom:.2rem}h2{margin-top:2rem;border-bottom:1px solid #d0d7de}
h3{font-family:ui-monospace,SFMono-Regular,Menlo,Consolas,monospace;font-size:1rem}
table{border-collapse:collapse;width:100%;margin:.5rem 0 1rem}
th,td{border:1px solid #d0d7de;padding:.3rem .5rem;text-align:left;vertical-align:top}
th{background:#f6f8fa}code,.mono{font-family:ui-monospace,SFMono-Regular,Menlo,Consolas,monospace}
td.num{text-align:right}.muted{color:#57606a}.counts td{min-width:4rem}
.sev{font-weight:600;text-transform:uppercase;font-size:.8rem;padding:.1rem .35rem;
border-radius:3px}
.critical{background:#8b0000;color:#fff}.high{background:#d1242f;color:#fff}
.medium{background:#bf8700;color:#fff}.low{background:#0969da;color:#fff}
.info{background:#6e7781;color:#fff}.warn{color:#8b0000;font-weight:600}
"""


def _e(text: object) -> str:
    return escape(str(text), quote=True)


def _badge(severity: Severity) -> str:
    return f'<span class="sev {severity.value}">{severity.value}</span>'


def _position(finding: Finding) -> str:
    loc = finding.location
    if not loc.line:
        return "-"
    return f"{loc.line}:{loc.column}" if loc.column else str(loc.line)


def _table(headers: list[str], rows: list[list[str]]) -> list[str]:
    """A table whose cells are already escaped HTML."""
    out = ["<table>", "<thead><tr>" + "".join(f"<th>{h}</th>" for h in headers) + "</tr></thead>"]
    out.append("<tbody>")
    out += ["<tr>" + "".join(f"<td>{c}</td>" for c in row) + "</tr>" for row in rows]
    out += ["</tbody>", "</table>"]
    return out


def _finding_cells(finding: Finding) -> list[str]:
    loc = finding.location
    locator = f'<br><code class="muted">{_e(loc.locator)}</code>' if loc.locator else ""
    evidence = f"<code>{_e(finding.evidence)}</code>" if finding.evidence is not None else ""
    return [
        f'<span class="mono">{_e(_position(finding))}</span>',
        _badge(finding.severity),
        f"<code>{_e(finding.rule_id)}</code>",
        f"{_e(finding.message)}{locator}",
        evidence,
        _e(finding.remediation),
        "<br>".join(_e(c) for c in finding.compliance),
    ]


@register
class HtmlReporter(Reporter):
    """Summary, findings per file, the exceptions register and hashed inputs on one page."""

    name = "html"
    media_type = "text/html"

    def render(self, report: Report, options: RenderOptions) -> str:
        title = f"airgap {report.command} report"
        counts = report.counts()
        out = [
            "<!DOCTYPE html>",
            '<html lang="en">',
            "<head>",
            '<meta charset="utf-8">',
            # Belt and braces: even a browser that found a URL in here would refuse to load it.
            '<meta http-equiv="Content-Security-Policy" '
            "content=\"default-src 'none'; style-src 'unsafe-inline'\">",
            '<meta name="referrer" content="no-referrer">',
            '<meta name="viewport" content="width=device-width, initial-scale=1">',
            f"<title>{_e(title)}</title>",
            f"<style>{_CSS}</style>",
            "</head>",
            "<body>",
            f"<h1>{_e(title)}</h1>",
            f'<p class="muted">airgap {_e(report.tool_version)}; failing at '
            f"<code>{_e(options.fail_on)}</code>; {_e(summary_line(report))}</p>",
            "<h2>Summary</h2>",
            '<table class="counts">',
            "<tr>" + "".join(f"<th>{_badge(s)}</th>" for s in _SEVERITIES) + "</tr>",
            "<tr>"
            + "".join(f'<td class="num">{counts[s.value]}</td>' for s in _SEVERITIES)
            + "</tr>",
            "</table>",
        ]
        if report.errors:
            out.append(
                f'<p class="warn">{len(report.errors)} input(s) could not be read; '
                "the findings below do not cover them.</p>"
            )

        out.append("<h2>Findings</h2>")
        findings = report.sorted_findings()
        if not findings:
            out.append("<p>No findings.</p>")
        headers = ["Line", "Severity", "Rule", "Message", "Evidence", "Fix", "Compliance"]
        for path, group in groupby(findings, key=lambda f: f.location.path):
            out.append(f"<h3>{_e(display_path(path))}</h3>")
            out += _table(headers, [_finding_cells(f) for f in group])

        out.append("<h2>Exceptions register</h2>")
        if not report.suppressed:
            out.append("<p>No suppressed findings.</p>")
        else:
            rows = []
            for item in sorted(report.suppressed, key=lambda s: s.finding.sort_key()):
                f = item.finding
                where = display_path(f.location.path) + (
                    f":{f.location.line}" if f.location.line else ""
                )
                if f.location.locator:
                    where += f" {f.location.locator}"
                reason = _e(item.reason) if item.reason else '<span class="warn">none given</span>'
                rows.append(
                    [
                        f"<code>{_e(f.rule_id)}</code>",
                        _badge(f.severity),
                        f"<code>{_e(where)}</code>",
                        _e(f.message),
                        reason,
                        _e(item.source),
                    ]
                )
            out += _table(["Rule", "Severity", "Location", "Message", "Reason", "Source"], rows)

        out.append("<h2>Inputs</h2>")
        if report.inputs:
            out += _table(
                ["Path", "SHA-256", "Documents"],
                [
                    [
                        f"<code>{_e(display_path(i.path))}</code>",
                        f"<code>{_e(i.sha256)}</code>",
                        f'<span class="num">{i.documents}</span>',
                    ]
                    for i in report.inputs
                ],
            )
        else:
            out.append("<p>No inputs recorded.</p>")
        if report.errors or report.skipped:
            rows = [
                [
                    f"<code>{_e(display_path(e.path))}{f':{e.line}' if e.line else ''}</code>",
                    '<span class="warn">error</span>',
                    _e(e.message),
                ]
                for e in report.errors
            ]
            rows += [
                [f"<code>{_e(display_path(s.path))}</code>", "skipped", _e(s.reason)]
                for s in report.skipped
            ]
            out += ["<h3>Not examined</h3>", *_table(["Input", "Status", "Reason"], rows)]

        if report.timings:
            out.append("<h2>Timings</h2>")
            out += _table(
                ["Phase", "Seconds"],
                [[_e(k), f"{v:.3f}"] for k, v in sorted(report.timings.items())],
            )
        out += ["</body>", "</html>"]
        return "\n".join(out) + "\n"
