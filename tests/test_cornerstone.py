"""The CORNERSTONE PDK option (--pdk cornerstone-si220, cspdk 2.1) and the one-cell demonstrator (issue 27).

Tests that draw need the ``[cornerstone]`` extra (CI installs it: Makefile TEST_EXTRAS); without it
they skip, saying so. The missing-extra message itself is tested without cspdk.
"""

from __future__ import annotations

import re
import sys

import klayout.db as kdb
import pytest
from test_circuit_helpers import tiny_scenario

from optinc_pdk.circuit.builder import build_description
from optinc_pdk.circuit.random_weights import random_weights
from optinc_pdk.errors import OptincError
from optinc_pdk.pdk import dimensions as dim
from optinc_pdk.pdk.adapters import get_adapter
from optinc_pdk.spec.dies import DIES
from optinc_pdk.spec.geometry import DeviceGeometry

CHOICE = "cornerstone-si220"


@pytest.fixture(scope="module", autouse=True)
def _optinc_pdk_active_afterwards():
    """These tests activate cspdk's PDK; the modules after them find the optinc PDK active, as before."""
    yield
    from optinc_pdk.pdk import activate_pdk

    activate_pdk()


@pytest.fixture(scope="module")
def si220():
    return pytest.importorskip("cspdk.si220", reason="cspdk (the [cornerstone] extra) is not installed: "
                                                   "pip install '.[cornerstone]'")


@pytest.fixture(scope="module")
def adapter(si220):
    return get_adapter(CHOICE)


@pytest.fixture(scope="module")
def geometry(adapter):
    return adapter.geometry(DeviceGeometry())


CELL_CASES = {  # cell → (params, analytic box)
    "straight": (dict(length=10.0), lambda g: dim.straight_bbox(10.0, g)),
    "sbend": (dict(dx=40.0, dy=-12.0), lambda g: dim.sbend_bbox(40.0, -12.0, g)),
    "phase_shifter": ({}, dim.phase_shifter_bbox),
    "dc_coupler": ({}, lambda g: dim.dc_coupler_bbox(None, g)),
    "splitter_1x2": ({}, dim.splitter_1x2_bbox),
    "combiner_2x1": ({}, dim.combiner_2x1_bbox),
    "mzi2x2": ({}, lambda g: dim.mzi2x2_bbox(geometry=g)),
    "mzi_attenuator": ({}, dim.mzi_attenuator_bbox),
    "splitter_tree": (dict(n_outputs=5), lambda g: dim.splitter_tree_bbox(5, g)),
    "combiner_tree": (dict(n_inputs=13), lambda g: dim.combiner_tree_bbox(13, g)),
    "averager": (dict(n_servers=2, bits=8, n_outputs=2), lambda g: dim.averager_bbox(2, 8, 2, g)),
    "splitter_array": (dict(n_inputs=2, n_servers=3), lambda g: dim.splitter_array_bbox(2, 3, g)),
    "bias_injector": (dict(n_modes=3), lambda g: dim.bias_injector_bbox(3, g)),
    "nonlinear_unit": ({}, dim.nonlinear_unit_bbox),
}


def _draw(adapter, geometry, name):
    adapter.activate()
    params, _ = CELL_CASES[name]
    return adapter.cells[name](**params, geometry=geometry)


@pytest.mark.parametrize("name", CELL_CASES)
def test_every_cell_drawn_with_cspdk_has_its_analytic_box(adapter, geometry, name):
    """Plan, analytic footprint and drawing agree: each cell's dbbox is the dimensions module's box."""
    box = _draw(adapter, geometry, name).dbbox()
    expected = CELL_CASES[name][1](geometry)
    assert (box.left, box.bottom, box.right, box.top) == pytest.approx(tuple(expected), abs=1e-3)


@pytest.mark.parametrize("arms", [{"theta_lower": True}, {"phi_lower": True}, {"theta_lower": True, "phi_lower": True}])
def test_a_mesh_mzi_with_lower_arm_heaters_drawn_with_cspdk_has_its_analytic_box(adapter, geometry, arms):
    """--min-power: cspdk's heater on the lower arm, its pads between the arms."""
    adapter.activate()
    box = adapter.cells["mzi2x2"](**arms, geometry=geometry).dbbox()
    assert (box.left, box.bottom, box.right, box.top) == pytest.approx(tuple(dim.mzi2x2_bbox(**arms, geometry=geometry)),
                                                                       abs=1e-3)


def test_the_geometry_is_cspdks(si220, geometry):
    """Width and radius of cspdk's strip_cband; the couplers' ports where cspdk's MMIs have them."""
    si220.PDK.activate()
    import gdsfactory as gf

    xs = gf.get_cross_section("strip_cband")
    assert (geometry.wg_width, geometry.bend_radius) == (xs.width, xs.radius) == (0.45, 10.0)
    mmi = {p.name: p.dcenter for p in si220.cells.mmi2x2(cross_section="strip_cband").ports}
    assert geometry.coupler_length == pytest.approx(mmi["o3"][0] - mmi["o1"][0])
    assert geometry.coupler_gap + geometry.wg_width == pytest.approx(mmi["o2"][1] - mmi["o1"][1])
    assert geometry != DeviceGeometry()


def test_foundry_parts_are_cspdk_cells_on_designated_layers(adapter, geometry):
    """MZIs hold cspdk's mmi2x2 and heater, trees its mmi1x2; every layer is a designated MPW layer."""
    from cspdk.si220.submission import DESIGNATED_LAYERS

    def children(component) -> set[str]:
        return {component.kcl[i].name.split("_")[0] for i in component.kdb_cell.called_cells()}

    mzi = _draw(adapter, geometry, "mzi2x2")
    tree = _draw(adapter, geometry, "splitter_tree")
    assert {"mmi2x2", "heater"} <= children(mzi)
    assert "mmi1x2" in children(tree)
    layers = set()
    for name in CELL_CASES:
        layers |= {tuple(layer) for layer in _draw(adapter, geometry, name).layers}
    assert layers <= set(DESIGNATED_LAYERS), layers - set(DESIGNATED_LAYERS)


def test_a_small_design_on_cspdk_reads_back_connected_and_the_size_of_its_plan(adapter, geometry, tmp_path):
    """MZI count, open waveguide ends (on cspdk's waveguide layer) and footprint of a scenario with every
    block kind (trees of 3, padded layer, Σ columns, ReLUs, bias) drawn with cspdk."""
    from optinc_pdk.layout import analytic_footprint, write_layout
    from optinc_pdk.layout.connectivity import check_connectivity

    scenario = tiny_scenario(name="tiny_cs")
    description = build_description(scenario, random_weights(scenario, 3))
    result = write_layout(description, tmp_path, formats=("gds",), png=False, pdk=CHOICE)
    assert result.mzis == result.expected_mzis > 0
    total = result.footprint.total
    width, height = analytic_footprint(description, geometry)
    assert (total.xmax - total.xmin, total.ymax - total.ymin) == pytest.approx((width, height), abs=1e-3)
    ends = check_connectivity(result.paths["gds"], description.top, geometry.wg_width, adapter.layers.wg)
    assert ends.ok and ends.count > description.top.n_in + description.top.n_out
    on_optinc_layer = check_connectivity(result.paths["gds"], description.top, geometry.wg_width)
    assert on_optinc_layer.count == 0  # nothing on the optinc waveguide layer 1/0


@pytest.fixture(scope="module")
def demo_build(si220, tmp_path_factory):
    from optinc_pdk.flows.build import BuildRequest, build
    from optinc_pdk.spec.scenario import load_scenario

    out = tmp_path_factory.mktemp("demo") / "demo"
    return build(BuildRequest(scenario=load_scenario("demo"), out_dir=out, pdk=CHOICE, die="cornerstone-full",
                              png=False))


def test_the_demonstrator_passes_cornerstones_submission_check(demo_build):
    """issue 27: the GDS (and the OASIS) of `optinc build demo --pdk cornerstone-si220 --die cornerstone-full`
    pass cspdk.si220.submission.check_submission with an empty problem list."""
    from cspdk.si220.submission import TOP_CELL, check_submission

    paths = demo_build.report["layout"]["paths"]
    assert check_submission(paths["gds"]) == []
    assert check_submission(paths["oas"]) == []
    layout = kdb.Layout()
    layout.read(paths["gds"])
    assert TOP_CELL.match(layout.top_cell().name)


def test_the_demonstrator_verifies_on_the_die(demo_build):
    """Simulation, MZIs read back and the drawn open ends (the die's fibre routes included) all hold;
    all 27 optical ports of the design (13 inputs, 13 outputs, 1 bias laser) reach fibre couplers."""
    report = demo_build.report
    assert demo_build.verified is True
    layout = report["layout"]
    assert layout["mzis"] == layout["expected_mzis"] == 2
    die = layout["info"]["die"]
    assert (die["fibres_used"], die["bias_inputs"], die["fibre_couplers"], die["bond_pads"]) == (27, 1, 28, 62)
    total = layout["footprint"]["total"]
    assert (total["xmax"] - total["xmin"], total["ymax"] - total["ymin"]) == pytest.approx(
        (DIES["cornerstone-full"].width, DIES["cornerstone-full"].height))
    assert report["connectivity"]["connected"] and report["connectivity"]["open_ends"] == 5  # 4 attenuator, 1 fibre
    ports = report["connectivity"]["ports"]  # the design's blocks port to port (the die frame is not a block)
    assert ports["covered"] and ports["ok"] and ports["mismatches"] == ports["wiring_mismatches"] == 0


def test_the_demonstrator_fits_the_half_cell_too(si220, tmp_path):
    """On the 5.5 mm half cell the die frame keeps the bond pads that fit (inside the outline) and all 27 routes;
    its heaters route as on the full cell (7 pads, 0 net mismatches, DRC 0)."""
    from cspdk.si220.submission import check_submission

    from optinc_pdk.circuit.builder import build_description as describe
    from optinc_pdk.core.weights import load_for_scenario
    from optinc_pdk.layout import write_layout
    from optinc_pdk.spec.dies import get_die
    from optinc_pdk.spec.scenario import load_scenario

    scenario = load_scenario("demo")
    description = describe(scenario, load_for_scenario(scenario, None))
    result = write_layout(description, tmp_path, formats=("gds",), png=False, pdk=CHOICE,
                          mount=get_die("cornerstone-half"))
    assert check_submission(result.paths["gds"]) == []
    assert result.info["die"]["fibres_used"] == 27 and result.mzis == 2
    from optinc_pdk.layout.drc import run_drc
    from optinc_pdk.layout.nets import check_heater_nets
    from optinc_pdk.pdk.cornerstone import LAYERS

    assert result.info["die"]["heater_routing"]["pads_used"] == 7  # of its 34 bond pads
    assert check_heater_nets(result.paths["gds"], 6, LAYERS.heater, LAYERS.metal).mismatches == 0
    assert run_drc(result.paths["gds"], CHOICE).total == 0


def test_the_die_presets_are_cornerstones_design_areas(si220):
    from cspdk.si220.submission import DESIGN_AREAS

    assert (DIES["cornerstone-full"].width, DIES["cornerstone-full"].height) == DESIGN_AREAS["full"]
    assert (DIES["cornerstone-half"].width, DIES["cornerstone-half"].height) == DESIGN_AREAS["half"]


@pytest.mark.parametrize("args, needle", [
    (["--pdk", "tsmc"], "--pdk: 'tsmc'"),
    (["--pdk", CHOICE, "--die", "0x3"], "--die: '0x3'"),
    (["--pdk", CHOICE, "--die", "wafer"], "--die: 'wafer'"),
])
def test_misuse_is_one_line_and_exit_2(si220, run_cli, tmp_path, args, needle):
    code, _, err = run_cli(["build", "demo", "-o", tmp_path / "out", *args])
    assert code == 2 and needle in err and err.strip().count("\n") == 0
    assert not (tmp_path / "out").exists()


def test_a_design_with_more_ports_than_fibres_is_refused(si220, tmp_path):
    from optinc_pdk.layout import write_layout
    from optinc_pdk.spec.dies import get_die

    scenario = tiny_scenario(name="wide_cs", servers=4, widths=(4, 4), approx=())  # 16 inputs, 14 fibres a side
    description = build_description(scenario, random_weights(scenario, 1))
    with pytest.raises(OptincError, match="fibre couplers"):
        write_layout(description, tmp_path, formats=("gds",), png=False, pdk=CHOICE, mount=get_die("cornerstone-full"))
    assert not list(tmp_path.glob("*.gds"))


def test_without_cspdk_the_option_says_how_to_install_it(monkeypatch):
    monkeypatch.setitem(sys.modules, "cspdk", None)
    monkeypatch.setitem(sys.modules, "cspdk.si220", None)
    with pytest.raises(OptincError) as error:
        get_adapter(CHOICE)
    assert re.search(r"pip install '\.\[cornerstone\]'", str(error.value)) and "\n" not in str(error.value)


def test_a_design_larger_than_the_die_is_refused(si220, tmp_path):
    """b8n4's plan (346 mm long on CORNERSTONE) on the half cell: one line, before any route or file."""
    from optinc_pdk.layout import write_layout
    from optinc_pdk.layout.synthetic import random_phase_description
    from optinc_pdk.spec.dies import get_die
    from optinc_pdk.spec.scenario import load_scenario

    description = random_phase_description(load_scenario("b8n4"))
    with pytest.raises(OptincError, match="does not fit the die"):
        write_layout(description, tmp_path, formats=("gds",), png=False, pdk=CHOICE, mount=get_die("cornerstone-half"))
    assert not list(tmp_path.glob("*.gds"))


def test_the_cheap_check_knows_which_adapters_draw_a_die(si220):
    from optinc_pdk.pdk.adapters import DIE_FRAMES, PDK_CHOICES

    assert set(DIE_FRAMES) == {name for name in PDK_CHOICES if get_adapter(name).mpw_frame is not None}


def test_a_missing_extra_is_found_without_importing_any_pdk(monkeypatch):
    """The build refuses before any work (and before seconds of imports) when cspdk is not installed."""
    import importlib.util

    from optinc_pdk.pdk.adapters import check_choice

    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: None if name == "cspdk" else real(name, *a))
    with pytest.raises(OptincError, match=r"--pdk cornerstone-si220 needs the cspdk package: pip install"):
        check_choice(CHOICE)
    check_choice("optinc")  # the default needs nothing


def test_one_process_draws_designs_on_both_pdks(si220, tmp_path):
    """Equal plans drawn for two PDKs are two cells with two names. The full suite once collided: the
    optinc PDK had named a mesh column with its key (two designs shared its readable name), and the
    same plan on cspdk asked for that very name."""
    from optinc_pdk.layout import write_layout

    shapes = [(dict(servers=2, widths=(4, 6, 12, 4), approx=(1, 2, 3)), "optinc"),
              (dict(servers=3, widths=(4, 6, 3, 4), approx=()), "optinc"),
              (dict(servers=3, widths=(4, 6, 12, 4), approx=(1, 2, 3)), CHOICE)]
    names = {}
    for k, (shape, pdk) in enumerate(shapes):
        scenario = tiny_scenario(name=f"both{k}", **shape)
        description = build_description(scenario, random_weights(scenario, 3))
        result = write_layout(description, tmp_path / str(k), formats=("gds",), png=False, pdk=pdk)
        assert result.mzis == result.expected_mzis
        layout = kdb.Layout()
        layout.read(str(result.paths["gds"]))
        names.setdefault(pdk, set()).update(cell.name for cell in layout.each_cell() if cell.name.startswith("mesh"))
    assert names["optinc"] and names[CHOICE] and not names["optinc"] & names[CHOICE]


def test_a_design_larger_than_one_mpw_frame_is_floorplanned_onto_such_dies(adapter, geometry, tmp_path):
    """`--pdk cornerstone-si220 --die cornerstone-half`: mounted on die_with_pads when the design fits one frame
    (the demonstrator); a longer design goes onto dies of that size through the floorplan, drawn with cspdk,
    and says why it was not mounted; its MZIs read back and its open ends are the description's."""
    from optinc_pdk.layout import write_layout
    from optinc_pdk.layout.connectivity import check_connectivity
    from optinc_pdk.layout.floorplan import parse_die
    from optinc_pdk.spec.dies import get_die

    scenario = tiny_scenario(name="long_cs", servers=2, widths=(4, 4), approx=())
    description = build_description(scenario, random_weights(scenario, 2))
    result = write_layout(description, tmp_path, formats=("gds",), png=False, pdk=CHOICE,
                          die=parse_die("cornerstone-half"), mount=get_die("cornerstone-half"))
    assert result.floorplan is not None and "does not fit the die" in result.info["not_mounted"]
    assert result.mzis == result.expected_mzis > 0
    layout = kdb.Layout()
    layout.read(str(result.paths["gds"]))
    assert sorted(cell.name for cell in layout.top_cells()) == sorted(d["cell"] for d in result.floorplan["per_die"])
    assert not any(cell.name.startswith("Cell0_") for cell in layout.top_cells())  # no MPW frame
    ends = check_connectivity(result.paths["gds"], description.top, geometry.wg_width, adapter.layers.wg, "design")
    assert ends.ok, ends.to_dict()


# --- issue 28: the routed demonstrator -----------------------------------------------------------------


def test_the_routed_demonstrator_has_every_heater_on_a_pad_drc_0_and_0_net_mismatches(demo_build):
    """issue 28, first "Done when": 6 heaters (hand count: the Σ attenuator's θ and φ, the Vᴴ and U output
    phases, the bias attenuator's θ and φ) on 6 pads of their own plus 1 shared ground, read back from the
    GDS; CORNERSTONE's rules on every layer drawn, 0 violations; the die tapeout-ready."""
    report = demo_build.report
    routing = report["layout"]["info"]["die"]["heater_routing"]
    assert routing["routed"] and routing["heaters"] == 6 and routing["pads_used"] == 7
    e = report["electrical"]
    assert (e["heaters_expected"], e["heaters_found"], e["own_pad"], e["on_ground"], e["ground_pads"]) == (6, 6, 6, 6, 1)
    assert e["mismatches"] == 0 and e["bond_pads"] == 62
    drc = report["drc"]
    assert drc["violations"] == 0
    assert {name.split(".")[0] for name in drc["per_rule"]} == {"WG", "HEATER", "PAD"}
    s = report["signoff"]
    assert s["pads_needed"] == 7 and s["optical_mismatches"] == 0 and s["electrical_mismatches"] == 0
    assert s["dies"][0]["pads_available"] == 62 and s["tapeout_ready"] is True


def _edited(path, tmp_path, edit):
    layout = kdb.Layout()
    layout.read(str(path))
    edit(layout)
    out = tmp_path / "edited.gds"
    layout.write(str(out))
    return out


def test_a_short_or_a_missing_route_in_the_written_metal_is_a_mismatch(demo_build, tmp_path):
    """The net check reads the file: a bar joining two signal routes, or the routes deleted, count."""
    from optinc_pdk.layout.nets import check_heater_nets
    from optinc_pdk.pdk.cornerstone import LAYERS

    gds = demo_build.report["layout"]["paths"]["gds"]
    assert check_heater_nets(gds, 6, LAYERS.heater, LAYERS.metal).mismatches == 0
    assert check_heater_nets(gds, 7, LAYERS.heater, LAYERS.metal).mismatches == 1  # a heater the file lacks

    def short(layout):  # a metal bar across the whole signal bundle, 1 mm above the design
        top = layout.top_cell()
        top.shapes(layout.layer(*LAYERS.metal)).insert(kdb.DBox(-2000, 1000, 2000, 1010))

    shorted = check_heater_nets(_edited(gds, tmp_path, short), 6, LAYERS.heater, LAYERS.metal)
    assert shorted.own_pad == 0 and shorted.shorted_pads == 1 and shorted.mismatches > 0

    def unroute(layout):
        layout.cell("Cell0_optinc_demo_heater_routes").clear_shapes()

    opened = check_heater_nets(_edited(gds, tmp_path, unroute), 6, LAYERS.heater, LAYERS.metal)
    assert opened.own_pad == 0 and opened.mismatches >= 6


def test_the_cornerstone_rules_name_cspdks_layers_and_keep_its_minimums(si220):
    """The rules table's layer numbers are cspdk's; its waveguide rules are at least cspdk's constraints.json."""
    import json
    from importlib.resources import files

    from cspdk.si220.tech import LAYER

    from optinc_pdk.pdk.rules import LAYERS_BY_PDK, rules_for

    for name, layer in LAYERS_BY_PDK[CHOICE].items():
        assert tuple(getattr(LAYER, name)) == layer
    constraints = json.loads(files("cspdk").joinpath("model/constraints.json").read_text())["constraints"]
    ours = {(r.layer, r.kind): r.value for r in rules_for(CHOICE)}
    for c in constraints:
        if c["layer"] == "WG":
            assert ours[("WG", c["type"].removeprefix("min_"))] >= c["value_um"]


def test_a_mounted_design_with_stacked_heaters_is_written_unrouted_and_says_why(si220, tmp_path):
    """A 2-mode mesh stacks heaters at one x: no route is drawn, the layout is still written, the routing
    info says which heater blocks it, and the signoff marks the die not tapeout-ready."""
    from optinc_pdk.analysis.pads import signoff
    from optinc_pdk.layout import write_layout
    from optinc_pdk.spec.dies import get_die

    s = tiny_scenario(servers=3, bits=2, widths=(1, 2, 1), approx=())
    d = build_description(s, random_weights(s, 0))
    result = write_layout(d, tmp_path, formats=("gds",), png=False, pdk=CHOICE, mount=get_die("cornerstone-full"))
    routing = result.info["die"]["heater_routing"]
    assert routing["routed"] is False and "heaters above one another" in routing["why"]
    layout = kdb.Layout()
    layout.read(str(result.paths["gds"]))
    assert layout.cell(f"{result.name}_heater_routes") is None
    verdict = signoff(d.top, {"layout": result.to_dict(), "drc": {"violations": 0},
                              "connectivity": {"connected": True, "open_ends": 0, "expected_open_ends": 0}})
    die = verdict["dies"][0]
    assert die["pads_needed"] == 21 and die["pads_available"] == 62 and not die["tapeout_ready"]
    assert die["blockers"][0].startswith("heaters not routed (heater routing: a straight")
