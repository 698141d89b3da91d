"""``airgap openapi validate``: openapi-spec-validator's verdicts, offline, without tracebacks.

The fixtures under ``fixtures/openapi/validate/`` are small specs of every version (valid) and one
per kind of invalidity. Where our verdict must equal openapi-spec-validator's, the tests run it on
the same file (offline: a remote ref makes it raise, which is how it behaves without a network).
"""

from __future__ import annotations

import copy
import json
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from airgap_cli.core.errors import InputError
from airgap_cli.core.findings import Severity
from airgap_cli.openapi.loader import load_spec
from airgap_cli.openapi.validate import (
    INVALID,
    INVALID_DEFAULT,
    INVALID_OPERATION_ID,
    INVALID_PARAMETER,
    INVALID_PATH_PARAMETER,
    INVALID_PATH_TEMPLATE,
    INVALID_REF,
    INVALID_REQUIRED,
    INVALID_SCHEMA,
    INVALID_TAG,
    INVALID_TAG_PARENT,
    INVALID_VERSION,
    RULES,
    TRUNCATED,
    validate,
)

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures" / "openapi" / "validate"
VALID = sorted(p for p in (FIXTURES / "valid").rglob("*.*") if p.parent.name != "multifile")
VALID.append(FIXTURES / "valid" / "multifile" / "openapi.yaml")
INVALID_DIR = FIXTURES / "invalid"


def findings_of(path: Path) -> list[Any]:
    return validate(load_spec(str(path)))


def spec_text(text: str, name: str = "spec.json") -> list[Any]:
    """Validate a spec given as text (the loader reads JSON or YAML by content)."""
    return validate(load_spec(name, text=text))


def _refuse(uri: str) -> Any:
    raise OSError(f"offline: {uri} is not fetched")


def their_verdict(data: Any, base_uri: str = "") -> str:
    """openapi-spec-validator 0.9's verdict, offline: valid, invalid, or error (it raised)."""
    shortcuts = pytest.importorskip("openapi_spec_validator.shortcuts")
    from jsonschema.exceptions import ValidationError
    from jsonschema_path import SchemaPath
    from jsonschema_path.handlers import default_handlers

    handlers = {**default_handlers, "http": _refuse, "https": _refuse}
    try:
        cls = shortcuts.get_validator_cls(data)
        path = SchemaPath.from_dict(copy.deepcopy(data), base_uri=base_uri, handlers=handlers)
        errors = list(cls(path).iter_errors())
    except ValidationError:
        return "invalid"
    except Exception:
        return "error"
    return "invalid" if errors else "valid"


def their_verdict_of_file(path: Path) -> str:
    readers = pytest.importorskip("openapi_spec_validator.readers")
    data, uri = readers.read_from_filename(str(path))
    return their_verdict(data, uri)


def our_verdict(findings: list[Any]) -> str:
    return "invalid" if findings else "valid"


# -- valid specs --------------------------------------------------------------------------------


@pytest.mark.parametrize("path", VALID, ids=lambda p: p.relative_to(FIXTURES).as_posix())
def test_valid_spec_of_each_version_has_no_finding(path: Path) -> None:
    assert findings_of(path) == []


@pytest.mark.parametrize("path", VALID, ids=lambda p: p.relative_to(FIXTURES).as_posix())
def test_openapi_spec_validator_agrees_the_valid_fixtures_are_valid(path: Path) -> None:
    expected = "error" if path.name == "remote-ref-3.0.yaml" else "valid"
    assert their_verdict_of_file(path) == expected


def test_remote_ref_is_never_fetched(monkeypatch: pytest.MonkeyPatch) -> None:
    def no_network(*args: object, **kwargs: object) -> None:
        raise AssertionError("validate tried to open a network connection")

    monkeypatch.setattr(socket.socket, "connect", no_network)
    monkeypatch.setattr(socket, "create_connection", no_network)
    spec = load_spec(str(FIXTURES / "valid" / "remote-ref-3.0.yaml"))
    assert validate(spec) == []
    assert [p.kind for p in spec.ref_problems] == ["remote"]


def test_yaml_response_codes_and_version_written_as_plain_scalars_are_fine() -> None:
    text = (
        "openapi: 3.0.3\ninfo: {title: t, version: 1.0.0}\npaths:\n  /a:\n    get:\n"
        "      responses:\n        200: {description: ok}\n        default: {description: failed}\n"
    )
    assert spec_text(text, "spec.yaml") == []


def test_recursive_schemas_terminate() -> None:
    # B -> allOf -> C -> anyOf -> B: openapi-spec-validator recurses forever collecting the
    # properties of the allOf parts (RecursionError); here the walk keeps a visited set
    spec = {
        "openapi": "3.0.3",
        "info": {"title": "t", "version": "1"},
        "paths": {},
        "components": {
            "schemas": {
                "A": {
                    "allOf": [{"$ref": "#/components/schemas/B"}],
                    "required": ["x"],
                },
                "B": {"anyOf": [{"$ref": "#/components/schemas/C"}]},
                "C": {
                    "type": "object",
                    "properties": {"x": {"type": "string"}},
                    "allOf": [{"$ref": "#/components/schemas/B"}],
                },
            }
        },
    }
    assert spec_text(json.dumps(spec)) == []
    assert their_verdict(spec) == "error"


# -- one finding per kind of invalidity ---------------------------------------------------------

CASES = [
    # fixture, rule, pointer, line, words of the message
    ("structure-3.0.yaml", INVALID, "/info", 2, '"version" is a required property'),
    ("structure-3.0.yaml", INVALID, "/paths/~1health/get/summary", 10, 'not of type "string"'),
    ("structure-3.0.yaml", INVALID, "/paths/~1health/get", 6, "'bogus' was unexpected"),
    ("structure-2.0.json", INVALID, "/paths/~1a/get/parameters/0", 7, "closest match"),
    ("version-missing.yaml", INVALID_VERSION, "", 1, "no `openapi` or `swagger` field"),
    ("version-number.yaml", INVALID_VERSION, "/openapi", 1, "`openapi` is 3.0 (a float)"),
    ("version-unsupported.json", INVALID_VERSION, "/openapi", 2, '"4.0.0"'),
    (
        "duplicate-operation-id.yaml",
        INVALID_OPERATION_ID,
        "/paths/~1b/get/operationId",
        14,
        "'fetch' of GET /b is already used by GET /a",
    ),
    (
        "duplicate-parameter.yaml",
        INVALID_PARAMETER,
        "/paths/~1search/get/parameters/1",
        10,
        "parameter 'q' in query is declared twice",
    ),
    ("duplicate-tag.yaml", INVALID_TAG, "/tags/2/name", 8, "tag 'users' is declared twice"),
    (
        "path-parameter.yaml",
        INVALID_PATH_PARAMETER,
        "/paths/~1users~1{userId}~1posts/get",
        7,
        "path parameter {userId} is not declared",
    ),
    (
        "path-parameter.yaml",
        INVALID_PATH_PARAMETER,
        "/paths/~1users~1{userId}~1posts/get/parameters/0",
        9,
        "'postId' is declared but the path has no {postId}",
    ),
    (
        "path-template.yaml",
        INVALID_PATH_TEMPLATE,
        "/paths/~1files~1{name",
        6,
        "expected '}' before end of string",
    ),
    (
        "default-3.0.yaml",
        INVALID_DEFAULT,
        "/components/schemas/Settings/properties/retries/default",
        13,
        "\"three\" is not of type 'integer'",
    ),
    (
        "default-3.0.yaml",
        INVALID_DEFAULT,
        "/components/schemas/Settings/properties/homepage/default",
        17,
        "is not a 'uri'",
    ),
    (
        "default-3.0.yaml",
        INVALID_DEFAULT,
        "/components/schemas/Settings/properties/comment/default",
        20,
        "None for not nullable",
    ),
    (
        "default-3.1.json",
        INVALID_DEFAULT,
        "/components/schemas/Limits/properties/burst/default",
        10,
        "less than or equal to the minimum of 0",
    ),
    (
        "default-2.0.yaml",
        INVALID_DEFAULT,
        "/paths/~1items/get/parameters/0/default",
        13,
        '"medium" is not one of ["small", "large"]',
    ),
    (
        "schema-regex-3.0.yaml",
        INVALID_SCHEMA,
        "/components/schemas/Label/pattern",
        10,
        'is not a "regex"',
    ),
    (
        "schema-dialect-3.1.yaml",
        INVALID_SCHEMA,
        "/components/schemas/Legacy/$schema",
        9,
        'unknown JSON Schema dialect "https://example.invalid/my-dialect"',
    ),
    (
        "schema-dialect-3.1.yaml",
        INVALID_SCHEMA,
        "/components/schemas/Typo/type",
        12,
        '"strng" is not valid',
    ),
    (
        "required-allof.yaml",
        INVALID_REQUIRED,
        "/components/schemas/Pet/required",
        16,
        "required lists 'name'",
    ),
    (
        "broken-ref.yaml",
        INVALID_REF,
        "/paths/~1pets/get/responses/200/$ref",
        10,
        "nothing at /components/responses/Pets",
    ),
    ("ref-cycle.yaml", INVALID_REF, "/components/schemas/A/$ref", 9, "loops"),
]


@pytest.mark.parametrize(
    ("fixture", "rule_id", "pointer", "line", "words"),
    CASES,
    ids=[f"{case[0]}:{case[2]}" for case in CASES],
)
def test_each_invalidity_gives_its_finding_with_pointer_and_line(
    fixture: str, rule_id: str, pointer: str, line: int, words: str
) -> None:
    path = INVALID_DIR / fixture
    findings = findings_of(path)
    matching = [f for f in findings if f.rule_id == rule_id and f.location.pointer == pointer]
    assert matching, [(f.rule_id, f.location.pointer, f.message) for f in findings]
    finding = matching[0]
    assert words in finding.message
    assert finding.location.line == line
    assert finding.location.path == str(path)
    assert finding.location.resource == str(path)
    assert finding.severity is Severity.HIGH
    assert finding.title == RULES[rule_id]["title"]
    assert finding.remediation


THEY_RAISE = {
    # openapi-spec-validator stops with an exception (its CLI: "Error", exit 2), no verdict
    "broken-ref.yaml",  # PointerToNowhere
    "ref-cycle.yaml",  # RecursionError
    "path-template.yaml",  # ValueError from str.format's parser
    "version-missing.yaml",  # ValidatorDetectError
    "version-unsupported.json",  # ValidatorDetectError
    "version-number.yaml",  # TypeError: the version is not a string
}


@pytest.mark.parametrize("path", sorted(INVALID_DIR.iterdir()), ids=lambda p: p.name)
def test_same_verdict_as_openapi_spec_validator(path: Path) -> None:
    assert our_verdict(findings_of(path)) == "invalid"
    expected = "error" if path.name in THEY_RAISE else "invalid"
    assert their_verdict_of_file(path) == expected


def test_3_2_tag_parents_must_exist_without_cycles() -> None:
    text = json.dumps(
        {
            "openapi": "3.2.0",
            "info": {"title": "t", "version": "1"},
            "tags": [
                {"name": "a", "parent": "b"},
                {"name": "b", "parent": "a"},
                {"name": "c", "parent": "nowhere"},
            ],
        }
    )
    messages = [f.message for f in spec_text(text) if f.rule_id == INVALID_TAG_PARENT]
    assert "tag 'c' names an unknown parent tag 'nowhere'" in messages
    assert any("circular tag hierarchy: a -> b -> a" in m for m in messages)


def test_multifile_finding_points_into_the_referenced_file(tmp_path: Path) -> None:
    (tmp_path / "common.yaml").write_text(
        "schemas:\n  Size:\n    type: integer\n    default: big\n", encoding="utf-8"
    )
    root = tmp_path / "openapi.yaml"
    root.write_text(
        "openapi: 3.0.3\ninfo: {title: t, version: '1'}\npaths:\n  /a:\n    get:\n"
        "      responses:\n        '200':\n          description: ok\n          content:\n"
        "            application/json:\n              schema:\n"
        "                $ref: 'common.yaml#/schemas/Size'\n",
        encoding="utf-8",
    )
    [finding] = findings_of(root)
    assert finding.rule_id == INVALID_DEFAULT
    assert Path(finding.location.path).name == "common.yaml"
    assert finding.location.pointer == "/schemas/Size/default"
    assert finding.location.line == 4
    assert finding.location.resource == str(root)


@pytest.mark.parametrize(
    ("schema", "verdict"),
    [
        ({"properties": {"a": {}}, "unevaluatedProperties": False, "default": {"b": 1}}, "invalid"),
        (
            {
                "allOf": [{"properties": {"a": {}}}],
                "unevaluatedProperties": False,
                "default": {"a": 1},
            },
            "valid",
        ),
        ({"$id": "urn:example:s", "type": "string", "default": 5}, "invalid"),
    ],
)
def test_3_1_defaults_honour_the_less_common_keywords(schema: dict[str, Any], verdict: str) -> None:
    document = {
        "openapi": "3.1.0",
        "info": {"title": "t", "version": "1"},
        "components": {"schemas": {"S": schema}},
    }
    findings = spec_text(json.dumps(document))
    assert our_verdict(findings) == verdict
    assert their_verdict(document) == verdict
    assert all(f.rule_id == INVALID_DEFAULT for f in findings)


# -- many findings ------------------------------------------------------------------------------


def test_only_the_first_findings_are_reported_then_a_note_counts_the_rest() -> None:
    schemas = {f"S{i}": {"type": "integer", "default": "x"} for i in range(130)}
    text = json.dumps(
        {
            "openapi": "3.0.3",
            "info": {"title": "t", "version": "1"},
            "paths": {},
            "components": {"schemas": schemas},
        }
    )
    findings = spec_text(text)
    assert len(findings) == 101
    assert all(f.rule_id == INVALID_DEFAULT for f in findings[:100])
    note = findings[-1]
    assert note.rule_id == TRUNCATED
    assert note.severity is Severity.INFO
    assert note.message.startswith("30 more validation problems not shown")
    assert len(validate(load_spec("spec.json", text=text), max_findings=10)) == 11


def test_fingerprints_differ_for_different_problems_at_one_node() -> None:
    text = json.dumps(
        {"openapi": "3.0.3", "info": {"version": 1, "bogus": True}, "paths": {}}, indent=1
    )
    findings = spec_text(text)
    at_info = [f for f in findings if f.location.pointer == "/info"]
    assert len(at_info) == 2  # "title" missing, "bogus" unexpected
    assert len({f.fingerprint for f in findings}) == len(findings)
    # same input, same findings: report diffs in CI must not flap
    assert spec_text(text) == findings


# -- malformed input never raises (but InputError) ----------------------------------------------

MALFORMED = [
    {"openapi": "3.0.3"},
    {"openapi": "3.0.3", "info": 5, "paths": []},
    {"openapi": "3.0.3", "info": {}, "paths": {"/a": 5, "/b": [], "/c": {"get": []}}},
    {"openapi": "3.0.3", "paths": {"/a/{x}": {"parameters": {}, "get": {"parameters": [5, []]}}}},
    {"openapi": "3.0.3", "paths": {"/a": {"get": {"responses": [], "operationId": ["x"]}}}},
    {"openapi": "3.0.3", "paths": {"/a": {"get": {"responses": {"200": {"content": []}}}}}},
    {"openapi": "3.0.3", "components": []},
    {"openapi": "3.0.3", "components": {"schemas": []}},
    {"openapi": "3.0.3", "components": {"schemas": {"A": 5, "B": None, "C": {"allOf": 7}}}},
    {"openapi": "3.0.3", "components": {"schemas": {"A": {"properties": [1, 2]}}}},
    {"openapi": "3.0.3", "components": {"schemas": {"A": {"required": True, "allOf": []}}}},
    {"openapi": "3.0.3", "components": {"schemas": {"A": {"type": ["x"], "default": 1}}}},
    {"openapi": "3.0.3", "components": {"schemas": {"A": {"type": "file", "default": 1}}}},
    {"openapi": "3.0.3", "components": {"schemas": {"A": {"multipleOf": 0, "default": 1}}}},
    {"openapi": "3.0.3", "components": {"schemas": {"A": {"pattern": "(", "default": "x"}}}},
    {"openapi": "3.0.3", "components": {"schemas": {"A": {"$ref": 5}}}},
    {"openapi": "3.0.3", "components": {"schemas": {"A": {"$ref": "#/components"}}}},
    {
        "openapi": "3.0.3",
        "components": {"schemas": {"A": {"discriminator": 1, "oneOf": [], "default": {}}}},
    },
    {"openapi": "3.1.0", "jsonSchemaDialect": 5, "components": {"schemas": {"A": {"$schema": 1}}}},
    {
        "openapi": "3.1.0",
        "components": {
            "schemas": {"A": {"$schema": "http://json-schema.org/draft-03/schema#", "type": "x"}}
        },
    },
    {
        "openapi": "3.1.0",
        "components": {"schemas": {"A": {"$id": "urn:x", "default": 1, "type": "string"}}},
    },
    {
        "swagger": "2.0",
        "paths": {"/a": {"get": {"parameters": [{"in": "query", "default": 1, "type": "file"}]}}},
    },
    {"swagger": 2, "openapi": "3.0.0"},
    {"openapi": None},
    {"tags": "x", "openapi": "3.1.0"},
    {"openapi": "3.1.0", "tags": [{"name": "a"}, 5, {"name": ["a"]}]},
]


@pytest.mark.parametrize("document", MALFORMED, ids=lambda d: json.dumps(d)[:60])
def test_malformed_specs_give_findings_not_exceptions(document: dict[str, Any]) -> None:
    findings = spec_text(json.dumps(document))
    assert findings, "every one of these is invalid"
    assert all(f.rule_id in RULES for f in findings)


@pytest.mark.parametrize("text", ["[]", "5", '"openapi"', "null"])
def test_a_root_that_is_not_a_mapping_is_an_input_error(text: str) -> None:
    with pytest.raises(InputError):
        spec_text(text)


def nested(depth: int, leaf: Any) -> Any:
    node = leaf
    for _ in range(depth):
        node = {"type": "object", "properties": {"a": node}, "default": {}}
    return node


@pytest.mark.parametrize("depth", [50, 400, 900, 5000])
def test_huge_nesting_never_raises_anything_but_input_error(depth: int) -> None:
    document = {
        "openapi": "3.1.0",
        "info": {"title": "t", "version": "1"},
        "components": {"schemas": {"Deep": nested(depth, {"type": "string", "default": 1})}},
    }
    try:
        text = json.dumps(document)
    except RecursionError:
        text = '{"openapi": "3.1.0", "x": ' + "[" * depth + "]" * depth + "}"
    try:
        findings = spec_text(text)
    except InputError:
        return
    assert all(f.rule_id in RULES for f in findings)


def test_deep_default_value_and_long_ref_chain_are_bounded() -> None:
    value: Any = "leaf"
    for _ in range(600):
        value = [value]
    schemas: dict[str, Any] = {
        "Nested": {
            "type": "array",
            "items": {"$ref": "#/components/schemas/Nested"},
            "default": value,
        }
    }
    for index in range(200):
        schemas[f"R{index}"] = {"$ref": f"#/components/schemas/R{index + 1}"}
    schemas["R200"] = {"type": "string", "default": 1}
    text = json.dumps(
        {
            "openapi": "3.0.3",
            "info": {"title": "t", "version": "1"},
            "paths": {},
            "components": {"schemas": schemas},
        }
    )
    findings = spec_text(text)
    # the default nests deeper than the checker follows: left unjudged (openapi-spec-validator
    # hits Python's recursion limit there); a chain of more than 64 refs is not followed
    assert not [f for f in findings if "Nested" in f.location.pointer]
    assert findings[0].rule_id == INVALID_REF
    assert findings[0].location.pointer == "/components/schemas/R0/$ref"


# -- random specs: no traceback, and openapi-spec-validator's verdict ---------------------------

BASE_30 = yaml.safe_load((FIXTURES / "valid" / "openapi-3.0.yaml").read_text(encoding="utf-8"))
BASE_31 = json.loads((FIXTURES / "valid" / "openapi-3.1.json").read_text(encoding="utf-8"))
BASE_20 = yaml.safe_load((FIXTURES / "valid" / "swagger-2.0.yaml").read_text(encoding="utf-8"))
BASES = [json.loads(json.dumps(base, default=str)) for base in (BASE_30, BASE_31, BASE_20)]

KEYS = [
    "type",
    "default",
    "properties",
    "items",
    "allOf",
    "oneOf",
    "required",
    "$ref",
    "nullable",
    "enum",
    "format",
    "name",
    "in",
    "schema",
    "discriminator",
    "additionalProperties",
    "x-a",
]
scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-3, 3),
    st.sampled_from([1.5, 2**40, -(2**33)]),
    st.sampled_from(
        [
            "",
            "x",
            "{a}",
            "#/components/schemas/Line",
            "string",
            "integer",
            "null",
            "3.1.0",
            "uri",
            "int32",
            "^a+$",
            "(?<n>x)",
            "path",
            "query",
            "get",
            "https://h.example/x",
        ]
    ),
)
json_values = st.recursive(
    scalars,
    lambda inner: st.one_of(
        st.lists(inner, max_size=3), st.dictionaries(st.sampled_from(KEYS), inner, max_size=4)
    ),
    max_leaves=8,
)
refs = st.sampled_from(
    [
        "#/components/schemas/Line",
        "#/components/schemas",
        "#/nope",
        "#",
        "other.json#/x",
        "https://h.example/x.json",
    ]
).map(lambda ref: {"$ref": ref})
mutations = st.lists(
    st.tuples(
        st.integers(0, 10**6), st.one_of(json_values, refs, st.just(None).map(lambda _: ...))
    ),
    min_size=1,
    max_size=3,
)


def node_paths(node: Any, prefix: tuple[Any, ...] = ()) -> Iterator[tuple[Any, ...]]:
    yield prefix
    if isinstance(node, dict):
        for key, value in node.items():
            yield from node_paths(value, (*prefix, key))
    elif isinstance(node, list):
        for index, value in enumerate(node):
            yield from node_paths(value, (*prefix, index))


def mutate(base: Any, changes: list[tuple[int, Any]]) -> Any:
    """Replace (or, for ``...``, delete) the nodes the indexes pick, one after the other."""
    data = copy.deepcopy(base)
    for index, new in changes:
        paths = list(node_paths(data))
        path = paths[index % len(paths)]
        if not path:
            continue
        parent = data
        for key in path[:-1]:
            parent = parent[key]
        if new is ...:
            del parent[path[-1]]
        else:
            parent[path[-1]] = new
    return data


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.sampled_from(range(len(BASES))), mutations)
def test_random_mutations_never_raise_and_keep_openapi_spec_validators_verdict(
    base: int, changes: list[tuple[int, Any]]
) -> None:
    data = mutate(BASES[base], changes)
    text = json.dumps(data)
    try:
        findings = spec_text(text, "/nonexistent/mutated.json")
    except InputError:
        return
    assert all(f.rule_id in RULES for f in findings)
    theirs = their_verdict(json.loads(text), "file:///nonexistent/mutated.json")
    if theirs != "error":  # it raised: no verdict to compare with
        assert our_verdict(findings) == theirs


# defaults are where the two validators' semantics meet most: random schema + random value
values = st.recursive(
    st.one_of(
        st.none(),
        st.booleans(),
        st.integers(-3, 5),
        st.sampled_from([1.0, 2.5, 0.1, 2**31, -(2**31) - 1, 2**63]),
        st.sampled_from(
            [
                "",
                "a",
                "1",
                "2020-01-01",
                "2020-01-01T00:00:00Z",
                "12:00:00",
                "x@y",
                "10.0.0.1",
                "::1",
                "http://a.example/x",
                "a b",
                "QUJD",
                "é",
                "P1D",
                "/a/b",
                "0#",
                "(",
                "red",
                "00000000-0000-0000-0000-000000000000",
                "example.com",
            ]
        ),
    ),
    lambda inner: st.one_of(
        st.lists(inner, max_size=3),
        st.dictionaries(st.sampled_from(["a", "b", "kind"]), inner, max_size=3),
    ),
    max_leaves=6,
)
FORMATS = [
    "uri",
    "uri-reference",
    "date",
    "date-time",
    "time",
    "email",
    "ipv4",
    "ipv6",
    "int32",
    "int64",
    "float",
    "double",
    "byte",
    "binary",
    "uuid",
    "hostname",
    "duration",
    "json-pointer",
    "relative-json-pointer",
    "regex",
    "uri-template",
    "color",
    "password",
]


def schemas(version: str, depth: int) -> st.SearchStrategy[dict[str, Any]]:
    plain_types = st.sampled_from(["string", "integer", "number", "boolean", "array", "object"])
    keywords: dict[str, st.SearchStrategy[Any]] = {
        "type": plain_types,
        "format": st.sampled_from(FORMATS),
        "enum": st.lists(values, min_size=1, max_size=3),
        "minimum": st.sampled_from([0, 1, 2.5]),
        "maximum": st.sampled_from([0, 1, 10]),
        "multipleOf": st.sampled_from([1, 2, 0.5, 0.1]),
        "minLength": st.integers(0, 2),
        "maxLength": st.integers(0, 2),
        "pattern": st.sampled_from(["^a", "b$", "^[0-9]+$", "\\d"]),
        "minItems": st.integers(0, 2),
        "uniqueItems": st.booleans(),
        "maxProperties": st.integers(0, 2),
        "required": st.lists(
            st.sampled_from(["a", "b", "kind"]), min_size=1, max_size=2, unique=True
        ),
        "readOnly": st.booleans(),
    }
    if version == "3.0":
        keywords |= {"nullable": st.booleans(), "exclusiveMinimum": st.booleans()}
    else:
        keywords |= {
            "type": st.one_of(
                plain_types,
                st.just("null"),
                st.lists(
                    st.sampled_from(["string", "integer", "null"]),
                    min_size=1,
                    max_size=2,
                    unique=True,
                ),
            ),
            "exclusiveMinimum": st.sampled_from([0, 1]),
            "const": values,
            "prefixItems": st.lists(st.just({"type": "integer"}), min_size=1, max_size=2),
            "contains": st.just({"type": "integer"}),
            "if": st.just({"type": "string"}),
            "then": st.just({"minLength": 1}),
        }
    leaf = st.fixed_dictionaries({}, optional=keywords)
    if depth == 0:
        return leaf
    sub = schemas(version, depth - 1)
    nested = st.fixed_dictionaries(
        {},
        optional={
            "properties": st.dictionaries(st.sampled_from(["a", "b", "kind"]), sub, max_size=2),
            "items": sub,
            "allOf": st.lists(sub, min_size=1, max_size=2),
            "anyOf": st.lists(sub, min_size=1, max_size=2),
            "oneOf": st.lists(sub, min_size=1, max_size=2),
            "not": sub,
            "additionalProperties": st.one_of(st.booleans(), sub),
        },
    )
    return st.one_of(leaf, st.builds(lambda a, b: {**a, **b}, leaf, nested))


@pytest.mark.parametrize("version", ["3.0", "3.1"])
def test_default_values_get_openapi_spec_validators_verdict(version: str) -> None:
    @settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.too_slow])
    @given(schemas(version, 2), values)
    def check(schema: dict[str, Any], default: Any) -> None:
        document = {
            "openapi": "3.0.3" if version == "3.0" else "3.1.0",
            "info": {"title": "t", "version": "1"},
            "paths": {},
            "components": {"schemas": {"S": {**schema, "default": default}}},
        }
        text = json.dumps(document)
        findings = spec_text(text)
        theirs = their_verdict(json.loads(text))
        if theirs != "error":
            assert our_verdict(findings) == theirs, [f.message for f in findings]

    check()


FORMAT_SAMPLES = [
    "",
    "0",
    "100",
    "0#",
    "1/a",
    "2020-01-01",
    "2020-13-01",
    "2020-01-01t00:00:00z",
    "1:2:3",
    "12:00:00Z",
    "x@y",
    "0.0.0.0",
    "256.1.1.1",
    "fe80::1%eth0",
    "http://a.example/x",
    "a b",
    "/a/b",
    "#frag",
    "QUJD",
    "P1D",
    "P1",
    "00000000-0000-0000-0000-000000000000",
    "-bad-.com",
    "xn--bcher-kva.example",
    "#fff",
    "{a",
    "(",
    "\\p{L}",
    "http://ex.com/ä",
]


@pytest.mark.parametrize(
    "fmt", [f for f in FORMATS if f not in ("int32", "int64", "float", "double")]
)
def test_string_formats_are_judged_as_openapi_spec_validator_judges_them(fmt: str) -> None:
    for value in FORMAT_SAMPLES:
        for version in ("3.0.3", "3.1.0"):
            document = {
                "openapi": version,
                "info": {"title": "t", "version": "1"},
                "paths": {},
                "components": {
                    "schemas": {"S": {"type": "string", "format": fmt, "default": value}}
                },
            }
            text = json.dumps(document)
            theirs = their_verdict(json.loads(text))
            if theirs != "error":  # e.g. a non-ASCII "byte" value crashes its base64 check
                assert our_verdict(spec_text(text)) == theirs, (fmt, value, version)


def test_a_pattern_that_backtracks_exponentially_does_not_stall_the_default_check() -> None:
    # Python's re needs about 2**40 steps for this; the check must answer in milliseconds
    document = {
        "openapi": "3.0.3",
        "info": {"title": "t", "version": "1"},
        "paths": {},
        "components": {
            "schemas": {"S": {"type": "string", "pattern": "^(a+)+$", "default": "a" * 40 + "!"}}
        },
    }
    started = time.perf_counter()
    [finding] = spec_text(json.dumps(document))
    assert time.perf_counter() - started < 5
    assert finding.rule_id == INVALID_DEFAULT
    assert "does not match '^(a+)+$'" in finding.message


# -- cost ---------------------------------------------------------------------------------------


def test_validating_does_not_import_the_slow_jsonschema_package() -> None:
    # `import jsonschema` takes seconds where rfc3987-syntax is installed (it builds parsers)
    code = (
        "import sys\n"
        "from airgap_cli.openapi.loader import load_spec\n"
        "from airgap_cli.openapi.validate import validate\n"
        f"assert validate(load_spec({str(FIXTURES / 'invalid' / 'default-3.0.yaml')!r}))\n"
        f"assert not validate(load_spec({str(FIXTURES / 'valid' / 'openapi-3.1.json')!r}))\n"
        "print('jsonschema' in sys.modules)\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=120
    )
    assert result.stdout.strip() == "False"
    assert result.stderr == ""
