"""``airgap egress run | scan | diff | policy | doctor``."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.table import Table

from airgap_cli.cli._console import make_console
from airgap_cli.cli._emit import emit, parse_reports, write_atomic
from airgap_cli.cli._errors import setup_logging, user_errors
from airgap_cli.cli._options import (
    ConfigOpt,
    FailOnOpt,
    FormatOpt,
    NoColorOpt,
    OutputFormat,
    OutputOpt,
    QuietOpt,
    ReportOpt,
    VerboseOpt,
)
from airgap_cli.core.config import load_config
from airgap_cli.core.errors import InputError, UsageError
from airgap_cli.core.findings import Report, Suppressed

if TYPE_CHECKING:
    from airgap_cli.egress.auditor import AuditOptions
    from airgap_cli.egress.run import EgressRun

app = typer.Typer(
    name="egress",
    help="Egress audit: run a workload with no way out but the auditor, and record every attempt.",
    no_args_is_help=True,
)

EGRESS_FAIL_ON = "medium"
"""A DNS lookup of an outside name (medium) already fails the job: it is an egress dependency."""

AllowOpt = Annotated[
    list[str] | None,
    typer.Option(
        "--allow", help="Allowed destination (repeatable): host glob[:port], CIDR[:port]."
    ),
]
BaselineOpt = Annotated[
    Path | None,
    typer.Option(
        "--baseline",
        help="Destinations already accepted; only new ones are findings.",
        dir_okay=False,
    ),
]
WriteBaselineOpt = Annotated[
    Path | None,
    typer.Option(
        "--write-baseline", help="Accept every recorded destination into this file.", dir_okay=False
    ),
]


@app.command("run", context_settings={"allow_interspersed_args": False})
def run_command(
    command: Annotated[
        list[str],
        typer.Argument(help="The workload: airgap egress run -- CMD ARGS...", show_default=False),
    ],
    dns: Annotated[
        str, typer.Option("--dns", help="sinkhole (a synthetic address per name) or nxdomain.")
    ] = "sinkhole",
    mode: Annotated[
        str,
        typer.Option(
            "--mode",
            help="auto: the namespace sandbox, else the ptrace supervisor, else Python audit "
            "hooks (each fallback announced); sandbox: the sandbox or fail; ptrace: only the "
            "ptrace supervisor; python-hooks: only the hooks.",
        ),
    ] = "auto",
    require: Annotated[
        str | None,
        typer.Option(
            "--require",
            help="isolated: refuse to run unless the namespace sandbox works (no fallback).",
        ),
    ] = None,
    capture: Annotated[
        bool,
        typer.Option(
            "--capture", help="Complete TCP handshakes to read TLS SNI / HTTP Host / CONNECT."
        ),
    ] = False,
    link: Annotated[
        str,
        typer.Option(
            "--link",
            help="How packets reach the auditor: auto, tun, or veth (needs no TUN device).",
        ),
    ] = "auto",
    allow: AllowOpt = None,
    pcap: Annotated[
        Path | None,
        typer.Option(
            "--pcap", help="Write every packet and answer to this pcap file.", dir_okay=False
        ),
    ] = None,
    baseline: BaselineOpt = None,
    write_baseline_to: WriteBaselineOpt = None,
    fmt: FormatOpt = OutputFormat.TEXT,
    output: OutputOpt = None,
    report: ReportOpt = None,
    fail_on: FailOnOpt = None,
    config: ConfigOpt = None,
    quiet: QuietOpt = False,
    verbose: VerboseOpt = False,
    no_color: NoColorOpt = False,
) -> None:
    """Run CMD in a default-deny network namespace and record every outbound attempt."""
    from airgap_cli.egress import policy
    from airgap_cli.egress.auditor import AuditOptions
    from airgap_cli.egress.events import summarise
    from airgap_cli.egress.run import empty_report

    setup_logging(verbose)
    with user_errors(verbose):
        if dns not in ("sinkhole", "nxdomain"):
            raise UsageError(f"--dns must be sinkhole or nxdomain, not {dns!r}")
        if link not in ("auto", "tun", "veth"):
            raise UsageError(f"--link must be auto, tun or veth, not {link!r}")
        if mode not in MODES:
            raise UsageError(f"--mode must be one of {', '.join(MODES)}, not {mode!r}")
        if require not in (None, "isolated"):
            raise UsageError(f"--require takes only 'isolated', not {require!r}")
        if require == "isolated" and mode in ("ptrace", "python-hooks"):
            raise UsageError(f"--require isolated contradicts --mode {mode}")
        if mode == "ptrace" and (capture or pcap is not None):
            raise UsageError(
                "--capture and --pcap need the namespace sandbox: rung ptrace sees system calls, "
                "never packets"
            )
        extra = parse_reports(report)
        cfg = load_config(config)
        allowlist = policy.Allowlist(
            [
                *policy.allowlist_from_config(list(cfg.egress_allow), path=cfg.path).rules,
                *(policy.parse_allow(item) for item in allow or []),
            ]
        )
        chosen = baseline or cfg.egress_baseline
        accepted = policy.load_egress_baseline(chosen) if chosen and not write_baseline_to else None
        from airgap_cli.egress.pcap import PcapWriter

        writer = PcapWriter(pcap) if pcap is not None else None
        options = AuditOptions(
            nxdomain=dns == "nxdomain",
            capture=capture,
            is_allowed=allowlist.allows if allowlist.rules else None,
            proxy=bool(allowlist.rules),
            routed_cidrs=tuple(r.text for r in allowlist.cidr_rules),
            pcap=writer,
            link=link,
        )
        try:
            run = _run(command, options, mode, require, quiet)
        finally:
            if writer is not None:
                writer.close()
        result = empty_report(run)
        destinations = summarise(run.attempts)
        findings, already = policy.egress_findings(destinations, accepted)
        result.findings += findings
        result.suppressed += [
            Suppressed(f, "accepted in the egress baseline", "baseline") for f in already
        ]
        result.rules.update(policy.RULES)
        if write_baseline_to is not None:
            policy.write_egress_baseline([d.key for d in destinations], write_baseline_to)
        if not quiet:
            _print_table(result, no_color)
    threshold = fail_on.value if fail_on else cfg.fail_on or EGRESS_FAIL_ON
    emit(
        result,
        fmt=fmt.value,
        output=output,
        extra=extra,
        fail_on=threshold,
        quiet=True,
        no_color=no_color,
        status_when_clean=run.exit_status,
    )


MODES = ("auto", "sandbox", "ptrace", "python-hooks")
"""The ``--mode`` ladder, strongest first: auto tries sandbox, then ptrace, then python-hooks."""


def _run(
    command: list[str], options: AuditOptions, mode: str, require: str | None, quiet: bool
) -> EgressRun:
    """The strongest rung the mode allows; a fallback is announced, never silent."""
    from airgap_cli.egress.run import run_fallback, run_ptrace, run_workload
    from airgap_cli.egress.sandbox import SandboxError
    from airgap_cli.egress.tracer import TracerError

    if mode == "python-hooks":
        return run_fallback(command)
    if mode == "ptrace":
        return run_ptrace(command, options)
    try:
        return run_workload(command, options)
    except SandboxError as exc:
        if mode == "sandbox" or require == "isolated":
            raise
        asked = (("--capture", options.capture), ("--pcap", options.pcap is not None))
        lost = [flag for flag, used in asked if used]
        typer.echo(
            f"airgap: WARNING: {exc.diagnostics()}; falling back to rung ptrace (best-effort "
            "system-call audit, not a security boundary"
            + (f"; {' and '.join(lost)} unavailable: no packets in this rung" if lost else "")
            + "). Use --require isolated to refuse instead.",
            err=True,
        )
    try:
        return run_ptrace(command, options)
    except TracerError as exc:
        typer.echo(
            f"airgap: WARNING: {exc.diagnostics()}; falling back to rung python-audit-hooks "
            "(Python processes only, advisory). Use --require isolated to refuse instead.",
            err=True,
        )
        return run_fallback(command)


def _print_table(report: Report, no_color: bool) -> None:
    """The destination summary, on stderr (stdout belongs to the workload)."""
    details = report.details["egress"]
    console = make_console(no_color, stderr=True)
    table = Table(
        title=f"egress: {' '.join(details['command'])} (exit {details['exit_status']}, "
        f"rung {details['rung']})",
        title_justify="left",
    )
    for column in ("destination", "port", "proto", "kind", "verdict", "count", "processes"):
        table.add_column(column, overflow="fold")
    for dest in details["destinations"]:
        verdict = ", ".join(dest["verdicts"])
        style = "green" if verdict == "allowed" else "red"
        table.add_row(
            dest["destination"],
            "" if dest["port"] is None else str(dest["port"]),
            dest["protocol"],
            ", ".join(dest["kinds"]),
            f"[{style}]{verdict}[/]",
            str(dest["count"]),
            "; ".join(dest["processes"]),
        )
    if details["destinations"]:
        console.print(table)
    else:
        console.print("egress: no outbound attempt recorded", style="green")


@app.command("scan")
def scan_command(
    paths: Annotated[
        list[str] | None, typer.Argument(help="Files or directories (default: .).")
    ] = None,
    fmt: FormatOpt = OutputFormat.TEXT,
    output: OutputOpt = None,
    report: ReportOpt = None,
    fail_on: FailOnOpt = None,
    config: ConfigOpt = None,
    quiet: QuietOpt = False,
    verbose: VerboseOpt = False,
    no_color: NoColorOpt = False,
) -> None:
    """Static scan: external URLs, telemetry switches, proxies and hub downloads (nothing is run)."""
    from airgap_cli.egress.scan import scan_paths

    setup_logging(verbose)
    with user_errors(verbose):
        extra = parse_reports(report)
        targets = paths or ["."]
        cfg = load_config(config, Path(targets[0]) if Path(targets[0]).is_dir() else Path("."))
        result = scan_paths(targets, cfg)
    emit(
        result,
        fmt=fmt.value,
        output=output,
        extra=extra,
        fail_on=fail_on.value if fail_on else cfg.fail_on or "low",
        quiet=quiet,
        no_color=no_color,
    )


@app.command("diff")
def diff_command(
    baseline: Annotated[Path, typer.Argument(help="Egress baseline file.", dir_okay=False)],
    run_report: Annotated[
        Path, typer.Argument(help="JSON report of `egress run`.", dir_okay=False)
    ],
    fmt: FormatOpt = OutputFormat.TEXT,
    output: OutputOpt = None,
    fail_on: FailOnOpt = None,
    quiet: QuietOpt = False,
    verbose: VerboseOpt = False,
    no_color: NoColorOpt = False,
) -> None:
    """Destinations in REPORT that BASELINE does not accept (the CI gate)."""
    from airgap_cli.egress import policy
    from airgap_cli.egress.events import Attempt, summarise

    setup_logging(verbose)
    with user_errors(verbose):
        data = _load_run_report(run_report)
        accepted = policy.load_egress_baseline(baseline)
        attempts = [Attempt.from_dict(a) for a in data["details"]["egress"]["attempts"]]
        result = Report(command="egress-diff", tool_version=str(data["tool"]["version"]))
        result.details["egress"] = data["details"]["egress"]
        findings, already = policy.egress_findings(summarise(attempts), accepted)
        result.findings += findings
        result.suppressed += [
            Suppressed(f, "accepted in the egress baseline", "baseline") for f in already
        ]
        result.rules.update(policy.RULES)
    emit(
        result,
        fmt=fmt.value,
        output=output,
        extra=[],
        fail_on=fail_on.value if fail_on else EGRESS_FAIL_ON,
        quiet=quiet,
        no_color=no_color,
    )


def _load_run_report(path: Path) -> dict[str, Any]:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise InputError("file not found", path=path) from None
    except json.JSONDecodeError as exc:
        raise InputError(f"invalid JSON: {exc.msg}", path=path, line=exc.lineno) from None
    if not isinstance(data, dict) or "egress" not in (data.get("details") or {}):
        raise InputError("not an `airgap egress run` JSON report (no details.egress)", path=path)
    return data


@app.command("policy")
def policy_command(
    source: Annotated[
        Path, typer.Argument(help="An `egress run` JSON report or airgap.yaml.", dir_okay=False)
    ],
    namespace: Annotated[
        str, typer.Option("--namespace", "-n", help="Namespace of the policies.")
    ] = "default",
    name: Annotated[str, typer.Option("--name", help="Name of the policies.")] = "airgap-egress",
    selector: Annotated[
        list[str] | None,
        typer.Option("--selector", help="Pod label key=value (repeatable; default: all pods)."),
    ] = None,
    output: OutputOpt = None,
    verbose: VerboseOpt = False,
) -> None:
    """Emit the NetworkPolicy and CiliumNetworkPolicy that allow exactly the allowlist."""
    from airgap_cli.egress import policy

    setup_logging(verbose)
    with user_errors(verbose):
        labels = {}
        for item in selector or []:
            key, sep, value = item.partition("=")
            if not sep or not key:
                raise UsageError(f"--selector expects key=value, got {item!r}")
            labels[key] = value
        if source.suffix == ".json":
            allowlist = policy.allowlist_from_report(_load_run_report(source))
        else:
            cfg = load_config(source)
            allowlist = policy.allowlist_from_config(list(cfg.egress_allow), path=cfg.path)
        text = policy.policies_yaml(allowlist, name=name, namespace=namespace, pod_selector=labels)
        if output is not None:
            write_atomic(output, text)
        else:
            sys.stdout.write(text)


@app.command("doctor")
def doctor_command(no_color: NoColorOpt = False) -> None:
    """Explain what this machine allows and how to enable full isolation."""
    from airgap_cli.egress import tracer
    from airgap_cli.egress.doctor import diagnose, isolation_possible

    console = make_console(no_color)
    checks = [*diagnose(), tracer.diagnose()]
    for check in checks:
        mark = "[green]ok[/]  " if check.ok else "[red]no[/]  "
        console.print(mark, end=" ")
        console.print(f"{check.name:<11} {check.detail}", markup=False)
        if check.fix:
            console.print(f"       fix: {check.fix}", style="yellow", markup=False)
    possible = isolation_possible(checks)
    traceable = any(c.name == "ptrace" and c.ok for c in checks)
    if possible:
        verdict = "full isolation (rung netns+tun) is available"
    elif traceable:
        verdict = (
            "full isolation is NOT available here: `egress run` falls back to rung ptrace "
            "(best-effort audit; --require isolated refuses instead)"
        )
    else:
        verdict = (
            "full isolation is NOT available here: `egress run` falls back to rung "
            "python-audit-hooks (Python only, advisory; --require isolated refuses instead)"
        )
    console.print(verdict, style="bold green" if possible else "bold red")
    raise typer.Exit(0 if possible else 1)
