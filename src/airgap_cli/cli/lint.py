"""``airgap lint PATH...``: manifests, Helm values, gateway CRDs, Kustomize and GitLab CI."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated

import typer

from airgap_cli.cli._emit import emit, parse_reports
from airgap_cli.cli._errors import setup_logging, user_errors
from airgap_cli.cli._options import (
    DEFAULT_FAIL_ON,
    BaselineOpt,
    ConfigOpt,
    FailOnOpt,
    FormatOpt,
    NoColorOpt,
    OutputFormat,
    OutputOpt,
    QuietOpt,
    ReportOpt,
    ShardOpt,
    VerboseOpt,
    WriteBaselineOpt,
)
from airgap_cli.core.baseline import apply_baseline, load_baseline, write_baseline
from airgap_cli.core.config import Config, load_config
from airgap_cli.core.errors import UsageError
from airgap_cli.core.findings import Report
from airgap_cli.core.yamlio import check_bytes

PathsArg = Annotated[
    list[str],
    typer.Argument(
        help="Files or directories to lint; - reads stdin (helm template . | airgap lint -).",
        show_default=False,
    ),
]
IncludeOpt = Annotated[
    list[str] | None,
    typer.Option("--include", help="Glob of files to read in directories (repeatable)."),
]
ExcludeOpt = Annotated[
    list[str] | None,
    typer.Option("--exclude", help="Glob of files or directories to skip (repeatable)."),
]
JobsOpt = Annotated[
    int | None, typer.Option("--jobs", "-j", min=1, help="Worker processes [default: CPU count].")
]


def lint_command(
    paths: PathsArg,
    fmt: FormatOpt = OutputFormat.TEXT,
    output: OutputOpt = None,
    report: ReportOpt = None,
    fail_on: FailOnOpt = None,
    config: ConfigOpt = None,
    baseline: BaselineOpt = None,
    write_baseline_to: WriteBaselineOpt = None,
    shard: ShardOpt = None,
    include: IncludeOpt = None,
    exclude: ExcludeOpt = None,
    jobs: JobsOpt = None,
    quiet: QuietOpt = False,
    verbose: VerboseOpt = False,
    no_color: NoColorOpt = False,
) -> None:
    """Lint Kubernetes manifests, Helm values, gateway CRDs, Kustomize and .gitlab-ci.yml."""
    setup_logging(verbose)
    with user_errors(verbose):
        extra = parse_reports(report)
        cfg = load_config(config, _start(paths))
        cfg = with_shard(_with_globs(cfg, include, exclude), shard, write_baseline_to)
        result = run_lint(paths, cfg, jobs)
        threshold = finish(result, cfg, baseline, write_baseline_to, quiet)
    emit(
        result,
        fmt=fmt.value,
        output=output,
        extra=extra,
        fail_on=fail_on.value if fail_on else threshold,
        quiet=quiet,
        no_color=no_color,
    )


def _start(paths: list[str]) -> Path:
    first = next((p for p in paths if p != "-"), ".")
    path = Path(first)
    return path if path.is_dir() else path.parent


def _with_globs(cfg: Config, include: list[str] | None, exclude: list[str] | None) -> Config:
    from dataclasses import replace

    lint = cfg.lint
    if include:
        lint = replace(lint, include=tuple(include))
    if exclude:
        lint = replace(lint, exclude=lint.exclude + tuple(exclude))
    return replace(cfg, lint=lint)


def with_shard(cfg: Config, shard: str | None, write_baseline_to: Path | None) -> Config:
    """The config restricted to ``--shard I/N``; a shard cannot write a baseline (it sees only
    part of the findings: write it from the merged result or an unsharded run)."""
    if shard is None:
        return cfg
    from dataclasses import replace

    from airgap_cli.core.shard import Shard

    if write_baseline_to is not None:
        raise UsageError("--write-baseline needs every finding: run it without --shard")
    return replace(cfg, shard=Shard.parse(shard))


def run_lint(paths: list[str], cfg: Config, jobs: int | None = None) -> Report:
    """Lint with the config's rules; stdin is read here, bounded like any file."""
    from airgap_cli.lint import LintEngine

    stdin = None
    if "-" in paths:
        stdin = check_bytes(
            sys.stdin.buffer.read(cfg.lint.max_file_size + 1), "-", cfg.lint.max_file_size
        )
    return LintEngine.from_config(cfg).lint(paths, stdin, jobs)


def finish(
    result: Report, cfg: Config, baseline: Path | None, write_to: Path | None, quiet: bool
) -> str:
    """Apply or write the baseline; returns the --fail-on threshold to use."""
    if write_to is not None:
        count = write_baseline(result, write_to)
        if not quiet:
            typer.echo(f"wrote {write_to} accepting {count} findings", err=True)
    chosen = baseline or cfg.baseline
    if chosen is not None and write_to is None:
        apply_baseline(result, load_baseline(chosen))
    return cfg.fail_on or DEFAULT_FAIL_ON
