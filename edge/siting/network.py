"""The site's electrical network: a pandapower model plus where the chargers sit.

A :class:`SiteNetwork` names the nodes a vehicle can be sited on (node name ->
pandapower bus) and lists the chargers (station, connector, node, power,
fast or not). The feeder's own loads live in the pandapower ``load`` table
and are scaled over time by ``base_profile``; PV (``sgen``) by ``pv_profile``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandapower as pp

from evcommon.errors import ConfigError


@dataclass(frozen=True)
class Charger:
    station_id: str
    connector_id: int
    node: str
    max_power_kw: float
    fast: bool = False

    @property
    def key(self) -> str:
        return f"{self.station_id}/{self.connector_id}"


@dataclass
class SiteNetwork:
    site_id: str
    net: Any  # pandapowerNet
    nodes: dict[str, int]  # node name -> pandapower bus index
    chargers: list[Charger]
    base_profile: Sequence[float] = ()  # multiplier of the base loads per interval
    pv_profile: Sequence[float] = ()  # multiplier of the PV (sgen) rating per interval
    battery_node: str | None = None
    import_limit_kw: float = 1.0e6
    timezone: str = "UTC"  # profiles are per interval of the site's local day
    meta: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        for charger in self.chargers:
            if charger.node not in self.nodes:
                raise ConfigError(
                    f"charger {charger.key}: unknown network node {charger.node!r}",
                    keys=["siting.chargers"],
                )
        if self.battery_node is not None and self.battery_node not in self.nodes:
            raise ConfigError(f"unknown battery node {self.battery_node!r}")

    @property
    def candidate_nodes(self) -> list[str]:
        """Nodes with at least one charger, in network order."""
        have = {c.node for c in self.chargers}
        return [n for n in self.nodes if n in have]

    def chargers_at(self, node: str) -> list[Charger]:
        return [c for c in self.chargers if c.node == node]

    def charger(self, station_id: str, connector_id: int) -> Charger:
        for c in self.chargers:
            if c.station_id == station_id and c.connector_id == connector_id:
                return c
        raise KeyError(f"{station_id}/{connector_id}")

    def profile_value(self, profile: Sequence[float], index: int) -> float:
        if not profile:
            return 1.0
        return float(profile[min(index, len(profile) - 1)])

    @property
    def slow_power_kw(self) -> float:
        slow = [c.max_power_kw for c in self.chargers if not c.fast]
        return max(slow) if slow else 0.0


def load_pandapower_json(
    path: Path | str, *, site_id: str, chargers: list[Charger], battery_node: str | None = None
) -> SiteNetwork:
    """A site from a pandapower JSON file; nodes are the buses' names (or indices)."""
    if not Path(path).is_file():
        raise ConfigError("file not found", source=str(path), keys=["siting.network_json"])
    try:
        net = pp.from_json(str(path))
    except Exception as exc:  # pandapower raises assorted errors on bad files
        raise ConfigError(
            f"not a pandapower network: {exc}", source=str(path), keys=["siting.network_json"]
        ) from exc
    nodes: dict[str, int] = {}
    for idx, name in net.bus["name"].items():
        nodes[str(name) if isinstance(name, str) and name else str(idx)] = int(idx)
    return SiteNetwork(
        site_id=site_id, net=net, nodes=nodes, chargers=chargers, battery_node=battery_node
    )
