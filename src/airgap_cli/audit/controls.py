"""Controls as data: ``rules/controls/*.yaml``, each with its source and what assesses it.

A control says which compliance tags (and rule ids) count against it, which of those do not,
and which results assess it by their mere presence (an egress run is event-logging evidence
even when it found nothing). Files are meta-validated like lint rules; a bad one is one line
naming the file, the line and the problem.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from fnmatch import fnmatchcase
from functools import cache
from importlib import resources
from importlib.resources.abc import Traversable
from pathlib import Path
from typing import Any

import jsonschema_rs

from airgap_cli.core.errors import RuleError
from airgap_cli.core.rules import load_data_file


@dataclass(frozen=True, slots=True)
class Evidence:
    """A result whose presence assesses the control."""

    command: str
    shows: str
    """What a reviewer may conclude from it, in one sentence."""
    require: str | None = None
    """``complete-record`` (egress rung records all traffic) or ``verified`` (bundle verified)."""


@dataclass(frozen=True, slots=True)
class Control:
    """One control of a framework, and how airgap's findings and results bear on it."""

    id: str
    framework: str
    title: str
    source: dict[str, str]
    """``document``, ``reference`` (where exactly) and optionally ``url``."""
    statement: str
    """What the control asks, in our words."""
    assessment: str
    """How airgap decides the verdict."""
    tags: tuple[str, ...]
    rules: tuple[str, ...] = ()
    except_rules: tuple[str, ...] = ()
    evidence: tuple[Evidence, ...] = ()
    file: str = ""

    def counts(self, rule_id: str, compliance: Iterable[str]) -> bool:
        """Whether a finding of ``rule_id`` with these tags counts against this control."""
        if any(fnmatchcase(rule_id, pattern) for pattern in self.except_rules):
            return False
        if any(fnmatchcase(rule_id, pattern) for pattern in self.rules):
            return True
        return any(_tag_matches(tag, mine) for tag in compliance for mine in self.tags)

    def to_dict(self) -> dict[str, Any]:
        """JSON form (in the audit report)."""
        return {
            "id": self.id,
            "framework": self.framework,
            "title": self.title,
            "source": dict(self.source),
            "statement": self.statement,
            "assessment": self.assessment,
        }


def _tag_matches(tag: str, control_tag: str) -> bool:
    """``NIST-800-53:SC-7`` matches itself and its enhancements (``NIST-800-53:SC-7(5)``)."""
    return tag == control_tag or (tag.startswith(control_tag) and tag[len(control_tag)] == "(")


def builtin_controls_dir() -> Traversable:
    """The packaged ``rules/controls`` (importlib.resources, never ``__file__``)."""
    return resources.files("airgap_cli").joinpath("rules").joinpath("controls")


@cache
def _validator() -> Any:
    text = resources.files("airgap_cli.schemas").joinpath("control.schema.json").read_text()
    return jsonschema_rs.Draft202012Validator(json.loads(text))


def load_control_file(source: Traversable | Path, display: str) -> Control:
    """One control file, meta-validated."""
    data = load_data_file(source, display, _validator(), "control")
    return Control(
        id=str(data["id"]),
        framework=str(data["framework"]),
        title=str(data["title"]),
        source={k: str(v) for k, v in data["source"].items()},
        statement=" ".join(str(data["statement"]).split()),
        assessment=" ".join(str(data["assessment"]).split()),
        tags=tuple(data["tags"]),
        rules=tuple(data.get("rules", ())),
        except_rules=tuple(data.get("except_rules", ())),
        evidence=tuple(
            Evidence(str(e["command"]), str(e["shows"]), e.get("require"))
            for e in data.get("evidence", ())
        ),
        file=display,
    )


def load_controls(extra_dirs: Sequence[Path] = (), only: Sequence[str] = ()) -> list[Control]:
    """The built-in controls, then ``extra_dirs`` (a control there replaces a built-in one of
    the same id), restricted to ``only`` when given. Unknown ids in ``only`` are an error, and
    so is an empty set (a report against no control would pass anything)."""
    found: dict[str, Control] = {}
    builtin = builtin_controls_dir()
    for entry in sorted(builtin.iterdir(), key=lambda e: e.name):
        if entry.name.endswith((".yaml", ".yml")):
            control = load_control_file(entry, f"rules/controls/{entry.name}")
            _add(found, control, replace=False)
    for directory in extra_dirs:
        if not directory.is_dir():
            raise RuleError("controls directory not found", path=directory)
        for path in sorted(directory.iterdir()):
            if path.suffix in (".yaml", ".yml") and path.is_file():
                _add(found, load_control_file(path, str(path)), replace=True)
    if only:
        unknown = [c for c in only if _key(c) not in found]
        if unknown:
            raise RuleError(
                f"unknown control {', '.join(unknown)}; known: {', '.join(c.id for c in found.values())}"
            )
        wanted = {_key(c) for c in only}
        found = {k: v for k, v in found.items() if k in wanted}
    if not found:
        raise RuleError("no control to assess: an empty control set would pass anything")
    return sorted(found.values(), key=lambda c: (c.framework, _sort_id(c.id)))


def _key(control_id: str) -> str:
    return control_id.strip().upper()


def _add(found: dict[str, Control], control: Control, *, replace: bool) -> None:
    key = _key(control.id)
    if key in found and not replace:
        raise RuleError(f"control {control.id} is defined twice", path=control.file)
    found[key] = control


def _sort_id(control_id: str) -> tuple[str, int, str]:
    """``SC-7`` after ``SC-6`` and before ``SC-12``."""
    family, _, rest = control_id.partition("-")
    digits = re.match(r"\d{1,6}", rest)
    return family, int(digits.group()) if digits else 0, rest
