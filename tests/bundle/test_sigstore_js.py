"""Interop: our bundles verify with Sigstore's JavaScript verifier (@sigstore/verify), offline.

The npm package is installed by the test into a cache directory beside the virtualenv (from the
npm registry; no other network). Skipped only where node or npm are absent.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path

import pytest

from airgap_cli.bundle import keys, sign

SCRIPT = Path(__file__).parent / "js" / "verify_bundle.js"
PEER = Path(__file__).resolve().parents[2] / ".venv" / "node-peers"
pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(
        shutil.which("node") is None or shutil.which("npm") is None, reason="node/npm missing"
    ),
]


@pytest.fixture(scope="module")
def node_modules() -> Path:
    if not (PEER / "node_modules" / "@sigstore" / "verify").exists():
        PEER.mkdir(parents=True, exist_ok=True)
        subprocess.run(
            [
                "npm",
                "install",
                "--silent",
                "--no-audit",
                "--no-fund",
                "--prefix",
                str(PEER),
                "@sigstore/verify@4.1.3",
            ],
            check=True,
            capture_output=True,
            timeout=300,
        )
    return PEER / "node_modules"


def _verify(
    node_modules: Path,
    bundle: dict[str, object],
    public: Path,
    tmp: Path,
    artifact: Path | None = None,
) -> str:
    path = tmp / "bundle.json"
    path.write_text(json.dumps(bundle))
    argv = ["node", str(SCRIPT), str(path), str(public)] + ([str(artifact)] if artifact else [])
    done = subprocess.run(
        argv,
        capture_output=True,
        text=True,
        env={**os.environ, "NODE_PATH": str(node_modules)},
        timeout=60,
    )
    return done.stdout.strip()


def test_message_and_dsse_bundles_verify_with_sigstore_js(
    node_modules: Path, tmp_path: Path
) -> None:
    key = keys.generate()
    public = tmp_path / "key.pub"
    public.write_bytes(keys.public_pem(key))
    blob = tmp_path / "release.tar.gz"
    blob.write_bytes(b"release bytes" * 1000)
    assert _verify(node_modules, sign.sign_blob(blob, key), public, tmp_path, blob) == "OK"
    folder = tmp_path / "model"
    folder.mkdir()
    (folder / "config.json").write_text("{}")
    (folder / "weights.bin").write_bytes(b"\x00" * 4096)
    assert _verify(node_modules, sign.sign_directory(folder, key), public, tmp_path) == "OK"
    sharded = sign.sign_directory(folder, key, shard_size=1024)
    assert _verify(node_modules, sharded, public, tmp_path) == "OK"


def test_sigstore_js_refuses_tampering_and_the_wrong_key(
    node_modules: Path, tmp_path: Path
) -> None:
    key, other = keys.generate(), keys.generate()
    public, wrong = tmp_path / "key.pub", tmp_path / "other.pub"
    public.write_bytes(keys.public_pem(key))
    wrong.write_bytes(keys.public_pem(other))
    blob = tmp_path / "model.gguf"
    blob.write_bytes(b"GGUF" + bytes(1000))
    bundle = sign.sign_blob(blob, key)
    assert _verify(node_modules, bundle, wrong, tmp_path, blob).startswith("FAIL")
    blob.write_bytes(b"GGUF" + bytes(999) + b"\x01")
    assert _verify(node_modules, bundle, public, tmp_path, blob).startswith("FAIL")
