"""The ``[siting]`` section of the site config."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import Field, model_validator

from evcommon.config import Section


class ChargerSpec(Section):
    """Which network node a station connector sits on."""

    station_id: str = Field(min_length=1)
    connector_id: int = Field(default=1, ge=1)
    node: str = Field(min_length=1)
    max_power_kw: float = Field(gt=0)
    fast: bool = False


class BusSpec(Section):
    name: str = Field(min_length=1)
    vn_kv: float = Field(gt=0)


class LineSpec(Section):
    from_bus: str
    to_bus: str
    length_km: float = Field(gt=0)
    r_ohm_per_km: float = Field(ge=0)
    x_ohm_per_km: float = Field(ge=0)
    c_nf_per_km: float = Field(default=0.0, ge=0)
    max_i_ka: float = Field(default=1.0, gt=0)


class TransformerSpec(Section):
    hv_bus: str
    lv_bus: str
    sn_kva: float = Field(gt=0)
    vn_hv_kv: float = Field(gt=0)
    vn_lv_kv: float = Field(gt=0)
    vk_percent: float = Field(gt=0)
    vkr_percent: float = Field(default=1.0, ge=0)


class LoadSpec(Section):
    bus: str
    p_kw: float
    q_kvar: float = 0.0


class NetworkSpec(Section):
    """A compact network description: buses, lines, transformers, loads, PV, grid."""

    grid_bus: str
    grid_vm_pu: float = Field(default=1.0, gt=0)
    buses: list[BusSpec] = Field(min_length=1)
    lines: list[LineSpec] = Field(default_factory=list)
    transformers: list[TransformerSpec] = Field(default_factory=list)
    loads: list[LoadSpec] = Field(default_factory=list)
    pv: list[LoadSpec] = Field(default_factory=list)  # p_kw = rating

    @model_validator(mode="after")
    def _known_buses(self) -> NetworkSpec:
        names = {b.name for b in self.buses}
        refs = [("grid_bus", self.grid_bus)]
        refs += [
            (f"lines.{i}", x) for i, ln in enumerate(self.lines) for x in (ln.from_bus, ln.to_bus)
        ]
        refs += [
            (f"transformers.{i}", x)
            for i, t in enumerate(self.transformers)
            for x in (t.hv_bus, t.lv_bus)
        ]
        refs += [(f"loads.{i}", ld.bus) for i, ld in enumerate(self.loads)]
        refs += [(f"pv.{i}", p.bus) for i, p in enumerate(self.pv)]
        bad = [f"{where}: unknown bus {name!r}" for where, name in refs if name not in names]
        if bad:
            raise ValueError("; ".join(bad))
        return self


class SitingSection(Section):
    enabled: bool = False
    # "ieee13" | "garage" (built in), "json" (network_json) or "inline" (network)
    model: Literal["ieee13", "garage", "json", "inline"] = "garage"
    network_json: Path | None = None
    network: NetworkSpec | None = None
    chargers: list[ChargerSpec] = Field(default_factory=list)  # default: the model's own
    load_scale: float = Field(default=1.0, gt=0)  # multiplies the model's base loads
    base_profile: list[float] = Field(default_factory=list)  # per 15 min of the local day
    pv_profile: list[float] = Field(default_factory=list)
    battery_node: str | None = None
    import_limit_kw: float | None = Field(default=None, gt=0)
    strategy: Literal["process400", "spatial", "temporal"] = "process400"
    planner: str = "milp"  # edge.optimizer.registry name; falls back to "edf"
    v_min_pu: float = Field(default=0.88, gt=0)  # IEEE 1547 Category III
    v_max_pu: float = Field(default=1.10, gt=0)
    arrival_buffer_min: float = Field(default=0.0, ge=0)
    departure_buffer_min: float = Field(default=15.0, ge=0)
    max_departure_extension_min: float = Field(default=60.0, ge=0)  # flexible departures
    batch: bool = False  # True: site arrivals every batch_interval_s, not one by one
    batch_interval_s: int = Field(default=900, gt=0)
    horizon_intervals: int = Field(default=96, gt=0)
    spatial_w1: float = Field(default=1.0, ge=0)
    spatial_w2: float = Field(default=1.0, ge=0)
    price_per_kwh: float = Field(default=0.2, ge=0)

    @model_validator(mode="after")
    def _consistent(self) -> SitingSection:
        if self.v_min_pu >= self.v_max_pu:
            raise ValueError("v_min_pu must be below v_max_pu")
        if self.model == "json" and self.network_json is None:
            raise ValueError("model = 'json' needs network_json")
        if self.model == "inline" and self.network is None:
            raise ValueError("model = 'inline' needs a [siting.network] table")
        if self.model in ("json", "inline") and not self.chargers:
            raise ValueError(f"model = {self.model!r} needs [[siting.chargers]]")
        return self
