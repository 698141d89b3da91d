"""Fallback rung ``python-audit-hooks``: where no namespace can be built (a default Docker CI job),
audit and deny egress of Python processes with ``sys.addaudithook``.

A ``sitecustomize`` module put first on ``PYTHONPATH`` installs a hook in every Python process the
workload starts: ``socket.getaddrinfo`` of a non-loopback name fails like NXDOMAIN and
``socket.connect``/``sendto`` to a non-loopback address fail with "connection refused", each
recorded (with pid and command line) to a log the auditor reads afterwards. Weaker than the
sandbox, and said so in the report: non-Python programs, ``python -I``/``-S`` and native
extensions that open sockets themselves are not seen, and a hostile workload can remove the hook.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import tempfile
import time
from pathlib import Path

from airgap_cli.egress.events import Attempt, Process

RUNG = "python-audit-hooks"
GUARANTEE = (
    "Advisory only: DNS lookups and socket connects/sends of Python processes that load "
    "site-packages were recorded and refused (loopback excepted). NOT covered: non-Python "
    "programs, Python started with -I or -S, sockets opened by native code, and any workload "
    "that removes the hook. Use the namespace sandbox (see `airgap egress doctor`) for evidence."
)

_SITECUSTOMIZE = r'''
"""Installed by airgap egress (rung python-audit-hooks): record and refuse egress."""
import json as _json, os as _os, socket as _socket, sys as _sys, time as _time

_LOG = _os.environ.get("AIRGAP_EGRESS_LOG", "")
_START = float(_os.environ.get("AIRGAP_EGRESS_START", "0") or 0)

def _literal(host):
    for family in (_socket.AF_INET, _socket.AF_INET6):
        try:
            _socket.inet_pton(family, str(host).split("%")[0])
            return True
        except (OSError, ValueError):
            pass
    return False

def _loopback(host):
    host = str(host or "")
    return host in ("localhost", "::1", "") or host.startswith("127.") or host.endswith(".localhost")

def _write(protocol, destination, port, kind):
    try:
        with open(_LOG, "a") as log:
            log.write(_json.dumps({"time": _time.time() - _START, "protocol": protocol,
                                   "destination": destination, "port": port, "kind": kind,
                                   "pid": _os.getpid(), "ppid": _os.getppid(),
                                   "cmdline": [_sys.executable] + _sys.argv}) + "\n")
    except OSError:
        pass

def _hook(event, args):
    if event == "socket.getaddrinfo":
        host, port = args[0], args[1]
        if isinstance(host, bytes):
            host = host.decode("idna", "replace")
        if host is not None and not _loopback(host) and not _literal(host):
            _write("dns", str(host).lower().rstrip("."), None, "dns")
            raise _socket.gaierror(_socket.EAI_NONAME, "airgap: egress denied")
    elif event in ("socket.connect", "socket.sendto"):
        sock, address = args[0], args[-1]
        if sock.family not in (_socket.AF_INET, _socket.AF_INET6) or not isinstance(address, tuple):
            return
        host, port = address[0], address[1]
        if _loopback(host):
            return
        protocol = "udp" if sock.type == _socket.SOCK_DGRAM else "tcp"
        _write(protocol, str(host), int(port), "direct-ip")
        raise ConnectionRefusedError(111, "airgap: egress denied")

if _LOG:
    _sys.addaudithook(_hook)
'''


def run_with_hooks(argv: list[str]) -> tuple[int, list[Attempt], float]:
    """Run ``argv`` with the hook installed; (exit status, attempts, seconds)."""
    workdir = Path(tempfile.mkdtemp(prefix="airgap-hooks-"))
    try:
        (workdir / "sitecustomize.py").write_text(_SITECUSTOMIZE)
        log = workdir / "egress.jsonl"
        log.touch()
        env = dict(os.environ)
        env["PYTHONPATH"] = os.pathsep.join(
            p for p in (str(workdir), env.get("PYTHONPATH", "")) if p
        )
        env["AIRGAP_EGRESS_LOG"] = str(log)
        started = time.time()
        env["AIRGAP_EGRESS_START"] = repr(started)
        try:
            status = subprocess.call(argv, env=env)
        except OSError as exc:
            status = 127 if isinstance(exc, FileNotFoundError) else 126
        if status < 0:
            status = 128 - status
        return status, _read_log(log), time.time() - started
    finally:
        shutil.rmtree(workdir, ignore_errors=True)


def _read_log(log: Path) -> list[Attempt]:
    attempts = []
    for line in log.read_text(encoding="utf-8", errors="replace").splitlines():
        try:
            entry = json.loads(line)
        except json.JSONDecodeError:
            continue
        process = Process(int(entry["pid"]), tuple(str(a) for a in entry.get("cmdline", [])))
        attempts.append(
            Attempt(
                time=float(entry.get("time", 0.0)),
                protocol=str(entry["protocol"]),
                kind=str(entry["kind"]),
                destination=str(entry["destination"]),
                address="" if entry["protocol"] == "dns" else str(entry["destination"]),
                port=entry.get("port"),
                process=process,
                chain=(process,),
            )
        )
    return attempts
