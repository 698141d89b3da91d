"""``airgap init [PATH]``: a starter airgap.yaml guessed from the manifests, and the GitLab include."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from airgap_cli.cli._errors import setup_logging, user_errors
from airgap_cli.cli._options import QuietOpt, VerboseOpt
from airgap_cli.core.errors import UsageError

PathArg = Annotated[
    Path, typer.Argument(help="Repository root to write airgap.yaml into.", file_okay=False)
]
ForceOpt = Annotated[
    bool,
    typer.Option("--force", help="Overwrite an existing airgap.yaml (and the vendored template)."),
]
DryRunOpt = Annotated[
    bool,
    typer.Option(
        "--stdout", "--dry-run", help="Print airgap.yaml and what would be written; write nothing."
    ),
]
IncludeOpt = Annotated[
    str | None,
    typer.Option(
        "--include",
        metavar="SOURCE",
        help="Where the pipeline takes the airgap jobs from: local (a copy vendored into "
        ".gitlab/, the default) or project:GROUP/PROJECT@REF (a centrally kept copy).",
    ),
]
NoCiOpt = Annotated[bool, typer.Option("--no-ci", help="Leave GitLab CI alone.")]


def init_command(
    path: PathArg = Path("."),
    force: ForceOpt = False,
    dry_run: DryRunOpt = False,
    include: IncludeOpt = None,
    no_ci: NoCiOpt = False,
    quiet: QuietOpt = False,
    verbose: VerboseOpt = False,
) -> None:
    """Write a starter airgap.yaml guessed from the manifests, and include the GitLab CI jobs."""
    setup_logging(verbose)
    with user_errors(verbose):
        from airgap_cli.lint import starter

        if not path.is_dir():
            raise UsageError("not a directory", path=path)
        if no_ci and include is not None:
            raise UsageError("--no-ci and --include cannot be combined")
        source = None if no_ci else starter.Include.parse(include or "local")
        plan = starter.plan_init(path, include=source, force=force, dry_run=dry_run)
        if dry_run:
            typer.echo(plan.config.content, nl=False)
        else:
            starter.write_files(path, plan.writes)
    if not quiet:
        for line in starter.summary(plan, dry_run=dry_run):
            typer.echo(line, err=True)
