"""Pure composite-schedule maths for OCPP 1.6 and 2.0.1 charging profiles."""

from simulators.profiles.composite import (
    TxContext,
    active_period,
    applicable,
    composite_schedule,
    leading,
)
from simulators.profiles.model import (
    Composite,
    CompositePeriod,
    Electrical,
    Period,
    Profile,
    Purpose,
    RateUnit,
    Schedule,
)
from simulators.profiles.parse import (
    composite_to_v16,
    composite_to_v201,
    format_time,
    parse_time,
    profile_from_v16,
    profile_from_v201,
)

__all__ = [
    "Composite",
    "CompositePeriod",
    "Electrical",
    "Period",
    "Profile",
    "Purpose",
    "RateUnit",
    "Schedule",
    "TxContext",
    "active_period",
    "applicable",
    "composite_schedule",
    "composite_to_v16",
    "composite_to_v201",
    "format_time",
    "leading",
    "parse_time",
    "profile_from_v16",
    "profile_from_v201",
]
