"""Whole-design netlists (optinc_pdk.layout.netlists) against gdsfactory, the drawn GDS and sax.

* every level round-trips: ``gf.read.from_yaml`` rebuilds it (children from the registered
  folder), and its ``get_netlist()`` gives back the same instances, components, settings (to the
  last bit, give or take the one ulp of gdsfactory's decimal rounding), placements, nets and ports;
* the placements are the GDS's: every MZI of the written layout sits where the netlists put it;
* sax on the whole chip's netlist equals the project's simulation of the description (1e-9),
  bias light included.
"""

from __future__ import annotations

import klayout.db as kdb
import numpy as np
import pytest
import yaml
from test_circuit_helpers import tiny_scenario

from optinc_pdk.circuit.builder import build_description
from optinc_pdk.circuit.random_weights import random_weights
from optinc_pdk.layout import write_layout
from optinc_pdk.layout.netlists import SUFFIX, design_netlists, netlist_name, registered_netlists
from optinc_pdk.layout.planner import Planner
from optinc_pdk.pdk.netlists import SETTINGS_DIGITS
from optinc_pdk.pdk.ports import east_port, west_port


@pytest.fixture(scope="module")
def tiny_build(tmp_path_factory):
    """3 servers (3-leaf trees with ratio 2/3), a padded tall layer: the awkward cases, drawn and netlisted."""
    scenario = tiny_scenario()
    description = build_description(scenario, random_weights(scenario, 4))
    out = tmp_path_factory.mktemp("tiny_netlists")
    result = write_layout(description, out, formats=("gds",), png=False, netlists=True)
    folder = out / "netlists"
    netlists = {path.name[: -len(SUFFIX)]: yaml.safe_load(path.read_text()) for path in folder.glob(f"*{SUFFIX}")}
    return description, result, folder, netlists


def test_every_block_has_its_level_and_the_top_places_the_design(tiny_build):
    description, result, _, netlists = tiny_build
    assert set(netlists) == {netlist_name(b, result.name) for b in description.top.walk()} | {result.name}
    top = netlists[result.name]
    assert top["instances"] == {"optinc": {"component": "tiny_optinc"}}
    mesh = next(b for b in description.top.walk() if b.kind == "mesh")
    level = netlists[netlist_name(mesh, result.name)]
    assert level["instances"]["mzi0"]["settings"] == {"theta": float(mesh.theta[0]), "phi": float(mesh.phi[0])}
    assert sum(i["component"] == "phase_shifter" for i in level["instances"].values()) == mesh.n_modes


def test_non_power_of_two_trees_carry_their_ratios_into_the_cells(tiny_build):
    import gdsfactory as gf

    _, _, folder, netlists = tiny_build
    with registered_netlists(folder):
        trees = gf.read.from_yaml(folder / f"tiny_averager_sum{SUFFIX}")
    assert [i["settings"] for i in netlists["tiny_averager_sum"]["instances"].values()] == [{"n_inputs": 3}] * 4
    ratios = sorted(node.cell.info["ratio"] for tree in trees.insts for node in tree.cell.insts
                    if node.cell.name.startswith("combiner_2x1"))
    assert ratios == pytest.approx([0.5] * 4 + [2 / 3] * 4)  # four 3-leaf trees: 2/3 at the root, 1/2 below


def assert_round_trip(folder, name: str, ours: dict) -> None:
    import gdsfactory as gf

    component = gf.read.from_yaml(folder / f"{name}{SUFFIX}")
    theirs = component.get_netlist(serialization_max_digits=SETTINGS_DIGITS)
    assert set(theirs["instances"]) == set(ours["instances"]), name
    for instance, entry in ours["instances"].items():
        got = theirs["instances"][instance]
        assert got["component"] == entry["component"], (name, instance)
        settings = got.get("settings", {})
        # gdsfactory rounds floats to SETTINGS_DIGITS decimals on the way out: equal to the last bit or one ulp
        assert {k: settings[k] for k in entry.get("settings", {})} == pytest.approx(entry.get("settings", {}),
                                                                                   rel=1e-15, abs=1e-15), (name, instance)
        placed, expected = theirs["placements"][instance], ours["placements"][instance]
        assert (placed["x"], placed["y"]) == pytest.approx((expected["x"], expected["y"]), abs=1e-3), (name, instance)
    assert sorted((n["p1"], n["p2"]) for n in theirs["nets"]) == sorted((n["p1"], n["p2"]) for n in ours["nets"]), name
    assert theirs["ports"] == ours["ports"], name


def test_every_level_round_trips_through_gdsfactory(tiny_build):
    _, _, folder, netlists = tiny_build
    with registered_netlists(folder):
        for name, ours in netlists.items():
            assert_round_trip(folder, name, ours)


def test_min_power_arms_are_mzi_settings_that_round_trip(tmp_path):
    """``--min-power``: each mesh MZI's arms are settings of its ``mzi2x2``, and gdsfactory rebuilds the same cells."""
    import gdsfactory as gf

    from optinc_pdk.circuit.arms import least_power_block

    scenario = tiny_scenario()
    description = build_description(scenario, random_weights(scenario, 4))
    top = least_power_block(description.top)
    result = write_layout(top, tmp_path, formats=("gds",), png=False, netlists=True, name="arms")
    folder = tmp_path / "netlists"
    netlists = {path.name[: -len(SUFFIX)]: yaml.safe_load(path.read_text()) for path in folder.glob(f"*{SUFFIX}")}
    moved = 0
    for mesh in (b for b in top.walk() if b.kind == "mesh"):
        instances = netlists[netlist_name(mesh, result.name)]["instances"]
        for k in range(mesh.n_mzis):
            settings = instances[f"mzi{k}"]["settings"]
            assert settings.get("theta_lower", False) == bool(mesh.theta_lower[k])
            assert settings.get("phi_lower", False) == bool(mesh.phi_lower[k])
            moved += bool(mesh.theta_lower[k] or mesh.phi_lower[k])
    assert moved > 0
    with registered_netlists(folder):
        for name, ours in netlists.items():
            assert_round_trip(folder, name, ours)
        mesh = next(b for b in top.walk() if b.kind == "mesh" and b.phases.any_lower)
        rebuilt = gf.read.from_yaml(folder / f"{netlist_name(mesh, result.name)}{SUFFIX}")
        k = int(np.flatnonzero(mesh.theta_lower | mesh.phi_lower)[0])
        cell = next(inst.cell for inst in rebuilt.insts if inst.name == f"mzi{k}")
        assert cell.settings["theta_lower"] == bool(mesh.theta_lower[k])
        assert cell.settings["phi_lower"] == bool(mesh.phi_lower[k])


def _netlist_mzis(netlists: dict, name: str, x: float = 0.0, y: float = 0.0) -> list[tuple[float, float]]:
    found = []
    for instance, entry in netlists[name]["instances"].items():
        place = netlists[name]["placements"][instance]
        if entry["component"] in netlists:
            found += _netlist_mzis(netlists, entry["component"], x + place["x"], y + place["y"])
        elif entry["component"].startswith("mzi"):
            found.append((round(x + place["x"], 3), round(y + place["y"], 3)))
    return found


def _gds_mzis(path) -> list[tuple[float, float]]:
    layout = kdb.Layout()
    layout.read(str(path))
    top = layout.top_cell()
    found = []
    iterator = top.begin_instances_rec()
    while not iterator.at_end():
        cell = layout.cell(iterator.inst_cell().cell_index())
        if cell.name.startswith("mzi"):
            disp = (iterator.trans() * iterator.inst_trans()).disp
            found.append((round(disp.x * layout.dbu, 3), round(disp.y * layout.dbu, 3)))
        iterator.next()
    return found


def test_placements_are_the_drawn_gds(tiny_build):
    _, result, _, netlists = tiny_build
    drawn = sorted(_gds_mzis(result.paths["gds"]))
    assert len(drawn) == result.mzis == result.expected_mzis  # every MZI, arrays expanded
    assert sorted(_netlist_mzis(netlists, result.name)) == drawn


@pytest.mark.parametrize("min_power", [False, True], ids=["upper_arms", "min_power_arms"])
def test_sax_on_the_whole_chip_equals_the_simulation(min_power):
    """One layer (no nonlinear unit, so the whole chip is linear): averager, blocks, bias, broadcast; with
    ``--min-power`` heater arms, which the netlists carry as ``mzi2x2`` settings."""
    sax = pytest.importorskip("sax")
    from optinc_pdk.circuit.arms import least_power_block, lower_heaters
    from optinc_pdk.pdk.netlists import sax_flat
    from optinc_pdk.simulate.stages import compile_block

    scenario = tiny_scenario(servers=3, bits=4, widths=(2, 2), approx=(1,), name="linear")
    top = build_description(scenario, random_weights(scenario, 3)).top
    if min_power:
        top = least_power_block(top)
        assert lower_heaters(top) > 0
    netlists = design_netlists(top, Planner(scenario.device), name="linear")
    netlist, models = sax_flat(netlists, "linear")
    s = sax.circuit(netlist, models=models, backend="klu")[0]()
    n_in, n_out = top.n_in, top.n_out
    east = [east_port(j, n_in, n_out) for j in range(n_out)]
    matrix = np.array([[complex(s.get((west_port(i, n_in), e), 0)) for i in range(n_in)] for e in east])
    sources = [b for b in top.walk() if b.kind == "source"]
    bias_ports = [p for p in netlists["linear"]["ports"] if p.endswith("bias_in")]  # one source: L1's bias
    assert len(sources) == len(bias_ports) == 1
    offset = np.array([complex(s.get((bias_ports[0], e), 0)) for e in east]) * sources[0].amplitude
    stage = compile_block(top)
    expected_offset = stage.apply(np.zeros((1, n_in), dtype=complex))[0]
    expected = (stage.apply(np.eye(n_in, dtype=complex)) - expected_offset).T
    assert np.abs(expected).max() > 0.05 and np.abs(expected_offset).max() > 0.01  # a real signal on both paths
    np.testing.assert_allclose(matrix, expected, rtol=0, atol=1e-9)
    np.testing.assert_allclose(offset, expected_offset, rtol=0, atol=1e-9)
