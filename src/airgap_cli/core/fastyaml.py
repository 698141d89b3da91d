"""A fast path for the plain block YAML most manifests are, with lines only when a finding needs one.

Why: libyaml through PyYAML spends most of its time in the Python constructor; yaml-rs builds the
same dicts and lists in Rust, about ten times faster. It reads YAML 1.2 while Kubernetes, Helm and
GitLab read YAML 1.1, and it keeps no lines, so it is used only where the two cannot differ:

- ``fast_documents`` refuses (returns ``None``) any text containing something where YAML 1.1 and
  1.2 part ways (``yes``/``on``, ``017``, ``1:30``, ``0o17``, ``1e3``, ``=``, numeric keys), or
  that needs the careful loader's guards or messages (anchors and aliases, tags, merge keys,
  directives, tabs, deep nesting, non-printable characters, duplicate keys, odd flow collections,
  errors).
  The caller then uses ``yamlio.load_documents``, which is exact. A property test checks that
  whenever the fast path answers, it answers exactly what the careful loader does.
- Lines come from ``LazyLines``, only when a finding asks for one: read off the indentation, checked
  against the parsed data, or (in doubt) from the careful loader parsing that one document. Files
  without findings never pay for line marks.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import yaml_rs

from airgap_cli.core.errors import InputError
from airgap_cli.core.yamlio import LineDict, RawDocument, line_of, load_documents

_DUPLICATES = yaml_rs.DuplicateKeyPolicy.Error

_MARKER = re.compile(r"\n---(?=[ \t\n]|\Z)")
"""Document markers (searched in ``"\\n" + text``): at column 0 they end any scalar, so
splitting on them is exact."""

# Every pattern below is searched in "\n" + text, once per place a node may start (a line, a
# value, a sequence entry, a complex key, a flow item), and starts with that literal: Python's regex
# engine then skips ahead instead of trying each position, and possessive ``*+`` never backtracks
# over indentation. One alternation of all the leads, or a leading lookbehind, costs 5-10x more.
_END = r"[ \t]*+(?:\n|\Z|#|[,\]}]|:(?:[ \t\n]|\Z))"
"""Where a plain scalar ends: the line, a comment, a flow separator, or a key's colon."""
_NUMBERISH = (
    r"[-+]?(?:"
    r"0[0-9_oOxXbB]"  # 017 (octal in 1.1, decimal in 1.2), 0o17, 0x1f, 0b1, 0_1
    r"|[0-9]+(?:\.[0-9]*)?[_:eE]"  # 1_000, 1:30 (sexagesimal), 1e3, 1.5e3
    r"|\.[0-9]"  # -.5 is a number only in 1.2
    r"|[0-9]+\.(?![0-9])"  # 1.
    r"|\.(?:inf|Inf|INF|nan|NaN|NAN)"
    r"|_+[0-9.]"  # yaml-rs drops underscores anywhere: _1 is 1 there, a string in 1.1
    r")[0-9a-fA-F_.:+xXoO-]*+"
    r"|\+[0-9.][0-9a-fA-F_.:+xXoO-]*+"  # +12
)
_WORDS = r"(?:[yY]es|YES|[nN]o|NO|[oO]n|ON|[oO]ff|OFF|=)"
_NON_STRING_KEY = (  # keys yaml-rs reads as numbers, booleans or null (empty too); we keep text
    r"(?:-[ \t]+)*+(?:[-+.]?[0-9][^\s:,\[\]{}]*+|~|[nN]ull|NULL|[tT]rue|TRUE|[fF]alse|FALSE)?"
    r"[ \t]*+:(?:[ \t\n,\]}]|\Z)"
    r"|(?:-[ \t]+)*+\?(?:[ \t\n,\]}]|\Z)"  # complex keys
)
_NODE_PROPERTY = r"[&*!]"
"""Anchors, aliases and tags: the careful loader bounds and reads them."""
_ODD_START = r"[%@`?]|:(?![ \t\n]|\Z)"
"""Reserved indicators, or a ``:`` starting a scalar: libyaml refuses what yaml-rs may read."""
_FLOW_KEY = (
    r"(?!(?:~|[nN]ull|NULL|[tT]rue|TRUE|[fF]alse|FALSE)[ \t]*:)"
    r"(?:'[^'\n]*'|\"[^\"\\\n]*\"|[A-Za-z_$][^{}\[\]\n:,#'\"]*)"
)
_FLOW_VALUE = r"(?:'[^'\n]*'|\"[^\"\\\n]*\"|[^{}\[\]\n,:#'\"]*)"
_FLOW_ENTRY = rf"[ \t]*{_FLOW_KEY}[ \t]*:[ \t]+{_FLOW_VALUE}[ \t]*"
_FLOW_MAPPING = rf"\{{(?![ \t]*\}}|{_FLOW_ENTRY}(?:,{_FLOW_ENTRY})*\}})"
"""A flow mapping other than ``{}`` or one line of plain ``key: value`` entries: libyaml is
stricter than yaml-rs inside them (``{0}``, ``{:x}``, ``{>}``)."""
_ODD = f"{_ODD_START}|{_FLOW_MAPPING}"
_BLOCK_INDICATOR = r"[|>]"
"""A block scalar header where only a key or a flow item may stand."""
_RISKY = rf"(?:{_NUMBERISH}|{_WORDS}){_END}"
"""Plain scalars YAML 1.1 and 1.2 resolve differently."""
_REFUSED = (
    *(
        re.compile(
            lead + r"[ \t]*+(?=[-+.0-9_yYnNoO=~tTfF:?&*!%@`{|>\[])(?:" + "|".join(bodies) + ")"
        )
        for lead, bodies in (
            (r"\n", (_RISKY, _NON_STRING_KEY, _NODE_PROPERTY, _ODD, _BLOCK_INDICATOR)),
            (r": ", (_RISKY, _NODE_PROPERTY, _ODD)),
            (r"- ", (_RISKY, _NON_STRING_KEY, _NODE_PROPERTY, _ODD)),
            (r"\? ", (_RISKY, _NON_STRING_KEY, _NODE_PROPERTY, _ODD, _BLOCK_INDICATOR)),
            (r"[\[{,]", (_RISKY, _NON_STRING_KEY, _NODE_PROPERTY, _ODD, _BLOCK_INDICATOR)),
        )
    ),
    re.compile(r"\][ \t]*+:(?:[ \t\n,\]}]|\Z)"),  # a flow collection as a key
    re.compile(r"\}[ \t]*+:(?:[ \t\n,\]}]|\Z)"),
    re.compile(r"\n {400}"),  # deep block nesting
    re.compile(r"-[ \t]+-[ \t]+(?:-[ \t]+){62}"),  # deep compact sequences
    re.compile(r"\n---[ \t]+[^#\s]"),  # content on a marker line
)
"""Texts left to the careful loader: its limits, its messages, or its YAML 1.1 meaning."""

_NON_PRINTABLE = re.compile("[^\x09\x0a\x20-\x7e\x85\xa0-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")
"""Characters libyaml refuses; its message names them."""

_BLOCK_HEADER_AT_END = re.compile(r"(?:^|[ \t])[|>][-+0-9]*[ \t]*(?:#.*)?$")
"""A block scalar header on a document's last line: yaml-rs reads that empty scalar as a newline."""
_MAX_OPENERS = 1_000
"""More flow nesting than this goes the careful way (the same bound as its own stack switch)."""


class LazyLines:
    """Lines of one document, found when a finding asks for one.

    Most manifests are block YAML, where a key's line can be read off the indentation: that is
    tried first, checked step by step against the parsed data (every key met must be the next key
    of the mapping, in order), and given up on at the first doubt (flow collections, quoted keys
    with escapes, anything unexpected). Then the careful loader parses this one document.
    """

    __slots__ = ("_careful", "_lines", "data", "offset", "path", "text")

    def __init__(self, text: str, offset: int, path: str, data: Any) -> None:
        self.text = text
        self.offset = offset
        self.path = path
        self.data = data
        self._lines: list[str] | None = None
        self._careful: Any = None

    def line_of(
        self, path: list[str | int] | tuple[str | int, ...], default: int | None
    ) -> int | None:
        """The careful loader's ``line_of`` for ``path`` in this document."""
        line = self._scan(path)
        if line is None:
            if self._careful is None:
                try:
                    docs = load_documents(self.text, self.path)
                except InputError:  # not seen in the property tests; a line is not worth a crash
                    docs = []
                self._careful = docs[0].data if docs else LineDict(0)
            line = line_of(self._careful, path, None)
        return line + self.offset if line is not None else default

    def _scan(self, path: list[str | int] | tuple[str | int, ...]) -> int | None:
        """``line_of`` (1-based, within the document) read off the indentation, or None."""
        if self._lines is None:
            self._lines = self.text.split("\n")
        return block_line_of(self._lines, self.data, path)


def block_line_of(
    lines: list[str], data: Any, path: list[str | int] | tuple[str | int, ...]
) -> int | None:
    """What ``yamlio.line_of`` answers for ``path``, from block YAML's indentation alone.

    ``data`` is the parsed document; every step is checked against it and any doubt returns None.
    """
    row = _next_content(lines, 0, len(lines))
    if row is None or lines[row].lstrip(" ")[:1] in ("[", "{"):
        return None
    line = row + 1
    node, text = data, lines[row]
    dash_item = False
    column = 0
    for position, segment in enumerate(path):
        if position:  # enter the node the previous step found: on its own line, or after "- "
            inline = _inline(text)
            if inline is None:
                return None
            if inline:
                if not dash_item:
                    return None  # a flow collection (or something unexpected) after "key:"
                text = " " * (len(text) - len(inline)) + inline
            else:
                nested = _nested(lines, row + 1, column, dash_item)
                if nested is None:
                    return None
                row, text = nested, lines[nested]
        column = len(text) - len(text.lstrip(" "))
        if isinstance(node, dict) and isinstance(segment, str) and segment in node:
            found = _find_key(lines, row, column, text, list(node), segment)
            if found is None:
                return None
            row, text = found
            line, dash_item = row + 1, False
            node = node[segment]
        elif isinstance(node, list) and isinstance(segment, int) and 0 <= segment < len(node):
            found = _find_item(lines, row, column, text, segment)
            if found is None:
                return None
            row, text = found
            dash_item = True
            inline = _inline(text)
            if inline is None:
                return None
            if inline:
                line = row + 1
            else:
                nested = _nested(lines, row + 1, column, True)
                if nested is None:
                    return None
                line = nested + 1
            node = node[segment]
        else:
            break
        if not isinstance(node, dict | list):
            break  # a scalar: nothing below it can be found
    return line


_KEY = re.compile(r"(?:\"([^\"\\]*)\"|'([^']*)'|([^\s\"'#][^#]*?))[ \t]*:(?:[ \t]+|$)")
"""A block mapping key at the start of a line: double-quoted (no escapes), single-quoted, plain."""


def _entries(lines: list[str], row: int, column: int, text: str) -> Iterator[tuple[int, str]]:
    """(row, stripped text) of each line from ``row`` that starts at ``column``, until one starts
    further left. ``text`` stands for ``lines[row]`` (it may be the part after a ``- ``); blank,
    comment and deeper lines are skipped."""
    for i in range(row, len(lines)):
        here = text if i == row else lines[i]
        stripped = here.lstrip(" ")
        if not stripped or stripped[0] == "#":
            continue
        indent = len(here) - len(stripped)
        if indent < column:
            return
        if indent == column:
            yield i, stripped


def _is_dash(stripped: str) -> bool:
    return stripped == "-" or stripped.startswith("- ")


def _find_key(
    lines: list[str], row: int, column: int, text: str, keys: list[str], wanted: str
) -> tuple[int, str] | None:
    """(row, text after the colon) of ``wanted``, checking the keys met come in order.

    The mapping's keys sit at ``column``; ``- `` lines there are the previous key's indentless
    list.
    """
    expected = iter(keys)
    for i, stripped in _entries(lines, row, column, text):
        if _is_dash(stripped):
            continue
        match = _KEY.match(stripped)
        if match is None:
            return None
        key = next(k for k in match.groups() if k is not None).rstrip()
        if key != next(expected, None):
            return None
        rest = stripped[match.end() :]
        if _unclosed(rest):
            return None
        if key == wanted:
            return i, " " * (column + len(stripped) - len(rest)) + rest
    return None


def _find_item(
    lines: list[str], row: int, column: int, text: str, wanted: int
) -> tuple[int, str] | None:
    """(row, text after the dash) of item ``wanted`` of the block sequence at ``column``."""
    for count, (i, stripped) in enumerate(_entries(lines, row, column, text)):
        if not _is_dash(stripped):
            return None
        rest = stripped[1:].lstrip(" ")
        if _unclosed(rest):
            return None
        if count == wanted:
            return i, " " * (column + len(stripped) - len(rest)) + rest
    return None


def _inline(text: str) -> str | None:
    """What follows a key's colon or an item's dash on its line ('' when nothing or a comment)."""
    rest = text.strip()
    if not rest or rest[0] == "#":
        return ""
    if rest[0] in "[{|>":
        return None  # flow collections and block scalars are left to the careful loader
    return text.lstrip(" ")


def _unclosed(rest: str) -> bool:
    """True when a value starts a quote or flow collection it does not close on this line."""
    value = rest.strip()
    if not value:
        return False
    opener = value[0]
    if opener == '"':
        body = value[1:].replace("\\\\", "").replace('\\"', "")
        return '"' not in body
    if opener == "'":
        return "'" not in value[1:].replace("''", "")
    if opener in "[{":
        return value.count("[") + value.count("{") != value.count("]") + value.count("}")
    return False


def _next_content(lines: list[str], start: int, end: int) -> int | None:
    for i in range(start, end):
        stripped = lines[i].strip()
        if stripped and stripped[0] != "#":
            return i
    return None


def _nested(lines: list[str], start: int, column: int, in_item: bool) -> int | None:
    """The first line of the value below a key (or dash) at ``column``, or None when none is.

    Below a key, a ``- `` line at the key's own column starts an indentless list.
    """
    row = _next_content(lines, start, len(lines))
    if row is None:
        return None
    stripped = lines[row].lstrip(" ")
    indent = len(lines[row]) - len(stripped)
    if indent > column:
        return row
    return row if indent == column and _is_dash(stripped) and not in_item else None


def fast_documents(text: str, path: str) -> list[RawDocument] | None:
    """The documents of ``text`` with lazy lines, or None when only the careful loader may say."""
    scan = "\n" + text
    if (
        text.count("[") + text.count("{") > _MAX_OPENERS
        or "<<" in text  # merge keys
        or "\r" in text  # line breaks other than \n: line counting stays simple
        or "\t" in text  # libyaml refuses tabs in places yaml-rs accepts
        or "\n%" in scan  # directives
        or "\n..." in scan  # document end markers: libyaml is stricter around them
        or _NON_PRINTABLE.search(text)
        or any(pattern.search(scan) for pattern in _REFUSED)
    ):
        return None
    markers = [m.start() for m in _MARKER.finditer(scan)]  # where each "---" starts in text
    starts = [0] + [m + 3 for m in markers]
    ends = [*markers, len(text)]
    docs: list[RawDocument] = []
    for start, end in zip(starts, ends, strict=True):
        segment = text[start:end]
        first = _first_content_line(segment)
        if first is None:
            continue
        if _BLOCK_HEADER_AT_END.search(segment.rstrip().rsplit("\n", 1)[-1]):
            return None  # yaml-rs reads an empty block scalar at the end as "\n", not ""
        if segment.lstrip()[:1] in ("|", ">"):
            return None  # a block scalar as the whole document: libyaml is stricter
        try:
            data = yaml_rs.loads(segment, parse_datetime=False, duplicate_key_policy=_DUPLICATES)
        except (yaml_rs.YAMLDecodeError, ValueError, TypeError, OverflowError):
            return None
        if data is None:
            continue
        if isinstance(data, dict) and _is_list_kind(data):
            return None  # List items take their lines from the careful loader
        offset = text.count("\n", 0, start)
        lines = LazyLines(segment, offset, path, data)
        docs.append(RawDocument(len(docs), offset + first + 1, data, lines))
    return docs


def _first_content_line(segment: str) -> int | None:
    """0-based line of the first line that is neither blank nor a comment."""
    start, number = 0, 0
    while start <= len(segment):
        stop = segment.find("\n", start)
        stop = len(segment) if stop < 0 else stop
        stripped = segment[start:stop].strip()
        if stripped and stripped[0] != "#":
            return number
        start, number = stop + 1, number + 1
    return None


def _is_list_kind(data: dict[str, Any]) -> bool:
    kind = data.get("kind")
    return isinstance(kind, str) and kind.endswith("List") and isinstance(data.get("items"), list)
