"""Paths as a user types them: relative to the working directory when under it.

File paths in findings, fingerprints, shard assignment and the config a shard names must not
depend on where the checkout is: every CI job has its own build directory.
"""

from __future__ import annotations

import os


def from_cwd(path: os.PathLike[str] | str) -> str:
    """``path`` relative to the working directory when it is under it, else absolute."""
    text = os.path.normpath(os.fspath(path))
    absolute = os.path.abspath(text)
    relative = os.path.relpath(absolute)
    return absolute if relative == ".." or relative.startswith("../") else relative
