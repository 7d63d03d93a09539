"""The ``[smart_charging]`` section of the CSMS config."""

from __future__ import annotations

from evcommon.config import Section


class SmartChargingSection(Section):
    enabled: bool = True
