"""What the CSMS learns about a station's supply from what it reports (pure).

* AC or DC: a DC charger's meter has no per-phase values and a DC-level voltage
  (well above any phase-to-neutral AC voltage); a 2.0.1 NotifyEVChargingNeeds says
  ``energyTransferMode = DC``. For DC, kW <-> A is ``P = V x I`` (one "phase").
* The phase count: one meter sample is noise (L3 at 0.18 A in one sample is not a
  2-phase car), so :class:`PhaseTracker` only changes its count after the same
  count in several consecutive samples, and more still for a drop to 2 phases.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

from evcommon import contract

CurrentType = Literal["AC", "DC"]
PhasesSource = Literal["request", "config", "meter", "ev_needs", "dc", "default"]

DC_MIN_VOLTAGE_V = 300.0  # above any phase-to-neutral AC voltage (max 277 V)
PHASE_CURRENT_MIN_A = 0.5  # a phase carrying less than this is not in use
SAMPLES_TO_CHANGE = 3  # consecutive samples with the same count before it is learned
SAMPLES_TO_DROP_TO_2 = 5  # 2 phases is rare (and often noise on L3): more evidence
EV_NEEDS_PHASES = {"AC_single_phase": 1, "AC_two_phase": 2, "AC_three_phase": 3}


def phases_from_meter(event: contract.MeterValuesEvent) -> int | None:
    """Phases in use in one sample: the number of phases with current in the
    per-phase readings, else power / (voltage * current) when all three are given
    (needs a real load: at least 1 A). None when it cannot tell."""
    if event.current_a_phases:
        used = [
            k
            for k, a in event.current_a_phases.items()
            if k.startswith("L") and a > PHASE_CURRENT_MIN_A
        ]
        if 1 <= len(used) <= 3:
            return len(used)
    p, v, i = event.power_kw, event.voltage_v, event.current_a
    if p is None or v is None or i is None or i < 1.0 or v < 50:
        return None
    ratio = p * 1000.0 / (v * i)
    nearest = round(ratio)
    if 1 <= nearest <= 3 and abs(ratio - nearest) < 0.2:
        return int(nearest)
    return None


def current_type_from_meter(
    event: contract.MeterValuesEvent,
) -> tuple[CurrentType, dict[str, Any]] | None:
    """(AC or DC, the evidence) from one sample, or None when it does not tell.

    Per-phase values mean AC. No per-phase values and a voltage of at least
    DC_MIN_VOLTAGE_V mean DC (an AC meter reports phase-to-neutral voltages)."""
    if event.current_a_phases or event.power_kw_phases:
        phases = sorted({*(event.current_a_phases or {}), *(event.power_kw_phases or {})})
        return "AC", {"per_phase_values": phases}
    v = event.voltage_v
    if v is None or v < DC_MIN_VOLTAGE_V:
        return None
    evidence: dict[str, Any] = {
        "voltage_v": v,
        "per_phase_values": [],
        "min_dc_voltage_v": DC_MIN_VOLTAGE_V,
    }
    p, i = event.power_kw, event.current_a
    if p is not None and i is not None and i >= 1.0:
        # an AC meter giving a line-to-line voltage has P = sqrt(3) x V x I, not V x I
        ratio = p * 1000.0 / (v * i)
        if abs(ratio - 1.0) >= 0.2:
            return None
        evidence["power_over_v_times_i"] = round(ratio, 3)
    return "DC", evidence


def current_type_from_needs(
    event: contract.EVChargingNeeds,
) -> tuple[CurrentType, dict[str, Any]] | None:
    mode = event.energy_transfer_mode
    if not mode:
        return None
    kind: CurrentType = "DC" if mode.upper().startswith("DC") else "AC"
    return kind, {"energy_transfer_mode": mode}


def resolve_phases(
    *,
    requested: int | None,
    configured: int | None,
    ev_needs: int | None,
    metered: int | None,
    default: int,
) -> tuple[int, PhasesSource]:
    """The phases to convert with, and where they came from (first known wins)."""
    candidates: list[tuple[int | None, PhasesSource]] = [
        (requested, "request"),
        (configured, "config"),
        (ev_needs, "ev_needs"),
        (metered, "meter"),
    ]
    for value, source in candidates:
        if value:
            return value, source
    return default, "default"


@dataclass
class PhaseTracker:
    """The learned phase count of one connector, changed only on repeated evidence."""

    learned: int | None = None
    candidate: int | None = None
    streak: int = 0

    @staticmethod
    def needed(candidate: int) -> int:
        return SAMPLES_TO_DROP_TO_2 if candidate == 2 else SAMPLES_TO_CHANGE

    def observe(self, phases: int | None) -> bool:
        """Take one sample's count (None: no information, the streak is kept);
        True when the learned count changed."""
        if phases is None:
            return False
        if phases == self.learned:
            self.candidate, self.streak = None, 0
            return False
        if phases == self.candidate:
            self.streak += 1
        else:
            self.candidate, self.streak = phases, 1
        if self.streak < self.needed(phases):
            return False
        self.learned, self.candidate, self.streak = phases, None, 0
        return True
