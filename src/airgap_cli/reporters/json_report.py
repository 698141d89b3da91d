"""``--format json``: the versioned report document (schema in ``docs/schemas/``)."""

from __future__ import annotations

import json

from airgap_cli.core.findings import Report
from airgap_cli.reporters.base import RenderOptions, Reporter, register


@register
class JsonReporter(Reporter):
    """The complete report, stable key order, for machines and ``airgap report``."""

    name = "json"
    media_type = "application/json"

    def render(self, report: Report, options: RenderOptions) -> str:
        return json.dumps(report.to_dict(), indent=2, ensure_ascii=False) + "\n"
