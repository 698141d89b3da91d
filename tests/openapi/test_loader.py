"""The OpenAPI loader: lazy, offline, cycle-safe $ref resolution with exact lines."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from airgap_cli.core.errors import InputError
from airgap_cli.openapi.loader import JsonLines, detect_version, load_spec

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures" / "openapi" / "loader"
PETSTORE = str(FIXTURES / "petstore.yaml")


def pet_schema_properties() -> dict[str, object]:
    spec = load_spec(PETSTORE)
    return spec.data["components"]["schemas"]["Pet"]["properties"]  # type: ignore[no-any-return]


def test_local_and_relative_file_refs_resolve_with_their_origin() -> None:
    spec = load_spec(PETSTORE)
    parameter = spec.data["paths"]["/pets/{petId}"]["get"]["parameters"][0]
    resolved = spec.deref(parameter)
    assert resolved.node["name"] == "petId"
    assert resolved.doc.endswith("common/parameters.yaml")
    assert resolved.pointer == "/PetId"
    # a '#/...' ref inside common/parameters.yaml is relative to that file
    schema = spec.resolve(resolved.node["schema"], resolved.doc)
    assert schema == {"type": "integer", "minimum": 1}
    assert spec.line_of(resolved.pointer, resolved.doc) == 1


def test_ref_chain_through_two_files_is_followed() -> None:
    spec = load_spec(PETSTORE)
    not_found = spec.data["paths"]["/pets/{petId}"]["get"]["responses"]["404"]
    assert spec.resolve(not_found) == {"description": "not found"}


def test_remote_ref_is_never_fetched_and_recorded() -> None:
    spec = load_spec(PETSTORE)
    remote = pet_schema_properties()["remote"]
    assert spec.resolve(remote) is remote
    [problem] = [p for p in spec.ref_problems if p.kind == "remote"]
    assert problem.ref.startswith("https://schemas.vendor-hub.com/")


def test_remote_ref_is_followed_when_mapped_to_a_local_file() -> None:
    url = "https://schemas.vendor-hub.com/pet.json"
    spec = load_spec(PETSTORE, ref_map={url: str(FIXTURES / "tag.json")})
    remote = spec.data["components"]["schemas"]["Pet"]["properties"]["remote"]
    assert spec.resolve(remote) == {"type": "string", "maxLength": 32}
    assert not [p for p in spec.ref_problems if p.kind == "remote"]


def test_looping_ref_chain_terminates_and_is_recorded() -> None:
    spec = load_spec(PETSTORE)
    loop = spec.data["components"]["schemas"]["Pet"]["properties"]["loop"]
    assert spec.resolve(loop) is loop
    assert any(p.kind == "cycle" for p in spec.ref_problems)


def test_recursive_schema_resolves_to_itself() -> None:
    spec = load_spec(PETSTORE)
    parent = spec.data["components"]["schemas"]["Pet"]["properties"]["parent"]
    assert spec.deref(parent).pointer == "/components/schemas/Pet"


def test_scan_refs_reports_every_problem_once() -> None:
    spec = load_spec(PETSTORE)
    spec.resolve(spec.data["components"]["schemas"]["Pet"]["properties"]["owner"])
    problems = spec.scan_refs()
    assert {p.kind for p in problems} == {"cycle", "escape", "remote"}
    assert len([p for p in problems if p.kind == "remote"]) == 1
    assert len(spec.scan_refs()) == len(problems)  # recorded once


def test_yaml_lines_follow_json_pointers() -> None:
    spec = load_spec(PETSTORE)
    assert spec.line_of("/paths/~1pets~1{petId}/get/operationId") == 6
    assert spec.line_of("/components/schemas/Pet/required") == 21
    assert spec.line_of("/components/schemas/Pet/nope") == 19  # nearest parent


def test_json_lines_are_found_lazily_along_the_pointer(tmp_path: Path) -> None:
    data = {
        "openapi": "3.1.0",
        "info": {"title": "t", "version": "1"},
        "paths": {"/a/{id}": {"get": {"responses": {"200": {"description": "ok"}}}}},
        "components": {"schemas": {"A": {"type": "object", "enum": [1, 2, {"x": "y"}]}}},
    }
    text = json.dumps(data, indent=2)
    path = tmp_path / "spec.json"
    path.write_text(text)
    spec = load_spec(str(path))
    lines = text.splitlines()
    for pointer, needle in [
        ("/paths/~1a~1{id}/get/responses/200/description", '"description": "ok"'),
        ("/components/schemas/A/enum/2/x", '"x": "y"'),
        ("/info/version", '"version": "1"'),
    ]:
        line = spec.line_of(pointer)
        assert line is not None and needle in lines[line - 1], pointer
    assert spec.version == "3.1"


def test_minified_json_is_all_line_one() -> None:
    assert JsonLines('{"a": {"b": [1, 2]}}').line(["a", "b", "1"]) == 1


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("[1, 2]", "top level is a list"),
        ("{not json", "invalid JSON"),
        ("a: [", "invalid YAML"),
        ("", "empty document"),
        ("a: 1\n---\nb: 2\n", "more than one YAML document"),
    ],
)
def test_bad_input_is_one_input_error(tmp_path: Path, content: str, message: str) -> None:
    suffix = ".json" if content.startswith("{") else ".yaml"
    path = tmp_path / f"spec{suffix}"
    path.write_text(content)
    with pytest.raises(InputError, match=message):
        load_spec(str(path))


def test_oversized_spec_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "big.json"
    path.write_text('{"openapi": "3.0.0", "x": "' + "a" * 2000 + '"}')
    with pytest.raises(InputError, match="larger than"):
        load_spec(str(path), max_bytes=1024)


def test_version_detection() -> None:
    assert detect_version({"swagger": "2.0"}) == "2.0"
    assert detect_version({"openapi": "3.0.3"}) == "3.0"
    assert detect_version({"openapi": "3.1.1"}) == "3.1"
    assert detect_version({"openapi": "3.10.0"}) == ""
    assert detect_version({"openapi": 3.1}) == ""


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=5),
    lambda children: (
        st.lists(children, max_size=4)
        | st.dictionaries(
            st.sampled_from(["$ref", "a", "b/c", "~d", "paths"]), children, max_size=4
        )
    ),
    max_leaves=30,
)


@settings(max_examples=150, deadline=None)
@given(json_values, st.lists(st.sampled_from(["a", "b/c", "~d", "0", "1", "$ref"]), max_size=4))
def test_any_json_document_gives_lines_and_never_crashes(
    value: object, segments: list[str]
) -> None:
    text = json.dumps({"openapi": "3.0.0", "x": value}, indent=1)
    lines = JsonLines(text)
    line = lines.line(["x", *segments])
    assert line is not None and 1 <= line <= text.count("\n") + 1


@settings(max_examples=150, deadline=None)
@given(st.dictionaries(st.sampled_from(["$ref", "a", "b"]), json_values, max_size=4))
def test_resolving_arbitrary_refs_never_raises(
    tmp_path_factory: pytest.TempPathFactory, value: dict[str, object]
) -> None:
    path = tmp_path_factory.mktemp("spec") / "spec.json"
    path.write_text(
        json.dumps({"openapi": "3.0.0", "components": value, "r": {"$ref": "#/components"}})
    )
    spec = load_spec(str(path))
    spec.resolve(spec.data["r"])
    spec.resolve(value)
    spec.scan_refs()


def _pointers(node: object, prefix: tuple[str, ...] = ()) -> list[tuple[str, ...]]:
    found = [prefix]
    if isinstance(node, dict):
        for key, value in node.items():
            found += _pointers(value, (*prefix, key))
    elif isinstance(node, list):
        for index, value in enumerate(node):
            found += _pointers(value, (*prefix, str(index)))
    return found


def test_fast_pretty_json_lines_agree_with_the_exact_scan(tmp_path: Path) -> None:
    """The indentation-based fast path must never give another line than the exact scanner,
    including around containers written inline and keys with escapes."""
    data = {
        "openapi": "3.0.0",
        "paths": {
            "/a/{id}": {"get": {"responses": {"200": {"description": "ok"}}}},
            'we"ird\\key': [1, {"x": [2, 3]}, []],
        },
        "components": {"schemas": {"A": {"type": "object"}, "B": {}}},
    }
    text = json.dumps(data, indent=2)
    text = text.replace('"A": {\n        "type": "object"\n      }', '"A": {"type": "object"}')
    path = tmp_path / "spec.json"
    path.write_text(text)
    spec = load_spec(str(path))
    exact = JsonLines(text)
    for segments in _pointers(json.loads(text)):
        pointer = "".join("/" + s.replace("~", "~0").replace("/", "~1") for s in segments)
        assert spec.line_of(pointer) == exact.line(list(segments)), pointer
