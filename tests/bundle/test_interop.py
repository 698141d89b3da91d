"""Interop with model-signing (sigstore/model-transparency), offline, both directions.

Our directory bundles must pass ``model_signing verify key``; bundles written by
``model_signing sign key`` must pass ``verify_path``. Skipped when model-signing (and the
pyOpenSSL it imports without declaring) is not installed: it is a test peer, never a dependency.
"""

from __future__ import annotations

import base64
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

pytest.importorskip("OpenSSL", reason="model-signing imports pyOpenSSL")
pytest.importorskip("model_signing", reason="model-signing is the interop peer")

from airgap_cli.bundle import keys
from airgap_cli.bundle.sign import default_signature_path, dumps, sign_directory
from airgap_cli.bundle.verify import VerifyResult, verify_path

ENV = {**os.environ, "NO_COLOR": "1"}


def model_signing(*args: str | Path) -> subprocess.CompletedProcess[str]:
    """Run the model-signing CLI of this interpreter, offline."""
    return subprocess.run(
        [sys.executable, "-m", "model_signing", *map(str, args)],
        capture_output=True,
        text=True,
        timeout=120,
        env=ENV,
        check=False,
    )


@pytest.fixture
def keypair(tmp_path: Path) -> tuple[ec.EllipticCurvePrivateKey, Path, Path]:
    """A P-256 key with its unencrypted PKCS#8 PEM (what model-signing reads) and public PEM."""
    key = keys.generate()
    private = tmp_path / "ec.key"
    private.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    public = tmp_path / "ec.pub"
    public.write_bytes(keys.public_pem(key))
    return key, private, public


@pytest.fixture
def model(tmp_path: Path) -> Path:
    root = tmp_path / "tiny-model"
    files = {
        "config.json": b'{"model_type": "llama"}\n',
        "model.safetensors": os.urandom(200_000),
        "tokenizer/tokenizer.json": b"{}\n",
        "a-b/c.txt": b"order check\n",
        "a/b.txt": b"order check\n",
    }
    for rel, data in files.items():
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        (root / rel).write_bytes(data)
    return root


def ours(model: Path, key: ec.EllipticCurvePrivateKey) -> Path:
    sig = default_signature_path(model)
    sig.write_text(dumps(sign_directory(model, key)))
    return sig


def rules(result: VerifyResult) -> list[tuple[str, str]]:
    return sorted((f.rule_id, f.location.resource) for f in result.findings)


def test_model_signing_cli_verifies_our_bundle(
    model: Path, keypair: tuple[ec.EllipticCurvePrivateKey, Path, Path]
) -> None:
    key, _, public = keypair
    sig = ours(model, key)
    done = model_signing("verify", "key", "--signature", sig, "--public_key", public, model)
    assert done.returncode == 0, done.stderr
    assert "Verification succeeded" in done.stdout


def test_model_signing_refuses_our_bundle_after_tampering(
    model: Path, keypair: tuple[ec.EllipticCurvePrivateKey, Path, Path]
) -> None:
    key, _, public = keypair
    sig = ours(model, key)
    (model / "config.json").write_text('{"model_type": "evil"}\n')
    done = model_signing("verify", "key", "--signature", sig, "--public_key", public, model)
    assert done.returncode == 1
    assert "Hash mismatch for" in done.stderr and "config.json" in done.stderr


def test_model_signing_api_verifies_our_bundle(
    model: Path, keypair: tuple[ec.EllipticCurvePrivateKey, Path, Path]
) -> None:
    import model_signing as ms

    key, _, public = keypair
    sig = ours(model, key)
    ms.verifying.Config().use_elliptic_key_verifier(public_key=public).verify(model, sig)


def test_our_bundle_with_git_files_needs_no_ignore_git_paths(
    model: Path, keypair: tuple[ec.EllipticCurvePrivateKey, Path, Path]
) -> None:
    """We sign every file; model-signing skips .git* by default unless told not to."""
    key, _, public = keypair
    (model / ".gitattributes").write_text("*.safetensors filter=lfs\n")
    sig = ours(model, key)
    args = ("verify", "key", "--signature", sig, "--public_key", public)
    default = model_signing(*args, model)
    assert default.returncode == 1
    assert "Missing files" in default.stderr and ".gitattributes" in default.stderr
    strict = model_signing(*args, "--no-ignore-git-paths", model)
    assert strict.returncode == 0, strict.stderr


def test_our_ignore_paths_are_honoured_by_model_signing(
    model: Path, keypair: tuple[ec.EllipticCurvePrivateKey, Path, Path]
) -> None:
    """Literal ignore paths mean the same to both verifiers."""
    key, _, public = keypair
    (model / "logs").mkdir()
    (model / "logs/train.log").write_text("step 1\n")
    sig = default_signature_path(model)
    sig.write_text(dumps(sign_directory(model, key, ignore=["logs"])))
    (model / "logs/train.log").write_text("step 2\n")
    done = model_signing("verify", "key", "--signature", sig, "--public_key", public, model)
    assert done.returncode == 0, done.stderr
    assert verify_path(model, key.public_key(), sig).verified


def test_we_verify_a_model_signing_bundle(
    model: Path, tmp_path: Path, keypair: tuple[ec.EllipticCurvePrivateKey, Path, Path]
) -> None:
    key, private, _ = keypair
    sig = tmp_path / "model.sig"
    done = model_signing("sign", "key", "--private_key", private, "--signature", sig, model)
    assert done.returncode == 0, done.stderr
    bundle = json.loads(sig.read_text())
    statement = json.loads(base64.b64decode(bundle["dsseEnvelope"]["payload"]))
    assert statement["predicateType"] == "https://model_signing/signature/v1.0"
    result = verify_path(model, key.public_key(), sig)
    assert result.verified, rules(result)
    assert result.files == 5

    data = bytearray((model / "model.safetensors").read_bytes())
    data[100] ^= 0xFF
    (model / "model.safetensors").write_bytes(bytes(data))
    (model / "a/b.txt").unlink()
    (model / "extra.bin").write_bytes(b"x")
    assert rules(verify_path(model, key.public_key(), sig)) == [
        ("bundle-file-extra", "extra.bin"),
        ("bundle-file-missing", "a/b.txt"),
        ("bundle-file-modified", "model.safetensors"),
    ]
    other = keys.generate()
    assert rules(verify_path(model, other.public_key(), sig)) == [("bundle-signature-invalid", "")]


def test_we_verify_model_signing_bundle_with_signature_and_git_inside(
    model: Path, keypair: tuple[ec.EllipticCurvePrivateKey, Path, Path]
) -> None:
    """model-signing records its own signature and the .git* paths as ignore_paths."""
    key, private, _ = keypair
    (model / ".gitattributes").write_text("*.bin filter=lfs\n")
    (model / ".git").mkdir()
    (model / ".git/HEAD").write_text("ref: refs/heads/main\n")
    sig = model / "model.sig"
    done = model_signing("sign", "key", "--private_key", private, "--signature", sig, model)
    assert done.returncode == 0, done.stderr
    statement = json.loads(base64.b64decode(json.loads(sig.read_text())["dsseEnvelope"]["payload"]))
    assert "model.sig" in statement["predicate"]["serialization"]["ignore_paths"]
    result = verify_path(model, key.public_key(), sig)
    assert result.verified, rules(result)
    (model / "config.json").write_text("{}")
    assert rules(verify_path(model, key.public_key(), sig)) == [
        ("bundle-file-modified", "config.json")
    ]


def test_model_signing_api_bundle_verifies_with_us(
    model: Path, tmp_path: Path, keypair: tuple[ec.EllipticCurvePrivateKey, Path, Path]
) -> None:
    import model_signing as ms

    key, private, _ = keypair
    sig = tmp_path / "api.sig"
    ms.signing.Config().use_elliptic_key_signer(private_key=private).set_hashing_config(
        ms.hashing.Config().set_ignored_paths(paths=[], ignore_git_paths=False)
    ).sign(model, sig)
    assert verify_path(model, key.public_key(), sig).verified


# --- shards: model-signing's `shards` method, through its API ----------------------------------
# model-signing 1.1.1's CLI has no shard option, and its verifier cannot guess a shard config from
# a signature (its protobuf JSON turns shard_size into a float that range() refuses), so shard
# bundles are verified through its API with an explicit hashing config, as its docs show.


def test_model_signing_api_verifies_our_shard_bundle(
    model: Path, keypair: tuple[ec.EllipticCurvePrivateKey, Path, Path]
) -> None:
    import model_signing as ms

    key, _, public = keypair
    sig = default_signature_path(model)
    sig.write_text(dumps(sign_directory(model, key, shard_size=65_536)))

    def their_verify() -> None:
        hashing = ms.hashing.Config().use_shard_serialization(shard_size=65_536)
        ms.verifying.Config().use_elliptic_key_verifier(public_key=public).set_hashing_config(
            hashing
        ).verify(model, sig)

    their_verify()
    weights = model / "model.safetensors"
    data = bytearray(weights.read_bytes())
    data[70_000] ^= 1
    weights.write_bytes(bytes(data))
    with pytest.raises(ValueError, match=r"model\.safetensors:65536:131072"):
        their_verify()


def test_we_verify_a_model_signing_shard_bundle(
    model: Path, tmp_path: Path, keypair: tuple[ec.EllipticCurvePrivateKey, Path, Path]
) -> None:
    import model_signing as ms

    key, private, _ = keypair
    sig = tmp_path / "shards.sig"
    hashing = ms.hashing.Config().use_shard_serialization(shard_size=65_536)
    ms.signing.Config().use_elliptic_key_signer(private_key=private).set_hashing_config(
        hashing.set_ignored_paths(paths=[], ignore_git_paths=False)
    ).sign(model, sig)
    statement = json.loads(base64.b64decode(json.loads(sig.read_text())["dsseEnvelope"]["payload"]))
    assert statement["predicate"]["serialization"]["method"] == "shards"
    result = verify_path(model, key.public_key(), sig)
    assert result.verified, rules(result)
    assert result.details["shard_size"] == 65_536
    (model / "model.safetensors").write_bytes(os.urandom(200_000))
    assert rules(verify_path(model, key.public_key(), sig)) == [
        ("bundle-file-modified", "model.safetensors")
    ]
