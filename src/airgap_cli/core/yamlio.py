"""Safe YAML/JSON loading with line marks and limits on what untrusted input may cost.

Why a custom loader: PyYAML's C loader (libyaml) is the fastest parser we have, and a mapping
constructor that records the line of each key gives exact ``file:line`` for every finding without a
second parse. Limits: file size, alias expansion (billion-laughs), nesting depth (libyaml
recurses on
the C stack, so very deep flow nesting is parsed in a thread with a large stack or refused), and no
tag that constructs Python objects.
"""

from __future__ import annotations

import json
import os
import re
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any, TypeVar

import yaml
from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

from airgap_cli.core.errors import InputError

if not getattr(yaml, "__with_libyaml__", False):  # pragma: no cover - depends on the wheel
    raise ImportError("PyYAML was built without libyaml; install a PyYAML wheel with the C loader")

DEFAULT_MAX_BYTES = 32 * 1024 * 1024
"""Largest input file read by default (``lint.max_file_size`` in airgap.yaml raises it)."""
MAX_EXPANDED_NODES = 2_000_000
"""Largest document after alias expansion; more is an alias bomb."""
MAX_DEPTH = 1_000
"""Deepest nesting accepted in one document."""
_C_PARSER_MAX_OPENERS = 20_000
"""Up to this many ``[``/``{`` libyaml is safe: its flow-level bookkeeping is quadratic in depth
(300,000 nested ``[`` took 225 s here) and recursive on the C stack (deeper segfaults). Above it,
JSON goes to ``json.loads`` and YAML to the pure-Python loader, which stops at Python's recursion
limit instead."""
_PARSE_STACK = 512 * 1024 * 1024
_MAIN_STACK_MAX_OPENERS = 1_000
"""Below this nesting bound (about 2.5 KiB of C stack a level) the caller's stack is plenty."""


class LineDict(dict[str, Any]):
    """A mapping that remembers its own line and the line of each key (1-based)."""

    __slots__ = ("key_lines", "line")

    def __init__(self, line: int = 0) -> None:
        super().__init__()
        self.line = line
        self.key_lines: dict[str, int] = {}


class LineList(list[Any]):
    """A sequence that remembers its own line and the line of each item (1-based)."""

    __slots__ = ("item_lines", "line")

    def __init__(self, line: int = 0) -> None:
        super().__init__()
        self.line = line
        self.item_lines: list[int] = []


_EXPONENT_FLOAT = re.compile(r"^[-+]?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)[eE][-+]?[0-9]+$")


class _LineLoader(yaml.CSafeLoader):
    """libyaml parser + safe constructors that build LineDict/LineList."""


class _PyLineLoader(yaml.SafeLoader):
    """Pure-Python twin for pathological nesting: raises RecursionError, never crashes."""


def _construct_mapping(loader: yaml.SafeLoader, node: MappingNode) -> Iterator[LineDict]:
    data = LineDict(node.start_mark.line + 1)
    yield data
    loader.flatten_mapping(node)
    for key_node, value_node in node.value:
        if not isinstance(key_node, ScalarNode):
            raise yaml.constructor.ConstructorError(
                None, None, "a mapping key must be a scalar", key_node.start_mark
            )
        key = loader.construct_object(key_node, deep=False)
        if not isinstance(key, str):
            # YAML 1.1 turns `on`/`yes`/`1` into bools and ints; JSON needs string keys.
            key = key_node.value
        data[key] = loader.construct_object(value_node, deep=False)
        data.key_lines[key] = key_node.start_mark.line + 1


def _construct_sequence(loader: yaml.SafeLoader, node: SequenceNode) -> Iterator[LineList]:
    data = LineList(node.start_mark.line + 1)
    yield data
    data.extend(loader.construct_object(child, deep=False) for child in node.value)
    data.item_lines = [child.start_mark.line + 1 for child in node.value]


def _construct_text(loader: yaml.SafeLoader, node: Node) -> str:
    # Timestamps and binary stay text: rules compare strings and JSON has no dates.
    return str(node.value) if isinstance(node, ScalarNode) else ""


def _construct_local_tag(loader: yaml.SafeLoader, suffix: str, node: Node) -> Any:
    # Application tags (GitLab's `!reference`, CloudFormation's `!Ref`) are read as plain data.
    if isinstance(node, MappingNode):
        return _construct_mapping(loader, node)
    if isinstance(node, SequenceNode):
        return _construct_sequence(loader, node)
    return loader.construct_scalar(node)  # type: ignore[arg-type]


for _loader in (_LineLoader, _PyLineLoader):
    _loader.add_constructor("tag:yaml.org,2002:map", _construct_mapping)
    _loader.add_constructor("tag:yaml.org,2002:omap", _construct_sequence)
    _loader.add_constructor("tag:yaml.org,2002:pairs", _construct_sequence)
    _loader.add_constructor("tag:yaml.org,2002:set", _construct_mapping)
    _loader.add_constructor("tag:yaml.org,2002:seq", _construct_sequence)
    _loader.add_constructor("tag:yaml.org,2002:timestamp", _construct_text)
    _loader.add_constructor("tag:yaml.org,2002:binary", _construct_text)
    _loader.add_multi_constructor("!", _construct_local_tag)
    # YAML 1.2 floats PyYAML (YAML 1.1) leaves as strings: 1e5, 1.5e3 (exponent without a sign).
    # Go, JavaScript and openapi-spec-validator read them as numbers; so must we.
    _loader.add_implicit_resolver("tag:yaml.org,2002:float", _EXPONENT_FLOAT, list("-+0123456789."))


@dataclass(frozen=True, slots=True)
class RawDocument:
    """One parsed document of a file: its data, 0-based index and first line."""

    index: int
    line: int
    data: Any
    lines: Any = None
    """Where lines come from when ``data`` has none (``fastyaml.LazyLines``)."""


def read_limited(path: str, max_bytes: int = DEFAULT_MAX_BYTES) -> bytes:
    """Read a file, refusing oversize and binary content with a one-line InputError.

    One ``os.read`` of the size ``fstat`` reports: ``open()``'s buffered file objects cost
    more than the read of a small manifest, and ``read(max_bytes + 1)`` would allocate the whole
    limit (32 MiB) each time. Files that grow, or report no size (pipes, /proc), are read on up
    to the limit.
    """
    try:
        fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
        try:
            size = os.fstat(fd).st_size
            data = os.read(fd, min(size, max_bytes) + 1)
            if len(data) > size or size == 0:
                parts = [data]
                total = len(data)
                while total <= max_bytes:
                    chunk = os.read(fd, min(1 << 20, max_bytes + 1 - total))
                    if not chunk:
                        break
                    parts.append(chunk)
                    total += len(chunk)
                data = b"".join(parts)
        finally:
            os.close(fd)
    except IsADirectoryError:
        raise InputError("is a directory", path=path) from None
    except OSError as exc:
        raise InputError(f"cannot read file: {exc.strerror or exc}", path=path) from None
    return check_bytes(data, path, max_bytes)


def check_bytes(data: bytes, path: str, max_bytes: int = DEFAULT_MAX_BYTES) -> bytes:
    """Apply the size and binary limits to bytes already read (stdin, archives)."""
    if len(data) > max_bytes:
        raise InputError(
            f"file is larger than the {max_bytes // (1024 * 1024)} MiB limit",
            path=path,
            hint="raise lint.max_file_size in airgap.yaml or exclude the file",
        )
    if b"\x00" in data[:8192]:
        raise InputError("binary file (NUL bytes), not YAML or JSON", path=path)
    return data


def decode(data: bytes, path: str) -> str:
    """UTF-8 (with or without BOM) text, or an InputError naming the byte offset."""
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise InputError(f"not UTF-8 text (bad byte at offset {exc.start})", path=path) from None


def load_documents(text: str, path: str, *, json_file: bool = False) -> list[RawDocument]:
    """Every document of a YAML stream (or one JSON document), with lines, within the limits."""
    openers = text.count("[") + text.count("{")
    if openers <= _MAIN_STACK_MAX_OPENERS:
        docs = _load_all(text, path, _LineLoader)  # shallow enough for any thread's stack
    elif openers <= _C_PARSER_MAX_OPENERS:
        docs = _run_with_big_stack(lambda: _load_all(text, path, _LineLoader))
    elif json_file:
        docs = [RawDocument(0, 1, _load_json(text, path))]
    else:
        docs = _run_with_big_stack(lambda: _load_all(text, path, _PyLineLoader))
    if "&" in text and "*" in text:
        for doc in docs:
            check_expansion(doc.data, path, doc.line)
    return docs


def _load_all(text: str, path: str, loader_cls: type[Any]) -> list[RawDocument]:
    loader = loader_cls(text)
    docs: list[RawDocument] = []
    try:
        while loader.check_node():
            node = loader.get_node()
            if node is None:
                break
            data = loader.construct_document(node)
            if data is not None:
                docs.append(RawDocument(len(docs), node.start_mark.line + 1, data))
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = mark.line + 1 if mark else None
        problem = exc.problem or exc.context or "invalid YAML"
        raise InputError(f"invalid YAML: {problem}", path=path, line=line) from None
    except yaml.YAMLError as exc:
        raise InputError(f"invalid YAML: {exc}", path=path) from None
    except RecursionError:
        raise InputError(f"nesting deeper than {MAX_DEPTH} levels", path=path) from None
    finally:
        loader.dispose()
    return docs


def _load_json(text: str, path: str) -> Any:
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise InputError(f"invalid JSON: {exc.msg}", path=path, line=exc.lineno) from None
    except RecursionError:
        raise InputError(f"nesting deeper than {MAX_DEPTH} levels", path=path) from None


T = TypeVar("T")


def _run_with_big_stack(func: Callable[[], T]) -> T:
    """Run ``func`` in a thread whose C stack fits libyaml's recursion on deep flow nesting."""
    result: list[T] = []
    error: list[BaseException] = []

    def target() -> None:
        try:
            result.append(func())
        except BaseException as exc:  # re-raised in the caller's thread
            error.append(exc)

    with _STACK_LOCK:
        previous = threading.stack_size(_PARSE_STACK)
        try:
            thread = threading.Thread(target=target, name="airgap-yaml")
            thread.start()
        finally:
            threading.stack_size(previous)
    thread.join()
    if error:
        raise error[0]
    return result[0]


_STACK_LOCK = threading.Lock()


def check_expansion(data: Any, path: str, line: int | None = None) -> None:
    """Refuse alias bombs, recursive aliases and over-deep nesting (iterative, nodes once)."""
    sizes: dict[int, int] = {}
    on_path: set[int] = set()
    stack: list[tuple[Any, int, bool]] = [(data, 1, False)]
    while stack:
        node, depth, done = stack.pop()
        if not isinstance(node, dict | list):
            continue
        key = id(node)
        if done:
            on_path.discard(key)
            children = node.values() if isinstance(node, dict) else node
            total = 1 + sum(
                sizes.get(id(c), 1) if isinstance(c, dict | list) else 1 for c in children
            )
            sizes[key] = total
            if total > MAX_EXPANDED_NODES:
                raise InputError(
                    f"aliases expand to more than {MAX_EXPANDED_NODES:,} nodes (alias bomb)",
                    path=path,
                    line=line,
                )
            continue
        if key in sizes:
            continue
        if key in on_path:
            raise InputError("recursive alias (a node contains itself)", path=path, line=line)
        if depth > MAX_DEPTH:
            raise InputError(f"nesting deeper than {MAX_DEPTH} levels", path=path, line=line)
        on_path.add(key)
        stack.append((node, depth, True))
        children = node.values() if isinstance(node, dict) else node
        stack.extend((c, depth + 1, False) for c in children if isinstance(c, dict | list))


_POINTER_ESCAPE = re.compile(r"[~/]")


def pointer_segment(key: str | int) -> str:
    """Escape one JSON-pointer segment (RFC 6901)."""
    return _POINTER_ESCAPE.sub(lambda m: "~0" if m.group() == "~" else "~1", str(key))


def line_of(
    root: Any, path: list[str | int] | tuple[str | int, ...], default: int | None
) -> int | None:
    """Line of the node at ``path`` under ``root``: its key's line, else the nearest parent's."""
    line = getattr(root, "line", None) or default
    node = root
    for segment in path:
        if isinstance(node, LineDict) and isinstance(segment, str) and segment in node:
            line = node.key_lines.get(segment, line)
            node = node[segment]
        elif isinstance(node, list) and isinstance(segment, int) and 0 <= segment < len(node):
            if isinstance(node, LineList) and segment < len(node.item_lines):
                line = node.item_lines[segment]
            node = node[segment]
        else:
            break
    return line
