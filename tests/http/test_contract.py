"""Driver requests on the MQTT contract, through a real mosquitto: each accepted change is
published retained as EVChargingNeeds(source="driver"), cleared at transaction end and
re-published at CSMS start; the edge's retained SitePlan shows in GET."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import timedelta
from pathlib import Path
from typing import Any

import aiomqtt
import httpx
import pytest

import tests.http.helpers as helpers
from evcommon import contract
from evcommon.clock import ManualClock
from tests.csms.client import booted
from tests.http.helpers import T0, start_16, stop_16
from tests.plugins.smart import run_csms

pytestmark = pytest.mark.mqtt
TOPICS = contract.Topics()
ALL_REQUESTS = "evsite/v1/stations/+/connectors/+/driver_request"


class Watcher:
    """A plain MQTT client that queues (topic, payload) of the driver-request topics."""

    def __init__(self, client: aiomqtt.Client):
        self.client = client
        self.queue: asyncio.Queue[tuple[str, bytes]] = asyncio.Queue()

    async def next(self, timeout_s: float = 5.0) -> tuple[str, bytes]:
        return await asyncio.wait_for(self.queue.get(), timeout_s)


@asynccontextmanager
async def watching(broker: Any) -> AsyncIterator[Watcher]:
    async with aiomqtt.Client(broker.host, broker.port, identifier="watcher") as client:
        watcher = Watcher(client)
        await client.subscribe(ALL_REQUESTS, qos=1)

        async def pump() -> None:
            async for m in client.messages:
                watcher.queue.put_nowait((m.topic.value, bytes(m.payload)))  # type: ignore[arg-type]

        task = asyncio.create_task(pump())
        try:
            yield watcher
        finally:
            task.cancel()


def _csms(broker: Any, db: str, clock: ManualClock) -> Any:
    return run_csms(broker, db, clock, drivers={"notifier": "test-capture"})


async def test_requests_published_cleared_republished(mqtt_broker: Any, tmp_path: Path) -> None:
    db = f"sqlite:///{tmp_path / 'csms.db'}"
    clock = ManualClock(T0)
    departure = (T0 + timedelta(hours=4)).isoformat()
    async with watching(mqtt_broker) as watcher, _csms(mqtt_broker, db, clock) as app:
        notifier = helpers.CaptureNotifier.instances[-1]
        st = await booted(app.url, "P1")
        tx1 = await start_16(st, connector_id=1)
        token1 = (await notifier.next_notice()).token
        tx2 = await start_16(st, connector_id=2)
        token2 = (await notifier.next_notice()).token
        async with httpx.AsyncClient(base_url=app.http_url) as http:
            api = "/api/v1/driver/sessions"
            body = {"departure_at": departure, "distance_miles": 50}
            assert (await http.put(f"{api}/{token1}/request", json=body)).status_code == 200
            topic, payload = await watcher.next()
            assert topic == TOPICS.driver_request("P1", 1)
            needs = contract.decode(contract.EVChargingNeeds, payload)
            assert needs.source == "driver" and needs.transaction_id == str(tx1)
            assert needs.energy_amount_kwh == 15.0 and needs.departure_time == T0 + timedelta(
                hours=4
            )
            assert not needs.opt_out and not needs.withdrawn

            assert (await http.put(f"{api}/{token1}/request", json={"opt_out": True})).is_success
            needs = contract.decode(contract.EVChargingNeeds, (await watcher.next())[1])
            assert needs.opt_out and needs.energy_amount_kwh is None
            assert (await http.delete(f"{api}/{token1}/request")).is_success
            needs = contract.decode(contract.EVChargingNeeds, (await watcher.next())[1])
            assert needs.withdrawn

            # the edge's plan shows in GET
            service: Any = app.registry["requests"]
            entry = contract.PlanEntry(
                station_id="P1",
                connector_id=2,
                transaction_id=str(tx2),
                limit_kw=3.3,
                reason="plan",
                expected_finish_at=T0 + timedelta(hours=3),
                target_energy_kwh=14.4,
                planned_energy_kwh=14.4,
            )
            plan = contract.SitePlan(site_id="garage", start=T0, interval_s=900, connectors=[entry])
            service.plan_seen.clear()
            await watcher.client.publish(
                TOPICS.site_plan("garage"), contract.encode(plan), qos=1, retain=True
            )
            await asyncio.wait_for(service.plan_seen.wait(), 5)
            got = (await http.get(f"{api}/{token2}")).json()
            assert got["plan"]["expected_finish_at"] == "2026-07-01T13:00:00Z"
            assert got["plan"]["target_energy_kwh"] == 14.4 and got["plan"]["limit_kw"] == 3.3

            body = {"departure_at": departure, "energy_kwh": 12}
            assert (await http.put(f"{api}/{token2}/request", json=body)).is_success
            assert (await watcher.next())[0] == TOPICS.driver_request("P1", 2)

        # transaction end clears the retained request
        await stop_16(st, tx1, 5000)
        assert await watcher.next() == (TOPICS.driver_request("P1", 1), b"")
        await st.close()

    # the broker forgets (restarted without persistence): a CSMS start re-publishes
    await watcher_clear(mqtt_broker, TOPICS.driver_request("P1", 2))
    async with watching(mqtt_broker) as watcher:
        async with _csms(mqtt_broker, db, clock):
            topic, payload = await watcher.next()
        assert topic == TOPICS.driver_request("P1", 2)
        needs = contract.decode(contract.EVChargingNeeds, payload)
        assert needs.transaction_id == str(tx2) and needs.energy_amount_kwh == 12


async def watcher_clear(broker: Any, topic: str) -> None:
    async with aiomqtt.Client(broker.host, broker.port, identifier="clearer") as client:
        await client.publish(topic, b"", qos=1, retain=True)
