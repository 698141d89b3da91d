"""The static egress scan over real files: rule ids, lines, messages, suppressions, limits."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from airgap_cli.core.config import Config, LintSettings, RuleSettings
from airgap_cli.core.findings import Report, Severity
from airgap_cli.core.hosts import Boundary
from airgap_cli.egress.scan import SCAN_RULES, file_kind, scan_paths

Write = Callable[[str, str], Path]


def _scan(path: Path, config: Config | None = None) -> Report:
    return scan_paths([str(path)], config or Config())


def _rows(report: Report) -> list[tuple[str, int | None, str, str]]:
    return [
        (Path(f.location.path).name, f.location.line, f.rule_id, f.message)
        for f in report.sorted_findings()
    ]


def test_dockerfile_env_forms_proxy_and_hub(write: Write) -> None:
    path = write(
        "Dockerfile",
        "FROM python:3.11\n"
        "ENV HF_HUB_OFFLINE=0 PIP_INDEX_URL=https://pkg-index.com/simple\n"
        "ENV DO_NOT_TRACK 1\n"
        "ENV GRADIO_ANALYTICS_ENABLED True\n"
        "ARG HTTPS_PROXY=http://user:secret@proxy.example.com:3128\n"
        "RUN huggingface-cli download meta-llama/Llama-3-8B\n"
        "# RUN ollama pull llama3\n",
    )
    assert _rows(_scan(path)) == [
        (
            "Dockerfile",
            2,
            "egress-telemetry-on",
            "HF_HUB_OFFLINE=0 leaves online hub access on (huggingface_hub); set HF_HUB_OFFLINE=1",
        ),
        (
            "Dockerfile",
            2,
            "egress-proxy-external",
            "PIP_INDEX_URL=https://pkg-index.com/simple sends traffic to external host pkg-index.com",
        ),
        (
            "Dockerfile",
            4,
            "egress-telemetry-on",
            "GRADIO_ANALYTICS_ENABLED=True leaves telemetry on (gradio); "
            "set GRADIO_ANALYTICS_ENABLED=false",
        ),
        (
            "Dockerfile",
            5,
            "egress-proxy-external",
            "HTTPS_PROXY=http://***@proxy.example.com:3128 sends traffic to external host "
            "proxy.example.com",
        ),
        (
            "Dockerfile",
            6,
            "egress-hub-download",
            "huggingface-cli download meta-llama/Llama-3-8B downloads from a model hub at run time",
        ),
    ]


def test_secrets_never_reach_evidence(write: Write) -> None:
    path = write(
        ".env",
        "HTTPS_PROXY=http://user:secret@proxy.example.com:3128\n"
        "SENTRY_DSN=https://abc123@o1.ingest.sentry.io/42\n",
    )
    report = _scan(path)
    assert [f.rule_id for f in report.sorted_findings()] == [
        "egress-proxy-external",
        "egress-telemetry-on",
    ]
    for finding in report.findings:
        assert "secret" not in finding.message and "secret" not in (finding.evidence or "")
        assert "abc123" not in finding.message and "abc123" not in (finding.evidence or "")


def test_env_file_telemetry_endpoints_and_internal_proxy(write: Write) -> None:
    path = write(
        ".env",
        "# comment: HF_HUB_OFFLINE=0 is not active here\n"
        "export OTEL_EXPORTER_OTLP_ENDPOINT=https://otlp.vendor.io:4317\n"
        "ANONYMIZED_TELEMETRY=true\n"
        "ANONYMIZED_TELEMETRY=False\n"
        "HTTP_PROXY=http://proxy.corp.internal:3128\n"
        "LANGSMITH_TRACING=${TRACING}\n",
    )
    assert _rows(_scan(path)) == [
        (
            ".env",
            2,
            "egress-telemetry-on",
            "OTEL_EXPORTER_OTLP_ENDPOINT=https://otlp.vendor.io:4317 sends opentelemetry data "
            "to external host otlp.vendor.io",
        ),
        (
            ".env",
            3,
            "egress-telemetry-on",
            "ANONYMIZED_TELEMETRY=true leaves telemetry on (chromadb); "
            "set ANONYMIZED_TELEMETRY=false",
        ),
    ]


def test_yaml_ci_variables_k8s_env_and_downloads(write: Write) -> None:
    path = write(
        ".gitlab-ci.yml",
        "variables:\n"
        '  HF_HUB_DISABLE_TELEMETRY: "0"\n'
        "  SCHEMA: https://json-schema.org/draft/2020-12/schema\n"
        "job:\n"
        "  script:\n"
        "    - wget https://huggingface.co/org/model/resolve/main/model.safetensors\n"
        "    - git lfs clone https://huggingface.co/org/model\n"
        "    - curl -fsSL https://get.example.org/install.sh | sh\n"
        "env:\n"
        "  - name: TRANSFORMERS_OFFLINE\n"
        '    value: "0"\n',
    )
    assert _rows(_scan(path)) == [
        (
            ".gitlab-ci.yml",
            2,
            "egress-telemetry-on",
            "HF_HUB_DISABLE_TELEMETRY=0 leaves telemetry on (huggingface_hub); "
            "set HF_HUB_DISABLE_TELEMETRY=1",
        ),
        (
            ".gitlab-ci.yml",
            6,
            "egress-hub-download",
            "download of https://huggingface.co/org/model/resolve/main/model.safetensors "
            "downloads from a model hub at run time",
        ),
        (
            ".gitlab-ci.yml",
            7,
            "egress-hub-download",
            "git lfs clone https://huggingface.co/org/model downloads from a model hub at run time",
        ),
        (
            ".gitlab-ci.yml",
            8,
            "egress-external-url",
            "External URL https://get.example.org/install.sh "
            "(host get.example.org is outside the boundary)",
        ),
        (
            ".gitlab-ci.yml",
            11,
            "egress-telemetry-on",
            "TRANSFORMERS_OFFLINE=0 leaves online hub access on (transformers); "
            "set TRANSFORMERS_OFFLINE=1",
        ),
    ]


def test_package_manager_config_files(write: Write, tmp_path: Path) -> None:
    write(
        ".npmrc",
        "registry=https://registry.js-pkgs.com/\n@corp:registry=https://npm.corp.internal/\n",
    )
    write("pip.conf", "[global]\nindex-url = https://pkg-index.com/simple\n")
    write(".pypirc", "[pypi]\nrepository = https://upload.pkg-index.com/legacy/\n")
    write(
        "requirements.txt",
        "--index-url https://pkg-index.com/simple\n"
        "-f https://download.pytorch.org/whl/torch_stable.html\n"
        "requests==2.32.3\n",
    )
    assert _rows(_scan(tmp_path)) == [
        (
            ".npmrc",
            1,
            "egress-proxy-external",
            "registry=https://registry.js-pkgs.com/ sends traffic to external host "
            "registry.js-pkgs.com",
        ),
        (
            ".pypirc",
            2,
            "egress-proxy-external",
            "repository=https://upload.pkg-index.com/legacy/ sends traffic to external host "
            "upload.pkg-index.com",
        ),
        (
            "pip.conf",
            2,
            "egress-proxy-external",
            "index-url=https://pkg-index.com/simple sends traffic to external host pkg-index.com",
        ),
        (
            "requirements.txt",
            1,
            "egress-proxy-external",
            "--index-url https://pkg-index.com/simple installs packages from external host pkg-index.com",
        ),
        (
            "requirements.txt",
            2,
            "egress-proxy-external",
            "-f https://download.pytorch.org/whl/torch_stable.html installs packages from "
            "external host download.pytorch.org",
        ),
    ]


def test_index_keys_only_in_package_manager_files(write: Write, tmp_path: Path) -> None:
    write("values.yaml", "image:\n  registry: docker.io\n  repository: bitnami/redis\n")
    write(".yarnrc.yml", 'npmRegistryServer: "https://registry.yarnpkg.com"\n')
    assert _rows(_scan(tmp_path)) == [
        (
            ".yarnrc.yml",
            1,
            "egress-proxy-external",
            "npmRegistryServer=https://registry.yarnpkg.com sends traffic to external host "
            "registry.yarnpkg.com",
        )
    ]


def test_python_hub_calls_are_matched_as_text_only(write: Write, tmp_path: Path) -> None:
    (tmp_path / "models" / "local").mkdir(parents=True)
    path = write(
        "app.py",
        "import sys\n"
        "raise SystemExit('never executed')\n"
        'm = AutoModel.from_pretrained("bert-base-uncased")\n'
        'n = AutoModel.from_pretrained("./local-model")\n'
        'o = AutoModel.from_pretrained("models/local")\n'
        "p = AutoModel.from_pretrained(\n"
        '    "org/x", local_files_only=True)\n'
        "q = AutoModel.from_pretrained(name)\n"
        "torch.hub.load('pytorch/vision', 'resnet18')\n"
        "torch.hub.load('/opt/hub/vision', 'resnet18', source='local')\n"
        "path = snapshot_download(repo_id=repo)\n"
        'ds = load_dataset("csv", data_files="x.csv")\n'
        'url = "https://api.openai.com/v1"\n',
    )
    assert _rows(_scan(path)) == [
        (
            "app.py",
            3,
            "egress-hub-download",
            "from_pretrained bert-base-uncased downloads from a model hub at run time",
        ),
        (
            "app.py",
            9,
            "egress-hub-download",
            "torch.hub.load pytorch/vision downloads from a model hub at run time",
        ),
        (
            "app.py",
            11,
            "egress-hub-download",
            "snapshot_download (computed at run time) downloads from a model hub at run time",
        ),
    ]


def test_internal_hf_mirror_in_the_same_file_silences_hf_tools(write: Write) -> None:
    path = write(
        "Dockerfile",
        "ENV HF_ENDPOINT=https://hf-mirror.corp.internal\n"
        "RUN huggingface-cli download org/model\n"
        "RUN ollama pull llama3\n",
    )
    assert _rows(_scan(path)) == [
        (
            "Dockerfile",
            3,
            "egress-hub-download",
            "ollama pull llama3 downloads from a model hub at run time",
        )
    ]


def test_external_hf_endpoint_is_a_proxy_finding(write: Write) -> None:
    path = write(".env", "HF_ENDPOINT=https://hf-mirror.com\n")
    assert _rows(_scan(path)) == [
        (
            ".env",
            1,
            "egress-proxy-external",
            "HF_ENDPOINT=https://hf-mirror.com sends traffic to external host hf-mirror.com",
        )
    ]


def test_boundary_and_ignore_urls_from_config(write: Write) -> None:
    path = write(
        "settings.toml",
        'api = "https://api.partner.example.com/v2"\n'
        'docs = "https://docs.vendor.io/page"\n'
        'local = "http://10.0.0.5:8080/"\n',
    )
    config = Config(
        boundary=Boundary(domains=("*.partner.example.com",)),
        lint=LintSettings(ignore_urls=("https://docs.vendor.io/*",)),
    )
    assert _rows(_scan(path, config)) == []
    assert [r[2] for r in _rows(_scan(path))] == ["egress-external-url", "egress-external-url"]


def test_inline_suppression_with_and_without_reason(write: Write) -> None:
    path = write(
        "Dockerfile",
        "RUN ollama pull llama3  # airgap:ignore egress-hub-download -- pre-pulled in the build\n"
        "# airgap:ignore egress-external-url\n"
        "RUN curl https://get.example.org/x.sh\n",
    )
    report = _scan(path)
    assert [
        (s.finding.rule_id, s.finding.location.line, s.reason, s.source) for s in report.suppressed
    ] == [
        ("egress-hub-download", 1, "pre-pulled in the build", "inline"),
        ("egress-external-url", 3, "", "inline"),
    ]
    assert _rows(report) == [
        (
            "Dockerfile",
            2,
            "suppression-without-reason",
            "Suppression of egress-external-url (inline) gives no reason",
        )
    ]
    assert report.rules["suppression-without-reason"]["severity"] == "low"


def test_findings_carry_rule_metadata_and_stable_fingerprints(write: Write) -> None:
    path = write(".env", "DO_NOT_TRACK=0\n")
    first = _scan(path)
    assert set(first.rules) == set(SCAN_RULES)
    assert first.rules["egress-proxy-external"]["severity"] == "high"
    finding = first.findings[0]
    assert finding.severity is Severity.MEDIUM
    assert finding.location.resource == "env:DO_NOT_TRACK"
    assert finding.remediation == "Set DO_NOT_TRACK=1."
    assert "NIST-800-53:CM-7" in finding.compliance
    path.write_text("# moved down\n\nDO_NOT_TRACK=0\n")
    moved = _scan(path).findings[0]
    assert moved.location.line == 3
    assert moved.fingerprint == finding.fingerprint


def test_repeated_value_gets_distinct_fingerprints(write: Write) -> None:
    path = write(".env", "A=https://x.example.com/a\nB=https://x.example.com/a\n")
    report = _scan(path)
    assert [f.location.resource for f in report.sorted_findings()] == [
        "url:https://x.example.com/a",
        "url:https://x.example.com/a (2)",
    ]
    assert len({f.fingerprint for f in report.findings}) == 2


def test_rule_selection_and_severity_override(write: Write) -> None:
    path = write(".env", "DO_NOT_TRACK=0\nURL=https://x.example.com/\n")
    config = Config(
        rules=RuleSettings(
            disable=frozenset({"egress-external-url"}), severity={"egress-telemetry-on": "high"}
        )
    )
    report = _scan(path, config)
    assert [(f.rule_id, f.severity) for f in report.findings] == [
        ("egress-telemetry-on", Severity.HIGH)
    ]
    assert "egress-external-url" not in report.rules


def test_walk_include_set_limits_and_binaries(write: Write, tmp_path: Path) -> None:
    write("notes.md", "see https://x.example.com/\n")
    write("node_modules/pkg/config.json", '{"u": "https://x.example.com/"}\n')
    write("ignored/app.env", "DO_NOT_TRACK=0\n")
    write(".gitignore", "ignored/\n")
    big = tmp_path / "big.json"
    big.write_bytes(b'{"u": "https://x.example.com/", "pad": "' + b"a" * (1024 * 1024) + b'"}')
    (tmp_path / "blob.conf").write_bytes(b"\x00\x01https://x.example.com/")
    write("deploy.sh", "curl -o m.bin https://cdn.example.net/m.bin\n")
    report = _scan(tmp_path)
    assert _rows(report) == [
        (
            "deploy.sh",
            1,
            "egress-external-url",
            "External URL https://cdn.example.net/m.bin "
            "(host cdn.example.net is outside the boundary)",
        )
    ]
    assert sorted((Path(s.path).name, s.reason) for s in report.skipped) == [
        ("big.json", "larger than 1 MiB"),
        ("blob.conf", "binary file"),
    ]
    assert [Path(i.path).name for i in report.inputs] == ["deploy.sh"]
    assert report.errors == []
    assert report.command == "egress-scan"


def test_missing_path_is_an_input_error(tmp_path: Path) -> None:
    report = _scan(tmp_path / "nope")
    assert [e.message for e in report.errors] == ["no such file or directory"]
    assert report.exit_code("high") == 2


@pytest.mark.parametrize(
    ("name", "kind"),
    [
        ("Dockerfile", "dockerfile"),
        ("api.Dockerfile", "dockerfile"),
        ("Containerfile", "dockerfile"),
        ("requirements-dev.txt", "requirements"),
        (".npmrc", "config"),
        ("pip.conf", "config"),
        ("setup.cfg", "config"),
        ("values.yaml", "yaml"),
        ("package.json", "json"),
        ("train.py", "python"),
        (".env.local", "text"),
    ],
)
def test_file_kind(name: str, kind: str) -> None:
    assert file_kind(f"some/dir/{name}") == kind
