"""Verify a directory, file or tarball against a Sigstore bundle and pinned keys, failing closed.

Only the public keys the caller pins are trusted: the key hint, certificate or anything else in
``verificationMaterial`` is never used to decide. Every problem becomes one ``Finding``; the
result is verified only when there is none. ``BundleError`` is reserved for input that cannot be
used at all (the signature file is unreadable or not JSON, the path does not exist).
"""

from __future__ import annotations

import base64
import binascii
import json
import lzma
import os
import re
import stat
import tarfile
import zlib
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import Any, cast

from cryptography.hazmat.primitives.asymmetric import ec

from airgap_cli.bundle import keys
from airgap_cli.bundle.digest import (
    BundleError,
    IgnoreRules,
    Progress,
    ShardDigest,
    Span,
    Start,
    TreeProblem,
    hash_file,
    hash_files,
    hash_spans,
    is_safe_relpath,
    root_digest,
    scan_tree,
)
from airgap_cli.bundle.sign import (
    INTOTO_PAYLOAD_TYPE,
    MODEL_SIGNING_PREDICATE,
    STATEMENT_TYPE,
    is_tarball,
    pae,
    shard_algorithm,
)
from airgap_cli.core.findings import Finding, Location, Severity

MAX_SIGNATURE_BYTES = 512 * 1024 * 1024
"""A manifest of a million files is ~200 MB of JSON; anything larger is not a signature."""

BUNDLE_MEDIA_PREFIX = "application/vnd.dev.sigstore.bundle"

COMPLIANCE = (
    "NIST-800-53:SR-4",
    "NIST-800-53:SR-11",
    "NIST-800-53:SI-7",
    "OWASP-LLM:LLM03:2025",
)

_RULE_TEXTS: dict[str, dict[str, str]] = {
    "bundle-file-modified": {
        "severity": "critical",
        "title": "File content differs from the signed digest",
        "remediation": "Restore the file from the signed source, or re-sign the bundle after reviewing the change.",
    },
    "bundle-file-missing": {
        "severity": "high",
        "title": "Signed file is missing",
        "remediation": "Restore the missing file from the signed source (a renamed file shows as missing plus extra).",
    },
    "bundle-file-extra": {
        "severity": "high",
        "title": "File is not covered by the signature",
        "remediation": "Remove the unsigned file, or re-sign the bundle including it (or with an ignore pattern for it).",
    },
    "bundle-symlink": {
        "severity": "high",
        "title": "Symbolic link inside the bundle",
        "remediation": "Replace the link with the file it points to and re-sign; signed bundles hold regular files only.",
    },
    "bundle-special-file": {
        "severity": "high",
        "title": "Device, FIFO or socket inside the bundle",
        "remediation": "Remove the special file; signed bundles hold regular files only.",
    },
    "bundle-path-escape": {
        "severity": "critical",
        "title": "Path escapes the bundle",
        "remediation": "Remove the link or entry that leads outside the bundle directory; never load the bundle as is.",
    },
    "bundle-tar-unsafe-member": {
        "severity": "critical",
        "title": "Unsafe tar member",
        "remediation": "Rebuild the archive with relative paths and regular files only (no '..', absolute paths, links or devices).",
    },
    "bundle-signature-invalid": {
        "severity": "critical",
        "title": "Signature does not verify with the pinned key",
        "remediation": "Check that the pinned public key is the signer's; if it is, the signature or manifest was altered: obtain a fresh signature from the signer.",
    },
    "bundle-signature-mismatch": {
        "severity": "critical",
        "title": "Signature belongs to another artifact",
        "remediation": "Use the signature made for this bundle (default: PATH.sigstore.json beside PATH).",
    },
    "bundle-predicate-unknown": {
        "severity": "high",
        "title": "Unsupported statement or predicate",
        "remediation": "Sign with the model-signing v1.0 predicate (sha256, files or shards): `airgap bundle sign` or `model_signing sign key`.",
    },
    "bundle-malformed": {
        "severity": "high",
        "title": "Malformed signature bundle",
        "remediation": "Obtain an intact Sigstore bundle v0.3 from the signer; a damaged bundle proves nothing.",
    },
}

RULES: dict[str, dict[str, Any]] = {
    rule_id: {**meta, "compliance": list(COMPLIANCE)} for rule_id, meta in _RULE_TEXTS.items()
}
"""Rule metadata for reports; every verification rule evidences provenance and authenticity."""

PublicKeys = ec.EllipticCurvePublicKey | Sequence[ec.EllipticCurvePublicKey]


@dataclass(frozen=True, slots=True)
class VerifyResult:
    """Outcome of one verification: ``verified`` holds only when ``findings`` is empty."""

    verified: bool
    findings: list[Finding]
    files: int
    """Files whose digest was checked (1 for a blob or tarball)."""
    kind: str = ""
    """``directory``, ``file`` or ``tarball``."""
    details: dict[str, Any] = field(default_factory=dict)
    """Evidence for reports: subject name and digest, key hint, predicate type."""

    def __post_init__(self) -> None:
        if self.verified and self.findings:
            raise ValueError("a result with findings cannot be verified")


class _Collector:
    """Builds findings with the rule metadata, so every refusal reads the same."""

    def __init__(self, target: Path, signature: Path) -> None:
        self.target = str(target)
        self.signature = str(signature)
        self.findings: list[Finding] = []

    def add(
        self,
        rule_id: str,
        message: str,
        *,
        resource: str = "",
        on_signature: bool = False,
        evidence: str | None = None,
    ) -> None:
        meta = RULES[rule_id]
        self.findings.append(
            Finding(
                rule_id=rule_id,
                severity=Severity(meta["severity"]),
                title=meta["title"],
                message=message,
                location=Location(
                    path=self.signature if on_signature else self.target, resource=resource
                ),
                evidence=evidence,
                remediation=meta["remediation"],
                compliance=COMPLIANCE,
            )
        )

    def malformed(self, message: str) -> None:
        self.add("bundle-malformed", f"{self.signature}: {message}", on_signature=True)


# --- bundle parsing ----------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class _Dsse:
    payload: bytes
    payload_type: str
    signatures: tuple[bytes, ...]


@dataclass(frozen=True, slots=True)
class _Message:
    algorithm: str
    digest: bytes
    signature: bytes


_URLSAFE = str.maketrans("-_", "+/")


def _b64decode(value: Any) -> bytes | None:
    """Strict standard base64 (URL-safe accepted too), or None when it is not base64."""
    if not isinstance(value, str) or not value:
        return None
    text = value.strip().translate(_URLSAFE)
    try:
        return base64.b64decode(text + "=" * (-len(text) % 4), validate=True)
    except (binascii.Error, ValueError):
        return None


def read_bundle(signature: Path) -> Any:
    """The parsed JSON of a signature file; ``BundleError`` when unreadable or not JSON."""
    try:
        with signature.open("rb") as handle:
            raw = handle.read(MAX_SIGNATURE_BYTES + 1)
    except OSError as exc:
        raise BundleError(f"cannot read signature: {exc.strerror or exc}", path=signature) from exc
    if len(raw) > MAX_SIGNATURE_BYTES:
        raise BundleError("signature file is too large to be a bundle", path=signature)
    try:
        return json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise BundleError(
            f"signature is not JSON (truncated or corrupted?): {exc}", path=signature
        ) from exc


def _parse_bundle(data: Any, out: _Collector) -> _Dsse | _Message | None:
    """Check the bundle's shape; a finding and None when it cannot carry a signature."""
    if not isinstance(data, dict):
        out.malformed(f"a bundle is a JSON object, found {type(data).__name__}")
        return None
    media = data.get("mediaType")
    if not isinstance(media, str) or not media.startswith(BUNDLE_MEDIA_PREFIX):
        out.malformed(f"mediaType {media!r} is not a Sigstore bundle")
        return None
    if not isinstance(data.get("verificationMaterial"), dict):
        out.malformed("verificationMaterial is missing")
        return None
    envelope, message = data.get("dsseEnvelope"), data.get("messageSignature")
    if (envelope is None) == (message is None):
        out.malformed("a bundle holds exactly one of dsseEnvelope and messageSignature")
        return None
    if envelope is not None:
        return _parse_dsse(envelope, out)
    return _parse_message(message, out)


def _parse_dsse(envelope: Any, out: _Collector) -> _Dsse | None:
    if not isinstance(envelope, dict):
        out.malformed("dsseEnvelope is not an object")
        return None
    payload = _b64decode(envelope.get("payload"))
    payload_type = envelope.get("payloadType")
    raw_signatures = envelope.get("signatures")
    if payload is None:
        out.malformed("dsseEnvelope.payload is missing or not base64")
        return None
    if not isinstance(payload_type, str):
        out.malformed("dsseEnvelope.payloadType is missing")
        return None
    if not isinstance(raw_signatures, list) or not raw_signatures:
        out.malformed("dsseEnvelope.signatures is empty")
        return None
    signatures: list[bytes] = []
    for entry in raw_signatures:
        sig = _b64decode(entry.get("sig")) if isinstance(entry, dict) else None
        if sig is None:
            out.malformed("a DSSE signature is missing or not base64")
            return None
        signatures.append(sig)
    return _Dsse(payload, payload_type, tuple(signatures))


def _parse_message(message: Any, out: _Collector) -> _Message | None:
    if not isinstance(message, dict):
        out.malformed("messageSignature is not an object")
        return None
    md = message.get("messageDigest")
    signature = _b64decode(message.get("signature"))
    if not isinstance(md, dict) or not isinstance(md.get("algorithm"), str):
        out.malformed("messageSignature.messageDigest is missing")
        return None
    digest = _b64decode(md.get("digest"))
    if digest is None or signature is None:
        out.malformed("messageSignature digest or signature is missing or not base64")
        return None
    if md["algorithm"] != "SHA2_256" or len(digest) != 32:
        out.malformed(
            f"message digest {md['algorithm']!r} ({len(digest)} bytes) is not a SHA2_256 digest"
        )
        return None
    return _Message(md["algorithm"], digest, signature)


def _verify_any(
    pinned: Sequence[ec.EllipticCurvePublicKey],
    signatures: Sequence[bytes],
    data: bytes,
    *,
    prehashed: bool = False,
) -> ec.EllipticCurvePublicKey | None:
    """The pinned key that verifies one of the signatures, or None."""
    for key in pinned:
        for signature in signatures:
            try:
                if keys.verify_signature(key, signature, data, prehashed=prehashed):
                    return key
            except ValueError:
                continue
    return None


def _signature_invalid(out: _Collector, pinned: Sequence[ec.EllipticCurvePublicKey]) -> None:
    hints = ", ".join(keys.key_hint(k)[:16] for k in pinned)
    out.add(
        "bundle-signature-invalid",
        f"{out.signature}: the signature does not verify with the pinned key "
        f"(sha256 {hints}…): wrong or swapped key, or the bundle was altered",
        on_signature=True,
    )


# --- statement ---------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class _Signed:
    subject: str
    subject_digest: str
    resources: dict[str, str]
    """Signed files: ``{path: sha256}`` (``files`` method), or ``{path: ""}`` for shards."""
    ignore: tuple[str, ...]
    shard_size: int | None = None
    """Set for the ``shards`` method; ``shards`` then holds each file's ranges in order."""
    shards: dict[str, tuple[ShardDigest, ...]] = field(default_factory=dict)


def _parse_statement(payload_type: str, payload: bytes, out: _Collector) -> _Signed | None:
    """Interpret an authenticated DSSE payload as a model-signing v1.0 statement."""
    if payload_type != INTOTO_PAYLOAD_TYPE:
        out.add(
            "bundle-predicate-unknown",
            f"{out.signature}: DSSE payload type {payload_type!r} is not an in-toto statement",
            on_signature=True,
        )
        return None
    try:
        statement = json.loads(payload.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError):
        out.malformed("the signed payload is not JSON")
        return None
    if not isinstance(statement, dict):
        out.malformed("the signed statement is not an object")
        return None
    if statement.get("_type") != STATEMENT_TYPE:
        out.add(
            "bundle-predicate-unknown",
            f"{out.signature}: statement type {statement.get('_type')!r} is not in-toto Statement v1",
            on_signature=True,
        )
        return None
    predicate_type = statement.get("predicateType")
    if predicate_type != MODEL_SIGNING_PREDICATE:
        out.add(
            "bundle-predicate-unknown",
            f"{out.signature}: predicate type {predicate_type!r} is not {MODEL_SIGNING_PREDICATE}",
            on_signature=True,
            evidence=str(predicate_type)[:200],
        )
        return None
    predicate = statement.get("predicate")
    serialization = predicate.get("serialization") if isinstance(predicate, dict) else None
    if not isinstance(predicate, dict) or not isinstance(serialization, dict):
        out.malformed("predicate.serialization is missing")
        return None
    method, hash_type = serialization.get("method"), serialization.get("hash_type")
    if method not in ("files", "shards") or hash_type != "sha256":
        out.add(
            "bundle-predicate-unknown",
            f"{out.signature}: serialization {method!r}/{hash_type!r} is not supported "
            "(only sha256, per file or per shard)",
            on_signature=True,
        )
        return None
    shard_size: int | None = None
    algorithms = {"sha256"}
    if method == "shards":
        shard_size = _shard_size(serialization.get("shard_size"))
        if shard_size is None:
            out.malformed("predicate.serialization.shard_size is not a positive whole number")
            return None
        algorithms.add(shard_algorithm(shard_size))
    ignore = serialization.get("ignore_paths", [])
    if not isinstance(ignore, list) or not all(isinstance(p, str) for p in ignore):
        out.malformed("predicate.serialization.ignore_paths is not a list of strings")
        return None
    subject = _subject(statement.get("subject"), out)
    resources = _resources(predicate.get("resources"), out, algorithms)
    if subject is None or resources is None:
        return None
    name, expected = subject
    if root_digest(resources.values()) != expected:
        out.malformed(
            f"subject digest of {name!r} does not match its resources (inconsistent manifest)"
        )
        return None
    if shard_size is not None:
        return _sharded(name, expected, resources, tuple(ignore), shard_size, out)
    safe = {}
    for rel, digest in resources.items():
        if is_safe_relpath(rel):
            safe[rel] = digest
        else:
            _escape(out, rel)
    return _Signed(name, expected, safe, tuple(ignore))


def _escape(out: _Collector, rel: str) -> None:
    out.add(
        "bundle-path-escape",
        f"signed resource {rel!r} is not a plain relative path inside the bundle",
        resource=rel,
    )


def _shard_size(value: Any) -> int | None:
    """A positive whole number of bytes (model-signing writes it as a float: ``1024.0``)."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    if isinstance(value, float) and not value.is_integer():
        return None
    size = int(value)
    return size if size > 0 else None


_OFFSET = re.compile(r"0|[1-9][0-9]*")


def _sharded(
    name: str,
    expected: str,
    resources: dict[str, str],
    ignore: tuple[str, ...],
    shard_size: int,
    out: _Collector,
) -> _Signed | None:
    """Group ``path:start:end`` resources by file; each file must be cut as model-signing cuts it.

    Shards must start at 0, follow each other without gap or overlap and be ``shard_size`` long
    except the last: anything else is a manifest no signer writes, and could leave bytes unpinned.
    """
    by_file: dict[str, list[ShardDigest]] = {}
    for resource, digest in resources.items():
        path, _, rest = resource.rpartition(":")
        path, _, start = path.rpartition(":")
        end = rest
        if not path or not _OFFSET.fullmatch(start) or not _OFFSET.fullmatch(end):
            out.malformed(f"shard resource {resource!r} is not named path:start:end")
            return None
        by_file.setdefault(path, []).append(ShardDigest(path, int(start), int(end), digest))
    shards: dict[str, tuple[ShardDigest, ...]] = {}
    for path, pieces in by_file.items():
        pieces.sort(key=lambda s: s.start)
        if not is_safe_relpath(path):
            _escape(out, path)
            continue
        position = 0
        for index, piece in enumerate(pieces):
            last = index == len(pieces) - 1
            length = piece.end - piece.start
            if piece.start != position or not (
                0 < length <= shard_size if last else length == shard_size
            ):
                out.malformed(
                    f"the shards of {path!r} do not cover it in {shard_size}-byte steps "
                    "(inconsistent manifest)"
                )
                return None
            position = piece.end
        shards[path] = tuple(pieces)
    return _Signed(
        name,
        expected,
        dict.fromkeys(shards, ""),
        ignore,
        shard_size=shard_size,
        shards=shards,
    )


def _subject(value: Any, out: _Collector) -> tuple[str, str] | None:
    if not isinstance(value, list) or len(value) != 1 or not isinstance(value[0], dict):
        out.malformed("the statement must have exactly one subject")
        return None
    digest = value[0].get("digest")
    sha = digest.get("sha256") if isinstance(digest, dict) else None
    if not _is_hex256(sha):
        out.malformed("the subject has no sha256 digest")
        return None
    return str(value[0].get("name", "")), str(sha).lower()


def _resources(value: Any, out: _Collector, algorithms: set[str]) -> dict[str, str] | None:
    """``{name: sha256}`` in signed order; None (with a finding) when any entry is unusable."""
    if not isinstance(value, list) or not value:
        out.malformed("the signed manifest lists no resources (an empty manifest proves nothing)")
        return None
    resources: dict[str, str] = {}
    for entry in value:
        if not isinstance(entry, dict) or not isinstance(entry.get("name"), str):
            out.malformed("a resource has no name")
            return None
        name, algorithm, digest = entry["name"], entry.get("algorithm"), entry.get("digest")
        if algorithm not in algorithms:
            expected = " or ".join(sorted(algorithms))
            out.add(
                "bundle-predicate-unknown",
                f"{out.signature}: resource {name!r} uses algorithm {algorithm!r}, not {expected}",
                on_signature=True,
            )
            return None
        if not _is_hex256(digest):
            out.malformed(f"resource {name!r} has no valid sha256 digest")
            return None
        if name in resources:
            out.malformed(f"resource {name!r} is listed twice")
            return None
        resources[name] = str(digest).lower()
    return resources


def _is_hex256(value: Any) -> bool:
    if not isinstance(value, str) or len(value) != 64:
        return False
    try:
        bytes.fromhex(value)
    except ValueError:
        return False
    return True


# --- directories -------------------------------------------------------------------------------


class _UnsignedFilter:
    """Skip ignored paths, but never a signed file or a directory on the way to one."""

    def __init__(self, rules: IgnoreRules, signed: dict[str, str]) -> None:
        self.rules = rules
        self.signed = signed
        self.signed_dirs = {
            "/".join(parts[:i])
            for parts in (name.split("/") for name in signed)
            for i in range(1, len(parts))
        }

    def matches(self, relpath: str, *, is_dir: bool = False) -> bool:
        if relpath in self.signed or (is_dir and relpath in self.signed_dirs):
            return False
        return self.rules.matches(relpath, is_dir=is_dir)


_PROBLEM_RULES = {
    "symlink": "bundle-symlink",
    "special": "bundle-special-file",
    "escape": "bundle-path-escape",
}


def _report_problem(out: _Collector, problem: TreeProblem, signed: bool) -> None:
    what = " (signed as a regular file)" if signed else ""
    out.add(
        _PROBLEM_RULES[problem.kind],
        f"{problem.path} is a {problem.detail}{what}",
        resource=problem.path,
        evidence=problem.detail,
    )


def _covered(path: str, problems: set[str]) -> bool:
    """Whether ``path`` or one of its parent directories already has a finding."""
    parts = path.split("/")
    return any("/".join(parts[:i]) in problems for i in range(1, len(parts) + 1))


def _verify_directory(
    root: Path,
    envelope: _Dsse,
    pinned: Sequence[ec.EllipticCurvePublicKey],
    out: _Collector,
    progress: Progress | None,
    on_start: Start | None,
) -> tuple[int, dict[str, Any]]:
    signer = _verify_any(pinned, envelope.signatures, pae(envelope.payload_type, envelope.payload))
    signed: _Signed | None = None
    if signer is None:
        _signature_invalid(out, pinned)
    else:
        signed = _parse_statement(envelope.payload_type, envelope.payload, out)
    resources = signed.resources if signed else {}
    rules = IgnoreRules(signed.ignore if signed else ())
    scan = scan_tree(root, _UnsignedFilter(rules, resources))
    problem_paths = {p.path for p in scan.problems}
    for problem in scan.problems:
        _report_problem(out, problem, problem.path in resources)
    if signed is None:
        return 0, {}
    checked, changed = _check_contents(root, signed, dict(scan.files), progress, on_start)
    matched = len(checked) - len(changed)
    details: dict[str, Any] = {
        "subject": signed.subject,
        "subject_sha256": signed.subject_digest,
        "predicate_type": MODEL_SIGNING_PREDICATE,
        "method": "files" if signed.shard_size is None else "shards",
        "signed_files": len(resources),
        "ignore": list(signed.ignore),
    }
    if signed.shard_size is not None:
        details["shard_size"] = signed.shard_size
    if matched == 0 and resources and scan.files:
        names = ", ".join(sorted(resources)[:5]) + (", …" if len(resources) > 5 else "")
        out.add(
            "bundle-signature-mismatch",
            f"none of the {len(resources)} signed files of {signed.subject!r} ({names}) "
            f"matches {root.name or root}: the signature is for another bundle "
            "(or every signed file changed)",
            on_signature=True,
            evidence=f"subject sha256:{signed.subject_digest}",
        )
        return len(checked), details
    for rel in resources:
        if rel in checked:
            if rel in changed:
                message, evidence = changed[rel]
                out.add("bundle-file-modified", message, resource=rel, evidence=evidence)
        elif not _covered(rel, problem_paths):
            out.add("bundle-file-missing", f"{rel} is signed but missing", resource=rel)
    for rel, _size in scan.files:
        if rel not in resources:
            out.add("bundle-file-extra", f"{rel} is not covered by the signature", resource=rel)
    return len(checked), details


def _check_contents(
    root: Path,
    signed: _Signed,
    on_disk: dict[str, int],
    progress: Progress | None,
    on_start: Start | None,
) -> tuple[set[str], dict[str, tuple[str, str]]]:
    """Hash the signed files present on disk: the paths checked, and the changed ones.

    Changed files map to (message, evidence). Shards of one file are hashed on every core; a
    file whose size differs from the signed size is changed without reading it.
    """
    if signed.shard_size is None:
        to_hash = [(rel, on_disk[rel]) for rel in signed.resources if rel in on_disk]
        actual = hash_files(root, to_hash, progress=progress, on_start=on_start)
        return set(actual), {
            rel: (
                f"{rel} does not match its signed SHA-256",
                f"signed sha256:{signed.resources[rel]}, found sha256:{digest}",
            )
            for rel, digest in actual.items()
            if digest != signed.resources[rel]
        }
    checked: set[str] = set()
    changed: dict[str, tuple[str, str]] = {}
    spans: dict[Span, ShardDigest] = {}
    for rel, shards in signed.shards.items():
        if rel not in on_disk:
            continue
        checked.add(rel)
        size = shards[-1].end
        if on_disk[rel] != size:
            changed[rel] = (
                f"{rel} does not match its signed shards: {size} bytes were signed, "
                f"{on_disk[rel]} found",
                f"signed size {size}, found size {on_disk[rel]}",
            )
            continue
        for shard in shards:
            spans[Span(rel, shard.start, shard.end, shard.end - shard.start)] = shard
    if on_start is not None:
        hashed = {span.path for span in spans}
        on_start(len(hashed), sum(on_disk[rel] for rel in hashed))
    found = hash_spans(root, list(spans), progress=progress)
    bad: dict[str, list[tuple[ShardDigest, str]]] = {}
    for span, shard in spans.items():
        if found[span] != shard.sha256:
            bad.setdefault(span.path, []).append((shard, found[span]))
    for rel, pieces in bad.items():
        pieces.sort(key=lambda item: item[0].start)
        first, digest = pieces[0]
        more = f" and {len(pieces) - 1} more" if len(pieces) > 1 else ""
        changed[rel] = (
            f"{rel} does not match its signed SHA-256 shards "
            f"(bytes {first.start}-{first.end}{more})",
            f"shard {first.name}: signed sha256:{first.sha256}, found sha256:{digest}",
        )
    return checked, changed


# --- blobs and tarballs ------------------------------------------------------------------------


def _member_problems(member: tarfile.TarInfo) -> list[str]:
    """Why extracting this member could write outside the target or create something unsafe."""
    reasons: list[str] = []
    name = member.name.replace("\\", "/")
    if name.startswith("/") or (len(name) > 1 and name[1] == ":"):
        reasons.append("absolute path")
    if ".." in PurePosixPath(name).parts:
        reasons.append("'..' component")
    if member.issym():
        reasons.append(f"symbolic link -> {member.linkname}")
    elif member.islnk():
        reasons.append(f"hard link -> {member.linkname}")
    elif member.ischr() or member.isblk():
        reasons.append(f"device node ({member.devmajor},{member.devminor})")
    elif member.isfifo():
        reasons.append("FIFO")
    elif not (member.isfile() or member.isdir()):
        reasons.append(f"unsupported member type {member.type!r}")
    return reasons


def _inspect_tar(path: Path, out: _Collector) -> int:
    """Flag unsafe members by reading headers only (nothing is extracted); returns the count."""
    count = 0
    try:
        with tarfile.open(path, "r:*") as archive:
            # TarFile keeps every header it has read; drop them so a huge archive stays small.
            seen: list[tarfile.TarInfo] = cast(Any, archive).members
            while (member := archive.next()) is not None:
                count += 1
                reasons = _member_problems(member)
                if reasons:
                    out.add(
                        "bundle-tar-unsafe-member",
                        f"{path.name}: member {member.name!r}: {', '.join(reasons)}",
                        resource=member.name,
                        evidence=member.name[:200],
                    )
                seen.clear()
    except (tarfile.TarError, EOFError, OSError, zlib.error, lzma.LZMAError) as exc:
        out.add(
            "bundle-malformed",
            f"{path.name} cannot be read as a tar archive: {exc}",
            resource=path.name,
        )
    return count


def _verify_blob(
    path: Path,
    bundle: _Dsse | _Message,
    pinned: Sequence[ec.EllipticCurvePublicKey],
    out: _Collector,
    progress: Progress | None,
    on_start: Start | None,
) -> tuple[int, dict[str, Any]]:
    details: dict[str, Any] = {}
    if is_tarball(path):
        details["tar_members"] = _inspect_tar(path, out)
    if isinstance(bundle, _Dsse):
        out.add(
            "bundle-signature-mismatch",
            f"{out.signature} signs a directory manifest (DSSE), but {path.name} is a file",
            on_signature=True,
        )
        return 0, details
    if _verify_any(pinned, [bundle.signature], bundle.digest, prehashed=True) is None:
        _signature_invalid(out, pinned)
        return 0, details
    if on_start is not None:
        on_start(1, path.stat().st_size)
    actual = hash_file(path, progress)
    details["sha256"] = actual
    if actual != bundle.digest.hex():
        out.add(
            "bundle-file-modified",
            f"{path.name} does not match the signed SHA-256: it was modified, "
            "or the signature is for another file",
            resource=path.name,
            evidence=f"signed sha256:{bundle.digest.hex()}, found sha256:{actual}",
        )
    return 1, details


# --- entry point -------------------------------------------------------------------------------


def _pinned(public_key: PublicKeys) -> list[ec.EllipticCurvePublicKey]:
    pinned = [public_key] if isinstance(public_key, ec.EllipticCurvePublicKey) else list(public_key)
    if not pinned:
        raise BundleError("no public key pinned: nothing can be verified")
    for key in pinned:
        if not isinstance(key, ec.EllipticCurvePublicKey):
            raise BundleError(f"unsupported pinned key type {type(key).__name__}")
    return pinned


def verify_path(
    path: Path,
    public_key: PublicKeys,
    signature: Path,
    *,
    progress: Progress | None = None,
    on_start: Start | None = None,
) -> VerifyResult:
    """Verify ``path`` (directory, file or tarball) against ``signature`` and the pinned key(s).

    Fails closed: ``verified`` is True only when no finding was raised. ``on_start`` receives
    (files, bytes) once before hashing begins and ``progress`` the bytes hashed since its last call.
    """
    pinned = _pinned(public_key)
    try:
        mode = os.stat(path).st_mode
    except OSError as exc:
        raise BundleError(f"cannot open: {exc.strerror or exc}", path=path) from exc
    if not (stat.S_ISDIR(mode) or stat.S_ISREG(mode)):
        raise BundleError("not a directory or regular file", path=path)
    data = read_bundle(signature)
    out = _Collector(path, signature)
    parsed = _parse_bundle(data, out)
    kind = "directory" if stat.S_ISDIR(mode) else ("tarball" if is_tarball(path) else "file")
    files = 0
    details: dict[str, Any] = {}
    if parsed is None:
        pass
    elif kind == "directory":
        if isinstance(parsed, _Message):
            out.add(
                "bundle-signature-mismatch",
                f"{out.signature} signs a single file (message signature), but {path} is a directory",
                on_signature=True,
            )
        else:
            files, details = _verify_directory(path, parsed, pinned, out, progress, on_start)
    else:
        files, details = _verify_blob(path, parsed, pinned, out, progress, on_start)
    findings = sorted(out.findings, key=Finding.sort_key)
    return VerifyResult(
        verified=not findings, findings=findings, files=files, kind=kind, details=details
    )
