"""Build siting engines from what the daemon has: its config, or ready networks.

``site`` may be
* a :class:`SiteNetwork` (used as it is),
* the daemon's whole config (``.site`` with ``id``/``timezone``/``import_limit_kw``
  and ``.stations``: name -> station with ``connectors`` id -> {node, max_power_kw}),
* just the ``[site]`` section (chargers then come from ``[[siting.chargers]]`` or
  the network model's own),
* a list or dict of these: several sites under one controller ([0081]).

A connector is a fast charger when it can draw more than 22 kW (the most an AC
connector can), i.e. a DC fast charger.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from edge.planning import Planner
from edge.siting.config import SitingSection
from edge.siting.decision import SitingParams
from edge.siting.edf import EdfPlanner
from edge.siting.models import build_site
from edge.siting.multisite import MultiSiteEngine
from edge.siting.network import Charger, SiteNetwork
from edge.siting.process400 import SitingEngine
from edge.siting.strategies import StrategyEngine

AC_MAX_KW = 22.0


def default_planner(name: str = "milp", optimizer_config: Any = None) -> Planner:
    """The optimizer's planner by name when it is installed, else the built-in EDF."""
    try:
        from edge.optimizer.config import OptimizerSection
        from edge.optimizer.registry import PLANNERS

        return PLANNERS[name](optimizer_config or OptimizerSection())
    except Exception:  # optimizer missing or broken: siting still works
        return EdfPlanner()


def chargers_from_stations(stations: Mapping[str, Any]) -> list[Charger]:
    out = []
    for name, st in stations.items():
        sid = getattr(st, "station_id", None) or name
        for cid, conn in getattr(st, "connectors", {}).items():
            node = getattr(conn, "node", None)
            if node is None:
                continue
            kw = float(conn.max_power_kw)
            out.append(Charger(sid, int(cid), node, kw, fast=kw > AC_MAX_KW))
    return out


def site_network(config: SitingSection, site: Any) -> SiteNetwork:
    if isinstance(site, SiteNetwork):
        return site
    section = getattr(site, "site", site)  # whole config or its [site] section
    site_id = str(getattr(section, "id", None) or getattr(section, "site_id", None) or site)
    net = build_site(config, site_id=site_id)
    stations = getattr(site, "stations", None)
    if not config.chargers and stations:
        chargers = chargers_from_stations(stations)
        if chargers:
            net.chargers = chargers
            net.__post_init__()  # unknown nodes are config errors
    net.timezone = str(getattr(section, "timezone", net.timezone))
    limit = getattr(section, "import_limit_kw", None)
    if config.import_limit_kw is None and limit:
        net.import_limit_kw = float(limit)
    return net


def build_engine(
    config: SitingSection, site: Any, planner: Planner | None = None
) -> SitingEngine | MultiSiteEngine:
    """One engine per site; a :class:`MultiSiteEngine` over them when there are several."""
    if isinstance(site, Mapping):
        items = list(site.values())
    elif isinstance(site, Sequence) and not isinstance(site, str):
        items = list(site)
    else:
        items = [site]
    params = SitingParams.from_config(config)
    planner = planner or default_planner(config.planner)
    cls = SitingEngine if config.strategy == "process400" else StrategyEngine
    engines = {}
    for item in items:
        net = site_network(config, item)
        engines[net.site_id] = cls(net, params, planner=planner)
    if len(engines) == 1:
        return next(iter(engines.values()))
    return MultiSiteEngine(engines)
