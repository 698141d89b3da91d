"""Shared fixtures: the in-process CLI runner and helpers to write inputs."""

from __future__ import annotations

import os
import stat
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from hypothesis import settings
from typer.testing import CliRunner

from airgap_cli.cli import app

# Property tests assert behaviour, not speed: on a loaded 2-core CI runner a single example can
# exceed hypothesis' default 200 ms deadline and fail the suite as "flaky" (seen here).
settings.register_profile("airgap", deadline=None)
settings.load_profile("airgap")

REPO = Path(__file__).resolve().parent.parent
FIXTURES = REPO / "fixtures"


@pytest.fixture
def cli() -> Callable[..., object]:
    """Run ``airgap ARGS`` in-process; returns the click Result (exit_code, stdout, stderr)."""
    runner = CliRunner()

    def invoke(*args: str, input: str | bytes | None = None) -> object:
        return runner.invoke(app, list(args), input=input, catch_exceptions=False)

    return invoke


@pytest.fixture
def write(tmp_path: Path) -> Callable[[str, str], Path]:
    """Write a file under tmp_path and return its path."""

    def _write(name: str, content: str) -> Path:
        path = tmp_path / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(content, encoding="utf-8")
        return path

    return _write


def null_device_problem() -> str | None:
    """Why /dev/null is not the machine's null device (1:3, writable by everyone), or None."""
    try:
        found = os.stat("/dev/null")
    except OSError as exc:
        return f"/dev/null: {exc.strerror}"
    if not stat.S_ISCHR(found.st_mode) or found.st_rdev != os.makedev(1, 3):
        return f"/dev/null is not the null device but a {stat.filemode(found.st_mode)} node"
    if found.st_mode & 0o666 != 0o666:
        return f"/dev/null is {stat.filemode(found.st_mode)}, not writable by every user"
    return None


@pytest.fixture(autouse=True)
def _null_device_survives() -> Iterator[None]:
    """A tripwire: renaming a report over /dev/null as root broke it for the whole machine, and
    surfaced only as unrelated failures of tests that run tools as another user."""
    before = null_device_problem()
    yield
    after = null_device_problem()
    if before is None and after is not None:
        pytest.fail(f"{after} after this test (it, or another process on the machine, replaced it)")
