"""Scenario input errors that name the file, line and field."""

from __future__ import annotations

from pathlib import Path

from evcommon.errors import ConfigError


class ScenarioError(ConfigError):
    """Bad scenario or sessions input; raised before anything starts.

    ``str(err)`` reads ``FILE:LINE: field 'NAME': MESSAGE``.
    """

    def __init__(self, path: str | Path, line: int | None, field: str | None, message: str):
        self.path = str(path)
        self.line = line
        self.field = field
        self.message = message
        where = self.path + (f":{line}" if line else "")
        what = f"field {field!r}: " if field else ""
        super().__init__(f"{what}{message}", source=where, keys=[field] if field else [])
