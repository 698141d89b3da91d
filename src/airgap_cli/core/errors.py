"""One error hierarchy. The core raises; only the CLI prints and exits (code 2)."""

from __future__ import annotations

from pathlib import Path


class AirgapError(Exception):
    """A problem the user can fix: bad input, bad config, bad usage.

    ``diagnostics()`` is the one line the CLI prints: ``file:line: problem``.
    """

    def __init__(
        self,
        message: str,
        *,
        path: str | Path | None = None,
        line: int | None = None,
        hint: str | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.path = str(path) if path is not None else None
        self.line = line
        self.hint = hint

    def where(self) -> str:
        """``file:line`` (or just ``file``) of the problem, empty when unknown."""
        if self.path is None:
            return ""
        return f"{self.path}:{self.line}" if self.line else self.path

    def diagnostics(self) -> str:
        """One line naming the file, the line and the problem."""
        where = self.where()
        text = f"{where}: {self.message}" if where else self.message
        return f"{text} ({self.hint})" if self.hint else text


class ConfigError(AirgapError):
    """``airgap.yaml`` is missing, unreadable or does not match its schema."""


class InputError(AirgapError):
    """An input file cannot be read or parsed within the safety limits."""


class RuleError(AirgapError):
    """A rule file is malformed, duplicated, or a rule set is empty (fail closed)."""


class OutputError(AirgapError):
    """A report cannot be written where it was asked to go."""


class UsageError(AirgapError):
    """The command line asks for something impossible."""
