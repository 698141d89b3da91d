"""Real workloads in the real sandbox: what they tried, and who tried it.

Root only (network, mount and PID namespaces + TUN). Every packet of these workloads goes into
the TUN device of a namespace the test run creates; nothing leaves the machine.
"""

from __future__ import annotations

import fcntl
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pytest

from airgap_cli.egress.auditor import AuditOptions
from airgap_cli.egress.events import Attempt
from airgap_cli.egress.run import EgressRun, run_workload

pytestmark = [
    pytest.mark.root,
    pytest.mark.skipif(os.geteuid() != 0, reason="needs root for namespaces"),
]
PY = sys.executable


def attempts_of(run: EgressRun, protocol: str) -> list[Attempt]:
    return [a for a in run.attempts if a.protocol == protocol]


@pytest.mark.skipif(shutil.which("curl") is None, reason="curl missing")
def test_curl_dns_and_tcp_both_families_attributed_to_curl() -> None:
    run = run_workload(["curl", "-sS", "--max-time", "5", "https://api.example.com/v1/models"])
    assert run.exit_status != 0
    names = {(a.destination, a.qtype) for a in attempts_of(run, "dns")}
    assert ("api.example.com", "A") in names and ("api.example.com", "AAAA") in names
    tcp = attempts_of(run, "tcp")
    assert {(a.destination, a.port) for a in tcp} == {("api.example.com", 443)}
    assert {a.address.count(":") > 0 for a in tcp} == {True, False}, "IPv4 and IPv6 both tried"
    assert all(a.process and a.process.name == "curl" for a in tcp)
    assert all(a.kind == "tcp" and a.verdict == "denied" for a in tcp)


def test_python_urllib_sni_captured_with_handshake() -> None:
    code = (
        "import urllib.request as u; u.urlopen('https://telemetry.vendor.example/ping', timeout=5)"
    )
    run = run_workload([PY, "-c", code], AuditOptions(capture=True))
    tcp = attempts_of(run, "tcp")
    assert tcp and tcp[0].sni == "telemetry.vendor.example"
    assert tcp[0].process is not None and "urllib" in " ".join(tcp[0].process.cmdline)
    assert run.exit_status == 1


def test_http_host_and_path_captured() -> None:
    code = (
        "import http.client as h; c = h.HTTPConnection('mirror.vendor.example', 8080, timeout=5)\n"
        "try:\n c.request('GET', '/simple/requests/'); c.getresponse()\nexcept OSError: pass"
    )
    run = run_workload([PY, "-c", code], AuditOptions(capture=True))
    tcp = attempts_of(run, "tcp")
    assert (tcp[0].http_host, tcp[0].http_path) == (
        "mirror.vendor.example:8080",
        "/simple/requests/",
    )


def test_udp_sender_and_hard_coded_ip_are_direct_ip() -> None:
    code = (
        "import socket\n"
        "s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); s.sendto(b'metric:1|c', ('192.0.2.77', 8125))\n"
        "t = socket.socket(); t.settimeout(3)\n"
        "try: t.connect(('203.0.113.9', 443))\nexcept OSError: pass\n"
        "import time; time.sleep(0.2)\n"
    )
    run = run_workload([PY, "-c", code])
    keys = {(a.protocol, a.destination, a.port, a.kind) for a in run.attempts}
    assert ("udp", "192.0.2.77", 8125, "direct-ip") in keys
    assert ("tcp", "203.0.113.9", 443, "direct-ip") in keys
    tcp = next(a for a in run.attempts if a.protocol == "tcp")
    assert tcp.process is not None and tcp.process.cmdline[0] == PY


def test_ipv6_literal() -> None:
    code = (
        "import socket; s = socket.socket(socket.AF_INET6); s.settimeout(3)\n"
        "try: s.connect(('2001:db8:1::7', 8080))\nexcept OSError as e: print(type(e).__name__)"
    )
    run = run_workload([PY, "-c", code])
    assert ("tcp", "2001:db8:1::7", 8080) in {a.key for a in run.attempts}


def test_loopback_inside_the_sandbox_is_untouched() -> None:
    code = (
        "import socket, threading\n"
        "srv = socket.create_server(('127.0.0.1', 0)); port = srv.getsockname()[1]\n"
        "threading.Thread(target=lambda: srv.accept()[0].sendall(b'ok'), daemon=True).start()\n"
        "c = socket.create_connection(('127.0.0.1', port), timeout=3); assert c.recv(2) == b'ok'\n"
    )
    run = run_workload([PY, "-c", code])
    assert run.exit_status == 0 and run.attempts == []


def test_detached_grandchild_is_attributed_with_its_chain_and_killed(tmp_path: Path) -> None:
    tag = f"airgap-test-daemon-{os.getpid()}-{time.monotonic_ns()}"
    grandchild = (
        f"# {tag}\n"
        "import os, socket, time\n"
        "if os.fork(): os._exit(0)\n"  # daemonise: re-parented to the sandbox init
        "os.setsid()\n"
        "s = socket.socket(); s.settimeout(2)\n"
        "try: s.connect(('198.51.100.5', 9999))\nexcept OSError: pass\n"
        "time.sleep(60)\n"
    )
    child = f"import subprocess, sys, time; subprocess.run([sys.executable, '-c', {grandchild!r}]); time.sleep(1)"
    started = time.monotonic()
    run = run_workload([PY, "-c", child])
    assert time.monotonic() - started < 20
    tcp = next(a for a in run.attempts if a.port == 9999)
    # Daemonised, it was re-parented to the sandbox's init: attributed to itself, still found.
    assert tcp.process is not None and "os.fork" in tcp.process.cmdline[-1]
    assert tcp.chain[-1] == tcp.process
    time.sleep(0.2)
    assert subprocess.run(["pgrep", "-f", tag], capture_output=True).stdout == b"", (
        "daemon survived"
    )


def test_workload_exit_status_is_kept() -> None:
    assert run_workload(["sh", "-c", "exit 7"]).exit_status == 7
    assert run_workload(["no-such-command-xyz"]).exit_status == 127


def test_nxdomain_mode() -> None:
    code = "import socket\ntry: socket.getaddrinfo('models.vendor.example', 443)\nexcept socket.gaierror: print('nx')"
    run = run_workload([PY, "-c", code], AuditOptions(nxdomain=True))
    assert run.exit_status == 0
    assert {a.destination for a in attempts_of(run, "dns")} == {"models.vendor.example"}
    assert attempts_of(run, "tcp") == []


@pytest.mark.skipif(shutil.which("git") is None, reason="git missing")
def test_git_attributed_to_the_remote_helper() -> None:
    run = run_workload(
        ["git", "ls-remote", "https://git.vendor.example/team/repo.git"], AuditOptions(capture=True)
    )
    tcp = attempts_of(run, "tcp")
    assert tcp and all(a.process is not None for a in tcp)
    assert tcp[0].process is not None and tcp[0].process.name == "git-remote-https"
    assert [p.name for p in tcp[0].chain][-2:] == ["git", "git-remote-https"]
    assert tcp[0].sni == "git.vendor.example"


def _host_links() -> set[str]:
    # Routed-path links of runs in parallel tests come and go: only stable links are compared.
    lines = subprocess.run(["ip", "-o", "link"], capture_output=True, text=True).stdout
    return {line.split(":")[1].strip() for line in lines.splitlines() if ": agh" not in line}


def test_no_namespace_or_device_is_left_behind() -> None:
    before = _host_links()
    run_workload(["sh", "-c", "true"])
    assert _host_links() == before
    stale = [
        p for p in Path("/tmp").glob("airgap-egress-*") if time.time() - p.stat().st_mtime > 10
    ]
    assert not stale


@pytest.mark.slow
def test_pip_download_names_every_host_it_tried(tmp_path: Path) -> None:
    run = run_workload(
        [
            PY,
            "-m",
            "pip",
            "download",
            "--no-deps",
            "--no-cache-dir",
            "-d",
            str(tmp_path),
            "requests",
        ],
        AuditOptions(capture=True),
    )
    # pip may still succeed from local wheels (find-links); what matters is what it tried.
    tcp = attempts_of(run, "tcp")
    assert tcp, "pip tried no connection"
    assert all(a.process is not None and "pip" in " ".join(a.process.cmdline) for a in tcp)
    assert {a.sni for a in tcp if a.port == 443} - {""}, "TLS server names recorded"


def test_killing_the_auditor_kills_the_workload(tmp_path: Path) -> None:
    marker = tmp_path / "pid"
    unique = f"300.{os.getpid()}{time.monotonic_ns() % 100000}"  # other runs may sleep too
    script = f"echo $$ > {marker}; exec sleep {unique}"
    proc = subprocess.Popen(
        [PY, "-m", "airgap_cli", "egress", "run", "--", "sh", "-c", script],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + 15
    while not marker.exists() and time.monotonic() < deadline:
        time.sleep(0.05)
    assert marker.exists()
    time.sleep(0.2)
    proc.kill()
    proc.wait()
    time.sleep(0.5)
    leftover = subprocess.run(
        ["pgrep", "-f", f"sleep {unique}"], capture_output=True, text=True
    ).stdout
    assert leftover.strip() == ""


def test_allowed_path_reaches_a_loopback_mirror_and_denies_the_rest(tmp_path: Path) -> None:
    import http.server
    import threading

    from airgap_cli.egress.policy import Allowlist, parse_allow

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            body = b"mirror-ok"
            self.send_response(200)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: object) -> None:
            pass

    # 127.0.0.2 is host loopback too, but not in the sandbox's no_proxy: it goes via the proxy.
    server = http.server.ThreadingHTTPServer(("127.0.0.2", 0), Handler)
    port = server.server_address[1]
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        allow = Allowlist([parse_allow(f"127.0.0.2/32:{port}")])
        code = (
            "import urllib.request as u, urllib.error as e\n"
            f"print(u.urlopen('http://127.0.0.2:{port}/simple/', timeout=5).read().decode())\n"
            "try: u.urlopen('http://evil.vendor.example/x', timeout=5)\n"
            "except e.HTTPError as err: print('denied', err.code)\n"
        )
        out = tmp_path / "out.txt"
        run = run_workload(
            ["sh", "-c", f'{PY} -c "$0" > {out}', code],
            AuditOptions(is_allowed=allow.allows, proxy=True),
        )
        assert run.exit_status == 0, out.read_text()
        assert out.read_text().split() == ["mirror-ok", "denied", "403"]
        verdicts = {(a.destination, a.port): a.verdict for a in run.attempts}
        assert verdicts[("127.0.0.2", port)] == "allowed"
        assert verdicts[("evil.vendor.example", 80)] == "denied"
        assert all(a.process is not None for a in run.attempts)
    finally:
        server.shutdown()


def test_pcap_holds_every_packet_and_answer(tmp_path: Path) -> None:
    from scapy.layers.inet import IP, TCP
    from scapy.utils import rdpcap

    from airgap_cli.egress.pcap import PcapWriter

    path = tmp_path / "evidence.pcap"
    writer = PcapWriter(path)
    code = "import socket\ns = socket.socket(); s.settimeout(3)\ntry: s.connect(('203.0.113.7', 8443))\nexcept OSError: pass"
    try:
        run = run_workload([PY, "-c", code], AuditOptions(pcap=writer))
    finally:
        writer.close()
    packets = [p for p in rdpcap(str(path)) if IP in p and TCP in p]
    syn = [p for p in packets if p[TCP].flags == "S" and p[IP].dst == "203.0.113.7"]
    rst = [p for p in packets if "R" in str(p[TCP].flags) and p[IP].src == "203.0.113.7"]
    assert syn and rst and rst[0][TCP].dport == syn[0][TCP].sport
    assert ("tcp", "203.0.113.7", 8443) in {a.key for a in run.attempts}


def _egress_run_as_nobody(tun_mode: int) -> tuple[subprocess.CompletedProcess[str], dict | None]:
    """`airgap egress run -- curl …` as `nobody` with /dev/net/tun set to ``tun_mode`` (restored)."""
    workdir = Path(tempfile.mkdtemp(prefix="airgap-unpriv-"))  # pytest's tmp is root-only
    workdir.chmod(0o777)
    report = workdir / "report.json"
    # The device mode is machine-wide: hold a lock so parallel tests (xdist workers, another
    # checkout's suite) never see each other's setting.
    lock = open("/tmp/airgap-tests-dev-net-tun.lock", "w")  # noqa: SIM115 - closed below
    fcntl.flock(lock, fcntl.LOCK_EX)
    mode = os.stat("/dev/net/tun").st_mode & 0o777
    os.chmod("/dev/net/tun", tun_mode)
    try:
        result = subprocess.run(
            [
                "setpriv",
                "--reuid=65534",
                "--regid=65534",
                "--clear-groups",
                PY,
                "-m",
                "airgap_cli",
                "egress",
                "run",
                "-q",
                "--require",
                "isolated",
                "-f",
                "json",
                "-o",
                str(report),
                "--",
                "curl",
                "-sS",
                "--max-time",
                "3",
                "https://api.vendor.example/",
            ],
            capture_output=True,
            text=True,
            cwd=workdir,
            timeout=60,
        )
        egress = json.loads(report.read_text())["details"]["egress"] if report.exists() else None
    finally:
        os.chmod("/dev/net/tun", mode)
        fcntl.flock(lock, fcntl.LOCK_UN)
        lock.close()
        shutil.rmtree(workdir, ignore_errors=True)
    return result, egress


@pytest.mark.skipif(shutil.which("setpriv") is None, reason="setpriv missing")
@pytest.mark.parametrize(
    ("tun_mode", "rung"), [(0o666, "userns+netns+tun"), (0o600, "userns+netns+veth")]
)
def test_unprivileged_user_gets_the_same_audit_through_a_user_namespace(
    tun_mode: int, rung: str
) -> None:
    """As `nobody`: with the usual 0666 TUN device, and with a root-only one (the veth link)."""
    result, egress = _egress_run_as_nobody(tun_mode)
    assert result.returncode == 1, result.stderr
    assert egress is not None and egress["rung"] == rung
    tcp = [a for a in egress["attempts"] if a["protocol"] == "tcp"]
    assert {(a["destination"], a["port"]) for a in tcp} == {("api.vendor.example", 443)}
    assert all(a["process"]["cmdline"][0] == "curl" for a in tcp)


def test_veth_link_needs_no_tun_device_and_audits_the_same() -> None:
    code = (
        "import socket, urllib.request as u\n"
        "try: u.urlopen('https://models.vendor.example/v1', timeout=3)\nexcept OSError: pass\n"
        "s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); s.sendto(b'x', ('192.0.2.7', 514))\n"
    )
    run = run_workload([PY, "-c", code], AuditOptions(capture=True, link="veth"))
    assert run.rung == "netns+veth"
    tcp = attempts_of(run, "tcp")
    assert tcp and tcp[0].sni == "models.vendor.example" and tcp[0].process is not None
    assert ("udp", "192.0.2.7", 514) in {a.key for a in run.attempts}
    assert {a.destination for a in attempts_of(run, "dns")} == {"models.vendor.example"}


def test_routed_path_lets_an_allowed_range_through_and_records_it() -> None:
    """Root: allowed CIDRs are routed over a veth pair to the host; the rest still hits the auditor."""
    import socketserver
    import threading

    class Reply(socketserver.BaseRequestHandler):
        def handle(self) -> None:
            self.request.sendall(b"mirror-ok")

    # The server listens on the host; the sandbox reaches it on the veth pair the run creates.
    server = socketserver.ThreadingTCPServer(("0.0.0.0", 0), Reply)
    port = server.server_address[1]
    threading.Thread(target=server.serve_forever, daemon=True).start()
    code = (
        "import os, socket\n"
        "gw = os.environ['AIRGAP_EGRESS_GATEWAY']\n"
        f"print(socket.create_connection((gw, {port}), timeout=5).recv(9).decode())\n"
        "try: socket.create_connection(('203.0.113.5', 443), timeout=3)\nexcept OSError: print('denied')\n"
        f"try: socket.create_connection((gw, {port} + 1), timeout=3)\nexcept OSError: print('port-denied')\n"
    )
    from airgap_cli.egress.policy import Allowlist, parse_allow

    allow = Allowlist([parse_allow(f"10.233.0.0/16:{port}")])
    out = Path(tempfile.mkdtemp()) / "out.txt"
    try:
        run = run_workload(
            ["sh", "-c", f'{PY} -c "$0" > {out}', code],
            AuditOptions(is_allowed=allow.allows, routed_cidrs=(f"10.233.0.0/16:{port}",)),
        )
    finally:
        server.shutdown()
        server.server_close()
    # The allowed range is open on the allowed port only: another port still meets the auditor.
    assert out.read_text().split() == ["mirror-ok", "denied", "port-denied"], out.read_text()
    verdicts = {(a.protocol, a.port, a.verdict) for a in run.attempts}
    assert ("tcp", port, "allowed") in verdicts
    assert ("tcp", 443, "denied") in verdicts
    assert ("tcp", port + 1, "denied") in verdicts
    allowed = next(a for a in run.attempts if a.port == port)
    # Routed traffic is not held for the auditor: attribution there is best-effort.
    assert allowed.address.startswith("10.233.") and allowed.kind == "tcp"
    shutil.rmtree(out.parent, ignore_errors=True)
