"""`templates/airgap.gitlab-ci.yml` proven on a real runner: gitlab-ci-local, shell executor,
offline, on a git repository of `fixtures/gitlab/shop`. `make test-gitlab` installs the runner
(Node 22 and gitlab-ci-local from npm, rsync from Debian) and runs this module; CI runs it.

Three pipelines a platform team lives with: the default branch (shards, egress audit of the
test job, sign, verify, deploy, signed audit report), a merge request that must be stopped
(public image, breaking API change, a test suite that phones home), and a tampered model
bundle that must never reach the deploy job.
"""

from __future__ import annotations

import json
import os
import re
import shlex
import shutil
import subprocess
import sys
import xml.etree.ElementTree as ET
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import FIXTURES, REPO

RUNNER = os.environ.get("AIRGAP_GITLAB_CI_LOCAL", "")
"""The gitlab-ci-local command line, e.g. `.tools/node/bin/node .tools/gcl/.../index.js`."""
REQUIRED = os.environ.get("AIRGAP_REQUIRE_GITLAB_CI_LOCAL") == "1"
BIN = Path(sys.executable).parent
PASSWORD = "pipeline secret"

pytestmark = [
    pytest.mark.gitlab,
    pytest.mark.slow,
    pytest.mark.root,
    pytest.mark.skipif(
        not RUNNER and not REQUIRED,
        reason="gitlab-ci-local not installed: `make test-gitlab` installs it and runs this",
    ),
    pytest.mark.skipif(os.geteuid() != 0, reason="the egress job builds network namespaces"),
]

DEPLOY_JOB = """
# The project's own deploy job: it runs only after the bundle verified.
deploy:
  stage: deploy
  image: $AIRGAP_IMAGE
  needs: [airgap-bundle-verify]
  rules:
    - if: $AIRGAP_BUNDLE
  script:
    - echo "deployed $AIRGAP_BUNDLE" > deployed.txt
  artifacts:
    paths: [deployed.txt]
"""

CLEAN_TESTS = "python3 -m pytest -q -p no:cacheprovider tests"
PHONES_HOME = (
    'python3 -c "import socket; s = socket.socket(); s.settimeout(3); '
    "print(s.connect_ex(('files.pythonhosted.example', 443)))\""
)


@dataclass
class Pipeline:
    """What gitlab-ci-local printed and what the jobs left in the checkout."""

    repo: Path
    returncode: int
    output: str
    jobs: dict[str, str]

    def artifact(self, name: str) -> Path:
        path = self.repo / name
        assert path.exists(), f"{name} was not produced\n{self.output[-4000:]}"
        return path

    def json(self, name: str) -> Any:
        return json.loads(self.artifact(name).read_text())


def git(repo: Path, *args: str) -> str:
    env = {
        **os.environ,
        "GIT_AUTHOR_NAME": "Shop Dev",
        "GIT_AUTHOR_EMAIL": "dev@corp.example",
        "GIT_COMMITTER_NAME": "Shop Dev",
        "GIT_COMMITTER_EMAIL": "dev@corp.example",
    }
    done = subprocess.run(
        ["git", *args], cwd=repo, env=env, check=True, capture_output=True, text=True
    )
    return done.stdout.strip()


def airgap(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "COSIGN_PASSWORD": PASSWORD}
    return subprocess.run(
        [str(BIN / "airgap"), *args], cwd=cwd, env=env, capture_output=True, text=True
    )


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    """The shop project set up by `airgap init` (its guessed airgap.yaml, the vendored template
    and the include), plus the project's deploy job and a release key, committed on `main`."""
    root = tmp_path / "shop"
    shutil.copytree(FIXTURES / "gitlab" / "shop", root)
    init = airgap("init", cwd=root)
    assert init.returncode == 0, init.stderr
    assert (root / ".gitlab" / "airgap.gitlab-ci.yml").read_bytes() == (
        REPO / "templates" / "airgap.gitlab-ci.yml"
    ).read_bytes()
    with (root / ".gitlab-ci.yml").open("a") as pipeline:
        pipeline.write(DEPLOY_JOB)
    (root / "keys").mkdir()
    keygen = airgap("bundle", "keygen", "--output", str(tmp_path / "release"), cwd=root)
    assert keygen.returncode == 0, keygen.stderr
    shutil.copy(tmp_path / "release.pub", root / "keys" / "release.pub")
    git(root, "init", "-q", "-b", "main")
    git(root, "remote", "add", "origin", "git@gitlab.corp.example:shop/cart.git")
    git(root, "add", "-A")
    git(root, "commit", "-q", "-m", "shop 1.8.2")
    git(root, "update-ref", "refs/remotes/origin/main", "HEAD")  # as a clone from GitLab has
    git(root, "symbolic-ref", "refs/remotes/origin/HEAD", "refs/remotes/origin/main")
    return root


def run_pipeline(repo: Path, **variables: str) -> Pipeline:
    command = [*shlex.split(RUNNER), "--force-shell-executor", "--shell-isolation"]
    command += ["--ignore-predefined-vars", "CI_PIPELINE_SOURCE,CI_MERGE_REQUEST_DIFF_BASE_SHA"]
    command += ["--json-schema-validation", "--no-color", "--max-job-name-padding", "0"]
    for name, value in variables.items():
        command += ["--variable", f"{name}={value}"]
    env = {**os.environ, "PATH": f"{BIN}{os.pathsep}{os.environ['PATH']}", "NO_COLOR": "1"}
    env.pop("AIRGAP_GITLAB_CI_LOCAL", None)
    done = subprocess.run(command, cwd=repo, env=env, capture_output=True, text=True, timeout=600)
    output = done.stdout + done.stderr
    jobs = {  # the summary gitlab-ci-local prints last: " PASS  job", " FAIL  job", " WARN  job"
        m.group(2): m.group(1)  # (a WARN line may add the failing phase after two spaces)
        for m in re.finditer(r"^ (PASS|FAIL|WARN) +(\S+(?: \S+)*)", done.stdout, re.MULTILINE)
    }
    return Pipeline(repo, done.returncode, output, jobs)


def junit_cases(path: Path) -> list[ET.Element]:
    return list(ET.parse(path).getroot().iter("testcase"))


def test_default_branch_signs_verifies_deploys_and_reports(repo: Path, tmp_path: Path) -> None:
    pipeline = run_pipeline(
        repo,
        AIRGAP_TEST_COMMAND=CLEAN_TESTS,
        AIRGAP_BUNDLE="models/tiny",
        AIRGAP_PUBLIC_KEY="keys/release.pub",
        AIRGAP_SIGNING_KEY=str(tmp_path / "release.key"),
        COSIGN_PASSWORD=PASSWORD,
    )
    assert pipeline.jobs == {
        "airgap-bundle-sign": "PASS",
        "airgap-check: [1/2]": "PASS",
        "airgap-check: [2/2]": "PASS",
        "airgap-check-report": "PASS",
        "airgap-egress": "PASS",
        "airgap-bundle-verify": "PASS",
        "deploy": "PASS",
        "airgap-report": "PASS",
    }, pipeline.output[-6000:]
    assert pipeline.returncode == 0
    assert pipeline.json("gl-code-quality-report.json") == []
    assert junit_cases(pipeline.artifact("airgap-junit.xml"))  # one passing case per rule
    assert pipeline.artifact("deployed.txt").read_text() == "deployed models/tiny\n"

    audit = pipeline.json("airgap-audit.json")
    assert audit["verdict"] == "pass", [(c["id"], c["reason"]) for c in audit["controls"]]
    assert {r["command"] for r in audit["results"]} == {"check", "egress-run", "bundle-verify"}
    assert audit["title"] == "Air-gap audit: shop/cart"
    egress = audit["egress"][0]
    assert egress["rung"] == "netns+tun" and egress["destinations"] == []
    assert audit["bundles"][0]["verified"] is True
    verified = airgap(
        "bundle", "verify", "airgap-audit.html", "--key", "keys/release.pub", cwd=repo
    )
    assert verified.returncode == 0, verified.stderr
    page = pipeline.artifact("airgap-audit.html").read_text()
    assert '<div class="banner pass"' in page


def test_a_merge_request_that_breaks_the_air_gap_is_stopped(repo: Path) -> None:
    base = git(repo, "rev-parse", "HEAD")
    git(repo, "checkout", "-q", "-b", "cart-1.9")
    shutil.copytree(FIXTURES / "gitlab" / "shop-mr", repo, dirs_exist_ok=True)
    git(repo, "commit", "-q", "-am", "cart 1.9: image from Docker Hub, items endpoint gone")
    pipeline = run_pipeline(
        repo,
        CI_PIPELINE_SOURCE="merge_request_event",
        CI_MERGE_REQUEST_DIFF_BASE_SHA=base,
        AIRGAP_OPENAPI_SPECS="api/cart.yaml",
        AIRGAP_TEST_COMMAND=PHONES_HOME,
    )
    assert pipeline.jobs == {
        "airgap-check: [1/2]": "PASS",
        "airgap-check: [2/2]": "PASS",
        "airgap-check-report": "FAIL",
        "airgap-openapi-breaking": "FAIL",
        "airgap-egress": "FAIL",
        "airgap-report": "WARN",
    }, pipeline.output[-6000:]
    assert pipeline.returncode == 1

    quality = pipeline.json("gl-code-quality-report.json")
    assert {(q["check_name"], q["location"]["path"]) for q in quality} >= {
        ("image-registry-not-internal", "k8s/cart.yaml"),
        ("image-not-pinned-by-digest", "k8s/cart.yaml"),
    }
    assert len({q["fingerprint"] for q in quality}) == len(quality)
    breaking = pipeline.json("gl-code-quality-openapi.json")
    assert [q["check_name"] for q in breaking] == ["api-path-removed-without-deprecation"]
    failures = [c for c in junit_cases(pipeline.artifact("airgap-egress-junit.xml"))
                if c.find("failure") is not None]  # fmt: skip
    assert failures and "files.pythonhosted.example" in (failures[0].get("name") or "")

    audit = pipeline.json("airgap-audit.json")
    assert audit["verdict"] == "fail"
    verdicts = {c["id"]: c["verdict"] for c in audit["controls"]}
    assert verdicts["SC-7"] == verdicts["SR-3"] == "not-satisfied"
    assert verdicts["AU-2"] == "satisfied"  # the phoning home was recorded
    rules = {f["rule_id"] for f in audit["findings"]}
    assert {"image-registry-not-internal", "api-path-removed-without-deprecation"} <= rules
    assert "egress-denied" in rules


def test_a_tampered_bundle_never_reaches_the_deploy_job(repo: Path, tmp_path: Path) -> None:
    signed = airgap(
        "bundle", "sign", "models/tiny", "--key", str(tmp_path / "release.key"), cwd=repo
    )
    assert signed.returncode == 0, signed.stderr
    git(repo, "checkout", "-q", "-b", "hotfix")
    git(repo, "add", "-A")
    git(repo, "commit", "-q", "-m", "signed model")
    weights = repo / "models" / "tiny" / "model.safetensors"
    data = bytearray(weights.read_bytes())
    data[-1] ^= 0x40  # one bit of one weight
    weights.write_bytes(bytes(data))
    git(repo, "commit", "-q", "-am", "tweak a weight")
    pipeline = run_pipeline(repo, AIRGAP_BUNDLE="models/tiny", AIRGAP_PUBLIC_KEY="keys/release.pub")
    assert pipeline.jobs.get("airgap-bundle-verify") == "FAIL", pipeline.output[-6000:]
    assert "deploy" not in pipeline.jobs  # never started
    assert not (repo / "deployed.txt").exists()
    assert "bundle-file-modified" in pipeline.output
    audit = pipeline.json("airgap-audit.json")
    verdicts = {c["id"]: c["verdict"] for c in audit["controls"]}
    assert verdicts["SR-4"] == verdicts["SR-11"] == "not-satisfied"
    assert audit["bundles"][0] | {"result": 0} == {
        "result": 0,
        "path": "models/tiny",
        "signature": "models/tiny.sigstore.json",
        "kind": "directory",
        "files": 2,
        "verified": False,
        "findings": 1,
    }
