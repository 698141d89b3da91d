"""Rules as data: load, meta-validate and select rule files (built-in pack + user directories)."""

from __future__ import annotations

import contextlib
import functools
import json
from collections.abc import Iterable
from dataclasses import dataclass, field
from importlib import resources
from importlib.abc import Traversable
from pathlib import Path
from typing import Any

import jsonschema_rs

from airgap_cli.core.errors import InputError, RuleError
from airgap_cli.core.findings import Severity
from airgap_cli.core.yamlio import line_of, load_documents

BUILTIN_LINT_PACKS = ("kubernetes", "gitlab-ci")
"""Directories of ``rules/`` that hold manifest-lint rules."""
BUILTIN_PACKS: dict[str, tuple[str, ...]] = {
    "manifest": BUILTIN_LINT_PACKS,
    "openapi": ("openapi",),
}
"""Built-in rule directories per domain (``domain:`` in a rule file; ``manifest`` by default)."""
_DEFAULT_DOCUMENTS = {"manifest": ["kubernetes"], "openapi": ["openapi"]}


@dataclass(frozen=True)
class RuleCheck:
    """One JSON Schema condition applied to one named target of matching documents."""

    target: str
    condition: dict[str, Any] | bool
    documents: frozenset[str] = frozenset({"kubernetes"})
    kinds: tuple[str, ...] = ()
    api_versions: tuple[str, ...] = ()


@dataclass(frozen=True)
class Rule:
    """A rule's metadata and how it is evaluated (schema checks or a registered Python check)."""

    id: str
    title: str
    severity: Severity
    message: str
    remediation: str
    description: str = ""
    compliance: tuple[str, ...] = ()
    references: tuple[str, ...] = ()
    checks: tuple[RuleCheck, ...] = ()
    python: str | None = None
    redact_evidence: bool = False
    params: dict[str, Any] = field(default_factory=dict)
    tests: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    source: str = ""
    domain: str = "manifest"
    """Which linter runs the rule: ``manifest`` (``airgap lint``) or ``openapi``."""

    def metadata(self) -> dict[str, Any]:
        """What reporters show about the rule (SARIF ``rules[]``, docs)."""
        return {
            "title": self.title,
            "description": self.description or self.title,
            "severity": self.severity.value,
            "remediation": self.remediation,
            "compliance": list(self.compliance),
        }


@functools.cache
def _meta_validator() -> jsonschema_rs.Draft202012Validator:
    """jsonschema-rs, not jsonschema: importing jsonschema costs a second of CPU (its format
    checkers pull in a grammar library), which every ``airgap lint`` would pay."""
    text = resources.files("airgap_cli.schemas").joinpath("rule.schema.json").read_text()
    return jsonschema_rs.Draft202012Validator(json.loads(text))


def builtin_rule_dirs(packs: Iterable[str] = BUILTIN_LINT_PACKS) -> list[Traversable]:
    """The packaged rule directories (read through importlib.resources, never ``__file__``)."""
    base = resources.files("airgap_cli").joinpath("rules")
    return [base.joinpath(pack) for pack in packs]


def load_data_file(source: Traversable | Path, display: str, validator: Any, what: str) -> Any:
    """One YAML document of rule-like data (a rule, a control), meta-validated: any problem is
    a :class:`RuleError` naming the file, the line and the offending key."""
    try:
        docs = load_documents(source.read_text(encoding="utf-8"), display)
    except InputError as exc:
        raise RuleError(exc.message, path=exc.path, line=exc.line) from None
    except (OSError, UnicodeDecodeError) as exc:
        raise RuleError(f"cannot read the {what} file: {exc}", path=display) from None
    if len(docs) != 1:
        raise RuleError(f"a {what} file holds exactly one YAML document", path=display)
    data = docs[0].data
    errors = sorted(validator.iter_errors(data), key=lambda e: list(e.instance_path))
    if errors:
        where = list(errors[0].instance_path)
        raise RuleError(
            f"invalid {what}: {'.'.join(map(str, where)) or '(top level)'}: {errors[0].message}",
            path=display,
            line=line_of(data, where, 1),
        )
    return data


def load_rule_file(source: Traversable | Path, display: str) -> Rule:
    """Parse and meta-validate one rule file."""
    data = load_data_file(source, display, _meta_validator(), "rule")
    domain = str(data.get("domain", "manifest"))
    checks = tuple(
        RuleCheck(
            target=c["target"],
            condition=json.loads(json.dumps(c["condition"])),
            documents=frozenset(c.get("documents", _DEFAULT_DOCUMENTS[domain])),
            kinds=tuple(c.get("kinds", ())),
            api_versions=tuple(c.get("api_versions", ())),
        )
        for c in data.get("checks", ())
    )
    return Rule(
        id=data["id"],
        title=data["title"],
        severity=Severity(data["severity"]),
        message=data["message"],
        remediation=data["remediation"],
        description=data.get("description", ""),
        compliance=tuple(data.get("compliance", ())),
        references=tuple(data.get("references", ())),
        checks=checks,
        python=data.get("python"),
        redact_evidence=bool(data.get("redact_evidence", False)),
        params=dict(data.get("params", {})),
        tests={k: list(v) for k, v in data["tests"].items()},
        source=display,
        domain=domain,
    )


def load_rules(
    builtin: Iterable[Traversable],
    user_dirs: Iterable[Path] = (),
    *,
    disable: Iterable[str] = (),
    only: Iterable[str] = (),
    severity: dict[str, str] | None = None,
    domain: str = "manifest",
) -> list[Rule]:
    """Every rule of ``domain`` in the built-in pack and user directories, selected and re-ranked.

    User directories may mix domains; each linter keeps its own. Fails closed: unknown ids in the
    selection (ids of another domain's built-in pack are known), duplicate ids and an empty
    result are errors.
    """
    rules: dict[str, Rule] = {}
    sources: list[tuple[Traversable | Path, str]] = []
    for directory in builtin:
        sources += [(f, f"rules/{directory.name}/{f.name}") for f in _yaml_files(directory)]
    for directory in user_dirs:
        if not directory.is_dir():
            raise RuleError("rule directory not found", path=directory)
        sources += [(f, str(f)) for f in sorted(directory.rglob("*.y*ml"))]
    for source, display in sources:
        rule = load_rule_file(source, display)
        if rule.id in rules:
            raise RuleError(
                f"rule id {rule.id!r} is already defined in {rules[rule.id].source}", path=display
            )
        rules[rule.id] = rule
    disable, only, severity = set(disable), set(only), dict(severity or {})
    unknown = (disable | only | set(severity)) - set(rules)
    if unknown:
        unknown -= _builtin_ids(other for other in BUILTIN_PACKS if other != domain)
    if unknown:
        raise RuleError(f"unknown rule id(s) in configuration: {', '.join(sorted(unknown))}")
    selected = [
        _reranked(rule, severity.get(rule.id))
        for rule in rules.values()
        if rule.domain == domain and rule.id not in disable and (not only or rule.id in only)
    ]
    if not selected:
        raise RuleError("no rule is enabled: an empty rule set would pass everything")
    return sorted(selected, key=lambda r: r.id)


def _builtin_ids(domains: Iterable[str]) -> set[str]:
    """Rule ids of other domains' built-in packs (a config is shared by every linter)."""
    ids: set[str] = set()
    for domain in domains:
        for directory in builtin_rule_dirs(BUILTIN_PACKS[domain]):
            for source in _yaml_files(directory):
                with contextlib.suppress(InputError):
                    for doc in load_documents(source.read_text(encoding="utf-8"), source.name):
                        if isinstance(doc.data, dict) and isinstance(doc.data.get("id"), str):
                            ids.add(doc.data["id"])
    return ids


def _reranked(rule: Rule, severity: str | None) -> Rule:
    if severity is None:
        return rule
    from dataclasses import replace

    return replace(rule, severity=Severity.parse(severity))


def _yaml_files(directory: Traversable) -> list[Traversable]:
    if not directory.is_dir():
        return []
    found: list[Traversable] = []
    for entry in sorted(directory.iterdir(), key=lambda e: e.name):
        if entry.is_dir():
            found += _yaml_files(entry)
        elif entry.name.endswith((".yaml", ".yml")):
            found.append(entry)
    return found
