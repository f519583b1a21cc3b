"""docs/phase_map.md as a bring-up document (issue 31, point 3): its plain-numpy `network` example,
run on a real build's phases.npz/json, reproduces the weights' network, biases included; and the
page documents every kind of layer record and every gain that a build's phases.json holds."""

from __future__ import annotations

import json
import re
from pathlib import Path

import numpy as np
import pytest
from test_circuit_helpers import tiny_scenario

from optinc_pdk.circuit.builder import build_description
from optinc_pdk.circuit.phases import write_design_phase_map
from optinc_pdk.circuit.random_weights import random_weights
from optinc_pdk.core.datasets import exhaustive_dataset
from optinc_pdk.core.weights import load_for_scenario
from optinc_pdk.spec.scenario import load_scenario

DOC = Path(__file__).resolve().parents[1] / "docs" / "phase_map.md"


def docs_code() -> dict:
    """The namespace of the page's one python block (the same block tests/test_phasemap.py runs)."""
    (code,) = re.findall(r"```python\n(.*?)```", DOC.read_text(), flags=re.S)
    namespace: dict = {}
    exec(compile(code, str(DOC), "exec"), namespace)
    return namespace


def _phase_map(tmp_path, scenario, weights, min_power: bool = False) -> str:
    from optinc_pdk.circuit.arms import least_power_description

    prefix = tmp_path / "phases"
    description = build_description(scenario, weights)
    write_design_phase_map(least_power_description(description) if min_power else description, prefix)
    return str(prefix)


def _assert_same_network(run, weights, x):
    expected = weights.forward(x)
    got = run(x)
    assert got.shape == expected.shape
    np.testing.assert_allclose(got, expected, rtol=0, atol=1e-9 * max(1.0, float(np.abs(expected).max())))


def test_docs_network_reproduces_the_shipped_b8n4_network_on_every_input(tmp_path):
    scenario = load_scenario("b8n4")
    weights = load_for_scenario(scenario, None)
    run = docs_code()["network"](_phase_map(tmp_path, scenario, weights))
    data = exhaustive_dataset(scenario)
    x = data.inputs(dtype=np.float64)
    _assert_same_network(run, weights, x)
    decided = data.decide(run(x))
    np.testing.assert_array_equal(decided, data.decide(weights.forward(x)))
    assert np.all(decided == data.codes)  # the shipped weights are 100 % accurate, so the doc's chain is too


@pytest.mark.parametrize("spec", [
    dict(servers=3, widths=(4, 6, 12, 4), approx=(1, 2, 3)),  # padded tall layer, wide layer
    dict(servers=2, widths=(4, 6, 3, 4), approx=()),  # full SVD layers, Σ columns of both shapes
    dict(servers=2, bits=16, widths=(4, 8, 8), approx=(1,)),  # G = 2: the averager record exists
], ids=["blocks", "svd", "b16"])
@pytest.mark.parametrize("min_power", [False, True], ids=["upper_arms", "min_power_arms"])
def test_docs_network_reproduces_random_networks_biases_included(tmp_path, spec, min_power):
    scenario = tiny_scenario(**spec)
    weights = random_weights(scenario, 5)
    assert all(np.abs(b).max() > 0 for b in weights.biases)  # biases matter in what is compared
    prefix = _phase_map(tmp_path, scenario, weights, min_power)
    with np.load(prefix + ".npz") as saved:  # a --min-power map holds the arms the example must read
        assert any(key.endswith("theta_lower") for key in saved.files) == min_power
    run = docs_code()["network"](prefix)
    x = np.random.default_rng(0).uniform(0, 4 ** scenario.group - 1, size=(500, scenario.onn_inputs))
    _assert_same_network(run, weights, x)


def test_a_wrong_bias_attenuator_changes_what_the_docs_network_computes(tmp_path):
    """The example really reads the bias column (it would not notice one if it ignored biases)."""
    scenario = tiny_scenario(servers=2)
    weights = random_weights(scenario, 5)
    prefix = _phase_map(tmp_path, scenario, weights)
    with np.load(prefix + ".npz", allow_pickle=False) as archive:
        arrays = dict(archive)
    arrays["L3/bias/amplitude/theta"][0] = np.pi / 3 if arrays["L3/bias/amplitude/theta"][0] != np.pi / 3 else 1.0
    np.savez(prefix + ".npz", **arrays)
    x = np.random.default_rng(1).uniform(0, 3, size=(50, scenario.onn_inputs))
    got, expected = docs_code()["network"](prefix)(x), weights.forward(x)
    assert np.abs(got[:, 0] - expected[:, 0]).max() > 1e-3
    np.testing.assert_allclose(got[:, 1:], expected[:, 1:], atol=1e-9)


def test_every_record_kind_field_and_gain_of_a_build_is_documented(tmp_path):
    scenario = tiny_scenario(servers=2, bits=16, widths=(4, 8, 8), approx=(1,))
    sidecar = json.loads(Path(_phase_map(tmp_path, scenario, random_weights(scenario, 5)) + ".json").read_text())
    page = DOC.read_text()
    kinds = {record["kind"] for record in sidecar["layers"]}
    assert kinds == {"averager", "svd", "blocks", "bias"}
    fields = {key for record in sidecar["layers"] for key in record} | set(sidecar["design"])
    undocumented = sorted(name for name in kinds | fields if f"`{name}`" not in page)
    assert not undocumented, f"docs/phase_map.md does not mention {undocumented}"
