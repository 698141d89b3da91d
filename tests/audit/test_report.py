"""`airgap report`: what a security reviewer signs off — verdicts per control, evidence, inputs
with hashes, bad input refused line by line, nothing lost, and a signature `bundle verify` checks."""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Callable
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import jsonschema_rs
import pytest

from airgap_cli import __version__
from airgap_cli.audit.assess import AuditOptions, assess
from airgap_cli.audit.controls import load_controls
from airgap_cli.core.findings import (
    Finding,
    InputIssue,
    InputRecord,
    Location,
    Report,
    Severity,
    Suppressed,
)
from airgap_cli.core.results import load_result, load_results
from airgap_cli.egress.events import Attempt, Process, summarise
from airgap_cli.egress.policy import RULES as EGRESS_RULES
from airgap_cli.egress.policy import egress_findings
from airgap_cli.egress.run import EgressRun, empty_report
from tests.conftest import FIXTURES, REPO

Cli = Callable[..., Any]
AUDIT_SCHEMA = json.loads((REPO / "docs" / "schemas" / "audit.schema.json").read_text())
REQUIRED = {"SC-7", "AU-2", "CM-6", "CM-7", "SI-4", "SR-3", "SR-4", "SR-11", "LLM03:2025"}


def egress_result(*, rung: str = "netns+tun", destinations: tuple[str, ...] = ()) -> Report:
    """What `egress run --format json` writes, built from real attempts and the real policy."""
    shell = Process(41, ("/bin/sh", "-c", "pytest -q"), "/bin/sh")
    attempts = [
        Attempt(0.1, "tcp", "tcp", host, "198.18.0.7", 443, process=shell, chain=(shell,))
        for host in destinations
    ]
    run = EgressRun(["pytest", "-q"], 0, attempts, 1.5, len(attempts), rung=rung)
    report = empty_report(run)
    report.findings, _ = egress_findings(summarise(attempts))
    report.rules = dict(EGRESS_RULES)
    return report


def lint_result(*findings: Finding, errors: int = 0) -> Report:
    """A lint result whose rules include one mapped to every lint-assessed control."""
    report = Report(command="lint", tool_version=__version__)
    report.rules = {
        "image-registry-not-internal": {
            "compliance": ["NIST-800-53:SC-7", "NIST-800-53:SR-3", "NIST-800-53:SR-11"]
        },
        "container-privileged": {"compliance": ["NIST-800-53:CM-7", "NIST-800-53:AC-6"]},
        "container-no-probes": {"compliance": ["NIST-800-53:SI-4", "NIST-800-53:CM-6"]},
    }
    report.findings = list(findings)
    report.inputs = [InputRecord("k8s/app.yaml", "ab" * 32, 2)]
    report.errors = [InputIssue(f"k8s/bad{i}.yaml", "invalid YAML: x", 3) for i in range(errors)]
    return report


def finding(rule: str, severity: Severity, tags: tuple[str, ...], name: str = "web") -> Finding:
    return Finding(
        rule_id=rule,
        severity=severity,
        title=rule,
        message=f"{rule} on {name}",
        location=Location("k8s/app.yaml", 7, None, f"Deployment/shop/{name}", "/spec"),
        evidence="docker.io/nginx:1.25",
        compliance=tags,
    )


def save(tmp_path: Path, name: str, report: Report) -> Path:
    path = tmp_path / name
    path.write_text(json.dumps(report.to_dict(), indent=2))
    return path


def audit_of(tmp_path: Path, *reports: Report, fail_on: str = "low") -> dict[str, Any]:
    paths = [str(save(tmp_path, f"r{i}.json", r)) for i, r in enumerate(reports)]
    results, problems = load_results(paths)
    return assess(results, problems, load_controls(), AuditOptions(fail_on=fail_on))


def verdicts(audit: dict[str, Any]) -> dict[str, str]:
    return {c["id"]: c["verdict"] for c in audit["controls"]}


# --- controls as data ------------------------------------------------------------------------


def test_the_builtin_controls_are_the_issue_s_with_their_sources() -> None:
    controls = load_controls()
    assert {c.id for c in controls} == REQUIRED
    for control in controls:
        assert control.source["document"] and control.source["reference"], control.id
        assert control.statement and control.assessment
    frameworks = {c.id: c.framework for c in controls}
    assert frameworks["SC-7"] == "NIST SP 800-53 Rev. 5"
    assert frameworks["LLM03:2025"] == "OWASP Top 10 for LLM Applications 2025"


def test_an_unknown_control_is_one_line_and_exit_2(cli: Cli, tmp_path: Path) -> None:
    result = save(tmp_path, "lint.json", lint_result())
    out = cli("report", str(result), "--control", "SC-99")
    assert out.exit_code == 2
    assert out.stderr.startswith("error: unknown control SC-99; known: ")
    assert len(out.stderr.strip().splitlines()) == 1


def test_a_malformed_control_file_names_its_line(cli: Cli, tmp_path: Path) -> None:
    extra = tmp_path / "controls"
    extra.mkdir()
    (extra / "ac-4.yaml").write_text(
        "id: AC-4\nframework: NIST SP 800-53 Rev. 5\ntitle: Information Flow Enforcement\n"
        "source: {document: SP 800-53, reference: ac-4}\nstatement: s\nassessment: a\n"
        "tags: [NIST-800-53:AC-4]\nevidence:\n  - command: egress-walk\n    shows: x\n"
    )
    out = cli("report", str(save(tmp_path, "l.json", lint_result())), "--controls-dir", str(extra))
    assert out.exit_code == 2
    assert re.match(rf"error: {re.escape(str(extra / 'ac-4.yaml'))}:9: invalid control", out.stderr)


def test_a_control_of_the_organisation_joins_the_builtin_ones(tmp_path: Path) -> None:
    extra = tmp_path / "controls"
    extra.mkdir()
    (extra / "ac-6.yaml").write_text(
        "id: AC-6\nframework: NIST SP 800-53 Rev. 5\ntitle: Least Privilege\n"
        "source: {document: SP 800-53, reference: ac-6}\nstatement: s\nassessment: a\n"
        "tags: ['NIST-800-53:AC-6']\n"
    )
    bad = finding(
        "container-privileged", Severity.CRITICAL, ("NIST-800-53:CM-7", "NIST-800-53:AC-6")
    )
    results, _ = load_results([str(save(tmp_path, "l.json", lint_result(bad)))])
    audit = assess(results, [], load_controls([extra]), AuditOptions())
    assert verdicts(audit)["AC-6"] == "not-satisfied"
    assert len(audit["controls"]) == len(REQUIRED) + 1


# --- verdicts -----------------------------------------------------------------------------


def test_a_failing_finding_fails_exactly_the_controls_it_maps_to(tmp_path: Path) -> None:
    bad = finding(
        "image-registry-not-internal",
        Severity.HIGH,
        ("NIST-800-53:SC-7", "NIST-800-53:SR-3", "NIST-800-53:SR-11"),
    )
    audit = audit_of(tmp_path, lint_result(bad))
    got = verdicts(audit)
    assert got["SC-7"] == got["SR-3"] == got["SR-11"] == "not-satisfied"
    assert got["CM-7"] == got["SI-4"] == got["CM-6"] == "satisfied"  # assessed by lint rules
    assert got["AU-2"] == got["SR-4"] == "not-assessed"  # nothing given evaluates them
    assert audit["verdict"] == "fail"
    sc7 = next(c for c in audit["controls"] if c["id"] == "SC-7")
    assert sc7["failing"] == [bad.fingerprint]
    assert sc7["evidence"][0]["rules"] == ["image-registry-not-internal"]


def test_findings_below_fail_on_are_observations_and_exceptions_are_listed(
    tmp_path: Path,
) -> None:
    low = finding("container-no-probes", Severity.LOW, ("NIST-800-53:SI-4", "NIST-800-53:CM-6"))
    report = lint_result(low)
    accepted = finding(
        "container-privileged", Severity.CRITICAL, ("NIST-800-53:CM-7",), name="debug"
    )
    report.suppressed = [
        Suppressed(accepted, "break-glass pod, removed after the incident", "inline")
    ]
    audit = audit_of(tmp_path, report, fail_on="medium")
    cm6 = next(c for c in audit["controls"] if c["id"] == "CM-6")
    assert (cm6["verdict"], cm6["observations"], cm6["failing"]) == (
        "satisfied",
        [low.fingerprint],
        [],
    )
    cm7 = next(c for c in audit["controls"] if c["id"] == "CM-7")
    assert cm7["verdict"] == "satisfied" and cm7["exceptions"] == [accepted.fingerprint]
    assert audit["suppressed"][0]["reason"] == "break-glass pod, removed after the incident"


def test_an_egress_denial_fails_boundary_protection_not_event_logging(tmp_path: Path) -> None:
    audit = audit_of(tmp_path, egress_result(destinations=("pypi.example.org",)))
    got = verdicts(audit)
    assert got["SC-7"] == "not-satisfied"
    assert got["AU-2"] == "satisfied"  # the attempt was recorded: the log did its job
    assert got["SI-4"] == "satisfied"
    run = audit["egress"][0]
    assert run["command"] == ["pytest", "-q"]
    assert run["destinations"][0]["label"] == "tcp pypi.example.org:443"
    assert run["destinations"][0]["processes"] == ["sh"]


def test_a_partial_egress_record_leaves_event_logging_inconclusive(tmp_path: Path) -> None:
    audit = audit_of(tmp_path, egress_result(rung="python-audit-hooks"))
    au2 = next(c for c in audit["controls"] if c["id"] == "AU-2")
    assert au2["verdict"] == "inconclusive"
    assert "python-audit-hooks" in au2["reason"]
    assert audit["verdict"] == "incomplete"


def test_unread_inputs_make_a_clean_control_inconclusive_not_satisfied(tmp_path: Path) -> None:
    audit = audit_of(tmp_path, lint_result(errors=2))
    assert verdicts(audit)["CM-7"] == "inconclusive"
    assert audit["not_examined"][0] == {
        "path": "k8s/bad0.yaml",
        "line": 3,
        "status": "error",
        "reason": "invalid YAML: x",
        "result": 0,
    }


def test_a_bundle_that_did_not_verify_fails_provenance(tmp_path: Path) -> None:
    report = Report(command="bundle-verify", tool_version=__version__)
    report.details["bundle"] = {
        "path": "models/llama",
        "signature": "models/llama.sigstore.json",
        "verified": False,
        "files": 3,
        "kind": "directory",
    }
    audit = audit_of(tmp_path, report)
    assert verdicts(audit)["SR-4"] == "not-satisfied"
    assert audit["bundles"][0]["verified"] is False


def test_the_same_finding_from_two_results_is_counted_once(tmp_path: Path) -> None:
    bad = finding("image-registry-not-internal", Severity.HIGH, ("NIST-800-53:SC-7",))
    check = lint_result(bad)
    check.command = "check"
    audit = audit_of(tmp_path, lint_result(bad), check)
    assert len(audit["findings"]) == 1
    assert audit["findings"][0]["results"] == [0, 1]


def test_the_json_form_matches_its_schema_and_is_reproducible(
    cli: Cli, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SOURCE_DATE_EPOCH", "1767225600")
    check = cli("check", str(FIXTURES / "demo"), "-f", "json", "-o", str(tmp_path / "c.json"))
    assert check.exit_code == 1
    egress = save(tmp_path, "egress.json", egress_result(destinations=("api.openai.com",)))
    args = ("report", str(tmp_path / "c.json"), str(egress), "-f", "json")
    first, second = cli(*args), cli(*args)
    assert first.exit_code == 1 and first.stdout == second.stdout
    audit = json.loads(first.stdout)
    errors = [
        e.message for e in jsonschema_rs.Draft202012Validator(AUDIT_SCHEMA).iter_errors(audit)
    ]
    assert errors == []
    assert audit["generated"] == "2026-01-01T00:00:00Z"
    assert {r["command"] for r in audit["results"]} == {"check", "egress-run"}
    assert all(re.fullmatch("[0-9a-f]{64}", r["sha256"]) for r in audit["results"])
    assert any(i["path"].endswith("k8s/ledger.yaml") for i in audit["inputs"])
    assert audit["summary"]["suppressed"] == 2


# --- bad input ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("content", "problem"),
    [
        (
            '{"schema": "airgap/report/v1", "tool": {"name"',
            r":1: not valid JSON: the file ends early",
        ),
        ("[]", r":1: a JSON list, not an airgap result"),
        ('[{"check_name": "x"}]', r":1: a JSON list \(a GitLab Code Quality report\?\)"),
        ('{"version": "2.1.0", "runs": []}', r":1: a SARIF log, not an airgap result"),
        ('{"hello": "world"}', r':1: not an airgap result \(no "schema": "airgap/report/v1"'),
        (
            '{\n  "schema": "airgap/report/v2"\n}',
            r":2: written by a newer airgap \(airgap/report/v2\)",
        ),
        ('{\n "schema": "airgap/audit/v1"}', r":2: an airgap audit report, not a result"),
        ('{"bomFormat": "CycloneDX", "specVersion": "9.9"}', r":1: CycloneDX specVersion '9.9'"),
        ("\x00\x01", r": binary file"),
    ],
)
def test_bad_results_are_one_line_each_and_nothing_else_is_lost(
    cli: Cli, tmp_path: Path, content: str, problem: str
) -> None:
    good = save(tmp_path, "lint.json", lint_result())
    bad = tmp_path / "bad.json"
    bad.write_text(content)
    out_file = tmp_path / "audit.json"
    out = cli("report", str(bad), str(good), "-o", str(out_file))
    assert out.exit_code == 2
    lines = out.stderr.strip().splitlines()
    assert re.match(rf"error: {re.escape(str(bad))}{problem}", lines[0]), lines[0]
    assert "Traceback" not in out.stderr
    audit = json.loads(out_file.read_text())  # the report is still written, with the good input
    assert [r["path"] for r in audit["results"]] == [str(good)]
    assert audit["unreadable"][0]["path"] == str(bad)
    assert audit["verdict"] == "incomplete"


def test_a_hand_edited_result_is_refused_at_the_offending_line(tmp_path: Path) -> None:
    data = lint_result(finding("container-privileged", Severity.HIGH, ())).to_dict()
    data["findings"][0]["severity"] = "urgent"
    path = tmp_path / "edited.json"
    path.write_text(json.dumps(data, indent=2))
    line = next(i for i, t in enumerate(path.read_text().splitlines(), 1) if '"urgent"' in t)
    with pytest.raises(Exception) as caught:
        load_result(str(path))
    assert caught.value.diagnostics().startswith(f"{path}:{line}: /findings/0/severity: ")  # type: ignore[attr-defined]


def test_an_oversized_result_is_refused_before_it_is_parsed(tmp_path: Path) -> None:
    path = save(tmp_path, "big.json", lint_result())
    with pytest.raises(Exception, match="larger than the 0 MiB limit"):
        load_result(str(path), max_bytes=100)


def test_a_shard_must_be_merged_before_it_is_audited(cli: Cli, tmp_path: Path) -> None:
    shard = lint_result()
    shard.details["shard"] = {"index": 2, "total": 3}
    out = cli("report", str(save(tmp_path, "s2.json", shard)))
    assert out.exit_code == 2
    assert "shard 2/3 of a sharded `lint`: merge the shards first (airgap merge" in out.stderr


# --- HTML and Markdown ------------------------------------------------------------------------


class _Fetches(HTMLParser):
    """Every element or attribute through which a browser could load something."""

    LOADING_TAGS = frozenset({"script", "img", "link", "iframe", "object", "embed", "video",
                              "audio", "source", "base", "form", "frame", "svg", "picture"})  # fmt: skip

    def __init__(self) -> None:
        super().__init__()
        self.found: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in self.LOADING_TAGS:
            self.found.append(f"<{tag}>")
        for name, value in attrs:
            if name in ("src", "srcset", "action", "poster", "data", "background", "ping"):
                self.found.append(f"{tag}@{name}={value}")
            elif name == "href" and not (value or "").startswith("#"):
                self.found.append(f"{tag}@href={value}")
            elif name == "style" and value and "url(" in value:
                self.found.append(f"{tag}@style={value}")


def fetching_parts(page: str) -> list[str]:
    parser = _Fetches()
    parser.feed(page)
    return parser.found


def test_the_html_fetches_nothing_and_escapes_what_it_shows(cli: Cli, tmp_path: Path) -> None:
    hostile = Finding(
        rule_id="external-url",
        severity=Severity.MEDIUM,
        title="External URL",
        message='<script>fetch("https://evil.example/x")</script><img src=https://evil.example/p>',
        location=Location("k8s/a.yaml", 3, None, "ConfigMap/x/y", ""),
        evidence="https://evil.example/payload.js",
        compliance=("NIST-800-53:SC-7",),
    )
    path = save(tmp_path, "lint.json", lint_result(hostile))
    out = cli("report", str(path), "-f", "html")
    page = out.stdout
    assert page.startswith("<!DOCTYPE html>")
    assert fetching_parts(page) == []
    assert "url(" not in page and "@import" not in page
    assert "default-src 'none'" in page
    assert "&lt;script&gt;fetch(" in page


def test_markdown_lists_every_control_with_its_verdict(cli: Cli, tmp_path: Path) -> None:
    path = save(tmp_path, "egress.json", egress_result(destinations=("api.openai.com",)))
    out = cli("report", str(path), "-f", "markdown")
    assert out.exit_code == 1
    assert out.stdout.startswith("# Air-gap audit report\n\n**Verdict: FAIL**")
    rows = [line for line in out.stdout.splitlines() if line.startswith("| `")]
    assert {r.split("`")[1] for r in rows if "NIST" in r or "OWASP" in r} == REQUIRED
    assert "❌ not satisfied" in next(r for r in rows if r.startswith("| `SC-7`"))
    assert "audit: FAIL: " in out.stderr


# --- signed reports ---------------------------------------------------------------------------


def test_a_signed_report_verifies_and_an_edited_one_does_not(
    cli: Cli, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("COSIGN_PASSWORD", "correct horse")
    prefix = tmp_path / "reviewer"
    assert cli("bundle", "keygen", "--output", str(prefix)).exit_code == 0
    other = tmp_path / "other"
    assert cli("bundle", "keygen", "--output", str(other)).exit_code == 0
    result = save(tmp_path, "egress.json", egress_result())
    html, md = tmp_path / "audit.html", tmp_path / "audit.md"
    out = cli(
        "report", str(result), "-o", str(html), "--report", f"markdown={md}",
        "--sign", "--key", f"{prefix}.key", "--control", "SC-7", "--control", "AU-2",
    )  # fmt: skip
    assert out.exit_code == 0, out.stderr
    signature = tmp_path / "audit.html.sigstore.json"
    statement = json.loads(
        __import__("base64").b64decode(json.loads(signature.read_text())["dsseEnvelope"]["payload"])
    )
    assert [s["name"] for s in statement["subject"]] == ["audit.html", "audit.md"]
    assert statement["predicate"]["verdict"] == "pass"

    ok = cli("bundle", "verify", str(html), "--key", f"{prefix}.pub")
    assert ok.exit_code == 0, ok.stdout + ok.stderr
    both = cli("bundle", "verify", str(md), "--key", f"{prefix}.pub", "--signature", str(signature))
    assert both.exit_code == 0
    wrong_key = cli("bundle", "verify", str(html), "--key", f"{other}.pub", "-f", "json")
    assert wrong_key.exit_code == 1
    assert json.loads(wrong_key.stdout)["findings"][0]["rule_id"] == "bundle-signature-invalid"

    html.write_text(html.read_text().replace("PASS", "pass").replace("pass", "PASS", 1))
    edited = cli("bundle", "verify", str(html), "--key", f"{prefix}.pub", "-f", "json")
    assert edited.exit_code == 1
    found = json.loads(edited.stdout)["findings"]
    assert [f["rule_id"] for f in found] == ["bundle-file-modified"]
    assert "audit.html" in found[0]["message"]


def test_sign_without_output_or_key_is_a_usage_error(cli: Cli, tmp_path: Path) -> None:
    result = str(save(tmp_path, "l.json", lint_result()))
    no_key = cli("report", result, "--sign", "-o", str(tmp_path / "a.html"))
    assert no_key.exit_code == 2 and "--sign needs --key" in no_key.stderr
    no_out = cli("report", result, "--sign", "--key", str(tmp_path / "k.key"))
    assert no_out.exit_code == 2 and "--sign needs --output" in no_out.stderr
    assert not (tmp_path / "a.html").exists()


def test_model_evidence_from_scan_verify_and_mlbom_satisfies_provenance(
    cli: Cli, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("COSIGN_PASSWORD", "pw")
    model = tmp_path / "tiny"
    model.mkdir()
    (model / "config.json").write_text('{"architectures": ["TinyForCausalLM"]}')
    header = json.dumps({"w": {"dtype": "F32", "shape": [2], "data_offsets": [0, 8]}}).encode()
    (model / "model.safetensors").write_bytes(len(header).to_bytes(8, "little") + header + bytes(8))
    (model / "README.md").write_text("---\nlicense: apache-2.0\n---\n# tiny\n")
    key = tmp_path / "k"
    assert cli("bundle", "keygen", "--output", str(key)).exit_code == 0
    assert cli("bundle", "sign", str(model), "--key", f"{key}.key").exit_code == 0
    results = tmp_path / "results"
    results.mkdir()
    verify = cli("bundle", "verify", str(model), "--key", f"{key}.pub", "-f", "json",
                 "-o", str(results / "verify.json"))  # fmt: skip
    scan = cli("bundle", "scan", str(model), "-f", "json", "-o", str(results / "scan.json"))
    mlbom = cli("bundle", "mlbom", str(model), "-o", str(results / "mlbom.json"))
    assert (verify.exit_code, scan.exit_code, mlbom.exit_code) == (0, 0, 0)
    out = cli("report", *sorted(map(str, results.iterdir())), "-f", "json",
              "--control", "SR-4", "--control", "SR-11", "--control", "LLM03:2025")  # fmt: skip
    assert out.exit_code == 0, out.stderr
    audit = json.loads(out.stdout)
    assert verdicts(audit) == {"SR-4": "satisfied", "SR-11": "satisfied", "LLM03:2025": "satisfied"}
    assert {r["command"] for r in audit["results"]} == {"bundle-verify", "bundle-scan", "mlbom"}
    assert audit["bundles"][0]["verified"] is True and audit["bundles"][0]["files"] == 3
    assert {m["format"] for m in audit["models"]} >= {"safetensors"}
    weights = next(c for c in audit["inventory"] if c["name"] == "model.safetensors")
    assert (
        weights["hashes"]["SHA-256"]
        == hashlib.sha256((model / "model.safetensors").read_bytes()).hexdigest()
    )
    sr4 = next(c for c in audit["controls"] if c["id"] == "SR-4")
    assert {e["command"] for e in sr4["evidence"]} == {"bundle-verify", "mlbom"}


def test_a_tampered_mlbom_is_refused_as_invalid_cyclonedx(tmp_path: Path) -> None:
    bom = {"bomFormat": "CycloneDX", "specVersion": "1.6", "version": 1,
           "components": [{"type": "vibes", "name": "x"}]}  # fmt: skip
    path = tmp_path / "mlbom.json"
    path.write_text(json.dumps(bom))
    with pytest.raises(Exception, match=r"not a valid CycloneDX 1\.6 document"):
        load_result(str(path))
