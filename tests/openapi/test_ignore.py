"""oasdiff-compatible ignore files and severity-level overrides."""

from __future__ import annotations

from pathlib import Path

import pytest

from airgap_cli.core.errors import InputError
from airgap_cli.openapi.diff import Change
from airgap_cli.openapi.ignore import apply, load_ignore, load_levels, parse_ignore, parse_levels


def change(check: str, message: str, *operations: str, level: str = "error") -> Change:
    return Change(check, level, message, tuple(operations), "api.yaml", "/paths", 3, "new")


STATUS_REMOVED = change(
    "response-success-status-removed",
    "removed the success response with the status '200'",
    "GET /api/test",
)


def test_an_oasdiff_line_accepts_the_change_it_names() -> None:
    ignore = parse_ignore("GET /api/test removed the success response with the status '200'\n")
    kept, ignored = apply([STATUS_REMOVED], ignore)
    assert (kept, ignored) == ([], [STATUS_REMOVED])


def test_matching_is_case_insensitive_and_allows_surrounding_text() -> None:
    ignore = parse_ignore(
        " - 12.01.2023 In get /API/TEST we Removed the success response with the status '200'\n"
    )
    assert apply([STATUS_REMOVED], ignore)[1] == [STATUS_REMOVED]


@pytest.mark.parametrize(
    "line",
    [
        "POST /api/test removed the success response with the status '200'",
        "GET /api/test2 removed the success response with the status '200'",
        "GET /api/test removed the success response with the status '201'",
        "removed the success response with the status '200'",
    ],
)
def test_a_line_for_another_operation_or_message_keeps_the_change(line: str) -> None:
    assert apply([STATUS_REMOVED], parse_ignore(line)) == ([STATUS_REMOVED], [])


def test_a_change_on_many_operations_is_split_by_what_was_accepted() -> None:
    shared = change(
        "response-required-property-removed",
        "removed the required property 'id' from the response with the '200' status",
        "GET /a",
        "GET /b",
    )
    ignore = parse_ignore(
        "GET /a removed the required property 'id' from the response with the '200' status"
    )
    kept, ignored = apply([shared], ignore)
    assert [c.operations for c in kept] == [("GET /b",)]
    assert [c.operations for c in ignored] == [("GET /a",)]


def test_each_operation_is_matched_on_its_own_sentence() -> None:
    shared = Change(
        "response-property-enum-value-added",
        "warning",
        "added the new 'b' enum value to the '/items/state' response property for the response status '200'",
        ("GET /things", "POST /things"),
        "api.yaml",
        "/components/schemas/Thing/properties/state/enum",
        9,
        "new",
        (
            (
                "GET /things",
                "added the new 'b' enum value to the '/items/state' response property for the response status '200'",
            ),
            (
                "POST /things",
                "added the new 'b' enum value to the 'state' response property for the response status '201'",
            ),
        ),
    )
    line = "POST /things added the new 'b' enum value to the 'state' response property for the response status '201'"
    kept, ignored = apply([shared], parse_ignore(line))
    assert [c.operations for c in ignored] == [("POST /things",)]
    assert ignored[0].message.endswith("status '201'")
    assert [c.operations for c in kept] == [("GET /things",)]
    assert kept[0].variants == shared.variants[:1]
    # the GET sentence on the POST operation is not an acceptance
    wrong = "POST /things added the new 'b' enum value to the '/items/state' response property for the response status '200'"
    assert apply([shared], parse_ignore(wrong)) == ([shared], [])


def test_component_and_top_level_security_changes_match_by_section_word() -> None:
    schema = change("api-schema-removed", "removed the schema 'rules'", level="info")
    security = change(
        "api-global-security-removed", "the security scheme 'key' was removed from the API"
    )
    ignore = parse_ignore(
        "components removed the schema 'rules'\nsecurity: the security scheme 'key' was removed from the API\n"
    )
    assert apply([schema, security], ignore) == ([], [schema, security])
    assert apply([schema], parse_ignore("removed the schema 'rules'")) == ([schema], [])


def test_several_ignore_lists_are_combined(tmp_path: Path) -> None:
    first = tmp_path / "one.txt"
    first.write_text("nothing here\n", encoding="utf-8")
    second = tmp_path / "two.md"
    second.write_text(
        "* GET /api/test removed the success response with the status '200'\n", encoding="utf-8"
    )
    lists = [load_ignore(first), load_ignore(second)]
    assert lists[1].lines[0].path == "/api/test"
    assert apply([STATUS_REMOVED], lists) == ([], [STATUS_REMOVED])


def test_an_unreadable_ignore_file_is_an_input_error(tmp_path: Path) -> None:
    with pytest.raises(InputError):
        load_ignore(tmp_path / "missing.txt")


def test_level_overrides_change_levels_and_none_drops_the_check() -> None:
    info = change(
        "request-parameter-removed",
        "deleted the 'query' request parameter 'q'",
        "GET /x",
        level="warning",
    )
    kept, ignored = apply(
        [STATUS_REMOVED, info],
        None,
        {"response-success-status-removed": "warn", "request-parameter-removed": "none"},
    )
    assert [(c.id, c.level) for c in kept] == [("response-success-status-removed", "warning")]
    assert ignored == []


def test_severity_levels_file_reads_oasdiff_spellings(tmp_path: Path) -> None:
    path = tmp_path / "levels.txt"
    path.write_text(
        "# team policy\napi-security-removed    err\nrequest-parameter-removed warn\n\nendpoint-added none  # quiet\n",
        encoding="utf-8",
    )
    assert load_levels(path) == {
        "api-security-removed": "error",
        "request-parameter-removed": "warning",
        "endpoint-added": "none",
    }


def test_a_bad_severity_line_names_its_line() -> None:
    with pytest.raises(InputError) as raised:
        parse_levels("api-security-removed err\napi-tag-added loud\n", "levels.txt")
    assert raised.value.line == 2 and raised.value.path == "levels.txt"
