"""Build a :class:`SiteNetwork` from the ``[siting]`` config: built-in or described."""

from __future__ import annotations

import copy
import functools
from typing import Any

import pandapower as pp

from edge.siting.config import ChargerSpec, NetworkSpec, SitingSection
from edge.siting.ieee13 import build_ieee13
from edge.siting.network import Charger, SiteNetwork, load_pandapower_json

# The reference garage (LBNL report, Table 1): a 480 V service with four
# feeders: basement (fleet), 2nd floor, 8th floor (public L2) and the street
# level DC fast charger. Level-1 ports are left out (1.4 kW, not worth siting).
GARAGE_FEEDERS = {  # node -> (cable length m, L2 ports, DCFC kW)
    "basement": (40.0, 20, 0.0),
    "floor2": (60.0, 11, 0.0),
    "floor8": (120.0, 5, 0.0),
    "street": (30.0, 0, 50.0),
}


def garage_chargers() -> list[Charger]:
    out: list[Charger] = []
    for node, (_, ports, dcfc_kw) in GARAGE_FEEDERS.items():
        out += [Charger(f"{node}-{(i // 2) + 1:02d}", i % 2 + 1, node, 6.6) for i in range(ports)]
        if dcfc_kw:
            out.append(Charger(f"{node}-dcfc", 1, node, dcfc_kw, fast=True))
    return out


def build_garage(
    *, load_scale: float = 1.0, chargers: list[Charger] | None = None, site_id: str = "garage"
) -> SiteNetwork:
    net, nodes = _garage()
    net = copy.deepcopy(net)
    net.load["scaling"] = load_scale
    return SiteNetwork(
        site_id=site_id,
        net=net,
        nodes=dict(nodes),
        chargers=garage_chargers() if chargers is None else chargers,
        import_limit_kw=300.0,
    )


@functools.cache
def _garage() -> tuple[Any, dict[str, int]]:
    net = pp.create_empty_network(name="reference-garage", f_hz=60.0, sn_mva=1.0)
    grid = pp.create_bus(net, vn_kv=12.47, name="grid")
    service = pp.create_bus(net, vn_kv=0.48, name="service")
    pp.create_ext_grid(net, grid, vm_pu=1.0)
    pp.create_transformer_from_parameters(
        net,
        grid,
        service,
        sn_mva=0.3,
        vn_hv_kv=12.47,
        vn_lv_kv=0.48,
        vkr_percent=1.2,
        vk_percent=4.5,
        pfe_kw=0.0,
        i0_percent=0.0,
        name="utility",
    )
    pp.create_load(net, service, p_mw=0.060, q_mvar=0.020, name="building")
    nodes = {"service": int(service)}
    for node, (length_m, _, _) in GARAGE_FEEDERS.items():
        bus = pp.create_bus(net, vn_kv=0.48, name=node)
        nodes[node] = int(bus)
        # lighting and ventilation of the floor, kW per metre of cable run as a proxy
        pp.create_load(net, bus, p_mw=length_m / 20 * 0.001, name=f"{node}-aux")
        # 250 kcmil copper in conduit
        pp.create_line_from_parameters(
            net,
            service,
            bus,
            length_km=length_m / 1000,
            r_ohm_per_km=0.17,
            x_ohm_per_km=0.13,
            c_nf_per_km=0.0,
            max_i_ka=0.25,
            name=f"service-{node}",
        )
    return net, nodes


def build_inline(spec: NetworkSpec, *, site_id: str, chargers: list[Charger]) -> SiteNetwork:
    net = pp.create_empty_network(name=site_id, sn_mva=1.0)
    nodes = {b.name: int(pp.create_bus(net, vn_kv=b.vn_kv, name=b.name)) for b in spec.buses}
    pp.create_ext_grid(net, nodes[spec.grid_bus], vm_pu=spec.grid_vm_pu)
    for ln in spec.lines:
        pp.create_line_from_parameters(
            net,
            nodes[ln.from_bus],
            nodes[ln.to_bus],
            length_km=ln.length_km,
            r_ohm_per_km=ln.r_ohm_per_km,
            x_ohm_per_km=ln.x_ohm_per_km,
            c_nf_per_km=ln.c_nf_per_km,
            max_i_ka=ln.max_i_ka,
        )
    for t in spec.transformers:
        pp.create_transformer_from_parameters(
            net,
            nodes[t.hv_bus],
            nodes[t.lv_bus],
            sn_mva=t.sn_kva / 1000,
            vn_hv_kv=t.vn_hv_kv,
            vn_lv_kv=t.vn_lv_kv,
            vkr_percent=t.vkr_percent,
            vk_percent=t.vk_percent,
            pfe_kw=0.0,
            i0_percent=0.0,
        )
    for ld in spec.loads:
        pp.create_load(net, nodes[ld.bus], p_mw=ld.p_kw / 1000, q_mvar=ld.q_kvar / 1000)
    for pv in spec.pv:
        pp.create_sgen(net, nodes[pv.bus], p_mw=pv.p_kw / 1000, q_mvar=pv.q_kvar / 1000)
    return SiteNetwork(site_id=site_id, net=net, nodes=nodes, chargers=chargers)


def _chargers(specs: list[ChargerSpec]) -> list[Charger]:
    return [Charger(c.station_id, c.connector_id, c.node, c.max_power_kw, c.fast) for c in specs]


def build_site(config: SitingSection, *, site_id: str) -> SiteNetwork:
    """The site network the config describes (validated: unknown nodes are ConfigErrors)."""
    chargers = _chargers(config.chargers) if config.chargers else None
    if config.model == "ieee13":
        site = build_ieee13(load_scale=config.load_scale, chargers=chargers, site_id=site_id)
    elif config.model == "garage":
        site = build_garage(load_scale=config.load_scale, chargers=chargers, site_id=site_id)
    elif config.model == "json":
        assert config.network_json is not None and chargers is not None
        site = load_pandapower_json(config.network_json, site_id=site_id, chargers=chargers)
        if config.load_scale != 1.0:
            site.net.load["scaling"] *= config.load_scale
    else:
        assert config.network is not None and chargers is not None
        site = build_inline(config.network, site_id=site_id, chargers=chargers)
        if config.load_scale != 1.0:
            site.net.load["scaling"] *= config.load_scale
    site.base_profile = list(config.base_profile)
    site.pv_profile = list(config.pv_profile)
    if config.battery_node is not None:
        site.battery_node = config.battery_node
        site.__post_init__()
    if config.import_limit_kw is not None:
        site.import_limit_kw = config.import_limit_kw
    return site
