"""Attribution against real sockets in a network namespace made for the test.

A root process unshares a netns, brings up lo, opens the sock_diag socket there and passes it to
the test over SCM_RIGHTS, exactly as the auditor's child does. Its child holds the listeners;
the grandchild makes the connections and reports each socket's tuple and inode. Traffic stays
on the namespace's loopback.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any, TypeVar

import pytest

from airgap_cli.egress import attribution
from airgap_cli.egress.attribution import ProcessTable, SockDiag, SocketOwner, attribute
from airgap_cli.egress.events import Process

_needs_root = pytest.mark.skipif(os.geteuid() != 0, reason="network namespaces need root")
F = TypeVar("F", bound=Callable[..., None])


def root_only(test: F) -> F:
    """Mark a test that builds a network namespace: ``root``, skipped when not root."""
    marked: F = pytest.mark.root(_needs_root(test))
    return marked


ROOT = r"""
import ctypes, fcntl, os, socket, struct, subprocess, sys
from airgap_cli.egress.attribution import SockDiag
ctrl = socket.socket(fileno=int(sys.argv[1]))
libc = ctypes.CDLL(None, use_errno=True)
if libc.unshare(0x40000000) != 0:  # CLONE_NEWNET
    sys.exit(f"unshare: {os.strerror(ctypes.get_errno())}")
with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
    name = struct.pack("16sH14x", b"lo", 0)
    flags = struct.unpack("16sH14x", fcntl.ioctl(s, 0x8913, name))[1]  # SIOCGIFFLAGS
    fcntl.ioctl(s, 0x8914, struct.pack("16sH14x", b"lo", flags | 1))  # SIOCSIFFLAGS, IFF_UP
with SockDiag.open() as diag:
    socket.send_fds(ctrl, [b"diag"], [diag.fileno()])
child = [sys.executable, "-c", sys.argv[2], *sys.argv[1:]]
subprocess.Popen(child, pass_fds=[ctrl.fileno()]).wait()
"""

CHILD = r"""
import os, socket, subprocess, sys
ctrl_fd = sys.argv[1]
tcp4 = socket.create_server(("127.0.0.1", 0))
full = socket.socket()
full.bind(("127.0.0.1", 0))
full.listen(0)  # one queued connection fills it: the next SYN is dropped, the client waits
udp4 = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
udp4.bind(("127.0.0.1", 0))
ports = [tcp4.getsockname()[1], full.getsockname()[1], udp4.getsockname()[1], 0, 0]
try:
    tcp6 = socket.create_server(("::1", 0), family=socket.AF_INET6)
    udp6 = socket.socket(socket.AF_INET6, socket.SOCK_DGRAM)
    udp6.bind(("::1", 0))
    ports[3:] = [tcp6.getsockname()[1], udp6.getsockname()[1]]
except OSError:
    pass
for role in ("grandchild", "vanisher"):
    subprocess.Popen(
        [sys.executable, "-c", sys.argv[3], ctrl_fd, *map(str, ports), role],
        pass_fds=[int(ctrl_fd)],
    )
while True:
    try:
        os.wait()
    except ChildProcessError:
        break
"""

GRANDCHILD = r"""
import json, os, socket, sys, time
ctrl = socket.socket(fileno=int(sys.argv[1]))
tcp4, full, udp4, tcp6, udp6 = map(int, sys.argv[2:7])
held, report = [], {}

def local(address):
    return address.removeprefix("::ffff:")

def record(name, sock, proto, dst, dport):
    held.append(sock)
    src, sport = sock.getsockname()[:2]
    if src in ("0.0.0.0", "::"):
        src = dst  # unbound: on loopback the datagram leaves from the address it goes to
    report[name] = [proto, local(src), sport, local(dst), dport, os.fstat(sock.fileno()).st_ino]

def tcp(name, family, connect_to, dst):
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.connect(connect_to)
    record(name, sock, 6, dst, connect_to[1])

def udp(name, family, send_to, dst, connected, bind=None):
    sock = socket.socket(family, socket.SOCK_DGRAM)
    if bind:
        sock.bind(bind)
    if connected:
        sock.connect(send_to)
        sock.send(b"x")
    else:
        sock.sendto(b"x", send_to)
    record(name, sock, 17, dst, send_to[1])

tcp("tcp4", socket.AF_INET, ("127.0.0.1", tcp4), "127.0.0.1")
tcp("tcp46", socket.AF_INET6, ("::ffff:127.0.0.1", tcp4), "127.0.0.1")
udp("udp4c", socket.AF_INET, ("127.0.0.1", udp4), "127.0.0.1", True)
udp("udp4u", socket.AF_INET, ("127.0.0.1", udp4), "127.0.0.1", False)
udp("udp4b", socket.AF_INET, ("127.0.0.1", udp4), "127.0.0.1", False, ("127.0.0.1", 0))
udp("udp46u", socket.AF_INET6, ("::ffff:127.0.0.1", udp4), "127.0.0.1", False)
if tcp6:
    tcp("tcp6", socket.AF_INET6, ("::1", tcp6), "::1")
    udp("udp6c", socket.AF_INET6, ("::1", udp6), "::1", True)
    udp("udp6u", socket.AF_INET6, ("::1", udp6), "::1", False)
if sys.argv[7] == "grandchild":
    tcp("queued", socket.AF_INET, ("127.0.0.1", full), "127.0.0.1")
    pending = socket.socket()
    pending.setblocking(False)
    pending.connect_ex(("127.0.0.1", full))
    record("synsent", pending, 6, "127.0.0.1", full)
    report["synsent"].append(pending.getsockopt(socket.IPPROTO_TCP, socket.TCP_INFO, 1)[0])
    with open("/proc/self/comm", "w") as comm:
        comm.write("g) (x y")  # stat parsing must survive this
message = {"role": sys.argv[7], "pid": os.getpid(), "ports": sys.argv[2:7], "sockets": report}
ctrl.send(json.dumps(message).encode())
time.sleep(300)
"""

TCP_SYN_SENT = 2


@dataclass
class Workload:
    """The namespaced tree: root → child → {grandchild, vanisher}, and the sock_diag handle."""

    root: int
    diag: SockDiag
    argv: dict[str, list[str]]
    reports: dict[str, dict[str, Any]]

    def pid(self, role: str) -> int:
        return int(self.reports[role]["pid"])

    def socket(self, name: str, role: str = "grandchild") -> list[Any]:
        sockets: dict[str, list[Any]] = self.reports[role]["sockets"]
        if name not in sockets:
            pytest.skip(f"{name}: no IPv6 on lo in the test namespace")
        return sockets[name]


@pytest.fixture(scope="module")
def workload() -> Iterator[Workload]:
    test_end, tree_end = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
    fd = str(tree_end.fileno())
    python = sys.executable
    argv = {
        "root": [python, "-c", ROOT, fd, CHILD, GRANDCHILD],
        "child": [python, "-c", CHILD, fd, CHILD, GRANDCHILD],
    }
    root = subprocess.Popen(
        argv["root"], pass_fds=[tree_end.fileno()], start_new_session=True, stderr=subprocess.PIPE
    )
    tree_end.close()
    diag: SockDiag | None = None
    try:
        test_end.settimeout(30)
        _, fds, _, _ = socket.recv_fds(test_end, 16, 1)
        if not fds:
            error = root.communicate(timeout=10)[1].decode(errors="replace")
            if "Operation not permitted" in error:
                pytest.skip(f"cannot create a network namespace: {error.strip()}")
            pytest.fail(f"namespace set-up failed: {error}")
        diag = SockDiag(socket.socket(fileno=fds[0]))
        reports: dict[str, dict[str, Any]] = {}
        while len(reports) < 2:
            message = json.loads(test_end.recv(65536))
            reports[message["role"]] = message
        for role in ("grandchild", "vanisher"):
            argv[role] = [python, "-c", GRANDCHILD, fd, *reports[role]["ports"], role]
        yield Workload(root.pid, diag, argv, reports)
    finally:
        os.killpg(root.pid, signal.SIGKILL)  # the tree is the root's own process group
        root.wait(timeout=10)
        if root.stderr is not None:
            root.stderr.close()
        if diag is not None:
            diag.close()  # the last reference to the namespace
        test_end.close()


def _lookup(diag: SockDiag, entry: list[Any]) -> SocketOwner | None:
    proto, src, sport, dst, dport = entry[:5]
    return diag.lookup(proto, src, sport, dst, dport)


ALL_SOCKETS = [
    "tcp4",
    "tcp46",
    "tcp6",
    "synsent",
    "queued",
    "udp4c",
    "udp4u",
    "udp4b",
    "udp46u",
    "udp6c",
    "udp6u",
]


@root_only
@pytest.mark.parametrize("name", ALL_SOCKETS)
def test_lookup_names_the_exact_socket(workload: Workload, name: str) -> None:
    entry = workload.socket(name)
    assert _lookup(workload.diag, entry) == SocketOwner(inode=entry[5], uid=0)


@root_only
def test_a_held_syn_is_found_before_the_handshake(workload: Workload) -> None:
    assert workload.socket("synsent")[6] == TCP_SYN_SENT


@root_only
@pytest.mark.parametrize("name", ["udp4u", "udp4b", "udp46u", "udp6u"])
def test_udp_dump_fallback_finds_unconnected_senders(workload: Workload, name: str) -> None:
    _, src, sport, dst, dport, inode = workload.socket(name)
    family, src_raw = attribution._address(src)
    _, dst_raw = attribution._address(dst)
    found = workload.diag._udp_dump(
        family, src_raw, sport.to_bytes(2, "big"), dst_raw, dport.to_bytes(2, "big")
    )
    assert found is not None and found.inode == inode


@root_only
def test_unknown_tuples_are_none_not_errors(workload: Workload) -> None:
    diag = workload.diag
    tcp, udp = socket.IPPROTO_TCP, socket.IPPROTO_UDP
    assert diag.lookup(tcp, "127.0.0.1", 1, "127.0.0.1", 2) is None
    assert diag.lookup(tcp, "::1", 1, "::1", 2) is None
    assert diag.lookup(tcp, "198.19.255.254", 40000, "192.0.2.1", 443) is None
    assert diag.lookup(udp, "127.0.0.1", 1, "127.0.0.1", 2) is None
    assert diag.lookup(udp, "::1", 1, "::1", 2) is None
    # A miss must not fall back to the listener on that port (inet_lookup would return it).
    listener_port = workload.socket("tcp4")[4]
    assert diag.lookup(tcp, "127.0.0.1", listener_port, "127.0.0.1", 9) is None


@root_only
def test_the_diag_socket_sees_only_its_own_namespace(workload: Workload) -> None:
    with SockDiag.open() as here:
        assert _lookup(here, workload.socket("tcp4")) is None
        assert _lookup(workload.diag, workload.socket("tcp4")) is not None


@root_only
def test_bad_arguments_raise(workload: Workload) -> None:
    with pytest.raises(ValueError, match="families"):
        workload.diag.lookup(socket.IPPROTO_TCP, "127.0.0.1", 1, "::1", 2)
    with pytest.raises(ValueError, match="protocol"):
        workload.diag.lookup(socket.IPPROTO_ICMP, "127.0.0.1", 1, "127.0.0.1", 2)


@root_only
def test_tree_is_the_root_and_its_descendants(workload: Workload) -> None:
    tree = ProcessTable(workload.root).tree()
    assert tree[0] == workload.root
    grandchild = workload.pid("grandchild")
    assert {_ppid(grandchild), grandchild, workload.pid("vanisher")} <= set(tree)
    assert os.getpid() not in tree


@root_only
@pytest.mark.parametrize("name", ["tcp4", "tcp6", "synsent", "udp4u", "udp6c"])
def test_owner_and_chain(workload: Workload, name: str) -> None:
    table = ProcessTable(workload.root)
    grandchild = workload.pid("grandchild")
    pid = table.owner_of(workload.socket(name)[5])
    assert pid == grandchild
    chain = table.chain(pid)
    assert [p.pid for p in chain] == [workload.root, _ppid(grandchild), grandchild]
    assert [list(p.cmdline) for p in chain] == [
        workload.argv["root"],
        workload.argv["child"],
        workload.argv["grandchild"],
    ]
    assert {p.exe for p in chain} == {os.path.realpath(sys.executable)}
    assert table.process(grandchild) is chain[-1]  # cached


@root_only
def test_attribute_end_to_end(workload: Workload) -> None:
    table = ProcessTable(workload.root)
    for name in ("tcp4", "udp4u"):
        proto, src, sport, dst, dport, _ = workload.socket(name)[:6]
        process, chain = attribute(workload.diag, table, proto, src, sport, dst, dport)
        assert process is not None and process.pid == workload.pid("grandchild")
        assert chain[0].pid == workload.root and chain[-1] == process
    tcp = socket.IPPROTO_TCP
    assert attribute(workload.diag, table, tcp, "127.0.0.1", 1, "127.0.0.1", 2) == (None, ())


@root_only
def test_a_vanished_process_does_not_raise(
    workload: Workload, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(attribution, "TREE_TTL", 60.0)
    table = ProcessTable(workload.root)
    vanisher = workload.pid("vanisher")
    tcp_entry = workload.socket("tcp4", role="vanisher")
    assert table.owner_of(tcp_entry[5]) == vanisher
    seen = table.process(vanisher)
    assert list(seen.cmdline) == workload.argv["vanisher"]
    assert vanisher in table.tree()

    os.kill(vanisher, signal.SIGKILL)
    _wait_for(lambda: not os.path.exists(f"/proc/{vanisher}"))  # the child reaps it

    # The cached tree still lists the dead pid: scans skip it.
    assert table.owner_of(workload.socket("tcp4")[5]) == workload.pid("grandchild")
    assert table.owner_of(tcp_entry[5]) is None
    owner = _lookup(workload.diag, tcp_entry)
    assert owner is None  # closed: gone, or a TIME_WAIT/orphan socket nobody holds
    assert table.process(vanisher) == seen  # the last thing seen under that pid
    child = _ppid(workload.pid("grandchild"))
    assert [p.pid for p in table.chain(vanisher)] == [workload.root, child, vanisher]
    assert ProcessTable(workload.root).process(vanisher) == Process(vanisher, ())
    assert vanisher not in table.tree()

    gone = ProcessTable(vanisher)
    assert gone.tree() == []
    assert gone.owner_of(tcp_entry[5]) is None
    assert gone.chain(vanisher) == (Process(vanisher, ()),)


@root_only
def test_stat_parsing_survives_odd_comm(workload: Workload) -> None:
    stat = attribution._stat(workload.pid("grandchild"))
    assert stat is not None
    assert stat.comm == b"g) (x y"
    assert stat.ppid == _ppid(workload.pid("grandchild"))


def test_owner_of_sees_a_process_forked_after_the_cached_walk(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(attribution, "TREE_TTL", 60.0)
    table = ProcessTable(os.getpid())
    table.tree()
    code = "import os, socket, sys; a, b = socket.socketpair(); print(os.fstat(a.fileno()).st_ino"
    late = subprocess.Popen(
        [sys.executable, "-c", code + ", flush=True); sys.stdin.read()"],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
    )
    try:
        assert late.stdout is not None
        inode = int(late.stdout.readline())
        assert table.owner_of(inode) == late.pid
        assert table.chain(late.pid)[0].pid == os.getpid()
    finally:
        late.kill()
        late.communicate()


def test_an_exec_under_the_same_pid_is_a_new_process() -> None:
    shell = subprocess.Popen(["sh", "-c", "read line; exec sleep 30"], stdin=subprocess.PIPE)
    try:
        table = ProcessTable(os.getpid())
        # Popen may return before the kernel has set the new image's arguments: the empty
        # cmdline of that window must not stick in the cache.
        _wait_for(
            lambda: table.process(shell.pid).cmdline == ("sh", "-c", "read line; exec sleep 30")
        )
        assert shell.stdin is not None
        shell.stdin.write(b"go\n")
        shell.stdin.flush()
        _wait_for(lambda: table.process(shell.pid).cmdline == ("sleep", "30"))
    finally:
        shell.kill()
        shell.wait()


def test_a_zombie_keeps_the_cmdline_it_had() -> None:
    sender = subprocess.Popen([sys.executable, "-c", "import sys; sys.stdin.read()"], stdin=-1)
    try:
        table = ProcessTable(os.getpid())
        _wait_for(lambda: len(table.process(sender.pid).cmdline) == 3)
        alive = table.process(sender.pid)
        assert sender.stdin is not None
        sender.stdin.close()  # it exits; unreaped, it stays a zombie with an empty cmdline
        _wait_for(lambda: _state(sender.pid) == "Z")
        assert table.process(sender.pid) == alive
        assert table.chain(sender.pid) == (table.process(os.getpid()), alive)
    finally:
        sender.kill()
        sender.wait()


def test_stat_parsing_of_the_test_process() -> None:
    stat = attribution._stat(os.getpid())
    assert stat is not None and stat.ppid == os.getppid()
    assert attribution._stat(2**22 + 1) is None  # above pid_max: never a process


def _wait_for(condition: Callable[[], bool], timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.005)


def _state(pid: int) -> str:
    with open(f"/proc/{pid}/stat", encoding="utf-8") as handle:
        return handle.read().rsplit(")", 1)[1].split()[0]


def _ppid(pid: int) -> int:
    """ppid from /proc/PID/status (a different file than the code under test reads)."""
    with open(f"/proc/{pid}/status", encoding="utf-8") as handle:
        for line in handle:
            if line.startswith("PPid:"):
                return int(line.split()[1])
    raise AssertionError(f"no PPid for {pid}")
