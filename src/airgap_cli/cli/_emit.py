"""The shared tail of every command: render, write atomically, summarise, choose the exit code."""

from __future__ import annotations

import os
import stat
import sys
import tempfile
from collections.abc import Sequence
from pathlib import Path

import typer

from airgap_cli.cli._console import make_console, render, summary_text
from airgap_cli.core.errors import OutputError, UsageError
from airgap_cli.core.findings import Report
from airgap_cli.reporters import RenderOptions, get_reporter


def parse_reports(
    values: list[str] | None, formats: Sequence[str] | None = None
) -> list[tuple[str, Path]]:
    """``FORMAT=FILE`` pairs from ``--report``: a reporter's name, or one of ``formats``."""
    pairs = []
    for value in values or []:
        name, sep, file = value.partition("=")
        if not sep or not file:
            raise UsageError(f"--report expects FORMAT=FILE, got {value!r}")
        if formats is not None:
            if name not in formats:
                raise UsageError(f"unknown format {name!r}; choose from {', '.join(formats)}")
        else:
            try:
                get_reporter(name)
            except KeyError as exc:
                raise UsageError(str(exc.args[0])) from None
        pairs.append((name, Path(file)))
    return pairs


def write_atomic(path: Path, text: str) -> None:
    """Write ``text`` to ``path`` via a temporary file and rename (no half-written reports).

    A destination that exists and is not a regular file (``/dev/null``, a FIFO, a symlink such as
    ``/dev/stdout``) is written in place, as a shell redirection would: a rename replaces the
    node itself, and as root ``--output /dev/null`` turned the machine's /dev/null into a
    regular file that no other user could open for writing.

    An unwritable destination is an :class:`OutputError` (one line, exit 2), never a traceback.
    """
    try:
        if _in_place(path):
            with open(path, "w", encoding="utf-8", newline="") as handle:
                handle.write(text)
        else:
            _write_atomic(path, text)
    except OSError as exc:
        raise OutputError(f"cannot write the report: {exc.strerror or exc}", path=path) from None


def _in_place(path: Path) -> bool:
    """An existing device, FIFO, socket or symlink (a directory fails in the rename, as before)."""
    try:
        mode = os.lstat(path).st_mode
    except FileNotFoundError:
        return False
    return not (stat.S_ISREG(mode) or stat.S_ISDIR(mode))


def _write_atomic(path: Path, text: str) -> None:
    directory = path.parent if str(path.parent) else Path(".")
    directory.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=directory, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline="") as handle:
            handle.write(text)
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(tmp, 0o666 & ~umask)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def emit(
    report: Report,
    *,
    fmt: str,
    output: Path | None,
    extra: list[tuple[str, Path]],
    fail_on: str,
    quiet: bool,
    no_color: bool,
    status_when_clean: int = 0,
) -> None:
    """Render the report as asked and exit 0/1/2 (never returns).

    ``status_when_clean`` is the exit code when nothing reaches ``fail_on`` (``egress run``
    returns the workload's own status then, so a failing test suite still fails the job).
    """
    options = RenderOptions(fail_on=fail_on)
    errors = make_console(no_color, stderr=True)
    try:
        for name, path in extra:
            write_atomic(path, get_reporter(name).render(report, options))
        text = (
            None
            if fmt == "text" and output is None and sys.stdout.isatty()
            else (get_reporter(fmt).render(report, options))
        )
        if text is not None and output is not None:
            write_atomic(output, text)
    except OutputError as exc:
        errors.print(f"error: {exc.diagnostics()}", markup=False, highlight=False)
        raise typer.Exit(2) from None
    if text is None:
        render(report, make_console(no_color))
    else:
        if output is None:
            sys.stdout.write(text)
            sys.stdout.flush()
        for issue in report.errors:
            errors.print(f"error: {issue.diagnostics()}", markup=False, highlight=False)
        if not quiet and (fmt != "text" or output is not None):
            errors.print(summary_text(report))
    code = report.exit_code(fail_on)
    raise typer.Exit(code if code else status_when_clean)
