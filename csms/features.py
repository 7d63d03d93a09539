"""Optional CSMS features (smart charging, MQTT bridge, driver requests) plug into the core here.

Each module in :data:`FEATURE_MODULES` defines ``factory(ctx) -> AbstractAsyncContextManager
[CsmsEventSink] | None``. The core enters every returned context for the life of
the server and forwards every event to the sinks. ``None`` means "not enabled
by the configuration".
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass
from typing import Any

from csms.audit import AuditLog
from csms.ports import CsmsEventSink, StationDirectory
from evcommon.clock import Clock

# in this order: the bridge finds smart charging, driver requests find the bridge
FEATURE_MODULES = ("csms.smart.feature", "csms.bridge.feature", "csms.requests.feature")


@dataclass
class FeatureContext:
    settings: Any  # csms.config.CsmsSettings
    directory: StationDirectory
    database: Any  # csms.db.database.Database
    clock: Clock
    registry: dict[str, object]  # features find each other by name here (e.g. "smart")
    audit: AuditLog | None = None  # who asked for what (csms.audit)


FeatureFactory = Callable[[FeatureContext], AbstractAsyncContextManager[CsmsEventSink] | None]


def feature_factories() -> list[FeatureFactory]:
    return [importlib.import_module(name).factory for name in FEATURE_MODULES]
