"""``airgap bundle scan``: classify model files and find code that would run when they are loaded.

Nothing here loads, imports, unpickles or executes what it scans. Safetensors, GGUF and ``.npy``
files are read header-first with every length checked against the file size and a hard cap, so
a hostile header cannot make us allocate or read gigabytes and a 2 GiB model scans in
milliseconds. Pickles (plain, legacy torch, torch zip members, object-dtype ``.npy``) are walked
opcode by opcode with the pickle machine's stack and memo simulated symbolically: every
``GLOBAL``/``STACK_GLOBAL``/``INST`` import is resolved to ``module.name`` and judged against an
allowlist of torch/numpy rebuild helpers and a denylist of code-running callables.
"""

from __future__ import annotations

import _compat_pickle
import ast
import codecs
import json
import os
import pickletools
import stat
import struct
import time
import zipfile
import zlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any, Final

from airgap_cli import __version__
from airgap_cli.core.errors import InputError
from airgap_cli.core.findings import (
    Finding,
    InputIssue,
    Location,
    Report,
    Severity,
    Skipped,
)

CODE_EXECUTION: Final = "model-pickle-code-execution"
UNKNOWN_GLOBAL: Final = "model-pickle-unknown-global"
PICKLE_FORMAT: Final = "model-pickle-format"
UNPARSEABLE: Final = "model-file-unparseable"

_COMPLIANCE = ("OWASP-LLM:LLM03:2025", "NIST-800-53:SI-3", "NIST-800-53:SI-7")

SCAN_RULES: dict[str, dict[str, Any]] = {
    CODE_EXECUTION: {
        "title": "Model file runs code when loaded",
        "description": (
            "A pickle inside the file imports a callable that executes commands, code or I/O "
            "(os.system, builtins.eval, subprocess, runpy...). Loading it with torch.load, "
            "pickle.load, joblib.load or numpy.load(allow_pickle=True) runs that code."
        ),
        "severity": Severity.CRITICAL.value,
        "remediation": (
            "Do not load the file. Obtain the weights as safetensors from a trusted source, or "
            "convert them inside a disposable sandbox with no network and no secrets."
        ),
        "compliance": list(_COMPLIANCE),
    },
    UNKNOWN_GLOBAL: {
        "title": "Model pickle imports an unvetted global",
        "description": (
            "A pickle imports a module attribute that is neither a known torch/numpy rebuild "
            "helper nor a known code-execution primitive. Loading the file imports that module "
            "(running its top-level code) and may call the attribute."
        ),
        "severity": Severity.HIGH.value,
        "remediation": (
            "Check what the named global does before loading the file; prefer a safetensors "
            "copy, or load with torch.load(weights_only=True) which refuses unknown globals."
        ),
        "compliance": list(_COMPLIANCE),
    },
    PICKLE_FORMAT: {
        "title": "Model stored in a pickle-based format",
        "description": (
            "The file holds pickles that import only allowlisted torch/numpy rebuild helpers. "
            "Nothing dangerous was found, but loading any pickle still runs the pickle machine, "
            "so the file is only as trustworthy as whoever wrote it."
        ),
        "severity": Severity.INFO.value,
        "remediation": "Prefer safetensors (or GGUF); otherwise load with weights_only=True.",
        "compliance": list(_COMPLIANCE),
    },
    UNPARSEABLE: {
        "title": "Model file is truncated or corrupt",
        "description": (
            "A model file header or pickle stream could not be parsed within the safety "
            "limits: it is truncated, corrupt, or crafted to defeat scanners."
        ),
        "severity": Severity.MEDIUM.value,
        "remediation": "Fetch the file again from its source and compare its SHA-256.",
        "compliance": ["NIST-800-53:SI-7"],
    },
}

# ---------------------------------------------------------------------------------------------
# Limits: every length read from a file is checked against these before anything is allocated.

MAX_SAFETENSORS_HEADER: Final = 100 * 1024 * 1024
MAX_NPY_HEADER: Final = 64 * 1024
MAX_GGUF_STRING: Final = 16 * 1024 * 1024
MAX_GGUF_KEY: Final = 64 * 1024
MAX_GGUF_KV: Final = 1_000_000
MAX_GGUF_TENSORS: Final = 10_000_000
MAX_GGUF_ARRAY_STRINGS: Final = 4_000_000
MAX_GGUF_DIMS: Final = 8
MAX_ZIP_MEMBERS: Final = 200_000
MAX_ZIP_DIRECTORY: Final = 64 * 1024 * 1024
MAX_PICKLE_MEMBER: Final = 1024 * 1024 * 1024
MAX_PICKLE_OPS: Final = 10_000_000
MAX_PICKLES_PER_STREAM: Final = 64
MAX_MEMO: Final = 1_000_000
MAX_KEPT_STRING: Final = 1024
"""Longer strings are tracked as "a long string": no module or attribute name is that long."""
MAX_IMPORTS_KEPT: Final = 1000
_CHUNK: Final = 1024 * 1024


def _names(text: str) -> frozenset[str]:
    """A frozenset from a space-separated list: long name tables stay a few lines long."""
    return frozenset(text.split())


def _numbered(table: str) -> dict[int, str]:
    """``"0:F32 1:F16"`` -> ``{0: "F32", 1: "F16"}``: keeps long enum tables readable."""
    return {int(k): v for k, v in (item.split(":") for item in table.split())}


def _sized(table: str) -> dict[str, int]:
    """``"F16:2 F32:4"`` -> ``{"F16": 2, "F32": 4}``."""
    return {k: int(v) for k, v in (item.split(":") for item in table.split())}


PICKLE_EXTENSIONS: Final = _names(".pkl .pickle .bin .pt .pth .ckpt .joblib")
_WEAK_PICKLE_EXTENSIONS: Final = frozenset({".bin"})
"""``.bin`` is also used for raw weights: only a stream that parses as a pickle counts."""
_TORCH_LEGACY_MAGIC: Final = 0x1950A86A20F9469CFC6C

# ---------------------------------------------------------------------------------------------
# Allow and deny lists. Names are matched after Python 2 -> 3 renaming (``__builtin__.eval`` is
# ``builtins.eval``); a module listed with ``*`` covers its submodules too.

_TORCH_STORAGES = frozenset(
    f"{kind}Storage"
    for kind in (
        "Long",
        "Float",
        "Half",
        "Double",
        "BFloat16",
        "Bool",
        "Char",
        "Short",
        "Int",
        "Byte",
        "ComplexFloat",
        "ComplexDouble",
        "QUInt2x4",
        "QUInt4x2",
        "QInt32",
        "QInt8",
        "QUInt8",
        "Untyped",
        "Typed",
    )
)
_TORCH_DTYPES = _names(
    "float16 float32 float64 bfloat16 half float double complex32 complex64 "
    "complex128 uint8 int8 int16 int32 int64 uint16 uint32 uint64 bool qint8 quint8 "
    "qint32 quint4x2 float8_e4m3fn float8_e5m2 float8_e4m3fnuz float8_e5m2fnuz Size "
    "device Tensor strided sparse_coo contiguous_format channels_last "
    "channels_last_3d preserve_format"
)

ALLOWED_GLOBALS: Final[dict[str, frozenset[str]]] = {
    "collections": frozenset({"OrderedDict", "defaultdict", "deque", "Counter"}),
    "torch": _TORCH_STORAGES | _TORCH_DTYPES,
    "torch._utils": _names(
        "_rebuild_tensor _rebuild_tensor_v2 _rebuild_tensor_v3 _rebuild_parameter "
        "_rebuild_parameter_with_state _rebuild_qtensor _rebuild_sparse_tensor "
        "_rebuild_nested_tensor _rebuild_meta_tensor_no_storage "
        "_rebuild_device_tensor_from_numpy"
    ),
    "torch._tensor": frozenset({"_rebuild_from_type_v2"}),
    "torch.nn.parameter": frozenset({"Parameter"}),
    "torch.storage": frozenset({"UntypedStorage", "TypedStorage"}),
    "numpy": frozenset({"dtype", "ndarray"}),
    "numpy.core.multiarray": frozenset({"_reconstruct", "scalar"}),
    "numpy._core.multiarray": frozenset({"_reconstruct", "scalar"}),
    "_codecs": frozenset({"encode"}),
    "builtins": _names(
        "set frozenset slice bytearray bytes complex range dict list tuple str int float bool"
    ),
    "copyreg": frozenset({"_reconstructor"}),
}
"""Globals that only rebuild data. ``_codecs.encode`` turns a str into bytes (how protocol 2
pickles numpy buffers); ``copyreg._reconstructor`` and ``torch._tensor._rebuild_from_type_v2``
only call classes that are themselves separate, separately judged globals."""

_ALL: Final = frozenset({"*"})

DENIED_GLOBALS: Final[dict[str, frozenset[str]]] = {
    "builtins": _names(
        "eval exec execfile compile getattr setattr delattr __import__ open breakpoint "
        "input globals locals vars apply file reload exit quit help memoryview"
    ),
    "os": _ALL,
    "posix": _ALL,
    "nt": _ALL,
    "subprocess": _ALL,
    "commands": _ALL,
    "pty": _ALL,
    "runpy": _ALL,
    "sys": _ALL,
    "importlib": _ALL,
    "imp": _ALL,
    "pkgutil": _ALL,
    "zipimport": _ALL,
    "marshal": _ALL,
    "pickle": _ALL,
    "_pickle": _ALL,
    "cPickle": _ALL,
    "dill": _ALL,
    "shelve": _ALL,
    "code": _ALL,
    "codeop": _ALL,
    "ctypes": _ALL,
    "_ctypes": _ALL,
    "cffi": _ALL,
    "multiprocessing": _ALL,
    "_posixsubprocess": _ALL,
    "shutil": _ALL,
    "socket": _ALL,
    "_socket": _ALL,
    "ssl": _ALL,
    "asyncio": _ALL,
    "aiohttp": _ALL,
    "http": _ALL,
    "httplib": _ALL,
    "urllib.request": _ALL,
    "urllib2": _ALL,
    "requests": _ALL,
    "httpx": _ALL,
    "ftplib": _ALL,
    "smtplib": _ALL,
    "telnetlib": _ALL,
    "xmlrpc": _ALL,
    "webbrowser": _ALL,
    "bdb": _ALL,
    "pdb": _ALL,
    "cProfile": _ALL,
    "profile": _ALL,
    "timeit": _ALL,
    "trace": _ALL,
    "pydoc": _ALL,
    "pip": _ALL,
    "ensurepip": _ALL,
    "venv": _ALL,
    "test": _ALL,
    "uuid": _ALL,
    "_osx_support": _ALL,
    "_aix_support": _ALL,
    "_pyrepl": _ALL,
    "idlelib": _ALL,
    "lib2to3": _ALL,
    "distutils": _ALL,
    "setuptools": _ALL,
    "numpy.f2py": _ALL,
    "numpy.testing": _ALL,
    "numpy.ctypeslib": _ALL,
    "numpy.distutils": _ALL,
    "torch.hub": _ALL,
    "torch.utils.cpp_extension": _ALL,
    "torch.utils.collect_env": _ALL,
    "torch.utils.bottleneck": _ALL,
    "cloudpickle": _ALL,
    "types": frozenset({"CodeType", "FunctionType", "LambdaType", "MethodType", "ModuleType"}),
    "operator": frozenset({"attrgetter", "itemgetter", "methodcaller"}),
    "_operator": frozenset({"attrgetter", "itemgetter", "methodcaller"}),
    "functools": frozenset({"partial", "reduce"}),
    "_functools": frozenset({"partial", "reduce"}),
    "logging": frozenset({"FileHandler"}),
    "_io": frozenset({"FileIO", "open"}),
    "io": frozenset({"FileIO", "open", "open_code"}),
    "tempfile": frozenset({"NamedTemporaryFile", "TemporaryFile", "mkstemp"}),
    "doctest": frozenset({"debug_script"}),
    "imaplib": frozenset({"IMAP4_stream"}),
    "numpy": frozenset({"load", "fromfile"}),
    "numpy.lib.npyio": frozenset({"load"}),
    "joblib": frozenset({"load"}),
    "joblib.numpy_pickle": frozenset({"load"}),
    "pandas": frozenset({"read_pickle", "eval"}),
    "pandas.io.pickle": frozenset({"read_pickle"}),
    "torch": frozenset({"load"}),
    "torch.serialization": frozenset({"load"}),
    "torch.jit": frozenset({"load"}),
    "torch._dynamo.guards": frozenset({"GuardBuilder.get"}),
    "torch._inductor.codecache": frozenset({"compile_file"}),
    "torch.fx.experimental.symbolic_shapes": frozenset({"ShapeEnv.evaluate_guards_expression"}),
    "torch.jit.unsupported_tensor_ops": frozenset({"execWrapper"}),
    "torch.utils._config_module": frozenset({"ConfigModule.load_config"}),
    "torch.utils.data.datapipes.utils.decoder": frozenset({"basichandlers"}),
}
"""Callables that execute commands or code, import modules, touch files or the network, or
load a nested pickle. Superset of picklescan 1.0.5's ``_unsafe_globals``."""

_DANGEROUS_ATTRIBUTES: Final = _names(
    "system popen spawn eval exec execfile compile __import__ __globals__ "
    "__builtins__ __subclasses__ __code__ __getattribute__ __loader__ __dict__ "
    "getattr setattr load loads"
)
"""In a dotted protocol-4 name (``torch._utils.os.system``) pickle walks attributes one by one:
any of these along the path reaches code execution whatever the starting module."""

SAFE: Final = "safe"
DANGEROUS: Final = "dangerous"
UNKNOWN: Final = "unknown"
COMPUTED: Final = "<computed>"


def judge_global(module: str, name: str) -> tuple[str, str]:
    """``(verdict, reason)`` for one imported global, after Python 2 name mapping."""
    if module == COMPUTED or name == COMPUTED:
        return DANGEROUS, "the module or name is computed while loading, so it cannot be vetted"
    candidates = [(module, name)]
    mapped = _compat_pickle.NAME_MAPPING.get((module, name))
    if mapped is not None:
        candidates.append(mapped)
    elif module in _compat_pickle.IMPORT_MAPPING:
        candidates.append((_compat_pickle.IMPORT_MAPPING[module], name))
    for mod, attr in candidates:
        reason = _denied(mod, attr)
        if reason:
            return DANGEROUS, reason
    if _allowed(*candidates[-1]):
        return SAFE, "allowlisted rebuild helper"
    return UNKNOWN, "not on the allowlist of torch/numpy rebuild helpers"


def _denied(module: str, name: str) -> str:
    parts = module.split(".")
    for i in range(len(parts), 0, -1):
        listed = DENIED_GLOBALS.get(".".join(parts[:i]))
        if listed is _ALL:
            return f"module {'.'.join(parts[:i])} runs commands, code or I/O"
        if (
            listed is not None
            and i == len(parts)
            and (name in listed or name.split(".")[0] in listed)
        ):
            return f"{module}.{name.split('.')[0]} runs commands, code or I/O"
    steps = name.split(".")
    if len(steps) > 1:
        for step in steps:
            if step in _DANGEROUS_ATTRIBUTES or step in DENIED_GLOBALS:
                return f"the dotted name walks through {step!r}, reaching code execution"
    return ""


def _allowed(module: str, name: str) -> bool:
    if name in ALLOWED_GLOBALS.get(module, frozenset()):
        return True
    return module == "numpy.dtypes" and name.isidentifier() and name.endswith("DType")


# ---------------------------------------------------------------------------------------------
# Result model


@dataclass(frozen=True, slots=True)
class ImportedGlobal:
    """One ``module.name`` a pickle imports, where, how, and what we make of it."""

    module: str
    name: str
    member: str
    """Archive member holding the pickle (empty for a plain file)."""
    opcode: str
    """``GLOBAL``, ``STACK_GLOBAL``, ``INST`` or ``EXT``."""
    called: bool
    """Applied by REDUCE / NEWOBJ / OBJ / INST (not just referenced)."""
    verdict: str
    """``safe``, ``dangerous`` or ``unknown``."""
    reason: str

    @property
    def qualname(self) -> str:
        """``module.name`` as people write it."""
        return f"{self.module}.{self.name}"

    def to_dict(self) -> dict[str, Any]:
        """JSON form."""
        return {
            "global": self.qualname,
            "member": self.member,
            "opcode": self.opcode,
            "called": self.called,
            "verdict": self.verdict,
            "reason": self.reason,
        }


@dataclass(frozen=True, slots=True)
class Problem:
    """Why a file (or one archive member) could not be fully parsed."""

    member: str
    message: str


@dataclass(frozen=True, slots=True)
class FileInfo:
    """What one file is, the facts its header gives, and the imports of any pickle in it."""

    path: str
    format: str
    """safetensors, gguf, pickle, torch-zip, numpy, onnx, zip or other."""
    size: int
    facts: dict[str, Any] = field(default_factory=dict)
    imports: tuple[ImportedGlobal, ...] = ()
    problems: tuple[Problem, ...] = ()
    pickle_bearing: bool = False
    """Loading it runs pickle: an imported global executes on load."""

    @property
    def verdict(self) -> str:
        """The worst verdict of any import (``safe`` when there are none)."""
        verdicts = {i.verdict for i in self.imports}
        for level in (DANGEROUS, UNKNOWN):
            if level in verdicts:
                return level
        return SAFE

    def to_dict(self) -> dict[str, Any]:
        """JSON form, for reports and the MLBOM."""
        return {
            "path": self.path,
            "format": self.format,
            "size": self.size,
            "pickle_bearing": self.pickle_bearing,
            "verdict": self.verdict if self.pickle_bearing else None,
            "facts": self.facts,
            "imports": [i.to_dict() for i in self.imports],
            "problems": [{"member": p.member, "message": p.message} for p in self.problems],
        }


class _ParseError(Exception):
    """The bytes do not follow the format (or exceed a limit)."""


# ---------------------------------------------------------------------------------------------
# Public entry points


def scan_paths(paths: list[str]) -> Report:
    """Classify every file under ``paths`` and report code-executing or unvetted pickles."""
    started = time.perf_counter()
    report = Report(command="bundle-scan", tool_version=__version__)
    infos: list[FileInfo] = []
    for path in _walk(paths, report):
        try:
            info = _classify_path(path)
        except InputError as exc:
            report.errors.append(InputIssue(path, exc.message))
            continue
        infos.append(info)
        report.findings += findings_for(info)
    report.rules = {rid: dict(meta) for rid, meta in SCAN_RULES.items()}
    report.details["bundle-scan"] = {"files": [i.to_dict() for i in infos]}
    report.timings["total"] = time.perf_counter() - started
    return report


def scan_facts(paths: list[str]) -> list[FileInfo]:
    """Facts for every readable file under ``paths`` (for the MLBOM); unreadable ones are left out."""
    scratch = Report(command="bundle-scan", tool_version=__version__)
    infos: list[FileInfo] = []
    for path in _walk(paths, scratch):
        try:
            infos.append(_classify_path(path))
        except InputError:
            continue
    return infos


def classify_file(path: Path) -> FileInfo:
    """Identify one file by its bytes and parse its header; raise ``InputError`` if unreadable."""
    return _classify_path(str(path))


def _classify_path(path: str) -> FileInfo:
    """``classify_file`` keeping the path exactly as given (reports name what the user typed)."""
    try:
        with open(path, "rb") as fh:
            size = os.fstat(fh.fileno()).st_size
            head = fh.read(16)
            fh.seek(0)
            return _classify(path, fh, size, head)
    except OSError as exc:
        raise InputError(f"cannot read file: {exc.strerror or exc}", path=path) from None


def findings_for(info: FileInfo) -> list[Finding]:
    """The findings one classified file gives (also used by ``sign`` and ``check``)."""
    findings: list[Finding] = []
    for problem in info.problems:
        where = f"{problem.member} in {info.path}" if problem.member else info.path
        findings.append(
            _finding(
                UNPARSEABLE,
                f"{where}: {problem.message}",
                Location(info.path, resource=problem.member, pointer="/parse"),
                evidence=problem.message[:200],
            )
        )
    flagged = False
    for imp in info.imports:
        if imp.verdict == SAFE:
            continue
        flagged = True
        where = f"{imp.member} in {info.path}" if imp.member else info.path
        use = "and calls it" if imp.called else "(referenced)"
        if imp.verdict == DANGEROUS:
            rule = CODE_EXECUTION
            message = (
                f"{where} imports {imp.qualname} {use} via {imp.opcode}: {imp.reason}; loading "
                "the file runs it"
            )
        else:
            rule = UNKNOWN_GLOBAL
            message = (
                f"{where} imports {imp.qualname} {use} via {imp.opcode}, which is {imp.reason}; "
                "loading the file imports that module and may run its code"
            )
        findings.append(
            _finding(
                rule,
                message,
                Location(info.path, resource=imp.member, pointer=f"/imports/{imp.qualname}"),
                evidence=imp.qualname,
            )
        )
    if info.pickle_bearing and not flagged and not info.problems:
        allowed = sorted({i.qualname for i in info.imports})
        shown = ", ".join(allowed[:8]) + (", ..." if len(allowed) > 8 else "")
        findings.append(
            _finding(
                PICKLE_FORMAT,
                f"{info.path} is a pickle-bearing {info.format} file importing only allowlisted "
                f"globals ({shown or 'none'}); loading it still needs trust in its author",
                Location(info.path, pointer="/format"),
                evidence=info.format,
            )
        )
    return findings


def _finding(rule: str, message: str, location: Location, evidence: str) -> Finding:
    meta = SCAN_RULES[rule]
    return Finding(
        rule_id=rule,
        severity=Severity(meta["severity"]),
        title=meta["title"],
        message=message,
        location=location,
        evidence=evidence,
        remediation=meta["remediation"],
        compliance=tuple(meta["compliance"]),
    )


def _walk(paths: list[str], report: Report) -> Iterator[str]:
    """Regular files under ``paths`` in stable order; never opens FIFOs or devices."""
    for given in paths:
        try:
            st = os.stat(given)
        except OSError as exc:
            report.errors.append(InputIssue(given, f"cannot read: {exc.strerror or exc}"))
            continue
        if stat.S_ISREG(st.st_mode):
            yield given
            continue
        if not stat.S_ISDIR(st.st_mode):
            report.skipped.append(Skipped(given, "not a regular file"))
            continue
        for root, dirs, files in os.walk(given, onerror=None):
            keep: list[str] = []
            for d in sorted(dirs):
                full = os.path.join(root, d)
                if d == ".git":
                    continue
                if os.path.islink(full):
                    report.skipped.append(Skipped(full, "symbolic link to a directory"))
                    continue
                keep.append(d)
            dirs[:] = keep
            for name in sorted(files):
                full = os.path.join(root, name)
                try:
                    mode = os.stat(full).st_mode
                except OSError as exc:
                    report.errors.append(InputIssue(full, f"cannot read: {exc.strerror or exc}"))
                    continue
                if stat.S_ISREG(mode):
                    yield full
                else:
                    report.skipped.append(Skipped(full, "not a regular file"))


# ---------------------------------------------------------------------------------------------
# Format detection


def _classify(path: str, fh: IO[bytes], size: int, head: bytes) -> FileInfo:
    ext = os.path.splitext(path)[1].lower()
    if head[:4] == b"GGUF":
        return _guarded(path, "gguf", size, lambda: _gguf(fh, size))
    if head[:4] in (b"PK\x03\x04", b"PK\x05\x06"):
        return _zip(path, fh, size, ext)
    if head[:6] == b"\x93NUMPY":
        return _npy(path, fh, size)
    if ext == ".safetensors" or _looks_like_safetensors(head, size):
        return _guarded(path, "safetensors", size, lambda: _safetensors(fh, size))
    if ext == ".onnx" and head[:1] == b"\x08":
        return FileInfo(path, "onnx", size, {"note": "protobuf model; graph not parsed"})
    sniffed = len(head) >= 2 and head[0] == 0x80 and head[1] <= 5
    if ext in PICKLE_EXTENSIONS or sniffed:
        lenient = ext in _WEAK_PICKLE_EXTENSIONS and not sniffed
        info = _pickle_file(path, fh, size, lenient)
        if info is not None:
            return info
    return FileInfo(path, "other", size)


def _guarded(path: str, fmt: str, size: int, parse: Callable[[], dict[str, Any]]) -> FileInfo:
    """Run a header parser; a malformed header becomes a problem, never an exception."""
    try:
        facts = parse()
    except _ParseError as exc:
        return FileInfo(path, fmt, size, problems=(Problem("", str(exc)),))
    return FileInfo(path, fmt, size, facts)


def _looks_like_safetensors(head: bytes, size: int) -> bool:
    if len(head) < 9:
        return False
    (length,) = struct.unpack_from("<Q", head)
    return head[8:9] == b"{" and 2 <= length <= size - 8


# ---------------------------------------------------------------------------------------------
# safetensors

_SAFETENSORS_DTYPE_BYTES: Final = _sized(
    "BOOL:1 U8:1 I8:1 F8_E5M2:1 F8_E4M3:1 F8_E8M0:1 I16:2 U16:2 F16:2 BF16:2 I32:4 "
    "U32:4 F32:4 I64:8 U64:8 F64:8"
)


def _safetensors(fh: IO[bytes], size: int) -> dict[str, Any]:
    """Parse the JSON header; check offsets and that the file is exactly as long as it says."""
    if size < 8:
        raise _ParseError("safetensors file shorter than its 8-byte header length")
    (length,) = struct.unpack("<Q", fh.read(8))
    if length > MAX_SAFETENSORS_HEADER:
        raise _ParseError(f"safetensors header length {length} exceeds the 100 MiB limit")
    if length > size - 8:
        raise _ParseError(f"safetensors header length {length} runs past the end of the file")
    raw = fh.read(length)
    try:
        header = json.loads(raw)
    except (ValueError, RecursionError) as exc:
        raise _ParseError(f"safetensors header is not valid JSON: {exc}") from None
    if not isinstance(header, dict):
        raise _ParseError("safetensors header is not a JSON object")
    metadata = header.pop("__metadata__", None) or {}
    if not isinstance(metadata, dict):
        raise _ParseError("safetensors __metadata__ is not an object")
    data_size = size - 8 - length
    dtypes: dict[str, int] = {}
    params = 0
    end_max = 0
    for name, spec in header.items():
        dtype, shape, offsets = _tensor_spec(name, spec)
        count = 1
        for dim in shape:
            count *= dim
        start, end = offsets
        if not 0 <= start <= end <= data_size:
            raise _ParseError(f"tensor {name!r}: data offsets {offsets} outside the data section")
        width = _SAFETENSORS_DTYPE_BYTES.get(dtype)
        if width is not None and end - start != count * width:
            raise _ParseError(f"tensor {name!r}: {end - start} bytes for {count} x {dtype}")
        dtypes[dtype] = dtypes.get(dtype, 0) + 1
        params += count
        end_max = max(end_max, end)
    if end_max != data_size:
        raise _ParseError(
            f"file is {size} bytes but its header describes {8 + length + end_max} "
            "(truncated or padded)"
        )
    return {
        "header_size": length,
        "tensor_count": len(header),
        "parameter_count": params,
        "dtypes": dict(sorted(dtypes.items())),
        "metadata": {str(k): str(v)[:1024] for k, v in list(metadata.items())[:256]},
        "data_size": data_size,
        "total_size": size,
    }


def _tensor_spec(name: str, spec: Any) -> tuple[str, list[int], tuple[int, int]]:
    if not isinstance(spec, dict):
        raise _ParseError(f"tensor {name!r}: entry is not an object")
    dtype, shape, offsets = spec.get("dtype"), spec.get("shape"), spec.get("data_offsets")
    if not isinstance(dtype, str):
        raise _ParseError(f"tensor {name!r}: dtype missing")
    if not isinstance(shape, list) or not all(
        isinstance(d, int) and not isinstance(d, bool) and d >= 0 for d in shape
    ):
        raise _ParseError(f"tensor {name!r}: shape is not a list of non-negative integers")
    if (
        not isinstance(offsets, list)
        or len(offsets) != 2
        or not all(isinstance(o, int) and not isinstance(o, bool) for o in offsets)
    ):
        raise _ParseError(f"tensor {name!r}: data_offsets is not [start, end]")
    return dtype, shape, (offsets[0], offsets[1])


# ---------------------------------------------------------------------------------------------
# GGUF


class _Cursor:
    """Buffered, bounds-checked reads over a file: never asks for more than the file holds."""

    def __init__(self, fh: IO[bytes], size: int, endian: str = "<") -> None:
        self.fh = fh
        self.size = size
        self.pos = 0
        self.endian = endian
        self._buf = b""
        self._buf_at = 0

    def need(self, n: int, what: str) -> None:
        if n < 0 or n > self.size - self.pos:
            raise _ParseError(f"{what} at offset {self.pos} runs past the end of the file")

    def read(self, n: int, what: str) -> bytes:
        self.need(n, what)
        rel = self.pos - self._buf_at
        if rel < 0 or rel + n > len(self._buf):
            self.fh.seek(self.pos)
            self._buf = self.fh.read(max(n, _CHUNK))
            self._buf_at = self.pos
            rel = 0
            if len(self._buf) < n:
                raise _ParseError(f"{what} at offset {self.pos}: file shorter than its size")
        self.pos += n
        return self._buf[rel : rel + n]

    def skip(self, n: int, what: str) -> None:
        self.need(n, what)
        self.pos += n

    def unpack(self, fmt: str, what: str) -> Any:
        fmt = self.endian + fmt
        return struct.unpack(fmt, self.read(struct.calcsize(fmt), what))[0]


_GGUF_SCALARS: Final = _numbered("0:B 1:b 2:H 3:h 4:I 5:i 6:f 7:? 10:Q 11:q 12:d")
_GGUF_TYPE_NAMES: Final = _numbered(
    "0:uint8 1:int8 2:uint16 3:int16 4:uint32 5:int32 6:float32 7:bool 8:string "
    "9:array 10:uint64 11:int64 12:float64"
)
GGML_TYPES: Final = _numbered(
    "0:F32 1:F16 2:Q4_0 3:Q4_1 6:Q5_0 7:Q5_1 8:Q8_0 9:Q8_1 10:Q2_K 11:Q3_K 12:Q4_K "
    "13:Q5_K 14:Q6_K 15:Q8_K 16:IQ2_XXS 17:IQ2_XS 18:IQ3_XXS 19:IQ1_S 20:IQ4_NL "
    "21:IQ3_S 22:IQ2_S 23:IQ4_XS 24:I8 25:I16 26:I32 27:I64 28:F64 29:IQ1_M 30:BF16 "
    "34:TQ1_0 35:TQ2_0 39:MXFP4"
)
"""ggml tensor types (ggml.h ``enum ggml_type``)."""
GGUF_FILE_TYPES: Final = _numbered(
    "0:ALL_F32 1:MOSTLY_F16 2:MOSTLY_Q4_0 3:MOSTLY_Q4_1 7:MOSTLY_Q8_0 8:MOSTLY_Q5_0 "
    "9:MOSTLY_Q5_1 10:MOSTLY_Q2_K 11:MOSTLY_Q3_K_S 12:MOSTLY_Q3_K_M 13:MOSTLY_Q3_K_L "
    "14:MOSTLY_Q4_K_S 15:MOSTLY_Q4_K_M 16:MOSTLY_Q5_K_S 17:MOSTLY_Q5_K_M "
    "18:MOSTLY_Q6_K 19:MOSTLY_IQ2_XXS 20:MOSTLY_IQ2_XS 21:MOSTLY_Q2_K_S "
    "22:MOSTLY_IQ3_XS 23:MOSTLY_IQ3_XXS 24:MOSTLY_IQ1_S 25:MOSTLY_IQ4_NL "
    "26:MOSTLY_IQ3_S 27:MOSTLY_IQ3_M 28:MOSTLY_IQ2_S 29:MOSTLY_IQ2_M 30:MOSTLY_IQ4_XS "
    "31:MOSTLY_IQ1_M 32:MOSTLY_BF16 36:MOSTLY_TQ1_0 37:MOSTLY_TQ2_0 "
    "38:MOSTLY_MXFP4_MOE"
)
"""llama.cpp ``enum llama_ftype`` (the ``general.file_type`` key)."""


def _gguf(fh: IO[bytes], size: int) -> dict[str, Any]:
    """Header, metadata and tensor infos of a GGUF file (v1-v3, either byte order)."""
    cur = _Cursor(fh, size)
    cur.skip(4, "magic")
    version = cur.unpack("I", "version")
    if version > 0xFFFF and struct.unpack(">I", struct.pack("<I", version))[0] <= 0xFFFF:
        cur.endian = ">"
        version = struct.unpack(">I", struct.pack("<I", version))[0]
    if version not in (1, 2, 3):
        raise _ParseError(f"unsupported GGUF version {version}")
    count_fmt = "I" if version == 1 else "Q"
    tensor_count = cur.unpack(count_fmt, "tensor count")
    kv_count = cur.unpack(count_fmt, "metadata count")
    width = struct.calcsize(count_fmt)
    if kv_count > MAX_GGUF_KV or kv_count * (width + 5) > size - cur.pos:
        raise _ParseError(f"GGUF metadata count {kv_count} is impossible for this file size")
    if tensor_count > MAX_GGUF_TENSORS or tensor_count * (width + 16) > size - cur.pos:
        raise _ParseError(f"GGUF tensor count {tensor_count} is impossible for this file size")
    metadata: dict[str, Any] = {}
    arrays: dict[str, dict[str, Any]] = {}
    for _ in range(kv_count):
        key = _gguf_string(cur, count_fmt, MAX_GGUF_KEY, "metadata key")
        vtype = cur.unpack("I", "value type")
        if vtype == 9:
            arrays[key] = _gguf_array(cur, count_fmt, depth=0)
            if "values" in arrays[key]:
                metadata[key] = arrays[key].pop("values")
        else:
            metadata[key] = _gguf_value(cur, vtype, count_fmt)
    params = 0
    types: dict[str, int] = {}
    max_end = 0
    for _ in range(tensor_count):
        name = _gguf_string(cur, count_fmt, MAX_GGUF_KEY, "tensor name")
        n_dims = cur.unpack("I", "tensor dimensions")
        if n_dims > MAX_GGUF_DIMS:
            raise _ParseError(f"tensor {name!r} claims {n_dims} dimensions")
        count = 1
        for _ in range(n_dims):
            count *= cur.unpack(count_fmt, "tensor dimension")
        ggml = cur.unpack("I", "tensor type")
        offset = cur.unpack("Q", "tensor offset")
        params += count
        label = GGML_TYPES.get(ggml, f"type{ggml}")
        types[label] = types.get(label, 0) + 1
        max_end = max(max_end, offset)
    alignment = metadata.get("general.alignment", 32)
    if not isinstance(alignment, int) or alignment <= 0 or alignment & (alignment - 1):
        raise _ParseError(f"general.alignment {alignment!r} is not a power of two")
    data_start = -(-cur.pos // alignment) * alignment
    if tensor_count and data_start + max_end > size:
        raise _ParseError("tensor data lies past the end of the file (truncated)")
    arch = metadata.get("general.architecture")
    file_type = metadata.get("general.file_type")
    facts: dict[str, Any] = {
        "version": version,
        "byte_order": "big" if cur.endian == ">" else "little",
        "tensor_count": tensor_count,
        "metadata_count": kv_count,
        "parameter_count": params,
        "tensor_types": dict(sorted(types.items())),
        "architecture": arch,
        "name": metadata.get("general.name"),
        "license": metadata.get("general.license"),
        "context_length": metadata.get(f"{arch}.context_length") if arch else None,
        "file_type": file_type,
        "quantization": GGUF_FILE_TYPES.get(file_type) if isinstance(file_type, int) else None,
        "metadata": {k: _short(v) for k, v in metadata.items()},
        "arrays": arrays,
        "header_size": cur.pos,
    }
    return facts


def _short(value: Any) -> Any:
    if isinstance(value, str):
        return value if len(value) <= 1024 else value[:1024] + "..."
    if isinstance(value, list):
        return [_short(v) for v in value]
    return value


def _gguf_string(cur: _Cursor, count_fmt: str, limit: int, what: str) -> str:
    length = cur.unpack(count_fmt, f"{what} length")
    if length > limit:
        raise _ParseError(f"{what} length {length} exceeds the {limit}-byte limit")
    return cur.read(length, what).decode("utf-8", errors="replace")


def _gguf_value(cur: _Cursor, vtype: int, count_fmt: str) -> Any:
    if vtype == 8:
        return _gguf_string(cur, count_fmt, MAX_GGUF_STRING, "string value")
    fmt = _GGUF_SCALARS.get(vtype)
    if fmt is None:
        raise _ParseError(f"unknown GGUF value type {vtype}")
    return cur.unpack(fmt, "value")


def _gguf_array(cur: _Cursor, count_fmt: str, depth: int) -> dict[str, Any]:
    """Skip an array without materialising it; keep the values of short ones."""
    etype = cur.unpack("I", "array element type")
    count = cur.unpack(count_fmt, "array length")
    out: dict[str, Any] = {"type": _GGUF_TYPE_NAMES.get(etype, str(etype)), "count": count}
    if etype in _GGUF_SCALARS:
        width = struct.calcsize(_GGUF_SCALARS[etype])
        if count <= 64:
            out["values"] = [_gguf_value(cur, etype, count_fmt) for _ in range(count)]
        else:
            cur.skip(count * width, "array data")
    elif etype == 8:
        if count > MAX_GGUF_ARRAY_STRINGS or count * 8 > cur.size - cur.pos:
            raise _ParseError(f"string array of {count} items is impossible or too long")
        if count <= 64:
            out["values"] = [
                _gguf_string(cur, count_fmt, MAX_GGUF_STRING, "string") for _ in range(count)
            ]
        else:
            _skip_strings(cur, count, count_fmt)
    elif etype == 9 and depth < 2:
        if count > MAX_GGUF_ARRAY_STRINGS or count * 12 > cur.size - cur.pos:
            raise _ParseError(f"nested array of {count} items is impossible or too long")
        for _ in range(count):
            _gguf_array(cur, count_fmt, depth + 1)
    else:
        raise _ParseError(f"unsupported GGUF array element type {etype}")
    return out


def _skip_strings(cur: _Cursor, count: int, count_fmt: str) -> None:
    """Step over ``count`` length-prefixed strings (vocabularies) reading only the lengths."""
    width = 4 if count_fmt == "I" else 8
    unpack = struct.Struct(cur.endian + count_fmt).unpack_from
    for _ in range(count):
        cur.need(width, "string length")
        rel = cur.pos - cur._buf_at
        if rel < 0 or rel + width > len(cur._buf):
            cur.read(width, "string length")
            cur.pos -= width
            rel = 0
        (length,) = unpack(cur._buf, rel)
        if length > MAX_GGUF_STRING:
            raise _ParseError(f"string length {length} exceeds the limit")
        cur.skip(width + length, "string")


# ---------------------------------------------------------------------------------------------
# numpy .npy


def _npy_header(src: IO[bytes], size: int) -> tuple[dict[str, Any], int]:
    """``(header dict, header end offset)`` of a ``.npy`` stream positioned at its start."""
    head = src.read(10)
    if len(head) < 10 or head[:6] != b"\x93NUMPY":
        raise _ParseError("not a .npy file (magic missing)")
    major = head[6]
    if major == 1:
        (hlen,) = struct.unpack_from("<H", head, 8)
        start = 10
    elif major in (2, 3):
        more = src.read(2)
        if len(more) < 2:
            raise _ParseError(".npy header truncated")
        (hlen,) = struct.unpack("<I", head[8:10] + more)
        start = 12
    else:
        raise _ParseError(f"unsupported .npy version {major}")
    if hlen > MAX_NPY_HEADER or start + hlen > size:
        raise _ParseError(f".npy header length {hlen} is too large or past the end of the file")
    raw = src.read(hlen)
    if len(raw) < hlen:
        raise _ParseError(".npy header truncated")
    try:
        text = raw.decode("utf-8" if major == 3 else "latin-1")
        header = ast.literal_eval(text.strip())
    except (ValueError, SyntaxError, MemoryError, RecursionError, TypeError) as exc:
        raise _ParseError(f".npy header is not a Python literal: {exc}") from None
    if not isinstance(header, dict) or not {"descr", "fortran_order", "shape"} <= header.keys():
        raise _ParseError(".npy header lacks descr, fortran_order or shape")
    return header, start + hlen


def _has_object(descr: Any) -> bool:
    if isinstance(descr, str):
        return descr.lstrip("<>|=")[:1] == "O"
    if isinstance(descr, list):
        return any(
            isinstance(item, tuple) and len(item) >= 2 and _has_object(item[1]) for item in descr
        )
    return False


def _npy(path: str, fh: IO[bytes], size: int) -> FileInfo:
    try:
        header, end = _npy_header(fh, size)
    except _ParseError as exc:
        return FileInfo(path, "numpy", size, problems=(Problem("", str(exc)),))
    facts = _npy_facts(header)
    if not facts["object_dtype"]:
        return FileInfo(path, "numpy", size, facts)
    fh.seek(end)
    scan = _scan_pickle(fh, size - end, "")
    facts.update(scan.facts())
    return FileInfo(
        path,
        "numpy",
        size,
        facts,
        imports=tuple(scan.imports),
        problems=scan.problems(""),
        pickle_bearing=True,
    )


def _npy_facts(header: dict[str, Any]) -> dict[str, Any]:
    shape = header.get("shape")
    count = 1
    if isinstance(shape, tuple):
        for dim in shape:
            count *= dim if isinstance(dim, int) else 0
    return {
        "descr": str(header.get("descr"))[:256],
        "shape": list(shape) if isinstance(shape, tuple) else None,
        "fortran_order": bool(header.get("fortran_order")),
        "element_count": count,
        "object_dtype": _has_object(header.get("descr")),
    }


# ---------------------------------------------------------------------------------------------
# Zip archives (torch ``*/data.pkl``, ``.npz``)


_READ_ERRORS: Final = (
    zipfile.BadZipFile,
    OSError,
    RuntimeError,
    ValueError,
    EOFError,
    NotImplementedError,
    zlib.error,
)
"""What zipfile raises on corrupt, encrypted or unsupported members."""


def _zip_directory_ok(fh: IO[bytes], size: int) -> str:
    """Check the end-of-central-directory record before zipfile reads the whole directory."""
    tail_len = min(size, 65_557)
    fh.seek(size - tail_len)
    tail = fh.read(tail_len)
    at = tail.rfind(b"PK\x05\x06")
    if at < 0 or at + 22 > len(tail):
        return "zip end-of-central-directory record not found (truncated)"
    entries, cd_size = struct.unpack_from("<HI", tail, at + 10)
    if entries == 0xFFFF or cd_size == 0xFFFFFFFF:
        loc = at - 20
        if loc < 0 or tail[loc : loc + 4] != b"PK\x06\x07":
            return "zip64 locator missing"
        (z64_at,) = struct.unpack_from("<Q", tail, loc + 8)
        if z64_at + 56 > size:
            return "zip64 directory record past the end of the file"
        fh.seek(z64_at)
        rec = fh.read(56)
        if rec[:4] != b"PK\x06\x06":
            return "zip64 directory record missing"
        entries, cd_size = struct.unpack_from("<QQ", rec, 32)
    if entries > MAX_ZIP_MEMBERS:
        return f"zip lists {entries} members (limit {MAX_ZIP_MEMBERS})"
    if cd_size > MAX_ZIP_DIRECTORY or cd_size > size:
        return f"zip central directory of {cd_size} bytes is too large"
    return ""


def _zip(path: str, fh: IO[bytes], size: int, ext: str) -> FileInfo:
    problem = _zip_directory_ok(fh, size)
    if problem:
        return FileInfo(path, "zip", size, problems=(Problem("", problem),))
    fh.seek(0)
    try:
        archive = zipfile.ZipFile(fh)
    except _READ_ERRORS as exc:
        return FileInfo(path, "zip", size, problems=(Problem("", f"bad zip: {exc}"),))
    with archive:
        members = archive.infolist()
        names = [m.filename for m in members]
        torch_pickles = [n for n in names if n == "data.pkl" or n.endswith("/data.pkl")]
        fmt = (
            "torch-zip"
            if torch_pickles
            else "numpy"
            if ext == ".npz" or (names and all(n.endswith(".npy") for n in names))
            else "zip"
        )
        imports: list[ImportedGlobal] = []
        problems: list[Problem] = []
        scanned: list[str] = []
        facts: dict[str, Any] = {"members": len(members)}
        for info in members:
            kind = _member_kind(archive, info)
            if kind is None:
                continue
            got, bad, pickled = _scan_member(archive, info, kind)
            imports += got
            problems += bad
            if pickled:
                scanned.append(info.filename)
        if torch_pickles:
            prefix = torch_pickles[0][: -len("data.pkl")]
            facts["torch_archive"] = prefix.rstrip("/")
            facts["torchscript"] = any(n.startswith(f"{prefix}code/") for n in names)
            facts["storages"] = sum(1 for n in names if n.startswith(f"{prefix}data/"))
            version = _small_member(archive, f"{prefix}version")
            if version is not None:
                facts["torch_format_version"] = version
        facts["pickle_members"] = scanned
    return FileInfo(
        path,
        fmt,
        size,
        facts,
        imports=tuple(imports),
        problems=tuple(problems),
        pickle_bearing=bool(scanned) or bool(imports),
    )


def _member_kind(archive: zipfile.ZipFile, info: zipfile.ZipInfo) -> str | None:
    """``pickle``, ``sniffed`` (starts like one), ``npy`` or ``None`` for raw data."""
    name = info.filename.lower()
    if info.is_dir():
        return None
    if name.endswith((".pkl", ".pickle")):
        return "pickle"
    if name.endswith(".npy"):
        return "npy"
    if info.file_size < 2:
        return None
    try:
        with archive.open(info) as member:
            magic = member.read(6)
    except _READ_ERRORS:
        return "pickle"
    if magic == b"\x93NUMPY":
        return "npy"
    if magic[0] == 0x80 and magic[1] <= 5:
        return "sniffed"
    return None


def _scan_member(
    archive: zipfile.ZipFile, info: zipfile.ZipInfo, kind: str
) -> tuple[list[ImportedGlobal], list[Problem], bool]:
    """``(imports, problems, holds a pickle)`` for one archive member."""
    name = info.filename
    if info.file_size > MAX_PICKLE_MEMBER:
        return [], [Problem(name, f"member of {info.file_size} bytes is too large to scan")], True
    try:
        with archive.open(info) as member:
            if kind == "npy":
                try:
                    header, end = _npy_header(member, info.file_size)
                except _ParseError as exc:
                    return [], [Problem(name, str(exc))], False
                if not _npy_facts(header)["object_dtype"]:
                    return [], [], False
                scan = _scan_pickle(member, info.file_size - end, name)
            else:
                scan = _scan_pickle(member, info.file_size, name)
    except _READ_ERRORS as exc:
        return [], [Problem(name, f"cannot read archive member: {exc}")], True
    if kind == "sniffed" and scan.not_a_pickle():
        return [], [], False
    return scan.imports, list(scan.problems(name)), True


def _small_member(archive: zipfile.ZipFile, name: str) -> str | None:
    try:
        info = archive.getinfo(name)
        if info.file_size > 64:
            return None
        with archive.open(info) as member:
            return member.read(64).decode("ascii", errors="replace").strip()
    except (KeyError, *_READ_ERRORS):
        return None


# ---------------------------------------------------------------------------------------------
# Pickles


def _pickle_file(path: str, fh: IO[bytes], size: int, lenient: bool) -> FileInfo | None:
    scan = _scan_pickle(fh, size, "")
    if lenient and scan.not_a_pickle():
        return None
    return FileInfo(
        path,
        "pickle",
        size,
        scan.facts(),
        imports=tuple(scan.imports),
        problems=scan.problems(""),
        pickle_bearing=True,
    )


class _Long:
    """A string too long to be a module or attribute name (kept by reference only)."""


class _Global:
    """What GLOBAL / STACK_GLOBAL push: remembers which import record it came from."""

    __slots__ = ("key",)

    def __init__(self, key: tuple[str, str, str]) -> None:
        self.key = key


_UNKNOWN: Final = object()
_LONG: Final = _Long()
_MARK_OPS: Final = {
    op.name: op.stack_before.index(pickletools.markobject)
    for op in pickletools.opcodes
    if pickletools.markobject in op.stack_before
}
_OPS: Final = {ord(op.code): op for op in pickletools.opcodes}
_STR_OPS: Final = {"SHORT_BINUNICODE", "BINUNICODE", "BINUNICODE8", "SHORT_BINSTRING", "BINSTRING"}
_PREFIX: Final = {-2: ("<B", 1), -3: ("<i", 4), -4: ("<I", 4), -5: ("<Q", 8)}


@dataclass
class _PickleScan:
    """What the opcode walk found in one stream of consecutive pickles."""

    member: str
    imports: list[ImportedGlobal] = field(default_factory=list)
    protocols: set[int] = field(default_factory=set)
    pickles: int = 0
    opcodes: int = 0
    error: str = ""
    torch_legacy: bool = False
    _seen: dict[tuple[str, str, str], int] = field(default_factory=dict)

    def not_a_pickle(self) -> bool:
        return self.pickles == 0 and not self.imports

    def facts(self) -> dict[str, Any]:
        return {
            "pickles": self.pickles,
            "protocols": sorted(self.protocols),
            "opcodes": self.opcodes,
            "torch_legacy": self.torch_legacy,
            "globals": sorted({i.qualname for i in self.imports}),
        }

    def problems(self, member: str) -> tuple[Problem, ...]:
        return (Problem(member, self.error),) if self.error else ()

    def record(self, module: str, name: str, opcode: str) -> tuple[str, str, str]:
        key = (module, name, opcode)
        if key not in self._seen and len(self.imports) < MAX_IMPORTS_KEPT:
            verdict, reason = judge_global(module, name)
            self._seen[key] = len(self.imports)
            self.imports.append(
                ImportedGlobal(module, name, self.member, opcode, opcode == "INST", verdict, reason)
            )
        return key

    def called(self, value: object) -> None:
        if isinstance(value, _Global) and value.key in self._seen:
            i = self._seen[value.key]
            imp = self.imports[i]
            if not imp.called:
                self.imports[i] = ImportedGlobal(
                    imp.module, imp.name, imp.member, imp.opcode, True, imp.verdict, imp.reason
                )


class _Source:
    """A bounded view of a stream: reads are checked against what remains, skips never buffer."""

    def __init__(self, fh: IO[bytes], size: int) -> None:
        self.fh = fh
        self.remaining = size
        self.pos = 0

    def read(self, n: int) -> bytes:
        if n > self.remaining:
            raise _ParseError(f"pickle truncated at byte {self.pos} (wanted {n} more bytes)")
        data = self.fh.read(n)
        if len(data) != n:
            raise _ParseError(f"pickle truncated at byte {self.pos}")
        self.remaining -= n
        self.pos += n
        return data

    def skip(self, n: int) -> None:
        if n > self.remaining:
            raise _ParseError(f"pickle truncated at byte {self.pos} (wanted {n} more bytes)")
        left = n
        while left:
            got = len(self.fh.read(min(left, _CHUNK)))
            if not got:
                raise _ParseError(f"pickle truncated at byte {self.pos}")
            left -= got
        self.remaining -= n
        self.pos += n

    def line(self) -> tuple[bytes, bool]:
        """One newline-terminated argument: ``(bytes, complete)``, at most 1 KiB kept."""
        kept = b""
        total = 0
        while True:
            if self.remaining <= 0:
                raise _ParseError(f"pickle truncated at byte {self.pos} (no newline)")
            chunk = self.fh.readline(min(self.remaining, 64 * 1024))
            if not chunk:
                raise _ParseError(f"pickle truncated at byte {self.pos} (no newline)")
            self.remaining -= len(chunk)
            self.pos += len(chunk)
            total += len(chunk)
            if len(kept) <= MAX_KEPT_STRING:
                kept += chunk[: MAX_KEPT_STRING + 1 - len(kept)]
            if chunk.endswith(b"\n"):
                if total - 1 <= MAX_KEPT_STRING:
                    return kept[:-1], True
                return kept[:MAX_KEPT_STRING], False


def _scan_pickle(fh: IO[bytes], size: int, member: str) -> _PickleScan:
    """Walk every consecutive pickle in the stream; a parse error ends the walk."""
    src = _Source(fh, size)
    scan = _PickleScan(member)
    limit = MAX_PICKLES_PER_STREAM
    while src.remaining > 0 and scan.pickles < limit:
        try:
            first_int = _Machine(src, scan).run()
        except _ParseError as exc:
            if scan.pickles == 0:
                scan.error = str(exc)
            break
        scan.pickles += 1
        if scan.pickles == 1 and first_int == _TORCH_LEGACY_MAGIC:
            scan.torch_legacy = True
            limit = 5
    return scan


class _Machine:
    """The pickle machine run symbolically: the stack, marks and memo hold strings and globals."""

    def __init__(self, src: _Source, scan: _PickleScan) -> None:
        self.src = src
        self.scan = scan
        self.stack: list[object] = []
        self.marks: list[list[object]] = []
        self.memo: dict[int, object] = {}

    def pop(self, n: int = 1) -> list[object]:
        stack = self.stack
        if len(stack) < n:
            raise _ParseError(f"stack underflow at byte {self.src.pos}")
        taken = stack[len(stack) - n :]
        del stack[len(stack) - n :]
        return taken

    def pop_mark(self) -> list[object]:
        if not self.marks:
            raise _ParseError(f"MARK missing at byte {self.src.pos}")
        items, self.stack = self.stack, self.marks.pop()
        return items

    def remember(self, index: object) -> None:
        if not isinstance(index, int) or index < 0:
            raise _ParseError(f"bad memo index at byte {self.src.pos}")
        if not self.stack:
            raise _ParseError(f"memo store with an empty stack at byte {self.src.pos}")
        if index not in self.memo and len(self.memo) >= MAX_MEMO:
            raise _ParseError(f"memo grows beyond {MAX_MEMO} entries")
        self.memo[index] = self.stack[-1]

    def run(self) -> int | None:
        """Execute opcodes up to STOP; return the first integer (the torch legacy magic)."""
        src, scan = self.src, self.scan
        first_int: int | None = None
        while True:
            scan.opcodes += 1
            if scan.opcodes > MAX_PICKLE_OPS:
                raise _ParseError(f"more than {MAX_PICKLE_OPS} opcodes; not fully scanned")
            code = src.read(1)[0]
            op = _OPS.get(code)
            if op is None:
                raise _ParseError(f"invalid pickle opcode 0x{code:02x} at byte {src.pos - 1}")
            value = _read_arg(src, op)
            name = op.name
            if name == "STOP":
                self.pop()
                return first_int
            if name == "LONG1" and first_int is None and scan.pickles == 0:
                first_int = value if isinstance(value, int) else None
            self.step(name, op, value)

    def step(self, name: str, op: Any, value: object) -> None:
        """Apply one opcode's effect on the symbolic stack."""
        stack = self.stack
        scan = self.scan
        if name in ("GLOBAL", "INST"):
            module, attr = value if isinstance(value, tuple) else (COMPUTED, COMPUTED)
            key = scan.record(str(module), str(attr), name)
            if name == "INST":
                self.pop_mark()
                self.stack.append(_UNKNOWN)
            else:
                stack.append(_Global(key))
        elif name == "STACK_GLOBAL":
            module_v, attr_v = self.pop(2)
            key = scan.record(
                module_v if isinstance(module_v, str) else COMPUTED,
                attr_v if isinstance(attr_v, str) else COMPUTED,
                name,
            )
            stack.append(_Global(key))
        elif name in ("EXT1", "EXT2", "EXT4"):
            stack.append(_Global(scan.record("copyreg", f"extension[{value}]", "EXT")))
        elif name in _STR_OPS or name in ("STRING", "UNICODE"):
            stack.append(value)
        elif name in ("PUT", "BINPUT", "LONG_BINPUT"):
            self.remember(value)
        elif name == "MEMOIZE":
            self.remember(len(self.memo))
        elif name in ("GET", "BINGET", "LONG_BINGET"):
            stack.append(self.memo.get(value, _UNKNOWN) if isinstance(value, int) else _UNKNOWN)
        elif name == "MARK":
            self.marks.append(stack)
            self.stack = []
        elif name == "POP":
            if stack:
                stack.pop()
            else:
                self.pop_mark()
        elif name == "DUP":
            if not stack:
                raise _ParseError(f"DUP on an empty stack at byte {self.src.pos}")
            stack.append(stack[-1])
        elif name in ("REDUCE", "NEWOBJ"):
            scan.called(self.pop(2)[0])
            stack.append(_UNKNOWN)
        elif name == "NEWOBJ_EX":
            scan.called(self.pop(3)[0])
            stack.append(_UNKNOWN)
        elif name == "OBJ":
            items = self.pop_mark()
            if not items:
                raise _ParseError(f"OBJ without a class at byte {self.src.pos}")
            scan.called(items[0])
            self.stack.append(_UNKNOWN)
        elif name == "PROTO":
            if isinstance(value, int):
                scan.protocols.add(value)
        elif name in _MARK_OPS:
            self.pop_mark()
            self.pop(_MARK_OPS[name])
            self.stack.extend([_UNKNOWN] * len(op.stack_after))
        else:
            self.pop(len(op.stack_before))
            stack.extend([_UNKNOWN] * len(op.stack_after))


def _read_arg(src: _Source, op: Any) -> Any:
    """The argument of one opcode; long payloads are skipped, never held in memory."""
    arg = op.arg
    if arg is None:
        return None
    n = arg.n
    if n == pickletools.UP_TO_NEWLINE:
        first, complete = src.line()
        if arg.name == "stringnl_noescape_pair":
            second, complete2 = src.line()
            if not (complete and complete2):
                return (COMPUTED, COMPUTED)
            try:
                return (first.decode("utf-8"), second.decode("utf-8"))
            except UnicodeDecodeError:
                raise _ParseError(f"{op.name} name is not UTF-8 at byte {src.pos}") from None
        if op.name in ("PUT", "GET"):
            try:
                return int(first)
            except ValueError:
                raise _ParseError(f"{op.name} index is not a number at byte {src.pos}") from None
        if op.name == "STRING":
            return _proto0_string(first, complete)
        if op.name == "UNICODE":
            return first.decode("raw-unicode-escape", errors="replace") if complete else _LONG
        return None
    if n > 0:
        data = src.read(n)
        if op.name in ("PROTO", "BINPUT", "BINGET", "EXT1"):
            return data[0]
        if op.name in ("LONG_BINPUT", "LONG_BINGET", "EXT2"):
            return int.from_bytes(data, "little")
        if op.name == "EXT4":
            return struct.unpack("<i", data)[0]
        return None
    fmt, width = _PREFIX[n]
    (length,) = struct.unpack(fmt, src.read(width))
    if length < 0:
        raise _ParseError(f"{op.name} has a negative length at byte {src.pos}")
    if op.name in _STR_OPS and length <= MAX_KEPT_STRING:
        raw = src.read(length)
        if op.name in ("SHORT_BINSTRING", "BINSTRING"):
            return raw.decode("latin-1")
        return raw.decode("utf-8", errors="surrogatepass") if _utf8(raw) else _LONG
    if op.name == "LONG1" and length <= 16:
        return int.from_bytes(src.read(length), "little", signed=True)
    src.skip(length)
    return _LONG if op.name in _STR_OPS else None


def _utf8(raw: bytes) -> bool:
    try:
        raw.decode("utf-8", errors="surrogatepass")
    except UnicodeDecodeError:
        return False
    return True


def _proto0_string(body: bytes, complete: bool) -> object:
    if not complete:
        return _LONG
    if len(body) < 2 or body[:1] != body[-1:] or body[:1] not in (b"'", b'"'):
        raise _ParseError("STRING argument is not quoted")
    try:
        return codecs.escape_decode(body[1:-1])[0].decode("latin-1")
    except ValueError:
        raise _ParseError("STRING argument has a bad escape") from None
