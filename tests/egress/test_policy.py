"""Allowlist syntax and matching, the destination baseline, findings and emitted policies."""

from __future__ import annotations

import ipaddress
import json
from pathlib import Path
from typing import Any

import pytest
import yaml

from airgap_cli.core.errors import ConfigError, InputError, UsageError
from airgap_cli.core.findings import Severity
from airgap_cli.egress.events import Attempt, Destination, Process, summarise
from airgap_cli.egress.policy import (
    BASELINE_SCHEMA,
    UNENFORCED_ANNOTATION,
    Allowlist,
    allowlist_from_config,
    allowlist_from_report,
    cilium_network_policy,
    egress_findings,
    load_egress_baseline,
    network_policy,
    new_destinations,
    parse_allow,
    parse_destination_label,
    policies_yaml,
    write_egress_baseline,
)

# --- parsing -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "protocols", "host", "network", "port"),
    [
        ("*.internal.example:443", {"tcp", "udp"}, "*.internal.example", None, 443),
        ("mirror.corp:80", {"tcp", "udp"}, "mirror.corp", None, 80),
        ("PyPI.Corp.Example", {"tcp", "udp"}, "pypi.corp.example", None, None),
        ("10.0.0.0/8", {"tcp", "udp"}, None, "10.0.0.0/8", None),
        ("10.1.2.0/24:5432", {"tcp", "udp"}, None, "10.1.2.0/24", 5432),
        ("[fd00::/8]:443", {"tcp", "udp"}, None, "fd00::/8", 443),
        ("fd00::1", {"tcp", "udp"}, None, "fd00::1/128", None),
        ("udp:10.0.0.53:53", {"udp"}, None, "10.0.0.53/32", 53),
        ("tcp:git.corp.example:22", {"tcp"}, "git.corp.example", None, 22),
        ("**.corp.example:*", {"tcp", "udp"}, "**.corp.example", None, None),
    ],
)
def test_parse_allow_forms(
    text: str, protocols: set[str], host: str | None, network: str | None, port: int | None
) -> None:
    rule = parse_allow(text)
    assert rule.protocols == frozenset(protocols)
    assert rule.host == host
    assert (str(rule.network) if rule.network else None) == network
    assert rule.port == port


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("", "empty allow rule"),
        ("https://mirror.corp.example", "allow rule 'https://mirror.corp.example' is a URL"),
        ("*", "allow rule '*' matches every domain"),
        ("0.0.0.0/0", "allow rule '0.0.0.0/0' opens every address"),
        ("::/0", "allow rule '::/0' opens every address"),
        ("mirror.corp:0", "allow rule 'mirror.corp:0': port '0' is not a number from 1 to 65535"),
        ("mirror.corp:http", "allow rule 'mirror.corp:http': port 'http' is not a number"),
        ("10.0.0.0/33", "allow rule '10.0.0.0/33': '10.0.0.0/33' is not a valid CIDR"),
        ("[fd00::1:443", "allow rule '[fd00::1:443': missing ']'"),
        ("a..b", "allow rule 'a..b': '' is not a valid DNS label or glob"),
        ("bad host.example", "allow rule 'bad host.example': 'bad host' is not a valid DNS label"),
        ("a.**.example", "allow rule 'a.**.example': '**' is only allowed as the first label"),
        ("10", "allow rule '10': '10' is neither a host name nor an IP address"),
    ],
)
def test_parse_allow_rejects_bad_syntax(text: str, message: str) -> None:
    with pytest.raises(UsageError) as caught:
        parse_allow(text)
    assert caught.value.message.startswith(message)


def test_canonical_spelling_round_trips() -> None:
    for text in ("udp:10.0.0.53:53", "[fd00::/8]:443", "*.internal.example:443", "10.0.0.0/8"):
        rule = parse_allow(text)
        assert rule.canonical() == text
        assert parse_allow(rule.canonical()) == parse_allow(text)


def test_config_errors_name_the_entry(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as caught:
        allowlist_from_config(["mirror.corp", "https://x.example"], path=tmp_path / "airgap.yaml")
    assert caught.value.message == "egress.allow[1]: allow rule 'https://x.example' is a URL"
    assert caught.value.path == str(tmp_path / "airgap.yaml")


# --- matching ------------------------------------------------------------------------------------


@pytest.fixture
def allowlist() -> Allowlist:
    return allowlist_from_config(
        [
            "*.internal.example:443",
            "**.mirror.example",
            "pypi.corp.example",
            "10.1.2.0/24:5432",
            "udp:10.0.0.53:53",
            "[fd00::/8]:443",
        ]
    )


@pytest.mark.parametrize(
    ("protocol", "name", "address", "port", "expected"),
    [
        ("tcp", "api.internal.example", "203.0.113.9", 443, True),
        ("tcp", "API.Internal.Example.", None, 443, True),
        ("tcp", "api.internal.example", None, 80, False),
        ("tcp", "a.b.internal.example", None, 443, False),  # `*` is one label, as in Cilium
        ("tcp", "internal.example", None, 443, False),
        ("tcp", "a.b.mirror.example", None, 8080, True),  # `**.` spans labels
        ("udp", "pypi.corp.example", None, 9999, True),
        ("icmp", "pypi.corp.example", None, None, False),
        ("tcp", "db", "10.1.2.7", 5432, True),
        ("tcp", "10.1.2.7", None, 5432, True),
        ("tcp", None, "10.1.2.7", 5433, False),
        ("tcp", None, "10.0.0.53", 53, False),
        ("udp", None, "10.0.0.53", 53, True),
        ("tcp", None, "fd00::5", 443, True),
        ("tcp", None, "[fd00::5]", 443, True),
        ("tcp", "evil.example.com", "198.51.100.1", 443, False),
        ("dns", "api.internal.example", None, 53, True),
        ("dns", "x.y.mirror.example", None, None, True),
        ("dns", "evil.example.com", None, 53, False),
        ("dns", None, None, 53, False),
    ],
)
def test_allows(
    allowlist: Allowlist,
    protocol: str,
    name: str | None,
    address: str | None,
    port: int | None,
    expected: bool,
) -> None:
    assert allowlist.allows(protocol, name, address, port) is expected


def test_empty_allowlist_denies_everything() -> None:
    empty = Allowlist()
    assert not empty.allows("tcp", "a.example", "10.0.0.1", 443)
    assert not empty.allows("dns", "a.example", None, 53)


# --- baseline ------------------------------------------------------------------------------------


def test_baseline_round_trip_is_sorted_and_diff_friendly(tmp_path: Path) -> None:
    path = tmp_path / "egress-baseline.json"
    keys = [
        ("tcp", "pkg-index.com", 443),
        ("dns", "pkg-index.com", None),
        ("tcp", "pkg-index.com", 443),
    ]
    assert write_egress_baseline(keys, path) == 2
    text = path.read_text()
    assert json.loads(text) == {
        "schema": BASELINE_SCHEMA,
        "destinations": [
            {"protocol": "dns", "destination": "pkg-index.com", "port": None},
            {"protocol": "tcp", "destination": "pkg-index.com", "port": 443},
        ],
    }
    assert text.endswith("}\n")
    assert load_egress_baseline(path) == {
        ("tcp", "pkg-index.com", 443),
        ("dns", "pkg-index.com", None),
    }


@pytest.mark.parametrize(
    ("content", "message", "line"),
    [
        ('{"schema": "airgap/egress-baseline/v1",\n "destinations": [}', "invalid JSON", 2),
        ('{"schema": "airgap/baseline/v1", "findings": []}', "not an egress baseline", 1),
        ('{"schema": "airgap/egress-baseline/v1",\n "destinations": {}}', '"destinations"', 1),
        (
            '{"schema": "airgap/egress-baseline/v1", "destinations": [\n'
            '  {"protocol": "tcp", "destination": "a.example", "port": 443},\n'
            '  {"protocol": "tcp", "destination": "b.example", "port": "443"}\n]}',
            '"port" must be an integer or null',
            3,
        ),
        (
            '{"schema": "airgap/egress-baseline/v1", "destinations": [\n  {"protocol": "tcp"}\n]}',
            'destination needs a "destination" string',
            2,
        ),
    ],
)
def test_bad_baseline_is_an_input_error_with_line(
    tmp_path: Path, content: str, message: str, line: int
) -> None:
    path = tmp_path / "baseline.json"
    path.write_text(content)
    with pytest.raises(InputError) as caught:
        load_egress_baseline(path)
    assert caught.value.message.startswith(message)
    assert caught.value.path == str(path)
    assert caught.value.line == line


def test_missing_baseline(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="egress baseline not found"):
        load_egress_baseline(tmp_path / "nope.json")


def _attempt(
    protocol: str,
    destination: str,
    port: int | None,
    *,
    kind: str | None = None,
    verdict: str = "denied",
    chain: tuple[str, ...] = ("pytest", "python"),
) -> Attempt:
    processes = tuple(Process(100 + i, (name,)) for i, name in enumerate(chain))
    return Attempt(
        time=0.1,
        protocol=protocol,
        kind=kind or protocol,
        destination=destination,
        port=port,
        verdict=verdict,
        process=processes[-1],
        chain=processes,
    )


def test_new_destinations_keeps_order() -> None:
    destinations = summarise(
        [
            _attempt("tcp", "b.example", 443),
            _attempt("tcp", "a.example", 443),
            _attempt("udp", "c.example", 123),
        ]
    )
    fresh = new_destinations({("tcp", "a.example", 443)}, destinations)
    assert [d.key for d in fresh] == [("tcp", "b.example", 443), ("udp", "c.example", 123)]


# --- findings ------------------------------------------------------------------------------------


def _destinations() -> list[Destination]:
    return summarise(
        [
            _attempt("dns", "pkg-index.com", 53),
            _attempt("tcp", "pkg-index.com", 443),
            _attempt("tcp", "pkg-index.com", 443, chain=("pytest", "pip")),
            _attempt("dns", "telemetry.vendor.io", 53),
            _attempt("tcp", "192.0.2.53", 443, kind="direct-ip", chain=("curl",)),
            _attempt("tcp", "mirror.internal.example", 443, verdict="allowed"),
        ]
    )


def test_findings_one_per_key_with_rules_and_severities() -> None:
    findings, accepted = egress_findings(_destinations(), None)
    assert accepted == []
    assert [(f.rule_id, f.severity, f.location.resource) for f in findings] == [
        ("egress-denied", Severity.HIGH, "tcp pkg-index.com:443"),
        ("egress-dns-only", Severity.MEDIUM, "dns telemetry.vendor.io:53"),
        ("egress-direct-ip", Severity.HIGH, "tcp 192.0.2.53:443"),
        ("egress-allowed", Severity.INFO, "tcp mirror.internal.example:443"),
    ]
    denied = findings[0]
    assert (
        denied.message == "tcp pkg-index.com:443 denied, 2 times, by pytest → python, pytest → pip"
    )
    assert denied.evidence == "pytest → python, pytest → pip"
    assert denied.location.path == "egress:"
    assert denied.location.pointer == ""
    assert "NIST-800-53:SC-7(5)" in denied.compliance
    assert set(denied.compliance) == {
        "NIST-800-53:SC-7",
        "NIST-800-53:SC-7(5)",
        "NIST-800-53:AU-2",
        "NIST-800-53:AU-12",
        "NIST-800-53:SI-4",
    }
    assert "add it to egress.allow" in denied.remediation
    assert findings[2].message == (
        "tcp 192.0.2.53:443 denied (address never resolved through DNS), once, by curl"
    )


def test_fingerprints_are_stable_across_runs() -> None:
    first, _ = egress_findings(_destinations(), None)
    again, _ = egress_findings(list(reversed(_destinations())), None)
    assert {f.fingerprint for f in first} == {f.fingerprint for f in again}
    assert len({f.fingerprint for f in first}) == len(first)


def test_baseline_moves_known_keys_to_accepted() -> None:
    baseline = {("tcp", "pkg-index.com", 443), ("tcp", "mirror.internal.example", 443)}
    findings, accepted = egress_findings(_destinations(), baseline)
    assert [f.location.resource for f in findings] == [
        "dns telemetry.vendor.io:53",
        "tcp 192.0.2.53:443",
    ]
    assert [f.rule_id for f in accepted] == ["egress-denied", "egress-allowed"]


def test_label_parsing_inverts_destination_label() -> None:
    assert parse_destination_label("tcp api.example.com:443") == ("tcp", "api.example.com", 443)
    assert parse_destination_label("udp [fd00::1]:53") == ("udp", "fd00::1", 53)
    assert parse_destination_label("icmp 192.0.2.1") == ("icmp", "192.0.2.1", None)
    assert parse_destination_label("not a label") is None


# --- policies ------------------------------------------------------------------------------------


def _check_k8s_ports(ports: list[dict[str, Any]]) -> None:
    for port in ports:
        assert port["protocol"] in ("TCP", "UDP")
        assert "port" not in port or (isinstance(port["port"], int) and 1 <= port["port"] <= 65535)


def test_network_policy_shape(allowlist: Allowlist) -> None:
    policy = network_policy(allowlist, name="egress", namespace="shop", pod_selector={"app": "web"})
    assert policy["apiVersion"] == "networking.k8s.io/v1"
    assert policy["kind"] == "NetworkPolicy"
    assert policy["metadata"]["name"] == "egress"
    assert policy["metadata"]["namespace"] == "shop"
    spec = policy["spec"]
    assert spec["podSelector"] == {"matchLabels": {"app": "web"}}
    assert spec["policyTypes"] == ["Egress"]
    dns, *rules = spec["egress"]
    assert dns["to"][0]["namespaceSelector"]["matchLabels"] == {
        "kubernetes.io/metadata.name": "kube-system"
    }
    assert dns["to"][0]["podSelector"]["matchLabels"] == {"k8s-app": "kube-dns"}
    assert dns["ports"] == [{"protocol": "UDP", "port": 53}, {"protocol": "TCP", "port": 53}]
    assert [(r["to"][0]["ipBlock"]["cidr"], r["ports"]) for r in rules] == [
        ("10.1.2.0/24", [{"protocol": "TCP", "port": 5432}, {"protocol": "UDP", "port": 5432}]),
        ("10.0.0.53/32", [{"protocol": "UDP", "port": 53}]),
        ("fd00::/8", [{"protocol": "TCP", "port": 443}, {"protocol": "UDP", "port": 443}]),
    ]
    for rule in spec["egress"]:
        _check_k8s_ports(rule["ports"])
        for peer in rule["to"]:
            if "ipBlock" in peer:
                ipaddress.ip_network(peer["ipBlock"]["cidr"])  # strict: a real network address
    assert policy["metadata"]["annotations"][UNENFORCED_ANNOTATION] == (
        "*.internal.example:443, **.mirror.example, pypi.corp.example"
    )


def test_network_policy_any_port_lists_protocols_not_sctp() -> None:
    policy = network_policy(
        allowlist_from_config(["10.0.0.0/8"]), name="n", namespace="ns", pod_selector={}
    )
    assert policy["spec"]["podSelector"] == {}
    assert policy["spec"]["egress"][1]["ports"] == [{"protocol": "TCP"}, {"protocol": "UDP"}]
    assert UNENFORCED_ANNOTATION not in policy["metadata"]["annotations"]


def test_cilium_policy_shape(allowlist: Allowlist) -> None:
    policy = cilium_network_policy(
        allowlist, name="egress", namespace="shop", pod_selector={"app": "web"}
    )
    assert policy["apiVersion"] == "cilium.io/v2"
    assert policy["kind"] == "CiliumNetworkPolicy"
    spec = policy["spec"]
    assert spec["endpointSelector"] == {"matchLabels": {"app": "web"}}
    dns, *rules = spec["egress"]
    assert dns["toEndpoints"][0]["matchLabels"]["k8s:io.kubernetes.pod.namespace"] == "kube-system"
    assert dns["toPorts"][0]["rules"] == {"dns": [{"matchPattern": "*"}]}
    assert {p["protocol"] for p in dns["toPorts"][0]["ports"]} == {"UDP", "TCP"}
    fqdn = [(r["toFQDNs"][0], r["toPorts"][0]["ports"]) for r in rules if "toFQDNs" in r]
    assert fqdn == [
        (
            {"matchPattern": "*.internal.example"},
            [{"port": "443", "protocol": "TCP"}, {"port": "443", "protocol": "UDP"}],
        ),
        (
            {"matchPattern": "**.mirror.example"},
            [{"port": "0", "protocol": "TCP"}, {"port": "0", "protocol": "UDP"}],
        ),
        (
            {"matchName": "pypi.corp.example"},
            [{"port": "0", "protocol": "TCP"}, {"port": "0", "protocol": "UDP"}],
        ),
    ]
    cidrs = [r["toCIDRSet"][0]["cidr"] for r in rules if "toCIDRSet" in r]
    assert cidrs == ["10.1.2.0/24", "10.0.0.53/32", "fd00::/8"]
    for rule in spec["egress"]:
        for to_ports in rule["toPorts"]:
            for port in to_ports["ports"]:
                assert isinstance(port["port"], str) and 0 <= int(port["port"]) <= 65535
                assert port["protocol"] in ("TCP", "UDP")


def test_policies_yaml_is_two_documents_with_a_header(allowlist: Allowlist) -> None:
    text = policies_yaml(allowlist, name="egress", namespace="shop", pod_selector={})
    assert text.startswith("# Generated by `airgap egress policy`")
    assert "enforced by the CiliumNetworkPolicy only: *.internal.example:443" in text
    documents = list(yaml.safe_load_all(text))
    assert [d["kind"] for d in documents] == ["NetworkPolicy", "CiliumNetworkPolicy"]
    assert documents[0] == network_policy(
        allowlist, name="egress", namespace="shop", pod_selector={}
    )


# --- policy from a run report --------------------------------------------------------------------


def test_allowlist_from_report_destinations_and_attempts() -> None:
    attempts = [
        _attempt("dns", "mirror.internal.example", 53, verdict="allowed"),
        _attempt("tcp", "mirror.internal.example", 443, verdict="allowed"),
        _attempt("udp", "10.0.0.53", 53, verdict="allowed"),
        _attempt("tcp", "fd00::7", 8443, verdict="allowed"),
        _attempt("tcp", "pkg-index.com", 443),
    ]
    report = {"details": {"egress": {"attempts": [a.to_dict() for a in attempts]}}}
    allowlist = allowlist_from_report(report)
    assert allowlist == allowlist_from_report({"egress": report["details"]["egress"]})
    assert [r.canonical() for r in allowlist.rules] == [
        "tcp:[fd00::7]:8443",
        "tcp:mirror.internal.example:443",
        "udp:10.0.0.53:53",
    ]
    assert not allowlist.allows("tcp", "pkg-index.com", None, 443)
    assert allowlist.allows("tcp", "mirror.internal.example", None, 443)
    assert not allowlist.allows("udp", "mirror.internal.example", None, 443)
    destinations = {
        "destinations": [
            {"protocol": "tcp", "destination": "a.corp.example", "port": 443, "verdict": "allowed"},
            {"key": ["tcp", "b.corp.example", 80], "verdicts": ["allowed", "denied"]},
        ]
    }
    assert [r.canonical() for r in allowlist_from_report(destinations).rules] == [
        "tcp:a.corp.example:443"
    ]


def test_allowlist_from_report_findings_fallback() -> None:
    findings, accepted = egress_findings(_destinations(), {("tcp", "mirror.internal.example", 443)})
    report = {
        "findings": [f.to_dict() for f in findings],
        "suppressed": [
            {"finding": f.to_dict(), "reason": "baseline", "source": "baseline"} for f in accepted
        ],
    }
    allowlist = allowlist_from_report(json.loads(json.dumps(report)))
    assert [r.canonical() for r in allowlist.rules] == ["tcp:mirror.internal.example:443"]


def test_allowlist_from_other_report_is_an_error() -> None:
    with pytest.raises(InputError, match="not an egress run report"):
        allowlist_from_report({"command": "lint", "findings": []})
