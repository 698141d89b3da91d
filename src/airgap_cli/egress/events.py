"""What the auditor records: one ``Attempt`` per outbound try, grouped into destinations."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

DENIED = "denied"
ALLOWED = "allowed"

KINDS = ("dns", "tcp", "udp", "icmp", "direct-ip", "proxy-connect", "io_uring")
"""``direct-ip``: a TCP/UDP destination the DNS sinkhole never handed out (hard-coded IP, DoH, DoT)."""


_INTERPRETERS = ("python", "node", "ruby", "perl", "bash", "sh", "java", "pypy")


@dataclass(frozen=True, slots=True)
class Process:
    """One process of the workload's tree."""

    pid: int
    cmdline: tuple[str, ...]
    exe: str = ""

    @property
    def name(self) -> str:
        """Short name for tables: ``git-remote-https``; for interpreters the script or module
        they run (``pip (python3)``), which is what a reader recognises."""
        if not self.cmdline:
            return self.exe.rsplit("/", 1)[-1] or str(self.pid)
        base = self.cmdline[0].rsplit("/", 1)[-1]
        if base.startswith(_INTERPRETERS) and len(self.cmdline) > 1:
            first = self.cmdline[1]
            if first == "-m" and len(self.cmdline) > 2:
                return f"{self.cmdline[2]} ({base} -m)"
            if not first.startswith("-"):
                return f"{first.rsplit('/', 1)[-1]} ({base})"
        return base

    def to_dict(self) -> dict[str, Any]:
        """JSON form."""
        return {"pid": self.pid, "cmdline": list(self.cmdline), "exe": self.exe}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Process:
        """Inverse of :meth:`to_dict`."""
        return cls(int(data["pid"]), tuple(data.get("cmdline", ())), str(data.get("exe", "")))


@dataclass(slots=True)
class Attempt:
    """One outbound attempt, as seen on the wire and attributed to a process."""

    time: float
    """Seconds since the workload started."""
    protocol: str
    """``dns``, ``tcp``, ``udp`` or ``icmp``."""
    kind: str
    """One of :data:`KINDS`."""
    destination: str
    """The name the workload asked for when known (via the sinkhole), else the IP address."""
    address: str = ""
    """The IP address the packet was sent to."""
    port: int | None = None
    qtype: str = ""
    """DNS query type (``A``, ``AAAA``, ``HTTPS``...) for ``dns`` attempts."""
    sni: str = ""
    http_host: str = ""
    http_path: str = ""
    connect_target: str = ""
    """``host:port`` of an HTTP ``CONNECT`` (a proxy-aware client's real destination)."""
    verdict: str = DENIED
    process: Process | None = None
    chain: tuple[Process, ...] = ()
    """Ancestors from the workload's root process down to ``process``."""

    @property
    def key(self) -> tuple[str, str, int | None]:
        """(protocol, name-or-ip, port): what a baseline and an allowlist speak about."""
        return (self.protocol, self.destination, self.port)

    def to_dict(self) -> dict[str, Any]:
        """JSON form (evidence per attempt)."""
        return {
            "time": round(self.time, 6),
            "protocol": self.protocol,
            "kind": self.kind,
            "destination": self.destination,
            "address": self.address,
            "port": self.port,
            "qtype": self.qtype,
            "sni": self.sni,
            "http_host": self.http_host,
            "http_path": self.http_path,
            "connect_target": self.connect_target,
            "verdict": self.verdict,
            "process": self.process.to_dict() if self.process else None,
            "chain": [p.to_dict() for p in self.chain],
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Attempt:
        """Inverse of :meth:`to_dict`."""
        process = data.get("process")
        return cls(
            time=float(data["time"]),
            protocol=str(data["protocol"]),
            kind=str(data["kind"]),
            destination=str(data["destination"]),
            address=str(data.get("address", "")),
            port=data.get("port"),
            qtype=str(data.get("qtype", "")),
            sni=str(data.get("sni", "")),
            http_host=str(data.get("http_host", "")),
            http_path=str(data.get("http_path", "")),
            connect_target=str(data.get("connect_target", "")),
            verdict=str(data.get("verdict", DENIED)),
            process=Process.from_dict(process) if process else None,
            chain=tuple(Process.from_dict(p) for p in data.get("chain", [])),
        )


def destination_label(key: tuple[str, str, int | None]) -> str:
    """``tcp api.example.com:443`` for tables and messages."""
    protocol, dest, port = key
    host = f"[{dest}]" if ":" in dest else dest
    return f"{protocol} {host}:{port}" if port is not None else f"{protocol} {host}"


@dataclass(slots=True)
class Destination:
    """All attempts with one key, summarised for the table and the findings."""

    key: tuple[str, str, int | None]
    kinds: set[str] = field(default_factory=set)
    verdicts: set[str] = field(default_factory=set)
    count: int = 0
    processes: list[str] = field(default_factory=list)
    first: Attempt | None = None


def summarise(attempts: list[Attempt]) -> list[Destination]:
    """Group attempts by destination key, in order of first appearance."""
    table: dict[tuple[str, str, int | None], Destination] = {}
    for attempt in attempts:
        entry = table.setdefault(attempt.key, Destination(attempt.key, first=attempt))
        entry.kinds.add(attempt.kind)
        entry.verdicts.add(attempt.verdict)
        entry.count += 1
        name = (
            " → ".join(p.name for p in attempt.chain)
            if attempt.chain
            else (attempt.process.name if attempt.process else "?")
        )
        if name not in entry.processes:
            entry.processes.append(name)
    return list(table.values())
