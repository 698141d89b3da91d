"""Evidence as a capture file: every packet the workload sent and every answer, in pcap format.

The classic libpcap format with LINKTYPE_RAW (101: bare IPv4/IPv6 packets, which is what a TUN
device carries) is 24 + 16 bytes of header; Wireshark, tcpdump and scapy read it.
"""

from __future__ import annotations

import struct
import time
from pathlib import Path
from typing import BinaryIO

LINKTYPE_RAW = 101
_MAGIC = 0xA1B2C3D4


class PcapWriter:
    """Append packets with their capture time; ``close`` flushes the file."""

    def __init__(self, path: Path, snaplen: int = 65535) -> None:
        self._file: BinaryIO = open(path, "wb")  # noqa: SIM115 - closed in close()
        self._snaplen = snaplen
        self._file.write(struct.pack("<IHHiIII", _MAGIC, 2, 4, 0, 0, snaplen, LINKTYPE_RAW))

    def write(self, packet: bytes, when: float | None = None) -> None:
        """One IP packet (as read from or written to the TUN device)."""
        stamp = time.time() if when is None else when
        seconds = int(stamp)
        micros = int((stamp - seconds) * 1_000_000)
        data = packet[: self._snaplen]
        self._file.write(struct.pack("<IIII", seconds, micros, len(data), len(packet)) + data)

    def close(self) -> None:
        """Flush and close (idempotent)."""
        if not self._file.closed:
            self._file.close()
