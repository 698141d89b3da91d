"""Join the results of one sharded run (``--shard I/N``) into the result one run would give.

Fail closed: every shard 1..N must be there exactly once, all from the same airgap and the same
rule set; otherwise the merged result carries an input error (exit 2) naming what is missing.
The cross-document rules the shards could not run alone are run here on the facts they handed
over, with the rules of the same configuration.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace

from airgap_cli import __version__
from airgap_cli.core.config import Config
from airgap_cli.core.findings import InputIssue, Report
from airgap_cli.core.results import ResultFile
from airgap_cli.lint.checks import Fact


def merge_results(results: Sequence[ResultFile], config: Config) -> Report:
    """One report from shard results (and any unsharded ones), findings each once."""
    if not results:
        raise ValueError("nothing to merge")
    merged = Report(command=results[0].command, tool_version=__version__)
    issues = _completeness(results)
    facts: list[Fact] = []
    pending: set[str] = set()
    seen: set[str] = set()
    for result in results:
        report = result.report
        shard = result.shard
        if shard is not None:
            try:
                facts += [Fact.from_dict(item) for item in shard.get("facts", ())]
            except ValueError as exc:
                issues.append(InputIssue(result.path, f"details.shard.facts: {exc}"))
            pending.update(str(rule) for rule in shard.get("cross_rules", ()))
        findings = [f for f in report.findings if f.fingerprint not in seen]  # from another result
        seen.update(f.fingerprint for f in findings)  # (one run may report a fingerprint twice)
        details = {k: v for k, v in report.details.items() if k != "shard"}
        merged.extend(replace(report, findings=findings, details=details))
    if pending:
        _cross_document(facts, pending, config, merged, issues)
    merged.errors += issues
    merged.details["merged"] = {"results": [r.describe() for r in results]}
    return merged


def _completeness(results: Sequence[ResultFile]) -> list[InputIssue]:
    """What makes the set of shards not one whole run, each as an input error."""
    issues: list[InputIssue] = []
    shards = [r for r in results if r.shard is not None]
    if not shards:
        return issues
    issues += [
        InputIssue(r.path, f"not a shard, but given with the shards of `{shards[0].command}`")
        for r in results
        if r.shard is None
    ]
    first = shards[0]
    assert first.shard is not None
    total = first.shard.get("total")
    by_index: dict[object, ResultFile] = {}
    for result in shards:
        assert result.shard is not None
        index, count = result.shard.get("index"), result.shard.get("total")
        where = f"shard {index}/{count}"
        if count != total:
            issues.append(
                InputIssue(result.path, f"{where} is not one of {total}: from another run?")
            )
        elif index in by_index:
            other = by_index[index].path
            issues.append(InputIssue(result.path, f"{where} is given twice (also {other})"))
        else:
            by_index[index] = result
        if result.command != first.command:
            issues.append(
                InputIssue(
                    result.path, f"{where} is from `{result.command}`, not `{first.command}`"
                )
            )
        if result.report.tool_version != first.report.tool_version:
            issues.append(
                InputIssue(
                    result.path,
                    f"{where} was made by airgap {result.report.tool_version}, "
                    f"shard {first.shard['index']} by {first.report.tool_version}",
                )
            )
        if _rules_differ(result, first):
            issues.append(
                InputIssue(
                    result.path,
                    f"{where} ran another rule set than shard {first.shard['index']} "
                    "(a different airgap.yaml?)",
                )
            )
    if isinstance(total, int):
        missing = [str(i) for i in range(1, total + 1) if i not in by_index]
        if missing:
            issues.append(
                InputIssue(
                    "(shards)",
                    f"shard {', '.join(missing)} of {total} missing: "
                    "their files are not in the merged result",
                )
            )
    return issues


def _rules_differ(one: ResultFile, other: ResultFile) -> bool:
    """Another configuration: other cross-document rules, or a rule at another severity. (Which
    rules appear at all varies by shard: OpenAPI rules only where a shard holds a spec.)"""
    assert one.shard is not None and other.shard is not None
    if sorted(one.shard.get("cross_rules", ())) != sorted(other.shard.get("cross_rules", ())):
        return True
    mine, theirs = one.report.rules, other.report.rules
    return any(
        mine[rule_id].get("severity") != theirs[rule_id].get("severity")
        for rule_id in mine.keys() & theirs.keys()
    )


def _cross_document(
    facts: list[Fact],
    pending: set[str],
    config: Config,
    merged: Report,
    issues: list[InputIssue],
) -> None:
    from airgap_cli.lint.engine import LintEngine

    engine = LintEngine.from_config(config)
    known = {rule.id: rule for rule in engine.rules}
    missing = sorted(pending - set(known))
    if missing:
        issues.append(
            InputIssue(
                "(shards)",
                f"the shards ran {', '.join(missing)}, which this airgap.yaml does not enable: "
                "merge with the configuration the shards used (--config)",
            )
        )
    for rule_id in sorted(pending & set(known)):
        recorded = merged.rules.get(rule_id, {}).get("severity")
        if recorded is not None and recorded != known[rule_id].severity.value:
            issues.append(
                InputIssue(
                    "(shards)",
                    f"{rule_id} is {recorded} in the shards but {known[rule_id].severity.value} "
                    "in this airgap.yaml: merge with the configuration the shards used",
                )
            )
    engine.cross_document(facts, merged, only=pending & set(known))
