"""Schema-valid values no column can hold: a CALLERROR naming the field, nothing stored,
the connection kept (both databases)."""

from __future__ import annotations

from typing import Any

from sqlalchemy import func, select

from csms.db.models import MeterValue, Station
from tests.csms.client import BOOT16, booted, connect
from tests.plugins.csms import MakeCsms


def _mv201(evse_id: int, unit: str = "Wh", multiplier: int = 0) -> dict[str, Any]:
    sample = {"value": 10, "unitOfMeasure": {"unit": unit, "multiplier": multiplier}}
    return {
        "evseId": evse_id,
        "meterValue": [{"timestamp": "2026-07-01T10:00:00Z", "sampledValue": [sample]}],
    }


async def _rows(app: Any) -> list[MeterValue]:
    async with app.database.session() as s:
        return list((await s.execute(select(MeterValue))).scalars().all())


async def test_nul_in_a_string_is_refused_and_a_clean_boot_follows(
    make_csms: MakeCsms, database_url: str
) -> None:
    app = await make_csms(database_url)
    st = await connect(app.url, "CP-nul", "1.6")
    answer = await st.frame("BootNotification", {**BOOT16, "chargePointSerialNumber": "SN\x00\x00"})
    assert answer[0] == 4 and answer[2] == "PropertyConstraintViolation"
    assert answer[4]["field"] == "data.chargePointSerialNumber"
    assert (await st.call("BootNotification", BOOT16))["status"] == "Accepted"
    await st.close()
    async with app.database.session() as s:
        serial = (await s.execute(select(Station.serial_number))).scalar_one()
    assert serial is None


async def test_integers_beyond_32_bits_are_refused_before_anything_is_stored(
    make_csms: MakeCsms, database_url: str
) -> None:
    app = await make_csms(database_url)
    st16 = await booted(app.url, "CP-16", "1.6")
    mv = {
        "connectorId": 2**31,
        "meterValue": [{"timestamp": "2026-07-01T10:00:00Z", "sampledValue": [{"value": "1"}]}],
    }
    answer = await st16.frame("MeterValues", mv)
    assert answer[2] == "PropertyConstraintViolation" and answer[4]["field"] == "data.connectorId"
    st201 = await booted(app.url, "CP-201", "2.0.1")
    answer = await st201.frame("MeterValues", _mv201(2**64))
    assert answer[2] == "PropertyConstraintViolation" and answer[4]["field"] == "data.evseId"
    assert await _rows(app) == []
    assert "currentTime" in await st201.call("Heartbeat", {})  # still connected
    await st16.close()
    await st201.close()


async def test_long_units_and_huge_multipliers_are_stored(
    make_csms: MakeCsms, database_url: str
) -> None:
    app = await make_csms(database_url)
    st = await booted(app.url, "CP-201", "2.0.1")
    assert await st.call("MeterValues", _mv201(1, unit="U" * 20)) == {}
    assert await st.call("MeterValues", _mv201(1, multiplier=400)) == {}
    await st.close()
    rows = await _rows(app)
    assert sorted((r.unit, r.value_si) for r in rows) == [("U" * 20, 10.0), ("Wh", None)]
    async with app.database.session() as s:
        assert (await s.execute(select(func.count()).select_from(MeterValue))).scalar_one() == 2
