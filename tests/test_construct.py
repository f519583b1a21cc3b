"""Exact weights by construction (optinc_pdk/training/construct.py, docs/construction.md)."""

from __future__ import annotations

import json

import numpy as np
import pytest
from test_circuit_helpers import tiny_scenario

from optinc_pdk.core.datasets import exhaustive_dataset
from optinc_pdk.decompose.blockform import block_form_error
from optinc_pdk.errors import OptincError
from optinc_pdk.spec.scenario import load_scenario
from optinc_pdk.training.construct import Stage, construct, plan
from optinc_pdk.training.evaluate import evaluate

# one expansion in a tall block layer, then a wide carry; and a G = 2 scenario whose two stages run
# in full layers around a block-approximated carry (the b16n4 pattern)
ONE_EXPANSION = dict(servers=2, bits=4, widths=(2, 8, 32, 16, 2), approx=(2, 3), name="expand")
TWO_STAGES = dict(servers=3, bits=8, widths=(2, 40, 40, 40, 4), approx=(2,), name="stages")


def _exact(scenario, weights) -> None:
    data = exhaustive_dataset(scenario)
    report = evaluate(weights, scenario, data)
    assert report["accuracy"] == 1.0
    # outputs are the digit levels themselves, not just on the right side of a decision
    assert max(report["max_abs_output_error"]) < 1e-8
    for number in scenario.approx_layers:
        err = block_form_error(weights.weights[number - 1])
        assert err["projection_residual"] < 1e-12 and err["unitarity_error"] < 1e-12


def test_plan_places_all_digits_in_one_expansion_or_in_stages():
    assert plan(tiny_scenario(**ONE_EXPANSION)) == [Stage(2, 0, 2)]
    assert plan(tiny_scenario(**TWO_STAGES)) == [Stage(1, 2, 2), Stage(3, 0, 2)]
    assert plan(load_scenario("b8n8")) == [Stage(4, 0, 4)]
    assert plan(load_scenario("b8n16")) == [Stage(4, 0, 4)]
    stages = plan(load_scenario("b16n4"))
    assert sum(s.digits for s in stages) == 8 and all(s.layer not in (4, 5, 6) for s in stages)


@pytest.mark.parametrize("spec", [ONE_EXPANSION, TWO_STAGES], ids=["expansion", "stages"])
def test_tiny_constructions_are_exact_and_in_block_form(spec):
    scenario = tiny_scenario(**spec)
    _exact(scenario, construct(scenario))


def test_inputs_off_the_grid_by_less_than_a_quarter_step_still_decide():
    """The ramps sit a quarter grid step from the grid points: small analog input errors are absorbed."""
    scenario = tiny_scenario(**ONE_EXPANSION)
    weights, data = construct(scenario), exhaustive_dataset(scenario)
    shift = 0.24 / scenario.servers / (4 ** np.arange(data.inputs().shape[1])).sum()  # |Δv| < g/4 in total
    for sign in (-1.0, 1.0):
        x = data.inputs(dtype=np.float64) + sign * shift
        assert data.correct(weights.forward(x)).all()


def test_b8n8_construction_is_exact_on_all_390625_samples():
    scenario = load_scenario("b8n8")
    _exact(scenario, construct(scenario))


@pytest.mark.parametrize("name", ["b16n4", "b8n16"])
def test_larger_constructions_on_a_sample(name):
    """The whole datasets (13.8M, 5.8M samples) are `optinc construct NAME`; here a seeded sample."""
    scenario = load_scenario(name)
    weights, data = construct(scenario), exhaustive_dataset(scenario)
    index = np.sort(np.random.default_rng(1).choice(data.size, 20_000, replace=False))
    index = np.concatenate([index, [0, data.size - 1]])
    assert data.correct(weights.forward(data.inputs(index, dtype=np.float64)), index).all()
    for number in scenario.approx_layers:
        assert block_form_error(weights.weights[number - 1])["unitarity_error"] < 1e-12


@pytest.mark.parametrize("name,why", [
    ("b8n4", "unconstrained output layer"),
    ("cascade16", "cascade level is trained"),
    ("b16n4_l3-7", "no staircase construction fits"),
])
def test_scenarios_without_a_construction_are_refused(name, why):
    with pytest.raises(OptincError, match=why):
        plan(load_scenario(name))


@pytest.mark.parametrize("servers", [2, 13, 14])
def test_two_bit_one_layer_network_is_a_straight_line_with_half_a_grid_step_of_margin(servers):
    """The demonstrator's construction (circuits/demo.yml): no staircase, x − (N − 1)/(2N) decides ⌊x⌋."""
    scenario = tiny_scenario(servers=servers, bits=2, widths=(1, 1), approx=(), name="line")
    weights, data = construct(scenario), exhaustive_dataset(scenario)
    assert data.size == 3 * servers + 1 and weights.provenance["method"] == "construction"
    outputs = weights.forward(data.inputs(dtype=np.float64))
    assert data.correct(outputs).all()
    targets = data.targets(dtype=np.float64)
    inner = (targets > 0) & (targets < 3)  # the clipped end levels have room on one side
    assert np.isclose(np.min(0.5 - np.abs(outputs - targets)[inner]), 1 / (2 * servers))


def test_construct_cli_writes_weights_that_evaluate_exactly(tmp_path, run_cli):
    spec = tmp_path / "expand.yml"
    s = ONE_EXPANSION
    spec.write_text(json.dumps({"name": s["name"], "bits": s["bits"], "servers": s["servers"],
                                "widths": list(s["widths"]), "approx_layers": list(s["approx"])}))
    out = tmp_path / "w.npz"
    code, stdout, _ = run_cli(["construct", spec, "-o", out, "--json"])
    assert code == 0 and json.loads(stdout)["accuracy"] == 1.0
    record = json.loads(out.with_suffix(".json").read_text())
    assert record["method"] == "construction" and record["accuracy"] == 1.0 and record["epochs"] == 0
    assert record["dataset_size"] == 49  # ((4 - 1) * 2 + 1)^2
    code, stdout, _ = run_cli(["evaluate", spec, "--weights", out, "--json"])
    assert code == 0 and json.loads(stdout)["accuracy"] == 1.0
    code, _, err = run_cli(["construct", "b8n4", "-o", tmp_path / "no.npz"])
    assert code != 0 and "unconstrained output layer" in err and not (tmp_path / "no.npz").exists()
