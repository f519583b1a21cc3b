"""The shipped weights of the plain scenarios, checked the way users check them: `optinc evaluate`."""

from __future__ import annotations

import json

import numpy as np
import pytest

from optinc_pdk.core.datasets import exhaustive_dataset
from optinc_pdk.core.weights import load_for_scenario, shipped_weights_path
from optinc_pdk.spec.scenario import load_scenario

EXHAUSTIVE = {"b8n4": 28_561, "b8n8": 390_625, "demo": 40}  # small enough to evaluate whole in the suite
SAMPLED = ["b16n4", "b8n16"]  # 13.8M and 5.8M samples: `optinc evaluate NAME` by hand (weights/README.md)


def _require(name: str):
    scenario = load_scenario(name)
    if not shipped_weights_path(scenario).is_file():
        pytest.fail(f"weights/{name}.npz is not shipped")
    return scenario


@pytest.mark.parametrize("name", sorted(EXHAUSTIVE))
def test_optinc_evaluate_reports_full_accuracy_on_the_whole_dataset(name, run_cli):
    _require(name)
    code, out, _ = run_cli(["evaluate", name, "--json"])
    report = json.loads(out)
    assert code == 0
    assert report["samples"] == EXHAUSTIVE[name] and report["accuracy"] == 1.0 and report["error_values"] == []
    assert set(report["approximated_layers"]) == {str(n) for n in load_scenario(name).approx_layers}
    assert report["max_block_unitarity_error"] <= 1e-6 and report["max_block_projection_residual"] <= 1e-6


@pytest.mark.parametrize("name", sorted(EXHAUSTIVE) + SAMPLED)
def test_provenance_record_matches_the_arrays(name):
    scenario = _require(name)
    weights = load_for_scenario(scenario)
    record = weights.provenance
    assert record["sha256"] == weights.digest()
    assert record["scenario"] == name and record["approx_layers"] == scenario.approx_layers
    assert record["dataset_size"] == exhaustive_dataset(scenario).size
    assert 0.0 <= record["accuracy"] <= 1.0


@pytest.mark.parametrize("name", SAMPLED)
def test_large_scenarios_decide_a_seeded_sample_as_their_record_says(name):
    scenario = _require(name)
    weights, data = load_for_scenario(scenario), exhaustive_dataset(scenario)
    index = np.sort(np.random.default_rng(2).choice(data.size, 20_000, replace=False))
    correct = data.correct(weights.forward(data.inputs(index, dtype=np.float64)), index)
    if weights.provenance["accuracy"] == 1.0:
        assert correct.all()
    else:  # a partly trained network: the sample agrees with the recorded whole-dataset accuracy
        assert abs(correct.mean() - weights.provenance["accuracy"]) < 0.02


@pytest.mark.parametrize(("name", "level"), [(name, None) for name in sorted(EXHAUSTIVE) + SAMPLED]
                         + [("cascade16", 1), ("cascade16", 2)])
def test_every_shipped_design_records_its_tolerable_phase_error(name, level):
    """Issue 29: the record states the tolerable σ_phase measured on these very weights, and the verdict.

    A cascade's tolerance is its whole system's (five OptINCs sampled together): both levels record it.
    """
    from optinc_pdk.simulate.tolerance import MANUFACTURABLE_SIGMA

    weights = load_for_scenario(load_scenario(name), level=level)
    tolerance = weights.provenance.get("tolerance")
    assert tolerance, f"{weights.source}: no tolerance; run `optinc yield {name} --tolerable --samples 100 --record`"
    assert tolerance["sha256"] == weights.digest()
    sigma = tolerance["tolerable_sigma_phase"]
    assert tolerance["manufacturable"] == (sigma is not None and sigma >= MANUFACTURABLE_SIGMA)
    assert tolerance["chips"] >= 100 and tolerance["yield_target"] == 0.99
    assert tolerance.get("unit", "chip") == ("system" if level else "chip")
    passed = [t["sigma_phase"] for t in tolerance["tried"] if t["passed"]]
    assert (sigma is None and not passed) or sigma == max(passed)
