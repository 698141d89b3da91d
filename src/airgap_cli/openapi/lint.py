"""``airgap openapi lint``: air-gap and API-hygiene rules on one OpenAPI spec, rules as data.

The rules live in ``rules/openapi/*.yaml`` like the manifest rules: a property of one node is a
JSON Schema ``condition`` on a named target (an operation, a server URL, a request string schema),
anything that needs cross-references is a small registered Python check (``python: <name>``).
Targets and checks share one ``SpecIndex`` built once per spec, follow ``$ref``s only through the
loader (never over the network) and keep visited sets, so recursive schemas terminate.

Decisions worth knowing (also written into the rule files):

* A remote ``$ref`` to a host outside the boundary is reported at the rule's severity; one to an
  internal host at ``params.internal_severity`` (``low`` by default; ``null`` drops them): it
  still needs a network at build time, but the network exists inside the air gap.
* ``openapi-example-invalid`` validates against the schema converted to JSON Schema 2020-12
  (OpenAPI 3.0/2.0 ``nullable``/``x-nullable`` and boolean ``exclusiveMinimum``/``Maximum``
  translated; formats are annotations). It is lenient where tools disagree: ``readOnly`` and
  ``writeOnly`` properties are never required, ``oneOf`` under a ``discriminator`` acts as
  ``anyOf``, ``nullable`` next to a ``$ref`` is honoured. A schema that reaches a ``$ref`` the
  loader cannot follow makes its examples unknown, never invalid.
* Operations are those under ``paths``: webhooks and callbacks describe calls the API makes, not
  calls it serves, so operation rules skip them (their ``$ref``s still make components used).
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field, replace
from typing import Any
from urllib.parse import unquote

import jsonschema_rs

from airgap_cli.core.config import Config
from airgap_cli.core.errors import RuleError
from airgap_cli.core.findings import Finding, Location, Severity, fingerprint
from airgap_cli.core.hosts import Boundary
from airgap_cli.core.rules import BUILTIN_PACKS, Rule, builtin_rule_dirs, load_rules
from airgap_cli.core.yamlio import pointer_segment
from airgap_cli.lint.engine import formats_for
from airgap_cli.openapi.loader import Spec, split_pointer

HTTP_METHODS = ("get", "put", "post", "delete", "options", "head", "patch", "trace")
MAX_ERRORS_PER_TARGET = 20
MAX_SCHEMA_DEPTH = 128
"""Deepest inline schema nesting converted for example validation (deeper: example unknown)."""
MAX_ENUM_ALTERNATIVES = 64
"""Server variable ``enum`` values expanded per variable."""
_EVIDENCE_LIMIT = 200
_PLACEHOLDER = re.compile(r"\{([^{}/]*)\}")
_BUNDLE_URI = "urn:airgap:openapi-schemas"

KeyPath = tuple[str, ...]


# --- the parts of a spec the rules consult --------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Operation:
    """One operation under ``paths``, with the path item it belongs to."""

    method: str
    template: str
    node: dict[str, Any]
    doc: str
    """File holding the operation (the spec, or a file a path item ``$ref`` points to)."""
    pointer: str
    item: dict[str, Any]
    item_pointer: str

    @property
    def label(self) -> str:
        """``GET /users/{id}``: how people name an operation."""
        return f"{self.method.upper()} {self.template}"


@dataclass(frozen=True, slots=True)
class Parameter:
    """A parameter after ``$ref`` resolution, and where it is listed."""

    node: dict[str, Any]
    doc: str
    pointer: str
    use_doc: str
    use_pointer: str


@dataclass(frozen=True, slots=True)
class Target:
    """One value a rule's JSON Schema condition is applied to."""

    value: Any
    doc: str
    pointer: str
    resource: str
    label: str
    synthetic: bool = False
    """``value`` is built (a URL, an operation view), not the node at ``pointer``."""
    fields: dict[str, str] = field(default_factory=dict)
    """For built views: top-level key of ``value`` -> pointer of the node it came from."""

    def pointer_of(self, relative: list[str]) -> str:
        """Where an error at ``relative`` (inside ``value``) is in the file."""
        if not relative:
            return self.pointer
        if self.synthetic:
            return self.fields.get(relative[0], self.pointer)
        return self.pointer + "".join("/" + pointer_segment(p) for p in relative)


@dataclass(frozen=True, slots=True)
class Hit:
    """One occurrence found by a Python check."""

    doc: str
    pointer: str
    evidence: str
    resource: str
    label: str = ""
    variables: dict[str, str] = field(default_factory=dict)
    severity: Severity | None = None


class SpecIndex:
    """What every rule consults, found once per spec: operations, parameters, references."""

    def __init__(self, spec: Spec, boundary: Boundary) -> None:
        self.spec = spec
        self.boundary = boundary
        self.root: dict[str, Any] = spec.data
        self.doc = spec.path
        self.version = spec.version
        self.is_swagger = spec.version == "2.0"
        self.operations = list(self._operations())
        self._parameters: dict[tuple[str, str], tuple[list[Parameter], bool]] = {}

    def follow(self, node: Any, doc: str, pointer: str) -> tuple[Any, str, str] | None:
        """``(node, doc, pointer)``, or its ``$ref`` target's; None if the ref is unresolvable."""
        if not (isinstance(node, dict) and isinstance(node.get("$ref"), str)):
            return node, doc, pointer
        resolved = self.spec.deref(node, doc)
        if resolved.node is node:
            return None
        return resolved.node, resolved.doc, resolved.pointer

    def _operations(self) -> Iterator[Operation]:
        paths = self.root.get("paths")
        if not isinstance(paths, dict):
            return
        for template, raw in paths.items():
            if not isinstance(template, str) or not template.startswith("/"):
                continue
            found = self.follow(raw, self.doc, "/paths/" + pointer_segment(template))
            if found is None or not isinstance(found[0], dict):
                continue
            item, item_doc, item_pointer = found
            for method in HTTP_METHODS:
                node = item.get(method)
                if isinstance(node, dict):
                    pointer = f"{item_pointer}/{method}"
                    yield Operation(method, template, node, item_doc, pointer, item, item_pointer)

    def parameters(self, op: Operation) -> tuple[list[Parameter], bool]:
        """Path-level and operation-level parameters merged (the operation's win by name and
        location), and whether every one could be resolved."""
        key = (op.doc, op.pointer)
        if key not in self._parameters:
            merged: dict[tuple[str, str], Parameter] = {}
            unnamed: list[Parameter] = []
            complete = True
            for holder, holder_pointer in ((op.item, op.item_pointer), (op.node, op.pointer)):
                listed = holder.get("parameters")
                if not isinstance(listed, list):
                    continue
                for i, raw in enumerate(listed):
                    use = f"{holder_pointer}/parameters/{i}"
                    found = self.follow(raw, op.doc, use)
                    if found is None:
                        complete = False
                        continue
                    node, doc, pointer = found
                    if not isinstance(node, dict):
                        continue
                    param = Parameter(node, doc, pointer, op.doc, use)
                    name, where = node.get("name"), node.get("in")
                    if isinstance(name, str) and isinstance(where, str):
                        merged[(name, where)] = param
                    else:
                        unnamed.append(param)
            self._parameters[key] = ([*merged.values(), *unnamed], complete)
        return self._parameters[key]

    def security(self, op: Operation) -> Any:
        """The security requirements in force for ``op`` (its own, else the spec's, else none)."""
        if "security" in op.node:
            return op.node["security"]
        return self.root.get("security", [])

    def section(self, *keys: str) -> dict[str, Any]:
        """A mapping at ``keys`` under the root, or an empty one when absent or malformed."""
        node: Any = self.root
        for key in keys:
            node = node.get(key) if isinstance(node, dict) else None
        return node if isinstance(node, dict) else {}

    def component_sections(self) -> list[tuple[str, ...]]:
        """Root paths of the reusable-component maps (2.0 top-level maps, 3.x ``components.*``)."""
        if self.is_swagger:
            names = ("definitions", "parameters", "responses", "securityDefinitions")
            return [(name,) for name in names if isinstance(self.root.get(name), dict)]
        return [
            ("components", name)
            for name, value in self.section("components").items()
            if isinstance(value, dict) and not name.startswith("x-")
        ]


def resource_for(pointer: str) -> str:
    """A short, stable name for what a pointer is in: an operation, a component, a section."""
    segments = split_pointer(pointer)
    if len(segments) >= 3 and segments[0] == "paths" and segments[2] in HTTP_METHODS:
        return f"{segments[2].upper()} {segments[1]}"
    if len(segments) >= 2 and segments[0] == "paths":
        return segments[1]
    if len(segments) >= 3 and segments[0] == "components":
        return "/".join(segments[:3])
    if len(segments) >= 2 and segments[0] in (
        "definitions",
        "parameters",
        "responses",
        "securityDefinitions",
        "webhooks",
        "x-webhooks",
    ):
        return "/".join(segments[:2])
    return segments[0] if segments else ""


def _join(pointer: str, *segments: str | int) -> str:
    for segment in segments:
        text = str(segment)
        pointer += "/" + (pointer_segment(text) if "~" in text or "/" in text else text)
    return pointer


def _short(value: Any, limit: int = _EVIDENCE_LIMIT) -> str:
    if isinstance(value, str):
        text = value
    else:
        try:
            text = json.dumps(value, sort_keys=True, default=str)
        except (TypeError, ValueError):
            text = str(value)
    return text if len(text) <= limit else text[: limit - 1] + "…"


# --- schema walking -------------------------------------------------------------------------------

_SCHEMA_MAPS = ("properties", "patternProperties", "dependentSchemas")
_SCHEMA_SINGLES = (
    "items",
    "additionalProperties",
    "additionalItems",
    "contains",
    "propertyNames",
    "if",
    "then",
    "else",
    "unevaluatedItems",
    "unevaluatedProperties",
    "not",
)
_SCHEMA_LISTS = ("allOf", "anyOf", "oneOf", "prefixItems")

SchemaSite = tuple[Any, str, str, str, str]
"""(node, doc, pointer, label, resource) of one schema."""


def iter_schemas(
    index: SpecIndex,
    roots: Iterable[SchemaSite],
    visited: set[tuple[str, str]],
    *,
    skip: frozenset[str] = frozenset(),
    skip_read_only: bool = False,
) -> Iterator[SchemaSite]:
    """Every schema reachable from ``roots`` once (by document and pointer), refs followed."""
    stack = list(roots)
    stack.reverse()
    while stack:
        raw, doc, pointer, label, resource = stack.pop()
        found = index.follow(raw, doc, pointer)
        if found is None or not isinstance(found[0], dict):
            continue
        node, doc, pointer = found
        if (doc, pointer) in visited:
            continue
        visited.add((doc, pointer))
        if skip_read_only and node.get("readOnly") is True:
            continue
        if node is not raw and pointer.startswith(("/components/", "/definitions/")):
            resource = resource_for(pointer)  # reached through a $ref: named after the target
        yield node, doc, pointer, label, resource
        children: list[SchemaSite] = []
        for key in _SCHEMA_MAPS:
            mapping = node.get(key)
            if key not in skip and isinstance(mapping, dict):
                children += [
                    (sub, doc, _join(pointer, key, name), str(name), resource)
                    for name, sub in mapping.items()
                ]
        for key in _SCHEMA_SINGLES:
            sub = node.get(key)
            if key not in skip and isinstance(sub, dict):
                sub_label = f"{label}[]" if key in ("items", "additionalItems") else label
                children.append((sub, doc, _join(pointer, key), sub_label, resource))
        for key in (*_SCHEMA_LISTS, "items"):
            subs = node.get(key)
            if key not in skip and isinstance(subs, list):
                children += [
                    (sub, doc, _join(pointer, key, i), label, resource)
                    for i, sub in enumerate(subs)
                ]
        stack.extend(reversed(children))


def _media_types(
    holder: Any, doc: str, pointer: str, key: str = "content"
) -> Iterator[tuple[str, dict[str, Any], str]]:
    content = holder.get(key) if isinstance(holder, dict) else None
    if isinstance(content, dict):
        for media, node in content.items():
            if isinstance(node, dict):
                yield str(media), node, _join(pointer, key, media)


def _request_roots(index: SpecIndex) -> Iterator[SchemaSite]:
    """The schemas a client fills in: parameters and request bodies of every operation."""
    for op in index.operations:
        params, _ = index.parameters(op)
        for param in params:
            node = param.node
            label = f"{node.get('in', '?')} parameter {node.get('name', '?')}"
            if index.is_swagger and node.get("in") != "body":
                yield node, param.doc, param.pointer, label, op.label
            elif "schema" in node:
                yield node["schema"], param.doc, param.pointer + "/schema", label, op.label
            for _, media, media_pointer in _media_types(node, param.doc, param.pointer):
                if "schema" in media:
                    yield media["schema"], param.doc, media_pointer + "/schema", label, op.label
        found = index.follow(op.node.get("requestBody"), op.doc, op.pointer + "/requestBody")
        if found is None:
            continue
        body, body_doc, body_pointer = found
        for _, media, media_pointer in _media_types(body, body_doc, body_pointer):
            if "schema" in media:
                yield media["schema"], body_doc, media_pointer + "/schema", "request body", op.label


# --- targets for JSON Schema conditions -----------------------------------------------------------

_COMPUTED_VIEW_KEYS = ("method", "path", "responses", "security")


def _operation_targets(index: SpecIndex) -> Iterator[Target]:
    """Each operation as a view: its own fields plus ``method``, ``path``, the response codes as
    a list of strings and the effective ``security`` (the operation's, else the spec's, else [])."""
    for op in index.operations:
        view: dict[str, Any] = dict(op.node)
        fields = {k: _join(op.pointer, k) for k in view}
        view["method"], view["path"] = op.method, op.template
        fields["method"] = fields["path"] = op.pointer
        responses = op.node.get("responses")
        if isinstance(responses, dict):
            view["responses"] = [str(k) for k in responses if not str(k).startswith("x-")]
        view["security"] = index.security(op)
        if "security" not in op.node:
            inherited = "security" in index.root and op.doc == index.doc
            fields["security"] = "/security" if inherited else op.pointer
        yield Target(view, op.doc, op.pointer, op.label, op.label, synthetic=True, fields=fields)


def _server_targets(index: SpecIndex) -> Iterator[Target]:
    """Every server URL a client may call (3.x ``servers`` at root, path and operation level with
    variables expanded to their defaults and each ``enum`` value; 2.0 ``host`` + ``basePath``)."""
    if index.is_swagger:
        host = index.root.get("host")
        if isinstance(host, str) and host.strip():
            schemes = index.root.get("schemes")
            listed = [s for s in schemes if isinstance(s, str)] if isinstance(schemes, list) else []
            scheme = listed[0] if listed else "https"
            base = index.root.get("basePath")
            url = f"{scheme}://{host.strip()}{base if isinstance(base, str) else ''}"
            yield Target(url, index.doc, "/host", "host", url, synthetic=True)
        return
    holders: list[tuple[dict[str, Any], str, str, str]] = [(index.root, index.doc, "", "servers")]
    seen_items: set[tuple[str, str]] = set()
    for op in index.operations:
        if (op.doc, op.item_pointer) not in seen_items:
            seen_items.add((op.doc, op.item_pointer))
            holders.append((op.item, op.doc, op.item_pointer, op.template))
        holders.append((op.node, op.doc, op.pointer, op.label))
    for holder, doc, pointer, resource in holders:
        servers = holder.get("servers")
        if not isinstance(servers, list):
            continue
        for i, server in enumerate(servers):
            if isinstance(server, dict) and isinstance(server.get("url"), str):
                for url, url_pointer in server_urls(server, _join(pointer, "servers", i)):
                    yield Target(url, doc, url_pointer, resource, url, synthetic=True)


def server_urls(server: dict[str, Any], pointer: str) -> Iterator[tuple[str, str]]:
    """A Server Object's URL with its variables' defaults, then once per other ``enum`` value."""
    template = str(server["url"])
    variables: dict[str, Any] = {}
    if isinstance(server.get("variables"), dict):
        variables = server["variables"]
    defaults = {
        str(name): str(spec["default"])
        for name, spec in variables.items()
        if isinstance(spec, dict) and isinstance(spec.get("default"), str | int | float)
    }

    def expand(values: dict[str, str]) -> str | None:
        missing = False

        def value(match: re.Match[str]) -> str:
            nonlocal missing
            if match.group(1) not in values:
                missing = True
            return values.get(match.group(1), "")

        url = _PLACEHOLDER.sub(value, template)
        return None if missing else url

    default_url = expand(defaults)
    if default_url is not None:
        yield default_url, pointer + "/url"
    seen = {default_url}
    for name, spec in variables.items():
        enum = spec.get("enum") if isinstance(spec, dict) else None
        if not isinstance(enum, list):
            continue
        for j, alternative in enumerate(enum[:MAX_ENUM_ALTERNATIVES]):
            if not isinstance(alternative, str | int | float):
                continue
            url = expand({**defaults, str(name): str(alternative)})
            if url is not None and url not in seen:
                seen.add(url)
                yield url, _join(pointer, "variables", name, "enum", j)


_OAUTH_URL_KEYS = ("authorizationUrl", "tokenUrl", "refreshUrl")


def _security_url_targets(index: SpecIndex) -> Iterator[Target]:
    """OAuth2 authorization/token/refresh URLs (3.x flows, 2.0 securityDefinitions) and OpenID
    Connect discovery URLs."""
    if index.is_swagger:
        schemes, base = index.section("securityDefinitions"), "/securityDefinitions"
    else:
        schemes, base = (
            index.section("components", "securitySchemes"),
            "/components/securitySchemes",
        )
    for name, raw in schemes.items():
        found = index.follow(raw, index.doc, _join(base, name))
        if found is None or not isinstance(found[0], dict):
            continue
        scheme, doc, pointer = found
        resource = resource_for(_join(base, name))
        places: list[tuple[dict[str, Any], str]] = [(scheme, pointer)]
        flows = scheme.get("flows")
        if isinstance(flows, dict):
            places += [
                (f, _join(pointer, "flows", n)) for n, f in flows.items() if isinstance(f, dict)
            ]
        for holder, holder_pointer in places:
            for key in (*_OAUTH_URL_KEYS, "openIdConnectUrl"):
                url = holder.get(key)
                if isinstance(url, str):
                    yield Target(
                        url, doc, _join(holder_pointer, key), resource, f"{name} {key}", True
                    )


_LITERAL_KEYS = frozenset({"example", "examples", "enum", "const"})


def _external_docs_targets(index: SpecIndex) -> Iterator[Target]:
    """Every ``externalDocs.url`` in the spec (root, tags, operations, schemas), skipping
    literal values (examples, enums, defaults) and ``x-`` extensions. In document order: line
    look-ups in big JSON files are cheapest that way."""
    stack: list[tuple[Any, str, str]] = [(index.root, "", "")]
    while stack:
        node, pointer, parent = stack.pop()
        if isinstance(node, dict):
            docs = node.get("externalDocs")
            if (
                isinstance(docs, dict)
                and isinstance(docs.get("url"), str)
                and parent not in ("properties", "patternProperties")
            ):
                url_pointer = pointer + "/externalDocs/url"
                resource = resource_for(url_pointer)
                yield Target(docs["url"], index.doc, url_pointer, resource, docs["url"], True)
            children = [
                (value, _join(pointer, key), key)
                for key, value in node.items()
                if isinstance(value, dict | list)
                and not (key in _LITERAL_KEYS or key.startswith("x-"))
                and (key != "default" or parent == "responses")
            ]
            stack.extend(reversed(children))
        elif isinstance(node, list):
            stack.extend(
                (node[i], f"{pointer}/{i}", parent)
                for i in range(len(node) - 1, -1, -1)
                if isinstance(node[i], dict | list)
            )


def _request_string_targets(index: SpecIndex) -> Iterator[Target]:
    """String schemas a client sends (parameters, request bodies; ``readOnly`` and ``not``
    subtrees excluded), each schema node once however many operations use it."""
    visited: set[tuple[str, str]] = set()
    for node, doc, pointer, label, resource in iter_schemas(
        index, _request_roots(index), visited, skip=frozenset({"not"}), skip_read_only=True
    ):
        kind = node.get("type")
        if kind == "string" or (isinstance(kind, list) and "string" in kind):
            yield Target(node, doc, pointer, resource, label)


TARGETS: dict[str, Callable[[SpecIndex], Iterator[Target]]] = {
    "openapi-operation": _operation_targets,
    "openapi-server-url": _server_targets,
    "openapi-security-url": _security_url_targets,
    "openapi-external-docs-url": _external_docs_targets,
    "openapi-request-string": _request_string_targets,
}
"""Named targets a rule's ``checks[].target`` may use."""


# --- Python checks --------------------------------------------------------------------------------


def remote_ref(index: SpecIndex, rule: Rule) -> Iterator[Hit]:
    """``$ref``s to http(s) URLs the loader did not map to a local file: a build-time download."""
    problems = [p for p in index.spec.scan_refs() if p.kind == "remote"]
    located = {(p.ref, p.doc) for p in problems if p.pointer}
    internal_severity = rule.params.get("internal_severity", "low")
    for problem in problems:
        if not problem.pointer and (problem.ref, problem.doc) in located:
            continue  # the same ref met by a lookup before the full scan placed it
        url = problem.ref.partition("#")[0]
        severity = None
        if index.boundary.is_internal_url(url):
            if internal_severity is None:
                continue
            lowered = Severity.parse(str(internal_severity))
            severity = lowered if lowered.rank < rule.severity.rank else rule.severity
        yield Hit(
            problem.doc,
            problem.pointer + "/$ref",
            problem.ref,
            resource_for(problem.pointer),
            url,
            {"url": url, "where": "internal" if severity else "external"},
            severity,
        )


def operation_id_duplicate(index: SpecIndex, rule: Rule) -> Iterator[Hit]:
    """Second and later operations reusing an ``operationId`` (the first one is named)."""
    first: dict[str, Operation] = {}
    for op in index.operations:
        op_id = op.node.get("operationId")
        if not isinstance(op_id, str) or not op_id:
            continue
        if op_id not in first:
            first[op_id] = op
            continue
        original = first[op_id]
        line = index.spec.line_of(original.pointer + "/operationId", original.doc)
        yield Hit(
            op.doc,
            op.pointer + "/operationId",
            op_id,
            op.label,
            op.label,
            {
                "first": original.label,
                "first_line": f"{original.doc}:{line}" if line else original.doc,
            },
        )


def path_param_undeclared(index: SpecIndex, rule: Rule) -> Iterator[Hit]:
    """``{name}`` in a path template with no ``in: path`` parameter, and the reverse."""
    reported: set[tuple[str, str]] = set()
    for op in index.operations:
        in_template = [n for n in dict.fromkeys(_PLACEHOLDER.findall(op.template)) if n]
        params, complete = index.parameters(op)
        declared = {
            p.node["name"]: p
            for p in params
            if p.node.get("in") == "path" and isinstance(p.node.get("name"), str)
        }
        for name in in_template:
            if name not in declared and complete:
                yield Hit(
                    op.doc,
                    op.pointer,
                    "{" + name + "}",
                    op.label,
                    op.label,
                    {"detail": f"{{{name}}} in the path has no `in: path` parameter"},
                )
        for name, param in declared.items():
            where = (param.use_doc, param.use_pointer)
            if name in in_template or where in reported:
                continue
            reported.add(where)
            yield Hit(
                param.use_doc,
                param.use_pointer,
                name,
                op.label,
                op.label,
                {"detail": f"path parameter `{name}` is not in the path template"},
            )


def unused_component(index: SpecIndex, rule: Rule) -> Iterator[Hit]:
    """Components nothing reachable refers to: refs from paths, webhooks, extensions and other
    used components, security requirement names and discriminator mappings all count."""
    if not index.operations and not index.section("webhooks") and not index.root.get("x-webhooks"):
        return  # a component library (no paths): its components are for other files
    sections = index.component_sections()
    usage = _Usage(index, sections)
    usage.run()
    for section in sections:
        mapping = index.section(*section)
        for name in mapping:
            key = (*section, str(name))
            if key in usage.used or str(name).startswith("x-"):
                continue
            pointer = _join("", *key)
            yield Hit(index.doc, pointer, str(name), "/".join(key), "/".join(key))


class _Usage:
    """Reachability of components from everything that is not a component section."""

    def __init__(self, index: SpecIndex, sections: list[tuple[str, ...]]) -> None:
        self.index = index
        self.sections = {s: len(s) + 1 for s in sections}
        self.used: set[KeyPath] = set()
        self._walked: set[tuple[str, str]] = set()
        self._stack: list[tuple[Any, str]] = []
        self._documents = {d.path: d for d in index.spec.documents()}

    def run(self) -> None:
        index = self.index
        skip = {s[0] for s in self.sections if len(s) == 1} | {"components"}
        for key, value in index.root.items():
            if key not in skip:
                self._stack.append((value, index.doc))
        if isinstance(index.root.get("security"), list):
            self._security_names(index.root["security"])
        components = index.section("components")
        for key, value in components.items():
            if ("components", key) not in self.sections:
                self._stack.append((value, index.doc))  # extensions of the components object
        while True:
            self._drain()
            if not self._implicit_subtypes():
                break

    def _drain(self) -> None:
        while self._stack:
            node, doc = self._stack.pop()
            if isinstance(node, dict):
                ref = node.get("$ref")
                if isinstance(ref, str):
                    self._reference(ref, doc)
                security = node.get("security")
                if isinstance(security, list):
                    self._security_names(security)
                discriminator = node.get("discriminator")
                if isinstance(discriminator, dict) and isinstance(
                    discriminator.get("mapping"), dict
                ):
                    for value in discriminator["mapping"].values():
                        if isinstance(value, str):
                            self._mapping(value, doc)
                self._stack.extend((v, doc) for v in node.values() if isinstance(v, dict | list))
            elif isinstance(node, list):
                self._stack.extend((v, doc) for v in node if isinstance(v, dict | list))

    def _reference(self, ref: str, doc: str) -> None:
        if ref.startswith("#"):
            self._mark(doc, unquote(ref[1:]))
        found = self.index.follow({"$ref": ref}, doc, "")
        if found is not None:
            self._mark(found[1], found[2])

    def _mapping(self, value: str, doc: str) -> None:
        if "#" in value or "/" in value or value.endswith((".yaml", ".yml", ".json")):
            self._reference(value, doc)
        elif not self.index.is_swagger:
            self._mark(doc, "/components/schemas/" + pointer_segment(value))

    def _security_names(self, requirements: list[Any]) -> None:
        section = (
            ("securityDefinitions",) if self.index.is_swagger else ("components", "securitySchemes")
        )
        for requirement in requirements:
            if isinstance(requirement, dict):
                self.used.update((*section, str(name)) for name in requirement)

    def _mark(self, doc: str, pointer: str) -> None:
        """Note a referenced node: a component becomes used and its whole body is walked."""
        segments = tuple(split_pointer(pointer))
        if doc == self.index.doc:
            for section, depth in self.sections.items():
                if segments[: depth - 1] == section and len(segments) >= depth:
                    segments = segments[:depth]
                    self.used.add(segments)
                    break
            else:
                return  # elsewhere in the spec: walked as part of the roots
        subtree = _join("", *segments)
        if (doc, subtree) in self._walked:
            return
        self._walked.add((doc, subtree))
        document = self._documents.get(doc)
        if document is None:
            self._documents = {d.path: d for d in self.index.spec.documents()}
            document = self._documents.get(doc)
        if document is None:
            return
        try:
            self._stack.append((document.lookup(subtree), doc))
        except KeyError:
            return

    def _implicit_subtypes(self) -> bool:
        """Schemas that extend (allOf) a used schema with a discriminator are its subtypes."""
        section = ("definitions",) if self.index.is_swagger else ("components", "schemas")
        schemas = self.index.section(*section)
        changed = False
        for name, schema in schemas.items():
            key = (*section, str(name))
            if key in self.used or not isinstance(schema, dict):
                continue
            parents = schema.get("allOf")
            for parent in parents if isinstance(parents, list) else ():
                ref = parent.get("$ref") if isinstance(parent, dict) else None
                if not isinstance(ref, str) or not ref.startswith("#"):
                    continue
                target = tuple(split_pointer(unquote(ref[1:])))
                target_node = self.index.section(*target)
                if target in self.used and "discriminator" in target_node:
                    self._mark(self.index.doc, _join("", *key))
                    changed = True
                    break
        return changed


# --- example validation ---------------------------------------------------------------------------

_LITERAL_ASSERTIONS = (
    "type",
    "enum",
    "const",
    "multipleOf",
    "maximum",
    "minimum",
    "maxLength",
    "minLength",
    "pattern",
    "maxItems",
    "minItems",
    "uniqueItems",
    "maxContains",
    "minContains",
    "maxProperties",
    "minProperties",
    "dependentRequired",
)


@dataclass(frozen=True, slots=True)
class ExampleSite:
    """An example value and the schema it claims to be an instance of."""

    value: Any
    doc: str
    pointer: str
    resource: str
    schema: tuple[Any, str, str]
    identity: tuple[str, str]
    """(doc, pointer) of the example value itself (a shared example is checked once per schema)."""
    json_media: bool = False
    """The example is for a JSON media type: a string holding the JSON document also counts."""


class SchemaBundle:
    """Reachable schemas converted to one offline JSON Schema 2020-12 resource.

    Every schema (by document and pointer) gets a slot in ``$defs``; ``$ref``s are rewritten to
    slots, so cross-file refs work and no URI is ever retrieved. A slot that reaches a ``$ref`` the
    loader cannot follow, or a schema too deep or malformed, is unknown.
    """

    def __init__(self, index: SpecIndex) -> None:
        self.index = index
        self.legacy = index.version in ("2.0", "3.0")
        self.slots: dict[tuple[str, str], str] = {}
        self.defs: dict[str, Any] = {}
        self.deps: dict[str, set[str]] = {}
        self.broken: set[str] = set()
        self._queue: list[tuple[str, Any, str, str]] = []
        self._registry: Any = None
        self._validators: dict[str, Any] = {}
        self._unknown: dict[str, bool] = {}

    def slot(self, node: Any, doc: str, pointer: str) -> str | None:
        """The slot of a schema (following its ``$ref``); None when the ref cannot be followed."""
        found = self.index.follow(node, doc, pointer)
        if found is None:
            return None
        node, doc, pointer = found
        key = (doc, pointer)
        if key not in self.slots:
            name = str(len(self.slots))
            self.slots[key] = name
            self.deps[name] = set()
            self._queue.append((name, node, doc, pointer))
        return self.slots[key]

    def validator(self, slot: str) -> Any:
        """A compiled validator for ``slot``, or None when its schema is unknown."""
        if self._queue:
            while self._queue:
                name, node, doc, pointer = self._queue.pop()
                self.defs[name] = self._convert(node, doc, pointer, name, 0)
            self._registry = None  # new slots: the next compile needs them registered
        if self._is_unknown(slot):
            return None
        if slot not in self._validators:
            if self._registry is None:
                try:
                    self._registry = jsonschema_rs.Registry(
                        [(_BUNDLE_URI, {"$defs": self.defs})], draft=jsonschema_rs.Draft202012
                    )
                except (ValueError, TypeError, OverflowError):
                    self._registry = False  # not JSON: no example of this spec is judged
            self._validators[slot] = self._compile(slot) if self._registry else None
        return self._validators[slot]

    def _compile(self, slot: str) -> Any:
        try:
            return jsonschema_rs.Draft202012Validator(
                {"$ref": f"{_BUNDLE_URI}#/$defs/{slot}"},
                registry=self._registry,
                validate_formats=False,
                offline=True,
            )
        except (ValueError, TypeError, OverflowError):
            return None  # a pattern or keyword value it cannot compile: unknown

    def _is_unknown(self, slot: str) -> bool:
        if slot in self._unknown:
            return self._unknown[slot]
        seen, stack, unknown = {slot}, [slot], False
        while stack and not unknown:
            current = stack.pop()
            if current in self.broken or self._unknown.get(current):
                unknown = True
            for dep in self.deps.get(current, ()):
                if dep not in seen:
                    seen.add(dep)
                    stack.append(dep)
        if not unknown:
            self._unknown.update(dict.fromkeys(seen, False))
        self._unknown[slot] = unknown
        return unknown

    def _convert(self, node: Any, doc: str, pointer: str, slot: str, depth: int) -> Any:
        if isinstance(node, bool):
            return node
        if not isinstance(node, dict) or depth > MAX_SCHEMA_DEPTH:
            self.broken.add(slot)
            return True
        if "$dynamicRef" in node or "$recursiveRef" in node:
            self.broken.add(slot)
        out: dict[str, Any] = {}
        ref = node.get("$ref")
        if isinstance(ref, str):
            target = self.slot(node, doc, pointer)
            if target is None:
                self.broken.add(slot)
                return True
            self.deps[slot].add(target)
            out["$ref"] = f"#/$defs/{target}"
            if self.legacy:
                return self._nullable(node, out)  # siblings of $ref do not count before 3.1
        for key in _LITERAL_ASSERTIONS:
            if key in node:
                out[key] = _plain(node[key])
        kind = out.get("type")
        if kind == "file":  # Swagger 2.0 uploads: any content
            del out["type"]
        elif isinstance(kind, list) and "file" in kind:
            out["type"] = [k for k in kind if k != "file"]
        for bound, exclusive in (("maximum", "exclusiveMaximum"), ("minimum", "exclusiveMinimum")):
            value = node.get(exclusive)
            if isinstance(value, bool):
                if value and bound in out:
                    out[exclusive] = out.pop(bound)
            elif exclusive in node:
                out[exclusive] = _plain(value)
        required = node.get("required")
        if isinstance(required, list):
            out["required"] = self._required(node, doc, required)

        def sub(value: Any, *segments: str | int) -> Any:
            at = _join(pointer, *segments)
            shared = self.slots.get((doc, at))
            if shared is not None and shared != slot:
                self.deps[slot].add(
                    shared
                )  # has its own slot (an example sits there): convert once
                return {"$ref": f"#/$defs/{shared}"}
            return self._convert(value, doc, at, slot, depth + 1)

        for key in _SCHEMA_MAPS:
            mapping = node.get(key)
            if isinstance(mapping, dict):
                out[key] = {name: sub(value, key, name) for name, value in mapping.items()}
        for key in _SCHEMA_SINGLES:
            value = node.get(key)
            if isinstance(value, dict | bool):
                out[key] = sub(value, key)
        for key in ("allOf", "anyOf", "oneOf", "prefixItems"):
            values = node.get(key)
            if isinstance(values, list) and values:
                out[key] = [sub(value, key, i) for i, value in enumerate(values)]
        items = node.get("items")
        if isinstance(items, list):  # the draft-4 tuple form
            out["prefixItems"] = [sub(value, "items", i) for i, value in enumerate(items)]
            additional = node.get("additionalItems")
            out.pop("additionalItems", None)
            out.pop("items", None)
            if isinstance(additional, dict | bool):
                out["items"] = sub(additional, "additionalItems")
        else:
            out.pop("additionalItems", None)
        if "oneOf" in out and isinstance(node.get("discriminator"), dict | str):
            out["anyOf"] = out.pop("oneOf")  # the discriminator, not shape, picks the branch
        return self._nullable(node, out)

    def _nullable(self, node: dict[str, Any], out: dict[str, Any]) -> dict[str, Any]:
        if node.get("nullable") is True or node.get("x-nullable") is True:
            return {"anyOf": [{"type": "null"}, out]}
        return out

    def _required(self, node: dict[str, Any], doc: str, required: list[Any]) -> list[Any]:
        """``required`` without properties marked readOnly/writeOnly (they are required in one
        direction only, and an example does not say which)."""
        properties = node.get("properties")
        if not isinstance(properties, dict):
            return [_plain(name) for name in required]
        kept = []
        for name in required:
            prop = properties.get(name) if isinstance(name, str) else None
            found = self.index.follow(prop, doc, "") if prop is not None else None
            target = found[0] if found else None
            if isinstance(target, dict) and (
                target.get("readOnly") is True or target.get("writeOnly") is True
            ):
                continue
            kept.append(_plain(name))
        return kept


def _plain(value: Any) -> Any:
    """Plain JSON types for the schema registry (YAML gives dict/list subclasses it refuses)."""
    if not isinstance(value, dict | list) or type(value) in (dict, list):
        return value
    try:
        return json.loads(json.dumps(value, allow_nan=False))
    except (ValueError, TypeError, RecursionError):
        return None


def _example_sites(index: SpecIndex) -> Iterator[ExampleSite]:
    """Examples next to a schema: schema-level, media type, parameter and header level."""
    visited: set[tuple[str, str]] = set()
    for node, doc, pointer, _label, resource in iter_schemas(index, _schema_roots(index), visited):
        schema = (node, doc, pointer)
        if "example" in node and node["example"] is not None:
            where = pointer + "/example"
            yield ExampleSite(node["example"], doc, where, resource, schema, (doc, where))
        examples = node.get("examples")
        if index.version == "3.1" and isinstance(examples, list):
            for i, value in enumerate(examples):
                where = f"{pointer}/examples/{i}"
                yield ExampleSite(value, doc, where, resource, schema, (doc, where))
    for holder, doc, pointer, kind in _example_holders(index):
        resource = resource_for(pointer)
        schema_node = holder.get("schema")
        if kind == "swagger-response":
            examples = holder.get("examples")
            if schema_node is None or not isinstance(examples, dict):
                continue
            for media, value in examples.items():
                where = _join(pointer, "examples", media)
                if _checkable(str(media), value):
                    yield ExampleSite(
                        value,
                        doc,
                        where,
                        resource,
                        (schema_node, doc, pointer + "/schema"),
                        (doc, where),
                        _is_json(str(media)),
                    )
            continue
        if schema_node is None:
            continue
        schema_site = (schema_node, doc, pointer + "/schema")
        media = kind if kind.startswith("media:") else ""
        if "example" in holder and holder["example"] is not None:
            where = pointer + "/example"
            if _checkable(media[6:], holder["example"]):
                json_media = bool(media) and _is_json(media[6:])
                yield ExampleSite(
                    holder["example"], doc, where, resource, schema_site, (doc, where), json_media
                )
        examples = holder.get("examples")
        if not isinstance(examples, dict):
            continue
        for name, raw in examples.items():
            where = _join(pointer, "examples", name)
            found = index.follow(raw, doc, where)
            if found is None or not isinstance(found[0], dict) or "value" not in found[0]:
                continue  # unresolvable, or externalValue only: nothing to check offline
            example, example_doc, example_pointer = found
            value = example["value"]
            if value is not None and _checkable(media[6:], value):
                identity = (example_doc, example_pointer + "/value")
                json_media = bool(media) and _is_json(media[6:])
                yield ExampleSite(value, doc, where, resource, schema_site, identity, json_media)


_FORM_MEDIA = ("application/x-www-form-urlencoded", "multipart/form-data")


def _checkable(media: str, value: Any) -> bool:
    """Examples of JSON media types (and structured ones of form types) are instances of the
    schema; others (XML, YAML, text, a serialised form) are documents we cannot judge."""
    if not media:
        return True
    media = media.lower().split(";", 1)[0].strip()
    if _is_json(media):
        return True
    return media in _FORM_MEDIA and not isinstance(value, str)


def _is_json(media: str) -> bool:
    media = media.lower()
    return "json" in media or media.startswith("*/*")


def _parsed(value: Any) -> Any:
    """A JSON document written as a string (a common habit): its value, else None."""
    if not isinstance(value, str) or value.lstrip()[:1] not in ("{", "["):
        return None
    try:
        return json.loads(value)
    except (ValueError, RecursionError):
        return None


def _schema_roots(index: SpecIndex) -> Iterator[SchemaSite]:
    section = ("definitions",) if index.is_swagger else ("components", "schemas")
    base = _join("", *section)
    for name, node in index.section(*section).items():
        yield node, index.doc, _join(base, name), str(name), resource_for(_join(base, name))
    for holder, doc, pointer, _kind in _example_holders(index):
        if "schema" in holder:
            yield holder["schema"], doc, pointer + "/schema", "", resource_for(pointer)


def _example_holders(index: SpecIndex) -> Iterator[tuple[dict[str, Any], str, str, str]]:
    """(node, doc, pointer, kind) of parameters, headers, media types and 2.0 responses that may
    carry a schema and examples; each node once."""
    seen: set[tuple[str, str]] = set()

    def once(raw: Any, doc: str, pointer: str) -> tuple[dict[str, Any], str, str] | None:
        found = index.follow(raw, doc, pointer)
        if found is None or not isinstance(found[0], dict) or (found[1], found[2]) in seen:
            return None
        seen.add((found[1], found[2]))
        return found

    def with_media(
        raw: Any, doc: str, pointer: str, kind: str
    ) -> Iterator[tuple[dict[str, Any], str, str, str]]:
        found = once(raw, doc, pointer)
        if found is None:
            return
        node, node_doc, node_pointer = found
        yield node, node_doc, node_pointer, kind
        for media, media_node, media_pointer in _media_types(node, node_doc, node_pointer):
            yield media_node, node_doc, media_pointer, "media:" + media

    def response(
        raw: Any, doc: str, pointer: str
    ) -> Iterator[tuple[dict[str, Any], str, str, str]]:
        kind = "swagger-response" if index.is_swagger else "response"
        for node, node_doc, node_pointer, node_kind in with_media(raw, doc, pointer, kind):
            yield node, node_doc, node_pointer, node_kind
            if node_kind == kind and isinstance(node.get("headers"), dict):
                for name, header in node["headers"].items():
                    yield from with_media(
                        header, node_doc, _join(node_pointer, "headers", name), "header"
                    )

    for op in index.operations:
        params, _ = index.parameters(op)
        for param in params:
            yield from with_media(param.node, param.doc, param.pointer, "parameter")
        body = op.node.get("requestBody")
        if body is not None:
            yield from with_media(body, op.doc, op.pointer + "/requestBody", "body")
        responses = op.node.get("responses")
        if isinstance(responses, dict):
            for code, raw in responses.items():
                if not str(code).startswith("x-"):
                    yield from response(raw, op.doc, _join(op.pointer, "responses", code))
    if index.is_swagger:
        for name, raw in index.section("responses").items():
            yield from response(raw, index.doc, _join("/responses", name))
        for name, raw in index.section("parameters").items():
            yield from with_media(raw, index.doc, _join("/parameters", name), "parameter")
        return
    components = index.section("components")
    for section, kind in (
        ("parameters", "parameter"),
        ("headers", "header"),
        ("requestBodies", "body"),
    ):
        mapping = components.get(section)
        if isinstance(mapping, dict):
            for name, raw in mapping.items():
                yield from with_media(raw, index.doc, _join("/components", section, name), kind)
    responses = components.get("responses")
    if isinstance(responses, dict):
        for name, raw in responses.items():
            yield from response(raw, index.doc, _join("/components/responses", name))


def example_invalid(index: SpecIndex, rule: Rule) -> Iterator[Hit]:
    """Examples that do not validate against their schema (unknown ones are skipped)."""
    bundle = SchemaBundle(index)
    sites = [(site, bundle.slot(*site.schema)) for site in _example_sites(index)]
    checked: set[tuple[tuple[str, str], str]] = set()
    for site, slot in sites:
        if slot is None or (site.identity, slot) in checked:
            continue
        checked.add((site.identity, slot))
        validator = bundle.validator(slot)
        if validator is None:
            continue
        try:
            error = next(iter(validator.iter_errors(site.value)), None)
            parsed = _parsed(site.value) if error is not None and site.json_media else None
            if parsed is not None and validator.is_valid(parsed):
                continue
        except (ValueError, TypeError, OverflowError):
            continue  # a value JSON cannot hold (NaN keys, huge ints): not judged
        if error is None:
            continue
        where = "".join("/" + pointer_segment(p) for p in error.instance_path) or "(root)"
        yield Hit(
            site.doc,
            site.pointer,
            _short(f"{where}: {error.message}"),
            site.resource,
            split_pointer(site.pointer)[-1] if site.pointer else "",
            {"error": error.message, "at": where},
        )


CHECKS: dict[str, Callable[[SpecIndex, Rule], Iterator[Hit]]] = {
    "openapi-remote-ref": remote_ref,
    "openapi-operation-id-duplicate": operation_id_duplicate,
    "openapi-path-param-undeclared": path_param_undeclared,
    "openapi-unused-component": unused_component,
    "openapi-example-invalid": example_invalid,
}
"""Registered Python checks, by the name a rule file gives in ``python:``."""


# --- rules and the entry point --------------------------------------------------------------------


def load_openapi_rules(config: Config) -> list[Rule]:
    """The built-in OpenAPI rules plus OpenAPI rules in ``rules.dirs``, selected per the config
    (``rules.disable``, ``rules.only``, ``rules.severity``), like the manifest linter."""
    rules = load_rules(
        builtin_rule_dirs(BUILTIN_PACKS["openapi"]),
        config.rules.dirs,
        disable=config.rules.disable,
        only=config.rules.only,
        severity=config.rules.severity,
        domain="openapi",
    )
    _check_rules(rules)
    return rules


def _check_rules(rules: list[Rule]) -> None:
    if not rules:
        raise RuleError("no rule is enabled: an empty rule set would pass everything")
    for rule in rules:
        if rule.domain != "openapi":
            raise RuleError(f"rule {rule.id!r} is not an OpenAPI rule", path=rule.source)
        if rule.python is not None and rule.python not in CHECKS:
            raise RuleError(f"unknown python check {rule.python!r}", path=rule.source)
        internal = rule.params.get("internal_severity")
        if rule.python == "openapi-remote-ref" and internal is not None:
            try:
                Severity.parse(str(internal))
            except ValueError as exc:
                raise RuleError(f"params.internal_severity: {exc}", path=rule.source) from None
        for check in rule.checks:
            if check.target not in TARGETS:
                raise RuleError(f"unknown OpenAPI target {check.target!r}", path=rule.source)


def lint(
    spec: Spec, *, boundary: Boundary | None = None, rules: list[Rule] | None = None
) -> list[Finding]:
    """Every finding of ``rules`` (the built-in set by default) on ``spec``, sorted by place."""
    boundary = boundary or Boundary()
    if rules is None:
        rules = load_openapi_rules(Config())
    _check_rules(rules)
    index = SpecIndex(spec, boundary)
    formats = formats_for(boundary)
    targets: dict[str, list[Target]] = {}
    findings: list[Finding] = []
    for rule in rules:
        if rule.python is not None:
            findings += (_hit_finding(rule, index, hit) for hit in CHECKS[rule.python](index, rule))
        for check in rule.checks:
            try:
                validator = jsonschema_rs.validator_for(
                    check.condition, formats=formats, validate_formats=True
                )
            except ValueError as exc:
                raise RuleError(
                    f"invalid condition: {exc}".splitlines()[0], path=rule.source
                ) from None
            if check.target not in targets:
                targets[check.target] = list(TARGETS[check.target](index))
            for target in targets[check.target]:
                try:
                    if not validator.is_valid(target.value):
                        findings += list(_target_findings(rule, index, validator, target))
                except ValueError:
                    continue  # nested deeper than the validator converts: not judged
    return sorted(_distinct(findings), key=Finding.sort_key)


def _target_findings(
    rule: Rule, index: SpecIndex, validator: Any, target: Target
) -> Iterator[Finding]:
    seen: set[str] = set()
    for error in validator.iter_errors(target.value):
        relative = [str(p) for p in error.instance_path]
        pointer = target.pointer_of(relative)
        if pointer in seen:
            continue
        seen.add(pointer)
        value = error.instance
        if not relative and target.synthetic and not isinstance(target.value, str):
            value = target.label  # a built view: name the operation, not the whole view
        hit = Hit(target.doc, pointer, _short(value), target.resource, target.label)
        yield _hit_finding(rule, index, hit)
        if len(seen) >= MAX_ERRORS_PER_TARGET:
            return


class _Vars(dict[str, Any]):
    def __missing__(self, key: str) -> str:
        return "{" + key + "}"


def _hit_finding(rule: Rule, index: SpecIndex, hit: Hit) -> Finding:
    evidence = "(redacted)" if rule.redact_evidence else hit.evidence
    variables = _Vars(label=hit.label, value=evidence, resource=hit.resource, **hit.variables)
    try:
        message = rule.message.format_map(variables)
    except (ValueError, IndexError, AttributeError, KeyError):
        message = rule.message
    try:
        line = index.spec.line_of(hit.pointer, hit.doc)
    except RecursionError:
        line = None  # a pointer thousands of levels deep: the finding stands without a line
    location = Location(
        path=hit.doc,
        line=line,
        resource=hit.resource,
        pointer=hit.pointer,
    )
    return Finding(
        rule_id=rule.id,
        severity=hit.severity or rule.severity,
        title=rule.title,
        message=message,
        location=location,
        evidence=evidence,
        remediation=rule.remediation,
        compliance=rule.compliance,
    )


def _distinct(findings: list[Finding]) -> list[Finding]:
    """Findings of one rule at one place differ by evidence: give each its own fingerprint."""
    counts: dict[str, int] = {}
    for finding in findings:
        counts[finding.fingerprint] = counts.get(finding.fingerprint, 0) + 1
    return [
        f
        if counts[f.fingerprint] == 1
        else replace(
            f,
            fingerprint=fingerprint(
                f.rule_id, replace(f.location, pointer=f"{f.location.pointer}|{f.evidence}")
            ),
        )
        for f in findings
    ]
