"""Keys: cosign's encrypted format (checked against an independent implementation), the PEM
flavours OpenSSL writes, P-256 only, safe key files, password sources, sign and verify."""

from __future__ import annotations

import base64
import hashlib
import io
import json
import os
import re
import stat
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import nacl.secret
import nacl.utils
import pytest
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa

from airgap_cli.bundle import keys
from airgap_cli.bundle.keys import KeyFileError

PASSWORD = b"correct horse battery staple"


# --- an independent implementation of cosign's format, written from the published algorithm ---
# (go-securesystemslib encrypted.go: scrypt -> 32-byte key, NaCl secretbox, JSON with standard
# base64 for []byte; cosign wraps that JSON in a PEM block). Deliberately shares no code with
# airgap_cli.bundle.keys.


def _pem_body(pem: bytes) -> tuple[str, bytes]:
    match = re.fullmatch(rb"-----BEGIN ([A-Z ]+)-----\n([A-Za-z0-9+/=\n]+)-----END \1-----\n", pem)
    assert match, pem
    return match.group(1).decode(), base64.b64decode(match.group(2).replace(b"\n", b""))


def _independent_decrypt(pem: bytes, password: bytes) -> bytes:
    label, body = _pem_body(pem)
    assert label in {"ENCRYPTED SIGSTORE PRIVATE KEY", "ENCRYPTED COSIGN PRIVATE KEY"}
    doc = json.loads(body)
    params = doc["kdf"]["params"]
    key = hashlib.scrypt(
        password,
        salt=base64.b64decode(doc["kdf"]["salt"]),
        n=params["N"],
        r=params["r"],
        p=params["p"],
        maxmem=512 * 1024 * 1024,
        dklen=32,
    )
    box = nacl.secret.SecretBox(key)
    return box.decrypt(
        base64.b64decode(doc["ciphertext"]), base64.b64decode(doc["cipher"]["nonce"])
    )


def _independent_encrypt(
    der: bytes,
    password: bytes,
    *,
    n: int = 1 << 16,
    label: str = "ENCRYPTED SIGSTORE PRIVATE KEY",
    doc_patch: dict[str, Any] | None = None,
) -> bytes:
    salt, nonce = nacl.utils.random(32), nacl.utils.random(24)
    key = hashlib.scrypt(password, salt=salt, n=n, r=8, p=1, maxmem=512 * 1024 * 1024, dklen=32)
    ciphertext = nacl.secret.SecretBox(key).encrypt(der, nonce).ciphertext
    doc: dict[str, Any] = {
        "kdf": {
            "name": "scrypt",
            "params": {"N": n, "r": 8, "p": 1},
            "salt": base64.b64encode(salt).decode(),
        },
        "cipher": {"name": "nacl/secretbox", "nonce": base64.b64encode(nonce).decode()},
        "ciphertext": base64.b64encode(ciphertext).decode(),
    }
    doc.update(doc_patch or {})
    b64 = base64.b64encode(json.dumps(doc).encode()).decode()
    lines = "".join(b64[i : i + 64] + "\n" for i in range(0, len(b64), 64))
    return f"-----BEGIN {label}-----\n{lines}-----END {label}-----\n".encode()


def _pkcs8_der(key: Any) -> bytes:
    return bytes(
        key.private_bytes(
            serialization.Encoding.DER,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )


def _pem(key: Any, fmt: serialization.PrivateFormat, password: bytes | None = None) -> bytes:
    encryption: serialization.KeySerializationEncryption = (
        serialization.BestAvailableEncryption(password)
        if password
        else serialization.NoEncryption()
    )
    return bytes(key.private_bytes(serialization.Encoding.PEM, fmt, encryption))


def _same(a: ec.EllipticCurvePrivateKey, b: ec.EllipticCurvePrivateKey) -> bool:
    return a.private_numbers() == b.private_numbers()


@pytest.fixture(scope="module")
def key() -> ec.EllipticCurvePrivateKey:
    return keys.generate()


@pytest.fixture(scope="module")
def encrypted(key: ec.EllipticCurvePrivateKey) -> bytes:
    return keys.encrypt_private_key(key, PASSWORD)


# --- cosign's encrypted format ---------------------------------------------------------------


def test_generate_makes_p256() -> None:
    assert isinstance(keys.generate().curve, ec.SECP256R1)


def test_encrypted_round_trip(key: ec.EllipticCurvePrivateKey, encrypted: bytes) -> None:
    assert keys.needs_password(encrypted)
    assert _same(keys.load_private_key(encrypted, PASSWORD), key)


def test_encrypted_document_has_cosigns_shape(encrypted: bytes) -> None:
    label, body = _pem_body(encrypted)
    assert label == "ENCRYPTED SIGSTORE PRIVATE KEY"
    assert all(len(line) <= 64 for line in encrypted.splitlines())
    doc = json.loads(body)
    # Go's json.Marshal: struct field order, no whitespace.
    assert body == json.dumps(doc, separators=(",", ":")).encode()
    assert list(doc) == ["kdf", "cipher", "ciphertext"]
    assert doc["kdf"]["name"] == "scrypt"
    assert doc["kdf"]["params"] == {"N": 65536, "r": 8, "p": 1}
    assert len(base64.b64decode(doc["kdf"]["salt"], validate=True)) == 32
    assert doc["cipher"]["name"] == "nacl/secretbox"
    assert len(base64.b64decode(doc["cipher"]["nonce"], validate=True)) == 24


def test_fresh_salt_and_nonce_every_time(key: ec.EllipticCurvePrivateKey, encrypted: bytes) -> None:
    again = json.loads(_pem_body(keys.encrypt_private_key(key, PASSWORD))[1])
    first = json.loads(_pem_body(encrypted)[1])
    assert again["kdf"]["salt"] != first["kdf"]["salt"]
    assert again["cipher"]["nonce"] != first["cipher"]["nonce"]


def test_interop_our_key_decrypts_with_the_published_algorithm(
    key: ec.EllipticCurvePrivateKey, encrypted: bytes
) -> None:
    der = _independent_decrypt(encrypted, PASSWORD)
    assert der == _pkcs8_der(key)  # PKCS#8, the only form Go's x509.ParsePKCS8PrivateKey takes
    loaded = serialization.load_der_private_key(der, None)
    assert isinstance(loaded, ec.EllipticCurvePrivateKey)
    assert _same(loaded, key)


@pytest.mark.parametrize(
    ("n", "label"),
    [
        (1 << 15, "ENCRYPTED COSIGN PRIVATE KEY"),  # cosign v1 keys: legacy cost, old label
        (1 << 16, "ENCRYPTED SIGSTORE PRIVATE KEY"),
        (1 << 17, "ENCRYPTED SIGSTORE PRIVATE KEY"),  # OWASP cost
    ],
)
def test_interop_independently_written_keys_load(
    key: ec.EllipticCurvePrivateKey, n: int, label: str
) -> None:
    pem = _independent_encrypt(_pkcs8_der(key), PASSWORD, n=n, label=label)
    assert _same(keys.load_private_key(pem, PASSWORD), key)


def test_empty_password_is_a_valid_password(key: ec.EllipticCurvePrivateKey) -> None:
    pem = keys.encrypt_private_key(key, b"", scrypt_n=1 << 15)
    assert _same(keys.load_private_key(pem, b""), key)
    assert _independent_decrypt(pem, b"") == _pkcs8_der(key)


def test_wrong_password_is_a_clean_error(key: ec.EllipticCurvePrivateKey, encrypted: bytes) -> None:
    with pytest.raises(KeyFileError, match="wrong password or corrupted key") as info:
        keys.load_private_key(encrypted, b"not it", path="team.key")
    error = info.value
    assert error.path == "team.key"
    assert error.__cause__ is None and error.__suppress_context__
    text = error.diagnostics()
    assert "\n" not in text
    secret = format(key.private_numbers().private_value, "x")
    body = _pem_body(encrypted)[1].decode()
    doc = json.loads(body)
    for material in (secret, doc["ciphertext"][:16], doc["kdf"]["salt"][:16], body[:16]):
        assert material not in text
        assert material not in repr(error.args)


def test_tampered_ciphertext_is_refused(key: ec.EllipticCurvePrivateKey) -> None:
    der = bytearray(_pkcs8_der(key))
    pem = _independent_encrypt(bytes(der), PASSWORD, n=1 << 15)
    doc = json.loads(_pem_body(pem)[1])
    raw = bytearray(base64.b64decode(doc["ciphertext"]))
    raw[-1] ^= 1
    tampered = _independent_encrypt(
        bytes(der),
        PASSWORD,
        n=1 << 15,
        doc_patch={
            "kdf": doc["kdf"],
            "cipher": doc["cipher"],
            "ciphertext": base64.b64encode(raw).decode(),
        },
    )
    with pytest.raises(KeyFileError, match="wrong password or corrupted key"):
        keys.load_private_key(tampered, PASSWORD)


@pytest.mark.parametrize(
    ("patch", "message"),
    [
        # 2^20 would cost 1 GiB of scrypt memory: refused before any work, as in cosign.
        (
            {"kdf": {"name": "scrypt", "params": {"N": 1 << 20, "r": 8, "p": 1}, "salt": "AA=="}},
            "scrypt parameters",
        ),
        (
            {"kdf": {"name": "scrypt", "params": {"N": [1], "r": 8, "p": 1}, "salt": "AA=="}},
            "scrypt parameters",
        ),
        (
            {"kdf": {"name": "argon2", "params": {"N": 1 << 16, "r": 8, "p": 1}, "salt": "AA=="}},
            "key derivation",
        ),
        ({"cipher": {"name": "aes-gcm", "nonce": base64.b64encode(bytes(24)).decode()}}, "cipher"),
        ({"cipher": {"name": "nacl/secretbox", "nonce": "AAAA"}}, "nonce"),
        ({"ciphertext": "not base64!"}, "malformed cosign key"),
        ({"ciphertext": 7}, "malformed cosign key"),
    ],
)
def test_malformed_cosign_documents_are_refused(patch: dict[str, Any], message: str) -> None:
    pem = _independent_encrypt(b"x", PASSWORD, n=1 << 15, doc_patch=patch)
    with pytest.raises(KeyFileError, match=message):
        keys.load_private_key(pem, PASSWORD)


def test_cosign_body_that_is_not_json() -> None:
    b64 = base64.b64encode(b"{not json").decode()
    pem = f"-----BEGIN ENCRYPTED SIGSTORE PRIVATE KEY-----\n{b64}\n-----END ENCRYPTED SIGSTORE PRIVATE KEY-----\n"
    with pytest.raises(KeyFileError, match="malformed cosign key"):
        keys.load_private_key(pem.encode(), PASSWORD)


def test_encrypted_key_without_password(encrypted: bytes) -> None:
    with pytest.raises(KeyFileError, match="key is encrypted: a password is needed") as info:
        keys.load_private_key(encrypted, None, path="k.key")
    assert info.value.path == "k.key"


def test_encrypt_refuses_costs_cosign_would_not_read(key: ec.EllipticCurvePrivateKey) -> None:
    with pytest.raises(ValueError, match="scrypt N"):
        keys.encrypt_private_key(key, PASSWORD, scrypt_n=1 << 14)


# --- other PEM flavours ----------------------------------------------------------------------


def test_plain_pkcs8_and_sec1(key: ec.EllipticCurvePrivateKey) -> None:
    for fmt in (serialization.PrivateFormat.PKCS8, serialization.PrivateFormat.TraditionalOpenSSL):
        pem = _pem(key, fmt)
        assert not keys.needs_password(pem)
        assert _same(keys.load_private_key(pem, None), key)
        # COSIGN_PASSWORD set for the whole job must not break a plain key.
        assert _same(keys.load_private_key(pem, PASSWORD), key)


def test_sec1_after_openssl_ec_parameters_block(key: ec.EllipticCurvePrivateKey) -> None:
    params = b"-----BEGIN EC PARAMETERS-----\nBggqhkjOPQMBBw==\n-----END EC PARAMETERS-----\n"
    pem = params + _pem(key, serialization.PrivateFormat.TraditionalOpenSSL)
    assert _same(keys.load_private_key(pem, None), key)


@pytest.mark.parametrize(
    "fmt", [serialization.PrivateFormat.PKCS8, serialization.PrivateFormat.TraditionalOpenSSL]
)
def test_password_protected_openssl_pems(
    key: ec.EllipticCurvePrivateKey, fmt: serialization.PrivateFormat
) -> None:
    pem = _pem(key, fmt, PASSWORD)  # ENCRYPTED PRIVATE KEY, or SEC1 with a Proc-Type header
    assert keys.needs_password(pem)
    assert _same(keys.load_private_key(pem, PASSWORD), key)
    with pytest.raises(KeyFileError, match="wrong password or corrupted key"):
        keys.load_private_key(pem, b"nope")
    with pytest.raises(KeyFileError, match="a password is needed"):
        keys.load_private_key(pem, None)


@pytest.mark.parametrize(
    ("other", "found"),
    [
        (ec.generate_private_key(ec.SECP384R1()), "ECDSA secp384r1"),
        (ed25519.Ed25519PrivateKey.generate(), "Ed25519"),
        (rsa.generate_private_key(public_exponent=65537, key_size=2048), "RSA 2048"),
    ],
    ids=["p384", "ed25519", "rsa"],
)
def test_non_p256_keys_are_refused(other: Any, found: str) -> None:
    pkcs8 = _pem(other, serialization.PrivateFormat.PKCS8)
    cosign = _independent_encrypt(_pkcs8_der(other), PASSWORD, n=1 << 15)
    for pem, password in ((pkcs8, None), (cosign, PASSWORD)):
        with pytest.raises(KeyFileError, match=f"not an ECDSA P-256 key \\(found {found}\\)"):
            keys.load_private_key(pem, password)
    public = other.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    with pytest.raises(KeyFileError, match=f"not an ECDSA P-256 key \\(found {found}\\)"):
        keys.load_public_key(public, path="other.pub")
    if isinstance(other, ec.EllipticCurvePrivateKey):
        with pytest.raises(KeyFileError, match="not an ECDSA P-256 key"):
            keys.encrypt_private_key(other, PASSWORD)


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"", "not a PEM key file"),
        (b"just some text\n", "not a PEM key file"),
        (
            b"-----BEGIN OPENSSH PRIVATE KEY-----\nAAAA\n-----END OPENSSH PRIVATE KEY-----\n",
            "unsupported PEM label 'OPENSSH PRIVATE KEY'",
        ),
        (
            b"-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n",
            "cannot parse the PRIVATE KEY block",
        ),
        (b"x" * (64 * 1024 + 1), "too large"),
    ],
)
def test_unusable_private_key_files(data: bytes, message: str) -> None:
    with pytest.raises(KeyFileError, match=re.escape(message)):
        keys.load_private_key(data, None, path="bad.key")


def test_public_and_private_keys_swapped(key: ec.EllipticCurvePrivateKey, encrypted: bytes) -> None:
    with pytest.raises(KeyFileError, match="unsupported PEM label 'PUBLIC KEY'") as info:
        keys.load_private_key(keys.public_pem(key), PASSWORD, path="k.pub")
    assert info.value.hint and "private" in info.value.hint
    with pytest.raises(KeyFileError, match="expected 'PUBLIC KEY'") as info:
        keys.load_public_key(encrypted, path="k.key")
    assert info.value.hint and "public" in info.value.hint


def test_two_keys_in_one_file_are_ambiguous(key: ec.EllipticCurvePrivateKey) -> None:
    pem = keys.public_pem(key) + keys.public_pem(keys.generate())
    with pytest.raises(KeyFileError, match="expected one key in the file, found 2"):
        keys.load_public_key(pem)


# --- public keys and hints -------------------------------------------------------------------


def test_public_pem_round_trip_and_hints(key: ec.EllipticCurvePrivateKey) -> None:
    pem = keys.public_pem(key)
    assert pem.startswith(b"-----BEGIN PUBLIC KEY-----\n")
    public = keys.load_public_key(pem)
    assert public.public_numbers() == key.public_key().public_numbers()
    assert keys.public_pem(public) == pem
    # model-signing's hint (it rejects any other non-empty value): hex sha256 of the PEM.
    hint = keys.key_hint(public)
    assert hint == hashlib.sha256(pem).hexdigest()
    assert re.fullmatch(r"[0-9a-f]{64}", hint)
    # cosign v3 / sigstore-go's hint: base64 sha256 of the DER.
    der = public.public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    assert keys.cosign_key_hint(public) == base64.b64encode(hashlib.sha256(der).digest()).decode()


# --- key files -------------------------------------------------------------------------------


@pytest.fixture
def umask() -> Iterator[None]:
    old = os.umask(0o022)
    yield
    os.umask(old)


def test_write_keypair_modes_and_content(tmp_path: Path, umask: None) -> None:
    key_path, pub_path = keys.write_keypair(tmp_path / "release.v1", b"pw")
    assert (key_path.name, pub_path.name) == ("release.v1.key", "release.v1.pub")
    assert stat.S_IMODE(key_path.stat().st_mode) == 0o600
    assert stat.S_IMODE(pub_path.stat().st_mode) == 0o644
    private = keys.load_private_key(key_path.read_bytes(), b"pw")
    assert keys.public_pem(private) == pub_path.read_bytes()
    assert _independent_decrypt(key_path.read_bytes(), b"pw") == _pkcs8_der(private)


def test_key_file_is_created_exclusively_with_0600(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    calls: list[tuple[str, int, int]] = []
    real_open = os.open

    def spy(path: Any, flags: int, mode: int = 0o777, *args: Any, **kwargs: Any) -> int:
        calls.append((os.fspath(path), flags, mode))
        return real_open(path, flags, mode, *args, **kwargs)

    monkeypatch.setattr(os, "open", spy)
    key_path, _ = keys.write_keypair(tmp_path / "k", b"pw")
    _, flags, mode = next(c for c in calls if c[0] == os.fspath(key_path))
    assert flags & os.O_CREAT and flags & os.O_EXCL
    assert mode == 0o600


def test_existing_files_are_kept_unless_force(tmp_path: Path, umask: None) -> None:
    (tmp_path / "k.pub").write_bytes(b"keep me")
    with pytest.raises(KeyFileError, match="refusing to overwrite") as info:
        keys.write_keypair(tmp_path / "k", b"pw")
    assert info.value.path == str(tmp_path / "k.pub")
    assert not (tmp_path / "k.key").exists()  # nothing half-written
    assert (tmp_path / "k.pub").read_bytes() == b"keep me"

    key_path, pub_path = keys.write_keypair(tmp_path / "k", b"pw", force=True)
    assert stat.S_IMODE(key_path.stat().st_mode) == 0o600
    assert stat.S_IMODE(pub_path.stat().st_mode) == 0o644
    assert pub_path.read_bytes().startswith(b"-----BEGIN PUBLIC KEY-----")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["k.key", "k.pub"]  # no temp files


def test_symlink_at_key_path_is_never_followed(tmp_path: Path) -> None:
    target = tmp_path / "elsewhere"
    target.write_bytes(b"victim")
    (tmp_path / "k.key").symlink_to(target)
    with pytest.raises(KeyFileError, match="refusing to overwrite"):
        keys.write_keypair(tmp_path / "k", b"pw")
    keys.write_keypair(tmp_path / "k", b"pw", force=True)
    assert target.read_bytes() == b"victim"
    assert not (tmp_path / "k.key").is_symlink()


def test_read_key_file_errors(tmp_path: Path) -> None:
    with pytest.raises(KeyFileError, match="cannot read key file") as info:
        keys.read_key_file(tmp_path / "missing.key")
    assert info.value.path == str(tmp_path / "missing.key")
    big = tmp_path / "model.bin"
    big.write_bytes(b"\0" * (64 * 1024 + 1))
    with pytest.raises(KeyFileError, match="too large"):
        keys.read_key_file(big)


# --- passwords -------------------------------------------------------------------------------


class _Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


class _Pipe(io.StringIO):
    def isatty(self) -> bool:
        return False


def test_password_from_env_even_when_empty(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("sys.stdin", _Pipe())
    monkeypatch.setenv("COSIGN_PASSWORD", "s3cret")
    assert keys.password_from_env_or_prompt(confirm=True) == b"s3cret"
    monkeypatch.setenv("COSIGN_PASSWORD", "")
    assert keys.password_from_env_or_prompt(confirm=False) == b""


def test_no_terminal_and_no_env_is_an_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("COSIGN_PASSWORD", raising=False)
    monkeypatch.setattr("sys.stdin", _Pipe("piped input must not be read as a password\n"))

    def never(prompt: str = "") -> str:
        raise AssertionError("must not prompt")

    monkeypatch.setattr("getpass.getpass", never)
    with pytest.raises(KeyFileError, match="COSIGN_PASSWORD") as info:
        keys.password_from_env_or_prompt(confirm=False)
    assert info.value.hint and "COSIGN_PASSWORD" in info.value.hint


def test_prompt_on_a_terminal(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("COSIGN_PASSWORD", raising=False)
    monkeypatch.setattr("sys.stdin", _Terminal())
    answers = iter(["pässword", "pässword", "one", "two"])
    prompts: list[str] = []

    def fake_getpass(prompt: str = "") -> str:
        prompts.append(prompt)
        return next(answers)

    monkeypatch.setattr("getpass.getpass", fake_getpass)
    assert keys.password_from_env_or_prompt(confirm=True) == "pässword".encode()
    assert len(prompts) == 2
    with pytest.raises(KeyFileError, match="passwords do not match"):
        keys.password_from_env_or_prompt(confirm=True)

    def eof(prompt: str = "") -> str:
        raise EOFError

    monkeypatch.setattr("getpass.getpass", eof)
    with pytest.raises(KeyFileError, match="no password entered"):
        keys.password_from_env_or_prompt(confirm=False)


# --- signatures ------------------------------------------------------------------------------


def test_sign_and_verify(key: ec.EllipticCurvePrivateKey) -> None:
    data = b"model.safetensors bytes"
    signature = keys.sign_digest(key, data)
    public = key.public_key()
    assert keys.verify_signature(public, signature, data)
    # A plain ECDSA-SHA256 DER signature, exactly what cosign sign-blob --key produces.
    public.verify(signature, data, ec.ECDSA(hashes.SHA256()))
    assert not keys.verify_signature(public, signature, data + b"!")
    assert not keys.verify_signature(keys.generate().public_key(), signature, data)
    assert not keys.verify_signature(public, b"\x30\x02garbage", data)
    assert not keys.verify_signature(public, b"", data)


def test_prehashed_signatures_match_message_signatures(key: ec.EllipticCurvePrivateKey) -> None:
    data = b"a tarball streamed through sha256"
    digest = hashlib.sha256(data).digest()
    public = key.public_key()
    assert keys.verify_signature(public, keys.sign_digest(key, digest, prehashed=True), data)
    assert keys.verify_signature(public, keys.sign_digest(key, data), digest, prehashed=True)
    with pytest.raises(ValueError, match="32-byte"):
        keys.sign_digest(key, b"short", prehashed=True)


def test_secretbox_sizes_match_pynacl() -> None:
    """keys.py spells out secretbox's sizes so that verifying never imports PyNaCl."""
    assert keys._KEY_SIZE == nacl.secret.SecretBox.KEY_SIZE
    assert keys._NONCE_SIZE == nacl.secret.SecretBox.NONCE_SIZE
