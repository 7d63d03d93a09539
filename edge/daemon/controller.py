"""The control loop: tick every interval and at once on events, rules, limits to stations.

One :class:`Controller` per site. ``run()`` is the tick loop; ``run_sender()``
is one long-lived task per station that sends what the dispatcher says is due
(so a slow or offline station never holds up the tick or the others).
"""

from __future__ import annotations

import asyncio
import math
import time
from collections import deque
from collections.abc import Awaitable, Callable
from datetime import datetime, timedelta
from typing import get_args

from edge.config import EdgeConfig
from edge.daemon import inputs
from edge.daemon.aio import wait_event_until
from edge.daemon.commands import CommandClient, CommandFailed
from edge.daemon.demand import DemandTracker
from edge.daemon.dispatch import Dispatcher, Target
from edge.daemon.history import SiteHistory
from edge.daemon.state import SiteState
from edge.metrics import EdgeMetrics
from edge.planners import MaxPlanner
from edge.planning import Planner, PlanStatus
from edge.rules import Outcome, RuleInputs, ShedState, decide, update_shed, window_state
from evcommon.clock import Clock
from evcommon.contract import InstallSafeLimits, SetLimit, SiteLimits, encode
from evcommon.logs import get_logger

Publish = Callable[[str, bytes], Awaitable[None]]


class Controller:
    def __init__(
        self,
        cfg: EdgeConfig,
        clock: Clock,
        state: SiteState,
        planner: Planner,
        commands: CommandClient,
        metrics: EdgeMetrics,
        publish: Publish,
        tariff: object | None = None,
    ):
        self.cfg = cfg
        self.clock = clock
        self.state = state
        self.planner = planner
        self.commands = commands
        self.metrics = metrics
        self.publish = publish
        self.tariff = tariff
        self.log = get_logger("edge.controller", site_id=cfg.site.id)
        c = cfg.control
        self.dispatcher = Dispatcher(
            c.deadband_kw, c.min_command_period_s, (c.valid_for_intervals - 1.5) * c.interval_s
        )
        self.groups = inputs.group_rules(cfg)
        self.shed_params = inputs.shed_params(cfg)
        self.shed = ShedState()
        self._kick = asyncio.Event()
        self._triggers: list[str] = []
        self._station_kick = {sid: asyncio.Event() for sid in cfg.station_ids()}
        self._needs_safe: set[str] = set()
        self._stale: set[str] = set()
        self._last: dict[str, float] = {}
        self._non_ev: deque[tuple[datetime, float]] = deque()
        self.demand = DemandTracker()
        self.history = SiteHistory(cfg, self.demand, clock.now())  # restores the state file
        self.last_outcome: Outcome | None = None
        self.ticks = 0
        self.on_tick: list[Callable[[Outcome], None]] = []
        self._station_keys: dict[str, list[str]] = {}
        for ref in inputs.controlled(cfg):
            self._station_keys.setdefault(ref.station_id, []).append(ref.key)
        metrics.import_limit.set(cfg.site.import_limit_kw)
        for status in get_args(PlanStatus):  # from 0, so increase() sees the first one
            metrics.plan_status.labels(planner.name, status)

    # -- events from the MQTT side ------------------------------------------------
    def request_tick(self, trigger: str) -> None:
        self._triggers.append(trigger)
        self._kick.set()

    def on_meter(self, name: str, value_kw: float, at: datetime) -> None:
        self.state.apply_meter(name, value_kw, at)
        if name == "main":
            self.demand.add(at, value_kw)
        if name in self._stale:
            self.request_tick(f"meter_back {name}")
        if name == self.cfg.shed.meter and any(g.shed for g in self.cfg.groups.values()):
            self._update_shed(value_kw, at)

    def on_station_online(self, station_id: str) -> None:
        if station_id in self._station_kick:
            self._needs_safe.add(station_id)
            self.dispatcher.forget(self._station_keys.get(station_id, []))
            self._station_kick[station_id].set()
            self.request_tick(f"station_online {station_id}")

    def _update_shed(self, value_kw: float, at: datetime) -> None:
        new = update_shed(self.shed, value_kw, at, self.shed_params)
        if new.active != self.shed.active:
            verb = "engaged" if new.active else "released"
            self.log.info(
                f"dcfc shed {verb}", dcfc_kw=value_kw, threshold_kw=self.shed_params.threshold_kw
            )
            self.metrics.shed_active.set(1 if new.active else 0)
            self.shed = new
            self.request_tick(f"shed_{verb}")
        else:
            self.shed = new

    # -- the tick loop ---------------------------------------------------------------
    async def run(self) -> None:
        interval = timedelta(seconds=self.cfg.control.interval_s)
        next_tick = self.clock.now()
        while True:
            wake = min(next_tick, self._next_window_change())
            kicked = await wait_event_until(self._kick, self.clock, wake)
            now = self.clock.now()
            if kicked:
                self._kick.clear()
                trigger = ",".join(dict.fromkeys(self._triggers)) or "event"
                self._triggers.clear()
            else:
                trigger = "interval" if now >= next_tick else "window"
            if now >= next_tick:
                while next_tick <= now:
                    next_tick += interval
            await self.tick(trigger)

    def _next_window_change(self) -> datetime:
        now = self.clock.now()
        far = now + timedelta(days=2)
        for g in self.groups.values():
            if g.opens is not None and g.closes is not None:
                far = min(far, window_state(now, g.opens, g.closes, self.cfg.site.zone).next_change)
        return far

    async def tick(self, trigger: str) -> Outcome:
        started = time.perf_counter()
        now = self.clock.now()
        held = {k: s.limit_kw for k, s in self.dispatcher.sent.items() if s.ok}
        site = inputs.readings(self.cfg, self.state, now, held, self._recent_non_ev(now))
        if site.non_ev_kw is not None:
            self._non_ev.append((now, site.non_ev_kw))
        self.history.update(now, site)
        dcfc = site.meters.get(self.cfg.shed.meter)
        if dcfc is not None:
            self._update_shed(dcfc, now)
        self._log_stale(site.stale)
        vehicles = {
            ref.key: inputs.vehicle(self.cfg, self.state, ref, now)
            for ref in inputs.controlled(self.cfg)
        }
        request = inputs.plan_request(
            self.cfg, vehicles, site, now, self.tariff, self.demand.month_peaks(self.tariff, now)
        )
        request = self.history.with_forecasts(request, site)
        plan_kw = await self._plan(request)
        outcome = decide(
            RuleInputs(
                now=now,
                zone=self.cfg.site.zone,
                connectors=inputs.connector_views(self.cfg, vehicles, now),
                plan_kw=plan_kw,
                groups=self.groups,
                shed_state=self.shed,
                shed=self.shed_params,
                budget_kw=site.budget_kw,
                budget_reason=site.budget_reason,
                stale_groups=inputs.stale_groups(self.cfg, site),
                charging=frozenset(k for k, kw in self._last.items() if kw > 0),
                stickiness_kw=self.cfg.control.floor_stickiness_kw,
            )
        )
        self._dispatch(outcome, site.budget_kw)
        await self._publish_limits(outcome)
        self._record(outcome, site, trigger, time.perf_counter() - started)
        return outcome

    def _recent_non_ev(self, now: datetime) -> float | None:
        """Highest non-EV estimate within the last control interval."""
        horizon = now - timedelta(seconds=self.cfg.control.interval_s)
        while self._non_ev and self._non_ev[0][0] < horizon:
            self._non_ev.popleft()
        return max((kw for _, kw in self._non_ev), default=None)

    async def _plan(self, request) -> dict[str, float]:
        strategy = self.planner.name
        started = time.perf_counter()
        try:
            plan = await asyncio.wait_for(
                asyncio.to_thread(self.planner.plan, request), self.cfg.control.planner_timeout_s
            )
            status: str = plan.status
        except Exception as exc:  # a planner bug must not stop the site: fall back, say so
            self.metrics.planner_failures.inc()
            self.log.error("planner failed, using max", planner=strategy, error=repr(exc))
            plan = MaxPlanner().plan(request)
            status = "fallback"  # the configured planner gave nothing; max is the fallback
        self.metrics.planner_solve.labels(strategy).observe(time.perf_counter() - started)
        self.metrics.plan_status.labels(strategy, status).inc()
        return plan.first_interval_kw()

    def _dispatch(self, outcome: Outcome, budget_kw: float | None) -> None:
        for d in outcome.decisions:
            self.dispatcher.set_target(d.key, Target(d.limit_kw, d.reason, d.rule))
        if budget_kw is not None:
            held = sum(self.dispatcher.effective_kw(d.key) for d in outcome.decisions)
            if held > max(budget_kw, 0.0):
                for d in outcome.decisions:
                    self.dispatcher.targets[d.key].force = True
        for event in self._station_kick.values():
            event.set()

    async def _publish_limits(self, outcome: Outcome) -> None:
        msg = SiteLimits(
            ts=self.clock.now(),
            site_id=self.cfg.site.id,
            limits_kw=outcome.limits_kw(),
            reasons={d.key: d.reason for d in outcome.decisions},
        )
        try:
            await self.publish(self.cfg.topics.limits(self.cfg.site.id), encode(msg))
        except Exception as exc:  # not connected: dashboards miss one tick, control goes on
            self.log.debug("limits not published", error=repr(exc))

    def _record(self, outcome: Outcome, site: inputs.SiteReadings, trigger: str, dt: float) -> None:
        m = self.metrics
        m.tick_duration.observe(dt)
        m.ticks.labels(trigger.split(" ")[0].split(",")[0]).inc()
        for role, gauge in (
            ("main", m.site_power),
            ("pv", m.pv_power),
            ("dcfc", m.dcfc_power),
            ("battery", m.battery_power),
        ):
            value = site.meters.get(role)
            if value is not None:
                gauge.set(value)
        m.ev_power.set(site.ev_kw)
        if site.budget_kw is not None:
            m.budget.set(site.budget_kw)
        # NaN (a gap on the dashboard) while the main meter is stale: no estimate is used
        m.base_power.set(math.nan if site.limit_non_ev_kw is None else site.limit_non_ev_kw)
        for rule, n in outcome.activations.items():
            m.rule_activations.labels(rule).inc(n)
        groups: dict[str, float] = {}
        for d in outcome.decisions:
            groups[d.group] = groups.get(d.group, 0.0) + d.limit_kw
            m.connector_limit.labels(d.key).set(d.limit_kw)
            if self._last.get(d.key) != d.limit_kw:
                self.log.info(
                    "limit", connector=d.key, limit_kw=d.limit_kw, rule=d.rule, reason=d.reason
                )
                self._last[d.key] = d.limit_kw
        for g, total in groups.items():
            m.group_limit.labels(g).set(total)
        for g, is_open in outcome.windows_open.items():
            m.window_open.labels(g).set(1 if is_open else 0)
        self.last_outcome = outcome
        self.ticks += 1
        for hook in self.on_tick:
            hook(outcome)
        self.log.debug("tick", trigger=trigger, duration_s=round(dt, 4), budget_kw=site.budget_kw)

    def _log_stale(self, stale: dict[str, str]) -> None:
        for meter in self.cfg.meters:
            is_stale = meter in stale
            self.metrics.meter_stale.labels(meter).set(1 if is_stale else 0)
            if is_stale and meter not in self._stale:
                self.log.warning(
                    "meter stale, affected groups at safe limits", meter=meter, why=stale[meter]
                )
                self._stale.add(meter)
            elif not is_stale and meter in self._stale:
                self.log.info("meter recovered", meter=meter)
                self._stale.discard(meter)

    # -- per-station senders -------------------------------------------------------
    async def run_sender(self, station_id: str) -> None:
        kick = self._station_kick[station_id]
        keys = self._station_keys.get(station_id, [])
        failing = False
        while True:
            next_due: datetime | None = None
            kick.clear()
            if self.state.online.get(station_id, False):
                if station_id in self._needs_safe and await self._install_safe(station_id):
                    self._needs_safe.discard(station_id)
                for key in keys:
                    now = self.clock.now()
                    due = self.dispatcher.due_at(key, now)
                    if due is None:
                        continue
                    if due > now:
                        next_due = due if next_due is None else min(next_due, due)
                        continue
                    ok = await self._send_limit(key)
                    if ok == failing:
                        failing = not ok
                        self.log.log(
                            30 if failing else 20,
                            "station commands " + ("failing" if failing else "recovered"),
                            station_id=station_id,
                        )
            await wait_event_until(
                kick, self.clock, next_due or self.clock.now() + timedelta(days=1)
            )

    async def _send_limit(self, key: str) -> bool:
        target = self.dispatcher.targets[key]
        station_id, _, cid = key.rpartition("/")
        now = self.clock.now()
        c = self.cfg.control
        # validTo must also outlast real network latency when the clock runs fast
        horizon_s = max(c.valid_for_intervals * c.interval_s, c.min_valid_real_s * self.clock.speed)
        valid_to = now + timedelta(seconds=horizon_s)
        station = self.cfg.station(station_id)
        phases = station.connectors[int(cid)].phases if station else None

        def make(correlation_id: str) -> SetLimit:
            return SetLimit(
                correlation_id=correlation_id,
                station_id=station_id,
                reply_to=self.commands.reply_topic,
                connector_id=int(cid),
                purpose=self.cfg.control.purpose,
                limit_kw=target.limit_kw,
                valid_from=now,
                valid_to=valid_to,
                stack_level=self.cfg.control.stack_level,
                number_phases=phases,
            )

        try:
            await self.commands.call_with_retry(make)
        except CommandFailed as exc:
            self.log.warning(
                "set_limit failed", connector=key, limit_kw=target.limit_kw, error=str(exc)
            )
            if exc.code in ("rejected", "invalid_command", "not_supported"):
                # do not hammer a station that refuses: retried when the target changes
                self.dispatcher.record(key, target.limit_kw, now, None, ok=False)
            return False
        self.dispatcher.record(key, target.limit_kw, now, valid_to, ok=True)
        return True

    async def _install_safe(self, station_id: str) -> bool:
        station = self.cfg.station(station_id)
        if station is None:
            return True
        safe = [
            self.cfg.groups[c.group].safe_limit_kw
            for c in station.connectors.values()
            if self.cfg.groups[c.group].controlled
        ]
        if not safe:
            return True

        def make(correlation_id: str) -> InstallSafeLimits:
            return InstallSafeLimits(
                correlation_id=correlation_id,
                station_id=station_id,
                reply_to=self.commands.reply_topic,
                station_max_kw=station.max_power_kw,
                connector_default_kw=min(safe),
            )

        try:
            await self.commands.call_with_retry(make)
        except CommandFailed as exc:
            self.log.warning("install_safe_limits failed", station_id=station_id, error=str(exc))
            return exc.code in ("rejected", "not_supported", "invalid_command")
        self.log.info(
            "safe limits installed", station_id=station_id, connector_default_kw=min(safe)
        )
        return True
