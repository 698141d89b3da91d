"""One realistic report shared by every reporter test, plus a clean one."""

from __future__ import annotations

import hashlib

import pytest

from airgap_cli.core.findings import (
    Finding,
    InputIssue,
    InputRecord,
    Location,
    Report,
    Severity,
    Skipped,
    Suppressed,
)

APP = "k8s/app.yaml"
CI = "./ci/.gitlab-ci.yml"
IMAGE_POINTER = "/spec/template/spec/containers/0/image"


def _sha(name: str) -> str:
    return hashlib.sha256(name.encode()).hexdigest()


def build_report() -> Report:
    """Several files and severities, stdin, a pseudo-path, no-line findings and every side list."""
    report = Report(command="lint", tool_version="0.1.0")
    report.findings = [
        Finding(
            rule_id="image-tag-latest",
            severity=Severity.HIGH,
            title="Image uses a mutable tag",
            message="Container web uses image nginx:latest, which can change under you.",
            location=Location(APP, 12, 16, "Deployment/shop/web", IMAGE_POINTER),
            evidence="nginx:latest",
            remediation="Pin the image by digest from the internal registry.",
            compliance=("NIST-800-53:CM-6", "NIST-800-53:SR-4"),
        ),
        # Same rule, file, line and resource: only the pointer tells these two apart.
        Finding(
            rule_id="image-tag-latest",
            severity=Severity.HIGH,
            title="Image uses a mutable tag",
            message="Init container setup uses image busybox:latest.",
            location=Location(
                APP, 12, 16, "Deployment/shop/web", "/spec/template/spec/initContainers/0/image"
            ),
            evidence="busybox:latest",
            remediation="Pin the image by digest from the internal registry.",
        ),
        Finding(
            rule_id="external-registry",
            severity=Severity.CRITICAL,
            title="Image pulled from a public registry",
            message="Image docker.io/library/redis:7 is pulled from the internet.",
            location=Location(APP, 40, 18, "Deployment/shop/cache", IMAGE_POINTER),
            evidence="docker.io/library/redis:7",
            remediation="Mirror the image into the internal registry and reference it there.",
            compliance=("NIST-800-53:SC-7",),
        ),
        Finding(
            rule_id="missing-network-policy",
            severity=Severity.MEDIUM,
            title="Namespace without NetworkPolicy",
            message="Namespace shop has no default-deny egress NetworkPolicy.",
            location=Location(APP, None, None, "Namespace/shop", ""),
            remediation="Add a default-deny egress NetworkPolicy.",
        ),
        Finding(
            rule_id="ci-remote-include",
            severity=Severity.LOW,
            title="Remote include in CI",
            message="Job deploy includes https://gitlab.com/templates/x.yml | fetched at run time.",
            location=Location(CI, 3, 1, "job:deploy", "/include/0/remote"),
            evidence="https://gitlab.com/templates/x.yml",
            remediation="Vendor the template\ninto this repository.",
        ),
        Finding(
            rule_id="telemetry-env",
            severity=Severity.INFO,
            title="Telemetry switch not set",
            message="No DO_NOT_TRACK in the piped manifest; @team <script>alert(1)</script>",
            location=Location("-", None, None, "", ""),
            evidence="ESC\x1b[0m and NUL\x00 inside",
            remediation="Set DO_NOT_TRACK=1.",
        ),
        Finding(
            rule_id="egress-unexpected-host",
            severity=Severity.CRITICAL,
            title="Unexpected egress",
            message="Process pip connected to pkg-index.com:443.",
            location=Location("egress:", None, None, "process:pip", ""),
            evidence="pkg-index.com:443",
            remediation="Serve packages from the internal index.",
            compliance=("NIST-800-53:SC-7", "OWASP-LLM:LLM03:2025"),
        ),
    ]
    report.suppressed = [
        Suppressed(
            Finding(
                rule_id="image-tag-latest",
                severity=Severity.HIGH,
                title="Image uses a mutable tag",
                message="Container debug uses image alpine:latest.",
                location=Location("k8s/debug.yaml", 5, 16, "Pod/tools/debug", IMAGE_POINTER),
                evidence="alpine:latest",
            ),
            reason="Debug pod, never deployed to production (SEC-142).",
            source="inline",
        ),
        Suppressed(
            Finding(
                rule_id="external-registry",
                severity=Severity.CRITICAL,
                title="Image pulled from a public registry",
                message="Image quay.io/x/y:1 is pulled from the internet.",
                location=Location("k8s/legacy.yaml", 9, 18, "Deployment/legacy/y", IMAGE_POINTER),
            ),
            reason="",
            source="baseline",
        ),
    ]
    report.skipped = [Skipped("models/weights.bin", "binary file, not a manifest")]
    report.errors = [
        InputIssue("k8s/broken.yaml", "could not parse: mapping values are not allowed here", 7)
    ]
    report.inputs = [
        InputRecord(APP, _sha(APP), 3),
        InputRecord(CI, _sha(CI), 1),
        InputRecord("-", _sha("-"), 1),
        InputRecord("k8s/debug.yaml", _sha("debug"), 1),
    ]
    report.timings = {"parse": 0.0123, "rules": 0.0042}
    report.rules = {
        "image-tag-latest": {
            "title": "Image uses a mutable tag",
            "severity": "high",
            "description": "Tags such as latest can point at different bytes tomorrow.",
            "remediation": "Pin the image by digest.",
            "compliance": ["NIST-800-53:CM-6"],
        },
        "external-registry": {
            "title": "Image pulled from a public registry",
            "severity": "critical",
        },
        "host-network": {"title": "Pod uses the host network", "severity": "medium"},
    }
    return report


@pytest.fixture
def report() -> Report:
    return build_report()


@pytest.fixture
def clean_report() -> Report:
    report = Report(command="lint", tool_version="0.1.0")
    report.inputs = [InputRecord(APP, _sha(APP), 3)]
    report.rules = {"image-tag-latest": {"title": "Image uses a mutable tag", "severity": "high"}}
    return report
