"""``airgap init`` as a user runs it: the guesses, the files written, refusals and the CI include."""

from __future__ import annotations

import json
import shutil
from collections.abc import Callable
from importlib import resources
from pathlib import Path
from typing import Any

import pytest
import yaml

from airgap_cli.core.config import load_config

from ..conftest import FIXTURES

Cli = Callable[..., Any]
INCLUDE_LINES = "include:\n  - local: .gitlab/airgap.gitlab-ci.yml\n"


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    """A copy of the fixture repository (init writes into it)."""
    target = tmp_path / "shop"
    shutil.copytree(FIXTURES / "init", target)
    return target


def _template() -> str:
    return resources.files("airgap_cli").joinpath("templates", "airgap.gitlab-ci.yml").read_text()


def _findings(cli: Cli, repo: Path) -> set[tuple[str, str]]:
    result = cli("check", str(repo), "--format", "json", "--fail-on", "never")
    assert result.exit_code == 0, result.stderr
    report = json.loads(result.stdout)
    assert report["errors"] == []
    return {(f["rule_id"], f["evidence"]) for f in report["findings"]}


def test_init_writes_a_valid_config_with_the_guesses(cli: Cli, repo: Path) -> None:
    result = cli("init", str(repo))
    assert result.exit_code == 0, result.stderr
    config = load_config(repo / "airgap.yaml")
    assert config.boundary.registries == ("registry.corp.example.com",)
    assert config.boundary.domains == ("*.corp.example.com", "*.svc.cluster.local")
    assert config.boundary.cidrs == ("10.0.0.0/8",)
    assert config.fail_on == "low"
    text = (repo / "airgap.yaml").read_text()
    assert "docs/configuration.md" in text
    assert "3 images, e.g. .gitlab-ci.yml:5" in text  # counts and an example for each guess
    assert "#   registry docker.io (Docker Hub): 1 image, e.g. k8s/web.yaml:25 (nginx:1.27)" in text
    assert "#   host api.openai.com (OpenAI API)" in text
    assert result.stderr.startswith(
        f"wrote {repo}/airgap.yaml: 1 internal registry, 2 domain patterns, 1 address range "
        "guessed from 6 manifest files; review them\n"
        "  outside the boundary, reported by airgap check: docker.io, quay.io, api.openai.com\n"
    )


def test_check_with_the_config_keeps_reporting_only_what_is_outside(cli: Cli, repo: Path) -> None:
    before = _findings(cli, repo)
    assert cli("init", str(repo), "--no-ci").exit_code == 0
    after = _findings(cli, repo)
    internal = ("image-registry-not-internal", "registry.corp.example.com/shop/web:1.4.2")
    assert internal in before and internal not in after
    for gone in [
        ("external-url", "https://vault.corp.example.com:8200"),
        ("gitlab-ci-image-not-internal", "registry.corp.example.com/ci/python:3.12"),
        ("helm-chart-external-repo", "https://charts.corp.example.com/stable"),
        ("ai-gateway-external-backend", "https://llm.corp.example.com/v1"),
    ]:
        assert gone in before and gone not in after
    for kept in [
        ("image-registry-not-internal", "nginx:1.27"),
        ("image-registry-not-internal", "quay.io/prometheus/statsd-exporter:v0.27.0"),
    ]:
        assert kept in before and kept in after
    assert any("api.openai.com" in evidence for _, evidence in after)


def test_an_existing_config_is_refused_unless_forced(cli: Cli, repo: Path) -> None:
    (repo / "airgap.yaml").write_text("fail_on: high\n")
    result = cli("init", str(repo))
    assert result.exit_code == 2
    assert result.stderr == f"error: {repo}/airgap.yaml: already exists (--force to overwrite)\n"
    assert (repo / "airgap.yaml").read_text() == "fail_on: high\n"
    assert not (repo / ".gitlab").exists()  # nothing else was written either
    shown = cli("init", str(repo), "--stdout")  # printing never replaces anything
    assert shown.exit_code == 0 and "(it exists: replaced only with --force)" in shown.stderr
    assert (repo / "airgap.yaml").read_text() == "fail_on: high\n"
    forced = cli("init", str(repo), "--force")
    assert forced.exit_code == 0 and "(replacing it)" in forced.stderr
    assert load_config(repo / "airgap.yaml").boundary.registries == ("registry.corp.example.com",)


def test_the_refusal_names_the_config_relative_to_the_current_directory(
    cli: Cli, repo: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(repo)
    (repo / ".airgap.yaml").write_text("{}\n")  # any config name: airgap.yaml would shadow it
    result = cli("init")
    assert (result.exit_code, result.stderr) == (
        2,
        "error: .airgap.yaml: already exists (--force to overwrite)\n",
    )


def test_rerunning_gives_the_same_bytes(cli: Cli, repo: Path) -> None:
    assert cli("init", str(repo)).exit_code == 0
    first = (repo / "airgap.yaml").read_bytes()
    assert cli("init", str(repo), "--force").exit_code == 0
    assert (repo / "airgap.yaml").read_bytes() == first  # the vendored template is not read


def test_stdout_prints_the_config_and_writes_nothing(cli: Cli, repo: Path) -> None:
    before = sorted(p.relative_to(repo) for p in repo.rglob("*"))
    result = cli("init", str(repo), "--stdout")
    assert result.exit_code == 0
    assert sorted(p.relative_to(repo) for p in repo.rglob("*")) == before
    assert "would write" in result.stderr and "next:" not in result.stderr
    assert cli("init", str(repo), "--dry-run").stdout == result.stdout
    assert cli("init", str(repo), "--no-ci").exit_code == 0
    assert (repo / "airgap.yaml").read_text() == result.stdout


def test_an_existing_pipeline_is_left_alone_and_the_include_is_printed(
    cli: Cli, repo: Path
) -> None:
    pipeline = (repo / ".gitlab-ci.yml").read_bytes()
    result = cli("init", str(repo))
    assert (repo / ".gitlab-ci.yml").read_bytes() == pipeline
    assert (repo / ".gitlab" / "airgap.gitlab-ci.yml").read_text() == _template()
    assert (
        ".gitlab-ci.yml exists and was left as it is; add the airgap jobs to it:\n" + INCLUDE_LINES
    ) in result.stderr
    assert result.stdout == ""


def test_a_new_pipeline_includes_the_vendored_template(cli: Cli, tmp_path: Path) -> None:
    (tmp_path / "pod.yaml").write_text("apiVersion: v1\nkind: Pod\nmetadata: {name: p}\n")
    assert cli("init", str(tmp_path)).exit_code == 0
    pipeline = yaml.safe_load((tmp_path / ".gitlab-ci.yml").read_text())
    assert pipeline["include"] == [{"local": ".gitlab/airgap.gitlab-ci.yml"}]
    assert pipeline["stages"][:2] == ["build", "test"] and pipeline["stages"][-1] == "deploy"
    vendored = (tmp_path / ".gitlab" / "airgap.gitlab-ci.yml").read_text()
    assert vendored == _template() and isinstance(yaml.safe_load(vendored), dict)
    again = cli("init", str(tmp_path), "--force")
    assert ".gitlab-ci.yml already includes the airgap template" in again.stderr


def test_a_central_template_project_instead_of_a_copy(cli: Cli, tmp_path: Path) -> None:
    result = cli("init", str(tmp_path), "--include", "project:platform/airgap@v1.2.0")
    assert result.exit_code == 0, result.stderr
    pipeline = yaml.safe_load((tmp_path / ".gitlab-ci.yml").read_text())
    assert pipeline["include"] == [
        {"project": "platform/airgap", "ref": "v1.2.0", "file": "templates/airgap.gitlab-ci.yml"}
    ]
    assert not (tmp_path / ".gitlab").exists()


def test_no_ci_and_bad_include_values(cli: Cli, tmp_path: Path) -> None:
    assert cli("init", str(tmp_path), "--no-ci").exit_code == 0
    assert sorted(p.name for p in tmp_path.iterdir()) == ["airgap.yaml"]
    bad = cli("init", str(tmp_path), "--force", "--include", "group/project")
    assert bad.exit_code == 2
    assert bad.stderr == (
        "error: --include: expected local or project:GROUP/PROJECT@REF, not 'group/project'\n"
    )
    both = cli("init", str(tmp_path), "--force", "--no-ci", "--include", "local")
    assert both.exit_code == 2 and "cannot be combined" in both.stderr


def test_bad_manifests_do_not_stop_init(cli: Cli, repo: Path) -> None:
    (repo / "k8s" / "broken.yaml").write_text("apiVersion: v1\nkind: Pod\nspec: [1\n")
    result = cli("init", str(repo), "--no-ci")
    assert result.exit_code == 0, result.stderr
    assert "skipped 1 file that could not be read" in result.stderr
    text = (repo / "airgap.yaml").read_text()
    assert "#   k8s/broken.yaml:4: invalid YAML" in text
    assert '#   exclude: ["k8s/broken.yaml"]' in text
    assert load_config(repo / "airgap.yaml").boundary.registries == ("registry.corp.example.com",)


def test_nothing_to_guess_from_still_writes_a_valid_config(cli: Cli, tmp_path: Path) -> None:
    (tmp_path / "notes.yaml").write_text("just: data\n")
    result = cli("init", str(tmp_path), "--no-ci")
    assert result.exit_code == 0
    assert "nothing in 0 manifest files looks inside the boundary" in result.stderr
    config = load_config(tmp_path / "airgap.yaml")
    assert config.boundary.registries == config.boundary.domains == ()
    assert "# internal:" in (tmp_path / "airgap.yaml").read_text()


def test_a_path_that_is_not_a_directory(cli: Cli, tmp_path: Path) -> None:
    (tmp_path / "file").write_text("x")
    result = cli("init", str(tmp_path / "file"))
    assert result.exit_code == 2 and "Traceback" not in result.stderr


def test_init_is_listed_in_help(cli: Cli) -> None:
    assert "init" in cli("--help").stdout
    assert "--include" in cli("init", "--help").stdout
