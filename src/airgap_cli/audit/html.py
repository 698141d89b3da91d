"""The audit as one self-contained HTML page: inline CSS only, no script, font, image or link to
fetch, readable on an air-gapped reviewer's machine and on paper."""

from __future__ import annotations

from collections.abc import Iterable
from html import escape
from itertools import groupby
from typing import Any

from airgap_cli.audit.assess import FAIL, PASS, VERDICTS, machine_line

_SEVERITIES = ("critical", "high", "medium", "low", "info")
MAX_CONTROL_FINDINGS = 50
"""Failing findings listed under each control before "and N more" (all are in Findings)."""

_CSS = """
:root{--fg:#1b1f24;--muted:#57606a;--line:#d0d7de;--soft:#f6f8fa;--pass:#1a7f37;--fail:#cf222e;
--warn:#9a6700;--none:#6e7781}
*{box-sizing:border-box}
body{font:14px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,"Helvetica Neue",Arial,sans-serif;
color:var(--fg);margin:0 auto;padding:1.5rem 2rem 3rem;max-width:80rem}
h1{font-size:1.6rem;margin:.2rem 0}h2{font-size:1.25rem;margin:2.2rem 0 .6rem;
border-bottom:2px solid var(--line);padding-bottom:.2rem}h3{font-size:1.05rem;margin:1.4rem 0 .4rem}
code,.mono{font-family:ui-monospace,SFMono-Regular,Menlo,Consolas,"Liberation Mono",monospace;
font-size:.86em;overflow-wrap:anywhere}
p{margin:.35rem 0}.muted{color:var(--muted)}a{color:#0969da}
table{border-collapse:collapse;width:100%;margin:.4rem 0 1rem}
th,td{border:1px solid var(--line);padding:.28rem .45rem;text-align:left;vertical-align:top}
td{overflow-wrap:anywhere}td:first-child code{overflow-wrap:normal;white-space:nowrap}
th{background:var(--soft);font-weight:600}td.num,th.num{text-align:right;white-space:nowrap}
.banner{border-radius:6px;padding:.9rem 1.1rem;margin:.6rem 0 1rem;color:#fff;
-webkit-print-color-adjust:exact;print-color-adjust:exact}
.banner strong{font-size:1.35rem;letter-spacing:.04em;text-transform:uppercase;margin-right:.6rem}
.banner.pass{background:var(--pass)}.banner.fail{background:var(--fail)}
.banner.incomplete{background:var(--warn)}
.meta{display:grid;grid-template-columns:max-content 1fr;gap:.15rem 1rem;margin:.4rem 0 1rem}
.meta dt{color:var(--muted)}.meta dd{margin:0}
.badge{display:inline-block;font-weight:600;font-size:.75rem;text-transform:uppercase;
padding:.08rem .4rem;border-radius:3px;color:#fff;white-space:nowrap;
-webkit-print-color-adjust:exact;print-color-adjust:exact}
.satisfied{background:var(--pass)}.not-satisfied{background:var(--fail)}
.inconclusive{background:var(--warn)}.not-assessed{background:var(--none)}
.critical{background:#8b0000}.high{background:var(--fail)}.medium{background:#bf8700}
.low{background:#0969da}.info{background:var(--none)}
.control{border:1px solid var(--line);border-left:6px solid var(--none);border-radius:4px;
padding:.5rem .9rem;margin:.8rem 0;break-inside:avoid-page}
.control.c-satisfied{border-left-color:var(--pass)}.control.c-not-satisfied{border-left-color:var(--fail)}
.control.c-inconclusive{border-left-color:var(--warn)}
.control h3{margin:.2rem 0}.source{font-size:.85rem;color:var(--muted)}
nav ol{columns:2;margin:.3rem 0 0;padding-left:1.3rem}
details summary{cursor:pointer;color:#0969da}
footer{margin-top:2.5rem;border-top:1px solid var(--line);padding-top:.6rem;color:var(--muted);
font-size:.85rem}
@media print{
body{padding:0;max-width:none;font-size:10.5pt}nav{display:none}a{color:inherit;text-decoration:none}
table{font-size:9pt}
h2{break-after:avoid-page}thead{display:table-header-group}tr{break-inside:avoid}
#findings{break-before:page}@page{margin:14mm 12mm}
}
"""


def _e(text: object) -> str:
    return escape("" if text is None else str(text), quote=True)


def _badge(value: str, text: str | None = None) -> str:
    return f'<span class="badge {_e(value)}">{_e(value if text is None else text)}</span>'


def _code(text: object) -> str:
    return f"<code>{_e(text)}</code>"


def _table(
    headers: Iterable[str], rows: Iterable[Iterable[str]], numeric: frozenset[int] = frozenset()
) -> str:
    """A table whose cells are already escaped HTML; ``numeric`` columns align right."""
    heads = "".join(
        f'<th class="num">{h}</th>' if i in numeric else f"<th>{h}</th>"
        for i, h in enumerate(headers)
    )
    body = "".join(
        "<tr>"
        + "".join(
            f'<td class="num">{c}</td>' if i in numeric else f"<td>{c}</td>"
            for i, c in enumerate(row)
        )
        + "</tr>"
        for row in rows
    )
    return f"<table><thead><tr>{heads}</tr></thead><tbody>{body}</tbody></table>"


def _where(finding: dict[str, Any]) -> str:
    loc = finding["location"]
    return f"{loc['path']}:{loc['line']}" if loc.get("line") else str(loc["path"])


def _anchor(fingerprint: str) -> str:
    return f"f-{fingerprint}"


def render_html(audit: dict[str, Any]) -> str:
    """The whole page."""
    findings_by_fp = {f["fingerprint"]: f for f in audit["findings"]}
    parts = [_head(audit), _header(audit), _nav(audit), _controls_summary(audit)]
    parts.append(_controls_detail(audit, findings_by_fp))
    parts.append(_findings(audit))
    parts.append(_egress(audit))
    parts.append(_bundles(audit))
    parts.append(_exceptions(audit))
    parts.append(_inputs(audit))
    parts.append(
        "<footer>Generated by airgap "
        f"{_e(audit['tool']['version'])} ({_e(audit['schema'])}). This page loads nothing: no "
        "script, stylesheet, font or image comes from anywhere but this file. The JSON form of "
        "this report holds the same content; a signature, when made, covers the files written "
        "(<code>airgap bundle verify FILE --key PUB</code>).</footer></body></html>\n"
    )
    return "\n".join(parts)


def _head(audit: dict[str, Any]) -> str:
    return (
        '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
        # Even a browser that found a URL in here would refuse to load it.
        '<meta http-equiv="Content-Security-Policy" content="default-src \'none\'; '
        "style-src 'unsafe-inline'; img-src data:; form-action 'none'; base-uri 'none'\">"
        '<meta name="referrer" content="no-referrer">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>{_e(audit['title'])}</title><style>{_CSS}</style></head><body>"
    )


def _header(audit: dict[str, Any]) -> str:
    summary = audit["summary"]
    counts = summary["controls"]
    total = sum(counts.values())
    verdict = audit["verdict"]
    if verdict == PASS:
        line = f"all {total} controls satisfied"
    elif verdict == FAIL:
        line = f"{counts['not-satisfied']} of {total} controls not satisfied"
    else:
        open_ = counts["inconclusive"] + counts["not-assessed"]
        line = f"no control failed; {open_} of {total} not fully assessed"
        if summary["unreadable"]:
            line += f"; {summary['unreadable']} result file(s) could not be read"
    machine = audit["machine"]
    machine_text = machine_line(machine)
    rows = [
        ("Generated", _e(audit["generated"])),
        ("Tool", f"airgap {_e(audit['tool']['version'])}"),
        ("Machine", _e(machine_text)),
        ("CI job", _e(machine.get("ci_job"))) if machine.get("ci_job") else None,
        ("Failing at", f"{_code(audit['fail_on'])} and above"),
        (
            "Results",
            f"{summary['results']} file(s), {summary['findings']} finding(s) "
            f"({summary['failing']} failing), {summary['suppressed']} accepted exception(s)",
        ),
        ("Command", _code(" ".join(audit["command"]))) if audit["command"] else None,
    ]
    meta = "".join(f"<dt>{k}</dt><dd>{v}</dd>" for k, v in filter(None, rows))
    return (
        f"<h1>{_e(audit['title'])}</h1>"
        f'<div class="banner {_e(verdict)}" role="status"><strong>{_e(verdict)}</strong>'
        f'{_e(line)}</div><dl class="meta">{meta}</dl>'
    )


def _nav(audit: dict[str, Any]) -> str:
    sections = [
        ("controls", "Controls"),
        ("findings", f"Findings ({audit['summary']['findings']})"),
        ("egress", "Egress audit"),
        ("bundles", "Bundles, models and inventory"),
        ("exceptions", f"Exceptions register ({audit['summary']['suppressed']})"),
        ("inputs", "Inputs"),
    ]
    items = "".join(f'<li><a href="#{i}">{_e(t)}</a></li>' for i, t in sections)
    return f'<nav aria-label="Contents"><ol>{items}</ol></nav>'


def _controls_summary(audit: dict[str, Any]) -> str:
    counts = audit["summary"]["controls"]
    tally = ", ".join(f"{counts[v]} {v}" for v in VERDICTS if counts[v])
    rows = [
        [
            f'<a href="#control-{_e(c["id"])}">{_code(c["id"])}</a>',
            _e(c["framework"]),
            _e(c["title"]),
            _badge(c["verdict"]),
            str(len(c["failing"])),
            str(len(c["observations"])),
            str(len(c["exceptions"])),
            _e(", ".join(sorted({e["command"] for e in c["evidence"]})) or "-"),
        ]
        for c in audit["controls"]
    ]
    headers = ["Control", "Framework", "Title", "Verdict", "Failing", "Observ.", "Exceptions"]
    return (
        f'<h2 id="controls">Controls</h2><p class="muted">{_e(tally)}. A control is not '
        "satisfied when a finding mapped to it is at or above the failing severity; findings "
        "below it are observations; accepted exceptions are listed with their reasons.</p>"
        + _table([*headers, "Assessed by"], rows, frozenset({4, 5, 6}))
    )


def _controls_detail(audit: dict[str, Any], findings_by_fp: dict[str, dict[str, Any]]) -> str:
    out = []
    results = audit["results"]
    for control in audit["controls"]:
        source = control["source"]
        url = f" — {_e(source['url'])}" if source.get("url") else ""
        evidence = "".join(
            f"<li>{_code(results[e['result']]['path'])} ({_e(e['command'])})"
            + (f": {_e('; '.join(e['shows']))}" if e["shows"] else "")
            + (
                f"; rules evaluated: {', '.join(_code(r) for r in e['rules'])}"
                if e["rules"]
                else ""
            )
            + (f'; <span class="muted">{_e(e["problem"])}</span>' if e.get("problem") else "")
            + "</li>"
            for e in control["evidence"]
        )
        failing = control["failing"]
        listed = "".join(
            f'<li><a href="#{_anchor(fp)}">{_code(findings_by_fp[fp]["rule_id"])}</a> '
            f"{_e(findings_by_fp[fp]['message'])} "
            f'<span class="muted">{_e(_where(findings_by_fp[fp]))}</span></li>'
            for fp in failing[:MAX_CONTROL_FINDINGS]
        )
        more = len(failing) - MAX_CONTROL_FINDINGS
        if more > 0:
            listed += f'<li class="muted">and {more} more (see Findings)</li>'
        out.append(
            f'<article class="control c-{_e(control["verdict"])}" id="control-{_e(control["id"])}">'
            f"<h3>{_e(control['id'])} {_e(control['title'])} {_badge(control['verdict'])}</h3>"
            f"<p><strong>{_e(control['reason'])}.</strong></p>"
            f"<p>{_e(control['statement'])}</p>"
            f'<p class="muted">How airgap assesses it: {_e(control["assessment"])}</p>'
            f'<p class="source">{_e(control["framework"])}. Source: {_e(source["document"])}; '
            f"{_e(source['reference'])}{url}</p>"
            + (f"<p>Evidence:</p><ul>{evidence}</ul>" if evidence else "")
            + (f"<p>Failing findings:</p><ul>{listed}</ul>" if listed else "")
            + (
                f'<p class="muted">{len(control["observations"])} observation(s) below the '
                f"failing severity; {len(control['exceptions'])} accepted exception(s).</p>"
                if control["observations"] or control["exceptions"]
                else ""
            )
            + "</article>"
        )
    return "\n".join(out)


def _findings(audit: dict[str, Any]) -> str:
    findings = audit["findings"]
    by_severity = audit["summary"]["by_severity"]
    tally = ", ".join(f"{by_severity[s]} {s}" for s in _SEVERITIES if by_severity.get(s))
    out = [f'<h2 id="findings">Findings</h2><p class="muted">{_e(tally or "none")}</p>']
    if not findings:
        out.append("<p>No findings.</p>")
    ordered = sorted(findings, key=lambda f: (f["location"]["path"], f["location"]["line"] or 0))
    headers = ["Line", "Severity", "Rule", "Message and evidence", "Fix", "Controls"]
    for path, group in groupby(ordered, key=lambda f: f["location"]["path"]):
        rows = []
        for f in group:
            loc = f["location"]
            locator = loc["resource"] + (f"#{loc['pointer']}" if loc["pointer"] else "")
            detail = _e(f["message"])
            if locator:
                detail += f'<br><span class="muted">{_code(locator)}</span>'
            if f["evidence"] is not None:
                detail += f"<br>Evidence: {_code(f['evidence'])}"
            marker = "" if f["failing"] else ' <span class="muted">(observation)</span>'
            rows.append(
                [
                    f'<span id="{_anchor(f["fingerprint"])}" class="mono">'
                    f"{_e(loc['line'] or '-')}</span>",
                    _badge(f["severity"]) + marker,
                    _code(f["rule_id"]),
                    detail,
                    _e(f["remediation"]),
                    _e(", ".join(f["controls"]) or "-"),
                ]
            )
        out.append(f"<h3>{_code(path)}</h3>" + _table(headers, rows))
    return "\n".join(out)


def _egress(audit: dict[str, Any]) -> str:
    out = ['<h2 id="egress">Egress audit</h2>']
    if not audit["egress"]:
        out.append("<p>No egress run among the results.</p>")
    for run in audit["egress"]:
        rows = [
            [
                _code(d["label"]),
                _e(", ".join(d["verdicts"])),
                _e(d["count"]),
                _e(", ".join(d["processes"])),
            ]
            for d in run["destinations"]
        ]
        out.append(
            f"<h3>{_code(' '.join(run['command']))}</h3>"
            f"<p>Exit status {_e(run['exit_status'])}; rung {_code(run['rung'])}; "
            f"{_e(run['attempts'])} attempt(s) to {len(run['destinations'])} destination(s); "
            f"{_e(run['packets'])} packet(s) in {_e(run['duration'])} s.</p>"
            f'<p class="muted">Guarantee: {_e(run["guarantee"])}</p>'
            + (
                _table(["Destination", "Verdict", "Attempts", "Processes"], rows, frozenset({2}))
                if rows
                else "<p>No outbound attempt.</p>"
            )
        )
    return "\n".join(out)


def _bundles(audit: dict[str, Any]) -> str:
    out = ['<h2 id="bundles">Bundles, models and inventory</h2>']
    if audit["bundles"]:
        out.append(
            _table(
                ["Bundle", "Kind", "Signature", "Files", "Verified"],
                [
                    [
                        _code(b["path"]),
                        _e(b["kind"]),
                        _code(b["signature"]),
                        _e(b["files"]),
                        _badge("satisfied", "verified")
                        if b["verified"]
                        else _badge("not-satisfied", "refused"),
                    ]
                    for b in audit["bundles"]
                ],
                frozenset({3}),
            )
        )
    else:
        out.append("<p>No bundle verification among the results.</p>")
    if audit["models"]:
        out.append("<h3>Model files scanned</h3>")
        out.append(
            _table(
                ["File", "Format", "Bytes", "Runs pickle on load", "Verdict"],
                [
                    [
                        _code(m["path"]),
                        _e(m["format"]),
                        _e(m["size"]),
                        "yes" if m["pickle_bearing"] else "no",
                        _e(m["verdict"] or "-"),
                    ]
                    for m in audit["models"]
                ],
                frozenset({2}),
            )
        )
    if audit["inventory"]:
        out.append("<h3>Inventory (MLBOM)</h3>")
        out.append(
            _table(
                ["Component", "Type", "Version", "Licences", "Hashes"],
                [
                    [
                        _e(c["name"]),
                        _e(c["type"]),
                        _e(c["version"] or "-"),
                        _e(", ".join(c["licenses"]) or "-"),
                        "<br>".join(f"{_e(a)} {_code(h)}" for a, h in c["hashes"].items()) or "-",
                    ]
                    for c in audit["inventory"]
                ],
            )
        )
    return "\n".join(out)


def _exceptions(audit: dict[str, Any]) -> str:
    out = ['<h2 id="exceptions">Exceptions register</h2>']
    if not audit["suppressed"]:
        out.append("<p>No accepted exception.</p>")
        return "\n".join(out)
    rows = [
        [
            _code(s["rule_id"]),
            _badge(s["severity"]),
            _code(_where(s)),
            _e(s["message"]),
            _e(s["reason"]) if s["reason"] else '<strong class="muted">none given</strong>',
            _e(s["source"]),
            _e(", ".join(s["controls"]) or "-"),
        ]
        for s in audit["suppressed"]
    ]
    out.append(
        _table(["Rule", "Severity", "Location", "Finding", "Reason", "Source", "Controls"], rows)
    )
    return "\n".join(out)


def _inputs(audit: dict[str, Any]) -> str:
    out = ['<h2 id="inputs">Inputs</h2><h3>Results this report was made from</h3>']
    out.append(
        _table(
            ["File", "Command", "airgap", "SHA-256", "Bytes"],
            [
                [
                    _code(r["path"]) + (f" (shard {_e(r['shard'])})" if r.get("shard") else ""),
                    _e(r["command"]),
                    _e(r["tool_version"]),
                    _code(r["sha256"]),
                    _e(r["bytes"]),
                ]
                for r in audit["results"]
            ],
            frozenset({4}),
        )
    )
    if audit["unreadable"]:
        out.append("<h3>Result files that could not be read</h3>")
        out.append(
            _table(
                ["File", "Line", "Problem"],
                [
                    [_code(u["path"]), _e(u["line"] or "-"), _e(u["message"])]
                    for u in audit["unreadable"]
                ],
            )
        )
    inputs = audit["inputs"]
    if inputs:
        rows = [[_code(i["path"]), _code(i["sha256"]), _e(i["documents"])] for i in inputs]
        out.append(
            f"<details><summary>{len(inputs)} input file(s) examined, with SHA-256</summary>"
            + _table(["File", "SHA-256", "Documents"], rows, frozenset({2}))
            + "</details>"
        )
    if audit["not_examined"]:
        out.append("<h3>Not examined</h3>")
        out.append(
            _table(
                ["Input", "Status", "Reason"],
                [
                    [
                        _code(n["path"] + (f":{n['line']}" if n["line"] else "")),
                        _e(n["status"]),
                        _e(n["reason"]),
                    ]
                    for n in audit["not_examined"]
                ],
            )
        )
    return "\n".join(out)
