"""The packet loop: answer every packet the workload sends, record it, attribute it first.

One thread, one ``select`` over the TUN device and a pidfd of the workload. Answers are crafted
with raw ``struct`` code (``packets``): DNS from the sinkhole, RST for TCP (or a handshake to read
the first bytes in capture mode), ICMP port-unreachable for UDP. The answer is written only after
attribution, so a TCP connect() or a DNS lookup cannot return before its process is known.
"""

from __future__ import annotations

import contextlib
import os
import random
import select
import socket
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from airgap_cli.egress import packets
from airgap_cli.egress.attribution import ProcessTable, SockDiag, attribute
from airgap_cli.egress.events import ALLOWED, DENIED, Attempt, Process
from airgap_cli.egress.pcap import PcapWriter
from airgap_cli.egress.sandbox import (
    PACKET_OUTGOING,
    SINKHOLE_DNS_V4,
    SINKHOLE_DNS_V6,
    PacketIO,
)

DNS_PORT = 53
CAPTURE_LIMIT = 8192
"""Bytes read from a captured connection before giving up on SNI/Host."""
SPIN_SECONDS = 0.0005
"""How long the auditor polls for the next packet before sleeping in select."""
CHAIN_REUSE = 0.25
"""Seconds a process's command line and parents are reused for its next attempts: a burst from
one process costs one /proc read, and a pid cannot be recycled within that time in practice."""
CAPTURE_TIMEOUT = 3.0
"""Seconds a captured connection may stay silent (server-speaks-first protocols) before RST."""


@dataclass
class AuditOptions:
    """How the auditor answers."""

    nxdomain: bool = False
    """Answer every query NXDOMAIN instead of a synthetic address."""
    capture: bool = False
    """Complete TCP handshakes to read TLS SNI / HTTP Host / CONNECT, then reset."""
    is_allowed: Callable[[str, str | None, str | None, int | None], bool] | None = None
    """Allowlist predicate (protocol, name, address, port); allowed attempts are marked."""
    proxy: bool = False
    """Open the allowed path: an HTTP proxy in the sandbox for allowlisted destinations."""
    routed_cidrs: tuple[str, ...] = ()
    """Allowlist entries for address ranges (``[tcp:|udp:]CIDR[:PORT]``): a veth pair as root,
    slirp4netns otherwise; their traffic really flows."""
    link: str = "auto"
    """How packets reach the auditor: ``tun``, ``veth`` (no TUN device needed) or ``auto``."""
    pcap: PcapWriter | None = None
    """Write every packet seen and every answer to this capture."""


@dataclass
class _Capture:
    attempt: Attempt
    isn: int
    next_seq: int
    started: float
    data: bytearray = field(default_factory=bytearray)


class Auditor:
    """Records and answers; ``attempts`` is the evidence, in order."""

    def __init__(
        self,
        io: PacketIO,
        diag: SockDiag,
        table: ProcessTable,
        options: AuditOptions | None = None,
    ) -> None:
        self.io = io
        self.diag = diag
        self.table = table
        self.options = options or AuditOptions()
        self.names = packets.SyntheticAddresses()
        self.attempts: list[Attempt] = []
        self.started = time.monotonic()
        self.packets_seen = 0
        self._captures: dict[tuple[str, int, str, int], _Capture] = {}
        self._pending: list[tuple[Attempt, int]] = []
        """Attempts whose owner pid is known but whose command line and parents are read just
        after the answer went out: only the pid lookup must precede the answer."""
        self._recent_chains: dict[int, tuple[float, tuple[Process, ...]]] = {}
        self.routed: socket.socket | None = None
        """Packet socket on the routed path's host side: allowed traffic, recorded not answered."""
        self._lock = threading.Lock()
        """sock_diag and the attempt list are shared with the proxy's threads."""

    # --- the loop ------------------------------------------------------------------------
    def run(self, child_pid: int) -> int:
        """Serve until the setup child exits; returns its raw wait status."""
        pidfd = os.pidfd_open(child_pid)
        try:
            while True:
                readers = [self.io.fileno(), pidfd]
                if self.routed is not None:
                    readers.append(self.routed.fileno())
                ready, _, _ = select.select(readers, [], [], 0.5)
                if self.io.fileno() in ready:
                    self._drain()
                if self.routed is not None and self.routed.fileno() in ready:
                    self._drain_routed()
                self._expire_captures()
                if pidfd in ready:
                    _, status = os.waitpid(child_pid, 0)
                    self._drain()
                    return status
        finally:
            os.close(pidfd)

    def _drain(self) -> None:
        idle_since: float | None = None
        while True:
            try:
                raw = self.io.read()
            except BlockingIOError:
                # Poll a little before sleeping: a client that was just answered usually sends
                # its next packet within microseconds, and waking a sleeping auditor costs more.
                now = time.perf_counter()
                if idle_since is None:
                    idle_since = now
                if now - idle_since < SPIN_SECONDS:
                    os.sched_yield()  # let a workload sharing this core run meanwhile
                    continue
                return
            except OSError:
                return
            idle_since = None
            self.packets_seen += 1
            pcap = self.options.pcap
            if pcap is not None:
                pcap.write(raw)
            for reply in self.handle(raw):
                with contextlib.suppress(OSError):
                    self.io.write(reply)
                if pcap is not None:
                    pcap.write(reply)
            self._describe_pending()

    def _drain_routed(self) -> None:
        """Record connection attempts on the routed path (the host answers them, not we)."""
        assert self.routed is not None
        while True:
            try:
                raw, address = self.routed.recvfrom(65536)
            except (BlockingIOError, OSError):
                return
            if address[2] == PACKET_OUTGOING:
                continue
            pkt = packets.parse(raw)
            if pkt is None:
                continue
            opening = pkt.protocol == socket.IPPROTO_TCP and (
                pkt.tcp_flags & packets.SYN and not pkt.tcp_flags & packets.ACK
            )
            if opening or pkt.protocol == socket.IPPROTO_UDP:
                proto = "tcp" if opening else "udp"
                attempt = self._record(pkt, proto, proto, pkt.protocol)
                attempt.verdict = ALLOWED
            self._describe_pending()

    # --- one packet ----------------------------------------------------------------------
    def handle(self, raw: bytes) -> list[bytes]:
        """Record ``raw`` and return the packets that answer it."""
        pkt = packets.parse(raw)
        if pkt is None or _ignored(pkt.dst):
            return []
        if pkt.protocol == socket.IPPROTO_UDP:
            if pkt.dst_port == DNS_PORT:
                query = packets.parse_dns_query(pkt.payload)
                if query is not None:
                    return self._dns(pkt, query)
            return self._udp(pkt)
        if pkt.protocol == socket.IPPROTO_TCP:
            return self._tcp(pkt)
        if pkt.protocol in (1, 58):
            if _is_echo_request(pkt):
                self._record(pkt, "icmp", "icmp", None)
            return []
        return []

    def _dns(self, pkt: packets.Packet, query: packets.DnsQuery) -> list[bytes]:
        if pkt.dst not in (SINKHOLE_DNS_V4, SINKHOLE_DNS_V6):
            # A hard-coded resolver: the query is still answered by the sinkhole (so the name is
            # known), and the resolver address itself is a direct-ip finding.
            self._record(pkt, "udp", "direct-ip", socket.IPPROTO_UDP)
        attempt = self._record(pkt, "dns", "dns", socket.IPPROTO_UDP, destination=query.name)
        attempt.qtype = packets.QTYPE_NAMES.get(query.qtype, str(query.qtype))
        attempt.port = None
        if self.options.nxdomain:
            return [packets.udp_reply(pkt, packets.dns_nxdomain(query))]
        addresses: list[str] = []
        if query.qtype == 1:
            addresses = [self.names.ipv4_for(query.name)]
        elif query.qtype == 28:
            addresses = [self.names.ipv6_for(query.name)]
        return [packets.udp_reply(pkt, packets.dns_answer(query, addresses))]

    def _udp(self, pkt: packets.Packet) -> list[bytes]:
        name = self.names.name_for(pkt.dst)
        kind = "udp" if name else "direct-ip"
        self._record(pkt, "udp", kind, socket.IPPROTO_UDP, destination=name)
        return [packets.icmp_unreachable(pkt)]

    def _tcp(self, pkt: packets.Packet) -> list[bytes]:
        flags = pkt.tcp_flags
        conn = (pkt.src, pkt.src_port or 0, pkt.dst, pkt.dst_port or 0)
        if flags & packets.SYN and not flags & packets.ACK:
            name = self.names.name_for(pkt.dst)
            kind = "tcp" if name else "direct-ip"
            attempt = self._record(pkt, "tcp", kind, socket.IPPROTO_TCP, destination=name)
            if self.options.capture:
                isn = random.getrandbits(32)
                self._captures[conn] = _Capture(attempt, isn, pkt.seq + 1, time.monotonic())
                return [
                    packets.tcp_reply(
                        pkt, flags=packets.SYN | packets.ACK, seq=isn, ack=pkt.seq + 1, mss=1400
                    )
                ]
            return [packets.tcp_rst(pkt)]
        capture = self._captures.get(conn)
        if capture is None:
            return [] if flags & packets.RST else [packets.tcp_rst(pkt)]
        if flags & (packets.RST | packets.FIN):
            self._captures.pop(conn, None)
            return [] if flags & packets.RST else [packets.tcp_rst(pkt)]
        if pkt.payload and pkt.seq == capture.next_seq:
            capture.data += pkt.payload
            capture.next_seq += len(pkt.payload)
            if self._inspect(capture) or len(capture.data) >= CAPTURE_LIMIT:
                self._captures.pop(conn, None)
                return [
                    packets.tcp_reply(
                        pkt,
                        flags=packets.RST | packets.ACK,
                        seq=capture.isn + 1,
                        ack=capture.next_seq,
                    )
                ]
        return [
            packets.tcp_reply(pkt, flags=packets.ACK, seq=capture.isn + 1, ack=capture.next_seq)
        ]

    def _inspect(self, capture: _Capture) -> bool:
        """Fill SNI / Host / CONNECT from the first bytes; True once there is nothing more to read."""
        data = bytes(capture.data)
        attempt = capture.attempt
        if data[:1] == b"\x16":
            sni = packets.parse_sni(data)
            if sni:
                attempt.sni = sni
                return True
            return packets.tls_record_complete(data)
        head = packets.parse_http_head(data)
        if head is None:
            return len(data) >= 16 and not data[:16].isascii()
        if head.method == "CONNECT":
            attempt.connect_target = head.target
            attempt.kind = "proxy-connect"
        else:
            attempt.http_host = head.host or ""
            attempt.http_path = head.target
        return head.complete

    def _expire_captures(self) -> None:
        now = time.monotonic()
        for conn, capture in list(self._captures.items()):
            if now - capture.started > CAPTURE_TIMEOUT:
                self._captures.pop(conn, None)

    # --- recording -----------------------------------------------------------------------
    def _record(
        self,
        pkt: packets.Packet,
        protocol: str,
        kind: str,
        ip_protocol: int | None,
        destination: str | None = None,
    ) -> Attempt:
        pid: int | None = None
        if ip_protocol is not None and pkt.src_port is not None and pkt.dst_port is not None:
            with self._lock:
                owner = self.diag.lookup(ip_protocol, pkt.src, pkt.src_port, pkt.dst, pkt.dst_port)
                pid = self.table.owner_of(owner.inode) if owner is not None else None
        dest = destination or pkt.dst
        allowed = self.options.is_allowed
        verdict = (
            ALLOWED
            if allowed is not None
            and allowed(protocol, destination, None if destination else pkt.dst, pkt.dst_port)
            else DENIED
        )
        attempt = Attempt(
            time=time.monotonic() - self.started,
            protocol=protocol,
            kind=kind,
            destination=dest,
            address=pkt.dst,
            port=pkt.dst_port,
            verdict=verdict,
        )
        if pid is not None:
            self._pending.append((attempt, pid))
        self.record(attempt)
        return attempt

    def _describe_pending(self) -> None:
        now = time.monotonic()
        with self._lock:
            for attempt, pid in self._pending:
                known = self._recent_chains.get(pid)
                if known is None or known[0] < now:
                    known = (now + CHAIN_REUSE, self.table.chain(pid))
                    self._recent_chains[pid] = known
                attempt.chain = known[1]
                attempt.process = attempt.chain[-1] if attempt.chain else None
            self._pending.clear()

    def record(self, attempt: Attempt) -> None:
        """Append one attempt (thread-safe: the proxy records too)."""
        with self._lock:
            self.attempts.append(attempt)

    def attributed(self, src: str, sport: int, dst: str, dport: int) -> Attempt:
        """An attempt owned by the process behind a TCP connection inside the sandbox."""
        with self._lock:
            process, chain = attribute(
                self.diag, self.table, socket.IPPROTO_TCP, src, sport, dst, dport
            )
        return Attempt(
            time=time.monotonic() - self.started,
            protocol="tcp",
            kind="proxy-connect",
            destination=dst,
            address=dst,
            port=dport,
            process=process,
            chain=chain,
        )


def _ignored(address: str) -> bool:
    """Kernel chatter on the TUN (multicast, link-local) is not workload egress.

    String tests on the canonical form ``inet_ntop`` gives: this runs for every packet.
    """
    if ":" in address:
        return address.startswith(("ff", "fe8", "fe9", "fea", "feb")) or address == "::"
    first = address.split(".", 1)[0]
    return 224 <= int(first) <= 239 or address.startswith("169.254.") or address == "0.0.0.0"


def _is_echo_request(pkt: packets.Packet) -> bool:
    return bool(pkt.payload) and pkt.payload[0] in (8, 128)
