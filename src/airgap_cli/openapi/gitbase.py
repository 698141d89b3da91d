"""Read files as they were at a git revision, so ``--base origin/main`` needs no checkout."""

from __future__ import annotations

import subprocess
from pathlib import Path

from airgap_cli.core.errors import InputError, UsageError
from airgap_cli.openapi.loader import Reader


class MissingAtBase(InputError):
    """The file did not exist at the base revision (a new spec: nothing to compare)."""


def _git(args: list[str], cwd: Path) -> subprocess.CompletedProcess[bytes]:
    try:
        return subprocess.run(["git", *args], cwd=cwd, capture_output=True, check=False)
    except OSError as exc:  # no git binary
        raise UsageError(f"cannot run git: {exc.strerror or exc}") from None


def git_reader(ref: str, start: Path) -> Reader:
    """A Reader returning each file's bytes at ``ref`` (``git show REF:path``), bounded by git."""
    top = _git(["rev-parse", "--show-toplevel"], start)
    if top.returncode != 0:
        raise UsageError(f"--base needs a git checkout: {start} is not in one")
    toplevel = Path(top.stdout.decode().strip()).resolve()
    if _git(["rev-parse", "--verify", "--quiet", f"{ref}^{{commit}}"], toplevel).returncode != 0:
        raise UsageError(f"unknown git revision {ref!r} (fetch it first, e.g. git fetch origin)")

    def read(path: str) -> bytes:
        try:
            relative = Path(path).resolve().relative_to(toplevel)
        except ValueError:
            raise InputError(f"outside the git checkout {toplevel}", path=path) from None
        shown = _git(["show", f"{ref}:{relative.as_posix()}"], toplevel)
        if shown.returncode != 0:
            raise MissingAtBase(f"not in {ref}", path=path)
        return shown.stdout

    return read
