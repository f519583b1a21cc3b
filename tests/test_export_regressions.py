"""Regressions found by building every Table I scenario."""

from __future__ import annotations

import yaml

from optinc_pdk.circuit.builder import build_description
from optinc_pdk.circuit.random_weights import random_weights
from optinc_pdk.layout.netlists import design_netlists, write_netlists
from optinc_pdk.layout.planner import Planner
from optinc_pdk.spec.scenario import scenario_from_dict


def test_digit_weight_column_with_pass_through_exports_a_loadable_netlist(tmp_path):
    # G = 2: the averager's top digit passes straight through its weight column (b16n4 failed here)
    s = scenario_from_dict({"name": "g2", "bits": 8, "servers": 2, "widths": [2, 4, 4]})
    description = build_description(s, random_weights(s, 0))
    write_netlists(design_netlists(description.top, Planner(s.device)), tmp_path)
    path = tmp_path / "averager_weights.pic.yml"
    netlist = yaml.safe_load(path.read_text())
    components = [inst["component"] for inst in netlist["instances"].values()]
    # M·N·(G−1) = 4 attenuated digits, the other 4 of the 8 channels pass straight through
    assert components.count("mzi_attenuator") == 4 and components.count("straight") == 4
    assert len(netlist["ports"]) == 16  # 8 channels in, 8 out, all connected

    import gdsfactory as gf

    from optinc_pdk.pdk import activate_pdk

    activate_pdk()
    assert len([p for p in gf.read.from_yaml(str(path)).ports if p.port_type == "optical"]) == 16
