"""Exports: whole-design phase map (and its checked reader), compact netlist, summary."""

from __future__ import annotations

import json

import numpy as np
import pytest
from test_circuit_helpers import rectangular_mesh, tiny_scenario

from optinc_pdk.circuit import build_description
from optinc_pdk.circuit.export import write_exports
from optinc_pdk.circuit.phases import description_from_phase_map
from optinc_pdk.circuit.random_weights import random_weights
from optinc_pdk.decompose.phasemap import load_phase_map, save_phase_map
from optinc_pdk.errors import OptincError
from optinc_pdk.simulate import compile_chain


@pytest.fixture(scope="module")
def exported(tmp_path_factory):
    scenario = tiny_scenario()
    weights = random_weights(scenario, 9)
    description = build_description(scenario, weights)
    folder = tmp_path_factory.mktemp("tiny")
    written = write_exports(description, folder)
    return scenario, weights, description, folder, written


def test_export_folder_holds_every_file(exported):
    _, _, description, folder, written = exported
    for name in ("phases.npz", "phases.json", "circuit.json", "summary.json"):
        assert (folder / name).is_file()
    assert set(written) == {"phase_map", "compact_netlist", "summary"}
    summary = json.loads((folder / "summary.json").read_text())
    assert summary["matches_area_report"] and summary["area_mismatches"] == []


def test_compact_netlist_lists_every_block_with_its_wiring(exported):
    _, _, description, folder, _ = exported
    compact = json.loads((folder / "circuit.json").read_text())
    assert compact["format"] == "optinc-circuit" and compact["version"] == 1
    by_name = {block["name"]: block for block in compact["blocks"]}
    assert set(by_name) == {block.name for block in description.walk()}
    mesh = by_name["L2/B1/U"]
    assert (mesh["kind"], mesh["n_modes"], mesh["n_mzis"], mesh["phases"]) == ("mesh", 6, 15, "L2/B1/U")
    tree = by_name["L3/sum"]
    assert (tree["kind"], tree["n_trees"], tree["n_leaves"], tree["n_elements"]) == ("combiner_trees", 4, 3, 8)
    assert tree["elements"]["ratio"] == [2 / 3, 1 / 2]
    layer = by_name["L1"]
    assert layer["children"] == ["L1/matrix", "L1/bias", "L1/relu"]
    assert layer["links"] == [[0, c, 1, c] for c in range(6)] + [[1, c, 2, c] for c in range(6)]


def test_phase_map_rebuilds_the_same_design(exported):
    scenario, weights, description, folder, _ = exported
    entries, sidecar = load_phase_map(folder / "phases")
    assert sidecar["design"]["servers"] == 3
    assert [record["name"] for record in sidecar["layers"]] == ["L1", "L1/bias", "L2", "L2/bias", "L3", "L3/bias"]
    assert sidecar["layers"][0]["optical_order"] == [["L1/B0/U", "L1/B0/D"], ["L1/B1/U", "L1/B1/D"]]
    rebuilt = description_from_phase_map(scenario, folder / "phases", weights)
    original, again = compile_chain(description), compile_chain(rebuilt)
    for a, b in zip(original.layer_matrices + original.layer_biases, again.layer_matrices + again.layer_biases):
        np.testing.assert_array_equal(a.matrix, b.matrix)
        np.testing.assert_array_equal(a.offset, b.offset)
    assert rebuilt.receiver_gain == description.receiver_gain
    without_weights = description_from_phase_map(scenario, folder / "phases")
    np.testing.assert_allclose(without_weights.layers[1].bias, weights.biases[1], rtol=0, atol=1e-12)


def test_phase_map_of_another_scenario_is_refused(exported):
    scenario, _, _, folder, _ = exported
    other = tiny_scenario(widths=(4, 8, 12, 4), name="other")
    with pytest.raises(OptincError, match=r"phases\.json: design\.widths: phase map has \[4, 6, 12, 4\]"):
        description_from_phase_map(other, folder / "phases")
    more_servers = tiny_scenario(servers=4, name="four")
    with pytest.raises(OptincError, match="design.servers"):
        description_from_phase_map(more_servers, folder / "phases")


def test_phase_map_entry_of_the_wrong_size_is_named(exported, tmp_path):
    scenario, _, _, folder, _ = exported
    entries, sidecar = load_phase_map(folder / "phases")
    entries["L2/B1/U"] = rectangular_mesh(5)
    for key in ("format", "version", "npz", "mzi", "meshes"):
        sidecar.pop(key)
    save_phase_map(tmp_path / "bad", entries, sidecar)
    with pytest.raises(OptincError, match=r"bad\.npz: L2/B1/U: mesh has 5 modes, the scenario needs 6"):
        description_from_phase_map(scenario, tmp_path / "bad")
    del entries["L2/B1/U"], entries["L2/B1/D"]
    sidecar["layers"][2]["optical_order"] = [sidecar["layers"][2]["optical_order"][0]]
    save_phase_map(tmp_path / "missing", entries, sidecar)
    with pytest.raises(OptincError, match="L2/B1/U: missing"):
        description_from_phase_map(scenario, tmp_path / "missing")
