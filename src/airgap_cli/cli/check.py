"""``airgap check [PATH]``: every static check the repository's airgap.yaml asks for."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Annotated

import typer

from airgap_cli import __version__
from airgap_cli.cli._emit import emit, parse_reports
from airgap_cli.cli._errors import setup_logging, user_errors
from airgap_cli.cli._options import (
    BaselineOpt,
    ConfigOpt,
    FailOnOpt,
    FormatOpt,
    NoColorOpt,
    OutputFormat,
    OutputOpt,
    QuietOpt,
    ReportOpt,
    VerboseOpt,
    WriteBaselineOpt,
)
from airgap_cli.cli.lint import finish, run_lint
from airgap_cli.core.config import Config, load_config
from airgap_cli.core.errors import UsageError
from airgap_cli.core.findings import InputIssue, Report

PathArg = Annotated[
    Path, typer.Argument(help="Repository (or directory) to check.", file_okay=False)
]


def check_command(
    path: PathArg = Path("."),
    fmt: FormatOpt = OutputFormat.TEXT,
    output: OutputOpt = None,
    report: ReportOpt = None,
    fail_on: FailOnOpt = None,
    config: ConfigOpt = None,
    baseline: BaselineOpt = None,
    write_baseline_to: WriteBaselineOpt = None,
    quiet: QuietOpt = False,
    verbose: VerboseOpt = False,
    no_color: NoColorOpt = False,
) -> None:
    """Every static check of a repository: lint, egress scan, and the bundles airgap.yaml pins."""
    setup_logging(verbose)
    with user_errors(verbose):
        if not path.is_dir():
            raise UsageError("not a directory", path=path)
        extra = parse_reports(report)
        cfg = load_config(config, path)
        root = cfg.root if cfg.path else path
        targets = [str(root / p) for p in cfg.lint.paths] or [str(path)]
        combined = Report(command="check", tool_version=__version__)
        for static_check in CHECKS:
            combined.extend(static_check(targets, cfg))
        threshold = finish(combined, cfg, baseline, write_baseline_to, quiet)
    emit(
        combined,
        fmt=fmt.value,
        output=output,
        extra=extra,
        fail_on=fail_on.value if fail_on else threshold,
        quiet=quiet,
        no_color=no_color,
    )


def _lint(targets: list[str], cfg: Config) -> Report:
    return run_lint(targets, cfg)


def _egress_scan(targets: list[str], cfg: Config) -> Report:
    from dataclasses import replace

    from airgap_cli.egress.scan import scan_paths

    # YAML and JSON are the linter's: scanning them again would report the same switch twice.
    lint = replace(cfg.lint, exclude=(*cfg.lint.exclude, "*.yaml", "*.yml", "*.json"))
    return scan_paths(targets, replace(cfg, lint=lint))


def _bundles(targets: list[str], cfg: Config) -> Report:
    """Verify every bundle airgap.yaml pins (fail closed: a missing signature is a finding)."""
    from airgap_cli.bundle import keys, sign
    from airgap_cli.bundle.verify import RULES, verify_path

    report = Report(command="bundle-verify", tool_version=__version__)
    for spec in cfg.bundles:
        signature = spec.signature or sign.default_signature_path(spec.path)
        public = keys.load_public_key(keys.read_key_file(spec.key), str(spec.key))
        if not spec.path.exists() or not signature.exists():
            missing = spec.path if not spec.path.exists() else signature
            report.errors.append(InputIssue(str(missing), "bundle or signature not found"))
            continue
        result = verify_path(spec.path, public, signature)
        report.findings += result.findings
        report.rules.update(RULES)
    return report


CHECKS: list[Callable[[list[str], Config], Report]] = [_lint, _egress_scan, _bundles]
"""The static checks ``airgap check`` runs, in order; each pillar adds its own."""
