"""PV inverter output: clear-sky irradiance for the site's position and time, seeded clouds.

Sun position from the NOAA general solar position formulas (fractional year,
equation of time, declination, hour angle). Clear-sky global horizontal
irradiance from the Haurwitz model, GHI = 1098 cos(z) exp(-0.057 / cos(z)) W/m².
AC power = kWp x performance ratio x GHI / 1000 x cloud transmission. Clouds:
every 10 minutes a knot is cloudy with probability ``cloudiness`` and then
passes 20-70 % of the light; linear between knots. Deterministic for a seed.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import UTC, datetime

from simulators.site.noise import knot_value

CLOUD_KNOT_S = 600.0


@dataclass(frozen=True)
class PvSpec:
    peak_kw: float = 0.0  # kWp (DC nameplate)
    latitude_deg: float = 37.8
    longitude_deg: float = -122.27
    performance_ratio: float = 0.85
    cloudiness: float = 0.3  # probability a 10-min knot is cloudy
    seed: int = 1


def solar_cos_zenith(when: datetime, latitude_deg: float, longitude_deg: float) -> float:
    """Cosine of the solar zenith angle (negative when the sun is below the horizon)."""
    utc = when.astimezone(UTC)
    doy = utc.timetuple().tm_yday
    hour = utc.hour + utc.minute / 60 + utc.second / 3600
    g = 2 * math.pi / 365 * (doy - 1 + (hour - 12) / 24)
    eqtime_min = 229.18 * (
        0.000075
        + 0.001868 * math.cos(g)
        - 0.032077 * math.sin(g)
        - 0.014615 * math.cos(2 * g)
        - 0.040849 * math.sin(2 * g)
    )
    decl = (
        0.006918
        - 0.399912 * math.cos(g)
        + 0.070257 * math.sin(g)
        - 0.006758 * math.cos(2 * g)
        + 0.000907 * math.sin(2 * g)
        - 0.002697 * math.cos(3 * g)
        + 0.00148 * math.sin(3 * g)
    )
    true_solar_min = hour * 60 + eqtime_min + 4 * longitude_deg
    hour_angle = math.radians(true_solar_min / 4 - 180)
    lat = math.radians(latitude_deg)
    return math.sin(lat) * math.sin(decl) + math.cos(lat) * math.cos(decl) * math.cos(hour_angle)


def clear_sky_ghi_w_m2(when: datetime, latitude_deg: float, longitude_deg: float) -> float:
    cz = solar_cos_zenith(when, latitude_deg, longitude_deg)
    if cz <= 0.01:
        return 0.0
    return 1098.0 * cz * math.exp(-0.057 / cz)


def cloud_transmission(spec: PvSpec, when: datetime) -> float:
    t = when.timestamp() / CLOUD_KNOT_S
    i = int(t // 1)
    frac = t - i
    a, b = (_knot_transmission(spec, k) for k in (i, i + 1))
    return a + (b - a) * frac


def _knot_transmission(spec: PvSpec, index: int) -> float:
    if knot_value(spec.seed, "cloudy", index) >= spec.cloudiness:
        return 1.0
    return 0.2 + 0.5 * knot_value(spec.seed, "depth", index)


def pv_power_kw(spec: PvSpec, when: datetime) -> float:
    """AC output (positive number, kW) of the PV system at ``when``."""
    if spec.peak_kw <= 0:
        return 0.0
    ghi = clear_sky_ghi_w_m2(when, spec.latitude_deg, spec.longitude_deg)
    if ghi <= 0:
        return 0.0
    return spec.peak_kw * spec.performance_ratio * ghi / 1000.0 * cloud_transmission(spec, when)
