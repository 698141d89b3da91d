"""The starter airgap.yaml and the GitLab CI plan, without the command line."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from airgap_cli.core.config import parse_config
from airgap_cli.core.errors import UsageError
from airgap_cli.lint import starter
from airgap_cli.lint.guess import BoundaryGuess, Guess, Seen, Where
from airgap_cli.lint.starter import (
    DEFAULT_STAGES,
    VENDORED,
    Include,
    plan_gitlab_ci,
    render_config,
    template_stages,
    template_text,
)
from airgap_cli.lint.targets import ci_jobs


def _seen(name: str, registry: bool = False) -> Seen:
    return Seen(name, 2, Where("k8s/app.yaml", 7), f"https://{name}/x", registry=registry)


def test_nothing_found_is_still_a_valid_config_that_says_so() -> None:
    text = render_config(BoundaryGuess())
    assert "Nothing in the 0 manifest files read names" in text
    assert "# internal:" in text and "\ninternal:" not in text
    config = parse_config(text, Path("airgap.yaml"))
    assert config.boundary.registries == () and config.fail_on == "low"


def test_doubtful_guesses_are_commented_out_and_the_rest_stays_valid() -> None:
    doubtful = Guess(
        "*.vendor.com", "one host, not on the public list", (_seen("api.vendor.com"),), False
    )
    text = render_config(BoundaryGuess(domains=(doubtful,)))
    assert '#   - "*.vendor.com"' in text.replace("    # -", "#   -")
    assert parse_config(text, Path("airgap.yaml")).boundary.domains == ()
    sure = Guess("*.corp.example", "names under .example", (_seen("git.corp.example"),))
    text = render_config(BoundaryGuess(domains=(sure, doubtful)))
    config = parse_config(text, Path("airgap.yaml"))
    assert config.boundary.domains == ("*.corp.example",)
    lines = text.splitlines()
    assert lines.index('    - "*.corp.example"') < lines.index('    # - "*.vendor.com"')


def test_comments_cannot_break_the_file() -> None:
    odd = Seen("registry.corp.example", 1, Where("odd\nname: x.yaml", 3), "ref\r\n#: oops")
    text = render_config(BoundaryGuess(registries=(Guess("registry.corp.example", "r", (odd,)),)))
    assert parse_config(text, Path("airgap.yaml")).boundary.registries == ("registry.corp.example",)
    assert "odd?name: x.yaml:3 (ref??#: oops)" in text  # one comment line, control chars replaced


@pytest.mark.parametrize(
    ("text", "entry"),
    [
        ("local", {"local": VENDORED}),
        (
            "project:platform/ci-templates@v1.4",
            {
                "project": "platform/ci-templates",
                "ref": "v1.4",
                "file": "templates/airgap.gitlab-ci.yml",
            },
        ),
        (
            "project:a/b/c@main",
            {"project": "a/b/c", "ref": "main", "file": "templates/airgap.gitlab-ci.yml"},
        ),
    ],
)
def test_include_sources(text: str, entry: dict[str, str]) -> None:
    include = Include.parse(text)
    assert include.entry() == entry
    assert yaml.safe_load("include:\n" + "\n".join(include.item_lines())) == {"include": [entry]}


@pytest.mark.parametrize(
    "text", ["project:noslash@v1", "project:a/b", "gitlab:a/b@v1", "project:a/b@"]
)
def test_bad_include_sources_are_usage_errors(text: str) -> None:
    with pytest.raises(UsageError, match="project:GROUP/PROJECT@REF"):
        Include.parse(text)


def test_a_numeric_looking_ref_stays_a_string() -> None:
    lines = Include.parse("project:g/p@1.0").item_lines()
    assert yaml.safe_load("\n".join(lines))[0]["ref"] == "1.0"


def test_the_pipeline_gets_every_stage_the_template_uses() -> None:
    template = yaml.safe_load(template_text())
    used = {job["stage"] for _, job in ci_jobs(template) if "stage" in job}
    stages = template_stages(template_text())
    assert stages[:2] == list(DEFAULT_STAGES[:2]) and stages[-1] == DEFAULT_STAGES[-1]
    assert used - {".pre", ".post"} <= set(stages)
    extra = "a:\n  stage: verify\nb:\n  stage: test\nc:\n  stage: .post\n"
    assert template_stages(extra) == ["build", "test", "verify", "deploy"]


@pytest.mark.parametrize(
    ("pipeline", "found"),
    [
        ("include: .gitlab/airgap.gitlab-ci.yml\n", "local: .gitlab/airgap.gitlab-ci.yml"),
        ("include:\n  - local: /ci/airgap.gitlab-ci.yml\n", "local: /ci/airgap.gitlab-ci.yml"),
        (
            "include:\n  - project: platform/airgap\n    ref: v1\n    file: templates/airgap.gitlab-ci.yml\n",
            "project: platform/airgap",
        ),
        (
            "include:\n  project: platform/ci\n  file: [a.yml, templates/airgap.gitlab-ci.yml]\n",
            "project: platform/ci",
        ),
        (
            "include:\n  - remote: https://gitlab.corp.example/airgap.gitlab-ci.yml\n",
            "remote: https://gitlab.corp.example/airgap.gitlab-ci.yml",
        ),
    ],
)
def test_an_existing_include_is_recognised(tmp_path: Path, pipeline: str, found: str) -> None:
    (tmp_path / ".gitlab-ci.yml").write_text(pipeline)
    (tmp_path / "ci").mkdir()
    (tmp_path / "ci" / "airgap.gitlab-ci.yml").write_text("x: 1\n")
    (tmp_path / ".gitlab").mkdir()
    (tmp_path / ".gitlab" / "airgap.gitlab-ci.yml").write_text(template_text())
    plan = plan_gitlab_ci(tmp_path, Include())
    assert plan.notes[0] == f".gitlab-ci.yml already includes the airgap template ({found})"
    assert plan.writes == () and plan.add_lines == ()


def test_force_refreshes_an_included_vendored_copy(tmp_path: Path) -> None:
    (tmp_path / ".gitlab-ci.yml").write_text(f"include:\n  - local: {VENDORED}\n")
    (tmp_path / ".gitlab").mkdir()
    (tmp_path / VENDORED).write_text("# an older template\n")
    kept = plan_gitlab_ci(tmp_path, Include())
    assert kept.writes == () and "was kept (--force replaces it)" in kept.notes[-1]
    forced = plan_gitlab_ci(tmp_path, Include(), force=True)
    assert [(w.path, w.content, w.replaces) for w in forced.writes] == [
        (VENDORED, template_text(), True)
    ]


def test_a_missing_local_copy_of_an_included_template_is_written(tmp_path: Path) -> None:
    (tmp_path / ".gitlab-ci.yml").write_text("include:\n  - local: ci/airgap.gitlab-ci.yml\n")
    plan = plan_gitlab_ci(tmp_path, Include())
    assert [w.path for w in plan.writes] == ["ci/airgap.gitlab-ci.yml"]
    assert plan.writes[0].content == template_text()


def test_the_lines_to_add_fit_the_users_pipeline(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A stand-in template: the real one is another engineer's to extend.
    monkeypatch.setattr(
        starter, "template_text", lambda: "a:\n  stage: test\nb:\n  stage: verify\n"
    )
    (tmp_path / ".gitlab-ci.yml").write_text("stages: [build]\ninclude:\n  - local: other.yml\n")
    plan = plan_gitlab_ci(tmp_path, Include.parse("project:platform/airgap@v2"))
    assert plan.writes == ()  # a central copy: nothing vendored
    assert plan.notes[-1].endswith("add the airgap jobs to its include: list:")
    assert plan.add_lines == (
        "  - project: platform/airgap",
        "    ref: v2",
        "    file: templates/airgap.gitlab-ci.yml",
        "# and add test, verify to its stages: list",
    )
    (tmp_path / ".gitlab-ci.yml").write_text("job:\n  script: [make]\n")  # GitLab's stages
    plan = plan_gitlab_ci(tmp_path, Include())
    assert plan.add_lines == (
        "include:",
        "  - local: .gitlab/airgap.gitlab-ci.yml",
        "# and add verify to its stages: list",
    )


def test_a_changed_vendored_copy_is_kept_unless_forced(tmp_path: Path) -> None:
    (tmp_path / ".gitlab").mkdir()
    (tmp_path / VENDORED).write_text("# my edits\n")
    kept = plan_gitlab_ci(tmp_path, Include())
    assert [w.path for w in kept.writes] == [".gitlab-ci.yml"]
    assert any("differs from the packaged template and was kept" in n for n in kept.notes)
    forced = plan_gitlab_ci(tmp_path, Include(), force=True)
    assert [(w.path, w.replaces) for w in forced.writes] == [
        (VENDORED, True),
        (".gitlab-ci.yml", False),
    ]
