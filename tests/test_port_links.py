"""Optical connectivity port to port (optinc_pdk.layout.port_links, issue 28 point 6): every distinct block cell of a
written layout connects its device ports as the block's netlist says; a mutated GDS shows the exact mismatch."""

from __future__ import annotations

import klayout.db as kdb
import pytest
from test_circuit_helpers import tiny_scenario
from test_connectivity import SHAPES, WIDTH
from test_fault_injection import SEED

from optinc_pdk.circuit.builder import build_description
from optinc_pdk.circuit.random_weights import random_weights
from optinc_pdk.errors import OptincError
from optinc_pdk.layout import write_layout
from optinc_pdk.layout.connectivity import WAVEGUIDE_LAYER, exposed_ends
from optinc_pdk.layout.planner import Planner
from optinc_pdk.layout.port_links import check_port_links, compare_links, require_linked
from optinc_pdk.layout.readback import read_layout


def _written(tmp_path_factory, name: str):
    scenario = tiny_scenario(name=name, **SHAPES[name])
    description = build_description(scenario, random_weights(scenario, SEED))
    result = write_layout(description, tmp_path_factory.mktemp(name), formats=("gds",), png=False)
    return description, Planner(scenario.device), result.paths["gds"]


@pytest.fixture(scope="module")
def blocks(tmp_path_factory):
    return _written(tmp_path_factory, "blocks")


@pytest.mark.parametrize("name", SHAPES)
def test_every_written_block_cell_connects_as_its_netlist(tmp_path_factory, name):
    description, planner, gds = _written(tmp_path_factory, name)
    result = check_port_links(gds, description.top, planner, WIDTH)
    assert result.mismatches == 0 and result.wiring_mismatches == 0 and result.ok, result.to_dict()
    composites = [block for block in description.top.walk() if hasattr(block, "links")]
    assert result.wiring >= max(len(block.links) for block in composites) > 0
    assert result.blocks == len({planner.plan(block).key for block in description.top.walk()})
    assert result.connections > description.top.n_in + description.top.n_out
    require_linked(result, gds)  # no exception


def _check(layout: kdb.Layout, blocks) -> tuple:
    description, planner, _ = blocks
    return compare_links(layout, description.top, planner, WIDTH, examples=50), exposed_ends(layout, WIDTH).shape[0]


def _cell(layout: kdb.Layout, prefix: str) -> kdb.Cell:
    return next(cell for cell in layout.each_cell() if cell.name.startswith(prefix))


def _clean(blocks) -> tuple:
    layout = read_layout(blocks[2])
    return layout, _check(layout, blocks)[1]


def test_two_swapped_mesh_columns_abut_everywhere_yet_are_found(blocks):
    """The open-ends count cannot see it: both column kinds of a 4-mode Clements mesh expose the same 8 ends. The
    outer modes 0 and 3 now meet an MZI where a bypass straight was and the other way round: along each, its 3
    connections (west port → first MZI, MZI → MZI over a straight, last MZI → phase shifter) are wired differently,
    so 2 modes x 3 connections are missing and as many others found: 12."""
    layout, open_before = _clean(blocks)
    mesh = _cell(layout, "mesh_n4")
    columns = [inst for inst in mesh.each_inst() if layout.cell(inst.cell_index).name.startswith("mesh_column")]
    first, second = columns[0].cell_index, columns[1].cell_index
    assert first != second
    columns[0].cell_index, columns[1].cell_index = second, first
    result, open_after = _check(layout, blocks)
    assert open_after == open_before  # the old check passes
    assert result.mismatches == 12 and len(result.missing) == len(result.extra) == 6
    assert all(text.startswith("L1/B0/U: ") for text in result.missing + result.extra)  # the first 4-mode mesh


def test_a_deleted_mzi_loses_its_four_connections_in_each_member(blocks):
    """The column holding one MZI is placed twice in the mesh: 2 MZIs x (4 connections missing + the 4 neighbours
    they joined left alone) = 16."""
    layout, _ = _clean(blocks)
    column = _cell(layout, "mesh_column_n4")
    singles = [inst for inst in column.each_inst() if layout.cell(inst.cell_index).name.startswith("mzi")
               and not inst.is_regular_array()]
    if not singles:
        column = next(c for c in layout.each_cell() if c.name.startswith("mesh_column_n4") and c is not column)
        singles = [inst for inst in column.each_inst() if layout.cell(inst.cell_index).name.startswith("mzi")
                   and not inst.is_regular_array()]
    placed = sum(inst.size() for parent in layout.each_cell() for inst in parent.each_inst()
                 if inst.cell_index == column.cell_index())
    singles[0].delete()
    result, _ = _check(layout, blocks)
    assert placed == 2 and result.mismatches == placed * (4 + 4)
    assert len(result.missing) == 4 * placed


def test_a_moved_piece_breaks_one_connection_into_three(blocks):
    """One routed straight (the first of its channel, at a block's east port) moved 1 µm sideways: its connection is
    missing; found instead the port alone, the loose piece (two loose ends) and the rest of the path (one): 1 + 3."""
    layout, _ = _clean(blocks)
    wires = _cell(layout, "wires_matrix_4x12")
    shape = next(iter(wires.shapes(layout.find_layer(*WAVEGUIDE_LAYER)).each()))
    shape.transform(kdb.Trans(0, 1000))
    result, _ = _check(layout, blocks)
    assert result.mismatches == 4 and len(result.missing) == 1 and len(result.extra) == 3
    # the permutation view: the one channel pair of the description that path realised is not drawn
    assert result.wiring_mismatches == 1 and result.wiring_wrong[0].startswith("L3/matrix: not drawn: ")
    assert sorted(text.count("loose end") for text in result.extra) == [0, 1, 2]


def test_a_deleted_crossing_breaks_both_paths_through_it(blocks):
    """Two connections cross there; each falls into two halves with a loose end: 2 missing + 4 found = 6."""
    layout, open_before = _clean(blocks)
    deleted = None
    for cell in layout.each_cell():
        crossings = [inst for inst in cell.each_inst() if layout.cell(inst.cell_index).name.startswith("crossing")
                     and not inst.is_regular_array()]
        if cell.name.startswith("wires_") and crossings:
            crossings[0].delete()
            deleted = cell.name
            break
    assert deleted is not None
    result, open_after = _check(layout, blocks)
    assert open_after == open_before + 4
    assert result.mismatches == 6 and len(result.missing) == 2 and len(result.extra) == 4
    assert result.wiring_mismatches == 2 and all(": not drawn: " in text for text in result.wiring_wrong)


def test_a_block_moved_off_its_place_is_reported_by_name(blocks, tmp_path):
    layout, _ = _clean(blocks)
    bias = _cell(layout, "bias_4x4")  # the bias stage of the layer of width 4
    source = next(inst for inst in bias.each_inst() if layout.cell(inst.cell_index).name == "source")
    source.transform(kdb.Trans(0, 5000))
    faulty = tmp_path / "moved.gds"
    layout.write(str(faulty))
    description, planner, _ = blocks
    result = check_port_links(faulty, description.top, planner, WIDTH)
    assert result.unplaced and all(name.endswith("/bias/source") for name in result.unplaced) and not result.ok
    with pytest.raises(OptincError) as error:
        require_linked(result, faulty)
    assert str(faulty) in str(error.value) and "mismatches" in str(error.value) and "\n" not in str(error.value)
