"""The allowed path: an HTTP proxy whose listening socket lives inside the sandbox.

The sandbox creates ``127.0.0.1:3128`` in its own network namespace and hands the listening
socket to the auditor, which accepts from the host side and dials allowed destinations from the
host's network namespace. Proxy-aware clients (``HTTPS_PROXY``/``HTTP_PROXY`` are set for the
workload) reach the internal mirror; everything else, and every destination outside the
allowlist, is refused and recorded. No bridge process, no extra package, no root-only NAT.
"""

from __future__ import annotations

import contextlib
import select
import socket
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

from airgap_cli.egress import packets
from airgap_cli.egress.events import ALLOWED, DENIED, Attempt

PROXY_ADDRESS = ("127.0.0.1", 3128)
PROXY_URL = f"http://{PROXY_ADDRESS[0]}:{PROXY_ADDRESS[1]}"
_HEAD_LIMIT = 16384
_IDLE = 60.0


@dataclass
class ProxyContext:
    """What the proxy needs from the auditor."""

    is_allowed: Callable[[str, str | None, str | None, int | None], bool]
    record: Callable[[Attempt], None]
    attribute: Callable[[str, int, str, int], Attempt]
    """Build an attempt attributed to the process owning the client socket (peer, local)."""
    connect_timeout: float = 10.0


class Proxy:
    """Accepts on the in-sandbox listener; one thread per connection."""

    def __init__(self, listener: socket.socket, context: ProxyContext) -> None:
        self.listener = listener
        self.context = context
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._serve, name="airgap-proxy", daemon=True)

    def start(self) -> None:
        """Serve in the background until :meth:`stop`."""
        self._thread.start()

    def stop(self) -> None:
        """Stop accepting; open tunnels end with the workload."""
        self._stop.set()
        self._thread.join(timeout=2)
        with contextlib.suppress(OSError):
            self.listener.close()

    def _serve(self) -> None:
        while not self._stop.is_set():
            ready, _, _ = select.select([self.listener], [], [], 0.2)
            if not ready:
                continue
            try:
                client, _ = self.listener.accept()
            except OSError:
                continue
            threading.Thread(target=self._handle, args=(client,), daemon=True).start()

    def _handle(self, client: socket.socket) -> None:
        with client:
            client.settimeout(10)
            try:
                head, rest = _read_head(client)
            except OSError:
                return
            parsed = packets.parse_http_head(head)
            if parsed is None or not parsed.complete:
                _respond(client, 400, "airgap: not an HTTP proxy request")
                return
            peer, local = client.getpeername(), client.getsockname()
            attempt = self.context.attribute(peer[0], peer[1], local[0], local[1])
            host, port, forward = _destination(parsed, head)
            if host is None or port is None:
                _respond(client, 400, "airgap: no destination in the request")
                return
            attempt.destination = host.lower()
            attempt.port = port
            attempt.kind = "proxy-connect"
            attempt.connect_target = f"{host}:{port}"
            attempt.http_host = parsed.host or ""
            address = host if _is_ip(host) else None
            allowed = self.context.is_allowed("tcp", None if address else host, address, port)
            attempt.verdict = ALLOWED if allowed else DENIED
            self.context.record(attempt)
            if not allowed:
                _respond(client, 403, f"airgap: {host}:{port} is not in egress.allow")
                return
            try:
                upstream = socket.create_connection(
                    (host, port), timeout=self.context.connect_timeout
                )
            except OSError as exc:
                _respond(client, 502, f"airgap: cannot reach {host}:{port}: {exc.strerror or exc}")
                return
            with upstream:
                if parsed.method == "CONNECT":
                    client.sendall(b"HTTP/1.1 200 Connection established\r\n\r\n")
                else:
                    upstream.sendall(forward)
                if rest:
                    upstream.sendall(rest)
                _splice(client, upstream)


def _read_head(client: socket.socket) -> tuple[bytes, bytes]:
    data = b""
    while b"\r\n\r\n" not in data and len(data) < _HEAD_LIMIT:
        chunk = client.recv(4096)
        if not chunk:
            break
        data += chunk
    head, sep, rest = data.partition(b"\r\n\r\n")
    return head + sep, rest


def _destination(head: packets.HttpHead, raw: bytes) -> tuple[str | None, int | None, bytes]:
    """(host, port, request to forward) for CONNECT or an absolute-URI request."""
    if head.method == "CONNECT":
        host, port = _split_authority(head.target, 443)
        return host, port, b""
    target = head.target
    if not target.lower().startswith("http://"):
        return None, None, b""
    authority, _, path = target[7:].partition("/")
    host, port = _split_authority(authority, 80)
    first_line_end = raw.find(b"\r\n")
    request_line = f"{head.method} /{path} {head.version}".encode("latin-1")
    return host, port, request_line + raw[first_line_end:]


def _split_authority(authority: str, default: int) -> tuple[str | None, int | None]:
    if authority.startswith("["):
        host, _, rest = authority[1:].partition("]")
        port_text = rest[1:] if rest.startswith(":") else ""
    else:
        host, _, port_text = authority.rpartition(":") if ":" in authority else (authority, "", "")
    try:
        port = int(port_text) if port_text else default
    except ValueError:
        return None, None
    return (host or None), port


def _is_ip(host: str) -> bool:
    try:
        socket.inet_pton(socket.AF_INET6 if ":" in host else socket.AF_INET, host)
    except OSError:
        return False
    return True


def _respond(client: socket.socket, status: int, text: str) -> None:
    reason = {400: "Bad Request", 403: "Forbidden", 502: "Bad Gateway"}[status]
    body = (text + "\n").encode()
    with contextlib.suppress(OSError):
        client.sendall(
            f"HTTP/1.1 {status} {reason}\r\nContent-Type: text/plain\r\n"
            f"Content-Length: {len(body)}\r\nConnection: close\r\n\r\n".encode()
            + body
        )


def _splice(a: socket.socket, b: socket.socket) -> None:
    """Copy both ways until either side closes or both are idle for a minute."""
    a.setblocking(False)
    b.setblocking(False)
    last = time.monotonic()
    peers = {a: b, b: a}
    while time.monotonic() - last < _IDLE:
        ready, _, _ = select.select(list(peers), [], [], 1.0)
        for sock in ready:
            try:
                data = sock.recv(65536)
            except BlockingIOError:
                continue
            except OSError:
                return
            if not data:
                return
            last = time.monotonic()
            other = peers[sock]
            other.setblocking(True)
            try:
                other.sendall(data)
            except OSError:
                return
            finally:
                other.setblocking(False)
