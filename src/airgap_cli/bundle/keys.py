"""Signing keys in cosign's formats, so one key pair serves both cosign and airgap.

Private keys are ECDSA P-256 (cosign's default, and what model-signing, sigstore-go and sigstore-js
all verify). New keys are written in cosign's encrypted PEM (``ENCRYPTED SIGSTORE PRIVATE KEY``):
the PEM body is the JSON document of go-securesystemslib's ``encrypted`` package, i.e. scrypt
(N=2^16, r=8, p=1, 32-byte salt) derives a 32-byte key and NaCl secretbox (XSalsa20-Poly1305,
24-byte nonce) seals the PKCS#8 DER of the private key. Plain PKCS#8, SEC1 and password-protected
PKCS#8 PEMs are read too, so keys made with ``openssl`` work.

Error messages name the problem and never carry key material: every decoding failure is
re-raised as :class:`KeyFileError` without the library exception chained to it.
"""

from __future__ import annotations

import base64
import binascii
import getpass
import hashlib
import json
import os
import re
import secrets
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cryptography.exceptions import InvalidSignature, UnsupportedAlgorithm
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, utils

from airgap_cli.core.errors import AirgapError

__all__ = [
    "COSIGN_LABELS",
    "PASSWORD_ENV",
    "KeyFileError",
    "cosign_key_hint",
    "encrypt_private_key",
    "generate",
    "key_hint",
    "load_private_key",
    "load_public_key",
    "needs_password",
    "password_from_env_or_prompt",
    "public_pem",
    "read_key_file",
    "sign_digest",
    "verify_signature",
    "write_keypair",
]

PASSWORD_ENV = "COSIGN_PASSWORD"
"""The variable cosign reads, so CI jobs set one password for both tools."""

SIGSTORE_LABEL = "ENCRYPTED SIGSTORE PRIVATE KEY"
"""The label cosign writes since v2 (cosign PR #2735), and the one we write."""

COSIGN_LABELS = frozenset({SIGSTORE_LABEL, "ENCRYPTED COSIGN PRIVATE KEY"})
"""Both labels cosign still reads; the body format is the same."""

_SCRYPT_R = 8
_SCRYPT_P = 1
_SCRYPT_N_DEFAULT = 1 << 16
# go-securesystemslib refuses any other parameters (legacy 2^15, standard 2^16, OWASP 2^17);
# accepting only these also stops a crafted key file from asking for gigabytes of scrypt memory.
_SCRYPT_N_ALLOWED = frozenset({1 << 15, 1 << 16, 1 << 17})
# hashlib's default maxmem (32 MiB) is below what N=2^15 already needs (128*r*N = 32 MiB + change).
_SCRYPT_MAXMEM = 256 * 1024 * 1024
_SALT_SIZE = 32
# NaCl secretbox (XSalsa20-Poly1305) sizes; PyNaCl itself is imported only to encrypt or
# decrypt, so verifying with a public key never loads it.
_KEY_SIZE = 32
_NONCE_SIZE = 24

# A key file is a few hundred bytes; refusing big inputs keeps a wrong --key argument
# (a model, a tarball) from being read into memory and regex-scanned.
_MAX_KEY_FILE = 64 * 1024

_PEM_BLOCK = re.compile(
    rb"-----BEGIN ([^\r\n-]+)-----[ \t]*\r?\n(.*?)-----END \1-----[ \t]*(?:\r?\n)?", re.DOTALL
)
# OpenSSL's `ecparam -genkey` puts the curve parameters before the key; they carry no secret.
_IGNORED_LABELS = frozenset({"EC PARAMETERS"})
_PLAIN_PRIVATE_LABELS = frozenset({"PRIVATE KEY", "EC PRIVATE KEY", "RSA PRIVATE KEY"})
_ENCRYPTED_PKCS8 = "ENCRYPTED PRIVATE KEY"


class KeyFileError(AirgapError):
    """A key file is unreadable, undecryptable, of the wrong type, or a password is missing."""


@dataclass(frozen=True)
class _PemBlock:
    label: str
    headers: dict[str, str]
    body: bytes
    raw: bytes


def generate() -> ec.EllipticCurvePrivateKey:
    """A fresh ECDSA P-256 key: cosign's default, verifiable by every Sigstore client."""
    return ec.generate_private_key(ec.SECP256R1())


def encrypt_private_key(
    key: ec.EllipticCurvePrivateKey, password: bytes, *, scrypt_n: int = _SCRYPT_N_DEFAULT
) -> bytes:
    """The key as cosign's ``ENCRYPTED SIGSTORE PRIVATE KEY`` PEM, readable by ``cosign``.

    ``scrypt_n`` defaults to cosign's standard cost; only the values cosign accepts are allowed,
    so a key written here never fails to load in cosign.
    """
    _require_p256(key, None)
    if scrypt_n not in _SCRYPT_N_ALLOWED:
        raise ValueError(f"scrypt N must be one of {sorted(_SCRYPT_N_ALLOWED)}")
    der = key.private_bytes(
        serialization.Encoding.DER,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    import nacl.secret

    salt = secrets.token_bytes(_SALT_SIZE)
    nonce = secrets.token_bytes(_NONCE_SIZE)
    box = nacl.secret.SecretBox(_scrypt(password, salt, scrypt_n))
    ciphertext = box.encrypt(der, nonce).ciphertext
    # Same field order and compact separators as Go's json.Marshal of the securesystemslib struct;
    # Go encodes []byte as standard, padded base64.
    document = {
        "kdf": {
            "name": "scrypt",
            "params": {"N": scrypt_n, "r": _SCRYPT_R, "p": _SCRYPT_P},
            "salt": _b64(salt),
        },
        "cipher": {"name": "nacl/secretbox", "nonce": _b64(nonce)},
        "ciphertext": _b64(ciphertext),
    }
    return _pem_encode(SIGSTORE_LABEL, json.dumps(document, separators=(",", ":")).encode())


def needs_password(data: bytes, path: str | None = None) -> bool:
    """Whether loading this private key needs a password, so the CLI prompts only when useful."""
    block = _single_block(data, path)
    return _is_encrypted(block)


def load_private_key(
    data: bytes, password: bytes | None, path: str | None = None
) -> ec.EllipticCurvePrivateKey:
    """Load a P-256 private key from any PEM that cosign or OpenSSL writes.

    A password given for an unencrypted key is ignored: ``COSIGN_PASSWORD`` is often set for a
    whole CI job, and that must not break signing with a plain key.
    """
    block = _single_block(data, path)
    if _is_encrypted(block) and password is None:
        raise KeyFileError(
            "key is encrypted: a password is needed",
            path=path,
            hint=f"set {PASSWORD_ENV} or run on a terminal",
        )
    if block.label in COSIGN_LABELS:
        assert password is not None
        der = _decrypt_cosign(block.body, password, path)
        key = _load_der(der, path)
    elif block.label in _PLAIN_PRIVATE_LABELS or block.label == _ENCRYPTED_PKCS8:
        key = _load_pem(block, password if _is_encrypted(block) else None, path)
    else:
        raise KeyFileError(
            f"unsupported PEM label {block.label!r}", path=path, hint=_label_hint(block.label)
        )
    return _require_p256(key, path)


def load_public_key(data: bytes, path: str | None = None) -> ec.EllipticCurvePublicKey:
    """Load a P-256 ``PUBLIC KEY`` PEM (what ``cosign generate-key-pair`` writes to ``.pub``)."""
    block = _single_block(data, path)
    if block.label != "PUBLIC KEY":
        raise KeyFileError(
            f"unsupported PEM label {block.label!r}: expected 'PUBLIC KEY'",
            path=path,
            hint=_label_hint(block.label),
        )
    try:
        key = serialization.load_pem_public_key(block.raw)
    except (ValueError, UnsupportedAlgorithm):
        raise KeyFileError("cannot parse the public key (corrupted PEM?)", path=path) from None
    if not isinstance(key, ec.EllipticCurvePublicKey) or not isinstance(key.curve, ec.SECP256R1):
        raise KeyFileError(f"not an ECDSA P-256 key (found {_describe(key)})", path=path)
    return key


def public_pem(key: ec.EllipticCurvePublicKey | ec.EllipticCurvePrivateKey) -> bytes:
    """The SubjectPublicKeyInfo PEM that cosign writes to ``.pub`` and Sigstore clients read."""
    public = key.public_key() if isinstance(key, ec.EllipticCurvePrivateKey) else key
    return public.public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )


def key_hint(public_key: ec.EllipticCurvePublicKey) -> str:
    """``publicKey.hint`` for our bundles: lowercase hex SHA-256 of the SPKI **PEM**.

    The Sigstore spec calls the hint opaque, but model-signing's verifier rejects a bundle whose
    non-empty hint differs from exactly this value ("Key mismatch"), while cosign and sigstore-go
    only use it to pick a key. Writing model-signing's form makes our bundles verify in both.
    """
    return hashlib.sha256(public_pem(public_key)).hexdigest()


def cosign_key_hint(public_key: ec.EllipticCurvePublicKey) -> str:
    """The hint cosign v3 and sigstore-go write: standard base64 of SHA-256 of the SPKI DER.

    Only for recognising cosign-made bundles; verification never trusts a hint.
    """
    der = public_key.public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    return _b64(hashlib.sha256(der).digest())


def password_from_env_or_prompt(confirm: bool) -> bytes:
    """The key password the way cosign gets it: ``COSIGN_PASSWORD`` first, else a prompt.

    A set-but-empty variable is an empty password, as in cosign. Unlike cosign, a password is
    never read from a piped stdin: without a terminal the variable must be set, so a CI job
    fails with a clear message instead of hanging or consuming its input.
    """
    if PASSWORD_ENV in os.environ:
        # fsencode gives back the exact bytes of the environment, as Go's os.LookupEnv does.
        return os.fsencode(os.environ[PASSWORD_ENV])
    if sys.stdin is None or not sys.stdin.isatty():
        raise KeyFileError(
            "no password: not on a terminal and COSIGN_PASSWORD is not set",
            hint="set COSIGN_PASSWORD (an empty value means an empty password)",
        )
    try:
        first = getpass.getpass("Enter password for private key: ")
        if confirm:
            second = getpass.getpass("Enter password for private key again: ")
            if first != second:
                raise KeyFileError("passwords do not match")
    except EOFError:
        raise KeyFileError("no password entered") from None
    return first.encode()


def read_key_file(path: Path) -> bytes:
    """Read a key file with a size cap, turning OS errors into a one-line :class:`KeyFileError`."""
    try:
        with path.open("rb") as handle:
            data = handle.read(_MAX_KEY_FILE + 1)
    except OSError as exc:
        raise KeyFileError(f"cannot read key file: {exc.strerror or exc}", path=path) from None
    if len(data) > _MAX_KEY_FILE:
        raise KeyFileError("too large to be a key file", path=path)
    return data


def write_keypair(prefix: Path, password: bytes, *, force: bool = False) -> tuple[Path, Path]:
    """Write a new key pair as ``PREFIX.key`` (encrypted, 0600) and ``PREFIX.pub`` (0644).

    The private key file is created with mode 0600 from the first byte (``O_EXCL``, or a private
    temporary file renamed over the old one with ``force``), so it is never readable by others,
    not even for an instant. Existing files are kept unless ``force``.
    """
    key_path = prefix.with_name(prefix.name + ".key")
    pub_path = prefix.with_name(prefix.name + ".pub")
    if not force:
        for existing in (key_path, pub_path):
            if os.path.lexists(existing):
                raise KeyFileError(
                    "refusing to overwrite an existing key file", path=existing, hint="use --force"
                )
    key = generate()
    encrypted = encrypt_private_key(key, password)
    public = public_pem(key)
    if force:
        _replace_file(key_path, encrypted, 0o600)
        _replace_file(pub_path, public, 0o644)
        return key_path, pub_path
    _create_file(key_path, encrypted, 0o600)
    try:
        _create_file(pub_path, public, 0o644)
    except KeyFileError:
        key_path.unlink()  # a lone private key without its public half is worse than nothing
        raise
    return key_path, pub_path


def sign_digest(key: ec.EllipticCurvePrivateKey, data: bytes, *, prehashed: bool = False) -> bytes:
    """ECDSA P-256 / SHA-256 signature (ASN.1 DER), as ``cosign sign-blob --key`` makes.

    ``data`` is the message, hashed here; with ``prehashed`` it is already its 32-byte SHA-256
    (for a streamed multi-gigabyte file). Both give a signature over the same SHA-256.
    """
    return key.sign(data, ec.ECDSA(_hash_algorithm(data, prehashed)))


def verify_signature(
    public_key: ec.EllipticCurvePublicKey,
    signature: bytes,
    data: bytes,
    *,
    prehashed: bool = False,
) -> bool:
    """True when ``signature`` is a valid ECDSA SHA-256 signature over ``data``.

    A wrong or malformed signature is an answer (False), not an error, so verification can
    report it as a finding and fail closed.
    """
    algorithm = _hash_algorithm(data, prehashed)
    try:
        public_key.verify(signature, data, ec.ECDSA(algorithm))
    except InvalidSignature:
        return False
    return True


# --- internals ------------------------------------------------------------------------------


def _hash_algorithm(data: bytes, prehashed: bool) -> hashes.HashAlgorithm | utils.Prehashed:
    if not prehashed:
        return hashes.SHA256()
    if len(data) != hashes.SHA256.digest_size:
        raise ValueError("a prehashed message must be a 32-byte SHA-256 digest")
    return utils.Prehashed(hashes.SHA256())


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def _scrypt(password: bytes, salt: bytes, n: int) -> bytes:
    return hashlib.scrypt(
        password, salt=salt, n=n, r=_SCRYPT_R, p=_SCRYPT_P, maxmem=_SCRYPT_MAXMEM, dklen=_KEY_SIZE
    )


def _pem_encode(label: str, body: bytes) -> bytes:
    """PEM the way Go's encoding/pem writes it: 64-column base64 lines, trailing newline."""
    encoded = base64.b64encode(body)
    lines = b"".join(encoded[i : i + 64] + b"\n" for i in range(0, len(encoded), 64))
    return f"-----BEGIN {label}-----\n".encode() + lines + f"-----END {label}-----\n".encode()


def _single_block(data: bytes, path: str | None) -> _PemBlock:
    """The one key block in ``data``: several keys in a file would make the choice ambiguous."""
    if len(data) > _MAX_KEY_FILE:
        raise KeyFileError("too large to be a key file", path=path)
    blocks = [
        b for b in map(_parse_block, _PEM_BLOCK.finditer(data)) if b.label not in _IGNORED_LABELS
    ]
    if not blocks:
        raise KeyFileError("not a PEM key file (no -----BEGIN ...----- block)", path=path)
    if len(blocks) > 1:
        labels = ", ".join(b.label for b in blocks)
        raise KeyFileError(
            f"expected one key in the file, found {len(blocks)} ({labels})", path=path
        )
    return blocks[0]


def _parse_block(match: re.Match[bytes]) -> _PemBlock:
    label = match.group(1).decode("ascii", "replace").strip()
    lines = match.group(2).decode("ascii", "replace").splitlines()
    headers: dict[str, str] = {}
    if lines and ":" in lines[0]:
        while lines and lines[0].strip():
            name, _, value = lines.pop(0).partition(":")
            headers[name.strip()] = value.strip()
    body_text = "".join(line.strip() for line in lines)
    try:
        body = base64.b64decode(body_text, validate=True)
    except (binascii.Error, ValueError):
        body = b""  # reported as a parse failure by whichever loader reads the block
    return _PemBlock(label=label, headers=headers, body=body, raw=match.group(0))


def _is_encrypted(block: _PemBlock) -> bool:
    if block.label in COSIGN_LABELS or block.label == _ENCRYPTED_PKCS8:
        return True
    return "ENCRYPTED" in block.headers.get("Proc-Type", "")  # OpenSSL's legacy PEM encryption


def _decrypt_cosign(body: bytes, password: bytes, path: str | None) -> bytes:
    try:
        document = json.loads(body)
        kdf, cipher = document["kdf"], document["cipher"]
        params = kdf["params"]
        salt = _b64_field(kdf["salt"])
        nonce = _b64_field(cipher["nonce"])
        ciphertext = _b64_field(document["ciphertext"])
        n, r, p = params["N"], params["r"], params["p"]
        kdf_name, cipher_name = kdf["name"], cipher["name"]
    except (ValueError, KeyError, TypeError, UnicodeDecodeError):
        raise KeyFileError(
            "malformed cosign key: the encrypted document cannot be read", path=path
        ) from None
    if kdf_name != "scrypt":
        raise KeyFileError(
            f"unsupported key derivation {str(kdf_name)[:40]!r} in cosign key", path=path
        )
    if cipher_name != "nacl/secretbox":
        raise KeyFileError(f"unsupported cipher {str(cipher_name)[:40]!r} in cosign key", path=path)
    if type(n) is not int or n not in _SCRYPT_N_ALLOWED or r != _SCRYPT_R or p != _SCRYPT_P:
        raise KeyFileError("unsupported scrypt parameters in cosign key", path=path)
    if len(nonce) != _NONCE_SIZE:
        raise KeyFileError("malformed cosign key: the nonce is not 24 bytes", path=path)
    import nacl.exceptions
    import nacl.secret

    box = nacl.secret.SecretBox(_scrypt(password, salt, n))
    try:
        return box.decrypt(ciphertext, nonce)
    except nacl.exceptions.CryptoError:
        raise KeyFileError("wrong password or corrupted key", path=path) from None


def _b64_field(value: Any) -> bytes:
    if not isinstance(value, str):
        raise TypeError("expected a base64 string")
    return base64.b64decode(value, validate=True)


def _load_der(der: bytes, path: str | None) -> object:
    try:
        return serialization.load_der_private_key(der, None)
    except (ValueError, TypeError, UnsupportedAlgorithm):
        raise KeyFileError("cannot parse the decrypted private key", path=path) from None


def _load_pem(block: _PemBlock, password: bytes | None, path: str | None) -> object:
    try:
        return serialization.load_pem_private_key(block.raw, password)
    except (ValueError, TypeError):
        if password is not None:
            raise KeyFileError("wrong password or corrupted key", path=path) from None
        raise KeyFileError(
            f"cannot parse the {block.label} block (corrupted key?)", path=path
        ) from None
    except UnsupportedAlgorithm:
        raise KeyFileError(
            f"unsupported key algorithm in the {block.label} block", path=path
        ) from None


def _require_p256(key: object, path: str | None) -> ec.EllipticCurvePrivateKey:
    if isinstance(key, ec.EllipticCurvePrivateKey) and isinstance(key.curve, ec.SECP256R1):
        return key
    raise KeyFileError(f"not an ECDSA P-256 key (found {_describe(key)})", path=path)


def _describe(key: object) -> str:
    """A key's algorithm in words, for messages (never its bytes)."""
    if isinstance(key, ec.EllipticCurvePrivateKey | ec.EllipticCurvePublicKey):
        return f"ECDSA {key.curve.name}"
    size = getattr(key, "key_size", None)
    name = type(key).__name__.removeprefix("_")
    for family in ("RSA", "DSA", "Ed25519", "Ed448", "X25519", "X448"):
        if name.startswith(family):
            return f"{family} {size}" if family in ("RSA", "DSA") and size else family
    return name


def _label_hint(label: str) -> str | None:
    if label == "PUBLIC KEY":
        return "this is a public key; signing needs the private .key file"
    if label in COSIGN_LABELS or label in _PLAIN_PRIVATE_LABELS or label == _ENCRYPTED_PKCS8:
        return "this is a private key; verification needs the public .pub file"
    if label == "OPENSSH PRIVATE KEY":
        return "convert it with: ssh-keygen -p -m PKCS8 -f FILE"
    if label == "CERTIFICATE":
        return "pass the public key, not a certificate"
    return None


def _create_file(path: Path, data: bytes, mode: int) -> None:
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_CLOEXEC", 0), mode)
    except FileExistsError:
        raise KeyFileError(
            "refusing to overwrite an existing key file", path=path, hint="use --force"
        ) from None
    except OSError as exc:
        raise KeyFileError(f"cannot create key file: {exc.strerror or exc}", path=path) from None
    try:
        _write_fd(fd, path, data, mode)
    except KeyFileError:
        path.unlink(missing_ok=True)  # no half-written key left behind
        raise


def _replace_file(path: Path, data: bytes, mode: int) -> None:
    """Atomic overwrite: mkstemp creates 0600 with O_EXCL, so the secret is never exposed."""
    try:
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    except OSError as exc:
        raise KeyFileError(f"cannot create key file: {exc.strerror or exc}", path=path) from None
    try:
        _write_fd(fd, path, data, mode)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def _write_fd(fd: int, path: Path, data: bytes, mode: int) -> None:
    try:
        with os.fdopen(fd, "wb") as handle:
            # fchmod pins the mode regardless of umask (a 0644 .pub under umask 077 would be 0600).
            os.fchmod(handle.fileno(), mode)
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
    except OSError as exc:
        raise KeyFileError(f"cannot write key file: {exc.strerror or exc}", path=path) from None
