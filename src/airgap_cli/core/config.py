"""``airgap.yaml``: found from the working directory upward (or ``--config``), schema-validated."""

from __future__ import annotations

import ipaddress
import json
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any

import jsonschema

from airgap_cli.core.errors import ConfigError, InputError
from airgap_cli.core.hosts import Boundary
from airgap_cli.core.yamlio import (
    DEFAULT_MAX_BYTES,
    LineDict,
    line_of,
    load_documents,
    read_limited,
)

CONFIG_NAMES = ("airgap.yaml", "airgap.yml", ".airgap.yaml")


@dataclass(frozen=True)
class LintSettings:
    """The ``lint:`` section."""

    paths: tuple[str, ...] = ()
    include: tuple[str, ...] = ("**/*.yaml", "**/*.yml", "**/*.json")
    exclude: tuple[str, ...] = ()
    max_file_size: int = DEFAULT_MAX_BYTES
    cluster_scoped_kinds: tuple[str, ...] = ()
    ignore_urls: tuple[str, ...] = ()


@dataclass(frozen=True)
class RuleSettings:
    """The ``rules:`` section: which rules run and at what severity."""

    disable: frozenset[str] = frozenset()
    only: frozenset[str] = frozenset()
    severity: dict[str, str] = field(default_factory=dict)
    dirs: tuple[Path, ...] = ()


@dataclass(frozen=True)
class BundleSpec:
    """One bundle to verify: its path, the pinned public key, and the signature file."""

    path: Path
    key: Path
    signature: Path | None = None


@dataclass(frozen=True)
class Config:
    """A validated configuration; ``Config()`` is the built-in default (no file)."""

    path: Path | None = None
    boundary: Boundary = field(default_factory=Boundary)
    rules: RuleSettings = field(default_factory=RuleSettings)
    lint: LintSettings = field(default_factory=LintSettings)
    fail_on: str | None = None
    baseline: Path | None = None
    egress_allow: tuple[str, ...] = ()
    """``egress.allow``: destinations the workload may reach (host globs, CIDRs, ports)."""
    egress_baseline: Path | None = None
    bundles: tuple[BundleSpec, ...] = ()
    """``bundle.verify``: signed bundles ``airgap check`` verifies with their pinned keys."""

    @property
    def root(self) -> Path:
        """The directory relative paths in the config are resolved against."""
        return self.path.parent if self.path else Path.cwd()


def find_config(start: Path) -> Path | None:
    """The nearest ``airgap.yaml`` in ``start`` or a parent directory."""
    start = start.resolve()
    for directory in (start, *start.parents):
        for name in CONFIG_NAMES:
            candidate = directory / name
            if candidate.is_file():
                return candidate
    return None


def load_config(explicit: Path | None = None, start: Path | None = None) -> Config:
    """Load ``explicit`` or the nearest config from ``start``; defaults when there is none."""
    path = explicit if explicit is not None else find_config(start or Path.cwd())
    if path is None:
        return Config()
    if explicit is not None and not path.exists():
        raise ConfigError("config file not found", path=path)
    try:
        docs = load_documents(read_limited(str(path), 1024 * 1024).decode("utf-8-sig"), str(path))
    except (InputError, UnicodeDecodeError) as exc:
        if isinstance(exc, InputError):
            raise ConfigError(exc.message, path=exc.path, line=exc.line) from None
        raise ConfigError("not UTF-8 text", path=path) from None
    if len(docs) > 1:
        raise ConfigError("expected one YAML document", path=path, line=docs[1].line)
    data: Any = docs[0].data if docs else LineDict(1)
    _validate(data, path)
    return _build(data, path)


def _validate(data: Any, path: Path) -> None:
    schema = json.loads(
        resources.files("airgap_cli.schemas").joinpath("config.schema.json").read_text()
    )
    checker = jsonschema.FormatChecker()

    @checker.checks("airgap-cidr", raises=ValueError)  # type: ignore[untyped-decorator]
    def _cidr(value: object) -> bool:
        if isinstance(value, str):
            ipaddress.ip_network(value, strict=False)
        return True

    validator = jsonschema.Draft202012Validator(schema, format_checker=checker)
    errors = sorted(validator.iter_errors(data), key=lambda e: list(e.absolute_path))
    if errors:
        error = errors[0]
        where = list(error.absolute_path)
        if error.validator == "additionalProperties" and isinstance(error.instance, dict):
            known = set(error.schema.get("properties", {}))
            where += sorted(k for k in error.instance if k not in known)[:1]
        dotted = ".".join(str(p) for p in where) or "(top level)"
        raise ConfigError(f"{dotted}: {_short(error)}", path=path, line=line_of(data, where, 1))


def _short(error: jsonschema.ValidationError) -> str:
    if error.validator == "additionalProperties":
        return (
            str(error.message)
            .replace(" were unexpected", " is not a known setting")
            .replace(" was unexpected", " is not a known setting")
        )
    return str(error.message)


def _build(data: dict[str, Any], path: Path) -> Config:
    root = path.parent
    internal = data.get("internal") or {}
    rules = data.get("rules") or {}
    lint = data.get("lint") or {}
    defaults = LintSettings()
    baseline = data.get("baseline")
    return Config(
        path=path,
        boundary=Boundary(
            registries=tuple(internal.get("registries", ())),
            domains=tuple(internal.get("domains", ())),
            cidrs=tuple(internal.get("cidrs", ())),
        ),
        rules=RuleSettings(
            disable=frozenset(rules.get("disable", ())),
            only=frozenset(rules.get("only", ())),
            severity=dict(rules.get("severity", {})),
            dirs=tuple(root / d for d in rules.get("dirs", ())),
        ),
        lint=LintSettings(
            paths=tuple(lint.get("paths", ())),
            include=tuple(lint.get("include", defaults.include)),
            exclude=tuple(lint.get("exclude", ())),
            max_file_size=int(lint.get("max_file_size", defaults.max_file_size)),
            cluster_scoped_kinds=tuple(lint.get("cluster_scoped_kinds", ())),
            ignore_urls=tuple(lint.get("ignore_urls", ())),
        ),
        fail_on=data.get("fail_on"),
        baseline=root / baseline if baseline else None,
        egress_allow=tuple((data.get("egress") or {}).get("allow", ())),
        bundles=tuple(
            BundleSpec(
                root / item["path"],
                root / item["key"],
                root / item["signature"] if item.get("signature") else None,
            )
            for item in (data.get("bundle") or {}).get("verify", ())
        ),
        egress_baseline=(
            root / data["egress"]["baseline"]
            if (data.get("egress") or {}).get("baseline")
            else None
        ),
    )
