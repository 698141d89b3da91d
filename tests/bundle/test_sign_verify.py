"""Sign and verify round trips, and the tamper corpus: every refusal names its rule and file."""

from __future__ import annotations

import base64
import hashlib
import io
import json
import os
import shutil
import subprocess
import sys
import tarfile
from concurrent.futures import CancelledError
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric import ec

from airgap_cli.bundle import digest, keys
from airgap_cli.bundle.digest import (
    BundleError,
    HashJob,
    Span,
    hash_file,
    hash_spans,
    hash_tree,
    root_digest,
)
from airgap_cli.bundle.sign import (
    BUNDLE_MEDIA_TYPE,
    INTOTO_PAYLOAD_TYPE,
    MODEL_SIGNING_PREDICATE,
    default_signature_path,
    dsse_bundle,
    dumps,
    pae,
    sign_blob,
    sign_directory,
    sign_path,
)
from airgap_cli.bundle.verify import RULES, VerifyResult, verify_path
from airgap_cli.core.findings import Severity

# --- fixtures ----------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def key() -> ec.EllipticCurvePrivateKey:
    return keys.generate()


@pytest.fixture(scope="module")
def other_key() -> ec.EllipticCurvePrivateKey:
    return keys.generate()


def make_model(root: Path) -> Path:
    """A small model folder with nested directories, like a Hugging Face snapshot."""
    files = {
        "config.json": b'{"architectures": ["LlamaForCausalLM"], "model_type": "llama"}\n',
        "model.safetensors": os.urandom(300_000),
        "tokenizer/tokenizer.json": b'{"version": "1.0"}\n',
        "tokenizer/special/tokens.txt": b"<s>\n</s>\n",
        "adapters/lora/adapter_config.json": b'{"r": 8}\n',
        "README.md": b"---\nlicense: apache-2.0\n---\n# tiny\n",
    }
    for rel, data in files.items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
    return root


@pytest.fixture
def model(tmp_path: Path) -> Path:
    return make_model(tmp_path / "tiny-model")


def sign_to_file(path: Path, key: ec.EllipticCurvePrivateKey, **kwargs: Any) -> Path:
    bundle = sign_path(path, key, **kwargs)
    target = default_signature_path(path)
    target.write_text(dumps(bundle), encoding="utf-8")
    return target


def verify(path: Path, key: ec.EllipticCurvePrivateKey, sig: Path | None = None) -> VerifyResult:
    return verify_path(path, key.public_key(), sig or default_signature_path(path))


def rules(result: VerifyResult) -> list[tuple[str, str]]:
    return sorted((f.rule_id, f.location.resource) for f in result.findings)


def assert_refused(result: VerifyResult, rule_id: str, resource: str | None = None) -> None:
    assert not result.verified
    hits = [f for f in result.findings if f.rule_id == rule_id]
    assert hits, f"expected {rule_id}, got {rules(result)}"
    if resource is not None:
        named = [f for f in hits if f.location.resource == resource]
        assert named, f"expected {rule_id} on {resource}, got {rules(result)}"
        assert resource in named[0].message or resource.split("/")[-1] in named[0].message
    for finding in result.findings:
        assert finding.severity in (Severity.CRITICAL, Severity.HIGH)
        assert finding.remediation
        assert finding.rule_id in RULES


def resign(sig: Path, key: ec.EllipticCurvePrivateKey, edit: Any) -> None:
    """Decode the signed statement, let ``edit`` change it, and sign it again (valid signature)."""
    bundle = json.loads(sig.read_text())
    statement = json.loads(base64.b64decode(bundle["dsseEnvelope"]["payload"]))
    edit(statement)
    sig.write_text(dumps(dsse_bundle(statement, key)))


# --- round trips -------------------------------------------------------------------------------


def test_sign_and_verify_directory(model: Path, key: ec.EllipticCurvePrivateKey) -> None:
    sig = sign_to_file(model, key)
    assert sig == model.parent / "tiny-model.sigstore.json"
    result = verify(model, key)
    assert result.verified, rules(result)
    assert result.findings == []
    assert result.files == 6
    assert result.kind == "directory"


def test_directory_bundle_shape(model: Path, key: ec.EllipticCurvePrivateKey) -> None:
    bundle = sign_directory(model, key)
    assert bundle["mediaType"] == BUNDLE_MEDIA_TYPE
    material = bundle["verificationMaterial"]
    assert material == {"publicKey": {"hint": keys.key_hint(key.public_key())}, "tlogEntries": []}
    envelope = bundle["dsseEnvelope"]
    assert envelope["payloadType"] == INTOTO_PAYLOAD_TYPE
    assert envelope["signatures"][0]["keyid"] == ""
    payload = base64.b64decode(envelope["payload"])
    signature = base64.b64decode(envelope["signatures"][0]["sig"])
    assert keys.verify_signature(key.public_key(), signature, pae(INTOTO_PAYLOAD_TYPE, payload))
    statement = json.loads(payload)
    assert statement["_type"] == "https://in-toto.io/Statement/v1"
    assert statement["predicateType"] == MODEL_SIGNING_PREDICATE
    predicate = statement["predicate"]
    assert predicate["serialization"] == {
        "method": "files",
        "hash_type": "sha256",
        "allow_symlinks": False,
    }
    names = [r["name"] for r in predicate["resources"]]
    assert names == [
        "README.md",
        "adapters/lora/adapter_config.json",
        "config.json",
        "model.safetensors",
        "tokenizer/special/tokens.txt",
        "tokenizer/tokenizer.json",
    ]
    for resource in predicate["resources"]:
        assert resource["algorithm"] == "sha256"
        assert (
            resource["digest"]
            == hashlib.sha256((model / resource["name"]).read_bytes()).hexdigest()
        )
    subject = statement["subject"]
    assert subject[0]["name"] == "tiny-model"
    assert subject[0]["digest"]["sha256"] == root_digest(
        r["digest"] for r in predicate["resources"]
    )


def test_pae_matches_dsse_spec() -> None:
    assert pae("http://example.com/HelloWorld", b"hello world") == (
        b"DSSEv1 29 http://example.com/HelloWorld 11 hello world"
    )


def test_order_is_component_wise(tmp_path: Path, key: ec.EllipticCurvePrivateKey) -> None:
    root = tmp_path / "m"
    for rel in ("a-b/c", "a/b", "a.txt"):
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        (root / rel).write_text(rel)
    assert [f.path for f in hash_tree(root).files] == ["a/b", "a-b/c", "a.txt"]


def test_sign_and_verify_blob(tmp_path: Path, key: ec.EllipticCurvePrivateKey) -> None:
    blob = tmp_path / "weights.gguf"
    blob.write_bytes(os.urandom(70_000))
    sig = sign_to_file(blob, key)
    bundle = json.loads(sig.read_text())
    assert bundle["messageSignature"]["messageDigest"] == {
        "algorithm": "SHA2_256",
        "digest": base64.b64encode(hashlib.sha256(blob.read_bytes()).digest()).decode(),
    }
    assert bundle["verificationMaterial"]["tlogEntries"] == []
    assert bundle["verificationMaterial"]["publicKey"]["hint"]
    # cosign's signature: ECDSA over SHA-256 of the blob, checkable without any of our code.
    signature = base64.b64decode(bundle["messageSignature"]["signature"])
    assert keys.verify_signature(key.public_key(), signature, blob.read_bytes())
    result = verify(blob, key)
    assert result.verified, rules(result)
    assert (result.kind, result.files) == ("file", 1)

    data = bytearray(blob.read_bytes())
    data[1234] ^= 0x01
    blob.write_bytes(bytes(data))
    assert_refused(verify(blob, key), "bundle-file-modified", "weights.gguf")


def make_tar(path: Path, members: list[tarfile.TarInfo], mode: str = "w:gz") -> Path:
    with tarfile.open(path, mode) as archive:
        for member in members:
            data = b"payload" if member.isfile() else None
            if data is not None:
                member.size = len(data)
            archive.addfile(member, io.BytesIO(data) if data is not None else None)
    return path


def member(name: str, kind: bytes = tarfile.REGTYPE, **attrs: Any) -> tarfile.TarInfo:
    info = tarfile.TarInfo(name)
    info.type = kind
    for attr, value in attrs.items():
        setattr(info, attr, value)
    return info


def test_sign_and_verify_tarball(tmp_path: Path, key: ec.EllipticCurvePrivateKey) -> None:
    tar_members = [member("release", tarfile.DIRTYPE), member("release/a.bin")]
    tar = make_tar(tmp_path / "release.tgz", tar_members)
    sign_to_file(tar, key)
    assert (tmp_path / "release.tgz.sigstore.json").exists()
    result = verify(tar, key)
    assert result.verified, rules(result)
    assert result.kind == "tarball"
    assert result.details["tar_members"] == 2


@pytest.mark.parametrize(
    ("name", "tar_member", "reason"),
    [
        ("dotdot", member("../../etc/cron.d/evil"), "'..'"),
        ("absolute", member("/etc/passwd"), "absolute"),
        ("device", member("dev/sda", tarfile.BLKTYPE, devmajor=8, devminor=0), "device"),
        ("chardev", member("dev/mem", tarfile.CHRTYPE, devmajor=1, devminor=1), "device"),
        ("symlink", member("lib/x", tarfile.SYMTYPE, linkname="/etc/shadow"), "symbolic link"),
        ("hardlink", member("lib/y", tarfile.LNKTYPE, linkname="../../etc/shadow"), "hard link"),
        ("fifo", member("run/pipe", tarfile.FIFOTYPE), "FIFO"),
    ],
)
def test_tar_unsafe_members_are_refused_without_extracting(
    tmp_path: Path,
    key: ec.EllipticCurvePrivateKey,
    name: str,
    tar_member: tarfile.TarInfo,
    reason: str,
) -> None:
    work = tmp_path / "work"
    work.mkdir()
    tar = make_tar(work / f"{name}.tar", [member("ok.txt"), tar_member], mode="w")
    sign_to_file(tar, key)  # the signature is valid: the archive itself is the threat
    before = sorted(p.name for p in work.iterdir())
    result = verify(tar, key)
    assert_refused(result, "bundle-tar-unsafe-member", tar_member.name)
    assert [f.rule_id for f in result.findings] == ["bundle-tar-unsafe-member"]
    assert reason in result.findings[0].message
    assert sorted(p.name for p in work.iterdir()) == before  # nothing extracted


def test_corrupt_tarball_is_malformed(tmp_path: Path, key: ec.EllipticCurvePrivateKey) -> None:
    tar = tmp_path / "broken.tar.gz"
    tar.write_bytes(b"\x1f\x8b\x08\x00garbage" * 10)
    sign_to_file(tar, key)
    assert_refused(verify(tar, key), "bundle-malformed", "broken.tar.gz")


# --- tamper corpus: directories ----------------------------------------------------------------


def test_one_changed_byte(model: Path, key: ec.EllipticCurvePrivateKey) -> None:
    sign_to_file(model, key)
    weights = model / "model.safetensors"
    data = bytearray(weights.read_bytes())
    data[150_000] ^= 0x80
    weights.write_bytes(bytes(data))
    result = verify(model, key)
    assert_refused(result, "bundle-file-modified", "model.safetensors")
    assert rules(result) == [("bundle-file-modified", "model.safetensors")]
    assert "model.safetensors" in result.findings[0].message
    assert result.findings[0].location.path == str(model)
    assert result.findings[0].severity is Severity.CRITICAL


def test_missing_file(model: Path, key: ec.EllipticCurvePrivateKey) -> None:
    sign_to_file(model, key)
    (model / "tokenizer/tokenizer.json").unlink()
    result = verify(model, key)
    assert rules(result) == [("bundle-file-missing", "tokenizer/tokenizer.json")]
    assert_refused(result, "bundle-file-missing", "tokenizer/tokenizer.json")


def test_extra_file(model: Path, key: ec.EllipticCurvePrivateKey) -> None:
    sign_to_file(model, key)
    (model / "tokenizer/extra.py").write_text("import os; os.system('id')\n")
    result = verify(model, key)
    assert rules(result) == [("bundle-file-extra", "tokenizer/extra.py")]
    assert_refused(result, "bundle-file-extra", "tokenizer/extra.py")


def test_renamed_file_is_missing_plus_extra(model: Path, key: ec.EllipticCurvePrivateKey) -> None:
    sign_to_file(model, key)
    (model / "config.json").rename(model / "config.json.bak")
    result = verify(model, key)
    assert rules(result) == [
        ("bundle-file-extra", "config.json.bak"),
        ("bundle-file-missing", "config.json"),
    ]


def test_empty_file_added_and_directory_renamed(
    model: Path, key: ec.EllipticCurvePrivateKey
) -> None:
    sign_to_file(model, key)
    (model / "adapters").rename(model / "adapters2")
    result = verify(model, key)
    assert rules(result) == [
        ("bundle-file-extra", "adapters2/lora/adapter_config.json"),
        ("bundle-file-missing", "adapters/lora/adapter_config.json"),
    ]


def test_symlink_added(model: Path, key: ec.EllipticCurvePrivateKey) -> None:
    sign_to_file(model, key)
    (model / "latest.safetensors").symlink_to("model.safetensors")
    result = verify(model, key)
    assert rules(result) == [("bundle-symlink", "latest.safetensors")]
    assert_refused(result, "bundle-symlink", "latest.safetensors")


def test_signed_file_replaced_by_symlink(model: Path, key: ec.EllipticCurvePrivateKey) -> None:
    sign_to_file(model, key)
    shutil.copy(model / "config.json", model.parent / "config.json")
    (model / "config.json").unlink()
    (model / "config.json").symlink_to(model.parent / "config.json")
    result = verify(model, key)
    # The link leaves the bundle: one finding, not an extra "missing" for the same file.
    assert rules(result) == [("bundle-path-escape", "config.json")]
    assert "signed as a regular file" in result.findings[0].message


def test_fifo(model: Path, key: ec.EllipticCurvePrivateKey) -> None:
    sign_to_file(model, key)
    os.mkfifo(model / "tokenizer/pipe")
    result = verify(model, key)  # must not block on the FIFO
    assert rules(result) == [("bundle-special-file", "tokenizer/pipe")]
    assert "FIFO" in result.findings[0].message


def test_socket(model: Path, key: ec.EllipticCurvePrivateKey) -> None:
    import socket

    sign_to_file(model, key)
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        sock.bind(str(model / "s.sock"))
        result = verify(model, key)
    finally:
        sock.close()
    assert rules(result) == [("bundle-special-file", "s.sock")]


def test_path_escape_via_symlinked_directory(
    model: Path, tmp_path: Path, key: ec.EllipticCurvePrivateKey
) -> None:
    sign_to_file(model, key)
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "secret.txt").write_text("host secret")
    (model / "tokenizer/cache").symlink_to(outside, target_is_directory=True)
    result = verify(model, key)
    assert rules(result) == [("bundle-path-escape", "tokenizer/cache")]
    assert result.findings[0].severity is Severity.CRITICAL


def test_signed_directory_swapped_for_outside_link(
    model: Path, tmp_path: Path, key: ec.EllipticCurvePrivateKey
) -> None:
    sign_to_file(model, key)
    outside = tmp_path / "evil-tokenizer"
    shutil.copytree(model / "tokenizer", outside)
    shutil.rmtree(model / "tokenizer")
    (model / "tokenizer").symlink_to(outside, target_is_directory=True)
    result = verify(model, key)
    # Identical bytes, but read through a link that leaves the bundle: refused, once.
    assert rules(result) == [("bundle-path-escape", "tokenizer")]


def test_signed_resource_escaping_the_root_is_never_read(
    model: Path, tmp_path: Path, key: ec.EllipticCurvePrivateKey
) -> None:
    sig = sign_to_file(model, key)
    (tmp_path / "victim").write_text("x")
    digest = hashlib.sha256(b"x").hexdigest()

    def edit(statement: dict[str, Any]) -> None:
        resources = statement["predicate"]["resources"]
        resources.append({"name": "../victim", "algorithm": "sha256", "digest": digest})
        resources.append({"name": "/etc/hostname", "algorithm": "sha256", "digest": digest})
        statement["subject"][0]["digest"]["sha256"] = root_digest(r["digest"] for r in resources)

    resign(sig, key, edit)
    result = verify(model, key)
    assert rules(result) == [
        ("bundle-path-escape", "../victim"),
        ("bundle-path-escape", "/etc/hostname"),
    ]


def test_sign_refuses_links_and_special_files(
    model: Path, tmp_path: Path, key: ec.EllipticCurvePrivateKey
) -> None:
    (model / "link").symlink_to("config.json")
    with pytest.raises(BundleError, match="symbolic link") as info:
        sign_directory(model, key)
    assert info.value.path == str(model / "link")
    (model / "link").unlink()
    os.mkfifo(model / "fifo")
    with pytest.raises(BundleError, match="FIFO"):
        sign_directory(model, key)
    (model / "fifo").unlink()
    (model / "escape").symlink_to(tmp_path, target_is_directory=True)
    with pytest.raises(BundleError, match="escapes the bundle"):
        sign_directory(model, key)


def test_sign_refuses_empty_directory(tmp_path: Path, key: ec.EllipticCurvePrivateKey) -> None:
    (tmp_path / "empty" / "sub").mkdir(parents=True)
    with pytest.raises(BundleError, match="nothing to sign"):
        sign_directory(tmp_path / "empty", key)


# --- tamper corpus: keys and signatures ---------------------------------------------------------


def test_wrong_key(
    model: Path, key: ec.EllipticCurvePrivateKey, other_key: ec.EllipticCurvePrivateKey
) -> None:
    sig = sign_to_file(model, key)
    result = verify(model, other_key)
    assert rules(result) == [("bundle-signature-invalid", "")]
    assert result.findings[0].location.path == str(sig)


def test_swapped_key_in_bundle_is_not_trusted(
    model: Path, key: ec.EllipticCurvePrivateKey, other_key: ec.EllipticCurvePrivateKey
) -> None:
    """An attacker re-signs a tampered bundle with their key and puts their hint in it."""
    sig = sign_to_file(model, key)
    (model / "config.json").write_text('{"evil": true}')
    evil = sign_directory(model, other_key)
    sig.write_text(dumps(evil))
    assert evil["verificationMaterial"]["publicKey"]["hint"] == keys.key_hint(
        other_key.public_key()
    )
    result = verify(model, key)  # the pinned key is the genuine one
    assert rules(result) == [("bundle-signature-invalid", "")]


def test_hint_of_pinned_key_does_not_help_a_forgery(
    model: Path, key: ec.EllipticCurvePrivateKey, other_key: ec.EllipticCurvePrivateKey
) -> None:
    sig = sign_to_file(model, key)
    evil = sign_directory(model, other_key)
    evil["verificationMaterial"]["publicKey"]["hint"] = keys.key_hint(key.public_key())
    sig.write_text(dumps(evil))
    assert rules(verify(model, key)) == [("bundle-signature-invalid", "")]


def test_tampered_payload_or_signature(model: Path, key: ec.EllipticCurvePrivateKey) -> None:
    sig = sign_to_file(model, key)
    bundle = json.loads(sig.read_text())
    statement = json.loads(base64.b64decode(bundle["dsseEnvelope"]["payload"]))
    statement["predicate"]["resources"][0]["digest"] = "0" * 64
    bundle["dsseEnvelope"]["payload"] = base64.b64encode(json.dumps(statement).encode()).decode()
    sig.write_text(json.dumps(bundle))
    assert rules(verify(model, key)) == [("bundle-signature-invalid", "")]

    bundle = sign_directory(model, key)
    raw = bytearray(base64.b64decode(bundle["dsseEnvelope"]["signatures"][0]["sig"]))
    raw[-1] ^= 0x01
    bundle["dsseEnvelope"]["signatures"][0]["sig"] = base64.b64encode(bytes(raw)).decode()
    sig.write_text(json.dumps(bundle))
    assert rules(verify(model, key)) == [("bundle-signature-invalid", "")]


def test_wrong_key_blob(
    tmp_path: Path, key: ec.EllipticCurvePrivateKey, other_key: ec.EllipticCurvePrivateKey
) -> None:
    blob = tmp_path / "a.bin"
    blob.write_bytes(b"abc")
    sign_to_file(blob, key)
    assert rules(verify(blob, other_key)) == [("bundle-signature-invalid", "")]


def test_signature_of_another_folder(
    tmp_path: Path, model: Path, key: ec.EllipticCurvePrivateKey
) -> None:
    other = tmp_path / "other-model"
    (other / "weights").mkdir(parents=True)
    (other / "weights/w.bin").write_bytes(b"other")
    (other / "vocab.txt").write_bytes(b"a b c")
    other_sig = tmp_path / "other.sigstore.json"
    other_sig.write_text(dumps(sign_directory(other, key)))
    result = verify_path(model, key.public_key(), other_sig)
    assert rules(result) == [("bundle-signature-mismatch", "")]
    assert "other-model" in result.findings[0].message


def test_signature_kind_mismatch(
    tmp_path: Path, model: Path, key: ec.EllipticCurvePrivateKey
) -> None:
    blob = tmp_path / "a.bin"
    blob.write_bytes(b"abc")
    blob_sig = sign_to_file(blob, key)
    dir_sig = sign_to_file(model, key)
    assert rules(verify_path(model, key.public_key(), blob_sig)) == [
        ("bundle-signature-mismatch", "")
    ]
    assert rules(verify_path(blob, key.public_key(), dir_sig)) == [
        ("bundle-signature-mismatch", "")
    ]


def test_signature_of_another_blob(tmp_path: Path, key: ec.EllipticCurvePrivateKey) -> None:
    a = make_tar(tmp_path / "a.tar", [member("x")], mode="w")
    b = make_tar(tmp_path / "b.tar", [member("y")], mode="w")
    sig_a = sign_to_file(a, key)
    assert rules(verify_path(b, key.public_key(), sig_a)) == [("bundle-file-modified", "b.tar")]


def test_unknown_predicate_type(model: Path, key: ec.EllipticCurvePrivateKey) -> None:
    sig = sign_to_file(model, key)

    def edit(statement: dict[str, Any]) -> None:
        statement["predicateType"] = "https://slsa.dev/provenance/v1"

    resign(sig, key, edit)
    result = verify(model, key)
    assert rules(result) == [("bundle-predicate-unknown", "")]
    assert "slsa.dev" in result.findings[0].message


@pytest.mark.parametrize(
    ("edit", "rule"),
    [
        (lambda s: s.update(_type="https://in-toto.io/Statement/v0.1"), "bundle-predicate-unknown"),
        (
            lambda s: s["predicate"]["serialization"].update(method="layers"),
            "bundle-predicate-unknown",
        ),
        # shards without a shard size, or with whole-file resource names, pin nothing usable
        (lambda s: s["predicate"]["serialization"].update(method="shards"), "bundle-malformed"),
        (
            lambda s: s["predicate"]["serialization"].update(method="shards", shard_size=1024),
            "bundle-malformed",
        ),
        (
            lambda s: s["predicate"]["serialization"].update(hash_type="blake3"),
            "bundle-predicate-unknown",
        ),
        (lambda s: s["subject"][0]["digest"].update(sha256="0" * 64), "bundle-malformed"),
        (lambda s: s["predicate"].update(resources=[]), "bundle-malformed"),
        (lambda s: s.update(subject=[]), "bundle-malformed"),
        (lambda s: s["predicate"]["resources"][0].update(digest="zz"), "bundle-malformed"),
    ],
)
def test_signed_but_unusable_statements(
    model: Path, key: ec.EllipticCurvePrivateKey, edit: Any, rule: str
) -> None:
    sig = sign_to_file(model, key)
    resign(sig, key, edit)
    result = verify(model, key)
    assert [f.rule_id for f in result.findings] == [rule]
    assert not result.verified


def test_truncated_bundle_is_unusable_input(model: Path, key: ec.EllipticCurvePrivateKey) -> None:
    sig = sign_to_file(model, key)
    sig.write_text(sig.read_text()[:200])
    with pytest.raises(BundleError, match="not JSON") as info:
        verify(model, key)
    assert info.value.path == str(sig)


def test_missing_signature_is_unusable_input(model: Path, key: ec.EllipticCurvePrivateKey) -> None:
    with pytest.raises(BundleError, match="cannot read signature"):
        verify(model, key)


@pytest.mark.parametrize(
    "mutate",
    [
        lambda b: [],
        lambda b: {**b, "mediaType": "application/json"},
        lambda b: {k: v for k, v in b.items() if k != "dsseEnvelope"},
        lambda b: {k: v for k, v in b.items() if k != "verificationMaterial"},
        lambda b: {**b, "messageSignature": {"x": 1}},
        lambda b: {**b, "dsseEnvelope": {**b["dsseEnvelope"], "payload": "%%%"}},
        lambda b: {**b, "dsseEnvelope": {**b["dsseEnvelope"], "signatures": []}},
        lambda b: {**b, "dsseEnvelope": {**b["dsseEnvelope"], "signatures": [{"sig": 3}]}},
        lambda b: {**b, "dsseEnvelope": "nope"},
    ],
)
def test_malformed_bundle_json_is_a_finding(
    model: Path, key: ec.EllipticCurvePrivateKey, mutate: Any
) -> None:
    sig = sign_to_file(model, key)
    sig.write_text(json.dumps(mutate(json.loads(sig.read_text()))))
    result = verify(model, key)
    assert rules(result) == [("bundle-malformed", "")]
    assert result.findings[0].location.path == str(sig)


def test_malformed_message_bundle(tmp_path: Path, key: ec.EllipticCurvePrivateKey) -> None:
    blob = tmp_path / "a.bin"
    blob.write_bytes(b"abc")
    sig = sign_to_file(blob, key)
    bundle = json.loads(sig.read_text())
    bundle["messageSignature"]["messageDigest"]["algorithm"] = "MD5"
    sig.write_text(json.dumps(bundle))
    assert rules(verify(blob, key)) == [("bundle-malformed", "")]


def test_no_pinned_key_is_unusable(model: Path, key: ec.EllipticCurvePrivateKey) -> None:
    sig = sign_to_file(model, key)
    with pytest.raises(BundleError, match="no public key"):
        verify_path(model, [], sig)


def test_any_pinned_key_may_verify(
    model: Path, key: ec.EllipticCurvePrivateKey, other_key: ec.EllipticCurvePrivateKey
) -> None:
    sig = sign_to_file(model, key)
    assert verify_path(model, [other_key.public_key(), key.public_key()], sig).verified


def test_several_problems_each_reported_once(model: Path, key: ec.EllipticCurvePrivateKey) -> None:
    sign_to_file(model, key)
    (model / "README.md").write_text("changed")
    (model / "config.json").unlink()
    (model / "new.bin").write_bytes(b"1")
    (model / "l").symlink_to("new.bin")
    result = verify(model, key)
    assert rules(result) == [
        ("bundle-file-extra", "new.bin"),
        ("bundle-file-missing", "config.json"),
        ("bundle-file-modified", "README.md"),
        ("bundle-symlink", "l"),
    ]
    assert len({f.fingerprint for f in result.findings}) == 4


# --- ignore patterns ----------------------------------------------------------------------------


def test_ignore_patterns_are_signed_and_honoured(
    model: Path, key: ec.EllipticCurvePrivateKey
) -> None:
    (model / "logs").mkdir()
    (model / "logs/run.log").write_text("x")
    (model / "tokenizer/debug.log").write_text("x")
    (model / ".git").mkdir()
    (model / ".git/HEAD").write_text("ref")
    (model / ".git/hooks").symlink_to("/etc")  # never walked: ignored directory
    sig = sign_to_file(model, key, ignore=["*.log", ".git", "logs/"])
    statement = json.loads(base64.b64decode(json.loads(sig.read_text())["dsseEnvelope"]["payload"]))
    assert statement["predicate"]["serialization"]["ignore_paths"] == ["*.log", ".git", "logs/"]
    names = {r["name"] for r in statement["predicate"]["resources"]}
    assert not any(n.endswith(".log") or n.startswith(".git") for n in names)
    (model / "tokenizer/debug.log").write_text("changed")
    (model / "new.log").write_text("new")
    result = verify(model, key)
    assert result.verified, rules(result)
    (model / "new.txt").write_text("new")
    assert rules(verify(model, key)) == [("bundle-file-extra", "new.txt")]


def test_ignore_never_hides_a_signed_file(model: Path, key: ec.EllipticCurvePrivateKey) -> None:
    """A predicate's ignore entry cannot excuse tampering with a file it also signs."""
    sig = sign_to_file(model, key)

    def edit(statement: dict[str, Any]) -> None:
        statement["predicate"]["serialization"]["ignore_paths"] = ["*.json", "tokenizer"]

    resign(sig, key, edit)
    (model / "config.json").write_text("{}")
    (model / "tokenizer/tokenizer.json").unlink()
    assert rules(verify(model, key)) == [
        ("bundle-file-missing", "tokenizer/tokenizer.json"),
        ("bundle-file-modified", "config.json"),
    ]


# --- hashing -----------------------------------------------------------------------------------


def test_parallel_hashing_equals_serial_hashlib(tmp_path: Path) -> None:
    root = tmp_path / "many"
    sizes = [0, 1, 4095, 4096, (1 << 20) - 1, 1 << 20, (1 << 20) + 1, 3 * (1 << 20) + 7]
    for i in range(60):
        path = root / f"d{i % 5}" / f"f{i}.bin"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(os.urandom(sizes[i % len(sizes)]))
    manifest = hash_tree(root, workers=8)
    serial = {
        p.relative_to(root).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in root.rglob("*")
        if p.is_file()
    }
    assert manifest.digests() == serial
    assert hash_tree(root, workers=1).digests() == serial
    assert hash_file(root / "d0/f0.bin") == hashlib.sha256(b"").hexdigest()


def test_progress_callback_totals(model: Path, key: ec.EllipticCurvePrivateKey) -> None:
    big = model / "big.bin"
    big.write_bytes(os.urandom(5 * (1 << 20) + 3))
    total = sum(p.stat().st_size for p in model.rglob("*") if p.is_file())
    done: list[int] = []
    started: list[tuple[int, int]] = []
    bundle = sign_directory(
        model, key, progress=done.append, on_start=lambda n, b: started.append((n, b))
    )
    assert started == [(7, total)]
    assert sum(done) == total
    assert len(done) >= 6  # big files report chunk by chunk
    sig = default_signature_path(model)
    sig.write_text(dumps(bundle))
    done.clear()
    result = verify_path(model, key.public_key(), sig, progress=done.append)
    assert result.verified
    assert sum(done) == total


def test_blob_sign_streams_without_reading_whole(
    tmp_path: Path, key: ec.EllipticCurvePrivateKey
) -> None:
    blob = tmp_path / "x.bin"
    blob.write_bytes(os.urandom(3 * (1 << 20)))
    chunks: list[int] = []
    sign_blob(blob, key, progress=chunks.append)
    assert sum(chunks) == blob.stat().st_size
    assert max(chunks) <= 1 << 20


def test_default_signature_path(tmp_path: Path) -> None:
    assert default_signature_path(tmp_path / "model") == tmp_path / "model.sigstore.json"
    assert default_signature_path(Path("release.tar.gz")) == Path("release.tar.gz.sigstore.json")
    cwd = Path.cwd()
    os.chdir(tmp_path)
    try:
        assert (
            default_signature_path(Path(".")) == tmp_path.parent / f"{tmp_path.name}.sigstore.json"
        )
    finally:
        os.chdir(cwd)


# --- spans and shards ------------------------------------------------------------


def test_span_hashing_equals_hashlib_at_every_boundary(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A small chunk size exercises chunk edges, partial spans and tails on small files."""
    monkeypatch.setattr(digest, "CHUNK_SIZE", 5000)
    data = os.urandom(200_003)
    (tmp_path / "f.bin").write_bytes(data)
    size = len(data)
    spans = [
        Span("f.bin", size=size),
        Span("f.bin", 0, size, size),
        Span("f.bin", 1, size - 1, size - 2),
        Span("f.bin", 4095, 4097 + 3 * 4096, 2 + 3 * 4096),
        Span("f.bin", 12345, 12346, 1),
        *digest.shard_spans("f.bin", size, 7 * 4096 + 3),
    ]
    digests = hash_spans(tmp_path, spans, workers=3)
    for span in spans:
        end = size if span.end is None else span.end
        assert digests[span] == hashlib.sha256(data[span.start : end]).hexdigest(), span
    assert hash_file(tmp_path / "f.bin") == hashlib.sha256(data).hexdigest()


def test_real_size_files_hash_like_hashlib(tmp_path: Path) -> None:
    """Files around and past the chunk size (several chunks, then a tail)."""
    sizes = [digest.CHUNK_SIZE - 1, digest.CHUNK_SIZE, 9 * digest.CHUNK_SIZE + 12_345]
    for i, size in enumerate(sizes):
        (tmp_path / f"f{i}.bin").write_bytes(os.urandom(size))
    manifest = hash_tree(tmp_path)
    assert manifest.digests() == {
        p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in tmp_path.iterdir()
    }


def test_shard_spans_cut_like_model_signing() -> None:
    assert digest.shard_spans("a", 0, 10) == []
    assert [(s.start, s.end) for s in digest.shard_spans("a", 25, 10)] == [
        (0, 10),
        (10, 20),
        (20, 25),
    ]
    assert [(s.start, s.end) for s in digest.shard_spans("a", 20, 10)] == [(0, 10), (10, 20)]


def test_parse_size() -> None:
    assert digest.parse_size("1000") == 1000
    assert digest.parse_size("128MiB") == 128 << 20
    assert digest.parse_size("1gb") == 10**9
    assert digest.parse_size(" 4 KiB ") == 4096
    for bad in ("", "0", "12M", "1.5GiB", "-1", "MiB"):
        with pytest.raises(ValueError):
            digest.parse_size(bad)


def test_file_shrinking_while_hashed_is_an_error(tmp_path: Path) -> None:
    (tmp_path / "f.bin").write_bytes(b"x" * 100)
    with pytest.raises(BundleError, match="changed while hashing"):
        hash_spans(tmp_path, [Span("f.bin", 50, 150, 100)])


def test_a_cancelled_job_stops_and_a_left_job_is_cancelled(tmp_path: Path) -> None:
    (tmp_path / "f.bin").write_bytes(os.urandom(1 << 20))
    seen: list[int] = []
    with HashJob(tmp_path, [Span("f.bin", size=1 << 20)], progress=seen.append) as job:
        job.cancel()
    with pytest.raises(CancelledError):
        job.result()
    with HashJob(tmp_path, [Span("f.bin", size=1 << 20)]):
        pass  # leaving without result() must not hang or raise


def shard_statement(sig: Path) -> dict[str, Any]:
    return json.loads(base64.b64decode(json.loads(sig.read_text())["dsseEnvelope"]["payload"]))


def test_shard_mode_round_trip_and_statement(model: Path, key: ec.EllipticCurvePrivateKey) -> None:
    sig = sign_to_file(model, key, shard_size=100_000)
    statement = shard_statement(sig)
    serialization = statement["predicate"]["serialization"]
    assert serialization == {
        "method": "shards",
        "hash_type": "sha256",
        "shard_size": 100_000,
        "allow_symlinks": False,
    }
    resources = statement["predicate"]["resources"]
    weights = (model / "model.safetensors").read_bytes()
    expected = [
        {
            "name": f"model.safetensors:{start}:{end}",
            "algorithm": "sha256-sharded-100000",
            "digest": hashlib.sha256(weights[start:end]).hexdigest(),
        }
        for start, end in ((0, 100_000), (100_000, 200_000), (200_000, 300_000))
    ]
    assert [r for r in resources if r["name"].startswith("model.")] == expected
    # component-wise path order, then offset; the subject digest covers them in that order
    names = [r["name"].rsplit(":", 2)[0] for r in resources]
    assert names == sorted(names, key=lambda n: tuple(n.split("/")))
    assert statement["subject"][0]["digest"]["sha256"] == root_digest(
        r["digest"] for r in resources
    )
    result = verify(model, key)
    assert result.verified, rules(result)
    assert result.files == 6
    assert result.details["method"] == "shards" and result.details["shard_size"] == 100_000


def test_shard_mode_names_the_changed_file_and_bytes(
    model: Path, key: ec.EllipticCurvePrivateKey
) -> None:
    sign_to_file(model, key, shard_size=100_000)
    weights = model / "model.safetensors"
    data = bytearray(weights.read_bytes())
    data[150_000] ^= 1
    weights.write_bytes(bytes(data))
    result = verify(model, key)
    assert rules(result) == [("bundle-file-modified", "model.safetensors")]
    assert "bytes 100000-200000" in result.findings[0].message
    assert "model.safetensors:100000:200000" in (result.findings[0].evidence or "")
    weights.write_bytes(bytes(data[:-1]))
    result = verify(model, key)
    assert rules(result) == [("bundle-file-modified", "model.safetensors")]
    assert "300000 bytes were signed, 299999 found" in result.findings[0].message
    weights.unlink()
    (model / "new.bin").write_bytes(b"")
    assert rules(verify(model, key)) == [
        ("bundle-file-extra", "new.bin"),
        ("bundle-file-missing", "model.safetensors"),
    ]


def test_shard_mode_refuses_what_it_cannot_pin(
    model: Path, key: ec.EllipticCurvePrivateKey, monkeypatch: pytest.MonkeyPatch
) -> None:
    (model / "empty.txt").write_bytes(b"")
    with pytest.raises(BundleError, match="empty file has no shard"):
        sign_directory(model, key, shard_size=1 << 20)
    (model / "empty.txt").unlink()
    (model / "a:b.bin").write_bytes(b"x")
    with pytest.raises(BundleError, match="':'"):
        sign_directory(model, key, shard_size=1 << 20)
    with pytest.raises(BundleError, match="positive"):
        sign_directory(model, key, shard_size=0)
    (model / "a:b.bin").unlink()
    monkeypatch.setattr(digest, "MAX_SHARDS", 100)
    with pytest.raises(BundleError, match="too many for one signature"):
        sign_directory(model, key, shard_size=1024)  # about 300 shards

    with pytest.raises(BundleError, match="directories only"):
        sign_path(model / "config.json", key, shard_size=1 << 20)


@pytest.mark.parametrize(
    "edit",
    [
        # a gap: bytes 100000-200000 of the weights would be unpinned
        lambda r: [x for x in r if x["name"] != "model.safetensors:100000:200000"],
        # overlapping or uneven shards, or offsets written another way
        lambda r: [
            {**x, "name": "model.safetensors:0:150000"}
            if x["name"] == "model.safetensors:0:100000"
            else x
            for x in r
        ],
        lambda r: [{**x, "name": x["name"].replace(":0:100000", ":00:100000")} for x in r],
        lambda r: [{**x, "name": x["name"].rsplit(":", 2)[0]} for x in r],
    ],
)
def test_shard_layouts_no_signer_writes_are_malformed(
    model: Path, key: ec.EllipticCurvePrivateKey, edit: Any
) -> None:
    sig = sign_to_file(model, key, shard_size=100_000)

    def change(statement: dict[str, Any]) -> None:
        resources = edit(statement["predicate"]["resources"])
        statement["predicate"]["resources"] = resources
        statement["subject"][0]["digest"]["sha256"] = root_digest(r["digest"] for r in resources)

    resign(sig, key, change)
    result = verify(model, key)
    assert [f.rule_id for f in result.findings] == ["bundle-malformed"]


def test_shard_size_as_model_signing_writes_it(
    model: Path, key: ec.EllipticCurvePrivateKey
) -> None:
    """model-signing's protobuf JSON writes the shard size as a float (``100000.0``)."""
    sig = sign_to_file(model, key, shard_size=100_000)
    resign(sig, key, lambda s: s["predicate"]["serialization"].update(shard_size=100_000.0))
    assert verify(model, key).verified
    resign(sig, key, lambda s: s["predicate"]["serialization"].update(shard_size=100_000.5))
    assert [f.rule_id for f in verify(model, key).findings] == ["bundle-malformed"]
    resign(sig, key, lambda s: s["predicate"]["serialization"].update(shard_size=50_000))
    assert [f.rule_id for f in verify(model, key).findings] == ["bundle-predicate-unknown"]


def test_hashing_memory_is_bounded(tmp_path: Path) -> None:
    """Hashing 256 MiB (whole and in shards) grows the peak RSS by a few buffers, not the file."""
    big = tmp_path / "m" / "big.bin"
    big.parent.mkdir()
    with big.open("wb") as handle:
        handle.truncate(256 << 20)  # sparse: read as zeros, cached page by page
    code = (
        "import resource, sys\n"
        "from pathlib import Path\n"
        "from airgap_cli.bundle.digest import hash_tree, hash_tree_shards\n"
        "before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss\n"
        "hash_tree(Path(sys.argv[1]))\n"
        "hash_tree_shards(Path(sys.argv[1]), 32 << 20)\n"
        "print(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before)\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", code, str(big.parent)],
        capture_output=True,
        text=True,
        check=True,
        timeout=120,
    )
    grown_mib = int(done.stdout) / 1024
    assert grown_mib < 40, f"peak RSS grew by {grown_mib:.0f} MiB while hashing 256 MiB"
