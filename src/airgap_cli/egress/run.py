"""``egress run``: build the sandbox, serve the workload, and turn what it tried into a report."""

from __future__ import annotations

import os
import time
from dataclasses import dataclass, field
from typing import Any

from airgap_cli import __version__
from airgap_cli.core.findings import Report
from airgap_cli.egress import sandbox, slirp
from airgap_cli.egress.attribution import ProcessTable, SockDiag
from airgap_cli.egress.auditor import AuditOptions, Auditor
from airgap_cli.egress.events import Attempt, destination_label, summarise
from airgap_cli.egress.policy import parse_allow
from airgap_cli.egress.proxy import Proxy, ProxyContext

RUNG = "netns+tun"
GUARANTEE = (
    "Every IPv4/IPv6 packet the workload's process tree sent toward a non-loopback address was "
    "recorded and answered by the auditor (denied), or forwarded through a declared allowed path. "
    "DNS names are recorded for every resolver-based lookup; TCP and DNS attempts are attributed "
    "exactly (the answer waits for attribution), UDP best-effort. Not covered: path-based unix "
    "sockets to host daemons other than the masked resolvers, egress by processes outside the tree "
    "(e.g. a Docker daemon), and names behind DoH or hard-coded IPs (reported as direct-ip)."
)


@dataclass
class EgressRun:
    """Everything one sandboxed run produced."""

    command: list[str]
    exit_status: int
    attempts: list[Attempt]
    duration: float
    packets: int
    rung: str = RUNG
    guarantee: str = GUARANTEE
    options: dict[str, Any] = field(default_factory=dict)

    def details(self) -> dict[str, Any]:
        """The evidence block of the JSON report (``details.egress``)."""
        return {
            "command": self.command,
            "exit_status": self.exit_status,
            "rung": self.rung,
            "guarantee": self.guarantee,
            "duration": round(self.duration, 3),
            "packets": self.packets,
            "options": self.options,
            "destinations": [
                {
                    "protocol": d.key[0],
                    "destination": d.key[1],
                    "port": d.key[2],
                    "label": destination_label(d.key),
                    "kinds": sorted(d.kinds),
                    "verdicts": sorted(d.verdicts),
                    "count": d.count,
                    "processes": d.processes,
                }
                for d in summarise(self.attempts)
            ],
            "attempts": [a.to_dict() for a in self.attempts],
        }


def run_fallback(argv: list[str]) -> EgressRun:
    """The ``python-audit-hooks`` rung, for machines where no namespace can be built."""
    from airgap_cli.egress import hooks

    status, attempts, seconds = hooks.run_with_hooks(argv)
    return EgressRun(
        command=list(argv),
        exit_status=status,
        attempts=attempts,
        duration=seconds,
        packets=0,
        rung=hooks.RUNG,
        guarantee=hooks.GUARANTEE,
    )


def run_ptrace(argv: list[str], options: AuditOptions | None = None) -> EgressRun:
    """The ``ptrace`` rung: a system-call supervisor, for machines where no namespace can be built
    but a process may trace its own children (a default Docker CI job).

    Raises :class:`~airgap_cli.egress.tracer.TracerError` before the workload starts when ptrace
    is impossible, so the caller can still fall back.
    """
    from airgap_cli.egress import tracer

    return tracer.run_traced(argv, options)


def run_workload(argv: list[str], options: AuditOptions | None = None) -> EgressRun:
    """Run ``argv`` in the default-deny sandbox and record every outbound attempt."""
    options = options or AuditOptions()
    started = time.monotonic()
    # Allowed ranges: a veth pair as root, slirp4netns otherwise (checked before anything runs).
    via_slirp = slirp.required(options.routed_cidrs) if os.geteuid() != 0 else []
    handles = sandbox.start(argv, proxy=options.proxy, link=options.link)
    proxy: Proxy | None = None
    routed: sandbox.RoutedPath | None = None
    slirp_path: slirp.SlirpPath | None = None
    try:
        auditor = Auditor(
            handles.io, SockDiag(handles.diag_sock), ProcessTable(handles.pid), options
        )
        if via_slirp:  # forks a helper: before the proxy starts its threads
            slirp_path = slirp.open_path(handles, via_slirp, auditor.record, auditor.started)
        if handles.proxy_listener is not None:
            proxy = Proxy(
                handles.proxy_listener,
                ProxyContext(
                    is_allowed=options.is_allowed or (lambda *_: False),
                    record=auditor.record,
                    attribute=auditor.attributed,
                ),
            )
            proxy.start()
        if options.routed_cidrs and not via_slirp:
            rules = [parse_allow(spec) for spec in options.routed_cidrs]
            routed = sandbox.open_routed_path(handles, rules)
            auditor.routed = routed.capture
        init_pid = sandbox.release(handles)
        raw_status = auditor.run(handles.pid)
    finally:
        if proxy is not None:
            proxy.stop()
        if routed is not None:
            routed.capture.close()
        if slirp_path is not None:
            slirp_path.close()
        sandbox.close(handles)
    status = os.waitstatus_to_exitcode(raw_status)
    if status < 0:
        status = 128 - status
    hidden = {handles.pid, init_pid}
    for attempt in auditor.attempts:
        attempt.chain = tuple(p for p in attempt.chain if p.pid not in hidden)
    return EgressRun(
        rung=sandbox.rung(handles),
        command=list(argv),
        exit_status=status,
        attempts=auditor.attempts,
        duration=time.monotonic() - started,
        packets=auditor.packets_seen,
        options={"nxdomain": options.nxdomain, "capture": options.capture, "proxy": options.proxy},
    )


def empty_report(run: EgressRun) -> Report:
    """A report carrying the run's evidence; findings are added by the policy layer."""
    report = Report(command="egress-run", tool_version=__version__)
    report.details["egress"] = run.details()
    report.timings["run"] = run.duration
    return report
