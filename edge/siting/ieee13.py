"""A depot on the IEEE 13 node test feeder: a balanced (positive-sequence) equivalent.

pandapower's balanced load flow cannot carry the feeder's single- and two-phase
laterals and unbalanced loads as they are. The equivalent used here:

* three-phase segments use the positive-sequence impedance of their line
  configuration, ``Z1 = mean(self) - mean(mutual)`` of the published phase
  impedance matrix (ohm/mile), and ``B1`` likewise for the shunt susceptance;
* a lateral with ``k`` of the 3 phases carries the same power on ``k``
  conductors, so its series impedance is scaled by ``3/k`` (single phase:
  ``3 * Zself``; two phases: ``1.5 * (Zself - Zmutual/2)``, the mean drop of two
  currents 120 degrees apart) to keep the per-phase voltage drop;
* every load is the sum of its phases, spread over three phases, keeping its
  model (constant PQ, current or impedance); the distributed load of segment
  632-671 sits on node 670 at a third of the segment (as in the OpenDSS case);
* the three single-phase regulators become one ideal transformer whose ratio
  is the mean of the fixed taps 1.0625 / 1.0500 / 1.06875;
* the substation (115 kV) is the slack at node 650, 1.0 pu.

docs/siting.md compares the resulting voltages with the published ones
(edge/siting/data/ieee13_reference_voltages.csv).
"""

from __future__ import annotations

import copy
import csv
import functools
from pathlib import Path
from typing import Any

import pandapower as pp

from edge.siting.network import Charger, SiteNetwork

KV = 4.16
FT_KM = 0.0003048
MILE_KM = 1.609344
OMEGA = 2 * 3.141592653589793 * 60.0
REGULATOR_TAPS = (1.0625, 1.0500, 1.06875)
REFERENCE_CSV = Path(__file__).with_name("data") / "ieee13_reference_voltages.csv"

# Configuration -> (series ohm/mile, shunt uS/mile) of the balanced equivalent.
_Z601 = complex(0.3418, 1.0335) - complex(0.1558, 0.4367)
_B601 = (6.2998 + 5.9597 + 5.6386) / 3 - (-1.9958 - 1.2595 - 0.7417) / 3
_Z602 = complex(0.7479, 1.1970) - complex(0.1558, 0.4367)
_B602 = (5.6990 + 5.1795 + 5.4246) / 3 - (-1.0817 - 1.6905 - 0.6588) / 3
_Z603 = 1.5 * (complex(1.3266, 1.3520) - complex(0.2066, 0.4591) / 2)
_B603 = 1.5 * ((4.7097 + 4.6658) / 2 + 0.8999 / 2)
_Z604 = _Z603
_B604 = _B603
_Z605 = 3 * complex(1.3292, 1.3475)
_B605 = 3 * 4.5193
_Z606 = complex(0.79517, 0.43223) - complex(0.30777, 0.01710)
_B606 = 96.8897
_Z607 = 3 * complex(1.3425, 0.5124)
_B607 = 3 * 88.9912

CONFIGS: dict[str, tuple[complex, float]] = {
    "601": (_Z601, _B601),
    "602": (_Z602, _B602),
    "603": (_Z603, _B603),
    "604": (_Z604, _B604),
    "605": (_Z605, _B605),
    "606": (_Z606, _B606),
    "607": (_Z607, _B607),
}

# (from, to, length ft, configuration)
SEGMENTS: tuple[tuple[str, str, float, str], ...] = (
    ("RG60", "632", 2000, "601"),
    ("632", "670", 667, "601"),
    ("670", "671", 1333, "601"),
    ("632", "633", 500, "602"),
    ("632", "645", 500, "603"),
    ("645", "646", 300, "603"),
    ("671", "684", 300, "604"),
    ("684", "611", 300, "605"),
    ("684", "652", 800, "607"),
    ("671", "680", 1000, "601"),
    ("692", "675", 500, "606"),
)

# bus -> (kW, kvar, model) summed over phases; model: "PQ", "I" or "Z"
LOADS: dict[str, tuple[float, float, str]] = {
    "634": (400, 290, "PQ"),
    "645": (170, 125, "PQ"),
    "646": (230, 132, "Z"),
    "652": (128, 86, "Z"),
    "671": (1155, 660, "PQ"),
    "675": (843, 462, "PQ"),
    "692": (170, 151, "I"),
    "611": (170, 80, "I"),
    "670": (200, 116, "PQ"),
}
CAPACITORS_KVAR: dict[str, float] = {"675": 600, "611": 100}

# The 13 nodes of the feeder; 670 (distributed-load point) and RG60 are internal.
NODES = ("650", "632", "633", "634", "645", "646", "671", "680", "684", "611", "652", "692", "675")


def depot_chargers() -> list[Charger]:
    """Charging stations of the example depot: two 50 kW slow connectors on each
    node, plus a 350 kW fast charger on the three-phase trunk nodes."""
    chargers: list[Charger] = []
    for node in NODES:
        chargers.append(Charger(f"{node}-s", 1, node, 50.0))
        chargers.append(Charger(f"{node}-s", 2, node, 50.0))
    for node in ("632", "671", "680"):
        chargers.append(Charger(f"{node}-f", 1, node, 350.0, fast=True))
    return chargers


def build_ieee13(
    *, load_scale: float = 1.0, chargers: list[Charger] | None = None, site_id: str = "ieee13"
) -> SiteNetwork:
    """The balanced IEEE 13 depot; ``load_scale`` multiplies the feeder's own loads."""
    net, buses = _feeder()
    net = copy.deepcopy(net)  # building costs ~100x a copy (pandas tables)
    net.load["scaling"] = load_scale
    return SiteNetwork(
        site_id=site_id,
        net=net,
        nodes={n: buses[n] for n in NODES},
        chargers=depot_chargers() if chargers is None else chargers,
    )


@functools.cache
def _feeder() -> tuple[Any, dict[str, int]]:
    net = pp.create_empty_network(name="ieee13-balanced", f_hz=60.0, sn_mva=1.0)
    buses: dict[str, int] = {}
    for name in ("650", "RG60", "670", *NODES[1:]):
        vn = 0.48 if name == "634" else KV
        buses[name] = int(pp.create_bus(net, vn_kv=vn, name=name))
    pp.create_ext_grid(net, buses["650"], vm_pu=1.0, name="substation")
    ratio = sum(REGULATOR_TAPS) / len(REGULATOR_TAPS)
    pp.create_transformer_from_parameters(
        net,
        buses["650"],
        buses["RG60"],
        sn_mva=10.0,
        vn_hv_kv=KV,
        vn_lv_kv=KV * ratio,
        vkr_percent=0.0,
        vk_percent=0.001,
        pfe_kw=0.0,
        i0_percent=0.0,
        name="regulator",
    )
    pp.create_transformer_from_parameters(
        net,
        buses["633"],
        buses["634"],
        sn_mva=0.5,
        vn_hv_kv=KV,
        vn_lv_kv=0.48,
        vkr_percent=1.1,
        vk_percent=(1.1**2 + 2.0**2) ** 0.5,
        pfe_kw=0.0,
        i0_percent=0.0,
        name="XFM-1",
    )
    for a, b, length_ft, config in SEGMENTS:
        z, b_us = CONFIGS[config]
        pp.create_line_from_parameters(
            net,
            buses[a],
            buses[b],
            length_km=length_ft * FT_KM,
            r_ohm_per_km=z.real / MILE_KM,
            x_ohm_per_km=z.imag / MILE_KM,
            c_nf_per_km=b_us / MILE_KM / OMEGA * 1e3,
            max_i_ka=0.6,
            name=f"{a}-{b}",
        )
    # The closed switch 671-692 as a near-zero line: pandapower fuses buses joined by a
    # bus-bus switch and then applies the ZIP shares of their loads differently.
    pp.create_line_from_parameters(
        net,
        buses["671"],
        buses["692"],
        length_km=0.001,
        r_ohm_per_km=0.1,
        x_ohm_per_km=0.1,
        c_nf_per_km=0.0,
        max_i_ka=1.0,
        name="671-692 switch",
    )
    for name, (p_kw, q_kvar, model) in LOADS.items():
        pct = {"PQ": 0.0, "I": 100.0, "Z": 0.0}[model]
        zpct = 100.0 if model == "Z" else 0.0
        pp.create_load(
            net,
            buses[name],
            p_mw=p_kw / 1000,
            q_mvar=q_kvar / 1000,
            const_i_p_percent=pct,
            const_i_q_percent=pct,
            const_z_p_percent=zpct,
            const_z_q_percent=zpct,
            name=f"load-{name}",
        )
    for name, kvar in CAPACITORS_KVAR.items():
        pp.create_shunt(net, buses[name], q_mvar=-kvar / 1000, name=f"cap-{name}")
    return net, buses


def reference_bus_means(path: Path = REFERENCE_CSV) -> dict[str, float]:
    """Per-bus mean of the published (Kersting) per-phase voltages, pu."""
    sums: dict[str, list[float]] = {}
    with path.open(newline="") as fh:
        for row in csv.DictReader(fh):
            sums.setdefault(row["bus"], []).append(float(row["v_pu_published_kersting"]))
    return {bus: sum(v) / len(v) for bus, v in sums.items()}
