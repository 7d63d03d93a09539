"""Building base load shaped like the LBNL reference garage (about 65 kW peak before EVs).

The report (Figure 4 and p. 443) shows a monthly peak of about 65 kW before EV
charging, a daytime plateau on weekdays and a night valley around half of it.
We use an hourly shape (fraction of the peak at each local hour, interpolated
linearly between hour midpoints), a lower weekend shape, and a few percent of
seeded smooth noise.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from zoneinfo import ZoneInfo

from simulators.site.noise import smooth_noise

# fraction of the peak by local hour (value at hh:30)
WEEKDAY_SHAPE = (
    0.46, 0.45, 0.45, 0.45, 0.46, 0.50, 0.58, 0.70, 0.84, 0.93, 0.97, 0.99,
    1.00, 0.99, 0.97, 0.93, 0.88, 0.80, 0.70, 0.62, 0.56, 0.52, 0.49, 0.47,
)  # fmt: skip
WEEKEND_SHAPE = (
    0.44, 0.43, 0.43, 0.43, 0.43, 0.44, 0.46, 0.50, 0.54, 0.58, 0.61, 0.63,
    0.64, 0.64, 0.63, 0.61, 0.58, 0.55, 0.52, 0.50, 0.48, 0.46, 0.45, 0.44,
)  # fmt: skip
# apartment building (common areas, garage lighting and ventilation, heat pumps):
# morning and evening peaks, same on every day
RESIDENTIAL_SHAPE = (
    0.45, 0.42, 0.40, 0.40, 0.42, 0.50, 0.70, 0.85, 0.75, 0.62, 0.58, 0.58,
    0.60, 0.58, 0.58, 0.62, 0.75, 0.90, 1.00, 0.98, 0.92, 0.80, 0.65, 0.52,
)  # fmt: skip


@dataclass(frozen=True)
class BaseLoadSpec:
    profile: str = "commercial"  # "commercial" (LBNL garage) or "residential"
    peak_kw: float = 65.0
    weekend_factor: float = 1.0  # scales the weekend shape (already lower)
    noise_pct: float = 3.0  # +- this percent of the shaped value
    seed: int = 1


def _shape_value(shape: tuple[float, ...], hour_float: float) -> float:
    x = hour_float - 0.5
    i = int(x // 1)
    frac = x - i
    a = shape[i % 24]
    b = shape[(i + 1) % 24]
    return a + (b - a) * frac


def base_load_kw(spec: BaseLoadSpec, when: datetime, tz: ZoneInfo) -> float:
    """Building load at ``when`` (aware) for a site in ``tz``."""
    local = when.astimezone(tz)
    hour = local.hour + local.minute / 60 + local.second / 3600
    if spec.profile == "residential":
        frac = _shape_value(RESIDENTIAL_SHAPE, hour)
    elif local.weekday() >= 5:
        frac = _shape_value(WEEKEND_SHAPE, hour) * spec.weekend_factor
    else:
        frac = _shape_value(WEEKDAY_SHAPE, hour)
    noise = 2.0 * smooth_noise(spec.seed, "base", when, 300.0) - 1.0
    return max(0.0, spec.peak_kw * frac * (1.0 + noise * spec.noise_pct / 100.0))
