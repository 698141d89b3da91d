"""Generate ``docs/rules.md`` from the rule files (a test keeps the checked-in copy current)."""

from __future__ import annotations

import sys
from pathlib import Path

from airgap_cli.core.rules import Rule, builtin_rule_dirs, load_rules


def render(rules: list[Rule]) -> str:
    """The rule reference as Markdown: a summary table, then one section per rule."""
    lines = [
        "# Rule reference",
        "",
        "Generated from `rules/` by `make docs`",
        "(manifest rules for `airgap lint`, then `openapi-*` rules for `airgap openapi lint`)",
        "(`python -m airgap_cli.lint.ruledocs docs/rules.md`); a test fails when this file is out",
        "of date. Ids are stable across versions.",
        "",
        "| Rule | Severity | Applies to | Title |",
        "|---|---|---|---|",
    ]
    lines += [
        f"| [`{r.id}`](#{r.id}) | {r.severity.value} | {_applies(r)} | {r.title} |" for r in rules
    ]
    for rule in rules:
        lines += [
            "",
            f"## {rule.id}",
            "",
            f"**{rule.title}** — severity `{rule.severity.value}`, defined in `{rule.source}`.",
            "",
        ]
        if rule.description:
            lines += [rule.description.strip(), ""]
        lines += [f"Fix: {rule.remediation.strip()}", ""]
        if rule.compliance:
            lines += ["Controls: " + ", ".join(f"`{c}`" for c in rule.compliance), ""]
        how = (
            f"Python check `{rule.python}`"
            if rule.python
            else "JSON Schema condition on " + ", ".join(f"`{c.target}`" for c in rule.checks)
        )
        lines += [f"Evaluation: {how}.", ""]
        example = rule.tests["fail"][0]
        default_file = "openapi.yaml" if rule.domain == "openapi" else "manifest.yaml"
        lines += [
            f"Failing example (`{example.get('file', default_file)}`):",
            "",
            "```yaml",
            example["content"].rstrip(),
            "```",
        ]
    return "\n".join(lines) + "\n"


def _applies(rule: Rule) -> str:
    if rule.python:
        return "python check"
    parts = []
    for check in rule.checks:
        kinds = ", ".join(check.kinds) if check.kinds else "all kinds"
        docs = "/".join(sorted(check.documents))
        parts.append(f"{docs} ({kinds}) → {check.target}")
    return "; ".join(parts).replace("|", "\\|")


def all_rules() -> list[Rule]:
    """Every built-in rule: the manifest linter's, then ``airgap openapi lint``'s."""
    openapi = load_rules(builtin_rule_dirs(("openapi",)), domain="openapi")
    return load_rules(builtin_rule_dirs()) + openapi


def main() -> None:
    """``python -m airgap_cli.lint.ruledocs [OUTPUT]``."""
    text = render(all_rules())
    if len(sys.argv) > 1:
        Path(sys.argv[1]).write_text(text, encoding="utf-8")
    else:
        sys.stdout.write(text)


if __name__ == "__main__":
    main()
