"""Manifest linter: Kubernetes, Helm values, gateway CRDs, Kustomize, GitLab CI.

Usage without the CLI::

    from airgap_cli.core.config import load_config
    from airgap_cli.lint import lint_paths
    report = lint_paths(["k8s/"], load_config())
"""

from airgap_cli.lint.engine import LintEngine, lint_paths

__all__ = ["LintEngine", "lint_paths"]
