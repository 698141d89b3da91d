"""Reporters: one small class per output format, looked up by name."""

from airgap_cli.reporters import (
    codequality,
    html,
    json_report,
    junit,
    markdown,
    sarif,
    text,
)
from airgap_cli.reporters.base import REGISTRY, RenderOptions, Reporter, formats, get_reporter

__all__ = [
    "REGISTRY",
    "RenderOptions",
    "Reporter",
    "codequality",
    "formats",
    "get_reporter",
    "html",
    "json_report",
    "junit",
    "markdown",
    "sarif",
    "text",
]
