"""``airgap egress scan``: find egress dependencies in a repository without running anything.

Text is read within size limits and matched line by line with regular expressions; nothing is
imported, executed or parsed as code. Four rules: external URLs, telemetry switches left on,
proxy and package-index settings that send traffic outside, and model-hub downloads at run time.
"""

from __future__ import annotations

import hashlib
import os
import re
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from fnmatch import fnmatchcase
from pathlib import Path
from typing import Any

from airgap_cli import __version__
from airgap_cli.core.config import Config
from airgap_cli.core.errors import InputError
from airgap_cli.core.findings import (
    Finding,
    InputIssue,
    InputRecord,
    Location,
    Report,
    Severity,
    Skipped,
    Suppressed,
)
from airgap_cli.core.hosts import URL_PATTERN, Boundary, is_templated, url_host
from airgap_cli.core.yamlio import read_limited
from airgap_cli.lint.checks import Catalogue, load_catalogue
from airgap_cli.lint.documents import discover
from airgap_cli.lint.suppress import Ignore, InlineIgnores

SCAN_INCLUDE = (
    ".env",
    "*.env",
    ".env.*",
    "Dockerfile",
    "Dockerfile.*",
    "*.Dockerfile",
    "*.dockerfile",
    "Containerfile",
    "Containerfile.*",
    "*.yaml",
    "*.yml",
    "*.toml",
    "*.ini",
    "*.cfg",
    "*.conf",
    "*.properties",
    "requirements*.txt",
    "constraints*.txt",
    "pip.conf",
    "pip.ini",
    ".npmrc",
    ".yarnrc",
    ".pypirc",
    ".condarc",
    "*.json",
    "*.sh",
    "*.py",
)
"""What a directory walk reads. ``*.py`` is only searched for hub downloads, as text."""

SCAN_EXCLUDE = (
    "node_modules/",
    ".venv/",
    "venv/",
    ".tox/",
    ".nox/",
    "site-packages/",
    "__pycache__/",
    ".mypy_cache/",
    ".ruff_cache/",
    ".pytest_cache/",
)
"""Installed third-party code: its hub calls are the libraries', not the project's."""

JSON_MAX_BYTES = 1024 * 1024
"""Large JSON files are data (datasets, lock files), not configuration."""

DEFAULT_IGNORE_URLS = (
    "http://www.w3.org/*",
    "https://www.w3.org/*",
    "http://json-schema.org/*",
    "https://json-schema.org/*",
    "http://schemas.xmlsoap.org/*",
    "http://schemas.microsoft.com/*",
    "https://schemas.microsoft.com/*",
)
"""Namespace and schema identifiers: URLs that name things and are never fetched."""

EXTERNAL_URL = "egress-external-url"
TELEMETRY_ON = "egress-telemetry-on"
PROXY_EXTERNAL = "egress-proxy-external"
HUB_DOWNLOAD = "egress-hub-download"
REASONLESS = "suppression-without-reason"

SCAN_RULES: dict[str, dict[str, Any]] = {
    EXTERNAL_URL: {
        "title": "External URL in configuration",
        "description": (
            "A URL to a host outside the boundary in an env file, Dockerfile, CI or config file "
            "is an egress dependency that fails once the link is cut."
        ),
        "severity": Severity.MEDIUM.value,
        "remediation": (
            "Point it at an internal mirror or service, or remove the dependency; list internal "
            "domains in airgap.yaml (internal.domains)."
        ),
        "compliance": ["NIST-800-53:SC-7", "NIST-800-53:AC-4", "NIST-800-53:CM-7"],
    },
    TELEMETRY_ON: {
        "title": "Telemetry, update check or hub access left on",
        "description": (
            "A switch from the telemetry catalogue (rules/telemetry/knobs.yaml) is set to a value "
            "that keeps the software phoning home, checking for updates or reaching a hub."
        ),
        "severity": Severity.MEDIUM.value,
        "remediation": "Set the switch to its disabling value (the message names it).",
        "compliance": ["NIST-800-53:CM-6", "NIST-800-53:CM-7", "NIST-800-53:SC-7"],
    },
    PROXY_EXTERNAL: {
        "title": "Proxy or package index outside the boundary",
        "description": (
            "A proxy or package-index setting (HTTP(S)_PROXY, PIP_INDEX_URL, npm registry, "
            "HF_ENDPOINT...) sends traffic, and trust, to a host outside the boundary."
        ),
        "severity": Severity.HIGH.value,
        "remediation": (
            "Point it at the internal proxy, package mirror or hub mirror, or remove it."
        ),
        "compliance": ["NIST-800-53:SC-7", "NIST-800-53:AC-4", "NIST-800-53:SR-4"],
    },
    HUB_DOWNLOAD: {
        "title": "Model or dataset downloaded from a hub at run time",
        "description": (
            "Code or configuration downloads models or datasets from a public hub (Hugging Face, "
            "Ollama, PyTorch Hub) when it runs: it fails in the air gap and pulls unverified "
            "artifacts."
        ),
        "severity": Severity.HIGH.value,
        "remediation": (
            "Ship the model in a signed bundle (airgap bundle sign) and load it from a local "
            "path, or serve it from an internal hub mirror (HF_ENDPOINT) with HF_HUB_OFFLINE=1."
        ),
        "compliance": [
            "NIST-800-53:SC-7",
            "NIST-800-53:SR-4",
            "NIST-800-53:SR-11",
            "OWASP-LLM:LLM03:2025",
        ],
    },
}
"""Rule metadata, copied into ``report.rules`` so SARIF has descriptors."""

_REASONLESS_META: dict[str, Any] = {
    "title": "Suppression without a reason",
    "description": "Every accepted exception must say why; the suppression still applies.",
    "severity": Severity.LOW.value,
    "remediation": (
        "Write the reason after a double dash: # airgap:ignore <rule-id> -- <why it is acceptable>."
    ),
    "compliance": ["NIST-800-53:CA-7", "NIST-800-53:CM-3"],
}

PROXY_VARIABLES = frozenset(
    {
        "HTTP_PROXY",
        "HTTPS_PROXY",
        "ALL_PROXY",
        "FTP_PROXY",
        "PIP_INDEX_URL",
        "PIP_EXTRA_INDEX_URL",
        "PIP_FIND_LINKS",
        "UV_INDEX_URL",
        "UV_EXTRA_INDEX_URL",
        "UV_DEFAULT_INDEX",
        "UV_INDEX",
        "NPM_CONFIG_REGISTRY",
        "YARN_REGISTRY",
        "HF_ENDPOINT",
        "GOPROXY",
        "CONDA_CHANNEL_ALIAS",
    }
)
"""Environment variables that move egress to another host (matched case-insensitively)."""

CONFIG_INDEX_KEYS = frozenset(
    {
        "index-url",
        "extra-index-url",
        "find-links",
        "index_url",
        "extra_index_url",
        "registry",
        "proxy",
        "https-proxy",
        "http-proxy",
        "repository",
        "npmregistryserver",
        "channel_alias",
    }
)
"""Keys with that effect in pip.conf, .npmrc, .yarnrc(.yml), .pypirc, uv/poetry TOML, condarc."""

_CONFIG_SUFFIXES = (".ini", ".cfg", ".conf", ".toml", ".yml", ".yaml", ".properties")
_CONFIG_NAMES = ("pip.conf", "pip.ini", ".npmrc", ".yarnrc", ".pypirc", ".condarc")
_INDEX_YAML_NAMES = frozenset({".yarnrc.yml", ".yarnrc.yaml", ".condarc"})
"""YAML files whose ``registry``/``proxy`` keys are package indexes (Helm values are not)."""

_ASSIGN = re.compile(
    r"(?<![\w.-])(?P<name>[A-Za-z_][A-Za-z0-9_]*)=(?P<value>\"[^\"]*\"|'[^']*'|[^\s\"';&|]*)"
)
_KEY_VALUE = re.compile(
    r"^\s*(?:-\s+)?[\"']?(?P<name>@?[A-Za-z_][\w@:.-]*)[\"']?\s*(?P<sep>[:=])\s*(?P<value>.*)$"
)
_DOCKER_ENV = re.compile(r"^\s*(?:ENV|ARG)\s+(?P<rest>.*)$", re.IGNORECASE)
_K8S_NAME = re.compile(
    r"^(?P<indent>\s*)-?\s*name:\s*[\"']?(?P<name>[A-Za-z_][A-Za-z0-9_]*)[\"']?\s*$"
)
_K8S_VALUE = re.compile(r"^\s*value:\s*(?P<value>.*)$")
_INDEX_FLAG = re.compile(
    r"(?:^|\s)(?P<flag>--index-url|--extra-index-url|--find-links|--default-index|--registry"
    r"|--index|-i|-f)(?:=|\s+)(?P<value>[^\s\"';&|]+)"
)
_SCHEMA_KEY = re.compile(r"[\"']?(?:\$schema|\$id|xmlns(?::\w+)?)[\"']?\s*[:=]")

_HF_HOSTS = r"(?:[a-z0-9-]+\.)*(?:huggingface\.co|hf\.co)"
_SHELL_HUB = (
    (
        "huggingface-cli download",
        re.compile(r"\bhuggingface-cli\s+download\s+(?P<id>[^\s\"';&|]+)"),
    ),
    ("hf download", re.compile(r"(?<![\w-])hf\s+download\s+(?P<id>[^\s\"';&|]+)")),
    ("ollama pull", re.compile(r"\bollama\s+pull\s+(?P<id>[^\s\"';&|]+)")),
    ("git lfs clone", re.compile(r"\bgit\s+lfs\s+clone\s+(?P<id>[^\s\"';&|]+)")),
    (
        "git clone",
        re.compile(rf"\bgit\s+clone\b[^\n]*?(?P<id>https?://{_HF_HOSTS}/[^\s\"';&|]+)", re.I),
    ),
    (
        "download",
        re.compile(rf"\b(?:wget|curl)\b[^\n]*?(?P<id>https?://{_HF_HOSTS}/[^\s\"';&|]*)", re.I),
    ),
)
_HF_TOOLS = frozenset(
    {
        "huggingface-cli download",
        "hf download",
        "from_pretrained",
        "hf_hub_download",
        "snapshot_download",
        "SentenceTransformer",
        "load_dataset",
    }
)
_PY_STRING = r"(?P<q>[\"'])(?P<id>[^\"'\n]+)(?P=q)"
_PY_HUB = (
    (
        "from_pretrained",
        re.compile(rf"\.from_pretrained\(\s*(?:pretrained_model_name_or_path\s*=\s*)?{_PY_STRING}"),
    ),
    ("hf_hub_download", re.compile(rf"\bhf_hub_download\(\s*(?:repo_id\s*=\s*)?(?:{_PY_STRING})?")),
    (
        "snapshot_download",
        re.compile(rf"\bsnapshot_download\(\s*(?:repo_id\s*=\s*)?(?:{_PY_STRING})?"),
    ),
    ("SentenceTransformer", re.compile(rf"\bSentenceTransformer\(\s*{_PY_STRING}")),
    ("load_dataset", re.compile(rf"\bload_dataset\(\s*(?:path\s*=\s*)?{_PY_STRING}")),
    ("torch.hub.load", re.compile(rf"\btorch\.hub\.load\(\s*(?:{_PY_STRING})?")),
    (
        "torch.hub.load_state_dict_from_url",
        re.compile(rf"\btorch\.hub\.load_state_dict_from_url\(\s*(?:{_PY_STRING})?"),
    ),
    ("nltk.download", re.compile(rf"\bnltk\.download\(\s*(?:{_PY_STRING})?")),
)
_LOCAL_ONLY = re.compile(r"local_files_only\s*=\s*True|source\s*=\s*[\"']local[\"']")
_HUB_ID = re.compile(r"^[A-Za-z0-9][\w.-]*(?:/[\w.-]+)?$")
_DATASET_BUILDERS = frozenset(
    {
        "csv",
        "json",
        "parquet",
        "text",
        "arrow",
        "imagefolder",
        "audiofolder",
        "webdataset",
        "pandas",
        "sql",
        "generator",
        "xml",
        "videofolder",
    }
)
_USERINFO = re.compile(r"(?<=://)[^/@\s]+@")


@dataclass(slots=True)
class _Hit:
    rule_id: str
    line: int
    column: int
    resource: str
    message: str
    evidence: str
    remediation: str = ""
    covers: tuple[str, ...] = ()
    """URLs this hit already reports, so the external-URL rule does not repeat them."""


@dataclass(slots=True)
class _FileScan:
    path: str
    kind: str
    lines: list[str]
    hits: list[_Hit] = field(default_factory=list)
    name: str = ""
    hf_mirror: bool = False
    """The file points Hugging Face tools at an internal mirror or offline mode."""


def scan_paths(paths: list[str], config: Config) -> Report:
    """Scan files and directories; each finding has file, line and a stable fingerprint."""
    started = time.perf_counter()
    report = Report(command="egress-scan", tool_version=__version__)
    enabled = _enabled_rules(config)
    found = discover(paths, SCAN_INCLUDE, tuple(config.lint.exclude) + SCAN_EXCLUDE, config.shard)
    report.skipped += found.skipped
    report.errors += found.errors
    catalogue = load_catalogue()
    scanner = _Scanner(config.boundary, catalogue, tuple(config.lint.ignore_urls))
    for path in found.files:
        if path == "-":
            report.errors.append(InputIssue("-", "egress scan reads files, not standard input"))
            continue
        text = _read(path, config.lint.max_file_size, report)
        if text is None:
            continue
        _scan_text(scanner, path, text, enabled, config, report)
    report.rules = {rid: dict(SCAN_RULES[rid]) for rid in enabled}
    if any(f.rule_id == REASONLESS for f in report.findings):
        report.rules[REASONLESS] = dict(_REASONLESS_META)
    report.timings["total"] = time.perf_counter() - started
    return report


def _enabled_rules(config: Config) -> list[str]:
    disable, only = config.rules.disable, config.rules.only
    return [r for r in SCAN_RULES if r not in disable and (not only or r in only)]


def _read(path: str, max_bytes: int, report: Report) -> str | None:
    limit = JSON_MAX_BYTES if path.endswith(".json") else max_bytes
    try:
        size = os.stat(path).st_size
    except OSError as exc:
        report.errors.append(InputIssue(path, f"cannot read file: {exc.strerror or exc}"))
        return None
    if size > limit:
        report.skipped.append(Skipped(path, f"larger than {limit // (1024 * 1024)} MiB"))
        return None
    try:
        raw = read_limited(path, limit)
    except InputError as exc:
        if "binary" in exc.message:
            report.skipped.append(Skipped(path, "binary file"))
        elif "larger than" in exc.message:
            report.skipped.append(Skipped(path, f"larger than {limit // (1024 * 1024)} MiB"))
        else:
            report.errors.append(InputIssue(exc.path or path, exc.message, exc.line))
        return None
    report.inputs.append(InputRecord(path, hashlib.sha256(raw).hexdigest(), 1))
    return raw.decode("utf-8-sig", errors="replace")


def _scan_text(
    scanner: _Scanner,
    path: str,
    text: str,
    enabled: list[str],
    config: Config,
    report: Report,
) -> None:
    result = scanner.scan(path, text)
    inline = InlineIgnores(text)
    seen: dict[tuple[str, str], int] = {}
    for hit in sorted(result.hits, key=lambda h: (h.line, h.column, h.rule_id)):
        if hit.rule_id not in enabled:
            continue
        occurrence = seen[(hit.rule_id, hit.resource)] = (
            seen.get((hit.rule_id, hit.resource), 0) + 1
        )
        resource = hit.resource if occurrence == 1 else f"{hit.resource} ({occurrence})"
        meta = SCAN_RULES[hit.rule_id]
        severity = Severity.parse(config.rules.severity.get(hit.rule_id, meta["severity"]))
        finding = Finding(
            rule_id=hit.rule_id,
            severity=severity,
            title=meta["title"],
            message=hit.message,
            location=Location(path, hit.line, hit.column, resource),
            evidence=hit.evidence[:200],
            remediation=hit.remediation or meta["remediation"],
            compliance=tuple(meta["compliance"]),
        )
        silencer = inline.find(hit.rule_id, hit.line)
        if silencer is None:
            report.findings.append(finding)
        else:
            report.suppressed.append(Suppressed(finding, silencer.reason, silencer.source))
    for directive in inline.all:
        if not directive.reason and any(directive.covers(r) for r in SCAN_RULES):
            report.findings.append(_reasonless(path, directive))


def _reasonless(path: str, directive: Ignore) -> Finding:
    """Same location scheme as lint's, so ``airgap check`` sees one fingerprint, not two."""
    ids = ", ".join(sorted(directive.rules)) or "(no rule id)"
    return Finding(
        rule_id=REASONLESS,
        severity=Severity.LOW,
        title=_REASONLESS_META["title"],
        message=f"Suppression of {ids} ({directive.source}) gives no reason",
        location=Location(path, directive.line, None, "file", f"/{directive.source}"),
        evidence=ids,
        remediation=_REASONLESS_META["remediation"],
        compliance=tuple(_REASONLESS_META["compliance"]),
    )


# --- the scanner ---------------------------------------------------------------------------------
def file_kind(path: str) -> str:
    """``python``, ``dockerfile``, ``requirements``, ``config`` (key = value files), ``json``,
    ``yaml`` or ``text``: decides which line patterns apply."""
    name = os.path.basename(path)
    lower = name.lower()
    if lower.endswith(".py"):
        return "python"
    if (
        fnmatchcase(name, "Dockerfile*")
        or fnmatchcase(name, "Containerfile*")
        or lower.endswith(".dockerfile")
    ):
        return "dockerfile"
    if fnmatchcase(lower, "requirements*.txt") or fnmatchcase(lower, "constraints*.txt"):
        return "requirements"
    if lower.endswith(".json"):
        return "json"
    if lower.endswith((".yaml", ".yml")):
        return "yaml"
    if lower in _CONFIG_NAMES or lower.endswith(_CONFIG_SUFFIXES):
        return "config"
    return "text"


@dataclass(frozen=True, slots=True)
class _Assignment:
    name: str
    value: str
    line: int
    column: int
    text: str


class _Scanner:
    """Line patterns over one file's text; holds the boundary and the catalogue."""

    def __init__(self, boundary: Boundary, catalogue: Catalogue, ignore: tuple[str, ...]) -> None:
        self.boundary = boundary
        self.catalogue = catalogue
        self.ignore = DEFAULT_IGNORE_URLS + ignore

    # -- helpers ---------------------------------------------------------------------------------
    def external_host(self, value: str) -> str | None:
        """The host a URL or ``host[:port]`` value points at, when it is outside the boundary."""
        value = value.strip()
        if not value or is_templated(value) or value.lower() in ("direct", "off", "none"):
            return None
        host = url_host(value)
        if host is None:
            if "://" in value or "/" in value.split(":", 1)[0] or " " in value:
                return None
            host = value.rsplit(":", 1)[0] if value.count(":") == 1 else value
            host = host.split("@")[-1]
        if not host or self.boundary.is_internal_host(host):
            return None
        return host

    def scan(self, path: str, text: str) -> _FileScan:
        """Every hit in one file."""
        kind = file_kind(path)
        result = _FileScan(path, kind, text.splitlines(), name=os.path.basename(path).lower())
        active = [(i, line) for i, line in enumerate(result.lines, start=1) if not _comment(line)]
        if kind != "python":
            assignments = list(self._assignments(result.lines, kind))
            result.hf_mirror = self._hf_mirror(assignments)
            for assignment in assignments:
                self._check_assignment(result, assignment)
            for number, line in active:
                self._check_flags(result, number, line, kind)
                self._check_shell_hub(result, number, line)
        for number, line in active:
            self._check_python_hub(result, number, line, path)
        if kind != "python":
            for number, line in active:
                self._check_urls(result, number, line)
        return result

    # -- assignments -----------------------------------------------------------------------------
    def _assignments(self, lines: list[str], kind: str) -> Iterator[_Assignment]:
        continued_env = False
        for number, line in enumerate(lines, start=1):
            if _comment(line):
                continued_env = continued_env and line.rstrip().endswith("\\")
                continue
            seen: set[str] = set()
            docker = _DOCKER_ENV.match(line) if kind == "dockerfile" else None
            if docker and "=" not in docker.group("rest").split(maxsplit=1)[0]:
                parts = docker.group("rest").split(maxsplit=1)  # legacy ``ENV KEY VALUE``
                if len(parts) == 2:
                    value = _clean(parts[1])
                    yield _Assignment(
                        parts[0], value, number, line.find(parts[0]) + 1, line.strip()
                    )
                    seen.add(parts[0])
            for match in _ASSIGN.finditer(line):
                name = match.group("name")
                seen.add(name)
                yield _Assignment(
                    name, _clean(match.group("value")), number, match.start() + 1, match.group()
                )
            key_value = _KEY_VALUE.match(line)
            if key_value and key_value.group("name") not in seen:
                sep = key_value.group("sep")
                if (sep == ":" and kind in ("yaml", "json", "config", "text")) or sep == "=":
                    name = key_value.group("name")
                    yield _Assignment(
                        name,
                        _clean(key_value.group("value")),
                        number,
                        line.find(name) + 1,
                        line.strip(),
                    )
            if kind == "yaml":
                yield from _k8s_env(lines, number, line)
            continued_env = bool(docker or continued_env) and line.rstrip().endswith("\\")

    def _hf_mirror(self, assignments: list[_Assignment]) -> bool:
        for a in assignments:
            internal = a.value and not is_templated(a.value) and not self.external_host(a.value)
            if a.name == "HF_ENDPOINT" and internal:
                return True
            if a.name in ("HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE") and a.value.lower() in (
                "1",
                "true",
                "yes",
                "on",
            ):
                return True
        return False

    def _check_assignment(self, result: _FileScan, a: _Assignment) -> None:
        if not a.value and a.name not in self.catalogue.env:
            return
        if is_templated(a.value):
            return
        upper = a.name.upper()
        key = a.name.lower()
        if upper in PROXY_VARIABLES:
            self._proxy_hit(result, a, f"env:{upper}", a.name)
            return
        index_file = result.kind == "config" or result.name in _INDEX_YAML_NAMES
        if index_file and (key in CONFIG_INDEX_KEYS or key.endswith(":registry")):
            self._proxy_hit(result, a, f"key:{a.name}", a.name)
            return
        knob = self.catalogue.env.get(a.name)
        if knob is None:
            return
        package = str(knob.get("package", ""))
        if knob.get("check") == "internal-endpoint":
            host = self.external_host(a.value) if a.value else None
            if host is not None:
                value = _redact(a.value)
                result.hits.append(
                    _Hit(
                        TELEMETRY_ON,
                        a.line,
                        a.column,
                        f"env:{a.name}",
                        f"{a.name}={value} sends {package} data to external host {host}",
                        f"{a.name}={value}",
                        f"Unset {a.name} or point it at an internal endpoint.",
                        covers=(a.value,),
                    )
                )
            return
        disable = [str(v) for v in knob.get("disable", [])]
        if not disable or a.value.lower() in [d.lower() for d in disable]:
            return
        purpose = str(knob.get("purpose", "telemetry"))
        effect = {
            "offline": "leaves online hub access on",
            "update-check": "leaves update checks on",
        }.get(purpose, "leaves telemetry on")
        result.hits.append(
            _Hit(
                TELEMETRY_ON,
                a.line,
                a.column,
                f"env:{a.name}",
                f"{a.name}={a.value} {effect} ({package}); set {a.name}={disable[0]}",
                f"{a.name}={a.value}",
                f"Set {a.name}={disable[0]}.",
            )
        )

    def _proxy_hit(self, result: _FileScan, a: _Assignment, resource: str, label: str) -> None:
        for value in re.split(r"[\s,]+", a.value):
            host = self.external_host(value)
            if host is None:
                continue
            shown = _redact(value)
            result.hits.append(
                _Hit(
                    PROXY_EXTERNAL,
                    a.line,
                    a.column,
                    resource,
                    f"{label}={shown} sends traffic to external host {host}",
                    f"{label}={shown}",
                    f"Point {label} at the internal proxy or mirror, or remove it.",
                    covers=(a.value, *re.split(r"[\s,]+", a.value)),
                )
            )
            return

    # -- command-line flags ----------------------------------------------------------------------
    def _check_flags(self, result: _FileScan, number: int, line: str, kind: str) -> None:
        pip_context = kind == "requirements" or re.search(r"\b(?:pip3?|uv)\b", line) is not None
        for match in _INDEX_FLAG.finditer(line):
            flag, value = match.group("flag"), _clean(match.group("value"))
            if flag in ("-i", "-f") and not pip_context:
                continue
            if flag == "--index" and not pip_context:
                continue
            host = self.external_host(value)
            if host is None:
                continue
            shown = _redact(value)
            result.hits.append(
                _Hit(
                    PROXY_EXTERNAL,
                    number,
                    match.start("flag") + 1,
                    f"flag:{flag}",
                    f"{flag} {shown} installs packages from external host {host}",
                    f"{flag} {shown}",
                    f"Point {flag} at the internal package mirror.",
                    covers=(value,),
                )
            )

    # -- hub downloads ---------------------------------------------------------------------------
    def _check_shell_hub(self, result: _FileScan, number: int, line: str) -> None:
        for tool, pattern in _SHELL_HUB:
            for match in pattern.finditer(line):
                ident = _clean(match.group("id"))
                if tool in _HF_TOOLS and result.hf_mirror:
                    continue
                if tool == "git lfs clone" and self.external_host(ident) is None:
                    continue
                if tool in ("git clone", "download") and any(
                    h.rule_id == HUB_DOWNLOAD and h.line == number for h in result.hits
                ):
                    continue
                self._hub_hit(result, number, match.start() + 1, tool, ident, match.group())

    def _check_python_hub(self, result: _FileScan, number: int, line: str, path: str) -> None:
        for tool, pattern in _PY_HUB:
            for match in pattern.finditer(line):
                ident = match.groupdict().get("id") or ""
                if tool in _HF_TOOLS and result.hf_mirror:
                    continue
                if _LOCAL_ONLY.search(_call_text(result.lines, number, match.start())):
                    continue
                if tool in ("from_pretrained", "SentenceTransformer", "load_dataset"):
                    if not _hub_id(ident, path):
                        continue
                    if tool == "load_dataset" and ident.lower() in _DATASET_BUILDERS:
                        continue
                self._hub_hit(result, number, match.start() + 1, tool, ident, match.group())

    def _hub_hit(
        self, result: _FileScan, number: int, column: int, tool: str, ident: str, text: str
    ) -> None:
        shown = _redact(ident) if ident else "(computed at run time)"
        what = f"{tool} {shown}" if tool not in ("download", "git clone") else f"{tool} of {shown}"
        result.hits.append(
            _Hit(
                HUB_DOWNLOAD,
                number,
                column,
                f"hub:{tool}:{ident or '?'}",
                f"{what} downloads from a model hub at run time",
                text.strip(),
                covers=(ident,) if ident else (),
            )
        )

    # -- URLs ------------------------------------------------------------------------------------
    def _check_urls(self, result: _FileScan, number: int, line: str) -> None:
        if "://" not in line or _SCHEMA_KEY.search(line):
            return
        covered = [c for h in result.hits if h.line == number for c in h.covers if c]
        for match in URL_PATTERN.finditer(line):
            url = match.group().rstrip(".,;:)\"'")
            if is_templated(url) or any(fnmatchcase(url, p) for p in self.ignore):
                continue
            if self.boundary.is_internal_url(url):
                continue
            if any(url in c or c in url for c in covered):
                continue
            shown = _redact(url)
            result.hits.append(
                _Hit(
                    EXTERNAL_URL,
                    number,
                    match.start() + 1,
                    f"url:{shown}",
                    f"External URL {shown} (host {url_host(url)} is outside the boundary)",
                    shown,
                )
            )


def _k8s_env(lines: list[str], number: int, line: str) -> Iterator[_Assignment]:
    """``- name: KEY`` followed by ``value: X`` (Kubernetes env, GitLab inputs): one setting."""
    match = _K8S_NAME.match(line)
    if match is None:
        return
    for offset in range(1, 4):
        if number - 1 + offset >= len(lines):
            return
        following = lines[number - 1 + offset]
        value = _K8S_VALUE.match(following)
        if value:
            yield _Assignment(
                match.group("name"),
                _clean(value.group("value")),
                number + offset,
                following.find("value") + 1,
                f"{match.group('name')}: {_clean(value.group('value'))}",
            )
            return
        if _K8S_NAME.match(following) or following.strip().startswith("-"):
            return


def _call_text(lines: list[str], number: int, start: int) -> str:
    """The call starting at ``start`` up to its closing parenthesis (at most five lines)."""
    text = lines[number - 1][start:]
    depth = 0
    out: list[str] = []
    for offset, line in enumerate([text, *lines[number : number + 4]]):
        for i, char in enumerate(line):
            depth += {"(": 1, ")": -1}.get(char, 0)
            if depth == 0 and char == ")":
                out.append(line[: i + 1])
                return "\n".join(out)
        out.append(line)
        if offset == 4:
            break
    return "\n".join(out)


def _comment(line: str) -> bool:
    stripped = line.lstrip()
    return stripped.startswith(("#", ";", "//"))


def _clean(value: str) -> str:
    """A value as the consumer sees it: no quotes, trailing comment, comma or continuation."""
    value = value.strip()
    if value.endswith("\\"):
        value = value[:-1].rstrip()
    if value[:1] in ("'", '"'):
        quote = value[0]
        end = value.find(quote, 1)
        return value[1:end] if end > 0 else value[1:]
    value = re.split(r"\s+#", value, maxsplit=1)[0]
    return value.rstrip(",").strip()


def _redact(value: str) -> str:
    """Hide ``user:password@`` (proxy credentials, Sentry DSN keys) in messages and evidence."""
    return _USERINFO.sub("***@", value)


def _hub_id(ident: str, path: str) -> bool:
    """True when a literal looks like a hub id, not a local path (relative to the file too)."""
    if not ident or is_templated(ident) or ident.startswith(("/", ".", "~", "$")):
        return False
    if "\\" in ident or not _HUB_ID.match(ident):
        return False
    base = Path(path).parent
    return not ((base / ident).exists() or Path(ident).exists())
