"""Model-file scanning: formats, header facts, a malicious/benign pickle corpus, hostile headers.

Every malicious pickle here is written opcode by opcode and is never loaded: the only pickle
functions used are ``pickle.dumps`` (writes) and ``pickletools.dis`` (disassembles, never
executes). picklescan, a test-only dependency, is the reference the scanner must match.
"""

from __future__ import annotations

import ast
import collections
import io
import json
import os
import pickle
import pickletools
import struct
import time
import tracemalloc
import zipfile
from collections.abc import Callable
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from airgap_cli.bundle import modelscan
from airgap_cli.bundle.modelscan import (
    CODE_EXECUTION,
    PICKLE_FORMAT,
    UNKNOWN_GLOBAL,
    UNPARSEABLE,
    FileInfo,
    classify_file,
    judge_global,
    scan_facts,
    scan_paths,
)
from airgap_cli.core.findings import Severity

# --------------------------------------------------------------------------------------------
# Opcode writers (protocol bytes by hand, so nothing is ever pickled from live objects).


def proto(n: int) -> bytes:
    return b"\x80" + bytes([n])


def glob(module: str, name: str) -> bytes:
    return b"c" + f"{module}\n{name}\n".encode()


def sbu(text: str) -> bytes:
    raw = text.encode()
    return b"\x8c" + bytes([len(raw)]) + raw


def binu(text: str) -> bytes:
    raw = text.encode()
    return b"X" + struct.pack("<I", len(raw)) + raw


def frame(body: bytes) -> bytes:
    return b"\x95" + struct.pack("<Q", len(body)) + body


def binput(i: int) -> bytes:
    return b"q" + bytes([i])


def binget(i: int) -> bytes:
    return b"h" + bytes([i])


MEMOIZE, STACK_GLOBAL, TUPLE1, REDUCE, STOP, MARK = b"\x94", b"\x93", b"\x85", b"R", b".", b"("


def call(module: str, name: str, arg: str = "id", protocol: int = 2) -> bytes:
    """``module.name(arg)`` with GLOBAL + REDUCE."""
    return proto(protocol) + glob(module, name) + binu(arg) + TUPLE1 + REDUCE + STOP


def stack_global_call(module: str, name: str, protocol: int = 4) -> bytes:
    """``module.name('id')`` resolved through the memo between decoys, as pickle 4 writes it."""
    body = (
        sbu(module)
        + MEMOIZE  # memo 0
        + sbu("decoy")
        + MEMOIZE  # memo 1
        + sbu(name)
        + MEMOIZE  # memo 2
        + b"0"  # POP the name
        + b"0"  # POP the decoy
        + b"0"  # POP the module
        + binget(0)
        + binget(2)
        + STACK_GLOBAL
        + MEMOIZE
        + sbu("id")
        + TUPLE1
        + REDUCE
        + STOP
    )
    return proto(protocol) + frame(body)


def torch_data_pkl(extra: bytes = b"") -> bytes:
    """A torch ``data.pkl``: OrderedDict of a tensor and a Parameter rebuilt from storage 0."""

    def tensor(key: str) -> bytes:
        storage = (
            MARK + binu("storage") + glob("torch", "FloatStorage") + binu(key) + binu("cpu")
        ) + b"K\x06t"  # BININT1 6, TUPLE
        return (
            glob("torch._utils", "_rebuild_tensor_v2")
            + MARK
            + storage
            + b"Q"  # BINPERSID
            + b"K\x00"  # storage offset
            + b"K\x02K\x03\x86"  # size (2, 3)
            + b"K\x03K\x01\x86"  # stride (3, 1)
            + b"\x89"  # requires_grad False
            + glob("collections", "OrderedDict")
            + b")R"  # backward hooks
            + b"tR"
        )

    return (
        proto(2)
        + glob("collections", "OrderedDict")
        + binput(0)
        + b")R"
        + binput(1)
        + MARK
        + binu("layer.weight")
        + tensor("0")
        + binu("layer.bias")
        + glob("torch._utils", "_rebuild_parameter")
        + MARK
        + tensor("1")
        + b"\x88"  # requires_grad True
        + glob("collections", "OrderedDict")
        + b")R"
        + b"tR"
        + extra
        + b"u"  # SETITEMS
        + STOP
    )


def torch_zip(pkl: bytes, root: str = "archive") -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        zf.writestr(f"{root}/data.pkl", pkl)
        zf.writestr(f"{root}/byteorder", "little")
        # raw storage that happens to begin like a pickle: must not be mistaken for one
        zf.writestr(f"{root}/data/0", b"\x80\x02" + bytes(22))
        zf.writestr(f"{root}/data/1", bytes(24))
        zf.writestr(f"{root}/version", "3\n")
    return buf.getvalue()


def torch_legacy(main: bytes) -> bytes:
    """The pre-1.6 torch layout: magic, protocol, sys_info, main pickle, storage keys, raw data."""
    sys_info = {"protocol_version": 1001, "little_endian": True, "type_sizes": {"int": 4}}
    return (
        pickle.dumps(0x1950A86A20F9469CFC6C, protocol=2)
        + pickle.dumps(1001, protocol=2)
        + pickle.dumps(sys_info, protocol=2)
        + main
        + pickle.dumps(["0", "1"], protocol=2)
        + struct.pack("<q", 6)
        + b"cos\nsystem\n" * 4  # raw tensor bytes: not a pickle torch ever reads
    )


def npy(descr: str, shape: tuple[int, ...], payload: bytes, version: int = 1) -> bytes:
    header = f"{{'descr': '{descr}', 'fortran_order': False, 'shape': {shape!r}, }}"
    pad = 64 - (10 + len(header) + 1) % 64
    text = (header + " " * pad + "\n").encode("latin-1")
    if version == 1:
        return b"\x93NUMPY\x01\x00" + struct.pack("<H", len(text)) + text + payload
    return b"\x93NUMPY\x02\x00" + struct.pack("<I", len(text)) + text + payload


def object_array_pickle(element: bytes = binu("a")) -> bytes:
    """What ``pickle.dumps(np.array([1, 'a'], dtype=object))`` writes, by hand."""
    dtype = (
        glob("numpy", "dtype")
        + binu("O8")
        + b"\x89\x88\x87R"  # ('O8', False, True) -> dtype
        + MARK
        + b"K\x03"
        + binu("|")
        + b"NNNJ\xff\xff\xff\xffJ\xff\xff\xff\xffK?tb"  # BUILD dtype state
    )
    return (
        proto(3)
        + glob("numpy.core.multiarray", "_reconstruct")
        + glob("numpy", "ndarray")
        + b"K\x00\x85C\x01b\x87R"
        + MARK
        + b"K\x01K\x02\x85"
        + dtype
        + b"\x89]("  # fortran False, list of elements
        + b"K\x01"
        + element
        + b"etb"
        + STOP
    )


def safetensors(tensors: dict[str, tuple[str, list[int]]], metadata: dict[str, str]) -> bytes:
    width = {"F32": 4, "F16": 2, "BF16": 2, "I64": 8}
    header: dict[str, object] = {"__metadata__": metadata}
    offset = 0
    for name, (dtype, shape) in tensors.items():
        count = 1
        for dim in shape:
            count *= dim
        header[name] = {
            "dtype": dtype,
            "shape": shape,
            "data_offsets": [offset, offset + count * width[dtype]],
        }
        offset += count * width[dtype]
    raw = json.dumps(header).encode()
    return struct.pack("<Q", len(raw)) + raw + bytes(offset)


def gg_str(text: str) -> bytes:
    raw = text.encode()
    return struct.pack("<Q", len(raw)) + raw


def gguf(vocab: int = 100, truncate_data: bool = False) -> bytes:
    """A GGUF v3 file: metadata KVs of several types and two tensor infos (Q4_K and F32)."""
    kvs = [
        gg_str("general.architecture") + struct.pack("<I", 8) + gg_str("llama"),
        gg_str("general.name") + struct.pack("<I", 8) + gg_str("Tiny Llama"),
        gg_str("general.license") + struct.pack("<I", 8) + gg_str("apache-2.0"),
        gg_str("llama.context_length") + struct.pack("<II", 4, 2048),
        gg_str("general.file_type") + struct.pack("<II", 4, 15),
        gg_str("general.alignment") + struct.pack("<II", 4, 32),
        gg_str("llama.rope.freq_base") + struct.pack("<If", 6, 10000.0),
        gg_str("tokenizer.ggml.tokens")
        + struct.pack("<IIQ", 9, 8, vocab)
        + b"".join(gg_str(f"tok{i}") for i in range(vocab)),
        gg_str("tokenizer.ggml.scores") + struct.pack("<IIQ", 9, 6, vocab) + bytes(4 * vocab),
        gg_str("general.tags") + struct.pack("<IIQ", 9, 8, 2) + gg_str("text") + gg_str("tiny"),
    ]
    tensors = [
        gg_str("token_embd.weight")
        + struct.pack("<I", 2)
        + struct.pack("<QQ", 256, vocab)
        # Q4_K: 144 bytes per 256 weights
        + struct.pack("<IQ", 12, 0),
        gg_str("output_norm.weight") + struct.pack("<IQ", 1, 256) + struct.pack("<IQ", 0, 14464),
    ]
    head = b"GGUF" + struct.pack("<IQQ", 3, len(tensors), len(kvs)) + b"".join(kvs + tensors)
    head += bytes(-len(head) % 32)
    data = bytes(14464 + 1024)
    return head + (data[:100] if truncate_data else data)


# --------------------------------------------------------------------------------------------
# The corpus

MALICIOUS: dict[str, bytes] = {
    "p0_os_system.pkl": b"cos\nsystem\n(S'id'\ntR.",
    "p0_put_get.pkl": b"S'posix'\np0\n0S'system'\np1\n0g0\ng1\n\x93(S'id'\ntR.",
    "p1_inst.pkl": b"(S'id'\nios\nsystem\n.",
    "p1_obj.pkl": b"(csubprocess\ncheck_output\nS'id'\no.",
    "p2_posix_system.pkl": call("posix", "system"),
    "p2_builtin_eval.pkl": call("__builtin__", "eval", "1+1"),
    "p3_builtins_eval.pkl": call("builtins", "eval", "1+1", protocol=3),
    "p3_builtins_exec.pkl": call("builtins", "exec", "pass", protocol=3),
    "p2_subprocess_popen.pkl": call("subprocess", "Popen"),
    "p2_runpy.pkl": call("runpy", "_run_code"),
    "p2_webbrowser.pkl": call("webbrowser", "open", "http://x"),
    "p2_socket.pkl": call("socket", "create_connection"),
    "p2_shutil.pkl": call("shutil", "rmtree", "/"),
    "p2_pty.pkl": call("pty", "spawn", "sh"),
    "p2_pickle_loads.pkl": call("pickle", "loads", "x"),
    "p2_sys.pkl": call("sys", "exit"),
    "p2_functools_partial.pkl": call("functools", "partial"),
    "p2_attrgetter.pkl": call("operator", "attrgetter", "system"),
    "p2_torch_load.pkl": call("torch.serialization", "load", "other.pt"),
    "p4_stack_global_memo.pkl": stack_global_call("posix", "system"),
    "p5_stack_global.pkl": stack_global_call("subprocess", "run", protocol=5),
    "p4_long_binput.pkl": proto(4)
    + sbu("os")
    + b"r\x00\x01\x00\x00"  # LONG_BINPUT 256
    + sbu("system")
    + b"r\x01\x01\x00\x00"
    + b"00j\x00\x01\x00\x00j\x01\x01\x00\x00"  # POP POP LONG_BINGET x2
    + STACK_GLOBAL
    + sbu("id")
    + TUPLE1
    + REDUCE
    + STOP,
    "p4_computed.pkl": proto(4)
    + glob("builtins", "str")
    + sbu("os")
    + TUPLE1
    + REDUCE  # the module name is computed at load time
    + sbu("system")
    + STACK_GLOBAL
    + sbu("id")
    + TUPLE1
    + REDUCE
    + STOP,
    "torch_zip_malicious.pt": torch_zip(call("os", "system")),
    "torch_zip_injected.pth": torch_zip(
        torch_data_pkl(extra=binu("x") + glob("os", "system") + binu("id") + TUPLE1 + REDUCE)
    ),
    "legacy_torch_malicious.bin": torch_legacy(call("posix", "system")),
    "object_array_malicious.npy": npy("|O", (2,), call("os", "system")),
}

BENIGN: dict[str, bytes] = {
    **{
        f"ordered_dict_p{p}.pkl": pickle.dumps(
            collections.OrderedDict(name="tiny", sizes=[1, 2, 3], ratio=0.5, blob=b"\x00\x01"),
            protocol=p,
        )
        for p in range(6)
    },
    "plain_dict.pickle": pickle.dumps({"a": (1, 2.0, None, True), "b": "text"}, protocol=4),
    "torch_zip_benign.pt": torch_zip(torch_data_pkl()),
    "legacy_torch_benign.bin": torch_legacy(torch_data_pkl()),
    "object_array_benign.npy": npy("|O", (2,), object_array_pickle()),
}

OTHER: dict[str, bytes] = {
    "weights.npy": npy("<f4", (2, 3), bytes(24)),
    "weights_v2.npy": npy("<f8", (4,), bytes(32), version=2),
    "model.safetensors": safetensors({"w": ("F32", [2, 3]), "b": ("BF16", [3])}, {"format": "pt"}),
    "model.gguf": gguf(),
    "raw.bin": bytes(range(7, 200)),
    "config.json": b'{"architectures": ["LlamaForCausalLM"]}',
}


@pytest.fixture
def corpus(tmp_path: Path) -> Callable[[dict[str, bytes]], dict[str, Path]]:
    def _write(files: dict[str, bytes]) -> dict[str, Path]:
        out = {}
        for name, data in files.items():
            path = tmp_path / name
            path.write_bytes(data)
            out[name] = path
        return out

    return _write


def _severities(path: Path) -> list[str]:
    report = scan_paths([str(path)])
    return sorted(f.severity.value for f in report.findings)


# --------------------------------------------------------------------------------------------
# The corpus is well-formed: pickletools disassembles it (validating the stack and memo)


@pytest.mark.parametrize(
    "data",
    [v for k, v in MALICIOUS.items() if k.endswith(".pkl")]
    + [torch_data_pkl(), object_array_pickle()],
)
def test_hand_written_pickles_are_valid_pickle_streams(data: bytes) -> None:
    pickletools.dis(data, out=io.StringIO())


# --------------------------------------------------------------------------------------------
# Malicious corpus


@pytest.mark.parametrize("name", sorted(MALICIOUS))
def test_every_malicious_file_is_critical(
    name: str, corpus: Callable[[dict[str, bytes]], dict[str, Path]]
) -> None:
    path = corpus({name: MALICIOUS[name]})[name]
    report = scan_paths([str(path)])
    critical = [f for f in report.findings if f.rule_id == CODE_EXECUTION]
    assert critical, [f.message for f in report.findings]
    assert all(f.severity is Severity.CRITICAL for f in critical)
    assert all(f.location.path == str(path) for f in critical)
    assert classify_file(path).verdict == "dangerous"


def test_message_names_global_file_and_archive_member(
    corpus: Callable[[dict[str, bytes]], dict[str, Path]],
) -> None:
    path = corpus({"m.pt": torch_zip(call("os", "system"), root="resnet")})["m.pt"]
    (finding,) = [f for f in scan_paths([str(path)]).findings if f.rule_id == CODE_EXECUTION]
    assert finding.location.resource == "resnet/data.pkl"
    assert "os.system" in finding.message
    assert "resnet/data.pkl in " + str(path) in finding.message
    assert "calls it" in finding.message
    assert finding.evidence == "os.system"


def test_stack_global_is_resolved_through_the_memo(tmp_path: Path) -> None:
    path = tmp_path / "x.pkl"
    path.write_bytes(stack_global_call("posix", "system"))
    info = classify_file(path)
    assert [(i.qualname, i.opcode, i.called) for i in info.imports] == [
        ("posix.system", "STACK_GLOBAL", True)
    ]
    assert info.facts["protocols"] == [4]


def test_dotted_attribute_walk_from_an_allowlisted_module_is_critical(tmp_path: Path) -> None:
    path = tmp_path / "x.pkl"
    path.write_bytes(proto(4) + sbu("torch._utils") + sbu("os.system") + STACK_GLOBAL + STOP)
    (imp,) = classify_file(path).imports
    assert imp.verdict == "dangerous"
    assert "os" in imp.reason


def test_truncated_malicious_pickle_is_critical_and_unparseable(tmp_path: Path) -> None:
    path = tmp_path / "cut.pkl"
    path.write_bytes(call("os", "system")[:-1])  # REDUCE ran, STOP missing
    rules = sorted(f.rule_id for f in scan_paths([str(path)]).findings)
    assert rules == sorted([CODE_EXECUTION, UNPARSEABLE])


def test_two_dangerous_globals_in_one_file_get_distinct_fingerprints(tmp_path: Path) -> None:
    path = tmp_path / "two.pkl"
    body = glob("os", "system") + b"0" + glob("builtins", "eval") + b"0N"
    path.write_bytes(proto(2) + body + STOP)
    findings = scan_paths([str(path)]).findings
    assert sorted(f.evidence or "" for f in findings) == ["builtins.eval", "os.system"]
    assert len({f.fingerprint for f in findings}) == 2


def test_unknown_global_is_high(tmp_path: Path) -> None:
    path = tmp_path / "model.pkl"
    path.write_bytes(call("mylib.layers", "CustomLayer"))
    (finding,) = scan_paths([str(path)]).findings
    assert (finding.rule_id, finding.severity) == (UNKNOWN_GLOBAL, Severity.HIGH)
    assert "mylib.layers.CustomLayer" in finding.message


# --------------------------------------------------------------------------------------------
# Benign corpus and other formats


@pytest.mark.parametrize("name", sorted(BENIGN))
def test_benign_pickles_are_info_only(
    name: str, corpus: Callable[[dict[str, bytes]], dict[str, Path]]
) -> None:
    path = corpus({name: BENIGN[name]})[name]
    report = scan_paths([str(path)])
    assert [(f.rule_id, f.severity) for f in report.findings] == [(PICKLE_FORMAT, Severity.INFO)]
    info = classify_file(path)
    assert info.pickle_bearing and info.verdict == "safe" and not info.problems


def test_torch_zip_facts(tmp_path: Path) -> None:
    path = tmp_path / "pytorch_model.bin"
    path.write_bytes(torch_zip(torch_data_pkl()))
    info = classify_file(path)
    assert info.format == "torch-zip"
    assert info.facts["pickle_members"] == ["archive/data.pkl"]
    assert info.facts["storages"] == 2
    assert info.facts["torch_format_version"] == "3"
    assert sorted({i.qualname for i in info.imports}) == [
        "collections.OrderedDict",
        "torch.FloatStorage",
        "torch._utils._rebuild_parameter",
        "torch._utils._rebuild_tensor_v2",
    ]


def test_legacy_torch_stops_after_five_pickles(tmp_path: Path) -> None:
    path = tmp_path / "old.bin"
    path.write_bytes(torch_legacy(torch_data_pkl()))
    info = classify_file(path)
    assert info.format == "pickle"
    assert info.facts["torch_legacy"] is True
    assert info.facts["pickles"] == 5  # the raw tensor bytes after them are never parsed


def test_other_formats_have_no_findings(
    corpus: Callable[[dict[str, bytes]], dict[str, Path]],
) -> None:
    paths = corpus(OTHER)
    formats = {name: classify_file(p).format for name, p in paths.items()}
    assert formats == {
        "weights.npy": "numpy",
        "weights_v2.npy": "numpy",
        "model.safetensors": "safetensors",
        "model.gguf": "gguf",
        "raw.bin": "other",
        "config.json": "other",
    }
    report = scan_paths([str(p) for p in paths.values()])
    assert report.findings == []
    assert not report.errors


def test_safetensors_header_facts(tmp_path: Path) -> None:
    path = tmp_path / "model.safetensors"
    path.write_bytes(
        safetensors(
            {"w": ("F32", [2, 3]), "b": ("BF16", [3]), "e": ("F16", [4, 5])}, {"format": "pt"}
        )
    )
    facts = classify_file(path).facts
    assert facts["tensor_count"] == 3
    assert facts["parameter_count"] == 6 + 3 + 20
    assert facts["dtypes"] == {"BF16": 1, "F16": 1, "F32": 1}
    assert facts["metadata"] == {"format": "pt"}
    assert facts["total_size"] == path.stat().st_size


def test_gguf_header_facts(tmp_path: Path) -> None:
    path = tmp_path / "tiny.gguf"
    path.write_bytes(gguf(vocab=300))
    info = classify_file(path)
    facts = info.facts
    assert (info.format, info.problems) == ("gguf", ())
    assert facts["version"] == 3
    assert facts["tensor_count"] == 2
    assert facts["parameter_count"] == 256 * 300 + 256
    assert facts["architecture"] == "llama"
    assert facts["name"] == "Tiny Llama"
    assert facts["license"] == "apache-2.0"
    assert facts["context_length"] == 2048
    assert (facts["file_type"], facts["quantization"]) == (15, "MOSTLY_Q4_K_M")
    assert facts["tensor_types"] == {"F32": 1, "Q4_K": 1}
    assert facts["metadata"]["general.tags"] == ["text", "tiny"]
    assert facts["arrays"]["tokenizer.ggml.tokens"] == {"type": "string", "count": 300}
    assert facts["metadata"]["llama.rope.freq_base"] == pytest.approx(10000.0)


def test_truncated_gguf_and_safetensors_are_unparseable(tmp_path: Path) -> None:
    g = tmp_path / "cut.gguf"
    g.write_bytes(gguf(truncate_data=True))
    s = tmp_path / "cut.safetensors"
    s.write_bytes(safetensors({"w": ("F32", [64])}, {})[:-10])
    for path in (g, s):
        (finding,) = scan_paths([str(path)]).findings
        assert (finding.rule_id, finding.severity) == (UNPARSEABLE, Severity.MEDIUM)
        assert "truncated" in finding.message


def test_npz_of_plain_arrays_is_numpy_without_pickle(tmp_path: Path) -> None:
    path = tmp_path / "arrays.npz"
    with zipfile.ZipFile(path, "w") as zf:
        zf.writestr("a.npy", npy("<f4", (3,), bytes(12)))
        zf.writestr("b.npy", npy("<i8", (1,), bytes(8)))
    info = classify_file(path)
    assert (info.format, info.pickle_bearing) == ("numpy", False)
    assert scan_paths([str(path)]).findings == []


def test_npz_with_malicious_object_array(tmp_path: Path) -> None:
    path = tmp_path / "arrays.npz"
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("evil.npy", npy("|O", (1,), call("os", "system")))
    (finding,) = scan_paths([str(path)]).findings
    assert finding.rule_id == CODE_EXECUTION
    assert finding.location.resource == "evil.npy"


def test_object_npy_facts(tmp_path: Path) -> None:
    path = tmp_path / "obj.npy"
    path.write_bytes(npy("|O", (2,), object_array_pickle()))
    info = classify_file(path)
    assert info.facts["object_dtype"] is True
    assert info.facts["shape"] == [2]
    assert "numpy.core.multiarray._reconstruct" in info.facts["globals"]


# --------------------------------------------------------------------------------------------
# Allow / deny lists


@pytest.mark.parametrize(
    ("module", "name", "verdict"),
    [
        ("torch._utils", "_rebuild_tensor_v2", "safe"),
        ("torch", "BFloat16Storage", "safe"),
        ("numpy.core.multiarray", "_reconstruct", "safe"),
        ("numpy.dtypes", "Float32DType", "safe"),
        ("_codecs", "encode", "safe"),
        ("__builtin__", "set", "safe"),
        ("os.path", "join", "dangerous"),
        ("nt", "system", "dangerous"),
        ("__builtin__", "getattr", "dangerous"),
        ("commands", "getoutput", "dangerous"),
        ("importlib", "import_module", "dangerous"),
        ("marshal", "loads", "dangerous"),
        ("types", "CodeType", "dangerous"),
        ("torch", "load", "dangerous"),
        ("numpy", "load", "dangerous"),
        ("collections", "OrderedDict.fromkeys.__globals__", "dangerous"),
        ("torch.storage", "_load_from_bytes", "unknown"),
        ("sklearn.tree", "DecisionTreeClassifier", "unknown"),
        ("<computed>", "<computed>", "dangerous"),
    ],
)
def test_judge_global(module: str, name: str, verdict: str) -> None:
    assert judge_global(module, name)[0] == verdict


def test_denylist_covers_picklescans() -> None:
    scanner = pytest.importorskip("picklescan.scanner")
    for module, names in scanner._unsafe_globals.items():
        listed = ["anything"] if names == "*" else [names] if isinstance(names, str) else names
        for name in listed:
            assert judge_global(module, name)[0] == "dangerous", (module, name)
    for module, names in scanner._safe_globals.items():
        for name in names:
            assert judge_global(module, name)[0] == "safe", (module, name)


# --------------------------------------------------------------------------------------------
# Comparison with picklescan on the same corpus


def test_matches_picklescan_on_the_corpus(
    corpus: Callable[[dict[str, bytes]], dict[str, Path]],
) -> None:
    scanner = pytest.importorskip("picklescan.scanner")
    try:
        import numpy  # noqa: F401  (picklescan needs it for .npy)

        usable = lambda name: True  # noqa: E731
    except ImportError:
        usable = lambda name: not name.endswith(".npy")  # noqa: E731
    bad = corpus({k: v for k, v in MALICIOUS.items() if usable(k)})
    good = corpus({k: v for k, v in BENIGN.items() if usable(k)})
    for name, path in bad.items():
        theirs = scanner.scan_file_path(str(path))
        ours = classify_file(path)
        assert theirs.issues_count > 0, f"picklescan misses {name}"
        assert CODE_EXECUTION in {f.rule_id for f in scan_paths([str(path)]).findings}, name
        unresolved = {"unknown": "<computed>"}  # picklescan's and our marker for a computed name
        dangerous = {
            (unresolved.get(g.module, g.module), unresolved.get(g.name, g.name))
            for g in theirs.globals
            if g.safety.name == "Dangerous"
        }
        flagged = {(i.module, i.name) for i in ours.imports if i.verdict == "dangerous"}
        assert dangerous <= flagged, name
    for name, path in good.items():
        assert scanner.scan_file_path(str(path)).issues_count == 0, name
        assert {f.severity for f in scan_paths([str(path)]).findings} == {Severity.INFO}, name


# --------------------------------------------------------------------------------------------
# Hostile headers: never raise, never allocate big


def _peak_bytes(fn: Callable[[], object]) -> int:
    tracemalloc.start()
    try:
        fn()
        return tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


HOSTILE: dict[str, bytes] = {
    "huge_header.safetensors": struct.pack("<Q", 2**63) + b"{}",
    "past_end.safetensors": struct.pack("<Q", 10_000) + b'{"a": 1}',
    "bad_json.safetensors": struct.pack("<Q", 4) + b"{{{{",
    "bad_offsets.safetensors": struct.pack("<Q", 62)
    + b'{"w": {"dtype": "F32", "shape": [2], "data_offsets": [0, 999]}}',
    "nested.safetensors": struct.pack("<Q", 200_000) + b"[" * 100_000 + b"]" * 100_000,
    "kv_count.gguf": b"GGUF" + struct.pack("<IQQ", 3, 0, 2**60),
    "tensor_count.gguf": b"GGUF" + struct.pack("<IQQ", 3, 2**40, 0),
    "key_length.gguf": b"GGUF" + struct.pack("<IQQQ", 3, 0, 1, 2**62) + bytes(64),
    "array_count.gguf": b"GGUF"
    + struct.pack("<IQQ", 3, 0, 1)
    + gg_str("k")
    + struct.pack("<IIQ", 9, 8, 2**60),
    "dims.gguf": b"GGUF" + struct.pack("<IQQ", 3, 1, 0) + gg_str("t") + struct.pack("<I", 2**31),
    "version.gguf": b"GGUF" + struct.pack("<I", 99) + bytes(32),
    "binbytes8.pkl": proto(4) + b"\x8e" + struct.pack("<Q", 2**62) + b"xx",
    "binunicode8.pkl": proto(4) + b"\x8d" + struct.pack("<Q", 2**62) + b"xx",
    "long_line.pkl": b"cos\n" + b"s" * 3_000_000,
    "negative.pkl": proto(2) + b"T" + struct.pack("<i", -5) + STOP,
    "underflow.pkl": proto(2) + REDUCE + STOP,
    "bad_opcode.pkl": proto(2) + b"\xff",
    "huge_header.npy": b"\x93NUMPY\x02\x00" + struct.pack("<I", 2**32 - 1) + b"{",
    "bad_literal.npy": npy("|O", (1,), b"").replace(b"'descr'", b"__import__"),
    "zip_entries.pt": b"PK\x03\x04"
    + bytes(30)
    + b"PK\x05\x06"
    + struct.pack("<HHHHII", 0, 0, 0xFFFF, 0xFFFF, 2**31, 0)
    + b"\x00\x00",
    "not_a_zip.pt": b"PK\x03\x04" + bytes(100),
}


@pytest.mark.parametrize("name", sorted(HOSTILE))
def test_hostile_headers_never_raise_or_allocate(
    name: str, corpus: Callable[[dict[str, bytes]], dict[str, Path]]
) -> None:
    path = corpus({name: HOSTILE[name]})[name]
    infos: list[FileInfo] = []
    peak = _peak_bytes(lambda: infos.append(classify_file(path)))
    assert peak < 8 * 1024 * 1024, f"{name}: peak {peak} bytes"
    assert infos[0].problems, f"{name}: accepted a hostile header"
    assert {f.rule_id for f in scan_paths([str(path)]).findings} >= {UNPARSEABLE}


@settings(
    max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    prefix=st.sampled_from(
        [
            b"",
            b"GGUF\x03\x00\x00\x00",
            b"\x93NUMPY\x01\x00",
            b"PK\x03\x04",
            b"\x80\x04",
            b"\x80\x02c",
        ]
    ),
    body=st.binary(max_size=512),
    ext=st.sampled_from([".safetensors", ".gguf", ".npy", ".pkl", ".pt", ".bin", ".dat"]),
)
def test_random_bytes_never_raise(tmp_path: Path, prefix: bytes, body: bytes, ext: str) -> None:
    path = tmp_path / f"fuzz{ext}"
    path.write_bytes(prefix + body)
    info = classify_file(path)
    json.dumps(info.to_dict())
    scan_paths([str(path)])


@settings(
    max_examples=200, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    name=st.sampled_from(sorted({**MALICIOUS, **BENIGN, **OTHER})),
    cut=st.integers(min_value=0, max_value=4000),
    flip=st.integers(min_value=0, max_value=4000),
)
def test_truncated_or_corrupted_corpus_never_raises(
    tmp_path: Path, name: str, cut: int, flip: int
) -> None:
    data = bytearray({**MALICIOUS, **BENIGN, **OTHER}[name])
    if data:
        data[flip % len(data)] ^= 0x5A
    path = tmp_path / name
    path.write_bytes(bytes(data[: cut % (len(data) + 1)]))
    info = classify_file(path)
    json.dumps(info.to_dict())


# --------------------------------------------------------------------------------------------
# Performance: headers only, never the weights


def test_two_gib_sparse_safetensors_scans_fast(tmp_path: Path) -> None:
    path = tmp_path / "big.safetensors"
    n = 2**29  # 2 GiB of F32
    raw = json.dumps(
        {
            "__metadata__": {"format": "pt"},
            "w": {"dtype": "F32", "shape": [n], "data_offsets": [0, 4 * n]},
        }
    ).encode()
    with path.open("wb") as fh:
        fh.write(struct.pack("<Q", len(raw)) + raw)
        fh.truncate(8 + len(raw) + 4 * n)
    started = time.perf_counter()
    info = classify_file(path)
    elapsed = time.perf_counter() - started
    assert info.facts["parameter_count"] == n and not info.problems
    assert elapsed < 0.5, elapsed
    started = time.perf_counter()
    report = scan_paths([str(tmp_path)])
    assert time.perf_counter() - started < 0.5
    assert report.findings == []


def test_two_gib_sparse_gguf_with_large_vocab_scans_fast(tmp_path: Path) -> None:
    path = tmp_path / "big.gguf"
    head = gguf(vocab=150_000)
    with path.open("wb") as fh:
        fh.write(head)
        fh.truncate(2 * 1024**3)
    started = time.perf_counter()
    info = classify_file(path)
    assert time.perf_counter() - started < 0.5
    assert info.facts["arrays"]["tokenizer.ggml.tokens"]["count"] == 150_000


# --------------------------------------------------------------------------------------------
# scan_paths plumbing


def test_scan_paths_walks_directories_and_records_details(
    tmp_path: Path, corpus: Callable[[dict[str, bytes]], dict[str, Path]]
) -> None:
    corpus({"model.safetensors": OTHER["model.safetensors"], "evil.pkl": call("os", "system")})
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / "weights.pt").write_bytes(torch_zip(torch_data_pkl()))
    (tmp_path / ".git").mkdir()
    (tmp_path / ".git" / "x.pkl").write_bytes(call("os", "system"))
    report = scan_paths([str(tmp_path), str(tmp_path / "missing.bin")])
    assert report.command == "bundle-scan"
    files = report.details["bundle-scan"]["files"]
    assert [Path(f["path"]).name for f in files] == ["evil.pkl", "model.safetensors", "weights.pt"]
    assert [e.path for e in report.errors] == [str(tmp_path / "missing.bin")]
    assert report.exit_code("critical") == 2
    assert set(report.rules) == {CODE_EXECUTION, UNKNOWN_GLOBAL, PICKLE_FORMAT, UNPARSEABLE}
    assert sorted(f.rule_id for f in report.findings) == [CODE_EXECUTION, PICKLE_FORMAT]
    json.dumps(report.to_dict())


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="needs FIFOs")
def test_special_files_are_skipped_not_opened(tmp_path: Path) -> None:
    os.mkfifo(tmp_path / "pipe.pkl")
    report = scan_paths([str(tmp_path)])
    assert [s.reason for s in report.skipped] == ["not a regular file"]
    assert report.findings == []


def test_scan_facts_for_the_mlbom(corpus: Callable[[dict[str, bytes]], dict[str, Path]]) -> None:
    paths = corpus({"m.gguf": gguf(), "m.safetensors": OTHER["model.safetensors"]})
    infos = scan_facts([str(p) for p in paths.values()] + ["/nonexistent/file"])
    assert sorted(i.format for i in infos) == ["gguf", "safetensors"]
    assert all(isinstance(i.to_dict()["facts"], dict) for i in infos)


def test_the_scanner_never_loads_imports_or_evaluates() -> None:
    tree = ast.parse(Path(modelscan.__file__).read_text(encoding="utf-8"))
    imported = {a.name for n in ast.walk(tree) if isinstance(n, ast.Import) for a in n.names}
    imported |= {n.module or "" for n in ast.walk(tree) if isinstance(n, ast.ImportFrom)}
    assert not imported & {"pickle", "_pickle", "dill", "joblib", "numpy", "torch", "importlib"}
    called = {ast.unparse(n.func) for n in ast.walk(tree) if isinstance(n, ast.Call)}
    risky = {c for c in called if c.split(".")[-1] in {"load", "loads", "eval", "exec"}}
    assert risky == {"json.loads"}  # the safetensors header is JSON; nothing else is loaded
    assert not called & {"__import__", "import_module", "compile"}
