"""airgap: prove a deployment can live without the internet.

The pillars (lint, egress, bundle, openapi) each have a pure core that returns a
:class:`Report` of :class:`Finding` objects; the CLI in :mod:`airgap_cli.cli` only
renders reports and chooses exit codes.
"""

from airgap_cli.core.errors import AirgapError
from airgap_cli.core.findings import Finding, Location, Report, Severity

__version__ = "0.1.0"

__all__ = ["AirgapError", "Finding", "Location", "Report", "Severity", "__version__"]
