"""Read the JSON results other commands wrote, for ``airgap report`` and ``airgap merge``.

A result is what ``--format json`` writes (``airgap/report/v1``) or a CycloneDX MLBOM from
``airgap bundle mlbom``. Every file is untrusted: bounded in size, parsed as data only, checked
against the schema before any field is used, and refused with one line naming the file, the
line and the problem (truncated, foreign, newer or hand-edited JSON alike).
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from functools import cache
from importlib import resources
from typing import Any

import jsonschema_rs

from airgap_cli.core.errors import InputError
from airgap_cli.core.findings import REPORT_SCHEMA, InputIssue, Report
from airgap_cli.core.yamlio import decode, line_of, load_documents, pointer_segment, read_limited

MAX_RESULT_BYTES = 512 * 1024 * 1024
"""A result of a million findings is about 500 MB; anything bigger is not one of ours."""
_LINE_LOOKUP_MAX_BYTES = 32 * 1024 * 1024
"""Past this size a schema error is reported by JSON pointer only (finding its line costs a
second, line-marked parse of the whole file)."""
MLBOM_COMMAND = "mlbom"

_FOREIGN = (
    ("airgap/audit/", "an airgap audit report, not a result: give the results it was made from"),
    (
        "airgap/egress-baseline/",
        "an egress baseline, not a result: give `egress run --format json`",
    ),
    ("airgap/baseline/", "a findings baseline, not a result: give the command's --format json"),
)


@dataclass(frozen=True, slots=True)
class ResultFile:
    """One result read from disk, tied to its exact bytes."""

    path: str
    sha256: str
    size: int
    report: Report
    """The result as a Report; an MLBOM becomes command ``mlbom`` with its inventory in
    ``details["mlbom"]`` and no findings."""

    @property
    def command(self) -> str:
        """The producing command (``check``, ``egress-run``, ``mlbom``...)."""
        return self.report.command

    @property
    def shard(self) -> dict[str, Any] | None:
        """``{"index": i, "total": n, ...}`` when the result is one shard of a sharded run."""
        shard = self.report.details.get("shard")
        return shard if isinstance(shard, dict) else None

    def describe(self) -> dict[str, Any]:
        """The JSON record of this input in an audit or merged result."""
        record: dict[str, Any] = {
            "path": self.path,
            "sha256": self.sha256,
            "bytes": self.size,
            "command": self.command,
            "tool_version": self.report.tool_version,
        }
        if self.shard is not None:
            record["shard"] = f"{self.shard['index']}/{self.shard['total']}"
        return record


def load_result(path: str, max_bytes: int = MAX_RESULT_BYTES) -> ResultFile:
    """Read one result file; :class:`InputError` (file, line, problem) when it is not one."""
    try:
        raw = read_limited(path, max_bytes)
    except InputError as exc:
        if exc.hint:  # the linter's hint (lint.max_file_size) does not apply here
            exc.hint = None
        raise
    text = decode(raw, path)
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        truncated = not text[exc.pos :].strip()
        problem = "the file ends early (truncated?)" if truncated else exc.msg
        raise InputError(f"not valid JSON: {problem}", path=path, line=exc.lineno) from None
    except (RecursionError, ValueError) as exc:  # too deep, or an integer too long to read
        raise InputError(f"not a usable JSON document: {exc}", path=path) from None
    digest = hashlib.sha256(raw).hexdigest()
    return ResultFile(path, digest, len(raw), _interpret(data, text, path))


def _interpret(data: Any, text: str, path: str) -> Report:
    if isinstance(data, list):
        hint = " (a GitLab Code Quality report?)" if data and isinstance(data[0], dict) else ""
        raise InputError(
            f"a JSON list{hint}, not an airgap result: give the command's --format json output",
            path=path,
            line=1,
        )
    if not isinstance(data, dict):
        raise InputError("not an airgap result: the JSON is not an object", path=path, line=1)
    schema = data.get("schema")
    if schema == REPORT_SCHEMA:
        _check(_report_validator(), data, text, path)
        return Report.from_dict(data)
    if data.get("bomFormat") == "CycloneDX":
        return _mlbom(data, text, path)
    if isinstance(schema, str):
        if schema.startswith("airgap/report/"):
            raise InputError(
                f"written by a newer airgap ({schema}); this airgap reads {REPORT_SCHEMA}",
                path=path,
                line=_line(text, path, ["schema"]),
            )
        for prefix, problem in _FOREIGN:
            if schema.startswith(prefix):
                raise InputError(problem, path=path, line=_line(text, path, ["schema"]))
    if "sarif" in str(data.get("$schema", "")).lower() or "runs" in data:
        raise InputError(
            "a SARIF log, not an airgap result: give the command's --format json output",
            path=path,
            line=1,
        )
    raise InputError(
        f'not an airgap result (no "schema": "{REPORT_SCHEMA}", and not a CycloneDX MLBOM)',
        path=path,
        line=1,
    )


def _mlbom(data: dict[str, Any], text: str, path: str) -> Report:
    """An MLBOM, strictly valid for its CycloneDX version, as inventory evidence."""
    from cyclonedx.schema import SchemaVersion
    from cyclonedx.validation.json import JsonStrictValidator

    version = str(data.get("specVersion", ""))
    versions = {"1.5": SchemaVersion.V1_5, "1.6": SchemaVersion.V1_6, "1.7": SchemaVersion.V1_7}
    if version not in versions:
        raise InputError(
            f"CycloneDX specVersion {version!r} is not one of {', '.join(versions)}",
            path=path,
            line=_line(text, path, ["specVersion"]),
        )
    error = JsonStrictValidator(versions[version]).validate_str(text)
    if error is not None:
        problem = str(getattr(error, "data", error)).splitlines()[0]
        raise InputError(f"not a valid CycloneDX {version} document: {problem}", path=path)
    report = Report(command=MLBOM_COMMAND, tool_version=_bom_tool_version(data))
    report.details["mlbom"] = {
        "spec_version": version,
        "serial_number": data.get("serialNumber"),
        "components": [_component(c) for c in _components(data)],
    }
    return report


def _components(data: dict[str, Any]) -> list[dict[str, Any]]:
    metadata = data.get("metadata") or {}
    found = [metadata["component"]] if isinstance(metadata.get("component"), dict) else []
    return found + [c for c in data.get("components") or [] if isinstance(c, dict)]


def _component(component: dict[str, Any]) -> dict[str, Any]:
    licenses = []
    for entry in component.get("licenses") or []:
        lic = entry.get("license") or {}
        licenses.append(str(lic.get("id") or lic.get("name") or entry.get("expression") or ""))
    return {
        "type": component.get("type"),
        "name": component.get("name"),
        "version": component.get("version"),
        "hashes": {str(h.get("alg")): str(h.get("content")) for h in component.get("hashes") or []},
        "licenses": [lic for lic in licenses if lic],
        "model_card": "modelCard" in component,
    }


def _bom_tool_version(data: dict[str, Any]) -> str:
    tools = (data.get("metadata") or {}).get("tools") or []
    if isinstance(tools, dict):  # CycloneDX 1.5+: {"components": [...], "services": [...]}
        tools = tools.get("components") or []
    for tool in tools:
        if isinstance(tool, dict) and tool.get("name") == "airgap":
            return str(tool.get("version") or "unknown")
    return "unknown"


@cache
def _report_validator() -> Any:
    text = resources.files("airgap_cli.schemas").joinpath("report.schema.json").read_text()
    return jsonschema_rs.Draft202012Validator(json.loads(text))


def _check(validator: Any, data: Any, text: str, path: str) -> None:
    error = next(iter(validator.iter_errors(data)), None) if not validator.is_valid(data) else None
    if error is None:
        return
    where = list(error.instance_path)
    pointer = "".join(f"/{pointer_segment(p)}" for p in where) or "(top level)"
    message = error.message if len(error.message) <= 240 else f"{error.message[:239]}…"
    raise InputError(f"{pointer}: {message}", path=path, line=_line(text, path, where))


def _line(text: str, path: str, where: list[str | int]) -> int | None:
    """The line of the node at ``where`` (found by a line-marked re-parse, only on error)."""
    if len(text) > _LINE_LOOKUP_MAX_BYTES:
        return None
    try:
        docs = load_documents(text, path, json_file=True)
    except InputError:
        return None
    return line_of(docs[0].data, where, 1) if docs else None


def load_results(
    paths: list[str], *, merged_only: bool = False
) -> tuple[list[ResultFile], list[InputIssue]]:
    """Every readable result, each distinct content once; the unreadable ones as issues, so
    the caller reports them and goes on with the rest (nothing is dropped silently).

    ``merged_only``: a shard of a sharded run is refused (its cross-file checks have not run
    yet; ``airgap merge`` completes them)."""
    results: list[ResultFile] = []
    problems: list[InputIssue] = []
    seen: set[str] = set()
    for path in paths:
        try:
            result = load_result(path)
        except InputError as exc:
            problems.append(InputIssue(exc.path or path, exc.message, exc.line))
            continue
        if result.sha256 in seen:
            continue  # the same bytes twice (a glob that matched a copy): counted once
        seen.add(result.sha256)
        if merged_only and result.shard is not None:
            shard = result.shard
            problems.append(
                InputIssue(
                    path,
                    f"shard {shard['index']}/{shard['total']} of a sharded `{result.command}`: "
                    "merge the shards first (airgap merge SHARD.json...)",
                )
            )
            continue
        results.append(result)
    return results, problems
