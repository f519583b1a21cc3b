"""The drawn-polygon connectivity check (optinc_pdk.layout.connectivity) passes on written layouts and
fails when a waveguide segment is deleted from the written GDS (issue 31, point 5)."""

from __future__ import annotations

import json

import klayout.db as kdb
import pytest
import yaml
from test_circuit_helpers import tiny_scenario
from test_fault_injection import SEED, SMALL

from optinc_pdk.circuit.builder import build_description
from optinc_pdk.circuit.random_weights import random_weights
from optinc_pdk.errors import OptincError
from optinc_pdk.layout import write_layout
from optinc_pdk.layout.connectivity import WAVEGUIDE_LAYER, check_connectivity, require_connected

WIDTH = 0.5  # DeviceGeometry().wg_width
SHAPES = {  # scenarios whose layouts hold every kind of intentionally open end
    "blocks": dict(servers=2, widths=(4, 6, 12, 4), approx=(1, 2, 3)),  # padded tall layer: dropped outputs
    "svd": dict(servers=3, widths=(4, 6, 3, 4), approx=()),  # Σ columns wider on one side, 3-leaf trees
}


def _layout(tmp_path_factory, name: str):
    scenario = tiny_scenario(name=name, **SHAPES[name])
    description = build_description(scenario, random_weights(scenario, SEED))
    out = tmp_path_factory.mktemp(name)
    result = write_layout(description, out, formats=("gds",), png=False)
    return description, result.paths["gds"]


@pytest.fixture(scope="module")
def blocks_layout(tmp_path_factory):
    return _layout(tmp_path_factory, "blocks")


def _without_shape(source, target, cell_prefix: str, count: int = 1):
    """Write ``source`` to ``target`` less the first ``count`` waveguide shapes of every cell named ``cell_prefix``…"""
    layout = kdb.Layout()
    layout.read(str(source))
    layer = layout.find_layer(*WAVEGUIDE_LAYER)
    deleted = 0
    for cell in layout.each_cell():
        if cell.name.startswith(cell_prefix):
            for shape in list(cell.shapes(layer).each())[:count]:
                cell.shapes(layer).erase(shape)
                deleted += 1
    assert deleted, f"no cell named {cell_prefix}…"
    layout.write(str(target))
    return target


@pytest.mark.parametrize("name", SHAPES)
def test_written_layout_has_exactly_the_open_ends_the_description_means(tmp_path_factory, name):
    description, gds = _layout(tmp_path_factory, name)
    result = check_connectivity(gds, description.top, WIDTH)
    assert result.count == result.expected and result.ok
    assert result.count > description.top.n_in + description.top.n_out  # attenuators, sources, relus are open too
    require_connected(result, gds)  # no exception


@pytest.mark.parametrize("cell_prefix", ["wires_", "route_arc", "sbend", "straight_L100", "dc_coupler"])
def test_a_deleted_waveguide_segment_is_reported(blocks_layout, tmp_path, cell_prefix):
    """One routed segment, a bend, an s-bend, an MZI arm, a coupler: each deletion opens the waveguide."""
    description, gds = blocks_layout
    faulty = _without_shape(gds, tmp_path / "faulty.gds", cell_prefix)
    result = check_connectivity(faulty, description.top, WIDTH)
    assert not result.ok and result.count > result.expected
    with pytest.raises(OptincError) as error:
        require_connected(result, faulty)
    assert str(faulty) in str(error.value) and "open waveguide ends" in str(error.value)
    assert "\n" not in str(error.value)


def test_one_deleted_routed_segment_opens_exactly_two_ends(blocks_layout, tmp_path):
    description, gds = blocks_layout
    layout = kdb.Layout()
    layout.read(str(gds))
    wires = next(cell for cell in layout.each_cell() if cell.name.startswith("wires_"))
    faulty = _without_shape(gds, tmp_path / "one.gds", wires.name)
    result = check_connectivity(faulty, description.top, WIDTH)
    instances = sum(1 for _ in layout.top_cells()[0].begin_instances_rec() if _.inst_cell().name == wires.name)
    assert result.count == result.expected + 2 * max(instances, 1)


@pytest.fixture
def small_yml(tmp_path):
    path = tmp_path / "small.yml"
    path.write_text(yaml.safe_dump(SMALL))
    return path


def test_build_reports_connectivity_and_fails_on_a_deleted_segment(run_cli, small_yml, tmp_path, monkeypatch):
    import optinc_pdk.flows.build as flows

    args = ["build", small_yml, "--random-weights", SEED, "--format", "gds", "--no-png", "--json"]
    code, out, _ = run_cli([*args, "-o", tmp_path / "good"])
    report = json.loads(out)
    assert code == 0 and report["verified"] is True
    assert report["connectivity"]["connected"] and report["connectivity"]["open_ends"] > 0
    assert "Drawn waveguide connectivity" in (tmp_path / "good" / "report.md").read_text()

    honest = flows._write_layout

    def drawn_with_a_gap(*args, **kwargs):  # a drawing bug: one routed segment missing from the written file
        written = honest(*args, **kwargs)
        gds = written["paths"]["gds"]
        _without_shape(gds, gds, "wires_")
        return written

    monkeypatch.setattr(flows, "_write_layout", drawn_with_a_gap)
    code, out, _ = run_cli([*args, "-o", tmp_path / "bad"])
    report = json.loads(out)
    assert report["verification"]["verified"] is True  # the simulation cannot see the drawing
    assert report["connectivity"]["connected"] is False
    assert report["verified"] is False
    assert json.loads((tmp_path / "bad" / "report.json").read_text())["verified"] is False
    assert code == 1


def test_layout_verb_checks_the_drawn_waveguides(run_cli, small_yml, tmp_path, monkeypatch):
    import optinc_pdk.layout as layout_api

    args = ["layout", small_yml, "--random-weights", SEED, "--format", "gds", "--no-png", "--json"]
    code, out, _ = run_cli([*args, "-o", tmp_path / "good"])
    assert code == 0 and json.loads(out)["connectivity"]["connected"] is True

    honest = layout_api.write_layout

    def drawn_with_a_gap(*args, **kwargs):
        result = honest(*args, **kwargs)
        _without_shape(result.paths["gds"], result.paths["gds"], "sbend")
        return result

    monkeypatch.setattr(layout_api, "write_layout", drawn_with_a_gap)
    code, out, _ = run_cli([*args, "-o", tmp_path / "bad"])
    assert json.loads(out)["connectivity"]["connected"] is False
    assert code == 1
