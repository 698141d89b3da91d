"""``airgap openapi validate``: openapi-spec-validator 0.9's verdicts, offline and many times faster.

Why this shape: users compare our verdict with openapi-spec-validator's, so a spec must be valid
here exactly when it is valid there. The structural part is the official OpenAPI JSON Schema for
the spec's version (the files openapi-spec-validator ships, read from its package and compiled once
per process with jsonschema-rs, the backend it uses itself). The semantic part walks the nodes its
keyword validators walk, in the same order and with the same once-per-schema bookkeeping, but with
the loader's offline ``$ref`` resolution, explicit stacks and visited sets, so recursive schemas,
remote refs and deep trees cost a bounded amount. Each schema is checked against its JSON Schema
dialect with jsonschema-rs; default values are checked by a small validator with the semantics of
the ``jsonschema`` package (OpenAPI 3.0's ``nullable`` and ``discriminator`` included). Formats are
judged by the same libraries ``jsonschema`` uses. The ``jsonschema`` package itself is imported only
for the rare keywords the small validator leaves to it: its import costs seconds wherever
rfc3987-syntax is installed.
"""

from __future__ import annotations

import base64
import datetime
import functools
import importlib
import importlib.util
import ipaddress
import json
import re
import string
import uuid
import warnings
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from fractions import Fraction
from numbers import Number
from pathlib import Path
from typing import Any
from urllib.parse import quote, unquote, urlsplit

import jsonschema_rs

from airgap_cli.core.errors import InputError
from airgap_cli.core.findings import Finding, Location, Severity, fingerprint
from airgap_cli.core.yamlio import pointer_segment
from airgap_cli.openapi.loader import Spec

MAX_FINDINGS = 100
"""Findings reported per spec; a final note counts the rest."""
MAX_COLLECT_STEPS = 200_000
"""Schema nodes visited per spec while gathering the properties an ``allOf`` defines."""
MAX_VALUE_DEPTH = 200
"""Deepest schema/value nesting followed while checking one default value."""
MAX_VALUE_STEPS = 100_000
"""Keywords evaluated while checking one default value; more and it is left unjudged."""
_MESSAGE_LIMIT = 300
_TOO_DEEP = "it nests more than 255 levels deep, too deep to name the offending node"

INVALID = "openapi-invalid"
INVALID_VERSION = "openapi-invalid-version"
INVALID_SCHEMA = "openapi-invalid-schema"
INVALID_DEFAULT = "openapi-invalid-default"
INVALID_REQUIRED = "openapi-invalid-required-property"
INVALID_OPERATION_ID = "openapi-invalid-duplicate-operation-id"
INVALID_PARAMETER = "openapi-invalid-duplicate-parameter"
INVALID_TAG = "openapi-invalid-duplicate-tag"
INVALID_TAG_PARENT = "openapi-invalid-tag-parent"
INVALID_PATH_PARAMETER = "openapi-invalid-path-parameter"
INVALID_PATH_TEMPLATE = "openapi-invalid-path-template"
INVALID_REF = "openapi-invalid-ref"
TRUNCATED = "openapi-invalid-truncated"

RULES: dict[str, dict[str, Any]] = {
    INVALID: {
        "title": "Spec does not follow the OpenAPI schema",
        "remediation": "Change the node at the pointer so the document follows the OpenAPI "
        "specification of its version (the official JSON Schema names what is allowed).",
    },
    INVALID_VERSION: {
        "title": "No supported OpenAPI version",
        "remediation": "Declare `openapi: 3.0.x`, `3.1.x` or `3.2.x` (or `swagger: '2.0'`) as a "
        "string at the top of the document.",
    },
    INVALID_SCHEMA: {
        "title": "Schema is not valid JSON Schema",
        "remediation": "Fix the schema so it follows its JSON Schema dialect (draft 4 for "
        "Swagger 2.0 and OpenAPI 3.0, the OpenAPI dialect of 2020-12 for 3.1).",
    },
    INVALID_DEFAULT: {
        "title": "Default value does not match its schema",
        "remediation": "Change the default (or the schema) so the default is a valid value.",
    },
    INVALID_REQUIRED: {
        "title": "Required property is not defined",
        "remediation": "Define the property under `properties` (here or in an `allOf` part) or "
        "drop it from `required`.",
    },
    INVALID_OPERATION_ID: {
        "title": "Duplicate operationId",
        "remediation": "Give every operation a unique operationId; code generators name methods "
        "after it.",
    },
    INVALID_PARAMETER: {
        "title": "Duplicate parameter",
        "remediation": "Declare each (name, in) pair once per operation or path item.",
    },
    INVALID_TAG: {
        "title": "Duplicate tag",
        "remediation": "Declare each tag name once in the top-level `tags` list.",
    },
    INVALID_TAG_PARENT: {
        "title": "Tag parent is unknown or circular",
        "remediation": "Make every tag `parent` name a declared tag, without cycles.",
    },
    INVALID_PATH_PARAMETER: {
        "title": "Path parameter not declared or not in the path",
        "remediation": "Declare every `{name}` of the path as an `in: path` parameter of the "
        "operation or path item, and use every declared path parameter in the path.",
    },
    INVALID_PATH_TEMPLATE: {
        "title": "Malformed path template",
        "remediation": "Balance the braces of the path: `/items/{id}`.",
    },
    INVALID_REF: {
        "title": "Unresolvable $ref",
        "remediation": "Point the $ref at a node that exists (a JSON pointer in this file or a "
        "relative file), without loops.",
    },
    TRUNCATED: {
        "title": "More validation problems not shown",
        "remediation": "Fix the problems reported first and validate again.",
    },
}
"""Metadata per rule id, in the shape reporters expect in ``Report.rules``."""
for _rule_id, _meta in RULES.items():
    _meta["description"] = _meta["title"]
    _meta["severity"] = (Severity.INFO if _rule_id == TRUNCATED else Severity.HIGH).value
    _meta["compliance"] = []

OAS31_DIALECT = "https://spec.openapis.org/oas/3.1/dialect/base"
OAS32_DIALECT = "https://spec.openapis.org/oas/3.2/dialect/2025-09-17"
_OAS_DIALECT_FILES = {
    OAS31_DIALECT: ("oas3.1/metaschema.json", "oas3.1/vocabularies/base"),
    OAS32_DIALECT: ("oas3.2/dialect/2025-09-17.json", "oas3.2/meta/2025-09-17.json"),
}
_DRAFT_DIALECTS = {
    "http://json-schema.org/draft-03/schema": "draft3",
    "http://json-schema.org/draft-04/schema": "draft4",
    "http://json-schema.org/draft-06/schema": "draft6",
    "http://json-schema.org/draft-07/schema": "draft7",
    "https://json-schema.org/draft/2019-09/schema": "draft201909",
    "https://json-schema.org/draft/2020-12/schema": "draft202012",
}
"""The dialects ``jsonschema`` knows (by normalized id) and their folder in jsonschema-specifications."""
_VERSIONS = (
    ("swagger", "2", "0"),
    ("openapi", "3", "0"),
    ("openapi", "3", "1"),
    ("openapi", "3", "2"),
)
_VERSION_PATTERN = re.compile(r"(?P<major>\d+)\.(?P<minor>\d+)(\..*)?")
_OPERATIONS = ("get", "put", "post", "delete", "options", "head", "patch", "trace")
_OPERATIONS_32 = (*_OPERATIONS, "query")
_RS_FORMATS = (
    "date",
    "date-time",
    "duration",
    "email",
    "hostname",
    "idn-email",
    "idn-hostname",
    "ipv4",
    "ipv6",
    "iri",
    "iri-reference",
    "json-pointer",
    "regex",
    "relative-json-pointer",
    "time",
    "uri",
    "uri-reference",
    "uri-template",
    "uuid",
)
"""Formats jsonschema-rs checks on its own; each is replaced by our check (or by none)."""


# -- public entry point -------------------------------------------------------------------------


def validate(spec: Spec, *, max_findings: int = MAX_FINDINGS) -> list[Finding]:
    """Every way ``spec`` is invalid ([] when openapi-spec-validator would accept it)."""
    version, (field, problem) = spec_version(spec.data)
    out = _Findings(spec, max_findings)
    if version is None:
        out.add(INVALID_VERSION, f"/{field}" if field else "", problem)
        return out.result()
    _check_structure(spec, version, out)
    _Walker(spec, version, out).run()
    return out.result()


def spec_version(data: Any) -> tuple[str | None, tuple[str, str]]:
    """("2.0" | "3.0" | "3.1" | "3.2", ...) detected the way openapi-spec-validator does.

    Otherwise (None, (field, a message naming what was found)).
    """
    if not isinstance(data, dict):
        return None, ("", "not an OpenAPI document: the top level is not a mapping")
    for keyword, major, minor in _VERSIONS:
        if keyword not in data:
            continue
        value = data[keyword]
        if not isinstance(value, str):
            example = "2.0" if keyword == "swagger" else "3.1.0"
            return None, (
                keyword,
                f"`{keyword}` is {_short(value)} (a {type(value).__name__}), not a version "
                f"string such as {example!r}",
            )
        match = _VERSION_PATTERN.match(value)
        if match and (match["major"], match["minor"]) == (major, minor):
            return f"{major}.{minor}", ("", "")
    found = [f"`{key}: {_short(data[key])}`" for key in ("openapi", "swagger") if key in data]
    if not found:
        return None, ("", "no `openapi` or `swagger` field: not an OpenAPI document")
    return None, (
        "openapi" if "openapi" in data else "swagger",
        f"unsupported version {' and '.join(found)} (supported: swagger 2.0, openapi 3.0.x, "
        "3.1.x and 3.2.x)",
    )


# -- findings -----------------------------------------------------------------------------------


class _Findings:
    """Findings of one spec: deduplicated, the first ``limit`` kept, the rest counted."""

    def __init__(self, spec: Spec, limit: int) -> None:
        self._spec = spec
        self._limit = max(limit, 0)
        self._kept: list[Finding] = []
        self._seen: set[tuple[str, str, str, str]] = set()
        self._more = 0

    def add(
        self,
        rule_id: str,
        pointer: str,
        message: str,
        *,
        doc: str | None = None,
        evidence: str | None = None,
    ) -> None:
        """Record one problem at ``pointer`` of ``doc`` (the spec itself by default)."""
        message = _shorten(message)
        key = (rule_id, doc or "", pointer, message)
        if key in self._seen:
            return
        self._seen.add(key)
        if len(self._kept) >= self._limit:
            self._more += 1
            return
        try:
            location = self._spec.location(pointer, doc, resource=self._spec.path)
        except RecursionError:  # finding the line of a node nested too deep: no line then
            location = Location(
                path=doc or self._spec.path, pointer=pointer, resource=self._spec.path
            )
        identity = Location(
            path=location.path, resource=location.resource, pointer=f"{pointer}\x1f{message}"
        )
        self._kept.append(
            Finding(
                rule_id=rule_id,
                severity=Severity.HIGH,
                title=RULES[rule_id]["title"],
                message=message,
                location=location,
                evidence=evidence,
                remediation=RULES[rule_id]["remediation"],
                fingerprint=fingerprint(rule_id, identity),
            )
        )

    @property
    def full(self) -> bool:
        """Whether further findings will only be counted."""
        return len(self._kept) >= self._limit

    def result(self) -> list[Finding]:
        """The kept findings, plus a note when some were left out."""
        if not self._more:
            return list(self._kept)
        plural = "s" if self._more != 1 else ""
        note = Finding(
            rule_id=TRUNCATED,
            severity=Severity.INFO,
            title=RULES[TRUNCATED]["title"],
            message=f"{self._more} more validation problem{plural} not shown (only the first "
            f"{self._limit} are reported)",
            location=Location(path=self._spec.path, resource=self._spec.path),
            remediation=RULES[TRUNCATED]["remediation"],
        )
        return [*self._kept, note]


def _short(value: Any, limit: int = 80) -> str:
    """A one-line JSON rendering of ``value``, cut at ``limit`` characters."""
    try:
        text = json.dumps(value, ensure_ascii=False, default=str)
    except (TypeError, ValueError, RecursionError):
        text = "{…}" if isinstance(value, dict) else "[…]" if isinstance(value, list) else "…"
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _shorten(message: str, limit: int = _MESSAGE_LIMIT) -> str:
    message = " ".join(message.split())
    return message if len(message) <= limit else message[: limit - 1] + "…"


def _pointer(path: Sequence[str | int]) -> str:
    return "".join("/" + pointer_segment(segment) for segment in path)


# -- resources shipped by openapi-spec-validator and its dependencies ---------------------------


def _package_dir(name: str) -> Path:
    """Directory of an installed package, found without importing it."""
    found = importlib.util.find_spec(name)
    if found is None or not found.submodule_search_locations:
        raise InputError(
            f"the {name} package is not installed; `airgap openapi validate` reads the official "
            "OpenAPI schemas from it",
            hint="pip install 'openapi-spec-validator>=0.9,<0.10'",
        )
    return Path(next(iter(found.submodule_search_locations)))


def _read_json(path: Path) -> Any:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise InputError(f"cannot read a bundled schema: {exc}", path=str(path)) from None


@functools.cache
def _openapi_schema(version: str) -> Any:
    """jsonschema-rs validator of the official OpenAPI schema, as openapi-spec-validator builds it."""
    folder = _package_dir("openapi_spec_validator") / "resources" / "schemas"
    return jsonschema_rs.validator_for(
        _read_json(folder / f"v{version}" / "schema.json"), offline=True
    )


def _jsonable(data: Any) -> Any:
    """``data`` as plain JSON types (string keys), the way a JSON round trip sees it."""
    try:
        return json.loads(json.dumps(data, default=str))
    except (TypeError, ValueError, RecursionError) as exc:
        raise InputError(f"the spec holds a value JSON cannot represent: {exc}") from None


# -- formats ------------------------------------------------------------------------------------


@functools.cache
def _module(name: str) -> Any:
    """An optional library, imported on first use; None when it is not installed."""
    try:
        return importlib.import_module(name)
    except ImportError:
        return None


def _is_email(value: str) -> bool:
    return "@" in value


def _is_ipv4(value: str) -> bool:
    ipaddress.IPv4Address(value)
    return True


def _is_ipv6(value: str) -> bool:
    return not getattr(ipaddress.IPv6Address(value), "scope_id", "")


def _is_hostname(value: str) -> bool:
    return bool(_module("fqdn").FQDN(value, min_labels=1).is_valid)


def _is_idn_hostname(value: str) -> bool:
    _module("idna").encode(value)
    return True


def _rfc3986(rule: str) -> Callable[[str], bool]:
    def check(value: str) -> bool:
        if _module("rfc3987") is not None:
            return bool(_module("rfc3987").parse(value, rule=rule))
        return bool(_module("rfc3986_validator").validate_rfc3986(value, rule=rule))

    return check


def _rfc3987_syntax(rule: str, term: str) -> Callable[[str], bool]:
    def check(value: str) -> bool:
        if _module("rfc3987") is not None:
            return bool(_module("rfc3987").parse(value, rule=rule))
        return bool(_module("rfc3987_syntax").is_valid_syntax(term, value))

    return check


def _is_date_time(value: str) -> bool:
    return bool(_module("rfc3339_validator").validate_rfc3339(value.upper()))


_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$", re.ASCII)


def _is_date(value: str) -> bool:
    return bool(_DATE.fullmatch(value) and datetime.date.fromisoformat(value))


def _is_hms_time(value: str) -> bool:
    datetime.datetime.strptime(value, "%H:%M:%S")
    return True


def _is_python_regex(value: str) -> bool:
    regress = _module("regress")
    if regress is not None:
        regress.Regex(value)
        return True
    _regex(value)
    return True


@functools.lru_cache(maxsize=4096)
def _regex(pattern: str) -> re.Pattern[str]:
    """``re.compile`` without the FutureWarnings some patterns raise (the core never prints)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return re.compile(pattern)


def _is_color(value: str) -> bool:
    webcolors = _module("webcolors")
    try:
        webcolors.name_to_hex(value)
    except ValueError:
        webcolors.normalize_hex(value.lower())
    return True


def _is_json_pointer(value: str) -> bool:
    return bool(_module("jsonpointer").JsonPointer(value))


def _is_relative_json_pointer(value: str) -> bool:
    """A number (no digit may follow a 0, as jsonschema reads it) then ``#`` or a JSON pointer."""
    count = 0
    for index, char in enumerate(value):
        if not char.isdigit():
            break
        if index and int(value[index - 1]) == 0:
            return False
        count += 1
    if not count:
        return False
    rest = value[count:]
    return rest == "#" or _is_json_pointer(rest)


def _is_uri_template(value: str) -> bool:
    return bool(_module("uri_template").validate(value))


def _is_duration(value: str) -> bool:
    _module("isoduration").parse_duration(value)
    return value.endswith(tuple("DMYWHMS"))


def _is_uuid(value: str) -> bool:
    uuid.UUID(value)
    return all(value[position] == "-" for position in (8, 13, 18, 23))


def _is_base64(value: str) -> bool:
    base64.b64decode(value.encode("ascii"), validate=True)
    return True


_STRING_FORMATS: dict[str, tuple[Callable[[str], bool], str | None]] = {
    "email": (_is_email, None),
    "idn-email": (_is_email, None),
    "ipv4": (_is_ipv4, None),
    "ipv6": (_is_ipv6, None),
    "hostname": (_is_hostname, "fqdn"),
    "idn-hostname": (_is_idn_hostname, "idna"),
    "uri": (_rfc3986("URI"), "rfc3986_validator|rfc3987"),
    "uri-reference": (_rfc3986("URI_reference"), "rfc3986_validator|rfc3987"),
    "iri": (_rfc3987_syntax("IRI", "iri"), "rfc3987_syntax|rfc3987"),
    "iri-reference": (_rfc3987_syntax("IRI_reference", "iri_reference"), "rfc3987_syntax|rfc3987"),
    "date-time": (_is_date_time, "rfc3339_validator"),
    "date": (_is_date, None),
    "time": (_is_hms_time, None),
    "regex": (_is_python_regex, None),
    "color": (_is_color, "webcolors"),
    "json-pointer": (_is_json_pointer, "jsonpointer"),
    "relative-json-pointer": (_is_relative_json_pointer, "jsonpointer"),
    "uri-template": (_is_uri_template, "uri_template"),
    "duration": (_is_duration, "isoduration"),
    "uuid": (_is_uuid, None),
}
"""What each format means to ``jsonschema``'s default FormatChecker (``time`` is its draft 3 form),
and the library it needs (none installed: the format is not checked, as there)."""


def _fits_bits(value: Any, bits: int) -> bool:
    if isinstance(value, bool) or not isinstance(value, int):
        return True
    return -(1 << (bits - 1)) <= value < 1 << (bits - 1)


def _is_float_value(value: Any) -> bool:
    return isinstance(value, int) or not isinstance(value, Number) or isinstance(value, float)


class _Formats:
    """The format checks of openapi-schema-validator's checker for OpenAPI 3.0 or 3.1/3.2."""

    def __init__(self, oas30: bool) -> None:
        self.oas30 = oas30

    @functools.cached_property
    def names(self) -> frozenset[str]:
        """Every format this checker judges (the rest pass)."""
        names = {name for name, (_, needs) in _STRING_FORMATS.items() if _available(needs)}
        names |= {"int32", "int64", "float", "double", "password", "regex"}
        if self.oas30:
            names |= {"binary", "byte"}
        return frozenset(names)

    def conforms(self, value: Any, name: Any) -> bool:
        """Whether ``value`` is a valid ``name``; values a format does not apply to pass."""
        if not isinstance(name, str) or name not in self.names:
            return True
        if name in ("int32", "int64"):
            return _fits_bits(value, 32 if name == "int32" else 64)
        if name in ("float", "double"):
            return _is_float_value(value)
        if name in ("password", "binary") or not isinstance(value, str):
            return True
        check = _is_base64 if name == "byte" else _STRING_FORMATS[name][0]
        try:
            return check(value)
        except Exception:  # every library signals a bad value its own way: not conforming
            return False

    def for_rust(self) -> dict[str, Callable[[str], bool]]:
        """Callbacks replacing jsonschema-rs's own format checks by ours."""
        return {
            name: functools.partial(self._conforms_string, name=name)
            for name in {*_RS_FORMATS, *self.names}
        }

    def _conforms_string(self, value: str, name: str) -> bool:
        return self.conforms(value, name)


def _available(needs: str | None) -> bool:
    return needs is None or any(_module_installed(name) for name in needs.split("|"))


@functools.cache
def _module_installed(name: str) -> bool:
    return importlib.util.find_spec(name) is not None


@functools.cache
def _formats(oas30: bool) -> _Formats:
    return _Formats(oas30)


# -- metaschemas --------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class _MetaValidator:
    """Checks a schema against its dialect's metaschema and names the first problem."""

    name: str
    validator: Any

    def first_error(self, schema: Any) -> tuple[list[str | int], str] | None:
        """(path inside the schema, message) of a problem, or None when the schema is valid."""
        try:
            if self.validator.is_valid(schema):
                return None
        except (ValueError, TypeError, OverflowError):
            schema = _jsonable(schema)
            if self.validator.is_valid(schema):
                return None
        try:
            error = next(iter(self.validator.iter_errors(schema)))
        except ValueError:  # jsonschema-rs names errors only up to 255 levels deep
            return [], f"the schema is invalid ({_TOO_DEEP})"
        return list(error.instance_path), str(error.message)


@functools.cache
def _meta_validator(dialect: str) -> _MetaValidator | None:
    """The metaschema check openapi-spec-validator applies to schemas of ``dialect``."""
    normalized = urlsplit(dialect).geturl()
    for oas_dialect, (meta_file, vocab_file) in _OAS_DIALECT_FILES.items():
        if normalized == urlsplit(oas_dialect).geturl():
            folder = _package_dir("openapi_schema_validator") / "schemas"
            meta, vocab = _read_json(folder / meta_file), _read_json(folder / vocab_file)
            registry = jsonschema_rs.Registry([(vocab["$id"], vocab), (meta["$id"], meta)])
            validator = jsonschema_rs.validator_for(
                meta,
                registry=registry,
                formats=_formats(oas30=False).for_rust(),
                validate_formats=True,
                offline=True,
            )
            return _MetaValidator(f"for the dialect {oas_dialect}", validator)
    draft = _DRAFT_DIALECTS.get(normalized)
    if draft is None:
        return None
    meta = _read_json(
        _package_dir("jsonschema_specifications") / "schemas" / draft / "metaschema.json"
    )
    if draft == "draft3":  # jsonschema-rs has no draft 3: the jsonschema package judges it
        return _MetaValidator("JSON Schema draft 3", _Draft3Meta(meta))
    validator = jsonschema_rs.validator_for(
        meta, formats=_formats(oas30=False).for_rust(), validate_formats=True, offline=True
    )
    return _MetaValidator(f"JSON Schema ({dialect})", validator)


@functools.cache
def _draft4_meta_validator() -> _MetaValidator:
    """What OpenAPI 3.0 (and Swagger 2.0) schemas are held to: draft 4 plus Python's regex check."""
    meta = _read_json(
        _package_dir("jsonschema_specifications") / "schemas" / "draft4" / "metaschema.json"
    )
    validator = jsonschema_rs.validator_for(
        meta, formats=_formats(oas30=True).for_rust(), validate_formats=True, offline=True
    )
    return _MetaValidator("JSON Schema (draft 4)", validator)


class _Draft3Meta:
    """Draft 3 metaschema checks, by the ``jsonschema`` package (imported only for this)."""

    def __init__(self, meta: Any) -> None:
        self._meta = meta

    def _validator(self) -> Any:
        import jsonschema  # slow import, only for draft-3 schemas

        return jsonschema.Draft3Validator(self._meta, format_checker=jsonschema.FormatChecker())

    def is_valid(self, schema: Any) -> bool:
        """Whether ``schema`` follows draft 3."""
        return bool(self._validator().is_valid(schema))

    def iter_errors(self, schema: Any) -> Iterator[Any]:
        """Problems with ``schema``, each with ``instance_path`` and ``message``."""
        for error in self._validator().iter_errors(schema):
            yield _PlainError(list(error.absolute_path), error.message)


@dataclass(frozen=True, slots=True)
class _PlainError:
    instance_path: list[str | int]
    message: str


# -- structure ----------------------------------------------------------------------------------


def _check_structure(spec: Spec, version: str, out: _Findings) -> None:
    """The official OpenAPI JSON Schema of ``version``, applied as openapi-spec-validator does."""
    validator = _openapi_schema(version)
    data: Any = spec.data
    try:
        valid = validator.is_valid(data)
    except (ValueError, TypeError, OverflowError):
        data = _jsonable(data)
        valid = validator.is_valid(data)
    if valid:
        return
    try:
        errors = list(validator.iter_errors(data))
    except ValueError:  # jsonschema-rs names errors only up to 255 levels deep
        out.add(
            INVALID, "", f"the document does not follow the OpenAPI {version} schema ({_TOO_DEEP})"
        )
        return
    for error in errors:
        message = str(error.message)
        if not out.full:  # past the limit a finding is only counted: no need to word it well
            message = _without_instance(error)
            hint = _closest(error)
            if hint is not None:
                message = f"{_shorten(message, 200)}; closest match: {hint}"
        out.add(INVALID, _pointer(error.instance_path), message)


def _without_instance(error: Any) -> str:
    """jsonschema-rs's message, with a long rendering of the offending value cut short."""
    message = str(error.message)
    if len(message) <= 120 or message[:1] not in "{[":
        return message
    try:
        rendered = json.dumps(error.instance, separators=(",", ":"), ensure_ascii=False)
    except (TypeError, ValueError, RecursionError):
        return message
    if message.startswith(rendered):
        return _short(error.instance, 60) + message[len(rendered) :]
    return message


def _closest(error: Any, depth: int = 0) -> str | None:
    """For a failed anyOf/oneOf, the deepest problem of the alternative that came closest."""
    context = getattr(error.kind, "context", None)
    if not context or depth > 8:
        return None
    branches = [branch for branch in context if branch]
    if not branches:
        return None
    best = min(branches, key=lambda b: (len(b), -max(len(e.instance_path) for e in b)))
    leaf = max(best, key=lambda e: len(e.instance_path))
    deeper = _closest(leaf, depth + 1)
    if deeper is not None:
        return deeper
    return f"{_pointer(leaf.instance_path) or '/'}: {_shorten(_without_instance(leaf), 160)}"


# -- semantics ----------------------------------------------------------------------------------


class _Node:
    """A value of the spec with the document and JSON pointer it was read at.

    The pointer is built only when asked for (findings, default checks): most nodes never need it.
    """

    __slots__ = ("_key", "_parent", "_pointer", "doc", "value")

    def __init__(
        self,
        value: Any,
        doc: str | None,
        pointer: str | None = None,
        parent: _Node | None = None,
        key: str | int = "",
    ) -> None:
        self.value = value
        self.doc = doc
        """Display path of the file holding the value; None for the spec itself."""
        self._pointer = pointer
        self._parent = parent
        self._key = key

    @property
    def pointer(self) -> str:
        """JSON pointer of the value inside ``doc``."""
        if self._pointer is None:
            segments: list[str] = []
            node: _Node = self
            while node._pointer is None and node._parent is not None:
                segments.append(pointer_segment(node._key))
                node = node._parent
            prefix = node._pointer or ""
            self._pointer = prefix + "".join("/" + s for s in reversed(segments))
        return self._pointer

    def child(self, key: str | int) -> _Node:
        """The raw (unresolved) child ``key``."""
        return _Node(self.value[key], self.doc, None, self, key)

    def children(self) -> Iterator[_Node]:
        """Raw children of a list (its items) or of a mapping (its values)."""
        value = self.value
        if isinstance(value, list):
            for index, item in enumerate(value):
                yield _Node(item, self.doc, None, self, index)
        elif isinstance(value, dict):
            for key, item in value.items():
                yield _Node(item, self.doc, None, self, key)


@dataclass(frozen=True, slots=True)
class _RefFailure:
    """Why a ``$ref`` could not be followed (the loader's RefProblem kind)."""

    kind: str
    ref: str
    detail: str

    @property
    def invalid(self) -> bool:
        """A broken or looping ref makes the spec invalid; a remote or refused one is unknown."""
        return self.kind in ("broken", "cycle")


class _References:
    """Follows ``$ref`` chains with the loader, once per (document, ref)."""

    def __init__(self, spec: Spec) -> None:
        self.spec = spec
        self._cache: dict[tuple[str | None, str], _Node | _RefFailure] = {}

    def follow(self, node: _Node) -> _Node | _RefFailure:
        """The target of ``node``'s ``$ref`` chain (``node`` must hold a string ``$ref``)."""
        ref = node.value["$ref"]
        key = (node.doc, ref)
        target = self._cache.get(key)
        if target is None:
            target = self._follow(node.value, node.doc)
            self._cache[key] = target
        return target

    def lookup(self, ref: str, doc: str | None) -> _Node | _RefFailure:
        """The target of ``ref`` written in ``doc``."""
        return self.follow(_Node({"$ref": ref}, doc, ""))

    def _follow(self, holder: dict[str, Any], doc: str | None) -> _Node | _RefFailure:
        spec = self.spec
        before = len(spec.ref_problems)
        resolved = spec.deref(holder, doc)
        if resolved.node is not holder:
            target_doc = None if resolved.doc == spec.path else resolved.doc
            return _Node(resolved.node, target_doc, resolved.pointer)
        ref = str(holder["$ref"])
        problems = spec.ref_problems[before:] or [p for p in spec.ref_problems if p.ref == ref]
        if not problems:
            return _RefFailure("broken", ref, "the target does not exist")
        problem = problems[-1]
        detail = problem.detail or problem.kind
        if problem.ref != ref:
            detail = f"{problem.ref!r}: {detail}"
        return _RefFailure(problem.kind, ref, detail)


class _Template:
    """A path's ``{name}`` fields, as ``str.format`` reads them (openapi-spec-validator's way)."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.error = ""
        self.reported = False
        self._fields: set[str] | None = None
        self._parsed = False

    def fields(self) -> set[str] | None:
        """The field names, or None when the path is not a valid template (see ``error``)."""
        if not self._parsed:
            self._parsed = True
            try:
                parsed = string.Formatter().parse(self.url)
                self._fields = {field for _, field, _, _ in parsed if field}
            except ValueError as exc:
                self.error = str(exc)
        return self._fields


class _Walker:
    """The semantic checks openapi-spec-validator's keyword validators make, node for node."""

    def __init__(self, spec: Spec, version: str, out: _Findings) -> None:
        self.spec = spec
        self.version = version
        self.out = out
        self.operations = _OPERATIONS_32 if version == "3.2" else _OPERATIONS
        self.meta_checked: set[int] = set()
        self.visited: set[int] = set()
        self.operation_ids: dict[str, str] = {}
        self.refs = _References(spec)
        self.collect_steps = 0
        self.values = _ValueChecker(self.refs, oas30=version in ("2.0", "3.0"))
        self.default_dialect: str | None = None

    # -- walking helpers, mirroring jsonschema-path's accessor ----------------------------------

    def resolve(self, node: _Node) -> _Node | None:
        """``node``, or the target of its ``$ref`` chain; None (and a finding) when it fails."""
        value = node.value
        if not isinstance(value, dict) or not isinstance(value.get("$ref"), str):
            return node
        target = self.refs.follow(node)
        if isinstance(target, _Node):
            return target
        if target.invalid:
            self.out.add(
                INVALID_REF,
                f"{node.pointer}/$ref",
                f"$ref {target.ref!r} cannot be resolved: {target.detail}",
                doc=node.doc,
                evidence=target.ref,
            )
        return None

    def get(self, node: _Node, key: str) -> _Node | None:
        """``node[key]`` resolved, when ``node`` is a mapping holding ``key``."""
        if isinstance(node.value, dict) and key in node.value:
            return self.resolve(node.child(key))
        return None

    def resolved_children(self, node: _Node) -> Iterator[tuple[str | int, _Node]]:
        """(key, resolved child) of a mapping or list; children that cannot be followed are skipped."""
        for child in node.children():
            target = self.resolve(child)
            if target is not None:
                yield child._key, target

    # -- the walk ---------------------------------------------------------------------------

    def run(self) -> None:
        """Tags, then paths, then components.schemas: openapi-spec-validator's root order."""
        root = _Node(self.spec.data, None, "")
        tags = self.get(root, "tags")
        if tags is not None:
            self.check_tags(tags)
        paths = self.get(root, "paths")
        if paths is not None and isinstance(paths.value, dict):
            for url, item in self.resolved_children(paths):
                self.check_path_item(str(url), item)
        components = self.get(root, "components")
        if components is not None:
            schemas = self.get(components, "schemas")
            if schemas is not None and isinstance(schemas.value, dict):
                for schema in schemas.children():
                    self.check_schema(schema)

    def check_tags(self, tags: _Node) -> None:
        """Tag names are unique (3.2: and each parent is a declared tag, without cycles)."""
        first: dict[str, str] = {}
        parents: dict[str, tuple[str | None, _Node]] = {}
        for _, tag in self.resolved_children(tags):
            name = tag.value.get("name") if isinstance(tag.value, dict) else None
            if not isinstance(name, str):
                continue
            if name in first:
                self.out.add(
                    INVALID_TAG,
                    f"{tag.pointer}/name",
                    f"tag {name!r} is declared twice (first at {first[name]})",
                    doc=tag.doc,
                    evidence=name,
                )
            first.setdefault(name, tag.pointer)
            parent = tag.value.get("parent")
            parents[name] = (parent if isinstance(parent, str) else None, tag)
        if self.version == "3.2":
            self._check_tag_parents(parents)

    def _check_tag_parents(self, parents: dict[str, tuple[str | None, _Node]]) -> None:
        for name, (parent, tag) in parents.items():
            if parent is not None and parent not in parents:
                self.out.add(
                    INVALID_TAG_PARENT,
                    f"{tag.pointer}/parent",
                    f"tag {name!r} names an unknown parent tag {parent!r}",
                    doc=tag.doc,
                    evidence=parent,
                )
        reported: set[str] = set()
        for start in parents:
            trail: list[str] = []
            position: dict[str, int] = {}
            current: str | None = start
            while current is not None and current in parents:
                if current in position:
                    cycle = " -> ".join([*trail[position[current] :], current])
                    if cycle not in reported:
                        reported.add(cycle)
                        tag = parents[start][1]
                        self.out.add(
                            INVALID_TAG_PARENT,
                            f"{tag.pointer}/parent",
                            f"circular tag hierarchy: {cycle}",
                            doc=tag.doc,
                        )
                    break
                position[current] = len(trail)
                trail.append(current)
                current = parents[current][0]

    def check_path_item(self, url: str, item: _Node) -> None:
        """Path-level parameters, then each operation of the path item."""
        if not isinstance(item.value, dict):
            return
        shared = self.get(item, "parameters")
        if shared is not None:
            self.check_parameters(shared)
        template = _Template(url)
        for key, operation in self.resolved_children(item):
            if key in self.operations:
                self.check_operation(str(key), operation, shared, template)
            elif key == "additionalOperations" and self.version == "3.2":
                for name, extra in self.resolved_children(operation):
                    self.check_operation(str(name), extra, shared, template)

    def check_parameters(self, parameters: _Node) -> None:
        """Each parameter's schema (and 2.0 default); no (name, in) pair twice."""
        first: dict[tuple[str, str], str] = {}
        for _, parameter in self.resolved_children(parameters):
            self.check_parameter(parameter)
            if not isinstance(parameter.value, dict):
                continue
            name, where = parameter.value.get("name"), parameter.value.get("in")
            if not isinstance(name, str) or not isinstance(where, str):
                continue
            if (name, where) in first:
                self.out.add(
                    INVALID_PARAMETER,
                    parameter.pointer,
                    f"parameter {name!r} in {where} is declared twice (first at "
                    f"{first[name, where]})",
                    doc=parameter.doc,
                    evidence=name,
                )
            first.setdefault((name, where), parameter.pointer)

    def check_parameter(self, parameter: _Node) -> None:
        """A parameter's schema; in Swagger 2.0 its default against the parameter itself."""
        if not isinstance(parameter.value, dict):
            return
        if "schema" in parameter.value:
            self.check_schema(parameter.child("schema"))
        if self.version == "2.0" and "default" in parameter.value:
            default = self.resolve(parameter.child("default"))
            if default is not None:
                self.check_default(parameter, default)

    def check_operation(
        self, method: str, operation: _Node, shared: _Node | None, template: _Template
    ) -> None:
        """operationId unique, response schemas, parameters, path parameters vs the template."""
        if not isinstance(operation.value, dict):
            return
        url = template.url
        if "operationId" in operation.value:
            self._check_operation_id(url, method, operation)
        responses = self.get(operation, "responses")
        if responses is not None:
            for _, response in self.resolved_children(responses):
                self.check_response(response)
        declared: list[tuple[str, _Node]] = []
        own = self.get(operation, "parameters")
        if own is not None:
            self.check_parameters(own)
            declared += self._path_parameters(own)
        if shared is not None:
            declared += self._path_parameters(shared)
        fields = template.fields()
        if fields is None:
            if not template.reported:
                template.reported = True
                self.out.add(
                    INVALID_PATH_TEMPLATE,
                    f"/paths/{pointer_segment(url)}",
                    f"path {url!r} is not a valid template: {template.error}",
                    evidence=url,
                )
            return
        names = {name for name, _ in declared}
        where = f"{method.upper()} {url}"
        for name in sorted(fields - names):
            self.out.add(
                INVALID_PATH_PARAMETER,
                operation.pointer,
                f"{where}: path parameter {{{name}}} is not declared as an `in: path` "
                "parameter of the operation or path item",
                doc=operation.doc,
                evidence=name,
            )
        for name in sorted(names - fields):
            parameter = next(node for declared_name, node in declared if declared_name == name)
            self.out.add(
                INVALID_PATH_PARAMETER,
                parameter.pointer,
                f"{where}: path parameter {name!r} is declared but the path has no {{{name}}}",
                doc=parameter.doc,
                evidence=name,
            )

    def _check_operation_id(self, url: str, method: str, operation: _Node) -> None:
        target = self.resolve(operation.child("operationId"))
        if target is None or not isinstance(target.value, str):
            return
        value = target.value
        where = f"{method.upper()} {url}"
        if value in self.operation_ids:
            self.out.add(
                INVALID_OPERATION_ID,
                f"{operation.pointer}/operationId",
                f"operationId {value!r} of {where} is already used by {self.operation_ids[value]}",
                doc=operation.doc,
                evidence=value,
            )
        else:
            self.operation_ids[value] = where

    def _path_parameters(self, parameters: _Node) -> list[tuple[str, _Node]]:
        found = []
        for _, parameter in self.resolved_children(parameters):
            value = parameter.value
            if isinstance(value, dict) and value.get("in") == "path":
                name = value.get("name")
                if isinstance(name, str):
                    found.append((name, parameter))
        return found

    def check_response(self, response: _Node) -> None:
        """2.0: the response schema; 3.x: the schema of each media type."""
        if not isinstance(response.value, dict):
            return
        if self.version == "2.0":
            if "schema" in response.value:
                self.check_schema(response.child("schema"))
            return
        content = self.get(response, "content")
        if content is None:
            return
        for _, media in self.resolved_children(content):
            if isinstance(media.value, dict) and "schema" in media.value:
                self.check_schema(media.child("schema"))

    # -- schemas ----------------------------------------------------------------------------

    def check_schema(self, start: _Node) -> None:
        """A top-level schema and the schemas under it, each at most once per spec.

        As openapi-spec-validator: the metaschema check only for top-level schemas (once each; a
        failing schema is not descended into), then pre-order over allOf, anyOf, oneOf, not, items
        and properties; ``required`` against ``allOf`` only at the top; ``default`` everywhere.
        """
        stack: list[tuple[_Node, bool]] = [(start, True)]
        visited = self.visited
        while stack:
            raw, top = stack.pop()
            value = raw.value
            schema = raw
            if not isinstance(value, dict) or "$ref" in value:
                target = self.resolve(raw)
                if target is None:
                    continue
                schema, value = target, target.value
                if not isinstance(value, (dict, bool)):
                    self.out.add(
                        INVALID_SCHEMA,
                        schema.pointer,
                        f"{_short(value)} is not of type 'object', 'boolean'",
                        doc=schema.doc,
                    )
                    continue
            identity = id(value)
            if top and identity not in self.meta_checked:
                self.meta_checked.add(identity)
                if self._meta_check(schema):
                    continue
            if identity in visited:
                continue
            visited.add(identity)
            if not isinstance(value, dict):
                continue
            children: list[_Node] = []
            for keyword in _SUBSCHEMA_GROUPS:
                if keyword in value:
                    group = self.get(schema, keyword)
                    if group is not None:
                        children += _unvisited(group, visited)
            for keyword in ("not", "items"):
                if keyword in value and _pending(value[keyword], visited):
                    children.append(schema.child(keyword))
            if "properties" in value:
                properties = self.get(schema, "properties")
                if properties is not None:
                    children += _unvisited(properties, visited)
            if top and "allOf" in value:
                self._check_required(schema)
            if "default" in value:
                self._check_schema_default(schema)
            stack.extend((child, False) for child in reversed(children))

    def _meta_check(self, schema: _Node) -> bool:
        """The schema against its JSON Schema dialect; True (and a finding) when it fails."""
        value = schema.value
        if self.version in ("2.0", "3.0"):
            meta: _MetaValidator | None = _draft4_meta_validator()
        else:
            if isinstance(value, dict) and "$schema" in value:
                dialect = value["$schema"]
                if not isinstance(dialect, str):
                    return self._unknown_dialect(schema, dialect)
            else:
                dialect = self._default_dialect()
            meta = _meta_validator(dialect)
            if meta is None:
                return self._unknown_dialect(schema, dialect)
        assert meta is not None
        error = meta.first_error(value)
        if error is None:
            return False
        path, message = error
        self.out.add(
            INVALID_SCHEMA,
            schema.pointer + _pointer(path),
            f"schema is not valid {meta.name}: {message}",
            doc=schema.doc,
        )
        return True

    def _unknown_dialect(self, schema: _Node, dialect: Any) -> bool:
        self.out.add(
            INVALID_SCHEMA,
            f"{schema.pointer}/$schema" if isinstance(schema.value, dict) else schema.pointer,
            f"unknown JSON Schema dialect {_short(dialect)}",
            doc=schema.doc,
            evidence=_short(dialect),
        )
        return True

    def _default_dialect(self) -> str:
        if self.default_dialect is None:
            declared = self.spec.data.get("jsonSchemaDialect")
            fallback = OAS32_DIALECT if self.version == "3.2" else OAS31_DIALECT
            self.default_dialect = declared if isinstance(declared, str) else fallback
        return self.default_dialect

    def _check_required(self, schema: _Node) -> None:
        """``required`` names only properties defined here or in the ``allOf`` parts."""
        required_node = self.get(schema, "required")
        required = required_node.value if required_node is not None else None
        if not required or not isinstance(required, list):
            return
        defined: set[Any] = set()
        properties = self.get(schema, "properties")
        if properties is not None:
            defined |= _property_names(properties.value)
        group = self.get(schema, "allOf")
        if group is not None:
            for part in group.children():
                collected = self._collect_properties(part)
                if collected is None:
                    return
                defined |= collected
        missing = sorted({name for name in required if isinstance(name, str)} - defined)
        if missing:
            where = required_node.pointer if required_node is not None else schema.pointer
            self.out.add(
                INVALID_REQUIRED,
                where,
                f"required lists {', '.join(repr(name) for name in missing)} but neither "
                f"`properties` nor the `allOf` parts define {'it' if len(missing) == 1 else 'them'}",
                doc=schema.doc,
                evidence=", ".join(missing),
            )

    def _collect_properties(self, start: _Node) -> set[Any] | None:
        """Property names reachable through allOf/anyOf/oneOf/items/not; None if over budget."""
        names: set[Any] = set()
        seen: set[int] = set()
        stack = [start]
        while stack:
            self.collect_steps += 1
            if self.collect_steps > MAX_COLLECT_STEPS:
                return None
            node = self.resolve(stack.pop())
            if node is None or not isinstance(node.value, dict) or id(node.value) in seen:
                continue
            seen.add(id(node.value))
            properties = self.get(node, "properties")
            if properties is not None:
                names |= _property_names(properties.value)
            for keyword in ("allOf", "anyOf", "oneOf"):
                group = self.get(node, keyword)
                if group is not None:
                    stack.extend(group.children())
            stack.extend(
                node.child(keyword) for keyword in ("items", "not") if keyword in node.value
            )
        return names

    def _check_schema_default(self, schema: _Node) -> None:
        default = self.resolve(schema.child("default"))
        if default is None:
            return
        nullable: Any = False
        if "nullable" in schema.value:
            nullable_node = self.resolve(schema.child("nullable"))
            nullable = nullable_node.value if nullable_node is not None else False
        if default.value is not None or nullable is not True:
            self.check_default(schema, default)

    def check_default(self, schema: _Node, default: _Node) -> None:
        """``default`` is a valid value of ``schema`` (OpenAPI semantics of its version)."""
        outcome = self.values.first_error(schema, default.value)
        if outcome is None:
            return
        if isinstance(outcome, _RefFailure):
            if outcome.invalid:
                self.out.add(
                    INVALID_REF,
                    schema.pointer,
                    f"$ref {outcome.ref!r} used by this schema cannot be resolved (met while "
                    f"checking its default): {outcome.detail}",
                    doc=schema.doc,
                    evidence=outcome.ref,
                )
            return
        self.out.add(
            INVALID_DEFAULT,
            f"{schema.pointer}/default",
            f"default {_short(default.value)} does not match its schema: {outcome}",
            doc=schema.doc,
            evidence=_short(default.value),
        )


_SUBSCHEMA_GROUPS = ("allOf", "anyOf", "oneOf")
_INERT = frozenset({"$ref", "allOf", "anyOf", "oneOf", "not", "items", "properties", "default"})
"""A schema holding none of these keys has nothing the walk checks below the metaschema."""


def _unvisited(group: _Node, visited: set[int]) -> Iterator[_Node]:
    """Raw children of a schema list or map, minus plain schemas the walk has already seen."""
    value = group.value
    items = (
        enumerate(value)
        if isinstance(value, list)
        else value.items()
        if isinstance(value, dict)
        else ()
    )
    for key, item in items:
        if _pending(item, visited):
            yield _Node(item, group.doc, None, group, key)


def _pending(item: Any, visited: set[int]) -> bool:
    """Whether the walk has anything to do with this raw subschema (else it is claimed now)."""
    if not isinstance(item, dict) or "$ref" in item:
        return True
    if id(item) in visited:
        return False  # already walked: popping it would change nothing
    if _INERT.isdisjoint(item):
        # no ref, subschema or default below: claiming it is all the walk would do, and only a
        # later top-level call (which runs its metaschema check regardless) could tell when
        visited.add(id(item))
        return False
    return True


def _property_names(properties: Any) -> set[Any]:
    """Keys of a ``properties`` value (a list's indices, as the accessor lists them)."""
    if isinstance(properties, dict):
        return set(properties)
    if isinstance(properties, list):
        return set(range(len(properties)))
    return set()


# -- default values -----------------------------------------------------------------------------


class _Unjudged(Exception):
    """This value cannot be judged: openapi-spec-validator would stop with an error, not a verdict."""


class _NeedsJsonschema(Exception):
    """A keyword the small validator leaves to the ``jsonschema`` package."""


class _RefStop(Exception):
    """A ``$ref`` met while checking a value cannot be followed."""

    def __init__(self, failure: _RefFailure) -> None:
        super().__init__(failure.ref)
        self.failure = failure


_TRUE, _FALSE = object(), object()


def _unbool(value: Any) -> Any:
    if value is True:
        return _TRUE
    if value is False:
        return _FALSE
    return value


def _equal(one: Any, two: Any) -> bool:
    """JSON equality as ``jsonschema`` has it: true and 1 differ, 1 and 1.0 do not."""
    if one is two:
        return True
    if isinstance(one, str) or isinstance(two, str):
        return bool(one == two)
    if isinstance(one, Sequence) and isinstance(two, Sequence):
        return len(one) == len(two) and all(_equal(a, b) for a, b in zip(one, two, strict=True))
    if isinstance(one, Mapping) and isinstance(two, Mapping):
        return len(one) == len(two) and all(
            key in two and _equal(value, two[key]) for key, value in one.items()
        )
    return bool(_unbool(one) == _unbool(two))


def _unique(items: list[Any]) -> bool:
    for index, item in enumerate(items):
        for other in items[index + 1 :]:
            if _equal(_unbool(item), _unbool(other)):
                return False
    return True


_NESTED_QUANTIFIER = re.compile(r"[*+?}]\)+[*+{]")
"""``(a+)+`` and the like: patterns whose backtracking can take exponential time."""


def _search(pattern: Any, text: str) -> bool:
    """``pattern`` found in ``text``, as openapi-schema-validator searches (Python's ``re``).

    A pattern that can backtrack exponentially is run on a long value by jsonschema-rs's
    backtrack-limited engine instead, so a hostile spec cannot stall the check.
    """
    if isinstance(pattern, str) and len(text) > 16 and _NESTED_QUANTIFIER.search(pattern):
        return _bounded_search(pattern, text)
    regress = _module("regress")
    if regress is not None:
        return regress.Regex(pattern).find(text) is not None
    return _regex(pattern).search(text) is not None


def _bounded_search(pattern: str, text: str) -> bool:
    try:
        validator = _rust_pattern(pattern)
    except ValueError:  # not a pattern jsonschema-rs compiles: no verdict rather than a stall
        raise _Unjudged from None
    for error in validator.iter_errors(text):
        if error.kind.name != "pattern":
            raise _Unjudged  # the engine gave up (backtrack limit)
        return False
    return True


@functools.lru_cache(maxsize=256)
def _rust_pattern(pattern: str) -> Any:
    return jsonschema_rs.validator_for({"pattern": pattern}, offline=True)


_KEYWORDS_OAS30 = frozenset(
    {
        "multipleOf",
        "maximum",
        "minimum",
        "maxLength",
        "minLength",
        "pattern",
        "maxItems",
        "minItems",
        "uniqueItems",
        "maxProperties",
        "minProperties",
        "enum",
        "type",
        "allOf",
        "oneOf",
        "anyOf",
        "not",
        "items",
        "properties",
        "required",
        "additionalProperties",
        "format",
        "$ref",
    }
)
"""The keywords openapi-schema-validator's OAS30Validator evaluates (others are annotations)."""
_KEYWORDS_2020 = frozenset(
    {
        "$ref",
        "additionalProperties",
        "allOf",
        "anyOf",
        "const",
        "contains",
        "dependentRequired",
        "dependentSchemas",
        "enum",
        "exclusiveMaximum",
        "exclusiveMinimum",
        "format",
        "if",
        "items",
        "maxItems",
        "maxLength",
        "maxProperties",
        "maximum",
        "minItems",
        "minLength",
        "minProperties",
        "minimum",
        "multipleOf",
        "not",
        "oneOf",
        "pattern",
        "patternProperties",
        "prefixItems",
        "properties",
        "propertyNames",
        "required",
        "type",
        "uniqueItems",
    }
)
_LEFT_TO_JSONSCHEMA = frozenset(
    {
        "$dynamicRef",
        "$recursiveRef",
        "unevaluatedItems",
        "unevaluatedProperties",
        "$id",
        "$anchor",
        "$dynamicAnchor",
    }
)
"""2020-12 keywords (or base-URI changes) judged by the ``jsonschema`` package itself."""


class _ValueChecker:
    """Checks a value against a schema with ``jsonschema``'s semantics, offline and bounded.

    OpenAPI 3.0 (and 2.0) use openapi-schema-validator's OAS30Validator rules (draft 4 with
    ``nullable``, ``discriminator``, readOnly/writeOnly leniency in ``required``); 3.1 and 3.2 use
    JSON Schema 2020-12. ``$ref``s go through the loader, so nothing is fetched.
    """

    def __init__(self, refs: _References, *, oas30: bool) -> None:
        self.refs = refs
        self.oas30 = oas30
        self.keywords = _KEYWORDS_OAS30 if oas30 else _KEYWORDS_2020
        self.formats = _formats(oas30)
        self.steps = 0

    def first_error(self, schema: _Node, value: Any) -> str | _RefFailure | None:
        """A message for the first way ``value`` fails ``schema``; a _RefFailure if a ref stops it."""
        self.steps = 0
        try:
            return next(self._errors(schema.value, schema.doc, value, 0), None)
        except _RefStop as stop:
            return stop.failure
        except _NeedsJsonschema:
            if self.oas30:  # an anchor ref in a 3.0 schema: jsonschema-path cannot follow it
                return None
            return _jsonschema_first_error(self.refs, schema, value)
        except (
            _Unjudged,
            RecursionError,
            re.error,
            TypeError,
            ValueError,
            KeyError,
            IndexError,
            AttributeError,
            ArithmeticError,
        ):
            return None  # openapi-spec-validator raises here instead of giving a verdict

    def _valid(self, schema: Any, doc: str | None, value: Any, depth: int) -> bool:
        return next(self._errors(schema, doc, value, depth), None) is None

    def _errors(self, schema: Any, doc: str | None, value: Any, depth: int) -> Iterator[str]:
        self.steps += 1
        if depth > MAX_VALUE_DEPTH or self.steps > MAX_VALUE_STEPS:
            raise _Unjudged
        if schema is True:
            return
        if schema is False:
            yield f"False schema does not allow {_short(value)}"
            return
        if not isinstance(schema, dict):
            raise _Unjudged
        if not self.oas30 and not _LEFT_TO_JSONSCHEMA.isdisjoint(schema):
            raise _NeedsJsonschema
        for keyword, argument in schema.items():
            if keyword in self.keywords:
                yield from self._keyword(keyword, argument, schema, doc, value, depth)

    def _descend(self, schema: Any, doc: str | None, value: Any, depth: int) -> Iterator[str]:
        yield from self._errors(schema, doc, value, depth + 1)

    def _is(self, value: Any, kind: Any) -> bool:
        """``jsonschema``'s type check (OpenAPI 3.0 has no ``null`` type)."""
        if kind == "string":
            return isinstance(value, str)
        if kind == "object":
            return isinstance(value, dict)
        if kind == "array":
            return isinstance(value, list)
        if kind == "boolean":
            return isinstance(value, bool)
        if kind == "number":
            return isinstance(value, Number) and not isinstance(value, bool)
        if kind == "integer":
            if isinstance(value, bool):
                return False
            if isinstance(value, int):
                return True
            return not self.oas30 and isinstance(value, float) and value.is_integer()
        if kind == "null" and not self.oas30:
            return value is None
        raise _Unjudged  # an unknown type name stops jsonschema with UnknownType

    def _keyword(
        self,
        keyword: str,
        argument: Any,
        schema: dict[str, Any],
        doc: str | None,
        value: Any,
        depth: int,
    ) -> Iterator[str]:
        handler = getattr(self, "_kw_" + keyword.lstrip("$"))
        yield from handler(argument, schema, doc, value, depth)

    # -- keywords (named _kw_<keyword>) -----------------------------------------------------

    def _kw_ref(
        self, ref: Any, schema: Any, doc: str | None, value: Any, depth: int
    ) -> Iterator[str]:
        if not isinstance(ref, str):
            raise _Unjudged
        fragment = ref.partition("#")[2]
        if fragment and not fragment.startswith("/"):
            raise _NeedsJsonschema  # an anchor, not a JSON pointer
        target = self.refs.lookup(ref, doc)
        if isinstance(target, _RefFailure):
            raise _RefStop(target)
        yield from self._descend(target.value, target.doc, value, depth)

    def _kw_type(
        self, expected: Any, schema: Any, doc: str | None, value: Any, depth: int
    ) -> Iterator[str]:
        if self.oas30:
            if value is None:
                if schema.get("nullable") is True:
                    return
                yield "None for not nullable"
            if not self._is(value, expected):
                yield f"{_short(value)} is not of type {expected!r}"
            return
        kinds = [expected] if isinstance(expected, str) else expected
        if not any(self._is(value, kind) for kind in kinds):
            yield f"{_short(value)} is not of type {', '.join(repr(k) for k in kinds)}"

    def _kw_enum(
        self, options: Any, schema: Any, doc: str | None, value: Any, depth: int
    ) -> Iterator[str]:
        if all(not _equal(option, value) for option in options):
            yield f"{_short(value)} is not one of {_short(options)}"

    def _kw_const(
        self, expected: Any, schema: Any, doc: str | None, value: Any, depth: int
    ) -> Iterator[str]:
        if not _equal(value, expected):
            yield f"{_short(expected)} was expected"

    def _kw_format(
        self, name: Any, schema: Any, doc: str | None, value: Any, depth: int
    ) -> Iterator[str]:
        if self.oas30 and value is None:
            return
        if not self.formats.conforms(value, name):
            yield f"{_short(value)} is not a {name!r}"

    def _kw_pattern(
        self, pattern: Any, schema: Any, doc: str | None, value: Any, depth: int
    ) -> Iterator[str]:
        if isinstance(value, str) and not _search(pattern, value):
            yield f"{_short(value)} does not match {pattern!r}"

    def _kw_minLength(
        self, limit: Any, schema: Any, doc: str | None, value: Any, depth: int
    ) -> Iterator[str]:
        if isinstance(value, str) and len(value) < limit:
            yield f"{_short(value)} is shorter than {limit}"

    def _kw_maxLength(
        self, limit: Any, schema: Any, doc: str | None, value: Any, depth: int
    ) -> Iterator[str]:
        if isinstance(value, str) and len(value) > limit:
            yield f"{_short(value)} is longer than {limit}"

    def _kw_minItems(
        self, limit: Any, schema: Any, doc: str | None, value: Any, depth: int
    ) -> Iterator[str]:
        if isinstance(value, list) and len(value) < limit:
            yield f"{_short(value)} has fewer than {limit} items"

    def _kw_maxItems(
        self, limit: Any, schema: Any, doc: str | None, value: Any, depth: int
    ) -> Iterator[str]:
        if isinstance(value, list) and len(value) > limit:
            yield f"{_short(value)} has more than {limit} items"

    def _kw_minProperties(
        self, limit: Any, schema: Any, doc: str | None, value: Any, depth: int
    ) -> Iterator[str]:
        if isinstance(value, dict) and len(value) < limit:
            yield f"{_short(value)} has fewer than {limit} properties"

    def _kw_maxProperties(
        self, limit: Any, schema: Any, doc: str | None, value: Any, depth: int
    ) -> Iterator[str]:
        if isinstance(value, dict) and len(value) > limit:
            yield f"{_short(value)} has more than {limit} properties"

    def _kw_uniqueItems(
        self, unique: Any, schema: Any, doc: str | None, value: Any, depth: int
    ) -> Iterator[str]:
        if unique and isinstance(value, list) and not _unique(value):
            yield f"{_short(value)} has non-unique elements"

    def _kw_minimum(
        self, limit: Any, schema: Any, doc: str | None, value: Any, depth: int
    ) -> Iterator[str]:
        if not self._is(value, "number"):
            return
        exclusive = self.oas30 and schema.get("exclusiveMinimum", False)
        if value <= limit if exclusive else value < limit:
            yield f"{_short(value)} is less than {'or equal to ' if exclusive else ''}the minimum of {limit!r}"

    def _kw_maximum(
        self, limit: Any, schema: Any, doc: str | None, value: Any, depth: int
    ) -> Iterator[str]:
        if not self._is(value, "number"):
            return
        exclusive = self.oas30 and schema.get("exclusiveMaximum", False)
        if value >= limit if exclusive else value > limit:
            yield f"{_short(value)} is greater than {'or equal to ' if exclusive else ''}the maximum of {limit!r}"

    def _kw_exclusiveMinimum(
        self, limit: Any, schema: Any, doc: str | None, value: Any, depth: int
    ) -> Iterator[str]:
        if self._is(value, "number") and value <= limit:
            yield f"{_short(value)} is less than or equal to the minimum of {limit!r}"

    def _kw_exclusiveMaximum(
        self, limit: Any, schema: Any, doc: str | None, value: Any, depth: int
    ) -> Iterator[str]:
        if self._is(value, "number") and value >= limit:
            yield f"{_short(value)} is greater than or equal to the maximum of {limit!r}"

    def _kw_multipleOf(
        self, factor: Any, schema: Any, doc: str | None, value: Any, depth: int
    ) -> Iterator[str]:
        if not self._is(value, "number"):
            return
        if isinstance(factor, float):
            quotient = value / factor
            try:
                failed = int(quotient) != quotient
            except OverflowError:
                failed = (Fraction(value) / Fraction(factor)).denominator != 1
        else:
            failed = bool(value % factor)
        if failed:
            yield f"{_short(value)} is not a multiple of {factor}"

    def _kw_required(
        self, names: Any, schema: Any, doc: str | None, value: Any, depth: int
    ) -> Iterator[str]:
        if not isinstance(value, dict):
            return
        properties = schema.get("properties", {}) if self.oas30 else {}
        for name in names:
            if name in value:
                continue
            if self.oas30:
                declared = properties.get(name)
                if declared and (
                    declared.get("readOnly", False) or declared.get("writeOnly", False)
                ):
                    continue
            yield f"{name!r} is a required property"

    def _kw_dependentRequired(
        self, table: Any, schema: Any, doc: str | None, value: Any, depth: int
    ) -> Iterator[str]:
        if not isinstance(value, dict):
            return
        for name, needed in table.items():
            if name in value:
                for other in needed:
                    if other not in value:
                        yield f"{other!r} is a dependency of {name!r}"

    def _kw_dependentSchemas(
        self, table: Any, schema: Any, doc: str | None, value: Any, depth: int
    ) -> Iterator[str]:
        if not isinstance(value, dict):
            return
        for name, dependency in table.items():
            if name in value:
                yield from self._descend(dependency, doc, value, depth)

    def _kw_properties(
        self, properties: Any, schema: Any, doc: str | None, value: Any, depth: int
    ) -> Iterator[str]:
        if not isinstance(value, dict):
            return
        for name, subschema in properties.items():
            if name in value:
                for message in self._descend(subschema, doc, value[name], depth):
                    yield f"{pointer_segment(name)}: {message}"

    def _kw_patternProperties(
        self, patterns: Any, schema: Any, doc: str | None, value: Any, depth: int
    ) -> Iterator[str]:
        if not isinstance(value, dict):
            return
        for pattern, subschema in patterns.items():
            for name, item in value.items():
                if _regex(pattern).search(name):
                    yield from self._descend(subschema, doc, item, depth)

    def _kw_propertyNames(
        self, names: Any, schema: Any, doc: str | None, value: Any, depth: int
    ) -> Iterator[str]:
        if isinstance(value, dict):
            for name in value:
                yield from self._descend(names, doc, name, depth)

    def _kw_additionalProperties(
        self, allowed: Any, schema: Any, doc: str | None, value: Any, depth: int
    ) -> Iterator[str]:
        if not isinstance(value, dict):
            return
        declared = schema.get("properties", {})
        patterns = "|".join(schema.get("patternProperties", {}))
        extras = [
            name
            for name in value
            if name not in declared and not (patterns and _regex(patterns).search(name))
        ]
        if isinstance(allowed, dict):
            for name in extras:
                yield from self._descend(allowed, doc, value[name], depth)
        elif extras and (not allowed if not self.oas30 else allowed is False):
            listed = ", ".join(repr(name) for name in sorted(extras, key=str))
            yield f"additional properties are not allowed ({listed} unexpected)"

    def _kw_items(
        self, items: Any, schema: Any, doc: str | None, value: Any, depth: int
    ) -> Iterator[str]:
        if not isinstance(value, list):
            return
        start = 0 if self.oas30 else len(schema.get("prefixItems", []))
        if not self.oas30 and items is False and len(value) > start:
            yield f"expected at most {start} items but found {len(value) - start} more"
            return
        for item in value[start:]:
            yield from self._descend(items, doc, item, depth)

    def _kw_prefixItems(
        self, schemas: Any, schema: Any, doc: str | None, value: Any, depth: int
    ) -> Iterator[str]:
        if isinstance(value, list):
            for item, subschema in zip(value, schemas, strict=False):
                yield from self._descend(subschema, doc, item, depth)

    def _kw_contains(
        self, contains: Any, schema: Any, doc: str | None, value: Any, depth: int
    ) -> Iterator[str]:
        if not isinstance(value, list):
            return
        least = schema.get("minContains", 1)
        most = schema.get("maxContains", len(value))
        matches = 0
        for item in value:
            if self._valid(contains, doc, item, depth + 1):
                matches += 1
                if matches > most:
                    yield f"too many items match the `contains` schema (at most {most})"
                    return
        if matches < least:
            yield f"too few items match the `contains` schema (at least {least}, found {matches})"

    def _kw_if(
        self, condition: Any, schema: Any, doc: str | None, value: Any, depth: int
    ) -> Iterator[str]:
        if self._valid(condition, doc, value, depth + 1):
            if "then" in schema:
                yield from self._descend(schema["then"], doc, value, depth)
        elif "else" in schema:
            yield from self._descend(schema["else"], doc, value, depth)

    def _kw_not(
        self, negated: Any, schema: Any, doc: str | None, value: Any, depth: int
    ) -> Iterator[str]:
        if self._valid(negated, doc, value, depth + 1):
            yield f"{_short(value)} must not be valid under {_short(negated)}"

    def _kw_allOf(
        self, parts: Any, schema: Any, doc: str | None, value: Any, depth: int
    ) -> Iterator[str]:
        if self.oas30 and "discriminator" in schema:
            yield from self._discriminated(schema, doc, value, depth)
            return
        for part in parts:
            yield from self._descend(part, doc, value, depth)

    def _kw_anyOf(
        self, options: Any, schema: Any, doc: str | None, value: Any, depth: int
    ) -> Iterator[str]:
        if self.oas30 and "discriminator" in schema:
            yield from self._discriminated(schema, doc, value, depth)
            return
        first: str | None = None
        for option in options:
            message = next(self._descend(option, doc, value, depth), None)
            if message is None:
                return
            first = first or message
        yield f"{_short(value)} is not valid under any of the given schemas ({first})"

    def _kw_oneOf(
        self, options: Any, schema: Any, doc: str | None, value: Any, depth: int
    ) -> Iterator[str]:
        if self.oas30 and "discriminator" in schema:
            yield from self._discriminated(schema, doc, value, depth)
            return
        valid = 0
        first: str | None = None
        for option in options:
            message = next(self._descend(option, doc, value, depth), None)
            if message is None:
                valid += 1
                if valid > 1:
                    yield f"{_short(value)} is valid under more than one of the given schemas"
                    return
            else:
                first = first or message
        if not valid:
            yield f"{_short(value)} is not valid under any of the given schemas ({first})"

    def _discriminated(self, schema: Any, doc: str | None, value: Any, depth: int) -> Iterator[str]:
        """OpenAPI 3.0: the ``discriminator`` picks the one schema the value must match."""
        discriminator = schema["discriminator"]
        name = discriminator["propertyName"]
        if not isinstance(value, dict):
            yield f"{_short(value)} is not of type 'object'"
            return
        chosen = value.get(name)
        if not chosen:
            yield f"{_short(value)} does not contain discriminating property {name!r}"
            return
        ref = discriminator.get("mapping", {}).get(chosen) or f"#/components/schemas/{chosen}"
        if not isinstance(ref, str):
            yield f"mapped value for {chosen!r} should be a string, was {_short(ref)}"
            return
        target = self.refs.lookup(ref, doc)
        if isinstance(target, _RefFailure):
            yield f"reference {ref!r} could not be resolved"
            return
        yield from self._descend(target.value, target.doc, value, depth)


def _jsonschema_first_error(
    refs: _References, schema: _Node, value: Any
) -> str | _RefFailure | None:
    """The rare keywords, judged by the ``jsonschema`` package itself (imported here, slowly)."""
    import jsonschema  # seconds to import; only 2020-12 corner cases need it
    import referencing
    import referencing.exceptions
    import referencing.jsonschema

    spec = refs.spec

    def retrieve(uri: str) -> Any:
        parts = urlsplit(uri)
        target = unquote(parts.path) if parts.scheme == "file" else uri
        found = refs.lookup(target, None)
        if isinstance(found, _RefFailure):
            raise referencing.exceptions.NoSuchResource(ref=uri)  # type: ignore[call-arg]
        return referencing.jsonschema.DRAFT202012.create_resource(found.value)

    root = _doc_uri(spec.path)
    registry: Any = referencing.Registry(retrieve=retrieve).with_resource(  # type: ignore[call-arg]
        root, referencing.jsonschema.DRAFT202012.create_resource(spec.data)
    )
    checker = jsonschema.FormatChecker()
    formats = _formats(oas30=False)
    for name in ("int32", "int64", "float", "double", "password", "regex"):
        checker.checks(name)(functools.partial(formats.conforms, name=name))
    uri = root if schema.doc is None else _doc_uri(schema.doc)
    fragment = quote(schema.pointer, safe="/~!$&'()*+,;=:@")
    validator = jsonschema.Draft202012Validator(
        {"$ref": f"{uri}#{fragment}"}, registry=registry, format_checker=checker
    )
    try:
        error = next(iter(validator.iter_errors(value)), None)
    except referencing.exceptions.Unresolvable as exc:
        cause = getattr(exc, "_wrapped", exc)
        anchor = getattr(cause, "anchor", None)
        if anchor is not None:
            return _RefFailure("broken", f"#{anchor}", "no schema declares this anchor")
        ref = unquote(str(getattr(cause, "ref", "") or ""))
        remote = ref.startswith(("http://", "https://"))
        return _RefFailure("remote" if remote else "broken", ref, "the target does not exist")
    except (RecursionError, re.error, TypeError, ValueError, KeyError, AttributeError):
        return None
    return None if error is None else str(error.message)


def _doc_uri(path: str) -> str:
    if path.startswith(("http://", "https://")):
        return path
    if path == "-":
        return "file:///dev/stdin"
    return Path(path).resolve().as_uri()
