"""Turn the core's errors into one line on stderr and exit code 2 (``--verbose``: traceback)."""

from __future__ import annotations

import logging
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import TypeVar

import typer

from airgap_cli.core.errors import AirgapError, ConfigError, RuleError

T = TypeVar("T")

_HINTS: dict[type[AirgapError], str] = {
    ConfigError: "see docs/configuration.md",
    RuleError: "see docs/rules.md",
}


def setup_logging(verbose: bool) -> None:
    """Configure only the package logger (``-v`` or ``AIRGAP_LOGLEVEL``)."""
    import os

    level = "DEBUG" if verbose else os.environ.get("AIRGAP_LOGLEVEL", "WARNING").upper()
    logger = logging.getLogger("airgap_cli")
    logger.setLevel(level)
    if not logger.handlers:
        handler = logging.StreamHandler(sys.stderr)
        handler.setFormatter(logging.Formatter("airgap: %(levelname)s %(message)s"))
        logger.addHandler(handler)


@contextmanager
def user_errors(verbose: bool) -> Iterator[None]:
    """Run a command body: an AirgapError becomes ``error: file:line: problem`` and exit 2."""
    try:
        yield
    except AirgapError as exc:
        if verbose:
            raise
        hint = exc.hint or next((h for t, h in _HINTS.items() if isinstance(exc, t)), None)
        line = exc.diagnostics() if exc.hint or not hint else f"{exc.diagnostics()} ({hint})"
        typer.echo(f"error: {line}", err=True)
        raise typer.Exit(2) from None
    except KeyboardInterrupt:
        typer.echo("error: interrupted", err=True)
        raise typer.Exit(130) from None


def run(verbose: bool, body: Callable[[], T]) -> T:
    """``body()`` under :func:`user_errors`."""
    with user_errors(verbose):
        return body()
