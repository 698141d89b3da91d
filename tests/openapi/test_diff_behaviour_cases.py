"""Behaviour pairs beyond one-per-check: how oasdiff treats wrappers, sub-schemas and parameters.

Each ``fixtures/openapi/diff/_cases/<name>/`` holds our own ``old.yaml``/``new.yaml`` and an
``expected.yaml`` with ``expect`` (exactly these ids fire, at any level), ``contains`` (at least
these) and ``absent`` (none of these). They pin down disagreements the oasdiff oracle
(``benchmarks/oasdiff_oracle.py``) found, so a fix stays fixed.
"""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from airgap_cli.openapi.checks import load_catalogue
from airgap_cli.openapi.diff import compare
from airgap_cli.openapi.loader import load_spec

CASES_DIR = Path(__file__).resolve().parents[2] / "fixtures" / "openapi" / "diff" / "_cases"
CASES = sorted(p.name for p in CASES_DIR.iterdir() if p.is_dir())


@pytest.mark.parametrize("name", CASES)
def test_behaviour_case(name: str) -> None:
    case = CASES_DIR / name
    expected = yaml.safe_load((case / "expected.yaml").read_text(encoding="utf-8"))
    changes = compare(load_spec(str(case / "old.yaml")), load_spec(str(case / "new.yaml")))
    fired = {c.id for c in changes}
    named = [
        *expected.get("expect", []),
        *expected.get("contains", []),
        *expected.get("absent", []),
    ]
    assert set(named) <= set(load_catalogue().checks) | set(expected.get("absent", []))
    if "expect" in expected:
        assert fired == set(expected["expect"])
    assert set(expected.get("contains", [])) <= fired
    assert not fired & set(expected.get("absent", []))
