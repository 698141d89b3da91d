"""``--shard I/N``: split one run's files over N CI jobs, deterministically, with no overlap.

Every job walks the same tree and keeps the files whose path hashes to its index, so the N
shards cover every file exactly once without talking to each other. What needs all files at
once (the cross-document lint rules) is left to ``airgap merge``, which runs it on the facts
the shards hand over.
"""

from __future__ import annotations

import re
import zlib
from dataclasses import dataclass
from typing import Any

from airgap_cli.core.errors import UsageError
from airgap_cli.core.paths import from_cwd

MAX_SHARDS = 1000
_SPEC = re.compile(r"^\s*(\d+)\s*/\s*(\d+)\s*$")


@dataclass(frozen=True, slots=True)
class Shard:
    """Shard ``index`` (1-based, as GitLab's ``CI_NODE_INDEX``) of ``total``."""

    index: int
    total: int

    @classmethod
    def parse(cls, text: str) -> Shard:
        """``"2/4"``; ``UsageError`` for anything else (``0/4``, ``5/4``, ``2``)."""
        match = _SPEC.match(text)
        if not match:
            raise UsageError(
                f"--shard expects I/N, e.g. 2/4 (CI_NODE_INDEX/CI_NODE_TOTAL): {text!r}"
            )
        index, total = int(match.group(1)), int(match.group(2))
        if not 1 <= total <= MAX_SHARDS or not 1 <= index <= total:
            raise UsageError(f"--shard {text}: I must be between 1 and N, N at most {MAX_SHARDS}")
        return cls(index, total)

    def owns(self, path: str) -> bool:
        """Whether this shard handles ``path``: decided on the path relative to the working
        directory, so jobs checking the same tree from different build directories agree."""
        key = from_cwd(path)
        return zlib.crc32(key.encode("utf-8", "surrogateescape")) % self.total == self.index - 1

    def to_dict(self) -> dict[str, Any]:
        """``{"index": i, "total": n}``."""
        return {"index": self.index, "total": self.total}

    def __str__(self) -> str:
        return f"{self.index}/{self.total}"
