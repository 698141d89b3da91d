"""Guess a repository's air-gap boundary from what its manifests reference (``airgap init``).

Nothing is executed or fetched. The files the linter would read are walked with its discovery
(``.gitignore`` and ``.airgapignore`` honoured), parsed with its bounded loader and classified as
it classifies them; then the image references of the ``image`` target, the URLs in any string,
host-named fields (``host``, ``hostnames``, ``externalName``, ...) and IP literals are tallied.

Names on the public list (``rules/boundary/public-hosts.yaml``) are kept apart: ``airgap check``
reports them. The rest are the candidates for the inside: registries as they are, host names
grouped under the common suffix of their registered domain (``*.corp.example.com``), cluster-local
names under their built-in pattern (``*.svc.cluster.local``) and private addresses under their
range (``10.0.0.0/8``). A lone host that nothing corroborates is offered, not asserted.
"""

from __future__ import annotations

import functools
import ipaddress
import os
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from fnmatch import fnmatchcase
from importlib import resources
from pathlib import Path

from airgap_cli.core.config import LintSettings
from airgap_cli.core.errors import InputError
from airgap_cli.core.fastyaml import fast_documents
from airgap_cli.core.findings import InputIssue, Skipped
from airgap_cli.core.hosts import (
    DEFAULT_INTERNAL_DOMAINS,
    Boundary,
    find_urls,
    is_templated,
    parse_image,
    url_host,
)
from airgap_cli.core.rules import builtin_rule_dirs, load_rule_file
from airgap_cli.core.yamlio import DEFAULT_MAX_BYTES, decode, load_documents, read_limited
from airgap_cli.lint.checks import blob_line, embedded_documents
from airgap_cli.lint.documents import Document, classify, iter_discover
from airgap_cli.lint.targets import image_refs

PUBLIC_HOSTS = ("rules", "boundary", "public-hosts.yaml")
"""The packaged list of well-known public registries and hosts."""
HELM_TEMPLATE = "Helm template, not YAML"
"""The reason a file with ``{{ }}`` that does not parse is skipped (as the linter skips it)."""
LISTED_WHOLE = frozenset(DEFAULT_INTERNAL_DOMAINS) - {
    "localhost",
    "*.localhost",
    "*.example",
    "*.test",
    "*.invalid",
}
"""Built-in internal patterns written as they are when a name under them is seen
(``*.svc.cluster.local``, ``*.internal``): they never resolve outside a cluster or a site. Names
under the documentation names ``.example``, ``.test`` and ``.invalid`` are grouped like any other
(``*.corp.example``); loopback names say nothing about the boundary."""
PRIVATE_TLDS = frozenset(
    {"corp", "example", "home", "internal", "intranet", "invalid", "lan", "private", "test"}
)
"""Top-level domains that are not delegated on the public internet: a name under one is ours."""
PRIVATE_RANGES: tuple[tuple[ipaddress.IPv4Network | ipaddress.IPv6Network, str], ...] = (
    (ipaddress.ip_network("10.0.0.0/8"), "RFC 1918 private range"),
    (ipaddress.ip_network("172.16.0.0/12"), "RFC 1918 private range"),
    (ipaddress.ip_network("192.168.0.0/16"), "RFC 1918 private range"),
    (ipaddress.ip_network("100.64.0.0/10"), "RFC 6598 shared address space"),
    (ipaddress.ip_network("fc00::/7"), "RFC 4193 unique local range"),
)
"""Address ranges an internal address is guessed under (all are internal by default)."""
HOST_KEYS = frozenset(
    {"host", "hostname", "hostnames", "hosts", "externalname", "server", "servername"}
)
"""Keys whose string values (or list items) are host names rather than free text."""

_DEFAULT = Boundary()
_DNS_NAME = re.compile(
    r"^(?=.{1,253}$)(?:[a-z0-9_](?:[a-z0-9_-]{0,61}[a-z0-9])?\.)+[a-z](?:[a-z0-9-]{0,61}[a-z0-9])?$"
)
_HOST_VALUE = re.compile(r"^(?:\*\.)?(?P<host>[a-z0-9_.-]+?)\.?(?::[0-9]{1,5})?$")
_IPV4 = re.compile(r"(?<![\w.])((?:[0-9]{1,3}\.){3}[0-9]{1,3})(?:/([0-9]{1,2}))?(?![\w.])")


@dataclass(frozen=True, order=True, slots=True)
class Where:
    """A file (relative to the repository, ``/``-separated) and a line (0 when unknown)."""

    path: str
    line: int = 0

    def __str__(self) -> str:
        return f"{self.path}:{self.line}" if self.line else self.path


@dataclass(frozen=True, slots=True)
class Seen:
    """One name the manifests reference: how often, and its first reference."""

    name: str
    """A registry (``host[:port]``), a host name, or an address range."""
    uses: int
    example: Where
    sample: str
    """The first reference as written (an image, a URL, an address)."""
    label: str = ""
    """For public names, what the public list calls it (``Docker Hub``)."""
    registry: bool = False
    """True when the name was seen as an image registry."""


@dataclass(frozen=True, slots=True)
class Guess:
    """One proposed ``internal`` entry, with what it was guessed from."""

    value: str
    reason: str
    seen: tuple[Seen, ...]
    certain: bool = True
    """False: offered commented out (a lone host nothing else corroborates)."""

    @property
    def uses(self) -> int:
        """References behind the guess."""
        return sum(s.uses for s in self.seen)

    @property
    def first(self) -> Seen:
        """The member with the first reference (the example a comment shows)."""
        return min(self.seen, key=lambda s: (s.example, s.name))


@dataclass(frozen=True, slots=True)
class BoundaryGuess:
    """Everything ``airgap init`` learnt from a repository, sorted (the same repository gives
    the same guess)."""

    registries: tuple[Guess, ...] = ()
    domains: tuple[Guess, ...] = ()
    cidrs: tuple[Guess, ...] = ()
    public_registries: tuple[Seen, ...] = ()
    public_hosts: tuple[Seen, ...] = ()
    files: int = 0
    """YAML/JSON files read."""
    manifests: int = 0
    """Files that hold at least one manifest (Kubernetes, Helm values, GitLab CI, ...)."""
    manifest_dirs: tuple[str, ...] = ()
    """Top-level entries (directories or root files) that hold manifests."""
    templated: int = 0
    """References left to a template engine (``{{ .Values.x }}``, ``$CI_REGISTRY``): not judged."""
    problems: tuple[InputIssue, ...] = ()
    """Files that could not be read or parsed (not valid YAML, over a limit): skipped."""
    skipped: tuple[Skipped, ...] = ()
    """Files deliberately not read (Helm templates, links out of the tree)."""

    @property
    def empty(self) -> bool:
        """True when the manifests named no registry, host or address at all."""
        return not (
            self.registries
            or self.domains
            or self.cidrs
            or self.public_registries
            or self.public_hosts
        )


@dataclass(frozen=True, slots=True)
class PublicHosts:
    """The public list: DNS suffixes with a label, and the two-label public suffixes."""

    names: dict[str, str]
    second_level: frozenset[str]

    def label(self, host: str) -> str | None:
        """What the list calls ``host`` (its longest listed suffix), ``None`` when unlisted."""
        labels = host.split(".")
        for i in range(len(labels)):
            found = self.names.get(".".join(labels[i:]))
            if found is not None:
                return found
        return None

    def registered(self, host: str) -> str:
        """The registered domain a host looks like it is under (``corp.example.com`` ->
        ``example.com``; ``x.acme.co.uk`` -> ``acme.co.uk``)."""
        labels = host.split(".")
        depth = 3 if ".".join(labels[-2:]) in self.second_level else 2
        return ".".join(labels[-depth:])


@functools.cache
def public_hosts() -> PublicHosts:
    """The packaged public list (read through importlib.resources)."""
    source = resources.files("airgap_cli").joinpath(*PUBLIC_HOSTS)
    data = load_documents(source.read_text(encoding="utf-8"), "/".join(PUBLIC_HOSTS))[0].data
    return PublicHosts(
        {str(k).lower(): str(v) for k, v in data["hosts"].items()},
        frozenset(str(s).lower() for s in data.get("second_level_suffixes", ())),
    )


@functools.cache
def _url_rule() -> tuple[tuple[str, ...], frozenset[str]]:
    """The ``external-url`` rule's ignored URL globs and skipped keys: what it never reports is
    not called "will be reported" here either."""
    source = builtin_rule_dirs(("kubernetes",))[0].joinpath("external-url.yaml")
    params = load_rule_file(source, "rules/kubernetes/external-url.yaml").params
    return tuple(params.get("ignore_urls", ())), frozenset(params.get("skip_keys", ()))


def guess_boundary(
    root: Path,
    *,
    exclude: Iterable[str] = (),
    max_bytes: int = DEFAULT_MAX_BYTES,
) -> BoundaryGuess:
    """Read the manifests under ``root`` and guess its boundary. Unreadable or invalid files are
    skipped and listed in ``problems``; they never stop the guess."""
    tally = _Tally(root, public_hosts())
    skipped: list[Skipped] = []
    errors: list[InputIssue] = []
    include = LintSettings().include
    for name in iter_discover([str(root)], include, tuple(exclude), skipped, errors):
        tally.file(name, max_bytes)
    tally.skipped += [Skipped(tally.relative(s.path), s.reason) for s in skipped]
    tally.problems += [InputIssue(tally.relative(e.path), e.message, e.line) for e in errors]
    return tally.result()


@dataclass
class _Tally:
    """Counts and first references per name, filled file by file."""

    root: Path
    public: PublicHosts
    uses: dict[tuple[str, str], int] = field(default_factory=dict)
    first: dict[tuple[str, str], tuple[Where, str]] = field(default_factory=dict)
    registry_hosts: set[str] = field(default_factory=set)
    files: int = 0
    manifests: int = 0
    manifest_dirs: set[str] = field(default_factory=set)
    templated: int = 0
    problems: list[InputIssue] = field(default_factory=list)
    skipped: list[Skipped] = field(default_factory=list)

    def relative(self, path: str) -> str:
        """``path`` relative to the repository root, ``/``-separated."""
        return os.path.relpath(path, self.root).replace(os.sep, "/")

    def add(self, kind: str, name: str, where: Where, sample: str) -> None:
        """One reference to ``name`` (of ``kind``) at ``where``."""
        key = (kind, name)
        self.uses[key] = self.uses.get(key, 0) + 1
        known = self.first.get(key)
        if known is None or where < known[0]:
            self.first[key] = (where, sample)

    # --- reading -------------------------------------------------------------------------------
    def file(self, path: str, max_bytes: int) -> None:
        """Tally one file's documents; a file that cannot be read or parsed becomes a problem."""
        rel = self.relative(path)
        self.files += 1
        try:
            text = decode(read_limited(path, max_bytes), path)
            try:
                raws = fast_documents(text, path) or load_documents(
                    text, path, json_file=path.endswith(".json")
                )
            except InputError:
                if "{{" in text:
                    self.skipped.append(Skipped(rel, HELM_TEMPLATE))
                    return
                raise
        except InputError as exc:
            self.problems.append(InputIssue(rel, exc.message, exc.line))
            return
        documents: list[Document] = []
        for raw in raws:
            for doc in classify(path, raw):
                documents.append(doc)
                documents += embedded_documents(doc, text)
        if documents:
            self.manifests += 1
            self.manifest_dirs.add(rel.split("/", 1)[0])
        for doc in documents:
            self.document(doc, rel)

    def document(self, doc: Document, rel: str) -> None:
        """Tally the images, URLs, host fields and addresses of one document."""
        for path, ref in image_refs(doc):
            ref = ref.strip()
            if is_templated(ref):
                self.templated += 1
                continue
            if not ref or " " in ref:
                continue
            self.registry(parse_image(ref).registry, Where(rel, doc.line_at(path) or 0), ref)
        ignore_urls, skip_keys = _url_rule()
        for path, value in doc.walk().scalars:
            if not isinstance(value, str):
                continue
            key = _key_of(path)
            if "://" in value and key not in skip_keys:
                for found, offset in find_urls(value):
                    url = found.rstrip(".,;:)")
                    if is_templated(url):
                        self.templated += 1
                        continue
                    host = url_host(url)
                    if host is not None and not any(fnmatchcase(url, p) for p in ignore_urls):
                        where = Where(rel, blob_line(doc, path, value, offset) or 0)
                        self.host(host, where, url, from_url=True)
            elif key.lower() in HOST_KEYS or key.lower().endswith(("host", "hostname")):
                match = _HOST_VALUE.match(value.strip().lower())
                if match and not is_templated(value):
                    self.host(match["host"], Where(rel, doc.line_at(path) or 0), value.strip())
            if "." in value or ":" in value:
                self.addresses(doc, path, value, rel)

    # --- classifying ---------------------------------------------------------------------------
    def registry(self, registry: str, where: Where, ref: str) -> None:
        """An image registry: public, or a candidate for ``internal.registries``."""
        host = registry.rsplit(":", 1)[0] if registry.count(":") == 1 else registry
        if self.public.label(host) is not None:
            self.add("public-registry", registry, where, ref)
            return
        self.add("registry", registry, where, ref)
        if _DNS_NAME.match(host) and not _is_address(host):
            self.registry_hosts.add(host)
            self.host(host, where, ref)

    def host(self, host: str, where: Where, sample: str, *, from_url: bool = False) -> None:
        """A host name (or address) from a URL, a host field or an image registry."""
        host = host.strip().strip("[]").rstrip(".").lower()
        if not host or is_templated(host):
            return
        if _is_address(host):
            address = ipaddress.ip_address(host)
            if from_url and not _DEFAULT.is_internal_host(host):
                self.add("public-host", host, where, sample)  # external-url reports it
            elif address.version == 6:  # IPv4 literals are found in the text by `addresses`
                self._address(ipaddress.ip_network(address), where, sample)
            return
        if "." not in host or host == "localhost" or host.endswith(".localhost"):
            return  # single labels and loopback are internal by default and say nothing
        if not _DNS_NAME.match(host):
            return
        if self.public.label(host) is not None:
            self.add("public-host", host, where, sample)
            return
        pattern = _builtin_pattern(host)
        if pattern in LISTED_WHOLE:
            self.add("local", host, where, sample)
        else:
            self.add("host", host, where, sample)

    def addresses(self, doc: Document, path: tuple[str | int, ...], value: str, rel: str) -> None:
        """Private IP literals (``10.1.2.3``, ``10.20.0.0/16``, ``fd00::/8``) in one string."""
        for match in _IPV4.finditer(value):
            try:
                net = ipaddress.ip_network(
                    f"{match[1]}/{match[2]}" if match[2] else match[1], strict=False
                )
            except ValueError:
                continue
            line = blob_line(doc, path, value, match.start()) or 0
            self._address(net, Where(rel, line), match[0])
        text = value.strip()
        if ":" in text and "." not in text and " " not in text:
            try:
                net = ipaddress.ip_network(text, strict=False)
            except ValueError:
                return
            self._address(net, Where(rel, doc.line_at(path) or 0), text)

    def _address(
        self, net: ipaddress.IPv4Network | ipaddress.IPv6Network, where: Where, sample: str
    ) -> None:
        for private, _ in PRIVATE_RANGES:
            if net.version == private.version and net.subnet_of(private):  # type: ignore[arg-type]
                self.add("cidr", str(private), where, sample)
                return

    # --- the result ----------------------------------------------------------------------------
    def seen(self, kind: str) -> list[Seen]:
        """Every name of ``kind``, sorted."""
        found = []
        for (k, name), uses in sorted(self.uses.items()):
            if k != kind:
                continue
            where, sample = self.first[(k, name)]
            label = ""
            if kind.startswith("public"):
                host = name.rsplit(":", 1)[0] if name.count(":") == 1 else name
                label = self.public.label(host) or "public address"
            registry = kind.endswith("registry") or name in self.registry_hosts
            found.append(Seen(name, uses, where, sample, label, registry))
        return found

    def result(self) -> BoundaryGuess:
        """The guess, every part sorted."""
        registries = tuple(
            Guess(s.name, "an image registry that is not on the public list", (s,))
            for s in self.seen("registry")
        )
        local: dict[str, list[Seen]] = {}
        for s in self.seen("local"):
            local.setdefault(_builtin_pattern(s.name) or s.name, []).append(s)
        domains = [
            Guess(p, "cluster- or site-local names: internal by default", tuple(m))
            for p, m in local.items()
        ]
        domains += _domain_guesses(self.seen("host"), self.public)
        ranges = {str(net): why for net, why in PRIVATE_RANGES}
        cidrs = tuple(
            Guess(s.name, f"{ranges[s.name]}: internal by default", (s,)) for s in self.seen("cidr")
        )
        return BoundaryGuess(
            registries=registries,
            domains=tuple(sorted(domains, key=lambda g: g.value)),
            cidrs=tuple(sorted(cidrs, key=lambda g: _network_order(g.value))),
            public_registries=tuple(self.seen("public-registry")),
            public_hosts=tuple(self.seen("public-host")),
            files=self.files,
            manifests=self.manifests,
            manifest_dirs=tuple(sorted(self.manifest_dirs)),
            templated=self.templated,
            problems=tuple(sorted(self.problems, key=lambda p: (p.path, p.line or 0))),
            skipped=tuple(sorted(self.skipped, key=lambda s: s.path)),
        )


def _domain_guesses(hosts: list[Seen], public: PublicHosts) -> Iterator[Guess]:
    """``*.suffix`` guesses: hosts grouped by registered domain, each group under the longest
    suffix its members' parent domains share (``*.corp.example.com``, never ``*.com``)."""
    groups: dict[str, list[Seen]] = {}
    for seen in hosts:
        groups.setdefault(public.registered(seen.name), []).append(seen)
    for domain, members in sorted(groups.items()):
        parents = [m.name.split(".", 1)[1] if m.name != domain else m.name for m in members]
        suffix = _common_suffix(parents)
        tld = domain.rsplit(".", 1)[-1]
        registries = sorted(m.name for m in members if m.registry)
        if registries:
            reason = f"names under {suffix}, the domain of the internal registry {registries[0]}"
        elif tld in PRIVATE_TLDS:
            reason = f"names under .{tld}, which is not a public top-level domain"
        elif len(members) > 1:
            reason = f"{len(members)} hosts under {suffix}, none on the public list"
        else:
            reason = "one host, not on the public list: uncomment if it is inside your network"
        certain = bool(registries) or tld in PRIVATE_TLDS or len(members) > 1
        below = tuple(m for m in members if m.name != suffix)
        exact = tuple(m for m in members if m.name == suffix)
        if below:
            yield Guess(f"*.{suffix}", reason, below, certain)
        if exact:
            yield Guess(suffix, reason, exact, certain)


def _common_suffix(names: list[str]) -> str:
    """The longest run of trailing labels every name shares."""
    split = [name.split(".")[::-1] for name in names]
    shared: list[str] = []
    for labels in zip(*split, strict=False):
        if len(set(labels)) != 1:
            break
        shared.append(labels[0])
    return ".".join(reversed(shared))


def _builtin_pattern(host: str) -> str | None:
    """The most specific built-in internal pattern ``host`` falls under."""
    matches = [p for p in DEFAULT_INTERNAL_DOMAINS if fnmatchcase(host, p) or host == p]
    return max(matches, key=len) if matches else None


def _key_of(path: tuple[str | int, ...]) -> str:
    """The nearest mapping key of a value (list items take their list's key)."""
    for segment in reversed(path):
        if isinstance(segment, str):
            return segment
    return ""


def _network_order(cidr: str) -> tuple[int, int]:
    net = ipaddress.ip_network(cidr)
    return net.version, int(net.network_address)


def _is_address(host: str) -> bool:
    try:
        ipaddress.ip_address(host)
    except ValueError:
        return False
    return True
