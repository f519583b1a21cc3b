"""Optical loss and link budget (issue 28, point 4): each number against an independent small computation,
and the loss model against sax on a 64-mode mesh of lossy PDK elements (within 0.01 dB)."""

from __future__ import annotations

import functools
import math

import numpy as np
import pytest
from scipy.special import erfc
from test_circuit_helpers import tiny_scenario
from test_fault_injection import SEED

from optinc_pdk.analysis.link_budget import link_budget, q_factor, receiver_noise_levels, regeneration, sensitivity_dbm
from optinc_pdk.analysis.loss import COUNTS, LossModel, Routes
from optinc_pdk.circuit.builder import build_description
from optinc_pdk.circuit.random_weights import random_weights
from optinc_pdk.spec.budget import BudgetSpec, ElementLosses, LinkReceiver
from optinc_pdk.spec.geometry import DeviceGeometry

G, LOSSES = DeviceGeometry(), ElementLosses()


def _arc(dx, dy):
    """(length, bends in 90° units) of an S-bend by hand: two arcs of radius (dx² + dy²)/(4|dy|) turning
    2·atan(|dy|/dx) each when |dy| <= dx; else two quarter circles of radius dx/2 and a vertical |dy| − dx."""
    if abs(dy) > dx:
        return math.pi * dx / 2 + abs(dy) - dx, 2.0
    radius = (dx * dx + dy * dy) / (4 * abs(dy))
    angle = 2 * math.atan2(abs(dy), dx)
    return 2 * radius * angle, 2 * angle / (math.pi / 2)


def test_max_plus_join_keeps_the_counts_of_the_worse_middle():
    a = Routes(np.array([[1.0, 3.0]]), np.array([[[1, 0, 0, 0, 0, 0], [0, 1, 0, 0, 0, 0]]], dtype=float))
    b = Routes(np.array([[5.0], [2.0]]), np.array([[[0, 0, 1, 0, 0, 0]], [[0, 0, 0, 1, 0, 0]]], dtype=float))
    joined = a.then(b)
    assert joined.loss[0, 0] == 6.0  # via the first middle channel: 1 + 5 > 3 + 2
    assert joined.counts[0, 0].tolist() == [1, 0, 1, 0, 0, 0]


def test_two_leaf_tree_by_hand():
    model = LossModel(G, LOSSES)
    leaves = model.tree_leaves(2)
    offset = (G.mmi_gap + G.mmi_taper_width) / 2
    length, bends = _arc(2 * G.bend_radius, G.mode_pitch / 2 - offset)
    mmi = 2 * G.mmi_taper_length + G.mmi_length
    for leaf in leaves:
        assert dict(zip(COUNTS, leaf)) == pytest.approx(
            {"length_um": mmi + length, "bends": bends, "crossings": 0, "splitters": 1, "couplers": 0, "heaters": 0})


def test_mesh_mzi_by_hand():
    model = LossModel(G, LOSSES)
    length, bends = _arc(G.sbend_length, (G.mode_pitch - G.coupler_gap - G.wg_width) / 2)
    mzi = dict(zip(COUNTS, model.mzi(G.mode_pitch)))
    assert mzi == pytest.approx({"length_um": 2 * G.heater_length + 2 * (2 * length + G.coupler_length),
                                 "bends": 4 * bends, "crossings": 0, "splitters": 0, "couplers": 2, "heaters": 2})


def test_receiver_by_hand():
    rx = LinkReceiver(symbol_rate_gbd=50.0, responsivity_a_per_w=0.8, noise_pa_per_rthz=15.0, ber=1e-6)
    q = q_factor(rx.ber)
    assert 0.75 * erfc(q / math.sqrt(2)) == pytest.approx(rx.ber, rel=1e-9)
    sigma = 15e-12 * math.sqrt(25e9)
    sens, q2, noise = sensitivity_dbm(rx)
    assert noise == pytest.approx(sigma) and q2 == q
    assert 10 ** (sens / 10) / 1e3 == pytest.approx(6 * q * sigma / 0.8)


def test_regeneration_by_hand():
    along = [{"stage": "L1", "total_db": 20.0}, {"stage": "L2", "total_db": 45.0}, {"stage": "L3", "total_db": 80.0}]
    # 30 dB of budget: L2 at 45 would fall below, so regenerate after L1 (+20 dB); L3 then needs 35 dB from L2's 45,
    # after L2 (+25 dB) it needs 35 > 30 dB: 5 dB of gain inside L3
    points = regeneration(along, {"L1", "L2"}, launch_dbm=20.0, needed_dbm=-10.0)
    assert [(p["after"], p["gain_db"]) for p in points] == [("L1", 20.0), ("L2", 25.0), ("L2", 5.0)]
    assert points[-1]["where"].startswith("optical gain inside")


def test_receiver_noise_in_levels_by_hand():
    """σ against one PAM4 step: 1/(2Q) with the top level exactly at the sensitivity; 10 dB more light, a tenth."""
    rx = LinkReceiver()
    sens, q, sigma = sensitivity_dbm(rx)
    receiver = rx.model_dump() | {"noise_a": sigma}
    at_sensitivity = {"receiver": receiver, "max_launch_dbm": 20.0, "regeneration": [],
                      "along_worst_route": [{"stage": "L1", "total_db": 20.0 - sens}]}
    assert receiver_noise_levels(at_sensitivity)["sigma_levels"] == pytest.approx(1 / (2 * q))
    brighter = at_sensitivity | {"along_worst_route": [{"stage": "L1", "total_db": 10.0 - sens}]}
    assert receiver_noise_levels(brighter)["sigma_levels"] == pytest.approx(0.1 / (2 * q))
    regenerated = at_sensitivity | {"regeneration": [{"gain_db": 4.0}, {"gain_db": 6.0}]}  # 10 dB of gain on the way
    assert receiver_noise_levels(regenerated)["received_dbm"] == pytest.approx(sens + 10.0)


def test_yield_takes_its_detector_noise_from_the_budget(run_cli):
    import json

    from optinc_pdk.core.weights import load_for_scenario
    from optinc_pdk.spec.scenario import load_scenario

    scenario = load_scenario("demo")
    expected = receiver_noise_levels(link_budget(build_description(scenario, load_for_scenario(scenario)), scenario.budget))
    code, out, err = run_cli(["yield", "demo", "--sigma-detector", "budget", "--sigma-phase", "0", "--samples", "2", "--json"])
    assert code == 0, err
    assert json.loads(out)["results"][0]["error_model"]["sigma_detector"] == pytest.approx(expected["sigma_levels"])


def test_budget_of_a_small_optinc_adds_up():
    scenario = tiny_scenario(name="budget", servers=2, widths=(4, 6, 4), approx=())
    description = build_description(scenario, random_weights(scenario, SEED))
    budget = link_budget(description, BudgetSpec())
    sens = budget["receiver"]["sensitivity_dbm"]
    assert budget["design_db"] == pytest.approx(20 * math.log10(description.receiver_gain))
    assert budget["laser_dbm_per_server"] == pytest.approx(sens + budget["design_db"] + budget["worst_excess_db"])
    assert budget["median_excess_db"] <= budget["worst_excess_db"]
    last = budget["along_worst_route"][-1]
    assert last["excess_db"] == pytest.approx(budget["worst_excess_db"])
    assert last["total_db"] == pytest.approx(budget["design_db"] + budget["worst_excess_db"])
    worst = budget["worst_route"]
    db = {"length_um": LOSSES.waveguide_db_per_cm / 1e4, "bends": LOSSES.bend_db_per_90, "crossings": LOSSES.crossing_db,
          "splitters": LOSSES.splitter_db, "couplers": LOSSES.coupler_db, "heaters": LOSSES.heater_db}
    assert sum(worst[k] * db[k] for k in db) == pytest.approx(budget["worst_excess_db"])
    # a layout with no crossings has no crossing loss; this one's per-stage count equals the drawn total
    assert sum(budget["crossings"].values()) >= worst["crossings"]


def test_system_verdict_is_the_laser_a_server_needs_against_what_it_launches():
    """The signoff's system verdict flips exactly where the needed laser power crosses the maximum launch."""
    from optinc_pdk.analysis.pads import system_verdict

    scenario = tiny_scenario(name="budget", servers=2, widths=(4, 6, 4), approx=())
    description = build_description(scenario, random_weights(scenario, SEED))
    needed = link_budget(description, BudgetSpec())["laser_dbm_per_server"]
    for margin, works in ((0.5, True), (-0.5, False)):
        budget = link_budget(description, BudgetSpec(receiver=LinkReceiver(max_launch_dbm=needed + margin)))
        verdict = system_verdict(budget)
        assert verdict["works_passively"] is works and verdict["laser_dbm_per_server"] == pytest.approx(needed)
        assert (verdict["why_not"] == "") is works
    assert system_verdict(None) is None


def test_losses_come_from_the_scenario():
    scenario = tiny_scenario(name="budget", servers=2, widths=(4, 6, 4), approx=())
    description = build_description(scenario, random_weights(scenario, SEED))
    base = link_budget(description, BudgetSpec())
    doubled = link_budget(description, BudgetSpec(losses=ElementLosses(heater_db=2 * LOSSES.heater_db)))
    heaters = base["worst_route"]["heaters"]
    assert doubled["worst_excess_db"] >= base["worst_excess_db"] + heaters * LOSSES.heater_db - 1e-9


@pytest.mark.slow
def test_loss_model_agrees_with_sax_on_a_64_mode_mesh_of_lossy_elements():
    """A 64-mode Clements mesh, every MZI in the bar state, simulated by sax with lossy versions of the PDK's
    models (each element's transmission times 10^(−loss/20), its loss from the same per-element table): the
    power each interior mode keeps equals the loss model's worst route (interior modes pass an MZI in every
    column, as every worst route does) within 0.01 dB."""
    sax = pytest.importorskip("sax")
    from optinc_pdk.circuit.model import MeshBlock
    from optinc_pdk.decompose.mesh import MeshPhases
    from optinc_pdk.layout.netlists import design_netlists, netlist_name
    from optinc_pdk.pdk import models as pdk
    from optinc_pdk.pdk.netlists import sax_flat
    from optinc_pdk.pdk.ports import east_port, west_port

    n = 64
    pairs = [(m, column) for column in range(n) for m in range(column % 2, n - 1, 2)]
    top, column = np.array(pairs).T
    phases = MeshPhases(n_modes=n, theta=np.full(top.size, np.pi), phi=np.zeros(top.size), top_mode=top,
                        column=column, output_phase=np.zeros(n), kind="clements")
    block = MeshBlock("L1/B0/U", n, n, phases=phases)
    model = LossModel(G, LOSSES)
    mzi_db = float(model.mzi(G.mode_pitch) @ model.db)
    heater_db = float(model.vector(length_um=G.heater_length, heaters=1) @ model.db)

    def lossy(function, db):
        @functools.wraps(function)  # sax passes a model the settings its signature names
        def wrapped(**settings):
            return {k: v * 10 ** (-db(**settings) / 20) for k, v in function(**settings).items()}
        return wrapped

    netlist, models = sax_flat(design_netlists(block), netlist_name(block))
    models["mzi2x2"] = lossy(pdk.mzi2x2, lambda **_: mzi_db)
    models["straight"] = lossy(pdk.straight, lambda length=10.0: float(model.straight(length) @ model.db))
    models["phase_shifter"] = lossy(pdk.phase_shifter, lambda **_: heater_db)
    circuit, _ = sax.circuit(netlist, models=models, backend="klu")
    s = circuit()
    kept = np.array([abs(complex(s[(west_port(m, n), east_port(m, n, n))])) ** 2 for m in range(1, n - 1)])
    routes = model.routes(block)
    assert -10 * np.log10(kept) == pytest.approx(np.diag(routes.loss)[1:-1], abs=0.01)


def test_a_scenario_overrides_losses_and_names_a_bad_field():
    from optinc_pdk.errors import OptincError
    from optinc_pdk.spec.scenario import scenario_from_dict

    base = {"name": "x", "bits": 8, "servers": 4, "widths": [4, 8, 4]}
    scenario = scenario_from_dict({**base, "budget": {"losses": {"crossing_db": 0.04}}}, "x.yml")
    assert scenario.budget.losses.crossing_db == 0.04 and scenario.budget.losses.heater_db == LOSSES.heater_db
    with pytest.raises(OptincError, match=r"x\.yml.*budget\.losses\.crossing_dB"):
        scenario_from_dict({**base, "budget": {"losses": {"crossing_dB": 0.04}}}, "x.yml")
