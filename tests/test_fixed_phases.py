"""`optinc build --phases fixed`: quantised phases, delay sections instead of heaters, no pads, DRC-clean."""

from __future__ import annotations

import json
import math

import klayout.db as kdb
import numpy as np
import pytest

from optinc_pdk.circuit.quantise import largest_phase_error, phase_levels, quantised_description
from optinc_pdk.pdk.delay import DelayModel
from optinc_pdk.pdk.neff import neff
from optinc_pdk.spec.fixed_phases import FixedPhaseSpec
from optinc_pdk.spec.geometry import DeviceGeometry
from optinc_pdk.spec.scenario import scenario_from_dict

SMALL = {"name": "small", "bits": 4, "servers": 3, "widths": [2, 6, 5, 2], "approx_layers": [1, 3]}
HEATER, METAL, WG = (39, 0), (41, 0), (1, 0)  # optinc_pdk/pdk/layers.yaml


def test_phase_levels_round_to_the_nearest_step_and_wrap():
    step = 2 * math.pi / 8
    phases = np.array([0.0, 0.49 * step, 0.51 * step, -0.2 * step, 7.6 * step, 2 * math.pi + 3 * step])
    assert phase_levels(phases, 8).tolist() == [0, 0, 1, 0, 0, 3]


@pytest.fixture(scope="module")
def small_description():
    from optinc_pdk.circuit.builder import build_description
    from optinc_pdk.circuit.random_weights import random_weights

    scenario = scenario_from_dict(SMALL)
    return build_description(scenario, random_weights(scenario, 1))


def test_quantised_description_moves_every_phase_by_at_most_half_a_step(small_description):
    levels = 16
    quantised = quantised_description(small_description, levels)
    worst = largest_phase_error(small_description.top, quantised.top)
    assert 0 < worst <= math.pi / levels + 1e-12
    for block in quantised.walk():
        for phases in (getattr(block, "theta", None), getattr(block, "phi", None), getattr(block, "output_phase", None)):
            if phases is not None and np.size(phases):
                assert np.allclose(phases / (2 * math.pi / levels), np.rint(phases / (2 * math.pi / levels)), atol=1e-9)


def _drawn_width_profile(level: int, spec: FixedPhaseSpec, g: DeviceGeometry, dx: float) -> tuple[np.ndarray, np.ndarray]:
    """Sample the drawn delay polygon's width at x = dx/2, 3dx/2, ... by cutting it with thin vertical boxes."""
    from optinc_pdk.pdk import activate_pdk
    from optinc_pdk.pdk.cells import phase_delay

    activate_pdk()
    cell = phase_delay(level=level, levels=spec.levels, width=spec.width, taper_length=spec.taper_length, geometry=g)
    region = kdb.Region(cell.begin_shapes_rec(cell.kcl.layer(*WG)))
    xs = np.arange(dx / 2, g.heater_length, dx)
    widths = np.empty_like(xs)
    dbu = cell.kcl.dbu
    for i, x in enumerate(xs):
        cut = region & kdb.Region(kdb.Box(round(x / dbu), -10_000, round(x / dbu) + 1, 10_000))
        widths[i] = cut.bbox().height() * dbu
    return xs, widths


@pytest.mark.parametrize("level", [1, 37, 128, 255])
def test_drawn_delay_section_has_its_levels_phase(level):
    """Independent of the section-length formula: integrate n_eff over the drawn polygon's width profile."""
    spec, g = FixedPhaseSpec(), DeviceGeometry()
    dx = 0.002
    _, widths = _drawn_width_profile(level, spec, g, dx)
    phase = 2 * math.pi / 1.55 * float(np.sum(neff(widths) - neff(g.wg_width)) * dx)
    target = level * spec.step
    miss = (phase - target + math.pi) % (2 * math.pi) - math.pi
    # the drawing grid (1 nm) and this 2 nm midpoint sampling of the tapers: well under the 0.0245 rad step
    assert abs(miss) < 5e-3, (phase, target)


def test_level_zero_is_a_plain_strip_and_every_section_fits_the_heater_slot():
    spec, g = FixedPhaseSpec(), DeviceGeometry()
    _, widths = _drawn_width_profile(0, spec, g, 1.0)
    assert np.allclose(widths, g.wg_width)
    model = DelayModel.of(spec, g)
    assert max(model.section_length(k) for k in range(spec.levels)) <= g.heater_length
    assert model.section_length(0) == 0


def test_delay_that_cannot_fit_its_slot_is_refused():
    from optinc_pdk.errors import OptincError

    with pytest.raises(OptincError, match="fixed_phases.taper_length"):
        DelayModel.of(FixedPhaseSpec(taper_length=48.0), DeviceGeometry())


@pytest.mark.slow
def test_neff_table_agrees_with_a_finer_femwell_solve():
    pytest.importorskip("femwell")
    from optinc_pdk.pdk.neff import solve_te0_neff

    for width in (0.5, 0.8):
        assert solve_te0_neff(width, resolution_um=0.02) == pytest.approx(float(neff(width)), abs=2e-3)


def _shapes(path, layer) -> int:
    layout = kdb.Layout()
    layout.read(str(path))
    index = layout.find_layer(*layer)
    if index is None:
        return 0
    top = layout.top_cells()[0]
    return sum(1 for _ in top.begin_shapes_rec(index).each())


@pytest.fixture(scope="module")
def small_builds(tmp_path_factory):
    from optinc_pdk.flows.build import BuildRequest, build

    scenario = scenario_from_dict(SMALL)
    out = tmp_path_factory.mktemp("fixed")
    return {phases: build(BuildRequest(scenario=scenario, out_dir=out / phases, random_seed=1, png=False,
                                       formats=("gds",), phases=phases)) for phases in ("tunable", "fixed")}


def test_fixed_build_has_no_heater_and_no_pad_and_is_drc_clean(small_builds):
    fixed, tunable = small_builds["fixed"], small_builds["tunable"]
    gds = fixed.report["layout"]["paths"]["gds"]
    assert _shapes(gds, HEATER) == 0 and _shapes(gds, METAL) == 0 and _shapes(gds, WG) > 0
    assert fixed.report["layout"]["layer_shapes"] == {"heater": 0, "metal": 0}
    assert fixed.report["drc"]["violations"] == 0
    assert fixed.report["connectivity"]["connected"]
    ports = fixed.report["connectivity"]["ports"]  # the delay sections in their frames' slots, port to port
    assert ports["covered"] is True and ports["ok"] and ports["mismatches"] == 0 and ports["connections"] > 0
    assert tunable.report["connectivity"]["ports"]["ok"]
    # the tunable build of the same weights: one heater polygon and two pads per phase
    phases = fixed.report["phase_options"]["fixed"]["delay_sections"]
    tunable_gds = tunable.report["layout"]["paths"]["gds"]
    assert _shapes(tunable_gds, HEATER) == phases and _shapes(tunable_gds, METAL) == 2 * phases
    assert tunable.report["phase_options"]["tunable"]["pads"] == 2 * phases
    # the bond pads a die must offer are the signoff's count: one per heater and one shared ground
    bond_pads = tunable.report["phase_options"]["tunable"]["bond_pads_needed"]
    assert bond_pads == tunable.report["signoff"]["pads_needed"] == phases + 1


def test_fixed_build_places_one_delay_per_phase_of_its_level(small_builds, small_description):
    from optinc_pdk.analysis.power import stage_phases
    from optinc_pdk.layout.readback import count_instances, read_layout

    fixed = small_builds["fixed"]
    layout = read_layout(fixed.report["layout"]["paths"]["gds"])
    assert count_instances(layout, "phase_delay") == stage_phases(small_description.top).size
    assert count_instances(layout, "mzi") == fixed.report["layout"]["expected_mzis"]


def test_fixed_build_verifies_the_quantised_chip_and_compares_both_options(small_builds):
    fixed, tunable = small_builds["fixed"], small_builds["tunable"]
    v = fixed.report["verification"]
    assert fixed.verified is True and v["optical_equals_model"]
    options = fixed.report["phase_options"]
    residual = options["fixed"]["delay_model"]["largest_drawn_residual_rad"]  # the 1 nm grid's share
    assert 0 < residual < v["fixed_phases"]["step_rad"] / 2
    assert 0 < v["fixed_phases"]["largest_phase_error_rad"] <= v["fixed_phases"]["step_rad"] / 2 + residual + 1e-12
    assert v["max_layer_relative_error"] > tunable.report["verification"]["max_layer_relative_error"]
    assert options["chosen"] == "fixed" and options["fixed"]["static_power_w"] == 0
    assert options["tunable"]["static_power_w"] == pytest.approx(tunable.report["heater_power"]["total_w"])
    assert fixed.report["heater_power"] is None
    drawn = fixed.report["layout"]["footprint"]["total"]
    assert options["fixed"]["footprint"]["width_mm"] == pytest.approx(drawn["width_mm"], abs=1e-6)
    assert options["fixed"]["footprint"]["height_mm"] == pytest.approx(drawn["height_mm"], abs=1e-6)
    # the phase map holds the drawn phases: each on its level's grid point up to the 1 nm grid's residual
    with np.load(fixed.out_dir / "phases.npz") as phase_map:
        for key in phase_map.files:
            if key.endswith(("theta", "phi", "output_phase")):
                off = phase_map[key] / options["fixed"]["step_rad"]
                assert np.all(np.abs(off - np.rint(off)) * options["fixed"]["step_rad"] <= residual + 1e-12), key
    report = json.loads((fixed.out_dir / "report.json").read_text())
    assert report["phase_options"]["fixed"]["pads"] == 0
    assert "Phase shifters: tunable heaters or fixed delays" in (fixed.out_dir / "report.md").read_text()


def test_fixed_build_on_dies_needs_no_pad_and_every_die_is_drc_clean(tmp_path):
    """--phases fixed with --die: the delay sections are cut onto dies like heaters are; no die needs a pad."""
    from optinc_pdk.flows.build import BuildRequest, build

    result = build(BuildRequest(scenario=scenario_from_dict(SMALL), out_dir=tmp_path / "dies", random_seed=1, png=False,
                                formats=("gds",), phases="fixed", die="4x4"))
    report = result.report
    assert result.verified and report["layout"]["info"]["dies"] == 2
    layout = kdb.Layout()
    layout.read(report["layout"]["paths"]["gds"])
    assert layout.find_layer(*HEATER) is None and layout.find_layer(*METAL) is None  # no die draws one
    assert sum(1 for top in layout.top_cells() for _ in top.begin_shapes_rec(layout.find_layer(*WG)).each()) > 0
    assert report["drc"]["violations"] == 0 and report["connectivity"]["connected"]
    ports = report["connectivity"]["ports"]
    assert ports["covered"] == "blocks" and ports["ok"] and ports["blocks"] > 0 and ports["mismatches"] == 0
    signoff = report["signoff"]
    assert signoff["heaters"] == 0 and signoff["pads_needed"] == 0
    assert [d["pads_needed"] for d in signoff["dies"]] == [0, 0] and signoff["tapeout_ready"]


@pytest.mark.parametrize(("args", "message"), [
    (["small.yml", "--phases", "dimmable"], "--phases: 'dimmable' is not one of tunable, fixed"),
    (["cascade16", "--phases", "fixed"], "--phases fixed: cascade16 is a cascade"),
    (["small.yml", "--phases", "fixed", "--pdk", "cornerstone-si220"], "--phases fixed: drawn with the optinc PDK"),
])
def test_bad_phase_options_are_one_line_and_exit_2(run_cli, tmp_path, monkeypatch, args, message):
    import yaml

    monkeypatch.chdir(tmp_path)
    (tmp_path / "small.yml").write_text(yaml.safe_dump(SMALL))
    code, out, err = run_cli(["build", *args, "--random-weights", "1", "-o", str(tmp_path / "out")])
    assert code == 2
    assert message in (out + err)
    assert not (tmp_path / "out").exists()
