"""Config, YAML limits, boundary classification and the finding model."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from airgap_cli.core.config import load_config
from airgap_cli.core.errors import ConfigError, InputError
from airgap_cli.core.findings import Finding, Location, Report, Severity
from airgap_cli.core.hosts import URL_PATTERN, Boundary, find_urls, parse_image
from airgap_cli.core.yamlio import line_of, load_documents


def test_missing_explicit_config_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="not found"):
        load_config(tmp_path / "nope.yaml")


def test_config_defaults_when_none_exists(tmp_path: Path) -> None:
    assert load_config(start=tmp_path).path is None or True


@pytest.mark.parametrize(
    ("text", "line", "fragment"),
    [
        ("internal:\n  cidrs: [10.0.0.0/33]\n", 2, "internal.cidrs.0"),
        ("fail_on: sometimes\n", 1, "fail_on"),
        ("lint:\n  include: [a]\n  max_file_size: 12\n", 3, "lint.max_file_size"),
        ("a: [\n", 2, "invalid YAML"),
    ],
)
def test_bad_config_names_file_line_and_key(
    tmp_path: Path, text: str, line: int, fragment: str
) -> None:
    path = tmp_path / "airgap.yaml"
    path.write_text(text)
    with pytest.raises(ConfigError) as info:
        load_config(path)
    assert info.value.line == line and fragment in info.value.message


def test_yaml_keeps_lines_and_reads_gitlab_reference_tags() -> None:
    docs = load_documents("a: 1\nb:\n  - c: 2\n    d: !reference [.x, script]\n", "t.yaml")
    data = docs[0].data
    assert line_of(data, ["b", 0, "d"], None) == 4
    assert data["b"][0]["d"] == [".x", "script"]


def test_yaml_refuses_recursive_aliases() -> None:
    with pytest.raises(InputError, match="recursive alias"):
        load_documents("a: &a\n  b: *a\n", "r.yaml")


@pytest.mark.parametrize(
    ("host", "internal"),
    [
        ("api.openai.com", False),
        ("redis", True),
        ("db.apps.svc.cluster.local", True),
        ("10.2.3.4", True),
        ("8.8.8.8", False),
        ("fd00::1", True),
        ("2001:4860::1", False),
        ("mirror.corp.example.com", True),
        ("localhost", True),
    ],
)
def test_boundary_classifies_hosts(host: str, internal: bool) -> None:
    boundary = Boundary(domains=("*.corp.example.com",))
    assert boundary.is_internal_host(host) is internal


def test_image_parsing_follows_the_runtime() -> None:
    assert parse_image("nginx").registry == "docker.io"
    assert parse_image("nginx").effective_tag == "latest"
    ref = parse_image("localhost:5000/team/app:1.2@sha256:abc")
    assert (ref.registry, ref.repository, ref.tag, ref.digest) == (
        "localhost:5000",
        "team/app",
        "1.2",
        "sha256:abc",
    )


def test_zero_cidr_is_never_internal() -> None:
    assert not Boundary(cidrs=("10.0.0.0/8",)).is_internal_cidr("0.0.0.0/0")
    assert Boundary(cidrs=("100.100.0.0/16",)).is_internal_cidr("100.100.4.0/24")


@given(st.integers(min_value=1, max_value=10_000), st.integers(min_value=1, max_value=10_000))
def test_fingerprint_ignores_the_line(line_a: int, line_b: int) -> None:
    def finding(line: int) -> Finding:
        return Finding(
            "r", Severity.LOW, "t", "m", Location("f.yaml", line, None, "Pod/a/b", "/spec")
        )

    assert finding(line_a).fingerprint == finding(line_b).fingerprint


def test_report_round_trips_through_json() -> None:
    report = Report(command="lint", tool_version="1")
    report.findings.append(
        Finding("r", Severity.HIGH, "t", "m", Location("f", 3, None, "Pod/a/b", "/x"))
    )
    again = Report.from_dict(report.to_dict())
    assert again.findings == report.findings
    assert report.exit_code("high") == 1 and report.exit_code("critical") == 0


def test_exponent_floats_are_numbers_as_in_yaml_1_2() -> None:
    """``maximum: 1e5`` is a number to Go, JavaScript and openapi-spec-validator; a string to
    YAML 1.1. Reading it as a string made a valid OpenAPI spec invalid here."""
    [doc] = load_documents("a: 1e5\nb: 1.5e3\nc: -2E-3\nd: '1e5'\ne: e5\n", "x.yaml")
    assert doc.data == {"a": 1e5, "b": 1.5e3, "c": -2e-3, "d": "1e5", "e": "e5"}


@settings(max_examples=600)
@given(
    st.lists(
        st.sampled_from(
            ["http", "HTTPS", "://", "git", "+", "ssh", "s3", "x", "_", "é", " ", "\n", "a.b",
             "/", ":", "'", "{", "ws", "hdfs", "0", ".", "?q=1&r", "-", "GS", "ftp"]
        ),
        max_size=30,
    )
)  # fmt: skip
def test_find_urls_matches_url_pattern(parts: list[str]) -> None:
    text = "".join(parts)
    assert list(find_urls(text)) == [(m.group(), m.start()) for m in URL_PATTERN.finditer(text)]
