"""The ``[optimizer]`` section of the site config."""

from __future__ import annotations

from evcommon.config import Section


class OptimizerSection(Section):
    strategy: str = "max"  # planner name; "max" = every connected vehicle at its maximum
