"""Rung ``ptrace``: a system-call supervisor for machines where no network namespace can be built.

A default Docker CI job may not create namespaces (its seccomp profile refuses ``unshare``), but
it may ptrace its own children. This supervisor forks the workload, attaches with
``PTRACE_SEIZE`` (``EXITKILL``: if the supervisor dies, every traced process dies with it) and,
before ``execve``, the workload installs a seccomp filter that stops only the calls that can
carry a destination: ``connect``, ``sendto`` with an address, ``sendmsg``, ``sendmmsg`` (and
``socketcall`` for 32-bit code), plus ``io_uring_setup``. Everything else runs at full speed.

At each stop the destination is read from the tracee's memory (``process_vm_readv``):

* loopback and non-IP destinations pass untouched;
* DNS (TCP or UDP port 53, any resolver) is rewritten in place to the supervisor's loopback
  sinkhole, which records the name and answers with a synthetic address (or, for an allowlisted
  name, the real one), so later connects are attributed to names;
* any other IPv4/IPv6 destination is recorded with pid, command line and parents, and fails with
  ``ENETUNREACH`` unless the allowlist opens it;
* a UDP ``connect`` sends nothing (and ``getaddrinfo`` makes one per candidate address to sort
  them), so it is pointed at the sinkhole for the duration of the call instead, and each datagram
  the socket then sends is recorded there;
* ``io_uring_setup`` is recorded and fails with ``ENOSYS`` (as without kernel io_uring): its
  network operations would never stop here.

Best-effort audit, not a security boundary: another thread can change a sockaddr between the
check and the kernel's copy, processes outside the tree are not seen, and ptrace of the
workload's own children is taken. x86_64 (with i386 and x32 code) and aarch64 (with arm32).
"""

from __future__ import annotations

import contextlib
import ctypes
import ctypes.util
import errno
import ipaddress
import logging
import os
import platform
import select
import signal
import socket
import struct
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, cast

from airgap_cli.core.errors import AirgapError
from airgap_cli.egress import packets
from airgap_cli.egress.attribution import ProcessTable, SockDiag
from airgap_cli.egress.events import ALLOWED, DENIED, Attempt, Process

if TYPE_CHECKING:
    from airgap_cli.egress.auditor import AuditOptions
    from airgap_cli.egress.doctor import Check
    from airgap_cli.egress.run import EgressRun

RUNG = "ptrace"
GUARANTEE = (
    "Best-effort audit, not a security boundary: every connect/sendto/sendmsg/sendmmsg system "
    "call of the workload's process tree (every descendant, daemons included, traced from its "
    "first instruction by ptrace with a seccomp filter) toward a non-loopback IPv4/IPv6 address "
    "was recorded with its pid, command line and parents, and failed with ENETUNREACH unless "
    "allowed. DNS to any resolver was redirected to the auditor's sinkhole, so names are "
    "recorded; io_uring was refused (ENOSYS) and recorded. NOT covered: a thread racing the "
    "kernel to change an address after it was checked (TOCTOU on pointer arguments), raw "
    "packet sockets (AF_PACKET), processes outside the tree (e.g. a Docker daemon, or services "
    "reached through unix sockets), DNS of workloads that enter their own network namespace, "
    "and TLS SNI / HTTP Host (no packet is ever sent)."
)

_log = logging.getLogger(__name__)

MACHINE = platform.machine()
"""The CPU architecture; the supported ones have a system-call table below."""
MIN_KERNEL = (5, 3)
"""PTRACE_GET_SYSCALL_INFO (architecture-independent syscall number and arguments)."""

DENY_ERRNO = errno.ENETUNREACH
"""What a denied connect/send returns: what an air-gapped host without a route would say."""
MASKED_SOCKET_DIRS = ("/run/systemd/resolve/", "/var/run/nscd/", "/run/nscd/")
"""Unix-socket resolvers (nss-resolve, nscd) would resolve outside the sinkhole: connecting to
them fails as if the daemon were down, so the C library falls back to DNS, which is redirected."""
DNS_PORT = 53
SPIN_SECONDS = 0.0002
"""How long the supervisor polls for the next stop before sleeping in waitpid: a tracee that was
just resumed often stops again within microseconds, and waking a sleeping process costs more."""
FINISH_SECONDS = 10.0
"""How long the supervisor waits for killed leftovers to report their death."""

# --- ptrace, seccomp and wait constants (linux/ptrace.h, linux/seccomp.h, linux/filter.h) ----
PTRACE_POKEUSER = 6
PTRACE_CONT = 7
PTRACE_SYSCALL = 24
PTRACE_GETEVENTMSG = 0x4201
PTRACE_GETREGSET = 0x4204
PTRACE_SETREGSET = 0x4205
PTRACE_SEIZE = 0x4206
PTRACE_LISTEN = 0x4208
PTRACE_GET_SYSCALL_INFO = 0x420E
PTRACE_O_TRACESYSGOOD = 0x01
PTRACE_O_TRACEFORK = 0x02
PTRACE_O_TRACEVFORK = 0x04
PTRACE_O_TRACECLONE = 0x08
PTRACE_O_TRACEEXEC = 0x10
PTRACE_O_TRACESECCOMP = 0x80
PTRACE_O_EXITKILL = 0x100000
PTRACE_EVENT_FORK, PTRACE_EVENT_VFORK, PTRACE_EVENT_CLONE, PTRACE_EVENT_EXEC = 1, 2, 3, 4
PTRACE_EVENT_SECCOMP = 7
PTRACE_EVENT_STOP = 128
SYSCALL_INFO_ENTRY, SYSCALL_INFO_EXIT, SYSCALL_INFO_SECCOMP = 1, 2, 3
WALL = 0x40000000
"""``__WALL``: wait for threads and non-child tracees too."""
NT_PRSTATUS = 1
NT_ARM_SYSTEM_CALL = 0x404
PR_SET_NO_NEW_PRIVS = 38
PR_SET_SECCOMP = 22
SECCOMP_MODE_FILTER = 2
SECCOMP_RET_KILL_PROCESS = 0x80000000
SECCOMP_RET_TRACE = 0x7FF00000
SECCOMP_RET_ALLOW = 0x7FFF0000
_BPF_LD_W_ABS = 0x20
_BPF_JEQ_K = 0x15
_BPF_RET_K = 0x06

OPTIONS = (
    PTRACE_O_TRACESYSGOOD
    | PTRACE_O_TRACEFORK
    | PTRACE_O_TRACEVFORK
    | PTRACE_O_TRACECLONE
    | PTRACE_O_TRACEEXEC
    | PTRACE_O_EXITKILL
)
_GROUP_STOP_SIGNALS = frozenset({signal.SIGSTOP, signal.SIGTSTP, signal.SIGTTIN, signal.SIGTTOU})
_FORK_EVENTS = frozenset({PTRACE_EVENT_FORK, PTRACE_EVENT_VFORK, PTRACE_EVENT_CLONE})
_MSG_FASTOPEN = 0x20000000
"""A TCP send with an address only connects with this flag; otherwise the kernel ignores it."""


class TracerError(AirgapError):
    """The ptrace supervisor cannot run here (see ``airgap egress doctor``)."""


# --- system-call tables ------------------------------------------------------------------------
AUDIT_ARCH_X86_64 = 0xC000003E
AUDIT_ARCH_I386 = 0x40000003
AUDIT_ARCH_AARCH64 = 0xC00000B7
AUDIT_ARCH_ARM = 0x40000028
_X32 = 0x40000000


@dataclass(frozen=True, slots=True)
class Call:
    """One traced system call of one ABI: what it is and how wide the ABI's pointers are."""

    name: str
    """``connect``, ``sendto``, ``sendmsg``, ``sendmmsg``, ``socketcall`` or ``io_uring_setup``."""
    pointer: int
    """Bytes per pointer and ``size_t`` in this ABI's structures (8, or 4 for 32-bit code)."""


def _table(pointer: int, **numbers: int) -> dict[int, Call]:
    return {number: Call(name, pointer) for name, number in numbers.items()}


ARCH_TABLES: dict[str, dict[int, dict[int, Call]]] = {
    # The 64-bit ABI and x32 (numbers with bit 30) share an audit arch; i386 code (int 0x80, or
    # a 32-bit binary) is its own arch and must be filtered too, or it walks around the filter.
    "x86_64": {
        AUDIT_ARCH_X86_64: {
            **_table(8, connect=42, sendto=44, sendmsg=46, sendmmsg=307, io_uring_setup=425),
            **_table(
                4,
                connect=_X32 | 42,
                sendto=_X32 | 44,
                sendmsg=_X32 | 518,
                sendmmsg=_X32 | 538,
                io_uring_setup=_X32 | 425,
            ),
        },
        AUDIT_ARCH_I386: _table(
            4,
            socketcall=102,
            connect=362,
            sendto=369,
            sendmsg=370,
            sendmmsg=345,
            io_uring_setup=425,
        ),
    },
    "aarch64": {
        AUDIT_ARCH_AARCH64: _table(
            8, connect=203, sendto=206, sendmsg=211, sendmmsg=269, io_uring_setup=425
        ),
        AUDIT_ARCH_ARM: _table(
            4, connect=283, sendto=290, sendmsg=296, sendmmsg=374, io_uring_setup=425
        ),
    },
}
SOCKETCALL = {3: "connect", 11: "sendto", 16: "sendmsg", 20: "sendmmsg"}
"""``socketcall`` sub-calls (i386) that name a destination, by number."""
_SOCKETCALL_ARGS = {"connect": 3, "sendto": 6, "sendmsg": 3, "sendmmsg": 4}


def seccomp_program(tables: dict[int, dict[int, Call]]) -> bytes:
    """The classic-BPF filter: stop (``SECCOMP_RET_TRACE``) only at calls that can name a
    destination; a ``sendto`` without an address (every ``send()`` on a TCP socket) runs free.
    An unknown audit arch is killed: it could only be code trying to bypass the table.
    """
    code: list[tuple[int, str | None, str | None, int]] = []
    labels: dict[str, int] = {}

    def load(offset: int) -> None:
        code.append((_BPF_LD_W_ABS, None, None, offset))

    def jeq(value: int, then: str | None, otherwise: str | None = None) -> None:
        code.append((_BPF_JEQ_K, then, otherwise, value))

    def ret(label: str, value: int) -> None:
        labels[label] = len(code)
        code.append((_BPF_RET_K, None, None, value))

    def args(index: int, high: bool = False) -> int:
        return 16 + 8 * index + (4 if high else 0)  # struct seccomp_data, little endian

    load(4)  # arch
    for arch in tables:
        jeq(arch, f"arch{arch}")
    code.append((_BPF_RET_K, None, None, SECCOMP_RET_KILL_PROCESS))
    for arch, calls in tables.items():
        labels[f"arch{arch}"] = len(code)
        load(0)  # nr
        for number, call in calls.items():
            target = {"sendto": f"sendto{arch}", "socketcall": f"socketcall{arch}"}
            jeq(number, target.get(call.name, "trace"))
        jeq(0, "allow", "allow")
        if any(c.name == "sendto" for c in calls.values()):
            labels[f"sendto{arch}"] = len(code)
            load(args(4))
            jeq(0, None, "trace")
            load(args(4, high=True))
            jeq(0, "allow", "trace")
        if any(c.name == "socketcall" for c in calls.values()):
            labels[f"socketcall{arch}"] = len(code)
            load(args(0))
            for number in SOCKETCALL:
                jeq(number, "trace")
            jeq(0, "allow", "allow")
    ret("allow", SECCOMP_RET_ALLOW)
    ret("trace", SECCOMP_RET_TRACE)
    out = bytearray()
    for index, (op, then, otherwise, k) in enumerate(code):
        jt = labels[then] - index - 1 if then else 0
        jf = labels[otherwise] - index - 1 if otherwise else 0
        if not (0 <= jt <= 255 and 0 <= jf <= 255):
            raise ValueError("seccomp program too long for a BPF jump")
        out += struct.pack("=HBBI", op, jt, jf, k)
    return bytes(out)


# --- libc bindings -----------------------------------------------------------------------------
_libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6", use_errno=True)
_libc.ptrace.restype = ctypes.c_long
_libc.ptrace.argtypes = [ctypes.c_long, ctypes.c_long, ctypes.c_ulong, ctypes.c_ulong]
_process_vm_readv = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6", use_errno=True)[
    "process_vm_readv"
]
_process_vm_readv.restype = ctypes.c_ssize_t
# No argtypes: every argument is passed as a ready ctypes object, which is 2.5x faster per call.
_libc.prctl.restype = ctypes.c_int
_libc.prctl.argtypes = [
    ctypes.c_int,
    ctypes.c_ulong,
    ctypes.c_ulong,
    ctypes.c_ulong,
    ctypes.c_ulong,
]
_WORD = (1 << 64) - 1


class _Iovec(ctypes.Structure):
    _fields_ = [("base", ctypes.c_void_p), ("length", ctypes.c_size_t)]


class _SockFprog(ctypes.Structure):
    _fields_ = [("length", ctypes.c_ushort), ("filter", ctypes.c_void_p)]


def ptrace(request: int, pid: int, addr: int = 0, data: int = 0) -> int:
    """ptrace(2); OSError on failure (no PEEK request is used, so -1 is always an error)."""
    result = int(_libc.ptrace(request, pid, addr & _WORD, data & _WORD))
    if result == -1:
        code = ctypes.get_errno()
        raise OSError(code, os.strerror(code))
    return result


def install_filter(program: bytes) -> None:
    """no_new_privs + the seccomp filter for the calling process (and all it will start).

    no_new_privs is what lets an unprivileged process install a filter; under ptrace a setuid
    program gains no privilege anyway, so the workload loses nothing it had.
    """
    buffer = ctypes.create_string_buffer(program, len(program))
    prog = _SockFprog(len(program) // 8, ctypes.addressof(buffer))
    for option, arg in (
        (PR_SET_NO_NEW_PRIVS, 1),
        (PR_SET_SECCOMP, SECCOMP_MODE_FILTER),
    ):
        value = ctypes.addressof(prog) if option == PR_SET_SECCOMP else 0
        if _libc.prctl(option, arg, value, 0, 0) != 0:
            code = ctypes.get_errno()
            raise OSError(code, f"prctl({option}): {os.strerror(code)}")


_READ_BUFFER = 4096
"""Bytes of tracee memory one read usually needs at most (a sockaddr, a few msghdrs)."""
_INFO = struct.Struct("=BxxxIQQ")
_INFO_CALL = struct.Struct("=Q6Q")
_INFO_SIZE = 88


@dataclass(frozen=True, slots=True)
class SyscallInfo:
    """What PTRACE_GET_SYSCALL_INFO says about a stopped tracee."""

    op: int
    arch: int
    nr: int
    args: tuple[int, ...]


class _Kernel:
    """The per-stop system calls, with their buffers allocated once."""

    def __init__(self) -> None:
        self._info = ctypes.create_string_buffer(_INFO_SIZE)
        self._info_address = ctypes.addressof(self._info)
        self._message = ctypes.c_ulong()
        self._vm_read = True
        self._regs = ctypes.create_string_buffer(512)
        self._number = ctypes.c_int(-1)
        self._buffer = ctypes.create_string_buffer(_READ_BUFFER)
        self._local = (ctypes.c_size_t * 2)(ctypes.addressof(self._buffer), 0)
        self._remote = (ctypes.c_size_t * 2)(0, 0)
        self._one = ctypes.c_ulong(1)
        self._zero = ctypes.c_ulong(0)

    def syscall_info(self, tid: int) -> SyscallInfo:
        ptrace(PTRACE_GET_SYSCALL_INFO, tid, _INFO_SIZE, self._info_address)
        op, arch, _ip, _sp = _INFO.unpack_from(self._info, 0)
        nr, *args = _INFO_CALL.unpack_from(self._info, 24)
        return SyscallInfo(op, arch, nr, tuple(args))

    def event_message(self, tid: int) -> int:
        ptrace(PTRACE_GETEVENTMSG, tid, 0, ctypes.addressof(self._message))
        return int(self._message.value)

    def read(self, pid: int, address: int, size: int) -> bytes:
        """``size`` bytes of the tracee's memory (fewer at the end of a mapping)."""
        if size <= 0 or address == 0:
            return b""
        if self._vm_read:
            buffer, local = self._buffer, self._local
            if size > _READ_BUFFER:  # a long sendmmsg vector: a buffer of its own
                buffer = ctypes.create_string_buffer(size)
                local = (ctypes.c_size_t * 2)(ctypes.addressof(buffer), 0)
            local[1] = self._remote[1] = size
            self._remote[0] = address
            one = self._one
            got = _process_vm_readv(ctypes.c_int(pid), local, one, self._remote, one, self._zero)
            if got >= 0:
                return cast(bytes, buffer[:got])  # a c_char array slices to bytes
            if ctypes.get_errno() not in (errno.ENOSYS, errno.EPERM):
                return b""
            self._vm_read = False  # refused by a seccomp profile: /proc/PID/mem still works
        try:
            fd = os.open(f"/proc/{pid}/mem", os.O_RDONLY | os.O_CLOEXEC)
        except OSError:
            return b""
        try:
            return os.pread(fd, size, address)
        except OSError:
            return b""
        finally:
            os.close(fd)

    @staticmethod
    def write(pid: int, address: int, data: bytes) -> bool:
        """Write the tracee's memory through /proc/PID/mem (as its tracer we may)."""
        try:
            fd = os.open(f"/proc/{pid}/mem", os.O_WRONLY | os.O_CLOEXEC)
        except OSError:
            return False
        try:
            return os.pwrite(fd, data, address) == len(data)
        except OSError:
            return False
        finally:
            os.close(fd)

    def fail(self, tid: int, code: int) -> None:
        """Skip the system call the tracee is entering; it returns ``-code``."""
        if MACHINE == "x86_64":
            # user_regs_struct: rax is word 10, orig_rax word 15 (the 64-bit view, also for
            # i386 code). orig_rax = -1 skips the call; rax is then its return value.
            ptrace(PTRACE_POKEUSER, tid, 15 * 8, -1)
            ptrace(PTRACE_POKEUSER, tid, 10 * 8, -code)
            return
        # aarch64: x0 (or r0 of arm32 code: the regset view follows the tracee) holds the
        # return value; NT_ARM_SYSTEM_CALL = -1 skips the call.
        iov = _Iovec(ctypes.addressof(self._regs), len(self._regs))
        ptrace(PTRACE_GETREGSET, tid, NT_PRSTATUS, ctypes.addressof(iov))
        word = 8 if iov.length >= 34 * 8 else 4
        value = (-code & ((1 << (8 * word)) - 1)).to_bytes(word, sys.byteorder)
        ctypes.memmove(self._regs, value, word)
        ptrace(PTRACE_SETREGSET, tid, NT_PRSTATUS, ctypes.addressof(iov))
        number = _Iovec(ctypes.addressof(self._number), ctypes.sizeof(self._number))
        ptrace(PTRACE_SETREGSET, tid, NT_ARM_SYSTEM_CALL, ctypes.addressof(number))


def arch_tables() -> dict[int, dict[int, Call]]:
    """The system-call tables of this machine; TracerError where the rung cannot work."""
    if not sys.platform.startswith("linux"):
        raise TracerError("the ptrace rung needs Linux")
    tables = ARCH_TABLES.get(MACHINE)
    if tables is None or struct.calcsize("P") != 8:
        raise TracerError(
            f"the ptrace rung supports x86_64 and aarch64 (64-bit Python), not {MACHINE}",
            hint="use --mode python-hooks, or a machine where `airgap egress doctor` passes",
        )
    release = platform.release().split("-")[0].split(".")
    try:
        version = (int(release[0]), int(release[1]))
    except (IndexError, ValueError):
        version = MIN_KERNEL
    if version < MIN_KERNEL:
        raise TracerError(
            f"the ptrace rung needs Linux {MIN_KERNEL[0]}.{MIN_KERNEL[1]} or newer "
            f"(PTRACE_GET_SYSCALL_INFO), this is {platform.release()}"
        )
    return tables


# --- socket addresses --------------------------------------------------------------------------
_V4_MAPPED = bytes(10) + b"\xff\xff"
_LOOPBACK_V4 = socket.inet_aton("127.0.0.1")
_LOOPBACK_V6 = socket.inet_pton(socket.AF_INET6, "::1")


@dataclass(frozen=True, slots=True)
class Target:
    """A destination read from a tracee's sockaddr."""

    family: int
    address: str = ""
    """Canonical IP text; a v4-mapped IPv6 address reads as IPv4."""
    port: int = 0
    path: str = ""
    """The path of an AF_UNIX address (``@name`` for an abstract one)."""
    mapped: bool = False

    @property
    def local(self) -> bool:
        """Loopback or unspecified (which Linux connects to the local host)."""
        return self.address.startswith("127.") or self.address in ("0.0.0.0", "::1", "::")


def _plain_loopback(raw: bytes, sinkhole_port: int) -> bool:
    """An IPv4/IPv6 loopback destination that is neither DNS nor the sinkhole (little endian)."""
    if len(raw) < 8 or raw[1] != 0:
        return False
    port = (raw[2] << 8) | raw[3]
    if port in (DNS_PORT, sinkhole_port):
        return False
    if raw[0] == socket.AF_INET:
        return raw[4] == 127
    return raw[0] == socket.AF_INET6 and len(raw) >= 24 and raw[8:24] == _LOOPBACK_V6


def parse_sockaddr(raw: bytes) -> Target | None:
    """The destination in a sockaddr as the tracee passed it; None when it is too short."""
    if len(raw) < 2:
        return None
    family = int.from_bytes(raw[:2], sys.byteorder)
    if family == socket.AF_INET:
        if len(raw) < 8:
            return None
        return Target(family, socket.inet_ntoa(raw[4:8]), int.from_bytes(raw[2:4], "big"))
    if family == socket.AF_INET6:
        if len(raw) < 24:
            return None
        port = int.from_bytes(raw[2:4], "big")
        if raw[8:20] == _V4_MAPPED:
            return Target(family, socket.inet_ntoa(raw[20:24]), port, mapped=True)
        return Target(family, socket.inet_ntop(socket.AF_INET6, raw[8:24]), port)
    if family == socket.AF_UNIX:
        body = raw[2:]
        if body[:1] == b"\0":
            return Target(family, path="@" + body[1:].split(b"\0")[0].decode(errors="replace"))
        return Target(family, path=body.split(b"\0")[0].decode(errors="replace"))
    return Target(family)


_PROTOCOLS = {
    "TCP": "tcp",
    "TCPv6": "tcp",
    "MPTCP": "tcp",
    "MPTCPv6": "tcp",
    "UDP": "udp",
    "UDPv6": "udp",
    "UDP-Lite": "udp",
    "UDPLITEv6": "udp",
    "PING": "icmp",
    "PINGv6": "icmp",
    "RAW": "raw",
    "RAWv6": "raw",
    "SCTP": "sctp",
    "SCTPv6": "sctp",
}


def socket_protocol(tid: int, fd: int) -> str:
    """``tcp``/``udp``/``icmp``... of the tracee's socket, from the ``system.sockprotoname``
    attribute the kernel gives every socket: one call, no pidfd_getfd (which Docker refuses)."""
    try:
        raw = os.getxattr(f"/proc/{tid}/fd/{fd}", "system.sockprotoname")
    except OSError:
        return "tcp"
    name = raw.rstrip(b"\0").decode(errors="replace")
    return _PROTOCOLS.get(name, name.lower() or "tcp")


def _socket_inode(tid: int, fd: int) -> int:
    try:
        link = os.readlink(f"/proc/{tid}/fd/{fd}")
    except OSError:
        return 0
    return int(link[8:-1]) if link.startswith("socket:[") else 0


def _local_udp_port(tid: int, inode: int) -> int:
    """Local port of the tracee's UDP socket ``inode`` (from its netns's /proc tables), or 0."""
    wanted = str(inode)
    for table in ("udp", "udp6"):
        try:
            with open(f"/proc/{tid}/net/{table}", encoding="ascii", errors="replace") as lines:
                for line in lines:
                    fields = line.split()
                    if len(fields) > 9 and fields[9] == wanted:
                        return int(fields[1].rsplit(":", 1)[1], 16)
        except (OSError, ValueError, IndexError):
            continue
    return 0


def _resolvers() -> frozenset[str]:
    """Nameservers of /etc/resolv.conf: queries to them are the normal path, not direct-ip."""
    found = set()
    try:
        text = Path("/etc/resolv.conf").read_text(encoding="utf-8", errors="replace")
    except OSError:
        text = ""
    for line in text.splitlines():
        parts = line.split()
        if len(parts) >= 2 and parts[0] == "nameserver":
            with contextlib.suppress(ValueError):
                found.add(str(ipaddress.ip_address(parts[1].split("%")[0])))
    return frozenset(found)


# --- the DNS sinkhole --------------------------------------------------------------------------
class Sinkhole:
    """UDP and TCP DNS on 127.0.0.1:PORT (and [::1]:PORT when the host has IPv6 loopback).

    Serves from its own thread, so a workload blocked in a lookup never depends on the tracer.
    """

    def __init__(self, answer: Callable[[bytes, str, str, int, int, SockDiag], bytes]) -> None:
        self._answer = answer
        self.udp4, self.tcp4 = _bind_pair(socket.AF_INET, "127.0.0.1")
        self.port = self.udp4.getsockname()[1]
        self.udp6: socket.socket | None = None
        self.tcp6: socket.socket | None = None
        with contextlib.suppress(OSError):
            self.udp6, self.tcp6 = _bind_pair(socket.AF_INET6, "::1", self.port)
        self._wake_r, self._wake_w = os.pipe()
        self._thread = threading.Thread(target=self._serve, name="airgap-dns-sinkhole", daemon=True)

    @property
    def sockets(self) -> list[socket.socket]:
        """Every listening socket."""
        return [s for s in (self.udp4, self.tcp4, self.udp6, self.tcp6) if s is not None]

    def start(self) -> None:
        """Serve in the background."""
        self._thread.start()

    def stop(self) -> None:
        """Stop serving and close the sockets."""
        if self._thread.is_alive():
            os.write(self._wake_w, b"x")
            self._thread.join(timeout=5)
        for sock in self.sockets:
            sock.close()
        os.close(self._wake_r)
        os.close(self._wake_w)

    def _serve(self) -> None:
        diag = SockDiag.open()
        try:
            by_fd = {sock.fileno(): sock for sock in self.sockets}
            watched = [self._wake_r, *by_fd]
            stopping = False
            while True:
                # Once told to stop, whatever the workload sent before it ended is still served.
                ready, _, _ = select.select(watched, [], [], 0 if stopping else None)
                if self._wake_r in ready:
                    stopping = True
                    watched.remove(self._wake_r)
                    continue
                if stopping and not ready:
                    return
                for fd in ready:
                    sock = by_fd[fd]
                    try:
                        if sock.type == socket.SOCK_DGRAM:
                            self._datagram(sock, diag)
                        else:
                            self._stream(sock, diag)
                    except Exception:  # a dead sinkhole would hang every later lookup
                        _log.warning("DNS sinkhole: a query could not be served", exc_info=True)
        finally:
            diag.close()

    def _datagram(self, sock: socket.socket, diag: SockDiag) -> None:
        try:
            data, peer = sock.recvfrom(4096)
        except OSError:
            return
        reply = self._answer(data, "udp", peer[0], peer[1], self.port, diag)
        if reply:
            with contextlib.suppress(OSError):
                sock.sendto(reply, peer)

    def _stream(self, listener: socket.socket, diag: SockDiag) -> None:
        try:
            conn, peer = listener.accept()
        except OSError:
            return
        with conn:
            conn.settimeout(2.0)
            try:
                while True:
                    head = _recv_exactly(conn, 2)
                    if len(head) < 2:
                        return
                    data = _recv_exactly(conn, int.from_bytes(head, "big"))
                    reply = self._answer(data, "tcp", peer[0], peer[1], self.port, diag)
                    if not reply:
                        return
                    conn.sendall(len(reply).to_bytes(2, "big") + reply)
            except OSError:
                return


def _recv_exactly(conn: socket.socket, size: int) -> bytes:
    data = b""
    while len(data) < size:
        chunk = conn.recv(size - len(data))
        if not chunk:
            break
        data += chunk
    return data


def _bind_pair(family: int, host: str, port: int = 0) -> tuple[socket.socket, socket.socket]:
    """A UDP and a TCP socket on the same loopback port (retried: the UDP port may be taken
    for TCP)."""
    for _ in range(20):
        udp = socket.socket(family, socket.SOCK_DGRAM | socket.SOCK_CLOEXEC)
        tcp = socket.socket(family, socket.SOCK_STREAM | socket.SOCK_CLOEXEC)
        try:
            udp.bind((host, port))
            tcp.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            tcp.bind((host, udp.getsockname()[1]))
            tcp.listen(64)
            udp.setblocking(False)
            return udp, tcp
        except OSError:
            udp.close()
            tcp.close()
            if port:
                raise
    raise TracerError("cannot bind the DNS sinkhole on loopback")


# --- the supervisor ----------------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class _Redirect:
    """A workload socket the supervisor pointed at the sinkhole, and what it was meant for."""

    pid: int
    purpose: str
    """``dns`` (answered) or ``udp`` (a connected UDP socket: each datagram is an attempt)."""
    address: str = ""
    """The destination the workload asked for; empty when it addressed the sinkhole itself."""
    port: int | None = None


class Supervisor:
    """Runs one workload under ptrace; ``attempts`` is the evidence, in order.

    Tracees report through ``waitpid(-1, __WALL)``, which also reaps any other child of the
    calling process: run it where the workload is the only child (the CLI, a forked helper).
    """

    def __init__(
        self,
        argv: list[str],
        *,
        is_allowed: Callable[[str, str | None, str | None, int | None], bool] | None = None,
        nxdomain: bool = False,
        use_seccomp: bool = True,
    ) -> None:
        self.calls = arch_tables()
        if not argv:
            raise TracerError("no command to run")
        self.argv = list(argv)
        self.is_allowed = is_allowed
        self.nxdomain = nxdomain
        self.use_seccomp = use_seccomp
        self.seccomp_active = False
        self.attempts: list[Attempt] = []
        self.stops = 0
        """Syscall stops handled (seccomp mode: only the traced calls; else every call)."""
        self.names = packets.SyntheticAddresses()
        self.real_names: dict[str, str] = {}
        """Real address -> allowlisted name the sinkhole resolved upstream."""
        self.started = time.monotonic()
        self._kernel = _Kernel()
        self._lock = threading.Lock()
        """Attempts, the name books and the process table are shared with the sinkhole."""
        self._table: ProcessTable | None = None
        self._root = 0
        self._restart = PTRACE_CONT
        self._live: set[int] = set()
        """Every tid known to be traced and not yet reported dead."""
        self._tgids: dict[int, int] = {}
        self._parents: dict[int, int] = {}
        """tgid -> tgid of the process that forked it (the real lineage, whatever reparenting
        a daemon does)."""
        self._chains: dict[int, tuple[Process, ...]] = {}
        self._redirects: dict[int, _Redirect] = {}
        self._udp_by_port: dict[int, _Redirect] = {}
        """Connected UDP sockets by their local port, learnt when connect() returns: a datagram
        whose socket closed before the sinkhole read it is still attributed (its process exited
        right after sending: the case a busy machine makes common)."""
        self._udp_pending: dict[int, tuple[int, _Redirect]] = {}
        """Socket inode -> who was pointed at the sinkhole with it, and why."""
        self._restore: dict[int, list[tuple[int, bytes]]] = {}
        """tid -> (address, original bytes) to write back at the exit of its current call."""
        self._resolvers = _resolvers()
        self._finishing = False
        self._sinkhole: Sinkhole | None = None

    # --- lifecycle ---------------------------------------------------------------------------
    def run(self) -> int:
        """Run the workload to its end; its raw wait status. Leftover processes are killed."""
        self._sinkhole = Sinkhole(self._dns_answer)
        try:
            self._root = self._spawn()
            self._table = ProcessTable(self._root)
            self._sinkhole.start()
            return self._serve()
        finally:
            self._kill_all()
            self._reap_leftovers()
            self._sinkhole.stop()

    def _spawn(self) -> int:
        """Fork, seize, let the child install the filter and exec; the child's pid."""
        program = seccomp_program(self.calls)
        go_r, go_w = os.pipe()
        mode_r, mode_w = os.pipe()
        sys.stdout.flush()
        sys.stderr.flush()
        pid = os.fork()
        if pid == 0:  # the workload: never returns
            os.close(go_w)
            os.close(mode_r)
            self._child(go_r, mode_w, program)
        os.close(go_r)
        os.close(mode_w)
        options = OPTIONS | (PTRACE_O_TRACESECCOMP if self.use_seccomp else 0)
        try:
            ptrace(PTRACE_SEIZE, pid, 0, options)
        except OSError as exc:
            os.kill(pid, signal.SIGKILL)
            os.waitpid(pid, 0)
            os.close(go_w)
            os.close(mode_r)
            raise TracerError(
                f"ptrace of the workload is not permitted here: {exc.strerror}",
                hint="see `airgap egress doctor` (kernel.yama.ptrace_scope, seccomp, AppArmor)",
            ) from None
        self.started = time.monotonic()
        self._live.add(pid)
        os.write(go_w, b"g")
        os.close(go_w)
        mode = os.read(mode_r, 1)
        os.close(mode_r)
        self.seccomp_active = mode == b"s"
        self._restart = PTRACE_CONT if self.seccomp_active else PTRACE_SYSCALL
        return pid

    def _child(self, go: int, mode: int, program: bytes) -> None:
        status = 125
        try:
            for sig in (signal.SIGPIPE, signal.SIGXFSZ):  # Python ignores them; a program not
                signal.signal(sig, signal.SIG_DFL)
            if os.read(go, 1) == b"g":
                answer = b"n"
                if self.use_seccomp:
                    try:
                        install_filter(program)
                        answer = b"s"
                    except OSError:
                        answer = b"f"  # no seccomp here: every syscall will stop instead
                os.write(mode, answer)
                os.close(mode)
                os.close(go)
                status = 126
                os.execvp(self.argv[0], self.argv)
        except FileNotFoundError:
            os.write(2, f"airgap: {self.argv[0]}: command not found\n".encode())
            status = 127
        except OSError as exc:
            os.write(2, f"airgap: {self.argv[0]}: {exc.strerror}\n".encode())
        except BaseException:  # never run the parent's code in the child
            status = 125
        os._exit(status)

    def _serve(self) -> int:
        root_status = 0
        deadline = 0.0
        idle_since = 0.0
        while True:
            try:
                tid, status = os.waitpid(-1, WALL | os.WNOHANG)
                if tid == 0 and not self._finishing:
                    now = time.perf_counter()
                    if not idle_since:
                        idle_since = now
                    if now - idle_since < SPIN_SECONDS:
                        os.sched_yield()  # let a tracee sharing this core run meanwhile
                        continue
                    idle_since = 0.0
                    tid, status = os.waitpid(-1, WALL)
            except ChildProcessError:
                return root_status
            idle_since = 0.0
            if tid == 0:  # finishing and nothing reported yet
                if not self._live or time.monotonic() > deadline:
                    return root_status
                time.sleep(0.001)
                continue
            if os.WIFEXITED(status) or os.WIFSIGNALED(status):
                self._gone(tid)
                if tid == self._root:
                    root_status = status
                    self._finishing = True
                    deadline = time.monotonic() + FINISH_SECONDS
                    self._kill_all()
                if self._finishing and not self._live:
                    return root_status
            elif os.WIFSTOPPED(status):
                self._stopped(tid, status)

    def _stopped(self, tid: int, status: int) -> None:
        self._live.add(tid)
        sig = os.WSTOPSIG(status)
        event = status >> 16
        if self._finishing:
            if event in _FORK_EVENTS:
                with contextlib.suppress(OSError):
                    self._live.add(self._kernel.event_message(tid))
            self._kill_all()
            return
        inject = 0
        try:
            if sig == signal.SIGTRAP | 0x80 or event == PTRACE_EVENT_SECCOMP:
                self.stops += 1
                self._syscall(tid)
            elif event in _FORK_EVENTS:
                child = self._kernel.event_message(tid)
                self._live.add(child)
                self._parents[child] = self._tgid(tid)  # a reused pid gets its new parent
            elif event == PTRACE_EVENT_EXEC:
                former = self._kernel.event_message(tid)
                if former != tid:
                    self._live.discard(former)
                    self._tgids.pop(former, None)
                self._chains.pop(tid, None)
                with self._lock:
                    self._process_table().process(tid)  # keep its command line
            elif event == PTRACE_EVENT_STOP:
                if sig in _GROUP_STOP_SIGNALS:
                    ptrace(PTRACE_LISTEN, tid)
                    return
            elif event == 0:
                inject = sig  # a signal for the tracee: deliver it
        except ProcessLookupError:
            return  # killed meanwhile (SIGKILL needs no restart)
        restart = PTRACE_SYSCALL if tid in self._restore else self._restart
        with contextlib.suppress(ProcessLookupError):
            ptrace(restart, tid, 0, inject)

    def _gone(self, tid: int) -> None:
        self._live.discard(tid)
        self._restore.pop(tid, None)
        self._udp_pending.pop(tid, None)
        self._tgids.pop(tid, None)
        self._chains.pop(tid, None)

    def _kill_all(self) -> None:
        for tid in list(self._live):
            try:
                os.kill(tid, signal.SIGKILL)
            except ProcessLookupError:
                self._live.discard(tid)

    def _reap_leftovers(self) -> None:
        """After an interrupted run: collect the killed tracees' deaths (bounded)."""
        deadline = time.monotonic() + 2.0
        while self._live and time.monotonic() < deadline:
            try:
                tid, status = os.waitpid(-1, WALL | os.WNOHANG)
            except ChildProcessError:
                return
            if tid == 0:
                time.sleep(0.001)
            elif os.WIFEXITED(status) or os.WIFSIGNALED(status):
                self._gone(tid)

    # --- one system call ---------------------------------------------------------------------
    def _syscall(self, tid: int) -> None:
        info = self._kernel.syscall_info(tid)
        if info.op == SYSCALL_INFO_EXIT:
            for address, original in self._restore.pop(tid, ()):
                self._kernel.write(tid, address, original)
            pending = self._udp_pending.pop(tid, None)
            if pending is not None:
                port = _local_udp_port(tid, pending[0])
                if port:
                    with self._lock:
                        self._udp_by_port[port] = pending[1]
            return
        if info.op not in (SYSCALL_INFO_ENTRY, SYSCALL_INFO_SECCOMP):
            return
        table = self.calls.get(info.arch)
        call = table.get(info.nr) if table is not None else None
        if call is None:
            return
        name, args = call.name, info.args
        if name == "socketcall":
            name = SOCKETCALL.get(args[0], "")
            if not name:
                return
            raw = self._kernel.read(tid, args[1], 4 * _SOCKETCALL_ARGS[name])
            if len(raw) < 4 * _SOCKETCALL_ARGS[name]:
                return
            args = struct.unpack(f"={_SOCKETCALL_ARGS[name]}I", raw)
        if name == "io_uring_setup":
            self._record(tid, "io_uring", "io_uring", "io_uring_setup", "", None, DENIED)
            self._kernel.fail(tid, errno.ENOSYS)
            return
        fd = args[0]
        names: list[tuple[int, int]] = []  # (pointer, length) of each sockaddr in the tracee
        flags = 0
        if name == "connect":
            names.append((args[1], args[2]))
        elif name == "sendto":
            names.append((args[4], args[5]))
            flags = args[3]
        elif name == "sendmsg":
            names += self._message_names(tid, args[1], 1, call.pointer, vector_of_mmsg=False)
            flags = args[2]
        elif name == "sendmmsg":
            count = min(args[2], 1024)  # the kernel's UIO_MAXIOV cap
            names += self._message_names(tid, args[1], count, call.pointer, vector_of_mmsg=True)
            flags = args[3]
        self._judge(tid, fd, name, flags, names)

    def _message_names(
        self, tid: int, vector: int, count: int, pointer: int, *, vector_of_mmsg: bool
    ) -> list[tuple[int, int]]:
        """msg_name/msg_namelen of ``count`` msghdrs (of mmsghdrs for sendmmsg)."""
        header = 7 * pointer  # name, namelen, iov, iovlen, control, controllen, flags (padded)
        stride = header + pointer if vector_of_mmsg else header  # mmsghdr adds msg_len, padded
        raw = self._kernel.read(tid, vector, stride * count)
        layout = struct.Struct("=QI" if pointer == 8 else "=II")
        found = []
        for offset in range(0, len(raw) - layout.size + 1, stride):
            address, length = layout.unpack_from(raw, offset)
            if address:
                found.append((address, length))
        return found

    def _judge(
        self, tid: int, fd: int, call: str, flags: int, names: list[tuple[int, int]]
    ) -> None:
        """Decide every destination of one call: pass, redirect to the sinkhole, or deny."""
        deny = 0
        rewrites: list[tuple[int, Target, str]] = []
        sinkhole_port = self._sinkhole.port if self._sinkhole is not None else 0
        for pointer, length in names:
            raw = self._kernel.read(tid, pointer, min(length, 128))
            if _plain_loopback(raw, sinkhole_port):
                continue  # the common case, decided on the bytes
            target = parse_sockaddr(raw)
            if target is None:
                continue
            if target.family == socket.AF_UNIX:
                if target.path.startswith(MASKED_SOCKET_DIRS):
                    deny = deny or errno.ECONNREFUSED
                continue
            if target.family not in (socket.AF_INET, socket.AF_INET6):
                continue
            sinkhole = self._sinkhole
            if target.local and sinkhole is not None and target.port == sinkhole.port:
                self._register(tid, fd, "dns", "", None)
                continue
            if target.local and target.port != DNS_PORT:
                continue
            protocol = socket_protocol(tid, fd)
            if protocol == "tcp" and call != "connect" and not flags & _MSG_FASTOPEN:
                continue  # the kernel ignores the address of a send on a TCP socket
            if target.port == DNS_PORT and protocol in ("tcp", "udp"):
                rewrites.append((pointer, target, "dns"))
                if not target.local and target.address not in self._resolvers:
                    # A hard-coded resolver: the query still reaches the sinkhole (so the name is
                    # known); the resolver address itself is a direct-ip finding, as in rung 1.
                    self._record(tid, protocol, "direct-ip", None, target.address, DNS_PORT, DENIED)
                continue
            if protocol == "udp" and call == "connect":
                # A UDP connect sends nothing, and getaddrinfo() makes one per candidate address
                # to sort them: recording it would invent egress. The socket is pointed at the
                # sinkhole instead; what it really sends there is recorded.
                if not self._verdict(protocol, target)[1]:
                    rewrites.append((pointer, target, "udp"))
                continue
            if self._decide(tid, protocol, target) == DENIED:
                deny = DENY_ERRNO
        if deny:
            self._kernel.fail(tid, deny)
            return
        for pointer, target, purpose in rewrites:
            self._redirect(tid, fd, pointer, target, purpose)

    def _verdict(self, protocol: str, target: Target) -> tuple[str | None, bool]:
        """(name the sinkhole gave the address, or None; whether the allowlist opens it)."""
        with self._lock:
            name = self.names.name_for(target.address) or self.real_names.get(target.address)
            real = target.address in self.real_names
        port = target.port if protocol in ("tcp", "udp", "sctp") else None
        allowed = self.is_allowed is not None and self.is_allowed(
            protocol, name, target.address if real or name is None else None, port
        )
        return name, allowed

    def _decide(self, tid: int, protocol: str, target: Target) -> str:
        name, allowed = self._verdict(protocol, target)
        verdict = ALLOWED if allowed else DENIED
        port = target.port if protocol in ("tcp", "udp", "sctp") else None
        self._record(
            tid, protocol, protocol if name else "direct-ip", name, target.address, port, verdict
        )
        return verdict

    def _redirect(self, tid: int, fd: int, pointer: int, target: Target, purpose: str) -> None:
        """Point a sockaddr in the tracee's own memory at the sinkhole.

        DNS stays rewritten: the C library keeps its resolver's address there and checks that
        answers come from it. A UDP connect's address is put back when the call returns (it may
        be a getaddrinfo() result the program is about to use).
        """
        sinkhole = self._sinkhole
        assert sinkhole is not None
        port = sinkhole.port.to_bytes(2, "big")
        if target.family == socket.AF_INET:
            data = port + _LOOPBACK_V4
        elif target.mapped or sinkhole.udp6 is None:
            data = port + bytes(4) + _V4_MAPPED + _LOOPBACK_V4
        else:
            data = port + bytes(4) + _LOOPBACK_V6
        address = "" if target.local else target.address
        self._register(tid, fd, purpose, address, target.port)
        if purpose == "udp":
            original = self._kernel.read(tid, pointer + 2, len(data))
            if len(original) != len(data):
                self._kernel.fail(tid, DENY_ERRNO)
                return
            self._restore.setdefault(tid, []).append((pointer + 2, original))
        if not self._kernel.write(tid, pointer + 2, data):
            self._restore.pop(tid, None)
            self._kernel.fail(tid, DENY_ERRNO)

    def _register(self, tid: int, fd: int, purpose: str, address: str, port: int | None) -> None:
        inode = _socket_inode(tid, fd)
        if inode:
            redirect = _Redirect(self._tgid(tid), purpose, address, port)
            with self._lock:
                if len(self._redirects) > 4096:
                    self._redirects.pop(next(iter(self._redirects)))
                self._redirects[inode] = redirect
            if purpose == "udp":
                self._udp_pending[tid] = (inode, redirect)

    # --- recording ---------------------------------------------------------------------------
    def _record(
        self,
        tid: int,
        protocol: str,
        kind: str,
        name: str | None,
        address: str,
        port: int | None,
        verdict: str,
    ) -> Attempt:
        return self._append(
            self._tgid(tid),
            Attempt(
                time=time.monotonic() - self.started,
                protocol=protocol,
                kind=kind,
                destination=name or address,
                address=address,
                port=port,
                verdict=verdict,
            ),
        )

    def _append(self, pid: int, attempt: Attempt) -> Attempt:
        """Attribute ``attempt`` to ``pid`` (0: unknown) and add it to the evidence."""
        with self._lock:
            chain = self._chain(pid) if pid else ()
            attempt.process = chain[-1] if chain else None
            attempt.chain = chain
            self.attempts.append(attempt)
        return attempt

    def _process_table(self) -> ProcessTable:
        if self._table is None:
            self._table = ProcessTable(self._root or os.getpid())
        return self._table

    def _chain(self, pid: int) -> tuple[Process, ...]:
        """Processes from the workload's root down to ``pid`` (call with the lock held)."""
        known = self._chains.get(pid)
        if known is not None:
            return known
        table = self._process_table()
        lineage = [pid]
        while lineage[-1] in self._parents and len(lineage) < 256:
            lineage.append(self._parents[lineage[-1]])
        chain = tuple(table.process(p) for p in reversed(lineage))
        if len(self._chains) > 4096:
            self._chains.clear()
        self._chains[pid] = chain
        return chain

    def _tgid(self, tid: int) -> int:
        known = self._tgids.get(tid)
        if known is not None:
            return known
        tgid = tid
        with contextlib.suppress(OSError, ValueError), open(f"/proc/{tid}/status", "rb") as status:
            for line in status:
                if line.startswith(b"Tgid:"):
                    tgid = int(line.split()[1])
                    break
        self._tgids[tid] = tgid
        return tgid

    # --- DNS ---------------------------------------------------------------------------------
    def _dns_answer(
        self, data: bytes, protocol: str, peer: str, peer_port: int, port: int, diag: SockDiag
    ) -> bytes:
        """Record what reached the sinkhole and answer it (runs in the sinkhole's thread)."""
        redirect = self._redirect_of(diag, protocol, peer, peer_port, port)
        now = time.monotonic() - self.started
        if redirect.purpose == "udp":
            family = socket.AF_INET6 if ":" in redirect.address else socket.AF_INET
            target = Target(family, redirect.address, redirect.port or 0)
            name, allowed = self._verdict("udp", target)
            attempt = Attempt(
                time=now,
                protocol="udp",
                kind="udp" if name else "direct-ip",
                destination=name or redirect.address,
                address=redirect.address,
                port=redirect.port,
                verdict=ALLOWED if allowed else DENIED,
            )
            self._append(redirect.pid, attempt)
            return b""  # dropped, as a firewall would
        query = packets.parse_dns_query(data)
        if query is None:
            return b""
        allowed = self.is_allowed is not None and self.is_allowed("dns", query.name, None, None)
        attempt = Attempt(
            time=now,
            protocol="dns",
            kind="dns",
            destination=query.name,
            address=redirect.address,
            qtype=packets.qtype_name(query.qtype),
            verdict=ALLOWED if allowed else DENIED,
        )
        self._append(redirect.pid, attempt)
        if allowed:
            return packets.dns_answer(query, self._resolve_upstream(query))
        if self.nxdomain:
            return packets.dns_nxdomain(query)
        addresses: list[str] = []
        with self._lock:
            if query.qtype in (1, 255):
                addresses.append(self.names.ipv4_for(query.name))
            if query.qtype in (28, 255):
                addresses.append(self.names.ipv6_for(query.name))
        return packets.dns_answer(query, addresses)

    def _redirect_of(
        self, diag: SockDiag, protocol: str, peer: str, peer_port: int, port: int
    ) -> _Redirect:
        """Which redirected socket sent this (sock_diag: the peer's socket inode)."""
        ip_protocol = socket.IPPROTO_UDP if protocol == "udp" else socket.IPPROTO_TCP
        local = "::1" if ":" in peer else "127.0.0.1"
        try:
            owner = diag.lookup(ip_protocol, peer, peer_port, local, port)
        except (OSError, ValueError):
            owner = None
        with self._lock:
            redirect = self._redirects.get(owner.inode) if owner is not None else None
            if redirect is None and owner is None and protocol == "udp":
                redirect = self._udp_by_port.get(peer_port)
        return redirect or _Redirect(0, "dns")

    def _resolve_upstream(self, query: packets.DnsQuery) -> list[str]:
        """Real addresses of an allowlisted name (the supervisor itself is not traced)."""
        family = {1: socket.AF_INET, 28: socket.AF_INET6}.get(query.qtype)
        if family is None:
            return []
        try:
            infos = socket.getaddrinfo(query.name, None, family, socket.SOCK_STREAM)
        except OSError:
            return []
        addresses = list(dict.fromkeys(str(info[4][0]) for info in infos))
        with self._lock:
            for address in addresses:
                self.real_names[address] = query.name
        return addresses


def run_traced(
    argv: list[str], options: AuditOptions | None = None, *, use_seccomp: bool = True
) -> EgressRun:
    """Run ``argv`` under the ptrace supervisor and record every outbound attempt."""
    from airgap_cli.egress.run import EgressRun

    supervisor = Supervisor(
        argv,
        is_allowed=options.is_allowed if options is not None else None,
        nxdomain=options.nxdomain if options is not None else False,
        use_seccomp=use_seccomp,
    )
    raw_status = supervisor.run()
    status = os.waitstatus_to_exitcode(raw_status)
    if status < 0:
        status = 128 - status
    return EgressRun(
        command=list(argv),
        exit_status=status,
        attempts=sorted(supervisor.attempts, key=lambda a: a.time),
        duration=time.monotonic() - supervisor.started,
        packets=0,
        rung=RUNG,
        guarantee=GUARANTEE,
        options={
            "nxdomain": supervisor.nxdomain,
            "seccomp": supervisor.seccomp_active,
            "syscall_stops": supervisor.stops,
        },
    )


# --- doctor ------------------------------------------------------------------------------------
_PROBE = (
    "import ctypes, errno, socket\n"
    "s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)\n"
    "s.connect(('192.0.2.1', 9))\n"
    "redirected = s.getpeername()[0] == '127.0.0.1'\n"
    "libc = ctypes.CDLL(None, use_errno=True)\n"
    "refused = libc.syscall(425, 1, ctypes.create_string_buffer(120)) == -1\n"
    "refused = refused and ctypes.get_errno() == errno.ENOSYS\n"
    "raise SystemExit(0 if redirected and refused else 3)\n"
)
"""Checks a redirect (sockaddr read and rewritten in the tracee) and a refusal (io_uring_setup,
return register set). Neither can send a packet if it failed: a UDP connect sends nothing."""


def diagnose() -> Check:
    """Whether rung ptrace works here: a real traced probe, plus the settings that explain a
    failure (yama ptrace_scope, seccomp)."""
    from airgap_cli.egress.doctor import Check

    try:
        scope = Path("/proc/sys/kernel/yama/ptrace_scope").read_text().strip()
    except OSError:
        scope = ""
    meaning = {
        "0": "yama ptrace_scope 0",
        "1": "yama ptrace_scope 1 (own descendants: enough)",
        "2": "yama ptrace_scope 2 (needs CAP_SYS_PTRACE)",
        "3": "yama ptrace_scope 3 (ptrace disabled)",
    }.get(scope, "no yama restriction")
    try:
        supervisor = Supervisor([sys.executable, "-S", "-c", _PROBE])
        status = supervisor.run()
    except (TracerError, OSError) as exc:
        detail = exc.diagnostics() if isinstance(exc, TracerError) else str(exc)
        return Check(
            "ptrace",
            False,
            f"rung ptrace unavailable: {detail}; {meaning}",
            "sysctl kernel.yama.ptrace_scope=1; in Docker, a seccomp profile allowing ptrace "
            "(the default one does on Linux 4.8+)",
        )
    recorded = any(a.protocol == "io_uring" for a in supervisor.attempts)
    ok = os.waitstatus_to_exitcode(status) == 0 and recorded
    how = "seccomp filter" if supervisor.seccomp_active else "every syscall stops (no seccomp)"
    return Check(
        "ptrace",
        ok,
        f"rung ptrace {'works' if ok else 'failed its probe'}: {how}; {meaning}",
        "" if ok else "run `airgap egress run --mode ptrace -v -- true` and report the error",
    )
