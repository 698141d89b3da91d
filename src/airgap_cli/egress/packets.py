"""Raw IPv4/IPv6 packet parsing and crafting for the egress auditor's TUN device.

Every packet the workload sends lands here, so this is the hot path: plain ``struct`` and
precompiled formats, no scapy (about 100x slower, see research/egress.md section 2). Parsers take
hostile bytes and answer ``None`` rather than raise; builders assume a ``Packet`` that came from
:func:`parse` and always produce correct IP, TCP, UDP and ICMP checksums.
"""

from __future__ import annotations

import ipaddress
import re
import socket
import struct
from collections.abc import Iterable
from dataclasses import dataclass

__all__ = [
    "ACK",
    "FIN",
    "PSH",
    "QTYPES",
    "QTYPE_NAMES",
    "RESERVED_ADDRESSES",
    "RST",
    "SYN",
    "URG",
    "DnsQuery",
    "HttpHead",
    "Packet",
    "SyntheticAddresses",
    "dns_answer",
    "dns_nxdomain",
    "icmp_unreachable",
    "looks_like_tls",
    "parse",
    "parse_dns_query",
    "parse_http_head",
    "parse_sni",
    "qtype_name",
    "tcp_reply",
    "tcp_rst",
    "tls_record_complete",
    "udp_reply",
]

# --- IP / TCP / UDP -------------------------------------------------------------------------

FIN = 0x01
SYN = 0x02
RST = 0x04
PSH = 0x08
ACK = 0x10
URG = 0x20

PROTO_ICMP = 1
PROTO_TCP = 6
PROTO_UDP = 17
PROTO_ICMPV6 = 58

_REPLY_TTL = 64
"""TTL / hop limit of everything we craft: what a host a few hops away would send."""

_IPV6_MIN_MTU = 1280
"""RFC 4443 2.4(c): an ICMPv6 error must not exceed the minimum IPv6 MTU."""

_MAX_EXTENSION_HEADERS = 8
"""Bound on the IPv6 extension-header walk so a hostile chain cannot keep us busy."""

_IPV4 = struct.Struct("!BBHHHBBH4s4s")
_IPV6 = struct.Struct("!IHBB16s16s")
_TCP = struct.Struct("!HHIIBBHHH")
_TCP_HEAD = struct.Struct("!HHIIB")
_UDP = struct.Struct("!HHHH")
_PORTS_LEN = struct.Struct("!HHH")
_ICMP = struct.Struct("!BBHI")
_U16 = struct.Struct("!H")
_PSEUDO4 = struct.Struct("!BBH")
_PSEUDO6 = struct.Struct("!IxxxB")
_MSS = struct.Struct("!BBH")

_inet_ntoa = socket.inet_ntoa
_inet_ntop = socket.inet_ntop
_inet_pton = socket.inet_pton
_AF_INET6 = socket.AF_INET6


@dataclass(frozen=True, slots=True)
class Packet:
    """One parsed IP packet: what the auditor needs to record it and to answer it.

    ``src_port``/``dst_port`` are ``None`` for anything but TCP and UDP; for ICMP and other
    protocols ``payload`` is the whole upper-layer message.
    """

    version: int
    src: str
    dst: str
    protocol: int
    src_port: int | None
    dst_port: int | None
    tcp_flags: int
    seq: int
    ack: int
    payload: bytes
    raw: bytes
    """The whole IP packet (trimmed to the header's length), quoted by ICMP errors."""
    ttl: int
    """TTL (IPv4) or hop limit (IPv6)."""


def parse(raw: bytes) -> Packet | None:
    """Parse an IPv4 or IPv6 packet read from the TUN device; ``None`` if malformed or truncated.

    Non-first fragments give ``None`` (they carry no ports); a first fragment parses, with a UDP
    payload cut short where the fragment ends.
    """
    if len(raw) < 20:
        return None
    if type(raw) is not bytes:
        raw = bytes(raw)
    version = raw[0] >> 4
    if version == 4:
        return _parse_v4(raw)
    if version == 6:
        return _parse_v6(raw)
    return None


def _parse_v4(raw: bytes) -> Packet | None:
    ihl = (raw[0] & 0x0F) * 4
    if ihl < 20 or len(raw) < ihl:
        return None
    _, _, total, _, frag, ttl, proto, _, src, dst = _IPV4.unpack_from(raw)
    if total < ihl or total > len(raw):
        return None
    if total < len(raw):
        raw = raw[:total]
    if frag & 0x1FFF:
        return None
    return _transport(
        4, _inet_ntoa(src), _inet_ntoa(dst), proto, raw, ihl, ttl, bool(frag & 0x2000)
    )


def _parse_v6(raw: bytes) -> Packet | None:
    if len(raw) < 40:
        return None
    _, plen, nh, hlim, src, dst = _IPV6.unpack_from(raw)
    end = 40 + plen
    if end > len(raw):
        return None
    if end < len(raw):
        raw = raw[:end]
    off = 40
    fragmented = False
    for _ in range(_MAX_EXTENSION_HEADERS):
        if nh in (0, 43, 60, 51):  # hop-by-hop, routing, destination options, AH
            if off + 8 > end:
                return None
            size = (raw[off + 1] + 2) * 4 if nh == 51 else (raw[off + 1] + 1) * 8
            nh = raw[off]
            off += size
            if off > end:
                return None
        elif nh == 44:  # fragment
            if off + 8 > end:
                return None
            offset_flags = _U16.unpack_from(raw, off + 2)[0]
            if offset_flags & 0xFFF8:
                return None
            fragmented = bool(offset_flags & 1)
            nh = raw[off]
            off += 8
        else:
            break
    else:
        return None
    return _transport(
        6, _inet_ntop(_AF_INET6, src), _inet_ntop(_AF_INET6, dst), nh, raw, off, hlim, fragmented
    )


def _transport(
    version: int,
    src: str,
    dst: str,
    proto: int,
    raw: bytes,
    off: int,
    ttl: int,
    fragmented: bool,
) -> Packet | None:
    size = len(raw) - off
    if proto == PROTO_TCP:
        if size < 20:
            return None
        sport, dport, seq, ack, doff = _TCP_HEAD.unpack_from(raw, off)
        doff = (doff >> 4) * 4
        if doff < 20 or doff > size:
            return None
        flags = raw[off + 13]
        return Packet(
            version, src, dst, proto, sport, dport, flags, seq, ack, raw[off + doff :], raw, ttl
        )
    if proto == PROTO_UDP:
        if size < 8:
            return None
        sport, dport, length = _PORTS_LEN.unpack_from(raw, off)
        if fragmented:
            end = len(raw)
        elif 8 <= length <= size:
            end = off + length
        else:
            return None
        return Packet(version, src, dst, proto, sport, dport, 0, 0, 0, raw[off + 8 : end], raw, ttl)
    return Packet(version, src, dst, proto, None, None, 0, 0, 0, raw[off:], raw, ttl)


def _checksum(data: bytes) -> int:
    """RFC 1071 Internet checksum.

    The one's-complement sum of 16-bit words is congruent to the whole buffer read as one
    big-endian integer modulo 0xFFFF (2**16 = 1 mod 0xFFFF), so one C-level big-int ``%``
    replaces a Python loop over words.
    """
    if len(data) & 1:
        data += b"\x00"
    rest = int.from_bytes(data, "big") % 0xFFFF
    return 0xFFFF - rest if rest else 0


def _reply_addresses(pkt: Packet) -> tuple[bytes, bytes]:
    """(our source, our destination) in wire form: replies come from where the packet went."""
    family = socket.AF_INET if pkt.version == 4 else _AF_INET6
    return _inet_pton(family, pkt.dst), _inet_pton(family, pkt.src)


def _ip_packet(version: int, src: bytes, dst: bytes, proto: int, body: bytes) -> bytes:
    if version == 4:
        header = _IPV4.pack(0x45, 0, 20 + len(body), 0, 0x4000, _REPLY_TTL, proto, 0, src, dst)
        return header[:10] + _U16.pack(_checksum(header)) + header[12:] + body
    return _IPV6.pack(0x60000000, len(body), proto, _REPLY_TTL, src, dst) + body


def _pseudo_header(version: int, src: bytes, dst: bytes, proto: int, length: int) -> bytes:
    if version == 4:
        return src + dst + _PSEUDO4.pack(0, proto, length)
    return src + dst + _PSEUDO6.pack(length, proto)


def _require(pkt: Packet, proto: int) -> tuple[int, int]:
    if pkt.protocol != proto or pkt.src_port is None or pkt.dst_port is None:
        raise ValueError(f"expected a protocol {proto} packet, got protocol {pkt.protocol}")
    return pkt.src_port, pkt.dst_port


def tcp_reply(
    pkt: Packet,
    *,
    flags: int,
    seq: int,
    ack: int,
    payload: bytes = b"",
    window: int = 65535,
    mss: int | None = None,
) -> bytes:
    """The IP+TCP segment the remote end would send back to ``pkt`` (dst:dport -> src:sport).

    ``mss`` adds the MSS option, which a SYN-ACK should carry so the client sizes its segments.
    """
    sport, dport = _require(pkt, PROTO_TCP)
    src, dst = _reply_addresses(pkt)
    options = _MSS.pack(2, 4, mss) if mss is not None else b""
    header_len = 20 + len(options)
    segment = (
        _TCP.pack(
            dport,
            sport,
            seq & 0xFFFFFFFF,
            ack & 0xFFFFFFFF,
            (header_len // 4) << 4,
            flags,
            window,
            0,
            0,
        )
        + options
        + payload
    )
    csum = _checksum(_pseudo_header(pkt.version, src, dst, PROTO_TCP, len(segment)) + segment)
    segment = segment[:16] + _U16.pack(csum) + segment[18:]
    return _ip_packet(pkt.version, src, dst, PROTO_TCP, segment)


def tcp_rst(pkt: Packet) -> bytes:
    """The RFC 793 reset for ``pkt``, so the client's connect() or send fails at once.

    A segment with ACK set gets ``RST`` with ``seq = pkt.ack``; anything else (a SYN) gets
    ``RST|ACK`` with ``seq = 0`` and ``ack`` covering the SYN, FIN and payload. Never answer a
    segment that itself has RST set (RFC 793): check ``pkt.tcp_flags & RST`` first.
    """
    if pkt.tcp_flags & ACK:
        return tcp_reply(pkt, flags=RST, seq=pkt.ack, ack=0, window=0)
    length = (
        len(pkt.payload) + (1 if pkt.tcp_flags & SYN else 0) + (1 if pkt.tcp_flags & FIN else 0)
    )
    return tcp_reply(pkt, flags=RST | ACK, seq=0, ack=pkt.seq + length, window=0)


def udp_reply(pkt: Packet, payload: bytes) -> bytes:
    """A UDP datagram from ``pkt``'s dst:dport back to its src:sport (the DNS answers).

    The checksum is always set: mandatory over IPv6, and a zero would mean "none" over IPv4.
    """
    sport, dport = _require(pkt, PROTO_UDP)
    src, dst = _reply_addresses(pkt)
    length = 8 + len(payload)
    datagram = _UDP.pack(dport, sport, length, 0) + payload
    csum = _checksum(_pseudo_header(pkt.version, src, dst, PROTO_UDP, length) + datagram) or 0xFFFF
    return _ip_packet(
        pkt.version, src, dst, PROTO_UDP, datagram[:6] + _U16.pack(csum) + datagram[8:]
    )


def icmp_unreachable(pkt: Packet) -> bytes:
    """Port unreachable from ``pkt.dst``, so a UDP sender gets ECONNREFUSED instead of waiting.

    IPv4: type 3 code 3 quoting the IP header and 8 bytes (RFC 792). IPv6: type 1 code 4
    quoting as much of the packet as fits in 1280 bytes (RFC 4443). Do not call this for ICMP
    error messages (RFC 1122 3.2.2: no errors about errors).
    """
    src, dst = _reply_addresses(pkt)
    if pkt.version == 4:
        quote = pkt.raw[: (pkt.raw[0] & 0x0F) * 4 + 8] if pkt.raw else b""
        message = _ICMP.pack(3, 3, 0, 0) + quote
        csum = _checksum(message)
        proto = PROTO_ICMP
    else:
        quote = pkt.raw[: _IPV6_MIN_MTU - 40 - 8]
        message = _ICMP.pack(1, 4, 0, 0) + quote
        csum = _checksum(_pseudo_header(6, src, dst, PROTO_ICMPV6, len(message)) + message)
        proto = PROTO_ICMPV6
    return _ip_packet(pkt.version, src, dst, proto, message[:2] + _U16.pack(csum) + message[4:])


# --- DNS ------------------------------------------------------------------------------------

QTYPE_NAMES: dict[int, str] = {
    1: "A",
    2: "NS",
    5: "CNAME",
    6: "SOA",
    12: "PTR",
    15: "MX",
    16: "TXT",
    28: "AAAA",
    33: "SRV",
    35: "NAPTR",
    43: "DS",
    48: "DNSKEY",
    64: "SVCB",
    65: "HTTPS",
    255: "ANY",
    257: "CAA",
}
"""Query type number -> mnemonic, for recording ``Attempt.qtype``."""

QTYPES: dict[str, int] = {name: number for number, name in QTYPE_NAMES.items()}
"""Mnemonic -> query type number (``QTYPES["AAAA"] == 28``)."""

_QTYPE_A = 1
_QTYPE_AAAA = 28
_QTYPE_ANY = 255
_QCLASS_ANY = 255

_DNS_HEADER = struct.Struct("!HHHHHH")
_DNS_QUESTION = struct.Struct("!HH")
_DNS_ANSWER = struct.Struct("!HHHIH")
"""Name (a pointer to the question at offset 12), type, class, TTL, rdlength."""
_MAX_POINTER_JUMPS = 16
"""Compression pointers followed per name: a second bound next to "pointers go backwards"."""

_FLAG_QR = 0x8000
_FLAG_RA = 0x0080
_FLAGS_COPIED = 0x7910
"""Opcode, RD and CD: copied from query to response (RFC 1035 4.1.1, RFC 4035 3.2.2)."""

_LABEL_PLAIN = b"abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_*"
_NAME_PLAIN = _LABEL_PLAIN + b"."
"""Bytes a name may hold and print as-is, as long as every ``.`` is a label separator."""


def qtype_name(qtype: int) -> str:
    """``A``, ``HTTPS``...; RFC 3597 ``TYPE123`` for types without a mnemonic here."""
    return QTYPE_NAMES.get(qtype) or f"TYPE{qtype}"


@dataclass(frozen=True, slots=True)
class DnsQuery:
    """The first question of a DNS query, plus what an answer must echo."""

    id: int
    name: str
    """Lower-case, no trailing dot; unusual bytes escaped as in zone files (``\\.``, ``\\010``)."""
    qtype: int
    qclass: int
    raw: bytes
    """The whole DNS message as received."""
    flags: int = 0x0100
    """Header flags of the query (RD set by default)."""
    question: bytes = b""
    """The question in wire form, case preserved (DNS 0x20) and uncompressed; empty means
    "encode ``name``"."""

    @property
    def type_name(self) -> str:
        """The query type's mnemonic (``AAAA``)."""
        return qtype_name(self.qtype)


def parse_dns_query(payload: bytes) -> DnsQuery | None:
    """Read the first question of a standard query; ``None`` for responses, other opcodes, junk."""
    if len(payload) < 17:
        return None
    ident, flags, qdcount, _, _, _ = _DNS_HEADER.unpack_from(payload)
    if flags & 0xF800 or not qdcount:  # QR set or opcode other than QUERY
        return None
    read = _read_name(payload, 12)
    if read is None:
        return None
    labels, end = read
    if end + 4 > len(payload):
        return None
    qtype, qclass = _DNS_QUESTION.unpack_from(payload, end)
    dotted = b".".join(labels).lower()
    if dotted.translate(None, _NAME_PLAIN) or dotted.count(b".") >= len(labels):
        name = ".".join([_label_text(label.lower()) for label in labels])
    else:
        name = dotted.decode("ascii")
    if end - 12 == len(dotted) + 1 + bool(labels):  # no compression pointer: reuse the wire form
        question = payload[12 : end + 4]
    else:
        wire = b"".join([bytes((len(label),)) + label for label in labels]) + b"\x00"
        question = wire + payload[end : end + 4]
    return DnsQuery(ident, name, qtype, qclass, bytes(payload), flags, bytes(question))


def _read_name(buf: bytes, off: int) -> tuple[list[bytes], int] | None:
    """Labels of the name at ``off`` and the offset just past it (before any pointer jump)."""
    labels: list[bytes] = []
    total = 1
    end = -1
    jumps = 0
    size = len(buf)
    while True:
        if off >= size:
            return None
        length = buf[off]
        if length == 0:
            return labels, (off + 1 if end < 0 else end)
        if length >= 0xC0:
            if off + 1 >= size:
                return None
            target = ((length & 0x3F) << 8) | buf[off + 1]
            jumps += 1
            if target >= off or jumps > _MAX_POINTER_JUMPS:
                return None
            if end < 0:
                end = off + 2
            off = target
            continue
        if length >= 0x40:
            return None
        label = buf[off + 1 : off + 1 + length]
        total += length + 1
        if len(label) < length or total > 255:
            return None
        labels.append(label)
        off += 1 + length


def _label_text(label: bytes) -> str:
    """Presentation form of one label (RFC 4343): escapes keep odd bytes readable and safe."""
    if not label.translate(None, _LABEL_PLAIN):
        return label.decode("ascii")
    out = []
    for byte in label:
        if byte in b".\\":
            out.append("\\" + chr(byte))
        elif 0x21 <= byte <= 0x7E:
            out.append(chr(byte))
        else:
            out.append(f"\\{byte:03d}")
    return "".join(out)


def _question(query: DnsQuery) -> bytes:
    if query.question:
        return query.question
    labels = [label.encode("ascii") for label in query.name.split(".") if label]
    wire = b"".join([bytes((len(label),)) + label for label in labels]) + b"\x00"
    return wire + _DNS_QUESTION.pack(query.qtype, query.qclass)


def _response(query: DnsQuery, rcode: int, answers: list[bytes]) -> bytes:
    flags = _FLAG_QR | (query.flags & _FLAGS_COPIED) | _FLAG_RA | rcode
    header = _DNS_HEADER.pack(query.id, flags, 1, len(answers), 0, 0)
    return header + _question(query) + b"".join(answers)


def dns_answer(query: DnsQuery, addresses: list[str], ttl: int = 5) -> bytes:
    """A NOERROR response with one A/AAAA record per address matching the query's type.

    Addresses of the other family are skipped (ANY takes both); any other query type gets
    NOERROR with no records (NODATA), which makes clients move on without an error. The short
    TTL keeps a cached synthetic address from outliving the audit.
    """
    answers = []
    if query.qtype in (_QTYPE_A, _QTYPE_AAAA, _QTYPE_ANY):
        rclass = 1 if query.qclass == _QCLASS_ANY else query.qclass
        for address in addresses:
            rtype, rdata = _address_rdata(address)
            if query.qtype in (rtype, _QTYPE_ANY):
                answers.append(_DNS_ANSWER.pack(0xC00C, rtype, rclass, ttl, len(rdata)) + rdata)
    return _response(query, 0, answers)


def dns_nxdomain(query: DnsQuery) -> bytes:
    """An NXDOMAIN response (rcode 3) echoing the question: "this name does not exist"."""
    return _response(query, 3, [])


def _address_rdata(address: str) -> tuple[int, bytes]:
    try:
        if ":" in address:
            return _QTYPE_AAAA, _inet_pton(_AF_INET6, address)
        return _QTYPE_A, _inet_pton(socket.AF_INET, address)
    except OSError as exc:
        raise ValueError(f"not an IP address: {address!r}") from exc


# --- TLS ClientHello / HTTP request head ----------------------------------------------------

_TLS_HANDSHAKE = 22
_TLS_CLIENT_HELLO = 1
_TLS_MAX_RECORD = 16384 + 2048
"""Largest legal TLSCiphertext fragment (RFC 8446 5.2); beyond that it is not TLS."""
_TLS_RECORD = struct.Struct("!BBBH")
_EXT = struct.Struct("!HH")
_SERVER_NAME = struct.Struct("!BH")


def looks_like_tls(data: bytes) -> bool:
    """Whether a connection's first bytes start a TLS handshake record (vs. plain HTTP)."""
    return len(data) >= 1 and data[0] == _TLS_HANDSHAKE and (len(data) < 2 or data[1] == 3)


def _client_hello(data: bytes) -> tuple[bytes | None, bool]:
    """(ClientHello body or ``None``, whether more bytes could not change that).

    Reassembles a handshake message split over several records, as a large (e.g. post-quantum)
    ClientHello may be.
    """
    message = b""
    off = 0
    size = len(data)
    while True:
        if off < size and data[off] != _TLS_HANDSHAKE:
            return None, True
        if off + 1 < size and data[off + 1] != 3:
            return None, True
        if off + 5 > size:
            return None, False
        _, _, _, length = _TLS_RECORD.unpack_from(data, off)
        if not length or length > _TLS_MAX_RECORD:
            return None, True
        if off + 5 + length > size:
            return None, False
        message += data[off + 5 : off + 5 + length]
        off += 5 + length
        if len(message) >= 4:
            if message[0] != _TLS_CLIENT_HELLO:
                return None, True
            end = 4 + int.from_bytes(message[1:4], "big")
            if len(message) >= end:
                return message[4:end], True


def tls_record_complete(data: bytes) -> bool:
    """Whether waiting for more bytes is pointless: the ClientHello is whole, or this is not TLS.

    True once the first record (and every further record a split ClientHello needs) has
    arrived; also True for bytes that cannot be a TLS handshake, so a caller stops waiting.
    """
    return _client_hello(data)[1]


def parse_sni(data: bytes) -> str | None:
    """The server_name of a ClientHello (lower-case); ``None`` if absent, incomplete or not TLS."""
    body = _client_hello(data)[0]
    if body is None:
        return None
    size = len(body)
    off = 2 + 32  # legacy_version, random
    if off >= size:
        return None
    off += 1 + body[off]  # session id
    if off + 2 > size:
        return None
    off += 2 + _U16.unpack_from(body, off)[0]  # cipher suites
    if off >= size:
        return None
    off += 1 + body[off]  # compression methods
    if off + 2 > size:
        return None
    end = off + 2 + _U16.unpack_from(body, off)[0]
    off += 2
    if end > size:
        return None
    while off + 4 <= end:
        ext_type, ext_len = _EXT.unpack_from(body, off)
        off += 4
        if off + ext_len > end:
            return None
        if ext_type == 0:
            return _server_name(body[off : off + ext_len])
        off += ext_len
    return None


def _server_name(ext: bytes) -> str | None:
    if len(ext) < 2:
        return None
    end = min(2 + _U16.unpack_from(ext)[0], len(ext))
    off = 2
    while off + 3 <= end:
        name_type, length = _SERVER_NAME.unpack_from(ext, off)
        off += 3
        name = ext[off : off + length]
        if len(name) < length:
            return None
        if name_type == 0:
            text = name.decode("ascii", "backslashreplace").lower().rstrip(".")
            return text or None
        off += length
    return None


@dataclass(frozen=True, slots=True)
class HttpHead:
    """Request line and Host header of a plain-HTTP (or proxy CONNECT) request."""

    method: str
    target: str
    """The request target: a path, an absolute URI (to a proxy) or ``host:port`` for CONNECT."""
    host: str | None
    """The Host header, ``None`` if absent (or not yet received)."""
    complete: bool
    """Whether the blank line ending the header block has arrived."""
    version: str = "HTTP/1.1"

    @property
    def authority(self) -> str | None:
        """Where the client wants to go: CONNECT target, absolute-URI authority, else Host."""
        if self.method == "CONNECT":
            return self.target
        scheme, sep, rest = self.target.partition("://")
        if sep and scheme.isalpha():
            return rest.split("/", 1)[0].split("?", 1)[0] or self.host
        return self.host


_REQUEST_LINE = re.compile(
    rb"([!#$%&'*+.^_`|~0-9A-Za-z-]{1,32}) (\S{1,8192}) (HTTP/\d(?:\.\d)?)\r?\Z"
)
_MAX_HEAD = 65536
"""Bytes of header block we read at most; a longer one is reported as incomplete."""


def parse_http_head(data: bytes) -> HttpHead | None:
    """Parse an HTTP/1.x request head as far as it has arrived; ``None`` until the request line
    is whole, or when it is not HTTP.

    Only whole header lines count, so ``host`` never holds a half-received value.
    """
    data = data[:_MAX_HEAD]
    eol = data.find(b"\n")
    if eol < 0:
        return None
    match = _REQUEST_LINE.match(data, 0, eol)
    if match is None:
        return None
    method, target, version = (part.decode("latin-1") for part in match.groups())
    host: str | None = None
    complete = False
    start = eol + 1
    while True:
        eol = data.find(b"\n", start)
        if eol < 0:
            break
        line = data[start:eol].rstrip(b"\r")
        start = eol + 1
        if not line:
            complete = True
            break
        name, colon, value = line.partition(b":")
        if colon and host is None and name.strip().lower() == b"host":
            host = value.strip().decode("latin-1")
    return HttpHead(method, target, host, complete, version)


# --- Synthetic DNS addresses ----------------------------------------------------------------

RESERVED_ADDRESSES = frozenset({"198.18.0.53", "2001:db8:ae::53", "198.19.255.254"})
"""Never handed to a name: the sandbox's resolver and TUN addresses (``sandbox.SINKHOLE_DNS_*``,
``TUN_ADDR_V4``), which sit inside the synthetic ranges."""

_V4_NETWORK = ipaddress.IPv4Network("198.18.0.0/15")
_V6_NETWORK = ipaddress.IPv6Network("2001:db8:ae::/48")


class SyntheticAddresses:
    """The DNS sinkhole's name <-> address book: each name gets its own address, in order.

    IPv4 comes from 198.18.0.0/15 (RFC 2544 benchmarking space), skipping ``.0`` / ``.255``
    (they look like network / broadcast addresses to some stacks) and ``reserved``; IPv6 from
    2001:db8:ae::/48 (documentation space). When the ~130,000 IPv4 addresses run out the oldest
    are reused, so a hostile workload querying random names cannot exhaust the book.
    """

    def __init__(self, reserved: Iterable[str] = RESERVED_ADDRESSES) -> None:
        self._reserved = {str(ipaddress.ip_address(address)) for address in reserved}
        self._v4_first = int(_V4_NETWORK.network_address)
        self._v4_last = int(_V4_NETWORK.broadcast_address)
        self._v4_cursor = self._v4_first
        self._v6_base = int(_V6_NETWORK.network_address)
        self._v6_cursor = 0
        self._v4: dict[str, str] = {}
        self._v6: dict[str, str] = {}
        self._owner: dict[str, str] = {}

    def ipv4_for(self, name: str) -> str:
        """The name's IPv4 address, issuing the next free one on first use."""
        name = _normal_name(name)
        address = self._v4.get(name)
        if address is None:
            address = self._next_v4()
            previous = self._owner.get(address)
            if previous is not None:
                del self._v4[previous]
            self._v4[name] = address
            self._owner[address] = name
        return address

    def ipv6_for(self, name: str) -> str:
        """The name's IPv6 address, issuing the next free one on first use."""
        name = _normal_name(name)
        address = self._v6.get(name)
        if address is None:
            while True:
                self._v6_cursor += 1
                address = _inet_ntop(
                    _AF_INET6, (self._v6_base + self._v6_cursor).to_bytes(16, "big")
                )
                if address not in self._reserved:
                    break
            self._v6[name] = address
            self._owner[address] = name
        return address

    def name_for(self, address: str) -> str | None:
        """The name an address was issued to, or ``None`` (a hard-coded IP, DoH, DoT...)."""
        name = self._owner.get(address)
        if name is None and ":" in address:  # dotted IPv4 has one spelling; IPv6 has several
            try:
                canonical = str(ipaddress.ip_address(address))
            except ValueError:
                return None
            name = self._owner.get(canonical)
        return name

    def issued(self, address: str) -> bool:
        """Whether the sinkhole handed this address out."""
        return self.name_for(address) is not None

    def _next_v4(self) -> str:
        for _ in range(self._v4_last - self._v4_first + 1):
            self._v4_cursor += 1
            if self._v4_cursor > self._v4_last:
                self._v4_cursor = self._v4_first
            if (self._v4_cursor & 0xFF) in (0, 255):
                continue
            address = _inet_ntoa(self._v4_cursor.to_bytes(4, "big"))
            if address not in self._reserved:
                return address
        raise RuntimeError("every synthetic IPv4 address is reserved")


def _normal_name(name: str) -> str:
    return name.lower().rstrip(".")
