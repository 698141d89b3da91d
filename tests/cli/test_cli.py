"""The command line as CI and developers use it: exit codes, formats, outputs, errors."""

from __future__ import annotations

import json
import os
import stat
import threading
from collections.abc import Callable
from pathlib import Path

import pytest

from airgap_cli.cli._options import OutputFormat
from airgap_cli.reporters import formats

from ..conftest import FIXTURES

Cli = Callable[..., object]
Write = Callable[[str, str], Path]
CLEAN = """\
apiVersion: v1
kind: ConfigMap
metadata: {name: settings, namespace: apps}
data: {API_BASE: "http://llm.ai.svc.cluster.local:8000/v1"}
"""
DIRTY = """\
apiVersion: v1
kind: Service
metadata: {name: llm, namespace: apps}
spec: {type: ExternalName, externalName: api.openai.com}
"""


def test_version_and_help_list_only_working_commands(cli: Cli) -> None:
    assert cli("--version").stdout.startswith("airgap ")  # type: ignore[attr-defined]
    out = cli("--help").stdout  # type: ignore[attr-defined]
    assert "lint" in out and "check" in out and "egress" in out and "bundle" in out
    assert "openapi" in out


def test_every_format_choice_has_a_reporter() -> None:
    assert {f.value for f in OutputFormat} == set(formats())


def test_exit_0_when_clean_1_on_findings_2_on_bad_input(cli: Cli, write: Write) -> None:
    clean = cli("lint", str(write("ok.yaml", CLEAN)))
    assert clean.exit_code == 0, clean.stdout  # type: ignore[attr-defined]
    dirty = write("bad.yaml", DIRTY)
    assert cli("lint", str(dirty)).exit_code == 1  # type: ignore[attr-defined]
    assert cli("lint", str(dirty), "--fail-on", "critical").exit_code == 0  # type: ignore[attr-defined]
    assert cli("lint", str(dirty), "--fail-on", "never").exit_code == 0  # type: ignore[attr-defined]
    broken = write("broken.yaml", "a: [1\n")
    result = cli("lint", str(broken), str(dirty))
    assert result.exit_code == 2  # type: ignore[attr-defined]
    assert f"error: {broken}:2: invalid YAML" in result.stderr  # type: ignore[attr-defined]
    assert "Traceback" not in result.stderr  # type: ignore[attr-defined]


def test_usage_errors_exit_2(cli: Cli, tmp_path: Path) -> None:
    assert cli("lint", "--fail-on", "sometimes", "x").exit_code == 2  # type: ignore[attr-defined]
    assert cli("lint", str(tmp_path / "missing.yaml")).exit_code == 2  # type: ignore[attr-defined]
    result = cli("lint", str(tmp_path), "--report", "nonsense")
    assert result.exit_code == 2 and "FORMAT=FILE" in result.stderr  # type: ignore[attr-defined]


def test_bad_config_is_one_line_with_file_and_line(cli: Cli, write: Write) -> None:
    config = write(
        "airgap.yaml", "internal:\n  registries: [ok.internal]\nrules:\n  disable: [no-such-rule]\n"
    )
    target = write("m.yaml", CLEAN)
    result = cli("lint", str(target), "--config", str(config))
    assert result.exit_code == 2  # type: ignore[attr-defined]
    assert "unknown rule id(s) in configuration: no-such-rule" in result.stderr  # type: ignore[attr-defined]
    config.write_text("internal:\n  registries: [ok.internal]\n  domain: [x]\n")
    result = cli("lint", str(target), "--config", str(config))
    assert result.exit_code == 2  # type: ignore[attr-defined]
    assert f"{config}:3: internal.domain" in result.stderr  # type: ignore[attr-defined]


def test_config_is_found_upward_and_changes_verdicts(cli: Cli, write: Write) -> None:
    write("repo/airgap.yaml", "internal:\n  domains: ['*.openai.com']\n")
    path = write("repo/k8s/svc.yaml", DIRTY)
    assert cli("lint", str(path)).exit_code == 0  # type: ignore[attr-defined]


def test_stdin_is_linted(cli: Cli) -> None:
    result = cli("lint", "-", "-f", "json", input=DIRTY)
    data = json.loads(result.stdout)  # type: ignore[attr-defined]
    assert data["findings"][0]["location"]["path"] == "-"
    assert data["findings"][0]["rule_id"] == "service-externalname-public"


def test_output_and_extra_reports_are_written(cli: Cli, write: Write, tmp_path: Path) -> None:
    path = write("bad.yaml", DIRTY)
    out = tmp_path / "out" / "report.sarif"
    cq = tmp_path / "gl-code-quality.json"
    result = cli("lint", str(path), "-f", "sarif", "-o", str(out), "--report", f"codequality={cq}")
    assert result.exit_code == 1  # type: ignore[attr-defined]
    assert json.loads(out.read_text())["version"] == "2.1.0"
    assert json.loads(cq.read_text())[0]["check_name"] == "service-externalname-public"
    assert result.stdout == ""  # type: ignore[attr-defined]


def test_write_baseline_then_only_new_findings_fail(cli: Cli, write: Write, tmp_path: Path) -> None:
    path = write("bad.yaml", DIRTY)
    baseline = tmp_path / "baseline.json"
    assert cli("lint", str(path), "--write-baseline", str(baseline)).exit_code == 1  # type: ignore[attr-defined]
    assert cli("lint", str(path), "--baseline", str(baseline)).exit_code == 0  # type: ignore[attr-defined]
    path.write_text(DIRTY + "---\n" + DIRTY.replace("name: llm", "name: llm2"))
    assert cli("lint", str(path), "--baseline", str(baseline)).exit_code == 1  # type: ignore[attr-defined]


@pytest.mark.parametrize("fmt", [f.value for f in OutputFormat])
def test_every_format_renders_the_demo(cli: Cli, fmt: str) -> None:
    result = cli("check", str(FIXTURES / "demo"), "-f", fmt)
    assert result.exit_code == 1  # type: ignore[attr-defined]
    assert result.stdout.strip()  # type: ignore[attr-defined]


def test_demo_fires_exactly_the_rules_it_was_built_for(cli: Cli) -> None:
    result = cli("check", str(FIXTURES / "demo"), "-f", "json")
    data = json.loads(result.stdout)  # type: ignore[attr-defined]
    expected = set((FIXTURES / "demo" / "expected-rules.txt").read_text().split())
    assert {f["rule_id"] for f in data["findings"]} == expected
    assert data["summary"]["suppressed"] == 2
    assert all(f["location"]["line"] for f in data["findings"])


def test_plain_text_when_piped_and_no_color(cli: Cli, write: Write) -> None:
    result = cli("lint", str(write("bad.yaml", DIRTY)), "--no-color")
    assert "\x1b[" not in result.stdout  # type: ignore[attr-defined]
    assert "service-externalname-public" in result.stdout  # type: ignore[attr-defined]


def test_unwritable_output_is_one_line_and_exit_2(cli: Cli, write: Write, tmp_path: Path) -> None:
    blocker = tmp_path / "not-a-dir"
    blocker.write_text("")
    result = cli("lint", str(write("ok.yaml", CLEAN)), "-f", "json", "-o", str(blocker / "r.json"))
    assert result.exit_code == 2  # type: ignore[attr-defined]
    assert "cannot write the report" in result.stderr  # type: ignore[attr-defined]
    assert "Traceback" not in result.stderr  # type: ignore[attr-defined]


def test_output_to_a_device_writes_into_it_and_leaves_the_node(
    cli: Cli, write: Write, tmp_path: Path
) -> None:
    """`-o /dev/null` as root used to rename a regular file over the device node (machine-wide:
    no other user could open /dev/null for writing afterwards). A private node stands in here."""
    null = tmp_path / "null"
    try:
        os.mknod(null, stat.S_IFCHR | 0o666, os.makedev(1, 3))
    except PermissionError:
        pytest.skip("creating a device node needs root")
    result = cli("lint", str(write("bad.yaml", DIRTY)), "-f", "json", "-o", str(null))
    assert result.exit_code == 1  # type: ignore[attr-defined]
    assert stat.S_ISCHR(null.lstat().st_mode)
    assert os.major(null.stat().st_rdev) == 1 and os.minor(null.stat().st_rdev) == 3
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".null")] == []


def test_output_to_a_fifo_streams_through_it(cli: Cli, write: Write, tmp_path: Path) -> None:
    fifo = tmp_path / "report.fifo"
    os.mkfifo(fifo)
    received: list[str] = []
    reader = threading.Thread(target=lambda: received.append(fifo.read_text()), daemon=True)
    reader.start()
    result = cli("lint", str(write("bad.yaml", DIRTY)), "-f", "json", "-o", str(fifo))
    reader.join(timeout=30)
    assert result.exit_code == 1  # type: ignore[attr-defined]
    assert stat.S_ISFIFO(fifo.lstat().st_mode)
    assert json.loads(received[0])["findings"][0]["rule_id"] == "service-externalname-public"


def test_output_through_a_symlink_keeps_the_link(cli: Cli, write: Write, tmp_path: Path) -> None:
    target = tmp_path / "reports" / "latest.json"
    target.parent.mkdir()
    target.write_text("old")
    link = tmp_path / "report.json"
    link.symlink_to(target)
    result = cli("lint", str(write("bad.yaml", DIRTY)), "-f", "json", "-o", str(link))
    assert result.exit_code == 1  # type: ignore[attr-defined]
    assert link.is_symlink()
    assert json.loads(target.read_text())["findings"][0]["rule_id"] == "service-externalname-public"
