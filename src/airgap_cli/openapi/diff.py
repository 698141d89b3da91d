"""Every change between two versions of an OpenAPI spec, with oasdiff's check ids and levels.

Why this shape: the lead's CLI and the findings layer only need a flat list of ``Change``s; the
work is in matching like with like (paths whose parameters were renamed, media types that only
gained a charset, 2.0 body parameters that are 3.x request bodies) and then asking
``schema_diff`` about each schema pair. A change in a shared component surfaces once, listing
every operation it reaches, because findings are aggregated on (id, message, location).
"""

from __future__ import annotations

import datetime
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any

from airgap_cli.openapi.checks import Catalogue, load_catalogue
from airgap_cli.openapi.loader import Spec
from airgap_cli.openapi.schema_diff import (
    HAND_WRITTEN_BOUNDS,
    LEAF,
    MEDIA,
    NAME,
    STATUS,
    X_ENUM,
    Context,
    Hit,
    Node,
    Resolver,
    SchemaChecker,
    SchemaDiff,
    SchemaDiffer,
    bound_edits,
    breaking_type_change,
    comparable,
    escape,
    exclusive_pair,
    extensible_enum_removed,
    false_schema_id,
    gained_null,
    go_uint,
    go_value,
    list_of_types_change,
    lost_null,
    nullability,
    show_bound,
    type_args,
    type_change,
    walk_tree,
)

METHODS = ("get", "put", "post", "delete", "options", "head", "patch", "trace")
"""Operation keys of a path item, in oasdiff's order of consideration."""

_TEMPLATE = re.compile(r"\{[^}/]*\}")
_PARAM_SCHEMA_KEYS = frozenset(
    {
        "type",
        "format",
        "items",
        "enum",
        "default",
        "maximum",
        "minimum",
        "exclusiveMaximum",
        "exclusiveMinimum",
        "maxLength",
        "minLength",
        "pattern",
        "maxItems",
        "minItems",
        "uniqueItems",
        "multipleOf",
    }
)
"""Keywords a 2.0 non-body parameter or header shares with a schema."""
_FORM_MEDIA = "\x00media"
"""Key of the media type chosen for a 2.0 form, kept inside its synthetic schema."""


@dataclass(frozen=True, slots=True)
class Change:
    """One change between OLD and NEW, in oasdiff's vocabulary."""

    id: str
    """oasdiff check id, e.g. ``request-property-max-length-decreased``."""
    level: str
    """``error`` (breaking), ``warning`` (potentially breaking) or ``info``."""
    message: str
    """oasdiff's sentence for the change (ignore files match on it)."""
    operations: tuple[str, ...]
    """Every affected operation as ``METHOD /path`` (NEW spelling; OLD when removed), sorted."""
    doc: str
    """File holding the changed node (NEW spec, or OLD's when the node is gone)."""
    pointer: str
    """JSON pointer of the changed node in ``doc``."""
    line: int | None
    side: str
    """``new`` or ``old``: which version ``doc``/``pointer`` refer to."""
    variants: tuple[tuple[str, str], ...] = ()
    """(operation, message) pairs, sorted: a shared node reads differently per use (the
    status, the property path), and ignore files match each operation's own sentence.
    ``message`` is the first variant's."""

    def messages_for(self, operation: str) -> list[str]:
        """The sentences this change has for one of its operations."""
        found = [message for op, message in self.variants if op == operation]
        return found or [self.message]


def compare(old: Spec, new: Spec) -> list[Change]:
    """All changes from ``old`` to ``new``; InputError when a needed remote $ref is unmapped."""
    return _Comparison(old, new, load_catalogue()).run()


# -- a version-neutral view of a spec (2.0 is read as the 3.x it converts to) -----------------


@dataclass(slots=True)
class _Body:
    node: Node
    required: bool
    content: dict[str, Node | None]
    """media type -> schema (None when the media type has no schema)."""


@dataclass(slots=True)
class _Response:
    node: Node
    content: dict[str, Node | None]
    headers: dict[str, Node] = field(default_factory=dict)


class _View:
    """Reads paths, operations, parameters, bodies and responses of one spec."""

    def __init__(self, spec: Spec, resolver: Resolver) -> None:
        self.spec = spec
        self.r = resolver
        self.swagger = spec.version == "2.0"
        self.root = Node(spec.data, spec.path, "")

    def paths(self) -> dict[str, Node]:
        paths = self.r.child(self.root, "paths")
        if paths is None or not isinstance(paths.value, dict):
            return {}
        return {
            name: item
            for name, item in self.r.entries(self.root, "paths").items()
            if name.startswith("/") and isinstance(item.value, dict)
        }

    def operations(self, path_item: Node) -> dict[str, Node]:
        out: dict[str, Node] = {}
        for method in METHODS:
            op = self.r.child(path_item, method)
            if op is not None and isinstance(op.value, dict):
                out[method.upper()] = op
        return out

    def parameters(self, owner: Node) -> list[Node]:
        """The resolved parameter objects listed directly on an operation or path item."""
        raw = owner.data.get("parameters")
        if not isinstance(raw, list):
            return []
        out = []
        for index in range(len(raw)):
            param = self.r.item(owner, "parameters", index)
            self.r.require(param)
            data = param.data
            if isinstance(data.get("name"), str) and isinstance(data.get("in"), str):
                out.append(param)
        return out

    def plain_parameters(self, owner: Node) -> list[Node]:
        """Parameters that stay parameters (2.0 body/formData ones become the request body)."""
        return [p for p in self.parameters(owner) if p.data["in"] not in ("body", "formData")]

    def param_schema(self, param: Node) -> Node | None:
        if self.swagger:
            return _schema_view(param)
        schema = param.data.get("schema")
        if not isinstance(schema, dict) and schema is not False:  # `false`: accepts nothing
            return None
        return self.r.child(param, "schema")

    def body_node(self, op: Node) -> Node | None:
        """The node a request body is read from (2.0: the body parameter or the form)."""
        if self.swagger:
            params = self.parameters(op)
            body = next((p for p in params if p.data["in"] == "body"), None)
            if body is not None:
                return body
            form = [p for p in params if p.data["in"] == "formData"]
            return self._form_schema(op, form) if form else None
        body = self.r.child(op, "requestBody")
        return body if body is not None and isinstance(body.value, dict | str) else None

    def request_body(self, op: Node, body: Node) -> _Body:
        """The request body read from ``body_node``'s node."""
        self.r.require(body)
        if not self.swagger:
            return _Body(body, body.data.get("required") is True, self._content(body))
        if body.data.get("in") == "body":
            content = self._swagger_content(body, op, "consumes")
            return _Body(body, body.data.get("required") is True, content)
        media = str(body.data.get(_FORM_MEDIA, "application/x-www-form-urlencoded"))
        return _Body(body, bool(body.data.get("required")), {media: body})

    def responses(self, op: Node) -> dict[str, Node]:
        """The resolved response objects of an operation, by status."""
        return {
            status: response
            for status, response in self.r.entries(op, "responses").items()
            if isinstance(response.value, dict)
        }

    def response(self, response: Node, op: Node) -> _Response:
        """A response's content (media type -> schema) and headers."""
        self.r.require(response)
        if self.swagger:
            content = self._swagger_content(response, op, "produces")
        else:
            content = self._content(response)
        headers = {
            name: header
            for name, header in self.r.entries(response, "headers").items()
            if isinstance(header.value, dict)
        }
        return _Response(response, content, headers)

    def header_schema(self, header: Node) -> Node | None:
        if self.swagger:
            return _schema_view(header)
        return (
            self.r.child(header, "schema") if isinstance(header.data.get("schema"), dict) else None
        )

    def _content(self, owner: Node) -> dict[str, Node | None]:
        out: dict[str, Node | None] = {}
        for media, entry in self.r.entries(owner, "content").items():
            if not isinstance(entry.value, dict):
                continue
            schema = entry.data.get("schema")
            has_schema = isinstance(schema, dict) or schema is False  # `false`: accepts nothing
            out[media] = self.r.child(entry, "schema") if has_schema else None
        return out

    def _media_types(self, op: Node, key: str) -> list[str]:
        for source in (op.data.get(key), self.spec.data.get(key)):
            if isinstance(source, list) and any(isinstance(m, str) for m in source):
                return [m for m in source if isinstance(m, str)]
        return ["application/json"]

    def _swagger_content(self, owner: Node, op: Node, key: str) -> dict[str, Node | None]:
        if not isinstance(owner.data.get("schema"), dict):
            return {}
        schema = self.r.child(owner, "schema")
        return dict.fromkeys(self._media_types(op, key), schema)

    def _form_schema(self, op: Node, form: list[Node]) -> Node:
        """2.0 formData parameters as the object schema of a form body (kin's conversion)."""
        properties = {p.data["name"]: _schema_view(p) for p in form}
        required = [p.data["name"] for p in form if p.data.get("required") is True]
        synthetic: dict[str, Any] = {"type": "object", "properties": properties}
        if required:
            synthetic["required"] = required
        files = any(p.data.get("type") == "file" for p in form)
        multipart = files or "multipart/form-data" in self._media_types(op, "consumes")
        synthetic[_FORM_MEDIA] = (
            "multipart/form-data" if multipart else "application/x-www-form-urlencoded"
        )
        return Node(synthetic, op.doc, f"{op.pointer}/parameters")


def _schema_view(owner: Node) -> Node:
    """A 2.0 parameter or header read as the schema it carries inline (same location)."""
    data = owner.data
    view = {k: v for k, v in data.items() if k in _PARAM_SCHEMA_KEYS}
    if view.get("type") == "file":
        view["type"] = "string"
        view["format"] = "binary"
    return Node(view, owner.doc, owner.pointer, owner.ref)


# -- matching ---------------------------------------------------------------------------------


def _normalise(path: str) -> tuple[str, list[str]]:
    names = [m[1:-1] for m in _TEMPLATE.findall(path)]
    return _TEMPLATE.sub("{}", path), names


def _match_paths(
    old: dict[str, Node], new: dict[str, Node]
) -> tuple[list[tuple[str, str, dict[str, str]]], list[str], list[str]]:
    """(old, new, old->new param names) pairs, then paths only in OLD, then only in NEW."""
    pairs: list[tuple[str, str, dict[str, str]]] = []
    taken: set[str] = set()
    by_shape: dict[str, list[str]] = {}
    for path in new:
        by_shape.setdefault(_normalise(path)[0], []).append(path)
    removed: list[str] = []
    for path in old:
        if path in new:
            pairs.append((path, path, {}))
            taken.add(path)
            continue
        shape, names = _normalise(path)
        match = next((p for p in by_shape.get(shape, []) if p not in old and p not in taken), None)
        if match is None:
            removed.append(path)
            continue
        taken.add(match)
        pairs.append((path, match, dict(zip(names, _normalise(match)[1], strict=True))))
    added = [p for p in new if p not in taken]
    return pairs, removed, added


def _media_parts(name: str) -> tuple[str, str, list[str]] | None:
    base = name.split(";", 1)[0].strip().lower()
    if base.count("/") != 1:
        return None
    kind, subtype = (part.strip() for part in base.split("/"))
    if not kind or not subtype:
        return None
    pieces = subtype.split("+")
    if any(not p.strip() for p in pieces):
        return None
    return kind, pieces[0].strip(), [p.strip() for p in pieces[1:]]


def _media_params(name: str) -> dict[str, str]:
    """A media type's parameters (``charset=utf-8``, ``q=1``), names lower-cased."""
    params: dict[str, str] = {}
    for part in name.split(";")[1:]:
        key, _, value = part.partition("=")
        if key.strip():
            params[key.strip().lower()] = value.strip()
    return params


def _media_contained(first: str, second: str) -> bool:
    """oasdiff's IsMediaTypeNameContained: ``second`` refines ``first``."""
    one, two = _media_parts(first), _media_parts(second)
    if one is None or two is None or one[0] != two[0]:
        return False
    if not one[2] and two[2] and two[2][-1] == one[1]:
        return True
    if one[1] != two[1] or len(two[2]) < len(one[2]):
        return False
    return two[2][: len(one[2])] == one[2]


def _match_media(
    old: dict[str, Node | None], new: dict[str, Node | None]
) -> tuple[list[tuple[str, str]], list[str], list[str]]:
    """(old, new) media type pairs (exact, then equivalent names), removed, added."""
    pairs = [(m, m) for m in old if m in new]
    removed = [m for m in old if m not in new]
    added: list[str] = []
    for name in (m for m in new if m not in old):
        partner = next(
            (d for d in removed if _media_contained(name, d) or _media_contained(d, name)), None
        )
        if partner is None:
            added.append(name)
        else:
            removed.remove(partner)
            pairs.append((partner, name))
    return pairs, removed, added


def _is_json(media: str) -> bool:
    return media == "application/json" or (
        media.startswith("application/vnd.") and media.endswith("+json")
    )


# -- the comparison ----------------------------------------------------------------------------


@dataclass(slots=True)
class _Entry:
    change_id: str
    doc: str
    pointer: str
    side: str
    messages: dict[str, set[str]]
    """operation ("" for changes outside paths) -> the sentences it gets."""


_STABILITY = ("draft", "alpha", "beta", "stable")
_STABILITY_RANK = {"": -1, "draft": 0, "alpha": 1, "beta": 2, "stable": 3}
"""Order of x-stability-level values; dropping the level of a versioned endpoint breaks."""


def _stability(op: Node) -> str | None:
    """``x-stability-level`` ("" when absent, None when not a known level)."""
    value = op.data.get("x-stability-level")
    if value is None:
        return ""
    return value if value in _STABILITY else None


def _sunset(owner: Node) -> tuple[bool, datetime.date | None]:
    """(has x-sunset, its date or None when it does not parse)."""
    value = owner.data.get("x-sunset")
    if value is None:
        return False, None
    if isinstance(value, datetime.datetime):
        return True, value.date()
    if isinstance(value, datetime.date):
        return True, value
    if isinstance(value, str):
        text = value.strip()
        for candidate in (text, text[:10] if "T" in text else ""):
            try:
                return True, datetime.date.fromisoformat(candidate)
            except ValueError:
                continue
    return True, None


def _security_ids(raw: Any) -> tuple[dict[str, dict[str, list[str]]], bool]:
    """Security requirements keyed by their scheme names; (map, present)."""
    if not isinstance(raw, list):
        return {}, False
    out: dict[str, dict[str, list[str]]] = {}
    for requirement in raw:
        if not isinstance(requirement, dict):
            continue
        schemes = {
            str(k): [s for s in v if isinstance(s, str)] if isinstance(v, list) else []
            for k, v in requirement.items()
        }
        out[" AND ".join(sorted(schemes))] = schemes
    return out, True


class _Comparison:
    """Walks both specs once and records every Change."""

    def __init__(self, old: Spec, new: Spec, catalogue: Catalogue) -> None:
        self.old_spec, self.new_spec = old, new
        self.catalogue = catalogue
        old_r, new_r = Resolver(old), Resolver(new)
        self.old = _View(old, old_r)
        self.new = _View(new, new_r)
        self.differ = SchemaDiffer(old_r, new_r)
        self.checker = SchemaChecker(self.differ)
        self._entries: dict[tuple[str, ...], _Entry] = {}

    # -- recording ----------------------------------------------------------------------------

    def emit(
        self,
        change_id: str,
        args: Iterable[str],
        op: str | None,
        node: Node,
        side: str,
        identity: Iterable[str] | None = None,
    ) -> None:
        """Record one change at ``node`` (of the ``side`` spec), for operation ``op``.

        ``identity`` is the part of ``args`` that tells this change from another at the same
        node (by default all of them); the rest is context of the use (status, property path).
        """
        args = tuple(args)
        message = self.catalogue.render(change_id, args)
        key = (change_id, node.doc, node.pointer, side, *(args if identity is None else identity))
        entry = self._entries.get(key)
        if entry is None:
            entry = _Entry(change_id, node.doc, node.pointer, side, {})
            self._entries[key] = entry
        entry.messages.setdefault(op or "", set()).add(message)

    def run(self) -> list[Change]:
        self._paths()
        self._components()
        self._global_security()
        return self._changes()

    def _changes(self) -> list[Change]:
        out: list[Change] = []
        for entry in self._entries.values():
            spec = self.new_spec if entry.side == "new" else self.old_spec
            variants = tuple(
                sorted((op, message) for op, texts in entry.messages.items() for message in texts)
            )
            out.append(
                Change(
                    id=entry.change_id,
                    level=self.catalogue.level(entry.change_id),
                    message=variants[0][1],
                    operations=tuple(sorted(op for op in entry.messages if op)),
                    doc=entry.doc,
                    pointer=entry.pointer,
                    line=spec.line_of(entry.pointer, entry.doc),
                    side=entry.side,
                    variants=variants,
                )
            )
        out.sort(key=lambda c: (c.operations[:1], c.id, c.message, c.doc, c.pointer))
        return out

    # -- paths and operations -------------------------------------------------------------------

    def _paths(self) -> None:
        old_paths, new_paths = self.old.paths(), self.new.paths()
        pairs, removed, added = _match_paths(old_paths, new_paths)
        for path in removed:
            for method, op in self.old.operations(old_paths[path]).items():
                stability = _stability(op)
                if stability is None or stability in ("alpha", "draft"):
                    continue
                self._removal(op, f"{method} {path}", "api-path")
        for path in added:
            for method, op in self.new.operations(new_paths[path]).items():
                self.emit("endpoint-added", (), f"{method} {path}", op, "new")
        for old_path, new_path, renames in pairs:
            self._path_pair(old_paths[old_path], new_paths[new_path], new_path, renames)

    def _removal(self, op: Node, label: str, prefix: str) -> None:
        """api-path-removed-* / api-removed-* for an operation that is gone."""
        if op.data.get("deprecated") is not True:
            self.emit(f"{prefix}-removed-without-deprecation", (), label, op, "old")
            return
        has_sunset, date = _sunset(op)
        if not has_sunset:
            self.emit(f"{prefix}-removed-with-deprecation", (), label, op, "old")
        elif date is None:
            value = str(op.data.get("x-sunset"))
            self.emit(
                "api-path-sunset-parse", (f"failed to parse time {value!r}",), label, op, "old"
            )
        elif datetime.date.today() < date:
            self.emit(f"{prefix}-removed-before-sunset", (date.isoformat(),), label, op, "old")

    def unchanged(self, old: Node, new: Node) -> bool:
        """Same text and same referenced nodes (and, for 2.0, the same media-type defaults)."""
        if not self.differ.sameness.same(old, new):
            return False
        if not (self.old.swagger or self.new.swagger):
            return True
        old_root, new_root = self.old_spec.data, self.new_spec.data
        return all(old_root.get(k) == new_root.get(k) for k in ("consumes", "produces"))

    def _path_pair(
        self, old_item: Node, new_item: Node, path: str, renames: dict[str, str]
    ) -> None:
        if self.unchanged(old_item, new_item):
            return
        self.old.r.require(old_item)
        self.new.r.require(new_item)
        old_ops, new_ops = self.old.operations(old_item), self.new.operations(new_item)
        self._path_level_params(old_item, new_item, path, new_ops)
        for method, op in old_ops.items():
            if method not in new_ops:
                self._removal(op, f"{method} {path}", "api")
        for method, op in new_ops.items():
            if method not in old_ops:
                self.emit("endpoint-added", (), f"{method} {path}", op, "new")
        for method in sorted(old_ops.keys() & new_ops.keys()):
            label = f"{method} {path}"
            if self._stability_skips(old_ops[method], new_ops[method], label):
                continue
            _Operation(self, old_ops[method], new_ops[method], label, renames).run()

    def _stability_skips(self, old: Node, new: Node, label: str) -> bool:
        """Report a lowered x-stability-level; draft/alpha operations get no other checks."""
        before, after = _stability(old), _stability(new)
        if before is None or after is None:
            return False
        if _STABILITY_RANK[after] < _STABILITY_RANK[before]:
            where = (
                new if "x-stability-level" not in new.data else _keyword(new, "x-stability-level")
            )
            self.emit("api-stability-decreased", (before, after), label, where, "new")
            return False
        return after in ("draft", "alpha")

    def _path_level_params(
        self, old_item: Node, new_item: Node, path: str, new_ops: dict[str, Node]
    ) -> None:
        """A parameter added to a path item applies to all of its operations."""
        old_keys = {(p.data["in"], p.data["name"]) for p in self.old.plain_parameters(old_item)}
        for param in self.new.plain_parameters(new_item):
            where, name = param.data["in"], param.data["name"]
            if where == "path" or (where, name) in old_keys:
                continue
            required = param.data.get("required") is True
            check = f"new-{'required' if required else 'optional'}-request-default-parameter-to-existing-path"
            for method in new_ops:
                self.emit(check, (where, name), f"{method} {path}", param, "new")

    # -- components and global security ------------------------------------------------------

    def _components(self) -> None:
        self._schemas_removed()
        self._security_schemes()
        self._webhooks()

    def _webhooks(self) -> None:
        """3.1 webhooks added or removed by name (a removed one breaks its subscribers)."""
        old = self.old.r.entries(self.old.root, "webhooks")
        new = self.new.r.entries(self.new.root, "webhooks")
        for name in sorted(old.keys() - new.keys()):
            self.emit("webhook-removed", (name,), None, old[name], "old")
        for name in sorted(new.keys() - old.keys()):
            self.emit("webhook-added", (name,), None, new[name], "new")

    def _component_map(self, view: _View, swagger_key: str, key: str) -> dict[str, Node]:
        if view.swagger:
            return view.r.entries(view.root, swagger_key)
        components = view.r.child(view.root, "components")
        return view.r.entries(components, key) if components is not None else {}

    def _schemas_removed(self) -> None:
        old = self._component_map(self.old, "definitions", "schemas")
        new = self._component_map(self.new, "definitions", "schemas")
        for name in sorted(old.keys() - new.keys()):
            self.emit("api-schema-removed", (name,), None, old[name], "old")

    def _security_schemes(self) -> None:
        old = self._component_map(self.old, "securityDefinitions", "securitySchemes")
        new = self._component_map(self.new, "securityDefinitions", "securitySchemes")
        for name in sorted(old.keys() - new.keys()):
            self.emit("api-security-component-removed", (name,), None, old[name], "old")
        for name in sorted(new.keys() - old.keys()):
            self.emit("api-security-component-added", (name,), None, new[name], "new")
        for name in sorted(old.keys() & new.keys()):
            self._security_scheme(name, old[name], new[name])

    def _security_scheme(self, name: str, old: Node, new: Node) -> None:
        if self.differ.sameness.same(old, new):
            return
        self.old.r.require(old)
        self.new.r.require(new)
        a, b = old.data, new.data
        if a.get("type") != b.get("type"):
            args = (name, go_value(a.get("type")), go_value(b.get("type")))
            self.emit("api-security-component-type-changed", args, None, new, "new")
        flows_a, flows_b = _oauth_flows(a), _oauth_flows(b)
        for flow in sorted(flows_a.keys() & flows_b.keys()):
            fa, fb = flows_a[flow], flows_b[flow]
            for key, check in (
                ("authorizationUrl", "api-security-component-oauth-url-changed"),
                ("tokenUrl", "api-security-component-oauth-token-url-changed"),
            ):
                if fa.get(key) != fb.get(key):
                    args = (name, go_value(fa.get(key)), go_value(fb.get(key)))
                    self.emit(check, args, None, new, "new")
            scopes_a, scopes_b = _scopes(fa), _scopes(fb)
            for scope in sorted(scopes_b.keys() - scopes_a.keys()):
                self.emit(
                    "api-security-component-oauth-scope-added", (name, scope), None, new, "new"
                )
            for scope in sorted(scopes_a.keys() - scopes_b.keys()):
                self.emit(
                    "api-security-component-oauth-scope-removed", (name, scope), None, old, "old"
                )
            for scope in sorted(scopes_a.keys() & scopes_b.keys()):
                if scopes_a[scope] != scopes_b[scope]:
                    changed = (name, scope, go_value(scopes_a[scope]), go_value(scopes_b[scope]))
                    self.emit(
                        "api-security-component-oauth-scope-changed", changed, None, new, "new"
                    )

    def _global_security(self) -> None:
        old, _ = _security_ids(self.old_spec.data.get("security"))
        new, _ = _security_ids(self.new_spec.data.get("security"))
        old_node = Node(None, self.old_spec.path, "/security")
        new_node = Node(None, self.new_spec.path, "/security")
        for key in new.keys() - old.keys():
            if key:
                self.emit("api-global-security-added", (key,), None, new_node, "new")
        for key in old.keys() - new.keys():
            if key:
                self.emit("api-global-security-removed", (key,), None, old_node, "old")
        for key in old.keys() & new.keys():
            for scheme, scopes_b in new[key].items():
                scopes_a = old[key].get(scheme, [])
                for scope in (s for s in scopes_b if s not in scopes_a):
                    self.emit(
                        "api-global-security-scope-added", (scope, scheme), None, new_node, "new"
                    )
                for scope in (s for s in scopes_a if s not in scopes_b):
                    self.emit(
                        "api-global-security-scope-removed", (scope, scheme), None, old_node, "old"
                    )


def _oauth_flows(data: dict[str, Any]) -> dict[str, dict[str, Any]]:
    flows = data.get("flows")
    if isinstance(flows, dict):
        return {str(k): v for k, v in flows.items() if isinstance(v, dict)}
    if isinstance(data.get("flow"), str):  # 2.0: one flow described inline
        return {str(data["flow"]): data}
    return {}


def _scopes(flow: dict[str, Any]) -> dict[str, Any]:
    scopes = flow.get("scopes")
    return {str(k): v for k, v in scopes.items()} if isinstance(scopes, dict) else {}


class _Operation:
    """The checks for one operation present in both versions."""

    def __init__(
        self, parent: _Comparison, old: Node, new: Node, label: str, renames: dict[str, str]
    ) -> None:
        self.c = parent
        self.old, self.new = old, new
        self.label = label
        self.renames = renames

    def emit(
        self,
        change_id: str,
        args: Iterable[str],
        node: Node,
        side: str = "new",
        identity: Iterable[str] | None = None,
    ) -> None:
        self.c.emit(change_id, args, self.label, node, side, identity)

    def run(self) -> None:
        if self._unchanged():
            return
        self._deprecation()
        self._operation_id()
        self._tags()
        self._security()
        self._parameters()
        self._request_body()
        self._responses()

    def _unchanged(self) -> bool:
        return self.c.unchanged(self.old, self.new)

    def _same(self, old: Node, new: Node) -> bool:
        """A part of the operation is unchanged (2.0: with the operation's media types too)."""
        if self.c.old.swagger or self.c.new.swagger:
            a, b = self.old.data, self.new.data
            if any(a.get(k) != b.get(k) for k in ("consumes", "produces")):
                return False
        return self.c.unchanged(old, new)

    # -- operation metadata -------------------------------------------------------------------

    def _deprecation(self) -> None:
        was = self.old.data.get("deprecated") is True
        now = self.new.data.get("deprecated") is True
        if now and "x-sunset" in self.old.data:
            self._sunset_changed()
        if was == now:
            return
        where = _keyword(self.new, "deprecated")
        if not now:
            self.emit("endpoint-reactivated", (), where)
            return
        if _stability(self.new) is None:
            return
        has_sunset, date = _sunset(self.new)
        if not has_sunset:
            self.emit("endpoint-deprecated", (), where)
        elif date is None:
            value = str(self.new.data.get("x-sunset"))
            self.emit("api-deprecated-sunset-parse", (f"failed to parse time {value!r}",), where)
        elif (date - datetime.date.today()).days < 0:
            self.emit("api-sunset-date-too-small", (date.isoformat(), "0"), where)
        else:
            self.emit("endpoint-deprecated", (), where)

    def _sunset_changed(self) -> None:
        """A deprecated operation's x-sunset was deleted or moved to an already past earlier date.

        Moving the date is only breaking once the new date is behind us (oasdiff's default minimum
        deprecation period is 0 days), and only when it is earlier than before.
        """
        if "x-sunset" not in self.new.data:
            self.emit("sunset-deleted", (), _keyword(self.new, "deprecated"))
            return
        if self.old.data["x-sunset"] == self.new.data["x-sunset"]:
            return
        where = _keyword(self.new, "x-sunset")
        dates: list[datetime.date] = []
        for owner in (self.new, self.old):
            _, date = _sunset(owner)
            if date is None:
                value = str(owner.data.get("x-sunset"))
                self.emit("api-path-sunset-parse", (f"failed to parse time {value!r}",), where)
                return
            dates.append(date)
        date, base_date = dates
        if _stability(self.new) is None:
            return
        if base_date > date and (date - datetime.date.today()).days < 0:
            args = (base_date.isoformat(), date.isoformat(), base_date.isoformat(), "0")
            self.emit("api-sunset-date-changed-too-small", args, where)

    def _operation_id(self) -> None:
        before = self.old.data.get("operationId")
        after = self.new.data.get("operationId")
        before = before if isinstance(before, str) else ""
        after = after if isinstance(after, str) else ""
        if before == after:
            return
        where = _keyword(self.new, "operationId")
        if before:
            self.emit("api-operation-id-removed", (before, after), where)
        else:
            self.emit("api-operation-id-added", (after,), where)

    def _tags(self) -> None:
        before = [t for t in _list(self.old.data.get("tags")) if isinstance(t, str)]
        after = [t for t in _list(self.new.data.get("tags")) if isinstance(t, str)]
        for tag in before:
            if tag not in after:
                self.emit("api-tag-removed", (tag,), _keyword(self.old, "tags"), "old")
        for tag in after:
            if tag not in before:
                self.emit("api-tag-added", (tag,), _keyword(self.new, "tags"))

    def _security(self) -> None:
        old, old_present = _security_ids(self.old.data.get("security"))
        new, new_present = _security_ids(self.new.data.get("security"))
        if not old_present and not new_present:
            return
        new_where, old_where = _keyword(self.new, "security"), _keyword(self.old, "security")
        for key in new.keys() - old.keys():
            if key:
                self.emit("api-security-added", (key,), new_where)
        for key in old.keys() - new.keys():
            if key:
                self.emit("api-security-removed", (key,), old_where, "old")
        for key in old.keys() & new.keys():
            for scheme, scopes_b in new[key].items():
                scopes_a = old[key].get(scheme, [])
                for scope in (s for s in scopes_b if s not in scopes_a):
                    self.emit("api-security-scope-added", (scope, scheme), new_where)
                for scope in (s for s in scopes_a if s not in scopes_b):
                    self.emit("api-security-scope-removed", (scope, scheme), old_where, "old")

    # -- parameters ---------------------------------------------------------------------------

    def _parameters(self) -> None:
        old_params = self.c.old.plain_parameters(self.old)
        new_params = self.c.new.plain_parameters(self.new)
        unmatched_new = list(new_params)
        for param in old_params:
            partner = self._partner(param, unmatched_new)
            if partner is None:
                self._parameter_removed(param)
            else:
                unmatched_new.remove(partner)
                if not self.c.differ.sameness.same(param, partner):
                    self._parameter_pair(param, partner)
        for param in unmatched_new:
            where, name = param.data["in"], param.data["name"]
            if where == "path":
                self.emit("new-request-path-parameter", (name,), param)
            else:
                required = param.data.get("required") is True
                check = (
                    "new-required-request-parameter"
                    if required
                    else "new-optional-request-parameter"
                )
                self.emit(check, (where, name), param)

    def _partner(self, param: Node, candidates: list[Node]) -> Node | None:
        where, name = param.data["in"], param.data["name"]
        if where == "path":
            name = self.renames.get(name, name)
        return next(
            (c for c in candidates if c.data["in"] == where and c.data["name"] == name), None
        )

    def _parameter_removed(self, param: Node) -> None:
        where, name = param.data["in"], param.data["name"]
        if param.data.get("deprecated") is not True:
            self.emit("request-parameter-removed", (where, name), param, "old")
            return
        has_sunset, date = _sunset(param)
        if not has_sunset:
            self.emit("request-parameter-removed-with-deprecation", (where, name), param, "old")
        elif date is None:
            value = str(param.data.get("x-sunset"))
            self.emit(
                "request-parameter-sunset-parse",
                (where, name, f"failed to parse time {value!r}"),
                param,
                "old",
            )
        elif datetime.date.today() < date:
            self.emit(
                "request-parameter-removed-before-sunset",
                (where, name, date.isoformat()),
                param,
                "old",
            )

    def _parameter_pair(self, old: Node, new: Node) -> None:
        where, name = new.data["in"], new.data["name"]
        a, b = old.data, new.data
        was_required, now_required = a.get("required") is True, b.get("required") is True
        if was_required != now_required:
            check = (
                "request-parameter-became-required"
                if now_required
                else "request-parameter-became-optional"
            )
            self.emit(check, (where, name), _keyword(new, "required"))
        was_deprecated, now_deprecated = a.get("deprecated") is True, b.get("deprecated") is True
        if was_deprecated != now_deprecated:
            check = (
                "request-parameter-deprecated"
                if now_deprecated
                else "request-parameter-reactivated"
            )
            self.emit(check, (where, name), _keyword(new, "deprecated"))
        diff = self.c.differ.diff(self.c.old.param_schema(old), self.c.new.param_schema(new))
        if diff is not None:
            # oasdiff reports default values only of parameters optional in both versions
            defaults = not (was_required or now_required)
            for change_id, args, keyword, side in _parameter_schema_hits(
                diff, where, name, defaults=defaults
            ):
                node = diff.revision if side == "new" else diff.base
                self.emit(change_id, args, _keyword(node, keyword), side)
            hits = _parameter_property_hits(self.c.differ, diff, where, name)
            for change_id, args, where_node, side in hits:
                self.emit(change_id, args, where_node, side)

    # -- request body -------------------------------------------------------------------------

    def _request_body(self) -> None:
        old_node, new_node = self.c.old.body_node(self.old), self.c.new.body_node(self.new)
        if old_node is None and new_node is None:
            return
        if new_node is not None and old_node is None:
            new = self.c.new.request_body(self.new, new_node)
            check = "request-body-added-required" if new.required else "request-body-added-optional"
            self.emit(check, (), new.node)
            return
        if old_node is not None and new_node is None:
            self.emit("request-body-removed", (), old_node, "old")
            return
        assert old_node is not None and new_node is not None
        if self._same(old_node, new_node):
            return
        old = self.c.old.request_body(self.old, old_node)
        new = self.c.new.request_body(self.new, new_node)
        if old.required != new.required:
            check = (
                "request-body-became-required" if new.required else "request-body-became-optional"
            )
            self.emit(check, (), _keyword(new.node, "required"))
        pairs, removed, added = _match_media(old.content, new.content)
        for media in removed:
            self.emit("request-body-media-type-removed", (media,), _media_node(old, media), "old")
        for media in added:
            self.emit("request-body-media-type-added", (media,), _media_node(new, media))
        for old_media, new_media in pairs:
            self._schema_existence(old.node, new.node, old_media, new_media, "")
            self._schema(old.content[old_media], new.content[new_media], "request", new_media, "")

    def _schema_existence(
        self, old_owner: Node, new_owner: Node, old_media: str, new_media: str, status: str
    ) -> None:
        """A ``schema`` or 3.2 ``itemSchema`` appearing in, or leaving, a media type kept on
        both sides (newest oasdiff): on a request a new schema narrows what may be sent, on a
        response a lost one widens what may come back. A ``schema`` that accepts everything
        (``{}``, ``true``, annotations only) changes no contract and is not reported; one
        arriving as ``false`` withdraws the payload: ``*-body-schema-became-false``."""
        if self.c.old.swagger or self.c.new.swagger:
            return
        before = self.c.old.r.entries(old_owner, "content").get(old_media)
        after = self.c.new.r.entries(new_owner, "content").get(new_media)
        if before is None or after is None:
            return
        a = before.data if isinstance(before.value, dict) else {}
        b = after.data if isinstance(after.value, dict) else {}
        direction = "response" if status else "request"
        tail = (status,) if status else ()
        for key, label in (("schema", "schema"), ("itemSchema", "item-schema")):
            if (key in a) == (key in b):
                continue
            check = f"{direction}-body-media-type-{label}"
            if key in b:
                node = self.c.new.r.child(after, key)
                kind = _schema_kind(node) if key == "schema" else "regular"
                if kind == "false":
                    check = false_schema_id(f"{direction}-body", True)
                    self.emit(check, (), node or after, "new", (new_media,))
                if kind != "regular":
                    continue
                self.emit(f"{check}-added", (new_media, *tail), node or after, "new", (new_media,))
                continue
            node = self.c.old.r.child(before, key)
            if key == "schema" and _schema_kind(node) == "any":
                continue
            if key == "itemSchema" and status and "schema" not in b:
                check += "-removed-untyped"  # nothing types the body at all any more
            else:
                check += "-removed"
            self.emit(check, (new_media, *tail), node or before, "old", (new_media,))

    def _schema(
        self, old: Node | None, new: Node | None, direction: str, media: str, status: str
    ) -> None:
        diff = self.c.differ.diff(old, new)
        if diff is None:
            return
        ctx = Context(direction, _is_json(media))
        for hit in self.c.checker.hits(diff, ctx):
            self._emit_hit(hit, media, status)

    def _emit_hit(self, hit: Hit, media: str, status: str) -> None:
        args = tuple(_fill(arg, hit, media, status) for arg in hit.args)
        identity = tuple(arg for arg in hit.args if arg not in (NAME, STATUS, MEDIA, LEAF))
        self.emit(hit.id, args, Node(None, hit.doc, hit.pointer), hit.side, identity)

    # -- responses ----------------------------------------------------------------------------

    def _responses(self) -> None:
        old = self.c.old.responses(self.old)
        new = self.c.new.responses(self.new)
        for status in old:
            if status not in new:
                self._status(status, "removed", old[status], "old")
        for status in new:
            if status not in old:
                self._status(status, "added", new[status], "new")
        for status in sorted(old.keys() & new.keys()):
            if self._same(old[status], new[status]):
                continue
            before = self.c.old.response(old[status], self.old)
            after = self.c.new.response(new[status], self.new)
            self._response_pair(before, after, status)

    def _media_renamed(
        self, old: _Response, new: _Response, old_media: str, new_media: str, status: str
    ) -> None:
        """A response media type matched under another name: a more specific one is safe for
        clients that accepted the old one, a more general one is not.

        When the parameters changed as well the two cannot be ordered
        (response-media-type-name-changed). Names that differ only in parameters (a charset) are
        :meth:`_media_parameters`.
        """
        refined = _media_contained(old_media, new_media)
        kind = "specialized" if refined else "generalized"
        if _media_params(old_media) != _media_params(new_media):
            kind = "changed"  # parameters changed too: the two cannot be ordered
        where = _content_node(new.node, new_media)
        args = (old_media, new_media, status)
        self.emit(f"response-media-type-name-{kind}", args, where, "new", (old_media, new_media))

    def _media_parameters(
        self, new: _Response, old_media: str, new_media: str, status: str
    ) -> None:
        """Same media type, other parameters (newest oasdiff): a parameter appearing narrows
        what the server may send (information), one disappearing widens it and a changed value
        breaks a client that relied on it (errors); changes in more than one direction at once
        cannot be ordered (response-media-type-name-changed)."""
        before, after = _media_params(old_media), _media_params(new_media)
        added = sorted(after.keys() - before.keys())
        removed = sorted(before.keys() - after.keys())
        changed = sorted(k for k in before.keys() & after.keys() if before[k] != after[k])
        where = _content_node(new.node, new_media)
        if sum(1 for names in (added, removed, changed) if names) > 1:
            args = (old_media, new_media, status)
            self.emit(
                "response-media-type-name-changed", args, where, "new", (old_media, new_media)
            )
            return
        bare = old_media.split(";", 1)[0].strip()
        for name in added:
            self.emit(
                "response-media-type-parameter-added", (name, bare, status), where, "new", (name,)
            )
        for name in removed:
            self.emit(
                "response-media-type-parameter-removed", (name, bare, status), where, "new", (name,)
            )
        for name in changed:
            values = (name, bare, before[name], after[name], status)
            self.emit("response-media-type-parameter-changed", values, where, "new", (name,))

    def _status(self, status: str, verb: str, node: Node, side: str) -> None:
        if not status.isdigit():
            return
        kind = "success" if 200 <= int(status) <= 299 else "non-success"
        self.emit(f"response-{kind}-status-{verb}", (status,), node, side)

    def _response_pair(self, old: _Response, new: _Response, status: str) -> None:
        pairs, removed, added = _match_media(old.content, new.content)
        for media in removed:
            where = _content_node(old.node, media)
            self.emit("response-media-type-removed", (media, status), where, "old", (media,))
        for media in added:
            where = _content_node(new.node, media)
            self.emit("response-media-type-added", (media, status), where, "new", (media,))
        for old_media, new_media in pairs:
            if _media_parts(old_media) != _media_parts(new_media):
                self._media_renamed(old, new, old_media, new_media, status)
            elif _media_params(old_media) != _media_params(new_media):
                self._media_parameters(new, old_media, new_media, status)
            self._schema_existence(old.node, new.node, old_media, new_media, status)
            self._schema(
                old.content[old_media], new.content[new_media], "response", new_media, status
            )
        for name, header in old.headers.items():
            if name not in new.headers:
                required = header.data.get("required") is True
                check = (
                    "required-response-header-removed"
                    if required
                    else "optional-response-header-removed"
                )
                self.emit(check, (name, status), header, "old", (name,))
                continue
            after = new.headers[name]
            if header.data.get("required") is True and after.data.get("required") is not True:
                where = _keyword(after, "required")
                self.emit("response-header-became-optional", (name, status), where, "new", (name,))
            self._header_schema(header, after, name, status)

    def _header_schema(self, old: Node, new: Node, name: str, status: str) -> None:
        """Bounds set/unset and response-header-became-(not-)nullable: what a client reading
        the header may get."""
        diff = self.c.differ.diff(self.c.old.param_schema(old), self.c.new.param_schema(new))
        if diff is None:
            return
        if diff.false_schema is not None:
            check = false_schema_id("response-header", diff.false_schema)
            self.emit(check, (name, status), diff.revision, "new", (name,))
            return
        for label, bound, action, value in bound_edits(diff):
            side = "new" if action == "set" else "old"
            where = _keyword(diff.revision if side == "new" else diff.base, bound)
            check = f"response-header-{label}-{action}"
            self.emit(check, (name, value, status), where, side, (name,))
        keyword = "nullable" if diff.nullable is not None else "type"
        if lost_null(diff) or (diff.null_wrap and nullability(diff) == "not-nullable"):
            check = "response-header-became-not-nullable"
        elif gained_null(diff) or (diff.null_wrap and nullability(diff) == "nullable"):
            check = "response-header-became-nullable"
        else:
            return
        self.emit(check, (name, status), _keyword(diff.revision, keyword), "new", (name,))


def _parameter_schema_hits(
    diff: SchemaDiff, where: str, name: str, *, defaults: bool = True
) -> Iterator[tuple[str, tuple[str, ...], str, str]]:
    """(id, args, keyword, side) for a parameter's schema change.

    ``defaults`` is False for a parameter required in either version: a client must send it, so
    oasdiff does not report its default value changing.
    """
    if diff.false_schema is not None:
        yield false_schema_id("request-parameter", diff.false_schema), (where, name), "", "new"
        return
    yield from _parameter_type(diff, where, name)
    keyword = "nullable" if diff.nullable is not None else "type"
    if diff.null_wrap:  # newest oasdiff: at parameter level a null wrap is a list-of-types change
        word = "widened" if nullability(diff) == "nullable" else "narrowed"
        yield f"request-parameter-list-of-types-{word}", (where, name, "null"), "oneOf", "new"
    elif lost_null(diff):
        yield "request-parameter-became-not-nullable", (where, name), keyword, "new"
    elif gained_null(diff):
        yield "request-parameter-became-nullable", (where, name), keyword, "new"
    change = list_of_types_change(diff, narrowing_first=True)
    if change is not None:
        word, types = change
        yield f"request-parameter-list-of-types-{word}", (where, name, types), "type", "new"
    enum = diff.enum
    if enum is not None:
        if enum.became_enum:
            yield "request-parameter-became-enum", (where, name), "enum", "new"
        for value in enum.deleted:
            yield (
                "request-parameter-enum-value-removed",
                (go_value(value), where, name),
                "enum",
                "old",
            )
        for value in enum.added:
            yield (
                "request-parameter-enum-value-added",
                (go_value(value), where, name),
                "enum",
                "new",
            )
    yield from _parameter_bounds(diff, where, name)
    for label, keyword, action, value in bound_edits(diff):
        check = f"request-parameter-{label}-{action}"
        if check not in HAND_WRITTEN_BOUNDS:
            yield check, (where, name, value), keyword, "new" if action == "set" else "old"
    yield from _parameter_pattern(diff, where, name)
    for value in extensible_enum_removed(diff):
        check = "request-parameter-x-extensible-enum-value-removed"
        yield check, (value, where, name), X_ENUM, "old"
    pair = diff.default if defaults else None
    if pair is not None:
        frm, to = pair
        if frm is None:
            yield (
                "request-parameter-default-value-added",
                (where, name, go_value(to)),
                "default",
                "new",
            )
        elif to is None:
            yield (
                "request-parameter-default-value-removed",
                (where, name, go_value(frm)),
                "default",
                "old",
            )
        else:
            yield (
                "request-parameter-default-value-changed",
                (where, name, go_value(frm), go_value(to)),
                "default",
                "new",
            )


def _property_name(path: str, leaf: str) -> str:
    """oasdiff's full name of a property below a parameter (``a/b``, ``/items/``...)."""
    return f"{path}/{leaf}" if path else leaf


def _parameter_property_hits(
    differ: SchemaDiffer, diff: SchemaDiff, where: str, name: str
) -> Iterator[tuple[str, tuple[str, ...], Node, str]]:
    """(id, args, node, side) for changes inside an object-valued parameter's schema.

    oasdiff walks the properties of every parameter for enum values, and those of header
    parameters for new or newly required properties and new enums.
    """
    header = where == "header"
    if header:
        yield from _header_added_properties(differ, diff, "", name)
        yield from _header_became_required(differ, diff, name, root=True, prefix="")
    for path, leaf, child in walk_tree(diff):
        prop = _property_name(path, leaf)
        if child.false_schema is not None:
            check = false_schema_id("request-parameter-property", child.false_schema)
            yield check, (prop, where, name), child.revision, "new"
            continue
        for check in _property_type(child):
            type_hit = (where, name, prop, *type_args(child))
            yield check, type_hit, _keyword(child.revision, "type"), "new"
        if leaf:
            yield from _parameter_property_nullability(child, prop, where, name)
        enum = child.enum
        if enum is not None:
            for value in enum.deleted:
                args = (go_value(value), prop, where, name)
                node = _keyword(child.base, "enum")
                yield "request-parameter-property-enum-value-removed", args, node, "old"
            for value in enum.added:
                args = (go_value(value), prop, where, name)
                node = _keyword(child.revision, "enum")
                yield "request-parameter-property-enum-value-added", args, node, "new"
        if not header:
            continue
        if enum is not None and enum.became_enum:
            node = _keyword(child.revision, "enum")
            yield "request-header-property-became-enum", (name, prop), node, "new"
        node_path = _property_name(path, leaf) if leaf else path
        yield from _header_added_properties(differ, child, node_path, name)
        yield from _header_became_required(differ, child, name, root=False, prefix=node_path)


def _parameter_property_nullability(
    diff: SchemaDiff, prop: str, where: str, name: str
) -> Iterator[tuple[str, tuple[str, ...], Node, str]]:
    """A property of an object parameter that became (not) nullable, or changed its list of
    types (``oneOf: [{type: string}, {type: integer}]``)."""
    check = "request-parameter-property"
    keyword = "nullable" if diff.nullable is not None else "type"
    node = _keyword(diff.revision, keyword)
    if lost_null(diff) or (diff.null_wrap and nullability(diff) == "not-nullable"):
        yield f"{check}-became-not-nullable", (prop, where, name), node, "new"
    elif gained_null(diff) or (diff.null_wrap and nullability(diff) == "nullable"):
        yield f"{check}-became-nullable", (prop, where, name), node, "new"
    change = list_of_types_change(diff, narrowing_first=True)
    if change is not None:
        word, types = change
        args = (prop, where, name, types)
        yield f"{check}-list-of-types-{word}", args, _keyword(diff.revision, "type"), "new"


def _property_type(diff: SchemaDiff) -> Iterator[str]:
    """request-parameter-property-type-* for a property's type/format change.

    How an object parameter is serialised is unknown, so oasdiff judges the change both as
    strongly typed (JSON) and loosely typed (form style): breaking both ways is specialized
    (error), neither is generalized (info), and a disagreement is only a warning.
    """
    if (type_change(diff) is None and diff.format is None) or diff.list_of_types is not None:
        return
    strict = breaking_type_change(diff, strongly_typed=True, widening_ok=True)
    loose = breaking_type_change(diff, strongly_typed=False, widening_ok=True)
    if strict != loose:
        yield "request-parameter-property-type-changed"
    elif strict:
        yield "request-parameter-property-type-specialized"
    else:
        yield "request-parameter-property-type-generalized"


def _header_added_properties(
    differ: SchemaDiffer, diff: SchemaDiff, path: str, header: str
) -> Iterator[tuple[str, tuple[str, ...], Node, str]]:
    """new-required-request-header-property for the properties ``diff`` gained."""
    if not diff.properties_added:
        return
    props = differ.new.entries(diff.revision, "properties")
    required = _list(diff.revision.data.get("required"))
    for prop in diff.properties_added:
        node = props.get(prop)
        if node is None or node.data.get("readOnly") is True or prop not in required:
            continue
        args = (header, _property_name(path, prop))
        yield "new-required-request-header-property", args, node, "new"


def _header_became_required(
    differ: SchemaDiffer, diff: SchemaDiff, header: str, *, root: bool, prefix: str
) -> Iterator[tuple[str, tuple[str, ...], Node, str]]:
    """request-header-property-became-required for names ``diff`` added to ``required``.

    At the parameter's own schema a property new in both places is left to
    new-required-request-header-property; below it oasdiff does not make that exception.
    """
    if diff.required is None:
        return
    props_b = differ.new.entries(diff.revision, "properties")
    props_a = differ.old.entries(diff.base, "properties") if root else {}
    for prop in diff.required[0]:
        node = props_b.get(prop)
        if node is None or node.data.get("readOnly") is True:
            continue
        if root and prop not in props_a:
            continue
        args = (header, _property_name(prefix, prop))
        where = _keyword(diff.revision, "required")
        yield "request-header-property-became-required", args, where, "new"


def _parameter_type(
    diff: SchemaDiff, where: str, name: str
) -> Iterator[tuple[str, tuple[str, ...], str, str]]:
    if (type_change(diff) is None and diff.format is None) or diff.list_of_types is not None:
        return
    breaking = breaking_type_change(diff, strongly_typed=False, widening_ok=True)
    check = "request-parameter-type-changed" if breaking else "request-parameter-type-generalized"
    yield check, (where, name, *type_args(diff)), "type", "new"


def _fmt_float(value: Any) -> str:
    return f"{float(value):.2f}"


def _parameter_bounds(
    diff: SchemaDiff, where: str, name: str
) -> Iterator[tuple[str, tuple[str, ...], str, str]]:
    specs = (
        (diff.max_length, "max-length", "maxLength", go_uint, True),
        (diff.maximum, "max", "maximum", _fmt_float, True),
        (diff.minimum, "min", "minimum", _fmt_float, True),
        (diff.min_length, "min-length", "minLength", go_uint, False),
        (diff.max_items, "max-items", "maxItems", go_uint, False),
        (diff.min_items, "min-items", "minItems", go_uint, False),
        (
            exclusive_pair(diff, "exclusiveMaximum"),
            "exclusive-max",
            "exclusiveMaximum",
            show_bound,
            True,
        ),
        (
            exclusive_pair(diff, "exclusiveMinimum"),
            "exclusive-min",
            "exclusiveMinimum",
            show_bound,
            True,
        ),
    )
    for pair, label, keyword, show, has_set in specs:
        if pair is None:
            continue
        exclusive = label.startswith("exclusive")
        if exclusive and pair[0] is not None and pair[1] is not None and not comparable(pair):
            continue  # a 3.0 flag and a 3.1 number are not ordered
        frm, to = pair
        if label in ("min-length", "min-items"):  # absent reads as 0: 0 is no bound
            frm, to = frm or None, to or None
        if frm is None and to is not None:
            if has_set or label == "min-items":
                yield f"request-parameter-{label}-set", (where, name, show(to)), keyword, "new"
            continue  # others: the generated set check (bound_edits)
        if frm is None or to is None:
            continue
        word = "decreased" if to < frm else "increased"
        yield (
            f"request-parameter-{label}-{word}",
            (where, name, show(frm), show(to)),
            keyword,
            "new",
        )


def _parameter_pattern(
    diff: SchemaDiff, where: str, name: str
) -> Iterator[tuple[str, tuple[str, ...], str, str]]:
    pair = diff.pattern
    if pair is None:
        return
    frm, to = pair
    if not to:
        yield "request-parameter-pattern-removed", (frm, where, name), "pattern", "old"
    elif not frm:
        yield "request-parameter-pattern-added", (to, where, name), "pattern", "new"
    elif to == ".*":
        yield "request-parameter-pattern-generalized", (where, name, frm, to), "pattern", "new"
    else:
        yield "request-parameter-pattern-changed", (where, name, frm, to), "pattern", "new"


def _fill(arg: str, hit: Hit, media: str, status: str) -> str:
    if arg == NAME:
        return hit.name
    if arg == STATUS:
        return status
    if arg == MEDIA:
        return media
    if arg == LEAF:
        return hit.leaf
    return arg


def _keyword(node: Node, keyword: str) -> Node:
    """The location of ``keyword`` in an object node (the node itself when absent)."""
    if keyword in node.data:
        return Node(None, node.doc, f"{node.pointer}/{escape(keyword)}")
    return node


def _schema_kind(node: Node | None) -> str:
    """``false`` (accepts nothing), ``any`` (``{}``, ``true`` or only annotations: accepts
    everything) or ``regular``, for a schema that appears or disappears."""
    if node is None:
        return "regular"
    if isinstance(node.value, bool):
        return "any" if node.value else "false"
    if isinstance(node.value, dict) and node.data.keys() <= _ANNOTATION_KEYS:
        return "any"
    return "regular"


_ANNOTATION_KEYS = frozenset(
    {"title", "description", "example", "examples", "default", "externalDocs", "$comment"}
)


def _media_node(body: _Body, media: str) -> Node:
    if "content" in body.node.data:
        return _content_node(body.node, media)
    return body.node


def _content_node(owner: Node, media: str) -> Node:
    if isinstance(owner.data.get("content"), dict) and media in owner.data["content"]:
        return Node(None, owner.doc, f"{owner.pointer}/content/{escape(media)}")
    return owner


def _list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else []
