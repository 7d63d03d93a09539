"""The ``[siting]`` section of the site config."""

from __future__ import annotations

from evcommon.config import Section


class SitingSection(Section):
    enabled: bool = False
