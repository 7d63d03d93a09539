"""Over-limit detection: a station that answered Accepted but keeps drawing more.

Each MeterValues sample with a power reading is compared with the limit in force
on its connector (from the installed-profile record). A reading above
``limit * (1 + tolerance_pct/100) + tolerance_kw`` taken later than ``grace_s``
after the profile was installed starts an over-limit episode: one Alarm event and
one count on ``csms_smart_over_limit_alarms_total``; the episode ends (logged,
gauge back to 0) with the first reading within the limit.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta

from csms.smart.config import SmartChargingSection
from csms.smart.episodes import EpisodeLog, Key
from csms.smart.metrics import SmartMetrics
from csms.smart.store import Record
from evcommon import contract
from evcommon.logs import get_logger

log = get_logger(__name__)


_PRECEDENCE = {"tx": 2, "tx_default": 1}


def tx_applies(rec: Record, transaction_id: str | None) -> bool:
    """A TxProfile belongs to the transaction named in it (OCPP 1.6 3.13.2, 2.0.1
    K01): it is in force only while that transaction runs (one naming none: the
    connector's current one)."""
    if transaction_id is None:
        return False
    return rec.transaction_id is None or rec.transaction_id == transaction_id


def effective_limit(
    records: list[Record], connector_id: int, now: datetime, transaction_id: str | None
) -> tuple[float, Record] | None:
    """The kW limit in force on a connector and the record that sets it.

    TxProfile beats TxDefault; a connector's own TxDefault beats connector 0's;
    within one purpose the highest stack level in force wins (OCPP 1.6 3.13.2,
    2.0.1 K08). The station max caps the result. ``connector_id`` 0 means the
    station total and is compared with the station max only. ``transaction_id``
    is the connector's current transaction: a TxProfile of another one (or of
    none) is ignored, since the station dropped it when its transaction ended.
    """
    best: tuple[tuple[int, int, int], float, Record] | None = None
    cap: tuple[float, Record] | None = None
    for rec in records:
        limit = rec.limit_kw_at(now)
        if limit is None:
            continue
        if rec.purpose == "station_max":
            if cap is None or limit < cap[0]:
                cap = (limit, rec)
            continue
        if connector_id == 0 or rec.connector_id not in (0, connector_id):
            continue
        if rec.purpose == "tx" and not tx_applies(rec, transaction_id):
            continue
        rank = (_PRECEDENCE[rec.purpose], int(rec.connector_id == connector_id), rec.stack_level)
        if best is None or rank > best[0]:
            best = (rank, limit, rec)
    found = (best[1], best[2]) if best is not None else None
    if cap is not None and (found is None or cap[0] < found[0]):
        found = cap
    return found


class OverLimitMonitor:
    def __init__(
        self,
        settings: SmartChargingSection,
        records: Callable[[str], list[Record]],
        emit: Callable[[contract.Alarm], None],
        metrics: SmartMetrics | None = None,
        transaction_of: Callable[[str, int], str | None] | None = None,
        episodes: EpisodeLog | None = None,
        open_episodes: set[Key] | None = None,
    ):
        self._transaction_of = transaction_of
        self._metrics = metrics or SmartMetrics()
        self._settings = settings
        self._records = records
        self._emit = emit
        self._log = episodes
        # open at start-up (from the database): these raise no second alarm
        self._episodes: set[Key] = set(open_episodes or ())
        for sid, cid in self._episodes:
            self._metrics.over_limit.labels(sid, str(cid)).set(1)

    def _over(self, event: contract.MeterValuesEvent, now: datetime) -> tuple[float, Record] | None:
        """The limit and its record when this reading is over it (past the grace)."""
        assert event.power_kw is not None
        tx = event.transaction_id
        if tx is None and self._transaction_of is not None:
            tx = self._transaction_of(event.station_id, event.connector_id)
        found = effective_limit(self._records(event.station_id), event.connector_id, now, tx)
        if found is None:
            return None
        limit_kw, rec = found
        allowed = (
            limit_kw * (1 + self._settings.over_limit_tolerance_pct / 100)
            + self._settings.over_limit_tolerance_kw
        )
        settled = rec.installed_at + timedelta(seconds=self._settings.over_limit_grace_s)
        return found if event.power_kw > allowed and now >= settled else None

    async def check(self, event: contract.MeterValuesEvent, now: datetime) -> None:
        if event.power_kw is None:
            return
        key = (event.station_id, event.connector_id)
        found = self._over(event, now)
        if found is not None and key not in self._episodes:
            self._episodes.add(key)
            self._metrics.over_limit_alarms.labels(event.station_id).inc()
            self._metrics.over_limit.labels(event.station_id, str(event.connector_id)).set(1)
            message = (
                f"connector {event.connector_id} draws {event.power_kw:.2f} kW, "
                f"installed limit is {found[0]:.2f} kW (profile {found[1].profile_id})"
            )
            log.warning("over limit", station_id=event.station_id, message=message)
            if self._log is not None:
                await self._log.started(key, now, event.power_kw, found[0], found[1].profile_id)
            self._emit(
                contract.Alarm(
                    station_id=event.station_id,
                    connector_id=event.connector_id,
                    kind="over_limit",
                    message=message,
                    measured_kw=event.power_kw,
                    limit_kw=found[0],
                )
            )
        elif found is None and key in self._episodes:
            self._episodes.discard(key)
            self._metrics.over_limit.labels(event.station_id, str(event.connector_id)).set(0)
            log.info("back within limit", station_id=event.station_id, connector=event.connector_id)
            if self._log is not None:
                await self._log.ended([key], now, "within_limit")

    async def forget(self, station_id: str, now: datetime) -> None:
        """A rebooted station: its episodes end (a reading over the limit after the
        reboot and the re-install of its profiles is a new episode)."""
        keys = [k for k in self._episodes if k[0] == station_id]
        self._episodes.difference_update(keys)
        for sid, cid in keys:
            self._metrics.over_limit.labels(sid, str(cid)).set(0)
        if self._log is not None and keys:
            await self._log.ended(keys, now, "reboot")
