"""The tariff model: seasons, time-of-use periods, energy and demand rates, peak-day pricing.

A tariff is plain data loaded from TOML (see docs/tariffs.md); everything that
depends on time classifies an aware datetime in the tariff's own time zone, so
DST changes and holidays come out right without the caller's help.
"""

from __future__ import annotations

from datetime import date, datetime, time, timedelta
from typing import Literal
from zoneinfo import ZoneInfo

from pydantic import Field, field_validator, model_validator

from evcommon.config import Section

DayType = Literal["weekdays", "weekends", "all"]


def _parse_hhmm(text: str) -> time:
    if text == "24:00":
        return time(23, 59, 59, 999999)
    return time.fromisoformat(text)


class Season(Section):
    name: str
    start: str  # "MM-DD", inclusive; a season runs until the next season's start

    @field_validator("start")
    @classmethod
    def _mmdd(cls, value: str) -> str:
        month, _, day = value.partition("-")
        date(2000, int(month), int(day))  # raises ValueError on nonsense
        return value

    @property
    def month_day(self) -> tuple[int, int]:
        month, _, day = self.start.partition("-")
        return int(month), int(day)


class Period(Section):
    name: str
    seasons: list[str] = Field(default_factory=list)  # empty: every season
    days: DayType = "weekdays"
    hours: list[tuple[str, str]]  # local [start, end) pairs, "HH:MM"

    @field_validator("hours")
    @classmethod
    def _hours(cls, value: list[tuple[str, str]]) -> list[tuple[str, str]]:
        for start, end in value:
            _parse_hhmm(start), _parse_hhmm(end)
        return value

    def contains(self, local: datetime, season: str, holiday: bool) -> bool:
        if self.seasons and season not in self.seasons:
            return False
        weekend = local.weekday() >= 5 or holiday
        if (self.days == "weekdays" and weekend) or (self.days == "weekends" and not weekend):
            return False
        clock = local.time()
        return any(_parse_hhmm(a) <= clock < _parse_hhmm(b) for a, b in self.hours)


class DemandCharge(Section):
    name: str  # the key used in PlanRequest.month_peak_kw, e.g. "peak", "max"
    season: str | None = None  # None: all seasons
    periods: list[str] = Field(default_factory=list)  # empty: any time
    rate_per_kw: float = Field(ge=0)

    def applies(self, season: str, period: str) -> bool:
        if self.season is not None and self.season != season:
            return False
        return not self.periods or period in self.periods


class PeakDayPricing(Section):
    enrolled: bool = False  # PDP is opt-in: no adder and no credits unless enrolled
    adder_per_kwh: float = Field(ge=0)
    hours: list[tuple[str, str]] = [("14:00", "18:00")]
    seasons: list[str] = Field(default_factory=list)
    capacity_reservation_kw: float = Field(default=0.0, ge=0)
    event_days: list[date] = Field(default_factory=list)  # local dates
    credit_per_kw: dict[str, float] = Field(default_factory=dict)  # demand charge -> $/kW

    def in_event(self, local: datetime) -> bool:
        if not self.enrolled or local.date() not in self.event_days:
            return False
        clock = local.time()
        return any(_parse_hhmm(a) <= clock < _parse_hhmm(b) for a, b in self.hours)


class Tariff(Section):
    name: str
    timezone: str
    currency: str = "USD"
    demand_interval_min: int = Field(default=15, gt=0)
    default_period: str = "off_peak"
    billing_day: int = Field(default=1, ge=1, le=28)
    export_price_per_kwh: float | dict[str, float] = 0.0  # flat, or per period
    holidays: list[date] = Field(default_factory=list)
    seasons: list[Season] = Field(min_length=1)
    periods: list[Period] = Field(default_factory=list)
    energy: dict[str, dict[str, float]]  # season -> period -> $/kWh
    demand: list[DemandCharge] = Field(default_factory=list)
    pdp: PeakDayPricing | None = None

    @field_validator("timezone")
    @classmethod
    def _tz(cls, value: str) -> str:
        ZoneInfo(value)
        return value

    @model_validator(mode="after")
    def _consistent(self) -> Tariff:
        names = {s.name for s in self.seasons}
        period_names = {p.name for p in self.periods} | {self.default_period}
        for season in names:
            rates = self.energy.get(season)
            if rates is None:
                raise ValueError(f"energy.{season}: no energy rates for season {season!r}")
            for period in period_names:
                used = any(
                    not p.seasons or season in p.seasons for p in self.periods if p.name == period
                )
                if (used or period == self.default_period) and period not in rates:
                    raise ValueError(f"energy.{season}.{period}: rate missing")
        for charge in self.demand:
            if charge.season is not None and charge.season not in names:
                raise ValueError(f"demand.{charge.name}.season: unknown season {charge.season!r}")
        return self

    @property
    def zone(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)  # ZoneInfo caches instances itself

    def local(self, when: datetime) -> datetime:
        if when.tzinfo is None:
            raise ValueError("tariff times must be timezone-aware")
        return when.astimezone(self.zone)

    def season_on(self, day: date) -> str:
        ordered = sorted(self.seasons, key=lambda s: s.month_day)
        current = ordered[-1].name  # the last season wraps round the new year
        for season in ordered:
            if (day.month, day.day) >= season.month_day:
                current = season.name
        return current

    def classify(self, when: datetime) -> tuple[str, str]:
        """(season, time-of-use period) of the instant ``when``."""
        local = self.local(when)
        season = self.season_on(local.date())
        holiday = local.date() in self.holidays
        for period in self.periods:
            if period.contains(local, season, holiday):
                return season, period.name
        return season, self.default_period

    def energy_price(self, when: datetime, *, with_pdp: bool = True) -> float:
        season, period = self.classify(when)
        price = self.energy[season][period]
        if with_pdp and self.pdp is not None and self.pdp.in_event(self.local(when)):
            price += self.pdp.adder_per_kwh
        return price

    def export_price(self, when: datetime) -> float:
        if isinstance(self.export_price_per_kwh, dict):
            return self.export_price_per_kwh.get(self.classify(when)[1], 0.0)
        return self.export_price_per_kwh

    def demand_charges(self, when: datetime) -> list[DemandCharge]:
        """The demand charges whose period contains ``when``."""
        season, period = self.classify(when)
        return [c for c in self.demand if c.applies(season, period)]

    def billing_month(self, when: datetime) -> date:
        """First local day of the billing period containing ``when``."""
        local = self.local(when).date()
        start = local.replace(day=self.billing_day)
        if local.day < self.billing_day:
            start = (start.replace(day=1) - timedelta(days=1)).replace(day=self.billing_day)
        return start

    def with_events(self, days: list[date]) -> Tariff:
        """A copy with these peak-day pricing event days added."""
        if self.pdp is None:
            raise ValueError(f"tariff {self.name!r} has no peak-day pricing section")
        days = sorted({*self.pdp.event_days, *days})
        pdp = self.pdp.model_copy(update={"event_days": days, "enrolled": True})
        return self.model_copy(update={"pdp": pdp})
