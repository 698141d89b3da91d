"""Reporters: one small class per output format, looked up by name."""

from airgap_cli.reporters import json_report
from airgap_cli.reporters.base import REGISTRY, RenderOptions, Reporter, formats, get_reporter

__all__ = ["REGISTRY", "RenderOptions", "Reporter", "formats", "get_reporter", "json_report"]
