"""Data-driven tests over every registered optinc cell (cspdk style).

Regression references live in tests/ref_cells/: ``settings/<cell>.json`` (settings and ports of
the default cell) and ``<cell>.gds`` for a few small cells (XOR-compared). Regenerate them with
``OPTINC_UPDATE_REFS=1 pytest tests/test_pdk_cells.py`` and review the diff before committing.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

import gdsfactory as gf
import pydantic
import pytest
from gdsfactory.difftest import diff as gds_diff

from optinc_pdk.core.topology import group_size
from optinc_pdk.errors import OptincError
from optinc_pdk.pdk import activate_pdk, dimensions, get_pdk
from optinc_pdk.pdk.models import MODELS
from optinc_pdk.pdk.ports import east_ports, heater_ports, west_ports
from optinc_pdk.pdk.tech import LAYER, LYP_PATH, write_lyp
from optinc_pdk.spec.geometry import DeviceGeometry

REF_DIR = Path(__file__).with_name("ref_cells")
UPDATE_REFS = os.environ.get("OPTINC_UPDATE_REFS") == "1"

CELL_NAMES = sorted(get_pdk().cells)
MZI_CELLS = {"mzi2x2", "mzi_attenuator", "mzi2x2_fixed", "mzi_attenuator_fixed"}
#: cells whose re-exported heater contacts sit inside the block, not on its edge
INTERNAL_HEATER_PORTS = {"averager", "bias_injector"}
#: small leaf cells with committed reference GDS (a few KB each)
#: cells without light in them: the die outline (the floorplan's frame)
PORTLESS_CELLS = {"die_frame"}
GDS_REF_CELLS = ["straight", "sbend", "phase_shifter", "splitter_1x2", "combiner_2x1", "nonlinear_unit", "edge_coupler"]


@pytest.fixture(autouse=True)
def _optinc_pdk_active() -> None:
    activate_pdk()


def _build(name: str, **kwargs) -> gf.Component:
    return get_pdk().cells[name](**kwargs)


def _ports_summary(c: gf.Component) -> list[dict]:
    return [
        {"name": p.name, "center": list(p.center), "orientation": p.orientation, "width": p.width,
         "port_type": p.port_type}
        for p in sorted(c.ports, key=lambda p: p.name)
    ]


def _check_reference(path: Path, produce) -> Path | None:
    """Return the reference path, writing it first when OPTINC_UPDATE_REFS=1."""
    if UPDATE_REFS:
        path.parent.mkdir(parents=True, exist_ok=True)
        produce(path)
        return None
    assert path.exists(), f"missing reference {path}; run with OPTINC_UPDATE_REFS=1 to create it"
    return path


# --- registry ---------------------------------------------------------------------------------

def test_every_cell_has_a_model_of_the_same_name():
    assert set(get_pdk().cells) == set(MODELS) == set(get_pdk().models)


def test_only_the_mzi_cells_start_with_mzi():
    assert {name for name in CELL_NAMES if name.startswith("mzi")} == MZI_CELLS


def test_importing_the_package_activates_nothing():
    code = (
        "import sys, optinc_pdk, optinc_pdk.pdk, optinc_pdk.pdk.dimensions; "
        "assert 'gdsfactory' not in sys.modules, 'gdsfactory imported'"
    )
    subprocess.run([sys.executable, "-c", code], check=True)


def test_cells_refuse_to_build_under_another_pdk():
    gf.gpdk.PDK.activate()
    try:
        with pytest.raises(OptincError, match="activate_pdk"):
            get_pdk().cells["straight"](length=12.5)
    finally:
        activate_pdk()


# --- per cell: build, settings regression, ports, naming -----------------------------------------

@pytest.mark.parametrize("name", CELL_NAMES)
def test_cell_builds_with_defaults(name: str):
    c = _build(name)
    assert c.function_name == name
    assert c.name.startswith(name)
    assert len([p for p in c.ports if p.port_type == "optical"]) >= (0 if name in PORTLESS_CELLS else 2)
    assert c.settings.model_dump()["geometry"] == DeviceGeometry().model_dump()


@pytest.mark.parametrize("name", CELL_NAMES)
def test_settings_regression(name: str):
    c = _build(name)
    current = json.loads(json.dumps({
        "function_name": c.function_name,
        "settings": c.settings.model_dump(),
        "ports": _ports_summary(c),
    }))
    ref = _check_reference(
        REF_DIR / "settings" / f"{name}.json",
        lambda path: path.write_text(json.dumps(current, indent=1, sort_keys=True) + "\n"),
    )
    if ref is not None:
        assert current == json.loads(ref.read_text())


@pytest.mark.parametrize("name", CELL_NAMES)
def test_ports_lie_on_the_bounding_box_edge(name: str):
    c = _build(name)
    box = c.dbbox()
    edge = {180: ("x", box.left), 0: ("x", box.right), 90: ("y", box.top), 270: ("y", box.bottom)}
    for port in c.ports:
        x, y = port.center
        assert box.left <= x <= box.right and box.bottom <= y <= box.top, port.name
        if port.port_type == "electrical" and name in INTERNAL_HEATER_PORTS:
            assert port.orientation == 90, port.name
            continue
        axis, value = edge[round(port.orientation) % 360]
        assert (x if axis == "x" else y) == pytest.approx(value, abs=1e-3), f"{name}.{port.name} off the edge"


@pytest.mark.parametrize("name", CELL_NAMES)
def test_mzi_cells_are_exactly_the_cells_named_mzi(name: str):
    """Every MZI in any cell's hierarchy is an mzi2x2/mzi_attenuator instance, and nothing else is named mzi*."""
    c = _build(name)
    kcl = c.kcl
    for index in [c.cell_index(), *c.called_cells()]:
        sub = kcl[index]
        function_name = getattr(sub, "function_name", None)
        assert sub.name.startswith("mzi") == (function_name in MZI_CELLS), sub.name


@pytest.mark.filterwarnings("ignore:Unconnected ports")  # a lone instance leaves every port open
@pytest.mark.parametrize("name", CELL_NAMES)
def test_netlist_yaml_round_trip(name: str):
    """An instance of the cell survives netlist -> YAML -> component -> netlist (settings carry the geometry)."""
    top = gf.Component()
    top.add_ref(_build(name), name="dut")
    before = top.get_netlist()
    rebuilt = gf.read.from_yaml(top.write_netlist(before))
    after = rebuilt.get_netlist()
    assert after["instances"]["dut"]["component"] == name
    assert after["instances"]["dut"]["settings"] == before["instances"]["dut"]["settings"]


# --- GDS XOR regression ---------------------------------------------------------------------------

@pytest.mark.parametrize("name", GDS_REF_CELLS)
def test_gds_xor_against_reference(name: str, tmp_path: Path):
    run = _build(name).write_gds(gdspath=tmp_path / f"{name}.gds")
    ref = _check_reference(REF_DIR / f"{name}.gds", lambda path: shutil.copy(run, path))
    if ref is not None:
        result = gds_diff(ref, run, xor=True, show=False, test_name=name)
        assert not result, f"{name}: geometry differs from {ref}: {result.layers}"


def test_gds_references_stay_small():
    for path in REF_DIR.glob("*.gds"):
        assert path.stat().st_size < 8_000, path


# --- analytic dimensions --------------------------------------------------------------------------

CUSTOM = DeviceGeometry(mode_pitch=60.0, heater_length=150.0, bend_radius=5.0, sbend_length=30.0,
                        attenuator_arm_spacing=30.0, coupler_length=14.0, wg_width=0.45)

BBOX_CASES = [
    ("straight", {"length": 12.5}, lambda g: dimensions.straight_bbox(12.5, g)),
    ("sbend", {"dx": 20.0, "dy": -7.0}, lambda g: dimensions.sbend_bbox(20.0, -7.0, g)),
    ("sbend", {"dx": 20.0, "dy": 75.0}, lambda g: dimensions.sbend_bbox(20.0, 75.0, g)),
    ("phase_shifter", {}, dimensions.phase_shifter_bbox),
    ("dc_coupler", {}, lambda g: dimensions.dc_coupler_bbox(None, g)),
    ("splitter_1x2", {}, dimensions.splitter_1x2_bbox),
    ("combiner_2x1", {}, dimensions.combiner_2x1_bbox),
    ("mzi2x2", {}, lambda g: dimensions.mzi2x2_bbox(geometry=g)),
    # --min-power: a heater on the lower arm, its pads between the arms (both: nothing above the upper arm)
    *[("mzi2x2", arms, lambda g, arms=arms: dimensions.mzi2x2_bbox(**arms, geometry=g))
      for arms in ({"theta_lower": True}, {"phi_lower": True}, {"theta_lower": True, "phi_lower": True})],
    ("mzi_attenuator", {}, dimensions.mzi_attenuator_bbox),
    ("mzi2x2_fixed", {}, dimensions.mzi2x2_fixed_bbox),
    ("mzi_attenuator_fixed", {}, dimensions.mzi_attenuator_fixed_bbox),
    *[("phase_delay", {"level": k}, lambda g, k=k: dimensions.phase_delay_bbox(k, geometry=g)) for k in (0, 2, 200)],
    ("nonlinear_unit", {}, dimensions.nonlinear_unit_bbox),
    ("crossing", {}, dimensions.crossing_bbox),
    *[("splitter_tree", {"n_outputs": n}, lambda g, n=n: dimensions.splitter_tree_bbox(n, g)) for n in (2, 3, 5, 8)],
    *[("combiner_tree", {"n_inputs": n}, lambda g, n=n: dimensions.combiner_tree_bbox(n, g)) for n in (2, 6, 7)],
    ("averager", {"n_servers": 4, "bits": 8, "n_outputs": 4}, lambda g: dimensions.averager_bbox(4, 8, 4, g)),
    ("averager", {"n_servers": 3, "bits": 16, "n_outputs": 4}, lambda g: dimensions.averager_bbox(3, 16, 4, g)),
    ("splitter_array", {"n_inputs": 4, "n_servers": 3}, lambda g: dimensions.splitter_array_bbox(4, 3, g)),
    ("bias_injector", {"n_modes": 1}, lambda g: dimensions.bias_injector_bbox(1, g)),
    ("bias_injector", {"n_modes": 5}, lambda g: dimensions.bias_injector_bbox(5, g)),
    *[("edge_coupler", {"facet": f}, lambda g, f=f: dimensions.edge_coupler_bbox(f, g)) for f in ("west", "east")],
    ("die_frame", {"width": 900.0, "height": 400.0, "label": "b8n4 die 0"},
     lambda g: dimensions.die_frame_bbox(900.0, 400.0, "b8n4 die 0", g)),
]


@pytest.mark.parametrize("geometry", [DeviceGeometry(), CUSTOM], ids=["default", "custom"])
@pytest.mark.parametrize(("name", "params", "analytic"), BBOX_CASES, ids=[f"{n}-{p}" for n, p, _ in BBOX_CASES])
def test_analytic_bbox_matches_built_cell(name, params, analytic, geometry):
    box = _build(name, geometry=geometry, **params).dbbox()
    expected = analytic(geometry)
    assert (box.left, box.bottom, box.right, box.top) == pytest.approx(tuple(expected), abs=1e-3)


def test_every_cell_has_an_analytic_bbox():
    assert {name for name, _, _ in BBOX_CASES} == set(CELL_NAMES)


@pytest.mark.parametrize("geometry", [DeviceGeometry(), CUSTOM], ids=["default", "custom"])
def test_mzi_footprint_tiles_a_clements_mesh(geometry):
    c = _build("mzi2x2", geometry=geometry)
    length, pitch = dimensions.mzi_length(geometry), geometry.mode_pitch
    assert dimensions.mesh_column_pitch(geometry) == length
    assert dimensions.mesh_row_pitch(geometry) == 2 * pitch
    expected = {"o1": (0, 0), "o2": (0, pitch), "o3": (length, pitch), "o4": (length, 0)}
    for name, center in expected.items():
        assert c.ports[name].center == pytest.approx(center, abs=1e-3), name
    assert sorted(p.name for p in c.ports if p.port_type == "optical") == sorted(expected)
    assert [p.name for p in c.ports if p.port_type == "electrical"] == list(heater_ports(0))
    # two MZIs one row pitch apart in the same column, or abutting columns, do not overlap
    assert c.dbbox().height() < dimensions.mesh_row_pitch(geometry)
    assert c.dbbox().width() == pytest.approx(dimensions.mesh_column_pitch(geometry))


def test_sigma_attenuators_stack_at_the_mode_pitch():
    g = DeviceGeometry()
    box = dimensions.mzi_attenuator_bbox(g)
    assert box.height < g.mode_pitch
    c = _build("mzi_attenuator")
    assert c.ports["o3"].center == pytest.approx((dimensions.mzi_length(g), g.attenuator_arm_spacing))


# --- composite cells: structure -------------------------------------------------------------------

def _instance_counts(c: gf.Component) -> dict[str, int]:
    counts: dict[str, int] = {}
    for inst in c.insts:
        fn = getattr(inst.cell, "function_name", None) or inst.cell.name
        counts[fn] = counts.get(fn, 0) + 1
    return counts


@pytest.mark.parametrize("n", [2, 3, 5, 6, 7, 12])
def test_trees_use_n_minus_one_nodes_for_any_count(n: int):
    split = _build("splitter_tree", n_outputs=n)
    comb = _build("combiner_tree", n_inputs=n)
    assert _instance_counts(split)["splitter_1x2"] == n - 1
    assert _instance_counts(comb)["combiner_2x1"] == n - 1
    assert sorted(p.name for p in split.ports) == sorted(["o1", *east_ports(1, n)])
    assert sorted(p.name for p in comb.ports) == sorted([*west_ports(n), *east_ports(n, 1)])
    ys = [split.ports[p].center[1] for p in east_ports(1, n)]
    assert ys == sorted(ys, reverse=True), "output channel 0 must be the top one"


@pytest.mark.parametrize(("servers", "bits"), [(4, 8), (8, 8), (4, 16)])
def test_averager_structure(servers: int, bits: int):
    groups = group_size(bits, 4)
    c = _build("averager", n_servers=servers, bits=bits, n_outputs=4)
    counts = _instance_counts(c)
    assert counts["combiner_tree"] == 4
    assert counts.get("mzi_attenuator", 0) == servers * (groups - 1) * 4
    n_in = servers * bits // 2
    optical = sorted(p.name for p in c.ports if p.port_type == "optical")
    assert optical == sorted([*west_ports(n_in), *east_ports(n_in, 4)])
    electrical = [p.name for p in c.ports if p.port_type == "electrical"]
    assert len(electrical) == 4 * counts.get("mzi_attenuator", 0)


def test_splitter_array_and_bias_injector_structure():
    arr = _build("splitter_array", n_inputs=4, n_servers=16)
    assert _instance_counts(arr) == {"splitter_tree": 4}
    assert len([p for p in arr.ports if p.port_type == "optical"]) == 4 + 64
    bias = _build("bias_injector", n_modes=5)
    assert _instance_counts(bias) == {"splitter_tree": 1, "mzi_attenuator": 5}
    assert [p.name for p in bias.ports if p.port_type == "electrical"] == [
        name for k in range(5) for name in heater_ports(k)
    ]


# --- technology -----------------------------------------------------------------------------------

def test_committed_lyp_is_the_export_of_layers_yaml(tmp_path: Path):
    fresh = write_lyp(tmp_path / "optinc.lyp")
    if UPDATE_REFS:
        write_lyp(LYP_PATH)
    assert LYP_PATH.read_text() == fresh.read_text(), "re-export with python -m optinc_pdk.pdk.tech"
    names = {}
    for props in ET.parse(LYP_PATH).getroot().iter("properties"):
        name, source = props.findtext("name"), props.findtext("source")
        assert name, f"empty layer name for {source}"
        names[name.split()[0]] = source.split("@")[0]
    assert names == {layer.name: f"{layer.layer}/{layer.datatype}" for layer in LAYER}


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"mode_pitch": 50.001}, "2 nm grid"),
        ({"heater_pad_offset": 40.0}, "MZIs tile"),
        ({"attenuator_arm_spacing": 35.0}, "Σ column"),
        ({"sbend_length": 12.0}, "increase sbend_length"),
        ({"heater_pad_size": 1.0}, "heater_pad_size"),
        ({"unknown_field": 1.0}, "Extra inputs"),
    ],
)
def test_geometry_rejects_undrawable_devices(overrides, message):
    with pytest.raises(pydantic.ValidationError, match=message):
        DeviceGeometry(**overrides)
