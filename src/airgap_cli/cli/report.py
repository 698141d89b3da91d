"""``airgap report RESULT.json...``: one audit report for reviewers, a verdict per control."""

from __future__ import annotations

import json
import sys
from collections.abc import Callable
from enum import StrEnum
from pathlib import Path
from typing import Annotated, Any

import typer

from airgap_cli.cli._console import make_console
from airgap_cli.cli._emit import parse_reports, write_atomic
from airgap_cli.cli._errors import setup_logging, user_errors
from airgap_cli.cli._options import DEFAULT_FAIL_ON, FailOnOpt, NoColorOpt, QuietOpt, VerboseOpt
from airgap_cli.core.errors import UsageError


class AuditFormat(StrEnum):
    """What ``airgap report`` writes."""

    HTML = "html"
    MARKDOWN = "markdown"
    JSON = "json"


_SUFFIXES = {
    ".html": AuditFormat.HTML,
    ".htm": AuditFormat.HTML,
    ".md": AuditFormat.MARKDOWN,
    ".json": AuditFormat.JSON,
}


def _renderer(fmt: AuditFormat) -> Callable[[dict[str, Any]], str]:
    if fmt is AuditFormat.HTML:
        from airgap_cli.audit.html import render_html

        return render_html
    if fmt is AuditFormat.MARKDOWN:
        from airgap_cli.audit.markdown import render_markdown

        return render_markdown
    return lambda audit: json.dumps(audit, indent=2, ensure_ascii=False) + "\n"


ResultsArg = Annotated[
    list[Path],
    typer.Argument(
        help="JSON results of check, lint, openapi, egress run, bundle verify/scan, or an MLBOM.",
        dir_okay=False,
        show_default=False,
    ),
]


def report_command(
    results: ResultsArg,
    fmt: Annotated[
        AuditFormat | None,
        typer.Option(
            "--format",
            "-f",
            help="html, markdown or json [default: from --output's suffix, else markdown].",
            case_sensitive=False,
        ),
    ] = None,
    output: Annotated[
        Path | None,
        typer.Option("--output", "-o", help="Write the report here (atomically).", dir_okay=False),
    ] = None,
    report: Annotated[
        list[str] | None,
        typer.Option(
            "--report", metavar="FORMAT=FILE", help="Also write FORMAT to FILE (repeatable)."
        ),
    ] = None,
    fail_on: FailOnOpt = None,
    control: Annotated[
        list[str] | None,
        typer.Option("--control", help="Assess only this control (repeatable), e.g. SC-7."),
    ] = None,
    controls_dir: Annotated[
        list[Path] | None,
        typer.Option(
            "--controls-dir",
            help="More controls (YAML, as rules/controls/); same id replaces a built-in.",
            file_okay=False,
        ),
    ] = None,
    title: Annotated[str, typer.Option("--title", help="Report title.")] = "Air-gap audit report",
    strict: Annotated[
        bool,
        typer.Option(
            "--strict", help="Exit 1 also when a control is inconclusive or not assessed."
        ),
    ] = False,
    sign: Annotated[
        bool,
        typer.Option("--sign", help="Sign the written files as a DSSE statement (needs --key)."),
    ] = False,
    key: Annotated[
        Path | None,
        typer.Option("--key", "-k", help="Private key for --sign.", dir_okay=False),
    ] = None,
    quiet: QuietOpt = False,
    verbose: VerboseOpt = False,
    no_color: NoColorOpt = False,
) -> None:
    """One audit report from the JSON results of the other commands: a verdict per control."""
    from airgap_cli.audit.assess import AuditOptions, assess, exit_code
    from airgap_cli.audit.controls import load_controls
    from airgap_cli.cli.bundle import signing_key
    from airgap_cli.core.results import load_results

    setup_logging(verbose)
    errors = make_console(no_color, stderr=True)
    with user_errors(verbose):
        formats = [f.value for f in AuditFormat]
        extra = [(AuditFormat(n), p) for n, p in parse_reports(report, formats)]
        suffix = output.suffix.lower() if output else ""
        chosen = fmt or _SUFFIXES.get(suffix, AuditFormat.MARKDOWN)
        if sign and key is None:
            raise UsageError("--sign needs --key (the private key that signs the report)")
        if sign and output is None:
            raise UsageError("--sign needs --output: a report on stdout cannot be signed")
        controls = load_controls(controls_dir or (), control or ())
        private = signing_key(key) if sign and key is not None else None
        loaded, problems = load_results([str(p) for p in results], merged_only=True)
        options = AuditOptions(
            fail_on=fail_on.value if fail_on else DEFAULT_FAIL_ON,
            title=title,
            argv=("airgap", *sys.argv[1:]),
        )
        audit = assess(loaded, problems, controls, options)
        written = []
        for target_fmt, path in extra:
            write_atomic(path, _renderer(target_fmt)(audit))
            written.append(path)
        text = _renderer(chosen)(audit)
        if output is None:
            sys.stdout.write(text)
            sys.stdout.flush()
        else:
            write_atomic(output, text)
            written.insert(0, output)
        if private is not None and output is not None:
            _sign(written, audit, private, output)
    for problem in problems:
        errors.print(f"error: {problem.diagnostics()}", markup=False, highlight=False)
    if not quiet:
        errors.print(_summary(audit), markup=False, highlight=False)
    raise typer.Exit(exit_code(audit, strict=strict))


def _sign(written: list[Path], audit: dict[str, Any], private: Any, output: Path) -> None:
    from airgap_cli.bundle.attest import sign_report
    from airgap_cli.bundle.sign import default_signature_path

    predicate = {
        "schema": audit["schema"],
        "title": audit["title"],
        "generated": audit["generated"],
        "tool": audit["tool"],
        "verdict": audit["verdict"],
        "fail_on": audit["fail_on"],
        "controls": [{"id": c["id"], "verdict": c["verdict"]} for c in audit["controls"]],
        "results": [{"path": r["path"], "sha256": r["sha256"]} for r in audit["results"]],
    }
    target = default_signature_path(output)
    write_atomic(target, json.dumps(sign_report(written, predicate, private), indent=2) + "\n")
    typer.echo(f"signed {', '.join(map(str, written))} -> {target}", err=True)


def _summary(audit: dict[str, Any]) -> str:
    counts = audit["summary"]["controls"]
    tally = ", ".join(f"{n} {v}" for v, n in counts.items() if n)
    summary = audit["summary"]
    return (
        f"audit: {audit['verdict'].upper()}: {tally} ({sum(counts.values())} controls); "
        f"{summary['findings']} findings ({summary['failing']} failing) from "
        f"{summary['results']} result file(s)"
    )
