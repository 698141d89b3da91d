"""The allowed path for address ranges without root: slirp4netns with policy routing.

The auditor runs as ``nobody`` inside a network namespace the test creates (a veth address
10.77.0.1 holds the test's own servers), so slirp4netns's host sockets never leave it.
"""

from __future__ import annotations

import fcntl
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest

from airgap_cli.egress import slirp
from airgap_cli.egress.policy import parse_allow
from airgap_cli.egress.sandbox import SandboxError

from ..conftest import null_device_problem

PY = sys.executable
MIRROR = "10.77.0.1"
needs_slirp = pytest.mark.skipif(
    shutil.which("slirp4netns") is None,
    reason="slirp4netns not installed (apt-get install slirp4netns; `make test` does it as root)",
)
ROOT_MARKS = (
    pytest.mark.root,
    pytest.mark.skipif(os.geteuid() != 0, reason="needs root to create the test's namespace"),
    pytest.mark.skipif(
        not all(shutil.which(tool) for tool in ("setpriv", "unshare", "bash", "pgrep")),
        reason="setpriv, unshare, bash or pgrep missing",
    ),
    needs_slirp,
)


def as_nobody_in_a_test_namespace(test: Callable[..., None]) -> Callable[..., None]:
    """Marks of the tests that build a namespace as root and run the auditor as nobody."""
    for mark in ROOT_MARKS:
        test = mark(test)
    return test


DRIVER = r'''
"""Runs as nobody: the test's servers on 10.77.0.1, then `run_workload` with allowed ranges."""
import json, os, socket, sys, threading
from airgap_cli.egress import auditor
from airgap_cli.egress.auditor import AuditOptions
from airgap_cli.egress.policy import Allowlist, parse_allow
from airgap_cli.egress.run import run_workload

out, link, mode = sys.argv[1], sys.argv[2], sys.argv[3]
mirror = socket.create_server(("10.77.0.1", 0))
other = socket.create_server(("10.77.0.1", 0))  # listening, but not allowed
udp = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
udp.bind(("10.77.0.1", 0))
port, other_port, udp_port = mirror.getsockname()[1], other.getsockname()[1], udp.getsockname()[1]

def serve_tcp():
    while True:
        conn, _ = mirror.accept()
        conn.sendall(b"mirror-ok\n")
        conn.close()

def serve_udp():
    while True:
        _, peer = udp.recvfrom(100)
        udp.sendto(b"U", peer)

for target in (serve_tcp, serve_udp):
    threading.Thread(target=target, daemon=True).start()

# Attribution on the routed path is best-effort: slirp4netns answers the packets, the recorder
# reads copies of them, so a sender that has exited before the recorder got to its flow is not
# named. What is tested is the naming of a live sender: the workload keeps its sockets open
# until the recorder has recorded the allowed UDP flow (every earlier flow is recorded before it),
# however long a loaded machine makes that take.
recorded = out + ".recorded"
record = auditor.Auditor.record


def record_and_tell(self, attempt):
    record(self, attempt)
    if attempt.verdict == "allowed" and attempt.protocol == "udp":
        open(recorded, "w").close()


auditor.Auditor.record = record_and_tell
if mode == "traffic":
    script = (
        f"exec 3<>/dev/tcp/10.77.0.1/{port} && read -r line <&3 && echo \"$line\"\n"
        f"(exec 3<>/dev/tcp/10.77.0.1/{other_port}) 2>/dev/null && echo LEAK || echo denied-port\n"
        "(exec 3<>/dev/tcp/203.0.113.5/443) 2>/dev/null && echo LEAK || echo denied-other\n"
        f"exec 4<>/dev/udp/10.77.0.1/{udp_port}; echo ping >&4; read -t 60 -N 1 -r reply <&4\n"
        "echo \"$reply\"\n"
        # Builtins only (no fork): wait for the recorder, at most a minute. A read that times
        # out returns 142, which must not become the workload's exit status.
        f"until [ -e {recorded} ] || ((SECONDS > 60)); do read -t 0.05 -N 1 -u 4 _ || :; done\n"
        f"[ -e {recorded} ] || echo not-recorded\n"
    )
else:  # "sleep": the test kills us
    script = f"exec 3<>/dev/tcp/10.77.0.1/{port}; echo $$ > {out}.pid; exec sleep {mode}"
specs = (f"tcp:10.77.0.0/24:{port}", f"udp:10.77.0.1:{udp_port}")
allow = Allowlist([parse_allow(spec) for spec in specs])
stdout = open(out + ".stdout", "w")
os.dup2(stdout.fileno(), 1)
run = run_workload(
    ["bash", "-c", script],
    AuditOptions(is_allowed=allow.allows, routed_cidrs=specs, link=link),
)
leftovers = []
for entry in os.listdir("/proc"):
    if entry.isdigit():
        try:
            stat = open(f"/proc/{entry}/stat").read()
        except OSError:
            continue
        if "(slirp4netns)" in stat and int(stat.rsplit(")", 1)[1].split()[1]) == os.getpid():
            leftovers.append(int(entry))
details = run.details()
details["ports"] = {"mirror": port, "other": other_port, "udp": udp_port}
details["slirp_children_left"] = leftovers
with open(out, "w") as handle:
    json.dump(details, handle)
'''


@contextmanager
def _tun_mode(mode: int) -> Iterator[None]:
    """/dev/net/tun at ``mode`` (machine-wide: the same lock as tests/egress/test_run.py)."""
    with open("/tmp/airgap-tests-dev-net-tun.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        before = os.stat("/dev/net/tun").st_mode & 0o777
        os.chmod("/dev/net/tun", mode)
        try:
            yield
        finally:
            os.chmod("/dev/net/tun", before)
            fcntl.flock(lock, fcntl.LOCK_UN)


def _driver_command(workdir: Path, link: str, mode: str) -> list[str]:
    """`unshare -n` a namespace with 10.77.0.1 on a veth, then exec the driver as nobody."""
    (workdir / "driver.py").write_text(DRIVER)
    setup = (
        "ip link set lo up && ip link add airgapt0 type veth peer name airgapt1 && "
        f"ip addr add {MIRROR}/24 dev airgapt0 && ip link set airgapt0 up && "
        "ip link set airgapt1 up && exec setpriv --reuid=65534 --regid=65534 --clear-groups "
        '"$0" "$@"'
    )
    return [
        "unshare",
        "--net",
        "sh",
        "-c",
        setup,
        PY,
        str(workdir / "driver.py"),
        str(workdir / "run.json"),
        link,
        mode,
    ]


@pytest.fixture
def workdir() -> Iterator[Path]:
    # slirp4netns and the workload run as nobody with /dev/null as stdio: without a usable one
    # they fail in ways that look like slirp's (EACCES from Popen), so say so first.
    problem = null_device_problem()
    assert problem is None, f"{problem}: the machine needs `mknod -m 666 /dev/null c 1 3`"
    path = Path(tempfile.mkdtemp(prefix="airgap-slirp-"))  # pytest's tmp is root-only
    path.chmod(0o777)
    yield path
    shutil.rmtree(path, ignore_errors=True)


@as_nobody_in_a_test_namespace
@pytest.mark.parametrize(
    ("link", "rung"), [("tun", "userns+netns+tun"), ("veth", "userns+netns+veth")]
)
def test_allowed_range_flows_through_slirp_and_everything_else_is_denied(
    workdir: Path, link: str, rung: str
) -> None:
    with _tun_mode(0o666):
        result = subprocess.run(
            _driver_command(workdir, link, "traffic"), capture_output=True, text=True, timeout=300
        )
    assert result.returncode == 0, result.stderr
    egress: dict[str, Any] = json.loads((workdir / "run.json").read_text())
    ports = egress["ports"]
    assert egress["rung"] == rung and egress["exit_status"] == 0
    # The allowed TCP port and UDP flow really reached the test's servers; the same host on
    # another port and an outside address went to the auditor instead.
    assert (workdir / "run.json.stdout").read_text().split() == [
        "mirror-ok",
        "denied-port",
        "denied-other",
        "U",
    ]
    verdicts = {(a["protocol"], a["destination"], a["port"]): a for a in egress["attempts"]}
    assert verdicts[("tcp", MIRROR, ports["mirror"])]["verdict"] == "allowed"
    assert verdicts[("udp", MIRROR, ports["udp"])]["verdict"] == "allowed"
    assert verdicts[("tcp", MIRROR, ports["other"])]["verdict"] == "denied"
    assert verdicts[("tcp", "203.0.113.5", 443)]["verdict"] == "denied"
    for key in (("tcp", MIRROR, ports["mirror"]), ("udp", MIRROR, ports["udp"])):
        process = verdicts[key]["process"]
        # The workload's bash, by its executable or, when it was already exiting, its command line.
        assert process is not None, key
        assert process["exe"].endswith("bash") or process["cmdline"][:1] == ["bash"], key
    assert egress["slirp_children_left"] == []


@as_nobody_in_a_test_namespace
def test_killing_the_auditor_takes_slirp4netns_and_the_workload_with_it(workdir: Path) -> None:
    unique = f"300.{os.getpid()}{time.monotonic_ns() % 100000}"  # other runs may sleep too
    marker = workdir / "run.json.pid"
    with _tun_mode(0o666):
        driver = subprocess.Popen(
            _driver_command(workdir, "auto", unique),
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
        )
        deadline = time.monotonic() + 120
        while not marker.exists() and time.monotonic() < deadline and driver.poll() is None:
            time.sleep(0.05)
    assert marker.exists(), driver.stderr.read() if driver.stderr else ""
    slirps = _children(driver.pid, "slirp4netns")
    assert len(slirps) == 1, "slirp4netns serves the run"
    driver.send_signal(signal.SIGKILL)
    driver.wait()
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline and (_alive(slirps[0]) or _sleeping(unique)):
        time.sleep(0.05)
    assert not _alive(slirps[0]), "slirp4netns outlived the auditor"
    assert not _sleeping(unique), "the workload outlived the auditor"


def _children(parent: int, name: str) -> list[int]:
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                stat = (entry / "stat").read_text()
            except OSError:
                continue
            comm, rest = stat.split("(", 1)[1].rsplit(")", 1)
            if comm == name and int(rest.split()[1]) == parent:
                found.append(int(entry.name))
    return found


def _alive(pid: int) -> bool:
    """Running (a zombie waiting for a reaper counts as gone)."""
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


def _sleeping(unique: str) -> bool:
    return bool(subprocess.run(["pgrep", "-f", f"sleep {unique}"], capture_output=True).stdout)


def test_without_slirp4netns_an_allowed_range_is_one_clear_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PATH", str(tmp_path))  # a PATH where slirp4netns cannot be found
    with pytest.raises(SandboxError) as raised:
        slirp.required(["10.20.0.0/16"])
    assert "need slirp4netns, which is not installed" in raised.value.diagnostics()
    assert "\n" not in raised.value.diagnostics()
    assert slirp.required([]) == [], "no range, no requirement"


@needs_slirp
def test_ipv6_ranges_are_refused_without_root() -> None:
    with pytest.raises(SandboxError, match="only IPv4 ranges"):
        slirp.required(["[fd00::/8]:443"])


def test_only_the_allowed_protocol_and_port_are_routed_and_slirp_avoids_allowed_ranges() -> None:
    rules = [parse_allow("10.0.0.0/8"), parse_allow("udp:192.0.2.53:53")]
    network = slirp.slirp_network(rules)
    assert not network.overlaps(rules[0].network)  # type: ignore[arg-type]
    commands = slirp.routing_commands(rules, network)
    rules_added = [line for line in commands if line.startswith("rule add")]
    assert rules_added == [
        "rule add to 10.0.0.0/8 ipproto tcp lookup 233 priority 233",
        "rule add to 10.0.0.0/8 ipproto udp lookup 233 priority 233",
        "rule add to 192.0.2.53/32 ipproto udp dport 53 lookup 233 priority 233",
    ]
    # No route in the main table: the auditor keeps the default route and slirp's own /24.
    assert not any(line.startswith("route add") and "table" not in line for line in commands)


FAILING_START = """
from airgap_cli.egress import sandbox, slirp
from airgap_cli.egress.policy import parse_allow
handles = sandbox.start(["true"], link="veth")
try:
    slirp.open_path(handles, [parse_allow("10.9.0.0/16")], print, 0.0)
except sandbox.SandboxError as exc:
    print(exc.diagnostics())
finally:
    sandbox.release(handles)
    sandbox.finish(handles)
"""


@as_nobody_in_a_test_namespace
def test_a_failing_slirp4netns_is_reported_in_its_own_words(workdir: Path) -> None:
    """A root-only /dev/net/tun: slirp4netns cannot create its TAP device, and says why."""
    script = workdir / "start.py"
    script.write_text(FAILING_START)
    with _tun_mode(0o600):
        result = subprocess.run(
            ["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups", PY, str(script)],
            capture_output=True,
            text=True,
            cwd=workdir,
            timeout=120,
        )
    assert result.stdout.startswith("slirp4netns failed: "), result.stderr
    assert "/dev/net/tun" in result.stdout and "Permission denied" in result.stdout
    assert len(result.stdout.strip().splitlines()) == 1
