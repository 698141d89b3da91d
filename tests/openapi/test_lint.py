"""``airgap openapi lint``: every rule's own snippets, the cross-reference rules, Swagger 2.0 and
OpenAPI 3.1 variants, rule selection through the config, and robustness on malformed specs."""

from __future__ import annotations

import json
import time
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from airgap_cli.core.config import Config, RuleSettings, load_config
from airgap_cli.core.errors import InputError, RuleError
from airgap_cli.core.findings import Finding, Severity
from airgap_cli.core.hosts import Boundary
from airgap_cli.core.rules import Rule, builtin_rule_dirs, load_rules
from airgap_cli.openapi.lint import lint, load_openapi_rules
from airgap_cli.openapi.loader import load_spec

REPO = Path(__file__).resolve().parents[2]
FIXTURES = REPO / "fixtures" / "openapi" / "lint"
MULTI = FIXTURES / "multi" / "openapi.yaml"
RULES = load_openapi_rules(Config())
BY_ID = {rule.id: rule for rule in RULES}
GHES = REPO / "benchmarks/.work/openapi/octokit-openapi-23.0.2/generated/ghes-3.17.json"

PROMISED_IDS = {
    "openapi-remote-ref",
    "openapi-server-public",
    "openapi-oauth-url-public",
    "openapi-external-docs-public",
    "openapi-no-security",
    "openapi-operation-id-missing",
    "openapi-operation-id-duplicate",
    "openapi-path-param-undeclared",
    "openapi-unused-component",
    "openapi-response-missing-4xx",
    "openapi-schema-unbounded-string",
    "openapi-example-invalid",
}


def _lint_text(
    tmp_path: Path,
    content: str,
    *,
    name: str = "openapi.yaml",
    only: str | None = None,
    boundary: Boundary | None = None,
) -> list[Finding]:
    path = tmp_path / name
    path.write_text(content, encoding="utf-8")
    rules = [BY_ID[only]] if only else RULES
    return lint(load_spec(str(path)), boundary=boundary, rules=rules)


def _of(findings: list[Finding], rule_id: str) -> list[Finding]:
    return [f for f in findings if f.rule_id == rule_id]


# --- every rule's own snippets ----------------------------------------------------------------


def _cases(kind: str) -> list[tuple[Rule, int, dict[str, Any]]]:
    return [(rule, i, case) for rule in RULES for i, case in enumerate(rule.tests[kind])]


def _case_ids(kind: str) -> list[str]:
    return [f"{rule.id}-{i}" for rule, i, _ in _cases(kind)]


def _lint_case(tmp_path: Path, case: dict[str, Any]) -> list[str]:
    config = Config()
    if "config" in case:
        (tmp_path / "airgap.yaml").write_text(json.dumps(case["config"]), encoding="utf-8")
        config = load_config(tmp_path / "airgap.yaml")
    path = tmp_path / case.get("file", "openapi.yaml")
    path.write_text(case["content"], encoding="utf-8")
    findings = lint(load_spec(str(path)), boundary=config.boundary, rules=RULES)
    return [f.rule_id for f in findings]


@pytest.mark.parametrize(("rule", "index", "case"), _cases("fail"), ids=_case_ids("fail"))
def test_failing_snippet_triggers_its_rule(
    tmp_path: Path, rule: Rule, index: int, case: dict[str, Any]
) -> None:
    assert rule.id in _lint_case(tmp_path, case), f"{rule.source} fail case {index} did not fire"


@pytest.mark.parametrize(("rule", "index", "case"), _cases("pass"), ids=_case_ids("pass"))
def test_passing_snippet_is_clean_for_its_rule(
    tmp_path: Path, rule: Rule, index: int, case: dict[str, Any]
) -> None:
    assert rule.id not in _lint_case(tmp_path, case), f"{rule.source} pass case {index} fired"


def test_builtin_pack_has_every_promised_rule_and_documents_it() -> None:
    assert {r.id for r in RULES} >= PROMISED_IDS
    for rule in RULES:
        assert rule.domain == "openapi"
        assert len(rule.description) > 80, rule.id
        assert rule.remediation and rule.references, rule.id
    egress = ("remote-ref", "server-public", "oauth-url-public", "external-docs-public")
    for suffix in egress:
        assert "NIST-800-53:SC-7" in BY_ID[f"openapi-{suffix}"].compliance


# --- rules as data: selection through the shared config --------------------------------------


def test_config_disables_selects_and_reranks_openapi_rules() -> None:
    settings_ = RuleSettings(
        disable=frozenset({"openapi-unused-component"}),
        severity={"openapi-no-security": "critical"},
    )
    rules = load_openapi_rules(Config(rules=settings_))
    ids = {r.id for r in rules}
    assert "openapi-unused-component" not in ids and "openapi-remote-ref" in ids
    assert next(r for r in rules if r.id == "openapi-no-security").severity is Severity.CRITICAL
    only = load_openapi_rules(Config(rules=RuleSettings(only=frozenset({"openapi-remote-ref"}))))
    assert [r.id for r in only] == ["openapi-remote-ref"]


def test_an_unknown_rule_id_in_the_config_fails_closed() -> None:
    with pytest.raises(RuleError, match="no-such-rule"):
        load_openapi_rules(Config(rules=RuleSettings(disable=frozenset({"no-such-rule"}))))


def test_manifest_linter_keeps_its_rules_and_accepts_openapi_ids_in_the_config() -> None:
    rules = load_rules(builtin_rule_dirs(), disable=["openapi-no-security"])
    assert rules and all(r.domain == "manifest" for r in rules)
    assert not any(r.id.startswith("openapi-") for r in rules)
    # and the manifest ids are known to the OpenAPI linter
    load_openapi_rules(Config(rules=RuleSettings(disable=frozenset({"image-tag-latest"}))))


def test_a_user_rule_directory_may_mix_openapi_and_manifest_rules(tmp_path: Path) -> None:
    (tmp_path / "summary.yaml").write_text(
        """\
id: acme-operation-summary
domain: openapi
title: Operation without summary
severity: low
message: "{resource} has no summary"
remediation: Add a summary.
checks:
  - target: openapi-operation
    condition: {required: [summary]}
tests:
  pass: [{content: "openapi: 3.0.3"}]
  fail: [{content: "openapi: 3.0.3"}]
""",
        encoding="utf-8",
    )
    (tmp_path / "pods.yaml").write_text(
        """\
id: acme-no-naked-pods
title: Naked pod
severity: low
message: "{resource} is a naked pod"
remediation: Use a Deployment.
checks:
  - {target: document, kinds: [Pod], condition: false}
tests:
  pass: [{content: "kind: Deployment"}]
  fail: [{content: "kind: Pod"}]
""",
        encoding="utf-8",
    )
    config = Config(rules=RuleSettings(dirs=(tmp_path,)))
    openapi_ids = {r.id for r in load_openapi_rules(config)}
    assert "acme-operation-summary" in openapi_ids and "acme-no-naked-pods" not in openapi_ids
    manifest_ids = {r.id for r in load_rules(builtin_rule_dirs(), [tmp_path])}
    assert "acme-no-naked-pods" in manifest_ids and "acme-operation-summary" not in manifest_ids
    spec = tmp_path.parent / f"{tmp_path.name}-api.yaml"
    spec.write_text(
        "openapi: 3.0.3\npaths:\n  /a:\n    get: {summary: A}\n  /b:\n    get: {}\n",
        encoding="utf-8",
    )
    found = lint(load_spec(str(spec)), rules=load_openapi_rules(config))
    assert [f.location.resource for f in _of(found, "acme-operation-summary")] == ["GET /b"]


def test_an_openapi_rule_with_a_manifest_target_is_refused(tmp_path: Path) -> None:
    (tmp_path / "bad.yaml").write_text(
        """\
id: acme-bad
domain: openapi
title: Wrong target
severity: low
message: "bad"
remediation: none
checks:
  - {target: container, condition: true}
tests:
  pass: [{content: "x"}]
  fail: [{content: "x"}]
""",
        encoding="utf-8",
    )
    with pytest.raises(RuleError, match="target"):
        load_openapi_rules(Config(rules=RuleSettings(dirs=(tmp_path,))))


def test_lint_refuses_rules_it_cannot_run() -> None:
    manifest_rule = load_rules(builtin_rule_dirs())[0]
    spec = load_spec(str(MULTI))
    with pytest.raises(RuleError):
        lint(spec, rules=[manifest_rule])
    with pytest.raises(RuleError):
        lint(spec, rules=[])
    bad_param = replace(BY_ID["openapi-remote-ref"], params={"internal_severity": "loud"})
    with pytest.raises(RuleError, match="internal_severity"):
        lint(spec, rules=[bad_param])


# --- findings carry what a reviewer needs -----------------------------------------------------


def test_findings_name_file_line_pointer_resource_evidence_and_fix() -> None:
    findings = lint(load_spec(str(MULTI)), rules=RULES)
    example = _of(findings, "openapi-example-invalid")
    assert len(example) == 1
    location = example[0].location
    assert location.path == str(MULTI)
    assert location.line == 18
    assert (
        location.pointer
        == "/paths/~1orders~1{orderId}/get/responses/200/content/application~1json/example"
    )
    assert location.resource == "GET /orders/{orderId}"
    assert example[0].evidence == "/lines/0/quantity: 0 is less than the minimum of 1"
    assert example[0].remediation == BY_ID["openapi-example-invalid"].remediation
    assert len({f.fingerprint for f in findings}) == len(findings)


# --- cross-reference rules ----------------------------------------------------------------------


def test_remote_refs_external_high_internal_low_in_every_file() -> None:
    remote = lint(load_spec(str(MULTI)), rules=[BY_ID["openapi-remote-ref"]])
    by_url = {f.evidence: f for f in remote}
    external = by_url["https://schemas.acme-cloud.com/catalogue.yaml#/Items"]
    assert external.severity is Severity.HIGH
    assert external.location.path.endswith("multi/common/schemas.yaml")  # found in a pulled-in file
    assert external.location.line == 19
    assert "https://schemas.acme-cloud.com/catalogue.yaml" in external.message
    internal = by_url["http://specs.shop.internal/errors.yaml#/Error"]
    assert internal.severity is Severity.LOW
    assert len(remote) == 2


def test_remote_ref_internal_ones_can_be_dropped_and_mapped_urls_are_local(tmp_path: Path) -> None:
    rule = BY_ID["openapi-remote-ref"]
    quiet = replace(rule, params={"internal_severity": None})
    found = lint(load_spec(str(MULTI)), rules=[quiet])
    assert [f.evidence for f in found] == ["https://schemas.acme-cloud.com/catalogue.yaml#/Items"]
    (tmp_path / "items.yaml").write_text("Items: {type: array}\n", encoding="utf-8")
    mapped = load_spec(
        str(MULTI),
        ref_map={"https://schemas.acme-cloud.com/catalogue.yaml": str(tmp_path / "items.yaml")},
    )
    assert [f.evidence for f in lint(mapped, rules=[quiet])] == []


def test_a_remote_ref_to_an_internal_domain_of_the_config_is_low() -> None:
    boundary = Boundary(domains=("*.acme-cloud.com",))
    found = lint(load_spec(str(MULTI)), boundary=boundary, rules=[BY_ID["openapi-remote-ref"]])
    assert {f.severity for f in found} == {Severity.LOW}


def test_duplicate_operation_ids_report_later_ones_with_the_first_line(tmp_path: Path) -> None:
    found = _lint_text(
        tmp_path,
        """\
openapi: 3.0.3
paths:
  /a:
    get: {operationId: list}
  /b:
    get: {operationId: list}
    post: {operationId: create}
  /c:
    put: {operationId: list}
""",
        only="openapi-operation-id-duplicate",
    )
    assert [f.location.resource for f in found] == ["GET /b", "PUT /c"]
    assert all("openapi.yaml:4" in f.message and "GET /a" in f.message for f in found)
    assert [f.location.line for f in found] == [6, 9]


def test_path_parameters_follow_refs_across_files() -> None:
    assert _of(lint(load_spec(str(MULTI)), rules=RULES), "openapi-path-param-undeclared") == []


def test_path_parameters_missing_extra_and_unknown(tmp_path: Path) -> None:
    found = _lint_text(
        tmp_path,
        """\
openapi: 3.0.3
paths:
  /shops/{shopId}/orders/{orderId}:
    parameters:
      - {name: shopId, in: path, required: true, schema: {type: string}}
      - {name: region, in: path, required: true, schema: {type: string}}
    get: {}
    delete: {}
  /users/{userId}:
    get:
      parameters:
        - $ref: "https://schemas.acme-cloud.com/params.yaml#/UserId"
""",
        only="openapi-path-param-undeclared",
    )
    details = sorted((f.location.resource, f.evidence) for f in found)
    assert details == [
        ("DELETE /shops/{shopId}/orders/{orderId}", "{orderId}"),
        ("GET /shops/{shopId}/orders/{orderId}", "region"),
        ("GET /shops/{shopId}/orders/{orderId}", "{orderId}"),
    ]  # `region` (declared once, at the path) is reported once; /users cannot be judged
    region = next(f for f in found if f.evidence == "region")
    assert region.location.pointer == "/paths/~1shops~1{shopId}~1orders~1{orderId}/parameters/1"


def test_unused_components_count_refs_from_components_other_files_and_security() -> None:
    found = _of(lint(load_spec(str(MULTI)), rules=RULES), "openapi-unused-component")
    assert [f.location.resource for f in found] == ["components/schemas/Unused"]
    assert found[0].location.line == 53


def test_unused_components_in_swagger2_sections() -> None:
    found = lint(
        load_spec(str(FIXTURES / "swagger2.yaml")), rules=[BY_ID["openapi-unused-component"]]
    )
    assert sorted(f.location.resource for f in found) == [
        "definitions/Orphan",
        "parameters/Unused",
        "securityDefinitions/oauth",
    ]


def test_unused_components_honour_discriminators_and_component_libraries(tmp_path: Path) -> None:
    spec = """\
openapi: 3.0.3
paths:
  /pets:
    get:
      responses:
        "200":
          description: ok
          content:
            application/json:
              schema: {$ref: "#/components/schemas/Pet"}
        "400":
          description: bad
          content:
            application/json:
              schema:
                oneOf: [{$ref: "#/components/schemas/Shape"}]
                discriminator: {propertyName: kind, mapping: {sq: Square, ci: "#/components/schemas/Circle"}}
components:
  schemas:
    Pet: {type: object, discriminator: {propertyName: kind}}
    Dog: {allOf: [{$ref: "#/components/schemas/Pet"}]}
    Puppy: {allOf: [{$ref: "#/components/schemas/Dog"}]}
    Shape: {type: object}
    Square: {type: object}
    Circle: {type: object}
    Loner: {allOf: [{$ref: "#/components/schemas/Shape"}]}
"""
    found = _lint_text(tmp_path, spec, only="openapi-unused-component")
    # Dog is an implicit subtype of Pet; Puppy extends Dog, which has no discriminator itself
    assert [f.location.resource for f in found] == [
        "components/schemas/Puppy",
        "components/schemas/Loner",
    ]
    library = "openapi: 3.0.3\ncomponents:\n  schemas:\n    Money: {type: object}\n"
    assert _lint_text(tmp_path, library, name="lib.yaml", only="openapi-unused-component") == []


def test_unbounded_request_strings_once_per_schema_node(tmp_path: Path) -> None:
    spec = """\
openapi: 3.1.0
paths:
  /a:
    post:
      requestBody:
        content:
          application/json: {schema: {$ref: "#/components/schemas/Node"}}
  /b:
    put:
      requestBody:
        content:
          application/json: {schema: {$ref: "#/components/schemas/Node"}}
      parameters:
        - {name: id, in: query, schema: {type: string, format: uuid}}
        - {name: when, in: header, schema: {type: [string, "null"], format: date}}
        - {name: q, in: query, content: {application/json: {schema: {type: string}}}}
components:
  schemas:
    Node:
      type: object
      properties:
        name: {type: string}
        code: {type: string, maxLength: 8}
        kind: {type: string, const: leaf}
        id: {type: string, readOnly: true}
        children: {type: array, items: {$ref: "#/components/schemas/Node"}}
        tags: {type: array, items: {type: [string, "null"]}}
        notThis: {not: {type: string}}
"""
    found = _lint_text(tmp_path, spec, only="openapi-schema-unbounded-string")
    where = sorted((f.location.resource, f.location.pointer) for f in found)
    assert where == [
        ("PUT /b", "/paths/~1b/put/parameters/2/content/application~1json/schema"),
        ("components/schemas/Node", "/components/schemas/Node/properties/name"),
        ("components/schemas/Node", "/components/schemas/Node/properties/tags/items"),
    ]


def test_unbounded_strings_in_swagger2_parameters() -> None:
    found = lint(
        load_spec(str(FIXTURES / "swagger2.yaml")), rules=[BY_ID["openapi-schema-unbounded-string"]]
    )
    assert sorted(f.location.pointer for f in found) == [
        "/paths/~1orders/get/parameters/1",
        "/paths/~1orders/post/parameters/0",
    ]


# --- servers, security, operations ----------------------------------------------------------


def test_server_urls_at_every_level_with_variables(tmp_path: Path) -> None:
    spec = """\
openapi: 3.0.3
servers:
  - url: "{proto}://api.{zone}/v1"
    variables:
      proto: {default: https}
      zone: {default: shop.internal, enum: [shop.internal, acme-cloud.com]}
  - url: /relative
paths:
  /a:
    servers: [{url: "https://a.acme-cloud.com"}]
    get:
      servers: [{url: "http://10.0.0.8:8080"}, {url: "https://b.acme-cloud.com"}]
"""
    found = _lint_text(tmp_path, spec, only="openapi-server-public")
    assert sorted((f.location.pointer, f.evidence) for f in found) == [
        ("/paths/~1a/get/servers/1/url", "https://b.acme-cloud.com"),
        ("/paths/~1a/servers/0/url", "https://a.acme-cloud.com"),
        ("/servers/0/variables/zone/enum/1", "https://api.acme-cloud.com/v1"),
    ]
    inside = Boundary(domains=("*.acme-cloud.com", "acme-cloud.com"))
    assert _lint_text(tmp_path, spec, only="openapi-server-public", boundary=inside) == []


def test_effective_security_per_operation(tmp_path: Path) -> None:
    spec = """\
openapi: 3.0.3
security: []
paths:
  /open:
    get: {}
  /secured:
    get:
      security: [{token: [read]}]
  /optional:
    get:
      security: [{token: []}, {}]
"""
    found = _lint_text(tmp_path, spec, only="openapi-no-security")
    assert [(f.location.resource, f.location.pointer, f.evidence) for f in found] == [
        ("GET /open", "/security", "[]"),
        ("GET /optional", "/paths/~1optional/get/security", "{}"),
    ]


def test_missing_4xx_accepts_ranges_and_default(tmp_path: Path) -> None:
    spec = """\
openapi: 3.0.3
paths:
  /a: {get: {responses: {"200": {description: ok}, "404": {description: gone}}}}
  /b: {get: {responses: {"200": {description: ok}, "4XX": {description: client}}}}
  /c: {get: {responses: {"200": {description: ok}, default: {description: error}}}}
  /d: {get: {responses: {"200": {description: ok}, "5XX": {description: server}}}}
  /e: {get: {}}
"""
    found = _lint_text(tmp_path, spec, only="openapi-response-missing-4xx")
    assert [f.location.resource for f in found] == ["GET /d", "GET /e"]


def test_oauth_and_openid_urls_in_3x_and_2_0() -> None:
    three = lint(
        load_spec(str(FIXTURES / "openapi31.yaml")), rules=[BY_ID["openapi-oauth-url-public"]]
    )
    assert [f.location.pointer for f in three] == [
        "/components/securitySchemes/oidc/openIdConnectUrl"
    ]
    two = lint(
        load_spec(str(FIXTURES / "swagger2.yaml")), rules=[BY_ID["openapi-oauth-url-public"]]
    )
    assert [f.location.pointer for f in two] == [
        "/securityDefinitions/oauth/authorizationUrl",
        "/securityDefinitions/oauth/tokenUrl",
    ]
    swagger_server = lint(
        load_spec(str(FIXTURES / "swagger2.yaml")), rules=[BY_ID["openapi-server-public"]]
    )
    assert [f.evidence for f in swagger_server] == ["https://legacy.shop.example.com/v1"]


def test_external_docs_everywhere_but_inside_examples(tmp_path: Path) -> None:
    spec = """\
openapi: 3.0.3
externalDocs: {url: "https://docs.acme-cloud.com"}
paths:
  /a:
    get:
      externalDocs: {url: "https://docs.acme-cloud.com/a"}
      responses:
        default:
          description: x
          content:
            application/json:
              example: {externalDocs: {url: "https://not.a.link.com"}}
components:
  schemas:
    A:
      externalDocs: {url: "https://docs.acme-cloud.com/schemas/a"}
      properties:
        externalDocs: {type: object}
      default: {externalDocs: {url: "https://literal.example.com"}}
"""
    found = _lint_text(tmp_path, spec, only="openapi-external-docs-public")
    assert [(f.location.resource, f.evidence) for f in found] == [
        ("externalDocs", "https://docs.acme-cloud.com"),
        ("GET /a", "https://docs.acme-cloud.com/a"),
        ("components/schemas/A", "https://docs.acme-cloud.com/schemas/a"),
    ]
    assert all(f.severity is Severity.INFO for f in found)


# --- examples ------------------------------------------------------------------------------------


def test_examples_openapi_31_json_schema_and_media_types() -> None:
    found = lint(
        load_spec(str(FIXTURES / "openapi31.yaml")), rules=[BY_ID["openapi-example-invalid"]]
    )
    assert [(f.location.pointer, f.evidence) for f in found] == [
        (
            "/paths/~1items~1{itemId}/get/responses/200/content/application~1json/examples/broken",
            '/tags: "x" is not of type "array"',
        ),
        ("/components/schemas/Item/examples/1", '/parent/id: "one" is not of type "integer"'),
    ]  # the shared example `ok` is valid (null name: type array); the XML string is not judged


def test_examples_swagger2_x_nullable_and_response_examples() -> None:
    found = lint(
        load_spec(str(FIXTURES / "swagger2.yaml")), rules=[BY_ID["openapi-example-invalid"]]
    )
    assert [(f.location.pointer, f.evidence) for f in found] == [
        (
            "/paths/~1orders/get/responses/200/examples/application~1json",
            '/1/id: "two" is not of type "integer"',
        )
    ]


def test_examples_openapi_30_dialect(tmp_path: Path) -> None:
    spec = """\
openapi: 3.0.3
paths: {}
components:
  schemas:
    Percent: {type: number, maximum: 100, exclusiveMaximum: true, example: 100}
    Ratio: {type: number, maximum: 1, exclusiveMaximum: false, example: 1}
    Note: {type: string, nullable: true, example: "hi"}
    MaybeNote: {$ref: "#/components/schemas/Note"}
    User:
      type: object
      required: [id, password, name]
      properties:
        id: {type: integer, readOnly: true}
        password: {type: string, writeOnly: true}
        name: {type: string}
        note: {allOf: [{$ref: "#/components/schemas/Note"}], nullable: true}
      example: {name: ada, note: null}
    Pet:
      oneOf: [{$ref: "#/components/schemas/Cat"}, {$ref: "#/components/schemas/Dog"}]
      discriminator: {propertyName: kind}
      example: {kind: Cat, name: tom}
    Cat: {type: object, properties: {kind: {type: string}, name: {type: string}}}
    Dog: {type: object, properties: {kind: {type: string}, name: {type: string}}}
    Stamp: {type: string, format: date-time, example: "not a date, formats are annotations"}
    Remote:
      type: object
      properties:
        spec: {$ref: "https://schemas.acme-cloud.com/spec.yaml"}
      example: {spec: 1, other: "unknown, not invalid"}
    Broken: {$ref: "#/components/schemas/Nowhere", example: 1}
    Bad: {type: object, required: [id], example: {name: x}}
"""
    found = _lint_text(tmp_path, spec, only="openapi-example-invalid")
    assert [(f.location.resource, f.evidence) for f in found] == [
        (
            "components/schemas/Percent",
            "(root): 100 is greater than or equal to the maximum of 100",
        ),
        ("components/schemas/Bad", '(root): "id" is a required property'),
    ]


def test_examples_json_strings_and_non_json_media(tmp_path: Path) -> None:
    spec = """\
openapi: 3.0.3
paths:
  /a:
    post:
      requestBody:
        content:
          application/json:
            schema: {type: object, required: [id], properties: {id: {type: integer}}}
            examples:
              asText: {value: '{"id": 1}'}
              wrongText: {value: '{"id": "x"}'}
              external: {externalValue: "https://examples.acme-cloud.com/a.json"}
          text/plain:
            schema: {type: object}
            example: "id=1"
          application/x-www-form-urlencoded:
            schema: {type: object, required: [id]}
            example: {name: form}
"""
    found = _lint_text(tmp_path, spec, only="openapi-example-invalid")
    content = "/paths/~1a/post/requestBody/content"
    assert [f.location.pointer for f in found] == [
        f"{content}/application~1json/examples/wrongText",
        f"{content}/application~1x-www-form-urlencoded/example",
    ]  # '{"id": 1}' is the JSON document as a string; text/plain "id=1" is a serialised body


def test_a_component_example_used_twice_is_checked_against_each_schema(tmp_path: Path) -> None:
    spec = """\
openapi: 3.0.3
paths:
  /a:
    get:
      responses:
        "200":
          description: ok
          content:
            application/json:
              schema: {type: object}
              examples: {one: {$ref: "#/components/examples/One"}}
        "201":
          description: ok
          content:
            application/json:
              schema: {type: array}
              examples: {one: {$ref: "#/components/examples/One"}}
components:
  examples:
    One: {value: {a: 1}}
"""
    found = _lint_text(tmp_path, spec, only="openapi-example-invalid")
    assert [f.location.pointer for f in found] == [
        "/paths/~1a/get/responses/201/content/application~1json/examples/one"
    ]


# --- malformed input never raises anything but InputError ------------------------------------

MALFORMED = [
    "openapi: 3.0.3\npaths: [1, 2]\n",
    "openapi: 3.0.3\npaths: {/a: 7, /b: {get: [1]}, /c: {$ref: 1}}\n",
    "openapi: 3.0.3\npaths: {/a: {get: {parameters: {a: 1}, responses: [1], security: yes}}}\n",
    "openapi: 3.0.3\npaths: {'/a/{x}': {parameters: [7, {in: path}], get: {parameters: [null]}}}\n",
    "openapi: 3.0.3\nservers: [1, {url: 7}, {url: '{a}', variables: {a: {enum: 5}}}]\npaths: {}\n",
    "openapi: 3.0.3\ncomponents: {schemas: [1], securitySchemes: {a: 1, b: {flows: 3}}}\n",
    "openapi: 3.0.3\ncomponents: {schemas: {A: {$ref: '#/components/schemas/B'}, B: {$ref: '#/components/schemas/A'}}}\npaths: {/a: {get: {requestBody: {content: {application/json: {schema: {$ref: '#/components/schemas/A'}, example: 1}}}}}}\n",
    "openapi: 3.0.3\npaths: {/a: {post: {requestBody: {content: {application/json: {schema: {type: object, required: 5, pattern: '(', properties: {a: {type: wrong}}}, example: {a: .nan}}}}}}}\n",
    "openapi: 3.1.0\npaths: {/a: {get: {responses: {'200': {description: x, content: {application/json: {schema: {$dynamicRef: '#meta', items: [1]}, example: [1]}}}}}}}\n",
    "swagger: '2.0'\nhost: 5\nschemes: 7\nsecurityDefinitions: {a: {authorizationUrl: 1}}\nparameters: 3\npaths: {/a: {get: {parameters: [{in: body, schema: 1}]}}}\n",
    "openapi: 3.0.3\nexternalDocs: 1\ntags: [{externalDocs: {url: 1}}]\nsecurity: [1, [2]]\npaths: {}\n",
    "openapi: 3.0.3\npaths: {/a: {get: {responses: {'200': {content: {application/json: {schema: {discriminator: {mapping: 3}}, examples: {a: 1, b: {$ref: 5}}}}}}}}}\n",
    "{}",
    "openapi: 3.0.3\ncomponents: {schemas: {A: {properties: {a: {$ref: '#/components/schemas/A'}}, example: {a: {a: {a: {}}}}}}}\npaths: {/x: {}}\n",
]


@pytest.mark.parametrize("text", MALFORMED)
def test_malformed_specs_lint_without_raising(tmp_path: Path, text: str) -> None:
    path = tmp_path / "openapi.yaml"
    path.write_text(text, encoding="utf-8")
    findings = lint(load_spec(str(path)), rules=RULES)
    assert all(isinstance(f, Finding) for f in findings)


def test_deeply_nested_schemas_are_bounded(tmp_path: Path) -> None:
    schema: dict[str, Any] = {"type": "string"}
    example: Any = "x"
    for _ in range(400):
        schema = {"type": "object", "properties": {"a": schema}}
        example = {"a": example}
    spec = {
        "openapi": "3.0.3",
        "paths": {
            "/a": {
                "post": {
                    "requestBody": {
                        "content": {"application/json": {"schema": schema, "example": example}}
                    }
                }
            }
        },
    }
    path = tmp_path / "deep.json"
    path.write_text(json.dumps(spec), encoding="utf-8")
    found = lint(load_spec(str(path)), rules=RULES)
    assert len(_of(found, "openapi-schema-unbounded-string")) == 1
    assert _of(found, "openapi-example-invalid") == []  # too deep to judge: unknown


_KEYS = st.sampled_from(
    [
        "openapi", "swagger", "paths", "/a/{id}", "get", "post", "parameters", "responses",
        "requestBody", "content", "application/json", "schema", "example", "examples", "value",
        "$ref", "components", "schemas", "A", "type", "properties", "items", "servers", "url",
        "variables", "default", "enum", "security", "securitySchemes", "flows", "tokenUrl",
        "externalDocs", "operationId", "in", "name", "nullable", "required", "allOf", "oneOf",
        "discriminator", "mapping", "host", "definitions", "200",
    ]
)  # fmt: skip
_LEAVES = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(),
    st.floats(allow_nan=False),
    st.sampled_from(["3.0.3", "3.1.0", "2.0", "string", "#/components/schemas/A", "path",
                     "https://x.acme-cloud.com/{v}", "#/definitions/A", "{id}", "object"]),
)  # fmt: skip
_TREES = st.recursive(
    _LEAVES,
    lambda children: st.lists(children, max_size=3) | st.dictionaries(_KEYS, children, max_size=5),
    max_leaves=40,
)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.dictionaries(_KEYS, _TREES, max_size=6), st.sampled_from(["3.0.3", "3.1.0", None]))
def test_random_specs_never_raise_anything_but_input_error(
    tmp_path_factory: pytest.TempPathFactory, data: dict[str, Any], version: str | None
) -> None:
    if version:
        data["openapi"] = version
    path = tmp_path_factory.mktemp("fuzz") / "openapi.json"
    path.write_text(json.dumps(data), encoding="utf-8")
    try:
        spec = load_spec(str(path))
    except InputError:
        return
    for finding in lint(spec, rules=RULES):
        assert finding.rule_id in BY_ID


# --- speed on a real spec ----------------------------------------------------------------------


@pytest.mark.slow
@pytest.mark.skipif(not GHES.exists(), reason="benchmark specs not downloaded (make bench-data)")
def test_ghes_spec_lints_in_a_few_seconds() -> None:
    spec = load_spec(str(GHES))
    started = time.process_time()  # CPU time: other jobs on the machine do not count
    findings = lint(spec, rules=RULES)
    elapsed = time.process_time() - started
    # about 1.4 s on a 2-core machine; the bound catches an order-of-magnitude regression
    assert elapsed < 8.0, f"{elapsed:.1f}s"
    assert _of(findings, "openapi-unused-component")
    assert not _of(findings, "openapi-server-public")  # {protocol}://HOSTNAME/api/v3 is internal
