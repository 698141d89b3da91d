"""``airgap init``: a starter ``airgap.yaml`` from a boundary guess, and the GitLab CI include.

Pure apart from reading the repository and :func:`write_files`: the plan says what would be
written and what the user should know; the CLI prints it. Output is deterministic (the same
repository gives the same bytes) and the config is validated against its schema before anyone
sees it. The user's own ``.gitlab-ci.yml`` is never rewritten: the lines to add are returned.
"""

from __future__ import annotations

import json
import os
import re
import tempfile
import textwrap
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any

from airgap_cli.core.config import CONFIG_NAMES, parse_config
from airgap_cli.core.errors import InputError, OutputError, UsageError
from airgap_cli.core.yamlio import decode, load_documents, read_limited
from airgap_cli.lint.guess import HELM_TEMPLATE, BoundaryGuess, Guess, Seen, guess_boundary
from airgap_cli.lint.targets import ci_jobs

CONFIG_NAME = "airgap.yaml"
TEMPLATE = ("templates", "airgap.gitlab-ci.yml")
"""The packaged GitLab CI template (``templates/airgap.gitlab-ci.yml`` in the repository)."""
TEMPLATE_NAME = "airgap.gitlab-ci.yml"
VENDORED = ".gitlab/airgap.gitlab-ci.yml"
"""Where the template is copied by default, so a pipeline needs no template project."""
PROJECT_FILE = "templates/airgap.gitlab-ci.yml"
"""The template's path inside a centrally kept copy of this repository."""
DEFAULT_STAGES = ("build", "test", "deploy")
WIDTH = 99
_MAX_LISTED = 10
_PLAIN = re.compile(r"[A-Za-z_./][A-Za-z0-9_./-]*")
_YAML_WORDS = frozenset({"true", "false", "yes", "no", "on", "off", "null", "y", "n", "~"})


@dataclass(frozen=True, slots=True)
class Include:
    """Where a pipeline takes the airgap jobs from: a vendored copy or a central project."""

    project: str | None = None
    ref: str | None = None

    @classmethod
    def parse(cls, text: str) -> Include:
        """``local`` or ``project:GROUP/PROJECT@REF`` (``--include``)."""
        if text == "local":
            return cls()
        match = re.fullmatch(r"project:([\w.-]+(?:/[\w.-]+)+)@([^\s@]+)", text)
        if match is None:
            raise UsageError(
                f"--include: expected local or project:GROUP/PROJECT@REF, not {text!r}"
            )
        return cls(match[1], match[2])

    def entry(self) -> dict[str, str]:
        """The ``include:`` item as data."""
        if self.project is None or self.ref is None:
            return {"local": VENDORED}
        return {"project": self.project, "ref": self.ref, "file": PROJECT_FILE}

    def item_lines(self, indent: str = "  ") -> list[str]:
        """The ``include:`` item as YAML lines (a block sequence item)."""
        lines = []
        for i, (key, value) in enumerate(self.entry().items()):
            lines.append(f"{indent}{'- ' if i == 0 else '  '}{key}: {_scalar(value)}")
        return lines


@dataclass(frozen=True, slots=True)
class FileWrite:
    """One file to write, relative to the repository."""

    path: str
    content: str
    replaces: bool = False
    """True when an existing file is overwritten (``--force``)."""


@dataclass(frozen=True, slots=True)
class CiPlan:
    """What the GitLab CI part writes, what the user should know, and what they should add."""

    writes: tuple[FileWrite, ...] = ()
    notes: tuple[str, ...] = ()
    add_lines: tuple[str, ...] = ()
    """Lines to add to the user's own ``.gitlab-ci.yml`` (empty when nothing is to be done)."""


@dataclass(frozen=True, slots=True)
class InitPlan:
    """Everything ``airgap init`` does for one repository."""

    root: Path
    config: FileWrite
    guess: BoundaryGuess
    ci: CiPlan | None = None

    @property
    def writes(self) -> tuple[FileWrite, ...]:
        """Every file to write, the config first."""
        return (self.config, *(self.ci.writes if self.ci else ()))


def plan_init(
    root: Path, *, include: Include | None, force: bool = False, dry_run: bool = False
) -> InitPlan:
    """Guess the boundary of ``root`` and plan the starter files. Refuses (``UsageError``) to
    replace an existing config unless ``force`` or ``dry_run``."""
    target = config_target(root, force=force or dry_run)
    guess = guess_boundary(root, exclude=(f"/{VENDORED}",))
    text = render_config(guess)
    parse_config(text, target)  # fail closed: never hand out a config airgap would refuse
    config = FileWrite(target.name, text, target.exists())
    ci = plan_gitlab_ci(root, include, force=force) if include is not None else None
    return InitPlan(root, config, guess, ci)


def config_target(root: Path, *, force: bool) -> Path:
    """The config file to write: the one ``root`` already has (an error unless ``force``), or
    ``airgap.yaml``. Writing ``airgap.yaml`` beside an ``.airgap.yaml`` would shadow it."""
    for name in CONFIG_NAMES:
        existing = root / name
        if existing.exists():
            if not force:
                raise UsageError("already exists", path=existing, hint="--force to overwrite")
            return existing
    return root / CONFIG_NAME


def write_files(root: Path, writes: Iterable[FileWrite]) -> None:
    """Write each file atomically (a temporary file beside it, then a rename)."""
    for write in writes:
        target = root / write.path
        try:
            target.parent.mkdir(parents=True, exist_ok=True)
            fd, temporary = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.")
            try:
                with os.fdopen(fd, "w", encoding="utf-8", newline="\n") as handle:
                    handle.write(write.content)
                os.chmod(temporary, 0o644)
                os.replace(temporary, target)
            except BaseException:
                os.unlink(temporary)
                raise
        except OSError as exc:
            raise OutputError(f"cannot write: {exc.strerror or exc}", path=target) from None


# --- the config ----------------------------------------------------------------------------------
def render_config(guess: BoundaryGuess) -> str:
    """The starter ``airgap.yaml``: certain guesses active, doubtful ones commented out, each
    with its reason, count and first reference; public names listed as what will be reported."""
    out: list[str] = []
    read = f"{_count(guess.manifests, 'manifest file')}"
    _comment(
        out,
        "",
        "airgap.yaml: the air-gap boundary of this repository, for `airgap check` "
        "(every setting is described in docs/configuration.md). Written by `airgap init` from "
        f"what {read} reference: review each guess. What `internal` lists counts as inside "
        "the air gap and is no longer reported; everything else still is.",
    )
    out += ["version: 1", ""]
    sections = (
        ("registries", "Image registries inside the boundary.", guess.registries, "image"),
        ("domains", "Host names and globs inside the boundary.", guess.domains, "reference"),
        ("cidrs", "Address ranges inside the boundary.", guess.cidrs, "occurrence"),
    )
    if not any(guesses for _, _, guesses, _ in sections):
        _comment(
            out,
            "",
            f"Nothing in the {read} read names an image registry, a host or an address that "
            "could be inside the boundary: fill the section in by hand.",
        )
        out += [
            "# internal:",
            '#   registries: ["registry.corp.example"]',
            '#   domains: ["*.corp.example"]',
            '#   cidrs: ["10.0.0.0/8"]',
        ]
    else:
        active = any(g.certain for _, _, guesses, _ in sections for g in guesses)
        out.append("internal:" if active else "# internal:")
        for key, title, guesses, unit in sections:
            _section(out, key, title, guesses, unit)
    _public(out, guess)
    out += [""]
    _comment(
        out,
        "",
        "Lowest severity that fails `airgap check`: info, low, medium, high, critical or never.",
    )
    out += ["fail_on: low", ""]
    _lint_hints(out, guess)
    return "\n".join(out).rstrip("\n") + "\n"


def _section(out: list[str], key: str, title: str, guesses: tuple[Guess, ...], unit: str) -> None:
    if not guesses:
        out.append(f"  # {key}: none seen")
        return
    _comment(out, "  ", title)
    certain = any(g.certain for g in guesses)
    out.append(f"  {key}:" if certain else f"  # {key}:")
    for item in sorted(guesses, key=lambda g: not g.certain):
        _comment(out, "    ", f"{item.reason}; {_evidence(item, unit)}")
        out.append(f"    {'' if item.certain else '# '}- {json.dumps(item.value)}")


def _evidence(item: Guess, unit: str) -> str:
    first = item.first
    text = f"{_count(item.uses, unit)}, e.g. {first.example} ({_short(first.sample)})"
    if unit == "reference":
        names = [s.name for s in item.seen]
        shown = ", ".join(names[:3]) + (f" and {len(names) - 3} more" if len(names) > 3 else "")
        text = f"{_count(len(names), 'host')} ({shown}), {text}"
    return text


def _public(out: list[str], guess: BoundaryGuess) -> None:
    public: list[tuple[str, Seen]] = [("registry", s) for s in guess.public_registries]
    public += [("host", s) for s in guess.public_hosts]
    if not public:
        return
    out.append("")
    _comment(
        out,
        "",
        "Seen outside the boundary, so `airgap check` reports them where its rules look (images, "
        "URLs, ExternalName services, gateway backends): mirror each inside the boundary and "
        "reference the mirror. Public names never belong under internal.",
    )
    for kind, seen in public:
        unit = "image" if kind == "registry" else "reference"
        where = f"{_count(seen.uses, unit)}, e.g. {seen.example} ({_short(seen.sample)})"
        _comment(out, "", f"  {kind} {seen.name} ({seen.label}): {where}", indent_more=True)


def _lint_hints(out: list[str], guess: BoundaryGuess) -> None:
    notes: list[str] = []
    if guess.templated:
        notes.append(
            f"{_count(guess.templated, 'reference')} left to a template engine "
            f"({{{{ }}}}, ${{VAR}}, $CI_*) {'is' if guess.templated == 1 else 'are'} not judged, "
            "here or by airgap check."
        )
    helm = [s for s in guess.skipped if s.reason == HELM_TEMPLATE]
    if helm:
        notes.append(
            f"{_count(len(helm), 'Helm template')} skipped: lint the rendered output "
            "(helm template . | airgap lint -)."
        )
    for note in notes:
        _comment(out, "", note)
    if notes:
        out.append("")
    if guess.problems:
        _comment(
            out,
            "",
            f"{_count(len(guess.problems), 'file')} could not be read and "
            f"{'was' if len(guess.problems) == 1 else 'were'} skipped; airgap check reports "
            "them as input errors (exit code 2) until they are fixed or excluded:",
        )
        for problem in guess.problems[:_MAX_LISTED]:
            _comment(out, "", f"  {problem.diagnostics()}", indent_more=True)
        if len(guess.problems) > _MAX_LISTED:
            out.append(f"#   and {len(guess.problems) - _MAX_LISTED} more")
        out.append("")
    found = (
        f" Manifests were found in: {', '.join(guess.manifest_dirs)}."
        if guess.manifest_dirs
        else ""
    )
    _comment(
        out,
        "",
        f"What airgap check reads (default: the whole repository).{found} Listing lint.paths "
        "limits every check to those paths.",
    )
    out.append("# lint:")
    if guess.manifest_dirs:
        out.append(f"#   paths: {_flow(guess.manifest_dirs)}")
    if guess.problems:
        out.append(f"#   exclude: {_flow(sorted({p.path for p in guess.problems}))}")
    else:
        out.append('#   exclude: ["**/charts/**"]')


# --- the GitLab CI include -----------------------------------------------------------------------
def template_text() -> str:
    """The packaged GitLab CI template (read through importlib.resources)."""
    return resources.files("airgap_cli").joinpath(*TEMPLATE).read_text(encoding="utf-8")


def template_stages(text: str) -> list[str]:
    """The stages a pipeline needs for the template: build, test, deploy, and any other stage
    the template's jobs use (before deploy, in the order they first appear)."""
    extra = [s for s in _used_stages(text) if s not in DEFAULT_STAGES]
    return [*DEFAULT_STAGES[:-1], *extra, DEFAULT_STAGES[-1]]


def _used_stages(text: str) -> list[str]:
    """The stages the template declares or its jobs run in (``.pre``/``.post`` always exist)."""
    docs = load_documents(text, "/".join(TEMPLATE))
    data = docs[0].data if docs and isinstance(docs[0].data, dict) else {}
    used = [s for s in data.get("stages") or () if isinstance(s, str)]
    used += [str(job["stage"]) for _, job in ci_jobs(data) if isinstance(job.get("stage"), str)]
    return [s for s in dict.fromkeys(used) if s not in (".pre", ".post")]


def pipeline_text(include: Include, stages: list[str]) -> str:
    """A minimal ``.gitlab-ci.yml`` that includes the airgap jobs."""
    return "\n".join(
        [
            "# GitLab CI pipeline written by `airgap init`: the airgap jobs come from the included",
            "# file (docs/gitlab-ci.md). Add your own jobs below.",
            f"stages: {_flow(stages)}",
            "",
            "include:",
            *include.item_lines(),
            "",
        ]
    )


def plan_gitlab_ci(root: Path, include: Include, *, force: bool = False) -> CiPlan:
    """Vendor the template (unless it comes from a project) and include it: in a new
    ``.gitlab-ci.yml``, or by telling the user what to add to theirs."""
    template = template_text()
    pipeline = root / ".gitlab-ci.yml"
    notes: list[str] = []
    if not pipeline.exists():
        writes = [] if include.project else _vendor(root, VENDORED, template, force, notes)
        writes.append(
            FileWrite(".gitlab-ci.yml", pipeline_text(include, template_stages(template)))
        )
        return CiPlan(tuple(writes), tuple(notes))
    try:
        docs = load_documents(
            decode(read_limited(str(pipeline), 4 << 20), str(pipeline)), str(pipeline)
        )
        data = docs[0].data if docs and isinstance(docs[0].data, dict) else {}
    except InputError as exc:
        notes.append(f".gitlab-ci.yml could not be read ({exc.message}); it was left as it is")
        data = {}
    existing = _included(data)
    if existing is not None:
        notes.append(f".gitlab-ci.yml already includes the airgap template ({existing})")
        local = existing.removeprefix("local: ").lstrip("/")
        if not existing.startswith("local: ") or not _inside(local):
            return CiPlan((), tuple(notes))
        if not (root / local).exists():
            notes.append(f"{local} was missing: it is written from the packaged template")
        elif local != VENDORED:
            return CiPlan((), tuple(notes))  # the user's own copy, wherever they keep it
        return CiPlan(tuple(_vendor(root, local, template, force, notes)), tuple(notes))
    writes = [] if include.project else _vendor(root, VENDORED, template, force, notes)
    has_include = "include" in data
    lines = include.item_lines() if has_include else ["include:", *include.item_lines()]
    where = "to its include: list" if has_include else "to it"
    notes.append(f".gitlab-ci.yml exists and was left as it is; add the airgap jobs {where}:")
    stages = data.get("stages")
    declared = stages if isinstance(stages, list) else DEFAULT_STAGES  # GitLab's default
    needed = [s for s in _used_stages(template) if s not in declared]
    if needed:
        lines += [f"# and add {', '.join(needed)} to its stages: list"]
    return CiPlan(tuple(writes), tuple(notes), tuple(lines))


def _vendor(root: Path, rel: str, template: str, force: bool, notes: list[str]) -> list[FileWrite]:
    target = root / rel
    if not target.exists():
        return [FileWrite(rel, template)]
    try:
        current = decode(read_limited(str(target), 4 << 20), str(target))
    except InputError:
        current = None
    if current == template:
        notes.append(f"{rel} is the packaged template already")
        return []
    if not force:
        notes.append(f"{rel} differs from the packaged template and was kept (--force replaces it)")
        return []
    return [FileWrite(rel, template, replaces=True)]


def _included(data: dict[str, Any]) -> str | None:
    """How a pipeline already includes the airgap template (``local: path``, ``project: …``),
    ``None`` when it does not."""
    entries = data.get("include")
    for entry in entries if isinstance(entries, list) else [entries]:
        if isinstance(entry, str) and entry.strip().endswith(TEMPLATE_NAME):
            kind = "remote" if "://" in entry else "local"
            return f"{kind}: {entry.strip()}"
        if not isinstance(entry, dict):
            continue
        for key in ("local", "remote", "template", "file", "component"):
            values = entry.get(key)
            for value in values if isinstance(values, list) else [values]:
                if isinstance(value, str) and _names_template(key, value):
                    project = entry.get("project")
                    return f"project: {project}" if project else f"{key}: {value.strip()}"
    return None


def _names_template(key: str, value: str) -> bool:
    value = value.strip()
    if key == "component":
        return "/airgap" in value
    return value.endswith(TEMPLATE_NAME)


def _inside(rel: str) -> bool:
    parts = Path(rel).parts
    return bool(parts) and ".." not in parts and not Path(rel).is_absolute()


# --- what the user is told -----------------------------------------------------------------------
def summary(plan: InitPlan, *, dry_run: bool = False) -> Iterator[str]:
    """The lines ``airgap init`` prints on stderr."""
    verb = "would write" if dry_run else "wrote"
    guess = plan.guess
    config = plan.root / plan.config.path
    domains = [g for g in guess.domains if g.certain]
    if not (guess.registries or domains or guess.cidrs):
        yield (
            f"{verb} {config}: nothing in {_count(guess.manifests, 'manifest file')} looks inside "
            "the boundary; its internal section is commented out for you to fill in"
        )
    else:
        parts = [
            _count(len(guess.registries), "internal registry", "internal registries"),
            _count(len(domains), "domain pattern"),
            _count(len(guess.cidrs), "address range"),
        ]
        yield (
            f"{verb} {config}{_replacing(plan.config, dry_run)}: "
            f"{', '.join(parts)} guessed from {_count(guess.manifests, 'manifest file')}; "
            "review them"
        )
    doubtful = [g.value for g in guess.domains if not g.certain]
    if doubtful:
        yield f"  offered commented out (one host each, not on the public list): {', '.join(doubtful)}"
    public = [s.name for s in guess.public_registries] + [s.name for s in guess.public_hosts]
    if public:
        shown = ", ".join(public[:5]) + (f" and {len(public) - 5} more" if len(public) > 5 else "")
        yield f"  outside the boundary, reported by airgap check: {shown}"
    if guess.problems:
        yield (
            f"  skipped {_count(len(guess.problems), 'file')} that could not be read "
            f"(listed in {plan.config.path}): {guess.problems[0].diagnostics()}"
            + (" ..." if len(guess.problems) > 1 else "")
        )
    if plan.ci is not None:
        for write in plan.ci.writes:
            what = "the packaged GitLab CI template" if write.path != ".gitlab-ci.yml" else ""
            what = what or "a pipeline that includes the airgap jobs"
            yield f"{verb} {plan.root / write.path} ({what})"
        yield from plan.ci.notes
        yield from plan.ci.add_lines
    if not dry_run:
        yield f"next: review {config}, then run `airgap check {plan.root}`"


# --- small helpers -------------------------------------------------------------------------------
def _replacing(write: FileWrite, dry_run: bool) -> str:
    if not write.replaces:
        return ""
    return " (it exists: replaced only with --force)" if dry_run else " (replacing it)"


def _comment(out: list[str], indent: str, text: str, *, indent_more: bool = False) -> None:
    """``text`` as comment lines at ``indent``, wrapped at WIDTH, control characters replaced."""
    clean = "".join(c if c.isprintable() else "?" for c in text)
    lead = f"{indent}# "
    rest = lead + ("    " if indent_more else "")
    wrapped = textwrap.wrap(
        clean.strip() if not indent_more else clean,
        WIDTH,
        initial_indent=lead,
        subsequent_indent=rest,
        break_long_words=False,
        break_on_hyphens=False,
    )
    out.extend(wrapped or [lead.rstrip()])


def _count(n: int, singular: str, plural: str | None = None) -> str:
    return f"{n} {singular if n == 1 else plural or singular + 's'}"


def _short(text: str, limit: int = 80) -> str:
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _flow(items: Iterable[str]) -> str:
    return "[" + ", ".join(json.dumps(i) for i in items) + "]"


def _scalar(value: str) -> str:
    plain = _PLAIN.fullmatch(value) and value.lower() not in _YAML_WORDS
    return value if plain else json.dumps(value)
