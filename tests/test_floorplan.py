"""Floorplanning onto dies (optinc_pdk.layout.floorplan): the analytic die plan, and the drawn dies equal to it."""

from __future__ import annotations

import json

import klayout.db as kdb
import numpy as np
import pytest

from optinc_pdk.errors import OptincError
from optinc_pdk.layout.connectivity import check_connectivity
from optinc_pdk.layout.floorplan import DIE_PRESETS, FIBRE_PITCH_UM, Cutter, floorplan_of, parse_die, plan_dies
from optinc_pdk.layout.footprint import analytic_floorplan
from optinc_pdk.layout.planner import Planner
from optinc_pdk.layout.readback import count_instances, instance_name, read_layout, top_cells
from optinc_pdk.layout.synthetic import random_phase_description, random_phase_top
from optinc_pdk.layout.write import description_mzis, write_layout
from optinc_pdk.spec.scenario import load_scenario

RETICLE = parse_die("reticle")


def test_die_presets_and_sizes_parse_and_bad_sizes_are_one_line():
    assert parse_die("reticle") == ("reticle", 26.0, 33.0)
    assert parse_die("cornerstone-full")[1:] == DIE_PRESETS["cornerstone-full"]
    assert parse_die("12.5x4.9") == ("12.5x4.9mm", 12.5, 4.9)
    assert parse_die("20×30")[1:] == (20.0, 30.0)
    for bad in ("wafer", "0x3", "12x", "-1x2"):
        with pytest.raises(OptincError, match="--die") as info:
            parse_die(bad)
        assert "\n" not in str(info.value)


def _check_plan(fp, design_width: float, mzis: int) -> None:
    """Dies tile the chain in order, hold every MZI, and every die plan lies inside its die."""
    assert fp.dies[0].x0_um == 0.0 and fp.dies[-1].x1_um == pytest.approx(design_width)
    for left, right in zip(fp.dies, fp.dies[1:]):
        assert left.x1_um == right.x0_um
        assert left.couplers_east == right.couplers_west  # every signal of a cut on a coupler at both ends
    assert sum(d.mzis for d in fp.dies) == mzis
    for d in fp.dies:
        box = d.plan.bbox
        assert (box.xmin, box.ymin, box.xmax, box.ymax) == pytest.approx((0, 0, fp.die_w_um, fp.die_h_um))
        content = [c for c in d.plan.children]
        for place in content:
            b = place.plan.bbox
            assert place.x + b.xmin >= -1e-6 and place.x + b.xmax <= fp.die_w_um + 1e-6
            assert place.y + b.ymin >= 100 - 1e-6 and place.y + b.ymax <= fp.die_h_um - 100 + 1e-6
        couplers = [p for p in d.plan.prims if p.cell == "edge_coupler"]
        assert all(p.row_pitch == FIBRE_PITCH_UM for p in couplers if p.rows > 1)
        assert sum(p.rows for p in couplers) == d.couplers_west + d.couplers_east


def test_b8n4_on_reticles_is_a_chain_of_dies_holding_every_mzi():
    s = load_scenario("b8n4")
    top = random_phase_description(s).top
    planner = Planner(s.device, packed_west=True)
    fp = floorplan_of(top, s.name, RETICLE, s.device, planner)
    design = planner.plan(top)
    assert len(fp.dies) > 1 and len(fp.links) == len(fp.dies) - 1
    _check_plan(fp, design.width, description_mzis(top))
    # every cut meets the same waveguides from both sides: the slices' ports match at each cut
    cutter = Cutter(s.device)
    rows = [row for d in fp.dies for row in d.rows]
    for left, right in zip(rows, rows[1:]):
        assert left[1] == right[0]
        a = cutter.slice(design, left[0], left[1])
        b = cutter.slice(design, right[0], right[1])
        np.testing.assert_allclose(np.sort(a.east_y), np.sort(b.west_y))
    assert fp.io["inputs"] == top.n_in and fp.io["outputs"] == top.n_out


def test_a_design_whose_cuts_all_need_more_couplers_than_a_die_edge_holds_is_refused_in_one_line():
    with pytest.raises(OptincError, match=r"--die reticle: does not fit: L4 .* at least \d+ signals") as info:
        analytic_floorplan(load_scenario("b8n8"), RETICLE)
    assert "\n" not in str(info.value)


def test_a_cascades_optincs_differ_in_layer_names_only_and_are_cut_onto_dies_alike():
    """The five OptINCs of cascade16 are plans of their own (their layers carry their names) of one shape
    (``Planner.shape``), so the floorplan searches their dies once and gives each the same cuts."""
    s = load_scenario("cascade16")
    top = random_phase_top(s)
    planner = Planner(s.device, packed_west=True)
    plans = [planner.plan(child) for child in top.children if child.name.startswith("level")]
    assert len({p.key for p in plans}) == 5 and len({planner.shape(p) for p in plans}) == 1
    fp = floorplan_of(top, s.name, RETICLE, s.device, planner)
    cuts = {}
    for d in fp.dies:
        cuts.setdefault(d.part, []).append([row[:2] for row in d.rows])
    assert len({repr(cuts[f"level1.{q}"]) for q in range(4)} | {repr(cuts["level2"])}) == 1
    alone = plan_dies(plans[1], "alone", RETICLE, s.device)  # searched afresh: the same dies
    assert [[row[:2] for row in d.rows] for d in alone.dies] == cuts["level1.1"]


def test_a_cascade_is_floorplanned_optinc_by_optinc_with_its_inter_level_links():
    s = load_scenario("cascade16")
    fp = analytic_floorplan(s, RETICLE)
    parts = [d.part for d in fp.dies]
    assert parts[0] == "level1.0" and parts[-1] == "broadcast" and "level2" in parts
    between = [link for link in fp.links if "between" in link]
    assert sorted(link["between"] for link in between) == sorted(
        [f"level1.{q} -> level2" for q in range(4)] + ["level2 -> broadcast"])
    assert all(link["signals"] == 4 for link in between)
    level2_first = parts.index("level2")
    assert all(link["to_die"] == level2_first for link in between if link["between"].endswith("level2"))
    assert fp.mzis == sum(d.mzis for d in fp.dies)
    assert fp.io["input_dies"] == sorted(parts.index(f"level1.{q}") for q in range(4))


@pytest.fixture(scope="module")
def die_build(tmp_path_factory):
    """b8n4 with random phases on 26 × 66 mm dies: ten dies, one of them folded (two rows and a U-turn)."""
    s = load_scenario("b8n4")
    d = random_phase_description(s)
    result = write_layout(d, tmp_path_factory.mktemp("dies"), png=False, die=parse_die("26x66"))
    return s, d, result


def test_a_folded_multi_die_build_reads_back_one_cell_per_die_each_inside_its_die_and_equal_to_the_plan(die_build):
    s, d, result = die_build
    plan = result.floorplan
    assert plan["dies"] > 1
    folded = [p for p in plan["per_die"] if len(p["rows"]) > 1]
    assert folded, "no die of this plan is folded"
    assert result.paths["oas"].read_bytes().startswith(b"%SEMI-OASIS")  # not GDS under an .oas name
    for fmt in ("gds", "oas"):
        layout = read_layout(result.paths[fmt])
        tops = {cell.name: cell for cell in top_cells(layout)}
        assert sorted(tops) == sorted(p["cell"] for p in plan["per_die"])
        assert count_instances(layout, "mzi") == description_mzis(d.top)
        for p in plan["per_die"]:
            cell = tops[p["cell"]]
            box = cell.dbbox()
            assert (box.left, box.bottom, box.right, box.top) == pytest.approx((0, 0, 26000, 66000))
            names = ["design"] if len(p["rows"]) == 1 else [f"row{k}" for k in range(len(p["rows"]))]
            placed = {instance_name(inst): inst for inst in cell.each_inst()}
            for name, row in zip(names, p["rows"]):  # every slice where the plan puts it
                b = placed[name].dbbox()
                assert (b.left, b.bottom, b.right, b.top) == pytest.approx(row["box_um"], abs=1e-3)
            assert ("uturns" in placed) == (len(p["rows"]) > 1)
    connectivity = check_connectivity(result.paths["gds"], d.top, s.device.wg_width, dies="design")
    assert connectivity.ok, connectivity.to_dict()


def test_a_cut_design_that_lost_a_waveguide_fails_the_open_end_check(die_build, tmp_path):
    s, d, result = die_build
    layout = read_layout(result.paths["gds"])
    victim = next(cell for cell in layout.each_cell() if cell.name.startswith("fanout_"))
    layer = layout.find_layer(1, 0)
    shapes = victim.shapes(layer)
    if shapes.is_empty():  # the fan-out's waveguides live in its wires cell
        victim = next(inst.cell for inst in victim.each_inst())
        shapes = victim.shapes(layer)
    shapes.erase(next(iter(shapes.each())))
    broken = tmp_path / "broken.gds"
    layout.write(str(broken))
    assert not check_connectivity(broken, d.top, s.device.wg_width, dies="design").ok


@pytest.mark.slow
def test_build_b8n4_on_reticles_reports_the_dies_equal_to_optinc_area(run_cli, tmp_path):
    out = tmp_path / "b8n4"
    code, _, err = run_cli(["build", "b8n4", "--die", "reticle", "-o", out, "--no-png"])
    assert code == 0, err
    report = json.loads((out / "report.json").read_text())
    code, stdout, err = run_cli(["area", "b8n4", "--die", "reticle", "--json"])
    assert code == 0, err
    assert report["layout"]["floorplan"] == json.loads(stdout)[0]
    assert report["verified"] and report["connectivity"]["connected"]
    plan = report["layout"]["floorplan"]
    w, h = (v * 1000 for v in plan["die_mm"])
    layout = read_layout(out / "b8n4.oas")
    cells = {cell.name: cell for cell in top_cells(layout)}
    assert len(cells) == plan["dies"] == 11
    for p in plan["per_die"]:
        box = cells[p["cell"]].dbbox()
        assert box.left >= 0 and box.bottom >= 0 and box.right <= w and box.top <= h
    markdown = (out / "report.md").read_text()
    assert "## Floorplan" in markdown and "every bounding box within its die: **yes**" in markdown
    for link in plan["inter_die_links"]:
        assert f"| {link['from_die']} | {link['to_die']} | {link['signals']} |" in markdown


def test_area_with_die_answers_per_scenario_and_names_what_does_not_fit(run_cli):
    code, stdout, err = run_cli(["area", "b8n4", "b8n8", "--die", "reticle", "--json"])
    assert code == 0, err
    fits, too_big = json.loads(stdout)
    assert fits["dies"] == 11 and fits["die"] == "reticle"
    assert too_big["fits"] is False and "does not fit: L4" in too_big["reason"]
    code, _, err = run_cli(["area", "b8n4", "--die", "huge"])
    assert code == 2 and "--die" in err


def test_the_die_frame_is_the_die(die_build):
    """Every die's FLOORPLAN polygon is exactly W × H from the origin."""
    _, _, result = die_build
    layout = read_layout(result.paths["gds"])
    floorplan = layout.find_layer(99, 0)
    for top in top_cells(layout):
        region = kdb.Region(top.begin_shapes_rec(floorplan))
        assert region.bbox() == kdb.Box(0, 0, 26_000_000, 66_000_000)


def _pdk_or_skip(pdk: str) -> str:
    if pdk != "optinc":
        pytest.importorskip("cspdk.si220", reason="cspdk (the [cornerstone] extra) is not installed")
    return pdk


@pytest.fixture(scope="module", params=["optinc", "cornerstone-si220"])
def small_die_build(request, tmp_path_factory):
    """``optinc build demo --pdk PDK --die 1.5x3``: the demonstrator folded onto two small dies (one of them
    with two or more rows), through the build's own verification."""
    from optinc_pdk.flows.build import BuildRequest, build

    pdk = _pdk_or_skip(request.param)
    out = tmp_path_factory.mktemp("small") / "demo"
    try:
        result = build(BuildRequest(scenario=load_scenario("demo"), out_dir=out, pdk=pdk, die="1.5x3", png=False))
    finally:
        if pdk != "optinc":  # the modules after this one find the optinc PDK active, as before
            from optinc_pdk.pdk import activate_pdk

            activate_pdk()
    return pdk, out, result.report


def test_a_folded_multi_die_build_verifies_on_either_pdk(small_die_build, run_cli):
    """issue 27: the layout-vs-description check (open waveguide ends on the PDK's waveguide layer) and the
    MZI count read back from the GDS hold for a folded, multi-die build on both PDKs; the dies are those
    ``optinc area --die --pdk`` plans, each a top cell inside its die."""
    from optinc_pdk.pdk.adapters import get_adapter

    pdk, out, report = small_die_build
    layout = report["layout"]
    plan = layout["floorplan"]
    assert plan["dies"] >= 2 and any(len(d["rows"]) >= 2 for d in plan["per_die"])
    assert layout["mzis"] == layout["expected_mzis"] == description_mzis(random_phase_description(load_scenario("demo")).top)
    connectivity = report["connectivity"]
    assert connectivity["connected"] and connectivity["open_ends"] == connectivity["expected_open_ends"]
    assert report["verified"] is True and layout["info"]["pdk"] == pdk
    code, stdout, err = run_cli(["area", "demo", "--die", "1.5x3", "--pdk", pdk, "--json"])
    assert code == 0, err
    assert json.loads(stdout)[0] == plan
    gds = read_layout(out / "demo.gds")
    assert count_instances(gds, "mzi") == layout["expected_mzis"]
    tops = {cell.name: cell for cell in top_cells(gds)}
    assert sorted(tops) == sorted(d["cell"] for d in plan["per_die"])
    for cell in tops.values():
        box = cell.dbbox()
        assert (box.left, box.bottom, box.right, box.top) == pytest.approx((0, 0, 1500, 3000))
    wg = tuple(get_adapter(pdk).layers.wg)
    drawn = {(info.layer, info.datatype) for info in (gds.get_info(i) for i in gds.layer_indexes())}
    assert wg in drawn and (pdk == "optinc") == ((1, 0) in drawn)  # each PDK on its own waveguide layer
    # the edge couplers' facet tips are no narrower than the PDK's waveguide minimum: the dies are DRC-clean
    assert report["drc"]["violations"] == 0, report["drc"]


def test_a_folded_multi_die_build_that_lost_a_waveguide_fails_on_either_pdk(small_die_build, tmp_path):
    from optinc_pdk.circuit.builder import build_description
    from optinc_pdk.core.weights import load_for_scenario
    from optinc_pdk.pdk.adapters import get_adapter

    pdk, out, report = small_die_build
    s = load_scenario("demo")
    top = build_description(s, load_for_scenario(s, None)).top
    layout = read_layout(out / "demo.gds")
    wg = tuple(get_adapter(pdk).layers.wg)
    uturns = next(cell for cell in layout.each_cell() if cell.name.startswith("wires_uturns"))
    shapes = uturns.shapes(layout.find_layer(*wg))
    shapes.erase(next(iter(shapes.each())))
    broken = tmp_path / "broken.gds"
    layout.write(str(broken))
    width = get_adapter(pdk).geometry(s.device).wg_width
    assert check_connectivity(out / "demo.gds", top, width, wg, dies="design").ok
    assert not check_connectivity(broken, top, width, wg, dies="design").ok


def test_the_analytic_answer_imports_no_layout_tool_and_no_scipy():
    """`optinc area --die` plans with numpy alone: gdsfactory, kfactory, KLayout and scipy cost seconds of
    imports (issue 27: every shipped scenario in under 10 s), so a fresh process must not load them."""
    import subprocess
    import sys

    heavy = ("gdsfactory", "kfactory", "klayout", "scipy", "cspdk", "torch")
    code = ("import sys\nfrom optinc_pdk.cli.main import main\n"
            "sys.argv = ['optinc', 'area', 'demo', 'b8n4', '--die', 'reticle', '--json']\n"
            "try:\n    main()\nexcept SystemExit as stop:\n    assert not stop.code, stop.code\n"
            f"print(sorted({{m.split('.')[0] for m in sys.modules}} & set({heavy!r})), file=sys.stderr)\n")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert proc.stderr.strip().splitlines()[-1] == "[]"
    assert json.loads(proc.stdout)[1]["dies"] == 11
