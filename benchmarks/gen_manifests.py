"""Deterministic generator of a realistic Kubernetes/Helm/GitLab-CI tree for lint benchmarks.

Why a generator and not a checked-in corpus: 10 MB of YAML does not belong in git, and a seed makes
every run (and every machine) lint byte-identical input. The mix follows what a platform monorepo
holds: mostly compliant, digest-pinned workloads from an internal registry, a minority of
air-gap violations spread over every rule family, multi-document app bundles next to one-object
files, several namespaces (a few without default-deny), gateway and cert-manager CRs, Helm values
files and one ``.gitlab-ci.yml``.

``--count`` is the number of Kubernetes objects (YAML documents with a ``kind``); Helm values files
and the CI file come on top and are reported separately in ``MANIFEST.json``.

Usage: ``python benchmarks/gen_manifests.py --count 10000 --seed 42 --out benchmarks/.work/tree``
"""

from __future__ import annotations

import argparse
import hashlib
import json
import random
import shutil
import sys
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

GENERATOR_VERSION = 1
"""Bump when the output for a given (count, seed) changes, so cached trees are regenerated."""

INTERNAL_REGISTRY = "registry.airgap.internal"
"""Fictional internal registry; the lint config under test must allow it."""

INTERNAL_DOMAIN = "svc.cluster.local"
CORP_DOMAIN = "corp.internal"

# Public images are written without a host on purpose: an unqualified name already resolves to the
# public default registry, which is exactly what the linter must catch.
PUBLIC_IMAGES = (
    "nginx:1.27.2",
    "redis:7.4",
    "postgres:16.4",
    "python:3.12-slim",
    "busybox:1.36",
    "bitnami/kafka:3.8.0",
    "grafana/grafana:11.2.0",
    "curlimages/curl:8.10.1",
)
LATEST_IMAGES = ("nginx:latest", "busybox", "alpine:latest", "ollama/ollama:latest")

EXTERNAL_URLS = (
    "https://api.openai.com/v1",
    "https://api.anthropic.com",
    "https://generativelanguage.googleapis.com/v1beta",
    "https://hooks.slack.com/services/T000/B000/XXXX",
    "https://sentry.io/api/42/store/",
    "https://huggingface.co/meta-llama/Llama-3.1-8B",
    "https://raw.githubusercontent.com/acme/config/main/settings.json",
    "https://o11y.saas-vendor.example.com/v1/traces",
)
SAAS_OTLP = ("https://otlp.eu01.nr-data.net:4317", "https://api.honeycomb.io:443")
TELEMETRY_VARS = (
    "ANONYMIZED_TELEMETRY",
    "DO_NOT_TRACK_DISABLED",
    "HF_HUB_ENABLE_TELEMETRY",
    "GRADIO_ANALYTICS_ENABLED",
    "SCARF_ANALYTICS",
)

TEAMS = ("payments", "search", "ml", "data", "identity", "web", "ops", "risk", "media", "infra")
APP_WORDS = (
    "api",
    "worker",
    "gateway",
    "ingest",
    "indexer",
    "scheduler",
    "frontend",
    "backend",
    "cache",
    "broker",
    "embedder",
    "ranker",
    "exporter",
    "auth",
    "billing",
    "reporter",
    "sync",
    "notifier",
    "proxy",
    "inference",
)

# Relative frequency of the workload kind an app is built around.
WORKLOAD_WEIGHTS = {
    "Deployment": 55,
    "StatefulSet": 12,
    "DaemonSet": 5,
    "CronJob": 12,
    "Job": 6,
    "Pod": 10,
}


class _Dumper(yaml.CSafeDumper):
    """libyaml emitter that writes multi-line strings as literal blocks and never uses anchors.

    Hand-written manifests have no ``&id001`` aliases; shared dicts in the generator must not
    leak them into the output.
    """

    def ignore_aliases(self, data: Any) -> bool:
        return True


def _str_presenter(dumper: _Dumper, data: str) -> yaml.Node:
    style = "|" if "\n" in data else None
    return dumper.represent_scalar("tag:yaml.org,2002:str", data, style=style)


_Dumper.add_representer(str, _str_presenter)


def dump(docs: list[dict[str, Any]]) -> str:
    """YAML stream for ``docs``: keys in insertion order, block style, ``---`` between documents."""
    return yaml.dump_all(docs, Dumper=_Dumper, sort_keys=False, default_flow_style=False, width=120)


@dataclass
class Stats:
    """What was generated, so the benchmark can compute throughput and sanity-check coverage."""

    k8s_documents: int = 0
    files: int = 0
    bytes: int = 0
    kinds: Counter[str] = field(default_factory=Counter)
    violations: Counter[str] = field(default_factory=Counter)
    helm_values_files: int = 0
    gitlab_ci_files: int = 0
    namespaces_without_default_deny: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        """JSON form written to ``MANIFEST.json``."""
        return {
            "k8s_documents": self.k8s_documents,
            "files": self.files,
            "bytes": self.bytes,
            "kinds": dict(sorted(self.kinds.items())),
            "violations": dict(sorted(self.violations.items())),
            "helm_values_files": self.helm_values_files,
            "gitlab_ci_files": self.gitlab_ci_files,
            "namespaces_without_default_deny": self.namespaces_without_default_deny,
        }


class Generator:
    """Builds objects from one ``random.Random`` so the whole tree is a function of the seed."""

    def __init__(self, seed: int, violation_rate: float) -> None:
        self.rng = random.Random(seed)
        self.rate = violation_rate
        self.stats = Stats()

    # -- small helpers -------------------------------------------------------------------------

    def chance(self, p: float) -> bool:
        """True with probability ``p``."""
        return self.rng.random() < p

    def violate(self, rule: str, weight: float = 1.0) -> bool:
        """Decide (and count) one injected violation of ``rule``."""
        if self.rng.random() < self.rate * weight:
            self.stats.violations[rule] += 1
            return True
        return False

    def digest(self) -> str:
        """A plausible sha256 digest (deterministic, not of any real image)."""
        return hashlib.sha256(self.rng.randbytes(16)).hexdigest()

    def version(self) -> str:
        """A semver-looking tag."""
        r = self.rng
        return f"{r.randint(0, 4)}.{r.randint(0, 30)}.{r.randint(0, 20)}"

    def image(self, team: str, app: str) -> str:
        """Usually internal and digest-pinned; sometimes one of the image-rule violations."""
        if self.violate("image-public-registry", 0.6):
            return self.rng.choice(PUBLIC_IMAGES)
        if self.violate("image-latest", 0.4):
            return self.rng.choice(LATEST_IMAGES)
        ref = f"{INTERNAL_REGISTRY}/{team}/{app}:{self.version()}"
        if self.violate("image-not-digest-pinned", 0.6):
            return ref
        return f"{ref}@sha256:{self.digest()}"

    def labels(self, app: str, team: str, component: str = "server") -> dict[str, str]:
        """Recommended ``app.kubernetes.io`` labels."""
        return {
            "app.kubernetes.io/name": app,
            "app.kubernetes.io/instance": f"{app}-prod",
            "app.kubernetes.io/component": component,
            "app.kubernetes.io/part-of": team,
            "app.kubernetes.io/managed-by": "kustomize",
        }

    def meta(
        self, name: str, ns: str | None, labels: dict[str, str], annotations: bool = True
    ) -> dict[str, Any]:
        """``metadata`` with labels and a few realistic annotations."""
        m: dict[str, Any] = {"name": name}
        if ns is not None:
            m["namespace"] = ns
        m["labels"] = dict(labels)
        if annotations and self.chance(0.4):
            m["annotations"] = {
                "owner": f"team-{labels.get('app.kubernetes.io/part-of', 'platform')}",
                "docs": f"https://wiki.{CORP_DOMAIN}/runbooks/{name}",
                "change-ticket": f"CHG{self.rng.randint(100000, 999999)}",
            }
        return m

    # -- containers ------------------------------------------------------------------------------

    def env(self, team: str, app: str, ns: str) -> list[dict[str, Any]]:
        """Env vars: internal service URLs, secret refs and the occasional leak to the internet."""
        r = self.rng
        out: list[dict[str, Any]] = [
            {"name": "LOG_LEVEL", "value": r.choice(["info", "warn", "debug"])},
            {"name": "APP_ENV", "value": "production"},
            {"name": "POD_NAME", "valueFrom": {"fieldRef": {"fieldPath": "metadata.name"}}},
            {
                "name": "DATABASE_URL",
                "valueFrom": {"secretKeyRef": {"name": f"{app}-db", "key": "url"}},
            },
        ]
        out += [
            {
                "name": f"{other.upper()}_URL",
                "value": f"http://{other}.{ns}.{INTERNAL_DOMAIN}:{r.choice([80, 8080, 9000])}",
            }
            for other in r.sample(APP_WORDS, r.randint(1, 3))
        ]
        otlp = f"http://otel-collector.observability.{INTERNAL_DOMAIN}:4317"
        if self.violate("otel-endpoint-saas", 0.4):
            otlp = r.choice(SAAS_OTLP)
        out.append({"name": "OTEL_EXPORTER_OTLP_ENDPOINT", "value": otlp})
        out.append({"name": "OTEL_SERVICE_NAME", "value": f"{team}-{app}"})
        if self.violate("env-external-url", 0.6):
            out.append({"name": "UPSTREAM_API_BASE", "value": r.choice(EXTERNAL_URLS)})
        if self.violate("telemetry-enabled", 0.4):
            out.append({"name": r.choice(TELEMETRY_VARS), "value": "true"})
        elif self.chance(0.3):
            out.append({"name": "ANONYMIZED_TELEMETRY", "value": "false"})
        return out

    def container(self, team: str, app: str, ns: str, name: str, main: bool) -> dict[str, Any]:
        """One container with ports, env, resources, probes and a hardened securityContext."""
        r = self.rng
        port = r.choice([8080, 8000, 9090, 3000, 5000])
        c: dict[str, Any] = {
            "name": name,
            "image": self.image(team, app),
            "imagePullPolicy": "IfNotPresent",
        }
        if main:
            c["args"] = [f"--port={port}", "--metrics-port=9102", f"--config=/etc/{app}/app.yaml"]
            c["ports"] = [
                {"name": "http", "containerPort": port, "protocol": "TCP"},
                {"name": "metrics", "containerPort": 9102, "protocol": "TCP"},
            ]
            c["env"] = self.env(team, app, ns)
            c["envFrom"] = [{"configMapRef": {"name": f"{app}-config"}}]
        else:
            c["args"] = ["--log-format=json"]
        if not self.violate("missing-resource-limits", 0.8):
            cpu = r.choice([100, 250, 500, 1000])
            mem = r.choice([128, 256, 512, 1024, 2048])
            c["resources"] = {
                "requests": {"cpu": f"{cpu}m", "memory": f"{mem}Mi"},
                "limits": {"cpu": f"{cpu * 2}m", "memory": f"{mem}Mi"},
            }
        else:
            c["resources"] = {"requests": {"cpu": "100m", "memory": "128Mi"}}
        if main and not self.violate("missing-probes", 0.8):
            probe = {"httpGet": {"path": "/healthz", "port": "http"}, "periodSeconds": 10}
            c["readinessProbe"] = {**probe, "initialDelaySeconds": 5}
            c["livenessProbe"] = {**probe, "initialDelaySeconds": 15, "failureThreshold": 3}
        sc: dict[str, Any] = {
            "allowPrivilegeEscalation": False,
            "readOnlyRootFilesystem": True,
            "runAsNonRoot": True,
            "runAsUser": 10001,
            "capabilities": {"drop": ["ALL"]},
            "seccompProfile": {"type": "RuntimeDefault"},
        }
        if self.violate("privileged-container", 0.3):
            sc = {"privileged": True, "allowPrivilegeEscalation": True}
        c["securityContext"] = sc
        c["volumeMounts"] = [
            {"name": "config", "mountPath": f"/etc/{app}", "readOnly": True},
            {"name": "tmp", "mountPath": "/tmp"},
        ]
        return c

    def pod_spec(self, team: str, app: str, ns: str, restart: str | None) -> dict[str, Any]:
        """Pod spec with 1-3 containers, volumes, and the host-access violations."""
        r = self.rng
        spec: dict[str, Any] = {}
        if restart:
            spec["restartPolicy"] = restart
        spec["serviceAccountName"] = app
        spec["automountServiceAccountToken"] = False
        spec["securityContext"] = {"fsGroup": 10001, "runAsNonRoot": True}
        if self.violate("host-network", 0.25):
            spec["hostNetwork"] = True
            spec["dnsPolicy"] = "ClusterFirstWithHostNet"
        if self.chance(0.15):
            spec["initContainers"] = [self.container(team, app, ns, "migrate", main=False)]
        spec["containers"] = [self.container(team, app, ns, app, main=True)]
        if self.chance(0.15):
            spec["containers"].append(self.container(team, "log-shipper", ns, "sidecar", False))
        volumes: list[dict[str, Any]] = [
            {"name": "config", "configMap": {"name": f"{app}-config"}},
            {"name": "tmp", "emptyDir": {"sizeLimit": "256Mi"}},
        ]
        if self.violate("host-path-volume", 0.25):
            volumes.append(
                {"name": "host", "hostPath": {"path": r.choice(["/var/run", "/", "/var/log"])}}
            )
        spec["volumes"] = volumes
        if self.chance(0.2):
            spec["nodeSelector"] = {"kubernetes.io/os": "linux", "node-pool": team}
        if self.chance(0.2):
            spec["tolerations"] = [
                {"key": "dedicated", "operator": "Equal", "value": team, "effect": "NoSchedule"}
            ]
        if self.chance(0.1):
            spec["affinity"] = {
                "podAntiAffinity": {
                    "preferredDuringSchedulingIgnoredDuringExecution": [
                        {
                            "weight": 100,
                            "podAffinityTerm": {
                                "topologyKey": "kubernetes.io/hostname",
                                "labelSelector": {"matchLabels": {"app.kubernetes.io/name": app}},
                            },
                        }
                    ]
                }
            }
        return spec

    # -- objects ---------------------------------------------------------------------------------

    def workload(self, kind: str, team: str, app: str, ns: str) -> dict[str, Any]:
        """A workload of ``kind`` around the app's pod template."""
        lbl = self.labels(app, team)
        sel = {"app.kubernetes.io/name": app, "app.kubernetes.io/instance": f"{app}-prod"}
        restart = {"CronJob": "OnFailure", "Job": "Never", "Pod": "Always"}.get(kind)
        pod = self.pod_spec(team, app, ns, restart)
        tmpl: dict[str, Any] = {"metadata": {"labels": dict(sel)}, "spec": pod}
        if self.chance(0.5):
            tmpl["metadata"]["annotations"] = {
                "prometheus.io/scrape": "true",
                "prometheus.io/port": "9102",
            }
        api = "batch/v1" if kind in ("CronJob", "Job") else "v1" if kind == "Pod" else "apps/v1"
        obj: dict[str, Any] = {"apiVersion": api, "kind": kind, "metadata": self.meta(app, ns, lbl)}
        if kind == "Pod":
            obj["spec"] = pod
        elif kind == "Job":
            obj["spec"] = {"backoffLimit": 2, "ttlSecondsAfterFinished": 3600, "template": tmpl}
        elif kind == "CronJob":
            obj["spec"] = {
                "schedule": f"{self.rng.randint(0, 59)} {self.rng.randint(0, 23)} * * *",
                "concurrencyPolicy": "Forbid",
                "successfulJobsHistoryLimit": 3,
                "jobTemplate": {"spec": {"backoffLimit": 1, "template": tmpl}},
            }
        else:
            spec: dict[str, Any] = {"selector": {"matchLabels": sel}, "template": tmpl}
            if kind != "DaemonSet":
                spec = {"replicas": self.rng.choice([1, 2, 3, 5]), **spec}
            if kind == "StatefulSet":
                spec["serviceName"] = app
                spec["volumeClaimTemplates"] = [
                    {
                        "metadata": {"name": "data"},
                        "spec": {
                            "accessModes": ["ReadWriteOnce"],
                            "storageClassName": "local-path",
                            "resources": {"requests": {"storage": "10Gi"}},
                        },
                    }
                ]
            if kind == "Deployment" and self.chance(0.5):
                spec["strategy"] = {
                    "type": "RollingUpdate",
                    "rollingUpdate": {"maxSurge": 1, "maxUnavailable": 0},
                }
            obj["spec"] = spec
        return obj

    def service(self, team: str, app: str, ns: str) -> dict[str, Any]:
        """ClusterIP usually; sometimes LoadBalancer, ExternalName to a public host, or orphaned."""
        lbl = self.labels(app, team)
        obj: dict[str, Any] = {
            "apiVersion": "v1",
            "kind": "Service",
            "metadata": self.meta(app, ns, lbl),
        }
        if self.violate("service-externalname-public", 0.15):
            host = self.rng.choice(["api.openai.com", "api.anthropic.com", "s3.amazonaws.com"])
            obj["spec"] = {"type": "ExternalName", "externalName": host}
            return obj
        selector = {"app.kubernetes.io/name": app, "app.kubernetes.io/instance": f"{app}-prod"}
        if self.violate("service-selects-nothing", 0.2):
            selector = {"app.kubernetes.io/name": f"{app}-legacy"}
        spec: dict[str, Any] = {
            "type": "ClusterIP",
            "selector": selector,
            "ports": [
                {"name": "http", "port": 80, "targetPort": "http", "protocol": "TCP"},
                {"name": "metrics", "port": 9102, "targetPort": "metrics", "protocol": "TCP"},
            ],
        }
        if self.violate("service-loadbalancer", 0.2):
            spec["type"] = "LoadBalancer"
            spec["externalTrafficPolicy"] = "Local"
        obj["spec"] = spec
        return obj

    def configmap(self, team: str, app: str, ns: str, suffix: str) -> dict[str, Any]:
        """Config blobs of varied size; some carry public URLs (SaaS, model hubs)."""
        r = self.rng
        lines = [
            "server:",
            "  port: 8080",
            f"  name: {app}",
            "logging:",
            "  format: json",
            f"  level: {r.choice(['info', 'warn'])}",
            "upstreams:",
        ]
        for _ in range(r.randint(1, 8)):
            other = r.choice(APP_WORDS)
            lines.append(
                f"  {other}_{r.randint(1, 99)}: http://{other}.{ns}.{INTERNAL_DOMAIN}:8080"
            )
        if self.violate("configmap-external-url", 0.8):
            lines += [
                f"  external_{r.randint(1, 99)}: {r.choice(EXTERNAL_URLS)}"
                for _ in range(r.randint(1, 3))
            ]
        lines += ["features:"] + [
            f"  flag_{i}: {str(r.random() < 0.5).lower()}" for i in range(r.randint(2, 8))
        ]
        data = {
            "app.yaml": "\n".join(lines) + "\n",
            "TZ": "UTC",
            "FEATURE_SET": r.choice(["minimal", "standard", "full"]),
        }
        if self.chance(0.08):
            data["otel-collector.yaml"] = self.otel_config()
        lbl = self.labels(app, team, "config")
        return {
            "apiVersion": "v1",
            "kind": "ConfigMap",
            "metadata": self.meta(f"{app}-{suffix}", ns, lbl, annotations=False),
            "data": data,
        }

    def env_configmap(self, team: str, app: str, ns: str) -> dict[str, Any]:
        """A small key/value ConfigMap, the other common shape (``envFrom`` material)."""
        r = self.rng
        data = {
            f"{w.upper()}_ENABLED": str(r.random() < 0.5).lower() for w in r.sample(APP_WORDS, 6)
        }
        data["CACHE_TTL_SECONDS"] = str(r.choice([30, 60, 300]))
        if self.violate("configmap-external-url", 0.3):
            data["WEBHOOK_URL"] = r.choice(EXTERNAL_URLS)
        return {
            "apiVersion": "v1",
            "kind": "ConfigMap",
            "metadata": self.meta(f"{app}-env", ns, self.labels(app, team, "config"), False),
            "data": data,
        }

    def otel_config(self) -> str:
        """An OpenTelemetry collector config, exporting in-cluster or (violation) to SaaS."""
        endpoint = f"otel-gateway.observability.{INTERNAL_DOMAIN}:4317"
        if self.violate("otel-exporter-saas", 0.5):
            endpoint = self.rng.choice(SAAS_OTLP)
        return (
            "receivers:\n  otlp:\n    protocols:\n      grpc: {}\n      http: {}\n"
            "processors:\n  batch: {}\n  memory_limiter:\n    limit_mib: 400\n"
            f"exporters:\n  otlp:\n    endpoint: {endpoint}\n    tls:\n      insecure: false\n"
            "service:\n  pipelines:\n    traces:\n      receivers: [otlp]\n"
            "      processors: [memory_limiter, batch]\n      exporters: [otlp]\n"
        )

    def secret(self, team: str, app: str, ns: str) -> dict[str, Any]:
        """Opaque secret with base64 payloads (random bytes: nothing real)."""
        import base64

        data = {
            k: base64.b64encode(self.rng.randbytes(self.rng.randint(12, 48))).decode()
            for k in ("url", "username", "password", "token")[: self.rng.randint(2, 4)]
        }
        return {
            "apiVersion": "v1",
            "kind": "Secret",
            "metadata": self.meta(f"{app}-db", ns, self.labels(app, team, "secret"), False),
            "type": "Opaque",
            "data": data,
        }

    def netpol(self, team: str, app: str, ns: str) -> dict[str, Any]:
        """Per-app allow rules; a few open egress to the whole internet."""
        sel = {"matchLabels": {"app.kubernetes.io/name": app}}
        egress: list[dict[str, Any]] = [
            {
                "to": [{"namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": ns}}}],
                "ports": [{"protocol": "TCP", "port": 8080}],
            },
            {
                "to": [
                    {
                        "namespaceSelector": {},
                        "podSelector": {"matchLabels": {"k8s-app": "kube-dns"}},
                    }
                ],
                "ports": [{"protocol": "UDP", "port": 53}, {"protocol": "TCP", "port": 53}],
            },
        ]
        if self.violate("netpol-egress-any", 0.5):
            egress.append({"to": [{"ipBlock": {"cidr": "0.0.0.0/0"}}]})
        return {
            "apiVersion": "networking.k8s.io/v1",
            "kind": "NetworkPolicy",
            "metadata": self.meta(f"{app}-allow", ns, self.labels(app, team, "network"), False),
            "spec": {
                "podSelector": sel,
                "policyTypes": ["Ingress", "Egress"],
                "ingress": [
                    {
                        "from": [
                            {
                                "namespaceSelector": {
                                    "matchLabels": {"kubernetes.io/metadata.name": "ingress"}
                                }
                            }
                        ],
                        "ports": [{"protocol": "TCP", "port": 8080}],
                    }
                ],
                "egress": egress,
            },
        }

    def ingress(self, team: str, app: str, ns: str) -> dict[str, Any]:
        """Ingress on the internal domain with a cert-manager issuer annotation."""
        host = f"{app}.{team}.apps.{CORP_DOMAIN}"
        meta = self.meta(app, ns, self.labels(app, team, "ingress"), False)
        meta["annotations"] = {"cert-manager.io/cluster-issuer": "internal-ca"}
        return {
            "apiVersion": "networking.k8s.io/v1",
            "kind": "Ingress",
            "metadata": meta,
            "spec": {
                "ingressClassName": "traefik",
                "tls": [{"hosts": [host], "secretName": f"{app}-tls"}],
                "rules": [
                    {
                        "host": host,
                        "http": {
                            "paths": [
                                {
                                    "path": "/",
                                    "pathType": "Prefix",
                                    "backend": {"service": {"name": app, "port": {"name": "http"}}},
                                }
                            ]
                        },
                    }
                ],
            },
        }

    def small(self, kind: str, team: str, app: str, ns: str) -> dict[str, Any]:
        """ServiceAccount, Role, RoleBinding, PodDisruptionBudget or HorizontalPodAutoscaler."""
        lbl = self.labels(app, team)
        if kind == "Role":
            return {
                "apiVersion": "rbac.authorization.k8s.io/v1",
                "kind": "Role",
                "metadata": self.meta(app, ns, lbl, False),
                "rules": [
                    {
                        "apiGroups": [""],
                        "resources": ["configmaps", "secrets"],
                        "verbs": ["get", "list", "watch"],
                    }
                ],
            }
        if kind == "RoleBinding":
            return {
                "apiVersion": "rbac.authorization.k8s.io/v1",
                "kind": "RoleBinding",
                "metadata": self.meta(app, ns, lbl, False),
                "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": app},
                "subjects": [{"kind": "ServiceAccount", "name": app, "namespace": ns}],
            }
        if kind == "ServiceAccount":
            return {
                "apiVersion": "v1",
                "kind": "ServiceAccount",
                "metadata": self.meta(app, ns, lbl, False),
                "automountServiceAccountToken": False,
            }
        if kind == "PodDisruptionBudget":
            return {
                "apiVersion": "policy/v1",
                "kind": "PodDisruptionBudget",
                "metadata": self.meta(app, ns, lbl, False),
                "spec": {
                    "minAvailable": 1,
                    "selector": {"matchLabels": {"app.kubernetes.io/name": app}},
                },
            }
        return {
            "apiVersion": "autoscaling/v2",
            "kind": "HorizontalPodAutoscaler",
            "metadata": self.meta(app, ns, lbl, False),
            "spec": {
                "scaleTargetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": app},
                "minReplicas": 2,
                "maxReplicas": self.rng.randint(4, 20),
                "metrics": [
                    {
                        "type": "Resource",
                        "resource": {
                            "name": "cpu",
                            "target": {"type": "Utilization", "averageUtilization": 70},
                        },
                    }
                ],
            },
        }

    def certificate(self, team: str, app: str, ns: str) -> dict[str, Any]:
        """cert-manager Certificate; the issuer decides whether it is an air-gap problem."""
        issuer = "internal-ca"
        if self.violate("certificate-acme-issuer", 0.3):
            issuer = "letsencrypt-prod"
        return {
            "apiVersion": "cert-manager.io/v1",
            "kind": "Certificate",
            "metadata": self.meta(f"{app}-tls", ns, self.labels(app, team, "tls"), False),
            "spec": {
                "secretName": f"{app}-tls",
                "duration": "2160h",
                "renewBefore": "360h",
                "dnsNames": [f"{app}.{team}.apps.{CORP_DOMAIN}", f"{app}.{ns}.{INTERNAL_DOMAIN}"],
                "issuerRef": {"name": issuer, "kind": "ClusterIssuer", "group": "cert-manager.io"},
            },
        }

    def ingressroute(self, team: str, app: str, ns: str) -> dict[str, Any]:
        """Traefik IngressRoute to the app's Service."""
        return {
            "apiVersion": "traefik.io/v1alpha1",
            "kind": "IngressRoute",
            "metadata": self.meta(app, ns, self.labels(app, team, "route"), False),
            "spec": {
                "entryPoints": ["websecure"],
                "routes": [
                    {
                        "match": f"Host(`{app}.{team}.apps.{CORP_DOMAIN}`) && PathPrefix(`/api`)",
                        "kind": "Rule",
                        "services": [{"name": app, "port": 80}],
                        "middlewares": [{"name": "rate-limit", "namespace": "ingress"}],
                    }
                ],
                "tls": {"secretName": f"{app}-tls"},
            },
        }

    def kongplugin(self, team: str, app: str, ns: str) -> dict[str, Any]:
        """Kong plugin: rate limiting usually, ``ai-proxy`` to a cloud LLM as the violation."""
        meta = self.meta(f"{app}-plugin", ns, self.labels(app, team, "plugin"), False)
        if self.violate("kong-ai-proxy-cloud", 0.5):
            return {
                "apiVersion": "configuration.konghq.com/v1",
                "kind": "KongPlugin",
                "metadata": meta,
                "plugin": "ai-proxy",
                "config": {
                    "route_type": "llm/v1/chat",
                    "auth": {"header_name": "Authorization", "header_value": "Bearer $OPENAI_KEY"},
                    "model": {
                        "provider": "openai",
                        "name": "gpt-4o",
                        "options": {"upstream_url": "https://api.openai.com/v1/chat/completions"},
                    },
                },
            }
        return {
            "apiVersion": "configuration.konghq.com/v1",
            "kind": "KongPlugin",
            "metadata": meta,
            "plugin": "rate-limiting",
            "config": {"minute": self.rng.choice([60, 120, 600]), "policy": "local"},
        }

    # -- platform (cluster-level) ----------------------------------------------------------------

    def namespace(self, ns: str) -> dict[str, Any]:
        """Namespace with Pod Security labels."""
        return {
            "apiVersion": "v1",
            "kind": "Namespace",
            "metadata": {
                "name": ns,
                "labels": {
                    "kubernetes.io/metadata.name": ns,
                    "pod-security.kubernetes.io/enforce": "restricted",
                },
            },
        }

    def default_deny(self, ns: str) -> dict[str, Any]:
        """The default-deny NetworkPolicy every namespace should carry."""
        return {
            "apiVersion": "networking.k8s.io/v1",
            "kind": "NetworkPolicy",
            "metadata": {"name": "default-deny-all", "namespace": ns},
            "spec": {"podSelector": {}, "policyTypes": ["Ingress", "Egress"]},
        }

    def cluster_issuers(self) -> list[dict[str, Any]]:
        """An internal CA issuer and (violation) an ACME issuer pointing at Let's Encrypt."""
        self.stats.violations["clusterissuer-acme-public"] += 1
        return [
            {
                "apiVersion": "cert-manager.io/v1",
                "kind": "ClusterIssuer",
                "metadata": {"name": "internal-ca"},
                "spec": {"ca": {"secretName": "internal-ca-keypair"}},
            },
            {
                "apiVersion": "cert-manager.io/v1",
                "kind": "ClusterIssuer",
                "metadata": {"name": "letsencrypt-prod"},
                "spec": {
                    "acme": {
                        "server": "https://acme-v02.api.letsencrypt.org/directory",
                        "email": f"platform@{CORP_DOMAIN}",
                        "privateKeySecretRef": {"name": "letsencrypt-prod-account"},
                        "solvers": [{"http01": {"ingress": {"ingressClassName": "traefik"}}}],
                    }
                },
            },
        ]

    def ai_services(self) -> list[dict[str, Any]]:
        """Traefik Hub AIService objects: one on a local model server, one on OpenAI (violation)."""
        self.stats.violations["traefik-aiservice-cloud"] += 1
        return [
            {
                "apiVersion": "hub.traefik.io/v1alpha1",
                "kind": "AIService",
                "metadata": {"name": "local-llm", "namespace": "ai-gateway"},
                "spec": {
                    "ollama": {
                        "baseUrl": f"http://ollama.ai-gateway.{INTERNAL_DOMAIN}:11434",
                        "model": "llama3.1:8b",
                    }
                },
            },
            {
                "apiVersion": "hub.traefik.io/v1alpha1",
                "kind": "AIService",
                "metadata": {"name": "openai-fallback", "namespace": "ai-gateway"},
                "spec": {
                    "openai": {
                        "token": {"secretName": "openai-token"},
                        "model": "gpt-4o",
                        "params": {"temperature": 0.2},
                    }
                },
            },
        ]

    def helm_values(self, team: str, chart: str) -> dict[str, Any]:
        """A chart's values.yaml: image, ingress, resources, telemetry and LLM settings."""
        r = self.rng
        image_repo = f"{INTERNAL_REGISTRY}/{team}/{chart}"
        tag = self.version()
        if self.violate("helm-values-public-image", 2.0):
            image_repo, _, tag = r.choice(PUBLIC_IMAGES).partition(":")
        values: dict[str, Any] = {
            "replicaCount": r.choice([1, 2, 3]),
            "image": {"repository": image_repo, "tag": tag, "pullPolicy": "IfNotPresent"},
            "imagePullSecrets": [{"name": "internal-registry"}],
            "serviceAccount": {"create": True, "name": chart},
            "podSecurityContext": {"fsGroup": 10001, "runAsNonRoot": True},
            "securityContext": {"readOnlyRootFilesystem": True, "allowPrivilegeEscalation": False},
            "service": {"type": "ClusterIP", "port": 80},
            "ingress": {
                "enabled": r.random() < 0.5,
                "className": "traefik",
                "hosts": [{"host": f"{chart}.apps.{CORP_DOMAIN}", "paths": [{"path": "/"}]}],
            },
            "resources": {
                "limits": {"cpu": "1", "memory": "1Gi"},
                "requests": {"cpu": "200m", "memory": "512Mi"},
            },
            "telemetry": {"enabled": self.violate("helm-values-telemetry-on", 2.0)},
            "analytics": {"enabled": False},
            "otel": {"endpoint": f"http://otel-collector.observability.{INTERNAL_DOMAIN}:4317"},
            "llm": {
                "baseUrl": f"http://vllm.ai.{INTERNAL_DOMAIN}:8000/v1",
                "model": "mistral-7b-instruct",
            },
            "nodeSelector": {},
            "tolerations": [],
        }
        if self.violate("helm-values-llm-cloud-fallback", 2.0):
            values["llm"]["fallback"] = {"provider": "openai", "url": "https://api.openai.com/v1"}
            values["llm"]["requireApproval"] = False
        values["extraEnv"] = [
            {"name": f"FEATURE_{i}", "value": str(r.random() < 0.5).lower()}
            for i in range(r.randint(5, 40))
        ]
        return values

    def gitlab_ci(self) -> dict[str, Any]:
        """A monorepo pipeline: internal images mostly, one curl-pipe-shell and a Helm repo add."""
        self.stats.violations["gitlab-ci-internet-fetch"] += 2
        base = f"{INTERNAL_REGISTRY}/ci/python:3.12@sha256:{self.digest()}"
        return {
            "stages": ["lint", "test", "build", "deploy"],
            "default": {"image": base, "tags": ["airgap"]},
            "variables": {"PIP_INDEX_URL": f"https://pkg-mirror.{CORP_DOMAIN}/simple"},
            "lint": {"stage": "lint", "script": ["airgap lint deploy/ --fail-on high"]},
            "unit": {"stage": "test", "script": ["pip install -e .[test]", "pytest -q"]},
            "bootstrap": {
                "stage": "build",
                "image": "python:3.12",
                "script": [
                    "curl -sSL https://install.python-poetry.org | python3 -",
                    "wget -qO- https://get.helm.sh/helm-v3.16.2-linux-amd64.tar.gz | tar xz",
                ],
            },
            "deploy": {
                "stage": "deploy",
                "script": [
                    "helm repo add grafana https://grafana.github.io/helm-charts",
                    "helm upgrade --install app charts/app -f charts/app/values.yaml",
                ],
                "rules": [{"if": "$CI_COMMIT_BRANCH == $CI_DEFAULT_BRANCH"}],
            },
        }

    # -- assembly --------------------------------------------------------------------------------

    def app_objects(self, team: str, app: str, ns: str, budget: int) -> list[dict[str, Any]]:
        """One app's bundle, trimmed to ``budget`` objects."""
        r = self.rng
        kinds = list(WORKLOAD_WEIGHTS)
        kind = r.choices(kinds, weights=[WORKLOAD_WEIGHTS[k] for k in kinds])[0]
        objs = [self.workload(kind, team, app, ns)]
        if kind not in ("CronJob", "Job"):
            objs.append(self.service(team, app, ns))
        objs.append(self.configmap(team, app, ns, "config"))
        if self.chance(0.3):
            objs.append(self.env_configmap(team, app, ns))
        if self.chance(0.6):
            objs.append(self.secret(team, app, ns))
        if self.chance(0.5):
            objs.append(self.netpol(team, app, ns))
        if self.chance(0.6):
            objs.append(self.small("ServiceAccount", team, app, ns))
            if self.chance(0.6):
                objs.append(self.small("Role", team, app, ns))
                objs.append(self.small("RoleBinding", team, app, ns))
        if kind == "Deployment" and self.chance(0.3):
            objs.append(
                self.small(
                    r.choice(["PodDisruptionBudget", "HorizontalPodAutoscaler"]), team, app, ns
                )
            )
        if kind in ("Deployment", "StatefulSet") and self.chance(0.25):
            objs.append(self.ingress(team, app, ns))
            if self.chance(0.6):
                objs.append(self.certificate(team, app, ns))
        if self.chance(0.1):
            objs.append(self.ingressroute(team, app, ns))
        if self.chance(0.08):
            objs.append(self.kongplugin(team, app, ns))
        return objs[:budget]


def _write(path: Path, text: str, stats: Stats) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    stats.files += 1
    stats.bytes += len(text.encode())


def _count(docs: list[dict[str, Any]], stats: Stats) -> None:
    stats.k8s_documents += len(docs)
    stats.kinds.update(d["kind"] for d in docs)


def generate(out: Path, count: int, seed: int, violation_rate: float = 0.06) -> Stats:
    """Write ``count`` Kubernetes objects (plus Helm values and a CI file) under ``out``.

    The directory is emptied first. The result depends only on (count, seed, violation_rate) and
    ``GENERATOR_VERSION``.
    """
    if count < 50:
        raise ValueError("--count must be at least 50 (platform objects alone take a few)")
    if out.exists():
        shutil.rmtree(out)
    out.mkdir(parents=True)
    g = Generator(seed, violation_rate)
    st = g.stats
    r = g.rng

    n_ns = max(4, min(40, count // 400))
    namespaces = [f"{TEAMS[i % len(TEAMS)]}-{i // len(TEAMS) + 1:02d}" for i in range(n_ns)]
    platform_ns = ["ingress", "observability", "ai-gateway"]
    all_ns = namespaces + platform_ns
    ns_docs = [g.namespace(ns) for ns in all_ns]
    _write(out / "platform" / "namespaces.yaml", dump(ns_docs), st)
    _count(ns_docs, st)
    # Every sixth team namespace lacks its default-deny policy (cross-resource rule).
    for i, ns in enumerate(all_ns):
        if i % 6 == 5:
            st.namespaces_without_default_deny.append(ns)
            st.violations["namespace-without-default-deny"] += 1
            continue
        doc = [g.default_deny(ns)]
        _write(out / "platform" / "network" / f"{ns}-default-deny.yaml", dump(doc), st)
        _count(doc, st)
    issuers = g.cluster_issuers()
    _write(out / "platform" / "cert-manager" / "cluster-issuers.yaml", dump(issuers), st)
    _count(issuers, st)
    ai = g.ai_services()
    _write(out / "platform" / "gateway" / "aiservices.yaml", dump(ai), st)
    _count(ai, st)

    app_seq = 0
    while st.k8s_documents < count:
        ns = namespaces[app_seq % n_ns]
        team = ns.rsplit("-", 1)[0]
        app = f"{r.choice(APP_WORDS)}-{app_seq:05d}"
        app_seq += 1
        objs = g.app_objects(team, app, ns, count - st.k8s_documents)
        base = out / "apps" / ns / app
        if g.chance(0.5):
            _write(base / "manifest.yaml", dump(objs), st)
        else:
            for obj in objs:
                name = obj["metadata"]["name"]
                _write(base / f"{obj['kind'].lower()}-{name}.yaml", dump([obj]), st)
        _count(objs, st)

    for i in range(max(1, count // 250)):
        team = TEAMS[i % len(TEAMS)]
        chart = f"{r.choice(APP_WORDS)}-chart-{i:03d}"
        _write(out / "charts" / chart / "values.yaml", dump([g.helm_values(team, chart)]), st)
        st.helm_values_files += 1
    _write(out / ".gitlab-ci.yml", dump([g.gitlab_ci()]), st)
    st.gitlab_ci_files += 1

    meta: dict[str, Any] = {"generator_version": GENERATOR_VERSION, "count": count, "seed": seed}
    meta["violation_rate"] = violation_rate
    meta.update(st.to_dict())
    (out.parent / f"{out.name}.MANIFEST.json").write_text(json.dumps(meta, indent=2) + "\n")
    return st


def main(argv: list[str] | None = None) -> int:
    """CLI entry point."""
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--count", type=int, default=10_000, help="Kubernetes objects (default 10000)")
    p.add_argument("--seed", type=int, default=42, help="random seed (default 42)")
    p.add_argument("--out", type=Path, required=True, help="output directory (emptied first)")
    p.add_argument(
        "--violation-rate",
        type=float,
        default=0.06,
        help="base probability of each injected violation (default 0.06)",
    )
    args = p.parse_args(argv)
    try:
        st = generate(args.out, args.count, args.seed, args.violation_rate)
    except ValueError as exc:
        print(f"gen_manifests: {exc}", file=sys.stderr)
        return 2
    print(
        f"wrote {st.k8s_documents} Kubernetes objects + {st.helm_values_files} values files + "
        f"{st.gitlab_ci_files} CI file in {st.files} files, {st.bytes / 1e6:.2f} MB -> {args.out}"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
