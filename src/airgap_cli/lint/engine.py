"""The lint engine: documents in, findings out.

Per file (in parallel worker processes for big trees): parse with line marks, classify, run the
schema checks (jsonschema-rs: ``is_valid`` first, errors only for failures) and the per-document
Python checks, apply inline and annotation suppressions, and keep only the compact facts that
cross-document rules need. The parent merges and runs the cross-document rules.
"""

from __future__ import annotations

import gc
import hashlib
import itertools
import json
import os
import time
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field, replace
from fnmatch import fnmatchcase
from typing import Any

import jsonschema_rs

from airgap_cli import __version__
from airgap_cli.core.config import Config
from airgap_cli.core.errors import InputError, RuleError
from airgap_cli.core.fastyaml import fast_documents
from airgap_cli.core.findings import (
    Finding,
    InputIssue,
    InputRecord,
    Location,
    Report,
    Skipped,
    Suppressed,
    fingerprint,
)
from airgap_cli.core.hosts import Boundary
from airgap_cli.core.paths import from_cwd
from airgap_cli.core.rules import Rule, RuleCheck, builtin_rule_dirs, load_rules
from airgap_cli.core.yamlio import check_bytes, decode, load_documents, read_limited
from airgap_cli.lint import checks
from airgap_cli.lint.checks import CheckContext, Fact, Hit
from airgap_cli.lint.documents import Document, classify, file_type, iter_discover
from airgap_cli.lint.suppress import Ignore, InlineIgnores, annotation_ignores
from airgap_cli.lint.targets import TARGETS, Target

MAX_ERRORS_PER_TARGET = 20
_PARALLEL_MIN_FILES = 64
_BATCH_FILES = 32
"""Files per task sent to a worker: small enough to keep both cores busy to the end."""
_PARALLEL_MIN_BYTES = 2 * 1024 * 1024
REASONLESS_RULE = "suppression-without-reason"


@dataclass(slots=True)
class FileResult:
    """Everything one file contributes to the report (picklable, compact)."""

    findings: list[Finding] = field(default_factory=list)
    suppressed: list[Suppressed] = field(default_factory=list)
    facts: list[Fact] = field(default_factory=list)
    inputs: list[InputRecord] = field(default_factory=list)
    skipped: list[Skipped] = field(default_factory=list)
    errors: list[InputIssue] = field(default_factory=list)


def formats_for(boundary: Boundary) -> dict[str, Callable[[str], bool]]:
    """The custom JSON Schema formats rules use to ask "is this inside the boundary?"."""
    return {
        "airgap-internal-host": lambda v: boundary.is_internal_host(v.rsplit(":", 1)[0]),
        "airgap-internal-url": boundary.is_internal_url,
        "airgap-internal-image": boundary.is_internal_image,
        "airgap-internal-cidr": boundary.is_internal_cidr,
        "airgap-no-external-url": lambda v: next(boundary.external_urls(v), None) is None,
    }


class LintEngine:
    """Compiled rules plus the boundary; lints text and files. Picklable (recompiles lazily)."""

    def __init__(self, rules: list[Rule], config: Config) -> None:
        if not rules:
            raise RuleError("no rule is enabled: an empty rule set would pass everything")
        known = {*checks.DOCUMENT_CHECKS, *checks.CROSS_CHECKS, REASONLESS_RULE}
        for rule in rules:
            if rule.python is not None and rule.python not in known:
                raise RuleError(f"unknown python check {rule.python!r}", path=rule.source)
        self.rules = rules
        self.config = config
        self._compiled: dict[tuple[str, str, str], list[tuple[Rule, RuleCheck, Any, str]]] = {}
        self._validators: dict[int, Any] | None = None
        self._catalogue: checks.Catalogue | None = None
        self._python: (
            list[tuple[Rule, Callable[[Document, CheckContext], Iterator[Hit]], CheckContext]]
            | None
        ) = None
        self._flagged: set[tuple[str | int, ...]] = set()
        self._python_rules = sorted(
            (r for r in rules if r.python in checks.DOCUMENT_CHECKS),
            key=lambda r: int(r.params.get("order", 0)),
        )

    def __getstate__(self) -> dict[str, Any]:
        return {"rules": self.rules, "config": self.config}

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__init__(state["rules"], state["config"])  # type: ignore[misc]

    @classmethod
    def from_config(cls, config: Config) -> LintEngine:
        """The built-in pack plus the config's rule directories, selected per the config."""
        rules = load_rules(
            builtin_rule_dirs(),
            config.rules.dirs,
            disable=config.rules.disable,
            only=config.rules.only,
            severity=config.rules.severity,
        )
        return cls(rules, config)

    # --- compilation -------------------------------------------------------------------------
    def _validator(self, check: RuleCheck) -> Any:
        if self._validators is None:
            self._validators = {}
        key = id(check)
        if key not in self._validators:
            self._validators[key] = jsonschema_rs.validator_for(
                check.condition,
                formats=formats_for(self.config.boundary),
                validate_formats=True,
            )
        return self._validators[key]

    def _checks_for(self, doc: Document) -> list[tuple[Rule, RuleCheck, Any, str]]:
        key = (doc.doc_type, doc.kind, doc.api_version)
        if key not in self._compiled:
            selected = []
            for rule in self.rules:
                for check in rule.checks:
                    if doc.doc_type not in check.documents:
                        continue
                    if check.kinds and not any(fnmatchcase(doc.kind, k) for k in check.kinds):
                        continue
                    if check.api_versions and not any(
                        fnmatchcase(doc.api_version, a) for a in check.api_versions
                    ):
                        continue
                    selected.append((rule, check, self._validator(check), check.target))
            self._compiled[key] = selected
        return self._compiled[key]

    def _python_checks(
        self,
    ) -> list[tuple[Rule, Callable[[Document, CheckContext], Iterator[Hit]], CheckContext]]:
        """The per-document Python checks with their contexts, built once per engine.

        The contexts share ``self._flagged``, which each document empties and refills.
        """
        if self._python is None:
            context = CheckContext(
                self.config.boundary, self.config.lint, self.catalogue(), self._flagged
            )
            self._python = [
                (
                    rule,
                    checks.DOCUMENT_CHECKS[rule.python or ""],
                    context.with_params(rule.params) if rule.params else context,
                )
                for rule in self._python_rules
            ]
        return self._python

    def catalogue(self) -> checks.Catalogue:
        """The telemetry catalogue (loaded once per process)."""
        if self._catalogue is None:
            self._catalogue = checks.load_catalogue()
        return self._catalogue

    # --- one file ----------------------------------------------------------------------------
    def lint_file(self, path: str, data: bytes | None = None) -> FileResult:
        """Lint one file (``data`` given for stdin); input problems become ``errors``."""
        result = FileResult()
        try:
            raw = (
                read_limited(path, self.config.lint.max_file_size)
                if data is None
                else check_bytes(data, path, self.config.lint.max_file_size)
            )
            text = decode(raw, path)
            try:
                raw_docs = fast_documents(text, path) or load_documents(
                    text, path, json_file=path.endswith(".json")
                )
            except InputError:
                if "{{" in text:
                    result.skipped.append(
                        Skipped(
                            path, "Helm template, not YAML: lint `helm template … | airgap lint -`"
                        )
                    )
                    return result
                raise
        except InputError as exc:
            result.errors.append(InputIssue(exc.path or path, exc.message, exc.line))
            return result
        documents: list[Document] = []
        cluster_scoped = frozenset(self.config.lint.cluster_scoped_kinds)
        for raw_doc in raw_docs:
            source = raw_doc.lines.text if raw_doc.lines is not None else text
            escapes = "\\" in source
            for doc in classify(path, raw_doc, cluster_scoped):
                doc.text, doc.escapes = source, escapes
                documents.append(doc)
        documents += [d for doc in documents for d in checks.embedded_documents(doc, text)]
        result.inputs.append(InputRecord(path, hashlib.sha256(raw).hexdigest(), len(documents)))
        if not documents:
            if raw_docs and file_type(path) is None:
                result.skipped.append(
                    Skipped(path, "no Kubernetes object, Helm values, Kustomization or GitLab CI")
                )
            return result
        inline = InlineIgnores(text)
        for doc in documents:
            self._lint_document(doc, inline, result)
        for directive in inline.all:
            if not directive.reason:
                self._reasonless(path, directive, "file", result)
        return result

    def _lint_document(self, doc: Document, inline: InlineIgnores, result: FileResult) -> None:
        ignores = annotation_ignores(doc.annotations(), doc.line)
        for directive in ignores:
            if not directive.reason:
                self._reasonless(doc.path, directive, doc.resource, result)
        findings: list[Finding] = []
        flagged = self._flagged  # shared with the Python checks' contexts
        flagged.clear()
        targets: dict[str, list[Target]] = {}
        for rule, _check, validator, target_name in self._checks_for(doc):
            if target_name not in targets:
                targets[target_name] = list(TARGETS[target_name](doc))
            for target in targets[target_name]:
                if validator.is_valid(target.value):
                    continue
                for path, line, value in _errors(validator, target, doc):
                    findings.append(self._finding(rule, doc, path, line, value, target.label))
                    flagged.add(path)
        for rule, check, rule_context in self._python_checks():
            for hit in check(doc, rule_context):
                line = hit.line or doc.line_at(hit.path)
                findings.append(
                    self._finding(rule, doc, hit.path, line, hit.evidence, hit.label, hit)
                )
                flagged.add(hit.path)
        for finding in findings:
            silencer = inline.find(finding.rule_id, finding.location.line) or next(
                (d for d in ignores if d.covers(finding.rule_id)), None
            )
            if silencer is None:
                result.findings.append(finding)
            else:
                result.suppressed.append(Suppressed(finding, silencer.reason, silencer.source))
        for fact in checks.collect_facts(doc):
            fact.ignores = {
                rule.id: d.reason
                for rule in self.rules
                if rule.python in checks.CROSS_CHECKS
                for d in [inline.find(rule.id, fact.line), *ignores]
                if d is not None and d.covers(rule.id)
            }
            result.facts.append(fact)

    def _finding(
        self,
        rule: Rule,
        doc: Document,
        path: tuple[str | int, ...],
        line: int | None,
        value: Any,
        label: str,
        hit: Hit | None = None,
    ) -> Finding:
        evidence = "(redacted)" if rule.redact_evidence else _short(value)
        variables = {
            "label": label,
            "value": evidence,
            "resource": doc.resource,
            "kind": doc.kind,
            "name": doc.name,
            "namespace": doc.namespace or "",
        }
        if hit is not None:
            variables.update(hit.variables)
        location = Location(
            doc.path, line, None, doc.resource, doc.pointer(doc.pointer_prefix + path)
        )
        fp = ""
        if hit is not None and hit.distinct:
            fp = fingerprint(rule.id, replace(location, pointer=f"{location.pointer}|{evidence}"))
        return Finding(
            rule_id=rule.id,
            severity=rule.severity,
            title=rule.title,
            message=_format(rule.message, variables),
            location=location,
            evidence=evidence,
            remediation=rule.remediation,
            compliance=rule.compliance,
            fingerprint=fp,
        )

    def _reasonless(self, path: str, directive: Ignore, resource: str, result: FileResult) -> None:
        rule = next((r for r in self.rules if r.id == REASONLESS_RULE), None)
        if rule is None:
            return
        ids = ", ".join(sorted(directive.rules)) or "(no rule id)"
        result.findings.append(
            Finding(
                rule_id=rule.id,
                severity=rule.severity,
                title=rule.title,
                message=_format(rule.message, {"label": ids, "value": directive.source}),
                location=Location(path, directive.line, None, resource, f"/{directive.source}"),
                evidence=ids,
                remediation=rule.remediation,
                compliance=rule.compliance,
            )
        )

    # --- many files --------------------------------------------------------------------------
    def lint(self, paths: list[str], stdin: bytes | None = None, jobs: int | None = None) -> Report:
        """Lint paths (``-`` reads ``stdin``) into one report, in parallel when it pays."""
        started = time.perf_counter()
        report = Report(command="lint", tool_version=__version__)
        skipped: list[Skipped] = []
        errors: list[InputIssue] = []
        shard = self.config.shard
        files = iter_discover(
            paths, self.config.lint.include, self.config.lint.exclude, skipped, errors, shard
        )
        results = self._run(files, stdin, jobs)
        report.skipped += skipped
        report.errors += errors
        facts: list[Fact] = []
        for result in results:
            report.findings += result.findings
            report.suppressed += result.suppressed
            report.inputs += result.inputs
            report.skipped += result.skipped
            report.errors += result.errors
            facts += result.facts
        if shard is None:
            self.cross_document(facts, report)
        else:  # the cross-document rules need every shard's facts: `airgap merge` runs them
            report.details["shard"] = {
                **shard.to_dict(),
                "config": from_cwd(self.config.path) if self.config.path else None,
                "cross_rules": [r.id for r in self.rules if r.python in checks.CROSS_CHECKS],
                "facts": [fact.to_dict() for fact in facts],
            }
        report.rules = {rule.id: rule.metadata() for rule in self.rules}
        report.timings["total"] = time.perf_counter() - started
        return report

    def cross_document(
        self, facts: list[Fact], report: Report, only: Iterable[str] | None = None
    ) -> None:
        """Run the cross-document rules (``only`` these ids) on ``facts`` into ``report``."""
        wanted = None if only is None else set(only)
        for rule in self.rules:
            if rule.python not in checks.CROSS_CHECKS or (
                wanted is not None and rule.id not in wanted
            ):
                continue
            for fact, hit in checks.CROSS_CHECKS[rule.python](facts, rule.params):
                finding = self._fact_finding(rule, fact, hit)
                if rule.id in fact.ignores:
                    report.suppressed.append(
                        Suppressed(finding, fact.ignores[rule.id], "annotation")
                    )
                else:
                    report.findings.append(finding)

    def _fact_finding(self, rule: Rule, fact: Fact, hit: Hit) -> Finding:
        variables = {"label": hit.label, "value": hit.evidence or "", **hit.variables}
        return Finding(
            rule_id=rule.id,
            severity=rule.severity,
            title=rule.title,
            message=_format(rule.message, variables),
            location=Location(fact.path, fact.line, None, fact.resource, fact.pointer),
            evidence=hit.evidence,
            remediation=rule.remediation,
            compliance=rule.compliance,
        )

    def _run(self, files: Iterator[str], stdin: bytes | None, jobs: int | None) -> list[FileResult]:
        """Lint the files as discovery yields them: in this process when there are few, else
        in batches on a pool that starts as soon as enough files are known (the walk of a big
        tree then overlaps the linting)."""
        workers = jobs if jobs is not None else (os.cpu_count() or 1)
        stdin_results: list[FileResult] = []
        first: list[str] = []
        for name in files:
            if name == "-":
                stdin_results.append(self.lint_file("-", stdin or b""))
            else:
                first.append(name)
            if workers > 1 and len(first) >= _PARALLEL_MIN_FILES:
                break
        else:  # discovery ended: a small input, unless its few files are big
            if workers <= 1 or len(first) < 2 or _total_size(first) < _PARALLEL_MIN_BYTES:
                return stdin_results + [self.lint_file(f) for f in first]
        futures = []
        with ProcessPoolExecutor(
            max_workers=workers, initializer=_init_worker, initargs=(self,)
        ) as pool:
            # Workers are forked at the first submit. Frozen meanwhile, the parent's objects are
            # neither scanned nor written by the workers' cycle collector (which would copy their
            # pages into every worker); unfrozen after, so the parent still collects its garbage.
            gc.freeze()
            try:
                futures.append(pool.submit(_lint_chunk, first[:_BATCH_FILES]))
            finally:
                gc.unfreeze()
            batch: list[str] = []
            for name in itertools.chain(first[_BATCH_FILES:], files):
                if name == "-":
                    stdin_results.append(self.lint_file("-", stdin or b""))
                    continue
                if len(batch) >= _BATCH_FILES:
                    futures.append(pool.submit(_lint_chunk, batch))
                    batch = []
                batch.append(name)
            if batch:
                futures.append(pool.submit(_lint_chunk, batch))
            results = stdin_results
            for future in futures:
                results += future.result()
        return results


_WORKER_ENGINE: LintEngine | None = None


def _init_worker(engine: LintEngine) -> None:
    global _WORKER_ENGINE
    _WORKER_ENGINE = engine


def _lint_chunk(files: list[str]) -> list[FileResult]:
    assert _WORKER_ENGINE is not None
    return [_WORKER_ENGINE.lint_file(f) for f in files]


def _total_size(files: Iterable[str]) -> int:
    total = 0
    for name in files:
        try:
            total += os.path.getsize(name)
        except OSError:
            continue
    return total


def _errors(
    validator: Any, target: Target, doc: Document
) -> Iterator[tuple[tuple[str | int, ...], int | None, Any]]:
    seen: set[tuple[str | int, ...]] = set()
    for error in validator.iter_errors(target.value):
        path = target.source_path(tuple(error.instance_path))
        if path in seen:
            continue
        seen.add(path)
        yield path, doc.line_at(path), error.instance
        if len(seen) >= MAX_ERRORS_PER_TARGET:
            return


def _short(value: Any, limit: int = 200) -> str:
    if isinstance(value, str):
        text = value
    else:
        try:
            text = json.dumps(value, sort_keys=True, default=str)
        except (TypeError, ValueError):
            text = str(value)
    return text if len(text) <= limit else text[: limit - 1] + "…"


class _Vars(dict[str, Any]):
    def __missing__(self, key: str) -> str:
        return "{" + key + "}"


def _format(template: str, variables: dict[str, Any]) -> str:
    try:
        return template.format_map(_Vars(variables))
    except (ValueError, IndexError, AttributeError):
        return template


def lint_paths(paths: list[str], config: Config, stdin: bytes | None = None) -> Report:
    """Lint paths with the rules the config selects (the library entry point)."""
    return LintEngine.from_config(config).lint(paths, stdin)
