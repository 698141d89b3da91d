"""`--shard I/N` and `airgap merge`: N CI jobs together give exactly what one run gives, and an
incomplete or mismatched set of shards is refused, never merged into a silent pass."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from airgap_cli.core.errors import UsageError
from airgap_cli.core.shard import Shard
from tests.conftest import FIXTURES

Cli = Callable[..., Any]
DEMO = FIXTURES / "demo"
CONFIG = str(DEMO / "airgap.yaml")


def signature(result: dict[str, Any]) -> tuple[Any, ...]:
    """What a user compares: findings, accepted findings, inputs and the summary."""
    return (
        sorted((f["fingerprint"], f["rule_id"], f["location"]["line"]) for f in result["findings"]),
        sorted((s["finding"]["fingerprint"], s["reason"]) for s in result["suppressed"]),
        sorted((i["path"], i["sha256"]) for i in result["inputs"]),
        result["summary"],
    )


def run_shards(cli: Cli, tmp_path: Path, command: str, total: int) -> list[Path]:
    paths = []
    for index in range(1, total + 1):
        out = tmp_path / f"{command}-{index}.json"
        args = [command, str(DEMO / "k8s") if command == "lint" else str(DEMO)]
        result = cli(*args, "--shard", f"{index}/{total}", "-f", "json", "-o", str(out))
        assert result.exit_code in (0, 1), result.stderr
        paths.append(out)
    return paths


@pytest.mark.parametrize("total", [1, 2, 3, 5])
def test_merged_shards_of_check_equal_one_run(cli: Cli, tmp_path: Path, total: int) -> None:
    whole = cli("check", str(DEMO), "-f", "json")
    shards = run_shards(cli, tmp_path, "check", total)
    merged = cli("merge", *map(str, shards), "-c", CONFIG, "-f", "json")
    assert (merged.exit_code, whole.exit_code) == (1, 1), merged.stderr
    assert signature(json.loads(merged.stdout)) == signature(json.loads(whole.stdout))


def test_cross_document_rules_see_every_shard(cli: Cli, tmp_path: Path) -> None:
    """A namespace in one shard and its default-deny policy in another: no false positive."""
    (tmp_path / "tree").mkdir()
    names = [f"team{i}" for i in range(12)]
    for name in names:
        (tmp_path / "tree" / f"{name}-ns.yaml").write_text(
            f"apiVersion: v1\nkind: Namespace\nmetadata: {{name: {name}}}\n"
        )
        if name != "team3":
            (tmp_path / "tree" / f"{name}-deny.yaml").write_text(
                "apiVersion: networking.k8s.io/v1\nkind: NetworkPolicy\n"
                f"metadata: {{name: deny, namespace: {name}}}\n"
                "spec: {podSelector: {}, policyTypes: [Ingress, Egress]}\n"
            )
    shards = []
    for index in (1, 2, 3):
        out = tmp_path / f"s{index}.json"
        cli("lint", str(tmp_path / "tree"), "--shard", f"{index}/3", "-f", "json", "-o", str(out))
        shards.append(str(out))
        alone = json.loads(out.read_text())
        assert not [
            f for f in alone["findings"] if f["rule_id"] == "namespace-without-default-deny"
        ]
    merged = json.loads(cli("merge", *shards, "-f", "json").stdout)
    flagged = [f["location"]["resource"] for f in merged["findings"]]
    assert flagged == ["Namespace/team3"]


def test_a_missing_shard_is_exit_2_and_named(cli: Cli, tmp_path: Path) -> None:
    shards = run_shards(cli, tmp_path, "check", 3)
    out = cli("merge", str(shards[0]), str(shards[2]), "-c", CONFIG, "-f", "json")
    assert out.exit_code == 2
    assert "error: (shards): shard 2 of 3 missing: their files are not in the merged result" in (
        out.stderr
    )
    assert json.loads(out.stdout)["summary"]["findings"] > 0  # what was there is still reported


def test_shards_of_different_runs_or_configs_are_refused(cli: Cli, tmp_path: Path) -> None:
    three = run_shards(cli, tmp_path, "check", 3)
    other = tmp_path / "other"
    other.mkdir()
    two = run_shards(cli, other, "check", 2)
    mixed = cli("merge", str(three[0]), str(three[1]), str(three[2]), str(two[1]), "-c", CONFIG)
    assert mixed.exit_code == 2
    assert f"{two[1]}: shard 2/2 is not one of 3: from another run?" in mixed.stderr

    strict = tmp_path / "strict.yaml"
    strict.write_text("rules:\n  severity:\n    service-selects-nothing: critical\n")
    changed = cli("merge", *map(str, three), "-c", str(strict))
    assert changed.exit_code == 2
    assert "service-selects-nothing is medium in the shards but critical in this airgap.yaml" in (
        changed.stderr
    )


def test_tampered_facts_are_an_input_error(cli: Cli, tmp_path: Path) -> None:
    shards = run_shards(cli, tmp_path, "check", 2)
    data = json.loads(shards[0].read_text())
    data["details"]["shard"]["facts"].append({"type": "namespace", "rm -rf": True})
    shards[0].write_text(json.dumps(data))
    out = cli("merge", *map(str, shards), "-c", CONFIG)
    assert out.exit_code == 2
    assert f"{shards[0]}: details.shard.facts: not a fact (its keys differ)" in out.stderr


def test_a_shard_cannot_write_the_baseline(cli: Cli, tmp_path: Path) -> None:
    out = cli("check", str(DEMO), "--shard", "1/2", "--write-baseline", str(tmp_path / "b.json"))
    assert out.exit_code == 2
    assert "--write-baseline needs every finding: run it without --shard" in out.stderr


@pytest.mark.parametrize("text", ["0/3", "4/3", "3", "a/b", "1/0", "1/1001"])
def test_bad_shard_specs_are_usage_errors(text: str) -> None:
    with pytest.raises(UsageError):
        Shard.parse(text)


@given(st.lists(st.text(min_size=1, max_size=40), max_size=50), st.integers(1, 9))
def test_every_path_belongs_to_exactly_one_shard(paths: list[str], total: int) -> None:
    shards = [Shard(i, total) for i in range(1, total + 1)]
    for path in paths:
        assert sum(shard.owns(path) for shard in shards) == 1


def test_a_merge_keeps_what_one_run_reports_twice(cli: Cli, tmp_path: Path) -> None:
    """One run may give one fingerprint twice (a URL on two lines of a blob); merged shards
    must not drop one of them."""
    tree = tmp_path / "tree"
    tree.mkdir()
    for i in range(6):
        (tree / f"cm{i}.yaml").write_text(
            f"apiVersion: v1\nkind: ConfigMap\nmetadata: {{name: c{i}, namespace: ns}}\n"
            "data:\n  app.yaml: |\n    primary: https://api.vendor-cloud.com/v1\n"
            "    fallback: https://api.vendor-cloud.com/v1\n"
        )
    whole = json.loads(cli("lint", str(tree), "-f", "json").stdout)
    shards = []
    for index in (1, 2):
        out = tmp_path / f"s{index}.json"
        cli("lint", str(tree), "--shard", f"{index}/2", "-f", "json", "-o", str(out))
        shards.append(str(out))
    merged = json.loads(cli("merge", *shards, "-f", "json").stdout)
    assert len(merged["findings"]) == len(whole["findings"]) == 12
    assert signature(merged) == signature(whole)


def test_a_result_that_is_not_a_shard_cannot_join_shards(cli: Cli, tmp_path: Path) -> None:
    shards = run_shards(cli, tmp_path, "check", 2)
    whole = tmp_path / "whole.json"
    cli("check", str(DEMO), "-f", "json", "-o", str(whole))
    out = cli("merge", *map(str, shards), str(whole), "-c", CONFIG)
    assert out.exit_code == 2
    assert f"{whole}: not a shard, but given with the shards of `check`" in out.stderr


def test_shards_checked_out_in_different_build_directories_agree(
    cli: Cli, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Every CI job has its own build directory: shards must split the tree and fingerprint
    findings the same way wherever the checkout is (airgap.yaml with lint.paths included)."""
    import shutil

    jobs = []
    for name in ("job-1", "job-2", "job-merge"):
        shutil.copytree(DEMO, tmp_path / name)
        config = tmp_path / name / "airgap.yaml"  # found upward: an absolute path
        config.write_text(config.read_text() + "lint:\n  paths: [k8s, gateways, helm]\n")
        jobs.append(tmp_path / name)
    for index, job in enumerate(jobs[:2], 1):
        monkeypatch.chdir(job)
        out = cli("check", ".", "--shard", f"{index}/2", "-f", "json", "-o", f"shard-{index}.json")
        assert out.exit_code in (0, 1), out.stderr
    monkeypatch.chdir(jobs[2])
    whole = cli("check", ".", "-f", "json")
    merged = cli(
        "merge", str(jobs[0] / "shard-1.json"), str(jobs[1] / "shard-2.json"), "-f", "json"
    )
    assert merged.exit_code == whole.exit_code == 1, merged.stderr
    assert signature(json.loads(merged.stdout)) == signature(json.loads(whole.stdout))
    assert all(not i["path"].startswith("/") for i in json.loads(whole.stdout)["inputs"])
