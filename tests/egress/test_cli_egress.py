"""`airgap egress …` as CI uses it: exit codes, baselines, reports, policies, doctor."""

from __future__ import annotations

import json
import os
import shutil
import sys
from collections.abc import Callable
from pathlib import Path

import pytest
import yaml

root_only = pytest.mark.skipif(os.geteuid() != 0, reason="needs root for namespaces")
Cli = Callable[..., object]
LOOKUP = "import socket\ntry: socket.create_connection(('api.vendor.example', 443), timeout=3)\nexcept OSError: pass"


@root_only
@pytest.mark.root
def test_run_fails_on_a_new_destination_then_passes_with_its_baseline(
    cli: Cli, tmp_path: Path
) -> None:
    report = tmp_path / "egress.json"
    baseline = tmp_path / "egress-baseline.json"
    first = cli(
        "egress", "run", "-f", "json", "-o", str(report), "--", sys.executable, "-c", LOOKUP
    )
    assert first.exit_code == 1  # type: ignore[attr-defined]
    data = json.loads(report.read_text())
    assert data["details"]["egress"]["rung"] == "netns+tun"
    assert {f["rule_id"] for f in data["findings"]} == {"egress-denied"}
    assert cli("egress", "diff", str(tmp_path / "none.json"), str(report)).exit_code == 2  # type: ignore[attr-defined]
    made = cli(
        "egress", "run", "--write-baseline", str(baseline), "--", sys.executable, "-c", LOOKUP
    )
    assert made.exit_code == 1  # type: ignore[attr-defined]
    again = cli("egress", "run", "--baseline", str(baseline), "--", sys.executable, "-c", LOOKUP)
    assert again.exit_code == 0  # type: ignore[attr-defined]
    assert cli("egress", "diff", str(baseline), str(report)).exit_code == 0  # type: ignore[attr-defined]


@root_only
@pytest.mark.root
def test_workload_status_is_returned_when_nothing_is_found(cli: Cli) -> None:
    assert cli("egress", "run", "--", "sh", "-c", "exit 5").exit_code == 5  # type: ignore[attr-defined]
    assert cli("egress", "run", "--", "true").exit_code == 0  # type: ignore[attr-defined]


def test_bad_allow_entry_is_a_usage_error(cli: Cli) -> None:
    result = cli("egress", "run", "--allow", "https://x/", "--", "true")
    assert result.exit_code == 2  # type: ignore[attr-defined]
    assert "error:" in result.stderr  # type: ignore[attr-defined]


def test_policy_from_config_emits_both_policies(cli: Cli, tmp_path: Path) -> None:
    config = tmp_path / "airgap.yaml"
    config.write_text("egress:\n  allow: ['*.corp.example:443', '10.20.0.0/16:5432']\n")
    result = cli("egress", "policy", str(config), "-n", "ai", "--selector", "app=llm")
    assert result.exit_code == 0  # type: ignore[attr-defined]
    docs = list(yaml.safe_load_all(result.stdout))  # type: ignore[attr-defined]
    kinds = {d["kind"] for d in docs}
    assert kinds == {"NetworkPolicy", "CiliumNetworkPolicy"}
    netpol = next(d for d in docs if d["kind"] == "NetworkPolicy")
    assert netpol["metadata"]["namespace"] == "ai"
    assert netpol["spec"]["podSelector"] == {"matchLabels": {"app": "llm"}}
    cidrs = [
        b["ipBlock"]["cidr"]
        for r in netpol["spec"]["egress"]
        for b in r.get("to", [])
        if "ipBlock" in b
    ]
    assert cidrs == ["10.20.0.0/16"]
    cilium = next(d for d in docs if d["kind"] == "CiliumNetworkPolicy")
    fqdns = [f for r in cilium["spec"]["egress"] for f in r.get("toFQDNs", [])]
    assert {"matchPattern": "*.corp.example"} in fqdns


def test_scan_finds_telemetry_and_proxies(cli: Cli, tmp_path: Path) -> None:
    (tmp_path / ".env").write_text(
        "HF_HUB_OFFLINE=0\nHTTPS_PROXY=http://proxy.vendor-cloud.com:3128\n"
    )
    result = cli("egress", "scan", str(tmp_path), "-f", "json")
    assert result.exit_code == 1  # type: ignore[attr-defined]
    rules = {f["rule_id"] for f in json.loads(result.stdout)["findings"]}  # type: ignore[attr-defined]
    assert {"egress-telemetry-on", "egress-proxy-external"} <= rules


def test_doctor_reports_the_machine(cli: Cli) -> None:
    result = cli("egress", "doctor", "--no-color")
    assert "namespaces" in result.stdout and "tun" in result.stdout  # type: ignore[attr-defined]
    assert result.exit_code == (0 if os.geteuid() == 0 else 1)  # type: ignore[attr-defined]


def test_without_isolation_run_refuses_instead_of_running_unaudited(
    cli: Cli, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    marker = tmp_path / "ran"
    monkeypatch.setattr(os, "geteuid", lambda: 1000)
    result = cli("egress", "run", "--require", "isolated", "--", "touch", str(marker))
    assert result.exit_code == 2  # type: ignore[attr-defined]
    assert "egress doctor" in result.stderr  # type: ignore[attr-defined]
    assert not marker.exists()


HOOKED = """
import socket, threading
try: socket.getaddrinfo('api.vendor.example', 443)
except socket.gaierror: print('nxdomain')
try: socket.create_connection(('203.0.113.9', 443), timeout=2)
except ConnectionRefusedError: print('refused')
srv = socket.create_server(('127.0.0.1', 0)); port = srv.getsockname()[1]
threading.Thread(target=lambda: srv.accept()[0].sendall(b'ok'), daemon=True).start()
print(socket.create_connection(('127.0.0.1', port), timeout=2).recv(2).decode())
"""


@pytest.mark.skipif(shutil.which("unshare") is None, reason="unshare missing")
def test_fallback_rung_audits_python_and_says_what_it_guarantees(
    cli: Cli, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    # The workload runs in an empty network namespace: even a missed hook could not leak.
    report = tmp_path / "r.json"
    monkeypatch.setattr(os, "geteuid", lambda: 1000)  # the sandbox is "impossible" here
    monkeypatch.setattr(os, "access", lambda *a, **k: False)
    monkeypatch.setattr("airgap_cli.egress.tracer.MACHINE", "riscv64")  # and no ptrace rung
    result = cli(
        "egress",
        "run",
        "-f",
        "json",
        "-o",
        str(report),
        "--",
        "unshare",
        "-n",
        sys.executable,
        "-c",
        HOOKED,
    )
    assert "falling back to rung python-audit-hooks" in result.stderr  # type: ignore[attr-defined]
    assert result.exit_code == 1  # type: ignore[attr-defined]
    egress = json.loads(report.read_text())["details"]["egress"]
    assert egress["rung"] == "python-audit-hooks" and "Advisory only" in egress["guarantee"]
    keys = {(a["protocol"], a["destination"], a["port"]) for a in egress["attempts"]}
    assert keys == {("dns", "api.vendor.example", None), ("tcp", "203.0.113.9", 443)}
    assert all(a["process"]["pid"] > 0 for a in egress["attempts"])


def test_doctor_says_whether_unprivileged_allowed_ranges_can_flow(
    cli: Cli, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setattr(os, "geteuid", lambda: 1000)
    monkeypatch.setenv("PATH", str(tmp_path))  # no slirp4netns (nor anything else) on PATH
    result = cli("egress", "doctor", "--no-color")
    assert "slirp4netns is missing" in result.stdout  # type: ignore[attr-defined]
    assert "apt-get install slirp4netns" in result.stdout  # type: ignore[attr-defined]
