"""Inputs to documents: walk paths, parse, and classify each document with its identity."""

from __future__ import annotations

import os
import re
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pathspec

from airgap_cli.core.findings import InputIssue, Skipped
from airgap_cli.core.shard import Shard
from airgap_cli.core.yamlio import LineList, RawDocument, line_of, pointer_segment

KUBERNETES = "kubernetes"
HELM_VALUES = "helm-values"
HELM_CHART = "helm-chart"
KUSTOMIZATION = "kustomization"
GITLAB_CI = "gitlab-ci"
DOCUMENT_TYPES = (KUBERNETES, HELM_VALUES, HELM_CHART, KUSTOMIZATION, GITLAB_CI)

CLUSTER_SCOPED_KINDS = frozenset(
    {
        "APIService",
        "CSIDriver",
        "CSINode",
        "CertificateSigningRequest",
        "ClusterIssuer",
        "ClusterRole",
        "ClusterRoleBinding",
        "ComponentStatus",
        "CustomResourceDefinition",
        "FlowSchema",
        "GatewayClass",
        "IngressClass",
        "KongClusterPlugin",
        "MutatingWebhookConfiguration",
        "Namespace",
        "Node",
        "PersistentVolume",
        "PodSecurityPolicy",
        "PriorityClass",
        "PriorityLevelConfiguration",
        "RuntimeClass",
        "StorageClass",
        "ValidatingAdmissionPolicy",
        "ValidatingAdmissionPolicyBinding",
        "ValidatingWebhookConfiguration",
        "VolumeAttachment",
        "VolumeSnapshotClass",
        "CiliumClusterwideNetworkPolicy",
        "ClusterPolicy",
        "ClusterSecretStore",
        "ClusterIssuerList",
        "GlobalNetworkPolicy",
        "ClusterServingRuntime",
    }
)
"""Kinds that live outside any namespace; ``Cluster*`` kinds are treated the same way."""

_ALWAYS_SKIPPED_DIRS = {".git", ".hg", ".svn"}
CONFIG_FILES = frozenset({"airgap.yaml", "airgap.yml", ".airgap.yaml"})
"""airgap's own configuration is not a manifest: a directory walk leaves it out."""


class DocIndex:
    """Every mapping, sequence and scalar of a document with its path, from one walk.

    Several checks look at every node; sharing one iterative walk keeps them cheap and
    depth-safe. ``keys`` (every mapping key, without paths) is computed on its own and first, so a
    check can skip documents that cannot concern it before anything pays for the paths.
    """

    __slots__ = ("_keys", "_root", "_walk")

    def __init__(self, root: Any) -> None:
        self._root = root
        self._keys: frozenset[str] | None = None
        self._walk: tuple[list[Any], list[Any], list[Any]] | None = None

    @property
    def keys(self) -> frozenset[str]:
        """Every mapping key anywhere in the document."""
        if self._keys is None:
            keys: set[str] = set()
            stack = [self._root]
            while stack:
                value = stack.pop()
                if isinstance(value, dict):
                    keys.update(value)
                    stack.extend(c for c in value.values() if isinstance(c, dict | list))
                elif isinstance(value, list):
                    stack.extend(c for c in value if isinstance(c, dict | list))
            self._keys = frozenset(keys)
        return self._keys

    @property
    def dicts(self) -> list[tuple[tuple[str | int, ...], dict[str, Any]]]:
        """Every mapping with its path."""
        return self._walked()[0]

    @property
    def lists(self) -> list[tuple[tuple[str | int, ...], list[Any]]]:
        """Every sequence with its path."""
        return self._walked()[1]

    @property
    def scalars(self) -> list[tuple[tuple[str | int, ...], Any]]:
        """Every non-null scalar with its path."""
        return self._walked()[2]

    def _walked(self) -> tuple[list[Any], list[Any], list[Any]]:
        if self._walk is None:
            dicts: list[tuple[tuple[str | int, ...], dict[str, Any]]] = []
            lists: list[tuple[tuple[str | int, ...], list[Any]]] = []
            scalars: list[tuple[tuple[str | int, ...], Any]] = []
            stack: list[tuple[tuple[str | int, ...], Any]] = [((), self._root)]
            while stack:  # iterative: nesting depth is no risk
                here, value = stack.pop()
                if isinstance(value, dict):
                    dicts.append((here, value))
                    stack.extend(((*here, k), v) for k, v in value.items())
                elif isinstance(value, list):
                    lists.append((here, value))
                    stack.extend(((*here, i), v) for i, v in enumerate(value))
                elif value is not None:
                    scalars.append((here, value))
            self._walk = (dicts, lists, scalars)
        return self._walk

    def strings_where(
        self, needle: str = "", key_ok: Callable[[str | int], bool] | None = None
    ) -> list[tuple[tuple[str | int, ...], str]]:
        """Every string scalar (with its path) that contains ``needle`` and whose key passes ``key_ok``.

        In no particular order (findings are sorted when reported). Only containers and kept
        strings get a path tuple: most nodes are scalars, and a path for each was most of the
        cost of a full walk.
        """
        kept: list[tuple[tuple[str | int, ...], str]] = []
        root = self._root
        if isinstance(root, str):
            if needle in root and (key_ok is None or key_ok("")):
                kept.append(((), root))
            return kept
        if not isinstance(root, dict | list):
            return kept
        stack: list[tuple[tuple[str | int, ...], Any]] = [((), root)]
        while stack:
            here, node = stack.pop()
            items = node.items() if isinstance(node, dict) else enumerate(node)
            for key, value in items:
                if value.__class__ is str:
                    if needle in value and (key_ok is None or key_ok(key)):
                        kept.append(((*here, key), value))
                elif isinstance(value, dict | list):
                    stack.append(((*here, key), value))
        return kept


@dataclass(slots=True)
class Document:
    """One YAML document (or one item of a Kubernetes ``List``) and what it is."""

    path: str
    index: int
    line: int
    data: Any
    doc_type: str
    api_version: str = ""
    kind: str = ""
    name: str = ""
    namespace: str | None = None
    pointer_prefix: tuple[str | int, ...] = ()
    lines: Any = field(default=None, repr=False, compare=False)
    """``LazyLines`` when ``data`` came from the fast parser and carries no lines."""
    text: str | None = field(default=None, repr=False, compare=False)
    """Source text that contains this document (None when unknown), for ``may_contain``."""
    escapes: bool = field(default=True, repr=False, compare=False)
    """True unless ``text`` is known to hold no backslash (no escaped characters)."""
    lowered: str | None = field(default=None, repr=False, compare=False)
    """``text`` lower-cased, made on first use."""
    _index: DocIndex | None = field(default=None, repr=False, compare=False)
    pod_specs_cache: list[tuple[tuple[str | int, ...], dict[str, Any]]] | None = field(
        default=None, repr=False, compare=False
    )
    """Filled by ``targets.pod_specs`` (several rules ask for the same pod specs)."""
    named_values_cache: list[tuple[tuple[str | int, ...], str, str]] | None = field(
        default=None, repr=False, compare=False
    )
    """Filled by ``checks.named_values`` (two rules read the same environment)."""

    def may_contain(
        self, needle: re.Pattern[str] | str | tuple[str, ...], *, ignore_case: bool = False
    ) -> bool:
        """False only when no key or string of this document can contain ``needle`` (or, for a
        tuple, any of its strings; ``ignore_case`` compares lower-cased, needles given lower).

        Sound for needles without whitespace: a YAML key's or string's characters appear in its
        source unless escaped (so any backslash answers True) or folded (which only adds spaces).
        Substring tests beat regular expressions here: an alternation or a case-insensitive
        pattern cannot skip ahead, and ran at a tenth of the speed over 10,000 documents.
        """
        text = self.text
        if text is None or self.escapes:
            return True
        if ignore_case:
            if self.lowered is None:
                self.lowered = text.lower()
            text = self.lowered
        if isinstance(needle, str):
            return needle in text
        if isinstance(needle, tuple):
            return any(n in text for n in needle)
        return needle.search(text) is not None

    def may_have_key(self, key_end: re.Pattern[str], *, ignore_case: bool = False) -> bool:
        """False only when no mapping key of this document can match ``key_end``, a pattern for
        the end of a key's text up to its colon (``name['"]?[ \\t]*:``; lower-case with
        ``ignore_case``).

        Answers only for texts the fast parser took, where every key is a plain or quoted key on
        one line (no complex ``?`` keys, no escapes); True otherwise.
        """
        return self.lines is None or self.may_contain(key_end, ignore_case=ignore_case)

    def line_at(self, path: tuple[str | int, ...] | list[str | int]) -> int | None:
        """Line of the node at ``path`` (its key's line, else the nearest parent's)."""
        if self.lines is None:
            return line_of(self.data, path, self.line)
        line: int | None = self.lines.line_of((*self.pointer_prefix, *path), self.line)
        return line

    def walk(self) -> DocIndex:
        """The shared walk of this document (built on first use)."""
        if self._index is None:
            self._index = DocIndex(self.data)
        return self._index

    @property
    def resource(self) -> str:
        """``Kind/namespace/name`` (``Kind/name`` when cluster-scoped); the file role otherwise."""
        if self.doc_type == KUBERNETES:
            parts = [self.kind or "?", self.namespace, self.name or f"#{self.index}"]
            return "/".join(p for p in parts if p)
        return self.doc_type if self.index == 0 else f"{self.doc_type}#{self.index}"

    def pointer(self, path: tuple[str | int, ...] | list[str | int]) -> str:
        """JSON pointer of ``path`` inside this document's resource."""
        return "".join("/" + pointer_segment(p) for p in path)

    def annotations(self) -> dict[str, Any]:
        """``metadata.annotations`` (empty when absent or malformed)."""
        meta = self.data.get("metadata") if isinstance(self.data, dict) else None
        ann = meta.get("annotations") if isinstance(meta, dict) else None
        return ann if isinstance(ann, dict) else {}


def is_cluster_scoped(kind: str, extra: frozenset[str] = frozenset()) -> bool:
    """True for kinds that are never namespaced (so never placed in ``default`` by mistake)."""
    return kind in CLUSTER_SCOPED_KINDS or kind in extra or kind.startswith("Cluster")


def file_type(path: str) -> str | None:
    """The document type a file name implies, ``None`` when only the content can tell."""
    posix = path.replace("\\", "/")
    name = posix.rsplit("/", 1)[-1]
    lower = name.lower()
    if lower.endswith((".gitlab-ci.yml", ".gitlab-ci.yaml")) or "/.gitlab/ci/" in posix:
        return GITLAB_CI
    if lower in ("kustomization.yaml", "kustomization.yml", "kustomization"):
        return KUSTOMIZATION
    if name == "Chart.yaml":
        return HELM_CHART
    if lower.startswith("values") and lower.endswith((".yaml", ".yml")):
        return HELM_VALUES
    return None


def classify(
    path: str, raw: RawDocument, cluster_scoped: frozenset[str] = frozenset()
) -> Iterator[Document]:
    """Documents for one parsed YAML document; ``List`` kinds expand into their items."""
    data = raw.data
    hinted = file_type(path)
    if not isinstance(data, dict):
        return
    if hinted in (GITLAB_CI, HELM_CHART, KUSTOMIZATION) or (
        hinted == HELM_VALUES and not _is_k8s(data)
    ):
        yield Document(path, raw.index, raw.line, data, hinted, lines=raw.lines)
        return
    if not _is_k8s(data):
        return
    kind = str(data["kind"])
    items = data.get("items")
    if kind.endswith("List") and isinstance(items, list):
        lines = items.item_lines if isinstance(items, LineList) else []
        for i, item in enumerate(items):
            if isinstance(item, dict) and _is_k8s(item):
                line = lines[i] if i < len(lines) else raw.line
                yield _k8s_document(path, raw.index, line, item, ("items", i), cluster_scoped)
        return
    if kind == "Kustomization" and str(data["apiVersion"]).startswith("kustomize.config.k8s.io"):
        yield Document(path, raw.index, raw.line, data, KUSTOMIZATION, kind=kind, lines=raw.lines)
        return
    doc = _k8s_document(path, raw.index, raw.line, data, (), cluster_scoped)
    doc.lines = raw.lines
    yield doc


def _is_k8s(data: dict[str, Any]) -> bool:
    return isinstance(data.get("apiVersion"), str) and isinstance(data.get("kind"), str)


def _k8s_document(
    path: str,
    index: int,
    line: int,
    data: dict[str, Any],
    prefix: tuple[str | int, ...],
    cluster_scoped: frozenset[str],
) -> Document:
    kind = str(data["kind"])
    meta = data.get("metadata")
    meta = meta if isinstance(meta, dict) else {}
    name = str(meta.get("name") or meta.get("generateName") or "")
    namespace: str | None = None
    if not is_cluster_scoped(kind, cluster_scoped):
        namespace = str(meta.get("namespace") or "default")
    return Document(
        path,
        index,
        getattr(data, "line", line) or line,
        data,
        KUBERNETES,
        api_version=str(data["apiVersion"]),
        kind=kind,
        name=name,
        namespace=namespace,
        pointer_prefix=prefix,
    )


@dataclass(frozen=True, slots=True)
class Discovery:
    """What a walk found: files to read, and what it deliberately or forcibly left out."""

    files: list[str]
    skipped: list[Skipped]
    errors: list[InputIssue]


def discover(
    paths: list[str],
    include: tuple[str, ...],
    exclude: tuple[str, ...],
    shard: Shard | None = None,
) -> Discovery:
    """Expand paths into files. Named files are always read; directories are walked with the
    include/exclude globs, ``.gitignore``/``.airgapignore`` files, and without following
    directory links (no loops, no escaping the tree). With ``shard``, only the files (and
    problems) of that shard."""
    skipped: list[Skipped] = []
    errors: list[InputIssue] = []
    files = list(iter_discover(paths, include, exclude, skipped, errors, shard))
    return Discovery(files, skipped, errors)


def iter_discover(
    paths: list[str],
    include: tuple[str, ...],
    exclude: tuple[str, ...],
    skipped: list[Skipped],
    errors: list[InputIssue],
    shard: Shard | None = None,
) -> Iterator[str]:
    """``discover`` as a stream, each file once: linting can start before the walk ends.
    What is skipped or refused is appended to ``skipped`` and ``errors`` as it is met; with
    ``shard``, what belongs to other shards is left out (once the walk is over, for those)."""
    include_spec = pathspec.GitIgnoreSpec.from_lines(include)
    exclude_spec = pathspec.GitIgnoreSpec.from_lines(exclude)
    seen: set[str] = set()
    first_skipped, first_error = len(skipped), len(errors)
    for given in paths:
        found: Iterable[str] = ()
        if given == "-":
            found = (given,)
        elif not os.path.lexists(given):
            errors.append(InputIssue(given, "no such file or directory"))
        elif os.path.isdir(given):
            found = _walk(given, include_spec, exclude_spec, skipped, errors)
        elif os.path.isfile(given):
            found = (given,)
        elif os.path.islink(given):
            errors.append(InputIssue(given, "broken or looping symbolic link"))
        else:
            errors.append(InputIssue(given, "not a regular file"))
        for name in found:
            if name not in seen:
                seen.add(name)
                if shard is None or name == "-" or shard.owns(name):
                    yield name
    if shard is not None:  # each problem is reported by the one shard that owns its path
        skipped[first_skipped:] = [s for s in skipped[first_skipped:] if shard.owns(s.path)]
        errors[first_error:] = [e for e in errors[first_error:] if shard.owns(e.path)]


def _walk(
    root: str,
    include: pathspec.PathSpec[Any],
    exclude: pathspec.PathSpec[Any],
    skipped: list[Skipped],
    errors: list[InputIssue],
) -> Iterator[str]:
    root_real = os.path.realpath(root)
    ignores: list[tuple[str, pathspec.PathSpec[Any]]] = []

    def onerror(exc: OSError) -> None:
        errors.append(
            InputIssue(str(exc.filename or root), f"cannot read directory: {exc.strerror}")
        )

    for dirpath, dirnames, filenames, links in _scan_tree(root, onerror):
        rel_dir = os.path.relpath(dirpath, root)
        rel_dir = "" if rel_dir == "." else rel_dir.replace(os.sep, "/") + "/"
        ignores = [(base, spec) for base, spec in ignores if rel_dir.startswith(base)]
        for ignore_name in (".gitignore", ".airgapignore"):
            if ignore_name in filenames:
                try:
                    lines = Path(dirpath, ignore_name).read_text(errors="replace").splitlines()
                except OSError:
                    continue
                ignores.append((rel_dir, pathspec.GitIgnoreSpec.from_lines(lines)))

        def ignored(rel: str, ignores: list[tuple[str, pathspec.PathSpec[Any]]] = ignores) -> bool:
            return any(spec.match_file(rel[len(base) :]) for base, spec in ignores) or (
                exclude.match_file(rel)
            )

        kept = []
        for d in sorted(dirnames):
            rel = rel_dir + d
            full = os.path.join(dirpath, d)
            if d in _ALWAYS_SKIPPED_DIRS or ignored(rel + "/"):
                continue
            if d in links:
                skipped.append(Skipped(full, "directory link not followed"))
                continue
            kept.append(d)
        dirnames[:] = kept
        for name in sorted(filenames):
            rel = rel_dir + name
            full = os.path.join(dirpath, name)
            wanted = include.match_file(rel) or file_type(rel) == GITLAB_CI
            if not wanted or name in CONFIG_FILES or ignored(rel):
                continue
            if name in links:
                target = os.path.realpath(full)
                if not os.path.exists(target):
                    errors.append(InputIssue(full, "broken or looping symbolic link"))
                    continue
                if os.path.commonpath([root_real, target]) != root_real:
                    skipped.append(Skipped(full, "symbolic link points outside the tree"))
                    continue
            yield full


def _scan_tree(
    root: str, onerror: Callable[[OSError], None]
) -> Iterator[tuple[str, list[str], list[str], set[str]]]:
    """``os.walk`` (top-down, never following links) that also names the links it saw.

    The caller prunes ``dirnames`` in place, as with ``os.walk``. Knowing links from the
    directory listing spares an ``lstat`` per file (a third of a 5,000-file walk).
    """
    pending = [root]
    while pending:
        top = pending.pop()
        dirnames: list[str] = []
        filenames: list[str] = []
        links: set[str] = set()
        try:
            with os.scandir(top) as entries:
                for entry in entries:
                    is_link = entry.is_symlink()
                    try:
                        is_dir = entry.is_dir(follow_symlinks=True)
                    except OSError:  # a looping link: a "file" the caller reports
                        is_dir = False
                    if is_link:
                        links.add(entry.name)
                    (dirnames if is_dir else filenames).append(entry.name)
        except OSError as exc:
            onerror(exc)
            continue
        yield top, dirnames, filenames, links
        pending.extend(os.path.join(top, d) for d in reversed(dirnames) if d not in links)


def walk_strings(
    node: Any, path: tuple[str | int, ...] = ()
) -> Iterator[tuple[tuple[str | int, ...], str]]:
    """Every string scalar under ``node`` with its path (iterative: depth is no risk)."""
    stack: list[tuple[tuple[str | int, ...], Any]] = [(path, node)]
    while stack:
        here, value = stack.pop()
        if isinstance(value, str):
            yield here, value
        elif isinstance(value, dict):
            stack.extend(((*here, k), v) for k, v in reversed(list(value.items())))
        elif isinstance(value, list):
            stack.extend(((*here, i), v) for i, v in reversed(list(enumerate(value))))


def get_path(node: Any, *path: str | int) -> Any:
    """``node[p0][p1]…`` or ``None`` when any step is missing or of the wrong type."""
    for segment in path:
        if isinstance(node, dict) and isinstance(segment, str):
            node = node.get(segment)
        elif (
            isinstance(node, list)
            and isinstance(segment, int)
            and -len(node) <= segment < len(node)
        ):
            node = node[segment]
        else:
            return None
    return node
