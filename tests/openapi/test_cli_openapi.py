"""``airgap openapi …`` and the OpenAPI step of ``airgap check``: what a CI job relies on."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import jsonschema
import pytest
from typer.testing import CliRunner

from airgap_cli.cli import app

ROOT = Path(__file__).resolve().parents[2]
CLI = ROOT / "fixtures" / "openapi" / "cli"
OLD, NEW = str(CLI / "old.yaml"), str(CLI / "new.yaml")
REPORT_SCHEMA = json.loads((ROOT / "docs" / "schemas" / "report.schema.json").read_text())

runner = CliRunner()


def run(*args: str) -> tuple[int, dict[str, object]]:
    result = runner.invoke(app, [*args, "--format", "json"])
    assert result.exit_code in (0, 1), result.output
    report = json.loads(result.stdout)
    jsonschema.validate(report, REPORT_SCHEMA)
    return result.exit_code, report


def ids(report: dict[str, object]) -> set[str]:
    return {f["rule_id"] for f in report["findings"]}  # type: ignore[attr-defined,index]


def test_breaking_reports_oasdiff_ids_with_levels_and_fails() -> None:
    code, report = run("openapi", "breaking", OLD, NEW)
    assert code == 1
    assert {"api-removed-without-deprecation", "request-property-max-length-decreased"} <= ids(
        report
    )
    for finding in report["findings"]:  # type: ignore[attr-defined]
        assert finding["level"] in ("error", "warning")
    assert "endpoint-added" not in ids(report)


def test_changed_component_is_one_change_with_every_affected_operation() -> None:
    _, report = run("openapi", "diff", OLD, NEW)
    [enum_added] = [
        f
        for f in report["findings"]  # type: ignore[attr-defined]
        if f["rule_id"] == "response-property-enum-value-added"
    ]
    assert set(enum_added["operations"]) == {
        "GET /orders",
        "POST /orders",
        "GET /orders/{orderId}",
    }
    assert enum_added["location"]["path"] == NEW
    assert (
        enum_added["location"]["line"]
        == (CLI / "new.yaml")
        .read_text()
        .splitlines()
        .index("        status: {type: string, enum: [open, shipped, returned]}")
        + 1
    )


def test_diff_lists_info_changes_and_does_not_fail_by_default() -> None:
    code, report = run("openapi", "diff", OLD, NEW)
    assert code == 0
    assert "endpoint-added" in ids(report)
    levels = {f["level"] for f in report["findings"]}  # type: ignore[attr-defined]
    assert levels == {"error", "warning", "info"}


def test_renamed_path_parameter_is_the_same_path() -> None:
    _, report = run("openapi", "diff", OLD, NEW)
    assert "api-path-removed-without-deprecation" not in ids(report)
    assert not any(
        "GET /orders/{id}" in f["operations"]  # type: ignore[index]
        and f["rule_id"] == "api-removed-without-deprecation"
        for f in report["findings"]  # type: ignore[attr-defined]
    )


def test_fail_on_level(tmp_path: Path) -> None:
    code, _ = run("openapi", "breaking", OLD, NEW, "--fail-on", "never")
    assert code == 0
    code, _ = run("openapi", "diff", OLD, NEW, "--fail-on", "info")
    assert code == 1


def test_ignore_file_accepts_a_change_in_oasdiffs_format(tmp_path: Path) -> None:
    ignore = tmp_path / "accepted.txt"
    ignore.write_text("DELETE /orders/{orderId} api removed without deprecation\n")
    _, report = run("openapi", "breaking", OLD, NEW, "--ignore", str(ignore))
    assert "api-removed-without-deprecation" not in ids(report)
    suppressed = report["suppressed"]
    assert [s["finding"]["rule_id"] for s in suppressed] == ["api-removed-without-deprecation"]  # type: ignore[attr-defined]
    assert suppressed[0]["source"] == "ignore"  # type: ignore[index]


def test_level_override_from_config(tmp_path: Path) -> None:
    config = tmp_path / "airgap.yaml"
    config.write_text(
        "openapi:\n  levels:\n    api-removed-without-deprecation: info\n"
        "    request-property-max-length-decreased: none\n"
    )
    _, report = run("openapi", "breaking", OLD, NEW, "--config", str(config))
    assert "api-removed-without-deprecation" not in ids(report)
    assert "request-property-max-length-decreased" not in ids(report)


def test_identical_specs_have_no_changes() -> None:
    code, report = run("openapi", "diff", NEW, NEW, "--fail-on", "info")
    assert code == 0 and report["findings"] == []


@pytest.mark.parametrize("fmt", ["text", "markdown", "sarif", "codequality", "junit", "html"])
def test_every_format_renders_changes(fmt: str) -> None:
    result = runner.invoke(app, ["openapi", "breaking", OLD, NEW, "--format", fmt])
    assert result.exit_code == 1, result.output
    assert "api-removed-without-deprecation" in result.stdout


def test_text_is_grouped_by_operation() -> None:
    result = runner.invoke(app, ["openapi", "diff", OLD, NEW, "--format", "text"])
    lines = result.stdout.splitlines()
    assert "DELETE /orders/{orderId}" in lines
    heading = lines.index("DELETE /orders/{orderId}")
    assert "api-removed-without-deprecation" in lines[heading + 1]


def test_markdown_is_a_changelog() -> None:
    result = runner.invoke(app, ["openapi", "diff", OLD, NEW, "--format", "markdown"])
    assert "### Breaking changes" in result.stdout
    assert "### Other changes" in result.stdout


def test_remote_ref_cannot_be_diffed_unless_mapped(tmp_path: Path) -> None:
    spec = tmp_path / "remote.yaml"
    spec.write_text(
        "openapi: 3.0.3\ninfo: {title: t, version: '1'}\npaths:\n  /a:\n    get:\n"
        "      responses:\n        '200':\n          description: ok\n          content:\n"
        "            application/json:\n              schema:\n"
        "                $ref: 'https://schemas.vendor-hub.com/a.json#/A'\n"
    )
    changed = tmp_path / "changed.yaml"
    changed.write_text(spec.read_text().replace("/a:", "/b:"))
    result = runner.invoke(app, ["openapi", "breaking", str(spec), str(spec)])
    assert result.exit_code == 2
    assert "https://schemas.vendor-hub.com/a.json" in result.output
    assert "--ref-map" in result.output
    local = tmp_path / "a.json"
    local.write_text('{"A": {"type": "string"}}')
    mapped = f"https://schemas.vendor-hub.com/a.json={local}"
    result = runner.invoke(app, ["openapi", "breaking", str(spec), str(spec), "--ref-map", mapped])
    assert result.exit_code == 0, result.output


@pytest.mark.parametrize(
    ("content", "message"),
    [("openapi: [", "invalid YAML"), ("- a\n- b\n", "not a mapping")],
)
def test_unreadable_spec_is_exit_2_with_file_and_line(
    tmp_path: Path, content: str, message: str
) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text(content)
    for command in (["validate", str(bad)], ["lint", str(bad)], ["breaking", OLD, str(bad)]):
        result = runner.invoke(app, ["openapi", *command])
        assert result.exit_code == 2, result.output
        assert f"{bad}" in result.output and message in result.output
        assert "Traceback" not in result.output


def test_validate_and_lint_on_a_clean_spec_exit_0() -> None:
    code, report = run("openapi", "validate", NEW)
    assert code == 0 and report["findings"] == []


def test_lint_flags_what_would_reach_outside() -> None:
    code, report = run(
        "openapi", "lint", str(ROOT / "fixtures" / "demo" / "api" / "inference.yaml")
    )
    assert code == 1
    assert {"openapi-server-public", "openapi-oauth-url-public", "openapi-remote-ref"} <= ids(
        report
    )


def _git(cwd: Path, *args: str) -> None:
    subprocess.run(["git", *args], cwd=cwd, check=True, capture_output=True)


@pytest.mark.skipif(shutil.which("git") is None, reason="needs git")
def test_base_ref_reads_old_versions_from_git(tmp_path: Path) -> None:
    repo = tmp_path / "repo"
    (repo / "api").mkdir(parents=True)
    spec = repo / "api" / "orders.yaml"
    spec.write_text((CLI / "old.yaml").read_text())
    _git(repo, "init", "-q", "-b", "main")
    _git(repo, "-c", "user.email=ci@acme.internal", "-c", "user.name=ci", "add", ".")
    _git(repo, "-c", "user.email=ci@acme.internal", "-c", "user.name=ci", "commit", "-qm", "v1")
    spec.write_text((CLI / "new.yaml").read_text())
    fresh = repo / "api" / "fresh.yaml"
    fresh.write_text((CLI / "new.yaml").read_text())
    code, report = run("openapi", "breaking", "--base", "main", str(spec), str(fresh))
    assert code == 1
    assert "api-removed-without-deprecation" in ids(report)
    assert [s["path"] for s in report["skipped"]] == [str(fresh)]  # type: ignore[attr-defined]
    result = runner.invoke(app, ["openapi", "breaking", "--base", "nope", str(spec)])
    assert result.exit_code == 2 and "unknown git revision" in result.output

    (repo / "airgap.yaml").write_text("openapi:\n  base: main\n")
    result = runner.invoke(app, ["check", str(repo), "--format", "json"])
    check = json.loads(result.stdout)
    assert "api-removed-without-deprecation" in ids(check)
    assert not any(s["path"].endswith("orders.yaml") for s in check["skipped"])


def test_check_reference_is_current() -> None:
    from airgap_cli.openapi.checks import checks_page

    page = ROOT / "docs" / "openapi-checks.md"
    assert page.read_text(encoding="utf-8") == checks_page(), "run `make docs`"


def test_check_recognises_specs_by_their_top_level_version(tmp_path: Path) -> None:
    from airgap_cli.openapi.discover import looks_like_spec

    cases = {
        "a.json": ('{"info": {"title": "t"}, "openapi": "3.1.0"}', True),
        "b.yaml": ("# api\nswagger: '2.0'\ninfo: {title: t}\n", True),
        "c.yaml": ("apiVersion: v1\nkind: ConfigMap\ndata:\n  openapi: 3.0.0\n", False),
        "d.json": ('{"kind": "List", "items": []}', False),
    }
    for name, (content, expected) in cases.items():
        (tmp_path / name).write_text(content)
        assert looks_like_spec(str(tmp_path / name)) is expected, name
