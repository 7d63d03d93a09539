"""The end of a run: every transaction ends on the CSMS, none is lost, the record is written
(also when ``evsim run`` is stopped by a signal)."""

from __future__ import annotations

import asyncio
import json
import signal
import sys
import time
from pathlib import Path

import pytest
from sqlalchemy import select

from csms.app import CsmsApp
from csms.db.models import Transaction
from evcommon.clock import SimClock
from simulators.scenario.loader import load_scenario
from simulators.scenario.runner import ScenarioRunner
from simulators.scenario.stations import OcppStations
from tests.plugins.csms import MakeCsms
from tests.plugins.sim_cp import MiniCsms

# both vehicles are still charging when the scenario ends (departures after the end)
SCENARIO = """\
[scenario]
name = "shutdown"
site_id = "shutdown-site"
timezone = "UTC"
start = 2026-07-06T10:00:00
duration_h = {duration_h}
[base_load]
noise_pct = 0.0
[meters]
publish_interval_s = 60
[ocpp]
drain_timeout_s = 5.0
[vehicle_types.ev]
capacity_kwh = 80
ac_max_kw = 6.6
efficiency = 1.0
[[stations]]
id = "SD-16"
type = "L2"
ocpp = "1.6"
[[stations]]
id = "SD-201"
type = "L2"
ocpp = "2.0.1"
[[sessions]]
session_id = "a"
arrival = 2026-07-06T10:01:00
departure = 2026-07-06T20:00:00
energy_kwh = 60
station = "SD-16"
vehicle = "ev"
[[sessions]]
session_id = "b"
arrival = 2026-07-06T10:02:00
departure = 2026-07-06T20:00:00
energy_kwh = 60
station = "SD-201"
vehicle = "ev"
"""


def _scenario(tmp_path: Path, duration_h: float, extra: str = "") -> Path:
    path = tmp_path / "shutdown.toml"
    path.write_text(SCENARIO.format(duration_h=duration_h) + extra)
    return path


async def _transactions(app: CsmsApp) -> list[Transaction]:
    async with app.database.session() as s:
        return list((await s.execute(select(Transaction))).scalars())


async def test_run_ending_with_active_transactions_ends_them_all_on_the_csms(
    tmp_path: Path, make_csms: MakeCsms
) -> None:
    plan = load_scenario(_scenario(tmp_path, 0.25))
    clock = SimClock(plan.start, speed=900.0, origin=time.time() + 60)
    app = await make_csms(clock=clock, security={"accept_all_id_tags": True})
    async with OcppStations(plan, app.url, clock, meter_interval_s=60) as stations:
        await stations.wait_accepted(20)
        clock.origin = time.time()
        out = await asyncio.wait_for(ScenarioRunner(plan, clock, stations).run(), 30)
    out.tx_messages = stations.delivery()
    summary = out.summary()
    assert summary["tx_messages_dropped"] == 0
    assert summary["tx_messages_undelivered"] == 0
    assert set(out.tx_messages) == {"SD-16", "SD-201"}
    assert all(d["delivered"] > 0 for d in out.tx_messages.values())
    assert not out.interrupted and out.ended_at == plan.end
    txs = await _transactions(app)
    assert len(txs) == 2
    by_station = {t.station_id: t for t in txs}
    for rec in out.sessions:
        assert rec.status == "plugged_at_end"
        assert rec.station_id is not None
        tx = by_station[rec.station_id]
        assert tx.ended_at is not None, rec.station_id
        assert tx.meter_stop_wh is not None
        assert tx.meter_stop_wh - (tx.meter_start_wh or 0) == pytest.approx(
            rec.energy_delivered_kwh * 1000, abs=2
        )
        assert rec.energy_delivered_kwh > 1.0  # ~13 minutes at 6.6 kW


async def test_dropped_transaction_messages_are_counted_per_station(
    tmp_path: Path, mini_csms: MiniCsms
) -> None:
    mini_csms.refuse_actions.add("StopTransaction")
    extra = "transaction_message_attempts = 2\ntransaction_message_retry_interval_s = 0.01\n"
    text = _scenario(tmp_path, 0.1).read_text().replace("[ocpp]\n", "[ocpp]\n" + extra)
    path = tmp_path / "drops.toml"
    path.write_text(text)
    plan = load_scenario(path)
    clock = SimClock(plan.start, speed=600.0, origin=time.time() + 60)
    async with OcppStations(plan, mini_csms.url, clock, meter_interval_s=60) as stations:
        assert stations.stations["SD-16"].config.transaction_message_attempts == 2
        await stations.wait_accepted(20)
        clock.origin = time.time()
        out = await asyncio.wait_for(ScenarioRunner(plan, clock, stations).run(), 30)
    out.tx_messages = stations.delivery()
    assert out.tx_messages["SD-16"]["dropped"] == 1  # its StopTransaction, given up
    assert out.tx_messages["SD-201"]["dropped"] == 0  # 2.0.1 sends TransactionEvent
    assert out.summary()["tx_messages_dropped"] == 1
    assert json.loads(json.dumps(out.to_json()))["tx_messages"]["SD-16"]["dropped"] == 1


async def _wait_started(app: CsmsApp, count: int, timeout_s: float) -> None:
    async with asyncio.timeout(timeout_s):
        # the transactions come from another process: poll the CSMS database
        while len(await _transactions(app)) < count:  # noqa: ASYNC110
            await asyncio.sleep(0.1)


async def test_sigterm_stops_evsim_cleanly_and_writes_its_record(
    tmp_path: Path, make_csms: MakeCsms
) -> None:
    app = await make_csms(security={"accept_all_id_tags": True})
    out_path = tmp_path / "run.json"
    # 10 simulated hours at 120x: five real minutes, so only the signal can end it
    proc = await asyncio.create_subprocess_exec(
        *[sys.executable, "-m", "simulators.cli", "run", str(_scenario(tmp_path, 10))],
        *["--csms-url", app.url, "--speed", "120", "--boot-grace", "1", "--start", "now"],
        *["--out", str(out_path), "--log-level", "warning"],
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    try:
        await _wait_started(app, 2, 30)
        await asyncio.sleep(0.5)  # a few meter values on the way
        proc.send_signal(signal.SIGTERM)
        stdout, stderr = await asyncio.wait_for(proc.communicate(), 30)
    finally:
        if proc.returncode is None:
            proc.kill()
            await proc.wait()
    assert proc.returncode == 0, stderr.decode()[-2000:]
    record = json.loads(out_path.read_text())
    assert record["interrupted"] is True
    assert record["interrupted_by"] == "SIGTERM"
    assert record["ended_at"] < record["end"]
    assert record["summary"]["tx_messages_dropped"] == 0
    assert record["summary"]["tx_messages_undelivered"] == 0
    assert {s["status"] for s in record["sessions"]} == {"plugged_at_end"}
    txs = await _transactions(app)
    assert len(txs) == 2
    assert all(t.ended_at is not None and t.meter_stop_wh is not None for t in txs)
    assert b"wrote" in stdout


async def test_sigint_stops_a_local_run_with_130(tmp_path: Path) -> None:
    out_path = tmp_path / "run.json"
    proc = await asyncio.create_subprocess_exec(
        *[sys.executable, "-m", "simulators.cli", "run", str(_scenario(tmp_path, 10))],
        *["--speed", "60", "--start", "now", "--out", str(out_path), "--log-level", "warning"],
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    try:
        assert proc.stdout is not None
        line = await asyncio.wait_for(proc.stdout.readline(), 20)
        assert line.startswith(b"EVSITE_CLOCK=")
        await asyncio.sleep(1.0)
        proc.send_signal(signal.SIGINT)
        _, stderr = await asyncio.wait_for(proc.communicate(), 20)
    finally:
        if proc.returncode is None:
            proc.kill()
            await proc.wait()
    assert proc.returncode == 130, stderr.decode()[-2000:]
    record = json.loads(out_path.read_text())
    assert record["interrupted"] is True and record["interrupted_by"] == "SIGINT"
    assert record["mode"] == "local"
    assert record["start"] <= record["ended_at"] < record["end"]
