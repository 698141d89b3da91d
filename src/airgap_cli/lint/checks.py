"""The few rules that need code: free-text scanning, catalogue look-ups, CI semantics, and
cross-document checks. Each is registered by the name a rule file gives in ``python:``."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field, replace
from functools import lru_cache
from importlib import resources
from typing import Any

from airgap_cli.core.config import LintSettings
from airgap_cli.core.hosts import Boundary, is_templated, url_host
from airgap_cli.core.yamlio import RawDocument, load_documents
from airgap_cli.lint.documents import (
    GITLAB_CI,
    HELM_VALUES,
    KUBERNETES,
    Document,
    classify,
    get_path,
    walk_strings,
)
from airgap_cli.lint.targets import Path, ci_jobs, ci_script_lines, pod_specs


@dataclass(frozen=True, slots=True)
class Hit:
    """One occurrence found by a Python check."""

    path: Path
    evidence: str
    label: str = ""
    variables: dict[str, str] = field(default_factory=dict)
    line: int | None = None
    distinct: bool = False
    """Several hits may share a path (URLs in one blob): the evidence joins the fingerprint."""


@dataclass(frozen=True, slots=True)
class Catalogue:
    """The telemetry catalogue (``rules/telemetry/knobs.yaml``)."""

    env: dict[str, dict[str, Any]]
    settings: list[dict[str, Any]]
    required_keys: tuple[frozenset[str], ...] = ()
    """Per setting, the literal keys of its path: a document lacking one cannot hold it."""
    settings_gate: tuple[str, ...] = ()
    """The rarest literal key of each setting: a text with none of them holds no setting."""
    settings_keys: tuple[re.Pattern[str], ...] = ()
    """The same keys followed by their colon (``Document.may_have_key``)."""


@dataclass(frozen=True, slots=True)
class CheckContext:
    """What a document check may consult."""

    boundary: Boundary
    lint: LintSettings
    catalogue: Catalogue
    flagged: set[Path]
    """Paths other rules already reported in this document (avoid double reports)."""
    params: dict[str, Any] = field(default_factory=dict)

    def with_params(self, params: dict[str, Any]) -> CheckContext:
        """The same context with one rule's ``params``."""
        return replace(self, params=params)

    def external(self, value: str) -> bool:
        """True when a URL or ``host[:port]`` value points outside the boundary."""
        value = value.strip()
        if not value or is_templated(value):
            return False
        host = url_host(value)
        if host is None:
            if "://" in value or "/" in value.split(":", 1)[0] or " " in value:
                return False
            host = value.rsplit(":", 1)[0] if value.count(":") == 1 else value
        return not self.boundary.is_internal_host(host)


def load_catalogue() -> Catalogue:
    """Read the packaged telemetry catalogue."""
    source = resources.files("airgap_cli").joinpath("rules", "telemetry", "knobs.yaml")
    data = load_documents(source.read_text(encoding="utf-8"), "rules/telemetry/knobs.yaml")[0].data
    env = {k["name"]: dict(k) for k in data.get("knobs", []) if k.get("kind", "env") == "env"}
    settings = [dict(s) for s in data.get("settings", [])]
    required = tuple(
        frozenset(k for k in str(s["path"]).split(".") if k not in ("*", "**", "[]"))
        for s in settings
    )
    # One search per document: the longest (rarest) literal key of each setting.
    rarest = tuple(sorted({max(keys, key=len) for keys in required if keys}))
    key_ends = tuple(re.compile(re.escape(key) + _KEY_END) for key in rarest)
    return Catalogue(env, settings, required, rarest, key_ends)


# --- helpers -------------------------------------------------------------------------------------
def named_values(doc: Document) -> list[tuple[Path, str, str]]:
    """(path, name, value) for every environment-style setting a document carries."""
    if doc.named_values_cache is None:
        doc.named_values_cache = list(_named_values(doc))
    return doc.named_values_cache


def _named_values(doc: Document) -> Iterator[tuple[Path, str, str]]:
    data = doc.data
    if doc.doc_type == KUBERNETES:
        for pod_path, spec in pod_specs(doc):
            for list_name in ("initContainers", "containers", "ephemeralContainers"):
                for i, container in enumerate(spec.get(list_name) or []):
                    env = container.get("env") if isinstance(container, dict) else None
                    for j, item in enumerate(env if isinstance(env, list) else []):
                        if isinstance(item, dict) and isinstance(item.get("name"), str):
                            value = item.get("value")
                            if isinstance(value, str | int | float | bool):
                                yield (
                                    (*pod_path, list_name, i, "env", j, "value"),
                                    item["name"],
                                    _text(value),
                                )
        if doc.kind == "ConfigMap" and isinstance(data.get("data"), dict):
            for key, value in data["data"].items():
                if isinstance(value, str):
                    yield ("data", key), key, value
                    yield from _dotenv(("data", key), value)
    elif doc.doc_type == GITLAB_CI:
        scopes: list[tuple[Path, Any]] = [((), data)] + [((n,), j) for n, j in ci_jobs(data)]
        for path, scope in scopes:
            variables = scope.get("variables") if isinstance(scope, dict) else None
            for key, value in (variables or {}).items() if isinstance(variables, dict) else ():
                if isinstance(value, dict):
                    value = value.get("value")
                if isinstance(value, str | int | float | bool):
                    yield (*path, "variables", key), key, _text(value)
    elif doc.doc_type == HELM_VALUES:
        for path, value in doc.walk().scalars:
            key = path[-1] if path else ""
            if isinstance(key, str):
                yield path, key, _text(value)
            if key == "value" and len(path) >= 2:
                parent = get_path(data, *path[:-1])
                if isinstance(parent, dict) and isinstance(parent.get("name"), str):
                    yield path, parent["name"], _text(value)


_DOTENV = re.compile(r"^\s*(?:export\s+)?([A-Z][A-Z0-9_]{2,})\s*[=:]\s*['\"]?([^'\"\n#]*)", re.M)


def _dotenv(path: Path, text: str) -> Iterator[tuple[Path, str, str]]:
    if "\n" in text:
        for match in _DOTENV.finditer(text):
            yield path, match.group(1), match.group(2).strip()


def _text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def blob_line(doc: Document, path: Path, text: str, offset: int) -> int | None:
    """Line of ``offset`` inside the string at ``path`` (a block scalar starts on the next line)."""
    line = doc.line_at(path)
    if line is not None and "\n" in text:
        return line + 1 + text.count("\n", 0, offset)
    return line


# --- document checks -----------------------------------------------------------------------------
_URL_MARK = "://"
_KEY_END = r"['\"]?[ \t]*:"
_ENDPOINT_KEY = re.compile("endpoint" + _KEY_END)
_HUB_KEY = re.compile("hub" + _KEY_END)
_RESOLVER_FLAG = "--certificatesresolvers."
_HUB_TOKEN_FLAG = "--hub.token"
_FALLBACK_WORDS = ("fallback", "failover")


def external_url(doc: Document, ctx: CheckContext) -> Iterator[Hit]:
    """Every external URL in any string value, where no more specific rule already reported it."""
    if not doc.may_contain(_URL_MARK):
        return
    ignore = tuple(ctx.lint.ignore_urls) + tuple(ctx.params.get("ignore_urls", ()))
    # A URL in a string is a URL in the source (no escapes; folding only adds spaces, which end
    # a URL either way): no external URL in the text, none in any string, and no walk needed.
    text = doc.text
    if (
        text is not None
        and not doc.escapes
        and next(ctx.boundary.external_url_matches(text, ignore), None) is None
    ):
        return
    skip_keys = set(ctx.params.get("skip_keys", ()))
    for path, text in doc.walk().strings_where("://"):
        if path in ctx.flagged or (path and path[-1] in skip_keys):
            continue
        for url, offset in ctx.boundary.external_url_matches(text, ignore):
            yield Hit(path, url, url, line=blob_line(doc, path, text, offset), distinct=True)


def telemetry_not_disabled(doc: Document, ctx: CheckContext) -> Iterator[Hit]:
    """Catalogue knobs set to a value that leaves telemetry, update checks or hub access on."""
    for path, name, value in named_values(doc):
        knob = ctx.catalogue.env.get(name)
        if knob is None or name.startswith("OTEL_") or is_templated(value):
            continue
        if knob.get("check") == "internal-endpoint":
            if knob.get("purpose") == "endpoint" and value and ctx.external(value):
                yield Hit(path, f"{name}={value}", name, {"fix": "point it at an internal host"})
            continue
        disable = [str(v).lower() for v in knob.get("disable", [])]
        if disable and value.strip().lower() not in disable:
            yield Hit(path, f"{name}={value}", name, {"fix": f"set {name}={knob['disable'][0]}"})
    if doc.doc_type in (HELM_VALUES, KUBERNETES):
        yield from _settings(doc, ctx)


def _settings(doc: Document, ctx: CheckContext) -> Iterator[Hit]:
    # Only settings whose every literal key the document has can match; then only scalars and
    # lists under one of their last keys are compared against the patterns.
    if not doc.may_contain(ctx.catalogue.settings_gate) or not any(
        doc.may_have_key(pattern) for pattern in ctx.catalogue.settings_keys
    ):
        return
    keys = doc.walk().keys
    relevant = [
        setting
        for setting, required in zip(
            ctx.catalogue.settings, ctx.catalogue.required_keys, strict=True
        )
        if setting.get("package") != "traefik-hub" and required <= keys
    ]  # traefik-hub-airgap-disabled reports the Hub's settings with its own remediation
    if not relevant:
        return
    last_keys = {str(s["path"]).rsplit(".", 1)[-1] for s in relevant}
    dotted: list[tuple[Path, Any]] = [
        (path, value) for path, value in doc.walk().scalars if path and path[-1] in last_keys
    ]
    lists = [(p, items) for p, items in doc.walk().lists if p and p[-1] in last_keys]
    for setting in relevant:
        pattern = str(setting["path"])
        disable = [str(v).lower() for v in setting.get("disable", [])]
        if setting.get("kind") == "arg":
            flag = str(setting["arg"]).lower()
            for path, items in lists:
                if not _path_matches(pattern, path):
                    continue
                for i, item in enumerate(items):
                    if isinstance(item, str) and item.lower().split("=", 1)[0] == flag:
                        value = item.split("=", 1)[1] if "=" in item else "true"
                        if value.lower() not in disable:
                            yield Hit((*path, i), item, flag, {"fix": f"set {flag}=false"})
            continue
        for path, value in dotted:
            if _path_matches(pattern, path) and _text(value).lower() not in disable:
                name = ".".join(str(p) for p in path)
                yield Hit(path, f"{name}: {_text(value)}", name, {"fix": f"set it to {disable[0]}"})


def _path_matches(pattern: str, path: Path) -> bool:
    """Catalogue paths: ``*`` one key, ``**`` zero or more keys, ``[]`` any list item."""
    last = pattern.rsplit(".", 1)[-1]
    if last not in ("*", "**", "[]") and (not path or path[-1] != last):
        return False  # the cheap test first: most scalars end in another key
    keys = "\x1f".join(p if isinstance(p, str) else "[]" for p in path)
    return _compiled_path(pattern).fullmatch(keys) is not None


@lru_cache(maxsize=256)
def _compiled_path(pattern: str) -> re.Pattern[str]:
    parts = []
    for part in pattern.split("."):
        if part == "**":
            parts.append("(?:[^\x1f]*\x1f)*")
        elif part == "*":
            parts.append("[^\x1f]*\x1f")
        else:
            parts.append(re.escape(part) + "\x1f")
    return re.compile(
        "".join(parts)[: -len("\x1f")] if parts[-1].endswith("\x1f") else "".join(parts)
    )


_OTEL_KEY = re.compile(r"(?i)(otel|otlp|opentelemetry|tracing|traces|telemetry|collector|exporter)")


def _endpoint_key(key: str | int) -> bool:
    return isinstance(key, str) and key.lower().endswith("endpoint")


def otel_endpoint_external(doc: Document, ctx: CheckContext) -> Iterator[Hit]:
    """OpenTelemetry/OTLP exporter endpoints that point outside the boundary."""
    for path, name, value in named_values(doc):
        upper = name.upper()
        is_otel = upper.startswith("OTEL_EXPORTER_") and upper.endswith("ENDPOINT")
        if is_otel and ctx.external(value):
            yield Hit(path, value, name)
    index = doc.walk()
    if (
        doc.doc_type in (KUBERNETES, HELM_VALUES)
        and doc.may_contain("endpoint", ignore_case=True)
        and doc.may_have_key(_ENDPOINT_KEY, ignore_case=True)
        and any(k.lower().endswith("endpoint") for k in index.keys)
    ):
        for path, value in index.strings_where(key_ok=_endpoint_key):
            context = " ".join(str(p) for p in path)
            if doc.kind in ("KongPlugin", "KongClusterPlugin"):
                context += " " + str(doc.data.get("plugin", ""))
            if _OTEL_KEY.search(context) and ctx.external(value):
                yield Hit(path, value, ".".join(str(p) for p in path))


_DOWNLOAD = re.compile(
    r"(?i)\b(curl|wget|git\s+clone|git\s+fetch|helm\s+repo\s+add|helm\s+(?:install|upgrade|pull)"
    r"|docker\s+pull|podman\s+pull|skopeo\s+copy|crane\s+pull|pip3?\s+install|npm\s+(?:install|i|ci)"
    r"|go\s+(?:install|get)|Invoke-WebRequest|iwr|aws\s+s3\s+cp|gsutil\s+cp)\b"
)
_PIPE_TO_SHELL = re.compile(r"\|\s*(?:sudo\s+)?(?:ba|z|da)?sh\b|\|\s*python3?\b|\|\s*bash\b")


def gitlab_ci_external_download(doc: Document, ctx: CheckContext) -> Iterator[Hit]:
    """Script lines that download from outside the boundary, and remote includes."""
    if doc.doc_type != GITLAB_CI:
        return
    for path, job, line in ci_script_lines(doc):
        tool = _DOWNLOAD.search(line)
        if not tool:
            continue
        urls = list(ctx.boundary.external_urls(line, ctx.lint.ignore_urls))
        if tool.group(1).lower().replace(" ", "") in ("dockerpull", "podmanpull", "cranepull"):
            ref = line[tool.end() :].split()
            if ref and not ctx.boundary.is_internal_image(ref[-1]):
                urls.append(ref[-1])
        if not urls:
            continue
        how = "downloads and executes" if _PIPE_TO_SHELL.search(line) else "downloads from"
        yield Hit(path, line.strip(), job, {"how": how, "url": urls[0], "job": job})
    includes = doc.data.get("include")
    items = includes if isinstance(includes, list) else [includes]
    for i, item in enumerate(items):
        remote_url = item.get("remote") if isinstance(item, dict) else item
        if isinstance(remote_url, str) and "://" in remote_url and ctx.external(remote_url):
            path = ("include", i) if isinstance(includes, list) else ("include",)
            yield Hit(
                path,
                remote_url,
                "include",
                {"how": "includes CI configuration from", "url": remote_url, "job": "include"},
            )


_DEPLOY = re.compile(
    r"(?i)\b(kubectl\s+(?:apply|create|replace|set\s+image|rollout\s+restart)|helm\s+(?:upgrade|install)"
    r"|argocd\s+app\s+sync|flux\s+reconcile|kustomize\s+build\b.*\|\s*kubectl|oc\s+apply)\b"
)
_VERIFY = re.compile(
    r"(?i)\b(cosign\s+verify(?:-blob|-attestation)?|airgap\s+(?:bundle\s+verify|check)"
    r"|sigstore\s+verify|notation\s+verify|model_signing\s+verify|gpg\s+--verify|sha256sum\s+(?:-c|--check)"
    r"|slsa-verifier\s+verify)"
)


def gitlab_ci_deploy_without_verify(doc: Document, ctx: CheckContext) -> Iterator[Hit]:
    """Deploy jobs with no signature/digest verification in the job or in a job it needs."""
    if doc.doc_type != GITLAB_CI:
        return
    jobs = dict(ci_jobs(doc.data))
    lines: dict[str, list[str]] = {}
    for _, job, line in ci_script_lines(doc):
        lines.setdefault(job, []).append(line)

    def script(name: str, depth: int = 0) -> list[str]:
        own = list(lines.get(name, []))
        parents = jobs.get(name, {}).get("extends") if name in jobs else None
        for parent in [parents] if isinstance(parents, str) else parents or []:
            if isinstance(parent, str) and depth < 10:
                own += script(parent, depth + 1)
        return own

    def verifies(name: str) -> bool:
        return any(_VERIFY.search(line) for line in script(name) + lines.get("default", []))

    for name, job_spec in jobs.items():
        if name.startswith("."):
            continue
        deploy = next((line for line in script(name) if _DEPLOY.search(line)), None)
        if deploy is None or verifies(name):
            continue
        needs = job_spec.get("needs") or job_spec.get("dependencies") or []
        needed = [
            n if isinstance(n, str) else n.get("job") for n in needs if isinstance(n, str | dict)
        ]
        if any(isinstance(n, str) and verifies(n) for n in needed):
            continue
        yield Hit((name,), deploy.strip(), name, {"job": name})


def ingress_public_acme_resolver(doc: Document, ctx: CheckContext) -> Iterator[Hit]:
    """Traefik ACME certificate resolvers that would call a public CA (Let's Encrypt by default)."""
    index = doc.walk()
    resolver_keys = {"certificatesResolvers", "certResolvers"}
    has_resolvers = doc.may_contain("esolvers") and bool(index.keys & resolver_keys)
    resolver_dicts = index.dicts if has_resolvers else []
    for path, node in resolver_dicts:
        if not path or str(path[-1]) not in ("certificatesResolvers", "certResolvers"):
            continue
        for name, resolver in node.items():
            acme = resolver.get("acme") if isinstance(resolver, dict) else None
            if not isinstance(acme, dict):
                continue
            server = acme.get("caServer") or acme.get("caserver")
            if not isinstance(server, str) or ctx.external(server):
                where = (
                    (*path, name, "acme", "caServer")
                    if isinstance(server, str)
                    else (*path, name, "acme")
                )
                yield Hit(where, str(server or "Let's Encrypt (default caServer)"), str(name))
    for path, items in index.lists if doc.may_contain(_RESOLVER_FLAG, ignore_case=True) else []:
        flags = [
            i
            for i in items
            if isinstance(i, str) and i.lower().startswith("--certificatesresolvers.")
        ]
        resolvers: dict[str, str | None] = {}
        for flag in flags:
            parts = flag.split("=", 1)[0].split(".")
            if len(parts) >= 3 and parts[2].lower() == "acme":
                resolvers.setdefault(parts[1], None)
                if parts[-1].lower() == "caserver" and "=" in flag:
                    resolvers[parts[1]] = flag.split("=", 1)[1]
        for name, server in resolvers.items():
            if server is None or ctx.external(server):
                yield Hit(path, server or "Let's Encrypt (default caServer)", name)


def ai_gateway_external_backend(doc: Document, ctx: CheckContext) -> Iterator[Hit]:
    """AI gateway routes (Kong ai-proxy, Traefik AIService/AIGateway, Ambassador) to cloud LLMs."""
    if doc.doc_type != KUBERNETES:
        return
    data, hosted = doc.data, set(ctx.params.get("hosted_providers", ()))
    if doc.kind in ("KongPlugin", "KongClusterPlugin") and data.get("plugin") in (
        "ai-proxy",
        "ai-proxy-advanced",
    ):
        config = data.get("config") if isinstance(data.get("config"), dict) else {}
        targets = config.get("targets") if data.get("plugin") == "ai-proxy-advanced" else [config]
        for i, target in enumerate(targets if isinstance(targets, list) else []):
            model = target.get("model") if isinstance(target, dict) else None
            if not isinstance(model, dict):
                continue
            upstream = get_path(model, "options", "upstream_url")
            base: Path = (
                ("config", "targets", i, "model")
                if data.get("plugin") == "ai-proxy-advanced"
                else ("config", "model")
            )
            if isinstance(upstream, str):
                if ctx.external(upstream):
                    yield Hit(
                        (*base, "options", "upstream_url"), upstream, str(model.get("provider", ""))
                    )
            elif str(model.get("provider", "")).lower() in hosted:
                yield Hit(
                    (*base, "provider"), str(model.get("provider")), str(model.get("provider"))
                )
    elif doc.kind == "AIService":
        spec = data.get("spec") if isinstance(data.get("spec"), dict) else {}
        for provider, block in spec.items():
            if not isinstance(block, dict):
                continue
            base_url = block.get("baseUrl")
            if isinstance(base_url, str):
                if ctx.external(base_url):
                    yield Hit(("spec", provider, "baseUrl"), base_url, provider)
            elif provider.lower() in hosted:
                yield Hit(("spec", provider), provider, provider)
    elif doc.kind == "AIGateway":
        for i, backend in enumerate(get_path(data, "spec", "backends") or []):
            url = backend.get("url") if isinstance(backend, dict) else None
            if isinstance(url, str) and ctx.external(url):
                yield Hit(("spec", "backends", i, "url"), url, str(backend.get("name", i)))
    elif doc.kind == "Mapping" and doc.api_version.startswith("getambassador.io"):
        service = get_path(data, "spec", "service")
        if isinstance(service, str) and ctx.external(service):
            yield Hit(("spec", "service"), service, doc.name)


_APPROVAL_KEYS = (
    "requireApproval",
    "requiresApproval",
    "manual_approval",
    "approvalRequired",
    "requireManualApproval",
)


def ai_gateway_fallback_unapproved(doc: Document, ctx: CheckContext) -> Iterator[Hit]:
    """Fallbacks to cloud LLMs that fire without a human approval."""
    hosted = set(ctx.params.get("hosted_providers", ()))
    approved_by_annotation = bool(doc.annotations().get("airgap.dev/approved-fallback"))
    index = doc.walk()
    fallback_keys = ("fallback", "fallbacks", "failover", "fallbackModels")
    maybe = doc.may_contain(_FALLBACK_WORDS) and bool(index.keys.intersection(fallback_keys))
    for path, node in index.dicts if maybe else []:
        for key in fallback_keys:
            sub = node.get(key)
            if sub is None or approved_by_annotation:
                continue
            targets = [v for _, v in walk_strings(sub)] if not isinstance(sub, str) else [sub]
            external = [
                t for t in targets if ("://" in t and ctx.external(t)) or t.lower() in hosted
            ]
            if not external:
                continue
            if _approved(sub) or _approved(node):
                continue
            yield Hit((*path, key), external[0], key)
    if doc.kind == "AIGateway":
        for i, backend in enumerate(get_path(doc.data, "spec", "backends") or []):
            if not isinstance(backend, dict) or approved_by_annotation:
                continue
            priority = backend.get("priority")
            url = backend.get("url")
            if (
                isinstance(priority, int)
                and priority > 1
                and isinstance(url, str)
                and ctx.external(url)
            ) and not _approved(backend):
                yield Hit(("spec", "backends", i), url, str(backend.get("name", i)))


def _approved(node: Any) -> bool:
    return isinstance(node, dict) and any(node.get(k) is True for k in _APPROVAL_KEYS)


def traefik_hub_airgap_disabled(doc: Document, ctx: CheckContext) -> Iterator[Hit]:
    """Traefik Hub in use (a token is set) without offline mode."""
    index = doc.walk()
    hub = doc.may_contain("hub") and doc.may_have_key(_HUB_KEY) and "hub" in index.keys
    for path, node in index.dicts if hub else []:
        if not path or path[-1] != "hub" or "token" not in node:
            continue
        offline = node.get("offline")
        airgap = get_path(node, "airgap", "enabled")
        if offline is True or airgap is True:
            continue
        where = (*path, "offline") if "offline" in node else path
        yield Hit(
            where, f"hub.offline: {_text(offline) if offline is not None else 'unset'}", "hub"
        )
    for path, items in index.lists if doc.may_contain(_HUB_TOKEN_FLAG, ignore_case=True) else []:
        args = [i.lower() for i in items if isinstance(i, str)]
        if any(a.startswith("--hub.token") for a in args) and not any(
            a in ("--hub.offline", "--hub.offline=true") for a in args
        ):
            yield Hit(path, "--hub.token without --hub.offline", "args")


# --- embedded documents --------------------------------------------------------------------------
def embedded_documents(doc: Document, text: str) -> Iterator[Document]:
    """Helm values embedded in a k3s/Rancher ``HelmChart`` (``spec.valuesContent``), with lines."""
    if doc.doc_type != KUBERNETES or doc.kind not in ("HelmChart", "HelmChartConfig"):
        return
    content = get_path(doc.data, "spec", "valuesContent")
    if not isinstance(content, str) or not content.strip():
        return
    key_line = doc.line_at(("spec", "valuesContent")) or doc.line
    try:
        raws = load_documents("\n" * key_line + content, doc.path)
    except Exception:  # an unparsable string is left to the string rules
        return
    for raw in raws:
        for embedded in classify("values.yaml", RawDocument(raw.index, raw.line, raw.data)):
            embedded.path = doc.path
            embedded.index = doc.index
            embedded.doc_type = HELM_VALUES
            embedded.pointer_prefix = ()
            yield replace_resource(embedded, doc)


def replace_resource(embedded: Document, parent: Document) -> Document:
    """Name an embedded values document after its parent (``HelmChart/ns/name:values``)."""
    embedded.kind = "values"
    embedded.name = f"{parent.resource}:valuesContent"
    return embedded


# --- cross-document facts and checks -------------------------------------------------------------
@dataclass(slots=True)
class Fact:
    """The little a cross-document rule needs to know about one document."""

    type: str
    namespace: str
    path: str
    line: int | None
    resource: str
    pointer: str = ""
    labels: dict[str, str] = field(default_factory=dict)
    selector: dict[str, str] | None = None
    ignores: dict[str, str] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        """JSON form (a shard hands its facts to ``airgap merge``)."""
        return {
            "type": self.type,
            "namespace": self.namespace,
            "path": self.path,
            "line": self.line,
            "resource": self.resource,
            "pointer": self.pointer,
            "labels": self.labels,
            "selector": self.selector,
            "ignores": self.ignores,
        }

    @classmethod
    def from_dict(cls, data: Any) -> Fact:
        """Inverse of :meth:`to_dict`; ``ValueError`` for anything it did not write."""
        if not isinstance(data, dict) or set(data) != _FACT_KEYS:
            raise ValueError("not a fact (its keys differ)")
        strings = ("type", "namespace", "path", "resource", "pointer")
        if not all(isinstance(data[k], str) for k in strings):
            raise ValueError("a fact's type, namespace, path, resource and pointer are strings")
        if data["line"] is not None and not isinstance(data["line"], int):
            raise ValueError("a fact's line is a number or null")
        maps = [data["labels"], data["ignores"]] + (
            [data["selector"]] if data["selector"] is not None else []
        )
        if not all(
            isinstance(m, dict) and all(isinstance(v, str) for v in m.values()) for m in maps
        ):
            raise ValueError("a fact's labels, selector and ignores map strings to strings")
        return cls(**data)


_FACT_KEYS = frozenset(
    {"type", "namespace", "path", "line", "resource", "pointer", "labels", "selector", "ignores"}
)


def collect_facts(doc: Document) -> Iterator[Fact]:
    """Facts for namespaces, pods, services and network policies."""
    if doc.doc_type != KUBERNETES:
        return
    ns = doc.namespace or ""

    def make(kind: str, namespace: str, **extra: Any) -> Fact:
        return Fact(kind, namespace, doc.path, doc.line, doc.resource, **extra)

    if doc.kind == "Namespace":
        yield make("namespace", doc.name)
    for path, _spec in pod_specs(doc):
        labels = (
            get_path(doc.data, *path[:-1], "metadata", "labels") if path[-1] == "spec" else None
        )
        if doc.kind == "Pod":
            labels = get_path(doc.data, "metadata", "labels")
        yield make("pod", ns, labels=_str_map(labels))
    if doc.kind == "Service":
        spec = doc.data.get("spec") if isinstance(doc.data.get("spec"), dict) else {}
        selector = spec.get("selector")
        if spec.get("type") != "ExternalName" and isinstance(selector, dict) and selector:
            yield make("service", ns, selector=_str_map(selector), pointer="/spec/selector")
    if doc.kind == "NetworkPolicy":
        spec = doc.data.get("spec") if isinstance(doc.data.get("spec"), dict) else {}
        selector = spec.get("podSelector")
        types = spec.get("policyTypes") or []
        selects_all = (
            isinstance(selector, dict)
            and not selector.get("matchLabels")
            and not selector.get("matchExpressions")
        )
        if selects_all and "Egress" in types and not spec.get("egress"):
            yield make("default-deny", ns)
        elif (
            isinstance(selector, dict)
            and selector.get("matchLabels")
            and not selector.get("matchExpressions")
        ):
            yield make(
                "netpol",
                ns,
                selector=_str_map(selector["matchLabels"]),
                pointer="/spec/podSelector",
            )


def _str_map(value: Any) -> dict[str, str]:
    return {str(k): _text(v) for k, v in value.items()} if isinstance(value, dict) else {}


def namespace_without_default_deny(
    facts: list[Fact], params: dict[str, Any]
) -> Iterator[tuple[Fact, Hit]]:
    """Namespaces (declared, or used by workloads) with no default-deny egress policy."""
    protected = {f.namespace for f in facts if f.type == "default-deny"}
    seen: dict[str, Fact] = {}
    for fact in facts:
        if fact.type == "namespace":
            seen[fact.namespace] = fact  # the Namespace object is the best place to point at
        elif fact.type == "pod":
            seen.setdefault(fact.namespace, fact)
    for namespace, fact in sorted(seen.items()):
        if namespace not in protected and namespace not in params.get("exempt", ()):
            yield fact, Hit((), namespace, namespace)


def _selects_nothing(
    kind: str,
) -> Callable[[list[Fact], dict[str, Any]], Iterator[tuple[Fact, Hit]]]:
    def check(facts: list[Fact], params: dict[str, Any]) -> Iterator[tuple[Fact, Hit]]:
        pods: dict[str, list[dict[str, str]]] = {}
        for fact in facts:
            if fact.type == "pod":
                pods.setdefault(fact.namespace, []).append(fact.labels)
        for fact in facts:
            if fact.type != kind or fact.selector is None or fact.namespace not in pods:
                continue
            wanted = fact.selector.items()
            if not any(wanted <= labels.items() for labels in pods[fact.namespace]):
                shown = ",".join(f"{k}={v}" for k, v in sorted(fact.selector.items()))
                yield fact, Hit((), shown, fact.resource)

    check.__doc__ = f"{kind} selectors that match no pod template in their namespace."
    return check


DOCUMENT_CHECKS: dict[str, Callable[[Document, CheckContext], Iterator[Hit]]] = {
    "external-url": external_url,
    "telemetry-not-disabled": telemetry_not_disabled,
    "otel-endpoint-external": otel_endpoint_external,
    "gitlab-ci-external-download": gitlab_ci_external_download,
    "gitlab-ci-deploy-without-verify": gitlab_ci_deploy_without_verify,
    "ingress-public-acme-resolver": ingress_public_acme_resolver,
    "ai-gateway-external-backend": ai_gateway_external_backend,
    "ai-gateway-fallback-unapproved": ai_gateway_fallback_unapproved,
    "traefik-hub-airgap-disabled": traefik_hub_airgap_disabled,
}
"""Per-document Python checks, by the name rule files give in ``python:``."""

CROSS_CHECKS: dict[str, Callable[[list[Fact], dict[str, Any]], Iterator[tuple[Fact, Hit]]]] = {
    "namespace-without-default-deny": namespace_without_default_deny,
    "service-selects-nothing": _selects_nothing("service"),
    "networkpolicy-selects-nothing": _selects_nothing("netpol"),
}
"""Cross-document checks, evaluated on the facts of every input."""
