"""Network models: the batched solver against pandapower, IEEE 13 against the
published voltages, config-described networks, and the 445-465 iteration."""

from __future__ import annotations

import numpy as np
import pandapower as pp
import pytest

from edge.siting.config import SitingSection
from edge.siting.ieee13 import build_ieee13, reference_bus_means
from edge.siting.models import build_garage, build_site
from edge.siting.powerflow import BatchPowerFlow
from edge.siting.process400 import SitingEngine
from evcommon.config import validate_section
from evcommon.errors import ConfigError
from tests.siting.helpers import NOW, arrival

# Buses on laterals fed by the lower phases of 671 (see docs/siting.md): the
# balanced equivalent cannot show that those phases sit ~0.022 pu below the mean.
LATERAL_TOLERANCE = {"684": 0.025, "611": 0.030}


def test_batched_solver_matches_pandapower() -> None:
    site = build_ieee13()
    pf = BatchPowerFlow(site)
    extra = pf.injections_mw({"675": np.array([0.0, 400.0]), "634": np.array([0.0, 150.0])}, 2)
    vm = pf.solve(np.array([1.0, 1.8]), extra)
    net = site.net
    pp.runpp(net, numba=False)
    assert np.abs(vm[0][pf.lookup] - net.res_bus.vm_pu.values).max() < 1e-6
    net.load["scaling"] = 1.8
    pp.create_load(net, site.nodes["675"], p_mw=0.4)
    pp.create_load(net, site.nodes["634"], p_mw=0.15)
    pp.runpp(net, numba=False)
    assert np.abs(vm[1][pf.lookup] - net.res_bus.vm_pu.values).max() < 1e-6
    assert vm[1].min() < 0.93  # the scaled case is far from the unloaded one


def test_collapse_reports_zero_voltage() -> None:
    pf = BatchPowerFlow(build_ieee13())
    vm = pf.solve(np.array([40.0]), np.zeros((1, pf.nb)))
    assert pf.node_voltages(vm, ["675"])[0, 0] == 0.0


def test_ieee13_within_target_of_published_per_bus_means() -> None:
    site = build_ieee13()
    pp.runpp(site.net, numba=False)
    ref = reference_bus_means()
    got = dict(zip(site.net.bus.name, site.net.res_bus.vm_pu, strict=True))
    errors = {bus: abs(got[bus] - v) for bus, v in ref.items()}
    for bus, err in errors.items():
        assert err <= LATERAL_TOLERANCE.get(bus, 0.02), (bus, got[bus], ref[bus])
    assert np.mean(list(errors.values())) < 0.01
    assert len(errors) == 14  # every published bus: the 13 nodes and RG60


def test_garage_model_has_the_reference_chargers() -> None:
    site = build_garage()
    assert site.candidate_nodes == ["basement", "floor2", "floor8", "street"]
    assert sum(c.node == "basement" for c in site.chargers) == 20
    assert [c.key for c in site.chargers if c.fast] == ["street-dcfc/1"]
    d = SitingEngine(site).site_vehicle(arrival("fleet-7", energy_kwh=30, max_power_kw=6.6), NOW)
    assert d.node == "street" or d.node in site.nodes  # sited somewhere real
    assert d.min_voltage_pu > 0.95


INLINE = {
    "model": "inline",
    "network": {
        "grid_bus": "lv",
        "buses": [
            {"name": "lv", "vn_kv": 0.4},
            {"name": "near", "vn_kv": 0.4},
            {"name": "far", "vn_kv": 0.4},
        ],
        "lines": [
            {
                "from_bus": "lv",
                "to_bus": "near",
                "length_km": 0.1,
                "r_ohm_per_km": 0.2,
                "x_ohm_per_km": 0.08,
            },
            {
                "from_bus": "lv",
                "to_bus": "far",
                "length_km": 1.0,
                "r_ohm_per_km": 0.3,
                "x_ohm_per_km": 0.08,
            },
        ],
        "loads": [{"bus": "near", "p_kw": 150.0}],
    },
    "chargers": [
        {"station_id": "near-1", "node": "near", "max_power_kw": 100.0},
        {"station_id": "far-1", "node": "far", "max_power_kw": 100.0},
    ],
}


def test_iteration_drops_a_node_that_dispatch_pushes_under_voltage() -> None:
    cfg = validate_section(SitingSection, INLINE, source="test")
    site = build_site(cfg, site_id="inline")
    d = SitingEngine(site).site_vehicle(arrival("ev", hours=3, energy_kwh=200), NOW)
    # far is at 1.0 pu unloaded and picked first; 100 kW there takes it below 0.88
    assert "far" in d.dropped and "after dispatch" in d.dropped["far"]
    assert d.node == "near" and d.iterations == 2 and d.path == "direct"
    assert d.min_voltage_pu >= 0.88


def test_config_errors_name_the_key() -> None:
    bad = dict(INLINE, chargers=[{"station_id": "x", "node": "nowhere", "max_power_kw": 7}])
    cfg = validate_section(SitingSection, bad, source="site.toml")
    with pytest.raises(ConfigError, match="unknown network node 'nowhere'"):
        build_site(cfg, site_id="s")
    net = dict(INLINE["network"], grid_bus="missing")  # type: ignore[arg-type]
    with pytest.raises(ConfigError, match="network"):
        validate_section(SitingSection, dict(INLINE, network=net), source="site.toml")
    with pytest.raises(ConfigError, match="v_min_pu"):
        validate_section(SitingSection, {"v_min_pu": 1.2}, source="site.toml")
    with pytest.raises(ConfigError, match="strategy"):
        validate_section(SitingSection, {"strategy": "nearest"}, source="site.toml")


def test_pandapower_json_network(tmp_path) -> None:  # type: ignore[no-untyped-def]
    path = tmp_path / "net.json"
    pp.to_json(build_ieee13().net, str(path))
    cfg = validate_section(
        SitingSection,
        {
            "model": "json",
            "network_json": str(path),
            "chargers": [{"station_id": "a", "node": "675", "max_power_kw": 50}],
        },
        source="t",
    )
    site = build_site(cfg, site_id="j")
    assert site.candidate_nodes == ["675"]
    assert SitingEngine(site).site_vehicle(arrival("ev"), NOW).node == "675"
    missing = cfg.model_copy(update={"network_json": tmp_path / "nope.json"})
    with pytest.raises(ConfigError, match="file not found"):
        build_site(missing, site_id="j")
