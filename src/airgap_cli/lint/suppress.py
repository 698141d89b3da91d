"""Suppressions: inline ``# airgap:ignore`` comments and the ``airgap.dev/ignore`` annotation.

Syntax for both: ``<rule-id>[,<rule-id>…] -- <reason>``. A suppression without a reason still
applies, and is itself reported (``suppression-without-reason``) so every exception is explained.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

ANNOTATION = "airgap.dev/ignore"
_COMMENT = re.compile(r"#\s*airgap:ignore\b[ \t]*(?P<body>[^\n]*)")
_COMMENT_ONLY_LINE = re.compile(r"^\s*#")


@dataclass(frozen=True, slots=True)
class Ignore:
    """One suppression directive."""

    rules: frozenset[str]
    """Rule ids it silences; ``*`` silences every rule."""
    reason: str
    line: int
    source: str
    """``inline`` or ``annotation``."""

    def covers(self, rule_id: str) -> bool:
        """Whether this directive silences ``rule_id``."""
        return rule_id in self.rules or "*" in self.rules


def parse_directive(body: str, line: int, source: str) -> Ignore:
    """``rule-a,rule-b -- reason`` into an :class:`Ignore`."""
    ids, _, reason = body.partition("--")
    rules = frozenset(r.strip() for r in re.split(r"[,\s]+", ids) if r.strip())
    return Ignore(rules, reason.strip(), line, source)


class InlineIgnores:
    """The inline directives of one file, by the line they apply to.

    A comment at the end of a line applies to that line; a comment on a line of its own applies
    to the next line that is not a comment.
    """

    def __init__(self, text: str) -> None:
        self.by_line: dict[int, list[Ignore]] = {}
        self.all: list[Ignore] = []
        if "airgap:ignore" not in text:
            return
        lines = text.splitlines()
        for number, line in enumerate(lines, start=1):
            match = _COMMENT.search(line)
            if not match:
                continue
            directive = parse_directive(match.group("body"), number, "inline")
            self.all.append(directive)
            applies_to = number
            if _COMMENT_ONLY_LINE.match(line):
                applies_to = number + 1
                while applies_to <= len(lines) and (
                    not lines[applies_to - 1].strip()
                    or _COMMENT_ONLY_LINE.match(lines[applies_to - 1])
                ):
                    applies_to += 1
            self.by_line.setdefault(applies_to, []).append(directive)

    def find(self, rule_id: str, line: int | None) -> Ignore | None:
        """The directive silencing ``rule_id`` at ``line``, if any."""
        if line is None:
            return None
        for directive in self.by_line.get(line, ()):
            if directive.covers(rule_id):
                return directive
        return None


def annotation_ignores(annotations: dict[str, object], line: int) -> list[Ignore]:
    """Directives from a resource's ``airgap.dev/ignore`` annotation."""
    value = annotations.get(ANNOTATION)
    if not isinstance(value, str) or not value.strip():
        return []
    return [parse_directive(value, line, "annotation")]
