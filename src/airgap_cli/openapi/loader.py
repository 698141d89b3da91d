"""Load an OpenAPI document and follow its ``$ref``s lazily, offline and cycle-safe.

Why this shape: big specs (GitHub's is 11 MB, its dereferenced twin 63 MB) must load in a fraction
of a second, so JSON goes through ``json.loads`` and line numbers are found on demand by scanning
the text only along the JSON pointer that a finding names (``JsonLines``). YAML goes through the
libyaml loader that records key lines. A ``$ref`` is followed only when a caller asks, and a remote
one (``http(s)://``) is never fetched: it stays unresolved and is recorded as a ``RefProblem``
unless the user mapped the URL to a local file.
"""

from __future__ import annotations

import bisect
import contextlib
import hashlib
import json
import os
import re
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from json.decoder import scanstring  # type: ignore[attr-defined]
from pathlib import Path
from typing import Any
from urllib.parse import unquote

from airgap_cli.core.errors import InputError
from airgap_cli.core.findings import Location
from airgap_cli.core.yamlio import (
    check_bytes,
    decode,
    line_of,
    load_documents,
    pointer_segment,
    read_limited,
)

MAX_SPEC_BYTES = 256 * 1024 * 1024
"""Largest spec file read (GitHub's dereferenced specs are 63-78 MB)."""
MAX_REF_HOPS = 64
"""Longest ``$ref`` chain followed before it counts as a loop."""
MAX_DOCUMENTS = 1_000
"""Most files one spec may pull in through relative ``$ref``s."""

Reader = Callable[[str], bytes]
"""Reads one file's bytes (the disk by default; ``git show REF:path`` for a base version)."""

_SCHEME = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*:")
_WHITESPACE = " \t\n\r"


@dataclass(frozen=True, slots=True)
class RefProblem:
    """A ``$ref`` that could not be followed, and why."""

    kind: str
    """``remote`` (http/https, never fetched), ``broken`` (target missing or unreadable),
    ``cycle`` (the chain loops), ``escape`` (a file outside the allowed root) or
    ``unsupported`` (another URI scheme)."""
    ref: str
    doc: str
    """File the ``$ref`` was written in."""
    pointer: str
    """JSON pointer of the node holding the ``$ref`` ("" when not known)."""
    detail: str = ""


@dataclass(frozen=True, slots=True)
class Resolved:
    """The target of a (possibly chained) ``$ref`` and where it lives."""

    node: Any
    doc: str
    """Path of the document holding ``node`` (the spec's own path for local refs)."""
    pointer: str
    """JSON pointer of ``node`` inside ``doc`` ("" when ``node`` was not reached through a ref)."""
    ref: str | None = None
    """The first ``$ref`` string of the chain, or None when ``node`` was not a reference."""


def split_pointer(pointer: str) -> list[str]:
    """RFC 6901 segments of a JSON pointer (``""`` is the root)."""
    if not pointer:
        return []
    return [seg.replace("~1", "/").replace("~0", "~") for seg in pointer.lstrip("/").split("/")]


def join_pointer(segments: list[str | int] | tuple[str | int, ...]) -> str:
    """Inverse of :func:`split_pointer`."""
    return "".join("/" + pointer_segment(seg) for seg in segments)


def child(node: Any, segment: str) -> Any:
    """``node[segment]`` for a dict or (by index) a list; raises KeyError when absent."""
    if isinstance(node, dict):
        return node[segment]
    if isinstance(node, list) and segment.isdigit() and int(segment) < len(node):
        return node[int(segment)]
    raise KeyError(segment)


class JsonLines:
    """Lines of JSON pointers in a JSON text, found lazily by walking only along each pointer.

    Sibling values are skipped with the C JSON decoder; every key met on the way is cached, so
    each object is scanned at most once however many lines are asked for.
    """

    def __init__(self, text: str) -> None:
        self._text = text
        self._decoder = json.JSONDecoder()
        self._offsets: dict[tuple[str, ...], int | None] = {(): self._skip_ws(0)}
        self._line_marks: list[int] = [0]
        self._line_numbers: list[int] = [1]

    def line(self, segments: list[str]) -> int | None:
        """1-based line of the value at ``segments``, or of its deepest existing parent."""
        offset = None
        for depth in range(len(segments), -1, -1):
            offset = self._offset(tuple(segments[:depth]))
            if offset is not None:
                break
        return None if offset is None else self._line_at(offset)

    def _line_at(self, offset: int) -> int:
        index = bisect.bisect_right(self._line_marks, offset) - 1
        mark, number = self._line_marks[index], self._line_numbers[index]
        if index + 1 < len(self._line_marks) and (
            self._line_marks[index + 1] - offset < offset - mark
        ):  # the next known mark is nearer: count backwards from it
            after = self._line_marks[index + 1]
            line = self._line_numbers[index + 1] - self._text.count("\n", offset, after)
        else:
            line = number + self._text.count("\n", mark, offset)
        self._line_marks.insert(index + 1, offset)
        self._line_numbers.insert(index + 1, line)
        return line

    def _offset(self, key: tuple[str, ...]) -> int | None:
        """Offset of the value at ``key``, scanning each missing parent once (iteratively)."""
        depth = len(key)
        while key[:depth] not in self._offsets:
            depth -= 1
        for known in range(depth, len(key)):
            parent = self._offsets[key[:known]]
            if parent is not None:
                with contextlib.suppress(ValueError, IndexError, RecursionError):  # no line
                    self._scan_children(key[:known], parent)
            self._offsets.setdefault(key[: known + 1], None)
        return self._offsets[key]

    def _scan_children(self, prefix: tuple[str, ...], pos: int) -> None:
        text = self._text
        opener = text[pos]
        if opener not in "{[":
            return
        closer = "}" if opener == "{" else "]"
        pos = self._skip_ws(pos + 1)
        index = 0
        while pos < len(text) and text[pos] != closer:
            if opener == "{":
                name, pos = scanstring(text, pos + 1)
                pos = self._skip_ws(pos)
                pos = self._skip_ws(pos + 1)  # the ':'
            else:
                name = str(index)
                index += 1
            self._offsets.setdefault((*prefix, name), pos)
            _, pos = self._decoder.raw_decode(text, pos)
            pos = self._skip_ws(pos)
            if pos < len(text) and text[pos] == ",":
                pos = self._skip_ws(pos + 1)

    def _skip_ws(self, pos: int) -> int:
        text = self._text
        while pos < len(text) and text[pos] in _WHITESPACE:
            pos += 1
        return pos


class PrettyJsonLines:
    """Lines of JSON pointers in a pretty-printed JSON text, found with C-speed scans.

    Why: locating a pointer by decoding every sibling on the way costs a full re-parse of an
    11 MB spec per level. In consistently indented JSON the members of a container at depth
    ``d`` start the lines indented ``d + 1`` steps inside its span, so one regex pass per
    container (cached) finds them all; anything that does not fit that layout returns None and
    the caller falls back to the loader's exact scanner.
    """

    def __init__(self, text: str) -> None:
        self.text = text
        match = re.search(r"\n( +)[\"\[{]", text[:4096])
        self.width = len(match.group(1)) if match and text.lstrip()[:1] == "{" else 0
        self._members: dict[int, dict[str, int] | list[int] | None] = {}
        self._marks: list[int] = [0]
        self._lines: list[int] = [1]

    def line(self, segments: list[str]) -> int | None:
        """Line of the value at ``segments``; None when the layout does not allow the fast path."""
        if not self.width:
            return None
        pos = len(self.text) - len(self.text.lstrip())
        for depth, segment in enumerate(segments):
            members = self._container(pos, depth)
            if isinstance(members, dict):
                found = members.get(segment)
            elif isinstance(members, list) and segment.isdigit() and int(segment) < len(members):
                found = members[int(segment)]
            else:
                found = None
            if found is None:
                return None
            pos = found
        return self._line_at(pos)

    def _container(self, pos: int, depth: int) -> dict[str, int] | list[int] | None:
        if pos in self._members:
            return self._members[pos]
        text = self.text
        opener = text[pos : pos + 1]
        result: dict[str, int] | list[int] | None = None
        if opener in ("{", "[") and text[pos + 1 : pos + 2] == "\n":  # inline ones: exact scan
            closer = "}" if opener == "{" else "]"
            end = text.find("\n" + " " * (self.width * depth) + closer, pos)
            indent = " " * (self.width * (depth + 1))
            if end >= 0 and opener == "{":
                pattern = re.compile("\n" + indent + r'"((?:[^"\\\n]|\\.)*)"[ \t]*:[ \t]*')
                members: dict[str, int] = {}
                for match in pattern.finditer(text, pos, end):
                    key = match.group(1)
                    if "\\" in key:
                        key = json.loads(f'"{key}"')
                    members.setdefault(key, match.end())
                result = members
            elif end >= 0:
                pattern = re.compile("\n" + indent + r"(?=[^\s}\]])")
                result = [match.end() for match in pattern.finditer(text, pos, end)]
        self._members[pos] = result
        return result

    def _line_at(self, pos: int) -> int:
        """Count newlines from the nearest position already counted (C-speed ``count``)."""
        index = bisect.bisect_right(self._marks, pos) - 1
        mark, line = self._marks[index], self._lines[index]
        line += self.text.count("\n", mark, pos)
        self._marks.insert(index + 1, pos)
        self._lines.insert(index + 1, line)
        return line


@dataclass
class Document:
    """One parsed file of a spec (the root or a file reached by a relative ``$ref``)."""

    path: str
    data: Any
    is_json: bool
    text: str | None = field(default=None, repr=False)
    _lines: JsonLines | None = field(default=None, repr=False)
    _pretty: PrettyJsonLines | None = field(default=None, repr=False)
    _nodes: dict[str, Any] = field(default_factory=dict, repr=False)

    def line_of(self, pointer: str) -> int | None:
        """1-based line of the node at ``pointer`` (or of its nearest existing parent)."""
        segments = split_pointer(pointer)
        if not self.is_json:
            path: list[str | int] = []
            node = self.data
            for seg in segments:
                if isinstance(node, list) and seg.isdigit():
                    path.append(int(seg))
                else:
                    path.append(seg)
                try:
                    node = child(node, seg)
                except KeyError:
                    break
            return line_of(self.data, path, getattr(self.data, "line", 1))
        if self.text is None:
            return None
        if self._pretty is None:
            self._pretty = PrettyJsonLines(self.text)
        found = self._pretty.line(segments)
        if found is not None:
            return found
        if self._lines is None:
            self._lines = JsonLines(self.text)
        return self._lines.line(segments)

    def lookup(self, pointer: str) -> Any:
        """The node at ``pointer``; KeyError when it does not exist."""
        if pointer in self._nodes:
            return self._nodes[pointer]
        node = self.data
        for seg in split_pointer(pointer):
            node = child(node, seg)
        self._nodes[pointer] = node
        return node


def parse_document(text: str, path: str) -> Document:
    """Parse JSON (fast path) or YAML text into a Document; InputError with file:line if invalid."""
    stripped = text.lstrip()
    looks_json = path.endswith(".json") or stripped.startswith("{")
    if looks_json:
        try:
            return Document(path, json.loads(text), True, text)
        except json.JSONDecodeError as exc:
            if path.endswith(".json"):
                raise InputError(f"invalid JSON: {exc.msg}", path=path, line=exc.lineno) from None
        except RecursionError:
            raise InputError("nesting too deep", path=path) from None
    docs = load_documents(text, path)
    if not docs:
        raise InputError("empty document: not an OpenAPI spec", path=path)
    if len(docs) > 1:
        raise InputError(
            "more than one YAML document: not an OpenAPI spec", path=path, line=docs[1].line
        )
    return Document(path, docs[0].data, False)


def _within(path: Path, root: Path) -> bool:
    try:
        path.relative_to(root)
    except ValueError:
        return False
    return True


class Spec:
    """An OpenAPI document plus the files its relative ``$ref``s reach, loaded on demand."""

    def __init__(
        self,
        root: Document,
        *,
        ref_map: Mapping[str, str] | None = None,
        allowed_root: Path | None = None,
        max_bytes: int = MAX_SPEC_BYTES,
        reader: Reader | None = None,
    ) -> None:
        if not isinstance(root.data, dict):
            kind = "list" if isinstance(root.data, list) else type(root.data).__name__
            raise InputError(
                f"not an OpenAPI spec: the top level is a {kind}, not a mapping", path=root.path
            )
        self.path = root.path
        self.data: dict[str, Any] = root.data
        self.version = detect_version(root.data)
        self.sha256 = ""
        """SHA-256 of the spec's bytes (set by load_spec), so a report ties to exact input."""
        self.ref_problems: list[RefProblem] = []
        self._problem_keys: set[tuple[str, str, str]] = set()
        self._ref_map = dict(ref_map or {})
        self._max_bytes = max_bytes
        self._reader = reader or (lambda file_path: read_limited(file_path, max_bytes))
        self._docs: dict[str, Document] = {}
        self._root_key = self._file_key(root.path)
        self._docs[self._root_key] = root
        base = Path(root.path).resolve().parent if root.path != "-" else Path.cwd()
        self._allowed_root = (allowed_root or _default_allowed_root(base)).resolve()

    # -- references ---------------------------------------------------------------------------

    def resolve(self, node: Any, doc: str | None = None) -> Any:
        """``node``, or the target of its ``$ref`` chain; an unresolvable ref returns ``node``.

        ``doc`` is the file ``node`` was read from when it is not the spec itself (a ``#/...``
        ref is relative to its own file): pass on the ``doc`` of the ``Resolved`` you came from.
        """
        if isinstance(node, dict) and isinstance(node.get("$ref"), str):
            return self.deref(node, doc).node
        return node

    def deref(self, node: Any, doc: str | None = None) -> Resolved:
        """Follow ``node``'s ``$ref`` chain; the result names the document and pointer reached."""
        return self._follow(node, self._file_key(doc) if doc else self._root_key, "")

    def _follow(self, node: Any, doc_key: str, at: str) -> Resolved:
        first = node.get("$ref") if isinstance(node, dict) else None
        if not isinstance(first, str):
            return Resolved(node, self._display(doc_key), "", None)
        seen: set[tuple[str, str]] = set()
        current, current_doc, pointer = node, doc_key, at
        while isinstance(current, dict) and isinstance(current.get("$ref"), str):
            ref = current["$ref"]
            target = self._target(ref, current_doc, pointer)
            if target is None:
                return Resolved(node, self._display(doc_key), "", first)
            if target in seen:
                self._problem("cycle", ref, current_doc, pointer, "the $ref chain loops")
                return Resolved(node, self._display(doc_key), "", first)
            if len(seen) >= MAX_REF_HOPS:
                detail = f"the $ref chain is longer than {MAX_REF_HOPS} hops"
                self._problem("broken", ref, current_doc, pointer, detail)
                return Resolved(node, self._display(doc_key), "", first)
            seen.add(target)
            current_doc, pointer = target
            try:
                current = self._docs[current_doc].lookup(pointer)
            except KeyError:
                self._problem("broken", ref, current_doc, "", f"nothing at {pointer or '/'}")
                return Resolved(node, self._display(doc_key), "", first)
        return Resolved(current, self._display(current_doc), pointer, first)

    def scan_refs(self) -> list[RefProblem]:
        """Walk every loaded document once, trying every ``$ref``; returns all problems found."""
        index = 0
        while index < len(self._docs):
            key = list(self._docs)[index]
            for pointer, ref in iter_refs(self._docs[key].data):
                self._follow({"$ref": ref}, key, pointer)
            index += 1
        return self.ref_problems

    def documents(self) -> list[Document]:
        """Every document loaded so far, the root first."""
        return list(self._docs.values())

    def _target(self, ref: str, doc_key: str, pointer: str) -> tuple[str, str] | None:
        """(document key, pointer) a ref names, loading its file; None (and a problem) if it cannot."""
        file_part, _, fragment = ref.partition("#")
        target_pointer = unquote(fragment)
        if target_pointer and not target_pointer.startswith("/"):
            self._problem("broken", ref, doc_key, pointer, "fragment is not a JSON pointer")
            return None
        if not file_part:
            return doc_key, target_pointer
        if file_part.startswith(("http://", "https://")) or doc_key.startswith(
            ("http://", "https://")
        ):
            return self._remote(ref, file_part, doc_key, pointer, target_pointer)
        if _SCHEME.match(file_part):
            self._problem(
                "unsupported", ref, doc_key, pointer, "only relative file refs are followed"
            )
            return None
        try:
            target_path = (Path(doc_key).parent / unquote(file_part)).resolve()
        except (ValueError, OSError) as exc:
            self._problem("broken", ref, doc_key, pointer, str(exc))
            return None
        if not _within(target_path, self._allowed_root):
            self._problem("escape", ref, doc_key, pointer, f"outside {self._allowed_root}")
            return None
        key = str(target_path)
        if not self._load(key, key, ref, doc_key, pointer):
            return None
        return key, target_pointer

    def _remote(
        self, ref: str, file_part: str, doc_key: str, pointer: str, target_pointer: str
    ) -> tuple[str, str] | None:
        url = file_part
        if doc_key.startswith(("http://", "https://")) and not file_part.startswith(
            ("http://", "https://")
        ):
            url = (
                doc_key.rsplit("/", 1)[0] + "/" + file_part
            )  # relative ref inside a mapped remote file
        if url not in self._ref_map:
            self._problem("remote", ref, doc_key, pointer, "remote $ref is never fetched")
            return None
        if not self._load(url, self._ref_map[url], ref, doc_key, pointer):
            return None
        return url, target_pointer

    def _load(self, key: str, file_path: str, ref: str, doc_key: str, pointer: str) -> bool:
        if key in self._docs:
            return True
        if len(self._docs) >= MAX_DOCUMENTS:
            self._problem("broken", ref, doc_key, pointer, f"more than {MAX_DOCUMENTS} files")
            return False
        display = os.path.relpath(file_path) if not file_path.startswith("-") else file_path
        try:
            data = self._reader(file_path)
            text = decode(check_bytes(data, display, self._max_bytes), display)
            self._docs[key] = parse_document(text, display)
        except InputError as exc:
            self._problem("broken", ref, doc_key, pointer, exc.message)
            return False
        return True

    def _problem(self, kind: str, ref: str, doc_key: str, pointer: str, detail: str) -> None:
        key = (kind, ref, doc_key + pointer)
        if key not in self._problem_keys:
            self._problem_keys.add(key)
            self.ref_problems.append(RefProblem(kind, ref, self._display(doc_key), pointer, detail))

    # -- locations -------------------------------------------------------------------------

    def line_of(self, pointer: str, doc: str | None = None) -> int | None:
        """1-based line of the node at ``pointer`` in ``doc`` (the spec itself by default)."""
        document = self._docs.get(self._file_key(doc) if doc else self._root_key)
        if document is None:
            return None
        return document.line_of(pointer)

    def location(self, pointer: str, doc: str | None = None, resource: str = "") -> Location:
        """A findings Location for the node at ``pointer``."""
        return Location(
            path=doc or self.path,
            line=self.line_of(pointer, doc),
            pointer=pointer,
            resource=resource,
        )

    def _file_key(self, path: str) -> str:
        if path.startswith(("http://", "https://")) or path == "-":
            return path
        for key, document in self._docs.items():
            if document.path == path:
                return key
        return str(Path(path).resolve())

    def _display(self, key: str) -> str:
        document = self._docs.get(key)
        return document.path if document else key


def _default_allowed_root(base: Path) -> Path:
    """Relative refs may reach up to the working directory when the spec is inside it."""
    cwd = Path.cwd().resolve()
    return cwd if _within(base, cwd) else base


def detect_version(data: Mapping[str, Any]) -> str:
    """``2.0``, ``3.0`` or ``3.1`` from the ``swagger``/``openapi`` field; "" otherwise."""
    swagger = data.get("swagger")
    if isinstance(swagger, str) and swagger.strip() == "2.0":
        return "2.0"
    openapi = data.get("openapi")
    if isinstance(openapi, str):
        for version in ("3.0", "3.1"):
            if openapi == version or openapi.startswith(version + "."):
                return version
    return ""


def iter_refs(data: Any) -> Iterator[tuple[str, str]]:
    """(pointer, ref) for every ``$ref`` string in a tree, iteratively (deep trees are fine)."""
    stack: list[tuple[Any, str]] = [(data, "")]
    while stack:
        node, pointer = stack.pop()
        if isinstance(node, dict):
            ref = node.get("$ref")
            if isinstance(ref, str):
                yield pointer, ref
            stack.extend(
                (value, f"{pointer}/{pointer_segment(key)}") for key, value in node.items()
            )
        elif isinstance(node, list):
            stack.extend((value, f"{pointer}/{index}") for index, value in enumerate(node))


def load_spec(
    path: str,
    *,
    ref_map: Mapping[str, str] | None = None,
    text: str | None = None,
    max_bytes: int = MAX_SPEC_BYTES,
    allowed_root: Path | None = None,
    reader: Reader | None = None,
) -> Spec:
    """Load a spec from ``path`` (or from ``text``, e.g. stdin) without fetching anything.

    ``reader`` replaces the disk for the spec and every file its relative refs reach, e.g. to
    read all of them as they were at a git revision.
    """
    raw = text.encode("utf-8") if text is not None else None
    if raw is None:
        raw = reader(path) if reader else read_limited(path, max_bytes)
    text = decode(check_bytes(raw, path, max_bytes), path)
    spec = Spec(
        parse_document(text, path),
        ref_map=ref_map,
        max_bytes=max_bytes,
        allowed_root=allowed_root,
        reader=reader,
    )
    spec.sha256 = hashlib.sha256(raw).hexdigest()
    return spec
