"""Layout of whole OptINCs: what the written GDS/OASIS hold, read back with KLayout.

The layout depends on a description's structure only (phases are never geometry), so these
tests use the scenarios' structures with random phases (``optinc_pdk.layout.synthetic``,
assembled by the circuit builder); the shipped trained weights give the same structure.
"""

from __future__ import annotations

import json

import numpy as np
import pytest

from optinc_pdk.circuit.model import AttenuatorColumn, MeshBlock
from optinc_pdk.core import area
from optinc_pdk.errors import OptincError
from optinc_pdk.layout import analytic_footprint, count_instances, read_layout, write_layout
from optinc_pdk.layout.plan import cell_names
from optinc_pdk.layout.planner import Planner
from optinc_pdk.layout.readback import instance_name, top_cell, top_info
from optinc_pdk.layout.synthetic import random_phase_description
from optinc_pdk.paths import CIRCUITS_DIR
from optinc_pdk.spec.scenario import load_scenario

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


@pytest.fixture(scope="module")
def b8n4():
    return random_phase_description(load_scenario("b8n4"), seed=1)


@pytest.fixture(scope="module")
def b8n4_build(b8n4, tmp_path_factory):
    return write_layout(b8n4, tmp_path_factory.mktemp("b8n4"), info={"phase_map": "b8n4.phases.npz"})


def _children(cell):
    return {instance_name(inst): inst for inst in cell.each_inst()}


def test_b8n4_holds_every_mzi_of_the_weights_and_the_periphery(b8n4_build):
    report = area.onn_area(load_scenario("b8n4"))
    assert report.approx_mzis == 41_664
    expected = report.approx_mzis + report.periphery.mzis  # + one bias attenuator per neuron
    assert expected == 42_308 and b8n4_build.mzis == expected
    for fmt in ("gds", "oas"):
        layout = read_layout(b8n4_build.paths[fmt])
        assert count_instances(layout, "mzi") == expected
        # the two MZI cells separately: mesh MZIs, and attenuators (Σ/diagonal entries and bias)
        meshes = sum(layer.mesh_mzis for layer in report.layers)
        assert count_instances(layout, "mzi2x2") == meshes
        assert count_instances(layout, "mzi_attenuator") == expected - meshes


def test_b8n4_is_arrays_not_one_reference_per_mzi(b8n4_build):
    layout = read_layout(b8n4_build.paths["gds"])
    records = sum(1 for index in layout.each_cell_bottom_up() for inst in layout.cell(index).each_inst()
                  if inst.cell.name.startswith("mzi"))
    assert records < 200  # 42 308 MZIs in a few dozen AREF/SREF records
    mesh_cells = {layout.cell(i).name for i in layout.each_cell_bottom_up() if layout.cell(i).name.startswith("mesh_n")}
    assert len(mesh_cells) == 3  # one cell per mesh size (4, 64, 128): phases are not geometry
    column_arrays = [inst for i in layout.each_cell_bottom_up() if layout.cell(i).name.startswith("mesh_n")
                     for inst in layout.cell(i).each_inst() if inst.cell.name.startswith("mesh_column")]
    assert all(inst.is_regular_array() and inst.cell_inst.size() > 1 for inst in column_arrays)


def test_b8n4_hierarchy_names_and_info(b8n4_build, b8n4):
    layout = read_layout(b8n4_build.paths["oas"])
    top = top_cell(layout)
    assert top.name == "b8n4"
    design = _children(top)["optinc"].cell
    assert set(_children(design)) == {"averager", "L1", "L2", "L3", "L4", "L5", "L6", "broadcast", "wires"}
    assert set(_children(_children(design)["L3"].cell)) == {"matrix", "bias", "relu", "wires"}
    info = top_info(layout)
    assert info["scenario"] == "b8n4" and info["weights_digest"] == b8n4.weights_digest
    assert info["phase_map"] == "b8n4.phases.npz" and info["mzis"] == 42_308


def test_cell_names_follow_the_structure_not_the_phases(b8n4_build, b8n4):
    layout = read_layout(b8n4_build.paths["gds"])
    design = _children(top_cell(layout))["optinc"].cell.name
    g = b8n4.scenario.device
    plan = Planner(g).plan(b8n4.top)
    other_phases = Planner(g).plan(random_phase_description(load_scenario("b8n4"), seed=9).top)
    # readable (a key hash is added only when an earlier design of this process drew another optinc_16x16)
    assert other_phases.key == plan.key and other_phases.name == plan.name == "optinc_16x16"
    assert design in ("optinc_16x16", f"optinc_16x16_{plan.key[:8]}")
    other_structure = Planner(g).plan(random_phase_description(load_scenario("b8n4_full"), seed=1).top)
    assert other_structure.key != plan.key and other_structure.name == "optinc_16x16"  # readable: kind and shape
    # drawn in the same process (or merged into one library), the second design's cell keeps a distinct name
    assert cell_names(other_structure, taken={design: plan.key})[other_structure.key] != design
    assert set(cell_names(plan).values()) >= {"L1_64x4", "L6_4x64", "block_4x4", "mesh_n64"}


def test_b8n4_png_and_footprint_report(b8n4_build, b8n4):
    png = b8n4_build.paths["png"].read_bytes()
    assert png.startswith(PNG_MAGIC) and int.from_bytes(png[16:20], "big") == 1600
    report = json.loads(b8n4_build.paths["footprint"].read_text())
    total = report["footprint"]["total"]
    width, height = analytic_footprint(b8n4)
    assert (total["xmax"] - total["xmin"], total["ymax"] - total["ymin"]) == (width, height)
    assert total["area_mm2"] == pytest.approx(width * height / 1e6)
    names = {block["name"] for block in report["footprint"]["blocks"]}
    assert {"averager", "L3", "L3/matrix", "L3/bias", "broadcast"} <= names
    assert report["mzis"] == report["expected_mzis"] == 42_308


def test_analytic_footprint_equals_the_built_bounding_box(b8n4_build, b8n4, tmp_path):
    layout = read_layout(b8n4_build.paths["gds"])
    box = top_cell(layout).dbbox()
    assert (box.width(), box.height()) == analytic_footprint(b8n4) == analytic_footprint(load_scenario("b8n4"))
    full = random_phase_description(load_scenario("b8n4_full"))  # the SVD path: Vᴴ, Σ, U meshes
    result = write_layout(full, tmp_path, formats=("oas",), png=False)
    layout = read_layout(result.paths["oas"])  # (a klayout Cell does not keep its Layout alive)
    box = top_cell(layout).dbbox()
    assert (box.width(), box.height()) == analytic_footprint(full)
    assert result.mzis == sum(layer.mzis for layer in area.onn_area(load_scenario("b8n4_full")).layers) + 644


@pytest.mark.parametrize("name", sorted(p.stem for p in CIRCUITS_DIR.glob("*.yml")))
def test_layout_mzi_count_matches_the_area_report_for_every_shipped_scenario(name):
    """Planned (not drawn) MZI count vs the analytic area report; b8n4 is drawn and read back above,
    b8n16_full (1 746 840 MZIs) by the benchmark (benchmarks/README.md)."""
    scenario = load_scenario(name)
    if scenario.cascade is not None:  # the description covers one basic OptINC: no cascade layout yet
        with pytest.raises(OptincError, match="cascade"):
            random_phase_description(scenario)
        return
    plan = Planner(scenario.device).plan(random_phase_description(scenario).top)
    report = area.onn_area(scenario)
    assert plan.mzis == report.approx_mzis + report.periphery.mzis


def test_unwritable_folder_writes_nothing(b8n4, tmp_path):
    blocker = tmp_path / "not_a_folder"
    blocker.write_text("")
    with pytest.raises(OptincError, match="cannot write the layout here"):
        write_layout(b8n4, blocker / "out", png=False)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["not_a_folder"]


def test_overlapping_mzis_are_refused_before_any_file(tmp_path):
    description = random_phase_description(load_scenario("b8n4"), seed=2)
    mesh = description.block("L1/B0/U")
    assert isinstance(mesh, MeshBlock)
    column = np.array(mesh.phases.column)
    column[1] = column[2]  # MZI 1 (modes 1, 2) moves into the column of MZI 2 (modes 0, 1 or 2, 3)
    object.__setattr__(mesh.phases, "column", column)
    out = tmp_path / "out"
    with pytest.raises(OptincError, match=r"b8n4: L1/B0/U\.column: two MZIs of column \d+ share mode"):
        write_layout(description, out)
    assert not out.exists()


def test_wiring_outside_a_child_is_refused(tmp_path):
    description = random_phase_description(load_scenario("b8n4"), seed=3)
    layer = description.block("L2")
    links = np.array(layer.links)
    links[0, 3] = 10_000
    object.__setattr__(layer, "links", links)
    with pytest.raises(OptincError, match=r"b8n4: L2\.links: channel 10000 is outside L2/bias"):
        write_layout(description, tmp_path / "out")
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize("interrupt_at", [1, 2])
def test_an_interrupted_build_leaves_no_partial_file(b8n4, tmp_path, monkeypatch, interrupt_at):
    """Ctrl-C while the GDS (1) or the OASIS (2) file is being checked: no file under a final name
    but the ones already complete, and no temporary file left behind."""
    import optinc_pdk.layout.write as write

    calls = []
    real = write.read_layout

    def interrupted(path):
        calls.append(path)
        if len(calls) == interrupt_at:
            assert path.exists() and path.stat().st_size > 0  # the temporary file was written
            raise KeyboardInterrupt
        return real(path)

    monkeypatch.setattr(write, "read_layout", interrupted)
    with pytest.raises(KeyboardInterrupt):
        write_layout(b8n4, tmp_path)
    assert [p.name for p in tmp_path.iterdir()] == (["b8n4.gds"] if interrupt_at == 2 else [])


def test_phase_labels_carry_every_phase(tmp_path, monkeypatch):
    scenario = load_scenario("b8n4").with_updates(name="tiny", widths=[4, 8, 4], approx_layers=[1, 2])
    description = random_phase_description(scenario, seed=4)
    result = write_layout(description, tmp_path, formats=("gds",), png=False, labels=True)
    layout = read_layout(result.paths["gds"])
    texts = {}
    text_layer = layout.layer(66, 0)
    for shape in layout.cell("tiny_phase_labels").shapes(text_layer).each():
        texts[shape.text_string.split(" ")[0]] = shape.text_string
    meshes = sum(b.n_mzis + b.n_modes for b in description.walk() if isinstance(b, MeshBlock))
    attenuators = sum(b.n_mzis for b in description.walk() if isinstance(b, AttenuatorColumn))
    assert (meshes, attenuators) == (4 * (6 + 4), 4 * 4 + 8 + 4)  # 4 blocks of 4 modes; diagonals, bias
    assert len(texts) == meshes + attenuators
    mesh = description.block("L1/B1/U")
    assert texts["L1/B1/U#2"] == f"L1/B1/U#2 t={mesh.theta[2]:.6f} p={mesh.phi[2]:.6f}"
    assert result.mzis == result.expected_mzis  # texts are not geometry
    import optinc_pdk.layout.labels as labels

    monkeypatch.setattr(labels, "LABEL_LIMIT", 10)
    with pytest.raises(OptincError, match="labels: .* phases to label"):
        write_layout(description, tmp_path / "again", labels=True)


def test_unknown_format_is_refused(b8n4, tmp_path):
    with pytest.raises(OptincError, match="format: svg: choose from gds, oas"):
        write_layout(b8n4, tmp_path, formats=("gds", "svg"))
