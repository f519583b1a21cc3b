"""`optinc build --min-power`: each mesh MZI's heaters drawn on the arms that cost least, end to end.

The description carries the arms (``MeshPhases.theta_lower``/``phi_lower``), the verification simulates them, the
layout draws them and the report's power is theirs. Checked here against the plain build of the same weights and
against the written files, read back independently (phase map with numpy, heaters from the GDS with KLayout).
"""

from __future__ import annotations

import json

import klayout.db as kdb
import numpy as np
import pytest

from optinc_pdk.analysis.power import heater_power, least_heater_power
from optinc_pdk.circuit.builder import build_description
from optinc_pdk.circuit.random_weights import random_weights
from optinc_pdk.decompose.mesh import MeshPhases
from optinc_pdk.spec.geometry import DeviceGeometry
from optinc_pdk.spec.scenario import scenario_from_dict

# small, but with meshes big enough that they hold most of the heaters (SVD layers and one block layer)
SMALL = {"name": "arms", "bits": 4, "servers": 3, "widths": [2, 8, 16, 2], "approx_layers": [2]}
SEED = 1
HEATER = (39, 0)  # optinc_pdk/pdk/layers.yaml
COUPLER = np.array([[1, 1j], [1j, 1]]) / np.sqrt(2)


@pytest.fixture(scope="module")
def scenario():
    return scenario_from_dict(SMALL)


@pytest.fixture(scope="module")
def plain(scenario):
    return build_description(scenario, random_weights(scenario, SEED))


@pytest.fixture(scope="module")
def builds(scenario, tmp_path_factory):
    from optinc_pdk.flows.build import BuildRequest, build

    out = tmp_path_factory.mktemp("arms")
    return {name: build(BuildRequest(scenario=scenario, out_dir=out / name, random_seed=SEED, png=False,
                                     formats=("gds",), min_power=name == "min_power"))
            for name in ("plain", "min_power")}


def _physical(mesh: MeshPhases) -> np.ndarray:
    """The mesh from couplers and heaters written out one by one: each heater a phase on the arm it sits on."""
    matrix = np.eye(mesh.n_modes, dtype=complex)
    for k in np.argsort(mesh.column, kind="stable"):
        inner = [1.0, np.exp(1j * mesh.theta[k])] if mesh.theta_lower[k] else [np.exp(1j * mesh.theta[k]), 1.0]
        outer = [1.0, np.exp(1j * mesh.phi[k])] if mesh.phi_lower[k] else [np.exp(1j * mesh.phi[k]), 1.0]
        a = mesh.top_mode[k]
        matrix[a : a + 2] = COUPLER @ np.diag(inner) @ COUPLER @ np.diag(outer) @ matrix[a : a + 2]
    return np.diag(np.exp(1j * mesh.output_phase)) @ matrix


def test_all_upper_arms_are_todays_mesh_cell_and_phase_map(plain, tmp_path):
    from optinc_pdk.decompose.phasemap import load_phase_map, save_phase_map
    from optinc_pdk.layout.leaves import plan_mesh
    from optinc_pdk.pdk import activate_pdk
    from optinc_pdk.pdk.cells import CELLS

    mesh = next(b for b in plain.top.walk() if b.kind == "mesh" and b.n_mzis)
    p = mesh.phases
    explicit = MeshPhases(p.n_modes, p.theta, p.phi, p.top_mode, p.column, p.output_phase, p.kind,
                          np.zeros(p.n_mzi, dtype=bool), np.zeros(p.n_mzi, dtype=bool))
    assert not p.any_lower and not p.theta_lower.any() and not p.phi_lower.any()
    np.testing.assert_array_equal(explicit.matrix(), p.matrix())
    g = DeviceGeometry()
    assert plan_mesh(mesh, g, {})[0] == plan_mesh(type(mesh)(mesh.name, mesh.n_in, mesh.n_out, phases=explicit), g, {})[0]
    save_phase_map(tmp_path / "map", {"m": explicit}, {"layers": [{"name": "m", "scale": 1.0, "optical_order": [["m"]]}]})
    with np.load(tmp_path / "map.npz") as saved:
        assert sorted(saved.files) == sorted(f"m/{f}" for f in ("theta", "phi", "top_mode", "column", "output_phase",
                                                                "n_modes"))
    assert not load_phase_map(tmp_path / "map")[0]["m"].any_lower
    activate_pdk()
    assert CELLS["mzi2x2"]().name == CELLS["mzi2x2"](theta_lower=False, phi_lower=False).name


def test_min_power_build_realises_the_plain_matrices_and_verifies(builds, plain):
    from optinc_pdk.decompose.phasemap import load_phase_map

    build = builds["min_power"]
    assert build.verified is True and build.report["verification"]["optical_equals_model"]
    entries, sidecar = load_phase_map(build.out_dir / "phases.npz")  # what the build wrote, read back
    assert "lower arm" in sidecar["mzi"]["arms"]
    assert "arms" not in load_phase_map(builds["plain"].out_dir / "phases.npz")[1]["mzi"]
    plain_meshes = {b.name: b.phases for b in plain.top.walk() if b.kind == "mesh"}
    moved = 0
    for name, mesh in plain_meshes.items():
        drawn = entries[name]
        np.testing.assert_allclose(drawn.matrix(), mesh.matrix(), atol=1e-9, err_msg=name)
        np.testing.assert_allclose(_physical(drawn), mesh.matrix(), atol=1e-9, err_msg=name)
        moved += int(drawn.theta_lower.sum() + drawn.phi_lower.sum())
    assert moved == build.report["heater_power"]["lower_arm_heaters"] > 0


def test_min_power_build_draws_the_least_power_and_reports_the_plain_beside_it(builds, plain):
    drawn, plain_report = builds["min_power"].report["heater_power"], builds["plain"].report["heater_power"]
    expected_plain, least = heater_power(plain.top)["total_w"], least_heater_power(plain.top)["total_w"]
    assert drawn["total_w"] == pytest.approx(least, rel=1e-12)
    assert drawn["plain"]["total_w"] == pytest.approx(expected_plain, rel=1e-12) == plain_report["total_w"]
    assert drawn["reduction"] == pytest.approx(1 - least / expected_plain)
    assert drawn["reduction"] >= 0.30
    assert drawn["arms"] == "least-power" and plain_report["arms"] == "upper" and "plain" not in plain_report
    assert plain_report["lower_arm_heaters"] == 0
    # the phase-option comparison states the tunable option as drawn
    assert builds["min_power"].report["phase_options"]["tunable"]["static_power_w"] == pytest.approx(drawn["total_w"])
    report = (builds["min_power"].out_dir / "report.md").read_text()
    assert f"{100 * drawn['reduction']:.1f} % less" in report and "`--min-power`" in report
    assert json.loads((builds["min_power"].out_dir / "report.json").read_text())["heater_power"]["arms"] == "least-power"


def _heaters_by_arm(gds, mode_pitch: float) -> tuple[int, int]:
    """(lower, upper) heaters of every placed mesh MZI, read from the file: a heater (its HEATER shapes merged: a
    foundry heater draws filament and leads as several) whose strip lies below the middle between the MZI's arms
    heats its lower arm."""
    layout = kdb.Layout()
    layout.read(str(gds))
    heater = layout.find_layer(*HEATER)
    top = layout.top_cells()[0]
    per_cell: dict[int, tuple[int, int]] = {}
    lower = upper = 0
    it = kdb.RecursiveInstanceIterator(layout, top)
    it.targets = [c.cell_index() for c in layout.each_cell() if c.name.startswith("mzi2x2")]
    while not it.at_end():
        index = it.inst_cell().cell_index()
        if index not in per_cell:
            middle = mode_pitch / 2 / layout.dbu
            below = [polygon.bbox().bottom < middle
                     for polygon in kdb.Region(it.inst_cell().begin_shapes_rec(heater)).merged().each()]
            per_cell[index] = (sum(below), len(below) - sum(below))
        lower, upper = lower + per_cell[index][0], upper + per_cell[index][1]
        it.next()
    return lower, upper


def test_min_power_gds_has_heaters_on_lower_arms_drc_clean_and_connected(builds, plain):
    g = DeviceGeometry()
    mzis = sum(b.n_mzis for b in plain.top.walk() if b.kind == "mesh")
    for name, build in builds.items():
        lower, upper = _heaters_by_arm(build.report["layout"]["paths"]["gds"], g.mode_pitch)
        assert lower + upper == 2 * mzis, name
        assert lower == build.report["heater_power"]["lower_arm_heaters"], name
        assert build.report["drc"]["violations"] == 0, name
        connectivity = build.report["connectivity"]
        assert connectivity["connected"], name
    assert _heaters_by_arm(builds["min_power"].report["layout"]["paths"]["gds"], g.mode_pitch)[0] > 0
    # the open waveguide ends the description means, and the plain build's: moving a heater changes no waveguide
    ends = {name: build.report["connectivity"]["open_ends"] for name, build in builds.items()}
    assert ends["min_power"] == ends["plain"] == builds["min_power"].report["connectivity"]["expected_open_ends"]


def test_the_cli_option_reaches_the_build_and_its_summary(run_cli, tmp_path):
    (tmp_path / "tiny.yml").write_text("name: tiny\nbits: 2\nservers: 3\nwidths: [1, 4, 1]\napprox_layers: []\n")
    code, out, err = run_cli(["build", str(tmp_path / "tiny.yml"), "--random-weights", "1", "--min-power", "--no-png",
                              "--format", "gds", "-o", str(tmp_path / "out")])
    assert code == 0, err
    report = json.loads((tmp_path / "out" / "report.json").read_text())["heater_power"]
    assert report["arms"] == "least-power" and report["lower_arm_heaters"] > 0
    assert f"{report['total_w']:.1f} W drawn (--min-power: {report['lower_arm_heaters']} heaters" in " ".join(out.split())


def test_min_power_with_fixed_phases_or_a_cascade_is_one_line_and_exit_2(run_cli):
    code, _, err = run_cli(["build", "b8n4", "--phases", "fixed", "--min-power"])
    assert code == 2 and "--min-power: a --phases fixed build has no heaters to place" in err
    code, _, err = run_cli(["build", "cascade16", "--min-power"])
    assert code == 2 and "--min-power: cascade16 is a cascade" in err


@pytest.fixture(scope="module")
def cornerstone_builds(tmp_path_factory):
    pytest.importorskip("cspdk.si220", reason="cspdk (the [cornerstone] extra) is not installed")
    from optinc_pdk.flows.build import BuildRequest, build
    from optinc_pdk.pdk import activate_pdk
    from optinc_pdk.spec.scenario import load_scenario

    out = tmp_path_factory.mktemp("arms_cs")
    tiny = scenario_from_dict({"name": "tiny", "bits": 2, "servers": 3, "widths": [1, 4, 1], "approx_layers": []})
    builds = {"tiny": build(BuildRequest(scenario=tiny, out_dir=out / "tiny", random_seed=SEED, png=False,
                                         formats=("gds",), pdk="cornerstone-si220", min_power=True)),
              "demo": build(BuildRequest(scenario=load_scenario("demo"), out_dir=out / "demo", png=False,
                                         formats=("gds",), pdk="cornerstone-si220", die="cornerstone-full",
                                         min_power=True))}
    activate_pdk()  # the optinc PDK for the tests after these
    return builds


def test_cornerstone_draws_lower_arm_heaters_drc_clean(cornerstone_builds):
    tiny = cornerstone_builds["tiny"]
    lower, _ = _heaters_by_arm(tiny.report["layout"]["paths"]["gds"], DeviceGeometry().mode_pitch)
    assert tiny.verified is True and lower == tiny.report["heater_power"]["lower_arm_heaters"] > 0
    assert tiny.report["drc"]["violations"] == 0 and tiny.report["drc"]["per_rule"]["PAD.space.10um"] == 0


def test_cornerstone_demonstrator_with_min_power_is_routed_and_drc_clean(cornerstone_builds):
    # its one layer is 1 × 1: no mesh MZI, so nothing moves; its six attenuator heaters are routed as before
    demo = cornerstone_builds["demo"]
    assert demo.verified is True and demo.report["drc"]["violations"] == 0
    assert demo.report["electrical"]["mismatches"] == 0 and demo.report["electrical"]["own_pad"] == 6
    power = demo.report["heater_power"]
    assert power["lower_arm_heaters"] == 0 and power["total_w"] == pytest.approx(power["plain"]["total_w"])


@pytest.mark.parametrize(("theta_lower", "phi_lower"), [(False, False), (True, False), (False, True), (True, True)])
def test_the_cells_sax_model_is_the_arms_formula(theta_lower, phi_lower):
    from optinc_pdk.core.mzi import mzi_transfer_arms
    from optinc_pdk.pdk.models import mzi2x2

    theta, phi = 1.1, 4.3
    s = mzi2x2(theta, phi, theta_lower=theta_lower, phi_lower=phi_lower)
    t = mzi_transfer_arms(theta, phi, theta_lower, phi_lower)
    # o2/o3 upper in/out, o1/o4 lower (pdk/cells/mzis.py)
    for (a, b), (row, col) in {("o2", "o3"): (0, 0), ("o1", "o3"): (0, 1), ("o2", "o4"): (1, 0), ("o1", "o4"): (1, 1)}.items():
        assert complex(s[(a, b)]) == pytest.approx(complex(t[row, col]), abs=1e-12)


def test_the_yield_refuses_a_min_power_description_it_does_not_model(plain):
    from optinc_pdk.circuit.arms import least_power_description
    from optinc_pdk.errors import OptincError
    from optinc_pdk.simulate.nonideal import ErrorSites

    ErrorSites(plain)  # upper-arm heaters: modelled
    with pytest.raises(OptincError, match="heaters on lower arms"):
        ErrorSites(least_power_description(plain))


def test_a_lower_arm_heater_is_found_by_the_router_with_its_pads_north_between_the_arms():
    import gdsfactory as gf

    from optinc_pdk.layout.heaters import find_heaters
    from optinc_pdk.pdk import activate_pdk
    from optinc_pdk.pdk.cells import CELLS

    activate_pdk()
    g = DeviceGeometry()
    mzi = CELLS["mzi2x2"](theta_lower=True)
    top = gf.Component()
    top.add_ref(mzi)
    heaters = sorted(find_heaters(top, mzi.kdb_cell.cell_index()), key=lambda h: h.west.x)  # φ slot, then θ slot
    assert [h.west.y for h in heaters] == pytest.approx([g.mode_pitch, 0.0])  # φ on the upper arm, θ on the lower
    pad_top = g.heater_pad_offset + g.heater_pad_size
    assert heaters[1].west_pad.y == pytest.approx(pad_top) and pad_top < g.mode_pitch - g.heater_width / 2
