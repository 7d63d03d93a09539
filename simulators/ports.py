"""What a simulated charging station needs from the vehicle plugged into it.

The station simulators (simulators/chargepoint) drive an :class:`EvLoad`; the
vehicle model (simulators/vehicle.py) implements it. Times are simulated.
"""

from __future__ import annotations

from datetime import datetime
from typing import Protocol


class EvLoad(Protocol):
    vehicle_id: str
    id_token: str
    phases: int  # phases the on-board charger uses (1, 2 or 3)

    def max_power_kw(self) -> float:
        """What the vehicle would draw now if offered unlimited power (on-board
        charger limit and the taper of its charging curve at the current SoC)."""
        ...

    def step(self, offered_kw: float, dt_s: float) -> float:
        """Charge for ``dt_s`` seconds with ``offered_kw`` offered by the station
        (already min'ed with the station's own limit); return the average kW drawn
        from the grid. Implements the battery-protection cut-off: an offer that is
        non-zero but below the vehicle's threshold (about 1.5 kW) draws nothing."""
        ...

    @property
    def soc_pct(self) -> float | None: ...

    @property
    def energy_drawn_kwh(self) -> float: ...

    @property
    def wants_to_stop(self) -> bool:
        """Full, or gave up after repeated interruptions (LBNL field behaviour)."""
        ...

    @property
    def departure_time(self) -> datetime | None: ...

    @property
    def energy_request_kwh(self) -> float | None: ...
