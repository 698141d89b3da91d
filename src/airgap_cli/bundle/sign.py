"""Write Sigstore bundle v0.3 signatures with a pinned key, no transparency log.

Directories get a DSSE envelope over an in-toto Statement v1 carrying the model-signing v1.0
predicate, byte-compatible in meaning with ``model_signing sign key`` so its verifier accepts
ours. Single files and tarballs get a message-signature bundle, the shape of
``cosign sign-blob --key … --bundle``. Everything verifies offline with the public key alone.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives.asymmetric import ec

from airgap_cli.bundle import keys
from airgap_cli.bundle.digest import (
    BundleError,
    HashJob,
    Manifest,
    PendingManifest,
    Progress,
    ShardedManifest,
    Span,
    Start,
    start_hash_tree,
)

BUNDLE_MEDIA_TYPE = "application/vnd.dev.sigstore.bundle.v0.3+json"
INTOTO_PAYLOAD_TYPE = "application/vnd.in-toto+json"
STATEMENT_TYPE = "https://in-toto.io/Statement/v1"
MODEL_SIGNING_PREDICATE = "https://model_signing/signature/v1.0"
SIGNATURE_SUFFIX = ".sigstore.json"
TAR_SUFFIXES = (".tar", ".tar.gz", ".tgz", ".tar.bz2", ".tbz2", ".tar.xz", ".txz")


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def pae(payload_type: str, payload: bytes) -> bytes:
    """DSSE v1 pre-authentication encoding: what the signature actually covers.

    ``"DSSEv1" SP len(type) SP type SP len(body) SP body`` with byte lengths in decimal, so a
    payload can never be reinterpreted under another type.
    """
    kind = payload_type.encode("utf-8")
    return b"DSSEv1 %d %s %d %s" % (len(kind), kind, len(payload), payload)


def is_tarball(path: Path) -> bool:
    """Whether ``path`` names a tar archive we sign as a blob and inspect member by member."""
    name = path.name.lower()
    return any(name.endswith(suffix) for suffix in TAR_SUFFIXES)


def default_signature_path(path: Path) -> Path:
    """``PATH.sigstore.json`` beside ``PATH`` (never inside a signed directory)."""
    if path.name in ("", ".", ".."):
        path = path.resolve()
    if not path.name:
        raise BundleError("cannot place a signature beside the filesystem root", path=path)
    return path.with_name(path.name + SIGNATURE_SUFFIX)


def shard_algorithm(shard_size: int) -> str:
    """The per-resource algorithm name model-signing writes in shard mode."""
    return f"sha256-sharded-{shard_size}"


def model_signing_statement(manifest: Manifest | ShardedManifest) -> dict[str, Any]:
    """The in-toto Statement v1 that ``model_signing`` writes for a sha256 manifest.

    A :class:`Manifest` gives the ``files`` method (one resource per file, its SHA-256: what
    ``model_signing sign key`` writes); a :class:`ShardedManifest` the ``shards`` method (one
    resource ``path:start:end`` per shard, as ``hashing.Config().use_shard_serialization()``
    writes it).
    """
    serialization: dict[str, Any]
    resources: list[dict[str, str]]
    if isinstance(manifest, ShardedManifest):
        serialization = {
            "method": "shards",
            "hash_type": "sha256",
            "shard_size": manifest.shard_size,
            "allow_symlinks": False,
        }
        algorithm = shard_algorithm(manifest.shard_size)
        resources = [
            {"name": s.name, "algorithm": algorithm, "digest": s.sha256} for s in manifest.shards
        ]
    else:
        serialization = {"method": "files", "hash_type": "sha256", "allow_symlinks": False}
        resources = [
            {"name": f.path, "algorithm": "sha256", "digest": f.sha256} for f in manifest.files
        ]
    if manifest.ignore:
        serialization["ignore_paths"] = list(manifest.ignore)
    return {
        "_type": STATEMENT_TYPE,
        "subject": [{"name": manifest.name, "digest": {"sha256": manifest.root_digest()}}],
        "predicateType": MODEL_SIGNING_PREDICATE,
        "predicate": {"serialization": serialization, "resources": resources},
    }


def dsse_bundle(statement: dict[str, Any], key: ec.EllipticCurvePrivateKey) -> dict[str, Any]:
    """Sign ``statement`` as a DSSE envelope inside a v0.3 bundle with a public-key hint."""
    payload = json.dumps(statement, indent=2, ensure_ascii=False).encode("utf-8")
    signature = keys.sign_digest(key, pae(INTOTO_PAYLOAD_TYPE, payload))
    return {
        "mediaType": BUNDLE_MEDIA_TYPE,
        "verificationMaterial": {
            "publicKey": {"hint": keys.key_hint(key.public_key())},
            "tlogEntries": [],
        },
        "dsseEnvelope": {
            "payload": _b64(payload),
            "payloadType": INTOTO_PAYLOAD_TYPE,
            "signatures": [{"sig": _b64(signature), "keyid": ""}],
        },
    }


def sign_manifest(
    manifest: Manifest | ShardedManifest, key: ec.EllipticCurvePrivateKey
) -> dict[str, Any]:
    """Bundle for an already hashed directory; refuses an empty manifest (fail closed)."""
    if not manifest.files:
        raise BundleError(
            "nothing to sign: the directory holds no regular file (after ignore patterns)",
            path=manifest.name,
        )
    return dsse_bundle(model_signing_statement(manifest), key)


def sign_directory(
    root: Path,
    key: ec.EllipticCurvePrivateKey,
    *,
    ignore: Sequence[str] = (),
    shard_size: int | None = None,
    progress: Progress | None = None,
    on_start: Start | None = None,
) -> dict[str, Any]:
    """Hash every file under ``root`` and return the signed Sigstore bundle (a JSON object).

    ``BundleError`` names the first symlink, special file or escaping path found: those are
    never signed, so a verifier never has to follow one. ``shard_size`` selects model-signing's
    ``shards`` method: each file is cut into ranges of that many bytes, hashed independently
    (one huge file then uses every core).
    """
    if not root.is_dir():
        raise BundleError("not a directory", path=root)
    with start_signing(
        root, ignore=ignore, shard_size=shard_size, progress=progress, on_start=on_start
    ) as pending:
        return pending.sign(key)


def message_bundle(sha256_hex: str, key: ec.EllipticCurvePrivateKey) -> dict[str, Any]:
    """A ``messageSignature`` bundle over a blob known by its SHA-256, as cosign writes it."""
    digest = bytes.fromhex(sha256_hex)
    signature = keys.sign_digest(key, digest, prehashed=True)
    return {
        "mediaType": BUNDLE_MEDIA_TYPE,
        "verificationMaterial": {
            "publicKey": {"hint": keys.cosign_key_hint(key.public_key())},
            "tlogEntries": [],
        },
        "messageSignature": {
            "messageDigest": {"algorithm": "SHA2_256", "digest": _b64(digest)},
            "signature": _b64(signature),
        },
    }


def sign_blob(
    path: Path,
    key: ec.EllipticCurvePrivateKey,
    *,
    progress: Progress | None = None,
    on_start: Start | None = None,
) -> dict[str, Any]:
    """Sign one regular file (a tarball, a single weight file) like ``cosign sign-blob``.

    The file is streamed, so its size does not matter; links and special files are refused.
    """
    if path.is_dir():
        raise BundleError("is a directory", path=path)
    with start_signing(path, progress=progress, on_start=on_start) as pending:
        return pending.sign(key)


class PendingSignature:
    """Hashing begun by :func:`start_signing`; ``sign(key)`` waits for it and signs the result.

    In between, the caller may decrypt the key (scrypt keeps a core busy for about 0.2 s) or
    scan for unsafe formats while the hashing threads run. Leaving it as a context manager
    before ``sign`` cancels the hashing.
    """

    def __init__(self, job: PendingManifest | HashJob) -> None:
        self._job = job

    def sign(self, key: ec.EllipticCurvePrivateKey) -> dict[str, Any]:
        """The Sigstore bundle: DSSE over the manifest (directory) or a message signature (file)."""
        if isinstance(self._job, PendingManifest):
            return sign_manifest(self._job.result(), key)
        (digest,) = self._job.result().values()
        return message_bundle(digest, key)

    def cancel(self) -> None:
        """Stop hashing; nothing is signed."""
        self._job.cancel()

    def __enter__(self) -> PendingSignature:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self._job.__exit__(*exc_info)


def start_signing(
    path: Path,
    *,
    ignore: Sequence[str] = (),
    shard_size: int | None = None,
    progress: Progress | None = None,
    on_start: Start | None = None,
) -> PendingSignature:
    """Start hashing what :func:`sign_path` signs, in the background; refusals are raised now.

    A directory is walked first (a link, a special file, what shard mode cannot hold: refused
    before any byte is hashed); a file is hashed whole, like ``cosign sign-blob``.
    """
    if path.is_dir():
        tree = start_hash_tree(
            path, ignore, shard_size=shard_size, progress=progress, on_start=on_start
        )
        return PendingSignature(tree)
    if ignore:
        raise BundleError("ignore patterns apply to directories only", path=path)
    if shard_size is not None:
        raise BundleError(
            "shards apply to directories only (a file is signed whole, like cosign sign-blob)",
            path=path,
        )
    try:
        real = path.resolve(strict=True)
        size = real.stat().st_size
    except OSError as exc:
        raise BundleError(f"cannot open: {exc.strerror or exc}", path=path) from exc
    if on_start is not None:
        on_start(1, size)
    return PendingSignature(
        HashJob(real.parent, [Span(real.name, size=size)], progress=progress, workers=1)
    )


def sign_path(
    path: Path,
    key: ec.EllipticCurvePrivateKey,
    *,
    ignore: Sequence[str] = (),
    shard_size: int | None = None,
    progress: Progress | None = None,
    on_start: Start | None = None,
) -> dict[str, Any]:
    """Directory -> DSSE bundle; a file or tarball -> message-signature bundle."""
    with start_signing(
        path, ignore=ignore, shard_size=shard_size, progress=progress, on_start=on_start
    ) as pending:
        return pending.sign(key)


def dumps(bundle: dict[str, Any]) -> str:
    """Serialise a bundle the way it is written to ``*.sigstore.json``."""
    return json.dumps(bundle, indent=2) + "\n"
