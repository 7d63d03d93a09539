"""The CSMS's MQTT will: killed without a goodbye, the broker marks it offline."""

from __future__ import annotations

import asyncio
import os
import signal
import sys
from pathlib import Path

import pytest

from tests.plugins.infra import Broker, free_port
from tests.plugins.smart import contract_probe

pytestmark = pytest.mark.mqtt


async def test_killed_csms_is_marked_offline_by_its_will(
    mqtt_broker: Broker, tmp_path: Path
) -> None:
    config = tmp_path / "csms.toml"
    config.write_text(
        f'[server]\nhost = "127.0.0.1"\nport = {free_port()}\nmetrics_port = -1\n'
        f'[database]\nurl = "sqlite:///{tmp_path}/csms.db"\n'
        f'[mqtt]\nenabled = true\nhost = "{mqtt_broker.host}"\nport = {mqtt_broker.port}\n'
        "keepalive_s = 5\n"
    )
    csms = Path(sys.executable).parent / "csms"
    async with contract_probe(mqtt_broker) as probe:
        proc = await asyncio.create_subprocess_exec(
            str(csms),
            "serve",
            "--config",
            str(config),
            stdout=asyncio.subprocess.DEVNULL,
            stderr=asyncio.subprocess.DEVNULL,
            env={**os.environ, "CSMS_LOGGING__LEVEL": "warning"},
        )
        try:
            await probe.wait_for(
                lambda t, d: t == probe.topics.csms_state and d["online"], timeout_s=30
            )
            mark = len(probe.messages)
            proc.send_signal(signal.SIGKILL)
            await probe.wait_for(
                lambda t, d: t == probe.topics.csms_state and d["online"] is False,
                after=mark,
                timeout_s=10,
            )
        finally:
            if proc.returncode is None:
                proc.kill()
            await proc.wait()
