"""Flip-chip bumps (`--pads bumps:PITCH`, issue 28 point 1): every heater end on a bump of its own.

A 4×4 mesh stacks heaters above one another (perimeter routing refuses such a design); with bumps each heater
gets a signal bump and a ground bump, checked from the written GDS (nets, DRC) and against floor arithmetic.
"""

from __future__ import annotations

import klayout.db as kdb
import numpy as np
import pytest

from optinc_pdk.analysis.pads import heater_count, signoff
from optinc_pdk.errors import OptincError
from optinc_pdk.layout.bumps import GROUND_TEXT, SiteGrid, terminals
from optinc_pdk.layout.drc import run_drc
from optinc_pdk.layout.heaters import HeaterRouter, HeaterRoutingError, find_heaters
from optinc_pdk.layout.nets import check_bump_nets
from optinc_pdk.layout.synthetic import random_phase_description
from optinc_pdk.layout.write import build_layout, write_layout
from optinc_pdk.pdk.rules import layer_map, min_bump_pitch
from optinc_pdk.spec.geometry import DeviceGeometry
from optinc_pdk.spec.pads import PadChoice, parse_pads
from optinc_pdk.spec.scenario import load_scenario, scenario_from_dict

LAYERS = layer_map("optinc")
TEXT = (66, 0)


@pytest.fixture(scope="module")
def mesh():
    """A 4-mode layer: its meshes put heaters one above another (stacked)."""
    s = scenario_from_dict({"name": "mesh4", "bits": 8, "servers": 3, "widths": [4, 4], "approx_layers": []})
    return random_phase_description(s)


@pytest.fixture(scope="module")
def bumped(mesh, tmp_path_factory):
    out = tmp_path_factory.mktemp("bumps")
    return write_layout(mesh, out, pads=parse_pads("bumps:50"), png=False, formats=("gds",))


def test_pads_values_parse_and_bad_ones_say_why():
    assert parse_pads(None) == parse_pads("perimeter") == PadChoice()
    assert parse_pads(" Bumps:40.5 ") == PadChoice("bumps", 40.5)
    for bad, why in (("bumps:abc", "must be a number"), ("bumps:0", "positive"), ("bumps:-5", "positive"),
                     ("bumps:nan", "positive"), ("pins:50", "expected perimeter or bumps"), ("bumps", "must be a number"),
                     ("perimeter:3", "expected perimeter or bumps")):
        with pytest.raises(OptincError, match=why):
            parse_pads(bad)


@pytest.mark.parametrize("args, message", [
    (["--pads", "bumps:abc"], "--pads: 'bumps:abc': the bump pitch must be a number"),
    (["--pads", "bumps:0"], "must be a positive number"),
    (["--pads", "solder"], "expected perimeter or bumps:PITCH"),
    (["--pads", "bumps:12"], "at least 20 µm"),
    (["--pads", "bumps:50", "--phases", "fixed"], "no heaters to bump"),
])
def test_bad_pads_options_are_one_line_and_exit_2(run_cli, tmp_path, args, message):
    code, out, err = run_cli(["build", "demo", *args, "--random-weights", "1", "-o", str(tmp_path / "out")])
    assert code == 2 and message in err and len(err.strip().splitlines()) == 1
    assert not (tmp_path / "out").exists()


def test_cornerstone_has_no_bump_layers_and_is_refused(run_cli, tmp_path):
    pytest.importorskip("cspdk")  # without the extra, the missing-extra line comes first
    code, _, err = run_cli(["build", "demo", "--pdk", "cornerstone-si220", "--pads", "bumps:50", "--random-weights",
                            "1", "-o", str(tmp_path / "out")])
    assert code == 2 and "--pads bumps:50: the cornerstone-si220 PDK has no flip-chip layers" in err
    assert len(err.strip().splitlines()) == 1


def test_the_smallest_pitch_comes_from_the_bump_rules():
    assert min_bump_pitch("optinc") == 20.0  # UBM width and space 10 µm, a bump half a pitch across
    assert min_bump_pitch("cornerstone-si220") == 0.0


def test_perimeter_routing_refuses_the_stacked_mesh(mesh):
    """What the bumps are for: today's single-metal topology cannot route heaters above one another."""
    built = build_layout(mesh)
    try:
        heaters = find_heaters(built.component, built.component.kdb_cell.cell_index())
        xs = [round(h.west.x, 3) for h in heaters]
        assert len(xs) > len(set(xs))  # stacked: two heaters share an x
        router = HeaterRouter(DeviceGeometry(), (41, 0), 2.0)
        with pytest.raises(HeaterRoutingError, match="within"):
            router._check_clear(router._runs(_nets(heaters), 1e4, -1e4), heaters)
    finally:
        built.close()


def _nets(heaters):
    from optinc_pdk.layout.heaters import assign_nets

    return assign_nets(heaters)


def test_every_heater_of_the_stacked_mesh_is_on_a_bump_of_its_own(mesh, bumped):
    record = bumped.info["bumps"]["per_die"][0]
    heaters = heater_count(mesh.top)
    assert record["routed"] and record["heaters"] == heaters
    nets = check_bump_nets(bumped.paths["gds"], heaters, LAYERS, TEXT)
    assert nets.mismatches == 0 and nets.heaters_found == heaters and nets.own_pad == heaters
    assert nets.on_ground == heaters and nets.ground_pads == record["ground_bumps"]
    assert nets.bond_pads == record["bumps_used"] == record["bumps_needed"] == heaters + record["ground_bumps"]


def test_the_bumped_layout_is_drc_clean(bumped):
    result = run_drc(bumped.paths["gds"], "optinc")
    assert result.total == 0
    assert {"VIA1.space.2um", "M2.space.2um", "UBM.width.10um", "UBM.inside.M2"} <= set(result.counts)


def test_sites_are_the_floor_of_the_box_and_one_gds_array(bumped):
    """Sites counted by walking the grid cell by cell inside the design's box, and read back from the file's AREF."""
    layout = kdb.Layout()
    layout.read(str(bumped.paths["gds"]))
    top = layout.top_cell()
    record = bumped.info["bumps"]["per_die"][0]
    pitch, (x0, y0) = record["pitch_um"], record["origin_um"]
    box = kdb.DBox()
    for inst in top.each_inst():
        if not layout.cell(inst.cell_index).name.startswith("flip_chip_bump"):
            box += inst.dbbox()
    arrays = [inst for inst in top.each_inst() if layout.cell(inst.cell_index).name.startswith("flip_chip_bump")]
    assert len(arrays) == 1 and arrays[0].is_regular_array()

    def count(start: float, end: float) -> int:
        k = 0
        while start - pitch / 2 + (k + 1) * pitch <= end + 1e-9:
            k += 1
        return k

    assert start_inside(x0 - pitch / 2, box.left, pitch) and start_inside(y0 - pitch / 2, box.bottom, pitch)
    columns, rows = count(x0, box.right), count(y0, box.top)
    array = arrays[0]
    along_x = (array.na, array.nb) if array.a.x else (array.nb, array.na)  # the file may store either vector first
    assert along_x == (columns, rows) == (record["columns"], record["rows"])
    assert record["sites"] == columns * rows


def start_inside(first_border: float, edge: float, pitch: float) -> bool:
    """The array's first cell border lies within one pitch inside the box edge."""
    return edge - 1e-9 <= first_border < edge + pitch


def test_ground_bumps_are_labelled_and_a_broken_route_is_found(bumped, tmp_path, mesh):
    layout = kdb.Layout()
    layout.read(str(bumped.paths["gds"]))
    texts = [s.text.string for c in layout.each_cell() for s in c.shapes(layout.find_layer(*TEXT)).each()
             if s.is_text()]
    assert texts.count(GROUND_TEXT) == bumped.info["bumps"]["per_die"][0]["ground_bumps"]
    routes = next(c for c in layout.each_cell() if c.name.endswith("_bump_routes"))
    vias = routes.shapes(layout.find_layer(*LAYERS["VIA1"]))
    vias.erase(next(iter(vias.each())))  # one contact no longer reaches the RDL
    broken = tmp_path / "broken.gds"
    layout.write(str(broken))
    assert check_bump_nets(broken, heater_count(mesh.top), LAYERS, TEXT).mismatches >= 1
    routes.shapes(layout.find_layer(*LAYERS["M2"])).insert(routes.bbox())  # one RDL sheet over every terminal: all nets shorted
    layout.write(str(broken))
    shorted = check_bump_nets(broken, heater_count(mesh.top), LAYERS, TEXT)
    assert shorted.own_pad == 0 and shorted.mismatches >= heater_count(mesh.top)


def test_a_pitch_too_coarse_leaves_the_layout_unrouted_and_says_why(mesh, tmp_path):
    result = write_layout(mesh, tmp_path, pads=parse_pads("bumps:200"), png=False, formats=("gds",))
    record = result.info["bumps"]["per_die"][0]
    assert not record["routed"] and "fall in one 200 µm bump cell" in record["why"]
    assert result.paths["gds"].is_file() and record["sites"] > 0
    clean = {"drc": {"violations": 0}, "connectivity": {"connected": True, "open_ends": 1, "expected_open_ends": 1}}
    die = signoff(mesh.top, {**clean, "layout": {"info": result.info}})["dies"][0]
    assert not die["tapeout_ready"] and any("fall in one" in b for b in die["blockers"])


def test_terminals_share_the_ground_of_heaters_end_to_end():
    """Two heaters end to end: their shared end is one ground terminal; signals are the outer pads."""
    ends = np.array([[[0, 0], [100, 0], [5, 15], [95, 15]], [[100, 0], [200, 0], [105, 15], [195, 15]],
                     [[300, 0], [400, 0], [305, 15], [395, 15]]], dtype=float)
    t = terminals(ends)
    assert t.heaters == 3 and t.grounds == 2
    assert t.xy[:3].tolist() == [[5, 15], [195, 15], [305, 15]]
    assert sorted(t.xy[3:].tolist()) == [[95, 15], [395, 15]]


def test_two_contacts_in_one_cell_are_refused():
    grid = SiteGrid((25.0, 25.0), 50.0, 4, 4)
    with pytest.raises(HeaterRoutingError, match="fall in one 50 µm bump cell"):
        grid.assign(np.array([[10.0, 10.0], [40.0, 40.0]]), 3.0)
    with pytest.raises(HeaterRoutingError, match="from its bump cell's border"):
        grid.assign(np.array([[49.0, 10.0]]), 3.0)
    assert grid.assign(np.array([[10.0, 10.0], [60.0, 10.0]]), 3.0).tolist() == [[0, 0], [1, 0]]


def test_perimeter_is_the_default_and_unchanged():
    top = random_phase_description(load_scenario("demo")).top
    clean = {"drc": {"violations": 0}, "connectivity": {"connected": True, "open_ends": 5, "expected_open_ends": 5}}
    result = signoff(top, {**clean, "layout": {"info": {}}})
    assert result["pads"] == {"mode": "perimeter"} and result["pads_needed"] == heater_count(top) + 1
    built = build_layout(random_phase_description(load_scenario("demo")))
    try:
        assert "bumps" not in built.info
        layout = built.component.kcl.layout
        names = {layout.cell(i).name for i in built.component.kdb_cell.each_child_cell()}
        assert names and not any(name.startswith("flip_chip_bump") for name in names)
    finally:
        built.close()


def test_a_bumped_build_reports_pads_mode_pitch_and_bumps_per_die(run_cli, tmp_path):
    import json

    code, out, _ = run_cli(["build", "demo", "--pads", "bumps:50", "--no-png", "--format", "gds", "-o", tmp_path / "b"])
    assert code == 0 and "flip-chip bumps" in out and "50 µm pitch" in out
    report = json.loads((tmp_path / "b" / "report.json").read_text())
    signoff, routing = report["signoff"], report["layout"]["info"]["bumps"]["per_die"][0]
    assert signoff["pads"] == {"mode": "bumps", "pitch_um": 50.0}
    die = signoff["dies"][0]
    assert die["pads_available"] == routing["sites"] == routing["columns"] * routing["rows"]
    assert die["pads_used"] == die["pads_needed"] == signoff["heaters"] + routing["ground_bumps"]
    assert report["electrical"]["pads"] == "bumps" and report["electrical"]["mismatches"] == 0
    assert report["drc"]["violations"] == 0 and die["tapeout_ready"]
    assert "| die | heaters | bumps needed | bump sites | bumps used | routed | verdict |" in (
        tmp_path / "b" / "report.md").read_text()


def test_a_chain_of_three_heaters_leaves_the_array_unrouted_and_says_why(monkeypatch, mesh, tmp_path):
    """A terminal rule that fails (here forced: three heaters meeting) must not stop the build."""
    from optinc_pdk.layout import bumps

    def refuse(points):
        raise HeaterRoutingError("heater routing: three heaters meet at one contact")

    monkeypatch.setattr(bumps, "terminals", refuse)
    result = write_layout(mesh, tmp_path, pads=parse_pads("bumps:50"), png=False, formats=("gds",))
    record = result.info["bumps"]["per_die"][0]
    assert not record["routed"] and "three heaters" in record["why"] and record["sites"] > 0


def test_the_drc_sees_an_rdl_shape_too_close_to_a_route(bumped, tmp_path):
    """The array layers are checked by the routes and their neighbours: a sliver 1 µm beside a route is found."""
    layout = kdb.Layout()
    layout.read(str(bumped.paths["gds"]))
    routes = next(c for c in layout.each_cell() if c.name.endswith("_bump_routes"))
    m2 = routes.shapes(layout.find_layer(*LAYERS["M2"]))
    box = next(iter(m2.each())).box
    m2.insert(kdb.Box(box.right + 1000, box.bottom, box.right + 4000, box.top))  # 1 µm gap, 2 µm needed
    broken = tmp_path / "close.gds"
    layout.write(str(broken))
    assert run_drc(broken, "optinc").counts["M2.space.2um"] >= 1
