"""Hash-pin every regular file of a bundle: parallel, streaming, refusing anything but plain files.

The walk never follows a symbolic link and never opens a device, FIFO or socket, so a bundle
cannot smuggle bytes from outside its root into a signature or hang the hasher on a pipe. Files
are hashed in a thread pool (``hashlib`` releases the GIL while it hashes) in fixed-size chunks,
so memory stays bounded whatever the file sizes.
"""

from __future__ import annotations

import hashlib
import os
import stat
import threading
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import Any, Literal, Protocol

import pathspec

from airgap_cli.core.errors import AirgapError

CHUNK_SIZE = 1 << 20
"""Bytes read per ``readinto``: large enough for full hashing speed, small enough for a fine bar."""

Progress = Callable[[int], None]
"""Called with the number of bytes just hashed (a delta); calls are serialised by a lock."""

Start = Callable[[int, int], None]
"""Called once with (files, total bytes) before hashing starts, so a bar knows its length."""

EntryKind = Literal["symlink", "special", "escape"]


class BundleError(AirgapError):
    """A bundle or signature cannot be used at all (the CLI exits 2)."""


@dataclass(frozen=True, slots=True)
class FileDigest:
    """One signed file: its relative POSIX path, SHA-256 (hex) and size."""

    path: str
    sha256: str
    size: int


@dataclass(frozen=True, slots=True)
class Manifest:
    """The hash-pinned content of a directory, in model-signing's canonical order."""

    name: str
    """Final component of the root (informational, like model-signing's model name)."""
    files: tuple[FileDigest, ...]
    ignore: tuple[str, ...] = ()
    """The ignore patterns in force, recorded verbatim in the signed predicate."""

    @property
    def total_bytes(self) -> int:
        """Sum of the file sizes."""
        return sum(f.size for f in self.files)

    def digests(self) -> dict[str, str]:
        """``{relative path: sha256 hex}``."""
        return {f.path: f.sha256 for f in self.files}

    def root_digest(self) -> str:
        """SHA-256 over the raw per-file digests in order: model-signing's subject digest."""
        return root_digest(f.sha256 for f in self.files)


@dataclass(frozen=True, slots=True)
class TreeProblem:
    """Something in the tree that is not a plain file and therefore cannot be signed."""

    path: str
    """Relative POSIX path inside the root."""
    kind: EntryKind
    detail: str
    """What it is, e.g. ``symlink -> ../etc/passwd`` or ``FIFO``."""


@dataclass(slots=True)
class TreeScan:
    """Result of walking a root: plain files with sizes, plus everything that is not one."""

    files: list[tuple[str, int]] = field(default_factory=list)
    problems: list[TreeProblem] = field(default_factory=list)


def sort_key(relpath: str) -> tuple[str, ...]:
    """Order paths component-wise, as model-signing does (``a/b`` before ``a-b/c``)."""
    return tuple(relpath.split("/"))


def root_digest(hex_digests: Iterable[str]) -> str:
    """SHA-256 over the concatenation of raw digests, in the order given."""
    hasher = hashlib.sha256()
    for hex_digest in hex_digests:
        hasher.update(bytes.fromhex(hex_digest))
    return hasher.hexdigest()


class PathFilter(Protocol):
    """Anything that says whether a relative path is skipped by the walk."""

    def matches(self, relpath: str, *, is_dir: bool = False) -> bool:
        """True when ``relpath`` is skipped (a skipped directory is not descended into)."""
        ...


_GLOB_CHARS = frozenset("*?[]!\\")


class IgnoreRules:
    """Gitignore-style patterns, plus model-signing's literal-path semantics for plain paths.

    model-signing records ``ignore_paths`` as literal paths relative to the root (a path ignores
    itself and everything below it); gitignore patterns are a superset for such paths, so both
    producers' predicates mean what their signer meant.
    """

    def __init__(self, patterns: Sequence[str]) -> None:
        self.patterns = tuple(patterns)
        self._spec: Any = pathspec.GitIgnoreSpec.from_lines(self.patterns)
        self._literal = tuple(
            p.strip("/")
            for p in self.patterns
            if p.strip("/") and not (set(p) & _GLOB_CHARS) and not p.startswith("#")
        )

    def __bool__(self) -> bool:
        return bool(self.patterns)

    def matches(self, relpath: str, *, is_dir: bool = False) -> bool:
        """True when ``relpath`` (POSIX, relative to the root) is ignored."""
        if not self.patterns:
            return False
        for literal in self._literal:
            if relpath == literal or relpath.startswith(literal + "/"):
                return True
        candidate = relpath + "/" if is_dir else relpath
        return bool(self._spec.match_file(candidate))


def _special_kind(mode: int) -> str:
    """Human name of a non-regular, non-directory, non-link file type."""
    if stat.S_ISFIFO(mode):
        return "FIFO"
    if stat.S_ISSOCK(mode):
        return "socket"
    if stat.S_ISCHR(mode):
        return "character device"
    if stat.S_ISBLK(mode):
        return "block device"
    return f"special file (mode {stat.filemode(mode)})"


def _inside(root: Path, target: Path) -> bool:
    """Whether ``target`` (already resolved) lies within ``root`` (resolved)."""
    return target == root or target.is_relative_to(root)


def resolve_root(root: Path) -> Path:
    """The real directory to walk; ``BundleError`` when it is missing or not a directory."""
    try:
        real = root.resolve(strict=True)
    except OSError as exc:
        raise BundleError(
            f"cannot open bundle directory: {exc.strerror or exc}", path=root
        ) from exc
    if not real.is_dir():
        raise BundleError("not a directory", path=root)
    return real


def scan_tree(root: Path, ignore: PathFilter | Sequence[str] = ()) -> TreeScan:
    """Walk ``root`` without following links: plain files, plus every entry that is not one.

    Ignored directories are not descended into. Symbolic links are reported as ``symlink``, or as
    ``escape`` when they resolve outside the root; devices, FIFOs and sockets as ``special``.
    """
    rules: PathFilter = IgnoreRules(ignore) if isinstance(ignore, Sequence) else ignore
    real_root = resolve_root(root)
    scan = TreeScan()
    stack: list[tuple[str, str]] = [(str(real_root), "")]
    while stack:
        directory, prefix = stack.pop()
        try:
            with os.scandir(directory) as iterator:
                entries = list(iterator)
        except OSError as exc:
            raise BundleError(
                f"cannot list directory: {exc.strerror or exc}", path=directory
            ) from exc
        for entry in entries:
            rel = f"{prefix}{entry.name}"
            try:
                info = entry.stat(follow_symlinks=False)
            except OSError as exc:
                raise BundleError(f"cannot stat: {exc.strerror or exc}", path=entry.path) from exc
            mode = info.st_mode
            is_dir = stat.S_ISDIR(mode)
            if rules.matches(rel, is_dir=is_dir):
                continue
            if stat.S_ISLNK(mode):
                scan.problems.append(_link_problem(real_root, Path(entry.path), rel))
            elif is_dir:
                stack.append((entry.path, rel + "/"))
            elif stat.S_ISREG(mode):
                scan.files.append((rel, info.st_size))
            else:
                scan.problems.append(TreeProblem(rel, "special", _special_kind(mode)))
    scan.files.sort(key=lambda item: sort_key(item[0]))
    scan.problems.sort(key=lambda p: sort_key(p.path))
    return scan


def _link_problem(real_root: Path, link: Path, rel: str) -> TreeProblem:
    """Classify a symbolic link: inside the root (``symlink``) or leaving it (``escape``)."""
    try:
        target = os.readlink(link)
    except OSError:
        target = "?"
    resolved = link.resolve(strict=False)
    if _inside(real_root, resolved):
        return TreeProblem(rel, "symlink", f"symlink -> {target}")
    return TreeProblem(rel, "escape", f"symlink -> {target} (resolves outside the bundle)")


def _open_regular(path: Path) -> int:
    """Open without following a link and without blocking on a FIFO swapped in since the walk."""
    flags = os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_NONBLOCK", 0)
    try:
        fd = os.open(path, flags)
    except OSError as exc:
        raise BundleError(
            f"cannot open (changed while hashing, or a link?): {exc.strerror or exc}", path=path
        ) from exc
    if not stat.S_ISREG(os.fstat(fd).st_mode):
        os.close(fd)
        raise BundleError("is no longer a regular file", path=path)
    return fd


_local = threading.local()


def _buffer() -> memoryview:
    """One reusable chunk buffer per thread: allocating 1 MiB per small file costs more than hashing it."""
    view: memoryview | None = getattr(_local, "view", None)
    if view is None:
        view = memoryview(bytearray(CHUNK_SIZE))
        _local.view = view
    return view


def hash_file(path: Path, progress: Progress | None = None, *, algorithm: str = "sha256") -> str:
    """Streaming digest (hex) of one regular file; refuses links and special files."""
    hasher = hashlib.new(algorithm)
    view = _buffer()
    fd = _open_regular(path)
    with os.fdopen(fd, "rb", buffering=0) as handle:
        while True:
            n = handle.readinto(view)
            if not n:
                break
            hasher.update(view[:n])
            if progress is not None:
                progress(n)
    return hasher.hexdigest()


def _locked(progress: Progress | None) -> Progress | None:
    """Serialise callback calls coming from worker threads."""
    if progress is None:
        return None
    lock = threading.Lock()

    def report(n: int) -> None:
        with lock:
            progress(n)

    return report


BATCH_BYTES = 32 << 20
"""Small files are hashed in batches of about this size: one task per file costs more than it hashes."""


def _batches(files: Sequence[tuple[str, int]], workers: int) -> list[list[str]]:
    """Largest files first, each big file alone, small ones grouped, at least ``workers`` tasks."""
    ordered = sorted(files, key=lambda item: -item[1])
    total = sum(size for _, size in ordered)
    limit = max(1, min(BATCH_BYTES, total // (workers * 4) or 1))
    batches: list[list[str]] = []
    current: list[str] = []
    current_bytes = 0
    for rel, size in ordered:
        current.append(rel)
        current_bytes += size + 4096  # opening a file costs about as much as hashing 4 KiB
        if current_bytes >= limit:
            batches.append(current)
            current, current_bytes = [], 0
    if current:
        batches.append(current)
    return batches


def hash_files(
    root: Path,
    files: Sequence[tuple[str, int]],
    *,
    progress: Progress | None = None,
    on_start: Start | None = None,
    workers: int | None = None,
) -> dict[str, str]:
    """SHA-256 of each ``(relative path, size)`` under ``root``, in a thread pool.

    Big files go first so the pool drains evenly; small files travel in batches.
    """
    if on_start is not None:
        on_start(len(files), sum(size for _, size in files))
    report = _locked(progress)
    count = max(1, workers or os.cpu_count() or 1)

    def run(batch: list[str]) -> list[tuple[str, str]]:
        return [(rel, hash_file(root / rel, report)) for rel in batch]

    batches = _batches(files, count)
    if count == 1 or len(batches) <= 1:
        return dict(item for batch in batches for item in run(batch))
    with ThreadPoolExecutor(
        max_workers=min(count, len(batches)), thread_name_prefix="airgap-hash"
    ) as pool:
        return dict(item for result in pool.map(run, batches) for item in result)


def _refuse(root: Path, problem: TreeProblem) -> BundleError:
    """The error for an entry that cannot be signed, naming it."""
    what = {
        "symlink": "symbolic links are not signed",
        "escape": "path escapes the bundle",
        "special": "only regular files can be signed",
    }[problem.kind]
    return BundleError(
        f"{what}: {problem.detail}",
        path=root / problem.path,
        hint="remove it or add it to the ignore patterns",
    )


def hash_tree(
    root: Path,
    ignore: Sequence[str] = (),
    *,
    progress: Progress | None = None,
    on_start: Start | None = None,
    workers: int | None = None,
) -> Manifest:
    """Hash every regular file under ``root``; ``BundleError`` on any link or special file.

    ``ignore`` holds gitignore-style patterns; matching paths are neither hashed nor checked.
    """
    rules = IgnoreRules(ignore)
    real_root = resolve_root(root)
    scan = scan_tree(real_root, rules)
    if scan.problems:
        raise _refuse(root, scan.problems[0])
    digests = hash_files(
        real_root, scan.files, progress=progress, on_start=on_start, workers=workers
    )
    files = tuple(FileDigest(rel, digests[rel], size) for rel, size in scan.files)
    return Manifest(name=_root_name(root, real_root), files=files, ignore=rules.patterns)


def _root_name(root: Path, real_root: Path) -> str:
    """The directory's own name, as model-signing records it in the subject."""
    name = root.name
    if not name or name == "..":
        name = real_root.name
    return name


def is_safe_relpath(name: str) -> bool:
    """A relative POSIX path with no ``..``, no leading ``/``, no empty or ``.`` components."""
    if not name or name.startswith("/") or "\\" in name or "\x00" in name:
        return False
    parts = PurePosixPath(name).parts
    return all(part not in ("", ".", "..") for part in parts) and "/".join(parts) == name
