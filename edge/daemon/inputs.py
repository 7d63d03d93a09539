"""Turn the cached site state into planner and rule inputs (pure: ``now`` passed in)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from edge.config import FLOOR_KW, EdgeConfig, GroupSection
from edge.daemon.state import SiteState
from edge.planning import GroupWindow, PlanRequest, VehicleRequest
from edge.rules import ConnectorView, GroupRules, ShedParams
from edge.rules.windows import resolve_local


@dataclass
class SiteReadings:
    """Fresh meter values (None when missing or stale) and the derived EV budget."""

    meters: dict[str, float | None] = field(default_factory=dict)
    stale: dict[str, str] = field(default_factory=dict)  # meter -> why
    ev_kw: float = 0.0  # measured, controlled connectors
    base_kw: float | None = None  # non-EV, non-DCFC load
    non_ev_kw: float | None = None  # this tick's estimate (before the recent maximum)
    limit_non_ev_kw: float | None = None  # the non-EV load the budget subtracts
    budget_kw: float | None = None
    budget_reason: str = ""


def group_rules(cfg: EdgeConfig) -> dict[str, GroupRules]:
    out = {}
    for name, g in cfg.groups.items():
        w = g.start_window
        out[name] = GroupRules(
            name,
            opens=w.opens if w else None,
            closes=w.closes if w else None,
            safe_limit_kw=g.safe_limit_kw,
            shed=g.shed,
        )
    return out


def shed_params(cfg: EdgeConfig) -> ShedParams:
    s = cfg.shed
    return ShedParams(s.threshold_kw, s.release_kw, s.limit_kw, s.min_hold_s)


def controlled(cfg: EdgeConfig) -> list:  # list[ConnectorRef]
    return [c for c in cfg.connectors() if cfg.groups[c.config.group].controlled]


def readings(
    cfg: EdgeConfig,
    state: SiteState,
    now: datetime,
    held_kw: dict[str, float] | None = None,
    recent_non_ev_kw: float | None = None,
) -> SiteReadings:
    """Fresh meters, measured EV power and the EV budget.

    The EV power of a connector is its last meter value capped at the limit the
    station holds (``held_kw``): a meter value taken before a reduction would
    otherwise make the non-EV load look smaller than it is. The non-EV load is
    never taken below what the DCFC, PV and battery meters account for (the
    base load is not negative), for the same reason. ``recent_non_ev_kw`` (the
    highest estimate of the last interval) keeps a momentary low estimate, from
    readings taken at slightly different times, from raising the budget.
    """
    out = SiteReadings()
    held = held_kw or {}
    max_age = cfg.control.stale_after_s
    for role in cfg.meters:
        r = state.fresh_meter(role, now, cfg.meter_stale_after_s(role))
        out.meters[role] = r.value_kw if r else None
        if r is None:
            last = state.meters.get(role)
            out.stale[role] = (
                f"meter {role} silent for {(now - last.at).total_seconds():.0f} s"
                if last
                else f"meter {role}: no reading yet"
            )
    out.ev_kw = sum(
        min(state.connector_power_kw(c.key, now, max_age), held.get(c.key, float("inf")))
        for c in controlled(cfg)
    )
    limit = cfg.site.import_limit_kw - cfg.site.import_margin_kw
    main = out.meters.get("main")
    dcfc = out.meters.get("dcfc") or 0.0
    pv = out.meters.get("pv") or 0.0
    battery = out.meters.get("battery") or 0.0
    if "main" in cfg.meters:
        if main is None:
            return out  # no budget: the groups fall back to their safe limits
        non_ev = max(main - out.ev_kw, dcfc + pv + battery)
        out.non_ev_kw = non_ev
        if recent_non_ev_kw is not None:
            non_ev = max(non_ev, recent_non_ev_kw)
        # docs/meter-format.md: positive is import; pv <= 0 while generating
        out.limit_non_ev_kw = non_ev
        out.base_kw = non_ev - dcfc - battery - pv
        out.budget_kw = limit - non_ev
        out.budget_reason = f"{limit:g} kW limit - {non_ev:.2f} kW non-EV (main {main:.2f} kW)"
    else:
        out.limit_non_ev_kw = dcfc
        out.budget_kw = limit - dcfc
        out.budget_reason = f"{limit:g} kW limit - {dcfc:.2f} kW dcfc (no main meter)"
    return out


def stale_groups(cfg: EdgeConfig, site: SiteReadings) -> dict[str, str]:
    """Groups that must fall back to their safe limits, with the reason."""
    out: dict[str, str] = {}
    for name, g in cfg.groups.items():
        if not g.controlled:
            continue
        if "main" in site.stale:
            out[name] = site.stale["main"]
        elif g.shed and cfg.shed.meter in site.stale:
            out[name] = site.stale[cfg.shed.meter]
    return out


def scheduled_departure(group: GroupSection, arrival: datetime, zone: ZoneInfo) -> datetime | None:
    """The group's fleet-schedule departure: the next local ``departs`` (or the closing
    of its start window) after ``arrival``; None when the group has no schedule."""
    wall = group.departs or (group.start_window.closes if group.start_window else None)
    if wall is None:
        return None
    day = arrival.astimezone(zone).date()
    for offset in (0, 1):
        when = resolve_local(day + timedelta(days=offset), wall, zone)
        if when > arrival:
            return when
    return resolve_local(day + timedelta(days=2), wall, zone)


def vehicle(cfg: EdgeConfig, state: SiteState, ref, now: datetime) -> VehicleRequest:
    c = state.connector(ref.station_id, ref.connector_id)
    needs = c.needs
    arrival = c.plugged_at or now
    group = cfg.groups[ref.config.group]
    departure = (
        (needs.departure_time if needs and needs.departure_time else None)
        or scheduled_departure(group, arrival, cfg.site.zone)
        or arrival + timedelta(hours=cfg.control.default_dwell_h)
    )
    if needs and needs.energy_amount_kwh is not None:
        energy = needs.energy_amount_kwh
    elif group.energy_kwh is not None:
        energy = group.energy_kwh
    else:
        energy = cfg.control.default_energy_kwh
    max_kw = ref.config.max_power_kw
    if needs and needs.ev_max_power_kw:
        max_kw = min(max_kw, max(needs.ev_max_power_kw, FLOOR_KW))
    return VehicleRequest(
        key=ref.key,
        group=ref.config.group,
        arrival=arrival,
        departure=max(departure, now),
        energy_needed_kwh=energy,
        max_power_kw=max_kw,
        connected=c.connected,
        soc_pct=c.soc_pct,
        energy_delivered_kwh=c.session_energy_kwh,
        station_id=ref.station_id,
        connector_id=ref.connector_id,
    )


def need_kw(v: VehicleRequest, now: datetime) -> float:
    """Required average power to deliver the rest by departure (the floor's priority)."""
    remaining = max(0.0, v.energy_needed_kwh - v.energy_delivered_kwh)
    hours = max((v.departure - now).total_seconds() / 3600, 0.25)
    return remaining / hours


def connector_views(
    cfg: EdgeConfig, vehicles: dict[str, VehicleRequest], now: datetime
) -> list[ConnectorView]:
    views = []
    for ref in controlled(cfg):
        v = vehicles[ref.key]
        views.append(
            ConnectorView(
                ref.key,
                ref.config.group,
                v.max_power_kw,
                v.connected,
                need_kw(v, now) if v.connected else 0.0,
            )
        )
    return views


def plan_request(
    cfg: EdgeConfig,
    vehicles: dict[str, VehicleRequest],
    site: SiteReadings,
    now: datetime,
    tariff: object | None,
    month_peak_kw: dict[str, float] | None = None,
) -> PlanRequest:
    windows = [
        GroupWindow(name, g.start_window.opens, g.start_window.closes)
        for name, g in cfg.groups.items()
        if g.start_window is not None
    ]
    return PlanRequest(
        now=now,
        timezone=cfg.site.timezone,
        vehicles=[v for v in vehicles.values() if v.connected],
        import_limit_kw=cfg.site.import_limit_kw - cfg.site.import_margin_kw,
        base_load_forecast_kw=[site.base_kw] if site.base_kw is not None else [],
        pv_forecast_kw=[max(0.0, -(site.meters["pv"] or 0.0))] if "pv" in site.meters else [],
        dcfc_forecast_kw=[site.meters["dcfc"] or 0.0] if "dcfc" in site.meters else [],
        tariff=tariff,
        month_peak_kw=dict(month_peak_kw or {}),
        windows=windows,
        shed_groups=[n for n, g in cfg.groups.items() if g.shed],
        shed_limit_kw=cfg.shed.limit_kw,
        shed_threshold_kw=cfg.shed.threshold_kw,
        min_power_kw=FLOOR_KW,
        time_limit_s=cfg.control.planner_timeout_s,
    )
