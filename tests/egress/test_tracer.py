"""Rung ``ptrace``: real workloads under the real supervisor, in a network namespace each test builds.

Nothing can leave the machine even if denial failed: every test runs in a fresh, empty network
namespace (root only). Inside it, the "public" addresses the workloads aim at (203.0.113.0/24,
192.0.2.0/24, the sinkhole's 198.18.0.0/15, 2001:db8::/32) are routed to loopback, where trap
listeners wait: a connection the supervisor failed to deny would land in a trap, and the test
would see it. A control run without the supervisor proves each trap catches what it should.
"""

from __future__ import annotations

import contextlib
import ctypes
import errno
import json
import os
import pickle
import select
import shutil
import signal
import socket
import struct
import subprocess
import sys
import tempfile
import threading
import time
import traceback
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, TypeVar

import pytest
from typer.testing import CliRunner

from airgap_cli.cli import app
from airgap_cli.egress import packets, policy, sandbox, tracer
from airgap_cli.egress.auditor import AuditOptions
from airgap_cli.egress.events import Attempt
from airgap_cli.egress.run import EgressRun
from airgap_cli.egress.tracer import run_traced

pytestmark = [
    pytest.mark.root,
    pytest.mark.skipif(os.geteuid() != 0, reason="needs root for a network namespace"),
    pytest.mark.skipif(shutil.which("ip") is None, reason="iproute2 missing"),
    pytest.mark.skipif(tracer.MACHINE not in tracer.ARCH_TABLES, reason="x86_64/aarch64 only"),
]
PY = sys.executable
T = TypeVar("T")
LOCAL_ROUTES = ("203.0.113.0/24", "192.0.2.0/24", "198.18.0.0/15", "2001:db8::/32")
"""Routed to loopback inside the test namespace: where a leak would land."""
IP_FREEBIND = 15
PR_SET_DUMPABLE = 4


# --- harness ------------------------------------------------------------------------------------
def in_netns(
    scenario: Callable[[], T], *, resolv_conf: str | None = None, docker_seccomp: bool = False
) -> T:
    """Run ``scenario`` in a forked child inside a new, empty network namespace; its result.

    ``resolv_conf`` is bind-mounted over /etc/resolv.conf (private mount namespace).
    ``docker_seccomp`` makes ``unshare`` fail with EPERM, as Docker's default profile does.
    """
    read_end, write_end = os.pipe()
    pid = os.fork()
    if pid == 0:
        os.close(read_end)
        try:
            sandbox.unshare(sandbox.CLONE_NEWNET | sandbox.CLONE_NEWNS)
            sandbox.mount("none", "/", None, sandbox.MS_REC | sandbox.MS_PRIVATE)
            _ip("link", "set", "lo", "up")
            for route in LOCAL_ROUTES:
                _ip("-6" if ":" in route else "-4", "route", "add", "local", route, "dev", "lo")
            if resolv_conf is not None:
                fd, private = tempfile.mkstemp(prefix="airgap-test-resolv-")
                os.write(fd, resolv_conf.encode())
                os.close(fd)
                sandbox.mount(private, "/etc/resolv.conf", None, sandbox.MS_BIND)
                os.unlink(private)  # the bind mount keeps the file alive
            if docker_seccomp:
                _refuse_unshare()
            outcome: tuple[str, Any] = ("ok", scenario())
        except BaseException as exc:  # report to the parent, never run pytest in the child
            outcome = ("error", f"{type(exc).__name__}: {exc}\n{traceback.format_exc()}")
        with os.fdopen(write_end, "wb") as out:
            out.write(pickle.dumps(outcome))
        os._exit(0)
    os.close(write_end)
    with os.fdopen(read_end, "rb") as inp:
        data = inp.read()
    os.waitpid(pid, 0)
    kind, value = pickle.loads(data)
    if kind != "ok":
        pytest.fail(value)
    return value  # type: ignore[no-any-return]


def _ip(*args: str) -> None:
    subprocess.run(["ip", *args], check=True, capture_output=True)


def _refuse_unshare() -> None:
    """A seccomp filter like Docker's default for a container without CAP_SYS_ADMIN: unshare(2)
    fails with EPERM (so no namespace sandbox), ptrace stays allowed."""
    arch, nr = {"x86_64": (0xC000003E, 272), "aarch64": (0xC00000B7, 97)}[tracer.MACHINE]
    ins = struct.Struct("=HBBI")
    program = b"".join(
        [
            ins.pack(0x20, 0, 0, 4),  # A = arch
            ins.pack(0x15, 0, 3, arch),  # other arch -> allow
            ins.pack(0x20, 0, 0, 0),  # A = nr
            ins.pack(0x15, 0, 1, nr),  # unshare?
            ins.pack(0x06, 0, 0, 0x00050000 | 1),  # errno EPERM
            ins.pack(0x06, 0, 0, 0x7FFF0000),  # allow
        ]
    )
    tracer.install_filter(program)


class Trap:
    """TCP and UDP listeners on addresses that exist only in the test namespace."""

    def __init__(
        self, tcp: tuple[tuple[str, int], ...] = (), udp: tuple[tuple[str, int], ...] = ()
    ) -> None:
        self.hits: list[str] = []
        self._sockets: list[socket.socket] = []
        for kind, addresses in ((socket.SOCK_STREAM, tcp), (socket.SOCK_DGRAM, udp)):
            for address in addresses:
                sock = socket.socket(_family(address[0]), kind)
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
                sock.setsockopt(socket.SOL_IP, IP_FREEBIND, 1)  # IPv6 AnyIP needs it
                sock.bind(address)
                if kind == socket.SOCK_STREAM:
                    sock.listen(16)
                self._sockets.append(sock)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._serve, daemon=True)
        self._thread.start()

    def _serve(self) -> None:
        while not self._stop.is_set():
            ready, _, _ = select.select(self._sockets, [], [], 0.05)
            for sock in ready:
                if sock.type == socket.SOCK_STREAM:
                    conn, peer = sock.accept()
                    self.hits.append(f"tcp {sock.getsockname()[:2]} from {peer[:2]}")
                    conn.close()
                else:
                    _, peer = sock.recvfrom(65536)
                    self.hits.append(f"udp {sock.getsockname()[:2]} from {peer[:2]}")

    def close(self) -> list[str]:
        """Stop listening; every connection or datagram that arrived."""
        time.sleep(0.1)
        self._stop.set()
        self._thread.join()
        for sock in self._sockets:
            sock.close()
        return self.hits


def _family(host: str) -> socket.AddressFamily:
    return socket.AF_INET6 if ":" in host else socket.AF_INET


@contextlib.contextmanager
def trapped(**kwargs: tuple[tuple[str, int], ...]) -> Iterator[Trap]:
    trap = Trap(**kwargs)
    try:
        yield trap
    finally:
        trap.close()


def keys(run: EgressRun) -> set[tuple[str, str, int | None, str, str]]:
    return {(a.protocol, a.destination, a.port, a.kind, a.verdict) for a in run.attempts}


def only(run: EgressRun, protocol: str) -> list[Attempt]:
    return [a for a in run.attempts if a.protocol == protocol]


CONNECT_PUBLIC = (
    "import socket, sys\n"
    "s = socket.socket(); s.settimeout(3)\n"
    "print(s.connect_ex(('203.0.113.9', 443)))\n"
)


# --- denial -------------------------------------------------------------------------------------
@pytest.mark.parametrize("use_seccomp", [True, False], ids=["seccomp", "every-syscall"])
def test_connect_to_public_ip_is_recorded_and_denied_and_never_delivered(
    use_seccomp: bool,
) -> None:
    def scenario() -> tuple[list[str], EgressRun, list[str], str]:
        with trapped(tcp=(("203.0.113.9", 443),)) as control:
            unaudited = subprocess.run([PY, "-c", CONNECT_PUBLIC], capture_output=True, text=True)
        control_hits = control.hits
        with trapped(tcp=(("203.0.113.9", 443),)) as trap:
            run = run_traced([PY, "-c", CONNECT_PUBLIC], use_seccomp=use_seccomp)
        return control_hits, run, trap.hits, unaudited.stdout

    control_hits, run, hits, unaudited = in_netns(scenario)
    assert control_hits and unaudited.strip() == "0", "the trap catches an unaudited connect"
    assert hits == [], "the supervisor let the connection through"
    assert keys(run) == {("tcp", "203.0.113.9", 443, "direct-ip", "denied")}
    attempt = run.attempts[0]
    assert attempt.process is not None and attempt.process.cmdline[:2] == (PY, "-c")
    assert run.rung == "ptrace" and "not a security boundary" in run.guarantee
    assert run.options["seccomp"] is use_seccomp


@pytest.mark.skipif(shutil.which("curl") is None, reason="curl missing")
def test_curl_by_name_and_by_ip_is_recorded_per_name_and_denied() -> None:
    def scenario() -> tuple[EgressRun, EgressRun, list[str]]:
        with trapped(tcp=(("0.0.0.0", 8080), ("::", 8081))) as trap:
            by_name = run_traced(
                ["curl", "-sS", "--max-time", "5", "http://api.vendor.example:8080/v1/models"]
            )
            by_ip = run_traced(["curl", "-sS", "--max-time", "5", "http://203.0.113.9:8080/"])
        return by_name, by_ip, trap.hits

    by_name, by_ip, hits = in_netns(scenario)
    assert hits == []
    assert by_name.exit_status == 7 and by_ip.exit_status == 7  # curl: could not connect
    qtypes = {a.qtype for a in only(by_name, "dns") if a.destination == "api.vendor.example"}
    assert qtypes == {"A", "AAAA"}
    # getaddrinfo() probes each candidate with a UDP connect; that sends nothing and is no egress.
    assert {(a.protocol, a.destination, a.port) for a in by_name.attempts} == {
        ("dns", "api.vendor.example", None),
        ("tcp", "api.vendor.example", 8080),
    }
    tcp = only(by_name, "tcp")
    assert {a.address.count(":") > 0 for a in tcp} == {True, False}, "IPv4 and IPv6 both tried"
    assert all(a.process and a.process.name == "curl" and a.kind == "tcp" for a in tcp)
    assert keys(by_ip) == {("tcp", "203.0.113.9", 8080, "direct-ip", "denied")}


def test_connected_udp_datagrams_are_recorded_and_dropped() -> None:
    code = (
        "import socket\n"
        "u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); u.connect(('192.0.2.77', 8125))\n"
        "print(u.send(b'deploys:1|c'))\n"
        "v = socket.socket(socket.AF_INET6, socket.SOCK_DGRAM)\n"
        "try: v.sendto(b'x', ('2001:db8::7', 514))\n"
        "except OSError as e: print(e.errno)\n"
    )

    def scenario() -> tuple[EgressRun, list[str]]:
        with trapped(udp=(("192.0.2.77", 8125), ("2001:db8::7", 514))) as trap:
            run = run_traced([PY, "-c", code])
        return run, trap.hits

    run, hits = in_netns(scenario)
    assert hits == []
    assert keys(run) == {
        ("udp", "192.0.2.77", 8125, "direct-ip", "denied"),
        ("udp", "2001:db8::7", 514, "direct-ip", "denied"),
    }


def test_sendmmsg_with_one_outside_destination_is_denied_whole(tmp_path: Path) -> None:
    # Two messages in one sendmmsg: one to loopback, one outside. Python has no sendmmsg, so the
    # mmsghdr vector is built by hand (the layout the supervisor must walk).
    code = r"""
import ctypes, socket, struct
libc = ctypes.CDLL(None, use_errno=True)
def sockaddr(host, port):
    return ctypes.create_string_buffer(struct.pack("=H", socket.AF_INET) + struct.pack(">H", port) + socket.inet_aton(host) + bytes(8), 16)
payload = ctypes.create_string_buffer(b"x", 1)
iov = (ctypes.c_size_t * 2)(ctypes.addressof(payload), 1)
names = [sockaddr("127.0.0.1", 9), sockaddr("192.0.2.99", 514)]
vector = ctypes.create_string_buffer(64 * len(names))
for i, name in enumerate(names):  # mmsghdr: msghdr (56 bytes) + msg_len, padded to 64
    struct.pack_into("=QI4xQQQQi4xI4x", vector, 64 * i, ctypes.addressof(name), 16, ctypes.addressof(iov), 1, 0, 0, 0, 0)
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
print(libc.sendmmsg(s.fileno(), vector, len(names), 0), ctypes.get_errno())
"""

    def scenario() -> tuple[EgressRun, list[str], str]:
        out = tmp_path / "out"
        with trapped(udp=(("192.0.2.99", 514),)) as trap:
            run = run_traced(["sh", "-c", '"$@" > ' + str(out), "sh", PY, "-c", code])
        return run, trap.hits, out.read_text()

    run, hits, output = in_netns(scenario)
    assert hits == [] and output.split() == ["-1", "101"]
    assert keys(run) == {("udp", "192.0.2.99", 514, "direct-ip", "denied")}


@pytest.mark.skipif(shutil.which("bash") is None, reason="bash missing")
def test_an_unprivileged_workload_is_traced_too() -> None:
    # A Docker CI job often runs as a plain user: ptrace of one's own children needs no privilege.
    def scenario() -> EgressRun:
        os.setgroups([])
        os.setgid(65534)
        os.setuid(65534)
        # Changing uid made this process non-dumpable (untraceable by a plain user); a process
        # started as that user, as in CI, is dumpable: an execve would reset it just the same.
        ctypes.CDLL(None, use_errno=True).prctl(PR_SET_DUMPABLE, 1, 0, 0, 0)
        # bash's /dev/tcp is a plain connect() (this user cannot read the test's virtualenv).
        return run_traced(["bash", "-c", "exec 3<>/dev/tcp/203.0.113.9/443"])

    run = in_netns(scenario)
    assert run.exit_status != 0
    assert keys(run) == {("tcp", "203.0.113.9", 443, "direct-ip", "denied")}
    assert run.attempts[0].process is not None and run.attempts[0].process.name == "bash"


# --- DNS ----------------------------------------------------------------------------------------
def test_dns_lookup_is_recorded_by_name_and_later_connect_attributed_to_it() -> None:
    code = (
        "import socket\n"
        "address = socket.getaddrinfo('telemetry.vendor.example', 443, socket.AF_INET)[0][4][0]\n"
        "print(address)\n"
        "s = socket.socket(); s.settimeout(3)\n"
        "print(s.connect_ex((address, 443)))\n"
        # The C library now keeps the sinkhole's address as its resolver: still attributed.
        "socket.getaddrinfo('metrics.vendor.example', 443, socket.AF_INET)\n"
    )

    def scenario() -> EgressRun:
        return run_traced([PY, "-c", code])

    run = in_netns(scenario, resolv_conf="nameserver 10.255.255.53\n")
    dns = only(run, "dns")
    assert [(a.destination, a.qtype) for a in dns] == [
        ("telemetry.vendor.example", "A"),
        ("metrics.vendor.example", "A"),
    ]
    assert dns[0].address == "10.255.255.53"
    assert all(a.process is not None and a.process.cmdline[0] == PY for a in dns)
    tcp = only(run, "tcp")
    assert [(a.destination, a.port, a.kind) for a in tcp] == [
        ("telemetry.vendor.example", 443, "tcp")
    ]
    assert tcp[0].address.startswith("198.1"), "a synthetic address from the sinkhole"


def test_hard_coded_resolver_is_answered_by_the_sinkhole_and_reported_direct_ip() -> None:
    labels = b"".join(bytes([len(label)]) + label for label in (b"update", b"vendor", b"example"))
    wire = (
        struct.pack("!6H", 0x1234, 0x0100, 1, 0, 0, 0) + labels + b"\0" + struct.pack("!HH", 1, 1)
    )
    code = (
        "import socket, sys\n"
        "s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); s.settimeout(3)\n"
        f"s.sendto({wire!r}, ('192.0.2.53', 53))\n"
        "reply = s.recv(512); print(socket.inet_ntoa(reply[-4:]))\n"
    )

    def scenario() -> tuple[EgressRun, list[str]]:
        with trapped(udp=(("192.0.2.53", 53),)) as trap:
            run = run_traced([PY, "-c", code])
        return run, trap.hits

    run, hits = in_netns(scenario, resolv_conf="nameserver 10.255.255.53\n")
    assert hits == [], "the query went to the hard-coded resolver"
    assert run.exit_status == 0, "the sinkhole answered"
    assert ("dns", "update.vendor.example", None, "dns", "denied") in keys(run)
    assert ("udp", "192.0.2.53", 53, "direct-ip", "denied") in keys(run)


def test_allowlisted_name_resolves_for_real_and_its_connection_flows() -> None:
    allowlist = policy.Allowlist([policy.parse_allow("mirror.corp.example:8080")])
    code = (
        "import socket\n"
        "c = socket.create_connection(('mirror.corp.example', 8080), timeout=3)\n"
        "print(c.getpeername()[0])\n"
        "s = socket.socket(); s.settimeout(3); print(s.connect_ex(('mirror.corp.example', 9)))\n"
    )

    def scenario() -> tuple[EgressRun, list[str], list[str]]:
        upstream = _FakeResolver(("192.0.2.53", 53), {"mirror.corp.example": "203.0.113.20"})
        with trapped(tcp=(("203.0.113.20", 8080),)) as mirror:
            run = run_traced([PY, "-c", code], AuditOptions(is_allowed=allowlist.allows))
        return run, mirror.hits, upstream.close()

    run, mirror_hits, upstream_queries = in_netns(scenario, resolv_conf="nameserver 192.0.2.53\n")
    assert run.exit_status == 0
    assert len(mirror_hits) == 1, "the allowed connection reached the mirror"
    assert "mirror.corp.example" in upstream_queries, "resolved by the supervisor, upstream"
    assert ("tcp", "mirror.corp.example", 8080, "tcp", "allowed") in keys(run)
    assert ("tcp", "mirror.corp.example", 9, "tcp", "denied") in keys(run)
    assert ("dns", "mirror.corp.example", None, "dns", "allowed") in keys(run)


class _FakeResolver:
    """An upstream DNS server inside the test namespace (the supervisor's own lookups)."""

    def __init__(self, address: tuple[str, int], names: dict[str, str]) -> None:
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.bind(address)
        self.names = names
        self.queries: list[str] = []
        self._thread = threading.Thread(target=self._serve, daemon=True)
        self._thread.start()

    def _serve(self) -> None:
        while True:
            try:
                data, peer = self.sock.recvfrom(512)
            except OSError:
                return
            query = packets.parse_dns_query(data)
            if query is None:
                continue
            self.queries.append(query.name)
            found = self.names.get(query.name)
            answer = [found] if found and query.qtype == 1 else []
            self.sock.sendto(packets.dns_answer(query, answer), peer)

    def close(self) -> list[str]:
        self.sock.close()
        return self.queries


# --- what must stay untouched --------------------------------------------------------------------
def test_loopback_servers_the_test_starts_still_work_and_are_not_recorded(
    tmp_path: Path,
) -> None:
    code = (
        "import socket, sys\n"
        "tcp_port, udp_port = int(sys.argv[1]), int(sys.argv[2])\n"
        "c = socket.create_connection(('127.0.0.1', tcp_port), timeout=3)\n"
        "c.sendall(b'ping'); assert c.recv(4) == b'PING'\n"
        "u = socket.socket(socket.AF_INET6, socket.SOCK_DGRAM); u.settimeout(3)\n"
        "u.sendto(b'hi', ('::1', udp_port)); assert u.recv(2) == b'HI'\n"
        "print('ok')\n"
    )

    def scenario() -> tuple[EgressRun, str]:
        tcp = socket.create_server(("127.0.0.1", 0))
        udp = socket.socket(socket.AF_INET6, socket.SOCK_DGRAM)
        udp.bind(("::1", 0))

        def serve() -> None:
            conn, _ = tcp.accept()
            conn.sendall(conn.recv(4).upper())
            data, peer = udp.recvfrom(16)
            udp.sendto(data.upper(), peer)

        threading.Thread(target=serve, daemon=True).start()
        out = tmp_path / "out"
        argv = [PY, "-c", code, str(tcp.getsockname()[1]), str(udp.getsockname()[1])]
        run = run_traced(["sh", "-c", '"$@" > ' + str(out), "sh", *argv])
        return run, out.read_text()

    run, output = in_netns(scenario)
    assert run.exit_status == 0 and output.strip() == "ok"
    assert run.attempts == []


# --- processes ------------------------------------------------------------------------------------
def test_daemonised_grandchild_is_traced_attributed_with_its_chain_and_killed(
    tmp_path: Path,
) -> None:
    pid_file = tmp_path / "daemon.pid"
    daemon = (
        "import os, socket, time, sys\n"
        "if os.fork(): os._exit(0)\n"  # detach: re-parented away from the workload
        "os.setsid()\n"
        f"open({str(pid_file)!r}, 'w').write(str(os.getpid()))\n"
        "s = socket.socket(); s.settimeout(2); s.connect_ex(('203.0.113.5', 9999))\n"
        "time.sleep(60)\n"
    )
    root = (
        "import subprocess, sys, time\n"
        f"subprocess.run([sys.executable, '-c', {daemon!r}])\n"
        "time.sleep(0.5)\n"
    )

    def scenario() -> tuple[EgressRun, float, bool]:
        started = time.monotonic()
        run = run_traced([PY, "-c", root])
        elapsed = time.monotonic() - started
        daemon_pid = int(pid_file.read_text())
        return run, elapsed, _alive(daemon_pid)

    run, elapsed, daemon_alive = in_netns(scenario)
    # The root ends after ~1 s; FINISH_SECONDS (10) would mean the daemon was not killed at once.
    assert elapsed < min(8, tracer.FINISH_SECONDS), "the daemon was not killed when the root ended"
    assert not daemon_alive, "the detached daemon outlived the run"
    (attempt,) = run.attempts
    assert attempt.key == ("tcp", "203.0.113.5", 9999)
    assert attempt.process is not None and attempt.process.pid == int(pid_file.read_text())
    assert len(attempt.chain) == 3, "root -> child -> daemon, whatever the re-parenting"
    assert "subprocess.run" in " ".join(attempt.chain[0].cmdline)


def _alive(pid: int) -> bool:
    """True while ``pid`` runs (a zombie waiting for its reaper is dead)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat[stat.rfind(")") + 2] != "Z"


def test_sigkill_of_the_supervisor_leaves_no_process(tmp_path: Path) -> None:
    pid_file = tmp_path / "pids"
    workload = (
        "import os, time\n"
        "pids = [os.getpid()]\n"
        "child = os.fork()\n"
        "if child == 0:\n    time.sleep(300); os._exit(0)\n"
        "pids.append(child)\n"
        "r, w = os.pipe()\n"
        "middle = os.fork()\n"
        "if middle == 0:\n"
        "    os.setsid()\n"
        "    grandchild = os.fork()\n"
        "    if grandchild:\n        os.write(w, str(grandchild).encode()); os._exit(0)\n"
        "    time.sleep(300); os._exit(0)\n"
        "os.waitpid(middle, 0)\n"
        "pids.append(int(os.read(r, 32)))\n"
        f"open({str(pid_file)!r} + '.tmp', 'w').write(' '.join(map(str, pids)))\n"
        f"os.rename({str(pid_file)!r} + '.tmp', {str(pid_file)!r})\n"
        "time.sleep(300)\n"
    )
    supervisor_code = (
        "from airgap_cli.egress.tracer import run_traced\n"
        f"run_traced([{PY!r}, '-c', {workload!r}])\n"
    )

    def scenario() -> tuple[list[int], list[int], list[int]]:
        supervisor = subprocess.Popen([PY, "-c", supervisor_code])
        deadline = time.monotonic() + 20
        while not pid_file.exists():
            assert time.monotonic() < deadline, "the workload never started"
            time.sleep(0.02)
        pids = [int(p) for p in pid_file.read_text().split()]
        before = [p for p in pids if _alive(p)]
        supervisor.send_signal(signal.SIGKILL)
        supervisor.wait()
        deadline = time.monotonic() + 5
        while any(_alive(p) for p in pids) and time.monotonic() < deadline:
            time.sleep(0.02)
        return pids, before, [p for p in pids if _alive(p)]

    pids, before, after = in_netns(scenario)
    assert len(pids) == 3 and before == pids
    assert after == [], "traced processes survived the supervisor (PTRACE_O_EXITKILL)"


# --- paths a filter must not miss ----------------------------------------------------------------
@pytest.mark.skipif(tracer.MACHINE != "x86_64", reason="i386 system calls exist on x86_64 only")
def test_i386_system_calls_from_a_64_bit_process_are_caught(tmp_path: Path) -> None:
    # `int 0x80` enters the kernel's i386 table: connect (362) and socketcall(SYS_CONNECT).
    # A filter that only knew the x86_64 numbers would let both through.
    code = r"""
import ctypes, mmap, socket, struct
page = mmap.mmap(-1, 4096, flags=mmap.MAP_PRIVATE | mmap.MAP_ANONYMOUS | 0x40, prot=7)  # MAP_32BIT
base = ctypes.addressof(ctypes.c_char.from_buffer(page))
page[256:272] = struct.pack("=H", socket.AF_INET) + struct.pack(">H", 443) + socket.inet_aton("203.0.113.50") + bytes(8)
def int80(eax, ebx, ecx, edx=0):  # push rbx; mov eax/ebx/ecx/edx, imm32; int 0x80; pop rbx; ret
    code = b"\x53\xb8" + struct.pack("<I", eax) + b"\xbb" + struct.pack("<I", ebx) + b"\xb9" + struct.pack("<I", ecx) + b"\xba" + struct.pack("<I", edx) + b"\xcd\x80\x5b\xc3"
    page[0:len(code)] = code
    return ctypes.CFUNCTYPE(ctypes.c_int)(base)()
direct = socket.socket()
print(int80(362, direct.fileno(), base + 256, 16))
multiplexed = socket.socket()
page[512:524] = struct.pack("<III", multiplexed.fileno(), base + 256, 16)
print(int80(102, 3, base + 512))
"""

    def scenario() -> tuple[EgressRun, list[str], str]:
        out = tmp_path / "out"
        with trapped(tcp=(("203.0.113.50", 443),)) as trap:
            run = run_traced(["sh", "-c", '"$@" > ' + str(out), "sh", PY, "-c", code])
        return run, trap.hits, out.read_text()

    run, hits, output = in_netns(scenario)
    assert hits == []
    assert output.split() == ["-101", "-101"], "both returned -ENETUNREACH"
    assert [(a.key, a.verdict) for a in run.attempts] == [
        (("tcp", "203.0.113.50", 443), "denied")
    ] * 2


def test_io_uring_is_refused_and_recorded() -> None:
    code = (
        "import ctypes, errno\n"
        "libc = ctypes.CDLL(None, use_errno=True)\n"
        "fd = libc.syscall(425, 8, ctypes.create_string_buffer(120))\n"
        "raise SystemExit(0 if fd == -1 and ctypes.get_errno() == errno.ENOSYS else 1)\n"
    )
    run = in_netns(lambda: run_traced([PY, "-c", code]))
    assert run.exit_status == 0, "io_uring_setup did not fail with ENOSYS"
    assert keys(run) == {("io_uring", "io_uring_setup", None, "io_uring", "denied")}
    from airgap_cli.egress.events import summarise
    from airgap_cli.egress.policy import egress_findings

    findings, _ = egress_findings(summarise(run.attempts))
    assert [f.rule_id for f in findings] == ["egress-unauditable"]


# --- the command line ------------------------------------------------------------------------------
def _cli(*args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(app, list(args), catch_exceptions=False)
    return result.exit_code, result.stdout, result.stderr


def test_cli_mode_ptrace_reports_the_rung_and_its_guarantee(tmp_path: Path) -> None:
    report = tmp_path / "run.json"

    def scenario() -> tuple[int, str]:
        code, _, stderr = _cli(
            "egress", "run", "--mode", "ptrace", "-f", "json", "-o", str(report), "--",
            PY, "-c", CONNECT_PUBLIC,
        )  # fmt: skip
        return code, stderr

    code, _ = in_netns(scenario)
    assert code == 1
    egress = json.loads(report.read_text())["details"]["egress"]
    assert egress["rung"] == "ptrace"
    assert "not a security boundary" in egress["guarantee"] and "TOCTOU" in egress["guarantee"]
    assert [(d["destination"], d["port"]) for d in egress["destinations"]] == [("203.0.113.9", 443)]


def test_cli_refuses_contradictions_before_running_anything(tmp_path: Path) -> None:
    marker = tmp_path / "ran"
    for extra in (["--require", "isolated"], ["--capture"], ["--pcap", str(tmp_path / "p")]):
        code, _, stderr = _cli(
            "egress", "run", "--mode", "ptrace", *extra, "--", "touch", str(marker)
        )
        assert code == 2 and "error" in stderr
    assert not marker.exists()


def test_auto_falls_back_to_ptrace_where_docker_forbids_namespaces(tmp_path: Path) -> None:
    report = tmp_path / "run.json"
    marker = tmp_path / "ran"

    def scenario() -> tuple[int, str, int, str, str]:
        code, _, stderr = _cli(
            "egress", "run", "-f", "json", "-o", str(report), "--", PY, "-c", CONNECT_PUBLIC
        )
        refused, _, refusal = _cli(
            "egress", "run", "--require", "isolated", "--", "touch", str(marker)
        )
        _, doctor, _ = _cli("egress", "doctor", "--no-color")
        return code, stderr, refused, refusal, doctor

    code, stderr, refused, refusal, doctor = in_netns(scenario, docker_seccomp=True)
    assert "falling back to rung ptrace" in stderr and "not a security boundary" in stderr
    assert code == 1
    egress = json.loads(report.read_text())["details"]["egress"]
    assert egress["rung"] == "ptrace"
    assert ("tcp", "203.0.113.9", 443) in {
        (a["protocol"], a["destination"], a["port"]) for a in egress["attempts"]
    }
    assert refused == 2 and "egress doctor" in refusal and not marker.exists()
    assert "ptrace      rung ptrace works" in doctor
    assert "falls back to rung ptrace" in doctor


def test_unsupported_machine_is_refused_clearly(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(tracer, "MACHINE", "riscv64")
    with pytest.raises(
        tracer.TracerError, match=r"supports x86_64 and aarch64 \(64-bit Python\), not riscv64"
    ):
        run_traced(["true"])


def test_seccomp_program_traps_only_destination_calls() -> None:
    program = tracer.seccomp_program(tracer.ARCH_TABLES[tracer.MACHINE])
    assert len(program) % 8 == 0 and len(program) // 8 < 256
    # Executed for real: in a child with the filter but no tracer, a trapped call fails with
    # ENOSYS (SECCOMP_RET_TRACE without a tracer); a send without an address is not trapped.
    pid = os.fork()
    if pid == 0:
        status = 1
        with contextlib.suppress(BaseException):
            tracer.install_filter(program)
            datagram = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
            results = [datagram.connect_ex(("127.0.0.1", 9))]
            try:
                datagram.send(b"x")
            except OSError as exc:
                results.append(exc.errno or 0)
            try:
                datagram.sendto(b"x", ("127.0.0.1", 9))
            except OSError as exc:
                results.append(exc.errno or 0)
            status = 0 if results == [errno.ENOSYS, errno.EDESTADDRREQ, errno.ENOSYS] else 2
        os._exit(status)
    _, wait_status = os.waitpid(pid, 0)
    assert os.waitstatus_to_exitcode(wait_status) == 0
