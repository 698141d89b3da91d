"""Named targets: the parts of a document that rule conditions are applied to.

A rule says ``target: container`` and its JSON Schema sees one container at a time, wherever the
container sits (Pod, Deployment, CronJob, any CRD with a pod template). Each target keeps its
path inside the document so a failing keyword maps back to the exact file line.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

from airgap_cli.core.hosts import is_templated, parse_image
from airgap_cli.lint.documents import (
    GITLAB_CI,
    HELM_VALUES,
    KUBERNETES,
    KUSTOMIZATION,
    Document,
    get_path,
)

Path = tuple[str | int, ...]


@dataclass(frozen=True, slots=True)
class Target:
    """One object a condition is checked against."""

    path: Path
    """Where it is in the document."""
    value: Any
    """What the schema sees (may be synthesised, e.g. a parsed image reference)."""
    label: str
    """Short human name: a container name, an image reference, a job name."""
    synthetic: bool = False
    """True when ``value`` is not the document node (errors then point at ``path`` itself)."""
    aliases: tuple[tuple[str, Path], ...] = ()
    """Keys added to ``value`` that live elsewhere in the document: (key, its real path)."""

    def source_path(self, relative: Path) -> Path:
        """Where ``relative`` (a path inside ``value``) really is in the document."""
        if self.synthetic:
            return self.path
        for key, real in self.aliases:
            if relative and relative[0] == key:
                return (*real, *relative[1:])
        return (*self.path, *relative)


POD_SPEC_PATHS: tuple[Path, ...] = (
    ("spec", "template", "spec"),
    ("spec", "jobTemplate", "spec", "template", "spec"),
)
CONTAINER_LISTS = ("initContainers", "containers", "ephemeralContainers")
CI_RESERVED = frozenset(
    {
        "stages",
        "variables",
        "include",
        "default",
        "workflow",
        "image",
        "services",
        "cache",
        "before_script",
        "after_script",
        "types",
        "pages:deploy",
    }
)
CI_SCRIPT_KEYS = ("before_script", "script", "after_script")


def pod_specs(doc: Document) -> list[tuple[Path, dict[str, Any]]]:
    """Every pod spec in a Kubernetes document, whatever the workload kind."""
    if doc.pod_specs_cache is None:
        doc.pod_specs_cache = list(_find_pod_specs(doc))
    return doc.pod_specs_cache


def _find_pod_specs(doc: Document) -> Iterator[tuple[Path, dict[str, Any]]]:
    if doc.doc_type != KUBERNETES:
        return
    spec = doc.data.get("spec")
    if doc.kind == "Pod" or (isinstance(spec, dict) and isinstance(spec.get("containers"), list)):
        if isinstance(spec, dict):
            yield ("spec",), spec
        return
    for path in POD_SPEC_PATHS:
        found = get_path(doc.data, *path)
        if isinstance(found, dict) and isinstance(found.get("containers"), list):
            yield path, found


def _pod(doc: Document) -> Iterator[Target]:
    for path, spec in pod_specs(doc):
        yield Target(path, spec, doc.resource)


def _containers(doc: Document, lists: tuple[str, ...]) -> Iterator[Target]:
    for path, spec in pod_specs(doc):
        pod_security = spec.get("securityContext")
        for list_name in lists:
            items = spec.get(list_name)
            if not isinstance(items, list):
                continue
            for i, container in enumerate(items):
                if not isinstance(container, dict):
                    continue
                value = container
                aliases: tuple[tuple[str, Path], ...] = ()
                if isinstance(pod_security, dict):
                    # The pod-level securityContext applies to every container; rules see both.
                    value = {**container, "podSecurityContext": pod_security}
                    aliases = (("podSecurityContext", (*path, "securityContext")),)
                where = (*path, list_name, i)
                label = str(container.get("name") or f"{list_name}[{i}]")
                yield Target(where, value, label, aliases=aliases)


def _all_containers(doc: Document) -> Iterator[Target]:
    return _containers(doc, CONTAINER_LISTS)


def _app_containers(doc: Document) -> Iterator[Target]:
    return _containers(doc, ("containers",))


def image_target(doc: Document, path: Path, ref: str) -> Target | None:
    """A parsed image reference as a target; ``None`` for templated references."""
    ref = ref.strip()
    if not ref or is_templated(ref) or " " in ref:
        return None
    image = parse_image(ref)
    value = {
        "ref": image.ref,
        "registry": image.registry,
        "repository": image.repository,
        "tag": image.effective_tag,
        "explicit_tag": image.tag,
        "digest": image.digest,
    }
    return Target(path, value, ref, synthetic=True)


def _images(doc: Document) -> Iterator[Target]:
    for path, ref in image_refs(doc):
        target = image_target(doc, path, ref)
        if target is not None:
            yield target


def image_refs(doc: Document) -> Iterator[tuple[Path, str]]:
    """Every image reference a document pulls, by document type."""
    if doc.doc_type == KUBERNETES:
        for container in _all_containers(doc):
            image = container.value.get("image")
            if isinstance(image, str):
                yield (*container.path, "image"), image
    elif doc.doc_type == HELM_VALUES:
        yield from _values_images(doc.data, ())
    elif doc.doc_type == KUSTOMIZATION:
        for i, item in enumerate(doc.data.get("images") or []):
            if isinstance(item, dict) and isinstance(item.get("name"), str):
                ref = str(item.get("newName") or item["name"])
                if item.get("digest"):
                    ref += f"@{item['digest']}"
                elif item.get("newTag") is not None:
                    ref += f":{item['newTag']}"
                key = "newName" if "newName" in item else "name"
                yield ("images", i, key), ref
    elif doc.doc_type == GITLAB_CI:
        for path, ref in ci_images(doc.data):
            yield path, ref


def _values_images(node: Any, path: Path) -> Iterator[tuple[Path, str]]:
    stack: list[tuple[Path, Any]] = [(path, node)]
    while stack:
        here, value = stack.pop()
        if isinstance(value, dict):
            for key, child in value.items():
                where = (*here, key)
                if isinstance(key, str) and key.lower().endswith("image"):
                    if isinstance(child, str):
                        yield where, child
                        continue
                    if isinstance(child, dict) and isinstance(child.get("repository"), str):
                        yield (*where, "repository"), _compose_values_image(child)
                        continue
                stack.append((where, child))
        elif isinstance(value, list):
            stack.extend(((*here, i), v) for i, v in enumerate(value))


def _compose_values_image(image: dict[str, Any]) -> str:
    ref = str(image["repository"])
    registry = image.get("registry")
    if isinstance(registry, str) and registry:
        ref = f"{registry.rstrip('/')}/{ref}"
    if image.get("digest"):
        return f"{ref}@{image['digest']}"
    tag = image.get("tag")
    return f"{ref}:{tag}" if tag not in (None, "") else ref


def ci_jobs(data: dict[str, Any]) -> Iterator[tuple[str, dict[str, Any]]]:
    """GitLab CI jobs (hidden ``.template`` jobs too: their scripts run through ``extends``)."""
    for name, job in data.items():
        if name not in CI_RESERVED and isinstance(job, dict):
            yield name, job


def ci_images(data: dict[str, Any]) -> Iterator[tuple[Path, str]]:
    """Image and service references of a GitLab CI file (default and per job)."""
    scopes: list[tuple[Path, Any]] = [((), data), (("default",), data.get("default"))]
    scopes += [((name,), job) for name, job in ci_jobs(data)]
    for path, scope in scopes:
        if not isinstance(scope, dict):
            continue
        image = scope.get("image")
        if isinstance(image, str):
            yield (*path, "image"), image
        elif isinstance(image, dict) and isinstance(image.get("name"), str):
            yield (*path, "image", "name"), image["name"]
        for i, service in enumerate(scope.get("services") or []):
            if isinstance(service, str):
                yield (*path, "services", i), service
            elif isinstance(service, dict) and isinstance(service.get("name"), str):
                yield (*path, "services", i, "name"), service["name"]


def _ci_jobs(doc: Document) -> Iterator[Target]:
    if doc.doc_type == GITLAB_CI:
        for name, job in ci_jobs(doc.data):
            yield Target((name,), job, name)


def ci_script_lines(doc: Document) -> Iterator[tuple[Path, str, str]]:
    """(path, job name, line) for every script line of every job and of ``default``."""
    if doc.doc_type != GITLAB_CI:
        return
    scopes = [("default", doc.data.get("default")), *ci_jobs(doc.data)]
    top_level = [(key, doc.data) for key in CI_SCRIPT_KEYS if key in doc.data]
    for key, scope in top_level:
        yield from _script_items(doc, (key,), scope.get(key), "(global)")
    for name, scope in scopes:
        if isinstance(scope, dict):
            for key in CI_SCRIPT_KEYS:
                yield from _script_items(doc, (name, key), scope.get(key), name)


def _script_items(
    doc: Document, path: Path, value: Any, job: str
) -> Iterator[tuple[Path, str, str]]:
    if isinstance(value, str):
        yield path, job, value
    elif isinstance(value, list):
        for i, item in enumerate(value):
            if isinstance(item, str):
                yield (*path, i), job, item
            elif isinstance(item, list):  # `!reference` or nested lists
                for j, sub in enumerate(item):
                    if isinstance(sub, str):
                        yield (*path, i, j), job, sub


def _ci_script_line(doc: Document) -> Iterator[Target]:
    for path, job, text in ci_script_lines(doc):
        yield Target(path, text, job)


def _document(doc: Document) -> Iterator[Target]:
    yield Target((), doc.data, doc.resource)


TARGETS: dict[str, Callable[[Document], Iterator[Target]]] = {
    "document": _document,
    "pod": _pod,
    "container": _all_containers,
    "app-container": _app_containers,
    "image": _images,
    "ci-job": _ci_jobs,
    "ci-script-line": _ci_script_line,
}
"""Every target name a rule may use (documented in docs/rules.md)."""
