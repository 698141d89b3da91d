"""The ``airgap`` command: a root Typer app with every command registered in one list."""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated

import typer

from airgap_cli import __version__
from airgap_cli.cli import bundle, egress, openapi
from airgap_cli.cli.check import check_command
from airgap_cli.cli.init import init_command
from airgap_cli.cli.lint import lint_command
from airgap_cli.cli.merge import merge_command
from airgap_cli.cli.report import report_command

app = typer.Typer(
    name="airgap",
    help="Prove a deployment can live without the internet.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_show_locals=False,
    context_settings={"help_option_names": ["-h", "--help"]},
)

COMMANDS: list[tuple[str, Callable[..., None]]] = [
    ("check", check_command),
    ("lint", lint_command),
    ("merge", merge_command),
    ("report", report_command),
    ("init", init_command),
]
"""Every command, registered once; only commands that work are listed."""

GROUPS: list[typer.Typer] = [openapi.app, egress.app, bundle.app]
"""Command groups (``airgap egress …``), registered once."""

for _name, _command in COMMANDS:
    app.command(_name)(_command)
for _group in GROUPS:
    app.add_typer(_group)


def _version(value: bool) -> None:
    if value:
        typer.echo(f"airgap {__version__}")
        raise typer.Exit()


@app.callback()
def _root(
    version: Annotated[
        bool,
        typer.Option(
            "--version", callback=_version, is_eager=True, help="Show the version and exit."
        ),
    ] = False,
) -> None:
    """Prove a deployment can live without the internet."""


def main() -> None:
    """Console-script entry point."""
    app()
