"""The check catalogue: shipped as data, validated on load, rendered for messages and docs."""

from __future__ import annotations

import pytest
import yaml

from airgap_cli.core.errors import RuleError
from airgap_cli.openapi.checks import (
    LEVELS,
    Catalogue,
    Check,
    _parse,
    load_catalogue,
    render_checks_markdown,
)


def test_the_shipped_catalogue_has_one_valid_entry_per_check() -> None:
    catalogue = load_catalogue()
    assert len(catalogue.checks) > 200
    for check in catalogue.checks.values():
        assert check.level in LEVELS
        assert check.description.endswith(".") and check.example
    assert catalogue.level("request-property-max-length-decreased") == "error"
    assert catalogue.level("response-property-enum-value-added") == "warning"
    assert catalogue.level("endpoint-added") == "info"


def test_messages_quote_arguments_the_way_oasdiff_prints_them() -> None:
    catalogue = load_catalogue()
    message = catalogue.render("request-property-max-length-decreased", ("name", "20"))
    assert message == "the 'name' request property's maxLength was decreased to '20'"
    assert catalogue.render("endpoint-added", ()) == "endpoint added"


def test_missing_arguments_render_as_empty_quotes_not_a_crash() -> None:
    catalogue = Catalogue([Check("x", "info", "none", "a %s b %s", "d.", "e")])
    assert catalogue.render("x", ("1",)) == "a '1' b ''"


@pytest.mark.parametrize(
    "entry",
    [
        {
            "id": "x",
            "level": "fatal",
            "direction": "none",
            "message": "m",
            "description": "d",
            "example": "e",
        },
        {
            "id": "x",
            "level": "info",
            "direction": "up",
            "message": "m",
            "description": "d",
            "example": "e",
        },
        {
            "id": "x",
            "level": "info",
            "direction": "none",
            "message": "100%",
            "description": "d",
            "example": "e",
        },
        {"id": "x", "level": "info", "direction": "none", "message": "m"},
    ],
)
def test_a_malformed_entry_is_refused(entry: dict[str, str]) -> None:
    with pytest.raises(RuleError):
        _parse({"checks": [entry]}, "checks.yaml")


def test_duplicate_ids_are_refused() -> None:
    entry = {
        "id": "x",
        "level": "info",
        "direction": "none",
        "message": "m",
        "description": "d",
        "example": "e",
    }
    with pytest.raises(RuleError):
        _parse(yaml.safe_load(yaml.safe_dump({"checks": [entry, entry]})), "checks.yaml")


def test_the_markdown_table_lists_every_check_with_its_level() -> None:
    table = render_checks_markdown()
    catalogue = load_catalogue()
    assert table.startswith(f"{len(catalogue.checks)} checks: ")
    for check_id, check in catalogue.checks.items():
        assert f"| `{check_id}` | {check.level} |" in table
