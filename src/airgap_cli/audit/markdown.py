"""The audit as Markdown: for a merge request, a wiki page or a ticket (GitLab-flavoured tables)."""

from __future__ import annotations

from typing import Any

from airgap_cli.audit.assess import VERDICTS, machine_line
from airgap_cli.reporters.markdown import cell, code_cell

MAX_FINDING_ROWS = 1000
"""Findings listed before "and N more": the JSON and HTML forms keep every one."""
_MARKS = {
    "satisfied": "✅ satisfied",
    "not-satisfied": "❌ not satisfied",
    "inconclusive": "⚠️ inconclusive",
    "not-assessed": "⚪ not assessed",
}


def _row(cells: list[str]) -> str:
    return "| " + " | ".join(cells) + " |"


def _table(headers: list[str], rows: list[list[str]]) -> list[str]:
    return [_row(headers), _row(["---"] * len(headers)), *(_row(r) for r in rows), ""]


def render_markdown(audit: dict[str, Any]) -> str:
    """The whole document."""
    summary = audit["summary"]
    counts = summary["controls"]
    machine = audit["machine"]
    out = [
        f"# {cell(audit['title'])}",
        "",
        f"**Verdict: {audit['verdict'].upper()}** — "
        + ", ".join(f"{counts[v]} {v}" for v in VERDICTS if counts[v]),
        "",
        f"- Generated: {audit['generated']} by airgap {audit['tool']['version']}",
        f"- Machine: {cell(machine_line(machine))}",
        f"- Failing at: `{audit['fail_on']}` and above",
        f"- Results: {summary['results']} file(s); {summary['findings']} finding(s), "
        f"{summary['failing']} failing; {summary['suppressed']} accepted exception(s)",
    ]
    if audit["command"]:
        out.append(f"- Command: {code_cell(' '.join(audit['command']))}")
    if summary["unreadable"]:
        out.append(f"- **{summary['unreadable']} result file(s) could not be read** (see Inputs)")
    out += ["", "## Controls", ""]
    out += _table(
        ["Control", "Title", "Verdict", "Failing", "Why", "Framework"],
        [
            [
                code_cell(c["id"]),
                cell(c["title"]),
                _MARKS[c["verdict"]],
                str(len(c["failing"])),
                cell(c["reason"]),
                cell(c["framework"]),
            ]
            for c in audit["controls"]
        ],
    )
    out += ["## Findings", ""]
    findings = sorted(
        audit["findings"], key=lambda f: (f["location"]["path"], f["location"]["line"] or 0)
    )
    if not findings:
        out += ["No findings.", ""]
    else:
        rows = []
        for f in findings[:MAX_FINDING_ROWS]:
            loc = f["location"]
            where = loc["path"] + (f":{loc['line']}" if loc["line"] else "")
            rows.append(
                [
                    code_cell(where),
                    f["severity"] + ("" if f["failing"] else " (observation)"),
                    code_cell(f["rule_id"]),
                    cell(f["message"]),
                    code_cell(f["evidence"] or ""),
                    cell(", ".join(f["controls"]) or "-"),
                ]
            )
        out += _table(["Where", "Severity", "Rule", "Message", "Evidence", "Controls"], rows)
        if len(findings) > MAX_FINDING_ROWS:
            out += [f"… and {len(findings) - MAX_FINDING_ROWS} more (the JSON report has all).", ""]
    if audit["egress"]:
        out += ["## Egress audit", ""]
        for run in audit["egress"]:
            out += [
                f"### {code_cell(' '.join(run['command']))}",
                "",
                f"Exit status {run['exit_status']}, rung `{run['rung']}`, {run['attempts']} "
                f"attempt(s) to {len(run['destinations'])} destination(s).",
                "",
            ]
            out += _table(
                ["Destination", "Verdict", "Attempts", "Processes"],
                [
                    [
                        code_cell(d["label"]),
                        cell(", ".join(d["verdicts"])),
                        str(d["count"]),
                        cell(", ".join(d["processes"])),
                    ]
                    for d in run["destinations"]
                ],
            )
    if audit["bundles"]:
        out += ["## Bundles", ""]
        out += _table(
            ["Bundle", "Kind", "Files", "Verified"],
            [
                [
                    code_cell(b["path"]),
                    cell(b["kind"] or ""),
                    str(b["files"]),
                    "yes" if b["verified"] else "**refused**",
                ]
                for b in audit["bundles"]
            ],
        )
    if audit["inventory"]:
        out += ["## Inventory (MLBOM)", ""]
        out += _table(
            ["Component", "Type", "Licences", "SHA-256"],
            [
                [
                    cell(c["name"] or ""),
                    cell(c["type"] or ""),
                    cell(", ".join(c["licenses"]) or "-"),
                    code_cell(c["hashes"].get("SHA-256", "")),
                ]
                for c in audit["inventory"]
            ],
        )
    out += ["## Exceptions register", ""]
    if not audit["suppressed"]:
        out += ["No accepted exception.", ""]
    else:
        out += _table(
            ["Rule", "Where", "Reason", "Source"],
            [
                [
                    code_cell(s["rule_id"]),
                    code_cell(
                        s["location"]["path"]
                        + (f":{s['location']['line']}" if s["location"]["line"] else "")
                    ),
                    cell(s["reason"]) if s["reason"] else "**none given**",
                    cell(s["source"]),
                ]
                for s in audit["suppressed"]
            ],
        )
    out += ["## Inputs", ""]
    out += _table(
        ["Result", "Command", "SHA-256"],
        [
            [code_cell(r["path"]), cell(r["command"]), code_cell(r["sha256"])]
            for r in audit["results"]
        ],
    )
    for u in audit["unreadable"]:
        where = u["path"] + (f":{u['line']}" if u["line"] else "")
        out.append(f"- **not read**: {code_cell(where)}: {cell(u['message'])}")
    if audit["unreadable"]:
        out.append("")
    out.append(
        f"{len(audit['inputs'])} input file(s) examined by these results, "
        f"{len(audit['not_examined'])} not examined (listed in the JSON and HTML forms)."
    )
    return "\n".join(out) + "\n"
