"""The newcomer's flow: keygen, sign a model folder, verify it across the gap, tamper, refuse."""

from __future__ import annotations

import json
import os
import pickletools
from collections.abc import Callable
from pathlib import Path

import pytest

Cli = Callable[..., object]


@pytest.fixture
def model(tmp_path: Path) -> Path:
    folder = tmp_path / "llama-mini"
    (folder / "tokenizer").mkdir(parents=True)
    (folder / "config.json").write_text('{"architectures": ["LlamaForCausalLM"]}')
    (folder / "tokenizer" / "tokenizer.json").write_text('{"version": "1.0"}')
    header = json.dumps({"w": {"dtype": "F32", "shape": [2, 2], "data_offsets": [0, 16]}}).encode()
    (folder / "model.safetensors").write_bytes(
        len(header).to_bytes(8, "little") + header + bytes(16)
    )
    return folder


def test_keygen_sign_verify_tamper(
    cli: Cli, model: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("COSIGN_PASSWORD", "correct horse")
    prefix = tmp_path / "keys" / "release"
    prefix.parent.mkdir()
    assert cli("bundle", "keygen", "--output", str(prefix)).exit_code == 0  # type: ignore[attr-defined]
    key, pub = Path(f"{prefix}.key"), Path(f"{prefix}.pub")
    assert oct(key.stat().st_mode & 0o777) == "0o600"
    assert b"ENCRYPTED SIGSTORE PRIVATE KEY" in key.read_bytes()

    assert cli("bundle", "sign", str(model), "--key", str(key)).exit_code == 0  # type: ignore[attr-defined]
    signature = Path(f"{model}.sigstore.json")
    assert signature.exists() and not (model / signature.name).exists()

    ok = cli("bundle", "verify", str(model), "--key", str(pub))
    assert ok.exit_code == 0, ok.stdout  # type: ignore[attr-defined]
    assert "3 files verified" in ok.stderr  # type: ignore[attr-defined]

    weights = model / "model.safetensors"
    data = bytearray(weights.read_bytes())
    data[-1] ^= 1
    weights.write_bytes(bytes(data))
    refused = cli("bundle", "verify", str(model), "--key", str(pub), "-f", "json")
    assert refused.exit_code == 1  # type: ignore[attr-defined]
    findings = json.loads(refused.stdout)["findings"]  # type: ignore[attr-defined]
    assert [(f["rule_id"], f["location"]["resource"]) for f in findings] == [
        ("bundle-file-modified", "model.safetensors")
    ]


def test_wrong_password_and_missing_signature_are_exit_2(
    cli: Cli, model: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("COSIGN_PASSWORD", "right")
    prefix = tmp_path / "k"
    cli("bundle", "keygen", "--output", str(prefix))
    monkeypatch.setenv("COSIGN_PASSWORD", "wrong")
    bad = cli("bundle", "sign", str(model), "--key", f"{prefix}.key")
    assert bad.exit_code == 2 and "wrong password" in bad.stderr  # type: ignore[attr-defined]
    missing = cli("bundle", "verify", str(model), "--key", f"{prefix}.pub")
    assert missing.exit_code == 2 and "signature file not found" in missing.stderr  # type: ignore[attr-defined]


def test_sign_refuses_a_pickle_that_runs_code(
    cli: Cli, model: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("COSIGN_PASSWORD", "pw")
    prefix = tmp_path / "k"
    cli("bundle", "keygen", "--output", str(prefix))
    # Written opcode by opcode; never loaded: GLOBAL os.system, ("echo",), REDUCE.
    evil = b"\x80\x02cos\nsystem\nX\x04\x00\x00\x00echo\x85R."
    assert any(op.name == "REDUCE" for op, _, _ in pickletools.genops(evil))
    (model / "pytorch_model.bin").write_bytes(evil)
    refused = cli("bundle", "sign", str(model), "--key", f"{prefix}.key")
    assert refused.exit_code == 1  # type: ignore[attr-defined]
    assert "os.system" in refused.stderr  # type: ignore[attr-defined]
    assert not Path(f"{model}.sigstore.json").exists()
    forced = cli("bundle", "sign", str(model), "--key", f"{prefix}.key", "--allow-unsafe-formats")
    assert forced.exit_code == 0  # type: ignore[attr-defined]
    scan = cli("bundle", "scan", str(model), "-f", "json")
    assert scan.exit_code == 1  # type: ignore[attr-defined]
    rules = {f["rule_id"] for f in json.loads(scan.stdout)["findings"]}  # type: ignore[attr-defined]
    assert "model-pickle-code-execution" in rules
    assert os.path.exists(f"{model}.sigstore.json")


def test_sign_in_shards_then_verify_names_the_changed_file(
    cli: Cli, model: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("COSIGN_PASSWORD", "pw")
    prefix = tmp_path / "k"
    cli("bundle", "keygen", "--output", str(prefix))
    signed = cli("bundle", "sign", str(model), "--key", f"{prefix}.key", "--shard-size", "16")
    assert signed.exit_code == 0, signed.stderr  # type: ignore[attr-defined]
    ok = cli("bundle", "verify", str(model), "--key", f"{prefix}.pub")
    assert ok.exit_code == 0 and "3 files verified" in ok.stderr  # type: ignore[attr-defined]
    weights = model / "model.safetensors"
    data = bytearray(weights.read_bytes())
    data[-1] ^= 1
    weights.write_bytes(bytes(data))
    refused = cli("bundle", "verify", str(model), "--key", f"{prefix}.pub", "-f", "json")
    assert refused.exit_code == 1  # type: ignore[attr-defined]
    findings = json.loads(refused.stdout)["findings"]  # type: ignore[attr-defined]
    assert [(f["rule_id"], f["location"]["resource"]) for f in findings] == [
        ("bundle-file-modified", "model.safetensors")
    ]


@pytest.mark.parametrize("size", ["0", "12M", "lots"])
def test_a_bad_shard_size_is_a_usage_error(
    cli: Cli, model: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, size: str
) -> None:
    monkeypatch.setenv("COSIGN_PASSWORD", "pw")
    prefix = tmp_path / "k"
    cli("bundle", "keygen", "--output", str(prefix))
    bad = cli("bundle", "sign", str(model), "--key", f"{prefix}.key", "--shard-size", size)
    assert bad.exit_code == 2 and "--shard-size" in bad.stderr  # type: ignore[attr-defined]
    blob = cli(
        "bundle",
        "sign",
        str(model / "config.json"),
        "--key",
        f"{prefix}.key",
        "--shard-size",
        "1MiB",
    )
    assert blob.exit_code == 2 and "directories" in blob.stderr  # type: ignore[attr-defined]
    assert not Path(f"{model}.sigstore.json").exists()


def test_mlbom_is_valid_cyclonedx_with_every_file(cli: Cli, model: Path, tmp_path: Path) -> None:
    out = tmp_path / "mlbom.json"
    result = cli("bundle", "mlbom", str(model), "--output", str(out))
    assert result.exit_code == 0  # type: ignore[attr-defined]
    bom = json.loads(out.read_text())
    assert bom["bomFormat"] == "CycloneDX" and bom["specVersion"] == "1.6"
    model_component = bom["metadata"]["component"]  # the model is the subject of the BOM
    assert model_component["type"] == "machine-learning-model"
    assert (
        model_component["modelCard"]["modelParameters"]["modelArchitecture"] == "LlamaForCausalLM"
    )
    hashed = {c["name"] for c in bom["components"] if c["type"] == "file"}
    assert {"config.json", "model.safetensors", "tokenizer/tokenizer.json"} <= hashed
    assert cli("bundle", "mlbom", str(model), "--spec-version", "2.0").exit_code == 2  # type: ignore[attr-defined]


def test_check_verifies_the_bundles_airgap_yaml_pins(
    cli: Cli, model: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("COSIGN_PASSWORD", "pw")
    repo = model.parent
    cli("bundle", "keygen", "--output", str(repo / "release"))
    assert cli("bundle", "sign", str(model), "--key", str(repo / "release.key")).exit_code == 0  # type: ignore[attr-defined]
    (repo / "airgap.yaml").write_text(
        f"bundle:\n  verify:\n    - path: {model.name}\n      key: release.pub\n"
        "lint:\n  exclude: ['*.json', '*.safetensors']\n"
    )
    assert cli("check", str(repo)).exit_code == 0  # type: ignore[attr-defined]
    (model / "config.json").write_text('{"architectures": ["Tampered"]}')
    result = cli("check", str(repo), "-f", "json")
    assert result.exit_code == 1  # type: ignore[attr-defined]
    rules = {f["rule_id"] for f in json.loads(result.stdout)["findings"]}  # type: ignore[attr-defined]
    assert rules == {"bundle-file-modified"}


def test_signed_mlbom_is_bound_to_the_folder(
    cli: Cli, model: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("COSIGN_PASSWORD", "pw")
    prefix = tmp_path / "k"
    cli("bundle", "keygen", "--output", str(prefix))
    out = tmp_path / "mlbom.json"
    made = cli("bundle", "mlbom", str(model), "-o", str(out), "--sign", "--key", f"{prefix}.key")
    assert made.exit_code == 0  # type: ignore[attr-defined]
    attestation = Path(f"{out}.sigstore.json")
    ok = cli(
        "bundle", "verify", str(model), "--key", f"{prefix}.pub", "--signature", str(attestation)
    )
    assert ok.exit_code == 0  # type: ignore[attr-defined]
    other = tmp_path / "other"
    cli("bundle", "keygen", "--output", str(other))
    wrong = cli(
        "bundle",
        "verify",
        str(model),
        "--key",
        f"{other}.pub",
        "--signature",
        str(attestation),
        "-f",
        "json",
    )
    assert wrong.exit_code == 1  # type: ignore[attr-defined]
    assert json.loads(wrong.stdout)["findings"][0]["rule_id"] == "bundle-signature-invalid"  # type: ignore[attr-defined]
    (model / "config.json").write_text("{}")
    moved = cli(
        "bundle",
        "verify",
        str(model),
        "--key",
        f"{prefix}.pub",
        "--signature",
        str(attestation),
        "-f",
        "json",
    )
    assert moved.exit_code == 1  # type: ignore[attr-defined]
    assert json.loads(moved.stdout)["findings"][0]["rule_id"] == "bundle-signature-mismatch"  # type: ignore[attr-defined]
    assert cli("bundle", "mlbom", str(model), "--sign").exit_code == 2  # type: ignore[attr-defined]


def test_check_finds_signed_bundles_and_verifies_them_with_the_pinned_keys(
    cli: Cli, model: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("COSIGN_PASSWORD", "pw")
    repo = model.parent
    cli("bundle", "keygen", "--output", str(repo / "release"))
    cli("bundle", "keygen", "--output", str(repo / "other"))
    assert cli("bundle", "sign", str(model), "--key", str(repo / "release.key")).exit_code == 0  # type: ignore[attr-defined]
    config = repo / "airgap.yaml"
    config.write_text("lint:\n  exclude: ['*.json']\n")
    report = json.loads(cli("check", str(repo), "-f", "json").stdout)  # type: ignore[attr-defined]
    assert [s["path"] for s in report["skipped"]] == [str(model)]  # found, but no key to check it
    config.write_text("bundle:\n  keys: [other.pub, release.pub]\nlint:\n  exclude: ['*.json']\n")
    assert cli("check", str(repo)).exit_code == 0  # type: ignore[attr-defined]
    (model / "tokenizer" / "tokenizer.json").write_text('{"version": "2.0"}')
    result = cli("check", str(repo), "-f", "json")
    assert result.exit_code == 1  # type: ignore[attr-defined]
    rules = {f["rule_id"] for f in json.loads(result.stdout)["findings"]}  # type: ignore[attr-defined]
    assert "bundle-file-modified" in rules


def test_check_scans_model_files_without_loading_them(cli: Cli, tmp_path: Path) -> None:
    repo = tmp_path / "repo"
    repo.mkdir()
    (repo / "classifier.pkl").write_bytes(b"cos\nsystem\n(S'id'\ntR.")  # os.system('id'), never run
    result = cli("check", str(repo), "-f", "json")
    assert result.exit_code == 1  # type: ignore[attr-defined]
    findings = json.loads(result.stdout)["findings"]  # type: ignore[attr-defined]
    assert [(f["severity"], f["location"]["path"]) for f in findings] == [
        ("critical", str(repo / "classifier.pkl"))
    ]
