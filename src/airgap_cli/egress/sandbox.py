"""The default-deny network sandbox (rung 1: network, mount and PID namespaces + a TUN device).

Layout, so that nothing outlives the run:

    auditor (this process) ──fork──> setup child: new net + mount namespaces, lo up, TUN
                                     ``egress0`` with both default routes, private
                                     resolv.conf/nsswitch.conf; passes the TUN and a sock_diag
                                     socket back over SCM_RIGHTS; then a new PID namespace
                                        └──fork──> init (PID 1 of that namespace): drops
                                                   CAP_NET_ADMIN/CAP_NET_RAW, sets no_new_privs,
                                                   forks the workload and reaps everything
                                                        └──exec──> CMD ...

When the workload exits, init exits and the kernel kills every process left in the PID namespace
(detached daemons included). If the auditor dies, PR_SET_PDEATHSIG takes the setup child and init
with it. The network namespace disappears with its last process and the auditor's TUN fd.
"""

from __future__ import annotations

import contextlib
import ctypes
import ctypes.util
import errno
import fcntl
import json
import os
import shutil
import signal
import socket
import struct
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

from airgap_cli.core.errors import AirgapError
from airgap_cli.egress.policy import AllowRule, policy_rule_lines

CLONE_NEWNS = 0x00020000
CLONE_NEWUSER = 0x10000000
CLONE_NEWPID = 0x20000000
CLONE_NEWNET = 0x40000000
MS_REC = 0x4000
MS_PRIVATE = 1 << 18
MS_BIND = 4096
MS_NOSUID, MS_NODEV, MS_NOEXEC = 2, 4, 8
PR_SET_PDEATHSIG = 1
PR_CAPBSET_DROP = 24
PR_SET_NO_NEW_PRIVS = 38
CAP_NET_ADMIN, CAP_NET_RAW = 12, 13
TUNSETIFF = 0x400454CA
SIOCGIFHWADDR = 0x8927
IFF_TUN, IFF_NO_PI = 0x0001, 0x1000

TUN_NAME = "egress0"
TUN_MTU = 65000
SINKHOLE_DNS_V4 = "198.18.0.53"
SINKHOLE_DNS_V6 = "2001:db8:ae::53"
TUN_ADDR_V4 = "198.19.255.254"
TUN_ADDR_V6 = "2001:db8:ffff::2"
PROXY_LISTEN = ("127.0.0.1", 3128)
MASKED_SOCKET_DIRS = ("/run/systemd/resolve", "/var/run/nscd", "/run/nscd", "/run/dbus")
"""Host daemons reachable by path (resolvers, D-Bus) are hidden: they would resolve or connect
outside the namespace."""

_libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6", use_errno=True)


class SandboxError(AirgapError):
    """The sandbox cannot be built on this machine (see ``airgap egress doctor``)."""


def _check(result: int, what: str) -> None:
    if result != 0:
        code = ctypes.get_errno()
        raise OSError(code, f"{what}: {os.strerror(code)}")


def unshare(flags: int) -> None:
    """unshare(2) (``os.unshare`` arrives only in Python 3.12)."""
    _check(_libc.unshare(flags), "unshare")


def mount(
    source: str, target: str, fstype: str | None, flags: int, data: str | None = None
) -> None:
    """mount(2)."""
    _check(
        _libc.mount(
            source.encode(),
            target.encode(),
            fstype.encode() if fstype else None,
            flags,
            data.encode() if data else None,
        ),
        f"mount {target}",
    )


def prctl(option: int, arg: int) -> None:
    """prctl(2) with one argument."""
    _check(_libc.prctl(option, arg, 0, 0, 0), f"prctl {option}")


@dataclass(frozen=True)
class SandboxHandles:
    """What the auditor holds while the workload runs."""

    pid: int
    """The setup child; its exit status is the workload's."""
    io: PacketIO
    diag_sock: socket.socket
    init_pid: int
    """Host pid of the PID-namespace init, the root of the workload's process tree."""
    workdir: Path
    proxy_listener: socket.socket | None = None
    """The in-sandbox ``127.0.0.1:3128`` listener (only with an allowed path)."""


def _open_tun() -> int:
    fd = os.open("/dev/net/tun", os.O_RDWR | os.O_CLOEXEC)
    ifr = struct.pack("16sH22x", TUN_NAME.encode(), IFF_TUN | IFF_NO_PI)
    fcntl.ioctl(fd, TUNSETIFF, ifr)
    return fd


def _ip(*args: str) -> None:
    ip = shutil.which("ip") or "/usr/sbin/ip"
    subprocess.run([ip, *args], check=True, capture_output=True, timeout=10)


VETH_WORKLOAD, VETH_AUDITOR = "egress0", "egress1"
GATEWAY_V4, GATEWAY_V6 = "198.19.255.1", "fe80::1"
ETH_P_ALL, ETH_P_IP, ETH_P_IPV6 = 0x0003, 0x0800, 0x86DD
PACKET_OUTGOING = 4


class PacketIO:
    """The auditor's end of the workload's only route out: a TUN device, or (where no TUN can
    be opened) the far end of a veth pair read and written through a packet socket."""

    def __init__(self, fd: int, link: tuple[str, bytes] | None = None) -> None:
        self.fd = fd
        self.link = link
        """(interface, peer MAC) for the veth form; None for TUN."""
        self._sock = socket.socket(fileno=fd) if link is not None else None
        os.set_blocking(fd, False)

    def fileno(self) -> int:
        """For select."""
        return self.fd

    def read(self) -> bytes:
        """One IP packet sent by the workload; BlockingIOError when none is waiting."""
        if self._sock is None:
            return os.read(self.fd, 65536)
        while True:
            data, address = self._sock.recvfrom(65536)
            if address[2] != PACKET_OUTGOING:  # our own answers show up too: skip them
                return data

    def write(self, packet: bytes) -> None:
        """Deliver an answer to the workload's network stack."""
        if self._sock is None or self.link is None:
            os.write(self.fd, packet)
            return
        protocol = ETH_P_IPV6 if packet[:1] and packet[0] >> 4 == 6 else ETH_P_IP
        self._sock.sendto(packet, (self.link[0], protocol, 0, 0, self.link[1]))

    def close(self) -> None:
        """Release the descriptor (idempotent)."""
        with contextlib.suppress(OSError):
            if self._sock is not None:
                self._sock.close()
            else:
                os.close(self.fd)


def _tun_usable() -> bool:
    return os.geteuid() == 0 or os.access("/dev/net/tun", os.R_OK | os.W_OK)


def _mac(interface: str) -> str:
    """The interface's MAC address, from this namespace (sysfs still shows the host's)."""
    packed = struct.pack("256s", interface.encode()[:15])
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
        info = fcntl.ioctl(probe.fileno(), SIOCGIFHWADDR, packed)
    return info[18:24].hex(":")


def _configure_veth() -> tuple[int, str]:
    """A veth pair inside the namespace: the workload's default routes lead into it, and the
    auditor reads the far end with a packet socket (needs no /dev/net/tun). Returns the packet
    socket's fd and the workload side's MAC address (hex)."""
    _ip("link", "set", "lo", "up")
    _ip("link", "add", VETH_WORKLOAD, "type", "veth", "peer", "name", VETH_AUDITOR)
    for name in (VETH_WORKLOAD, VETH_AUDITOR):
        _ip("link", "set", name, "up")
    auditor_mac, workload_mac = _mac(VETH_AUDITOR), _mac(VETH_WORKLOAD)
    _ip("addr", "add", f"{TUN_ADDR_V4}/32", "dev", VETH_WORKLOAD)
    _ip("neigh", "add", GATEWAY_V4, "lladdr", auditor_mac, "dev", VETH_WORKLOAD, "nud", "permanent")
    _ip("route", "add", "default", "via", GATEWAY_V4, "dev", VETH_WORKLOAD, "onlink")
    try:
        _ip("-6", "addr", "add", f"{TUN_ADDR_V6}/128", "dev", VETH_WORKLOAD, "nodad")
        _ip(
            "-6",
            "neigh",
            "add",
            GATEWAY_V6,
            "lladdr",
            auditor_mac,
            "dev",
            VETH_WORKLOAD,
            "nud",
            "permanent",
        )
        _ip("-6", "route", "add", "default", "via", GATEWAY_V6, "dev", VETH_WORKLOAD)
    except subprocess.CalledProcessError:
        pass  # IPv6 disabled in this kernel: nothing can leave over v6 either
    sock = socket.socket(
        socket.AF_PACKET, socket.SOCK_DGRAM | socket.SOCK_CLOEXEC, socket.htons(ETH_P_ALL)
    )
    sock.bind((VETH_AUDITOR, 0))
    return sock.detach(), workload_mac


def _configure_network() -> int:
    _ip("link", "set", "lo", "up")
    tun = _open_tun()
    _ip("link", "set", TUN_NAME, "up", "mtu", str(TUN_MTU))
    _ip("addr", "add", f"{TUN_ADDR_V4}/32", "dev", TUN_NAME)
    _ip("route", "add", "default", "dev", TUN_NAME)
    try:
        _ip("-6", "addr", "add", f"{TUN_ADDR_V6}/128", "dev", TUN_NAME, "nodad")
        _ip("-6", "route", "add", "default", "dev", TUN_NAME)
    except subprocess.CalledProcessError:
        pass  # IPv6 disabled in this kernel: nothing can leave over v6 either
    return tun


def _private_files(workdir: Path) -> None:
    mount("none", "/", None, MS_REC | MS_PRIVATE)
    for name in ("resolv.conf", "nsswitch.conf", "hosts"):
        target = Path("/etc") / name
        if target.exists():
            mount(str(workdir / name), str(target), None, MS_BIND)
    for directory in MASKED_SOCKET_DIRS:
        if os.path.isdir(directory):
            mount("tmpfs", directory, "tmpfs", MS_NOSUID | MS_NODEV | MS_NOEXEC, "size=64k")


def _write_private_files(workdir: Path) -> None:
    (workdir / "resolv.conf").write_text(
        f"nameserver {SINKHOLE_DNS_V4}\nnameserver {SINKHOLE_DNS_V6}\noptions timeout:2 attempts:1\n"
    )
    (workdir / "nsswitch.conf").write_text("hosts: files dns\nnetworks: files\n")
    (workdir / "hosts").write_text(
        "127.0.0.1 localhost\n::1 localhost ip6-localhost ip6-loopback\n"
    )


def start(argv: list[str], *, proxy: bool = False, link: str = "auto") -> SandboxHandles:
    """Build the sandbox and start ``argv`` in it, held until :func:`release` is called.

    With ``proxy`` the sandbox also listens on ``127.0.0.1:3128`` (handed to the auditor) and
    the workload gets ``HTTP(S)_PROXY`` pointing there: the allowed path.
    """

    workdir = Path(tempfile.mkdtemp(prefix="airgap-egress-"))
    _write_private_files(workdir)
    # Decided out here: inside the user namespace everyone is root.
    use_tun = link == "tun" or (link == "auto" and _tun_usable())
    parent_sock, child_sock = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
    sys.stdout.flush()
    sys.stderr.flush()
    pid = os.fork()
    if pid == 0:  # setup child: never returns
        parent_sock.close()
        _setup_child(argv, workdir, child_sock, proxy, use_tun)
    child_sock.close()
    try:
        message, fds, _, _ = socket.recv_fds(parent_sock, 1024, 3)
    except OSError as exc:
        raise SandboxError(
            f"sandbox setup failed: {exc}", hint="run `airgap egress doctor`"
        ) from None
    # The private files are bind-mounted by now: remove them at once, so that not even a
    # SIGKILL of the auditor can leave them behind.
    shutil.rmtree(workdir, ignore_errors=True)
    if len(fds) != (3 if proxy else 2):
        for fd in fds:
            os.close(fd)
        _reap(pid)
        raise SandboxError(
            f"sandbox setup failed: {message.decode(errors='replace').strip()}",
            hint="run `airgap egress doctor`",
        )
    io_fd, diag_fd = fds[:2]
    setup = json.loads(message.decode())
    peer = (
        (VETH_AUDITOR, bytes.fromhex(setup["mac"].replace(":", "")))
        if setup["io"] == "veth"
        else None
    )
    diag = socket.socket(fileno=diag_fd)
    listener = socket.socket(fileno=fds[2]) if proxy else None
    handles = SandboxHandles(pid, PacketIO(io_fd, peer), diag, 0, workdir, listener)
    _CONTROL[pid] = parent_sock
    return handles


_CONTROL: dict[int, socket.socket] = {}


@dataclass(frozen=True)
class RoutedPath:
    """The root-only allowed path for address ranges: a veth pair from the sandbox to the host,
    with one route per allowed CIDR through it (everything else still goes to the auditor)."""

    host_interface: str
    gateway: str
    """The host side's address: the sandbox reaches the host (and what the host routes) via it."""
    capture: socket.socket
    """Packet socket on the host side: allowed attempts are recorded too."""


ROUTED_TABLE = 234
"""Policy-routing table of the root veth path (slirp4netns uses 233)."""


def open_routed_path(handles: SandboxHandles, rules: list[AllowRule]) -> RoutedPath:
    """Wire the routed path into the sandbox of ``handles`` (root only; before :func:`release`).

    Only the allowed (range, protocol, port) triples take the veth pair (policy routing); a
    wrong port or ICMP to an allowed range still goes to the auditor, denied and recorded.
    """
    if os.geteuid() != 0:
        raise SandboxError("routing allowed address ranges needs root (use host names: the proxy)")
    slot = handles.pid % 16000
    base = f"10.233.{(slot * 4) // 256}.{(slot * 4) % 256}"
    prefix = base.rsplit(".", 1)[0]
    last = int(base.rsplit(".", 1)[1])
    gateway, inside = f"{prefix}.{last + 1}", f"{prefix}.{last + 2}"
    host_if, sandbox_if = f"agh{handles.pid}"[:15], f"ags{handles.pid}"[:15]
    target = str(handles.pid)
    try:
        _ip("link", "add", host_if, "type", "veth", "peer", "name", sandbox_if)
        _ip("link", "set", sandbox_if, "netns", target)
        _ip("addr", "add", f"{gateway}/30", "dev", host_if)
        _ip("link", "set", host_if, "up")
        enter = ["nsenter", "-t", target, "-n"]
        for args in (
            # A /32 and an on-link route in the table: no connected /30 route that would carry
            # any port to the gateway past the policy rules.
            ["addr", "add", f"{inside}/32", "dev", sandbox_if],
            ["link", "set", sandbox_if, "up"],
            f"route add default via {gateway} dev {sandbox_if} onlink table {ROUTED_TABLE}".split(),
            *(line.split() for line in policy_rule_lines(rules, ROUTED_TABLE, ROUTED_TABLE)),
        ):
            subprocess.run(
                [*enter, shutil.which("ip") or "/usr/sbin/ip", *args],
                check=True,
                capture_output=True,
                timeout=10,
            )
        capture = socket.socket(socket.AF_PACKET, socket.SOCK_DGRAM, socket.htons(ETH_P_ALL))
        capture.bind((host_if, 0))
        capture.setblocking(False)
    except (OSError, subprocess.CalledProcessError) as exc:
        with contextlib.suppress(OSError, subprocess.CalledProcessError):
            _ip("link", "del", host_if)
        raise SandboxError(f"cannot build the routed allowed path: {exc}") from None
    _GATEWAY[handles.pid] = gateway
    return RoutedPath(host_if, gateway, capture)


_GATEWAY: dict[int, str] = {}


def release(handles: SandboxHandles) -> int:
    """Let the workload start (the auditor is listening); returns the init's host pid."""
    control = _CONTROL[handles.pid]
    gateway = _GATEWAY.pop(handles.pid, "")
    control.send(b"go " + gateway.encode())
    reply = control.recv(64)
    return int(reply.decode() or "0")


def _enter_user_namespace() -> None:
    """Become root of a new user namespace (mapped to the caller) owning new net + mount ns.

    The workload then runs as that namespaced root: files it writes belong to the caller, and
    the capabilities it has stop at the namespace (CAP_NET_ADMIN/RAW are dropped anyway).
    """
    uid, gid = os.geteuid(), os.getegid()
    unshare(CLONE_NEWUSER | CLONE_NEWNET | CLONE_NEWNS)
    Path("/proc/self/setgroups").write_text("deny")
    Path("/proc/self/uid_map").write_text(f"0 {uid} 1")
    Path("/proc/self/gid_map").write_text(f"0 {gid} 1")


def rung(handles: SandboxHandles) -> str:
    """What isolated this run: ``netns+`` as root, ``userns+netns+`` otherwise; then ``tun``,
    or ``veth`` where no TUN device could be opened (same guarantees)."""
    prefix = "netns+" if os.geteuid() == 0 else "userns+netns+"
    return prefix + ("veth" if handles.io.link is not None else "tun")


def _setup_child(
    argv: list[str], workdir: Path, control: socket.socket, proxy: bool, use_tun: bool
) -> None:
    status = 127
    try:
        prctl(PR_SET_PDEATHSIG, signal.SIGKILL)
        if os.geteuid() == 0:
            unshare(CLONE_NEWNET | CLONE_NEWNS)
        else:
            _enter_user_namespace()
        if use_tun:
            tun, ready = _configure_network(), {"io": "tun"}
        else:
            tun, mac = _configure_veth()
            ready = {"io": "veth", "mac": mac}
        _private_files(workdir)
        diag = socket.socket(socket.AF_NETLINK, socket.SOCK_DGRAM | socket.SOCK_CLOEXEC, 4)
        fds = [tun, diag.fileno()]
        if proxy:
            listener = socket.create_server(PROXY_LISTEN, backlog=128)
            fds.append(listener.fileno())
            for name in ("http_proxy", "https_proxy", "HTTP_PROXY", "HTTPS_PROXY"):
                os.environ[name] = f"http://{PROXY_LISTEN[0]}:{PROXY_LISTEN[1]}"
            os.environ["no_proxy"] = os.environ["NO_PROXY"] = "localhost,127.0.0.1,::1"
        socket.send_fds(control, [json.dumps(ready).encode()], fds)
        for fd in fds:
            os.close(fd)
        go = control.recv(64)
        if not go.startswith(b"go"):
            os._exit(125)
        if go[3:]:
            os.environ["AIRGAP_EGRESS_GATEWAY"] = go[3:].decode()
        unshare(CLONE_NEWPID)
        init = os.fork()
        if init == 0:
            control.close()
            _init(argv)
        control.send(str(init).encode())
        control.close()
        status = _wait_status(init)
    except BaseException as exc:  # report the reason to the auditor, never a traceback
        with contextlib.suppress(OSError):
            control.send(f"{type(exc).__name__}: {exc}".encode()[:1000])
        status = 125
    os._exit(status)


def _init(argv: list[str]) -> None:
    """PID 1 of the workload's PID namespace: drop the capabilities, run, reap, exit."""
    try:
        prctl(PR_SET_PDEATHSIG, signal.SIGKILL)
        with contextlib.suppress(OSError):  # without it tools see host pids; harmless
            mount("proc", "/proc", "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC)
        for cap in (CAP_NET_ADMIN, CAP_NET_RAW):
            prctl(PR_CAPBSET_DROP, cap)
        prctl(PR_SET_NO_NEW_PRIVS, 1)
        for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP, signal.SIGQUIT):
            signal.signal(sig, lambda s, f: _forward(s))
        workload = os.fork()
        if workload == 0:
            for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP, signal.SIGQUIT):
                signal.signal(sig, signal.SIG_DFL)
            try:
                os.execvp(argv[0], argv)
            except OSError as exc:
                os.write(2, f"airgap: cannot run {argv[0]}: {exc.strerror}\n".encode())
                os._exit(127 if exc.errno == errno.ENOENT else 126)
        _WORKLOAD.append(workload)
        status = _reap_all(workload)
    except BaseException as exc:
        os.write(2, f"airgap: sandbox init failed: {exc}\n".encode())
        status = 125
    os._exit(status)


_WORKLOAD: list[int] = []


def _forward(sig: int) -> None:
    for pid in _WORKLOAD:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, sig)


def _reap_all(workload: int) -> int:
    """Reap every child (orphans are re-parented to us) until the workload itself exits."""
    while True:
        try:
            pid, raw = os.wait()
        except InterruptedError:
            continue
        except ChildProcessError:
            return 125
        if pid == workload:
            return _decode(raw)


def _wait_status(pid: int) -> int:
    while True:
        try:
            _, raw = os.waitpid(pid, 0)
            return _decode(raw)
        except InterruptedError:
            continue


def _decode(raw: int) -> int:
    if os.WIFSIGNALED(raw):
        return 128 + os.WTERMSIG(raw)
    return os.WEXITSTATUS(raw)


def _reap(pid: int) -> int:
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, signal.SIGKILL)
    return _wait_status(pid)


def finish(handles: SandboxHandles) -> int:
    """Wait for the setup child (the workload's status) and clean up."""
    status = _wait_status(handles.pid)
    close(handles)
    return status


def close(handles: SandboxHandles) -> None:
    """Release every resource (idempotent)."""
    control = _CONTROL.pop(handles.pid, None)
    if control is not None:
        control.close()
    handles.io.close()
    with contextlib.suppress(OSError):
        handles.diag_sock.close()
    if handles.proxy_listener is not None:
        with contextlib.suppress(OSError):
            handles.proxy_listener.close()
    shutil.rmtree(handles.workdir, ignore_errors=True)
