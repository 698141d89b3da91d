"""Compare two JSON Schemas (OpenAPI 2.0/3.0/3.1 flavours) and name each change oasdiff's way.

Why this shape: oasdiff builds a schema diff tree and then runs one walker per check over it,
once per operation. Real specs share components across hundreds of operations, so here the
diff of a (base, revision) pair is built once (memoised on the two nodes' ``(doc, pointer)``)
and the checks over a diff node are run once per context (request or response, JSON or not),
with property names kept relative so a shared component's findings are re-anchored, never
recomputed. Nothing is expanded: every ``$ref`` is followed on demand, and a pair already being
compared higher up the stack counts as unchanged, which is what keeps recursive schemas finite.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from fractions import Fraction
from typing import Any

from airgap_cli.core.errors import InputError
from airgap_cli.openapi.loader import Spec

NAME = "\x00name"
"""Placeholder argument: the property's full name (``data/items/id``), filled in per anchor."""
STATUS = "\x00status"
"""Placeholder argument: the response status the schema belongs to."""
MEDIA = "\x00media"
"""Placeholder argument: the media type the schema belongs to."""
LEAF = "\x00leaf"
"""Placeholder argument: the property's own name (``id``), where oasdiff prints no path."""

MAX_WALK_DEPTH = 200
"""Deepest schema nesting compared; deeper (pathological) input is treated as unchanged."""

_HANDLED = frozenset(
    {
        "$ref",
        "type",
        "format",
        "enum",
        "default",
        "nullable",
        "readOnly",
        "writeOnly",
        "deprecated",
        "minimum",
        "maximum",
        "minLength",
        "maxLength",
        "minItems",
        "maxItems",
        "minProperties",
        "maxProperties",
        "uniqueItems",
        "multipleOf",
        "pattern",
        "items",
        "required",
        "properties",
        "additionalProperties",
        "allOf",
        "anyOf",
        "oneOf",
        "not",
        "discriminator",
    }
)
"""Keywords compared one by one; any other keyword only makes a pair 'not identical'."""


@dataclass(frozen=True, slots=True)
class Node:
    """A JSON value and where it lives (the document and JSON pointer a finding points at)."""

    value: Any
    doc: str
    pointer: str
    ref: str | None = None
    """The ``$ref`` followed to reach the value (None for inline values)."""
    remote: bool = False
    """An unmapped remote ``$ref`` left unresolved (its target was never fetched)."""

    @property
    def data(self) -> dict[str, Any]:
        """The value when it is an object, else an empty object (malformed input)."""
        return self.value if isinstance(self.value, dict) else {}

    @property
    def key(self) -> tuple[str, str]:
        """Stable identity of the node: its document and pointer."""
        return (self.doc, self.pointer)


def escape(segment: object) -> str:
    """One JSON pointer segment (RFC 6901)."""
    return str(segment).replace("~", "~0").replace("/", "~1")


class Resolver:
    """Follows ``$ref``s of one spec lazily; a remote ref a comparison needs is an InputError."""

    def __init__(self, spec: Spec) -> None:
        self.spec = spec
        self._failed: dict[tuple[str, str], bool] = {}
        self._targets: dict[tuple[str, str], Node | None] = {}
        self._entries: dict[tuple[str, str, str], dict[str, Node]] = {}

    def node(self, raw: Any, doc: str, pointer: str) -> Node:
        """``raw`` (read at ``doc``/``pointer``) with its ``$ref`` chain followed.

        An unresolvable ref stays the ref object itself (``remote`` when it is an unmapped
        remote ref): only :meth:`require` turns that into an error, where content is needed.
        """
        if isinstance(raw, Node):
            return raw
        if not (isinstance(raw, dict) and isinstance(raw.get("$ref"), str)):
            return Node(raw, doc, pointer)
        ref: str = raw["$ref"]
        cache_key = (doc, ref)
        if cache_key in self._targets:
            hit = self._targets[cache_key]
        else:
            before = len(self.spec.ref_problems)
            target = self.spec.deref(raw, doc)
            hit = None
            if target.node is not raw:
                hit = Node(target.node, target.doc, target.pointer, ref)
            else:
                self._classify(ref, doc, before)
            self._targets[cache_key] = hit
        if hit is None:
            return Node(raw, doc, pointer, ref, remote=self._failed.get((doc, ref), False))
        return hit

    def require(self, node: Node | None) -> None:
        """InputError when ``node`` is an unmapped remote ref: its content is needed now."""
        if node is not None and node.remote:
            raise InputError(
                f"remote $ref {node.ref!r} is needed to compare the specs but is never "
                "fetched; supply it with --ref-map URL=FILE",
                path=node.doc,
                line=self.spec.line_of(node.pointer, node.doc),
            )

    def child(self, parent: Node, key: str) -> Node | None:
        """The resolved member ``key`` of an object node (None when absent)."""
        data = parent.value
        if not isinstance(data, dict) or key not in data:
            return None
        return self.node(data[key], parent.doc, f"{parent.pointer}/{escape(key)}")

    def item(self, parent: Node, key: str, index: int) -> Node:
        """The resolved ``index``-th element of the list member ``key``."""
        raw = parent.value[key][index]
        return self.node(raw, parent.doc, f"{parent.pointer}/{escape(key)}/{index}")

    def entries(self, parent: Node | None, key: str) -> dict[str, Node]:
        """The resolved members of the object member ``key`` (e.g. ``properties``)."""
        if parent is None:
            return {}
        container = parent.data.get(key)
        if isinstance(container, Node):
            container = container.value
        if not isinstance(container, dict):
            return {}
        cache_key = (parent.doc, parent.pointer, key)
        cached = self._entries.get(cache_key)
        if cached is None:
            base = f"{parent.pointer}/{escape(key)}"
            cached = {
                str(name): self.node(raw, parent.doc, f"{base}/{escape(name)}")
                for name, raw in container.items()
            }
            self._entries[cache_key] = cached
        return cached

    def _classify(self, ref: str, doc: str, before: int) -> None:
        """Remember whether an unresolvable ref failed because it is remote."""
        problems = self.spec.ref_problems
        fresh = problems[before:]
        self._failed[(doc, ref)] = any(p.kind == "remote" for p in fresh) or (
            not fresh and any(p.kind == "remote" and p.ref == ref for p in problems)
        )


# -- values, the way oasdiff prints and compares them -----------------------------------------


def json_equal(a: Any, b: Any) -> bool:
    """Deep equality of JSON values where ``true`` is not ``1`` (Go's reflect.DeepEqual)."""
    if isinstance(a, bool) or isinstance(b, bool):
        return isinstance(a, bool) and isinstance(b, bool) and a == b
    if isinstance(a, int | float) and isinstance(b, int | float):
        return float(a) == float(b)
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(json_equal(a[k], b[k]) for k in a)
    if isinstance(a, list) and isinstance(b, list):
        return len(a) == len(b) and all(json_equal(x, y) for x, y in zip(a, b, strict=True))
    return type(a) is type(b) and bool(a == b)


def go_value(value: Any) -> str:
    """A JSON value as oasdiff prints it (numbers are Go float64: ``1`` prints ``1.00``)."""
    if value is None:
        return "undefined"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return value
    if isinstance(value, int | float):
        return _go_float(float(value))
    return _go_verbose(value)


def _go_float(number: float) -> str:
    if math.isnan(number) or math.isinf(number):
        return "NaN" if math.isnan(number) else ("+Inf" if number > 0 else "-Inf")
    return f"{number:.2f}"


def _go_verbose(value: Any) -> str:
    """Go's ``%v`` for maps and slices of JSON values."""
    if isinstance(value, dict):
        inner = " ".join(f"{k}:{_go_verbose(v)}" for k, v in sorted(value.items(), key=str))
        return f"map[{inner}]"
    if isinstance(value, list):
        return "[" + " ".join(_go_verbose(v) for v in value) + "]"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return "<nil>" if value is None else str(value)


def go_uint(value: int) -> str:
    """An unsigned bound (maxLength, minItems...) as oasdiff prints it."""
    return str(value)


def _number(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return float(value)


def _uint(value: Any) -> int | None:
    number = _number(value)
    if number is None or number < 0 or math.isinf(number) or math.isnan(number):
        return None
    return int(number)


def _bool(value: Any) -> bool:
    return value is True


def _str(value: Any) -> str:
    return value if isinstance(value, str) else ""


def types_of(data: dict[str, Any]) -> list[str]:
    """The ``type`` keyword as a list (3.1 allows a list; 2.0/3.0 a single string)."""
    kind = data.get("type")
    if isinstance(kind, str):
        return [kind]
    if isinstance(kind, list):
        return [k for k in kind if isinstance(k, str)]
    return []


def without_null(types: Sequence[str]) -> list[str]:
    """The type list without JSON Schema's ``null`` (3.1 spells nullability that way)."""
    return [t for t in types if t != "null"]


def is_nullable(data: dict[str, Any]) -> bool:
    """3.0 ``nullable: true`` or 3.1 ``type: [..., "null"]``."""
    return data.get("nullable") is True or "null" in types_of(data)


_REF_IN_REPR = re.compile(r"""'\$ref': (?:'([^'\\]*)'|"([^"\\]*)")""")


class Sameness:
    """Whether two nodes mean the same, following the ``$ref``s inside them.

    Equal text is not enough when it holds refs (their targets may differ), so each ref found
    in the value is compared too. The refs are read from ``repr`` (C speed) instead of a walk;
    a value whose refs cannot be read that way counts as different (the caller then compares
    it keyword by keyword). An unmapped remote ref met on the way is an InputError: its target
    may differ between the versions. Recursive schemas make this a greatest fixpoint: every pair
    reachable from the question is explored once, pairs whose text differs are different,
    difference flows back to every pair that references them, and the rest are the same.
    """

    def __init__(self, old: Resolver, new: Resolver) -> None:
        self.old = old
        self.new = new
        self._memo: dict[tuple[str, str, str, str], bool] = {}
        self._refs: dict[int, tuple[str, ...] | None] = {}

    def same(self, base: Node, revision: Node) -> bool:
        """True when the two nodes are equal and so are all the nodes they reference."""
        key = (base.doc, base.pointer, revision.doc, revision.pointer)
        known = self._memo.get(key)
        if known is None:
            self._explore(key, base, revision)
            known = self._memo[key]
        return known

    def _explore(self, key: tuple[str, str, str, str], base: Node, revision: Node) -> None:
        pending = {key: (base, revision)}
        stack = [key]
        parents: dict[tuple[str, str, str, str], list[tuple[str, str, str, str]]] = {}
        different: set[tuple[str, str, str, str]] = set()
        while stack:
            current = stack.pop()
            node_a, node_b = pending[current]
            children = self._children(node_a, node_b)
            if children is None:
                different.add(current)
                continue
            for child_key, pair in children:
                known = self._memo.get(child_key)
                if known is False:
                    different.add(current)
                    break
                if known:
                    continue
                parents.setdefault(child_key, []).append(current)
                if child_key not in pending:
                    pending[child_key] = pair
                    stack.append(child_key)
        queue = list(different)
        while queue:
            for parent in parents.get(queue.pop(), ()):
                if parent not in different:
                    different.add(parent)
                    queue.append(parent)
        for explored in pending:
            self._memo[explored] = explored not in different

    def _children(
        self, base: Node, revision: Node
    ) -> list[tuple[tuple[str, str, str, str], tuple[Node, Node]]] | None:
        """The ref target pairs two equal values point at; None when the values differ."""
        if base.value is not revision.value and base.value != revision.value:
            return None
        refs = self._refs_in(base.value)
        if refs is None:
            return None
        out = []
        for ref in refs:
            raw = {"$ref": ref}
            target_a = self.old.node(raw, base.doc, base.pointer)
            target_b = self.new.node(raw, revision.doc, revision.pointer)
            self.old.require(target_a)  # an unmapped remote ref is never assumed unchanged
            self.new.require(target_b)
            unresolved_a, unresolved_b = target_a.value is raw, target_b.value is raw
            if unresolved_a or unresolved_b:
                if unresolved_a != unresolved_b:
                    return None
                continue
            key = (target_a.doc, target_a.pointer, target_b.doc, target_b.pointer)
            out.append((key, (target_a, target_b)))
        return out

    def _refs_in(self, value: Any) -> tuple[str, ...] | None:
        if not isinstance(value, dict | list):
            return ()
        ident = id(value)
        if ident in self._refs:
            return self._refs[ident]
        text = repr(value)
        found = _REF_IN_REPR.findall(text)
        refs: tuple[str, ...] | None = tuple(dict.fromkeys(a or b for a, b in found))
        if len(found) != text.count("'$ref'") or "Node(" in text:
            refs = None
        self._refs[ident] = refs
        return refs


# -- the diff tree ---------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Subschema:
    """One allOf/anyOf/oneOf member, named the way oasdiff names it in messages."""

    index: int
    component: str = ""
    title: str = ""

    def __str__(self) -> str:
        if self.title:
            return f"subschema #{self.index + 1}: {self.title}"
        if self.component:
            return f"#/components/schemas/{self.component}"
        return f"subschema #{self.index + 1}"


def subschemas_text(items: Sequence[Subschema]) -> str:
    """A list of subschemas for a message, comma separated."""
    return ", ".join(str(s) for s in items)


@dataclass(slots=True, eq=False)
class ModifiedSubschema:
    """A member matched across base and revision whose schema changed."""

    base: Subschema
    revision: Subschema
    diff: SchemaDiff

    def __str__(self) -> str:
        base, revision = str(self.base), str(self.revision)
        return base if base == revision else f"{base} -> {revision}"


@dataclass(slots=True, eq=False)
class SubschemasDiff:
    """Changes to an allOf/anyOf/oneOf list."""

    added: list[Subschema] = field(default_factory=list)
    deleted: list[Subschema] = field(default_factory=list)
    modified: list[ModifiedSubschema] = field(default_factory=list)


@dataclass(slots=True, eq=False)
class EnumDiff:
    """Enum values added and removed (``became_enum`` when the list appeared)."""

    added: list[Any]
    deleted: list[Any]
    became_enum: bool


Pair = tuple[Any, Any]


@dataclass(frozen=True, slots=True)
class OneOfWrap:
    """A concrete object restructured into a ``oneOf`` of alternatives (oasdiff issue 702).

    Reported once per body as ``*-body-wrapped-in-one-of``; the properties that moved into an
    alternative are not reported as removed, nor the wrapper's type change or added members.
    """

    moved: tuple[str, ...]
    """Base properties found in at least one alternative."""
    preserved: bool
    """Some alternative validates exactly like the base schema (annotations aside)."""


@dataclass(slots=True, eq=False)
class SchemaDiff:
    """What differs between two schema nodes; None fields did not change."""

    base: Node
    revision: Node
    types: tuple[list[str], list[str]] | None = None
    """(added, deleted) type names."""
    format: Pair | None = None
    enum: EnumDiff | None = None
    default: Pair | None = None
    nullable: Pair | None = None
    read_only: Pair | None = None
    write_only: Pair | None = None
    minimum: Pair | None = None
    maximum: Pair | None = None
    min_length: Pair | None = None
    max_length: Pair | None = None
    min_items: Pair | None = None
    max_items: Pair | None = None
    min_properties: Pair | None = None
    max_properties: Pair | None = None
    unique_items: Pair | None = None
    multiple_of: Pair | None = None
    pattern: Pair | None = None
    required: tuple[list[str], list[str]] | None = None
    """(added, deleted) names in ``required``."""
    properties_added: list[str] = field(default_factory=list)
    properties_deleted: list[str] = field(default_factory=list)
    properties_modified: dict[str, SchemaDiff] = field(default_factory=dict)
    items: SchemaDiff | None = None
    additional: SchemaDiff | None = None
    all_of: SubschemasDiff | None = None
    any_of: SubschemasDiff | None = None
    one_of: SubschemasDiff | None = None
    negated: SchemaDiff | None = None
    discriminator: bool = False
    other: bool = False
    list_of_types: tuple[list[str], list[str]] | None = None
    null_wrap: bool = False
    """Only nullability changed, by a ``oneOf: [{type: "null"}, X]`` wrapper (``nullable`` says
    which way)."""
    keywords: dict[str, Pair] = field(default_factory=dict)
    """(base, revision) raw values of the changed keywords of :data:`KEYWORD_CHECKS` (const,
    exclusive bounds, 3.1 keywords); absent is None. They also set ``other``."""
    one_of_wrap: OneOfWrap | None = None
    """Set when an object with properties became a ``oneOf`` wrapper (its ``one_of`` is set too)."""
    false_schema: bool | None = None
    """True when the node became the boolean ``false`` (accepts nothing), False when it stopped
    being ``false``; such a diff carries nothing else, so only the transition is reported."""
    items_false: bool | None = None
    """An ``items`` appearing as ``false`` (True, closing a tuple) or a ``false`` one leaving
    (False): one-sided, so no ``items`` diff exists to carry it (newest oasdiff)."""

    def empty(self) -> bool:
        """True when nothing at all differs (oasdiff's ``SchemaDiff.Empty``)."""
        return not (
            self.types
            or self.format
            or self.enum
            or self.default
            or self.nullable
            or self.read_only
            or self.write_only
            or self.minimum
            or self.maximum
            or self.min_length
            or self.max_length
            or self.min_items
            or self.max_items
            or self.min_properties
            or self.max_properties
            or self.unique_items
            or self.multiple_of
            or self.pattern
            or self.required
            or self.properties_added
            or self.properties_deleted
            or self.properties_modified
            or self.items
            or self.additional
            or self.all_of
            or self.any_of
            or self.one_of
            or self.negated
            or self.discriminator
            or self.other
            or self.list_of_types
            or self.false_schema is not None
            or self.items_false is not None
        )


def _pair(a: Any, b: Any) -> Pair | None:
    return None if a == b and type(a) is type(b) else (a, b)


class SchemaDiffer:
    """Builds SchemaDiff trees for pairs of schema nodes, memoised and cycle-safe."""

    def __init__(self, old: Resolver, new: Resolver) -> None:
        self.old = old
        self.new = new
        self.sameness = Sameness(old, new)
        self._memo: dict[tuple[str, str, str, str], SchemaDiff | None] = {}
        self._active: set[tuple[str, str, str, str]] = set()

    def diff(self, base: Node | None, revision: Node | None) -> SchemaDiff | None:
        """The diff of two schema nodes, None when they are the same (or either is absent)."""
        if base is None or revision is None:
            return None
        key = (base.doc, base.pointer, revision.doc, revision.pointer)
        if key in self._memo:
            return self._memo[key]
        if key in self._active or len(self._active) > MAX_WALK_DEPTH:
            return None  # a recursive schema meeting itself: compared higher up the stack
        if self.sameness.same(base, revision):
            self._memo[key] = None
            return None
        self.old.require(base)
        self.new.require(revision)
        self._active.add(key)
        try:
            result = self._build(base, revision)
        finally:
            self._active.discard(key)
        final = None if result.empty() else result
        self._memo[key] = final
        return final

    def _build(self, base: Node, revision: Node) -> SchemaDiff:
        if (base.value is False) != (revision.value is False):
            # the keyword-level echoes of a `false` schema (type removed...) are not reported
            return SchemaDiff(base, revision, false_schema=revision.value is False)
        wrapped = self._null_wrap(base, revision)
        if wrapped is not None:
            return wrapped
        a, b = base.data, revision.data
        result = SchemaDiff(base, revision)
        self._scalars(result, a, b)
        self._structure(result, base, revision)
        result.list_of_types = self._list_of_types(base, revision)
        if result.one_of is not None:
            result.one_of_wrap = self._one_of_wrap(base, revision)
        changed = [
            k for k in (a.keys() | b.keys()) - _HANDLED if not json_equal(a.get(k), b.get(k))
        ]
        result.keywords = {k: (a.get(k), b.get(k)) for k in changed if k in KEYWORD_CHECKS}
        result.other = (
            bool(changed)
            or isinstance(base.value, dict) != isinstance(revision.value, dict)
            or any(_shape(a.get(k)) != _shape(b.get(k)) for k in _SUBSCHEMA_KEYS)
        )
        return result

    def _scalars(self, result: SchemaDiff, a: dict[str, Any], b: dict[str, Any]) -> None:
        types_a, types_b = types_of(a), types_of(b)
        added = [t for t in types_b if t not in types_a]
        deleted = [t for t in types_a if t not in types_b]
        result.types = (added, deleted) if added or deleted else None
        result.format = _pair(_str(a.get("format")), _str(b.get("format")))
        result.enum = _enum_diff(a.get("enum"), b.get("enum"))
        if not json_equal(a.get("default"), b.get("default")):
            result.default = (a.get("default"), b.get("default"))
        result.nullable = _pair(_bool(a.get("nullable")), _bool(b.get("nullable")))
        result.read_only = _pair(_bool(a.get("readOnly")), _bool(b.get("readOnly")))
        result.write_only = _pair(_bool(a.get("writeOnly")), _bool(b.get("writeOnly")))
        result.minimum = _pair(_number(a.get("minimum")), _number(b.get("minimum")))
        result.maximum = _pair(_number(a.get("maximum")), _number(b.get("maximum")))
        result.min_length = _pair(_uint(a.get("minLength")) or 0, _uint(b.get("minLength")) or 0)
        result.max_length = _pair(_uint(a.get("maxLength")), _uint(b.get("maxLength")))
        result.min_items = _pair(_uint(a.get("minItems")) or 0, _uint(b.get("minItems")) or 0)
        result.max_items = _pair(_uint(a.get("maxItems")), _uint(b.get("maxItems")))
        result.min_properties = _pair(
            _uint(a.get("minProperties")) or 0, _uint(b.get("minProperties")) or 0
        )
        result.max_properties = _pair(_uint(a.get("maxProperties")), _uint(b.get("maxProperties")))
        result.unique_items = _pair(_bool(a.get("uniqueItems")), _bool(b.get("uniqueItems")))
        result.multiple_of = _pair(_number(a.get("multipleOf")), _number(b.get("multipleOf")))
        result.pattern = _pair(_str(a.get("pattern")), _str(b.get("pattern")))
        req_a, req_b = _names(a.get("required")), _names(b.get("required"))
        req_added = [n for n in req_b if n not in req_a]
        req_deleted = [n for n in req_a if n not in req_b]
        result.required = (req_added, req_deleted) if req_added or req_deleted else None
        result.discriminator = not json_equal(a.get("discriminator"), b.get("discriminator"))

    def _structure(self, result: SchemaDiff, base: Node, revision: Node) -> None:
        old, new = self.old, self.new
        props_a = old.entries(base, "properties")
        props_b = new.entries(revision, "properties")
        result.properties_added = sorted(n for n in props_b if n not in props_a)
        result.properties_deleted = sorted(n for n in props_a if n not in props_b)
        for name in sorted(props_a.keys() & props_b.keys()):
            child = self.diff(props_a[name], props_b[name])
            if child is not None:
                result.properties_modified[name] = child
        items_a = _schema_child(old, base, "items", boolean_false=True)
        items_b = _schema_child(new, revision, "items", boolean_false=True)
        result.items = self.diff(items_a, items_b)
        if items_a is None and items_b is not None and items_b.value is False:
            result.items_false = True
        elif items_b is None and items_a is not None and items_a.value is False:
            result.items_false = False
        result.additional = self.diff(
            _schema_child(old, base, "additionalProperties"),
            _schema_child(new, revision, "additionalProperties"),
        )
        result.negated = self.diff(
            _schema_child(old, base, "not"), _schema_child(new, revision, "not")
        )
        result.all_of = self._subschemas(base, revision, "allOf")
        result.any_of = self._subschemas(base, revision, "anyOf")
        result.one_of = self._subschemas(base, revision, "oneOf")

    def _one_of_wrap(self, base: Node, revision: Node) -> OneOfWrap | None:
        """newest oasdiff's oneOf wrapping: an object with properties and no ``oneOf`` became a
        ``oneOf`` with no type or properties of its own, holding some of the old properties."""
        a, b = base.data, revision.data
        if a.get("oneOf") or not self.old.entries(base, "properties"):
            return None
        if self.new.entries(revision, "properties") or types_of(b):
            return None
        members = b.get("oneOf")
        if not isinstance(members, list) or not members:
            return None
        alternatives = [self.new.item(revision, "oneOf", i) for i in range(len(members))]
        names = [set(self.new.entries(alt, "properties")) for alt in alternatives]
        props_a = self.old.entries(base, "properties")
        moved = tuple(sorted(n for n in props_a if any(n in found for found in names)))
        if not moved:
            return None
        preserved = any(self._equivalent(base, alt) for alt in alternatives)
        return OneOfWrap(moved, preserved)

    def _equivalent(self, base: Node, revision: Node) -> bool:
        """Same validation contract (oasdiff's ``SchemaRefsValidationEquivalent``): any
        difference beyond annotations (title, description, default, examples...) counts."""
        diff = self.diff(base, revision)
        return diff is None or _annotations_only(diff, set())

    # -- allOf / anyOf / oneOf: refs match by $ref, inline members by content then title -------

    def _null_wrap(self, base: Node, revision: Node) -> SchemaDiff | None:
        """A pure nullability change: one side is the other wrapped as ``oneOf``/``anyOf``
        ``[{type: "null"}, X]``.

        oasdiff (since its fix for issue 1088) compares X with the unwrapped side and reports one
        became-nullable (or not-nullable) instead of one-of, type and enum artifacts; a wrap
        that also changes X is compared as usual.
        """
        inner_a, inner_b = _null_wrapped(self.old, base), _null_wrapped(self.new, revision)
        if (inner_a is None) == (inner_b is None):
            return None
        if self.diff(inner_a or base, inner_b or revision) is not None:
            return None
        return SchemaDiff(
            base, revision, nullable=(inner_a is not None, inner_b is not None), null_wrap=True
        )

    def _subschemas(self, base: Node, revision: Node, key: str) -> SubschemasDiff | None:
        list_a = base.data.get(key)
        list_b = revision.data.get(key)
        list_a = list_a if isinstance(list_a, list) else []
        list_b = list_b if isinstance(list_b, list) else []
        if not list_a and not list_b:
            return None
        nodes_a = [self.old.item(base, key, i) for i in range(len(list_a))]
        nodes_b = [self.new.item(revision, key, i) for i in range(len(list_b))]
        result = SubschemasDiff()
        self._match_refs(nodes_a, nodes_b, result)
        self._match_inline(nodes_a, nodes_b, result)
        if key == "allOf":  # newer oasdiff: an annotation-only conjunct constrains nothing
            result.added = [s for s in result.added if not _annotation_only(nodes_b[s.index])]
            result.deleted = [s for s in result.deleted if not _annotation_only(nodes_a[s.index])]
        if not (result.added or result.deleted or result.modified):
            return None
        return result

    def _match_refs(self, nodes_a: list[Node], nodes_b: list[Node], out: SubschemasDiff) -> None:
        taken: set[int] = set()
        for i, node_a in enumerate(nodes_a):
            if node_a.ref is None:
                continue
            j = next(
                (j for j, n in enumerate(nodes_b) if n.ref == node_a.ref and j not in taken), None
            )
            if j is None:
                out.deleted.append(Subschema(i, _component(node_a.ref)))
                continue
            taken.add(j)
            self._add_modified(out, node_a, nodes_b[j], i, j)
        refs_a = [n.ref for n in nodes_a if n.ref is not None]
        for j, node_b in enumerate(nodes_b):
            if node_b.ref is None:
                continue
            if node_b.ref in refs_a:
                refs_a.remove(node_b.ref)
            else:
                out.added.append(Subschema(j, _component(node_b.ref)))

    def _match_inline(self, nodes_a: list[Node], nodes_b: list[Node], out: SubschemasDiff) -> None:
        added = self._not_contained(nodes_b, nodes_a, self._rdiff)
        deleted = self._not_contained(nodes_a, nodes_b, self.diff)
        titles_done: set[str] = {""}
        pairs: list[tuple[int, int]] = []
        for j in list(added):
            title = _title(nodes_b[j])
            if title in titles_done:
                continue
            for i in deleted:
                if _title(nodes_a[i]) == title:
                    pairs.append((i, j))
                    titles_done.add(title)
                    break
        for i, j in pairs:
            added.remove(j)
            deleted.remove(i)
        if len(added) == 1 and len(deleted) == 1:
            i, j = deleted[0], added[0]
            if not _title(nodes_a[i]) and not _title(nodes_b[j]):
                pairs.append((i, j))
                added, deleted = [], []
        for i, j in pairs:
            self._add_modified(out, nodes_a[i], nodes_b[j], i, j)
        out.added.extend(Subschema(j, "", _title(nodes_b[j])) for j in added)
        out.deleted.extend(Subschema(i, "", _title(nodes_a[i])) for i in deleted)

    def _rdiff(self, revision: Node, base: Node) -> SchemaDiff | None:
        return self.diff(base, revision)

    @staticmethod
    def _not_contained(
        nodes: list[Node],
        others: list[Node],
        compare: Callable[[Node, Node], SchemaDiff | None],
    ) -> list[int]:
        """Indexes of inline members with no identical member on the other side."""
        missing: list[int] = []
        matched: set[int] = set()
        for i, node in enumerate(nodes):
            if node.ref is not None:
                continue
            hit = next(
                (
                    j
                    for j, other in enumerate(others)
                    if other.ref is None and j not in matched and compare(node, other) is None
                ),
                None,
            )
            if hit is None:
                missing.append(i)
            else:
                matched.add(hit)
        return missing

    def _add_modified(self, out: SubschemasDiff, a: Node, b: Node, i: int, j: int) -> None:
        child = self.diff(a, b)
        if child is None:
            return
        out.modified.append(
            ModifiedSubschema(
                Subschema(i, _component(a.ref), _title(a)),
                Subschema(j, _component(b.ref), _title(b)),
                child,
            )
        )

    # -- the "list of types" pattern (type: X  <->  oneOf: [{type: X}, {type: Y}]) ------------

    def _list_of_types(self, base: Node, revision: Node) -> tuple[list[str], list[str]] | None:
        pattern_a = self._type_pattern(self.old, base)
        pattern_b = self._type_pattern(self.new, revision)
        # newest oasdiff: both sides must be a type pattern, and one of them a list
        if pattern_a is None or pattern_b is None or not (pattern_a[1] or pattern_b[1]):
            return None
        if set(pattern_a[0]) == set(pattern_b[0]) and len(pattern_a[0]) == len(pattern_b[0]):
            return None
        types_a, types_b = set(pattern_a[0]), set(pattern_b[0])
        added, deleted = sorted(types_b - types_a), sorted(types_a - types_b)
        return (added, deleted) if added or deleted else None

    @staticmethod
    def _type_pattern(resolver: Resolver, node: Node) -> tuple[list[str], bool] | None:
        """(types, is_list) of a plain ``type`` or a oneOf/anyOf of simple typed schemas."""
        data = node.data
        if "not" in data or data.get("allOf") or data.get("properties"):
            return None
        types = types_of(data)
        if types:
            return ([types[0]], False)
        for key in ("oneOf", "anyOf"):
            members = data.get(key)
            if not isinstance(members, list):
                continue
            found: list[str] = []
            for index in range(len(members)):
                member = resolver.item(node, key, index).data
                member_types = types_of(member)
                if len(member_types) != 1 or any(
                    member.get(k) for k in ("properties", "oneOf", "anyOf", "allOf")
                ):
                    found = []
                    break
                found.append(member_types[0])
            if found:
                return (found, True)
        return None


_SUBSCHEMA_KEYS = ("items", "additionalProperties", "not")
_ANNOTATIONS = frozenset(
    {"title", "description", "example", "examples", "default", "externalDocs", "$comment"}
)
"""Keywords that describe a schema without constraining its instances."""


def _annotations_only(diff: SchemaDiff, seen: set[int]) -> bool:
    """True when a diff tree holds nothing but annotation changes."""
    if id(diff) in seen:
        return True
    seen.add(id(diff))
    a, b = diff.base.data, diff.revision.data
    if diff.null_wrap or diff.keywords or diff.discriminator or diff.list_of_types:
        return False
    if _bool(a.get("deprecated")) != _bool(b.get("deprecated")):
        return False
    if (
        any(getattr(diff, name) is not None for name in _VALIDATION_FIELDS)
        or diff.properties_added
        or diff.properties_deleted
    ):
        return False
    changed = (a.keys() | b.keys()) - _HANDLED - _ANNOTATIONS
    if any(not json_equal(a.get(k), b.get(k)) for k in changed):
        return False
    if isinstance(diff.base.value, dict) != isinstance(diff.revision.value, dict):
        return False
    if any(_shape(a.get(k)) != _shape(b.get(k)) for k in _SUBSCHEMA_KEYS):
        return False
    children = [*diff.properties_modified.values(), diff.items, diff.additional, diff.negated]
    for sub in (diff.all_of, diff.any_of, diff.one_of):
        if sub is None:
            continue
        if sub.added or sub.deleted:
            return False
        children.extend(member.diff for member in sub.modified)
    return all(child is None or _annotations_only(child, seen) for child in children)


_VALIDATION_FIELDS = (
    "types",
    "format",
    "enum",
    "nullable",
    "read_only",
    "write_only",
    "minimum",
    "maximum",
    "min_length",
    "max_length",
    "min_items",
    "max_items",
    "min_properties",
    "max_properties",
    "unique_items",
    "multiple_of",
    "pattern",
    "required",
)
"""SchemaDiff fields that change what a schema accepts (``default`` is an annotation)."""


def _annotation_only(node: Node) -> bool:
    """An inline schema that only annotates (title, description...): it accepts everything."""
    return node.ref is None and isinstance(node.value, dict) and node.data.keys() <= _ANNOTATIONS


def _null_wrapped(resolver: Resolver, node: Node) -> Node | None:
    """X when ``node`` is just ``oneOf``/``anyOf: [{type: "null"}, X]`` (in either order)."""
    data = node.data
    for key in ("oneOf", "anyOf"):
        members = data.get(key)
        if not isinstance(members, list) or len(members) != 2:
            continue
        if not (data.keys() - {key}) <= _ANNOTATIONS:
            return None
        pair = [resolver.item(node, key, i) for i in range(2)]
        nulls = [m for m in pair if _is_null_schema(m)]
        if len(nulls) == 1:
            return pair[1] if nulls[0] is pair[0] else pair[0]
    return None


def _is_null_schema(node: Node) -> bool:
    data = node.data
    return types_of(data) == ["null"] and (data.keys() - {"type"}) <= _ANNOTATIONS


def _shape(value: Any) -> Any:
    """What a sub-schema member is, for 'added/removed' purposes: absent, a flag or a schema."""
    if isinstance(value, dict | Node):
        return "schema"
    return value if isinstance(value, bool) else None


def _schema_child(
    resolver: Resolver, parent: Node, key: str, *, boolean_false: bool = False
) -> Node | None:
    """A sub-schema member (items, not, additionalProperties) when it is a schema object.

    ``boolean_false`` also admits ``false`` (3.1 ``items: false`` is a schema in oasdiff, while
    ``additionalProperties: false`` is a flag there).
    """
    raw = parent.data.get(key)
    if not (isinstance(raw, dict | Node) or (boolean_false and raw is False)):
        return None
    return resolver.child(parent, key)


def _names(value: Any) -> list[str]:
    if not isinstance(value, list):
        return []
    seen: list[str] = []
    for item in value:
        if isinstance(item, str) and item not in seen:
            seen.append(item)
    return seen


def _component(ref: str | None) -> str:
    return "" if ref is None else ref[ref.rfind("/") + 1 :]


def _title(node: Node) -> str:
    return _str(node.data.get("title"))


def _enum_diff(enum_a: Any, enum_b: Any) -> EnumDiff | None:
    list_a = enum_a if isinstance(enum_a, list) else None
    list_b = enum_b if isinstance(enum_b, list) else None
    values_a = list_a or []
    values_b = list_b or []
    deleted = [v for v in values_a if not any(json_equal(v, w) for w in values_b)]
    added = [v for v in values_b if not any(json_equal(v, w) for w in values_a)]
    if not added and not deleted:
        return None
    return EnumDiff(added, deleted, list_a is None and list_b is not None)


# -- findings ----------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Hit:
    """One check that fired on a schema pair, before it is tied to an operation."""

    id: str
    args: tuple[str, ...]
    """Message arguments, already printed; NAME/STATUS/MEDIA are placeholders."""
    path: str = ""
    """oasdiff's ``propertyPath`` of the property, relative to the schema walked."""
    leaf: str = ""
    """oasdiff's ``propertyName`` (empty for items, allOf members...)."""
    side: str = "new"
    doc: str = ""
    pointer: str = ""

    @property
    def name(self) -> str:
        """The property's full name as oasdiff prints it (``a/b``, ``/items/``...)."""
        return f"{self.path}/{self.leaf}" if self.path else self.leaf

    def rebased(self, prefix: str) -> Hit:
        """The same hit seen from a schema in which the walked schema sits at ``prefix``."""
        return Hit(
            self.id,
            self.args,
            _join_path(prefix, self.path),
            self.leaf,
            self.side,
            self.doc,
            self.pointer,
        )


def _join_path(prefix: str, path: str) -> str:
    if not prefix:
        return path
    if not path:
        return prefix
    if path.startswith("/"):
        return prefix + path
    return f"{prefix}/{path}"


def full_path(path: str, leaf: str) -> str:
    """The ``propertyPath`` of a node's children given the node's own path and name."""
    if not leaf:
        return path
    return f"{path}/{leaf}" if path else leaf


@dataclass(frozen=True, slots=True)
class Context:
    """Where a schema is used: which checks apply and how types compare."""

    direction: str
    """``request`` or ``response``."""
    strongly_typed: bool
    """JSON media types: a number is not a string (type changes to string are breaking)."""


def _at(diff: SchemaDiff, keyword: str, side: str = "new") -> tuple[str, str, str]:
    """(side, doc, pointer) of a keyword of the node (the node itself when absent)."""
    node = diff.revision if side == "new" else diff.base
    pointer = node.pointer
    if keyword and keyword in node.data:
        pointer = f"{pointer}/{escape(keyword)}"
    return side, node.doc, pointer


def _hit(
    diff: SchemaDiff, check: str, args: tuple[str, ...], keyword: str, side: str = "new"
) -> Hit:
    where = _at(diff, keyword, side)
    return Hit(check, args, side=where[0], doc=where[1], pointer=where[2])


def _type_text(types: Sequence[str]) -> str:
    return ", ".join(types)


def _type_contained(to: list[str], frm: list[str], strongly_typed: bool) -> bool:
    """oasdiff's isTypeContained: integer widens to number; loosely typed anything to string."""
    if to == ["number"] and frm == ["integer"]:
        return True
    if not strongly_typed:
        return not to or to == ["string"]
    return False


_WIDER_FORMATS = {
    "number": {("double", "float")},
    "integer": {("int64", "int32"), ("bigint", "int32"), ("bigint", "int64")},
    "string": {("date-time", "date"), ("date-time", "time")},
}


def _format_contained(revision_types: list[str], to: str, frm: str) -> bool:
    if len(revision_types) != 1:
        return False
    return (to, frm) in _WIDER_FORMATS.get(revision_types[0], set())


def type_change(diff: SchemaDiff) -> tuple[list[str], list[str]] | None:
    """(added, deleted) types ignoring ``null`` (nullability has checks of its own)."""
    if diff.types is None:
        return None
    added, deleted = without_null(diff.types[0]), without_null(diff.types[1])
    return (added, deleted) if added or deleted else None


def breaking_type_change(diff: SchemaDiff, strongly_typed: bool, widening_ok: bool) -> bool:
    """Whether a type/format change breaks: ``widening_ok`` for requests, narrowing for responses."""
    change = type_change(diff)
    if change is not None:
        added, deleted = change
        if widening_ok:
            return not _type_contained(added, deleted, strongly_typed)
        return not _type_contained(deleted, added, strongly_typed)
    if diff.format is not None:
        revision_types = without_null(types_of(diff.revision.data))
        frm, to = diff.format
        if widening_ok:
            return not _format_contained(revision_types, to, frm)
        return not _format_contained(revision_types, frm, to)
    return False


def type_args(diff: SchemaDiff) -> tuple[str, str, str, str]:
    """(base type, base format, revision type, revision format) as printed in messages."""
    return (
        _type_text(types_of(diff.base.data)),
        _str(diff.base.data.get("format")),
        _type_text(types_of(diff.revision.data)),
        _str(diff.revision.data.get("format")),
    )


def nullability(diff: SchemaDiff) -> str:
    """``nullable``, ``not-nullable`` or "" for what happened to null being allowed."""
    if diff.nullable is not None:
        return "not-nullable" if diff.nullable[0] else "nullable"
    if diff.types is not None:
        added, deleted = diff.types
        if "null" in added:
            return "nullable"
        if "null" in deleted:
            return "not-nullable"
    return ""


def lost_null(diff: SchemaDiff) -> bool:
    """Null stopped being allowed in a form every oasdiff version reports as such.

    ``nullable: true`` dropped, or ``null`` removed from a type list that still names a type
    (an untyped revision accepts null, so newer oasdiff stays silent there).
    """
    if diff.nullable is not None:
        return bool(diff.nullable[0])
    if diff.types is None or "null" not in diff.types[1]:
        return False
    return bool(types_of(diff.revision.data))


def gained_null(diff: SchemaDiff) -> bool:
    """Null became allowed: ``nullable: true`` set, or ``null`` added to a typed schema's types
    (an untyped base already accepted null)."""
    if diff.nullable is not None:
        return bool(diff.nullable[1])
    if diff.types is None or "null" not in diff.types[0]:
        return False
    return bool(types_of(diff.base.data))


def _increased(pair: Pair) -> bool:
    return pair[0] is not None and pair[1] is not None and pair[1] > pair[0]


def _decreased(pair: Pair) -> bool:
    return pair[0] is not None and pair[1] is not None and pair[1] < pair[0]


def _both(pair: Pair | None) -> bool:
    return pair is not None and pair[0] is not None and pair[1] is not None


def _flag(node: Node, keyword: str) -> bool:
    return node.data.get(keyword) is True


# -- request-side node checks ------------------------------------------------------------------


def request_node_hits(diff: SchemaDiff, ctx: Context, body: bool) -> Iterator[Hit]:
    """Checks on one request schema node: the body itself (``body``) or a property."""
    kind = "body" if body else "property"
    prefix: tuple[str, ...] = () if body else (NAME,)
    if diff.false_schema is not None:
        yield _false_hit(diff, f"request-{kind}", prefix)
        return
    read_only = not body and _flag(diff.revision, "readOnly")
    if body:
        yield from _wrapped_hits(diff, "request")
    yield from _request_type(diff, ctx, kind, prefix, read_only)
    yield from _nullable_hits(diff, "request", kind, prefix)
    if not read_only:
        yield from _list_of_types_hits(diff, "request", kind, prefix)
    yield from _request_enum(diff, body, prefix, read_only)
    yield from _request_bounds(diff, kind, prefix, read_only)
    if not body:
        yield from _request_pattern(diff)
        for value in extensible_enum_removed(diff):
            yield _hit(
                diff,
                "request-property-x-extensible-enum-value-removed",
                (value, NAME),
                X_ENUM,
                "old",
            )
    yield from _default_hits(diff, "request", body)
    yield from _subschema_hits(diff, "request", kind, prefix, ctx)
    yield from _discriminator_hits(diff, "request", kind, prefix)
    yield from keyword_hits(diff, "request", kind)


X_ENUM = "x-extensible-enum"


def extensible_enum_removed(diff: SchemaDiff) -> list[str]:
    """Values dropped from an ``x-extensible-enum`` list kept on both sides (strings only)."""
    before, after = diff.base.data.get(X_ENUM), diff.revision.data.get(X_ENUM)
    if not isinstance(before, list) or not isinstance(after, list) or before == after:
        return []
    if not all(isinstance(v, str) for v in (*before, *after)):
        return []
    return [value for value in before if value not in after]


def _request_type(
    diff: SchemaDiff, ctx: Context, kind: str, prefix: tuple[str, ...], read_only: bool
) -> Iterator[Hit]:
    if type_change(diff) is None and diff.format is None:
        return
    if diff.list_of_types is not None or diff.one_of_wrap is not None or read_only:
        return
    breaking = breaking_type_change(diff, ctx.strongly_typed, widening_ok=True)
    check = f"request-{kind}-type-{'changed' if breaking else 'generalized'}"
    yield _hit(diff, check, (*prefix, *type_args(diff)), "type")


def _nullable_hits(
    diff: SchemaDiff, direction: str, kind: str, prefix: tuple[str, ...]
) -> Iterator[Hit]:
    change = nullability(diff)
    if not change or (change == "not-nullable" and not (diff.null_wrap or lost_null(diff))):
        return
    keyword = "nullable" if diff.nullable is not None else "type"
    args = prefix if direction == "request" or kind == "body" else (*prefix, STATUS)
    yield _hit(diff, f"{direction}-{kind}-became-{change}", args, keyword)


def join_types(types: Sequence[str]) -> str:
    """Types as oasdiff lists them in a message: ``a``, ``a and b``, ``a, b and c``."""
    if len(types) < 2:
        return "".join(types)
    return ", ".join(types[:-1]) + " and " + types[-1]


def list_of_types_change(diff: SchemaDiff, narrowing_first: bool) -> tuple[str, str] | None:
    """(``widened``/``narrowed``, types) of a list-of-types change, or None.

    oasdiff names the change by what breaks on its side: for a request (``narrowing_first``)
    any removed type makes it narrowed, for a response any added type makes it widened.
    """
    change = diff.list_of_types
    if change is None:
        return None
    added, deleted = change
    if narrowing_first:
        return ("narrowed", join_types(deleted)) if deleted else ("widened", join_types(added))
    return ("widened", join_types(added)) if added else ("narrowed", join_types(deleted))


def _list_of_types_hits(
    diff: SchemaDiff, direction: str, kind: str, prefix: tuple[str, ...]
) -> Iterator[Hit]:
    """``type: X`` <-> ``oneOf``/``anyOf`` of simple typed schemas gaining or losing types."""
    change = list_of_types_change(diff, narrowing_first=direction == "request")
    if change is None:
        return
    word, types = change
    tail: tuple[str, ...] = (MEDIA, STATUS) if direction == "response" else (MEDIA,)
    yield _hit(diff, f"{direction}-{kind}-list-of-types-{word}", (*prefix, types, *tail), "type")


def _request_enum(
    diff: SchemaDiff, body: bool, prefix: tuple[str, ...], read_only: bool
) -> Iterator[Hit]:
    enum = diff.enum
    if enum is None:
        return
    if body:
        if enum.became_enum:
            yield _hit(diff, "request-body-became-enum", (), "enum")
        for value in enum.deleted:
            yield _hit(diff, "request-body-enum-value-removed", (go_value(value),), "enum", "old")
        return
    if enum.became_enum:
        yield _hit(diff, "request-property-became-enum", prefix, "enum")
    removed = (
        "request-read-only-property-enum-value-removed"
        if read_only
        else "request-property-enum-value-removed"
    )
    for value in enum.deleted:
        yield _hit(diff, removed, (go_value(value), NAME), "enum", "old")
    for value in enum.added:
        yield _hit(diff, "request-property-enum-value-added", (go_value(value), NAME), "enum")


def _request_bounds(
    diff: SchemaDiff, kind: str, prefix: tuple[str, ...], read_only: bool
) -> Iterator[Hit]:
    ro = kind == "property" and read_only
    yield from _narrowing_bound(
        diff, diff.maximum, "max", "maximum", kind, prefix, ro, _go_float, down=True
    )
    yield from _narrowing_bound(
        diff, diff.max_length, "max-length", "maxLength", kind, prefix, ro, go_uint, down=True
    )
    yield from _narrowing_bound(
        diff, diff.minimum, "min", "minimum", kind, prefix, ro, _go_float, down=False
    )
    yield from _min_length(diff, kind, prefix)
    yield from _min_count(diff, diff.min_items, "min-items", "minItems", kind, prefix, ro)
    yield from _min_count(
        diff, diff.min_properties, "min-properties", "minProperties", kind, prefix, ro
    )
    yield from _narrowing_bound(
        diff, diff.max_items, "max-items", "maxItems", kind, prefix, ro, go_uint, down=True
    )
    yield from _narrowing_bound(
        diff,
        diff.max_properties,
        "max-properties",
        "maxProperties",
        kind,
        prefix,
        ro,
        go_uint,
        down=True,
    )
    yield from _request_unique_items(diff, kind, prefix, ro)
    yield from _request_multiple_of(diff, kind, prefix, ro)
    if diff.keywords:
        yield from _request_exclusive(diff, kind, prefix, ro)
    for label, keyword, action, value in bound_edits(diff):
        check = f"request-{kind}-{label}-{action}"
        if check in HAND_WRITTEN_BOUNDS or (ro and action == "set"):
            continue  # a read-only property is not sent: only a bound dropped is reported
        yield _hit(diff, check, (*prefix, value), keyword, _BOUND_SIDE[action])


def integer_multiple(a: float, b: float) -> bool | None:
    """Whether every multiple of ``a`` is a multiple of ``b`` (a/b is an integer).

    oasdiff has decided this two ways: an exact decimal ratio, and earlier a float ratio within a
    relative 1e-9 of an integer. None when the two disagree (e.g. 0.3 over 0.1), so no check
    claims a verdict some oasdiff version would not give.
    """
    if b == 0 or not (math.isfinite(a) and math.isfinite(b)):
        return False
    ratio = a / b
    approx = math.isfinite(ratio) and abs(ratio - round(ratio)) <= 1e-9 * max(abs(ratio), 1)
    exact = (Fraction(repr(a)) / Fraction(repr(b))).denominator == 1
    return exact if exact == approx else None


def _request_multiple_of(
    diff: SchemaDiff, kind: str, prefix: tuple[str, ...], read_only: bool
) -> Iterator[Hit]:
    """multipleOf set/changed narrows a request, unset or a divisor of the old widens it."""
    pair = diff.multiple_of
    if pair is None or (read_only and pair[1] is not None):
        return  # a read-only property is not sent, so only dropping the rule is reported
    frm, to = pair
    if frm is None:
        args = (*prefix, _go_float(to))
        yield _hit(diff, f"request-{kind}-multiple-of-set", args, "multipleOf")
    elif to is None:
        args = (*prefix, _go_float(frm))
        yield _hit(diff, f"request-{kind}-multiple-of-unset", args, "multipleOf", "old")
    else:
        widened = integer_multiple(frm, to)
        if widened is None:
            return
        word = "generalized" if widened else "changed"
        args = (*prefix, _go_float(frm), _go_float(to))
        yield _hit(diff, f"request-{kind}-multiple-of-{word}", args, "multipleOf")


def _request_unique_items(
    diff: SchemaDiff, kind: str, prefix: tuple[str, ...], read_only: bool
) -> Iterator[Hit]:
    """uniqueItems turned on narrows a request (not for a read-only property); off widens it."""
    if diff.unique_items is None:
        return
    if diff.unique_items[1]:
        if not read_only:
            yield _hit(diff, f"request-{kind}-unique-items-set", prefix, "uniqueItems")
    else:
        yield _hit(diff, f"request-{kind}-unique-items-unset", prefix, "uniqueItems", "old")


def _narrowing_bound(
    diff: SchemaDiff,
    pair: Pair | None,
    label: str,
    keyword: str,
    kind: str,
    prefix: tuple[str, ...],
    read_only: bool,
    show: Callable[[Any], str],
    *,
    down: bool,
) -> Iterator[Hit]:
    """max/maxLength (narrowing = decrease) and min (narrowing = increase) on a request."""
    if pair is None:
        return
    if pair[0] is None and pair[1] is not None:
        if not read_only:
            yield _hit(diff, f"request-{kind}-{label}-set", (*prefix, show(pair[1])), keyword)
        return
    if not _both(pair):
        return
    narrowed = _decreased(pair) if down else _increased(pair)
    word_narrow, word_widen = ("decreased", "increased") if down else ("increased", "decreased")
    if narrowed:
        check = f"request-{kind}-{label}-{word_narrow}"
        if read_only:
            check = f"request-read-only-property-{label}-{word_narrow}"
        yield _hit(diff, check, (*prefix, show(pair[1])), keyword)
    else:
        yield _hit(
            diff,
            f"request-{kind}-{label}-{word_widen}",
            (*prefix, show(pair[0]), show(pair[1])),
            keyword,
        )


def _min_length(diff: SchemaDiff, kind: str, prefix: tuple[str, ...]) -> Iterator[Hit]:
    pair = diff.min_length
    if pair is None or 0 in pair:
        return  # absent reads as 0: a bound appearing or disappearing is the set/unset check
    word = "increased" if _increased(pair) else "decreased"
    yield _hit(
        diff,
        f"request-{kind}-min-length-{word}",
        (*prefix, go_uint(pair[0]), go_uint(pair[1])),
        "minLength",
    )


def _min_count(
    diff: SchemaDiff,
    pair: Pair | None,
    label: str,
    keyword: str,
    kind: str,
    prefix: tuple[str, ...],
    read_only: bool,
) -> Iterator[Hit]:
    """minItems/minProperties raised on a request (a read-only property is not sent).

    A minItems/minProperties where there was none (absent reads as 0) is oasdiff's set check,
    not increased.
    """
    if pair is None or not _increased(pair) or read_only:
        return
    if pair[0] == 0 and label != "min-items":
        return  # a first minProperties is the generated set check (see bound_edits)
    word = "set" if pair[0] == 0 else "increased"
    yield _hit(diff, f"request-{kind}-{label}-{word}", (*prefix, go_uint(pair[1])), keyword)


def _request_pattern(diff: SchemaDiff) -> Iterator[Hit]:
    pair = diff.pattern
    if pair is None:
        return
    frm, to = pair
    if not to:
        yield _hit(diff, "request-property-pattern-removed", (frm, NAME), "pattern", "old")
    elif not frm:
        yield _hit(diff, "request-property-pattern-added", (to, NAME), "pattern")
    else:
        check = (
            "request-property-pattern-generalized"
            if to == ".*"
            else "request-property-pattern-changed"
        )
        yield _hit(diff, check, (NAME, frm, to), "pattern")


def _default_hits(diff: SchemaDiff, direction: str, body: bool) -> Iterator[Hit]:
    pair = diff.default
    if pair is None:
        return
    frm, to = pair
    kind = "body" if body else "property"
    lead = MEDIA if body else NAME
    tail: tuple[str, ...] = (STATUS,) if direction == "response" else ()
    if frm is None:
        yield _hit(
            diff, f"{direction}-{kind}-default-value-added", (lead, go_value(to), *tail), "default"
        )
    elif to is None:
        yield _hit(
            diff,
            f"{direction}-{kind}-default-value-removed",
            (lead, go_value(frm), *tail),
            "default",
            "old",
        )
    else:
        yield _hit(
            diff,
            f"{direction}-{kind}-default-value-changed",
            (lead, go_value(frm), go_value(to), *tail),
            "default",
        )


def _subschema_hits(
    diff: SchemaDiff, direction: str, kind: str, prefix: tuple[str, ...], ctx: Context
) -> Iterator[Hit]:
    tail: tuple[str, ...] = (STATUS,) if direction == "response" else ()
    for label, sub in (("all-of", diff.all_of), ("any-of", diff.any_of), ("one-of", diff.one_of)):
        if sub is None:
            continue
        if label != "all-of" and diff.list_of_types is not None:
            continue
        if label == "one-of" and kind == "body" and diff.one_of_wrap is not None:
            continue  # the wrapping is the finding; a property's one-of-added still reports it
        keyword = {"all-of": "allOf", "any-of": "anyOf", "one-of": "oneOf"}[label]
        if sub.added:
            args = (subschemas_text(sub.added), *prefix, *tail)
            yield _hit(diff, f"{direction}-{kind}-{label}-added", args, keyword)
        if sub.deleted:
            args = (subschemas_text(sub.deleted), *prefix, *tail)
            yield _hit(diff, f"{direction}-{kind}-{label}-removed", args, keyword, "old")


def _wrapped_hits(diff: SchemaDiff, direction: str) -> Iterator[Hit]:
    """One finding per body moved into a ``oneOf`` (a warning when an alternative keeps the
    original schema: only overlapping alternatives can then reject an old payload)."""
    wrap = diff.one_of_wrap
    if wrap is None:
        return
    suffix = "-original-preserved" if wrap.preserved else ""
    yield _hit(diff, f"{direction}-body-wrapped-in-one-of{suffix}", (), "oneOf")


def _discriminator(node: Node) -> tuple[str, dict[str, str]] | None:
    raw = node.data.get("discriminator")
    if not isinstance(raw, dict):
        return None
    mapping = raw.get("mapping")
    pairs = {str(k): go_value(v) for k, v in mapping.items()} if isinstance(mapping, dict) else {}
    return _str(raw.get("propertyName")), pairs


def _discriminator_hits(
    diff: SchemaDiff, direction: str, kind: str, prefix: tuple[str, ...]
) -> Iterator[Hit]:
    """Discriminator added, removed, renamed or remapped (changelog information)."""
    if not diff.discriminator:
        return
    before, after = _discriminator(diff.base), _discriminator(diff.revision)
    check = f"{direction}-{kind}-discriminator"
    tail: tuple[str, ...] = (STATUS,) if direction == "response" else ()
    if before is None and after is not None:
        yield _hit(diff, f"{check}-added", (*prefix, *tail), "discriminator")
        return
    if after is None and before is not None:
        yield _hit(diff, f"{check}-removed", (*prefix, *tail), "discriminator", "old")
        return
    if before is None or after is None:
        return
    if before[0] != after[0]:
        args = (*prefix, before[0], after[0], *tail)
        yield _hit(diff, f"{check}-property-name-changed", args, "discriminator")
    added = sorted(after[1].keys() - before[1].keys())
    deleted = sorted(before[1].keys() - after[1].keys())
    if added:
        yield _hit(
            diff, f"{check}-mapping-added", (", ".join(added), *prefix, *tail), "discriminator"
        )
    if deleted:
        args = (", ".join(deleted), *prefix, *tail)
        yield _hit(diff, f"{check}-mapping-deleted", args, "discriminator", "old")
    for key in sorted(before[1].keys() & after[1].keys()):
        if before[1][key] != after[1][key]:
            args = (key, before[1][key], after[1][key], *prefix, *tail)
            yield _hit(diff, f"{check}-mapping-changed", args, "discriminator")


# -- response-side node checks -----------------------------------------------------------------


def response_node_hits(diff: SchemaDiff, ctx: Context, body: bool) -> Iterator[Hit]:
    """Checks on one response schema node: the body itself (``body``) or a property."""
    kind = "body" if body else "property"
    prefix: tuple[str, ...] = () if body else (NAME,)
    if diff.false_schema is not None:  # oasdiff names no status for the body
        yield _false_hit(diff, f"response-{kind}", () if body else (NAME, STATUS))
        return
    write_only = not body and _flag(diff.revision, "writeOnly")
    if body:
        yield from _wrapped_hits(diff, "response")
    yield from _response_type(diff, ctx, kind, prefix)
    yield from _nullable_hits(diff, "response", kind, prefix)
    yield from _list_of_types_hits(diff, "response", kind, prefix)
    yield from _response_enum(diff, body, write_only)
    if not write_only:
        yield from _response_bounds(diff, kind, prefix)
    if not body:
        yield from _response_pattern(diff)
    yield from _default_hits(diff, "response", body)
    yield from _subschema_hits(diff, "response", kind, prefix, ctx)
    yield from _discriminator_hits(diff, "response", kind, prefix)
    yield from keyword_hits(diff, "response", kind)


def false_schema_id(scope: str, became_false: bool) -> str:
    """``{scope}-schema-became-false`` or ``-not-false`` (scope: ``request-body``...)."""
    return f"{scope}-schema-became-{'false' if became_false else 'not-false'}"


def _false_hit(diff: SchemaDiff, scope: str, args: tuple[str, ...]) -> Hit:
    """The one finding of a node that became, or stopped being, the boolean ``false``."""
    assert diff.false_schema is not None
    return _hit(diff, false_schema_id(scope, diff.false_schema), args, "")


def _items_false_hit(diff: SchemaDiff, direction: str) -> Iterator[Hit]:
    """An ``items: false`` appearing or leaving, named ``<property>/items`` as oasdiff does."""
    if diff.items_false is None:
        return
    node = diff.revision if diff.items_false else diff.base
    side = "new" if diff.items_false else "old"
    items = Node(None, node.doc, f"{node.pointer}/items")
    args: tuple[str, ...] = (NAME, STATUS) if direction == "response" else (NAME,)
    check = false_schema_id(f"{direction}-property", diff.items_false)
    yield _prop_hit(items, check, args, "items", side)


def _response_type(
    diff: SchemaDiff, ctx: Context, kind: str, prefix: tuple[str, ...]
) -> Iterator[Hit]:
    if type_change(diff) is None and diff.format is None:
        return
    if diff.list_of_types is not None or diff.one_of_wrap is not None:
        return
    if breaking_type_change(diff, ctx.strongly_typed, widening_ok=False):
        yield _hit(
            diff, f"response-{kind}-type-changed", (*prefix, *type_args(diff), STATUS), "type"
        )


def _response_enum(diff: SchemaDiff, body: bool, write_only: bool) -> Iterator[Hit]:
    enum = diff.enum
    if enum is None:
        return
    if body:
        for value in enum.deleted:
            yield _hit(
                diff,
                "response-mediatype-enum-value-removed",
                (MEDIA, go_value(value)),
                "enum",
                "old",
            )
        return
    added = (
        "response-write-only-property-enum-value-added"
        if write_only
        else "response-property-enum-value-added"
    )
    for value in enum.added:
        yield _hit(diff, added, (go_value(value), NAME, STATUS), "enum")
    for value in enum.deleted:
        yield _hit(
            diff,
            "response-property-enum-value-removed",
            (go_value(value), NAME, STATUS),
            "enum",
            "old",
        )


def _response_bounds(diff: SchemaDiff, kind: str, prefix: tuple[str, ...]) -> Iterator[Hit]:
    tail: tuple[str, ...] = () if kind == "body" else (STATUS,)
    if _both(diff.maximum) and diff.maximum is not None and _increased(diff.maximum):
        frm, to = diff.maximum
        yield _hit(
            diff,
            f"response-{kind}-max-increased",
            (*prefix, _go_float(frm), _go_float(to), *tail),
            "maximum",
        )
    if _both(diff.minimum) and diff.minimum is not None and _decreased(diff.minimum):
        frm, to = diff.minimum
        yield _hit(
            diff,
            f"response-{kind}-min-decreased",
            (*prefix, _go_float(frm), _go_float(to), *tail),
            "minimum",
        )
    pair = diff.max_length
    if pair is not None and pair[0] is not None:
        if pair[1] is None:
            yield _hit(
                diff,
                f"response-{kind}-max-length-unset",
                (*prefix, go_uint(pair[0]), *tail),
                "maxLength",
                "old",
            )
        elif _increased(pair):
            args = (*prefix, go_uint(pair[0]), go_uint(pair[1]), *tail)
            yield _hit(diff, f"response-{kind}-max-length-increased", args, "maxLength")
    pair = diff.min_length
    if pair is not None and _decreased(pair) and pair[1] > 0:  # to 0: the unset check
        args = (*prefix, go_uint(pair[0]), go_uint(pair[1]), *tail)
        yield _hit(diff, f"response-{kind}-min-length-decreased", args, "minLength")
    pair = diff.min_items
    if pair is not None and _decreased(pair):
        if pair[1] == 0:  # no bound left (absent reads as 0): oasdiff's unset check, not decreased
            args = (*prefix, go_uint(pair[0]), *tail)
            yield _hit(diff, f"response-{kind}-min-items-unset", args, "minItems", "old")
        else:
            args = (*prefix, go_uint(pair[0]), go_uint(pair[1]), *tail)
            yield _hit(diff, f"response-{kind}-min-items-decreased", args, "minItems")
    pair = diff.min_properties
    # newer oasdiff leaves a bound dropped to nothing to its own unset check: a positive new value
    # fires in every version
    if pair is not None and _decreased(pair) and pair[1] > 0:
        args = (*prefix, go_uint(pair[0]), go_uint(pair[1]), *tail)
        yield _hit(diff, f"response-{kind}-min-properties-decreased", args, "minProperties")
    if diff.unique_items is not None and not diff.unique_items[1]:
        args = (*prefix, *tail)
        yield _hit(diff, f"response-{kind}-unique-items-unset", args, "uniqueItems", "old")
    pair = diff.max_items
    if pair is not None and _both(pair) and _increased(pair):
        args = (*prefix, go_uint(pair[0]), go_uint(pair[1]), *tail)
        yield _hit(diff, f"response-{kind}-max-items-increased", args, "maxItems")
    pair = diff.max_properties
    if pair is not None and _both(pair) and _increased(pair):
        args = (*prefix, go_uint(pair[0]), go_uint(pair[1]), *tail)
        yield _hit(diff, f"response-{kind}-max-properties-increased", args, "maxProperties")
    yield from _response_multiple_of(diff, kind, prefix, tail)
    if diff.keywords:
        yield from _response_exclusive(diff, kind, prefix, tail)
    for label, keyword, action, value in bound_edits(diff):
        check = f"response-{kind}-{label}-{action}"
        if check not in HAND_WRITTEN_BOUNDS:
            yield _hit(diff, check, (*prefix, value, *tail), keyword, _BOUND_SIDE[action])


def _response_multiple_of(
    diff: SchemaDiff, kind: str, prefix: tuple[str, ...], tail: tuple[str, ...]
) -> Iterator[Hit]:
    """multipleOf unset/changed widens a response; a multiple of the old one only narrows it."""
    pair = diff.multiple_of
    if pair is None or pair[0] is None:
        return
    frm, to = pair
    if to is None:
        args = (*prefix, _go_float(frm), *tail)
        yield _hit(diff, f"response-{kind}-multiple-of-unset", args, "multipleOf", "old")
        return
    narrowed = integer_multiple(to, frm)
    if narrowed is None:
        return
    word = "specialized" if narrowed else "changed"
    args = (*prefix, _go_float(frm), _go_float(to), *tail)
    yield _hit(diff, f"response-{kind}-multiple-of-{word}", args, "multipleOf")


def _response_pattern(diff: SchemaDiff) -> Iterator[Hit]:
    pair = diff.pattern
    if pair is None:
        return
    frm, to = pair
    if not to:
        yield _hit(diff, "response-property-pattern-removed", (NAME, frm, STATUS), "pattern", "old")
    elif not frm:
        yield _hit(diff, "response-property-pattern-added", (NAME, to, STATUS), "pattern")
    else:
        yield _hit(diff, "response-property-pattern-changed", (NAME, frm, to, STATUS), "pattern")


# -- bounds set and unset (oasdiff's generated *-{keyword}-set/-unset checks) -----------------

BOUND_LABELS = (
    ("max", "maximum"),
    ("min", "minimum"),
    ("multiple-of", "multipleOf"),
    ("max-length", "maxLength"),
    ("min-length", "minLength"),
    ("max-items", "maxItems"),
    ("min-items", "minItems"),
    ("max-properties", "maxProperties"),
    ("min-properties", "minProperties"),
    ("min-contains", "minContains"),
    ("max-contains", "maxContains"),
    ("exclusive-min", "exclusiveMinimum"),
    ("exclusive-max", "exclusiveMaximum"),
)
"""(id label, keyword) of the bounds whose appearing or disappearing oasdiff reports on its
own, at body, property, parameter and response-header level."""

HAND_WRITTEN_BOUNDS = frozenset(
    {
        *(
            f"request-{k}-{b}-set"
            for k in ("body", "property", "parameter")
            for b in ("max", "min", "max-length", "min-items", "exclusive-min", "exclusive-max")
        ),
        *(
            f"request-{k}-{b}-set"
            for k in ("body", "property")
            for b in ("max-items", "max-properties")
        ),
        *(
            f"{d}-{k}-multiple-of-{a}"
            for d in ("request", "response")
            for k in ("body", "property")
            for a in ("set", "unset")
            if (d, a) != ("response", "set")
        ),
        *(
            f"response-{k}-{b}-unset"
            for k in ("body", "property")
            for b in ("max-length", "min-items")
        ),
    }
)
"""Set/unset ids an older, dedicated check reports (with its own level and placement); the
generated emitter leaves them alone, as oasdiff skips the cells a hand-written rule covers."""

_BOUND_SIDE = {"set": "new", "unset": "old"}
_ZERO_ABSENT = frozenset({"minLength", "minItems", "minProperties"})
_COUNT_BOUNDS = frozenset({"minContains", "maxContains"})


def _bound_pair(diff: SchemaDiff, keyword: str) -> Pair | None:
    """(base, revision) of a bound with absence as None: a 0 minLength/minItems/minProperties
    requires nothing and a 3.0 ``exclusive*: false`` excludes nothing, so both read as absent."""
    if keyword.startswith("exclusive"):
        return exclusive_pair(diff, keyword) if diff.keywords else None
    if keyword in _COUNT_BOUNDS:
        raw = diff.keywords.get(keyword)
        return None if raw is None else (_uint(raw[0]), _uint(raw[1]))
    pair: Pair | None = getattr(diff, _BOUND_ATTRS[keyword])
    if pair is None or keyword not in _ZERO_ABSENT:
        return pair
    return (pair[0] or None, pair[1] or None)


_BOUND_ATTRS = {
    "maximum": "maximum",
    "minimum": "minimum",
    "multipleOf": "multiple_of",
    "maxLength": "max_length",
    "minLength": "min_length",
    "maxItems": "max_items",
    "minItems": "min_items",
    "maxProperties": "max_properties",
    "minProperties": "min_properties",
}
"""The SchemaDiff field of each plain bound keyword."""


def _show_bound_value(keyword: str, value: Any) -> str:
    if keyword.startswith("exclusive"):
        return show_bound(value)
    if keyword in ("maximum", "minimum", "multipleOf"):
        return _go_float(value)
    return go_uint(value)


def bound_edits(diff: SchemaDiff) -> Iterator[tuple[str, str, str, str]]:
    """(id label, keyword, "set" or "unset", value shown) for each bound that appeared or went.

    Setting a bound narrows what a schema accepts and unsetting widens it; a bound present on
    both sides is the increased/decreased checks' business.
    """
    for label, keyword in BOUND_LABELS:
        pair = _bound_pair(diff, keyword)
        if pair is None:
            continue
        frm, to = pair
        if frm is None and to is not None:
            yield label, keyword, "set", _show_bound_value(keyword, to)
        elif frm is not None and to is None:
            yield label, keyword, "unset", _show_bound_value(keyword, frm)


# -- const, exclusive bounds and the JSON Schema 2020-12 keywords of OpenAPI 3.1 ----------------

PRESENCE_KEYWORDS = {
    "if": "if",
    "then": "then",
    "else": "else",
    "contains": "contains",
    "propertyNames": "property-names",
    "contentSchema": "content-schema",
    "unevaluatedItems": "unevaluated-items",
    "unevaluatedProperties": "unevaluated-properties",
}
"""Sub-schema keywords whose appearance narrows what a schema accepts (label in the check id)."""
KEYED_KEYWORDS = {"patternProperties": "pattern-property", "dependentSchemas": "dependent-schema"}
"""Maps of sub-schemas: each key added narrows, each key removed widens."""
COUNT_KEYWORDS = {"minContains": "min-contains", "maxContains": "max-contains"}
TEXT_KEYWORDS = {"contentMediaType": "content-media-type", "contentEncoding": "content-encoding"}
KEYWORD_CHECKS = frozenset(
    {
        "const",
        "exclusiveMinimum",
        "exclusiveMaximum",
        *PRESENCE_KEYWORDS,
        *KEYED_KEYWORDS,
        *COUNT_KEYWORDS,
        *TEXT_KEYWORDS,
        "prefixItems",
        "dependentRequired",
    }
)
"""Keywords outside ``_HANDLED`` that have checks of their own (see ``SchemaDiff.keywords``)."""


def exclusive_bound(value: Any) -> float | bool | None:
    """An exclusiveMinimum/Maximum as oasdiff reads it: a 3.1 number, or a 3.0 ``true``.

    A 3.0 ``true`` turns ``minimum``/``maximum`` exclusive; oasdiff compares the flag itself (so
    adding it is ``*-exclusive-*-set`` to ``true``), and ``false`` counts as absent.
    """
    if value is True:
        return True
    return _number(value)


def exclusive_pair(diff: SchemaDiff, keyword: str) -> Pair | None:
    """(base, revision) of an exclusive bound that changed, None when it did not."""
    raw = diff.keywords.get(keyword)
    if raw is None:
        return None
    pair = (exclusive_bound(raw[0]), exclusive_bound(raw[1]))
    return None if pair[0] == pair[1] and type(pair[0]) is type(pair[1]) else pair


def comparable(pair: Pair) -> bool:
    """Both bounds present and numeric (a 3.0 flag is not ordered against a number)."""
    return all(isinstance(v, float) for v in pair)


def show_bound(value: Any) -> str:
    """An exclusive bound as oasdiff prints it: ``true`` for a 3.0 flag, else a Go float."""
    return "true" if value is True else _go_float(float(value))


def _present(value: Any) -> bool:
    return isinstance(value, dict | bool | Node)


def _tails(direction: str, kind: str) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """(lead, tail) placeholders of the 3.1 keyword messages: property name, response status."""
    lead: tuple[str, ...] = () if kind == "body" else (NAME,)
    tail: tuple[str, ...] = (STATUS,) if direction == "response" else ()
    return lead, tail


def keyword_hits(diff: SchemaDiff, direction: str, kind: str) -> Iterator[Hit]:
    """const and the 3.1 keyword checks of one schema node.

    Appearing sub-schemas, keys and lower counts narrow what a schema accepts: an error for a
    request, information for a response; disappearing ones the other way round.
    """
    if not diff.keywords:
        return
    lead, tail = _tails(direction, kind)
    check = f"{direction}-{kind}"
    yield from _const_hits(diff, direction, kind)
    for keyword, label in PRESENCE_KEYWORDS.items():
        pair = diff.keywords.get(keyword)
        if pair is None or _present(pair[0]) == _present(pair[1]):
            continue
        if _present(pair[1]):
            yield _hit(diff, f"{check}-{label}-added", (*lead, *tail), keyword)
        else:
            yield _hit(diff, f"{check}-{label}-removed", (*lead, *tail), keyword, "old")
    for keyword, label in KEYED_KEYWORDS.items():
        pair = diff.keywords.get(keyword)
        if pair is None:
            continue
        before = pair[0] if isinstance(pair[0], dict) else {}
        after = pair[1] if isinstance(pair[1], dict) else {}
        for key in sorted(after.keys() - before.keys(), key=str):
            yield _hit(diff, f"{check}-{label}-added", (str(key), *lead, *tail), keyword)
        for key in sorted(before.keys() - after.keys(), key=str):
            args = (str(key), *lead, *tail)
            yield _hit(diff, f"{check}-{label}-removed", args, keyword, "old")
    for keyword, label in COUNT_KEYWORDS.items():
        pair = diff.keywords.get(keyword)
        if pair is None:
            continue
        low, high = _uint(pair[0]), _uint(pair[1])
        if low is None or high is None or low == high:
            continue
        word = "increased" if high > low else "decreased"
        args = (*lead, go_uint(low), go_uint(high), *tail)
        yield _hit(diff, f"{check}-{label}-{word}", args, keyword)
    for keyword, label in TEXT_KEYWORDS.items():
        pair = diff.keywords.get(keyword)
        if pair is None:
            continue
        old_text, new_text = _str(pair[0]), _str(pair[1])
        if old_text != new_text:
            args = (*lead, old_text, new_text, *tail)
            yield _hit(diff, f"{check}-{label}-changed", args, keyword)
    yield from _prefix_items_hits(diff, check, lead, tail)
    yield from _dependent_required_hits(diff, check, lead, tail)


def _prefix_member(raw: Any, index: int) -> Subschema:
    """A prefixItems entry named as oasdiff names list members (title, component, index)."""
    if not isinstance(raw, dict):
        return Subschema(index)
    ref = raw.get("$ref")
    return Subschema(index, _component(ref) if isinstance(ref, str) else "", _str(raw.get("title")))


def _prefix_items_hits(
    diff: SchemaDiff, check: str, lead: tuple[str, ...], tail: tuple[str, ...]
) -> Iterator[Hit]:
    """prefixItems entries past the end of the other side's list (entries pair by index)."""
    pair = diff.keywords.get("prefixItems")
    if pair is None:
        return
    before = pair[0] if isinstance(pair[0], list) else []
    after = pair[1] if isinstance(pair[1], list) else []
    added = [_prefix_member(after[i], i) for i in range(len(before), len(after))]
    removed = [_prefix_member(before[i], i) for i in range(len(after), len(before))]
    if added:
        args = (subschemas_text(added), *lead, *tail)
        yield _hit(diff, f"{check}-prefix-items-added", args, "prefixItems")
    if removed:
        args = (subschemas_text(removed), *lead, *tail)
        yield _hit(diff, f"{check}-prefix-items-removed", args, "prefixItems", "old")


def _dependent_required_hits(
    diff: SchemaDiff, check: str, lead: tuple[str, ...], tail: tuple[str, ...]
) -> Iterator[Hit]:
    """dependentRequired keys added, removed, or with their list of names changed."""
    pair = diff.keywords.get("dependentRequired")
    if pair is None:
        return
    before = pair[0] if isinstance(pair[0], dict) else {}
    after = pair[1] if isinstance(pair[1], dict) else {}
    # oasdiff puts the response status before the key: "... for the status %s: when %s ..."
    for key in sorted(after.keys() - before.keys(), key=str):
        args = (*lead, *tail, str(key), ", ".join(_names(after[key])))
        yield _hit(diff, f"{check}-dependent-required-added", args, "dependentRequired")
    for key in sorted(before.keys() - after.keys(), key=str):
        args = (*lead, *tail, str(key), ", ".join(_names(before[key])))
        yield _hit(diff, f"{check}-dependent-required-removed", args, "dependentRequired", "old")
    for key in sorted(before.keys() & after.keys(), key=str):
        names_a, names_b = _names(before[key]), _names(after[key])
        parts = []
        gained = [n for n in names_b if n not in names_a]
        lost = [n for n in names_a if n not in names_b]
        if gained:
            parts.append(", ".join(gained) + " added")
        if lost:
            parts.append(", ".join(lost) + " removed")
        if parts:
            args = (*lead, str(key), *tail, ", ".join(parts))
            yield _hit(diff, f"{check}-dependent-required-changed", args, "dependentRequired")


def _const_hits(diff: SchemaDiff, direction: str, kind: str) -> Iterator[Hit]:
    """const added, removed or changed (the body is named by its media type)."""
    pair = diff.keywords.get("const")
    if pair is None:
        return
    frm, to = pair
    lead = (MEDIA,) if kind == "body" else (LEAF,)
    tail: tuple[str, ...] = (STATUS,) if direction == "response" else ()
    check = f"{direction}-{kind}-const"
    if frm is None:
        yield _hit(diff, f"{check}-added", (*lead, go_value(to), *tail), "const")
    elif to is None:
        yield _hit(diff, f"{check}-removed", (*lead, go_value(frm), *tail), "const", "old")
    else:
        args = (*lead, go_value(frm), go_value(to), *tail)
        yield _hit(diff, f"{check}-changed", args, "const")


def _request_exclusive(
    diff: SchemaDiff, kind: str, prefix: tuple[str, ...], read_only: bool
) -> Iterator[Hit]:
    """exclusiveMaximum lowered or exclusiveMinimum raised narrows a request (as max/min)."""
    for keyword, label, down in (
        ("exclusiveMaximum", "exclusive-max", True),
        ("exclusiveMinimum", "exclusive-min", False),
    ):
        pair = exclusive_pair(diff, keyword)
        if pair is None or (pair[0] is not None and pair[1] is not None and not comparable(pair)):
            continue
        yield from _narrowing_bound(
            diff, pair, label, keyword, kind, prefix, read_only, show_bound, down=down
        )


def _response_exclusive(
    diff: SchemaDiff, kind: str, prefix: tuple[str, ...], tail: tuple[str, ...]
) -> Iterator[Hit]:
    """exclusiveMaximum raised or exclusiveMinimum lowered widens a response."""
    for keyword, label, up in (
        ("exclusiveMaximum", "exclusive-max-increased", True),
        ("exclusiveMinimum", "exclusive-min-decreased", False),
    ):
        pair = exclusive_pair(diff, keyword)
        if pair is None or not comparable(pair) or (pair[1] > pair[0]) != up:
            continue
        args = (*prefix, show_bound(pair[0]), show_bound(pair[1]), *tail)
        yield _hit(diff, f"response-{kind}-{label}", args, keyword)


# -- checks that need the parent: properties added, removed, made required... ------------------


def _prop_hit(node: Node, check: str, args: tuple[str, ...], leaf: str, side: str) -> Hit:
    return Hit(check, args, "", leaf, side, node.doc, node.pointer)


def request_child_hits(differ: SchemaDiffer, diff: SchemaDiff) -> Iterator[Hit]:
    """Properties of a request object added, removed, made required or optional."""
    props_a = differ.old.entries(diff.base, "properties")
    props_b = differ.new.entries(diff.revision, "properties")
    required_b = _names(diff.revision.data.get("required"))
    for name in _removed(diff):
        node = props_a[name]
        if not _flag(node, "readOnly"):
            yield _prop_hit(node, "request-property-removed", (NAME,), name, "old")
    for name in diff.properties_added:
        node = props_b[name]
        if _flag(node, "readOnly"):
            continue
        if name in required_b:
            check = "new-required-request-property"
            if node.data.get("default") is not None:
                check = "new-required-request-property-with-default"
        else:
            check = "new-optional-request-property"
        yield _prop_hit(node, check, (NAME,), name, "new")
    if diff.required is not None:
        added, deleted = diff.required
        for name in added:
            if name in props_a and name in props_b and not _flag(props_b[name], "readOnly"):
                check = "request-property-became-required"
                if props_b[name].data.get("default") is not None:
                    check = "request-property-became-required-with-default"
                yield _prop_hit(_required_at(diff.revision, name), check, (NAME,), name, "new")
        for name in deleted:
            if name in props_a and name in props_b and not _flag(props_b[name], "readOnly"):
                node = _required_at(diff.base, name)
                yield _prop_hit(node, "request-property-became-optional", (NAME,), name, "old")
    yield from _mutability_hits(diff, "request", props_b)
    yield from _items_false_hit(diff, "request")


def response_child_hits(differ: SchemaDiffer, diff: SchemaDiff, root: bool) -> Iterator[Hit]:
    """Properties of a response object added, removed, made required or optional."""
    props_a = differ.old.entries(diff.base, "properties")
    props_b = differ.new.entries(diff.revision, "properties")
    required_a = _names(diff.base.data.get("required"))
    required_b = _names(diff.revision.data.get("required"))
    for name in _removed(diff):
        node = props_a[name]
        required = "required" if name in required_a else "optional"
        write = "write-only-" if _flag(node, "writeOnly") else ""
        check = f"response-{required}-{write}property-removed"
        yield _prop_hit(node, check, (NAME, STATUS), name, "old")
    for name in diff.properties_added:
        node = props_b[name]
        required = "required" if name in required_b else "optional"
        write = "write-only-" if _flag(node, "writeOnly") else ""
        yield _prop_hit(
            node, f"response-{required}-{write}property-added", (NAME, STATUS), name, "new"
        )
    if diff.required is not None:
        added, deleted = diff.required
        for name in deleted:
            if name not in props_b or (not root and name not in props_a):
                continue
            source = props_b[name] if root else props_a[name]
            check = (
                "response-write-only-property-became-optional"
                if _flag(source, "writeOnly")
                else "response-property-became-optional"
            )
            yield _prop_hit(_required_at(diff.base, name), check, (NAME, STATUS), name, "old")
        for name in added:
            if name not in props_b or name not in props_a:
                continue
            check = (
                "response-write-only-property-became-required"
                if _flag(props_b[name], "writeOnly")
                else "response-property-became-required"
            )
            yield _prop_hit(_required_at(diff.revision, name), check, (NAME, STATUS), name, "new")
    yield from _mutability_hits(diff, "response", props_b)
    yield from _items_false_hit(diff, "response")


def _removed(diff: SchemaDiff) -> list[str]:
    """Deleted properties, less those that moved into a ``oneOf`` wrapping's alternatives."""
    if diff.one_of_wrap is None:
        return diff.properties_deleted
    return [n for n in diff.properties_deleted if n not in diff.one_of_wrap.moved]


def _required_at(node: Node, name: str) -> Node:
    required = node.data.get("required")
    if isinstance(required, list) and name in required:
        return Node(None, node.doc, f"{node.pointer}/required/{required.index(name)}")
    return Node(None, node.doc, f"{node.pointer}/required")


def _mutability_hits(diff: SchemaDiff, direction: str, props_b: dict[str, Node]) -> Iterator[Hit]:
    """readOnly/writeOnly flips of properties (oasdiff reads 'required' from the base)."""
    required_a = _names(diff.base.data.get("required"))
    tail: tuple[str, ...] = (STATUS,) if direction == "response" else ()
    for name, child in diff.properties_modified.items():
        if name not in props_b:
            continue
        required = "required" if name in required_a else "optional"
        for pair, flag in ((child.write_only, "write-only"), (child.read_only, "read-only")):
            if pair is None:
                continue
            became = flag if pair[1] else f"not-{flag}"
            check = f"{direction}-{required}-property-became-{became}"
            keyword = "writeOnly" if flag == "write-only" else "readOnly"
            where = _at(child, keyword)
            yield Hit(check, (NAME, *tail), "", name, where[0], where[1], where[2])


# -- walking a diff tree -----------------------------------------------------------------------


class SchemaChecker:
    """Runs the request or response checks over diff trees, memoised per (node, context)."""

    def __init__(self, differ: SchemaDiffer) -> None:
        self.differ = differ
        self._memo: dict[tuple[int, Context], list[Hit]] = {}
        self._active: set[tuple[int, Context]] = set()

    def hits(self, diff: SchemaDiff, ctx: Context) -> list[Hit]:
        """Every hit for a media type's schema pair: body-level, then properties (relative)."""
        out = list(self._node(diff, ctx, body=True))
        out.extend(self._children_of(diff, ctx, root=True))
        out.extend(self._below(diff, ctx))
        return out

    def _node(self, diff: SchemaDiff, ctx: Context, body: bool) -> Iterator[Hit]:
        if ctx.direction == "request":
            return request_node_hits(diff, ctx, body)
        return response_node_hits(diff, ctx, body)

    def _children_of(self, diff: SchemaDiff, ctx: Context, root: bool) -> Iterator[Hit]:
        if ctx.direction == "request":
            return request_child_hits(self.differ, diff)
        return response_child_hits(self.differ, diff, root)

    def _below(self, diff: SchemaDiff, ctx: Context) -> list[Hit]:
        """Hits of every walked descendant, named relative to ``diff``."""
        key = (id(diff), ctx)
        cached = self._memo.get(key)
        if cached is not None:
            return cached
        if key in self._active:
            return []
        self._active.add(key)
        try:
            out: list[Hit] = []
            for path, leaf, child in walk_children(diff):
                out.extend(
                    Hit(h.id, h.args, path, leaf, h.side, h.doc, h.pointer)
                    for h in self._node(child, ctx, body=False)
                )
                prefix = full_path(path, leaf)
                out.extend(h.rebased(prefix) for h in self._children_of(child, ctx, root=False))
                out.extend(h.rebased(prefix) for h in self._below(child, ctx))
        finally:
            self._active.discard(key)
        self._memo[key] = out
        return out


def walk_children(diff: SchemaDiff) -> Iterator[tuple[str, str, SchemaDiff]]:
    """oasdiff's property walk: (propertyPath, propertyName, diff) of each modified child."""
    for sub, label in ((diff.all_of, "allOf"), (diff.any_of, "anyOf"), (diff.one_of, "oneOf")):
        if sub is not None:
            for member in sub.modified:
                yield f"/{label}[{member}]", "", member.diff
    if diff.items is not None:
        yield "/items", "", diff.items
    for name, child in diff.properties_modified.items():
        yield "", name, child
    if diff.additional is not None:
        yield "/additionalProperties", "", diff.additional
    if diff.negated is not None:  # oasdiff walks into `not` like any sub-schema
        yield "/not", "", diff.negated


MAX_TREE_VISITS = 10_000
"""Bound on the nodes ``walk_tree`` yields: a parameter schema is small, hostile input is not."""


def walk_tree(diff: SchemaDiff) -> Iterator[tuple[str, str, SchemaDiff]]:
    """Every descendant oasdiff's property walk enters, as (propertyPath, propertyName, diff).

    Paths are absolute from ``diff`` (the root itself is not yielded, as in oasdiff); a diff
    already on the current branch is skipped so recursive schemas terminate.
    """
    active: set[int] = {id(diff)}
    budget = [MAX_TREE_VISITS]

    def visit(node: SchemaDiff, base: str) -> Iterator[tuple[str, str, SchemaDiff]]:
        for path, leaf, child in walk_children(node):
            if id(child) in active or budget[0] <= 0:
                continue
            budget[0] -= 1
            absolute = _join_path(base, path)
            yield absolute, leaf, child
            active.add(id(child))
            yield from visit(child, full_path(absolute, leaf))
            active.discard(id(child))

    yield from visit(diff, "")
