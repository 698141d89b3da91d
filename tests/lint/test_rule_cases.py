"""Every rule's own passing and failing snippets, run through the real engine."""

from __future__ import annotations

from pathlib import Path

import pytest

from airgap_cli.core.config import Config
from airgap_cli.core.rules import Rule, builtin_rule_dirs, load_rules
from airgap_cli.lint import LintEngine

RULES = load_rules(builtin_rule_dirs())
ENGINE = LintEngine(RULES, Config())


def _cases(kind: str) -> list[tuple[Rule, int, dict[str, str]]]:
    return [(rule, i, case) for rule in RULES for i, case in enumerate(rule.tests[kind])]


def _lint(tmp_path: Path, case: dict[str, str]) -> list[str]:
    path = tmp_path / case.get("file", "manifest.yaml")
    path.write_text(case["content"], encoding="utf-8")
    report = ENGINE.lint([str(path)], jobs=1)
    assert not report.errors, report.errors
    return [f.rule_id for f in report.findings]


@pytest.mark.parametrize(
    ("rule", "index", "case"),
    _cases("fail"),
    ids=lambda v: getattr(v, "id", str(v)) if not isinstance(v, dict) else "",
)
def test_failing_snippet_triggers_its_rule(
    tmp_path: Path, rule: Rule, index: int, case: dict[str, str]
) -> None:
    assert rule.id in _lint(tmp_path, case), f"{rule.source} fail case {index} did not fire"


@pytest.mark.parametrize(
    ("rule", "index", "case"),
    _cases("pass"),
    ids=lambda v: getattr(v, "id", str(v)) if not isinstance(v, dict) else "",
)
def test_passing_snippet_is_clean_for_its_rule(
    tmp_path: Path, rule: Rule, index: int, case: dict[str, str]
) -> None:
    assert rule.id not in _lint(tmp_path, case), f"{rule.source} pass case {index} fired"


REQUIRED_IDS = [
    "image-registry-not-internal",
    "image-not-pinned-by-digest",
    "image-tag-latest",
    "container-privileged",
    "container-privilege-escalation",
    "container-runs-as-root",
    "container-capabilities-added",
    "pod-host-network",
    "pod-host-path",
    "container-no-resource-limits",
    "container-no-probes",
    "secret-literal-in-manifest",
    "namespace-without-default-deny",
    "networkpolicy-egress-any",
    "service-external-loadbalancer-public",
    "external-url",
    "helm-chart-external-repo",
    "cert-manager-public-acme",
    "ingress-public-acme-resolver",
    "otel-endpoint-external",
    "ai-gateway-fallback-unapproved",
    "ai-gateway-external-backend",
    "service-externalname-public",
    "service-selects-nothing",
    "traefik-hub-airgap-disabled",
    "telemetry-not-disabled",
    "gitlab-ci-external-download",
    "gitlab-ci-image-not-internal",
    "gitlab-ci-deploy-without-verify",
    "gitlab-ci-tlog-upload",
]


def test_builtin_pack_has_every_promised_rule_id() -> None:
    assert set(REQUIRED_IDS) <= {r.id for r in RULES}


def test_rule_reference_is_current() -> None:
    from airgap_cli.lint.ruledocs import all_rules, render

    docs = Path(__file__).resolve().parents[2] / "docs" / "rules.md"
    assert docs.read_text(encoding="utf-8") == render(all_rules()), "run `make docs`"
