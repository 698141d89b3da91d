"""``egress doctor``: what this machine allows, and how to enable full isolation."""

from __future__ import annotations

import os
import shutil
import stat
from dataclasses import dataclass
from pathlib import Path

from airgap_cli.egress import sandbox


@dataclass(frozen=True)
class Check:
    """One fact about the machine, whether it helps isolation, and the fix when it does not."""

    name: str
    ok: bool
    detail: str
    fix: str = ""


def _read(path: str) -> str:
    try:
        return Path(path).read_text().strip()
    except OSError:
        return ""


def _can_unshare(flags: int) -> tuple[bool, str]:
    """Try the namespaces in a throw-away child (nothing else is touched)."""
    pid = os.fork()
    if pid == 0:
        try:
            sandbox.unshare(flags)
            os._exit(0)
        except OSError as exc:
            os._exit(exc.errno or 1)
    _, status = os.waitpid(pid, 0)
    code = os.waitstatus_to_exitcode(status)
    return code == 0, "works" if code == 0 else os.strerror(code)


def diagnose() -> list[Check]:
    """Every check, in the order a reader should fix them."""
    checks: list[Check] = []
    root = os.geteuid() == 0
    checks.append(
        Check(
            "privileges",
            True,
            "running as root: rung netns+tun"
            if root
            else f"running as uid {os.geteuid()}: rung userns+netns+tun (user namespaces)",
        )
    )
    flags = sandbox.CLONE_NEWNET | sandbox.CLONE_NEWNS | sandbox.CLONE_NEWPID
    ok, detail = _can_unshare(flags if root else flags | sandbox.CLONE_NEWUSER)
    in_container = os.path.exists("/.dockerenv") or "docker" in _read("/proc/1/cgroup")
    checks.append(
        Check(
            "namespaces",
            ok,
            f"network/mount/PID namespaces: {detail}"
            + (" (inside a container)" if in_container else ""),
            ""
            if ok
            else 'GitLab Docker executor: set `privileged = true`, or `cap_add = ["SYS_ADMIN"]` '
            'with `security_opt = ["seccomp:unconfined", "apparmor:unconfined"]`, in '
            "[runners.docker] of the runner's config.toml; Kubernetes executor: a privileged pod or "
            "SYS_ADMIN with an Unconfined seccomp profile",
        )
    )
    tun = "/dev/net/tun"
    if os.path.exists(tun):
        mode = stat.S_IMODE(os.stat(tun).st_mode)
        usable = root or os.access(tun, os.R_OK | os.W_OK)
        checks.append(
            Check(
                "tun",
                usable,
                f"{tun} present (mode {mode:o})"
                + ("" if usable else ", not openable by this user"),
                ""
                if usable
                else "make it mode 0666 (the kernel's default; a udev rule "
                'KERNEL=="tun", MODE="0666"), or run as root',
            )
        )
    else:
        checks.append(
            Check(
                "tun",
                False,
                f"{tun} is missing",
                'GitLab Docker executor: add `devices = ["/dev/net/tun"]` to [runners.docker]; '
                "elsewhere `modprobe tun`",
            )
        )
    seccomp = next(
        (
            line.split()[1]
            for line in _read("/proc/self/status").splitlines()
            if line.startswith("Seccomp:")
        ),
        "?",
    )
    checks.append(
        Check(
            "seccomp",
            seccomp != "2" or ok,
            {"0": "no seccomp filter", "1": "strict seccomp", "2": "seccomp filter active"}.get(
                seccomp, "unknown"
            ),
            "" if seccomp != "2" or ok else "a seccomp filter (Docker's default) blocks unshare",
        )
    )
    apparmor = _read("/proc/sys/kernel/apparmor_restrict_unprivileged_userns")
    if apparmor == "1" and not root:
        checks.append(
            Check(
                "apparmor",
                False,
                "kernel.apparmor_restrict_unprivileged_userns=1 (Ubuntu 23.10+ default)",
                "install an AppArmor profile allowing `userns,` for the airgap interpreter, or "
                "`sysctl kernel.apparmor_restrict_unprivileged_userns=0`",
            )
        )
    if not root:
        slirp = shutil.which("slirp4netns")
        checks.append(
            Check(
                "slirp4netns",
                slirp is not None,
                f"slirp4netns at {slirp}: allowed address ranges flow without root"
                if slirp
                else "slirp4netns is missing: without root, allowed address ranges cannot flow "
                "(host names still can, through the proxy)",
                "" if slirp else "apt-get install slirp4netns",
            )
        )
    ip = shutil.which("ip")
    checks.append(
        Check(
            "iproute2",
            ip is not None,
            f"ip at {ip}" if ip else "the `ip` command is missing",
            "" if ip else "apt-get install iproute2",
        )
    )
    return checks


def isolation_possible(checks: list[Check]) -> bool:
    """True when ``egress run`` can build its sandbox here."""
    needed = {"privileges", "namespaces", "tun", "iproute2"}
    return all(c.ok for c in checks if c.name in needed)
