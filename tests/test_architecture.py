"""House rules that keep the codebase easy to live in."""

from __future__ import annotations

import ast
import subprocess
import sys
import time
from pathlib import Path

SRC = Path(__file__).resolve().parent.parent / "src" / "airgap_cli"


def _imports(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names |= {a.name.split(".")[0] for a in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module:
            names.add(node.module.split(".")[0])
    return names


def test_only_the_cli_imports_typer_or_rich_and_nothing_imports_click() -> None:
    for path in SRC.rglob("*.py"):
        imported = _imports(path)
        assert "click" not in imported, path
        if "cli" not in path.relative_to(SRC).parts:
            assert not imported & {"typer", "rich"}, f"{path} imports typer/rich outside cli/"


def test_the_core_is_importable_without_the_cli() -> None:
    code = (
        "import sys, airgap_cli.lint, airgap_cli.reporters;"
        "assert 'typer' not in sys.modules and 'rich' not in sys.modules, sorted(sys.modules)"
    )
    subprocess.run([sys.executable, "-c", code], check=True)


def test_help_is_fast() -> None:
    started = time.perf_counter()
    subprocess.run([sys.executable, "-m", "airgap_cli", "--help"], check=True, capture_output=True)
    assert time.perf_counter() - started < 3.0
