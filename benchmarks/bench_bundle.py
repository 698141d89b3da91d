"""Bundle benchmark: sign and verify 2 GiB in 4 files and 2,000 small files, side by side with
model-signing (same data, same key, offline), wall time and peak memory.

    .venv/bin/python benchmarks/bench_bundle.py [--gib 2] [--small 2000]

Data is written once under benchmarks/.work/bundle/ (random bytes, so no tool can shortcut).
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path

WORK = Path(__file__).resolve().parent / ".work" / "bundle"
BIN = Path(sys.executable).parent


def _make_data(gib: int, small: int) -> tuple[Path, Path]:
    big, many = WORK / f"big-{gib}g", WORK / f"small-{small}"
    if not big.exists():
        big.mkdir(parents=True)
        chunk = os.urandom(64 * 1024 * 1024)
        per_file = gib * 1024**3 // 4
        for i in range(4):
            with open(big / f"model-{i:05d}-of-00004.safetensors", "wb") as handle:
                for _ in range(per_file // len(chunk)):
                    handle.write(chunk)
    if not many.exists():
        many.mkdir(parents=True)
        for i in range(small):
            (many / f"shard-{i // 100:02d}").mkdir(exist_ok=True)
            (many / f"shard-{i // 100:02d}" / f"part-{i:05d}.bin").write_bytes(os.urandom(4096 + i))
    return big, many


def _timed(argv: list[str], env: dict[str, str], repeat: int = 3) -> tuple[float, float]:
    """Median wall seconds and peak RSS (MB) over ``repeat`` runs (os.wait4: the child's own peak)."""
    runs = [_once(argv, env) for _ in range(repeat)]
    return statistics.median(r[0] for r in runs), max(r[1] for r in runs)


def _once(argv: list[str], env: dict[str, str]) -> tuple[float, float]:
    started = time.perf_counter()
    proc = subprocess.Popen(argv, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    _, status, usage = os.wait4(proc.pid, 0)
    elapsed = time.perf_counter() - started
    if os.waitstatus_to_exitcode(status) != 0:
        raise SystemExit(f"{argv[0]} failed: {proc.stderr.read().decode() if proc.stderr else ''}")
    return elapsed, usage.ru_maxrss / 1024


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--gib", type=int, default=2)
    parser.add_argument("--small", type=int, default=2000)
    args = parser.parse_args()
    big, many = _make_data(args.gib, args.small)
    keys = WORK / "keys"
    keys.mkdir(exist_ok=True)
    env = dict(os.environ, COSIGN_PASSWORD="bench")
    if not (keys / "k.key").exists():
        subprocess.run(
            [str(BIN / "airgap"), "bundle", "keygen", "--output", str(keys / "k")],
            check=True,
            env=env,
        )
        from cryptography.hazmat.primitives import serialization

        from airgap_cli.bundle import keys as keymod

        private = keymod.load_private_key((keys / "k.key").read_bytes(), b"bench")
        (keys / "plain.pem").write_bytes(
            private.private_bytes(
                serialization.Encoding.PEM,
                serialization.PrivateFormat.PKCS8,
                serialization.NoEncryption(),
            )
        )
    print("| data | tool | sign s | verify s | peak MB |\n|---|---|---|---|---|")
    for label, data in ((f"{args.gib} GiB in 4 files", big), (f"{args.small} small files", many)):
        sig = WORK / f"{data.name}.airgap.sigstore.json"
        s, m1 = _timed(
            [
                str(BIN / "airgap"),
                "bundle",
                "sign",
                str(data),
                "--key",
                str(keys / "k.key"),
                "-o",
                str(sig),
                "--allow-unsafe-formats",
            ],
            env,
        )
        v, m2 = _timed(
            [
                str(BIN / "airgap"),
                "bundle",
                "verify",
                str(data),
                "--key",
                str(keys / "k.pub"),
                "-s",
                str(sig),
                "-q",
            ],
            env,
        )
        print(f"| {label} | airgap | {s:.2f} | {v:.2f} | {max(m1, m2):.0f} |")
        # The same unencrypted PKCS#8 key model-signing is given: no scrypt in the timing.
        plain_sig = WORK / f"{data.name}.airgap-plain.sigstore.json"
        s, m1 = _timed(
            [
                str(BIN / "airgap"),
                "bundle",
                "sign",
                str(data),
                "--key",
                str(keys / "plain.pem"),
                "-o",
                str(plain_sig),
                "--allow-unsafe-formats",
            ],
            env,
        )
        print(f"| {label} | airgap, plain PEM key | {s:.2f} | (same) | {m1:.0f} |")
        ms = shutil.which("model_signing", path=str(BIN))
        if ms:
            msig = WORK / f"{data.name}.ms.sig"
            s, m1 = _timed(
                [
                    ms,
                    "sign",
                    "key",
                    str(data),
                    "--private_key",
                    str(keys / "plain.pem"),
                    "--signature",
                    str(msig),
                ],
                env,
            )
            v, m2 = _timed(
                [
                    ms,
                    "verify",
                    "key",
                    str(data),
                    "--public_key",
                    str(keys / "k.pub"),
                    "--signature",
                    str(msig),
                ],
                env,
            )
            print(f"| {label} | model-signing | {s:.2f} | {v:.2f} | {max(m1, m2):.0f} |")


if __name__ == "__main__":
    main()
