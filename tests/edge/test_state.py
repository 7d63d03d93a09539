"""The cache: arrivals and departures from status and transaction events, readings."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from edge.daemon.state import SiteState
from evcommon.contract import ConnectorStatus, MeterValuesEvent, StationState, TransactionEvent

T0 = datetime(2026, 7, 1, tzinfo=UTC)


def status(s: str) -> ConnectorStatus:
    return ConnectorStatus(station_id="S", connector_id=1, status=s)


def tx(event: str, tid: str = "t1", **kw: object) -> TransactionEvent:
    return TransactionEvent(station_id="S", connector_id=1, transaction_id=tid, event=event, **kw)  # type: ignore[arg-type]


def test_arrival_and_departure_by_status() -> None:
    st = SiteState()
    assert st.apply_status(status("Available"), T0) is None
    assert st.apply_status(status("Preparing"), T0) == "arrival"
    assert st.apply_status(status("Charging"), T0) is None
    assert st.connector("S", 1).plugged_at == T0
    assert st.apply_status(status("Available"), T0) == "departure"


def test_transactions_and_energy() -> None:
    st = SiteState()
    assert st.apply_transaction(tx("started", meter_start_kwh=100.0), T0) == "arrival"
    st.apply_meter_values(
        MeterValuesEvent(station_id="S", connector_id=1, power_kw=6.6, energy_kwh=103.5), T0
    )
    c = st.connector("S", 1)
    assert c.session_energy_kwh == 3.5 and c.connected
    assert st.connector_power_kw("S/1", T0 + timedelta(seconds=10), 60) == 6.6
    assert st.connector_power_kw("S/1", T0 + timedelta(seconds=61), 60) == 0.0  # stale
    # a 2.0.1 station stays Occupied after the transaction: still plugged in
    st.apply_status(status("Occupied"), T0)
    assert st.apply_transaction(tx("ended"), T0) == "transaction_ended"
    assert c.connected and c.transaction_id is None
    # a 1.6 station: Charging -> transaction ended -> Finishing: not drawing any more
    st2 = SiteState()
    st2.apply_status(status("Charging"), T0)
    assert st2.apply_transaction(tx("ended"), T0) == "departure"


def test_station_online_edges_and_meter_freshness() -> None:
    st = SiteState()
    assert st.apply_station(StationState(station_id="S", online=True)) == "station_online"
    assert st.apply_station(StationState(station_id="S", online=True)) is None
    assert st.apply_station(StationState(station_id="S", online=False)) == "station_offline"
    st.apply_meter("main", 12.0, T0)
    assert st.fresh_meter("main", T0 + timedelta(seconds=180), 180) is not None
    assert st.fresh_meter("main", T0 + timedelta(seconds=181), 180) is None
