"""MLBOM: fields from the front matter, config and headers; validity; licence chain; hostile input."""

from __future__ import annotations

import hashlib
import json
import struct
from pathlib import Path
from typing import Any

import pytest
from cyclonedx.schema import SchemaVersion
from cyclonedx.validation.json import JsonStrictValidator

from airgap_cli.bundle import mlbom
from airgap_cli.bundle.digest import BundleError
from airgap_cli.bundle.mlbom import build_mlbom

README = """\
---
license: apache-2.0
base_model: meta-llama/Meta-Llama-3-8B
datasets:
  - tatsu-lab/alpaca
  - openai/gsm8k
pipeline_tag: text-generation
library_name: peft
---
# Tiny adapter

Fine-tuned for tests.

## Limitations

It hallucinates facts.
It was trained on little data.

## Usage

Never.
"""


def safetensors_bytes() -> bytes:
    """A valid two-tensor safetensors file (6 F32 parameters), written by hand."""
    header = {
        "a": {"dtype": "F32", "shape": [2, 2], "data_offsets": [0, 16]},
        "b": {"dtype": "F32", "shape": [2], "data_offsets": [16, 24]},
        "__metadata__": {"format": "pt"},
    }
    raw = json.dumps(header).encode()
    raw += b" " * (-len(raw) % 8)
    return struct.pack("<Q", len(raw)) + raw + b"\x00" * 24


def write_model(root: Path, *, readme: str | None = README) -> Path:
    """A realistic LoRA bundle: card, config, tokenizer, adapter config and weights."""
    root.mkdir(parents=True, exist_ok=True)
    if readme is not None:
        (root / "README.md").write_text(readme)
    (root / "config.json").write_text(
        json.dumps(
            {
                "model_type": "llama",
                "architectures": ["LlamaForCausalLM"],
                "max_position_embeddings": 8192,
            }
        )
    )
    (root / "tokenizer_config.json").write_text(
        json.dumps({"tokenizer_class": "PreTrainedTokenizerFast", "chat_template": "{{ m }}"})
    )
    (root / "adapter_config.json").write_text(
        json.dumps(
            {
                "base_model_name_or_path": "meta-llama/Meta-Llama-3-8B",
                "peft_type": "LORA",
                "r": 8,
                "lora_alpha": 16,
                "target_modules": ["v_proj", "q_proj"],
            }
        )
    )
    (root / "adapter_model.safetensors").write_bytes(safetensors_bytes())
    return root


def props(component: dict[str, Any]) -> dict[str, str]:
    return {p["name"]: p["value"] for p in component.get("properties", [])}


def components(bom: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {c["bom-ref"]: c for c in bom["components"]}


@pytest.fixture
def model_dir(tmp_path: Path) -> Path:
    return write_model(tmp_path / "tiny-lora")


@pytest.fixture
def built(model_dir: Path) -> tuple[dict[str, Any], list[Any], str]:
    text, findings = build_mlbom(model_dir)
    return json.loads(text), findings, text


def test_output_validates_with_the_library(built: tuple[dict[str, Any], list[Any], str]) -> None:
    bom, _, text = built
    assert JsonStrictValidator(SchemaVersion.V1_6).validate_str(text) is None
    assert bom["specVersion"] == "1.6"
    assert bom["bomFormat"] == "CycloneDX"
    assert "timestamp" not in bom["metadata"]


def test_spec_17_validates_and_unknown_version_is_refused(model_dir: Path) -> None:
    text, _ = build_mlbom(model_dir, spec_version="1.7")
    assert json.loads(text)["specVersion"] == "1.7"
    assert JsonStrictValidator(SchemaVersion.V1_7).validate_str(text) is None
    with pytest.raises(BundleError, match="unsupported CycloneDX spec version"):
        build_mlbom(model_dir, spec_version="1.4")


def test_model_component_and_model_card(built: tuple[dict[str, Any], list[Any], str]) -> None:
    model = built[0]["metadata"]["component"]
    assert model["type"] == "machine-learning-model"
    assert model["name"] == "tiny-lora"
    params = model["modelCard"]["modelParameters"]
    assert params["task"] == "text-generation"
    assert params["architectureFamily"] == "llama"
    assert params["modelArchitecture"] == "LlamaForCausalLM"
    limits = model["modelCard"]["considerations"]["technicalLimitations"]
    assert limits == ["It hallucinates facts. It was trained on little data."]
    assert model["licenses"] == [{"license": {"id": "Apache-2.0"}}]
    facts = props(model)
    assert facts["airgap:parameters"] == "6"
    assert facts["airgap:format"] == "safetensors"
    assert facts["airgap:context_length"] == "8192"
    assert facts["airgap:library_name"] == "peft"


def test_every_file_with_its_sha256(
    model_dir: Path, built: tuple[dict[str, Any], list[Any], str]
) -> None:
    files = {c["name"]: c for c in built[0]["components"] if c["type"] == "file"}
    on_disk = sorted(p.name for p in model_dir.iterdir())
    assert sorted(files) == on_disk
    for name, component in files.items():
        expected = hashlib.sha256((model_dir / name).read_bytes()).hexdigest()
        assert component["hashes"] == [{"alg": "SHA-256", "content": expected}]
    weights = props(files["adapter_model.safetensors"])
    assert weights["airgap:format"] == "safetensors"
    assert weights["airgap:parameters"] == "6"


def test_datasets_are_data_components_referenced_from_the_card(
    built: tuple[dict[str, Any], list[Any], str],
) -> None:
    bom = built[0]
    by_ref = components(bom)
    refs = bom["metadata"]["component"]["modelCard"]["modelParameters"]["datasets"]
    assert refs == [{"ref": "dataset:openai/gsm8k"}, {"ref": "dataset:tatsu-lab/alpaca"}]
    for ref in refs:
        dataset = by_ref[ref["ref"]]
        assert dataset["type"] == "data"
        assert dataset["data"][0]["type"] == "dataset"


def test_base_model_pedigree_adapter_tokenizer_config(
    built: tuple[dict[str, Any], list[Any], str],
) -> None:
    bom = built[0]
    (ancestor,) = bom["metadata"]["component"]["pedigree"]["ancestors"]
    assert ancestor["name"] == "meta-llama/Meta-Llama-3-8B"
    assert ancestor["purl"] == "pkg:huggingface/meta-llama/Meta-Llama-3-8B"
    assert ancestor["licenses"] == [{"license": {"name": "llama3"}}]
    by_ref = components(bom)
    adapter = by_ref["adapter:adapter_config.json"]
    assert adapter["type"] == "machine-learning-model"
    assert props(adapter)["airgap:peft_type"] == "LORA"
    assert props(adapter)["airgap:lora_r"] == "8"
    assert props(adapter)["airgap:target_modules"] == "q_proj, v_proj"
    assert adapter["pedigree"]["ancestors"][0]["name"] == "meta-llama/Meta-Llama-3-8B"
    assert props(by_ref["tokenizer"])["airgap:tokenizer_class"] == "PreTrainedTokenizerFast"
    assert props(by_ref["config"])["airgap:model_type"] == "llama"
    deps = {d["ref"]: d.get("dependsOn", []) for d in bom["dependencies"]}
    assert "file:adapter_model.safetensors" in deps["adapter:adapter_config.json"]
    assert {"config", "tokenizer", "adapter:adapter_config.json"} <= set(deps["model"])


def test_license_conflict_finding(built: tuple[dict[str, Any], list[Any], str]) -> None:
    findings = built[1]
    assert [f.rule_id for f in findings] == ["mlbom-license-conflict"]
    finding = findings[0]
    assert finding.severity.value == "medium"
    assert "llama3" in finding.message
    assert "apache-2.0" in finding.message


def test_matching_or_other_license_gives_no_conflict(tmp_path: Path) -> None:
    readme = README.replace("license: apache-2.0", "license: other\nlicense_name: llama3")
    text, findings = build_mlbom(write_model(tmp_path / "m", readme=readme))
    assert findings == []
    model = json.loads(text)["metadata"]["component"]
    assert model["licenses"] == [{"license": {"name": "llama3"}}]


def test_permissive_base_and_caller_table(tmp_path: Path) -> None:
    readme = README.replace("meta-llama/Meta-Llama-3-8B", "acme/base-7b")
    root = write_model(tmp_path / "m", readme=readme)
    (root / "adapter_config.json").write_text('{"base_model_name_or_path": "acme/base-7b"}')
    assert build_mlbom(root)[1] == []
    _, findings = build_mlbom(root, known_licenses={"acme/base-7b": "gemma"})
    assert [f.rule_id for f in findings] == ["mlbom-license-conflict"]
    _, findings = build_mlbom(root, known_licenses={"acme/base-7b": "mit"})
    assert findings == []


def test_deterministic_bytes(model_dir: Path) -> None:
    first, _ = build_mlbom(model_dir)
    second, _ = build_mlbom(model_dir)
    assert first == second
    serial = json.loads(first)["serialNumber"]
    (model_dir / "config.json").write_text('{"model_type": "mistral"}')
    assert json.loads(build_mlbom(model_dir)[0])["serialNumber"] != serial


def test_no_readme_still_valid(tmp_path: Path) -> None:
    root = write_model(tmp_path / "bare", readme=None)
    text, findings = build_mlbom(root)
    assert JsonStrictValidator(SchemaVersion.V1_6).validate_str(text) is None
    bom = json.loads(text)
    model = bom["metadata"]["component"]
    assert "licenses" not in model
    assert "task" not in model["modelCard"]["modelParameters"]
    assert not any(c["bom-ref"].startswith("dataset:") for c in bom["components"])
    # the adapter's base is still llama3, but no licence is declared: nothing to compare
    assert findings == []


def test_single_weight_file_folder(tmp_path: Path) -> None:
    root = tmp_path / "w"
    root.mkdir()
    (root / "model.safetensors").write_bytes(safetensors_bytes())
    text, findings = build_mlbom(root)
    bom = json.loads(text)
    assert "modelCard" not in bom["metadata"]["component"]
    assert [c["name"] for c in bom["components"]] == ["model.safetensors"]
    assert findings == []


def test_alias_bomb_front_matter_is_skipped_with_a_finding(tmp_path: Path) -> None:
    lines = ["---", 'a: &a ["x","x","x","x","x","x","x","x","x","x"]']
    prev = "a"
    for level in "bcdefghi":
        lines.append(f"{level}: &{level} [{', '.join(['*' + prev] * 10)}]")
        prev = level
    lines += ["license: apache-2.0", "---", "# card"]
    root = write_model(tmp_path / "bomb", readme="\n".join(lines) + "\n")
    text, findings = build_mlbom(root)
    assert JsonStrictValidator(SchemaVersion.V1_6).validate_str(text) is None
    assert [f.rule_id for f in findings] == ["mlbom-metadata-unreadable"]
    assert "alias bomb" in findings[0].message
    assert "licenses" not in json.loads(text)["metadata"]["component"]


def test_huge_and_broken_metadata_are_skipped(tmp_path: Path) -> None:
    huge = "---\n" + "k: " + "x" * (mlbom.MAX_FRONT_MATTER_CHARS + 10) + "\n---\n"
    root = write_model(tmp_path / "huge", readme=huge)
    (root / "config.json").write_text("[1, 2")
    (root / "tokenizer_config.json").write_text("[1, 2]")
    text, findings = build_mlbom(root)
    assert json.loads(text)["metadata"]["component"]["type"] == "machine-learning-model"
    messages = sorted(f.message for f in findings)
    assert len(messages) == 3
    assert any("README.md" in m and "front matter is larger" in m for m in messages)
    assert any("config.json" in m and "invalid JSON" in m for m in messages)
    assert any("tokenizer_config.json" in m and "not a JSON object" in m for m in messages)


def test_invalid_document_is_never_returned(
    model_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    real = mlbom._assemble

    def broken(*args: Any, **kwargs: Any) -> dict[str, Any]:
        bom = real(*args, **kwargs)
        bom["metadata"]["component"]["modelCard"]["modelParameters"]["approach"] = {"type": "vibes"}
        return bom

    monkeypatch.setattr(mlbom, "_assemble", broken)
    with pytest.raises(BundleError, match=r"not valid CycloneDX 1\.6"):
        build_mlbom(model_dir)


def test_symlink_in_bundle_is_refused(model_dir: Path) -> None:
    (model_dir / "link").symlink_to("/etc/passwd")
    with pytest.raises(BundleError):
        build_mlbom(model_dir)
