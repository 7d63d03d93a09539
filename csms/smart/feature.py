"""Feature entry point (see csms/features.py)."""

from __future__ import annotations

from contextlib import AbstractAsyncContextManager

from csms.features import FeatureContext
from csms.ports import CsmsEventSink


def factory(ctx: FeatureContext) -> AbstractAsyncContextManager[CsmsEventSink] | None:
    return None
