"""oasdiff's ignore files and ``--severity-levels`` files, so teams keep the lists they have.

Ignore lines are free text matched the way oasdiff matches them: case-insensitively, a line
accepts an operation's change when the first word starting with ``/`` is the change's path,
and the line contains both ``METHOD /path`` and the change's message. Changes outside paths
match with the word ``components`` (or ``security`` for top-level security) instead of a path.
A change that spans several operations is split: only the accepted operations are ignored.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from airgap_cli.core.errors import InputError
from airgap_cli.core.yamlio import decode, read_limited
from airgap_cli.openapi.diff import Change

MAX_FILE_BYTES = 8 * 1024 * 1024
"""Largest ignore or severity-levels file read."""

LEVEL_WORDS = {
    "err": "error",
    "error": "error",
    "warn": "warning",
    "warning": "warning",
    "info": "info",
    "none": "none",
}
"""Spellings accepted in a severity-levels file -> our level names (``none`` disables)."""


@dataclass(frozen=True, slots=True)
class IgnoreLine:
    """One non-empty line of an ignore file, lower-cased, with its path word."""

    number: int
    text: str
    path: str
    """The first whitespace-separated word starting with ``/`` ("" when none)."""


@dataclass(frozen=True, slots=True)
class IgnoreList:
    """The lines of one ignore file."""

    source: str
    lines: tuple[IgnoreLine, ...]


def parse_ignore(text: str, source: str = "<ignore>") -> IgnoreList:
    """Lines of an ignore file's text (blank lines skipped)."""
    lines = []
    for number, raw in enumerate(text.splitlines(), start=1):
        lowered = raw.strip().lower()
        if not lowered:
            continue
        path = next((word for word in lowered.split() if word.startswith("/")), "")
        lines.append(IgnoreLine(number, lowered, path))
    return IgnoreList(source, tuple(lines))


def load_ignore(path: str | Path) -> IgnoreList:
    """Read an ignore file; InputError when it cannot be read."""
    name = str(path)
    return parse_ignore(decode(read_limited(name, MAX_FILE_BYTES), name), name)


def parse_levels(text: str, source: str = "<levels>") -> dict[str, str]:
    """``check-id level`` lines (``#`` comments allowed) -> {check id: level or "none"}."""
    out: dict[str, str] = {}
    for number, raw in enumerate(text.splitlines(), start=1):
        line = raw.split("#", 1)[0].strip()
        if not line:
            continue
        words = line.split()
        level = LEVEL_WORDS.get(words[-1].lower()) if len(words) == 2 else None
        if level is None:
            raise InputError(
                "expected 'check-id level' with level err, warn, info or none",
                path=source,
                line=number,
            )
        out[words[0]] = level
    return out


def load_levels(path: str | Path) -> dict[str, str]:
    """Read a severity-levels file; InputError for an unreadable file or a bad line."""
    name = str(path)
    return parse_levels(decode(read_limited(name, MAX_FILE_BYTES), name), name)


def _section(change: Change) -> str:
    return "security" if change.id.startswith("api-global-security") else "components"


def _accepts(line: IgnoreLine, change: Change, message: str, operation: str | None) -> bool:
    if message.lower() not in line.text:
        return False
    if operation is None:
        return _section(change) in line.text
    path = operation.split(" ", 1)[1].lower() if " " in operation else ""
    return bool(line.path) and line.path == path and operation.lower() in line.text


def _accepted(lines: list[IgnoreLine], change: Change, operation: str | None) -> bool:
    """Every sentence the change has for ``operation`` is accepted by some line."""
    messages = change.messages_for(operation) if operation else [change.message]
    return all(any(_accepts(line, change, m, operation) for line in lines) for m in messages)


def _ignored_operations(change: Change, lists: Sequence[IgnoreList]) -> set[str] | None:
    """The change's operations some line accepts (None: the whole operation-less change)."""
    lines = [line for ignore in lists for line in ignore.lines]
    if not change.operations:
        return None if lines and _accepted(lines, change, None) else set()
    return {op for op in change.operations if _accepted(lines, change, op)}


def _restricted(change: Change, operations: tuple[str, ...]) -> Change:
    """The change limited to some of its operations (and their sentences)."""
    variants = tuple(v for v in change.variants if v[0] in operations)
    message = variants[0][1] if variants else change.message
    return dataclasses.replace(change, operations=operations, variants=variants, message=message)


def apply(
    changes: Iterable[Change],
    ignore: IgnoreList | Iterable[IgnoreList] | None = None,
    overrides: Mapping[str, str] | None = None,
) -> tuple[list[Change], list[Change]]:
    """(kept, ignored) after per-check level overrides and the ignore files.

    A level override of ``none`` drops the check entirely (neither kept nor ignored).
    """
    lists = [ignore] if isinstance(ignore, IgnoreList) else list(ignore or ())
    levels = {k: LEVEL_WORDS.get(v.lower(), v) for k, v in (overrides or {}).items()}
    kept: list[Change] = []
    ignored: list[Change] = []
    for change in changes:
        level = levels.get(change.id, change.level)
        if level == "none":
            continue
        current = change if level == change.level else dataclasses.replace(change, level=level)
        matched = _ignored_operations(current, lists)
        if matched is None:
            ignored.append(current)
        elif not matched:
            kept.append(current)
        else:
            rest = tuple(op for op in current.operations if op not in matched)
            ignored.append(_restricted(current, tuple(sorted(matched))))
            if rest:
                kept.append(_restricted(current, rest))
    return kept, ignored
