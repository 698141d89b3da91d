"""Raw packet engine, checked against scapy as an independent decoder and encoder.

Nothing here touches a network: scapy only builds and dissects bytes in memory, and the TLS
ClientHello comes from an in-memory ``ssl.MemoryBIO`` handshake.
"""

from __future__ import annotations

import ssl
import struct
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scapy.compat import raw
from scapy.layers.dns import DNS, DNSQR
from scapy.layers.inet import ICMP, IP, TCP, UDP, IPerror, UDPerror
from scapy.layers.inet6 import (
    ICMPv6DestUnreach,
    ICMPv6EchoRequest,
    IPerror6,
    IPv6,
    IPv6ExtHdrDestOpt,
    IPv6ExtHdrFragment,
    IPv6ExtHdrHopByHop,
    IPv6ExtHdrRouting,
)

from airgap_cli.egress import packets
from airgap_cli.egress.packets import (
    ACK,
    FIN,
    PSH,
    QTYPE_NAMES,
    QTYPES,
    RST,
    SYN,
    DnsQuery,
    SyntheticAddresses,
    dns_answer,
    dns_nxdomain,
    icmp_unreachable,
    looks_like_tls,
    parse,
    parse_dns_query,
    parse_http_head,
    parse_sni,
    tcp_reply,
    tcp_rst,
    tls_record_complete,
    udp_reply,
)

CLIENT4, REMOTE4 = "198.19.255.254", "198.18.0.7"
CLIENT6, REMOTE6 = "2001:db8:ffff::2", "2001:db8:ae::7"


def ip(version: int, **fields: Any) -> Any:
    """A scapy IP layer from the client to the remote end."""
    if version == 4:
        return IP(src=CLIENT4, dst=REMOTE4, **fields)
    return IPv6(src=CLIENT6, dst=REMOTE6, **fields)


def decode(wire: bytes) -> Any:
    """Dissect our bytes with scapy."""
    return IP(wire) if wire[0] >> 4 == 4 else IPv6(wire)


def assert_checksum(wire: bytes, layer: Any, field: str = "chksum") -> None:
    """Scapy recomputes ``layer``'s checksum from scratch and must get the one we wrote."""
    ours = getattr(decode(wire)[layer], field)
    rebuilt = decode(wire)
    delattr(rebuilt[layer], field)
    assert getattr(decode(raw(rebuilt))[layer], field) == ours


def syn(version: int = 4, **tcp: Any) -> packets.Packet:
    fields: dict[str, Any] = {"sport": 40000, "dport": 443, "flags": "S", "seq": 1000} | tcp
    pkt = parse(raw(ip(version) / TCP(**fields)))
    assert pkt is not None
    return pkt


def dns_packet(version: int, qname: str, qtype: str = "A", **dns: Any) -> packets.Packet:
    pkt = parse(
        raw(
            ip(version)
            / UDP(sport=5353, dport=53)
            / DNS(id=0x1234, qd=DNSQR(qname=qname, qtype=qtype), **dns)
        )
    )
    assert pkt is not None
    return pkt


def client_hello(server_hostname: str | None) -> bytes:
    """Real ClientHello bytes from Python's TLS stack, without any socket."""
    context = ssl.create_default_context()
    incoming, outgoing = ssl.MemoryBIO(), ssl.MemoryBIO()
    tls = context.wrap_bio(incoming, outgoing, server_hostname=server_hostname)
    with pytest.raises(ssl.SSLWantReadError):
        tls.do_handshake()
    return outgoing.read()


# --- parse ------------------------------------------------------------------------------------


def test_parse_ipv4_tcp_syn_with_tcp_options() -> None:
    options = [("MSS", 1460), ("SAckOK", b""), ("Timestamp", (1, 0)), ("NOP", None), ("WScale", 7)]
    pkt = parse(raw(ip(4, ttl=61) / TCP(sport=40000, dport=443, flags="S", seq=7, options=options)))
    assert pkt is not None
    assert (pkt.version, pkt.src, pkt.dst, pkt.protocol) == (4, CLIENT4, REMOTE4, 6)
    assert (pkt.src_port, pkt.dst_port, pkt.tcp_flags, pkt.seq, pkt.ack) == (40000, 443, SYN, 7, 0)
    assert (pkt.payload, pkt.ttl) == (b"", 61)


def test_parse_ipv4_header_options_shift_the_transport_header() -> None:
    wire = raw(ip(4, options=[b"\x01\x01\x01\x00"]) / UDP(sport=1, dport=2) / b"hello")
    assert wire[0] & 0x0F == 6
    pkt = parse(wire)
    assert pkt is not None
    assert (pkt.src_port, pkt.dst_port, pkt.payload) == (1, 2, b"hello")


def test_parse_tcp_data_segment_and_trailing_link_padding() -> None:
    wire = raw(ip(4) / TCP(sport=1, dport=80, flags="PA", seq=5, ack=9) / b"GET / HTTP/1.1\r\n")
    pkt = parse(wire + b"\x00" * 6)
    assert pkt is not None
    assert pkt.tcp_flags == PSH | ACK
    assert (pkt.seq, pkt.ack, pkt.payload) == (5, 9, b"GET / HTTP/1.1\r\n")
    assert pkt.raw == wire


def test_parse_ipv6_walks_extension_headers() -> None:
    wire = raw(
        ip(6, hlim=17)
        / IPv6ExtHdrHopByHop()
        / IPv6ExtHdrDestOpt()
        / IPv6ExtHdrRouting()
        / UDP(sport=5000, dport=8125)
        / b"metric:1|c"
    )
    pkt = parse(wire)
    assert pkt is not None
    assert (pkt.version, pkt.src, pkt.dst, pkt.protocol, pkt.ttl) == (6, CLIENT6, REMOTE6, 17, 17)
    assert (pkt.src_port, pkt.dst_port, pkt.payload) == (5000, 8125, b"metric:1|c")


def test_parse_fragments_first_only() -> None:
    first6 = raw(
        ip(6)
        / IPv6ExtHdrFragment(offset=0, m=1, id=1)
        / UDP(sport=1, dport=53, len=3000)
        / (b"x" * 64)
    )
    later6 = raw(ip(6) / IPv6ExtHdrFragment(offset=8, m=0, id=1) / (b"x" * 64))
    first4 = raw(ip(4, flags="MF") / UDP(sport=1, dport=53, len=3000) / (b"y" * 64))
    later4 = raw(ip(4, frag=100) / (b"y" * 64))
    for wire, byte in ((first6, b"x"), (first4, b"y")):
        pkt = parse(wire)
        assert pkt is not None
        assert (pkt.src_port, pkt.dst_port, pkt.payload) == (1, 53, byte * 64)
    assert parse(later6) is None
    assert parse(later4) is None


def test_parse_icmp_has_no_ports_and_keeps_the_message() -> None:
    pkt4 = parse(raw(ip(4) / ICMP(type=8)))
    pkt6 = parse(raw(ip(6) / ICMPv6EchoRequest()))
    assert pkt4 is not None and pkt6 is not None
    assert (pkt4.protocol, pkt4.src_port, pkt4.dst_port, pkt4.payload[0]) == (1, None, None, 8)
    assert (pkt6.protocol, pkt6.src_port, pkt6.payload[0]) == (58, None, 128)


@pytest.mark.parametrize("version", [4, 6])
def test_parse_rejects_every_truncation(version: int) -> None:
    wire = raw(ip(version) / TCP(sport=1, dport=2, options=[("MSS", 1460)]) / b"data")
    assert parse(wire) is not None
    for size in range(len(wire)):
        assert parse(wire[:size]) is None, size


def test_parse_rejects_malformed_headers() -> None:
    tcp = raw(ip(4) / TCP(sport=1, dport=2))
    bad_ihl = bytes([0x44]) + tcp[1:]
    bad_offset = tcp[:32] + bytes([0x40]) + tcp[33:]
    bad_udp_len = raw(ip(4) / UDP(sport=1, dport=2, len=4) / b"abc")
    assert [parse(w) for w in (bad_ihl, bad_offset, bad_udp_len, b"\x50" + tcp[1:])] == [None] * 4


@settings(max_examples=500)
@given(st.binary(max_size=200))
def test_parse_never_raises_on_random_bytes(data: bytes) -> None:
    parse(data)


@settings(max_examples=500)
@given(
    st.sampled_from([4, 6]),
    st.sampled_from([0, 6, 17, 43, 44, 51, 58, 60]),
    st.binary(max_size=120),
)
def test_parse_never_raises_behind_a_plausible_ip_header(
    version: int, proto: int, tail: bytes
) -> None:
    if version == 4:
        header = struct.pack(
            "!BBHHHBBH4s4s", 0x45, 0, 20 + len(tail), 0, 0, 64, proto, 0, b"\x0a" * 4, b"\x0b" * 4
        )
    else:
        header = struct.pack(
            "!IHBB16s16s", 0x60000000, len(tail), proto, 64, b"\x0a" * 16, b"\x0b" * 16
        )
    pkt = parse(header + tail)
    if pkt is not None and pkt.protocol == 6 and not pkt.tcp_flags & RST:
        tcp_rst(pkt)
    if pkt is not None and pkt.protocol == 17:
        icmp_unreachable(pkt)
        udp_reply(pkt, b"x")


# --- TCP replies --------------------------------------------------------------------------------


@pytest.mark.parametrize("version", [4, 6])
def test_rst_for_a_syn(version: int) -> None:
    wire = tcp_rst(syn(version, seq=0xFFFFFFFF))
    reply = decode(wire)
    assert (reply.src, reply.dst) == ((REMOTE4, CLIENT4) if version == 4 else (REMOTE6, CLIENT6))
    assert (reply[TCP].sport, reply[TCP].dport) == (443, 40000)
    assert reply[TCP].flags == "RA"
    assert (reply[TCP].seq, reply[TCP].ack) == (0, 0)  # the SYN's sequence number wraps
    assert_checksum(wire, TCP)
    if version == 4:
        assert_checksum(wire, IP)


def test_rst_for_a_syn_carrying_data_acks_it_all() -> None:
    pkt = parse(raw(ip(4) / TCP(sport=1, dport=443, flags="S", seq=100) / (b"z" * 30)))
    assert pkt is not None
    assert decode(tcp_rst(pkt))[TCP].ack == 131


@pytest.mark.parametrize(
    ("version", "flags", "expected"), [(4, "PA", PSH | ACK), (6, "FA", FIN | ACK)]
)
def test_rst_for_a_data_segment_uses_its_ack(version: int, flags: str, expected: int) -> None:
    pkt = syn(version, flags=flags, seq=500, ack=77777)
    assert pkt.tcp_flags == expected
    wire = tcp_rst(pkt)
    reply = decode(wire)
    assert reply[TCP].flags == "R"
    assert (reply[TCP].seq, reply[TCP].ack) == (77777, 0)
    assert_checksum(wire, TCP)


@pytest.mark.parametrize("version", [4, 6])
def test_syn_ack_carries_mss(version: int) -> None:
    wire = tcp_reply(syn(version), flags=SYN | ACK, seq=0xABCDEF, ack=1001, mss=1400, window=29200)
    reply = decode(wire)
    assert reply[TCP].flags == "SA"
    assert (reply[TCP].seq, reply[TCP].ack, reply[TCP].window) == (0xABCDEF, 1001, 29200)
    assert reply[TCP].dataofs == 6
    assert reply[TCP].options == [("MSS", 1400)]
    assert_checksum(wire, TCP)
    if version == 4:
        assert reply[IP].ttl == 64
        assert_checksum(wire, IP)


@pytest.mark.parametrize("version", [4, 6])
@pytest.mark.parametrize("payload", [b"", b"a", b"odd!!", bytes(range(256)) * 3])
def test_tcp_reply_payload_checksums_for_any_length(version: int, payload: bytes) -> None:
    wire = tcp_reply(syn(version), flags=PSH | ACK, seq=1 << 32, ack=-1, payload=payload)
    reply = decode(wire)
    assert bytes(reply[TCP].payload) == payload
    assert (reply[TCP].seq, reply[TCP].ack) == (0, 0xFFFFFFFF)
    assert_checksum(wire, TCP)


@settings(max_examples=60, deadline=None)
@given(
    st.sampled_from([4, 6]),
    st.integers(0, 65535),
    st.integers(0, 65535),
    st.integers(0, 2**32 - 1),
    st.integers(0, 2**32 - 1),
    st.sampled_from(["S", "A", "PA", "FA", "SE", "SEC"]),
    st.binary(max_size=40),
)
def test_rst_checksums_hold_for_arbitrary_segments(
    version: int, sport: int, dport: int, seq: int, ack: int, flags: str, data: bytes
) -> None:
    pkt = parse(
        raw(ip(version) / TCP(sport=sport, dport=dport, seq=seq, ack=ack, flags=flags) / data)
    )
    assert pkt is not None
    wire = tcp_rst(pkt)
    assert (decode(wire)[TCP].sport, decode(wire)[TCP].dport) == (dport, sport)
    assert_checksum(wire, TCP)


def test_replies_refuse_the_wrong_protocol() -> None:
    udp = dns_packet(4, "x.example")
    with pytest.raises(ValueError):
        tcp_rst(udp)
    with pytest.raises(ValueError):
        udp_reply(syn(), b"")


# --- UDP and ICMP -------------------------------------------------------------------------------


@pytest.mark.parametrize("version", [4, 6])
def test_udp_reply_swaps_endpoints_and_checksums(version: int) -> None:
    pkt = parse(raw(ip(version) / UDP(sport=33333, dport=8125) / b"q"))
    assert pkt is not None
    wire = udp_reply(pkt, b"an odd-length answer")
    reply = decode(wire)
    assert (reply[UDP].sport, reply[UDP].dport, reply[UDP].len) == (8125, 33333, 28)
    assert bytes(reply[UDP].payload) == b"an odd-length answer"
    assert reply[UDP].chksum != 0
    assert_checksum(wire, UDP)


def test_icmpv4_port_unreachable_quotes_header_and_8_bytes() -> None:
    pkt = parse(
        raw(ip(4, options=[b"\x01\x01\x01\x00"]) / UDP(sport=4444, dport=8125) / (b"m" * 100))
    )
    assert pkt is not None
    wire = icmp_unreachable(pkt)
    reply = IP(wire)
    assert (reply.src, reply.dst, reply.proto) == (REMOTE4, CLIENT4, 1)
    assert (reply[ICMP].type, reply[ICMP].code) == (3, 3)
    assert len(wire) == 20 + 8 + 24 + 8
    assert wire[28:] == pkt.raw[:32]
    assert (reply[IPerror].dst, reply[UDPerror].dport) == (REMOTE4, 8125)
    assert_checksum(wire, ICMP)
    assert_checksum(wire, IP)


@pytest.mark.parametrize("size", [10, 5000])
def test_icmpv6_port_unreachable_fits_the_minimum_mtu(size: int) -> None:
    pkt = parse(raw(ip(6) / UDP(sport=4444, dport=443) / (b"m" * size)))
    assert pkt is not None
    wire = icmp_unreachable(pkt)
    reply = IPv6(wire)
    assert (reply.src, reply.dst, reply.nh) == (REMOTE6, CLIENT6, 58)
    assert (reply[ICMPv6DestUnreach].type, reply[ICMPv6DestUnreach].code) == (1, 4)
    assert len(wire) == min(1280, 48 + len(pkt.raw))
    assert wire[48:] == pkt.raw[: len(wire) - 48]
    assert reply[IPerror6].dst == REMOTE6
    assert_checksum(wire, ICMPv6DestUnreach, "cksum")


# --- DNS ----------------------------------------------------------------------------------------


def test_parse_dns_query_reads_the_first_question() -> None:
    pkt = dns_packet(4, "Api.Example.COM.", "HTTPS", rd=1)
    query = parse_dns_query(pkt.payload)
    assert query is not None
    assert (query.id, query.name, query.qtype, query.qclass) == (0x1234, "api.example.com", 65, 1)
    assert (query.type_name, query.raw) == ("HTTPS", pkt.payload)


def test_parse_dns_query_rejects_responses_truncation_and_pointer_loops() -> None:
    payload = dns_packet(4, "a.example").payload
    response = payload[:2] + b"\x81\x00" + payload[4:]
    looping = payload[:12] + b"\xc0\x0c" + b"\x00\x01\x00\x01"
    forward = payload[:12] + b"\xc0\x20" + b"\x00\x01\x00\x01" + b"\x00" * 20
    assert parse_dns_query(response) is None
    assert parse_dns_query(looping) is None
    assert parse_dns_query(forward) is None
    assert all(parse_dns_query(payload[:n]) is None for n in range(len(payload)))


def test_parse_dns_query_escapes_odd_label_bytes() -> None:
    payload = (
        struct.pack("!HHHHHH", 1, 0x0100, 1, 0, 0, 0)
        + b"\x03a.b\x02\x00Z\x03com\x00\x00\x01\x00\x01"
    )
    query = parse_dns_query(payload)
    assert query is not None
    assert query.name == "a\\.b.\\000z.com"
    dotted = parse_dns_query(payload[:12] + b"\x03a.B\x03com\x00\x00\x01\x00\x01")
    assert dotted is not None and dotted.name == "a\\.b.com"


def test_compressed_question_is_echoed_uncompressed() -> None:
    header = struct.pack("!HHHHHH", 5, 0x0100, 1, 0, 0, 0)  # offset 4 holds 0x00: a root name
    query = parse_dns_query(header + b"\x03WWW\xc0\x04\x00\x01\x00\x01")
    assert query is not None
    assert (query.name, query.question) == ("www", b"\x03WWW\x00\x00\x01\x00\x01")
    answer = DNS(dns_answer(query, ["198.18.0.4"]))
    assert (answer.qd[0].qname, answer.an[0].rrname, answer.an[0].rdata) == (
        b"WWW.",
        b"WWW.",
        "198.18.0.4",
    )


@settings(max_examples=500)
@given(st.binary(max_size=120))
def test_parse_dns_query_never_raises(data: bytes) -> None:
    query = parse_dns_query(struct.pack("!HHHHHH", 1, 0, 1, 0, 0, 0) + data)
    if query is not None:
        dns_answer(query, ["198.18.0.1", "2001:db8:ae::1"])
        dns_nxdomain(query)


@pytest.mark.parametrize("version", [4, 6])
def test_dns_a_answer_end_to_end(version: int) -> None:
    pkt = dns_packet(version, "Mirror.Example.org", "A", rd=1)
    query = parse_dns_query(pkt.payload)
    assert query is not None
    wire = udp_reply(pkt, dns_answer(query, ["198.18.0.9", "2001:db8:ae::9"], ttl=7))
    assert_checksum(wire, UDP)
    answer = decode(wire)[DNS]
    assert (answer.id, answer.qr, answer.rd, answer.ra, answer.rcode) == (0x1234, 1, 1, 1, 0)
    assert (answer.qdcount, answer.ancount) == (1, 1)
    assert answer.qd[0].qname == b"Mirror.Example.org."  # case kept for DNS 0x20 resolvers
    record = answer.an[0]
    assert (record.rrname, record.type, record.ttl, record.rdata) == (
        b"Mirror.Example.org.",
        1,
        7,
        "198.18.0.9",
    )


def test_dns_aaaa_answer_takes_only_ipv6_addresses() -> None:
    query = parse_dns_query(dns_packet(6, "pkg-index.com", "AAAA", rd=0).payload)
    assert query is not None
    answer = DNS(dns_answer(query, ["198.18.0.9", "2001:db8:ae::9", "2001:db8:ae::a"]))
    assert answer.rd == 0
    assert [(rr.type, rr.rdata) for rr in answer.an] == [
        (28, "2001:db8:ae::9"),
        (28, "2001:db8:ae::a"),
    ]


def test_dns_other_qtypes_get_nodata() -> None:
    query = parse_dns_query(dns_packet(4, "example.com", "HTTPS").payload)
    assert query is not None
    answer = DNS(dns_answer(query, ["198.18.0.9"]))
    assert (answer.qr, answer.rcode, answer.ancount, answer.qd[0].qtype) == (1, 0, 0, 65)


def test_dns_nxdomain() -> None:
    query = parse_dns_query(dns_packet(4, "secret.example", "A", rd=1).payload)
    assert query is not None
    answer = DNS(dns_nxdomain(query))
    assert (answer.id, answer.qr, answer.rd, answer.ra, answer.rcode) == (0x1234, 1, 1, 1, 3)
    assert (answer.ancount, answer.qd[0].qname) == (0, b"secret.example.")


def test_dns_answer_for_a_hand_built_query_encodes_the_name() -> None:
    query = DnsQuery(id=9, name="svc.internal", qtype=1, qclass=1, raw=b"")
    answer = DNS(dns_answer(query, ["198.18.0.1"]))
    assert (answer.qd[0].qname, answer.an[0].rrname, answer.an[0].rdata) == (
        b"svc.internal.",
        b"svc.internal.",
        "198.18.0.1",
    )
    with pytest.raises(ValueError):
        dns_answer(query, ["not-an-ip"])


def test_qtype_tables() -> None:
    assert QTYPE_NAMES[1] == "A" and QTYPE_NAMES[28] == "AAAA" and QTYPE_NAMES[65] == "HTTPS"
    assert QTYPES["SVCB"] == 64 and QTYPES["ANY"] == 255
    assert packets.qtype_name(99) == "TYPE99"


# --- TLS and HTTP -------------------------------------------------------------------------------


def test_sni_from_a_real_client_hello() -> None:
    hello = client_hello("API.example.com")
    assert looks_like_tls(hello)
    assert tls_record_complete(hello)
    assert parse_sni(hello) == "api.example.com"


def test_partial_client_hello_waits_for_more() -> None:
    hello = client_hello("api.example.com")
    for size in (0, 1, 3, 5, 100, len(hello) - 1):
        assert not tls_record_complete(hello[:size]), size
        assert parse_sni(hello[:size]) is None


def test_client_hello_split_over_two_records_is_reassembled() -> None:
    hello = client_hello("split.example.net")
    body = hello[5:]
    first = hello[:3] + struct.pack("!H", 40) + body[:40]
    second = hello[:3] + struct.pack("!H", len(body) - 40) + body[40:]
    assert not tls_record_complete(first)
    assert parse_sni(first) is None
    assert tls_record_complete(first + second)
    assert parse_sni(first + second) == "split.example.net"


def test_client_hello_without_sni() -> None:
    hello = client_hello(None)
    assert tls_record_complete(hello)
    assert parse_sni(hello) is None


def test_non_tls_bytes_are_complete_and_have_no_sni() -> None:
    data = b"GET / HTTP/1.1\r\n"
    assert not looks_like_tls(data)
    assert tls_record_complete(data)
    assert parse_sni(data) is None
    alert = b"\x15\x03\x03\x00\x02\x02\x28"
    assert tls_record_complete(alert) and parse_sni(alert) is None


@settings(max_examples=500)
@given(st.binary(max_size=300))
def test_tls_and_http_parsers_never_raise(data: bytes) -> None:
    for prefix in (b"", b"\x16\x03\x01", b"\x16\x03\x01\x00\x80\x01\x00\x00\x7c\x03\x03"):
        tls_record_complete(prefix + data)
        parse_sni(prefix + data)
    parse_http_head(data)
    parse_http_head(b"GET / HTTP/1.1\r\n" + data)


@settings(max_examples=200)
@given(st.integers(0, 400))
def test_mutated_client_hello_never_raises(cut: int) -> None:
    hello = bytearray(client_hello("x.example"))
    if cut < len(hello):
        hello[cut] ^= 0xFF
    parse_sni(bytes(hello))


def test_http_get_with_host_and_port() -> None:
    head = parse_http_head(b"GET /x HTTP/1.1\r\nHost: a:8080\r\n\r\n")
    assert head is not None
    assert (head.method, head.target, head.host, head.complete) == ("GET", "/x", "a:8080", True)
    assert head.authority == "a:8080"


def test_http_connect_through_a_proxy() -> None:
    head = parse_http_head(b"CONNECT host:443 HTTP/1.0\r\n\r\n")
    assert head is not None
    assert (head.method, head.target, head.host, head.complete) == (
        "CONNECT",
        "host:443",
        None,
        True,
    )
    assert (head.version, head.authority) == ("HTTP/1.0", "host:443")


def test_http_head_in_progress() -> None:
    assert parse_http_head(b"GET /simple/ HT") is None
    partial = parse_http_head(b"GET /simple/ HTTP/1.1\r\nUser-Agent: pip\r\nHo")
    assert partial is not None
    assert (partial.target, partial.host, partial.complete) == ("/simple/", None, False)
    ipv6 = parse_http_head(b"GET /x HTTP/1.1\nhost:  [2001:db8:1::7]:8080 \nAccept: */*\n\n")
    assert ipv6 is not None and ipv6.host == "[2001:db8:1::7]:8080" and ipv6.complete


def test_http_absolute_form_authority_and_junk() -> None:
    head = parse_http_head(b"GET http://mirror.example/simple/six/ HTTP/1.1\r\nHost: other\r\n\r\n")
    assert head is not None and head.authority == "mirror.example"
    assert parse_http_head(b"\x16\x03\x01\x02\x00\r\n") is None
    assert parse_http_head(b"GET /no-version\r\n\r\n") is None


# --- synthetic addresses ------------------------------------------------------------------------


def test_synthetic_addresses_are_per_name_and_in_order() -> None:
    book = SyntheticAddresses()
    assert book.ipv4_for("a.example") == "198.18.0.1"
    assert book.ipv4_for("b.example") == "198.18.0.2"
    assert book.ipv4_for("A.Example.") == "198.18.0.1"
    assert book.ipv6_for("b.example") == "2001:db8:ae::1"
    assert book.ipv6_for("a.example") == "2001:db8:ae::2"
    assert book.name_for("198.18.0.2") == "b.example"
    assert book.name_for("2001:DB8:AE:0::2") == "a.example"
    assert book.issued("2001:db8:ae::1")
    assert not book.issued("192.0.2.53")
    assert book.name_for("junk") is None


def test_synthetic_addresses_skip_reserved_and_broadcast_looking() -> None:
    book = SyntheticAddresses()
    issued = [book.ipv4_for(f"n{i}.example") for i in range(600)]
    assert len(set(issued)) == 600
    assert "198.18.0.53" not in issued
    assert not any(a.endswith((".0", ".255")) for a in issued)
    assert issued[252] == "198.18.0.254" and issued[253] == "198.18.1.1"
    v6 = [book.ipv6_for(f"n{i}.example") for i in range(0x60)]
    assert "2001:db8:ae::53" not in v6
    assert SyntheticAddresses(reserved=()).ipv4_for("x") == "198.18.0.1"


def test_synthetic_addresses_recycle_the_oldest_when_exhausted() -> None:
    book = SyntheticAddresses()
    first = book.ipv4_for("first.example")
    count = 1
    while True:
        address = book.ipv4_for(f"n{count}.example")
        count += 1
        if address == first:
            break
    assert 130_000 < count < 131_072
    assert book.name_for(first) == f"n{count - 1}.example"
    assert book.ipv4_for("first.example") != first
