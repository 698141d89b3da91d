"""The change engine: matching, direction, versions, shared components, refs and locations."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import yaml

from airgap_cli.core.errors import InputError
from airgap_cli.openapi.diff import Change, compare
from airgap_cli.openapi.loader import Spec, load_spec


def spec_file(tmp_path: Path, name: str, data: dict[str, Any]) -> Spec:
    path = tmp_path / name
    path.write_text(yaml.safe_dump(data, sort_keys=False), encoding="utf-8")
    return load_spec(str(path))


def changes(tmp_path: Path, old: dict[str, Any], new: dict[str, Any]) -> list[Change]:
    (tmp_path / "a").mkdir(exist_ok=True)
    (tmp_path / "b").mkdir(exist_ok=True)
    return compare(
        spec_file(tmp_path / "a", "api.yaml", old), spec_file(tmp_path / "b", "api.yaml", new)
    )


def ids(found: list[Change]) -> list[str]:
    return sorted(c.id for c in found)


def v3(
    paths: dict[str, Any], schemas: dict[str, Any] | None = None, version: str = "3.0.3"
) -> dict[str, Any]:
    data: dict[str, Any] = {
        "openapi": version,
        "info": {"title": "t", "version": "1"},
        "paths": paths,
    }
    if schemas is not None:
        data["components"] = {"schemas": schemas}
    return data


def json_get(ref: str, status: str = "200") -> dict[str, Any]:
    content = {"application/json": {"schema": {"$ref": ref}}}
    return {"get": {"responses": {status: {"description": "ok", "content": content}}}}


def test_a_shared_component_change_is_one_change_listing_every_operation(tmp_path: Path) -> None:
    paths = {f"/things{i}": json_get("#/components/schemas/Thing") for i in range(5)}
    old = v3(
        paths,
        {"Thing": {"type": "object", "required": ["id"], "properties": {"id": {"type": "string"}}}},
    )
    new = v3(paths, {"Thing": {"type": "object", "properties": {}}})
    [change] = changes(tmp_path, old, new)
    assert change.id == "response-required-property-removed"
    assert change.operations == tuple(sorted(f"GET /things{i}" for i in range(5)))
    assert (
        change.message
        == "removed the required property 'id' from the response with the '200' status"
    )
    assert (change.side, change.pointer) == ("old", "/components/schemas/Thing/properties/id")
    assert change.doc.endswith("a/api.yaml") and change.line is not None


def test_one_node_reached_through_different_uses_is_still_one_change(tmp_path: Path) -> None:
    thing = {"type": "object", "properties": {"state": {"type": "string", "enum": ["a"]}}}
    listing = {"type": "array", "items": {"$ref": "#/components/schemas/Thing"}}

    def api(values: list[str]) -> dict[str, Any]:
        schemas = {"Thing": {**thing, "properties": {"state": {"type": "string", "enum": values}}}}
        created = {
            "description": "ok",
            "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Thing"}}},
        }
        paths = {
            "/things": {
                "get": {
                    "responses": {
                        "200": {
                            "description": "ok",
                            "content": {"application/json": {"schema": listing}},
                        }
                    }
                },
                "post": {"responses": {"201": created}},
            }
        }
        return v3(paths, schemas)

    [change] = changes(tmp_path, api(["a"]), api(["a", "b"]))
    assert change.id == "response-property-enum-value-added"
    assert change.operations == ("GET /things", "POST /things")
    assert change.messages_for("GET /things") == [
        "added the new 'b' enum value to the '/items/state' response property for the response status '200'"
    ]
    assert change.messages_for("POST /things") == [
        "added the new 'b' enum value to the 'state' response property for the response status '201'"
    ]
    assert change.message == change.variants[0][1]


def test_renamed_path_parameters_still_match_the_operation(tmp_path: Path) -> None:
    def api(name: str, limit: int) -> dict[str, Any]:
        params = [
            {"name": name, "in": "path", "required": True, "schema": {"type": "string"}},
            {"name": "q", "in": "query", "schema": {"type": "string", "maxLength": limit}},
        ]
        return v3(
            {
                f"/users/{{{name}}}": {
                    "get": {"parameters": params, "responses": {"200": {"description": "ok"}}}
                }
            }
        )

    found = changes(tmp_path, api("id", 50), api("userId", 20))
    assert ids(found) == ["request-parameter-max-length-decreased"]
    assert found[0].operations == ("GET /users/{userId}",)


def test_removed_operation_is_named_by_its_old_path(tmp_path: Path) -> None:
    old = v3({"/a/{x}": {"get": {"responses": {"200": {"description": "ok"}}}}})
    new = v3({"/b": {"get": {"responses": {"200": {"description": "ok"}}}}})
    found = changes(tmp_path, old, new)
    assert ids(found) == ["api-path-removed-without-deprecation", "endpoint-added"]
    removed = next(c for c in found if c.id.startswith("api-path"))
    assert removed.operations == ("GET /a/{x}",) and removed.side == "old"


def test_new_required_property_with_a_default_is_not_breaking(tmp_path: Path) -> None:
    def api(extra: dict[str, Any], required: list[str]) -> dict[str, Any]:
        schema = {
            "type": "object",
            "required": required,
            "properties": {"a": {"type": "string"}, **extra},
        }
        body = {"content": {"application/json": {"schema": schema}}}
        return v3(
            {"/x": {"post": {"requestBody": body, "responses": {"200": {"description": "ok"}}}}}
        )

    found = changes(
        tmp_path, api({}, []), api({"size": {"type": "integer", "default": 3}}, ["size"])
    )
    assert [(c.id, c.level) for c in found] == [
        ("new-required-request-property-with-default", "info")
    ]


def test_read_only_properties_do_not_matter_in_requests(tmp_path: Path) -> None:
    def api(props: dict[str, Any], required: list[str]) -> dict[str, Any]:
        schema = {"type": "object", "required": required, "properties": props}
        body = {"content": {"application/json": {"schema": schema}}}
        return v3(
            {"/x": {"post": {"requestBody": body, "responses": {"200": {"description": "ok"}}}}}
        )

    old = api({"a": {"type": "string"}}, [])
    new = api({"a": {"type": "string"}, "id": {"type": "string", "readOnly": True}}, ["id"])
    assert changes(tmp_path, old, new) == []
    assert changes(tmp_path, new, old) == []


def test_write_only_properties_removed_from_a_response_are_info(tmp_path: Path) -> None:
    def api(props: dict[str, Any]) -> dict[str, Any]:
        schema = {"type": "object", "required": list(props), "properties": props}
        content = {"application/json": {"schema": schema}}
        return v3(
            {"/x": {"get": {"responses": {"200": {"description": "ok", "content": content}}}}}
        )

    found = changes(tmp_path, api({"pw": {"type": "string", "writeOnly": True}}), api({}))
    assert [(c.id, c.level) for c in found] == [
        ("response-required-write-only-property-removed", "info")
    ]


def test_nullability_in_openapi_31_is_read_from_the_type_list(tmp_path: Path) -> None:
    def api(kind: Any) -> dict[str, Any]:
        schema = {"type": "object", "properties": {"n": {"type": kind}}}
        content = {"application/json": {"schema": schema}}
        return v3(
            {"/x": {"get": {"responses": {"200": {"description": "ok", "content": content}}}}},
            version="3.1.0",
        )

    assert ids(changes(tmp_path, api("string"), api(["string", "null"]))) == [
        "response-property-became-nullable"
    ]
    # the narrowing is information for a response (newer oasdiff catalogues it)
    assert ids(changes(tmp_path, api(["string", "null"]), api("string"))) == [
        "response-property-became-not-nullable"
    ]


def test_recursive_schemas_terminate_and_changes_inside_are_found(tmp_path: Path) -> None:
    def api(leaf: dict[str, Any]) -> dict[str, Any]:
        node = {
            "type": "object",
            "properties": {
                "leaf": leaf,
                "children": {"type": "array", "items": {"$ref": "#/components/schemas/Node"}},
            },
        }
        return v3(
            json_get("#/components/schemas/Node")
            and {"/tree": json_get("#/components/schemas/Node")},
            {"Node": node},
        )

    found = changes(tmp_path, api({"type": "string"}), api({"type": "integer"}))
    assert ids(found) == ["response-property-type-changed"]
    assert found[0].message.startswith("the 'leaf' response's property type/format changed")


def test_a_needed_remote_ref_is_an_input_error_naming_the_ref_map(tmp_path: Path) -> None:
    old = v3({"/x": json_get("https://schemas.example.com/pet.json")})
    new = v3({"/x": json_get("https://schemas.example.com/pet-v2.json")})
    with pytest.raises(InputError) as raised:
        changes(tmp_path, old, new)
    assert "--ref-map" in raised.value.message and "schemas.example.com" in raised.value.message


def test_an_unmapped_remote_ref_is_refused_even_when_both_sides_name_it(tmp_path: Path) -> None:
    # the URL's content may have moved between the two versions: it cannot be assumed unchanged
    spec = v3({"/x": json_get("https://schemas.example.com/pet.json")})
    with pytest.raises(InputError):
        changes(tmp_path, spec, spec)


def test_a_mapped_remote_ref_is_compared_from_the_local_file(tmp_path: Path) -> None:
    url = "https://schemas.example.com/pet.json"
    (tmp_path / "pet-old.json").write_text(
        json.dumps({"type": "object", "properties": {"n": {"type": "string"}}})
    )
    (tmp_path / "pet-new.json").write_text(
        json.dumps({"type": "object", "properties": {"n": {"type": "integer"}}})
    )
    for name in ("old", "new"):
        (tmp_path / f"{name}.yaml").write_text(yaml.safe_dump(v3({"/x": json_get(url)})))
    old = load_spec(str(tmp_path / "old.yaml"), ref_map={url: str(tmp_path / "pet-old.json")})
    new = load_spec(str(tmp_path / "new.yaml"), ref_map={url: str(tmp_path / "pet-new.json")})
    [change] = compare(old, new)
    assert change.id == "response-property-type-changed" and change.doc.endswith("pet-new.json")


def test_changes_in_a_referenced_file_point_into_that_file(tmp_path: Path) -> None:
    for side, kind in (("a", "string"), ("b", "integer")):
        folder = tmp_path / side
        folder.mkdir()
        (folder / "common.yaml").write_text(yaml.safe_dump({"Id": {"type": kind}}))
        (folder / "api.yaml").write_text(yaml.safe_dump(v3({"/x": json_get("common.yaml#/Id")})))
    [change] = compare(
        load_spec(str(tmp_path / "a" / "api.yaml")), load_spec(str(tmp_path / "b" / "api.yaml"))
    )
    assert change.id == "response-body-type-changed"
    assert (
        change.doc.endswith("b/common.yaml") and change.pointer == "/Id/type" and change.line == 2
    )


def test_media_types_that_only_gain_a_charset_are_the_same_media_type(tmp_path: Path) -> None:
    """The schemas are compared as one media type's; the new parameter is its own finding."""

    def api(media: str, kind: str) -> dict[str, Any]:
        content = {media: {"schema": {"type": kind}}}
        return v3(
            {"/x": {"get": {"responses": {"200": {"description": "ok", "content": content}}}}}
        )

    found = changes(
        tmp_path,
        api("application/json", "integer"),
        api("application/json; charset=utf-8", "boolean"),
    )
    assert sorted(ids(found)) == [
        "response-body-type-changed",
        "response-media-type-parameter-added",
    ]


def swagger(paths: dict[str, Any], definitions: dict[str, Any]) -> dict[str, Any]:
    return {
        "swagger": "2.0",
        "info": {"title": "t", "version": "1"},
        "paths": paths,
        "definitions": definitions,
    }


def test_swagger_2_body_parameters_and_definitions_are_compared_as_bodies(tmp_path: Path) -> None:
    def api(props: dict[str, Any], limit_max: int, defs: dict[str, Any]) -> dict[str, Any]:
        params = [
            {"name": "body", "in": "body", "schema": {"$ref": "#/definitions/Pet"}},
            {"name": "limit", "in": "query", "type": "integer", "maximum": limit_max},
        ]
        op = {
            "parameters": params,
            "responses": {"200": {"description": "ok", "schema": {"$ref": "#/definitions/Pet"}}},
        }
        return swagger(
            {"/pets": {"post": op}}, {"Pet": {"type": "object", "properties": props}, **defs}
        )

    old = api(
        {"name": {"type": "string"}, "age": {"type": "integer"}}, 100, {"Old": {"type": "string"}}
    )
    new = api({"name": {"type": "string"}}, 10, {})
    assert ids(changes(tmp_path, old, new)) == [
        "api-schema-removed",
        "request-parameter-max-decreased",
        "request-property-removed",
        "response-optional-property-removed",
    ]


def test_swagger_2_form_data_is_a_request_body(tmp_path: Path) -> None:
    def api(required: bool) -> dict[str, Any]:
        params = [
            {"name": "file", "in": "formData", "type": "file", "required": required},
            {"name": "note", "in": "formData", "type": "string"},
        ]
        return swagger(
            {
                "/upload": {
                    "post": {
                        "consumes": ["multipart/form-data"],
                        "parameters": params,
                        "responses": {"200": {"description": "ok"}},
                    }
                }
            },
            {},
        )

    assert ids(changes(tmp_path, api(False), api(True))) == [
        "request-body-became-required",
        "request-property-became-required",
    ]


def test_swagger_2_produces_names_the_response_media_types(tmp_path: Path) -> None:
    def api(produces: list[str]) -> dict[str, Any]:
        op = {
            "produces": produces,
            "responses": {"200": {"description": "ok", "schema": {"type": "string"}}},
        }
        return swagger({"/x": {"get": op}}, {})

    found = changes(
        tmp_path, api(["application/json", "application/xml"]), api(["application/json"])
    )
    assert [(c.id, c.message) for c in found] == [
        (
            "response-media-type-removed",
            "removed the media type 'application/xml' for the response with the status '200'",
        )
    ]


def test_comparing_a_spec_with_itself_finds_nothing() -> None:
    folder = Path(__file__).resolve().parents[2] / "fixtures" / "openapi" / "loader"
    urls = {"https://schemas.vendor-hub.com/pet.json": str(folder / "tag.json")}
    spec = str(folder / "petstore.yaml")
    assert compare(load_spec(spec, ref_map=urls), load_spec(spec, ref_map=urls)) == []


def test_changes_come_back_in_a_stable_order(tmp_path: Path) -> None:
    old = v3({f"/p{i}": {"get": {"responses": {"200": {"description": "ok"}}}} for i in range(6)})
    new = v3({f"/q{i}": {"get": {"responses": {"200": {"description": "ok"}}}} for i in range(6)})
    first, second = changes(tmp_path, old, new), changes(tmp_path, old, new)
    assert first == second
    assert [c.operations for c in first] == sorted(c.operations for c in first)
