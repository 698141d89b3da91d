"""The catalogue of change checks (oasdiff ids, levels, messages) read from shipped data.

Why data: levels and wording are oasdiff's, and teams tune them; keeping them in
``rules/openapi-diff/checks.yaml`` means one place to read, review and document them, and the
engine never hard-codes a level.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from importlib import resources
from typing import Any

import yaml

from airgap_cli.core.errors import RuleError

LEVELS = ("error", "warning", "info")
DIRECTIONS = ("request", "response", "both", "none")
_FIELDS = ("id", "level", "direction", "message", "description", "example")


@dataclass(frozen=True, slots=True)
class Check:
    """One check: what oasdiff calls it, how bad it is and how it reads."""

    id: str
    level: str
    direction: str
    message: str
    """Message template; each ``%s`` takes one argument, quoted the way oasdiff quotes it."""
    description: str
    example: str


class Catalogue:
    """The checks by id, with the message renderer."""

    def __init__(self, checks: list[Check]) -> None:
        self.checks = {check.id: check for check in checks}

    def level(self, check_id: str) -> str:
        """oasdiff's level of a check (``error``, ``warning`` or ``info``)."""
        return self.checks[check_id].level

    def render(self, check_id: str, args: tuple[str, ...]) -> str:
        """The check's message with its arguments quoted as oasdiff prints them."""
        template = self.checks[check_id].message
        slots = template.count("%s")
        quoted = [f"'{arg}'" for arg in args[:slots]]
        quoted += ["''"] * (slots - len(quoted))
        return template % tuple(quoted) if slots else template


def _parse(raw: Any, source: str) -> list[Check]:
    if not isinstance(raw, dict) or not isinstance(raw.get("checks"), list):
        raise RuleError(f"{source}: expected a mapping with a 'checks' list")
    checks: list[Check] = []
    seen: set[str] = set()
    for index, entry in enumerate(raw["checks"]):
        where = f"{source}: checks[{index}]"
        if not isinstance(entry, dict) or any(not isinstance(entry.get(k), str) for k in _FIELDS):
            raise RuleError(f"{where}: every check needs string fields {', '.join(_FIELDS)}")
        if entry["level"] not in LEVELS or entry["direction"] not in DIRECTIONS:
            raise RuleError(f"{where}: bad level or direction for {entry['id']}")
        if entry["id"] in seen:
            raise RuleError(f"{where}: duplicate id {entry['id']}")
        if entry["message"].count("%") != entry["message"].count("%s"):
            raise RuleError(f"{where}: only %s placeholders are allowed in {entry['id']}")
        seen.add(entry["id"])
        checks.append(Check(*(entry[k] for k in _FIELDS)))
    return checks


@functools.cache
def load_catalogue() -> Catalogue:
    """The shipped catalogue (read once per process)."""
    path = resources.files("airgap_cli").joinpath("rules", "openapi-diff", "checks.yaml")
    text = path.read_text(encoding="utf-8")
    return Catalogue(_parse(yaml.load(text, Loader=yaml.CSafeLoader), "checks.yaml"))


def render_checks_markdown() -> str:
    """A markdown table of every check, for the docs."""
    catalogue = load_catalogue()
    counts = {level: sum(c.level == level for c in catalogue.checks.values()) for level in LEVELS}
    lines = [
        f"{len(catalogue.checks)} checks: {counts['error']} error, {counts['warning']} warning, "
        f"{counts['info']} info.",
        "",
        "| Check id | Level | Side | Description | Example |",
        "| --- | --- | --- | --- | --- |",
    ]
    for check in sorted(catalogue.checks.values(), key=lambda c: (LEVELS.index(c.level), c.id)):
        cells = (f"`{check.id}`", check.level, check.direction, check.description, check.example)
        lines.append("| " + " | ".join(cell.replace("|", "\\|") for cell in cells) + " |")
    return "\n".join(lines) + "\n"


def checks_page() -> str:
    """``docs/openapi-checks.md``: every check id with its level, side and an example."""
    return (
        "# OpenAPI change checks\n\n"
        "Generated from `rules/openapi-diff/checks.yaml` by `make docs`; a test fails when this\n"
        "file is out of date. Ids and levels are oasdiff's, so allow-lists and ignore files carry\n"
        "over. *Side* is the side of the API a change concerns: `request` changes break clients\n"
        "that send, `response` changes break clients that read.\n\n" + render_checks_markdown()
    )
