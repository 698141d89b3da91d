"""Shared command-line options, defined once as ``Annotated`` aliases."""

from __future__ import annotations

from enum import StrEnum
from pathlib import Path
from typing import Annotated

import typer


class OutputFormat(StrEnum):
    """Every ``--format`` (a test checks this matches the reporter registry)."""

    TEXT = "text"
    JSON = "json"
    SARIF = "sarif"
    CODEQUALITY = "codequality"
    JUNIT = "junit"
    MARKDOWN = "markdown"
    HTML = "html"


class FailOn(StrEnum):
    """Lowest severity that makes the exit code 1."""

    INFO = "info"
    LOW = "low"
    MEDIUM = "medium"
    HIGH = "high"
    CRITICAL = "critical"
    NEVER = "never"


FormatOpt = Annotated[
    OutputFormat, typer.Option("--format", "-f", help="Report format.", case_sensitive=False)
]
OutputOpt = Annotated[
    Path | None,
    typer.Option(
        "--output",
        "-o",
        help="Write the report here (atomically) instead of stdout.",
        dir_okay=False,
        writable=True,
    ),
]
ReportOpt = Annotated[
    list[str] | None,
    typer.Option(
        "--report",
        metavar="FORMAT=FILE",
        help="Also write FORMAT to FILE (repeatable), e.g. codequality=gl-code-quality.json.",
    ),
]
FailOnOpt = Annotated[
    FailOn | None,
    typer.Option(
        "--fail-on",
        help="Exit 1 when a finding is at or above this severity "
        "[default: fail_on in airgap.yaml, else low].",
        case_sensitive=False,
    ),
]
ConfigOpt = Annotated[
    Path | None,
    typer.Option(
        "--config",
        "-c",
        help="airgap.yaml to use [default: nearest one upward].",
        exists=False,
        dir_okay=False,
    ),
]
QuietOpt = Annotated[bool, typer.Option("--quiet", "-q", help="Print only the report and errors.")]
VerboseOpt = Annotated[
    bool, typer.Option("--verbose", "-v", help="Debug logging; show tracebacks on errors.")
]
NoColorOpt = Annotated[
    bool, typer.Option("--no-color", help="No colour (also when NO_COLOR is set).")
]
BaselineOpt = Annotated[
    Path | None,
    typer.Option(
        "--baseline", help="Report only findings not in this baseline file.", dir_okay=False
    ),
]
WriteBaselineOpt = Annotated[
    Path | None,
    typer.Option(
        "--write-baseline",
        help="Accept every current finding into this baseline file.",
        dir_okay=False,
    ),
]
ShardOpt = Annotated[
    str | None,
    typer.Option(
        "--shard",
        metavar="I/N",
        help="Only shard I of N (e.g. $CI_NODE_INDEX/$CI_NODE_TOTAL); `airgap merge` joins them.",
    ),
]
DEFAULT_FAIL_ON = "low"
