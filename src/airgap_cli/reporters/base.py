"""The reporter interface and the registry that maps ``--format`` names to reporters."""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass
from typing import ClassVar

from airgap_cli.core.findings import Report


@dataclass(frozen=True, slots=True)
class RenderOptions:
    """What a reporter may need beyond the report itself."""

    fail_on: str = "high"
    """Threshold for formats that mark pass/fail (JUnit failures); SARIF keeps severities."""
    tool_uri: str = "https://example.invalid/airgap"
    """``informationUri`` for SARIF; overridable so nothing external is implied."""


class Reporter(ABC):
    """Render a :class:`Report` as one output format. Pure: returns text, never prints."""

    name: ClassVar[str]
    """The ``--format`` value."""
    media_type: ClassVar[str] = "text/plain"
    always_emit: ClassVar[bool] = True
    """Machine formats are written even when clean, so CI artifacts always exist."""

    @abstractmethod
    def render(self, report: Report, options: RenderOptions) -> str:
        """The whole output document."""


REGISTRY: dict[str, type[Reporter]] = {}


def register(cls: type[Reporter]) -> type[Reporter]:
    """Class decorator adding a reporter to :data:`REGISTRY` under its ``name``."""
    if cls.name in REGISTRY:
        raise ValueError(f"reporter {cls.name!r} registered twice")
    REGISTRY[cls.name] = cls
    return cls


def get_reporter(name: str) -> Reporter:
    """The reporter for a ``--format`` name; ``KeyError`` lists the choices."""
    _load_builtin()
    try:
        return REGISTRY[name]()
    except KeyError:
        raise KeyError(f"unknown format {name!r}; choose from {', '.join(formats())}") from None


def formats() -> list[str]:
    """Every registered format name, in a stable order."""
    _load_builtin()
    return sorted(REGISTRY)


def _load_builtin() -> None:
    # Importing the package modules registers them; done lazily to keep start-up light.
    from airgap_cli import reporters  # noqa: F401
