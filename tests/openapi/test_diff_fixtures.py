"""One minimal spec pair per check id: the id fires at its catalogue level, nothing else breaks.

Each ``fixtures/openapi/diff/<check-id>/{old,new}.yaml`` isolates one edit. Mirrors replay the
same edit the other way (or on the other side of the API) and must not be breaking: that is
what direction-aware checks are for.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from airgap_cli.openapi.checks import load_catalogue
from airgap_cli.openapi.diff import Change, compare
from airgap_cli.openapi.loader import load_spec
from airgap_cli.openapi.schema_diff import BOUND_LABELS, HAND_WRITTEN_BOUNDS

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures" / "openapi" / "diff"
CASES = sorted(p.name for p in FIXTURES.iterdir() if p.is_dir() and not p.name.startswith("_"))
BOUND_SCOPES = {
    "request": ("body", "property", "parameter"),
    "response": ("body", "property", "header"),
}


def generated_bounds(direction: str, action: str) -> list[str]:
    """oasdiff's generated set/unset ids of one side and action (the hand-written ones aside)."""
    ids = (
        f"{direction}-{scope}-{label}-{action}"
        for label, _ in BOUND_LABELS
        for scope in BOUND_SCOPES[direction]
    )
    return [i for i in ids if i not in HAND_WRITTEN_BOUNDS]


def diff_of(name: str, *, reverse: bool = False) -> list[Change]:
    old, new = FIXTURES / name / "old.yaml", FIXTURES / name / "new.yaml"
    if reverse:
        old, new = new, old
    return compare(load_spec(str(old)), load_spec(str(new)))


def test_every_catalogued_check_has_a_fixture() -> None:
    assert set(CASES) == set(load_catalogue().checks)


@pytest.mark.parametrize("check_id", CASES)
def test_fixture_fires_its_check_at_its_level_and_nothing_else_breaks(check_id: str) -> None:
    changes = diff_of(check_id)
    fired = [c for c in changes if c.id == check_id]
    assert fired, f"{check_id} did not fire; got {[c.id for c in changes]}"
    assert all(c.level == load_catalogue().level(check_id) for c in fired)
    assert all(
        c.operations
        or c.id.startswith(("api-schema", "api-security-component", "api-global", "webhook"))
        for c in fired
    )
    others = [c.id for c in changes if c.level == "error" and c.id != check_id]
    assert not others, f"unexpected breaking changes: {others}"


REVERSIBLE = [
    "request-property-max-length-decreased",
    "request-body-max-length-decreased",
    "request-property-max-decreased",
    "request-property-min-increased",
    "request-property-min-length-increased",
    "request-property-min-items-increased",
    "request-property-became-required",
    "request-property-became-not-nullable",
    "request-property-enum-value-removed",
    "request-property-any-of-removed",
    "request-property-one-of-removed",
    "request-property-pattern-added",
    "request-property-all-of-added",
    "request-body-became-required",
    "request-body-media-type-removed",
    "request-body-any-of-removed",
    "request-body-one-of-removed",
    "new-required-request-property",
    "new-required-request-parameter",
    "request-parameter-became-required",
    "request-parameter-enum-value-removed",
    "request-parameter-max-length-decreased",
    "request-parameter-max-items-decreased",
    "request-parameter-min-increased",
    "request-parameter-pattern-added",
    "response-property-became-optional",
    "response-property-became-nullable",
    "response-property-max-length-increased",
    "response-property-min-decreased",
    "response-required-property-removed",
    "response-success-status-removed",
    "response-media-type-removed",
    "response-media-type-parameter-removed",
    "request-body-media-type-schema-added",
    "request-body-media-type-item-schema-added",
    "response-body-media-type-schema-removed",
    "response-body-media-type-item-schema-removed",
    "response-body-media-type-item-schema-removed-untyped",
    "response-body-one-of-added",
    "response-property-one-of-added",
    "required-response-header-removed",
    "response-header-became-optional",
    "api-path-removed-without-deprecation",
    "api-removed-without-deprecation",
    "webhook-removed",
    # exclusive bounds, const and the 3.1 keywords
    "request-body-exclusive-max-decreased",
    "request-property-exclusive-min-increased",
    "request-property-exclusive-max-set",
    "request-parameter-exclusive-min-set",
    "request-parameter-exclusive-max-decreased",
    "response-property-exclusive-max-increased",
    "response-body-exclusive-min-decreased",
    "request-property-const-added",
    "response-body-const-removed",
    *(f"request-{k}-{w}-added" for k in ("body", "property") for w in ("if", "then", "else")),
    *(f"response-{k}-{w}-removed" for k in ("body", "property") for w in ("if", "then", "else")),
    "request-property-contains-added",
    "response-property-contains-removed",
    "request-body-property-names-added",
    "response-property-property-names-removed",
    "request-property-content-schema-added",
    "response-body-content-schema-removed",
    "request-body-unevaluated-properties-added",
    "response-property-unevaluated-items-removed",
    "request-property-pattern-property-added",
    "response-body-pattern-property-removed",
    "request-body-dependent-schema-added",
    "response-property-dependent-schema-removed",
    "request-property-min-contains-increased",
    "request-body-max-contains-decreased",
    "response-property-min-contains-decreased",
    "response-body-max-contains-increased",
    # list of types, nullability, prefixItems, dependentRequired
    *(f"request-{k}-list-of-types-narrowed" for k in ("body", "property", "parameter")),
    "request-parameter-property-list-of-types-narrowed",
    *(f"response-{k}-list-of-types-widened" for k in ("body", "property")),
    "request-parameter-property-became-not-nullable",
    "response-header-became-nullable",
    *(f"request-{k}-prefix-items-removed" for k in ("body", "property")),
    *(f"response-{k}-prefix-items-added" for k in ("body", "property")),
    *(f"request-{k}-dependent-required-added" for k in ("body", "property")),
    *(f"response-{k}-dependent-required-removed" for k in ("body", "property")),
    # boolean false schemas: narrowing a request to nothing, or a response back to something
    *(f"request-{k}-schema-became-false" for k in ("body", "property", "parameter")),
    "request-parameter-property-schema-became-false",
    "response-body-schema-became-false",
    "response-property-schema-became-not-false",
    "response-header-schema-became-not-false",
    # generated bound set/unset: a bound set on a request, or dropped from a response
    *generated_bounds("request", "set"),
    *generated_bounds("response", "unset"),
]


@pytest.mark.parametrize("check_id", REVERSIBLE)
def test_reverse_edit_is_not_breaking(check_id: str) -> None:
    breaking = [c.id for c in diff_of(check_id, reverse=True) if c.level == "error"]
    assert not breaking, f"reverse of {check_id} broke: {breaking}"


SIDE_SWAPS = [
    # (request edit that breaks, response fixture whose reverse replays that edit on a response)
    ("request-property-max-length-decreased", "response-property-max-length-increased"),
    ("request-property-min-increased", "response-property-min-decreased"),
    ("request-property-became-not-nullable", "response-property-became-nullable"),
    ("request-property-enum-value-removed", "response-property-enum-value-added"),
    ("request-property-any-of-removed", "response-property-any-of-added"),
    ("request-property-one-of-removed", "response-property-one-of-added"),
    ("request-body-one-of-removed", "response-body-one-of-added"),
    ("request-body-media-type-schema-added", "response-body-media-type-schema-removed"),
    ("request-body-media-type-item-schema-added", "response-body-media-type-item-schema-removed"),
    ("new-required-request-property", "response-required-property-removed"),
    ("request-property-exclusive-max-decreased", "response-property-exclusive-max-increased"),
    ("request-body-exclusive-min-increased", "response-body-exclusive-min-decreased"),
    ("request-property-if-added", "response-property-if-removed"),
    ("request-body-contains-added", "response-body-contains-removed"),
    ("request-property-pattern-property-added", "response-property-pattern-property-removed"),
    ("request-body-min-contains-increased", "response-body-min-contains-decreased"),
    ("request-property-const-added", "response-property-const-removed"),
    ("request-property-list-of-types-narrowed", "response-property-list-of-types-widened"),
    ("request-body-list-of-types-narrowed", "response-body-list-of-types-widened"),
    ("request-property-prefix-items-removed", "response-property-prefix-items-added"),
    ("request-body-dependent-required-added", "response-body-dependent-required-removed"),
    ("request-property-dependent-required-added", "response-property-dependent-required-removed"),
    ("request-property-schema-became-false", "response-property-schema-became-not-false"),
    *(
        (f"request-{k}-{label}-set", f"response-{k}-{label}-unset")
        for label, _ in BOUND_LABELS
        for k in ("body", "property")
        if f"request-{k}-{label}-set" not in HAND_WRITTEN_BOUNDS
    ),
]


@pytest.mark.parametrize(("request_case", "response_case"), SIDE_SWAPS)
def test_request_breaking_edit_is_safe_on_a_response(request_case: str, response_case: str) -> None:
    assert load_catalogue().level(request_case) == "error"
    on_response = diff_of(response_case, reverse=True)
    assert not [c.id for c in on_response if c.level == "error"]


def _bound_doc(direction: str, scope: str, keyword: str | None) -> str:
    """A spec with every schema root plain except the cell's, which carries ``keyword: 1``."""
    node = {keyword: 1} if keyword else {}
    carrier = {"properties": {"p": node}} if scope == "property" else node
    body = direction == "request" and scope in ("body", "property")
    answer = direction == "response" and scope in ("body", "property")
    op = {
        "parameters": [
            {"name": "p", "in": "query", "schema": node if scope == "parameter" else {}}
        ],
        "requestBody": {"content": {"application/json": {"schema": carrier if body else {}}}},
        "responses": {
            "200": {
                "description": "ok",
                "content": {"application/json": {"schema": carrier if answer else {}}},
                "headers": {"X-Rate-Limit": {"schema": node if scope == "header" else {}}},
            }
        },
    }
    spec = {
        "openapi": "3.1.0",
        "info": {"title": "t", "version": "1"},
        "paths": {"/t": {"post": op}},
    }
    return json.dumps(spec)


BOUND_CELLS = [
    (direction, scope, label, keyword, action)
    for label, keyword in BOUND_LABELS
    for direction, scopes in BOUND_SCOPES.items()
    for scope in scopes
    for action in ("set", "unset")
]


@pytest.mark.parametrize(("direction", "scope", "label", "keyword", "action"), BOUND_CELLS)
def test_every_bound_cell_fires_once(
    tmp_path: Path, direction: str, scope: str, label: str, keyword: str, action: str
) -> None:
    """All 156 set/unset cells (13 keywords, 3 roots a side) are reported once, under one id."""
    absent, present = tmp_path / "absent.json", tmp_path / "present.json"
    absent.write_text(_bound_doc(direction, scope, None), encoding="utf-8")
    present.write_text(_bound_doc(direction, scope, keyword), encoding="utf-8")
    old, new = (absent, present) if action == "set" else (present, absent)
    changes = compare(load_spec(str(old)), load_spec(str(new)))
    assert [c.id for c in changes] == [f"{direction}-{scope}-{label}-{action}"]
