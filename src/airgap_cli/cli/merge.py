"""``airgap merge RESULT.json...``: the shards of a sharded run joined into one result."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

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
)
from airgap_cli.cli.lint import finish
from airgap_cli.core.config import load_config
from airgap_cli.core.errors import InputError
from airgap_cli.core.results import ResultFile

ResultsArg = Annotated[
    list[Path],
    typer.Argument(
        help="JSON results of `check --shard I/N` (or `lint --shard`), every shard once.",
        dir_okay=False,
        show_default=False,
    ),
]


def _shards_config(results: list[ResultFile]) -> Path | None:
    """The airgap.yaml the shards ran with, when they name one that is here."""
    for result in results:
        named = (result.shard or {}).get("config")
        if isinstance(named, str) and Path(named).is_file():
            return Path(named)
    return None


def merge_command(
    results: ResultsArg,
    fmt: FormatOpt = OutputFormat.TEXT,
    output: OutputOpt = None,
    report: ReportOpt = None,
    fail_on: FailOnOpt = None,
    config: ConfigOpt = None,
    baseline: BaselineOpt = None,
    quiet: QuietOpt = False,
    verbose: VerboseOpt = False,
    no_color: NoColorOpt = False,
) -> None:
    """Join the shards of a sharded run into the result one run gives (cross-file rules too)."""
    from airgap_cli.core.results import load_results
    from airgap_cli.lint.merge import merge_results

    setup_logging(verbose)
    with user_errors(verbose):
        extra = parse_reports(report)
        loaded, problems = load_results([str(p) for p in results])
        cfg = load_config(config or _shards_config(loaded), Path("."))
        if not loaded:
            first = problems[0] if problems else None
            raise InputError(
                f"no readable result to merge ({first.message})" if first else "no result given",
                path=first.path if first else None,
                line=first.line if first else None,
            )
        merged = merge_results(loaded, cfg)
        merged.errors[:0] = problems
        threshold = finish(merged, cfg, baseline, None, quiet)
    emit(
        merged,
        fmt=fmt.value,
        output=output,
        extra=extra,
        fail_on=fail_on.value if fail_on else threshold,
        quiet=quiet,
        no_color=no_color,
    )
