"""Engine behaviour users rely on: exact lines, stable fingerprints, suppressions, bad input."""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

import pytest

from airgap_cli.core.baseline import apply_baseline, load_baseline, write_baseline
from airgap_cli.core.config import Config
from airgap_cli.core.hosts import Boundary
from airgap_cli.lint import LintEngine

Write = Callable[[str, str], Path]
ENGINE = LintEngine.from_config(Config())

DEPLOY = """\
apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
  namespace: shop
spec:
  template:
    spec:
      containers:
        - name: web
          image: nginx:latest
          env:
            - name: UPSTREAM
              value: https://api.openai.com/v1
"""


def lint(*paths: Path, engine: LintEngine = ENGINE) -> object:
    return engine.lint([str(p) for p in paths], jobs=1)


def by_rule(report: object, rule_id: str) -> list[object]:
    return [f for f in report.findings if f.rule_id == rule_id]  # type: ignore[attr-defined]


def test_findings_point_at_the_offending_key_line(write: Write) -> None:
    report = lint(write("d.yaml", DEPLOY))
    assert by_rule(report, "image-tag-latest")[0].location.line == 11
    url = by_rule(report, "external-url")[0]
    assert url.location.line == 14
    assert url.location.resource == "Deployment/shop/web"
    assert url.location.pointer == "/spec/template/spec/containers/0/env/0/value"


def test_fingerprints_survive_moved_lines(write: Write) -> None:
    first = {f.fingerprint for f in lint(write("a/d.yaml", DEPLOY)).findings}
    moved = {f.fingerprint for f in lint(write("a/d.yaml", "# a comment\n\n" + DEPLOY)).findings}
    assert first == moved
    assert len(first) == len(lint(write("a/d.yaml", DEPLOY)).findings)  # all distinct


def test_internal_boundary_comes_from_config(write: Write) -> None:
    path = write("d.yaml", DEPLOY.replace("nginx:latest", "registry.corp.example.com/web:1"))
    assert by_rule(lint(path), "image-registry-not-internal")
    config = Config(boundary=Boundary(registries=("registry.corp.example.com",)))
    engine = LintEngine.from_config(config)
    assert not by_rule(lint(path, engine=engine), "image-registry-not-internal")


def test_inline_and_annotation_suppressions_keep_the_reason(write: Write) -> None:
    text = DEPLOY.replace(
        "image: nginx:latest", "image: nginx:latest  # airgap:ignore image-tag-latest -- lab only"
    ).replace(
        "  namespace: shop\n",
        "  namespace: shop\n  annotations:\n"
        "    airgap.dev/ignore: external-url -- tracked in SEC-1\n",
    )
    report = lint(write("d.yaml", text))
    assert not by_rule(report, "image-tag-latest") and not by_rule(report, "external-url")
    reasons = {s.finding.rule_id: (s.reason, s.source) for s in report.suppressed}
    assert reasons["image-tag-latest"] == ("lab only", "inline")
    assert reasons["external-url"] == ("tracked in SEC-1", "annotation")


def test_comment_above_the_line_suppresses_it_and_a_missing_reason_is_a_finding(
    write: Write,
) -> None:
    text = DEPLOY.replace(
        "          image: nginx:latest",
        "          # airgap:ignore image-tag-latest\n          image: nginx:latest",
    )
    report = lint(write("d.yaml", text))
    assert not by_rule(report, "image-tag-latest")
    reasonless = by_rule(report, "suppression-without-reason")
    assert len(reasonless) == 1 and reasonless[0].location.line == 11


def test_baseline_reports_only_new_findings(write: Write, tmp_path: Path) -> None:
    path = write("d.yaml", DEPLOY)
    baseline = tmp_path / "baseline.json"
    write_baseline(lint(path), baseline)
    path.write_text(
        DEPLOY + "---\napiVersion: v1\nkind: Pod\nmetadata: {name: p, namespace: shop}\n"
        "spec:\n  hostNetwork: true\n  containers: [{name: c, image: registry.internal/c@sha256:"
        + "a" * 64
        + "}]\n"
    )
    report = lint(path)
    moved = apply_baseline(report, load_baseline(baseline))
    assert moved > 0
    assert {f.rule_id for f in report.findings} >= {"pod-host-network"}
    assert not by_rule(report, "image-tag-latest")


def test_list_kinds_expand_and_cluster_scoped_kinds_have_no_namespace(write: Write) -> None:
    text = """\
apiVersion: v1
kind: List
items:
  - apiVersion: v1
    kind: Service
    metadata: {name: llm}
    spec: {type: ExternalName, externalName: api.openai.com}
  - apiVersion: cert-manager.io/v1
    kind: ClusterIssuer
    metadata: {name: le}
    spec: {acme: {server: "https://acme-v02.api.letsencrypt.org/directory"}}
"""
    report = lint(write("list.yaml", text))
    svc = by_rule(report, "service-externalname-public")[0]
    assert svc.location.resource == "Service/default/llm" and svc.location.line == 7
    issuer = by_rule(report, "cert-manager-public-acme")[0]
    assert issuer.location.resource == "ClusterIssuer/le"
    assert issuer.location.pointer.startswith("/items/1/")


def test_default_deny_in_another_namespace_does_not_count(write: Write) -> None:
    text = """\
apiVersion: v1
kind: Namespace
metadata: {name: ops}
---
apiVersion: v1
kind: Namespace
metadata: {name: payments}
---
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: deny, namespace: payments}
spec: {podSelector: {}, policyTypes: [Egress]}
"""
    findings = by_rule(lint(write("ns.yaml", text)), "namespace-without-default-deny")
    assert [f.evidence for f in findings] == ["ops"]


@pytest.mark.parametrize(
    ("name", "content", "message"),
    [
        ("bad.yaml", "a: [1\nb: 2\n", "invalid YAML"),
        (
            "bomb.yaml",
            "a: &a [x,x,x,x,x,x,x,x,x,x]\n"
            + "".join(
                f"{chr(98 + i)}: &{chr(98 + i)} [" + ",".join(["*" + chr(97 + i)] * 10) + "]\n"
                for i in range(9)
            ),
            "alias bomb",
        ),
        ("evil.yaml", "a: !!python/object/apply:os.system [echo hi]\n", "python/object"),
        ("bin.yaml", "\x00\x01binary", "binary file"),
        ("deep.yaml", "[" * 50_000 + "]" * 50_000, "nesting deeper"),
    ],
)
def test_bad_input_is_one_error_naming_the_file_and_the_run_goes_on(
    write: Write, name: str, content: str, message: str
) -> None:
    bad = write(name, content)
    good = write("good.yaml", DEPLOY)
    report = lint(bad, good)
    assert len(report.errors) == 1
    assert report.errors[0].path == str(bad) and message in report.errors[0].message
    assert by_rule(report, "image-tag-latest"), "the other file was still linted"
    assert report.exit_code("never") == 2


def test_huge_file_is_refused_without_reading_it_all(tmp_path: Path) -> None:
    big = tmp_path / "big.yaml"
    with open(big, "wb") as handle:
        handle.truncate(200 * 1024 * 1024)
    report = lint(big)
    assert "larger than" in report.errors[0].message


def test_symlink_loop_and_outside_links_are_handled(tmp_path: Path, write: Write) -> None:
    write("tree/d.yaml", DEPLOY)
    os.symlink("loop.yaml", tmp_path / "tree" / "loop.yaml")
    os.symlink(tmp_path / "tree", tmp_path / "tree" / "again")
    outside = write("outside.yaml", DEPLOY)
    os.symlink(outside, tmp_path / "tree" / "escape.yaml")
    report = ENGINE.lint([str(tmp_path / "tree")], jobs=1)
    assert [e.message for e in report.errors] == ["broken or looping symbolic link"]
    reasons = {Path(s.path).name: s.reason for s in report.skipped}
    assert reasons["again"] == "directory link not followed"
    assert reasons["escape.yaml"] == "symbolic link points outside the tree"
    assert by_rule(report, "image-tag-latest")


def test_gitignore_and_excludes_are_honoured(tmp_path: Path, write: Write) -> None:
    write("repo/.gitignore", "generated/\n")
    write("repo/generated/d.yaml", DEPLOY)
    write("repo/k8s/d.yaml", DEPLOY)
    write("repo/vendor/d.yaml", DEPLOY)
    from dataclasses import replace

    config = Config()
    config = replace(config, lint=replace(config.lint, exclude=("vendor/",)))
    report = LintEngine.from_config(config).lint([str(tmp_path / "repo")], jobs=1)
    assert {Path(i.path).parent.name for i in report.inputs} == {"k8s"}


def test_helm_templates_are_skipped_with_a_hint(write: Write) -> None:
    path = write(
        "templates/deploy.yaml", 'apiVersion: apps/v1\nkind: Deployment\n{{- include "x" . }}\n'
    )
    report = lint(path)
    assert not report.errors and "helm template" in report.skipped[0].reason


def test_parallel_run_gives_the_same_findings(tmp_path: Path, write: Write) -> None:
    for i in range(80):
        write(f"many/d{i}.yaml", DEPLOY.replace("name: web", f"name: web{i}"))
    serial = ENGINE.lint([str(tmp_path / "many")], jobs=1)
    parallel = ENGINE.lint([str(tmp_path / "many")], jobs=2)
    assert sorted(f.fingerprint for f in serial.findings) == sorted(
        f.fingerprint for f in parallel.findings
    )
    assert len(serial.inputs) == 80


def test_secret_values_never_reach_the_report(write: Write) -> None:
    text = (
        "apiVersion: v1\nkind: Secret\nmetadata: {name: s}\n"
        "stringData: {password: hunter2-very-secret}\n"
    )
    report = lint(write("s.yaml", text))
    finding = by_rule(report, "secret-literal-in-manifest")[0]
    assert "hunter2" not in str(finding.to_dict())


def test_helmchart_values_content_is_linted_with_real_lines(write: Write) -> None:
    text = """\
apiVersion: helm.cattle.io/v1
kind: HelmChart
metadata: {name: app, namespace: kube-system}
spec:
  chart: oci://registry.acme.internal/charts/app
  valuesContent: |-
    image:
      repository: docker.io/library/redis
      tag: "7"
"""
    finding = by_rule(lint(write("hc.yaml", text)), "image-registry-not-internal")[0]
    assert finding.location.line == 8
