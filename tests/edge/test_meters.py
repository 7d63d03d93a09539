"""Meter payloads: contract format, gateway formats, bad input."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from edge.config import MeterSection
from edge.daemon.meters import MeterPayloadError, parse_meter
from evcommon.contract import SiteMeterReading, encode


def test_contract_reading() -> None:
    ts = datetime(2026, 7, 1, 12, tzinfo=UTC)
    s = parse_meter(encode(SiteMeterReading(ts=ts, power_kw=12.5)), MeterSection())
    assert s.power_kw == 12.5 and s.ts == ts


def test_gateway_field_unit_scale() -> None:
    m = MeterSection(field="data.p_w", unit="W", scale=-1.0)
    assert parse_meter(b'{"data": {"p_w": 2500}}', m).power_kw == -2.5
    assert parse_meter(b"4200", MeterSection(field="", unit="W")).power_kw == 4.2
    assert parse_meter(b'{"power_kw": "3.5"}', MeterSection()).power_kw == 3.5


@pytest.mark.parametrize(
    "payload",
    [
        b"not json",
        b'{"power": 1}',
        b'{"power_kw": null}',
        b'{"power_kw": "x"}',
        b'{"power_kw": true}',
        b"[1, 2]",
        b'{"power_kw": NaN}',
    ],
)
def test_bad_payloads_raise(payload: bytes) -> None:
    with pytest.raises(MeterPayloadError):
        parse_meter(payload, MeterSection())
