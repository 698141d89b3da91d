"""Guessing the boundary from manifests: what is seen, how it is classified and grouped."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from airgap_cli.lint.guess import BoundaryGuess, Where, guess_boundary, public_hosts

from ..conftest import FIXTURES

Write = Callable[[str, str], Path]
POD = """\
apiVersion: v1
kind: Pod
metadata: {{name: p, namespace: apps}}
spec:
  containers:
    - name: c
      image: "{image}"
"""


def _pod(*images: str) -> str:
    return "---\n".join(POD.format(image=image) for image in images)


def _configmap(**data: str) -> str:
    lines = "".join(f"  {key}: {value!r}\n" for key, value in data.items())
    return (
        f"apiVersion: v1\nkind: ConfigMap\nmetadata: {{name: c, namespace: apps}}\ndata:\n{lines}"
    )


def _values(guess: BoundaryGuess) -> dict[str, list[str]]:
    return {
        "registries": [g.value for g in guess.registries],
        "domains": [g.value for g in guess.domains],
        "cidrs": [g.value for g in guess.cidrs],
    }


def test_the_fixture_repository() -> None:
    guess = guess_boundary(FIXTURES / "init")
    assert _values(guess) == {
        "registries": ["registry.corp.example.com"],
        "domains": ["*.corp.example.com", "*.svc.cluster.local"],
        "cidrs": ["10.0.0.0/8"],
    }
    registry = guess.registries[0]
    assert registry.uses == 3  # the CI default image, the Deployment, the Helm values
    assert registry.first.example == Where(".gitlab-ci.yml", 5)
    corp = guess.domains[0]
    assert corp.certain and "registry.corp.example.com" in corp.reason
    assert [s.name for s in corp.seen] == [
        "artifacts.corp.example.com",  # a URL in a CI script
        "charts.corp.example.com",  # a Helm chart repository
        "db.corp.example.com",  # a host field in Helm values
        "llm.corp.example.com",  # a gateway CRD's upstream
        "registry.corp.example.com",  # image registries join their domain
        "shop.corp.example.com",  # Gateway API hostnames
        "vault.corp.example.com",  # an env URL with a port
    ]
    assert [
        (s.name, s.label, s.uses, str(s.example), s.sample) for s in guess.public_registries
    ] == [
        ("docker.io", "Docker Hub", 1, "k8s/web.yaml:25", "nginx:1.27"),
        ("quay.io", "Quay", 1, "helm/values.yaml:8", "quay.io/prometheus/statsd-exporter:v0.27.0"),
    ]
    assert [(s.name, s.label) for s in guess.public_hosts] == [("api.openai.com", "OpenAI API")]
    assert guess.cidrs[0].uses == 2  # the NetworkPolicy's ipBlock and a nameserver in a blob
    assert str(guess.cidrs[0].first.example) == "k8s/network.yaml:12"
    assert guess.templated == 1  # the Helm values image built from {{ .Values.global.registry }}
    assert (guess.files, guess.manifests, guess.problems) == (6, 6, ())
    assert guess.manifest_dirs == (".gitlab-ci.yml", "gateway", "helm", "k8s")


def test_the_same_repository_gives_the_same_guess() -> None:
    assert guess_boundary(FIXTURES / "init") == guess_boundary(FIXTURES / "init")


@pytest.mark.parametrize(
    ("image", "registry", "label"),
    [
        ("nginx:1.27", "docker.io", "Docker Hub"),
        ("library/redis", "docker.io", "Docker Hub"),
        ("bitnami/postgresql:16", "docker.io", "Docker Hub"),
        ("docker.io/library/python:3.12", "docker.io", "Docker Hub"),
        ("ghcr.io/acme/app:1", "ghcr.io", "GitHub Container Registry"),
        ("quay.io/jetstack/cert-manager-controller:v1.15.0", "quay.io", "Quay"),
        ("registry.k8s.io/pause:3.9", "registry.k8s.io", "Kubernetes registry"),
        ("gcr.io/distroless/static", "gcr.io", "Google Container Registry"),
        ("eu.gcr.io/acme/app", "eu.gcr.io", "Google Container Registry"),
        ("europe-docker.pkg.dev/acme/app/web", "europe-docker.pkg.dev", "Google Artifact Registry"),
        ("public.ecr.aws/nginx/nginx", "public.ecr.aws", "Amazon ECR Public"),
        (
            "mcr.microsoft.com/dotnet/runtime:8.0",
            "mcr.microsoft.com",
            "Microsoft Artifact Registry",
        ),
        ("nvcr.io/nvidia/tritonserver:24.05", "nvcr.io", "NVIDIA NGC"),
    ],
)
def test_well_known_public_registries_are_never_guessed_internal(
    tmp_path: Path, write: Write, image: str, registry: str, label: str
) -> None:
    write("pod.yaml", _pod(image))
    guess = guess_boundary(tmp_path)
    assert guess.registries == () and guess.domains == ()
    assert [(s.name, s.label) for s in guess.public_registries] == [(registry, label)]


def test_public_hosts_in_urls_are_listed_apart(tmp_path: Path, write: Write) -> None:
    write(
        "cm.yaml",
        _configmap(
            A="https://api.anthropic.com/v1",
            B="https://huggingface.co/meta-llama",
            C="https://generativelanguage.googleapis.com",
            D="https://acme-v02.api.letsencrypt.org/directory",
            E="https://json-schema.org/draft/2020-12/schema",  # external-url ignores it too
        ),
    )
    guess = guess_boundary(tmp_path)
    assert _values(guess) == {"registries": [], "domains": [], "cidrs": []}
    assert [s.name for s in guess.public_hosts] == [
        "acme-v02.api.letsencrypt.org",
        "api.anthropic.com",
        "generativelanguage.googleapis.com",
        "huggingface.co",
    ]


def test_hosts_group_under_their_common_suffix(tmp_path: Path, write: Write) -> None:
    write("a.yaml", _pod("registry.corp.example/apps/a:1"))
    write("b.yaml", _configmap(GIT="https://git.corp.example/group/repo.git"))
    guess = guess_boundary(tmp_path)
    assert _values(guess) == {
        "registries": ["registry.corp.example"],
        "domains": ["*.corp.example"],
        "cidrs": [],
    }


def test_the_group_is_as_narrow_as_its_members_allow(tmp_path: Path, write: Write) -> None:
    write(
        "cm.yaml",
        _configmap(
            A="https://vault.eu.acme.co.uk:8200",
            B="https://git.eu.acme.co.uk",
            C="https://llm.ai.eu.acme.co.uk/v1",
            D="https://acme.com/",
            E="https://docs.acme.com/",
        ),
    )
    guess = guess_boundary(tmp_path)
    assert [(g.value, g.certain) for g in guess.domains] == [
        ("*.acme.com", True),
        ("*.eu.acme.co.uk", True),  # never *.co.uk: a two-label public suffix
        ("acme.com", True),  # *.acme.com does not match acme.com itself
    ]


def test_a_lone_unknown_host_is_offered_not_asserted(tmp_path: Path, write: Write) -> None:
    write("cm.yaml", _configmap(PAYMENTS="https://api.payments-vendor.com/v2"))
    guess = guess_boundary(tmp_path)
    assert [(g.value, g.certain) for g in guess.domains] == [("*.payments-vendor.com", False)]
    assert "uncomment" in guess.domains[0].reason


def test_cluster_local_names_and_private_addresses(tmp_path: Path, write: Write) -> None:
    write(
        "cm.yaml",
        _configmap(
            A="http://redis.cache.svc:6379",
            B="http://llm.ai.svc.cluster.local:8000",
            C="http://vault.site.internal",
            D="http://10.1.2.3:8080",
            E="http://172.20.0.5",
            F="http://[fd00::10]:9000",
            G="http://redis:6379",  # a single label: internal by default, says nothing
            H="http://127.0.0.1:8080",  # loopback: says nothing either
            I="http://8.8.8.8/upload",  # a public address in a URL: reported
            DNS="nameserver 192.168.1.1",
        ),
    )
    guess = guess_boundary(tmp_path)
    assert _values(guess) == {
        "registries": [],
        "domains": ["*.internal", "*.svc", "*.svc.cluster.local"],
        "cidrs": ["10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16", "fc00::/7"],
    }
    assert [s.name for s in guess.public_hosts] == ["8.8.8.8"]


def test_bad_files_are_skipped_and_counted(tmp_path: Path, write: Write) -> None:
    write("good.yaml", _pod("registry.corp.example.com/a:1"))
    write("broken.yaml", "apiVersion: v1\nkind: Pod\nspec: [1\n")
    write("chart/templates/deploy.yaml", 'apiVersion: v1\nkind: Pod\n{{- include "x" . }}\n')
    guess = guess_boundary(tmp_path)
    assert [g.value for g in guess.registries] == ["registry.corp.example.com"]
    assert [(p.path, p.line) for p in guess.problems] == [("broken.yaml", 4)]
    assert "invalid YAML" in guess.problems[0].message
    assert [s.path for s in guess.skipped] == ["chart/templates/deploy.yaml"]


def test_gitignored_files_and_templated_references_are_not_judged(
    tmp_path: Path, write: Write
) -> None:
    write(".gitignore", "vendor/\n")
    write("vendor/pod.yaml", _pod("registry.vendor-a.com/x:1"))
    write("pod.yaml", _pod("{{ .Values.registry }}/app:1", "$CI_REGISTRY_IMAGE/app:1"))
    guess = guess_boundary(tmp_path)
    assert guess.empty and guess.templated == 2 and guess.manifests == 1


def test_the_public_list_is_data_with_sorted_sections() -> None:
    names = public_hosts().names
    assert {"docker.io", "ghcr.io", "quay.io", "registry.k8s.io", "gcr.io", "pkg.dev"} <= set(names)
    assert {"public.ecr.aws", "mcr.microsoft.com", "nvcr.io", "openai.com"} <= set(names)
    text = (FIXTURES.parent / "rules" / "boundary" / "public-hosts.yaml").read_text()
    for section in text.split("# ---")[1:]:
        keys = [line.split(":")[0].strip() for line in section.splitlines()[1:] if ": " in line]
        keys = [k for k in keys if k and not k.startswith("#")]
        assert keys == sorted(keys), keys
