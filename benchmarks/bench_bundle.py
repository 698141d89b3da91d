"""Bundle benchmark: `airgap bundle sign | verify` against one-thread SHA-256 of the same bytes.

    .venv/bin/python benchmarks/bench_bundle.py [--shape 1g:1 --shape 1g:4 ...] [--repeat 5]

Shapes are SIZE:FILES (`1g:1` is 1 GiB in one file, `1g:4` 1 GiB in four files of 256 MiB,
`small:2000` 2,000 small files). Data is random bytes, written once under
benchmarks/.work/bundle/ and read from the page cache (one uncounted warm-up pass per shape).

The floor is what hashing the bytes costs on one thread: a fresh interpreter reads every file in
1 MiB `readinto` calls and feeds `hashlib.sha256` (OpenSSL, SHA-NI where the CPU has it), one
file after the other. It runs just before every timed tool run (floor, sign, floor, verify,
...), and a ratio is the median over runs of the tool's wall time / that floor's in-loop time,
so load drifting on a shared machine moves both sides. Tools are timed as whole processes
(start-up, imports, key decryption, the model scan, hashing, signing), `--repeat` runs; CPU is
user + system time and peak RSS the child's own (`wait4`; it can never read below this
process's own peak, about 20 MB, which is why nothing heavy is imported or allocated here). The output is a Markdown section
ready for docs/benchmarks.md (also written to benchmarks/.work/bundle/RESULTS-draft.md).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import ssl
import statistics
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

WORK = Path(__file__).resolve().parent / ".work" / "bundle"
BIN = Path(sys.executable).parent
AIRGAP = [str(BIN / "airgap")]
"""The command under test (``--airgap``: e.g. a script running another checkout)."""
TARGET_RATIO = 0.9
TARGET_RSS_MB = 150.0

FLOOR = r"""
import hashlib, os, sys, time
paths = sys.argv[1:]
buf = memoryview(bytearray(1 << 20))
started = time.perf_counter()
for path in paths:
    h = hashlib.sha256()
    with open(path, "rb", buffering=0) as f:
        while n := f.readinto(buf):
            h.update(buf[:n])
    h.hexdigest()
print(time.perf_counter() - started)
"""


PLAIN_KEY = r"""
import os, sys
from pathlib import Path
from cryptography.hazmat.primitives import serialization
from airgap_cli.bundle import keys
folder = Path(sys.argv[1])
private = keys.load_private_key((folder / "k.key").read_bytes(), os.environ["COSIGN_PASSWORD"].encode())
(folder / "plain.pem").write_bytes(private.private_bytes(
    serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()))
"""


@dataclass(frozen=True)
class Shape:
    """A bundle layout: ``files`` files of ``size // files`` bytes, or many small files."""

    spec: str
    size: int
    files: int

    @property
    def label(self) -> str:
        if self.size == 0:
            return f"{self.files:,} small files"
        gib = self.size / 1024**3
        noun = "file" if self.files == 1 else "files"
        return f"{gib:g} GiB in {self.files} {noun}"

    @property
    def directory(self) -> Path:
        if self.size == 0:
            return WORK / f"small-{self.files}"
        return WORK / f"big-{self.size >> 20}m-{self.files}"


def parse_shape(spec: str) -> Shape:
    size_text, _, files_text = spec.partition(":")
    files = int(files_text or "1")
    if size_text == "small":
        return Shape(spec, 0, files)
    units = {"m": 1 << 20, "g": 1 << 30}
    size = int(float(size_text[:-1]) * units[size_text[-1].lower()])
    if files < 1 or size % files or (size // files) % (1 << 20):
        raise SystemExit(f"--shape {spec}: each file must be a whole number of MiB")
    return Shape(spec, size, files)


def make_data(shape: Shape) -> Path:
    """Write the shape's files once (random bytes); a finished tree is marked by `.done`."""
    directory = shape.directory
    done = directory.with_name(directory.name + ".done")
    if done.exists():
        return directory
    shutil.rmtree(directory, ignore_errors=True)
    directory.mkdir(parents=True)
    if shape.size == 0:
        for i in range(shape.files):
            sub = directory / f"shard-{i // 100:02d}"
            sub.mkdir(exist_ok=True)
            (sub / f"part-{i:05d}.bin").write_bytes(os.urandom(4096 + i))
    else:
        per_file = shape.size // shape.files
        # Small chunks keep this process's peak RSS low: a child's wait4 peak starts from it.
        chunk = min(per_file, 1 << 20)
        width = max(5, len(str(shape.files)))
        for i in range(shape.files):
            name = f"model-{i:0{width}d}-of-{shape.files:0{width}d}.safetensors"
            with open(directory / name, "wb") as handle:
                for _ in range(per_file // chunk):
                    handle.write(os.urandom(chunk))
    done.touch()
    return directory


def bundle_files(directory: Path) -> list[str]:
    return sorted(str(p) for p in directory.rglob("*") if p.is_file())


@dataclass
class Samples:
    """Wall and CPU seconds of each run, each run's floor, and the peak RSS (MB) over all."""

    wall: list[float] = field(default_factory=list)
    cpu: list[float] = field(default_factory=list)
    floor: list[float] = field(default_factory=list)
    """In-loop seconds of the floor run just before each run (the pair's denominator)."""
    rss: float = 0.0

    def add(self, sample: tuple[float, float, float, str], floor: float) -> None:
        wall, cpu, rss, _ = sample
        self.wall.append(wall)
        self.cpu.append(cpu)
        self.floor.append(floor)
        self.rss = max(self.rss, rss)

    @property
    def median(self) -> float:
        return statistics.median(self.wall)

    @property
    def ratio(self) -> float:
        """Median over runs of wall / the floor measured just before it (robust to load drift)."""
        return statistics.median(w / f for w, f in zip(self.wall, self.floor, strict=True))

    @property
    def spread(self) -> str:
        return f"{min(self.wall):.2f}-{max(self.wall):.2f}"

    def cell(self) -> str:
        return f"{self.median:.3f} ({self.spread}) | {statistics.median(self.cpu):.2f}"


def run(argv: list[str], env: dict[str, str]) -> None:
    """Run once, uncounted (warm-ups)."""
    proc = subprocess.run(argv, env=env, capture_output=True, check=False)
    if proc.returncode != 0:
        raise SystemExit(
            f"{' '.join(argv)} failed ({proc.returncode}): {proc.stderr.decode()[-2000:]}"
        )


def run_wait4(argv: list[str], env: dict[str, str]) -> tuple[float, float, float, str]:
    """Wall s, CPU s (user + system), the child's own peak RSS in MB (``os.wait4``), stdout."""
    started = time.perf_counter()
    proc = subprocess.Popen(argv, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    assert proc.stdout is not None and proc.stderr is not None
    # Outputs are tiny (a digest, a line of status): they fit in the pipe buffer.
    _, status, usage = os.wait4(proc.pid, 0)
    elapsed = time.perf_counter() - started
    out, err = proc.stdout.read().decode(), proc.stderr.read().decode()
    proc.stdout.close()
    proc.stderr.close()
    proc.returncode = os.waitstatus_to_exitcode(status)
    if proc.returncode != 0:
        raise SystemExit(f"{' '.join(argv)} failed ({proc.returncode}): {err[-2000:]}")
    return elapsed, usage.ru_utime + usage.ru_stime, usage.ru_maxrss / 1024, out


def ensure_keys(env: dict[str, str]) -> tuple[Path, Path, Path]:
    """An encrypted cosign-format key (what `keygen` writes), its plain PKCS#8 twin, the public key."""
    keys = WORK / "keys"
    keys.mkdir(parents=True, exist_ok=True)
    if not (keys / "k.key").exists():
        subprocess.run(
            [*AIRGAP, "bundle", "keygen", "--output", str(keys / "k")],
            check=True,
            env=env,
        )
    if not (keys / "plain.pem").exists():
        # In a child: importing cryptography here would grow this process, and a child's peak
        # RSS as wait4 reports it starts from its parent's (fork, then exec).
        subprocess.run([sys.executable, "-c", PLAIN_KEY, str(keys)], check=True, env=env)
    return keys / "k.key", keys / "plain.pem", keys / "k.pub"


def has_option(option: str) -> bool:
    out = subprocess.run(
        [*AIRGAP, "bundle", "sign", "--help"],
        capture_output=True,
        text=True,
        env=dict(os.environ, COLUMNS="200", NO_COLOR="1"),
    ).stdout
    return option in out


def machine() -> str:
    cpu = "?"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
        flags = Path("/proc/cpuinfo").read_text()
        sha_ni = " with SHA-NI" if " sha_ni" in flags else ""
    except OSError:
        sha_ni = ""
    try:
        mem_kb = int(Path("/proc/meminfo").read_text().split()[1])
        mem = f"{mem_kb / 1024**2:.1f} GB RAM"
    except (OSError, ValueError, IndexError):
        mem = "? RAM"
    return (
        f"{os.cpu_count()} CPUs ({cpu}{sha_ni}), {mem}, {platform.system()} "
        f"{platform.release()}, Python {platform.python_version()}, {ssl.OPENSSL_VERSION}"
    )


def loadavg() -> str:
    return " ".join(f"{x:.2f}" for x in os.getloadavg())


@dataclass
class Case:
    """One row: how to sign and verify a shape with one tool."""

    tool: str
    sign: list[str]
    verify: list[str] | None
    sign_samples: Samples = field(default_factory=Samples)
    verify_samples: Samples = field(default_factory=Samples)


def cases_for(
    shape: Shape,
    data: Path,
    keys: tuple[Path, Path, Path],
    *,
    model_signing: str | None,
    shard_size: str | None,
) -> list[Case]:
    encrypted, plain, public = keys
    cases: list[Case] = []

    def airgap_case(tool: str, key: Path, sig: Path, extra: list[str], verify: bool) -> Case:
        return Case(
            tool,
            [
                *AIRGAP,
                "bundle",
                "sign",
                str(data),
                "--key",
                str(key),
                "-o",
                str(sig),
                "--allow-unsafe-formats",
                *extra,
            ],
            [*AIRGAP, "bundle", "verify", str(data), "--key", str(public), "-s", str(sig), "-q"]
            if verify
            else None,
        )

    stem = WORK / data.name
    cases.append(
        airgap_case("airgap (cosign-encrypted key)", encrypted, Path(f"{stem}.ag.json"), [], True)
    )
    cases.append(
        airgap_case(
            "airgap, plain PEM key (as model-signing gets)",
            plain,
            Path(f"{stem}.ag-plain.json"),
            [],
            False,
        )
    )
    if shard_size and shape.size:
        cases.append(
            airgap_case(
                f"airgap --shard-size {shard_size} (cosign-encrypted key)",
                encrypted,
                Path(f"{stem}.ag-shards.json"),
                ["--shard-size", shard_size],
                True,
            )
        )
    if model_signing:
        msig = Path(f"{stem}.ms.sig")
        cases.append(
            Case(
                "model-signing 1.1.1 (files, plain PEM key)",
                [
                    model_signing,
                    "sign",
                    "key",
                    str(data),
                    "--private_key",
                    str(plain),
                    "--signature",
                    str(msig),
                ],
                [
                    model_signing,
                    "verify",
                    "key",
                    str(data),
                    "--public_key",
                    str(public),
                    "--signature",
                    str(msig),
                ],
            )
        )
    return cases


def bench_shape(
    shape: Shape,
    keys: tuple[Path, Path, Path],
    env: dict[str, str],
    *,
    repeat: int,
    model_signing: str | None,
    shard_size: str | None,
) -> tuple[Samples, list[Case]]:
    data = make_data(shape)
    files = bundle_files(data)
    floor_argv = [sys.executable, "-c", FLOOR, *files]
    run(floor_argv, env)  # warm the page cache
    floor = Samples()
    cases = cases_for(shape, data, keys, model_signing=model_signing, shard_size=shard_size)
    for case in cases:  # uncounted warm-up; also writes each signature its verify needs
        run(case.sign, env)

    def floor_run() -> float:
        sample = run_wait4(floor_argv, env)
        inner = float(sample[3].strip())
        floor.add(sample, inner)
        return inner

    # Each tool's runs are paired with a floor run just before them, so a load change on a shared
    # machine moves both sides of the ratio.
    for _ in range(repeat):
        for case in cases:
            case.sign_samples.add(run_wait4(case.sign, env), floor_run())
            if case.verify is not None:
                case.verify_samples.add(run_wait4(case.verify, env), floor_run())
    return floor, cases


def verdict(ratio: float, rss: float) -> str:
    ok = ratio <= TARGET_RATIO and rss < TARGET_RSS_MB
    return "met" if ok else "NOT met"


def report(results: list[tuple[Shape, Samples, list[Case]]], header: dict[str, str]) -> str:
    lines = [
        f"Machine: {header['machine']}; load average {header['load_start']} at start, "
        f"{header['load_end']} at end.",
        "",
        f"Command: `{header['command']}`",
        "",
        "| data | tool | sign s, median (min-max) | sign CPU s | verify s, median (min-max) "
        "| verify CPU s | sign / floor | verify / floor | peak RSS MB sign / verify |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    notes: list[str] = []
    for shape, floor, cases in results:
        base = statistics.median(floor.floor)
        lines.append(
            f"| {shape.label} | one-thread SHA-256 floor (hashlib, 1 MiB reads) "
            f"| {base:.3f} in-loop; process {floor.cell()} | | | 1.00x | 1.00x | {floor.rss:.0f} |"
        )
        for case in cases:
            s = case.sign_samples
            if case.verify is not None:
                v = case.verify_samples
                verify_cell, verify_ratio = v.cell(), f"{v.ratio:.2f}x"
                rss_cell = f"{s.rss:.0f} / {v.rss:.0f}"
            else:
                verify_cell, verify_ratio, rss_cell = "(same) | ", "", f"{s.rss:.0f}"
            lines.append(
                f"| {shape.label} | {case.tool} | {s.cell()} | {verify_cell} "
                f"| {s.ratio:.2f}x | {verify_ratio} | {rss_cell} |"
            )
            if case.tool.startswith("airgap") and shape.size:
                parts = [f"sign {s.ratio:.2f}x ({verdict(s.ratio, s.rss)})"]
                if case.verify is not None:
                    v = case.verify_samples
                    parts.append(f"verify {v.ratio:.2f}x ({verdict(v.ratio, v.rss)})")
                notes.append(f"- {shape.label}, {case.tool}: " + ", ".join(parts))
    lines += [
        "",
        f"Ratios: median over runs of the tool's wall time / the in-loop time of the floor run "
        f"just before it. Targets: <= {TARGET_RATIO}x, peak RSS < {TARGET_RSS_MB:.0f} MB.",
        *notes,
    ]
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--shape",
        action="append",
        help="SIZE:FILES, e.g. 1g:1, 1g:4, 2g:4, small:2000 (repeatable) "
        "[default: 1g:1, 1g:4, small:2000]",
    )
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--shard-size", default="128MiB", help="for the shard-mode rows")
    parser.add_argument("--skip-model-signing", action="store_true")
    parser.add_argument(
        "--airgap", help=f"the airgap command under test [default: {AIRGAP[0]}]", metavar="PATH"
    )
    parser.add_argument("--json", type=Path, help="also write the raw samples here")
    args = parser.parse_args()
    if args.airgap:
        AIRGAP[:] = [args.airgap]
    shapes = [parse_shape(s) for s in (args.shape or ["1g:1", "1g:4", "small:2000"])]
    # Tools run as installed tools do: Python may cache bytecode (this machine's environment sets
    # PYTHONDONTWRITEBYTECODE, which would add a compile of every module to every run).
    env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
    env["COSIGN_PASSWORD"] = "bench"
    keys = ensure_keys(env)
    model_signing = (
        None if args.skip_model_signing else shutil.which("model_signing", path=str(BIN))
    )
    shard_size = args.shard_size if has_option("--shard-size") else None
    header = {
        "machine": machine(),
        "load_start": loadavg(),
        "command": " ".join(["python", "benchmarks/bench_bundle.py", *sys.argv[1:]]),
    }
    results = []
    for shape in shapes:
        floor, cases = bench_shape(
            shape,
            keys,
            env,
            repeat=args.repeat,
            model_signing=model_signing,
            shard_size=shard_size,
        )
        results.append((shape, floor, cases))
        print(f"[{shape.label} done, load {loadavg()}]", file=sys.stderr)
    header["load_end"] = loadavg()
    text = report(results, header)
    print(text, end="")
    (WORK / "RESULTS-draft.md").write_text(text)
    if args.json:
        raw = {
            "header": header,
            "shapes": [
                {
                    "shape": shape.spec,
                    "floor_inner": floor.floor,
                    "floor_wall": floor.wall,
                    "cases": [
                        {
                            "tool": c.tool,
                            "sign": c.sign_samples.wall,
                            "sign_cpu": c.sign_samples.cpu,
                            "sign_floor": c.sign_samples.floor,
                            "sign_rss": c.sign_samples.rss,
                            "verify": c.verify_samples.wall,
                            "verify_cpu": c.verify_samples.cpu,
                            "verify_floor": c.verify_samples.floor,
                            "verify_rss": c.verify_samples.rss,
                        }
                        for c in cases
                    ],
                }
                for shape, floor, cases in results
            ],
        }
        args.json.write_text(json.dumps(raw, indent=2) + "\n")


if __name__ == "__main__":
    main()
