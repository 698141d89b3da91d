"""``airgap.yaml``: found from the working directory upward (or ``--config``), schema-validated."""

from __future__ import annotations

import ipaddress
import json
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any

import jsonschema_rs

from airgap_cli.core.errors import ConfigError, InputError
from airgap_cli.core.hosts import Boundary
from airgap_cli.core.shard import Shard
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
    key: Path | None = None
    signature: Path | None = None
    certificate_identity: str | None = None
    certificate_identity_regexp: str | None = None
    certificate_oidc_issuer: str | None = None
    trusted_root: Path | None = None
    """Keyless entries pin a trust root and an identity instead of a key."""


@dataclass(frozen=True)
class OpenAPISettings:
    """The ``openapi:`` section: spec discovery for ``airgap check`` and the breaking gate."""

    specs: tuple[str, ...] = ()
    base: str | None = None
    fail_on: str = "error"
    ignore: tuple[Path, ...] = ()
    levels: dict[str, str] = field(default_factory=dict)
    ref_map: dict[str, str] = field(default_factory=dict)


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
    bundle_keys: tuple[Path, ...] = ()
    """``bundle.keys``: keys for the signed bundles ``airgap check`` finds by itself."""
    openapi: OpenAPISettings = field(default_factory=OpenAPISettings)
    shard: Shard | None = None
    """``--shard I/N`` (never from the file): only this shard's files are read."""

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
        text = read_limited(str(path), 1024 * 1024).decode("utf-8-sig")
    except (InputError, UnicodeDecodeError) as exc:
        if isinstance(exc, InputError):
            raise ConfigError(exc.message, path=exc.path, line=exc.line) from None
        raise ConfigError("not UTF-8 text", path=path) from None
    return parse_config(text, path)


def parse_config(text: str, path: Path) -> Config:
    """The config in ``text``, validated; ``path`` names it in errors and anchors its paths."""
    try:
        docs = load_documents(text, str(path))
    except InputError as exc:
        raise ConfigError(exc.message, path=exc.path, line=exc.line) from None
    if len(docs) > 1:
        raise ConfigError("expected one YAML document", path=path, line=docs[1].line)
    data: Any = docs[0].data if docs else LineDict(1)
    _validate(data, path)
    return _build(data, path)


def _cidr(value: str) -> bool:
    try:
        ipaddress.ip_network(value, strict=False)
    except ValueError:
        return False
    return True


def _validate(data: Any, path: Path) -> None:
    """Schema-check the config with jsonschema-rs (importing jsonschema costs a second of CPU)."""
    schema = json.loads(
        resources.files("airgap_cli.schemas").joinpath("config.schema.json").read_text()
    )
    validator = jsonschema_rs.Draft202012Validator(
        schema, validate_formats=True, formats={"airgap-cidr": _cidr}
    )
    errors = sorted(validator.iter_errors(data), key=lambda e: list(e.instance_path))
    if errors:
        error = errors[0]
        where = list(error.instance_path)
        if isinstance(error.kind, jsonschema_rs.ValidationErrorKind.AdditionalProperties):
            where += sorted(error.kind.unexpected)[:1]
        dotted = ".".join(str(p) for p in where) or "(top level)"
        raise ConfigError(f"{dotted}: {_short(error)}", path=path, line=line_of(data, where, 1))


def _short(error: jsonschema_rs.ValidationError) -> str:
    kind = error.kind
    if isinstance(kind, jsonschema_rs.ValidationErrorKind.AdditionalProperties):
        unexpected = ", ".join(repr(k) for k in sorted(kind.unexpected))
        return f"{unexpected} is not a known setting"
    if isinstance(kind, jsonschema_rs.ValidationErrorKind.Format):
        return f"{error.instance!r} is not a valid {kind.format}"
    return str(error.message)


def _build(data: dict[str, Any], path: Path) -> Config:
    root = path.parent
    internal = data.get("internal") or {}
    rules = data.get("rules") or {}
    lint = data.get("lint") or {}
    defaults = LintSettings()
    baseline = data.get("baseline")
    openapi = data.get("openapi") or {}
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
                root / item["key"] if item.get("key") else None,
                root / item["signature"] if item.get("signature") else None,
                certificate_identity=item.get("certificate_identity"),
                certificate_identity_regexp=item.get("certificate_identity_regexp"),
                certificate_oidc_issuer=item.get("certificate_oidc_issuer"),
                trusted_root=root / item["trusted_root"] if item.get("trusted_root") else None,
            )
            for item in (data.get("bundle") or {}).get("verify", ())
        ),
        bundle_keys=tuple(root / key for key in (data.get("bundle") or {}).get("keys", ())),
        openapi=OpenAPISettings(
            specs=tuple(openapi.get("specs", ())),
            base=openapi.get("base"),
            fail_on=openapi.get("fail_on", "error"),
            ignore=tuple(root / item for item in openapi.get("ignore", ())),
            levels=dict(openapi.get("levels", {})),
            ref_map={url: str(root / file) for url, file in openapi.get("ref_map", {}).items()},
        ),
        egress_baseline=(
            root / data["egress"]["baseline"]
            if (data.get("egress") or {}).get("baseline")
            else None
        ),
    )
