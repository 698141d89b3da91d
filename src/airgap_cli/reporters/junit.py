"""``--format junit``: JUnit XML for GitLab's ``artifacts:reports:junit`` test widget."""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from collections.abc import Iterable

from airgap_cli.core.findings import Finding, Report, Severity
from airgap_cli.reporters.base import RenderOptions, Reporter, register
from airgap_cli.reporters.codequality import ci_path

XML_DECLARATION = '<?xml version="1.0" encoding="UTF-8"?>'

# Characters XML 1.0 forbids even when escaped; evidence from binary or odd files may hold them.
_XML_ILLEGAL = re.compile("[^\t\n\r\x20-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")


def xml_safe(text: str) -> str:
    """Text with XML-illegal characters replaced by U+FFFD, so the file always parses."""
    return _XML_ILLEGAL.sub("\ufffd", text)


def _where(finding: Finding) -> str:
    loc = finding.location
    path = ci_path(loc.path)
    return f"{path}:{loc.line}" if loc.line else path


def _details(finding: Finding) -> str:
    loc = finding.location
    lines = [finding.message, f"location: {_where(finding)}"]
    if loc.locator:
        lines.append(f"resource: {loc.locator}")
    if finding.evidence is not None:
        lines.append(f"evidence: {finding.evidence}")
    if finding.remediation:
        lines.append(f"remediation: {finding.remediation}")
    if finding.compliance:
        lines.append(f"compliance: {', '.join(finding.compliance)}")
    return xml_safe("\n".join(lines))


class _Names:
    """Hands out test names unique across the document: GitLab keeps only the first duplicate."""

    def __init__(self) -> None:
        self._used: set[str] = set()

    def claim(self, base: str, pointer: str = "") -> str:
        candidates = [base]
        if pointer:
            candidates.append(f"{base} :: {pointer}")
        for candidate in candidates:
            if candidate not in self._used:
                self._used.add(candidate)
                return candidate
        counter = 2
        while f"{candidates[-1]} #{counter}" in self._used:
            counter += 1
        name = f"{candidates[-1]} #{counter}"
        self._used.add(name)
        return name


def _testcase(parent: ET.Element, classname: str, name: str, file: str | None) -> ET.Element:
    attrs = {"classname": xml_safe(classname), "name": xml_safe(name)}
    if file is not None:
        attrs["file"] = xml_safe(file)
    attrs["time"] = "0"
    return ET.SubElement(parent, "testcase", attrs)


def _suite(root: ET.Element, name: str) -> ET.Element:
    return ET.SubElement(root, "testsuite", {"name": xml_safe(name)})


def _count(suite: ET.Element) -> tuple[int, int, int, int]:
    cases = suite.findall("testcase")
    failures = sum(1 for c in cases if c.find("failure") is not None)
    errors = sum(1 for c in cases if c.find("error") is not None)
    skipped = sum(1 for c in cases if c.find("skipped") is not None)
    return len(cases), failures, errors, skipped


def _finish(suites: Iterable[ET.Element], root: ET.Element) -> None:
    totals = [0, 0, 0, 0]
    for suite in suites:
        counts = _count(suite)
        for key, value in zip(("tests", "failures", "errors", "skipped"), counts, strict=True):
            suite.set(key, str(value))
        suite.set("time", "0")
        totals = [a + b for a, b in zip(totals, counts, strict=True)]
    root.set("tests", str(totals[0]))
    root.set("failures", str(totals[1]))
    root.set("errors", str(totals[2]))
    root.set("skipped", str(totals[3]))
    root.set("time", "0")


@register
class JunitReporter(Reporter):
    """One suite per rule; findings at or above ``--fail-on`` fail, the rest pass visibly."""

    name = "junit"
    media_type = "application/xml"

    def render(self, report: Report, options: RenderOptions) -> str:
        threshold = None if options.fail_on == "never" else Severity.parse(options.fail_on).rank
        root = ET.Element("testsuites", {"name": "airgap"})
        names = _Names()
        suites: dict[str, ET.Element] = {}

        def suite_for(rule_id: str) -> ET.Element:
            if rule_id not in suites:
                suites[rule_id] = _suite(root, rule_id)
            return suites[rule_id]

        findings = report.sorted_findings()
        suppressed = sorted(report.suppressed, key=lambda s: s.finding.sort_key())
        entries = [(f, "") for f in findings] + [
            (s.finding, f"suppressed ({s.source}): {s.reason or 'no reason given'}")
            for s in suppressed
        ]
        entries.sort(key=lambda e: (e[0].rule_id, bool(e[1]), e[0].sort_key()))
        for finding, suppression in entries:
            loc = finding.location
            base = f"{finding.rule_id} :: {_where(finding)}"
            if loc.resource:
                base += f" :: {loc.resource}"
            case = _testcase(
                suite_for(finding.rule_id),
                f"airgap.{finding.rule_id}",
                names.claim(base, loc.pointer),
                ci_path(loc.path),
            )
            details = _details(finding)
            if suppression:
                ET.SubElement(case, "skipped", {"message": xml_safe(suppression)})
                ET.SubElement(case, "system-out").text = details
            elif threshold is not None and finding.severity.rank >= threshold:
                failure = ET.SubElement(
                    case,
                    "failure",
                    {"message": xml_safe(finding.message), "type": finding.severity.value},
                )
                failure.text = details
            else:
                why = (
                    "--fail-on never" if threshold is None else f"below --fail-on {options.fail_on}"
                )
                note = f"[{finding.severity.value}: {why}]"
                ET.SubElement(case, "system-out").text = f"{note}\n{details}"

        if not findings:
            clean = _suite(root, "airgap")
            _testcase(clean, "airgap", names.claim("airgap :: no findings"), None)

        if report.errors or report.skipped:
            inputs = _suite(root, "airgap.inputs")
            for issue in report.errors:
                where = ci_path(issue.path) + (f":{issue.line}" if issue.line else "")
                case = _testcase(
                    inputs,
                    "airgap.input-error",
                    names.claim(f"input error :: {where}"),
                    ci_path(issue.path),
                )
                error = ET.SubElement(
                    case, "error", {"message": xml_safe(issue.message), "type": "input-error"}
                )
                error.text = xml_safe(issue.diagnostics())
            for skipped in report.skipped:
                case = _testcase(
                    inputs,
                    "airgap.input-skipped",
                    names.claim(f"input skipped :: {ci_path(skipped.path)}"),
                    ci_path(skipped.path),
                )
                ET.SubElement(case, "skipped", {"message": xml_safe(skipped.reason)})

        _finish(root.findall("testsuite"), root)
        ET.indent(root)
        return XML_DECLARATION + "\n" + ET.tostring(root, encoding="unicode") + "\n"
