"""The allowed path for address ranges without root: slirp4netns, with policy routing.

As root, allowed ranges reach the host over a veth pair (``sandbox.open_routed_path``). An
unprivileged user cannot create one across namespaces, so here slirp4netns (user-mode TCP/IP,
started by the auditor against the sandbox's pid) owns a TAP device ``slirp0`` inside the
sandbox and turns the connections that reach it into ordinary sockets of the caller on the
host. The sandbox's default routes stay with the auditor; only packets matching one allow
rule (range, protocol and port, as ``ip rule`` selectors) are looked up in a routing table whose
single route leads to slirp4netns::

    workload ──(to 10.20.0.0/16, tcp dport 5432)──> ip rule ──> table 233 ──> slirp0 ──> host socket
             ──(anything else)─────────────────────> main table ──> egress0 (the auditor: denied)

slirp4netns runs with ``--disable-host-loopback`` and ``--disable-dns`` (its gateway and
resolver addresses are not routed anyway), and exits with the auditor: it polls the read end of
a pipe whose only writer is the auditor (``--exit-fd``), and has ``PR_SET_PDEATHSIG``.

Allowed attempts are recorded from a packet socket on ``slirp0`` opened *inside* the namespace,
and attributed with a sock_diag socket opened there too (a thread of the auditor; the packets
are not held for it, so attribution is best-effort, as on the root path).
"""

from __future__ import annotations

import contextlib
import ctypes
import ipaddress
import os
import select
import shutil
import signal
import socket
import subprocess
import tempfile
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import IO

from airgap_cli.egress import packets
from airgap_cli.egress.attribution import ProcessTable, SockDiag, attribute
from airgap_cli.egress.events import ALLOWED, Attempt
from airgap_cli.egress.policy import AllowRule, parse_allow, policy_rule_lines
from airgap_cli.egress.sandbox import (
    CLONE_NEWNET,
    CLONE_NEWUSER,
    ETH_P_ALL,
    ETH_P_IP,
    PACKET_OUTGOING,
    PR_SET_PDEATHSIG,
    SandboxError,
    SandboxHandles,
)

SLIRP_BINARY = "slirp4netns"
TAP_NAME = "slirp0"
SLIRP_MTU = 65520
ROUTE_TABLE = 233
RULE_PRIORITY = 233
"""Before the main table (32766): a matching packet never sees the auditor's default route."""
SLIRP_NETWORKS = ("10.0.2.0/24", "100.64.233.0/24", "172.31.233.0/24", "192.168.233.0/24")
"""slirp4netns's own /24 (gateway .2, the sandbox .100): the first one no allowed range touches."""
READY_TIMEOUT = 10.0

_libc = ctypes.CDLL(None, use_errno=True)


def required(specs: Iterable[str]) -> list[AllowRule]:
    """The rules of ``specs`` (allowlist syntax), once it is certain the path can be built.

    Raises :class:`SandboxError` (before anything is started) when slirp4netns is missing, when
    this user cannot open ``/dev/net/tun`` (slirp4netns needs a TAP device), or for an IPv6 range.
    """
    rules = [parse_allow(spec) for spec in specs]
    if not rules:
        return []
    if shutil.which(SLIRP_BINARY) is None:
        raise SandboxError(
            "allowed address ranges without root need slirp4netns, which is not installed",
            hint="install the slirp4netns package, run as root, or allow host names instead (the proxy)",
        )
    if not os.access("/dev/net/tun", os.R_OK | os.W_OK):
        raise SandboxError(
            "allowed address ranges without root need a /dev/net/tun this user can open "
            "(slirp4netns creates a TAP device)",
            hint="chmod 0666 /dev/net/tun, run as root, or allow host names instead (the proxy)",
        )
    for rule in rules:
        if rule.network is None or rule.network.version != 4:
            raise SandboxError(
                f"allowed range {rule.text!r}: without root only IPv4 ranges can be routed",
                hint="run as root for IPv6 ranges, or allow the host name (the proxy)",
            )
    return rules


def slirp_network(rules: Iterable[AllowRule]) -> ipaddress.IPv4Network:
    """slirp4netns's own network: one that no allowed range overlaps."""
    taken = [r.network for r in rules if r.network is not None]
    for text in SLIRP_NETWORKS:
        candidate = ipaddress.IPv4Network(text)
        if not any(candidate.overlaps(net) for net in taken):
            return candidate
    raise SandboxError("the allowed ranges overlap every network slirp4netns could use")


def routing_commands(rules: Iterable[AllowRule], network: ipaddress.IPv4Network) -> list[str]:
    """``ip -batch`` lines that route exactly the allowed (range, protocol, port) via slirp0."""
    gateway, inside = network[2], network[100]
    lines = [
        f"link set {TAP_NAME} up mtu {SLIRP_MTU}",
        # A /32 and an on-link route: slirp's own /24 (its gateway and resolver addresses) is
        # not routed to the TAP, so the workload cannot reach them.
        f"addr add {inside}/32 dev {TAP_NAME}",
        f"route add default via {gateway} dev {TAP_NAME} onlink table {ROUTE_TABLE}",
    ]
    return lines + policy_rule_lines(rules, ROUTE_TABLE, RULE_PRIORITY)


@dataclass
class SlirpPath:
    """A running slirp4netns and the recorder of the attempts it carries."""

    process: subprocess.Popen[bytes]
    exit_writer: int
    """Closing it (or the auditor dying) makes slirp4netns exit."""
    network: ipaddress.IPv4Network
    recorder: _Recorder | None = None

    def close(self) -> None:
        """Stop slirp4netns and the recorder (idempotent); waits for both."""
        if self.recorder is not None:
            self.recorder.stop()
            self.recorder = None
        with contextlib.suppress(OSError):
            os.close(self.exit_writer)
        if self.process.returncode is None:
            # It holds no state worth a graceful exit; a blocking wait beats Popen's polling.
            with contextlib.suppress(ProcessLookupError):
                self.process.kill()
            self.process.wait()


def open_path(
    handles: SandboxHandles,
    rules: list[AllowRule],
    record: Callable[[Attempt], None],
    started: float,
) -> SlirpPath:
    """Start slirp4netns for the sandbox of ``handles`` and route ``rules`` through it.

    Call before :func:`sandbox.release` and before any thread is started (a helper is forked to
    enter the namespaces). ``record`` receives the allowed attempts; ``started`` is the
    auditor's clock origin.
    """
    binary = shutil.which(SLIRP_BINARY)
    if binary is None:
        raise SandboxError("slirp4netns is not installed")
    network = slirp_network(rules)
    exit_reader, exit_writer = os.pipe()
    ready_reader, ready_writer = os.pipe()
    errors = tempfile.TemporaryFile()  # noqa: SIM115 - read on failure, closed below
    try:
        process = subprocess.Popen(
            [
                binary,
                f"--mtu={SLIRP_MTU}",
                f"--cidr={network}",
                "--disable-host-loopback",
                "--disable-dns",
                f"--exit-fd={exit_reader}",
                f"--ready-fd={ready_writer}",
                str(handles.pid),
                TAP_NAME,
            ],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=errors,
            pass_fds=(exit_reader, ready_writer),
            preexec_fn=_die_with_parent,  # safe: no thread runs yet (see the docstring)
        )
    except OSError as exc:
        for fd in (exit_reader, exit_writer, ready_reader, ready_writer):
            os.close(fd)
        errors.close()
        raise SandboxError(f"cannot start slirp4netns: {exc}") from None
    os.close(exit_reader)
    os.close(ready_writer)
    path = SlirpPath(process, exit_writer, network)
    try:
        _wait_ready(ready_reader, process, errors)
        capture, diag = _configure(handles.pid, routing_commands(rules, network))
    except BaseException:
        path.close()
        raise
    finally:
        os.close(ready_reader)
        errors.close()
    path.recorder = _Recorder(capture, SockDiag(diag), ProcessTable(handles.pid), record, started)
    path.recorder.start()
    return path


def _die_with_parent() -> None:
    _libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)


def _wait_ready(reader: int, process: subprocess.Popen[bytes], errors: IO[bytes]) -> None:
    """Block until slirp4netns reports its TAP device is up, or fail with its own words."""
    ready, _, _ = select.select([reader], [], [], READY_TIMEOUT)
    if ready and os.read(reader, 16)[:1] == b"1":
        return
    with contextlib.suppress(subprocess.TimeoutExpired):
        process.wait(timeout=1)
    errors.seek(0)
    lines = [ln for ln in errors.read().decode(errors="replace").splitlines() if ln.strip()]
    message = "; ".join(lines[-3:]) if lines else f"no answer (exit status {process.returncode})"
    raise SandboxError(f"slirp4netns failed: {message}", hint="run `airgap egress doctor`")


def _configure(pid: int, commands: list[str]) -> tuple[socket.socket, socket.socket]:
    """In a forked helper that enters the sandbox's user and network namespaces: route the
    allowed rules to slirp0, then open a packet socket on it and a sock_diag socket (both only
    see that namespace) and hand them back."""
    parent, child = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
    helper = os.fork()
    if helper == 0:  # never returns
        parent.close()
        _helper(pid, commands, child)
    child.close()
    try:
        message, fds, _, _ = socket.recv_fds(parent, 4096, 2)
    finally:
        parent.close()
        os.waitpid(helper, 0)
    if len(fds) != 2:
        for fd in fds:
            os.close(fd)
        raise SandboxError(f"cannot route the allowed ranges to slirp4netns: {message.decode()}")
    return socket.socket(fileno=fds[0]), socket.socket(fileno=fds[1])


def _helper(pid: int, commands: list[str], control: socket.socket) -> None:
    status = 0
    try:
        for kind, flag in (("user", CLONE_NEWUSER), ("net", CLONE_NEWNET)):
            fd = os.open(f"/proc/{pid}/ns/{kind}", os.O_RDONLY | os.O_CLOEXEC)
            try:
                if _libc.setns(fd, flag) != 0:
                    code = ctypes.get_errno()
                    raise OSError(code, f"setns {kind}: {os.strerror(code)}")
            finally:
                os.close(fd)
        # Replies from slirp0 come from addresses the main table routes to the auditor.
        for name in ("all", TAP_NAME):
            with open(f"/proc/sys/net/ipv4/conf/{name}/rp_filter", "w") as knob:
                knob.write("0")
        quiet = f"/proc/sys/net/ipv6/conf/{TAP_NAME}/disable_ipv6"  # slirp speaks IPv4 here
        with contextlib.suppress(OSError), open(quiet, "w") as knob:
            knob.write("1")
        ip = shutil.which("ip") or "/usr/sbin/ip"
        subprocess.run(
            [ip, "-batch", "-"],
            input="\n".join(commands).encode(),
            check=True,
            capture_output=True,
            timeout=10,
        )
        capture = socket.socket(
            socket.AF_PACKET, socket.SOCK_DGRAM | socket.SOCK_CLOEXEC, socket.htons(ETH_P_ALL)
        )
        capture.bind((TAP_NAME, 0))
        diag = SockDiag.open()
        socket.send_fds(control, [b"ok"], [capture.fileno(), diag.fileno()])
    except subprocess.CalledProcessError as exc:
        detail = exc.stderr.decode(errors="replace").strip().splitlines()
        with contextlib.suppress(OSError):
            control.send((detail[-1] if detail else str(exc)).encode()[:1000])
        status = 1
    except BaseException as exc:  # report the reason to the auditor, never a traceback
        with contextlib.suppress(OSError):
            control.send(f"{type(exc).__name__}: {exc}".encode()[:1000])
        status = 1
    os._exit(status)


@dataclass
class _Recorder:
    """Records each TCP connection and UDP flow the workload opens through slirp0 as allowed."""

    capture: socket.socket
    diag: SockDiag
    table: ProcessTable
    record: Callable[[Attempt], None]
    started: float
    _stop_reader: int = -1
    _stop_writer: int = -1
    _thread: threading.Thread | None = None
    _udp_flows: set[tuple[str, int, str, int]] = field(default_factory=set)

    def start(self) -> None:
        """Begin recording in a daemon thread."""
        self._stop_reader, self._stop_writer = os.pipe()
        self.capture.setblocking(False)
        self._thread = threading.Thread(target=self._loop, name="airgap-slirp", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        """Record what is still queued, then stop and release the sockets."""
        if self._thread is not None:
            os.write(self._stop_writer, b"x")
            self._thread.join(timeout=5)
            self._thread = None
        for fd in (self._stop_reader, self._stop_writer):
            with contextlib.suppress(OSError):
                os.close(fd)
        self.capture.close()
        self.diag.close()

    def _loop(self) -> None:
        while True:
            ready, _, _ = select.select([self.capture.fileno(), self._stop_reader], [], [])
            self._drain()
            if self._stop_reader in ready:
                return

    def _drain(self) -> None:
        while True:
            try:
                raw, address = self.capture.recvfrom(65536)
            except (BlockingIOError, OSError):
                return
            # The workload's packets leave through slirp0; slirp's answers arrive on it.
            if address[2] == PACKET_OUTGOING and address[1] == ETH_P_IP:
                self._consider(raw)

    def _consider(self, raw: bytes) -> None:
        pkt = packets.parse(raw)
        if pkt is None or pkt.src_port is None or pkt.dst_port is None:
            return
        if pkt.protocol == socket.IPPROTO_TCP:
            if not pkt.tcp_flags & packets.SYN or pkt.tcp_flags & packets.ACK:
                return
            protocol = "tcp"
        elif pkt.protocol == socket.IPPROTO_UDP:
            flow = (pkt.src, pkt.src_port, pkt.dst, pkt.dst_port)
            if flow in self._udp_flows:
                return
            self._udp_flows.add(flow)
            protocol = "udp"
        else:
            return
        when = time.monotonic() - self.started
        process, chain = attribute(
            self.diag, self.table, pkt.protocol, pkt.src, pkt.src_port, pkt.dst, pkt.dst_port
        )
        self.record(
            Attempt(
                time=when,
                protocol=protocol,
                kind=protocol,
                destination=pkt.dst,
                address=pkt.dst,
                port=pkt.dst_port,
                verdict=ALLOWED,
                process=process,
                chain=chain,
            )
        )
