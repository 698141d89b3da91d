"""Egress policy: the allowlist, the destination baseline, findings, and emitted NetworkPolicies.

Everything here is pure: no sockets, no clock. The same :class:`Allowlist` decides verdicts in
``airgap egress run``, is checked by ``egress diff`` and is emitted by ``egress policy``, so the
rule CI enforces is the rule production enforces.
"""

from __future__ import annotations

import ipaddress
import json
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import Any

import yaml

from airgap_cli.core.errors import ConfigError, InputError, UsageError
from airgap_cli.core.findings import Finding, Location, Severity
from airgap_cli.core.yamlio import LineDict, LineList, load_documents
from airgap_cli.egress.events import ALLOWED, DENIED, Destination, destination_label

Network = ipaddress.IPv4Network | ipaddress.IPv6Network
DestinationKey = tuple[str, str, int | None]

PROTOCOLS = frozenset({"tcp", "udp"})
"""What an allow rule can open. ICMP stays denied: NetworkPolicy cannot express it."""

BASELINE_SCHEMA = "airgap/egress-baseline/v1"
EGRESS_PATH = "egress:"
"""Pseudo-path of run findings (no file): SARIF and Code Quality still get a stable location."""

UNENFORCED_ANNOTATION = "airgap.dev/unenforced-hosts"
GENERATED_ANNOTATION = "airgap.dev/generated-by"

_LABEL = re.compile(r"^[a-z0-9_*](?:[a-z0-9_*-]*[a-z0-9_*])?$")
_PROTO_PREFIX = re.compile(r"^(tcp|udp|any)[:/](?=.)", re.IGNORECASE)


# --- allow rules ---------------------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class AllowRule:
    """One allowlist entry: a host glob or a CIDR, an optional port, the protocols it opens."""

    text: str
    """The entry as written, for messages and the unenforced-hosts annotation."""
    protocols: frozenset[str]
    host: str | None = None
    """Lower-case host glob (``*`` = one DNS label, ``**.`` = any depth), when not a CIDR."""
    network: Network | None = None
    port: int | None = None
    """``None`` = every port."""

    @property
    def is_host(self) -> bool:
        """True for host-name rules (only Cilium can enforce them)."""
        return self.host is not None

    def matches_name(self, name: str) -> bool:
        """Whether a DNS name falls under this rule's host glob (ports aside)."""
        if self.host is None:
            return False
        return _host_regex(self.host).fullmatch(name.strip().rstrip(".").lower()) is not None

    def matches_address(self, address: str) -> bool:
        """Whether an IP address lies in this rule's CIDR."""
        if self.network is None:
            return False
        try:
            ip = ipaddress.ip_address(address.strip().strip("[]"))
        except ValueError:
            return False
        return ip.version == self.network.version and ip in self.network

    def canonical(self) -> str:
        """The normalised spelling (``udp:10.0.0.0/8:53``), stable for docs and annotations."""
        target = self.host or ""
        if self.network is not None:
            net = self.network
            single = net.prefixlen == net.max_prefixlen
            target = str(net.network_address) if single else str(net)
            target = f"[{target}]" if net.version == 6 else target
        prefix = "" if self.protocols == PROTOCOLS else f"{next(iter(self.protocols))}:"
        suffix = f":{self.port}" if self.port is not None else ""
        return f"{prefix}{target}{suffix}"


def parse_allow(text: str) -> AllowRule:
    """Parse ``[tcp:|udp:]host-glob-or-CIDR[:port]``; bad syntax is a :class:`UsageError`."""
    raw = text.strip()
    if not raw:
        raise UsageError("empty allow rule", hint="write host[:port] or CIDR[:port]")
    protocols = PROTOCOLS
    rest = raw
    prefix = _PROTO_PREFIX.match(raw)
    if prefix and "://" not in raw:
        word = prefix.group(1).lower()
        protocols = PROTOCOLS if word == "any" else frozenset({word})
        rest = raw[prefix.end() :]
    if "://" in rest:
        raise UsageError(
            f"allow rule {raw!r} is a URL", hint="write host[:port], e.g. mirror.corp.example:443"
        )
    target, port = _split_port(rest, raw)
    network = _network(target, raw)
    if network is not None:
        if network.prefixlen == 0:
            raise UsageError(
                f"allow rule {raw!r} opens every address",
                hint="an air gap allows named ranges only; list the CIDRs you need",
            )
        return AllowRule(raw, protocols, network=network, port=port)
    if target.startswith("[") or ":" in target:
        raise UsageError(f"allow rule {raw!r}: {target!r} is not an IP address or CIDR")
    return AllowRule(raw, protocols, host=_host_glob(target, raw), port=port)


def _split_port(rest: str, raw: str) -> tuple[str, int | None]:
    """``target`` and port from ``target[:port]`` (IPv6 needs brackets to carry a port)."""
    if rest.startswith("["):
        end = rest.find("]")
        if end < 0:
            raise UsageError(f"allow rule {raw!r}: missing ']'")
        target, after = rest[1:end], rest[end + 1 :]
        if after and not after.startswith(":"):
            raise UsageError(f"allow rule {raw!r}: unexpected {after!r} after ']'")
        return target, _port(after[1:], raw) if after else None
    if rest.count(":") > 1:
        return rest, None  # a bare IPv6 address or CIDR: no port without brackets
    target, colon, port_text = rest.partition(":")
    return target, _port(port_text, raw) if colon else None


def _port(text: str, raw: str) -> int | None:
    if text == "*":
        return None
    if not text.isdigit() or not 1 <= int(text) <= 65535:
        raise UsageError(f"allow rule {raw!r}: port {text!r} is not a number from 1 to 65535")
    return int(text)


def _network(target: str, raw: str) -> Network | None:
    try:
        return ipaddress.ip_network(target, strict=False)
    except ValueError:
        if "/" in target:
            raise UsageError(f"allow rule {raw!r}: {target!r} is not a valid CIDR") from None
        return None


def _host_glob(target: str, raw: str) -> str:
    host = target.rstrip(".").lower()
    if not host:
        raise UsageError(f"allow rule {raw!r} names no host")
    labels = host.split(".")
    if host == "*" or host == "**" or labels[-1] in ("*", "**"):
        raise UsageError(
            f"allow rule {raw!r} matches every domain",
            hint="anchor the glob on a domain, e.g. *.internal.example",
        )
    if labels[-1].isdigit():
        raise UsageError(f"allow rule {raw!r}: {target!r} is neither a host name nor an IP address")
    for i, label in enumerate(labels):
        if label == "**" and i == 0:
            continue
        if "**" in label:
            raise UsageError(f"allow rule {raw!r}: '**' is only allowed as the first label")
        if not label or not _LABEL.match(label):
            raise UsageError(
                f"allow rule {raw!r}: {label!r} is not a valid DNS label or glob",
                hint="use letters, digits, '-', '_' and '*'",
            )
    return host


_HOST_REGEX_CACHE: dict[str, re.Pattern[str]] = {}


def _host_regex(glob: str) -> re.Pattern[str]:
    """Cilium's matchPattern semantics: ``*`` stays inside one label; ``**.`` spans labels."""
    pattern = _HOST_REGEX_CACHE.get(glob)
    if pattern is None:
        body = glob
        lead = ""
        if body.startswith("**."):
            lead, body = r"(?:[-a-z0-9_]+\.)+", body[3:]
        regex = lead + re.escape(body).replace(r"\*", "[-a-z0-9_]*")
        pattern = _HOST_REGEX_CACHE[glob] = re.compile(regex)
    return pattern


@dataclass(frozen=True)
class Allowlist:
    """The allowed destinations. Empty allows nothing (default deny)."""

    rules: tuple[AllowRule, ...] = ()

    def __init__(self, rules: Iterable[AllowRule] = ()) -> None:
        object.__setattr__(self, "rules", tuple(dict.fromkeys(rules)))

    @cached_property
    def host_rules(self) -> tuple[AllowRule, ...]:
        """Rules on host names."""
        return tuple(r for r in self.rules if r.host is not None)

    @cached_property
    def cidr_rules(self) -> tuple[AllowRule, ...]:
        """Rules on address ranges."""
        return tuple(r for r in self.rules if r.network is not None)

    def allows(
        self, protocol: str, name: str | None, address: str | None, port: int | None
    ) -> bool:
        """Whether an attempt may pass: a name matches host globs, an address matches CIDRs.

        A DNS lookup (``protocol == "dns"``) is allowed when the name is under any host rule, so
        resolving an allowed mirror never counts as a denied destination.
        """
        protocol = protocol.lower()
        if protocol == "dns":
            return name is not None and any(r.matches_name(name) for r in self.host_rules)
        if protocol not in PROTOCOLS:
            return False
        addresses = [a for a in (address, name) if a and _is_ip(a)]
        for rule in self.rules:
            if protocol not in rule.protocols or (rule.port is not None and rule.port != port):
                continue
            if rule.host is not None and name and not _is_ip(name) and rule.matches_name(name):
                return True
            if rule.network is not None and any(rule.matches_address(a) for a in addresses):
                return True
        return False

    def allows_key(self, key: DestinationKey, address: str | None = None) -> bool:
        """:meth:`allows` for a destination key (name-or-ip in the middle)."""
        protocol, destination, port = key
        return self.allows(protocol, destination, address, port)


def _is_ip(value: str) -> bool:
    try:
        ipaddress.ip_address(value.strip("[]"))
    except ValueError:
        return False
    return True


def allowlist_from_config(raw: list[str], *, path: str | Path | None = None) -> Allowlist:
    """The ``egress.allow`` list of ``airgap.yaml``; a bad entry is a :class:`ConfigError`."""
    rules = []
    for i, text in enumerate(raw):
        try:
            rules.append(parse_allow(str(text)))
        except UsageError as exc:
            raise ConfigError(
                f"egress.allow[{i}]: {exc.message}", path=path, hint=exc.hint
            ) from None
    return Allowlist(rules)


# --- baseline ------------------------------------------------------------------------------------
def _key_order(key: DestinationKey) -> tuple[str, str, int]:
    return (key[0], key[1], -1 if key[2] is None else key[2])


def egress_baseline_document(keys: Iterable[DestinationKey]) -> dict[str, Any]:
    """The baseline content: every key once, sorted, so a new destination is a one-line diff."""
    unique = sorted(set(keys), key=_key_order)
    return {
        "schema": BASELINE_SCHEMA,
        "destinations": [{"protocol": p, "destination": d, "port": n} for p, d, n in unique],
    }


def write_egress_baseline(keys: Iterable[DestinationKey], path: Path | str) -> int:
    """Write the baseline; returns how many destinations it accepts."""
    document = egress_baseline_document(keys)
    Path(path).write_text(json.dumps(document, indent=2) + "\n", encoding="utf-8")
    return len(document["destinations"])


def load_egress_baseline(path: Path | str) -> set[DestinationKey]:
    """The accepted keys; anything unreadable or malformed is an :class:`InputError`."""
    display = str(path)
    try:
        text = Path(path).read_text(encoding="utf-8")
    except FileNotFoundError:
        raise InputError("egress baseline not found", path=display) from None
    except (OSError, UnicodeDecodeError) as exc:
        raise InputError(f"cannot read egress baseline: {exc}", path=display) from None
    try:
        json.loads(text)
    except json.JSONDecodeError as exc:
        raise InputError(f"invalid JSON: {exc.msg}", path=display, line=exc.lineno) from None
    data = load_documents(text, display, json_file=True)[0].data
    if not isinstance(data, LineDict) or data.get("schema") != BASELINE_SCHEMA:
        raise InputError(
            f'not an egress baseline (expected "schema": "{BASELINE_SCHEMA}")',
            path=display,
            line=getattr(data, "line", None),
            hint="create one with `airgap egress run --write-baseline FILE -- CMD`",
        )
    entries = data.get("destinations")
    if not isinstance(entries, LineList):
        raise InputError('"destinations" must be a list', path=display, line=data.line)
    keys: set[DestinationKey] = set()
    for i, entry in enumerate(entries):
        line = entries.item_lines[i] if i < len(entries.item_lines) else entries.line
        keys.add(_baseline_entry(entry, display, line))
    return keys


def _baseline_entry(entry: Any, path: str, line: int) -> DestinationKey:
    if not isinstance(entry, dict):
        raise InputError("destination must be an object", path=path, line=line)
    protocol, destination, port = entry.get("protocol"), entry.get("destination"), entry.get("port")
    if not isinstance(protocol, str) or not protocol:
        raise InputError('destination needs a "protocol" string', path=path, line=line)
    if not isinstance(destination, str) or not destination:
        raise InputError('destination needs a "destination" string', path=path, line=line)
    if port is not None and (isinstance(port, bool) or not isinstance(port, int)):
        raise InputError('"port" must be an integer or null', path=path, line=line)
    return (protocol, destination, port)


def new_destinations(
    baseline: set[DestinationKey], destinations: Iterable[Destination]
) -> list[Destination]:
    """Destinations whose key the baseline does not accept, in their original order."""
    return [d for d in destinations if d.key not in baseline]


# --- findings ------------------------------------------------------------------------------------
EGRESS_COMPLIANCE = (
    "NIST-800-53:SC-7",
    "NIST-800-53:SC-7(5)",
    "NIST-800-53:AU-2",
    "NIST-800-53:AU-12",
    "NIST-800-53:SI-4",
)

_REMEDIATION = (
    "If the destination is intended, add it to egress.allow in airgap.yaml (or --allow); "
    "otherwise remove the dependency or serve it from an internal mirror."
)

RULES: dict[str, dict[str, Any]] = {
    "egress-denied": {
        "title": "Outbound connection to a destination outside the allowlist",
        "description": (
            "The workload tried to reach a destination the allowlist does not open. In the air "
            "gap this dependency fails; find out why it is needed before cutting the link."
        ),
        "severity": Severity.HIGH.value,
        "remediation": _REMEDIATION,
        "compliance": list(EGRESS_COMPLIANCE),
    },
    "egress-direct-ip": {
        "title": "Outbound connection to a hard-coded IP address",
        "description": (
            "A connection to an address the DNS sinkhole never handed out: a hard-coded IP, "
            "DNS-over-HTTPS or DNS-over-TLS. It bypasses name-based controls and hides the name."
        ),
        "severity": Severity.HIGH.value,
        "remediation": (
            "Replace the literal address with an internal name, disable DoH/DoT in the client, "
            "or allow the CIDR explicitly if it is an internal service."
        ),
        "compliance": list(EGRESS_COMPLIANCE),
    },
    "egress-dns-only": {
        "title": "Name looked up but never connected to",
        "description": (
            "The workload resolved a name outside the allowlist without connecting (it may have "
            "given up, or the lookup itself leaks data). It becomes a connection once DNS works."
        ),
        "severity": Severity.MEDIUM.value,
        "remediation": _REMEDIATION,
        "compliance": list(EGRESS_COMPLIANCE),
    },
    "egress-unauditable": {
        "title": "Workload tried io_uring, which a system-call audit cannot see into",
        "description": (
            "Under the ptrace rung network operations submitted through io_uring bypass the "
            "connect/sendto audit, so io_uring_setup was refused (ENOSYS). The workload may fall "
            "back to plain sockets (then audited) or fail."
        ),
        "severity": Severity.MEDIUM.value,
        "remediation": (
            "Run the audit where namespaces are available (rung netns+tun sees every packet), or "
            "disable io_uring in the workload for the audit."
        ),
        "compliance": list(EGRESS_COMPLIANCE),
    },
    "egress-allowed": {
        "title": "Allowed outbound destination",
        "description": "A destination the allowlist opens, recorded for the audit trail.",
        "severity": Severity.INFO.value,
        "remediation": "None needed; remove it from the allowlist when it is no longer used.",
        "compliance": list(EGRESS_COMPLIANCE),
    },
}
"""Rule metadata for ``report.rules`` (SARIF descriptors)."""


def egress_findings(
    destinations: list[Destination], baseline: set[DestinationKey] | None = None
) -> tuple[list[Finding], list[Finding]]:
    """One finding per destination key: ``(findings, accepted)``.

    ``accepted`` holds the findings whose key the baseline already lists (the CLI records them
    as suppressed with source ``baseline``). A DNS lookup of a name the workload then connected
    to is folded into that connection's finding instead of being reported twice.
    """
    connected = {d.key[1].lower() for d in destinations if d.key[0] != "dns"}
    findings: list[Finding] = []
    accepted: list[Finding] = []
    for destination in destinations:
        protocol, name, _port = destination.key
        allowed = destination.verdicts == {ALLOWED}
        if protocol == "dns" and name.lower() in connected:
            continue
        if allowed:
            rule_id = "egress-allowed"
        elif protocol == "io_uring":
            rule_id = "egress-unauditable"
        elif "direct-ip" in destination.kinds:
            rule_id = "egress-direct-ip"
        elif protocol == "dns":
            rule_id = "egress-dns-only"
        else:
            rule_id = "egress-denied"
        finding = _finding(rule_id, destination)
        if baseline is not None and destination.key in baseline:
            accepted.append(finding)
        else:
            findings.append(finding)
    return findings, accepted


def _finding(rule_id: str, destination: Destination) -> Finding:
    meta = RULES[rule_id]
    label = destination_label(destination.key)
    processes = ", ".join(destination.processes) or "an unknown process"
    times = "once" if destination.count == 1 else f"{destination.count} times"
    verb = {
        "egress-allowed": "allowed",
        "egress-direct-ip": "denied (address never resolved through DNS)",
        "egress-dns-only": "looked up but never connected to",
        "egress-denied": "denied",
        "egress-unauditable": "refused (io_uring cannot be audited under ptrace)",
    }[rule_id]
    return Finding(
        rule_id=rule_id,
        severity=Severity(meta["severity"]),
        title=meta["title"],
        message=f"{label} {verb}, {times}, by {processes}",
        location=Location(EGRESS_PATH, resource=label),
        evidence=processes,
        remediation=meta["remediation"],
        compliance=EGRESS_COMPLIANCE,
    )


# --- from a run report ---------------------------------------------------------------------------
def allowlist_from_report(report_json: Mapping[str, Any]) -> Allowlist:
    """Rules for exactly the destinations a run report recorded as allowed.

    Reads, in order of preference, ``details.egress``, ``egress`` and the top level, each for
    ``destinations`` (``protocol``, ``destination``, ``port``, ``verdict``/``verdicts``) or
    ``attempts`` (:class:`Attempt` JSON); then ``egress-allowed`` findings (active or suppressed).
    DNS lookups need no rule (DNS is always allowed to the cluster resolver); ICMP cannot be
    expressed and is never allowed.
    """
    if not isinstance(report_json, Mapping):
        raise InputError("not an egress run report (expected a JSON object)")
    details = report_json.get("details")
    candidates = [
        details.get("egress") if isinstance(details, Mapping) else None,
        report_json.get("egress"),
        report_json,
    ]
    scopes = [c for c in candidates if isinstance(c, Mapping)]
    keys: list[DestinationKey] | None = None
    for scope in scopes:
        keys = _allowed_keys(scope)
        if keys is not None:
            break
    if keys is None:
        keys = _keys_from_findings(report_json)
    if keys is None:
        raise InputError(
            "not an egress run report: no destinations, attempts or egress findings",
            hint="pass the JSON written by `airgap egress run --format json`",
        )
    rules = []
    for protocol, destination, port in sorted(set(keys), key=_key_order):
        if protocol not in PROTOCOLS:
            continue
        if _is_ip(destination):
            network = ipaddress.ip_network(destination.strip("[]"))
            rules.append(
                AllowRule(
                    _rule_text(protocol, destination, port),
                    frozenset({protocol}),
                    network=network,
                    port=port,
                )
            )
        else:
            host = destination.rstrip(".").lower()
            rules.append(
                AllowRule(
                    _rule_text(protocol, host, port), frozenset({protocol}), host=host, port=port
                )
            )
    return Allowlist(rules)


def _rule_text(protocol: str, destination: str, port: int | None) -> str:
    target = f"[{destination}]" if ":" in destination else destination
    return f"{protocol}:{target}" + (f":{port}" if port is not None else "")


def _allowed_keys(scope: Mapping[str, Any]) -> list[DestinationKey] | None:
    for field_name in ("destinations", "attempts"):
        items = scope.get(field_name)
        if not isinstance(items, list):
            continue
        keys = []
        for item in items:
            if not isinstance(item, Mapping):
                continue
            verdicts = item.get("verdicts", [item.get("verdict", DENIED)])
            if not isinstance(verdicts, list) or set(verdicts) != {ALLOWED}:
                continue
            key = _item_key(item)
            if key is not None:
                keys.append(key)
        return keys
    return None


def _item_key(item: Mapping[str, Any]) -> DestinationKey | None:
    key = item.get("key")
    if isinstance(key, list) and len(key) == 3:
        protocol, destination, port = key
    else:
        protocol, destination, port = (
            item.get("protocol"),
            item.get("destination"),
            item.get("port"),
        )
    if not isinstance(protocol, str) or not isinstance(destination, str) or not destination:
        return None
    if port is not None and (isinstance(port, bool) or not isinstance(port, int)):
        return None
    return (protocol.lower(), destination, port)


_LABEL_PATTERN = re.compile(
    r"^(?P<proto>[a-z]+) (?:\[(?P<v6>[^\]]+)\]|(?P<host>[^:\s]+))(?::(?P<port>\d+))?$"
)


def parse_destination_label(label: str) -> DestinationKey | None:
    """Inverse of :func:`destination_label` (``tcp api.example.com:443``), ``None`` if not one."""
    match = _LABEL_PATTERN.match(label.strip())
    if match is None:
        return None
    port = match.group("port")
    return (
        match.group("proto"),
        match.group("v6") or match.group("host"),
        int(port) if port else None,
    )


def _keys_from_findings(report_json: Mapping[str, Any]) -> list[DestinationKey] | None:
    findings = report_json.get("findings")
    if not isinstance(findings, list):
        return None
    entries = list(findings)
    entries += [
        s.get("finding") for s in report_json.get("suppressed") or [] if isinstance(s, dict)
    ]
    egress = [
        f
        for f in entries
        if isinstance(f, Mapping)
        and str(f.get("rule_id", "")).startswith("egress-")
        and isinstance(f.get("location"), Mapping)
        and f["location"].get("path") == EGRESS_PATH
    ]
    if not egress:
        return None
    keys = []
    for finding in egress:
        if finding.get("rule_id") != "egress-allowed":
            continue
        key = parse_destination_label(str(finding["location"].get("resource", "")))
        if key is not None:
            keys.append(key)
    return keys


# --- policy emission -----------------------------------------------------------------------------
def _metadata(name: str, namespace: str, annotations: dict[str, str]) -> dict[str, Any]:
    return {
        "name": name,
        "namespace": namespace,
        "labels": {"app.kubernetes.io/managed-by": "airgap"},
        "annotations": {GENERATED_ANNOTATION: "airgap egress policy", **annotations},
    }


def _k8s_ports(rule: AllowRule) -> list[dict[str, Any]]:
    ports = []
    for protocol in sorted(rule.protocols):
        entry: dict[str, Any] = {"protocol": protocol.upper()}
        if rule.port is not None:
            entry["port"] = rule.port
        ports.append(entry)
    return ports


def network_policy(
    allowlist: Allowlist, *, name: str, namespace: str, pod_selector: Mapping[str, str]
) -> dict[str, Any]:
    """A ``networking.k8s.io/v1`` NetworkPolicy: default-deny egress plus the allowlist's CIDRs.

    ``pod_selector`` is a label map (empty selects every pod of the namespace). A plain
    NetworkPolicy cannot match host names, so host rules are listed, unenforced, in the
    ``airgap.dev/unenforced-hosts`` annotation; use the Cilium policy to enforce them.
    """
    egress: list[dict[str, Any]] = [
        {
            "to": [
                {
                    "namespaceSelector": {
                        "matchLabels": {"kubernetes.io/metadata.name": "kube-system"}
                    },
                    "podSelector": {"matchLabels": {"k8s-app": "kube-dns"}},
                }
            ],
            "ports": [{"protocol": "UDP", "port": 53}, {"protocol": "TCP", "port": 53}],
        }
    ]
    for rule in allowlist.cidr_rules:
        assert rule.network is not None
        egress.append({"to": [{"ipBlock": {"cidr": str(rule.network)}}], "ports": _k8s_ports(rule)})
    hosts = [r.canonical() for r in allowlist.host_rules]
    annotations = {UNENFORCED_ANNOTATION: ", ".join(hosts)} if hosts else {}
    return {
        "apiVersion": "networking.k8s.io/v1",
        "kind": "NetworkPolicy",
        "metadata": _metadata(name, namespace, annotations),
        "spec": {
            "podSelector": {"matchLabels": dict(pod_selector)} if pod_selector else {},
            "policyTypes": ["Egress"],
            "egress": egress,
        },
    }


def _cilium_ports(rule: AllowRule) -> list[dict[str, Any]]:
    # Cilium's CRD types the port as a string; "0" is its "any port".
    port = str(rule.port) if rule.port is not None else "0"
    return [{"ports": [{"port": port, "protocol": p.upper()} for p in sorted(rule.protocols)]}]


def cilium_network_policy(
    allowlist: Allowlist, *, name: str, namespace: str, pod_selector: Mapping[str, str]
) -> dict[str, Any]:
    """A ``cilium.io/v2`` CiliumNetworkPolicy enforcing host rules too (``toFQDNs``).

    FQDN rules only work when DNS goes through Cilium's proxy, hence the kube-dns rule with
    ``rules.dns`` ``matchPattern: "*"``.
    """
    egress: list[dict[str, Any]] = [
        {
            "toEndpoints": [
                {
                    "matchLabels": {
                        "k8s:io.kubernetes.pod.namespace": "kube-system",
                        "k8s:k8s-app": "kube-dns",
                    }
                }
            ],
            "toPorts": [
                {
                    "ports": [
                        {"port": "53", "protocol": "UDP"},
                        {"port": "53", "protocol": "TCP"},
                    ],
                    "rules": {"dns": [{"matchPattern": "*"}]},
                }
            ],
        }
    ]
    for rule in allowlist.host_rules:
        assert rule.host is not None
        selector = {"matchPattern" if "*" in rule.host else "matchName": rule.host}
        egress.append({"toFQDNs": [selector], "toPorts": _cilium_ports(rule)})
    egress.extend(
        {"toCIDRSet": [{"cidr": str(rule.network)}], "toPorts": _cilium_ports(rule)}
        for rule in allowlist.cidr_rules
    )
    return {
        "apiVersion": "cilium.io/v2",
        "kind": "CiliumNetworkPolicy",
        "metadata": _metadata(name, namespace, {}),
        "spec": {
            "endpointSelector": {"matchLabels": dict(pod_selector)} if pod_selector else {},
            "egress": egress,
        },
    }


def policies_yaml(
    allowlist: Allowlist,
    *,
    name: str,
    namespace: str,
    pod_selector: Mapping[str, str],
) -> str:
    """Both policies as one multi-document YAML stream, with a header saying what is enforced."""
    documents = [
        network_policy(allowlist, name=name, namespace=namespace, pod_selector=pod_selector),
        cilium_network_policy(allowlist, name=name, namespace=namespace, pod_selector=pod_selector),
    ]
    header = [
        "# Generated by `airgap egress policy`: default-deny egress plus the allowlist.",
        "# Apply the NetworkPolicy on any CNI, or the CiliumNetworkPolicy on Cilium.",
    ]
    hosts = [r.canonical() for r in allowlist.host_rules]
    if hosts:
        header.append(
            "# The NetworkPolicy cannot match host names; these are enforced by the "
            "CiliumNetworkPolicy only: " + ", ".join(hosts)
        )
    body = yaml.safe_dump_all(documents, sort_keys=False, default_flow_style=False)
    return "\n".join(header) + "\n---\n" + body


def policy_rule_lines(rules: Iterable[AllowRule], table: int, priority: int) -> list[str]:
    """``ip -batch`` ``rule add`` lines sending exactly the allowed (range, protocol, port) to
    ``table``: the kernel then enforces the port and protocol of each rule, not only the range.

    ICMP is never allowed, so every rule names its protocol; a rule without a port opens all.
    """
    lines = []
    for rule in rules:
        if rule.network is None:
            continue
        for protocol in sorted(rule.protocols):
            port = f" dport {rule.port}" if rule.port is not None else ""
            lines.append(
                f"rule add to {rule.network} ipproto {protocol}{port} "
                f"lookup {table} priority {priority}"
            )
    return lines
