"""Hash-pin every regular file of a bundle: parallel, streaming, refusing anything but plain files.

The walk never follows a symbolic link and never opens a device, FIFO or socket, so a bundle
cannot smuggle bytes from outside its root into a signature or hang the hasher on a pipe. Files
are hashed in a thread pool (``hashlib`` releases the GIL while it hashes) in fixed-size chunks,
so memory stays bounded whatever the file sizes.
"""

from __future__ import annotations

import hashlib
import os
import re
import stat
import threading
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import CancelledError, ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import Any, Literal, Protocol

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
class ShardDigest:
    """One signed shard (model-signing's ``shards`` method): SHA-256 of bytes ``[start, end)``."""

    path: str
    start: int
    end: int
    sha256: str

    @property
    def name(self) -> str:
        """The resource name model-signing writes: ``path:start:end``."""
        return f"{self.path}:{self.start}:{self.end}"


@dataclass(frozen=True, slots=True)
class ShardedManifest:
    """A directory hashed shard by shard: every file cut into ``shard_size`` byte ranges.

    Ordered as model-signing orders them (path component-wise, then offset). Empty files have no
    shard, so shard mode refuses to sign them.
    """

    name: str
    shard_size: int
    shards: tuple[ShardDigest, ...]
    files: tuple[tuple[str, int], ...] = ()
    """``(path, size)`` of every file covered."""
    ignore: tuple[str, ...] = ()

    @property
    def total_bytes(self) -> int:
        """Sum of the file sizes."""
        return sum(size for _, size in self.files)

    def root_digest(self) -> str:
        """SHA-256 over the raw shard digests in order: model-signing's subject digest."""
        return root_digest(s.sha256 for s in self.shards)


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
        self._spec: Any = None
        if self.patterns:  # pathspec is imported only when there is a pattern to match
            import pathspec

            self._spec = pathspec.GitIgnoreSpec.from_lines(self.patterns)
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


# --- hashing -----------------------------------------------------------------------------------


_local = threading.local()


class _Cancelled(CancelledError):
    """Raised inside a worker when its job was cancelled (``result()`` then raises it)."""


def _buffer() -> memoryview:
    """One reusable chunk buffer per thread: allocating 1 MiB per small file costs more than hashing it."""
    view: memoryview | None = getattr(_local, "view", None)
    if view is None:
        view = memoryview(bytearray(CHUNK_SIZE))
        _local.view = view
    return view


def _feed(
    fd: int,
    hasher: Any,
    start: int = 0,
    end: int | None = None,
    progress: Progress | None = None,
    cancel: threading.Event | None = None,
) -> int:
    """Hash the bytes of ``fd`` from ``start`` to ``end`` (``None``: to end of file); returns the count.

    Read with ``preadv`` into the thread's reusable buffer (the kernel reads ahead).
    Not from memory maps: they save a copy (a tenth of a SHA-256's CPU), but a file truncated
    while mapped kills the process with SIGBUS instead of raising a clear error.
    """
    pos = start
    view = _buffer()
    while end is None or pos < end:
        if cancel is not None and cancel.is_set():
            raise _Cancelled
        want = CHUNK_SIZE if end is None else min(CHUNK_SIZE, end - pos)
        n = os.preadv(fd, [view[:want]], pos)
        if not n:
            break
        hasher.update(view[:n])
        pos += n
        if progress is not None:
            progress(n)
    return pos - start


def hash_file(path: Path, progress: Progress | None = None, *, algorithm: str = "sha256") -> str:
    """Streaming digest (hex) of one regular file; refuses links and special files."""
    hasher = hashlib.new(algorithm)
    fd = _open_regular(path)
    try:
        _feed(fd, hasher, progress=progress)
    finally:
        os.close(fd)
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


def cpu_count() -> int:
    """CPUs this process may run on (its affinity mask, which containers and CI runners set)."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except (AttributeError, OSError):
        return max(1, os.cpu_count() or 1)


@dataclass(frozen=True, slots=True)
class Span:
    """One SHA-256 to compute: a whole file (``end`` is None) or the bytes ``[start, end)`` of one."""

    path: str
    """Relative POSIX path under the root."""
    start: int = 0
    end: int | None = None
    size: int = 0
    """Bytes expected (the file's size when it was listed): the scheduler's weight."""


BATCH_BYTES = 32 << 20
"""Small spans are hashed in batches of about this size: one task per file costs more than it hashes."""


def _batches(spans: Sequence[Span], workers: int) -> list[list[Span]]:
    """Largest spans first, each big one alone, small ones grouped, at least ``workers`` tasks."""
    ordered = sorted(spans, key=lambda span: -span.size)
    total = sum(span.size for span in ordered)
    limit = max(1, min(BATCH_BYTES, total // (workers * 4) or 1))
    batches: list[list[Span]] = []
    current: list[Span] = []
    current_bytes = 0
    for span in ordered:
        current.append(span)
        current_bytes += span.size + 4096  # opening a file costs about as much as hashing 4 KiB
        if current_bytes >= limit:
            batches.append(current)
            current, current_bytes = [], 0
    if current:
        batches.append(current)
    return batches


class HashJob:
    """SHA-256 of many spans on a pool of threads, running while the caller does other work.

    ``hashlib`` releases the GIL while it hashes, so the threads use every core. ``result()``
    waits and returns ``{span: hex digest}`` (or raises what a worker raised); ``cancel()`` stops
    the workers at their next chunk. As a context manager, a job that is left before its result
    was taken is cancelled, so an early exit never waits for the hashing to finish.
    """

    def __init__(
        self,
        root: Path,
        spans: Sequence[Span],
        *,
        progress: Progress | None = None,
        workers: int | None = None,
    ) -> None:
        self._root = root
        self._report = _locked(progress)
        self._cancel = threading.Event()
        self._done = False
        count = max(1, workers or cpu_count())
        batches = _batches(spans, count)
        self._pool = ThreadPoolExecutor(
            max_workers=max(1, min(count, len(batches))), thread_name_prefix="airgap-hash"
        )
        self._futures = [self._pool.submit(self._run, batch) for batch in batches]

    def _run(self, batch: list[Span]) -> list[tuple[Span, str]]:
        return [(span, self._hash(span)) for span in batch]

    def _hash(self, span: Span) -> str:
        path = self._root / span.path
        hasher = hashlib.sha256()
        fd = _open_regular(path)
        try:
            count = _feed(fd, hasher, span.start, span.end, self._report, self._cancel)
        finally:
            os.close(fd)
        if span.end is not None and count != span.end - span.start:
            raise BundleError(
                f"changed while hashing: bytes {span.start}-{span.end} could not be read "
                f"(the file is now shorter)",
                path=path,
            )
        return hasher.hexdigest()

    def result(self) -> dict[Span, str]:
        """Wait for every span; the first worker error is raised (the others are cancelled).

        ``CancelledError`` after :meth:`cancel`.
        """
        if self._cancel.is_set():
            raise CancelledError
        try:
            digests: dict[Span, str] = {}
            for future in self._futures:
                digests.update(future.result())
            return digests
        except BaseException:
            self.cancel()
            raise
        finally:
            self._done = True
            self._pool.shutdown(wait=True)

    def cancel(self) -> None:
        """Stop the workers at their next chunk and wait for them (the result is lost)."""
        self._done = True
        self._cancel.set()
        self._pool.shutdown(wait=True, cancel_futures=True)

    def __enter__(self) -> HashJob:
        return self

    def __exit__(self, *exc_info: object) -> None:
        if not self._done:
            self.cancel()


def hash_spans(
    root: Path,
    spans: Sequence[Span],
    *,
    progress: Progress | None = None,
    workers: int | None = None,
) -> dict[Span, str]:
    """SHA-256 (hex) of each span under ``root``, on every core; see :class:`HashJob`."""
    with HashJob(root, spans, progress=progress, workers=workers) as job:
        return job.result()


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
    spans = [Span(rel, size=size) for rel, size in files]
    digests = hash_spans(root, spans, progress=progress, workers=workers)
    return {span.path: digests[span] for span in spans}


_SIZE = re.compile(r"([0-9]+)\s*([kmg]i?b)?", re.IGNORECASE)
_UNITS = {"kb": 10**3, "mb": 10**6, "gb": 10**9, "kib": 1 << 10, "mib": 1 << 20, "gib": 1 << 30}


def parse_size(text: str) -> int:
    """Bytes from ``1000000000``, ``128MiB`` (1024-based) or ``1GB`` (1000-based); ``ValueError``."""
    match = _SIZE.fullmatch(text.strip())
    if match is None:
        raise ValueError(
            f"{text!r} is not a size: give bytes, or a number with KiB/MiB/GiB (1024-based) "
            "or KB/MB/GB (1000-based)"
        )
    size = int(match.group(1)) * _UNITS.get((match.group(2) or "").lower(), 1)
    if size <= 0:
        raise ValueError(f"{text!r}: a size must be more than 0 bytes")
    return size


def shard_spans(path: str, size: int, shard_size: int) -> list[Span]:
    """model-signing's shards of one file: ``[0, s), [s, 2s), ...``, the last one shorter.

    An empty file has no shard (model-signing lists none for it).
    """
    if shard_size <= 0:
        raise ValueError("shard size must be positive")
    return [
        Span(path, start, min(start + shard_size, size), min(shard_size, size - start))
        for start in range(0, size, shard_size)
    ]


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


MAX_SHARDS = 1_000_000
"""A shard is a ~150-byte resource in the signature: a million make a 150 MB manifest."""


def _tree_spans(root: Path, files: Sequence[tuple[str, int]], shard_size: int | None) -> list[Span]:
    """What to hash: whole files, or model-signing's shards (refusing what shards cannot hold)."""
    if shard_size is None:
        return [Span(rel, size=size) for rel, size in files]
    if shard_size <= 0:
        raise BundleError(f"shard size must be a positive number of bytes, not {shard_size}")
    count = sum(-(-size // shard_size) for _, size in files)
    if count > MAX_SHARDS:
        raise BundleError(
            f"{count:,} shards of {shard_size:,} bytes: too many for one signature "
            f"(at most {MAX_SHARDS:,}; each is a resource in the signed manifest)",
            path=root,
            hint="choose a larger shard size, e.g. 128MiB",
        )
    spans: list[Span] = []
    for rel, size in files:
        if ":" in rel:
            raise BundleError(
                "a path with ':' cannot be named in a shard (model-signing reads names as "
                "path:start:end)",
                path=root / rel,
                hint="rename it, or sign without --shard-size",
            )
        if size == 0:
            raise BundleError(
                "an empty file has no shard, so shard mode cannot pin it",
                path=root / rel,
                hint="remove it or add it to the ignore patterns, or sign without --shard-size",
            )
        spans += shard_spans(rel, size, shard_size)
    return spans


class PendingManifest:
    """A tree whose hashing runs in worker threads: ``result()`` waits and gives its manifest.

    As a context manager, leaving it before ``result()`` cancels the hashing.
    """

    def __init__(
        self,
        name: str,
        files: Sequence[tuple[str, int]],
        ignore: tuple[str, ...],
        shard_size: int | None,
        job: HashJob,
    ) -> None:
        self._name = name
        self._files = tuple(files)
        self._ignore = ignore
        self._shard_size = shard_size
        self._job = job

    def result(self) -> Manifest | ShardedManifest:
        """The manifest, once every file (or shard) is hashed; ``BundleError`` if one changed."""
        digests = self._job.result()
        if self._shard_size is None:
            return Manifest(
                name=self._name,
                files=tuple(
                    FileDigest(rel, digests[Span(rel, size=size)], size)
                    for rel, size in self._files
                ),
                ignore=self._ignore,
            )
        shards = tuple(
            ShardDigest(span.path, span.start, span.end or 0, digest)
            for span, digest in digests.items()
        )
        return ShardedManifest(
            name=self._name,
            shard_size=self._shard_size,
            shards=tuple(sorted(shards, key=lambda s: (sort_key(s.path), s.start))),
            files=self._files,
            ignore=self._ignore,
        )

    def cancel(self) -> None:
        """Stop hashing (the manifest is lost)."""
        self._job.cancel()

    def __enter__(self) -> PendingManifest:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self._job.__exit__(*exc_info)


def start_hash_tree(
    root: Path,
    ignore: Sequence[str] = (),
    *,
    shard_size: int | None = None,
    progress: Progress | None = None,
    on_start: Start | None = None,
    workers: int | None = None,
) -> PendingManifest:
    """Walk ``root`` now and start hashing it in the background (see :func:`hash_tree`).

    The walk's refusals (a link, a special file, what shard mode cannot hold) are raised here,
    before any hashing; the caller may do other work (decrypt a key, scan for unsafe formats)
    while the threads hash.
    """
    rules = IgnoreRules(ignore)
    real_root = resolve_root(root)
    scan = scan_tree(real_root, rules)
    if scan.problems:
        raise _refuse(root, scan.problems[0])
    spans = _tree_spans(root, scan.files, shard_size)
    if on_start is not None:
        on_start(len(scan.files), sum(size for _, size in scan.files))
    job = HashJob(real_root, spans, progress=progress, workers=workers)
    return PendingManifest(_root_name(root, real_root), scan.files, rules.patterns, shard_size, job)


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
    with start_hash_tree(
        root, ignore, progress=progress, on_start=on_start, workers=workers
    ) as pending:
        manifest = pending.result()
    assert isinstance(manifest, Manifest)
    return manifest


def hash_tree_shards(
    root: Path,
    shard_size: int,
    ignore: Sequence[str] = (),
    *,
    progress: Progress | None = None,
    on_start: Start | None = None,
    workers: int | None = None,
) -> ShardedManifest:
    """Like :func:`hash_tree`, shard by shard (model-signing's ``shards`` method).

    Shards are independent SHA-256s, so one huge file is hashed on every core.
    """
    with start_hash_tree(
        root,
        ignore,
        shard_size=shard_size,
        progress=progress,
        on_start=on_start,
        workers=workers,
    ) as pending:
        manifest = pending.result()
    assert isinstance(manifest, ShardedManifest)
    return manifest


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
