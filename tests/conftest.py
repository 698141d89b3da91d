"""Shared fixtures: the in-process CLI runner and helpers to write inputs."""

from __future__ import annotations

from collections.abc import Callable
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
