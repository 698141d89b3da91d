"""Properties of the change engine over generated, often malformed, specs."""

from __future__ import annotations

import json
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from airgap_cli.core.errors import InputError
from airgap_cli.openapi.diff import Change, compare
from airgap_cli.openapi.loader import load_spec

KEYS = [
    "type", "format", "enum", "default", "nullable", "readOnly", "writeOnly", "minimum",
    "maximum", "minLength", "maxLength", "minItems", "maxItems", "pattern", "items", "required",
    "properties", "additionalProperties", "allOf", "anyOf", "oneOf", "not", "discriminator",
    "title", "description", "deprecated", "x-sunset", "x-stability-level", "in", "name",
    "schema", "content", "responses", "parameters", "requestBody", "security", "tags",
    "operationId", "headers", "200", "404", "default", "application/json", "text/plain",
    "get", "post", "id", "a", "$ref",
]  # fmt: skip
REFS = [
    "#/components/schemas/A",
    "#/components/schemas/B",
    "#/components/schemas/Missing",
    "#/components/schemas/A/properties/a",
    "#/definitions/A",
    "#/paths",
    "#",
    "#nope",
    "other.yaml#/X",
    "https://schemas.example.com/remote.json",
]
SCALARS = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-3, 3),
    st.floats(allow_nan=False, allow_infinity=False, width=16),
    st.sampled_from(
        [
            "string",
            "integer",
            "number",
            "object",
            "array",
            "null",
            "",
            "x",
            "2001-01-01",
            ".*",
            "path",
            "query",
            "header",
        ]
    ),
)
NODES = st.recursive(
    SCALARS | st.sampled_from(REFS).map(lambda ref: {"$ref": ref}),
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.sampled_from(KEYS), inner, max_size=5)
    ),
    max_leaves=30,
)
SCHEMAS = st.recursive(
    st.fixed_dictionaries(
        {},
        optional={
            "type": st.sampled_from(["string", "integer", "object", "array", ["string", "null"]]),
            "enum": st.lists(SCALARS, max_size=3),
            "maxLength": st.integers(0, 9),
            "minimum": st.integers(0, 9),
            "nullable": st.booleans(),
            "readOnly": st.booleans(),
            "pattern": st.sampled_from(["^a", ".*"]),
            "default": SCALARS,
        },
    )
    | st.sampled_from(REFS).map(lambda ref: {"$ref": ref})
    | NODES,
    lambda inner: st.fixed_dictionaries(
        {},
        optional={
            "type": st.just("object"),
            "properties": st.dictionaries(st.sampled_from(["id", "a", "b"]), inner, max_size=3),
            "required": st.lists(st.sampled_from(["id", "a", "b"]), max_size=2),
            "items": inner,
            "allOf": st.lists(inner, max_size=2),
            "oneOf": st.lists(inner, max_size=2),
            "additionalProperties": inner,
        },
    ),
    max_leaves=12,
)
MEDIA = st.dictionaries(
    st.sampled_from(["application/json", "text/plain; charset=utf-8", "application/problem+json"]),
    st.fixed_dictionaries({"schema": SCHEMAS}),
    max_size=2,
)
PARAMETER = st.fixed_dictionaries(
    {
        "name": st.sampled_from(["id", "x", "q"]),
        "in": st.sampled_from(["path", "query", "header", "body", "formData"]),
    },
    optional={
        "required": st.booleans(),
        "schema": SCHEMAS,
        "type": st.sampled_from(["string", "integer", "file"]),
        "deprecated": st.booleans(),
    },
)
OPERATION = st.fixed_dictionaries(
    {},
    optional={
        "parameters": st.lists(PARAMETER | NODES, max_size=3),
        "requestBody": st.fixed_dictionaries(
            {"content": MEDIA}, optional={"required": st.booleans()}
        ),
        "responses": st.dictionaries(
            st.sampled_from(["200", "201", "404", "default"]),
            st.fixed_dictionaries(
                {"description": st.just("x")},
                optional={
                    "content": MEDIA,
                    "schema": SCHEMAS,
                    "headers": st.dictionaries(
                        st.sampled_from(["X-A", "X-B"]),
                        st.fixed_dictionaries(
                            {}, optional={"required": st.booleans(), "schema": SCHEMAS}
                        ),
                        max_size=2,
                    ),
                },
            ),
            max_size=3,
        ),
        "deprecated": st.booleans(),
        "security": st.lists(
            st.dictionaries(
                st.sampled_from(["oauth", "key"]),
                st.lists(st.sampled_from(["r", "w"]), max_size=2),
                max_size=2,
            ),
            max_size=2,
        ),
    },
)
PATH_ITEM = st.dictionaries(
    st.sampled_from(["get", "post", "parameters"]), OPERATION | NODES, max_size=2
)
PATHS = st.dictionaries(
    st.sampled_from(["/a", "/b/{id}", "/b/{x}", "/c", "nope"]), PATH_ITEM | NODES, max_size=3
)


@st.composite
def specs(draw: st.DrawFn) -> dict[str, Any]:
    version = draw(
        st.sampled_from([{"openapi": "3.0.3"}, {"openapi": "3.1.0"}, {"swagger": "2.0"}, {}])
    )
    data: dict[str, Any] = {**version, "info": {"title": "t", "version": "1"}, "paths": draw(PATHS)}
    schemas = draw(st.dictionaries(st.sampled_from(["A", "B"]), SCHEMAS, max_size=2))
    if "swagger" in data:
        data["definitions"] = schemas
    else:
        data["components"] = {"schemas": schemas}
    if draw(st.booleans()):
        data["security"] = draw(NODES)
    return data


def run(old: dict[str, Any], new: dict[str, Any]) -> list[Change] | None:
    """The changes, or None when the engine refused the input with an InputError."""
    try:
        return compare(
            load_spec("old.json", text=json.dumps(old)), load_spec("new.json", text=json.dumps(new))
        )
    except InputError:
        return None


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(specs())
def test_a_spec_compared_with_itself_has_no_changes(data: dict[str, Any]) -> None:
    result = run(data, data)
    # an unmapped remote ref is refused (its target may differ between versions)
    assert result == [] or (result is None and "https://" in json.dumps(data))


@settings(max_examples=250, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(specs(), specs())
def test_any_pair_of_specs_gives_changes_or_an_input_error(
    old: dict[str, Any], new: dict[str, Any]
) -> None:
    result = run(old, new)
    if result is None:
        return
    for change in result:
        assert isinstance(change, Change)
        assert change.level in ("error", "warning", "info")
        assert change.side in ("old", "new")
        assert list(change.operations) == sorted(change.operations)


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(specs(), st.sampled_from(KEYS), NODES)
def test_one_edit_to_a_component_never_crashes(data: dict[str, Any], key: str, value: Any) -> None:
    edited = json.loads(json.dumps(data))
    holder = edited.get("components", {}).get("schemas") or edited.get("definitions") or {}
    target = holder.get("A")
    if isinstance(target, dict):
        target[key] = value
    result = run(data, edited)
    assert result is None or all(isinstance(c, Change) for c in result)
