"""CSMS fixtures for every test area: ``make_csms`` (factory) and ``csms_app``.

``app = await make_csms(database_url=..., security={"allow_unknown_stations": False})``
runs a CsmsApp on port 0 (metrics on a free port) with a temporary SQLite DB unless
``database_url`` is given; every app is closed at teardown. Extra keyword arguments
are config sections merged over the defaults.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import AsyncExitStack
from pathlib import Path
from typing import Any

import pytest

from csms.app import CsmsApp
from csms.config import CsmsSettings
from evcommon.clock import Clock

MakeCsms = Callable[..., Awaitable[CsmsApp]]


def csms_settings(database_url: str, **sections: Any) -> CsmsSettings:
    data: dict[str, Any] = {
        "server": {"host": "127.0.0.1", "port": 0, "metrics_port": 0, "call_timeout_s": 5},
        "http": {"host": "127.0.0.1", "port": 0},
        "database": {"url": database_url},
        "security": {"allow_unknown_stations": True, "accept_all_id_tags": False},
        "logging": {"level": "warning", "format": "console"},
    }
    for key, value in sections.items():
        if isinstance(value, dict) and isinstance(data.get(key), dict):
            data[key] = {**data[key], **value}
        else:
            data[key] = value
    return CsmsSettings.model_validate(data)


@pytest.fixture
async def make_csms(tmp_path: Path) -> AsyncIterator[MakeCsms]:
    async with AsyncExitStack() as stack:
        count = 0

        async def factory(
            database_url: str | None = None, clock: Clock | None = None, **sections: Any
        ) -> CsmsApp:
            nonlocal count
            count += 1
            url = database_url or f"sqlite:///{tmp_path / f'csms{count}.db'}"
            return await stack.enter_async_context(
                CsmsApp(csms_settings(url, **sections), clock=clock)
            )

        yield factory


@pytest.fixture
async def csms_app(make_csms: MakeCsms) -> CsmsApp:
    """A running CSMS on SQLite, unknown stations allowed."""
    return await make_csms()
