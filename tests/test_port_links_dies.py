"""Port-to-port check of a die build (optinc_pdk.layout.port_links.compare_die_links, issue 28 point 6): the blocks the
dies draw whole are found below the die top cells by the floorplan's placements and compared with their netlists."""

from __future__ import annotations

import json

import klayout.db as kdb
import pytest
from test_connectivity import WIDTH
from test_fixed_phases import SMALL

from optinc_pdk.circuit.builder import build_description
from optinc_pdk.circuit.random_weights import random_weights
from optinc_pdk.flows.build import BuildRequest, build
from optinc_pdk.layout import write_layout
from optinc_pdk.layout.floorplan import floorplan_of, parse_die
from optinc_pdk.layout.netlists import _built_cell_ports
from optinc_pdk.layout.planner import Planner
from optinc_pdk.layout.port_links import check_die_links, compare_die_links, compare_links
from optinc_pdk.layout.readback import read_layout
from optinc_pdk.spec.geometry import DeviceGeometry
from optinc_pdk.spec.scenario import scenario_from_dict

DIE = "4x4"  # SMALL on 4 mm x 4 mm dies: 2 dies, the layer L1 whole on the first, L2 cut


@pytest.fixture(scope="module")
def dies(tmp_path_factory):
    scenario = scenario_from_dict(SMALL)
    description = build_description(scenario, random_weights(scenario, 1))
    die = parse_die(DIE)
    result = write_layout(description, tmp_path_factory.mktemp("dies"), formats=("gds",), png=False, die=die)
    planner = Planner(scenario.device, packed_west=True)  # as the die build plans
    floorplan = floorplan_of(description.top, result.floorplan["design"], die, scenario.device, planner)
    return description, planner, floorplan, result.paths["gds"]


def _check(layout: kdb.Layout, dies):
    description, planner, floorplan, _ = dies
    placed = [(die.name, die.plan) for die in floorplan.dies]
    return compare_die_links(layout, description.top, planner, placed, WIDTH, examples=50)


def test_every_block_a_die_draws_whole_connects_as_its_netlist(dies):
    description, planner, floorplan, gds = dies
    result = check_die_links(gds, description.top, planner, floorplan, WIDTH)
    assert len(floorplan.dies) >= 2
    assert result.ok and result.mismatches == 0 and result.wiring_mismatches == 0, result.to_dict()
    assert result.blocks > 0 and result.connections > 0 and result.cut_cells > 0
    keys = {planner.plan(block).key for block in description.top.walk()}
    assert result.blocks < len(keys)  # the top block and the cut layers are not compared
    assert result.to_dict()["cut_cells"] == result.cut_cells


def test_a_deleted_mzi_inside_a_die_is_found(dies):
    """The one MZI of the 2-mode mesh L1/B0/U, drawn whole on the first die: in the mesh, its 4 connections are missing
    and the 2 phase shifters they joined are found alone (its west ports were the mesh's own, so nothing is left there);
    the blocks that hold the mesh find its two west ports gone as well."""
    layout = read_layout(dies[3])
    column = next(cell for cell in layout.each_cell() if cell.name.startswith("mesh_column_n2"))
    mzi = next(inst for inst in column.each_inst() if layout.cell(inst.cell_index).name.startswith("mzi"))
    placed = sum(inst.size() for parent in layout.each_cell() for inst in parent.each_inst()
                 if inst.cell_index == column.cell_index())
    mzi.delete()
    result = _check(layout, dies)
    in_mesh = [text for text in result.missing + result.extra if text.startswith("L1/B0/U: ")]
    assert placed == 1 and not result.ok and len(in_mesh) == 4 + 2
    assert sum(text in result.missing for text in in_mesh) == 4
    assert any(text.startswith("L1/B0: mesh_n2 port") for text in result.missing)  # the parent sees fewer ports


def test_a_wrong_tree_cell_in_a_die_is_found(dies):
    """The averager's combiner trees (2 trees of 3) replaced by L3's, a cell of the same outline and port positions:
    the averager's 6 + 2 ports are its trees' own, and none of them is now a port of the block its netlist names."""
    layout = read_layout(dies[3])
    ours, theirs = (next(cell for cell in layout.each_cell() if cell.name.startswith("combiner_trees_2x3") and
                         any(layout.cell(inst.parent_cell_index()).name.startswith(parent)
                             for inst in cell.each_parent_inst()))
                    for parent in ("averager", "matrix_2x5"))
    assert ours.dbbox() == theirs.dbbox() and ours.cell_index() != theirs.cell_index()
    inst = next(inst.child_inst() for inst in ours.each_parent_inst())
    inst.cell_index = theirs.cell_index()
    result = _check(layout, dies)
    assert not result.ok and result.mismatches == len(result.missing) == 6 + 2, result.to_dict()
    assert all(text.startswith("averager: combiner_trees_2x3 port") for text in result.missing)


def test_a_block_moved_inside_a_slice_is_reported_by_placement(dies):
    """The attenuator column L2/S sits whole in a slice of L2's matrix; moved 5 µm it is not where the plan puts it."""
    layout = read_layout(dies[3])
    target = layout.cell("attenuators_5x6").cell_index()
    parent, inst = next((cell, inst) for cell in layout.each_cell() for inst in cell.each_inst()
                        if inst.cell_index == target)
    inst.transform(kdb.Trans(0, 5000))
    result = _check(layout, dies)
    assert not result.ok and any(name.startswith(parent.name.split("_from")[0]) for name in result.unplaced), result.unplaced


def test_the_die_build_reports_its_blocks_covered(tmp_path):
    """``optinc build --die``: the report's port check covers the blocks, with its counts, and the build is verified."""
    result = build(BuildRequest(scenario=scenario_from_dict(SMALL), out_dir=tmp_path / "dies", random_seed=1, png=False,
                                formats=("gds",), die=DIE))
    ports = json.loads((tmp_path / "dies" / "report.json").read_text())["connectivity"]["ports"]
    assert result.verified and ports["covered"] == "blocks" and ports["ok"] and ports["mismatches"] == 0
    assert ports["blocks"] > 0 and ports["cut_cells"] > 0 and "open-ends" in ports["not_compared"]
    text = (tmp_path / "dies" / "report.md").read_text()
    assert (f"every block cell the dies draw whole against its netlist): {ports['connections']} connections checked in "
            f"{ports['blocks']} block cells; {ports['cut_cells']} cut cells not compared") in text


@pytest.fixture(scope="module")
def fixed(tmp_path_factory):
    scenario = scenario_from_dict(SMALL)
    description = build_description(scenario, random_weights(scenario, 1))
    spec = scenario.fixed_phases
    result = write_layout(description, tmp_path_factory.mktemp("fixed"), formats=("gds",), png=False, fixed=spec)
    return description, Planner(scenario.device, fixed=spec), result.paths["gds"]


def test_a_fixed_build_connects_its_delay_sections_in_their_frames(fixed):
    """``--phases fixed``: each delay section fills its MZI frame's open slot; the frame's end in the slot meets it."""
    description, planner, gds = fixed
    result = compare_links(read_layout(gds), description.top, planner, WIDTH)
    assert result.ok and result.mismatches == 0 and result.wiring_mismatches == 0, result.to_dict()
    assert result.blocks == len({planner.plan(block).key for block in description.top.walk()})


def test_a_missing_delay_section_in_a_fixed_build_is_found(fixed):
    """A θ delay taken out of its slot: the two connections it made with its frame are missing, and the frame's two
    ends are found alone."""
    description, planner, gds = fixed
    layout = read_layout(gds)
    column = next(cell for cell in layout.each_cell() if cell.name.startswith("mesh_column_n2"))
    delays = sorted((inst for inst in column.each_inst() if layout.cell(inst.cell_index).name.startswith("phase_delay")),
                    key=lambda inst: inst.trans.disp.x)
    placed = sum(inst.size() for parent in layout.each_cell() for inst in parent.each_inst()
                 if inst.cell_index == column.cell_index())
    delays[-1].delete()  # the θ delay: between the two couplers, both its ends on the frame
    result = compare_links(layout, description.top, planner, WIDTH, examples=50)
    assert placed == 1 and not result.ok and result.mismatches == 2 + 2, result.to_dict()
    assert all("phase_delay port" in text for text in result.missing)


def test_a_delay_sections_ports_do_not_depend_on_its_level():
    """The reference netlists of a fixed build read one ``phase_delay`` of each kind (no level: its phase): exact only
    while every level has the same ports (``pdk/cells/delays.py``: o1 at (0, 0), o2 at (heater_length, 0))."""
    spec, json_geometry = scenario_from_dict(SMALL).fixed_phases, DeviceGeometry().model_dump_json()
    common = (("levels", spec.levels), ("width", spec.width), ("taper_length", spec.taper_length))
    ports = {_built_cell_ports("phase_delay", (("level", level), *common), json_geometry)
             for level in (0, 1, spec.levels // 2, spec.levels - 1)}
    assert len(ports) == 1 and {name for name, *_ in next(iter(ports))} == {"o1", "o2"}
