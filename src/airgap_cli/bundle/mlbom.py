"""A CycloneDX MLBOM (1.6 or 1.7) of a model folder, built offline from metadata and headers only.

The BOM is assembled as plain JSON-ready dicts rather than through cyclonedx-python-lib's object
model: the library cannot model ``modelCard`` or ``data`` (and drops them on read), and it always
stamps a timestamp and a random serial number, which would make two runs differ. The library is
still the judge: every document is checked with its strict JSON-schema validator before it is
returned, and an invalid document is an error, never output.

Nothing is executed or loaded: README front matter goes through the project's safe YAML loader,
JSON files through ``json`` with a size cap, and weight files are only identified by their headers
(``modelscan.scan_facts``). Every file is hash-pinned through ``digest.hash_tree``.
"""

from __future__ import annotations

import hashlib
import json
import re
import uuid
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from cyclonedx.schema import SchemaVersion
from cyclonedx.spdx import fixup_id
from cyclonedx.validation.json import JsonStrictValidator
from packageurl import PackageURL

from airgap_cli import __version__
from airgap_cli.bundle.digest import BundleError, Manifest, hash_tree
from airgap_cli.bundle.modelscan import FileInfo, scan_facts
from airgap_cli.core.errors import AirgapError
from airgap_cli.core.findings import Finding, Location, Severity
from airgap_cli.core.yamlio import decode, load_documents, read_limited

SPEC_VERSIONS = ("1.6", "1.7")
"""Spec versions ``build_mlbom`` can emit (1.7 only when the installed library knows it)."""

MAX_METADATA_BYTES = 4 * 1024 * 1024
"""README and JSON metadata files larger than this are not parsed (they are still hashed)."""
MAX_FRONT_MATTER_CHARS = 256 * 1024
"""Front matter is a few hundred bytes in practice; a huge one is hostile or broken."""
MAX_LIMITATIONS_CHARS = 4000
"""Bound on the "Limitations" text copied into the model card."""
MAX_LIST_ITEMS = 64
MAX_VALUE_CHARS = 512

RULES: dict[str, dict[str, Any]] = {
    "mlbom-license-conflict": {
        "title": "Derivative model licence differs from its base model's",
        "description": (
            "The model (or adapter) is derived from a base model released under a custom or "
            "copyleft licence, but declares a different licence. Community licences such as "
            "Llama and Gemma require derivatives to carry their terms."
        ),
        "severity": Severity.MEDIUM.value,
        "remediation": (
            "Declare the base model's licence (or a compatible one) in the README front matter "
            "and have legal review the licence chain."
        ),
        "compliance": ["NIST-800-53:SR-4", "OWASP-LLM:LLM03:2025"],
    },
    "mlbom-metadata-unreadable": {
        "title": "Model metadata file could not be read",
        "description": (
            "A README front matter or JSON metadata file was too large, malformed or hostile "
            "(e.g. an alias bomb); its fields are missing from the MLBOM."
        ),
        "severity": Severity.LOW.value,
        "remediation": "Fix or replace the file; the MLBOM lacks the facts it would give.",
        "compliance": ["NIST-800-53:SR-4"],
    },
}

PERMISSIVE_LICENSES = frozenset(
    {
        "apache-2.0",
        "mit",
        "bsd-2-clause",
        "bsd-3-clause",
        "isc",
        "cc0-1.0",
        "cc-by-4.0",
        "unlicense",
    }
)
"""A base under one of these imposes no licence on derivatives (attribution aside)."""

KNOWN_BASE_LICENSES: tuple[tuple[re.Pattern[str], str], ...] = tuple(
    (re.compile(pattern, re.IGNORECASE), license_key)
    for pattern, license_key in (
        (r"^meta-llama/llama-2-", "llama2"),
        (r"^meta-llama/(meta-)?llama-3-", "llama3"),
        (r"^meta-llama/(meta-)?llama-3\.1-", "llama3.1"),
        (r"^meta-llama/llama-3\.2-", "llama3.2"),
        (r"^meta-llama/llama-3\.3-", "llama3.3"),
        (r"^meta-llama/llama-4-", "llama4"),
        (r"^google/(code|recurrent|pali|med)?gemma", "gemma"),
    )
)
"""Well-known base models with custom licences, by Hub id (the licence chain rule's table)."""

_TOKENIZER_FILES = frozenset(
    {
        "tokenizer.json",
        "tokenizer_config.json",
        "tokenizer.model",
        "special_tokens_map.json",
        "added_tokens.json",
        "vocab.json",
        "vocab.txt",
        "merges.txt",
    }
)
_WEIGHT_FORMATS = frozenset({"safetensors", "gguf", "pickle", "torch-zip", "numpy", "onnx"})
_FENCE = re.compile(r"^\s*(```|~~~)")
_HEADING = re.compile(r"^(#{1,6})\s+(.*?)\s*#*\s*$")


@dataclass(slots=True)
class _Context:
    """What one build has read so far, plus the findings it produced."""

    root: Path
    manifest: Manifest
    findings: list[Finding] = field(default_factory=list)

    def unreadable(self, relpath: str, problem: str) -> None:
        """Record a metadata file that was skipped, so the gap in the BOM is visible."""
        meta = RULES["mlbom-metadata-unreadable"]
        self.findings.append(
            Finding(
                rule_id="mlbom-metadata-unreadable",
                severity=Severity(meta["severity"]),
                title=meta["title"],
                message=f"{relpath} was not used for the MLBOM: {problem}",
                location=Location(path=str(self.root / relpath), resource="mlbom"),
                evidence=problem[:200],
                remediation=meta["remediation"],
                compliance=tuple(meta["compliance"]),
            )
        )


def build_mlbom(
    root: Path,
    *,
    spec_version: str = "1.6",
    known_licenses: Mapping[str, str] | None = None,
) -> tuple[str, list[Finding]]:
    """The validated CycloneDX JSON MLBOM of the folder ``root``, and the licence/input findings.

    ``known_licenses`` maps base model ids to their licence (lower-case SPDX id or licence name)
    and takes precedence over the built-in table. Raises ``BundleError`` for an unusable folder,
    an unsupported ``spec_version`` or a document that fails validation.
    """
    schema = _schema_version(spec_version)
    manifest = hash_tree(root)
    ctx = _Context(root=root, manifest=manifest)
    bom = _assemble(ctx, spec_version, known_licenses or {})
    text = json.dumps(bom, indent=2, ensure_ascii=False) + "\n"
    _validate(text, schema, spec_version)
    return text, sorted(ctx.findings, key=Finding.sort_key)


def _schema_version(spec_version: str) -> SchemaVersion:
    """Map "1.6"/"1.7" to the library's enum, refusing what it cannot validate."""
    if spec_version not in SPEC_VERSIONS:
        raise BundleError(
            f"unsupported CycloneDX spec version {spec_version!r} "
            f"(choose from {', '.join(SPEC_VERSIONS)})"
        )
    member = "V" + spec_version.replace(".", "_")
    schema: SchemaVersion | None = getattr(SchemaVersion, member, None)
    if schema is None:
        raise BundleError(
            f"CycloneDX {spec_version} is not supported by the installed cyclonedx-python-lib; "
            "upgrade it or use --spec-version 1.6"
        )
    return schema


def _validate(text: str, schema: SchemaVersion, spec_version: str) -> None:
    """Strict JSON-schema validation; any error means the BOM is not returned."""
    try:
        error = JsonStrictValidator(schema).validate_str(text)
    except Exception as exc:  # missing extra or a broken bundled schema: fail closed
        raise BundleError(
            f"cannot validate the MLBOM against CycloneDX {spec_version}: {exc}",
            hint="install cyclonedx-python-lib[json-validation]",
        ) from None
    if error is not None:
        detail = getattr(getattr(error, "data", None), "message", None) or str(error)
        raise BundleError(
            f"generated MLBOM is not valid CycloneDX {spec_version}: {str(detail)[:500]}"
        )


# ---------------------------------------------------------------------------------------------
# Assembly


def _assemble(ctx: _Context, spec_version: str, known: Mapping[str, str]) -> dict[str, Any]:
    """Every component, the model card and the dependency graph, in a deterministic order."""
    paths = {f.path for f in ctx.manifest.files}
    readme = _read_text(ctx, "README.md") if "README.md" in paths else None
    front = _front_matter(ctx, readme)
    config = _json_file(ctx, "config.json") if "config.json" in paths else {}
    infos = _scan(ctx)

    components: list[dict[str, Any]] = []
    model_deps: list[str] = []

    if config or "config.json" in paths:
        components.append(_config_component(config))
        model_deps.append("config")
    tokenizer_files = sorted(p for p in paths if p in _TOKENIZER_FILES)
    if tokenizer_files:
        tok_config = (
            _json_file(ctx, "tokenizer_config.json") if "tokenizer_config.json" in paths else {}
        )
        components.append(_tokenizer_component(tok_config))
        model_deps.append("tokenizer")

    # Hub cards say ``license: other`` plus ``license_name: <the real one>``.
    other_name = _string(front.get("license_name")) or "other"
    model_licenses = [
        other_name if name == "other" else name for name in _strings(front.get("license"))
    ]
    if not model_licenses:
        model_licenses = sorted(
            {str(i.facts["license"]) for i in infos.values() if i.facts.get("license")}
        )

    adapters = sorted(
        p for p in paths if p == "adapter_config.json" or p.endswith("/adapter_config.json")
    )
    adapter_bases: list[tuple[str, str]] = []
    for relpath in adapters:
        adapter = _json_file(ctx, relpath)
        component = _adapter_component(relpath, adapter, known)
        components.append(component)
        model_deps.append(component["bom-ref"])
        base = _string(adapter.get("base_model_name_or_path"))
        if base:
            adapter_bases.append((relpath, base))

    datasets = sorted(set(_strings(front.get("datasets"))))
    components.extend(_dataset_component(name) for name in datasets)
    model_deps.extend(f"dataset:{name}" for name in datasets)

    file_refs: dict[str, list[str]] = {}
    for digest in ctx.manifest.files:
        components.append(_file_component(digest.path, digest.sha256, digest.size, infos))
        owner = _owner(digest.path, tokenizer_files, adapters)
        file_refs.setdefault(owner, []).append(f"file:{digest.path}")

    bases = sorted(set(_strings(front.get("base_model"))))
    model = _model_component(ctx, front, config, infos, model_licenses, bases, datasets, known)
    limitations = _limitations(readme)
    if limitations:
        model.setdefault("modelCard", {})["considerations"] = {
            "technicalLimitations": [limitations]
        }
    _license_findings(ctx, model_licenses, bases, adapter_bases, known)

    dependencies = [
        {"ref": "model", "dependsOn": sorted({*model_deps, *file_refs.get("model", [])})}
    ]
    for ref in sorted(set(model_deps)):
        entry: dict[str, Any] = {"ref": ref}
        if file_refs.get(ref):
            entry["dependsOn"] = sorted(file_refs[ref])
        dependencies.append(entry)

    serial = uuid.uuid5(
        uuid.NAMESPACE_URL,
        f"https://airgap.invalid/mlbom/{spec_version}/{ctx.manifest.root_digest()}",
    )
    return {
        "$schema": f"http://cyclonedx.org/schema/bom-{spec_version}.schema.json",
        "bomFormat": "CycloneDX",
        "specVersion": spec_version,
        "serialNumber": serial.urn,
        "version": 1,
        "metadata": {
            "tools": {
                "components": [{"type": "application", "name": "airgap", "version": __version__}]
            },
            "component": model,
            "properties": [
                _prop("airgap:manifest-digest", ctx.manifest.root_digest()),
                _prop("airgap:file-count", len(ctx.manifest.files)),
            ],
        },
        "components": components,
        "dependencies": dependencies,
    }


def _owner(relpath: str, tokenizer_files: list[str], adapters: list[str]) -> str:
    """Which component a file belongs to in the dependency graph (weights belong to the model).

    An adapter in a sub-folder owns that folder; one at the root owns the ``adapter_*`` files.
    """
    if relpath == "config.json":
        return "config"
    if relpath in tokenizer_files:
        return "tokenizer"
    for adapter in adapters:
        folder = adapter.rpartition("/")[0]
        inside = relpath.startswith(folder + "/") if folder else relpath.startswith("adapter_")
        if inside:
            return f"adapter:{adapter}"
    return "model"


def _model_component(
    ctx: _Context,
    front: Mapping[str, Any],
    config: Mapping[str, Any],
    infos: Mapping[str, FileInfo],
    licenses: list[str],
    bases: list[str],
    datasets: list[str],
    known: Mapping[str, str],
) -> dict[str, Any]:
    """The ``machine-learning-model`` subject: model card, licences, pedigree and header facts."""
    name = _string(front.get("model_name")) or ctx.manifest.name or "model"
    component: dict[str, Any] = {"type": "machine-learning-model", "bom-ref": "model", "name": name}
    if licenses:
        component["licenses"] = [_license(name) for name in licenses]
    if bases:
        component["pedigree"] = {"ancestors": [_base_component(b, known) for b in bases]}

    params: dict[str, Any] = {}
    task = _string(front.get("pipeline_tag"))
    if task:
        params["task"] = task
    weights = [i for i in infos.values() if i.format in ("safetensors", "gguf")]
    gguf_arch = sorted(
        {str(i.facts["architecture"]) for i in weights if i.facts.get("architecture")}
    )
    family = _string(config.get("model_type")) or (gguf_arch[0] if gguf_arch else "")
    if family:
        params["architectureFamily"] = family
    architectures = _strings(config.get("architectures"))
    if architectures:
        params["modelArchitecture"] = ", ".join(architectures)
    if datasets:
        params["datasets"] = [{"ref": f"dataset:{d}"} for d in datasets]
    card: dict[str, Any] = {}
    if params:
        card["modelParameters"] = params
    if card:
        component["modelCard"] = card

    props = _model_properties(front, config, weights)
    if props:
        component["properties"] = props
    return component


def _model_properties(
    front: Mapping[str, Any], config: Mapping[str, Any], weights: list[FileInfo]
) -> list[dict[str, str]]:
    """Header facts under the ``airgap:`` namespace, for what the model card has no field."""
    props: list[dict[str, str]] = []
    formats = sorted({i.format for i in weights})
    if formats:
        props.append(_prop("airgap:format", ", ".join(formats)))
    # Shards of one format add up; the same model in two formats must not be counted twice.
    primary = "safetensors" if "safetensors" in formats else "gguf"
    params = sum(int(i.facts.get("parameter_count") or 0) for i in weights if i.format == primary)
    if params:
        props.append(_prop("airgap:parameters", params))
    quant = _quantization(config, weights)
    if quant:
        props.append(_prop("airgap:quantization", quant))
    dtypes = sorted({str(d) for i in weights for d in (i.facts.get("dtypes") or {})})
    if dtypes:
        props.append(_prop("airgap:dtypes", ", ".join(dtypes)))
    contexts = sorted(
        {int(i.facts["context_length"]) for i in weights if _is_int(i, "context_length")}
    )
    context = contexts[0] if contexts else config.get("max_position_embeddings")
    if isinstance(context, int) and not isinstance(context, bool):
        props.append(_prop("airgap:context_length", context))
    for key in ("library_name", "base_model_relation"):
        value = _string(front.get(key))
        if value:
            props.append(_prop(f"airgap:{key}", value))
    tags = sorted(set(_strings(front.get("tags"))))
    if tags:
        props.append(_prop("airgap:tags", ", ".join(tags)))
    return props


def _quantization(config: Mapping[str, Any], weights: list[FileInfo]) -> str:
    """GGUF file-type names, else ``config.json``'s ``quantization_config`` (GPTQ, AWQ...)."""
    names = sorted({str(i.facts["quantization"]) for i in weights if i.facts.get("quantization")})
    if names:
        return ", ".join(names)
    qconf = config.get("quantization_config")
    if isinstance(qconf, Mapping):
        method = _string(qconf.get("quant_method"))
        bits = qconf.get("bits")
        if method and isinstance(bits, int) and not isinstance(bits, bool):
            return f"{method} {bits}-bit"
        return method
    return ""


def _is_int(info: FileInfo, key: str) -> bool:
    value = info.facts.get(key)
    return isinstance(value, int) and not isinstance(value, bool)


def _config_component(config: Mapping[str, Any]) -> dict[str, Any]:
    """``config.json`` as a configuration data component, flagging custom code (``auto_map``)."""
    props: list[dict[str, str]] = []
    for key in ("model_type", "torch_dtype", "transformers_version"):
        text = _string(config.get(key))
        if text:
            props.append(_prop(f"airgap:{key}", text))
    for key in ("vocab_size", "max_position_embeddings", "num_hidden_layers", "hidden_size"):
        number = config.get(key)
        if isinstance(number, int) and not isinstance(number, bool):
            props.append(_prop(f"airgap:{key}", number))
    if "auto_map" in config:
        props.append(_prop("airgap:custom_code", "true"))
    component: dict[str, Any] = {
        "type": "data",
        "bom-ref": "config",
        "name": "config.json",
        "data": [{"type": "configuration", "name": "model configuration"}],
    }
    if props:
        component["properties"] = props
    return component


def _tokenizer_component(tok_config: Mapping[str, Any]) -> dict[str, Any]:
    """The tokenizer files as one data component; the chat template is pinned by digest."""
    props: list[dict[str, str]] = []
    tokenizer_class = _string(tok_config.get("tokenizer_class"))
    if tokenizer_class:
        props.append(_prop("airgap:tokenizer_class", tokenizer_class))
    max_length = tok_config.get("model_max_length")
    if isinstance(max_length, int) and not isinstance(max_length, bool):
        props.append(_prop("airgap:model_max_length", max_length))
    template = tok_config.get("chat_template")
    if isinstance(template, str | list):
        canonical = json.dumps(template, sort_keys=True, ensure_ascii=False)
        digest = hashlib.sha256(canonical.encode()).hexdigest()
        props.append(_prop("airgap:chat_template_sha256", digest))
    component: dict[str, Any] = {
        "type": "data",
        "bom-ref": "tokenizer",
        "name": "tokenizer",
        "data": [{"type": "definition", "name": "tokenizer"}],
    }
    if props:
        component["properties"] = props
    return component


def _adapter_component(
    relpath: str, adapter: Mapping[str, Any], known: Mapping[str, str]
) -> dict[str, Any]:
    """A PEFT adapter (LoRA...) as a model component whose ancestor is its base model."""
    folder = relpath.rpartition("/")[0]
    component: dict[str, Any] = {
        "type": "machine-learning-model",
        "bom-ref": f"adapter:{relpath}",
        "name": f"adapter:{folder}" if folder else "adapter",
    }
    props: list[dict[str, str]] = []
    peft_type = _string(adapter.get("peft_type"))
    if peft_type:
        props.append(_prop("airgap:peft_type", peft_type))
    for key in ("r", "lora_alpha"):
        value = adapter.get(key)
        if isinstance(value, int | float) and not isinstance(value, bool):
            props.append(_prop(f"airgap:lora_{key}" if key == "r" else f"airgap:{key}", value))
    targets = sorted(set(_strings(adapter.get("target_modules"))))
    if targets:
        props.append(_prop("airgap:target_modules", ", ".join(targets)))
    task_type = _string(adapter.get("task_type"))
    if task_type:
        props.append(_prop("airgap:task_type", task_type))
    base = _string(adapter.get("base_model_name_or_path"))
    if base:
        props.append(_prop("airgap:base_model", base))
        component["pedigree"] = {"ancestors": [_base_component(base, known)]}
    if props:
        component["properties"] = props
    return component


def _base_component(name: str, known: Mapping[str, str]) -> dict[str, Any]:
    """A base model as a pedigree ancestor, with a Hub purl and its licence when known."""
    component: dict[str, Any] = {"type": "machine-learning-model", "name": name}
    purl = _hub_purl(name)
    if purl:
        component["purl"] = purl
    license_key = _base_license(name, known)
    if license_key:
        component["licenses"] = [_license(license_key)]
    return component


def _hub_purl(name: str) -> str:
    """``pkg:huggingface/org/name`` for a Hub id; nothing for a local path or odd string."""
    if not re.fullmatch(r"[A-Za-z0-9][\w.-]*/[\w.-]+|[A-Za-z0-9][\w.-]*", name):
        return ""
    namespace, _, model = name.rpartition("/")
    return str(PackageURL(type="huggingface", namespace=namespace or None, name=model).to_string())


def _dataset_component(name: str) -> dict[str, Any]:
    """A training dataset named in the front matter, referenced from the model card."""
    return {
        "type": "data",
        "bom-ref": f"dataset:{name}",
        "name": name,
        "data": [{"type": "dataset", "name": name}],
    }


def _file_component(
    relpath: str, sha256: str, size: int, infos: Mapping[str, FileInfo]
) -> dict[str, Any]:
    """One hash-pinned file, with its format and header facts when it is a weight file."""
    props = [_prop("airgap:size", size)]
    info = infos.get(relpath)
    if info is not None and info.format in _WEIGHT_FORMATS:
        props.append(_prop("airgap:format", info.format))
        count = info.facts.get("parameter_count")
        if isinstance(count, int) and count:
            props.append(_prop("airgap:parameters", count))
        if info.facts.get("quantization"):
            props.append(_prop("airgap:quantization", info.facts["quantization"]))
        if info.pickle_bearing:
            props.append(_prop("airgap:pickle-bearing", "true"))
            props.append(_prop("airgap:pickle-verdict", info.verdict))
    return {
        "type": "file",
        "bom-ref": f"file:{relpath}",
        "name": relpath,
        "hashes": [{"alg": "SHA-256", "content": sha256}],
        "properties": props,
    }


def _license(name: str) -> dict[str, Any]:
    """An SPDX id as ``license.id``; anything else (``llama3``, ``gemma``...) as a named licence."""
    spdx = fixup_id(name)
    if spdx:
        return {"license": {"id": spdx}}
    return {"license": {"name": name}}


def _license_key(name: str) -> str:
    """Comparable form: canonical SPDX id or the licence name, lower-cased."""
    return (fixup_id(name) or name).strip().lower()


def _base_license(name: str, known: Mapping[str, str]) -> str:
    """The licence of a base model from the caller's map, else the built-in table."""
    lowered = {k.lower(): v for k, v in known.items()}
    if name.lower() in lowered:
        return lowered[name.lower()]
    for pattern, license_key in KNOWN_BASE_LICENSES:
        if pattern.search(name):
            return license_key
    return ""


def _license_findings(
    ctx: _Context,
    licenses: list[str],
    bases: list[str],
    adapter_bases: list[tuple[str, str]],
    known: Mapping[str, str],
) -> None:
    """Flag a derivative whose licence differs from its base's custom or copyleft licence."""
    if not licenses:
        return
    declared = {_license_key(name) for name in licenses}
    sources = [("README.md", base) for base in bases] + adapter_bases
    seen: set[str] = set()  # one finding per base model, the README's mention first
    for source, base in sources:
        base_license = _base_license(base, known)
        if not base_license or base.lower() in seen:
            continue
        seen.add(base.lower())
        key = _license_key(base_license)
        if key in PERMISSIVE_LICENSES or key in declared:
            continue
        meta = RULES["mlbom-license-conflict"]
        shown = ", ".join(licenses)
        ctx.findings.append(
            Finding(
                rule_id="mlbom-license-conflict",
                severity=Severity(meta["severity"]),
                title=meta["title"],
                message=(
                    f"declares licence {shown} but its base model {base} is under "
                    f"{base_license}, whose terms derivatives must keep"
                ),
                location=Location(
                    path=str(ctx.root / source),
                    resource=f"base:{base}",
                    pointer="/license" if source == "README.md" else "/base_model_name_or_path",
                ),
                evidence=f"{shown} <- {base} ({base_license})",
                remediation=meta["remediation"],
                compliance=tuple(meta["compliance"]),
            )
        )


# ---------------------------------------------------------------------------------------------
# Reading metadata (bounded, never executed)


def _scan(ctx: _Context) -> dict[str, FileInfo]:
    """Header facts by relative path (weights identified by their bytes, never loaded)."""
    real = ctx.root.resolve()
    by_abs = {str(real / f.path): f.path for f in ctx.manifest.files}
    return {by_abs[i.path]: i for i in scan_facts(sorted(by_abs)) if i.path in by_abs}


def _read_text(ctx: _Context, relpath: str) -> str | None:
    """The file's text within the size limit, or ``None`` after recording why not."""
    try:
        return decode(read_limited(str(ctx.root / relpath), MAX_METADATA_BYTES), relpath)
    except AirgapError as exc:
        ctx.unreadable(relpath, exc.message)
        return None


def _json_file(ctx: _Context, relpath: str) -> dict[str, Any]:
    """A JSON object file, or ``{}`` (recorded as a finding) when it is not one."""
    text = _read_text(ctx, relpath)
    if text is None:
        return {}
    try:
        data = json.loads(text)
    except (ValueError, RecursionError) as exc:
        ctx.unreadable(relpath, f"invalid JSON: {str(exc)[:200]}")
        return {}
    if not isinstance(data, dict):
        ctx.unreadable(relpath, "not a JSON object")
        return {}
    return data


def _front_matter_text(text: str) -> str | None:
    """The YAML between the leading ``---`` fences, or ``None`` when there is none."""
    lines = text.splitlines()
    if not lines or lines[0].strip() != "---":
        return None
    for index in range(1, len(lines)):
        if lines[index].strip() in ("---", "..."):
            return "\n".join(lines[1:index])
    return None


def _front_matter(ctx: _Context, text: str | None) -> dict[str, Any]:
    """README front matter through the safe loader; hostile or broken YAML becomes a finding."""
    if text is None:
        return {}
    yaml_text = _front_matter_text(text)
    if yaml_text is None:
        return {}
    if len(yaml_text) > MAX_FRONT_MATTER_CHARS:
        ctx.unreadable("README.md", f"front matter is larger than {MAX_FRONT_MATTER_CHARS} chars")
        return {}
    try:
        docs = load_documents(yaml_text, "README.md")
    except AirgapError as exc:
        ctx.unreadable("README.md", f"front matter: {exc.message}")
        return {}
    if not docs:
        return {}
    if not isinstance(docs[0].data, dict):
        ctx.unreadable("README.md", "front matter is not a mapping")
        return {}
    return dict(docs[0].data)


def _limitations(text: str | None) -> str:
    """The body of the README's first heading naming limitations, whitespace-folded and bounded."""
    if not text:
        return ""
    body: list[str] = []
    level = 0
    fenced = False
    for line in text.splitlines():
        if _FENCE.match(line):
            fenced = not fenced
        heading = None if fenced else _HEADING.match(line)
        if level:
            if heading and len(heading.group(1)) <= level:
                break
            body.append(line)
        elif heading and "limitation" in heading.group(2).lower():
            level = len(heading.group(1))
    folded = " ".join(" ".join(body).split())
    if len(folded) > MAX_LIMITATIONS_CHARS:
        folded = folded[: MAX_LIMITATIONS_CHARS - 3].rstrip() + "..."
    return folded


def _string(value: Any) -> str:
    """A bounded string from a scalar front matter or JSON value; empty for anything else."""
    if isinstance(value, bool) or not isinstance(value, str | int | float):
        return ""
    return str(value).strip()[:MAX_VALUE_CHARS]


def _strings(value: Any) -> list[str]:
    """A string or list of strings as a bounded list, dropping non-strings and blanks."""
    items: Iterable[Any] = value if isinstance(value, list) else [value]
    out = [s for s in (_string(v) for v in items if isinstance(v, str)) if s]
    return out[:MAX_LIST_ITEMS]


def _prop(name: str, value: object) -> dict[str, str]:
    """One CycloneDX property (values are always strings)."""
    return {"name": name, "value": str(value)}
