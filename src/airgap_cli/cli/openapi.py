"""``airgap openapi validate | lint | diff | breaking``: specs checked and compared offline."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path
from typing import Annotated

import typer

from airgap_cli import __version__
from airgap_cli.cli._emit import emit, parse_reports
from airgap_cli.cli._errors import setup_logging, user_errors
from airgap_cli.cli._options import (
    DEFAULT_FAIL_ON,
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
from airgap_cli.core.config import Config, load_config
from airgap_cli.core.errors import InputError, UsageError
from airgap_cli.core.findings import Finding, InputIssue, InputRecord, Report, Skipped

app = typer.Typer(
    name="openapi",
    help="OpenAPI specs: validate, lint, and catch breaking changes (oasdiff check ids), offline.",
    no_args_is_help=True,
)

SpecsArg = Annotated[list[Path], typer.Argument(help="Spec files (YAML or JSON).", dir_okay=False)]
RefMapOpt = Annotated[
    list[str] | None,
    typer.Option(
        "--ref-map",
        metavar="URL=FILE",
        help="Use FILE for a remote $ref document (repeatable); nothing is ever fetched.",
    ),
]


class LevelFailOn(StrEnum):
    """Lowest change level that makes ``breaking``/``diff`` exit 1."""

    ERROR = "error"
    WARNING = "warning"
    INFO = "info"
    NEVER = "never"


LevelFailOpt = Annotated[
    LevelFailOn | None,
    typer.Option(
        "--fail-on",
        help="Exit 1 at or above this change level [default: openapi.fail_on, else error; "
        "diff: never].",
        case_sensitive=False,
    ),
]
BaseOpt = Annotated[
    str | None,
    typer.Option(
        "--base",
        metavar="REF",
        help="Compare each SPEC with its version at this git revision (e.g. origin/main) "
        "[default: openapi.base].",
    ),
]
IgnoreOpt = Annotated[
    list[Path] | None,
    typer.Option(
        "--ignore",
        metavar="FILE",
        help="Accepted changes, in oasdiff's ignore-file line format (repeatable).",
        dir_okay=False,
    ),
]
LevelsOpt = Annotated[
    Path | None,
    typer.Option(
        "--severity-levels",
        metavar="FILE",
        help="Per-check level overrides, one 'check-id level' per line (level: error, "
        "warning, info or none).",
        dir_okay=False,
    ),
]


def _ref_map(values: list[str] | None, cfg: Config) -> dict[str, str]:
    mapping = dict(cfg.openapi.ref_map)
    for value in values or ():
        url, sep, file = value.partition("=")
        if not sep or not url.startswith(("http://", "https://")) or not file:
            raise UsageError(f"--ref-map wants URL=FILE with an http(s) URL, got {value!r}")
        mapping[url] = file
    return mapping


def _per_spec(
    command: str,
    specs: list[Path],
    ref_map: dict[str, str],
    check: Callable[..., list[Finding]],
) -> Report:
    """Run ``check(spec)`` on each spec; an unreadable spec is an input error, the rest go on."""
    from airgap_cli.openapi.loader import load_spec

    report = Report(command=command, tool_version=__version__)
    started = time.perf_counter()
    for path in specs:
        try:
            spec = load_spec(str(path), ref_map=ref_map)
        except InputError as exc:
            report.errors.append(InputIssue(exc.path or str(path), exc.message, exc.line))
            continue
        report.inputs.append(InputRecord(str(path), spec.sha256, len(spec.documents())))
        report.findings += check(spec)
    report.timings["total"] = round(time.perf_counter() - started, 3)
    return report


def _spec_command(
    run: Callable[[list[Path], Config, dict[str, str]], Report], doc: str
) -> Callable[..., None]:
    """A per-spec command (validate, lint): one body, the common options, its own runner."""

    def spec_command(
        specs: SpecsArg,
        ref_map: RefMapOpt = None,
        fmt: FormatOpt = OutputFormat.TEXT,
        output: OutputOpt = None,
        report: ReportOpt = None,
        fail_on: FailOnOpt = None,
        config: ConfigOpt = None,
        quiet: QuietOpt = False,
        verbose: VerboseOpt = False,
        no_color: NoColorOpt = False,
    ) -> None:
        setup_logging(verbose)
        with user_errors(verbose):
            extra = parse_reports(report)
            cfg = load_config(config, specs[0].parent)
            result = run(specs, cfg, _ref_map(ref_map, cfg))
            threshold = fail_on.value if fail_on else cfg.fail_on or DEFAULT_FAIL_ON
        emit(
            result,
            fmt=fmt.value,
            output=output,
            extra=extra,
            fail_on=threshold,
            quiet=quiet,
            no_color=no_color,
        )

    spec_command.__doc__ = doc
    return spec_command


def run_validate(specs: list[Path], cfg: Config, ref_map: dict[str, str]) -> Report:
    """Validate each spec (shared with ``airgap check``)."""
    from airgap_cli.openapi.validate import RULES, validate

    result = _per_spec("openapi-validate", specs, ref_map, validate)
    result.rules.update(RULES)
    return result


def run_lint(specs: list[Path], cfg: Config, ref_map: dict[str, str]) -> Report:
    """Lint each spec with the configured OpenAPI rules (shared with ``airgap check``)."""
    from airgap_cli.openapi.lint import lint, load_openapi_rules

    rules = load_openapi_rules(cfg)
    result = _per_spec(
        "openapi-lint", specs, ref_map, lambda spec: lint(spec, boundary=cfg.boundary, rules=rules)
    )
    result.rules.update({rule.id: rule.metadata() for rule in rules})
    return result


def _compare_command(breaking_only: bool) -> Callable[..., None]:
    command = "openapi-breaking" if breaking_only else "openapi-diff"

    def compare_command(
        specs: Annotated[
            list[Path],
            typer.Argument(help="OLD NEW, or with --base: one or more specs.", dir_okay=False),
        ],
        base: BaseOpt = None,
        ignore: IgnoreOpt = None,
        severity_levels: LevelsOpt = None,
        ref_map: RefMapOpt = None,
        fmt: FormatOpt = OutputFormat.TEXT,
        output: OutputOpt = None,
        report: ReportOpt = None,
        fail_on: LevelFailOpt = None,
        config: ConfigOpt = None,
        quiet: QuietOpt = False,
        verbose: VerboseOpt = False,
        no_color: NoColorOpt = False,
    ) -> None:
        setup_logging(verbose)
        with user_errors(verbose):
            extra = parse_reports(report)
            cfg = load_config(config, specs[0].parent)
            levels = dict(cfg.openapi.levels)
            if severity_levels is not None:
                from airgap_cli.openapi.ignore import load_levels

                levels.update(load_levels(severity_levels))
            settings = CompareSettings(
                base=base or (cfg.openapi.base if len(specs) != 2 else None),
                ignore=[*cfg.openapi.ignore, *(ignore or ())],
                levels=levels,
                ref_map=_ref_map(ref_map, cfg),
                breaking_only=breaking_only,
            )
            result = run_compare(command, specs, settings)
            default = cfg.openapi.fail_on if breaking_only else "never"
            level = fail_on.value if fail_on else default
        threshold = _level_threshold(level)
        emit(
            result,
            fmt=fmt.value,
            output=output,
            extra=extra,
            fail_on=threshold,
            quiet=quiet,
            no_color=no_color,
        )

    compare_command.__doc__ = (
        "Breaking changes between two versions (error/warning), oasdiff check ids."
        if breaking_only
        else "Every change between two versions, each with its oasdiff check id and level."
    )
    return compare_command


def _level_threshold(level: str) -> str:
    from airgap_cli.openapi.breaking import LEVEL_FAIL_ON

    return LEVEL_FAIL_ON[level]


@dataclass(frozen=True)
class CompareSettings:
    """What ``diff``/``breaking`` need besides the specs."""

    base: str | None
    ignore: list[Path]
    levels: dict[str, str]
    ref_map: dict[str, str]
    breaking_only: bool


def run_compare(command: str, specs: list[Path], settings: CompareSettings) -> Report:
    """Compare OLD NEW, or each spec with its ``--base`` version (shared with ``airgap check``)."""
    from airgap_cli.openapi.breaking import compare_findings
    from airgap_cli.openapi.gitbase import MissingAtBase, git_reader
    from airgap_cli.openapi.loader import load_spec

    if settings.base is None and len(specs) != 2:
        raise UsageError("give OLD and NEW, or --base REF with one or more specs")
    pairs: list[tuple[str, Path, Callable[[str], bytes] | None]]
    if settings.base is None:
        pairs = [(str(specs[0]), specs[1], None)]
    else:
        at_base = git_reader(settings.base, specs[0].resolve().parent)
        pairs = [(str(spec), spec, at_base) for spec in specs]
    report = Report(command=command, tool_version=__version__)
    started = time.perf_counter()
    for old_path, new_path, reader in pairs:
        try:
            try:
                old = load_spec(old_path, ref_map=settings.ref_map, reader=reader)
            except MissingAtBase:
                report.skipped.append(Skipped(str(new_path), f"new spec: not in {settings.base}"))
                continue
            new = load_spec(str(new_path), ref_map=settings.ref_map)
            findings, suppressed = compare_findings(
                old,
                new,
                breaking_only=settings.breaking_only,
                ignore_files=settings.ignore,
                levels=settings.levels,
            )
        except InputError as exc:
            report.errors.append(InputIssue(exc.path or str(new_path), exc.message, exc.line))
            continue
        label = f"{settings.base}:{old_path}" if settings.base else old_path
        report.inputs.append(InputRecord(label, old.sha256, len(old.documents())))
        report.inputs.append(InputRecord(str(new_path), new.sha256, len(new.documents())))
        report.findings += findings
        report.suppressed += suppressed
    report.timings["total"] = round(time.perf_counter() - started, 3)
    return report


app.command("validate")(
    _spec_command(
        run_validate,
        "Structural validity of OpenAPI 2.0 / 3.0 / 3.1 specs (openapi-spec-validator's verdicts).",
    )
)
app.command("lint")(
    _spec_command(
        run_lint,
        "Air-gap and API-hygiene rules: remote $refs, public servers and OAuth URLs, security, ...",
    )
)
app.command("diff")(_compare_command(breaking_only=False))
app.command("breaking")(_compare_command(breaking_only=True))
